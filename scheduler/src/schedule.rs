//! One scheduling cycle per pod, as upstream's `scheduleOne`: PreFilter, Filter over the nodes
//! (from a round-robin start, stopping once enough feasible nodes are found), PreScore, Score
//! with normalization and weights, a random pick among the best, then assume and bind in the
//! background. A pod no node takes gets upstream's `0/N nodes are available: ...` message as a
//! `FailedScheduling` event and as its PodScheduled condition.

use crate::cache::{Cache, Snapshot};
use crate::config::Profile;
use crate::framework::{pod_key, Code, CycleState, NodeInfo, Status};
use crate::metrics;
use crate::queue::{Queue, QueuedPod};
use component_base::client::api_message;
use component_base::events::Recorder;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    pub client: Client,
    pub percentage_of_nodes_to_score: i32,
    pub lookup: Lookup,
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
    let mut msg = format!("0/{total} nodes are available:");
    if let Some(m) = pre_filter_msg {
        msg.push_str(&format!(" {m}."));
        return msg;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, st) in statuses {
        for r in &st.reasons {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    parts.sort();
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    msg
}

/// The preemption suffix when no node could be helped by evicting pods: every failure was
/// unresolvable, so DefaultPreemption finds no candidate.
fn preemption_suffix(total: usize, statuses: &[(String, Status)]) -> Option<String> {
    statuses.iter().all(|(_, s)| s.code == Code::UnschedulableAndUnresolvable).then(|| {
        format!("preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.")
    })
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

/// What a cycle decided.
enum Outcome {
    Placed(String),
    /// No node fits: the message, whether it was an error rather than a rejection, and the
    /// plugins that rejected it.
    Failed(String, bool, Vec<&'static str>),
}

impl Outcome {
    fn error(msg: String) -> Outcome {
        Outcome::Failed(msg, true, Vec::new())
    }
}

impl Scheduler {
    pub fn new(
        profiles: HashMap<String, (Arc<Profile>, Recorder)>,
        cache: Arc<Cache>,
        queue: Arc<Queue>,
        client: Client,
        percentage_of_nodes_to_score: i32,
        lookup: Lookup,
    ) -> Scheduler {
        Scheduler {
            profiles,
            cache,
            queue,
            client,
            percentage_of_nodes_to_score,
            lookup,
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
        if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty()) {
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
            recorder.warning(&*pod, "FailedScheduling", format!("skip schedule deleting pod: {ns}/{name}"));
            self.queue.done(&qp.key);
            return;
        }
        let snapshot = self.cache.snapshot();
        match self.decide(profile, &pod, &snapshot) {
            Outcome::Placed(node) => {
                metrics::attempt("scheduled", &sched_name, start.elapsed());
                let mut assumed = (*pod).clone();
                if let Some(s) = assumed.spec.as_mut() {
                    s.node_name = Some(node.clone());
                }
                self.cache.assume(Arc::new(assumed), &node);
                self.queue.done(&qp.key);
                let me = self.clone();
                let recorder = recorder.clone();
                tokio::spawn(async move { me.bind(pod, qp, node, recorder).await });
            }
            Outcome::Failed(msg, error, rejectors) => {
                metrics::attempt(if error { "error" } else { "unschedulable" }, &sched_name, start.elapsed());
                tracing::debug!(pod = %qp.key, "Unable to schedule pod: {msg}");
                recorder.warning(&*pod, "FailedScheduling", truncate_note(&msg));
                self.queue.requeue_unschedulable(qp, error, rejectors);
                let reason = if error { "SchedulerError" } else { "Unschedulable" };
                // The status write does not hold up the next pod.
                let me = self.clone();
                tokio::spawn(async move { me.set_condition(&pod, reason, &msg).await });
            }
        }
    }

    fn decide(&self, profile: &Profile, pod: &Pod, snap: &Snapshot) -> Outcome {
        let all = &snap.nodes;
        if all.is_empty() {
            return Outcome::Failed("no nodes available to schedule pods".into(), false, vec!["NodeName"]);
        }
        let mut state = CycleState::default();
        let mut skipped: Vec<&'static str> = Vec::new();
        let mut unschedulable_msgs = Vec::new();
        let mut rejectors = Vec::new();
        for p in &profile.pre_filter {
            let st = p.pre_filter(&mut state, pod, all);
            match st.code {
                Code::Success => {}
                Code::Skip => skipped.push(p.name()),
                Code::UnschedulableAndUnresolvable => {
                    return Outcome::Failed(fit_error(all.len(), &[], Some(&st.message())), false, vec![p.name()]);
                }
                Code::Unschedulable => {
                    unschedulable_msgs.push(st.message());
                    rejectors.push(p.name());
                }
                Code::Error => {
                    return Outcome::error(format!("running PreFilter plugin \"{}\": {}", p.name(), st.message()))
                }
            }
        }
        if !unschedulable_msgs.is_empty() {
            return Outcome::Failed(fit_error(all.len(), &[], Some(&unschedulable_msgs.join(", "))), false, rejectors);
        }
        let filters: Vec<_> = profile.filter.iter().filter(|f| !skipped.contains(&f.name())).collect();
        let pct = profile.percentage_of_nodes_to_score.unwrap_or(self.percentage_of_nodes_to_score);
        let to_find = if profile.score.is_empty() { 1 } else { num_feasible_nodes_to_find(pct, all.len()) };
        let start = self.next_start.load(Ordering::Relaxed) % all.len();
        let mut feasible: Vec<Arc<NodeInfo>> = Vec::new();
        let mut statuses: Vec<(String, Status)> = Vec::new();
        for i in 0..all.len() {
            let node = &all[(start + i) % all.len()];
            let failed = filters.iter().find_map(|f| {
                let st = f.filter(&state, pod, node);
                (!st.is_success()).then(|| st.with_plugin(f.name()))
            });
            match failed {
                None => {
                    feasible.push(node.clone());
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Some(st) if st.code == Code::Error => {
                    return Outcome::error(format!("running \"{}\" filter plugin: {}", st.plugin, st.message()));
                }
                Some(st) => statuses.push((node.name().to_string(), st)),
            }
        }
        self.next_start.store((start + feasible.len() + statuses.len()) % all.len(), Ordering::Relaxed);
        if feasible.is_empty() {
            let mut msg = fit_error(all.len(), &statuses, None);
            if let Some(s) = preemption_suffix(all.len(), &statuses) {
                msg.push(' ');
                msg.push_str(&s);
            }
            let mut rejectors: Vec<&'static str> = statuses.iter().map(|(_, s)| s.plugin).collect();
            rejectors.sort_unstable();
            rejectors.dedup();
            return Outcome::Failed(msg, false, rejectors);
        }
        if feasible.len() == 1 {
            return Outcome::Placed(feasible[0].name().to_string());
        }
        let mut skipped_scores: Vec<&'static str> = Vec::new();
        for p in &profile.pre_score {
            let st = p.pre_score(&mut state, pod, &feasible, all);
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
        Outcome::Placed(feasible[best].name().to_string())
    }

    /// DefaultBinder: `pods/binding`; on failure the assumed pod is forgotten and retried.
    async fn bind(self: Arc<Self>, pod: Arc<Pod>, qp: QueuedPod, node: String, recorder: Recorder) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let binding = serde_json::json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match api.create_subresource::<_, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await {
            Ok(_) => {
                recorder.normal(&*pod, "Scheduled", format!("Successfully assigned {ns}/{name} to {node}"));
                if let Some(t) = qp.initial_attempt {
                    metrics::sli(t.elapsed(), qp.attempts);
                }
            }
            Err(e) => {
                let key = pod_key(&pod);
                self.cache.forget(&key);
                let msg = format!("running Bind plugin \"DefaultBinder\": {}", api_message(&e));
                tracing::info!(pod = %key, "Failed to bind pod: {msg}");
                // A pod deleted or already bound is no longer pending: nothing to retry.
                let gone = matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409);
                if gone {
                    return;
                }
                recorder.warning(&*pod, "FailedScheduling", truncate_note(&msg));
                self.queue.move_all();
                self.queue.add(pod.clone(), key);
                self.set_condition(&pod, "SchedulerError", &msg).await;
            }
        }
    }

    /// PodScheduled=False with the reason and message, unless it already says so.
    async fn set_condition(&self, pod: &Pod, reason: &str, msg: &str) {
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
        if current.is_some_and(|c| {
            c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(msg)
        }) {
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
        let patch = serde_json::json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": reason, "message": msg, "lastProbeTime": null, "lastTransitionTime": transition}]}});
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
        let unresolvable = vec![(
            "a".to_string(),
            st(Code::UnschedulableAndUnresolvable, &["node(s) didn't match Pod's node affinity/selector"]),
        )];
        assert_eq!(
            preemption_suffix(1, &unresolvable).unwrap(),
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
        assert_eq!(truncate_note(&"x".repeat(2000)).len(), 1024);
    }
}
