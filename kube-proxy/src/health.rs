//! kube-proxy's HTTP servers: `/healthz` and `/livez` (10256), `/metrics`, `/configz`,
//! `/healthz` and `/proxyMode` (10249), and one health-check server per
//! `externalTrafficPolicy: Local` LoadBalancer Service on its `healthCheckNodePort`.

use crate::state::ServiceKey;
use crate::Error;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

type Body = Full<Bytes>;

fn respond(code: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(ctype));
    r.headers_mut().insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
    r
}

fn not_found() -> Response<Body> {
    respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n")
}

/// Serves `handle` on `listener` until the task is aborted.
fn serve<F>(listener: tokio::net::TcpListener, handle: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(&Request<hyper::body::Incoming>) -> Response<Body> + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let h = handle.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let r = h(&req);
                    async move { Ok::<_, std::convert::Infallible>(r) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    })
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, with the monotonic
/// reading (`m=+…`) that values from `time.Now()` carry.
pub fn go_time(t: SystemTime, monotonic: Option<Duration>) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC);
    let nanos = dt.subsec_nanosecond();
    let mut frac = if nanos == 0 { String::new() } else { format!(".{nanos:09}") };
    while frac.ends_with('0') {
        frac.pop();
    }
    let mut s = format!("{}{frac} +0000 UTC", dt.strftime("%Y-%m-%d %H:%M:%S"));
    if let Some(m) = monotonic {
        s.push_str(&format!(" m=+{}.{:09}", m.as_secs(), m.subsec_nanos()));
    }
    s
}

/// The proxier's health as `/healthz` and `/livez` report it (upstream's `ProxierHealthServer`).
pub struct Health {
    start: Instant,
    timeout: Duration,
    inner: Mutex<HealthInner>,
}

struct HealthInner {
    last_updated: Option<(SystemTime, Instant)>,
    oldest_queued: Option<Instant>,
    node_eligible: bool,
}

impl Health {
    /// Unhealthy when a queued change waits longer than `timeout` (2 × syncPeriod).
    pub fn new(timeout: Duration) -> Arc<Health> {
        Arc::new(Health {
            start: Instant::now(),
            timeout,
            inner: Mutex::new(HealthInner { last_updated: None, oldest_queued: None, node_eligible: true }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A change is waiting to be programmed.
    pub fn queued(&self) {
        let mut i = self.lock();
        if i.oldest_queued.is_none() {
            i.oldest_queued = Some(Instant::now());
        }
    }

    /// The rules were programmed.
    pub fn updated(&self) {
        let mut i = self.lock();
        i.last_updated = Some((SystemTime::now(), Instant::now()));
        i.oldest_queued = None;
    }

    pub fn set_node_eligible(&self, eligible: bool) {
        self.lock().node_eligible = eligible;
    }

    /// Healthy unless a queued change has waited past the timeout; with the last update time.
    pub fn is_healthy(&self) -> (bool, Option<(SystemTime, Instant)>) {
        let i = self.lock();
        if i.last_updated.is_none() {
            return (true, None);
        }
        let healthy = i.oldest_queued.is_none_or(|q| q.elapsed() < self.timeout);
        (healthy, i.last_updated)
    }

    fn body(&self, with_node: bool) -> (bool, String) {
        let (mut healthy, last) = self.is_healthy();
        let eligible = self.lock().node_eligible;
        if with_node {
            healthy &= eligible;
        }
        let now = go_time(SystemTime::now(), Some(self.start.elapsed()));
        let last = if healthy {
            now.clone()
        } else {
            match last {
                Some((t, i)) => go_time(t, Some(i.duration_since(self.start))),
                None => "0001-01-01 00:00:00 +0000 UTC".to_string(),
            }
        };
        let mut body = format!("{{\"lastUpdated\": {last:?},\"currentTime\": {now:?}");
        if with_node {
            body.push_str(&format!(", \"nodeEligible\": {eligible}"));
        }
        body.push('}');
        (healthy, body)
    }
}

/// Starts the `/healthz` + `/livez` server.
pub async fn serve_healthz(addr: &str, health: Arc<Health>) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("failed to start proxier healthz on {addr}: {e}")))?;
    Ok(serve(listener, move |req| {
        let with_node = match req.uri().path() {
            "/healthz" => true,
            "/livez" => false,
            _ => return not_found(),
        };
        let (ok, body) = health.body(with_node);
        let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        crate::metrics::healthz_request(with_node, code.as_u16());
        respond(code, "application/json", body)
    }))
}

/// Starts the metrics server: `/metrics`, `/configz`, `/healthz`, `/proxyMode`.
pub async fn serve_metrics(addr: &str, mode: String, configz: String) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("starting metrics server failed: listen tcp {addr}: {e}")))?;
    Ok(serve(listener, move |req| match req.uri().path() {
        "/metrics" => {
            respond(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", component_base::metrics::gather_text())
        }
        "/configz" => respond(StatusCode::OK, "application/json", configz.clone()),
        "/healthz" | "/healthz/ping" => {
            let body = if req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "verbose")) {
                "[+]ping ok\nhealthz check passed\n"
            } else {
                "ok"
            };
            respond(StatusCode::OK, "text/plain; charset=utf-8", body)
        }
        "/proxyMode" => respond(StatusCode::OK, "text/plain; charset=utf-8", mode.clone()),
        _ => not_found(),
    }))
}

/// One Service's health-check listener and its local endpoint count.
struct ServiceCheck {
    port: u16,
    local: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// The per-Service health-check servers (upstream's `ServiceHealthServer`).
pub struct ServiceHealth {
    health: Arc<Health>,
    checks: BTreeMap<ServiceKey, ServiceCheck>,
}

impl ServiceHealth {
    pub fn new(health: Arc<Health>) -> ServiceHealth {
        ServiceHealth { health, checks: BTreeMap::new() }
    }

    /// Opens listeners for new ports and closes the ones no longer wanted; `want` maps a
    /// Service to (port, local ready endpoints). Returns the Services whose port could not be
    /// opened, with the error, for an Event.
    pub async fn sync(&mut self, want: BTreeMap<ServiceKey, (u16, usize)>) -> Vec<(ServiceKey, u16, String)> {
        self.checks.retain(|k, c| {
            let keep = want.get(k).is_some_and(|(p, _)| *p == c.port);
            if !keep {
                tracing::info!(service = %format!("{}/{}", k.0, k.1), port = c.port, "Closing healthcheck");
                c.task.abort();
            }
            keep
        });
        let mut failed = Vec::new();
        for (key, (port, local)) in want {
            if let Some(c) = self.checks.get(&key) {
                c.local.store(local, Ordering::Relaxed);
                continue;
            }
            let addr = SocketAddr::from(([0, 0, 0, 0], port));
            let listener = match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(service = %format!("{}/{}", key.0, key.1), port, error = %e, "Failed to start healthcheck");
                    failed.push((key, port, format!("listen tcp {addr}: {e}")));
                    continue;
                }
            };
            tracing::info!(service = %format!("{}/{}", key.0, key.1), port, "Opening healthcheck");
            let count = Arc::new(AtomicUsize::new(local));
            let (c, health, k) = (count.clone(), self.health.clone(), key.clone());
            let task = serve(listener, move |_| {
                let n = c.load(Ordering::Relaxed);
                let healthy = health.is_healthy().0;
                let body = format!(
                    "{{\n\t\"service\": {{\n\t\t\"namespace\": {:?},\n\t\t\"name\": {:?}\n\t}},\n\t\"localEndpoints\": {n},\n\t\"serviceProxyHealthy\": {healthy}\n}}",
                    k.0, k.1
                );
                let code = if n != 0 && healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                let mut r = respond(code, "application/json", body);
                if let Ok(v) = http::HeaderValue::from_str(&n.to_string()) {
                    r.headers_mut().insert("x-load-balancing-endpoint-weight", v);
                }
                r
            });
            self.checks.insert(key, ServiceCheck { port, local: count, task });
        }
        failed
    }
}

impl Drop for ServiceHealth {
    fn drop(&mut self) {
        for c in self.checks.values() {
            c.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_does() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_745_402_401, 123_456_000);
        assert_eq!(go_time(t, None), "2025-04-23 10:00:01.123456 +0000 UTC");
        assert_eq!(go_time(t, Some(Duration::new(300, 1))), "2025-04-23 10:00:01.123456 +0000 UTC m=+300.000000001");
        assert_eq!(go_time(SystemTime::UNIX_EPOCH + Duration::from_secs(5), None), "1970-01-01 00:00:05 +0000 UTC");
    }

    #[test]
    fn a_change_queued_too_long_is_unhealthy() {
        let h = Health::new(Duration::from_millis(0));
        assert!(h.is_healthy().0, "healthy before the first sync");
        h.updated();
        assert!(h.is_healthy().0);
        h.queued();
        assert!(!h.is_healthy().0);
        let (ok, body) = h.body(true);
        assert!(!ok);
        assert!(body.starts_with("{\"lastUpdated\": \"") && body.ends_with(", \"nodeEligible\": true}"), "{body}");
        h.updated();
        h.set_node_eligible(false);
        assert!(!h.body(true).0 && h.body(false).0);
    }
}
