//! Reconciliation of stored RBAC objects against the bootstrap policy, as upstream's
//! k8s.io/component-helpers auth/rbac/reconciliation does for the apiserver's
//! `rbac/bootstrap-roles` post-start hook. The hook reconciles in "union" mode: missing rules,
//! aggregation selectors and subjects are added, nothing is taken away. A stored object
//! annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone.
//!
//! Objects are JSON (`serde_json::Value`) as stored; the updated object starts from the stored
//! one, so its resourceVersion and other metadata carry over into the write.

use serde_json::{Map, Value};

use crate::bootstrap::{AUTOUPDATE_ANNOTATION, RBAC_GROUP};
use crate::escalation::covers;
use crate::{PolicyRule, RoleRef, Subject};

/// What must be written to bring a stored object in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    None,
    Update,
    /// The roleRef differs and is immutable: delete the stored binding, create the expected one.
    Recreate,
}

/// Outcome of comparing a stored (Cluster)Role with the expected one.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleReconciliation {
    /// The object to write when `operation` is Update.
    pub role: Value,
    pub operation: Operation,
    /// The stored object opted out via the autoupdate annotation; nothing should be written.
    pub protected: bool,
    /// Expected rules the stored role lacked, as broken-down pieces (what upstream logs).
    pub missing_rules: Vec<PolicyRule>,
    /// Stored permissions beyond the expected ones (not computed when both are aggregated).
    pub extra_rules: Vec<PolicyRule>,
    pub missing_selectors: Vec<Value>,
    pub extra_selectors: Vec<Value>,
}

/// `computeReconciledRole`. `remove_extra` replaces rules and selectors with the expected ones
/// instead of adding to them; the bootstrap hook never sets it.
pub fn compute_role(existing: &Value, expected: &Value, remove_extra: bool) -> RoleReconciliation {
    let mut role = existing.clone();
    let mut operation = merge_metadata(&mut role, existing, expected);

    let existing_rules = rules_of(existing);
    let expected_rules = rules_of(expected);
    let existing_agg = aggregation_selectors(existing);
    let expected_agg = aggregation_selectors(expected);

    // When both are aggregated, the stored rules are the aggregation controller's output, not extras.
    let extra_rules = if expected_agg.is_none() || existing_agg.is_none() {
        covers(&expected_rules, &existing_rules).1
    } else {
        Vec::new()
    };
    let missing_rules = covers(&existing_rules, &expected_rules).1;
    if !remove_extra && !missing_rules.is_empty() {
        let list = rules_array(&mut role);
        list.extend(missing_rules.iter().map(|r| serde_json::to_value(r).expect("rule serializes")));
        operation = Operation::Update;
    } else if remove_extra && (!missing_rules.is_empty() || !extra_rules.is_empty()) {
        role["rules"] = expected.get("rules").cloned().unwrap_or_else(|| Value::Array(vec![]));
        operation = Operation::Update;
    }

    let extra_selectors = uncovered_selectors(expected_agg.as_deref(), existing_agg.as_deref());
    let missing_selectors = uncovered_selectors(existing_agg.as_deref(), expected_agg.as_deref());
    if expected_agg.is_none() && existing_agg.is_some() {
        // not meant to be aggregated at all
        if let Some(obj) = role.as_object_mut() {
            obj.remove("aggregationRule");
        }
        operation = Operation::Update;
    } else if !remove_extra && !missing_selectors.is_empty() {
        let mut selectors = existing_agg.unwrap_or_default();
        selectors.extend(missing_selectors.iter().cloned());
        role["aggregationRule"] = serde_json::json!({"clusterRoleSelectors": selectors});
        operation = Operation::Update;
    } else if remove_extra && (!missing_selectors.is_empty() || !extra_selectors.is_empty()) {
        role["aggregationRule"] = expected["aggregationRule"].clone();
        operation = Operation::Update;
    }

    RoleReconciliation {
        role,
        operation,
        protected: is_protected(existing),
        missing_rules,
        extra_rules,
        missing_selectors,
        extra_selectors,
    }
}

/// What the bootstrap hook writes for a stored role or clusterrole: `Some(object)` to update
/// with, `None` when it is up to date or protected.
pub fn reconcile_role(existing: &Value, expected: &Value) -> Option<Value> {
    let r = compute_role(existing, expected, false);
    (r.operation == Operation::Update && !r.protected).then_some(r.role)
}

/// Outcome of comparing a stored (Cluster)RoleBinding with the expected one.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingReconciliation {
    /// The object to write: the updated binding, or for Recreate the expected one.
    pub binding: Value,
    pub operation: Operation,
    pub protected: bool,
    pub missing_subjects: Vec<Subject>,
    pub extra_subjects: Vec<Subject>,
}

/// `computeReconciledRoleBinding`. `remove_extra_subjects` replaces the subjects rather than
/// adding to them; the bootstrap hook never sets it.
pub fn compute_binding(existing: &Value, expected: &Value, remove_extra_subjects: bool) -> BindingReconciliation {
    let protected = is_protected(existing);
    if role_ref_of(existing) != role_ref_of(expected) {
        return BindingReconciliation {
            binding: expected.clone(),
            operation: Operation::Recreate,
            protected,
            missing_subjects: Vec::new(),
            extra_subjects: Vec::new(),
        };
    }
    let mut binding = existing.clone();
    let mut operation = merge_metadata(&mut binding, existing, expected);

    let expected_subjects = subjects_of(expected);
    let existing_subjects = subjects_of(existing);
    let missing_subjects = only_in(&expected_subjects, &existing_subjects);
    let extra_subjects = only_in(&existing_subjects, &expected_subjects);
    if !remove_extra_subjects && !missing_subjects.is_empty() {
        let mut list = existing.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
        list.extend(missing_subjects.iter().map(|s| serde_json::to_value(s).expect("subject serializes")));
        binding["subjects"] = Value::Array(list);
        operation = Operation::Update;
    } else if remove_extra_subjects && (!missing_subjects.is_empty() || !extra_subjects.is_empty()) {
        binding["subjects"] = expected.get("subjects").cloned().unwrap_or_else(|| Value::Array(vec![]));
        operation = Operation::Update;
    }
    BindingReconciliation { binding, operation, protected, missing_subjects, extra_subjects }
}

/// What the bootstrap hook does with a stored binding.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingReconcile {
    Unchanged,
    Update(Value),
    /// Delete the stored binding (its roleRef cannot change) and create this one.
    Recreate(Value),
}

pub fn reconcile_binding(existing: &Value, expected: &Value) -> BindingReconcile {
    let r = compute_binding(existing, expected, false);
    match (r.protected, r.operation) {
        (true, _) | (_, Operation::None) => BindingReconcile::Unchanged,
        (false, Operation::Update) => BindingReconcile::Update(r.binding),
        (false, Operation::Recreate) => BindingReconcile::Recreate(r.binding),
    }
}

fn is_protected(obj: &Value) -> bool {
    obj["metadata"]["annotations"][AUTOUPDATE_ANNOTATION].as_str() == Some("false")
}

/// Labels and annotations: expected ones added, stored values winning on conflicts.
fn merge_metadata(target: &mut Value, existing: &Value, expected: &Value) -> Operation {
    let mut op = Operation::None;
    for field in ["annotations", "labels"] {
        let stored = string_map(&existing["metadata"][field]);
        let mut merged = string_map(&expected["metadata"][field]);
        merged.extend(stored.clone());
        if merged != stored {
            if !target["metadata"].is_object() {
                target["metadata"] = Value::Object(Map::new());
            }
            target["metadata"][field] = Value::Object(merged);
            op = Operation::Update;
        }
    }
    op
}

fn string_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj.get("rules").and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default()
}

fn rules_array(obj: &mut Value) -> &mut Vec<Value> {
    if !obj["rules"].is_array() {
        obj["rules"] = Value::Array(vec![]);
    }
    obj["rules"].as_array_mut().expect("just made an array")
}

fn aggregation_selectors(obj: &Value) -> Option<Vec<Value>> {
    let rule = obj.get("aggregationRule").filter(|v| !v.is_null())?;
    Some(rule.get("clusterRoleSelectors").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// `aggregationRuleCovers`: the servant selectors no owner selector equals.
fn uncovered_selectors(owner: Option<&[Value]>, servant: Option<&[Value]>) -> Vec<Value> {
    match (owner, servant) {
        (_, None) => Vec::new(),
        (None, Some(s)) => s.to_vec(),
        (Some(o), Some(s)) => s.iter().filter(|sel| !o.iter().any(|own| selectors_equal(own, sel))).cloned().collect(),
    }
}

/// Semantic equality of label selectors: an absent list or map equals an empty one.
fn selectors_equal(a: &Value, b: &Value) -> bool {
    fn norm(v: &Value) -> Value {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.retain(|_, x| match x {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
        Value::Object(m)
    }
    norm(a) == norm(b)
}

fn role_ref_of(obj: &Value) -> RoleRef {
    serde_json::from_value(obj["roleRef"].clone()).unwrap_or_default()
}

fn subjects_of(obj: &Value) -> Vec<Subject> {
    obj.get("subjects").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default()
}

/// Subjects compare after the apiserver's defaulting (User and Group carry the RBAC API group),
/// so an undefaulted stored subject still matches the bootstrap one.
fn defaulted(s: &Subject) -> Subject {
    let mut s = s.clone();
    if s.api_group.is_empty() && (s.kind == "User" || s.kind == "Group") {
        s.api_group = RBAC_GROUP.into();
    }
    s
}

/// `diffSubjectLists` one way: subjects of `a` not in `b`, deduplicated, in order.
fn only_in(a: &[Subject], b: &[Subject]) -> Vec<Subject> {
    let b: Vec<Subject> = b.iter().map(defaulted).collect();
    let mut out: Vec<Subject> = Vec::new();
    for s in a {
        let d = defaulted(s);
        if !b.contains(&d) && !out.iter().any(|o| defaulted(o) == d) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap;
    use serde_json::json;

    fn find(list: &[Value], name: &str) -> Value {
        list.iter().find(|v| v["metadata"]["name"] == name).cloned().unwrap()
    }

    fn stored(mut v: Value) -> Value {
        v["metadata"]["resourceVersion"] = json!("42");
        v["metadata"]["uid"] = json!("u-1");
        v
    }

    #[test]
    fn up_to_date_role_is_left_alone() {
        for role in bootstrap::cluster_roles().iter().chain(&bootstrap::namespace_roles()) {
            assert_eq!(reconcile_role(&stored(role.clone()), role), None, "{}", role["metadata"]["name"]);
        }
    }

    #[test]
    fn missing_rules_are_appended_as_pieces() {
        let expected = find(&bootstrap::cluster_roles(), "system:basic-user");
        let mut existing = stored(expected.clone());
        // stored role has only selfsubjectaccessreviews plus a custom extra rule
        existing["rules"] = json!([
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
        ]);
        let r = compute_role(&existing, &expected, false);
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(r.missing_rules.len(), 2);
        let updated = reconcile_role(&existing, &expected).unwrap();
        let rules = updated["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[1]["resources"], json!(["pods"]), "extra rule kept in place");
        assert_eq!(
            rules[2],
            json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectrulesreviews"]})
        );
        assert_eq!(
            rules[3],
            json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]})
        );
        assert_eq!(updated["metadata"]["resourceVersion"], "42");
        // once written, it is up to date
        assert_eq!(reconcile_role(&updated, &expected), None);
        // the non-union mode stomps to the expected rules
        let stomped = compute_role(&existing, &expected, true);
        assert_eq!(stomped.extra_rules.len(), 1);
        assert_eq!(stomped.role["rules"], expected["rules"]);
    }

    #[test]
    fn autoupdate_false_protects() {
        let expected = find(&bootstrap::cluster_roles(), "system:discovery");
        let mut existing = stored(expected.clone());
        existing["rules"] = json!([]);
        existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = json!("false");
        let r = compute_role(&existing, &expected, false);
        assert!(r.protected);
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(reconcile_role(&existing, &expected), None);
    }

    #[test]
    fn labels_and_annotations_merge_stored_wins() {
        let expected = find(&bootstrap::cluster_roles(), "system:kube-dns");
        let mut existing = stored(expected.clone());
        existing["metadata"]["labels"] = json!({"team": "x"});
        existing["metadata"]["annotations"] = json!({AUTOUPDATE_ANNOTATION: "TRUE"});
        let updated = reconcile_role(&existing, &expected).unwrap();
        assert_eq!(updated["metadata"]["labels"], json!({"team": "x", "kubernetes.io/bootstrapping": "rbac-defaults"}));
        assert_eq!(updated["metadata"]["annotations"][AUTOUPDATE_ANNOTATION], "TRUE");
    }

    #[test]
    fn aggregated_roles_keep_aggregated_rules_and_gain_selectors() {
        let expected = find(&bootstrap::cluster_roles(), "admin");
        let mut existing = stored(expected.clone());
        // filled in by the aggregation controller; not "extra"
        existing["rules"] = json!([{"verbs": ["*"], "apiGroups": ["example.com"], "resources": ["widgets"]}]);
        existing["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {"custom": "true"}}]});
        let r = compute_role(&existing, &expected, false);
        assert!(r.extra_rules.is_empty());
        let updated = r.role;
        assert_eq!(r.operation, Operation::Update);
        assert_eq!(
            updated["aggregationRule"]["clusterRoleSelectors"],
            json!([{"matchLabels": {"custom": "true"}}, {"matchLabels": {AGG_ADMIN: "true"}}])
        );
        assert_eq!(updated["rules"], existing["rules"]);
        // an equal selector with an explicit empty matchExpressions still counts as present
        let mut same = stored(expected.clone());
        same["aggregationRule"]["clusterRoleSelectors"][0]["matchExpressions"] = json!([]);
        assert_eq!(reconcile_role(&same, &expected), None);
    }

    const AGG_ADMIN: &str = bootstrap::AGGREGATE_TO_ADMIN;

    #[test]
    fn unexpected_aggregation_is_removed() {
        let expected = find(&bootstrap::cluster_roles(), "system:kube-dns");
        let mut existing = stored(expected.clone());
        existing["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]});
        let updated = reconcile_role(&existing, &expected).unwrap();
        assert!(updated.get("aggregationRule").is_none());
    }

    #[test]
    fn bindings_gain_missing_subjects_and_keep_extra() {
        let expected = find(&bootstrap::cluster_role_bindings(), "system:public-info-viewer");
        assert_eq!(reconcile_binding(&stored(expected.clone()), &expected), BindingReconcile::Unchanged);
        let mut existing = stored(expected.clone());
        existing["subjects"] = json!([
            {"kind": "Group", "name": "system:authenticated"},
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "extra"}
        ]);
        let r = compute_binding(&existing, &expected, false);
        assert_eq!(r.missing_subjects.len(), 1);
        assert_eq!(r.missing_subjects[0].name, "system:unauthenticated");
        assert_eq!(r.extra_subjects.len(), 1);
        let BindingReconcile::Update(updated) = reconcile_binding(&existing, &expected) else { panic!() };
        let subjects = updated["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 3);
        assert_eq!(subjects[1]["name"], "extra");
        assert_eq!(
            subjects[2],
            json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:unauthenticated"})
        );
        assert_eq!(compute_binding(&existing, &expected, true).binding["subjects"], expected["subjects"]);
    }

    #[test]
    fn role_ref_change_recreates_unless_protected() {
        let expected = find(&bootstrap::cluster_role_bindings(), "system:basic-user");
        let mut existing = stored(expected.clone());
        existing["roleRef"]["name"] = json!("view");
        assert_eq!(reconcile_binding(&existing, &expected), BindingReconcile::Recreate(expected.clone()));
        existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = json!("false");
        assert_eq!(reconcile_binding(&existing, &expected), BindingReconcile::Unchanged);
    }

    #[test]
    fn empty_system_node_binding_needs_nothing() {
        let expected = find(&bootstrap::cluster_role_bindings(), "system:node");
        let mut existing = stored(expected.clone());
        existing["subjects"] =
            json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:nodes"}]);
        // union mode never strips the legacy subject
        assert_eq!(reconcile_binding(&existing, &expected), BindingReconcile::Unchanged);
    }
}
