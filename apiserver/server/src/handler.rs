//! The request pipeline: classify, authenticate, authorize, route to discovery, health,
//! metrics or the REST handlers, encode, and record metrics.

use crate::auth::authn::ConnIdentity;
use crate::auth::impersonation::{self, Refused};
use crate::auth::{AuthnResult, UserInfo};
use crate::codec::{self, Encoding, Query};
use crate::error::{ApiError, ApiResult};
use crate::request_info::{self, RequestInfo};
use crate::rest::{Ctx, Reply, UpdateMode};
use crate::{discovery, full, health, subresources, watch, ApiServer, Body};
use http::{header, Method, Request, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

fn json_response(code: u16, v: &Value, content_type: &str) -> Response<Body> {
    bytes_response(code, content_type, serde_json::to_vec(v).unwrap_or_default())
}

/// An encoded API response body (never cached by intermediaries, as upstream).
fn bytes_response(code: u16, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(full(bytes))
        .expect("valid response")
}

fn text_response(code: u16, text: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(full(text.into_bytes()))
        .expect("valid response")
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let (code, status) = e.to_status();
    json_response(code, &status, "application/json")
}

/// A list as JSON, written straight from the cached encodings of its items.
fn json_list(reply: &Reply, items: &[Arc<storage::Obj>]) -> Vec<u8> {
    let size: usize = items.iter().map(|i| i.list_item().len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    out.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut out, &reply.body["kind"]);
    out.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut out, &reply.body["apiVersion"]);
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, &reply.body["metadata"]);
    out.extend_from_slice(b",\"items\":[");
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(i.list_item());
    }
    out.extend_from_slice(b"]}");
    out
}

/// A list as protobuf, each item decoded from its cached encoding only while it is encoded.
fn protobuf_list(body: &Value, items: &[Arc<storage::Obj>]) -> Option<Vec<u8>> {
    let api_version = body.get("apiVersion").and_then(Value::as_str)?;
    let list_kind = body.get("kind").and_then(Value::as_str)?;
    let (group, version) = api_types::split_api_version(api_version);
    let item_def = openapi::kind_definition(group, version, list_kind.strip_suffix("List")?)?;
    let mut encoded = Vec::with_capacity(items.len());
    for i in items {
        let v: Value = serde_json::from_slice(i.list_item()).ok()?;
        encoded.push(kproto::encode(item_def, &v).ok()?);
    }
    kproto::encode_list_object(api_version, list_kind, &body["metadata"], encoded).ok()
}

/// Encodes a reply as negotiated.
fn encode(reply: Reply, enc: Encoding, q: &Query, rd: &api_types::ResourceDef) -> Response<Body> {
    // Lists keep their items apart: encode them item by item.
    if let Some(items) = &reply.items {
        let list = match enc {
            Encoding::Json => Some((json_list(&reply, items), "application/json")),
            Encoding::Table => Some((
                crate::table::list_to_table_json(rd, &reply.body, items, q),
                "application/json;as=Table;v=v1;g=meta.k8s.io",
            )),
            Encoding::Protobuf => protobuf_list(&reply.body, items).map(|b| (b, kproto::CONTENT_TYPE)),
            _ => None,
        };
        if let Some((bytes, ct)) = list {
            return bytes_response(reply.code, ct, bytes);
        }
    }
    let code = reply.code;
    let reply = Reply::with_code(code, reply.into_value());
    if enc == Encoding::Protobuf {
        if let Some(bytes) = codec::encode_protobuf(&reply.body) {
            return bytes_response(reply.code, kproto::CONTENT_TYPE, bytes);
        }
        // Kinds without a protobuf form answer JSON, which protobuf clients also accept.
        return json_response(reply.code, &reply.body, "application/json");
    }
    match enc {
        Encoding::Json | Encoding::Protobuf => json_response(reply.code, &reply.body, "application/json"),
        Encoding::Yaml => {
            let text = serde_saphyr::to_string(&reply.body).unwrap_or_default();
            Response::builder()
                .status(reply.code)
                .header(header::CONTENT_TYPE, "application/yaml")
                .body(full(text.into_bytes()))
                .expect("valid response")
        }
        Encoding::PartialMetadata => {
            let is_status = reply.body.get("kind").and_then(Value::as_str) == Some("Status");
            if is_status || reply.code >= 300 {
                json_response(reply.code, &reply.body, "application/json")
            } else {
                let (v, ct) = crate::table::to_partial(&reply.body);
                json_response(reply.code, &v, ct)
            }
        }
        Encoding::Table => {
            let is_status = reply.body.get("kind").and_then(Value::as_str) == Some("Status");
            if is_status || reply.code >= 300 {
                json_response(reply.code, &reply.body, "application/json")
            } else {
                let t = crate::table::to_table(rd, reply.body, q, true);
                json_response(reply.code, &t, "application/json;as=Table;v=v1;g=meta.k8s.io")
            }
        }
    }
}

/// Entry point for every request on a connection whose client certificate said `cert`.
pub async fn handle(
    st: Arc<ApiServer>,
    cert: ConnIdentity,
    peer: Option<std::net::SocketAddr>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let start = Instant::now();
    // A request's body is read (bounded, oversized ones drained) before anything can refuse
    // it: answering early and dropping an unread body resets an HTTP/2 stream, which clients
    // such as curl report as a framing error instead of the Status.
    let (parts, incoming) = req.into_parts();
    let body = if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        let length =
            parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        codec::read_body(incoming, length).await
    } else {
        Ok(bytes::Bytes::new())
    };
    let req = Request::from_parts(parts, body);
    let info = request_info::parse(req.method(), req.uri().path(), req.uri().query());
    let audit_id = crate::auditing::audit_id(req.headers());
    let mut aud = audit::RequestAudit::disabled();
    let auditor = st.audit.clone();
    let result = match admit(&st, &cert, &info, req.headers(), peer, req.uri(), &audit_id, &mut aud).await {
        Ok(user) => route(&st, &info, user, req, &mut aud).await,
        Err(e) => Err(e),
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let (code, status) = e.to_status();
            if let Some(ev) = aud.event_mut() {
                if let Some(rs) = audit::ResponseStatus::from_status_object(&status) {
                    ev.set_response_status(rs);
                }
                aud.log_response_object(&status);
            }
            json_response(code, &status, "application/json")
        }
    };
    if let Ok(v) = http::HeaderValue::from_str(&audit_id) {
        resp.headers_mut().insert("audit-id", v);
    }
    let code = resp.status().as_u16();
    record_metrics(&info, code, start);
    if let Some(a) = auditor {
        if aud.enabled() {
            let _ = aud.response_started(i32::from(code), &a.sink);
            if info.verb == "watch" {
                // A watch completes when its stream ends (the body is dropped).
                let guard = AuditOnDrop { audit: aud, auditor: a };
                let (parts, body) = resp.into_parts();
                let body = body.map_frame(move |f| {
                    let _ = &guard;
                    f
                });
                return Ok(Response::from_parts(parts, body.boxed()));
            }
            let _ = aud.response_complete(&a.sink);
        }
    }
    Ok(resp)
}

/// Emits a long-running request's ResponseComplete when its response body goes away.
struct AuditOnDrop {
    audit: audit::RequestAudit,
    auditor: Arc<crate::auditing::Auditor>,
}

impl Drop for AuditOnDrop {
    fn drop(&mut self) {
        let _ = self.audit.response_complete(&self.auditor.sink);
    }
}

/// A Forbidden error for the attributes a decision was made on.
pub fn forbidden(a: &::rbac::Attributes, reason: &str) -> ApiError {
    let (group, resource, name) =
        if a.is_resource { (a.api_group.as_str(), a.resource.as_str(), a.name.as_str()) } else { ("", "", "") };
    ApiError::Forbidden {
        qualified: crate::error::Qualified::new(group, resource, name),
        message: crate::auth::forbidden_message(a, reason),
    }
}

/// Authentication, audit start, impersonation and authorization: the user the request runs as.
#[allow(clippy::too_many_arguments)]
async fn admit(
    st: &ApiServer,
    cert: &ConnIdentity,
    info: &RequestInfo,
    headers: &http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
    uri: &http::Uri,
    audit_id: &str,
    aud: &mut audit::RequestAudit,
) -> ApiResult<UserInfo> {
    let user = match st.authn.authenticate(st, cert, headers).await {
        AuthnResult::Unauthorized => {
            if let Some(a) = &st.audit {
                *aud = a.begin(audit_id, info, None, headers, peer, uri);
                let (code, status) = ApiError::Unauthorized.to_status();
                let _ = aud.authentication_failed(i32::from(code), &status, &a.sink);
                // Nothing more is recorded for this request.
                *aud = audit::RequestAudit::disabled();
            }
            return Err(ApiError::Unauthorized);
        }
        AuthnResult::User(u) => u,
    };
    if let Some(a) = &st.audit {
        *aud = a.begin(audit_id, info, Some(&user), headers, peer, uri);
        if aud.request_received(&a.sink).is_err() {
            return Err(ApiError::Internal("failed to store audit event".into()));
        }
    }
    let impersonating = headers.contains_key("impersonate-user");
    let user = impersonation::impersonate(&st.authz, user, headers).await.map_err(|r| match r {
        Refused::Invalid(m) => ApiError::Internal(m),
        Refused::Forbidden { attrs, reason } => forbidden(&attrs, &reason),
    })?;
    if impersonating {
        aud.log_impersonated_user(crate::auditing::audit_user(&user));
    }
    let attrs = user.attributes(info);
    let d = st.authz.authorize(&attrs).await;
    aud.log_authorization(d.allowed(), d.reason());
    if let crate::auth::authz::Decision::Error(e) = &d {
        return Err(ApiError::Internal(e.clone()));
    }
    if !d.allowed() {
        return Err(forbidden(&attrs, d.reason()));
    }
    Ok(user)
}

fn record_metrics(info: &RequestInfo, code: u16, start: Instant) {
    // Connect subresources (log, exec, attach, portforward, proxy) count as CONNECT.
    let connect = info.is_resource && crate::connect::is_connect(&info.resource, &info.subresource);
    let verb = if connect { "CONNECT".to_string() } else { info.verb.to_uppercase() };
    let scope = if !info.is_resource {
        ""
    } else if !info.name.is_empty() {
        "resource"
    } else if !info.namespace.is_empty() {
        "namespace"
    } else {
        "cluster"
    };
    let code = code.to_string();
    crate::metrics::REQUEST_TOTAL
        .with_label_values(&[
            &code,
            "apiserver",
            "",
            &info.group,
            &info.resource,
            scope,
            &info.subresource,
            &verb,
            &info.version,
        ])
        .inc();
    if info.verb != "watch" {
        crate::metrics::REQUEST_DURATION
            .with_label_values(&[
                "apiserver",
                "",
                &info.group,
                &info.resource,
                scope,
                &info.subresource,
                &verb,
                &info.version,
            ])
            .observe(start.elapsed().as_secs_f64());
    }
}

async fn route(
    st: &ApiServer,
    info: &RequestInfo,
    user: UserInfo,
    req: Request<ApiResult<bytes::Bytes>>,
    aud: &mut audit::RequestAudit,
) -> ApiResult<Response<Body>> {
    let path = req.uri().path().to_string();
    let q = Query::parse(req.uri().query());
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_string);
    if info.is_resource {
        return resource(st, info, user, &q, accept.as_deref(), req, aud).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::MethodNotSupported { resource: String::new(), verb: info.verb.clone() });
    }
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/version" => {
            // Upstream indents /version.
            let body = serde_json::to_vec_pretty(&crate::version::info()).unwrap_or_default();
            Ok(Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(full(body))
                .expect("valid response"))
        }
        "/openapi/v2" => {
            let d = openapi::v2();
            let proto = accept.as_deref().is_some_and(|a| a.contains("application/com.github.proto-openapi.spec.v2"));
            let (ct, body) = if proto {
                ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", d.protobuf.clone())
            } else {
                ("application/json", d.json.clone())
            };
            Ok(Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, ct)
                .header(header::ETAG, format!("\"{}\"", d.hash))
                .body(full(body))
                .expect("valid response"))
        }
        "/openapi/v3" => Ok(json_response(200, &openapi::v3_index(), "application/json")),
        "/.well-known/openid-configuration" | "/openid/v1/jwks" => {
            let sa = st.authn.service_accounts.as_ref().ok_or(ApiError::NotFoundPath)?;
            let (doc, ct) = if trimmed == "/openid/v1/jwks" {
                sa.discovery().ok_or(ApiError::NotFoundPath)?;
                (sa.jwks(), "application/jwk-set+json")
            } else {
                (sa.discovery().ok_or(ApiError::NotFoundPath)?, "application/json")
            };
            let mut r = json_response(200, &doc, ct);
            r.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=3600"));
            Ok(r)
        }
        "/metrics" => Ok(Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
            .body(full(crate::metrics::render().into_bytes()))
            .expect("valid response")),
        "/api" => match discovery::wants_aggregated(accept.as_deref()) {
            Some(ct) => Ok(json_response(200, &discovery::aggregated(true, ct), ct)),
            None => Ok(json_response(200, &discovery::api_versions(&st.server_address()), "application/json")),
        },
        "/apis" => match discovery::wants_aggregated(accept.as_deref()) {
            Some(ct) => Ok(json_response(200, &discovery::aggregated(false, ct), ct)),
            None => Ok(json_response(200, &discovery::api_group_list(), "application/json")),
        },
        "" | "/" => Ok(json_response(200, &root_paths(), "application/json")),
        _ => {
            for ep in ["healthz", "livez", "readyz"] {
                let base = format!("/{ep}");
                if trimmed == base || trimmed.starts_with(&format!("{base}/")) {
                    let sub = trimmed.strip_prefix(&format!("{base}/"));
                    let exclude: Vec<String> = req
                        .uri()
                        .query()
                        .map(|qs| {
                            form_urlencoded::parse(qs.as_bytes())
                                .filter(|(k, _)| k == "exclude")
                                .map(|(_, v)| v.into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    let verbose = q.get("verbose").is_some();
                    let (code, body) = health::render(st, ep, sub, verbose, &exclude).await;
                    return Ok(text_response(code, body));
                }
            }
            if let Some(gv) = trimmed.strip_prefix("/openapi/v3/") {
                let d = openapi::v3(gv).ok_or(ApiError::NotFoundPath)?;
                return Ok(Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ETAG, format!("\"{}\"", d.hash))
                    .header(header::CACHE_CONTROL, "public, immutable")
                    .body(full(d.json.clone()))
                    .expect("valid response"));
            }
            let segs: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
            match segs.as_slice() {
                ["api", v] => discovery::api_resource_list("", v)
                    .map(|d| json_response(200, &d, "application/json"))
                    .ok_or(ApiError::NotFoundPath),
                ["apis", g] => discovery::api_group(g)
                    .map(|d| json_response(200, &d, "application/json"))
                    .ok_or(ApiError::NotFoundPath),
                ["apis", g, v] => discovery::api_resource_list(g, v)
                    .map(|d| json_response(200, &d, "application/json"))
                    .ok_or(ApiError::NotFoundPath),
                _ => Err(ApiError::NotFoundPath),
            }
        }
    }
}

fn root_paths() -> Value {
    let mut paths = vec!["/api".to_string(), "/api/v1".to_string(), "/apis".to_string()];
    for (g, vs) in api_types::groups() {
        paths.push(format!("/apis/{g}"));
        for v in vs {
            paths.push(format!("/apis/{g}/{v}"));
        }
    }
    for p in ["/healthz", "/livez", "/readyz", "/metrics", "/version"] {
        paths.push(p.into());
    }
    serde_json::json!({"paths": paths})
}

async fn resource(
    st: &ApiServer,
    info: &RequestInfo,
    user: UserInfo,
    q: &Query,
    accept: Option<&str>,
    req: Request<ApiResult<bytes::Bytes>>,
    aud: &mut audit::RequestAudit,
) -> ApiResult<Response<Body>> {
    let rd = api_types::lookup(&info.group, &info.version, &info.resource).ok_or(ApiError::NotFoundPath)?;
    if rd.namespaced && info.namespace.is_empty() && !matches!(info.verb.as_str(), "list" | "watch") {
        // Namespaced objects are only addressed inside a namespace.
        if !info.name.is_empty() || info.verb == "create" || info.verb == "deletecollection" {
            return Err(ApiError::NotFoundPath);
        }
    }
    if !rd.namespaced && !info.namespace.is_empty() && rd.plural != "namespaces" {
        return Err(ApiError::NotFoundPath);
    }
    if rd.group.is_empty() && crate::connect::is_connect(rd.plural, &info.subresource) {
        return crate::connect::serve(st, rd, info, &user, req).await;
    }
    let has_table = (rd.is_stored() || rd.plural == "componentstatuses")
        && !matches!(info.subresource.as_str(), "binding" | "token" | "eviction");
    let enc = codec::negotiate(accept, has_table)?;
    if enc == Encoding::Table {
        crate::table::include_object(q)?;
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let verb = info.verb.clone();
    let needs_body = matches!(verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection");
    let body = if needs_body { req.into_body()? } else { bytes::Bytes::new() };
    let level = aud.config().level;
    if needs_body && level >= audit::Level::Request && !body.is_empty() {
        match codec::decode_object(&body, content_type.as_deref()) {
            Ok(v) if verb != "patch" => aud.log_request_object(&v),
            _ => aud.log_request_patch(&body),
        }
    }
    let log_response = level >= audit::Level::RequestResponse;
    let ctx = Ctx::new(st, rd, info, q, false).with_user_agent(&user_agent).with_user(user);
    let ct = content_type.as_deref();

    if !info.subresource.is_empty() {
        let sub = rd.subresource(&info.subresource).ok_or(ApiError::NotFoundPath)?;
        if !sub.verbs.contains(&verb.as_str()) {
            return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb });
        }
        let name = info.name.as_str();
        let reply = match (sub.name, verb.as_str()) {
            ("status", "get") => ctx.get(name).await?,
            ("status", "update") => ctx.update(name, &body, ct, UpdateMode::Status).await?,
            ("status", "patch") => ctx.patch(name, &body, ct, UpdateMode::Status).await?,
            ("scale", v) => subresources::scale(&ctx, name, v, &body, ct).await?,
            ("binding", "create") => subresources::bind(&ctx, Some(name), &body, ct).await?,
            ("eviction", "create") => crate::eviction::evict(&ctx, name, &body, ct).await?,
            ("finalize", "update") => subresources::finalize(&ctx, name, &body, ct).await?,
            ("token", "create") => crate::authapi::token_request(&ctx, name, &body, ct).await?,
            ("ephemeralcontainers", "get") => ctx.get(name).await?,
            ("ephemeralcontainers", "update") => ctx.update(name, &body, ct, UpdateMode::EphemeralContainers).await?,
            ("ephemeralcontainers", "patch") => ctx.patch(name, &body, ct, UpdateMode::EphemeralContainers).await?,
            ("approval", "get") => ctx.get(name).await?,
            ("approval", "update") => ctx.update(name, &body, ct, UpdateMode::Approval).await?,
            ("approval", "patch") => ctx.patch(name, &body, ct, UpdateMode::Approval).await?,
            _ => return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb }),
        };
        if log_response {
            log_reply(aud, &reply);
        }
        return Ok(with_warnings(encode(reply, enc, q, rd), &ctx));
    }

    if !rd.has_verb(&verb) {
        return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb });
    }
    if !rd.is_stored() {
        let reply = match (rd.plural, verb.as_str()) {
            ("bindings", "create") => subresources::bind(&ctx, None, &body, ct).await?,
            ("componentstatuses", v) => {
                ctx.warnings.lock().unwrap_or_else(|p| p.into_inner()).push(crate::componentstatus::DEPRECATION.into());
                crate::componentstatus::serve(st, v, &info.name).await?
            }
            (
                "tokenreviews"
                | "selfsubjectreviews"
                | "subjectaccessreviews"
                | "localsubjectaccessreviews"
                | "selfsubjectaccessreviews"
                | "selfsubjectrulesreviews",
                "create",
            ) => crate::authapi::create(&ctx, &body, ct).await?,
            _ => return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb }),
        };
        if log_response {
            log_reply(aud, &reply);
        }
        return Ok(with_warnings(encode(reply, enc, q, rd), &ctx));
    }
    let reply = match verb.as_str() {
        "get" => ctx.get(&info.name).await?,
        "list" => ctx.list().await?,
        "watch" => {
            let name = if info.name.is_empty() { None } else { Some(info.name.as_str()) };
            return watch::watch(&ctx, name, enc).await;
        }
        "create" => {
            if !info.name.is_empty() {
                return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb });
            }
            ctx.create(&body, ct).await?
        }
        "update" => ctx.update(&info.name, &body, ct, UpdateMode::Main).await?,
        "patch" => ctx.patch(&info.name, &body, ct, UpdateMode::Main).await?,
        "delete" => ctx.delete(&info.name, &body, ct).await?,
        "deletecollection" => ctx.delete_collection(&body, ct).await?,
        _ => return Err(ApiError::MethodNotSupported { resource: rd.plural.into(), verb }),
    };
    if log_response {
        log_reply(aud, &reply);
    }
    Ok(with_warnings(encode(reply, enc, q, rd), &ctx))
}

/// Records a reply as the audit event's responseObject (RequestResponse level).
fn log_reply(aud: &mut audit::RequestAudit, reply: &Reply) {
    let whole = Reply { code: reply.code, body: reply.body.clone(), items: reply.items.clone() }.into_value();
    aud.log_response_object(&whole);
}

/// Adds upstream-style `Warning: 299 - "..."` headers.
fn with_warnings(mut resp: Response<Body>, ctx: &Ctx<'_>) -> Response<Body> {
    let warnings = std::mem::take(&mut *ctx.warnings.lock().unwrap_or_else(|p| p.into_inner()));
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(&w).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}
