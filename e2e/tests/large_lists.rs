//! Collections of tens of MiB: 20,000 pods, each created with `generateName` (whose collisions
//! the apiserver retries since v1.32), listed unpaged and in chunks from etcd and from the
//! watch cache by curl, kubectl and the official Python client.

use e2e::Cluster;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Instant;

const PODS: usize = 20_000;

/// A pod of about 1.4 KB stored, like the 3,000 pods of 4.2 MB.
fn pod(i: usize) -> Value {
    let labels: serde_json::Map<String, Value> =
        (0..8).map(|l| (format!("label-{l}"), json!(format!("value-{i}-{l}")))).collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "big-", "labels": labels,
            "annotations": {"note": "x".repeat(400)}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "args": ["--serve", "--port=8080"],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_pods_list_unpaged_and_in_chunks() {
    let c = Cluster::start();
    c.api.kubectl_ok("1.33", &["create", "ns", "big"]);
    let http = c.api.client();
    let url = format!("{}/api/v1/namespaces/big/pods", c.api.url());
    // 32 concurrent creators; every create with generateName succeeds (no 409 on a collision:
    // 20,000 names from 27^5 suffixes collide about 14 times).
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for i in (w..PODS).step_by(32) {
                let r = http.post(&url).json(&pod(i)).send().await.expect("create");
                if r.status() != 201 {
                    failures.push(format!("{}: {}", r.status(), r.text().await.unwrap_or_default()));
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.expect("creator"));
    }
    assert!(failures.is_empty(), "{} creates failed, first: {:?}", failures.len(), failures.first());
    eprintln!("created {PODS} pods in {:?}", started.elapsed());

    // curl, unpaged: from etcd (a consistent read) and from the watch cache (resourceVersion=0).
    for (what, query) in [("etcd", ""), ("cache", "?resourceVersion=0")] {
        let t = Instant::now();
        let out = c.api.curl().args(["--max-time", "120"]).arg(format!("{url}{query}")).output().expect("curl");
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{what}: {e}: {}", String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(500)]))
        });
        assert_eq!(list["items"].as_array().map(Vec::len), Some(PODS), "{what}: {}", list["message"]);
        assert!(list["metadata"].get("continue").is_none());
        eprintln!("curl unpaged from {what}: {} MB in {:?}", out.stdout.len() / 1_000_000, t.elapsed());
    }
    // Protobuf, as client-go's informers list, from etcd and from the cache.
    for query in ["", "?resourceVersion=0"] {
        let r = http
            .get(format!("{url}{query}"))
            .header("Accept", "application/vnd.kubernetes.protobuf")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/vnd.kubernetes.protobuf");
        let list = kproto::decode_object_as(&r.bytes().await.unwrap(), "io.k8s.api.core.v1.PodList").expect("PodList");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(PODS), "protobuf{query}");
    }
    // kubectl: unpaged and in its default chunks of 500 (tables), and as JSON.
    for args in [&["--chunk-size=0"][..], &[][..]] {
        let mut a = vec!["get", "pods", "-n", "big", "--no-headers"];
        a.extend_from_slice(args);
        let out = c.api.kubectl_ok("1.33", &a);
        assert_eq!(out.lines().count(), PODS, "{args:?}");
    }
    let out = c.api.kubectl_ok("1.33", &["get", "pods", "-n", "big", "--chunk-size=0", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(PODS));
    // The official Python client, unpaged, from etcd and from the cache.
    let script = "import sys\nfrom kubernetes import client, config\nconfig.load_kube_config()\nv1 = client.CoreV1Api()\n\
        for rv in [None, '0']:\n    pods = v1.list_namespaced_pod('big', resource_version=rv, _request_timeout=300)\n    print(len(pods.items))\n";
    let out =
        Command::new(e2e::python()).args(["-c", script]).env("KUBECONFIG", &c.api.kubeconfig).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>(),
        [PODS.to_string(), PODS.to_string()]
    );
    if let Some(kib) = c.api.peak_rss_kib() {
        eprintln!("apiserver peak RSS: {} MiB", kib / 1024);
    }
}
