//! What the controller suites share while there is no kubelet: kubectl shorthands and a "fake
//! kubelet" that keeps nodes alive and plays the pods of one namespace through the API, as
//! kwok does.
//!
//! The fake kubelet binds unbound pods (to the node a DaemonSet-style required node affinity on
//! `metadata.name` names, else round-robin over its nodes), reports them Running and Ready with
//! unique IPs, finishes graceful deletions, and renews each node's Lease. A pod whose
//! annotation `kwok.k8s-rs.io/exit-code` is set finishes once running: `Succeeded` for `"0"`,
//! `Failed` (container terminated with that code) otherwise.

use crate::Cluster;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kubectl these suites drive.
pub const K: &str = "1.33";

/// The annotation that makes the fake kubelet finish a pod with that exit code.
pub const EXIT_CODE: &str = "kwok.k8s-rs.io/exit-code";

/// `kubectl get ARGS -o json`, or `None` when kubectl fails (e.g. NotFound).
pub fn get(c: &Cluster, args: &[&str]) -> Option<Value> {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    let out = c.api.kubectl(K, &a);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).expect("json"))
}

/// The `items` of `kubectl get ARGS -o json`, empty on failure.
pub fn items(c: &Cluster, args: &[&str]) -> Vec<Value> {
    get(c, args).map(|l| l["items"].as_array().cloned().unwrap_or_default()).unwrap_or_default()
}

/// `kubectl apply -f -`, asserting success.
pub fn apply(c: &Cluster, yaml: &str) {
    let out = c.api.kubectl_stdin(K, &["apply", "-f", "-"], Some(yaml));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

pub fn pods(c: &Cluster, ns: &str, selector: &str) -> Vec<Value> {
    items(c, &["pods", "-n", ns, "-l", selector])
}

/// The objects not being deleted.
pub fn live(objs: &[Value]) -> Vec<Value> {
    objs.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).cloned().collect()
}

pub fn name(o: &Value) -> String {
    o["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

pub fn owned_by(o: &Value, uid: &str) -> bool {
    o["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid && r["controller"] == true))
}

fn rfc3339_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A Node that reports Ready (created if missing), with `labels` and `taints`.
pub fn ensure_node_with(c: &Cluster, name: &str, labels: Value, taints: Value) {
    let now = rfc3339_now();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    let _ = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&node.to_string()));
}

/// A Node that reports Ready (what a kubelet keeps up: pods bound to a node that does not
/// exist are collected by the pod garbage collector).
pub fn ensure_node(c: &Cluster, name: &str) {
    ensure_node_with(c, name, json!({}), json!([]))
}

/// The kubelet's heartbeat, as a test does it: the node's Lease renewed now.
pub fn renew_lease(c: &Cluster, node: &str) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now}});
    let out = c.api.kubectl_stdin(K, &["apply", "-f", "-"], Some(&lease.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Binds every unbound live pod of `ns` matching `selector` to `node` and reports each one
/// Running and Ready, once (for tests that step pods by hand).
pub fn ready_once(c: &Cluster, ns: &str, selector: &str, node: &str) {
    ensure_node(c, node);
    for p in live(&pods(c, ns, selector)) {
        let name = name(&p);
        if p["spec"]["nodeName"].is_null() {
            let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
            let args = ["-X", "POST", "-H", "Content-Type: application/json", "-d", &binding.to_string()];
            let (code, got) = c.api.curl_json(&args, &format!("/api/v1/namespaces/{ns}/pods/{name}/binding"));
            assert!(code == 201 || code == 409, "binding {name}: {code} {got}");
        }
        if p["status"]["phase"] != "Running" {
            let now = rfc3339_now();
            let status = json!({"status": {"phase": "Running", "podIP": "10.244.0.10",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                               {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}});
            let args = ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", &status.to_string()];
            let (code, got) = c.api.curl_json(&args, &format!("/api/v1/namespaces/{ns}/pods/{name}/status"));
            assert!(code == 200 || code == 404, "status {name}: {code} {got}");
        }
    }
}

/// The node a pod's required node affinity pins it to (`matchFields` on `metadata.name`, as
/// the DaemonSet controller writes it).
pub fn affinity_node(p: &Value) -> Option<String> {
    let terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"]
        .as_array()?;
    terms.iter().find_map(|t| {
        t["matchFields"].as_array()?.iter().find_map(|f| {
            (f["key"] == "metadata.name" && f["operator"] == "In").then(|| f["values"][0].as_str().map(String::from))?
        })
    })
}

/// A fake kubelet running beside a test until dropped.
pub struct FakeKubelet {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl FakeKubelet {
    /// Plays the pods of `ns` on `node-1`.
    pub fn start(c: &Cluster, ns: &str) -> FakeKubelet {
        Self::start_on(c, ns, &["node-1"])
    }

    /// Plays the pods of `ns` on `nodes` (created Ready if missing). With `ns` empty, pods of
    /// every namespace.
    pub fn start_on(c: &Cluster, ns: &str, nodes: &[&str]) -> FakeKubelet {
        for n in nodes {
            ensure_node(c, n);
        }
        let nodes: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, url, dir, ns) = (stop.clone(), c.api.url(), c.api.pki.dir.clone(), ns.to_string());
        let handle = std::thread::spawn(move || {
            let curl = |args: &[&str], path: &str| -> Value {
                let out = std::process::Command::new("curl")
                    .args(["-s", "--max-time", "10", "--cacert"])
                    .arg(dir.join("ca.crt"))
                    .arg("--cert")
                    .arg(dir.join("admin.crt"))
                    .arg("--key")
                    .arg(dir.join("admin.key"))
                    .args(args)
                    .arg(format!("{url}{path}"))
                    .output()
                    .expect("curl");
                serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
            };
            let send = |method: &str, ctype: &str, body: &Value, path: &str| -> Value {
                curl(&["-X", method, "-H", &format!("Content-Type: {ctype}"), "-d", &body.to_string()], path)
            };
            let mut next_ip = 0u32;
            let mut next_node = 0usize;
            let mut beat = Instant::now() - Duration::from_secs(60);
            let pods_path =
                if ns.is_empty() { "/api/v1/pods".to_string() } else { format!("/api/v1/namespaces/{ns}/pods") };
            while !s.load(Ordering::Relaxed) {
                if beat.elapsed() > Duration::from_secs(5) {
                    beat = Instant::now();
                    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                    for node in &nodes {
                        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                            "metadata": {"name": node, "namespace": "kube-node-lease"},
                            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now}});
                        let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
                        let got = send("PUT", "application/json", &lease, &format!("{leases}/{node}"));
                        if got["code"] == 404 {
                            send("POST", "application/json", &lease, leases);
                        }
                    }
                }
                let list = curl(&[], &pods_path);
                for p in list["items"].as_array().cloned().unwrap_or_default() {
                    let name = name(&p);
                    let pns = p["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
                    let path = format!("/api/v1/namespaces/{pns}/pods/{name}");
                    if !p["metadata"]["deletionTimestamp"].is_null() {
                        let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0});
                        send("DELETE", "application/json", &body, &path);
                        continue;
                    }
                    let phase = p["status"]["phase"].as_str().unwrap_or_default().to_string();
                    if phase == "Succeeded" || phase == "Failed" {
                        continue;
                    }
                    if p["spec"]["nodeName"].is_null() {
                        let node = affinity_node(&p).unwrap_or_else(|| {
                            next_node += 1;
                            nodes[next_node % nodes.len()].clone()
                        });
                        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
                        send("POST", "application/json", &binding, &format!("{path}/binding"));
                    }
                    let now = rfc3339_now();
                    if phase != "Running" {
                        next_ip += 1;
                        let ip = format!("10.244.{}.{}", next_ip / 250, next_ip % 250 + 1);
                        let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                            "startTime": now,
                            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                        send("PATCH", "application/merge-patch+json", &status, &format!("{path}/status"));
                    } else if let Some(code) = p["metadata"]["annotations"][EXIT_CODE].as_str() {
                        let code: i32 = code.parse().unwrap_or(1);
                        let phase = if code == 0 { "Succeeded" } else { "Failed" };
                        let reason = if code == 0 { "Completed" } else { "Error" };
                        let statuses: Vec<Value> = p["spec"]["containers"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|c| {
                                json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false,
                                    "restartCount": 0, "started": false,
                                    "state": {"terminated": {"exitCode": code, "reason": reason,
                                        "startedAt": now, "finishedAt": now}}})
                            })
                            .collect();
                        let status = json!({"status": {"phase": phase, "containerStatuses": statuses,
                            "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted",
                                "lastTransitionTime": now}]}});
                        send("PATCH", "application/merge-patch+json", &status, &format!("{path}/status"));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        FakeKubelet { stop, handle: Some(handle) }
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
