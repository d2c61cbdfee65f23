//! Server-side tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): upstream's
//! columns and cells per kind (from `api_types::tables`), with `includeObject`
//! (None, Metadata — the default — or Object) deciding what each row carries.

use crate::codec::Query;
use crate::error::{ApiError, ApiResult};
use api_types::json::Ptr;
use api_types::ResourceDef;
use serde_json::{json, Value};
use std::sync::Arc;
use storage::Obj;

fn column_definitions(rd: &ResourceDef) -> Value {
    Value::Array(
        api_types::tables::columns(rd)
            .into_iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect(),
    )
}

/// `includeObject` as upstream validates it (`ValidateTableOptions`).
pub fn include_object(q: &Query) -> ApiResult<&str> {
    match q.get("includeObject").unwrap_or("") {
        "" => Ok("Metadata"),
        v @ ("None" | "Metadata" | "Object") => Ok(v),
        v => Err(ApiError::BadRequest(format!(
            "Unable to convert to Table as requested: includeObject: Invalid value: {v:?}: must be 'Metadata', 'Object', 'None', or empty"
        ))),
    }
}

/// What a row carries of its object; the object is consumed so its metadata moves. A full
/// object names its kind and apiVersion, as upstream's conversion to the external version
/// does (list items are stored without them): kubectl's `--sort-by` decodes it by them.
fn row_object(rd: &ResourceDef, obj: Value, include: &str) -> Option<Value> {
    match include {
        "None" => None,
        "Object" => match obj {
            Value::Object(mut m) => {
                m.entry("apiVersion").or_insert_with(|| json!(rd.api_version()));
                m.entry("kind").or_insert_with(|| json!(rd.kind));
                Some(Value::Object(m))
            }
            other => Some(other),
        },
        _ => {
            let metadata = match obj {
                Value::Object(mut m) => m.remove("metadata").unwrap_or_else(|| json!({})),
                _ => json!({}),
            };
            Some(json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}))
        }
    }
}

fn row(rd: &ResourceDef, obj: Value, include: &str, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut r = serde_json::Map::new();
    r.insert("cells".into(), Value::Array(api_types::tables::cells(rd, &obj, now)));
    if let Some(conditions) = api_types::tables::row_conditions(rd, &obj) {
        r.insert("conditions".into(), conditions);
    }
    if let Some(o) = row_object(rd, obj, include) {
        r.insert("object".into(), o);
    }
    Value::Object(r)
}

/// A Table for a list whose items are kept apart (cached encodings), encoded as it is built:
/// each item is decoded only while its row is written, so a list of tens of MiB never exists
/// decoded at once.
pub fn list_to_table_json(rd: &ResourceDef, body: &Value, items: &[Arc<Obj>], q: &Query) -> Vec<u8> {
    let include = include_object(q).unwrap_or("Metadata");
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(256 + items.len() * 256);
    out.extend_from_slice(br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":"#);
    let _ = serde_json::to_writer(&mut out, body.get("metadata").unwrap_or(&json!({})));
    out.extend_from_slice(br#","columnDefinitions":"#);
    let _ = serde_json::to_writer(&mut out, &column_definitions(rd));
    out.extend_from_slice(br#","rows":["#);
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let obj = serde_json::from_slice(i.list_item()).unwrap_or(Value::Null);
        let _ = serde_json::to_writer(&mut out, &row(rd, obj, include, now));
    }
    out.extend_from_slice(b"]}");
    out
}

/// A Table for a list response (`items`) or a single object, consuming it.
pub fn to_table(rd: &ResourceDef, body: Value, q: &Query, with_columns: bool) -> Value {
    let include = include_object(q).unwrap_or("Metadata");
    let now = chrono::Utc::now();
    let (rows, meta) = match body {
        Value::Object(mut m) if m.get("items").is_some_and(Value::is_array) => {
            let items = match m.remove("items") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let meta = m.remove("metadata").unwrap_or_else(|| json!({}));
            (items.into_iter().map(|o| row(rd, o, include, now)).collect::<Vec<_>>(), meta)
        }
        obj => {
            let rv = obj.ptr("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
            (vec![row(rd, obj, include, now)], json!({ "resourceVersion": rv }))
        }
    };
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta});
    if with_columns {
        t["columnDefinitions"] = column_definitions(rd);
    }
    t["rows"] = Value::Array(rows);
    t
}

/// `PartialObjectMetadata` of one object.
pub fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// A `PartialObjectMetadataList` for a list response, or `PartialObjectMetadata` for an object.
pub fn to_partial(body: &Value) -> (Value, &'static str) {
    match body.get("items").and_then(Value::as_array) {
        Some(items) => (
            json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": body.get("metadata").cloned().unwrap_or(json!({})),
                "items": items.iter().map(partial).collect::<Vec<_>>(),
            }),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        ),
        None => (partial(body), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"),
    }
}
