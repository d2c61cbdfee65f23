//! NodeResourcesFit: a pod fits where its requests fit in allocatable minus what is already
//! requested (and the node's pod count allows one more); scores by the configured strategy
//! (LeastAllocated by default, MostAllocated, RequestedToCapacityRatio).

use crate::framework::{
    pod_requests, Code, CycleState, Filter, NodeInfo, Plugin, PreFilter, Resource, ResourceName, Score, Snapshot,
    Status,
};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    LeastAllocated,
    MostAllocated,
    /// Shape points (utilization 0..=100, score 0..=100 after upstream's ×10).
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

pub struct Fit {
    strategy: Strategy,
    /// (resource, weight).
    resources: Vec<(ResourceName, i64)>,
    ignored: Vec<String>,
    ignored_groups: Vec<String>,
}

/// `resources: [{name, weight}]` with weight 0 as 1, cpu and memory when empty.
pub fn resource_weights(v: Option<&Value>) -> Vec<(ResourceName, i64)> {
    let list: Vec<(ResourceName, i64)> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let name = ResourceName::new(r.get("name")?.as_str()?);
            let w = r.get("weight").and_then(Value::as_i64).unwrap_or(0);
            Some((name, if w == 0 { 1 } else { w }))
        })
        .collect();
    if list.is_empty() {
        vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)]
    } else {
        list
    }
}

impl Fit {
    pub fn from_args(args: &Value) -> Fit {
        let ss = args.get("scoringStrategy");
        let strategy = match ss.and_then(|s| s.get("type")).and_then(Value::as_str) {
            Some("MostAllocated") => Strategy::MostAllocated,
            Some("RequestedToCapacityRatio") => Strategy::RequestedToCapacityRatio(
                ss.and_then(|s| s.pointer("/requestedToCapacityRatio/shape"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let u = p.get("utilization").and_then(Value::as_i64).unwrap_or(0);
                        let sc = p.get("score").and_then(Value::as_i64).unwrap_or(0);
                        (u, sc * 10)
                    })
                    .collect(),
            ),
            _ => Strategy::LeastAllocated,
        };
        let strs = |k: &str| -> Vec<String> {
            args.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        };
        Fit {
            strategy,
            resources: resource_weights(ss.and_then(|s| s.get("resources"))),
            ignored: strs("ignoredResources"),
            ignored_groups: strs("ignoredResourceGroups"),
        }
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|r| r == name)
            || name.split_once('/').is_some_and(|(group, _)| self.ignored_groups.iter().any(|g| g == group))
    }
}

const STATE: &str = "PreFilterNodeResourcesFit";

/// The pod's requests, and with missing cpu/memory counted as the defaults (for scoring).
struct PodRequests {
    actual: Resource,
    non_zero: Resource,
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
}

impl PreFilter for Fit {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        state.write(STATE, PodRequests { actual: pod_requests(pod, false), non_zero: pod_requests(pod, true) });
        Status::success()
    }
}

/// upstream's `fitsRequest`: every shortage is a reason of its own.
pub fn insufficient(req: &Resource, node: &NodeInfo, ignored: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    if i64::try_from(node.pods.len()).unwrap_or(i64::MAX) + 1 > node.allocatable.allowed_pods {
        out.push("Too many pods".to_string());
    }
    if req.is_zero() {
        return out;
    }
    let (a, r) = (&node.allocatable, &node.requested);
    for (name, want, free) in [
        ("cpu", req.milli_cpu, a.milli_cpu - r.milli_cpu),
        ("memory", req.memory, a.memory - r.memory),
        ("ephemeral-storage", req.ephemeral_storage, a.ephemeral_storage - r.ephemeral_storage),
    ] {
        if want > 0 && want > free {
            out.push(format!("Insufficient {name}"));
        }
    }
    for (name, want) in &req.scalar {
        if *want == 0 || ignored(name) {
            continue;
        }
        if *want > a.get(name) - r.get(name) {
            out.push(format!("Insufficient {name}"));
        }
    }
    out
}

impl Filter for Fit {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let computed;
        let req = match state.read::<PodRequests>(STATE) {
            Some(r) => &r.actual,
            None => {
                computed = pod_requests(pod, false);
                &computed
            }
        };
        let reasons = insufficient(req, node, &|n| self.ignored(n));
        if reasons.is_empty() {
            Status::success()
        } else {
            Status { code: Code::Unschedulable, reasons, plugin: "" }
        }
    }
}

/// Piecewise-linear interpolation over the shape (integer math, flat outside it).
fn shape_score(shape: &[(i64, i64)], util: i64) -> i64 {
    let Some(first) = shape.first() else { return 0 };
    if util <= first.0 {
        return first.1;
    }
    for w in shape.windows(2) {
        let ((u0, s0), (u1, s1)) = (w[0], w[1]);
        if util <= u1 {
            return if u1 == u0 { s1 } else { s0 + (s1 - s0) * (util - u0) / (u1 - u0) };
        }
    }
    shape.last().map_or(0, |p| p.1)
}

impl Score for Fit {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let computed;
        let pr = match state.read::<PodRequests>(STATE) {
            Some(r) => r,
            None => {
                computed = PodRequests { actual: pod_requests(pod, false), non_zero: pod_requests(pod, true) };
                &computed
            }
        };
        let (mut sum, mut weights) = (0i64, 0i64);
        let mut ratio_sum = 0f64;
        for (name, w) in &self.resources {
            let alloc = node.allocatable.of(name);
            let req = match name {
                ResourceName::Cpu | ResourceName::Memory => node.non_zero_requested.of(name) + pr.non_zero.of(name),
                _ => {
                    if pr.actual.of(name) == 0 && *name != ResourceName::EphemeralStorage {
                        continue;
                    }
                    node.requested.of(name) + pr.actual.of(name)
                }
            };
            if alloc == 0 {
                continue;
            }
            let s = match &self.strategy {
                Strategy::LeastAllocated => {
                    if req > alloc {
                        0
                    } else {
                        (alloc - req) * 100 / alloc
                    }
                }
                Strategy::MostAllocated => req.min(alloc) * 100 / alloc,
                Strategy::RequestedToCapacityRatio(shape) => {
                    let util = if req > alloc { 100 } else { req * 100 / alloc };
                    let s = shape_score(shape, util);
                    if s > 0 {
                        ratio_sum += (s * w) as f64;
                        weights += w;
                    }
                    continue;
                }
            };
            sum += s * w;
            weights += w;
        }
        if weights == 0 {
            return 0;
        }
        match self.strategy {
            Strategy::RequestedToCapacityRatio(_) => (ratio_sum / weights as f64).round() as i64,
            _ => sum / weights,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn node(cpu: &str, mem: &str, pods: &str) -> NodeInfo {
        let mut n = NodeInfo::default();
        n.set_node(Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": pods}}}))
                .unwrap(),
        ));
        n
    }

    #[test]
    fn shortages_are_reasons_in_upstreams_order() {
        let n = node("1", "1Gi", "0");
        let pod: Pod = serde_json::from_value(json!({"spec": {"containers": [{"name": "a",
            "resources": {"requests": {"cpu": "2", "memory": "2Gi", "example.com/gpu": "1"}}}]}}))
        .unwrap();
        let fit = Fit::from_args(&json!({}));
        let st = fit.filter(&CycleState::default(), &pod, &n);
        assert_eq!(st.code, Code::Unschedulable);
        assert_eq!(
            st.reasons,
            ["Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient example.com/gpu"]
        );
        let fit = Fit::from_args(&json!({"ignoredResourceGroups": ["example.com"]}));
        let st = fit.filter(&CycleState::default(), &pod, &node("4", "4Gi", "10"));
        assert!(st.is_success(), "{st:?}");
    }

    #[test]
    fn least_and_most_allocated_score_as_upstream() {
        let n = node("4", "8Gi", "110");
        let pod: Pod = serde_json::from_value(json!({"spec": {"containers": [{"name": "a",
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}}))
        .unwrap();
        // cpu (4000-1000)*100/4000 = 75, memory 75: average 75.
        assert_eq!(Fit::from_args(&json!({})).score(&CycleState::default(), &pod, &n), 75);
        let most = Fit::from_args(&json!({"scoringStrategy": {"type": "MostAllocated"}}));
        assert_eq!(most.score(&CycleState::default(), &pod, &n), 25);
        assert_eq!(shape_score(&[(0, 0), (100, 100)], 30), 30);
        assert_eq!(shape_score(&[(0, 100), (100, 0)], 25), 75);
    }
}
