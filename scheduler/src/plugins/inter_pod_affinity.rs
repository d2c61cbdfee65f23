//! InterPodAffinity: required pod affinity and anti-affinity (the incoming pod's, and the
//! anti-affinity of pods already placed) filter topology domains; preferred terms on both sides,
//! and the required affinity of placed pods, score them.

use crate::framework::{
    AffinityTerm, Code, CycleState, Filter, Listers, NodeInfo, Plugin, PodAffinityTerms, PodInfo, PreFilter, PreScore,
    Score, Snapshot, Status, MAX_NODE_SCORE,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const NAME: &str = "InterPodAffinity";
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
const PRE_FILTER: &str = "PreFilterInterPodAffinity";
const PRE_SCORE: &str = "PreScoreInterPodAffinity";

pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
    ignore_preferred_terms_of_existing_pods: bool,
    listers: Arc<dyn Listers>,
    /// Per incoming set of required terms, per node: (the node's generation, pods matching every
    /// affinity term, pods matching each anti-affinity term). A cycle recounts only the nodes
    /// that changed since.
    counted: std::sync::Mutex<HashMap<String, HashMap<String, NodeCounts>>>,
}

type NodeCounts = (u64, i64, Vec<i64>);

/// How many term sets' counts are kept before the cache starts over.
const COUNTED_TERM_SETS: usize = 64;

/// Identifies a set of prepared required terms (namespaces resolved), for the count cache.
fn terms_key(ns: &str, terms: &PodAffinityTerms) -> String {
    let mut key = String::from(ns);
    for (kind, ts) in [("a", &terms.required_affinity), ("n", &terms.required_anti_affinity)] {
        for t in ts {
            let scope = match &t.namespaces {
                crate::framework::NamespaceScope::All => "*".to_string(),
                crate::framework::NamespaceScope::Some(names, sel) => {
                    let mut names: Vec<&String> = names.iter().collect();
                    names.sort();
                    format!("{names:?}{}", serde_json::to_string(sel).unwrap_or_default())
                }
            };
            key.push_str(&format!(
                "\0{kind}\0{}\0{scope}\0{}",
                t.topology_key,
                serde_json::to_string(&t.selector).unwrap_or_default()
            ));
        }
    }
    key
}

impl InterPodAffinity {
    pub fn from_args(args: &Value, listers: Arc<dyn Listers>) -> InterPodAffinity {
        InterPodAffinity {
            hard_pod_affinity_weight: args.get("hardPodAffinityWeight").and_then(Value::as_i64).unwrap_or(1),
            ignore_preferred_terms_of_existing_pods: args
                .get("ignorePreferredTermsOfExistingPods")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            listers,
            counted: Default::default(),
        }
    }

    /// The incoming pod's terms with their namespace selectors resolved to names.
    fn terms(&self, pod: &Pod) -> PodAffinityTerms {
        let mut t = PodAffinityTerms::of(pod);
        let l = &*self.listers;
        t.required_affinity.iter_mut().for_each(|x| x.resolve_namespaces(l));
        t.required_anti_affinity.iter_mut().for_each(|x| x.resolve_namespaces(l));
        t.preferred_affinity.iter_mut().for_each(|x| x.0.resolve_namespaces(l));
        t.preferred_anti_affinity.iter_mut().for_each(|x| x.0.resolve_namespaces(l));
        t
    }
}

type Pair = (String, String);
type Counts = HashMap<Pair, i64>;

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str)
}

fn bump(m: &mut Counts, node: &Node, key: &str, by: i64) {
    if let Some(v) = label(node, key) {
        *m.entry((key.to_string(), v.to_string())).or_default() += by;
    }
}

/// Whether `pod` matches every term (false without terms): the incoming pod's namespaces are
/// resolved, so no namespace labels are needed.
fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

#[derive(Clone)]
struct PreFilterState {
    terms: PodAffinityTerms,
    ns_labels: Option<BTreeMap<String, String>>,
    /// Domains where a placed pod's required anti-affinity matches the incoming pod.
    existing_anti: Counts,
    /// Domains with pods matching all of the incoming pod's required affinity terms.
    affinity: Counts,
    /// Domains with pods matching one of the incoming pod's required anti-affinity terms.
    anti: Counts,
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &Snapshot) -> Status {
        let terms = self.terms(pod);
        let ns_labels = self.listers.namespace_labels(pod.metadata.namespace.as_deref().unwrap_or(""));
        let mut existing_anti = Counts::new();
        let scan = if nodes.with_required_anti_affinity > 0 { &nodes[..] } else { &[] };
        // Replicas share their terms: each distinct set is matched against the pod once.
        let mut seen: HashMap<*const PodAffinityTerms, Vec<bool>> = HashMap::new();
        for info in scan.iter().filter(|n| n.pods_with_required_anti_affinity > 0) {
            let Some(node) = info.node.as_deref() else { continue };
            for p in &info.pods {
                let Some(theirs) = p.affinity.as_ref().filter(|a| !a.required_anti_affinity.is_empty()) else {
                    continue;
                };
                let hits = seen.entry(Arc::as_ptr(theirs)).or_insert_with(|| {
                    theirs.required_anti_affinity.iter().map(|t| t.matches(pod, ns_labels.as_ref())).collect()
                });
                for (t, hit) in theirs.required_anti_affinity.iter().zip(hits.iter()) {
                    if *hit {
                        bump(&mut existing_anti, node, &t.topology_key, 1);
                    }
                }
            }
        }
        let (mut affinity, mut anti) = (Counts::new(), Counts::new());
        if !terms.required_affinity.is_empty() || !terms.required_anti_affinity.is_empty() {
            let key = terms_key(pod.metadata.namespace.as_deref().unwrap_or(""), &terms);
            let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
            if counted.len() >= COUNTED_TERM_SETS {
                counted.clear();
            }
            let mut cached = counted.remove(&key).unwrap_or_default();
            for info in nodes.iter() {
                let Some(node) = info.node.as_deref() else { continue };
                let fresh = cached.get(info.name()).is_some_and(|c| c.0 == info.generation);
                if !fresh {
                    {
                        let mut c: NodeCounts = (info.generation, 0, vec![0; terms.required_anti_affinity.len()]);
                        for p in &info.pods {
                            if matches_all(&terms.required_affinity, &p.pod) {
                                c.1 += 1;
                            }
                            for (t, n) in terms.required_anti_affinity.iter().zip(c.2.iter_mut()) {
                                if t.matches(&p.pod, None) {
                                    *n += 1;
                                }
                            }
                        }
                        cached.insert(info.name().to_string(), c);
                    }
                }
                let Some((_, all, each)) = cached.get(info.name()) else { continue };
                if *all > 0 {
                    for t in &terms.required_affinity {
                        bump(&mut affinity, node, &t.topology_key, *all);
                    }
                }
                for (t, n) in terms.required_anti_affinity.iter().zip(each) {
                    if *n > 0 {
                        bump(&mut anti, node, &t.topology_key, *n);
                    }
                }
            }
            counted.insert(key, cached);
        }
        if existing_anti.is_empty() && terms.required_affinity.is_empty() && terms.required_anti_affinity.is_empty() {
            return Status::skip();
        }
        state.write(PRE_FILTER, PreFilterState { terms, ns_labels, existing_anti, affinity, anti });
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &Pod, added: &PodInfo, node: &NodeInfo) {
        update_with(state, pod, added, node, 1);
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &Pod, removed: &PodInfo, node: &NodeInfo) {
        update_with(state, pod, removed, node, -1);
    }
}

/// upstream's `updateWithPod`: the three counts as if `other` were added to (or removed from)
/// `node`; counts that reach zero are dropped, so that "no matching pod anywhere" stays exact.
fn update_with(state: &mut CycleState, pod: &Pod, other: &PodInfo, info: &NodeInfo, delta: i64) {
    let Some(node) = info.node.as_deref() else { return };
    state.update::<PreFilterState>(PRE_FILTER, |s| {
        for t in other.affinity.iter().flat_map(|a| &a.required_anti_affinity) {
            if t.matches(pod, s.ns_labels.as_ref()) {
                bump_or_drop(&mut s.existing_anti, node, &t.topology_key, delta);
            }
        }
        if matches_all(&s.terms.required_affinity, &other.pod) {
            for t in &s.terms.required_affinity {
                bump_or_drop(&mut s.affinity, node, &t.topology_key, delta);
            }
        }
        for t in &s.terms.required_anti_affinity {
            if t.matches(&other.pod, None) {
                bump_or_drop(&mut s.anti, node, &t.topology_key, delta);
            }
        }
    });
}

fn bump_or_drop(m: &mut Counts, node: &Node, key: &str, by: i64) {
    if let Some(v) = label(node, key) {
        let pair = (key.to_string(), v.to_string());
        let n = m.entry(pair.clone()).or_default();
        *n += by;
        if *n == 0 {
            m.remove(&pair);
        }
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &Pod, info: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER) else { return Status::success() };
        let Some(node) = info.node.as_deref() else { return Status::success() };
        // Affinity: every term's domain holds a matching pod, or no pod matches anywhere and
        // the pod matches its own terms (the first of a group).
        let mut pods_exist = true;
        for t in &s.terms.required_affinity {
            let Some(v) = label(node, &t.topology_key) else {
                return Status::new(Code::UnschedulableAndUnresolvable, REASON_AFFINITY);
            };
            if s.affinity.get(&(t.topology_key.clone(), v.to_string())).copied().unwrap_or(0) <= 0 {
                pods_exist = false;
            }
        }
        let first_of_group = s.affinity.is_empty() && matches_all(&s.terms.required_affinity, pod);
        if !pods_exist && !first_of_group {
            return Status::new(Code::UnschedulableAndUnresolvable, REASON_AFFINITY);
        }
        if !s.anti.is_empty() {
            for t in &s.terms.required_anti_affinity {
                if let Some(v) = label(node, &t.topology_key) {
                    if s.anti.get(&(t.topology_key.clone(), v.to_string())).copied().unwrap_or(0) > 0 {
                        return Status::new(Code::Unschedulable, REASON_ANTI_AFFINITY);
                    }
                }
            }
        }
        if !s.existing_anti.is_empty() {
            for (k, v) in node.metadata.labels.iter().flatten() {
                if s.existing_anti.get(&(k.clone(), v.clone())).copied().unwrap_or(0) > 0 {
                    return Status::new(Code::Unschedulable, REASON_EXISTING_ANTI_AFFINITY);
                }
            }
        }
        Status::success()
    }
}

/// Score per topology key and value.
type TopologyScore = HashMap<String, HashMap<String, i64>>;

fn add_terms(
    scores: &mut TopologyScore,
    terms: &[(AffinityTerm, i64)],
    pod: &Pod,
    ns_labels: Option<&BTreeMap<String, String>>,
    node: &Node,
    sign: i64,
) {
    for (t, w) in terms {
        add_term(scores, t, *w * sign, pod, ns_labels, node);
    }
}

fn add_term(
    scores: &mut TopologyScore,
    t: &AffinityTerm,
    weight: i64,
    pod: &Pod,
    ns_labels: Option<&BTreeMap<String, String>>,
    node: &Node,
) {
    if t.matches(pod, ns_labels) {
        if let Some(v) = label(node, &t.topology_key) {
            *scores.entry(t.topology_key.clone()).or_default().entry(v.to_string()).or_default() += weight;
        }
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &Snapshot) -> Status {
        if feasible.is_empty() {
            return Status::skip();
        }
        let terms = self.terms(pod);
        let has_own = !terms.preferred_affinity.is_empty() || !terms.preferred_anti_affinity.is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !has_own {
            return Status::skip();
        }
        let ns_labels = self.listers.namespace_labels(pod.metadata.namespace.as_deref().unwrap_or(""));
        let mut scores = TopologyScore::new();
        // Without preferred terms of its own, only placed pods with affinity can matter.
        let scan = if has_own || all.with_affinity > 0 { &all[..] } else { &[] };
        for info in scan.iter().filter(|n| has_own || n.pods_with_affinity > 0) {
            let Some(node) = info.node.as_deref() else { continue };
            if node.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                continue;
            }
            for p in info.pods.iter().filter(|p| has_own || p.affinity.is_some()) {
                add_terms(&mut scores, &terms.preferred_affinity, &p.pod, None, node, 1);
                add_terms(&mut scores, &terms.preferred_anti_affinity, &p.pod, None, node, -1);
                let Some(theirs) = p.affinity.as_deref() else { continue };
                if self.hard_pod_affinity_weight > 0 {
                    for t in &theirs.required_affinity {
                        add_term(&mut scores, t, self.hard_pod_affinity_weight, pod, ns_labels.as_ref(), node);
                    }
                }
                if !self.ignore_preferred_terms_of_existing_pods {
                    add_terms(&mut scores, &theirs.preferred_affinity, pod, ns_labels.as_ref(), node, 1);
                    add_terms(&mut scores, &theirs.preferred_anti_affinity, pod, ns_labels.as_ref(), node, -1);
                }
            }
        }
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE, scores);
        Status::success()
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &Pod, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<TopologyScore>(PRE_SCORE) else { return 0 };
        s.iter().filter_map(|(k, values)| node.label(k).and_then(|v| values.get(v))).sum()
    }

    fn normalize(&self, state: &CycleState, _: &Pod, scores: &mut [i64]) {
        if state.read::<TopologyScore>(PRE_SCORE).is_none_or(|s| s.is_empty()) {
            return;
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 { (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64 } else { 0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::NoListers;
    use serde_json::json;

    fn node(name: &str, zone: &str, pods: &[Pod]) -> Arc<NodeInfo> {
        let n: Node = serde_json::from_value(json!({"metadata": {"name": name,
            "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}}}))
        .unwrap();
        let mut info = NodeInfo::default();
        info.set_node(Arc::new(n));
        for p in pods {
            info.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
        }
        Arc::new(info)
    }

    fn pod(name: &str, app: &str, affinity: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d", "labels": {"app": app}},
            "spec": {"containers": [], "affinity": affinity}}))
        .unwrap()
    }

    fn term(app: &str, key: &str) -> Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    const ZONE: &str = "topology.kubernetes.io/zone";
    const HOST: &str = "kubernetes.io/hostname";

    fn run_filter(pl: &InterPodAffinity, p: &Pod, nodes: &[Arc<NodeInfo>]) -> Vec<Status> {
        let mut st = CycleState::default();
        let pre = pl.pre_filter(&mut st, p, &Snapshot::new(nodes.to_vec()));
        nodes.iter().map(|n| if pre.code == Code::Skip { Status::success() } else { pl.filter(&st, p, n) }).collect()
    }

    #[test]
    fn required_affinity_follows_matching_pods_and_lets_the_first_one_in() {
        let pl = InterPodAffinity::from_args(&json!({}), Arc::new(NoListers));
        let aff = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", ZONE)]}});
        let nodes = vec![node("a1", "a", &[pod("db", "db", json!(null))]), node("b1", "b", &[])];
        let st = run_filter(&pl, &pod("web", "web", aff.clone()), &nodes);
        assert!(st[0].is_success());
        assert_eq!(st[1], Status::new(Code::UnschedulableAndUnresolvable, REASON_AFFINITY));
        // No db pod anywhere: a pod matching its own term may go anywhere; another may not.
        let empty = vec![node("a1", "a", &[]), node("b1", "b", &[])];
        let selfish = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", ZONE)]}});
        assert!(run_filter(&pl, &pod("db2", "db", selfish), &empty).iter().all(Status::is_success));
        assert!(run_filter(&pl, &pod("web", "web", aff), &empty).iter().all(|s| !s.is_success()));
    }

    #[test]
    fn anti_affinity_of_both_sides_keeps_pods_apart() {
        let pl = InterPodAffinity::from_args(&json!({}), Arc::new(NoListers));
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web", HOST)]}});
        let nodes = vec![node("a1", "a", &[pod("w1", "web", anti.clone())]), node("a2", "a", &[])];
        let st = run_filter(&pl, &pod("w2", "web", anti), &nodes);
        assert_eq!(st[0], Status::new(Code::Unschedulable, REASON_ANTI_AFFINITY));
        assert!(st[1].is_success());
        // A pod without terms is kept off by the placed pod's anti-affinity.
        let st = run_filter(&pl, &pod("w3", "web", json!(null)), &nodes);
        assert_eq!(st[0], Status::new(Code::Unschedulable, REASON_EXISTING_ANTI_AFFINITY));
        assert!(st[1].is_success());
    }

    #[test]
    fn preferred_terms_score_and_normalize() {
        let pl = InterPodAffinity::from_args(&json!({}), Arc::new(NoListers));
        let pref = json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": term("db", ZONE)}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "podAffinityTerm": term("web", HOST)}]}});
        let nodes = vec![
            node("a1", "a", &[pod("db", "db", json!(null))]),
            node("a2", "a", &[pod("w", "web", json!(null))]),
            node("b1", "b", &[]),
        ];
        let p = pod("new", "web", pref);
        let mut st = CycleState::default();
        assert!(pl.pre_score(&mut st, &p, &nodes, &Snapshot::new(nodes.clone())).is_success());
        let mut scores: Vec<i64> = nodes.iter().map(|n| pl.score(&st, &p, n)).collect();
        assert_eq!(scores, [10, 5, 0]);
        pl.normalize(&st, &p, &mut scores);
        assert_eq!(scores, [100, 50, 0]);
        // Nothing to score: skipped.
        let plain = pod("x", "x", json!(null));
        assert_eq!(
            pl.pre_score(&mut CycleState::default(), &plain, &nodes, &Snapshot::new(nodes.clone())).code,
            Code::Skip
        );
    }
}
