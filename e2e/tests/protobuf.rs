//! Protobuf responses: objects, lists and watch streams in `application/vnd.kubernetes.protobuf`
//! decode to the same content as the JSON answers.

use e2e::Cluster;
use futures::StreamExt;
use serde_json::{json, Value};

const PB: &str = "application/vnd.kubernetes.protobuf, application/json";

#[tokio::test(flavor = "multi_thread")]
async fn protobuf_objects_lists_and_watches() {
    let c = Cluster::start();
    let http = c.api.client();
    let base = c.api.url();
    let url = format!("{base}/api/v1/namespaces/default/configmaps");
    let created: Value = http
        .post(&url)
        .json(&json!({"metadata": {"name": "pb", "labels": {"a": "b"}}, "data": {"k": "v"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let r = http.get(format!("{url}/pb")).header("Accept", PB).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.kubernetes.protobuf");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"k8s\0"));
    let got = kproto::decode_object_as(&bytes, "io.k8s.api.core.v1.ConfigMap").unwrap();
    assert_eq!(got["data"], created["data"]);
    assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(got["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    assert_eq!(got["kind"], "ConfigMap");

    let r = http.get(&url).header("Accept", PB).send().await.unwrap();
    let list = kproto::decode_object_as(&r.bytes().await.unwrap(), "io.k8s.api.core.v1.ConfigMapList").unwrap();
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["metadata"]["name"] == "pb"));

    // Errors stay Status objects, decodable either way.
    let r = http.get(format!("{url}/missing")).header("Accept", PB).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // A watch stream of length-delimited WatchEvent frames.
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let r = http
        .get(format!("{url}?watch=true&resourceVersion={rv}&timeoutSeconds=5"))
        .header("Accept", "application/vnd.kubernetes.protobuf;stream=watch, application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.kubernetes.protobuf;stream=watch");
    http.post(&url).json(&json!({"metadata": {"name": "pb2"}, "data": {"x": "y"}})).send().await.unwrap();
    let mut stream = r.bytes_stream();
    let mut buf = Vec::new();
    let event = loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .unwrap();
        buf.extend_from_slice(&chunk);
        if let Some((frame, _rest)) = kproto::split_frame(&buf) {
            break kproto::decode_watch_frame(frame).unwrap();
        }
    };
    assert_eq!(event.0, "ADDED");
    let obj = kproto::decode_object_as(&event.1, "io.k8s.api.core.v1.ConfigMap").unwrap();
    assert_eq!(obj["metadata"]["name"], "pb2");
    assert_eq!(obj["data"]["x"], "y");
}

const PB_CT: &str = "application/vnd.kubernetes.protobuf";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

/// A body as client-go encodes it by default: the `k8s\0` envelope around the message.
fn pb(api_version: &str, kind: &str, definition: &str, v: &Value) -> Vec<u8> {
    kproto::encode_object(api_version, kind, definition, v).expect("encodes")
}

/// The state two deletions leave behind, without what naturally differs between objects.
fn deletion_state(v: &Value) -> Value {
    json!({
        "terminating": v["metadata"]["deletionTimestamp"].is_string(),
        "grace": v["metadata"]["deletionGracePeriodSeconds"],
        "finalizers": v["metadata"]["finalizers"],
    })
}

/// Every body client-go sends as protobuf: create, update, update status, delete with options
/// and deletecollection; each behaves exactly as its JSON form.
#[tokio::test(flavor = "multi_thread")]
async fn protobuf_request_bodies_as_client_go_sends_them() {
    let c = Cluster::start();
    let http = c.api.client();
    let base = c.api.url();
    let cms = format!("{base}/api/v1/namespaces/default/configmaps");
    let cm_def = "io.k8s.api.core.v1.ConfigMap";
    let send = |req: reqwest::RequestBuilder, body: Vec<u8>| {
        req.header("Content-Type", PB_CT).header("Accept", "application/json").body(body).send()
    };

    // Create and update.
    for name in ["fg", "fg-json", "keep", "sel-1", "sel-2", "sel-json-1", "sel-json-2"] {
        let labels = if name.starts_with("sel-json") {
            json!({"sel": "json"})
        } else if name.starts_with("sel") {
            json!({"sel": "pb"})
        } else {
            json!({})
        };
        let r = send(
            http.post(&cms),
            pb("v1", "ConfigMap", cm_def, &json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let cur: Value = http.get(format!("{cms}/keep")).send().await.unwrap().json().await.unwrap();
    let mut upd = cur.clone();
    upd["data"]["k"] = json!("v2");
    let r = send(http.put(format!("{cms}/keep")), pb("v1", "ConfigMap", cm_def, &upd)).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["data"]["k"], "v2");

    // Status update of a Deployment, as a controller's UpdateStatus sends it.
    let deps = format!("{base}/apis/apps/v1/namespaces/default/deployments");
    let dep = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let dep_def = "io.k8s.api.apps.v1.Deployment";
    let r = send(http.post(&deps), pb("apps/v1", "Deployment", dep_def, &dep)).await.unwrap();
    assert_eq!(r.status(), 201);
    let mut d: Value = r.json().await.unwrap();
    d["status"] = json!({"observedGeneration": 1, "replicas": 1, "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "m"}]});
    let r = send(http.put(format!("{deps}/d/status")), pb("apps/v1", "Deployment", dep_def, &d)).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["status"]["conditions"][0]["reason"], "MinimumReplicasUnavailable");

    // Delete with options: Foreground, no grace period; JSON and protobuf agree.
    let opts = json!({"propagationPolicy": "Foreground", "gracePeriodSeconds": 0});
    let r = send(http.delete(format!("{cms}/fg")), pb("v1", "DeleteOptions", DELETE_OPTIONS, &opts)).await.unwrap();
    let pb_code = r.status();
    let pb_body: Value = r.json().await.unwrap();
    let r = http
        .delete(format!("{cms}/fg-json"))
        .json(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground", "gracePeriodSeconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(pb_code, r.status(), "{pb_body}");
    let json_body: Value = r.json().await.unwrap();
    assert_eq!(pb_code, 200, "{pb_body}");
    assert_eq!(deletion_state(&pb_body), deletion_state(&json_body));
    assert_eq!(pb_body["metadata"]["finalizers"], json!(["foregroundDeletion"]), "{pb_body}");

    // Preconditions are read from the protobuf body too.
    let opts = json!({"preconditions": {"uid": "not-the-uid"}});
    let r = send(http.delete(format!("{cms}/keep")), pb("v1", "DeleteOptions", DELETE_OPTIONS, &opts)).await.unwrap();
    assert_eq!(r.status(), 409);
    let st: Value = r.json().await.unwrap();
    assert!(st["message"].as_str().unwrap().contains("Precondition failed: UID in precondition: not-the-uid"), "{st}");

    // Deletecollection with a protobuf body, and the same by JSON.
    let r = send(
        http.delete(format!("{cms}?labelSelector=sel%3Dpb")),
        pb("v1", "DeleteOptions", DELETE_OPTIONS, &json!({"gracePeriodSeconds": 0})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let pb_list: Value = r.json().await.unwrap();
    let r = http
        .delete(format!("{cms}?labelSelector=sel%3Djson"))
        .json(&json!({"gracePeriodSeconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let json_list: Value = r.json().await.unwrap();
    assert_eq!(pb_list["kind"], json_list["kind"]);
    assert_eq!(pb_list["items"].as_array().unwrap().len(), 2);
    assert_eq!(json_list["items"].as_array().unwrap().len(), 2);
    let left: Value = http.get(&cms).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        left["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert!(!names.iter().any(|n| n.starts_with("sel")), "{names:?}");

    // A namespace deleted as client-go deletes it.
    let r = send(
        http.post(format!("{base}/api/v1/namespaces")),
        pb("v1", "Namespace", "io.k8s.api.core.v1.Namespace", &json!({"metadata": {"name": "gone"}})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = send(
        http.delete(format!("{base}/api/v1/namespaces/gone")),
        pb("v1", "DeleteOptions", DELETE_OPTIONS, &json!({"propagationPolicy": "Background"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let ns: Value = r.json().await.unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");

    // A malformed protobuf body is a 400 that names DeleteOptions, not a JSON error.
    let r = send(http.delete(format!("{cms}/keep")), b"k8s\0\x0a\xff".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let st: Value = r.json().await.unwrap();
    assert!(st["message"].as_str().unwrap().starts_with("error decoding DeleteOptions: "), "{st}");
}
