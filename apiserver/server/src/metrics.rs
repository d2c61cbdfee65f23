//! The apiserver's own metrics, under upstream's names, in the process-wide registry that
//! `/metrics` renders (storage registers its etcd metrics there too).

use once_cell::sync::Lazy;
use prometheus::{
    register_histogram_vec, register_int_counter_vec, register_int_gauge_vec, Encoder, HistogramVec, IntCounterVec,
    IntGaugeVec,
};

pub static REQUEST_TOTAL: Lazy<IntCounterVec> = Lazy::new(|| {
    register_int_counter_vec!(
        "apiserver_request_total",
        "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
        &["code", "component", "dry_run", "group", "resource", "scope", "subresource", "verb", "version"]
    )
    .expect("metric registers once")
});

pub static REQUEST_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    register_histogram_vec!(
        "apiserver_request_duration_seconds",
        "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
        &["component", "dry_run", "group", "resource", "scope", "subresource", "verb", "version"],
        vec![0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0]
    )
    .expect("metric registers once")
});

pub static REGISTERED_WATCHERS: Lazy<IntGaugeVec> = Lazy::new(|| {
    register_int_gauge_vec!(
        "apiserver_registered_watchers",
        "Number of currently registered watchers for a given resources",
        &["group", "version", "kind"]
    )
    .expect("metric registers once")
});

pub static LONGRUNNING: Lazy<IntGaugeVec> = Lazy::new(|| {
    register_int_gauge_vec!(
        "apiserver_longrunning_requests",
        "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
        &["component", "group", "resource", "scope", "subresource", "verb", "version"]
    )
    .expect("metric registers once")
});

/// Forces registration so that `/metrics` lists every family from the start.
pub fn init() {
    Lazy::force(&REQUEST_TOTAL);
    Lazy::force(&REQUEST_DURATION);
    Lazy::force(&REGISTERED_WATCHERS);
    Lazy::force(&LONGRUNNING);
    Lazy::force(&storage::metrics::ETCD_REQUEST_DURATION);
    Lazy::force(&storage::metrics::STORAGE_OBJECTS);
    // Every stored kind shows up with zero watchers, so the family is listed from the start.
    for r in api_types::resources().iter().filter(|r| r.is_stored()) {
        REGISTERED_WATCHERS.with_label_values(&[r.group, r.version, r.kind]).set(0);
    }
}

/// The text exposition of every registered metric.
pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}
