//! Bootstrap tokens (`--enable-bootstrap-token-auth`): `<id>.<secret>` bearer tokens backed by
//! `bootstrap-token-<id>` Secrets in kube-system, as kubeadm join uses them.

use super::UserInfo;
use api_types::json::Ptr;
use base64::Engine;
use serde_json::Value;

pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const GROUP: &str = "system:bootstrappers";

/// `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

fn data(secret: &Value, key: &str) -> Option<String> {
    let b = secret.ptr(&format!("/data/{key}")).and_then(Value::as_str)?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
    String::from_utf8(raw).ok()
}

/// Constant-time comparison, so the secret part cannot be guessed byte by byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user of a token, given its Secret; None for every kind of mismatch (upstream logs the
/// reason and treats the token as not its own).
pub fn user_for(token: &str, secret: &Value, now: chrono::DateTime<chrono::Utc>) -> Option<UserInfo> {
    let (id, sec) = parse_token(token)?;
    if secret.ptr("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    if secret.get("type").and_then(Value::as_str) != Some(SECRET_TYPE) {
        return None;
    }
    let (tid, tsec) = (data(secret, "token-id")?, data(secret, "token-secret")?);
    if !same(&tid, id) || !same(&tsec, sec) {
        return None;
    }
    if let Some(exp) = data(secret, "expiration") {
        match chrono::DateTime::parse_from_rfc3339(&exp) {
            Ok(t) if t.with_timezone(&chrono::Utc) > now => {}
            _ => return None,
        }
    }
    if data(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return None;
    }
    let mut groups = vec![GROUP.to_string()];
    if let Some(extra) = data(secret, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !g.starts_with("system:bootstrappers:") {
                return None;
            }
            if !groups.iter().any(|x| x == g) {
                groups.push(g.to_string());
            }
        }
    }
    Some(UserInfo { name: format!("system:bootstrap:{id}"), groups, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(exp: &str) -> Value {
        json!({"type": SECRET_TYPE, "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "data": {"token-id": b64("abcdef"), "token-secret": b64("0123456789abcdef"), "expiration": b64(exp),
                "usage-bootstrap-authentication": b64("true"),
                "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token")}})
    }

    #[test]
    fn tokens() {
        let now = chrono::Utc::now();
        let future = (now + chrono::Duration::hours(1)).to_rfc3339();
        let u = user_for("abcdef.0123456789abcdef", &secret(&future), now).unwrap();
        assert_eq!(u.name, "system:bootstrap:abcdef");
        assert_eq!(u.groups, vec!["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"]);
        assert!(user_for("abcdef.0123456789abcdeX", &secret(&future), now).is_none());
        assert!(user_for("abcdef.0123456789abcdee", &secret(&future), now).is_none());
        let past = (now - chrono::Duration::seconds(1)).to_rfc3339();
        assert!(user_for("abcdef.0123456789abcdef", &secret(&past), now).is_none());
        assert_eq!(parse_token("abc.def"), None);
    }
}
