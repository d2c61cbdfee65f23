//! kube-proxy: programs this node's netfilter so that Service addresses (cluster IPs,
//! NodePorts, external and load-balancer IPs) reach the Services' endpoints. Informers on
//! Services, EndpointSlices and the Node feed a change tracker; a rate-limited runner syncs
//! the changed Services into iptables (`iptables-restore`) or nftables (`nft -f`).

pub mod conntrack;
pub mod health;
pub mod iptables;
pub mod metrics;
pub mod model;
pub mod netfilter;
pub mod nfnl;
pub mod nftables;
pub mod objects;
pub mod options;
pub mod runner;
pub mod state;

use component_base::Informer;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::runtime::watcher;
use model::NodeInfo;
use objects::{EndpointSlice, Service};
use options::{Options, ProxyConfig};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Errors that stop kube-proxy or fail a sync.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Exec(String),
    #[error("{0}")]
    Restore(String),
    #[error(transparent)]
    Base(#[from] component_base::Error),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// The node's addresses as upstream picks them: InternalIPs, then ExternalIPs.
fn node_ipv4(node: &Node) -> Option<Ipv4Addr> {
    let addrs = node.status.as_ref()?.addresses.as_ref()?;
    ["InternalIP", "ExternalIP"]
        .iter()
        .flat_map(|t| addrs.iter().filter(move |a| a.type_ == *t))
        .find_map(|a| a.address.parse().ok())
}

/// Whether the node may take load-balancer traffic (not being deleted or scaled away).
fn node_eligible(node: &Node) -> bool {
    node.metadata.deletion_timestamp.is_none()
        && !node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|t| t.iter().any(|t| t.key == "ToBeDeletedByClusterAutoscaler"))
}

fn node_info(name: &str, node: Option<&Node>) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        zone: node.and_then(|n| n.metadata.labels.as_ref()?.get("topology.kubernetes.io/zone").cloned()),
    }
}

/// Sets the conntrack sysctls of the configuration (upstream's `conntrack.go`).
fn conntrack_sysctls(cfg: &ProxyConfig) -> Result<(), Error> {
    let c = &cfg.linux.conntrack;
    if c.max_per_core > 0 {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as i64;
        let max = (i64::from(c.max_per_core) * cpus).max(i64::from(c.min));
        tracing::info!(nf_conntrack_max = max, "Setting nf_conntrack_max");
        netfilter::ensure_sysctl("net/netfilter/nf_conntrack_max", max)?;
    }
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if !c.tcp_established_timeout.is_zero() {
        netfilter::ensure_sysctl(
            "net/netfilter/nf_conntrack_tcp_timeout_established",
            secs(c.tcp_established_timeout),
        )?;
    }
    if !c.tcp_close_wait_timeout.is_zero() {
        netfilter::ensure_sysctl("net/netfilter/nf_conntrack_tcp_timeout_close_wait", secs(c.tcp_close_wait_timeout))?;
    }
    if c.tcp_be_liberal {
        netfilter::ensure_sysctl("net/netfilter/nf_conntrack_tcp_be_liberal", 1)?;
    }
    if !c.udp_timeout.is_zero() {
        netfilter::ensure_sysctl("net/netfilter/nf_conntrack_udp_timeout", secs(c.udp_timeout))?;
    }
    if !c.udp_stream_timeout.is_zero() {
        netfilter::ensure_sysctl("net/netfilter/nf_conntrack_udp_timeout_stream", secs(c.udp_stream_timeout))?;
    }
    Ok(())
}

/// Runs kube-proxy until SIGTERM or SIGINT (or exits after `--cleanup`, `--write-config-to`
/// and `--init-only`).
pub async fn run(opts: Options) -> Result<(), Error> {
    component_base::init_logging(opts.log.verbosity);
    let mut cfg = ProxyConfig::load(&opts)?;
    if let Some(path) = &opts.write_config_to {
        std::fs::write(path, write_config(&cfg)).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        tracing::info!(file = %path.display(), "Wrote configuration");
        return Ok(());
    }
    if opts.cleanup {
        let (a, b) = (iptables::cleanup().await, nftables::cleanup().await);
        return a.and(b).map_err(|e| Error::Config(format!("encountered an error while tearing down rules: {e}")));
    }
    let nft =
        match cfg.mode.as_str() {
            "ipvs" => return Err(Error::Config(
                "can't use the IPVS proxier: Ipvs not supported (this kernel has no IP_VS: \"Protocol not available\")"
                    .into(),
            )),
            "nftables" => true,
            _ => false,
        };
    // The other mode's rules go (best effort), as upstream's platformCleanup.
    let _ = if nft { iptables::cleanup().await } else { nftables::cleanup().await };
    let node_name = if cfg.hostname_override.is_empty() {
        rustix::system::uname().nodename().to_string_lossy().trim().to_lowercase()
    } else {
        cfg.hostname_override.clone()
    };
    if node_name.is_empty() {
        return Err(Error::Config("empty hostname is invalid".into()));
    }
    let flags = component_base::flags::ClientFlags {
        kubeconfig: (!cfg.client_connection.kubeconfig.is_empty())
            .then(|| cfg.client_connection.kubeconfig.clone().into()),
        master: opts.master.clone(),
        kube_api_qps: Some(cfg.client_connection.qps),
        kube_api_burst: u32::try_from(cfg.client_connection.burst).ok(),
        kube_api_content_type: cfg.client_connection.content_type.clone(),
    };
    let rest = component_base::client::config(&flags).await?;
    let ua = component_base::client::user_agent("kube-proxy", None);
    let client = component_base::client::build(
        rest,
        &ua,
        cfg.client_connection.qps,
        u32::try_from(cfg.client_connection.burst).unwrap_or(10),
    )?;

    // The node's primary IP: from its Node object (retried ~31 s), unless --bind-address says.
    let nodes_api: Api<Node> = Api::all(client.clone());
    let mut node_ip = None;
    let mut delay = Duration::from_secs(1);
    for attempt in 0..6 {
        match nodes_api.get(&node_name).await {
            Ok(n) => {
                node_ip = node_ipv4(&n);
                if node_ip.is_some() {
                    break;
                }
                tracing::error!(node = %node_name, "Failed to retrieve node IPs");
            }
            Err(e) => tracing::error!(node = %node_name, error = %e, "Failed to retrieve node info"),
        }
        if attempt < 5 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    if let Some(ip) = node_ip {
        tracing::info!(IPs = %ip, "Successfully retrieved node IP(s)");
    }
    if let Ok(std::net::IpAddr::V4(b)) = cfg.bind_address.parse::<std::net::IpAddr>() {
        if !b.is_unspecified() {
            node_ip = Some(b);
        }
    }
    if node_ip.is_none() {
        tracing::warn!("Can't determine this node's IP, assuming loopback; if this is incorrect, please set the --bind-address flag");
    }
    if cfg.node_port_addresses.as_deref() == Some(&["primary".to_string()][..]) {
        cfg.node_port_addresses =
            Some(node_ip.iter().filter(|ip| !ip.is_loopback()).map(|ip| format!("{ip}/32")).collect());
    }

    if let Some(adj) = cfg.linux.oom_score_adj {
        if let Err(e) = std::fs::write("/proc/self/oom_score_adj", adj.to_string()) {
            tracing::debug!(error = %e, "Failed to apply OOMScore");
        }
    }
    conntrack_sysctls(&cfg)?;
    let detector = match cfg.detect_local_mode.as_str() {
        "ClusterCIDR" => match cfg.detect_local.cluster_cidrs.iter().flatten().find(|c| !c.contains(':')) {
            Some(c) => iptables::LocalDetector::Cidr(
                c.parse::<ipnet::Ipv4Net>().map(|n| n.trunc().to_string()).unwrap_or_else(|_| c.clone()),
            ),
            None => {
                tracing::info!(
                    "Detect-local-mode set to ClusterCIDR, but no cluster CIDR specified for primary IP family"
                );
                iptables::LocalDetector::None
            }
        },
        "NodeCIDR" => {
            let cidr = wait_pod_cidr(&nodes_api, &node_name).await?;
            iptables::LocalDetector::Cidr(cidr)
        }
        "BridgeInterface" => iptables::LocalDetector::Interface(cfg.detect_local.bridge_interface.clone()),
        _ => iptables::LocalDetector::InterfacePrefix(cfg.detect_local.interface_name_prefix.clone()),
    };
    let nodeport_addresses =
        iptables::NodePortAddresses::parse(&cfg.node_port_addresses.clone().unwrap_or_default(), node_ip)
            .map_err(Error::Config)?;
    let localhost_nodeports = !nft && cfg.iptables.localhost_node_ports && nodeport_addresses.contains_loopback();
    if localhost_nodeports {
        tracing::info!("Setting route_localnet=1 to allow node-ports on localhost; to change this either disable iptables.localhostNodePorts (--iptables-localhost-nodeports) or set nodePortAddresses (--nodeport-addresses) to filter loopback addresses");
        netfilter::ensure_sysctl("net/ipv4/conf/all/route_localnet", 1)?;
    }
    let conntrack_liberal = netfilter::read_sysctl("net/netfilter/nf_conntrack_tcp_be_liberal").unwrap_or(0) != 0;
    let pcfg = iptables::Config {
        mark: iptables::Config::mark_for_bit(cfg.masquerade_bit()),
        detector,
        masquerade_all: cfg.linux.masquerade_all,
        localhost_nodeports: !nft && cfg.iptables.localhost_node_ports,
        node_ip,
        nodeport_addresses,
        random_fully: true,
        conntrack_liberal,
        nfacct: false,
    };
    let proxier = if nft {
        nftables::Proxier::check().await?;
        tracing::info!("Using nftables Proxier");
        Proxier::Nftables(nftables::Proxier::new(pcfg))
    } else {
        if !netfilter::Iptables::default().available().await {
            return Err(Error::Config("iptables is not available on this host".into()));
        }
        tracing::info!("Using iptables Proxier");
        Proxier::Iptables(iptables::Proxier::new(pcfg))
    };
    if opts.init_only {
        tracing::info!("System initialized and --init-only specified");
        return Ok(());
    }
    metrics::register(&cfg.mode);

    let health = health::Health::new(cfg.sync_period * 2);
    if !cfg.healthz_bind_address.is_empty() {
        health::serve_healthz(&cfg.healthz_bind_address, health.clone()).await?;
    }
    let configz = serde_json::json!({ "kubeproxy.config.k8s.io": &cfg }).to_string();
    health::serve_metrics(&cfg.metrics_bind_address, cfg.mode.clone(), configz).await?;

    let ready = Arc::new(AtomicBool::new(false));
    let trigger = {
        let (h, ready) = (health.clone(), ready.clone());
        runner::Trigger::with_hook(move || {
            if ready.load(Ordering::Relaxed) {
                h.queued();
                metrics::LAST_QUEUED.with_label_values(&[metrics::IPV4]).set(metrics::now_seconds());
            }
        })
    };
    let selector = model::INFORMER_SELECTOR;
    let services: Informer<Service> =
        Informer::new("services", Api::all(client.clone()), watcher::Config::default().labels(selector).any_semantic());
    let slices: Informer<EndpointSlice> = Informer::new(
        "endpointslices",
        Api::all(client.clone()),
        watcher::Config::default().labels(selector).any_semantic(),
    );
    let nodes: Informer<Node> = Informer::new(
        "nodes",
        Api::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={node_name}")).any_semantic(),
    );
    // The caches keep only what the proxier reads (see `objects`); managed fields, owner
    // references and kubectl's last-applied annotation come with the metadata and go here.
    services.set_transform(|s: &mut Service| {
        let m = &mut s.metadata;
        (m.managed_fields, m.annotations, m.labels, m.owner_references) = (None, None, None, None);
        (m.uid, m.creation_timestamp, m.generation) = (None, None, None);
        s.shrink();
    });
    slices.set_transform(|s: &mut EndpointSlice| {
        let m = &mut s.metadata;
        (m.managed_fields, m.owner_references) = (None, None);
        (m.uid, m.creation_timestamp, m.generation, m.generate_name) = (None, None, None, None);
        s.service_name = m.labels.take().and_then(|mut l| l.remove(model::SERVICE_NAME_LABEL));
        s.trigger_time = m.annotations.take().and_then(|mut a| a.remove(state::TRIGGER_TIME_ANNOTATION));
        s.shrink();
    });
    let tracker = state::Tracker::new(services.clone(), slices.clone(), trigger.clone());
    let node_changed = Arc::new(AtomicBool::new(false));
    {
        let (h, changed, t) = (health.clone(), node_changed.clone(), trigger.clone());
        let zone = Arc::new(Mutex::new(None::<Option<String>>));
        nodes.add_handler(move |c: component_base::Change<'_, Node>| {
            let n = match c {
                component_base::Change::Added(n) | component_base::Change::Deleted(n) => n,
                component_base::Change::Updated { new, .. } => new,
            };
            h.set_node_eligible(node_eligible(n));
            let z = n.metadata.labels.as_ref().and_then(|l| l.get("topology.kubernetes.io/zone").cloned());
            let mut last = zone.lock().unwrap_or_else(|e| e.into_inner());
            if last.as_ref().is_some_and(|l| *l != z) {
                changed.store(true, Ordering::Relaxed);
                t.run();
            }
            *last = Some(z);
        });
    }
    services.start();
    slices.start();
    nodes.start();
    tracing::info!("Starting service config controller");
    tracing::info!("Starting endpoint slice config controller");
    services.wait_synced().await;
    slices.wait_synced().await;
    ready.store(true, Ordering::Relaxed);

    let broadcaster = component_base::eventsv1::broadcaster(client.clone());
    let recorder = broadcaster.new_recorder("kube-proxy");
    let node_ref = Node {
        metadata: kube::api::ObjectMeta {
            name: Some(node_name.clone()),
            uid: Some(node_name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    recorder.eventf(&node_ref, None, "Normal", "Starting", "StartKubeProxy", "");

    if !nft {
        iptables::ensure_canary().await?;
    }
    let syncer = Arc::new(tokio::sync::Mutex::new(Syncer {
        node_name,
        nodes: nodes.clone(),
        tracker,
        proxier,
        health: health.clone(),
        service_health: health::ServiceHealth::new(health.clone()),
        node_changed: node_changed.clone(),
        recorder,
        sync_period: cfg.sync_period,
    }));
    // The canary: when someone flushes the tables, everything is written again.
    if !nft {
        let (changed, t, period) = (node_changed.clone(), trigger.clone(), cfg.sync_period);
        tokio::spawn(async move {
            let ipt = netfilter::Iptables::default();
            loop {
                tokio::time::sleep(period).await;
                if matches!(ipt.chain_exists("mangle", iptables::KUBE_PROXY_CANARY).await, Ok(false)) {
                    tracing::info!("iptables canary mangle/KUBE-PROXY-CANARY deleted; resyncing");
                    let _ = iptables::ensure_canary().await;
                    changed.store(true, Ordering::Relaxed);
                    t.run();
                }
            }
        });
    }
    health.updated();
    metrics::LAST_QUEUED.with_label_values(&[metrics::IPV4]).set(metrics::now_seconds());
    let loop_ = runner::run(trigger, cfg.min_sync_period, runner::FULL_SYNC_PERIOD, move || {
        let s = syncer.clone();
        async move { s.lock().await.sync_once().await }
    });
    tokio::select! {
        _ = loop_ => {}
        _ = component_base::shutdown_signal() => {}
    }
    Ok(())
}

/// Waits (up to 5 minutes) for the Node's pod CIDR, for `--detect-local-mode=NodeCIDR`.
async fn wait_pod_cidr(api: &Api<Node>, name: &str) -> Result<String, Error> {
    tracing::info!(hostname = name, "Watching for node, awaiting podCIDR allocation");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(n) = api.get(name).await {
            let spec = n.spec.unwrap_or_default();
            if let Some(c) = spec.pod_cidrs.unwrap_or_default().into_iter().find(|c| !c.contains(':')) {
                tracing::info!(podCIDRs = %c, "NodeInfo");
                return Ok(c);
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Config(
                "timeout waiting for PodCIDR allocation to configure detect-local-mode NodeCIDR: timed out waiting for the condition".into(),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `--write-config-to`: the resolved configuration as a v1alpha1 file.
fn write_config(cfg: &ProxyConfig) -> String {
    let d = component_base::flags::format_go_duration;
    let c = &cfg.linux.conntrack;
    let (ipt_sync, ipt_min, nft_sync, nft_min) = if cfg.mode == "nftables" {
        ("0s".to_string(), "0s".to_string(), d(cfg.sync_period), d(cfg.min_sync_period))
    } else {
        (d(cfg.sync_period), d(cfg.min_sync_period), "0s".to_string(), "0s".to_string())
    };
    let v = serde_json::json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": cfg.bind_address,
        "bindAddressHardFail": cfg.bind_address_hard_fail,
        "clientConnection": {"acceptContentTypes": cfg.client_connection.accept_content_types, "burst": cfg.client_connection.burst,
            "contentType": cfg.client_connection.content_type, "kubeconfig": cfg.client_connection.kubeconfig, "qps": cfg.client_connection.qps},
        "clusterCIDR": cfg.detect_local.cluster_cidrs.clone().unwrap_or_default().join(","),
        "configSyncPeriod": d(cfg.config_sync_period),
        "conntrack": {"maxPerCore": c.max_per_core, "min": c.min, "tcpBeLiberal": c.tcp_be_liberal,
            "tcpCloseWaitTimeout": d(c.tcp_close_wait_timeout), "tcpEstablishedTimeout": d(c.tcp_established_timeout),
            "udpStreamTimeout": d(c.udp_stream_timeout), "udpTimeout": d(c.udp_timeout)},
        "detectLocal": {"bridgeInterface": cfg.detect_local.bridge_interface, "interfaceNamePrefix": cfg.detect_local.interface_name_prefix},
        "detectLocalMode": cfg.detect_local_mode,
        "enableProfiling": cfg.enable_profiling,
        "healthzBindAddress": cfg.healthz_bind_address,
        "hostnameOverride": cfg.hostname_override,
        "iptables": {"localhostNodePorts": cfg.iptables.localhost_node_ports, "masqueradeAll": cfg.mode != "nftables" && cfg.linux.masquerade_all,
            "masqueradeBit": cfg.iptables.masquerade_bit, "minSyncPeriod": ipt_min, "syncPeriod": ipt_sync},
        "metricsBindAddress": cfg.metrics_bind_address,
        "mode": cfg.mode,
        "nftables": {"masqueradeAll": cfg.mode == "nftables" && cfg.linux.masquerade_all, "masqueradeBit": cfg.nftables.masquerade_bit,
            "minSyncPeriod": nft_min, "syncPeriod": nft_sync},
        "nodePortAddresses": cfg.node_port_addresses,
        "oomScoreAdj": cfg.linux.oom_score_adj,
        "portRange": "",
        "showHiddenMetricsForVersion": "",
    });
    serde_saphyr::to_string(&v).unwrap_or_default()
}

/// The mode's proxier.
enum Proxier {
    Iptables(iptables::Proxier),
    Nftables(nftables::Proxier),
}

impl Proxier {
    fn force_full(&mut self) {
        match self {
            Proxier::Iptables(p) => p.force_full(),
            Proxier::Nftables(p) => p.force_full(),
        }
    }

    async fn sync(
        &mut self,
        node: &NodeInfo,
        state: &state::ProxyState,
        changed: &std::collections::BTreeSet<state::ServiceKey>,
    ) -> Result<iptables::Synced, Error> {
        match self {
            Proxier::Iptables(p) => p.sync(node, state, changed).await,
            Proxier::Nftables(p) => p.sync(node, state, changed).await,
        }
    }
}

/// One sync's worth of state, behind the runner.
struct Syncer {
    node_name: String,
    nodes: Informer<Node>,
    tracker: state::Tracker,
    proxier: Proxier,
    health: Arc<health::Health>,
    service_health: health::ServiceHealth,
    node_changed: Arc<AtomicBool>,
    recorder: component_base::eventsv1::Recorder,
    sync_period: Duration,
}

impl Syncer {
    async fn sync_once(&mut self) -> runner::Outcome {
        let started = std::time::Instant::now();
        let node = self.nodes.get("", &self.node_name);
        let info = node_info(&self.node_name, node.as_deref());
        let all = self.node_changed.swap(false, Ordering::Relaxed);
        if all {
            self.proxier.force_full();
        }
        let up = self.tracker.update(&info, all);
        metrics::SERVICE_CHANGES.inc_by(up.changed.len() as u64);
        for ((ns, name), why) in &up.newly_rejected {
            tracing::error!(service = %format!("{ns}/{name}"), error = %why, "Skipping service: its rules cannot be written");
            let svc = Service {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                },
                ..Default::default()
            };
            self.recorder.eventf(&svc, None, "Warning", "FailedToProgramService", "Sync", why.clone());
        }
        let res = self.proxier.sync(&info, &self.tracker.state, &up.changed).await;
        let elapsed = started.elapsed().as_secs_f64();
        let fam = metrics::IPV4;
        metrics::SYNC_DURATION.with_label_values(&[fam]).observe(elapsed);
        match res {
            Ok(s) => {
                let h = if s.full { &metrics::SYNC_FULL_DURATION } else { &metrics::SYNC_PARTIAL_DURATION };
                h.with_label_values(&[fam]).observe(elapsed);
                tracing::debug!(full = s.full, changed = up.changed.len(), elapsed, "SyncProxyRules complete");
                metrics::LAST_SYNC.with_label_values(&[fam]).set(metrics::now_seconds());
                metrics::NO_LOCAL.with_label_values(&[fam, "internal"]).set(s.no_local.0 as i64);
                metrics::NO_LOCAL.with_label_values(&[fam, "external"]).set(s.no_local.1 as i64);
                let now = jiff::Timestamp::now();
                for t in &up.triggers {
                    let secs = now.duration_since(*t).as_secs_f64();
                    metrics::NETWORK_PROGRAMMING.with_label_values(&[fam]).observe(secs.max(0.0));
                }
                self.health.updated();
                self.sync_health_checks().await;
                if up.udp_changed {
                    conntrack::clean_stale(&self.tracker.state).await;
                }
                runner::Outcome::Done
            }
            Err(e) => {
                tracing::error!(error = %e, "Sync failed");
                runner::Outcome::RetryAfter(self.sync_period)
            }
        }
    }

    async fn sync_health_checks(&mut self) {
        let mut want = BTreeMap::new();
        for (key, ports) in &self.tracker.state {
            for (svc, eps) in ports {
                // Set only on LoadBalancers with a Local external policy (validation).
                if svc.health_check_node_port == 0 {
                    continue;
                }
                let local: std::collections::BTreeSet<Ipv4Addr> =
                    eps.iter().filter(|e| e.is_local && e.ready).map(|e| e.ip).collect();
                let entry = want.entry(key.clone()).or_insert((svc.health_check_node_port, 0usize));
                entry.1 = entry.1.max(local.len());
            }
        }
        for ((ns, name), port, err) in self.service_health.sync(want).await {
            let svc = Service {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    uid: Some(format!("{ns}/{name}")),
                    ..Default::default()
                },
                ..Default::default()
            };
            self.recorder.eventf(
                &svc,
                None,
                "Warning",
                "FailedToStartServiceHealthcheck",
                "Listen",
                format!("node {} failed to start healthcheck \"{ns}/{name}\" on port {port}: {err}", self.node_name),
            );
        }
    }
}
