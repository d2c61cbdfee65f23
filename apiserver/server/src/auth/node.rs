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
            if let Change::Apply(ev, v) = c {
                graph.graph.write().unwrap_or_else(|p| p.into_inner()).apply(kind, ev == EventType::Deleted, v);
            }
        });
    }
}
