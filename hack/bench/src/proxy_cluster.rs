//! proxy-cluster-bench: kube-proxy against a real apiserver at scale. Creates a Node, N
//! selector-less Services and an EndpointSlice of M endpoints for each, then starts kube-proxy
//! (its binary and kubeconfig given) and reports how long until the kernel has every Service,
//! kube-proxy's resident memory, and the network programming latency of endpoint changes
//! (slices updated with `endpoints.kubernetes.io/last-change-trigger-time`, read back from
//! `kubeproxy_network_programming_duration_seconds`). Run it inside a network namespace of its
//! own with the apiserver (`hack/bench-proxy.sh --cluster` does).

mod common;

use clap::Parser;
use futures::StreamExt;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    api: common::Target,
    #[arg(long, default_value_t = 10000)]
    services: usize,
    #[arg(long, default_value_t = 5)]
    endpoints: usize,
    /// iptables or nftables.
    #[arg(long, default_value = "nftables")]
    mode: String,
    /// The kube-proxy binary and the kubeconfig it runs with.
    #[arg(long)]
    proxy: String,
    #[arg(long)]
    kubeconfig: String,
    /// Endpoint changes to time.
    #[arg(long, default_value_t = 20)]
    changes: usize,
}

const NS: &str = "default";
const NODE: &str = "node-a";

fn slice(i: usize, endpoints: usize, shift: usize) -> Value {
    let eps: Vec<Value> = (0..endpoints)
        .map(|j| {
            let n = i * 8 + j + shift;
            json!({"addresses": [format!("10.244.{}.{}", (n >> 8) & 0xff, n & 0xff)],
                   "conditions": {"ready": true, "serving": true, "terminating": false},
                   "nodeName": if j == 0 { NODE } else { "node-b" }})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("svc{i}-abc"), "namespace": NS,
                        "labels": {"kubernetes.io/service-name": format!("svc{i}")},
                        "annotations": {"endpoints.kubernetes.io/last-change-trigger-time":
                                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)}},
           "addressType": "IPv4",
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": eps})
}

/// How many Services the kernel has: cluster IPs in the nftables set, or KUBE-SERVICES jumps.
fn programmed(mode: &str) -> usize {
    if mode == "nftables" {
        let out = Command::new("nft").args(["list", "set", "ip", "kube-proxy", "cluster-ips"]).output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        text.split(['{', ',', '}']).filter(|t| t.trim().starts_with("10.")).count()
    } else {
        let out = Command::new("iptables-save").args(["-t", "nat"]).output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        text.lines().filter(|l| l.starts_with("-A KUBE-SERVICES") && l.contains("-j KUBE-SVC-")).count()
    }
}

/// A metric's value from kube-proxy's /metrics.
async fn metric(http: &reqwest::Client, name: &str) -> Option<f64> {
    let text = http.get("http://127.0.0.1:10249/metrics").send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().split(' ').next_back()?.parse().ok())
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let client = common::tls_client(&a.api.ca, &a.api.cert, &a.api.key).build().expect("client");
    let base = a.api.server.trim_end_matches('/').to_string();
    let post = |path: String, body: Value| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            let r = client.post(&url).json(&body).send().await.expect("post");
            assert!(r.status().is_success() || r.status() == 409, "{url}: {}", r.text().await.unwrap_or_default());
        }
    };
    post(
        "/api/v1/nodes".into(),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
               "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}),
    )
    .await;
    let t = Instant::now();
    futures::stream::iter(0..a.services)
        .map(|i| {
            let svc = json!({"apiVersion": "v1", "kind": "Service",
                             "metadata": {"name": format!("svc{i}"), "namespace": NS},
                             "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                                      "type": if i % 10 == 0 { "NodePort" } else { "ClusterIP" }}});
            let s = slice(i, a.endpoints, 0);
            let post = &post;
            async move {
                post(format!("/api/v1/namespaces/{NS}/services"), svc).await;
                post(format!("/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"), s).await;
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    println!("created {} Services and EndpointSlices in {:.1} s", a.services, t.elapsed().as_secs_f64());

    let t0 = Instant::now();
    let child = Command::new(&a.proxy)
        .args(["--kubeconfig", &a.kubeconfig, "--hostname-override", NODE, "--cluster-cidr", "10.244.0.0/16"])
        .args(["--proxy-mode", &a.mode, "--conntrack-max-per-core", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kube-proxy starts");
    let pid = Some(child.id());
    // Stopped by PID however the bench ends, a failed assertion included.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Stop(child);
    let want = a.services + 1; // and the kubernetes Service
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        if programmed(&a.mode) >= want {
            break;
        }
        assert!(Instant::now() < deadline, "kube-proxy did not program {want} Services");
        assert!(child.0.try_wait().expect("wait").is_none(), "kube-proxy exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = t0.elapsed();
    let rss_first = common::mem_kib(pid, "VmRSS:");

    // Endpoint changes, one at a time, each timed by kube-proxy from the trigger time.
    let http = reqwest::Client::new();
    let name = "kubeproxy_network_programming_duration_seconds";
    let (sum0, count0) = (
        metric(&http, &format!("{name}_sum{{ip_family=\"IPv4\"}}")).await.unwrap_or(0.0),
        metric(&http, &format!("{name}_count{{ip_family=\"IPv4\"}}")).await.unwrap_or(0.0),
    );
    let count_metric = format!("{name}_count{{ip_family=\"IPv4\"}}");
    let mut count = count0;
    for r in 0..a.changes {
        let i = (r * 97) % a.services;
        let url = format!("{base}/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices/svc{i}-abc");
        let resp = client.put(&url).json(&slice(i, a.endpoints, 3 + r)).send().await.expect("put");
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap_or_default());
        // The next change once this one is programmed (or a minute has passed).
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let now = metric(&http, &count_metric).await.unwrap_or(0.0);
            if now > count {
                count = now;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut sum = sum0;
    while Instant::now() < deadline {
        sum = metric(&http, &format!("{name}_sum{{ip_family=\"IPv4\"}}")).await.unwrap_or(0.0);
        count = metric(&http, &count_metric).await.unwrap_or(0.0);
        if count >= count0 + a.changes as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n = (count - count0).max(1.0);
    println!(
        "kube-proxy {} mode, {} Services x {} endpoints: all programmed {:.1} s after start; RSS {} then, {} now ({} anonymous, {} file; peak {}); network programming mean {:.0} ms over {} endpoint changes",
        a.mode,
        a.services,
        a.endpoints,
        first.as_secs_f64(),
        common::mib(rss_first),
        common::mib(common::mem_kib(pid, "VmRSS:")),
        common::mib(common::mem_kib(pid, "RssAnon:")),
        common::mib(common::mem_kib(pid, "RssFile:")),
        common::mib(common::mem_kib(pid, "VmHWM:")),
        (sum - sum0) / n * 1000.0,
        count - count0
    );
    drop(child);
}
