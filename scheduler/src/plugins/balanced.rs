//! NodeResourcesBalancedAllocation: prefers nodes whose resource fractions (requested over
//! allocatable, this pod included) are close to each other.

use crate::framework::{
    pod_requests, CycleState, NodeInfo, Plugin, PreScore, Resource, ResourceName, Score, Snapshot, Status,
};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;
use std::sync::Arc;

pub struct Balanced {
    resources: Vec<ResourceName>,
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
        if self.resources.iter().all(|r| req.of(r) == 0) {
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
        let fraction = |r: &ResourceName| {
            let alloc = node.allocatable.of(r);
            (alloc > 0).then(|| ((node.requested.of(r) + req.of(r)) as f64 / alloc as f64).min(1.0))
        };
        // Two passes over the fractions instead of collecting them: this runs per node.
        let (mut n, mut sum, mut first, mut second) = (0usize, 0f64, 0f64, 0f64);
        for f in self.resources.iter().filter_map(fraction) {
            match n {
                0 => first = f,
                1 => second = f,
                _ => {}
            }
            n += 1;
            sum += f;
        }
        let std = match n {
            0 | 1 => 0.0,
            2 => (first - second).abs() / 2.0,
            n => {
                let mean = sum / n as f64;
                (self.resources.iter().filter_map(fraction).map(|f| (f - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
            }
        };
        ((1.0 - std) * 100.0) as i64
    }
}
