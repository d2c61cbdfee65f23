//! One scheduling cycle per pod, as upstream's `scheduleOne`: PreFilter, Filter over the nodes
//! (from a round-robin start, stopping once enough feasible nodes are found; nominated pods of
//! equal or higher priority counted where they are nominated), PreScore, Score with
//! normalization and weights, a random pick among the best, then assume and bind in the
//! background. A pod no node takes gets upstream's `0/N nodes are available: ...` message as a
//! `FailedScheduling` event and as its PodScheduled condition, after DefaultPreemption has tried
//! to make room for it.

use crate::cache::{Cache, Snapshot};
use crate::config::Profile;
use crate::framework::{
    pod_key, pod_priority, Code, CycleState, Filter, Listers, NodeInfo, PodInfo, PreFilter, Status, WaitingPods,
};
use crate::metrics;
use crate::nominator::{Nominated, Nominator};
use crate::preemption::{self, DryRun, Verdict};
use crate::queue::{Queue, QueuedPod};
use component_base::client::api_message;
use component_base::events::{reference, NORMAL, WARNING};
use component_base::eventsv1::Recorder;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Client;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE: i64 = 5;
/// Event notes are cut to this many bytes (upstream's `NoteLengthLimit`).
const NOTE_LENGTH_LIMIT: usize = 1024;

/// The current copy of a pending pod, by `namespace/name` (the pod informer's store).
pub type Lookup = Box<dyn Fn(&str) -> Option<Arc<Pod>> + Send + Sync>;

pub struct Scheduler {
    pub profiles: HashMap<String, (Arc<Profile>, Recorder)>,
    pub cache: Arc<Cache>,
    pub queue: Arc<Queue>,
    pub nominator: Arc<Nominator>,
    pub listers: Arc<dyn Listers>,
    pub client: Client,
    pub percentage_of_nodes_to_score: i32,
    pub lookup: Lookup,
    /// Pods a Permit plugin holds.
    pub waiting: Arc<WaitingPods>,
    next_start: AtomicUsize,
}

/// How many feasible nodes to look for: every node below 100, else an adaptive share (50% less
/// 1% per 125 nodes, at least 5%), never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: i32, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let n = i64::try_from(all).unwrap_or(i64::MAX);
    let mut pct = i64::from(percentage);
    if pct == 0 {
        pct = (50 - n / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    }
    let num = usize::try_from(n * pct / 100).unwrap_or(all);
    num.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// upstream's `FitError.Error()`: reason counts over the nodes, sorted as strings.
pub fn fit_error(total: usize, statuses: &[(String, Status)], pre_filter_msg: Option<&str>) -> String {
    match pre_filter_msg {
        Some(m) => format!("0/{total} nodes are available: {m}."),
        None => reasons_message(total, statuses, None),
    }
}

/// A FitError's text where the nodes without a status count with the `absent` reason (the
/// nested message preemption gives).
pub fn fit_error_with_absent(total: usize, statuses: &[(String, Status)], absent: &str) -> String {
    reasons_message(total, statuses, Some(absent))
}

fn reasons_message(total: usize, statuses: &[(String, Status)], absent: Option<&str>) -> String {
    let mut msg = format!("0/{total} nodes are available:");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, st) in statuses {
        for r in &st.reasons {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    if let Some(a) = absent.filter(|_| total > statuses.len()) {
        *counts.entry(a).or_default() += total - statuses.len();
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    parts.sort();
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    msg
}

/// Runs the filters in order: success, or the first failure marked with its plugin.
pub fn run_filters(filters: &[&Arc<dyn Filter>], state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
    for f in filters {
        let st = f.filter(state, pod, node);
        if !st.is_success() {
            return st.with_plugin(f.name());
        }
    }
    Status::success()
}

/// How many nodes [`warm`] loads ahead of the filters.
const WARM_AHEAD: usize = 8;

/// Reads a field of each of the next [`WARM_AHEAD`] nodes in one tight loop. Every node's
/// first read is a cache miss (5,000 NodeInfos do not stay cached beside an apiserver and
/// etcd); issued together, these misses overlap instead of each stalling its node's filters.
fn warm(all: &[Arc<NodeInfo>], from: usize) {
    let mut sum = 0usize;
    for k in 0..WARM_AHEAD.min(all.len()) {
        let n = &all[(from + k) % all.len()];
        sum = sum.wrapping_add(n.taints.len()).wrapping_add(n.pods.len());
    }
    std::hint::black_box(sum);
}

/// upstream's `RunFilterPluginsWithNominatedPods`: with `nominated` pods (of equal or higher
/// priority) placed on the node first, then, if that fits, without them (affinity may need
/// them gone or present).
pub fn filter_node(
    pre_filters: &[Arc<dyn PreFilter>],
    filters: &[&Arc<dyn Filter>],
    state: &CycleState,
    pod: &Pod,
    node: &NodeInfo,
    nominated: &[Arc<PodInfo>],
) -> Status {
    if !nominated.is_empty() {
        let mut with = node.clone();
        let mut st = state.clone();
        for p in nominated {
            with.add_pod(p.clone());
            for pf in pre_filters {
                pf.add_pod(&mut st, pod, p, &with);
            }
        }
        let status = run_filters(filters, &st, pod, &with);
        if !status.is_success() {
            return status;
        }
    }
    run_filters(filters, state, pod, node)
}

/// The pod names a node (bound, or placed by hand).
pub fn is_assigned(p: &Pod) -> bool {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

/// A Reserve/Permit/PreBind plugin's failure as upstream reports it: a rejection keeps its
/// message (and names the plugin), anything else becomes `running <Point> plugin "<name>": ...`.
fn plugin_failure(st: Status, point: &str, plugin: &'static str) -> Status {
    if st.is_rejected() {
        return st.with_plugin(plugin);
    }
    Status::new(Code::Error, format!("running {point} plugin \"{plugin}\": {}", st.message()))
}

/// The attempt metric's result for a failed status.
fn attempt_result(st: &Status) -> &'static str {
    if st.is_rejected() {
        "unschedulable"
    } else {
        "error"
    }
}

fn truncate_note(msg: &str) -> String {
    if msg.len() <= NOTE_LENGTH_LIMIT {
        return msg.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 4;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &msg[..end])
}

/// What preemption decided for a pod that did not fit.
enum Nomination {
    /// Leave `status.nominatedNodeName` as it is.
    Keep,
    /// Nominate the node and evict the victims.
    Set(String, Vec<Arc<PodInfo>>),
    /// No node can be made to fit: drop any nomination.
    Clear,
}

/// What a cycle decided.
enum Outcome {
    Placed(String, CycleState),
    /// No node fits: the message, whether it was an error rather than a rejection, the plugins
    /// that rejected it, and what preemption did.
    Failed(String, bool, Vec<&'static str>, Nomination),
}

impl Outcome {
    fn error(msg: String) -> Outcome {
        Outcome::Failed(msg, true, Vec::new(), Nomination::Keep)
    }

    fn rejected(msg: String, rejectors: Vec<&'static str>) -> Outcome {
        Outcome::Failed(msg, false, rejectors, Nomination::Keep)
    }
}

impl Scheduler {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        profiles: HashMap<String, (Arc<Profile>, Recorder)>,
        cache: Arc<Cache>,
        queue: Arc<Queue>,
        nominator: Arc<Nominator>,
        listers: Arc<dyn Listers>,
        client: Client,
        percentage_of_nodes_to_score: i32,
        lookup: Lookup,
    ) -> Scheduler {
        Scheduler {
            profiles,
            cache,
            queue,
            nominator,
            listers,
            client,
            percentage_of_nodes_to_score,
            lookup,
            waiting: Arc::new(WaitingPods::default()),
            next_start: AtomicUsize::new(0),
        }
    }

    /// Schedules pods until the queue closes.
    pub async fn run(self: Arc<Self>) {
        while let Some(qp) = self.queue.pop().await {
            self.clone().schedule_one(qp).await;
        }
    }

    async fn schedule_one(self: Arc<Self>, qp: QueuedPod) {
        let start = Instant::now();
        // The queue's copy may be older than the informer's.
        let Some(pod) = (self.lookup)(&qp.key) else {
            self.queue.done(&qp.key);
            return;
        };
        if is_assigned(&pod) {
            self.queue.done(&qp.key);
            return;
        }
        let sched_name =
            pod.spec.as_ref().and_then(|s| s.scheduler_name.clone()).unwrap_or_else(|| "default-scheduler".into());
        let Some((profile, recorder)) = self.profiles.get(&sched_name) else {
            self.queue.done(&qp.key);
            return;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("");
            let name = pod.metadata.name.as_deref().unwrap_or("");
            recorder.eventf(
                &*pod,
                None,
                WARNING,
                "FailedScheduling",
                "Scheduling",
                format!("skip schedule deleting pod: {ns}/{name}"),
            );
            self.queue.done(&qp.key);
            return;
        }
        let snapshot = self.cache.snapshot();
        match self.decide(profile, &pod, &qp.key, &snapshot) {
            Outcome::Placed(node, mut state) => {
                let mut assumed = (*pod).clone();
                if let Some(s) = assumed.spec.as_mut() {
                    s.node_name = Some(node.clone());
                }
                self.cache.assume(Arc::new(assumed), &node);
                // Reserve, then Permit; a failure gives back what was reserved.
                let mut verdict = Status::success();
                for r in &profile.reserve {
                    let st = r.reserve(&mut state, &pod, &node);
                    if !st.is_success() {
                        verdict = plugin_failure(st, "Reserve", r.name());
                        break;
                    }
                }
                let mut waits: Vec<(&'static str, Duration)> = Vec::new();
                if verdict.is_success() {
                    for p in &profile.permit {
                        let (st, timeout) = p.permit(&state, &pod, &node);
                        match st.code {
                            Code::Success | Code::Skip => {}
                            Code::Wait => waits.push((p.name(), timeout)),
                            _ => {
                                verdict = plugin_failure(st, "Permit", p.name());
                                break;
                            }
                        }
                    }
                }
                if !verdict.is_success() {
                    metrics::attempt(attempt_result(&verdict), &sched_name, start.elapsed());
                    self.unreserve(profile, &state, &pod, &node);
                    self.cache.forget(&qp.key);
                    self.queue.done(&qp.key);
                    let me = self.clone();
                    let recorder = recorder.clone();
                    tokio::spawn(async move { me.failed(&pod, qp, &recorder, verdict).await });
                    return;
                }
                metrics::attempt("scheduled", &sched_name, start.elapsed());
                self.nominator.remove(&qp.key);
                self.queue.done(&qp.key);
                let me = self.clone();
                let (profile, recorder) = (profile.clone(), recorder.clone());
                tokio::spawn(async move { me.binding_cycle(profile, pod, qp, node, state, waits, recorder).await });
            }
            Outcome::Failed(msg, error, rejectors, nomination) => {
                metrics::attempt(if error { "error" } else { "unschedulable" }, &sched_name, start.elapsed());
                tracing::debug!(pod = %qp.key, "Unable to schedule pod: {msg}");
                recorder.eventf(&*pod, None, WARNING, "FailedScheduling", "Scheduling", truncate_note(&msg));
                let nominated = match nomination {
                    Nomination::Keep => None,
                    Nomination::Clear => {
                        self.nominator.remove(&qp.key);
                        let had = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref());
                        had.is_some_and(|n| !n.is_empty()).then_some(None)
                    }
                    Nomination::Set(node, victims) => {
                        self.nominator.set(pod.clone(), &node);
                        metrics::preemption_victims(victims.len());
                        let me = self.clone();
                        let (preemptor, node2, recorder2) = (pod.clone(), node.clone(), recorder.clone());
                        tokio::spawn(async move { me.evict(&preemptor, &node2, victims, &recorder2).await });
                        Some(Some(node))
                    }
                };
                self.queue.requeue_unschedulable(qp, error, rejectors);
                let reason = if error { "SchedulerError" } else { "Unschedulable" };
                // The status write does not hold up the next pod.
                let me = self.clone();
                tokio::spawn(async move { me.set_condition(&pod, reason, &msg, nominated).await });
            }
        }
    }

    /// Every Reserve plugin's Unreserve, in reverse order (upstream's
    /// `RunReservePluginsUnreserve`).
    fn unreserve(&self, profile: &Profile, state: &CycleState, pod: &Pod, node: &str) {
        for r in profile.reserve.iter().rev() {
            r.unreserve(state, pod, node);
        }
    }

    /// A pod that failed after its node was chosen (Reserve, Permit, PreBind, Bind): the
    /// FailedScheduling event and condition, and back to the queue, to the unschedulable pods
    /// when a plugin rejected it, else to backoff.
    async fn failed(&self, pod: &Arc<Pod>, qp: QueuedPod, recorder: &Recorder, st: Status) {
        let msg = st.message();
        let rejected = st.is_rejected();
        tracing::info!(pod = %qp.key, "Failed to schedule pod: {msg}");
        recorder.eventf(&**pod, None, WARNING, "FailedScheduling", "Scheduling", truncate_note(&msg));
        let rejectors = if rejected && !st.plugin.is_empty() { vec![st.plugin] } else { Vec::new() };
        // A pod deleted or bound meanwhile is no longer pending.
        let current = (self.lookup)(&qp.key);
        if current.as_ref().is_some_and(|p| p.metadata.uid == pod.metadata.uid && !is_assigned(p)) {
            self.queue.requeue_failed(qp, !rejected, rejectors);
        }
        let reason = if rejected { "Unschedulable" } else { "SchedulerError" };
        self.set_condition(pod, reason, &msg, None).await;
    }

    fn decide(&self, profile: &Profile, pod: &Pod, key: &str, snap: &Snapshot) -> Outcome {
        let all = &snap.nodes;
        if all.is_empty() {
            return Outcome::rejected("no nodes available to schedule pods".into(), vec!["NodeName"]);
        }
        let mut state = CycleState::default();
        let mut skipped: Vec<&'static str> = Vec::new();
        let mut pre_filter_rejection: Option<(Status, Vec<&'static str>)> = None;
        for p in &profile.pre_filter {
            let st = p.pre_filter(&mut state, pod, snap);
            match st.code {
                Code::Success => {}
                Code::Skip => skipped.push(p.name()),
                Code::Error | Code::Wait => {
                    return Outcome::error(format!("running PreFilter plugin \"{}\": {}", p.name(), st.message()))
                }
                // An unresolvable rejection ends PreFilter (no preemption can help); after a
                // plain one the rest still run, and the last rejection stands, as upstream.
                Code::UnschedulableAndUnresolvable => {
                    let mut names = pre_filter_rejection.map(|(_, n)| n).unwrap_or_default();
                    names.push(p.name());
                    pre_filter_rejection = Some((st, names));
                    break;
                }
                Code::Unschedulable => {
                    let mut names = pre_filter_rejection.map(|(_, n)| n).unwrap_or_default();
                    names.push(p.name());
                    pre_filter_rejection = Some((st, names));
                }
            }
        }
        let filters: Vec<&Arc<dyn Filter>> = profile.filter.iter().filter(|f| !skipped.contains(&f.name())).collect();
        let nominated = self.nominator.at_least(pod_priority(pod), key);
        let no_pods: &[Arc<PodInfo>] = &[];
        let nominated_on = |n: &NodeInfo| {
            if nominated.is_empty() {
                return no_pods;
            }
            nominated.get(n.name()).map(Vec::as_slice).unwrap_or(no_pods)
        };
        if let Some((st, rejectors)) = pre_filter_rejection {
            // Every node shares the PreFilter's verdict (upstream's absent-nodes status).
            let msg = fit_error(all.len(), &[], Some(&st.message()));
            let statuses: Vec<(String, Status)> = all.iter().map(|n| (n.name().to_string(), st.clone())).collect();
            return self.post_filter(profile, pod, snap, &state, &filters, &nominated, &statuses, msg, rejectors);
        }
        // A pod nominated by an earlier preemption tries that node first.
        let nominated_node = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| self.nominator.node_of(key));
        if let Some(info) = nominated_node.and_then(|n| snap.by_name.get(&n).map(|i| &all[*i])) {
            if filter_node(&profile.pre_filter, &filters, &state, pod, info, nominated_on(info)).is_success() {
                return Outcome::Placed(info.name().to_string(), state);
            }
        }
        let pct = profile.percentage_of_nodes_to_score.unwrap_or(self.percentage_of_nodes_to_score);
        let to_find = if profile.score.is_empty() { 1 } else { num_feasible_nodes_to_find(pct, all.len()) };
        let start = self.next_start.load(Ordering::Relaxed) % all.len();
        let mut feasible: Vec<Arc<NodeInfo>> = Vec::new();
        let mut statuses: Vec<(String, Status)> = Vec::new();
        for i in 0..all.len() {
            if i % WARM_AHEAD == 0 {
                warm(all, start + i);
            }
            let node = &all[(start + i) % all.len()];
            let st = filter_node(&profile.pre_filter, &filters, &state, pod, node, nominated_on(node));
            match st.code {
                Code::Success => {
                    feasible.push(node.clone());
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Code::Error => {
                    return Outcome::error(format!("running \"{}\" filter plugin: {}", st.plugin, st.message()));
                }
                _ => statuses.push((node.name().to_string(), st)),
            }
        }
        self.next_start.store((start + feasible.len() + statuses.len()) % all.len(), Ordering::Relaxed);
        if feasible.is_empty() {
            let msg = fit_error(all.len(), &statuses, None);
            let mut rejectors: Vec<&'static str> = statuses.iter().map(|(_, s)| s.plugin).collect();
            rejectors.sort_unstable();
            rejectors.dedup();
            return self.post_filter(profile, pod, snap, &state, &filters, &nominated, &statuses, msg, rejectors);
        }
        if feasible.len() == 1 {
            return Outcome::Placed(feasible[0].name().to_string(), state);
        }
        let mut skipped_scores: Vec<&'static str> = Vec::new();
        for p in &profile.pre_score {
            let st = p.pre_score(&mut state, pod, &feasible, snap);
            match st.code {
                Code::Success => {}
                Code::Skip => skipped_scores.push(p.name()),
                _ => return Outcome::error(format!("running PreScore plugin \"{}\": {}", p.name(), st.message())),
            }
        }
        let mut totals = vec![0i64; feasible.len()];
        for (plugin, weight) in &profile.score {
            if skipped_scores.contains(&plugin.name()) {
                continue;
            }
            let mut scores: Vec<i64> = feasible.iter().map(|n| plugin.score(&state, pod, n)).collect();
            plugin.normalize(&state, pod, &mut scores);
            for (t, s) in totals.iter_mut().zip(scores) {
                *t = t.saturating_add(s.saturating_mul(*weight));
            }
        }
        // The best node; ties broken uniformly at random (reservoir sampling, as upstream).
        let mut best = 0;
        let mut ties = 0u32;
        for (i, t) in totals.iter().enumerate() {
            if *t > totals[best] {
                best = i;
                ties = 1;
            } else if *t == totals[best] {
                ties += 1;
                if rand::random_range(0..ties) == 0 {
                    best = i;
                }
            }
        }
        Outcome::Placed(feasible[best].name().to_string(), state)
    }

    /// PostFilter: DefaultPreemption (when the profile has it) on a pod no node took. Its
    /// verdict is appended to the FitError text unless it found room.
    #[allow(clippy::too_many_arguments)]
    fn post_filter(
        &self,
        profile: &Profile,
        pod: &Pod,
        snap: &Snapshot,
        state: &CycleState,
        filters: &[&Arc<dyn Filter>],
        nominated: &Nominated,
        statuses: &[(String, Status)],
        mut msg: String,
        rejectors: Vec<&'static str>,
    ) -> Outcome {
        let Some(args) = profile.preemption.as_ref() else { return Outcome::rejected(msg, rejectors) };
        metrics::preemption_attempt();
        let pdbs = self.listers.pdbs();
        let dry = DryRun { pre_filters: &profile.pre_filter, filters, state, nominated, pdbs: &pdbs };
        let nomination = match preemption::preempt(args, &dry, pod, snap, statuses) {
            Verdict::Preempt(c) => Nomination::Set(c.node, c.victims),
            Verdict::Failed(why, clear) => {
                msg.push_str(" preemption: ");
                msg.push_str(&why);
                if clear {
                    Nomination::Clear
                } else {
                    Nomination::Keep
                }
            }
        };
        Outcome::Failed(msg, false, rejectors, nomination)
    }

    /// Evicts preemption victims as upstream's `prepareCandidate`: lower-priority pods
    /// nominated to the node lose that nomination; each victim gets the DisruptionTarget
    /// condition, is deleted (gracefully) and gets a `Preempted` event.
    async fn evict(&self, preemptor: &Pod, node: &str, victims: Vec<Arc<PodInfo>>, recorder: &Recorder) {
        for p in self.nominator.below(node, pod_priority(preemptor)) {
            self.nominator.remove(&pod_key(&p));
            let api: Api<Pod> = Api::namespaced(self.client.clone(), p.metadata.namespace.as_deref().unwrap_or(""));
            let patch = serde_json::json!({"status": {"nominatedNodeName": null}});
            let name = p.metadata.name.as_deref().unwrap_or("");
            if let Err(e) = api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await {
                tracing::debug!("Cannot clear the nomination of pod {name}: {e}");
            }
        }
        let uid = preemptor.metadata.uid.clone().unwrap_or_default();
        let sched = preemptor.spec.as_ref().and_then(|s| s.scheduler_name.clone()).unwrap_or_default();
        for v in victims {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), v.pod.metadata.namespace.as_deref().unwrap_or(""));
            let name = v.pod.metadata.name.clone().unwrap_or_default();
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            let patch = serde_json::json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "True",
                "reason": "PreemptionByScheduler",
                "message": format!("{sched}: preempting to accommodate a higher priority pod"),
                "lastTransitionTime": now}]}});
            let gone = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 404);
            if let Err(e) = api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await {
                if !gone(&e) {
                    tracing::info!(victim = %name, "Preemption: cannot mark the victim: {}", api_message(&e));
                    continue;
                }
            }
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => recorder.eventf(
                    &*v.pod,
                    Some(reference(preemptor)),
                    NORMAL,
                    "Preempted",
                    "Preempting",
                    format!("Preempted by pod {uid} on node {node}"),
                ),
                Err(e) if gone(&e) => {}
                Err(e) => tracing::info!(victim = %name, "Preemption: cannot delete the victim: {}", api_message(&e)),
            }
        }
    }

    /// The binding cycle, off the scheduling loop: wait while a Permit plugin holds the pod,
    /// PreBind, DefaultBinder's `pods/binding`, PostBind. On failure the reservations are
    /// given back, the assumed pod is forgotten, and the pod is tried again.
    #[allow(clippy::too_many_arguments)]
    async fn binding_cycle(
        self: Arc<Self>,
        profile: Arc<Profile>,
        pod: Arc<Pod>,
        qp: QueuedPod,
        node: String,
        state: CycleState,
        waits: Vec<(&'static str, Duration)>,
        recorder: Recorder,
    ) {
        let mut st = self.wait_on_permit(&pod, waits).await;
        if st.is_success() {
            for p in &profile.pre_bind {
                let s = p.pre_bind(&state, &pod, &node).await;
                if !s.is_success() {
                    st = plugin_failure(s, "PreBind", p.name());
                    break;
                }
            }
        }
        if st.is_success() {
            match self.bind(&pod, &node).await {
                Ok(()) => {
                    recorder.eventf(
                        &*pod,
                        None,
                        NORMAL,
                        "Scheduled",
                        "Binding",
                        format!("Successfully assigned {} to {node}", qp.key),
                    );
                    if let Some(t) = qp.initial_attempt {
                        metrics::sli(t.elapsed(), qp.attempts);
                    }
                    for p in &profile.post_bind {
                        p.post_bind(&state, &pod, &node);
                    }
                    return;
                }
                Err(e) => {
                    // A pod deleted or already bound is no longer pending: nothing to retry.
                    if matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409) {
                        self.unreserve(&profile, &state, &pod, &node);
                        self.cache.forget(&qp.key);
                        return;
                    }
                    let msg = format!("running Bind plugin \"DefaultBinder\": {}", api_message(&e));
                    st = Status::new(Code::Error, msg);
                }
            }
        }
        self.unreserve(&profile, &state, &pod, &node);
        self.cache.forget(&qp.key);
        // Whatever the assumed pod held may let others fit.
        self.queue.move_all();
        self.failed(&pod, qp, &recorder, st).await;
    }

    /// upstream's `WaitOnPermit`: until every plugin that said Wait allows the pod, one
    /// rejects it, or the shortest timeout passes.
    async fn wait_on_permit(&self, pod: &Pod, waits: Vec<(&'static str, Duration)>) -> Status {
        let Some(&(first, timeout)) = waits.iter().min_by_key(|(_, t)| *t) else { return Status::success() };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let rx = self.waiting.add(&uid, waits.iter().map(|(n, _)| *n).collect());
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(st)) => st,
            Ok(Err(_)) => Status::new(Code::Error, "waiting pod was dropped"),
            Err(_) => {
                self.waiting.remove(&uid);
                Status::new(
                    Code::Unschedulable,
                    format!(
                        "rejected due to timeout after waiting {} at plugin {first}",
                        component_base::flags::format_go_duration(timeout)
                    ),
                )
                .with_plugin(first)
            }
        }
    }

    /// DefaultBinder: `pods/binding`.
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let binding = serde_json::json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        api.create_subresource::<_, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await?;
        Ok(())
    }

    /// PodScheduled=False with the reason and message (and `nominated`: Some(node) to set
    /// `status.nominatedNodeName`, Some(None) to clear it), unless it already says so.
    async fn set_condition(&self, pod: &Pod, reason: &str, msg: &str, nominated: Option<Option<String>>) {
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
        let current_nomination = pod.status.as_ref().and_then(|s| s.nominated_node_name.clone());
        let same_condition = current.is_some_and(|c| {
            c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(msg)
        });
        if same_condition && nominated.as_ref().is_none_or(|n| *n == current_nomination) {
            return;
        }
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let transition = match current {
            Some(c) if c.status == "False" => {
                c.last_transition_time.as_ref().map(|t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
            _ => None,
        }
        .unwrap_or(now);
        let mut patch = serde_json::json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": reason, "message": msg, "lastProbeTime": null, "lastTransitionTime": transition}]}});
        if let Some(n) = nominated {
            patch["status"]["nominatedNodeName"] = serde_json::json!(n);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or(""));
        let name = pod.metadata.name.as_deref().unwrap_or("");
        if let Err(e) = api.patch_status(name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            tracing::debug!("Error updating pod {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feasible_node_counts_follow_upstreams_formula() {
        assert_eq!(num_feasible_nodes_to_find(0, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(0, 100), 100);
        assert_eq!(num_feasible_nodes_to_find(0, 500), 230);
        assert_eq!(num_feasible_nodes_to_find(0, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(0, 5000), 500);
        assert_eq!(num_feasible_nodes_to_find(0, 6000), 300);
        assert_eq!(num_feasible_nodes_to_find(100, 6000), 6000);
    }

    #[test]
    fn fit_errors_count_and_sort_reasons_as_strings() {
        let st = |code, rs: &[&str]| Status { code, reasons: rs.iter().map(|s| s.to_string()).collect(), plugin: "" };
        let mut statuses = vec![(
            "n0".to_string(),
            st(
                Code::UnschedulableAndUnresolvable,
                &["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"],
            ),
        )];
        for i in 1..=10 {
            statuses.push((format!("n{i}"), st(Code::Unschedulable, &["Insufficient cpu"])));
        }
        statuses.push(("n11".into(), st(Code::Unschedulable, &["Insufficient cpu", "Insufficient memory"])));
        assert_eq!(
            fit_error(12, &statuses, None),
            "0/12 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 11 Insufficient cpu."
        );
        let tried = vec![("a".to_string(), st(Code::UnschedulableAndUnresolvable, &[preemption::NO_VICTIMS]))];
        assert_eq!(
            fit_error_with_absent(3, &tried, preemption::NOT_HELPFUL),
            "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
        assert_eq!(truncate_note(&"x".repeat(2000)).len(), 1024);
    }
}
