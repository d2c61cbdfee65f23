//! Direct etcd access: CAS writes, consistent reads, paged lists, raw watches, compaction.

use crate::lease::{Leases, TtlPrefix};
use crate::object::{Indexer, Obj};
use crate::{continue_token, metrics, set_resource_version, Event, EventType, Result, StorageError};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType as EtcdEventType, GetOptions, KvClient, PutOptions,
    TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How to reach etcd (`--etcd-servers`, `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`).
#[derive(Debug, Clone, Default)]
pub struct EtcdConfig {
    pub endpoints: Vec<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Per-request deadline.
    pub request_timeout: Option<Duration>,
}

/// A list request against etcd.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// At most this many items (0 = all).
    pub limit: i64,
    /// An opaque token from a previous page.
    pub continue_token: Option<String>,
    /// Read at this revision (0 = the latest).
    pub revision: i64,
}

#[derive(Debug, Clone)]
pub struct ListResult<T = Value> {
    pub items: Vec<T>,
    /// The revision the list was read at.
    pub revision: i64,
    pub continue_token: Option<String>,
    /// Items left after this page, when known.
    pub remaining: Option<i64>,
}

/// A handle on etcd; cheap to clone.
#[derive(Clone)]
pub struct Store {
    client: Client,
    timeout: Duration,
    /// Whether etcd orders requested progress notifications after pending events (learned
    /// once from the server's version).
    progress_ordered: Arc<tokio::sync::OnceCell<bool>>,
    /// Encryption at rest: the transformer of each key prefix that has one.
    transformers: Arc<Vec<(String, Arc<encryption::Transformer>)>>,
    /// What this server wrote, encoded for the watch caches ahead of their events.
    written: Arc<crate::written::Written>,
    /// Key prefixes whose keys expire, and the leases they are attached to.
    ttls: Arc<Vec<TtlPrefix>>,
    leases: Arc<Leases>,
}

/// Data written by a provider this server has no key for, or not encrypted when it should be.
fn undecryptable(key: &[u8], e: impl std::fmt::Display) -> StorageError {
    StorageError::Internal(format!("unable to transform key {:?}: {e}", String::from_utf8_lossy(key)))
}

fn map_err(e: etcd_client::Error) -> StorageError {
    match &e {
        etcd_client::Error::GRpcStatus(s) => {
            let msg = s.message();
            if msg.contains("required revision has been compacted") {
                StorageError::Expired(msg.to_string())
            } else if msg.contains("required revision is a future revision") {
                StorageError::TooLargeResourceVersion { requested: 0, current: 0 }
            } else {
                StorageError::Unavailable(format!("{}: {}", s.code(), msg))
            }
        }
        _ => StorageError::Unavailable(e.to_string()),
    }
}

impl Store {
    fn transformer(&self, key: &[u8]) -> Option<&encryption::Transformer> {
        self.transformers.iter().find(|(p, _)| key.starts_with(p.as_bytes())).map(|(_, t)| t.as_ref())
    }

    /// Decodes a stored value (decrypting it when encrypted) and stamps its resourceVersion.
    pub(crate) fn decode(&self, key: &[u8], value: &[u8], rv: i64) -> Result<Value> {
        self.decode_stale(key, value, rv).map(|(v, _)| v)
    }

    /// `decode`, also saying whether the value was written with other than the current
    /// encryption provider and key (so an update must rewrite it even when unchanged).
    fn decode_stale(&self, key: &[u8], value: &[u8], rv: i64) -> Result<(Value, bool)> {
        let plain;
        let mut stale = false;
        let value = match self.transformer(key) {
            Some(t) => {
                (plain, stale) = t.decrypt(value, key).map_err(|e| undecryptable(key, e))?;
                &plain[..]
            }
            None if value.starts_with(b"k8s:enc:") => {
                plain = encryption::Transformer::identity().decrypt(value, key).map_err(|e| undecryptable(key, e))?.0;
                &plain[..]
            }
            None => value,
        };
        let mut v: Value = serde_json::from_slice(value).map_err(|e| {
            StorageError::Internal(format!("undecodable object at {}: {e}", String::from_utf8_lossy(key)))
        })?;
        set_resource_version(&mut v, rv);
        Ok((v, stale))
    }

    /// Encodes an object for storage, without its resourceVersion, encrypted when configured.
    fn encode(&self, key: &str, obj: &Value) -> Result<Vec<u8>> {
        let data =
            serde_json::to_vec(&WithoutResourceVersion(obj)).map_err(|e| StorageError::Internal(e.to_string()))?;
        match self.transformer(key.as_bytes()) {
            Some(t) => t.encrypt(&data, key.as_bytes()).map_err(|e| undecryptable(key.as_bytes(), e)),
            None => Ok(data),
        }
    }

    /// Encrypts values under each key prefix with its transformer from now on.
    pub fn with_transformers(mut self, t: Vec<(String, Arc<encryption::Transformer>)>) -> Self {
        self.transformers = Arc::new(t);
        self
    }

    /// Keys under `prefix` expire `ttl` after each write (whole seconds, at least one).
    pub fn with_ttl(mut self, prefix: &str, ttl: Duration) -> Self {
        let mut ttls = (*self.ttls).clone();
        ttls.push(TtlPrefix { prefix: prefix.to_string(), seconds: ttl.as_secs().max(1) as i64 });
        self.ttls = Arc::new(ttls);
        self
    }

    /// How a write of `key` is put: attached to a lease when its prefix has a TTL.
    async fn put_options(&self, key: &str) -> Result<Option<PutOptions>> {
        let Some(ttl) = self.ttls.iter().find(|t| key.starts_with(&t.prefix)) else { return Ok(None) };
        let id = self
            .leases
            .get(ttl.seconds, |seconds| async move {
                let mut lease = self.client.lease_client();
                Ok(self.with_timeout(lease.grant(seconds, None)).await?.id())
            })
            .await?;
        Ok(Some(PutOptions::new().with_lease(id)))
    }
}

/// The smallest key greater than every key with the prefix.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The largest gRPC message the store reads, as upstream's etcd client (`math.MaxInt32`).
const MAX_MESSAGE: usize = i32::MAX as usize;

/// Keys per etcd range when a list is not paged by the client: each response stays small,
/// and the whole list still comes from one revision.
const UNPAGED_CHUNK: i64 = 1000;

/// Whether an etcd version (`3.4.23`) orders requested progress notifications after pending
/// events: 3.4.31+, 3.5.13+ and every later minor version.
fn version_orders_progress(version: &str) -> bool {
    let mut it = version.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor, patch) = (it.next().unwrap_or(0), it.next().unwrap_or(0), it.next().unwrap_or(0));
    match (major, minor) {
        (3, 4) => patch >= 31,
        (3, 5) => patch >= 13,
        (3, m) => m > 5,
        (m, _) => m > 3,
    }
}

/// The resource type label for metrics: the second path element of the key.
fn type_of(key: &str) -> &str {
    key.trim_start_matches('/').split('/').nth(1).unwrap_or("")
}

impl Store {
    pub async fn connect(cfg: &EtcdConfig) -> Result<Store> {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        if cfg.ca_file.is_some() || cfg.cert_file.is_some() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca).map_err(|e| StorageError::Unavailable(format!("reading {ca}: {e}")))?;
                tls = tls.ca_certificate(etcd_client::Certificate::from_pem(pem));
            }
            if let (Some(c), Some(k)) = (&cfg.cert_file, &cfg.key_file) {
                let cert = std::fs::read(c).map_err(|e| StorageError::Unavailable(format!("reading {c}: {e}")))?;
                let key = std::fs::read(k).map_err(|e| StorageError::Unavailable(format!("reading {k}: {e}")))?;
                tls = tls.identity(etcd_client::Identity::from_pem(cert, key));
            }
            opts = opts.with_tls(tls);
        }
        let endpoints: Vec<String> = cfg
            .endpoints
            .iter()
            .map(|e| {
                if cfg.ca_file.is_some() {
                    e.replacen("http://", "https://", 1)
                } else {
                    e.trim_start_matches("http://").to_string()
                }
            })
            .collect();
        // The channel connects lazily per request, so a store can be built while etcd is down
        // and recovers by itself when it returns.
        let client = Client::connect(endpoints, Some(opts)).await.map_err(map_err)?;
        Ok(Store {
            client,
            timeout: cfg.request_timeout.unwrap_or(Duration::from_secs(10)),
            transformers: Arc::new(Vec::new()),
            progress_ordered: Arc::new(tokio::sync::OnceCell::new()),
            written: Arc::default(),
            ttls: Arc::default(),
            leases: Arc::default(),
        })
    }

    /// A KV client without gRPC's 4 MiB receive limit: an unpaged list of a large collection
    /// is one big range response, which upstream's client accepts up to 2 GiB.
    fn kv(&self) -> KvClient {
        self.client.kv_client().max_decoding_message_size(MAX_MESSAGE)
    }

    async fn with_timeout<T>(
        &self,
        fut: impl std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(map_err),
            Err(_) => Err(StorageError::Unavailable("request timed out".into())),
        }
    }

    /// Creates `key` only if it does not exist; returns the stored object with its revision.
    /// Creates `key`; returns the object stamped with its resourceVersion (taken by value:
    /// callers hand over what they wrote, so no copy of the tree is made).
    pub async fn create(&self, key: &str, mut obj: Value) -> Result<Value> {
        let _t = metrics::timer("create", type_of(key));
        let data = self.encode(key, &obj)?;
        let put = self.put_options(key).await?;
        let ticket = self.written.record(key, &obj, &data);
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, data, put)]);
        let resp = match self.with_timeout(self.kv().txn(txn)).await {
            Ok(r) if r.succeeded() => r,
            other => {
                self.written.forget(ticket);
                other?;
                return Err(StorageError::AlreadyExists(key.to_string()));
            }
        };
        let rev = resp.header().map(|h| h.revision()).unwrap_or_default();
        set_resource_version(&mut obj, rev);
        Ok(obj)
    }

    /// Reads one key at the latest revision (a quorum read).
    pub async fn get(&self, key: &str) -> Result<Option<Value>> {
        Ok(self.get_stale(key).await?.map(|(v, _)| v))
    }

    /// `get`, also saying whether the stored value is encrypted with an old provider or key.
    pub async fn get_stale(&self, key: &str) -> Result<Option<(Value, bool)>> {
        let _t = metrics::timer("get", type_of(key));
        let resp = self.with_timeout(self.kv().get(key, None)).await?;
        match resp.kvs().first() {
            Some(kv) => Ok(Some(self.decode_stale(kv.key(), kv.value(), kv.mod_revision())?)),
            None => Ok(None),
        }
    }

    /// Replaces `key` if its mod_revision is still `expected_rv`; returns the stored object.
    /// On mismatch it answers Conflict (or NotFound when the key is gone).
    pub async fn update(&self, key: &str, mut obj: Value, expected_rv: i64) -> Result<Value> {
        let _t = metrics::timer("update", type_of(key));
        let data = self.encode(key, &obj)?;
        let put = self.put_options(key).await?;
        let ticket = self.written.record(key, &obj, &data);
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected_rv)])
            .and_then([TxnOp::put(key, data, put)])
            .or_else([TxnOp::get(key, None)]);
        let resp = match self.with_timeout(self.kv().txn(txn)).await {
            Ok(r) if r.succeeded() => r,
            other => {
                self.written.forget(ticket);
                return Err(self.cas_failure(key, other?.op_responses()));
            }
        };
        let rev = resp.header().map(|h| h.revision()).unwrap_or_default();
        set_resource_version(&mut obj, rev);
        Ok(obj)
    }

    /// A watch cache follows `prefix` from now on: writes under it are encoded for it.
    pub(crate) fn follow_writes(&self, prefix: &str, indexer: Indexer) {
        self.written.follow(prefix, indexer);
    }

    fn cas_failure(&self, key: &str, ops: Vec<TxnOpResponse>) -> StorageError {
        let exists = ops.into_iter().any(|op| matches!(op, TxnOpResponse::Get(g) if !g.kvs().is_empty()));
        if exists {
            StorageError::Conflict {
                key: key.to_string(),
                detail: "the object has been modified; please apply your changes to the latest version and try again"
                    .into(),
            }
        } else {
            StorageError::NotFound(key.to_string())
        }
    }

    /// Deletes `key` if its mod_revision is still `expected_rv`; returns the deleted object
    /// stamped with the revision of the deletion.
    pub async fn delete(&self, key: &str, expected_rv: i64) -> Result<Value> {
        let _t = metrics::timer("delete", type_of(key));
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected_rv)])
            .and_then([TxnOp::delete(key, Some(etcd_client::DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.with_timeout(self.kv().txn(txn)).await?;
        let rev = resp.header().map(|h| h.revision()).unwrap_or_default();
        if !resp.succeeded() {
            return Err(self.cas_failure(key, resp.op_responses()));
        }
        for op in resp.op_responses() {
            if let TxnOpResponse::Delete(d) = op {
                if let Some(kv) = d.prev_kvs().first() {
                    return self.decode(kv.key(), kv.value(), rev);
                }
            }
        }
        Err(StorageError::NotFound(key.to_string()))
    }

    /// The current revision of the whole store.
    pub async fn current_revision(&self) -> Result<i64> {
        let resp = self
            .with_timeout(self.kv().get("/registry/health-probe", Some(GetOptions::new().with_count_only())))
            .await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
    }

    /// Lists every key under `prefix` (which ends in `/`), filtered by `pred`, paged by
    /// `opts.limit` and continue tokens, all pages read at one revision.
    pub async fn list(
        &self,
        prefix: &str,
        opts: &ListOptions,
        pred: &(dyn Fn(&Value) -> bool + Sync),
    ) -> Result<ListResult> {
        self.list_map(prefix, opts, &|v: Value| pred(&v).then_some(v)).await
    }

    /// Like [`Store::list`], with each decoded object mapped as it is read (None = filtered
    /// out), so that callers keep only what they need of large lists.
    pub async fn list_map<T>(
        &self,
        prefix: &str,
        opts: &ListOptions,
        map: &(dyn Fn(Value) -> Option<T> + Sync),
    ) -> Result<ListResult<T>> {
        let _t = metrics::timer("list", type_of(prefix));
        let (mut revision, mut start) = match &opts.continue_token {
            Some(tok) if !tok.is_empty() => {
                let (rv, start) = continue_token::decode(tok)?;
                (rv, format!("{prefix}{start}"))
            }
            _ => (opts.revision, prefix.to_string()),
        };
        let end = prefix_end(prefix);
        let limit = opts.limit.max(0);
        let mut items = Vec::new();
        // Fetch in pages of at least `limit` until enough items pass the predicate.
        let page = if limit > 0 { limit.max(64) } else { UNPAGED_CHUNK };
        loop {
            let mut g = GetOptions::new().with_range(end.clone()).with_limit(page + 1);
            if revision > 0 {
                g = g.with_revision(revision);
            }
            let resp = self.with_timeout(self.kv().get(start.clone(), Some(g))).await.map_err(|e| match e {
                StorageError::Expired(_) => StorageError::Expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                ),
                other => other,
            })?;
            if revision == 0 {
                revision = resp.header().map(|h| h.revision()).unwrap_or_default();
            }
            let kvs = resp.kvs();
            let more_in_etcd = resp.more() || kvs.len() as i64 > page;
            let usable = &kvs[..kvs.len().min(page as usize)];
            for (i, kv) in usable.iter().enumerate() {
                let obj = self.decode(kv.key(), kv.value(), kv.mod_revision())?;
                if let Some(item) = map(obj) {
                    items.push(item);
                    if limit > 0 && items.len() as i64 == limit {
                        let more = i + 1 < usable.len() || more_in_etcd;
                        if more {
                            let key = String::from_utf8_lossy(kv.key()).to_string();
                            let next = format!("{}\u{0}", &key[prefix.len()..]);
                            let remaining = (resp.count() - (i as i64 + 1)).max(0);
                            return Ok(ListResult {
                                items,
                                revision,
                                continue_token: Some(continue_token::encode(revision, &next)),
                                remaining: Some(remaining),
                            });
                        }
                        return Ok(ListResult { items, revision, continue_token: None, remaining: None });
                    }
                }
            }
            if !more_in_etcd || usable.is_empty() {
                return Ok(ListResult { items, revision, continue_token: None, remaining: None });
            }
            let last = usable.last().map(|kv| kv.key().to_vec()).unwrap_or_default();
            start = format!("{}\u{0}", String::from_utf8_lossy(&last));
        }
    }

    /// Whether etcd answers a requested progress notification only after the events it
    /// covers, so that its revision can be trusted. Older versions answer at once with the
    /// current revision, ahead of events still on their way (etcd#15220); upstream trusts
    /// 3.4.31, 3.5.13 and later. Asked once; an unreachable server counts as old.
    pub async fn progress_requests_ordered(&self) -> bool {
        *self
            .progress_ordered
            .get_or_init(|| async {
                let mut m = self.client.maintenance_client();
                match self.with_timeout(m.status()).await {
                    Ok(s) => version_orders_progress(s.version()),
                    Err(_) => false,
                }
            })
            .await
    }

    /// Whether nothing under `prefix` changed in `(after, at]`, given that `count` keys were
    /// there at `after`: no key has a newer mod revision (a write) and the count is the same
    /// (a deletion lowers it, which only a newer write could make up for). etcd reads every
    /// value in the range to filter by mod revision, but sends back at most one key.
    pub async fn unchanged_between(&self, prefix: &str, after: i64, at: i64, count: usize) -> Result<bool> {
        let end = prefix_end(prefix);
        let newer = GetOptions::new()
            .with_range(end.clone())
            .with_revision(at)
            .with_keys_only()
            .with_limit(1)
            .with_min_mod_revision(after + 1);
        let all = GetOptions::new().with_range(end).with_revision(at).with_count_only();
        let (mut kv1, mut kv2) = (self.kv(), self.kv());
        let (newer, all) = tokio::join!(
            self.with_timeout(kv1.get(prefix, Some(newer))),
            self.with_timeout(kv2.get(prefix, Some(all)))
        );
        Ok(newer?.kvs().is_empty() && all?.count() == count as i64)
    }

    /// Counts the keys under a prefix.
    pub async fn count(&self, prefix: &str) -> Result<i64> {
        let resp =
            self.with_timeout(self.kv().get(prefix, Some(GetOptions::new().with_prefix().with_count_only()))).await?;
        Ok(resp.count())
    }

    /// Compacts etcd's history up to `revision`.
    pub async fn compact(&self, revision: i64) -> Result<()> {
        let _t = metrics::timer("compact", "");
        match self.with_timeout(self.kv().compact(revision, None)).await {
            Ok(_) => Ok(()),
            // Compacting to an already compacted revision is fine.
            Err(StorageError::Expired(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Opens a raw etcd watch on `prefix` from `start_rev` (inclusive) with progress
    /// notifications and previous values.
    pub async fn watch_raw(&self, prefix: &str, start_rev: i64) -> Result<etcd_client::WatchStream> {
        let opts =
            WatchOptions::new().with_prefix().with_start_revision(start_rev).with_prev_key().with_progress_notify();
        let mut wc = self.client.watch_client().max_decoding_message_size(MAX_MESSAGE);
        self.with_timeout(wc.watch(prefix, Some(opts))).await
    }

    /// Watches `prefix` directly in etcd, from just after `after_rev`, as a stream of events.
    /// The first item is an error Expired if `after_rev` was compacted away.
    pub fn watch(&self, prefix: &str, after_rev: i64, indexer: Indexer) -> tokio::sync::mpsc::Receiver<Result<Event>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let store = self.clone();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let mut ws = match store.watch_raw(&prefix, after_rev + 1).await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            loop {
                let msg = tokio::select! {
                    m = ws.message() => m,
                    _ = tx.closed() => return,
                };
                match msg {
                    Ok(Some(resp)) => {
                        if resp.canceled() {
                            let err = if resp.compact_revision() > 0 {
                                StorageError::Expired(format!(
                                    "too old resource version: {} ({})",
                                    after_rev,
                                    resp.compact_revision()
                                ))
                            } else {
                                StorageError::Unavailable(resp.cancel_reason().to_string())
                            };
                            let _ = tx.send(Err(err)).await;
                            return;
                        }
                        for ev in convert_events(&store, &resp, &indexer, &|_| None, false) {
                            if tx.send(ev).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(map_err(e))).await;
                        return;
                    }
                }
            }
        });
        rx
    }
}

/// Turns one etcd watch response into events. `known` offers the object a key held before
/// (the watch cache's copy); it is used when its revision is the event's previous one, which
/// spares decoding and re-encoding etcd's `prev_kv` for every modification.
pub(crate) fn convert_events(
    store: &Store,
    resp: &etcd_client::WatchResponse,
    indexer: &Indexer,
    known: &dyn Fn(&str) -> Option<Arc<Obj>>,
    written: bool,
) -> Vec<Result<Event>> {
    let mut out = Vec::with_capacity(resp.events().len());
    // Keys changed earlier in this response: their previous object is the one made here.
    let mut batch: Vec<(Arc<str>, Arc<Obj>)> = Vec::new();
    for ev in resp.events() {
        let Some(kv) = ev.kv() else { continue };
        let key: Arc<str> = Arc::from(String::from_utf8_lossy(kv.key()).as_ref());
        let rev = kv.mod_revision();
        let is_delete = ev.event_type() == EtcdEventType::Delete;
        let prev_rev = ev.prev_kv().map(|p| p.mod_revision());
        let reused = match prev_rev {
            Some(pr) if !is_delete => batch
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, o)| o.clone())
                .or_else(|| known(&key))
                .filter(|o| o.rv == pr),
            _ => None,
        };
        let prev_value = match reused {
            Some(_) => None,
            None => ev.prev_kv().and_then(|p| store.decode(p.key(), p.value(), p.mod_revision()).ok()),
        };
        let prev = reused.or_else(|| prev_value.as_ref().map(|p| Arc::new(Obj::from_value(p, p_rv(p), indexer))));
        let res = match ev.event_type() {
            EtcdEventType::Put => {
                let kind = if kv.create_revision() == rev { EventType::Added } else { EventType::Modified };
                // This server's own write arrives already encoded (see `written`).
                let recorded = if written { store.written.take(&key, kv.value(), rev) } else { None };
                let obj = match recorded {
                    Some(o) => Ok(Arc::new(o)),
                    None => {
                        store.decode(kv.key(), kv.value(), rev).map(|v| Arc::new(Obj::from_value(&v, rev, indexer)))
                    }
                };
                obj.map(|obj| Event { kind, key: key.clone(), obj, prev, rv: rev })
            }
            EtcdEventType::Delete => match prev_value {
                Some(mut obj) => {
                    set_resource_version(&mut obj, rev);
                    Ok(Event {
                        kind: EventType::Deleted,
                        key: key.clone(),
                        obj: Arc::new(Obj::from_value(&obj, rev, indexer)),
                        prev,
                        rv: rev,
                    })
                }
                None => continue,
            },
        };
        if let Ok(e) = &res {
            if e.kind != EventType::Deleted {
                batch.push((key, e.obj.clone()));
            }
        }
        out.push(res);
    }
    out
}

fn p_rv(v: &Value) -> i64 {
    v.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|r| r.parse().ok()).unwrap_or(0)
}

impl Store {
    /// Compacts etcd every `interval` to the revision seen one interval earlier, as upstream's
    /// `--etcd-compaction-interval` does, so history covers at least one interval.
    pub fn start_compactor(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut last = 0i64;
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                if last > 0 {
                    match store.compact(last).await {
                        Ok(()) => tracing::debug!(revision = last, "compacted etcd"),
                        Err(e) => tracing::warn!(error = %e, "etcd compaction failed"),
                    }
                }
                match store.current_revision().await {
                    Ok(r) => last = r,
                    Err(e) => {
                        tracing::debug!(error = %e, "reading etcd revision for compaction failed")
                    }
                }
            }
        })
    }
}

/// An object as stored: without `metadata.resourceVersion` (etcd's revision is the version),
/// encoded from the caller's tree instead of a copy of it.
struct WithoutResourceVersion<'a>(&'a Value);

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Meta<'a>(&'a serde_json::Map<String, Value>);
        impl serde::Serialize for Meta<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().filter(|(k, _)| *k != "resourceVersion"))
            }
        }
        use serde::ser::SerializeMap;
        let Value::Object(m) = self.0 else { return self.0.serialize(s) };
        let mut out = s.serialize_map(Some(m.len()))?;
        for (k, v) in m {
            match v {
                Value::Object(meta) if k == "metadata" => out.serialize_entry(k, &Meta(meta))?,
                _ => out.serialize_entry(k, v)?,
            }
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_ordering_by_etcd_version() {
        for (v, ok) in [
            ("3.4.23", false),
            ("3.4.31", true),
            ("3.5.12", false),
            ("3.5.13", true),
            ("3.6.0", true),
            ("3.3.27", false),
            ("", false),
        ] {
            assert_eq!(super::version_orders_progress(v), ok, "{v}");
        }
    }
}
