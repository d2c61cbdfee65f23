//! The kubelet's configuration: upstream's command-line flags and the `--config`
//! KubeletConfiguration file (kubelet.config.k8s.io/v1beta1) with its defaults. A flag given on
//! the command line wins over the file, as upstream.

use crate::Error;
use clap::{ArgAction, Parser};
use component_base::flags::{format_go_duration, parse_go_bool, parse_go_duration};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// kubelet's command line. Flags with a KubeletConfiguration field are optional here: unset,
/// the file's value (or its default) applies.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kubelet",
    version = "v1.33.0",
    about = "The kubelet is the primary \"node agent\" that runs on each node."
)]
pub struct Options {
    /// The Kubelet will load its initial configuration from this file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Path to a kubeconfig file, specifying how to connect to the API server. Providing
    /// --kubeconfig enables API server mode, omitting --kubeconfig enables standalone mode.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Path to a kubeconfig file that will be used to get client certificate for kubelet.
    #[arg(long)]
    pub bootstrap_kubeconfig: Option<PathBuf>,
    /// If non-empty, will use this string as identification instead of the actual hostname.
    #[arg(long)]
    pub hostname_override: Option<String>,
    /// IP address (or comma-separated dual-stack IP addresses) of the node.
    #[arg(long)]
    pub node_ip: Option<String>,
    /// Directory path for managing kubelet files (volume mounts, etc).
    #[arg(long, default_value = "/var/lib/kubelet")]
    pub root_dir: PathBuf,
    /// The endpoint of the remote runtime service.
    #[arg(long)]
    pub container_runtime_endpoint: Option<String>,
    /// The endpoint of the remote image service; the runtime's when empty.
    #[arg(long)]
    pub image_service_endpoint: Option<String>,
    /// Driver that the kubelet uses to manipulate cgroups on the host (cgroupfs or systemd).
    #[arg(long)]
    pub cgroup_driver: Option<String>,
    /// Optional root cgroup to use for pods.
    #[arg(long)]
    pub cgroup_root: Option<String>,
    /// Enable creation of QoS cgroup hierarchy.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub cgroups_per_qos: Option<bool>,
    /// Number of Pods that can run on this Kubelet.
    #[arg(long)]
    pub max_pods: Option<u32>,
    /// Path to the directory containing static pod files to run, or the path to a single
    /// static pod file.
    #[arg(long)]
    pub pod_manifest_path: Option<String>,
    /// URL for accessing additional Pod specifications to run.
    #[arg(long)]
    pub manifest_url: Option<String>,
    /// Labels to add when registering the node in the cluster (key=value,...).
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// Register the node with the apiserver.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub register_node: Option<bool>,
    /// Register the node with the given list of taints (key=value:effect,...).
    #[arg(long, value_delimiter = ',')]
    pub register_with_taints: Vec<String>,
    /// Comma-separated list of DNS server IP addresses.
    #[arg(long, value_delimiter = ',')]
    pub cluster_dns: Vec<String>,
    /// Domain for this cluster.
    #[arg(long)]
    pub cluster_domain: Option<String>,
    /// The CIDR to use for pod IP addresses, only used in standalone mode.
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// The port for the localhost healthz endpoint (set to 0 to disable).
    #[arg(long)]
    pub healthz_port: Option<u16>,
    /// The IP address for the healthz server to serve on.
    #[arg(long)]
    pub healthz_bind_address: Option<String>,
    /// The port for the Kubelet to serve on.
    #[arg(long)]
    pub port: Option<u16>,
    /// The IP address for the Kubelet to serve on.
    #[arg(long)]
    pub address: Option<String>,
    /// Enables anonymous requests to the Kubelet server (user system:anonymous).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub anonymous_auth: Option<bool>,
    /// Use the TokenReview API to determine authentication for bearer tokens.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub authentication_token_webhook: Option<bool>,
    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long, value_parser = parse_go_duration)]
    pub authentication_token_webhook_cache_ttl: Option<Duration>,
    /// Client certificates signed by this CA authenticate with the identity in their CN.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Authorization mode for the Kubelet server (AlwaysAllow or Webhook).
    #[arg(long)]
    pub authorization_mode: Option<String>,
    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long, value_parser = parse_go_duration)]
    pub authorization_webhook_cache_authorized_ttl: Option<Duration>,
    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long, value_parser = parse_go_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Option<Duration>,
    /// File containing the x509 certificate for HTTPS (with intermediates after it).
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the x509 private key matching --tls-cert-file.
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// The directory where the TLS certs are located; ignored when --tls-cert-file and
    /// --tls-private-key-file are given.
    #[arg(long, default_value = "/var/lib/kubelet/pki")]
    pub cert_dir: PathBuf,
    /// Enables server endpoints for log collection and local running of containers and commands.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub enable_debugging_handlers: Option<bool>,
    /// Resources reserved for kubernetes system components (cpu=200m,memory=500Mi,...).
    #[arg(long, value_delimiter = ',')]
    pub kube_reserved: Vec<String>,
    /// Resources reserved for non-kubernetes components (cpu=200m,memory=500Mi,...).
    #[arg(long, value_delimiter = ',')]
    pub system_reserved: Vec<String>,
    /// Levels of Node Allocatable enforcement (`pods`, `system-reserved`, `kube-reserved`).
    #[arg(long, value_delimiter = ',')]
    pub enforce_node_allocatable: Vec<String>,
    /// Hard eviction thresholds (memory.available<1Gi,...).
    #[arg(long, value_delimiter = ',')]
    pub eviction_hard: Vec<String>,
    /// Soft eviction thresholds (memory.available<1.5Gi,...), each with a grace period.
    #[arg(long, value_delimiter = ',')]
    pub eviction_soft: Vec<String>,
    /// Grace periods of the soft thresholds (memory.available=1m30s,...).
    #[arg(long, value_delimiter = ',')]
    pub eviction_soft_grace_period: Vec<String>,
    /// Minimum reclaim once a threshold is met (imagefs.available=2Gi,...).
    #[arg(long, value_delimiter = ',')]
    pub eviction_minimum_reclaim: Vec<String>,
    /// How long the kubelet waits before leaving an eviction pressure condition.
    #[arg(long, value_parser = parse_go_duration)]
    pub eviction_pressure_transition_period: Option<Duration>,
    /// Maximum grace period for pods ended by a soft threshold.
    #[arg(long)]
    pub eviction_max_pod_grace_period: Option<i64>,
    /// Disk usage percent from which image garbage collection always runs.
    #[arg(long)]
    pub image_gc_high_threshold: Option<i32>,
    /// Disk usage percent image garbage collection frees down to.
    #[arg(long)]
    pub image_gc_low_threshold: Option<i32>,
    /// Minimum age of an unused image before it is garbage collected.
    #[arg(long, value_parser = parse_go_duration)]
    pub minimum_image_gc_age: Option<Duration>,
    /// Makes the Kubelet fail to start if swap is enabled on the node.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub fail_swap_on: Option<bool>,
    /// Timeout of all runtime requests except long running ones.
    #[arg(long, value_parser = parse_go_duration)]
    pub runtime_request_timeout: Option<Duration>,
    /// How often the kubelet posts node status to the master.
    #[arg(long, value_parser = parse_go_duration)]
    pub node_status_update_frequency: Option<Duration>,
    /// Max period between synchronizing running containers and config.
    #[arg(long, value_parser = parse_go_duration)]
    pub sync_frequency: Option<Duration>,
    /// Duration between checking config files for new data.
    #[arg(long, value_parser = parse_go_duration)]
    pub file_check_frequency: Option<Duration>,
    /// Deprecated: the sandbox image is the runtime's setting. Accepted for compatibility.
    #[arg(long)]
    pub pod_infra_container_image: Option<String>,
    /// Auto rotate the kubelet client certificates by requesting new certificates from the
    /// kube-apiserver when the certificate expiration approaches.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub rotate_certificates: Option<bool>,
    /// The verbosity of the logs.
    #[arg(short = 'v', long = "v", default_value = "0")]
    pub verbosity: u8,
}

/// A resolved configuration: the file's values under the flags', with upstream's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    /// `--bootstrap-kubeconfig`: the credentials to request a client certificate with when
    /// `kubeconfig` has none that works (TLS bootstrap).
    pub bootstrap_kubeconfig: Option<PathBuf>,
    /// `rotateCertificates`: the client certificate lives in `<cert dir>/kubelet-client-current.pem`.
    pub rotate_certificates: bool,
    pub node_name: String,
    pub node_ips: Vec<std::net::IpAddr>,
    pub root_dir: PathBuf,
    pub runtime_endpoint: String,
    pub image_endpoint: String,
    pub cgroup_driver: String,
    pub cgroup_root: String,
    pub cgroups_per_qos: bool,
    pub max_pods: u32,
    pub static_pod_path: Option<PathBuf>,
    pub static_pod_url: Option<String>,
    pub node_labels: BTreeMap<String, String>,
    pub register_node: bool,
    pub register_with_taints: Vec<k8s_openapi::api::core::v1::Taint>,
    pub cluster_dns: Vec<String>,
    pub cluster_domain: String,
    pub pod_cidr: Option<String>,
    pub resolv_conf: PathBuf,
    pub healthz_port: u16,
    pub healthz_bind_address: String,
    pub port: u16,
    pub address: String,
    pub server: ServerConfig,
    pub kube_reserved: BTreeMap<String, String>,
    pub system_reserved: BTreeMap<String, String>,
    pub enforce_node_allocatable: Vec<String>,
    pub eviction_hard: BTreeMap<String, String>,
    pub eviction_soft: BTreeMap<String, String>,
    pub eviction_soft_grace_period: BTreeMap<String, String>,
    pub eviction_minimum_reclaim: BTreeMap<String, String>,
    pub eviction_pressure_transition_period: Duration,
    pub eviction_max_pod_grace_period: i64,
    pub image_gc_high_threshold_percent: i32,
    pub image_gc_low_threshold_percent: i32,
    pub image_minimum_gc_age: Duration,
    pub image_maximum_gc_age: Duration,
    pub container_log_monitor_interval: Duration,
    pub fail_swap_on: bool,
    pub runtime_request_timeout: Duration,
    pub node_status_update_frequency: Duration,
    pub node_status_report_frequency: Duration,
    pub node_lease_duration_seconds: i32,
    pub sync_frequency: Duration,
    pub file_check_frequency: Duration,
    pub pod_logs_dir: PathBuf,
    pub container_log_max_size: String,
    pub container_log_max_files: u32,
    pub serialize_image_pulls: bool,
    pub pod_pids_limit: i64,
    /// The configuration as `/configz` reports it.
    pub configz: Value,
}

/// The kubelet API's TLS and its authentication and authorization.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub anonymous: bool,
    pub webhook_authn: bool,
    pub webhook_cache_ttl: Duration,
    pub client_ca_file: Option<PathBuf>,
    /// `AlwaysAllow` or `Webhook`.
    pub authz_mode: String,
    pub authorized_ttl: Duration,
    pub unauthorized_ttl: Duration,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    pub cert_dir: PathBuf,
    pub enable_debugging_handlers: bool,
    /// `/logs/` serves the node's `/var/log` (`enableSystemLogHandler`, default true).
    pub enable_system_log_handler: bool,
}

/// The default hard eviction thresholds on Linux.
pub fn default_eviction_hard() -> BTreeMap<String, String> {
    [
        ("memory.available", "100Mi"),
        ("nodefs.available", "10%"),
        ("nodefs.inodesFree", "5%"),
        ("imagefs.available", "15%"),
        ("imagefs.inodesFree", "5%"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn str_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    v?.as_object().map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
}

fn pairs(list: &[String], sep: char, flag: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for item in list.iter().filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once(sep)
            .ok_or_else(|| Error::Config(format!("invalid argument {item:?} for \"--{flag}\" flag")))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// `--eviction-hard memory.available<100Mi,...`.
fn thresholds(list: &[String], flag: &str) -> Result<BTreeMap<String, String>, Error> {
    pairs(list, '<', flag)
}

/// A map from a flag (`key<value` or `key=value` pairs) when given, else from the file.
fn map_setting(
    flag: &[String],
    sep: char,
    name: &str,
    file: Option<&Value>,
) -> Result<Option<BTreeMap<String, String>>, Error> {
    if flag.is_empty() {
        Ok(str_map(file))
    } else {
        pairs(flag, sep, name).map(Some)
    }
}

/// `key=value:Effect` or `key:Effect`, as `--register-with-taints` takes them.
pub fn parse_taint(s: &str) -> Result<k8s_openapi::api::core::v1::Taint, Error> {
    let bad = || Error::Config(format!("invalid taint spec: {s}"));
    let (kv, effect) = s.rsplit_once(':').ok_or_else(bad)?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(Error::Config(format!("invalid taint effect: {effect}, unsupported taint effect")));
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(bad());
    }
    Ok(k8s_openapi::api::core::v1::Taint { key: key.to_string(), value, effect: effect.to_string(), time_added: None })
}

/// The API server's settings. Without a config file the flags keep upstream's legacy defaults
/// (anonymous requests, no token webhook, AlwaysAllow); a KubeletConfiguration defaults to
/// the secure ones (no anonymous requests, TokenReview, SubjectAccessReview).
fn server_config(opts: &Options, file: &Value) -> Result<ServerConfig, Error> {
    let legacy = opts.config.is_none();
    let at = |path: &[&str]| path.iter().try_fold(file, |v, k| v.get(k));
    let mode = opts
        .authorization_mode
        .clone()
        .or_else(|| at(&["authorization", "mode"]).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| if legacy { "AlwaysAllow".into() } else { "Webhook".into() });
    if !matches!(mode.as_str(), "AlwaysAllow" | "Webhook") {
        return Err(Error::Config(format!("invalid configuration: authorization.mode: unsupported mode {mode:?}")));
    }
    let path = |flag: &Option<PathBuf>, key: &str| {
        flag.clone().or_else(|| at(&[key]).and_then(Value::as_str).filter(|s| !s.is_empty()).map(PathBuf::from))
    };
    Ok(ServerConfig {
        anonymous: opts
            .anonymous_auth
            .or_else(|| at(&["authentication", "anonymous", "enabled"]).and_then(Value::as_bool))
            .unwrap_or(legacy),
        webhook_authn: opts
            .authentication_token_webhook
            .or_else(|| at(&["authentication", "webhook", "enabled"]).and_then(Value::as_bool))
            .unwrap_or(!legacy),
        webhook_cache_ttl: match opts.authentication_token_webhook_cache_ttl {
            Some(d) => d,
            None => duration(at(&["authentication", "webhook", "cacheTTL"]))?.unwrap_or(Duration::from_secs(120)),
        },
        client_ca_file: opts.client_ca_file.clone().or_else(|| {
            at(&["authentication", "x509", "clientCAFile"])
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        }),
        authz_mode: mode,
        authorized_ttl: match opts.authorization_webhook_cache_authorized_ttl {
            Some(d) => d,
            None => {
                duration(at(&["authorization", "webhook", "cacheAuthorizedTTL"]))?.unwrap_or(Duration::from_secs(300))
            }
        },
        unauthorized_ttl: match opts.authorization_webhook_cache_unauthorized_ttl {
            Some(d) => d,
            None => {
                duration(at(&["authorization", "webhook", "cacheUnauthorizedTTL"]))?.unwrap_or(Duration::from_secs(30))
            }
        },
        tls_cert_file: path(&opts.tls_cert_file, "tlsCertFile"),
        tls_private_key_file: path(&opts.tls_private_key_file, "tlsPrivateKeyFile"),
        cert_dir: opts.cert_dir.clone(),
        enable_debugging_handlers: opts
            .enable_debugging_handlers
            .or_else(|| at(&["enableDebuggingHandlers"]).and_then(Value::as_bool))
            .unwrap_or(true),
        enable_system_log_handler: at(&["enableSystemLogHandler"]).and_then(Value::as_bool).unwrap_or(true),
    })
}

fn duration(v: Option<&Value>) -> Result<Option<Duration>, Error> {
    match v.and_then(Value::as_str) {
        Some(s) => parse_go_duration(s).map(Some).map_err(Error::Config),
        None => Ok(None),
    }
}

/// The machine's hostname, lowercased, as upstream names a node by default.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_else(|_| "localhost".into())
}

impl Config {
    /// Resolves `opts` over the `--config` file (read here) and the defaults.
    pub fn load(opts: &Options) -> Result<Config, Error> {
        let file: Value = match &opts.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!("failed to load Kubelet config file {}, error: {e}", path.display()))
                })?;
                let v: Value = serde_saphyr::from_str(&text).map_err(|e| {
                    Error::Config(format!("failed to load Kubelet config file {}, error: {e}", path.display()))
                })?;
                let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
                if kind != "KubeletConfiguration" {
                    return Err(Error::Config(format!(
                        "failed to load Kubelet config file {}, error: no kind \"{kind}\" is registered",
                        path.display()
                    )));
                }
                v
            }
            None => Value::Object(Default::default()),
        };
        let f = |k: &str| file.get(k);
        let fstr = |k: &str| f(k).and_then(Value::as_str).map(str::to_string);
        let fbool = |k: &str| f(k).and_then(Value::as_bool);
        let fint = |k: &str| f(k).and_then(Value::as_i64);

        let node_name =
            opts.hostname_override.clone().filter(|s| !s.is_empty()).unwrap_or_else(hostname).to_lowercase();
        let mut node_ips = Vec::new();
        if let Some(ips) = &opts.node_ip {
            for ip in ips.split(',').filter(|s| !s.is_empty()) {
                node_ips
                    .push(ip.trim().parse().map_err(|_| Error::Config(format!("failed to parse node IP: {ip:?}")))?);
            }
        }
        let runtime_endpoint = opts
            .container_runtime_endpoint
            .clone()
            .or_else(|| fstr("containerRuntimeEndpoint"))
            .unwrap_or_else(|| "unix:///run/containerd/containerd.sock".into());
        let image_endpoint = opts
            .image_service_endpoint
            .clone()
            .or_else(|| fstr("imageServiceEndpoint"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| runtime_endpoint.clone());
        let cgroup_driver =
            opts.cgroup_driver.clone().or_else(|| fstr("cgroupDriver")).unwrap_or_else(|| "cgroupfs".into());
        if cgroup_driver != "cgroupfs" && cgroup_driver != "systemd" {
            return Err(Error::Config(format!(
                "invalid configuration: cgroupDriver ({cgroup_driver:?}) must be one of: cgroupfs, systemd"
            )));
        }
        let mut register_with_taints = Vec::new();
        for t in &opts.register_with_taints {
            register_with_taints.push(parse_taint(t)?);
        }
        if register_with_taints.is_empty() {
            if let Some(list) = f("registerWithTaints").and_then(Value::as_array) {
                for t in list {
                    register_with_taints.push(
                        serde_json::from_value(t.clone())
                            .map_err(|e| Error::Config(format!("registerWithTaints: {e}")))?,
                    );
                }
            }
        }
        let mut node_labels = BTreeMap::new();
        for (k, v) in pairs(&opts.node_labels, '=', "node-labels")? {
            node_labels.insert(k, v);
        }
        let cluster_dns = if opts.cluster_dns.is_empty() {
            f("clusterDNS")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        } else {
            opts.cluster_dns.clone()
        };
        let kube_reserved = if opts.kube_reserved.is_empty() {
            str_map(f("kubeReserved")).unwrap_or_default()
        } else {
            pairs(&opts.kube_reserved, '=', "kube-reserved")?
        };
        let system_reserved = if opts.system_reserved.is_empty() {
            str_map(f("systemReserved")).unwrap_or_default()
        } else {
            pairs(&opts.system_reserved, '=', "system-reserved")?
        };
        let eviction_hard = if opts.eviction_hard.is_empty() {
            str_map(f("evictionHard")).unwrap_or_else(default_eviction_hard)
        } else {
            thresholds(&opts.eviction_hard, "eviction-hard")?
        };
        let eviction_soft = if opts.eviction_soft.is_empty() {
            str_map(f("evictionSoft")).unwrap_or_default()
        } else {
            thresholds(&opts.eviction_soft, "eviction-soft")?
        };
        let eviction_soft_grace_period = map_setting(
            &opts.eviction_soft_grace_period,
            '=',
            "eviction-soft-grace-period",
            f("evictionSoftGracePeriod"),
        )?
        .unwrap_or_default();
        let eviction_minimum_reclaim =
            map_setting(&opts.eviction_minimum_reclaim, '=', "eviction-minimum-reclaim", f("evictionMinimumReclaim"))?
                .unwrap_or_default();
        let static_pod_path = opts
            .pod_manifest_path
            .clone()
            .or_else(|| fstr("staticPodPath"))
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let cfg = Config {
            kubeconfig: opts.kubeconfig.clone(),
            bootstrap_kubeconfig: opts.bootstrap_kubeconfig.clone(),
            rotate_certificates: opts.rotate_certificates.or_else(|| fbool("rotateCertificates")).unwrap_or(false),
            node_name,
            node_ips,
            root_dir: opts.root_dir.clone(),
            runtime_endpoint,
            image_endpoint,
            cgroup_driver,
            cgroup_root: opts.cgroup_root.clone().or_else(|| fstr("cgroupRoot")).unwrap_or_default(),
            cgroups_per_qos: opts.cgroups_per_qos.or_else(|| fbool("cgroupsPerQOS")).unwrap_or(true),
            max_pods: opts.max_pods.or_else(|| fint("maxPods").map(|v| v as u32)).unwrap_or(110),
            static_pod_path,
            static_pod_url: opts.manifest_url.clone().or_else(|| fstr("staticPodURL")).filter(|s| !s.is_empty()),
            node_labels,
            register_node: opts.register_node.or_else(|| fbool("registerNode")).unwrap_or(true),
            register_with_taints,
            cluster_dns,
            cluster_domain: opts.cluster_domain.clone().or_else(|| fstr("clusterDomain")).unwrap_or_default(),
            pod_cidr: opts.pod_cidr.clone().or_else(|| fstr("podCIDR")).filter(|s| !s.is_empty()),
            resolv_conf: fstr("resolvConf").unwrap_or_else(|| "/etc/resolv.conf".into()).into(),
            healthz_port: opts.healthz_port.or_else(|| fint("healthzPort").map(|v| v as u16)).unwrap_or(10248),
            healthz_bind_address: opts
                .healthz_bind_address
                .clone()
                .or_else(|| fstr("healthzBindAddress"))
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: opts.port.or_else(|| fint("port").map(|v| v as u16)).unwrap_or(10250),
            address: opts.address.clone().or_else(|| fstr("address")).unwrap_or_else(|| "0.0.0.0".into()),
            server: server_config(opts, &file)?,
            kube_reserved,
            system_reserved,
            eviction_hard,
            enforce_node_allocatable: if opts.enforce_node_allocatable.is_empty() {
                f("enforceNodeAllocatable")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_else(|| vec!["pods".to_string()])
            } else {
                opts.enforce_node_allocatable.iter().filter(|s| *s != "none").cloned().collect()
            },
            eviction_soft,
            eviction_soft_grace_period,
            eviction_minimum_reclaim,
            eviction_pressure_transition_period: match opts.eviction_pressure_transition_period {
                Some(d) => d,
                None => duration(f("evictionPressureTransitionPeriod"))?.unwrap_or(Duration::from_secs(300)),
            },
            eviction_max_pod_grace_period: opts
                .eviction_max_pod_grace_period
                .or_else(|| fint("evictionMaxPodGracePeriod"))
                .unwrap_or(0),
            image_gc_high_threshold_percent: opts
                .image_gc_high_threshold
                .or_else(|| fint("imageGCHighThresholdPercent").map(|v| v as i32))
                .unwrap_or(85),
            image_gc_low_threshold_percent: opts
                .image_gc_low_threshold
                .or_else(|| fint("imageGCLowThresholdPercent").map(|v| v as i32))
                .unwrap_or(80),
            image_minimum_gc_age: match opts.minimum_image_gc_age {
                Some(d) => d,
                None => duration(f("imageMinimumGCAge"))?.unwrap_or(Duration::from_secs(120)),
            },
            image_maximum_gc_age: duration(f("imageMaximumGCAge"))?.unwrap_or(Duration::ZERO),
            container_log_monitor_interval: duration(f("containerLogMonitorInterval"))?
                .unwrap_or(Duration::from_secs(10)),
            fail_swap_on: opts.fail_swap_on.or_else(|| fbool("failSwapOn")).unwrap_or(true),
            runtime_request_timeout: match opts.runtime_request_timeout {
                Some(d) => d,
                None => duration(f("runtimeRequestTimeout"))?.unwrap_or(Duration::from_secs(120)),
            },
            node_status_update_frequency: match opts.node_status_update_frequency {
                Some(d) => d,
                None => duration(f("nodeStatusUpdateFrequency"))?.unwrap_or(Duration::from_secs(10)),
            },
            node_status_report_frequency: duration(f("nodeStatusReportFrequency"))?.unwrap_or(Duration::from_secs(300)),
            node_lease_duration_seconds: fint("nodeLeaseDurationSeconds").map(|v| v as i32).unwrap_or(40),
            sync_frequency: match opts.sync_frequency {
                Some(d) => d,
                None => duration(f("syncFrequency"))?.unwrap_or(Duration::from_secs(60)),
            },
            file_check_frequency: match opts.file_check_frequency {
                Some(d) => d,
                None => duration(f("fileCheckFrequency"))?.unwrap_or(Duration::from_secs(20)),
            },
            pod_logs_dir: fstr("podLogsDir").unwrap_or_else(|| "/var/log/pods".into()).into(),
            container_log_max_size: fstr("containerLogMaxSize").unwrap_or_else(|| "10Mi".into()),
            container_log_max_files: fint("containerLogMaxFiles").map(|v| v as u32).unwrap_or(5),
            serialize_image_pulls: fbool("serializeImagePulls").unwrap_or(true),
            pod_pids_limit: fint("podPidsLimit").unwrap_or(-1),
            configz: Value::Null,
        };
        if cfg.container_log_max_files < 2 {
            return Err(Error::Config("invalid configuration: containerLogMaxFiles must be greater than 1".into()));
        }
        let (high, low) = (cfg.image_gc_high_threshold_percent, cfg.image_gc_low_threshold_percent);
        if !(0..=100).contains(&high) {
            return Err(Error::Config(format!(
                "invalid configuration: imageGCHighThresholdPercent ({high}) must be between 0 and 100, inclusive"
            )));
        }
        if !(0..=100).contains(&low) {
            return Err(Error::Config(format!(
                "invalid configuration: imageGCLowThresholdPercent ({low}) must be between 0 and 100, inclusive"
            )));
        }
        if low >= high {
            return Err(Error::Config(format!(
                "invalid configuration: imageGCLowThresholdPercent ({low}) must be less than imageGCHighThresholdPercent ({high})"
            )));
        }
        if crate::quantity::value(&cfg.container_log_max_size).is_none_or(|v| v < 0) {
            return Err(Error::Config(format!(
                "invalid configuration: containerLogMaxSize ({}) must be a valid quantity",
                cfg.container_log_max_size
            )));
        }
        Ok(Config { configz: cfg.to_configz(), ..cfg })
    }

    /// The effective KubeletConfiguration, as `/configz` serves it.
    fn to_configz(&self) -> Value {
        let d = |d: Duration| Value::String(format_go_duration(d));
        serde_json::json!({
            "kind": "KubeletConfiguration",
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "staticPodPath": self.static_pod_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "syncFrequency": d(self.sync_frequency),
            "fileCheckFrequency": d(self.file_check_frequency),
            "address": self.address,
            "port": self.port,
            "healthzPort": self.healthz_port,
            "healthzBindAddress": self.healthz_bind_address,
            "tlsCertFile": self.server.tls_cert_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "tlsPrivateKeyFile": self.server.tls_private_key_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            "authentication": {
                "x509": {"clientCAFile": self.server.client_ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()},
                "webhook": {"enabled": self.server.webhook_authn, "cacheTTL": d(self.server.webhook_cache_ttl)},
                "anonymous": {"enabled": self.server.anonymous},
            },
            "authorization": {
                "mode": self.server.authz_mode,
                "webhook": {
                    "cacheAuthorizedTTL": d(self.server.authorized_ttl),
                    "cacheUnauthorizedTTL": d(self.server.unauthorized_ttl),
                },
            },
            "enableDebuggingHandlers": self.server.enable_debugging_handlers,
            "enableSystemLogHandler": self.server.enable_system_log_handler,
            "clusterDomain": self.cluster_domain,
            "clusterDNS": self.cluster_dns,
            "nodeStatusUpdateFrequency": d(self.node_status_update_frequency),
            "nodeStatusReportFrequency": d(self.node_status_report_frequency),
            "nodeLeaseDurationSeconds": self.node_lease_duration_seconds,
            "cgroupRoot": self.cgroup_root,
            "cgroupsPerQOS": self.cgroups_per_qos,
            "cgroupDriver": self.cgroup_driver,
            "maxPods": self.max_pods,
            "podPidsLimit": self.pod_pids_limit,
            "resolvConf": self.resolv_conf.display().to_string(),
            "runtimeRequestTimeout": d(self.runtime_request_timeout),
            "evictionHard": self.eviction_hard,
            "evictionSoft": self.eviction_soft,
            "enforceNodeAllocatable": self.enforce_node_allocatable,
            "evictionSoftGracePeriod": self.eviction_soft_grace_period,
            "evictionMinimumReclaim": self.eviction_minimum_reclaim,
            "evictionPressureTransitionPeriod": d(self.eviction_pressure_transition_period),
            "evictionMaxPodGracePeriod": self.eviction_max_pod_grace_period,
            "imageGCHighThresholdPercent": self.image_gc_high_threshold_percent,
            "imageGCLowThresholdPercent": self.image_gc_low_threshold_percent,
            "imageMinimumGCAge": d(self.image_minimum_gc_age),
            "imageMaximumGCAge": d(self.image_maximum_gc_age),
            "containerLogMonitorInterval": d(self.container_log_monitor_interval),
            "kubeReserved": self.kube_reserved,
            "systemReserved": self.system_reserved,
            "failSwapOn": self.fail_swap_on,
            "containerLogMaxSize": self.container_log_max_size,
            "containerLogMaxFiles": self.container_log_max_files,
            "serializeImagePulls": self.serialize_image_pulls,
            "containerRuntimeEndpoint": self.runtime_endpoint,
            "imageServiceEndpoint": self.image_endpoint,
            "podLogsDir": self.pod_logs_dir.display().to_string(),
            "registerNode": self.register_node,
            "rotateCertificates": self.rotate_certificates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        Options::parse_from(std::iter::once("kubelet").chain(args.iter().copied()))
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 50\nclusterDomain: corp.local\nclusterDNS: [10.0.0.10]\nsyncFrequency: 30s\n",
        )
        .unwrap();
        let c =
            Config::load(&opts(&["--config", file.to_str().unwrap(), "--max-pods=20", "--hostname-override=Node-A"]))
                .unwrap();
        assert_eq!(c.max_pods, 20);
        assert_eq!(c.cluster_domain, "corp.local");
        assert_eq!(c.cluster_dns, vec!["10.0.0.10"]);
        assert_eq!(c.sync_frequency, Duration::from_secs(30));
        assert_eq!(c.node_name, "node-a");
        assert_eq!(c.healthz_port, 10248);
        assert_eq!(c.eviction_hard.get("memory.available").map(String::as_str), Some("100Mi"));
        assert_eq!(c.configz["maxPods"], 20);
    }

    #[test]
    fn taints_labels_and_bad_values() {
        let c = Config::load(&opts(&[
            "--register-with-taints=dedicated=infra:NoSchedule,gpu:NoExecute",
            "--node-labels=a=b,c=d",
        ]))
        .unwrap();
        assert_eq!(c.register_with_taints.len(), 2);
        assert_eq!(c.register_with_taints[0].value.as_deref(), Some("infra"));
        assert_eq!(c.register_with_taints[1].key, "gpu");
        assert_eq!(c.node_labels.get("c").map(String::as_str), Some("d"));
        let err = Config::load(&opts(&["--register-with-taints=a=b:Sometimes"])).unwrap_err().to_string();
        assert!(err.contains("invalid taint effect"), "{err}");
        let err = Config::load(&opts(&["--cgroup-driver=other"])).unwrap_err().to_string();
        assert!(err.contains("cgroupDriver"), "{err}");
    }
}
