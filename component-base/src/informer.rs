//! Shared informers: one kube-rs watcher per resource type per process, feeding an in-memory
//! store (the lister) and the event handlers of every controller that registered one, as
//! client-go's `SharedInformerFactory` does.
//!
//! kube-runtime's `watcher` does the list-then-watch, resumes from the last resourceVersion,
//! relists on 410 Gone and backs off on errors (800 ms doubling to 30 s, as client-go's
//! reflector). On a relist the store is replaced and the handlers see the difference: updates
//! for objects that changed, deletes for objects that went away while the watch was down.

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

/// What a handler is told. Handlers run on the informer's task: they should only enqueue keys.
#[derive(Debug)]
pub enum Change<'a, K> {
    Added(&'a Arc<K>),
    Updated {
        old: &'a Arc<K>,
        new: &'a Arc<K>,
    },
    /// The last state the informer saw; after a relist it may be older than the deletion.
    Deleted(&'a Arc<K>),
}

type Handler<K> = Box<dyn Fn(Change<'_, K>) + Send + Sync>;
type IndexFn<K> = Box<dyn Fn(&K) -> Vec<String> + Send + Sync>;
type Transform<K> = Box<dyn Fn(&mut K) + Send + Sync>;

/// The objects, and for each index the objects under each index value (client-go's
/// `Indexer`). Objects are keyed by their own namespace and name (see [`Entry`]), so the store
/// holds no copy of either; the objects under an index value are a `Vec` sorted the same way:
/// most values hold one or two objects, and a B-tree set allocates a whole node for one.
struct Store<K> {
    objects: BTreeSet<Entry<K>>,
    indexers: Vec<(String, IndexFn<K>)>,
    indices: HashMap<String, HashMap<String, Vec<Arc<K>>>>,
}

/// What the store is keyed by: `(namespace, name)`, cluster-scoped objects with an empty
/// namespace. A trait, so that a stored object and a pair of `&str` compare as keys.
trait Key {
    fn namespace(&self) -> &str;
    fn name(&self) -> &str;
}

impl Key for (&str, &str) {
    fn namespace(&self) -> &str {
        self.0
    }
    fn name(&self) -> &str {
        self.1
    }
}

impl<K: Resource> Key for Arc<K> {
    fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }
}

fn key_cmp(a: &(impl Key + ?Sized), b: &(impl Key + ?Sized)) -> Ordering {
    a.namespace().cmp(b.namespace()).then_with(|| a.name().cmp(b.name()))
}

impl PartialEq for dyn Key + '_ {
    fn eq(&self, other: &Self) -> bool {
        key_cmp(self, other).is_eq()
    }
}

impl Eq for dyn Key + '_ {}

impl PartialOrd for dyn Key + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Key + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        key_cmp(self, other)
    }
}

/// A stored object, ordered by its namespace and name.
struct Entry<K>(Arc<K>);

impl<K> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry(self.0.clone())
    }
}

impl<'a, K: Resource + 'a> Borrow<dyn Key + 'a> for Entry<K> {
    fn borrow(&self) -> &(dyn Key + 'a) {
        &self.0
    }
}

impl<K: Resource> PartialEq for Entry<K> {
    fn eq(&self, other: &Self) -> bool {
        key_cmp(&self.0, &other.0).is_eq()
    }
}

impl<K: Resource> Eq for Entry<K> {}

impl<K: Resource> PartialOrd for Entry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Resource> Ord for Entry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        key_cmp(&self.0, &other.0)
    }
}

impl<K: Resource> Store<K> {
    fn unindex(&mut self, obj: &Arc<K>) {
        for (name, f) in &self.indexers {
            let Some(idx) = self.indices.get_mut(name) else { continue };
            for v in f(obj) {
                if let Some(set) = idx.get_mut(&v) {
                    if let Ok(i) = set.binary_search_by(|o| key_cmp(o, obj)) {
                        set.remove(i);
                    }
                    if set.is_empty() {
                        idx.remove(&v);
                    }
                }
            }
        }
    }

    fn index(&mut self, obj: &Arc<K>) {
        for (name, f) in &self.indexers {
            let idx = self.indices.entry(name.clone()).or_default();
            for v in f(obj) {
                let set = idx.entry(v).or_default();
                match set.binary_search_by(|o| key_cmp(o, obj)) {
                    Ok(i) => set[i] = obj.clone(),
                    Err(i) => set.insert(i, obj.clone()),
                }
            }
        }
    }

    fn insert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let old = self.objects.replace(Entry(obj.clone())).map(|e| e.0);
        if let Some(o) = &old {
            self.unindex(o);
        }
        self.index(&obj);
        old
    }

    fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let old = self.objects.take(&(namespace, name) as &dyn Key)?.0;
        self.unindex(&old);
        Some(old)
    }

    fn reindex(&mut self) {
        self.indices.clear();
        let objects: Vec<Arc<K>> = self.objects.iter().map(|e| e.0.clone()).collect();
        for o in objects {
            self.index(&o);
        }
    }
}

struct Inner<K> {
    what: String,
    store: RwLock<Store<K>>,
    handlers: RwLock<Vec<Handler<K>>>,
    transform: RwLock<Option<Transform<K>>>,
    synced: watch::Sender<bool>,
    started: Mutex<bool>,
    make_stream: StreamFactory<K>,
}

type EventStream<K> = futures::stream::BoxStream<'static, Result<Event<K>, watcher::Error>>;
type StreamFactory<K> = Box<dyn Fn() -> EventStream<K> + Send + Sync>;

/// A shared informer for objects of type `K`. Clones share the store and the watch.
pub struct Informer<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer { inner: self.inner.clone() }
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// An informer over `api` (all namespaces or one) with the watcher configuration `config`.
    pub fn new(what: &str, api: Api<K>, config: watcher::Config) -> Self {
        let make_stream: StreamFactory<K> = Box::new(move || watcher::watcher(api.clone(), config.clone()).boxed());
        Self::from_stream_factory(what, make_stream)
    }

    /// An informer over any stream of watcher events (tests feed it by hand).
    pub fn from_stream_factory(what: &str, make_stream: StreamFactory<K>) -> Self {
        Informer {
            inner: Arc::new(Inner {
                what: what.to_string(),
                store: RwLock::new(Store { objects: BTreeSet::new(), indexers: Vec::new(), indices: HashMap::new() }),
                handlers: RwLock::new(Vec::new()),
                transform: RwLock::new(None),
                synced: watch::channel(false).0,
                started: Mutex::new(false),
                make_stream,
            }),
        }
    }

    /// Registers a handler. Handlers added after the first sync are told about the objects
    /// already in the store as additions, as client-go does.
    pub fn add_handler(&self, f: impl Fn(Change<'_, K>) + Send + Sync + 'static) {
        let store = self.inner.store.read().unwrap_or_else(|e| e.into_inner());
        for e in &store.objects {
            f(Change::Added(&e.0));
        }
        self.inner.handlers.write().unwrap_or_else(|e| e.into_inner()).push(Box::new(f));
    }

    /// Adds an index: `f` gives the index values an object is found under.
    pub fn add_index(&self, name: &str, f: impl Fn(&K) -> Vec<String> + Send + Sync + 'static) {
        let mut store = self.inner.store.write().unwrap_or_else(|e| e.into_inner());
        if store.indexers.iter().any(|(n, _)| n == name) {
            return;
        }
        store.indexers.push((name.to_string(), Box::new(f)));
        store.reindex();
    }

    /// The objects found under `value` in the index `name`.
    pub fn by_index(&self, name: &str, value: &str) -> Vec<Arc<K>> {
        let store = self.inner.store.read().unwrap_or_else(|e| e.into_inner());
        store.indices.get(name).and_then(|idx| idx.get(value)).cloned().unwrap_or_default()
    }

    /// Replaces how objects are trimmed before they are stored (by default, managedFields are
    /// dropped, as upstream's controllers do, since no controller reads them).
    pub fn set_transform(&self, f: impl Fn(&mut K) + Send + Sync + 'static) {
        *self.inner.transform.write().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Starts the watch once; later calls do nothing.
    pub fn start(&self) {
        {
            let mut started = self.inner.started.lock().unwrap_or_else(|e| e.into_inner());
            if *started {
                return;
            }
            *started = true;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { run(inner).await });
    }

    /// Waits until the first full list is in the store.
    pub async fn wait_synced(&self) {
        let mut rx = self.inner.synced.subscribe();
        // The sender lives as long as `inner`, which `self` holds.
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn has_synced(&self) -> bool {
        *self.inner.synced.borrow()
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let store = self.inner.store.read().unwrap_or_else(|e| e.into_inner());
        store.objects.get(&(namespace, name) as &dyn Key).map(|e| e.0.clone())
    }

    /// Every object, in namespace/name order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner()).objects.iter().map(|e| e.0.clone()).collect()
    }

    /// The objects of one namespace, in name order.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let store = self.inner.store.read().unwrap_or_else(|e| e.into_inner());
        let from: &dyn Key = &(namespace, "");
        let range = store.objects.range::<dyn Key, _>((Bound::Included(from), Bound::Unbounded));
        range.take_while(|e| e.0.namespace() == namespace).map(|e| e.0.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner()).objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn what(&self) -> &str {
        &self.inner.what
    }
}

async fn run<K>(inner: Arc<Inner<K>>)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let mut stream = std::pin::pin!((inner.make_stream)().default_backoff());
    let mut relist: Option<BTreeSet<Entry<K>>> = None;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Init) => relist = Some(BTreeSet::new()),
            Ok(Event::InitApply(obj)) => {
                relist.get_or_insert_with(BTreeSet::new).replace(Entry(Arc::new(trim(&inner, obj))));
            }
            Ok(Event::InitDone) => {
                let fresh = relist.take().unwrap_or_default();
                replace(&inner, fresh);
                inner.synced.send_replace(true);
            }
            Ok(Event::Apply(obj)) => apply(&inner, Arc::new(trim(&inner, obj))),
            Ok(Event::Delete(obj)) => {
                delete(&inner, obj.meta().namespace.as_deref().unwrap_or_default(), &obj.name_any())
            }
            Err(e) => tracing::warn!(resource = %inner.what, "watch failed, retrying: {e}"),
        }
    }
}

fn trim<K: Resource>(inner: &Inner<K>, mut obj: K) -> K {
    match inner.transform.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(f) => f(&mut obj),
        None => obj.meta_mut().managed_fields = None,
    }
    obj
}

fn handlers<K>(inner: &Inner<K>) -> std::sync::RwLockReadGuard<'_, Vec<Handler<K>>> {
    inner.handlers.read().unwrap_or_else(|e| e.into_inner())
}

fn apply<K: Resource>(inner: &Inner<K>, obj: Arc<K>) {
    let old = inner.store.write().unwrap_or_else(|e| e.into_inner()).insert(obj.clone());
    let hs = handlers(inner);
    for h in hs.iter() {
        match &old {
            Some(old) => h(Change::Updated { old, new: &obj }),
            None => h(Change::Added(&obj)),
        }
    }
}

fn delete<K: Resource>(inner: &Inner<K>, namespace: &str, name: &str) {
    let old = inner.store.write().unwrap_or_else(|e| e.into_inner()).remove(namespace, name);
    if let Some(old) = old {
        for h in handlers(inner).iter() {
            h(Change::Deleted(&old));
        }
    }
}

/// Swaps in a relisted store and tells the handlers what differs from the old one.
fn replace<K: Resource>(inner: &Inner<K>, fresh: BTreeSet<Entry<K>>) {
    let old = {
        let mut store = inner.store.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut store.objects, fresh.clone());
        store.reindex();
        old
    };
    let hs = handlers(inner);
    for Entry(new) in &fresh {
        match old.get(new as &dyn Key) {
            None => hs.iter().for_each(|h| h(Change::Added(new))),
            Some(Entry(prev)) if prev.resource_version() != new.resource_version() => {
                hs.iter().for_each(|h| h(Change::Updated { old: prev, new }))
            }
            Some(_) => {}
        }
    }
    for Entry(gone) in &old {
        if !fresh.contains(gone as &dyn Key) {
            hs.iter().for_each(|h| h(Change::Deleted(gone)));
        }
    }
}

type Starter = Box<dyn Fn() + Send + Sync>;

/// Hands out one informer per resource type, so that every controller in the process shares
/// the same watch and store.
#[derive(Clone)]
pub struct InformerFactory {
    client: Client,
    informers: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
    starters: Arc<Mutex<Vec<Starter>>>,
}

impl InformerFactory {
    pub fn new(client: Client) -> Self {
        InformerFactory { client, informers: Default::default(), starters: Default::default() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The cluster-wide informer for `K`, created on first use.
    pub fn get<K>(&self) -> Informer<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let mut map = self.informers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = map.get(&TypeId::of::<K>()).and_then(|b| b.downcast_ref::<Informer<K>>()) {
            return i.clone();
        }
        let what = format!("{}", K::plural(&()));
        let inf = Informer::new(&what, Api::<K>::all(self.client.clone()), watcher::Config::default().any_semantic());
        map.insert(TypeId::of::<K>(), Box::new(inf.clone()));
        let starter = inf.clone();
        self.starters.lock().unwrap_or_else(|e| e.into_inner()).push(Box::new(move || starter.start()));
        inf
    }

    /// Starts every informer handed out so far (and is safe to call again after more).
    pub fn start(&self) {
        for s in self.starters.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            s();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cm(ns: &str, name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn relists_report_the_difference_and_the_store_follows() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let r = rounds.clone();
        let factory: StreamFactory<ConfigMap> = Box::new(move || {
            let round = r.fetch_add(1, Ordering::SeqCst);
            let evs = if round == 0 {
                vec![
                    Ok(Event::Init),
                    Ok(Event::InitApply(cm("a", "x", "1"))),
                    Ok(Event::InitApply(cm("a", "y", "1"))),
                    Ok(Event::InitApply(cm("b", "z", "1"))),
                    Ok(Event::InitDone),
                    Ok(Event::Apply(cm("a", "x", "2"))),
                    Ok(Event::Delete(cm("b", "z", "1"))),
                    // The watch broke: the next list has y changed and x gone.
                    Ok(Event::Init),
                    Ok(Event::InitApply(cm("a", "y", "3"))),
                    Ok(Event::InitApply(cm("c", "w", "3"))),
                    Ok(Event::InitDone),
                ]
            } else {
                vec![]
            };
            futures::stream::iter(evs).chain(futures::stream::pending()).boxed()
        });
        let inf = Informer::from_stream_factory("configmaps", factory);
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        inf.add_handler(move |c| {
            let s = match c {
                Change::Added(o) => format!("add {}", o.name_any()),
                Change::Updated { old, new } => {
                    format!(
                        "update {} {}->{}",
                        new.name_any(),
                        old.resource_version().unwrap(),
                        new.resource_version().unwrap()
                    )
                }
                Change::Deleted(o) => format!("delete {}", o.name_any()),
            };
            l.lock().unwrap().push(s);
        });
        inf.start();
        inf.wait_synced().await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while log.lock().unwrap().len() < 8 && tokio::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *log.lock().unwrap(),
            vec!["add x", "add y", "add z", "update x 1->2", "delete z", "update y 1->3", "add w", "delete x"]
        );
        assert_eq!(inf.list_namespace("a").len(), 1);
        assert_eq!(inf.get("a", "y").unwrap().resource_version().as_deref(), Some("3"));
        assert!(inf.get("a", "x").is_none());
        assert_eq!(inf.len(), 2);
        // A late handler hears about what is already there.
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        inf.add_handler(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(n.load(Ordering::SeqCst), 2);
        // Indexes follow the store, also when added late.
        inf.add_index("by-namespace", |c: &ConfigMap| vec![c.metadata.namespace.clone().unwrap_or_default()]);
        assert_eq!(inf.by_index("by-namespace", "a").len(), 1);
        assert_eq!(inf.by_index("by-namespace", "c")[0].name_any(), "w");
        assert!(inf.by_index("by-namespace", "b").is_empty());
        // managedFields are dropped before objects are stored.
        assert!(inf.list().iter().all(|o| o.metadata.managed_fields.is_none()));
    }
}
