//! Who may call the kubelet API, as upstream's kubelet decides (`pkg/kubelet/server/auth.go`):
//! a client certificate from `--client-ca-file` names the user (CN) and groups (O); a bearer
//! token is checked with a TokenReview; with neither, the caller is `system:anonymous` when
//! anonymous requests are enabled. A credential that is presented and refused is a 401, never
//! anonymous. Authorization is AlwaysAllow, or a SubjectAccessReview on the Node object with
//! the subresource the path maps to (`nodes/proxy` unless a finer one applies); answers are
//! cached for the configured TTLs.

use crate::config::ServerConfig;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};
use pki::tls::ClientCa;
use rustls::pki_types::CertificateDer;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The caller, as the authenticator established it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Why a request is refused: the status and the body, as upstream's filter writes them.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: u16,
    pub body: String,
}

/// Cached answers are bounded: past this many, the cache starts over.
const CACHE_MAX: usize = 4096;

pub struct Auth {
    node_name: String,
    anonymous: bool,
    client_ca: Option<ClientCa>,
    /// TokenReview client, when the token webhook is on.
    authn: Option<Client>,
    /// SubjectAccessReview client, when the mode is Webhook.
    authz: Option<Client>,
    token_ttl: Duration,
    authorized_ttl: Duration,
    unauthorized_ttl: Duration,
    tokens: Mutex<HashMap<String, (Option<User>, Instant)>>,
    decisions: Mutex<HashMap<String, (bool, Instant)>>,
}

/// The HTTP method's verb; methods with none (HEAD, OPTIONS) are authorized with an empty verb.
pub fn verb(method: &http::Method) -> &'static str {
    match *method {
        http::Method::POST => "create",
        http::Method::GET => "get",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "",
    }
}

fn is_subpath(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    path == base || path.starts_with(&format!("{base}/"))
}

/// The Node subresources a path is authorized against, in order; any one allowed is enough
/// (`KubeletFineGrainedAuthz`, on by default in v1.33, puts the fine-grained one first).
pub fn subresources(path: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if is_subpath(path, "/pods") || is_subpath(path, "/runningpods/") {
        out.push("pods");
    } else if is_subpath(path, "/healthz") {
        out.push("healthz");
    } else if is_subpath(path, "/configz") {
        out.push("configz");
    }
    out.push(if is_subpath(path, "/stats") {
        "stats"
    } else if is_subpath(path, "/metrics") {
        "metrics"
    } else if is_subpath(path, "/logs") {
        "log"
    } else if is_subpath(path, "/checkpoint") {
        "checkpoint"
    } else {
        "proxy"
    });
    out
}

impl Auth {
    pub fn new(cfg: &ServerConfig, node_name: &str, client: Option<&Client>) -> Result<Auth, crate::Error> {
        let client_ca = match &cfg.client_ca_file {
            Some(p) => Some(
                ClientCa::load(p)
                    .map_err(|e| crate::Error::Config(format!("unable to load client CA file {}: {e}", p.display())))?,
            ),
            None => None,
        };
        let webhook = |on: bool, what: &str| -> Result<Option<Client>, crate::Error> {
            match (on, client) {
                (false, _) => Ok(None),
                (true, Some(c)) => Ok(Some(c.clone())),
                (true, None) => Err(crate::Error::Config(format!("no client provided, cannot use webhook {what}"))),
            }
        };
        Ok(Auth {
            node_name: node_name.to_string(),
            anonymous: cfg.anonymous,
            client_ca,
            authn: webhook(cfg.webhook_authn, "authentication")?,
            authz: webhook(cfg.authz_mode == "Webhook", "authorization")?,
            token_ttl: cfg.webhook_cache_ttl,
            authorized_ttl: cfg.authorized_ttl,
            unauthorized_ttl: cfg.unauthorized_ttl,
            tokens: Mutex::default(),
            decisions: Mutex::default(),
        })
    }

    /// The CA client certificates are checked against, if any (the TLS layer asks for them).
    pub fn client_ca(&self) -> Option<&ClientCa> {
        self.client_ca.as_ref()
    }

    /// Authenticates and authorizes one request.
    pub async fn check(
        &self,
        method: &http::Method,
        path: &str,
        headers: &http::HeaderMap,
        chain: &[CertificateDer<'static>],
    ) -> Result<User, Refusal> {
        let unauthorized = || Refusal { code: 401, body: "Unauthorized".into() };
        let user = self.authenticate(headers, chain).await.ok_or_else(unauthorized)?;
        let verb = verb(method);
        let subs = subresources(path);
        for sub in &subs {
            match self.authorize(&user, verb, sub).await {
                Ok(true) => return Ok(user),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(user = %user.name, verb, subresource = sub, "Authorization error: {e}");
                    return Err(Refusal {
                        code: 500,
                        body: format!(
                            "Authorization error (user={}, verb={verb}, resource=nodes, subresource={sub})",
                            user.name
                        ),
                    });
                }
            }
        }
        Err(Refusal {
            code: 403,
            body: format!(
                "Forbidden (user={}, verb={verb}, resource=nodes, subresource(s)=[{}])\n",
                user.name,
                subs.join(" ")
            ),
        })
    }

    /// `None` when a credential was presented and refused, or there is none and anonymous
    /// requests are off.
    async fn authenticate(&self, headers: &http::HeaderMap, chain: &[CertificateDer<'static>]) -> Option<User> {
        let authenticated = |mut u: User| {
            if !u.groups.iter().any(|g| g == "system:authenticated") && u.name != "system:anonymous" {
                u.groups.push("system:authenticated".into());
            }
            u
        };
        if let (Some(ca), Some(leaf)) = (&self.client_ca, chain.first()) {
            if !ca.verify(chain) {
                return None;
            }
            let subject = pki::subject_of_der(leaf.as_ref()).ok()?;
            return Some(authenticated(User {
                name: subject.common_name,
                uid: String::new(),
                groups: subject.organizations,
                extra: BTreeMap::new(),
            }));
        }
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let (Some(token), Some(_)) = (bearer, &self.authn) {
            return self.token_user(token).await.map(authenticated);
        }
        self.anonymous.then(|| User {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
            extra: BTreeMap::new(),
        })
    }

    async fn token_user(&self, token: &str) -> Option<User> {
        if let Some((u, at)) = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(token) {
            if at.elapsed() < self.token_ttl {
                return u.clone();
            }
        }
        let api: Api<TokenReview> = Api::all(self.authn.clone()?);
        let review = TokenReview {
            spec: TokenReviewSpec { token: Some(token.to_string()), audiences: None },
            ..Default::default()
        };
        let status = match api.create(&PostParams::default(), &review).await {
            Ok(out) => out.status.unwrap_or_default(),
            Err(e) => {
                // Not cached: the next request asks again.
                tracing::error!("Unable to authenticate the request: {e}");
                return None;
            }
        };
        let user = status.user.filter(|_| status.authenticated == Some(true)).map(|u| User {
            name: u.username.unwrap_or_default(),
            uid: u.uid.unwrap_or_default(),
            groups: u.groups.unwrap_or_default(),
            extra: u.extra.unwrap_or_default().into_iter().collect(),
        });
        let mut cache = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), (user.clone(), Instant::now()));
        user
    }

    async fn authorize(&self, user: &User, verb: &str, subresource: &str) -> Result<bool, String> {
        let Some(client) = &self.authz else { return Ok(true) };
        let key = format!("{}\0{}\0{}\0{verb}\0{subresource}", user.name, user.uid, user.groups.join(","));
        if let Some((ok, at)) = self.decisions.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            if at.elapsed() < if *ok { self.authorized_ttl } else { self.unauthorized_ttl } {
                return Ok(*ok);
            }
        }
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.name.clone()),
                uid: Some(user.uid.clone()).filter(|u| !u.is_empty()),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    version: Some("v1".into()),
                    resource: Some("nodes".into()),
                    subresource: Some(subresource.to_string()),
                    name: Some(self.node_name.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let out = api.create(&PostParams::default(), &sar).await.map_err(|e| e.to_string())?;
        let ok = out.status.is_some_and(|s| s.allowed);
        let mut cache = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (ok, Instant::now()));
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_upstreams_subresources() {
        assert_eq!(subresources("/pods"), ["pods", "proxy"]);
        assert_eq!(subresources("/pods/"), ["pods", "proxy"]);
        assert_eq!(subresources("/runningpods/"), ["pods", "proxy"]);
        assert_eq!(subresources("/healthz"), ["healthz", "proxy"]);
        assert_eq!(subresources("/configz"), ["configz", "proxy"]);
        assert_eq!(subresources("/stats/summary"), ["stats"]);
        assert_eq!(subresources("/metrics/resource"), ["metrics"]);
        assert_eq!(subresources("/metrics"), ["metrics"]);
        assert_eq!(subresources("/logs/syslog"), ["log"]);
        assert_eq!(subresources("/checkpoint/ns/p/c"), ["checkpoint"]);
        assert_eq!(subresources("/containerLogs/ns/p/c"), ["proxy"]);
        assert_eq!(subresources("/exec/ns/p/c"), ["proxy"]);
        // Only whole path segments match.
        assert_eq!(subresources("/podsx"), ["proxy"]);
        assert_eq!(subresources("/statsfoo"), ["proxy"]);
    }

    #[test]
    fn methods_map_to_verbs() {
        assert_eq!(verb(&http::Method::GET), "get");
        assert_eq!(verb(&http::Method::POST), "create");
        assert_eq!(verb(&http::Method::PUT), "update");
        assert_eq!(verb(&http::Method::PATCH), "patch");
        assert_eq!(verb(&http::Method::DELETE), "delete");
        assert_eq!(verb(&http::Method::HEAD), "");
    }

    fn server_cfg(anonymous: bool, webhooks: bool) -> ServerConfig {
        ServerConfig {
            anonymous,
            webhook_authn: webhooks,
            webhook_cache_ttl: Duration::from_secs(120),
            client_ca_file: None,
            authz_mode: if webhooks { "Webhook" } else { "AlwaysAllow" }.into(),
            authorized_ttl: Duration::from_secs(300),
            unauthorized_ttl: Duration::from_secs(30),
            tls_cert_file: None,
            tls_private_key_file: None,
            cert_dir: "/nonexistent".into(),
            enable_debugging_handlers: true,
            enable_system_log_handler: true,
        }
    }

    #[tokio::test]
    async fn anonymous_requests_only_when_enabled() {
        let h = http::HeaderMap::new();
        let open = Auth::new(&server_cfg(true, false), "n1", None).unwrap();
        let u = open.check(&http::Method::GET, "/pods", &h, &[]).await.unwrap();
        assert_eq!(u.name, "system:anonymous");
        assert_eq!(u.groups, ["system:unauthenticated"]);
        let closed = Auth::new(&server_cfg(false, false), "n1", None).unwrap();
        let r = closed.check(&http::Method::GET, "/pods", &h, &[]).await.unwrap_err();
        assert_eq!(r, Refusal { code: 401, body: "Unauthorized".into() });
    }

    #[test]
    fn webhooks_need_a_client() {
        assert!(Auth::new(&server_cfg(false, true), "n1", None).is_err());
    }
}
