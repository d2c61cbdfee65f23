//! `job-controller` (upstream `pkg/controller/job`): runs each Job's pods to completion.
//!
//! Pods are created from the template (at most `parallelism` active, never more than the
//! completions still missing) with the `batch.kubernetes.io/job-tracking` finalizer; a finished
//! pod is first recorded in `status.uncountedTerminatedPods`, then its finalizer is removed,
//! then it moves to `status.succeeded` / `failed`, so no pod is counted twice or lost even if
//! the controller restarts. Indexed Jobs give each pod a completion index (annotation, label,
//! `JOB_COMPLETION_INDEX`, hostname `<job>-<index>`) and report `completedIndexes` (and
//! `failedIndexes` with `backoffLimitPerIndex`) as interval strings like `0-2,4`.
//!
//! Failed pods are replaced after an exponential backoff (10 s doubling, at most 10 min) until
//! `backoffLimit` is exceeded; `activeDeadlineSeconds`, `podFailurePolicy` (FailJob, FailIndex,
//! Ignore, Count), `maxFailedIndexes` and `successPolicy` end a Job early. As v1.33 does, the
//! terminal condition comes in two steps: FailureTarget then Failed, SuccessCriteriaMet then
//! Complete, the latter only once no pod is still terminating. `suspend` deletes the active
//! pods (condition Suspended / JobSuspended) and resuming resets `status.startTime`.
//! Expectations keep a sync from acting again before the informer has seen its own creations,
//! deletions and finalizer removals; orphan pods matching a Job's selector are adopted.

use crate::context::Ctx;
use crate::util::{self, Expectations};
use crate::Error;
use component_base::events::Recorder;
use component_base::workqueue::RateLimiter;
use component_base::{Change, Informer, WorkQueue};
use futures::future::join_all;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobCondition, PodFailurePolicy, SuccessPolicy, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KIND: &str = "Job";
const API_VERSION: &str = "batch/v1";
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";
const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The `spec.managedBy` value that means this controller.
const MANAGED_BY_SELF: &str = "kubernetes.io/job-controller";
/// Pod events wait this long so that a burst of them makes one sync (`syncJobBatchPeriod`).
const SYNC_BATCH_PERIOD: Duration = Duration::from_secs(1);
/// Pod re-creation backoff after failures (`DefaultJobPodFailureBackOff` / `Max...`).
const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);
/// At most this many pods in `status.uncountedTerminatedPods` (`MaxUncountedPods`).
const MAX_UNCOUNTED: usize = 500;
/// At most this many pods are created or deleted per sync.
const MAX_CREATE_DELETE_PER_SYNC: i32 = 500;
/// `names.MaxGeneratedNameLength`: 63 minus the five random characters.
const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// Pod UIDs whose finalizer removal a Job waits to see (`uidTrackingExpectations`).
#[derive(Default)]
struct FinalizerExpectations(Mutex<HashMap<String, HashSet<String>>>);

impl FinalizerExpectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashSet<String>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn expect(&self, key: &str, uids: &[String]) {
        self.lock().entry(key.to_string()).or_default().extend(uids.iter().cloned());
    }
    fn observed(&self, key: &str, uid: &str) {
        if let Some(s) = self.lock().get_mut(key) {
            s.remove(uid);
        }
    }
    fn get(&self, key: &str) -> HashSet<String> {
        self.lock().get(key).cloned().unwrap_or_default()
    }
    fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// Consecutive failures since the last success and when the last one was (`backoffRecord`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackoffRecord {
    failures_after_last_success: i32,
    last_failure: Option<Timestamp>,
}

struct Jc {
    client: Client,
    pods: Informer<Pod>,
    jobs: Informer<Job>,
    queue: WorkQueue<String>,
    orphans: WorkQueue<String>,
    expectations: Expectations,
    finalizers: FinalizerExpectations,
    backoff: Mutex<HashMap<String, BackoffRecord>>,
    recorder: Recorder,
}

fn api_queue(name: &str) -> WorkQueue<String> {
    // `DefaultJobApiBackOff` 1 s doubling to `MaxJobApiBackOff` 1 min, no overall bucket.
    WorkQueue::with_limiter(name, RateLimiter::new(Duration::from_secs(1), Duration::from_secs(60), 0.0, 1))
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("job-controller").await?;
    let jc = Arc::new(Jc {
        recorder: ctx.recorder(&client, "job-controller"),
        client,
        pods: ctx.informers.get::<Pod>(),
        jobs: ctx.informers.get::<Job>(),
        queue: api_queue("job"),
        orphans: api_queue("job_orphan_pod"),
        expectations: Expectations::default(),
        finalizers: FinalizerExpectations::default(),
        backoff: Mutex::default(),
    });
    util::index_by_controller(&jc.pods);
    let h = jc.clone();
    jc.jobs.add_handler(move |c| match c {
        Change::Added(j) => h.queue.add(util::meta_key(&j.metadata)),
        Change::Updated { old, new } => h.update_job(old, new),
        Change::Deleted(j) => {
            h.queue.add(util::meta_key(&j.metadata));
            h.cleanup_pod_finalizers(j);
        }
    });
    let h = jc.clone();
    jc.pods.add_handler(move |c| match c {
        Change::Added(p) => h.add_pod(p),
        Change::Updated { old, new } => h.update_pod(old, new),
        Change::Deleted(p) => h.delete_pod(p, true),
    });
    let workers = ctx.opts.concurrent_job_syncs;
    tokio::spawn(async move {
        jc.pods.wait_synced().await;
        jc.jobs.wait_synced().await;
        let w = jc.clone();
        jc.queue.run_workers(workers, move |key: String| {
            let w = w.clone();
            async move { w.sync(&key).await }
        });
        let w = jc.clone();
        jc.orphans.run_workers(1, move |key: String| {
            let w = w.clone();
            async move { w.sync_orphan_pod(&key).await }
        });
    });
    Ok(true)
}

// ---- pure helpers -------------------------------------------------------------------------

fn spec(job: &Job) -> k8s_openapi::api::batch::v1::JobSpec {
    job.spec.clone().unwrap_or_default()
}

pub fn is_indexed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
}

fn completions(job: &Job) -> Option<i32> {
    job.spec.as_ref().and_then(|s| s.completions)
}

fn suspended(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.suspend) == Some(true)
}

fn has_backoff_limit_per_index(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.backoff_limit_per_index).is_some()
}

fn failure_policy(job: &Job) -> Option<&PodFailurePolicy> {
    job.spec.as_ref()?.pod_failure_policy.as_ref()
}

/// A Job whose `spec.managedBy` names another controller is left alone.
fn managed_externally(job: &Job) -> Option<&str> {
    job.spec.as_ref()?.managed_by.as_deref().filter(|m| *m != MANAGED_BY_SELF)
}

fn find_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Complete or Failed with status True.
pub fn is_finished(job: &Job) -> bool {
    ["Complete", "Failed"].iter().any(|t| find_condition(job, t).is_some_and(|c| c.status == "True"))
}

fn has_finalizer(p: &Pod) -> bool {
    p.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

fn uid(p: &Pod) -> String {
    p.metadata.uid.clone().unwrap_or_default()
}

/// The pod's completion index annotation, when it is a non-negative integer.
pub fn completion_index(p: &Pod) -> Option<i32> {
    p.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?.parse::<i32>().ok().filter(|i| *i >= 0)
}

fn valid_index(p: &Pod, completions: i32) -> Option<i32> {
    completion_index(p).filter(|i| *i < completions)
}

fn annotation_i32(p: &Pod, key: &str) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0)
}

/// Only failed pods are replaced (not terminating ones): podReplacementPolicy Failed, or a
/// pod failure policy.
fn only_replace_failed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || failure_policy(job).is_some()
}

/// A Failed pod, or one being deleted before it succeeded (unless only failed pods count).
pub fn is_pod_failed(p: &Pod, job: &Job) -> bool {
    let phase = util::pod_phase(p);
    if phase == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    p.metadata.deletion_timestamp.is_some() && phase != "Succeeded"
}

/// Being deleted and not finished (`controller.IsPodTerminating`).
fn is_terminating(p: &Pod) -> bool {
    let phase = util::pod_phase(p);
    p.metadata.deletion_timestamp.is_some() && phase != "Succeeded" && phase != "Failed"
}

fn new_condition(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// upstream's `ensureJobConditionStatus`: updates a condition of `type_` when its status,
/// reason or message differ; adds it unless the status is False. True when the list changed.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or("") != reason
            || c.message.as_deref().unwrap_or("") != message
        {
            *c = new_condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

/// Sorted, merged, inclusive index intervals (`orderedIntervals`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(pub Vec<(i32, i32)>);

impl Intervals {
    /// Parses `0-2,4` (ignoring corrupt parts) up to `completions`.
    pub fn parse(s: &str, completions: i32) -> Intervals {
        let mut out: Vec<(i32, i32)> = Vec::new();
        if s.is_empty() {
            return Intervals(out);
        }
        for part in s.split(',') {
            let mut lim = part.splitn(2, '-');
            let Some(Ok(first)) = lim.next().map(str::parse::<i32>) else { continue };
            if first >= completions {
                break;
            }
            let last = match lim.next() {
                Some(l) => match l.parse::<i32>() {
                    Ok(l) => l.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match out.last_mut() {
                Some(prev) if prev.1 == first - 1 => prev.1 = last,
                _ => out.push((first, last)),
            }
        }
        Intervals(out)
    }

    /// Merges in another ordered list.
    pub fn merge(&self, other: &Intervals) -> Intervals {
        let mut all: Vec<(i32, i32)> = self.0.iter().chain(other.0.iter()).copied().collect();
        all.sort_by_key(|i| i.0);
        let mut out: Vec<(i32, i32)> = Vec::new();
        for iv in all {
            match out.last_mut() {
                Some(last) if iv.0 <= last.1.saturating_add(1) => last.1 = last.1.max(iv.1),
                _ => out.push(iv),
            }
        }
        Intervals(out)
    }

    pub fn with_indexes(&self, idx: impl IntoIterator<Item = i32>) -> Intervals {
        let set: BTreeSet<i32> = idx.into_iter().collect();
        self.merge(&Intervals(set.into_iter().map(|i| (i, i)).collect()))
    }

    pub fn total(&self) -> i32 {
        self.0.iter().map(|(a, b)| b - a + 1).sum()
    }

    pub fn has(&self, ix: i32) -> bool {
        self.0.iter().any(|(a, b)| *a <= ix && ix <= *b)
    }
}

impl std::fmt::Display for Intervals {
    /// `0-2,4`; two consecutive indexes are written `5,6`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
            if b > a {
                write!(f, "{}{b}", if *b == a + 1 { "," } else { "-" })?;
            }
        }
        Ok(())
    }
}

/// upstream's `matchPodFailurePolicy`: the FailJob message, whether the failure counts
/// against the backoff limits, and the matched action.
pub fn match_pod_failure_policy(policy: &PodFailurePolicy, p: &Pod) -> (Option<String>, bool, Option<&'static str>) {
    let status = p.status.clone().unwrap_or_default();
    let ns = p.namespace().unwrap_or_default();
    for (i, rule) in policy.rules.iter().enumerate() {
        let matched: Option<String> = if let Some(req) = &rule.on_exit_codes {
            let statuses =
                status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten());
            statuses
                .filter_map(|cs| cs.state.as_ref()?.terminated.as_ref().map(|t| (cs, t.exit_code)))
                .find(|(cs, code)| {
                    *code != 0
                        && req.container_name.as_ref().is_none_or(|n| *n == cs.name)
                        && match req.operator.as_str() {
                            "In" => req.values.contains(code),
                            "NotIn" => !req.values.contains(code),
                            _ => false,
                        }
                })
                .map(|(cs, code)| {
                    format!(
                        "Container {} for pod {ns}/{} failed with exit code {code} matching {} rule at index {i}",
                        cs.name,
                        p.name_any(),
                        rule.action
                    )
                })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            status.conditions.iter().flatten().find_map(|c| {
                patterns.iter().any(|pt| pt.type_ == c.type_ && pt.status == c.status).then(|| {
                    format!(
                        "Pod {ns}/{} has condition {} matching {} rule at index {i}",
                        p.name_any(),
                        c.type_,
                        rule.action
                    )
                })
            })
        } else {
            None
        };
        let Some(msg) = matched else { continue };
        match rule.action.as_str() {
            "Ignore" => return (None, false, Some("Ignore")),
            "FailIndex" => return (None, true, Some("FailIndex")),
            "Count" => return (None, true, Some("Count")),
            "FailJob" => return (Some(msg), true, Some("FailJob")),
            _ => {}
        }
    }
    (None, true, None)
}

/// upstream's `matchSuccessPolicy`: the SuccessCriteriaMet message when a rule is met.
pub fn match_success_policy(policy: Option<&SuccessPolicy>, completions: i32, succeeded: &Intervals) -> Option<String> {
    let policy = policy?;
    if succeeded.0.is_empty() {
        return None;
    }
    for (i, rule) in policy.rules.iter().enumerate() {
        if let Some(idx) = &rule.succeeded_indexes {
            let required = Intervals::parse(idx, completions);
            if required.0.is_empty() {
                continue;
            }
            let contained: i32 = required
                .0
                .iter()
                .map(|(a, b)| succeeded.0.iter().map(|(c, d)| ((*b).min(*d) - (*a).max(*c) + 1).max(0)).sum::<i32>())
                .sum();
            if contained == required.total() || rule.succeeded_count.is_some_and(|n| contained >= n) {
                return Some(format!("Matched rules at index {i}"));
            }
        } else if rule.succeeded_count.is_some_and(|n| succeeded.total() >= n) {
            return Some(format!("Matched rules at index {i}"));
        }
    }
    None
}

/// When a pod finished: its last container termination, else its Ready=False transition,
/// else its deletion time minus the grace period, else its creation (`getFinishedTime`).
pub fn finished_time(p: &Pod) -> Timestamp {
    let st = p.status.clone().unwrap_or_default();
    let cs = st.container_statuses.unwrap_or_default();
    if !cs.is_empty() {
        let ends: Option<Vec<Timestamp>> =
            cs.iter().map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)).collect();
        if let Some(max) = ends.and_then(|e| e.into_iter().max()) {
            return max;
        }
    }
    if let Some(c) = st.conditions.iter().flatten().find(|c| c.type_ == "Ready") {
        if c.status == "False" {
            if let Some(t) = &c.last_transition_time {
                return t.0;
            }
        }
    }
    if let Some(d) = &p.metadata.deletion_timestamp {
        let grace = p.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return d.0.checked_sub(SignedDuration::from_secs(grace)).unwrap_or(d.0);
    }
    p.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The backoff record after this sync's newly finished pods (`newBackoffRecord`).
pub fn next_backoff_record(old: &BackoffRecord, succeeded: &[Arc<Pod>], failed: &[Arc<Pod>]) -> BackoffRecord {
    let mut fail_times: Vec<Timestamp> = failed.iter().map(|p| finished_time(p)).collect();
    fail_times.sort();
    let last_success = succeeded.iter().map(|p| finished_time(p)).max();
    match last_success {
        None if fail_times.is_empty() => old.clone(),
        None => BackoffRecord {
            failures_after_last_success: old.failures_after_last_success
                + i32::try_from(fail_times.len()).unwrap_or(i32::MAX),
            last_failure: fail_times.last().copied(),
        },
        Some(success) => {
            let after: Vec<&Timestamp> = fail_times.iter().filter(|t| **t > success).collect();
            BackoffRecord {
                failures_after_last_success: i32::try_from(after.len()).unwrap_or(i32::MAX),
                last_failure: after.last().map(|t| **t),
            }
        }
    }
}

/// How long pod creation still waits after `failures` consecutive failures, the last at
/// `last` (`getRemainingTimeForFailuresCount`): 10 s doubling, at most 10 min.
pub fn remaining_backoff(failures: i32, last: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(last) = last.filter(|_| failures > 0) else { return Duration::ZERO };
    let mut backoff = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        backoff *= 2;
        if backoff >= MAX_POD_FAILURE_BACKOFF {
            backoff = MAX_POD_FAILURE_BACKOFF;
            break;
        }
    }
    let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
    backoff.saturating_sub(elapsed)
}

/// `controller.ActivePods` ordering: the pod to delete first sorts first (unscheduled,
/// pending, not ready, ready for less time, more restarts, newer).
fn active_pods_order(a: &Pod, b: &Pod) -> Ordering {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let (na, nb) = (node(a), node(b));
    if na.is_empty() != nb.is_empty() {
        return if na.is_empty() { Ordering::Less } else { Ordering::Greater };
    }
    let rank = |p: &Pod| match util::pod_phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    if rank(a) != rank(b) {
        return rank(a).cmp(&rank(b));
    }
    let (ra, rb) = (util::pod_ready(a), util::pod_ready(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    if ra && rb {
        let (ta, tb) = (util::pod_ready_time(a), util::pod_ready_time(b));
        if ta != tb {
            // Ready more recently (later transition) first; unset first.
            return match (ta, tb) {
                (None, _) => Ordering::Less,
                (_, None) => Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            };
        }
    }
    let restarts = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
    };
    if restarts(a) != restarts(b) {
        return restarts(b).cmp(&restarts(a));
    }
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    match (created(a), created(b)) {
        (x, y) if x == y => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    }
}

/// upstream's `activePodsForRemoval`: for Indexed Jobs first the pods without a valid index
/// and all but one of each repeated index, then by `ActivePods` order up to `rm_at_least`.
pub fn active_pods_for_removal(job: &Job, pods: &[Arc<Pod>], rm_at_least: usize) -> Vec<Arc<Pod>> {
    let mut rm: Vec<Arc<Pod>> = Vec::new();
    let mut left: Vec<Arc<Pod>> = Vec::new();
    if is_indexed(job) {
        let comps = completions(job).unwrap_or(0);
        let mut by_index: std::collections::BTreeMap<i32, Vec<Arc<Pod>>> = std::collections::BTreeMap::new();
        for p in pods {
            match valid_index(p, comps) {
                Some(ix) => by_index.entry(ix).or_default().push(p.clone()),
                None => rm.push(p.clone()),
            }
        }
        for (_, mut same) in by_index {
            same.sort_by(|a, b| active_pods_order(a, b));
            let keep = same.pop();
            rm.extend(same);
            left.extend(keep);
        }
    } else {
        left = pods.to_vec();
    }
    if rm.len() < rm_at_least {
        left.sort_by(|a, b| active_pods_order(a, b));
        let n = (rm_at_least - rm.len()).min(left.len());
        rm.extend(left.into_iter().take(n));
    }
    rm
}

/// `podGenerateNameWithIndex`: `<job>-<index>-`, the job name cut to fit.
pub fn generate_name_with_index(job: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job}{suffix}");
    if prefix.len() <= MAX_GENERATED_NAME_LENGTH {
        return prefix;
    }
    let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
    let cut: String = job
        .chars()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= keep).then_some(c)
        })
        .collect();
    format!("{cut}{suffix}")
}

/// Container restarts of running or pending pods reach the limit (restartPolicy OnFailure).
fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    let sp = spec(job);
    if sp.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(util::pod_phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
        .map(|c| c.restart_count)
        .sum();
    let limit = sp.backoff_limit.unwrap_or(6);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Seconds of `activeDeadlineSeconds` left (negative when past), if it applies.
fn active_deadline_left(job: &Job, now: Timestamp) -> Option<SignedDuration> {
    let ads = job.spec.as_ref()?.active_deadline_seconds?;
    let start = job.status.as_ref()?.start_time.as_ref()?.0;
    if suspended(job) {
        return None;
    }
    let end = start.checked_add(SignedDuration::from_secs(ads)).ok()?;
    Some(end.duration_since(now))
}

/// Drops from the uncounted lists the pods whose finalizer is gone, counting them
/// (`cleanUncountedPodsWithoutFinalizers`). True when the status changed.
fn clean_uncounted(job: &mut Job, with_finalizer: &HashSet<String>) -> bool {
    let st = job.status.get_or_insert_with(Default::default);
    let unc = st.uncounted_terminated_pods.get_or_insert_with(Default::default);
    let mut changed = false;
    let succ = unc.succeeded.take().unwrap_or_default();
    let keep: Vec<String> = succ.iter().filter(|u| with_finalizer.contains(*u)).cloned().collect();
    let moved_s = succ.len() - keep.len();
    unc.succeeded = (!keep.is_empty()).then_some(keep);
    let fail = unc.failed.take().unwrap_or_default();
    let keep: Vec<String> = fail.iter().filter(|u| with_finalizer.contains(*u)).cloned().collect();
    let moved_f = fail.len() - keep.len();
    unc.failed = (!keep.is_empty()).then_some(keep);
    let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
    if moved_s > 0 {
        st.succeeded = Some(st.succeeded.unwrap_or(0) + n(moved_s));
        changed = true;
    }
    if moved_f > 0 {
        st.failed = Some(st.failed.unwrap_or(0) + n(moved_f));
        changed = true;
    }
    changed
}

fn uncounted(job: &Job) -> UncountedTerminatedPods {
    job.status.as_ref().and_then(|s| s.uncounted_terminated_pods.clone()).unwrap_or_default()
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn remove_finalizer_patch() -> Patch<serde_json::Value> {
    Patch::Strategic(serde_json::json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}))
}

/// What one sync works with (`syncJobCtx`).
struct SyncCtx {
    job: Job,
    pods: Vec<Arc<Pod>>,
    active_pods: Vec<Arc<Pod>>,
    finished: Option<JobCondition>,
    succeeded: i32,
    failed: i32,
    prev_succeeded_indexes: Intervals,
    succeeded_indexes: Intervals,
    failed_indexes: Option<Intervals>,
    new_backoff: BackoffRecord,
    expected_rm_finalizers: HashSet<String>,
    uncounted_succeeded: HashSet<String>,
    uncounted_failed: HashSet<String>,
    delayed_per_index: HashMap<i32, Arc<Pod>>,
    terminating: i32,
    ready: i32,
}

impl SyncCtx {
    /// Pods with a finalizer not yet counted (and, for Indexed Jobs, a valid index) that
    /// pass `f` (`getValidPodsWithFilter`).
    fn valid_pods(&self, skip: &HashSet<String>, f: impl Fn(&Pod) -> bool) -> Vec<Arc<Pod>> {
        let comps = completions(&self.job).unwrap_or(0);
        self.pods
            .iter()
            .filter(|p| {
                let u = uid(p);
                has_finalizer(p)
                    && !skip.contains(&u)
                    && !self.expected_rm_finalizers.contains(&u)
                    && (!is_indexed(&self.job) || valid_index(p, comps).is_some())
                    && f(p)
            })
            .cloned()
            .collect()
    }
}

/// `isIndexFailed`: the pod's failure fails its index (FailIndex, or the per-index limit).
fn is_index_failed(job: &Job, p: &Pod) -> bool {
    let mut counted = false;
    if is_pod_failed(p, job) {
        match failure_policy(job) {
            Some(policy) => {
                let (_, c, action) = match_pod_failure_policy(policy, p);
                if action == Some("FailIndex") {
                    return true;
                }
                counted = c;
            }
            None => counted = true,
        }
    }
    let limit = job.spec.as_ref().and_then(|s| s.backoff_limit_per_index).unwrap_or(0);
    counted && annotation_i32(p, INDEX_FAILURE_COUNT) >= limit
}

/// The first `count` indexes below `completions` not succeeded, failed, active (or, when
/// only failed pods are replaced, terminating).
fn first_pending_indexes(cx: &SyncCtx, n: usize, completions: i32) -> Vec<i32> {
    let mut busy = cx.succeeded_indexes.with_indexes(cx.active_pods.iter().filter_map(|p| completion_index(p)));
    if only_replace_failed(&cx.job) {
        busy = busy.with_indexes(cx.pods.iter().filter(|p| is_terminating(p)).filter_map(|p| completion_index(p)));
    }
    if let Some(f) = &cx.failed_indexes {
        busy = busy.merge(f);
    }
    (0..completions).filter(|i| !busy.has(*i)).take(n).collect()
}

/// The latest failed pod of each index with no active, succeeded or failed pod, whose
/// finalizer stays until its replacement carries the failure count.
fn pods_with_delayed_deletion(cx: &SyncCtx) -> HashMap<i32, Arc<Pod>> {
    let comps = completions(&cx.job).unwrap_or(0);
    let active: HashSet<i32> = cx.active_pods.iter().filter_map(|p| completion_index(p)).collect();
    let mut out: HashMap<i32, Arc<Pod>> = HashMap::new();
    for p in cx.valid_pods(&HashSet::new(), |p| is_pod_failed(p, &cx.job)) {
        let Some(ix) = valid_index(&p, comps) else { continue };
        if cx.succeeded_indexes.has(ix) || cx.failed_indexes.as_ref().is_some_and(|f| f.has(ix)) || active.contains(&ix)
        {
            continue;
        }
        let abs = |p: &Pod| annotation_i32(p, INDEX_FAILURE_COUNT) + annotation_i32(p, INDEX_IGNORED_FAILURE_COUNT);
        match out.get(&ix) {
            Some(last) if !(abs(last) <= abs(&p) && finished_time(&p) >= finished_time(last)) => {}
            _ => {
                out.insert(ix, p.clone());
            }
        }
    }
    out
}

/// The failure counts a replacement for `replaced` carries.
fn new_index_failure_counts(job: &Job, replaced: Option<&Arc<Pod>>) -> (i32, i32) {
    let Some(p) = replaced else { return (0, 0) };
    let (mut failures, mut ignored) =
        (annotation_i32(p, INDEX_FAILURE_COUNT), annotation_i32(p, INDEX_IGNORED_FAILURE_COUNT));
    match failure_policy(job).map(|fp| match_pod_failure_policy(fp, p).1) {
        Some(false) => ignored += 1,
        _ => failures += 1,
    }
    (failures, ignored)
}

/// The pod one creation makes: the template with the tracking finalizer, owned by the Job,
/// and for Indexed Jobs the index annotation, label, hostname and name prefix.
fn pod_for(job: &Job, template: &PodTemplateSpec, index: Option<i32>, replaced: Option<&Arc<Pod>>) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.into());
    }
    let mut pod_spec = template.spec.clone();
    let name = job.name_any();
    let mut generate_name = format!("{name}-");
    if let Some(ix) = index {
        annotations.insert(COMPLETION_INDEX.into(), ix.to_string());
        labels.insert(COMPLETION_INDEX.into(), ix.to_string());
        if let Some(s) = pod_spec.as_mut() {
            s.hostname = Some(format!("{name}-{ix}"));
        }
        generate_name = generate_name_with_index(&name, ix);
        if has_backoff_limit_per_index(job) {
            let (failures, ignored) = new_index_failure_counts(job, replaced);
            annotations.insert(INDEX_FAILURE_COUNT.into(), failures.to_string());
            if ignored > 0 {
                annotations.insert(INDEX_IGNORED_FAILURE_COUNT.into(), ignored.to_string());
            }
        }
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.namespace(),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![util::new_controller_ref(API_VERSION, KIND, &job.metadata)]),
            ..Default::default()
        },
        spec: pod_spec,
        status: None,
    }
}

/// Indexed Jobs' containers get `JOB_COMPLETION_INDEX` from the index label.
fn add_completion_index_env(t: &mut PodTemplateSpec) {
    let Some(s) = t.spec.as_mut() else { return };
    let var = EnvVar {
        name: COMPLETION_INDEX_ENV.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: format!("metadata.labels['{COMPLETION_INDEX}']"),
                api_version: None,
            }),
            ..Default::default()
        }),
        value: None,
    };
    for c in s.init_containers.iter_mut().flatten().chain(s.containers.iter_mut()) {
        let env = c.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.name == COMPLETION_INDEX_ENV) {
            env.push(var.clone());
        }
    }
}

// ---- the controller -----------------------------------------------------------------------

impl Jc {
    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<Job>> {
        if r.kind != KIND {
            return None;
        }
        self.jobs.get(ns, &r.name).filter(|j| j.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    /// Jobs whose selector matches an orphan pod (`GetPodJobs`).
    fn pod_jobs(&self, pod: &Pod) -> Vec<Arc<Job>> {
        let ns = pod.namespace().unwrap_or_default();
        self.jobs
            .list_namespace(&ns)
            .into_iter()
            .filter(|j| {
                let sel = j.spec.as_ref().and_then(|s| s.selector.as_ref());
                !util::selector_is_empty(sel) && util::selector_matches(sel, pod.metadata.labels.as_ref()) == Ok(true)
            })
            .collect()
    }

    fn enqueue_batched(&self, job: &Job) {
        self.queue.add_after(util::meta_key(&job.metadata), SYNC_BATCH_PERIOD);
    }

    fn enqueue_orphan(&self, pod: &Pod) {
        self.orphans.add(util::meta_key(&pod.metadata));
    }

    fn add_pod(&self, pod: &Arc<Pod>) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(pod, false);
        }
        let ns = pod.namespace().unwrap_or_default();
        if let Some(r) = util::controller_ref(&pod.metadata) {
            if let Some(job) = self.resolve(&ns, r) {
                self.expectations.creation_observed(&util::meta_key(&job.metadata));
                self.enqueue_batched(&job);
            }
            return;
        }
        if has_finalizer(pod) {
            self.enqueue_orphan(pod);
        }
        for job in self.pod_jobs(pod) {
            self.enqueue_batched(&job);
        }
    }

    fn update_pod(&self, old: &Arc<Pod>, cur: &Arc<Pod>) {
        if old.resource_version() == cur.resource_version() {
            return;
        }
        if cur.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(cur, false);
        }
        let ns = cur.namespace().unwrap_or_default();
        let finalizer_removed = !has_finalizer(cur);
        let (old_ref, cur_ref) = (util::controller_ref(&old.metadata), util::controller_ref(&cur.metadata));
        let ref_changed = old_ref != cur_ref;
        if ref_changed {
            if let Some(job) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                if finalizer_removed {
                    self.finalizers.observed(&util::meta_key(&job.metadata), &uid(cur));
                }
                self.enqueue_batched(&job);
            }
        }
        if let Some(r) = cur_ref {
            if let Some(job) = self.resolve(&ns, r) {
                if finalizer_removed {
                    self.finalizers.observed(&util::meta_key(&job.metadata), &uid(cur));
                }
                self.enqueue_batched(&job);
            }
            return;
        }
        if has_finalizer(cur) {
            self.enqueue_orphan(cur);
        }
        if old.metadata.labels != cur.metadata.labels || ref_changed {
            for job in self.pod_jobs(cur) {
                self.enqueue_batched(&job);
            }
        }
    }

    fn delete_pod(&self, pod: &Arc<Pod>, final_: bool) {
        let ns = pod.namespace().unwrap_or_default();
        let fin = has_finalizer(pod);
        let Some(r) = util::controller_ref(&pod.metadata) else {
            if fin {
                self.enqueue_orphan(pod);
            }
            return;
        };
        let job = match self.resolve(&ns, r) {
            Some(j) if !is_finished(&j) => j,
            _ => {
                if fin {
                    self.enqueue_orphan(pod);
                }
                return;
            }
        };
        let key = util::meta_key(&job.metadata);
        self.expectations.deletion_observed(&key, &util::meta_key(&pod.metadata));
        if final_ || !fin {
            self.finalizers.observed(&key, &uid(pod));
        }
        self.enqueue_batched(&job);
    }

    fn update_job(&self, old: &Arc<Job>, cur: &Arc<Job>) {
        let key = util::meta_key(&cur.metadata);
        if cur.metadata.generation == old.metadata.generation {
            self.enqueue_batched(cur);
        } else {
            self.queue.add(key.clone());
        }
        if is_finished(cur) {
            self.cleanup_pod_finalizers(cur);
        }
        // A changed activeDeadlineSeconds needs a sync at the new deadline.
        let (cur_ads, old_ads) = (
            cur.spec.as_ref().and_then(|s| s.active_deadline_seconds),
            old.spec.as_ref().and_then(|s| s.active_deadline_seconds),
        );
        if cur_ads.is_some() && cur_ads != old_ads {
            if let Some(left) = active_deadline_left(cur, util::now()) {
                self.queue.add_after(key, Duration::try_from(left).unwrap_or(Duration::ZERO));
            }
        }
    }

    /// Queues the finalizer removal of a finished or deleted Job's pods.
    fn cleanup_pod_finalizers(&self, job: &Job) {
        let ns = job.namespace().unwrap_or_default();
        let juid = job.metadata.uid.clone().unwrap_or_default();
        for p in self.pods.by_index(util::BY_CONTROLLER, &juid) {
            if p.namespace().as_deref() == Some(ns.as_str()) && has_finalizer(&p) {
                self.enqueue_orphan(&p);
            }
        }
    }

    /// Removes the tracking finalizer of a pod no unfinished Job of ours owns.
    async fn sync_orphan_pod(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pod) = self.pods.get(ns, name) else { return Ok(()) };
        if let Some(r) = util::controller_ref(&pod.metadata) {
            if r.kind != KIND || r.api_version != API_VERSION {
                return Ok(());
            }
            if let Some(job) = self.resolve(ns, r) {
                if managed_externally(&job).is_some() || !is_finished(&job) {
                    return Ok(());
                }
            }
        }
        if !has_finalizer(&pod) {
            return Ok(());
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        match api.patch(name, &PatchParams::default(), &remove_finalizer_patch()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// upstream's `getPodsForJob` with `ClaimPods`: our pods and the orphans matching the
    /// selector, adopted (owner reference and tracking finalizer) after a live check that the
    /// Job is still there; owned pods that no longer match are released.
    async fn pods_for_job(&self, job: &Job) -> Result<Vec<Arc<Pod>>, Error> {
        let juid = job.metadata.uid.clone().unwrap_or_default();
        let ns = job.namespace().unwrap_or_default();
        let sel = job.spec.as_ref().and_then(|s| s.selector.as_ref());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut claimed = Vec::new();
        let mut can_adopt: Option<bool> = None;
        let mut first_err: Option<Error> = None;
        let deleting = job.metadata.deletion_timestamp.is_some();
        for pod in util::claimable(&self.pods, &juid, &ns) {
            let matches = util::selector_matches(sel, pod.metadata.labels.as_ref()) == Ok(true);
            match util::controller_ref(&pod.metadata) {
                Some(r) if r.uid == juid => {
                    if matches {
                        claimed.push(pod);
                        continue;
                    }
                    if deleting {
                        continue;
                    }
                    let patch = serde_json::json!({"metadata": {
                        "ownerReferences": [{"$patch": "delete", "uid": juid}],
                        "uid": pod.metadata.uid,
                        "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
                    }});
                    match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(_) => {}
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => {
                            first_err.get_or_insert(e.into());
                        }
                    }
                }
                Some(_) => {}
                None => {
                    if deleting || !matches || pod.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    if can_adopt.is_none() {
                        let fresh = Api::<Job>::namespaced(self.client.clone(), &ns).get_opt(&job.name_any()).await?;
                        can_adopt = Some(fresh.is_some_and(|f| {
                            f.metadata.uid.as_deref() == Some(juid.as_str()) && f.metadata.deletion_timestamp.is_none()
                        }));
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    let owner = util::new_controller_ref(API_VERSION, KIND, &job.metadata);
                    let patch = serde_json::json!({"metadata": {
                        "ownerReferences": [owner], "uid": pod.metadata.uid, "finalizers": [TRACKING_FINALIZER],
                    }});
                    match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(p) => claimed.push(Arc::new(p)),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => {
                            first_err.get_or_insert(e.into());
                        }
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(claimed),
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(shared) = self.jobs.get(ns, name) else {
            self.expectations.delete(key);
            self.finalizers.delete(key);
            self.backoff_lock().remove(key);
            return Ok(());
        };
        if managed_externally(&shared).is_some() {
            return Ok(());
        }
        if is_finished(&shared) {
            self.backoff_lock().remove(key);
            return Ok(());
        }
        let mode = shared.spec.as_ref().and_then(|s| s.completion_mode.clone());
        if mode.as_deref().is_some_and(|m| m != "NonIndexed" && m != "Indexed") {
            self.recorder.warning(
                shared.as_ref(),
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
            );
            return Ok(());
        }
        let mut job = (*shared).clone();
        job.status.get_or_insert_with(Default::default).uncounted_terminated_pods.get_or_insert_with(Default::default);
        let satisfied = self.expectations.satisfied(key);
        let pods = self.pods_for_job(&job).await?;
        let active_pods: Vec<Arc<Pod>> = pods.iter().filter(|p| util::pod_active(p)).cloned().collect();
        let unc = uncounted(&job);
        let st = job.status.clone().unwrap_or_default();
        let now = util::now();
        let mut cx = SyncCtx {
            ready: count(active_pods.iter().filter(|p| util::pod_ready(p)).count()),
            terminating: count(pods.iter().filter(|p| is_terminating(p)).count()),
            pods,
            active_pods,
            finished: None,
            succeeded: 0,
            failed: 0,
            prev_succeeded_indexes: Intervals::default(),
            succeeded_indexes: Intervals::default(),
            failed_indexes: None,
            new_backoff: BackoffRecord::default(),
            expected_rm_finalizers: self.finalizers.get(key),
            uncounted_succeeded: unc.succeeded.iter().flatten().cloned().collect(),
            uncounted_failed: unc.failed.iter().flatten().cloned().collect(),
            delayed_per_index: HashMap::new(),
            job,
        };
        let mut active = count(cx.active_pods.len());
        let new_succeeded = cx.valid_pods(&cx.uncounted_succeeded, |p| util::pod_phase(p) == "Succeeded");
        let new_failed = cx.valid_pods(&cx.uncounted_failed, |p| is_pod_failed(p, &cx.job));
        let non_ignored = match failure_policy(&cx.job) {
            Some(fp) => new_failed.iter().filter(|p| match_pod_failure_policy(fp, p).1).count(),
            None => new_failed.len(),
        };
        cx.succeeded = st.succeeded.unwrap_or(0) + count(new_succeeded.len()) + count(cx.uncounted_succeeded.len());
        cx.failed = st.failed.unwrap_or(0) + count(non_ignored) + count(cx.uncounted_failed.len());
        if st.start_time.is_none() && !suspended(&cx.job) {
            cx.job.status.get_or_insert_with(Default::default).start_time = Some(Time(now));
        }
        let old_backoff = self.backoff_lock().get(key).cloned().unwrap_or_default();
        cx.new_backoff = next_backoff_record(&old_backoff, &new_succeeded, &new_failed);

        let sp = spec(&cx.job);
        let exceeds_backoff = cx.failed > sp.backoff_limit.unwrap_or(6);
        cx.finished = find_condition(&cx.job, "SuccessCriteriaMet").filter(|c| c.status == "True").cloned();
        if cx.finished.is_none() {
            if let Some(ft) = find_condition(&cx.job, "FailureTarget").filter(|c| c.status == "True") {
                let (r, m) = (ft.reason.clone().unwrap_or_default(), ft.message.clone().unwrap_or_default());
                cx.finished = Some(new_condition("Failed", "True", &r, &m, now));
            } else if let Some(msg) = failure_policy(&cx.job).and_then(|fp| {
                cx.pods.iter().filter(|p| is_pod_failed(p, &cx.job)).find_map(|p| match_pod_failure_policy(fp, p).0)
            }) {
                cx.finished = Some(new_condition("FailureTarget", "True", "PodFailurePolicy", &msg, now));
            }
        }
        if cx.finished.is_none() {
            let deadline = active_deadline_left(&cx.job, now);
            if exceeds_backoff || past_backoff_limit_on_failure(&cx.job, &cx.pods) {
                cx.finished = Some(new_condition(
                    "FailureTarget",
                    "True",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    now,
                ));
            } else if deadline.is_some_and(|d| !d.is_positive()) {
                cx.finished = Some(new_condition(
                    "FailureTarget",
                    "True",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                ));
            } else if let Some(d) = deadline {
                self.queue.add_after(key.to_string(), Duration::try_from(d).unwrap_or(Duration::ZERO));
            }
        }
        if is_indexed(&cx.job) {
            let comps = completions(&cx.job).unwrap_or(0);
            let prev = Intervals::parse(st.completed_indexes.as_deref().unwrap_or(""), comps);
            let new_ix = cx
                .pods
                .iter()
                .filter(|p| util::pod_phase(p) == "Succeeded" && has_finalizer(p))
                .filter_map(|p| valid_index(p, comps));
            cx.succeeded_indexes = prev.with_indexes(new_ix);
            cx.prev_succeeded_indexes = prev;
            cx.succeeded = cx.succeeded_indexes.total();
            if has_backoff_limit_per_index(&cx.job) {
                let prev_failed = Intervals::parse(st.failed_indexes.as_deref().unwrap_or(""), comps);
                let new_failed_ix = cx
                    .pods
                    .iter()
                    .filter(|p| has_finalizer(p) && is_index_failed(&cx.job, p))
                    .filter_map(|p| valid_index(p, comps));
                let failed_ix = prev_failed.with_indexes(new_failed_ix);
                if cx.finished.is_none() {
                    if sp.max_failed_indexes.is_some_and(|m| failed_ix.total() > m) {
                        cx.finished = Some(new_condition(
                            "FailureTarget",
                            "True",
                            "MaxFailedIndexesExceeded",
                            "Job has exceeded the specified maximal number of failed indexes",
                            now,
                        ));
                    } else if failed_ix.total() > 0 && failed_ix.total() + cx.succeeded_indexes.total() >= comps {
                        cx.finished = Some(new_condition(
                            "FailureTarget",
                            "True",
                            "FailedIndexes",
                            "Job has failed indexes",
                            now,
                        ));
                    }
                }
                cx.failed_indexes = Some(failed_ix);
                cx.delayed_per_index = pods_with_delayed_deletion(&cx);
            }
            if cx.finished.is_none() {
                if let Some(msg) = match_success_policy(sp.success_policy.as_ref(), comps, &cx.succeeded_indexes) {
                    cx.finished = Some(new_condition("SuccessCriteriaMet", "True", "SuccessPolicy", &msg, now));
                }
            }
        }

        let mut suspend_changed = false;
        let mut manage_err: Option<Error> = None;
        if cx.finished.is_some() {
            let (deleted_ready, deleted, err) = self.delete_active_pods(&cx.job, &cx.active_pods).await;
            if deleted != active || !satisfied {
                // Not finished yet: pods may still have finalizers, or the informer lags.
                cx.finished = None;
            }
            active -= deleted;
            cx.terminating += deleted;
            cx.ready -= deleted_ready;
            manage_err = err;
        } else {
            let mut manage_called = false;
            if satisfied && cx.job.metadata.deletion_timestamp.is_none() {
                let (a, err) = self.manage_job(key, &mut cx).await;
                active = a;
                manage_err = err;
                manage_called = true;
            }
            let complete = match completions(&cx.job) {
                None => cx.succeeded > 0 && active == 0,
                Some(c) => cx.succeeded >= c && active == 0,
            };
            if complete {
                cx.finished = Some(new_condition(
                    "SuccessCriteriaMet",
                    "True",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now,
                ));
            } else if manage_called {
                let job_ref = &mut cx.job;
                let is_suspended = suspended(job_ref);
                let status = job_ref.status.get_or_insert_with(Default::default);
                let conds = status.conditions.get_or_insert_with(Vec::new);
                if is_suspended {
                    if ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now) {
                        suspend_changed = true;
                        self.recorder.normal(&*job_ref, "Suspended", "Job suspended");
                    }
                } else if ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", now) {
                    suspend_changed = true;
                    // ActiveDeadlineSeconds counts from the resumption.
                    job_ref.status.get_or_insert_with(Default::default).start_time = Some(Time(now));
                    self.recorder.normal(&*job_ref, "Resumed", "Job resumed");
                }
                if let Some(st) = job_ref.status.as_mut() {
                    if st.conditions.as_ref().is_some_and(|c| c.is_empty()) {
                        st.conditions = None;
                    }
                }
            }
        }
        let status = cx.job.status.get_or_insert_with(Default::default);
        let needs_update = suspend_changed
            || active != status.active.unwrap_or(0)
            || Some(cx.ready) != status.ready
            || Some(cx.terminating) != status.terminating;
        status.active = (active != 0).then_some(active);
        status.ready = Some(cx.ready);
        status.terminating = Some(cx.terminating);
        self.track_status_and_remove_finalizers(key, &mut cx, needs_update)
            .await
            .map_err(|e| Error::Config(format!("tracking status: {e}")))?;
        match manage_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn backoff_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BackoffRecord>> {
        self.backoff.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deletes the active pods of a finishing Job, keeping their finalizers (they are counted
    /// as failed before the finalizer goes). Returns ready deleted, deleted, first error.
    async fn delete_active_pods(&self, job: &Job, pods: &[Arc<Pod>]) -> (i32, i32, Option<Error>) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let results = join_all(pods.iter().map(|p| {
            let api = api.clone();
            async move {
                let r = self.delete_pod_with_event(&api, job, p).await;
                (util::pod_ready(p), r)
            }
        }))
        .await;
        let mut out = (0, count(pods.len()), None);
        for (ready, r) in results {
            match r {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    out.1 -= 1;
                    out.2.get_or_insert(Error::from(e));
                }
            }
            if ready {
                out.0 += 1;
            }
        }
        out
    }

    /// `RealPodControl.DeletePod`: the DELETE with its SuccessfulDelete / FailedDelete event.
    async fn delete_pod_with_event(&self, api: &Api<Pod>, job: &Job, p: &Pod) -> Result<(), kube::Error> {
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.recorder.normal(job, "SuccessfulDelete", format!("Deleted pod: {}", p.name_any()));
                Ok(())
            }
            Err(e) if is_not_found(&e) => Err(e),
            Err(e) => {
                self.recorder.warning(job, "FailedDelete", format!("Error deleting: {}", util::api_message(&e)));
                Err(e)
            }
        }
    }

    /// Removes the finalizer, then deletes (excess or suspended Jobs' pods).
    async fn delete_job_pods(&self, key: &str, job: &Job, pods: &[Arc<Pod>]) -> (i32, i32, Option<Error>) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let results = join_all(pods.iter().map(|p| {
            let api = api.clone();
            async move {
                if has_finalizer(p) {
                    if let Err(e) = api.patch(&p.name_any(), &PatchParams::default(), &remove_finalizer_patch()).await {
                        return (false, Err(e));
                    }
                }
                let r = self.delete_pod_with_event(&api, job, p).await;
                (util::pod_ready(p), r)
            }
        }))
        .await;
        let mut out = (0, count(pods.len()), None);
        for ((ready, r), p) in results.into_iter().zip(pods) {
            if let Err(e) = r {
                self.expectations.deletion_observed(key, &util::meta_key(&p.metadata));
                if !is_not_found(&e) {
                    out.1 -= 1;
                    out.2.get_or_insert(Error::from(e));
                }
            }
            if ready {
                out.0 += 1;
            }
        }
        out
    }

    /// upstream's `manageJob`: deletes pods of a suspended Job or beyond what is wanted,
    /// else creates the missing ones (after the failure backoff) in slow-start batches.
    /// Returns the active count after its actions and the first error.
    async fn manage_job(&self, key: &str, cx: &mut SyncCtx) -> (i32, Option<Error>) {
        let job = cx.job.clone();
        let sp = spec(&job);
        let mut active = count(cx.active_pods.len());
        let parallelism = sp.parallelism.unwrap_or(1);
        if suspended(&job) {
            let rm = active_pods_for_removal(&job, &cx.active_pods, cx.active_pods.len());
            self.expectations.expect_deletions(key, rm.iter().map(|p| util::meta_key(&p.metadata)).collect());
            let (ready, removed, err) = self.delete_job_pods(key, &job, &rm).await;
            cx.terminating += removed;
            cx.ready -= ready;
            return (active - removed, err);
        }
        let want = match sp.completions {
            None if cx.succeeded > 0 => active,
            None => parallelism,
            Some(c) => (c - cx.succeeded).clamp(0, parallelism.max(0)),
        };
        let rm_at_least = usize::try_from((active - want).max(0)).unwrap_or(0);
        let mut rm = active_pods_for_removal(&job, &cx.active_pods, rm_at_least);
        rm.truncate(MAX_CREATE_DELETE_PER_SYNC as usize);
        if !rm.is_empty() {
            self.expectations.expect_deletions(key, rm.iter().map(|p| util::meta_key(&p.metadata)).collect());
            let (ready, removed, err) = self.delete_job_pods(key, &job, &rm).await;
            cx.terminating += removed;
            cx.ready -= ready;
            return (active - removed, err);
        }
        let terminating = if only_replace_failed(&job) { cx.terminating } else { 0 };
        let mut diff = want - terminating - active;
        if diff <= 0 {
            return (active, None);
        }
        let now = util::now();
        if !has_backoff_limit_per_index(&job) {
            let left = remaining_backoff(cx.new_backoff.failures_after_last_success, cx.new_backoff.last_failure, now);
            if !left.is_zero() {
                self.queue.add_after(key.to_string(), left.max(SYNC_BATCH_PERIOD));
                // As upstream: while creation backs off, status.active reads 0.
                return (0, None);
            }
        }
        diff = diff.min(MAX_CREATE_DELETE_PER_SYNC);
        let mut indexes: Vec<Option<i32>> = vec![None; usize::try_from(diff).unwrap_or(0)];
        if is_indexed(&job) {
            let comps = sp.completions.unwrap_or(0);
            let mut pending = first_pending_indexes(cx, indexes.len(), comps);
            if has_backoff_limit_per_index(&job) {
                let mut min_left: Option<Duration> = None;
                let mut ready_now = Vec::new();
                for ix in pending {
                    let left = cx.delayed_per_index.get(&ix).map_or(Duration::ZERO, |p| {
                        let failures =
                            annotation_i32(p, INDEX_FAILURE_COUNT) + annotation_i32(p, INDEX_IGNORED_FAILURE_COUNT) + 1;
                        remaining_backoff(failures, Some(finished_time(p)), now)
                    });
                    if left.is_zero() {
                        ready_now.push(ix);
                    } else {
                        min_left = Some(min_left.map_or(left, |m| m.min(left)));
                    }
                }
                if ready_now.is_empty() {
                    if let Some(left) = min_left {
                        self.queue.add_after(key.to_string(), left.max(SYNC_BATCH_PERIOD));
                        // As upstream: while creation backs off, status.active reads 0.
                        return (0, None);
                    }
                }
                pending = ready_now;
            }
            indexes = pending.into_iter().map(Some).collect();
        }
        let n = indexes.len();
        self.expectations.expect_creations(key, n);
        active += count(n);
        let mut template = sp.template.clone();
        if is_indexed(&job) {
            add_completion_index_env(&mut template);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let mut first_err: Option<Error> = None;
        let mut remaining = &indexes[..];
        let mut batch = remaining.len().min(1);
        while batch > 0 {
            let (now_batch, rest) = remaining.split_at(batch);
            let results = join_all(now_batch.iter().map(|ix| {
                let pod = pod_for(&job, &template, *ix, ix.and_then(|i| cx.delayed_per_index.get(&i)));
                let api = api.clone();
                let job = &job;
                async move {
                    match api.create(&PostParams::default(), &pod).await {
                        Ok(p) => {
                            self.recorder.normal(job, "SuccessfulCreate", format!("Created pod: {}", p.name_any()));
                            Ok(())
                        }
                        Err(e) if util::namespace_terminating(&e) => Ok(()),
                        Err(e) => {
                            self.recorder.warning(
                                job,
                                "FailedCreate",
                                format!("Error creating: {}", util::api_message(&e)),
                            );
                            Err(e)
                        }
                    }
                }
            }))
            .await;
            let mut failed_batch = false;
            for r in results {
                if let Err(e) = r {
                    self.expectations.creation_observed(key);
                    active -= 1;
                    failed_batch = true;
                    first_err.get_or_insert(e.into());
                }
            }
            remaining = rest;
            if failed_batch {
                // The pods never attempted are not expected either; a later sync retries.
                for _ in 0..remaining.len() {
                    self.expectations.creation_observed(key);
                }
                active -= count(remaining.len());
                break;
            }
            batch = (2 * batch).min(remaining.len());
        }
        (active, first_err)
    }

    /// Whether a pod's finalizer may go now (`canRemoveFinalizer`).
    fn can_remove_finalizer(cx: &SyncCtx, pod: &Pod, considered_failed: bool) -> bool {
        if cx.job.metadata.deletion_timestamp.is_some() || cx.finished.is_some() || util::pod_phase(pod) == "Succeeded"
        {
            return true;
        }
        if !considered_failed {
            return false;
        }
        if has_backoff_limit_per_index(&cx.job) {
            if let Some(ix) = completion_index(pod) {
                if cx.delayed_per_index.get(&ix).is_some_and(|p| p.metadata.uid == pod.metadata.uid) {
                    return false;
                }
            }
        }
        true
    }

    /// upstream's `trackJobStatusAndRemoveFinalizers`: records finished pods in
    /// `uncountedTerminatedPods` (and the interim FailureTarget / SuccessCriteriaMet), removes
    /// their finalizers, moves them to the counters, and adds the final condition once nothing
    /// is left uncounted or terminating.
    async fn track_status_and_remove_finalizers(
        &self,
        key: &str,
        cx: &mut SyncCtx,
        mut needs_flush: bool,
    ) -> Result<(), Error> {
        let indexed = is_indexed(&cx.job);
        let comps = completions(&cx.job).unwrap_or(0);
        let mut pods = cx.pods.clone();
        if indexed {
            pods.sort_by_key(|p| completion_index(p).unwrap_or(-1));
        }
        let mut with_finalizer: HashSet<String> = pods
            .iter()
            .filter(|p| has_finalizer(p) && !cx.expected_rm_finalizers.contains(&uid(p)))
            .map(|p| uid(p))
            .collect();
        if clean_uncounted(&mut cx.job, &with_finalizer) {
            needs_flush = true;
        }
        let mut to_remove: Vec<Arc<Pod>> = Vec::new();
        let mut new_succeeded_ix: Vec<i32> = Vec::new();
        let mut reached_max = false;
        let policy = failure_policy(&cx.job).cloned();
        let finished_is_success = cx.finished.as_ref().is_some_and(|c| c.type_ == "SuccessCriteriaMet");
        let mut unc = uncounted(&cx.job);
        for pod in &pods {
            let u = uid(pod);
            if !has_finalizer(pod) || cx.expected_rm_finalizers.contains(&u) {
                continue;
            }
            let failed = is_pod_failed(pod, &cx.job);
            if !Self::can_remove_finalizer(cx, pod, failed) {
                continue;
            }
            to_remove.push(pod.clone());
            if util::pod_phase(pod) == "Succeeded" && !cx.uncounted_failed.contains(&u) {
                if indexed {
                    if let Some(ix) = valid_index(pod, comps) {
                        if !cx.prev_succeeded_indexes.has(ix) {
                            new_succeeded_ix.push(ix);
                            needs_flush = true;
                        }
                    }
                } else if !cx.uncounted_succeeded.contains(&u) {
                    needs_flush = true;
                    unc.succeeded.get_or_insert_with(Vec::new).push(u.clone());
                }
            } else if failed || (cx.finished.is_some() && !finished_is_success) {
                let index_ok = !indexed || valid_index(pod, comps).is_some();
                if !cx.uncounted_failed.contains(&u) && index_ok {
                    let counts = policy.as_ref().is_none_or(|fp| match_pod_failure_policy(fp, pod).1);
                    if counts {
                        needs_flush = true;
                        unc.failed.get_or_insert_with(Vec::new).push(u.clone());
                    }
                }
            }
            let pending = new_succeeded_ix.len()
                + unc.succeeded.as_ref().map_or(0, Vec::len)
                + unc.failed.as_ref().map_or(0, Vec::len);
            if pending >= MAX_UNCOUNTED {
                reached_max = true;
                break;
            }
        }
        {
            let st = cx.job.status.get_or_insert_with(Default::default);
            st.uncounted_terminated_pods = Some(unc);
        }
        if indexed {
            cx.succeeded_indexes = cx.succeeded_indexes.with_indexes(new_succeeded_ix);
            let s = cx.succeeded_indexes.to_string();
            let total = cx.succeeded_indexes.total();
            let failed_s = cx.failed_indexes.as_ref().map(|f| f.to_string());
            let st = cx.job.status.get_or_insert_with(Default::default);
            if st.completed_indexes.as_deref().unwrap_or("") != s {
                needs_flush = true;
            }
            st.succeeded = (total != 0).then_some(total);
            st.completed_indexes = (!s.is_empty()).then_some(s);
            if st.failed_indexes != failed_s {
                st.failed_indexes = failed_s;
                needs_flush = true;
            }
        }
        let now = util::now();
        if let Some(f) = cx.finished.clone() {
            let conds = cx.job.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new);
            let (r, m) = (f.reason.clone().unwrap_or_default(), f.message.clone().unwrap_or_default());
            if f.type_ == "FailureTarget" {
                conds.push(f);
                needs_flush = true;
                cx.finished = Some(new_condition("Failed", "True", &r, &m, now));
            } else if f.type_ == "SuccessCriteriaMet" {
                if !conds.iter().any(|c| c.type_ == "SuccessCriteriaMet" && c.status == "True") {
                    conds.push(f);
                    needs_flush = true;
                }
                cx.finished = Some(new_condition("Complete", "True", &r, &m, now));
            }
        }
        needs_flush = self.flush_and_remove_finalizers(key, cx, &to_remove, &mut with_finalizer, needs_flush).await?;
        let finished = !reached_max && self.enact_job_finished(cx);
        if finished {
            needs_flush = true;
        }
        if needs_flush {
            cx.job = self
                .update_status(&cx.job)
                .await
                .map_err(|e| Error::Config(format!("removing uncounted pods from status: {e}")))?;
            if finished {
                self.record_job_finished(cx);
            }
        }
        Ok(())
    }

    /// Writes the status (new uncounted pods, interim conditions), removes finalizers, counts
    /// the pods whose finalizer went. Returns whether the status has unwritten changes.
    async fn flush_and_remove_finalizers(
        &self,
        key: &str,
        cx: &mut SyncCtx,
        to_remove: &[Arc<Pod>],
        with_finalizer: &mut HashSet<String>,
        mut needs_flush: bool,
    ) -> Result<bool, Error> {
        if needs_flush {
            cx.job = self
                .update_status(&cx.job)
                .await
                .map_err(|e| Error::Config(format!("adding uncounted pods to status: {e}")))?;
            self.backoff_lock().insert(key.to_string(), cx.new_backoff.clone());
            needs_flush = false;
        }
        let mut rm_err: Option<Error> = None;
        if !to_remove.is_empty() {
            let uids: Vec<String> = to_remove.iter().map(|p| uid(p)).collect();
            self.finalizers.expect(key, &uids);
            let ns = cx.job.namespace().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            let results = join_all(to_remove.iter().map(|p| {
                let api = api.clone();
                async move {
                    if !has_finalizer(p) {
                        return Ok(());
                    }
                    api.patch(&p.name_any(), &PatchParams::default(), &remove_finalizer_patch()).await.map(|_| ())
                }
            }))
            .await;
            for (p, r) in to_remove.iter().zip(results) {
                match r {
                    Ok(()) => {
                        with_finalizer.remove(&uid(p));
                    }
                    Err(e) => {
                        self.finalizers.observed(key, &uid(p));
                        if is_not_found(&e) {
                            with_finalizer.remove(&uid(p));
                        } else {
                            rm_err.get_or_insert(Error::Config(format!(
                                "removing tracking finalizer: {}",
                                util::api_message(&e)
                            )));
                        }
                    }
                }
            }
        }
        if clean_uncounted(&mut cx.job, with_finalizer) {
            needs_flush = true;
        }
        if let Some(e) = rm_err {
            if needs_flush {
                self.update_status(&cx.job).await?;
            }
            return Err(e);
        }
        Ok(needs_flush)
    }

    /// Adds the final Complete / Failed condition when no pod is left uncounted or
    /// terminating (`enactJobFinished`).
    fn enact_job_finished(&self, cx: &mut SyncCtx) -> bool {
        let Some(f) = cx.finished.clone() else { return false };
        let unc = uncounted(&cx.job);
        if unc.succeeded.as_ref().is_some_and(|v| !v.is_empty()) || unc.failed.as_ref().is_some_and(|v| !v.is_empty()) {
            return false;
        }
        if cx.terminating > 0 {
            return false;
        }
        let st = cx.job.status.get_or_insert_with(Default::default);
        let conds = st.conditions.get_or_insert_with(Vec::new);
        let now = f.last_transition_time.as_ref().map_or_else(util::now, |t| t.0);
        ensure_condition(
            conds,
            &f.type_,
            &f.status,
            f.reason.as_deref().unwrap_or(""),
            f.message.as_deref().unwrap_or(""),
            now,
        );
        if f.type_ == "Complete" {
            st.completion_time = f.last_transition_time.clone();
        }
        true
    }

    fn record_job_finished(&self, cx: &SyncCtx) {
        let Some(f) = &cx.finished else { return };
        let job = &cx.job;
        if f.type_ == "Complete" {
            let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
            if completions(job).is_some_and(|c| succeeded > c) {
                self.recorder.warning(
                    job,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                );
            }
            self.recorder.normal(job, "Completed", "Job completed");
        } else {
            self.recorder.warning(job, f.reason.as_deref().unwrap_or(""), f.message.clone().unwrap_or_default());
        }
    }

    async fn update_status(&self, job: &Job) -> Result<Job, kube::Error> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        api.replace_status(&job.name_any(), &PostParams::default(), job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{
        JobSpec, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
        SuccessPolicyRule,
    };
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodSpec, PodStatus,
    };
    use std::collections::BTreeMap;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn pod(name: &str, phase: &str, index: Option<i32>, exit: Option<(&str, i32, i64)>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                annotations: index.map(|i| BTreeMap::from([(COMPLETION_INDEX.to_string(), i.to_string())])),
                finalizers: Some(vec![TRACKING_FINALIZER.into()]),
                creation_timestamp: Some(Time(ts(0))),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                container_statuses: exit.map(|(c, code, at)| {
                    vec![ContainerStatus {
                        name: c.into(),
                        state: Some(ContainerState {
                            terminated: Some(ContainerStateTerminated {
                                exit_code: code,
                                finished_at: Some(Time(ts(at))),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn intervals_parse_merge_and_print_as_upstream() {
        let i = Intervals::parse("0-2,4,6-7", 10);
        assert_eq!(i.0, vec![(0, 2), (4, 4), (6, 7)]);
        assert_eq!(i.to_string(), "0-2,4,6,7");
        assert_eq!(i.total(), 6);
        assert!(i.has(1) && i.has(7) && !i.has(3) && !i.has(5));
        assert_eq!(i.with_indexes([3, 5, 9]).to_string(), "0-7,9");
        // Clipped to completions; corrupt parts skipped; adjacent ones joined.
        assert_eq!(Intervals::parse("0-9", 5).to_string(), "0-4");
        assert_eq!(Intervals::parse("x,1,2,7", 5).0, vec![(1, 2)]);
        assert_eq!(Intervals::parse("", 5).to_string(), "");
        assert_eq!(Intervals::default().with_indexes([2, 0, 1]).to_string(), "0-2");
    }

    #[test]
    fn backoff_is_ten_seconds_doubling_to_ten_minutes() {
        let now = ts(1000);
        assert_eq!(remaining_backoff(0, Some(now), now), Duration::ZERO);
        assert_eq!(remaining_backoff(1, Some(now), now), Duration::from_secs(10));
        assert_eq!(remaining_backoff(2, Some(now), now), Duration::from_secs(20));
        assert_eq!(remaining_backoff(3, Some(ts(995)), now), Duration::from_secs(35));
        assert_eq!(remaining_backoff(30, Some(now), now), Duration::from_secs(600));
        assert_eq!(remaining_backoff(1, Some(ts(900)), now), Duration::ZERO);
        // Failures after the last success count; a later success resets.
        let f1 = pod("f1", "Failed", None, Some(("c", 1, 10)));
        let f2 = pod("f2", "Failed", None, Some(("c", 1, 30)));
        let s1 = pod("s1", "Succeeded", None, Some(("c", 0, 20)));
        let r = next_backoff_record(&BackoffRecord::default(), &[], &[f1.clone(), f2.clone()]);
        assert_eq!(r, BackoffRecord { failures_after_last_success: 2, last_failure: Some(ts(30)) });
        let r = next_backoff_record(&r, &[s1], &[f1, f2]);
        assert_eq!(r, BackoffRecord { failures_after_last_success: 1, last_failure: Some(ts(30)) });
    }

    #[test]
    fn conditions_are_added_updated_and_never_added_false() {
        let mut l = Vec::new();
        assert!(!ensure_condition(&mut l, "Suspended", "False", "JobResumed", "Job resumed", ts(0)));
        assert!(l.is_empty());
        assert!(ensure_condition(&mut l, "Suspended", "True", "JobSuspended", "Job suspended", ts(0)));
        assert!(!ensure_condition(&mut l, "Suspended", "True", "JobSuspended", "Job suspended", ts(5)));
        assert!(ensure_condition(&mut l, "Suspended", "False", "JobResumed", "Job resumed", ts(9)));
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].reason.as_deref(), Some("JobResumed"));
        assert_eq!(l[0].last_transition_time, Some(Time(ts(9))));
    }

    #[test]
    fn pod_failure_policy_rules_match_in_order() {
        let rule = |action: &str, codes: Option<(&str, Vec<i32>)>, cond: Option<&str>| PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: codes.map(|(op, values)| PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: op.into(),
                values,
            }),
            on_pod_conditions: cond
                .map(|t| vec![PodFailurePolicyOnPodConditionsPattern { type_: t.into(), status: "True".into() }]),
        };
        let policy = PodFailurePolicy {
            rules: vec![
                rule("Ignore", None, Some("DisruptionTarget")),
                rule("FailJob", Some(("In", vec![42])), None),
                rule("Count", Some(("NotIn", vec![42])), None),
            ],
        };
        let p = pod("p", "Failed", None, Some(("main", 42, 1)));
        let (msg, counts, action) = match_pod_failure_policy(&policy, &p);
        assert_eq!(
            msg.as_deref(),
            Some("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1")
        );
        assert!(counts);
        assert_eq!(action, Some("FailJob"));
        assert_eq!(match_pod_failure_policy(&policy, &pod("q", "Failed", None, Some(("main", 3, 1)))).2, Some("Count"));
        // Exit code 0 never matches.
        assert_eq!(match_pod_failure_policy(&policy, &pod("r", "Failed", None, Some(("main", 0, 1)))).2, None);
        let mut disrupted = (*pod("d", "Failed", None, None)).clone();
        disrupted.status.as_mut().unwrap().conditions =
            Some(vec![PodCondition { type_: "DisruptionTarget".into(), status: "True".into(), ..Default::default() }]);
        assert_eq!(match_pod_failure_policy(&policy, &disrupted), (None, false, Some("Ignore")));
    }

    #[test]
    fn success_policy_by_indexes_or_count() {
        let policy = |idx: Option<&str>, n: Option<i32>| SuccessPolicy {
            rules: vec![SuccessPolicyRule { succeeded_indexes: idx.map(String::from), succeeded_count: n }],
        };
        let done = Intervals::parse("0-2,5", 10);
        assert_eq!(
            match_success_policy(Some(&policy(Some("0-2"), None)), 10, &done).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(match_success_policy(Some(&policy(Some("0-3"), None)), 10, &done), None);
        assert!(match_success_policy(Some(&policy(Some("0-9"), Some(4))), 10, &done).is_some());
        assert!(match_success_policy(Some(&policy(None, Some(4))), 10, &done).is_some());
        assert!(match_success_policy(Some(&policy(None, Some(5))), 10, &done).is_none());
        assert!(match_success_policy(None, 10, &done).is_none());
    }

    #[test]
    fn indexed_removal_drops_duplicates_and_invalid_indexes_first() {
        let job = Job {
            spec: Some(JobSpec { completion_mode: Some("Indexed".into()), completions: Some(3), ..Default::default() }),
            ..Default::default()
        };
        let pods = vec![
            pod("a", "Running", Some(0), None),
            pod("b", "Pending", Some(0), None),
            pod("c", "Running", Some(7), None),
            pod("d", "Running", None, None),
            pod("e", "Running", Some(1), None),
        ];
        let mut rm: Vec<String> = active_pods_for_removal(&job, &pods, 0).iter().map(|p| p.name_any()).collect();
        rm.sort();
        // The pending duplicate of index 0 goes, the running one stays.
        assert_eq!(rm, ["b", "c", "d"]);
        assert_eq!(active_pods_for_removal(&job, &pods, 4).len(), 4);
    }

    #[test]
    fn generated_names_and_failed_pods() {
        assert_eq!(generate_name_with_index("pi", 3), "pi-3-");
        let long = "x".repeat(60);
        let g = generate_name_with_index(&long, 12);
        assert_eq!(g.len(), 58);
        assert!(g.ends_with("-12-"));
        let job = Job::default();
        let mut deleting = (*pod("p", "Running", None, None)).clone();
        deleting.metadata.deletion_timestamp = Some(Time(ts(0)));
        assert!(is_pod_failed(&deleting, &job));
        let only_failed = Job {
            spec: Some(JobSpec { pod_replacement_policy: Some("Failed".into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(!is_pod_failed(&deleting, &only_failed));
        assert!(is_pod_failed(&pod("f", "Failed", None, None), &only_failed));
        assert!(is_terminating(&deleting));
    }

    #[test]
    fn uncounted_pods_move_to_the_counters_once_their_finalizer_is_gone() {
        let mut job = Job {
            status: Some(k8s_openapi::api::batch::v1::JobStatus {
                succeeded: Some(1),
                uncounted_terminated_pods: Some(UncountedTerminatedPods {
                    succeeded: Some(vec!["a".into(), "b".into()]),
                    failed: Some(vec!["c".into()]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let with: HashSet<String> = ["b".to_string()].into();
        assert!(clean_uncounted(&mut job, &with));
        let st = job.status.unwrap();
        assert_eq!((st.succeeded, st.failed), (Some(2), Some(1)));
        let unc = st.uncounted_terminated_pods.unwrap();
        assert_eq!(unc.succeeded, Some(vec!["b".to_string()]));
        assert_eq!(unc.failed, None);
    }
}
