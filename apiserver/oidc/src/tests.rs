//! End-to-end tests against an in-process HTTPS issuer with its own CA.

use super::*;
use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

const CLIENT_ID: &str = "kubernetes";

/// A signing key and its public JWK (without kid).
struct TestKey {
    enc: EncodingKey,
    alg: Algorithm,
    jwk: Value,
}

impl TestKey {
    fn jwk(&self, kid: &str) -> Value {
        let mut j = self.jwk.clone();
        j["kid"] = json!(kid);
        j
    }
}

fn from_pems(priv_pem: &str, pub_pem: &str) -> TestKey {
    let public = pki::sakey::public_keys_from_pem(pub_pem).unwrap().remove(0);
    let (enc, alg) = match public.alg {
        pki::sakey::Alg::RS256 => (EncodingKey::from_rsa_pem(priv_pem.as_bytes()).unwrap(), Algorithm::RS256),
        pki::sakey::Alg::ES256 => (EncodingKey::from_ec_pem(priv_pem.as_bytes()).unwrap(), Algorithm::ES256),
    };
    let mut jwk = public.jwk();
    if let Some(o) = jwk.as_object_mut() {
        o.remove("kid");
    }
    TestKey { enc, alg, jwk }
}

/// RSA generation is slow in debug builds: one key for all tests.
fn rsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let (priv_pem, pub_pem) = pki::sakey::generate_rsa().unwrap();
        from_pems(&priv_pem, &pub_pem)
    })
}

fn ec() -> TestKey {
    let (priv_pem, pub_pem) = pki::sakey::generate_ec().unwrap();
    from_pems(&priv_pem, &pub_pem)
}

fn sign(key: &TestKey, kid: Option<&str>, claims: &Map<String, Value>) -> String {
    let mut h = Header::new(key.alg);
    h.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&h, claims, &key.enc).unwrap()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Serves discovery and a JWKS that tests can swap, over TLS from a CA of its own.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Value>>,
    discovery_issuer: Arc<Mutex<Option<String>>>,
    jwks_hits: Arc<AtomicUsize>,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Served {
    url: String,
    jwks: Arc<Mutex<Value>>,
    discovery_issuer: Arc<Mutex<Option<String>>>,
    jwks_hits: Arc<AtomicUsize>,
}

impl Served {
    fn respond(&self, path: &str) -> hyper::Response<Full<Bytes>> {
        let (status, body) = match path {
            "/.well-known/openid-configuration" => {
                let iss = self.discovery_issuer.lock().unwrap().clone().unwrap_or_else(|| self.url.clone());
                (200, json!({"issuer": iss, "jwks_uri": format!("{}/keys", self.url)}).to_string())
            }
            "/keys" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                (200, self.jwks.lock().unwrap().to_string())
            }
            _ => (404, "not found".to_string()),
        };
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        r
    }
}

impl Issuer {
    async fn start(jwks: Value) -> Issuer {
        let ca = pki::new_ca("oidc-test-ca").unwrap();
        let leaf = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "issuer".into(),
                ips: vec![[127, 0, 0, 1].into()],
                server: true,
                ..Default::default()
            },
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca.cert_pem).unwrap();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let served = Arc::new(Served {
            url: url.clone(),
            jwks: Arc::new(Mutex::new(jwks)),
            discovery_issuer: Arc::new(Mutex::new(None)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
        });
        let (jwks, discovery_issuer, jwks_hits) =
            (served.jwks.clone(), served.discovery_issuer.clone(), served.jwks_hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, served) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let r = served.respond(req.uri().path());
                        async move { Ok::<_, Infallible>(r) }
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                });
            }
        });
        Issuer { url, jwks, discovery_issuer, jwks_hits, dir, task }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn opts(&self) -> OidcOptions {
        OidcOptions {
            issuer_url: self.url.clone(),
            client_id: CLIENT_ID.into(),
            ca_file: Some(self.ca_file()),
            ..Default::default()
        }
    }

    fn claims(&self) -> Map<String, Value> {
        let v = json!({"iss": self.url, "aud": CLIENT_ID, "sub": "alice", "exp": now() + 3600, "iat": now()});
        v.as_object().cloned().unwrap()
    }
}

/// Refetches allowed at any time, so tests need not wait out the production interval.
fn auth(opts: OidcOptions) -> OidcAuthenticator {
    OidcAuthenticator::with_timing(opts, Duration::ZERO, Duration::from_millis(50)).unwrap()
}

fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

fn user(name: &str, groups: &[&str]) -> Outcome {
    Outcome::User {
        name: name.into(),
        uid: String::new(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        extra: BTreeMap::new(),
    }
}

fn assert_invalid(o: &Outcome, want: &str) {
    match o {
        Outcome::Invalid(why) => assert!(why.contains(want), "reason {why:?} lacks {want:?}"),
        other => panic!("expected Invalid({want:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn valid_token_maps_user_groups_and_credential_id() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let mut o = iss.opts();
    o.groups_claim = Some("groups".into());
    o.groups_prefix = "oidc:".into();
    let a = auth(o);
    let mut c = iss.claims();
    c.insert("groups".into(), json!(["dev", "ops"]));
    c.insert("jti".into(), json!("abc"));
    let got = a.authenticate(&sign(key, Some("k1"), &c)).await;
    let mut extra = BTreeMap::new();
    extra.insert(CREDENTIAL_ID_KEY.to_string(), vec!["JTI=abc".to_string()]);
    let want = Outcome::User {
        name: format!("{}#alice", iss.url),
        uid: String::new(),
        groups: vec!["oidc:dev".into(), "oidc:ops".into()],
        extra,
    };
    assert_eq!(got, want);
    assert!(a.health_check().is_ok());

    // A single string is one group; a token without kid is tried against every key.
    c.insert("groups".into(), json!("admins"));
    c.remove("jti");
    let got = a.authenticate(&sign(key, None, &c)).await;
    assert_eq!(got, user(&format!("{}#alice", iss.url), &["oidc:admins"]));

    // An audience array need only contain the client id.
    c.insert("aud".into(), json!(["other", CLIENT_ID]));
    c.remove("groups");
    let got = a.authenticate(&sign(key, Some("k1"), &c)).await;
    assert_eq!(got, user(&format!("{}#alice", iss.url), &[]));
}

#[tokio::test]
async fn username_prefix_and_email_rules() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let mut c = iss.claims();
    c.insert("email".into(), json!("alice@example.com"));

    let mut o = iss.opts();
    o.username_prefix = Some("-".into());
    assert_eq!(auth(o).authenticate(&sign(key, Some("k1"), &c)).await, user("alice", &[]));

    let mut o = iss.opts();
    o.username_prefix = Some("oidc:".into());
    assert_eq!(auth(o).authenticate(&sign(key, Some("k1"), &c)).await, user("oidc:alice", &[]));

    let mut o = iss.opts();
    o.username_claim = "email".into();
    let a = auth(o);
    // No prefix by default for email, and an absent email_verified is accepted.
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, user("alice@example.com", &[]));
    c.insert("email_verified".into(), json!(true));
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, user("alice@example.com", &[]));
    c.insert("email_verified".into(), json!(false));
    assert_invalid(&a.authenticate(&sign(key, Some("k1"), &c)).await, "oidc: email not verified");
    c.insert("email_verified".into(), json!("true"));
    assert_invalid(&a.authenticate(&sign(key, Some("k1"), &c)).await, "email_verified");
}

#[test]
fn effective_prefix_follows_upstream_flag_rules() {
    let o = |claim: &str, prefix: Option<&str>| OidcOptions {
        issuer_url: "https://issuer.example".into(),
        client_id: "c".into(),
        username_claim: claim.into(),
        username_prefix: prefix.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(o("sub", None).effective_username_prefix(), "https://issuer.example#");
    assert_eq!(o("sub", Some("")).effective_username_prefix(), "https://issuer.example#");
    assert_eq!(o("email", None).effective_username_prefix(), "");
    assert_eq!(o("sub", Some("-")).effective_username_prefix(), "");
    assert_eq!(o("email", Some("-")).effective_username_prefix(), "");
    assert_eq!(o("email", Some("x:")).effective_username_prefix(), "x:");
}

#[tokio::test]
async fn foreign_and_malformed_tokens_are_not_mine() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let a = auth(iss.opts());
    let mut c = iss.claims();
    c.insert("iss".into(), json!("https://other.example"));
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::NotMine);
    c.insert("iss".into(), json!(format!("{}/", iss.url)));
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::NotMine);
    c.insert("iss".into(), json!(5));
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::NotMine);
    c.remove("iss");
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::NotMine);
    let enc = |v: &str| B64.encode(v);
    for t in [
        String::new(),
        "abc".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        "{\"iss\":\"x\"}".into(),
        format!("{}.{}.sig", enc("{}"), enc("[1]")),
        format!("{}.{}.sig", enc("{}"), enc("null")),
        format!("{}.%%%.sig", enc("{}")),
        format!("{}.{}=.sig", enc("{}"), enc(&json!({"iss": iss.url}).to_string())),
    ] {
        assert_eq!(a.authenticate(&t).await, Outcome::NotMine, "{t}");
    }
}

#[tokio::test]
async fn invalid_tokens_are_refused() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let mut o = iss.opts();
    o.required_claims = vec![("hd".into(), "example.com".into())];
    let a = auth(o);
    let base = {
        let mut c = iss.claims();
        c.insert("hd".into(), json!("example.com"));
        c
    };
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c.insert(k.into(), v);
        c
    };
    let without = |k: &str| {
        let mut c = base.clone();
        c.remove(k);
        c
    };
    assert_eq!(a.authenticate(&sign(key, Some("k1"), &base)).await, user(&format!("{}#alice", iss.url), &[]));
    // nbf within go-oidc's one-minute leeway is fine.
    let ok = a.authenticate(&sign(key, Some("k1"), &with("nbf", json!(now() + 30)))).await;
    assert!(matches!(ok, Outcome::User { .. }), "{ok:?}");

    let cases: Vec<(Map<String, Value>, &str)> = vec![
        (with("aud", json!("someone-else")), "expected audience"),
        (with("aud", json!(["a", "b"])), "expected audience"),
        (without("aud"), "expected audience"),
        (with("exp", json!(now() - 10)), "token is expired"),
        (without("exp"), "token is expired"),
        (with("exp", json!("soon")), "failed to unmarshal claims"),
        (with("nbf", json!(now() + 3600)), "before the nbf"),
        (with("iat", json!([1])), "failed to unmarshal claims"),
        (without("sub"), "parse username claims \"sub\""),
        (with("sub", json!(42)), "failed to unmarshal claims"),
        (with("hd", json!("evil.com")), "required claim hd value does not match"),
        (without("hd"), "required claim hd not present"),
        (with("_claim_names", json!({"groups": "src1"})), "source does not exist"),
    ];
    for (c, want) in cases {
        assert_invalid(&a.authenticate(&sign(key, Some("k1"), &c)).await, want);
    }

    // A payload swapped under someone else's signature.
    let good = sign(key, Some("k1"), &base);
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = B64.encode(serde_json::to_vec(&with("sub", json!("root"))).unwrap());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_invalid(&a.authenticate(&forged).await, "failed to verify id token signature");
    let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..10]);
    assert_invalid(&a.authenticate(&truncated).await, "failed to verify id token signature");
    let unsigned = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), parts[1]);
    assert_invalid(&a.authenticate(&unsigned).await, "unsupported algorithm");
    let hmac = format!("{}.{}.{}", B64.encode(r#"{"alg":"HS256","kid":"k1"}"#), parts[1], parts[2]);
    assert_invalid(&a.authenticate(&hmac).await, "unsupported algorithm");
    let bad_header = format!("{}.{}.{}", B64.encode("not json"), parts[1], parts[2]);
    assert_invalid(&a.authenticate(&bad_header).await, "malformed jwt");

    // ES256 is not in the default --oidc-signing-algs.
    let ec_key = ec();
    assert_invalid(&a.authenticate(&sign(&ec_key, Some("k1"), &base)).await, "unsupported algorithm");
}

#[tokio::test]
async fn rotated_keys_are_fetched_on_unknown_kid() {
    let old = rsa();
    let new = ec();
    let iss = Issuer::start(jwks(&[old.jwk("old")])).await;
    let mut o = iss.opts();
    o.signing_algs = vec!["RS256".into(), "ES256".into()];
    let a = auth(o);
    let c = iss.claims();
    let alice = user(&format!("{}#alice", iss.url), &[]);
    assert_eq!(a.authenticate(&sign(old, Some("old"), &c)).await, alice);
    let token = sign(&new, Some("new"), &c);
    assert_invalid(&a.authenticate(&token).await, "failed to verify id token signature");
    *iss.jwks.lock().unwrap() = jwks(&[old.jwk("old"), new.jwk("new")]);
    assert_eq!(a.authenticate(&token).await, alice);
    assert_eq!(a.authenticate(&sign(old, Some("old"), &c)).await, alice);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let a = OidcAuthenticator::with_timing(iss.opts(), Duration::from_secs(3600), Duration::from_secs(3600)).unwrap();
    let c = iss.claims();
    assert!(matches!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::User { .. }));
    for kid in ["x", "y", "z"] {
        assert_invalid(&a.authenticate(&sign(key, Some(kid), &c)).await, "failed to verify");
    }
    assert_eq!(iss.jwks_hits.load(Ordering::SeqCst), 1);
    assert!(matches!(a.authenticate(&sign(key, Some("k1"), &c)).await, Outcome::User { .. }));
}

#[tokio::test]
async fn untrusted_issuer_certificate_never_becomes_ready() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.crt");
    std::fs::write(&other, pki::new_ca("someone-else").unwrap().cert_pem).unwrap();
    let token = sign(key, Some("k1"), &iss.claims());
    for ca_file in [Some(other), None] {
        let mut o = iss.opts();
        o.ca_file = ca_file;
        let a = auth(o);
        assert_invalid(&a.authenticate(&token).await, "oidc: authenticator not initialized");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_invalid(&a.authenticate(&token).await, "oidc: authenticator not initialized");
        let err = a.health_check().unwrap_err().to_string();
        assert!(err.contains("not healthy"), "{err}");
    }
    assert_eq!(iss.jwks_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bad_discovery_or_jwks_documents_are_errors_not_panics() {
    let key = rsa();
    let iss = Issuer::start(json!({"keys": "nope"})).await;
    let a = auth(iss.opts());
    let token = sign(key, Some("k1"), &iss.claims());
    assert_invalid(&a.authenticate(&token).await, "failed to decode keys");

    *iss.jwks.lock().unwrap() = jwks(&[key.jwk("k1")]);
    *iss.discovery_issuer.lock().unwrap() = Some("https://impostor.example".into());
    let a = auth(iss.opts());
    assert_invalid(&a.authenticate(&token).await, "issuer did not match");
    assert!(a.health_check().unwrap_err().to_string().contains("issuer did not match"));

    *iss.discovery_issuer.lock().unwrap() = None;
    assert!(matches!(a.authenticate(&token).await, Outcome::User { .. }));
}

#[tokio::test]
async fn keys_are_fetched_in_the_background() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let a = auth(iss.opts());
    assert!(a.health_check().is_err());
    for _ in 0..200 {
        if a.health_check().is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    a.health_check().unwrap();
    assert_eq!(iss.jwks_hits.load(Ordering::SeqCst), 1);
}

#[test]
fn construction_outside_a_runtime_does_no_io() {
    let a = OidcAuthenticator::new(OidcOptions {
        issuer_url: "https://issuer.invalid".into(),
        client_id: "c".into(),
        ..Default::default()
    })
    .unwrap();
    assert!(a.health_check().is_err());
}

#[test]
fn options_are_validated_like_upstream() {
    let good = || OidcOptions {
        issuer_url: "https://issuer.example/path".into(),
        client_id: "c".into(),
        ..Default::default()
    };
    let err = |o: OidcOptions| o.validate().unwrap_err().to_string();
    assert!(OidcOptions::default().validate().is_ok());
    assert!(!OidcOptions::default().enabled());
    good().validate().unwrap();
    let together = "oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set";
    assert_eq!(err(OidcOptions { client_id: String::new(), ..good() }), together);
    assert_eq!(err(OidcOptions { issuer_url: String::new(), ..good() }), together);
    assert_eq!(
        err(OidcOptions { issuer_url: "http://issuer.example".into(), ..good() }),
        "invalid authentication configuration: jwt[0].issuer.url: Invalid value: \"http://issuer.example\": URL scheme must be https"
    );
    let e = err(OidcOptions { issuer_url: "https://u:p@issuer.example/?q=1#f".into(), ..good() });
    for want in ["username or password", "must not contain a query", "must not contain a fragment", "[jwt[0]"] {
        assert!(e.contains(want), "{e} lacks {want}");
    }
    assert!(err(OidcOptions { issuer_url: "not a url".into(), ..good() }).contains("jwt[0].issuer.url"));
    assert!(err(OidcOptions { username_claim: String::new(), ..good() }).contains("claim or expression is required"));
    assert!(err(OidcOptions { required_claims: vec![(String::new(), "v".into())], ..good() })
        .contains("claimValidationRules[0]"));
    assert_eq!(
        err(OidcOptions { signing_algs: vec!["RS256".into(), "HS256".into()], ..good() }),
        "oidc: unsupported signing alg: \"HS256\""
    );
    assert!(err(OidcOptions { signing_algs: vec!["ES512".into()], ..good() }).contains("not supported"));
    OidcOptions {
        signing_algs: ["RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"].map(String::from).to_vec(),
        ..good()
    }
    .validate()
    .unwrap();

    assert_eq!(OidcOptions::parse_required_claim("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    assert!(OidcOptions::parse_required_claim("abc").is_err());

    let dir = tempfile::tempdir().unwrap();
    let missing = OidcOptions { ca_file: Some(dir.path().join("nope.crt")), ..good() };
    assert!(matches!(OidcAuthenticator::new(missing), Err(OidcError::CaFile { .. })));
    std::fs::write(dir.path().join("junk.crt"), "junk").unwrap();
    let junk = OidcOptions { ca_file: Some(dir.path().join("junk.crt")), ..good() };
    let e = OidcAuthenticator::new(junk).unwrap_err().to_string();
    assert!(e.contains("does not contain any valid"), "{e}");
    assert!(OidcAuthenticator::new(OidcOptions::default()).is_err());
}

#[test]
fn hostile_jwks_documents_never_panic() {
    let long = "A".repeat(43);
    let docs = [
        "".to_string(),
        "null".into(),
        "[]".into(),
        r#"{"keys": 5}"#.into(),
        json!({"keys": [
            1, null, [], {}, {"kty": 5}, {"kty": "RSA"}, {"kty": "RSA", "n": "!!", "e": "AQAB"},
            {"kty": "RSA", "n": "", "e": ""}, {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": 5},
            {"kty": "RSA", "n": "AQAB==", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": long, "y": long},
            {"kty": "EC", "crv": "P-384", "x": long, "y": long},
            {"kty": "EC", "crv": "P-521", "x": long, "y": long},
            {"kty": "oct", "k": "c2VjcmV0"}, {"kty": "OKP", "crv": "Ed25519", "x": long},
        ]})
        .to_string(),
    ];
    for d in &docs {
        if let Ok(keys) = keys::parse_jwks(d.as_bytes()) {
            for alg in ["RS256", "PS512", "ES256", "ES384", "ES512"] {
                let alg = SigAlg::parse(alg).unwrap();
                for kid in ["", "5", "x"] {
                    assert!(!keys::verify(&keys, kid, alg, b"a.b", "c2lnbmF0dXJl"));
                    assert!(!keys::verify(&keys, kid, alg, b"a.b", "%%%"));
                }
            }
        }
    }
}

#[tokio::test]
async fn garbage_tokens_never_panic() {
    let key = rsa();
    let iss = Issuer::start(jwks(&[key.jwk("k1")])).await;
    let a = auth(iss.opts());
    let good = sign(key, Some("k1"), &iss.claims());
    let parts: Vec<&str> = good.split('.').collect();
    // A tiny deterministic generator: no extra dependency for fuzz-like coverage.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "AZaz09-_.=+/{}\"ü \n".chars().collect();
    for i in 0..400 {
        let len = (next() % 60) as usize;
        let noise: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let t = match i % 4 {
            0 => noise,
            1 => format!("{}.{}.{}", parts[0], parts[1], noise),
            2 => format!("{}.{}.{}", noise, parts[1], parts[2]),
            _ => {
                let mut c = iss.claims();
                c.insert(noise.clone(), json!(noise));
                c.insert("exp".into(), json!(noise));
                format!("{}.{}.{}", parts[0], B64.encode(serde_json::to_vec(&c).unwrap()), parts[2])
            }
        };
        assert!(!matches!(a.authenticate(&t).await, Outcome::User { .. }), "{t}");
    }
}
