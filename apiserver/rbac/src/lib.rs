//! RBAC policy evaluation as upstream's `rbac` authorizer does it, and upstream's default
//! bootstrap policy. Pure: the apiserver keeps the roles and bindings and asks this crate
//! whether a rule set allows a request.

#![forbid(unsafe_code)]

pub mod bootstrap;
pub mod escalation;
pub mod reconcile;

use serde::{Deserialize, Serialize};

/// One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 `PolicyRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs", default, skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

/// A binding's subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// What a binding grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    #[serde(default)]
    pub api_group: String,
    pub kind: String,
    pub name: String,
}

/// The request attributes an authorizer sees (upstream's `authorizer.Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: String,
    pub groups: Vec<String>,
    pub verb: String,
    pub is_resource: bool,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The request path, for non-resource requests.
    pub path: String,
    /// The `fieldSelector` of a list or watch (the Node authorizer narrows on `spec.nodeName`).
    pub field_selector: String,
}

pub const VERB_ALL: &str = "*";
pub const API_GROUP_ALL: &str = "*";
pub const RESOURCE_ALL: &str = "*";
pub const NON_RESOURCE_ALL: &str = "*";

fn has_or_all(items: &[String], want: &str, all: &str) -> bool {
    items.iter().any(|i| i == all || i == want)
}

/// `VerbMatches`.
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    has_or_all(&rule.verbs, verb, VERB_ALL)
}

/// `APIGroupMatches`.
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    has_or_all(&rule.api_groups, group, API_GROUP_ALL)
}

/// `ResourceMatches`: `*`, the exact `resource[/subresource]`, or `*/subresource`.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == RESOURCE_ALL || r == combined {
            return true;
        }
        !subresource.is_empty() && r.len() == subresource.len() + 2 && r.starts_with("*/") && r.ends_with(subresource)
    })
}

/// `ResourceNameMatches`: no names means every name.
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// `NonResourceURLMatches`: `*`, the exact path, or a prefix ending in `*`.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|u| u == NON_RESOURCE_ALL || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
}

/// `RuleAllows`.
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    if attrs.is_resource {
        let combined = if attrs.subresource.is_empty() {
            std::borrow::Cow::Borrowed(attrs.resource.as_str())
        } else {
            std::borrow::Cow::Owned(format!("{}/{}", attrs.resource, attrs.subresource))
        };
        verb_matches(rule, &attrs.verb)
            && api_group_matches(rule, &attrs.api_group)
            && resource_matches(rule, &combined, &attrs.subresource)
            && resource_name_matches(rule, &attrs.name)
    } else {
        verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path)
    }
}

/// The user name of a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// `appliesToUser`: whether a subject of a binding in `binding_ns` names this user. A
/// ServiceAccount subject without a namespace takes the binding's.
pub fn subject_matches(subject: &Subject, binding_ns: &str, user: &str, groups: &[String]) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user,
        "Group" => groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = if subject.namespace.is_empty() { binding_ns } else { &subject.namespace };
            !ns.is_empty() && service_account_user(ns, &subject.name) == user
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn res(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn resources_and_subresources() {
        let r = rule(&["get", "list"], &[""], &["pods"]);
        assert!(rule_allows(&res("get", "", "pods", "", "p"), &r));
        assert!(!rule_allows(&res("get", "", "pods", "log", "p"), &r));
        assert!(!rule_allows(&res("delete", "", "pods", "", "p"), &r));
        assert!(!rule_allows(&res("get", "apps", "pods", "", "p"), &r));
        let r = rule(&["get"], &[""], &["pods/log"]);
        assert!(rule_allows(&res("get", "", "pods", "log", "p"), &r));
        assert!(!rule_allows(&res("get", "", "pods", "", "p"), &r));
        let r = rule(&["*"], &["*"], &["*/scale"]);
        assert!(rule_allows(&res("update", "apps", "deployments", "scale", "d"), &r));
        assert!(!rule_allows(&res("update", "apps", "deployments", "status", "d"), &r));
        let r = rule(&["*"], &["*"], &["*"]);
        assert!(rule_allows(&res("escalate", "rbac.authorization.k8s.io", "roles", "", ""), &r));
    }

    #[test]
    fn resource_names_restrict_named_requests_only() {
        let mut r = rule(&["get", "list"], &[""], &["configmaps"]);
        r.resource_names = vec!["a".into()];
        assert!(rule_allows(&res("get", "", "configmaps", "", "a"), &r));
        assert!(!rule_allows(&res("get", "", "configmaps", "", "b"), &r));
        assert!(!rule_allows(&res("list", "", "configmaps", "", ""), &r));
    }

    #[test]
    fn non_resource_urls() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz".into(), "/apis/*".into()],
            ..Default::default()
        };
        let a = |p: &str| Attributes { verb: "get".into(), path: p.into(), ..Default::default() };
        assert!(rule_allows(&a("/healthz"), &r));
        assert!(!rule_allows(&a("/healthz/etcd"), &r));
        assert!(rule_allows(&a("/apis/apps"), &r));
        assert!(!rule_allows(&a("/api"), &r));
    }

    #[test]
    fn subjects() {
        let g = vec!["devs".to_string()];
        let s = |k: &str, n: &str, ns: &str| Subject {
            kind: k.into(),
            name: n.into(),
            namespace: ns.into(),
            ..Default::default()
        };
        assert!(subject_matches(&s("User", "jane", ""), "default", "jane", &[]));
        assert!(subject_matches(&s("Group", "devs", ""), "", "jerome", &g));
        assert!(subject_matches(
            &s("ServiceAccount", "default", "kube-system"),
            "",
            "system:serviceaccount:kube-system:default",
            &[]
        ));
        assert!(subject_matches(&s("ServiceAccount", "x", ""), "ns1", "system:serviceaccount:ns1:x", &[]));
        assert!(!subject_matches(&s("ServiceAccount", "x", ""), "", "system:serviceaccount::x", &[]));
    }
}
