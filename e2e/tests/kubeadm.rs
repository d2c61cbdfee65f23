//! A cluster bootstrapped kubeadm-style, end to end: `hack/local-up-cluster.sh` (the README's
//! first command) makes two node namespaces, runs `kubeadm init` on node-1 (the control plane
//! as static pods, mirrored in the API) and `kubeadm join` on node-2 (TLS bootstrap), with the
//! project's daemons in their own images. The tests then drive it with the real kubectl.

use e2e::{bin_dir, free_port, kubectl_path, poll, run_with_deadline};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct LocalCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl LocalCluster {
    fn script(&self, arg: &str) -> Command {
        let mut cmd = Command::new("bash");
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        cmd.arg(repo_root().join("hack/local-up-cluster.sh"))
            .arg(arg)
            .env("LOCAL_UP_DIR", self.dir.path().join("cluster"))
            .env("NODES", "2")
            .env("API_PORT", self.port.to_string())
            .env("SKIP_DEPS", "1")
            .env("SKIP_BUILD", "1")
            .env("BIN_DIR", bin_dir())
            // Images of the debug daemons, kept apart from the release ones local-up builds.
            .env("K8S_RS_DAEMON_IMAGES", format!("{home}/.cache/k8s-rs/daemon-images-e2e"))
            .env("K8S_RS_NODE_OWNER", std::process::id().to_string());
        cmd
    }

    fn up() -> LocalCluster {
        let c = LocalCluster { dir: tempfile::tempdir().unwrap(), port: free_port() };
        let out = run_with_deadline(c.script("up"), None, Duration::from_secs(600));
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "local-up-cluster.sh failed:\n{text}");
        assert!(text.contains("Your Kubernetes control-plane has initialized successfully!"), "{text}");
        assert!(text.contains("This node has joined the cluster:"), "{text}");
        c
    }

    fn node_dir(&self, n: u32) -> PathBuf {
        self.dir.path().join("cluster").join(format!("node-{n}"))
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(kubectl_path("1.33"));
        cmd.env("KUBECONFIG", self.dir.path().join("cluster/admin.conf")).env("HOME", self.dir.path()).args(args);
        run_with_deadline(cmd, None, Duration::from_secs(60))
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A command inside node `n` (its network and mounts), with its systemctl and our binaries.
    fn in_node(&self, n: u32, args: &[&str], timeout: Duration) -> Output {
        let dir = self.node_dir(n);
        let path = format!(
            "{}:{}:{}",
            dir.join("bin").display(),
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("hack/node.sh"))
            .arg("exec")
            .arg(&dir)
            .arg("env")
            .arg(format!("PATH={path}"))
            .args(args);
        run_with_deadline(cmd, None, timeout)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = run_with_deadline(self.script("clean"), None, Duration::from_secs(120));
    }
}

fn pods(c: &LocalCluster, ns: &str) -> serde_json::Value {
    serde_json::from_str(&c.kubectl_ok(&["-n", ns, "get", "pods", "-o", "json"])).unwrap()
}

fn running_ready(p: &serde_json::Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

#[test]
fn kubeadm_brings_up_two_nodes_with_the_control_plane_as_static_pods() {
    let c = LocalCluster::up();
    let t = Duration::from_secs(120);

    // Both nodes Ready; node-1 is the control plane (label and taint from mark-control-plane).
    let nodes: serde_json::Value = serde_json::from_str(&c.kubectl_ok(&["get", "nodes", "-o", "json"])).unwrap();
    let names: Vec<&str> =
        nodes["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["node-1", "node-2"]);
    let n1 = &nodes["items"][0];
    assert!(n1["metadata"]["labels"]["node-role.kubernetes.io/control-plane"].is_string(), "{n1}");
    assert_eq!(n1["spec"]["taints"][0]["key"], "node-role.kubernetes.io/control-plane");

    // The mirror pods of the static control plane and one kube-proxy per node, all running.
    poll("the control plane and kube-proxy running", t, || {
        let p = pods(&c, "kube-system");
        let items = p["items"].as_array().cloned().unwrap_or_default();
        let ready = |name: &str| items.iter().any(|i| i["metadata"]["name"] == name && running_ready(i));
        let proxies: Vec<&serde_json::Value> =
            items.iter().filter(|i| i["metadata"]["labels"]["k8s-app"] == "kube-proxy" && running_ready(i)).collect();
        let on: std::collections::BTreeSet<&str> =
            proxies.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
        (ready("etcd-node-1")
            && ready("kube-apiserver-node-1")
            && ready("kube-controller-manager-node-1")
            && ready("kube-scheduler-node-1")
            && on.len() == 2)
            .then_some(())
    });
    assert_eq!(c.kubectl_ok(&["get", "--raw", "/healthz"]), "ok");
    // Each component as itself: the scheduler and controller-manager hold their leases, the
    // kubelets theirs, and node-2's client certificate came from an approved CSR.
    for lease in ["kube-scheduler", "kube-controller-manager"] {
        let holder =
            c.kubectl_ok(&["-n", "kube-system", "get", "lease", lease, "-o", "jsonpath={.spec.holderIdentity}"]);
        // `<hostname>_<uuid>`, as upstream (the node shares the machine's hostname).
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert!(holder.starts_with(&format!("{}_", host.trim())), "{lease}: {holder}");
    }
    let csrs = c.kubectl_ok(&[
        "get",
        "csr",
        "-o",
        "jsonpath={range .items[*]}{.spec.username} {.status.conditions[0].type}{\"\\n\"}{end}",
    ]);
    assert!(csrs.lines().any(|l| l.starts_with("system:bootstrap:") && l.ends_with(" Approved")), "{csrs}");
    let kubelet_conf = std::fs::read_to_string(c.node_dir(2).join("root/etc/kubernetes/kubelet.conf")).unwrap();
    assert!(
        kubelet_conf.contains("client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem"),
        "{kubelet_conf}"
    );
    assert!(
        !c.node_dir(2).join("root/etc/kubernetes/bootstrap-kubelet.conf").exists(),
        "join removes its bootstrap kubeconfig"
    );

    // Seed 004's demo: nginx behind a Service, reached from the control-plane node.
    c.kubectl_ok(&["create", "deployment", "web", "--image=nginx"]);
    c.kubectl_ok(&["expose", "deployment", "web", "--port=80"]);
    let ip = c.kubectl_ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    poll("nginx through the Service from node-1", t, || {
        let out = c.in_node(1, &["curl", "-s", "--max-time", "2", &ip], Duration::from_secs(10));
        String::from_utf8_lossy(&out.stdout).contains("<title>Welcome to nginx!</title>").then_some(())
    });

    // kill -9 of the apiserver: the kubelet restarts it and the cluster serves again.
    let pid = String::from_utf8_lossy(
        &Command::new("pgrep").args(["-f", "^kube-apiserver --advertise-address=172.18.0.2 "]).output().unwrap().stdout,
    )
    .trim()
    .to_string();
    assert!(!pid.is_empty() && !pid.contains('\n'), "one apiserver: {pid:?}");
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    poll("the apiserver restarted by the kubelet", t, || {
        let out = c.kubectl(&[
            "-n",
            "kube-system",
            "get",
            "pod",
            "kube-apiserver-node-1",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]);
        (out.status.success() && String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().unwrap_or(0) >= 1)
            .then_some(())
    });

    // A deleted mirror pod is mirrored again (a new object for the same static pod).
    let uid =
        c.kubectl_ok(&["-n", "kube-system", "get", "pod", "kube-scheduler-node-1", "-o", "jsonpath={.metadata.uid}"]);
    c.kubectl_ok(&["-n", "kube-system", "delete", "pod", "kube-scheduler-node-1", "--wait=false"]);
    poll("the scheduler's mirror pod back", t, || {
        let out =
            c.kubectl(&["-n", "kube-system", "get", "pod", "kube-scheduler-node-1", "-o", "jsonpath={.metadata.uid}"]);
        let now = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.success() && !now.is_empty() && now != uid).then_some(())
    });

    // kubeadm init twice: preflight refuses, naming what is in the way.
    let out = c.in_node(
        1,
        &["kubeadm", "init", "--config", c.dir.path().join("cluster/kubeadm-init.yaml").to_str().unwrap()],
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.starts_with("error execution phase preflight: [preflight] Some fatal errors occurred:"), "{err}");
    assert!(err.contains("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists"), "{err}");
    assert!(err.contains("[ERROR Port-6443]: Port 6443 is in use"), "{err}");

    // A join pinning another CA is refused before anything is written.
    let token = c.kubectl_ok(&[
        "-n",
        "kube-system",
        "get",
        "secrets",
        "-o",
        "jsonpath={.items[?(@.type==\"bootstrap.kubernetes.io/token\")].data.token-id}",
    ]);
    assert!(!token.is_empty(), "a bootstrap token exists");
    let join = String::from_utf8_lossy(
        &c.in_node(1, &["kubeadm", "token", "create", "--print-join-command"], Duration::from_secs(60)).stdout,
    )
    .to_string();
    let mut args: Vec<String> = join.split_whitespace().map(str::to_string).collect();
    assert_eq!(args[..2], ["kubeadm", "join"], "{join}");
    let hash = args.iter().position(|a| a == "--discovery-token-ca-cert-hash").unwrap() + 1;
    args[hash] = format!("sha256:{}", "0".repeat(64));
    args.push("--ignore-preflight-errors=all".into());
    let before = std::fs::read_dir(c.node_dir(2).join("root/etc/kubernetes")).unwrap().count();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = c.in_node(2, &argv, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.starts_with("error execution phase preflight: couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"sha256:"),
        "{err}"
    );
    assert!(
        err.ends_with("\" are pinned\nTo see the stack trace of this error execute with --v=5 or higher\n"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(c.node_dir(2).join("root/etc/kubernetes")).unwrap().count(),
        before,
        "nothing written"
    );

    // A third node joins later with a fresh token, and the kube-proxy DaemonSet runs there too.
    let out = run_with_deadline(c.script("add-node"), None, Duration::from_secs(300));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("This node has joined the cluster:"), "{text}");
    poll("kube-proxy running on node-3", t, || {
        let p = pods(&c, "kube-system");
        p["items"]
            .as_array()?
            .iter()
            .any(|i| {
                i["metadata"]["labels"]["k8s-app"] == "kube-proxy"
                    && i["spec"]["nodeName"] == "node-3"
                    && running_ready(i)
            })
            .then_some(())
    });
    let users = c.kubectl_ok(&["get", "csr", "-o", "jsonpath={.items[*].spec.username}"]);
    assert_eq!(users.split_whitespace().filter(|u| u.starts_with("system:bootstrap:")).count(), 2, "{users}");

    // kubeadm reset on the control-plane node: no pods, no files, no Service rules left.
    let out = c.in_node(
        1,
        &["kubeadm", "reset", "-f", "--cri-socket", &format!("unix://{}/containerd.sock", c.node_dir(1).display())],
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("[reset] Deleted contents of the etcd data directory: /var/lib/etcd\n"), "{text}");
    assert!(text.contains("[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]\n"), "{text}");
    let mut left = Vec::new();
    let mut stack = vec![c.node_dir(1).join("root/etc/kubernetes")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path())
            } else {
                left.push(e.path())
            }
        }
    }
    assert!(left.is_empty(), "files left: {left:?}");
    assert_eq!(std::fs::read_dir(c.node_dir(1).join("root/var/lib/etcd")).unwrap().count(), 0);
    let sock = c.node_dir(1).join("containerd.sock");
    let out = c.in_node(
        1,
        &["ctr", "--address", sock.to_str().unwrap(), "-n", "k8s.io", "containers", "ls", "-q"],
        Duration::from_secs(30),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "", "containers left");
    for tool in ["iptables-save", "ip6tables-save"] {
        let out = c.in_node(1, &[tool], Duration::from_secs(30));
        let rules = String::from_utf8_lossy(&out.stdout);
        assert!(!rules.lines().any(|l| l.contains("KUBE-SVC") || l.contains("KUBE-SERVICES")), "{tool}: {rules}");
    }
}
