//! The persistent volume controllers of kube-controller-manager against the real apiserver:
//! static binding (smallest fit, pre-binding on either side), reclaim by policy, delayed
//! binding for WaitForFirstConsumer classes, external provisioners, and the protection
//! finalizers that keep claims and volumes while they are in use.

use e2e::kwok::{apply, ensure_node_with, get, items, FakeKubelet, K};
use e2e::{poll, Cluster, ControllerManager};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const NS: &str = "vol";

fn cluster() -> Cluster {
    Cluster::start_with(&["--enable-admission-plugins=NodeRestriction", "--authorization-mode=Node,RBAC"])
}

fn controller_manager(c: &Cluster) -> ControllerManager {
    ControllerManager::start(
        &c.api,
        &[
            "--controllers=persistentvolume-binder,pvc-protection,pv-protection,serviceaccount",
            "--pvclaimbinder-sync-period=1s",
        ],
    )
}

/// A ReadWriteOnce hostPath volume of `size` kept on release, with `extra` merged into its
/// spec (a null removes a field).
fn pv(name: &str, size: &str, extra: Value) -> String {
    let mut spec = json!({"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": format!("/data/{name}")}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                s.remove(k);
            } else {
                s.insert(k.clone(), v.clone());
            }
        }
    }
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}).to_string()
}

fn pvc(name: &str, size: &str, extra: Value) -> String {
    let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                s.remove(k);
            } else {
                s.insert(k.clone(), v.clone());
            }
        }
    }
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
        "spec": spec})
    .to_string()
}

fn claim(c: &Cluster, name: &str) -> Option<Value> {
    get(c, &["pvc", name, "-n", NS])
}

fn volume(c: &Cluster, name: &str) -> Option<Value> {
    get(c, &["pv", name])
}

/// The events about `object` in `ns` (cluster-scoped objects' events are in `default`).
fn events(c: &Cluster, ns: &str, object: &str) -> Vec<Value> {
    items(c, &["events", "-n", ns, "--field-selector", &format!("involvedObject.name={object}")])
}

fn wait_event(c: &Cluster, ns: &str, object: &str, reason: &str) -> Value {
    poll(&format!("event {reason} on {object}"), WAIT, || {
        events(c, ns, object).into_iter().find(|e| e["reason"] == reason)
    })
}

fn wait_claim_bound(c: &Cluster, name: &str) -> Value {
    poll(&format!("claim {name} Bound"), WAIT, || claim(c, name).filter(|p| p["status"]["phase"] == "Bound"))
}

fn wait_volume_phase(c: &Cluster, name: &str, phase: &str) -> Value {
    poll(&format!("volume {name} {phase}"), WAIT, || volume(c, name).filter(|v| v["status"]["phase"] == phase))
}

#[test]
fn claims_bind_to_the_smallest_fitting_volume_and_volumes_are_reclaimed_by_policy() {
    let c = cluster();
    let kcm = controller_manager(&c);
    c.api.kubectl_ok(K, &["create", "ns", NS]);
    for (name, size) in [("pv-1g", "1Gi"), ("pv-5g", "5Gi"), ("pv-10g", "10Gi")] {
        apply(&c, &pv(name, size, json!({})));
    }
    let avail = wait_volume_phase(&c, "pv-1g", "Available");
    assert!(avail["status"]["lastPhaseTransitionTime"].is_string(), "{avail}");
    assert_eq!(avail["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]), "{avail}");

    // The smallest of the three that holds 3Gi.
    apply(&c, &pvc("data", "3Gi", json!({})));
    let bound = wait_claim_bound(&c, "data");
    assert_eq!(bound["spec"]["volumeName"], "pv-5g", "{bound}");
    assert_eq!(bound["status"]["capacity"]["storage"], "5Gi", "{bound}");
    assert_eq!(bound["status"]["accessModes"], json!(["ReadWriteOnce"]), "{bound}");
    let anns = &bound["metadata"]["annotations"];
    assert_eq!(anns["pv.kubernetes.io/bind-completed"], "yes", "{bound}");
    assert_eq!(anns["pv.kubernetes.io/bound-by-controller"], "yes", "{bound}");
    assert_eq!(bound["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]), "{bound}");
    let v = wait_volume_phase(&c, "pv-5g", "Bound");
    let r = &v["spec"]["claimRef"];
    assert_eq!(
        (r["kind"].as_str(), r["namespace"].as_str(), r["name"].as_str()),
        (Some("PersistentVolumeClaim"), Some(NS), Some("data"))
    );
    assert_eq!(r["uid"], bound["metadata"]["uid"], "{v}");
    assert_eq!(v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes", "{v}");
    assert!(v["status"]["lastPhaseTransitionTime"].is_string(), "{v}");

    // kubectl's columns.
    let out = c.api.kubectl_ok(K, &["get", "pvc", "data", "-n", NS]);
    let row: Vec<&str> = out.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(&row[..4], &["data", "Bound", "pv-5g", "5Gi"], "{out}");
    let out = c.api.kubectl_ok(K, &["get", "pv", "pv-5g"]);
    assert!(out.lines().nth(1).is_some_and(|l| l.contains("Bound") && l.contains("vol/data")), "{out}");
    let out = c.api.kubectl_ok(K, &["get", "pv", "pv-1g"]);
    assert!(out.lines().nth(1).is_some_and(|l| l.contains("Available")), "{out}");

    // Too large for any volume: Pending, and the event says why.
    apply(&c, &pvc("huge", "20Gi", json!({})));
    let ev = wait_event(&c, NS, "huge", "FailedBinding");
    assert_eq!(ev["type"], "Normal");
    assert_eq!(ev["message"], "no persistent volumes available for this claim and no storage class is set");
    assert_eq!(ev["source"]["component"], "persistentvolume-controller", "{ev}");
    let huge = claim(&c, "huge").expect("huge");
    assert_eq!(huge["status"]["phase"], "Pending", "{huge}");
    assert!(huge["spec"]["volumeName"].is_null(), "{huge}");

    // A claim naming its volume gets that one, though a smaller one fits.
    apply(&c, &pvc("named", "1Gi", json!({"volumeName": "pv-10g"})));
    let named = wait_claim_bound(&c, "named");
    assert_eq!(named["spec"]["volumeName"], "pv-10g");
    assert_eq!(named["status"]["capacity"]["storage"], "10Gi");
    assert!(named["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"].is_null(), "{named}");
    assert_eq!(named["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes", "{named}");

    // A volume reserved for a claim by its claimRef goes to that claim only.
    apply(&c, &pv("pv-reserved", "2Gi", json!({"claimRef": {"namespace": NS, "name": "reserved"}})));
    wait_volume_phase(&c, "pv-reserved", "Available");
    apply(&c, &pvc("reserved", "1Gi", json!({})));
    let reserved = wait_claim_bound(&c, "reserved");
    assert_eq!(reserved["spec"]["volumeName"], "pv-reserved", "{reserved}");
    let v = wait_volume_phase(&c, "pv-reserved", "Bound");
    assert_eq!(v["spec"]["claimRef"]["uid"], reserved["metadata"]["uid"], "{v}");
    assert!(v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"].is_null(), "{v}");
    // The 1Gi volume is still free for the next claim.
    assert_eq!(volume(&c, "pv-1g").expect("pv-1g")["status"]["phase"], "Available");

    // Retain: the claim goes (no pod holds it), the volume stays Released with its claimRef.
    let before = volume(&c, "pv-5g").expect("pv-5g")["status"]["lastPhaseTransitionTime"].clone();
    c.api.kubectl_ok(K, &["delete", "pvc", "data", "-n", NS, "--wait=false"]);
    poll("claim data gone", WAIT, || claim(&c, "data").is_none().then_some(()));
    let released = wait_volume_phase(&c, "pv-5g", "Released");
    assert_eq!(released["spec"]["claimRef"]["name"], "data", "{released}");
    assert!(released["status"]["lastPhaseTransitionTime"].is_string(), "{released} {before}");
    // A Released volume is not bound again.
    apply(&c, &pvc("later", "4Gi", json!({})));
    wait_event(&c, NS, "later", "FailedBinding");
    assert_eq!(volume(&c, "pv-5g").expect("pv-5g")["status"]["phase"], "Released");

    // Delete, with the hostPath deleter: outside /tmp it fails and the volume is Failed...
    apply(&c, &pv("pv-del", "1Gi", json!({"persistentVolumeReclaimPolicy": "Delete", "storageClassName": "gone"})));
    apply(&c, &pvc("del", "1Gi", json!({"volumeName": "pv-del", "storageClassName": "gone"})));
    wait_claim_bound(&c, "del");
    c.api.kubectl_ok(K, &["delete", "pvc", "del", "-n", NS, "--wait=false"]);
    let failed = wait_volume_phase(&c, "pv-del", "Failed");
    let msg = "host_path deleter only supports /tmp/.+ but received provided /data/pv-del";
    assert_eq!(failed["status"]["message"], msg, "{failed}");
    let ev = wait_event(&c, "default", "pv-del", "VolumeFailedDelete");
    assert_eq!((ev["type"].as_str(), ev["message"].as_str()), (Some("Warning"), Some(msg)), "{ev}");
    // ...under /tmp the directory and the volume go.
    let dir = tempfile::Builder::new().prefix("pv-e2e-").tempdir_in("/tmp").expect("tempdir");
    std::fs::write(dir.path().join("data"), "x").expect("write");
    let path = dir.path().display().to_string();
    apply(
        &c,
        &pv(
            "pv-tmp",
            "1Gi",
            json!({"persistentVolumeReclaimPolicy": "Delete", "storageClassName": "tmp", "hostPath": {"path": path}}),
        ),
    );
    apply(&c, &pvc("tmp", "1Gi", json!({"storageClassName": "tmp"})));
    assert_eq!(wait_claim_bound(&c, "tmp")["spec"]["volumeName"], "pv-tmp");
    c.api.kubectl_ok(K, &["delete", "pvc", "tmp", "-n", NS, "--wait=false"]);
    poll("volume pv-tmp deleted", WAIT, || volume(&c, "pv-tmp").is_none().then_some(()));
    assert!(!dir.path().exists(), "{}", kcm.log());
}

#[test]
fn wait_for_first_consumer_claims_bind_what_the_scheduler_pre_bound() {
    let c = cluster();
    let _kcm = controller_manager(&c);
    c.api.kubectl_ok(K, &["create", "ns", NS]);
    for n in ["node-a", "node-b"] {
        ensure_node_with(&c, n, json!({"kubernetes.io/hostname": n}), json!([]));
    }
    apply(
        &c,
        r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}"#,
    );
    for n in ["node-a", "node-b"] {
        let affinity = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [n]}]}]}});
        let spec = json!({"storageClassName": "local", "local": {"path": "/mnt/disk"}, "hostPath": null,
            "nodeAffinity": affinity});
        apply(&c, &pv(&format!("local-{n}"), "1Gi", spec));
    }
    apply(&c, &pvc("wait", "1Gi", json!({"storageClassName": "local"})));
    let ev = wait_event(&c, NS, "wait", "WaitForFirstConsumer");
    assert_eq!(ev["message"], "waiting for first consumer to be created before binding", "{ev}");
    // Still waiting after further syncs.
    poll("repeated WaitForFirstConsumer", WAIT, || {
        events(&c, NS, "wait")
            .into_iter()
            .find(|e| e["reason"] == "WaitForFirstConsumer" && e["count"].as_i64() >= Some(2))
    });
    let waiting = claim(&c, "wait").expect("claim");
    assert_eq!(waiting["status"]["phase"], "Pending", "{waiting}");
    assert!(waiting["spec"]["volumeName"].is_null(), "{waiting}");
    assert_eq!(volume(&c, "local-node-a").expect("pv")["status"]["phase"], "Available");

    // kube-scheduler's VolumeBinding pre-binds the volume on the chosen node (its claimRef
    // with the claim's uid); the controller completes that binding and no other.
    let uid = claim(&c, "wait").expect("claim")["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let prebind = json!({"spec": {"claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "namespace": NS, "name": "wait", "uid": uid}}, "metadata": {"annotations": {
        "pv.kubernetes.io/bound-by-controller": "yes"}}});
    c.api.kubectl_ok(K, &["patch", "pv", "local-node-b", "--type=merge", "-p", &prebind.to_string()]);
    let bound = wait_claim_bound(&c, "wait");
    assert_eq!(bound["spec"]["volumeName"], "local-node-b", "{bound}");
    assert_eq!(bound["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes", "{bound}");
    assert_eq!(volume(&c, "local-node-a").expect("pv")["status"]["phase"], "Available");

    // A selected node without a pre-bound volume asks the class's provisioner, which
    // kube-controller-manager does not have (the static volume on node-a is not taken).
    apply(&c, &pvc("wait2", "1Gi", json!({"storageClassName": "local"})));
    wait_event(&c, NS, "wait2", "WaitForFirstConsumer");
    c.api.kubectl_ok(K, &["annotate", "pvc", "wait2", "-n", NS, "volume.kubernetes.io/selected-node=node-a"]);
    let ev = wait_event(&c, NS, "wait2", "ProvisioningFailed");
    assert_eq!(ev["message"], "no volume plugin matched name: kubernetes.io/no-provisioner", "{ev}");
    assert_eq!(claim(&c, "wait2").expect("claim")["status"]["phase"], "Pending");
    assert_eq!(volume(&c, "local-node-a").expect("pv")["status"]["phase"], "Available");

    // An external provisioner is asked through the claim's annotations.
    apply(
        &c,
        r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "ext"},
            "provisioner": "example.com/ext"}"#,
    );
    apply(&c, &pvc("ext", "1Gi", json!({"storageClassName": "ext"})));
    let ev = wait_event(&c, NS, "ext", "ExternalProvisioning");
    assert!(ev["message"].as_str().unwrap_or("").starts_with(
        "Waiting for a volume to be created either by the external provisioner 'example.com/ext' or manually"
    ));
    let ext = claim(&c, "ext").expect("claim");
    let anns = &ext["metadata"]["annotations"];
    assert_eq!(anns["volume.kubernetes.io/storage-provisioner"], "example.com/ext", "{ext}");
    assert_eq!(anns["volume.beta.kubernetes.io/storage-provisioner"], "example.com/ext", "{ext}");
    assert_eq!(ext["status"]["phase"], "Pending");
}

#[test]
fn claims_and_volumes_in_use_are_kept_until_released() {
    let c = cluster();
    let kcm = controller_manager(&c);
    c.api.kubectl_ok(K, &["create", "ns", NS]);
    let _kubelet = FakeKubelet::start(&c, NS);
    apply(&c, &pv("pv-used", "1Gi", json!({})));
    apply(&c, &pvc("used", "1Gi", json!({})));
    wait_claim_bound(&c, "used");
    wait_volume_phase(&c, "pv-used", "Bound");

    // A claim that lost its finalizer (as one created before the admission plugin) gets it back.
    c.api.kubectl_ok(
        K,
        &["patch", "pvc", "used", "-n", NS, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#],
    );
    poll("pvc-protection finalizer restored", WAIT, || {
        claim(&c, "used").filter(|p| p["metadata"]["finalizers"] == json!(["kubernetes.io/pvc-protection"]))
    });

    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", NS]));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "used"}}]}});
    apply(&c, &pod.to_string());
    poll("pod running", WAIT, || get(&c, &["pod", "user", "-n", NS]).filter(|p| p["status"]["phase"] == "Running"));

    // In use by a running pod: the claim stays Terminating with its finalizer...
    c.api.kubectl_ok(K, &["delete", "pvc", "used", "-n", NS, "--wait=false"]);
    poll("claim kept in use", WAIT, || kcm.log().contains("keeping PVC because it is being used").then_some(()));
    let kept = claim(&c, "used").expect("claim kept");
    assert!(kept["metadata"]["deletionTimestamp"].is_string(), "{kept}");
    assert_eq!(kept["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]), "{kept}");
    // ...and its Bound volume too.
    c.api.kubectl_ok(K, &["delete", "pv", "pv-used", "--wait=false"]);
    poll("volume kept in use", WAIT, || kcm.log().contains("keeping PV because it is being used").then_some(()));
    let kept = volume(&c, "pv-used").expect("volume kept");
    assert!(kept["metadata"]["deletionTimestamp"].is_string(), "{kept}");
    assert_eq!(kept["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]), "{kept}");
    assert_eq!(kept["status"]["phase"], "Bound");

    // Once the pod is gone, the claim goes, the volume is released and goes too.
    c.api.kubectl_ok(K, &["delete", "pod", "user", "-n", NS, "--wait=false"]);
    poll("claim deleted", WAIT, || claim(&c, "used").is_none().then_some(()));
    poll("volume deleted", WAIT, || volume(&c, "pv-used").is_none().then_some(()));
}
