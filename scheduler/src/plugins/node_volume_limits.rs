//! NodeVolumeLimits (CSI): a node takes at most `CSINode.spec.drivers[].allocatable.count`
//! volumes of each CSI driver, counting each volume once: those of the pods on it, those
//! attached to it (VolumeAttachments) and the new pod's. A volume is known by driver and handle
//! (`spec.csi` of its PV; for a claim not bound yet, the class's provisioner and the claim).
//! In-tree cloud disks count under their CSI driver, as with migration on (upstream's default
//! for aws-ebs, gce-pd, azure-disk and cinder).

use crate::framework::{Code, CycleState, Filter, Listers, NodeInfo, Plugin, PreFilter, Snapshot, Status};
use api_types::storage::{claim_class, pod_claims, volume_name_of};
use k8s_openapi::api::core::v1::{PersistentVolumeSpec, Pod, Volume};
use k8s_openapi::api::storage::v1::CSINode;
use std::collections::HashMap;
use std::sync::Arc;

pub const NAME: &str = "NodeVolumeLimits";
pub const ERR_REASON: &str = "node(s) exceed max volume count";

/// In-tree provisioners and volume sources whose CSI driver counts them.
const MIGRATED: [(&str, &str); 4] = [
    ("kubernetes.io/aws-ebs", "ebs.csi.aws.com"),
    ("kubernetes.io/gce-pd", "pd.csi.storage.gke.io"),
    ("kubernetes.io/azure-disk", "disk.csi.azure.com"),
    ("kubernetes.io/cinder", "cinder.csi.openstack.org"),
];

pub struct NodeVolumeLimits {
    listers: Arc<dyn Listers>,
    /// Makes the handles of claims not bound yet unique to this scheduler (upstream's
    /// `randomVolumeIDPrefix`).
    prefix: String,
}

/// An in-tree source (inline or in a PV) as its CSI driver and volume handle.
fn translated(
    spec_gce: Option<&str>,
    ebs: Option<&str>,
    azure: Option<&str>,
    cinder: Option<&str>,
) -> Option<(String, String)> {
    if let Some(pd) = spec_gce {
        return Some((MIGRATED[1].1.into(), format!("projects/UNSPECIFIED/zones/UNSPECIFIED/disks/{pd}")));
    }
    if let Some(id) = ebs {
        return Some((MIGRATED[0].1.into(), id.rsplit('/').next().unwrap_or(id).to_string()));
    }
    if let Some(uri) = azure {
        return Some((MIGRATED[2].1.into(), uri.to_string()));
    }
    cinder.map(|id| (MIGRATED[3].1.to_string(), id.to_string()))
}

fn inline_translated(v: &Volume) -> Option<(String, String)> {
    translated(
        v.gce_persistent_disk.as_ref().map(|s| s.pd_name.as_str()),
        v.aws_elastic_block_store.as_ref().map(|s| s.volume_id.as_str()),
        v.azure_disk.as_ref().map(|s| s.disk_uri.as_str()),
        v.cinder.as_ref().map(|s| s.volume_id.as_str()),
    )
}

fn pv_translated(s: &PersistentVolumeSpec) -> Option<(String, String)> {
    if let Some(csi) = &s.csi {
        return Some((csi.driver.clone(), csi.volume_handle.clone()));
    }
    translated(
        s.gce_persistent_disk.as_ref().map(|s| s.pd_name.as_str()),
        s.aws_elastic_block_store.as_ref().map(|s| s.volume_id.as_str()),
        s.azure_disk.as_ref().map(|s| s.disk_uri.as_str()),
        s.cinder.as_ref().map(|s| s.volume_id.as_str()),
    )
}

fn relevant(v: &Volume) -> bool {
    v.persistent_volume_claim.is_some() || v.ephemeral.is_some() || inline_translated(v).is_some()
}

impl NodeVolumeLimits {
    pub fn new(listers: Arc<dyn Listers>) -> NodeVolumeLimits {
        let prefix: String = (0..32).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
        NodeVolumeLimits { listers, prefix }
    }

    /// `filterAttachableVolumes`: unique volume name -> driver. For the new pod a missing
    /// claim is a rejection; for placed pods it is not counted.
    fn attachable(
        &self,
        pod: &Pod,
        new_pod: bool,
        csi_node: Option<&CSINode>,
        out: &mut HashMap<String, String>,
    ) -> Result<(), Status> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let vols = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or(&[]);
        for v in vols.iter().filter(|v| v.persistent_volume_claim.is_none() && v.ephemeral.is_none()) {
            if let Some((driver, handle)) = inline_translated(v).filter(|_| csi_node.is_some()) {
                out.insert(format!("{driver}/{handle}"), driver);
            }
        }
        for (claim, _) in pod_claims(pod) {
            if claim.is_empty() {
                return Err(Status::new(Code::Error, "PersistentVolumeClaim had no name"));
            }
            let Some(pvc) = self.listers.pvc(ns, &claim) else {
                if new_pod {
                    return Err(Status::new(
                        Code::UnschedulableAndUnresolvable,
                        format!("looking up PVC {ns}/{claim}: persistentvolumeclaim {claim:?} not found"),
                    ));
                }
                continue;
            };
            let from_pv =
                Some(volume_name_of(&pvc)).filter(|n| !n.is_empty()).and_then(|n| self.listers.pv(n)).map(|pv| {
                    pv.spec.as_ref().and_then(pv_translated).filter(|(d, _)| csi_node.is_some() || !is_migrated(d))
                });
            let found = match from_pv {
                Some(t) => t,
                None => {
                    // Not bound yet (or its volume is gone): the class's provisioner.
                    let class = claim_class(&pvc);
                    let sc = if class.is_empty() { None } else { self.listers.storage_class(class) };
                    sc.and_then(|sc| {
                        let driver = match MIGRATED.iter().find(|(p, _)| *p == sc.provisioner) {
                            Some((_, d)) => csi_node.map(|_| d.to_string())?,
                            None if sc.provisioner.starts_with("kubernetes.io/") => return None,
                            None => sc.provisioner.clone(),
                        };
                        Some((driver, format!("{}-{ns}/{claim}", self.prefix)))
                    })
                }
            };
            if let Some((driver, handle)) = found.filter(|(d, h)| !d.is_empty() && !h.is_empty()) {
                out.insert(format!("{driver}/{handle}"), driver);
            }
        }
        Ok(())
    }
}

fn is_migrated(driver: &str) -> bool {
    MIGRATED.iter().any(|(_, d)| *d == driver)
}

impl Plugin for NodeVolumeLimits {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for NodeVolumeLimits {
    fn pre_filter(&self, _: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let vols = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or(&[]);
        if vols.iter().any(relevant) {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl Filter for NodeVolumeLimits {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).is_none_or(|v| v.is_empty()) {
            return Status::success();
        }
        let csi_node = self.listers.csi_node(node.name());
        let mut new_volumes = HashMap::new();
        if let Err(st) = self.attachable(pod, true, csi_node.as_deref(), &mut new_volumes) {
            return st;
        }
        if new_volumes.is_empty() {
            return Status::success();
        }
        let limits: HashMap<&str, i32> = csi_node
            .as_ref()
            .map(|c| {
                c.spec.drivers.iter().filter_map(|d| Some((d.name.as_str(), d.allocatable.as_ref()?.count?))).collect()
            })
            .unwrap_or_default();
        if limits.is_empty() {
            return Status::success();
        }
        let mut attached = HashMap::new();
        for p in &node.pods {
            if let Err(st) = self.attachable(&p.pod, false, csi_node.as_deref(), &mut attached) {
                if st.code == Code::Error {
                    return st;
                }
            }
        }
        let mut counts: HashMap<String, i32> = HashMap::new();
        for (unique, driver) in &attached {
            new_volumes.remove(unique);
            *counts.entry(driver.clone()).or_default() += 1;
        }
        for va in self.listers.volume_attachments() {
            if va.spec.node_name != node.name() || va.spec.attacher.is_empty() {
                continue;
            }
            let Some(pv) = va.spec.source.persistent_volume_name.as_deref().and_then(|n| self.listers.pv(n)) else {
                continue;
            };
            let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) else { continue };
            if !attached.contains_key(&format!("{}/{}", va.spec.attacher, csi.volume_handle)) {
                *counts.entry(va.spec.attacher.clone()).or_default() += 1;
            }
        }
        let mut wanted: HashMap<&str, i32> = HashMap::new();
        for driver in new_volumes.values() {
            *wanted.entry(driver.as_str()).or_default() += 1;
        }
        for (driver, n) in wanted {
            if let Some(limit) = limits.get(driver) {
                if counts.get(driver).copied().unwrap_or(0) + n > *limit {
                    return Status::new(Code::Unschedulable, ERR_REASON);
                }
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::PodInfo;
    use crate::plugins::testing::{obj, Fake};
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn pod(name: &str, claims: &[&str]) -> Arc<Pod> {
        let vols: Vec<serde_json::Value> =
            claims.iter().map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}})).collect();
        obj(json!({"metadata": {"name": name, "namespace": "d"}, "spec": {"containers": [], "volumes": vols}}))
    }

    #[test]
    fn a_node_takes_as_many_volumes_of_a_driver_as_its_csinode_allows() {
        let claim =
            |n: &str, pv: &str| obj(json!({"metadata": {"name": n, "namespace": "d"}, "spec": {"volumeName": pv}}));
        let pv = |n: &str| {
            obj(json!({"metadata": {"name": n}, "spec": {"csi": {"driver": "csi.example.com", "volumeHandle": n}}}))
        };
        let nvl = NodeVolumeLimits::new(Arc::new(Fake {
            pvcs: vec![claim("a", "pv-a"), claim("b", "pv-b"), claim("c", "pv-c")],
            pvs: vec![pv("pv-a"), pv("pv-b"), pv("pv-c")],
            csi_nodes: vec![obj(json!({"metadata": {"name": "n"}, "spec": {"drivers": [
                {"name": "csi.example.com", "nodeID": "n", "allocatable": {"count": 2}}]}}))],
            ..Default::default()
        }));
        let mut node = NodeInfo::default();
        node.set_node(obj::<Node>(json!({"metadata": {"name": "n"}})));
        node.add_pod(Arc::new(PodInfo::new(pod("on", &["a"]))));
        let st = CycleState::default();
        assert!(nvl.filter(&st, &pod("p", &["b"]), &node).is_success());
        // A shared volume counts once.
        assert!(nvl.filter(&st, &pod("p", &["a", "b"]), &node).is_success());
        let full = nvl.filter(&st, &pod("p", &["b", "c"]), &node);
        assert_eq!((full.code, full.message()), (Code::Unschedulable, ERR_REASON.to_string()));
        let missing = nvl.filter(&st, &pod("p", &["x"]), &node);
        assert_eq!(missing.message(), "looking up PVC d/x: persistentvolumeclaim \"x\" not found");
    }
}
