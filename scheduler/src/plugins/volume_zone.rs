//! VolumeZone: a pod whose bound volumes carry zone or region labels fits only nodes in those
//! zones and regions (a `__`-separated label value lists several). Nodes without any topology
//! label pass; unbound `WaitForFirstConsumer` claims are VolumeBinding's business.

use crate::framework::{Code, CycleState, Filter, Listers, NodeInfo, Plugin, PreFilter, Snapshot, Status};
use api_types::storage::{claim_class, delay_binding, volume_name_of};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashSet;
use std::sync::Arc;

pub const NAME: &str = "VolumeZone";
const STATE: &str = "PreFilterVolumeZone";
pub const ERR_REASON: &str = "node(s) had no available volume zone";

const BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
const ZONE: &str = "topology.kubernetes.io/zone";
const REGION: &str = "topology.kubernetes.io/region";
const TOPOLOGY_LABELS: [&str; 4] = [BETA_ZONE, BETA_REGION, ZONE, REGION];

pub struct VolumeZone {
    listers: Arc<dyn Listers>,
}

/// One topology label of a bound volume: the key and the values it allows.
type Topology = (String, HashSet<String>);

impl VolumeZone {
    pub fn new(listers: Arc<dyn Listers>) -> VolumeZone {
        VolumeZone { listers }
    }

    /// `getPVbyPod`: the topology labels of the pod's bound volumes, or the rejection.
    fn topologies(&self, pod: &Pod) -> Result<Vec<Topology>, Status> {
        let uu = |m: String| Status::new(Code::UnschedulableAndUnresolvable, m);
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let mut out = Vec::new();
        let claims = pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten();
        for c in claims.filter_map(|v| v.persistent_volume_claim.as_ref()) {
            let name = c.claim_name.as_str();
            if name.is_empty() {
                return Err(uu("PersistentVolumeClaim had no name".into()));
            }
            let pvc =
                self.listers.pvc(ns, name).ok_or_else(|| uu(format!("persistentvolumeclaim {name:?} not found")))?;
            let pv_name = volume_name_of(&pvc);
            if pv_name.is_empty() {
                let class = claim_class(&pvc);
                if class.is_empty() {
                    return Err(uu("PersistentVolumeClaim had no pv name and storageClass name".into()));
                }
                let sc = self
                    .listers
                    .storage_class(class)
                    .ok_or_else(|| uu(format!("storageclass.storage.k8s.io {class:?} not found")))?;
                match delay_binding(class, Some(&sc)) {
                    Err(e) => return Err(uu(e)),
                    Ok(true) => continue,
                    Ok(false) => return Err(uu("PersistentVolume had no name".into())),
                }
            }
            let pv = self.listers.pv(pv_name).ok_or_else(|| uu(format!("persistentvolume {pv_name:?} not found")))?;
            for key in TOPOLOGY_LABELS {
                let Some(v) = pv.metadata.labels.as_ref().and_then(|l| l.get(key)) else { continue };
                let values: HashSet<String> = v.split("__").map(|s| s.trim().to_string()).collect();
                // A malformed value (an empty part) is ignored, as upstream.
                if values.iter().any(String::is_empty) {
                    continue;
                }
                out.push((key.to_string(), values));
            }
        }
        Ok(out)
    }
}

impl Plugin for VolumeZone {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for VolumeZone {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        match self.topologies(pod) {
            Err(st) => st,
            Ok(t) if t.is_empty() => Status::skip(),
            Ok(t) => {
                state.write(STATE, t);
                Status::success()
            }
        }
    }
}

impl Filter for VolumeZone {
    fn filter(&self, state: &CycleState, _: &Pod, node: &NodeInfo) -> Status {
        let Some(topologies) = state.read::<Vec<Topology>>(STATE) else { return Status::success() };
        // Single-zone clusters label nothing: every node passes.
        if !TOPOLOGY_LABELS.iter().any(|k| node.label(k).is_some()) {
            return Status::success();
        }
        for (key, values) in topologies {
            let ga = match key.as_str() {
                BETA_ZONE => Some(ZONE),
                BETA_REGION => Some(REGION),
                _ => None,
            };
            let v = node.label(key).or_else(|| ga.and_then(|g| node.label(g)));
            if v.is_none_or(|v| !values.contains(v)) {
                return Status::new(Code::UnschedulableAndUnresolvable, ERR_REASON);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{obj, Fake};
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn node(labels: serde_json::Value) -> NodeInfo {
        let mut n = NodeInfo::default();
        n.set_node(obj::<Node>(json!({"metadata": {"name": "n", "labels": labels}})));
        n
    }

    #[test]
    fn bound_volumes_keep_the_pod_in_their_zones() {
        let vz = VolumeZone::new(Arc::new(Fake {
            pvcs: vec![obj(json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"volumeName": "v"}}))],
            pvs: vec![obj(json!({"metadata": {"name": "v", "labels": {
                "failure-domain.beta.kubernetes.io/zone": "z1__z2", "topology.kubernetes.io/region": "r1"}}}))],
            ..Default::default()
        }));
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {
            "containers": [], "volumes": [{"name": "x", "persistentVolumeClaim": {"claimName": "c"}}]}}))
        .unwrap();
        let mut st = CycleState::default();
        assert!(vz.pre_filter(&mut st, &pod, &Snapshot::default()).is_success());
        let ok = |labels| vz.filter(&st, &pod, &node(labels)).is_success();
        // The beta zone label of the volume matches the node's GA label.
        assert!(ok(json!({"topology.kubernetes.io/zone": "z2", "topology.kubernetes.io/region": "r1"})));
        assert!(!ok(json!({"topology.kubernetes.io/zone": "z3", "topology.kubernetes.io/region": "r1"})));
        assert!(ok(json!({})), "a node without topology labels passes");
        let st_missing = vz.pre_filter(&mut CycleState::default(), &Pod { metadata: pod.metadata.clone(), spec: Some(
            serde_json::from_value(json!({"containers": [], "volumes": [{"name": "x", "persistentVolumeClaim": {"claimName": "nope"}}]})).unwrap()), status: None }, &Snapshot::default());
        assert_eq!(st_missing.message(), "persistentvolumeclaim \"nope\" not found");
        assert_eq!(vz.filter(&st, &pod, &node(json!({"topology.kubernetes.io/zone": "z9"}))).message(), ERR_REASON);
    }
}
