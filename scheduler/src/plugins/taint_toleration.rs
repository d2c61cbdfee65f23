//! TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate keep it off a node;
//! untolerated PreferNoSchedule taints lower the node's score.

use crate::framework::{
    default_normalize, Code, CycleState, Filter, NodeInfo, Plugin, PreScore, Score, Snapshot, Status,
};
use api_types::scheduling::tolerates;
use k8s_openapi::api::core::v1::{Pod, Toleration};
use std::sync::Arc;

pub struct TaintToleration;

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or(&[])
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let tols = tolerations(pod);
        let untolerated = node
            .taints
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|taint| !tols.iter().any(|t| tolerates(t, taint)));
        match untolerated {
            None => Status::success(),
            Some(t) => Status::new(
                Code::UnschedulableAndUnresolvable,
                format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value.as_deref().unwrap_or("")),
            ),
        }
    }
}

const STATE: &str = "PreScoreTaintToleration";

impl PreScore for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let prefer: Vec<Toleration> = tolerations(pod)
            .iter()
            .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some("PreferNoSchedule")))
            .cloned()
            .collect();
        state.write(STATE, prefer);
        Status::success()
    }
}

impl Score for TaintToleration {
    fn score(&self, state: &CycleState, _: &Pod, node: &NodeInfo) -> i64 {
        let tols: &[Toleration] = state.read::<Vec<Toleration>>(STATE).map_or(&[], |v| v.as_slice());
        let n = node
            .taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tols.iter().any(|tol| tolerates(tol, t)))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    fn normalize(&self, _: &CycleState, _: &Pod, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}
