//! The kubelet API on `--port` (10250): HTTPS with the serving certificate from
//! `--tls-cert-file`/`--tls-private-key-file`, or a self-signed one kept in `--cert-dir`
//! (`kubelet.crt`, `kubelet.key`) as upstream makes it; every request authenticated and
//! authorized (`auth`). Routes and answers follow upstream's `pkg/kubelet/server`: `/healthz`,
//! `/pods`, `/runningpods/`, `/containerLogs/<ns>/<pod>/<container>`, `/run/...`, `/configz`
//! and `/metrics`; a path outside every route is Go's `404 page not found` before any auth.

pub mod auth;
pub mod containerlogs;
mod nodelogs;
mod streaming;
mod summary;

use crate::config::Config;
use crate::cri::{api, Cri};
use crate::worker::Pods;
use crate::{pod, Error};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Pod;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// Largest request body read (`/run`'s form): anything bigger is refused.
const MAX_BODY: usize = 1 << 20;

struct Server {
    cfg: Arc<Config>,
    pods: Arc<Pods>,
    cri: Cri,
    auth: auth::Auth,
    cpu_rates: summary::CpuRates,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(code: StatusCode, body: impl Into<String>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .body(full(body.into()))
        .unwrap_or_default()
}

fn json_response(v: &Value) -> Response<Body> {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    Response::builder().header("content-type", "application/json").body(full(body)).unwrap_or_default()
}

/// The roots a route lives under; any other path is Go's mux 404, before authentication.
const ROOTS: &[&str] = &[
    "healthz",
    "pods",
    "runningpods",
    "containerLogs",
    "run",
    "exec",
    "attach",
    "portForward",
    "configz",
    "metrics",
    "stats",
    "logs",
    "checkpoint",
    "debug",
];

/// The serving certificate: the configured files, else `<cert-dir>/kubelet.crt` and
/// `kubelet.key`, made self-signed for the node's name when missing (as upstream).
fn serving_cert(cfg: &Config) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let s = &cfg.server;
    let tls = |e: pki::PkiError| Error::Config(format!("failed to load the kubelet serving certificate: {e}"));
    if let (Some(c), Some(k)) = (&s.tls_cert_file, &s.tls_private_key_file) {
        return Ok((pki::tls::load_certs(c).map_err(tls)?, pki::tls::load_key(k).map_err(tls)?));
    }
    let (crt, key) = (s.cert_dir.join("kubelet.crt"), s.cert_dir.join("kubelet.key"));
    if !(crt.exists() && key.exists()) {
        let host = &cfg.node_name;
        let now = jiff::Timestamp::now().as_second();
        let pk = |e: pki::PkiError| Error::Config(format!("unable to generate self signed cert: {e}"));
        let ca = pki::new_ca(&format!("{host}-ca@{now}")).map_err(pk)?;
        let (ips, dns_names) = match host.parse() {
            Ok(ip) => (vec![ip], Vec::new()),
            Err(_) => (Vec::new(), vec![host.clone()]),
        };
        let leaf = pki::issue(
            &ca,
            &pki::LeafSpec { common_name: format!("{host}@{now}"), dns_names, ips, server: true, ..Default::default() },
        )
        .map_err(pk)?;
        std::fs::create_dir_all(&s.cert_dir)?;
        std::fs::write(&crt, format!("{}{}", leaf.cert_pem, ca.cert_pem))?;
        std::fs::write(&key, &leaf.key_pem)?;
        tracing::info!(cert = %crt.display(), key = %key.display(), "Generated self-signed cert");
    }
    Ok((pki::tls::load_certs(&crt).map_err(tls)?, pki::tls::load_key(&key).map_err(tls)?))
}

/// Starts the kubelet API (none when the port is 0).
pub async fn serve(
    cfg: Arc<Config>,
    pods: Arc<Pods>,
    cri: Cri,
    client: Option<kube::Client>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    if cfg.port == 0 {
        return Ok(tokio::spawn(futures::future::pending()));
    }
    let auth = auth::Auth::new(&cfg.server, &cfg.node_name, client.as_ref())?;
    let (certs, key) = serving_cert(&cfg)?;
    let tls = pki::tls::server_config_from(certs, key, auth.client_ca())
        .map_err(|e| Error::Config(format!("failed to build the kubelet's TLS config: {e}")))?;
    let addr = format!("{}:{}", cfg.address, cfg.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::Config(format!("failed to listen on {addr}: {e}")))?;
    tracing::info!(address = %addr, "Starting to listen");
    let srv = Arc::new(Server { cfg, pods, cri, auth, cpu_rates: Default::default() });
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, srv) = (acceptor.clone(), srv.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let chain: Arc<Vec<CertificateDer<'static>>> =
                    Arc::new(tls.get_ref().1.peer_certificates().map(|c| c.to_vec()).unwrap_or_default());
                let svc = hyper::service::service_fn(move |req| {
                    let (srv, chain) = (srv.clone(), chain.clone());
                    async move { Ok::<_, std::convert::Infallible>(srv.handle(req, &chain).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                    .await;
            });
        }
    }))
}

/// Query parameters, repeated ones in order.
fn query(req: &Request<hyper::body::Incoming>) -> Vec<(String, String)> {
    let q = req.uri().query().unwrap_or("");
    decode_pairs(q)
}

fn decode_pairs(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A query boolean as the kubelet's parameter decoder reads it:
/// absent, `0` or `false` (any case) is false; anything else, even empty, is true.
fn query_bool(q: &[(String, String)], key: &str) -> bool {
    q.iter().rev().find(|(k, _)| k == key).is_some_and(|(_, v)| v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn query_last<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

impl Server {
    async fn handle(&self, req: Request<hyper::body::Incoming>, chain: &[CertificateDer<'static>]) -> Response<Body> {
        let path = req.uri().path().to_string();
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let root = segs.first().copied().unwrap_or("");
        if !ROOTS.contains(&root) {
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        }
        if let Err(r) = self.auth.check(req.method(), &path, req.headers(), chain).await {
            let code = StatusCode::from_u16(r.code).unwrap_or(StatusCode::FORBIDDEN);
            return text(code, r.body);
        }
        let debug_route = matches!(
            root,
            "run" | "exec" | "attach" | "portForward" | "containerLogs" | "runningpods" | "logs" | "debug"
        );
        if debug_route && !self.cfg.server.enable_debugging_handlers {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Debug endpoints are disabled.\n");
        }
        let method = req.method().clone();
        let get_only = |m: &Method| m == Method::GET;
        match root {
            "healthz" => self.healthz(&segs[1..], &req),
            "pods" if segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty()) => {
                if !get_only(&method) {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
                }
                json_response(&pod_list(
                    self.pods.pods().iter().map(|p| serde_json::to_value(&**p).unwrap_or_default()),
                ))
            }
            "runningpods" if segs.len() <= 2 && segs.get(1).is_none_or(|s| s.is_empty()) => {
                if !get_only(&method) {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
                }
                self.running_pods().await
            }
            "containerLogs" => {
                if !get_only(&method) {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
                }
                self.container_logs(&segs[1..], &req).await
            }
            "run" if segs.len() == 4 || segs.len() == 5 => {
                if method != Method::POST {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
                }
                let (ns, pod, container) = (segs[1], segs[2], segs[segs.len() - 1]);
                let uid = (segs.len() == 5).then(|| segs[3].to_string());
                let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
                self.run(&ns, &pod, uid.as_deref(), &container, req).await
            }
            "exec" | "attach" if method == Method::GET || method == Method::POST => {
                self.exec_or_attach(root == "exec", &segs[1..], req).await
            }
            "portForward" if method == Method::GET || method == Method::POST => {
                self.port_forward(&segs[1..], req).await
            }
            "exec" | "attach" | "portForward" => text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed"),
            "logs" if method == Method::GET => {
                if !self.cfg.server.enable_system_log_handler {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "logs endpoint is disabled.\n");
                }
                let rest = path.strip_prefix("/logs").unwrap_or("");
                if rest.is_empty() {
                    // Go's mux sends `/logs` to `/logs/`.
                    return Response::builder()
                        .status(StatusCode::MOVED_PERMANENTLY)
                        .header("location", "/logs/")
                        .body(full(Bytes::new()))
                        .unwrap_or_default();
                }
                let rest = rest.trim_start_matches('/');
                nodelogs::serve(std::path::Path::new("/var/log"), rest, rest.is_empty() || rest.ends_with('/')).await
            }
            "logs" => text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed"),
            // Registered only with the debugging handlers.
            "checkpoint" if !self.cfg.server.enable_debugging_handlers => {
                text(StatusCode::NOT_FOUND, "404 page not found\n")
            }
            "checkpoint" if method == Method::POST => self.checkpoint(&segs[1..], &query(&req)).await,
            "checkpoint" => text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed"),
            "configz" => json_response(&json!({"kubeletconfig": self.cfg.configz})),
            "stats" if segs.len() == 2 && segs[1] == "summary" => {
                if method != Method::GET && method != Method::POST {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
                }
                let only = query(&req)
                    .iter()
                    .filter(|(k, _)| k == "only_cpu_and_memory")
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
                    == ["true"];
                match self.summary(only).await {
                    // go-restful's pretty print: one-space indent, no newline at the end.
                    Ok(v) => {
                        let mut out = Vec::new();
                        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
                        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
                        let _ = serde::Serialize::serialize(&v, &mut ser);
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(full(out))
                            .unwrap_or_default()
                    }
                    Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("Internal Error: {e}")),
                }
            }
            "metrics" if segs.len() == 2 && segs[1] == "probes" => Response::builder()
                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .body(full(crate::prober::probe_metrics_text()))
                .unwrap_or_default(),
            "metrics" if segs.len() == 2 && segs[1] == "resource" => {
                let s = self.summary(true).await.ok();
                Response::builder()
                    .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                    .body(full(summary::resource_metrics(s.as_ref())))
                    .unwrap_or_default()
            }
            "metrics" if segs.len() == 1 => Response::builder()
                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .body(full(component_base::metrics::gather_text()))
                .unwrap_or_default(),
            _ => text(StatusCode::NOT_FOUND, "404: Page Not Found"),
        }
    }

    fn healthz(&self, rest: &[&str], req: &Request<hyper::body::Incoming>) -> Response<Body> {
        let checks = ["ping", "log", "syncloop"];
        match rest {
            [] | [""] => {
                let verbose = req
                    .uri()
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == "verbose" || kv.starts_with("verbose=")));
                if verbose {
                    let mut out: String = checks.iter().map(|c| format!("[+]{c} ok\n")).collect();
                    out.push_str("healthz check passed\n");
                    text(StatusCode::OK, out)
                } else {
                    text(StatusCode::OK, "ok")
                }
            }
            [c] if checks.contains(c) => text(StatusCode::OK, "ok"),
            _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
        }
    }

    /// `/runningpods/`: what the runtime runs, as pods with only their names, UIDs and
    /// containers' names and images.
    async fn running_pods(&self) -> Response<Body> {
        let (sandboxes, containers) = match (self.cri.list_sandboxes().await, self.cri.list_containers().await) {
            (Ok(s), Ok(c)) => (s, c),
            (Err(e), _) | (_, Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string()),
        };
        let mut pods: Vec<(String, Value)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for s in sandboxes.iter().filter(|s| s.state == api::PodSandboxState::SandboxReady as i32) {
            let Some(m) = &s.metadata else { continue };
            if index.contains_key(&m.uid) {
                continue;
            }
            index.insert(m.uid.clone(), pods.len());
            pods.push((
                m.uid.clone(),
                json!({"metadata": {"name": m.name, "namespace": m.namespace, "uid": m.uid, "creationTimestamp": null},
                       "spec": {"containers": []}, "status": {}}),
            ));
        }
        for c in containers.iter().filter(|c| c.state == api::ContainerState::ContainerRunning as i32) {
            let Some(uid) = c.labels.get(pod::LABEL_POD_UID) else { continue };
            let Some(&i) = index.get(uid) else { continue };
            let name = c.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
            let image = c.image.as_ref().map(|i| i.image.clone()).unwrap_or_default();
            if let Some(list) = pods[i].1["spec"]["containers"].as_array_mut() {
                list.push(json!({"name": name, "image": image, "resources": {}}));
            }
        }
        json_response(&pod_list(pods.into_iter().map(|(_, p)| p)))
    }

    /// `/run/<ns>/<pod>[/<uid>]/<container>`: runs `cmd` (split on spaces) and answers with
    /// its stdout and then its stderr.
    async fn run(
        &self,
        ns: &str,
        name: &str,
        uid: Option<&str>,
        container: &str,
        req: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        let Some(p) = self.pods.pod_by_name(ns, name) else {
            return text(StatusCode::NOT_FOUND, "pod does not exist");
        };
        let q = query(&req);
        let mut cmd = query_last(&q, "cmd").map(str::to_string);
        let form = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form {
            let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            };
            let f = decode_pairs(&String::from_utf8_lossy(&body));
            if let Some(c) = query_last(&f, "cmd") {
                cmd = Some(c.to_string());
            }
        }
        let cmd: Vec<String> = cmd.unwrap_or_default().split(' ').map(str::to_string).collect();
        let uid = uid.unwrap_or(pod::uid(&p)).to_string();
        let id = match self.running_container(&uid, container).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return text(StatusCode::INTERNAL_SERVER_ERROR, format!("container not found (\"{container}\")"))
            }
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
        match self.cri.exec_sync(&id, cmd.clone(), 0).await {
            Ok(r) if r.exit_code == 0 => {
                let mut out = r.stdout;
                out.extend_from_slice(&r.stderr);
                if out.is_empty() {
                    return Response::new(full(Bytes::new()));
                }
                Response::builder().header("content-type", "application/json").body(full(out)).unwrap_or_default()
            }
            Ok(r) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "command '{}' exited with {}: {}",
                    cmd.join(" "),
                    r.exit_code,
                    String::from_utf8_lossy(&r.stderr)
                ),
            ),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string()),
        }
    }

    /// The newest running container of that name in the pod.
    async fn running_container(&self, uid: &str, name: &str) -> Result<Option<String>, String> {
        let list = self.cri.list_containers().await.map_err(|e| e.message().to_string())?;
        let mut mine: Vec<&api::Container> = list
            .iter()
            .filter(|c| c.labels.get(pod::LABEL_POD_UID).map(String::as_str) == Some(uid))
            .filter(|c| c.metadata.as_ref().is_some_and(|m| m.name == name))
            .filter(|c| c.state == api::ContainerState::ContainerRunning as i32)
            .collect();
        mine.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        Ok(mine.first().map(|c| c.id.clone()))
    }

    /// `/containerLogs/<ns>/<pod>/<container>` with upstream's options and answers.
    async fn container_logs(&self, rest: &[&str], req: &Request<hyper::body::Incoming>) -> Response<Body> {
        let seg = |i: usize| rest.get(i).copied().unwrap_or("");
        let (ns, name, container) = (seg(0), seg(1), seg(2));
        if name.is_empty() {
            return text(StatusCode::BAD_REQUEST, r#"{"message": "Missing podID."}"#);
        }
        if container.is_empty() {
            return text(StatusCode::BAD_REQUEST, r#"{"message": "Missing container name."}"#);
        }
        if ns.is_empty() {
            return text(StatusCode::BAD_REQUEST, r#"{"message": "Missing podNamespace."}"#);
        }
        let mut q = query(req);
        // The legacy `tail`: a number of lines, or `all`.
        if let Some(t) = query_last(&q, "tail").map(str::to_string) {
            q.retain(|(k, _)| k != "tailLines");
            if t != "all" {
                q.push(("tailLines".into(), t));
            }
        }
        let opts = match log_options(&q) {
            Ok(o) => o,
            Err(LogOptionsError::Decode) => {
                return text(StatusCode::BAD_REQUEST, r#"{"message": "Unable to decode query."}"#)
            }
            Err(LogOptionsError::Invalid) => {
                return text(StatusCode::UNPROCESSABLE_ENTITY, r#"{"message": "Invalid request."}"#)
            }
        };
        let Some(p) = self.pods.pod_by_name(ns, name) else {
            return text(StatusCode::NOT_FOUND, format!("pod \"{name}\" does not exist"));
        };
        if !has_container(&p, container) {
            return text(StatusCode::NOT_FOUND, format!("container \"{container}\" not found in pod \"{name}\""));
        }
        if let Some(s) = query_last(&q, "stream").filter(|s| *s != "All") {
            return text(
                StatusCode::BAD_REQUEST,
                format!("unable to return the given log stream: \"{s}\". Please enable PodLogsQuerySplitStreams feature gate in kubelet"),
            );
        }
        let id = match log_container_id(&p, container, opts.previous) {
            Ok(id) => id,
            Err(msg) => return text(StatusCode::BAD_REQUEST, msg),
        };
        let status = match self.cri.container_status(&id).await {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("unable to retrieve container logs for containerd://{id}"),
                )
            }
        };
        let path = std::path::PathBuf::from(&status.log_path);
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let cri = self.cri.clone();
        let cid = id.clone();
        tokio::spawn(async move {
            let running = || {
                let (cri, cid) = (cri.clone(), cid.clone());
                async move {
                    matches!(cri.container_status(&cid).await, Ok(Some(s)) if s.state == api::ContainerState::ContainerRunning as i32)
                }
            };
            if let Err(e) = containerlogs::stream(path.clone(), opts.read, tx.clone(), running).await {
                // The status is already sent: the error ends the body, as upstream's does.
                // A missing file reads as upstream's symlink resolution failure; others as they are.
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("failed to try resolving symlinks in path \"{}\": {e}", path.display())
                } else {
                    format!("failed to read log file \"{}\": {e}", path.display())
                };
                let _ = tx.send(Bytes::from(msg)).await;
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
        });
        Response::builder()
            .header("content-type", "text/plain")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .unwrap_or_default()
    }
}

fn pod_list(items: impl Iterator<Item = Value>) -> Value {
    let items: Vec<Value> = items.collect();
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": if items.is_empty() { Value::Null } else { Value::Array(items) }})
}

fn has_container(p: &Pod, name: &str) -> bool {
    let Some(s) = p.spec.as_ref() else { return false };
    s.containers.iter().any(|c| c.name == name)
        || s.init_containers.iter().flatten().any(|c| c.name == name)
        || s.ephemeral_containers.iter().flatten().any(|c| c.name == name)
}

/// `validateContainerLogStatus`: the runtime ID of the container whose log is wanted, from the
/// pod's status, or why there is none.
fn log_container_id(p: &Pod, container: &str, previous: bool) -> Result<String, String> {
    let name = pod::name(p);
    let st = p.status.as_ref();
    let found = st
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(st.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten())
        .chain(st.and_then(|s| s.ephemeral_container_statuses.as_ref()).into_iter().flatten())
        .find(|c| c.name == container);
    let Some(cs) = found else {
        return Err(format!("container \"{container}\" in pod \"{name}\" is not available"));
    };
    let strip = |id: &str| id.split_once("://").map(|(_, i)| i.to_string()).unwrap_or_else(|| id.to_string());
    let last = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref());
    if previous {
        return match last.and_then(|t| t.container_id.as_deref()).filter(|i| !i.is_empty()) {
            Some(id) => Ok(strip(id)),
            None => Err(format!("previous terminated container \"{container}\" in pod \"{name}\" not found")),
        };
    }
    let state = cs.state.as_ref();
    if state.and_then(|s| s.running.as_ref()).is_some() {
        return Ok(strip(cs.container_id.as_deref().unwrap_or("")));
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        let id = t.container_id.as_deref().filter(|i| !i.is_empty()).or(last.and_then(|l| l.container_id.as_deref()));
        return id
            .filter(|i| !i.is_empty())
            .map(strip)
            .ok_or_else(|| format!("container \"{container}\" in pod \"{name}\" is terminated"));
    }
    // A container waiting to restart: its last run still has the log.
    if let Some(l) = last {
        return l
            .container_id
            .as_deref()
            .filter(|i| !i.is_empty())
            .map(strip)
            .ok_or_else(|| format!("container \"{container}\" in pod \"{name}\" is terminated"));
    }
    if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        let why = match w.reason.as_deref().unwrap_or("") {
            "ErrImagePull" => "image can't be pulled".to_string(),
            "ImagePullBackOff" => "trying and failing to pull image".to_string(),
            r => r.to_string(),
        };
        return Err(format!("container \"{container}\" in pod \"{name}\" is waiting to start: {why}"));
    }
    Err(format!("container \"{container}\" in pod \"{name}\" is waiting to start - no logs yet"))
}

#[derive(Debug)]
enum LogOptionsError {
    Decode,
    Invalid,
}

struct LogOptions {
    previous: bool,
    read: containerlogs::Options,
}

/// The query as a PodLogOptions, validated as `ValidatePodLogOptions` does.
fn log_options(q: &[(String, String)]) -> Result<LogOptions, LogOptionsError> {
    let int = |k: &str| -> Result<Option<i64>, LogOptionsError> {
        query_last(q, k).map(|v| v.parse::<i64>().map_err(|_| LogOptionsError::Decode)).transpose()
    };
    let tail = int("tailLines")?;
    let limit = int("limitBytes")?;
    let since_seconds = int("sinceSeconds")?;
    let since_time = query_last(q, "sinceTime")
        .map(|v| v.parse::<jiff::Timestamp>().map_err(|_| LogOptionsError::Decode))
        .transpose()?;
    if tail.is_some_and(|t| t < 0) || limit.is_some_and(|l| l < 1) || since_seconds.is_some_and(|s| s < 1) {
        return Err(LogOptionsError::Invalid);
    }
    if since_seconds.is_some() && since_time.is_some() {
        return Err(LogOptionsError::Invalid);
    }
    if let Some(s) = query_last(q, "stream") {
        if !matches!(s, "Stdout" | "Stderr" | "All") || (s != "All" && tail.is_some()) {
            return Err(LogOptionsError::Invalid);
        }
    }
    let since = match (since_seconds, since_time) {
        (Some(s), _) => Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s)),
        (_, t) => t,
    };
    Ok(LogOptions {
        previous: query_bool(q, "previous"),
        read: containerlogs::Options {
            tail: tail.map(|t| t as u64),
            since,
            timestamps: query_bool(q, "timestamps"),
            limit_bytes: limit.map(|l| l as u64),
            follow: query_bool(q, "follow"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        decode_pairs(s)
    }

    #[test]
    fn queries_decode_as_the_kubelet_reads_them() {
        assert_eq!(q("cmd=ls+-l%20%2Fetc&x"), vec![("cmd".into(), "ls -l /etc".into()), ("x".into(), "".into())]);
        assert!(query_bool(&q("follow="), "follow"));
        assert!(query_bool(&q("follow=1"), "follow"));
        assert!(!query_bool(&q("follow=0"), "follow"));
        assert!(!query_bool(&q("follow=FALSE"), "follow"));
        assert!(!query_bool(&q(""), "follow"));
    }

    #[test]
    fn log_options_are_validated_as_upstream() {
        let o = log_options(&q("tailLines=5&timestamps=true&limitBytes=10&previous=true")).unwrap();
        assert_eq!((o.read.tail, o.read.limit_bytes, o.read.timestamps, o.previous), (Some(5), Some(10), true, true));
        assert!(matches!(log_options(&q("tailLines=x")), Err(LogOptionsError::Decode)));
        assert!(matches!(log_options(&q("tailLines=-1")), Err(LogOptionsError::Invalid)));
        assert!(matches!(log_options(&q("limitBytes=0")), Err(LogOptionsError::Invalid)));
        assert!(matches!(
            log_options(&q("sinceSeconds=5&sinceTime=2026-12-07T10:00:00Z")),
            Err(LogOptionsError::Invalid)
        ));
        assert!(matches!(log_options(&q("stream=Stdout&tailLines=1")), Err(LogOptionsError::Invalid)));
        let since = log_options(&q("sinceTime=2026-12-07T10:00:00Z")).unwrap().read.since.unwrap();
        assert_eq!(since.to_string(), "2026-12-07T10:00:00Z");
    }

    fn pod(status: Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app"}]}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn the_log_comes_from_the_status_container() {
        let running = pod(
            json!({"containerStatuses": [{"name": "app", "image": "", "imageID": "", "ready": true, "restartCount": 1,
            "containerID": "containerd://abc", "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://old"}}}]}),
        );
        assert_eq!(log_container_id(&running, "app", false).unwrap(), "abc");
        assert_eq!(log_container_id(&running, "app", true).unwrap(), "old");
        assert_eq!(
            log_container_id(&running, "other", false).unwrap_err(),
            "container \"other\" in pod \"web\" is not available"
        );
        let fresh = pod(
            json!({"containerStatuses": [{"name": "app", "image": "", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(
            log_container_id(&fresh, "app", false).unwrap_err(),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        assert_eq!(
            log_container_id(&fresh, "app", true).unwrap_err(),
            "previous terminated container \"app\" in pod \"web\" not found"
        );
        let pulling = pod(
            json!({"containerStatuses": [{"name": "app", "image": "", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
        );
        assert_eq!(
            log_container_id(&pulling, "app", false).unwrap_err(),
            "container \"app\" in pod \"web\" is waiting to start: trying and failing to pull image"
        );
    }
}
