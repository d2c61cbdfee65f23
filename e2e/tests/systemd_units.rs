//! The systemd units under `manifests/systemd/` pass `systemd-analyze verify` (Debian's systemd
//! package provides the tool; the machine need not run systemd). Their binaries' paths are
//! pointed at this build's, since verify requires every `ExecStart` to be executable.

use e2e::bin_dir;
use std::path::{Path, PathBuf};
use std::process::Command;

fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/systemd")
}

/// The units copied into a temporary directory with our binaries' paths.
fn installed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = bin_dir();
    std::fs::create_dir_all(dir.path().join("kubelet.service.d")).unwrap();
    for rel in std::fs::read_dir(units_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".service"))
        .chain(["kubelet.service.d/10-kubeadm.conf".to_string()])
    {
        let text = std::fs::read_to_string(units_dir().join(&rel)).unwrap();
        let text = text
            .replace("/usr/bin/kubelet", &bin.join("kubelet").display().to_string())
            .replace("/usr/local/bin/", &format!("{}/", bin.display()));
        std::fs::write(dir.path().join(&rel), text).unwrap();
    }
    dir
}

fn verify(dir: &Path, unit: &str) -> (bool, String) {
    let out = Command::new("systemd-analyze").arg("verify").arg(dir.join(unit)).output().expect("systemd-analyze");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let dir = installed();
    let units = [
        "kubelet.service",
        "etcd.service",
        "kube-apiserver.service",
        "kube-controller-manager.service",
        "kube-scheduler.service",
        "kube-proxy.service",
    ];
    for unit in units {
        let (ok, err) = verify(dir.path(), unit);
        assert!(ok && err.is_empty(), "{unit}: {err}");
    }
    // Every unit of the directory is in that list.
    let found = std::fs::read_dir(units_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "service"))
        .count();
    assert_eq!(found, units.len());
}

#[test]
fn the_kubelet_runs_with_kubeadms_drop_in() {
    let dropin = std::fs::read_to_string(units_dir().join("kubelet.service.d/10-kubeadm.conf")).unwrap();
    for line in [
        "Environment=\"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf\"",
        "Environment=\"KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml\"",
        "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env",
        "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS",
    ] {
        assert!(dropin.lines().any(|l| l == line), "missing: {line}");
    }
    // verify reads the drop-in: a broken ExecStart there fails the unit.
    let dir = installed();
    let path = dir.path().join("kubelet.service.d/10-kubeadm.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let bad =
        text.replace(&format!("ExecStart={}", bin_dir().join("kubelet").display()), "ExecStart=/nonexistent/kubelet");
    assert_ne!(bad, text);
    std::fs::write(&path, bad).unwrap();
    let (ok, err) = verify(dir.path(), "kubelet.service");
    assert!(!ok && err.contains("/nonexistent/kubelet is not executable"), "{err}");
}
