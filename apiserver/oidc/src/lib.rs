//! kube-apiserver's OpenID Connect bearer-token authenticator (the `--oidc-*` flags).
//!
//! Tokens are JWTs from one issuer. Its keys come from `<issuer>/.well-known/openid-configuration`
//! and the `jwks_uri` named there, fetched off the request path (in the background, or on demand
//! at most once per refresh interval) so a down issuer never blocks startup, as upstream's
//! asynchronous initialisation intends for issuers hosted on the cluster itself.
//!
//! Not implemented: distributed claims (`_claim_names`/`_claim_sources` endpoints); a groups claim
//! only available that way is treated as absent, which can only give the user fewer groups.

#![forbid(unsafe_code)]

mod keys;
mod options;
#[cfg(test)]
mod tests;

pub use options::OidcOptions;

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use keys::{Jwk, SigAlg};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Everything that can go wrong building or running the authenticator.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    InvalidOptions(String),
    #[error("reading the OIDC CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("oidc: building the HTTP client: {0}")]
    Client(String),
    #[error("oidc: authenticator for issuer {issuer:?} is not healthy: {reason}")]
    NotReady { issuer: String, reason: String },
}

/// What the authenticator concluded about one bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a JWT, or issued by someone else: other authenticators may try it.
    NotMine,
    /// A verified token. `uid` is always empty: the flags cannot map one.
    User { name: String, uid: String, groups: Vec<String>, extra: BTreeMap<String, Vec<String>> },
    /// Ours but refused; the reason is for logs, never for the client.
    Invalid(String),
}

/// Upstream's user-extra key carrying the token's `jti`, for audit.
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";

/// Minimum time between key fetches, so tokens with made-up `kid`s cannot hammer the issuer.
const MIN_REFRESH: Duration = Duration::from_secs(10);
/// Upstream polls a not-yet-reachable issuer every 10 s.
const INIT_RETRY: Duration = Duration::from_secs(10);
/// Upstream's HTTP client timeout.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Cap on discovery and JWKS bodies, so a hostile issuer cannot exhaust memory.
const MAX_BODY: usize = 1 << 20;
/// go-oidc's allowance for clock skew on `nbf` (there is none on `exp`).
const NBF_LEEWAY_SECS: i128 = 60;
/// Go's bundle locations (crypto/x509 on Linux), for when no `--oidc-ca-file` is given.
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Go's `base64.RawURLEncoding`: no padding, non-zero trailing bits tolerated.
const B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The OIDC token authenticator. Cheap to clone; clones share keys.
#[derive(Clone)]
pub struct OidcAuthenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OidcAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAuthenticator").field("issuer", &self.inner.issuer).finish_non_exhaustive()
    }
}

struct Inner {
    issuer: String,
    client_id: String,
    username_claim: String,
    username_prefix: String,
    groups_claim: Option<String>,
    groups_prefix: String,
    required_claims: Vec<(String, String)>,
    algs: Vec<SigAlg>,
    client: reqwest::Client,
    keys: RwLock<KeyState>,
    /// Serialises fetches (so concurrent misses share one) and records the last attempt.
    fetch: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
}

#[derive(Default)]
struct KeyState {
    jwks_uri: Option<String>,
    keys: Arc<Vec<Jwk>>,
    /// Successful fetches so far; 0 means not ready.
    generation: u64,
    last_error: Option<String>,
}

impl OidcAuthenticator {
    /// Validates the options and builds the HTTP client; no network I/O happens here. Inside a
    /// tokio runtime a background task fetches the keys until the first success; otherwise the
    /// first token triggers it.
    pub fn new(opts: OidcOptions) -> Result<Self, OidcError> {
        Self::with_timing(opts, MIN_REFRESH, INIT_RETRY)
    }

    pub(crate) fn with_timing(
        opts: OidcOptions,
        min_refresh: Duration,
        init_retry: Duration,
    ) -> Result<Self, OidcError> {
        opts.validate_enabled()?;
        let client = http_client(opts.ca_file.as_deref())?;
        let mut required_claims: Vec<(String, String)> = Vec::new();
        for (k, v) in &opts.required_claims {
            required_claims.retain(|(seen, _)| seen != k);
            required_claims.push((k.clone(), v.clone()));
        }
        let inner = Arc::new(Inner {
            username_prefix: opts.effective_username_prefix(),
            issuer: opts.issuer_url,
            client_id: opts.client_id,
            username_claim: opts.username_claim,
            groups_claim: opts.groups_claim.filter(|c| !c.is_empty()),
            groups_prefix: opts.groups_prefix,
            required_claims,
            algs: opts.signing_algs.iter().filter_map(|a| SigAlg::parse(a)).collect(),
            client,
            keys: RwLock::new(KeyState::default()),
            fetch: tokio::sync::Mutex::new(None),
            min_refresh,
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(init_loop(Arc::downgrade(&inner), init_retry));
        }
        Ok(OidcAuthenticator { inner })
    }

    /// Ok once discovery and the first key fetch have succeeded (upstream's `HealthCheck`).
    pub fn health_check(&self) -> Result<(), OidcError> {
        let st = self.inner.read();
        if st.generation > 0 {
            return Ok(());
        }
        let reason = st.last_error.clone().unwrap_or_else(|| "not initialized".into());
        Err(OidcError::NotReady { issuer: self.inner.issuer.clone(), reason })
    }

    /// Authenticates one bearer token. Never panics, whatever the token or the issuer serves.
    pub async fn authenticate(&self, token: &str) -> Outcome {
        let Some(jwt) = Jwt::parse(token) else { return Outcome::NotMine };
        if untrusted_issuer(&jwt.claims) != Some(self.inner.issuer.as_str()) {
            return Outcome::NotMine;
        }
        let inner = &self.inner;
        if inner.read().generation == 0 {
            inner.sync(0).await;
            let st = inner.read();
            if st.generation == 0 {
                let why = st.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                return Outcome::Invalid(format!("oidc: authenticator not initialized{why}"));
            }
        }
        if let Err(e) = inner.verify(&jwt).await {
            return Outcome::Invalid(format!("oidc: verify token: {e}"));
        }
        match inner.user(&jwt.claims) {
            Ok(o) => o,
            Err(e) => Outcome::Invalid(e),
        }
    }
}

/// Upstream's asynchronous initialisation: retry until the issuer answers, and stop once the
/// authenticator is ready or dropped.
async fn init_loop(weak: Weak<Inner>, retry: Duration) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.read().generation > 0 {
            return;
        }
        inner.sync(0).await;
        if inner.read().generation > 0 {
            return;
        }
        drop(inner);
        tokio::time::sleep(retry).await;
    }
}

fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, OidcError> {
    let builder = || {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
    };
    if let Some(path) = ca_file {
        let ca_err = |reason: String| OidcError::CaFile { path: path.display().to_string(), reason };
        let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("data does not contain any valid RSA or ECDSA certificates".into()));
        }
        let b = certs.into_iter().fold(builder(), |b, c| b.add_root_certificate(c));
        return b.build().map_err(|e| OidcError::Client(error_chain(&e)));
    }
    tracing::info!("OIDC: No x509 certificates provided, will use host's root CA set");
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_CA_FILES.iter().map(std::path::PathBuf::from))
        .find_map(|p| std::fs::read(p).ok())
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default();
    let with_roots = system.into_iter().fold(builder(), |b, c| b.add_root_certificate(c)).build();
    match with_roots {
        Ok(c) => Ok(c),
        // One certificate rustls cannot parse would fail the whole bundle; fall back to none
        // rather than refusing to start.
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "OIDC: unusable host root CA set");
            builder().build().map_err(|e| OidcError::Client(error_chain(&e)))
        }
    }
}

/// reqwest's own message hides the cause (TLS, DNS, ...); operators need it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A compact JWS split into its parts, with the (still untrusted) payload decoded.
struct Jwt<'a> {
    header_b64: &'a str,
    payload_b64: &'a str,
    signature: &'a str,
    claims: Map<String, Value>,
}

impl<'a> Jwt<'a> {
    /// `None` for anything that is not a compact JWT with a JSON-object payload: upstream then
    /// cannot read an issuer and leaves the token to other authenticators.
    fn parse(token: &'a str) -> Option<Jwt<'a>> {
        if token.trim_start().starts_with('{') {
            return None;
        }
        let mut parts = token.split('.');
        let (header_b64, payload_b64, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let payload = B64.decode(payload_b64).ok()?;
        let claims = match serde_json::from_slice(&payload).ok()? {
            Value::Object(m) => m,
            _ => return None,
        };
        Some(Jwt { header_b64, payload_b64, signature, claims })
    }
}

/// The token's unverified `iss`, with Google's legacy scheme-less form coalesced as upstream does.
fn untrusted_issuer(claims: &Map<String, Value>) -> Option<&str> {
    match claims.get("iss") {
        Some(Value::String(s)) if s == "accounts.google.com" => Some("https://accounts.google.com"),
        Some(Value::String(s)) => Some(s),
        None | Some(Value::Null) => Some(""),
        Some(_) => None,
    }
}

impl Inner {
    /// The key state, even if a writer panicked (the data is replaced wholesale, so never torn).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches keys (discovering the JWKS URI first if needed) unless someone else did since
    /// `seen_generation`, or the last attempt was too recent.
    async fn sync(&self, seen_generation: u64) {
        let mut last = self.fetch.lock().await;
        if self.read().generation != seen_generation {
            return;
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        let known_uri = self.read().jwks_uri.clone();
        let result = async {
            let uri = match known_uri {
                Some(u) => u,
                None => self.discover().await?,
            };
            let keys = self.fetch_jwks(&uri).await?;
            Ok::<_, String>((uri, keys))
        }
        .await;
        let mut st = self.keys.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok((uri, keys)) => {
                tracing::debug!(issuer = %self.issuer, keys = keys.len(), "oidc: fetched keys");
                st.jwks_uri = Some(uri);
                st.keys = Arc::new(keys);
                st.generation += 1;
                st.last_error = None;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "oidc authenticator: initializing plugin");
                st.last_error = Some(e);
            }
        }
    }

    async fn get(&self, url: &str) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
        let mut resp = self.client.get(url).send().await.map_err(|e| error_chain(&e))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("response from {url} is larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// OpenID discovery; the document must name this very issuer (go-oidc's check).
    async fn discover(&self) -> Result<String, String> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            #[serde(default)]
            issuer: String,
            #[serde(default)]
            jwks_uri: String,
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let (status, body) = self.get(&url).await?;
        if status.as_u16() != 200 {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        let d: Discovery = serde_json::from_slice(&body)
            .map_err(|e| format!("oidc: failed to decode provider discovery object: {e}"))?;
        if d.issuer != self.issuer {
            return Err(format!(
                "oidc: issuer did not match the issuer returned by provider, expected {:?} got {:?}",
                self.issuer, d.issuer
            ));
        }
        if d.jwks_uri.is_empty() {
            return Err("provider did not return JWKS URL".into());
        }
        Ok(d.jwks_uri)
    }

    async fn fetch_jwks(&self, uri: &str) -> Result<Vec<Jwk>, String> {
        let (status, body) = self.get(uri).await.map_err(|e| format!("oidc: get keys failed: {e}"))?;
        if status.as_u16() != 200 {
            return Err(format!("oidc: get keys failed: {status} {}", String::from_utf8_lossy(&body)));
        }
        keys::parse_jwks(&body)
    }

    /// go-oidc's `Verify`: cheap claim checks first (so bad tokens never trigger a key fetch),
    /// then the algorithm, then the signature, refreshing keys once if none verifies.
    async fn verify(&self, jwt: &Jwt<'_>) -> Result<(), String> {
        let header = B64
            .decode(jwt.header_b64)
            .ok()
            .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
            .filter(Value::is_object)
            .ok_or("oidc: malformed jwt: invalid header")?;
        self.check_claims(&jwt.claims)?;
        let alg_name = match header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            _ => "",
        };
        let alg = SigAlg::parse(alg_name).filter(|a| self.algs.contains(a)).ok_or_else(|| {
            let expected: Vec<&str> = self.algs.iter().map(|a| a.as_str()).collect();
            format!("oidc: id token signed with unsupported algorithm, expected {expected:?} got {alg_name:?}")
        })?;
        let kid = match header.get("kid") {
            None | Some(Value::Null) => "",
            Some(Value::String(k)) => k.as_str(),
            Some(_) => return Err("oidc: malformed jwt: kid is not a string".into()),
        };
        let message = format!("{}.{}", jwt.header_b64, jwt.payload_b64);
        let (generation, keys) = {
            let st = self.read();
            (st.generation, st.keys.clone())
        };
        if keys::verify(&keys, kid, alg, message.as_bytes(), jwt.signature) {
            return Ok(());
        }
        // Keys may have rotated: the spec's advice is to refetch on an unknown kid.
        self.sync(generation).await;
        let keys = self.read().keys.clone();
        if keys::verify(&keys, kid, alg, message.as_bytes(), jwt.signature) {
            return Ok(());
        }
        Err("failed to verify signature: failed to verify id token signature".into())
    }

    fn check_claims(&self, c: &Map<String, Value>) -> Result<(), String> {
        let bad = |what: &str| format!("oidc: failed to unmarshal claims: {what}");
        for name in ["iss", "sub", "nonce", "at_hash"] {
            if !matches!(c.get(name), None | Some(Value::Null) | Some(Value::String(_))) {
                return Err(bad(&format!("{name} is not a string")));
            }
        }
        let audience: Vec<String> = match c.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| string_or_null(v).ok_or_else(|| bad("aud is not a string array")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("aud is not a string or string array")),
        };
        let exp = time_claim(c, "exp").map_err(|_| bad("exp is not a number"))?;
        let nbf = time_claim(c, "nbf").map_err(|_| bad("nbf is not a number"))?;
        time_claim(c, "iat").map_err(|_| bad("iat is not a number"))?;
        check_claim_sources(c)?;

        let iss = untrusted_issuer(c).unwrap_or_default();
        if iss != self.issuer {
            return Err(format!(
                "oidc: id token issued by a different provider, expected {:?} got {iss:?}",
                self.issuer
            ));
        }
        if !audience.contains(&self.client_id) {
            return Err(format!("oidc: expected audience {:?} got {audience:?}", self.client_id));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
        // A missing exp is Go's zero time, long past.
        let exp = exp.unwrap_or(i64::MIN);
        if i128::from(exp) * 1_000_000_000 < now {
            return Err(format!("oidc: token is expired (Token Expiry: {})", go_time(exp)));
        }
        if let Some(nbf) = nbf {
            if now + NBF_LEEWAY_SECS * 1_000_000_000 < i128::from(nbf) * 1_000_000_000 {
                return Err(format!(
                    "oidc: current time {} before the nbf (not before) time: {}",
                    go_time((now / 1_000_000_000) as i64),
                    go_time(nbf)
                ));
            }
        }
        Ok(())
    }

    /// Upstream's claim mapping for the flag-configured authenticator.
    fn user(&self, c: &Map<String, Value>) -> Result<Outcome, String> {
        let claim = &self.username_claim;
        let username = match c.get(claim) {
            None => return Err(format!("oidc: parse username claims {claim:?}: claim not present")),
            Some(v) => {
                string_or_null(v).ok_or_else(|| format!("oidc: parse username claims {claim:?}: not a string"))?
            }
        };
        if claim == "email" {
            // An explicit email_verified must be true (a null reads as false, as in Go).
            match c.get("email_verified") {
                None | Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) | Some(Value::Null) => return Err("oidc: email not verified".into()),
                Some(_) => return Err("oidc: parse 'email_verified' claim: not a boolean".into()),
            }
        }
        let name = format!("{}{username}", self.username_prefix);

        let mut groups = Vec::new();
        if let Some(gc) = &self.groups_claim {
            if let Some(v) = c.get(gc) {
                groups = match v {
                    Value::Null => Vec::new(),
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .map(string_or_null)
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| format!("oidc: parse groups claim {gc:?}: not a string or string array"))?,
                    _ => return Err(format!("oidc: parse groups claim {gc:?}: not a string or string array")),
                };
                if !self.groups_prefix.is_empty() {
                    groups = groups.into_iter().map(|g| format!("{}{g}", self.groups_prefix)).collect();
                }
            }
        }

        let mut extra = BTreeMap::new();
        if let Some(Value::String(jti)) = c.get("jti") {
            if !jti.is_empty() {
                extra.insert(CREDENTIAL_ID_KEY.to_string(), vec![format!("JTI={jti}")]);
            }
        }

        for (claim, want) in &self.required_claims {
            let Some(v) = c.get(claim) else {
                return Err(format!("oidc: required claim {claim} not present in ID token"));
            };
            let got = string_or_null(v).ok_or_else(|| format!("oidc: parse claim {claim}: not a string"))?;
            if got != *want {
                return Err(format!("oidc: required claim {claim} value does not match. Got = {got}, want = {want}"));
            }
        }
        Ok(Outcome::User { name, uid: String::new(), groups, extra })
    }
}

/// A JSON string, with null read as "" the way Go's decoder leaves a string untouched.
fn string_or_null(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A NumericDate claim in whole seconds (go-oidc truncates fractions); `Ok(None)` when absent.
fn time_claim(c: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    let n = match c.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.clone(),
        // Go's json.Number also accepts a quoted number.
        Some(Value::String(s)) => serde_json::from_str::<serde_json::Number>(s).map_err(|_| ())?,
        Some(_) => return Err(()),
    };
    // Float-to-int `as` saturates, so absurd values cannot panic.
    Ok(Some(n.as_i64().unwrap_or_else(|| n.as_f64().map(|f| f as i64).unwrap_or(i64::MAX))))
}

/// go-oidc refuses tokens whose `_claim_names` point at missing `_claim_sources`.
fn check_claim_sources(c: &Map<String, Value>) -> Result<(), String> {
    let bad = |what: &str| format!("oidc: failed to unmarshal claims: {what}");
    let names = match c.get("_claim_names") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(bad("_claim_names is not an object")),
    };
    let sources = match c.get("_claim_sources") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(bad("_claim_sources is not an object")),
    };
    for src in names.values() {
        let src = string_or_null(src).ok_or_else(|| bad("_claim_names values must be strings"))?;
        if src.is_empty() {
            return Err("oidc: failed to obtain source from claim name".into());
        }
        if !sources.is_some_and(|s| s.contains_key(&src)) {
            return Err("oidc: source does not exist".into());
        }
    }
    Ok(())
}

/// Go's default `time.Time` format, as upstream's messages print it.
fn go_time(secs: i64) -> String {
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        None => format!("{secs}s since the epoch"),
    }
}
