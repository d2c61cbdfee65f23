//! NodeAffinity: `nodeSelector` and required node affinity filter nodes; preferred terms add
//! their weights to a node's score.

use crate::framework::{
    default_normalize, Code, CycleState, Filter, NodeInfo, Plugin, PreFilter, PreScore, Score, Snapshot, Status,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::sync::Arc;

pub struct NodeAffinity;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// `nodeSelector` and the required node affinity of a pod.
pub fn pod_matches_node(pod: &Pod, node: &Node) -> bool {
    pod.spec.as_ref().is_none_or(|s| api_types::scheduling::required_affinity_matches(s, node))
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let spec = pod.spec.as_ref();
        let has_selector = spec.and_then(|s| s.node_selector.as_ref()).is_some_and(|m| !m.is_empty());
        let has_required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .is_some();
        if has_selector || has_required {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        match node.node.as_ref() {
            Some(n) if pod_matches_node(pod, n) => Status::success(),
            _ => Status::new(Code::UnschedulableAndUnresolvable, REASON),
        }
    }
}

impl PreScore for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let preferred = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_ref())
            .is_some_and(|p| !p.is_empty());
        if preferred {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl Score for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(n) = node.node.as_ref() else { return 0 };
        pod.spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| na.preferred_during_scheduling_ignored_during_execution.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.weight != 0 && api_types::scheduling::term_matches(&t.preference, n))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, _: &CycleState, _: &Pod, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}
