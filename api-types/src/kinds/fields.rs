//! Selectable fields per kind (upstream's `GetAttrs` / `SelectableFields` and the field label
//! conversion functions): what `fieldSelector` may name and each field's value for an object.
//!
//! Two upstream tables meet here. The field label conversion functions registered per
//! group/version/kind decide which labels a request may use (kinds without one accept
//! `metadata.name` and `metadata.namespace`, cluster-scoped or not). The registry's `GetAttrs`
//! decides which values an object has; a label that is accepted but has no value (for example
//! `status.podIPs` on pods, `status.successful` on statefulsets, `metadata.namespace` on a
//! cluster-scoped kind) reads as the empty string, as upstream's `fields.Set` does.

use crate::json::Ptr;
use crate::registry::ResourceDef;
use serde_json::Value;

fn s(obj: &Value, ptr: &str) -> String {
    obj.ptr(ptr).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn int(obj: &Value, ptr: &str) -> String {
    obj.ptr(ptr).and_then(Value::as_i64).unwrap_or(0).to_string()
}

fn boolean(obj: &Value, ptr: &str) -> String {
    obj.ptr(ptr).and_then(Value::as_bool).unwrap_or(false).to_string()
}

const DEFAULT: &[&str] = &["metadata.name", "metadata.namespace"];

const POD: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
    // Old v1 clients' name for spec.nodeName.
    "spec.host",
];

const NODE: &[&str] = &["metadata.name", "spec.unschedulable"];

const REPLICATION_CONTROLLER: &[&str] = &["metadata.name", "metadata.namespace", "status.replicas"];

const CORE_EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const EVENTS_EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "source",
    "type",
];

const NAMESPACE: &[&str] = &["metadata.name", "status.phase"];

const SECRET: &[&str] = &["metadata.name", "metadata.namespace", "type"];

const SERVICE: &[&str] = &["metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"];

/// Accepted by upstream's apps/v1 conversion, though no StatefulSet has a value for it.
const STATEFUL_SET: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];

const JOB: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];

const CSR: &[&str] = &["metadata.name", "spec.signerName"];

const RESOURCE_SLICE: &[&str] = &["metadata.name", "spec.nodeName", "spec.driver"];

/// The field labels a field selector may use for this resource.
pub fn selectable(rd: &ResourceDef) -> &'static [&'static str] {
    match (rd.group, rd.kind) {
        ("", "Pod") => POD,
        ("", "Node") => NODE,
        ("", "ReplicationController") => REPLICATION_CONTROLLER,
        ("", "Event") => CORE_EVENT,
        ("", "Namespace") => NAMESPACE,
        ("", "Secret") => SECRET,
        ("", "Service") => SERVICE,
        ("apps", "StatefulSet") => STATEFUL_SET,
        ("batch", "Job") => JOB,
        ("certificates.k8s.io", "CertificateSigningRequest") => CSR,
        ("events.k8s.io", "Event") => EVENTS_EVENT,
        ("resource.k8s.io", "ResourceSlice") => RESOURCE_SLICE,
        // Upstream's default conversion accepts both labels for every other kind, even
        // cluster-scoped ones (whose namespace then reads as "").
        _ => DEFAULT,
    }
}

/// The event's selectable values, read from either the core/v1 or the events.k8s.io/v1 shape.
struct EventFields {
    object: [String; 7],
    reason: String,
    reporting: String,
    source: String,
    ty: String,
}

const OBJECT_REF_KEYS: [&str; 7] = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"];

fn event_fields(obj: &Value) -> EventFields {
    let reference = ["involvedObject", "regarding"]
        .into_iter()
        .find(|k| obj.get(*k).is_some_and(Value::is_object))
        .unwrap_or("involvedObject");
    let object = OBJECT_REF_KEYS.map(|k| s(obj, &format!("/{reference}/{k}")));
    let reporting = ["/reportingComponent", "/reportingController"]
        .into_iter()
        .map(|p| s(obj, p))
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let component = ["/source/component", "/deprecatedSource/component"]
        .into_iter()
        .map(|p| s(obj, p))
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let source = if component.is_empty() { reporting.clone() } else { component };
    EventFields { object, reason: s(obj, "/reason"), reporting, source, ty: s(obj, "/type") }
}

/// The values of the selectable fields of one object.
pub fn field_set(rd: &ResourceDef, obj: &Value) -> Vec<(&'static str, String)> {
    let mut out = vec![("metadata.name", s(obj, "/metadata/name"))];
    if rd.namespaced {
        out.push(("metadata.namespace", s(obj, "/metadata/namespace")));
    }
    match (rd.group, rd.kind) {
        ("", "Pod") => {
            let node_name = s(obj, "/spec/nodeName");
            // Upstream reads the first of status.podIPs (which status.podIP mirrors).
            let pod_ip = obj
                .ptr("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| s(obj, "/status/podIP"));
            out.extend([
                ("spec.nodeName", node_name.clone()),
                ("spec.restartPolicy", s(obj, "/spec/restartPolicy")),
                ("spec.schedulerName", s(obj, "/spec/schedulerName")),
                ("spec.serviceAccountName", s(obj, "/spec/serviceAccountName")),
                ("spec.hostNetwork", boolean(obj, "/spec/hostNetwork")),
                ("status.phase", s(obj, "/status/phase")),
                ("status.podIP", pod_ip),
                ("status.nominatedNodeName", s(obj, "/status/nominatedNodeName")),
                ("spec.host", node_name),
            ]);
        }
        ("", "Node") => out.push(("spec.unschedulable", boolean(obj, "/spec/unschedulable"))),
        ("", "ReplicationController") => out.push(("status.replicas", int(obj, "/status/replicas"))),
        ("", "Namespace") => out.push(("status.phase", s(obj, "/status/phase"))),
        ("", "Secret") => out.push(("type", s(obj, "/type"))),
        ("", "Service") => {
            out.push(("spec.clusterIP", s(obj, "/spec/clusterIP")));
            out.push(("spec.type", s(obj, "/spec/type")));
        }
        ("", "Event") | ("events.k8s.io", "Event") => {
            let e = event_fields(obj);
            let (object_names, reporting_name): ([&'static str; 7], &'static str) = if rd.group.is_empty() {
                (
                    [
                        "involvedObject.kind",
                        "involvedObject.namespace",
                        "involvedObject.name",
                        "involvedObject.uid",
                        "involvedObject.apiVersion",
                        "involvedObject.resourceVersion",
                        "involvedObject.fieldPath",
                    ],
                    "reportingComponent",
                )
            } else {
                (
                    [
                        "regarding.kind",
                        "regarding.namespace",
                        "regarding.name",
                        "regarding.uid",
                        "regarding.apiVersion",
                        "regarding.resourceVersion",
                        "regarding.fieldPath",
                    ],
                    "reportingController",
                )
            };
            out.extend(object_names.into_iter().zip(e.object));
            out.push(("reason", e.reason));
            out.push((reporting_name, e.reporting));
            out.push(("source", e.source));
            out.push(("type", e.ty));
        }
        ("batch", "Job") => out.push(("status.successful", int(obj, "/status/succeeded"))),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            out.push(("spec.signerName", s(obj, "/spec/signerName")))
        }
        ("resource.k8s.io", "ResourceSlice") => {
            out.push(("spec.nodeName", s(obj, "/spec/nodeName")));
            out.push(("spec.driver", s(obj, "/spec/driver")));
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rd(group: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> ResourceDef {
        ResourceDef {
            group,
            version: "v1",
            kind,
            plural,
            singular: "",
            short_names: &[],
            namespaced,
            verbs: &[],
            categories: &[],
            subresources: &[],
            etcd_prefix: "x",
        }
    }

    fn get<'a>(set: &'a [(&'static str, String)], k: &str) -> Option<&'a str> {
        set.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
    }

    /// Every value field_set reports must be a label selectable() accepts.
    fn assert_consistent(r: &ResourceDef, obj: &Value) {
        let sel = selectable(r);
        for (k, _) in field_set(r, obj) {
            assert!(sel.contains(&k), "{} reports {k} which is not selectable", r.plural);
        }
    }

    #[test]
    fn pods() {
        let r = rd("", "Pod", "pods", true);
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "sa"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}
        });
        let set = field_set(&r, &pod);
        assert_eq!(get(&set, "metadata.name"), Some("p"));
        assert_eq!(get(&set, "metadata.namespace"), Some("ns"));
        assert_eq!(get(&set, "spec.nodeName"), Some("n1"));
        assert_eq!(get(&set, "spec.host"), Some("n1"));
        assert_eq!(get(&set, "spec.restartPolicy"), Some("Always"));
        assert_eq!(get(&set, "spec.serviceAccountName"), Some("sa"));
        assert_eq!(get(&set, "spec.hostNetwork"), Some("false"));
        assert_eq!(get(&set, "status.phase"), Some("Running"));
        assert_eq!(get(&set, "status.podIP"), Some("10.0.0.1"));
        assert_eq!(get(&set, "status.nominatedNodeName"), Some(""));
        // Accepted but valueless upstream.
        assert!(selectable(&r).contains(&"status.podIPs"));
        assert_eq!(get(&set, "status.podIPs"), None);
        let host = field_set(&r, &json!({"spec": {"hostNetwork": true}}));
        assert_eq!(get(&host, "spec.hostNetwork"), Some("true"));
        assert_eq!(get(&host, "spec.nodeName"), Some(""));
        assert_consistent(&r, &pod);
    }

    #[test]
    fn core_kinds() {
        let node = rd("", "Node", "nodes", false);
        assert_eq!(selectable(&node), &["metadata.name", "spec.unschedulable"]);
        let set = field_set(&node, &json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}));
        assert_eq!(set, vec![("metadata.name", "n".to_string()), ("spec.unschedulable", "true".to_string())]);
        assert_eq!(get(&field_set(&node, &json!({})), "spec.unschedulable"), Some("false"));

        let ns = rd("", "Namespace", "namespaces", false);
        assert!(!selectable(&ns).contains(&"metadata.namespace"));
        assert_eq!(
            get(&field_set(&ns, &json!({"status": {"phase": "Terminating"}})), "status.phase"),
            Some("Terminating")
        );

        let secret = rd("", "Secret", "secrets", true);
        let set =
            field_set(&secret, &json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls"}));
        assert_eq!(get(&set, "type"), Some("kubernetes.io/tls"));

        let rc = rd("", "ReplicationController", "replicationcontrollers", true);
        assert_eq!(get(&field_set(&rc, &json!({"status": {"replicas": 3}})), "status.replicas"), Some("3"));
        assert_eq!(get(&field_set(&rc, &json!({})), "status.replicas"), Some("0"));

        let svc = rd("", "Service", "services", true);
        let set = field_set(&svc, &json!({"spec": {"clusterIP": "None", "type": "ClusterIP"}}));
        assert_eq!(get(&set, "spec.clusterIP"), Some("None"));
        assert_eq!(get(&set, "spec.type"), Some("ClusterIP"));

        let cm = rd("", "ConfigMap", "configmaps", true);
        assert_eq!(selectable(&cm), &["metadata.name", "metadata.namespace"]);
        assert_eq!(field_set(&cm, &json!({"metadata": {"name": "c", "namespace": "d"}})).len(), 2);

        // Upstream's default conversion accepts metadata.namespace for cluster-scoped kinds
        // too; the object has no value for it.
        let pv = rd("", "PersistentVolume", "persistentvolumes", false);
        assert_eq!(selectable(&pv), &["metadata.name", "metadata.namespace"]);
        assert_eq!(field_set(&pv, &json!({"metadata": {"name": "v"}})), vec![("metadata.name", "v".to_string())]);

        for (r, obj) in [(node, json!({})), (ns, json!({})), (secret, json!({})), (rc, json!({})), (svc, json!({}))] {
            assert_consistent(&r, &obj);
        }
    }

    #[test]
    fn events_in_both_groups() {
        let core = rd("", "Event", "events", true);
        let ev = json!({
            "metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d", "uid": "u1", "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
            "reason": "Started", "type": "Normal", "source": {"component": "kubelet"}, "reportingComponent": "kubelet"
        });
        let set = field_set(&core, &ev);
        assert_eq!(get(&set, "involvedObject.kind"), Some("Pod"));
        assert_eq!(get(&set, "involvedObject.name"), Some("p"));
        assert_eq!(get(&set, "involvedObject.uid"), Some("u1"));
        assert_eq!(get(&set, "involvedObject.fieldPath"), Some("spec.containers{c}"));
        assert_eq!(get(&set, "reason"), Some("Started"));
        assert_eq!(get(&set, "source"), Some("kubelet"));
        assert_eq!(get(&set, "reportingComponent"), Some("kubelet"));
        assert_eq!(get(&set, "type"), Some("Normal"));
        assert_consistent(&core, &ev);

        let events = rd("events.k8s.io", "Event", "events", true);
        let ev = json!({
            "metadata": {"name": "e", "namespace": "d"},
            "regarding": {"kind": "Deployment", "name": "web", "namespace": "d"},
            "reason": "ScalingReplicaSet", "type": "Normal", "reportingController": "deployment-controller"
        });
        let set = field_set(&events, &ev);
        assert_eq!(get(&set, "regarding.kind"), Some("Deployment"));
        assert_eq!(get(&set, "regarding.name"), Some("web"));
        assert_eq!(get(&set, "reportingController"), Some("deployment-controller"));
        // Without a source component, source falls back to the reporting controller.
        assert_eq!(get(&set, "source"), Some("deployment-controller"));
        assert!(!selectable(&events).contains(&"involvedObject.kind"));
        assert_consistent(&events, &ev);

        // A core-shaped object read through the events.k8s.io names.
        let set = field_set(&events, &json!({"involvedObject": {"kind": "Pod"}}));
        assert_eq!(get(&set, "regarding.kind"), Some("Pod"));
    }

    #[test]
    fn other_groups() {
        let job = rd("batch", "Job", "jobs", true);
        assert_eq!(get(&field_set(&job, &json!({"status": {"succeeded": 2}})), "status.successful"), Some("2"));
        assert_eq!(get(&field_set(&job, &json!({})), "status.successful"), Some("0"));
        assert_consistent(&job, &json!({}));

        let csr = rd("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests", false);
        assert_eq!(selectable(&csr), &["metadata.name", "spec.signerName"]);
        let set = field_set(
            &csr,
            &json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}}),
        );
        assert_eq!(get(&set, "spec.signerName"), Some("kubernetes.io/kubelet-serving"));

        // apps/v1 registers no conversion for ReplicaSet: status.replicas is not selectable.
        let rs = rd("apps", "ReplicaSet", "replicasets", true);
        assert!(!selectable(&rs).contains(&"status.replicas"));
        let sts = rd("apps", "StatefulSet", "statefulsets", true);
        assert!(selectable(&sts).contains(&"status.successful"));
        assert_eq!(get(&field_set(&sts, &json!({})), "status.successful"), None);
    }
}
