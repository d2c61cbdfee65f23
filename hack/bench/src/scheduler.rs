//! scheduler-bench: kube-scheduler under load, after upstream's scheduler_perf. Makes `--nodes`
//! fake nodes (4 cpu, 32Gi, 110 pods, Ready, untainted), creates `--init-pods` pods and waits
//! until they are bound, then creates `--pods` measured pods and reports how fast they are
//! bound: pods/s on average and per 1-second window (p50, p99), the scheduling-attempt
//! latency from the scheduler's histogram, its CPU seconds and memory. `--workload` picks the
//! pods: `basic` (100m/500Mi each), `anti-affinity` (five groups, one pod per group per node),
//! `spread` (hard zone spread over ten zones), `preemption` (low-priority pods fill every node,
//! then high-priority pods evict one each; the tool finishes the deletions as a kubelet would)
//! and `unschedulable` (pods no node fits, then the scheduler's idle CPU over `--idle-secs`).

mod common;

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Parser, Debug, Clone)]
struct Args {
    #[command(flatten)]
    api: common::Target,
    /// The scheduler's PID (CPU time and memory).
    #[arg(long)]
    scheduler_pid: u32,
    /// The apiserver's and etcd's PIDs: their CPU time per measured pod is reported too.
    #[arg(long)]
    apiserver_pid: Option<u32>,
    #[arg(long)]
    etcd_pid: Option<u32>,
    /// The scheduler's secure port (its /metrics).
    #[arg(long)]
    scheduler_port: u16,
    #[arg(long, default_value = "basic")]
    workload: String,
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    #[arg(long, default_value_t = 1000)]
    init_pods: usize,
    #[arg(long, default_value_t = 10000)]
    pods: usize,
    /// Creates kept in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long the idle CPU is measured (`unschedulable`).
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
    #[arg(long, default_value = "bench")]
    namespace: String,
}

async fn send(c: &reqwest::Client, method: reqwest::Method, url: &str, ct: &str, body: &Value) -> u16 {
    for _ in 0..5 {
        match c.request(method.clone(), url).header("Content-Type", ct).body(body.to_string()).send().await {
            Ok(r) => return r.status().as_u16(),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    0
}

/// Runs `f(i)` for `0..n`, `limit` at a time.
async fn each<F, Fut>(n: usize, limit: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(limit));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let fut = f(i);
        tasks.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// scheduler_perf's node template: 4 cpu, 32Gi, 110 pods; ten zones.
fn node(i: usize) -> Value {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let res = json!({"cpu": "4", "memory": "32Gi", "pods": "110"});
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node-{i}"), "labels": {"kubernetes.io/hostname": format!("node-{i}"),
            "topology.kubernetes.io/zone": format!("zone-{}", i % 10)}},
        "status": {"capacity": res, "allocatable": res, "conditions": [{"type": "Ready", "status": "True",
            "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
}

/// The `i`th pod of a workload; `init` marks the pods made before measuring.
fn pod(workload: &str, name: &str, i: usize, init: bool) -> Value {
    let res =
        |cpu: &str, mem: &str| json!({"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu, "memory": mem}});
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": workload}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
            "ports": [{"containerPort": 80}], "resources": res("100m", "500Mi")}]}});
    match workload {
        "anti-affinity" if !init => {
            let group = format!("g{}", i % 5);
            p["metadata"]["labels"]["group"] = json!(group);
            p["spec"]["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"group": group}}, "topologyKey": "kubernetes.io/hostname"}]}});
        }
        "spread" if !init => {
            p["spec"]["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "spread"}}}]);
        }
        "preemption" => {
            p["spec"]["priorityClassName"] = json!(if init { "bench-low" } else { "bench-high" });
            p["spec"]["containers"][0]["resources"] = res("1", "1Gi");
        }
        "unschedulable" if !init => {
            p["spec"]["containers"][0]["resources"] = res("100", "1Gi");
        }
        _ => {}
    }
    p
}

/// What the watch reports: when each pod was first seen bound.
#[derive(Default)]
struct Seen {
    bound: HashSet<String>,
    /// Bind times of the measured pods, since the start.
    measured_at: Vec<Duration>,
    measuring: bool,
}

#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: View,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct View {
    metadata: Meta,
    spec: Spec,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: String,
    resource_version: String,
    deletion_timestamp: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Spec {
    node_name: Option<String>,
}

/// Watches the namespace's pods: records binds, and finishes graceful deletions (the
/// kubelet's part of preemption).
async fn watch(c: reqwest::Client, base: String, ns: String, seen: Arc<Mutex<Seen>>, start: Instant) {
    let mut rv = String::new();
    loop {
        // Only bound pods: the measure is when each is bound, and pending pods' events would
        // cost the apiserver and this client work upstream's in-process collector never does
        // (it reads the scheduler's own informer).
        let url = format!(
            "{base}/api/v1/namespaces/{ns}/pods?watch=true&fieldSelector=spec.nodeName%21%3D&resourceVersion={rv}"
        );
        let Ok(resp) = c.get(&url).send().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let Ok(ev) = serde_json::from_slice::<Event>(&line) else { continue };
                let o = ev.object;
                rv = o.metadata.resource_version.clone();
                if ev.kind == "DELETED" {
                    continue;
                }
                if o.metadata.deletion_timestamp.is_some() {
                    let (c, url) = (c.clone(), format!("{base}/api/v1/namespaces/{ns}/pods/{}", o.metadata.name));
                    tokio::spawn(async move {
                        let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0});
                        send(&c, reqwest::Method::DELETE, &url, "application/json", &body).await;
                    });
                    continue;
                }
                if o.spec.node_name.is_some() {
                    let mut s = seen.lock().expect("seen");
                    if s.bound.insert(o.metadata.name.clone()) && s.measuring && o.metadata.name.starts_with('m') {
                        s.measured_at.push(start.elapsed());
                    }
                }
            }
        }
    }
}

/// How many events the namespace holds: one page of one item and the count of the rest, so
/// that polling costs the apiserver and etcd next to nothing (a watch of the events would cost
/// the apiserver more per event than upstream's scheduler_perf spends on them).
async fn events_written(c: &reqwest::Client, base: &str, ns: &str) -> usize {
    let url = format!("{base}/api/v1/namespaces/{ns}/events?limit=1");
    let Ok(r) = c.get(&url).send().await else { return 0 };
    let v: Value = r.json().await.unwrap_or_default();
    let page = v["items"].as_array().map_or(0, Vec::len);
    page + v["metadata"]["remainingItemCount"].as_u64().unwrap_or(0) as usize
}

/// The `scheduled` attempts histogram: (upper bound, cumulative count) per bucket.
async fn attempt_histogram(c: &reqwest::Client, port: u16) -> Vec<(f64, f64)> {
    let r = match c.get(format!("https://127.0.0.1:{port}/metrics")).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            eprintln!("scheduler /metrics: HTTP {}", r.status());
            return Vec::new();
        }
        Err(e) => {
            eprintln!("scheduler /metrics: {e}");
            return Vec::new();
        }
    };
    let text = r.text().await.unwrap_or_default();
    parse_histogram(&text)
}

/// `scheduler_pending_pods{queue="unschedulable"}`.
async fn unschedulable_pending(c: &reqwest::Client, port: u16) -> usize {
    let Ok(r) = c.get(format!("https://127.0.0.1:{port}/metrics")).send().await else { return 0 };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("scheduler_pending_pods{queue=\"unschedulable\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

fn parse_histogram(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter(|l| {
            l.starts_with("scheduler_scheduling_attempt_duration_seconds_bucket") && l.contains("result=\"scheduled\"")
        })
        .filter_map(|l| {
            // The last label: `profile="` ends in `le="` too.
            let le = l.rsplit("le=\"").next()?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
#[test]
fn histogram_lines_parse() {
    let t = "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.001\"} 5\n";
    assert_eq!(parse_histogram(t), [(0.001, 5.0)]);
}

/// The bucket bound below which `q` of the observations between two scrapes fall.
fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> f64 {
    let diff: Vec<(f64, f64)> =
        after.iter().map(|(le, n)| (*le, n - before.iter().find(|(b, _)| b == le).map_or(0.0, |(_, m)| *m))).collect();
    let total = diff.last().map_or(0.0, |(_, n)| *n);
    diff.iter().find(|(_, n)| *n >= q * total).map_or(f64::NAN, |(le, _)| *le)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn cpu_seconds(pid: u32) -> f64 {
    common::cpu_time(Some(pid)).map_or(0.0, |d| d.as_secs_f64())
}

fn mib(pid: u32, field: &str) -> f64 {
    common::mem_kib(Some(pid), field).unwrap_or(0) as f64 / 1024.0
}

async fn create_pods(c: &reqwest::Client, base: &str, ns: &str, a: &Args, prefix: &str, n: usize, init: bool) {
    let url = format!("{base}/api/v1/namespaces/{ns}/pods");
    let workload = a.workload.clone();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    each(n, a.concurrency, |i| {
        let (c, url, body) = (c.clone(), url.clone(), pod(&workload, &format!("{prefix}{i}"), i, init));
        let failed = failed.clone();
        async move {
            let code = send(&c, reqwest::Method::POST, &url, "application/json", &body).await;
            if code != 201 && failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                eprintln!("creating {}: HTTP {code}", body["metadata"]["name"]);
            }
        }
    })
    .await;
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        eprintln!("{failed} of {n} pods were not created");
    }
}

async fn wait_bound(seen: &Mutex<Seen>, want: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if seen.lock().expect("seen").bound.len() >= want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    // The scheduler's serving certificate is self-signed.
    let c = common::tls_client(&a.api.ca, &a.api.cert, &a.api.key)
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let base = a.api.server.trim_end_matches('/').to_string();
    let ns = a.namespace.clone();
    println!("scheduler idle at start: {:.1} MiB resident", mib(a.scheduler_pid, "VmRSS:"));

    let t = Instant::now();
    each(a.nodes, a.concurrency, |i| {
        let (c, base) = (c.clone(), base.clone());
        async move {
            send(&c, reqwest::Method::POST, &format!("{base}/api/v1/nodes"), "application/json", &node(i)).await;
            // TaintNodesByCondition taints a new node not-ready; its kubelet would lift it.
            let untaint = json!({"spec": {"taints": null}});
            let url = format!("{base}/api/v1/nodes/node-{i}");
            send(&c, reqwest::Method::PATCH, &url, "application/merge-patch+json", &untaint).await;
        }
    })
    .await;
    println!("{} nodes in {:.1} s", a.nodes, t.elapsed().as_secs_f64());
    let nsobj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    send(&c, reqwest::Method::POST, &format!("{base}/api/v1/namespaces"), "application/json", &nsobj).await;
    for (name, value) in [("bench-low", 10), ("bench-high", 1000)] {
        let pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value});
        send(
            &c,
            reqwest::Method::POST,
            &format!("{base}/apis/scheduling.k8s.io/v1/priorityclasses"),
            "application/json",
            &pc,
        )
        .await;
    }
    // ServiceAccount admission needs the namespace's default account; no controller-manager
    // runs here to make it.
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    send(&c, reqwest::Method::POST, &format!("{base}/api/v1/namespaces/{ns}/serviceaccounts"), "application/json", &sa)
        .await;

    let start = Instant::now();
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(watch(c.clone(), base.clone(), ns.clone(), seen.clone(), start));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t = Instant::now();
    create_pods(&c, &base, &ns, &a, "i", a.init_pods, true).await;
    if !wait_bound(&seen, a.init_pods, Duration::from_secs(60 + a.init_pods as u64 / 10)).await {
        println!("init pods: only {} of {} bound", seen.lock().expect("seen").bound.len(), a.init_pods);
        return;
    }
    println!("{} init pods bound in {:.1} s", a.init_pods, t.elapsed().as_secs_f64());

    if a.workload == "unschedulable" {
        let t = Instant::now();
        create_pods(&c, &base, &ns, &a, "u", a.pods, false).await;
        // Once every pod has been tried and parked, nothing should wake them.
        let deadline = Instant::now() + Duration::from_secs(600);
        while unschedulable_pending(&c, a.scheduler_port).await < a.pods && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!("{} pods tried and parked as unschedulable after {:.1} s", a.pods, t.elapsed().as_secs_f64());
        let cpu0 = cpu_seconds(a.scheduler_pid);
        tokio::time::sleep(Duration::from_secs(a.idle_secs)).await;
        let used = cpu_seconds(a.scheduler_pid) - cpu0;
        println!(
            "{} unschedulable pods: scheduler idle CPU {:.2} s over {} s ({:.2} % of one core), {:.1} MiB resident",
            a.pods,
            used,
            a.idle_secs,
            100.0 * used / a.idle_secs as f64,
            mib(a.scheduler_pid, "VmRSS:")
        );
        return;
    }

    let hist0 = attempt_histogram(&c, a.scheduler_port).await;
    let cpu0 = cpu_seconds(a.scheduler_pid);
    let others = [("kube-apiserver", a.apiserver_pid), ("etcd", a.etcd_pid), ("this client", Some(std::process::id()))];
    let others0: Vec<f64> = others.iter().map(|(_, p)| p.map_or(0.0, cpu_seconds)).collect();
    let measure_start = start.elapsed();
    seen.lock().expect("seen").measuring = true;
    let bound_before = seen.lock().expect("seen").bound.len();
    create_pods(&c, &base, &ns, &a, "m", a.pods, false).await;
    let all = wait_bound(&seen, bound_before + a.pods, Duration::from_secs(60 + a.pods as u64 / 10)).await;
    let took = start.elapsed() - measure_start;
    let cpu = cpu_seconds(a.scheduler_pid) - cpu0;
    let others1: Vec<f64> = others.iter().map(|(_, p)| p.map_or(0.0, cpu_seconds)).collect();
    let hist1 = attempt_histogram(&c, a.scheduler_port).await;
    let times = seen.lock().expect("seen").measured_at.clone();
    let bound = times.len();
    if !all {
        println!("only {bound} of {} measured pods bound", a.pods);
    }
    // Per-second throughput windows from the first create to the last bind.
    let secs = took.as_secs_f64().ceil() as usize;
    let mut windows = vec![0f64; secs.max(1)];
    for t in &times {
        let i = (t.saturating_sub(measure_start)).as_secs() as usize;
        if let Some(w) = windows.get_mut(i) {
            *w += 1.0;
        }
    }
    windows.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "{} {} pods on {} nodes: {:.2} s, {:.0} pods/s average; per-second windows p50 {:.0}, p99 {:.0} pods/s",
        a.workload,
        bound,
        a.nodes,
        took.as_secs_f64(),
        bound as f64 / took.as_secs_f64(),
        percentile(&windows, 0.5),
        percentile(&windows, 0.99)
    );
    println!(
        "  scheduling attempt latency (histogram bucket bounds): p50 <= {} s, p99 <= {} s",
        quantile(&hist0, &hist1, 0.5),
        quantile(&hist0, &hist1, 0.99)
    );
    println!(
        "  scheduler: {:.1} CPU seconds, {:.1} MiB resident now, {:.1} MiB peak",
        cpu,
        mib(a.scheduler_pid, "VmRSS:"),
        mib(a.scheduler_pid, "VmHWM:")
    );
    // CPU per pod is steadier than pods/s on a shared machine: the figure to compare runs by.
    let per_pod = |secs: f64| 1000.0 * secs / bound.max(1) as f64;
    let mut line = format!("  CPU per measured pod: kube-scheduler {:.3} ms", per_pod(cpu));
    let mut total = cpu;
    for (((name, pid), c0), c1) in others.iter().zip(&others0).zip(&others1) {
        if pid.is_some() {
            line.push_str(&format!(", {name} {:.3} ms", per_pod(c1 - c0)));
            total += c1 - c0;
        }
    }
    println!("{line}; {:.3} ms in all", per_pod(total));
    // The scheduler records a Scheduled event per bound pod, asynchronously: a recorder that
    // falls behind and drops events would look cheaper than one that keeps up.
    // Events still being written when the last pod is bound are work the measured pods
    // caused: the figure that counts them is the one throughput can be held to.
    let all = seen.lock().expect("seen").bound.len();
    let at_end = events_written(&c, &base, &ns).await;
    let waited = Instant::now();
    let mut events = at_end;
    while events < all && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        events = events_written(&c, &base, &ns).await;
    }
    let tail = waited.elapsed().as_secs_f64();
    let mut total = cpu_seconds(a.scheduler_pid) - cpu0;
    let mut line = format!("kube-scheduler {:.3} ms", per_pod(total));
    for ((name, pid), c0) in others.iter().zip(&others0) {
        if let Some(pid) = pid {
            let used = cpu_seconds(*pid) - c0;
            line.push_str(&format!(", {name} {:.3} ms", per_pod(used)));
            total += used;
        }
    }
    println!(
        "  Events (the basic workload's are all Scheduled): {at_end} for {all} bound pods when the last was bound, \
         {events} after {tail:.1} s more"
    );
    println!("  CPU per measured pod, its event written: {line}; {:.3} ms in all", per_pod(total));
}
