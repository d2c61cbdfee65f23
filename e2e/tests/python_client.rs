//! The official Python client library (`pip install kubernetes`, installed into a venv by
//! `hack/install-deps.sh`) drives a Deployment through create, list, strategic and merge
//! patches and server-side apply.

use e2e::Cluster;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn official_python_client_creates_patches_and_applies() {
    let py = e2e::python();
    assert!(py.exists(), "{} is missing: run hack/install-deps.sh (it installs the Python client)", py.display());
    let c = Cluster::start();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/client_check.py");
    let out =
        Command::new(&py).arg(&script).arg("py-web").env("KUBECONFIG", &c.api.kubeconfig).output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("python client: ok"), "{stdout}");
}
