//! `resourcequota-controller` (upstream `pkg/controller/resourcequota`): keeps each
//! ResourceQuota's `status.hard` equal to `spec.hard` and recomputes `status.used` in full
//! from the namespace's objects, with the same evaluation the apiserver's quota admission
//! charges creates with (`api_types::quota`). Admission only ever adds; this controller gives
//! usage back when objects go (deleted pods, pods that finished, services that change type)
//! and corrects drift every `--resource-quota-sync-period`.

use crate::context::Ctx;
use crate::discovery::ServedResources;
use crate::util;
use crate::Error;
use api_types::kinds::validation::Quantity;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, ResourceQuotaStatus, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a discovery answer serves `count/<resource>.<group>` lookups.
const DISCOVERY_TTL: Duration = Duration::from_secs(30);

struct Rq {
    client: Client,
    quotas: Informer<ResourceQuota>,
    pods: Informer<Pod>,
    services: Informer<Service>,
    claims: Informer<PersistentVolumeClaim>,
    config_maps: Informer<ConfigMap>,
    secrets: Informer<Secret>,
    rcs: Informer<ReplicationController>,
    queue: WorkQueue<String>,
    discovery: Mutex<Option<(Instant, Arc<ServedResources>)>>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("resourcequota-controller").await?;
    let rq = Arc::new(Rq {
        client,
        quotas: ctx.informers.get(),
        pods: ctx.informers.get(),
        services: ctx.informers.get(),
        claims: ctx.informers.get(),
        config_maps: ctx.informers.get(),
        secrets: ctx.informers.get(),
        rcs: ctx.informers.get(),
        queue: WorkQueue::new("resourcequota_primary"),
        discovery: Mutex::new(None),
    });
    let r = rq.clone();
    rq.quotas.add_handler(move |c| match c {
        Change::Added(q) => r.queue.add(util::meta_key(&q.metadata)),
        Change::Updated { old, new } => {
            let hard = |q: &ResourceQuota| q.spec.as_ref().and_then(|s| s.hard.clone());
            let status_hard = new.status.as_ref().and_then(|s| s.hard.clone());
            if hard(old) != hard(new) || status_hard != hard(new) {
                r.queue.add(util::meta_key(&new.metadata));
            }
        }
        Change::Deleted(_) => {}
    });
    // Replenishment: usage given back when an object stops counting.
    let r = rq.clone();
    rq.pods.add_handler(move |c| match c {
        Change::Deleted(p) => r.replenish(p.metadata.namespace.as_deref()),
        Change::Updated { old, new } if pod_counts(old, util::now()) && !pod_counts(new, util::now()) => {
            r.replenish(new.metadata.namespace.as_deref())
        }
        Change::Updated { old, new }
            if old.spec.as_ref().and_then(|s| s.active_deadline_seconds)
                != new.spec.as_ref().and_then(|s| s.active_deadline_seconds) =>
        {
            r.replenish(new.metadata.namespace.as_deref())
        }
        _ => {}
    });
    let r = rq.clone();
    rq.services.add_handler(move |c| match c {
        Change::Deleted(s) => r.replenish(s.metadata.namespace.as_deref()),
        Change::Updated { old, new }
            if old.spec.as_ref().and_then(|s| s.type_.clone()) != new.spec.as_ref().and_then(|s| s.type_.clone()) =>
        {
            r.replenish(new.metadata.namespace.as_deref())
        }
        _ => {}
    });
    macro_rules! replenish_on_delete {
        ($inf:ident) => {
            let r = rq.clone();
            rq.$inf.add_handler(move |c| {
                if let Change::Deleted(o) = c {
                    r.replenish(o.metadata.namespace.as_deref());
                }
            });
        };
    }
    replenish_on_delete!(claims);
    replenish_on_delete!(config_maps);
    replenish_on_delete!(secrets);
    replenish_on_delete!(rcs);
    let workers = ctx.opts.concurrent_resource_quota_syncs;
    let period = ctx.opts.resource_quota_sync_period;
    tokio::spawn(async move {
        rq.quotas.wait_synced().await;
        rq.pods.wait_synced().await;
        rq.services.wait_synced().await;
        rq.claims.wait_synced().await;
        rq.config_maps.wait_synced().await;
        rq.secrets.wait_synced().await;
        rq.rcs.wait_synced().await;
        let r = rq.clone();
        rq.queue.run_workers(workers, move |key: String| {
            let r = r.clone();
            async move { r.sync(&key).await }
        });
        // The full resync.
        if !period.is_zero() {
            loop {
                tokio::time::sleep(period).await;
                for q in rq.quotas.list() {
                    rq.queue.add(util::meta_key(&q.metadata));
                }
            }
        }
    });
    Ok(true)
}

/// `QuotaV1Pod`: finished pods, and pods stuck terminating past their grace period, are not
/// charged.
fn pod_counts(pod: &Pod, now: Timestamp) -> bool {
    if matches!(util::pod_phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    if let (Some(at), Some(grace)) = (&pod.metadata.deletion_timestamp, pod.metadata.deletion_grace_period_seconds) {
        if now.as_nanosecond() > at.0.as_nanosecond() + i128::from(grace) * 1_000_000_000 {
            return false;
        }
    }
    true
}

/// Which built-in evaluator computes a quota resource name (`MatchingResources`), as
/// (group, plural).
fn evaluator_for(key: &str) -> Option<&'static str> {
    let pods = key == "pods"
        || key == "count/pods"
        || matches!(key, "cpu" | "memory" | "ephemeral-storage")
        || key.starts_with("requests.") && key != "requests.storage"
        || key.starts_with("limits.")
        || key.starts_with("hugepages-");
    if pods {
        return Some("pods");
    }
    if key == "requests.storage" || key.contains(".storageclass.storage.k8s.io/") {
        return Some("persistentvolumeclaims");
    }
    if key.starts_with("services.") {
        return Some("services");
    }
    let plural = key.strip_prefix("count/").unwrap_or(key);
    ["services", "persistentvolumeclaims", "configmaps", "secrets", "replicationcontrollers", "resourcequotas"]
        .into_iter()
        .find(|p| *p == plural)
}

fn to_values<K: serde::Serialize>(objs: Vec<Arc<K>>) -> Vec<Value> {
    objs.iter().filter_map(|o| serde_json::to_value(o.as_ref()).ok()).collect()
}

impl Rq {
    fn replenish(&self, ns: Option<&str>) {
        let Some(ns) = ns else { return };
        for q in self.quotas.list_namespace(ns) {
            self.queue.add(util::meta_key(&q.metadata));
        }
    }

    /// The namespace's objects a built-in evaluator counts, as JSON.
    fn objects(&self, plural: &str, ns: &str) -> Vec<Value> {
        match plural {
            "pods" => {
                let now = util::now();
                to_values(self.pods.list_namespace(ns).into_iter().filter(|p| pod_counts(p, now)).collect())
            }
            "services" => to_values(self.services.list_namespace(ns)),
            "persistentvolumeclaims" => to_values(self.claims.list_namespace(ns)),
            "configmaps" => to_values(self.config_maps.list_namespace(ns)),
            "secrets" => to_values(self.secrets.list_namespace(ns)),
            "replicationcontrollers" => to_values(self.rcs.list_namespace(ns)),
            "resourcequotas" => to_values(self.quotas.list_namespace(ns)),
            _ => Vec::new(),
        }
    }

    async fn served(&self) -> Result<Arc<ServedResources>, Error> {
        if let Some((at, d)) = self.discovery.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(d.clone());
            }
        }
        let d = Arc::new(ServedResources::discover(&self.client).await?);
        *self.discovery.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), d.clone()));
        Ok(d)
    }

    /// `count/<resource>[.<group>]` for a resource no built-in evaluator covers: the number of
    /// its objects in the namespace (`None` when the resource is not served).
    async fn count_objects(&self, key: &str, ns: &str) -> Result<Option<usize>, Error> {
        let Some(gr) = key.strip_prefix("count/") else { return Ok(None) };
        let (plural, group) = gr.split_once('.').unwrap_or((gr, ""));
        let served = self.served().await?;
        let Some(s) = served.preferred.iter().find(|s| s.ar.plural == plural && s.ar.group == group && s.namespaced)
        else {
            return Ok(None);
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &s.ar);
        Ok(Some(api.list_metadata(&ListParams::default()).await?.items.len()))
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(quota) = self.quotas.get(ns, name) else { return Ok(()) };
        let hard = quota.spec.as_ref().and_then(|s| s.hard.clone()).unwrap_or_default();
        let quota_value = serde_json::to_value(quota.as_ref()).map_err(|e| Error::Config(e.to_string()))?;
        let mut used: BTreeMap<String, ApiQuantity> =
            quota.status.as_ref().and_then(|s| s.used.clone()).unwrap_or_default();
        // One pass per evaluator the hard limits need.
        let mut plurals: Vec<&str> = hard.keys().filter_map(|k| evaluator_for(k)).collect();
        plurals.sort_unstable();
        plurals.dedup();
        let mut totals: BTreeMap<String, Quantity> = BTreeMap::new();
        for plural in &plurals {
            let is_pod = *plural == "pods";
            let objs = self.objects(plural, ns);
            tracing::debug!("quota {key}: {} {plural} to evaluate", objs.len());
            for obj in objs {
                if !api_types::quota::quota_selects(&quota_value, is_pod, &obj) {
                    continue;
                }
                for (k, v) in api_types::quota::usage("", plural, &obj) {
                    let cur = totals.get(&k).copied().unwrap_or_else(Quantity::zero);
                    totals.insert(k, cur.add(&v));
                }
            }
        }
        let mut errors = Vec::new();
        for k in hard.keys() {
            if evaluator_for(k).is_some() {
                let v = totals.get(k).copied().unwrap_or_else(Quantity::zero);
                used.insert(k.clone(), ApiQuantity(v.canonical()));
            } else {
                match self.count_objects(k, ns).await {
                    Ok(Some(n)) => {
                        used.insert(k.clone(), ApiQuantity(n.to_string()));
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        used.retain(|k, _| hard.contains_key(k));
        let status = ResourceQuotaStatus { hard: Some(hard.clone()), used: Some(used) };
        let cur = quota.status.clone().unwrap_or_default();
        if !same_lists(cur.hard.as_ref(), status.hard.as_ref()) || !same_lists(cur.used.as_ref(), status.used.as_ref())
        {
            let api: Api<ResourceQuota> = Api::namespaced(self.client.clone(), ns);
            let mut next = (*quota).clone();
            next.status = Some(status);
            match api.replace_status(&quota.name_any(), &PostParams::default(), &next).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        match errors.pop() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// `quota.Equals`: the same names with equal quantities (`1` equals `1000m`).
fn same_lists(a: Option<&BTreeMap<String, ApiQuantity>>, b: Option<&BTreeMap<String, ApiQuantity>>) -> bool {
    let (Some(a), Some(b)) = (a, b) else { return a.is_none() && b.is_none() };
    a.len() == b.len()
        && a.iter().all(|(k, v)| {
            b.get(k).is_some_and(|w| match (Quantity::parse(&v.0), Quantity::parse(&w.0)) {
                (Some(x), Some(y)) => x == y,
                _ => v.0 == w.0,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    #[test]
    fn finished_and_overdue_terminating_pods_are_not_charged() {
        let now = Timestamp::now();
        let mut p = Pod::default();
        assert!(pod_counts(&p, now));
        p.status = Some(PodStatus { phase: Some("Succeeded".into()), ..Default::default() });
        assert!(!pod_counts(&p, now));
        let past = Timestamp::from_second(now.as_second() - 100).unwrap_or(now);
        let mut p = Pod {
            metadata: ObjectMeta {
                deletion_timestamp: Some(Time(past)),
                deletion_grace_period_seconds: Some(30),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!pod_counts(&p, now));
        p.metadata.deletion_grace_period_seconds = Some(300);
        assert!(pod_counts(&p, now));
    }

    #[test]
    fn each_quota_resource_has_its_evaluator() {
        for (k, e) in [
            ("pods", Some("pods")),
            ("requests.cpu", Some("pods")),
            ("limits.memory", Some("pods")),
            ("cpu", Some("pods")),
            ("requests.storage", Some("persistentvolumeclaims")),
            ("gold.storageclass.storage.k8s.io/requests.storage", Some("persistentvolumeclaims")),
            ("services.nodeports", Some("services")),
            ("count/secrets", Some("secrets")),
            ("configmaps", Some("configmaps")),
            ("count/deployments.apps", None),
        ] {
            assert_eq!(evaluator_for(k), e, "{k}");
        }
    }

    #[test]
    fn quantities_compare_by_value() {
        let m = |v: &str| BTreeMap::from([("cpu".to_string(), ApiQuantity(v.into()))]);
        assert!(same_lists(Some(&m("1")), Some(&m("1000m"))));
        assert!(!same_lists(Some(&m("1")), Some(&m("2"))));
        assert!(!same_lists(None, Some(&m("1"))));
    }
}
