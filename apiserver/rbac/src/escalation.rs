//! Privilege-escalation checks as upstream's RBAC storage runs them: a user may write a role
//! (or bind one) only with rules their own rules already cover, unless they may `escalate`
//! (`bind`) or are in system:masters. Covers lives in k8s.io/component-helpers
//! auth/rbac/validation; compaction, the compact rule format and the error text in
//! pkg/registry/rbac and pkg/apis/rbac/v1.

use crate::{Attributes, PolicyRule, RoleRef, API_GROUP_ALL, RESOURCE_ALL, VERB_ALL};

/// `Covers`: whether `owner` allows everything `servant` does, and if not, the uncovered pieces.
/// Servant rules are split into one-verb/one-group/one-resource/one-name (or one-URL) pieces
/// first, so each piece is either wholly covered by a single owner rule or not at all.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let uncovered: Vec<PolicyRule> =
        servant.iter().flat_map(breakdown_rule).filter(|sub| !owner.iter().any(|o| rule_covers(o, sub))).collect();
    (uncovered.is_empty(), uncovered)
}

/// `BreakdownRule`: the rule as pieces with at most one verb, group, resource and name, or one
/// verb and one non-resource URL. A resource rule without groups yields nothing, as upstream.
pub fn breakdown_rule(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: one(verb),
                    ..Default::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    out.extend(
                        rule.resource_names.iter().map(|n| PolicyRule { resource_names: one(n), ..base.clone() }),
                    );
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(PolicyRule { non_resource_urls: one(url), verbs: one(verb), ..Default::default() });
        }
    }
    out
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(set, i))
}

/// Owner resources cover when they hold `*`, every resource exactly, or `*/sub` for a
/// `res/sub` they do not hold exactly.
fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, RESOURCE_ALL) || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        has(owner, path)
            || match path.split_once('/') {
                Some((_, sub)) => has(owner, &format!("*/{sub}")),
                None => false,
            }
    })
}

/// A URL ending in `*` covers every path it prefixes (all trailing `*`s trimmed, as upstream).
fn non_resource_url_covers(owner: &str, path: &str) -> bool {
    owner == path || (owner.ends_with('*') && path.starts_with(owner.trim_end_matches('*')))
}

/// `ruleCovers`: whether one owner rule allows a broken-down servant piece.
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, VERB_ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, API_GROUP_ALL) || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls =
        sub.non_resource_urls.iter().all(|p| owner.non_resource_urls.iter().any(|o| non_resource_url_covers(o, p)));
    // An owner restricted to names never covers an unrestricted piece.
    let names = owner.resource_names.is_empty()
        || (!sub.resource_names.is_empty() && has_all(&owner.resource_names, &sub.resource_names));
    verbs && groups && resources && names && urls
}

/// `CompactRules`: folds rules that name exactly one group and one resource and nothing but
/// verbs into one rule per group/resource, verbs appended in order. Others pass through.
/// Upstream's map iteration leaves the folded rules' order unspecified; here they follow the
/// pass-through rules in first-seen order.
pub fn compact(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let is_simple = rule.resource_names.is_empty()
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            out.push(rule.clone());
            continue;
        }
        match simple.iter_mut().find(|s| s.api_groups == rule.api_groups && s.resources == rule.resources) {
            Some(existing) => existing.verbs.extend(rule.verbs.iter().cloned()),
            None => simple.push(rule.clone()),
        }
    }
    out.extend(simple);
    out
}

pub use api_types::go::{quote as go_quote, quote_list as go_quote_list};

/// `CompactString`: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`, fields in
/// that order with NonResourceURLs and ResourceNames between, empty ones left out.
pub fn compact_string(rule: &PolicyRule) -> String {
    let fields = [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ];
    let parts: Vec<String> =
        fields.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}:{}", go_quote_list(v))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The text of `ConfirmNoEscalation`'s error, which the role and binding storages wrap in a
/// Forbidden status. `missing` is what `covers` left uncovered; it is compacted and printed one
/// rule a line, sorted and deduplicated. `resolution_errors` are the errors met while gathering
/// the user's own rules (upstream aggregates them into one error before printing the list).
pub fn escalation_message(
    user: &str,
    groups: &[String],
    missing: &[PolicyRule],
    rules_resolution_errors: &[String],
) -> String {
    let mut lines: Vec<String> = compact(missing).iter().map(compact_string).collect();
    lines.sort();
    lines.dedup();
    let mut msg = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(user),
        go_quote_list(groups),
        lines.join("\n")
    );
    if !rules_resolution_errors.is_empty() {
        msg.push_str(&format!("; resolution errors: [{}]", aggregate_error(rules_resolution_errors)));
    }
    msg
}

/// `utilerrors.Aggregate.Error()`: one error prints bare; several print deduplicated as
/// `[a, b]` (bare again if they were all the same).
fn aggregate_error(errors: &[String]) -> String {
    if errors.len() == 1 {
        return errors[0].clone();
    }
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen[0].to_string()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// `EscalationAllowed`: system:masters backs the apiserver's own loopback client, so it may
/// always write any role or binding.
pub fn escalation_allowed(groups: &[String]) -> bool {
    groups.iter().any(|g| g == "system:masters")
}

/// The `escalate` check of `RoleEscalationAuthorized`: writing roles or clusterroles without
/// holding their rules is allowed to whoever may `escalate` that role. None for other resources.
pub fn escalate_attributes(
    user: &str,
    groups: &[String],
    api_group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Option<Attributes> {
    if api_group != crate::bootstrap::RBAC_GROUP || !matches!(resource, "roles" | "clusterroles") {
        return None;
    }
    Some(Attributes {
        user: user.into(),
        groups: groups.to_vec(),
        verb: "escalate".into(),
        is_resource: true,
        api_group: api_group.into(),
        api_version: "*".into(),
        namespace: namespace.into(),
        resource: resource.into(),
        name: name.into(),
        ..Default::default()
    })
}

/// `BindingAuthorized`: a binding whose role the user does not cover is still allowed if they
/// may `bind` that role, checked in the binding's namespace ("" for clusterrolebindings).
pub fn bind_attributes(
    user: &str,
    groups: &[String],
    role_ref: &RoleRef,
    binding_namespace: &str,
) -> Option<Attributes> {
    let resource = match role_ref.kind.as_str() {
        "ClusterRole" => "clusterroles",
        "Role" => "roles",
        _ => return None,
    };
    Some(Attributes {
        user: user.into(),
        groups: groups.to_vec(),
        verb: "bind".into(),
        is_resource: true,
        api_group: role_ref.api_group.clone(),
        namespace: binding_namespace.into(),
        resource: resource.into(),
        name: role_ref.name.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn res(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule { verbs: s(verbs), api_groups: s(groups), resources: s(resources), ..Default::default() }
    }

    fn named(mut r: PolicyRule, names: &[&str]) -> PolicyRule {
        r.resource_names = s(names);
        r
    }

    fn url(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule { verbs: s(verbs), non_resource_urls: s(urls), ..Default::default() }
    }

    #[test]
    fn breakdown_splits_to_atoms() {
        let r = named(res(&["get", "update"], &["", "apps"], &["pods", "deployments"]), &["a", "b"]);
        let pieces = breakdown_rule(&r);
        assert_eq!(pieces.len(), 16);
        assert_eq!(pieces[0], named(res(&["get"], &[""], &["pods"]), &["a"]));
        assert_eq!(pieces[1], named(res(&["get"], &[""], &["pods"]), &["b"]));
        assert_eq!(breakdown_rule(&url(&["get", "post"], &["/a", "/b"])).len(), 4);
        // no groups, no resource pieces
        assert!(breakdown_rule(&res(&["get"], &[], &["pods"])).is_empty());
    }

    #[test]
    fn covers_exact_and_wildcards() {
        let owner = vec![res(&["get", "list"], &[""], &["pods"])];
        assert!(covers(&owner, &[res(&["get"], &[""], &["pods"])]).0);
        let (ok, missing) = covers(&owner, &[res(&["get", "delete"], &["", "apps"], &["pods"])]);
        assert!(!ok);
        assert_eq!(
            missing,
            vec![
                res(&["delete"], &[""], &["pods"]),
                res(&["get"], &["apps"], &["pods"]),
                res(&["delete"], &["apps"], &["pods"])
            ]
        );
        let star = vec![res(&["*"], &["*"], &["*"])];
        assert!(covers(&star, &[res(&["escalate"], &["rbac.authorization.k8s.io"], &["roles/status"])]).0);
        // resources `*` alone does not cover non-resource URLs
        assert!(!covers(&star, &[url(&["get"], &["/healthz"])]).0);
    }

    #[test]
    fn covers_subresources() {
        let owner = vec![res(&["get"], &["*"], &["*/scale"])];
        assert!(covers(&owner, &[res(&["get"], &["apps"], &["deployments/scale"])]).0);
        assert!(!covers(&owner, &[res(&["get"], &["apps"], &["deployments"])]).0);
        assert!(!covers(&owner, &[res(&["get"], &["apps"], &["deployments/status"])]).0);
        // `pods` does not cover `pods/log`
        assert!(!covers(&[res(&["get"], &[""], &["pods"])], &[res(&["get"], &[""], &["pods/log"])]).0);
    }

    #[test]
    fn covers_resource_names() {
        let unnamed = vec![res(&["get"], &[""], &["configmaps"])];
        let named_owner = vec![named(res(&["get"], &[""], &["configmaps"]), &["a"])];
        assert!(covers(&unnamed, &[named(res(&["get"], &[""], &["configmaps"]), &["a"])]).0);
        assert!(covers(&named_owner, &[named(res(&["get"], &[""], &["configmaps"]), &["a"])]).0);
        assert!(!covers(&named_owner, &[named(res(&["get"], &[""], &["configmaps"]), &["b"])]).0);
        assert!(!covers(&named_owner, &[res(&["get"], &[""], &["configmaps"])]).0);
    }

    #[test]
    fn covers_non_resource_urls() {
        let owner = vec![url(&["get"], &["/apis/*", "/healthz"])];
        assert!(covers(&owner, &[url(&["get"], &["/apis/apps/v1", "/healthz"])]).0);
        assert!(covers(&owner, &[url(&["get"], &["/apis/"])]).0);
        assert!(!covers(&owner, &[url(&["get"], &["/api"])]).0);
        assert!(!covers(&owner, &[url(&["post"], &["/healthz"])]).0);
        assert!(covers(&[url(&["*"], &["*"])], &[url(&["delete"], &["/anything"])]).0);
        // a URL rule never covers a resource piece
        assert!(!covers(&[url(&["*"], &["*"])], &[res(&["get"], &[""], &["pods"])]).0);
    }

    #[test]
    fn compact_merges_simple_rules() {
        let rules = vec![
            res(&["get"], &[""], &["secrets"]),
            named(res(&["get"], &[""], &["configmaps"]), &["x"]),
            res(&["list"], &[""], &["secrets"]),
            res(&["get"], &["apps"], &["secrets"]),
            url(&["get"], &["/x"]),
            res(&["create"], &[""], &["secrets"]),
        ];
        assert_eq!(
            compact(&rules),
            vec![
                named(res(&["get"], &[""], &["configmaps"]), &["x"]),
                url(&["get"], &["/x"]),
                res(&["get", "list", "create"], &[""], &["secrets"]),
                res(&["get"], &["apps"], &["secrets"]),
            ]
        );
    }

    #[test]
    fn compact_string_format() {
        assert_eq!(
            compact_string(&res(&["get"], &["apps"], &["deployments"])),
            r#"{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}"#
        );
        assert_eq!(
            compact_string(&named(res(&["get", "list"], &[""], &["configmaps"]), &["a"])),
            r#"{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get" "list"]}"#
        );
        assert_eq!(compact_string(&url(&["get"], &["/healthz"])), r#"{NonResourceURLs:["/healthz"], Verbs:["get"]}"#);
        assert_eq!(compact_string(&PolicyRule::default()), "{}");
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("plain"), r#""plain""#);
        assert_eq!(go_quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(go_quote("\u{1b}"), r#""\x1b""#);
        assert_eq!(go_quote("\u{a0}é"), "\"\\u00a0é\"");
        assert_eq!(go_quote_list(&[]), "[]");
        assert_eq!(go_quote_list(&s(&["system:authenticated", "devs"])), r#"["system:authenticated" "devs"]"#);
    }

    #[test]
    fn message_matches_upstream_text() {
        let (_, missing) = covers(
            &[],
            &[
                res(&["get", "list", "create", "patch"], &[""], &["secrets"]),
                res(&["get"], &["apps"], &["deployments"]),
            ],
        );
        let msg = escalation_message("jane", &s(&["system:authenticated", "devs"]), &missing, &[]);
        assert_eq!(
            msg,
            "user \"jane\" (groups=[\"system:authenticated\" \"devs\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\" \"create\" \"patch\"]}\n\
             {APIGroups:[\"apps\"], Resources:[\"deployments\"], Verbs:[\"get\"]}"
        );
    }

    #[test]
    fn message_resolution_errors_suffix() {
        let missing = vec![res(&["get"], &[""], &["pods"])];
        let one = escalation_message("u", &[], &missing, &s(&["clusterrole \"x\" not found"]));
        assert!(one.ends_with("Verbs:[\"get\"]}; resolution errors: [clusterrole \"x\" not found]"), "{one}");
        let two = escalation_message("u", &[], &missing, &s(&["e1", "e2", "e1"]));
        assert!(two.ends_with("; resolution errors: [[e1, e2]]"), "{two}");
        let same = escalation_message("u", &[], &missing, &s(&["e1", "e1"]));
        assert!(same.ends_with("; resolution errors: [e1]"), "{same}");
    }

    #[test]
    fn escalation_and_bind_checks() {
        assert!(escalation_allowed(&s(&["a", "system:masters"])));
        assert!(!escalation_allowed(&s(&["system:authenticated"])));
        let a = escalate_attributes("u", &[], "rbac.authorization.k8s.io", "roles", "ns", "r").unwrap();
        assert_eq!((a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()), ("escalate", "roles", "ns"));
        assert!(escalate_attributes("u", &[], "", "pods", "ns", "p").is_none());
        let rr =
            RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "ClusterRole".into(), name: "admin".into() };
        let b = bind_attributes("u", &[], &rr, "ns").unwrap();
        assert_eq!(
            (b.verb.as_str(), b.resource.as_str(), b.name.as_str(), b.namespace.as_str()),
            ("bind", "clusterroles", "admin", "ns")
        );
    }
}
