//! `kubeadm reset`: reverts what `init` or `join` did to this node (upstream's
//! `cmd/phases/reset`). The kubelet is stopped, the pods' sandboxes are stopped and removed
//! through CRI, mounts under `/var/lib/kubelet` are unmounted, and kubeadm's directories and
//! files are emptied or deleted; with a local etcd its data directory is emptied too. Beyond
//! upstream (which leaves netfilter rules to the user), the rules kube-proxy programmed are
//! removed with `kube-proxy --cleanup` when a kube-proxy binary is on the PATH.

use crate::{config, kubelet, Error};
use clap::Args;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `kubeadm reset`'s flags.
#[derive(Args, Debug, Default, Clone)]
pub struct ResetFlags {
    /// Reset the node without prompting for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// The path to the directory where the certificates are stored. If specified, clean this directory.
    #[arg(long, default_value = config::DEFAULT_CERT_DIR)]
    pub cert_dir: PathBuf,
    /// Path to the CRI socket to connect.
    #[arg(long)]
    pub cri_socket: Option<String>,
    /// A list of checks whose errors will be shown as warnings. Value 'all' ignores errors from all checks.
    #[arg(long, value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// The kubeconfig file to use when talking to the cluster.
    #[arg(long, default_value = "/etc/kubernetes/admin.conf")]
    pub kubeconfig: PathBuf,
    /// List of phases to be skipped
    #[arg(long, value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// The path where the kubeconfig files and manifests are kept (upstream's /etc/kubernetes).
    #[arg(long, default_value = config::KUBERNETES_DIR, hide = true)]
    pub kubeconfig_dir: PathBuf,
}

const KUBECONFIGS: [&str; 6] = [
    "admin.conf",
    "super-admin.conf",
    "kubelet.conf",
    "bootstrap-kubelet.conf",
    "controller-manager.conf",
    "scheduler.conf",
];

/// `kubeadm reset`.
pub fn run(f: &ResetFlags) -> Result<(), Error> {
    let skips = crate::init::Skips::new(f.skip_phases.clone());
    if !f.force {
        println!("[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.");
        print!("[reset] Are you sure you want to proceed? [y/N]: ");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y") {
            return Err(Error::Phase("preflight".into(), Box::new(Error::Invalid("aborted reset operation".into()))));
        }
    }
    if !skips.phase("preflight") {
        println!("[preflight] Running pre-flight checks");
    }
    let dir = &f.kubeconfig_dir;
    let manifests = dir.join(crate::manifests::MANIFESTS_DIR);
    // A local etcd is one whose static pod this node runs; its data directory goes with it.
    let etcd_data = etcd_data_dir(&manifests.join("etcd.yaml"));
    if !skips.phase("remove-etcd-member") {
        if let Some(d) = &etcd_data {
            empty_dir(d).map_err(|e| Error::Phase("remove-etcd-member".into(), Box::new(e)))?;
            println!("[reset] Deleted contents of the etcd data directory: {}", d.display());
        } else {
            println!("[reset] No etcd config found. Assuming external etcd");
            println!("[reset] Please, manually reset etcd to prevent further issues");
        }
    }
    if skips.phase("cleanup-node") {
        return Ok(());
    }
    let wrap = |e: Error| Error::Phase("cleanup-node".into(), Box::new(e));
    println!("[reset] Stopping the kubelet service");
    kubelet::stop();
    let kdir = Path::new(kubelet::KUBELET_DIR);
    println!("[reset] Unmounting mounted directories in {:?}", kdir.display().to_string());
    unmount_under(kdir);
    let socket = f
        .cri_socket
        .clone()
        .or(kubelet_runtime_endpoint(kdir))
        .unwrap_or_else(|| config::DEFAULT_CRI_SOCKET.to_string());
    crate::runtime()?.block_on(remove_pods(&socket)).map_err(wrap)?;
    cleanup_proxy_rules();
    let dirs = [manifests.clone(), kdir.to_path_buf(), f.cert_dir.clone()];
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    println!("[reset] Deleting contents of directories: [{}]", shown.join(" "));
    for d in &dirs {
        empty_dir(d).map_err(wrap)?;
    }
    let files: Vec<PathBuf> = KUBECONFIGS.iter().map(|k| dir.join(k)).collect();
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    println!("[reset] Deleting files: [{}]", shown.join(" "));
    for file in &files {
        let _ = std::fs::remove_file(file);
    }
    print!(
        "\nThe reset process does not perform cleanup of CNI plugin configuration,\nnetwork filtering rules and kubeconfig files.\n\nFor information on how to perform this cleanup manually, please see:\n    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/\n\n"
    );
    Ok(())
}

/// The runtime the kubelet was given (`--container-runtime-endpoint` in kubeadm-flags.env), as
/// upstream detects the CRI socket when none is configured.
fn kubelet_runtime_endpoint(kubelet_dir: &Path) -> Option<String> {
    let env = std::fs::read_to_string(kubelet_dir.join("kubeadm-flags.env")).ok()?;
    env.split(|c: char| c.is_whitespace() || c == '"')
        .find_map(|a| a.strip_prefix("--container-runtime-endpoint="))
        .map(str::to_string)
}

/// The `--data-dir` of the etcd static pod at `manifest`, if there is one.
fn etcd_data_dir(manifest: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let pod: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    pod["spec"]["containers"][0]["command"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str()?.strip_prefix("--data-dir="))
        .map(PathBuf::from)
        .next()
}

/// Removes everything inside `dir`, keeping `dir` (it may be a mount point).
fn empty_dir(dir: &Path) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let p = e.path();
        let res = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        res.map_err(|err| Error::Invalid(format!("failed to delete {:?}: {err}", p.display().to_string())))?;
    }
    Ok(())
}

/// Unmounts every mount below `dir` (not `dir` itself), deepest first.
fn unmount_under(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount").arg(&p).output();
    }
}

/// Stops and removes every pod sandbox (and so its containers) through CRI.
async fn remove_pods(endpoint: &str) -> Result<(), Error> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint).to_string();
    let channel = tonic::transport::Endpoint::try_from("http://[::1]:50051")
        .map_err(|e| Error::Invalid(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|e| Error::Invalid(format!("failed to connect to the container runtime at {endpoint}: {e}")))?;
    let mut rt = cri::runtime_service_client::RuntimeServiceClient::new(channel);
    let status = |e: tonic::Status| Error::Invalid(format!("container runtime: {}", e.message()));
    let pods = rt.list_pod_sandbox(cri::ListPodSandboxRequest::default()).await.map_err(status)?.into_inner().items;
    for p in pods {
        rt.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: p.id.clone() }).await.map_err(status)?;
        rt.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: p.id }).await.map_err(status)?;
    }
    Ok(())
}

/// `kube-proxy --cleanup`, when there is a kube-proxy to run: the Service rules go with the node.
fn cleanup_proxy_rules() {
    match std::process::Command::new("kube-proxy").arg("--cleanup").output() {
        Ok(o) if o.status.success() => {
            println!("[reset] Removed the rules kube-proxy programmed (kube-proxy --cleanup)")
        }
        Ok(o) => {
            println!("[reset] WARNING: kube-proxy --cleanup failed: {}", String::from_utf8_lossy(&o.stderr).trim())
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etcd_data_dir_comes_from_its_manifest_and_directories_are_emptied_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("etcd.yaml");
        std::fs::write(&m, "spec:\n  containers:\n  - command: [etcd, --name=n1, --data-dir=/data/etcd]\n").unwrap();
        assert_eq!(etcd_data_dir(&m), Some(PathBuf::from("/data/etcd")));
        assert_eq!(etcd_data_dir(&dir.path().join("none.yaml")), None);
        let d = dir.path().join("d");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("f"), "x").unwrap();
        empty_dir(&d).unwrap();
        assert!(d.is_dir());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        empty_dir(&dir.path().join("missing")).unwrap();
        std::fs::write(
            dir.path().join("kubeadm-flags.env"),
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/x.sock --hostname-override=n1\"\n",
        )
        .unwrap();
        assert_eq!(kubelet_runtime_endpoint(dir.path()).as_deref(), Some("unix:///run/x.sock"));
    }
}
