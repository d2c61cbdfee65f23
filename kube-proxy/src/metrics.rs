//! kube-proxy's Prometheus series (subsystem `kubeproxy`), with upstream's names, help texts,
//! labels and buckets, in the process-wide registry `/metrics` serves.

use component_base::metrics::REGISTRY;
use once_cell::sync::Lazy;
use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts};

fn reg<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn hist(name: &str, help: &str, buckets: Vec<f64>) -> HistogramVec {
    reg(HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), &["ip_family"]).expect("metric"))
}

fn sync_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.001, 2.0, 15).expect("buckets")
}

pub static SYNC_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    hist("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", sync_buckets())
});
pub static SYNC_FULL_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    hist(
        "kubeproxy_sync_full_proxy_rules_duration_seconds",
        "SyncProxyRules latency in seconds for full resyncs",
        sync_buckets(),
    )
});
pub static SYNC_PARTIAL_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    hist(
        "kubeproxy_sync_partial_proxy_rules_duration_seconds",
        "SyncProxyRules latency in seconds for partial resyncs",
        sync_buckets(),
    )
});
pub static NETWORK_PROGRAMMING: Lazy<HistogramVec> = Lazy::new(|| {
    let mut b = vec![0.25, 0.5];
    b.extend((1..=59).map(f64::from));
    b.extend((0..12).map(|i| 60.0 + 5.0 * f64::from(i)));
    b.extend((0..7).map(|i| 120.0 + 30.0 * f64::from(i)));
    hist("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", b)
});
pub static LAST_SYNC: Lazy<GaugeVec> = Lazy::new(|| {
    reg(GaugeVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
        ),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static LAST_QUEUED: Lazy<GaugeVec> = Lazy::new(|| {
    reg(GaugeVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
        ),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static SERVICE_CHANGES: Lazy<IntCounter> = Lazy::new(|| {
    reg(IntCounter::new("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes")
        .expect("metric"))
});
pub static ENDPOINT_CHANGES: Lazy<IntCounter> = Lazy::new(|| {
    reg(IntCounter::new("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes")
        .expect("metric"))
});
pub static NO_LOCAL: Lazy<IntGaugeVec> = Lazy::new(|| {
    reg(IntGaugeVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
            "Number of services with a Local traffic policy and no endpoints",
        ),
        &["ip_family", "traffic_policy"],
    )
    .expect("metric"))
});
pub static RESTORE_FAILURES: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
            "Cumulative proxy iptables restore failures",
        ),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static PARTIAL_RESTORE_FAILURES: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
            "Cumulative proxy iptables partial restore failures",
        ),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static IPTABLES_TOTAL: Lazy<IntGaugeVec> = Lazy::new(|| {
    reg(IntGaugeVec::new(
        Opts::new("kubeproxy_sync_proxy_rules_iptables_total", "Total number of iptables rules owned by kube-proxy"),
        &["ip_family", "table"],
    )
    .expect("metric"))
});
pub static IPTABLES_LAST: Lazy<IntGaugeVec> = Lazy::new(|| {
    reg(IntGaugeVec::new(
        Opts::new(
            "kubeproxy_sync_proxy_rules_iptables_last",
            "Number of iptables rules written by kube-proxy in last sync",
        ),
        &["ip_family", "table"],
    )
    .expect("metric"))
});
pub static NFT_SYNC_FAILURES: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(
        Opts::new("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures"),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static CONNTRACK_DELETED: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(
        Opts::new(
            "kubeproxy_conntrack_reconciler_deleted_entries_total",
            "Cumulative conntrack flows deleted by conntrack reconciler",
        ),
        &["ip_family"],
    )
    .expect("metric"))
});
pub static CONNTRACK_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    hist(
        "kubeproxy_conntrack_reconciler_sync_duration_seconds",
        "ReconcileConntrackFlowsLatency latency in seconds",
        sync_buckets(),
    )
});
static HEALTHZ: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(
        Opts::new("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status"),
        &["code"],
    )
    .expect("metric"))
});
static LIVEZ: Lazy<IntCounterVec> = Lazy::new(|| {
    reg(IntCounterVec::new(Opts::new("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status"), &["code"])
        .expect("metric"))
});

pub const IPV4: &str = "IPv4";

/// Registers the series of every mode and of `mode`, so that they show before the first sync.
pub fn register(mode: &str) {
    Lazy::force(&SYNC_DURATION);
    Lazy::force(&NETWORK_PROGRAMMING);
    LAST_SYNC.with_label_values(&[IPV4]);
    LAST_QUEUED.with_label_values(&[IPV4]);
    Lazy::force(&SERVICE_CHANGES);
    Lazy::force(&ENDPOINT_CHANGES);
    NO_LOCAL.with_label_values(&[IPV4, "internal"]);
    NO_LOCAL.with_label_values(&[IPV4, "external"]);
    Lazy::force(&HEALTHZ);
    Lazy::force(&LIVEZ);
    Lazy::force(&CONNTRACK_DELETED);
    Lazy::force(&CONNTRACK_DURATION);
    match mode {
        "nftables" => {
            NFT_SYNC_FAILURES.with_label_values(&[IPV4]);
        }
        _ => {
            Lazy::force(&SYNC_FULL_DURATION);
            Lazy::force(&SYNC_PARTIAL_DURATION);
            RESTORE_FAILURES.with_label_values(&[IPV4]);
            PARTIAL_RESTORE_FAILURES.with_label_values(&[IPV4]);
            for t in ["filter", "nat"] {
                IPTABLES_TOTAL.with_label_values(&[IPV4, t]);
                IPTABLES_LAST.with_label_values(&[IPV4, t]);
            }
        }
    }
}

pub fn healthz_request(healthz: bool, code: u16) {
    let c = code.to_string();
    if healthz {
        HEALTHZ.with_label_values(&[&c]).inc();
    } else {
        LIVEZ.with_label_values(&[&c]).inc();
    }
}

pub fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
