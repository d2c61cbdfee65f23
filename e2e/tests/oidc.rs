//! OpenID Connect: a test issuer served over HTTPS on loopback (its own CA and signing key)
//! issues ID tokens that `kubectl --token` uses; the groups claim maps into RBAC.

use e2e::{free_port, poll, Cluster, PyHttps};
use serde_json::{json, Value};
use std::process::{Command, Output};
use std::time::Duration;

/// A static HTTPS issuer (python3's http.server behind TLS).
struct Issuer {
    _server: PyHttps,
    url: String,
    _dir: tempfile::TempDir,
}

/// Static files from the directory given after the key.
const SERVE: &str = r#"
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[4])
"#;

fn start_issuer(jwk: &Value) -> (Issuer, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    PyHttps::pki("issuer", dir.path());
    let root = dir.path().join("www");
    std::fs::create_dir_all(root.join(".well-known")).expect("mkdir");
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys.json"), "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]});
    std::fs::write(root.join(".well-known/openid-configuration"), discovery.to_string()).expect("write");
    std::fs::write(root.join("keys.json"), json!({"keys": [jwk]}).to_string()).expect("write");
    let server = PyHttps::start(
        SERVE,
        port,
        &dir.path().join("issuer.crt"),
        &dir.path().join("issuer.key"),
        &[root.as_os_str()],
    );
    let ca_file = dir.path().join("issuer-ca.crt");
    let issuer = Issuer { _server: server, url: url.clone(), _dir: dir };
    poll("issuer up", Duration::from_secs(20), || {
        let out = Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&ca_file)
            .arg(format!("{url}/.well-known/openid-configuration"))
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    (issuer, ca_file)
}

fn kubectl_token(c: &Cluster, token: &str, args: &[&str]) -> Output {
    let mut full = vec!["--token", token];
    full.extend_from_slice(args);
    // --token replaces the admin certificate: kubectl uses one credential.
    let out = Command::new(e2e::kubectl_path("1.33"))
        .arg(format!("--server={}", c.api.url()))
        .arg(format!("--certificate-authority={}", c.api.pki.path("ca.crt").display()))
        .arg("--kubeconfig=/dev/null")
        .args(&full)
        .output()
        .expect("kubectl");
    out
}

#[test]
fn oidc_tokens_authenticate_and_groups_map_into_rbac() {
    let (priv_pem, pub_pem) = pki::sakey::generate_rsa().expect("key");
    let public = pki::sakey::public_keys_from_pem(&pub_pem).expect("public").remove(0);
    let (issuer, ca_file) = start_issuer(&public.jwk());
    let c = Cluster::start_with(&[
        "--authorization-mode=Node,RBAC",
        &format!("--oidc-issuer-url={}", issuer.url),
        "--oidc-client-id=kubernetes",
        &format!("--oidc-ca-file={}", ca_file.display()),
        "--oidc-username-claim=email",
        "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:",
    ]);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(priv_pem.as_bytes()).expect("signing key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(public.kid.clone());
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: Value| jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    let claims = |aud: &str, exp: i64| {
        json!({"iss": issuer.url, "aud": aud, "sub": "jane-id", "email": "jane@example.com", "email_verified": true,
            "groups": ["devs"], "iat": now, "exp": exp})
    };
    let good = sign(claims("kubernetes", now + 3600));
    let who = poll("the issuer's keys are fetched", Duration::from_secs(30), || {
        let out = kubectl_token(&c, &good, &["auth", "whoami"]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(who.contains("jane@example.com") && who.contains("[oidc:devs system:authenticated]"), "{who}");
    let out = kubectl_token(&c, &good, &["get", "pods"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("User \"jane@example.com\" cannot list resource \"pods\""));
    c.api.kubectl_ok(
        "1.33",
        &["create", "clusterrolebinding", "oidc-devs-view", "--clusterrole=view", "--group=oidc:devs"],
    );
    poll("the group's binding applies", Duration::from_secs(10), || {
        kubectl_token(&c, &good, &["get", "pods"]).status.success().then_some(())
    });
    // Expired, wrong audience, wrong issuer, tampered: all 401 without detail.
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let mut foreign = claims("kubernetes", now + 3600);
    foreign["iss"] = json!("https://elsewhere.example.com");
    for bad in [sign(claims("kubernetes", now - 120)), sign(claims("other", now + 3600)), sign(foreign), tampered] {
        let out = kubectl_token(&c, &bad, &["get", "pods"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error: You must be logged in to the server (Unauthorized)"), "{err}");
    }
    drop(issuer);
}
