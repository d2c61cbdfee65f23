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
