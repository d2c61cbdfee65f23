//! kube-controller-manager: upstream's control loops as one process. Every controller reads
//! through the shared informers of `component-base` and writes through the apiserver with its
//! own client; with `--leader-elect` only the holder of the `kube-controller-manager` Lease
//! runs them.

pub mod claim;
pub mod context;
pub mod controllers;
pub mod discovery;
pub mod history;
pub mod options;
pub mod util;

use component_base::serving::{Delegated, Endpoints};
use component_base::InformerFactory;
use context::Ctx;
use options::Options;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    /// A sync that failed for a reason of its own (requeued with back-off).
    #[error("{0}")]
    Sync(String),
    #[error(transparent)]
    Base(#[from] component_base::Error),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// The secure port's default.
pub const DEFAULT_PORT: u16 = 10257;

/// Runs the controller-manager until SIGTERM (exit 0) or lost leadership (an error).
pub async fn run(opts: Options) -> Result<(), Error> {
    component_base::init_logging(opts.daemon.log.verbosity);
    tracing::info!(version = "v1.33.0", "Starting");
    controllers::validate_selection(&opts.controllers)?;
    let opts = Arc::new(opts);
    let root_config = component_base::client::config(&opts.daemon.client).await?;
    let ua = component_base::client::user_agent("kube-controller-manager", Some("shared-informers"));
    let informer_client =
        component_base::client::build(root_config.clone(), &ua, opts.kube_api_qps(), opts.kube_api_burst())?;
    let leader_ua = component_base::client::user_agent("kube-controller-manager", Some("leader-election"));
    let leader_client = component_base::client::build(root_config.clone(), &leader_ua, 0.0, 0)?;

    let endpoints = Endpoints::new();
    endpoints.set_configz("componentconfig", configz(&opts));
    let auth = Delegated::from_flags(&opts.daemon.auth, &ua, false).await?;
    component_base::serving::serve(
        &opts.daemon.serving,
        DEFAULT_PORT,
        "kube-controller-manager",
        auth,
        endpoints.clone(),
    )
    .await?;

    let informers = InformerFactory::new(informer_client.clone());
    let ctx = Ctx::new(opts.clone(), root_config, informer_client.clone(), informers);

    if opts.daemon.leader.leader_elect {
        let name =
            opts.daemon.leader.leader_elect_resource_name.clone().unwrap_or_else(|| "kube-controller-manager".into());
        if opts.daemon.leader.leader_elect_resource_lock != "leases" {
            return Err(Error::Config(format!(
                "leader-elect-resource-lock: Unsupported value: {:?}: supported values: \"leases\"",
                opts.daemon.leader.leader_elect_resource_lock
            )));
        }
        let mut cfg = component_base::leader::LeaderElectionConfig::new(
            &opts.daemon.leader.leader_elect_resource_namespace,
            &name,
            &component_base::leader::default_identity(),
        );
        cfg.lease_duration = opts.daemon.leader.leader_elect_lease_duration;
        cfg.renew_deadline = opts.daemon.leader.leader_elect_renew_deadline;
        cfg.retry_period = opts.daemon.leader.leader_elect_retry_period;
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let h = healthy.clone();
        endpoints.add_check(
            "leaderElection",
            Arc::new(move || {
                if h.load(std::sync::atomic::Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err("the leader lease was not renewed in time".into())
                }
            }),
        );
        let lead = {
            let (ctx, endpoints, client) = (ctx.clone(), endpoints.clone(), informer_client.clone());
            async move {
                // As upstream, the apiserver gets its ten seconds once the lease is held (so a
                // controller-manager started beside its apiserver, as a static pod is, waits
                // for it in leader election instead of exiting).
                if let Err(e) = wait_for_apiserver(&client).await {
                    tracing::error!("Error building controller context: {e}");
                    std::process::exit(1);
                }
                if let Err(e) = controllers::start_all(&ctx, &endpoints).await {
                    tracing::error!("Error starting controllers: {e}");
                    std::process::exit(1);
                }
                futures::future::pending::<()>().await
            }
        };
        tokio::select! {
            _ = component_base::leader::run_leading(leader_client, cfg, lead) => {
                healthy.store(false, std::sync::atomic::Ordering::Relaxed);
                tracing::error!("leaderelection lost");
                Err(Error::Config("leaderelection lost".into()))
            }
            _ = component_base::shutdown_signal() => Ok(()),
        }
    } else {
        wait_for_apiserver(&informer_client).await?;
        controllers::start_all(&ctx, &endpoints).await?;
        component_base::shutdown_signal().await;
        Ok(())
    }
}

/// upstream's `WaitForAPIServer`: `/healthz` every second for up to ten seconds.
async fn wait_for_apiserver(client: &kube::Client) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let req = http::Request::get("/healthz").body(Vec::new()).map_err(|e| Error::Config(e.to_string()))?;
        let res = client.request_text(req).await;
        match res {
            Ok(body) if body == "ok" => return Ok(()),
            Ok(body) => tracing::warn!("APIServer isn't healthy yet: {body}. Waiting a little while."),
            Err(e) => tracing::warn!("APIServer isn't healthy yet: {e}. Waiting a little while."),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Config(
                "failed to wait for apiserver being healthy: timed out waiting for the condition".into(),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The `/configz` document: the effective settings, in KubeControllerManagerConfiguration's
/// shape for the parts this controller-manager has.
fn configz(o: &Options) -> serde_json::Value {
    use component_base::flags::format_go_duration as d;
    serde_json::json!({
        "Generic": {
            "Port": 0,
            "Address": "0.0.0.0",
            "MinResyncPeriod": d(o.min_resync_period),
            "ClientConnection": {
                "Kubeconfig": o.daemon.client.kubeconfig.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                "AcceptContentTypes": "",
                "ContentType": o.daemon.client.kube_api_content_type,
                "QPS": o.kube_api_qps(),
                "Burst": o.kube_api_burst(),
            },
            "ControllerStartInterval": d(o.controller_start_interval),
            "LeaderElection": {
                "LeaderElect": o.daemon.leader.leader_elect,
                "LeaseDuration": d(o.daemon.leader.leader_elect_lease_duration),
                "RenewDeadline": d(o.daemon.leader.leader_elect_renew_deadline),
                "RetryPeriod": d(o.daemon.leader.leader_elect_retry_period),
                "ResourceLock": o.daemon.leader.leader_elect_resource_lock,
                "ResourceName": o.daemon.leader.leader_elect_resource_name.clone().unwrap_or_else(|| "kube-controller-manager".into()),
                "ResourceNamespace": o.daemon.leader.leader_elect_resource_namespace,
            },
            "Controllers": o.controllers,
        },
        "KubeCloudShared": {
            "ClusterName": o.cluster_name,
            "ClusterCIDR": o.cluster_cidr.clone().unwrap_or_default(),
            "AllocateNodeCIDRs": o.allocate_node_cidrs,
            "NodeMonitorPeriod": d(o.node_monitor_period),
            "UseServiceAccountCredentials": o.use_service_account_credentials,
        },
        "DeploymentController": { "ConcurrentDeploymentSyncs": o.concurrent_deployment_syncs },
        "ReplicaSetController": { "ConcurrentRSSyncs": o.concurrent_replicaset_syncs },
        "NodeLifecycleController": {
            "NodeMonitorGracePeriod": d(o.node_monitor_grace_period),
            "NodeStartupGracePeriod": d(o.node_startup_grace_period),
        },
        "PodGCController": { "TerminatedPodGCThreshold": o.terminated_pod_gc_threshold },
        "PersistentVolumeBinderController": {
            "PVClaimBinderSyncPeriod": d(o.pvclaimbinder_sync_period),
            "VolumeConfiguration": { "EnableDynamicProvisioning": o.enable_dynamic_provisioning },
        },
        "EndpointSliceMirroringController": {
            "MirroringConcurrentServiceEndpointSyncs": o.mirroring_concurrent_service_endpoint_syncs,
            "MirroringMaxEndpointsPerSubset": o.mirroring_max_endpoints_per_subset,
            "MirroringEndpointUpdatesBatchPeriod": d(o.mirroring_endpointslice_updates_batch_period),
        },
        "LegacySATokenCleaner": { "CleanUpPeriod": d(o.legacy_service_account_token_clean_up_period) },
        "CSRSigningController": { "ClusterSigningDuration": d(o.cluster_signing_duration) },
        "SAController": {
            "ServiceAccountKeyFile": o.service_account_private_key_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "RootCAFile": o.root_ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        },
    })
}
