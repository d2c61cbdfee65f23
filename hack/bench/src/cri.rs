//! cri-bench: the container runtime's own floor for a burst of pod starts. It sends the runtime
//! what the kubelet sends for kubelet-bench's pods (the kubelet's own sandbox and container
//! configs), all at once, with no apiserver, scheduler or kubelet in the way: RunPodSandbox,
//! CreateContainer and StartContainer per pod. A kubelet's burst latency cannot go below this
//! on the same machine, so the two figures side by side show what the kubelet adds.
//!
//! Run it against a node whose kubelet is stopped (a running kubelet would kill pods it does
//! not know). Every sandbox it made is stopped and removed before it exits.

use clap::Parser;
use k8s_openapi::api::core::v1::Pod;
use kubelet::cri::{api, Cri};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Pod start latency through CRI alone (the runtime's floor)")]
struct Args {
    /// The node's KubeletConfiguration (podLogsDir, cgroupRoot), as the kubelet read it.
    #[arg(long)]
    config: Option<String>,
    #[arg(long)]
    container_runtime_endpoint: String,
    #[arg(long, default_value = "")]
    cgroup_root: String,
    /// Pods started at once.
    #[arg(long, default_value_t = 30)]
    burst: usize,
    #[arg(long, default_value = "docker.io/library/busybox:1.36")]
    image: String,
}

fn pod(name: &str, image: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default", "uid": uuid::Uuid::new_v4().to_string()},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]
        }
    }))
    .expect("pod")
}

/// Starts one pod as the kubelet would; the sandbox id and the time it took.
async fn start(cri: &Cri, cfg: &kubelet::config::Config, p: &Pod) -> Result<(String, Duration), tonic::Status> {
    let t0 = Instant::now();
    std::fs::create_dir_all(kubelet::pod::log_dir(cfg, p)).map_err(|e| tonic::Status::internal(e.to_string()))?;
    let sandbox_cfg = kubelet::pod::sandbox_config(cfg, p, 0, "");
    let mut rt = cri.runtime.clone();
    let id = rt
        .run_pod_sandbox(
            cri.req(api::RunPodSandboxRequest { config: Some(sandbox_cfg.clone()), runtime_handler: String::new() }),
        )
        .await?
        .into_inner()
        .pod_sandbox_id;
    let c = &p.spec.as_ref().expect("spec").containers[0];
    let created = rt
        .create_container(cri.req(api::CreateContainerRequest {
            pod_sandbox_id: id.clone(),
            config: Some(kubelet::pod::container_config(p, c, 0, &[], Vec::new())),
            sandbox_config: Some(sandbox_cfg),
        }))
        .await?
        .into_inner()
        .container_id;
    rt.start_container(cri.req(api::StartContainerRequest { container_id: created })).await?;
    Ok((id, t0.elapsed()))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut argv = vec![
        "kubelet".to_string(),
        format!("--container-runtime-endpoint={}", a.container_runtime_endpoint),
        format!("--cgroup-root={}", a.cgroup_root),
    ];
    argv.extend(a.config.iter().map(|c| format!("--config={c}")));
    let cfg = kubelet::config::Config::load(&kubelet::config::Options::parse_from(argv)).expect("kubelet config");
    let cri = Cri::new(&cfg.runtime_endpoint, &cfg.image_endpoint, Duration::from_secs(240)).expect("CRI client");
    if cri.image(&a.image).await.expect("image status").is_none() {
        cri.pull_image(&a.image, None).await.expect("pull");
    }
    let pods: Vec<Pod> = (0..a.burst).map(|i| pod(&format!("floor-{i}"), &a.image)).collect();
    let started = Instant::now();
    let results = futures::future::join_all(pods.iter().map(|p| start(&cri, &cfg, p))).await;
    let all = started.elapsed();
    let mut lat = Vec::new();
    let mut ids = Vec::new();
    let mut failed = None;
    for r in results {
        match r {
            Ok((id, d)) => {
                ids.push(id);
                lat.push(d);
            }
            Err(e) => failed = Some(e),
        }
    }
    lat.sort();
    if !lat.is_empty() {
        let pct = |p: f64| lat[(((p / 100.0) * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
        println!(
            "runtime floor, {} pods through CRI alone at once: p50 {}, p99 {}; all running after {}",
            lat.len(),
            ms(pct(50.0)),
            ms(pct(99.0)),
            ms(all)
        );
    }
    // Every sandbox started here goes, with its containers.
    let mut rt = cri.runtime.clone();
    for id in &ids {
        let _ = rt.stop_pod_sandbox(cri.req(api::StopPodSandboxRequest { pod_sandbox_id: id.clone() })).await;
        let _ = rt.remove_pod_sandbox(cri.req(api::RemovePodSandboxRequest { pod_sandbox_id: id.clone() })).await;
    }
    if let Some(e) = failed {
        eprintln!("cri-bench: a pod did not start: {}", e.message());
        std::process::exit(1);
    }
}
