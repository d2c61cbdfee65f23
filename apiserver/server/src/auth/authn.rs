//! The authenticator chain, in upstream's order: x509 client certificates, then bearer tokens
//! (static token file, service-account tokens, bootstrap tokens), then anonymous. The first
//! success wins; a credential that every authenticator refuses is a 401 and never falls back
//! to anonymous (upstream's fail-on-error union).

use super::serviceaccount::{ServiceAccounts, TokenOutcome};
use super::token_file::TokenFile;
use super::{AuthnResult, UserInfo};
use pki::tls::ClientCa;
use rustls::pki_types::CertificateDer;

/// What the connection's client certificate says, checked once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertIdentity {
    None,
    User(UserInfo),
    /// A certificate that does not verify against `--client-ca-file` (or has no CN).
    Invalid,
}

/// What a connection's client certificate establishes, checked once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnIdentity {
    pub cert: CertIdentity,
    /// The certificate is an authenticating proxy's (`--requestheader-client-ca-file`, CN in
    /// `--requestheader-allowed-names`): the user comes from its headers.
    pub front_proxy: bool,
}

/// The authenticating-proxy configuration (`--requestheader-*`).
pub struct RequestHeader {
    pub ca: ClientCa,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

impl RequestHeader {
    /// The user a trusted proxy asserts, or None when it names nobody.
    fn user(&self, headers: &http::HeaderMap) -> Option<UserInfo> {
        let first = |names: &[String]| {
            names.iter().find_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()))
        };
        let name = first(&self.username_headers)?.to_string();
        let uid = first(&self.uid_headers).unwrap_or("").to_string();
        let mut groups = Vec::new();
        for h in &self.group_headers {
            for v in headers.get_all(h.as_str()) {
                if let Ok(v) = v.to_str() {
                    groups.push(v.to_string());
                }
            }
        }
        let mut extra: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (k, v) in headers {
            for p in &self.extra_prefixes {
                if let Some(key) = k.as_str().strip_prefix(p.to_ascii_lowercase().as_str()) {
                    if let Ok(v) = v.to_str() {
                        extra.entry(super::impersonation::unescape_extra_key(key)).or_default().push(v.to_string());
                    }
                }
            }
        }
        Some(UserInfo { name, uid, groups, extra })
    }
}

pub struct Authenticator {
    pub request_header: Option<RequestHeader>,
    pub client_ca: Option<ClientCa>,
    pub anonymous: bool,
    pub token_file: Option<TokenFile>,
    pub service_accounts: Option<ServiceAccounts>,
    pub bootstrap_tokens: bool,
    pub oidc: Option<oidc::OidcAuthenticator>,
    pub token_webhook: Option<super::webhook_authz::TokenWebhook>,
}

/// The bearer token of a request, as upstream's `bearertoken` authenticator extracts it.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let mut parts = auth.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Authenticator {
    /// Authenticates a connection from its client certificate chain.
    pub fn from_connection(&self, chain: Option<&[CertificateDer<'_>]>) -> ConnIdentity {
        let front_proxy = match (&self.request_header, chain.and_then(|c| c.first())) {
            (Some(rh), Some(_)) => {
                let c = chain.unwrap_or_default();
                rh.ca.verify(c)
                    && (rh.allowed_names.is_empty()
                        || pki::subject_of_der(c[0].as_ref()).is_ok_and(|s| rh.allowed_names.contains(&s.common_name)))
            }
            _ => false,
        };
        ConnIdentity { cert: self.from_certificate(chain), front_proxy }
    }

    /// Authenticates from a client certificate chain.
    pub fn from_certificate(&self, chain: Option<&[CertificateDer<'_>]>) -> CertIdentity {
        let Some(chain) = chain.filter(|c| !c.is_empty()) else { return CertIdentity::None };
        let Some(ca) = self.client_ca.as_ref() else { return CertIdentity::None };
        if !ca.verify(chain) {
            return CertIdentity::Invalid;
        }
        match pki::subject_of_der(chain[0].as_ref()) {
            Ok(s) if !s.common_name.is_empty() => CertIdentity::User(
                UserInfo { name: s.common_name, groups: s.organizations, ..Default::default() }.with_authenticated(),
            ),
            _ => CertIdentity::Invalid,
        }
    }

    /// Authenticates a bearer token for `audiences`; None when no authenticator accepts it.
    pub async fn authenticate_token(
        &self,
        st: &crate::ApiServer,
        token: &str,
        audiences: &[String],
    ) -> Option<(UserInfo, Vec<String>)> {
        if let Some(u) = self.token_file.as_ref().and_then(|f| f.authenticate(token)) {
            return Some((u.with_authenticated(), audiences.to_vec()));
        }
        if let Some(sa) = &self.service_accounts {
            match sa.authenticate(st, token, audiences).await {
                TokenOutcome::User(u, auds) => return Some((u.with_authenticated(), auds)),
                TokenOutcome::Invalid(why) => {
                    tracing::debug!(reason = %why, "service account token refused");
                    return None;
                }
                TokenOutcome::NotMine => {}
            }
        }
        if self.bootstrap_tokens {
            if let Some((id, _)) = super::bootstrap_token::parse_token(token) {
                let name = format!("bootstrap-token-{id}");
                if let Some(secret) = crate::backend::lookup(st, "", "secrets", "kube-system", &name).await {
                    if let Some(u) = super::bootstrap_token::user_for(token, &secret, chrono::Utc::now()) {
                        return Some((u.with_authenticated(), audiences.to_vec()));
                    }
                }
            }
        }
        if let Some(o) = &self.oidc {
            match o.authenticate(token).await {
                oidc::Outcome::User { name, uid, groups, extra } => {
                    let u = UserInfo { name, uid, groups, extra };
                    return Some((u.with_authenticated(), audiences.to_vec()));
                }
                oidc::Outcome::Invalid(why) => tracing::debug!(reason = %why, "OIDC token refused"),
                oidc::Outcome::NotMine => {}
            }
        }
        if let Some(w) = &self.token_webhook {
            if let Some((u, auds)) = w.authenticate(token, audiences).await {
                return Some((u.with_authenticated(), auds));
            }
        }
        None
    }

    /// The whole chain for one request.
    pub async fn authenticate(
        &self,
        st: &crate::ApiServer,
        conn: &ConnIdentity,
        headers: &http::HeaderMap,
    ) -> AuthnResult {
        if conn.front_proxy {
            if let Some(u) = self.request_header.as_ref().and_then(|rh| rh.user(headers)) {
                return AuthnResult::User(u.with_authenticated());
            }
        }
        let mut failed = false;
        match &conn.cert {
            CertIdentity::User(u) => return AuthnResult::User(u.clone()),
            CertIdentity::Invalid => failed = true,
            CertIdentity::None => {}
        }
        if let Some(token) = bearer_token(headers) {
            let auds = self.service_accounts.as_ref().map(|s| s.api_audiences.clone()).unwrap_or_default();
            match self.authenticate_token(st, token, &auds).await {
                Some((u, _)) => return AuthnResult::User(u),
                None => failed = true,
            }
        }
        if failed || !self.anonymous {
            AuthnResult::Unauthorized
        } else {
            AuthnResult::User(UserInfo::anonymous())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert("authorization", "bearer  abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
