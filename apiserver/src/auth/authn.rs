//! The authenticator chain, in upstream's order: x509 client certificates, then bearer tokens
//! (static token file, service-account tokens, bootstrap tokens), then anonymous. The first
//! success wins; a credential that every authenticator refuses is a 401 and never falls back
//! to anonymous (upstream's fail-on-error union).

use super::serviceaccount::{ServiceAccounts, TokenOutcome};
use super::token_file::TokenFile;
use super::{AuthnResult, UserInfo};
use crate::tls::ClientCa;
use rustls::pki_types::CertificateDer;

/// What the connection's client certificate says, checked once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertIdentity {
    None,
    User(UserInfo),
    /// A certificate that does not verify against `--client-ca-file` (or has no CN).
    Invalid,
}

pub struct Authenticator {
    pub client_ca: Option<ClientCa>,
    pub anonymous: bool,
    pub token_file: Option<TokenFile>,
    pub service_accounts: Option<ServiceAccounts>,
    pub bootstrap_tokens: bool,
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
        None
    }

    /// The whole chain for one request.
    pub async fn authenticate(
        &self,
        st: &crate::ApiServer,
        cert: &CertIdentity,
        headers: &http::HeaderMap,
    ) -> AuthnResult {
        let mut failed = false;
        match cert {
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
