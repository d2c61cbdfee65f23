//! Every bad input gets a Status with upstream's code and reason, and changes nothing.

use e2e::{poll, Cluster};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn send(c: &reqwest::Client, method: reqwest::Method, url: &str, ct: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = c.request(method, url).header("Content-Type", ct).body(body).send().await.expect("request");
    let s = r.status();
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (s, v)
}

fn assert_status(got: &(StatusCode, Value), code: u16, reason: &str) {
    assert_eq!(got.0.as_u16(), code, "{}", got.1);
    assert_eq!(got.1["kind"], "Status", "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert_eq!(got.1["reason"], reason, "{}", got.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_and_paths() {
    let c = Cluster::start();
    let http = c.api.client();
    let cms = format!("{}/api/v1/namespaces/default/configmaps", c.api.url());
    use reqwest::Method as M;

    let r = send(&http, M::POST, &cms, "application/json", b"{\"apiVersion\": ".to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::POST, &cms, "application/yaml", b"metadata: [unclosed".to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let big = json!({"metadata": {"name": "big"}, "data": {"k": "x".repeat(4 * 1024 * 1024)}});
    let r = send(&http, M::POST, &cms, "application/json", serde_json::to_vec(&big).unwrap()).await;
    assert_status(&r, 413, "RequestEntityTooLarge");
    let r = send(
        &http,
        M::POST,
        &cms,
        "application/json",
        br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    let r = send(
        &http,
        M::POST,
        &cms,
        "application/json",
        br#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    let r = send(
        &http,
        M::POST,
        &cms,
        "application/json",
        br#"{"metadata":{"name":"x","namespace":"kube-system"}}"#.to_vec(),
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    assert!(r.1["message"].as_str().unwrap().contains("does not match the namespace"), "{}", r.1);
    let r =
        send(&http, M::POST, &cms, "application/json", br#"{"metadata":{"name":"x"},"data":{"k":1}}"#.to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::POST, &cms, "application/vnd.kubernetes.protobuf", b"k8s\x00".to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::POST, &cms, "application/vnd.kubernetes.protobuf", b"not protobuf at all".to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::POST, &cms, "application/cbor", vec![0xa0]).await;
    assert_status(&r, 415, "UnsupportedMediaType");

    // Invalid objects: 422 with causes naming upstream's field paths.
    let r = send(&http, M::POST, &cms, "application/json", br#"{"metadata":{"name":"Bad_Name"}}"#.to_vec()).await;
    assert_status(&r, 422, "Invalid");
    assert_eq!(r.1["details"]["causes"][0]["field"], "metadata.name", "{}", r.1);
    assert_eq!(r.1["details"]["causes"][0]["reason"], "FieldValueInvalid", "{}", r.1);
    let deploys = format!("{}/apis/apps/v1/namespaces/default/deployments", c.api.url());
    let r = send(
        &http,
        M::POST,
        &deploys,
        "application/json",
        br#"{"metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#.to_vec(),
    )
    .await;
    assert_status(&r, 422, "Invalid");
    let fields: Vec<&str> =
        r.1["details"]["causes"].as_array().unwrap().iter().filter_map(|c| c["field"].as_str()).collect();
    assert!(fields.contains(&"spec.selector"), "{}", r.1);
    assert_eq!(r.1["details"]["kind"], "Deployment");
    assert_eq!(r.1["details"]["group"], "apps");

    // Nothing of the failed writes was stored.
    let list: Value = http.get(&cms).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert!(!names.iter().any(|n| ["x", "big", "Bad_Name"].contains(n)), "{names:?}");

    // Unknown resource: 404; a verb the resource lacks: 405.
    let r = http.get(format!("{}/api/v1/namespaces/default/widgets", c.api.url())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "NotFound");
    let r =
        send(&http, M::POST, &format!("{}/api/v1/componentstatuses", c.api.url()), "application/json", b"{}".to_vec())
            .await;
    assert_status(&r, 405, "MethodNotAllowed");
    let r = send(
        &http,
        M::DELETE,
        &format!("{}/api/v1/namespaces/default/bindings/x", c.api.url()),
        "application/json",
        vec![],
    )
    .await;
    assert_status(&r, 405, "MethodNotAllowed");

    // Not found and conflicts.
    let r = send(&http, M::GET, &format!("{cms}/missing"), "application/json", vec![]).await;
    assert_status(&r, 404, "NotFound");
    assert_eq!(r.1["message"], "configmaps \"missing\" not found");
    let ok = send(&http, M::POST, &cms, "application/json", br#"{"metadata":{"name":"once"}}"#.to_vec()).await;
    assert_eq!(ok.0, 201);
    let r = send(&http, M::POST, &cms, "application/json", br#"{"metadata":{"name":"once"}}"#.to_vec()).await;
    assert_status(&r, 409, "AlreadyExists");
    let stale = json!({"metadata": {"name": "once", "resourceVersion": "1"}, "data": {"a": "b"}});
    let r = send(&http, M::PUT, &format!("{cms}/once"), "application/json", serde_json::to_vec(&stale).unwrap()).await;
    assert_status(&r, 409, "Conflict");
    let r =
        send(&http, M::PUT, &format!("{cms}/once"), "application/json", br#"{"metadata":{"name":"other"}}"#.to_vec())
            .await;
    assert_status(&r, 400, "BadRequest");
    let r = send(
        &http,
        M::PATCH,
        &format!("{cms}/once"),
        "application/json-patch+json",
        br#"[{"op":"test","path":"/data/a","value":"zzz"}]"#.to_vec(),
    )
    .await;
    assert_status(&r, 422, "Invalid");
    let r = send(
        &http,
        M::PATCH,
        &format!("{cms}/once"),
        "application/json-patch+json",
        br#"[{"op":"add","path":"/data","value":{}},{"op":"move","from":"/data","path":"/data/x"}]"#.to_vec(),
    )
    .await;
    assert_status(&r, 422, "Invalid");
    let r = send(
        &http,
        M::PATCH,
        &format!("{cms}/once"),
        "application/strategic-merge-patch+json",
        br#"{"$patch":"bogus"}"#.to_vec(),
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::PATCH, &format!("{cms}/once"), "application/merge-patch+json", b"[1,2".to_vec()).await;
    assert_status(&r, 400, "BadRequest");
    let r = send(&http, M::GET, &format!("{cms}?fieldSelector=spec.bogus%3Dx"), "application/json", vec![]).await;
    assert_status(&r, 400, "BadRequest");
    assert_eq!(r.1["message"], "field label not supported: spec.bogus");
    let r = send(&http, M::GET, &format!("{cms}?labelSelector=a%20in%20b"), "application/json", vec![]).await;
    assert_status(&r, 400, "BadRequest");
    // The object is unchanged by every failed write.
    let once: Value = http.get(format!("{cms}/once")).send().await.unwrap().json().await.unwrap();
    assert!(once.get("data").is_none(), "{once}");

    // Creating in a namespace that does not exist: 404 for the namespace.
    let r = send(
        &http,
        M::POST,
        &format!("{}/api/v1/namespaces/nope/configmaps", c.api.url()),
        "application/json",
        br#"{"metadata":{"name":"a"}}"#.to_vec(),
    )
    .await;
    assert_status(&r, 404, "NotFound");
    assert_eq!(r.1["message"], "namespaces \"nope\" not found");
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_down_is_a_status_and_the_server_recovers() {
    let mut c = Cluster::start();
    let http = c.api.client();
    let cms = format!("{}/api/v1/namespaces/default/configmaps", c.api.url());
    c.etcd.stop();
    let r = http
        .post(&cms)
        .header("Content-Type", "application/json")
        .body(r#"{"metadata":{"name":"during-outage"}}"#)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert!(code == 503 || code == 504, "{code} {v}");
    assert_eq!(v["kind"], "Status");
    let hz = http.get(format!("{}/healthz", c.api.url())).send().await.unwrap();
    assert_eq!(hz.status(), 500);
    c.etcd.restart();
    let url = cms.clone();
    let created = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        poll("writes succeed after etcd returns", Duration::from_secs(60), || {
            rt.block_on(async {
                let r = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(r#"{"metadata":{"name":"after-outage"}}"#)
                    .send()
                    .await
                    .ok()?;
                (r.status() == 201 || r.status() == 409).then_some(())
            })
        })
    })
    .await;
    assert!(created.is_ok());
}
