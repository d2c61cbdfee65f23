//! Node-pressure eviction, as upstream's eviction manager: every 10 s the node's signals
//! (memory.available, nodefs/imagefs available and inodesFree, pid.available) are observed
//! against the hard and soft thresholds; a met threshold raises its node condition (held for
//! the pressure transition period), first reclaims node-level resources (dead containers,
//! unused images), then evicts one pod, ranked by usage over requests, priority and usage.
//! Pods over their local-storage limits (emptyDir `sizeLimit`, ephemeral-storage limits) are
//! evicted regardless of node pressure.

use crate::config::Config;
use crate::quantity;
use crate::stats::{self, PodUsage};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the signals are observed.
pub const MONITORING_INTERVAL: Duration = Duration::from_secs(10);
/// Hard evictions kill at once (upstream's `immediateEvictionGracePeriodSeconds`).
const IMMEDIATE_GRACE: i64 = 1;
/// Upstream's `SystemCriticalPriority`: pods at or above it are never evicted.
const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    MemoryAvailable,
    /// Memory left to the pods: their cgroup's limit (allocatable before eviction thresholds)
    /// less its working set. Derived from `memory.available` when `pods` is enforced.
    AllocatableMemoryAvailable,
    NodeFsAvailable,
    NodeFsInodesFree,
    ImageFsAvailable,
    ImageFsInodesFree,
    PidAvailable,
}

impl Signal {
    fn parse(s: &str) -> Option<Signal> {
        Some(match s {
            "memory.available" => Signal::MemoryAvailable,
            "allocatableMemory.available" => Signal::AllocatableMemoryAvailable,
            "nodefs.available" => Signal::NodeFsAvailable,
            "nodefs.inodesFree" => Signal::NodeFsInodesFree,
            "imagefs.available" => Signal::ImageFsAvailable,
            "imagefs.inodesFree" => Signal::ImageFsInodesFree,
            "pid.available" => Signal::PidAvailable,
            _ => return None,
        })
    }

    /// The node condition a met threshold of this signal raises.
    pub fn condition(self) -> &'static str {
        match self {
            Signal::MemoryAvailable | Signal::AllocatableMemoryAvailable => "MemoryPressure",
            Signal::PidAvailable => "PIDPressure",
            _ => "DiskPressure",
        }
    }

    /// The resource this signal starves, as eviction messages name it.
    pub fn resource(self) -> &'static str {
        match self {
            Signal::MemoryAvailable | Signal::AllocatableMemoryAvailable => "memory",
            Signal::NodeFsAvailable | Signal::ImageFsAvailable => "ephemeral-storage",
            Signal::NodeFsInodesFree | Signal::ImageFsInodesFree => "inodes",
            Signal::PidAvailable => "pids",
        }
    }

    fn is_disk(self) -> bool {
        !matches!(self, Signal::MemoryAvailable | Signal::AllocatableMemoryAvailable | Signal::PidAvailable)
    }
}

/// A threshold value: an absolute quantity (its value and canonical text) or a fraction of
/// the capacity.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Quantity(i64, String),
    Fraction(f64),
}

impl Amount {
    fn bytes(&self, capacity: i64) -> i64 {
        match self {
            Amount::Quantity(v, _) => *v,
            Amount::Fraction(f) => (capacity as f64 * f) as i64,
        }
    }

    /// As upstream prints the threshold quantity in eviction messages.
    fn display(&self, capacity: i64) -> String {
        match self {
            Amount::Quantity(_, s) => s.clone(),
            Amount::Fraction(_) => quantity::binary_si(self.bytes(capacity)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub signal: Signal,
    pub value: Amount,
    /// Zero for hard thresholds.
    pub grace: Duration,
    pub min_reclaim: Option<Amount>,
}

impl Threshold {
    fn is_hard(&self) -> bool {
        self.grace.is_zero()
    }
}

/// One threshold statement's value; `None` for the `0%`/`100%` that disable a signal.
fn parse_amount(signal: &str, val: &str) -> Result<Option<Amount>, String> {
    if let Some(pct) = val.strip_suffix('%') {
        if val == "0%" || val == "100%" {
            return Ok(None);
        }
        let f: f64 = pct.parse().map_err(|_| format!("invalid percentage: {val}"))?;
        if f < 0.0 {
            return Err(format!("eviction percentage threshold {signal} must be >= 0%: {val}"));
        }
        if f > 100.0 {
            return Err(format!("eviction percentage threshold {signal} must be <= 100%: {val}"));
        }
        return Ok(Some(Amount::Fraction(f / 100.0)));
    }
    let q = api_types::kinds::validation::Quantity::parse(val).ok_or_else(|| {
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".to_string()
    })?;
    if q.milli() <= 0 {
        return Err(format!("eviction threshold {signal} must be positive: {}", q.canonical()));
    }
    Ok(Some(Amount::Quantity(q.value(), q.canonical())))
}

fn signal_of(name: &str) -> Result<Signal, String> {
    Signal::parse(name).ok_or_else(|| format!("unsupported eviction signal {name}"))
}

/// The thresholds of the configuration: hard ones, then soft ones with their grace periods,
/// with minimum reclaims attached.
pub fn thresholds(cfg: &Config) -> Result<Vec<Threshold>, String> {
    let mut out = Vec::new();
    for (name, val) in &cfg.eviction_hard {
        let signal = signal_of(name)?;
        if let Some(value) = parse_amount(name, val)? {
            out.push(Threshold { signal, value, grace: Duration::ZERO, min_reclaim: None });
        }
    }
    for (name, val) in &cfg.eviction_soft {
        let signal = signal_of(name)?;
        let Some(value) = parse_amount(name, val)? else { continue };
        let grace = cfg
            .eviction_soft_grace_period
            .get(name)
            .ok_or_else(|| format!("grace period must be specified for the soft eviction threshold {name}"))?;
        let grace = component_base::flags::parse_go_duration(grace)?;
        if grace.is_zero() {
            return Err(format!("invalid eviction grace period specified: {name}, must be a positive value"));
        }
        out.push(Threshold { signal, value, grace, min_reclaim: None });
    }
    // Enforcing allocatable on pods watches their cgroup with the hard memory threshold too.
    if cfg.enforce_node_allocatable.iter().any(|e| e == "pods") {
        let extra: Vec<Threshold> = out
            .iter()
            .filter(|t| t.signal == Signal::MemoryAvailable && t.is_hard())
            .map(|t| Threshold { signal: Signal::AllocatableMemoryAvailable, ..t.clone() })
            .collect();
        out.extend(extra);
    }
    for (name, val) in &cfg.eviction_minimum_reclaim {
        let signal = signal_of(name)?;
        let amount = match val.strip_suffix('%') {
            Some(p) => {
                let f: f64 = p.parse().map_err(|_| format!("invalid percentage: {val}"))?;
                if f < 0.0 {
                    return Err(format!("minimum reclaim {name} must be >= 0%: {val}"));
                }
                Amount::Fraction(f / 100.0)
            }
            None => {
                let v = quantity::value(val).ok_or_else(|| format!("invalid quantity for {name}: {val}"))?;
                if v < 0 {
                    return Err(format!("negative reclaim defined for signal {name}: {val}"));
                }
                Amount::Quantity(v, quantity::canonical(val))
            }
        };
        for t in out.iter_mut().filter(|t| t.signal == signal) {
            t.min_reclaim = Some(amount.clone());
        }
    }
    Ok(out)
}

/// An observed signal: what is available of how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub available: i64,
    pub capacity: i64,
}

pub type Observations = HashMap<Signal, Observation>;

/// Thresholds met by the observations; with `enforce_min_reclaim`, the minimum reclaim is
/// added (a met threshold stays met until that much more is free).
fn met<'a>(ts: impl Iterator<Item = &'a Threshold>, obs: &Observations, enforce_min_reclaim: bool) -> Vec<Threshold> {
    ts.filter(|t| {
        let Some(o) = obs.get(&t.signal) else { return false };
        let mut want = t.value.bytes(o.capacity);
        if enforce_min_reclaim {
            want += t.min_reclaim.as_ref().map_or(0, |m| m.bytes(o.capacity));
        }
        want > o.available
    })
    .cloned()
    .collect()
}

/// Conditions in upstream's order of reporting.
const CONDITIONS: [&str; 3] = ["MemoryPressure", "DiskPressure", "PIDPressure"];

#[derive(Default)]
struct State {
    first_observed: Vec<(Threshold, Instant)>,
    condition_last_observed: HashMap<&'static str, Instant>,
    thresholds_met: Vec<Threshold>,
    conditions: Vec<&'static str>,
}

/// The eviction manager's configuration and state, shared with node status and admission.
pub struct Manager {
    pub thresholds: Vec<Threshold>,
    transition: Duration,
    max_pod_grace: i64,
    state: Mutex<State>,
}

/// What one round decided.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// The thresholds whose grace periods are over: those to act on, most urgent first.
    pub act_on: Vec<Threshold>,
}

impl Manager {
    pub fn new(cfg: &Config) -> Result<Manager, String> {
        Ok(Manager {
            thresholds: thresholds(cfg)?,
            transition: cfg.eviction_pressure_transition_period,
            max_pod_grace: cfg.eviction_max_pod_grace_period,
            state: Mutex::new(State::default()),
        })
    }

    /// The pressure conditions the node reports now.
    pub fn conditions(&self) -> Vec<&'static str> {
        self.state.lock().unwrap().conditions.clone()
    }

    /// Upstream's eviction admit handler: under pressure only critical pods are admitted, and
    /// under memory pressure alone also pods that are not BestEffort (or tolerate it).
    pub fn admit(&self, p: &Pod) -> Option<String> {
        let conds = self.conditions();
        if conds.is_empty() || is_critical(p) {
            return None;
        }
        if conds == ["MemoryPressure"] {
            let tolerates = p.spec.as_ref().and_then(|s| s.tolerations.as_ref()).is_some_and(|ts| {
                ts.iter().any(|t| {
                    let key_ok = match t.key.as_deref() {
                        None | Some("") => t.operator.as_deref() == Some("Exists"),
                        Some(k) => k == "node.kubernetes.io/memory-pressure",
                    };
                    let effect_ok = t.effect.as_deref().is_none_or(|e| e.is_empty() || e == "NoSchedule");
                    key_ok && effect_ok
                })
            });
            if crate::pod::qos_class(p) != "BestEffort" || tolerates {
                return None;
            }
        }
        Some(format!("The node had condition: [{}]. ", conds.join(" ")))
    }

    /// Updates the state from new observations (at `now`) and returns what to act on.
    pub fn observe(&self, obs: &Observations, now: Instant) -> Decision {
        let mut st = self.state.lock().unwrap();
        let mut current = met(self.thresholds.iter(), obs, false);
        // Thresholds met before stay met until their minimum reclaim is satisfied.
        for t in met(st.thresholds_met.iter(), obs, true) {
            if !current.contains(&t) {
                current.push(t);
            }
        }
        let first_observed: Vec<(Threshold, Instant)> = current
            .iter()
            .map(|t| {
                let at = st.first_observed.iter().find(|(o, _)| o == t).map_or(now, |(_, at)| *at);
                (t.clone(), at)
            })
            .collect();
        for t in &current {
            st.condition_last_observed.insert(t.signal.condition(), now);
        }
        let transition = self.transition;
        st.condition_last_observed.retain(|_, at| now.duration_since(*at) < transition);
        st.conditions = CONDITIONS.into_iter().filter(|c| st.condition_last_observed.contains_key(c)).collect();
        let mut act_on: Vec<Threshold> = first_observed
            .iter()
            .filter(|(t, at)| now.duration_since(*at) >= t.grace)
            .map(|(t, _)| t.clone())
            .collect();
        st.first_observed = first_observed;
        st.thresholds_met = act_on.clone();
        // Memory first, then the rest in a stable order.
        act_on.sort_by_key(|t| t.signal);
        Decision { act_on }
    }

    /// The grace period an eviction for `t` gives `p`.
    fn grace_for(&self, t: &Threshold, p: &Pod) -> i64 {
        if t.is_hard() {
            return IMMEDIATE_GRACE;
        }
        let own = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds);
        own.map_or(self.max_pod_grace, |g| g.min(self.max_pod_grace))
    }
}

/// Static, mirror and system-critical pods are never evicted.
pub fn is_critical(p: &Pod) -> bool {
    crate::static_pods::is_static(p)
        || crate::static_pods::mirror_of(p).is_some()
        || p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0) >= SYSTEM_CRITICAL_PRIORITY
}

/// Which of a pod's usages count against a disk signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FsSet {
    /// One filesystem for everything: writable layers, logs and local volumes.
    All,
    /// The node filesystem when images live apart: logs and local volumes.
    LogsAndVolumes,
    /// The image filesystem when it is separate: writable layers.
    Rootfs,
}

fn fs_set(signal: Signal, dedicated_imagefs: bool) -> FsSet {
    match (dedicated_imagefs, signal) {
        (false, _) => FsSet::All,
        (true, Signal::ImageFsAvailable | Signal::ImageFsInodesFree) => FsSet::Rootfs,
        (true, _) => FsSet::LogsAndVolumes,
    }
}

/// A pod's usage of `signal`'s resource over the filesystems in `set`.
fn usage_of(u: &PodUsage, signal: Signal, set: FsSet) -> i64 {
    let inodes = matches!(signal, Signal::NodeFsInodesFree | Signal::ImageFsInodesFree);
    let pick = |v: (i64, i64)| if inodes { v.1 } else { v.0 };
    match signal {
        Signal::MemoryAvailable | Signal::AllocatableMemoryAvailable => u.memory(),
        Signal::PidAvailable => 0,
        _ => {
            let rootfs: i64 = u.containers.iter().map(|c| pick(c.rootfs)).sum();
            let logs: i64 = u.containers.iter().map(|c| pick(c.logs)).sum();
            let vols: i64 = u.volumes.values().map(|v| pick(*v)).sum::<i64>() + pick(u.etc_hosts);
            match set {
                FsSet::All => rootfs + logs + vols,
                FsSet::LogsAndVolumes => logs + vols,
                FsSet::Rootfs => rootfs,
            }
        }
    }
}

/// The sum of a resource's requests over the pod's containers (regular and sidecars), or the
/// largest init container's when that is more.
fn pod_request(p: &Pod, resource: &str) -> i64 {
    let Some(spec) = p.spec.as_ref() else { return 0 };
    let req = |c: &k8s_openapi::api::core::v1::Container| {
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource))
            .and_then(|q| quantity::value(&q.0))
            .unwrap_or(0)
    };
    let inits = spec.init_containers.iter().flatten();
    let sidecars: i64 = inits.clone().filter(|c| c.restart_policy.as_deref() == Some("Always")).map(req).sum();
    let regular: i64 = spec.containers.iter().map(req).sum::<i64>() + sidecars;
    let init_max = inits.filter(|c| c.restart_policy.as_deref() != Some("Always")).map(req).max().unwrap_or(0);
    regular.max(init_max)
}

/// Orders pods for eviction on `signal`: those using more than they requested first, then by
/// priority (lowest first), then by usage above the request (most first).
pub fn rank(pods: &mut [Arc<Pod>], usage: &HashMap<String, PodUsage>, signal: Signal, set: FsSet) {
    let resource = signal.resource();
    let key = |p: &Arc<Pod>| {
        let used = usage.get(crate::pod::uid(p)).map_or(0, |u| usage_of(u, signal, set));
        let request = if resource == "inodes" || resource == "pids" { 0 } else { pod_request(p, resource) };
        let priority = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        (used > request, priority, used - request)
    };
    pods.sort_by(|a, b| {
        let (ea, pa, da) = key(a);
        let (eb, pb, db) = key(b);
        eb.cmp(&ea).then(pa.cmp(&pb)).then(db.cmp(&da))
    });
}

/// Upstream's eviction message: the starved resource, the threshold and what was available,
/// and each container using more than it requested.
pub fn message(t: &Threshold, obs: &Observations, p: &Pod, usage: Option<&PodUsage>) -> String {
    let resource = t.signal.resource();
    let mut msg = format!("The node was low on resource: {resource}. ");
    if let Some(o) = obs.get(&t.signal) {
        let available =
            if resource == "inodes" { quantity::decimal_si(o.available) } else { quantity::binary_si(o.available) };
        msg += &format!("Threshold quantity: {}, available: {available}. ", t.value.display(o.capacity));
    }
    let Some(u) = usage else { return msg };
    if resource != "memory" && resource != "ephemeral-storage" {
        return msg;
    }
    let spec = p.spec.as_ref();
    let containers = spec.into_iter().flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()));
    for c in containers {
        let Some(cu) = u.containers.iter().find(|x| x.name == c.name) else { continue };
        let used = if resource == "memory" { cu.memory_working_set } else { cu.rootfs.0 + cu.logs.0 };
        let request = c.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get(resource));
        let request_value = request.and_then(|q| quantity::value(&q.0)).unwrap_or(0);
        if used > request_value {
            let request_text = request.map_or_else(|| "0".to_string(), |q| quantity::canonical(&q.0));
            msg += &format!(
                "Container {} was using {}, request is {request_text}, has larger consumption of {resource}. ",
                c.name,
                quantity::binary_si(used)
            );
        }
    }
    msg
}

/// Local storage limits: an emptyDir over its `sizeLimit`, the pod over its containers' total
/// ephemeral-storage limit, or a container over its own. The message, when one is exceeded.
pub fn local_storage_violation(p: &Pod, u: &PodUsage, dedicated_imagefs: bool) -> Option<String> {
    let spec = p.spec.as_ref()?;
    for v in spec.volumes.iter().flatten() {
        let Some(limit) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) else { continue };
        let Some(lim) = quantity::value(&limit.0).filter(|l| *l > 0) else { continue };
        if u.empty_dirs.get(&v.name).is_some_and(|used| *used > lim) {
            return Some(format!(
                "Usage of EmptyDir volume {:?} exceeds the limit {:?}. ",
                v.name,
                quantity::canonical(&limit.0)
            ));
        }
    }
    let limit_of = |c: &k8s_openapi::api::core::v1::Container| {
        c.resources.as_ref().and_then(|r| r.limits.as_ref()).and_then(|l| l.get("ephemeral-storage")).cloned()
    };
    let limits: Vec<i64> = spec.containers.iter().filter_map(limit_of).filter_map(|q| quantity::value(&q.0)).collect();
    if !limits.is_empty() {
        let total: i64 = limits.iter().sum();
        if u.ephemeral_storage() > total {
            return Some(format!(
                "Pod ephemeral local storage usage exceeds the total limit of containers {}. ",
                quantity::binary_si(total)
            ));
        }
    }
    for c in &spec.containers {
        let Some(limit) = limit_of(c) else { continue };
        let Some(lim) = quantity::value(&limit.0).filter(|l| *l != 0) else { continue };
        let Some(cu) = u.containers.iter().find(|x| x.name == c.name) else { continue };
        let used = cu.logs.0 + if dedicated_imagefs { 0 } else { cu.rootfs.0 };
        if used > lim {
            return Some(format!(
                "Container {} exceeded its local ephemeral storage limit {:?}. ",
                c.name,
                quantity::canonical(&limit.0)
            ));
        }
    }
    None
}

/// The node's signals now. `imagefs` is the runtime's image filesystem, when it told.
pub fn observe_node(cfg: &Config, imagefs: Option<&std::path::Path>) -> (Observations, bool) {
    let mut obs = Observations::new();
    let (mem_cap, mem_avail) = stats::memory();
    obs.insert(Signal::MemoryAvailable, Observation { available: mem_avail, capacity: mem_cap });
    let node_fs = stats::fs(&cfg.root_dir);
    if let Some(f) = node_fs {
        obs.insert(Signal::NodeFsAvailable, Observation { available: f.available, capacity: f.capacity });
        obs.insert(Signal::NodeFsInodesFree, Observation { available: f.inodes_free, capacity: f.inodes });
    }
    let image_fs = imagefs.and_then(stats::fs).or(node_fs);
    if let Some(f) = image_fs {
        obs.insert(Signal::ImageFsAvailable, Observation { available: f.available, capacity: f.capacity });
        obs.insert(Signal::ImageFsInodesFree, Observation { available: f.inodes_free, capacity: f.inodes });
    }
    if cfg.cgroups_per_qos && cfg.enforce_node_allocatable.iter().any(|e| e == "pods") {
        let reserved: i64 = [&cfg.kube_reserved, &cfg.system_reserved]
            .iter()
            .filter_map(|r| r.get("memory"))
            .filter_map(|v| quantity::value(v))
            .sum();
        let limit = (mem_cap - reserved).max(0);
        let pods_cgroup = format!("{}/kubepods", cfg.cgroup_root.trim_end_matches('/'));
        if let Some(ws) = stats::cgroup_working_set(&pods_cgroup) {
            obs.insert(Signal::AllocatableMemoryAvailable, Observation { available: limit - ws, capacity: limit });
        }
    }
    let (pid_max, running) = stats::pids();
    obs.insert(Signal::PidAvailable, Observation { available: pid_max - running, capacity: pid_max });
    let dedicated = imagefs.and_then(stats::device).is_some_and(|d| stats::device(&cfg.root_dir) != Some(d));
    (obs, dedicated)
}

/// The eviction loop: observe, reclaim, evict at most one pod, wait for it to be cleaned up.
pub async fn run(mgr: Arc<Manager>, pods: Arc<crate::worker::Pods>, gc: Arc<crate::gc::Gc>) {
    loop {
        match round(&mgr, &pods, &gc).await {
            Some(uids) => {
                tracing::info!(pods = ?uids, "Eviction manager: pods evicted, waiting for pod to be cleaned up");
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let mut all = true;
                    for uid in &uids {
                        all &= pods.cleaned_up(uid).await;
                    }
                    if all {
                        tracing::info!(pods = ?uids, "Eviction manager: pods successfully cleaned up");
                        break;
                    }
                    if Instant::now() > deadline {
                        tracing::info!(pods = ?uids, "Eviction manager: timed out waiting for pods to be cleaned up");
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            None => tokio::time::sleep(MONITORING_INTERVAL).await,
        }
    }
}

async fn round(mgr: &Manager, pods: &Arc<crate::worker::Pods>, gc: &crate::gc::Gc) -> Option<Vec<String>> {
    let cfg = &pods.cfg;
    let imagefs = gc.image_fs_mountpoint().await;
    let (obs, dedicated) = observe_node(cfg, imagefs.as_deref());
    let decision = mgr.observe(&obs, Instant::now());
    let active = pods.active_pods();
    let usage = match stats::pods(&pods.cri, &cfg.root_dir, &cfg.pod_logs_dir, &active).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!("Eviction manager: failed to get summary stats: {}", e.message());
            return None;
        }
    };
    // Local storage limits, regardless of pressure.
    let mut evicted = Vec::new();
    for p in &active {
        let Some(u) = usage.get(crate::pod::uid(p)) else { continue };
        if let Some(msg) = local_storage_violation(p, u, dedicated) {
            if pods.evict(p, msg, None, IMMEDIATE_GRACE) {
                evicted.push(crate::pod::uid(p).to_string());
            }
        }
    }
    if !evicted.is_empty() {
        return Some(evicted);
    }
    let t = decision.act_on.first()?.clone();
    tracing::info!(resource = t.signal.resource(), "Eviction manager: attempting to reclaim");
    pods.node_event("Warning", "EvictionThresholdMet", format!("Attempting to reclaim {}", t.signal.resource()));
    if t.signal.is_disk() {
        // Dead containers and unused images first: they may be enough.
        let images_here = !dedicated || matches!(t.signal, Signal::ImageFsAvailable | Signal::ImageFsInodesFree);
        if images_here {
            gc.delete_all_unused_containers(pods).await;
            gc.delete_unused_images().await;
            let (obs, _) = observe_node(cfg, imagefs.as_deref());
            if met(mgr.thresholds.iter(), &obs, true).is_empty() {
                tracing::info!(
                    resource = t.signal.resource(),
                    "Eviction manager: able to reduce resource pressure without evicting pods."
                );
                return None;
            }
        }
    }
    tracing::info!(resource = t.signal.resource(), "Eviction manager: must evict pod(s) to reclaim");
    if active.is_empty() {
        tracing::error!("Eviction manager: eviction thresholds have been met, but no pods are active to evict");
        return None;
    }
    let mut ranked = active;
    rank(&mut ranked, &usage, t.signal, fs_set(t.signal, dedicated));
    for p in &ranked {
        let msg = message(&t, &obs, p, usage.get(crate::pod::uid(p)));
        if pods.evict(p, msg.clone(), Some(msg), mgr.grace_for(&t, p)) {
            return Some(vec![crate::pod::uid(p).to_string()]);
        }
    }
    tracing::info!("Eviction manager: unable to evict any pods from the node");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ContainerUsage;

    fn cfg(hard: &[(&str, &str)]) -> Config {
        let opts = <crate::config::Options as clap::Parser>::parse_from(["kubelet"]);
        let mut c = Config::load(&opts).unwrap();
        c.eviction_hard = hard.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        c.eviction_pressure_transition_period = Duration::from_secs(30);
        c
    }

    fn pod(name: &str, priority: i32, mem_request: Option<&str>) -> Arc<Pod> {
        let mut v = serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"priority": priority, "containers": [{"name": "app", "image": "busybox"}]}
        });
        if let Some(r) = mem_request {
            v["spec"]["containers"][0]["resources"] = serde_json::json!({"requests": {"memory": r}});
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn mem_usage(bytes: i64) -> PodUsage {
        PodUsage {
            containers: vec![ContainerUsage { name: "app".into(), memory_working_set: bytes, ..Default::default() }],
            ..Default::default()
        }
    }

    #[test]
    fn thresholds_parse_as_upstream() {
        let c = cfg(&[("memory.available", "100Mi"), ("nodefs.available", "10%"), ("imagefs.available", "0%")]);
        let ts = thresholds(&c).unwrap();
        assert_eq!(ts.len(), 3, "0% disables a signal");
        assert_eq!(ts[0].value, Amount::Quantity(100 << 20, "100Mi".into()));
        assert_eq!(ts[1].value, Amount::Fraction(0.1));
        // Enforcing allocatable on pods (the default) watches the pods' cgroup as well.
        assert_eq!(ts[2].signal, Signal::AllocatableMemoryAvailable);
        assert_eq!(ts[2].value, ts[0].value);
        let bad = |k: &str, v: &str| thresholds(&cfg(&[(k, v)])).unwrap_err();
        assert_eq!(bad("memory.free", "1Gi"), "unsupported eviction signal memory.free");
        assert_eq!(bad("memory.available", "0"), "eviction threshold memory.available must be positive: 0");
        assert_eq!(
            bad("nodefs.available", "120%"),
            "eviction percentage threshold nodefs.available must be <= 100%: 120%"
        );
        let mut c = cfg(&[]);
        c.eviction_soft.insert("memory.available".into(), "1Gi".into());
        assert_eq!(
            thresholds(&c).unwrap_err(),
            "grace period must be specified for the soft eviction threshold memory.available"
        );
    }

    #[test]
    fn conditions_hold_for_the_transition_period_and_soft_thresholds_wait() {
        let mut c = cfg(&[("nodefs.available", "1Gi")]);
        c.eviction_soft.insert("memory.available".into(), "2Gi".into());
        c.eviction_soft_grace_period.insert("memory.available".into(), "1m".into());
        let m = Manager::new(&c).unwrap();
        let t0 = Instant::now();
        let obs = |mem: i64, disk: i64| {
            Observations::from([
                (Signal::MemoryAvailable, Observation { available: mem, capacity: 8 << 30 }),
                (Signal::NodeFsAvailable, Observation { available: disk, capacity: 100 << 30 }),
            ])
        };
        let d = m.observe(&obs(1 << 30, 512 << 20), t0);
        assert_eq!(m.conditions(), vec!["MemoryPressure", "DiskPressure"]);
        assert_eq!(d.act_on.len(), 1, "the soft memory threshold waits for its grace period");
        assert_eq!(d.act_on[0].signal, Signal::NodeFsAvailable);
        let d = m.observe(&obs(1 << 30, 512 << 20), t0 + Duration::from_secs(61));
        assert_eq!(d.act_on[0].signal, Signal::MemoryAvailable, "memory first once both act");
        // Relieved: the conditions stay until the transition period has passed.
        let d = m.observe(&obs(4 << 30, 50 << 30), t0 + Duration::from_secs(70));
        assert!(d.act_on.is_empty());
        assert_eq!(m.conditions(), vec!["MemoryPressure", "DiskPressure"]);
        m.observe(&obs(4 << 30, 50 << 30), t0 + Duration::from_secs(95));
        assert!(m.conditions().is_empty());
    }

    #[test]
    fn admission_under_pressure() {
        let m = Manager::new(&cfg(&[("memory.available", "1Gi")])).unwrap();
        let obs = Observations::from([(Signal::MemoryAvailable, Observation { available: 1, capacity: 8 << 30 })]);
        m.observe(&obs, Instant::now());
        let best_effort = pod("a", 0, None);
        assert_eq!(m.admit(&best_effort).as_deref(), Some("The node had condition: [MemoryPressure]. "));
        assert_eq!(m.admit(&pod("b", 0, Some("64Mi"))), None, "burstable pods are admitted");
        let mut critical = (*best_effort).clone();
        critical.spec.as_mut().unwrap().priority = Some(SYSTEM_CRITICAL_PRIORITY);
        assert_eq!(m.admit(&critical), None);
    }

    #[test]
    fn ranking_puts_pods_over_their_requests_first_then_priority_then_usage() {
        let mut pods =
            vec![pod("guaranteed", 0, Some("1Gi")), pod("small", 0, None), pod("big", 0, None), pod("vip", 10, None)];
        let usage = HashMap::from([
            ("guaranteed".to_string(), mem_usage(512 << 20)),
            ("small".to_string(), mem_usage(10 << 20)),
            ("big".to_string(), mem_usage(300 << 20)),
            ("vip".to_string(), mem_usage(900 << 20)),
        ]);
        rank(&mut pods, &usage, Signal::MemoryAvailable, FsSet::All);
        let names: Vec<&str> = pods.iter().map(|p| crate::pod::name(p)).collect();
        assert_eq!(names, ["big", "small", "vip", "guaranteed"]);
    }

    #[test]
    fn messages_as_upstream() {
        let t = Threshold {
            signal: Signal::MemoryAvailable,
            value: Amount::Quantity(100 << 20, "100Mi".into()),
            grace: Duration::ZERO,
            min_reclaim: None,
        };
        let obs =
            Observations::from([(Signal::MemoryAvailable, Observation { available: 90 << 20, capacity: 8 << 30 })]);
        let p = pod("hog", 0, Some("64Mi"));
        assert_eq!(
            message(&t, &obs, &p, Some(&mem_usage(300 << 20))),
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 90Mi. Container app was using 300Mi, request is 64Mi, has larger consumption of memory. "
        );
        let mut v = serde_json::to_value(&*p).unwrap();
        v["spec"]["volumes"] = serde_json::json!([{"name": "cache", "emptyDir": {"sizeLimit": "1024Ki"}}]);
        let p: Pod = serde_json::from_value(v).unwrap();
        let mut u = mem_usage(0);
        u.empty_dirs.insert("cache".into(), 2 << 20);
        assert_eq!(
            local_storage_violation(&p, &u, false).as_deref(),
            Some("Usage of EmptyDir volume \"cache\" exceeds the limit \"1Mi\". ")
        );
    }
}
