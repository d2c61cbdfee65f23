//! Image pull credentials from a pod's `imagePullSecrets`, as upstream's docker keyring:
//! `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` secrets give entries keyed
//! by registry (host, optional port and path, `*` globs per host label); an image gets every
//! entry whose key matches it, the most specific first, Docker Hub's under `index.docker.io`.

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

/// One credential for a registry. Like upstream's keyring it carries no server address:
/// the runtime offers it to whichever host (or mirror) serves the pull.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl Credential {
    pub fn to_cri(&self) -> crate::cri::api::AuthConfig {
        crate::cri::api::AuthConfig {
            username: self.username.clone(),
            password: self.password.clone(),
            ..Default::default()
        }
    }
}

/// Docker Hub, as keys and images name it.
const DEFAULT_REGISTRY_HOST: &str = "index.docker.io";

/// Registry keys and their credentials, most specific key first.
#[derive(Debug, Default)]
pub struct Keyring(Vec<(String, Credential)>);

/// `registry` as a key: host plus path, with any scheme and a trailing `/v1/` or `/v2/` gone.
fn key_of(registry: &str) -> String {
    let rest = registry.strip_prefix("https://").or_else(|| registry.strip_prefix("http://")).unwrap_or(registry);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.strip_suffix("/v2/").or_else(|| path.strip_suffix("/v1/")).unwrap_or(path);
    let path = path.trim_end_matches('/');
    let host = if host == "docker.io" { DEFAULT_REGISTRY_HOST } else { host };
    format!("{host}{path}")
}

fn entry(v: &Value) -> Credential {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut c = Credential { username: s("username"), password: s("password") };
    // `auth` is base64 of `user:password`, and wins over the separate fields.
    if let Some(decoded) = v
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
        .and_then(|d| String::from_utf8(d).ok())
    {
        if let Some((u, p)) = decoded.split_once(':') {
            c.username = u.to_string();
            c.password = p.trim_matches('\0').to_string();
        }
    }
    c
}

impl Keyring {
    /// The keyring of the pull secrets (other secret types are ignored, as upstream does).
    pub fn from_secrets(secrets: &[std::sync::Arc<Secret>]) -> Keyring {
        let mut out = Vec::new();
        for s in secrets {
            let data = s.data.as_ref();
            let doc = match s.type_.as_deref() {
                Some("kubernetes.io/dockerconfigjson") => data
                    .and_then(|d| d.get(".dockerconfigjson"))
                    .and_then(|b| serde_json::from_slice::<Value>(&b.0).ok())
                    .and_then(|v| v.get("auths").cloned()),
                Some("kubernetes.io/dockercfg") => {
                    data.and_then(|d| d.get(".dockercfg")).and_then(|b| serde_json::from_slice::<Value>(&b.0).ok())
                }
                _ => None,
            };
            let Some(Value::Object(auths)) = doc else { continue };
            for (registry, v) in &auths {
                out.push((key_of(registry), entry(v)));
            }
        }
        // Longer (more specific) keys first, as upstream's reverse-sorted index.
        out.sort_by(|a, b| b.0.cmp(&a.0));
        Keyring(out)
    }

    /// The credentials for `image`, most specific first; empty when none match.
    pub fn lookup(&self, image: &str) -> Vec<Credential> {
        let repo = repository(image);
        self.0.iter().filter(|(k, _)| matches(k, &repo)).map(|(_, c)| c.clone()).collect()
    }
}

/// The repository of an image reference, with Docker Hub's host spelled `index.docker.io`:
/// `busybox:1.36` -> `index.docker.io/library/busybox`.
pub fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    // A tag follows the last ':' after the last '/'.
    let name = match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    };
    let (first, rest) = name.split_once('/').unwrap_or(("", name));
    let has_host = !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_host {
        let path = if first.is_empty() { format!("library/{rest}") } else { name.to_string() };
        return format!("{DEFAULT_REGISTRY_HOST}/{path}");
    }
    let host = if first == "docker.io" { DEFAULT_REGISTRY_HOST } else { first };
    format!("{host}/{rest}")
}

/// Whether key (`host[:port][/path]`, host labels may be globs) matches the repository: same
/// number of host labels each matching, the same port, and the key's path a prefix.
fn matches(key: &str, repo: &str) -> bool {
    let split = |s: &str| -> (String, String) {
        match s.find('/') {
            Some(i) => (s[..i].to_string(), s[i..].to_string()),
            None => (s.to_string(), String::new()),
        }
    };
    let (kh, kp) = split(key);
    let (rh, rp) = split(repo);
    let port = |h: &str| -> (String, String) {
        match h.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (h.to_string(), String::new()),
        }
    };
    let ((kh, kport), (rh, rport)) = (port(&kh), port(&rh));
    if kport != rport {
        return false;
    }
    let kl: Vec<&str> = kh.split('.').collect();
    let rl: Vec<&str> = rh.split('.').collect();
    if kl.len() != rl.len() || !kl.iter().zip(&rl).all(|(g, l)| glob(g, l)) {
        return false;
    }
    rp.starts_with(&kp)
}

/// `*` matches any run of characters within one host label.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((pre, post)) => {
            s.len() >= pre.len()
                && s.starts_with(pre)
                && (0..=s.len() - pre.len()).any(|i| glob(post, &s[pre.len() + i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::sync::Arc;

    fn secret(type_: &str, key: &str, json: &str) -> Arc<Secret> {
        Arc::new(Secret {
            type_: Some(type_.into()),
            data: Some([(key.to_string(), ByteString(json.as_bytes().to_vec()))].into()),
            ..Default::default()
        })
    }

    #[test]
    fn repositories_name_the_registry() {
        assert_eq!(repository("busybox"), "index.docker.io/library/busybox");
        assert_eq!(repository("busybox:1.36"), "index.docker.io/library/busybox");
        assert_eq!(repository("docker.io/me/app@sha256:abc"), "index.docker.io/me/app");
        assert_eq!(repository("me/app"), "index.docker.io/me/app");
        assert_eq!(repository("reg.example:5001/team/app:v1"), "reg.example:5001/team/app");
        assert_eq!(repository("localhost/app"), "localhost/app");
    }

    #[test]
    fn lookups_match_hosts_ports_paths_and_globs() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw");
        let k = Keyring::from_secrets(&[
            secret(
                "kubernetes.io/dockerconfigjson",
                ".dockerconfigjson",
                &format!(
                    r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}}, "reg.example:5001": {{"username": "u", "password": "p"}}, "*.corp.example/team": {{"username": "t", "password": "q"}}}}}}"#
                ),
            ),
            secret(
                "kubernetes.io/dockercfg",
                ".dockercfg",
                r#"{"reg.example:5001/team": {"username": "deep", "password": "x"}}"#,
            ),
            secret("Opaque", "x", "{}"),
        ]);
        let users = |img: &str| k.lookup(img).into_iter().map(|c| c.username).collect::<Vec<_>>();
        assert_eq!(users("busybox"), ["bob"]);
        assert_eq!(k.lookup("busybox")[0].password, "pw");
        assert_eq!(users("reg.example:5001/team/app:1"), ["deep", "u"], "the more specific key first");
        assert_eq!(users("reg.example:5001/other/app"), ["u"]);
        assert!(users("reg.example/team/app").is_empty(), "ports must match");
        assert_eq!(users("eu.corp.example/team/app"), ["t"]);
        assert!(users("a.eu.corp.example/team/app").is_empty(), "a glob is one label");
        assert!(users("eu.corp.example/other").is_empty());
    }
}
