//! Bootstrap tokens (`cluster-bootstrap/token`): `<6 chars>.<16 chars>` of `[a-z0-9]`, stored as
//! `kube-system/bootstrap-token-<id>` Secrets that the apiserver authenticates as
//! `system:bootstrap:<id>` and the bootstrap signer signs `cluster-info` with.

use crate::Error;
use std::collections::BTreeMap;

pub const DEFAULT_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const USAGES: [&str; 2] = ["signing", "authentication"];
pub const TOKEN_PATTERN: &str = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z";
pub const ID_PATTERN: &str = r"\A([a-z0-9]{6})\z";
const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A new random token, uniform over the alphabet.
pub fn generate() -> String {
    let pick = |n: usize| -> String {
        (0..n)
            .map(|_| {
                // Rejection sampling keeps every character equally likely.
                loop {
                    let b = rand::random::<u8>();
                    if b < 252 {
                        return ALPHABET[usize::from(b % 36)] as char;
                    }
                }
            })
            .collect()
    };
    format!("{}.{}", pick(6), pick(16))
}

fn is_token_chars(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `(id, secret)` of a well-formed token.
pub fn parse(token: &str) -> Result<(String, String), Error> {
    match token.split_once('.') {
        Some((id, secret)) if is_token_chars(id, 6) && is_token_chars(secret, 16) => {
            Ok((id.to_string(), secret.to_string()))
        }
        _ => Err(Error::Invalid(format!("the bootstrap token {token:?} was not of the form {TOKEN_PATTERN:?}"))),
    }
}

pub fn is_id(s: &str) -> bool {
    is_token_chars(s, 6)
}

/// A group a token may authenticate as: `system:bootstrappers:` and `[a-z0-9:-]`, ending
/// alphanumeric.
pub fn valid_group(g: &str) -> bool {
    g.strip_prefix("system:bootstrappers:").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 256
            && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
            && rest.bytes().last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// What a token Secret says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    pub description: String,
    /// RFC 3339, UTC; `None` never expires.
    pub expires: Option<String>,
    pub usages: Vec<String>,
    pub groups: Vec<String>,
}

impl Token {
    /// The Secret's name and `data` (plain strings; the caller base64-encodes).
    pub fn secret_data(&self) -> Result<(String, BTreeMap<String, String>), Error> {
        let (id, secret) = parse(&self.token)?;
        let mut d = BTreeMap::new();
        d.insert("token-id".to_string(), id.clone());
        d.insert("token-secret".to_string(), secret);
        if let Some(e) = &self.expires {
            d.insert("expiration".to_string(), e.clone());
        }
        for u in &self.usages {
            if !USAGES.contains(&u.as_str()) {
                return Err(Error::Invalid(format!(
                    "invalid bootstrap token usage string: {u}, valid usage options: signing,authentication"
                )));
            }
            d.insert(format!("usage-bootstrap-{u}"), "true".to_string());
        }
        for g in &self.groups {
            if !valid_group(g) {
                return Err(Error::Invalid(format!(
                    "bootstrap group {g:?} is invalid (must match \"\\\\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\\\z\")"
                )));
            }
        }
        if !self.groups.is_empty() {
            d.insert("auth-extra-groups".to_string(), self.groups.join(","));
        }
        if !self.description.is_empty() {
            d.insert("description".to_string(), self.description.clone());
        }
        Ok((format!("bootstrap-token-{id}"), d))
    }

    /// Reads a token Secret back (`BootstrapTokenFromSecret`).
    pub fn from_secret(name: &str, data: &BTreeMap<String, String>) -> Result<Token, Error> {
        let id = data
            .get("token-id")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Invalid(format!("bootstrap Token Secret has no token-id data: {name}")))?;
        let want = format!("bootstrap-token-{id}");
        if name != want {
            return Err(Error::Invalid(format!(
                "bootstrap token name is not of the form 'bootstrap-token-(token-id)'. Actual: {name:?}. Expected: {want:?}"
            )));
        }
        let secret = data
            .get("token-secret")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Invalid(format!("bootstrap Token Secret has no token-secret data: {name}")))?;
        let mut usages: Vec<String> = data
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("usage-bootstrap-").filter(|_| v == "true").map(str::to_string))
            .collect();
        usages.sort();
        let groups = data
            .get("auth-extra-groups")
            .map(|g| g.split(',').map(str::to_string).filter(|g| !g.is_empty()).collect())
            .unwrap_or_default();
        Ok(Token {
            token: format!("{id}.{secret}"),
            description: data.get("description").cloned().unwrap_or_default(),
            expires: data.get("expiration").cloned(),
            usages,
            groups,
        })
    }
}

/// `now + secs` as the Secret's `expiration` (RFC 3339, UTC, whole seconds).
pub fn expiration_after(secs: u64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs as i64);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Go's tabwriter as kubeadm sets it up (minimum width 10, padding 3): every cell but the last
/// padded to the widest in its column.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols.saturating_sub(1))
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| (s.chars().count() + 3).max(10)).max().unwrap_or(10))
        .collect();
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            match widths.get(i) {
                Some(w) if i + 1 < r.len() => out.push_str(&format!("{cell:<w$}")),
                _ => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

/// `kubeadm token list`: the header aligned with the first token only, and each later token
/// aligned on its own (upstream prints every token through a new tabwriter); nothing at all
/// when there are no tokens.
pub fn list_text(tokens: &[Token], now: jiff::Timestamp) -> String {
    let row = |t: &Token| -> Vec<String> {
        let (ttl, expires) = match t.expires.as_deref().and_then(|e| e.parse::<jiff::Timestamp>().ok()) {
            // Whole seconds towards zero, as Go's `int(d.Seconds())`.
            Some(e) => {
                let secs = (e.as_nanosecond() - now.as_nanosecond()) / 1_000_000_000;
                (short_human_duration(secs as i64), e.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
            None => ("<forever>".to_string(), "<never>".to_string()),
        };
        let none = |s: String| if s.is_empty() { "<none>".to_string() } else { s };
        vec![
            t.token.clone(),
            format!("{ttl:<9}"),
            expires,
            format!("{:<22}", none(t.usages.join(","))),
            format!("{:<56}", none(t.description.clone())),
            none(t.groups.join(",")),
        ]
    };
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i == 0 {
            let header =
                ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"].map(String::from).to_vec();
            out.push_str(&tabwrite(&[header, row(t)]));
        } else {
            out.push_str(&tabwrite(&[row(t)]));
        }
    }
    out
}

/// Go's `ShortHumanDuration`, as `token list` and `certs check-expiration` print it.
pub fn short_human_duration(secs: i64) -> String {
    match secs {
        s if s < -1 => "<invalid>".into(),
        s if s < 0 => "0s".into(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s if s < 86400 * 365 => format!("{}d", s / 86400),
        s => format!("{}y", s / 86400 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_differ() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        let (id, secret) = parse(&a).unwrap();
        assert_eq!((id.len(), secret.len()), (6, 16));
        assert!(parse("ABCDEF.0123456789abcdef").is_err());
        assert!(parse("abcdef0123456789abcdef").is_err());
    }

    #[test]
    fn secrets_round_trip() {
        let t = Token {
            token: "abcdef.0123456789abcdef".into(),
            description: "d".into(),
            expires: Some("2030-01-02T03:04:05Z".into()),
            usages: vec!["signing".into(), "authentication".into()],
            groups: vec![DEFAULT_GROUP.into()],
        };
        let (name, data) = t.secret_data().unwrap();
        assert_eq!(name, "bootstrap-token-abcdef");
        assert_eq!(data["usage-bootstrap-signing"], "true");
        let back = Token::from_secret(&name, &data).unwrap();
        assert_eq!(back.usages, ["authentication", "signing"]);
        assert_eq!(back.groups, [DEFAULT_GROUP]);
        assert_eq!(back.expires.as_deref(), Some("2030-01-02T03:04:05Z"));
        let bad = Token { groups: vec!["system:nodes".into()], ..t.clone() };
        assert!(bad.secret_data().unwrap_err().to_string().contains("bootstrap group \"system:nodes\" is invalid"));
        let bad = Token { usages: vec!["x".into()], ..t };
        assert!(bad.secret_data().unwrap_err().to_string().contains("invalid bootstrap token usage string: x"));
    }

    #[test]
    fn the_list_prints_as_upstreams() {
        let now: jiff::Timestamp = "2024-03-31T13:02:02Z".parse().unwrap();
        let t = |token: &str, exp: &str, d: &str| Token {
            token: token.into(),
            description: d.into(),
            expires: Some(exp.into()),
            usages: vec!["authentication".into(), "signing".into()],
            groups: vec![DEFAULT_GROUP.into()],
        };
        let text = list_text(
            &[
                t(
                    "nmjtaw.4odcpohubso6x0mb",
                    "2024-04-01T11:54:17Z",
                    "The default bootstrap token generated by 'kubeadm init'.",
                ),
                t("ojaf3e.4bju16di7zq40kgd", "2024-04-01T13:02:01Z", ""),
            ],
            now,
        );
        let want = "TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION                                                EXTRA GROUPS\nnmjtaw.4odcpohubso6x0mb   22h         2024-04-01T11:54:17Z   authentication,signing   The default bootstrap token generated by 'kubeadm init'.   system:bootstrappers:kubeadm:default-node-token\nojaf3e.4bju16di7zq40kgd   23h         2024-04-01T13:02:01Z   authentication,signing   <none>                                                     system:bootstrappers:kubeadm:default-node-token\n";
        assert_eq!(text, want);
        assert_eq!(list_text(&[], now), "");
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(short_human_duration(86399), "23h");
        assert_eq!(short_human_duration(364 * 86400), "364d");
        assert_eq!(short_human_duration(10 * 365 * 86400), "10y");
        assert_eq!(short_human_duration(-5), "<invalid>");
    }
}
