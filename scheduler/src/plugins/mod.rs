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
pub mod node_volume_limits;
mod taint_toleration;
pub mod topology_spread;
pub mod volume_binding;
pub mod volume_restrictions;
pub mod volume_zone;

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
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
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
        "VolumeRestrictions" => {
            let p = Arc::new(volume_restrictions::VolumeRestrictions::new(listers.clone()));
            Points { pre_filter: Some(p.clone()), filter: Some(p), ..Default::default() }
        }
        "NodeVolumeLimits" => {
            let p = Arc::new(node_volume_limits::NodeVolumeLimits::new(listers.clone()));
            Points { pre_filter: Some(p.clone()), filter: Some(p), ..Default::default() }
        }
        "VolumeZone" => {
            let p = Arc::new(volume_zone::VolumeZone::new(listers.clone()));
            Points { pre_filter: Some(p.clone()), filter: Some(p), ..Default::default() }
        }
        "VolumeBinding" => {
            let p = Arc::new(volume_binding::VolumeBinding::from_args(args, listers.clone()));
            Points { reserve: Some(p.clone()), pre_bind: Some(p.clone()), ..every_point(p) }
        }
        "ImageLocality" => {
            let p = Arc::new(image_locality::ImageLocality);
            Points { pre_score: Some(p.clone()), score: Some(p), ..Default::default() }
        }
        _ => return None,
    };
    Some(p)
}

/// Listers over fixed objects, for the plugins' unit tests.
#[cfg(test)]
pub mod testing {
    use crate::framework::Listers;
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
    use std::sync::Arc;

    #[derive(Default)]
    pub struct Fake {
        pub pvcs: Vec<Arc<PersistentVolumeClaim>>,
        pub pvs: Vec<Arc<PersistentVolume>>,
        pub classes: Vec<Arc<StorageClass>>,
        pub csi_nodes: Vec<Arc<CSINode>>,
    }

    fn named<T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>>(
        items: &[Arc<T>],
        ns: &str,
        name: &str,
    ) -> Option<Arc<T>> {
        items
            .iter()
            .find(|o| {
                o.metadata().namespace.as_deref().unwrap_or("") == ns && o.metadata().name.as_deref() == Some(name)
            })
            .cloned()
    }

    impl Listers for Fake {
        fn pvc(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
            named(&self.pvcs, ns, name)
        }
        fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
            named(&self.pvs, "", name)
        }
        fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
            self.pvs.clone()
        }
        fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
            named(&self.classes, "", name)
        }
        fn csi_node(&self, name: &str) -> Option<Arc<CSINode>> {
            named(&self.csi_nodes, "", name)
        }
    }

    pub fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Arc<T> {
        Arc::new(serde_json::from_value(v).expect("a valid object"))
    }
}
