//! The deprecated `componentstatuses` API, as upstream's `pkg/registry/core/componentstatus`:
//! the scheduler and the controller-manager are probed on their secure health endpoints
//! (certificates not verified), etcd through the storage; a component that is down is
//! `Healthy=False` with the probe's message, never an error.

use crate::error::{ApiError, ApiResult};
use crate::rest::Reply;
use crate::ApiServer;
use serde_json::{json, Value};
use std::time::Duration;

/// Upstream's probe timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP servers upstream validates, in its order: (name, health URL).
const SERVERS: [(&str, &str); 2] =
    [("controller-manager", "https://127.0.0.1:10257/healthz"), ("scheduler", "https://127.0.0.1:10259/healthz")];

/// The warning every response carries (`APILifecycleDeprecated` 1.19).
pub const DEPRECATION: &str = "v1 ComponentStatus is deprecated in v1.19+";

/// A probe's outcome: the condition status, the message and the error text.
struct Probe {
    status: &'static str,
    message: String,
    error: String,
}

fn component(name: &str, p: Probe) -> Value {
    let mut cond = json!({"type": "Healthy", "status": p.status});
    if !p.message.is_empty() {
        cond["message"] = json!(p.message);
    }
    if !p.error.is_empty() {
        cond["error"] = json!(p.error);
    }
    json!({
        "kind": "ComponentStatus", "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [cond],
    })
}

/// Upstream's HTTP prober: 2xx is healthy with the body as the message; other codes and
/// transport errors are unhealthy with Go's message for them.
async fn probe_http(url: &str) -> Probe {
    let failure = |message: String| Probe { status: "False", message, error: String::new() };
    let client = match reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .timeout(PROBE_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return Probe { status: "Unknown", message: String::new(), error: e.to_string() },
    };
    match client.get(url).header("User-Agent", "kube-probe/1.33").send().await {
        Ok(resp) => {
            let code = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            match code {
                200..=299 => Probe { status: "True", message: body, error: String::new() },
                300..=399 => Probe {
                    status: "Unknown",
                    message: format!("Probe terminated redirects, Response body: {body}"),
                    error: String::new(),
                },
                _ => failure(format!("HTTP probe failed with statuscode: {code}")),
            }
        }
        Err(e) => failure(go_transport_error(url, &e)),
    }
}

/// Go's `*url.Error` text for a failed GET (`Get "URL": dial tcp ADDR: connect: connection
/// refused`), which is what kubectl users see in the MESSAGE column.
fn go_transport_error(url: &str, e: &reqwest::Error) -> String {
    let addr = url.trim_start_matches("https://").split('/').next().unwrap_or("");
    if e.is_timeout() {
        return format!("Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let what = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
                std::io::ErrorKind::ConnectionReset => "read: connection reset by peer".to_string(),
                _ => io.to_string(),
            };
            return format!("Get {url:?}: dial tcp {addr}: {what}");
        }
        source = s.source();
    }
    format!("Get {url:?}: {e}")
}

async fn probe_etcd(st: &ApiServer) -> Probe {
    match tokio::time::timeout(PROBE_TIMEOUT, st.backend.store.current_revision()).await {
        Ok(Ok(_)) => Probe { status: "True", message: "ok".into(), error: String::new() },
        Ok(Err(e)) => {
            Probe { status: "False", message: String::new(), error: format!("error getting data from etcd: {e}") }
        }
        Err(_) => Probe {
            status: "False",
            message: String::new(),
            error: "error getting data from etcd: context deadline exceeded".into(),
        },
    }
}

async fn probe(st: &ApiServer, name: &str) -> Option<Value> {
    if name == "etcd-0" {
        return Some(component(name, probe_etcd(st).await));
    }
    let (_, url) = SERVERS.iter().find(|(n, _)| *n == name)?;
    Some(component(name, probe_http(url).await))
}

/// GET and LIST of `componentstatuses`; every component is probed at once. An unknown name is
/// upstream's plain error (a 500 `Component not found: NAME`).
pub async fn serve(st: &ApiServer, verb: &str, name: &str) -> ApiResult<Reply> {
    if verb == "get" {
        return match probe(st, name).await {
            Some(cs) => Ok(Reply::ok(cs)),
            None => Err(ApiError::Raw(500, String::new(), format!("Component not found: {name}"), None)),
        };
    }
    let names: Vec<&str> = SERVERS.iter().map(|(n, _)| *n).chain(["etcd-0"]).collect();
    let items: Vec<Value> =
        futures::future::join_all(names.iter().map(|n| probe(st, n))).await.into_iter().flatten().collect();
    Ok(Reply::ok(json!({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items})))
}
