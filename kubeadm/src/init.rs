//! `kubeadm init`: upstream's workflow, phase by phase in its order, each one skippable with
//! `--skip-phases` (or the InitConfiguration's `skipPhases`) by its name or `name/sub-phase`,
//! and each failure reported as `error execution phase <name>: ...`.

use crate::{addons, api, certs, kubeconfigs, kubelet, manifests, preflight, Error, InitRunFlags, Resolved};
use component_base::flags::format_go_duration;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The phases of `kubeadm init` and their sub-phases, in the order they run.
pub const PHASES: &[(&str, &[&str])] = &[
    ("preflight", &[]),
    (
        "certs",
        &[
            "ca",
            "apiserver",
            "apiserver-kubelet-client",
            "front-proxy-ca",
            "front-proxy-client",
            "etcd-ca",
            "etcd-server",
            "etcd-peer",
            "etcd-healthcheck-client",
            "apiserver-etcd-client",
            "sa",
        ],
    ),
    ("kubeconfig", &["admin", "super-admin", "kubelet", "controller-manager", "scheduler"]),
    ("etcd", &["local"]),
    ("control-plane", &["apiserver", "controller-manager", "scheduler"]),
    ("kubelet-start", &[]),
    ("wait-control-plane", &[]),
    ("upload-config", &["kubeadm", "kubelet"]),
    ("upload-certs", &[]),
    ("mark-control-plane", &[]),
    ("bootstrap-token", &[]),
    ("kubelet-finalize", &["enable-client-cert-rotation"]),
    ("addon", &["coredns", "kube-proxy"]),
    ("show-join-command", &[]),
];

/// The `--skip-phases` list: `phase`, `phase/all` or `phase/sub-phase`.
pub struct Skips(Vec<String>);

impl Skips {
    pub fn new(names: Vec<String>) -> Skips {
        Skips(names)
    }

    /// The whole phase is skipped.
    pub fn phase(&self, phase: &str) -> bool {
        self.0.iter().any(|s| s == phase || *s == format!("{phase}/all"))
    }

    pub fn sub(&self, phase: &str, sub: &str) -> bool {
        self.phase(phase) || self.0.iter().any(|s| *s == format!("{phase}/{sub}"))
    }

    /// Some sub-phase of `phase` is skipped (so its sub-phases run one by one).
    fn any_sub(&self, phase: &str) -> bool {
        self.0.iter().any(|s| s.starts_with(&format!("{phase}/")))
    }
}

fn phase_err(name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::Phase(name.to_string(), Box::new(e))
}

/// A configured timeout (a Go duration), else `default`.
fn timeout(v: &Option<String>, default: Duration) -> Duration {
    v.as_deref().and_then(crate::config::go_duration_secs).map(Duration::from_secs).unwrap_or(default)
}

/// `kubeadm init`.
pub fn run(f: &InitRunFlags) -> Result<(), Error> {
    if f.upload_certs {
        return Err(Error::Invalid(
            "--upload-certs is not supported yet: copy the certificate authorities and the service account keys to each control-plane node".into(),
        ));
    }
    let r = Resolved::from_flags(&f.flags)?;
    let mut names = f.skip_phases.clone();
    names.extend(r.init.skip_phases.iter().cloned());
    let skips = Skips::new(names);
    let ignore: Vec<String> = f
        .flags
        .ignore_preflight_errors
        .iter()
        .chain(&r.init.node_registration.ignore_preflight_errors)
        .cloned()
        .collect();
    println!("[init] Using Kubernetes version: {}", r.cluster.kubernetes_version);
    let rt = crate::runtime()?;
    let admin = r.kubeconfig_dir.join("admin.conf");
    // Tokens are chosen once: bootstrap-token creates them, show-join-command prints the first.
    let tokens = r.bootstrap_tokens()?;
    for (phase, _) in PHASES {
        if skips.phase(phase) {
            continue;
        }
        let wrap = phase_err(phase);
        match *phase {
            "preflight" => run_preflight(&r, &ignore).map_err(wrap)?,
            "certs" => {
                let p = r.cert_params()?;
                certs::all(&p, &|name| skips.sub("certs", name)).map_err(wrap)?
            }
            "kubeconfig" => kubeconfigs::all(&r, &|name| skips.sub("kubeconfig", name)).map_err(wrap)?,
            "etcd" => {
                if !skips.sub("etcd", "local") {
                    manifests::etcd_local(&r).map_err(wrap)?
                }
            }
            "control-plane" => {
                if !skips.any_sub("control-plane") {
                    manifests::control_plane(&r, "all").map_err(wrap)?
                } else {
                    for sub in ["apiserver", "controller-manager", "scheduler"] {
                        if !skips.sub("control-plane", sub) {
                            manifests::control_plane(&r, sub).map_err(phase_err(&format!("control-plane/{sub}")))?;
                        }
                    }
                }
            }
            "kubelet-start" => {
                kubelet::write_files(&r, r.kubelet.as_ref(), Path::new(kubelet::KUBELET_DIR), false).map_err(wrap)?;
                kubelet::start();
            }
            "wait-control-plane" => rt.block_on(wait_control_plane(&r)).map_err(wrap)?,
            "upload-config" => {
                let which = match (skips.sub("upload-config", "kubeadm"), skips.sub("upload-config", "kubelet")) {
                    (false, false) => "all",
                    (false, true) => "kubeadm",
                    (true, false) => "kubelet",
                    (true, true) => continue,
                };
                rt.block_on(crate::upload_config(&r, &admin, which)).map_err(wrap)?
            }
            "upload-certs" => println!("[upload-certs] Skipping phase. Please see --upload-certs"),
            "mark-control-plane" => rt
                .block_on(async {
                    let client = api::admin_client(&admin, &r.kubeconfig_dir).await?;
                    api::mark_control_plane(&client, r.node_name(), &r.control_plane_taints()).await
                })
                .map_err(wrap)?,
            "bootstrap-token" => rt.block_on(crate::bootstrap_token(&r, &admin, &tokens)).map_err(wrap)?,
            "kubelet-finalize" => {
                if !skips.sub("kubelet-finalize", "enable-client-cert-rotation") {
                    kubelet_finalize(&r.kubeconfig_dir.join("kubelet.conf"), Path::new(kubelet::KUBELET_DIR))
                        .map_err(phase_err("kubelet-finalize/enable-client-cert-rotation"))?
                }
            }
            "addon" => {
                // There is no DNS add-on yet: `addon/coredns` has nothing to apply.
                if !skips.sub("addon", "kube-proxy") {
                    rt.block_on(async {
                        let client = api::admin_client(&admin, &r.kubeconfig_dir).await?;
                        addons::kube_proxy(&client, &r).await
                    })
                    .map_err(phase_err("addon/kube-proxy"))?
                }
            }
            "show-join-command" => {
                let token = tokens.first().map(|t| t.token.clone()).unwrap_or_default();
                let shown = if f.skip_token_print { "<value withheld>".to_string() } else { token };
                print!("{}", done_text(&r, &admin, &shown).map_err(wrap)?);
            }
            other => unreachable!("phase {other} has no runner"),
        }
    }
    Ok(())
}

/// The `preflight` phase of `init`.
pub fn run_preflight(r: &Resolved, ignore: &[String]) -> Result<(), Error> {
    println!("[preflight] Running pre-flight checks");
    let etcd = r.cluster.etcd.local.as_ref().map(|l| PathBuf::from(&l.data_dir));
    let checks = preflight::Checks::init(&r.kubeconfig_dir, etcd.as_deref(), r.bind_port(), &r.cri_socket());
    let (errors, warnings) = checks.run();
    preflight::report(errors, warnings, ignore)
}

/// One control-plane component's health endpoint, as upstream derives it from the static pod's
/// command: the apiserver's `--advertise-address`/`--secure-port` and `/livez`, the
/// controller-manager's `--bind-address`/`--secure-port` and `/healthz`, the scheduler's and
/// `/livez`.
pub fn component_url(manifest: &serde_json::Value, name: &str, advertise: &str) -> Result<String, String> {
    let (addr_flag, mut addr, mut port, endpoint) = match name {
        "kube-apiserver" => ("advertise-address", advertise.to_string(), "6443", "livez"),
        "kube-controller-manager" => ("bind-address", "127.0.0.1".to_string(), "10257", "healthz"),
        _ => ("bind-address", "127.0.0.1".to_string(), "10259", "livez"),
    };
    let containers = manifest["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let command = containers
        .iter()
        .filter_map(|c| c["command"].as_array())
        .find(|cmd| cmd.first().and_then(|c| c.as_str()) == Some(name))
        .ok_or_else(|| format!("the Pod has no container command starting with {name:?}"))?;
    for line in command.iter().filter_map(|l| l.as_str()) {
        let line = line.trim();
        let value = || line.split_once('=').or_else(|| line.split_once(' ')).map(|(_, v)| v).unwrap_or("");
        for (flag, slot) in [(addr_flag, 0), ("secure-port", 1)] {
            if line.starts_with(&format!("--{flag}")) || line.starts_with(&format!("-{flag}")) {
                let v = value();
                if !v.is_empty() {
                    if slot == 0 {
                        addr = v.to_string();
                    } else {
                        port = v;
                    }
                }
            }
        }
    }
    let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?} for {name}"))?;
    Ok(format!("https://{}/{endpoint}", component_base::httpget::join_host_port(&addr, port)))
}

/// Polls `url` every 500 ms until it answers 200 or `limit` passes; the last failure, worded as
/// upstream's, on timeout.
async fn poll_ok(url: &str, limit: Duration, fail: impl Fn(String) -> String) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (hostport, path) = rest.find('/').map(|i| (&rest[..i], &rest[i..])).unwrap_or((rest, "/"));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "80"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().unwrap_or(80);
    let deadline = Instant::now() + limit;
    loop {
        let last = match component_base::httpget::get(scheme, host, port, path, &[], "kubeadm/v1.33.0", limit).await {
            Ok(200) => return Ok(()),
            Ok(code) => fail(format!("status code: {code}")),
            Err(component_base::httpget::GetError::Failed(e) | component_base::httpget::GetError::Request(e)) => {
                fail(format!("error: {e}"))
            }
        };
        if Instant::now() + Duration::from_millis(500) > deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

const KUBELET_FAIL: &str = "
Unfortunately, an error has occurred, likely caused by:
\t- The kubelet is not running
\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)

If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:
\t- 'systemctl status kubelet'
\t- 'journalctl -xeu kubelet'
";

fn control_plane_fail(socket: &str) -> String {
    format!(
        "
A control plane component may have crashed or exited when started by the container runtime.
To troubleshoot, list all containers using your preferred container runtimes CLI.
Here is one example how you may list all running Kubernetes containers by using crictl:
\t- 'crictl --runtime-endpoint {socket} ps -a | grep kube | grep -v pause'
\tOnce you have found the failing container, you can inspect its logs with:
\t- 'crictl --runtime-endpoint {socket} logs CONTAINERID'
"
    )
}

/// The `wait-control-plane` phase: the kubelet's healthz, then each control-plane component's
/// health endpoint (read from its manifest), checked in parallel.
pub async fn wait_control_plane(r: &Resolved) -> Result<(), Error> {
    let dir = manifests::dir(r);
    println!(
        "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory {:?}",
        dir.display().to_string()
    );
    let cfg = kubelet::config(r, r.kubelet.as_ref())?;
    let t = &r.init.timeouts;
    wait_for_kubelet(&cfg, timeout(&t.kubelet_health_check, Duration::from_secs(240))).await?;
    let limit = timeout(&t.control_plane_component_health_check, Duration::from_secs(240));
    wait_components(r, &dir, limit).await
}

/// `WaitForKubelet`: polls the kubelet's healthz (from its configuration) every 500 ms.
pub async fn wait_for_kubelet(cfg: &serde_json::Value, kubelet_limit: Duration) -> Result<(), Error> {
    let port = cfg["healthzPort"].as_u64().unwrap_or(10248);
    let addr = cfg["healthzBindAddress"].as_str().filter(|a| !a.is_empty()).unwrap_or("127.0.0.1").to_string();
    if port == 0 {
        println!("[kubelet-check] Skipping the kubelet health check because the healthz port is set to 0");
    } else {
        let url = format!("http://{}/healthz", component_base::httpget::join_host_port(&addr, port as u16));
        println!(
            "[kubelet-check] Waiting for a healthy kubelet at {url}. This can take up to {}",
            format_go_duration(kubelet_limit)
        );
        let start = Instant::now();
        let fail = |cause: String| format!("The HTTP call equal to 'curl -sSL {url}' returned {cause}\n");
        match poll_ok(&url, kubelet_limit, fail).await {
            Ok(()) => println!("[kubelet-check] The kubelet is healthy after {}", format_go_duration(start.elapsed())),
            Err(e) => {
                println!("[kubelet-check] The kubelet is not healthy after {}", format_go_duration(start.elapsed()));
                println!("{KUBELET_FAIL}");
                return Err(Error::Invalid(format!("failed while waiting for the kubelet to start: {e}")));
            }
        }
    }
    Ok(())
}

/// Waits for the control plane: each component's health endpoint, read from its manifest.
async fn wait_components(r: &Resolved, dir: &Path, limit: Duration) -> Result<(), Error> {
    println!(
        "[control-plane-check] Waiting for healthy control plane components. This can take up to {}",
        format_go_duration(limit)
    );
    let socket = r.cri_socket();
    let advertise = r.advertise()?.to_string();
    let mut components = Vec::new();
    let mut errs = Vec::new();
    for name in ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] {
        let path = dir.join(format!("{name}.yaml"));
        let pod = std::fs::read_to_string(&path)
            .map_err(|e| format!("failed to read manifest for {:?}: {e}", path.display().to_string()))
            .and_then(|text| serde_saphyr::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string()));
        match pod.and_then(|p| component_url(&p, name, &advertise)) {
            Ok(url) => components.push((name, url)),
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        println!("{}", control_plane_fail(&socket));
        return Err(Error::Invalid(format!(
            "failed while waiting for the control plane to start: could not parse the address and port of all control plane components: {}",
            aggregate(&errs)
        )));
    }
    for (name, url) in &components {
        println!("[control-plane-check] Checking {name} at {url}");
    }
    let checks = components.iter().map(|(name, url)| async move {
        let start = Instant::now();
        let res = poll_ok(url, limit, |cause| match cause.strip_prefix("status code: ") {
            Some(code) => format!("{name} check failed at {url} with status: {code}"),
            None => format!("{name} check failed at {url}: {}", cause.trim_start_matches("error: ")),
        })
        .await;
        let verdict = if res.is_ok() { "is healthy" } else { "is not healthy" };
        println!("[control-plane-check] {name} {verdict} after {}", format_go_duration(start.elapsed()));
        res
    });
    let errs: Vec<String> = futures::future::join_all(checks).await.into_iter().filter_map(Result::err).collect();
    if !errs.is_empty() {
        println!("{}", control_plane_fail(&socket));
        return Err(Error::Invalid(format!(
            "failed while waiting for the control plane to start: {}",
            aggregate(&errs)
        )));
    }
    Ok(())
}

/// Go's aggregate error text: the one error, or `[e1, e2]`.
fn aggregate(errs: &[String]) -> String {
    if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// The `kubelet-finalize enable-client-cert-rotation` phase: once the kubelet keeps its client
/// certificate in `<kubelet dir>/pki/kubelet-client-current.pem` (rotated by it from then on),
/// `kubelet.conf` points there instead of embedding the certificate kubeadm issued.
pub fn kubelet_finalize(kubeconfig: &Path, kubelet_dir: &Path) -> Result<(), Error> {
    let current = kubelet_dir.join("pki").join("kubelet-client-current.pem");
    if !current.exists() || !kubeconfig.exists() {
        return Ok(());
    }
    let name = kubeconfig.display().to_string();
    println!("[kubelet-finalize] Updating {name:?} to point to a rotatable kubelet client certificate and key");
    let text = std::fs::read_to_string(kubeconfig).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
    let mut kc: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
    let ctx = kc["current-context"].as_str().unwrap_or_default().to_string();
    if ctx.is_empty() {
        return Err(Error::Invalid(format!("the file {name:?} does not have current context set")));
    }
    let user = kc["contexts"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == ctx.as_str()))
        .and_then(|c| c["context"]["user"].as_str())
        .map(str::to_string)
        .ok_or_else(|| Error::Invalid(format!("the file {name:?} does not have the current context {ctx:?}")))?;
    let info = kc["users"]
        .as_array_mut()
        .and_then(|us| us.iter_mut().find(|u| u["name"] == user.as_str()))
        .and_then(|u| u.get_mut("user"))
        .and_then(|u| u.as_object_mut())
        .ok_or_else(|| Error::Invalid(format!("the file {name:?} does not have the user {user:?}")))?;
    info.remove("client-certificate-data");
    info.remove("client-key-data");
    let path = serde_json::Value::String(current.display().to_string());
    info.insert("client-certificate".into(), path.clone());
    info.insert("client-key".into(), path);
    let out = serde_saphyr::to_string(&kc).map_err(|e| Error::Invalid(e.to_string()))?;
    pki::write_file(kubeconfig, &out, 0o600)?;
    kubelet::start();
    Ok(())
}

/// What `init` prints at the end (`show-join-command`): how to use the cluster and how to join
/// it, with the control-plane join when there is a `controlPlaneEndpoint`.
pub fn done_text(r: &Resolved, admin: &Path, token: &str) -> Result<String, Error> {
    let admin = admin.display();
    let worker = crate::join_command(admin.to_string().as_ref(), token, None, false)?;
    let mut out = format!(
        "
Your Kubernetes control-plane has initialized successfully!

To start using your cluster, you need to run the following as a regular user:

  mkdir -p $HOME/.kube
  sudo cp -i {admin} $HOME/.kube/config
  sudo chown $(id -u):$(id -g) $HOME/.kube/config

Alternatively, if you are the root user, you can run:

  export KUBECONFIG={admin}

You should now deploy a pod network to the cluster.
Run \"kubectl apply -f [podnetwork].yaml\" with one of the options listed at:
  https://kubernetes.io/docs/concepts/cluster-administration/addons/

"
    );
    if !r.cluster.control_plane_endpoint.is_empty() {
        let cp = crate::join_command(admin.to_string().as_ref(), token, None, true)?;
        out.push_str(&format!(
            "You can now join any number of control-plane nodes by copying certificate authorities
and service account keys on each node and then running the following as root:

  {cp}

"
        ));
    }
    out.push_str(&format!(
        "Then you can join any number of worker nodes by running the following on each as root:\n\n{worker}\n"
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_name_phases_and_sub_phases() {
        let s = Skips::new(vec!["addon/kube-proxy".into(), "preflight".into(), "certs/all".into()]);
        assert!(s.phase("preflight") && s.phase("certs") && !s.phase("addon"));
        assert!(s.sub("addon", "kube-proxy") && !s.sub("addon", "coredns"));
        assert!(s.sub("certs", "ca") && s.any_sub("addon") && !s.any_sub("etcd"));
    }

    #[test]
    fn component_urls_come_from_the_manifests_flags() {
        let pod = |cmd: Vec<&str>| json!({"spec": {"containers": [{"command": cmd}]}});
        let api = pod(vec!["kube-apiserver", "--advertise-address=10.0.0.1", "--secure-port=7443"]);
        assert_eq!(component_url(&api, "kube-apiserver", "10.9.9.9").unwrap(), "https://10.0.0.1:7443/livez");
        let api = pod(vec!["kube-apiserver", "--etcd-servers=x"]);
        assert_eq!(component_url(&api, "kube-apiserver", "fd00::1").unwrap(), "https://[fd00::1]:6443/livez");
        let kcm = pod(vec!["kube-controller-manager", "--bind-address=0.0.0.0"]);
        assert_eq!(component_url(&kcm, "kube-controller-manager", "x").unwrap(), "https://0.0.0.0:10257/healthz");
        let e = component_url(&pod(vec!["other"]), "kube-scheduler", "x").unwrap_err();
        assert_eq!(e, "the Pod has no container command starting with \"kube-scheduler\"");
    }

    #[tokio::test]
    async fn a_component_that_never_answers_is_named_in_the_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{closed}/healthz");
        let e = poll_ok(&url, Duration::from_millis(600), |c| format!("kube-scheduler check failed at {url}: {c}"))
            .await
            .unwrap_err();
        assert!(e.starts_with(&format!("kube-scheduler check failed at {url}: error: Get ")), "{e}");
        assert!(e.contains("connection refused"), "{e}");
    }

    #[test]
    fn kubelet_finalize_points_the_kubeconfig_at_the_rotated_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubelet.conf");
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: 'https://10.0.0.1:6443', certificate-authority-data: Q0E=}\n  name: kubernetes\ncontexts:\n- context: {cluster: kubernetes, user: 'system:node:n1'}\n  name: 'system:node:n1@kubernetes'\ncurrent-context: 'system:node:n1@kubernetes'\nusers:\n- name: 'system:node:n1'\n  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}\n";
        std::fs::write(&kc, text).unwrap();
        let kubelet_dir = dir.path().join("kubelet");
        // Without the kubelet's own certificate there is nothing to point at yet.
        kubelet_finalize(&kc, &kubelet_dir).unwrap();
        assert_eq!(std::fs::read_to_string(&kc).unwrap(), text);
        std::fs::create_dir_all(kubelet_dir.join("pki")).unwrap();
        std::fs::write(kubelet_dir.join("pki/kubelet-client-current.pem"), "x").unwrap();
        kubelet_finalize(&kc, &kubelet_dir).unwrap();
        let v: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&kc).unwrap()).unwrap();
        let user = &v["users"][0]["user"];
        let want = kubelet_dir.join("pki/kubelet-client-current.pem").display().to_string();
        assert_eq!(user["client-certificate"], want.as_str());
        assert_eq!(user["client-key"], want.as_str());
        assert!(user.get("client-certificate-data").is_none());
        assert_eq!(v["clusters"][0]["cluster"]["server"], "https://10.0.0.1:6443");
    }
}
