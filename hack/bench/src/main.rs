//! apiserver-bench: load against a running kube-apiserver. Measures ConfigMap create
//! throughput and latency from many connections, LIST latency from the watch cache and from
//! etcd, write-to-delivery delay across many watchers, and the server's resident memory;
//! then OpenAPI v3 document cost, Table vs plain list encoding over many pods (and
//! `kubectl get pods -o wide` with the server's CPU time), and server-side apply latency.

mod authz;
mod common;

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    api: common::Target,
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
    /// Pods for the Table vs list encoding phase (0 = skip it).
    #[arg(long, default_value_t = 5000)]
    pods: usize,
    /// kubectl binary and kubeconfig for `kubectl get pods -o wide` (skipped without both).
    #[arg(long)]
    kubectl: Option<String>,
    #[arg(long)]
    kubeconfig: Option<String>,
    /// Server-side applies of one Deployment (0 = skip).
    #[arg(long, default_value_t = 500)]
    applies: usize,
    /// The cluster CA's key, to issue the RBAC user's certificate (authz phase skipped without).
    #[arg(long)]
    ca_key: Option<String>,
    #[arg(long, default_value_t = 5000)]
    authz_bindings: usize,
    #[arg(long, default_value_t = 1000)]
    authz_roles: usize,
    #[arg(long, default_value_t = 2000)]
    authz_requests: usize,
    /// Distinct service-account tokens to verify.
    #[arg(long, default_value_t = 2000)]
    tokens: usize,
    /// Pods for the large-list phase: unpaged LISTs of tens of MiB (0 = skip it).
    #[arg(long, default_value_t = 20_000)]
    big_pods: usize,
    /// Only these of the first phases (comma-separated: create, generate, paced, big, list;
    /// the later phases run only with `list`); every phase when not given.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn phase(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == name)
    }
}

/// The server's CPU time so far (user + system), from /proc.
fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    common::cpu_time(pid)
}

fn client(a: &Args, http1: bool) -> reqwest::Client {
    let mut b = common::tls_client(&a.api.ca, &a.api.cert, &a.api.key).pool_max_idle_per_host(64);
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
    common::mem_kib(pid, "VmRSS:")
}

fn report_mem(label: &str, pid: Option<u32>) {
    if let Some(k) = rss_kib(pid) {
        println!("memory {label}: {:.1} MiB resident", k as f64 / 1024.0);
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let base = a.api.server.trim_end_matches('/').to_string();
    let ns = a.namespace.clone();
    let admin = client(&a, false);
    report_mem("idle", a.pid);
    if a.only.is_empty() {
        openapi_phase(&admin, &base).await;
    }
    let r = admin
        .post(format!("{base}/api/v1/namespaces"))
        .json(&json!({"metadata": {"name": ns}}))
        .send()
        .await
        .expect("namespace");
    assert!(r.status().is_success() || r.status() == 409, "namespace create: {}", r.status());

    // 1. Creates from many connections: named, then with generateName (whose collisions the
    // server retries), into their own namespaces.
    let clients: Vec<reqwest::Client> = (0..a.connections).map(|_| client(&a, true)).collect();
    let url = format!("{base}/api/v1/namespaces/{ns}/configmaps");
    for (phase, generate) in [("create", false), ("generate", true)] {
        if !a.phase(phase) {
            continue;
        }
        let target = if generate {
            let gns = format!("{ns}-generated");
            let r =
                admin.post(format!("{base}/api/v1/namespaces")).json(&json!({"metadata": {"name": gns}})).send().await;
            let _ = r.expect("namespace").bytes().await;
            format!("{base}/api/v1/namespaces/{gns}/configmaps")
        } else {
            url.clone()
        };
        create_phase(&a, &clients, &target, generate).await;
        report_mem(&format!("with {} objects", a.objects), a.pid);
    }

    // 1b. Creates paced at a fixed rate, into another namespace.
    if a.rate > 0 && a.phase("paced") {
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

    if a.big_pods > 0 && a.phase("big") {
        big_list_phase(&a, &clients, &admin, &base).await;
    }
    if !a.phase("list") {
        return;
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
    if a.pods > 0 {
        tables_phase(&a, &clients, &base).await;
    }
    if a.applies > 0 {
        apply_phase(&a, &admin, &base).await;
    }
    if let Some(ca_key) = &a.ca_key {
        let ca = pki::CertKey {
            cert_pem: std::fs::read_to_string(&a.api.ca).expect("ca"),
            key_pem: std::fs::read_to_string(ca_key).expect("ca key"),
        };
        let leaf =
            pki::issue(&ca, &pki::LeafSpec { common_name: "bench-user".into(), client: true, ..Default::default() })
                .expect("user certificate");
        let root = reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).expect("ca pem");
        let id =
            reqwest::Identity::from_pem(format!("{}{}", leaf.cert_pem, leaf.key_pem).as_bytes()).expect("identity");
        let user = reqwest::Client::builder()
            .add_root_certificate(root.clone())
            .identity(id)
            .use_rustls_tls()
            .build()
            .expect("client");
        let anon = reqwest::Client::builder().add_root_certificate(root).use_rustls_tls().build().expect("client");
        let o = authz::Opts {
            bindings: a.authz_bindings,
            roles: a.authz_roles,
            requests: a.authz_requests,
            tokens: a.tokens,
        };
        authz::run(&o, &admin, &user, &anon, &base).await;
        report_mem("after the authz phase", a.pid);
    }
}

/// Creates `a.objects` ConfigMaps at `url` from every connection at once, named or with
/// `generateName`; reports the rate, latency and any create that was not a 201.
async fn create_phase(a: &Args, clients: &[reqwest::Client], url: &str, generate: bool) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in clients {
        let c = c.clone();
        let next = next.clone();
        let url = url.to_string();
        let total = a.objects;
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut refused) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return (lat, refused);
                }
                let meta = if generate {
                    json!({"generateName": "cm-", "labels": {"bench": "true"}})
                } else {
                    json!({"name": format!("cm-{i:05}"), "labels": {"bench": "true"}})
                };
                let body = json!({"metadata": meta, "data": {"key": "value", "index": i.to_string()}});
                let t = Instant::now();
                let r = c.post(&url).json(&body).send().await.expect("create");
                let code = r.status().as_u16();
                let _ = r.bytes().await;
                assert!(code == 201 || code == 409, "create returned {code}");
                refused += usize::from(code != 201);
                lat.push(t.elapsed());
            }
        }));
    }
    let (mut lat, mut refused) = (Vec::new(), 0);
    for t in tasks {
        let (l, r) = t.await.expect("task");
        lat.extend(l);
        refused += r;
    }
    let elapsed = start.elapsed();
    lat.sort();
    println!(
        "create{}: {} ConfigMaps from {} connections in {:.2} s = {:.0}/s; p50 {} p99 {}; {refused} not created",
        if generate { " with generateName" } else { "" },
        a.objects,
        a.connections,
        elapsed.as_secs_f64(),
        a.objects as f64 / elapsed.as_secs_f64(),
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
}

/// A namespace for pods, with the `default` service account the ServiceAccount admission
/// plugin requires (no controller-manager runs beside the benchmark to create it).
async fn pod_namespace(admin: &reqwest::Client, base: &str, ns: &str) {
    let r = admin.post(format!("{base}/api/v1/namespaces")).json(&json!({"metadata": {"name": ns}})).send().await;
    let _ = r.expect("namespace").bytes().await;
    let sa = format!("{base}/api/v1/namespaces/{ns}/serviceaccounts");
    let r = admin.post(&sa).json(&json!({"metadata": {"name": "default"}})).send().await;
    let _ = r.expect("service account").bytes().await;
    // Admission reads service accounts from the watch cache.
    for _ in 0..100 {
        let r = admin.get(format!("{sa}/default?resourceVersion=0")).send().await.expect("get");
        if r.status().is_success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server's peak resident memory since the last reset (VmHWM), in KiB.
fn peak_kib(pid: Option<u32>) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak resident memory to the current (`clear_refs` 5), so that the next peak
/// read belongs to what runs in between.
fn reset_peak(pid: Option<u32>) {
    if let Some(pid) = pid {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}

/// Large lists: `a.big_pods` pods (about 2.4 KB each as served), listed unpaged from etcd and
/// from the watch cache as JSON and protobuf; latency and the server's peak memory per kind.
async fn big_list_phase(a: &Args, clients: &[reqwest::Client], admin: &reqwest::Client, base: &str) {
    let ns = format!("{}-big", a.namespace);
    pod_namespace(admin, base, &ns).await;
    let url = format!("{base}/api/v1/namespaces/{ns}/pods");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in clients {
        let (c, next, url, total) = (c.clone(), next.clone(), url.clone(), a.big_pods);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let labels: serde_json::Map<String, Value> =
                    (0..8).map(|l| (format!("label-{l}"), json!(format!("value-{i}-{l}")))).collect();
                let pod = json!({"metadata": {"name": format!("big-{i:05}"), "labels": labels, "annotations": {"note": "x".repeat(400)}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "args": ["--serve", "--port=8080"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}});
                let r = c.post(&url).json(&pod).send().await.expect("create");
                assert_eq!(r.status().as_u16(), 201);
                let _ = r.bytes().await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    report_mem(&format!("with {} big pods", a.big_pods), a.pid);
    let rounds = 5;
    for (label, query, accept) in [
        ("etcd, JSON", "", "application/json"),
        ("watch cache, JSON", "?resourceVersion=0", "application/json"),
        ("etcd, protobuf", "", "application/vnd.kubernetes.protobuf"),
        ("watch cache, protobuf", "?resourceVersion=0", "application/vnd.kubernetes.protobuf"),
        ("watch cache, Table", "?resourceVersion=0", "application/json;as=Table;v=v1;g=meta.k8s.io"),
    ] {
        let before = rss_kib(a.pid).unwrap_or(0);
        reset_peak(a.pid);
        let (mut lat, mut bytes) = (Vec::new(), 0);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = admin.get(format!("{url}{query}")).header("Accept", accept).send().await.expect("list");
            assert_eq!(r.status().as_u16(), 200);
            bytes = r.bytes().await.expect("body").len();
            lat.push(t.elapsed());
        }
        lat.sort();
        let peak = peak_kib(a.pid).unwrap_or(0);
        println!(
            "unpaged list of {} pods from {label}: {:.1} MB; p50 {} max {}; server peak {:.0} MiB ({:+.0} MiB over its {:.0} MiB before)",
            a.big_pods,
            bytes as f64 / 1e6,
            ms(pct(&lat, 0.5)),
            ms(lat.last().copied().unwrap_or_default()),
            peak as f64 / 1024.0,
            (peak as f64 - before as f64) / 1024.0,
            before as f64 / 1024.0
        );
    }
}

/// OpenAPI v3: the first request builds every group-version's document once; later ones
/// are served from the kept bytes.
async fn openapi_phase(admin: &reqwest::Client, base: &str) {
    let get = |path: String| async move {
        let t = Instant::now();
        let r = admin.get(format!("{base}{path}")).send().await.expect("openapi");
        let body = r.bytes().await.expect("body");
        (t.elapsed(), body.len())
    };
    let (first, index_len) = get("/openapi/v3".into()).await;
    let (warm, _) = get("/openapi/v3".into()).await;
    let (apps_first, apps_len) = get("/openapi/v3/apis/apps/v1".into()).await;
    let (apps_warm, _) = get("/openapi/v3/apis/apps/v1".into()).await;
    let (core, core_len) = get("/openapi/v3/api/v1".into()).await;
    println!(
        "openapi v3: index first {} ({} B), again {}; apps/v1 {} then {} ({} KiB); api/v1 {} ({} KiB)",
        ms(first),
        index_len,
        ms(warm),
        ms(apps_first),
        ms(apps_warm),
        apps_len / 1024,
        ms(core),
        core_len / 1024
    );
}

/// `kubectl get pods -o wide` over many pods: the server's Table against the plain list.
async fn tables_phase(a: &Args, clients: &[reqwest::Client], base: &str) {
    let ns = format!("{}-pods", a.namespace);
    let admin = &clients[0];
    pod_namespace(admin, base, &ns).await;
    let url = format!("{base}/api/v1/namespaces/{ns}/pods");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in clients {
        let (next, url, total) = (next.clone(), url.clone(), a.pods);
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let body = json!({"metadata": {"name": format!("p-{i:05}"), "labels": {"app": "bench"}},
                    "spec": {"nodeName": format!("node-{}", i % 50), "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}});
                let r = c.post(&url).json(&body).send().await.expect("create pod");
                let code = r.status().as_u16();
                let _ = r.bytes().await;
                assert!(code == 201 || code == 409, "pod create returned {code}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    println!("pods: {} created in {:.2} s", a.pods, start.elapsed().as_secs_f64());
    report_mem(&format!("with {} pods", a.pods), a.pid);
    let rounds = a.list_rounds.max(1);
    for (label, accept) in [
        ("plain list (JSON)", "application/json"),
        ("Table (JSON)", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
        ("plain list (protobuf)", "application/vnd.kubernetes.protobuf"),
    ] {
        let mut lat = Vec::new();
        let mut bytes = 0;
        let cpu0 = cpu_time(a.pid);
        for _ in 0..rounds {
            let t = Instant::now();
            let r =
                admin.get(format!("{url}?resourceVersion=0")).header("Accept", accept).send().await.expect("list pods");
            assert!(r.status().is_success(), "{label}: {}", r.status());
            bytes = r.bytes().await.expect("body").len();
            lat.push(t.elapsed());
        }
        let cpu = cpu_time(a.pid).zip(cpu0).map(|(b, a)| (b - a) / rounds as u32);
        lat.sort();
        println!(
            "list {} pods as {label}: p50 {} p99 {}, {} KiB, server CPU {} per request",
            a.pods,
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            bytes / 1024,
            cpu.map(ms).unwrap_or_else(|| "?".into())
        );
    }
    if let (Some(kubectl), Some(kubeconfig)) = (&a.kubectl, &a.kubeconfig) {
        let mut walls = Vec::new();
        let cpu0 = cpu_time(a.pid);
        let runs = 5;
        for _ in 0..runs {
            let t = Instant::now();
            let out = std::process::Command::new(kubectl)
                .args(["--kubeconfig", kubeconfig, "get", "pods", "-o", "wide", "-n", &ns])
                .output()
                .expect("run kubectl");
            assert!(out.status.success(), "kubectl: {}", String::from_utf8_lossy(&out.stderr));
            let lines = out.stdout.iter().filter(|b| **b == b'\n').count();
            assert_eq!(lines, a.pods + 1, "kubectl printed every pod");
            walls.push(t.elapsed());
        }
        let cpu = cpu_time(a.pid).zip(cpu0).map(|(b, a)| (b - a) / runs);
        walls.sort();
        println!(
            "kubectl get pods -o wide ({} pods): wall p50 {} max {}, server CPU {} per run",
            a.pods,
            ms(pct(&walls, 0.5)),
            ms(walls.last().copied().unwrap_or_default()),
            cpu.map(ms).unwrap_or_else(|| "?".into())
        );
    }
}

/// Server-side apply of one Deployment, alternating two configurations so every apply
/// changes the object (merge, prune, ownership and conflict checks each time).
async fn apply_phase(a: &Args, admin: &reqwest::Client, base: &str) {
    let url = format!("{base}/apis/apps/v1/namespaces/{}/deployments/applied?fieldManager=bench", a.namespace);
    let mut lat = Vec::new();
    for i in 0..a.applies {
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied", "labels": {"round": (i % 2).to_string()}},
            "spec": {"replicas": 1 + (i % 2), "selector": {"matchLabels": {"app": "applied"}},
                "template": {"metadata": {"labels": {"app": "applied"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx", "env": [{"name": "N", "value": i.to_string()}]}]}}}});
        let t = Instant::now();
        let r = admin
            .patch(&url)
            .header("Content-Type", "application/apply-patch+yaml")
            .body(body.to_string())
            .send()
            .await
            .expect("apply");
        let code = r.status().as_u16();
        let _ = r.bytes().await;
        assert!(code == 200 || code == 201, "apply returned {code}");
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "server-side apply: {} applies of one Deployment, p50 {} p99 {}",
        a.applies,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
}
