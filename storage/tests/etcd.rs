//! The store and the watch cache against a real etcd.

use e2e::Etcd;
use serde_json::{json, Value};
use std::time::Duration;
use storage::{Cacher, CacherConfig, EtcdConfig, EventType, ListOptions, StorageError, Store};

async fn store(etcd: &Etcd) -> Store {
    Store::connect(&EtcdConfig { endpoints: vec![etcd.endpoint()], ..Default::default() }).await.expect("connect")
}

fn cm(name: &str, v: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"v": v}})
}

fn rv(o: &Value) -> i64 {
    o["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn cas_writes() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    let k = "/registry/configmaps/ns/a";
    let a = s.create(k, cm("a", "1")).await.unwrap();
    assert!(matches!(s.create(k, cm("a", "2")).await, Err(StorageError::AlreadyExists(_))));
    let got = s.get(k).await.unwrap().unwrap();
    assert_eq!(rv(&got), rv(&a));
    assert!(got["metadata"]["resourceVersion"].is_string());
    let b = s.update(k, cm("a", "2"), rv(&a)).await.unwrap();
    assert!(rv(&b) > rv(&a));
    assert!(matches!(s.update(k, cm("a", "3"), rv(&a)).await, Err(StorageError::Conflict { .. })));
    assert!(matches!(s.delete(k, rv(&a)).await, Err(StorageError::Conflict { .. })));
    let d = s.delete(k, rv(&b)).await.unwrap();
    assert_eq!(d["data"]["v"], "2");
    assert!(rv(&d) > rv(&b));
    assert!(s.get(k).await.unwrap().is_none());
    assert!(matches!(s.update(k, cm("a", "4"), rv(&b)).await, Err(StorageError::NotFound(_))));
    // Stored values carry no resourceVersion (it is the etcd revision).
    let raw = etcd.etcdctl(&["get", "/registry/configmaps/ns/", "--prefix", "--print-value-only"]);
    assert!(!String::from_utf8_lossy(&raw.stdout).contains("resourceVersion"));
}

#[tokio::test]
async fn paged_lists_read_one_revision() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    for i in 0..25 {
        s.create(&format!("/registry/configmaps/ns/c{i:02}"), cm(&format!("c{i:02}"), &i.to_string())).await.unwrap();
    }
    let all = |_: &Value| true;
    let p1 = s.list("/registry/configmaps/ns/", &ListOptions { limit: 10, ..Default::default() }, &all).await.unwrap();
    assert_eq!(p1.items.len(), 10);
    assert_eq!(p1.remaining, Some(15));
    // A write between pages is not seen: pages come from the first page's revision.
    s.create("/registry/configmaps/ns/zz", cm("zz", "new")).await.unwrap();
    let mut names: Vec<String> = p1.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect();
    let mut cont = p1.continue_token.clone();
    while let Some(t) = cont {
        let p = s
            .list(
                "/registry/configmaps/ns/",
                &ListOptions { limit: 10, continue_token: Some(t), ..Default::default() },
                &all,
            )
            .await
            .unwrap();
        assert_eq!(p.revision, p1.revision);
        names.extend(p.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()));
        cont = p.continue_token;
    }
    assert_eq!(names.len(), 25);
    assert!(!names.contains(&"zz".to_string()));
    // A predicate still fills pages.
    let odd = |o: &Value| o["data"]["v"].as_str().and_then(|v| v.parse::<i32>().ok()).is_some_and(|v| v % 2 == 1);
    let p = s.list("/registry/configmaps/ns/", &ListOptions { limit: 5, ..Default::default() }, &odd).await.unwrap();
    assert_eq!(p.items.len(), 5);
    assert!(matches!(
        s.list(
            "/registry/configmaps/ns/",
            &ListOptions { continue_token: Some("garbage".into()), ..Default::default() },
            &all
        )
        .await,
        Err(StorageError::BadContinue(_))
    ));
}

#[tokio::test]
async fn cache_replays_and_fans_out_in_order() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    let before = s.create("/registry/configmaps/ns/pre", cm("pre", "0")).await.unwrap();
    let cache = Cacher::start(s.clone(), "/registry/configmaps/", CacherConfig { history: 50, ..Default::default() });
    cache.wait_fresh(rv(&before), Duration::from_secs(10)).await.unwrap();
    // A watch from "now" first gets the current state.
    let w0 = cache.watch(None).unwrap();
    assert_eq!(w0.initial.len(), 1);
    assert_eq!(w0.initial[0].kind, EventType::Added);
    let start = cache.revision();
    let mut rx = w0.rx;
    let mut written = Vec::new();
    for i in 0..20 {
        let o = s.create(&format!("/registry/configmaps/ns/k{i}"), cm(&format!("k{i}"), "0")).await.unwrap();
        written.push(rv(&o));
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        if ev.kind != EventType::Bookmark {
            got.push(ev.rv);
        }
    }
    assert_eq!(got, written);
    // A late watcher resuming from `start` gets the same events from history.
    let w1 = cache.watch(Some(start)).unwrap();
    assert_eq!(w1.initial.iter().map(|e| e.rv).collect::<Vec<_>>(), written);
    // Past the history window: expired.
    for i in 0..60 {
        s.create(&format!("/registry/configmaps/ns/m{i}"), cm("m", "0")).await.unwrap();
    }
    let latest = s.current_revision().await.unwrap();
    cache.wait_fresh(latest, Duration::from_secs(10)).await.unwrap();
    assert!(matches!(cache.watch(Some(start)), Err(StorageError::Expired(_))));
    // A consistent read point is reached even when the newest write is elsewhere.
    s.create("/registry/secrets/ns/other", json!({"metadata": {"name": "other"}})).await.unwrap();
    let r = cache.sync_latest(Duration::from_secs(10)).await.unwrap();
    assert!(r >= s.current_revision().await.unwrap() - 1);
    assert_eq!(cache.len(), 81);
}

#[tokio::test]
async fn etcd_watch_from_a_compacted_revision_is_expired() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    let a = s.create("/registry/configmaps/ns/a", cm("a", "0")).await.unwrap();
    for i in 0..5 {
        s.create(&format!("/registry/configmaps/ns/b{i}"), cm("b", "0")).await.unwrap();
    }
    let now = s.current_revision().await.unwrap();
    s.compact(now).await.unwrap();
    let mut rx = s.watch("/registry/configmaps/", rv(&a), storage::default_indexer());
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert!(matches!(first, Err(StorageError::Expired(_))), "{first:?}");
    // From the compacted revision itself onward it works.
    let mut rx = s.watch("/registry/configmaps/", now, storage::default_indexer());
    s.create("/registry/configmaps/ns/c", cm("c", "0")).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(ev.kind, EventType::Added);
}

/// A cache that starts while a write lands must not lose that write. etcd before 3.4.31
/// answers a progress request at once with its current revision while a watcher opened in the
/// past still has the write to deliver; a cache that took that revision skipped the event for
/// good, and a watch without resourceVersion then saw nothing (the flaky curl watch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_keeps_writes_that_race_its_start() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    for round in 0..40 {
        let prefix = format!("/registry/race{round}/");
        let cache = Cacher::start(s.clone(), &prefix, CacherConfig::default());
        // Ready = listed; its etcd watch is being opened right now.
        tokio::time::timeout(Duration::from_secs(10), async {
            while cache.revision() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("cache ready");
        let o = s.create(&format!("{prefix}ns/a"), cm("a", "0")).await.unwrap();
        // A consistent read right away asks etcd for progress.
        cache.sync_latest(Duration::from_secs(10)).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while cache.get(&format!("{prefix}ns/a")).0.is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the cache is at {} but lost the write at {}",
                cache.revision(),
                rv(&o)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// An unpaged list larger than gRPC's default 4 MiB message comes back whole, at one revision.
#[tokio::test]
async fn unpaged_lists_over_four_mebibytes() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    let blob = "x".repeat(64 * 1024);
    let mut last = 0;
    for i in 0..100 {
        let o = s.create(&format!("/registry/configmaps/big/c{i:03}"), cm(&format!("c{i:03}"), &blob)).await.unwrap();
        last = rv(&o);
    }
    let all = s.list("/registry/configmaps/big/", &ListOptions::default(), &|_| true).await.expect("unpaged list");
    assert_eq!(all.items.len(), 100);
    assert_eq!(all.revision, last);
    assert!(all.continue_token.is_none());
    let names: Vec<&str> = all.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

/// A modification carries the object as it was just before (selector watches decide from it
/// whether an object entered or left their view), whether the cache reuses its own copy or
/// decodes etcd's previous value, for updates in quick succession and for deletes.
#[tokio::test]
async fn cache_events_carry_the_previous_object() {
    let etcd = Etcd::start();
    let s = store(&etcd).await;
    let k = "/registry/configmaps/ns/p";
    let first = s.create(k, cm("p", "0")).await.unwrap();
    let cache = Cacher::start(s.clone(), "/registry/configmaps/", CacherConfig::default());
    cache.wait_fresh(rv(&first), Duration::from_secs(10)).await.unwrap();
    let mut rx = cache.watch(None).unwrap().rx;
    let mut cur = first;
    let mut expect = Vec::new();
    for i in 1..=30 {
        let next = s.update(k, cm("p", &i.to_string()), rv(&cur)).await.unwrap();
        expect.push((EventType::Modified, rv(&cur), (i - 1).to_string(), i.to_string()));
        cur = next;
    }
    let gone = s.delete(k, rv(&cur)).await.unwrap();
    expect.push((EventType::Deleted, rv(&cur), "30".into(), "30".into()));
    let mut got = Vec::new();
    while got.len() < expect.len() {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        if ev.kind == EventType::Bookmark {
            continue;
        }
        let prev = ev.prev.as_ref().expect("a previous object");
        let data = |o: &storage::Obj| o.value()["data"]["v"].as_str().unwrap().to_string();
        assert_eq!(rv(&prev.value()), prev.rv, "the previous object's encoding carries its own revision");
        got.push((ev.kind, prev.rv, data(prev), data(&ev.obj)));
    }
    assert_eq!(got, expect);
    assert_eq!(rv(&gone), cache.revision());
}
