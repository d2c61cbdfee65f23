//! Objects as the watch cache keeps them: the JSON encoding clients receive, plus the labels
//! and selectable fields that selectors need. Keeping bytes instead of a decoded tree costs a
//! fraction of the memory and makes a watch event or list item a copy instead of an encoding.

use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Computes an object's selectable fields (`metadata.name`, `spec.nodeName`, ...).
pub type Indexer = Arc<dyn Fn(&Value) -> Vec<(&'static str, String)> + Send + Sync>;

/// An indexer that knows only names and namespaces.
pub fn default_indexer() -> Indexer {
    Arc::new(|v: &Value| {
        let s = |k: &str| v.pointer(k).and_then(Value::as_str).unwrap_or("").to_string();
        vec![("metadata.name", s("/metadata/name")), ("metadata.namespace", s("/metadata/namespace"))]
    })
}

#[derive(Debug)]
pub struct Obj {
    /// The object without `apiVersion`/`kind`, as a list item is encoded.
    body: Bytes,
    /// `"apiVersion":"v1","kind":"ConfigMap"` (empty when the object has neither).
    type_meta: Arc<str>,
    pub labels: BTreeMap<String, String>,
    pub fields: Vec<(&'static str, String)>,
    pub rv: i64,
}

/// An object's members but `apiVersion` and `kind`, encoded without copying the rest.
struct WithoutTypeMeta<'a>(&'a serde_json::Map<String, Value>);

impl serde::Serialize for WithoutTypeMeta<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter(|(k, _)| *k != "apiVersion" && *k != "kind"))
    }
}

/// An object's parts a cache keeps beside its encoding.
pub(crate) struct Index {
    pub labels: BTreeMap<String, String>,
    pub fields: Vec<(&'static str, String)>,
    pub type_meta: Arc<str>,
}

impl Obj {
    /// Encodes a decoded object (which carries its resourceVersion).
    pub fn from_value(v: &Value, rv: i64, indexer: &Indexer) -> Obj {
        let index = Obj::index(v, indexer);
        let body = match v {
            Value::Object(m) => serde_json::to_vec(&WithoutTypeMeta(m)).unwrap_or_default(),
            other => serde_json::to_vec(other).unwrap_or_default(),
        };
        Obj::from_parts(body, index, rv)
    }

    /// What a cache keeps beside the encoding: labels, selectable fields and the
    /// `apiVersion`/`kind` members (none of which depends on the resourceVersion).
    pub(crate) fn index(v: &Value, indexer: &Indexer) -> Index {
        let labels = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        let fields = indexer(v);
        let mut tm = String::new();
        if let Value::Object(m) = v {
            for k in ["apiVersion", "kind"] {
                if let Some(x) = m.get(k) {
                    if !tm.is_empty() {
                        tm.push(',');
                    }
                    tm.push_str(&serde_json::to_string(k).unwrap_or_default());
                    tm.push(':');
                    tm.push_str(&serde_json::to_string(x).unwrap_or_default());
                }
            }
        }
        Index { labels, fields, type_meta: Arc::from(tm.as_str()) }
    }

    pub(crate) fn from_parts(mut body: Vec<u8>, index: Index, rv: i64) -> Obj {
        let Index { labels, fields, type_meta } = index;
        // The encoder grows its buffer by doubling: keep only the bytes (a cache of tens of
        // thousands of objects would otherwise hold up to twice its size).
        body.shrink_to_fit();
        Obj { body: Bytes::from(body), type_meta, labels, fields, rv }
    }

    /// The encoding without apiVersion/kind (list items).
    pub fn list_item(&self) -> &[u8] {
        &self.body
    }

    /// Appends the whole object's JSON encoding.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        if self.type_meta.is_empty() || !self.body.starts_with(b"{") {
            out.extend_from_slice(&self.body);
            return;
        }
        out.push(b'{');
        out.extend_from_slice(self.type_meta.as_bytes());
        if self.body.len() > 2 {
            out.push(b',');
            out.extend_from_slice(&self.body[1..]);
        } else {
            out.push(b'}');
        }
    }

    pub fn json(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.body.len() + self.type_meta.len() + 2);
        self.write_json(&mut v);
        v
    }

    /// Decodes the object (for the rare consumers that need the tree).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json()).unwrap_or(Value::Null)
    }

    /// The encoding of the `metadata` member, read without decoding the rest (metadata-only
    /// watches copy it).
    pub fn metadata_json(&self) -> Option<&[u8]> {
        #[derive(serde::Deserialize)]
        struct Meta<'a> {
            #[serde(borrow)]
            metadata: Option<&'a serde_json::value::RawValue>,
        }
        let m: Meta<'_> = serde_json::from_slice(&self.body).ok()?;
        m.metadata.map(|r| r.get().as_bytes())
    }

    /// The value of a selectable field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_splits_type_meta() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"}, "resourceVersion": "5"}, "data": {"k": "v"}});
        let o = Obj::from_value(&v, 5, &default_indexer());
        assert_eq!(o.value(), v);
        let item: Value = serde_json::from_slice(o.list_item()).unwrap();
        assert!(item.get("kind").is_none() && item.get("apiVersion").is_none());
        assert_eq!(o.labels.get("x").map(String::as_str), Some("y"));
        assert_eq!(o.field("metadata.namespace"), Some("n"));
        let meta: Value = serde_json::from_slice(o.metadata_json().unwrap()).unwrap();
        assert_eq!(meta, v["metadata"]);
        let empty = Obj::from_value(&json!({"apiVersion": "v1", "kind": "X"}), 1, &default_indexer());
        assert_eq!(empty.value(), json!({"apiVersion": "v1", "kind": "X"}));
    }
}
