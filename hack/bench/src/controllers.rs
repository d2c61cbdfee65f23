//! controller-bench: kube-controller-manager under load. Makes `--nodes` fake nodes, runs a
//! fake kubelet (binds each new pod to a node and reports it Running and Ready; finishes the
//! graceful deletion of deleted pods), creates `--deployments` Deployments of `--replicas`
//! each, and reports how long until every pod exists and every Deployment is available, the
//! controller-manager's CPU seconds, idle and peak memory and API requests per object; then
//! how long a pod's readiness change takes to reach its Service's EndpointSlice (the
//! endpointslice controller's latency, in that loaded cluster); then deletes the namespace and
//! reports how long until it is gone.

mod common;

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Parser, Debug, Clone)]
struct Args {
    #[command(flatten)]
    api: common::Target,
    /// The controller-manager's PID (CPU time and memory).
    #[arg(long)]
    kcm_pid: u32,
    /// The controller-manager's secure port (its /metrics).
    #[arg(long)]
    kcm_port: u16,
    /// The apiserver's PID, for its share of the CPU while the pods are made.
    #[arg(long)]
    apiserver_pid: Option<u32>,
    /// etcd's PID, likewise.
    #[arg(long)]
    etcd_pid: Option<u32>,
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    #[arg(long, default_value_t = 1000)]
    deployments: usize,
    #[arg(long, default_value_t = 10)]
    replicas: usize,
    #[arg(long, default_value = "bench")]
    namespace: String,
    /// Writes the fake kubelet keeps in flight.
    #[arg(long, default_value_t = 64)]
    kubelet_concurrency: usize,
    /// Whether the fake kubelet binds pods to the fake nodes (as a scheduler would) before
    /// reporting them ready; without it pods only get their Ready status.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    bind: bool,
    /// Readiness flips timed through to the EndpointSlice.
    #[arg(long, default_value_t = 40)]
    endpoint_flips: usize,
    /// Whether the fake kubelet runs at all; without it pods are only counted (a measure of
    /// the controller-manager, apiserver and etcd alone), and no Deployment becomes available.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    kubelet: bool,
    /// Whether to time the namespace deletion at the end.
    #[arg(long, default_value = "true", action = clap::ArgAction::Set)]
    delete: bool,
}

fn client(a: &Args) -> reqwest::Client {
    // The controller-manager's serving certificate is self-signed.
    common::tls_client(&a.api.ca, &a.api.cert, &a.api.key)
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(128)
        .build()
        .expect("client")
}

fn cpu_seconds(pid: u32) -> f64 {
    common::cpu_time(Some(pid)).map_or(0.0, |d| d.as_secs_f64())
}

/// CPU seconds so far of each process on the machine's two cores that the pods cost:
/// apiserver, etcd, controller-manager and this tool (the fake kubelet).
fn cpu_split(a: &Args) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    if let Some(pid) = a.apiserver_pid {
        out.push(("kube-apiserver", cpu_seconds(pid)));
    }
    if let Some(pid) = a.etcd_pid {
        out.push(("etcd", cpu_seconds(pid)));
    }
    out.push(("controller-manager", cpu_seconds(a.kcm_pid)));
    out.push(("fake kubelet and bench", cpu_seconds(std::process::id())));
    out
}

fn mem_kib(pid: u32, field: &str) -> u64 {
    common::mem_kib(Some(pid), field).unwrap_or(0)
}

async fn kcm_requests(c: &reqwest::Client, port: u16) -> u64 {
    let Ok(r) = c.get(format!("https://127.0.0.1:{port}/metrics")).send().await else { return 0 };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("rest_client_requests_total"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

async fn send(c: &reqwest::Client, method: reqwest::Method, url: String, ct: &str, body: Value) -> u16 {
    for _ in 0..5 {
        match c.request(method.clone(), &url).header("Content-Type", ct).body(body.to_string()).send().await {
            Ok(r) => return r.status().as_u16(),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    0
}

/// Now as RFC 3339 with microseconds (a Lease's renewTime is a MicroTime).
fn chrono_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Creates each fake node's Lease and renews it every 10 s.
async fn renew_leases(c: reqwest::Client, base: String, nodes: usize) {
    let leases = format!("{base}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases");
    loop {
        let now = chrono_now();
        for i in 0..nodes {
            let name = format!("node-{i}");
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}});
            let code =
                send(&c, reqwest::Method::PUT, format!("{leases}/{name}"), "application/json", lease.clone()).await;
            if code == 404 {
                send(&c, reqwest::Method::POST, leases.clone(), "application/json", lease).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// The part of a pod watch event the fake kubelet reads: decoding only these keeps the tool's
/// own CPU (it shares the machine with what it measures) small.
#[derive(serde::Deserialize)]
struct PodEvent {
    #[serde(rename = "type")]
    kind: String,
    object: PodView,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PodView {
    metadata: MetaView,
    spec: SpecView,
    status: StatusView,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct MetaView {
    name: Option<String>,
    resource_version: Option<String>,
    deletion_timestamp: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SpecView {
    node_name: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct StatusView {
    phase: Option<String>,
}

/// Binds and readies new pods, finishes deletions: what kubelets (and a scheduler) would do.
async fn fake_kubelet(c: reqwest::Client, base: String, a: Arc<Args>, created: Arc<AtomicUsize>) {
    let (ns, nodes, bind, act) = (a.namespace.clone(), a.nodes, a.bind, a.kubelet);
    let sem = Arc::new(Semaphore::new(a.kubelet_concurrency));
    let next = Arc::new(AtomicUsize::new(0));
    let mut rv = String::new();
    loop {
        let url =
            format!("{base}/api/v1/namespaces/{ns}/pods?watch=true&allowWatchBookmarks=true&resourceVersion={rv}");
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
                let Ok(ev) = serde_json::from_slice::<PodEvent>(&line) else { continue };
                let obj = ev.object;
                if let Some(v) = obj.metadata.resource_version {
                    rv = v;
                }
                let name = obj.metadata.name.unwrap_or_default();
                if ev.kind == "ADDED" {
                    created.fetch_add(1, Ordering::Relaxed);
                }
                if !act || ev.kind == "DELETED" || ev.kind == "BOOKMARK" || name.is_empty() {
                    continue;
                }
                let deleting = obj.metadata.deletion_timestamp.is_some();
                let unbound = bind && obj.spec.node_name.is_none();
                let running = obj.status.phase.as_deref() == Some("Running");
                if !deleting && !unbound && running {
                    continue;
                }
                let (c, base, ns, sem, next) = (c.clone(), base.clone(), ns.clone(), sem.clone(), next.clone());
                tokio::spawn(async move {
                    let _permit = sem.acquire().await;
                    let pod_url = format!("{base}/api/v1/namespaces/{ns}/pods/{name}");
                    if deleting {
                        let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0});
                        send(&c, reqwest::Method::DELETE, pod_url, "application/json", body).await;
                        return;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if unbound {
                        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                            "target": {"apiVersion": "v1", "kind": "Node", "name": format!("node-{}", n % nodes)}});
                        send(&c, reqwest::Method::POST, format!("{pod_url}/binding"), "application/json", binding)
                            .await;
                    }
                    if !running {
                        let ip = format!("10.{}.{}.{}", 64 + n / 65536 % 64, n / 256 % 256, n % 256);
                        let now = "2026-01-01T00:00:00Z";
                        let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                        send(
                            &c,
                            reqwest::Method::PATCH,
                            format!("{pod_url}/status"),
                            "application/merge-patch+json",
                            status,
                        )
                        .await;
                    }
                });
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let c = client(&a);
    let base = a.api.server.trim_end_matches('/').to_string();
    let ns = a.namespace.clone();
    let total_pods = a.deployments * a.replicas;

    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = mem_kib(a.kcm_pid, "VmRSS:");
    println!("controller-manager idle: {:.1} MiB resident", idle as f64 / 1024.0);

    for i in 0..a.nodes {
        let now = chrono_now();
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node-{i}")},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
        send(&c, reqwest::Method::POST, format!("{base}/api/v1/nodes"), "application/json", node).await;
    }
    // The nodes' heartbeats, as kubelets keep them: without them the node lifecycle
    // controller marks the nodes Unknown and their pods not ready after 50 s.
    tokio::spawn(renew_leases(c.clone(), base.clone(), a.nodes));
    let nsobj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    send(&c, reqwest::Method::POST, format!("{base}/api/v1/namespaces"), "application/json", nsobj).await;
    // ServiceAccount admission needs the namespace's default service account.
    for _ in 0..200 {
        let r = c.get(format!("{base}/api/v1/namespaces/{ns}/serviceaccounts/default")).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let created = Arc::new(AtomicUsize::new(0));
    tokio::spawn(fake_kubelet(c.clone(), base.clone(), Arc::new(a.clone()), created.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cpu0 = cpu_seconds(a.kcm_pid);
    let split0 = cpu_split(&a);
    let req0 = kcm_requests(&c, a.kcm_port).await;
    let start = Instant::now();
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..a.deployments {
        let (c, base, ns, sem) = (c.clone(), base.clone(), ns.clone(), sem.clone());
        let replicas = a.replicas;
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d{i}")},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": format!("d{i}")}},
                    "template": {"metadata": {"labels": {"app": format!("d{i}")}},
                        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}});
            send(
                &c,
                reqwest::Method::POST,
                format!("{base}/apis/apps/v1/namespaces/{ns}/deployments"),
                "application/json",
                d,
            )
            .await
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let created_in = start.elapsed();
    println!("{} deployments created in {:.2} s", a.deployments, created_in.as_secs_f64());

    let mut pods_at = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if pods_at.is_none() && created.load(Ordering::Relaxed) >= total_pods {
            pods_at = Some(start.elapsed());
            println!("all {total_pods} pods exist after {:.2} s", start.elapsed().as_secs_f64());
            let split: Vec<String> = cpu_split(&a)
                .iter()
                .zip(&split0)
                .map(|((who, now), (_, then))| format!("{who} {:.1}", now - then))
                .collect();
            println!("  CPU seconds until then: {}", split.join(", "));
        }
        let list: Value =
            match c.get(format!("{base}/apis/apps/v1/namespaces/{ns}/deployments?resourceVersion=0")).send().await {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
        let available = list["items"]
            .as_array()
            .map(|items| {
                items.iter().filter(|d| d["status"]["availableReplicas"].as_u64() == Some(a.replicas as u64)).count()
            })
            .unwrap_or(0);
        if pods_at.is_some() && !a.kubelet {
            break;
        }
        if available == a.deployments && pods_at.is_some() {
            println!("all {} deployments available after {:.2} s", a.deployments, start.elapsed().as_secs_f64());
            break;
        }
        if Instant::now() > deadline {
            println!(
                "gave up: {available}/{} deployments available, {} pods seen",
                a.deployments,
                created.load(Ordering::Relaxed)
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu = cpu_seconds(a.kcm_pid) - cpu0;
    let reqs = kcm_requests(&c, a.kcm_port).await.saturating_sub(req0);
    let objects = a.deployments * 2 + total_pods;
    println!(
        "controller-manager: {cpu:.1} CPU seconds, peak {:.1} MiB resident, now {:.1} MiB",
        mem_kib(a.kcm_pid, "VmHWM:") as f64 / 1024.0,
        mem_kib(a.kcm_pid, "VmRSS:") as f64 / 1024.0
    );
    println!(
        "controller-manager API requests: {reqs} ({:.2} per object over {objects} deployments, replica sets and pods)",
        reqs as f64 / objects as f64
    );

    if a.endpoint_flips > 0 {
        endpoint_latency(&c, &base, &ns, a.endpoint_flips).await;
    }

    if !a.delete {
        return;
    }
    // Namespace deletion with everything in it.
    let cpu0 = cpu_seconds(a.kcm_pid);
    let req0 = kcm_requests(&c, a.kcm_port).await;
    let start = Instant::now();
    let _ = c.delete(format!("{base}/api/v1/namespaces/{ns}")).send().await;
    loop {
        let r = c.get(format!("{base}/api/v1/namespaces/{ns}")).send().await;
        if r.is_ok_and(|r| r.status().as_u16() == 404) {
            break;
        }
        if start.elapsed() > Duration::from_secs(600) {
            println!("namespace deletion gave up");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "namespace with {objects} objects deleted in {:.2} s; controller-manager {:.1} CPU seconds, {} API requests, peak {:.1} MiB",
        start.elapsed().as_secs_f64(),
        cpu_seconds(a.kcm_pid) - cpu0,
        kcm_requests(&c, a.kcm_port).await.saturating_sub(req0),
        mem_kib(a.kcm_pid, "VmHWM:") as f64 / 1024.0
    );
}

/// The ready state of each endpoint of a slice, by target pod name.
fn slice_readiness(slice: &Value) -> Vec<(String, bool)> {
    slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["targetRef"]["name"].as_str().unwrap_or("").to_string(),
                e["conditions"]["ready"].as_bool() == Some(true),
            )
        })
        .collect()
}

/// Waits (up to 30 s) for a slice change that shows `pod` with the given readiness.
async fn wait_for_endpoint(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<(String, bool)>>,
    pod: String,
    ready: bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(eps)) if eps.iter().any(|(n, r)| *n == pod && *r == ready) => return true,
            Ok(Some(_)) => {}
            _ => return false,
        }
    }
}

/// Flips the Ready condition of the pods of Deployment d0 one at a time and times how long
/// each change takes to show in the EndpointSlice of a Service selecting them, seen through a
/// watch: p50, p90 and the slowest.
async fn endpoint_latency(c: &reqwest::Client, base: &str, ns: &str, flips: usize) {
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "latency"},
        "spec": {"selector": {"app": "d0"}, "ports": [{"port": 80}]}});
    send(c, reqwest::Method::POST, format!("{base}/api/v1/namespaces/{ns}/services"), "application/json", svc).await;
    let pods: Value = match c.get(format!("{base}/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dd0")).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let names: Vec<String> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect();
    if names.is_empty() {
        println!("endpoint latency: no pods of d0");
        return;
    }
    // Every slice change, as the watch delivers it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<(String, bool)>>();
    let url = format!(
        "{base}/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?watch=true&labelSelector=kubernetes.io%2Fservice-name%3Dlatency"
    );
    let wc = c.clone();
    tokio::spawn(async move {
        let Ok(resp) = wc.get(&url).send().await else { return };
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Ok(ev) = serde_json::from_slice::<Value>(&line) {
                    if tx.send(slice_readiness(&ev["object"])).is_err() {
                        return;
                    }
                }
            }
        }
    });
    // The slice with every pod ready first.
    let first = names[0].clone();
    if !wait_for_endpoint(&mut rx, first, true).await {
        println!("endpoint latency: the Service's EndpointSlice never showed its pods");
        return;
    }
    let mut times = Vec::new();
    for i in 0..flips {
        let pod = names[i % names.len()].clone();
        let ready = (i / names.len()) % 2 == 1;
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        let t0 = Instant::now();
        send(
            c,
            reqwest::Method::PATCH,
            format!("{base}/api/v1/namespaces/{ns}/pods/{pod}/status"),
            "application/merge-patch+json",
            status,
        )
        .await;
        if !wait_for_endpoint(&mut rx, pod.clone(), ready).await {
            println!("endpoint latency: {pod} never became ready={ready} in its slice");
            return;
        }
        times.push(t0.elapsed());
    }
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "pod readiness to EndpointSlice over {} flips: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        times.len(),
        pct(50),
        pct(90),
        pct(100)
    );
}
