//! kubelet: the node agent. It registers the node and keeps its status and Lease current,
//! and runs the pods bound to the node on the container runtime through CRI: one worker per
//! pod, driven by the apiserver's pods and a once-a-second relist of the runtime.

#![recursion_limit = "256"]

pub mod bootstrap;
pub mod config;
pub mod credentials;
pub mod cri;
pub mod env;
pub mod eviction;
pub mod gc;
pub mod healthz;
pub mod logs;
pub mod machine;
pub mod node;
pub mod objects;
pub mod pod;
pub mod probe_http;
pub mod prober;
pub mod quantity;
pub mod server;
pub mod static_pods;
pub mod stats;
pub mod status;
pub mod volumes;
pub mod worker;

use component_base::Informer;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::Api;
use kube::runtime::watcher;
use std::sync::Arc;

/// Errors that stop the kubelet from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Base(#[from] component_base::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the kubelet until SIGTERM or SIGINT.
pub async fn run(opts: config::Options) -> Result<(), Error> {
    component_base::init_logging(opts.verbosity);
    let cfg = Arc::new(config::Config::load(&opts)?);
    tracing::info!(version = node::KUBELET_VERSION, node = %cfg.node_name, "Starting kubelet");
    std::fs::create_dir_all(cfg.root_dir.join("pods"))?;
    std::fs::create_dir_all(&cfg.pod_logs_dir)?;
    let cri = cri::Cri::new(&cfg.runtime_endpoint, &cfg.image_endpoint, cfg.runtime_request_timeout)?;
    // Healthy before any API work: `kubeadm join` waits for healthz, then for the TLS bootstrap.
    let healthz = healthz::serve(&cfg).await?;
    bootstrap::ensure_client_config(&cfg).await?;
    let client = match &cfg.kubeconfig {
        Some(path) => {
            let flags = component_base::flags::ClientFlags {
                kubeconfig: Some(path.clone()),
                master: None,
                kube_api_qps: Some(50.0),
                kube_api_burst: Some(100),
                kube_api_content_type: "application/vnd.kubernetes.protobuf".into(),
            };
            let rest = component_base::client::config(&flags).await?;
            let ua = component_base::client::user_agent("kubelet", None);
            Some(component_base::client::build(rest, &ua, 50.0, 100)?)
        }
        None => {
            tracing::info!("No API server defined - no node status update will be sent");
            None
        }
    };
    let (node_tx, node_rx) = tokio::sync::watch::channel(node::NodeState::default());
    let recorder =
        client.as_ref().map(|c| component_base::events::recorder(c.clone(), "kubelet", Some(&cfg.node_name)));
    // Services, for the containers' Service environment variables.
    let services = client.as_ref().map(|c| {
        let inf: Informer<Service> = Informer::new("services", Api::all(c.clone()), watcher::Config::default());
        inf.start();
        inf
    });
    let eviction =
        Arc::new(eviction::Manager::new(&cfg).map_err(|e| Error::Config(format!("failed to run Kubelet: {e}")))?);
    let pods = worker::Pods::new(
        cfg.clone(),
        client.clone(),
        cri.clone(),
        recorder,
        node_rx.clone(),
        services,
        eviction.clone(),
    );
    let gc = gc::Gc::new(cfg.clone(), cri.clone());

    // Static pods: read once before anything else (their mirrors are not orphans), then
    // followed as their manifests change.
    if cfg.static_pod_path.is_some() || cfg.static_pod_url.is_some() {
        if let Some(path) = &cfg.static_pod_path {
            pods.set_static(static_pods::read_dir(path, &cfg.node_name));
        }
        let p = pods.clone();
        let (path, url, node, every) =
            (cfg.static_pod_path.clone(), cfg.static_pod_url.clone(), cfg.node_name.clone(), cfg.file_check_frequency);
        tokio::spawn(async move { static_pods::run(path, url, node, every, move |set| p.set_static(set)).await });
    }
    let api_server = server::serve(cfg.clone(), pods.clone(), cri.clone(), client.clone()).await?;
    let mut tasks = vec![
        healthz,
        api_server,
        tokio::spawn(pods.clone().pleg()),
        tokio::spawn(gc.clone().run(pods.clone())),
        tokio::spawn(eviction::run(eviction.clone(), pods.clone(), gc.clone())),
        tokio::spawn(logs::run(cri.clone(), cfg.clone())),
    ];
    if let Some(client) = &client {
        if cfg.register_node {
            let nl = node::NodeLoop {
                cfg: cfg.clone(),
                client: client.clone(),
                cri: cri.clone(),
                state: node_tx,
                eviction: eviction.clone(),
            };
            tasks.push(tokio::spawn(nl.run()));
            tasks.push(tokio::spawn(node::lease_loop(cfg.clone(), client.clone(), node_rx.clone())));
        }
        // The pods bound to this node.
        let api: Api<Pod> = Api::all(client.clone());
        let inf =
            Informer::new("pods", api, watcher::Config::default().fields(&format!("spec.nodeName={}", cfg.node_name)));
        let p = pods.clone();
        // Mirror pods are the API's view of static pods, not pods to run.
        inf.add_handler(move |change| match change {
            component_base::Change::Added(pod) | component_base::Change::Updated { new: pod, .. } => {
                if static_pods::mirror_of(pod).is_some() {
                    p.mirror_upsert(pod.clone());
                } else {
                    p.upsert(pod.clone());
                }
            }
            component_base::Change::Deleted(pod) => {
                if static_pods::mirror_of(pod).is_some() {
                    p.mirror_delete(pod);
                } else {
                    p.remove(pod::uid(pod));
                }
            }
        });
        inf.start();
        let p = pods.clone();
        let inf2 = inf.clone();
        tasks.push(tokio::spawn(async move {
            inf2.wait_synced().await;
            tracing::info!(pods = p.desired_count(), "pod source synced");
            p.set_sources_ready();
        }));
    } else {
        pods.set_sources_ready();
        // Standalone: the pod CIDR comes from --pod-cidr, and the runtime is told once.
        if let Some(cidr) = cfg.pod_cidr.clone() {
            let cri = cri.clone();
            tasks.push(tokio::spawn(async move {
                while let Err(e) = cri.update_pod_cidr(&cidr).await {
                    tracing::warn!("Failed to update pod CIDR: {}", e.message());
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }));
        }
    }
    component_base::shutdown_signal().await;
    for t in tasks {
        t.abort();
    }
    Ok(())
}
