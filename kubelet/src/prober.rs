//! Liveness, readiness and startup probes: one task per (container, probe), started when the
//! container runs, as upstream's probe workers. Each runs its handler (exec through CRI,
//! httpGet, tcpSocket, grpc) every `periodSeconds` after `initialDelaySeconds`, and flips its
//! result after `successThreshold` successes or `failureThreshold` failures. A change wakes the
//! pod's worker, which reports readiness, and restarts a container whose liveness or startup
//! probe failed.

use crate::cri::{api, Cri};
use crate::pod;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// What one probe run found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// Failed, with the output upstream puts in the Unhealthy event.
    Failure(String),
    /// Could not run (the event says "errored"); does not count.
    Error(String),
}

/// (pod uid, container name, probe kind).
type Key = (String, String, Kind);

struct Worker {
    container_id: String,
    /// The pod's name and namespace, for its metric series.
    pod: (String, String),
    /// None until the probe has decided.
    result: Option<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What the probes tell the kubelet.
pub enum ProbeEvent<'a> {
    /// One run failed or errored: the Unhealthy event's message.
    Unhealthy { uid: &'a str, container: &'a str, message: String },
    /// A probe's result changed: the pod should be synced.
    Changed { uid: &'a str },
}

pub type OnResult = Arc<dyn Fn(ProbeEvent<'_>) + Send + Sync>;

/// The registry `/metrics/probes` serves (upstream's prober metrics).
pub static PROBE_METRICS: once_cell::sync::Lazy<prometheus::Registry> =
    once_cell::sync::Lazy::new(prometheus::Registry::new);

static PROBE_TOTAL: once_cell::sync::Lazy<prometheus::IntCounterVec> = once_cell::sync::Lazy::new(|| {
    let c = prometheus::IntCounterVec::new(
        prometheus::Opts::new(
            "prober_probe_total",
            "[BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.",
        ),
        &["probe_type", "result", "container", "pod", "namespace", "pod_uid"],
    )
    .expect("metric");
    let _ = PROBE_METRICS.register(Box::new(c.clone()));
    c
});

static PROBE_DURATION: once_cell::sync::Lazy<prometheus::HistogramVec> = once_cell::sync::Lazy::new(|| {
    let h = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new(
            "prober_probe_duration_seconds",
            "[ALPHA] Duration in seconds for a probe response.",
        ),
        &["probe_type", "container", "pod", "namespace"],
    )
    .expect("metric");
    let _ = PROBE_METRICS.register(Box::new(h.clone()));
    h
});

/// `/metrics/probes`: the prober series and the process start time, as text.
pub fn probe_metrics_text() -> String {
    use prometheus::Encoder;
    once_cell::sync::Lazy::force(&PROBE_TOTAL);
    once_cell::sync::Lazy::force(&PROBE_DURATION);
    let mut out = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&PROBE_METRICS.gather(), &mut out);
    let mut text = String::from_utf8(out).unwrap_or_default();
    if let Some(start) = process_start_time() {
        text.push_str(&format!(
            "# HELP process_start_time_seconds [ALPHA] Start time of the process since unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start}\n"
        ));
    }
    text
}

/// This process's start (boot time plus its start ticks), in seconds since the epoch.
fn process_start_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    Some(boot + ticks / 100.0)
}

pub struct Prober {
    cri: Cri,
    workers: Arc<Mutex<HashMap<Key, Worker>>>,
    on_result: OnResult,
}

fn probe_of(c: &Container, k: Kind) -> Option<&Probe> {
    match k {
        Kind::Liveness => c.liveness_probe.as_ref(),
        Kind::Readiness => c.readiness_probe.as_ref(),
        Kind::Startup => c.startup_probe.as_ref(),
    }
}

impl Prober {
    pub fn new(cri: Cri, on_result: OnResult) -> Prober {
        Prober { cri, workers: Arc::new(Mutex::new(HashMap::new())), on_result }
    }

    /// Starts the probes of a running container (once per container id).
    pub fn ensure(&self, p: &Pod, c: &Container, container_id: &str, pod_ip: Option<String>) {
        let uid = pod::uid(p).to_string();
        for k in [Kind::Startup, Kind::Liveness, Kind::Readiness] {
            let Some(probe) = probe_of(c, k).cloned() else { continue };
            let key = (uid.clone(), c.name.clone(), k);
            let mut workers = self.workers.lock().unwrap();
            if workers.get(&key).is_some_and(|w| w.container_id == container_id) {
                continue;
            }
            if let Some(old) = workers.remove(&key) {
                old.task.abort();
            }
            tracing::debug!(pod = %pod::full_name(p), container = %c.name, probe = k.name(), "starting probe worker");
            let task = tokio::spawn(run(
                self.cri.clone(),
                self.workers.clone(),
                self.on_result.clone(),
                (pod::name(p).to_string(), pod::namespace(p).to_string()),
                key.clone(),
                container_id.to_string(),
                probe,
                c.clone(),
                pod_ip.clone(),
            ));
            let pod = (pod::name(p).to_string(), pod::namespace(p).to_string());
            workers.insert(key, Worker { container_id: container_id.to_string(), pod, result: None, task });
        }
    }

    /// The probe's decided result for this container, if any.
    pub fn result(&self, uid: &str, container: &str, container_id: &str, k: Kind) -> Option<bool> {
        let w = self.workers.lock().unwrap();
        w.get(&(uid.to_string(), container.to_string(), k))
            .filter(|w| w.container_id == container_id)
            .and_then(|w| w.result)
    }

    /// Whether the container (running as `container_id`) is ready: readiness succeeded (or there
    /// is no readiness probe) and, with a startup probe, startup succeeded.
    pub fn ready(&self, uid: &str, c: &Container, container_id: &str) -> bool {
        self.started(uid, c, container_id)
            && (c.readiness_probe.is_none() || self.result(uid, &c.name, container_id, Kind::Readiness) == Some(true))
    }

    /// Whether the container counts as started (its startup probe succeeded, or it has none).
    pub fn started(&self, uid: &str, c: &Container, container_id: &str) -> bool {
        c.startup_probe.is_none() || self.result(uid, &c.name, container_id, Kind::Startup) == Some(true)
    }

    /// Stops every probe of a pod.
    pub fn remove_pod(&self, uid: &str) {
        self.workers.lock().unwrap().retain(|(u, c, k), w| {
            if u == uid {
                w.task.abort();
                // Its series go with it, as upstream's workers delete theirs.
                let (name, ns) = (w.pod.0.as_str(), w.pod.1.as_str());
                let t = k.name().to_lowercase();
                for result in ["successful", "failed", "unknown"] {
                    let _ = PROBE_TOTAL.remove_label_values(&[&t, result, c, name, ns, u]);
                }
                let _ = PROBE_DURATION.remove_label_values(&[&t, c, name, ns]);
                false
            } else {
                true
            }
        });
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    cri: Cri,
    workers: Arc<Mutex<HashMap<Key, Worker>>>,
    on_result: OnResult,
    (pod_name, namespace): (String, String),
    key: Key,
    container_id: String,
    probe: Probe,
    c: Container,
    pod_ip: Option<String>,
) {
    let kind = key.2;
    let probe_type = kind.name().to_lowercase();
    let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
    let initial = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
    let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
    let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    tokio::time::sleep(initial).await;
    let (mut successes, mut failures) = (0, 0);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Liveness and readiness wait for startup to succeed.
        if kind != Kind::Startup {
            let w = workers.lock().unwrap();
            let startup = w.get(&(key.0.clone(), key.1.clone(), Kind::Startup));
            if startup.is_some_and(|s| s.container_id == container_id && s.result != Some(true)) {
                continue;
            }
        }
        let started = std::time::Instant::now();
        let outcome = execute(&cri, &probe, &c, &container_id, pod_ip.as_deref(), timeout).await;
        let result = match outcome {
            Outcome::Success => "successful",
            Outcome::Failure(_) => "failed",
            Outcome::Error(_) => "unknown",
        };
        PROBE_TOTAL.with_label_values(&[&probe_type, result, &key.1, &pod_name, &namespace, &key.0]).inc();
        if result == "successful" {
            PROBE_DURATION
                .with_label_values(&[&probe_type, &key.1, &pod_name, &namespace])
                .observe(started.elapsed().as_secs_f64());
        }
        tracing::debug!(pod_uid = %key.0, container = %key.1, probe = kind.name(), ?outcome, "probe result");
        let (new, message) = match outcome {
            Outcome::Success => {
                successes += 1;
                failures = 0;
                (if successes >= success_threshold { Some(true) } else { None }, String::new())
            }
            Outcome::Failure(msg) => {
                failures += 1;
                successes = 0;
                let message = format!("{} probe failed: {msg}", kind.name());
                on_result(ProbeEvent::Unhealthy { uid: &key.0, container: &key.1, message });
                (if failures >= failure_threshold { Some(false) } else { None }, msg)
            }
            Outcome::Error(msg) => {
                let message = format!("{} probe errored: {msg}", kind.name());
                on_result(ProbeEvent::Unhealthy { uid: &key.0, container: &key.1, message });
                (None, msg)
            }
        };
        let Some(new) = new else { continue };
        let changed = {
            let mut w = workers.lock().unwrap();
            match w.get_mut(&key).filter(|w| w.container_id == container_id) {
                Some(state) if state.result != Some(new) => {
                    state.result = Some(new);
                    true
                }
                Some(_) => false,
                None => return,
            }
        };
        let _ = message;
        if changed {
            on_result(ProbeEvent::Changed { uid: &key.0 });
        }
        // A failed liveness or startup probe ends this container; its replacement gets new
        // probes. A succeeded startup probe is done.
        if (kind != Kind::Readiness && !new) || (kind == Kind::Startup && new) {
            return;
        }
    }
}

/// A port given by number or by the name of a container port.
fn resolve_port(port: &IntOrString, c: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port number: {n}")),
        IntOrString::String(s) => match s.parse::<u16>() {
            Ok(n) => Ok(n),
            Err(_) => c
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(s.as_str()))
                .map(|p| p.container_port as u16)
                .ok_or_else(|| format!("couldn't find port: {s} in {}", c.name)),
        },
    }
}

/// Runs one probe.
pub async fn execute(
    cri: &Cri,
    probe: &Probe,
    c: &Container,
    container_id: &str,
    pod_ip: Option<&str>,
    timeout: Duration,
) -> Outcome {
    if let Some(e) = &probe.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let mut rt = cri.runtime.clone();
        let r = rt
            .exec_sync(cri.req_with(
                api::ExecSyncRequest {
                    container_id: container_id.to_string(),
                    cmd: cmd.clone(),
                    timeout: timeout.as_secs() as i64,
                },
                timeout + Duration::from_secs(5),
            ))
            .await;
        return match r {
            Ok(r) => {
                let r = r.into_inner();
                let mut out = r.stdout;
                out.extend(r.stderr);
                out.truncate(10 * 1024);
                let text = String::from_utf8_lossy(&out).to_string();
                if r.exit_code == 0 {
                    Outcome::Success
                } else {
                    Outcome::Failure(text)
                }
            }
            Err(s) if s.code() == tonic::Code::DeadlineExceeded => Outcome::Failure(format!(
                "command timed out: {:?} timed out after {}",
                cmd.join(" "),
                component_base::flags::format_go_duration(timeout)
            )),
            Err(s) => Outcome::Error(s.message().to_string()),
        };
    }
    if let Some(h) = &probe.http_get {
        let host = h.host.clone().filter(|h| !h.is_empty()).or(pod_ip.map(str::to_string)).unwrap_or_default();
        let port = match resolve_port(&h.port, c) {
            Ok(p) => p,
            Err(e) => return Outcome::Error(e),
        };
        let scheme = h.scheme.clone().unwrap_or_else(|| "HTTP".into()).to_lowercase();
        let path = h.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
        let path = if path.starts_with('/') { path } else { format!("/{path}") };
        let headers: Vec<(String, String)> =
            h.http_headers.iter().flatten().map(|x| (x.name.clone(), x.value.clone())).collect();
        return crate::probe_http::get(&scheme, &host, port, &path, &headers, timeout).await;
    }
    if let Some(t) = &probe.tcp_socket {
        let host = t.host.clone().filter(|h| !h.is_empty()).or(pod_ip.map(str::to_string)).unwrap_or_default();
        let port = match resolve_port(&t.port, c) {
            Ok(p) => p,
            Err(e) => return Outcome::Error(e),
        };
        let addr = crate::probe_http::join_host_port(&host, port);
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(_)) => Outcome::Success,
            Ok(Err(e)) => Outcome::Failure(format!("dial tcp {addr}: {}", crate::probe_http::go_dial_error(&e))),
            Err(_) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
        };
    }
    if let Some(g) = &probe.grpc {
        let host = pod_ip.unwrap_or_default();
        let addr = crate::probe_http::join_host_port(host, g.port as u16);
        return crate::probe_http::grpc(&addr, g.service.as_deref().unwrap_or(""), timeout).await;
    }
    Outcome::Error("missing probe handler".into())
}
