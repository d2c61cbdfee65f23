//! The Webhook authorizer (`--authorization-mode=Webhook`,
//! `--authorization-webhook-config-file`): each decision is a SubjectAccessReview POSTed to the
//! kubeconfig's server, cached for the authorized and unauthorized TTLs.

use ::rbac::Attributes;
use api_types::json::Ptr;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the remote authorizer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allow(String),
    Deny(String),
    NoOpinion(String),
}

/// A webhook endpoint described by a kubeconfig file (its first cluster and first user), as
/// the authorization and token-authentication webhooks are configured.
pub struct Remote {
    url: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Remote {
    pub fn load(path: &std::path::Path) -> Result<Remote, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cfg: Value =
            serde_saphyr::from_str(&text).map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        let cluster = cfg.ptr("/clusters/0/cluster").ok_or("kubeconfig has no cluster")?;
        let url = cluster.get("server").and_then(Value::as_str).ok_or("kubeconfig cluster has no server")?.to_string();
        let mut b = reqwest::Client::builder().use_rustls_tls().timeout(Duration::from_secs(30));
        if let Some(ca) = kubeconfig_bytes(cluster, "certificate-authority-data", "certificate-authority", base)? {
            for c in reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| format!("certificate-authority: {e}"))? {
                b = b.add_root_certificate(c);
            }
        }
        let user = cfg.ptr("/users/0/user").cloned().unwrap_or(Value::Null);
        if let (Some(cert), Some(key)) = (
            kubeconfig_bytes(&user, "client-certificate-data", "client-certificate", base)?,
            kubeconfig_bytes(&user, "client-key-data", "client-key", base)?,
        ) {
            let mut pem = cert;
            pem.extend(key);
            b = b.identity(reqwest::Identity::from_pem(&pem).map_err(|e| format!("client certificate: {e}"))?);
        }
        let token = user.get("token").and_then(Value::as_str).map(String::from);
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(Remote { url, client, token })
    }

    /// POSTs a review and returns the answer.
    pub async fn post(&self, body: &Value) -> Result<Value, String> {
        let mut req = self.client.post(&self.url).json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("Post {}: {e}", crate::auth::go_quote(&self.url)))?;
        let code = resp.status();
        let v: Value = resp.json().await.map_err(|e| format!("decoding the webhook's answer: {e}"))?;
        if !code.is_success() {
            return Err(format!("the webhook answered {}", code.as_u16()));
        }
        Ok(v)
    }
}

pub struct WebhookAuthorizer {
    remote: Remote,
    version: String,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    cache: Mutex<HashMap<String, (Answer, Instant)>>,
}

fn kubeconfig_bytes(
    v: &Value,
    data_key: &str,
    file_key: &str,
    base: &std::path::Path,
) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine;
    if let Some(d) = v.get(data_key).and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD.decode(d).map(Some).map_err(|e| format!("{data_key}: {e}"));
    }
    if let Some(f) = v.get(file_key).and_then(Value::as_str) {
        let p = base.join(f);
        return std::fs::read(&p).map(Some).map_err(|e| format!("reading {}: {e}", p.display()));
    }
    Ok(None)
}

impl WebhookAuthorizer {
    /// Reads the kubeconfig-format configuration file.
    pub fn load(
        path: &std::path::Path,
        version: &str,
        allowed_ttl: Duration,
        denied_ttl: Duration,
    ) -> Result<Self, String> {
        if !matches!(version, "v1" | "v1beta1") {
            return Err(format!(
                "unsupported webhook authorizer version {version:?}, supported versions are \"v1\", \"v1beta1\""
            ));
        }
        Ok(WebhookAuthorizer {
            remote: Remote::load(path)?,
            version: version.to_string(),
            allowed_ttl,
            denied_ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn review(&self, a: &Attributes) -> Value {
        let mut spec = json!({"user": a.user});
        spec[if self.version == "v1" { "groups" } else { "group" }] = json!(a.groups);
        if a.is_resource {
            spec["resourceAttributes"] = json!({"namespace": a.namespace, "verb": a.verb, "group": a.api_group,
                "version": a.api_version, "resource": a.resource, "subresource": a.subresource, "name": a.name});
        } else {
            spec["nonResourceAttributes"] = json!({"path": a.path, "verb": a.verb});
        }
        json!({"apiVersion": format!("authorization.k8s.io/{}", self.version), "kind": "SubjectAccessReview", "spec": spec})
    }

    /// Asks the webhook (or the cache). `Err` is a failed call, which upstream turns into a
    /// 500 unless another authorizer allows.
    pub async fn authorize(&self, a: &Attributes) -> Result<Answer, String> {
        let body = self.review(a);
        let key = body.to_string();
        if let Some((ans, until)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            if Instant::now() < *until {
                return Ok(ans.clone());
            }
        }
        let v = self.remote.post(&body).await?;
        let s = |k: &str| v.ptr(&format!("/status/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
        let flag = |k: &str| v.ptr(&format!("/status/{k}")).and_then(Value::as_bool) == Some(true);
        let ans = if flag("allowed") {
            Answer::Allow(s("reason"))
        } else if flag("denied") {
            Answer::Deny(s("reason"))
        } else {
            Answer::NoOpinion(s("reason"))
        };
        let ttl = if matches!(ans, Answer::Allow(_)) { self.allowed_ttl } else { self.denied_ttl };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (ans.clone(), Instant::now() + ttl));
        Ok(ans)
    }
}

/// A token's user and confirmed audiences, or None when the webhook did not vouch for it.
type Vouched = Option<(crate::auth::UserInfo, Vec<String>)>;

/// The token-authentication webhook (`--authentication-token-webhook-config-file`): bearer
/// tokens no other authenticator accepts are sent as TokenReviews; answers are cached.
pub struct TokenWebhook {
    remote: Remote,
    version: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Vouched, Instant)>>,
}

impl TokenWebhook {
    pub fn load(path: &std::path::Path, version: &str, ttl: Duration) -> Result<Self, String> {
        if !matches!(version, "v1" | "v1beta1") {
            return Err(format!(
                "unsupported authentication webhook version {version:?}, supported versions are \"v1\", \"v1beta1\""
            ));
        }
        Ok(TokenWebhook {
            remote: Remote::load(path)?,
            version: version.to_string(),
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The user the webhook vouches for, with the audiences it confirmed; None when it does not.
    pub async fn authenticate(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Option<(crate::auth::UserInfo, Vec<String>)> {
        let key = format!("{token}\n{}", audiences.join(","));
        if let Some((ans, until)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            if Instant::now() < *until {
                return ans.clone();
            }
        }
        let mut spec = json!({"token": token});
        if !audiences.is_empty() {
            spec["audiences"] = json!(audiences);
        }
        let body = json!({"apiVersion": format!("authentication.k8s.io/{}", self.version), "kind": "TokenReview", "spec": spec});
        let ans = match self.remote.post(&body).await {
            Ok(v) if v.ptr("/status/authenticated").and_then(Value::as_bool) == Some(true) => {
                let u = v.ptr("/status/user").cloned().unwrap_or(Value::Null);
                let strs = |p: &str| -> Vec<String> {
                    u.ptr(p)
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                        .unwrap_or_default()
                };
                let user = crate::auth::UserInfo {
                    name: u.get("username").and_then(Value::as_str).unwrap_or("").to_string(),
                    uid: u.get("uid").and_then(Value::as_str).unwrap_or("").to_string(),
                    groups: strs("/groups"),
                    extra: u
                        .get("extra")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    let vals = v
                                        .as_array()
                                        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                                        .unwrap_or_default();
                                    (k.clone(), vals)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                let auds = match v.ptr("/status/audiences").and_then(Value::as_array) {
                    Some(a) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
                    None => audiences.to_vec(),
                };
                Some((user, auds))
            }
            Ok(_) => None,
            Err(e) => {
                // A failed call is not cached.
                tracing::warn!(error = %e, "token authentication webhook failed");
                return None;
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (ans.clone(), Instant::now() + self.ttl));
        ans
    }
}
