//! The `etcd local` and `control-plane` phases: the static pod manifests the kubelet runs from
//! `/etc/kubernetes/manifests` (`phases/controlplane/manifests.go`, `phases/etcd/local.go`,
//! `util/staticpod/utils.go`): flags sorted by name, volumes by name, upstream's probes,
//! `system-node-critical`, host network.

use crate::{config::Arg, Error, Resolved};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const MANIFESTS_DIR: &str = "manifests";
/// The etcd this project ships: Debian's (`hack/build-images.sh`).
pub const ETCD_VERSION: &str = "3.4.23-0";
pub const KCM_PORT: u16 = 10257;
pub const SCHEDULER_PORT: u16 = 10259;
pub const ETCD_METRICS_PORT: u16 = 2381;

/// Flags as upstream's `ArgumentsToCommand`: `extra` replaces defaults of the same name, and
/// the result is sorted by name.
pub fn command(bin: &str, defaults: &[(&str, String)], extra: &[Arg]) -> Vec<String> {
    let mut args: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in defaults {
        args.entry(k.to_string()).or_default().push(v.clone());
    }
    let mut overridden = std::collections::BTreeSet::new();
    for a in extra {
        if overridden.insert(a.name.clone()) {
            args.remove(&a.name);
        }
        args.entry(a.name.clone()).or_default().push(a.value.clone());
    }
    let mut out = vec![bin.to_string()];
    for (k, mut vs) in args {
        vs.sort();
        out.extend(vs.into_iter().map(|v| format!("--{k}={v}")));
    }
    out
}

fn probe(host: &str, path: &str, port: u16, scheme: &str, kind: Probe) -> Value {
    let get = json!({"host": host, "path": path, "port": port, "scheme": scheme});
    match kind {
        Probe::Liveness => {
            json!({"failureThreshold": 8, "httpGet": get, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15})
        }
        Probe::Readiness => json!({"failureThreshold": 3, "httpGet": get, "periodSeconds": 1, "timeoutSeconds": 15}),
        // ceil(4m health-check timeout / 10 s period).
        Probe::Startup => {
            json!({"failureThreshold": 24, "httpGet": get, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15})
        }
    }
}

#[derive(Clone, Copy)]
enum Probe {
    Liveness,
    Readiness,
    Startup,
}

/// A hostPath volume and where it is mounted.
struct Volume {
    name: String,
    host: String,
    mount: String,
    read_only: bool,
    kind: &'static str,
}

fn vol(name: &str, host: &str, read_only: bool, kind: &'static str) -> Volume {
    Volume { name: name.into(), host: host.into(), mount: host.into(), read_only, kind }
}

/// The CA bundles of the host, mounted into the apiserver and controller-manager where they
/// exist (`controlplane/volumes.go`).
fn ca_volumes() -> Vec<Volume> {
    let mut v = vec![vol("ca-certs", "/etc/ssl/certs", true, "DirectoryOrCreate")];
    for dir in [
        "/etc/pki/ca-trust",
        "/etc/pki/tls/certs",
        "/etc/ca-certificates",
        "/usr/share/ca-certificates",
        "/usr/local/share/ca-certificates",
    ] {
        if Path::new(dir).exists() {
            v.push(vol(&dir.trim_start_matches('/').replace('/', "-"), dir, true, "DirectoryOrCreate"));
        }
    }
    v
}

fn pod(name: &str, container: Value, mut volumes: Vec<Volume>, annotations: Option<Value>, sort_mounts: bool) -> Value {
    let mounts: Vec<Value> = {
        let mut m: Vec<&Volume> = volumes.iter().collect();
        if sort_mounts {
            m.sort_by(|a, b| a.name.cmp(&b.name));
        }
        m.iter()
            .map(|v| {
                let mut j = json!({"mountPath": v.mount, "name": v.name});
                if v.read_only {
                    j["readOnly"] = json!(true);
                }
                j
            })
            .collect()
    };
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    let vols: Vec<Value> =
        volumes.iter().map(|v| json!({"hostPath": {"path": v.host, "type": v.kind}, "name": v.name})).collect();
    let mut container = container;
    container["imagePullPolicy"] = json!("IfNotPresent");
    container["name"] = json!(name);
    container["volumeMounts"] = json!(mounts);
    let mut meta = json!({
        "creationTimestamp": null,
        "labels": {"component": name, "tier": "control-plane"},
        "name": name,
        "namespace": "kube-system",
    });
    if let Some(a) = annotations {
        meta["annotations"] = a;
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [container],
            "hostNetwork": true,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": vols,
        },
        "status": {},
    })
}

pub(crate) fn image(r: &Resolved, name: &str) -> String {
    format!("{}/{name}:{}", r.cluster.image_repository, r.cluster.kubernetes_version)
}

fn pki_path(r: &Resolved, file: &str) -> String {
    r.cluster.cert_dir().join(file).display().to_string()
}

fn kubeconfig_path(r: &Resolved, file: &str) -> String {
    r.kubeconfig_dir.join(file).display().to_string()
}

fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The kube-apiserver static pod.
pub fn apiserver(r: &Resolved) -> Result<Value, Error> {
    let adv = r.advertise()?.to_string();
    let port = r.bind_port();
    let c = &r.cluster;
    let etcd_servers = match &c.etcd.external {
        Some(e) => e.endpoints.join(","),
        None => format!("https://{}", host_port(if adv.contains(':') { "::1" } else { "127.0.0.1" }, 2379)),
    };
    let mut d: Vec<(&str, String)> = vec![
        ("advertise-address", adv.clone()),
        ("allow-privileged", "true".into()),
        ("authorization-mode", "Node,RBAC".into()),
        ("client-ca-file", pki_path(r, "ca.crt")),
        ("enable-admission-plugins", "NodeRestriction".into()),
        ("enable-bootstrap-token-auth", "true".into()),
        ("etcd-servers", etcd_servers),
        ("kubelet-client-certificate", pki_path(r, "apiserver-kubelet-client.crt")),
        ("kubelet-client-key", pki_path(r, "apiserver-kubelet-client.key")),
        ("kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname".into()),
        ("proxy-client-cert-file", pki_path(r, "front-proxy-client.crt")),
        ("proxy-client-key-file", pki_path(r, "front-proxy-client.key")),
        ("requestheader-allowed-names", "front-proxy-client".into()),
        ("requestheader-client-ca-file", pki_path(r, "front-proxy-ca.crt")),
        ("requestheader-extra-headers-prefix", "X-Remote-Extra-".into()),
        ("requestheader-group-headers", "X-Remote-Group".into()),
        ("requestheader-username-headers", "X-Remote-User".into()),
        ("secure-port", port.to_string()),
        ("service-account-issuer", format!("https://kubernetes.default.svc.{}", c.networking.dns_domain)),
        ("service-account-key-file", pki_path(r, "sa.pub")),
        ("service-account-signing-key-file", pki_path(r, "sa.key")),
        ("service-cluster-ip-range", c.networking.service_subnet.clone()),
        ("tls-cert-file", pki_path(r, "apiserver.crt")),
        ("tls-private-key-file", pki_path(r, "apiserver.key")),
    ];
    match &c.etcd.external {
        Some(e) => {
            for (k, v) in [("etcd-cafile", &e.ca_file), ("etcd-certfile", &e.cert_file), ("etcd-keyfile", &e.key_file)]
            {
                if !v.is_empty() {
                    d.push((k, v.clone()));
                }
            }
        }
        None => {
            d.push(("etcd-cafile", pki_path(r, "etcd/ca.crt")));
            d.push(("etcd-certfile", pki_path(r, "apiserver-etcd-client.crt")));
            d.push(("etcd-keyfile", pki_path(r, "apiserver-etcd-client.key")));
        }
    }
    let host = if adv == "0.0.0.0" || adv == "::" { String::new() } else { adv.clone() };
    let container = json!({
        "command": command("kube-apiserver", &d, &c.api_server.extra_args),
        "image": image(r, "kube-apiserver"),
        "livenessProbe": probe(&host, "/livez", port, "HTTPS", Probe::Liveness),
        "readinessProbe": probe(&host, "/readyz", port, "HTTPS", Probe::Readiness),
        "resources": {"requests": {"cpu": "250m"}},
        "startupProbe": probe(&host, "/livez", port, "HTTPS", Probe::Startup),
    });
    let mut volumes = ca_volumes();
    volumes.push(vol("k8s-certs", &c.certificates_dir, true, "DirectoryOrCreate"));
    volumes.extend(extra_volumes(&c.api_server.extra_volumes));
    let annotations = json!({"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": host_port(&adv, port)});
    Ok(pod("kube-apiserver", container, volumes, Some(annotations), true))
}

fn extra_volumes(extra: &[crate::config::HostPathMount]) -> Vec<Volume> {
    extra
        .iter()
        .map(|m| Volume {
            name: m.name.clone(),
            host: m.host_path.clone(),
            mount: m.mount_path.clone(),
            read_only: m.read_only,
            kind: match m.path_type.as_str() {
                "Directory" => "Directory",
                "File" => "File",
                "FileOrCreate" => "FileOrCreate",
                "Socket" => "Socket",
                _ => "DirectoryOrCreate",
            },
        })
        .collect()
}

fn arg<'a>(extra: &'a [Arg], name: &str) -> Option<&'a str> {
    extra.iter().rev().find(|a| a.name == name).map(|a| a.value.as_str())
}

/// The kube-controller-manager static pod.
pub fn controller_manager(r: &Resolved) -> Result<Value, Error> {
    let c = &r.cluster;
    let kc = kubeconfig_path(r, "controller-manager.conf");
    let mut d: Vec<(&str, String)> = vec![
        ("authentication-kubeconfig", kc.clone()),
        ("authorization-kubeconfig", kc.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("client-ca-file", pki_path(r, "ca.crt")),
        ("cluster-signing-cert-file", pki_path(r, "ca.crt")),
        ("cluster-signing-key-file", pki_path(r, "ca.key")),
        ("controllers", "*,bootstrapsigner,tokencleaner".into()),
        ("kubeconfig", kc.clone()),
        ("leader-elect", "true".into()),
        ("requestheader-client-ca-file", pki_path(r, "front-proxy-ca.crt")),
        ("root-ca-file", pki_path(r, "ca.crt")),
        ("service-account-private-key-file", pki_path(r, "sa.key")),
        ("use-service-account-credentials", "true".into()),
    ];
    if !c.networking.pod_subnet.is_empty() {
        d.push(("allocate-node-cidrs", "true".into()));
        d.push(("cluster-cidr", c.networking.pod_subnet.clone()));
        d.push(("service-cluster-ip-range", c.networking.service_subnet.clone()));
    }
    if !c.cluster_name.is_empty() {
        d.push(("cluster-name", c.cluster_name.clone()));
    }
    let extra = &c.controller_manager.extra_args;
    let host = arg(extra, "bind-address").unwrap_or("127.0.0.1").to_string();
    let container = json!({
        "command": command("kube-controller-manager", &d, extra),
        "image": image(r, "kube-controller-manager"),
        "livenessProbe": probe(&host, "/healthz", KCM_PORT, "HTTPS", Probe::Liveness),
        "resources": {"requests": {"cpu": "200m"}},
        "startupProbe": probe(&host, "/healthz", KCM_PORT, "HTTPS", Probe::Startup),
    });
    let mut volumes = ca_volumes();
    let flex = arg(extra, "flex-volume-plugin-dir").unwrap_or("/usr/libexec/kubernetes/kubelet-plugins/volume/exec");
    volumes.push(vol("flexvolume-dir", flex, false, "DirectoryOrCreate"));
    volumes.push(vol("k8s-certs", &c.certificates_dir, true, "DirectoryOrCreate"));
    volumes.push(vol("kubeconfig", &kc, true, "FileOrCreate"));
    volumes.extend(extra_volumes(&c.controller_manager.extra_volumes));
    Ok(pod("kube-controller-manager", container, volumes, None, true))
}

/// The kube-scheduler static pod.
pub fn scheduler(r: &Resolved) -> Result<Value, Error> {
    let c = &r.cluster;
    let kc = kubeconfig_path(r, "scheduler.conf");
    let d: Vec<(&str, String)> = vec![
        ("authentication-kubeconfig", kc.clone()),
        ("authorization-kubeconfig", kc.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("kubeconfig", kc.clone()),
        ("leader-elect", "true".into()),
    ];
    let extra = &c.scheduler.extra_args;
    let host = arg(extra, "bind-address").unwrap_or("127.0.0.1").to_string();
    let container = json!({
        "command": command("kube-scheduler", &d, extra),
        "image": image(r, "kube-scheduler"),
        "livenessProbe": probe(&host, "/livez", SCHEDULER_PORT, "HTTPS", Probe::Liveness),
        "readinessProbe": probe(&host, "/readyz", SCHEDULER_PORT, "HTTPS", Probe::Readiness),
        "resources": {"requests": {"cpu": "100m"}},
        "startupProbe": probe(&host, "/livez", SCHEDULER_PORT, "HTTPS", Probe::Startup),
    });
    let mut volumes = vec![vol("kubeconfig", &kc, true, "FileOrCreate")];
    volumes.extend(extra_volumes(&c.scheduler.extra_volumes));
    Ok(pod("kube-scheduler", container, volumes, None, true))
}

/// The etcd static pod: a one-member cluster on this node.
pub fn etcd(r: &Resolved) -> Result<Value, Error> {
    let adv = r.advertise()?.to_string();
    let name = r.node_name().to_string();
    let local = r.cluster.etcd.local.clone().unwrap_or_default();
    let etcd_dir = r.cluster.cert_dir().join("etcd").display().to_string();
    let lo = if adv.contains(':') { "::1" } else { "127.0.0.1" };
    let peer = format!("https://{}", host_port(&adv, 2380));
    let client = format!("https://{}", host_port(&adv, 2379));
    let d: Vec<(&str, String)> = vec![
        ("advertise-client-urls", client.clone()),
        ("cert-file", pki_path(r, "etcd/server.crt")),
        ("client-cert-auth", "true".into()),
        ("data-dir", local.data_dir.clone()),
        ("experimental-initial-corrupt-check", "true".into()),
        ("experimental-watch-progress-notify-interval", "5s".into()),
        ("initial-advertise-peer-urls", peer.clone()),
        ("initial-cluster", format!("{name}={peer}")),
        ("key-file", pki_path(r, "etcd/server.key")),
        ("listen-client-urls", format!("https://{},{client}", host_port(lo, 2379))),
        ("listen-metrics-urls", format!("http://{}", host_port(lo, ETCD_METRICS_PORT))),
        ("listen-peer-urls", peer),
        ("name", name),
        ("peer-cert-file", pki_path(r, "etcd/peer.crt")),
        ("peer-client-cert-auth", "true".into()),
        ("peer-key-file", pki_path(r, "etcd/peer.key")),
        ("peer-trusted-ca-file", pki_path(r, "etcd/ca.crt")),
        ("snapshot-count", "10000".into()),
        ("trusted-ca-file", pki_path(r, "etcd/ca.crt")),
    ];
    // etcd 3.4 has no /livez or /readyz: upstream's probes for it check /health.
    let container = json!({
        "command": command("etcd", &d, &local.extra_args),
        "image": etcd_image(r),
        "livenessProbe": probe(lo, "/health?exclude=NOSPACE&serializable=true", ETCD_METRICS_PORT, "HTTP", Probe::Liveness),
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
        "startupProbe": probe(lo, "/health?serializable=false", ETCD_METRICS_PORT, "HTTP", Probe::Startup),
    });
    let volumes = vec![
        Volume {
            name: "etcd-data".into(),
            host: local.data_dir.clone(),
            mount: local.data_dir.clone(),
            read_only: false,
            kind: "DirectoryOrCreate",
        },
        Volume {
            name: "etcd-certs".into(),
            host: etcd_dir.clone(),
            mount: etcd_dir,
            read_only: false,
            kind: "DirectoryOrCreate",
        },
    ];
    let annotations = json!({"kubeadm.kubernetes.io/etcd.advertise-client-urls": client});
    Ok(pod("etcd", container, volumes, Some(annotations), false))
}

/// The images a cluster of this configuration runs, as `kubeadm config images list` prints
/// them: the control plane, kube-proxy, the sandbox and (with a local etcd) etcd. There is no
/// DNS add-on yet, so no CoreDNS image.
pub fn images(r: &Resolved) -> Vec<String> {
    let mut out: Vec<String> = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]
        .iter()
        .map(|n| image(r, n))
        .collect();
    out.push(format!("{}/pause:{}", r.cluster.image_repository, crate::kubelet::PAUSE_VERSION));
    if r.cluster.local_etcd() {
        out.push(etcd_image(r));
    }
    out
}

/// The local etcd's image: `etcd.local.imageRepository`/`imageTag` when set.
fn etcd_image(r: &Resolved) -> String {
    let local = r.cluster.etcd.local.clone().unwrap_or_default();
    let repo = if local.image_repository.is_empty() { &r.cluster.image_repository } else { &local.image_repository };
    let tag = if local.image_tag.is_empty() { ETCD_VERSION } else { &local.image_tag };
    format!("{repo}/etcd:{tag}")
}

/// `<kubeconfig dir>/manifests`, upstream's `/etc/kubernetes/manifests`.
pub fn dir(r: &Resolved) -> PathBuf {
    r.kubeconfig_dir.join(MANIFESTS_DIR)
}

/// Writes `<dir>/<name>.yaml` (0600, in a 0700 directory).
pub fn write(r: &Resolved, name: &str, pod: &Value) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir(r);
    let io = |e: std::io::Error| Error::Invalid(format!("failed to create static pod manifest file for {name:?}: {e}"));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    let text = serde_saphyr::to_string(pod).map_err(|e| Error::Invalid(e.to_string()))?;
    let path = dir.join(format!("{name}.yaml"));
    pki::write_file(&path, &text, 0o600)?;
    Ok(path)
}

/// Renders one static pod.
type Builder = fn(&Resolved) -> Result<Value, Error>;

/// `kubeadm init phase control-plane <all|apiserver|controller-manager|scheduler>`.
pub fn control_plane(r: &Resolved, which: &str) -> Result<(), Error> {
    if which == "all" {
        println!("[control-plane] Using manifest folder {:?}", dir(r).display().to_string());
    }
    let all: [(&str, &str, Builder); 3] = [
        ("apiserver", "kube-apiserver", apiserver),
        ("controller-manager", "kube-controller-manager", controller_manager),
        ("scheduler", "kube-scheduler", scheduler),
    ];
    for (phase, name, f) in all {
        if which == "all" || which == phase {
            println!("[control-plane] Creating static Pod manifest for {name:?}");
            write(r, name, &f(r)?)?;
        }
    }
    Ok(())
}

/// `kubeadm init phase etcd local`.
pub fn etcd_local(r: &Resolved) -> Result<(), Error> {
    if !r.cluster.local_etcd() {
        println!("[etcd] External etcd mode. Skipping the creation of a manifest for local etcd");
        return Ok(());
    }
    let path = write(r, "etcd", &etcd(r)?)?;
    println!(
        "[etcd] Creating static Pod manifest for local etcd in {:?}",
        path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitFlags;

    fn resolved(dir: &Path) -> Resolved {
        let cfg = dir.join("kubeadm.yaml");
        std::fs::write(
            &cfg,
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.1}\nnodeRegistration: {name: node-1}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.244.0.0/16}\napiServer:\n  extraArgs:\n  - {name: authorization-mode, value: RBAC}\n  - {name: v, value: \"2\"}\n",
        )
        .unwrap();
        Resolved::from_flags(&InitFlags { config: Some(cfg), kubeconfig_dir: dir.to_path_buf(), ..Default::default() })
            .unwrap()
    }

    #[test]
    fn flags_are_sorted_and_extra_args_override() {
        let dir = tempfile::tempdir().unwrap();
        let pod = apiserver(&resolved(dir.path())).unwrap();
        let cmd: Vec<&str> =
            pod["spec"]["containers"][0]["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(cmd[0], "kube-apiserver");
        let mut sorted = cmd[1..].to_vec();
        sorted.sort();
        assert_eq!(cmd[1..], sorted[..]);
        assert!(cmd.contains(&"--authorization-mode=RBAC") && !cmd.contains(&"--authorization-mode=Node,RBAC"));
        assert!(cmd.contains(&"--v=2") && cmd.contains(&"--etcd-servers=https://127.0.0.1:2379"));
        assert_eq!(pod["spec"]["containers"][0]["livenessProbe"]["httpGet"]["host"], "10.0.0.1");
        assert_eq!(
            pod["metadata"]["annotations"]["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"],
            "10.0.0.1:6443"
        );
        assert_eq!(pod["spec"]["priorityClassName"], "system-node-critical");
    }

    #[test]
    fn the_manifests_are_written_as_yaml_the_kubelet_reads() {
        let dir = tempfile::tempdir().unwrap();
        let r = resolved(dir.path());
        control_plane(&r, "all").unwrap();
        etcd_local(&r).unwrap();
        for name in ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"] {
            let text = std::fs::read_to_string(dir.path().join("manifests").join(format!("{name}.yaml"))).unwrap();
            let pod: k8s_openapi::api::core::v1::Pod = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(pod.metadata.name.as_deref(), Some(name));
            assert_eq!(pod.spec.unwrap().host_network, Some(true));
        }
        let kcm = std::fs::read_to_string(dir.path().join("manifests/kube-controller-manager.yaml")).unwrap();
        assert!(kcm.contains("--cluster-cidr=10.244.0.0/16") && kcm.contains("--allocate-node-cidrs=true"), "{kcm}");
        let etcd = std::fs::read_to_string(dir.path().join("manifests/etcd.yaml")).unwrap();
        assert!(etcd.contains("--initial-cluster=node-1=https://10.0.0.1:2380"), "{etcd}");
    }
}
