//! PodTopologySpread: `topologySpreadConstraints` keep the number of matching pods per topology
//! domain (zone, node, ...) within `maxSkew` — as a filter for `DoNotSchedule`, as a score for
//! `ScheduleAnyway`. A pod without constraints of its own is spread by the system defaults
//! (3 per node, 5 per zone, soft) over the pods of its Services and owning controller.

use crate::framework::{
    Code, CycleState, Filter, Listers, NodeInfo, Plugin, PodInfo, PreFilter, PreScore, Score, Snapshot, Status,
    MAX_NODE_SCORE,
};
use crate::plugins::tolerates;
use api_types::selector::{selector_is_empty, selector_matches};
use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub const NAME: &str = "PodTopologySpread";
const HOSTNAME: &str = "kubernetes.io/hostname";
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
const PRE_FILTER: &str = "PreFilterPodTopologySpread";
const PRE_SCORE: &str = "PreScorePodTopologySpread";
/// What `score` answers for a node missing a topology key: normalized to 0.
const IGNORED: i64 = -1;

/// One constraint as the plugin evaluates it.
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    key: String,
    /// None selects nothing; an empty selector selects every pod but counts none (as upstream).
    selector: Option<LabelSelector>,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    /// The node inclusion policies: by default a node counts only if it matches the pod's
    /// required node affinity; its taints are ignored unless `nodeTaintsPolicy: Honor`.
    fn includes(&self, pod: &Pod, node: &Node) -> bool {
        if self.honor_affinity && !super::node_affinity::pod_matches_node(pod, node) {
            return false;
        }
        if self.honor_taints {
            let tols = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
            let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
            let untolerated = taints
                .iter()
                .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                .any(|taint| !tols.iter().any(|t| tolerates(t, taint)));
            if untolerated {
                return false;
            }
        }
        true
    }

    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        selector_matches(self.selector.as_ref(), labels).unwrap_or(false)
    }

    /// upstream's `countPodsMatchSelector`: pods of the namespace, not being deleted.
    fn count(&self, node: &NodeInfo, ns: &str) -> i64 {
        if selector_is_empty(self.selector.as_ref()) {
            return 0;
        }
        let n = node
            .pods
            .iter()
            .filter(|p| {
                p.pod.metadata.deletion_timestamp.is_none()
                    && p.pod.metadata.namespace.as_deref() == Some(ns)
                    && self.matches(p.pod.metadata.labels.as_ref())
            })
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// Whether the node has every constraint's topology key.
fn has_all_keys(node: &Node, cs: &[Constraint]) -> bool {
    let labels = node.metadata.labels.as_ref();
    cs.iter().all(|c| labels.is_some_and(|l| l.contains_key(&c.key)))
}

fn constraint_from(c: &TopologySpreadConstraint, pod_labels: Option<&BTreeMap<String, String>>) -> Constraint {
    let mut selector = c.label_selector.clone();
    // matchLabelKeys: the pod's own values for those keys narrow the selector.
    if let Some(sel) = selector.as_mut() {
        for k in c.match_label_keys.iter().flatten() {
            if let Some(v) = pod_labels.and_then(|l| l.get(k)) {
                sel.match_labels.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
            }
        }
    }
    Constraint {
        max_skew: i64::from(c.max_skew),
        key: c.topology_key.clone(),
        selector,
        min_domains: i64::from(c.min_domains.unwrap_or(1)),
        honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
        honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
    }
}

pub struct PodTopologySpread {
    /// The constraints for pods without their own (empty with `defaultingType: List` and none).
    defaults: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
    listers: Arc<dyn Listers>,
    /// Matching-pod counts per (namespace and selector, node), with the node's generation
    /// they were counted at: a cycle recounts only the nodes that changed since.
    counted: std::sync::Mutex<HashMap<String, NodeCounts>>,
}

/// Per node: (the node's generation, matching pods).
type NodeCounts = HashMap<String, (u64, i64)>;

/// How many selectors' counts are kept before the cache starts over.
const COUNTED_SELECTORS: usize = 64;

impl PodTopologySpread {
    pub fn from_args(args: &Value, listers: Arc<dyn Listers>) -> PodTopologySpread {
        let list = args.get("defaultingType").and_then(Value::as_str) == Some("List");
        let defaults = if list {
            args.get("defaultConstraints")
                .and_then(|v| serde_json::from_value::<Vec<TopologySpreadConstraint>>(v.clone()).ok())
                .unwrap_or_default()
        } else {
            let c = |key: &str, skew| TopologySpreadConstraint {
                topology_key: key.into(),
                max_skew: skew,
                when_unsatisfiable: "ScheduleAnyway".into(),
                ..Default::default()
            };
            vec![c(HOSTNAME, 3), c("topology.kubernetes.io/zone", 5)]
        };
        PodTopologySpread { defaults, system_defaulted: !list, listers, counted: Default::default() }
    }

    /// The pod's constraints with `whenUnsatisfiable == action`, or the defaults with the
    /// selector of its Services and controller.
    fn constraints(&self, pod: &Pod, action: &str) -> Vec<Constraint> {
        let labels = pod.metadata.labels.as_ref();
        let own = pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_deref()).unwrap_or(&[]);
        if !own.is_empty() {
            return own.iter().filter(|c| c.when_unsatisfiable == action).map(|c| constraint_from(c, labels)).collect();
        }
        let mut cs: Vec<Constraint> = self
            .defaults
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| constraint_from(c, labels))
            .collect();
        if cs.is_empty() {
            return cs;
        }
        let sel = self.default_selector(pod);
        if selector_is_empty(Some(&sel)) {
            return Vec::new();
        }
        for c in &mut cs {
            c.selector = Some(sel.clone());
        }
        cs
    }

    /// upstream's `helper.DefaultSelector`: the selectors of the Services selecting the pod,
    /// merged with its ReplicationController's, ReplicaSet's or StatefulSet's.
    fn default_selector(&self, pod: &Pod) -> LabelSelector {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let empty = BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let mut set: BTreeMap<String, String> = BTreeMap::new();
        for svc in self.listers.services(ns) {
            let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else { continue };
            if sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut exprs: Vec<LabelSelectorRequirement> = Vec::new();
        let owner = pod.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true));
        if let Some(o) = owner {
            let owner_sel = match (o.api_version.as_str(), o.kind.as_str()) {
                ("v1", "ReplicationController") => {
                    if let Some(rc) = self.listers.replication_controller(ns, &o.name) {
                        set.extend(rc.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default());
                    }
                    None
                }
                ("apps/v1", "ReplicaSet") => {
                    self.listers.replica_set(ns, &o.name).and_then(|r| r.spec.clone()).map(|s| s.selector)
                }
                ("apps/v1", "StatefulSet") => {
                    self.listers.stateful_set(ns, &o.name).and_then(|s| s.spec.clone()).map(|s| s.selector)
                }
                _ => None,
            };
            if let Some(sel) = owner_sel {
                // The owner's requirements are added beside the Services' labels.
                for (k, v) in sel.match_labels.unwrap_or_default() {
                    exprs.push(LabelSelectorRequirement { key: k, operator: "In".into(), values: Some(vec![v]) });
                }
                exprs.extend(sel.match_expressions.unwrap_or_default());
            }
        }
        LabelSelector {
            match_labels: (!set.is_empty()).then_some(set),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        }
    }
}

type Pair = (String, String);

#[derive(Clone)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    counts: HashMap<Pair, i64>,
    /// Per topology key: how many domains, and the smallest count among them.
    domains: HashMap<String, (i64, i64)>,
}

impl PreFilterState {
    fn count_domains(&mut self) {
        self.domains.clear();
        for c in &self.constraints {
            self.domains.entry(c.key.clone()).or_insert((0, i64::from(i32::MAX)));
        }
        for ((key, _), n) in &self.counts {
            let d = self.domains.entry(key.clone()).or_insert((0, i64::from(i32::MAX)));
            d.0 += 1;
            d.1 = d.1.min(*n);
        }
    }
}

struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    /// Per constraint: matching pods per topology value of the feasible nodes.
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &Snapshot) -> Status {
        let constraints = self.constraints(pod, "DoNotSchedule");
        if constraints.is_empty() {
            return Status::skip();
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let mut counts: HashMap<Pair, i64> = HashMap::new();
        let mut per_node: Vec<(Pair, i64)> = Vec::with_capacity(constraints.len());
        let keys: Vec<String> = constraints
            .iter()
            .map(|c| format!("{ns}\0{}", serde_json::to_string(&c.selector).unwrap_or_default()))
            .collect();
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if counted.len() + keys.len() > COUNTED_SELECTORS {
            counted.clear();
        }
        // Taken out for the cycle, put back after it.
        let mut cached: Vec<NodeCounts> = keys.iter().map(|k| counted.remove(k).unwrap_or_default()).collect();
        for info in nodes.iter() {
            let Some(node) = info.node.as_deref() else { continue };
            if !has_all_keys(node, &constraints) {
                continue;
            }
            per_node.clear();
            for (c, by_node) in constraints.iter().zip(cached.iter_mut()) {
                if !c.includes(pod, node) {
                    continue;
                }
                let pair = (c.key.clone(), info.label(&c.key).unwrap_or("").to_string());
                let n = match by_node.get(info.name()) {
                    Some((generation, n)) if *generation == info.generation => *n,
                    _ => {
                        let n = c.count(info, ns);
                        by_node.insert(info.name().to_string(), (info.generation, n));
                        n
                    }
                };
                // Two constraints on one key: the later one's count stands, as upstream.
                match per_node.iter_mut().find(|(p, _)| *p == pair) {
                    Some(slot) => slot.1 = n,
                    None => per_node.push((pair, n)),
                }
            }
            for (pair, n) in per_node.drain(..) {
                *counts.entry(pair).or_default() += n;
            }
        }
        counted.extend(keys.into_iter().zip(cached));
        drop(counted);
        let mut s = PreFilterState { constraints, counts, domains: HashMap::new() };
        s.count_domains();
        state.write(PRE_FILTER, s);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &Pod, added: &PodInfo, node: &NodeInfo) {
        update_with(state, pod, added, node, 1);
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &Pod, removed: &PodInfo, node: &NodeInfo) {
        update_with(state, pod, removed, node, -1);
    }
}

/// upstream's `updateWithPod`: a pod of the namespace matching a constraint changes its
/// domain's count on a node that has every key and passes the inclusion policies.
fn update_with(state: &mut CycleState, pod: &Pod, other: &PodInfo, info: &NodeInfo, delta: i64) {
    let Some(node) = info.node.as_deref() else { return };
    if other.pod.metadata.namespace != pod.metadata.namespace {
        return;
    }
    state.update::<PreFilterState>(PRE_FILTER, |s| {
        if !has_all_keys(node, &s.constraints) {
            return;
        }
        for c in &s.constraints {
            if !c.matches(other.pod.metadata.labels.as_ref()) || !c.includes(pod, node) {
                continue;
            }
            let pair = (c.key.clone(), info.label(&c.key).unwrap_or("").to_string());
            *s.counts.entry(pair).or_default() += delta;
        }
        s.count_domains();
    });
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER) else { return Status::success() };
        for c in &s.constraints {
            let Some(value) = node.label(&c.key) else {
                return Status::new(Code::UnschedulableAndUnresolvable, REASON_MISSING_LABEL);
            };
            let self_match = i64::from(c.matches(pod.metadata.labels.as_ref()));
            let (domains, min) = s.domains.get(&c.key).copied().unwrap_or((0, i64::from(i32::MAX)));
            let min = if domains < c.min_domains { 0 } else { min };
            let matching = s.counts.get(&(c.key.clone(), value.to_string())).copied().unwrap_or(0);
            if matching + self_match - min > c.max_skew {
                return Status::new(Code::Unschedulable, REASON);
            }
        }
        Status::success()
    }
}

impl PreScore for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &Snapshot) -> Status {
        if all.is_empty() {
            return Status::skip();
        }
        let has_own =
            pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_ref()).is_some_and(|c| !c.is_empty());
        // System defaults do not need every key: nodes without a zone still spread by host.
        let require_all = has_own || !self.system_defaulted;
        let constraints = self.constraints(pod, "ScheduleAnyway");
        if constraints.is_empty() {
            return Status::skip();
        }
        let mut ignored = HashSet::new();
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for info in feasible {
            let Some(node) = info.node.as_deref() else { continue };
            if require_all && !has_all_keys(node, &constraints) {
                ignored.insert(info.name().to_string());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.key != HOSTNAME {
                    counts[i].entry(info.label(&c.key).unwrap_or("").to_string()).or_insert(0);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, m)| {
                let size = if c.key == HOSTNAME { feasible.len() - ignored.len() } else { m.len() };
                (size as f64 + 2.0).ln()
            })
            .collect();
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        for info in all.iter() {
            let Some(node) = info.node.as_deref() else { continue };
            if require_all && !has_all_keys(node, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.key == HOSTNAME || !c.includes(pod, node) {
                    continue;
                }
                let value = info.label(&c.key).unwrap_or("");
                if let Some(n) = counts[i].get_mut(value) {
                    *n += c.count(info, ns);
                }
            }
        }
        state.write(PRE_SCORE, PreScoreState { constraints, ignored, counts, weights });
        Status::success()
    }
}

impl Score for PodTopologySpread {
    /// The weighted number of matching pods in the node's domains (fewer is better); nodes
    /// missing a key answer `IGNORED`.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE) else { return 0 };
        if s.ignored.contains(node.name()) {
            return IGNORED;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.label(&c.key) else { continue };
            let cnt = if c.key == HOSTNAME { c.count(node, ns) } else { s.counts[i].get(value).copied().unwrap_or(0) };
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize(&self, state: &CycleState, _: &Pod, scores: &mut [i64]) {
        if state.read::<PreScoreState>(PRE_SCORE).is_none() {
            return;
        }
        let valid = || scores.iter().copied().filter(|s| *s != IGNORED);
        let min = valid().min().unwrap_or(i64::MAX);
        let max = valid().max().unwrap_or(0).max(0);
        for s in scores.iter_mut() {
            *s = if *s == IGNORED {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::NoListers;
    use serde_json::json;

    fn node(name: &str, zone: Option<&str>, pods: &[Pod]) -> Arc<NodeInfo> {
        let mut labels = json!({"kubernetes.io/hostname": name});
        if let Some(z) = zone {
            labels["topology.kubernetes.io/zone"] = json!(z);
        }
        let n: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        let mut info = NodeInfo::default();
        info.set_node(Arc::new(n));
        for p in pods {
            info.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
        }
        Arc::new(info)
    }

    fn pod(name: &str, app: &str, spread: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": app}},
            "spec": {"containers": [], "topologySpreadConstraints": spread}}))
        .unwrap()
    }

    fn zone_constraint(skew: i32, when: &str) -> Value {
        json!([{"maxSkew": skew, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}}])
    }

    #[test]
    fn hard_constraints_keep_the_skew_and_need_the_key() {
        let pl = PodTopologySpread::from_args(&json!({}), Arc::new(NoListers));
        let web = |n: &str| pod(n, "web", json!([]));
        let nodes = vec![
            node("a1", Some("a"), &[web("w1"), web("w2")]),
            node("b1", Some("b"), &[web("w3")]),
            node("c1", None, &[]),
        ];
        let p = pod("new", "web", zone_constraint(1, "DoNotSchedule"));
        let mut st = CycleState::default();
        assert!(pl.pre_filter(&mut st, &p, &Snapshot::new(nodes.clone())).is_success());
        // a: 2 + 1 - 1 > 1; b: 1 + 1 - 1 <= 1.
        assert_eq!(pl.filter(&st, &p, &nodes[0]), Status::new(Code::Unschedulable, REASON));
        assert!(pl.filter(&st, &p, &nodes[1]).is_success());
        assert_eq!(pl.filter(&st, &p, &nodes[2]).code, Code::UnschedulableAndUnresolvable);
        // minDomains above the number of zones makes the global minimum 0.
        let mut c = zone_constraint(1, "DoNotSchedule");
        c[0]["minDomains"] = json!(3);
        let p = pod("new", "web", c);
        let mut st = CycleState::default();
        pl.pre_filter(&mut st, &p, &Snapshot::new(nodes.clone()));
        assert!(!pl.filter(&st, &p, &nodes[1]).is_success());
        // The next cycle recounts a node whose pods changed (the others' counts are kept).
        let nodes2 = vec![node("a1", Some("a"), &[web("w1")]), nodes[1].clone(), nodes[2].clone()];
        let p = pod("new", "web", zone_constraint(1, "DoNotSchedule"));
        let mut st = CycleState::default();
        assert!(pl.pre_filter(&mut st, &p, &Snapshot::new(nodes2.clone())).is_success());
        assert!(pl.filter(&st, &p, &nodes2[0]).is_success(), "a: 1 + 1 - 1 <= 1");
        // Soft constraints alone skip the filter.
        let p = pod("new", "web", zone_constraint(1, "ScheduleAnyway"));
        assert_eq!(pl.pre_filter(&mut CycleState::default(), &p, &Snapshot::new(nodes.clone())).code, Code::Skip);
    }

    #[test]
    fn soft_constraints_prefer_the_emptier_zone() {
        let pl = PodTopologySpread::from_args(&json!({}), Arc::new(NoListers));
        let web = |n: &str| pod(n, "web", json!([]));
        let nodes =
            vec![node("a1", Some("a"), &[web("w1"), web("w2")]), node("b1", Some("b"), &[]), node("x", None, &[])];
        let p = pod("new", "web", zone_constraint(1, "ScheduleAnyway"));
        let mut st = CycleState::default();
        assert!(pl.pre_score(&mut st, &p, &nodes, &Snapshot::new(nodes.clone())).is_success());
        let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &p, n)).collect();
        // a: 2 * ln(4) = 2.77 -> 3; b: 0; x lacks the key.
        assert_eq!(scores, [3, 0, IGNORED]);
        pl.normalize(&st, &p, &mut scores);
        assert_eq!(scores, [0, 100, 0]);
    }

    #[test]
    fn without_services_or_owners_the_system_defaults_do_not_apply() {
        let pl = PodTopologySpread::from_args(&json!({}), Arc::new(NoListers));
        let nodes = vec![node("a1", Some("a"), &[])];
        let p = pod("new", "web", json!([]));
        assert_eq!(
            pl.pre_score(&mut CycleState::default(), &p, &nodes, &Snapshot::new(nodes.clone())).code,
            Code::Skip
        );
    }

    struct OneService;
    impl Listers for OneService {
        fn services(&self, ns: &str) -> Vec<Arc<k8s_openapi::api::core::v1::Service>> {
            let svc = json!({"metadata": {"name": "web", "namespace": ns}, "spec": {"selector": {"app": "web"}}});
            vec![Arc::new(serde_json::from_value(svc).unwrap())]
        }
    }

    #[test]
    fn the_system_defaults_spread_a_services_pods_by_host_and_zone() {
        let pl = PodTopologySpread::from_args(&json!({}), Arc::new(OneService));
        let web = |n: &str| pod(n, "web", json!([]));
        // Hosts a1 and a2 in zone a, b1 in zone b; two web pods on a1.
        let nodes = vec![
            node("a1", Some("a"), &[web("w1"), web("w2")]),
            node("a2", Some("a"), &[]),
            node("b1", Some("b"), &[]),
        ];
        let p = web("new");
        let mut st = CycleState::default();
        assert!(pl.pre_score(&mut st, &p, &nodes, &Snapshot::new(nodes.clone())).is_success());
        let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &p, n)).collect();
        pl.normalize(&st, &p, &mut scores);
        assert!(scores[2] > scores[1] && scores[1] > scores[0], "{scores:?}");
        // A pod no Service selects gets no default constraints.
        let other = pod("new", "db", json!([]));
        assert_eq!(
            pl.pre_score(&mut CycleState::default(), &other, &nodes, &Snapshot::new(nodes.clone())).code,
            Code::Skip
        );
        // The defaults are soft: no filtering.
        assert_eq!(pl.pre_filter(&mut CycleState::default(), &p, &Snapshot::new(nodes.clone())).code, Code::Skip);
    }
}
