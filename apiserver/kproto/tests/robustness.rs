//! Nothing panics: random and mutated bytes, random JSON, deep nesting.

use proptest::prelude::*;
use serde_json::{json, Value};

const DEFS: &[&str] = &[
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.events.v1.Event",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
];

const PROPS: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";

fn sample() -> Vec<u8> {
    kproto::encode(
        "io.k8s.api.apps.v1.Deployment",
        &json!({"metadata": {"name": "x", "labels": {"a": "b"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}},
                "ports": [{"containerPort": 80}], "livenessProbe": {"httpGet": {"port": "http"}}}]}},
                "strategy": {"rollingUpdate": {"maxSurge": 1}}}}),
    )
    .unwrap()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9:+=./ -]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("spec".to_string()),
                    Just("name".to_string()),
                    Just("labels".to_string()),
                    Just("containers".to_string()),
                    Just("ports".to_string()),
                    Just("targetPort".to_string()),
                    Just("data".to_string()),
                    Just("properties".to_string()),
                    Just("items".to_string()),
                    Just("additionalProperties".to_string()),
                    Just("eventTime".to_string()),
                    Just("creationTimestamp".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256), d in 0..DEFS.len()) {
        let _ = kproto::decode(DEFS[d], &bytes);
        let _ = kproto::decode_object(&bytes);
        let mut env = b"k8s\0".to_vec();
        env.extend_from_slice(&bytes);
        let _ = kproto::decode_object_as(&env, DEFS[d]);
        let _ = kproto::decode_watch_frame(&bytes);
        let _ = kproto::split_frame(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_messages(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                               cut in any::<prop::sample::Index>()) {
        let mut b = sample();
        for (i, x) in edits {
            let i = i.index(b.len());
            b[i] = x;
        }
        let _ = kproto::decode("io.k8s.api.apps.v1.Deployment", &b);
        let n = cut.index(b.len());
        let _ = kproto::decode("io.k8s.api.apps.v1.Deployment", &b[..n]);
    }

    #[test]
    fn encode_never_panics_and_round_trips_what_it_accepts(v in json_value(), d in 0..DEFS.len()) {
        if let Ok(b) = kproto::encode(DEFS[d], &v) {
            let back = kproto::decode(DEFS[d], &b);
            prop_assert!(back.is_ok(), "{}: {:?} -> {:?}", DEFS[d], v, back);
            // Encoding is stable: what decoding yields encodes to the same bytes, except where
            // decoding normalizes (dropped zeros, Quantity "" -> "0").
            let again = kproto::encode(DEFS[d], &back.unwrap());
            prop_assert!(again.is_ok());
        }
    }
}

fn nested_props_bytes(levels: usize) -> Vec<u8> {
    // JSONSchemaProps.not (tag 28) nested `levels` deep.
    let mut b: Vec<u8> = Vec::new();
    for _ in 0..levels {
        let mut outer = vec![0xe2, 0x01]; // key: field 28, length-delimited
        let mut n = b.len();
        while n >= 0x80 {
            outer.push((n as u8) | 0x80);
            n >>= 7;
        }
        outer.push(n as u8);
        outer.extend_from_slice(&b);
        b = outer;
    }
    b
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Run on a small stack: the depth bound must keep recursion well inside it.
    std::thread::Builder::new()
        .stack_size(768 * 1024)
        .spawn(|| {
            let ok = nested_props_bytes(kproto::MAX_DEPTH - 1);
            let v = kproto::decode(PROPS, &ok).unwrap();
            let again = kproto::encode(PROPS, &v).unwrap();
            assert_eq!(again, ok);

            let deep = nested_props_bytes(1000);
            assert_eq!(kproto::decode(PROPS, &deep), Err(kproto::Error::TooDeep(kproto::MAX_DEPTH)));

            let mut v = json!({"type": "object"});
            for _ in 0..1000 {
                v = json!({"not": v});
            }
            assert_eq!(kproto::encode(PROPS, &v), Err(kproto::Error::TooDeep(kproto::MAX_DEPTH)));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn errors_name_the_field() {
    let e = kproto::encode(
        "io.k8s.api.apps.v1.Deployment",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": 5}]}}}}),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "cannot encode at spec.template.spec.containers[0].name: expected string, found number");
    let e = kproto::encode("io.k8s.api.core.v1.Secret", &json!({"data": {"k": "not base64!"}})).unwrap_err();
    assert!(e.to_string().starts_with("invalid value at data[k]: illegal base64 data"), "{e}");
    let e =
        kproto::encode("io.k8s.api.core.v1.Service", &json!({"spec": {"ports": [{"port": 1u64 << 40}]}})).unwrap_err();
    assert_eq!(e.to_string(), "invalid value at spec.ports[0].port: 1099511627776 overflows int32");
    let e =
        kproto::encode("io.k8s.api.core.v1.Service", &json!({"spec": {"ports": [{"targetPort": true}]}})).unwrap_err();
    assert_eq!(e.to_string(), "cannot encode at spec.ports[0].targetPort: expected integer or string, found boolean");
    let e = kproto::encode("io.k8s.api.core.v1.Namespace", &json!({"metadata": {"creationTimestamp": "yesterday"}}))
        .unwrap_err();
    assert!(e.to_string().starts_with("invalid value at metadata.creationTimestamp: invalid RFC 3339 time"), "{e}");
    assert_eq!(
        kproto::encode("io.k8s.api.core.v1.Nope", &json!({})).unwrap_err().to_string(),
        "no protobuf message is known for definition \"io.k8s.api.core.v1.Nope\""
    );
    // Wire errors carry the path too.
    let e = kproto::decode("io.k8s.api.core.v1.Namespace", &[0x0a, 0x02, 0x0a, 0x05]).unwrap_err();
    assert_eq!(e.to_string(), "malformed protobuf at metadata: field length 5 exceeds the 0 remaining bytes");
    let e = kproto::decode("io.k8s.api.core.v1.Namespace", &[0x0a, 0x02, 0x38, 0x01, 0x12, 0x00]).unwrap();
    assert_eq!(e, json!({"metadata": {"generation": 1}}));
    // A string where a varint belongs.
    let e = kproto::decode("io.k8s.api.core.v1.Namespace", &[0x0a, 0x02, 0x3a, 0x00]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "malformed protobuf at metadata.generation: expected a varint field, got length-delimited"
    );
    // Unknown fields are skipped.
    assert_eq!(kproto::decode("io.k8s.api.core.v1.Namespace", &[0xf8, 0x3e, 0x01, 0x0a, 0x00]).unwrap(), json!({}));
}

#[test]
fn every_definition_decodes_empty_and_garbage_without_panicking() {
    for d in kproto::known_definitions() {
        let _ = kproto::decode(d, &[]).unwrap();
        for junk in [
            &[0xff_u8; 12][..],
            &[0x0a, 0x80],
            &[0x12, 0x02, 0x08],
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            let _ = kproto::decode(d, junk);
        }
        let _ = kproto::encode(d, &json!({}));
    }
}
