//! The `kubelet-start` phase's files: the kubelet's configuration (`/var/lib/kubelet/config.yaml`,
//! also uploaded as the `kubelet-config` ConfigMap) and kubeadm's flags for it
//! (`/var/lib/kubelet/kubeadm-flags.env`, read by the kubelet unit's `10-kubeadm.conf` drop-in).
//! Upstream's `componentconfigs/kubelet.go` and `phases/kubelet/flags.go`.

use crate::{config::DEFAULT_CRI_SOCKET, Error, Resolved};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::path::Path;

pub const KUBELET_DIR: &str = "/var/lib/kubelet";
pub const PAUSE_VERSION: &str = "3.10";

/// The `n`th address of the first service CIDR (the cluster DNS Service is the tenth).
pub fn nth_service_ip(subnet: &str, n: u32) -> Result<IpAddr, Error> {
    let first = subnet.split(',').next().unwrap_or_default();
    let net: ipnet::IpNet =
        first.parse().map_err(|e: ipnet::AddrParseError| Error::ServiceCidr(first.into(), e.to_string()))?;
    Ok(match net.network() {
        IpAddr::V4(a) => IpAddr::from(u32::from(a).wrapping_add(n).to_be_bytes()),
        IpAddr::V6(a) => IpAddr::from(u128::from(a).wrapping_add(u128::from(n)).to_be_bytes()),
    })
}

/// Deep-merges `over` into `base`: objects key by key, anything else replaced.
pub(crate) fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The KubeletConfiguration kubeadm writes: the user's document (from `--config`) over
/// kubeadm's defaults, with certificate rotation always on.
pub fn config(r: &Resolved, user: Option<&Value>) -> Result<Value, Error> {
    let dns = nth_service_ip(&r.cluster.networking.service_subnet, 10)?;
    let mut cfg = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": false},
            "webhook": {"cacheTTL": "0s", "enabled": true},
            "x509": {"clientCAFile": r.cluster.cert_dir().join("ca.crt").display().to_string()},
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}},
        "cgroupDriver": "systemd",
        "clusterDNS": [dns.to_string()],
        "clusterDomain": r.cluster.networking.dns_domain,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "rotateCertificates": true,
        "staticPodPath": crate::manifests::dir(r).display().to_string(),
    });
    if let Some(u) = user {
        merge(&mut cfg, u);
    }
    cfg["rotateCertificates"] = json!(true);
    Ok(cfg)
}

/// `KUBELET_KUBEADM_ARGS="..."`: the runtime endpoint, the pause image, the node name when it
/// is not the host's, and `kubeletExtraArgs` over them; sorted by flag.
pub fn flags_env(r: &Resolved, hostname: &str, register_taints: bool) -> String {
    let nr = &r.init.node_registration;
    let socket = if nr.cri_socket.is_empty() { DEFAULT_CRI_SOCKET.to_string() } else { nr.cri_socket.clone() };
    let mut d: Vec<(&str, String)> = vec![
        ("container-runtime-endpoint", socket),
        ("pod-infra-container-image", format!("{}/pause:{PAUSE_VERSION}", r.cluster.image_repository)),
    ];
    if r.node_name() != hostname {
        d.push(("hostname-override", r.node_name().to_string()));
    }
    if register_taints {
        if let Some(t) = nr.taints.as_ref().filter(|t| !t.is_empty()) {
            let taints: Vec<String> = t.iter().map(ToString::to_string).collect();
            d.push(("register-with-taints", taints.join(",")));
        }
    }
    let args = crate::manifests::command("", &d, &nr.kubelet_extra_args);
    format!("KUBELET_KUBEADM_ARGS={:?}\n", args[1..].join(" "))
}

/// Writes `config.yaml` and `kubeadm-flags.env` under `dir` (`/var/lib/kubelet`).
pub fn write_files(r: &Resolved, user: Option<&Value>, dir: &Path, register_taints: bool) -> Result<(), Error> {
    let env = dir.join("kubeadm-flags.env");
    println!("[kubelet-start] Writing kubelet environment file with flags to file {:?}", env.display().to_string());
    pki::write_file(&env, &flags_env(r, &crate::config::default_node_name(), register_taints), 0o644)?;
    let file = dir.join("config.yaml");
    println!("[kubelet-start] Writing kubelet configuration to file {:?}", file.display().to_string());
    let text = serde_saphyr::to_string(&config(r, user)?).map_err(|e| Error::Invalid(e.to_string()))?;
    pki::write_file(&file, &text, 0o644)?;
    Ok(())
}

/// Stops the kubelet service before its files are rewritten (`TryStopKubelet`: errors ignored).
pub fn stop() {
    let _ = std::process::Command::new("systemctl").args(["stop", "kubelet"]).output();
}

/// Restarts the kubelet service, as upstream (`systemctl restart kubelet`). Without systemd
/// (a node namespace here) whatever supervises the kubelet starts it once its files exist;
/// upstream warns and goes on alike.
pub fn start() {
    println!("[kubelet-start] Starting the kubelet");
    let out = std::process::Command::new("systemctl").args(["restart", "kubelet"]).output();
    let why = match out {
        Ok(o) if o.status.success() => return,
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    println!("[kubelet-start] WARNING: unable to start the kubelet service: [{why}]");
    println!("[kubelet-start] Please ensure kubelet is reloaded and running manually.");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitFlags;

    #[test]
    fn the_kubelet_gets_kubeadms_defaults_under_the_users_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Resolved::from_flags(&InitFlags {
            node_name: Some("node-1".into()),
            kubeconfig_dir: dir.path().to_path_buf(),
            ..Default::default()
        })
        .unwrap();
        r.init.node_registration.kubelet_extra_args =
            vec![crate::config::Arg { name: "pod-infra-container-image".into(), value: "example/pause:1".into() }];
        let user = json!({"cgroupDriver": "cgroupfs", "rotateCertificates": false, "authentication": {"anonymous": {"enabled": true}}});
        let c = config(&r, Some(&user)).unwrap();
        assert_eq!(c["clusterDNS"], json!(["10.96.0.10"]));
        assert_eq!(c["cgroupDriver"], "cgroupfs");
        assert_eq!(c["rotateCertificates"], true);
        assert_eq!(c["authentication"]["anonymous"]["enabled"], true);
        assert_eq!(c["authentication"]["webhook"]["enabled"], true);
        let env = flags_env(&r, "other-host", false);
        assert_eq!(
            env,
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --hostname-override=node-1 --pod-infra-container-image=example/pause:1\"\n"
        );
        write_files(&r, None, &dir.path().join("kubelet"), false).unwrap();
        let text = std::fs::read_to_string(dir.path().join("kubelet/config.yaml")).unwrap();
        assert!(text.contains("staticPodPath:"), "{text}");
    }
}
