//! `namespace-controller` (upstream `pkg/controller/namespace`): a namespace being deleted has
//! every namespaced resource inside it deleted — the resources found through discovery, so
//! that ones added later are covered too — then, once nothing remains, its `kubernetes`
//! finalizer removed through `namespaces/<name>/finalize`. Pods are given their grace period
//! (the namespace is checked again after half of the longest one), objects held by finalizers
//! are waited for, and the status conditions say what blocks the deletion:
//! NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
//! NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining.

use crate::context::Ctx;
use crate::discovery::{Served, ServedResources};
use crate::Error;
use component_base::{Change, WorkQueue};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, Pod};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::core::DynamicObject;
use kube::Resource;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

const FINALIZER: &str = "kubernetes";
/// How long objects held by finalizers are given before the namespace is checked again.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;
/// `--namespace-sync-period`.
const RESYNC: Duration = Duration::from_secs(300);
/// Discovery is reused this long across syncs.
const DISCOVERY_TTL: Duration = Duration::from_secs(10);

struct Nc {
    client: Client,
    pods: component_base::Informer<Pod>,
    queue: WorkQueue<String>,
    discovery: Mutex<Option<(ServedResources, tokio::time::Instant)>>,
}

/// The namespace still has content: check again after `estimate` seconds.
#[derive(Debug)]
struct Remaining(i64);

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("namespace-controller").await?;
    let namespaces = ctx.informers.get::<Namespace>();
    let pods = ctx.informers.get::<Pod>();
    let nc = Arc::new(Nc { client, pods, queue: WorkQueue::new("namespace"), discovery: Mutex::new(None) });
    let n = nc.clone();
    namespaces.add_handler(move |c| match c {
        Change::Added(ns) | Change::Updated { new: ns, .. } if ns.metadata.deletion_timestamp.is_some() => {
            n.queue.add(ns.name_any())
        }
        _ => {}
    });
    let workers = ctx.opts.concurrent_namespace_syncs;
    let inf = namespaces.clone();
    tokio::spawn(async move {
        inf.wait_synced().await;
        let n = nc.clone();
        nc.queue.run_workers(workers, move |name: String| {
            let n = n.clone();
            async move {
                match n.delete(&name).await {
                    Ok(None) => Ok(()),
                    Ok(Some(Remaining(estimate))) => {
                        // Content remains: look again once it may be gone.
                        let secs = u64::try_from(estimate / 2 + 1).unwrap_or(1);
                        n.queue.add_after(name, Duration::from_secs(secs));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        });
        // Namespaces stuck in Terminating are looked at again now and then.
        loop {
            tokio::time::sleep(RESYNC).await;
            for ns in inf.list() {
                if ns.metadata.deletion_timestamp.is_some() {
                    nc.queue.add(ns.name_any());
                }
            }
        }
    });
    Ok(true)
}

fn condition(type_: &str, status: &str, reason: &str, message: String) -> NamespaceCondition {
    NamespaceCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(crate::util::time_now()),
    }
}

/// The condition types in upstream's order, with their "all is well" reason and message.
const OK: &[(&str, &str, &str)] = &[
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

/// Merges `new` into the namespace's conditions; true when something changed.
fn update_conditions(ns: &mut Namespace, mut new: Vec<NamespaceCondition>) -> bool {
    for (t, reason, msg) in OK {
        if !new.iter().any(|c| c.type_ == *t) {
            new.push(condition(t, "False", reason, msg.to_string()));
        }
    }
    let st = ns.status.get_or_insert_with(Default::default);
    let conds = st.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for c in new {
        match conds.iter_mut().find(|o| o.type_ == c.type_) {
            None => {
                conds.push(c);
                changed = true;
            }
            Some(o) if o.status == c.status && o.reason == c.reason && o.message == c.message => {}
            Some(o) => {
                *o = c;
                changed = true;
            }
        }
    }
    changed
}

/// Content left after one pass over a resource.
#[derive(Default)]
struct Left {
    estimate: i64,
    remaining: usize,
    finalizers: BTreeMap<String, usize>,
}

impl Nc {
    async fn resources(&self) -> Result<ServedResources, Error> {
        let mut cached = self.discovery.lock().await;
        if let Some((r, at)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(r.clone());
            }
        }
        let r = ServedResources::discover(&self.client).await?;
        *cached = Some((r.clone(), tokio::time::Instant::now()));
        Ok(r)
    }

    /// upstream's `namespacedResourcesDeleter.Delete`: `Some(estimate)` while content remains.
    async fn delete(&self, name: &str) -> Result<Option<Remaining>, Error> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(mut ns) = api.get_opt(name).await? else { return Ok(None) };
        if ns.metadata.deletion_timestamp.is_none() {
            return Ok(None);
        }
        if ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating") {
            ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
            ns = api.replace_status(name, &PostParams::default(), &ns).await?;
        }
        if !ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|x| x == FINALIZER)) {
            return Ok(None);
        }
        let estimate = self.delete_all_content(&mut ns).await?;
        if estimate > 0 {
            return Ok(Some(Remaining(estimate)));
        }
        // Nothing left: drop our finalizer.
        let mut fin = ns.clone();
        if let Some(spec) = fin.spec.as_mut() {
            spec.finalizers =
                Some(spec.finalizers.take().unwrap_or_default().into_iter().filter(|f| f != FINALIZER).collect());
        }
        match api.replace_subresource::<Namespace>("finalize", name, &PostParams::default(), &fin).await {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_all_content(&self, ns: &mut Namespace) -> Result<i64, Error> {
        let name = ns.name_any();
        let mut conditions = Vec::new();
        let resources = match self.resources().await {
            Ok(r) => r,
            Err(e) => {
                conditions.push(condition(
                    "NamespaceDeletionDiscoveryFailure",
                    "True",
                    "DiscoveryFailed",
                    format!("Discovery failed for some groups, 1 failing: {e}"),
                ));
                self.write_conditions(ns, conditions).await;
                return Err(e);
            }
        };
        let deletable: Vec<Served> =
            resources.preferred.iter().filter(|s| s.namespaced && s.supports("delete")).cloned().collect();
        let mut estimate = 0;
        let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
        let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
        let mut errors = Vec::new();
        for s in &deletable {
            match self.delete_resource(s, &name).await {
                Ok(left) => {
                    estimate = estimate.max(left.estimate);
                    if left.remaining > 0 {
                        remaining.insert(format!("{}.{}", s.ar.plural, s.ar.group), left.remaining);
                        for (f, n) in left.finalizers {
                            *finalizers.entry(f).or_default() += n;
                        }
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !remaining.is_empty() {
            let parts: Vec<String> = remaining.iter().map(|(r, n)| format!("{r} has {n} resource instances")).collect();
            conditions.push(condition(
                "NamespaceContentRemaining",
                "True",
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", parts.join(", ")),
            ));
        }
        if !finalizers.is_empty() {
            let parts: Vec<String> = finalizers.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
            conditions.push(condition(
                "NamespaceFinalizersRemaining",
                "True",
                "SomeFinalizersRemain",
                format!("Some content in the namespace has finalizers remaining: {}", parts.join(", ")),
            ));
        }
        if !errors.is_empty() {
            conditions.push(condition(
                "NamespaceDeletionContentFailure",
                "True",
                "ContentDeletionFailed",
                format!("Failed to delete all resource types, {} remaining: {}", errors.len(), errors.join(", ")),
            ));
        }
        self.write_conditions(ns, conditions).await;
        if !errors.is_empty() {
            return Err(Error::Config(errors.join(", ")));
        }
        Ok(estimate)
    }

    async fn write_conditions(&self, ns: &mut Namespace, conditions: Vec<NamespaceCondition>) {
        if update_conditions(ns, conditions) {
            let api: Api<Namespace> = Api::all(self.client.clone());
            match api.replace_status(&ns.name_any(), &PostParams::default(), ns).await {
                Ok(updated) => *ns = updated,
                Err(e) => tracing::warn!("couldn't update status condition for namespace {:?}: {e}", ns.name_any()),
            }
        }
    }

    /// Deletes one resource's objects in the namespace and reports what is left.
    async fn delete_resource(&self, s: &Served, ns: &str) -> Result<Left, Error> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &s.ar);
        let mut estimate = 0;
        if s.ar.group.is_empty() && s.ar.plural == "pods" {
            estimate = self.pods_grace(ns).await?;
        }
        let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        if s.supports("deletecollection") {
            self.delete_collection(s, ns, &dp).await?;
        } else if s.supports("list") {
            let items = api.list_metadata(&ListParams::default()).await?;
            for item in items {
                match api.delete(&item.name_any(), &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(st)) if st.code == 404 || st.code == 405 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            return Ok(Left::default());
        }
        if !s.supports("list") {
            return Ok(Left { estimate, ..Default::default() });
        }
        // Count what is left a page at a time: a namespace may hold many thousands.
        let mut finalizers = BTreeMap::new();
        let mut remaining = 0;
        let mut lp = ListParams::default().limit(500);
        loop {
            let page = api.list_metadata(&lp).await?;
            remaining += page.items.len();
            for item in &page.items {
                for f in item.metadata.finalizers.iter().flatten() {
                    *finalizers.entry(f.clone()).or_default() += 1;
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
        if remaining == 0 {
            return Ok(Left { estimate, ..Default::default() });
        }
        if estimate == 0 {
            // Finalizers are normal; anything else is given the same time.
            estimate = FINALIZER_ESTIMATE_SECONDS;
        }
        Ok(Left { estimate, remaining, finalizers })
    }

    /// DELETE on the collection. The answer lists every deleted object; it is read and
    /// dropped a chunk at a time rather than decoded (thousands of pods would be hundreds of
    /// MiB once parsed).
    async fn delete_collection(&self, s: &Served, ns: &str, dp: &DeleteParams) -> Result<(), Error> {
        use http_body_util::BodyExt;
        let path = DynamicObject::url_path(&s.ar, Some(ns));
        let req = kube::core::Request::new(path)
            .delete_collection(dp, &ListParams::default())
            .map_err(|e| Error::Config(e.to_string()))?;
        let res = self.client.send(req.map(kube::client::Body::from)).await?;
        let status = res.status();
        let mut body = res.into_body();
        let mut first = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(chunk) = frame.data_ref() {
                if first.len() < 4096 {
                    first.extend_from_slice(&chunk[..chunk.len().min(4096 - first.len())]);
                }
            }
        }
        if status.is_success() || status.as_u16() == 404 || status.as_u16() == 405 {
            return Ok(());
        }
        Err(Error::Config(format!(
            "deletecollection of {}: {status}: {}",
            s.ar.plural,
            String::from_utf8_lossy(&first)
        )))
    }

    /// The longest grace period a pod still running in the namespace has left.
    async fn pods_grace(&self, ns: &str) -> Result<i64, Error> {
        let mut estimate = 0;
        for p in self.pods.list_namespace(ns) {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let grace = p
                .metadata
                .deletion_grace_period_seconds
                .or_else(|| p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
                .unwrap_or(30);
            estimate = estimate.max(grace);
        }
        Ok(estimate)
    }
}
