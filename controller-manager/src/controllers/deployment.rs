//! `deployment-controller` (upstream `pkg/controller/deployment`): a Deployment owns one
//! ReplicaSet per pod template (named `<deployment>-<pod-template-hash>`, the hash also a label
//! and selector term), rolls from the old ones to the new one by RollingUpdate (maxSurge and
//! maxUnavailable, 25%/25% by default) or Recreate, scales proportionally when resized during
//! a rollout, keeps `revisionHistoryLimit` old ReplicaSets, and reports replicas, the
//! Available and Progressing conditions (with `progressDeadlineSeconds`) and the revision
//! annotations `kubectl rollout` reads. `kubectl rollout undo` needs nothing more: it puts an
//! old template back and the matching ReplicaSet becomes the new one again.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const MAX_REV_HISTORY_CHARS: usize = 2000;

// Condition reasons, as upstream's deploymentutil.
const REASON_RS_UPDATED: &str = "ReplicaSetUpdated";
const REASON_FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
const REASON_NEW_RS_CREATED: &str = "NewReplicaSetCreated";
const REASON_FOUND_NEW_RS: &str = "FoundNewReplicaSet";
const REASON_NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const REASON_TIMED_OUT: &str = "ProgressDeadlineExceeded";
const REASON_PAUSED: &str = "DeploymentPaused";
const REASON_RESUMED: &str = "DeploymentResumed";
const REASON_MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
const REASON_MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

struct Dc {
    client: Client,
    deployments: Informer<Deployment>,
    sets: Informer<ReplicaSet>,
    pods: Informer<Pod>,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("deployment-controller").await?;
    let dc = Arc::new(Dc {
        recorder: ctx.recorder(&client, "deployment-controller"),
        client,
        deployments: ctx.informers.get::<Deployment>(),
        sets: ctx.informers.get::<ReplicaSet>(),
        pods: ctx.informers.get::<Pod>(),
        queue: WorkQueue::new("deployment"),
    });
    util::index_by_controller(&dc.sets);
    util::index_by_controller(&dc.pods);
    let d = dc.clone();
    dc.deployments.add_handler(move |c| match c {
        Change::Added(x) | Change::Updated { new: x, .. } | Change::Deleted(x) => {
            d.queue.add(util::meta_key(&x.metadata))
        }
    });
    let d = dc.clone();
    dc.sets.add_handler(move |c| match c {
        Change::Added(rs) => d.rs_changed(None, rs),
        Change::Updated { old, new } => d.rs_changed(Some(old), new),
        Change::Deleted(rs) => {
            if let Some(dep) = d.owner_of(rs) {
                d.queue.add(util::meta_key(&dep.metadata));
            }
        }
    });
    let d = dc.clone();
    dc.pods.add_handler(move |c| {
        // A Recreate rollout waits for the old pods to go.
        if let Change::Deleted(p) = c {
            let ns = p.namespace().unwrap_or_default();
            let rs = util::controller_ref(&p.metadata)
                .filter(|r| r.kind == "ReplicaSet")
                .and_then(|r| d.sets.get(&ns, &r.name).filter(|rs| rs.metadata.uid.as_deref() == Some(r.uid.as_str())));
            if let Some(dep) = rs.and_then(|rs| d.owner_of(&rs)) {
                if strategy_type(&dep) == "Recreate" {
                    d.queue.add(util::meta_key(&dep.metadata));
                }
            }
        }
    });
    let workers = ctx.opts.concurrent_deployment_syncs;
    tokio::spawn(async move {
        dc.deployments.wait_synced().await;
        dc.sets.wait_synced().await;
        dc.pods.wait_synced().await;
        let d = dc.clone();
        dc.queue.run_workers(workers, move |key: String| {
            let d = d.clone();
            async move { d.sync(&key).await }
        });
    });
    Ok(true)
}

fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    let st = rs.status.clone().unwrap_or_default();
    (st.replicas, st.ready_replicas.unwrap_or(0), st.available_replicas.unwrap_or(0))
}

fn strategy_type(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into())
}

fn is_rolling(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable), never both zero.
fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let desired = replicas(d);
    let surge = util::scaled(ru.and_then(|r| r.max_surge.as_ref()), desired, true);
    let mut unavailable = util::scaled(ru.and_then(|r| r.max_unavailable.as_ref()), desired, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).0
}

fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.annotations().get(REVISION).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn created(rs: &ReplicaSet) -> Option<Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    created(a).cmp(&created(b)).then_with(|| a.name_any().cmp(&b.name_any()))
}

fn active(rs: &&ReplicaSet) -> bool {
    rs_replicas(rs) > 0
}

/// `ComputeHash`: FNV-32a of the template (and the collision count), as a safe string.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    safe_encode(&h.to_string())
}

/// `rand.SafeEncodeString`: no vowels, no confusable characters.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// `EqualIgnoreHash`: the templates without their pod-template-hash labels.
fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(m) = t.metadata.as_mut() {
            if let Some(l) = m.labels.as_mut() {
                l.remove(HASH_LABEL);
                if l.is_empty() {
                    m.labels = None;
                }
            }
        }
        t
    };
    strip(a) == strip(b)
}

fn template(d: &Deployment) -> PodTemplateSpec {
    d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default()
}

fn condition<'a>(st: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    st.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(util::time_now()),
        last_transition_time: Some(util::time_now()),
    }
}

/// `SetDeploymentCondition`: same status and reason leave it as is; same status keeps the
/// transition time.
fn set_condition(st: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(st, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let mut conds: Vec<_> =
        st.conditions.take().unwrap_or_default().into_iter().filter(|x| x.type_ != c.type_).collect();
    conds.push(c);
    st.conditions = Some(conds);
}

fn remove_condition(st: &mut DeploymentStatus, type_: &str) {
    if let Some(c) = st.conditions.as_mut() {
        c.retain(|x| x.type_ != type_);
    }
}

fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).filter(|s| *s != i32::MAX)
}

fn complete(d: &Deployment, st: &DeploymentStatus) -> bool {
    let r = replicas(d);
    st.updated_replicas.unwrap_or(0) == r
        && st.replicas.unwrap_or(0) == r
        && st.available_replicas.unwrap_or(0) == r
        && st.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0);
    let new_old = new.replicas.unwrap_or(0) - new.updated_replicas.unwrap_or(0);
    new.updated_replicas.unwrap_or(0) > old.updated_replicas.unwrap_or(0)
        || new_old < old_old
        || new.ready_replicas.unwrap_or(0) > old.ready_replicas.unwrap_or(0)
        || new.available_replicas.unwrap_or(0) > old.available_replicas.unwrap_or(0)
}

fn timed_out(d: &Deployment, st: &DeploymentStatus) -> bool {
    let Some(deadline) = progress_deadline(d) else { return false };
    let Some(c) = condition(st, "Progressing") else { return false };
    match c.reason.as_deref() {
        Some(REASON_NEW_RS_AVAILABLE) => false,
        Some(REASON_TIMED_OUT) => true,
        _ => {
            c.last_update_time.as_ref().is_some_and(|t| t.0.as_second() + i64::from(deadline) < util::now().as_second())
        }
    }
}

fn desired_annotation(rs: &ReplicaSet) -> Option<i32> {
    rs.annotations().get(DESIRED_REPLICAS).and_then(|v| v.parse().ok())
}

/// `SetReplicasAnnotations`; true when something changed.
fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.annotations_mut();
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired.to_string()), (MAX_REPLICAS, max.to_string())] {
        if a.get(k) != Some(&v) {
            a.insert(k.to_string(), v);
            changed = true;
        }
    }
    changed
}

fn skip_copy(k: &str) -> bool {
    [LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO].contains(&k)
}

/// `SetNewReplicaSetAnnotations`.
fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
    let mut changed = false;
    for (k, v) in d.annotations() {
        if skip_copy(k) || rs.annotations().get(k) == Some(v) {
            continue;
        }
        rs.annotations_mut().insert(k.clone(), v.clone());
        changed = true;
    }
    let old = rs.annotations().get(REVISION).cloned();
    let old_int = match old.as_deref() {
        None | Some("") => 0,
        Some(s) => match s.parse::<i64>() {
            Ok(i) => i,
            Err(_) => return false,
        },
    };
    if old_int < new_revision {
        rs.annotations_mut().insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = rs.annotations().get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                rs.annotations_mut().insert(REVISION_HISTORY.into(), old);
            } else {
                let mut parts: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_CHARS && start < parts.len() {
                    total -= parts[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_CHARS {
                    parts = parts[start..].to_vec();
                    parts.push(&old);
                    let joined = parts.join(",");
                    rs.annotations_mut().insert(REVISION_HISTORY.into(), joined);
                }
            }
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// `NewRSNewReplicas`.
fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    if !is_rolling(d) {
        return replicas(d);
    }
    let current: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let max_total = replicas(d) + max_surge(d);
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let up = (max_total - current).min(replicas(d) - rs_replicas(new_rs));
    rs_replicas(new_rs) + up
}

impl Dc {
    fn owner_of(&self, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
        let r = util::controller_ref(&rs.metadata)?;
        if r.kind != "Deployment" {
            return None;
        }
        let d = self.deployments.get(&rs.namespace().unwrap_or_default(), &r.name)?;
        (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(d)
    }

    fn rs_changed(&self, old: Option<&Arc<ReplicaSet>>, rs: &Arc<ReplicaSet>) {
        if let Some(o) = old {
            if o.resource_version() == rs.resource_version() {
                return;
            }
            let (or, nr) = (util::controller_ref(&o.metadata), util::controller_ref(&rs.metadata));
            if or != nr {
                if let Some(d) = self.owner_of(o) {
                    self.queue.add(util::meta_key(&d.metadata));
                }
            }
        }
        if rs.metadata.deletion_timestamp.is_some() && old.is_none() {
            if let Some(d) = self.owner_of(rs) {
                self.queue.add(util::meta_key(&d.metadata));
            }
            return;
        }
        if util::controller_ref(&rs.metadata).is_some() {
            if let Some(d) = self.owner_of(rs) {
                self.queue.add(util::meta_key(&d.metadata));
            }
            return;
        }
        // An orphan: every Deployment whose selector matches may adopt it.
        let labels_changed =
            old.is_none_or(|o| o.metadata.labels != rs.metadata.labels || util::controller_ref(&o.metadata).is_some());
        if labels_changed {
            for d in self.deployments.list_namespace(&rs.namespace().unwrap_or_default()) {
                let sel = d.spec.as_ref().map(|s| &s.selector);
                if !util::selector_is_empty(sel) && util::selector_matches(sel, rs.metadata.labels.as_ref()) == Ok(true)
                {
                    self.queue.add(util::meta_key(&d.metadata));
                }
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(d) = self.deployments.get(ns, name) else { return Ok(()) };
        let mut d = (*d).clone();
        let sel = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        if util::selector_is_empty(Some(&sel)) {
            self.recorder.warning(
                &d,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            );
            let st = d.status.get_or_insert_with(Default::default);
            if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
                st.observed_generation = d.metadata.generation;
                self.update_status(&d).await?;
            }
            return Ok(());
        }
        let rs_list = self.claim_replica_sets(&d).await?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, &rs_list).await;
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event(&d, &rs_list) {
            return self.sync_scale(&mut d, &rs_list).await;
        }
        if strategy_type(&d) == "Recreate" {
            self.rollout_recreate(&mut d, &rs_list).await
        } else {
            self.rollout_rolling(&mut d, &rs_list).await
        }
    }

    /// ReplicaSets this Deployment controls, after adopting matching orphans and releasing
    /// owned ones that stopped matching.
    async fn claim_replica_sets(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, Error> {
        let ns = d.namespace().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let sel = d.spec.as_ref().map(|s| &s.selector);
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        let mut out = Vec::new();
        let mut can_adopt: Option<bool> = None;
        for rs in util::claimable(&self.sets, &uid, &ns) {
            let matches = util::selector_matches(sel, rs.metadata.labels.as_ref()) == Ok(true);
            match util::controller_ref(&rs.metadata) {
                Some(r) if r.uid == uid => {
                    if matches || d.metadata.deletion_timestamp.is_some() {
                        out.push((*rs).clone());
                        continue;
                    }
                    let patch = serde_json::json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}], "uid": rs.metadata.uid}});
                    match api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || d.metadata.deletion_timestamp.is_some() || rs.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    if can_adopt.is_none() {
                        let fresh =
                            Api::<Deployment>::namespaced(self.client.clone(), &ns).get_opt(&d.name_any()).await?;
                        can_adopt = Some(fresh.is_some_and(|f| {
                            f.metadata.uid.as_deref() == Some(uid.as_str()) && f.metadata.deletion_timestamp.is_none()
                        }));
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    let owner = util::new_controller_ref("apps/v1", "Deployment", &d.metadata);
                    let patch = serde_json::json!({"metadata": {"ownerReferences": [owner], "uid": rs.metadata.uid}});
                    match api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                        Ok(adopted) => out.push(adopted),
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(out)
    }

    async fn update_status(&self, d: &Deployment) -> Result<Deployment, Error> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        Ok(api.replace_status(&d.name_any(), &PostParams::default(), d).await?)
    }

    async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), Error> {
        if progress_deadline(d).is_none() {
            return Ok(());
        }
        let st = d.status.clone().unwrap_or_default();
        let cond = condition(&st, "Progressing");
        if cond.is_some_and(|c| c.reason.as_deref() == Some(REASON_TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(REASON_PAUSED));
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let c = if paused && !paused_cond {
            new_condition("Progressing", "Unknown", REASON_PAUSED, "Deployment is paused".into())
        } else if !paused && paused_cond {
            new_condition("Progressing", "Unknown", REASON_RESUMED, "Deployment is resumed".into())
        } else {
            return Ok(());
        };
        set_condition(d.status.get_or_insert_with(Default::default), c);
        *d = self.update_status(d).await?;
        Ok(())
    }

    fn is_scaling_event(&self, d: &Deployment, rs_list: &[ReplicaSet]) -> bool {
        rs_list.iter().filter(|rs| rs_replicas(rs) > 0).filter_map(desired_annotation).any(|want| want != replicas(d))
    }

    /// `getAllReplicaSetsAndSyncRevision`: (new, old) ReplicaSets, creating the new one when
    /// asked and it does not exist.
    async fn new_and_old(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let mut sorted: Vec<&ReplicaSet> = rs_list.iter().collect();
        sorted.sort_by(|a, b| by_creation(a, b));
        let tpl = template(d);
        let existing = sorted
            .iter()
            .find(|rs| rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, &tpl)))
            .map(|rs| (*rs).clone());
        let olds: Vec<ReplicaSet> = rs_list
            .iter()
            .filter(|rs| existing.as_ref().is_none_or(|e| e.metadata.uid != rs.metadata.uid))
            .cloned()
            .collect();
        let max_old_revision = olds.iter().map(revision_of).max().unwrap_or(0);
        let new_revision = max_old_revision + 1;
        let ns = d.namespace().unwrap_or_default();
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
        if let Some(mut rs) = existing {
            let annotations_changed = set_new_rs_annotations(d, &mut rs, new_revision, true);
            let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_changed = rs.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
            if annotations_changed || min_ready_changed {
                if let Some(s) = rs.spec.as_mut() {
                    s.min_ready_seconds = min_ready;
                }
                let updated = rs_api.replace(&rs.name_any(), &PostParams::default(), &rs).await?;
                return Ok((Some(updated), olds));
            }
            let rev = rs.annotations().get(REVISION).cloned().unwrap_or_default();
            let first_seen = condition(d.status.as_ref().unwrap_or(&Default::default()), "Progressing").is_none();
            let note = first_seen.then(|| (REASON_FOUND_NEW_RS, format!("Found new replica set {:?}", rs.name_any())));
            self.record_revision(d, &rev, note).await?;
            return Ok((Some(rs), olds));
        }
        if !create {
            return Ok((None, olds));
        }
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&tpl, collision);
        let mut new_tpl = tpl.clone();
        let meta = new_tpl.metadata.get_or_insert_with(Default::default);
        meta.labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector: LabelSelector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        selector.match_labels.get_or_insert_with(BTreeMap::new).insert(HASH_LABEL.into(), hash.clone());
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", d.name_any())),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![util::new_controller_ref("apps/v1", "Deployment", &d.metadata)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(new_tpl),
            }),
            status: None,
        };
        let mut all: Vec<&ReplicaSet> = olds.iter().collect();
        all.push(&new_rs);
        let count = new_rs_new_replicas(d, &all, &new_rs);
        if let Some(s) = new_rs.spec.as_mut() {
            s.replicas = Some(count);
        }
        set_new_rs_annotations(d, &mut new_rs, new_revision, false);
        let (created, already) = match rs_api.create(&PostParams::default(), &new_rs).await {
            Ok(rs) => (rs, false),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // The informer may not show a ReplicaSet created a moment ago: read it.
                let name = new_rs.name_any();
                let current = rs_api.get_opt(&name).await?;
                if current.is_none() {
                    return Err(kube::Error::Api(s).into());
                }
                let ours = current.as_ref().is_some_and(|rs| {
                    util::controller_ref(&rs.metadata).map(|r| r.uid.as_str()) == d.metadata.uid.as_deref()
                        && rs
                            .spec
                            .as_ref()
                            .and_then(|s| s.template.as_ref())
                            .is_some_and(|t| equal_ignore_hash(t, &tpl))
                });
                match current.filter(|_| ours) {
                    Some(rs) => (rs, true),
                    None => {
                        // A hash collision: bump collisionCount and try another name.
                        let st = d.status.get_or_insert_with(Default::default);
                        st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
                        let _ = self.update_status(d).await;
                        return Err(kube::Error::Api(s).into());
                    }
                }
            }
            Err(e) => {
                let msg =
                    format!("Failed to create new replica set {:?}: {}", new_rs.name_any(), util::api_message(&e));
                if progress_deadline(d).is_some() {
                    set_condition(
                        d.status.get_or_insert_with(Default::default),
                        new_condition("Progressing", "False", REASON_FAILED_RS_CREATE, msg.clone()),
                    );
                    let _ = self.update_status(d).await;
                }
                self.recorder.warning(d, REASON_FAILED_RS_CREATE, msg);
                return Err(e.into());
            }
        };
        if !already && count > 0 {
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                format!("Scaled up replica set {} from 0 to {count}", created.name_any()),
            );
        }
        let note =
            (!already).then(|| (REASON_NEW_RS_CREATED, format!("Created new replica set {:?}", created.name_any())));
        self.record_revision(d, &new_revision.to_string(), note).await?;
        Ok((Some(created), olds))
    }

    /// `SetDeploymentRevision`, plus a Progressing condition (when the Deployment has a
    /// progress deadline); writes the Deployment only if something changed.
    async fn record_revision(
        &self,
        d: &mut Deployment,
        rev: &str,
        progress: Option<(&str, String)>,
    ) -> Result<(), Error> {
        let mut needs_update = d.annotations().get(REVISION).map(String::as_str) != Some(rev);
        if needs_update {
            d.annotations_mut().insert(REVISION.into(), rev.to_string());
        }
        if let Some((reason, message)) = progress.filter(|_| progress_deadline(d).is_some()) {
            set_condition(
                d.status.get_or_insert_with(Default::default),
                new_condition("Progressing", "True", reason, message),
            );
            needs_update = true;
        }
        if needs_update {
            *d = self.update_status(d).await?;
        }
        Ok(())
    }

    /// `scaleReplicaSet`: sets the size and the replica annotations; true when resized.
    async fn scale_rs(
        &self,
        rs: &ReplicaSet,
        new_scale: i32,
        d: &Deployment,
        op: &str,
    ) -> Result<(bool, ReplicaSet), Error> {
        let size_changed = rs_replicas(rs) != new_scale;
        let mut copy = rs.clone();
        let annotations_changed = set_replicas_annotations(&mut copy, replicas(d), replicas(d) + max_surge(d));
        if !size_changed && !annotations_changed {
            return Ok((false, rs.clone()));
        }
        let old = rs_replicas(rs);
        if let Some(s) = copy.spec.as_mut() {
            s.replicas = Some(new_scale);
        }
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &rs.namespace().unwrap_or_default());
        let updated = api.replace(&rs.name_any(), &PostParams::default(), &copy).await?;
        if size_changed {
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                format!("Scaled {op} replica set {} from {old} to {new_scale}", updated.name_any()),
            );
        }
        Ok((size_changed, updated))
    }

    async fn scale_and_record(
        &self,
        rs: &ReplicaSet,
        new_scale: i32,
        d: &Deployment,
    ) -> Result<(bool, ReplicaSet), Error> {
        if rs_replicas(rs) == new_scale {
            return Ok((false, rs.clone()));
        }
        let op = if rs_replicas(rs) < new_scale { "up" } else { "down" };
        self.scale_rs(rs, new_scale, d, op).await
    }

    async fn rollout_rolling(&self, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, rs_list, true).await?;
        let Some(new_rs) = new_rs else { return Ok(()) };
        // Scale up, if we can.
        let all: Vec<&ReplicaSet> = olds.iter().chain(std::iter::once(&new_rs)).collect();
        let target =
            if rs_replicas(&new_rs) > replicas(d) { replicas(d) } else { new_rs_new_replicas(d, &all, &new_rs) };
        if rs_replicas(&new_rs) != replicas(d) {
            let (scaled, updated) = self.scale_and_record(&new_rs, target, d).await?;
            if scaled {
                let mut all = olds.clone();
                all.push(updated.clone());
                return self.sync_rollout_status(d, &all, Some(&updated)).await;
            }
        }
        // Scale down, if we can.
        let (scaled_down, olds) = self.reconcile_old(d, olds, &new_rs).await?;
        let mut all = olds.clone();
        all.push(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(d, &all, Some(&new_rs)).await;
        }
        if complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(d, &olds).await?;
        }
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    /// `reconcileOldReplicaSets`: unhealthy old replicas first, then old ones down to
    /// `replicas - maxUnavailable` available pods.
    async fn reconcile_old(
        &self,
        d: &Deployment,
        mut olds: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
    ) -> Result<(bool, Vec<ReplicaSet>), Error> {
        let old_count: i32 = olds.iter().map(rs_replicas).sum();
        if old_count == 0 {
            return Ok((false, olds));
        }
        let all_count = old_count + rs_replicas(new_rs);
        let min_available = replicas(d) - max_unavailable(d);
        let new_unavailable = rs_replicas(new_rs) - rs_status(new_rs).2;
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok((false, olds));
        }
        // Clean up unhealthy replicas first: they would block the rollout.
        olds.sort_by(by_creation);
        let mut cleaned = 0;
        for rs in olds.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let (spec, available) = (rs_replicas(rs), rs_status(rs).2);
            if spec == 0 || spec == available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(spec - available);
            let (_, updated) = self.scale_and_record(rs, spec - down, d).await?;
            cleaned += down;
            *rs = updated;
        }
        // Then scale down old replica sets while availability allows.
        let available: i32 = olds.iter().chain(std::iter::once(new_rs)).map(|rs| rs_status(rs).2).sum();
        let mut scaled_down = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in olds.iter_mut() {
                if scaled_down >= total {
                    break;
                }
                if rs_replicas(rs) == 0 {
                    continue;
                }
                let down = rs_replicas(rs).min(total - scaled_down);
                let (_, updated) = self.scale_and_record(rs, rs_replicas(rs) - down, d).await?;
                scaled_down += down;
                *rs = updated;
            }
        }
        Ok((cleaned + scaled_down > 0, olds))
    }

    async fn rollout_recreate(&self, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (mut new_rs, mut olds) = self.new_and_old(d, rs_list, false).await?;
        // Scale down old replica sets first.
        let mut scaled = false;
        for rs in olds.iter_mut() {
            if rs_replicas(rs) == 0 {
                continue;
            }
            let (s, updated) = self.scale_and_record(rs, 0, d).await?;
            scaled |= s;
            *rs = updated;
        }
        let all = |olds: &Vec<ReplicaSet>, new_rs: &Option<ReplicaSet>| {
            let mut v = olds.clone();
            v.extend(new_rs.clone());
            v
        };
        if scaled {
            return self.sync_rollout_status(d, &all(&olds, &new_rs), new_rs.as_ref()).await;
        }
        // Wait while any old pod still runs.
        if self.old_pods_running(&olds) {
            return self.sync_rollout_status(d, &all(&olds, &new_rs), new_rs.as_ref()).await;
        }
        if new_rs.is_none() {
            let (n, o) = self.new_and_old(d, rs_list, true).await?;
            new_rs = n;
            olds = o;
        }
        if let Some(rs) = new_rs.clone() {
            if rs_replicas(&rs) != replicas(d) {
                let (_, updated) = self.scale_and_record(&rs, replicas(d), d).await?;
                new_rs = Some(updated);
            }
        }
        if complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(d, &olds).await?;
        }
        self.sync_rollout_status(d, &all(&olds, &new_rs), new_rs.as_ref()).await
    }

    fn old_pods_running(&self, olds: &[ReplicaSet]) -> bool {
        if olds.iter().map(|rs| rs_status(rs).0).sum::<i32>() > 0 {
            return true;
        }
        olds.iter()
            .filter_map(|rs| rs.metadata.uid.as_deref())
            .flat_map(|uid| self.pods.by_index(util::BY_CONTROLLER, uid))
            .any(|p| !matches!(util::pod_phase(&p), "Failed" | "Succeeded"))
    }

    /// `sync`: a scaling event or a paused Deployment — resize, no rollout.
    async fn sync_scale(&self, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, rs_list, false).await?;
        self.scale(d, new_rs.as_ref(), &olds).await?;
        // Re-read what we wrote: the informer may not have it yet, so use the claimed list
        // refreshed from the API only for status.
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused && !d.annotations().contains_key(ROLLBACK_TO) {
            self.cleanup(d, &olds).await?;
        }
        let mut all = olds.clone();
        all.extend(new_rs.clone());
        let st = calculate_status(d, &all, new_rs.as_ref());
        if d.status.as_ref() != Some(&st) {
            d.status = Some(st);
            self.update_status(d).await?;
        }
        Ok(())
    }

    /// Proportional scaling (`scale`).
    async fn scale(&self, d: &Deployment, new_rs: Option<&ReplicaSet>, olds: &[ReplicaSet]) -> Result<(), Error> {
        let mut olds_sorted: Vec<&ReplicaSet> = olds.iter().collect();
        olds_sorted.sort_by(|a, b| by_creation(b, a));
        let actives: Vec<&ReplicaSet> = olds_sorted.iter().copied().chain(new_rs).filter(active).collect();
        let target = match actives.len() {
            0 => new_rs.or(olds_sorted.first().copied()),
            1 => Some(actives[0]),
            _ => None,
        };
        if let Some(rs) = target {
            if rs_replicas(rs) != replicas(d) {
                self.scale_and_record(rs, replicas(d), d).await?;
            }
            return Ok(());
        }
        // The new replica set is saturated: old ones go to zero.
        if let Some(n) = new_rs {
            if rs_replicas(n) == replicas(d)
                && desired_annotation(n) == Some(replicas(d))
                && rs_status(n).2 == replicas(d)
            {
                for rs in olds.iter().filter(active) {
                    self.scale_and_record(rs, 0, d).await?;
                }
                return Ok(());
            }
        }
        if !is_rolling(d) {
            return Ok(());
        }
        let mut all: Vec<&ReplicaSet> = olds.iter().chain(new_rs).filter(active).collect();
        let all_replicas: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
        let allowed = if replicas(d) > 0 { replicas(d) + max_surge(d) } else { 0 };
        let to_add = allowed - all_replicas;
        let op = match to_add.cmp(&0) {
            Ordering::Greater => {
                all.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation(b, a)));
                "up"
            }
            Ordering::Less => {
                all.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation(a, b)));
                "down"
            }
            Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (i, rs) in all.iter().enumerate() {
            if i == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(rs, sizes[i], d, op).await?;
        }
        Ok(())
    }

    async fn sync_status_only(&self, d: &mut Deployment, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, rs_list, false).await?;
        let mut all = olds.clone();
        all.extend(new_rs.clone());
        let st = calculate_status(d, &all, new_rs.as_ref());
        if d.status.as_ref() != Some(&st) {
            d.status = Some(st);
            self.update_status(d).await?;
        }
        Ok(())
    }

    /// Deletes the oldest fully scaled-down ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, d: &Deployment, olds: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return Ok(()) };
        let mut cleanable: Vec<&ReplicaSet> =
            olds.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        let diff = i32::try_from(cleanable.len()).unwrap_or(i32::MAX) - limit;
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| revision_of(a).cmp(&revision_of(b)).then_with(|| by_creation(a, b)));
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        for rs in cleanable.into_iter().take(usize::try_from(diff).unwrap_or(0)) {
            let st = rs.status.clone().unwrap_or_default();
            if st.replicas != 0 || rs_replicas(rs) != 0 || rs.metadata.generation > st.observed_generation {
                continue;
            }
            match api.delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<(), Error> {
        let mut st = calculate_status(d, all, new_rs);
        if progress_deadline(d).is_none() {
            remove_condition(&mut st, "Progressing");
        }
        let old = d.status.clone().unwrap_or_default();
        let current = condition(&old, "Progressing").cloned();
        let is_complete = st.replicas == st.updated_replicas
            && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(REASON_NEW_RS_AVAILABLE));
        if progress_deadline(d).is_some() && !is_complete {
            let named = |what: &str| match new_rs {
                Some(rs) => format!("ReplicaSet {:?} {what}", rs.name_any()),
                None => format!("Deployment {:?} {what}", d.name_any()),
            };
            if complete(d, &st) {
                set_condition(
                    &mut st,
                    new_condition(
                        "Progressing",
                        "True",
                        REASON_NEW_RS_AVAILABLE,
                        named("has successfully progressed."),
                    ),
                );
            } else if progressing(d, &st) {
                let mut c = new_condition("Progressing", "True", REASON_RS_UPDATED, named("is progressing."));
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut st, "Progressing");
                }
                set_condition(&mut st, c);
            } else if timed_out(d, &st) {
                set_condition(
                    &mut st,
                    new_condition("Progressing", "False", REASON_TIMED_OUT, named("has timed out progressing.")),
                );
            }
        }
        // The ReplicaSets' failure to create or delete pods, as the Deployment's.
        let failure = new_rs.into_iter().chain(all.iter()).find_map(|rs| {
            rs.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "ReplicaFailure").cloned()
        });
        match failure {
            Some(f) => set_condition(
                &mut st,
                DeploymentCondition {
                    type_: "ReplicaFailure".into(),
                    status: f.status,
                    reason: f.reason,
                    message: f.message,
                    last_update_time: f.last_transition_time.clone(),
                    last_transition_time: f.last_transition_time,
                },
            ),
            None => remove_condition(&mut st, "ReplicaFailure"),
        }
        if d.status.as_ref() == Some(&st) {
            self.requeue_stuck(d, &st);
            return Ok(());
        }
        d.status = Some(st);
        self.update_status(d).await?;
        Ok(())
    }

    /// Checks again when the progress deadline would pass.
    fn requeue_stuck(&self, d: &Deployment, st: &DeploymentStatus) {
        let Some(deadline) = progress_deadline(d) else { return };
        let Some(cur) = d.status.as_ref().and_then(|s| condition(s, "Progressing")) else { return };
        if complete(d, st) || cur.reason.as_deref() == Some(REASON_TIMED_OUT) {
            return;
        }
        let Some(updated) = cur.last_update_time.as_ref() else { return };
        let due = updated.0.as_second() + i64::from(deadline) - util::now().as_second();
        let key = util::meta_key(&d.metadata);
        if due < 1 {
            self.queue.add_rate_limited(key);
        } else {
            self.queue.add_after(key, Duration::from_secs(u64::try_from(due).unwrap_or(0) + 1));
        }
    }
}

/// `GetReplicaSetProportion`.
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `getReplicaSetFraction`.
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let max = replicas(d) + max_surge(d);
    let before = rs.annotations().get(MAX_REPLICAS).and_then(|v| v.parse::<i32>().ok()).filter(|v| *v != 0);
    let before = match before {
        Some(b) => b,
        None => {
            let r = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if r == 0 {
                return 0;
            }
            r
        }
    };
    let size = f64::from(rs_replicas(rs)) * f64::from(max) / f64::from(before);
    // Go's integer.RoundToInt32: round half away from zero.
    (size.round() as i32) - rs_replicas(rs)
}

/// `calculateStatus`.
fn calculate_status(d: &Deployment, all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> DeploymentStatus {
    let available: i32 = all.iter().map(|rs| rs_status(rs).2).sum();
    let total: i32 = all.iter().map(rs_replicas).sum();
    let unavailable = (total - available).max(0);
    let old = d.status.clone().unwrap_or_default();
    let mut st = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|rs| rs_status(rs).0).sum()),
        updated_replicas: Some(new_rs.map(|rs| rs_status(rs).0).unwrap_or(0)),
        ready_replicas: Some(all.iter().map(|rs| rs_status(rs).1).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some(unavailable),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    if available >= replicas(d) - max_unavailable(d) {
        set_condition(
            &mut st,
            new_condition("Available", "True", REASON_MIN_AVAILABLE, "Deployment has minimum availability.".into()),
        );
    } else {
        set_condition(
            &mut st,
            new_condition(
                "Available",
                "False",
                REASON_MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            ),
        );
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn dep(replicas: i32, surge: &str, unavail: &str) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::String(surge.into())),
                        max_unavailable: Some(IntOrString::String(unavail.into())),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        let d = dep(10, "25%", "25%");
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = dep(1, "25%", "25%");
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
        let d = dep(3, "0%", "0%");
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
    }

    #[test]
    fn hashes_are_stable_safe_and_change_with_the_template_and_collisions() {
        let mut t = PodTemplateSpec::default();
        let a = compute_hash(&t, None);
        assert_eq!(a, compute_hash(&t, None));
        assert!(a.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{a}");
        assert_ne!(a, compute_hash(&t, Some(1)));
        t.metadata =
            Some(ObjectMeta { labels: Some(BTreeMap::from([("app".into(), "x".into())])), ..Default::default() });
        assert_ne!(a, compute_hash(&t, None));
        let mut hashed = t.clone();
        hashed.metadata.as_mut().unwrap().labels.as_mut().unwrap().insert(HASH_LABEL.into(), "abc".into());
        assert!(equal_ignore_hash(&t, &hashed));
    }

    #[test]
    fn revision_history_keeps_the_old_revisions_of_a_reused_replica_set() {
        let d = dep(1, "25%", "25%");
        let mut rs = ReplicaSet::default();
        rs.annotations_mut().insert(REVISION.into(), "1".into());
        assert!(set_new_rs_annotations(&d, &mut rs, 3, true));
        assert_eq!(rs.annotations()[REVISION], "3");
        assert_eq!(rs.annotations()[REVISION_HISTORY], "1");
        assert!(set_new_rs_annotations(&d, &mut rs, 5, true));
        assert_eq!(rs.annotations()[REVISION_HISTORY], "1,3");
        assert!(!set_new_rs_annotations(&d, &mut rs, 4, true));
    }
}
