//! REST semantics beyond the kubectl flows: generateName, dryRun, finalizers and graceful
//! deletion, preconditions, status and scale subresources, namespace lifecycle and finalize,
//! ClusterIP/NodePort allocation, field selectors, sendInitialEvents and bookmarks, exact-RV
//! lists, HTTP/2, and the etcd key layout.

use e2e::Cluster;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

struct Api {
    c: reqwest::Client,
    base: String,
}

impl Api {
    fn new(cluster: &Cluster) -> Api {
        Api { c: cluster.api.client(), base: cluster.api.url() }
    }
    async fn req(&self, method: reqwest::Method, path: &str, ct: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.c.request(method, format!("{}{path}", self.base)).header("Content-Type", ct);
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        let resp = r.send().await.expect("request");
        let code = resp.status().as_u16();
        (code, resp.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.req(reqwest::Method::GET, path, "application/json", None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::POST, path, "application/json", Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PUT, path, "application/json", Some(body)).await
    }
    async fn merge(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PATCH, path, "application/merge-patch+json", Some(body)).await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.req(reqwest::Method::DELETE, path, "application/json", body).await
    }
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn create_semantics() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, obj) = api.post(cms, json!({"metadata": {"generateName": "gen-"}})).await;
    assert_eq!(code, 201, "{obj}");
    let name = obj["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    assert!(!obj["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(obj["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    // dryRun: validated and answered, not stored.
    let (code, obj) = api.post(&format!("{cms}?dryRun=All"), json!({"metadata": {"name": "dry"}})).await;
    assert_eq!(code, 201, "{obj}");
    assert_eq!(api.get(&format!("{cms}/dry")).await.0, 404);
    let (code, _) = api.post(&format!("{cms}?dryRun=All"), json!({"metadata": {"name": "Bad!"}})).await;
    assert_eq!(code, 422);
    // Generation: bumped by spec changes only.
    let deps = "/apis/apps/v1/namespaces/default/deployments";
    let (code, d) = api.post(deps, deployment("web")).await;
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["status"], json!({}));
    let (_, d) = api.merge(&format!("{deps}/web"), json!({"metadata": {"labels": {"x": "y"}}})).await;
    assert_eq!(d["metadata"]["generation"], 1);
    let (_, d) = api.merge(&format!("{deps}/web"), json!({"spec": {"replicas": 4}})).await;
    assert_eq!(d["metadata"]["generation"], 2);
    // An update that changes nothing keeps the resourceVersion.
    let rv = d["metadata"]["resourceVersion"].clone();
    let (code, same) = api.put(&format!("{deps}/web"), d.clone()).await;
    assert_eq!(code, 200);
    assert_eq!(same["metadata"]["resourceVersion"], rv);
    // The main resource ignores status; /status ignores spec.
    let mut with_status = same.clone();
    with_status["status"] = json!({"replicas": 9});
    with_status["spec"]["replicas"] = json!(5);
    let (_, d) = api.put(&format!("{deps}/web"), with_status.clone()).await;
    assert_eq!(d["status"], json!({}));
    assert_eq!(d["spec"]["replicas"], 5);
    let mut st = d.clone();
    st["status"] = json!({"replicas": 7, "observedGeneration": 3});
    st["spec"]["replicas"] = json!(1);
    let (code, d) = api.put(&format!("{deps}/web/status"), st).await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["status"]["replicas"], 7);
    assert_eq!(d["spec"]["replicas"], 5);
    // Scale subresource.
    let (code, scale) = api.get(&format!("{deps}/web/scale")).await;
    assert_eq!(code, 200);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["replicas"], 7);
    assert_eq!(scale["status"]["selector"], "app=web");
    let mut s2 = scale.clone();
    s2["spec"]["replicas"] = json!(2);
    let (code, s3) = api.put(&format!("{deps}/web/scale"), s2).await;
    assert_eq!(code, 200, "{s3}");
    assert_eq!(api.get(&format!("{deps}/web")).await.1["spec"]["replicas"], 2);
    let (code, bad) = api.merge(&format!("{deps}/web/scale"), json!({"spec": {"replicas": -1}})).await;
    assert_eq!(code, 422, "{bad}");
    // Subresources a resource lacks: 404.
    assert_eq!(api.get("/api/v1/namespaces/default/configmaps/x/scale").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_semantics() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let cms = "/api/v1/namespaces/default/configmaps";
    // Finalizers hold the object until they are removed.
    api.post(cms, json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})).await;
    let (code, obj) = api.delete(&format!("{cms}/held"), None).await;
    assert_eq!(code, 200);
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    assert_eq!(api.get(&format!("{cms}/held")).await.0, 200);
    let (code, _) = api.merge(&format!("{cms}/held"), json!({"metadata": {"finalizers": null}})).await;
    assert_eq!(code, 200);
    assert_eq!(api.get(&format!("{cms}/held")).await.0, 404);
    // Preconditions.
    let (_, o) = api.post(cms, json!({"metadata": {"name": "pre"}})).await;
    let (code, st) = api.delete(&format!("{cms}/pre"), Some(json!({"preconditions": {"uid": "not-it"}}))).await;
    assert_eq!(code, 409, "{st}");
    assert!(st["message"].as_str().unwrap().contains("Precondition failed: UID in precondition"), "{st}");
    let (code, st) =
        api.delete(&format!("{cms}/pre"), Some(json!({"preconditions": {"uid": o["metadata"]["uid"]}}))).await;
    assert_eq!(code, 200);
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["status"], "Success");
    assert_eq!(st["details"]["name"], "pre");
    assert_eq!(st["details"]["kind"], "configmaps");
    // Foreground propagation leaves the object with the GC's finalizer.
    api.post(cms, json!({"metadata": {"name": "fg"}})).await;
    let (_, obj) = api
        .delete(
            &format!("{cms}/fg"),
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})),
        )
        .await;
    assert_eq!(obj["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // A bound pod is deleted gracefully; an explicit 0 grace period removes it.
    let pods = "/api/v1/namespaces/default/pods";
    let (code, p) = api.post(pods, json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})).await;
    assert_eq!(code, 201, "{p}");
    let (code, p) = api.delete(&format!("{pods}/p"), None).await;
    assert_eq!(code, 200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30, "{p}");
    assert_eq!(api.get(&format!("{pods}/p")).await.0, 200);
    let (code, _) = api.delete(&format!("{pods}/p?gracePeriodSeconds=0"), None).await;
    assert_eq!(code, 200);
    assert_eq!(api.get(&format!("{pods}/p")).await.0, 404);
    // deletecollection with a selector.
    for i in 0..3 {
        api.post(
            cms,
            json!({"metadata": {"name": format!("sel-{i}"), "labels": {"group": if i < 2 { "a" } else { "b" }}}}),
        )
        .await;
    }
    let (code, gone) = api.delete(&format!("{cms}?labelSelector=group%3Da"), None).await;
    assert_eq!(code, 200);
    assert_eq!(gone["items"].as_array().unwrap().len(), 2, "{gone}");
    assert_eq!(api.get(&format!("{cms}/sel-2")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_lifecycle_and_finalize() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let (code, ns) = api.post("/api/v1/namespaces", json!({"metadata": {"name": "doomed"}})).await;
    assert_eq!(code, 201);
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "doomed");
    let (code, ns) = api.delete("/api/v1/namespaces/doomed", None).await;
    assert_eq!(code, 200);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let (code, st) = api.post("/api/v1/namespaces/doomed/configmaps", json!({"metadata": {"name": "late"}})).await;
    assert_eq!(code, 403, "{st}");
    assert_eq!(
        st["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated",
        "{st}"
    );
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(
        st["details"]["causes"],
        json!([{"reason": "NamespaceTerminating", "message": "namespace doomed is being terminated", "field": "metadata.namespace"}])
    );
    let mut fin = ns.clone();
    fin["spec"]["finalizers"] = json!([]);
    let (code, _) = api.put("/api/v1/namespaces/doomed/finalize", fin).await;
    assert_eq!(code, 200);
    assert_eq!(api.get("/api/v1/namespaces/doomed").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn service_ip_and_port_allocation() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let svcs = "/api/v1/namespaces/default/services";
    let svc = |name: &str, ip: Option<&str>| {
        let mut s = json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], "selector": {"app": name}}});
        if let Some(ip) = ip {
            s["spec"]["clusterIP"] = json!(ip);
        }
        s
    };
    let (code, a) = api.post(svcs, svc("a", Some("10.96.0.50"))).await;
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["spec"]["clusterIPs"], json!(["10.96.0.50"]));
    assert_eq!(a["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(a["spec"]["ports"][0]["targetPort"], 80);
    let (code, st) = api.post(svcs, svc("b", Some("10.96.0.50"))).await;
    assert_eq!(code, 422, "{st}");
    assert!(st["message"].as_str().unwrap().contains("provided IP is already allocated"), "{st}");
    let (code, st) = api.post(svcs, svc("c", Some("10.200.0.1"))).await;
    assert_eq!(code, 422, "{st}");
    assert!(st["message"].as_str().unwrap().contains("not in the valid range"), "{st}");
    // Dynamic allocation gives distinct addresses in range; the IPAddress objects exist.
    let mut ips = std::collections::HashSet::new();
    for i in 0..10 {
        let (code, s) = api.post(svcs, svc(&format!("d{i}"), None)).await;
        assert_eq!(code, 201, "{s}");
        let ip = s["spec"]["clusterIP"].as_str().unwrap().to_string();
        assert!(ip.starts_with("10.") && ips.insert(ip.clone()), "{ip}");
        let (code, ipa) = api.get(&format!("/apis/networking.k8s.io/v1/ipaddresses/{ip}")).await;
        assert_eq!(code, 200);
        assert_eq!(ipa["spec"]["parentRef"]["name"], format!("d{i}"));
    }
    // Released on delete.
    api.delete(&format!("{svcs}/a"), None).await;
    assert_eq!(api.get("/apis/networking.k8s.io/v1/ipaddresses/10.96.0.50").await.0, 404);
    let (code, _) = api.post(svcs, svc("b", Some("10.96.0.50"))).await;
    assert_eq!(code, 201);
    // Node ports.
    let mut np = svc("np", None);
    np["spec"]["type"] = json!("NodePort");
    let (code, s) = api.post(svcs, np.clone()).await;
    assert_eq!(code, 201, "{s}");
    let port = s["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&port), "{port}");
    let mut np2 = svc("np2", None);
    np2["spec"]["type"] = json!("NodePort");
    np2["spec"]["ports"][0]["nodePort"] = json!(port);
    let (code, st) = api.post(svcs, np2.clone()).await;
    assert_eq!(code, 422, "{st}");
    assert!(st["message"].as_str().unwrap().contains("provided port is already allocated"), "{st}");
    np2["spec"]["ports"][0]["nodePort"] = json!(40000);
    let (code, st) = api.post(svcs, np2.clone()).await;
    assert_eq!(code, 422, "{st}");
    // The failed creates left no IP behind: only the services' own addresses exist.
    let (_, list) = api.get("/apis/networking.k8s.io/v1/ipaddresses").await;
    let (_, services) = api.get("/api/v1/services").await;
    assert_eq!(list["items"].as_array().unwrap().len(), services["items"].as_array().unwrap().len());
    // Releasing the port on delete makes it available again.
    api.delete(&format!("{svcs}/np"), None).await;
    np2["spec"]["ports"][0]["nodePort"] = json!(port);
    let (code, st) = api.post(svcs, np2).await;
    assert_eq!(code, 201, "{st}");
    // Cluster IP is immutable.
    let (code, _) = api
        .merge(&format!("{svcs}/b"), json!({"spec": {"clusterIP": "10.96.0.51", "clusterIPs": ["10.96.0.51"]}}))
        .await;
    assert_eq!(code, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn selectors_and_exact_versions() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let pods = "/api/v1/namespaces/default/pods";
    for (name, node) in [("on-a", "node-a"), ("on-b", "node-b"), ("pending", "")] {
        let mut p = json!({"metadata": {"name": name, "labels": {"tier": if node.is_empty() { "x" } else { "web" }}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        if !node.is_empty() {
            p["spec"]["nodeName"] = json!(node);
        }
        let (code, o) = api.post(pods, p).await;
        assert_eq!(code, 201, "{o}");
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, l) = api.get(&format!("{pods}?fieldSelector=spec.nodeName%3Dnode-a")).await;
    assert_eq!(names(&l), vec!["on-a"]);
    let (_, l) = api.get(&format!("{pods}?fieldSelector=spec.nodeName%3D")).await;
    assert_eq!(names(&l), vec!["pending"]);
    let (_, l) = api.get(&format!("{pods}?fieldSelector=status.phase%3DPending,metadata.name!%3Don-b")).await;
    assert_eq!(names(&l), vec!["on-a", "pending"]);
    let (_, l) = api.get(&format!("{pods}?labelSelector=tier%20in%20(web),tier!%3Dx")).await;
    assert_eq!(names(&l), vec!["on-a", "on-b"]);
    let (_, l) = api.get(&format!("{pods}?labelSelector=!tier")).await;
    assert!(names(&l).is_empty());
    let (_, l) = api.get(&format!("{pods}?resourceVersion=0&labelSelector=tier%3Dweb")).await;
    assert_eq!(names(&l), vec!["on-a", "on-b"]);
    // An exact resourceVersion reads the past.
    let rv = l["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    api.delete(&format!("{pods}/pending"), None).await;
    let (code, old) = api.get(&format!("{pods}?resourceVersion={rv}&resourceVersionMatch=Exact")).await;
    assert_eq!(code, 200);
    assert_eq!(names(&old).len(), 3);
    let (_, now) = api.get(pods).await;
    assert_eq!(names(&now).len(), 2);
    // Events by involvedObject fields.
    let ev = json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "on-a", "namespace": "default"}, "reason": "Test", "message": "m", "type": "Normal", "source": {"component": "test"}, "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z", "count": 1});
    let (code, e) = api.post("/api/v1/namespaces/default/events", ev).await;
    assert_eq!(code, 201, "{e}");
    let (_, l) = api
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Don-a,involvedObject.kind%3DPod")
        .await;
    assert_eq!(names(&l), vec!["e1"]);
    let (_, l) = api.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Don-b").await;
    assert!(names(&l).is_empty());
}

async fn read_events(resp: reqwest::Response, want: usize, within: Duration) -> Vec<Value> {
    let mut s = resp.bytes_stream();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + within;
    while out.len() < want {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(end, s.next()).await else {
            break;
        };
        buf.extend_from_slice(&chunk);
        while let Some(p) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=p).collect();
            out.push(serde_json::from_slice(&line).expect("event json"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_list_initial_events_and_bookmarks() {
    let cluster = Cluster::start_with(&["--watch-bookmark-interval=1s"]);
    let api = Api::new(&cluster);
    let cms = "/api/v1/namespaces/default/configmaps";
    for i in 0..3 {
        api.post(cms, json!({"metadata": {"name": format!("i{i}")}})).await;
    }
    let (code, st) = api.get(&format!("{cms}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true")).await;
    assert_eq!(code, 422, "{st}");
    let resp = api
        .c
        .get(format!(
            "{}{cms}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
            api.base
        ))
        .send()
        .await
        .unwrap();
    let evs = read_events(resp, 4, Duration::from_secs(10)).await;
    let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["ADDED", "ADDED", "ADDED", "BOOKMARK"], "{evs:?}");
    assert_eq!(evs[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(evs[3]["object"]["kind"], "ConfigMap");
    // Periodic bookmarks when asked for.
    let (_, l) = api.get(cms).await;
    let rv = l["metadata"]["resourceVersion"].as_str().unwrap();
    let resp = api
        .c
        .get(format!("{}{cms}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true", api.base))
        .send()
        .await
        .unwrap();
    let evs = read_events(resp, 1, Duration::from_secs(15)).await;
    assert_eq!(evs.first().map(|e| e["type"].clone()), Some(json!("BOOKMARK")), "{evs:?}");
    // timeoutSeconds ends the stream.
    let t = std::time::Instant::now();
    let resp =
        api.c.get(format!("{}{cms}?watch=true&resourceVersion={rv}&timeoutSeconds=1", api.base)).send().await.unwrap();
    let _ = resp.bytes().await;
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_object_metadata() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    api.post(
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "pm", "labels": {"a": "b"}}, "data": {"secret": "x"}}),
    )
    .await;
    let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let r = api
        .c
        .get(format!("{}/api/v1/namespaces/default/configmaps", api.base))
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().contains("as=PartialObjectMetadataList"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    let item = v["items"].as_array().unwrap().iter().find(|i| i["metadata"]["name"] == "pm").unwrap().clone();
    assert_eq!(item["kind"], "PartialObjectMetadata");
    assert_eq!(item["metadata"]["labels"]["a"], "b");
    assert!(item.get("data").is_none());
    let one = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    let v: Value = api
        .c
        .get(format!("{}/api/v1/namespaces/default/configmaps/pm", api.base))
        .header("Accept", one)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["kind"], "PartialObjectMetadata");
    assert!(v.get("data").is_none());
    let r = api
        .c
        .get(format!("{}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=1", api.base))
        .header("Accept", one)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let ev: Value = serde_json::from_str(text.lines().find(|l| l.contains("\"pm\"")).unwrap()).unwrap();
    assert_eq!(ev["object"]["kind"], "PartialObjectMetadata");
    // Only the metadata, as stored, with its resourceVersion.
    assert_eq!(ev["object"]["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(ev["object"]["metadata"]["name"], "pm");
    assert!(ev["object"]["metadata"]["resourceVersion"].as_str().is_some_and(|rv| !rv.is_empty()));
    assert!(ev["object"].get("data").is_none(), "{ev}");
    assert_eq!(ev["object"].as_object().unwrap().len(), 3, "{ev}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_one_store_seen_two_ways() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let (code, p) = api
        .post(
            "/api/v1/namespaces/default/pods",
            json!({"metadata": {"name": "ev-pod"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        )
        .await;
    assert_eq!(code, 201, "{p}");
    let uid = p["metadata"]["uid"].clone();
    let new_style = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e-new"},
        "regarding": {"kind": "Pod", "namespace": "default", "name": "ev-pod", "uid": uid, "apiVersion": "v1"},
        "note": "pulled the image", "reason": "Pulled", "type": "Normal", "action": "Pull",
        "reportingController": "kubelet", "reportingInstance": "node-1", "eventTime": "2025-01-01T00:00:00.000000Z"});
    let (code, e) = api.post("/apis/events.k8s.io/v1/namespaces/default/events", new_style).await;
    assert_eq!(code, 201, "{e}");
    assert_eq!(e["apiVersion"], "events.k8s.io/v1");
    assert_eq!(e["note"], "pulled the image");
    // The same object through core/v1.
    let (code, core) = api.get("/api/v1/namespaces/default/events/e-new").await;
    assert_eq!(code, 200);
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "pulled the image");
    assert_eq!(core["involvedObject"]["name"], "ev-pod");
    assert_eq!(core["reportingComponent"], "kubelet");
    // Go's encoding of the zero fields the other view has: a struct by value, Times as null.
    assert_eq!(core["source"], json!({}), "{core}");
    assert!(core["firstTimestamp"].is_null() && core.get("lastTimestamp").is_some(), "{core}");
    assert!(e["deprecatedSource"] == json!({}) && e.get("deprecatedFirstTimestamp").is_some(), "{e}");
    // And the other way round.
    let old_style = json!({"metadata": {"name": "e-old"}, "involvedObject": {"kind": "Pod", "namespace": "default", "name": "ev-pod", "uid": uid},
        "reason": "Scheduled", "message": "assigned", "type": "Normal", "source": {"component": "default-scheduler"},
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z", "count": 1});
    let (code, _) = api.post("/api/v1/namespaces/default/events", old_style).await;
    assert_eq!(code, 201);
    let (_, l) = api.get("/apis/events.k8s.io/v1/namespaces/default/events").await;
    let e_old = l["items"].as_array().unwrap().iter().find(|i| i["metadata"]["name"] == "e-old").unwrap().clone();
    assert_eq!(e_old["note"], "assigned");
    assert_eq!(e_old["regarding"]["name"], "ev-pod");
    assert_eq!(e_old["deprecatedSource"]["component"], "default-scheduler");
    assert_eq!(e_old["deprecatedCount"], 1);
    assert!(e_old.get("eventTime").is_some_and(Value::is_null), "{e_old}");
    assert!(e_old.get("reportingController").is_none(), "{e_old}");
    let (_, core_old) = api.get("/api/v1/namespaces/default/events/e-old").await;
    assert_eq!((&core_old["reportingComponent"], &core_old["reportingInstance"]), (&json!(""), &json!("")));
    // Field selectors in each view's names, from the cache and from etcd.
    for rv in ["", "&resourceVersion=0"] {
        let (_, l) = api.get(&format!("/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dev-pod,reason%3DPulled{rv}")).await;
        assert_eq!(l["items"].as_array().unwrap().len(), 1, "{l}");
        let (_, l) =
            api.get(&format!("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dev-pod{rv}")).await;
        assert_eq!(l["items"].as_array().unwrap().len(), 2, "{l}");
    }
    // events.k8s.io/v1 updates may change only the series (upstream's rule, and its message
    // names the internal field); a core/v1 update of the message shows in the other view.
    let (code, st) = api.merge("/apis/events.k8s.io/v1/namespaces/default/events/e-new", json!({"note": "x"})).await;
    assert_eq!(code, 422, "{st}");
    assert!(st["message"].as_str().unwrap().contains("field is immutable"), "{st}");
    let (code, st) = api.merge("/api/v1/namespaces/default/events/e-new", json!({"message": "pulled it"})).await;
    assert_eq!(code, 200, "{st}");
    assert_eq!(api.get("/apis/events.k8s.io/v1/namespaces/default/events/e-new").await.1["note"], "pulled it");
    // kubectl describe lists the pod's events.
    let out = cluster.api.kubectl_ok("1.33", &["describe", "pod", "ev-pod"]);
    assert!(out.contains("Events:") && out.contains("Scheduled") && out.contains("pulled it"), "{out}");
}

#[test]
fn http2_and_etcd_key_layout() {
    let cluster = Cluster::start();
    let out = cluster
        .api
        .curl()
        .args(["--http2", "-o", "/dev/null", "-w", "%{http_version}"])
        .arg(format!("{}/api/v1/namespaces", cluster.api.url()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
    let out = cluster
        .api
        .curl()
        .args(["--http1.1", "-o", "/dev/null", "-w", "%{http_version}"])
        .arg(format!("{}/api/v1/namespaces", cluster.api.url()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1");
    let keys = String::from_utf8_lossy(&cluster.etcd.etcdctl(&["get", "/registry", "--prefix", "--keys-only"]).stdout)
        .into_owned();
    for want in [
        "/registry/namespaces/default",
        "/registry/services/specs/default/kubernetes",
        "/registry/services/endpoints/default/kubernetes",
        "/registry/endpointslices/default/kubernetes",
        "/registry/ipaddresses/10.96.0.1",
        "/registry/servicecidrs/kubernetes",
    ] {
        assert!(keys.lines().any(|l| l == want), "{want} missing from\n{keys}");
    }
    // Aggregated discovery is answered in its own media type.
    let out = cluster
        .api
        .curl()
        .args([
            "-H",
            "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
            "-D",
            "-",
        ])
        .arg(format!("{}/apis", cluster.api.url()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.to_lowercase()
            .contains("content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"),
        "{text}"
    );
    assert!(text.contains("\"APIGroupDiscoveryList\""));
}

/// Go's decoder takes `null` as a field's zero value: a Go client's status update whose
/// condition has no lastTransitionTime (`"lastTransitionTime":null`) is accepted and stored
/// as upstream stores it.
#[tokio::test(flavor = "multi_thread")]
async fn null_fields_decode_as_go_zero_values() {
    let cluster = Cluster::start();
    let api = Api::new(&cluster);
    let svcs = "/api/v1/namespaces/default/services";
    let (code, svc) = api.post(svcs, json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})).await;
    assert_eq!(code, 201, "{svc}");
    let mut upd = svc.clone();
    upd["status"] = json!({"loadBalancer": {}, "conditions": [{"type": "Ready", "status": "True", "reason": "Done",
        "message": "", "observedGeneration": null, "lastTransitionTime": null}]});
    let (code, got) = api.put(&format!("{svcs}/s/status"), upd).await;
    assert_eq!(code, 200, "{got}");
    assert_eq!(got["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(got["status"]["conditions"][0]["lastTransitionTime"], Value::Null);
    let (_, got) = api.get(&format!("{svcs}/s")).await;
    assert_eq!(got["status"]["conditions"][0]["reason"], "Done");
    // null anywhere else: a map, a list, a nested struct.
    let (code, cm) = api
        .post(
            "/api/v1/namespaces/default/configmaps",
            json!({"metadata": {"name": "n", "labels": null, "annotations": {"a": "b"}, "ownerReferences": null}, "data": null}),
        )
        .await;
    assert_eq!(code, 201, "{cm}");
    assert_eq!(cm["metadata"]["annotations"]["a"], "b");
    let mut d = deployment("nulls");
    d["spec"]["template"]["spec"]["securityContext"] = Value::Null;
    d["spec"]["strategy"] = Value::Null;
    let (code, got) = api.post("/apis/apps/v1/namespaces/default/deployments", d).await;
    assert_eq!(code, 201, "{got}");
    assert_eq!(got["spec"]["strategy"]["type"], "RollingUpdate");
}

/// Strict field validation reports unknown and duplicate fields in document order, as
/// upstream's decoder meets them.
#[tokio::test(flavor = "multi_thread")]
async fn strict_field_validation_reports_in_document_order() {
    let cluster = Cluster::start();
    let http = cluster.api.client();
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"strict"},"spec":{"replicas":1,"unknownField":true,"replicas":2,
        "selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#;
    let r = http
        .post(format!("{}/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", cluster.api.url()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let st: Value = r.json().await.unwrap();
    assert_eq!(
        st["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.unknownField\", duplicate field \"spec.replicas\""
    );
}
