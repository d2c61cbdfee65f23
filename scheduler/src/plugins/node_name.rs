//! NodeName: a pod naming a node fits only there.

use crate::framework::{Code, CycleState, Filter, NodeInfo, Plugin, Status};
use k8s_openapi::api::core::v1::Pod;

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
}

impl Filter for NodeName {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            None | Some("") => Status::success(),
            Some(n) if n == node.name() => Status::success(),
            Some(_) => Status::new(Code::UnschedulableAndUnresolvable, "node(s) didn't match the requested node name"),
        }
    }
}
