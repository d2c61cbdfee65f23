//! The field table (generated, `table.rs`) and its runtime form: every message by upstream
//! definition name, each field with its JSON property name resolved against the served OpenAPI
//! definitions and its omitempty behaviour.

use once_cell::sync::Lazy;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A field's protobuf value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    Int32,
    Int64,
    Bool,
    Double,
    Bytes,
    /// A message, by upstream definition name.
    Message(&'static str),
}

/// Cardinality: one value, a repeated field, or a `map<string, ty>` (entries: key=1, value=2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Single,
    Repeated,
    Map,
}

/// One field of a generated message, as the table records it.
#[derive(Debug)]
pub(crate) struct FieldDef {
    /// The prost (snake case) field name in k8s-pb.
    pub rust: &'static str,
    /// The JSON name from the upstream Go struct tag; empty where upstream has none (inline
    /// structs, raw bytes) or the field postdates the Go sources the table was built from.
    pub go_json: &'static str,
    pub tag: u32,
    pub label: Label,
    pub ty: Ty,
    /// The Go field is a pointer: a zero value present on the wire is kept when decoding.
    pub pointer: bool,
    /// The Go JSON tag has `omitempty`.
    pub omitempty: bool,
    /// The Go field is an embedded struct with `json:",inline"`: its fields appear in the parent
    /// JSON object, while protobuf has them in a nested message.
    pub inline: bool,
}

/// One generated message.
#[derive(Debug)]
pub(crate) struct MessageDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

/// A field with its resolved JSON name.
#[derive(Debug)]
pub(crate) struct Field {
    pub def: &'static FieldDef,
    /// The JSON property name (empty for inline fields).
    pub json: String,
    /// Keep a zero value (`""`, `0`, `false`, `{}`) present on the wire when decoding.
    pub keep_zero: bool,
}

#[derive(Debug)]
pub(crate) struct Message {
    pub name: &'static str,
    pub fields: Vec<Field>,
    by_tag: HashMap<u32, usize>,
}

impl Message {
    pub(crate) fn field_index(&self, tag: u32) -> Option<usize> {
        self.by_tag.get(&tag).copied()
    }
}

/// Lower-cased alphanumerics: `cluster_ip` ~ `clusterIP`, `pod_cid_rs` ~ `podCIDRs`,
/// `x_kubernetes_list_type` ~ `x-kubernetes-list-type`, `ref` ~ `$ref`.
pub(crate) fn normalize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// `declared_features` -> `declaredFeatures`, for fields newer than every other source.
fn lower_camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a field's JSON name came from (for the consistency tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameSource {
    /// Matched a property of the served OpenAPI definition.
    OpenApi,
    /// The definition or property is not served: the upstream Go tag.
    GoTag,
    /// Neither: derived from the prost name.
    Derived,
}

pub(crate) struct Registry {
    pub messages: HashMap<&'static str, Message>,
    /// Read by the consistency test.
    #[cfg_attr(not(test), allow(dead_code))]
    pub sources: HashMap<(&'static str, u32), NameSource>,
}

fn resolve(defs: &BTreeMap<String, Value>) -> Registry {
    let mut messages = HashMap::new();
    let mut sources = HashMap::new();
    for m in crate::table::MESSAGES {
        let def = defs.get(m.name);
        let props: HashMap<String, String> = def
            .and_then(|d| d.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(|k| (normalize(k), k.clone())).collect())
            .unwrap_or_default();
        let required: Vec<&str> = def
            .and_then(|d| d.get("required"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Vec::with_capacity(m.fields.len());
        let mut by_tag = HashMap::new();
        for f in m.fields {
            let (json, source) = if f.inline {
                (String::new(), NameSource::GoTag)
            } else if let Some(p) = props.get(&normalize(f.rust)).or_else(|| props.get(&normalize(f.go_json))) {
                (p.clone(), NameSource::OpenApi)
            } else if !f.go_json.is_empty() {
                (f.go_json.to_string(), NameSource::GoTag)
            } else {
                (lower_camel(f.rust), NameSource::Derived)
            };
            let keep_zero = f.pointer || !f.omitempty || required.contains(&json.as_str());
            sources.insert((m.name, f.tag), source);
            by_tag.insert(f.tag, fields.len());
            fields.push(Field { def: f, json, keep_zero });
        }
        messages.insert(m.name, Message { name: m.name, fields, by_tag });
    }
    Registry { messages, sources }
}

static REGISTRY: Lazy<Registry> = Lazy::new(|| resolve(openapi::raw_definitions()));

pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

pub(crate) fn message(name: &str) -> Option<&'static Message> {
    REGISTRY.messages.get(name)
}

/// Every definition name the codec knows, sorted.
pub fn known_definitions() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = crate::table::MESSAGES.iter().map(|m| m.name).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// JSON property names a message provides, its inline messages' included.
    fn provided(m: &Message, out: &mut BTreeSet<String>) {
        for f in &m.fields {
            if f.def.inline {
                if let Ty::Message(n) = f.def.ty {
                    provided(message(n).unwrap(), out);
                }
            } else {
                out.insert(f.json.clone());
            }
        }
    }

    #[test]
    fn json_names_agree_with_openapi_and_go_tags() {
        let reg = registry();
        let defs = openapi::definitions();
        let mut disagree = Vec::new();
        let mut unresolved = Vec::new();
        let mut uncovered = Vec::new();
        for m in crate::table::MESSAGES {
            let rm = &reg.messages[m.name];
            for f in &rm.fields {
                match reg.sources[&(m.name, f.def.tag)] {
                    NameSource::OpenApi if !f.def.go_json.is_empty() && f.json != f.def.go_json => {
                        disagree.push(format!("{}.{}: openapi {} vs go {}", m.name, f.def.rust, f.json, f.def.go_json))
                    }
                    NameSource::GoTag | NameSource::Derived
                        if defs.contains_key(m.name) && !f.def.inline && crate::codec::special(m.name).is_none() =>
                    {
                        unresolved.push(format!("{}.{}", m.name.rsplit('.').next().unwrap_or_default(), f.json))
                    }
                    _ => {}
                }
            }
            if crate::codec::special(m.name).is_some() {
                continue;
            }
            if let Some(props) = defs.get(m.name).and_then(|d| d.get("properties")).and_then(Value::as_object) {
                let mut have = BTreeSet::new();
                provided(rm, &mut have);
                for p in props.keys() {
                    if p != "apiVersion" && p != "kind" && !have.contains(p) {
                        uncovered.push(format!("{}.{p}", m.name));
                    }
                }
            }
        }
        assert!(disagree.is_empty(), "{disagree:#?}");
        // Served definitions whose property the prost name did not match: fields newer than the
        // served schemas (k8s-openapi's v1_33; k8s-pb 0.9 is newer). They use the Go tag or the
        // derived name.
        unresolved.sort();
        let newer = [
            "CSIDriverSpec.serviceAccountTokenInSecrets",
            "Container.restartPolicyRules",
            "CustomResourceDefinitionCondition.observedGeneration",
            "CustomResourceDefinitionStatus.observedGeneration",
            "EnvVarSource.fileKeyRef",
            "NodeStatus.declaredFeatures",
            "PodSpec.hostnameOverride",
            "PodSpec.workloadRef",
            "PodStatus.allocatedResources",
            "PodStatus.extendedResourceClaimStatus",
            "PodStatus.resources",
            "VolumeProjection.podCertificate",
        ];
        assert_eq!(unresolved, newer);
        assert!(uncovered.is_empty(), "served properties without a protobuf field: {uncovered:#?}");
    }
}
