//! rbac.authorization.k8s.io: Roles and bindings (`pkg/apis/rbac/validation`).

use super::*;

pub(crate) const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

pub(crate) fn validate_policy_rule(rule: &Value, namespaced: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    if arr(rule, "verbs").is_empty() {
        errs.push(req(&p.child("verbs"), "verbs must contain at least one value"));
    }
    let nru = slist(rule, "nonResourceURLs");
    if !nru.is_empty() {
        if namespaced {
            errs.push(inv_raw(
                &p.child("nonResourceURLs"),
                go_strs(&nru),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !arr(rule, "apiGroups").is_empty()
            || !arr(rule, "resources").is_empty()
            || !arr(rule, "resourceNames").is_empty()
        {
            errs.push(inv_raw(
                &p.child("nonResourceURLs"),
                go_strs(&nru),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if arr(rule, "apiGroups").is_empty() {
        errs.push(req(&p.child("apiGroups"), "resource rules must supply at least one api group"));
    }
    let resources = arr(rule, "resources");
    if resources.is_empty() {
        errs.push(req(&p.child("resources"), "resource rules must supply at least one resource"));
    }
    if !arr(rule, "resourceNames").is_empty() && resources.len() > 1 {
        errs.push(req(&p.child("resourceNames"), "resource names cannot apply to multiple resources"));
    }
    errs
}

pub(crate) fn validate_role(role: &Value, namespaced: bool) -> Errs {
    let mut errs = Vec::new();
    for (i, r) in arr(role, "rules").iter().enumerate() {
        errs.extend(validate_policy_rule(r, namespaced, &P::new("rules").index(i)));
    }
    if !namespaced && has(role, "aggregationRule") {
        let sels = arr(g(role, "aggregationRule"), "clusterRoleSelectors");
        let sp = path("aggregationRule.clusterRoleSelectors");
        if sels.is_empty() {
            errs.push(req(&sp, "at least one clusterRoleSelector required if aggregationRule is non-nil"));
        }
        for (i, s) in sels.iter().enumerate() {
            errs.extend(validate_label_selector(s, &sp.index(i), false));
            if selector_of(s).is_err() {
                errs.push(inv_raw(&sp.index(i), go_selector(s), "invalid label selector."));
            }
        }
    }
    errs
}

pub(crate) fn validate_role_binding(rb: &Value, namespaced: bool) -> Errs {
    let mut errs = Vec::new();
    let rr = g(rb, "roleRef");
    let group = st(rr, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(unsup(&path("roleRef.apiGroup"), group, &[RBAC_GROUP]));
    }
    let kind = st(rr, "kind");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errs.push(unsup(&path("roleRef.kind"), kind, kinds));
    }
    let name = st(rr, "name");
    if name.is_empty() {
        errs.push(req(&path("roleRef.name"), ""));
    } else {
        for m in is_path_segment_name(name) {
            errs.push(inv(&path("roleRef.name"), name, m));
        }
    }
    for (i, s) in arr(rb, "subjects").iter().enumerate() {
        let sp = P::new("subjects").index(i);
        let name = st(s, "name");
        let group = st(s, "apiGroup");
        if name.is_empty() {
            errs.push(req(&sp.child("name"), ""));
        }
        match st(s, "kind") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    for m in is_dns1123_subdomain(name) {
                        errs.push(inv(&sp.child("name"), name, m));
                    }
                }
                if !group.is_empty() {
                    errs.push(unsup(&sp.child("apiGroup"), group, &[""]));
                }
                if !namespaced && st(s, "namespace").is_empty() {
                    errs.push(req(&sp.child("namespace"), ""));
                }
            }
            k @ ("User" | "Group") => {
                if name.is_empty() {
                    let what = if k == "User" { "user" } else { "group" };
                    errs.push(inv(&sp.child("name"), name, format!("{what} name cannot be empty")));
                }
                if group != RBAC_GROUP {
                    errs.push(unsup(&sp.child("apiGroup"), group, &[RBAC_GROUP]));
                }
            }
            other => errs.push(unsup(&sp.child("kind"), other, &["ServiceAccount", "User", "Group"])),
        }
    }
    errs
}

pub(crate) fn validate_role_binding_update(new: &Value, old: &Value) -> Errs {
    let (n, o) = (g(new, "roleRef"), g(old, "roleRef"));
    let key = |r: &Value| (st(r, "apiGroup").to_string(), st(r, "kind").to_string(), st(r, "name").to_string());
    if key(n) != key(o) {
        let (a, k, nm) = key(n);
        vec![inv_raw(
            &P::new("roleRef"),
            format!("rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}", go_quote(&a), go_quote(&k), go_quote(&nm)),
            "cannot change roleRef",
        )]
    } else {
        vec![]
    }
}
