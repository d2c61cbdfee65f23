//! The scheduler's metrics, with upstream's names, labels and buckets.

use component_base::metrics::REGISTRY;
use once_cell::sync::Lazy;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};
use std::time::Duration;

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    // Registration fails only for a duplicate name, which the statics below cannot produce.
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

fn exponential(start: f64, factor: f64, count: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, factor, count).unwrap_or_default()
}

static ATTEMPTS: Lazy<IntCounterVec> = Lazy::new(|| {
    register(
        IntCounterVec::new(
            Opts::new("scheduler_schedule_attempts_total", "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem."),
            &["result", "profile"],
        )
        .expect("metric"),
    )
});

static ATTEMPT_DURATION: Lazy<HistogramVec> = Lazy::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new(
                "scheduler_scheduling_attempt_duration_seconds",
                "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            )
            .buckets(exponential(0.001, 2.0, 15)),
            &["result", "profile"],
        )
        .expect("metric"),
    )
});

static SLI: Lazy<HistogramVec> = Lazy::new(|| {
    register(
        HistogramVec::new(
            HistogramOpts::new("scheduler_pod_scheduling_sli_duration_seconds", "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.")
                .buckets(exponential(0.01, 2.0, 20)),
            &["attempts"],
        )
        .expect("metric"),
    )
});

static PENDING: Lazy<IntGaugeVec> = Lazy::new(|| {
    register(
        IntGaugeVec::new(Opts::new("scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated."), &["queue"])
            .expect("metric"),
    )
});

static PREEMPTION_VICTIMS: Lazy<prometheus::Histogram> = Lazy::new(|| {
    register(
        prometheus::Histogram::with_opts(
            HistogramOpts::new("scheduler_preemption_victims", "Number of selected preemption victims")
                .buckets(exponential(1.0, 2.0, 7)),
        )
        .expect("metric"),
    )
});

static PREEMPTION_ATTEMPTS: Lazy<prometheus::IntCounter> = Lazy::new(|| {
    register(
        prometheus::IntCounter::new(
            "scheduler_preemption_attempts_total",
            "Total preemption attempts in the cluster till now",
        )
        .expect("metric"),
    )
});

pub fn preemption_victims(n: usize) {
    PREEMPTION_VICTIMS.observe(n as f64);
}

pub fn preemption_attempt() {
    PREEMPTION_ATTEMPTS.inc();
}

pub fn attempt(result: &str, profile: &str, took: Duration) {
    ATTEMPTS.with_label_values(&[result, profile]).inc();
    ATTEMPT_DURATION.with_label_values(&[result, profile]).observe(took.as_secs_f64());
}

pub fn sli(took: Duration, attempts: u32) {
    SLI.with_label_values(&[&attempts.to_string()]).observe(took.as_secs_f64());
}

pub fn pending(p: &crate::queue::Pending) {
    for (q, n) in [("active", p.active), ("backoff", p.backoff), ("unschedulable", p.unschedulable), ("gated", p.gated)]
    {
        PENDING.with_label_values(&[q]).set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}
