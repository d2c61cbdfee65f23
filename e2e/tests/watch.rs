//! Watch correctness: concurrent writers and many watchers, each watcher sees every event
//! exactly once in resourceVersion order; watchers resume across an apiserver restart with no
//! gap; compacted revisions answer 410.

use e2e::{poll, Cluster};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Follows a watch from `rv`, reconnecting from the last seen resourceVersion whenever the
/// stream ends, recording every (type, name, rv). Stops when `stop` is set.
async fn follow(
    client: reqwest::Client,
    base: String,
    ns: String,
    mut rv: String,
    seen: Arc<Mutex<Vec<(String, String, i64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let url = format!("{base}/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=30");
        let Ok(resp) = client.get(&url).send().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if !resp.status().is_success() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let chunk = match next {
                Err(_) => continue,
                Ok(None) | Ok(Some(Err(_))) => break,
                Ok(Some(Ok(c))) => c,
            };
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                let ty = ev["type"].as_str().unwrap_or("").to_string();
                assert_ne!(ty, "ERROR", "watch error: {ev}");
                let obj_rv = ev["object"]["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
                rv = obj_rv.clone();
                if ty == "BOOKMARK" {
                    continue;
                }
                let name = ev["object"]["metadata"]["name"].as_str().unwrap_or("").to_string();
                seen.lock().unwrap().push((ty, name, obj_rv.parse().unwrap_or(0)));
            }
        }
    }
}

async fn create_ns(client: &reqwest::Client, base: &str, ns: &str) -> String {
    let r =
        client.post(format!("{base}/api/v1/namespaces")).json(&json!({"metadata": {"name": ns}})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let list: Value =
        client.get(format!("{base}/api/v1/namespaces/{ns}/configmaps")).send().await.unwrap().json().await.unwrap();
    list["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

/// Writes `n` creates and updates; returns every successful write's resourceVersion.
async fn writer(client: reqwest::Client, base: String, ns: String, id: usize, n: usize) -> Vec<i64> {
    let mut rvs = Vec::new();
    for i in 0..n {
        let name = format!("w{id}-{i}");
        let url = format!("{base}/api/v1/namespaces/{ns}/configmaps");
        loop {
            match client.post(&url).json(&json!({"metadata": {"name": name}, "data": {"v": "0"}})).send().await {
                Ok(r) if r.status() == 201 => {
                    let v: Value = r.json().await.unwrap();
                    rvs.push(v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap());
                    break;
                }
                Ok(r) if r.status() == 409 => {
                    // A retry after a lost response: the first attempt landed; read its version.
                    let v: Value = client.get(format!("{url}/{name}")).send().await.unwrap().json().await.unwrap();
                    let rv: i64 = v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                    if !rvs.contains(&rv) {
                        rvs.push(rv);
                    }
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        loop {
            let patch = json!({"data": {"v": "1"}});
            match client
                .patch(format!("{url}/{name}"))
                .header("Content-Type", "application/merge-patch+json")
                .body(patch.to_string())
                .send()
                .await
            {
                Ok(r) if r.status() == 200 => {
                    let v: Value = r.json().await.unwrap();
                    let rv: i64 = v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                    if !rvs.contains(&rv) {
                        rvs.push(rv);
                    }
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    rvs
}

fn check_exactly_once(seen: &[(String, String, i64)], written: &BTreeSet<i64>, who: usize) {
    let rvs: Vec<i64> = seen.iter().map(|e| e.2).collect();
    for w in rvs.windows(2) {
        assert!(w[0] < w[1], "watcher {who}: events out of order or duplicated: {} then {}", w[0], w[1]);
    }
    let got: BTreeSet<i64> = rvs.iter().copied().collect();
    assert_eq!(&got, written, "watcher {who}: saw {} events, {} were written", got.len(), written.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_many_watchers_exactly_once_in_order() {
    let c = Cluster::start();
    let client = c.api.client();
    let base = c.api.url();
    let rv = create_ns(&client, &base, "fanout").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut logs = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let seen = Arc::new(Mutex::new(Vec::new()));
        logs.push(seen.clone());
        tasks.push(tokio::spawn(follow(client.clone(), base.clone(), "fanout".into(), rv.clone(), seen, stop.clone())));
    }
    let writers: Vec<_> =
        (0..6).map(|id| tokio::spawn(writer(client.clone(), base.clone(), "fanout".into(), id, 40))).collect();
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    assert_eq!(written.len(), 6 * 40 * 2);
    let total = written.len();
    for (i, l) in logs.iter().enumerate() {
        let l = l.clone();
        tokio::task::spawn_blocking(move || {
            poll(&format!("watcher {i} complete"), Duration::from_secs(60), || {
                (l.lock().unwrap().len() >= total).then_some(())
            })
        })
        .await
        .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    for (i, l) in logs.iter().enumerate() {
        check_exactly_once(&l.lock().unwrap(), &written, i);
    }
    let kinds: HashSet<String> = logs[0].lock().unwrap().iter().map(|e| e.0.clone()).collect();
    assert_eq!(kinds, HashSet::from(["ADDED".to_string(), "MODIFIED".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watchers_resume_across_apiserver_restart_without_gaps() {
    let mut c = Cluster::start();
    let client = c.api.client();
    let base = c.api.url();
    let rv = create_ns(&client, &base, "restart").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(follow(client.clone(), base.clone(), "restart".into(), rv, seen.clone(), stop.clone()));
    let w1 = tokio::spawn(writer(client.clone(), base.clone(), "restart".into(), 1, 60));
    // Restart mid-stream, once the watcher has seen some events.
    let s = seen.clone();
    tokio::task::spawn_blocking(move || {
        poll("first events", Duration::from_secs(30), || (s.lock().unwrap().len() >= 20).then_some(()))
    })
    .await
    .unwrap();
    tokio::task::block_in_place(|| c.api.restart());
    let w2 = tokio::spawn(writer(client.clone(), base.clone(), "restart".into(), 2, 30));
    let mut written = BTreeSet::new();
    written.extend(w1.await.unwrap());
    written.extend(w2.await.unwrap());
    let total = written.len();
    let s = seen.clone();
    tokio::task::spawn_blocking(move || {
        poll("all events after restart", Duration::from_secs(60), || (s.lock().unwrap().len() >= total).then_some(()))
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.await.unwrap();
    check_exactly_once(&seen.lock().unwrap(), &written, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn compacted_revisions_are_gone() {
    // A small watch-cache window and a fast compaction interval.
    let c = Cluster::start_with(&["--etcd-compaction-interval=1s", "--default-watch-cache-size=100"]);
    let client = c.api.client();
    let base = c.api.url();
    create_ns(&client, &base, "compact").await;
    let url = format!("{base}/api/v1/namespaces/compact/configmaps");
    let first: Value =
        client.post(&url).json(&json!({"metadata": {"name": "c0"}})).send().await.unwrap().json().await.unwrap();
    let old_rv = first["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    for i in 1..150 {
        let r = client.post(&url).json(&json!({"metadata": {"name": format!("c{i}")}})).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    // A paged list started now keeps its revision in the continue token.
    let page: Value = client.get(format!("{url}?limit=10")).send().await.unwrap().json().await.unwrap();
    let cont = page["metadata"]["continue"].as_str().unwrap().to_string();
    // Wait for compaction to pass the old revision: an exact read there turns into 410.
    let c2 = client.clone();
    let exact = format!("{url}?resourceVersion={old_rv}&resourceVersionMatch=Exact");
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        poll("compaction", Duration::from_secs(30), || {
            rt.block_on(async {
                let r = c2.get(&exact).send().await.ok()?;
                (r.status() == 410).then_some(())
            })
        })
    })
    .await
    .unwrap();
    // The continue token (older than the compaction) too, once compaction passes it.
    let c3 = client.clone();
    let cont_url = format!("{url}?limit=10&continue={cont}");
    let more = url.clone();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut i = 0;
        poll("continue token expiry", Duration::from_secs(30), || {
            rt.block_on(async {
                i += 1;
                let _ = c3.post(&more).json(&json!({"metadata": {"name": format!("later{i}")}})).send().await;
                let r = c3.get(&cont_url).send().await.ok()?;
                if r.status() == 410 {
                    let v: Value = r.json().await.ok()?;
                    assert_eq!(v["reason"], "Expired", "{v}");
                    return Some(());
                }
                None
            })
        })
    })
    .await
    .unwrap();
    // A watch from the old revision: outside the cache window and compacted in etcd.
    let r = client.get(format!("{url}?watch=true&resourceVersion={old_rv}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let ev: Value = serde_json::from_str(text.lines().next().expect("one event")).unwrap();
    assert_eq!(ev["type"], "ERROR", "{ev}");
    assert_eq!(ev["object"]["code"], 410, "{ev}");
    assert_eq!(ev["object"]["reason"], "Expired", "{ev}");
}

/// Events have no watch cache (upstream's `--watch-cache-sizes` default): watches of them
/// are served from etcd, with the same initial events and resumption as cached resources.
#[test]
fn events_are_watched_from_etcd_without_a_watch_cache() {
    let c = Cluster::start();
    let client = c.api.client();
    let base = c.api.url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let event = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
               "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
               "reason": "Tested", "message": name, "type": "Normal"})
    };
    let create = |body: Value, path: &str| -> Value {
        rt.block_on(async {
            let r = client.post(format!("{base}{path}")).json(&body).send().await.expect("create");
            assert_eq!(r.status(), 201);
            r.json().await.expect("json")
        })
    };
    let first = create(event("first"), "/api/v1/namespaces/default/events");
    let first_rv = first["metadata"]["resourceVersion"].as_str().expect("rv").to_string();
    let watch =
        |query: &str| watch_names(&rt, client.clone(), format!("{base}/api/v1/namespaces/default/events?{query}"));
    let from_zero = watch("watch=true&resourceVersion=0");
    let from_first = watch(&format!("watch=true&resourceVersion={first_rv}"));
    poll("initial ADDED event", Duration::from_secs(20), || {
        from_zero.lock().unwrap().contains(&("ADDED".into(), "first".into())).then_some(())
    });
    // Written through events.k8s.io/v1, seen on the core watch.
    let second = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "second"},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "tester", "reportingInstance": "tester-1",
        "action": "Testing", "reason": "Tested", "type": "Normal",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}});
    create(second, "/apis/events.k8s.io/v1/namespaces/default/events");
    for (who, seen) in [("resourceVersion=0", &from_zero), ("resourceVersion=first", &from_first)] {
        poll(&format!("ADDED second on the watch from {who}"), Duration::from_secs(20), || {
            seen.lock().unwrap().contains(&("ADDED".into(), "second".into())).then_some(())
        });
    }
    // Resuming after "first" replays only what came after it.
    assert!(!from_first.lock().unwrap().iter().any(|(_, n)| n == "first"), "{:?}", from_first.lock().unwrap());
    assert_eq!(from_zero.lock().unwrap().len(), 2, "{:?}", from_zero.lock().unwrap());
}

#[test]
fn watch_cache_sizes_are_checked_as_upstream_checks_them() {
    let out = std::process::Command::new(e2e::bin_dir().join("kube-apiserver"))
        .args(["--etcd-servers", "http://127.0.0.1:1", "--watch-cache-sizes", "events#100,pods#x"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid size of watch cache size: pods#x"), "{err}");
}

/// Events expire `--event-ttl` after their last write (upstream attaches them to etcd leases);
/// the expiry is a DELETED event on watches, and other objects stay.
#[test]
fn events_expire_after_the_event_ttl() {
    let c = Cluster::start_with(&["--event-ttl", "2s"]);
    let client = c.api.client();
    let base = c.api.url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let status =
        |path: &str| rt.block_on(async { client.get(format!("{base}{path}")).send().await.expect("get").status() });
    let seen = watch_names(
        &rt,
        client.clone(),
        format!("{base}/api/v1/namespaces/default/events?watch=true&resourceVersion=0"),
    );
    rt.block_on(async {
        for (path, body) in [
            ("/api/v1/namespaces/default/configmaps", json!({"metadata": {"name": "stays"}})),
            (
                "/api/v1/namespaces/default/events",
                json!({"metadata": {"name": "short-lived"}, "reason": "Tested", "message": "m",
                       "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}}),
            ),
        ] {
            let r = client.post(format!("{base}{path}")).json(&body).send().await.expect("create");
            assert_eq!(r.status(), 201, "{path}");
        }
    });
    assert_eq!(status("/api/v1/namespaces/default/events/short-lived"), 200);
    poll("the event to expire", Duration::from_secs(30), || {
        (status("/api/v1/namespaces/default/events/short-lived") == 404).then_some(())
    });
    poll("DELETED on the watch", Duration::from_secs(10), || {
        seen.lock().unwrap().contains(&("DELETED".into(), "short-lived".into())).then_some(())
    });
    assert_eq!(status("/api/v1/namespaces/default/configmaps/stays"), 200);
    let out = std::process::Command::new(e2e::bin_dir().join("kube-apiserver"))
        .args(["--etcd-servers", "http://127.0.0.1:1", "--event-ttl", "0s"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--event-ttl must be greater than 0"), "{err}");
}

/// Streams the (type, name) pairs of a watch into a shared list, in the background.
fn watch_names(
    rt: &tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
) -> Arc<Mutex<Vec<(String, String)>>> {
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let s = seen.clone();
    rt.spawn(async move {
        let mut body = client.get(url).send().await.expect("watch").bytes_stream();
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let v: Value = serde_json::from_slice(&line).expect("event");
                let name = v["object"]["metadata"]["name"].as_str().unwrap_or("").to_string();
                s.lock().unwrap().push((v["type"].as_str().unwrap_or("").to_string(), name));
            }
        }
    });
    seen
}
