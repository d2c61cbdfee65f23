//! apiserver-bench: load against a running kube-apiserver. Measures ConfigMap create
//! throughput and latency from many connections, LIST latency from the watch cache and from
//! etcd, write-to-delivery delay across many watchers, and the server's resident memory.

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Apiserver URL, e.g. https://127.0.0.1:6443
    #[arg(long)]
    server: String,
    #[arg(long)]
    ca: String,
    #[arg(long)]
    cert: String,
    #[arg(long)]
    key: String,
    /// The apiserver's PID, to read its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    #[arg(long, default_value_t = 200)]
    watch_writes: usize,
    #[arg(long, default_value_t = 20)]
    list_rounds: usize,
    #[arg(long, default_value = "bench")]
    namespace: String,
    /// Creates per second for the paced phase (0 = skip it).
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Creates in the paced phase.
    #[arg(long, default_value_t = 5000)]
    paced_objects: usize,
}

fn client(a: &Args, http1: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&a.ca).expect("ca")).expect("ca pem");
    let mut pem = std::fs::read(&a.cert).expect("cert");
    pem.extend(std::fs::read(&a.key).expect("key"));
    let id = reqwest::Identity::from_pem(&pem).expect("identity");
    let mut b =
        reqwest::Client::builder().add_root_certificate(ca).identity(id).use_rustls_tls().pool_max_idle_per_host(64);
    if http1 {
        b = b.http1_only();
    }
    b.build().expect("client")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn report_mem(label: &str, pid: Option<u32>) {
    if let Some(k) = rss_kib(pid) {
        println!("memory {label}: {:.1} MiB resident", k as f64 / 1024.0);
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let base = a.server.trim_end_matches('/').to_string();
    let ns = a.namespace.clone();
    let admin = client(&a, false);
    report_mem("idle", a.pid);
    let r = admin
        .post(format!("{base}/api/v1/namespaces"))
        .json(&json!({"metadata": {"name": ns}}))
        .send()
        .await
        .expect("namespace");
    assert!(r.status().is_success() || r.status() == 409, "namespace create: {}", r.status());

    // 1. Creates from many connections.
    let clients: Vec<reqwest::Client> = (0..a.connections).map(|_| client(&a, true)).collect();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = format!("{base}/api/v1/namespaces/{ns}/configmaps");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in clients.clone() {
        let next = next.clone();
        let url = url.clone();
        let total = a.objects;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                let body = json!({"metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "true"}}, "data": {"key": "value", "index": i.to_string()}});
                let t = Instant::now();
                let r = c.post(&url).json(&body).send().await.expect("create");
                let ok = r.status().as_u16();
                let _ = r.bytes().await;
                assert!(ok == 201 || ok == 409, "create returned {ok}");
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed();
    lat.sort();
    println!(
        "create: {} ConfigMaps from {} connections in {:.2} s = {:.0}/s; p50 {} p99 {}",
        a.objects,
        a.connections,
        elapsed.as_secs_f64(),
        a.objects as f64 / elapsed.as_secs_f64(),
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
    report_mem(&format!("with {} objects", a.objects), a.pid);

    // 1b. Creates paced at a fixed rate, into another namespace.
    if a.rate > 0 {
        let paced_ns = format!("{ns}-paced");
        let r = admin
            .post(format!("{base}/api/v1/namespaces"))
            .json(&json!({"metadata": {"name": paced_ns}}))
            .send()
            .await
            .expect("ns");
        let _ = r.bytes().await;
        let purl = format!("{base}/api/v1/namespaces/{paced_ns}/configmaps");
        let interval = Duration::from_secs_f64(1.0 / a.rate as f64);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(a.paced_objects);
        for i in 0..a.paced_objects {
            tick.tick().await;
            let c = clients[i % clients.len()].clone();
            let purl = purl.clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({"metadata": {"name": format!("p-{i:05}")}, "data": {"key": "value"}});
                let t = Instant::now();
                let r = c.post(&purl).json(&body).send().await.expect("create");
                assert_eq!(r.status().as_u16(), 201);
                let _ = r.bytes().await;
                t.elapsed()
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.push(t.await.expect("task"));
        }
        let elapsed = start.elapsed();
        lat.sort();
        println!(
            "create paced at {}/s: {} ConfigMaps in {:.2} s; p50 {} p99 {}",
            a.rate,
            a.paced_objects,
            elapsed.as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99))
        );
    }

    // 2. LIST of all of them, from the watch cache (resourceVersion=0) and from etcd. The
    // first cache read also fills the cache; it is reported on its own.
    let t = Instant::now();
    let r = admin.get(format!("{url}?resourceVersion=0")).send().await.expect("list");
    let _ = r.bytes().await;
    println!("list from a cold watch cache (fills it): {}", ms(t.elapsed()));
    for (label, query) in [("watch cache (resourceVersion=0)", "?resourceVersion=0"), ("etcd (consistent)", "")] {
        let mut lat = Vec::new();
        let mut count = 0;
        for _ in 0..a.list_rounds {
            let t = Instant::now();
            let r = admin.get(format!("{url}{query}")).send().await.expect("list");
            let body = r.bytes().await.expect("body");
            lat.push(t.elapsed());
            let v: Value = serde_json::from_slice(&body).expect("json");
            count = v["items"].as_array().map(|i| i.len()).unwrap_or(0);
        }
        lat.sort();
        println!("list {count} from {label}: p50 {} p99 {}", ms(pct(&lat, 0.5)), ms(pct(&lat, 0.99)));
    }

    report_mem(&format!("with {} objects in the watch cache", a.objects), a.pid);

    // 3. Watch fan-out: many watchers, delay from write to delivery.
    let wurl = format!("{base}/api/v1/namespaces/{ns}/secrets");
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let delays: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let list: Value = admin.get(&wurl).send().await.expect("list").json().await.expect("json");
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    let watch_clients: Vec<reqwest::Client> = (0..(a.watchers / 100).max(1)).map(|_| client(&a, false)).collect();
    let ready = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut watchers = Vec::new();
    for i in 0..a.watchers {
        let c = watch_clients[i % watch_clients.len()].clone();
        let u = format!("{wurl}?watch=true&resourceVersion={rv}&timeoutSeconds=300");
        let sent = sent.clone();
        let delays = delays.clone();
        let ready = ready.clone();
        let expect = a.watch_writes;
        watchers.push(tokio::spawn(async move {
            let resp = c.get(&u).send().await.expect("watch");
            ready.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut s = resp.bytes_stream();
            let mut buf = Vec::new();
            let mut n = 0;
            while n < expect {
                let Some(Ok(chunk)) = s.next().await else {
                    break;
                };
                buf.extend_from_slice(&chunk);
                while let Some(p) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=p).collect();
                    let now = Instant::now();
                    let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                        continue;
                    };
                    if let Some(name) = ev["object"]["metadata"]["name"].as_str() {
                        if let Some(t) = sent.lock().expect("lock").get(name) {
                            delays.lock().expect("lock").push(now - *t);
                        }
                        n += 1;
                    }
                }
            }
        }));
    }
    while ready.load(std::sync::atomic::Ordering::Relaxed) < a.watchers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report_mem(&format!("with {} watchers", a.watchers), a.pid);
    for i in 0..a.watch_writes {
        let name = format!("s-{i:04}");
        sent.lock().expect("lock").insert(name.clone(), Instant::now());
        let r = admin
            .post(&wurl)
            .json(&json!({"metadata": {"name": name}, "stringData": {"k": "v"}}))
            .send()
            .await
            .expect("create");
        let _ = r.bytes().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for w in watchers {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, w).await;
    }
    let mut d = delays.lock().expect("lock").clone();
    d.sort();
    println!(
        "watch fan-out: {} watchers x {} writes = {} deliveries (expected {}); delay p50 {} p99 {} max {}",
        a.watchers,
        a.watch_writes,
        d.len(),
        a.watchers * a.watch_writes,
        ms(pct(&d, 0.5)),
        ms(pct(&d, 0.99)),
        ms(d.last().copied().unwrap_or_default())
    );
}
