//! The Node authorizer's graph: which objects lead to which node. All edges point toward
//! nodes (`secret -> pod -> node`, `secret -> pv -> pvc -> pod -> node`, `attachment -> node`),
//! so "may node N read object X" is "is N reachable from X". It is built from watch events
//! of pods, persistent volumes, volume attachments and resource slices, as upstream's
//! informer-fed `graph_populator` does.

use crate::refs::{
    pod_configmap_names, pod_pvc_names, pod_resource_claim_names, pod_secret_names, pv_secret_refs, str_at,
};
use api_types::json::Ptr;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The annotation that marks a mirror pod (the API copy of a kubelet's static pod).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The kinds of objects whose events build the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// core/v1 pods: bound pods link their references to their node.
    Pod,
    /// core/v1 persistentvolumes: link their secrets to the bound claim.
    PersistentVolume,
    /// storage.k8s.io volumeattachments: link to `spec.nodeName`.
    VolumeAttachment,
    /// resource.k8s.io resourceslices: link to `spec.nodeName`.
    ResourceSlice,
}

impl ObjectKind {
    /// The kind whose events the graph needs for an API group and resource, if any.
    pub fn from_resource(group: &str, resource: &str) -> Option<ObjectKind> {
        match (group, resource) {
            ("", "pods") => Some(ObjectKind::Pod),
            ("", "persistentvolumes") => Some(ObjectKind::PersistentVolume),
            ("storage.k8s.io", "volumeattachments") => Some(ObjectKind::VolumeAttachment),
            ("resource.k8s.io", "resourceslices") => Some(ObjectKind::ResourceSlice),
            _ => None,
        }
    }
}

/// Vertex types, as upstream's `vertexType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum VertexType {
    ConfigMap,
    ResourceSlice,
    Node,
    Pod,
    Pvc,
    Pv,
    ResourceClaim,
    Secret,
    VolumeAttachment,
    ServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Vertex {
    ty: VertexType,
    namespace: String,
    name: String,
}

fn vertex(ty: VertexType, namespace: &str, name: &str) -> Vertex {
    Vertex { ty, namespace: namespace.to_string(), name: name.to_string() }
}

/// A directed graph of API objects toward nodes. Each watched object owns the edges its
/// event produced, so a later event (or deletion) replaces exactly those edges; shared
/// vertices such as a secret used by two pods keep the other owner's edges.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// from -> (to -> number of owners contributing the edge).
    edges: HashMap<Vertex, HashMap<Vertex, u32>>,
    /// owner object -> the edges it contributed.
    owned: HashMap<Vertex, Vec<(Vertex, Vertex)>>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one watch event (added/modified, or `deleted`) of `kind`. Objects without the
    /// fields the graph needs are ignored rather than rejected.
    pub fn apply(&mut self, kind: ObjectKind, deleted: bool, obj: &Value) {
        let name = str_at(obj, "/metadata/name");
        match kind {
            ObjectKind::Pod => {
                let ns = str_at(obj, "/metadata/namespace");
                if deleted {
                    self.remove_owner(&vertex(VertexType::Pod, ns, name));
                } else {
                    self.add_pod(obj);
                }
            }
            ObjectKind::PersistentVolume => {
                if deleted {
                    self.remove_owner(&vertex(VertexType::Pv, "", name));
                } else {
                    self.add_pv(obj);
                }
            }
            ObjectKind::VolumeAttachment => {
                let node = if deleted { "" } else { str_at(obj, "/spec/nodeName") };
                self.set_node_link(VertexType::VolumeAttachment, name, node);
            }
            ObjectKind::ResourceSlice => {
                let node = if deleted { "" } else { str_at(obj, "/spec/nodeName") };
                self.set_node_link(VertexType::ResourceSlice, name, node);
            }
        }
    }

    /// Forgets everything, e.g. before replaying a fresh list after a watch was lost.
    pub fn clear(&mut self) {
        self.edges.clear();
        self.owned.clear();
    }

    /// `AddPod`: a bound pod links to its node, and everything it references links to it.
    /// Unbound pods are ignored (as upstream: they grant no node anything yet). The pod's
    /// references are recomputed on every event, which covers ephemeral containers and
    /// resource claim statuses added later.
    fn add_pod(&mut self, pod: &Value) {
        let node_name = str_at(pod, "/spec/nodeName");
        if node_name.is_empty() {
            return;
        }
        let ns = str_at(pod, "/metadata/namespace");
        let pod_v = vertex(VertexType::Pod, ns, str_at(pod, "/metadata/name"));
        let mut edges = vec![(pod_v.clone(), vertex(VertexType::Node, "", node_name))];
        // A node must never gain access to other objects by creating a mirror pod.
        let mirror = pod.ptr("/metadata/annotations").and_then(|a| a.get(MIRROR_POD_ANNOTATION)).is_some();
        if !mirror {
            let sa = str_at(pod, "/spec/serviceAccountName");
            if !sa.is_empty() {
                edges.push((vertex(VertexType::ServiceAccount, ns, sa), pod_v.clone()));
            }
            let refs = [
                (VertexType::Secret, pod_secret_names(pod)),
                (VertexType::ConfigMap, pod_configmap_names(pod)),
                (VertexType::Pvc, pod_pvc_names(pod)),
                (VertexType::ResourceClaim, pod_resource_claim_names(pod)),
            ];
            for (ty, names) in refs {
                edges.extend(names.iter().map(|n| (vertex(ty, ns, n), pod_v.clone())));
            }
        }
        self.set_owner(pod_v, edges);
    }

    /// `AddPV`: a PV with a claim reference links to that claim, and its kubelet-visible
    /// secrets link to it. Without a claim it grants nothing.
    fn add_pv(&mut self, pv: &Value) {
        let pv_v = vertex(VertexType::Pv, "", str_at(pv, "/metadata/name"));
        let mut edges = Vec::new();
        if let Some(claim) = pv.ptr("/spec/claimRef").filter(|c| c.is_object()) {
            let pvc = vertex(VertexType::Pvc, str_at(claim, "/namespace"), str_at(claim, "/name"));
            edges.push((pv_v.clone(), pvc));
            for s in pv_secret_refs(pv).into_iter().filter(|s| s.kubelet_visible) {
                edges.push((vertex(VertexType::Secret, &s.namespace, &s.name), pv_v.clone()));
            }
        }
        self.set_owner(pv_v, edges);
    }

    /// Volume attachments and resource slices link straight to the node they name.
    fn set_node_link(&mut self, ty: VertexType, name: &str, node: &str) {
        let v = vertex(ty, "", name);
        let edges = if node.is_empty() { Vec::new() } else { vec![(v.clone(), vertex(VertexType::Node, "", node))] };
        self.set_owner(v, edges);
    }

    fn set_owner(&mut self, owner: Vertex, edges: Vec<(Vertex, Vertex)>) {
        self.remove_owner(&owner);
        if edges.is_empty() {
            return;
        }
        for (from, to) in &edges {
            *self.edges.entry(from.clone()).or_default().entry(to.clone()).or_default() += 1;
        }
        self.owned.insert(owner, edges);
    }

    fn remove_owner(&mut self, owner: &Vertex) {
        let Some(edges) = self.owned.remove(owner) else { return };
        for (from, to) in edges {
            if let Some(outs) = self.edges.get_mut(&from) {
                if let Some(count) = outs.get_mut(&to) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        outs.remove(&to);
                    }
                }
                if outs.is_empty() {
                    self.edges.remove(&from);
                }
            }
        }
    }

    /// `hasPathFrom`: whether `node` is reachable from the object. Other nodes are dead ends.
    pub(crate) fn has_path(&self, node: &str, ty: VertexType, namespace: &str, name: &str) -> bool {
        let target = vertex(VertexType::Node, "", node);
        let start = vertex(ty, namespace, name);
        let mut seen: HashSet<&Vertex> = HashSet::new();
        let mut stack: Vec<&Vertex> = vec![&start];
        while let Some(v) = stack.pop() {
            let Some(outs) = self.edges.get(v) else { continue };
            for next in outs.keys() {
                if *next == target {
                    return true;
                }
                if next.ty != VertexType::Node && seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        false
    }

    /// Number of edges, for metrics and tests.
    pub fn edge_count(&self) -> usize {
        self.edges.values().map(HashMap::len).sum()
    }
}
