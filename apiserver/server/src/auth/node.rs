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

/// The parts of a pod the graph reads (names, the mirror annotation, the spec fields that
/// reference other objects and resource claim statuses). Everything else, most of a pod, is
/// skipped by the decoder without being built: this runs for every bound pod's every change.
fn pod_view(o: &storage::Obj) -> serde_json::Value {
    use serde_json::Value;
    #[derive(serde::Deserialize)]
    struct Pod {
        #[serde(default)]
        metadata: Meta,
        #[serde(default)]
        spec: Spec,
        #[serde(default)]
        status: Status,
    }
    #[derive(serde::Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        name: Value,
        #[serde(default)]
        namespace: Value,
        #[serde(default)]
        annotations: Value,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Spec {
        #[serde(default)]
        node_name: Value,
        #[serde(default)]
        service_account_name: Value,
        #[serde(default)]
        image_pull_secrets: Value,
        #[serde(default)]
        init_containers: Option<Vec<Refs>>,
        #[serde(default)]
        containers: Option<Vec<Refs>>,
        #[serde(default)]
        ephemeral_containers: Option<Vec<Refs>>,
        #[serde(default)]
        volumes: Value,
        #[serde(default)]
        resource_claims: Value,
    }
    /// A container's references: its environment.
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Refs {
        #[serde(default)]
        env: Value,
        #[serde(default, rename = "envFrom")]
        env_from: Value,
    }
    #[derive(serde::Deserialize, Default)]
    struct Status {
        #[serde(default, rename = "resourceClaimStatuses")]
        resource_claim_statuses: Value,
    }
    let Ok(p) = serde_json::from_slice::<Pod>(o.list_item()) else { return o.value() };
    let list = |c: Option<Vec<Refs>>| serde_json::to_value(c).unwrap_or(Value::Null);
    let s = p.spec;
    serde_json::json!({
        "metadata": {"name": p.metadata.name, "namespace": p.metadata.namespace, "annotations": p.metadata.annotations},
        "spec": {
            "nodeName": s.node_name,
            "serviceAccountName": s.service_account_name,
            "imagePullSecrets": s.image_pull_secrets,
            "initContainers": list(s.init_containers),
            "containers": list(s.containers),
            "ephemeralContainers": list(s.ephemeral_containers),
            "volumes": s.volumes,
            "resourceClaims": s.resource_claims,
        },
        "status": {"resourceClaimStatuses": p.status.resource_claim_statuses},
    })
}
