//! The scheduling framework: upstream's extension points as one trait each, so that a plugin
//! is a type implementing the points it uses; the per-node view plugins read (`NodeInfo`);
//! the status a plugin answers with.

pub use crate::cache::Snapshot;
use api_types::kinds::validation::Quantity;
use api_types::selector::{selector_is_empty, selector_matches};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Container, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodAffinityTerm, ReplicationController, Service,
    Taint,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
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
    /// Permit: hold the pod until allowed, rejected or timed out.
    Wait,
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
/// plugin name (upstream's `CycleState`). Cloning is cheap (shared entries, copied on write),
/// so that preemption can try removing pods from one node without touching the cycle's state.
#[derive(Default, Clone)]
pub struct CycleState {
    /// A handful of entries: a list is faster to search than a hash map.
    data: Vec<(&'static str, Arc<dyn Any + Send + Sync>)>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, v: T) {
        let v: Arc<dyn Any + Send + Sync> = Arc::new(v);
        match self.data.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.data.push((key, v)),
        }
    }

    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data.iter().find(|(k, _)| *k == key).and_then(|(_, b)| b.downcast_ref())
    }

    /// Changes an entry in place (copying it first if a clone of the state shares it).
    pub fn update<T: Any + Send + Sync + Clone>(&mut self, key: &'static str, f: impl FnOnce(&mut T)) {
        let Some(i) = self.data.iter().position(|(k, _)| *k == key) else { return };
        let entry = self.data.swap_remove(i).1;
        match entry.downcast::<T>() {
            Ok(mut t) => {
                f(Arc::make_mut(&mut t));
                self.data.push((key, t));
            }
            Err(other) => self.data.push((key, other)),
        }
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
    /// The amount of a resource resolved by [`ResourceName::new`] (no string matching).
    pub fn of(&self, name: &ResourceName) -> i64 {
        match name {
            ResourceName::Cpu => self.milli_cpu,
            ResourceName::Memory => self.memory,
            ResourceName::EphemeralStorage => self.ephemeral_storage,
            ResourceName::Pods => self.allowed_pods,
            ResourceName::Other(n) => self.scalar.get(n).copied().unwrap_or(0),
        }
    }

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

/// A resource name resolved once, when a plugin is configured: scoring reads it for every
/// node of every cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceName {
    Cpu,
    Memory,
    EphemeralStorage,
    Pods,
    Other(String),
}

impl ResourceName {
    pub fn new(name: &str) -> ResourceName {
        match name {
            "cpu" => ResourceName::Cpu,
            "memory" => ResourceName::Memory,
            "ephemeral-storage" => ResourceName::EphemeralStorage,
            "pods" => ResourceName::Pods,
            other => ResourceName::Other(other.to_string()),
        }
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

/// The objects beyond nodes and pods that plugins read (upstream's listers on the shared
/// informers): namespaces for affinity's namespaceSelector, the owners and Services that give
/// the default spreading selector. Every method answers "nothing" by default, so that unit
/// tests need only the ones they use.
pub trait Listers: Send + Sync {
    fn namespace_labels(&self, _ns: &str) -> Option<BTreeMap<String, String>> {
        None
    }
    /// Names of the namespaces whose labels match.
    fn namespaces_matching(&self, _sel: &LabelSelector) -> Vec<String> {
        Vec::new()
    }
    fn services(&self, _ns: &str) -> Vec<Arc<Service>> {
        Vec::new()
    }
    fn replication_controller(&self, _ns: &str, _name: &str) -> Option<Arc<ReplicationController>> {
        None
    }
    fn replica_set(&self, _ns: &str, _name: &str) -> Option<Arc<ReplicaSet>> {
        None
    }
    fn stateful_set(&self, _ns: &str, _name: &str) -> Option<Arc<StatefulSet>> {
        None
    }
    /// Every PodDisruptionBudget (preemption spares the pods they protect where it can).
    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        Vec::new()
    }
    fn pvc(&self, _ns: &str, _name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        None
    }
    fn pv(&self, _name: &str) -> Option<Arc<PersistentVolume>> {
        None
    }
    fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
        Vec::new()
    }
    fn storage_class(&self, _name: &str) -> Option<Arc<StorageClass>> {
        None
    }
    fn csi_node(&self, _name: &str) -> Option<Arc<CSINode>> {
        None
    }
    fn csi_driver(&self, _name: &str) -> Option<Arc<CSIDriver>> {
        None
    }
    fn csi_storage_capacities(&self) -> Vec<Arc<CSIStorageCapacity>> {
        Vec::new()
    }
    fn volume_attachments(&self) -> Vec<Arc<VolumeAttachment>> {
        Vec::new()
    }
    fn node(&self, _name: &str) -> Option<Arc<Node>> {
        None
    }
    fn pod(&self, _ns: &str, _name: &str) -> Option<Arc<Pod>> {
        None
    }
    /// The API client plugins write with at PreBind (upstream's `Handle.ClientSet()`); None in
    /// unit tests.
    fn client(&self) -> Option<kube::Client> {
        None
    }
}

/// Listers that know nothing (configuration checks, unit tests).
pub struct NoListers;
impl Listers for NoListers {}

/// Where an affinity term looks for pods: named namespaces, or those a selector picks.
#[derive(Clone, Debug, Default)]
pub enum NamespaceScope {
    /// `namespaceSelector: {}`: every namespace.
    #[default]
    All,
    /// The listed (or resolved) names; a selector still to be matched against labels.
    Some(HashSet<String>, Option<LabelSelector>),
}

/// A pod (anti-)affinity term, prepared once per pod (upstream's `framework.AffinityTerm`).
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    pub namespaces: NamespaceScope,
    /// None matches nothing; an empty selector matches every pod.
    pub selector: Option<LabelSelector>,
    pub topology_key: String,
}

impl AffinityTerm {
    /// upstream's `newAffinityTerm`: no namespaces and no namespaceSelector means the pod's own
    /// namespace; a nil namespaceSelector matches no namespace, `{}` every one.
    pub fn new(pod_ns: &str, t: &PodAffinityTerm) -> AffinityTerm {
        let mut names: HashSet<String> = t.namespaces.iter().flatten().cloned().collect();
        let namespaces = match &t.namespace_selector {
            None => {
                if names.is_empty() {
                    names.insert(pod_ns.to_string());
                }
                NamespaceScope::Some(names, None)
            }
            Some(sel) if selector_is_empty(Some(sel)) => NamespaceScope::All,
            Some(sel) => NamespaceScope::Some(names, Some(sel.clone())),
        };
        AffinityTerm { namespaces, selector: t.label_selector.clone(), topology_key: t.topology_key.clone() }
    }

    /// Turns a namespace selector into the names it picks now (the incoming pod's terms, once
    /// per cycle), so that matching needs no namespace labels.
    pub fn resolve_namespaces(&mut self, listers: &dyn Listers) {
        if let NamespaceScope::Some(names, sel) = &mut self.namespaces {
            if let Some(sel) = sel.take() {
                names.extend(listers.namespaces_matching(&sel));
            }
        }
    }

    /// Whether the term selects `pod`; `ns_labels` are the labels of the pod's namespace.
    pub fn matches(&self, pod: &Pod, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let in_scope = match &self.namespaces {
            NamespaceScope::All => true,
            NamespaceScope::Some(names, sel) => {
                names.contains(ns)
                    || sel.as_ref().is_some_and(|s| selector_matches(Some(s), ns_labels).unwrap_or(false))
            }
        };
        in_scope && selector_matches(self.selector.as_ref(), pod.metadata.labels.as_ref()).unwrap_or(false)
    }
}

/// A preferred term with its weight.
pub type WeightedTerm = (AffinityTerm, i64);

/// A pod's (anti-)affinity terms, prepared.
#[derive(Clone, Debug, Default)]
pub struct PodAffinityTerms {
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedTerm>,
    pub preferred_anti_affinity: Vec<WeightedTerm>,
}

impl PodAffinityTerms {
    pub fn of(pod: &Pod) -> PodAffinityTerms {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let aff = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let pa = aff.and_then(|a| a.pod_affinity.as_ref());
        let paa = aff.and_then(|a| a.pod_anti_affinity.as_ref());
        let req = |ts: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            ts.into_iter().flatten().map(|t| AffinityTerm::new(ns, t)).collect()
        };
        let pref = |ts: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| -> Vec<WeightedTerm> {
            ts.into_iter()
                .flatten()
                .map(|w| (AffinityTerm::new(ns, &w.pod_affinity_term), i64::from(w.weight)))
                .collect()
        };
        PodAffinityTerms {
            required_affinity: req(pa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())),
            required_anti_affinity: req(
                paa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())
            ),
            preferred_affinity: pref(pa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref())),
            preferred_anti_affinity: pref(
                paa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }
}

/// Live prepared terms by (namespace, the pod's pod-affinity parts as JSON).
type TermsTable = HashMap<(String, String), std::sync::Weak<PodAffinityTerms>>;
static TERMS: std::sync::LazyLock<std::sync::Mutex<TermsTable>> = std::sync::LazyLock::new(Default::default);

/// The pod's prepared (anti-)affinity terms, shared with every live pod that has the same ones.
fn shared_terms(pod: &Pod) -> Option<Arc<PodAffinityTerms>> {
    let aff = pod.spec.as_ref()?.affinity.as_ref()?;
    if aff.pod_affinity.is_none() && aff.pod_anti_affinity.is_none() {
        return None;
    }
    let terms = PodAffinityTerms::of(pod);
    if terms.is_empty() {
        return None;
    }
    let key = (
        pod.metadata.namespace.clone().unwrap_or_default(),
        serde_json::to_string(&(&aff.pod_affinity, &aff.pod_anti_affinity)).unwrap_or_default(),
    );
    let mut table = TERMS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(live) = table.get(&key).and_then(std::sync::Weak::upgrade) {
        return Some(live);
    }
    // Forget terms no pod holds any more, now and then.
    if table.len() >= 1024 && table.len().is_power_of_two() {
        table.retain(|_, w| w.strong_count() > 0);
    }
    let shared = Arc::new(terms);
    table.insert(key, Arc::downgrade(&shared));
    Some(shared)
}

/// A pod as the cache counts it on its node.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub requests: Resource,
    pub non_zero: Resource,
    pub ports: Vec<HostPort>,
    /// Shared by every pod with the same terms in the same namespace (a workload's replicas):
    /// InterPodAffinity matches each distinct term once per cycle. None for most pods.
    pub affinity: Option<Arc<PodAffinityTerms>>,
    /// `namespace/claim` of each PersistentVolumeClaim volume (ReadWriteOncePod checks).
    pub pvcs: Vec<String>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        PodInfo {
            requests: pod_requests(&pod, false),
            non_zero: pod_requests(&pod, true),
            ports: pod_host_ports(&pod),
            affinity: shared_terms(&pod),
            pvcs: pod_pvc_refs(&pod),
            pod,
        }
    }

    /// `spec.priority` (0 when unset).
    pub fn priority(&self) -> i32 {
        pod_priority(&self.pod)
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        self.affinity.as_ref().is_some_and(|a| !a.required_anti_affinity.is_empty())
    }

    pub fn key(&self) -> String {
        pod_key(&self.pod)
    }
}

/// `namespace/claim` of each `persistentVolumeClaim` volume (not ephemeral ones, as upstream's
/// `PVCRefCounts`).
pub fn pod_pvc_refs(pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| format!("{ns}/{}", c.claim_name))
        .collect()
}

pub fn pod_priority(p: &Pod) -> i32 {
    p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

pub fn pod_key(p: &Pod) -> String {
    format!("{}/{}", p.metadata.namespace.as_deref().unwrap_or(""), p.metadata.name.as_deref().unwrap_or(""))
}

/// One node with what is placed on it (upstream's `NodeInfo`).
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub node: Option<Arc<Node>>,
    /// `spec.unschedulable` and `spec.taints`, copied here: every cycle's filters read them for
    /// every node they visit, and the Node object is a cache miss away.
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    /// The node's name, kept here: a cycle reads it for every node it visits.
    name: String,
    pub pods: Vec<Arc<PodInfo>>,
    pub requested: Resource,
    /// Requests with missing cpu/memory counted as the defaults (for scoring).
    pub non_zero_requested: Resource,
    pub allocatable: Resource,
    pub used_ports: HashSet<HostPort>,
    /// Pods here with any (anti-)affinity term, and with required anti-affinity: affinity
    /// plugins visit only such nodes unless the incoming pod has terms of its own.
    pub pods_with_affinity: usize,
    pub pods_with_required_anti_affinity: usize,
    /// The node's images (each name it reports) with their sizes, for ImageLocality.
    pub images: Arc<HashMap<String, i64>>,
    /// How many pods here use each `namespace/claim`.
    pub pvc_refs: HashMap<String, usize>,
    /// Changes whenever the node or its pods do (never reused), so that plugins may keep
    /// per-node results across cycles.
    pub generation: u64,
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh [`NodeInfo::generation`].
pub fn next_generation() -> u64 {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl NodeInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        if self.name.as_str() != node.metadata.name.as_deref().unwrap_or("") {
            self.name = node.metadata.name.clone().unwrap_or_default();
        }
        self.allocatable = Resource::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()));
        let images: HashMap<String, i64> = node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
            .flat_map(|i| i.names.iter().flatten().map(|n| (n.clone(), i.size_bytes.unwrap_or(0))))
            .collect();
        if *self.images != images {
            self.images = Arc::new(images);
        }
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.node = Some(node);
        self.generation = next_generation();
    }

    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.non_zero_requested.add(&p.non_zero);
        self.used_ports.extend(p.ports.iter().cloned());
        self.count_affinity(&p, 1);
        for c in &p.pvcs {
            *self.pvc_refs.entry(c.clone()).or_default() += 1;
        }
        self.pods.push(p);
        self.generation = next_generation();
    }

    fn count_affinity(&mut self, p: &PodInfo, delta: isize) {
        if p.affinity.is_some() {
            self.pods_with_affinity = self.pods_with_affinity.saturating_add_signed(delta);
        }
        if p.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity = self.pods_with_required_anti_affinity.saturating_add_signed(delta);
        }
    }

    /// The node's labels (empty without a node).
    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.node.as_ref().and_then(|n| n.metadata.labels.as_ref())
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().and_then(|l| l.get(key)).map(String::as_str)
    }

    /// Removes the pod with this key; false when it was not here.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key() == key) else { return false };
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.non_zero_requested.sub(&p.non_zero);
        self.count_affinity(&p, -1);
        for c in &p.pvcs {
            if let Some(n) = self.pvc_refs.get_mut(c) {
                *n -= 1;
                if *n == 0 {
                    self.pvc_refs.remove(c);
                }
            }
        }
        self.used_ports = self.pods.iter().flat_map(|p| p.ports.iter().cloned()).collect();
        self.generation = next_generation();
        true
    }
}

/// A plugin's name (upstream's `Plugin` interface).
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
}

pub trait PreFilter: Plugin {
    /// Runs once per cycle before Filter; Skip drops this plugin's Filter for the cycle.
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &Snapshot) -> Status;

    /// `PreFilterExtensions.AddPod`: `added` now counts on `node` (a nominated pod, or a
    /// preemption victim given back); plugins whose PreFilter state counts pods update it.
    fn add_pod(&self, _state: &mut CycleState, _pod: &Pod, _added: &PodInfo, _node: &NodeInfo) {}

    /// `PreFilterExtensions.RemovePod`: `removed` no longer counts on `node` (a victim).
    fn remove_pod(&self, _state: &mut CycleState, _pod: &Pod, _removed: &PodInfo, _node: &NodeInfo) {}
}

pub trait Filter: Plugin {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status;
}

pub trait PreScore: Plugin {
    /// Runs once per cycle before Score over the feasible nodes (`all` is every node of the
    /// snapshot); Skip drops this plugin's Score for the cycle.
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &Snapshot) -> Status;
}

pub trait Score: Plugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64;
    /// Maps the raw scores to 0..=100 (when the plugin has a ScoreExtension).
    fn normalize(&self, _state: &CycleState, _pod: &Pod, _scores: &mut [i64]) {}
}

pub trait Reserve: Plugin {
    /// Claims what the pod needs on `node` in the plugin's own state before binding starts
    /// (the cache already counts the pod there).
    fn reserve(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status;
    /// Gives back what `reserve` claimed: a later point failed. Must be idempotent, and is
    /// also called for plugins whose `reserve` was not (or not successfully) run.
    fn unreserve(&self, state: &CycleState, pod: &Pod, node: &str);
}

pub trait Permit: Plugin {
    /// Success, a rejection, or Wait with how long to wait at most for someone to call
    /// [`WaitingPods::allow`] (or `reject`).
    fn permit(&self, state: &CycleState, pod: &Pod, node: &str) -> (Status, std::time::Duration);
}

/// A future a binding-cycle plugin returns (the binding cycle runs off the scheduling loop).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub trait PreBind: Plugin {
    /// Runs before the binding; may write to the API and wait (volume binding).
    fn pre_bind<'a>(&'a self, state: &'a CycleState, pod: &'a Pod, node: &'a str) -> BoxFuture<'a, Status>;
}

pub trait PostBind: Plugin {
    /// Told that the pod is bound (informational, as upstream).
    fn post_bind(&self, state: &CycleState, pod: &Pod, node: &str);
}

/// Pods a Permit plugin holds (upstream's `waitingPodsMap`), by pod UID: each waits until every
/// plugin that said Wait allows it, one rejects it, or a plugin's timeout passes.
#[derive(Default)]
pub struct WaitingPods {
    map: std::sync::Mutex<HashMap<String, WaitingPod>>,
}

struct WaitingPod {
    pending: Vec<&'static str>,
    done: Option<tokio::sync::oneshot::Sender<Status>>,
}

impl WaitingPods {
    /// Registers a pod waiting on `plugins`; the receiver gets the verdict.
    pub fn add(&self, uid: &str, plugins: Vec<&'static str>) -> tokio::sync::oneshot::Receiver<Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(uid.to_string(), WaitingPod { pending: plugins, done: Some(tx) });
        rx
    }

    pub fn remove(&self, uid: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
    }

    /// `plugin` lets the pod go; it is released when no plugin still holds it.
    pub fn allow(&self, uid: &str, plugin: &str) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(w) = m.get_mut(uid) else { return };
        w.pending.retain(|p| *p != plugin);
        if w.pending.is_empty() {
            if let Some(tx) = w.done.take() {
                let _ = tx.send(Status::success());
            }
            m.remove(uid);
        }
    }

    /// `plugin` turns the pod away with `msg`.
    pub fn reject(&self, uid: &str, plugin: &'static str, msg: &str) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut w) = m.remove(uid) {
            if let Some(tx) = w.done.take() {
                let _ = tx.send(Status::new(Code::Unschedulable, msg).with_plugin(plugin));
            }
        }
    }

    /// UIDs of the pods waiting now.
    pub fn uids(&self) -> Vec<String> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }
}

/// The extension points one plugin takes part in.
#[derive(Default, Clone)]
pub struct Points {
    pub pre_filter: Option<Arc<dyn PreFilter>>,
    pub filter: Option<Arc<dyn Filter>>,
    pub pre_score: Option<Arc<dyn PreScore>>,
    pub score: Option<Arc<dyn Score>>,
    pub reserve: Option<Arc<dyn Reserve>>,
    pub permit: Option<Arc<dyn Permit>>,
    pub pre_bind: Option<Arc<dyn PreBind>>,
    pub post_bind: Option<Arc<dyn PostBind>>,
    /// DefaultBinder: the binding is the scheduler's own write (`pods/binding`).
    pub bind: bool,
    /// DefaultPreemption, the PostFilter: the evaluator lives in `preemption`.
    pub post_filter: Option<crate::preemption::Args>,
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
