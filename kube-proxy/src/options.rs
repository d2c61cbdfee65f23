//! kube-proxy's command line and its `--config` file (KubeProxyConfiguration
//! `kubeproxy.config.k8s.io/v1alpha1`), resolved into one [`ProxyConfig`] as upstream's
//! `Options.Complete`: a config file replaces everything built from flags, except
//! `--hostname-override`, `--master` and the logging flags.

use crate::Error;
use clap::{ArgAction, Parser};
use component_base::flags::{format_go_duration, parse_go_bool, parse_go_duration};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(name = "kube-proxy", version = "v1.33.0", about = "The Kubernetes network proxy runs on each node.")]
pub struct Options {
    /// The path to the configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// If set, write the default configuration values to this file and exit.
    #[arg(long)]
    pub write_config_to: Option<PathBuf>,
    /// If true cleanup iptables and ipvs rules and exit.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub cleanup: bool,
    /// If true, perform any initialization steps that must be done with full root privileges, and then exit.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub init_only: bool,
    /// Path to kubeconfig file with authorization information (the master location can be overridden by the master flag).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The address of the Kubernetes API server (overrides any value in kubeconfig)
    #[arg(long)]
    pub master: Option<String>,
    /// Content type of requests sent to apiserver.
    #[arg(long, default_value = "application/vnd.kubernetes.protobuf")]
    pub kube_api_content_type: String,
    /// Burst to use while talking with kubernetes apiserver
    #[arg(long, default_value_t = 10)]
    pub kube_api_burst: i32,
    /// QPS to use while talking with kubernetes apiserver
    #[arg(long, default_value_t = 5.0)]
    pub kube_api_qps: f32,
    /// If non-empty, will be used as the name of the Node that kube-proxy is running on.
    #[arg(long)]
    pub hostname_override: Option<String>,
    /// Overrides kube-proxy's idea of what its node's primary IP is.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// The IP address and port for the health check server to serve on.
    #[arg(long, default_value = "0.0.0.0:10256")]
    pub healthz_bind_address: String,
    /// The IP address and port for the metrics server to serve on.
    #[arg(long, default_value = "127.0.0.1:10249")]
    pub metrics_bind_address: String,
    /// If true kube-proxy will treat failure to bind to a port as fatal and exit
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub bind_address_hard_fail: bool,
    /// Which proxy mode to use: on Linux this can be 'iptables' (default), 'ipvs', or 'nftables'.
    #[arg(long, default_value = "")]
    pub proxy_mode: String,
    /// If using the iptables or ipvs proxy mode, the bit of the fwmark space to mark packets requiring SNAT with.
    #[arg(long, default_value_t = 14)]
    pub iptables_masquerade_bit: i32,
    /// SNAT all traffic sent via Service cluster IPs.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub masquerade_all: bool,
    /// If false, kube-proxy will disable the legacy behavior of allowing NodePort services to be accessed via localhost.
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub iptables_localhost_nodeports: bool,
    /// An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup operations are performed.
    #[arg(long, value_parser = parse_go_duration)]
    pub iptables_sync_period: Option<Duration>,
    /// The minimum period between iptables rule resyncs (e.g. '5s', '1m', '2h22m').
    #[arg(long, value_parser = parse_go_duration)]
    pub iptables_min_sync_period: Option<Duration>,
    /// Accepted for compatibility; the IPVS proxier cannot run on this kernel.
    #[arg(long, value_parser = parse_go_duration)]
    pub ipvs_sync_period: Option<Duration>,
    #[arg(long, value_parser = parse_go_duration, hide = true)]
    pub ipvs_min_sync_period: Option<Duration>,
    #[arg(long, hide = true)]
    pub ipvs_scheduler: Option<String>,
    /// Mode to use to detect local traffic: ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix.
    #[arg(long, default_value = "")]
    pub detect_local_mode: String,
    /// A bridge interface name (with --detect-local-mode=BridgeInterface).
    #[arg(long, default_value = "")]
    pub pod_bridge_interface: String,
    /// An interface name prefix (with --detect-local-mode=InterfaceNamePrefix).
    #[arg(long, default_value = "")]
    pub pod_interface_name_prefix: String,
    /// The CIDR range of the pods in the cluster (comma-separated, dual-stack allowed).
    #[arg(long)]
    pub cluster_cidr: Option<String>,
    /// A list of CIDR ranges that contain valid node IPs, or 'primary'.
    #[arg(long, value_delimiter = ',')]
    pub nodeport_addresses: Vec<String>,
    /// The oom-score-adj value for kube-proxy process. Values must be within the range [-1000, 1000]
    #[arg(long, default_value_t = -999, allow_negative_numbers = true)]
    pub oom_score_adj: i32,
    /// Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore conntrack-min).
    #[arg(long, default_value_t = 32768)]
    pub conntrack_max_per_core: i32,
    /// Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core.
    #[arg(long, default_value_t = 131072)]
    pub conntrack_min: i32,
    /// Idle timeout for established TCP connections (0 to leave as-is)
    #[arg(long, default_value = "24h0m0s", value_parser = parse_go_duration)]
    pub conntrack_tcp_timeout_established: Duration,
    /// NAT timeout for TCP connections in the CLOSE_WAIT state
    #[arg(long, default_value = "1h0m0s", value_parser = parse_go_duration)]
    pub conntrack_tcp_timeout_close_wait: Duration,
    /// Enable liberal mode for tracking TCP packets by setting nf_conntrack_tcp_be_liberal to 1
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub conntrack_tcp_be_liberal: bool,
    /// Idle timeout for UNREPLIED UDP connections (0 to leave as-is)
    #[arg(long, default_value = "0s", value_parser = parse_go_duration)]
    pub conntrack_udp_timeout: Duration,
    /// Idle timeout for ASSURED UDP connections (0 to leave as-is)
    #[arg(long, default_value = "0s", value_parser = parse_go_duration)]
    pub conntrack_udp_timeout_stream: Duration,
    /// How often configuration from the apiserver is refreshed. Must be greater than 0.
    #[arg(long, default_value = "15m0s", value_parser = parse_go_duration)]
    pub config_sync_period: Duration,
    /// DEPRECATED: The port to bind the health check server. Use 0 to disable.
    #[arg(long)]
    pub healthz_port: Option<u16>,
    /// DEPRECATED: The port to bind the metrics server. Use 0 to disable.
    #[arg(long)]
    pub metrics_port: Option<u16>,
    /// A set of key=value pairs that describe feature gates for alpha/experimental features.
    #[arg(long, default_value = "")]
    pub feature_gates: String,
    /// If true enables profiling via web interface on /debug/pprof handler.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub profiling: bool,
    #[command(flatten)]
    pub log: component_base::flags::LogFlags,
}

/// The resolved configuration; serialised with upstream's internal (Go) field names for
/// `/configz`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProxyConfig {
    pub linux: LinuxConfig,
    pub client_connection: ClientConnection,
    pub hostname_override: String,
    pub bind_address: String,
    pub healthz_bind_address: String,
    pub metrics_bind_address: String,
    pub bind_address_hard_fail: bool,
    pub enable_profiling: bool,
    pub mode: String,
    #[serde(rename = "IPTables")]
    pub iptables: IptablesSection,
    #[serde(rename = "NFTables")]
    pub nftables: NftablesSection,
    pub detect_local_mode: String,
    pub detect_local: DetectLocal,
    pub node_port_addresses: Option<Vec<String>>,
    #[serde(serialize_with = "go_duration")]
    pub sync_period: Duration,
    #[serde(serialize_with = "go_duration")]
    pub min_sync_period: Duration,
    #[serde(serialize_with = "go_duration")]
    pub config_sync_period: Duration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LinuxConfig {
    pub conntrack: Conntrack,
    pub masquerade_all: bool,
    #[serde(rename = "OOMScoreAdj")]
    pub oom_score_adj: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Conntrack {
    #[serde(rename = "MaxPerCore")]
    pub max_per_core: i32,
    #[serde(rename = "Min")]
    pub min: i32,
    #[serde(rename = "TCPEstablishedTimeout", serialize_with = "go_duration")]
    pub tcp_established_timeout: Duration,
    #[serde(rename = "TCPCloseWaitTimeout", serialize_with = "go_duration")]
    pub tcp_close_wait_timeout: Duration,
    #[serde(rename = "TCPBeLiberal")]
    pub tcp_be_liberal: bool,
    #[serde(rename = "UDPTimeout", serialize_with = "go_duration")]
    pub udp_timeout: Duration,
    #[serde(rename = "UDPStreamTimeout", serialize_with = "go_duration")]
    pub udp_stream_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientConnection {
    #[serde(rename = "Kubeconfig")]
    pub kubeconfig: String,
    #[serde(rename = "AcceptContentTypes")]
    pub accept_content_types: String,
    #[serde(rename = "ContentType")]
    pub content_type: String,
    #[serde(rename = "QPS")]
    pub qps: f32,
    #[serde(rename = "Burst")]
    pub burst: i32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IptablesSection {
    pub masquerade_bit: i32,
    pub localhost_node_ports: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NftablesSection {
    pub masquerade_bit: i32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectLocal {
    pub bridge_interface: String,
    #[serde(rename = "ClusterCIDRs")]
    pub cluster_cidrs: Option<Vec<String>>,
    pub interface_name_prefix: String,
}

fn go_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_go_duration(*d))
}

/// The file's v1alpha1 form: every field optional, defaults applied afterwards.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileConfig {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    client_connection: FileClient,
    hostname_override: Option<String>,
    bind_address: Option<String>,
    healthz_bind_address: Option<String>,
    metrics_bind_address: Option<String>,
    bind_address_hard_fail: Option<bool>,
    enable_profiling: Option<bool>,
    mode: Option<String>,
    #[serde(default)]
    iptables: FileModeSection,
    #[serde(default)]
    nftables: FileModeSection,
    detect_local_mode: Option<String>,
    #[serde(default)]
    detect_local: FileDetectLocal,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: Option<String>,
    node_port_addresses: Option<Vec<String>>,
    oom_score_adj: Option<i32>,
    #[serde(default)]
    conntrack: FileConntrack,
    config_sync_period: Option<String>,
    #[serde(flatten)]
    _rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileClient {
    kubeconfig: Option<String>,
    accept_content_types: Option<String>,
    content_type: Option<String>,
    qps: Option<f32>,
    burst: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileModeSection {
    masquerade_bit: Option<i32>,
    masquerade_all: Option<bool>,
    localhost_node_ports: Option<bool>,
    sync_period: Option<String>,
    min_sync_period: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileDetectLocal {
    bridge_interface: Option<String>,
    interface_name_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileConntrack {
    max_per_core: Option<i32>,
    min: Option<i32>,
    tcp_established_timeout: Option<String>,
    tcp_close_wait_timeout: Option<String>,
    tcp_be_liberal: Option<bool>,
    udp_timeout: Option<String>,
    udp_stream_timeout: Option<String>,
}

fn dur(s: &Option<String>, default: Duration) -> Result<Duration, Error> {
    match s.as_deref() {
        None | Some("") => Ok(default),
        Some(v) => parse_go_duration(v).map_err(Error::Config),
    }
}

/// A duration upstream's v1alpha1 defaulting replaces when it is zero (`0s`, as kubeadm writes
/// every unset one), not only when absent: the sync periods.
fn dur_nonzero(s: &Option<String>, default: Duration) -> Result<Duration, Error> {
    dur(s, default).map(|d| if d.is_zero() { default } else { d })
}

/// `IP` or `IP:port`; a bare IP gets `port`.
fn with_port(addr: &str, port: u16) -> String {
    if addr.is_empty() || addr.parse::<std::net::SocketAddr>().is_ok() {
        return addr.to_string();
    }
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{addr}:{port}"),
    }
}

impl ProxyConfig {
    /// The configuration `opts` describe (reading `--config` when given), validated.
    pub fn load(opts: &Options) -> Result<ProxyConfig, Error> {
        let mut cfg = match &opts.config {
            Some(path) => Self::from_file(path)?,
            None => Self::from_flags(opts),
        };
        if let Some(h) = &opts.hostname_override {
            let h = h.trim().to_lowercase();
            if h.is_empty() {
                return Err(Error::Config("empty hostname-override is invalid".into()));
            }
            cfg.hostname_override = h;
        }
        if cfg.mode.is_empty() {
            cfg.mode = "iptables".into();
        }
        if cfg.mode == "nftables" && cfg.node_port_addresses.as_ref().is_none_or(|n| n.is_empty()) {
            cfg.node_port_addresses = Some(vec!["primary".into()]);
        }
        if cfg.detect_local_mode.is_empty() {
            cfg.detect_local_mode = "ClusterCIDR".into();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_flags(o: &Options) -> ProxyConfig {
        let healthz = match o.healthz_port {
            Some(0) => String::new(),
            Some(p) => with_port(&o.healthz_bind_address, p),
            None => o.healthz_bind_address.clone(),
        };
        let metrics = match o.metrics_port {
            Some(0) => String::new(),
            Some(p) => with_port(&o.metrics_bind_address, p),
            None => o.metrics_bind_address.clone(),
        };
        ProxyConfig {
            linux: LinuxConfig {
                conntrack: Conntrack {
                    max_per_core: o.conntrack_max_per_core,
                    min: o.conntrack_min,
                    tcp_established_timeout: o.conntrack_tcp_timeout_established,
                    tcp_close_wait_timeout: o.conntrack_tcp_timeout_close_wait,
                    tcp_be_liberal: o.conntrack_tcp_be_liberal,
                    udp_timeout: o.conntrack_udp_timeout,
                    udp_stream_timeout: o.conntrack_udp_timeout_stream,
                },
                masquerade_all: o.masquerade_all,
                oom_score_adj: Some(o.oom_score_adj),
            },
            client_connection: ClientConnection {
                kubeconfig: o.kubeconfig.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                accept_content_types: String::new(),
                content_type: o.kube_api_content_type.clone(),
                qps: o.kube_api_qps,
                burst: o.kube_api_burst,
            },
            hostname_override: String::new(),
            bind_address: o.bind_address.clone(),
            healthz_bind_address: with_port(&healthz, 10256),
            metrics_bind_address: with_port(&metrics, 10249),
            bind_address_hard_fail: o.bind_address_hard_fail,
            enable_profiling: o.profiling,
            mode: o.proxy_mode.clone(),
            iptables: IptablesSection {
                masquerade_bit: o.iptables_masquerade_bit,
                localhost_node_ports: o.iptables_localhost_nodeports,
            },
            nftables: NftablesSection { masquerade_bit: o.iptables_masquerade_bit },
            detect_local_mode: o.detect_local_mode.clone(),
            detect_local: DetectLocal {
                bridge_interface: o.pod_bridge_interface.clone(),
                cluster_cidrs: o.cluster_cidr.as_ref().map(|c| c.split(',').map(|s| s.trim().to_string()).collect()),
                interface_name_prefix: o.pod_interface_name_prefix.clone(),
            },
            node_port_addresses: (!o.nodeport_addresses.is_empty()).then(|| o.nodeport_addresses.clone()),
            sync_period: o.iptables_sync_period.unwrap_or(Duration::from_secs(30)),
            min_sync_period: o.iptables_min_sync_period.unwrap_or(Duration::from_secs(1)),
            config_sync_period: o.config_sync_period,
        }
    }

    fn from_file(path: &std::path::Path) -> Result<ProxyConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("open {}: {e}", path.display())))?;
        let f: FileConfig =
            serde_saphyr::from_str(&text).map_err(|e| Error::Config(format!("failed to decode: {e}")))?;
        if f.kind.as_deref() != Some("KubeProxyConfiguration")
            || f.api_version.as_deref() != Some("kubeproxy.config.k8s.io/v1alpha1")
        {
            return Err(Error::Config(format!(
                "got unexpected config type: {}, Kind={}",
                f.api_version.as_deref().unwrap_or_default(),
                f.kind.as_deref().unwrap_or_default()
            )));
        }
        let mode = f.mode.clone().unwrap_or_default();
        let section = if mode == "nftables" { &f.nftables } else { &f.iptables };
        let bind = f.bind_address.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
        let v6 = bind.contains(':');
        let healthz = match f.healthz_bind_address.as_deref() {
            None | Some("") => if v6 { "[::]:10256" } else { "0.0.0.0:10256" }.to_string(),
            Some(a) => with_port(a, 10256),
        };
        let metrics = match f.metrics_bind_address.as_deref() {
            None | Some("") => if v6 { "[::1]:10249" } else { "127.0.0.1:10249" }.to_string(),
            Some(a) => with_port(a, 10249),
        };
        let c = &f.conntrack;
        Ok(ProxyConfig {
            linux: LinuxConfig {
                conntrack: Conntrack {
                    max_per_core: c.max_per_core.unwrap_or(32768),
                    min: c.min.unwrap_or(131072),
                    tcp_established_timeout: dur(&c.tcp_established_timeout, Duration::from_secs(86400))?,
                    tcp_close_wait_timeout: dur(&c.tcp_close_wait_timeout, Duration::from_secs(3600))?,
                    tcp_be_liberal: c.tcp_be_liberal.unwrap_or(false),
                    udp_timeout: dur(&c.udp_timeout, Duration::ZERO)?,
                    udp_stream_timeout: dur(&c.udp_stream_timeout, Duration::ZERO)?,
                },
                masquerade_all: section.masquerade_all.unwrap_or(false),
                oom_score_adj: Some(f.oom_score_adj.unwrap_or(-999)),
            },
            client_connection: ClientConnection {
                kubeconfig: f.client_connection.kubeconfig.clone().unwrap_or_default(),
                accept_content_types: f.client_connection.accept_content_types.clone().unwrap_or_default(),
                // Zero values are defaulted as absent ones (kubeadm writes them all out).
                content_type: f
                    .client_connection
                    .content_type
                    .clone()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "application/vnd.kubernetes.protobuf".into()),
                qps: f.client_connection.qps.filter(|q| *q != 0.0).unwrap_or(5.0),
                burst: f.client_connection.burst.filter(|b| *b != 0).unwrap_or(10),
            },
            hostname_override: f.hostname_override.clone().unwrap_or_default(),
            bind_address: bind,
            healthz_bind_address: healthz,
            metrics_bind_address: metrics,
            bind_address_hard_fail: f.bind_address_hard_fail.unwrap_or(false),
            enable_profiling: f.enable_profiling.unwrap_or(false),
            mode,
            iptables: IptablesSection {
                masquerade_bit: f.iptables.masquerade_bit.unwrap_or(14),
                localhost_node_ports: f.iptables.localhost_node_ports.unwrap_or(true),
            },
            nftables: NftablesSection { masquerade_bit: f.nftables.masquerade_bit.unwrap_or(14) },
            detect_local_mode: f.detect_local_mode.clone().unwrap_or_default(),
            detect_local: DetectLocal {
                bridge_interface: f.detect_local.bridge_interface.clone().unwrap_or_default(),
                cluster_cidrs: f
                    .cluster_cidr
                    .as_ref()
                    .filter(|c| !c.is_empty())
                    .map(|c| c.split(',').map(|s| s.trim().to_string()).collect()),
                interface_name_prefix: f.detect_local.interface_name_prefix.clone().unwrap_or_default(),
            },
            node_port_addresses: f.node_port_addresses.clone(),
            sync_period: dur_nonzero(&section.sync_period, Duration::from_secs(30))?,
            min_sync_period: dur_nonzero(&section.min_sync_period, Duration::from_secs(1))?,
            config_sync_period: dur_nonzero(&f.config_sync_period, Duration::from_secs(900))?,
        })
    }

    /// Upstream's validation, with its field paths and messages.
    fn validate(&self) -> Result<(), Error> {
        let mut errs = Vec::new();
        let root = "KubeProxyConfiguration";
        if !(0..=31).contains(&self.iptables.masquerade_bit) {
            errs.push(format!(
                "{root}.KubeProxyIPTablesConfiguration.MasqueradeBit: Invalid value: {}: must be within the range [0, 31]",
                self.iptables.masquerade_bit
            ));
        }
        if !["iptables", "ipvs", "nftables"].contains(&self.mode.as_str()) {
            errs.push(format!(
                "{root}.Mode: Invalid value: \"{}\": must be iptables, ipvs, nftables or blank (blank means the best-available proxy [currently iptables])",
                self.mode
            ));
        }
        if self.sync_period.is_zero() {
            errs.push(format!("{root}.SyncPeriod: Invalid value: \"0s\": must be greater than 0"));
        }
        if self.config_sync_period.is_zero() {
            errs.push(format!("{root}.ConfigSyncPeriod: Invalid value: \"0s\": must be greater than 0"));
        }
        if self.min_sync_period > self.sync_period {
            errs.push(format!(
                "{root}.SyncPeriod: Invalid value: \"{}\": must be greater than or equal to {root}.MinSyncPeriod",
                format_go_duration(self.min_sync_period)
            ));
        }
        if self.bind_address.parse::<std::net::IpAddr>().is_err() {
            errs.push(format!(
                "{root}.BindAddress: Invalid value: \"{}\": not a valid textual representation of an IP address",
                self.bind_address
            ));
        }
        for (field, v) in
            [("HealthzBindAddress", &self.healthz_bind_address), ("MetricsBindAddress", &self.metrics_bind_address)]
        {
            if v.is_empty() && field == "HealthzBindAddress" {
                continue;
            }
            if v.parse::<std::net::SocketAddr>().is_err() {
                errs.push(format!("{root}.{field}: Invalid value: \"{v}\": must be IP:port"));
            }
        }
        if let Some(o) = self.linux.oom_score_adj.filter(|o| !(-1000..=1000).contains(o)) {
            errs.push(format!(
                "{root}.KubeProxyLinuxConfiguration.OOMScoreAdj: Invalid value: {o}: must be within the range [-1000, 1000]"
            ));
        }
        let nps = self.node_port_addresses.clone().unwrap_or_default();
        for (i, a) in nps.iter().enumerate() {
            if a == "primary" {
                if nps.len() > 1 {
                    errs.push(format!(
                        "{root}.NodePortAddresses[{i}]: Invalid value: \"primary\": can't use both 'primary' and CIDRs"
                    ));
                }
            } else if a.parse::<ipnet::IpNet>().is_err() {
                errs.push(format!("{root}.NodePortAddresses[{i}]: Invalid value: \"{a}\": must be a valid CIDR"));
            }
        }
        match self.detect_local_mode.as_str() {
            "ClusterCIDR" | "NodeCIDR" => {}
            "BridgeInterface" if self.detect_local.bridge_interface.is_empty() => {
                errs.push(format!("{root}.DetectLocal.BridgeInterface: Invalid value: \"\": must not be empty"));
            }
            "InterfaceNamePrefix" if self.detect_local.interface_name_prefix.is_empty() => {
                errs.push(format!("{root}.DetectLocal.InterfacePrefix: Invalid value: \"\": must not be empty"));
            }
            "BridgeInterface" | "InterfaceNamePrefix" => {}
            other => errs.push(format!(
                "{root}.DetectLocalMode: Unsupported value: \"{other}\": supported values: \"ClusterCIDR\", \"NodeCIDR\", \"BridgeInterface\", \"InterfaceNamePrefix\", \"\""
            )),
        }
        for c in self.detect_local.cluster_cidrs.iter().flatten() {
            if c.parse::<ipnet::IpNet>().is_err() {
                errs.push(format!(
                    "{root}.DetectLocal.ClusterCIDRs: Invalid value: \"{c}\": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)"
                ));
            }
        }
        match errs.len() {
            0 => Ok(()),
            1 => Err(Error::Config(errs.remove(0))),
            _ => Err(Error::Config(format!("[{}]", errs.join(", ")))),
        }
    }

    /// The masquerade mark of the active mode.
    pub fn masquerade_bit(&self) -> u32 {
        let bit = if self.mode == "nftables" { self.nftables.masquerade_bit } else { self.iptables.masquerade_bit };
        u32::try_from(bit).unwrap_or(14)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        let mut all = vec!["kube-proxy"];
        all.extend_from_slice(args);
        Options::try_parse_from(all).unwrap()
    }

    #[test]
    fn flag_defaults_are_upstreams() {
        let c = ProxyConfig::load(&opts(&[])).unwrap();
        assert_eq!(c.mode, "iptables");
        assert_eq!(c.healthz_bind_address, "0.0.0.0:10256");
        assert_eq!(c.metrics_bind_address, "127.0.0.1:10249");
        assert_eq!((c.sync_period, c.min_sync_period), (Duration::from_secs(30), Duration::from_secs(1)));
        assert_eq!(c.detect_local_mode, "ClusterCIDR");
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["IPTables"]["MasqueradeBit"], 14);
        assert_eq!(j["Linux"]["Conntrack"]["TCPEstablishedTimeout"], "24h0m0s");
        assert_eq!(j["SyncPeriod"], "30s");
    }

    #[test]
    fn nftables_defaults_nodeports_to_the_primary_ip() {
        let c = ProxyConfig::load(&opts(&["--proxy-mode=nftables"])).unwrap();
        assert_eq!(c.node_port_addresses, Some(vec!["primary".to_string()]));
    }

    #[test]
    fn bad_values_are_refused_with_upstreams_messages() {
        let e = ProxyConfig::load(&opts(&["--proxy-mode=userspace"])).unwrap_err().to_string();
        assert!(
            e.contains(
                "KubeProxyConfiguration.Mode: Invalid value: \"userspace\": must be iptables, ipvs, nftables or blank"
            ),
            "{e}"
        );
        let e = ProxyConfig::load(&opts(&["--iptables-min-sync-period=1m", "--iptables-sync-period=30s"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be greater than or equal to KubeProxyConfiguration.MinSyncPeriod"), "{e}");
        let e = ProxyConfig::load(&opts(&["--nodeport-addresses=primary,10.0.0.0/8"])).unwrap_err().to_string();
        assert!(e.contains("can't use both 'primary' and CIDRs"), "{e}");
    }

    #[test]
    fn a_config_file_replaces_the_flags_but_not_the_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(
            &p,
            "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\nclusterCIDR: 10.244.0.0/16\nnftables:\n  minSyncPeriod: 2s\n  syncPeriod: 1m\nconntrack:\n  maxPerCore: 0\n",
        )
        .unwrap();
        let c = ProxyConfig::load(&opts(&[
            &format!("--config={}", p.display()),
            "--proxy-mode=iptables",
            "--hostname-override=Node-A",
        ]))
        .unwrap();
        assert_eq!(c.mode, "nftables");
        assert_eq!(c.hostname_override, "node-a");
        assert_eq!(c.min_sync_period, Duration::from_secs(2));
        assert_eq!(c.sync_period, Duration::from_secs(60));
        assert_eq!(c.linux.conntrack.max_per_core, 0);
        assert_eq!(c.detect_local.cluster_cidrs, Some(vec!["10.244.0.0/16".to_string()]));
        // kubeadm's form: every field written, unset ones at their zero values.
        std::fs::write(
            &p,
            "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclientConnection: {acceptContentTypes: '', burst: 0, contentType: '', kubeconfig: /k, qps: 0}\nconfigSyncPeriod: 0s\nconntrack: {maxPerCore: null, min: null, tcpCloseWaitTimeout: null, tcpEstablishedTimeout: null, udpTimeout: 0s}\niptables: {masqueradeBit: null, minSyncPeriod: 0s, syncPeriod: 0s}\nmode: ''\n",
        )
        .unwrap();
        let c = ProxyConfig::load(&opts(&[&format!("--config={}", p.display())])).unwrap();
        assert_eq!((c.sync_period, c.min_sync_period), (Duration::from_secs(30), Duration::from_secs(1)));
        assert_eq!(c.config_sync_period, Duration::from_secs(900));
        assert_eq!((c.client_connection.qps, c.client_connection.burst), (5.0, 10));
        assert_eq!(c.client_connection.content_type, "application/vnd.kubernetes.protobuf");
        assert_eq!((c.linux.conntrack.max_per_core, c.iptables.masquerade_bit), (32768, 14));
        assert_eq!(c.mode, "iptables");
        std::fs::write(&p, "apiVersion: v1\nkind: ConfigMap\n").unwrap();
        let e = ProxyConfig::load(&opts(&[&format!("--config={}", p.display())])).unwrap_err().to_string();
        assert!(e.contains("got unexpected config type"), "{e}");
    }
}
