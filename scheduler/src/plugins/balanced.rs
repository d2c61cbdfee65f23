//! NodeResourcesBalancedAllocation: prefers nodes whose resource fractions (requested over
//! allocatable, this pod included) are close to each other.

use crate::framework::{pod_requests, CycleState, NodeInfo, Plugin, PreScore, Resource, Score, Snapshot, Status};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use std::sync::Arc;

pub struct Balanced {
    resources: Vec<String>,
}

impl Balanced {
    pub fn from_args(args: &Value) -> Balanced {
        Balanced {
            resources: super::fit::resource_weights(args.get("resources")).into_iter().map(|(n, _)| n).collect(),
        }
    }
}

const STATE: &str = "PreScoreNodeResourcesBalancedAllocation";

impl Plugin for Balanced {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }
}

impl PreScore for Balanced {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        let req = pod_requests(pod, false);
        // A BestEffort pod changes no balance.
        if self.resources.iter().all(|r| req.get(r) == 0) {
            return Status::skip();
        }
        state.write(STATE, req);
        Status::success()
    }
}

impl Score for Balanced {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let computed;
        let req = match state.read::<Resource>(STATE) {
            Some(r) => r,
            None => {
                computed = pod_requests(pod, false);
                &computed
            }
        };
        let fractions: Vec<f64> = self
            .resources
            .iter()
            .filter_map(|r| {
                let alloc = node.allocatable.get(r);
                (alloc > 0).then(|| ((node.requested.get(r) + req.get(r)) as f64 / alloc as f64).min(1.0))
            })
            .collect();
        let std = match fractions.len() {
            0 | 1 => 0.0,
            2 => (fractions[0] - fractions[1]).abs() / 2.0,
            n => {
                let mean = fractions.iter().sum::<f64>() / n as f64;
                (fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
            }
        };
        ((1.0 - std) * 100.0) as i64
    }
}
