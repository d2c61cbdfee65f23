//! ImageLocality: prefers nodes that already have the pod's images, weighted by image size and
//! by how many nodes have each image (so that one node does not attract everything).

use crate::framework::{CycleState, NodeInfo, Plugin, PreScore, Score, Snapshot, Status, MAX_NODE_SCORE};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::Arc;

pub struct ImageLocality;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;
const STATE: &str = "PreScoreImageLocality";

/// `name` with `:latest` when it has no tag (as upstream's `normalizedImageName`).
fn normalized(image: &str) -> String {
    let tagged = image.rfind(':').is_some_and(|c| image.rfind('/').is_none_or(|s| c > s));
    if tagged || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn pod_images(pod: &Pod) -> Vec<String> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .filter_map(|c| c.image.as_deref())
        .map(normalized)
        .collect()
}

/// For the pod's images: how many nodes of the snapshot have each.
struct Spread {
    images: Vec<String>,
    nodes_having: HashMap<String, i64>,
    total: i64,
}

fn node_image_size(node: &NodeInfo, image: &str) -> Option<i64> {
    node.images.get(image).copied()
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        "ImageLocality"
    }
}

impl PreScore for ImageLocality {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &[Arc<NodeInfo>], all: &Snapshot) -> Status {
        let images = pod_images(pod);
        let mut nodes_having = HashMap::new();
        for img in &images {
            let n = all.image_nodes.get(img).copied().unwrap_or(0);
            nodes_having.insert(img.clone(), i64::try_from(n).unwrap_or(0));
        }
        // No node has any of the images: every node would score the same.
        if nodes_having.values().all(|n| *n == 0) {
            return Status::skip();
        }
        state.write(STATE, Spread { images, nodes_having, total: i64::try_from(all.len()).unwrap_or(1).max(1) });
        Status::success()
    }
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, _: &Pod, node: &NodeInfo) -> i64 {
        let Some(sp) = state.read::<Spread>(STATE) else { return 0 };
        let sum: i64 = sp
            .images
            .iter()
            .filter_map(|img| {
                let size = node_image_size(node, img)?;
                let having = sp.nodes_having.get(img).copied().unwrap_or(0);
                Some((size as f64 * (having as f64 / sp.total as f64)) as i64)
            })
            .sum();
        let max_threshold = MAX_CONTAINER_THRESHOLD * i64::try_from(sp.images.len()).unwrap_or(1).max(1);
        let sum = sum.clamp(MIN_THRESHOLD, max_threshold);
        MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_get_latest_when_untagged() {
        assert_eq!(normalized("nginx"), "nginx:latest");
        assert_eq!(normalized("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalized("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalized("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10");
    }
}
