//! NodeUnschedulable: a cordoned node takes only pods tolerating its unschedulable taint.

use crate::framework::{Code, CycleState, Filter, NodeInfo, Plugin, Status};
use k8s_openapi::api::core::v1::{Pod, Taint};

pub struct NodeUnschedulable;

pub const REASON: &str = "node(s) were unschedulable";

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint =
            Taint { key: "node.kubernetes.io/unschedulable".into(), effect: "NoSchedule".into(), ..Default::default() };
        let tolerated = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_ref())
            .is_some_and(|ts| ts.iter().any(|t| super::tolerates(t, &taint)));
        if tolerated {
            Status::success()
        } else {
            Status::new(Code::UnschedulableAndUnresolvable, REASON)
        }
    }
}
