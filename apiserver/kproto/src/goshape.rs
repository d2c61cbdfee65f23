//! Go's JSON shape of a typed object. Upstream's server-side apply reads objects through
//! reflection, where a non-pointer struct field is always present (`{}` when empty, `null`
//! for a zero `metav1.Time`, `0` for an `IntOrString`, `"0"` for a `Quantity`). Field
//! ownership depends on which nodes exist, so the field manager fills these in before it
//! compares or merges objects. The message table knows each field's Go shape.

use crate::codec::{special, Special};
use crate::schema::{message, Label, Ty};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 64;

/// Adds every absent field of `definition` that Go's JSON encoding writes even when zero
/// (non-pointer structs; scalars, lists and maps without `omitempty`), recursively, also
/// inside list items and map values, with the value Go writes for it.
pub fn go_fill(definition: &str, v: &mut Value) {
    fill(definition, v, 0);
}

fn zero(name: &str, depth: usize) -> Option<Value> {
    Some(match special(name) {
        Some(Special::Time | Special::MicroTime | Special::RawJson) => Value::Null,
        Some(Special::Quantity) => Value::String("0".into()),
        Some(Special::IntOrString) => Value::from(0),
        Some(Special::Duration) => Value::String("0s".into()),
        Some(_) => return None,
        None => {
            let mut v = Value::Object(Map::new());
            fill(name, &mut v, depth + 1);
            v
        }
    })
}

fn fill(def: &str, v: &mut Value, depth: usize) {
    if depth > MAX_DEPTH || special(def).is_some() {
        return;
    }
    let Some(m) = message(def) else { return };
    if !v.is_object() {
        return;
    }
    for f in &m.fields {
        if f.def.inline {
            if let Ty::Message(name) = f.def.ty {
                fill(name, v, depth + 1);
            }
            continue;
        }
        let Some(o) = v.as_object_mut() else { return };
        if let Some(child) = o.get_mut(&f.json) {
            let Ty::Message(name) = f.def.ty else { continue };
            match (f.def.label, child) {
                (Label::Single, child) => fill(name, child, depth + 1),
                (Label::Repeated, Value::Array(items)) => items.iter_mut().for_each(|i| fill(name, i, depth + 1)),
                (Label::Map, Value::Object(entries)) => entries.values_mut().for_each(|i| fill(name, i, depth + 1)),
                _ => {}
            }
            continue;
        }
        // Absent: Go still writes non-pointer structs, and anything without omitempty. Fields
        // the table has no Go tag for are left alone.
        if f.def.pointer || f.def.go_json.is_empty() {
            continue;
        }
        let z = match (f.def.label, f.def.ty) {
            (Label::Single, Ty::Message(name)) => zero(name, depth),
            _ if f.def.omitempty => None,
            (Label::Repeated | Label::Map, _) | (Label::Single, Ty::Bytes) => Some(Value::Null),
            (Label::Single, Ty::String) => Some(Value::String(String::new())),
            (Label::Single, Ty::Bool) => Some(Value::Bool(false)),
            (Label::Single, Ty::Int32 | Ty::Int64 | Ty::Double) => Some(Value::from(0)),
        };
        if let Some(z) = z {
            o.insert(f.json.clone(), z);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_non_pointer_structs_as_go_encodes_them() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        go_fill("io.k8s.api.apps.v1.Deployment", &mut d);
        assert_eq!(d["metadata"], json!({"creationTimestamp": null}));
        assert_eq!(d["status"], json!({}));
        assert_eq!(d["spec"]["strategy"], json!({}));
        assert_eq!(d["spec"]["template"]["metadata"], json!({"creationTimestamp": null}));
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["resources"], json!({}));
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["name"], "c");
        // A zero PodSpec has `containers: null` (no omitempty); pointers stay absent.
        let mut z = json!({});
        go_fill("io.k8s.api.core.v1.PodTemplateSpec", &mut z);
        assert_eq!(z["spec"]["containers"], Value::Null);
        assert!(z["spec"].as_object().unwrap().contains_key("containers"));
        assert!(d["spec"].get("selector").is_none());
        assert!(d["spec"]["template"]["spec"].get("securityContext").is_none());
    }
}
