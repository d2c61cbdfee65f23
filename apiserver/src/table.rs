//! Server-side tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). This is
//! upstream's default table convertor (Name, Created At) for every kind; per-kind columns are
//! the next step.

use crate::codec::Query;
use serde_json::{json, Value};

fn column_definitions() -> Value {
    json!([
        {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0},
        {"name": "Created At", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "priority": 0}
    ])
}

fn row_object(obj: &Value, include: &str) -> Option<Value> {
    match include {
        "None" => None,
        "Object" => Some(obj.clone()),
        _ => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
        })),
    }
}

fn row(obj: &Value, include: &str) -> Value {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let created = obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null);
    let mut r = json!({"cells": [name, created]});
    if let Some(o) = row_object(obj, include) {
        r["object"] = o;
    }
    r
}

/// A Table for a list response (`items`) or a single object.
pub fn to_table(body: &Value, q: &Query, with_columns: bool) -> Value {
    let include = q.get("includeObject").unwrap_or("Metadata");
    let (rows, meta) = match body.get("items").and_then(Value::as_array) {
        Some(items) => (
            items.iter().map(|o| row(o, include)).collect::<Vec<_>>(),
            body.get("metadata").cloned().unwrap_or(json!({})),
        ),
        None => (
            vec![row(body, include)],
            json!({"resourceVersion": body.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))}),
        ),
    };
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta});
    if with_columns {
        t["columnDefinitions"] = column_definitions();
    }
    t["rows"] = json!(rows);
    t
}
