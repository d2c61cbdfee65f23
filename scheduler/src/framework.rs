//! The scheduling framework: upstream's extension points as one trait each, so that a plugin
//! is a type implementing the points it uses; the per-node view plugins read (`NodeInfo`);
//! the status a plugin answers with.

use api_types::kinds::validation::Quantity;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Upstream's `MaxNodeScore`: normalized scores lie in 0..=100.
pub const MAX_NODE_SCORE: i64 = 100;
/// The request a container without a cpu request counts as when spreading load (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The request a container without a memory request counts as (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A plugin's verdict, as upstream's `framework.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Success,
    Error,
    Unschedulable,
    UnschedulableAndUnresolvable,
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    /// The plugin that said so (the diagnosis names the plugins that rejected a pod).
    pub plugin: &'static str,
}

impl Status {
    pub fn success() -> Status {
        Status { code: Code::Success, reasons: Vec::new(), plugin: "" }
    }

    pub fn skip() -> Status {
        Status { code: Code::Skip, reasons: Vec::new(), plugin: "" }
    }

    pub fn new(code: Code, reason: impl Into<String>) -> Status {
        Status { code, reasons: vec![reason.into()], plugin: "" }
    }

    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Unschedulable or UnschedulableAndUnresolvable: the pod does not fit, no error.
    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable)
    }

    /// `Status.Message()`: the reasons joined with ", ".
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }
}

/// Data one scheduling cycle's plugins pass from PreFilter/PreScore to Filter/Score, keyed by
/// plugin name (upstream's `CycleState`).
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, v: T) {
        self.data.insert(key, Box::new(v));
    }

    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|b| b.downcast_ref())
    }
}

/// Amounts of the resources scheduling counts: cpu in millicores, the rest in units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pods: i64,
    /// Extended resources, hugepages and other countable names.
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// From a resource list (requests, allocatable, overhead).
    pub fn from_list(list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            let Some(q) = Quantity::parse(&q.0) else { continue };
            r.set(name, &q);
        }
        r
    }

    fn set(&mut self, name: &str, q: &Quantity) {
        match name {
            "cpu" => self.milli_cpu = q.milli(),
            "memory" => self.memory = q.value(),
            "ephemeral-storage" => self.ephemeral_storage = q.value(),
            "pods" => self.allowed_pods = q.value(),
            _ if is_scalar(name) => {
                self.scalar.insert(name.to_string(), q.value());
            }
            _ => {}
        }
    }

    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(o.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_add(o.allowed_pods);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
    }

    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(o.milli_cpu);
        self.memory = self.memory.saturating_sub(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(o.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_sub(o.allowed_pods);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_sub(*v);
        }
    }

    /// Element-wise maximum (init containers run one at a time).
    fn max_with(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// The amount of a named resource (`cpu` in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.allowed_pods,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

/// Names counted as scalar resources: extended (domain-prefixed, not kubernetes.io), hugepages
/// and attachable volumes.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests."))
}

fn container_requests(c: &Container, non_zero: bool) -> Resource {
    let reqs = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = Resource::from_list(reqs);
    if non_zero {
        // Missing (not zero) cpu and memory requests count as upstream's defaults.
        if !reqs.is_some_and(|m| m.contains_key("cpu")) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !reqs.is_some_and(|m| m.contains_key("memory")) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// upstream's `PodRequests`: app containers and sidecars summed, the largest init container
/// step (with the sidecars started before it), the larger of the two, plus the overhead. With
/// `non_zero`, missing cpu/memory requests count as 100m/200Mi (the scoring view).
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else { return Resource::default() };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_zero);
        if is_sidecar(c) {
            sidecars.add(&r);
            reqs.add(&r);
            init_max.max_with(&sidecars);
        } else {
            let mut step = r;
            step.add(&sidecars);
            init_max.max_with(&step);
        }
    }
    reqs.max_with(&init_max);
    if let Some(o) = spec.overhead.as_ref() {
        reqs.add(&Resource::from_list(Some(o)));
    }
    reqs
}

/// A host port a container asks for: (host IP, protocol, port), IP defaulted to 0.0.0.0 and
/// protocol to TCP.
pub type HostPort = (String, String, i32);

pub fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| {
            let ip = p.host_ip.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            let proto = p.protocol.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "TCP".into());
            (ip, proto, p.host_port.unwrap_or(0))
        })
        .collect()
}

/// A pod as the cache counts it on its node.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub requests: Resource,
    pub non_zero: Resource,
    pub ports: Vec<HostPort>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        PodInfo {
            requests: pod_requests(&pod, false),
            non_zero: pod_requests(&pod, true),
            ports: pod_host_ports(&pod),
            pod,
        }
    }

    pub fn key(&self) -> String {
        pod_key(&self.pod)
    }
}

pub fn pod_key(p: &Pod) -> String {
    format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
}

/// One node with what is placed on it (upstream's `NodeInfo`).
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub node: Option<Arc<Node>>,
    pub pods: Vec<Arc<PodInfo>>,
    pub requested: Resource,
    /// Requests with missing cpu/memory counted as the defaults (for scoring).
    pub non_zero_requested: Resource,
    pub allocatable: Resource,
    pub used_ports: HashSet<HostPort>,
}

impl NodeInfo {
    pub fn name(&self) -> &str {
        self.node.as_ref().and_then(|n| n.metadata.name.as_deref()).unwrap_or("")
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resource::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()));
        self.node = Some(node);
    }

    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.non_zero_requested.add(&p.non_zero);
        self.used_ports.extend(p.ports.iter().cloned());
        self.pods.push(p);
    }

    /// Removes the pod with this key; false when it was not here.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key() == key) else { return false };
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.non_zero_requested.sub(&p.non_zero);
        self.used_ports = self.pods.iter().flat_map(|p| p.ports.iter().cloned()).collect();
        true
    }
}

/// A plugin's name (upstream's `Plugin` interface).
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
}

pub trait PreFilter: Plugin {
    /// Runs once per cycle before Filter; Skip drops this plugin's Filter for the cycle.
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Status;
}

pub trait Filter: Plugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status;
}

pub trait PreScore: Plugin {
    /// Runs once per cycle before Score over the feasible nodes (`all` is every node of the
    /// snapshot); Skip drops this plugin's Score for the cycle.
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &[Arc<NodeInfo>])
        -> Status;
}

pub trait Score: Plugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64;
    /// Maps the raw scores to 0..=100 (when the plugin has a ScoreExtension).
    fn normalize(&self, _state: &CycleState, _pod: &Pod, _scores: &mut [i64]) {}
}

/// The extension points one plugin takes part in.
#[derive(Default, Clone)]
pub struct Points {
    pub pre_filter: Option<Arc<dyn PreFilter>>,
    pub filter: Option<Arc<dyn Filter>>,
    pub pre_score: Option<Arc<dyn PreScore>>,
    pub score: Option<Arc<dyn Score>>,
    /// DefaultBinder: the binding is the scheduler's own write (`pods/binding`).
    pub bind: bool,
}

/// upstream's `DefaultNormalizeScore`: scales to 0..=100 by the largest score, reversed for
/// plugins where less is better.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_requests_count_init_containers_sidecars_and_overhead_as_upstream() {
        let p = pod(json!({"spec": {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "200m"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "10Mi"}}},
                               {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}],
            "overhead": {"cpu": "10m"}}}));
        let r = pod_requests(&p, false);
        // max(300m + 50m sidecar, 1000m init) + 10m overhead.
        assert_eq!(r.milli_cpu, 1010);
        assert_eq!(r.memory, 1 << 30);
        let nz = pod_requests(&pod(json!({"spec": {"containers": [{"name": "a"}]}})), true);
        assert_eq!((nz.milli_cpu, nz.memory), (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST));
        let explicit_zero = pod_requests(
            &pod(json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "0"}}}]}})),
            true,
        );
        assert_eq!(explicit_zero.milli_cpu, 0);
    }

    #[test]
    fn normalize_scales_and_reverses() {
        let mut s = [0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 5, 10];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
    }
}
