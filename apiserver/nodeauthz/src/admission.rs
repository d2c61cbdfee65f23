//! Upstream's NodeRestriction admission plugin (`plugin/pkg/admission/noderestriction`) at
//! v1.33. The Node authorizer lets nodes write nodes, pods, leases and the like without
//! seeing the objects; this plugin then limits each node to its own objects. Messages are
//! upstream's, because kubelets and tests match on them.
//!
//! Lookups are parameters so the crate stays pure: call [`lookups`] to learn which existing
//! pod or node the decision needs, fetch them, and pass them in [`AdmissionRequest`].

use crate::authorizer::{node_identity, NODE_LEASE_NAMESPACE};
use crate::graph::MIRROR_POD_ANNOTATION;
use crate::refs::{arr_at, field, pod_configmap_names, pod_secret_names, str_at};
use crate::{csr, go_quote};
use api_types::json::Ptr;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// An admission operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    #[default]
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// One write as NodeRestriction sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub user: &'a str,
    pub groups: &'a [String],
    /// API group of the resource ("" for core).
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    /// The object's name; for create, the new object's name (upstream's create handler fills
    /// it in). When empty on create, the object's `metadata.name` is used.
    pub name: &'a str,
    /// The new object (create/update; for pods/eviction the Eviction, for
    /// serviceaccounts/token the TokenRequest).
    pub object: Option<&'a Value>,
    /// The existing object (update; and delete, where resourceslices need it).
    pub old_object: Option<&'a Value>,
    /// The existing pod [`lookups`] asked for, or `None` if it does not exist.
    pub pod: Option<&'a Value>,
    /// The requesting node's Node object [`lookups`] asked for, or `None` if it does not exist.
    pub node: Option<&'a Value>,
}

/// Existing objects the decision depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    /// (namespace, name) of a pod to pass as [`AdmissionRequest::pod`].
    pub pod: Option<(String, String)>,
    /// Name of the node to pass as [`AdmissionRequest::node`].
    pub node: Option<String>,
}

/// Why NodeRestriction refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 403 Forbidden. The text is the part after `<resource> "<name>" is forbidden: `; see
    /// [`Rejection::message`] for the whole message.
    #[error("{0}")]
    Forbidden(String),
    /// 404: a pod or node the decision needs does not exist. Upstream returns its lister's
    /// error unchanged, whose kind is singular (`pod "x" not found`).
    #[error("{kind} {} not found", go_quote(name))]
    NotFound { kind: &'static str, name: String },
}

impl Rejection {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Rejection::Forbidden(_) => 403,
            Rejection::NotFound { .. } => 404,
        }
    }

    /// The Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Forbidden(_) => "Forbidden",
            Rejection::NotFound { .. } => "NotFound",
        }
    }

    /// The Status `details`: (group, kind, name), as upstream fills them.
    pub fn details(&self, req: &AdmissionRequest) -> (String, String, String) {
        match self {
            Rejection::Forbidden(_) => (req.group.to_string(), req.resource.to_string(), forbidden_name(req)),
            Rejection::NotFound { kind, name } => (String::new(), kind.to_string(), name.clone()),
        }
    }

    /// The whole Status message, e.g. `nodes "node2" is forbidden: node "node1" is not
    /// allowed to modify node "node2"` (`admission.NewForbidden`).
    pub fn message(&self, req: &AdmissionRequest) -> String {
        match self {
            Rejection::Forbidden(reason) => {
                let resource = if req.group.is_empty() {
                    req.resource.to_string()
                } else {
                    format!("{}.{}", req.resource, req.group)
                };
                if resource.is_empty() {
                    format!("forbidden: {reason}")
                } else {
                    format!("{resource} {} is forbidden: {reason}", go_quote(&forbidden_name(req)))
                }
            }
            Rejection::NotFound { .. } => self.to_string(),
        }
    }
}

/// `extractResourceName`: the request's name, else the new object's name or generateName,
/// else "Unknown".
fn forbidden_name(req: &AdmissionRequest) -> String {
    if !req.name.is_empty() {
        return req.name.to_string();
    }
    let Some(obj) = req.object else { return "Unknown".to_string() };
    let name = str_at(obj, "/metadata/name");
    let generate = str_at(obj, "/metadata/generateName");
    if !name.is_empty() {
        name.to_string()
    } else if !generate.is_empty() {
        generate.to_string()
    } else {
        "Unknown".to_string()
    }
}

type Admit = Result<(), Rejection>;

fn forbid(reason: impl Into<String>) -> Admit {
    Err(Rejection::Forbidden(reason.into()))
}

/// Go's `fmt.Errorf("unexpected type %T", obj)` for an object that is missing or not an object.
fn unexpected_type() -> Admit {
    forbid("unexpected type <nil>")
}

/// The object as a JSON object, or `None` where upstream's type assertion would fail.
fn as_object(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| v.is_object())
}

/// The node identity NodeRestriction applies to, if the request is one it handles.
fn handled_node(req: &AdmissionRequest) -> Option<String> {
    if req.operation == Operation::Connect {
        return None;
    }
    node_identity(req.user, req.groups)
}

/// Which existing objects [`admit`] will consult for this request.
pub fn lookups(req: &AdmissionRequest) -> Lookups {
    let mut l = Lookups::default();
    let Some(node) = handled_node(req).filter(|n| !n.is_empty()) else { return l };
    let ns = req.namespace.to_string();
    match (req.group, req.resource, req.subresource, req.operation) {
        ("", "pods", "", Operation::Delete) => l.pod = Some((ns, req.name.to_string())),
        ("", "pods", "", Operation::Create) => l.node = Some(node),
        ("", "pods", "eviction", Operation::Create) => {
            let name =
                if req.name.is_empty() { req.object.map(|o| str_at(o, "/metadata/name")) } else { Some(req.name) };
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                l.pod = Some((ns, n.to_string()));
            }
        }
        ("", "serviceaccounts", "token", Operation::Create) => {
            let name = req.object.map(|o| str_at(o, "/spec/boundObjectRef/name")).unwrap_or("");
            if !name.is_empty() {
                l.pod = Some((ns, name.to_string()));
            }
        }
        _ => {}
    }
    l
}

/// `Plugin.Admit`: `Ok` unless the request comes from a node and exceeds what that node may
/// write. CONNECT is not handled (upstream's handler covers create, update and delete).
pub fn admit(req: &AdmissionRequest) -> Admit {
    let Some(node) = handled_node(req) else { return Ok(()) };
    if node.is_empty() {
        return forbid(format!("could not determine node from user {}", go_quote(req.user)));
    }
    let node = node.as_str();
    match (req.group, req.resource) {
        ("", "pods") => match req.subresource {
            "" => admit_pod(node, req),
            "status" => admit_pod_status(node, req),
            "eviction" => admit_pod_eviction(node, req),
            other => forbid(format!(
                "unexpected pod subresource {}, only 'status' and 'eviction' are allowed",
                go_quote(other)
            )),
        },
        ("", "nodes") => admit_node(node, req),
        ("", "persistentvolumeclaims") => match req.subresource {
            "status" => admit_pvc_status(node, req),
            _ => forbid("may only update PVC status"),
        },
        ("", "serviceaccounts") => admit_service_account(node, req),
        ("coordination.k8s.io", "leases") => admit_lease(node, req),
        ("storage.k8s.io", "csinodes") => admit_csinode(node, req),
        ("resource.k8s.io", "resourceslices") => admit_resource_slice(node, req),
        ("certificates.k8s.io", "certificatesigningrequests") => admit_csr(node, req),
        _ => Ok(()),
    }
}

/// Nodes may create mirror pods of their own and delete pods bound to them.
fn admit_pod(node: &str, req: &AdmissionRequest) -> Admit {
    match req.operation {
        Operation::Create => admit_pod_create(node, req),
        Operation::Delete => {
            let Some(pod) = req.pod else {
                return Err(Rejection::NotFound { kind: "pod", name: req.name.to_string() });
            };
            if str_at(pod, "/spec/nodeName") != node {
                return forbid(format!(
                    "node {} can only delete pods with spec.nodeName set to itself",
                    go_quote(node)
                ));
            }
            Ok(())
        }
        op => forbid(format!(
            "unexpected operation {}, node {} can only create and delete mirror pods",
            go_quote(op.as_str()),
            go_quote(node)
        )),
    }
}

/// A node-created pod must be a mirror pod bound to and controlled by the node, and must
/// not reference anything the graph would then let the node read.
fn admit_pod_create(node: &str, req: &AdmissionRequest) -> Admit {
    let Some(pod) = as_object(req.object) else { return unexpected_type() };
    let qn = go_quote(node);
    let mirror = pod.ptr("/metadata/annotations").and_then(|a| a.get(MIRROR_POD_ANNOTATION)).is_some();
    if !mirror {
        return forbid(format!(
            "pod does not have {} annotation, node {qn} can only create mirror pods",
            go_quote(MIRROR_POD_ANNOTATION)
        ));
    }
    if str_at(pod, "/spec/nodeName") != node {
        return forbid(format!("node {qn} can only create pods with spec.nodeName set to itself"));
    }
    let owners = arr_at(pod, "/metadata/ownerReferences");
    match owners {
        [] => return forbid(format!("node {qn} can only create pods with an owner reference set to itself")),
        [owner] => {
            if str_at(owner, "/apiVersion") != "v1"
                || str_at(owner, "/kind") != "Node"
                || str_at(owner, "/name") != node
            {
                return forbid(format!("node {qn} can only create pods with an owner reference set to itself"));
            }
            if owner.get("controller").and_then(Value::as_bool) != Some(true) {
                return forbid(format!(
                    "node {qn} can only create pods with a controller owner reference set to itself"
                ));
            }
            if owner.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                return forbid(format!("node {qn} must not set blockOwnerDeletion on an owner reference"));
            }
            let Some(node_obj) = req.node else {
                return Err(Rejection::NotFound { kind: "node", name: node.to_string() });
            };
            let (want, got) = (str_at(owner, "/uid"), str_at(node_obj, "/metadata/uid"));
            if want != got {
                return forbid(format!("node {node} UID mismatch: expected {want} got {got}"));
            }
        }
        _ => return forbid(format!("node {qn} can only create pods with a single owner reference set to itself")),
    }
    if !str_at(pod, "/spec/serviceAccountName").is_empty() {
        return forbid(format!("node {qn} can not create pods that reference a service account"));
    }
    if !pod_secret_names(pod).is_empty() {
        return forbid(format!("node {qn} can not create pods that reference secrets"));
    }
    if !pod_configmap_names(pod).is_empty() {
        return forbid(format!("node {qn} can not create pods that reference configmaps"));
    }
    let volumes = arr_at(pod, "/spec/volumes");
    let trust_bundle = volumes
        .iter()
        .filter_map(|v| field(v, "projected"))
        .any(|p| arr_at(p, "/sources").iter().any(|s| field(s, "clusterTrustBundle").is_some()));
    if trust_bundle {
        return forbid(format!("node {qn} can not create pods that reference clustertrustbundles"));
    }
    if volumes.iter().any(|v| field(v, "persistentVolumeClaim").is_some()) {
        return forbid(format!("node {qn} can not create pods that reference persistentvolumeclaims"));
    }
    Ok(())
}

/// Labels as a map; absent and empty are equal, as `labels.Equals` treats nil and empty.
fn labels(obj: &Value) -> Map<String, Value> {
    obj.ptr("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `(name, resourceClaimName)` pairs of the pod's resource claim statuses.
fn claim_statuses(pod: &Value) -> Vec<(&str, Option<&str>)> {
    arr_at(pod, "/status/resourceClaimStatuses")
        .iter()
        .map(|s| (str_at(s, "/name"), s.get("resourceClaimName").and_then(Value::as_str)))
        .collect()
}

/// Status updates only for pods bound to the node, and not of what grants access: labels
/// (which select the pod into services and policies) and generated claim names.
fn admit_pod_status(node: &str, req: &AdmissionRequest) -> Admit {
    if req.operation != Operation::Update {
        return forbid(format!("unexpected operation {}", go_quote(req.operation.as_str())));
    }
    let Some(old) = as_object(req.old_object) else { return unexpected_type() };
    if str_at(old, "/spec/nodeName") != node {
        return forbid(format!(
            "node {} can only update pod status for pods with spec.nodeName set to itself",
            go_quote(node)
        ));
    }
    let Some(new) = as_object(req.object) else { return unexpected_type() };
    if labels(old) != labels(new) {
        return forbid(format!("node {} cannot update labels through pod status", go_quote(node)));
    }
    if claim_statuses(old) != claim_statuses(new) {
        return forbid(format!("node {} cannot update resource claim statues", go_quote(node)));
    }
    Ok(())
}

/// Evictions only of pods bound to the node.
fn admit_pod_eviction(node: &str, req: &AdmissionRequest) -> Admit {
    if req.operation != Operation::Create {
        return forbid(format!("unexpected operation {}", req.operation.as_str()));
    }
    let Some(eviction) = as_object(req.object) else { return unexpected_type() };
    let pod_name = if req.name.is_empty() { str_at(eviction, "/metadata/name") } else { req.name };
    if pod_name.is_empty() {
        return forbid("could not determine pod from request data");
    }
    let Some(pod) = req.pod else {
        return Err(Rejection::NotFound { kind: "pod", name: pod_name.to_string() });
    };
    if str_at(pod, "/spec/nodeName") != node {
        return forbid(format!("node {node} can only evict pods with spec.nodeName set to itself"));
    }
    Ok(())
}

/// Drops what Go's semantic equality does not distinguish from absent: nulls, and empty
/// lists and maps (nil and empty compare equal).
fn normalize(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(Value::Array(a.iter().map(|x| normalize(x).unwrap_or(Value::Null)).collect())),
        Value::Object(m) => {
            let m: Map<String, Value> = m.iter().filter_map(|(k, x)| normalize(x).map(|x| (k.clone(), x))).collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        other => Some(other.clone()),
    }
}

fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    a.and_then(normalize) == b.and_then(normalize)
}

fn remove_path(v: &mut Value, parent: &str, key: &str) {
    if let Some(m) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
        m.remove(key);
    }
}

/// Paths where two normalized values differ, as a short readable diff.
fn diff(a: Option<&Value>, b: Option<&Value>, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff(x.get(k), y.get(k), &format!("{path}.{k}"), out);
            }
        }
        _ if a == b => {}
        _ => {
            let show = |v: Option<&Value>| v.map_or_else(|| "<none>".to_string(), Value::to_string);
            out.push(format!("{path}: {} -> {}", show(a), show(b)));
        }
    }
}

/// A node may change only the status fields volume expansion reports (capacity,
/// conditions, and with RecoverVolumeExpansionFailure, on by default in v1.33, the
/// allocated resources); nothing else, so it cannot relabel or re-own claims.
fn admit_pvc_status(node: &str, req: &AdmissionRequest) -> Admit {
    if req.operation != Operation::Update {
        return forbid(format!("unexpected operation {}", go_quote(req.operation.as_str())));
    }
    let Some(old) = as_object(req.old_object) else { return unexpected_type() };
    let Some(new) = as_object(req.object) else { return unexpected_type() };
    let strip = |v: &Value| {
        let mut v = v.clone();
        remove_path(&mut v, "/metadata", "resourceVersion");
        remove_path(&mut v, "/metadata", "managedFields");
        for k in ["capacity", "conditions", "allocatedResourceStatuses", "allocatedResources"] {
            remove_path(&mut v, "/status", k);
        }
        normalize(&v)
    };
    let (old, new) = (strip(old), strip(new));
    if old != new {
        let mut changes = Vec::new();
        diff(old.as_ref(), new.as_ref(), "", &mut changes);
        return forbid(format!(
            "node {} is not allowed to update fields other than status.quantity and status.conditions: {}",
            go_quote(node),
            changes.join("; ")
        ));
    }
    Ok(())
}

/// Label keys whose values differ between two label maps (added, removed or changed).
fn modified_labels(a: &Map<String, Value>, b: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            out.insert(k.clone());
        }
    }
    for (k, v) in b {
        if a.get(k) != Some(v) {
            out.insert(k.clone());
        }
    }
    out
}

fn label_namespace(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

fn in_namespace(ns: &str, domain: &str) -> bool {
    ns == domain || ns.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
}

/// Labels kubelets set on their own Node (`kubeletapis.KubeletLabels()`).
const KUBELET_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];

/// Label namespaces kubelets may use freely (`kubeletapis.KubeletLabelNamespaces()`).
const KUBELET_LABEL_NAMESPACES: &[&str] = &["kubelet.kubernetes.io", "node.kubernetes.io"];

/// Labels reserved for administrators to steer workloads by (`LabelNamespaceNodeRestriction`).
const NODE_RESTRICTION_NAMESPACE: &str = "node-restriction.kubernetes.io";

/// `kubeletapis.IsKubeletLabel`.
pub fn is_kubelet_label(key: &str) -> bool {
    KUBELET_LABELS.contains(&key) || KUBELET_LABEL_NAMESPACES.iter().any(|d| in_namespace(label_namespace(key), d))
}

/// `getForbiddenLabels`: node-restriction labels, and kubernetes.io / k8s.io labels that are
/// not kubelet labels, because a node setting them could attract privileged workloads.
pub fn forbidden_labels<'a>(modified: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    modified
        .into_iter()
        .filter(|label| {
            let ns = label_namespace(label);
            let restricted = in_namespace(ns, NODE_RESTRICTION_NAMESPACE);
            let kubernetes = in_namespace(ns, "kubernetes.io") || in_namespace(ns, "k8s.io");
            restricted || (kubernetes && !is_kubelet_label(label))
        })
        .cloned()
        .collect()
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// A node may write only its own Node, may not set a config source, change its taints, or
/// set labels outside the kubelet set.
fn admit_node(node: &str, req: &AdmissionRequest) -> Admit {
    let requested = match (req.name, req.operation, req.object) {
        ("", Operation::Create, Some(obj)) => str_at(obj, "/metadata/name"),
        (name, _, _) => name,
    };
    if requested != node {
        return forbid(format!("node {} is not allowed to modify node {}", go_quote(node), go_quote(requested)));
    }
    let qn = go_quote(node);
    match req.operation {
        Operation::Create => {
            let Some(obj) = as_object(req.object) else { return unexpected_type() };
            if field(obj.get("spec").unwrap_or(&Value::Null), "configSource").is_some() {
                return forbid(format!("node {qn} is not allowed to create pods with a non-nil configSource"));
            }
            let forbidden = forbidden_labels(&modified_labels(&labels(obj), &Map::new()));
            if !forbidden.is_empty() {
                return forbid(format!("node {qn} is not allowed to set the following labels: {}", join(&forbidden)));
            }
        }
        Operation::Update => {
            let Some(obj) = as_object(req.object) else { return unexpected_type() };
            let Some(old) = as_object(req.old_object) else { return unexpected_type() };
            let source = obj.ptr("/spec/configSource").filter(|s| !s.is_null());
            if source.is_some() && !semantic_eq(source, old.ptr("/spec/configSource")) {
                return forbid(format!(
                    "node {qn} is not allowed to update configSource to a new non-nil configSource"
                ));
            }
            if !semantic_eq(obj.ptr("/spec/taints"), old.ptr("/spec/taints")) {
                return forbid(format!("node {qn} is not allowed to modify taints"));
            }
            let forbidden = forbidden_labels(&modified_labels(&labels(obj), &labels(old)));
            if !forbidden.is_empty() {
                // Upstream's message has no node name here.
                return forbid(format!("is not allowed to modify labels: {}", join(&forbidden)));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Tokens only bound to a pod (with its UID) that runs on the node.
fn admit_service_account(node: &str, req: &AdmissionRequest) -> Admit {
    if req.operation != Operation::Create || req.subresource != "token" {
        return Ok(());
    }
    let Some(tr) = as_object(req.object) else { return unexpected_type() };
    let bound = tr.ptr("/spec/boundObjectRef").filter(|r| r.is_object());
    let Some(r) = bound
        .filter(|r| str_at(r, "/apiVersion") == "v1" && str_at(r, "/kind") == "Pod" && !str_at(r, "/name").is_empty())
    else {
        return forbid("node requested token not bound to a pod");
    };
    let uid = str_at(r, "/uid");
    if uid.is_empty() {
        return forbid("node requested token with a pod binding without a uid");
    }
    let Some(pod) = req.pod else {
        return Err(Rejection::NotFound { kind: "pod", name: str_at(r, "/name").to_string() });
    };
    if uid != str_at(pod, "/metadata/uid") {
        return forbid(format!(
            "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
        ));
    }
    if str_at(pod, "/spec/nodeName") != node {
        return forbid("node requested token bound to a pod scheduled on a different node");
    }
    Ok(())
}

/// Only the node's own lease in kube-node-lease.
fn admit_lease(node: &str, req: &AdmissionRequest) -> Admit {
    if req.namespace != NODE_LEASE_NAMESPACE {
        return forbid(format!("can only access leases in the {} system namespace", go_quote(NODE_LEASE_NAMESPACE)));
    }
    let name = if req.operation == Operation::Create {
        let Some(lease) = as_object(req.object) else { return unexpected_type() };
        str_at(lease, "/metadata/name")
    } else {
        req.name
    };
    if name != node {
        return forbid("can only access node lease with the same name as the requesting node");
    }
    Ok(())
}

/// Only the node's own CSINode.
fn admit_csinode(node: &str, req: &AdmissionRequest) -> Admit {
    let name = if req.operation == Operation::Create {
        let Some(obj) = as_object(req.object) else { return forbid("unable to access the object name") };
        str_at(obj, "/metadata/name")
    } else {
        req.name
    };
    if name != node {
        return forbid("can only access CSINode with the same name as the requesting node");
    }
    Ok(())
}

/// Creates and deletes only of slices for the node; the authorizer checks the rest through
/// the graph.
fn admit_resource_slice(node: &str, req: &AdmissionRequest) -> Admit {
    match req.operation {
        Operation::Create => {
            let Some(slice) = as_object(req.object) else { return unexpected_type() };
            if str_at(slice, "/spec/nodeName") != node {
                return forbid("can only create ResourceSlice with the same NodeName as the requesting node");
            }
        }
        Operation::Delete => {
            let Some(slice) = as_object(req.old_object) else { return unexpected_type() };
            if str_at(slice, "/spec/nodeName") != node {
                return forbid("can only delete ResourceSlice with the same NodeName as the requesting node");
            }
        }
        _ => {}
    }
    Ok(())
}

const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
const KUBELET_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";

/// Kubelet CSRs (serving and client signers) only for the node's own identity
/// (AllowInsecureKubeletCertificateSigningRequests is off by default since v1.31).
fn admit_csr(node: &str, req: &AdmissionRequest) -> Admit {
    if req.operation != Operation::Create {
        return Ok(());
    }
    let Some(csr) = as_object(req.object) else { return unexpected_type() };
    let signer = str_at(csr, "/spec/signerName");
    if signer != KUBELET_SERVING_SIGNER && signer != KUBELET_CLIENT_SIGNER {
        return Ok(());
    }
    let pem = csr::base64_decode(str_at(csr, "/spec/request")).unwrap_or_default();
    match csr::csr_common_name(&pem) {
        Err(e) => forbid(format!("unable to parse csr: {e}")),
        Ok(cn) if cn != format!("system:node:{node}") => {
            forbid(format!("can only create a node CSR with CN=system:node:{node}"))
        }
        Ok(_) => Ok(()),
    }
}
