//! Namespace and pod deletion: nothing finishes a deletion while a finalizer of either kind
//! (`metadata.finalizers`, a namespace's `spec.finalizers`) or a pod's grace period remains,
//! whichever write path touches the object.

use e2e::{poll, Cluster};
use serde_json::{json, Value};
use std::time::Duration;

const K: &str = "1.33";

fn get(c: &Cluster, args: &[&str]) -> Option<Value> {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    let out = c.api.kubectl(K, &a);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).expect("json"))
}

fn assert_terminating_with_content(c: &Cluster, ns: &str, after: &str) {
    let got = get(c, &["ns", ns]).unwrap_or_else(|| panic!("namespace {ns} vanished after {after}"));
    assert_eq!(got["status"]["phase"], "Terminating", "{after}: {got}");
    assert_eq!(got["spec"]["finalizers"], json!(["kubernetes"]), "{after}: {got}");
    let names = c.api.kubectl_ok(K, &["-n", ns, "get", "cm", "-o", "name"]);
    assert!(names.contains("configmap/a"), "{after}: {names}");
}

/// PUT `namespaces/<ns>/finalize` with these `spec.finalizers`, as the namespace controller.
fn finalize(c: &Cluster, ns: &str, finalizers: Value) {
    let body =
        json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": ns}, "spec": {"finalizers": finalizers}});
    let args = ["-X", "PUT", "-H", "Content-Type: application/json", "-d", &body.to_string()];
    let (code, got) = c.api.curl_json(&args, &format!("/api/v1/namespaces/{ns}/finalize"));
    assert_eq!(code, 200, "{got}");
}

#[test]
fn a_terminating_namespace_stays_until_its_finalizers_are_gone() {
    let c = Cluster::start();
    // The issue's reproduction, verbatim.
    c.api.kubectl_ok(K, &["create", "ns", "st1"]);
    c.api.kubectl_ok(K, &["-n", "st1", "create", "cm", "a"]);
    c.api.kubectl_ok(K, &["delete", "ns", "st1", "--wait=false"]);
    let cond = r#"{"status":{"conditions":[{"type":"NamespaceContentRemaining","status":"True","reason":"SomeResourcesRemain","message":"x"}]}}"#;
    c.api.kubectl_ok(K, &["patch", "ns", "st1", "--subresource=status", "--type=merge", "-p", cond]);
    assert_terminating_with_content(&c, "st1", "a status patch");
    let got = get(&c, &["ns", "st1"]).expect("ns");
    assert_eq!(got["status"]["conditions"][0]["type"], "NamespaceContentRemaining");

    // Every other write path leaves it alone too.
    c.api.kubectl_ok(K, &["label", "ns", "st1", "a=b"]);
    assert_terminating_with_content(&c, "st1", "an update");
    c.api.kubectl_ok(
        K,
        &[
            "patch",
            "ns",
            "st1",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/annotations","value":{"x":"y"}}]"#,
        ],
    );
    assert_terminating_with_content(&c, "st1", "a JSON patch");
    let applied = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: st1\n  labels:\n    applied: \"yes\"\n";
    assert!(c.api.kubectl_stdin(K, &["apply", "--server-side", "-f", "-"], Some(applied)).status.success());
    assert_terminating_with_content(&c, "st1", "a server-side apply");
    finalize(&c, "st1", json!(["kubernetes"]));
    assert_terminating_with_content(&c, "st1", "a finalize that keeps the finalizer");
    c.api.kubectl_ok(K, &["delete", "ns", "st1", "--wait=false"]);
    assert_terminating_with_content(&c, "st1", "a second delete");

    // What the namespace controller does: empty it, then finalize.
    c.api.kubectl_ok(K, &["-n", "st1", "delete", "cm", "a"]);
    finalize(&c, "st1", json!([]));
    assert!(get(&c, &["ns", "st1"]).is_none(), "finalized namespace still there");

    // A metadata finalizer holds it after spec.finalizers is empty; removing it finishes.
    c.api.kubectl_stdin(
        K,
        &["create", "-f", "-"],
        Some(r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"st2","finalizers":["example.com/hold"]}}"#),
    );
    c.api.kubectl_ok(K, &["delete", "ns", "st2", "--wait=false"]);
    finalize(&c, "st2", json!([]));
    let got = get(&c, &["ns", "st2"]).expect("held by its metadata finalizer");
    assert_eq!(got["metadata"]["finalizers"], json!(["example.com/hold"]));
    c.api.kubectl_ok(
        K,
        &["patch", "ns", "st2", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#],
    );
    assert!(get(&c, &["ns", "st2"]).is_none(), "namespace with no finalizer left still there");
}

#[test]
fn a_bound_pod_stays_through_its_grace_period_whatever_writes_it() {
    let c = Cluster::start();
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}"#;
    assert!(c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(pod)).status.success());
    c.api.kubectl_ok(K, &["delete", "pod", "p", "--wait=false"]);
    let got = get(&c, &["pod", "p"]).expect("pod in its grace period");
    assert_eq!(got["metadata"]["deletionGracePeriodSeconds"], 30);
    // A kubelet's status write and a label change keep it.
    let status = r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}}"#;
    c.api.kubectl_ok(K, &["patch", "pod", "p", "--subresource=status", "--type=merge", "-p", status]);
    assert!(get(&c, &["pod", "p"]).is_some(), "a status write ended the grace period");
    c.api.kubectl_ok(K, &["label", "pod", "p", "x=y"]);
    assert!(get(&c, &["pod", "p"]).is_some(), "an update ended the grace period");
    // What the kubelet sends once the containers are gone.
    c.api.kubectl_ok(K, &["delete", "pod", "p", "--grace-period=0", "--force"]);
    poll("pod gone", Duration::from_secs(10), || get(&c, &["pod", "p"]).is_none().then_some(()));
}
