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
    // Written through events.k8s.io/v1, as upstream's scheduler does: the core view shows the
    // reporting controller, the action and the series-free event time.
    assert_eq!(ev["reportingComponent"], "default-scheduler", "{ev}");
    assert_eq!(ev["action"], "Binding", "{ev}");
    assert!(ev["reportingInstance"].as_str().is_some_and(|i| i.starts_with("default-scheduler-")), "{ev}");
    assert!(ev["eventTime"].is_string(), "{ev}");

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

fn labelled_pod(name: &str, ns: &str, app: &str, spec_extra: Value) -> Value {
    let mut p = pod(name, spec_extra);
    p["metadata"]["namespace"] = json!(ns);
    p["metadata"]["labels"] = json!({"app": app});
    p
}

fn failed_scheduling(c: &Cluster, pod: &str) -> String {
    poll(&format!("FailedScheduling for {pod}"), WAIT, || events(c, pod, "FailedScheduling").into_iter().next())
}

#[test]
fn topology_spread_keeps_zones_within_max_skew_and_needs_the_key() {
    let c = cluster();
    node(&c, "a1", "4", "8Gi", json!({"topology.kubernetes.io/zone": "a"}), json!([]));
    node(&c, "b1", "4", "8Gi", json!({"topology.kubernetes.io/zone": "b"}), json!([]));
    // One web pod already runs in zone a (placed by hand).
    create(&c, labelled_pod("w0", "default", "web", json!({"nodeName": "a1"})));
    c.api.kubectl_ok(K, &["cordon", "b1"]);
    let s = Scheduler::start(&c.api, &[]);
    let spread = |key: &str| {
        json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]})
    };
    // Zone a would hold 2 against 0: refused there; zone b is cordoned.
    create(&c, labelled_pod("w1", "default", "web", spread("topology.kubernetes.io/zone")));
    let msg = failed_scheduling(&c, "w1");
    assert!(
        msg.starts_with(
            "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable."
        ),
        "{msg}\n{}",
        s.log()
    );
    c.api.kubectl_ok(K, &["uncordon", "b1"]);
    assert_eq!(wait_bound(&c, &s, "w1"), "b1");
    // One each: the next two go one to each zone, whatever the order.
    let mut zones = std::collections::BTreeSet::new();
    for name in ["w2", "w3"] {
        create(&c, labelled_pod(name, "default", "web", spread("topology.kubernetes.io/zone")));
        zones.insert(wait_bound(&c, &s, name));
    }
    assert_eq!(zones.len(), 2, "{zones:?}");
    // A key no node has: unresolvable everywhere.
    create(&c, labelled_pod("rack", "default", "web", spread("rack")));
    assert_eq!(
        failed_scheduling(&c, "rack"),
        "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
}

#[test]
fn pod_affinity_and_anti_affinity_follow_the_pods_they_name() {
    let c = cluster();
    const ZONE: &str = "topology.kubernetes.io/zone";
    node(&c, "n1", "4", "8Gi", json!({ZONE: "a"}), json!([]));
    node(&c, "n2", "4", "8Gi", json!({ZONE: "b"}), json!([]));
    create(&c, labelled_pod("db", "default", "db", json!({"nodeName": "n2"})));
    let s = Scheduler::start(&c.api, &[]);
    let term = |app: &str| json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": ZONE});
    let affinity =
        |kind: &str, t: Value| json!({"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [t]}}});

    create(&c, labelled_pod("near", "default", "web", affinity("podAffinity", term("db"))));
    assert_eq!(wait_bound(&c, &s, "near"), "n2");
    create(&c, labelled_pod("far", "default", "web", affinity("podAntiAffinity", term("db"))));
    assert_eq!(wait_bound(&c, &s, "far"), "n1");

    // No cache pod anywhere and it is no cache pod itself: refused until one is placed.
    create(&c, labelled_pod("needs-cache", "default", "web", affinity("podAffinity", term("cache"))));
    assert_eq!(
        failed_scheduling(&c, "needs-cache"),
        "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    create(&c, labelled_pod("cache", "default", "cache", json!({"nodeName": "n1"})));
    assert_eq!(wait_bound(&c, &s, "needs-cache"), "n1");

    // A placed pod's anti-affinity keeps others out of its zone.
    let hostile = affinity("podAntiAffinity", term("batch"));
    create(
        &c,
        labelled_pod("hostile", "default", "hostile", json!({"nodeName": "n1", "affinity": hostile["affinity"]})),
    );
    create(&c, labelled_pod("batch", "default", "batch", json!({})));
    assert_eq!(wait_bound(&c, &s, "batch"), "n2");

    // namespaceSelector: the term looks in the namespaces labelled team=x.
    create(
        &c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other", "labels": {"team": "x"}}}),
    );
    create(&c, labelled_pod("remote-db", "other", "remote-db", json!({"nodeName": "n1"})));
    let mut t = term("remote-db");
    t["namespaceSelector"] = json!({"matchLabels": {"team": "x"}});
    create(&c, labelled_pod("follower", "default", "follower", affinity("podAffinity", t)));
    assert_eq!(wait_bound(&c, &s, "follower"), "n1");
}

fn cpu_pod(name: &str, app: &str, cpu: &str, extra: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]});
    spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    labelled_pod(name, "default", app, spec)
}

#[test]
fn preemption_evicts_lower_priority_pods_and_spares_pdb_protected_ones() {
    let c = cluster();
    node(&c, "n1", "2", "8Gi", json!({"kubernetes.io/hostname": "n1"}), json!([]));
    node(&c, "n2", "2", "8Gi", json!({"kubernetes.io/hostname": "n2"}), json!([]));
    for (name, value) in [("lowest", 5), ("low", 10), ("high", 1000)] {
        create(
            &c,
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value}),
        );
    }
    // One low-priority pod per node. The one on n1 would be the cheaper victim (lower priority)
    // but is guarded by a PDB that allows no disruption, which counts first.
    create(&c, cpu_pod("guarded", "guarded", "1500m", json!({"nodeName": "n1", "priorityClassName": "lowest"})));
    create(&c, cpu_pod("plain", "plain", "1500m", json!({"nodeName": "n2", "priorityClassName": "low"})));
    create(
        &c,
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "guard", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}}),
    );
    c.api.kubectl_ok(
        K,
        &[
            "patch", "pdb", "guard", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"disruptionsAllowed":0,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1,"observedGeneration":1}}"#,
        ],
    );
    let s = Scheduler::start(&c.api, &[]);
    create(&c, cpu_pod("urgent", "urgent", "1", json!({"priorityClassName": "high"})));
    // Room is made on n2: its pod is marked and deleted, the preemptor nominated there.
    let victim = poll("the victim being deleted", WAIT, || {
        get(&c, &["pod", "plain"]).filter(|p| !p["metadata"]["deletionTimestamp"].is_null())
    });
    let cond =
        victim["status"]["conditions"].as_array().unwrap().iter().find(|x| x["type"] == "DisruptionTarget").cloned();
    let cond = cond.unwrap_or_else(|| panic!("no DisruptionTarget: {victim}\n{}", s.log()));
    assert_eq!(
        (cond["status"].as_str(), cond["reason"].as_str(), cond["message"].as_str()),
        (
            Some("True"),
            Some("PreemptionByScheduler"),
            Some("default-scheduler: preempting to accommodate a higher priority pod")
        )
    );
    let urgent = poll("nominatedNodeName", WAIT, || {
        get(&c, &["pod", "urgent"]).filter(|p| p["status"]["nominatedNodeName"].is_string())
    });
    assert_eq!(urgent["status"]["nominatedNodeName"], "n2");
    assert_eq!(failed_scheduling(&c, "urgent"), "0/2 nodes are available: 2 Insufficient cpu.");
    let uid = urgent["metadata"]["uid"].as_str().unwrap().to_string();
    let preempted = poll("Preempted event", WAIT, || events(&c, "plain", "Preempted").into_iter().next());
    assert_eq!(preempted, format!("Preempted by pod {uid} on node n2"));
    let ev = &items(&c, &["events", "--field-selector", "involvedObject.name=plain,reason=Preempted"])[0];
    assert_eq!((&ev["related"]["name"], &ev["action"]), (&json!("urgent"), &json!("Preempting")), "{ev}");
    assert!(get(&c, &["pod", "guarded"]).is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null()));
    // The kubelet's part: the victim's containers stop and the pod goes.
    c.api.kubectl_ok(K, &["delete", "pod", "plain", "--grace-period=0", "--force"]);
    assert_eq!(wait_bound(&c, &s, "urgent"), "n2");

    // Nothing of lower priority on the only node that could take it: no victims there.
    create(
        &c,
        cpu_pod(
            "pinned",
            "pinned",
            "1800m",
            json!({"priorityClassName": "high", "nodeSelector": {"kubernetes.io/hostname": "n2"}}),
        ),
    );
    assert_eq!(
        failed_scheduling(&c, "pinned"),
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
    // preemptionPolicy: Never (from its PriorityClass) keeps it from evicting anyone.
    create(
        &c,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high-polite"},
            "value": 1000, "preemptionPolicy": "Never"}),
    );
    create(&c, cpu_pod("polite", "polite", "1800m", json!({"priorityClassName": "high-polite"})));
    let msg = failed_scheduling(&c, "polite");
    assert!(msg.ends_with(" preemption: not eligible due to preemptionPolicy=Never."), "{msg}");
    assert!(get(&c, &["pod", "guarded"]).is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null()));
}

/// The scheduler's `/metrics`, read with the admin client certificate.
fn metrics(c: &Cluster, s: &Scheduler) -> String {
    let cert = c.api.pki.path("admin.crt").display().to_string();
    let key = c.api.pki.path("admin.key").display().to_string();
    let (code, body) = s.curl("/metrics", &["--cert", &cert, "--key", &key]);
    assert_eq!(code, 200, "{body}");
    body
}

/// `scheduler_schedule_attempts_total{result="scheduled"}` summed over profiles.
fn scheduled_attempts(c: &Cluster, s: &Scheduler) -> u64 {
    metrics(c, s)
        .lines()
        .filter(|l| l.starts_with("scheduler_schedule_attempts_total{") && l.contains("result=\"scheduled\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn write_config(c: &Cluster, name: &str, yaml: &str) -> String {
    let path = c.api.dir.path().join(name);
    std::fs::write(&path, yaml).expect("config");
    format!("--config={}", path.display())
}

fn cpu_pod_for(name: &str, scheduler: &str) -> Value {
    cpu_pod(name, name, "1", json!({"schedulerName": scheduler}))
}

#[test]
fn profiles_a_second_scheduler_and_a_disabled_score_plugin() {
    let c = cluster();
    // "roomy" is far emptier, but its PreferNoSchedule taint outweighs that by default.
    node(&c, "roomy", "16", "32Gi", json!({}), json!([{"key": "busy", "value": "yes", "effect": "PreferNoSchedule"}]));
    node(&c, "plain", "2", "4Gi", json!({}), json!([]));
    let cfg = write_config(
        &c,
        "profiles.yaml",
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: ignore-preferences
  plugins:
    score:
      disabled:
      - name: TaintToleration
",
    );
    let s = Scheduler::start(&c.api, &[&cfg]);
    create(&c, cpu_pod_for("by-default", "default-scheduler"));
    create(&c, cpu_pod_for("by-fit", "ignore-preferences"));
    assert_eq!(wait_bound(&c, &s, "by-default"), "plain");
    // Without TaintToleration's score, LeastAllocated picks the emptier node.
    assert_eq!(wait_bound(&c, &s, "by-fit"), "roomy");
    let ev = &items(&c, &["events", "--field-selector", "involvedObject.name=by-fit,reason=Scheduled"])[0];
    assert_eq!(ev["reportingComponent"], "ignore-preferences", "{ev}");

    // A pod for a scheduler this one does not run waits for that scheduler.
    create(&c, cpu_pod_for("elsewhere", "second-scheduler"));
    create(&c, cpu_pod_for("marker", "default-scheduler"));
    wait_bound(&c, &s, "marker");
    assert_eq!(bound_node(&c, "elsewhere"), None);
    let second_cfg = write_config(
        &c,
        "second.yaml",
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: false
profiles:
- schedulerName: second-scheduler
",
    );
    let second = Scheduler::start_named(&c.api, "second-scheduler", &[&second_cfg]);
    wait_bound(&c, &second, "elsewhere");
    let ev = &items(&c, &["events", "--field-selector", "involvedObject.name=elsewhere,reason=Scheduled"])[0];
    assert_eq!(ev["reportingComponent"], "second-scheduler", "{ev}");
    assert_eq!(scheduled_attempts(&c, &second), 1);
    assert_eq!(scheduled_attempts(&c, &s), 3);
}

#[test]
fn leader_election_only_the_leader_binds_and_the_other_takes_over() {
    let c = cluster();
    node(&c, "n1", "8", "16Gi", json!({}), json!([]));
    let le = [
        "--leader-elect=true",
        "--leader-elect-lease-duration=4s",
        "--leader-elect-renew-deadline=3s",
        "--leader-elect-retry-period=1s",
    ];
    let mut a = Scheduler::start_named(&c.api, "sched-a", &le);
    let lease = poll("the lease", WAIT, || {
        get(&c, &["lease", "kube-scheduler", "-n", "kube-system"]).filter(|l| l["spec"]["holderIdentity"].is_string())
    });
    let first = lease["spec"]["holderIdentity"].as_str().unwrap().to_string();
    let b = Scheduler::start_named(&c.api, "sched-b", &le);
    for i in 0..3 {
        create(&c, cpu_pod(&format!("p{i}"), "p", "100m", json!({})));
        wait_bound(&c, &a, &format!("p{i}"));
    }
    assert_eq!(scheduled_attempts(&c, &a), 3);
    assert_eq!(scheduled_attempts(&c, &b), 0, "the follower scheduled pods");

    // The leader crashes: the other takes the lease and schedules.
    let killed_at = Instant::now();
    a.kill9();
    let lease = poll("a new holder", Duration::from_secs(20), || {
        get(&c, &["lease", "kube-scheduler", "-n", "kube-system"])
            .filter(|l| l["spec"]["holderIdentity"] != first.as_str())
    });
    assert!(killed_at.elapsed() < Duration::from_secs(4 + 1 + 3), "took {:?}", killed_at.elapsed());
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    create(&c, cpu_pod("after", "p", "100m", json!({})));
    assert_eq!(wait_bound(&c, &b, "after"), "n1");
    assert_eq!(scheduled_attempts(&c, &b), 1);
}

/// A local volume on one node, of a WaitForFirstConsumer class without a provisioner.
fn local_pv(name: &str, size: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": {
        "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
        "persistentVolumeReclaimPolicy": "Retain", "local": {"path": "/mnt/disk"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}})
}

fn claim(name: &str, size: &str, class: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
            "resources": {"requests": {"storage": size}}}})
}

fn pod_with_claim(name: &str, claim: &str) -> Value {
    pod(name, json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}))
}

#[test]
fn volume_binding_waits_for_the_first_consumer_and_binds_a_volume_on_its_node() {
    let c = cluster();
    for n in ["node-a", "node-b"] {
        node(&c, n, "4", "8Gi", json!({"kubernetes.io/hostname": n}), json!([]));
    }
    let _kcm = e2e::ControllerManager::start(
        &c.api,
        &["--controllers=persistentvolume-binder,pvc-protection,pv-protection", "--pvclaimbinder-sync-period=1s"],
    );
    create(
        &c,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}),
    );
    create(
        &c,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "now"},
            "provisioner": "example.com/none", "volumeBindingMode": "Immediate"}),
    );
    create(&c, local_pv("local-a", "5Gi", "node-a"));
    create(&c, local_pv("local-b", "1Gi", "node-b"));
    create(&c, claim("data", "2Gi", "local"));
    let s = Scheduler::start(&c.api, &[]);

    // Only node-a has a volume big enough: the pod goes there and its claim binds to it.
    create(&c, pod_with_claim("db", "data"));
    assert_eq!(wait_bound(&c, &s, "db"), "node-a");
    let pvc = get(&c, &["pvc", "data"]).expect("claim");
    assert_eq!(pvc["spec"]["volumeName"], "local-a", "{pvc}");
    assert_eq!(pvc["status"]["phase"], "Bound", "a pod is bound only once its claims are: {pvc}");
    let pv = get(&c, &["pv", "local-a"]).expect("pv");
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"], "{pv}");
    assert_eq!(get(&c, &["pv", "local-b"]).expect("pv")["status"]["phase"], "Available");

    // No volume fits anywhere: Pending with VolumeBinding's reason, until one appears.
    create(&c, claim("huge", "50Gi", "local"));
    create(&c, pod_with_claim("big", "huge"));
    assert_eq!(
        failed_scheduling(&c, "big"),
        "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    create(&c, local_pv("local-b-huge", "100Gi", "node-b"));
    assert_eq!(wait_bound(&c, &s, "big"), "node-b");
    assert_eq!(get(&c, &["pvc", "huge"]).expect("claim")["spec"]["volumeName"], "local-b-huge");

    // A claim of an Immediate class that nothing binds keeps its pod out.
    create(&c, claim("later", "1Gi", "now"));
    create(&c, pod_with_claim("imm", "later"));
    assert_eq!(
        failed_scheduling(&c, "imm"),
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    // A missing claim likewise, until it is created.
    create(&c, pod_with_claim("orphan", "missing"));
    assert_eq!(
        failed_scheduling(&c, "orphan"),
        "0/2 nodes are available: persistentvolumeclaim \"missing\" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    create(&c, claim("missing", "1Gi", "local"));
    assert_eq!(wait_bound(&c, &s, "orphan"), "node-b", "local-b is the only volume left");
    assert_eq!(bound_node(&c, "imm"), None);
}

/// A pod with explicit requests (explicit zeros count as zero, unlike missing requests).
fn sized_pod(name: &str, image: &str, cpu: &str, memory: &str, extra: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": image,
        "resources": {"requests": {"cpu": cpu, "memory": memory}}}]});
    spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

#[test]
fn host_ports_image_locality_and_balanced_allocation() {
    let c = cluster();
    for n in ["n1", "n2"] {
        node(&c, n, "4", "8Gi", json!({"kubernetes.io/hostname": n}), json!([]));
    }
    // n1 already has a big image.
    let images = json!({"status": {"images": [{"names": ["registry.example/big:1"], "sizeBytes": 1_000_000_000}]}});
    c.api.kubectl_ok(K, &["patch", "node", "n1", "--subresource=status", "--type=merge", "-p", &images.to_string()]);
    let s = Scheduler::start(&c.api, &[]);

    // ImageLocality: everything else equal, the node that has the image wins.
    create(&c, sized_pod("img", "registry.example/big:1", "0", "0", json!({})));
    assert_eq!(wait_bound(&c, &s, "img"), "n1");

    // NodePorts: a host port is taken once per node.
    let pinned = |host: Option<&str>| {
        let mut extra = json!({});
        if let Some(h) = host {
            extra["nodeSelector"] = json!({"kubernetes.io/hostname": h});
        }
        extra
    };
    let with_port = |name: &str, host: Option<&str>| {
        let mut p = sized_pod(name, "nginx", "0", "0", pinned(host));
        p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        p
    };
    create(&c, with_port("hp1", Some("n1")));
    assert_eq!(wait_bound(&c, &s, "hp1"), "n1");
    create(&c, with_port("hp2", Some("n1")));
    let msg = failed_scheduling(&c, "hp2");
    assert!(
        msg.starts_with("0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) didn't match Pod's node affinity/selector. preemption: "),
        "{msg}"
    );
    create(&c, with_port("hp3", None));
    assert_eq!(wait_bound(&c, &s, "hp3"), "n2");

    // NodeResourcesBalancedAllocation: n1 runs a cpu-heavy pod, n2 a memory-heavy one. The
    // new pod leaves both equally free on average (LeastAllocated ties), and n1 more balanced.
    // Placed through this scheduler, so that its cache counts them before the next pod.
    create(&c, sized_pod("cpu-heavy", "nginx", "2", "0", pinned(Some("n1"))));
    create(&c, sized_pod("mem-heavy", "nginx", "0", "4Gi", pinned(Some("n2"))));
    assert_eq!(wait_bound(&c, &s, "cpu-heavy"), "n1");
    assert_eq!(wait_bound(&c, &s, "mem-heavy"), "n2");
    create(&c, sized_pod("balanced", "nginx", "1", "4Gi", json!({})));
    assert_eq!(wait_bound(&c, &s, "balanced"), "n1");
}

/// Pods of `app` that have a node.
fn bound_count(c: &Cluster, app: &str) -> usize {
    items(c, &["pods", "-l", &format!("app={app}")]).iter().filter(|p| p["spec"]["nodeName"].is_string()).count()
}

/// `scheduler_pending_pods` summed over its queues.
fn pending_pods(c: &Cluster, s: &Scheduler) -> u64 {
    metrics(c, s)
        .lines()
        .filter(|l| l.starts_with("scheduler_pending_pods{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The issue's faults: a scheduler killed mid-stream and started again binds every pending
/// pod once; pods deleted while being scheduled leave nothing stuck; the scheduler survives
/// an apiserver restart.
#[test]
fn faults_a_restart_mid_stream_deleted_pods_and_an_apiserver_restart() {
    let mut c = cluster();
    node(&c, "n1", "64", "128Gi", json!({}), json!([]));
    let mut s = Scheduler::start(&c.api, &[]);
    let list = |app: &str, n: usize| {
        let items: Vec<Value> = (0..n).map(|i| cpu_pod(&format!("{app}{i}"), app, "10m", json!({}))).collect();
        json!({"apiVersion": "v1", "kind": "List", "items": items})
    };

    // Killed once the first pods are bound; the new process binds exactly the rest.
    create(&c, list("m", 60));
    poll("a first binding", WAIT, || (bound_count(&c, "m") > 0).then_some(()));
    s.kill9();
    let before = bound_count(&c, "m");
    s.restart();
    poll("all 60 bound after the restart", WAIT, || (bound_count(&c, "m") == 60).then_some(()));
    // A binding in flight at the kill may land after `before` was counted, hence at most.
    let attempts = scheduled_attempts(&c, &s) as usize;
    assert!(attempts <= 60 - before, "{attempts} bindings for {} unbound pods\n{}", 60 - before, s.log());
    let scheduled = items(&c, &["events", "--field-selector", "reason=Scheduled"]);
    let mut names: Vec<&str> = scheduled.iter().filter_map(|e| e["involvedObject"]["name"].as_str()).collect();
    assert!(scheduled.iter().all(|e| e["series"].is_null()), "a pod was scheduled twice: {scheduled:?}");
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "a pod was scheduled twice");

    // Pods deleted while they are being scheduled: bindings that find them gone are dropped.
    create(&c, list("d", 40));
    // Forced: without a kubelet, a bound pod's graceful deletion would wait for one.
    c.api.kubectl_ok(K, &["delete", "pods", "-l", "app=d", "--grace-period=0", "--force", "--wait=false"]);
    poll("the deleted pods gone", WAIT, || items(&c, &["pods", "-l", "app=d"]).is_empty().then_some(()));
    poll("nothing left pending", WAIT, || (pending_pods(&c, &s) == 0).then_some(()));

    // The apiserver restarts: the scheduler's watches resume and it keeps binding.
    c.api.restart();
    create(&c, cpu_pod("after-restart", "after", "10m", json!({})));
    assert_eq!(wait_bound(&c, &s, "after-restart"), "n1");
    // scheduler_pending_pods is refreshed once a second, so it may still count the pod just
    // after its binding is visible; it must drain to 0.
    poll("nothing pending after the restart", WAIT, || (pending_pods(&c, &s) == 0).then_some(()));
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
