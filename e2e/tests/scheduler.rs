//! kube-scheduler against the real apiserver, started as kubeadm starts it (its own
//! `system:kube-scheduler` identity). No kubelet: the tests make Node objects with capacity and
//! Ready status, and read where pods are bound.

use e2e::kwok::{get, items, K};
use e2e::{poll, Cluster, Scheduler};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn cluster() -> Cluster {
    Cluster::start_with(&["--authorization-mode=Node,RBAC"])
}

/// A Ready node with allocatable cpu/memory/pods, labels and taints. The apiserver's
/// TaintNodesByCondition gives a new node the `not-ready` NoSchedule taint; with no node
/// lifecycle controller here to lift it once the node reports Ready, the test lifts it.
fn node(c: &Cluster, name: &str, cpu: &str, memory: &str, labels: Value, taints: Value) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let res = json!({"cpu": cpu, "memory": memory, "pods": "110"});
    let n = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"capacity": res, "allocatable": res, "conditions": [{"type": "Ready", "status": "True",
            "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&n.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.kubectl_ok(K, &["taint", "node", name, "node.kubernetes.io/not-ready:NoSchedule-"]);
}

fn create(c: &Cluster, obj: Value) {
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&obj.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn pod(name: &str, spec_extra: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
    spec.as_object_mut().unwrap().extend(spec_extra.as_object().cloned().unwrap_or_default());
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn bound_node(c: &Cluster, name: &str) -> Option<String> {
    get(c, &["pod", name]).and_then(|p| p["spec"]["nodeName"].as_str().map(String::from))
}

fn wait_bound(c: &Cluster, s: &Scheduler, name: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(n) = bound_node(c, name) {
            return n;
        }
        assert!(Instant::now() < deadline, "{name} never bound\n{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The messages of the pod's events with `reason`.
fn events(c: &Cluster, pod: &str, reason: &str) -> Vec<String> {
    items(c, &["events", "--field-selector", &format!("involvedObject.name={pod},reason={reason}")])
        .iter()
        .filter_map(|e| e["message"].as_str().map(String::from))
        .collect()
}

#[test]
fn seed_004_pending_until_a_scheduler_binds_and_a_hand_made_binding_binds_too() {
    let c = cluster();
    node(&c, "node-1", "4", "8Gi", json!({}), json!([]));
    create(&c, pod("web", json!({})));
    // Without a scheduler nothing binds it: still Pending, no node, a second later.
    let seen_at = Instant::now();
    while seen_at.elapsed() < Duration::from_secs(1) {
        let p = get(&c, &["pod", "web"]).expect("pod");
        assert!(p["spec"]["nodeName"].is_null(), "{p}");
        assert_eq!(p["status"]["phase"], "Pending");
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = Scheduler::start(&c.api, &[]);
    assert_eq!(wait_bound(&c, &s, "web"), "node-1");
    let p = get(&c, &["pod", "web"]).expect("pod");
    let cond =
        p["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|x| x["type"] == "PodScheduled").cloned());
    assert_eq!(cond.expect("PodScheduled")["status"], "True", "{p}");
    let msgs = poll("Scheduled event", WAIT, || Some(events(&c, "web", "Scheduled")).filter(|m| !m.is_empty()));
    assert_eq!(msgs, ["Successfully assigned default/web to node-1"]);
    let ev = &items(&c, &["events", "--field-selector", "involvedObject.name=web,reason=Scheduled"])[0];
    assert_eq!(ev["source"]["component"], "default-scheduler", "{ev}");

    // A pod for another scheduler is left alone; a Binding made by hand binds it.
    create(&c, pod("manual", json!({"schedulerName": "my-scheduler"})));
    create(&c, pod("after", json!({})));
    wait_bound(&c, &s, "after");
    assert_eq!(bound_node(&c, "manual"), None);
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "manual"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
    create(&c, binding);
    assert_eq!(bound_node(&c, "manual").as_deref(), Some("node-1"));
}

#[test]
fn a_pod_no_node_takes_says_why_and_is_placed_once_a_node_changes() {
    let c = cluster();
    node(
        &c,
        "tainted",
        "4",
        "8Gi",
        json!({"disk": "hdd"}),
        json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]),
    );
    node(&c, "plain", "4", "8Gi", json!({"disk": "hdd"}), json!([]));
    let s = Scheduler::start(&c.api, &[]);
    create(&c, pod("ssd", json!({"nodeSelector": {"disk": "ssd"}})));
    let want = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: x}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    let msgs = poll("FailedScheduling", WAIT, || Some(events(&c, "ssd", "FailedScheduling")).filter(|m| !m.is_empty()));
    assert_eq!(msgs[0], want, "{}", s.log());
    let cond = poll("PodScheduled=False", WAIT, || {
        get(&c, &["pod", "ssd"]).and_then(|p| {
            p["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|x| x["type"] == "PodScheduled").cloned())
        })
    });
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str(), cond["message"].as_str()),
        (Some("False"), Some("Unschedulable"), Some(want))
    );
    // The node update is the event that brings it back: labelled ssd, it takes the pod.
    c.api.kubectl_ok(K, &["label", "node", "plain", "disk=ssd", "--overwrite"]);
    assert_eq!(wait_bound(&c, &s, "ssd"), "plain");

    // Resource fit: upstream's reasons, and placement once capacity frees up.
    create(
        &c,
        pod(
            "big",
            json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}]}),
        ),
    );
    let on = wait_bound(&c, &s, "big");
    create(
        &c,
        pod(
            "bigger",
            json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}],
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "2", "memory": "9Gi"}}}]}),
        ),
    );
    let msgs = poll("FailedScheduling for bigger", WAIT, || {
        Some(events(&c, "bigger", "FailedScheduling")).filter(|m| !m.is_empty())
    });
    assert!(
        msgs[0].starts_with("0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."),
        "{msgs:?} ({on})"
    );
}

#[test]
fn cordoned_and_tainted_nodes_are_avoided_and_load_is_spread() {
    let c = cluster();
    node(&c, "a", "2", "4Gi", json!({}), json!([]));
    node(&c, "b", "2", "4Gi", json!({}), json!([]));
    node(&c, "cordoned", "8", "16Gi", json!({}), json!([]));
    c.api.kubectl_ok(K, &["cordon", "cordoned"]);
    let s = Scheduler::start(&c.api, &[]);
    // LeastAllocated with equal requests alternates between the two open nodes.
    let mut on = std::collections::BTreeMap::new();
    for i in 0..4 {
        let name = format!("p{i}");
        create(
            &c,
            pod(
                &name,
                json!({"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]}),
            ),
        );
        *on.entry(wait_bound(&c, &s, &name)).or_insert(0) += 1;
    }
    assert_eq!(on.get("a"), Some(&2), "{on:?}");
    assert_eq!(on.get("b"), Some(&2), "{on:?}");
    // nodeName pods need no scheduler; an uncordon makes the cordoned node usable again.
    c.api.kubectl_ok(K, &["uncordon", "cordoned"]);
    create(
        &c,
        pod("huge", json!({"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "6"}}}]})),
    );
    assert_eq!(wait_bound(&c, &s, "huge"), "cordoned");
}
