//! Bodies kubectl 1.32 really sends (captured from `kubectl create ...` against a recording
//! server), checked against the JSON the same kubectl prints for the same objects with
//! `--dry-run=client -o json`.

use serde_json::{Map, Value};

/// Go's JSON minus what upstream prints for unset values: `null`, `{}` and `[]`.
fn drop_empty(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let m: Map<String, Value> = m.into_iter().filter_map(|(k, x)| drop_empty(x).map(|x| (k, x))).collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(a) if a.is_empty() => None,
        // Elements stay (an empty element is still an element).
        Value::Array(a) => Some(Value::Array(
            a.into_iter().map(|x| drop_empty(x.clone()).unwrap_or_else(|| Value::Object(Map::new()))).collect(),
        )),
        other => Some(other),
    }
}

fn check(name: &str, definition: &str, api_version: &str, kind: &str) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/kubectl-1.32/");
    let pb = std::fs::read(format!("{dir}{name}.pb")).unwrap();
    let json: Value = serde_json::from_slice(&std::fs::read(format!("{dir}{name}.json")).unwrap()).unwrap();
    let (av, k, _) = kproto::decode_object(&pb).unwrap();
    assert_eq!((av.as_str(), k.as_str()), (api_version, kind));
    let got = kproto::decode_object_as(&pb, definition).unwrap();
    let want = drop_empty(json.clone()).unwrap();
    assert_eq!(got, want, "{name}: decoded\n{got:#}\nexpected\n{want:#}");
    // And back: kubectl's JSON encodes to a message that decodes to the same JSON.
    let ours = kproto::encode_object(api_version, kind, definition, &json).unwrap();
    assert_eq!(kproto::decode_object_as(&ours, definition).unwrap(), want, "{name}: re-encoded");
    got
}

#[test]
fn namespace() {
    check("namespace", "io.k8s.api.core.v1.Namespace", "v1", "Namespace");
}

#[test]
fn configmaps() {
    let cm = check("configmap", "io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap");
    // Map values are kept even when empty.
    assert_eq!(cm["data"]["empty"], "");
    let bin = check("configmap-binary", "io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap");
    assert_eq!(bin["binaryData"]["bin"], "AAH/");
}

#[test]
fn secret() {
    let s = check("secret", "io.k8s.api.core.v1.Secret", "v1", "Secret");
    assert_eq!(s["data"]["password"], "aHVudGVyMg==");
    assert_eq!(s["type"], "Opaque");
}

#[test]
fn deployments() {
    let d = check("deployment", "io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment");
    assert_eq!(d["spec"]["replicas"], 3);
    // `replicas` is a pointer: an explicit zero is on the wire and survives.
    let z = check("deployment-zero", "io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment");
    assert_eq!(z["spec"]["replicas"], 0);
    assert_eq!(z["spec"]["template"]["spec"]["containers"][0]["command"], serde_json::json!(["sleep", "3600"]));
}

#[test]
fn services() {
    let c = check("service-clusterip", "io.k8s.api.core.v1.Service", "v1", "Service");
    assert_eq!(c["spec"]["ports"][0]["targetPort"], 8080);
    let n = check("service-nodeport", "io.k8s.api.core.v1.Service", "v1", "Service");
    assert_eq!(n["spec"]["ports"][0]["targetPort"], "https");
    assert_eq!(n["spec"]["ports"][0]["nodePort"], 30443);
}
