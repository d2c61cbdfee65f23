//! VolumeRestrictions: inline disks that cannot be mounted twice on one node (GCE PD unless
//! both read-only, AWS EBS, RBD and iSCSI unless both read-only), and ReadWriteOncePod
//! claims already used by a pod anywhere in the cluster.

use crate::framework::{Code, CycleState, Filter, Listers, NodeInfo, Plugin, PodInfo, PreFilter, Snapshot, Status};
use k8s_openapi::api::core::v1::{Pod, Volume};
use std::collections::HashSet;
use std::sync::Arc;

pub const NAME: &str = "VolumeRestrictions";
const STATE: &str = "PreFilterVolumeRestrictions";
pub const ERR_DISK_CONFLICT: &str = "node(s) had no available disk";
pub const ERR_READ_WRITE_ONCE_POD_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

pub struct VolumeRestrictions {
    listers: Arc<dyn Listers>,
}

#[derive(Clone, Default)]
struct State {
    /// The pod's ReadWriteOncePod claim names.
    rwop: HashSet<String>,
    /// How many of them a placed pod already uses.
    conflicts: i64,
}

fn needs_check(v: &Volume) -> bool {
    v.gce_persistent_disk.is_some() || v.aws_elastic_block_store.is_some() || v.rbd.is_some() || v.iscsi.is_some()
}

/// `isVolumeConflict`: the two inline volumes name the same disk in a way that cannot share.
fn conflict(a: &Volume, b: &Volume) -> bool {
    if let (Some(x), Some(y)) = (&a.gce_persistent_disk, &b.gce_persistent_disk) {
        return x.pd_name == y.pd_name && !(x.read_only == Some(true) && y.read_only == Some(true));
    }
    if let (Some(x), Some(y)) = (&a.aws_elastic_block_store, &b.aws_elastic_block_store) {
        return x.volume_id == y.volume_id;
    }
    if let (Some(x), Some(y)) = (&a.iscsi, &b.iscsi) {
        return x.iqn == y.iqn && !(x.read_only == Some(true) && y.read_only == Some(true));
    }
    if let (Some(x), Some(y)) = (&a.rbd, &b.rbd) {
        return x.monitors.iter().any(|m| y.monitors.contains(m))
            && x.pool.as_deref().unwrap_or("") == y.pool.as_deref().unwrap_or("")
            && x.image == y.image
            && !(x.read_only == Some(true) && y.read_only == Some(true));
    }
    false
}

fn volumes(p: &Pod) -> &[Volume] {
    p.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or(&[])
}

impl VolumeRestrictions {
    pub fn new(listers: Arc<dyn Listers>) -> VolumeRestrictions {
        VolumeRestrictions { listers }
    }

    /// How many of `other`'s claims (by name only, as upstream) are among the pod's RWOP claims.
    fn shared(st: &State, other: &Pod) -> i64 {
        let n = volumes(other)
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .filter(|c| st.rwop.contains(&c.claim_name))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

impl Plugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for VolumeRestrictions {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, snap: &Snapshot) -> Status {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let check = volumes(pod).iter().any(needs_check);
        let mut st = State::default();
        for c in volumes(pod).iter().filter_map(|v| v.persistent_volume_claim.as_ref()) {
            let Some(pvc) = self.listers.pvc(ns, &c.claim_name) else {
                return Status::new(
                    Code::UnschedulableAndUnresolvable,
                    format!("persistentvolumeclaim {:?} not found", c.claim_name),
                );
            };
            let modes = pvc.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or(&[]);
            if modes.iter().any(|m| m == "ReadWriteOncePod") {
                st.rwop.insert(c.claim_name.clone());
            }
        }
        st.conflicts = st.rwop.iter().filter(|n| snap.used_pvcs.contains_key(&format!("{ns}/{n}"))).count() as i64;
        if !check && st.conflicts == 0 {
            return Status::skip();
        }
        state.write(STATE, st);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, _: &Pod, added: &PodInfo, _: &NodeInfo) {
        state.update::<State>(STATE, |st| st.conflicts += Self::shared(st, &added.pod));
    }

    fn remove_pod(&self, state: &mut CycleState, _: &Pod, removed: &PodInfo, _: &NodeInfo) {
        state.update::<State>(STATE, |st| st.conflicts -= Self::shared(st, &removed.pod));
    }
}

impl Filter for VolumeRestrictions {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        for v in volumes(pod).iter().filter(|v| needs_check(v)) {
            if node.pods.iter().any(|p| volumes(&p.pod).iter().any(|e| conflict(v, e))) {
                return Status::new(Code::Unschedulable, ERR_DISK_CONFLICT);
            }
        }
        let Some(st) = state.read::<State>(STATE) else {
            return Status::new(Code::Error, format!("cannot read {STATE:?} from cycleState"));
        };
        if st.conflicts > 0 {
            return Status::new(Code::Unschedulable, ERR_READ_WRITE_ONCE_POD_CONFLICT);
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vol(v: serde_json::Value) -> Volume {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn disks_conflict_as_upstream() {
        let pd = |ro: bool| vol(json!({"name": "v", "gcePersistentDisk": {"pdName": "d", "readOnly": ro}}));
        assert!(conflict(&pd(false), &pd(true)));
        assert!(!conflict(&pd(true), &pd(true)));
        let ebs = |ro: bool| vol(json!({"name": "v", "awsElasticBlockStore": {"volumeID": "x", "readOnly": ro}}));
        assert!(conflict(&ebs(true), &ebs(true)));
        let rbd = |mons: &[&str]| vol(json!({"name": "v", "rbd": {"monitors": mons, "image": "i", "pool": "p"}}));
        assert!(conflict(&rbd(&["a", "b"]), &rbd(&["b"])));
        assert!(!conflict(&rbd(&["a"]), &rbd(&["b"])));
        assert!(!conflict(&pd(false), &ebs(false)));
    }

    #[test]
    fn a_read_write_once_pod_claim_in_use_keeps_the_pod_out_unless_its_user_goes() {
        use crate::framework::PodInfo;
        use crate::plugins::testing::{obj, Fake};
        let vr = VolumeRestrictions::new(Arc::new(Fake {
            pvcs: vec![obj(json!({"metadata": {"name": "c", "namespace": "d"},
                "spec": {"accessModes": ["ReadWriteOncePod"]}}))],
            ..Default::default()
        }));
        let user: Arc<Pod> = obj(json!({"metadata": {"name": "u", "namespace": "d"}, "spec": {"containers": [],
            "nodeName": "n", "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]}}));
        let mut node = NodeInfo::default();
        node.add_pod(Arc::new(PodInfo::new(user.clone())));
        let snap = Snapshot::new(vec![Arc::new(node.clone())]);
        let p = Pod {
            metadata: serde_json::from_value(json!({"name": "p", "namespace": "d"})).unwrap(),
            ..(*user).clone()
        };
        let mut st = CycleState::default();
        assert!(vr.pre_filter(&mut st, &p, &Snapshot::default()).code == Code::Skip, "unused: nothing to check");
        assert!(vr.pre_filter(&mut st, &p, &snap).is_success());
        assert_eq!(vr.filter(&st, &p, &node).message(), ERR_READ_WRITE_ONCE_POD_CONFLICT);
        vr.remove_pod(&mut st, &p, &PodInfo::new(user), &node);
        assert!(vr.filter(&st, &p, &node).is_success(), "preempting the user would help");
    }
}
