//! The `preflight` phase: upstream's checks (`preflight/checks.go`) with their names, so that
//! `--ignore-preflight-errors=<Name>` (or `all`) turns an error into a warning.

use crate::Error;
use std::path::{Path, PathBuf};

/// One failed check: its name and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub name: String,
    pub message: String,
}

/// What the checks look at; paths are upstream's unless a test points them elsewhere.
#[derive(Debug, Clone)]
pub struct Checks {
    pub ports: Vec<u16>,
    /// Files that must not exist yet (`FileAvailable--<path with / as ->`).
    pub files: Vec<PathBuf>,
    /// Directories that must be empty or missing (`DirAvailable--...`).
    pub dirs: Vec<PathBuf>,
    /// The container runtime's socket (`CRI`).
    pub cri_socket: String,
    /// `/proc/swaps`.
    pub swaps: PathBuf,
}

fn dashed(p: &Path) -> String {
    p.display().to_string().trim_start_matches('/').replace('/', "-")
}

impl Checks {
    /// The control-plane node's checks for `kubeadm init`.
    pub fn init(kubernetes_dir: &Path, etcd_data_dir: Option<&Path>, bind_port: u16, cri_socket: &str) -> Checks {
        let manifests = kubernetes_dir.join(crate::manifests::MANIFESTS_DIR);
        let mut files: Vec<PathBuf> =
            ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"]
                .iter()
                .map(|f| manifests.join(f))
                .collect();
        let mut ports = vec![bind_port, crate::manifests::SCHEDULER_PORT, crate::manifests::KCM_PORT, 10250];
        let mut dirs = Vec::new();
        if let Some(d) = etcd_data_dir {
            ports.extend([2379, 2380]);
            dirs.push(d.to_path_buf());
        }
        files.sort();
        Checks { ports, files, dirs, cri_socket: cri_socket.to_string(), swaps: PathBuf::from("/proc/swaps") }
    }

    /// A joining worker's checks: the kubelet's files are not there yet, its port is free.
    pub fn join(kubernetes_dir: &Path, cri_socket: &str) -> Checks {
        let files = vec![
            kubernetes_dir.join("kubelet.conf"),
            kubernetes_dir.join("bootstrap-kubelet.conf"),
            kubernetes_dir.join("pki").join("ca.crt"),
        ];
        Checks {
            ports: vec![10250],
            files,
            dirs: Vec::new(),
            cri_socket: cri_socket.to_string(),
            swaps: PathBuf::from("/proc/swaps"),
        }
    }

    /// Runs every check: errors and warnings.
    pub fn run(&self) -> (Vec<Finding>, Vec<Finding>) {
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let socket = self.cri_socket.trim_start_matches("unix://");
        if std::os::unix::net::UnixStream::connect(socket).is_err() {
            errors.push(Finding {
                name: "CRI".into(),
                message: format!(
                    "container runtime is not running: output: time=\"\" level=fatal msg=\"validate service connection: validate CRI v1 runtime API for endpoint \\\"{}\\\": rpc error: code = Unavailable desc = connection error: desc = \\\"transport: Error while dialing: dial unix {socket}: connect: no such file or directory\\\"\"\n, error: exit status 1",
                    self.cri_socket
                ),
            });
        }
        for p in &self.ports {
            if std::net::TcpListener::bind(("0.0.0.0", *p)).is_err() {
                errors.push(Finding { name: format!("Port-{p}"), message: format!("Port {p} is in use") });
            }
        }
        for f in &self.files {
            if f.exists() {
                errors.push(Finding {
                    name: format!("FileAvailable--{}", dashed(f)),
                    message: format!("{} already exists", f.display()),
                });
            }
        }
        for d in &self.dirs {
            if std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()) {
                errors.push(Finding {
                    name: format!("DirAvailable--{}", dashed(d)),
                    message: format!("{} is not empty", d.display()),
                });
            }
        }
        if std::fs::read_to_string(&self.swaps).is_ok_and(|s| s.lines().count() > 1) {
            warnings.push(Finding {
                name: "Swap".into(),
                message: "swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node".into(),
            });
        }
        (errors, warnings)
    }
}

/// Prints the warnings and the ignored errors, and fails on the others, as upstream words it.
pub fn report(errors: Vec<Finding>, warnings: Vec<Finding>, ignore: &[String]) -> Result<(), Error> {
    let ignored = |f: &Finding| ignore.iter().any(|i| i.eq_ignore_ascii_case("all") || i.eq_ignore_ascii_case(&f.name));
    for w in &warnings {
        println!("\t[WARNING {}]: {}", w.name, w.message);
    }
    let mut fatal = Vec::new();
    for e in errors {
        if ignored(&e) {
            println!("\t[WARNING {}]: {}", e.name, e.message);
        } else {
            fatal.push(e);
        }
    }
    if fatal.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = fatal.iter().map(|f| format!("\t[ERROR {}]: {}\n", f.name, f.message)).collect();
    Err(Error::Invalid(format!(
        "[preflight] Some fatal errors occurred:\n{}[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`",
        lines.concat()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_files_busy_ports_and_a_missing_runtime_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let busy = std::net::TcpListener::bind(("0.0.0.0", 0)).unwrap();
        let port = busy.local_addr().unwrap().port();
        let mut c =
            Checks::init(dir.path(), Some(&dir.path().join("etcd")), port, "unix:///nonexistent/containerd.sock");
        c.ports = vec![port];
        std::fs::create_dir_all(dir.path().join("manifests")).unwrap();
        std::fs::write(dir.path().join("manifests/kube-apiserver.yaml"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("etcd")).unwrap();
        std::fs::write(dir.path().join("etcd/member"), "").unwrap();
        let (errors, _) = c.run();
        let names: Vec<&str> = errors.iter().map(|e| e.name.as_str()).collect();
        let file = format!("FileAvailable--{}-manifests-kube-apiserver.yaml", dashed(dir.path()));
        assert!(names.contains(&"CRI") && names.contains(&format!("Port-{port}").as_str()), "{names:?}");
        assert!(names.contains(&file.as_str()), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("DirAvailable--")), "{names:?}");
        let e = report(errors.clone(), vec![], &[]).unwrap_err().to_string();
        assert!(e.starts_with("[preflight] Some fatal errors occurred:\n\t[ERROR CRI]"), "{e}");
        assert!(e.contains(&format!("\t[ERROR Port-{port}]: Port {port} is in use\n")), "{e}");
        assert!(report(errors.clone(), vec![], &["all".into()]).is_ok());
        let only_cri: Vec<Finding> = errors.into_iter().filter(|e| e.name == "CRI").collect();
        assert!(report(only_cri, vec![], &["cri".into()]).is_ok());
    }
}
