//! kubelet-bench: pod startup latency on a real node, as upstream's pod startup SLI measures it
//! (a pod's creation until all its containers are observed running through a watch; images
//! present), for single pods and for a burst created at once, with the kubelet's memory and
//! its idle CPU while the pods run.
//!
//! The start of each measurement is the moment the create request is sent (the SLI's
//! creationTimestamp has only one-second resolution), so the figures include the apiserver,
//! the scheduler and the kubelet.

mod common;

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Pod startup latency and kubelet resources on a real node")]
struct Args {
    #[command(flatten)]
    target: common::Target,
    /// The kubelet's PID, for its memory and CPU.
    #[arg(long)]
    kubelet_pid: u32,
    /// Pods created one after another (each measured alone).
    #[arg(long, default_value_t = 10)]
    singles: usize,
    /// Pods created at once.
    #[arg(long, default_value_t = 30)]
    burst: usize,
    #[arg(long, default_value = "docker.io/library/busybox:1.36")]
    image: String,
    /// Seconds over which idle CPU is measured.
    #[arg(long, default_value_t = 20)]
    idle_seconds: u64,
}

fn pod(name: &str, set: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": set}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]
        }
    })
}

fn all_running(p: &Value) -> bool {
    let want = p["spec"]["containers"].as_array().map(Vec::len).unwrap_or(1);
    let st = p["status"]["containerStatuses"].as_array();
    st.is_some_and(|s| s.len() == want && s.iter().all(|c| c["state"]["running"].is_object()))
}

/// When the watch first showed a pod bound to a node, with its sandbox ready (the kubelet's
/// `PodReadyToStartContainers`), and with every container running: where a burst's time goes.
#[derive(Clone, Copy, Default)]
struct Seen {
    bound: Option<Instant>,
    sandbox: Option<Instant>,
    running: Option<Instant>,
}

fn sandbox_ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "PodReadyToStartContainers" && c["status"] == "True"))
}

struct Bench {
    client: reqwest::Client,
    base: String,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/namespaces/default/{path}", self.base)
    }

    /// Watches pods of `set` and reports, by name, when each was first seen with every
    /// container running (and when it passed the stages before).
    async fn watch_running(&self, set: &str, n: usize) -> tokio::sync::mpsc::Receiver<(String, Seen)> {
        let (tx, rx) = tokio::sync::mpsc::channel(n.max(1) * 2);
        let resp = self
            .client
            .get(self.url(&format!("pods?watch=true&labelSelector=bench%3D{set}")))
            .send()
            .await
            .expect("watch");
        assert!(resp.status().is_success(), "watch: {}", resp.status());
        tokio::spawn(async move {
            let mut seen: HashMap<String, Seen> = HashMap::new();
            let mut buf = Vec::new();
            let mut body = resp.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                buf.extend_from_slice(&chunk);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    let Ok(ev) = serde_json::from_slice::<Value>(&line) else { continue };
                    let p = &ev["object"];
                    let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let now = Instant::now();
                    let s = seen.entry(name.clone()).or_default();
                    if s.running.is_some() {
                        continue;
                    }
                    if p["spec"]["nodeName"].is_string() {
                        s.bound.get_or_insert(now);
                    }
                    if sandbox_ready(p) {
                        s.sandbox.get_or_insert(now);
                    }
                    if all_running(p) {
                        s.running = Some(now);
                        if tx.send((name, *s)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        rx
    }

    async fn create(&self, body: &Value) -> Instant {
        let t0 = Instant::now();
        let r = self.client.post(self.url("pods")).json(body).send().await.expect("create");
        assert!(r.status().is_success(), "create: {} {}", r.status(), r.text().await.unwrap_or_default());
        t0
    }

    async fn delete_set(&self, set: &str) {
        let r = self
            .client
            .delete(self.url(&format!("pods?labelSelector=bench%3D{set}")))
            .json(&json!({"gracePeriodSeconds": 1}))
            .send()
            .await
            .expect("delete");
        assert!(r.status().is_success(), "deletecollection: {}", r.status());
        let end = Instant::now() + Duration::from_secs(120);
        loop {
            let list: Value = self
                .client
                .get(self.url(&format!("pods?labelSelector=bench%3D{set}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if list["items"].as_array().is_none_or(|i| i.is_empty()) {
                return;
            }
            assert!(Instant::now() < end, "pods of {set} not gone");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The machine's busy and total CPU time so far (`/proc/stat`, every core), to tell whether a
/// measurement was bound by the CPU.
pub fn machine_cpu() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3)? + f.get(4)?;
    Some((Duration::from_millis((total - idle) * 10), Duration::from_millis(total * 10)))
}

/// CPU time of every live process, its own and its reaped children's, by PID with its command
/// name (a kernel worker's name without the work it is doing now, which changes): a snapshot
/// to subtract from a later one. Approximate: a child reaped in the window counts whole.
pub fn cpu_by_command() -> std::collections::HashMap<u32, (String, Duration)> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // The machine's init reaps every orphan, whenever it ran: nothing to attribute.
        if pid == 1 {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(l), Some(r)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = stat[l + 1..r].to_string();
        let comm = if comm.starts_with("kworker/") { comm.split('-').next().unwrap_or("").to_string() } else { comm };
        let f: Vec<u64> = stat[r + 2..].split_whitespace().skip(11).take(4).filter_map(|x| x.parse().ok()).collect();
        out.insert(pid, (comm, Duration::from_millis(f.iter().sum::<u64>() * 10)));
    }
    out
}

/// The commands that used the most CPU between two `cpu_by_command` snapshots.
pub fn top_commands(
    before: &std::collections::HashMap<u32, (String, Duration)>,
    after: &std::collections::HashMap<u32, (String, Duration)>,
    n: usize,
) -> Vec<(String, Duration)> {
    let mut by: std::collections::HashMap<String, Duration> = std::collections::HashMap::new();
    for (pid, (comm, v)) in after {
        let d = v.saturating_sub(before.get(pid).map(|b| b.1).unwrap_or_default());
        *by.entry(comm.clone()).or_default() += d;
    }
    let mut v: Vec<_> = by.into_iter().filter(|(_, d)| !d.is_zero()).collect();
    v.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    v.truncate(n);
    v
}

async fn idle_cpu(pid: u32, secs: u64) -> f64 {
    let c0 = common::cpu_time(Some(pid)).unwrap_or_default();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let c1 = common::cpu_time(Some(pid)).unwrap_or_default();
    (c1 - c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let t = &a.target;
    let client = common::tls_client(&t.ca, &t.cert, &t.key).build().expect("client");
    let b = Bench { client, base: t.server.trim_end_matches('/').to_string() };
    let pid = a.kubelet_pid;

    // Warm-up: the image is pulled once, so that every measured pod finds it present.
    let mut rx = b.watch_running("warmup", 1).await;
    b.create(&pod("warmup", "warmup", &a.image)).await;
    tokio::time::timeout(Duration::from_secs(120), rx.recv()).await.expect("warm-up pod running");
    b.delete_set("warmup").await;

    println!(
        "kubelet idle, no pods: {} resident (peak {})",
        common::mib(common::mem_kib(Some(pid), "VmRSS:")),
        common::mib(common::mem_kib(Some(pid), "VmHWM:"))
    );
    println!("kubelet idle CPU, no pods: {:.2} % of a core", idle_cpu(pid, a.idle_seconds.min(10)).await);

    // Single pods, one at a time.
    let mut singles = Vec::new();
    let mut rx = b.watch_running("single", a.singles).await;
    for i in 0..a.singles {
        let t0 = b.create(&pod(&format!("single-{i}"), "single", &a.image)).await;
        let (_, seen) =
            tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.expect("single pod running").expect("watch");
        singles.push(seen.running.unwrap() - t0);
    }
    singles.sort();
    println!(
        "single pod startup ({} pods, one at a time): p50 {}, p99 {}, max {}",
        singles.len(),
        common::ms(common::pct(&singles, 50.0)),
        common::ms(common::pct(&singles, 99.0)),
        common::ms(*singles.last().unwrap())
    );
    b.delete_set("single").await;

    // A burst: every pod created at once.
    let mut rx = b.watch_running("burst", a.burst).await;
    let (cpu0, procs0) = (machine_cpu(), cpu_by_command());
    let started = Instant::now();
    let creates = (0..a.burst).map(|i| {
        let body = pod(&format!("burst-{i}"), "burst", &a.image);
        let b = &b;
        async move { (format!("burst-{i}"), b.create(&body).await) }
    });
    let sent: HashMap<String, Instant> = futures::future::join_all(creates).await.into_iter().collect();
    let mut lat = Vec::new();
    let (mut bound, mut sandbox) = (Vec::new(), Vec::new());
    while lat.len() < a.burst {
        let (name, seen) = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("burst pods running")
            .expect("watch");
        if let Some(t0) = sent.get(&name) {
            lat.push(seen.running.unwrap() - *t0);
            bound.extend(seen.bound.map(|t| t - *t0));
            sandbox.extend(seen.sandbox.map(|t| t - *t0));
        }
    }
    let all = started.elapsed();
    let (cpu1, procs1) = (machine_cpu(), cpu_by_command());
    lat.sort();
    println!(
        "burst of {} pods created at once: p50 {}, p99 {}, max {}; all running after {}",
        a.burst,
        common::ms(common::pct(&lat, 50.0)),
        common::ms(common::pct(&lat, 99.0)),
        common::ms(*lat.last().unwrap()),
        common::ms(all)
    );
    bound.sort();
    sandbox.sort();
    println!(
        "  stages since creation: bound p50 {}, p99 {}; sandbox ready p50 {}, p99 {}",
        common::ms(common::pct(&bound, 50.0)),
        common::ms(common::pct(&bound, 99.0)),
        common::ms(common::pct(&sandbox, 50.0)),
        common::ms(common::pct(&sandbox, 99.0))
    );
    if let (Some((b0, t0)), Some((b1, t1))) = (cpu0, cpu1) {
        let busy = (b1 - b0).as_secs_f64();
        println!(
            "  machine CPU during the burst: {:.1} s busy of {:.1} s ({:.0} %); most: {}",
            busy,
            (t1 - t0).as_secs_f64(),
            busy / (t1 - t0).as_secs_f64().max(0.001) * 100.0,
            top_commands(&procs0, &procs1, 8)
                .iter()
                .map(|(c, d)| format!("{c} {:.2} s", d.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "kubelet with {} pods: {} resident (peak {})",
        a.burst,
        common::mib(common::mem_kib(Some(pid), "VmRSS:")),
        common::mib(common::mem_kib(Some(pid), "VmHWM:"))
    );
    println!("kubelet idle CPU with {} running pods: {:.2} % of a core", a.burst, idle_cpu(pid, a.idle_seconds).await);
    b.delete_set("burst").await;
}
