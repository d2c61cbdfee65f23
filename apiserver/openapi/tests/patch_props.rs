//! Property tests over the patch code paths: arbitrary JSON documents and arbitrary patches
//! (strategic, merge, JSON patch), against real kinds' schemas, never panic; a strategic
//! merge patch that succeeds gives an object, and patching with an empty patch changes nothing.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-z$/]{0,8}".prop_map(Value::String),
        prop::sample::select(vec!["replace", "delete", "merge", "bogus"]).prop_map(|s| json!(s)),
    ]
}

/// JSON values whose keys are drawn from real field names and the patch directives, so that
/// generated patches reach deep into the schemas.
fn value() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "metadata",
        "labels",
        "finalizers",
        "ownerReferences",
        "uid",
        "name",
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
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$deleteFromPrimitiveList/finalizers",
        "data",
        "replicas",
    ]);
    leaf().prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

const KINDS: &[(&str, &str, &str)] = &[
    ("apps", "v1", "Deployment"),
    ("", "v1", "Pod"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Service"),
    ("batch", "v1", "CronJob"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn strategic_merge_never_panics(original in value(), patch in value(), k in 0..KINDS.len()) {
        let (g, v, kind) = KINDS[k];
        if let Ok(out) = openapi::strategic_merge_patch(g, v, kind, &original, &patch) {
            prop_assert!(out.is_object());
        }
    }

    #[test]
    fn empty_patches_change_nothing(original in value(), k in 0..KINDS.len()) {
        let (g, v, kind) = KINDS[k];
        if original.is_object() {
            let out = openapi::strategic_merge_patch(g, v, kind, &original, &json!({})).unwrap();
            prop_assert_eq!(out, original.clone());
        }
        if original.is_object() {
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &json!({}));
            prop_assert_eq!(doc, original);
        }
    }

    #[test]
    fn merge_and_json_patch_never_panic(original in value(), patch in value(), ops in prop::collection::vec((prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test"]), "(/[a-z0-9~]{0,6}){0,3}", value()), 0..4)) {
        let mut doc = original.clone();
        json_patch::merge(&mut doc, &patch);
        let p: Vec<Value> = ops.into_iter().map(|(op, path, value)| json!({"op": op, "path": path, "from": "/spec", "value": value})).collect();
        if let Ok(p) = serde_json::from_value::<json_patch::Patch>(Value::Array(p)) {
            let mut doc = original.clone();
            // What the server calls (on a copy it discards on error).
            let _ = json_patch::patch_unsafe(&mut doc, &p);
        }
        let unknown = openapi::unknown_fields("apps", "v1", "Deployment", &original);
        prop_assert!(unknown.len() < 10_000);
    }
}
