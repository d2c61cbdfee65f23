//! ConfigMaps and Secrets the kubelet's pods reference, kept current as upstream's "Watch"
//! change-detection strategy does: one watch per referenced object (a `metadata.name` field
//! selector, which the Node authorizer allows for objects of the node's pods), shared by every
//! pod that references it, stopped when the last such pod goes. A change wakes those pods, so
//! that volume contents follow their objects.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::watcher;
use kube::Client;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The state of one watched object: `None` until the first list, then whether it exists.
type Slot<K> = Option<Option<Arc<K>>>;

struct Entry<K> {
    rx: watch::Receiver<Slot<K>>,
    pods: HashSet<String>,
    task: tokio::task::JoinHandle<()>,
}

/// Called with the pods that reference an object when it changes.
pub type OnChange = Arc<dyn Fn(&HashSet<String>) + Send + Sync>;

/// Watched objects by (namespace, name).
type Entries<K> = Arc<Mutex<HashMap<(String, String), Entry<K>>>>;

pub struct Objects<K> {
    client: Client,
    entries: Entries<K>,
    on_change: OnChange,
}

impl<K> Objects<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    pub fn new(client: Client, on_change: OnChange) -> Self {
        Objects { client, entries: Arc::new(Mutex::new(HashMap::new())), on_change }
    }

    /// The object `namespace/name` for pod `uid` (registering the reference): `Ok(None)` when it
    /// does not exist, `Err` when it could not be read in time.
    pub async fn get(&self, namespace: &str, name: &str, uid: &str) -> Result<Option<Arc<K>>, String> {
        let key = (namespace.to_string(), name.to_string());
        let mut rx = {
            let mut entries = self.entries.lock().unwrap();
            let entry = entries.entry(key.clone()).or_insert_with(|| self.start(namespace, name));
            entry.pods.insert(uid.to_string());
            entry.rx.clone()
        };
        let wait = async {
            loop {
                if let Some(v) = rx.borrow().clone() {
                    return Ok(v);
                }
                if rx.changed().await.is_err() {
                    return Err("watch ended".to_string());
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(30), wait).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out waiting for the condition on {}s/{name}", K::plural(&()))),
        }
    }

    fn start(&self, namespace: &str, name: &str) -> Entry<K> {
        let (tx, rx) = watch::channel::<Slot<K>>(None);
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let entries = self.entries.clone();
        let on_change = self.on_change.clone();
        let key = (namespace.to_string(), name.to_string());
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, cfg).boxed();
            let mut listing: Option<Arc<K>> = None;
            while let Some(ev) = stream.next().await {
                let new: Option<Option<Arc<K>>> = match ev {
                    Ok(watcher::Event::Init) => {
                        listing = None;
                        None
                    }
                    Ok(watcher::Event::InitApply(o)) => {
                        listing = Some(Arc::new(o));
                        None
                    }
                    Ok(watcher::Event::InitDone) => Some(listing.take()),
                    Ok(watcher::Event::Apply(o)) => Some(Some(Arc::new(o))),
                    Ok(watcher::Event::Delete(_)) => Some(None),
                    Err(e) => {
                        tracing::debug!("watch of {}/{}: {e}", key.0, key.1);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        None
                    }
                };
                if let Some(v) = new {
                    let changed = {
                        let old = tx.borrow();
                        match (&*old, &v) {
                            (Some(Some(a)), Some(b)) => a.meta().resource_version != b.meta().resource_version,
                            (Some(None), None) => false,
                            _ => true,
                        }
                    };
                    let was_synced = tx.borrow().is_some();
                    tx.send_replace(Some(v));
                    if changed && was_synced {
                        let pods = entries.lock().unwrap().get(&key).map(|e| e.pods.clone()).unwrap_or_default();
                        on_change(&pods);
                    }
                }
            }
        });
        Entry { rx, pods: HashSet::new(), task }
    }

    /// Drops pod `uid`'s references; watches nobody needs any more stop.
    pub fn release(&self, uid: &str) {
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|_, e| {
            e.pods.remove(uid);
            if e.pods.is_empty() {
                e.task.abort();
                false
            } else {
                true
            }
        });
    }
}
