//! Impersonation (`Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid`,
//! `Impersonate-Extra-<key>`; `kubectl --as`): each requested identity part must be authorized
//! with verb `impersonate` before the request continues as that user.

use super::authz::AuthorizerChain;
use super::{UserInfo, ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS};
use ::rbac::Attributes;

/// Why impersonation did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Malformed headers (upstream answers 500 with this text).
    Invalid(String),
    /// The caller may not impersonate this part: the 403 message.
    Forbidden { attrs: Box<Attributes>, reason: String },
}

const EXTRA_PREFIX: &str = "impersonate-extra-";

/// Applies the impersonation headers, if any, to `user`.
pub async fn impersonate(
    authz: &AuthorizerChain,
    user: UserInfo,
    headers: &http::HeaderMap,
) -> Result<UserInfo, Refused> {
    let as_user: Vec<&str> =
        headers.get_all("impersonate-user").iter().filter_map(|v| v.to_str().ok()).filter(|v| !v.is_empty()).collect();
    let groups: Vec<String> =
        headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).map(String::from).collect();
    let uid: Option<String> = headers.get("impersonate-uid").and_then(|v| v.to_str().ok()).map(String::from);
    let mut extra: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (k, v) in headers {
        if let Some(key) = k.as_str().strip_prefix(EXTRA_PREFIX) {
            let key = unescape_extra_key(key);
            if let Ok(v) = v.to_str() {
                extra.entry(key).or_default().push(v.to_string());
            }
        }
    }
    if as_user.is_empty() {
        if !groups.is_empty() || !extra.is_empty() || uid.is_some() {
            return Err(Refused::Invalid(
                "requested impersonation of groups, extra or uid without impersonating a user".into(),
            ));
        }
        return Ok(user);
    }
    let name = as_user[0].to_string();
    let mut checks: Vec<Attributes> = Vec::new();
    let base = |group: &str, resource: &str, ns: &str, name: &str| Attributes {
        user: user.name.clone(),
        groups: user.groups.clone(),
        verb: "impersonate".into(),
        is_resource: true,
        api_group: group.into(),
        api_version: "v1".into(),
        namespace: ns.into(),
        resource: resource.into(),
        name: name.into(),
        ..Default::default()
    };
    let mut out_groups = groups.clone();
    match name.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')) {
        Some((ns, sa)) => {
            checks.push(base("", "serviceaccounts", ns, sa));
            if groups.is_empty() {
                out_groups = vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")];
            }
        }
        None => checks.push(base("", "users", "", &name)),
    }
    for g in &groups {
        checks.push(base("", "groups", "", g));
    }
    for (k, vs) in &extra {
        for v in vs {
            let mut a = base("authentication.k8s.io", "userextras", "", v);
            a.subresource = k.clone();
            checks.push(a);
        }
    }
    if let Some(u) = &uid {
        checks.push(base("authentication.k8s.io", "uids", "", u));
    }
    for a in checks {
        let d = authz.authorize(&a).await;
        if !d.allowed() {
            return Err(Refused::Forbidden { reason: d.reason().to_string(), attrs: Box::new(a) });
        }
    }
    if name == ANONYMOUS {
        if !out_groups.iter().any(|g| g == ALL_UNAUTHENTICATED) {
            out_groups.push(ALL_UNAUTHENTICATED.into());
        }
    } else if !out_groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED) {
        out_groups.push(ALL_AUTHENTICATED.into());
    }
    Ok(UserInfo { name, uid: uid.unwrap_or_default(), groups: out_groups, extra })
}

/// Extra keys are percent-encoded in header names (upstream unescapes and lower-cases them).
pub fn unescape_extra_key(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authz::Mode;

    #[tokio::test]
    async fn masters_may_impersonate_and_others_may_not() {
        let chain = AuthorizerChain { modes: vec![] };
        let admin = UserInfo { name: "admin".into(), groups: vec!["system:masters".into()], ..Default::default() };
        let mut h = http::HeaderMap::new();
        h.insert("impersonate-user", "jane".parse().unwrap());
        h.append("impersonate-group", "devs".parse().unwrap());
        let u = impersonate(&chain, admin, &h).await.unwrap();
        assert_eq!(u.name, "jane");
        assert_eq!(u.groups, vec!["devs", "system:authenticated"]);
        let bob = UserInfo { name: "bob".into(), ..Default::default() };
        match impersonate(&chain, bob, &h).await {
            Err(Refused::Forbidden { attrs, .. }) => {
                assert_eq!(
                    crate::auth::forbidden_message(&attrs, ""),
                    "users \"jane\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
                );
            }
            other => panic!("{other:?}"),
        }
        let allow = AuthorizerChain { modes: vec![Mode::AlwaysAllow] };
        let mut h = http::HeaderMap::new();
        h.insert("impersonate-user", "system:serviceaccount:ns1:sa".parse().unwrap());
        let u = impersonate(&allow, UserInfo::default(), &h).await.unwrap();
        assert_eq!(u.groups, vec!["system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated"]);
        let mut h = http::HeaderMap::new();
        h.insert("impersonate-group", "devs".parse().unwrap());
        assert!(matches!(impersonate(&allow, UserInfo::default(), &h).await, Err(Refused::Invalid(_))));
        assert_eq!(unescape_extra_key("example.com%2Fkey"), "example.com/key");
    }
}
