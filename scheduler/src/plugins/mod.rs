//! The default plugins, under upstream's names. `registry` builds a plugin by name with its
//! arguments; a profile lists which plugins run at which point, with what weight.

mod balanced;
mod fit;
mod image_locality;
pub mod inter_pod_affinity;
mod node_affinity;
mod node_name;
mod node_ports;
mod node_unschedulable;
mod taint_toleration;
pub mod topology_spread;

pub use api_types::scheduling::tolerates;

use crate::framework::{Filter, Listers, Points, PreFilter, PreScore, Score};
use std::sync::Arc;

/// The plugins of upstream's default profile that this scheduler has, in the default order, with
/// their default Score weights (0 = no Score).
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// A plugin at PreFilter, Filter, PreScore and Score.
fn every_point<P: PreFilter + Filter + PreScore + Score + 'static>(p: Arc<P>) -> Points {
    Points {
        pre_filter: Some(p.clone()),
        filter: Some(p.clone()),
        pre_score: Some(p.clone()),
        score: Some(p),
        ..Default::default()
    }
}

/// Builds the named plugin with its (already defaulted) arguments; None for an unknown name.
pub fn build(name: &str, args: &serde_json::Value, listers: &Arc<dyn Listers>) -> Option<Points> {
    let p = match name {
        // Queue-side plugins: the queue orders by priority and holds gated pods itself.
        "PrioritySort" | "SchedulingGates" => Points::default(),
        "DefaultBinder" => Points { bind: true, ..Default::default() },
        "DefaultPreemption" => {
            Points { post_filter: Some(crate::preemption::Args::from_args(args)), ..Default::default() }
        }
        "NodeUnschedulable" => {
            let p = Arc::new(node_unschedulable::NodeUnschedulable);
            Points { filter: Some(p), ..Default::default() }
        }
        "NodeName" => {
            let p = Arc::new(node_name::NodeName);
            Points { filter: Some(p), ..Default::default() }
        }
        "TaintToleration" => {
            let p = Arc::new(taint_toleration::TaintToleration);
            Points { filter: Some(p.clone()), pre_score: Some(p.clone()), score: Some(p), ..Default::default() }
        }
        "NodeAffinity" => every_point(Arc::new(node_affinity::NodeAffinity)),
        "NodePorts" => {
            let p = Arc::new(node_ports::NodePorts);
            Points { pre_filter: Some(p.clone()), filter: Some(p), ..Default::default() }
        }
        "NodeResourcesFit" => {
            let p = Arc::new(fit::Fit::from_args(args));
            Points { pre_filter: Some(p.clone()), filter: Some(p.clone()), score: Some(p), ..Default::default() }
        }
        "NodeResourcesBalancedAllocation" => {
            let p = Arc::new(balanced::Balanced::from_args(args));
            Points { pre_score: Some(p.clone()), score: Some(p), ..Default::default() }
        }
        "PodTopologySpread" => {
            every_point(Arc::new(topology_spread::PodTopologySpread::from_args(args, listers.clone())))
        }
        "InterPodAffinity" => {
            every_point(Arc::new(inter_pod_affinity::InterPodAffinity::from_args(args, listers.clone())))
        }
        "ImageLocality" => {
            let p = Arc::new(image_locality::ImageLocality);
            Points { pre_score: Some(p.clone()), score: Some(p), ..Default::default() }
        }
        _ => return None,
    };
    Some(p)
}
