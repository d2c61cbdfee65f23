//! Service-account tokens: issuing bound tokens (TokenRequest), verifying bound and legacy
//! (Secret-based) tokens, and the issuer discovery documents (`/.well-known/openid-configuration`,
//! `/openid/v1/jwks`).
//!
//! A verified signature is cached by token string, so a busy client costs one signature check
//! per token; the cheap checks (times, audiences, and that the service account and the bound
//! object still exist) run on every request, so deleting a bound pod revokes its tokens at once.

use super::UserInfo;
use api_types::json::Ptr;
use api_types::serviceaccount::{INVALID_SINCE_LABEL, LAST_USED_LABEL};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pki::sakey::{Alg, PublicKey};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// go-jose's default clock skew allowance.
const LEEWAY: i64 = 60;
const CACHE_MAX: usize = 10_000;

pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
pub const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
pub const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// A verification key and its decoded form.
struct VerifyKey {
    public: PublicKey,
    key: DecodingKey,
}

/// The service-account token configuration of the apiserver.
pub struct ServiceAccounts {
    /// `--service-account-issuer`: the first one signs, all are accepted.
    pub issuers: Vec<String>,
    /// `--api-audiences` (default: the issuers).
    pub api_audiences: Vec<String>,
    pub jwks_uri: String,
    pub lookup: bool,
    pub max_expiration: Option<i64>,
    /// `--service-account-extend-token-expiration`.
    pub extend_expiration: bool,
    signing: Option<(EncodingKey, Alg, String)>,
    keys: Vec<VerifyKey>,
    verified: Mutex<HashMap<String, Value>>,
}

fn algorithm(a: Alg) -> Algorithm {
    match a {
        Alg::RS256 => Algorithm::RS256,
        Alg::ES256 => Algorithm::ES256,
    }
}

/// Why a token is refused. The text is logged, never sent: clients only see "Unauthorized".
pub type Refusal = String;

/// What one token authenticator concluded.
pub enum TokenOutcome {
    /// Not a token this authenticator understands (other authenticators may try).
    NotMine,
    User(UserInfo, Vec<String>),
    Invalid(Refusal),
}

impl ServiceAccounts {
    pub fn new(
        issuers: Vec<String>,
        api_audiences: Vec<String>,
        signing_pem: Option<&str>,
        verify_pems: &[String],
        jwks_uri: String,
    ) -> Result<Self, String> {
        let signing = match signing_pem {
            Some(pem) => {
                let k = pki::sakey::signing_key_from_pem(pem).map_err(|e| e.to_string())?;
                let enc = match k.public.alg {
                    Alg::RS256 => EncodingKey::from_rsa_pem(k.pkcs8_pem.as_bytes()),
                    Alg::ES256 => EncodingKey::from_ec_pem(k.pkcs8_pem.as_bytes()),
                }
                .map_err(|e| e.to_string())?;
                Some((enc, k.public.alg, k.public.kid))
            }
            None => None,
        };
        let mut keys = Vec::new();
        for pem in verify_pems {
            for public in pki::sakey::public_keys_from_pem(pem).map_err(|e| e.to_string())? {
                let key = match public.alg {
                    Alg::RS256 => DecodingKey::from_rsa_pem(public.pem().as_bytes()),
                    Alg::ES256 => DecodingKey::from_ec_pem(public.pem().as_bytes()),
                }
                .map_err(|e| e.to_string())?;
                keys.push(VerifyKey { public, key });
            }
        }
        let api_audiences = if api_audiences.is_empty() { issuers.clone() } else { api_audiences };
        Ok(ServiceAccounts {
            issuers,
            api_audiences,
            jwks_uri,
            lookup: true,
            max_expiration: None,
            extend_expiration: true,
            signing,
            keys,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Signs a bound token. `claims` carries everything but the issuer.
    pub fn sign(&self, mut claims: Value) -> Result<String, String> {
        let (key, alg, kid) = self.signing.as_ref().ok_or("no service account signing key is configured")?;
        claims["iss"] = json!(self.issuers.first().cloned().unwrap_or_default());
        let mut header = Header::new(algorithm(*alg));
        header.typ = None;
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| e.to_string())
    }

    /// The claims of a token whose signature one of our keys made, or None.
    fn verified_claims(&self, token: &str) -> Option<Value> {
        if let Some(c) = self.verified.lock().unwrap_or_else(|p| p.into_inner()).get(token) {
            return Some(c.clone());
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let by_kid: Vec<&VerifyKey> = match &header.kid {
            Some(kid) => self.keys.iter().filter(|k| &k.public.kid == kid).collect(),
            None => Vec::new(),
        };
        let candidates = if by_kid.is_empty() { self.keys.iter().collect() } else { by_kid };
        for k in candidates {
            if algorithm(k.public.alg) != header.alg {
                continue;
            }
            if let Ok(data) = jsonwebtoken::decode::<Value>(token, &k.key, &validation) {
                let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
                cache.insert(token.to_string(), data.claims.clone());
                return Some(data.claims);
            }
        }
        None
    }

    /// The issuer a token claims, read without verifying anything (to pick the authenticator).
    fn unverified_issuer(token: &str) -> Option<String> {
        let mut parts = token.split('.');
        let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let payload = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
        let v: Value = serde_json::from_slice(&payload).ok()?;
        v.get("iss").and_then(Value::as_str).map(String::from)
    }

    /// Authenticates a bearer token against `audiences` (the API audiences, or a TokenReview's).
    pub async fn authenticate(&self, st: &crate::ApiServer, token: &str, audiences: &[String]) -> TokenOutcome {
        let Some(iss) = Self::unverified_issuer(token) else { return TokenOutcome::NotMine };
        let legacy = iss == LEGACY_ISSUER;
        if !legacy && !self.issuers.contains(&iss) {
            return TokenOutcome::NotMine;
        }
        let Some(claims) = self.verified_claims(token) else {
            return TokenOutcome::Invalid("invalid signature".into());
        };
        if legacy {
            self.legacy(st, token, &claims, audiences).await
        } else {
            self.bound(st, &claims, audiences).await
        }
    }

    async fn bound(&self, st: &crate::ApiServer, claims: &Value, audiences: &[String]) -> TokenOutcome {
        let now = chrono::Utc::now().timestamp();
        let num = |k: &str| claims.get(k).and_then(Value::as_i64);
        match num("exp") {
            Some(exp) if exp + LEEWAY < now => {
                return TokenOutcome::Invalid("service account token has expired".into())
            }
            None => return TokenOutcome::Invalid("service account token has no expiry".into()),
            _ => {}
        }
        if num("nbf").is_some_and(|nbf| nbf > now + LEEWAY) {
            return TokenOutcome::Invalid("service account token is not valid yet".into());
        }
        if num("iat").is_some_and(|iat| iat > now + LEEWAY) {
            return TokenOutcome::Invalid("service account token is issued in the future".into());
        }
        let token_auds: Vec<String> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => Vec::new(),
        };
        let matched: Vec<String> = audiences.iter().filter(|a| token_auds.contains(a)).cloned().collect();
        if matched.is_empty() {
            return TokenOutcome::Invalid(format!(
                "token audiences {token_auds:?} is invalid for the target audiences {audiences:?}"
            ));
        }
        let k = claims.get("kubernetes.io").cloned().unwrap_or(Value::Null);
        let s = |v: &Value, p: &str| v.ptr(p).and_then(Value::as_str).unwrap_or("").to_string();
        let ns = s(&k, "/namespace");
        let (sa_name, sa_uid) = (s(&k, "/serviceaccount/name"), s(&k, "/serviceaccount/uid"));
        if ns.is_empty() || sa_name.is_empty() {
            return TokenOutcome::Invalid("service account token claims are incomplete".into());
        }
        let mut user = UserInfo {
            name: ::rbac::service_account_user(&ns, &sa_name),
            uid: sa_uid.clone(),
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
            ..Default::default()
        };
        if self.lookup {
            if let Err(e) = check_live(st, "serviceaccounts", &ns, &sa_name, &sa_uid).await {
                return TokenOutcome::Invalid(e);
            }
            for (kind, plural) in [("pod", "pods"), ("secret", "secrets")] {
                let name = s(&k, &format!("/{kind}/name"));
                if !name.is_empty() {
                    if let Err(e) = check_live(st, plural, &ns, &name, &s(&k, &format!("/{kind}/uid"))).await {
                        return TokenOutcome::Invalid(e);
                    }
                }
            }
            let node = s(&k, "/node/name");
            if !node.is_empty() && k.ptr("/pod").is_none() {
                if let Err(e) = check_live(st, "nodes", "", &node, &s(&k, "/node/uid")).await {
                    return TokenOutcome::Invalid(e);
                }
            }
        }
        let mut extra = |key: &str, v: String| {
            if !v.is_empty() {
                user.extra.insert(key.into(), vec![v]);
            }
        };
        extra(POD_NAME_KEY, s(&k, "/pod/name"));
        extra(POD_UID_KEY, s(&k, "/pod/uid"));
        extra(NODE_NAME_KEY, s(&k, "/node/name"));
        extra(NODE_UID_KEY, s(&k, "/node/uid"));
        if let Some(w) = k.ptr("/warnafter").and_then(Value::as_i64) {
            if w < now {
                tracing::warn!(user = %user.name, "a service account token past its warn-after time was used (stale token)");
            }
        }
        let jti = s(claims, "/jti");
        if !jti.is_empty() {
            extra(CREDENTIAL_ID_KEY, format!("JTI={jti}"));
        }
        TokenOutcome::User(user, matched)
    }

    async fn legacy(&self, st: &crate::ApiServer, token: &str, claims: &Value, audiences: &[String]) -> TokenOutcome {
        let s = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let ns = s("kubernetes.io/serviceaccount/namespace");
        let secret = s("kubernetes.io/serviceaccount/secret.name");
        let sa_name = s("kubernetes.io/serviceaccount/service-account.name");
        let sa_uid = s("kubernetes.io/serviceaccount/service-account.uid");
        if ns.is_empty() || secret.is_empty() || sa_name.is_empty() || sa_uid.is_empty() {
            return TokenOutcome::Invalid("service account token claims are incomplete".into());
        }
        if s("sub") != ::rbac::service_account_user(&ns, &sa_name) {
            return TokenOutcome::Invalid("sub does not match the service account".into());
        }
        if self.lookup {
            let Some(sec) = crate::backend::lookup(st, "", "secrets", &ns, &secret).await else {
                return TokenOutcome::Invalid(format!("secrets \"{secret}\" not found"));
            };
            if sec.ptr("/metadata/deletionTimestamp").is_some() {
                return TokenOutcome::Invalid("the service account token has been deleted".into());
            }
            let stored = sec.ptr("/data/token").and_then(Value::as_str).unwrap_or("");
            let stored = base64::engine::general_purpose::STANDARD.decode(stored).unwrap_or_default();
            if stored != token.as_bytes() {
                return TokenOutcome::Invalid("token does not match the secret's token".into());
            }
            if let Err(e) = check_live(st, "serviceaccounts", &ns, &sa_name, &sa_uid).await {
                return TokenOutcome::Invalid(e);
            }
            // Legacy token tracking, as upstream's legacyValidator: the Secret records the day
            // of use, and one the cleaner marked invalid authenticates no more.
            let invalid_since = sec.ptr("/metadata/labels").and_then(|l| l.get(INVALID_SINCE_LABEL));
            let invalid = invalid_since.and_then(Value::as_str).is_some_and(|v| !v.is_empty());
            mark_used(st, &sec).await;
            if invalid {
                return TokenOutcome::Invalid(format!(
                    "the token in secret {ns}/{secret} for service account {ns}/{sa_name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '{INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token"
                ));
            }
        }
        let user = UserInfo {
            name: ::rbac::service_account_user(&ns, &sa_name),
            uid: sa_uid,
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
            ..Default::default()
        };
        // Legacy tokens carry no audience: they are valid for every requested one.
        TokenOutcome::User(user, audiences.to_vec())
    }

    /// `/.well-known/openid-configuration`, or None when the issuer is not an https URL.
    pub fn discovery(&self) -> Option<Value> {
        let issuer = self.issuers.first()?;
        if !issuer.starts_with("https://") {
            return None;
        }
        let mut algs: Vec<&str> = self.keys.iter().map(|k| k.public.alg.as_str()).collect();
        algs.sort();
        algs.dedup();
        Some(json!({
            "issuer": issuer,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
        }))
    }

    /// `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<Value> =
            self.keys.iter().filter(|k| seen.insert(k.public.kid.clone())).map(|k| k.public.jwk()).collect();
        json!({ "keys": keys })
    }
}

/// Labels a legacy token's Secret with today's date unless it already says today (or
/// tomorrow, for a clock a little ahead), so a token in steady use costs one write a day.
/// Failures are only logged: tracking never refuses a request.
async fn mark_used(st: &crate::ApiServer, secret: &Value) {
    let now = chrono::Utc::now();
    let today = now.format("%Y-%m-%d").to_string();
    let tomorrow = (now + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let meta = &secret["metadata"];
    let last = meta.ptr("/labels").and_then(|l| l.get(LAST_USED_LABEL)).and_then(Value::as_str).unwrap_or("");
    if last == today || last == tomorrow {
        return;
    }
    let (ns, name) = (meta["namespace"].as_str().unwrap_or(""), meta["name"].as_str().unwrap_or(""));
    let Some(rd) = api_types::lookup("", "v1", "secrets") else { return };
    let info = crate::request_info::RequestInfo {
        namespace: ns.into(),
        resource: "secrets".into(),
        version: "v1".into(),
        ..Default::default()
    };
    let q = crate::codec::Query::default();
    let ctx = crate::rest::Ctx::new(st, rd, &info, &q, true);
    // The uid makes the patch fail rather than label a Secret recreated under the same name.
    let patch = json!({"metadata": {"uid": meta["uid"], "labels": {LAST_USED_LABEL: today}}});
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    let merge = Some("application/merge-patch+json");
    if let Err(e) = ctx.patch(name, &body, merge, crate::rest::UpdateMode::Main).await {
        tracing::warn!(secret = %format!("{ns}/{name}"), error = %e, "labelling a legacy service account token with its last-used date");
    }
}

/// That an object still exists, with the uid the token names, and is not long deleted.
async fn check_live(st: &crate::ApiServer, plural: &str, ns: &str, name: &str, uid: &str) -> Result<(), String> {
    let Some(obj) = crate::backend::lookup(st, "", plural, ns, name).await else {
        return Err(format!("{plural} \"{name}\" not found"));
    };
    let got = obj.ptr("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    if !uid.is_empty() && got != uid {
        return Err(format!("{plural} {name} UID ({got}) does not match claim ({uid})"));
    }
    if let Some(dt) = obj.ptr("/metadata/deletionTimestamp").and_then(Value::as_str) {
        let deleted = chrono::DateTime::parse_from_rfc3339(dt).map(|t| t.timestamp()).unwrap_or(0);
        if deleted + LEEWAY < chrono::Utc::now().timestamp() {
            return Err(format!("{plural} {name} is being deleted"));
        }
    }
    Ok(())
}

/// The claims of a bound token (without `iss`, which [`ServiceAccounts::sign`] adds).
pub struct BoundClaims<'a> {
    pub namespace: &'a str,
    pub sa_name: &'a str,
    pub sa_uid: &'a str,
    pub audiences: &'a [String],
    pub expiration_seconds: i64,
    /// ("pod" | "secret" | "node", name, uid).
    pub bound: Option<(&'a str, &'a str, &'a str)>,
    /// The node of a bound pod (name, uid).
    pub node: Option<(&'a str, &'a str)>,
    /// When an extended token starts counting as stale (`kubernetes.io.warnafter`).
    pub warn_after: Option<i64>,
}

impl BoundClaims<'_> {
    pub fn to_claims(&self, now: i64) -> Value {
        let mut k = json!({
            "namespace": self.namespace,
            "serviceaccount": {"name": self.sa_name, "uid": self.sa_uid},
        });
        if let Some((kind, name, uid)) = self.bound {
            k[kind] = json!({"name": name, "uid": uid});
        }
        if let Some((name, uid)) = self.node {
            k["node"] = json!({"name": name, "uid": uid});
        }
        if let Some(w) = self.warn_after {
            k["warnafter"] = json!(w);
        }
        json!({
            "aud": self.audiences,
            "exp": now + self.expiration_seconds,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": k,
            "nbf": now,
            "sub": ::rbac::service_account_user(self.namespace, self.sa_name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa() -> ServiceAccounts {
        let (priv_pem, pub_pem) = pki::sakey::generate_ec().unwrap();
        let mut s = ServiceAccounts::new(
            vec!["https://kubernetes.default.svc.cluster.local".into()],
            vec![],
            Some(&priv_pem),
            &[pub_pem],
            "https://127.0.0.1:6443/openid/v1/jwks".into(),
        )
        .unwrap();
        s.lookup = false;
        s
    }

    #[test]
    fn signed_tokens_verify_and_others_do_not() {
        let s = sa();
        let c = BoundClaims {
            namespace: "default",
            sa_name: "default",
            sa_uid: "u1",
            audiences: &s.api_audiences,
            expiration_seconds: 3600,
            bound: None,
            node: None,
            warn_after: None,
        };
        let tok = s.sign(c.to_claims(chrono::Utc::now().timestamp())).unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(tok.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "kid": s.keys[0].public.kid}));
        let claims = s.verified_claims(&tok).unwrap();
        assert_eq!(claims["iss"], "https://kubernetes.default.svc.cluster.local");
        assert_eq!(claims["sub"], "system:serviceaccount:default:default");
        // Another key's signature is not ours.
        let other = sa();
        assert!(s.verified_claims(&other.sign(c.to_claims(0)).unwrap()).is_none());
        // Tampered payloads fail.
        let mut parts: Vec<String> = tok.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(b"{\"iss\":\"x\"}");
        assert!(s.verified_claims(&parts.join(".")).is_none());
        assert_eq!(ServiceAccounts::unverified_issuer("a.b"), None);
        assert_eq!(s.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(s.discovery().unwrap()["jwks_uri"], "https://127.0.0.1:6443/openid/v1/jwks");
    }
}
