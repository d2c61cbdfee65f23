//! `garbage-collector-controller` (upstream `pkg/controller/garbagecollector`): an owner graph
//! of every listable, watchable, deletable resource found through discovery, fed by
//! metadata-only watches. Dependents whose owners are all gone are deleted (background);
//! a foreground deletion (`foregroundDeletion` finalizer) deletes the dependents first and
//! then removes the finalizer once no dependent with `blockOwnerDeletion` remains; an orphan
//! deletion (`orphan` finalizer) strips the owner reference from every dependent and then
//! removes the finalizer. Owner existence is confirmed with a live read before anything is
//! deleted, and only owner references whose owner really is gone are dropped.

use crate::context::Ctx;
use crate::discovery::{Served, ServedResources};
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

type Meta = PartialObjectMeta<DynamicObject>;

/// What the graph knows of one object.
#[derive(Clone, Debug)]
struct Node {
    served: Arc<Served>,
    namespace: String,
    name: String,
    owners: Vec<OwnerReference>,
    dependents: HashSet<String>,
    deleting: bool,
    /// Being deleted in the foreground: waiting for its blocking dependents.
    deleting_dependents: bool,
}

enum GraphEvent {
    Upsert(Arc<Served>, Arc<Meta>),
    Delete(Arc<Meta>),
}

struct Gc {
    client: Client,
    /// The latest discovery: owner references are resolved against it.
    resources: std::sync::RwLock<Arc<ServedResources>>,
    graph: Mutex<HashMap<String, Node>>,
    attempt_to_delete: WorkQueue<String>,
    attempt_to_orphan: WorkQueue<String>,
    /// One metadata informer per monitored resource (group, version, plural).
    monitors: Mutex<HashMap<(String, String, String), Informer<Meta>>>,
    events: mpsc::UnboundedSender<GraphEvent>,
    /// The controller-manager's informer client, which the watches use.
    watch_client: Client,
}

/// How often discovery runs again so that resources added later (CRDs, aggregated APIs) are
/// monitored too (upstream's `--garbage-collector` sync period).
const RESYNC: Duration = Duration::from_secs(30);

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("generic-garbage-collector").await?;
    let resources = ServedResources::discover(&client).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<GraphEvent>();
    let gc = Arc::new(Gc {
        client: client.clone(),
        resources: std::sync::RwLock::new(Arc::new(resources.clone())),
        graph: Mutex::default(),
        attempt_to_delete: WorkQueue::new("garbage_collector_attempt_to_delete"),
        attempt_to_orphan: WorkQueue::new("garbage_collector_attempt_to_orphan"),
        monitors: Mutex::default(),
        events: tx,
        watch_client: ctx.informers.client().clone(),
    });
    let informers: Vec<Informer<Meta>> = resources.deletable().into_iter().filter_map(|s| gc.monitor(s)).collect();
    let g = gc.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            g.process_graph_change(ev);
        }
    });
    let workers = ctx.opts.concurrent_gc_syncs;
    tokio::spawn(async move {
        for inf in &informers {
            inf.wait_synced().await;
        }
        tracing::info!("All resource monitors have synced. Proceeding to collect garbage");
        let g = gc.clone();
        gc.attempt_to_delete.run_workers(workers, move |uid: String| {
            let g = g.clone();
            async move { g.attempt_to_delete_item(&uid).await }
        });
        let g = gc.clone();
        gc.attempt_to_orphan.run_workers(1, move |uid: String| {
            let g = g.clone();
            async move { g.attempt_to_orphan_item(&uid).await }
        });
        loop {
            tokio::time::sleep(RESYNC).await;
            gc.resync().await;
        }
    });
    Ok(true)
}

impl Gc {
    /// Starts a metadata-only monitor for a resource not yet monitored.
    fn monitor(&self, s: Served) -> Option<Informer<Meta>> {
        let key = (s.ar.group.clone(), s.ar.version.clone(), s.ar.plural.clone());
        let mut monitors = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        if monitors.contains_key(&key) {
            return None;
        }
        let served = Arc::new(s);
        // `Api<PartialObjectMeta<_>>` asks for metadata only.
        let api: Api<Meta> = Api::all_with(self.watch_client.clone(), &served.ar);
        let what = format!("{}.{}", served.ar.plural, served.ar.group);
        let inf: Informer<Meta> = Informer::new(&what, api, watcher::Config::default().any_semantic());
        // The graph needs identity, owners, finalizers and deletion state only.
        inf.set_transform(|m: &mut Meta| {
            m.metadata.managed_fields = None;
            m.metadata.labels = None;
            m.metadata.annotations = None;
        });
        let (tx, sv) = (self.events.clone(), served.clone());
        inf.add_handler(move |c| {
            let ev = match c {
                Change::Added(m) | Change::Updated { new: m, .. } => GraphEvent::Upsert(sv.clone(), m.clone()),
                Change::Deleted(m) => GraphEvent::Delete(m.clone()),
            };
            let _ = tx.send(ev);
        });
        inf.start();
        monitors.insert(key, inf.clone());
        Some(inf)
    }

    /// Discovery again: resources served since are monitored from now on. (Monitors of
    /// resources that went away stay; their watches just keep retrying quietly.)
    async fn resync(&self) {
        match ServedResources::discover(&self.client).await {
            Ok(fresh) => {
                let added: Vec<Served> = fresh
                    .deletable()
                    .into_iter()
                    .filter_map(|s| {
                        let key = (s.ar.group.clone(), s.ar.version.clone(), s.ar.plural.clone());
                        let known = self.monitors.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&key);
                        (!known).then_some(s)
                    })
                    .collect();
                *self.resources.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(fresh);
                for s in added {
                    tracing::info!(resource = %format!("{}.{}/{}", s.ar.plural, s.ar.group, s.ar.version), "garbage collector monitors a new resource");
                    self.monitor(s);
                }
            }
            Err(e) => tracing::warn!("failed to discover resources for the garbage collector: {e}"),
        }
    }
}

fn has_finalizer(m: &Meta, f: &str) -> bool {
    m.metadata.finalizers.as_ref().is_some_and(|fs| fs.iter().any(|x| x == f))
}

impl Gc {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Node>> {
        self.graph.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The GraphBuilder: keeps nodes and edges current and queues the work each change makes.
    fn process_graph_change(&self, ev: GraphEvent) {
        match ev {
            GraphEvent::Upsert(served, m) => {
                let Some(uid) = m.metadata.uid.clone() else { return };
                let owners = m.metadata.owner_references.clone().unwrap_or_default();
                let deleting = m.metadata.deletion_timestamp.is_some();
                let deleting_dependents = deleting && has_finalizer(&m, FOREGROUND);
                let mut g = self.lock();
                let old_owners = g.get(&uid).map(|n| n.owners.clone());
                let dependents = g.get(&uid).map(|n| n.dependents.clone()).unwrap_or_default();
                g.insert(
                    uid.clone(),
                    Node {
                        served,
                        namespace: m.namespace().unwrap_or_default(),
                        name: m.name_any(),
                        owners: owners.clone(),
                        dependents: dependents.clone(),
                        deleting,
                        deleting_dependents,
                    },
                );
                let old_uids: HashSet<String> = old_owners.iter().flatten().map(|o| o.uid.clone()).collect();
                let new_uids: HashSet<String> = owners.iter().map(|o| o.uid.clone()).collect();
                for gone in old_uids.difference(&new_uids) {
                    if let Some(o) = g.get_mut(gone) {
                        o.dependents.remove(&uid);
                        if o.deleting_dependents {
                            self.attempt_to_delete.add(gone.clone());
                        }
                    }
                }
                let mut missing_owner = false;
                for o in &owners {
                    match g.get_mut(&o.uid) {
                        Some(n) => {
                            n.dependents.insert(uid.clone());
                            if n.deleting_dependents {
                                // A new dependent of an owner deleting in the foreground.
                                self.attempt_to_delete.add(uid.clone());
                            }
                        }
                        None => missing_owner = true,
                    }
                }
                drop(g);
                if missing_owner {
                    // The owner may not have been seen yet: check with a live read, later.
                    self.attempt_to_delete.add_after(uid.clone(), Duration::from_millis(200));
                }
                if deleting && has_finalizer(&m, ORPHAN) {
                    self.attempt_to_orphan.add(uid.clone());
                }
                if deleting_dependents {
                    for d in &dependents {
                        self.attempt_to_delete.add(d.clone());
                    }
                    self.attempt_to_delete.add(uid);
                }
            }
            GraphEvent::Delete(m) => {
                let Some(uid) = m.metadata.uid.clone() else { return };
                let mut g = self.lock();
                let Some(node) = g.remove(&uid) else { return };
                for o in &node.owners {
                    if let Some(owner) = g.get_mut(&o.uid) {
                        owner.dependents.remove(&uid);
                        if owner.deleting_dependents {
                            self.attempt_to_delete.add(o.uid.clone());
                        }
                    }
                }
                drop(g);
                for d in node.dependents {
                    self.attempt_to_delete.add(d);
                }
            }
        }
    }

    fn api_for(&self, served: &Served, namespace: &str) -> Api<DynamicObject> {
        if served.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &served.ar)
        } else {
            Api::all_with(self.client.clone(), &served.ar)
        }
    }

    /// Whether an owner reference of an object in `namespace` points at a live owner:
    /// `Some(true)` solid, `Some(false)` dangling, with whether that owner waits for its
    /// dependents (foreground).
    async fn owner_state(&self, namespace: &str, r: &OwnerReference) -> Result<(bool, bool), Error> {
        if let Some(n) = self.lock().get(&r.uid) {
            return Ok((true, n.deleting_dependents));
        }
        let resources = self.resources.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(served) = resources.by_kind(&r.api_version, &r.kind) else {
            // Unknown kinds cannot be checked; upstream treats them as dangling only after
            // discovery confirms the kind is gone, so keep the dependent.
            return Ok((true, false));
        };
        let api = self.api_for(served, namespace);
        match api.get_metadata_opt(&r.name).await? {
            Some(m) if m.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                Ok((true, m.metadata.deletion_timestamp.is_some() && has_finalizer(&m, FOREGROUND)))
            }
            _ => Ok((false, false)),
        }
    }

    async fn attempt_to_delete_item(&self, uid: &str) -> Result<(), Error> {
        let Some(node) = self.lock().get(uid).cloned() else { return Ok(()) };
        let api = self.api_for(&node.served, &node.namespace);
        let Some(live) = api.get_metadata_opt(&node.name).await? else { return Ok(()) };
        if live.metadata.uid.as_deref() != Some(uid) {
            return Ok(());
        }
        let deleting = live.metadata.deletion_timestamp.is_some();
        if deleting && has_finalizer(&live, FOREGROUND) {
            return self.process_deleting_dependents(uid, &api, &live).await;
        }
        if deleting {
            return Ok(());
        }
        let owners = live.metadata.owner_references.clone().unwrap_or_default();
        if owners.is_empty() {
            return Ok(());
        }
        let ns = live.namespace().unwrap_or_default();
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &owners {
            match self.owner_state(&ns, r).await? {
                (true, false) => solid.push(r.clone()),
                (true, true) => waiting.push(r.clone()),
                (false, _) => dangling.push(r.clone()),
            }
        }
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            // Drop only the references whose owners are gone or going.
            let keep: Vec<&OwnerReference> = owners.iter().filter(|r| solid.iter().any(|s| s.uid == r.uid)).collect();
            let patch = serde_json::json!({
                "metadata": { "ownerReferences": keep, "uid": uid, "resourceVersion": live.metadata.resource_version }
            });
            match api.patch(&node.name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        let has_dependents = !node.dependents.is_empty();
        let policy = if !waiting.is_empty() && has_dependents {
            PropagationPolicy::Foreground
        } else if has_finalizer(&live, ORPHAN) {
            PropagationPolicy::Orphan
        } else if has_finalizer(&live, FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::debug!(item = %node.name, ?policy, "deleting item: all its owners are gone");
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions { uid: Some(uid.to_string()), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&node.name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A foreground deletion: delete the dependents that block it, then drop the finalizer.
    async fn process_deleting_dependents(&self, uid: &str, api: &Api<DynamicObject>, live: &Meta) -> Result<(), Error> {
        let blocking: Vec<(String, bool)> = {
            let g = self.lock();
            let Some(node) = g.get(uid) else { return Ok(()) };
            node.dependents
                .iter()
                .filter_map(|d| {
                    let dep = g.get(d)?;
                    let blocks = dep.owners.iter().any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
                    blocks.then(|| (d.clone(), dep.deleting_dependents || dep.deleting))
                })
                .collect()
        };
        if blocking.is_empty() {
            return self.remove_finalizer(api, live, FOREGROUND).await;
        }
        for (dep, busy) in blocking {
            if !busy {
                self.attempt_to_delete.add(dep);
            }
        }
        Ok(())
    }

    async fn remove_finalizer(&self, api: &Api<DynamicObject>, live: &Meta, finalizer: &str) -> Result<(), Error> {
        let rest: Vec<String> =
            live.metadata.finalizers.clone().unwrap_or_default().into_iter().filter(|f| f != finalizer).collect();
        let patch = serde_json::json!({
            "metadata": { "finalizers": rest, "uid": live.metadata.uid, "resourceVersion": live.metadata.resource_version }
        });
        match api.patch(&live.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An orphan deletion: every dependent loses its reference to the owner, then the owner
    /// loses its `orphan` finalizer.
    async fn attempt_to_orphan_item(&self, uid: &str) -> Result<(), Error> {
        let Some(node) = self.lock().get(uid).cloned() else { return Ok(()) };
        let deps: Vec<Node> = {
            let g = self.lock();
            node.dependents.iter().filter_map(|d| g.get(d).cloned()).collect()
        };
        for dep in deps {
            let api = self.api_for(&dep.served, &dep.namespace);
            let Some(live) = api.get_metadata_opt(&dep.name).await? else { continue };
            let refs = live.metadata.owner_references.clone().unwrap_or_default();
            if !refs.iter().any(|r| r.uid == uid) {
                continue;
            }
            let keep: Vec<&OwnerReference> = refs.iter().filter(|r| r.uid != uid).collect();
            let patch = serde_json::json!({
                "metadata": { "ownerReferences": keep, "uid": live.metadata.uid, "resourceVersion": live.metadata.resource_version }
            });
            match api.patch(&dep.name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        let api = self.api_for(&node.served, &node.namespace);
        let Some(live) = api.get_metadata_opt(&node.name).await? else { return Ok(()) };
        if live.metadata.uid.as_deref() != Some(uid) || !has_finalizer(&live, ORPHAN) {
            return Ok(());
        }
        self.remove_finalizer(&api, &live, ORPHAN).await
    }
}
