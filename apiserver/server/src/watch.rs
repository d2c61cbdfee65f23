//! Watch streams: `?watch=true` and `/watch/` paths, served from the watch cache (or from etcd
//! when a client resumes from before the cache's window), filtered per watcher, with bookmarks,
//! `sendInitialEvents`, and `timeoutSeconds`.

use crate::codec::Encoding;
use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use crate::Body;
use api_types::selector::FieldRequirement;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use storage::{Event, EventType, Obj, StorageError};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

fn list_options_invalid(field: &str, detail: &str) -> ApiError {
    ApiError::Invalid {
        kind: "ListOptions".into(),
        group: "meta.k8s.io".into(),
        name: String::new(),
        errors: vec![api_types::FieldError::forbidden(&api_types::FieldPath::new(field), detail)],
    }
}

/// Where events come from once the initial ones are sent.
enum Source {
    Cache(tokio::sync::broadcast::Receiver<Arc<Event>>),
    Etcd(mpsc::Receiver<storage::Result<Event>>),
}

pub async fn watch(ctx: &Ctx<'_>, name: Option<&str>, enc: Encoding) -> ApiResult<http::Response<Body>> {
    // A stream is one encoding throughout: kinds without a protobuf form stream JSON.
    let enc =
        if enc == Encoding::Protobuf && openapi::kind_definition(ctx.rd.group, ctx.rd.version, ctx.rd.kind).is_none() {
            Encoding::Json
        } else {
            enc
        };
    let (ls, mut fs) = ctx.selectors()?;
    if let Some(n) = name {
        fs.0.push(FieldRequirement { field: "metadata.name".into(), value: n.to_string(), negated: false });
    }
    let q = ctx.q;
    let rv = q.str("resourceVersion").to_string();
    let rv_match = q.str("resourceVersionMatch");
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.get("sendInitialEvents").map(|v| crate::codec::parse_bool(v) == Some(true));
    match send_initial {
        Some(_) => {
            if rv_match != "NotOlderThan" {
                return Err(list_options_invalid(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if send_initial == Some(true) && !bookmarks {
                return Err(list_options_invalid(
                    "allowWatchBookmarks",
                    "sendInitialEvents requires allowWatchBookmarks=true",
                ));
            }
        }
        None if !rv_match.is_empty() => {
            return Err(list_options_invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        None => {}
    }
    let rv_num: i64 = if rv.is_empty() {
        0
    } else {
        rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?
    };
    let timeout = match q.int("timeoutSeconds")? {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => {
            // Upstream: a random timeout in [min-request-timeout, 2*min-request-timeout).
            let min = ctx.st.min_request_timeout.max(1);
            Duration::from_secs(min + rand::random::<u64>() % min)
        }
    };
    let initial_events = match send_initial {
        Some(b) => b,
        None => rv.is_empty() || rv == "0",
    };
    let q_err = |e: StorageError| ApiError::from_storage(e, &ctx.qualified(""));
    let mut pre_error: Option<ApiError> = None;
    let (initial, source, start_rv) = if !ctx.st.backend.caches(ctx.rd) {
        etcd_start(ctx, initial_events, rv_num).await.map_err(q_err)?
    } else {
        let cacher = ctx.st.backend.cacher(ctx.rd);
        let wait = Duration::from_secs(3);
        if initial_events {
            if rv.is_empty() {
                cacher.sync_latest(wait).await.map_err(q_err)?;
            } else {
                cacher.wait_fresh(rv_num.max(1), wait).await.map_err(q_err)?;
            }
            let w = cacher.watch(None).map_err(q_err)?;
            (w.initial, Source::Cache(w.rx), w.start_rv)
        } else if rv.is_empty() {
            // sendInitialEvents=false without a version: start at the most recent.
            cacher.sync_latest(wait).await.map_err(q_err)?;
            let w = cacher.watch(Some(i64::MAX)).or_else(|_| cacher.watch(Some(cacher.revision()))).map_err(q_err)?;
            (Vec::new(), Source::Cache(w.rx), w.start_rv)
        } else {
            cacher.wait_fresh(rv_num, wait).await.map_err(q_err)?;
            match cacher.watch(Some(rv_num)) {
                Ok(w) => (w.initial, Source::Cache(w.rx), w.start_rv),
                Err(StorageError::Expired(_)) => {
                    // Older than the cache's window: replay from etcd if it still has the history.
                    let prefix = ctx.st.backend.resource_prefix(ctx.rd);
                    let rx = ctx.st.backend.store.watch(&prefix, rv_num, ctx.st.backend.indexer(ctx.rd));
                    (Vec::new(), Source::Etcd(rx), rv_num)
                }
                Err(StorageError::Unavailable(m)) => {
                    pre_error = Some(ApiError::Timeout(m, 1));
                    (Vec::new(), Source::Etcd(mpsc::channel(1).1), rv_num)
                }
                Err(e) => return Err(q_err(e)),
            }
        }
    };
    if let Some(e) = pre_error {
        return Err(e);
    }

    let rd = ctx.rd;
    let ns_prefix = if rd.namespaced && !ctx.info.namespace.is_empty() {
        Some(ctx.st.backend.list_prefix(rd, &ctx.info.namespace))
    } else {
        None
    };
    let pred = ctx.matcher(ls, fs);
    let q_owned = ctx.q.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let watchers = crate::metrics::REGISTERED_WATCHERS.with_label_values(&[rd.group, rd.version, rd.kind]);
    watchers.inc();
    let kind = rd.kind;
    let api_version = rd.api_version();
    let converted = api_types::convert::storage_kind(rd).is_some();

    tokio::spawn(async move {
        let _guard = scopeguard(watchers);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut first_table = true;
        // Protobuf watch streams: length-delimited WatchEvent frames around enveloped objects.
        let proto_frame = |ty: &str, obj: &Value| -> Option<Bytes> {
            let envelope = crate::codec::encode_protobuf(obj)?;
            Some(Bytes::from(kproto::encode_watch_frame(ty, &envelope)))
        };
        // Control events (bookmarks, errors) are small values.
        let encode_value = |ty: &str, obj: &Value| -> Bytes {
            if enc == Encoding::Protobuf {
                if let Some(b) = proto_frame(ty, obj) {
                    return b;
                }
            }
            let mut line = serde_json::to_vec(&json!({"type": ty, "object": obj})).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        // Object events copy the cached encoding; only tables are built per watcher.
        let encode_obj = |ty: &str, obj: &Obj, first: &mut bool| -> Bytes {
            if enc == Encoding::Protobuf {
                let v = if converted { api_types::convert::from_storage(rd, obj.value()) } else { obj.value() };
                return encode_value(ty, &v);
            }
            if converted {
                let ext = api_types::convert::from_storage(rd, obj.value());
                let ext = match enc {
                    Encoding::Table => {
                        let t = crate::table::to_table(rd, ext, &q_owned, *first);
                        *first = false;
                        t
                    }
                    Encoding::PartialMetadata => crate::table::partial(&ext),
                    _ => ext,
                };
                return encode_value(ty, &ext);
            }
            if enc == Encoding::PartialMetadata {
                // The stored metadata's bytes, copied: no decode of the whole object per watcher.
                let Some(meta) = obj.metadata_json() else {
                    return encode_value(ty, &crate::table::partial(&obj.value()));
                };
                let mut line = Vec::with_capacity(meta.len() + 128);
                line.extend_from_slice(b"{\"type\":\"");
                line.extend_from_slice(ty.as_bytes());
                line.extend_from_slice(
                    b"\",\"object\":{\"apiVersion\":\"meta.k8s.io/v1\",\"kind\":\"PartialObjectMetadata\",\"metadata\":",
                );
                line.extend_from_slice(meta);
                line.extend_from_slice(b"}}\n");
                return Bytes::from(line);
            }
            if enc == Encoding::Table {
                let t = crate::table::to_table(rd, obj.value(), &q_owned, *first);
                *first = false;
                return encode_value(ty, &t);
            }
            let mut line = Vec::with_capacity(obj.list_item().len() + 64);
            line.extend_from_slice(b"{\"type\":\"");
            line.extend_from_slice(ty.as_bytes());
            line.extend_from_slice(b"\",\"object\":");
            obj.write_json(&mut line);
            line.extend_from_slice(b"}\n");
            Bytes::from(line)
        };
        let bookmark = |rv: i64, initial_end: bool| -> Value {
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if initial_end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            json!({"kind": kind, "apiVersion": api_version, "metadata": meta})
        };
        let in_scope = |ev: &Event| ns_prefix.as_ref().is_none_or(|p| ev.key.starts_with(p.as_str()));
        // Decides what a watcher with this filter sees of one event.
        let filter = |ev: &Event| -> Option<&'static str> {
            if !in_scope(ev) {
                return None;
            }
            let now = pred.obj(&ev.obj);
            match ev.kind {
                EventType::Added => now.then_some("ADDED"),
                EventType::Modified => {
                    let before = ev.prev.as_ref().is_some_and(|p| pred.obj(p));
                    match (before, now) {
                        (true, true) => Some("MODIFIED"),
                        (false, true) => Some("ADDED"),
                        (true, false) => Some("DELETED"),
                        (false, false) => None,
                    }
                }
                EventType::Deleted => {
                    let before = ev.prev.as_ref().map_or(now, |p| pred.obj(p));
                    before.then_some("DELETED")
                }
                EventType::Bookmark => None,
            }
        };
        for ev in &initial {
            if let Some(ty) = filter(ev) {
                if tx.send(encode_obj(ty, &ev.obj, &mut first_table)).await.is_err() {
                    return;
                }
            }
        }
        if send_initial == Some(true) {
            let b = bookmark(start_rv, true);
            if tx.send(encode_value("BOOKMARK", &b)).await.is_err() {
                return;
            }
        }
        let mut last_rv = start_rv;
        let mut source = source;
        loop {
            let next = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
                ev = async {
                    match &mut source {
                        Source::Cache(rx) => match rx.recv().await {
                            Ok(ev) => Some(Ok(ev)),
                            // Too slow for the stream, or the cache restarted: end the watch;
                            // the client resumes from its last resourceVersion.
                            Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => None,
                        },
                        Source::Etcd(rx) => rx.recv().await.map(|r| r.map(Arc::new)),
                    }
                } => ev,
            };
            let ev = match next {
                None => return,
                Some(Err(e)) => {
                    let (_, status) = ApiError::from_storage(e, &crate::error::Qualified::default()).to_status();
                    let _ = tx.send(encode_value("ERROR", &status)).await;
                    return;
                }
                Some(Ok(ev)) => ev,
            };
            if ev.rv <= last_rv && ev.kind != EventType::Bookmark {
                continue;
            }
            if ev.kind == EventType::Bookmark {
                if bookmarks && ev.rv >= last_rv {
                    last_rv = ev.rv;
                    let b = bookmark(ev.rv, false);
                    if tx.send(encode_value("BOOKMARK", &b)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            last_rv = ev.rv;
            if let Some(ty) = filter(&ev) {
                if tx.send(encode_obj(ty, &ev.obj, &mut first_table)).await.is_err() {
                    return;
                }
            }
        }
    });

    let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|b| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b)));
    let body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    let ct = match enc {
        Encoding::Table => "application/json;as=Table;v=v1;g=meta.k8s.io",
        Encoding::PartialMetadata => "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        Encoding::Protobuf => kproto::WATCH_CONTENT_TYPE,
        _ => "application/json",
    };
    Ok(http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, ct)
        .header(http::header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .expect("valid response"))
}

/// Where a watch of a resource without a watch cache starts, as upstream's etcd watcher:
/// initial events from a list at the latest revision (for "", "0" or sendInitialEvents),
/// then etcd's events after it; or etcd's events after the version asked for.
async fn etcd_start(ctx: &Ctx<'_>, initial_events: bool, rv: i64) -> storage::Result<(Vec<Arc<Event>>, Source, i64)> {
    let backend = &ctx.st.backend;
    let prefix = backend.list_prefix(ctx.rd, &ctx.info.namespace);
    let indexer = backend.indexer(ctx.rd);
    if initial_events {
        let list = backend.store.list(&prefix, &storage::ListOptions::default(), &|_| true).await?;
        let initial = list
            .items
            .iter()
            .map(|v| {
                let meta = |k: &str| v["metadata"][k].as_str().unwrap_or("");
                let rv = meta("resourceVersion").parse().unwrap_or(0);
                Arc::new(Event {
                    kind: EventType::Added,
                    key: Arc::from(backend.key(ctx.rd, meta("namespace"), meta("name"))),
                    obj: Arc::new(Obj::from_value(v, rv, &indexer)),
                    prev: None,
                    rv,
                })
            })
            .collect();
        let rx = backend.store.watch(&prefix, list.revision, indexer);
        return Ok((initial, Source::Etcd(rx), list.revision));
    }
    let after = if rv == 0 { backend.store.current_revision().await? } else { rv };
    Ok((Vec::new(), Source::Etcd(backend.store.watch(&prefix, after, indexer)), after))
}

/// Decrements the watcher gauge when the stream ends.
struct Guard(prometheus::IntGauge);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
fn scopeguard(g: prometheus::IntGauge) -> Guard {
    Guard(g)
}
