//! Property tests over server-side apply and update tracking: arbitrary configurations and
//! live objects (keys drawn from real field names, so they reach keyed lists, sets and atomic
//! maps) never panic; an apply that succeeds yields an object whose managed fields decode;
//! re-applying the same configuration changes neither the object nor the ownership.

use fieldmanager::{apply, decode, update, Target};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i64..100).prop_map(|i| json!(i)),
        "[a-z]{0,4}".prop_map(Value::String),
        Just(json!("TCP")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "metadata",
        "labels",
        "finalizers",
        "ownerReferences",
        "uid",
        "name",
        "annotations",
        "spec",
        "template",
        "containers",
        "env",
        "ports",
        "containerPort",
        "protocol",
        "volumes",
        "image",
        "value",
        "strategy",
        "type",
        "rollingUpdate",
        "selector",
        "matchLabels",
        "data",
        "replicas",
        "args",
        "tolerations",
        "status",
        "managedFields",
        "apiVersion",
        "kind",
    ]);
    leaf().prop_recursive(6, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

const KINDS: &[(&str, &str, &str, &[&str])] = &[
    ("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment", &["status"]),
    ("io.k8s.api.core.v1.Pod", "v1", "Pod", &["status"]),
    ("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap", &[]),
    ("io.k8s.api.core.v1.Service", "v1", "Service", &["status"]),
];

fn with_gvk(mut v: Value, av: &str, kind: &str) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), json!(av));
        m.insert("kind".into(), json!(kind));
        m.remove("metadata");
        m.insert("metadata".into(), json!({"name": "x"}));
        return v;
    }
    json!({"apiVersion": av, "kind": kind, "metadata": {"name": "x"}})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn apply_and_update_never_panic(live in value(), config in value(), other in value(), k in 0..KINDS.len(), force: bool) {
        let (def, av, kind, ignored) = KINDS[k];
        let t = Target { definition: def, api_version: av, kind, subresource: "", ignored };
        // Arbitrary bodies, including ones that are not objects or lack apiVersion/kind.
        let _ = apply(&t, Some(&live), &config, "m", force, "2026-01-01T00:00:00Z");
        let mut new = other.clone();
        update(&t, Some(&live), &mut new, "u", "2026-01-01T00:00:00Z");

        let cfg = with_gvk(config, av, kind);
        if let Ok(out) = apply(&t, None, &cfg, "m", force, "2026-01-01T00:00:00Z") {
            prop_assert!(out.is_object());
            prop_assert!(decode(&out).is_ok());
            let again = apply(&t, Some(&out), &cfg, "m", false, "2026-01-01T00:01:00Z");
            prop_assert!(again.is_ok(), "re-apply by the same manager cannot conflict: {again:?}");
            prop_assert_eq!(again.unwrap(), out);
        }
    }
}
