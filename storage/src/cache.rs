//! The watch cache: one etcd watch per resource prefix, kept as an in-memory copy of every
//! object plus a bounded window of recent events, fanned out to any number of watchers.
//!
//! Invariant: `history` holds every event with `oldest < rv <= state.rv`, and each event is
//! published on the broadcast channel while the state lock is held, so a watcher that takes
//! its replay (or snapshot) and subscribes under the same lock sees every later event exactly
//! once, in order.

use crate::etcd::{convert_events, ListOptions, Store};
use crate::object::{default_indexer, Indexer, Obj};
use crate::{metrics, Event, EventType, Result, StorageError};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// How often a reader waiting for the cache to reach a revision asks etcd for progress again.
const PROGRESS_REASK: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct CacherConfig {
    /// Events kept for watchers that resume from an older resourceVersion.
    pub history: usize,
    /// How often watchers are sent a bookmark (via an etcd progress request).
    pub bookmark_interval: Duration,
    /// Buffer per watcher before it counts as too slow and is closed.
    pub watcher_buffer: usize,
    /// Computes the selectable fields of the resource's objects.
    pub indexer: Indexer,
}

impl Default for CacherConfig {
    fn default() -> Self {
        CacherConfig {
            history: 10_000,
            bookmark_interval: Duration::from_secs(60),
            watcher_buffer: 8192,
            indexer: default_indexer(),
        }
    }
}

struct State {
    objects: BTreeMap<Arc<str>, Arc<Obj>>,
    history: VecDeque<Arc<Event>>,
    rv: i64,
    /// The revision of the newest event applied (or of the list): `rv` may be past it only
    /// through progress notifications.
    last_event: i64,
    oldest: i64,
    ready: bool,
    tx: broadcast::Sender<Arc<Event>>,
}

/// A cached view of one resource prefix.
pub struct Cacher {
    store: Store,
    prefix: String,
    resource: String,
    cfg: CacherConfig,
    state: RwLock<State>,
    rv_tx: watch::Sender<i64>,
    progress_tx: mpsc::Sender<()>,
}

/// A watcher's start: the events to send first, then the live channel.
pub struct CacheWatch {
    pub initial: Vec<Arc<Event>>,
    pub rx: broadcast::Receiver<Arc<Event>>,
    /// The revision the initial events bring the watcher to.
    pub start_rv: i64,
}

impl Cacher {
    /// Starts caching `prefix` (ending in `/`). The cache fills in the background.
    pub fn start(store: Store, prefix: &str, cfg: CacherConfig) -> Arc<Cacher> {
        let (tx, _) = broadcast::channel(cfg.watcher_buffer.max(16));
        let (rv_tx, _) = watch::channel(0);
        let (progress_tx, progress_rx) = mpsc::channel(16);
        let resource = prefix.trim_start_matches("/registry/").trim_end_matches('/').to_string();
        store.follow_writes(prefix, cfg.indexer.clone());
        let c = Arc::new(Cacher {
            store,
            prefix: prefix.to_string(),
            resource,
            cfg,
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                rv: 0,
                last_event: 0,
                oldest: 0,
                ready: false,
                tx,
            }),
            rv_tx,
            progress_tx,
        });
        tokio::spawn(c.clone().run(progress_rx));
        c
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The revision the cache is at (0 while not ready).
    pub fn revision(&self) -> i64 {
        let s = self.read();
        if s.ready {
            s.rv
        } else {
            0
        }
    }

    /// Waits until the cache is ready and at least at `min_rv`. Asks etcd for a progress
    /// notification when the cache may simply have seen no event since `min_rv`, and asks
    /// again while it waits: a notification that came ahead of its events is not trusted.
    pub async fn wait_fresh(&self, min_rv: i64, timeout: Duration) -> Result<i64> {
        let mut rx = self.rv_tx.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut next_ask = tokio::time::Instant::now();
        loop {
            {
                let s = self.read();
                if s.ready && s.rv >= min_rv {
                    return Ok(s.rv);
                }
                let now = tokio::time::Instant::now();
                if s.ready && now >= next_ask {
                    next_ask = now + PROGRESS_REASK;
                    let _ = self.progress_tx.try_send(());
                }
            }
            let wake = if next_ask < deadline { next_ask } else { deadline };
            match tokio::time::timeout_at(wake, rx.changed()).await {
                Ok(Ok(())) => {}
                Err(_) if wake < deadline => {}
                Ok(Err(_)) | Err(_) => {
                    let s = self.read();
                    return Err(if s.ready {
                        StorageError::TooLargeResourceVersion { requested: min_rv, current: s.rv }
                    } else {
                        StorageError::Unavailable("the watch cache is not initialized".into())
                    });
                }
            }
        }
    }

    /// Brings the cache to etcd's current revision (a consistent read point).
    pub async fn sync_latest(&self, timeout: Duration) -> Result<i64> {
        let current = self.store.current_revision().await?;
        self.wait_fresh(current, timeout).await
    }

    /// A snapshot of every object, in key order, with the cache's revision.
    pub fn snapshot(&self, pred: &dyn Fn(&Obj) -> bool) -> (Vec<Arc<Obj>>, i64) {
        let s = self.read();
        (s.objects.values().filter(|o| pred(o)).cloned().collect(), s.rv)
    }

    /// Objects under a sub-prefix (e.g. one namespace), in key order.
    pub fn snapshot_prefix(&self, sub: &str, pred: &dyn Fn(&Obj) -> bool) -> (Vec<Arc<Obj>>, i64) {
        let s = self.read();
        let start: Arc<str> = Arc::from(sub);
        let items = s
            .objects
            .range(start..)
            .take_while(|(k, _)| k.starts_with(sub))
            .map(|(_, v)| v)
            .filter(|o| pred(o))
            .cloned()
            .collect();
        (items, s.rv)
    }

    pub fn get(&self, key: &str) -> (Option<Arc<Obj>>, i64) {
        let s = self.read();
        (s.objects.get(key).cloned(), s.rv)
    }

    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts a watch. `after` = None: synthetic ADDED events for every current object, then
    /// changes. `after` = Some(rv): every event after rv. Expired when rv is older than the
    /// cache's window (the caller may then watch etcd directly).
    pub fn watch(&self, after: Option<i64>) -> Result<CacheWatch> {
        let s = self.read();
        if !s.ready {
            return Err(StorageError::Unavailable("the watch cache is not initialized".into()));
        }
        let initial: Vec<Arc<Event>> = match after {
            None => s
                .objects
                .iter()
                .map(|(k, o)| {
                    Arc::new(Event { kind: EventType::Added, key: k.clone(), obj: o.clone(), prev: None, rv: o.rv })
                })
                .collect(),
            Some(rv) => {
                if rv < s.oldest {
                    return Err(StorageError::Expired(format!("too old resource version: {rv} ({})", s.oldest)));
                }
                // History is ordered by rv: skip what the watcher has already seen.
                let skip = s.history.partition_point(|e| e.rv <= rv);
                s.history.iter().skip(skip).cloned().collect()
            }
        };
        Ok(CacheWatch { initial, rx: s.tx.subscribe(), start_rv: s.rv })
    }

    /// How many watchers are subscribed.
    pub fn watchers(&self) -> usize {
        self.read().tx.receiver_count()
    }

    /// Reads every object at one revision, a page at a time, encoding each page as it
    /// arrives so that the decoded form of the whole set never exists at once.
    async fn list_all(&self) -> Result<(BTreeMap<Arc<str>, Arc<Obj>>, i64)> {
        let mut objects = BTreeMap::new();
        let mut opts = ListOptions { limit: 500, ..Default::default() };
        loop {
            let page = self.store.list(&self.prefix, &opts, &|_| true).await?;
            for o in page.items {
                let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
                let Some(name) = o.pointer("/metadata/name").and_then(Value::as_str) else { continue };
                let key = if ns.is_empty() {
                    format!("{}{name}", self.prefix)
                } else {
                    format!("{}{ns}/{name}", self.prefix)
                };
                let orv = o
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                objects.insert(Arc::from(key.as_str()), Arc::new(Obj::from_value(&o, orv, &self.cfg.indexer)));
            }
            match page.continue_token {
                Some(t) => {
                    opts.continue_token = Some(t);
                    opts.revision = page.revision;
                }
                None => return Ok((objects, page.revision)),
            }
        }
    }

    fn reset(&self, objects: BTreeMap<Arc<str>, Arc<Obj>>, rv: i64) {
        let mut s = self.write();
        s.objects = objects;
        s.history.clear();
        s.rv = rv;
        s.last_event = rv;
        s.oldest = rv;
        s.ready = true;
        // Watchers of the previous incarnation end; they resume from their last revision.
        let (tx, _) = broadcast::channel(self.cfg.watcher_buffer.max(16));
        s.tx = tx;
        metrics::STORAGE_OBJECTS.with_label_values(&[&self.resource]).set(s.objects.len() as i64);
        drop(s);
        self.rv_tx.send_replace(rv);
    }

    /// Applies a batch of watch events. False when an event arrived that a progress
    /// notification had already claimed to cover: the cache cannot tell what its watchers
    /// and readers missed, and must be rebuilt.
    fn apply(&self, events: Vec<Event>) -> bool {
        let mut s = self.write();
        for ev in events {
            if ev.rv <= s.rv {
                if ev.rv > s.last_event {
                    return false;
                }
                continue;
            }
            s.last_event = ev.rv;
            match ev.kind {
                EventType::Deleted => {
                    s.objects.remove(&ev.key);
                }
                _ => {
                    s.objects.insert(ev.key.clone(), ev.obj.clone());
                }
            }
            s.rv = ev.rv;
            let ev = Arc::new(ev);
            s.history.push_back(ev.clone());
            while s.history.len() > self.cfg.history {
                if let Some(old) = s.history.pop_front() {
                    s.oldest = old.rv;
                }
            }
            let _ = s.tx.send(ev);
        }
        metrics::STORAGE_OBJECTS.with_label_values(&[&self.resource]).set(s.objects.len() as i64);
        let rv = s.rv;
        drop(s);
        self.rv_tx.send_replace(rv);
        true
    }

    /// A progress notification at `rv`. etcd's periodic ones (on the cache's own watch) come
    /// after the events they cover. Requested ones (watch id -1) do too from etcd 3.4.31 and
    /// 3.5.13 on; older servers answer at once with their current revision while events are
    /// still on their way (etcd#15220), and taking that revision would drop those events from
    /// the cache for good, so there the revision is trusted only once etcd confirms that
    /// nothing under the prefix changed since the cache's.
    async fn on_progress(&self, rv: i64, requested: bool) {
        let (from, count) = {
            let s = self.read();
            if !s.ready {
                return;
            }
            (s.rv, s.objects.len())
        };
        // Not past the cache's revision: only a bookmark for the watchers.
        if rv <= from || !requested || self.store.progress_requests_ordered().await {
            self.progress(rv);
            return;
        }
        match self.store.unchanged_between(&self.prefix, from, rv, count).await {
            Ok(true) => self.progress(rv),
            Ok(false) => {
                tracing::debug!(prefix = %self.prefix, from, rv, "progress notification ahead of its events; ignored")
            }
            Err(e) => tracing::debug!(prefix = %self.prefix, error = %e, "progress notification not verified"),
        }
    }

    fn progress(&self, rv: i64) {
        let mut s = self.write();
        if !s.ready || rv < s.rv {
            return;
        }
        s.rv = rv;
        if s.tx.receiver_count() > 0 {
            let _ = s.tx.send(Arc::new(Event::bookmark(rv)));
        }
        drop(s);
        self.rv_tx.send_replace(rv);
    }

    async fn run(self: Arc<Self>, mut progress_rx: mpsc::Receiver<()>) {
        let retry = Duration::from_millis(500);
        'relist: loop {
            let (items, rv) = match self.list_all().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(prefix = %self.prefix, error = %e, "watch cache list failed; retrying");
                    tokio::time::sleep(retry).await;
                    continue;
                }
            };
            self.reset(items, rv);
            let mut tick = tokio::time::interval(self.cfg.bookmark_interval);
            tick.tick().await;
            loop {
                let from = self.read().rv;
                let mut ws = match self.store.watch_raw(&self.prefix, from + 1).await {
                    Ok(ws) => ws,
                    Err(e) => {
                        tracing::debug!(prefix = %self.prefix, error = %e, "watch cache watch failed; retrying");
                        tokio::time::sleep(retry).await;
                        continue;
                    }
                };
                loop {
                    tokio::select! {
                        msg = ws.message() => match msg {
                            Ok(Some(resp)) => {
                                if resp.canceled() {
                                    if resp.compact_revision() > 0 {
                                        tracing::info!(prefix = %self.prefix, "watch cache fell behind compaction; relisting");
                                        continue 'relist;
                                    }
                                    break;
                                }
                                if resp.created() {
                                    continue;
                                }
                                if resp.events().is_empty() {
                                    if let Some(h) = resp.header() {
                                        self.on_progress(h.revision(), resp.watch_id() == -1).await;
                                    }
                                    continue;
                                }
                                let mut events = Vec::new();
                                let mut failed = false;
                                for ev in convert_events(&self.store, &resp, &self.cfg.indexer, &|k| self.get(k).0, true) {
                                    match ev {
                                        Ok(e) => events.push(e),
                                        Err(e) => {
                                            tracing::warn!(prefix = %self.prefix, error = %e, "skipping undecodable event");
                                            failed = true;
                                        }
                                    }
                                }
                                let _ = failed;
                                if !self.apply(events) {
                                    tracing::warn!(prefix = %self.prefix, "an event arrived behind a progress notification; relisting");
                                    continue 'relist;
                                }
                            }
                            Ok(None) | Err(_) => break,
                        },
                        Some(()) = progress_rx.recv() => {
                            let _ = ws.request_progress().await;
                        }
                        _ = tick.tick() => {
                            if self.watchers() > 0 {
                                let _ = ws.request_progress().await;
                            }
                        }
                    }
                }
                tokio::time::sleep(retry).await;
            }
        }
    }
}
