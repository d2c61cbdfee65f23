//! Placement rules several components apply the same way (upstream's
//! `component-helpers/scheduling/corev1`): whether a toleration tolerates a taint, and whether a
//! node matches a pod's node selector and required node affinity. The scheduler filters with
//! them; the DaemonSet, taint-eviction and volume binder controllers decide with them.

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration};
use std::collections::BTreeMap;

/// `Toleration.ToleratesTaint`: an empty effect or key matches any; `Exists` any value;
/// `Equal` (or no operator) an equal value.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if t.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// One `NodeSelectorRequirement` against a node's labels (`None` for a malformed requirement).
fn label_requirement(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> Option<bool> {
    let values = r.values.as_deref().unwrap_or(&[]);
    let have = labels.get(&r.key);
    Some(match r.operator.as_str() {
        "In" if !values.is_empty() => have.is_some_and(|h| values.contains(h)),
        "NotIn" if !values.is_empty() => have.is_none_or(|h| !values.contains(h)),
        "Exists" if values.is_empty() => have.is_some(),
        "DoesNotExist" if values.is_empty() => have.is_none(),
        "Gt" | "Lt" if values.len() == 1 => {
            let want: i64 = values[0].parse().ok()?;
            match have.and_then(|h| h.parse::<i64>().ok()) {
                None => false,
                Some(h) if r.operator == "Gt" => h > want,
                Some(h) => h < want,
            }
        }
        _ => return None,
    })
}

/// A node selector term: every expression and field requirement holds. Empty or malformed
/// terms select nothing, as upstream's `LazyErrorNodeSelector` drops them. `matchFields` knows
/// only `metadata.name`, with `In`/`NotIn` and one value.
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&EMPTY);
    let name = node.metadata.name.as_deref().unwrap_or("");
    exprs.iter().all(|e| label_requirement(e, labels) == Some(true))
        && fields.iter().all(|f| {
            let values = f.values.as_deref().unwrap_or(&[]);
            match (f.key.as_str(), f.operator.as_str(), values) {
                ("metadata.name", "In", [v]) => v == name,
                ("metadata.name", "NotIn", [v]) => v != name,
                _ => false,
            }
        })
}

/// The terms are ORed; an empty list matches nothing.
pub fn terms_match(terms: &[NodeSelectorTerm], node: &Node) -> bool {
    terms.iter().any(|t| term_matches(t, node))
}

/// `GetRequiredNodeAffinity(pod).Match(node)`: the nodeSelector and the required node affinity.
pub fn required_affinity_matches(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    for (k, v) in spec.node_selector.iter().flatten() {
        if labels.and_then(|l| l.get(k)) != Some(v) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        None => true,
        Some(sel) => terms_match(&sel.node_selector_terms, node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let s = |x: &str| (!x.is_empty()).then(|| x.to_string());
        Toleration { key: s(key), operator: s(op), value: s(value), effect: s(effect), toleration_seconds: None }
    }

    #[test]
    fn toleration_matching_follows_upstream() {
        let taint = Taint { key: "k".into(), value: Some("v".into()), effect: "NoSchedule".into(), time_added: None };
        assert!(tolerates(&tol("k", "Equal", "v", "NoSchedule"), &taint));
        assert!(tolerates(&tol("k", "", "v", ""), &taint));
        assert!(tolerates(&tol("k", "Exists", "", ""), &taint));
        assert!(tolerates(&tol("", "Exists", "", ""), &taint));
        assert!(!tolerates(&tol("k", "Equal", "w", ""), &taint));
        assert!(!tolerates(&tol("k", "Exists", "", "NoExecute"), &taint));
        assert!(!tolerates(&tol("k", "Gt", "v", ""), &taint));
    }

    #[test]
    fn selectors_and_required_terms_match_as_upstream() {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"zone": "a", "gen": "5"}}})).unwrap();
        let spec = |v: serde_json::Value| -> PodSpec { serde_json::from_value(v).unwrap() };
        assert!(required_affinity_matches(&spec(json!({"containers": [], "nodeSelector": {"zone": "a"}})), &node));
        assert!(!required_affinity_matches(&spec(json!({"containers": [], "nodeSelector": {"zone": "b"}})), &node));
        let req = |terms: serde_json::Value| {
            spec(
                json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}),
            )
        };
        let gt = req(json!([{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]));
        assert!(required_affinity_matches(&gt, &node));
        let lt = req(json!([{"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["4"]}]}]));
        assert!(!required_affinity_matches(&lt, &node));
        let either = req(json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]},
            {"matchExpressions": [{"key": "x", "operator": "Exists"}]}]));
        assert!(required_affinity_matches(&either, &node));
        let by_name = req(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]));
        assert!(required_affinity_matches(&by_name, &node));
        // Malformed: In without values, two names in a field requirement; empty terms.
        let bad = req(json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": []}]}]));
        assert!(!required_affinity_matches(&bad, &node));
        let two = req(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1", "n2"]}]}]));
        assert!(!required_affinity_matches(&two, &node));
        assert!(!required_affinity_matches(&req(json!([{}])), &node));
        assert!(!required_affinity_matches(&req(json!([])), &node));
    }
}
