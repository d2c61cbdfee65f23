//! NodePorts: a host port (protocol, port) can be taken once per host IP, and 0.0.0.0 takes it
//! on every IP.

use crate::framework::{
    pod_host_ports, Code, CycleState, Filter, HostPort, NodeInfo, Plugin, PreFilter, Snapshot, Status,
};
use k8s_openapi::api::core::v1::Pod;

pub struct NodePorts;

const STATE: &str = "PreFilterNodePorts";

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }
}

impl PreFilter for NodePorts {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let ports = pod_host_ports(pod);
        if ports.is_empty() {
            return Status::skip();
        }
        state.write(STATE, ports);
        Status::success()
    }
}

fn conflicts(want: &HostPort, node: &NodeInfo) -> bool {
    let (ip, proto, port) = want;
    node.used_ports.iter().any(|(uip, uproto, uport)| {
        uport == port && uproto == proto && (ip == "0.0.0.0" || uip == "0.0.0.0" || uip == ip)
    })
}

impl Filter for NodePorts {
    fn filter(&self, state: &CycleState, _: &Pod, node: &NodeInfo) -> Status {
        let Some(want) = state.read::<Vec<HostPort>>(STATE) else { return Status::success() };
        if want.iter().any(|w| conflicts(w, node)) {
            Status::new(Code::Unschedulable, "node(s) didn't have free ports for the requested pod ports")
        } else {
            Status::success()
        }
    }
}
