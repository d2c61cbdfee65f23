//! The secure port every daemon serves (`--secure-port`): `/healthz`, `/livez` and `/readyz`
//! (with `/<check>` and `?verbose`) for anyone, `/metrics` and `/configz` for callers the
//! apiserver vouches for. As upstream's delegated authentication and authorization: a client
//! certificate from the client CA names the user (CN) and groups (O); a bearer token is checked
//! with a TokenReview; a front proxy's certificate lets `X-Remote-User`/`X-Remote-Group`
//! name the user; the request is then authorized with a SubjectAccessReview (path and verb).
//! Answers are cached for ten seconds. Without a serving certificate a self-signed one is made.

use crate::flags::{DelegatedAuthFlags, ServingFlags};
use crate::Error;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::{Api, Client};
use pki::tls::ClientCa;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;

const CACHE_TTL: Duration = Duration::from_secs(10);

/// A named health check: `Ok` when healthy, else why not.
pub type Check = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The checks behind `/healthz`, `/livez` and `/readyz`, and the documents behind `/configz`.
#[derive(Clone, Default)]
pub struct Endpoints {
    checks: Arc<RwLock<Vec<(String, Check)>>>,
    configz: Arc<RwLock<BTreeMap<String, Value>>>,
}

impl Endpoints {
    pub fn new() -> Self {
        let e = Endpoints::default();
        e.add_check("ping", Arc::new(|| Ok(())));
        e.add_check("log", Arc::new(|| Ok(())));
        e
    }

    pub fn add_check(&self, name: &str, check: Check) {
        self.checks.write().unwrap_or_else(|e| e.into_inner()).push((name.to_string(), check));
    }

    /// Publishes `value` under `name` in `/configz`.
    pub fn set_configz(&self, name: &str, value: Value) {
        self.configz.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), value);
    }

    fn health(&self, root: &str, rest: &str, verbose: bool) -> (StatusCode, String) {
        let checks = self.checks.read().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = rest.strip_prefix('/').filter(|n| !n.is_empty()) {
            return match checks.iter().find(|(n, _)| n == name) {
                Some((_, c)) => match c() {
                    Ok(()) => (StatusCode::OK, "ok".into()),
                    Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("internal server error: {e}\n")),
                },
                None => (StatusCode::NOT_FOUND, "404 page not found\n".into()),
            };
        }
        let mut out = String::new();
        let mut failed = false;
        for (name, c) in checks.iter() {
            match c() {
                Ok(()) => out.push_str(&format!("[+]{name} ok\n")),
                Err(e) => {
                    failed = true;
                    out.push_str(&format!("[-]{name} failed: reason withheld\n"));
                    tracing::info!("{root} check failed: {name}: {e}");
                }
            }
        }
        if failed {
            out.push_str(&format!("{root} check failed\n"));
            (StatusCode::INTERNAL_SERVER_ERROR, out)
        } else if verbose {
            out.push_str(&format!("{root} check passed\n"));
            (StatusCode::OK, out)
        } else {
            (StatusCode::OK, "ok".into())
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    fn anonymous() -> Self {
        UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
            extra: BTreeMap::new(),
        }
    }
}

/// Delegated authentication and authorization against the apiserver.
pub struct Delegated {
    client_ca: Option<ClientCa>,
    requestheader: Option<(ClientCa, Vec<String>)>,
    username_headers: Vec<String>,
    group_headers: Vec<String>,
    authn: Option<Client>,
    authz: Option<Client>,
    always_allow: Vec<String>,
    tokens: Mutex<HashMap<String, (Option<UserInfo>, Instant)>>,
    decisions: Mutex<HashMap<String, (bool, String, Instant)>>,
}

async fn kubeconfig_client(path: &std::path::Path, ua: &str) -> Result<Client, Error> {
    let flags = crate::flags::ClientFlags { kubeconfig: Some(path.to_path_buf()), ..Default::default() };
    let cfg = crate::client::config(&flags).await?;
    crate::client::build(cfg, ua, 0.0, 0)
}

impl Delegated {
    /// Reads the client CAs from the flags, or from `kube-system/extension-apiserver-authentication`
    /// through the authentication kubeconfig as upstream does.
    /// `tolerate_lookup_failure` is the daemon's default for `--authentication-tolerate-lookup-failure`.
    pub async fn from_flags(
        f: &DelegatedAuthFlags,
        ua: &str,
        tolerate_lookup_failure: bool,
    ) -> Result<Delegated, Error> {
        let tolerate = f.authentication_tolerate_lookup_failure.unwrap_or(tolerate_lookup_failure);
        let authn = match &f.authentication_kubeconfig {
            Some(p) => Some(kubeconfig_client(p, ua).await?),
            None => {
                tracing::warn!("No authentication-kubeconfig provided in order to lookup client-ca-file in configmap/extension-apiserver-authentication in kube-system, so client certificate authentication won't work.");
                None
            }
        };
        let authz = match &f.authorization_kubeconfig {
            Some(p) => Some(kubeconfig_client(p, ua).await?),
            None => {
                tracing::warn!(
                    "No authorization-kubeconfig provided, so SubjectAccessReview of authorization tokens won't work."
                );
                None
            }
        };
        let mut client_ca_pem = match &f.client_ca_file {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))?),
            None => None,
        };
        let mut rh_pem = match &f.requestheader_client_ca_file {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::Config(format!("{}: {e}", p.display())))?),
            None => None,
        };
        let mut allowed = f.requestheader_allowed_names.clone();
        if let (Some(c), false) = (&authn, f.authentication_skip_lookup) {
            if client_ca_pem.is_none() || rh_pem.is_none() {
                let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "kube-system");
                match cms.get_opt("extension-apiserver-authentication").await {
                    Ok(Some(cm)) => {
                        let data = cm.data.unwrap_or_default();
                        if client_ca_pem.is_none() {
                            client_ca_pem = data.get("client-ca-file").cloned();
                        }
                        if rh_pem.is_none() {
                            rh_pem = data.get("requestheader-client-ca-file").cloned();
                            if let Some(names) = data.get("requestheader-allowed-names") {
                                allowed = serde_json::from_str(names).unwrap_or_default();
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) if tolerate => {
                        tracing::warn!("Error looking up in-cluster authentication configuration: {e}");
                        tracing::warn!(
                            "Continuing without authentication configuration. This may treat all requests as anonymous."
                        );
                        tracing::warn!("To require authentication configuration lookup to succeed, set --authentication-tolerate-lookup-failure=false");
                    }
                    Err(e) => {
                        return Err(Error::Config(format!(
                            "unable to load configmap based request-header-client-ca-file: {e}"
                        )))
                    }
                }
            }
        }
        let client_ca = client_ca_pem.as_deref().map(ClientCa::from_pem).transpose()?;
        let requestheader = rh_pem.as_deref().map(ClientCa::from_pem).transpose()?.map(|ca| (ca, allowed));
        Ok(Delegated {
            client_ca,
            requestheader,
            username_headers: f.requestheader_username_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            group_headers: f.requestheader_group_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            authn,
            authz,
            always_allow: f.authorization_always_allow_paths.clone(),
            tokens: Mutex::default(),
            decisions: Mutex::default(),
        })
    }

    fn cert_user(&self, chain: &[CertificateDer<'static>], req: &Request<hyper::body::Incoming>) -> Option<UserInfo> {
        let leaf = chain.first()?;
        let subject = pki::subject_of_der(leaf.as_ref()).ok()?;
        if let Some((ca, allowed)) = &self.requestheader {
            if ca.verify(chain) && (allowed.is_empty() || allowed.contains(&subject.common_name)) {
                let header = |names: &[String]| -> Vec<String> {
                    names
                        .iter()
                        .flat_map(|n| req.headers().get_all(n.as_str()).iter())
                        .filter_map(|v| v.to_str().ok().map(str::to_string))
                        .collect()
                };
                let user = header(&self.username_headers).into_iter().next()?;
                return Some(UserInfo {
                    name: user,
                    uid: String::new(),
                    groups: header(&self.group_headers),
                    extra: BTreeMap::new(),
                });
            }
        }
        let ca = self.client_ca.as_ref()?;
        if !ca.verify(chain) {
            return None;
        }
        Some(UserInfo {
            name: subject.common_name,
            uid: String::new(),
            groups: subject.organizations,
            extra: BTreeMap::new(),
        })
    }

    async fn token_user(&self, token: &str) -> Result<Option<UserInfo>, String> {
        if let Some((u, at)) = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(token) {
            if at.elapsed() < CACHE_TTL {
                return Ok(u.clone());
            }
        }
        let Some(c) = &self.authn else { return Ok(None) };
        let review = TokenReview {
            spec: TokenReviewSpec { token: Some(token.to_string()), audiences: None },
            ..Default::default()
        };
        let api: Api<TokenReview> = Api::all(c.clone());
        let out = api.create(&PostParams::default(), &review).await.map_err(|e| e.to_string())?;
        let status = out.status.unwrap_or_default();
        let user = if status.authenticated == Some(true) {
            status.user.map(|u| UserInfo {
                name: u.username.unwrap_or_default(),
                uid: u.uid.unwrap_or_default(),
                groups: u.groups.unwrap_or_default(),
                extra: u.extra.unwrap_or_default().into_iter().collect(),
            })
        } else {
            None
        };
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(token.to_string(), (user.clone(), Instant::now()));
        Ok(user)
    }

    /// `Ok(user)`, or `Err(())` for a credential that was presented and refused (401).
    async fn authenticate(
        &self,
        req: &Request<hyper::body::Incoming>,
        chain: &[CertificateDer<'static>],
    ) -> Result<UserInfo, ()> {
        if let Some(auth) = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            if let Some(token) = auth.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty()) {
                return match self.token_user(token).await {
                    Ok(Some(u)) => Ok(u),
                    Ok(None) => Err(()),
                    Err(e) => {
                        tracing::warn!("Unable to authenticate the request: {e}");
                        Err(())
                    }
                };
            }
        }
        if let Some(u) = self.cert_user(chain, req) {
            return Ok(u);
        }
        Ok(UserInfo::anonymous())
    }

    async fn authorize(&self, user: &UserInfo, verb: &str, path: &str) -> (bool, String) {
        if self.always_allow.iter().any(|p| path_matches(p, path)) || user.groups.iter().any(|g| g == "system:masters")
        {
            return (true, String::new());
        }
        let Some(c) = &self.authz else { return (false, String::new()) };
        let key = format!("{}\0{}\0{}\0{verb}\0{path}", user.name, user.uid, user.groups.join(","));
        if let Some((ok, why, at)) = self.decisions.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            if at.elapsed() < CACHE_TTL {
                return (*ok, why.clone());
            }
        }
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.name.clone()),
                uid: Some(user.uid.clone()).filter(|u| !u.is_empty()),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(path.to_string()),
                    verb: Some(verb.to_string()),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(c.clone());
        let (ok, why) = match api.create(&PostParams::default(), &sar).await {
            Ok(out) => {
                let st = out.status.unwrap_or_default();
                (st.allowed, st.reason.unwrap_or_default())
            }
            Err(e) => {
                tracing::warn!("Unable to authorize the request: {e}");
                return (false, String::new());
            }
        };
        let mut cache = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key, (ok, why.clone(), Instant::now()));
        (ok, why)
    }
}

/// `/healthz` matches itself; `/debug/*` matches everything under `/debug/`.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

fn verb_of(method: &http::Method) -> &'static str {
    match *method {
        http::Method::POST => "post",
        http::Method::PUT => "put",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        http::Method::HEAD => "head",
        _ => "get",
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": {}, "code": code.as_u16(),
    });
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn text(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    chain: Arc<Vec<CertificateDer<'static>>>,
    auth: Arc<Delegated>,
    ep: Endpoints,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let verbose =
        req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "verbose" || kv.starts_with("verbose=")));
    let user = match auth.authenticate(&req, &chain).await {
        Ok(u) => u,
        Err(()) => return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"),
    };
    let verb = verb_of(req.method());
    let (allowed, why) = auth.authorize(&user, verb, &path).await;
    if !allowed {
        let mut msg = format!("forbidden: User \"{}\" cannot {verb} path \"{path}\"", user.name);
        if !why.is_empty() {
            msg.push_str(&format!(": {why}"));
        }
        return status(StatusCode::FORBIDDEN, "Forbidden", &msg);
    }
    for root in ["/healthz", "/livez", "/readyz"] {
        if let Some(rest) = path.strip_prefix(root) {
            if rest.is_empty() || rest.starts_with('/') {
                let (code, body) = ep.health(&root[1..], rest, verbose);
                return text(code, body);
            }
        }
    }
    match path.as_str() {
        "/metrics" => {
            let body = crate::metrics::gather_text();
            Response::builder()
                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .body(Full::new(Bytes::from(body)))
                .unwrap_or_default()
        }
        "/configz" => {
            let cfg = ep.configz.read().unwrap_or_else(|e| e.into_inner()).clone();
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(serde_json::to_vec(&cfg).unwrap_or_default())))
                .unwrap_or_default()
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
    }
}

/// The serving certificate from the flags, or a self-signed one (written to `--cert-dir` when
/// given, as upstream's `<name>.crt`/`<name>.key`).
fn serving_cert(f: &ServingFlags, name: &str) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    if let (Some(c), Some(k)) = (&f.tls_cert_file, &f.tls_private_key_file) {
        return Ok((pki::tls::load_certs(c)?, pki::tls::load_key(k)?));
    }
    let (cert_path, key_path) = match &f.cert_dir {
        Some(d) => (Some(d.join(format!("{name}.crt"))), Some(d.join(format!("{name}.key")))),
        None => (None, None),
    };
    if let (Some(c), Some(k)) = (&cert_path, &key_path) {
        if c.exists() && k.exists() {
            return Ok((pki::tls::load_certs(c)?, pki::tls::load_key(k)?));
        }
    }
    let host = f.bind_address.clone();
    let ca = pki::new_ca(&format!("localhost-ca@{}", chrono_secs()))?;
    let mut ips = vec!["127.0.0.1".parse().map_err(|_| Error::Config("ip".into()))?];
    if let Ok(ip) = host.parse() {
        if !ips.contains(&ip) && host != "0.0.0.0" && host != "::" {
            ips.push(ip);
        }
    }
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: format!("localhost@{}", chrono_secs()),
            dns_names: vec!["localhost".into()],
            ips,
            server: true,
            ..Default::default()
        },
    )?;
    let pem = format!("{}{}", leaf.cert_pem, ca.cert_pem);
    if let (Some(c), Some(k), Some(d)) = (&cert_path, &key_path, &f.cert_dir) {
        std::fs::create_dir_all(d).map_err(|e| Error::Config(format!("{}: {e}", d.display())))?;
        std::fs::write(c, &pem).map_err(|e| Error::Config(format!("{}: {e}", c.display())))?;
        std::fs::write(k, &leaf.key_pem).map_err(|e| Error::Config(format!("{}: {e}", k.display())))?;
    }
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    let certs = certs.map_err(|e| Error::Config(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).map_err(|e| Error::Config(e.to_string()))?;
    Ok((certs, key))
}

fn chrono_secs() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// Binds the secure port and serves it until the process ends. Returns the bound address.
pub async fn serve(
    f: &ServingFlags,
    default_port: u16,
    name: &str,
    auth: Delegated,
    endpoints: Endpoints,
) -> Result<Option<SocketAddr>, Error> {
    let port = f.secure_port.unwrap_or(default_port);
    if port == 0 {
        return Ok(None);
    }
    let (certs, key) = serving_cert(f, name)?;
    // Client certificates are requested; the authenticator decides what they prove.
    let any_ca = auth.client_ca.clone().or_else(|| auth.requestheader.as_ref().map(|(ca, _)| ca.clone()));
    let cfg = pki::tls::server_config_from(certs, key, any_ca.as_ref())?;
    let ip: std::net::IpAddr = f.bind_address.parse().map_err(|e| Error::Config(format!("--bind-address: {e}")))?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .map_err(|e| Error::Config(format!("failed to listen on {ip}:{port}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Error::Config(e.to_string()))?;
    tracing::info!("Serving securely on {addr}");
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let auth = Arc::new(auth);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, auth, ep) = (acceptor.clone(), auth.clone(), endpoints.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let chain: Arc<Vec<CertificateDer<'static>>> =
                    Arc::new(tls.get_ref().1.peer_certificates().map(|c| c.to_vec()).unwrap_or_default());
                let svc = hyper::service::service_fn(move |req| {
                    let (chain, auth, ep) = (chain.clone(), auth.clone(), ep.clone());
                    async move { Ok::<_, std::convert::Infallible>(handle(req, chain, auth, ep).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    });
    Ok(Some(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_lists_checks_when_verbose_and_names_the_failure() {
        let ep = Endpoints::new();
        assert_eq!(ep.health("healthz", "", false), (StatusCode::OK, "ok".into()));
        assert_eq!(ep.health("healthz", "", true).1, "[+]ping ok\n[+]log ok\nhealthz check passed\n");
        ep.add_check("leaderElection", Arc::new(|| Err("lease expired".into())));
        let (code, body) = ep.health("healthz", "", false);
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("[-]leaderElection failed: reason withheld\n"));
        assert!(body.ends_with("healthz check failed\n"));
        assert_eq!(ep.health("healthz", "/ping", false), (StatusCode::OK, "ok".into()));
        assert_eq!(ep.health("healthz", "/nope", false).0, StatusCode::NOT_FOUND);
    }

    #[test]
    fn always_allow_paths_match_exactly_or_by_prefix() {
        assert!(path_matches("/healthz", "/healthz"));
        assert!(!path_matches("/healthz", "/healthz/ping"));
        assert!(path_matches("/debug/*", "/debug/pprof"));
    }
}
