//! Server-side tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): upstream's
//! columns and cells per kind (from `api_types::tables`), with `includeObject`
//! (None, Metadata — the default — or Object) deciding what each row carries.

use crate::codec::Query;
use api_types::ResourceDef;
use serde_json::{json, Value};

fn column_definitions(rd: &ResourceDef) -> Value {
    Value::Array(
        api_types::tables::columns(rd)
            .into_iter()
            .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
            .collect(),
    )
}

/// What a row carries of its object; the object is consumed so its metadata moves.
fn row_object(obj: Value, include: &str) -> Option<Value> {
    match include {
        "None" => None,
        "Object" => Some(obj),
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
    if let Some(o) = row_object(obj, include) {
        r.insert("object".into(), o);
    }
    Value::Object(r)
}

/// A Table for a list response (`items`) or a single object, consuming it.
pub fn to_table(rd: &ResourceDef, body: Value, q: &Query, with_columns: bool) -> Value {
    let include = q.get("includeObject").unwrap_or("Metadata");
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
            let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
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
