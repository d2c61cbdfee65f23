//! The ABAC authorizer (`--authorization-mode=ABAC`, `--authorization-policy-file`): one JSON
//! policy object per line, `abac.authorization.kubernetes.io/v1beta1` or the unversioned v0
//! form, matched as upstream's `abac.PolicyList` does. The first matching policy allows.

use ::rbac::{Attributes, PolicyRule};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub readonly: bool,
    #[serde(default)]
    pub api_group: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub non_resource_path: String,
}

#[derive(Debug, Default)]
pub struct PolicyList(pub Vec<Spec>);

fn read_only(verb: &str) -> bool {
    matches!(verb, "get" | "list" | "watch")
}

impl PolicyList {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("error decoding policy line {}: {e}", n + 1))?;
            let spec = match v.get("apiVersion").and_then(|a| a.as_str()) {
                Some("abac.authorization.kubernetes.io/v1beta1") => {
                    serde_json::from_value(v.get("spec").cloned().unwrap_or_default())
                        .map_err(|e| format!("error decoding policy line {}: {e}", n + 1))?
                }
                None | Some("") | Some("v0") => {
                    v0(&v).map_err(|e| format!("error decoding policy line {}: {e}", n + 1))?
                }
                Some(other) => {
                    return Err(format!("error decoding policy line {}: unknown apiVersion {other:?}", n + 1))
                }
            };
            out.push(spec);
        }
        Ok(PolicyList(out))
    }

    /// `Authorize`: Allow on the first match, else no opinion.
    pub fn authorize(&self, a: &Attributes) -> Result<(), String> {
        if self.0.iter().any(|p| matches(p, a)) {
            Ok(())
        } else {
            Err("No policy matched.".into())
        }
    }

    /// `RulesFor`: the policies that apply to the user, as rules.
    pub fn rules_for(&self, user: &str, groups: &[String]) -> (Vec<PolicyRule>, Vec<PolicyRule>) {
        let (mut res, mut non) = (Vec::new(), Vec::new());
        for p in self.0.iter().filter(|p| subject_matches(p, user, groups)) {
            let verbs: Vec<String> =
                if p.readonly { vec!["get".into(), "list".into(), "watch".into()] } else { vec!["*".into()] };
            if !p.resource.is_empty() {
                res.push(PolicyRule {
                    verbs: verbs.clone(),
                    api_groups: vec![p.api_group.clone()],
                    resources: vec![p.resource.clone()],
                    ..Default::default()
                });
            }
            if !p.non_resource_path.is_empty() {
                non.push(PolicyRule {
                    verbs,
                    non_resource_urls: vec![p.non_resource_path.clone()],
                    ..Default::default()
                });
            }
        }
        (res, non)
    }
}

/// The unversioned v0 form: unset fields match everything, and no subject means every
/// authenticated user.
fn v0(v: &serde_json::Value) -> Result<Spec, serde_json::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct V0 {
        #[serde(default)]
        user: String,
        #[serde(default)]
        group: String,
        #[serde(default)]
        readonly: bool,
        #[serde(default)]
        resource: String,
        #[serde(default)]
        namespace: String,
        #[serde(default)]
        non_resource_path: String,
    }
    let p: V0 = serde_json::from_value(v.clone())?;
    let star = |s: String| if s.is_empty() { "*".to_string() } else { s };
    let group = if p.user.is_empty() && p.group.is_empty() { super::ALL_AUTHENTICATED.to_string() } else { p.group };
    Ok(Spec {
        user: p.user,
        group,
        readonly: p.readonly,
        api_group: "*".into(),
        resource: star(p.resource),
        namespace: star(p.namespace),
        non_resource_path: star(p.non_resource_path),
    })
}

fn subject_matches(p: &Spec, user: &str, groups: &[String]) -> bool {
    let mut matched = false;
    if !p.user.is_empty() {
        matched = p.user == "*" || p.user == user;
        if !matched {
            return false;
        }
    }
    if !p.group.is_empty() {
        matched = p.group == "*" || groups.contains(&p.group);
        if !matched {
            return false;
        }
    }
    matched
}

fn matches(p: &Spec, a: &Attributes) -> bool {
    // Read-only policies allow only get, list and watch.
    let verb_ok = read_only(&a.verb) || !p.readonly;
    if !verb_ok || !subject_matches(p, &a.user, &a.groups) {
        return false;
    }
    if a.is_resource {
        (p.namespace == "*" || p.namespace == a.namespace)
            && (p.resource == "*" || p.resource == a.resource)
            && (p.api_group == "*" || p.api_group == a.api_group)
    } else {
        p.non_resource_path == "*"
            || p.non_resource_path == a.path
            || (p.non_resource_path.ends_with('*') && a.path.starts_with(p.non_resource_path.trim_end_matches('*')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_003: &str = r#"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "bob", "namespace": "projectCaribou", "resource": "pods", "readonly": true}}
# comments and blank lines are skipped

{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "system:authenticated", "readonly": true, "nonResourcePath": "*"}}
"#;

    fn attrs(user: &str, verb: &str, ns: &str, group: &str, resource: &str) -> Attributes {
        Attributes {
            user: user.into(),
            groups: vec!["system:authenticated".into()],
            verb: verb.into(),
            is_resource: true,
            namespace: ns.into(),
            api_group: group.into(),
            resource: resource.into(),
            ..Default::default()
        }
    }

    #[test]
    fn seed_003_bob() {
        let p = PolicyList::parse(SEED_003).unwrap();
        assert!(p.authorize(&attrs("bob", "get", "projectCaribou", "", "pods")).is_ok());
        assert!(p.authorize(&attrs("bob", "list", "projectCaribou", "", "pods")).is_ok());
        assert_eq!(
            p.authorize(&attrs("bob", "create", "projectCaribou", "", "pods")).unwrap_err(),
            "No policy matched."
        );
        assert!(p.authorize(&attrs("bob", "get", "default", "", "pods")).is_err());
        assert!(p.authorize(&attrs("bob", "get", "projectCaribou", "", "secrets")).is_err());
        // The policy names no apiGroup, so only the core group matches.
        assert!(p.authorize(&attrs("bob", "get", "projectCaribou", "unicorn.example.org", "pods")).is_err());
        assert!(p.authorize(&attrs("alice", "get", "projectCaribou", "", "pods")).is_err());
        let non = Attributes {
            user: "x".into(),
            groups: vec!["system:authenticated".into()],
            verb: "get".into(),
            path: "/version".into(),
            ..Default::default()
        };
        assert!(p.authorize(&non).is_ok());
        assert!(PolicyList::parse("{not json").is_err());
    }

    #[test]
    fn v0_defaults() {
        let p = PolicyList::parse(
            r#"{"user":"admin"}
{"readonly": true}"#,
        )
        .unwrap();
        assert!(p.authorize(&attrs("admin", "delete", "any", "apps", "deployments")).is_ok());
        assert!(p.authorize(&attrs("joe", "get", "any", "apps", "deployments")).is_ok());
        assert!(p.authorize(&attrs("joe", "delete", "any", "apps", "deployments")).is_err());
    }
}
