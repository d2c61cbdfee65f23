//! `statefulset-controller` (upstream `pkg/controller/statefulset`): pods with stable identities
//! `<set>-<ordinal>` (ordinals from `spec.ordinals.start`), hostname and subdomain (the
//! governing service), the `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`
//! labels, and one PersistentVolumeClaim `<claim>-<set>-<ordinal>` per volumeClaimTemplate,
//! created before the pod. OrderedReady creates one pod at a time once its predecessors are
//! Running and Ready (and available for minReadySeconds) and scales down from the highest
//! ordinal, one at a time; Parallel does both at once. Each template is a ControllerRevision;
//! RollingUpdate deletes the highest-ordinal pod not at the update revision (ordinals at or above
//! the partition only) once the others are healthy, OnDelete waits. Claims get owner references
//! by `persistentVolumeClaimRetentionPolicy` so that the garbage collector deletes them on scale
//! down or deletion. Status carries the replica counts and the current and update revisions.

use crate::claim;
use crate::context::Ctx;
use crate::history::{self, History};
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "StatefulSet";
const API_VERSION: &str = "apps/v1";
/// `StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// `PodIndexLabel` (the PodIndexLabel gate is GA).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// `ControllerRevisionHashLabelKey`: the revision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

struct Ssc {
    client: Client,
    sets: Informer<StatefulSet>,
    pods: Informer<Pod>,
    claims: Informer<PersistentVolumeClaim>,
    history: History,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("statefulset-controller").await?;
    let ssc = Arc::new(Ssc {
        recorder: ctx.recorder(&client, "statefulset-controller"),
        history: History::new(client.clone(), ctx.informers.get::<ControllerRevision>()),
        client,
        sets: ctx.informers.get::<StatefulSet>(),
        pods: ctx.informers.get::<Pod>(),
        claims: ctx.informers.get::<PersistentVolumeClaim>(),
        queue: WorkQueue::new("statefulset"),
    });
    util::index_by_controller(&ssc.pods);
    let s = ssc.clone();
    ssc.sets.add_handler(move |c| match c {
        Change::Added(x) | Change::Updated { new: x, .. } | Change::Deleted(x) => s.enqueue(x),
    });
    let s = ssc.clone();
    ssc.pods.add_handler(move |c| match c {
        Change::Added(p) => s.add_pod(p),
        Change::Updated { old, new } => s.update_pod(old, new),
        Change::Deleted(p) => s.delete_pod(p),
    });
    let workers = ctx.opts.concurrent_statefulset_syncs;
    tokio::spawn(async move {
        ssc.pods.wait_synced().await;
        ssc.sets.wait_synced().await;
        ssc.claims.wait_synced().await;
        ssc.history.revisions.wait_synced().await;
        let s = ssc.clone();
        ssc.queue.run_workers(workers, move |key: String| {
            let s = s.clone();
            async move { s.sync(&key).await }
        });
    });
    Ok(true)
}

fn spec(set: &StatefulSet) -> k8s_openapi::api::apps::v1::StatefulSetSpec {
    set.spec.clone().unwrap_or_default()
}

fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

fn min_ready(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

fn strategy_type(set: &StatefulSet) -> String {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into())
}

/// The partition of a RollingUpdate, if the strategy has a rollingUpdate block.
fn partition(set: &StatefulSet) -> Option<i32> {
    let ru = set.spec.as_ref()?.update_strategy.as_ref()?.rolling_update.as_ref()?;
    Some(ru.partition.unwrap_or(0))
}

/// `allowsBurst`: Parallel pod management.
fn allows_burst(set: &StatefulSet) -> bool {
    set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel")
}

/// `getStartOrdinal` (StatefulSetStartOrdinal is GA).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0)
}

pub fn end_ordinal(set: &StatefulSet) -> i32 {
    start_ordinal(set) + replicas(set) - 1
}

/// `getParentNameAndOrdinal`: `(.*)-([0-9]+)$`, the ordinal -1 when there is none.
pub fn parent_and_ordinal(name: &str) -> (String, i32) {
    let Some((parent, ord)) = name.rsplit_once('-') else { return (String::new(), -1) };
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return (String::new(), -1);
    }
    // The regexp needs at least one digit; the parse, an int32 (else -1 with the parent kept).
    (parent.to_string(), ord.parse::<i32>().unwrap_or(-1))
}

pub fn ordinal(pod: &Pod) -> i32 {
    parent_and_ordinal(&pod.name_any()).1
}

fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

fn claim_name(set: &StatefulSet, claim: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!("{}-{}-{ordinal}", claim.name_any(), set.name_any())
}

fn in_ordinal_range(pod: &Pod, set: &StatefulSet) -> bool {
    let o = ordinal(pod);
    o >= start_ordinal(set) && o <= end_ordinal(set)
}

fn is_member_of(set: &StatefulSet, pod: &Pod) -> bool {
    parent_and_ordinal(&pod.name_any()).0 == set.name_any()
}

fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let (parent, o) = parent_and_ordinal(&pod.name_any());
    o >= 0
        && parent == set.name_any()
        && pod.name_any() == pod_name(set, o)
        && pod.namespace() == set.namespace()
        && pod.labels().get(POD_NAME_LABEL) == Some(&pod.name_any())
}

fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let o = ordinal(pod);
    if o < 0 {
        return false;
    }
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.clone()).unwrap_or_default();
    spec(set).volume_claim_templates.unwrap_or_default().iter().all(|c| {
        volumes.iter().any(|v| {
            v.name == c.name_any()
                && v.persistent_volume_claim.as_ref().is_some_and(|p| p.claim_name == claim_name(set, c, o))
        })
    })
}

/// `getPersistentVolumeClaims`: the claims of the pod at `ordinal`, by template name, labelled
/// with the template's labels and the set's matchLabels.
fn pod_claims(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let s = spec(set);
    let match_labels = s.selector.match_labels.clone().unwrap_or_default();
    s.volume_claim_templates
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let template_name = t.name_any();
            let mut c = t.clone();
            c.metadata.name = Some(claim_name(set, &t, ordinal));
            c.metadata.namespace = set.namespace();
            let mut labels = c.metadata.labels.take().unwrap_or_default();
            labels.extend(match_labels.clone());
            c.metadata.labels = Some(labels);
            c.status = None;
            (template_name, c)
        })
        .collect()
}

/// `updateStorage`: a volume per claim template, then the pod's other volumes.
fn update_storage(set: &StatefulSet, pod: &mut Pod) {
    let claims = pod_claims(set, ordinal(pod));
    let pod_spec = pod.spec.get_or_insert_with(Default::default);
    let current = pod_spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(name, c)| Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: c.name_any(),
                read_only: Some(false),
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(current.into_iter().filter(|v| !claims.iter().any(|(n, _)| *n == v.name)));
    pod_spec.volumes = Some(volumes);
}

/// `updateIdentity`: name, namespace and the pod-name and pod-index labels.
fn update_identity(set: &StatefulSet, pod: &mut Pod) {
    let o = ordinal(pod);
    pod.metadata.name = Some(pod_name(set, o));
    pod.metadata.namespace = set.namespace();
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), pod_name(set, o));
    labels.insert(POD_INDEX_LABEL.into(), o.to_string());
}

/// `newStatefulSetPod`: the template's pod with its identity, hostname, subdomain and claims.
pub fn new_pod(set: &StatefulSet, ordinal: i32) -> Pod {
    let template = spec(set).template;
    let meta = template.metadata.unwrap_or_default();
    let mut pod = Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", set.name_any())),
            name: Some(pod_name(set, ordinal)),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![util::new_controller_ref(API_VERSION, KIND, &set.metadata)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    update_identity(set, &mut pod);
    let service = spec(set).service_name.unwrap_or_default();
    let ps = pod.spec.get_or_insert_with(Default::default);
    ps.hostname = Some(pod_name(set, ordinal));
    ps.subdomain = (!service.is_empty()).then_some(service);
    update_storage(set, &mut pod);
    pod
}

fn revision_of(pod: &Pod) -> String {
    pod.labels().get(REVISION_LABEL).cloned().unwrap_or_default()
}

/// `newVersionedStatefulSetPod`: ordinals below the partition (or, without one, below the
/// current replicas) are made at the current revision, the rest at the update revision.
fn new_versioned_pod(
    current_set: &StatefulSet,
    update_set: &StatefulSet,
    current_rev: &str,
    update_rev: &str,
    ordinal: i32,
) -> Pod {
    let start = start_ordinal(current_set);
    let current_replicas = current_set.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
    let use_current = match partition(current_set) {
        None => strategy_type(current_set) == "RollingUpdate" && ordinal < start + current_replicas,
        Some(p) => ordinal < start + p,
    };
    let (set, rev) = if use_current { (current_set, current_rev) } else { (update_set, update_rev) };
    let mut pod = new_pod(set, ordinal);
    pod.metadata.labels.get_or_insert_with(Default::default).insert(REVISION_LABEL.into(), rev.to_string());
    pod
}

fn is_created(p: &Pod) -> bool {
    !util::pod_phase(p).is_empty()
}

fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

fn running_and_ready(p: &Pod) -> bool {
    util::pod_phase(p) == "Running" && util::pod_ready(p)
}

fn running_and_available(p: &Pod, min_ready: i32) -> bool {
    util::pod_available(p, min_ready, util::now())
}

/// `isUnavailable`: not available, or terminating.
fn is_unavailable(p: &Pod, min_ready: i32) -> bool {
    !running_and_available(p, min_ready) || is_terminating(p)
}

/// `getPatch` and `newRevision`: the set's template as a revision carrying the set's
/// annotations.
fn new_revision(set: &StatefulSet, revision: i64, collision_count: i32) -> ControllerRevision {
    let template = spec(set).template;
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    let mut rev = history::new_revision(
        &set.metadata,
        API_VERSION,
        KIND,
        labels.as_ref(),
        history::template_patch(&template),
        revision,
        Some(collision_count),
    );
    let annotations = rev.metadata.annotations.get_or_insert_with(Default::default);
    annotations.extend(set.annotations().clone());
    rev
}

/// `ApplyRevision`: the set with the template a revision records.
fn apply_revision(set: &StatefulSet, rev: &ControllerRevision) -> StatefulSet {
    let mut clone = set.clone();
    if let (Some(t), Some(s)) = (history::template_of(rev), clone.spec.as_mut()) {
        s.template = t;
    }
    clone
}

/// `computeReplicaStatus` over the given pods.
fn count_status(st: &mut StatefulSetStatus, pods: &[Arc<Pod>], min_ready: i32, current: &str, update: &str) {
    let (mut n, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for p in pods {
        if is_created(p) {
            n += 1;
        }
        if running_and_ready(p) {
            ready += 1;
            if running_and_available(p, min_ready) {
                available += 1;
            }
        }
        if is_created(p) && !is_terminating(p) {
            let r = revision_of(p);
            if r == current {
                cur += 1;
            }
            if r == update {
                upd += 1;
            }
        }
    }
    st.replicas = n;
    st.ready_replicas = Some(ready);
    st.available_replicas = Some(available);
    st.current_replicas = Some(cur);
    st.updated_replicas = Some(upd);
}

/// `completeRollingUpdate`: once every pod is updated and ready, the update revision becomes
/// the current one.
fn complete_rolling_update(set: &StatefulSet, st: &mut StatefulSetStatus) {
    if strategy_type(set) == "RollingUpdate"
        && st.updated_replicas.unwrap_or(0) == st.replicas
        && st.ready_replicas.unwrap_or(0) == st.replicas
    {
        st.current_replicas = st.updated_replicas;
        st.current_revision = st.update_revision.clone();
    }
}

/// `inconsistentStatus`.
fn inconsistent(set: &StatefulSet, st: &StatefulSetStatus) -> bool {
    let cur = set.status.clone().unwrap_or_default();
    st.observed_generation.unwrap_or(0) > cur.observed_generation.unwrap_or(0)
        || st.replicas != cur.replicas
        || st.current_replicas.unwrap_or(0) != cur.current_replicas.unwrap_or(0)
        || st.ready_replicas.unwrap_or(0) != cur.ready_replicas.unwrap_or(0)
        || st.updated_replicas.unwrap_or(0) != cur.updated_replicas.unwrap_or(0)
        || st.current_revision != cur.current_revision
        || st.available_replicas.unwrap_or(0) != cur.available_replicas.unwrap_or(0)
        || st.update_revision != cur.update_revision
}

/// The non-live revisions `truncateHistory` deletes, oldest first (`sorted` is sorted).
fn revisions_to_truncate(
    sorted: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<Arc<ControllerRevision>> {
    let old: Vec<_> = sorted.iter().filter(|r| !live.contains(&r.name_any())).cloned().collect();
    let Ok(limit) = usize::try_from(limit) else { return Vec::new() };
    if old.len() <= limit {
        return Vec::new();
    }
    old[..old.len() - limit].to_vec()
}

/// The (whenDeleted, whenScaled) retention policy, Retain by default.
fn retention(set: &StatefulSet) -> (bool, bool) {
    let p = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    (delete(p.and_then(|p| p.when_deleted.as_ref())), delete(p.and_then(|p| p.when_scaled.as_ref())))
}

fn matches_ref(r: &OwnerReference, api_version: &str, kind: &str, name: &str) -> bool {
    r.api_version == api_version && r.kind == kind && r.name == name
}

fn refs(claim: &PersistentVolumeClaim) -> Vec<OwnerReference> {
    claim.metadata.owner_references.clone().unwrap_or_default()
}

fn has_owner_ref(claim: &PersistentVolumeClaim, uid: Option<&str>) -> bool {
    uid.is_some_and(|u| refs(claim).iter().any(|r| r.uid == u))
}

/// `hasUnexpectedController`: with a Delete policy, another controller of the claim (or a
/// reference to an earlier set or pod of the same name) means the policy is not applied.
fn has_unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if retention(set) == (false, false) {
        return false;
    }
    for r in refs(claim) {
        if matches_ref(&r, API_VERSION, KIND, &set.name_any()) {
            if Some(r.uid.as_str()) != set.metadata.uid.as_deref() {
                return true;
            }
            continue;
        }
        if matches_ref(&r, "v1", "Pod", &pod.name_any()) {
            if Some(r.uid.as_str()) != pod.metadata.uid.as_deref() {
                return true;
            }
            continue;
        }
        if r.controller == Some(true) {
            return true;
        }
    }
    false
}

/// `isClaimOwnerUpToDate`.
fn claim_owner_up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    let (set_uid, pod_uid) = (set.metadata.uid.as_deref(), pod.metadata.uid.as_deref());
    if has_unexpected_controller(claim, set, pod) {
        return !(has_owner_ref(claim, set_uid) || has_owner_ref(claim, pod_uid));
    }
    let scaled_down = !in_ordinal_range(pod, set);
    match retention(set) {
        (false, false) => !(has_owner_ref(claim, set_uid) || has_owner_ref(claim, pod_uid)),
        (true, false) => has_owner_ref(claim, set_uid) && !has_owner_ref(claim, pod_uid),
        (false, true) => !has_owner_ref(claim, set_uid) && scaled_down == has_owner_ref(claim, pod_uid),
        (true, true) => scaled_down != has_owner_ref(claim, set_uid) && scaled_down == has_owner_ref(claim, pod_uid),
    }
}

/// `updateClaimOwnerRefForSetAndPod`: our references scrubbed, then the ones the policy asks
/// for added as controller references.
fn update_claim_owner_refs(claim: &mut PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut rs: Vec<OwnerReference> = refs(claim)
        .into_iter()
        .filter(|r| {
            !matches_ref(r, API_VERSION, KIND, &set.name_any()) && !matches_ref(r, "v1", "Pod", &pod.name_any())
        })
        .collect();
    if !unexpected {
        let scaled_down = !in_ordinal_range(pod, set);
        let (when_deleted, when_scaled) = retention(set);
        let add_set = when_deleted && !(when_scaled && scaled_down);
        let add_pod = when_scaled && scaled_down;
        if add_set {
            rs.push(util::new_controller_ref(API_VERSION, KIND, &set.metadata));
        }
        if add_pod && pod.metadata.uid.is_some() {
            rs.push(util::new_controller_ref("v1", "Pod", &pod.metadata));
        }
    }
    claim.metadata.owner_references = (!rs.is_empty()).then_some(rs);
}

fn api_message(e: &Error) -> String {
    match e {
        Error::Kube(k) => util::api_message(k),
        other => other.to_string(),
    }
}

/// What processing a pod tells the loop: stop here (monotonic mode) or go on.
type Step = Result<bool, Error>;

impl Ssc {
    fn enqueue(&self, set: &StatefulSet) {
        self.queue.add(util::meta_key(&set.metadata));
    }

    fn resolve(&self, ns: &str, r: &OwnerReference) -> Option<Arc<StatefulSet>> {
        if r.kind != KIND {
            return None;
        }
        self.sets.get(ns, &r.name).filter(|s| s.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    fn matching(&self, pod: &Pod) -> Vec<Arc<StatefulSet>> {
        self.sets
            .list_namespace(&pod.namespace().unwrap_or_default())
            .into_iter()
            .filter(|s| {
                let sel = s.spec.as_ref().map(|x| &x.selector);
                !util::selector_is_empty(sel) && util::selector_matches(sel, pod.metadata.labels.as_ref()) == Ok(true)
            })
            .collect()
    }

    fn add_pod(&self, pod: &Arc<Pod>) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.delete_pod(pod);
        }
        if let Some(r) = util::controller_ref(&pod.metadata) {
            if let Some(s) = self.resolve(&pod.namespace().unwrap_or_default(), r) {
                self.enqueue(&s);
            }
            return;
        }
        for s in self.matching(pod) {
            self.enqueue(&s);
        }
    }

    fn update_pod(&self, old: &Arc<Pod>, cur: &Arc<Pod>) {
        if old.resource_version() == cur.resource_version() {
            return;
        }
        let ns = cur.namespace().unwrap_or_default();
        let (old_ref, cur_ref) = (util::controller_ref(&old.metadata), util::controller_ref(&cur.metadata));
        if old_ref != cur_ref {
            if let Some(s) = old_ref.and_then(|r| self.resolve(&ns, r)) {
                self.enqueue(&s);
            }
        }
        if let Some(r) = cur_ref {
            if let Some(s) = self.resolve(&ns, r) {
                self.enqueue(&s);
                let mr = min_ready(&s);
                if !util::pod_ready(old) && util::pod_ready(cur) && mr > 0 {
                    let secs = u64::try_from(mr).unwrap_or(0);
                    self.queue.add_after(util::meta_key(&s.metadata), Duration::from_secs(secs));
                }
            }
            return;
        }
        if old.metadata.labels != cur.metadata.labels || old_ref != cur_ref {
            for s in self.matching(cur) {
                self.enqueue(&s);
            }
        }
    }

    fn delete_pod(&self, pod: &Arc<Pod>) {
        let ns = pod.namespace().unwrap_or_default();
        if let Some(s) = util::controller_ref(&pod.metadata).and_then(|r| self.resolve(&ns, r)) {
            self.enqueue(&s);
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(set) = self.sets.get(ns, name) else { return Ok(()) };
        let selector = spec(&set).selector;
        if let Err(e) = util::selector_matches(Some(&selector), None) {
            tracing::error!("error converting StatefulSet {key} selector: {e}");
            return Ok(());
        }
        self.adopt_orphan_revisions(&set).await?;
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let candidates = util::claimable(&self.pods, &uid, ns);
        let pods = claim::claim(&self.client, set.as_ref(), &selector, candidates, |p| is_member_of(&set, p)).await?;
        let status = self.update_set(&set, pods).await?;
        let mr = min_ready(&set);
        if mr > 0 && status.is_some_and(|s| s.available_replicas.unwrap_or(0) != replicas(&set)) {
            self.queue.add_after(key.to_string(), Duration::from_secs(u64::try_from(mr).unwrap_or(0)));
        }
        Ok(())
    }

    /// `adoptOrphanRevisions`.
    async fn adopt_orphan_revisions(&self, set: &StatefulSet) -> Result<(), Error> {
        let orphans: Vec<_> = self
            .history
            .list(&set.metadata, &spec(set).selector)
            .into_iter()
            .filter(|r| util::controller_ref(&r.metadata).is_none())
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        let fresh = Api::<StatefulSet>::namespaced(self.client.clone(), &set.namespace().unwrap_or_default())
            .get_opt(&set.name_any())
            .await?;
        let ok = fresh.is_some_and(|f| f.metadata.uid == set.metadata.uid && f.metadata.deletion_timestamp.is_none());
        if !ok {
            return Err(Error::Config(format!(
                "StatefulSet {} is gone or being deleted",
                util::meta_key(&set.metadata)
            )));
        }
        for r in orphans {
            self.history.adopt(&set.metadata, API_VERSION, KIND, &r).await?;
        }
        Ok(())
    }

    /// `UpdateStatefulSet`: revisions, pods, status, then the revision history limit.
    async fn update_set(&self, set: &StatefulSet, pods: Vec<Arc<Pod>>) -> Result<Option<StatefulSetStatus>, Error> {
        let mut revisions = self.history.list(&set.metadata, &spec(set).selector);
        history::sort(&mut revisions);
        let (current, update, collision) = self.revisions(set, &revisions).await?;
        let (status, err) = self.update_pods(set, &current, &update, collision, &pods).await;
        let status_err = self.update_status(set, status.clone()).await.err();
        let truncate = self.truncate_history(set, &pods, &revisions, &current, &update).await.err();
        match err.or(status_err).or(truncate) {
            Some(e) => Err(e),
            None => Ok(Some(status)),
        }
    }

    /// `getStatefulSetRevisions`: the current revision and the update revision (created, or an
    /// equal older one renumbered as the newest, which is how a rollback happens).
    async fn revisions(
        &self,
        set: &StatefulSet,
        sorted: &[Arc<ControllerRevision>],
    ) -> Result<(ControllerRevision, ControllerRevision, i32), Error> {
        let mut collision = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
        let candidate = new_revision(set, history::next_revision(sorted), collision);
        let equal = history::find_equal(sorted, &candidate);
        let update = match (equal.last(), sorted.last()) {
            (Some(e), Some(last)) if history::equal(last, e) => (**last).clone(),
            (Some(e), _) => self.history.update_revision(e, candidate.revision).await?,
            (None, _) => self.history.create(&set.metadata, &candidate, &mut collision).await?,
        };
        let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
        let current = sorted
            .iter()
            .find(|r| Some(r.name_any()) == current_name)
            .map(|r| (**r).clone())
            .unwrap_or_else(|| update.clone());
        Ok((current, update, collision))
    }

    /// `updateStatefulSet`: the pods brought toward the target; returns the status to record
    /// and the first error.
    async fn update_pods(
        &self,
        set: &StatefulSet,
        current_rev: &ControllerRevision,
        update_rev: &ControllerRevision,
        collision: i32,
        pods: &[Arc<Pod>],
    ) -> (StatefulSetStatus, Option<Error>) {
        let current_set = apply_revision(set, current_rev);
        let update_set = apply_revision(set, update_rev);
        let (cur_name, upd_name) = (current_rev.name_any(), update_rev.name_any());
        let mr = min_ready(set);
        let mut status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            current_revision: Some(cur_name.clone()),
            update_revision: Some(upd_name.clone()),
            collision_count: Some(collision),
            ..Default::default()
        };
        count_status(&mut status, pods, mr, &cur_name, &upd_name);

        let start = start_ordinal(set);
        let mut slots: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        let mut condemned = Vec::new();
        for p in pods {
            if in_ordinal_range(p, set) {
                slots.insert(ordinal(p), p.clone());
            } else if ordinal(p) >= 0 {
                condemned.push(p.clone());
            }
        }
        let replicas: Vec<Arc<Pod>> = (start..=end_ordinal(set))
            .map(|o| {
                slots
                    .remove(&o)
                    .unwrap_or_else(|| Arc::new(new_versioned_pod(&current_set, &update_set, &cur_name, &upd_name, o)))
            })
            .collect();
        condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
        let first_unavailable =
            replicas.iter().chain(condemned.iter().rev()).find(|p| is_unavailable(p, mr)).map(|p| p.name_any());

        let recount = |status: &mut StatefulSetStatus, replicas: &[Arc<Pod>], condemned: &[Arc<Pod>]| {
            let all: Vec<Arc<Pod>> = replicas.iter().chain(condemned.iter()).cloned().collect();
            count_status(status, &all, mr, &cur_name, &upd_name);
        };
        if set.metadata.deletion_timestamp.is_some() {
            return (status, None);
        }
        let monotonic = !allows_burst(set);

        // Every replica in turn (monotonic: stop at the first one not yet healthy).
        let (stop, err) = self
            .run_for_all(monotonic, replicas.len(), |i| self.process_replica(set, &update_set, monotonic, &replicas[i]))
            .await;
        if stop || err.is_some() {
            recount(&mut status, &replicas, &condemned);
            return (status, err);
        }
        // Condemned pods' claims follow the scale-down retention policy.
        let (stop, err) =
            self.run_for_all(monotonic, condemned.len(), |i| self.fix_claims(&update_set, &condemned[i])).await;
        if stop || err.is_some() {
            recount(&mut status, &replicas, &condemned);
            return (status, err);
        }
        // Scale down, highest ordinal first (monotonic: one at a time, all others healthy).
        let (stop, err) = self
            .run_for_all(monotonic, condemned.len(), |i| {
                self.process_condemned(set, first_unavailable.as_deref(), monotonic, &condemned[i])
            })
            .await;
        recount(&mut status, &replicas, &condemned);
        if stop || err.is_some() {
            return (status, err);
        }
        if strategy_type(set) == "OnDelete" {
            return (status, None);
        }
        // RollingUpdate: the highest ordinal at or above the partition not at the update
        // revision goes, once everything above it is available.
        let update_min = usize::try_from(partition(set).unwrap_or(0).max(0)).unwrap_or(0);
        for target in (update_min..replicas.len()).rev() {
            let p = &replicas[target];
            if revision_of(p) != upd_name && !is_terminating(p) {
                tracing::info!(statefulset = %util::meta_key(&set.metadata), pod = %p.name_any(), "Pod of StatefulSet is terminating for update");
                let err = match self.delete_pod_of(set, p).await {
                    Err(Error::Kube(kube::Error::Api(s))) if s.code == 404 => None,
                    r => r.err(),
                };
                status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
                return (status, err);
            }
            if is_unavailable(p, mr) {
                return (status, None);
            }
        }
        (status, None)
    }

    /// `runForAll`: monotonic, one after another until one says stop; else all of them in
    /// slow-start batches.
    async fn run_for_all<'a, F, Fut>(&self, monotonic: bool, n: usize, f: F) -> (bool, Option<Error>)
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Step> + 'a,
    {
        if monotonic {
            for i in 0..n {
                match f(i).await {
                    Ok(false) => {}
                    Ok(true) => return (true, None),
                    Err(e) => return (true, Some(e)),
                }
            }
            return (false, None);
        }
        let (mut pos, mut batch) = (0, n.min(1));
        while batch > 0 {
            let results = join_all((pos..pos + batch).map(&f)).await;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return (true, Some(e));
            }
            pos += batch;
            batch = (2 * batch).min(n - pos).min(500);
        }
        (false, None)
    }

    /// `processReplica`.
    async fn process_replica(&self, set: &StatefulSet, update_set: &StatefulSet, monotonic: bool, pod: &Pod) -> Step {
        let phase = util::pod_phase(pod);
        if phase == "Failed" || phase == "Succeeded" {
            // Replaced once gone, whatever the exit code.
            if !is_terminating(pod) {
                self.delete_pod_of(set, pod).await?;
            }
            return Ok(true);
        }
        if !is_created(pod) {
            if self.claim_is_stale(set, pod) {
                return Ok(true);
            }
            self.create_pod(set, pod).await?;
            if monotonic {
                return Ok(true);
            }
        }
        if phase == "Pending" {
            self.create_claims(set, pod).await?;
            self.update_claims_for_policy(set, pod).await?;
        }
        if monotonic && (is_terminating(pod) || !running_and_ready(pod) || !running_and_available(pod, min_ready(set)))
        {
            return Ok(true);
        }
        let retention_ok = self.claims_match_policy(update_set, pod);
        if identity_matches(set, pod) && storage_matches(set, pod) && retention_ok {
            return Ok(false);
        }
        self.update_pod_identity(update_set, pod.clone()).await?;
        Ok(false)
    }

    async fn fix_claims(&self, update_set: &StatefulSet, pod: &Pod) -> Step {
        if !self.claims_match_policy(update_set, pod) {
            self.update_claims_for_policy(update_set, pod).await?;
        }
        Ok(false)
    }

    /// `processCondemned`.
    async fn process_condemned(
        &self,
        set: &StatefulSet,
        first_unavailable: Option<&str>,
        monotonic: bool,
        pod: &Pod,
    ) -> Step {
        if is_terminating(pod) {
            return Ok(monotonic);
        }
        let first = first_unavailable == Some(pod.name_any().as_str());
        if monotonic && !first && (!running_and_ready(pod) || !running_and_available(pod, min_ready(set))) {
            return Ok(true);
        }
        tracing::info!(statefulset = %util::meta_key(&set.metadata), pod = %pod.name_any(), "Pod of StatefulSet is terminating for scale down");
        self.delete_pod_of(set, pod).await?;
        Ok(true)
    }

    /// `recordPodEvent`.
    fn pod_event(&self, verb: &str, set: &StatefulSet, pod: &Pod, err: Option<&Error>) {
        let title = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
        match err {
            None => self.recorder.normal(
                set,
                &format!("Successful{title}"),
                format!("{verb} Pod {} in StatefulSet {} successful", pod.name_any(), set.name_any()),
            ),
            Some(e) => self.recorder.warning(
                set,
                &format!("Failed{title}"),
                format!(
                    "{verb} Pod {} in StatefulSet {} failed error: {}",
                    pod.name_any(),
                    set.name_any(),
                    api_message(e)
                ),
            ),
        }
    }

    /// `recordClaimEvent`.
    fn claim_event(&self, verb: &str, set: &StatefulSet, pod: &Pod, claim: &str, err: Option<&Error>) {
        let title = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
        match err {
            None => self.recorder.normal(
                set,
                &format!("Successful{title}"),
                format!("{verb} Claim {claim} Pod {} in StatefulSet {} success", pod.name_any(), set.name_any()),
            ),
            Some(e) => self.recorder.warning(
                set,
                &format!("Failed{title}"),
                format!(
                    "{verb} Claim {claim} for Pod {} in StatefulSet {} failed error: {}",
                    pod.name_any(),
                    set.name_any(),
                    api_message(e)
                ),
            ),
        }
    }

    async fn delete_pod_of(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let res = api.delete(&pod.name_any(), &DeleteParams::default()).await.map(|_| ()).map_err(Error::from);
        self.pod_event("delete", set, pod, res.as_ref().err());
        res
    }

    /// `CreateStatefulPod`: claims first, then the pod, then the claims' owner references.
    async fn create_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        if let Err(e) = self.create_claims(set, pod).await {
            self.pod_event("create", set, pod, Some(&e));
            return Err(e);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let mut body = pod.clone();
        body.metadata.resource_version = None;
        match api.create(&PostParams::default(), &body).await {
            Err(kube::Error::Api(s)) if s.code == 409 => Err(kube::Error::Api(s).into()),
            Err(e) => {
                let e = Error::from(e);
                self.pod_event("create", set, pod, Some(&e));
                Err(e)
            }
            Ok(created) => {
                if let Err(e) = self.update_claims_for_policy(set, &created).await {
                    self.pod_event("update", set, pod, Some(&e));
                    return Err(e);
                }
                self.pod_event("create", set, pod, None);
                Ok(())
            }
        }
    }

    /// `createPersistentVolumeClaims`: every missing claim of the pod; a claim being deleted
    /// blocks the pod.
    async fn create_claims(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let ns = set.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let mut errs = Vec::new();
        for (_, claim) in pod_claims(set, ordinal(pod)) {
            let name = claim.name_any();
            match self.claims.get(&ns, &name) {
                Some(existing) => {
                    if existing.metadata.deletion_timestamp.is_some() {
                        errs.push(format!("pvc {name} is being deleted"));
                    }
                }
                None => match api.create(&PostParams::default(), &claim).await {
                    Ok(_) => self.claim_event("create", set, pod, &name, None),
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        errs.push(format!("failed to create PVC {name}: {}", s.message));
                    }
                    Err(e) => {
                        let e = Error::from(e);
                        errs.push(format!("failed to create PVC {name}: {e}"));
                        self.claim_event("create", set, pod, &name, Some(&e));
                    }
                },
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(errs.join(", ")))
        }
    }

    /// `PodClaimIsStale`: with a Delete-on-scale-down policy, a claim still referring to an
    /// earlier pod of that name blocks the new pod until the garbage collector removes it.
    fn claim_is_stale(&self, set: &StatefulSet, pod: &Pod) -> bool {
        if !retention(set).1 {
            return false;
        }
        let ns = set.namespace().unwrap_or_default();
        pod_claims(set, ordinal(pod)).iter().any(|(_, c)| {
            self.claims.get(&ns, &c.name_any()).is_some_and(|existing| {
                refs(&existing)
                    .iter()
                    .find(|r| matches_ref(r, "v1", "Pod", &pod.name_any()))
                    .is_some_and(|r| Some(r.uid.as_str()) != pod.metadata.uid.as_deref())
            })
        })
    }

    /// `ClaimsMatchRetentionPolicy` (claims not there yet count as matching).
    fn claims_match_policy(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let ns = set.namespace().unwrap_or_default();
        pod_claims(set, ordinal(pod)).iter().all(|(_, c)| {
            self.claims.get(&ns, &c.name_any()).is_none_or(|existing| claim_owner_up_to_date(&existing, set, pod))
        })
    }

    /// `UpdatePodClaimForRetentionPolicy`.
    async fn update_claims_for_policy(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let ns = set.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        for (_, c) in pod_claims(set, ordinal(pod)) {
            let Some(existing) = self.claims.get(&ns, &c.name_any()) else { continue };
            if has_unexpected_controller(&existing, set, pod) {
                self.recorder.warning(
                    set,
                    "ConflictingController",
                    format!(
                        "PersistentVolumeClaim {} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim",
                        c.name_any()
                    ),
                );
            }
            if !claim_owner_up_to_date(&existing, set, pod) {
                let mut updated = (*existing).clone();
                update_claim_owner_refs(&mut updated, set, pod);
                api.replace(&updated.name_any(), &PostParams::default(), &updated).await.map_err(|e| {
                    Error::Config(format!("could not update claim {} for delete policy ownerRefs: {e}", c.name_any()))
                })?;
            }
        }
        Ok(())
    }

    /// `UpdateStatefulPod`: identity, storage and claim references put right, retrying on
    /// conflicts.
    async fn update_pod_identity(&self, set: &StatefulSet, mut pod: Pod) -> Result<(), Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let mut attempted = false;
        let mut result = Ok(());
        for _ in 0..5 {
            let mut consistent = true;
            if !identity_matches(set, &pod) {
                update_identity(set, &mut pod);
                consistent = false;
            }
            if !storage_matches(set, &pod) {
                update_storage(set, &mut pod);
                consistent = false;
                if let Err(e) = self.create_claims(set, &pod).await {
                    self.pod_event("update", set, &pod, Some(&e));
                    return Err(e);
                }
            }
            if !self.claims_match_policy(set, &pod) {
                if let Err(e) = self.update_claims_for_policy(set, &pod).await {
                    self.pod_event("update", set, &pod, Some(&e));
                    return Err(e);
                }
                consistent = false;
            }
            if consistent {
                result = Ok(());
                break;
            }
            attempted = true;
            match api.replace(&pod.name_any(), &PostParams::default(), &pod).await {
                Ok(_) => {
                    result = Ok(());
                    break;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    result = Err(kube::Error::Api(s).into());
                    pod = api.get(&pod.name_any()).await?;
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        if attempted {
            self.pod_event("update", set, &pod, result.as_ref().err());
        }
        result
    }

    /// `updateStatefulSetStatus` through `UpdateStatefulSetStatus`, retrying on conflicts.
    async fn update_status(&self, set: &StatefulSet, mut status: StatefulSetStatus) -> Result<(), Error> {
        complete_rolling_update(set, &mut status);
        if !inconsistent(set, &status) {
            return Ok(());
        }
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let mut target = set.clone();
        for attempt in 0..5 {
            target.status = Some(status.clone());
            match api.replace_status(&target.name_any(), &PostParams::default(), &target).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 4 => {
                    target = api.get(&set.name_any()).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `truncateHistory`: revisions neither current, updating, nor carried by a pod, beyond
    /// `revisionHistoryLimit`, oldest first.
    async fn truncate_history(
        &self,
        set: &StatefulSet,
        pods: &[Arc<Pod>],
        sorted: &[Arc<ControllerRevision>],
        current: &ControllerRevision,
        update: &ControllerRevision,
    ) -> Result<(), Error> {
        let mut live: HashSet<String> = [current.name_any(), update.name_any()].into();
        live.extend(pods.iter().map(|p| revision_of(p)));
        let limit = spec(set).revision_history_limit.unwrap_or(10);
        for r in revisions_to_truncate(sorted, &live, limit) {
            self.history.delete(&r).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        RollingUpdateStatefulSetStrategy, StatefulSetOrdinals, StatefulSetPersistentVolumeClaimRetentionPolicy,
        StatefulSetSpec, StatefulSetUpdateStrategy,
    };
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn set(replicas: i32, start: Option<i32>) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                uid: Some("set-uid".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                ordinals: start.map(|s| StatefulSetOrdinals { start: Some(s) }),
                service_name: Some("nginx".into()),
                selector: LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "web".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec::default()),
                },
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta { name: Some("data".into()), ..Default::default() },
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn ordinals_parse_as_upstreams_regexp() {
        assert_eq!(parent_and_ordinal("web-0"), ("web".into(), 0));
        assert_eq!(parent_and_ordinal("my-web-12"), ("my-web".into(), 12));
        assert_eq!(parent_and_ordinal("web").1, -1);
        assert_eq!(parent_and_ordinal("web-").1, -1);
        assert_eq!(parent_and_ordinal("web-1a").1, -1);
        assert_eq!(parent_and_ordinal("web-99999999999").1, -1);
    }

    #[test]
    fn new_pods_carry_identity_storage_and_ordinals_from_start() {
        let s = set(2, Some(5));
        assert_eq!((start_ordinal(&s), end_ordinal(&s)), (5, 6));
        let p = new_pod(&s, 5);
        assert_eq!(p.name_any(), "web-5");
        assert_eq!(p.labels().get(POD_NAME_LABEL).map(String::as_str), Some("web-5"));
        assert_eq!(p.labels().get(POD_INDEX_LABEL).map(String::as_str), Some("5"));
        let ps = p.spec.clone().unwrap();
        assert_eq!(ps.hostname.as_deref(), Some("web-5"));
        assert_eq!(ps.subdomain.as_deref(), Some("nginx"));
        let vols = ps.volumes.unwrap();
        assert_eq!(vols[0].persistent_volume_claim.as_ref().unwrap().claim_name, "data-web-5");
        assert!(identity_matches(&s, &p) && storage_matches(&s, &p));
        assert!(in_ordinal_range(&p, &s));
        assert!(!in_ordinal_range(&new_pod(&s, 4), &s));
        let claims = pod_claims(&s, 5);
        assert_eq!(claims[0].1.name_any(), "data-web-5");
        assert_eq!(claims[0].1.labels().get("app").map(String::as_str), Some("web"));
    }

    #[test]
    fn pods_below_the_partition_are_made_at_the_current_revision() {
        let mut s = set(3, None);
        s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy { partition: Some(2), max_unavailable: None }),
        });
        let rev = |o| revision_of(&new_versioned_pod(&s, &s, "cur", "upd", o));
        assert_eq!((rev(0), rev(1), rev(2)), ("cur".into(), "cur".into(), "upd".into()));
        // Without a rollingUpdate block, the current replicas' ordinals stay current.
        s.spec.as_mut().unwrap().update_strategy =
            Some(StatefulSetUpdateStrategy { type_: Some("RollingUpdate".into()), rolling_update: None });
        s.status = Some(StatefulSetStatus { current_replicas: Some(1), ..Default::default() });
        let rev = |o| revision_of(&new_versioned_pod(&s, &s, "cur", "upd", o));
        assert_eq!((rev(0), rev(1)), ("cur".into(), "upd".into()));
    }

    #[test]
    fn retention_policy_decides_claim_owners() {
        let mut s = set(1, None);
        let mut pod = new_pod(&s, 1);
        pod.metadata.uid = Some("pod-uid".into());
        let claim = PersistentVolumeClaim::default();
        // Retain/Retain: no references wanted.
        assert!(claim_owner_up_to_date(&claim, &s, &pod));
        s.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Delete".into()),
                when_scaled: Some("Delete".into()),
            });
        // Ordinal 1 is scaled down with one replica: the pod owns the claim, not the set.
        assert!(!claim_owner_up_to_date(&claim, &s, &pod));
        let mut fixed = claim.clone();
        update_claim_owner_refs(&mut fixed, &s, &pod);
        let owners: Vec<_> = refs(&fixed).iter().map(|r| r.uid.clone()).collect();
        assert_eq!(owners, vec!["pod-uid"]);
        assert!(claim_owner_up_to_date(&fixed, &s, &pod));
        // In range: the set owns it.
        let in_range = new_pod(&s, 0);
        let mut fixed = claim.clone();
        update_claim_owner_refs(&mut fixed, &s, &in_range);
        assert_eq!(refs(&fixed).iter().map(|r| r.uid.clone()).collect::<Vec<_>>(), vec!["set-uid"]);
    }

    #[test]
    fn status_counts_and_completes_rolling_updates() {
        let s = set(2, None);
        let mut ready = new_pod(&s, 0);
        ready.metadata.labels.as_mut().unwrap().insert(REVISION_LABEL.into(), "upd".into());
        ready.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let mut st = StatefulSetStatus {
            update_revision: Some("upd".into()),
            current_revision: Some("cur".into()),
            ..Default::default()
        };
        count_status(&mut st, &[Arc::new(ready), Arc::new(new_pod(&s, 1))], 0, "cur", "upd");
        assert_eq!(
            (st.replicas, st.ready_replicas, st.updated_replicas, st.current_replicas),
            (1, Some(1), Some(1), Some(0))
        );
        complete_rolling_update(&s, &mut st);
        assert_eq!(st.current_revision.as_deref(), Some("upd"));
        assert_eq!(st.current_replicas, Some(1));
    }

    #[test]
    fn history_truncation_spares_live_revisions() {
        let rev = |n: i64| {
            Arc::new(ControllerRevision {
                metadata: ObjectMeta { name: Some(format!("r{n}")), ..Default::default() },
                data: None,
                revision: n,
            })
        };
        let sorted: Vec<_> = (1..=5).map(rev).collect();
        let live: HashSet<String> = ["r1".to_string(), "r5".to_string()].into();
        let gone: Vec<_> = revisions_to_truncate(&sorted, &live, 1).iter().map(|r| r.revision).collect();
        assert_eq!(gone, vec![2, 3]);
        assert!(revisions_to_truncate(&sorted, &live, -1).is_empty());
    }
}
