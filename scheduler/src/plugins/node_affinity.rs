//! NodeAffinity: `nodeSelector` and required node affinity filter nodes; preferred terms add
//! their weights to a node's score.

use crate::framework::{
    default_normalize, Code, CycleState, Filter, NodeInfo, Plugin, PreFilter, PreScore, Score, Status,
};
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct NodeAffinity;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

fn labels(node: &Node) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    node.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// One requirement against a label set (or the node's fields, for `matchFields`).
fn requirement_matches(r: &NodeSelectorRequirement, get: &dyn Fn(&str) -> Option<String>) -> bool {
    let vals = r.values.as_deref().unwrap_or(&[]);
    let v = get(&r.key);
    match r.operator.as_str() {
        "In" => v.is_some_and(|v| vals.contains(&v)),
        "NotIn" => !v.is_some_and(|v| vals.contains(&v)),
        "Exists" => v.is_some(),
        "DoesNotExist" => v.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), [want]) = (v, vals) else { return false };
            let (Ok(have), Ok(want)) = (v.parse::<i64>(), want.parse::<i64>()) else { return false };
            if r.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    // An empty term matches no objects.
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let l = labels(node);
    let by_label = |k: &str| l.get(k).cloned();
    let by_field = |k: &str| (k == "metadata.name").then(|| node.metadata.name.clone().unwrap_or_default());
    exprs.iter().all(|r| requirement_matches(r, &by_label))
        && fields.iter().all(|r| r.key == "metadata.name" && requirement_matches(r, &by_field))
}

/// The terms are ORed; an empty list matches nothing.
pub fn node_matches_selector_terms(terms: &[NodeSelectorTerm], node: &Node) -> bool {
    terms.iter().any(|t| term_matches(t, node))
}

/// `nodeSelector` and the required node affinity of a pod, as upstream's `RequiredNodeAffinity`.
pub fn pod_matches_node(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    let l = labels(node);
    if let Some(sel) = spec.node_selector.as_ref() {
        if !sel.iter().all(|(k, v)| l.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref());
    match required {
        Some(r) => node_matches_selector_terms(&r.node_selector_terms, node),
        None => true,
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>]) -> Status {
        let spec = pod.spec.as_ref();
        let has_selector = spec.and_then(|s| s.node_selector.as_ref()).is_some_and(|m| !m.is_empty());
        let has_required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .is_some();
        if has_selector || has_required {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        match node.node.as_ref() {
            Some(n) if pod_matches_node(pod, n) => Status::success(),
            _ => Status::new(Code::UnschedulableAndUnresolvable, REASON),
        }
    }
}

impl PreScore for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>], _: &[Arc<NodeInfo>]) -> Status {
        let preferred = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_ref())
            .is_some_and(|p| !p.is_empty());
        if preferred {
            Status::success()
        } else {
            Status::skip()
        }
    }
}

impl Score for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(n) = node.node.as_ref() else { return 0 };
        pod.spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| na.preferred_during_scheduling_ignored_during_execution.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.weight != 0 && term_matches(&t.preference, n))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, _: &CycleState, _: &Pod, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_and_required_terms_match_as_upstream() {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"zone": "a", "gen": "5"}}})).unwrap();
        let pod = |spec: serde_json::Value| -> Pod { serde_json::from_value(json!({"spec": spec})).unwrap() };
        assert!(pod_matches_node(&pod(json!({"containers": [], "nodeSelector": {"zone": "a"}})), &node));
        assert!(!pod_matches_node(&pod(json!({"containers": [], "nodeSelector": {"zone": "b"}})), &node));
        let req = |terms: serde_json::Value| {
            pod(
                json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}),
            )
        };
        assert!(pod_matches_node(
            &req(json!([{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}])),
            &node
        ));
        assert!(!pod_matches_node(
            &req(json!([{"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["4"]}]}])),
            &node
        ));
        assert!(pod_matches_node(
            &req(json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]},
            {"matchExpressions": [{"key": "x", "operator": "Exists"}]}])),
            &node
        ));
        assert!(pod_matches_node(
            &req(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])),
            &node
        ));
        assert!(!pod_matches_node(&req(json!([{}])), &node));
        assert!(!pod_matches_node(&req(json!([])), &node));
    }
}
