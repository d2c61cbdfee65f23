//! Process-wide Prometheus metrics shared by every daemon: upstream's workqueue and
//! leader-election series, served by `/metrics` in the text format.

use once_cell::sync::Lazy;
use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// The registry `/metrics` serves; daemons register their own series here too.
pub static REGISTRY: Lazy<Registry> = Lazy::new(Registry::new);

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    // Registration fails only for a duplicate name, which the statics below cannot produce.
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

static WQ_ADDS: Lazy<IntCounterVec> = Lazy::new(|| {
    register(
        IntCounterVec::new(Opts::new("workqueue_adds_total", "Total number of adds handled by workqueue"), &["name"])
            .expect("metric"),
    )
});
static WQ_DEPTH: Lazy<IntGaugeVec> = Lazy::new(|| {
    register(IntGaugeVec::new(Opts::new("workqueue_depth", "Current depth of workqueue"), &["name"]).expect("metric"))
});
static WQ_RETRIES: Lazy<IntCounterVec> = Lazy::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("workqueue_retries_total", "Total number of retries handled by workqueue"),
            &["name"],
        )
        .expect("metric"),
    )
});
static LEADER: Lazy<IntGauge> = Lazy::new(|| {
    register(
        IntGauge::new(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.",
        )
        .expect("metric"),
    )
});

static REST_REQUESTS: Lazy<IntCounterVec> = Lazy::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "rest_client_requests_total",
                "Number of HTTP requests, partitioned by status code, method, and host.",
            ),
            &["code", "host", "method"],
        )
        .expect("metric"),
    )
});

/// One request of the daemon's API clients (upstream's client-go metric).
pub(crate) fn rest_request(code: &str, host: &str, method: &str) {
    REST_REQUESTS.with_label_values(&[code, host, method]).inc();
}

pub(crate) fn workqueue_added(name: &str, depth: usize) {
    WQ_ADDS.with_label_values(&[name]).inc();
    WQ_DEPTH.with_label_values(&[name]).set(i64::try_from(depth).unwrap_or(i64::MAX));
}

/// Also called when a queue is made, so that its series exist from the start.
pub(crate) fn workqueue_depth(name: &str, depth: usize) {
    WQ_ADDS.with_label_values(&[name]);
    WQ_RETRIES.with_label_values(&[name]);
    WQ_DEPTH.with_label_values(&[name]).set(i64::try_from(depth).unwrap_or(i64::MAX));
}

pub(crate) fn workqueue_retry(name: &str) {
    WQ_RETRIES.with_label_values(&[name]).inc();
}

pub(crate) fn set_leader(leading: bool) {
    LEADER.set(i64::from(leading));
}

/// Everything registered, in Prometheus' text format.
pub fn gather_text() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
