//! The subresources that reach past the apiserver: `pods/log` (streamed from the kubelet),
//! `pods/exec`, `pods/attach` and `pods/portforward` (upgraded connections proxied to the
//! kubelet), and `nodes/proxy`, `pods/proxy` and `services/proxy`. Locations, parameters,
//! checks and error texts are upstream's (`pkg/registry/core/{pod,node,service}`).

use crate::auth::UserInfo;
use crate::codec::Query;
use crate::egress::join_host_port;
use crate::error::{ApiError, ApiResult};
use crate::kubeletclient::{Full, Location};
use crate::request_info::RequestInfo;
use crate::rest::Ctx;
use crate::{full, ApiServer, Body};
use api_types::{FieldError, FieldPath, ResourceDef};
use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use httpstream::translate;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Whether `sub` is one of the subresources served here.
pub fn is_connect(resource: &str, sub: &str) -> bool {
    matches!(
        (resource, sub),
        ("pods", "log" | "exec" | "attach" | "portforward" | "proxy") | ("nodes" | "services", "proxy")
    )
}

/// A plain Go error as the apiserver answers it: 500 with no reason.
fn plain(message: impl Into<String>) -> ApiError {
    ApiError::Raw(500, String::new(), message.into(), None)
}

/// Serves a connect subresource for an authorized `user`.
pub async fn serve(
    st: &ApiServer,
    rd: &'static ResourceDef,
    info: &RequestInfo,
    user: &UserInfo,
    req: Request<ApiResult<Bytes>>,
) -> ApiResult<Response<Body>> {
    let method = req.method().clone();
    let not_allowed = || ApiError::MethodNotSupported { resource: rd.plural.into(), verb: info.verb.clone() };
    match info.subresource.as_str() {
        "log" if method == Method::GET => pod_log(st, rd, info, req.uri().query()).await,
        "log" => Err(not_allowed()),
        "exec" | "attach" | "portforward" if method == Method::GET || method == Method::POST => {
            if method == Method::GET {
                // A WebSocket upgrade is a GET; it is allowed only to those who may `create`
                // (current upstream, AuthorizePodWebsocketUpgradeCreatePermission).
                let mut attrs = user.attributes(info);
                attrs.verb = "create".into();
                let d = st.authz.authorize(&attrs).await;
                if !d.allowed() {
                    return Err(crate::handler::forbidden(&attrs, d.reason()));
                }
            }
            stream(st, rd, info, req).await
        }
        "exec" | "attach" | "portforward" => Err(not_allowed()),
        "proxy" => proxy(st, rd, info, req).await,
        _ => Err(ApiError::NotFoundPath),
    }
}

// ------------------------------------------------------------------ query parameters

/// The query's values per key, in order.
fn params(query: Option<&str>) -> Vec<(String, String)> {
    query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

fn first<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Go's query-parameter bool: missing is false, `0` and `false` (any case) are false, anything
/// else (the empty string too) is true.
fn flag(p: &[(String, String)], key: &str) -> bool {
    first(p, key).is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn int(p: &[(String, String)], key: &str) -> ApiResult<Option<i64>> {
    match first(p, key) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))),
    }
}

/// `PodLogOptions` from the query.
#[derive(Debug, Default, PartialEq)]
struct LogOptions {
    container: String,
    follow: bool,
    previous: bool,
    timestamps: bool,
    since_seconds: Option<i64>,
    since_time: Option<chrono::DateTime<chrono::Utc>>,
    tail_lines: Option<i64>,
    limit_bytes: Option<i64>,
    stream: Option<String>,
}

impl LogOptions {
    fn parse(query: Option<&str>) -> ApiResult<LogOptions> {
        let p = params(query);
        let since_time = match first(&p, "sinceTime") {
            None | Some("") => None,
            Some(v) => Some(
                chrono::DateTime::parse_from_rfc3339(v)
                    .map_err(|_| {
                        ApiError::BadRequest(format!(
                            "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {v:?} as \"2006\""
                        ))
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        Ok(LogOptions {
            container: first(&p, "container").unwrap_or("").to_string(),
            follow: flag(&p, "follow"),
            previous: flag(&p, "previous"),
            timestamps: flag(&p, "timestamps"),
            since_seconds: int(&p, "sinceSeconds")?,
            since_time,
            tail_lines: int(&p, "tailLines")?,
            limit_bytes: int(&p, "limitBytes")?,
            stream: first(&p, "stream").map(str::to_string),
        })
    }

    /// Upstream's `ValidatePodLogOptions` (stream selection is an alpha gate, off).
    fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if let Some(t) = self.tail_lines.filter(|t| *t < 0) {
            e.push(FieldError::invalid_raw(&FieldPath::new("tailLines"), t, "must be greater than or equal to 0"));
        }
        if let Some(l) = self.limit_bytes.filter(|l| *l < 1) {
            e.push(FieldError::invalid_raw(&FieldPath::new("limitBytes"), l, "must be greater than 0"));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => e.push(FieldError::forbidden(
                &FieldPath::new(""),
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(s), None) if s < 1 => {
                e.push(FieldError::invalid_raw(&FieldPath::new("sinceSeconds"), s, "must be greater than 0"))
            }
            _ => {}
        }
        if self.stream.is_some() {
            e.push(FieldError::forbidden(&FieldPath::new("stream"), "may not be specified"));
        }
        e
    }

    /// The kubelet's query, keys sorted as Go's `url.Values.Encode`.
    fn kubelet_query(&self) -> String {
        let mut kv: Vec<(&str, String)> = Vec::new();
        if self.follow {
            kv.push(("follow", "true".into()));
        }
        if self.previous {
            kv.push(("previous", "true".into()));
        }
        if self.timestamps {
            kv.push(("timestamps", "true".into()));
        }
        if let Some(s) = self.since_seconds {
            kv.push(("sinceSeconds", s.to_string()));
        }
        if let Some(t) = self.since_time {
            kv.push(("sinceTime", t.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        if let Some(t) = self.tail_lines {
            kv.push(("tailLines", t.to_string()));
        }
        if let Some(l) = self.limit_bytes {
            kv.push(("limitBytes", l.to_string()));
        }
        encode(kv)
    }
}

fn encode(mut kv: Vec<(&str, String)>) -> String {
    kv.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in kv {
        s.append_pair(k, &v);
    }
    s.finish()
}

// ------------------------------------------------------------------ locations

/// The container named, or the pod's only container (upstream's `validateContainer`).
fn validate_container(container: &str, pod: &Value, name: &str) -> ApiResult<String> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let (init, regular, ephemeral) = (names("initContainers"), names("containers"), names("ephemeralContainers"));
    if container.is_empty() {
        return match regular.len() {
            1 => Ok(regular[0].clone()),
            0 => Err(ApiError::BadRequest(format!("a container name must be specified for pod {name}"))),
            _ => {
                let all: Vec<String> = init.into_iter().chain(regular).chain(ephemeral).collect();
                Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        };
    }
    if init.iter().chain(&regular).chain(&ephemeral).any(|c| c == container) {
        Ok(container.to_string())
    } else {
        Err(ApiError::BadRequest(format!("container {container} is not valid for pod {name}")))
    }
}

fn empty_info(resource: &str) -> RequestInfo {
    RequestInfo { resource: resource.into(), version: "v1".into(), is_resource: true, ..Default::default() }
}

/// The pod, read as the requesting resource's context reads it.
async fn get_pod(st: &ApiServer, rd: &'static ResourceDef, info: &RequestInfo, name: &str) -> ApiResult<Value> {
    let q = Query::parse(None);
    Ok(Ctx::new(st, rd, info, &q, true).get(name).await?.into_value())
}

async fn get_named(st: &ApiServer, ns: &str, resource: &str, name: &str) -> ApiResult<Value> {
    let rd = api_types::lookup("", "v1", resource).ok_or(ApiError::NotFoundPath)?;
    let mut info = empty_info(resource);
    info.namespace = ns.to_string();
    let q = Query::parse(None);
    Ok(Ctx::new(st, rd, &info, &q, true).get(name).await?.into_value())
}

/// The kubelet of `node` (upstream's `GetConnectionInfo`).
async fn kubelet_of(st: &ApiServer, node: &str) -> ApiResult<Location> {
    let n = get_named(st, "", "nodes", node).await?;
    st.kubelets.location(&n).map_err(plain)
}

// ------------------------------------------------------------------ pods/log

async fn pod_log(
    st: &ApiServer,
    rd: &'static ResourceDef,
    info: &RequestInfo,
    query: Option<&str>,
) -> ApiResult<Response<Body>> {
    let name = info.name.as_str();
    let opts = LogOptions::parse(query)?;
    let errors = opts.validate();
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            kind: "PodLogOptions".into(),
            group: String::new(),
            name: name.into(),
            errors,
        });
    }
    let pod = get_pod(st, rd, info, name).await?;
    let container = validate_container(&opts.container, &pod, name)?;
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
    if node.is_empty() {
        // No host yet: nothing to stream (upstream answers 204).
        return Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(full(Bytes::new()))
            .expect("valid response"));
    }
    let loc = kubelet_of(st, node).await?;
    let mut path = format!("/containerLogs/{}/{name}/{container}", info.namespace);
    let q = opts.kubelet_query();
    if !q.is_empty() {
        path = format!("{path}?{q}");
    }
    let resp = st.kubelets.get(&loc, &path).await.map_err(plain)?;
    let status = resp.status().as_u16();
    if !(200..=206).contains(&status) {
        let body = http_body_util::Limited::new(resp.into_body(), 50_000)
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(response_error(status, "pods/log", name, body));
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(stream_body(resp.into_body()))
        .expect("valid response"))
}

/// A backend's body streamed to the client; a read error ends it.
fn stream_body(b: hyper::body::Incoming) -> Body {
    let frames = http_body_util::BodyStream::new(b).scan((), |_, r| futures::future::ready(r.ok()));
    BodyExt::boxed(http_body_util::StreamBody::new(frames.map(Ok::<_, std::convert::Infallible>)))
}

/// Upstream's `GenericHttpResponseChecker`: a backend's error status as a Status.
fn response_error(code: u16, resource: &str, name: &str, body: String) -> ApiError {
    let generic = |reason: &str, message: &str| {
        let details = serde_json::json!({"name": name, "kind": resource});
        ApiError::Raw(code, reason.into(), format!("{message} ( {resource} {name})"), Some(details))
    };
    match code {
        500 => ApiError::Internal(body),
        400 => ApiError::BadRequest(body),
        404 => generic("NotFound", "the server could not find the requested resource"),
        401 => generic("Unauthorized", "the server has asked for the client to provide credentials"),
        403 => generic("Forbidden", &body),
        405 => generic("MethodNotAllowed", "the server does not allow this method on the requested resource"),
        409 => generic("Conflict", "the server reported a conflict"),
        422 => generic("Invalid", "the server rejected our request due to an error in our request"),
        429 => {
            generic("TooManyRequests", "the server has received too many requests and has asked us to try again later")
        }
        503 => generic("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => generic(
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request",
        ),
        c if c >= 500 => generic(
            "InternalError",
            &format!("an error on the server ({body:?}) has prevented the request from succeeding"),
        ),
        c => generic("", &format!("the server responded with the status code {c} but did not return more information")),
    }
}

// ------------------------------------------------------------------ exec, attach, portforward

/// The kubelet path and query of an exec, attach or portforward (upstream's `streamLocation`
/// and `PortForwardLocation`): stream flags renamed (`input`, `output`, `error`, `tty`), the
/// command repeated, the ports joined.
fn stream_target(sub: &str, ns: &str, name: &str, container: &str, p: &[(String, String)]) -> String {
    if sub == "portforward" {
        let ports: Vec<&str> = p.iter().filter(|(k, _)| k == "ports").map(|(_, v)| v.as_str()).collect();
        let q = if ports.is_empty() { String::new() } else { encode(vec![("port", ports.join(","))]) };
        let path = format!("/portForward/{ns}/{name}");
        return if q.is_empty() { path } else { format!("{path}?{q}") };
    }
    let mut kv: Vec<(&str, String)> = Vec::new();
    for (param, kubelet) in [("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")] {
        if flag(p, param) {
            kv.push((kubelet, "1".into()));
        }
    }
    if sub == "exec" {
        for (_, c) in p.iter().filter(|(k, _)| k == "command") {
            kv.push(("command", c.clone()));
        }
    }
    // Encode sorts by key and keeps the commands' order (a stable sort).
    let q = encode(kv);
    let path = format!("/{sub}/{ns}/{name}/{container}");
    if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    }
}

async fn stream(
    st: &ApiServer,
    rd: &'static ResourceDef,
    info: &RequestInfo,
    mut req: Request<ApiResult<Bytes>>,
) -> ApiResult<Response<Body>> {
    let name = info.name.as_str();
    let sub = info.subresource.as_str();
    let p = params(req.uri().query());
    let pod = get_pod(st, rd, info, name).await?;
    let container = if sub == "portforward" {
        String::new()
    } else {
        validate_container(first(&p, "container").unwrap_or(""), &pod, name)?
    };
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
    if node.is_empty() {
        return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned")));
    }
    let loc = kubelet_of(st, node).await?;
    let target = stream_target(sub, &info.namespace, name, &container, &p);
    if !httpstream::proxy::is_upgrade_request(req.headers()) {
        return Err(ApiError::BadRequest("Upgrade request required".into()));
    }
    let authority = join_host_port(&loc.host, loc.port);
    if sub != "portforward" && translate::wants_v5(req.headers()) {
        let streams = translate::Streams {
            stdin: flag(&p, "stdin"),
            stdout: flag(&p, "stdout"),
            stderr: flag(&p, "stderr"),
            tty: flag(&p, "tty"),
        };
        return v5_exec(st, req, loc, authority, target, streams);
    }
    let tunnel = translate::tunnel_protocols(req.headers());
    let io = st.kubelets.connect(&loc).await.map_err(|e| plain(format!("error dialing backend: {e}")))?;
    if sub == "portforward" && !tunnel.is_empty() {
        return tunnel_port_forward(req, io, &authority, &target, &tunnel).await;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let headers = forwarded_headers(req.headers());
    let resp = httpstream::proxy::upgrade(req.method().clone(), &headers, &authority, &target, &[], io, on_upgrade)
        .await
        .map_err(|e| plain(e.to_string()))?;
    Ok(resp.map(full))
}

/// A WebSocket exec or attach with stream close (`v5.channel.k8s.io`): accepted here, and
/// carried to the kubelet over SPDY (upstream's `StreamTranslatorHandler`). Failures past
/// the upgrade travel as a Status on the error channel.
fn v5_exec(
    st: &ApiServer,
    mut req: Request<ApiResult<Bytes>>,
    loc: Location,
    authority: String,
    target: String,
    streams: translate::Streams,
) -> ApiResult<Response<Body>> {
    let resp = translate::accept(req.headers(), translate::V5).map_err(ApiError::BadRequest)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let kubelets = st.kubelets.clone();
    tokio::spawn(async move {
        let Ok(client) = on_upgrade.await else { return };
        let Some(session) = translate::V5Session::start(TokioIo::new(client), streams).await else { return };
        let io = match kubelets.connect(&loc).await {
            Ok(io) => io,
            Err(e) => {
                return session.finish(translate::internal_error_status(&format!("error dialing backend: {e}"))).await
            }
        };
        match translate::spdy_upgrade(io, &authority, &target, &["v4.channel.k8s.io"]).await {
            Ok((kubelet, _)) => session.run(TokioIo::new(kubelet)).await,
            Err(translate::Refused::Response(r)) => {
                // A Status is passed on as it is; anything else is what the upgrade said.
                let body = r.into_body();
                let status = match serde_json::from_slice::<Value>(&body) {
                    Ok(v) if v["kind"] == "Status" => v.to_string(),
                    _ => translate::internal_error_status(&format!(
                        "unable to upgrade connection: {}",
                        String::from_utf8_lossy(&body).trim_end()
                    )),
                };
                session.finish(status).await
            }
            Err(translate::Refused::Failed(e)) => session.finish(translate::internal_error_status(&e)).await,
        }
    });
    Ok(resp.map(full))
}

/// Port-forward's SPDY inside a WebSocket (`SPDY/3.1+portforward.k8s.io`): the kubelet is
/// asked for SPDY first; only when it agrees is the client's WebSocket accepted, and the
/// bytes then pass both ways untouched (upstream's `TunnelingHandler`). A refusal is handed
/// back as it is, so that the client falls back to SPDY.
async fn tunnel_port_forward(
    mut req: Request<ApiResult<Bytes>>,
    io: tokio_rustls::client::TlsStream<crate::egress::Conn>,
    authority: &str,
    target: &str,
    protocols: &[String],
) -> ApiResult<Response<Body>> {
    let offered: Vec<&str> = protocols.iter().map(String::as_str).collect();
    match translate::spdy_upgrade(io, authority, target, &offered).await {
        Ok((kubelet, chosen)) => {
            let resp = translate::accept(req.headers(), &format!("{}{chosen}", translate::TUNNEL_PREFIX))
                .map_err(ApiError::BadRequest)?;
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(client) = on_upgrade.await {
                    translate::tunnel(TokioIo::new(client), TokioIo::new(kubelet)).await;
                }
            });
            Ok(resp.map(full))
        }
        Err(translate::Refused::Response(r)) => Ok(r.map(full)),
        Err(translate::Refused::Failed(e)) => Err(plain(e)),
    }
}

/// The client's headers without its credentials, which were for the apiserver (upstream's
/// authentication and impersonation filters remove them).
fn forwarded_headers(h: &HeaderMap) -> HeaderMap {
    let mut out = h.clone();
    out.remove(header::AUTHORIZATION);
    let imp: Vec<header::HeaderName> = out.keys().filter(|k| k.as_str().starts_with("impersonate-")).cloned().collect();
    for k in imp {
        out.remove(k);
    }
    out
}

// ------------------------------------------------------------------ proxy

/// Upstream's `SplitSchemeNamePort`: `name`, `name:port` or `scheme:name:port`.
fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [n] => ("", *n, ""),
        [n, p] => ("", *n, *p),
        [s, n, p] => (*s, *n, *p),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme, name, port))
}

/// Where a proxy request goes.
struct ProxyTarget {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// The kubelet's own port: its client certificate and CA apply.
    kubelet: bool,
}

fn global_unicast(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_loopback() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified())
        }
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_multicast() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

async fn proxy_target(st: &ApiServer, rd: &'static ResourceDef, info: &RequestInfo) -> ApiResult<ProxyTarget> {
    let id = info.name.as_str();
    let singular = match rd.plural {
        "nodes" => "node",
        "pods" => "pod",
        _ => "service",
    };
    let (scheme, name, port) =
        split_scheme_name_port(id).ok_or_else(|| ApiError::BadRequest(format!("invalid {singular} request {id:?}")))?;
    let bad_port = || ApiError::BadRequest(format!("invalid {singular} request {id:?}"));
    match rd.plural {
        "nodes" => {
            let loc = kubelet_of(st, name).await?;
            // Only addresses that leave the apiserver's host may be proxied to.
            let addrs: Vec<std::net::IpAddr> = match loc.host.parse() {
                Ok(ip) => vec![ip],
                Err(_) => tokio::net::lookup_host((loc.host.as_str(), 0))
                    .await
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?
                    .map(|a| a.ip())
                    .collect(),
            };
            if addrs.is_empty() {
                return Err(ApiError::BadRequest("no addresses for hostname".into()));
            }
            if addrs.iter().any(|a| !global_unicast(*a)) {
                return Err(ApiError::BadRequest("address not allowed".into()));
            }
            if port.is_empty() || port == loc.port.to_string() {
                return Ok(ProxyTarget { scheme: "https".into(), host: loc.host, port: Some(loc.port), kubelet: true });
            }
            let port = port.parse().map_err(|_| bad_port())?;
            let scheme = if scheme.is_empty() { "http" } else { scheme };
            Ok(ProxyTarget { scheme: scheme.into(), host: loc.host, port: Some(port), kubelet: false })
        }
        "pods" => {
            let pod = get_pod(st, rd, info, name).await?;
            let mut port = port.to_string();
            if port.is_empty() {
                if let Some(p) = pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|c| c["ports"].as_array().and_then(|p| p.first()).map(|p| p["containerPort"].clone()))
                {
                    port = p.as_i64().map(|p| p.to_string()).unwrap_or_default();
                }
            }
            let ip = pod["status"]["podIP"].as_str().unwrap_or("");
            match ip.parse::<std::net::IpAddr>() {
                Ok(a) if global_unicast(a) => {}
                _ => return Err(ApiError::BadRequest("address not allowed".into())),
            }
            let port = if port.is_empty() { None } else { Some(port.parse().map_err(|_| bad_port())?) };
            let scheme = if scheme.is_empty() { "http" } else { scheme };
            Ok(ProxyTarget { scheme: scheme.into(), host: ip.into(), port, kubelet: false })
        }
        _ => {
            let ns = info.namespace.as_str();
            let mut port_name = port.to_string();
            if let Ok(num) = port.parse::<i64>() {
                let svc = get_named(st, ns, "services", name).await?;
                let found =
                    svc["spec"]["ports"].as_array().into_iter().flatten().find(|p| p["port"].as_i64() == Some(num));
                match found {
                    Some(p) => port_name = p["name"].as_str().unwrap_or("").to_string(),
                    None => {
                        return Err(ApiError::Unavailable(format!("no service port {num} found for service {name:?}")))
                    }
                }
            }
            let eps = get_named(st, ns, "endpoints", name).await?;
            let none = || ApiError::Unavailable(format!("no endpoints available for service {name:?}"));
            let subsets = eps["subsets"].as_array().filter(|s| !s.is_empty()).ok_or_else(none)?;
            let seed = rand::random_range(0..subsets.len());
            for i in 0..subsets.len() {
                let ss = &subsets[(seed + i) % subsets.len()];
                let Some(addrs) = ss["addresses"].as_array().filter(|a| !a.is_empty()) else { continue };
                let Some(p) = ss["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"].as_str().unwrap_or("") == port_name)
                else {
                    continue;
                };
                let addr = &addrs[rand::random_range(0..addrs.len())];
                let port = p["port"].as_u64().and_then(|p| u16::try_from(p).ok());
                let scheme = if scheme.is_empty() { "http" } else { scheme };
                return Ok(ProxyTarget {
                    scheme: scheme.into(),
                    host: addr["ip"].as_str().unwrap_or("").into(),
                    port,
                    kubelet: false,
                });
            }
            Err(none())
        }
    }
}

/// The path after `/proxy` in the request's own (still escaped) path: `""` for none.
fn proxied_path(path: &str, namespaced: bool) -> String {
    let skip = if namespaced { 8 } else { 6 };
    let parts: Vec<&str> = path.splitn(skip + 1, '/').collect();
    match parts.get(skip) {
        Some(rest) => format!("/{rest}"),
        None => String::new(),
    }
}

async fn proxy(
    st: &ApiServer,
    rd: &'static ResourceDef,
    info: &RequestInfo,
    mut req: Request<ApiResult<Bytes>>,
) -> ApiResult<Response<Body>> {
    let t = proxy_target(st, rd, info).await?;
    let mut target = proxied_path(req.uri().path(), rd.namespaced);
    if target.is_empty() {
        target = "/".into();
    }
    if let Some(q) = req.uri().query() {
        target = format!("{target}?{q}");
    }
    let port = t.port.unwrap_or(if t.scheme == "https" { 443 } else { 80 });
    let authority = match t.port {
        Some(p) => join_host_port(&t.host, p),
        None => t.host.clone(),
    };
    let unreachable = |e: String| ApiError::Unavailable(format!("error trying to reach service: {e}"));
    let io: crate::egress::Conn = if t.kubelet {
        Box::pin(st.kubelets.connect(&Location { host: t.host.clone(), port }).await.map_err(unreachable)?)
    } else if t.scheme == "https" {
        Box::pin(st.kubelets.connect_insecure(&t.host, port).await.map_err(unreachable)?)
    } else {
        st.kubelets.dialer.dial(&t.host, port, st.kubelets.timeout).await.map_err(unreachable)?
    };
    let headers = forwarded_headers(req.headers());
    if httpstream::proxy::is_upgrade_request(req.headers()) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        let resp = httpstream::proxy::upgrade(req.method().clone(), &headers, &authority, &target, &[], io, on_upgrade)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        return Ok(resp.map(full));
    }
    let method = req.method().clone();
    let body = req.into_body()?;
    let mut out = Request::builder().method(method).uri(&target);
    for (k, v) in &headers {
        if !hop_by_hop(k) {
            out = out.header(k, v);
        }
    }
    let out =
        out.header(header::HOST, &authority).body(Full::new(body)).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let resp = st.kubelets.send(io, out).await.map_err(unreachable)?;
    let (parts, body) = resp.into_parts();
    let mut r = Response::builder().status(parts.status);
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            r = r.header(k, v);
        }
    }
    Ok(r.body(stream_body(body)).expect("valid response"))
}

fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "host"
            | "content-length"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_options_parse_validate_and_encode_as_upstream() {
        let o = LogOptions::parse(Some("container=c&follow=&previous=0&timestamps=TRUE&tailLines=10&limitBytes=5"))
            .unwrap();
        assert!(o.follow && !o.previous && o.timestamps);
        assert_eq!(o.kubelet_query(), "follow=true&limitBytes=5&tailLines=10&timestamps=true");
        assert!(o.validate().is_empty());
        let o = LogOptions::parse(Some("sinceTime=2024-01-02T03:04:05%2B02:00")).unwrap();
        assert_eq!(o.kubelet_query(), "sinceTime=2024-01-02T01%3A04%3A05Z");
        let bad = LogOptions::parse(Some("tailLines=-1&limitBytes=0&sinceSeconds=0")).unwrap().validate();
        let text = api_types::field::aggregate(&bad);
        assert!(text.contains("tailLines: Invalid value: -1: must be greater than or equal to 0"), "{text}");
        assert!(text.contains("limitBytes: Invalid value: 0: must be greater than 0"), "{text}");
        assert!(text.contains("sinceSeconds: Invalid value: 0: must be greater than 0"), "{text}");
        let both = LogOptions::parse(Some("sinceSeconds=5&sinceTime=2024-01-02T03:04:05Z")).unwrap().validate();
        assert_eq!(
            api_types::field::aggregate(&both),
            "[]: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
        assert!(matches!(LogOptions::parse(Some("tailLines=x")), Err(ApiError::BadRequest(m)) if m.contains("\"x\"")));
    }

    #[test]
    fn containers_are_defaulted_or_named_as_upstream() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}],
            "ephemeralContainers": [{"name": "debugger"}]}});
        let err = |r: ApiResult<String>| match r {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(validate_container("", &pod, "p")),
            "a container name must be specified for pod p, choose one of: [init a b debugger]"
        );
        assert_eq!(err(validate_container("zz", &pod, "p")), "container zz is not valid for pod p");
        assert_eq!(validate_container("debugger", &pod, "p").unwrap(), "debugger");
        let one = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(validate_container("", &one, "p").unwrap(), "only");
    }

    #[test]
    fn stream_targets_rename_the_parameters() {
        let p =
            params(Some("command=sh&command=-c&command=exit%203&stdin=true&stdout=1&stderr=false&tty=&container=c"));
        assert_eq!(
            stream_target("exec", "ns", "p", "c", &p),
            "/exec/ns/p/c?command=sh&command=-c&command=exit+3&input=1&output=1&tty=1"
        );
        assert_eq!(stream_target("attach", "ns", "p", "c", &params(Some("stdout=true"))), "/attach/ns/p/c?output=1");
        assert_eq!(
            stream_target("portforward", "ns", "p", "", &params(Some("ports=80&ports=443"))),
            "/portForward/ns/p?port=80%2C443"
        );
    }

    #[test]
    fn proxy_names_and_paths() {
        assert_eq!(split_scheme_name_port("n1"), Some(("", "n1", "")));
        assert_eq!(split_scheme_name_port("n1:10255"), Some(("", "n1", "10255")));
        assert_eq!(split_scheme_name_port("https:n1:443"), Some(("https", "n1", "443")));
        assert_eq!(split_scheme_name_port("ftp:n1:21"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
        assert_eq!(proxied_path("/api/v1/nodes/n1/proxy/metrics/cadvisor", false), "/metrics/cadvisor");
        assert_eq!(proxied_path("/api/v1/nodes/n1/proxy", false), "");
        assert_eq!(proxied_path("/api/v1/nodes/n1/proxy/", false), "/");
        assert_eq!(proxied_path("/api/v1/namespaces/d/services/s:80/proxy/a/b/", true), "/a/b/");
    }

    #[test]
    fn kubelet_errors_become_statuses() {
        let (code, s) = response_error(404, "pods/log", "p", "pod does not exist".into()).to_status();
        assert_eq!(code, 404);
        assert_eq!(s["message"], "the server could not find the requested resource ( pods/log p)");
        let (code, s) = response_error(400, "pods/log", "p", "container \"c\" is waiting".into()).to_status();
        assert_eq!((code, s["message"].as_str().unwrap()), (400, "container \"c\" is waiting"));
    }
}
