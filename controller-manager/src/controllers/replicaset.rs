//! `replicaset-controller` (upstream `pkg/controller/replicaset`): keeps `spec.replicas` pods
//! matching each ReplicaSet's selector. Pods are claimed by controller reference (orphans
//! that match are adopted, owned pods that no longer match are released), created in
//! slow-start batches (1, 2, 4, ...) at most 500 per sync, deleted in upstream's ranking order,
//! and expectations keep a sync from acting again before the informer has seen its own
//! creations and deletions. Status carries replicas, fullyLabeledReplicas, readyReplicas,
//! availableReplicas, observedGeneration and the ReplicaFailure condition.
//!
//! `replicationcontroller-controller` is the same loop over ReplicationControllers, seen as
//! ReplicaSets through [`Replicated`] as upstream runs its ReplicaSet code through a
//! conversion.

use crate::context::Ctx;
use crate::util::{self, Expectations};
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{
    Pod, ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// At most this many pods are created or deleted per sync (`BurstReplicas`).
const BURST_REPLICAS: usize = 500;
/// The first slow-start batch (`SlowStartInitialBatchSize`).
const SLOW_START_INITIAL_BATCH: usize = 1;

/// An owner kind the ReplicaSet loop runs over.
pub trait Replicated:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    const KIND: &'static str;
    const API_VERSION: &'static str;
    /// The work queue's name, the service account and the events' source.
    const QUEUE: &'static str;
    const SERVICE_ACCOUNT: &'static str;
    const COMPONENT: &'static str;
    fn as_replica_set(&self) -> Cow<'_, ReplicaSet>;
    fn with_status(&self, status: ReplicaSetStatus) -> Self;
}

impl Replicated for ReplicaSet {
    const KIND: &'static str = "ReplicaSet";
    const API_VERSION: &'static str = "apps/v1";
    const QUEUE: &'static str = "replicaset";
    const SERVICE_ACCOUNT: &'static str = "replicaset-controller";
    const COMPONENT: &'static str = "replicaset-controller";

    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        Cow::Borrowed(self)
    }

    fn with_status(&self, status: ReplicaSetStatus) -> Self {
        ReplicaSet { status: Some(status), ..self.clone() }
    }
}

impl Replicated for ReplicationController {
    const KIND: &'static str = "ReplicationController";
    const API_VERSION: &'static str = "v1";
    const QUEUE: &'static str = "replicationmanager";
    const SERVICE_ACCOUNT: &'static str = "replication-controller";
    const COMPONENT: &'static str = "replication-controller";

    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        let spec = self.spec.clone().unwrap_or_default();
        let status = self.status.clone().map(|s| ReplicaSetStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas,
            ready_replicas: s.ready_replicas,
            available_replicas: s.available_replicas,
            observed_generation: s.observed_generation,
            terminating_replicas: None,
            conditions: s.conditions.map(|cs| {
                cs.into_iter()
                    .map(|c| ReplicaSetCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                        last_transition_time: c.last_transition_time,
                    })
                    .collect()
            }),
        });
        Cow::Owned(ReplicaSet {
            metadata: self.metadata.clone(),
            spec: Some(ReplicaSetSpec {
                replicas: spec.replicas,
                min_ready_seconds: spec.min_ready_seconds,
                selector: LabelSelector { match_labels: spec.selector, match_expressions: None },
                template: spec.template,
            }),
            status,
        })
    }

    fn with_status(&self, s: ReplicaSetStatus) -> Self {
        let status = ReplicationControllerStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas,
            ready_replicas: s.ready_replicas,
            available_replicas: s.available_replicas,
            observed_generation: s.observed_generation,
            conditions: s.conditions.map(|cs| {
                cs.into_iter()
                    .map(|c| ReplicationControllerCondition {
                        type_: c.type_,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                        last_transition_time: c.last_transition_time,
                    })
                    .collect()
            }),
        };
        ReplicationController { status: Some(status), ..self.clone() }
    }
}

struct Rsc<K: Replicated> {
    client: Client,
    pods: Informer<Pod>,
    sets: Informer<K>,
    queue: WorkQueue<String>,
    expectations: Expectations,
    recorder: Recorder,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let workers = ctx.opts.concurrent_replicaset_syncs;
    start_for::<ReplicaSet>(ctx, workers).await
}

/// `replicationcontroller-controller`.
pub async fn start_rc(ctx: Ctx) -> Result<bool, Error> {
    let workers = ctx.opts.concurrent_rc_syncs;
    start_for::<ReplicationController>(ctx, workers).await
}

async fn start_for<K: Replicated>(ctx: Ctx, workers: usize) -> Result<bool, Error> {
    let client = ctx.client(K::SERVICE_ACCOUNT).await?;
    let rsc = Arc::new(Rsc {
        recorder: ctx.recorder(&client, K::COMPONENT),
        client,
        pods: ctx.informers.get::<Pod>(),
        sets: ctx.informers.get::<K>(),
        queue: WorkQueue::new(K::QUEUE),
        expectations: Expectations::default(),
    });
    util::index_by_controller(&rsc.pods);
    let r = rsc.clone();
    rsc.sets.add_handler(move |c| match c {
        Change::Added(rs) | Change::Updated { new: rs, .. } => r.queue.add(util::meta_key(rs.meta())),
        Change::Deleted(rs) => {
            let key = util::meta_key(rs.meta());
            r.expectations.delete(&key);
            r.queue.add(key);
        }
    });
    let r = rsc.clone();
    rsc.pods.add_handler(move |c| match c {
        Change::Added(p) => r.add_pod(p),
        Change::Updated { old, new } => r.update_pod(old, new),
        Change::Deleted(p) => r.delete_pod(p),
    });
    tokio::spawn(async move {
        rsc.pods.wait_synced().await;
        rsc.sets.wait_synced().await;
        let r = rsc.clone();
        rsc.queue.run_workers(workers, move |key: String| {
            let r = r.clone();
            async move { r.sync(&key).await }
        });
    });
    Ok(true)
}

impl<K: Replicated> Rsc<K> {
    /// The owner a controller reference points at, if it is one of ours and still the same
    /// object (same UID).
    fn resolve(&self, ns: &str, r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference) -> Option<Arc<K>> {
        if r.kind != K::KIND {
            return None;
        }
        self.sets.get(ns, &r.name).filter(|rs| rs.meta().uid.as_deref() == Some(r.uid.as_str()))
    }

    /// Owners whose selector matches an orphan pod.
    fn matching_sets(&self, pod: &Pod) -> Vec<Arc<K>> {
        let ns = pod.namespace().unwrap_or_default();
        self.sets
            .list_namespace(&ns)
            .into_iter()
            .filter(|obj| {
                let rs = obj.as_replica_set();
                let sel = rs.spec.as_ref().map(|s| &s.selector);
                !util::selector_is_empty(sel) && util::selector_matches(sel, pod.metadata.labels.as_ref()) == Ok(true)
            })
            .collect()
    }

    fn add_pod(&self, pod: &Arc<Pod>) {
        if pod.metadata.deletion_timestamp.is_some() {
            // Restarted controller-manager: a pod already being deleted counts as deleted.
            return self.delete_pod(pod);
        }
        let ns = pod.namespace().unwrap_or_default();
        if let Some(r) = util::controller_ref(&pod.metadata) {
            if let Some(rs) = self.resolve(&ns, r) {
                let key = util::meta_key(rs.meta());
                self.expectations.creation_observed(&key);
                self.queue.add(key);
            }
            return;
        }
        for rs in self.matching_sets(pod) {
            self.queue.add(util::meta_key(rs.meta()));
        }
    }

    fn update_pod(&self, old: &Arc<Pod>, cur: &Arc<Pod>) {
        if old.resource_version() == cur.resource_version() {
            return;
        }
        let label_changed = old.metadata.labels != cur.metadata.labels;
        if cur.metadata.deletion_timestamp.is_some() {
            self.delete_pod(cur);
            if label_changed {
                self.delete_pod(old);
            }
            return;
        }
        let ns = cur.namespace().unwrap_or_default();
        let (old_ref, cur_ref) = (util::controller_ref(&old.metadata), util::controller_ref(&cur.metadata));
        let ref_changed = old_ref != cur_ref;
        if ref_changed {
            if let Some(rs) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                self.queue.add(util::meta_key(rs.meta()));
            }
        }
        if let Some(r) = cur_ref {
            if let Some(rs) = self.resolve(&ns, r) {
                let key = util::meta_key(rs.meta());
                self.queue.add(key.clone());
                let min_ready = rs.as_replica_set().spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
                if !util::pod_ready(old) && util::pod_ready(cur) && min_ready > 0 {
                    // Check availability again once minReadySeconds have passed.
                    let secs = u64::try_from(min_ready).unwrap_or(0) + 1;
                    self.queue.add_after(key, Duration::from_secs(secs));
                }
            }
            return;
        }
        if label_changed || ref_changed {
            for rs in self.matching_sets(cur) {
                self.queue.add(util::meta_key(rs.meta()));
            }
        }
    }

    fn delete_pod(&self, pod: &Arc<Pod>) {
        let ns = pod.namespace().unwrap_or_default();
        let Some(rs) = util::controller_ref(&pod.metadata).and_then(|r| self.resolve(&ns, r)) else { return };
        let key = util::meta_key(rs.meta());
        self.expectations.deletion_observed(&key, &util::meta_key(&pod.metadata));
        self.queue.add(key);
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(obj) = self.sets.get(ns, name) else {
            self.expectations.delete(key);
            return Ok(());
        };
        let rs = obj.as_replica_set().into_owned();
        let needs_sync = self.expectations.satisfied(key);
        let spec = rs.spec.clone().unwrap_or_default();
        if let Err(e) = util::selector_matches(Some(&spec.selector), None) {
            tracing::error!("error converting pod selector to selector for rs {key}: {e}");
            return Ok(());
        }
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let active: Vec<Arc<Pod>> =
            util::claimable(&self.pods, &uid, ns).into_iter().filter(|p| util::pod_active(p)).collect();
        let pods = self.claim_pods(&rs, active).await?;
        let mut manage_err = None;
        if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            if let Err(e) = self.manage_replicas(obj.as_ref(), &rs, &pods, key).await {
                manage_err = Some(e);
            }
        }
        let status = calculate_status(&rs, &pods, manage_err.as_ref());
        let updated = self.update_status(obj.as_ref(), status).await?;
        let updated = updated.as_replica_set();
        let replicas = spec.replicas.unwrap_or(1);
        let st = updated.status.clone().unwrap_or_default();
        let min_ready = updated.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
        if manage_err.is_none()
            && min_ready > 0
            && st.ready_replicas.unwrap_or(0) == replicas
            && st.available_replicas.unwrap_or(0) != replicas
        {
            self.queue.add_after(key.to_string(), Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)));
        }
        match manage_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// upstream's `ControllerRefManager.ClaimPods`: owned pods that still match stay, owned
    /// pods that no longer match are released, matching orphans are adopted (after checking
    /// with a fresh read that the ReplicaSet is still there and not being deleted).
    async fn claim_pods(&self, rs: &ReplicaSet, pods: Vec<Arc<Pod>>) -> Result<Vec<Arc<Pod>>, Error> {
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let sel = rs.spec.as_ref().map(|s| &s.selector);
        let ns = rs.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut claimed = Vec::new();
        let mut can_adopt: Option<bool> = None;
        for pod in pods {
            let matches = util::selector_matches(sel, pod.metadata.labels.as_ref()) == Ok(true);
            match util::controller_ref(&pod.metadata) {
                Some(r) if r.uid == uid => {
                    if matches || rs.metadata.deletion_timestamp.is_some() {
                        claimed.push(pod);
                        continue;
                    }
                    // Release: drop our owner reference.
                    let patch = serde_json::json!({
                        "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": uid }], "uid": pod.metadata.uid }
                    });
                    match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || rs.metadata.deletion_timestamp.is_some() || pod.metadata.deletion_timestamp.is_some()
                    {
                        continue;
                    }
                    if can_adopt.is_none() {
                        let fresh = Api::<K>::namespaced(self.client.clone(), &ns).get_opt(&rs.name_any()).await?;
                        can_adopt = Some(fresh.is_some_and(|f| {
                            f.meta().uid.as_deref() == Some(uid.as_str()) && f.meta().deletion_timestamp.is_none()
                        }));
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    let owner = util::new_controller_ref(K::API_VERSION, K::KIND, &rs.metadata);
                    let patch = serde_json::json!({
                        "metadata": { "ownerReferences": [owner], "uid": pod.metadata.uid }
                    });
                    match api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(p) => claimed.push(Arc::new(p)),
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(claimed)
    }

    async fn manage_replicas(&self, obj: &K, rs: &ReplicaSet, pods: &[Arc<Pod>], key: &str) -> Result<(), Error> {
        let want = usize::try_from(rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)).unwrap_or(0);
        let ns = rs.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if pods.len() < want {
            let diff = (want - pods.len()).min(BURST_REPLICAS);
            self.expectations.expect_creations(key, diff);
            let template = pod_from_template::<K>(rs);
            let (done, err) = slow_start_batch(diff, SLOW_START_INITIAL_BATCH, || {
                let (api, template) = (api.clone(), template.clone());
                async move {
                    match api.create(&PostParams::default(), &template).await {
                        Ok(p) => {
                            self.recorder.normal(obj, "SuccessfulCreate", format!("Created pod: {}", p.name_any()));
                            Ok(())
                        }
                        Err(e) if util::namespace_terminating(&e) => Ok(()),
                        Err(e) => {
                            self.recorder.warning(
                                obj,
                                "FailedCreate",
                                format!("Error creating: {}", util::api_message(&e)),
                            );
                            Err(e)
                        }
                    }
                }
            })
            .await;
            for _ in done..diff {
                self.expectations.creation_observed(key);
            }
            return err.map_or(Ok(()), |e| Err(e.into()));
        }
        if pods.len() > want {
            let diff = (pods.len() - want).min(BURST_REPLICAS);
            let related = self.related_pods(rs);
            let victims = pods_to_delete(pods, &related, diff, util::now());
            self.expectations.expect_deletions(key, victims.iter().map(|p| util::meta_key(&p.metadata)).collect());
            let results = join_all(victims.iter().map(|p| {
                let api = api.clone();
                async move {
                    match api.delete(&p.name_any(), &DeleteParams::default()).await {
                        Ok(_) => {
                            self.recorder.normal(obj, "SuccessfulDelete", format!("Deleted pod: {}", p.name_any()));
                            Ok(())
                        }
                        Err(e) => {
                            self.expectations.deletion_observed(key, &util::meta_key(&p.metadata));
                            if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                                return Ok(());
                            }
                            self.recorder.warning(
                                obj,
                                "FailedDelete",
                                format!("Error deleting: {}", util::api_message(&e)),
                            );
                            Err(e)
                        }
                    }
                }
            }))
            .await;
            if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Pods of every ReplicaSet with the same controlling owner (e.g. one Deployment's), which
    /// rank the candidates by how many pods share their node.
    fn related_pods(&self, rs: &ReplicaSet) -> Vec<Arc<Pod>> {
        let ns = rs.namespace().unwrap_or_default();
        let owner = util::controller_ref(&rs.metadata).map(|r| r.uid.clone());
        let uids: Vec<String> = match owner {
            None => vec![rs.metadata.uid.clone().unwrap_or_default()],
            Some(owner) => self
                .sets
                .list_namespace(&ns)
                .into_iter()
                .filter(|s| util::controller_ref(s.meta()).map(|r| &r.uid) == Some(&owner))
                .filter_map(|s| s.meta().uid.clone())
                .collect(),
        };
        uids.iter().flat_map(|u| self.pods.by_index(util::BY_CONTROLLER, u)).filter(|p| util::pod_active(p)).collect()
    }

    async fn update_status(&self, obj: &K, status: ReplicaSetStatus) -> Result<K, Error> {
        let generation = obj.meta().generation;
        let cur = obj.as_replica_set().status.clone().unwrap_or_default();
        if same_status(&cur, &status) && cur.observed_generation == generation {
            return Ok(obj.clone());
        }
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        let mut target = obj.clone();
        for attempt in 0..2 {
            let mut st = status.clone();
            st.observed_generation = target.meta().generation;
            target = target.with_status(st);
            match api.replace_status(&target.name_any(), &PostParams::default(), &target).await {
                Ok(updated) => return Ok(updated),
                Err(e) if attempt == 1 => return Err(e.into()),
                Err(_) => match api.get_opt(&target.name_any()).await? {
                    Some(fresh) => target = fresh,
                    None => return Ok(obj.clone()),
                },
            }
        }
        Ok(obj.clone())
    }
}

fn same_status(a: &ReplicaSetStatus, b: &ReplicaSetStatus) -> bool {
    a.replicas == b.replicas
        && a.fully_labeled_replicas == b.fully_labeled_replicas
        && a.ready_replicas == b.ready_replicas
        && a.available_replicas == b.available_replicas
        && a.conditions == b.conditions
}

/// The pod an owner's template describes, owned by it, named `<owner>-<random>`.
fn pod_from_template<K: Replicated>(rs: &ReplicaSet) -> Pod {
    let template = rs.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default().unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![util::new_controller_ref(K::API_VERSION, K::KIND, &rs.metadata)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn calculate_status(rs: &ReplicaSet, pods: &[Arc<Pod>], manage_err: Option<&Error>) -> ReplicaSetStatus {
    let mut st = rs.status.clone().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let template_labels =
        spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let now = util::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let (mut fully, mut ready, mut available) = (0, 0, 0);
    for p in pods {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        if template_labels.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            fully += 1;
        }
        if util::pod_ready(p) {
            ready += 1;
            if util::pod_available(p, min_ready, now) {
                available += 1;
            }
        }
    }
    let mut conditions = st.conditions.take().unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match manage_err {
        Some(e) if !has_failure => {
            let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
            let reason = if pods.len() < want { "FailedCreate" } else { "FailedDelete" };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(match e {
                    Error::Kube(k) => util::api_message(k),
                    other => other.to_string(),
                }),
                last_transition_time: Some(util::time_now()),
            });
        }
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    let count = |n: usize| Some(i32::try_from(n).unwrap_or(i32::MAX));
    st.replicas = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    st.fully_labeled_replicas = count(fully);
    st.ready_replicas = count(ready);
    st.available_replicas = count(available);
    st.conditions = (!conditions.is_empty()).then_some(conditions);
    st
}

/// upstream's `slowStartBatch`: batches of 1, 2, 4, ... run concurrently, stopping after the
/// first batch with a failure. Returns the successes and the first error.
pub async fn slow_start_batch<F, Fut, E>(count: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial);
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if first_err.is_some() {
            return (successes, first_err);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

fn phase_ordinal(p: &Pod) -> u8 {
    match util::pod_phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.annotations().get("controller.kubernetes.io/pod-deletion-cost").and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn max_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// `logarithmicRankDiff`: compares how long ago two moments were on a log2 scale.
fn log_rank(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.as_nanosecond() - t.as_nanosecond();
    if d <= 0 {
        -1
    } else {
        // d > 0 fits f64 well enough for a log2 bucket.
        (d as f64).log2() as i64
    }
}

/// upstream's `ActivePodsWithRanks.Less` with LogarithmicScaleDown (on since v1.22): true when
/// `a` should be deleted before `b`.
fn delete_first(a: &Pod, ra: usize, b: &Pod, rb: usize, now: Timestamp) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let (na, nb) = (
        a.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
        b.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
    );
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() { Less } else { Greater };
    }
    let (pa, pb) = (phase_ordinal(a), phase_ordinal(b));
    if pa != pb {
        return pa.cmp(&pb);
    }
    let (ya, yb) = (util::pod_ready(a), util::pod_ready(b));
    if ya != yb {
        return if !ya { Less } else { Greater };
    }
    let (ca, cb) = (deletion_cost(a), deletion_cost(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    if ra != rb {
        return rb.cmp(&ra);
    }
    // Unset first, then on a log2 scale of age (newer first), ties by UID.
    let by_age = |ta: Option<Timestamp>, tb: Option<Timestamp>| match (ta, tb) {
        (None, _) => Less,
        (_, None) => Greater,
        (Some(ta), Some(tb)) => match log_rank(ta, now).cmp(&log_rank(tb, now)) {
            Equal => a.metadata.uid.cmp(&b.metadata.uid),
            o => o,
        },
    };
    if ya && yb {
        let (ta, tb) = (util::pod_ready_time(a), util::pod_ready_time(b));
        if ta != tb {
            return by_age(ta, tb);
        }
    }
    let (ma, mb) = (max_restarts(a), max_restarts(b));
    if ma != mb {
        return mb.cmp(&ma);
    }
    let (ta, tb) =
        (a.metadata.creation_timestamp.as_ref().map(|t| t.0), b.metadata.creation_timestamp.as_ref().map(|t| t.0));
    if ta != tb {
        return by_age(ta, tb);
    }
    Equal
}

/// upstream's `getPodsToDelete`: the `diff` pods to delete first, ranked.
fn pods_to_delete(pods: &[Arc<Pod>], related: &[Arc<Pod>], diff: usize, now: Timestamp) -> Vec<Arc<Pod>> {
    let mut ranked: Vec<(Arc<Pod>, usize)> = if diff < pods.len() {
        let mut on_node: HashMap<String, usize> = HashMap::new();
        for p in related {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                *on_node.entry(n).or_default() += 1;
            }
        }
        pods.iter()
            .map(|p| {
                let n = p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
                (p.clone(), on_node.get(&n).copied().unwrap_or(0))
            })
            .collect()
    } else {
        pods.iter().map(|p| (p.clone(), 0)).collect()
    };
    if diff < pods.len() {
        ranked.sort_by(|(a, ra), (b, rb)| delete_first(a, *ra, b, *rb, now));
    }
    ranked.into_iter().take(diff).map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready_secs_ago: Option<i64>,
        created_secs_ago: i64,
        now: Timestamp,
    ) -> Arc<Pod> {
        let at = |s: i64| Time(Timestamp::from_second(now.as_second() - s).unwrap());
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(name.into()),
                creation_timestamp: Some(at(created_secs_ago)),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: (!node.is_empty()).then(|| node.into()), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_secs_ago.map(|s| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(at(s)),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn deletion_prefers_unscheduled_then_pending_then_unready_then_doubled_up_then_newer() {
        let now = Timestamp::now();
        let pods = vec![
            pod("ready-old", "n1", "Running", Some(10_000), 10_000, now),
            pod("unscheduled", "", "Pending", None, 10, now),
            pod("pending", "n2", "Pending", None, 10, now),
            pod("running-unready", "n3", "Running", None, 10, now),
            pod("ready-new", "n4", "Running", Some(5), 5, now),
        ];
        let order: Vec<String> = pods_to_delete(&pods, &pods, 4, now).iter().map(|p| p.name_any()).collect();
        assert_eq!(order, vec!["unscheduled", "pending", "running-unready", "ready-new"]);
        // Two pods on one node go before a lone one.
        let pods = vec![
            pod("alone", "n1", "Running", Some(100), 100, now),
            pod("double-a", "n2", "Running", Some(100), 100, now),
            pod("double-b", "n2", "Running", Some(100), 100, now),
        ];
        let first = &pods_to_delete(&pods, &pods, 1, now)[0];
        assert!(first.name_any().starts_with("double"));
    }

    #[tokio::test]
    async fn slow_start_doubles_batches_and_stops_at_the_first_failing_batch() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n == 4 {
                    Err("boom")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        // Batches 1, 2, then 4 (calls 3..6) where call 4 fails: 3 + 3 successes.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 7);
        assert_eq!(ok, 6);
        assert_eq!(err, Some("boom"));
        let (ok, err) = slow_start_batch(10, 1, || async { Ok::<(), ()>(()) }).await;
        assert_eq!((ok, err), (10, None));
    }
}
