//! DefaultPreemption (PostFilter): when no node fits a pod, find a node where evicting pods of
//! lower priority makes it fit, as upstream's preemption evaluator does — a dry run on copies
//! of the nodes where the filters said Unschedulable, fewest victims kept (PDB-protected ones
//! spared first), the best candidate chosen by upstream's criteria.

use crate::cache::Snapshot;
use crate::framework::{pod_priority, Code, CycleState, Filter, NodeInfo, PodInfo, PreFilter, Status};
use crate::nominator::Nominated;
use crate::schedule::{filter_node, fit_error_with_absent};
use api_types::selector::{selector_is_empty, selector_matches};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::Arc;

pub const NAME: &str = "DefaultPreemption";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// `DefaultPreemptionArgs`.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    pub min_candidate_nodes_percentage: i64,
    pub min_candidate_nodes_absolute: i64,
}

impl Args {
    pub fn from_args(v: &Value) -> Args {
        Args {
            min_candidate_nodes_percentage: v.get("minCandidateNodesPercentage").and_then(Value::as_i64).unwrap_or(10),
            min_candidate_nodes_absolute: v.get("minCandidateNodesAbsolute").and_then(Value::as_i64).unwrap_or(100),
        }
    }

    /// How many candidates the dry run looks for among `potential` nodes.
    fn candidates_to_find(&self, potential: usize) -> usize {
        let n = i64::try_from(potential).unwrap_or(i64::MAX);
        let want = (n * self.min_candidate_nodes_percentage / 100).max(self.min_candidate_nodes_absolute);
        usize::try_from(want.min(n)).unwrap_or(potential)
    }
}

/// A node where evicting `victims` (most important first) makes the pod fit.
#[derive(Debug)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
    pub pdb_violations: usize,
}

pub enum Verdict {
    Preempt(Candidate),
    /// The text after "preemption: ", and whether the pod's nomination is to be cleared.
    Failed(String, bool),
}

/// What the dry run filters with: the cycle's plugins and state.
pub struct DryRun<'a> {
    pub pre_filters: &'a [Arc<dyn PreFilter>],
    pub filters: &'a [&'a Arc<dyn Filter>],
    pub state: &'a CycleState,
    pub nominated: &'a Nominated,
    pub pdbs: &'a [Arc<PodDisruptionBudget>],
}

fn is_disruption_target(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.type_ == "DisruptionTarget" && c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler")
        })
    })
}

fn start_time(p: &Pod) -> jiff::Timestamp {
    p.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0).unwrap_or_else(jiff::Timestamp::now)
}

/// upstream's `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority().cmp(&a.priority()).then_with(|| start_time(&a.pod).cmp(&start_time(&b.pod)))
}

/// upstream's `PodEligibleToPreemptOthers`: the reason a pod may not preempt, if any.
fn not_eligible(pod: &Pod, snap: &Snapshot, statuses: &[(String, Status)]) -> Option<&'static str> {
    if pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Some("not eligible due to preemptionPolicy=Never.");
    }
    let nominated = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())?;
    let unresolvable = statuses.iter().any(|(n, s)| n == nominated && s.code == Code::UnschedulableAndUnresolvable);
    if unresolvable {
        return None;
    }
    let prio = pod_priority(pod);
    let node = snap.by_name.get(nominated).map(|i| &snap.nodes[*i])?;
    let terminating = node
        .pods
        .iter()
        .any(|p| p.priority() < prio && p.pod.metadata.deletion_timestamp.is_some() && is_disruption_target(&p.pod));
    terminating.then_some("not eligible due to a terminating pod on the nominated node.")
}

/// upstream's `filterPodsWithPDBViolation`: which victims (in importance order) would take a
/// PDB below its allowed disruptions.
fn split_by_pdb(
    victims: Vec<Arc<PodInfo>>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i64> =
        pdbs.iter().map(|p| i64::from(p.status.as_ref().map(|s| s.disruptions_allowed).unwrap_or(0))).collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for v in victims {
        let meta = &v.pod.metadata;
        let mut violated = false;
        if meta.labels.as_ref().is_some_and(|l| !l.is_empty()) {
            for (i, pdb) in pdbs.iter().enumerate() {
                let sel = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
                if pdb.metadata.namespace != meta.namespace
                    || selector_is_empty(sel)
                    || !selector_matches(sel, meta.labels.as_ref()).unwrap_or(false)
                {
                    continue;
                }
                let disrupted = pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| meta.name.as_ref().is_some_and(|n| d.contains_key(n)));
                if disrupted {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(v);
        } else {
            ok.push(v);
        }
    }
    (violating, ok)
}

/// upstream's `SelectVictimsOnNode`: remove every lower-priority pod; if the pod then fits,
/// give back as many as possible (PDB-violating ones first), and evict the rest.
fn select_victims(dry: &DryRun<'_>, pod: &Pod, node: &Arc<NodeInfo>) -> Result<Candidate, Status> {
    let prio = pod_priority(pod);
    let mut info = (**node).clone();
    let mut state = dry.state.clone();
    let mut potential: Vec<Arc<PodInfo>> = info.pods.iter().filter(|p| p.priority() < prio).cloned().collect();
    if potential.is_empty() {
        return Err(Status::new(Code::UnschedulableAndUnresolvable, NO_VICTIMS));
    }
    for v in &potential {
        info.remove_pod(&v.key());
        for pf in dry.pre_filters {
            pf.remove_pod(&mut state, pod, v, &info);
        }
    }
    let nominated = dry.nominated.get(info.name()).map(Vec::as_slice).unwrap_or(&[]);
    let fits = |state: &CycleState, info: &NodeInfo| -> Status {
        filter_node(dry.pre_filters, dry.filters, state, pod, info, nominated)
    };
    let st = fits(&state, &info);
    if !st.is_success() {
        return Err(st);
    }
    potential.sort_by(|a, b| more_important(a, b));
    let (violating, non_violating) = split_by_pdb(potential, dry.pdbs);
    let both = !violating.is_empty() && !non_violating.is_empty();
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group_violates, group) in [(true, violating), (false, non_violating)] {
        for p in group {
            info.add_pod(p.clone());
            for pf in dry.pre_filters {
                pf.add_pod(&mut state, pod, &p, &info);
            }
            if fits(&state, &info).is_success() {
                continue;
            }
            info.remove_pod(&p.key());
            for pf in dry.pre_filters {
                pf.remove_pod(&mut state, pod, &p, &info);
            }
            if group_violates {
                pdb_violations += 1;
            }
            victims.push(p);
        }
    }
    if both {
        victims.sort_by(|a, b| more_important(a, b));
    }
    Ok(Candidate { node: node.name().to_string(), victims, pdb_violations })
}

/// upstream's `pickOneNodeForPreemption`: fewest PDB violations, then the lowest highest victim
/// priority, the lowest sum of priorities, the fewest victims, the latest start among the
/// most important victims; then the first.
fn pick(mut cands: Vec<Candidate>) -> Option<Candidate> {
    if let Some(i) = cands.iter().position(|c| c.victims.is_empty()) {
        return Some(cands.swap_remove(i));
    }
    // Each key is computed once per candidate: a start time may read the clock.
    let keep_min = |cands: &mut Vec<Candidate>, key: &dyn Fn(&Candidate) -> i128| {
        let keys: Vec<i128> = cands.iter().map(key).collect();
        let Some(best) = keys.iter().copied().min() else { return };
        let mut keys = keys.into_iter();
        cands.retain(|_| keys.next() == Some(best));
    };
    keep_min(&mut cands, &|c| c.pdb_violations as i128);
    keep_min(&mut cands, &|c| i128::from(c.victims[0].priority()));
    keep_min(&mut cands, &|c| c.victims.iter().map(|v| i128::from(v.priority()) + i128::from(i32::MAX) + 1).sum());
    keep_min(&mut cands, &|c| c.victims.len() as i128);
    // The latest earliest start time among each node's most important victims wins.
    keep_min(&mut cands, &|c| {
        let top = c.victims[0].priority();
        let earliest = c.victims.iter().filter(|v| v.priority() == top).map(|v| start_time(&v.pod)).min();
        -earliest.map(|t| t.as_nanosecond()).unwrap_or(0)
    });
    cands.into_iter().next()
}

/// Runs preemption for a pod no node took; `statuses` are the filter results per node.
pub fn preempt(args: &Args, dry: &DryRun<'_>, pod: &Pod, snap: &Snapshot, statuses: &[(String, Status)]) -> Verdict {
    if let Some(why) = not_eligible(pod, snap, statuses) {
        return Verdict::Failed(why.to_string(), false);
    }
    let total = snap.nodes.len();
    let potential: Vec<&Arc<NodeInfo>> = statuses
        .iter()
        .filter(|(_, s)| s.code == Code::Unschedulable)
        .filter_map(|(n, _)| snap.by_name.get(n).map(|i| &snap.nodes[*i]))
        .collect();
    if potential.is_empty() {
        return Verdict::Failed(fit_error_with_absent(total, &[], NOT_HELPFUL), true);
    }
    let want = args.candidates_to_find(potential.len());
    let offset = rand::random_range(0..potential.len());
    let (mut ok, mut violating) = (Vec::new(), Vec::new());
    let mut tried: Vec<(String, Status)> = Vec::new();
    for i in 0..potential.len() {
        let node = potential[(offset + i) % potential.len()];
        match select_victims(dry, pod, node) {
            Ok(c) if c.pdb_violations == 0 => ok.push(c),
            Ok(c) => violating.push(c),
            Err(st) => tried.push((node.name().to_string(), st)),
        }
        if !ok.is_empty() && ok.len() + violating.len() >= want {
            break;
        }
    }
    ok.extend(violating);
    if ok.is_empty() {
        return Verdict::Failed(fit_error_with_absent(total, &tried, NOT_HELPFUL), true);
    }
    match pick(ok) {
        Some(c) => Verdict::Preempt(c),
        None => Verdict::Failed("no candidate node for preemption".into(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(name: &str, prio: i32, start: &str, labels: Value) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d", "labels": labels},
                "spec": {"priority": prio, "containers": []}, "status": {"startTime": start}}))
            .unwrap(),
        )))
    }

    #[test]
    fn pdbs_protect_victims_while_their_budget_lasts() {
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "b", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2}}))
        .unwrap();
        let t = "2026-01-01T00:00:00Z";
        let victims = vec![
            info("db1", 1, t, json!({"app": "db"})),
            info("db2", 1, t, json!({"app": "db"})),
            info("web", 1, t, json!({"app": "web"})),
        ];
        let (violating, ok) = split_by_pdb(victims, &[Arc::new(pdb)]);
        let names = |v: &[Arc<PodInfo>]| v.iter().map(|p| p.key()).collect::<Vec<_>>();
        assert_eq!(names(&violating), ["d/db2"]);
        assert_eq!(names(&ok), ["d/db1", "d/web"]);
    }

    #[test]
    fn candidates_are_picked_by_upstreams_criteria() {
        let c =
            |node: &str, victims: Vec<Arc<PodInfo>>, pdb| Candidate { node: node.into(), victims, pdb_violations: pdb };
        let early = "2026-01-01T00:00:00Z";
        let late = "2026-01-02T00:00:00Z";
        let v = |p, s| info("v", p, s, json!({}));
        // Fewer PDB violations beat everything else.
        let got = pick(vec![c("a", vec![v(1, early)], 1), c("b", vec![v(5, early), v(5, early)], 0)]).unwrap();
        assert_eq!(got.node, "b");
        // Then the lower highest priority; then the fewer victims; then the later start.
        let got = pick(vec![c("a", vec![v(5, early)], 0), c("b", vec![v(3, early), v(3, early)], 0)]).unwrap();
        assert_eq!(got.node, "b");
        let got = pick(vec![c("a", vec![v(3, early), v(0, early)], 0), c("b", vec![v(3, early)], 0)]).unwrap();
        assert_eq!(got.node, "b");
        let got = pick(vec![c("a", vec![v(3, early)], 0), c("b", vec![v(3, late)], 0)]).unwrap();
        assert_eq!(got.node, "b");
        assert_eq!(Args::from_args(&json!({})).candidates_to_find(5000), 500);
        assert_eq!(Args::from_args(&json!({})).candidates_to_find(50), 50);
    }
}
