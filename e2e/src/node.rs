//! Test nodes: `hack/node.sh` makes each one a network and mount namespace with its own
//! containerd and image registry, and the real kubelet binary runs inside it with the node's
//! own identity (`system:node:<name>`). Everything is torn down by namespace, cgroup and PID
//! when the fixture drops, also when a test fails.

use crate::{bin_dir, kill, poll, ApiServer, Cluster, ControllerManager, Scheduler};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs hack/node.sh with this process as the owner of what it makes, so that `node.sh gc`
/// can take it down if this process dies without dropping its fixtures.
fn node_sh(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo_root().join("hack/node.sh"))
        .args(args)
        .env("K8S_RS_NODE_OWNER", std::process::id().to_string())
        .output()
        .expect("hack/node.sh")
}

/// Builds the test images once per machine (`hack/build-images.sh` is idempotent).
pub fn ensure_images() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let out = Command::new("bash").arg(repo_root().join("hack/build-images.sh")).output().expect("build-images");
        assert!(out.status.success(), "hack/build-images.sh: {}", String::from_utf8_lossy(&out.stderr));
    });
}

/// A switch the nodes of one test attach to (their `eth0`), so that they reach each other.
pub struct Switch {
    pub dir: tempfile::TempDir,
}

impl Switch {
    pub fn new() -> Switch {
        let dir = tempfile::tempdir().expect("tempdir");
        let proxy = bin_dir().join("k8s-rs-testserver");
        assert!(proxy.exists(), "{} is missing: build the workspace binaries first", proxy.display());
        let out = node_sh(&["switch-up", dir.path().to_str().unwrap(), SWITCH_ADDR, proxy.to_str().unwrap()]);
        assert!(out.status.success(), "switch-up: {}", String::from_utf8_lossy(&out.stderr));
        let egress = dir.path().join("egress.yaml");
        std::fs::write(
            &egress,
            format!(
                "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
                 - name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n    transport:\n      uds:\n        \
                 udsName: {}\n",
                dir.path().join("egress.sock").display()
            ),
        )
        .expect("egress config");
        Switch { dir }
    }

    /// The apiserver flags that reach this switch's nodes as kubeadm's apiserver reaches
    /// kubelets: through the egress selector's `cluster` proxy, by InternalIP first.
    pub fn apiserver_flags(&self) -> Vec<String> {
        vec![
            format!("--egress-selector-config-file={}", self.dir.path().join("egress.yaml").display()),
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname".into(),
        ]
    }
}

/// The switch's own address on its bridge, from which its egress proxy dials the nodes
/// (nodes take 172.18.0.2 and up).
const SWITCH_ADDR: &str = "172.18.0.254/24";

impl Default for Switch {
    fn default() -> Self {
        Self::new()
    }
}

impl Switch {
    /// Routes `cidr` (a node's pod CIDR) through `via` (the node) inside the switch's own
    /// namespace, so that its egress proxy reaches pods as an apiserver on the cluster network
    /// does.
    pub fn route(&self, cidr: &str, via: &str) {
        let ns = std::fs::read_to_string(self.dir.path().join("netns")).expect("switch netns");
        let out = Command::new("ip")
            .args(["netns", "exec", ns.trim(), "ip", "route", "replace", cidr, "via", via])
            .output()
            .expect("ip route");
        assert!(out.status.success(), "ip route: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        node_sh(&["switch-down", self.dir.path().to_str().unwrap()]);
    }
}

/// One node: its namespaces, containerd and kubelet.
pub struct Node {
    pub name: String,
    pub ip: String,
    pub dir: tempfile::TempDir,
    pub netns: String,
    holder: String,
    kubelet: Option<Child>,
    kubelet_args: Vec<String>,
    kubeconfig: Option<PathBuf>,
    /// The cluster's CA, which the kubelet's API trusts for client certificates.
    client_ca: Option<PathBuf>,
    /// More KubeletConfiguration lines, used from the next kubelet (re)start.
    pub kubelet_config: String,
    kube_proxy: Option<Child>,
    /// kube-proxy's kubeconfig (`system:kube-proxy`), when there is an apiserver.
    proxy_kubeconfig: Option<PathBuf>,
}

impl Node {
    /// Starts node `name` with address `ip` (e.g. `172.18.0.2`) on `switch`, and its kubelet
    /// registered with `api`. `extra` goes to the kubelet's command line.
    pub fn start(api: &ApiServer, switch: &Switch, name: &str, ip: &str, extra: &[&str]) -> Node {
        Self::start_with(Some(api), switch, name, ip, extra)
    }

    /// A node whose kubelet runs standalone (no `--kubeconfig`): static pods only.
    pub fn standalone(switch: &Switch, name: &str, ip: &str, extra: &[&str]) -> Node {
        Self::start_with(None, switch, name, ip, extra)
    }

    fn start_with(api: Option<&ApiServer>, switch: &Switch, name: &str, ip: &str, extra: &[&str]) -> Node {
        ensure_images();
        let dir = tempfile::tempdir().expect("tempdir");
        let out = node_sh(&[
            "up",
            dir.path().to_str().unwrap(),
            name,
            &api.map(|a| a.port.to_string()).unwrap_or_default(),
            switch.dir.path().to_str().unwrap(),
            &format!("{ip}/24"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let facts: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let mut node = Node {
            name: name.to_string(),
            ip: ip.to_string(),
            netns: facts.get("NODE_NETNS").unwrap_or(&"").to_string(),
            holder: facts.get("NODE_HOLDER_PID").unwrap_or(&"").to_string(),
            kubeconfig: api.map(|_| dir.path().join("kubelet.conf")),
            client_ca: api.map(|a| a.pki.path("ca.crt")),
            dir,
            kubelet: None,
            kubelet_args: extra.iter().map(|s| s.to_string()).collect(),
            kubelet_config: String::new(),
            kube_proxy: None,
            proxy_kubeconfig: None,
        };
        assert!(out.status.success(), "node.sh up {name}: {}\n{text}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(node.path("manifests")).expect("manifests dir");
        let Some(api) = api else {
            node.start_kubelet();
            return node;
        };
        let pair = pki::issue(
            &api.pki.ca,
            &pki::LeafSpec {
                common_name: format!("system:node:{name}"),
                organizations: vec!["system:nodes".into()],
                client: true,
                ..Default::default()
            },
        )
        .expect("kubelet pair");
        pki::write_kubeconfig(
            node.kubeconfig.as_ref().expect("kubeconfig path"),
            "kubernetes",
            &api.url(),
            &api.pki.ca.cert_pem,
            &format!("system:node:{name}"),
            &pair.cert_pem,
            &pair.key_pem,
        )
        .expect("kubeconfig");
        let proxy = pki::issue(
            &api.pki.ca,
            &pki::LeafSpec { common_name: "system:kube-proxy".into(), client: true, ..Default::default() },
        )
        .expect("kube-proxy pair");
        pki::write_kubeconfig(
            &node.path("kube-proxy.conf"),
            "kubernetes",
            &api.url(),
            &api.pki.ca.cert_pem,
            "system:kube-proxy",
            &proxy.cert_pem,
            &proxy.key_pem,
        )
        .expect("kube-proxy kubeconfig");
        node.proxy_kubeconfig = Some(node.path("kube-proxy.conf"));
        node.start_kubelet();
        node
    }

    /// Starts kube-proxy in the node as kubeadm's DaemonSet runs it (`system:kube-proxy`,
    /// the node's name, the cluster CIDR), with `extra` flags; its log is `kube-proxy.log`.
    /// Conntrack's table size is machine-wide, so it is left alone, as kind does.
    pub fn start_kube_proxy(&mut self, extra: &[&str]) {
        self.stop_kube_proxy();
        let bin = bin_dir().join("kube-proxy");
        assert!(bin.exists(), "{} is missing: build the workspace binaries first", bin.display());
        let kubeconfig = self.proxy_kubeconfig.clone().expect("kube-proxy needs an apiserver");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.path("kube-proxy.log")).expect("log");
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.holder, "--mount", "--net", "--"])
            .arg(&bin)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--hostname-override={}", self.name))
            .arg("--cluster-cidr=10.244.0.0/16")
            .arg("--conntrack-max-per-core=0")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log);
        self.kube_proxy = Some(cmd.spawn().expect("kube-proxy starts"));
        poll("kube-proxy /healthz", Duration::from_secs(60), || {
            if let Some(Ok(Some(st))) = self.kube_proxy.as_mut().map(|c| c.try_wait()) {
                panic!("kube-proxy exited early: {st}\n{}", self.kube_proxy_log());
            }
            let out = self.exec(&["curl", "-sf", "--max-time", "2", "http://127.0.0.1:10256/healthz"]);
            out.status.success().then_some(())
        });
    }

    pub fn stop_kube_proxy(&mut self) {
        if let Some(mut c) = self.kube_proxy.take() {
            kill(&mut c);
        }
    }

    pub fn kube_proxy_pid(&self) -> Option<u32> {
        self.kube_proxy.as_ref().map(Child::id)
    }

    pub fn kube_proxy_log(&self) -> String {
        std::fs::read_to_string(self.path("kube-proxy.log")).unwrap_or_default()
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The kubelet's command line inside the node.
    fn start_kubelet(&mut self) {
        let bin = bin_dir().join("kubelet");
        assert!(bin.exists(), "{} is missing: build the workspace binaries first (hack/test.sh does)", bin.display());
        let root = self.path("kubelet");
        std::fs::create_dir_all(&root).expect("root dir");
        let config = self.path("kubelet-config.yaml");
        std::fs::write(
            &config,
            format!(
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodLogsDir: {}\nstaticPodPath: {}\nresolvConf: {}\nnodeStatusUpdateFrequency: 2s\n{}",
                self.path("pods-logs").display(),
                self.path("manifests").display(),
                self.path("resolv.conf").display(),
                // Without an apiserver there is no TokenReview or SubjectAccessReview to ask:
                // a standalone kubelet's API must allow on its own, as upstream requires.
                // With one, clients (the apiserver among them) present certificates from the
                // cluster's CA, as kubeadm configures nodes.
                match &self.client_ca {
                    None => "authentication: {webhook: {enabled: false}}\nauthorization: {mode: AlwaysAllow}\n".to_string(),
                    Some(ca) => format!("authentication: {{x509: {{clientCAFile: {}}}}}\n", ca.display()),
                } + &disk_defaults(&self.kubelet_config)
                    + &self.kubelet_config
            ),
        )
        .expect("config");
        std::fs::write(self.path("resolv.conf"), "nameserver 127.0.0.53\n").expect("resolv.conf");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.path("kubelet.log")).expect("log");
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.holder, "--mount", "--net", "--"]).arg(&bin);
        if let Some(k) = &self.kubeconfig {
            cmd.arg(format!("--kubeconfig={}", k.display()));
        }
        cmd.arg(format!("--config={}", config.display()))
            .arg(format!("--root-dir={}", root.display()))
            .arg(format!("--hostname-override={}", self.name))
            .arg(format!("--node-ip={}", self.ip))
            .arg(format!("--container-runtime-endpoint=unix://{}", self.path("containerd.sock").display()))
            .arg(format!("--cgroup-root=/{}", self.netns))
            .arg("--healthz-port=10248")
            // K8S_RS_KUBELET_V=4 for the workers' debug lines when chasing a failure.
            .arg(format!("-v={}", std::env::var("K8S_RS_KUBELET_V").unwrap_or_else(|_| "0".into())))
            .args(&self.kubelet_args)
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd.spawn().expect("kubelet starts");
        self.kubelet = Some(child);
        poll("kubelet /healthz", Duration::from_secs(30), || {
            if let Some(Ok(Some(st))) = self.kubelet.as_mut().map(|c| c.try_wait()) {
                panic!("kubelet exited early: {st}\n{}", self.kubelet_log());
            }
            let out = self.exec(&["curl", "-sf", "--max-time", "2", "http://127.0.0.1:10248/healthz"]);
            (out.status.success() && out.stdout == b"ok").then_some(())
        });
    }

    pub fn stop_kubelet(&mut self) {
        if let Some(mut c) = self.kubelet.take() {
            kill(&mut c);
        }
    }

    pub fn restart_kubelet(&mut self) {
        self.stop_kubelet();
        self.start_kubelet();
    }

    /// Stops the node's containerd and starts it again (the containers keep running).
    pub fn restart_containerd(&self) {
        let out = node_sh(&["restart-containerd", self.dir.path().to_str().unwrap()]);
        assert!(out.status.success(), "restart-containerd: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The kubelet's PID (nsenter executes it in place).
    pub fn kubelet_pid(&self) -> Option<u32> {
        self.kubelet.as_ref().map(Child::id)
    }

    pub fn kubelet_log(&self) -> String {
        std::fs::read_to_string(self.path("kubelet.log")).unwrap_or_default()
    }

    /// What a container of a pod wrote (its latest log file under the node's pod logs
    /// directory), the CRI log prefix (`<time> <stream> <tag> `) removed.
    pub fn container_log(&self, ns: &str, pod: &str, container: &str) -> String {
        let logs = self.path("pods-logs");
        let prefix = format!("{ns}_{pod}_");
        let Ok(rd) = std::fs::read_dir(&logs) else { return String::new() };
        let mut out = String::new();
        for d in rd.flatten().filter(|d| d.file_name().to_string_lossy().starts_with(&prefix)) {
            let Ok(files) = std::fs::read_dir(d.path().join(container)) else { continue };
            // The live files (`<restart>.log`), not rotated ones (`0.log.<time>[.gz]`).
            let mut files: Vec<PathBuf> =
                files.flatten().map(|f| f.path()).filter(|f| f.extension().is_some_and(|e| e == "log")).collect();
            files.sort_by_key(|f| {
                f.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0)
            });
            if let Some(f) = files.last() {
                for line in std::fs::read_to_string(f).unwrap_or_default().lines() {
                    let text = line.splitn(4, ' ').nth(3).unwrap_or("");
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Runs `ctr` against the node's containerd, in the CRI namespace.
    pub fn ctr(&self, args: &[&str]) -> Output {
        let sock = self.path("containerd.sock");
        let mut all = vec!["ctr", "--address", sock.to_str().unwrap(), "--namespace", "k8s.io"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    /// Runs a command inside the node (its network and mounts).
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["--target", &self.holder, "--mount", "--net", "--"])
            .args(args)
            .output()
            .expect("nsenter")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.kubelet_log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- kubelet log of {} (last lines) ---", self.name);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
            if self.kube_proxy.is_some() {
                let log = self.kube_proxy_log();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- kube-proxy log of {} (last lines) ---", self.name);
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        self.stop_kube_proxy();
        self.stop_kubelet();
        node_sh(&["down", self.dir.path().to_str().unwrap()]);
    }
}

/// The test nodes share the host's disk, whose fill level no test controls: as kind does,
/// disk-based eviction and image garbage collection stay off unless a test sets them (its
/// own lines or flags win). Otherwise a host disk over 85% full would taint every node
/// with DiskPressure.
fn disk_defaults(extra: &str) -> String {
    let mut out = String::new();
    if !extra.contains("evictionHard:") {
        out.push_str("evictionHard: {memory.available: 100Mi, nodefs.available: \"0%\", nodefs.inodesFree: \"0%\", imagefs.available: \"0%\"}\n");
    }
    if !extra.contains("imageGCHighThresholdPercent:") {
        out.push_str("imageGCHighThresholdPercent: 100\n");
    }
    out
}

/// The kubectl release the node tests drive.
pub const KUBECTL: &str = "1.33";

/// A control plane as kubeadm runs it: Node and RBAC authorization, NodeRestriction, node
/// IPAM handing out pod CIDRs from 10.244.0.0/16; and the switch its nodes attach to, which
/// the apiserver reaches through its egress proxy.
pub struct ControlPlane {
    pub c: Cluster,
    _cm: ControllerManager,
    _sched: Scheduler,
}

pub fn control_plane() -> (ControlPlane, Switch) {
    let sw = Switch::new();
    let mut flags =
        vec!["--authorization-mode=Node,RBAC".to_string(), "--enable-admission-plugins=NodeRestriction".into()];
    flags.extend(sw.apiserver_flags());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let c = Cluster::start_with(&flags);
    let cm = ControllerManager::start(
        &c.api,
        &["--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16", "--node-cidr-mask-size=24"],
    );
    let sched = Scheduler::start(&c.api, &[]);
    (ControlPlane { c, _cm: cm, _sched: sched }, sw)
}

pub fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.api.kubectl_ok(KUBECTL, &a)).expect("json")
}

pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// Waits for the node to be Ready and schedulable: the node lifecycle controller has taken
/// its `not-ready` taint off.
pub fn wait_node_ready(c: &Cluster, n: &Node) -> Value {
    poll(&format!("node {} Ready", n.name), Duration::from_secs(90), || {
        let out = c.api.kubectl(KUBECTL, &["get", "node", &n.name, "-o", "json"]);
        let node: Value = serde_json::from_slice(&out.stdout).ok()?;
        let tainted = node["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == "node.kubernetes.io/not-ready"));
        (condition(&node, "Ready")?["status"] == "True" && !tainted).then_some(node)
    })
}

/// A control plane and one Ready node `name` at 172.18.0.2, its kubelet started with `extra`.
pub fn one_node(name: &str, extra: &[&str]) -> (ControlPlane, Switch, Node) {
    let (cp, sw) = control_plane();
    let n = Node::start(&cp.c.api, &sw, name, "172.18.0.2", extra);
    wait_node_ready(&cp.c, &n);
    (cp, sw, n)
}

/// `kubectl apply -f -` of `yaml`, which must succeed.
pub fn apply(c: &Cluster, yaml: &str) {
    let out = c.api.kubectl_stdin(KUBECTL, &["apply", "-f", "-"], Some(yaml));
    assert!(out.status.success(), "apply: {}", String::from_utf8_lossy(&out.stderr));
}
