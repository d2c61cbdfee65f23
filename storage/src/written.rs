//! Objects this server is writing, encoded ahead for the watch cache of their prefix.
//!
//! Every write comes back through the cache's etcd watch as the bytes that were sent. The
//! writer holds the object, so it encodes the cache's form then, with a hole where the
//! resourceVersion goes (the revision is only known once etcd commits, and the watch event
//! may arrive before the writer hears of the commit). The cache takes the entry whose etcd
//! bytes are the event's, fills in the revision, and skips decoding and re-encoding the
//! object. Writes of other servers, and entries displaced or never committed, are decoded as
//! before: an entry is only ever used for exactly the bytes it was made from.

use crate::object::{Index, Indexer, Obj};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, RwLock};

/// Entries kept at most: far more than the writes in flight at once, so that only entries of
/// writes that never reached a watch (failed ones, a stopped cache) are ever displaced.
const MAX: usize = 1024;

#[derive(Default)]
pub(crate) struct Written {
    /// Prefixes with a running watch cache, and how that cache indexes its objects.
    prefixes: RwLock<Vec<(String, Indexer)>>,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Vec<Entry>>,
    /// (key, ticket) in insertion order, for the bound; may name entries already taken.
    order: VecDeque<(String, u64)>,
    next: u64,
}

struct Entry {
    ticket: u64,
    /// The bytes sent to etcd (after any encryption).
    data: Vec<u8>,
    /// The cache's encoding with `""` as the resourceVersion, at `hole`.
    body: Vec<u8>,
    hole: usize,
    index: Index,
}

/// Identifies a recorded write, to forget it if etcd refuses it.
pub(crate) struct Ticket(Option<(String, u64)>);

impl Written {
    /// A watch cache now follows `prefix`.
    pub(crate) fn follow(&self, prefix: &str, indexer: Indexer) {
        let mut p = self.prefixes.write().unwrap_or_else(|e| e.into_inner());
        if !p.iter().any(|(q, _)| q == prefix) {
            p.push((prefix.to_string(), indexer));
        }
    }

    /// Records a write of `obj` as `data` under `key`, if a watch cache follows the key.
    pub(crate) fn record(&self, key: &str, obj: &Value, data: &[u8]) -> Ticket {
        let indexer = {
            let p = self.prefixes.read().unwrap_or_else(|e| e.into_inner());
            match p.iter().find(|(q, _)| key.starts_with(q.as_str())) {
                Some((_, i)) => i.clone(),
                None => return Ticket(None),
            }
        };
        let Some((body, hole)) = encode_with_hole(obj) else { return Ticket(None) };
        let index = Obj::index(obj, &indexer);
        let mut g = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = g.next;
        g.next += 1;
        let e = Entry { ticket, data: data.to_vec(), body, hole, index };
        g.by_key.entry(key.to_string()).or_default().push(e);
        g.order.push_back((key.to_string(), ticket));
        while g.order.len() > MAX {
            let Some((k, t)) = g.order.pop_front() else { break };
            g.remove(&k, t);
        }
        Ticket(Some((key.to_string(), ticket)))
    }

    /// Drops a recorded write etcd did not apply.
    pub(crate) fn forget(&self, t: Ticket) {
        if let Some((k, ticket)) = t.0 {
            self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&k, ticket);
        }
    }

    /// The cache's object for `key` holding `data` at revision `rev`, if this server wrote it.
    pub(crate) fn take(&self, key: &str, data: &[u8], rev: i64) -> Option<Obj> {
        let e = {
            let mut g = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let list = g.by_key.get_mut(key)?;
            let i = list.iter().position(|e| e.data == data)?;
            let e = list.swap_remove(i);
            if list.is_empty() {
                g.by_key.remove(key);
            }
            e
        };
        let rv = format!("\"{rev}\"");
        let mut body = Vec::with_capacity(e.body.len() + rv.len());
        body.extend_from_slice(&e.body[..e.hole]);
        body.extend_from_slice(rv.as_bytes());
        body.extend_from_slice(&e.body[e.hole + 2..]);
        Some(Obj::from_parts(body, e.index, rev))
    }
}

impl Entries {
    fn remove(&mut self, key: &str, ticket: u64) {
        if let Some(list) = self.by_key.get_mut(key) {
            list.retain(|e| e.ticket != ticket);
            if list.is_empty() {
                self.by_key.remove(key);
            }
        }
    }
}

/// `obj` as [`Obj::from_value`] encodes it with `metadata.resourceVersion` set to `""`, and
/// the offset of that `""`. None for anything but an object with an object `metadata`.
fn encode_with_hole(obj: &Value) -> Option<(Vec<u8>, usize)> {
    let m = obj.as_object()?;
    let meta = m.get("metadata")?.as_object()?;
    let (len, hole) = (Cell::new(0), Cell::new(None));
    let mut w = Counting { buf: Vec::with_capacity(2048), len: &len };
    serde_json::to_writer(&mut w, &Body { m, meta, at: Hole { len: &len, hole: &hole } }).ok()?;
    Some((w.buf, hole.get()?))
}

/// A writer whose length the serialized values can see (through the shared cell).
struct Counting<'a> {
    buf: Vec<u8>,
    len: &'a Cell<usize>,
}

impl std::io::Write for Counting<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        self.len.set(self.buf.len());
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The object without `apiVersion`/`kind`, its metadata with the hole.
struct Body<'a> {
    m: &'a Map<String, Value>,
    meta: &'a Map<String, Value>,
    at: Hole<'a>,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.m {
            match k.as_str() {
                "apiVersion" | "kind" => {}
                "metadata" => map.serialize_entry(k, &Meta { m: self.meta, at: &self.at })?,
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// Metadata with `resourceVersion` in its sorted place (the map's own order).
struct Meta<'a> {
    m: &'a Map<String, Value>,
    at: &'a Hole<'a>,
}

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const RV: &str = "resourceVersion";
        let mut map = s.serialize_map(None)?;
        let mut placed = false;
        for (k, v) in self.m {
            if k == RV {
                continue;
            }
            if !placed && k.as_str() > RV {
                map.serialize_entry(RV, self.at)?;
                placed = true;
            }
            map.serialize_entry(k, v)?;
        }
        if !placed {
            map.serialize_entry(RV, self.at)?;
        }
        map.end()
    }
}

/// Serializes as `""`, noting where in the output.
struct Hole<'a> {
    len: &'a Cell<usize>,
    hole: &'a Cell<Option<usize>>,
}

impl Serialize for Hole<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.hole.set(Some(self.len.get()));
        s.serialize_str("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn written() -> Written {
        let w = Written::default();
        w.follow("/registry/configmaps/", crate::default_indexer());
        w
    }

    #[test]
    fn a_taken_entry_is_the_object_as_the_cache_would_decode_it() {
        let w = written();
        for obj in [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "y"}}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "3"}}),
            json!({"kind": "ConfigMap", "metadata": {}}),
            json!({"metadata": {"annotations": {"resourceVersion": "\"\""}, "zz": 1}}),
        ] {
            w.record("/registry/configmaps/ns/a", &obj, b"etcd-bytes");
            let got = w.take("/registry/configmaps/ns/a", b"etcd-bytes", 42).expect("recorded");
            let mut stamped = obj.clone();
            crate::set_resource_version(&mut stamped, 42);
            let want = Obj::from_value(&stamped, 42, &crate::default_indexer());
            assert_eq!(got.json(), want.json(), "{obj}");
            assert_eq!(got.list_item(), want.list_item());
            assert_eq!(
                (got.labels.clone(), got.fields.clone(), got.rv),
                (want.labels.clone(), want.fields.clone(), 42)
            );
        }
    }

    #[test]
    fn entries_match_only_their_own_bytes_once_and_only_under_followed_prefixes() {
        let w = written();
        let obj = json!({"metadata": {"name": "a"}});
        w.record("/registry/secrets/ns/a", &obj, b"x");
        assert!(w.take("/registry/secrets/ns/a", b"x", 1).is_none());
        w.record("/registry/configmaps/ns/a", &obj, b"x");
        assert!(w.take("/registry/configmaps/ns/a", b"y", 1).is_none());
        assert!(w.take("/registry/configmaps/ns/b", b"x", 1).is_none());
        assert!(w.take("/registry/configmaps/ns/a", b"x", 1).is_some());
        assert!(w.take("/registry/configmaps/ns/a", b"x", 1).is_none());
        let t = w.record("/registry/configmaps/ns/a", &obj, b"x");
        w.forget(t);
        assert!(w.take("/registry/configmaps/ns/a", b"x", 1).is_none());
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_bound() {
        let w = written();
        for i in 0..(MAX + 10) {
            w.record(&format!("/registry/configmaps/ns/c{i}"), &json!({"metadata": {"name": format!("c{i}")}}), b"x");
        }
        assert!(w.take("/registry/configmaps/ns/c0", b"x", 1).is_none());
        assert!(w.take(&format!("/registry/configmaps/ns/c{}", MAX + 9), b"x", 1).is_some());
    }
}
