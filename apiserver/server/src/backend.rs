//! The apiserver's view of storage: etcd keys per resource and one watch cache per stored
//! resource prefix, created on first use.

use api_types::ResourceDef;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use storage::{Cacher, CacherConfig, Indexer, Store};

pub struct Backend {
    pub store: Store,
    /// `--etcd-prefix` without a trailing slash (`/registry`).
    pub prefix: String,
    cachers: Mutex<HashMap<String, Arc<Cacher>>>,
    cacher_cfg: CacherConfig,
    pub watch_cache: bool,
    /// (group, resource) pairs served from etcd alone (`--watch-cache-sizes` of 0).
    uncached: HashSet<(String, String)>,
}

/// The resources `--watch-cache-sizes` leaves without a watch cache: upstream's defaults
/// (both views of Events: written often, read rarely, never worth a cache) with the flag's
/// settings over them. Errors as upstream's `ParseWatchCacheSizes`.
pub fn uncached_resources(sizes: &[String]) -> Result<HashSet<(String, String)>, String> {
    let mut out: HashSet<(String, String)> =
        [("", "events"), ("events.k8s.io", "events")].iter().map(|(g, r)| (g.to_string(), r.to_string())).collect();
    for setting in sizes.iter().filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = setting.split('#').collect();
        let [resource, size] = parts[..] else {
            return Err(format!("invalid value of watch cache size: {setting}"));
        };
        let size: i64 = size.parse().map_err(|_| format!("invalid size of watch cache size: {setting}"))?;
        if size < 0 {
            return Err(format!("watch cache size cannot be negative: {setting}"));
        }
        let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
        let gr = (group.to_string(), resource.to_string());
        if size == 0 {
            out.insert(gr);
        } else {
            out.remove(&gr);
        }
    }
    Ok(out)
}

impl Backend {
    pub fn new(store: Store, prefix: &str, cacher_cfg: CacherConfig, watch_cache: bool) -> Self {
        Backend {
            store,
            prefix: prefix.trim_end_matches('/').to_string(),
            cachers: Mutex::new(HashMap::new()),
            cacher_cfg,
            watch_cache,
            uncached: HashSet::new(),
        }
    }

    pub fn with_uncached(mut self, uncached: HashSet<(String, String)>) -> Self {
        self.uncached = uncached;
        self
    }

    /// Whether a resource's reads and watches go through a watch cache.
    pub fn caches(&self, rd: &ResourceDef) -> bool {
        self.watch_cache && !self.uncached.contains(&(rd.group.to_string(), rd.plural.to_string()))
    }

    /// `/registry/<resource-prefix>/` (with the trailing slash).
    pub fn resource_prefix(&self, rd: &ResourceDef) -> String {
        format!("{}/{}/", self.prefix, rd.etcd_prefix)
    }

    /// The prefix of a list: the whole resource, or one namespace of it.
    pub fn list_prefix(&self, rd: &ResourceDef, namespace: &str) -> String {
        if rd.namespaced && !namespace.is_empty() {
            format!("{}{namespace}/", self.resource_prefix(rd))
        } else {
            self.resource_prefix(rd)
        }
    }

    pub fn key(&self, rd: &ResourceDef, namespace: &str, name: &str) -> String {
        if rd.namespaced {
            format!("{}{namespace}/{name}", self.resource_prefix(rd))
        } else {
            format!("{}{name}", self.resource_prefix(rd))
        }
    }

    /// The watch cache of a resource, started on first use.
    pub fn cacher(&self, rd: &'static ResourceDef) -> Arc<Cacher> {
        let prefix = self.resource_prefix(rd);
        let mut m = self.cachers.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(prefix.clone())
            .or_insert_with(|| {
                let cfg = CacherConfig { indexer: self.indexer(rd), ..self.cacher_cfg.clone() };
                Cacher::start(self.store.clone(), &prefix, cfg)
            })
            .clone()
    }

    /// An object as the resource's watch cache holds it, if that cache is running and filled;
    /// it may be behind etcd (see `Ctx::guaranteed_update_with`).
    pub fn cached(&self, rd: &'static ResourceDef, key: &str) -> Option<serde_json::Value> {
        if !self.caches(rd) {
            return None;
        }
        let cacher = self.cachers.lock().unwrap_or_else(|p| p.into_inner()).get(&self.resource_prefix(rd)).cloned()?;
        if cacher.revision() == 0 {
            return None;
        }
        cacher.get(key).0.map(|o| o.value())
    }

    /// Computes a resource's selectable fields, for the cache and for etcd reads. Resources
    /// that share a prefix (core and events.k8s.io Events) share one cache, so its objects
    /// carry the fields of every resource stored there.
    pub fn indexer(&self, rd: &'static ResourceDef) -> Indexer {
        let sharing: Vec<&'static ResourceDef> =
            api_types::resources().iter().filter(|r| r.etcd_prefix == rd.etcd_prefix && r.is_stored()).collect();
        Arc::new(move |v: &serde_json::Value| {
            let mut out = Vec::new();
            for r in &sharing {
                for f in api_types::kinds::fields::field_set(r, v) {
                    if !out.iter().any(|(k, _): &(&str, String)| *k == f.0) {
                        out.push(f);
                    }
                }
            }
            out
        })
    }

    /// Watchers per cached prefix, for `/metrics`.
    pub fn watcher_counts(&self) -> Vec<(String, usize)> {
        let m = self.cachers.lock().unwrap_or_else(|p| p.into_inner());
        m.iter().map(|(k, c)| (k.clone(), c.watchers())).collect()
    }
}

/// Reads one object for the security pipeline (tokens, bindings, admission): from the watch
/// cache once it is filled, else (or when the cache has not seen it) from etcd. None when absent
/// or unreadable.
pub async fn lookup(
    st: &crate::ApiServer,
    group: &str,
    plural: &str,
    ns: &str,
    name: &str,
) -> Option<serde_json::Value> {
    let rd = api_types::resources().iter().find(|r| r.group == group && r.plural == plural && r.is_stored())?;
    let key = st.backend.key(rd, ns, name);
    if st.backend.caches(rd) {
        let c = st.backend.cacher(rd);
        if c.revision() > 0 {
            if let Some(o) = c.get(&key).0 {
                return Some(o.value());
            }
            // A miss may be an object created a moment ago that the cache has not seen yet
            // (a TokenRequest right after its ServiceAccount's create): read it, as upstream's
            // listers fall back to a live lookup.
        }
    }
    st.backend.store.get(&key).await.ok().flatten()
}

/// One namespace's objects of a stored resource from its watch cache, those `keep` accepts
/// (admission plugins read LimitRanges, quotas, pods and EndpointSlices this way).
pub fn cached_in_namespace(
    st: &crate::ApiServer,
    group: &str,
    plural: &str,
    ns: &str,
    keep: &dyn Fn(&storage::Obj) -> bool,
) -> Vec<serde_json::Value> {
    let Some(rd) = api_types::resources().iter().find(|r| r.group == group && r.plural == plural && r.is_stored())
    else {
        return Vec::new();
    };
    let prefix = format!("{}{ns}/", st.backend.resource_prefix(rd));
    st.backend.cacher(rd).snapshot_prefix(&prefix, keep).0.iter().map(|o| o.value()).collect()
}

/// What [`follow`] reports.
pub enum Change<'a> {
    /// A full reload starts (first load, or the follower fell behind): forget what you have.
    Reset,
    /// A change, with the cached object: followers decode only what they read.
    Apply(storage::EventType, &'a storage::Obj),
    /// The first full load is done.
    Synced,
}

/// Follows one resource through its watch cache, in-process informer style: every object on
/// (re)load, then every change, reloading whenever the follower falls behind.
pub fn follow(
    st: std::sync::Arc<crate::ApiServer>,
    rd: &'static ResourceDef,
    mut on: impl FnMut(Change<'_>) + Send + 'static,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let cacher = st.backend.cacher(rd);
            let w = loop {
                match cacher.watch(None) {
                    Ok(w) => break w,
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            };
            on(Change::Reset);
            for e in &w.initial {
                on(Change::Apply(e.kind, &e.obj));
            }
            if std::mem::take(&mut first) {
                on(Change::Synced);
            }
            let mut rx = w.rx;
            loop {
                match rx.recv().await {
                    Ok(e) if e.kind != storage::EventType::Bookmark => on(Change::Apply(e.kind, &e.obj)),
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gr(g: &str, r: &str) -> (String, String) {
        (g.to_string(), r.to_string())
    }

    #[test]
    fn events_are_uncached_unless_the_flag_says_otherwise() {
        let d = uncached_resources(&[]).unwrap();
        assert!(d.contains(&gr("", "events")) && d.contains(&gr("events.k8s.io", "events")));
        assert_eq!(d.len(), 2);
        let s = |v: &[&str]| uncached_resources(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let d = s(&["events#100", "deployments.apps#0", "pods#0"]).unwrap();
        assert!(!d.contains(&gr("", "events")) && d.contains(&gr("events.k8s.io", "events")));
        assert!(d.contains(&gr("apps", "deployments")) && d.contains(&gr("", "pods")));
    }

    #[test]
    fn malformed_sizes_are_refused_as_upstream_does() {
        let s = |v: &str| uncached_resources(&[v.to_string()]).unwrap_err();
        assert_eq!(s("pods"), "invalid value of watch cache size: pods");
        assert_eq!(s("pods#1#2"), "invalid value of watch cache size: pods#1#2");
        assert_eq!(s("pods#-1"), "watch cache size cannot be negative: pods#-1");
        assert_eq!(s("pods#x"), "invalid size of watch cache size: pods#x");
    }
}
