//! `disruption-controller` (upstream `pkg/controller/disruption`): keeps each
//! PodDisruptionBudget's status — currentHealthy, desiredHealthy, expectedPods,
//! disruptionsAllowed, the DisruptionAllowed condition — from the pods it selects and the
//! scale of their controllers, which the apiserver's `pods/eviction` then spends. Evictions the
//! apiserver recorded in `disruptedPods` count as gone for two minutes; a pod still there
//! afterwards is counted again (event NotDeleted), and a `DisruptionTarget` condition left on a
//! pod that was never deleted is turned False.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long an eviction recorded in `disruptedPods` waits for the pod's deletion
/// (`DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

struct Dc {
    client: Client,
    pdbs: Informer<PodDisruptionBudget>,
    pods: Informer<Pod>,
    rs: Informer<ReplicaSet>,
    deployments: Informer<Deployment>,
    rcs: Informer<ReplicationController>,
    sets: Informer<StatefulSet>,
    queue: WorkQueue<String>,
    /// Pods whose DisruptionTarget condition may be stale.
    stale: WorkQueue<String>,
    recorder: Recorder,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("disruption-controller").await?;
    let dc = Arc::new(Dc {
        recorder: ctx.recorder(&client, "controllermanager"),
        client,
        pdbs: ctx.informers.get(),
        pods: ctx.informers.get(),
        rs: ctx.informers.get(),
        deployments: ctx.informers.get(),
        rcs: ctx.informers.get(),
        sets: ctx.informers.get(),
        queue: WorkQueue::new("disruption"),
        stale: WorkQueue::new("disruption_recheck"),
    });
    let d = dc.clone();
    dc.pdbs.add_handler(move |c| match c {
        Change::Added(p) | Change::Updated { new: p, .. } | Change::Deleted(p) => {
            d.queue.add(util::meta_key(&p.metadata))
        }
    });
    let d = dc.clone();
    dc.pods.add_handler(move |c| match c {
        Change::Added(p) | Change::Deleted(p) => {
            d.enqueue_for_pod(p);
            d.check_stale(p);
        }
        Change::Updated { old, new } => {
            d.enqueue_for_pod(new);
            if old.metadata.labels != new.metadata.labels {
                d.enqueue_for_pod(old);
            }
            d.check_stale(new);
        }
    });
    tokio::spawn(async move {
        dc.pdbs.wait_synced().await;
        dc.pods.wait_synced().await;
        dc.rs.wait_synced().await;
        dc.deployments.wait_synced().await;
        dc.rcs.wait_synced().await;
        dc.sets.wait_synced().await;
        let d = dc.clone();
        dc.queue.run_workers(1, move |key: String| {
            let d = d.clone();
            async move { d.sync(&key).await }
        });
        let d = dc.clone();
        dc.stale.run_workers(1, move |key: String| {
            let d = d.clone();
            async move { d.sync_stale(&key).await }
        });
    });
    Ok(true)
}

/// The pod's DisruptionTarget condition when it is True.
fn disruption_target(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "DisruptionTarget" && c.status == "True")
}

/// How long until a pod's DisruptionTarget condition counts as stale (`None`: it has none,
/// or the pod is being deleted).
fn stale_in(pod: &Pod, now: Timestamp) -> Option<Duration> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let since = disruption_target(pod)?.last_transition_time.as_ref().map(|t| t.0).unwrap_or(now);
    let due = since.as_nanosecond() + DELETION_TIMEOUT.as_nanos() as i128;
    let left = due - now.as_nanosecond();
    Some(Duration::from_nanos(u64::try_from(left.max(0)).unwrap_or(u64::MAX)))
}

impl Dc {
    fn matching(&self, pod: &Pod) -> Vec<Arc<PodDisruptionBudget>> {
        let ns = pod.namespace().unwrap_or_default();
        self.pdbs
            .list_namespace(&ns)
            .into_iter()
            .filter(|p| {
                util::selector_matches(p.spec.as_ref().and_then(|s| s.selector.as_ref()), pod.metadata.labels.as_ref())
                    == Ok(true)
            })
            .collect()
    }

    fn enqueue_for_pod(&self, pod: &Pod) {
        let pdbs = self.matching(pod);
        if pdbs.len() > 1 {
            let names: Vec<String> = pdbs.iter().map(|p| p.name_any()).collect();
            self.recorder.warning(
                pod,
                "MultiplePodDisruptionBudgets",
                format!(
                    "Pod {:?} matches multiple PodDisruptionBudgets.  Chose {:?} arbitrarily.",
                    pod.name_any(),
                    names[0]
                ),
            );
        }
        if let Some(p) = pdbs.first() {
            self.queue.add(util::meta_key(&p.metadata));
        }
    }

    fn check_stale(&self, pod: &Pod) {
        if let Some(left) = stale_in(pod, util::now()) {
            self.stale.add_after(util::meta_key(&pod.metadata), left);
        }
    }

    async fn sync_stale(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pod) = self.pods.get(ns, name) else { return Ok(()) };
        match stale_in(&pod, util::now()) {
            None => return Ok(()),
            Some(left) if !left.is_zero() => {
                self.stale.add_after(key.to_string(), left);
                return Ok(());
            }
            Some(_) => {}
        }
        let patch = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "status": {"conditions": [{"type": "DisruptionTarget", "status": "False",
                "lastTransitionTime": util::time_now()}]}
        });
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let pp = PatchParams::apply("pdb-controller").force();
        match api.patch_status(name, &pp, &Patch::Apply(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pdb) = self.pdbs.get(ns, name) else { return Ok(()) };
        match self.try_sync(&pdb).await {
            Ok(()) => Ok(()),
            Err(Error::Kube(kube::Error::Api(s))) if s.code == 409 => Err(Error::Kube(kube::Error::Api(s))),
            Err(e) => {
                tracing::error!("Failed to sync PDB {key}: {e}");
                self.fail_safe(&pdb, &e.to_string()).await?;
                Err(e)
            }
        }
    }

    async fn try_sync(&self, pdb: &PodDisruptionBudget) -> Result<(), Error> {
        let ns = pdb.namespace().unwrap_or_default();
        let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
        let pods: Vec<Arc<Pod>> = self
            .pods
            .list_namespace(&ns)
            .into_iter()
            .filter(|p| util::selector_matches(sel, p.metadata.labels.as_ref()) == Ok(true))
            .collect();
        if pods.is_empty() {
            self.recorder.normal(pdb, "NoPods", "No matching pods found");
        }
        let counts = self.expected_count(pdb, &pods);
        let (expected, desired, unmanaged) = match counts {
            Ok(c) => c,
            Err(e) => {
                self.recorder.warning(
                    pdb,
                    "CalculateExpectedPodCountFailed",
                    format!("Failed to calculate the number of expected pods: {e}"),
                );
                return Err(Error::Config(e));
            }
        };
        if unmanaged {
            self.recorder.warning(
                pdb,
                "UnmanagedPods",
                format!(
                    "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                    go_selector(sel)
                ),
            );
        }
        let now = util::now();
        let (disrupted, recheck) = self.disrupted_pods(pdb, &pods, now);
        let healthy = count_healthy(&pods, &disrupted, now);
        self.update_status(pdb, healthy, desired, expected, disrupted).await?;
        if let Some(after) = recheck {
            self.queue.add_after(util::meta_key(&pdb.metadata), after);
        }
        Ok(())
    }

    /// `getExpectedPodCount`: (expectedPods, desiredHealthy, whether unmanaged pods were seen).
    fn expected_count(&self, pdb: &PodDisruptionBudget, pods: &[Arc<Pod>]) -> Result<(i32, i32, bool), String> {
        let spec = pdb.spec.clone().unwrap_or_default();
        if let Some(max) = &spec.max_unavailable {
            let (expected, unmanaged) = self.expected_scale(pods)?;
            let desired = (expected - util::scaled(Some(max), expected, true)).max(0);
            return Ok((expected, desired, unmanaged));
        }
        match &spec.min_available {
            Some(IntOrString::Int(n)) => Ok((i32::try_from(pods.len()).unwrap_or(i32::MAX), *n, false)),
            Some(min @ IntOrString::String(_)) => {
                let (expected, unmanaged) = self.expected_scale(pods)?;
                Ok((expected, util::scaled(Some(min), expected, true), unmanaged))
            }
            None => Ok((0, 0, false)),
        }
    }

    /// `getExpectedScale`: the sum of the scales of the controllers of the pods.
    fn expected_scale(&self, pods: &[Arc<Pod>]) -> Result<(i32, bool), String> {
        let mut scales: HashMap<String, i32> = HashMap::new();
        let mut unmanaged = false;
        for pod in pods {
            let Some(r) = util::controller_ref(&pod.metadata) else {
                unmanaged = true;
                continue;
            };
            if scales.contains_key(&r.uid) {
                continue;
            }
            let ns = pod.namespace().unwrap_or_default();
            match self.controller_scale(&ns, r) {
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
                None => return Err(format!("found no controllers for pod {:?}", pod.name_any())),
            }
        }
        Ok((scales.values().sum(), unmanaged))
    }

    /// The finders: a ReplicaSet (or the Deployment owning it), a ReplicationController or a
    /// StatefulSet, each only if the reference's UID still names it.
    fn controller_scale(&self, ns: &str, r: &OwnerReference) -> Option<(String, i32)> {
        let same = |uid: Option<&String>| uid == Some(&r.uid);
        match (r.api_version.split('/').next().unwrap_or(""), r.kind.as_str()) {
            ("apps", "ReplicaSet") => {
                let rs = self.rs.get(ns, &r.name).filter(|rs| same(rs.metadata.uid.as_ref()))?;
                if let Some(owner) = util::controller_ref(&rs.metadata).filter(|o| o.kind == "Deployment") {
                    let d = self.deployments.get(ns, &owner.name)?;
                    (d.metadata.uid.as_ref() == Some(&owner.uid))
                        .then(|| (owner.uid.clone(), d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)))
                } else {
                    Some((r.uid.clone(), rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)))
                }
            }
            ("v1", "ReplicationController") => {
                let rc = self.rcs.get(ns, &r.name).filter(|rc| same(rc.metadata.uid.as_ref()))?;
                Some((r.uid.clone(), rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)))
            }
            ("apps", "StatefulSet") => {
                let s = self.sets.get(ns, &r.name).filter(|s| same(s.metadata.uid.as_ref()))?;
                Some((r.uid.clone(), s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)))
            }
            _ => None,
        }
    }

    /// `buildDisruptedPodMap`: evictions still waiting for their pod's deletion, and when the
    /// earliest of them times out.
    fn disrupted_pods(
        &self,
        pdb: &PodDisruptionBudget,
        pods: &[Arc<Pod>],
        now: Timestamp,
    ) -> (BTreeMap<String, Time>, Option<Duration>) {
        let mut out = BTreeMap::new();
        let mut recheck: Option<Duration> = None;
        let Some(recorded) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
            return (out, None);
        };
        for pod in pods {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(at) = recorded.get(&pod.name_any()) else { continue };
            let due = at.0.as_nanosecond() + DELETION_TIMEOUT.as_nanos() as i128;
            if due < now.as_nanosecond() {
                self.recorder.warning(
                    pod.as_ref(),
                    "NotDeleted",
                    format!(
                        "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                        pdb.namespace().unwrap_or_default(),
                        pdb.name_any()
                    ),
                );
            } else {
                let left = Duration::from_nanos(u64::try_from(due - now.as_nanosecond()).unwrap_or(0));
                recheck = Some(recheck.map_or(left, |r| r.min(left)));
                out.insert(pod.name_any(), at.clone());
            }
        }
        (out, recheck)
    }

    async fn update_status(
        &self,
        pdb: &PodDisruptionBudget,
        healthy: i32,
        desired: i32,
        expected: i32,
        disrupted: BTreeMap<String, Time>,
    ) -> Result<(), Error> {
        let allowed = if expected <= 0 || healthy - desired <= 0 { 0 } else { healthy - desired };
        let cur = pdb.status.clone().unwrap_or_default();
        let generation = pdb.metadata.generation;
        let cur_disrupted = cur.disrupted_pods.clone().unwrap_or_default();
        if cur.current_healthy == healthy
            && cur.desired_healthy == desired
            && cur.expected_pods == expected
            && cur.disruptions_allowed == allowed
            && cur_disrupted == disrupted
            && cur.observed_generation == generation
            && conditions_up_to_date(pdb)
        {
            return Ok(());
        }
        let mut status = PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: desired,
            expected_pods: expected,
            disruptions_allowed: allowed,
            disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
            observed_generation: generation,
            conditions: cur.conditions.clone(),
        };
        set_allowed_condition(&mut status);
        self.write_status(pdb, status).await
    }

    /// `failSafe`: no disruption allowed, and why.
    async fn fail_safe(&self, pdb: &PodDisruptionBudget, err: &str) -> Result<(), Error> {
        let mut status = pdb.status.clone().unwrap_or_default();
        status.disruptions_allowed = 0;
        let generation = status.observed_generation;
        set_condition(&mut status, "False", "SyncFailed", err, generation);
        self.write_status(pdb, status).await
    }

    async fn write_status(&self, pdb: &PodDisruptionBudget, status: PodDisruptionBudgetStatus) -> Result<(), Error> {
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), &pdb.namespace().unwrap_or_default());
        let mut next = pdb.clone();
        next.status = Some(status);
        match api.replace_status(&pdb.name_any(), &PostParams::default(), &next).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// `countHealthyPods`: ready pods that are neither being deleted nor already evicted.
fn count_healthy(pods: &[Arc<Pod>], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let n = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            disrupted
                .get(&p.name_any())
                .is_none_or(|at| at.0.as_nanosecond() + (DELETION_TIMEOUT.as_nanos() as i128) <= now.as_nanosecond())
        })
        .filter(|p| util::pod_ready(p))
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `apimeta.SetStatusCondition` for DisruptionAllowed: the transition time moves only when the
/// status does.
fn set_condition(
    status: &mut PodDisruptionBudgetStatus,
    st: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == "DisruptionAllowed") {
        Some(c) => {
            if c.status != st {
                c.status = st.into();
                c.last_transition_time = util::time_now();
            }
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = generation;
        }
        None => conds.push(Condition {
            type_: "DisruptionAllowed".into(),
            status: st.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: generation,
            last_transition_time: util::time_now(),
        }),
    }
}

/// `UpdateDisruptionAllowedCondition`.
fn set_allowed_condition(status: &mut PodDisruptionBudgetStatus) {
    let generation = status.observed_generation;
    if status.disruptions_allowed > 0 {
        set_condition(status, "True", "SufficientPods", "", generation);
    } else {
        set_condition(status, "False", "InsufficientPods", "", generation);
    }
}

/// `ConditionsAreUpToDate`.
fn conditions_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(st) = pdb.status.as_ref() else { return false };
    let Some(c) = st.conditions.iter().flatten().find(|c| c.type_ == "DisruptionAllowed") else { return false };
    if st.observed_generation != pdb.metadata.generation {
        return false;
    }
    if st.disruptions_allowed > 0 {
        c.status == "True" && c.reason == "SufficientPods"
    } else {
        c.status == "False" && c.reason == "InsufficientPods"
    }
}

/// A LabelSelector as Go's `%v` prints the pointer's struct, close enough for an event.
fn go_selector(sel: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>) -> String {
    let Some(sel) = sel else { return "nil".into() };
    let labels: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}:{v}")).collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{},}},MatchExpressions:[]LabelSelectorRequirement{{}},}}",
        labels.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use kube::api::ObjectMeta;

    fn pod(name: &str, ready: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: None,
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn healthy_pods_exclude_unready_and_recently_evicted_ones() {
        let now = Timestamp::now();
        let pods = vec![pod("a", true), pod("b", true), pod("c", false), pod("d", true)];
        let mut disrupted = BTreeMap::new();
        disrupted.insert("b".to_string(), Time(now));
        let long_ago = Timestamp::from_second(now.as_second() - 600).unwrap_or(now);
        disrupted.insert("d".to_string(), Time(long_ago));
        // b was evicted a moment ago; d's eviction timed out, so it counts again.
        assert_eq!(count_healthy(&pods, &disrupted, now), 2);
    }

    #[test]
    fn the_condition_follows_the_allowed_disruptions() {
        let mut st =
            PodDisruptionBudgetStatus { disruptions_allowed: 1, observed_generation: Some(3), ..Default::default() };
        set_allowed_condition(&mut st);
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!((c.status.as_str(), c.reason.as_str(), c.observed_generation), ("True", "SufficientPods", Some(3)));
        let first = c.last_transition_time.clone();
        st.disruptions_allowed = 0;
        set_allowed_condition(&mut st);
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "InsufficientPods"));
        assert!(c.last_transition_time.0 >= first.0);
        let pdb = PodDisruptionBudget {
            metadata: ObjectMeta { generation: Some(3), ..Default::default() },
            spec: None,
            status: Some(st),
        };
        assert!(conditions_up_to_date(&pdb));
    }

    #[test]
    fn stale_disruption_targets_are_due_two_minutes_after_their_transition() {
        let now = Timestamp::now();
        let mut p = (*pod("a", true)).clone();
        assert_eq!(stale_in(&p, now), None);
        let cond = PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            last_transition_time: Some(Time(now)),
            ..Default::default()
        };
        p.status.as_mut().unwrap().conditions.as_mut().unwrap().push(cond);
        assert_eq!(stale_in(&p, now), Some(DELETION_TIMEOUT));
        p.metadata.deletion_timestamp = Some(Time(now));
        assert_eq!(stale_in(&p, now), None);
    }
}
