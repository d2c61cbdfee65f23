//! Upstream's Node authorizer (`plugin/pkg/auth/authorizer/node`), with the
//! `AuthorizeNodeWithSelectors` behaviour of v1.33 (on by default since v1.32). It never
//! denies: requests it does not allow get no opinion, so RBAC or another authorizer may
//! still allow them. Reasons are upstream's, because clients see them in 403 messages.

use crate::graph::{Graph, VertexType};
use api_types::json::Ptr;
use rbac::{Attributes, PolicyRule};
use serde_json::Value;
use std::sync::OnceLock;

/// The user name prefix of node identities.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The group every node identity belongs to.
pub const NODES_GROUP: &str = "system:nodes";
/// The namespace holding node heartbeat leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// An authorizer's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed here; the reason (possibly empty) is appended to the 403 message when no
    /// other authorizer allows the request.
    NoOpinion(String),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }

    /// The reason of a `NoOpinion` ("" for `Allow`).
    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow => "",
            Decision::NoOpinion(r) => r,
        }
    }
}

fn no_opinion(reason: impl Into<String>) -> Decision {
    Decision::NoOpinion(reason.into())
}

/// Upstream's default `NodeIdentity`: `Some(name)` for a user `system:node:<name>` in the
/// `system:nodes` group, `None` for everyone else. `Some("")` is a node whose name cannot be
/// determined; both the authorizer and NodeRestriction refuse it.
pub fn node_identity(user: &str, groups: &[String]) -> Option<String> {
    let name = user.strip_prefix(NODE_USER_PREFIX)?;
    groups.iter().any(|g| g == NODES_GROUP).then(|| name.to_string())
}

/// `bootstrappolicy.NodeRules()`: what nodes may do where the authorizer has no finer rule.
/// Taken from the `system:node` bootstrap role so the two never drift apart.
fn node_rules() -> &'static [PolicyRule] {
    static RULES: OnceLock<Vec<PolicyRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        rbac::bootstrap::cluster_roles()
            .into_iter()
            .find(|r| r.ptr("/metadata/name").and_then(Value::as_str) == Some("system:node"))
            .and_then(|r| r.get("rules").cloned())
            .and_then(|rules| serde_json::from_value(rules).ok())
            .unwrap_or_default()
    })
}

/// One requirement of a field selector: `field=value` / `field==value` (`equals`) or
/// `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub equals: bool,
    pub value: String,
}

/// Parses a (URL-decoded) field selector as `fields.ParseSelector` does, including its
/// `\,` `\=` `\\` escapes. A selector that does not parse yields no requirements, which the
/// authorizer then treats as "no selector".
pub fn parse_field_selector(selector: &str) -> Vec<FieldRequirement> {
    // Upstream sorts the terms first; it decides which of duplicate requirements wins.
    let mut terms = split_terms(selector);
    terms.sort_unstable();
    let mut out = Vec::new();
    for term in terms {
        if term.is_empty() {
            continue;
        }
        let Some((field, op, raw)) = split_term(term) else { return Vec::new() };
        let Some(value) = unescape_value(raw) else { return Vec::new() };
        out.push(FieldRequirement { field: field.to_string(), equals: op != "!=", value });
    }
    out
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let (mut start, mut in_slash) = (0, false);
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], op, rhs));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return None;
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return None,
            c => out.push(c),
        }
    }
    (!in_slash).then_some(out)
}

/// `RequiresExactMatch(field)`: the value an equality requirement pins `field` to.
fn exact_match<'a>(reqs: &'a [FieldRequirement], field: &str) -> Option<&'a str> {
    reqs.iter().find(|r| r.equals && r.field == field).map(|r| r.value.as_str())
}

/// The name the request is about. Upstream's RequestInfo turns a list/watch with an exact
/// `metadata.name` field selector into a request for that name, which is how a kubelet may
/// watch its own Node object.
fn effective_name<'a>(attrs: &'a Attributes, reqs: &'a [FieldRequirement]) -> &'a str {
    if attrs.name.is_empty() && matches!(attrs.verb.as_str(), "list" | "watch") {
        if let Some(n) = exact_match(reqs, "metadata.name") {
            if !n.is_empty() && n != "." && n != ".." && !n.contains('/') && !n.contains('%') {
                return n;
            }
        }
    }
    &attrs.name
}

/// What one request asks, with the effective name resolved.
struct Req<'a> {
    node: &'a str,
    attrs: &'a Attributes,
    name: &'a str,
    selector: &'a [FieldRequirement],
}

/// `NodeAuthorizer.Authorize`. `field_selector` is the request's URL-decoded `fieldSelector`
/// query parameter, if any (kubelets list pods with `spec.nodeName=<self>`).
pub fn authorize(graph: &Graph, attrs: &Attributes, field_selector: Option<&str>) -> Decision {
    let Some(node) = node_identity(&attrs.user, &attrs.groups) else {
        return no_opinion("");
    };
    if node.is_empty() {
        return no_opinion(format!("unknown node for user {}", crate::go_quote(&attrs.user)));
    }
    let selector = field_selector.map(parse_field_selector).unwrap_or_default();
    let r = Req { node: &node, attrs, name: effective_name(attrs, &selector), selector: &selector };

    if attrs.is_resource {
        let decision = match (attrs.api_group.as_str(), attrs.resource.as_str()) {
            ("", "secrets") => Some(authorize_read_namespaced(graph, &r, VertexType::Secret)),
            ("", "configmaps") => Some(authorize_read_namespaced(graph, &r, VertexType::ConfigMap)),
            ("", "persistentvolumeclaims") if attrs.subresource == "status" => {
                Some(authorize_status_update(graph, &r, VertexType::Pvc))
            }
            ("", "persistentvolumeclaims") => Some(authorize_get(graph, &r, VertexType::Pvc)),
            ("", "persistentvolumes") => Some(authorize_get(graph, &r, VertexType::Pv)),
            ("resource.k8s.io", "resourceclaims") => Some(authorize_get(graph, &r, VertexType::ResourceClaim)),
            ("storage.k8s.io", "volumeattachments") => Some(authorize_get(graph, &r, VertexType::VolumeAttachment)),
            ("", "serviceaccounts") => Some(authorize_create_token(graph, &r)),
            ("coordination.k8s.io", "leases") => Some(authorize_lease(&r)),
            ("storage.k8s.io", "csinodes") => Some(authorize_csinode(&r)),
            ("resource.k8s.io", "resourceslices") => Some(authorize_resource_slice(graph, &r)),
            ("", "nodes") => Some(authorize_node(&r)),
            ("", "pods") => Some(authorize_pod(graph, &r)),
            _ => None,
        };
        if let Some(d) = decision {
            return d;
        }
    }
    // Everything else is not subdivided per node: the static node rules decide.
    if node_rules().iter().any(|rule| rbac::rule_allows(attrs, rule)) {
        Decision::Allow
    } else {
        no_opinion("")
    }
}

/// `authorizeStatusUpdate`: update/patch of a related object's status.
fn authorize_status_update(graph: &Graph, r: &Req, ty: VertexType) -> Decision {
    if !matches!(r.attrs.verb.as_str(), "update" | "patch") {
        return no_opinion("can only get/update/patch this type");
    }
    if r.attrs.subresource != "status" {
        return no_opinion("can only update status subresource");
    }
    authorize_related(graph, r, ty)
}

/// `authorizeGet`: only `get` of a single related object.
fn authorize_get(graph: &Graph, r: &Req, ty: VertexType) -> Decision {
    if r.attrs.verb != "get" {
        return no_opinion("can only get individual resources of this type");
    }
    if !r.attrs.subresource.is_empty() {
        return no_opinion("cannot get subresource");
    }
    authorize_related(graph, r, ty)
}

/// `authorizeReadNamespacedObject`: get/list/watch of a single related namespaced object
/// (kubelets watch single secrets and configmaps by name).
fn authorize_read_namespaced(graph: &Graph, r: &Req, ty: VertexType) -> Decision {
    if !matches!(r.attrs.verb.as_str(), "get" | "list" | "watch") {
        return no_opinion("can only read resources of this type");
    }
    if !r.attrs.subresource.is_empty() {
        return no_opinion("cannot read subresource");
    }
    if r.attrs.namespace.is_empty() {
        return no_opinion("can only read namespaced object of this type");
    }
    authorize_related(graph, r, ty)
}

fn no_relationship(node: &str) -> Decision {
    no_opinion(format!("no relationship found between node '{node}' and this object"))
}

/// `authorize`: a named object from which the graph reaches the node.
fn authorize_related(graph: &Graph, r: &Req, ty: VertexType) -> Decision {
    if r.name.is_empty() {
        return no_opinion("No Object name found");
    }
    if graph.has_path(r.node, ty, &r.attrs.namespace, r.name) {
        Decision::Allow
    } else {
        no_relationship(r.node)
    }
}

/// `authorizeCreateToken`: tokens for service accounts of pods on the node.
fn authorize_create_token(graph: &Graph, r: &Req) -> Decision {
    if r.attrs.verb != "create" || r.name.is_empty() {
        return no_opinion("can only create tokens for individual service accounts");
    }
    if r.attrs.subresource != "token" {
        return no_opinion("can only create token subresource of serviceaccount");
    }
    if graph.has_path(r.node, VertexType::ServiceAccount, &r.attrs.namespace, r.name) {
        Decision::Allow
    } else {
        no_relationship(r.node)
    }
}

/// `authorizeLease`: the node's own lease in kube-node-lease. Create is allowed by name
/// here because the name is not known yet; NodeRestriction checks the object.
fn authorize_lease(r: &Req) -> Decision {
    let verb = r.attrs.verb.as_str();
    if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
        return no_opinion("can only get, create, update, patch, or delete a node lease");
    }
    if r.attrs.namespace != NODE_LEASE_NAMESPACE {
        return no_opinion(format!(
            "can only access leases in the {} system namespace",
            crate::go_quote(NODE_LEASE_NAMESPACE)
        ));
    }
    if verb != "create" && r.name != r.node {
        return no_opinion("can only access node lease with the same name as the requesting node");
    }
    Decision::Allow
}

/// `authorizeCSINode`: the node's own CSINode (create checked by NodeRestriction).
fn authorize_csinode(r: &Req) -> Decision {
    let verb = r.attrs.verb.as_str();
    if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
        return no_opinion("can only get, create, update, patch, or delete a CSINode");
    }
    if !r.attrs.subresource.is_empty() {
        return no_opinion("cannot authorize CSINode subresources");
    }
    if verb != "create" && r.name != r.node {
        return no_opinion("can only access CSINode with the same name as the requesting node");
    }
    Decision::Allow
}

/// `authorizeResourceSlice`: slices of the node; collections only with a `nodeName` selector.
fn authorize_resource_slice(graph: &Graph, r: &Req) -> Decision {
    if !r.attrs.subresource.is_empty() {
        return no_opinion("cannot authorize ResourceSlice subresources");
    }
    match r.attrs.verb.as_str() {
        // NodeRestriction checks the new object's nodeName.
        "create" => Decision::Allow,
        "get" | "update" | "patch" | "delete" => authorize_related(graph, r, VertexType::ResourceSlice),
        "watch" | "list" | "deletecollection" => {
            if r.selector.iter().any(|q| q.field == "nodeName" && q.equals && q.value == r.node) {
                Decision::Allow
            } else {
                no_opinion("can only list/watch/deletecollection resourceslices with nodeName field selector")
            }
        }
        _ => no_opinion(
            "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection",
        ),
    }
}

/// `authorizeNode`: a node reads only its own Node; writes are left to NodeRestriction.
fn authorize_node(r: &Req) -> Decision {
    let verb = r.attrs.verb.as_str();
    match r.attrs.subresource.as_str() {
        "" => match verb {
            "create" | "update" | "patch" => return Decision::Allow,
            // By name rather than graph, so a kubelet may look for its Node before creating it.
            "get" | "list" | "watch" => {
                return if r.name == r.node {
                    Decision::Allow
                } else if r.name.is_empty() {
                    no_opinion(format!("node '{}' cannot read all nodes, only its own Node object", r.node))
                } else {
                    no_opinion(format!("node '{}' cannot read '{}', only its own Node object", r.node, r.name))
                };
            }
            _ => {}
        },
        "status" if matches!(verb, "update" | "patch") => return Decision::Allow,
        _ => {}
    }
    no_opinion("")
}

/// `authorizePod`: reads of the node's pods; writes (mirror pods, status, eviction) are left
/// to NodeRestriction.
fn authorize_pod(graph: &Graph, r: &Req) -> Decision {
    let verb = r.attrs.verb.as_str();
    match r.attrs.subresource.as_str() {
        "" => match verb {
            "get" => return authorize_get(graph, r, VertexType::Pod),
            "list" | "watch" => {
                if r.selector.iter().any(|q| q.field == "spec.nodeName" && q.equals && q.value == r.node) {
                    return Decision::Allow;
                }
                if !r.name.is_empty() {
                    return authorize_related(graph, r, VertexType::Pod);
                }
                return no_opinion("can only list/watch pods with spec.nodeName field selector");
            }
            "create" | "delete" => return Decision::Allow,
            _ => {}
        },
        "status" if matches!(verb, "update" | "patch") => return Decision::Allow,
        "eviction" if verb == "create" => return Decision::Allow,
        _ => {}
    }
    no_opinion("")
}

/// What `RulesFor` reports for a user (used by SelfSubjectRulesReview).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesFor {
    pub resource_rules: Vec<PolicyRule>,
    pub non_resource_rules: Vec<PolicyRule>,
    /// Nodes' permissions depend on the graph, so they cannot be listed.
    pub incomplete: bool,
    /// Upstream's evaluation error, reported in the review's `evaluationError`.
    pub error: Option<String>,
}

/// `NodeAuthorizer.RulesFor`: nothing for anyone; for nodes, marked incomplete with an error.
pub fn rules_for(user: &str, groups: &[String]) -> RulesFor {
    if node_identity(user, groups).is_some() {
        RulesFor {
            incomplete: true,
            error: Some("node authorizer does not support user rule resolution".to_string()),
            ..Default::default()
        }
    } else {
        RulesFor::default()
    }
}
