//! The DaemonSet and StatefulSet controllers against the real apiserver, with the fake kubelet
//! of `e2e::kwok` (or, where the order of readiness matters, pods made ready one step at a time).
//! The controller-manager runs these two with the garbage collector, the service-account
//! controller (pods need their namespace's default service account) and the node lifecycle
//! controller (it lifts the `node.kubernetes.io/not-ready:NoSchedule` taint new nodes get, which
//! daemon pods do not tolerate).

use e2e::kwok::{self, apply, get, items, live, name, FakeKubelet, K};
use e2e::{poll, Cluster, ControllerManager};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const LONG: Duration = Duration::from_secs(90);

fn cluster() -> Cluster {
    Cluster::start_with(&["--enable-admission-plugins=NodeRestriction", "--authorization-mode=Node,RBAC"])
}

/// The controller-manager, whose log a failing test prints.
struct Kcm<'a>(ControllerManager, &'a Cluster);

impl Drop for Kcm<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let state = self.1.api.kubectl(K, &["get", "nodes,ds,sts,pods,controllerrevisions", "-A", "-o", "yaml"]);
            eprintln!("state:\n{}", String::from_utf8_lossy(&state.stdout));
            eprintln!("kube-controller-manager log:\n{}", self.0.log());
        }
    }
}

fn controller_manager(c: &Cluster) -> Kcm<'_> {
    let kcm = ControllerManager::start(
        &c.api,
        &[
            "--controllers=daemonset,statefulset,garbagecollector,serviceaccount,nodelifecycle",
            "--use-service-account-credentials",
        ],
    );
    poll("default service account", WAIT, || get(c, &["sa", "default", "-n", "default"]));
    Kcm(kcm, c)
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn node_of(p: &Value) -> String {
    p["spec"]["nodeName"].as_str().unwrap_or_default().to_string()
}

fn label(o: &Value, key: &str) -> String {
    o["metadata"]["labels"][key].as_str().unwrap_or_default().to_string()
}

/// The live pods of the DaemonSet `agent`, by node, once each is bound and ready.
fn agent_nodes(c: &Cluster) -> Option<Vec<String>> {
    let pods = live(&kwok::pods(c, "default", "app=agent"));
    if !pods.iter().all(|p| ready(p) && !node_of(p).is_empty()) {
        return None;
    }
    let mut nodes: Vec<String> = pods.iter().map(node_of).collect();
    nodes.sort();
    Some(nodes)
}

/// The DaemonSet's status once it has caught up with its spec.
fn ds_settled(c: &Cluster, desired: i64) -> Option<Value> {
    let ds = get(c, &["ds", "agent"])?;
    let st = &ds["status"];
    (st["observedGeneration"] == ds["metadata"]["generation"]
        && st["desiredNumberScheduled"] == desired
        && st["currentNumberScheduled"] == desired
        && st["updatedNumberScheduled"] == desired
        && st["numberAvailable"] == desired
        && st["numberReady"] == desired
        && st["numberMisscheduled"] == 0)
        .then_some(ds)
}

const DS: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox
"#;

#[test]
fn daemon_sets_run_one_pod_per_eligible_node_and_roll_out_history_and_undo() {
    let c = cluster();
    let kcm = controller_manager(&c);
    let _kubelet = FakeKubelet::start_on(&c, "default", &["n1", "n2", "n3"]);
    c.api.kubectl_ok(K, &["taint", "node", "n3", "dedicated=infra:NoSchedule"]);

    // Three nodes, one tainted NoSchedule: two pods, one on each other node.
    apply(&c, DS);
    poll("two daemon pods", WAIT, || agent_nodes(&c).filter(|n| n == &["n1", "n2"]));
    let ds = poll("status of two", WAIT, || ds_settled(&c, 2));
    assert_eq!(ds["status"]["numberUnavailable"].as_i64().unwrap_or(0), 0, "{ds}");
    for p in live(&kwok::pods(&c, "default", "app=agent")) {
        // Pinned by affinity (the scheduler, here the fake kubelet, binds), labelled, tolerant.
        assert_eq!(kwok::affinity_node(&p), Some(node_of(&p)), "{p}");
        assert!(!label(&p, "controller-revision-hash").is_empty(), "{p}");
        assert_eq!(label(&p, "pod-template-generation"), "1", "{p}");
        let tols = p["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
        let not_ready = tols.iter().find(|t| t["key"] == "node.kubernetes.io/not-ready").expect("toleration");
        assert!(not_ready["effect"] == "NoExecute" && not_ready["tolerationSeconds"].is_null(), "{p}");
        assert!(tols.iter().any(|t| t["key"] == "node.kubernetes.io/unschedulable" && t["effect"] == "NoSchedule"));
        assert!(kwok::owned_by(&p, ds["metadata"]["uid"].as_str().unwrap_or_default()));
    }
    let out = c.api.kubectl_ok(K, &["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=agent"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("Created pod: agent-"), "{events}");

    // Tolerating the taint: the third node gets its pod (and the others are rolled).
    let tolerate = r#"[{"op":"add","path":"/spec/template/spec/tolerations","value":[{"key":"dedicated","operator":"Exists","effect":"NoSchedule"}]}]"#;
    c.api.kubectl_ok(K, &["patch", "ds", "agent", "--type=json", "-p", tolerate]);
    poll("three daemon pods", LONG, || {
        ds_settled(&c, 3)?;
        agent_nodes(&c).filter(|n| n == &["n1", "n2", "n3"])
    });

    // A nodeSelector: only the labelled node; relabelling moves the pod.
    c.api.kubectl_ok(K, &["label", "node", "n2", "disk=ssd"]);
    let select = r#"{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}"#;
    c.api.kubectl_ok(K, &["patch", "ds", "agent", "-p", select]);
    poll("the pod on n2 only", LONG, || {
        ds_settled(&c, 1)?;
        agent_nodes(&c).filter(|n| n == &["n2"])
    });
    c.api.kubectl_ok(K, &["label", "node", "n2", "disk-"]);
    c.api.kubectl_ok(K, &["label", "node", "n1", "disk=ssd"]);
    poll("the pod moved to n1", LONG, || {
        ds_settled(&c, 1)?;
        agent_nodes(&c).filter(|n| n == &["n1"])
    });
    let unselect = r#"[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]"#;
    c.api.kubectl_ok(K, &["patch", "ds", "agent", "--type=json", "-p", unselect]);
    poll("three daemon pods again", LONG, || {
        ds_settled(&c, 3)?;
        agent_nodes(&c).filter(|n| n.len() == 3)
    });

    // A new image rolls node by node: never more than maxUnavailable (1) node without a ready pod.
    let old_hash = label(&live(&kwok::pods(&c, "default", "app=agent"))[0], "controller-revision-hash");
    c.api.kubectl_ok(K, &["set", "image", "ds/agent", "agent=busybox:1.36"]);
    let mut min_ready = usize::MAX;
    let new_hash = poll("the rolling update", LONG, || {
        let pods = live(&kwok::pods(&c, "default", "app=agent"));
        let mut ready_nodes: Vec<String> = pods.iter().filter(|p| ready(p)).map(node_of).collect();
        ready_nodes.sort();
        ready_nodes.dedup();
        min_ready = min_ready.min(ready_nodes.len());
        ds_settled(&c, 3)?;
        let hashes: Vec<String> = pods.iter().map(|p| label(p, "controller-revision-hash")).collect();
        (pods.len() == 3 && hashes.iter().all(|h| *h == hashes[0] && *h != old_hash)).then(|| hashes[0].clone())
    });
    assert!(min_ready >= 2, "{min_ready} nodes had a ready pod during the update");
    let out = c.api.kubectl_ok(K, &["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");

    // Each template is a ControllerRevision named <ds>-<hash> holding the template patch.
    let revs = items(&c, &["controllerrevisions", "-l", "app=agent"]);
    let cur = revs.iter().find(|r| label(r, "controller-revision-hash") == new_hash).expect("current revision");
    assert_eq!(name(cur), format!("agent-{new_hash}"));
    assert_eq!(cur["data"]["spec"]["template"]["$patch"], "replace", "{cur}");
    assert_eq!(cur["data"]["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:1.36");
    let max_rev = revs.iter().filter_map(|r| r["revision"].as_i64()).max().unwrap_or(0);
    assert_eq!(cur["revision"].as_i64(), Some(max_rev), "{revs:?}");
    let history = c.api.kubectl_ok(K, &["rollout", "history", "ds/agent"]);
    assert!(history.contains("REVISION") && history.contains(&max_rev.to_string()), "{history}");

    // Undo: back to the previous template and its pods.
    c.api.kubectl_ok(K, &["rollout", "undo", "ds/agent"]);
    poll("the undone rollout", LONG, || {
        let ds = ds_settled(&c, 3)?;
        let pods = live(&kwok::pods(&c, "default", "app=agent"));
        (ds["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
            && pods.len() == 3
            && pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "busybox"))
        .then_some(())
    });
    let out = c.api.kubectl_ok(K, &["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}\n{}", kcm.0.log());
}

fn pod(c: &Cluster, ns: &str, name: &str) -> Option<Value> {
    get(c, &["pod", name, "-n", ns])
}

fn pod_names(c: &Cluster, ns: &str, selector: &str) -> Vec<String> {
    let mut v: Vec<String> = kwok::pods(c, ns, selector).iter().map(name).collect();
    v.sort();
    v
}

fn terminating(p: &Value) -> bool {
    !p["metadata"]["deletionTimestamp"].is_null()
}

const STS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"#;

#[test]
fn stateful_sets_create_in_order_with_claims_and_scale_down_from_the_top() {
    let c = cluster();
    let kcm = controller_manager(&c);
    apply(&c, STS);

    // Pod 0 first, its claim before it; pod 1 waits until pod 0 is ready.
    for i in 0..3 {
        let p = poll(&format!("pod web-{i}"), WAIT, || pod(&c, "default", &format!("web-{i}")));
        let claim = get(&c, &["pvc", &format!("data-web-{i}")]).expect("the claim exists before its pod");
        assert_eq!(label(&claim, "app"), "web", "{claim}");
        assert_eq!(label(&p, "statefulset.kubernetes.io/pod-name"), format!("web-{i}"));
        assert_eq!(label(&p, "apps.kubernetes.io/pod-index"), i.to_string());
        assert!(!label(&p, "controller-revision-hash").is_empty(), "{p}");
        assert_eq!(p["spec"]["hostname"], format!("web-{i}"));
        assert_eq!(p["spec"]["subdomain"], "web");
        let vols = p["spec"]["volumes"].as_array().cloned().unwrap_or_default();
        assert!(vols
            .iter()
            .any(|v| v["name"] == "data" && v["persistentVolumeClaim"]["claimName"] == format!("data-web-{i}")));
        poll("the status to count the pod", WAIT, || {
            get(&c, &["sts", "web"]).filter(|s| s["status"]["replicas"] == i + 1)
        });
        // Not ready yet: the next ordinal must not appear.
        std::thread::sleep(Duration::from_millis(1000));
        let expected: Vec<String> = (0..=i).map(|j| format!("web-{j}")).collect();
        assert_eq!(pod_names(&c, "default", "app=web"), expected, "{}", kcm.0.log());
        kwok::ready_once(&c, "default", "app=web", "n1");
    }
    let sts = poll("three ready", WAIT, || {
        get(&c, &["sts", "web"]).filter(|s| s["status"]["readyReplicas"] == 3 && s["status"]["availableReplicas"] == 3)
    });
    assert_eq!(sts["status"]["currentRevision"], sts["status"]["updateRevision"], "{sts}");
    assert_eq!(sts["status"]["updatedReplicas"], 3, "{sts}");
    let out = c.api.kubectl_ok(K, &["rollout", "status", "sts/web", "--timeout=60s"]);
    // kubectl words every set with a rollingUpdate block (defaulted) as partitioned.
    assert!(out.contains("roll out complete: 3 new pods have been updated"), "{out}");
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=web"]);
    assert!(events.contains("create Pod web-0 in StatefulSet web successful"), "{events}");
    assert!(events.contains("create Claim data-web-0 Pod web-0 in StatefulSet web success"), "{events}");

    // Scale to 1: web-2 goes first, web-1 only once web-2 is gone.
    c.api.kubectl_ok(K, &["scale", "sts", "web", "--replicas=1"]);
    poll("web-2 terminating", WAIT, || pod(&c, "default", "web-2").filter(terminating));
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!terminating(&pod(&c, "default", "web-1").expect("web-1")), "web-1 went before web-2 was gone");
    c.api.kubectl_ok(K, &["delete", "pod", "web-2", "--grace-period=0", "--force"]);
    poll("web-1 terminating", WAIT, || pod(&c, "default", "web-1").filter(terminating));
    assert!(!terminating(&pod(&c, "default", "web-0").expect("web-0")));
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=web"]);
    assert!(events.contains("delete Pod web-2 in StatefulSet web successful"), "{events}");
    c.api.kubectl_ok(K, &["delete", "pod", "web-1", "--grace-period=0", "--force"]);
    poll("one replica", WAIT, || get(&c, &["sts", "web"]).filter(|s| s["status"]["replicas"] == 1));
    assert_eq!(pod_names(&c, "default", "app=web"), ["web-0"]);
    // The default retention policy keeps the claims.
    for i in 0..3 {
        assert!(get(&c, &["pvc", &format!("data-web-{i}")]).is_some(), "data-web-{i}");
    }
}

const DB: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: roll
spec:
  serviceName: db
  replicas: 3
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 1}
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: nginx
"#;

#[test]
fn stateful_set_rolling_updates_respect_the_partition_from_the_top() {
    let c = cluster();
    let _kcm = controller_manager(&c);
    c.api.kubectl_ok(K, &["create", "ns", "roll"]);
    poll("default service account in roll", WAIT, || get(&c, &["sa", "default", "-n", "roll"]));
    let _kubelet = FakeKubelet::start_on(&c, "roll", &["n1"]);
    apply(&c, DB);
    let sts = poll("three ready", LONG, || {
        get(&c, &["sts", "db", "-n", "roll"]).filter(|s| s["status"]["readyReplicas"] == 3)
    });
    let first = sts["status"]["currentRevision"].as_str().expect("revision").to_string();
    let out = c.api.kubectl_ok(K, &["-n", "roll", "rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(out.contains("roll out complete"), "{out}");

    // A new image: ordinals 2 then 1 move to the update revision, 0 (below the partition) stays.
    c.api.kubectl_ok(K, &["-n", "roll", "set", "image", "sts/db", "db=nginx:1.25"]);
    let rev = |p: &str| pod(&c, "roll", p).map(|p| label(&p, "controller-revision-hash")).unwrap_or_default();
    let mut one_before_two = false;
    let sts = poll("the partitioned update", LONG, || {
        let s = get(&c, &["sts", "db", "-n", "roll"])?;
        let update = s["status"]["updateRevision"].as_str()?.to_string();
        let (r1, r2) = (rev("db-1"), rev("db-2"));
        // Only once the status names the new revision: before that the controller may
        // already have deleted db-2 while the status still holds the old one.
        one_before_two |= update != first && r1 == update && r2 != update;
        (update != first
            && r2 == update
            && r1 == update
            && s["status"]["updatedReplicas"] == 2
            && s["status"]["readyReplicas"] == 3)
            .then_some(s)
    });
    assert!(!one_before_two, "db-1 was updated before db-2");
    assert_eq!(rev("db-0"), first);
    assert_eq!(sts["status"]["currentRevision"], first.as_str(), "{sts}");
    let out = c.api.kubectl_ok(K, &["-n", "roll", "rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(out.contains("partitioned roll out complete: 2 new pods have been updated"), "{out}");

    // The revisions: <set>-<hash>, labelled with the hash, holding the template patch.
    let update = sts["status"]["updateRevision"].as_str().unwrap_or_default().to_string();
    let cr = get(&c, &["controllerrevision", &update, "-n", "roll"]).expect("update revision");
    assert_eq!(update, format!("db-{}", label(&cr, "controller.kubernetes.io/hash")));
    assert_eq!(cr["revision"], 2);
    assert_eq!(cr["data"]["spec"]["template"]["$patch"], "replace");

    // Partition 0: the last pod follows and the update revision becomes current.
    c.api.kubectl_ok(
        K,
        &["-n", "roll", "patch", "sts", "db", "-p", r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#],
    );
    poll("the complete update", LONG, || {
        let s = get(&c, &["sts", "db", "-n", "roll"])?;
        (rev("db-0") == update
            && s["status"]["currentRevision"] == update.as_str()
            && s["status"]["updatedReplicas"] == 3
            && s["status"]["readyReplicas"] == 3)
            .then_some(())
    });
    let out = c.api.kubectl_ok(K, &["-n", "roll", "rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(out.contains("partitioned roll out complete: 3 new pods have been updated"), "{out}");
    let history = c.api.kubectl_ok(K, &["-n", "roll", "rollout", "history", "sts/db"]);
    assert!(history.contains("REVISION") && history.contains('1') && history.contains('2'), "{history}");
}
