//! `metadata.managedFields`: decoding, encoding and upstream's ordering of entries.

use crate::set::Set;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who manages a set: upstream's manager identifier (appliers without an API version, so
/// each apply by one manager lands in the same entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ManagerId {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: String,
}

impl ManagerId {
    pub fn new(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Self {
        ManagerId {
            manager: if manager.is_empty() { "unknown".into() } else { manager.into() },
            operation,
            api_version: if operation == Operation::Apply { String::new() } else { api_version.into() },
            subresource: subresource.into(),
        }
    }

    /// As conflict messages name a manager: `"kubectl"`, `"kubectl-create" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {}", Value::String(self.subresource.clone()));
        }
        if self.operation == Operation::Update {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub set: Set,
    pub api_version: String,
    pub time: Option<String>,
}

pub type Managers = BTreeMap<ManagerId, Entry>;

/// Decodes an object's managed fields; `Ok(empty)` when it has none.
pub fn decode(obj: &Value) -> Result<Managers, String> {
    let mut out = Managers::new();
    let Some(list) = obj.pointer("/metadata/managedFields") else { return Ok(out) };
    let Some(list) = list.as_array() else {
        return if list.is_null() { Ok(out) } else { Err("managedFields must be a list".into()) };
    };
    for e in list {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
        let op = match s("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(format!("unknown operation {other:?}")),
        };
        if s("fieldsType") != "FieldsV1" {
            return Err(format!("wrong fieldsType: {:?}", s("fieldsType")));
        }
        let set = match e.get("fieldsV1") {
            Some(v) if !v.is_null() => Set::from_fields_v1(v)?,
            _ => Set::new(),
        };
        let id = ManagerId::new(s("manager"), op, s("apiVersion"), s("subresource"));
        let time = e.get("time").and_then(Value::as_str).map(str::to_string);
        out.insert(id, Entry { set, api_version: s("apiVersion").to_string(), time });
    }
    Ok(out)
}

/// Encodes managers as upstream orders them: Apply before Update, then by time, manager,
/// API version and subresource.
pub fn encode(managers: &Managers) -> Vec<Value> {
    let mut entries: Vec<(&ManagerId, &Entry)> = managers.iter().filter(|(_, e)| !e.set.is_empty()).collect();
    entries.sort_by(|(a, ea), (b, eb)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| ea.time.as_deref().unwrap_or("").cmp(eb.time.as_deref().unwrap_or("")))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| ea.api_version.cmp(&eb.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    entries
        .into_iter()
        .map(|(id, e)| {
            let mut m = Map::new();
            m.insert("manager".into(), json!(id.manager));
            m.insert("operation".into(), json!(id.operation.as_str()));
            m.insert("apiVersion".into(), json!(e.api_version));
            if let Some(t) = &e.time {
                m.insert("time".into(), json!(t));
            }
            m.insert("fieldsType".into(), json!("FieldsV1"));
            m.insert("fieldsV1".into(), e.set.to_fields_v1());
            if !id.subresource.is_empty() {
                m.insert("subresource".into(), json!(id.subresource));
            }
            Value::Object(m)
        })
        .collect()
}
