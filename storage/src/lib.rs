//! The versioned object store over etcd v3, and the only crate that talks to etcd.
//!
//! Keys follow upstream's layout (`/registry/<resource-prefix>/<namespace>/<name>`), values are
//! JSON without `metadata.resourceVersion`: an object's resourceVersion is its etcd
//! `mod_revision`, set when it is read. Writes are compare-and-swap transactions; lists are
//! read at one revision and paged with opaque continue tokens; watches start from a revision.
//! The [`cache::Cacher`] keeps one etcd watch per resource prefix and fans it out.

pub mod cache;
mod continue_token;
mod etcd;
mod lease;
pub mod metrics;
pub mod object;
mod written;

pub use cache::{CacheWatch, Cacher, CacherConfig};
pub use etcd::{EtcdConfig, ListOptions, ListResult, Store};
pub use object::{default_indexer, Indexer, Obj};

use serde_json::Value;
use std::sync::Arc;

/// Storage failures, mapped by the apiserver to upstream's Status codes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    #[error("key not found: {0}")]
    NotFound(String),
    #[error("key exists: {0}")]
    AlreadyExists(String),
    /// The object changed since the caller read it (resourceVersion or uid precondition).
    #[error("conflict on {key}: {detail}")]
    Conflict { key: String, detail: String },
    /// The requested revision was compacted away (410 Gone).
    #[error("{0}")]
    Expired(String),
    /// The continue token is malformed.
    #[error("{0}")]
    BadContinue(String),
    /// A resourceVersion newer than anything the server has seen (504 after the wait).
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeResourceVersion { requested: i64, current: i64 },
    /// etcd cannot be reached or did not answer in time.
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
    #[error("storage internal error: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    /// A progress marker: every event up to `rv` has been delivered.
    Bookmark,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
        }
    }
}

/// One change of one key. `obj` carries its `metadata.resourceVersion` (for DELETED: the
/// revision of the deletion). `prev` is the object before the change, so that filtered
/// watchers can turn a change that leaves their selector into DELETED.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub key: Arc<str>,
    pub obj: Arc<Obj>,
    pub prev: Option<Arc<Obj>>,
    pub rv: i64,
}

impl Event {
    pub fn bookmark(rv: i64) -> Self {
        Event {
            kind: EventType::Bookmark,
            key: Arc::from(""),
            obj: Arc::new(Obj::from_value(&Value::Null, rv, &default_indexer())),
            prev: None,
            rv,
        }
    }
}

/// Sets `metadata.resourceVersion` on a decoded object.
pub fn set_resource_version(obj: &mut Value, rv: i64) {
    if let Some(m) = obj.as_object_mut() {
        let meta = m.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }
}
