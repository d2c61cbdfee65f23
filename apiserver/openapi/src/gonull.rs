//! Go's JSON decoding of typed objects, on top of k8s-openapi's structs. Go's decoder leaves a
//! field at its zero value when the JSON says `null` or leaves it out; k8s-openapi refuses
//! both for the fields the schema marks required (`invalid type: null, expected a timestamp
//! string`, `missing field`). Before the typed round trip, [`fill_zeros`] drops `null`
//! members and gives every absent required field a zero the structs accept; after it,
//! [`restore_zero_times`] writes zero Times back as the `null` Go encodes them as.

use crate::schema::{kind_definition, raw_definitions, resolve_ref};
use serde_json::{Map, Value};

/// How a zero `metav1.Time` travels through k8s-openapi's `Time` (which has no zero value):
/// Go's zero time, which Go itself encodes as `null`.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const MAX_DEPTH: usize = 48;

fn definition(group: &str, version: &str, kind: &str) -> Option<&'static Value> {
    kind_definition(group, version, kind).and_then(|n| raw_definitions().get(n))
}

/// Prepares `obj` of the kind for the typed decode as Go's decoder would see it. Kinds without
/// a schema (custom resources) are left alone.
pub fn fill_zeros(group: &str, version: &str, kind: &str, obj: &mut Value) {
    if let Some(def) = definition(group, version, kind) {
        fill(def, obj, 0);
    }
}

/// Turns the zero Times the typed decode carried back into `null`.
pub fn restore_zero_times(group: &str, version: &str, kind: &str, obj: &mut Value) {
    if let Some(def) = definition(group, version, kind) {
        restore(def, obj, 0);
    }
}

fn preserves_unknown(s: &Value) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
}

fn is_time(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("string")
        && s.get("format").and_then(Value::as_str) == Some("date-time")
}

fn fill(schema: &Value, v: &mut Value, depth: usize) {
    let (_, schema) = resolve_ref(schema);
    if depth > MAX_DEPTH || preserves_unknown(schema) {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                m.retain(|_, x| !x.is_null());
                for (k, x) in m.iter_mut() {
                    if let Some(ps) = props.get(k) {
                        fill(ps, x, depth + 1);
                    }
                }
                for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    let Some(req) = req.as_str() else { continue };
                    if m.contains_key(req) {
                        continue;
                    }
                    if let Some(z) = props.get(req).and_then(|ps| zero(ps, depth + 1)) {
                        m.insert(req.to_string(), z);
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                m.retain(|_, x| fill_item(ap, x, depth + 1));
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                a.retain_mut(|x| fill_item(items, x, depth + 1));
            }
        }
        _ => {}
    }
}

/// A list item or map value: `null` is the element type's zero, as in Go. False for a `null`
/// whose type has no zero the structs accept (a schema of any type): it is left out.
fn fill_item(schema: &Value, x: &mut Value, depth: usize) -> bool {
    if !x.is_null() {
        fill(schema, x, depth);
        return true;
    }
    match zero(schema, depth) {
        Some(z) => {
            *x = z;
            true
        }
        None => false,
    }
}

/// The zero value of a schema, in a form k8s-openapi decodes; None where there is none.
fn zero(schema: &Value, depth: usize) -> Option<Value> {
    let (name, s) = resolve_ref(schema);
    if depth > MAX_DEPTH || preserves_unknown(s) {
        return None;
    }
    if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
        || s.get("format").and_then(Value::as_str) == Some("int-or-string")
    {
        return Some(Value::from(0));
    }
    if name.is_some_and(|n| n.ends_with(".api.resource.Quantity")) {
        return Some(Value::String("0".into()));
    }
    if is_time(s) {
        return Some(Value::String(GO_ZERO_TIME.into()));
    }
    Some(match s.get("type").and_then(Value::as_str)? {
        "string" => Value::String(String::new()),
        "integer" | "number" => Value::from(0),
        "boolean" => Value::Bool(false),
        "array" => Value::Array(Vec::new()),
        "object" => {
            let mut o = Value::Object(Map::new());
            fill(s, &mut o, depth + 1);
            o
        }
        _ => return None,
    })
}

fn restore(schema: &Value, v: &mut Value, depth: usize) {
    let (_, schema) = resolve_ref(schema);
    if depth > MAX_DEPTH || preserves_unknown(schema) {
        return;
    }
    if is_time(schema) {
        if v.as_str() == Some(GO_ZERO_TIME) {
            *v = Value::Null;
        }
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, x) in m.iter_mut() {
                    if let Some(ps) = props.get(k) {
                        restore(ps, x, depth + 1);
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                m.values_mut().for_each(|x| restore(ap, x, depth + 1));
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                a.iter_mut().for_each(|x| restore(items, x, depth + 1));
            }
        }
        _ => {}
    }
}

/// The typed round trip with Go's decoding rules: `null` and absent fields are zero values,
/// never a decode error; zero Times come out as `null`.
pub fn typed_round_trip(group: &str, version: &str, kind: &str, mut obj: Value) -> Result<Value, String> {
    fill_zeros(group, version, kind, &mut obj);
    let mut out = api_types::kinds::typed::round_trip(group, version, kind, obj)?;
    restore_zero_times(group, version, kind, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::resolve_ref;
    use proptest::prelude::*;
    use serde_json::json;

    /// A value for every property of a schema (lists and maps of one entry), to `depth`.
    fn skeleton(schema: &Value, depth: usize) -> Value {
        let (name, s) = resolve_ref(schema);
        if preserves_unknown(s) {
            return json!({});
        }
        if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
            || s.get("format").and_then(Value::as_str) == Some("int-or-string")
        {
            return json!(1);
        }
        if name.is_some_and(|n| n.ends_with(".api.resource.Quantity")) {
            return json!("1");
        }
        if is_time(s) {
            return json!("2024-01-02T03:04:05Z");
        }
        match s.get("type").and_then(Value::as_str) {
            Some("string") if s.get("format").and_then(Value::as_str) == Some("byte") => json!("eA=="),
            Some("string") => json!("x"),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") if depth > 0 => {
                json!([s.get("items").map(|i| skeleton(i, depth - 1)).unwrap_or(json!("x"))])
            }
            Some("array") => json!([]),
            _ if depth == 0 => json!({}),
            _ => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    let mut o: serde_json::Map<String, Value> =
                        props.iter().map(|(k, p)| (k.clone(), skeleton(p, depth - 1))).collect();
                    // Embedded objects (a StatefulSet's claim templates) name their own kind.
                    if let Some(gvk) = s.pointer("/x-kubernetes-group-version-kind/0") {
                        let (g, v) = (gvk["group"].as_str().unwrap_or(""), gvk["version"].as_str().unwrap_or(""));
                        o.insert(
                            "apiVersion".into(),
                            json!(if g.is_empty() { v.to_string() } else { format!("{g}/{v}") }),
                        );
                        o.insert("kind".into(), gvk["kind"].clone());
                    }
                    Value::Object(o)
                } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    json!({"k": skeleton(ap, depth - 1)})
                } else {
                    json!({})
                }
            }
        }
    }

    /// Replaces values with `null` where the generator says so (never the root).
    fn nullify(v: &mut Value, pick: &mut impl FnMut() -> bool) {
        match v {
            Value::Object(m) => m.values_mut().for_each(|x| if pick() { *x = Value::Null } else { nullify(x, pick) }),
            Value::Array(a) => a.iter_mut().for_each(|x| if pick() { *x = Value::Null } else { nullify(x, pick) }),
            _ => {}
        }
    }

    fn typed_kinds() -> Vec<(&'static str, &'static str, &'static str)> {
        api_types::kinds::typed::KNOWN.iter().copied().filter(|(g, v, k)| kind_definition(g, v, k).is_some()).collect()
    }

    #[test]
    fn every_kind_has_a_schema() {
        assert_eq!(typed_kinds().len(), api_types::kinds::typed::KNOWN.len());
    }

    /// Every kind, every field of its skeleton null at once and one at a time near the top.
    #[test]
    fn all_null_decodes_for_every_kind() {
        for (g, v, k) in typed_kinds() {
            let def = raw_definitions().get(kind_definition(g, v, k).unwrap()).unwrap();
            let sk = skeleton(def, 7);
            let mut all = sk.clone();
            nullify(&mut all, &mut || true);
            typed_round_trip(g, v, k, all).unwrap_or_else(|e| panic!("{g}/{v} {k} all null: {e}"));
            for top in sk.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                let mut one = sk.clone();
                one[&top] = Value::Null;
                typed_round_trip(g, v, k, one).unwrap_or_else(|e| panic!("{g}/{v} {k} {top} null: {e}"));
            }
        }
    }

    #[test]
    fn a_condition_without_transition_time_decodes_as_go_does() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "R", "message": "", "lastTransitionTime": null}]}});
        let out = typed_round_trip("", "v1", "Service", svc).expect("null is a zero Time");
        assert_eq!(out["status"]["conditions"][0]["lastTransitionTime"], Value::Null);
        assert_eq!(out["status"]["conditions"][0]["type"], "Ready");
        // Absent entirely, as a Go client that never set it also sends it (null).
        let svc = json!({"metadata": {"name": "s"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let out = typed_round_trip("", "v1", "Service", svc).expect("absent is a zero Time");
        assert_eq!(out["status"]["conditions"][0]["lastTransitionTime"], Value::Null);
        assert_eq!(out["status"]["conditions"][0]["reason"], "");
        // null in a list of strings is Go's zero string; a null map is absent.
        let cm = json!({"metadata": {"name": "c", "labels": null, "finalizers": [null, "a"]}, "data": {"k": null}});
        let out = typed_round_trip("", "v1", "ConfigMap", cm).expect("nulls decode");
        assert_eq!(out["metadata"]["finalizers"], json!(["", "a"]));
        assert_eq!(out["data"]["k"], "");
        assert!(out["metadata"].get("labels").is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Go's decoder accepts `null` for any field of any kind: so does the typed decode,
        /// and what was not nulled comes through unchanged.
        #[test]
        fn null_anywhere_decodes_for_every_kind(kind in 0usize..1000, seed in any::<u64>(), percent in 1u64..60) {
            let kinds = typed_kinds();
            let (g, v, k) = kinds[kind % kinds.len()];
            let def = raw_definitions().get(kind_definition(g, v, k).unwrap()).unwrap();
            let mut obj = skeleton(def, 7);
            let mut state = seed | 1;
            let mut pick = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % 100 < percent
            };
            nullify(&mut obj, &mut pick);
            obj["apiVersion"] = json!(if g.is_empty() { v.to_string() } else { format!("{g}/{v}") });
            obj["kind"] = json!(k);
            let out = typed_round_trip(g, v, k, obj.clone());
            prop_assert!(out.is_ok(), "{g}/{v} {k}: {:?}", out.err());
            let out = out.unwrap();
            prop_assert_eq!(&out["kind"], &obj["kind"]);
            if let Some(name) = obj.pointer("/metadata/name").filter(|n| !n.is_null()) {
                prop_assert_eq!(&out["metadata"]["name"], name);
            }
        }
    }
}
