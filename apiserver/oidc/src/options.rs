//! The `--oidc-*` flags and their validation, with upstream's messages so that operators see the
//! same errors as with kube-apiserver.

use crate::keys::SigAlg;
use crate::OidcError;
use std::path::PathBuf;

/// The `--oidc-*` flags of kube-apiserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcOptions {
    /// `--oidc-issuer-url`: must be https; tokens whose `iss` differs are left to other authenticators.
    pub issuer_url: String,
    /// `--oidc-client-id`: the audience tokens must carry.
    pub client_id: String,
    /// `--oidc-username-claim` (default `sub`).
    pub username_claim: String,
    /// `--oidc-username-prefix`: `None`/empty means the legacy default (`<issuer-url>#` unless the
    /// claim is `email`), `-` disables prefixing.
    pub username_prefix: Option<String>,
    /// `--oidc-groups-claim`: a string or array-of-strings claim.
    pub groups_claim: Option<String>,
    /// `--oidc-groups-prefix`.
    pub groups_prefix: String,
    /// `--oidc-ca-file`: trust anchors for the issuer; the host's roots when unset.
    pub ca_file: Option<PathBuf>,
    /// `--oidc-required-claim key=value` (repeatable; a repeated key keeps its last value, as
    /// upstream's map flag does).
    pub required_claims: Vec<(String, String)>,
    /// `--oidc-signing-algs` (default `RS256`).
    pub signing_algs: Vec<String>,
}

impl Default for OidcOptions {
    fn default() -> Self {
        OidcOptions {
            issuer_url: String::new(),
            client_id: String::new(),
            username_claim: "sub".into(),
            username_prefix: None,
            groups_claim: None,
            groups_prefix: String::new(),
            ca_file: None,
            required_claims: Vec::new(),
            signing_algs: vec!["RS256".into()],
        }
    }
}

/// Path of the synthetic JWT authenticator upstream converts the flags into; its validation
/// messages name fields under it.
const FIELD: &str = "jwt[0]";

impl OidcOptions {
    /// Whether the flags configure an authenticator at all (both issuer and client id given).
    pub fn enabled(&self) -> bool {
        !self.issuer_url.is_empty() && !self.client_id.is_empty()
    }

    /// Upstream's checks: untouched flags are fine; otherwise issuer and client id go together
    /// and the derived JWT authenticator must be valid.
    pub fn validate(&self) -> Result<(), OidcError> {
        if *self == OidcOptions::default() {
            return Ok(());
        }
        self.validate_enabled()
    }

    /// Validation for options that are about to be used, so "nothing configured" is an error.
    pub(crate) fn validate_enabled(&self) -> Result<(), OidcError> {
        if !self.enabled() {
            return Err(OidcError::InvalidOptions(
                "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set".into(),
            ));
        }
        let mut errs = Vec::new();
        validate_issuer_url(&self.issuer_url, &mut errs);
        if self.username_claim.is_empty() {
            errs.push(format!("{FIELD}.claimMappings.username: Required value: claim or expression is required"));
        }
        for (i, (claim, _)) in self.required_claims.iter().enumerate() {
            if claim.is_empty() {
                errs.push(format!(
                    "{FIELD}.claimValidationRules[{i}]: Required value: claim or expression is required"
                ));
            }
        }
        if !errs.is_empty() {
            return Err(OidcError::InvalidOptions(format!(
                "invalid authentication configuration: {}",
                aggregate(&errs)
            )));
        }
        for alg in &self.signing_algs {
            match SigAlg::parse(alg) {
                None => return Err(OidcError::InvalidOptions(format!("oidc: unsupported signing alg: {alg:?}"))),
                // Upstream accepts ES512, but jsonwebtoken cannot verify it: refuse at startup
                // rather than silently rejecting every token.
                Some(a) if a.jwt_alg().is_none() => {
                    return Err(OidcError::InvalidOptions(format!(
                        "oidc: signing alg {alg:?} is not supported by this implementation"
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The prefix put before every username, after upstream's legacy-flag rules.
    pub fn effective_username_prefix(&self) -> String {
        match self.username_prefix.as_deref().unwrap_or("") {
            "-" => String::new(),
            "" if self.username_claim != "email" => format!("{}#", self.issuer_url),
            p => p.to_string(),
        }
    }

    /// Parses one `--oidc-required-claim` value: `key=value`, split at the first `=` only.
    pub fn parse_required_claim(s: &str) -> Result<(String, String), OidcError> {
        match s.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(OidcError::InvalidOptions(format!("{s} must be formatted as key=value"))),
        }
    }
}

/// Go's `utilerrors.Aggregate` formatting.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn validate_issuer_url(issuer: &str, errs: &mut Vec<String>) {
    let invalid = |why: &str| format!("{FIELD}.issuer.url: Invalid value: {issuer:?}: {why}");
    let u = match reqwest::Url::parse(issuer) {
        Ok(u) => u,
        Err(e) => {
            errs.push(invalid(&e.to_string()));
            return;
        }
    };
    if u.scheme() != "https" {
        errs.push(invalid("URL scheme must be https"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        errs.push(invalid("URL must not contain a username or password"));
    }
    if u.query().is_some_and(|q| !q.is_empty()) {
        errs.push(invalid("URL must not contain a query"));
    }
    if u.fragment().is_some_and(|f| !f.is_empty()) {
        errs.push(invalid("URL must not contain a fragment"));
    }
}
