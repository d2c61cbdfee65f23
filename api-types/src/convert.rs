//! Version conversion for resources that share storage with another version: objects are
//! stored in upstream's storage version and converted on the way in and out. Today that is
//! events.k8s.io/v1 Event, stored as core/v1 Event (the same data seen two ways).

use crate::registry::ResourceDef;
use serde_json::{Map, Value};

/// (group, version, kind) objects of the resource are stored as, when it differs.
pub fn storage_kind(rd: &ResourceDef) -> Option<(&'static str, &'static str, &'static str)> {
    match (rd.group, rd.version, rd.kind) {
        ("events.k8s.io", "v1", "Event") => Some(("", "v1", "Event")),
        _ => None,
    }
}

/// events.k8s.io/v1 field -> core/v1 field (top level).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("related", "related"),
    ("note", "message"),
    ("reason", "reason"),
    ("type", "type"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("deprecatedSource", "source"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("action", "action"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
    ("metadata", "metadata"),
];

fn rename(obj: Value, pairs: &[(&str, &str)], forward: bool, api_version: &str) -> Value {
    let Value::Object(mut m) = obj else { return obj };
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    // Each field appears once on either side of `pairs`, so values move instead of copying.
    for (a, b) in pairs {
        let (from, to) = if forward { (*a, *b) } else { (*b, *a) };
        if let Some(v) = m.remove(from) {
            out.insert(to.to_string(), v);
        }
    }
    Value::Object(out)
}

/// The stored form of an object of `rd`.
pub fn to_storage(rd: &ResourceDef, obj: Value) -> Value {
    match storage_kind(rd) {
        Some(("", "v1", "Event")) => {
            let mut v = rename(obj, EVENT_FIELDS, true, "v1");
            // core/v1 events use eventTime only with series; the count starts at 1 upstream
            // only for the legacy API, so nothing is invented here.
            if v.get("involvedObject").is_none() {
                v["involvedObject"] = Value::Object(Map::new());
            }
            if let Some(m) = v.as_object_mut() {
                crate::kinds::defaults::core_event_zeros(m);
            }
            v
        }
        _ => obj,
    }
}

/// The object of `rd` for a stored value.
pub fn from_storage(rd: &ResourceDef, obj: Value) -> Value {
    match storage_kind(rd) {
        Some(("", "v1", "Event")) => {
            let mut v = rename(obj, EVENT_FIELDS, false, "events.k8s.io/v1");
            if let Some(m) = v.as_object_mut() {
                // Go leaves these out when empty on this side (`omitempty`).
                for r in ["reportingController", "reportingInstance"] {
                    if m.get(r).is_some_and(|x| x.as_str() == Some("")) {
                        m.remove(r);
                    }
                }
                crate::kinds::defaults::events_event_zeros(m);
            }
            v
        }
        _ => obj,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_event_field_is_named_once_on_each_side() {
        for side in [0, 1] {
            let mut names: Vec<&str> = EVENT_FIELDS.iter().map(|p| if side == 0 { p.0 } else { p.1 }).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n, "rename moves values: a field named twice would lose one");
        }
    }

    #[test]
    fn events_round_trip_between_views() {
        let rd = crate::lookup("events.k8s.io", "v1", "events").unwrap();
        let e = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e", "namespace": "d"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello", "reason": "Started", "type": "Normal",
            "reportingController": "kubelet", "reportingInstance": "n1", "action": "Start", "eventTime": "2025-01-01T00:00:00.000000Z"});
        let stored = to_storage(rd, e.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hello");
        assert_eq!(stored["reportingComponent"], "kubelet");
        assert_eq!(stored["source"], json!({}));
        assert_eq!(stored["firstTimestamp"], Value::Null);
        let mut back = e.clone();
        back["deprecatedSource"] = json!({});
        back["deprecatedFirstTimestamp"] = Value::Null;
        back["deprecatedLastTimestamp"] = Value::Null;
        assert_eq!(from_storage(rd, stored), back);
        // A core Event as Go encodes it, seen as events.k8s.io: no empty reporting fields.
        let legacy = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "l"}, "involvedObject": {},
            "reportingComponent": "", "reportingInstance": "", "source": {"component": "kubelet"}});
        let seen = from_storage(rd, legacy);
        assert!(seen.get("reportingController").is_none() && seen.get("reportingInstance").is_none());
        assert_eq!(seen["eventTime"], Value::Null);
        assert_eq!(seen["deprecatedSource"]["component"], "kubelet");
        let core = crate::lookup("", "v1", "events").unwrap();
        assert!(storage_kind(core).is_none());
    }
}
