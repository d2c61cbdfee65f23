//! kube-controller-manager's command line, with upstream v1.33's names and defaults.

use clap::{ArgAction, Parser};
use component_base::flags::{parse_go_bool, parse_go_duration, DaemonFlags};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "kube-controller-manager",
    about = "The Kubernetes controller manager is a daemon that embeds the core control loops shipped with Kubernetes."
)]
pub struct Options {
    #[command(flatten)]
    pub daemon: DaemonFlags,

    /// A list of controllers to enable. '*' enables all on-by-default controllers, 'foo'
    /// enables the controller named 'foo', '-foo' disables the controller named 'foo'.
    #[arg(long, default_value = "*", value_delimiter = ',', allow_hyphen_values = true)]
    pub controllers: Vec<String>,
    /// If true, use individual service account credentials for each controller.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub use_service_account_credentials: bool,
    /// If set, this root certificate authority will be included in service account's token
    /// secret. This must be a valid PEM-encoded CA bundle.
    #[arg(long)]
    pub root_ca_file: Option<PathBuf>,
    /// Filename containing a PEM-encoded private RSA or ECDSA key used to sign service account
    /// tokens.
    #[arg(long)]
    pub service_account_private_key_file: Option<PathBuf>,
    /// Filename containing a PEM-encoded X509 CA certificate used to issue cluster-scoped
    /// certificates.
    #[arg(long)]
    pub cluster_signing_cert_file: Option<PathBuf>,
    /// Filename containing a PEM-encoded RSA or ECDSA private key used to sign cluster-scoped
    /// certificates.
    #[arg(long)]
    pub cluster_signing_key_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kubelet_serving_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kubelet_serving_key_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kubelet_client_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kubelet_client_key_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kube_apiserver_client_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_kube_apiserver_client_key_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_legacy_unknown_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub cluster_signing_legacy_unknown_key_file: Option<PathBuf>,
    /// The max length of duration signed certificates will be given.
    #[arg(long, default_value = "8760h0m0s", value_parser = parse_go_duration)]
    pub cluster_signing_duration: Duration,
    /// The instance prefix for the cluster.
    #[arg(long, default_value = "kubernetes")]
    pub cluster_name: String,
    /// CIDR Range for Pods in cluster. Requires --allocate-node-cidrs to be true.
    #[arg(long)]
    pub cluster_cidr: Option<String>,
    /// CIDR Range for Services in cluster.
    #[arg(long)]
    pub service_cluster_ip_range: Option<String>,
    /// Should CIDRs for Pods be allocated and set on the cloud provider.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub allocate_node_cidrs: bool,
    /// Mask size for node cidr in cluster. Default is 24 for IPv4 and 64 for IPv6.
    #[arg(long)]
    pub node_cidr_mask_size: Option<u8>,
    #[arg(long)]
    pub node_cidr_mask_size_ipv4: Option<u8>,
    #[arg(long)]
    pub node_cidr_mask_size_ipv6: Option<u8>,
    /// The period for syncing NodeStatus in cloud-node-lifecycle-controller.
    #[arg(long, default_value = "5s", value_parser = parse_go_duration)]
    pub node_monitor_period: Duration,
    /// Amount of time which we allow running Node to be unresponsive before marking it
    /// unhealthy.
    #[arg(long, default_value = "50s", value_parser = parse_go_duration)]
    pub node_monitor_grace_period: Duration,
    /// Amount of time which we allow starting Node to be unresponsive before marking it
    /// unhealthy.
    #[arg(long, default_value = "1m0s", value_parser = parse_go_duration)]
    pub node_startup_grace_period: Duration,
    /// Number of nodes per second on which pods are deleted in case of node failure when a zone
    /// is healthy.
    #[arg(long, default_value_t = 0.1)]
    pub node_eviction_rate: f32,
    #[arg(long, default_value_t = 0.01)]
    pub secondary_node_eviction_rate: f32,
    #[arg(long, default_value_t = 50)]
    pub large_cluster_size_threshold: u32,
    #[arg(long, default_value_t = 0.55)]
    pub unhealthy_zone_threshold: f32,
    /// Number of terminated pods that can exist before the terminated pod garbage collector
    /// starts deleting terminated pods.
    #[arg(long, default_value_t = 12500)]
    pub terminated_pod_gc_threshold: i32,
    /// The resync period in reflectors will be random between MinResyncPeriod and
    /// 2*MinResyncPeriod.
    #[arg(long, default_value = "12h0m0s", value_parser = parse_go_duration)]
    pub min_resync_period: Duration,
    /// Interval between starting controller managers.
    #[arg(long, default_value = "0s", value_parser = parse_go_duration)]
    pub controller_start_interval: Duration,
    /// A set of key=value pairs that describe feature gates for alpha/experimental features.
    #[arg(long, value_delimiter = ',')]
    pub feature_gates: Vec<String>,
    /// Enable profiling via web interface host:port/debug/pprof/ (accepted; no profiler).
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub profiling: bool,

    #[arg(long, default_value_t = 5)]
    pub concurrent_deployment_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_replicaset_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_rc_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_endpoint_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_service_endpoint_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub mirroring_concurrent_service_endpoint_syncs: usize,
    /// The maximum number of endpoints that will be added to an EndpointSlice by the
    /// EndpointSliceMirroring controller.
    #[arg(long, default_value_t = 1000)]
    pub mirroring_max_endpoints_per_subset: i32,
    /// The length of EndpointSlice updates batching period for EndpointSliceMirroring
    /// controller.
    #[arg(long, default_value = "0s", value_parser = parse_go_duration)]
    pub mirroring_endpointslice_updates_batch_period: Duration,
    /// The period of time since the last usage of an legacy service account token before it
    /// can be deleted.
    #[arg(long, default_value = "8760h0m0s", value_parser = parse_go_duration)]
    pub legacy_service_account_token_clean_up_period: Duration,
    #[arg(long, default_value_t = 5)]
    pub concurrent_statefulset_syncs: usize,
    #[arg(long, default_value_t = 2)]
    pub concurrent_daemonset_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_job_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_cron_job_syncs: usize,
    #[arg(long, default_value_t = 10)]
    pub concurrent_namespace_syncs: usize,
    #[arg(long, default_value_t = 20)]
    pub concurrent_gc_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_serviceaccount_token_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_resource_quota_syncs: usize,
    /// The period for syncing quota usage status in the system.
    #[arg(long, default_value = "5m0s", value_parser = parse_go_duration)]
    pub resource_quota_sync_period: Duration,
    /// The period for syncing persistent volumes and persistent volume claims.
    #[arg(long, default_value = "15s", value_parser = parse_go_duration)]
    pub pvclaimbinder_sync_period: Duration,
    /// Enable dynamic provisioning for environments that support it.
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub enable_dynamic_provisioning: bool,
    #[arg(long, default_value_t = 5)]
    pub concurrent_ttl_after_finished_syncs: usize,
    #[arg(long, default_value_t = 1)]
    pub concurrent_service_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_horizontal_pod_autoscaler_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_ephemeralvolume_syncs: usize,
    #[arg(long, default_value_t = 1)]
    pub concurrent_validating_admission_policy_status_syncs: usize,
}

impl Options {
    pub fn kube_api_qps(&self) -> f32 {
        self.daemon.client.kube_api_qps.unwrap_or(20.0)
    }

    pub fn kube_api_burst(&self) -> u32 {
        self.daemon.client.kube_api_burst.unwrap_or(30)
    }
}
