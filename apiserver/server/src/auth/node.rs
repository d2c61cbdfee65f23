//! The Node authorizer's view: which secrets, configmaps, volumes and service accounts each
//! node's pods use, kept from the pods, persistentvolumes and volumeattachments caches.

use nodeauthz::{Graph, ObjectKind};
use std::sync::{Arc, RwLock};
use storage::EventType;

#[derive(Default)]
pub struct NodeGraph {
    graph: RwLock<Graph>,
}

impl NodeGraph {
    pub fn authorize(&self, a: &::rbac::Attributes) -> nodeauthz::Decision {
        let g = self.graph.read().unwrap_or_else(|p| p.into_inner());
        let sel = (!a.field_selector.is_empty()).then_some(a.field_selector.as_str());
        nodeauthz::authorize(&g, a, sel)
    }
}

/// Feeds the graph. A reload re-adds every object (the graph keys edges by object, so a
/// re-add replaces).
pub fn start(st: Arc<crate::ApiServer>, graph: Arc<NodeGraph>) {
    use crate::backend::Change;
    for (group, version, plural, kind) in [
        ("", "v1", "pods", ObjectKind::Pod),
        ("", "v1", "persistentvolumes", ObjectKind::PersistentVolume),
        ("storage.k8s.io", "v1", "volumeattachments", ObjectKind::VolumeAttachment),
    ] {
        let Some(rd) = api_types::lookup(group, version, plural) else { continue };
        let graph = graph.clone();
        crate::backend::follow(st.clone(), rd, move |c| {
            let Change::Apply(ev, o) = c else { return };
            let deleted = ev == EventType::Deleted;
            let v = match kind {
                // An unbound pod grants nothing (spec.nodeName is one of the cache's selectable
                // fields): most pod writes before binding cost no decode here.
                ObjectKind::Pod if !deleted && o.field("spec.nodeName").unwrap_or("").is_empty() => return,
                ObjectKind::Pod => pod_view(o),
                _ => o.value(),
            };
            graph.graph.write().unwrap_or_else(|p| p.into_inner()).apply(kind, deleted, &v);
        });
    }
}

/// The parts of a pod the graph reads (names, the mirror annotation, the spec and resource
/// claim statuses), decoded without the rest of its status and its managedFields.
fn pod_view(o: &storage::Obj) -> serde_json::Value {
    #[derive(serde::Deserialize)]
    struct Pod {
        #[serde(default)]
        metadata: Meta,
        #[serde(default)]
        spec: serde_json::Value,
        #[serde(default)]
        status: Status,
    }
    #[derive(serde::Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        name: serde_json::Value,
        #[serde(default)]
        namespace: serde_json::Value,
        #[serde(default)]
        annotations: serde_json::Value,
    }
    #[derive(serde::Deserialize, Default)]
    struct Status {
        #[serde(default, rename = "resourceClaimStatuses")]
        resource_claim_statuses: serde_json::Value,
    }
    let Ok(p) = serde_json::from_slice::<Pod>(o.list_item()) else { return o.value() };
    serde_json::json!({
        "metadata": {"name": p.metadata.name, "namespace": p.metadata.namespace, "annotations": p.metadata.annotations},
        "spec": p.spec,
        "status": {"resourceClaimStatuses": p.status.resource_claim_statuses},
    })
}
