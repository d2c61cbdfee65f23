//! Storage metrics, registered in the process-wide default Prometheus registry under
//! upstream's names.

use once_cell::sync::Lazy;
use prometheus::{register_histogram_vec, register_int_gauge_vec, HistogramVec, IntGaugeVec};

pub static ETCD_REQUEST_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    register_histogram_vec!(
        "etcd_request_duration_seconds",
        "Etcd request latency in seconds for each operation and object type.",
        &["operation", "type"],
        vec![
            0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
            20.0, 30.0, 45.0, 60.0
        ]
    )
    .expect("metric registers once")
});

pub static STORAGE_OBJECTS: Lazy<IntGaugeVec> = Lazy::new(|| {
    register_int_gauge_vec!(
        "apiserver_storage_objects",
        "Number of stored objects at the time of last check split by kind.",
        &["resource"]
    )
    .expect("metric registers once")
});

pub static WATCH_CACHE_EVENTS: Lazy<IntGaugeVec> = Lazy::new(|| {
    register_int_gauge_vec!(
        "watch_cache_capacity",
        "Total capacity of watch cache broken by resource type.",
        &["resource"]
    )
    .expect("metric registers once")
});

/// Times one etcd operation.
pub fn timer(op: &str, ty: &str) -> prometheus::HistogramTimer {
    ETCD_REQUEST_DURATION.with_label_values(&[op, ty]).start_timer()
}
