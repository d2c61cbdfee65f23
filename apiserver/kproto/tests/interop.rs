//! Cross-checks against k8s-pb (prost structs generated from upstream's generated.proto): what
//! kproto writes, prost reads field for field (and writes back byte for byte), and what prost
//! writes, kproto reads. Plus the envelope and the watch frame.

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};

/// kproto's bytes decode with prost, and prost re-encodes them identically (same fields, same
/// order, same map ordering, nothing lost).
fn via_prost<M: Message + Default>(definition: &str, v: &Value) -> M {
    let ours = kproto::encode(definition, v).unwrap();
    let m = M::decode(&ours[..]).unwrap_or_else(|e| panic!("prost cannot decode {definition}: {e}"));
    assert_eq!(m.encode_to_vec(), ours, "{definition}: prost re-encodes differently");
    m
}

fn deployment_json() -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"b": "2", "a": "1"}, "creationTimestamp": "2024-05-06T07:08:09Z", "generation": 1},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "nginx", "image": "nginx:1.27",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "ports": [{"containerPort": 80}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
            }], "securityContext": {"supplementalGroups": [5, 6]}}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        },
    })
}

#[test]
fn deployment_reads_in_prost() {
    let d: apps::Deployment = via_prost("io.k8s.api.apps.v1.Deployment", &deployment_json());
    let md = d.metadata.as_ref().unwrap();
    assert_eq!(md.name.as_deref(), Some("web"));
    assert_eq!(md.labels.get("a").map(String::as_str), Some("1"));
    assert_eq!(md.creation_timestamp, Some(meta::Time { seconds: Some(1_714_979_289), nanos: Some(0) }));
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(0));
    let ru = spec.strategy.as_ref().unwrap().rolling_update.as_ref().unwrap();
    assert_eq!(ru.max_surge, Some(IntOrString { r#type: Some(1), int_val: Some(0), str_val: Some("25%".into()) }));
    assert_eq!(
        ru.max_unavailable,
        Some(IntOrString { r#type: Some(0), int_val: Some(1), str_val: Some(String::new()) })
    );
    let pod = spec.template.as_ref().unwrap().spec.as_ref().unwrap();
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("nginx:1.27"));
    let req = &c.resources.as_ref().unwrap().requests;
    assert_eq!(req.get("cpu"), Some(&Quantity { string: Some("100m".into()) }));
    assert_eq!(c.ports[0].container_port, Some(80));
    // The inline ProbeHandler is its own protobuf message.
    let http = c.readiness_probe.as_ref().unwrap().handler.as_ref().unwrap().http_get.as_ref().unwrap();
    assert_eq!(http.port.as_ref().unwrap().int_val, Some(80));
    assert_eq!(pod.security_context.as_ref().unwrap().supplemental_groups, vec![5, 6]);
}

#[test]
fn more_kinds_re_encode_identically_in_prost() {
    let s: core::Secret = via_prost(
        "io.k8s.api.core.v1.Secret",
        &json!({"metadata": {"name": "s"}, "data": {"z": "AAE=", "a": "YQ=="}, "stringData": {"k": "v"}, "type": "Opaque", "immutable": false}),
    );
    assert_eq!(s.immutable, Some(false));
    // An empty bytes value is written (gogo writes non-nil empty slices; prost would omit it).
    let b = kproto::encode("io.k8s.api.core.v1.Secret", &json!({"data": {"a": ""}})).unwrap();
    assert_eq!(b, [0x12, 5, 0x0a, 1, b'a', 0x12, 0]);
    assert_eq!(core::Secret::decode(&b[..]).unwrap().data["a"], Vec::<u8>::new());
    let cm: core::ConfigMap = via_prost(
        "io.k8s.api.core.v1.ConfigMap",
        &json!({"metadata": {"name": "c"}, "data": {"x": "y"}, "binaryData": {"bin": "AAH/"}}),
    );
    assert_eq!(cm.binary_data.get("bin").map(Vec::as_slice), Some(&[0u8, 1, 255][..]));
    let pod: core::Pod = via_prost(
        "io.k8s.api.core.v1.Pod",
        &json!({"spec": {
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x", "optional": true}}],
            "containers": [{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "c"}],
            "imagePullSecrets": [{"name": "reg"}],
        }}),
    );
    let spec = pod.spec.unwrap();
    // Inline structs: Volume.volumeSource, EphemeralContainer.ephemeralContainerCommon,
    // SecretKeySelector.localObjectReference.
    assert!(spec.volumes[0].volume_source.as_ref().unwrap().empty_dir.is_some());
    assert_eq!(
        spec.ephemeral_containers[0].ephemeral_container_common.as_ref().unwrap().name.as_deref(),
        Some("debug")
    );
    let skr = spec.containers[0].env[0].value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!(skr.local_object_reference.as_ref().unwrap().name.as_deref(), Some("x"));
    let ev: k8s_pb::api::events::v1::Event = via_prost(
        "io.k8s.api.events.v1.Event",
        &json!({"metadata": {"name": "e"}, "eventTime": "2024-05-06T07:08:09.123456Z", "reason": "R"}),
    );
    assert_eq!(ev.event_time, Some(meta::MicroTime { seconds: Some(1_714_979_289), nanos: Some(123_456_000) }));
    type Crd = k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crd: Crd = via_prost(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        &json!({"spec": {"group": "g", "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": true, "default": {"a": 1}, "enum": [1, null],
            "additionalProperties": false, "items": [{"type": "string"}], "dependencies": {"a": ["b"]}, "maximum": 2.5,
            "$ref": "r"}}}]}}),
    );
    let props = crd.spec.unwrap().versions[0].schema.clone().unwrap().open_apiv3_schema.unwrap();
    assert_eq!(props.x_kubernetes_preserve_unknown_fields, Some(true));
    assert_eq!(props.default.unwrap().raw.as_deref(), Some(&b"{\"a\":1}"[..]));
    assert_eq!(props.r#enum.len(), 2);
    assert_eq!(props.r#enum[1].raw, None);
    assert_eq!(props.additional_properties.unwrap().allows, Some(false));
    assert_eq!(props.items.unwrap().j_son_schemas.len(), 1);
    assert_eq!(props.dependencies["a"].property, vec!["b".to_string()]);
    assert_eq!(props.maximum, Some(2.5));
    assert_eq!(props.r#ref.as_deref(), Some("r"));
}

#[test]
fn prost_service_reads_in_kproto() {
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            name: Some("svc".into()),
            namespace: Some("default".into()),
            creation_timestamp: Some(meta::Time { seconds: Some(0), nanos: Some(0) }),
            deletion_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: Some("http".into()),
                    port: Some(80),
                    target_port: Some(IntOrString { r#type: Some(0), int_val: Some(8080), str_val: None }),
                    ..Default::default()
                },
                core::ServicePort {
                    name: Some("https".into()),
                    port: Some(443),
                    target_port: Some(IntOrString { r#type: Some(1), int_val: None, str_val: Some("https".into()) }),
                    ..Default::default()
                },
            ],
            selector: [("app".to_string(), "web".to_string())].into(),
            cluster_ips: vec!["10.0.0.1".into()],
            session_affinity_config: Some(core::SessionAffinityConfig {
                client_ip: Some(core::ClientIpConfig { timeout_seconds: Some(10800) }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let v = kproto::decode("io.k8s.api.core.v1.Service", &svc.encode_to_vec()).unwrap();
    assert_eq!(
        v,
        json!({
            "metadata": {"name": "svc", "namespace": "default", "creationTimestamp": "1970-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0},
            "spec": {
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443, "targetPort": "https"}],
                "selector": {"app": "web"},
                "clusterIPs": ["10.0.0.1"],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            },
        })
    );
}

#[test]
fn prost_pod_with_special_types_reads_in_kproto() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: Some("p".into()),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: Some("m".into()),
                fields_v1: Some(meta::FieldsV1 { raw: Some(br#"{"f:spec":{}}"#.to_vec()) }),
                time: Some(meta::Time { seconds: Some(1_714_979_289), nanos: Some(999) }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: Some("c".into()),
                resources: Some(core::ResourceRequirements {
                    limits: [("memory".to_string(), Quantity { string: Some("1Gi".into()) })].into(),
                    // An empty Quantity is upstream's zero: "0".
                    requests: [("cpu".to_string(), Quantity { string: None })].into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            // Go's zero time: an absent field in JSON.
            start_time: Some(meta::Time { seconds: Some(-62_135_596_800), nanos: Some(0) }),
            ..Default::default()
        }),
    };
    let v = kproto::decode("io.k8s.api.core.v1.Pod", &pod.encode_to_vec()).unwrap();
    assert_eq!(
        v,
        json!({
            "metadata": {"name": "p", "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}, "time": "2024-05-06T07:08:09Z"}]},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "0"}}}]},
        })
    );
}

#[test]
fn envelope_matches_runtime_unknown() {
    let v = deployment_json();
    let env = kproto::encode_object("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment", &v).unwrap();
    assert_eq!(&env[..4], b"k8s\0");
    let unk = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&env[4..]).unwrap();
    let tm = unk.type_meta.unwrap();
    assert_eq!((tm.api_version.as_deref(), tm.kind.as_deref()), (Some("apps/v1"), Some("Deployment")));
    assert_eq!((unk.content_encoding.as_deref(), unk.content_type.as_deref()), (Some(""), Some("")));
    let raw = kproto::encode("io.k8s.api.apps.v1.Deployment", &v).unwrap();
    assert_eq!(unk.raw.as_deref(), Some(&raw[..]));

    let (av, kind, got) = kproto::decode_object(&env).unwrap();
    assert_eq!((av.as_str(), kind.as_str(), &got[..]), ("apps/v1", "Deployment", &raw[..]));
    let obj = kproto::decode_object_as(&env, "io.k8s.api.apps.v1.Deployment").unwrap();
    assert_eq!(obj["apiVersion"], "apps/v1");
    assert_eq!(obj["kind"], "Deployment");
    assert_eq!(obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");

    assert_eq!(kproto::decode_object(b""), Err(kproto::Error::EmptyData));
    assert_eq!(kproto::decode_object(b"{\"kind\":1}"), Err(kproto::Error::MissingPrefix));
    assert_eq!(kproto::decode_object(b"k8s\0"), Err(kproto::Error::EmptyBody));
    assert!(matches!(kproto::decode_object(b"k8s\0\x0a\x05ab"), Err(kproto::Error::Malformed { .. })));
}

#[test]
fn lists_and_status() {
    let list = json!({
        "metadata": {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 0},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}, "spec": {"finalizers": ["kubernetes"]}}],
    });
    let def = kproto::list_definition("io.k8s.api.core.v1.Namespace").unwrap();
    assert_eq!(def, "io.k8s.api.core.v1.NamespaceList");
    let env = kproto::encode_object("v1", "NamespaceList", def, &list).unwrap();
    let l = core::NamespaceList::decode(&kproto::decode_object(&env).unwrap().2[..]).unwrap();
    assert_eq!(l.items.len(), 2);
    assert_eq!(l.metadata.unwrap().remaining_item_count, Some(0));
    let back = kproto::decode_object_as(&env, def).unwrap();
    assert_eq!(back["items"][1]["spec"]["finalizers"][0], "kubernetes");
    assert_eq!(back["metadata"]["remainingItemCount"], 0);

    let status = json!({"status": "Failure", "message": "namespaces \"x\" not found", "reason": "NotFound",
                        "details": {"name": "x", "kind": "namespaces"}, "code": 404});
    let env = kproto::encode_object("v1", "Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Status", &status).unwrap();
    let s = meta::Status::decode(&kproto::decode_object(&env).unwrap().2[..]).unwrap();
    assert_eq!((s.code, s.reason.as_deref()), (Some(404), Some("NotFound")));
    assert_eq!(kproto::decode("io.k8s.apimachinery.pkg.apis.meta.v1.Status", &s.encode_to_vec()).unwrap(), status);
}

#[test]
fn watch_frames() {
    let obj =
        kproto::encode_object("v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap", &json!({"metadata": {"name": "c"}}))
            .unwrap();
    let mut stream = kproto::encode_watch_frame("ADDED", &obj);
    stream.extend(kproto::encode_watch_frame("DELETED", &obj));
    let len = u32::from_be_bytes(stream[..4].try_into().unwrap()) as usize;
    // The frame is a bare WatchEvent (no envelope) whose object carries one.
    let ev = meta::WatchEvent::decode(&stream[4..4 + len]).unwrap();
    assert_eq!(ev.r#type.as_deref(), Some("ADDED"));
    assert_eq!(ev.object.unwrap().raw.as_deref(), Some(&obj[..]));

    let (p1, rest) = kproto::split_frame(&stream).unwrap();
    let (p2, rest) = kproto::split_frame(rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(kproto::decode_watch_frame(p1).unwrap(), ("ADDED".to_string(), obj.clone()));
    assert_eq!(kproto::decode_watch_frame(p2).unwrap(), ("DELETED".to_string(), obj.clone()));
    // Incomplete frames wait for more bytes.
    assert!(kproto::split_frame(&stream[..3]).is_none());
    assert!(kproto::split_frame(&stream[..len]).is_none());
}
