//! `daemonset-controller` (upstream `pkg/controller/daemon`): one pod of each DaemonSet on every
//! node that should run it (`NodeShouldRunDaemonPod`: the template's nodeName, nodeSelector and
//! required node affinity, and the node's NoSchedule/NoExecute taints against the template's
//! tolerations plus the ones every daemon pod gets). Pods are created in slow-start batches with
//! a required node affinity on `metadata.name` that the scheduler binds by; failed pods are
//! deleted (with a per-node backoff) and replaced, extra pods on a node and pods on nodes that no
//! longer qualify are deleted. Each template is recorded as a ControllerRevision whose hash is
//! the pods' `controller-revision-hash` label; RollingUpdate replaces old pods within
//! maxUnavailable (or surges within maxSurge), OnDelete waits for them to be deleted. Status
//! carries the scheduled, misscheduled, ready, updated and available counts.

use crate::claim;
use crate::context::Ctx;
use crate::history::History;
use crate::util::{self, Expectations};
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint,
    Toleration,
};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KIND: &str = "DaemonSet";
const API_VERSION: &str = "apps/v1";
/// `BurstReplicas`: at most this many creations or deletions per sync.
const BURST_REPLICAS: usize = 250;
/// `DefaultDaemonSetUniqueLabelKey` (= `ControllerRevisionHashLabelKey`).
pub const HASH_LABEL: &str = "controller-revision-hash";
/// `DaemonSetTemplateGenerationKey`.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// `DeprecatedTemplateGeneration`: the annotation the apiserver keeps the template generation in.
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
/// The failed-pod backoff, as kube-controller-manager builds it.
const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

struct Dsc {
    client: Client,
    sets: Informer<DaemonSet>,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    history: History,
    queue: WorkQueue<String>,
    expectations: Expectations,
    recorder: Recorder,
    backoff: Mutex<Backoff>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("daemon-set-controller").await?;
    let dsc = Arc::new(Dsc {
        recorder: ctx.recorder(&client, "daemonset-controller"),
        history: History::new(client.clone(), ctx.informers.get::<ControllerRevision>()),
        client,
        sets: ctx.informers.get::<DaemonSet>(),
        pods: ctx.informers.get::<Pod>(),
        nodes: ctx.informers.get::<Node>(),
        queue: WorkQueue::new("daemonset"),
        expectations: Expectations::default(),
        backoff: Mutex::new(Backoff::default()),
    });
    util::index_by_controller(&dsc.pods);
    let d = dsc.clone();
    dsc.sets.add_handler(move |c| match c {
        Change::Added(ds) | Change::Updated { new: ds, .. } => d.enqueue(ds),
        Change::Deleted(ds) => {
            d.expectations.delete(&util::meta_key(&ds.metadata));
            d.enqueue(ds);
        }
    });
    let d = dsc.clone();
    dsc.history.revisions.add_handler(move |c| match c {
        Change::Added(r) => d.add_revision(r),
        Change::Updated { old, new } => d.update_revision(old, new),
        Change::Deleted(r) => {
            if let Some(ds) = util::controller_ref(&r.metadata).and_then(|c| d.resolve(&ns_of(&r.metadata), c)) {
                d.enqueue(&ds);
            }
        }
    });
    let d = dsc.clone();
    dsc.pods.add_handler(move |c| match c {
        Change::Added(p) => d.add_pod(p),
        Change::Updated { old, new } => d.update_pod(old, new),
        Change::Deleted(p) => d.delete_pod(p),
    });
    let d = dsc.clone();
    dsc.nodes.add_handler(move |c| match c {
        Change::Added(n) => {
            for ds in d.sets.list() {
                if node_should_run(n, &ds).0 {
                    d.enqueue(&ds);
                }
            }
        }
        Change::Updated { old, new } => {
            if should_ignore_node_update(old, new) {
                return;
            }
            for ds in d.sets.list() {
                if node_should_run(old, &ds) != node_should_run(new, &ds) {
                    d.enqueue(&ds);
                }
            }
        }
        Change::Deleted(_) => {}
    });
    let workers = ctx.opts.concurrent_daemonset_syncs;
    tokio::spawn(async move {
        dsc.pods.wait_synced().await;
        dsc.nodes.wait_synced().await;
        dsc.history.revisions.wait_synced().await;
        dsc.sets.wait_synced().await;
        let d = dsc.clone();
        dsc.queue.run_workers(workers, move |key: String| {
            let d = d.clone();
            async move { d.sync(&key).await }
        });
    });
    Ok(true)
}

fn ns_of(m: &ObjectMeta) -> String {
    m.namespace.clone().unwrap_or_default()
}

fn spec(ds: &DaemonSet) -> k8s_openapi::api::apps::v1::DaemonSetSpec {
    ds.spec.clone().unwrap_or_default()
}

fn min_ready(ds: &DaemonSet) -> i32 {
    ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

fn strategy_type(ds: &DaemonSet) -> String {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into())
}

/// `GetTemplateGeneration`: the template generation the apiserver records, if any.
fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.annotations().get(TEMPLATE_GENERATION_ANNOTATION).and_then(|g| g.parse().ok())
}

/// `IsPodUpdated`. Upstream also compares the pod-template-generation label, but formats the
/// generation pointer rather than its value, so in effect only the hash decides; so here.
fn pod_updated(pod: &Pod, hash: &str) -> bool {
    !hash.is_empty() && pod.labels().get(HASH_LABEL).map(String::as_str) == Some(hash)
}

/// `SurgeCount` (DaemonSetUpdateSurge is GA).
fn surge_count(ds: &DaemonSet, n: i32) -> i32 {
    if strategy_type(ds) != "RollingUpdate" {
        return 0;
    }
    let ru = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    util::scaled(ru.and_then(|r| r.max_surge.as_ref()), n, true)
}

/// `UnavailableCount`.
fn unavailable_count(ds: &DaemonSet, n: i32) -> i32 {
    if strategy_type(ds) != "RollingUpdate" {
        return 0;
    }
    let ru = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    match ru {
        None => 0,
        Some(r) => util::scaled(r.max_unavailable.as_ref(), n, true),
    }
}

fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1) > 0
}

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    }
}

/// `Toleration.MatchToleration`: the same key, operator, value and effect.
fn same_toleration(a: &Toleration, b: &Toleration) -> bool {
    a.key == b.key && a.operator == b.operator && a.value == b.value && a.effect == b.effect
}

/// `AddOrUpdateTolerationInPodSpec`.
fn add_or_update_toleration(spec: &mut PodSpec, t: Toleration) {
    let mut tols = spec.tolerations.take().unwrap_or_default();
    match tols.iter_mut().find(|x| same_toleration(x, &t)) {
        Some(x) => *x = t,
        None => tols.push(t),
    }
    spec.tolerations = Some(tols);
}

/// `AddOrUpdateDaemonPodTolerations`: daemon pods survive node problems and pressure, and
/// host-network ones a node whose network is not up yet.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    add_or_update_toleration(spec, toleration("node.kubernetes.io/not-ready", "NoExecute"));
    add_or_update_toleration(spec, toleration("node.kubernetes.io/unreachable", "NoExecute"));
    for key in [
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    ] {
        add_or_update_toleration(spec, toleration(key, "NoSchedule"));
    }
    if spec.host_network == Some(true) {
        add_or_update_toleration(spec, toleration("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
}

/// `FindMatchingUntoleratedTaint`: whether a taint with one of `effects` is tolerated by none.
fn has_untolerated(taints: &[Taint], tols: &[Toleration], effects: &[&str]) -> bool {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .any(|t| !tols.iter().any(|x| api_types::scheduling::tolerates(x, t)))
}

/// `NodeShouldRunDaemonPod`: (shouldRun, shouldContinueRunning). A node whose NoSchedule taints
/// are not tolerated gets no new pod, but keeps one unless a NoExecute taint is not tolerated.
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> (bool, bool) {
    let mut pod_spec = ds.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
    if pod_spec.node_name.as_deref().is_some_and(|n| !n.is_empty() && n != node.name_any()) {
        return (false, false);
    }
    add_daemon_tolerations(&mut pod_spec);
    if !api_types::scheduling::required_affinity_matches(&pod_spec, node) {
        return (false, false);
    }
    let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let tols = pod_spec.tolerations.clone().unwrap_or_default();
    if has_untolerated(&taints, &tols, &["NoExecute", "NoSchedule"]) {
        return (false, !has_untolerated(&taints, &tols, &["NoExecute"]));
    }
    (true, true)
}

/// `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity becomes exactly
/// `metadata.name In [node]`; preferred terms and other affinities stay.
pub fn replace_node_name_affinity(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.to_string()]),
        }]),
        match_expressions: None,
    };
    let mut a = affinity.unwrap_or_default();
    let mut na: NodeAffinity = a.node_affinity.take().unwrap_or_default();
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector { node_selector_terms: vec![term] });
    a.node_affinity = Some(na);
    a
}

/// `GetTargetNodeName`: the bound node, or the node the affinity pins an unbound pod to.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|f| {
        let values = f.values.as_deref().unwrap_or_default();
        (f.key == "metadata.name" && f.operator == "In" && values.len() == 1).then(|| values[0].clone())
    })
}

fn is_scheduled(p: &Pod) -> bool {
    p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| !n.is_empty())
}

fn created_at(p: &Pod) -> Option<Timestamp> {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// `podByCreationTimestampAndPhase`: scheduled first, then oldest, then by name.
fn sort_pods(pods: &mut [Arc<Pod>]) {
    pods.sort_by(|a, b| {
        is_scheduled(b)
            .cmp(&is_scheduled(a))
            .then_with(|| created_at(a).cmp(&created_at(b)))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// What one node needs (`podsShouldBeOnNode`), before the failed-pod backoff is applied.
#[derive(Debug, Default, PartialEq)]
struct NodePlan {
    create: bool,
    delete: Vec<String>,
    failed: Vec<String>,
    succeeded: Vec<String>,
}

fn plan_node(
    (should_run, should_continue): (bool, bool),
    pods: Option<&Vec<Arc<Pod>>>,
    surge: bool,
    hash: &str,
    min_ready: i32,
    now: Timestamp,
) -> NodePlan {
    let mut plan = NodePlan::default();
    match pods {
        None if should_run => plan.create = true,
        Some(_) | None if !should_continue => {
            for p in pods.into_iter().flatten().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                plan.delete.push(p.name_any());
            }
        }
        None => {}
        Some(pods) => {
            let mut running = Vec::new();
            for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
                match util::pod_phase(p) {
                    "Failed" => plan.failed.push(p.name_any()),
                    "Succeeded" => plan.succeeded.push(p.name_any()),
                    _ => running.push(p.clone()),
                }
            }
            if !surge {
                // Keep the oldest; any other pod on the node goes.
                sort_pods(&mut running);
                plan.delete.extend(running.iter().skip(1).map(|p| p.name_any()));
                return plan;
            }
            if running.len() <= 1 {
                plan.create = running.is_empty() && should_run;
                return plan;
            }
            // Surging: at most the oldest new and the oldest old pod; the old one goes once it
            // is not ready or the new one is available.
            sort_pods(&mut running);
            let (mut oldest_new, mut oldest_old): (Option<&Arc<Pod>>, Option<&Arc<Pod>>) = (None, None);
            for p in &running {
                let slot = if p.labels().get(HASH_LABEL).map(String::as_str) == Some(hash) {
                    &mut oldest_new
                } else {
                    &mut oldest_old
                };
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    plan.delete.push(p.name_any());
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                if !util::pod_ready(old) || util::pod_available(new, min_ready, now) {
                    plan.delete.push(old.name_any());
                }
            }
        }
    }
    plan
}

/// A node's updated and old pod, if any.
type NewAndOld = (Option<Arc<Pod>>, Option<Arc<Pod>>);

/// The rolling update's choice (`rollingUpdate`): old pods to delete and nodes to surge onto.
/// `nodes` holds every node with pods of the set and every node that should run one.
fn plan_rolling_update(
    nodes: &BTreeMap<String, Vec<Arc<Pod>>>,
    hash: &str,
    (max_surge, max_unavailable, desired): (i32, i32, i32),
    should_run: impl Fn(&str) -> bool,
    min_ready: i32,
    now: Timestamp,
) -> (Vec<String>, Vec<String>) {
    let available = |p: &Pod| util::pod_available(p, min_ready, now);
    // At most one new and one old live pod per node, else leave the node to the manage loop.
    let split = |pods: &[Arc<Pod>]| -> Option<NewAndOld> {
        let (mut new, mut old) = (None, None);
        for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
            let slot = if pod_updated(p, hash) { &mut new } else { &mut old };
            if slot.is_some() {
                return None;
            }
            *slot = Some(p.clone());
        }
        Some((new, old))
    };
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replacements = Vec::new();
        let mut candidates = Vec::new();
        for pods in nodes.values() {
            let Some((new, old)) = split(pods) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(&new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(&old) {
                        replacements.push(old.name_any());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.name_any());
                    }
                }
            }
        }
        let room = usize::try_from((max_unavailable - unavailable).max(0)).unwrap_or(0).min(candidates.len());
        replacements.extend(candidates.into_iter().take(room));
        return (replacements, Vec::new());
    }
    let mut delete = Vec::new();
    let mut should_not_run = Vec::new();
    let mut candidates = Vec::new();
    let mut allowed = Vec::new();
    let (mut surging, mut num_available) = (0, 0);
    for (node, pods) in nodes {
        let Some((new, old)) = split(pods) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.as_ref().or(new.as_ref()) {
            if available(p) {
                num_available += 1;
            }
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(&old) {
                    if should_run(node) {
                        allowed.push(node.clone());
                    } else {
                        delete.push(old.name_any());
                    }
                } else if !should_run(node) {
                    should_not_run.push(old.name_any());
                } else if surging < max_surge {
                    candidates.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(&new) {
                    delete.push(old.name_any());
                } else {
                    surging += 1;
                }
            }
        }
    }
    // Old pods on nodes that no longer qualify go only while enough others are available.
    let deletable = usize::try_from((num_available - desired).max(0)).unwrap_or(0).min(should_not_run.len());
    delete.extend(should_not_run.into_iter().take(deletable));
    let room = usize::try_from((max_surge - surging).max(0)).unwrap_or(0).min(candidates.len());
    allowed.extend(candidates.into_iter().take(room));
    (delete, allowed)
}

#[derive(Debug, Default, PartialEq, Clone)]
struct Counts {
    desired: i32,
    current: i32,
    misscheduled: i32,
    ready: i32,
    updated: i32,
    available: i32,
}

/// `updateDaemonSetStatus`'s counting: each node's oldest pod speaks for it.
fn count_status(
    should_run: &[(String, bool)],
    nodes: &BTreeMap<String, Vec<Arc<Pod>>>,
    hash: &str,
    min_ready: i32,
    now: Timestamp,
) -> Counts {
    let mut c = Counts::default();
    for (name, run) in should_run {
        let pods = nodes.get(name).filter(|p| !p.is_empty());
        if !run {
            if pods.is_some() {
                c.misscheduled += 1;
            }
            continue;
        }
        c.desired += 1;
        let Some(pods) = pods else { continue };
        c.current += 1;
        let mut pods = pods.clone();
        sort_pods(&mut pods);
        let p = &pods[0];
        if util::pod_ready(p) {
            c.ready += 1;
            if util::pod_available(p, min_ready, now) {
                c.available += 1;
            }
        }
        if pod_updated(p, hash) {
            c.updated += 1;
        }
    }
    c
}

/// upstream's `flowcontrol.Backoff` for failed daemon pods, per DaemonSet generation and node.
#[derive(Default)]
struct Backoff {
    entries: HashMap<String, (Duration, tokio::time::Instant)>,
}

impl Backoff {
    fn in_backoff(&self, key: &str, now: tokio::time::Instant) -> Option<Duration> {
        let (d, at) = self.entries.get(key)?;
        (now.duration_since(*at) < *d).then_some(*d)
    }

    fn next(&mut self, key: &str, now: tokio::time::Instant) {
        let d = match self.entries.get(key) {
            Some((d, at)) if now.duration_since(*at) <= 2 * BACKOFF_MAX => (*d * 2).min(BACKOFF_MAX),
            _ => BACKOFF_INITIAL,
        };
        self.entries.insert(key.to_string(), (d, now));
        self.entries.retain(|_, (_, at)| now.duration_since(*at) <= 2 * BACKOFF_MAX);
    }
}

/// `ShouldIgnoreNodeUpdate`: only the true conditions and the rest of the node matter.
fn should_ignore_node_update(old: &Node, cur: &Node) -> bool {
    let trues = |n: &Node| -> HashSet<String> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| cs.iter().filter(|c| c.status == "True").map(|c| c.type_.clone()).collect())
            .unwrap_or_default()
    };
    if trues(old) != trues(cur) {
        return false;
    }
    let mut o = old.clone();
    o.metadata.resource_version = cur.metadata.resource_version.clone();
    o.metadata.managed_fields = cur.metadata.managed_fields.clone();
    let conds = cur.status.as_ref().and_then(|s| s.conditions.clone());
    if let Some(s) = o.status.as_mut() {
        s.conditions = conds;
    } else if conds.is_some() {
        return false;
    }
    o == *cur
}

impl Dsc {
    fn enqueue(&self, ds: &DaemonSet) {
        self.queue.add(util::meta_key(&ds.metadata));
    }

    fn resolve(
        &self,
        ns: &str,
        r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> Option<Arc<DaemonSet>> {
        if r.kind != KIND {
            return None;
        }
        self.sets.get(ns, &r.name).filter(|ds| ds.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    /// DaemonSets whose selector matches the labels (`GetPodDaemonSets` / `GetHistoryDaemonSets`).
    fn matching(&self, ns: &str, labels: Option<&BTreeMap<String, String>>) -> Vec<Arc<DaemonSet>> {
        self.sets
            .list_namespace(ns)
            .into_iter()
            .filter(|ds| {
                let sel = ds.spec.as_ref().map(|s| &s.selector);
                !util::selector_is_empty(sel) && util::selector_matches(sel, labels) == Ok(true)
            })
            .collect()
    }

    fn add_revision(&self, r: &Arc<ControllerRevision>) {
        let ns = ns_of(&r.metadata);
        if util::controller_ref(&r.metadata).is_some() {
            return;
        }
        for ds in self.matching(&ns, r.metadata.labels.as_ref()) {
            self.enqueue(&ds);
        }
    }

    fn update_revision(&self, old: &Arc<ControllerRevision>, cur: &Arc<ControllerRevision>) {
        if old.resource_version() == cur.resource_version() {
            return;
        }
        let ns = ns_of(&cur.metadata);
        let (old_ref, cur_ref) = (util::controller_ref(&old.metadata), util::controller_ref(&cur.metadata));
        if old_ref != cur_ref {
            if let Some(ds) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                self.enqueue(&ds);
            }
        }
        if let Some(r) = cur_ref {
            if let Some(ds) = self.resolve(&ns, r) {
                self.enqueue(&ds);
            }
            return;
        }
        if old.metadata.labels != cur.metadata.labels || old_ref != cur_ref {
            for ds in self.matching(&ns, cur.metadata.labels.as_ref()) {
                self.enqueue(&ds);
            }
        }
    }

    fn add_pod(&self, pod: &Arc<Pod>) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(pod);
        }
        let ns = ns_of(&pod.metadata);
        if let Some(r) = util::controller_ref(&pod.metadata) {
            if let Some(ds) = self.resolve(&ns, r) {
                self.expectations.creation_observed(&util::meta_key(&ds.metadata));
                self.enqueue(&ds);
            }
            return;
        }
        for ds in self.matching(&ns, pod.metadata.labels.as_ref()) {
            self.enqueue(&ds);
        }
    }

    fn update_pod(&self, old: &Arc<Pod>, cur: &Arc<Pod>) {
        if old.resource_version() == cur.resource_version() {
            return;
        }
        if cur.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(cur);
        }
        let ns = ns_of(&cur.metadata);
        let (old_ref, cur_ref) = (util::controller_ref(&old.metadata), util::controller_ref(&cur.metadata));
        if old_ref != cur_ref {
            if let Some(ds) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                self.enqueue(&ds);
            }
        }
        if let Some(r) = cur_ref {
            if let Some(ds) = self.resolve(&ns, r) {
                self.enqueue(&ds);
                let mr = min_ready(&ds);
                if !util::pod_ready(old) && util::pod_ready(cur) && mr > 0 {
                    let secs = u64::try_from(mr).unwrap_or(0) + 1;
                    self.queue.add_after(util::meta_key(&ds.metadata), Duration::from_secs(secs));
                }
            }
            return;
        }
        if old.metadata.labels != cur.metadata.labels || old_ref != cur_ref {
            for ds in self.matching(&ns, cur.metadata.labels.as_ref()) {
                self.enqueue(&ds);
            }
        }
    }

    fn delete_pod(&self, pod: &Arc<Pod>) {
        let ns = ns_of(&pod.metadata);
        let Some(ds) = util::controller_ref(&pod.metadata).and_then(|r| self.resolve(&ns, r)) else { return };
        let key = util::meta_key(&ds.metadata);
        self.expectations.deletion_observed(&key, &util::meta_key(&pod.metadata));
        self.enqueue(&ds);
    }

    /// `getNodesToDaemonPods`: the claimed pods by target node. Finished pods being deleted are
    /// left out unless `include_deleted_terminal`.
    async fn nodes_to_pods(
        &self,
        ds: &DaemonSet,
        include_deleted_terminal: bool,
    ) -> Result<BTreeMap<String, Vec<Arc<Pod>>>, Error> {
        let ns = ns_of(&ds.metadata);
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let sel = spec(ds).selector;
        let candidates = util::claimable(&self.pods, &uid, &ns);
        let pods = claim::claim(&self.client, ds, &sel, candidates, |_| true).await?;
        let mut out: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for p in pods {
            let terminal = matches!(util::pod_phase(&p), "Succeeded" | "Failed");
            if !include_deleted_terminal && terminal && p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(n) = target_node(&p) {
                out.entry(n).or_default().push(p);
            }
        }
        Ok(out)
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(ds) = self.sets.get(ns, name) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let mut nodes = self.nodes.list();
        nodes.sort_by_key(|n| n.name_any());
        if util::selector_is_empty(ds.spec.as_ref().map(|s| &s.selector)) {
            self.recorder.warning(
                ds.as_ref(),
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            );
            return Ok(());
        }
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let (cur, old) = self.construct_history(&ds).await?;
        let hash = cur.labels().get(HASH_LABEL).cloned().unwrap_or_default();
        if !self.expectations.satisfied(key) {
            return self.update_status(&ds, &nodes, &hash, false).await;
        }
        let res = self.update_daemonset(&ds, &nodes, &hash, key, &old).await;
        let status = self.update_status(&ds, &nodes, &hash, true).await;
        match (res, status) {
            (Err(e), Err(s)) => {
                tracing::error!("failed to update status of daemon set {key}: {s}");
                Err(e)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    async fn update_daemonset(
        &self,
        ds: &DaemonSet,
        nodes: &[Arc<Node>],
        hash: &str,
        key: &str,
        old: &[Arc<ControllerRevision>],
    ) -> Result<(), Error> {
        self.manage(ds, nodes, hash).await?;
        if self.expectations.satisfied(key) && strategy_type(ds) == "RollingUpdate" {
            self.rolling_update(ds, nodes, hash).await?;
        }
        self.cleanup_history(ds, old).await
    }

    /// `manage`: a pod where one should run and none does, failed and surplus pods deleted.
    async fn manage(&self, ds: &DaemonSet, nodes: &[Arc<Node>], hash: &str) -> Result<(), Error> {
        let node_pods = self.nodes_to_pods(ds, false).await?;
        let (surge, mr, now) = (allows_surge(ds), min_ready(ds), util::now());
        let mut create = Vec::new();
        let mut delete = Vec::new();
        for node in nodes {
            let name = node.name_any();
            let plan = plan_node(node_should_run(node, ds), node_pods.get(&name), surge, hash, mr, now);
            if plan.create {
                create.push(name.clone());
            }
            delete.extend(plan.delete);
            for p in plan.failed {
                let bkey = format!(
                    "{}/{}/{name}",
                    ds.metadata.uid.as_deref().unwrap_or_default(),
                    ds.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0)
                );
                let t = tokio::time::Instant::now();
                let wait = self.backoff.lock().unwrap_or_else(|e| e.into_inner()).in_backoff(&bkey, t);
                if let Some(d) = wait {
                    self.queue.add_after(util::meta_key(&ds.metadata), d);
                    continue;
                }
                self.backoff.lock().unwrap_or_else(|e| e.into_inner()).next(&bkey, t);
                let ns = ns_of(&ds.metadata);
                self.recorder.warning(
                    ds,
                    "FailedDaemonPod",
                    format!("Found failed daemon pod {ns}/{p} on node {name}, will try to kill it"),
                );
                delete.push(p);
            }
            for p in plan.succeeded {
                let ns = ns_of(&ds.metadata);
                self.recorder.normal(
                    ds,
                    "SucceededDaemonPod",
                    format!("Found succeeded daemon pod {ns}/{p} on node {name}, will try to delete it"),
                );
                delete.push(p);
            }
        }
        // Unbound pods pinned to nodes that are gone never get scheduled, nor collected.
        let known: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        for (n, pods) in &node_pods {
            if !known.contains(n) {
                delete.extend(pods.iter().filter(|p| !is_scheduled(p)).map(|p| p.name_any()));
            }
        }
        self.sync_nodes(ds, delete, create, hash).await
    }

    /// `rollingUpdate`.
    async fn rolling_update(&self, ds: &DaemonSet, nodes: &[Arc<Node>], hash: &str) -> Result<(), Error> {
        let mut node_pods = self.nodes_to_pods(ds, false).await?;
        let by_name: HashMap<String, &Arc<Node>> = nodes.iter().map(|n| (n.name_any(), n)).collect();
        let mut desired = 0;
        for n in nodes {
            if node_should_run(n, ds).0 {
                desired += 1;
                node_pods.entry(n.name_any()).or_default();
            }
        }
        let mut max_unavailable = unavailable_count(ds, desired);
        let max_surge = surge_count(ds, desired);
        if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        let should_run = |n: &str| by_name.get(n).is_some_and(|node| node_should_run(node, ds).0);
        let (delete, create) = plan_rolling_update(
            &node_pods,
            hash,
            (max_surge, max_unavailable, desired),
            should_run,
            min_ready(ds),
            util::now(),
        );
        self.sync_nodes(ds, delete, create, hash).await
    }

    /// The pod a DaemonSet runs on `node` (`CreatePodTemplate` plus the node affinity).
    fn new_pod(&self, ds: &DaemonSet, hash: &str, node: &str) -> Pod {
        let template = spec(ds).template;
        let meta = template.metadata.unwrap_or_default();
        let mut pod_spec = template.spec.unwrap_or_default();
        add_daemon_tolerations(&mut pod_spec);
        let mut labels = meta.labels.unwrap_or_default();
        if let Some(g) = template_generation(ds) {
            labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
        }
        if !hash.is_empty() {
            labels.insert(HASH_LABEL.into(), hash.to_string());
        }
        pod_spec.affinity = Some(replace_node_name_affinity(pod_spec.affinity.take(), node));
        Pod {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", ds.name_any())),
                labels: Some(labels),
                annotations: meta.annotations,
                finalizers: meta.finalizers,
                owner_references: Some(vec![util::new_controller_ref(API_VERSION, KIND, &ds.metadata)]),
                ..Default::default()
            },
            spec: Some(pod_spec),
            status: None,
        }
    }

    /// `syncNodes`: expectations first, then slow-start creations and parallel deletions.
    async fn sync_nodes(
        &self,
        ds: &DaemonSet,
        delete: Vec<String>,
        create: Vec<String>,
        hash: &str,
    ) -> Result<(), Error> {
        let key = util::meta_key(&ds.metadata);
        let ns = ns_of(&ds.metadata);
        let create: Vec<String> = create.into_iter().take(BURST_REPLICAS).collect();
        let delete: Vec<String> = delete.into_iter().take(BURST_REPLICAS).collect();
        self.expectations.expect(&key, create.len(), delete.iter().map(|p| util::key(&ns, p)).collect());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut errors: Vec<kube::Error> = Vec::new();
        let mut pos = 0;
        let mut batch = create.len().min(1);
        while batch > 0 {
            let key = key.as_str();
            let results = join_all(create[pos..pos + batch].iter().map(|node| {
                let (api, pod) = (api.clone(), self.new_pod(ds, hash, node));
                async move {
                    match api.create(&PostParams::default(), &pod).await {
                        Ok(p) => {
                            self.recorder.normal(ds, "SuccessfulCreate", format!("Created pod: {}", p.name_any()));
                            Ok(())
                        }
                        Err(e) if util::namespace_terminating(&e) => Ok(()),
                        Err(e) => {
                            self.recorder.warning(
                                ds,
                                "FailedCreate",
                                format!("Error creating: {}", util::api_message(&e)),
                            );
                            self.expectations.creation_observed(key);
                            Err(e)
                        }
                    }
                }
            }))
            .await;
            let before = errors.len();
            errors.extend(results.into_iter().filter_map(Result::err));
            pos += batch;
            if errors.len() > before {
                // The pods never attempted are not expected either.
                for _ in pos..create.len() {
                    self.expectations.creation_observed(key);
                }
                break;
            }
            batch = (2 * batch).min(create.len() - pos);
        }
        let results = join_all(delete.iter().map(|name| {
            let api = api.clone();
            let pod_key = util::key(&ns, name);
            let key = key.clone();
            async move {
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {
                        self.recorder.normal(ds, "SuccessfulDelete", format!("Deleted pod: {name}"));
                        Ok(())
                    }
                    Err(e) => {
                        self.expectations.deletion_observed(&key, &pod_key);
                        if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                            return Ok(());
                        }
                        self.recorder.warning(ds, "FailedDelete", format!("Error deleting: {}", util::api_message(&e)));
                        Err(e)
                    }
                }
            }
        }))
        .await;
        errors.extend(results.into_iter().filter_map(Result::err));
        match errors.into_iter().next() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// `updateDaemonSetStatus` and `storeDaemonSetStatus`.
    async fn update_status(
        &self,
        ds: &DaemonSet,
        nodes: &[Arc<Node>],
        hash: &str,
        update_observed: bool,
    ) -> Result<(), Error> {
        let node_pods = self.nodes_to_pods(ds, false).await?;
        let should_run: Vec<(String, bool)> = nodes.iter().map(|n| (n.name_any(), node_should_run(n, ds).0)).collect();
        let mr = min_ready(ds);
        let c = count_status(&should_run, &node_pods, hash, mr, util::now());
        let unavailable = c.desired - c.available;
        let cur = ds.status.clone().unwrap_or_default();
        let generation = ds.metadata.generation.unwrap_or(0);
        let same = cur.desired_number_scheduled == c.desired
            && cur.current_number_scheduled == c.current
            && cur.number_misscheduled == c.misscheduled
            && cur.number_ready == c.ready
            && cur.updated_number_scheduled.unwrap_or(0) == c.updated
            && cur.number_available.unwrap_or(0) == c.available
            && cur.number_unavailable.unwrap_or(0) == unavailable
            && cur.observed_generation.unwrap_or(0) >= generation;
        if !same {
            let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &ns_of(&ds.metadata));
            let mut target = ds.clone();
            for attempt in 0..2 {
                let mut st: DaemonSetStatus = target.status.clone().unwrap_or_default();
                if update_observed {
                    st.observed_generation = ds.metadata.generation;
                }
                st.desired_number_scheduled = c.desired;
                st.current_number_scheduled = c.current;
                st.number_misscheduled = c.misscheduled;
                st.number_ready = c.ready;
                st.updated_number_scheduled = Some(c.updated);
                st.number_available = Some(c.available);
                st.number_unavailable = Some(unavailable);
                target.status = Some(st);
                match api.replace_status(&target.name_any(), &PostParams::default(), &target).await {
                    Ok(_) => break,
                    Err(e) if attempt == 1 => return Err(e.into()),
                    Err(_) => target = api.get(&ds.name_any()).await?,
                }
            }
        }
        if mr > 0 && c.ready != c.available {
            self.queue.add_after(util::meta_key(&ds.metadata), Duration::from_secs(u64::try_from(mr).unwrap_or(0)));
        }
        Ok(())
    }

    /// `constructHistory`: the revision of the current template (created, or renumbered to be
    /// the newest) and the old ones.
    async fn construct_history(
        &self,
        ds: &DaemonSet,
    ) -> Result<(ControllerRevision, Vec<Arc<ControllerRevision>>), Error> {
        let ns = ns_of(&ds.metadata);
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let all: Vec<Arc<ControllerRevision>> = self
            .history
            .revisions
            .list_namespace(&ns)
            .into_iter()
            .filter(|r| util::controller_ref(&r.metadata).is_none_or(|c| c.uid == uid))
            .collect();
        let revisions = claim::claim(&self.client, ds, &spec(ds).selector, all, |_| true).await?;
        let patch = crate::history::template_patch(&spec(ds).template);
        let mut current = Vec::new();
        let mut old = Vec::new();
        for r in revisions {
            let mut r = r;
            if !r.labels().contains_key(HASH_LABEL) {
                let mut update = (*r).clone();
                let name = update.name_any();
                update.labels_mut().insert(HASH_LABEL.into(), name);
                r = Arc::new(api.replace(&r.name_any(), &PostParams::default(), &update).await?);
            }
            if r.data.as_ref().map(|d| &d.0) == Some(&patch) {
                current.push(r);
            } else {
                old.push(r);
            }
        }
        let next = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let cur = if current.is_empty() {
            self.snapshot(ds, next, patch).await?
        } else {
            let keep = self.dedup_current(ds, &current).await?;
            if keep.revision < next {
                let mut update = (*keep).clone();
                update.revision = next;
                api.replace(&keep.name_any(), &PostParams::default(), &update).await?
            } else {
                (*keep).clone()
            }
        };
        Ok((cur, old))
    }

    /// `dedupCurHistories`: the highest-numbered of several identical revisions stays; pods of
    /// the others are relabelled to it.
    async fn dedup_current(
        &self,
        ds: &DaemonSet,
        current: &[Arc<ControllerRevision>],
    ) -> Result<Arc<ControllerRevision>, Error> {
        let mut keep = current[0].clone();
        for r in current {
            if r.revision >= keep.revision {
                keep = r.clone();
            }
        }
        if current.len() == 1 {
            return Ok(keep);
        }
        let ns = ns_of(&ds.metadata);
        let keep_hash = keep.labels().get(HASH_LABEL).cloned().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        for p in self.nodes_to_pods(ds, true).await?.values().flatten() {
            if p.labels().get(HASH_LABEL) != Some(&keep_hash) {
                let patch = serde_json::json!({"metadata": {"labels": {HASH_LABEL: keep_hash}}});
                pods.patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
            }
        }
        for r in current.iter().filter(|r| r.name_any() != keep.name_any()) {
            self.history.delete(r).await?;
        }
        Ok(keep)
    }

    /// `snapshot`: a revision named `<ds>-<template hash>`; a name taken by a different template
    /// bumps `status.collisionCount` and fails the sync so that it is retried with a new name.
    async fn snapshot(
        &self,
        ds: &DaemonSet,
        revision: i64,
        patch: serde_json::Value,
    ) -> Result<ControllerRevision, Error> {
        let ns = ns_of(&ds.metadata);
        let collision = ds.status.as_ref().and_then(|s| s.collision_count);
        let template = spec(ds).template;
        let hash = super::deployment::compute_hash(&template, collision);
        let name = format!("{}-{hash}", ds.name_any());
        let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        labels.insert(HASH_LABEL.into(), hash.clone());
        let rev = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                annotations: ds.metadata.annotations.clone(),
                owner_references: Some(vec![util::new_controller_ref(API_VERSION, KIND, &ds.metadata)]),
                ..Default::default()
            },
            data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(patch.clone())),
            revision,
        };
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
        match api.create(&PostParams::default(), &rev).await {
            Ok(r) => Ok(r),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api.get(&name).await?;
                if existing.data.as_ref().map(|d| &d.0) == Some(&patch) {
                    return Ok(existing);
                }
                let sets: Api<DaemonSet> = Api::namespaced(self.client.clone(), &ns);
                let mut fresh = sets.get(&ds.name_any()).await?;
                let fresh_count = fresh.status.as_ref().and_then(|s| s.collision_count);
                if fresh_count != collision {
                    return Err(Error::Config(format!(
                        "found a stale collision count ({collision:?}, expected {fresh_count:?}) of DaemonSet {:?} while processing; will retry until it is updated",
                        ds.name_any()
                    )));
                }
                let st = fresh.status.get_or_insert_with(Default::default);
                st.collision_count = Some(fresh_count.unwrap_or(0) + 1);
                sets.replace_status(&ds.name_any(), &PostParams::default(), &fresh).await?;
                tracing::info!(daemonset = %util::meta_key(&ds.metadata), "Found a hash collision for DaemonSet - bumping collisionCount to resolve it");
                Err(kube::Error::Api(s).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `cleanupHistory`: old revisions beyond `revisionHistoryLimit`, oldest first, except those
    /// some pod still runs.
    async fn cleanup_history(&self, ds: &DaemonSet, old: &[Arc<ControllerRevision>]) -> Result<(), Error> {
        let limit = spec(ds).revision_history_limit.unwrap_or(10).max(0);
        let node_pods = self.nodes_to_pods(ds, true).await?;
        let live: HashSet<String> =
            node_pods.values().flatten().filter_map(|p| p.labels().get(HASH_LABEL).cloned()).collect();
        for r in revisions_to_clean(old, &live, usize::try_from(limit).unwrap_or(0)) {
            self.history.delete(&r).await?;
        }
        Ok(())
    }
}

/// The old revisions `cleanupHistory` deletes: `len(old) - limit` of them, lowest revision
/// first, skipping any whose hash a pod still carries.
fn revisions_to_clean(
    old: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: usize,
) -> Vec<Arc<ControllerRevision>> {
    let mut to_kill = old.len().saturating_sub(limit);
    let mut sorted = old.to_vec();
    sorted.sort_by_key(|r| r.revision);
    let mut out = Vec::new();
    for r in sorted {
        if to_kill == 0 {
            break;
        }
        if r.labels().get(HASH_LABEL).is_some_and(|h| live.contains(h)) {
            continue;
        }
        out.push(r);
        to_kill -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
    use k8s_openapi::api::core::v1::{NodeSpec, PodCondition, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(k, e)| Taint { key: k.to_string(), effect: e.to_string(), ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn ds(pod_spec: PodSpec) -> DaemonSet {
        DaemonSet {
            metadata: ObjectMeta { name: Some("ds".into()), namespace: Some("ns".into()), ..Default::default() },
            spec: Some(DaemonSetSpec {
                template: PodTemplateSpec { metadata: None, spec: Some(pod_spec) },
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn nodes_qualify_by_selector_affinity_and_taints() {
        let plain = ds(PodSpec::default());
        assert_eq!(node_should_run(&node("a", &[], &[]), &plain), (true, true));
        // NoSchedule: no new pod, but an existing one stays; NoExecute: neither.
        assert_eq!(node_should_run(&node("a", &[], &[("dedicated", "NoSchedule")]), &plain), (false, true));
        assert_eq!(node_should_run(&node("a", &[], &[("dedicated", "NoExecute")]), &plain), (false, false));
        assert_eq!(node_should_run(&node("a", &[], &[("x", "PreferNoSchedule")]), &plain), (true, true));
        // The automatic daemon tolerations.
        for (k, e) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ] {
            assert_eq!(node_should_run(&node("a", &[], &[(k, e)]), &plain), (true, true), "{k}");
        }
        let net = node("a", &[], &[("node.kubernetes.io/network-unavailable", "NoSchedule")]);
        assert_eq!(node_should_run(&net, &plain), (false, true));
        let host = ds(PodSpec { host_network: Some(true), ..Default::default() });
        assert_eq!(node_should_run(&net, &host), (true, true));
        // A toleration lets the pod in.
        let tolerant = ds(PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(node_should_run(&node("a", &[], &[("dedicated", "NoSchedule")]), &tolerant), (true, true));
        // nodeSelector and required affinity.
        let sel = ds(PodSpec { node_selector: Some([("disk".into(), "ssd".into())].into()), ..Default::default() });
        assert_eq!(node_should_run(&node("a", &[("disk", "ssd")], &[]), &sel), (true, true));
        assert_eq!(node_should_run(&node("a", &[], &[]), &sel), (false, false));
        let aff = ds(PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "zone".into(),
                                operator: "NotIn".into(),
                                values: Some(vec!["b".into()]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(node_should_run(&node("a", &[("zone", "a")], &[]), &aff), (true, true));
        assert_eq!(node_should_run(&node("a", &[("zone", "b")], &[]), &aff), (false, false));
        let pinned = ds(PodSpec { node_name: Some("b".into()), ..Default::default() });
        assert_eq!(node_should_run(&node("a", &[], &[]), &pinned), (false, false));
    }

    #[test]
    fn daemon_tolerations_replace_matching_ones_and_pods_pin_to_their_node() {
        let mut spec = PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("node.kubernetes.io/not-ready".into()),
                operator: Some("Exists".into()),
                effect: Some("NoExecute".into()),
                toleration_seconds: Some(300),
                ..Default::default()
            }]),
            ..Default::default()
        };
        add_daemon_tolerations(&mut spec);
        let tols = spec.tolerations.unwrap_or_default();
        assert_eq!(tols.len(), 6);
        assert_eq!(tols[0].toleration_seconds, None);
        let old = Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm::default()],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let a = replace_node_name_affinity(Some(old), "n1");
        let pod = Pod { spec: Some(PodSpec { affinity: Some(a.clone()), ..Default::default() }), ..Default::default() };
        assert_eq!(target_node(&pod).as_deref(), Some("n1"));
        let terms = a.node_affinity.and_then(|n| n.required_during_scheduling_ignored_during_execution).unwrap();
        assert_eq!(terms.node_selector_terms.len(), 1);
    }

    fn pod(name: &str, hash: &str, ready: bool, created: i64) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([(HASH_LABEL.to_string(), hash.to_string())].into()),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: Some("n".into()), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    last_transition_time: Some(Time(Timestamp::from_second(created).unwrap())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn a_node_keeps_its_oldest_pod_and_gets_one_when_missing() {
        let now = Timestamp::now();
        let plan = plan_node((true, true), None, false, "h", 0, now);
        assert!(plan.create);
        let two = vec![pod("young", "h", true, 200), pod("old", "h", true, 100)];
        let plan = plan_node((true, true), Some(&two), false, "h", 0, now);
        assert_eq!(plan.delete, vec!["young"]);
        assert!(!plan.create);
        let plan = plan_node((false, false), Some(&two), false, "h", 0, now);
        assert_eq!(plan.delete.len(), 2);
        // Surging: the old pod goes once the new one is available.
        let pair = vec![pod("old", "old", true, 100), pod("new", "h", true, 200)];
        assert_eq!(plan_node((true, true), Some(&pair), true, "h", 0, now).delete, vec!["old"]);
        let pair = vec![pod("old", "old", true, 100), pod("new", "h", false, 200)];
        assert!(plan_node((true, true), Some(&pair), true, "h", 0, now).delete.is_empty());
    }

    #[test]
    fn rolling_updates_stay_within_max_unavailable_or_surge() {
        let now = Timestamp::now();
        let mut nodes = BTreeMap::new();
        for i in 0..4 {
            nodes.insert(format!("n{i}"), vec![pod(&format!("p{i}"), "old", true, 100)]);
        }
        let (del, create) = plan_rolling_update(&nodes, "new", (0, 1, 4), |_| true, 0, now);
        assert_eq!((del, create), (vec!["p0".to_string()], vec![]));
        let (del, _) = plan_rolling_update(&nodes, "new", (0, 2, 4), |_| true, 0, now);
        assert_eq!(del, vec!["p0", "p1"]);
        // An updated pod that is not available yet uses up the budget.
        nodes.insert("n0".into(), vec![pod("p0b", "new", false, 300)]);
        let (del, _) = plan_rolling_update(&nodes, "new", (0, 1, 4), |_| true, 0, now);
        assert!(del.is_empty());
        // Unavailable old pods are always replaced.
        nodes.insert("n1".into(), vec![pod("p1", "old", false, 100)]);
        let (del, _) = plan_rolling_update(&nodes, "new", (0, 1, 4), |_| true, 0, now);
        assert_eq!(del, vec!["p1"]);
        // Surge: new pods go next to old ones, up to maxSurge.
        let mut nodes = BTreeMap::new();
        for i in 0..3 {
            nodes.insert(format!("n{i}"), vec![pod(&format!("p{i}"), "old", true, 100)]);
        }
        let (del, create) = plan_rolling_update(&nodes, "new", (1, 0, 3), |_| true, 0, now);
        assert!(del.is_empty());
        assert_eq!(create, vec!["n0"]);
        nodes.get_mut("n0").unwrap().push(pod("p0b", "new", true, 200));
        let (del, create) = plan_rolling_update(&nodes, "new", (1, 0, 3), |_| true, 0, now);
        assert_eq!(del, vec!["p0"]);
        assert_eq!(create, vec!["n1"]);
    }

    #[test]
    fn status_counts_each_nodes_oldest_pod() {
        let now = Timestamp::now();
        let mut nodes = BTreeMap::new();
        nodes.insert("a".to_string(), vec![pod("a2", "old", false, 200), pod("a1", "h", true, 100)]);
        nodes.insert("c".to_string(), vec![pod("c1", "h", true, 100)]);
        let should = vec![("a".into(), true), ("b".into(), true), ("c".into(), false)];
        let c = count_status(&should, &nodes, "h", 0, now);
        assert_eq!(c, Counts { desired: 2, current: 1, misscheduled: 1, ready: 1, updated: 1, available: 1 });
    }

    #[test]
    fn history_cleanup_keeps_the_limit_and_live_revisions() {
        let rev = |n: i64, hash: &str| {
            Arc::new(ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(format!("r{n}")),
                    labels: Some([(HASH_LABEL.to_string(), hash.to_string())].into()),
                    ..Default::default()
                },
                data: None,
                revision: n,
            })
        };
        let old = vec![rev(3, "c"), rev(1, "a"), rev(2, "b"), rev(4, "d")];
        let live: HashSet<String> = ["a".to_string()].into();
        let gone: Vec<_> = revisions_to_clean(&old, &live, 2).iter().map(|r| r.revision).collect();
        assert_eq!(gone, vec![2, 3]);
        assert!(revisions_to_clean(&old, &live, 10).is_empty());
    }

    #[test]
    fn scaled_values_round_up_percentages() {
        let strategy = |mu: IntOrString| DaemonSet {
            spec: Some(DaemonSetSpec {
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDaemonSet { max_unavailable: Some(mu), max_surge: None }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(unavailable_count(&strategy(IntOrString::String("10%".into())), 3), 1);
        assert_eq!(unavailable_count(&strategy(IntOrString::Int(2)), 3), 2);
        assert_eq!(surge_count(&strategy(IntOrString::Int(2)), 3), 0);
    }
}
