//! `ttl-controller` (upstream `pkg/controller/ttl`): every Node carries the annotation
//! `node.alpha.kubernetes.io/ttl`, the seconds a kubelet may cache the Secrets and ConfigMaps
//! of its pods, chosen from the cluster's size: 0 up to 100 nodes, 15 up to 500, 30 up to
//! 1000, 60 up to 2000, 300 beyond. The ranges overlap (90, 450, 900, 1800 are the lower ends)
//! so that a cluster hovering around a boundary does not flap. Every node event requeues the
//! node, so a change of size reaches all nodes with their next status update.

use crate::context::Ctx;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::sync::{Arc, Mutex};

pub const TTL_ANNOTATION: &str = "node.alpha.kubernetes.io/ttl";

struct Boundary {
    size_min: u64,
    size_max: u64,
    ttl_seconds: i64,
}

const BOUNDARIES: [Boundary; 5] = [
    Boundary { size_min: 0, size_max: 100, ttl_seconds: 0 },
    Boundary { size_min: 90, size_max: 500, ttl_seconds: 15 },
    Boundary { size_min: 450, size_max: 1000, ttl_seconds: 30 },
    Boundary { size_min: 900, size_max: 2000, ttl_seconds: 60 },
    Boundary { size_min: 1800, size_max: 2_147_483_647, ttl_seconds: 300 },
];

/// The node count and the boundary step it is in; the step moves only when the count leaves
/// the step's own range, which is the hysteresis.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    nodes: u64,
    step: usize,
}

impl Size {
    pub fn node_added(&mut self) {
        self.nodes += 1;
        if self.nodes > BOUNDARIES[self.step].size_max && self.step + 1 < BOUNDARIES.len() {
            self.step += 1;
        }
    }

    pub fn node_deleted(&mut self) {
        self.nodes = self.nodes.saturating_sub(1);
        if self.nodes < BOUNDARIES[self.step].size_min && self.step > 0 {
            self.step -= 1;
        }
    }

    pub fn desired_ttl_seconds(&self) -> i64 {
        BOUNDARIES[self.step].ttl_seconds
    }
}

struct Ttl {
    client: Client,
    nodes: Informer<Node>,
    queue: WorkQueue<String>,
    size: Mutex<Size>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("ttl-controller").await?;
    let ttl = Arc::new(Ttl {
        client,
        nodes: ctx.informers.get::<Node>(),
        queue: WorkQueue::new("ttlcontroller"),
        size: Mutex::default(),
    });
    let h = ttl.clone();
    ttl.nodes.add_handler(move |c| match c {
        Change::Added(n) => {
            h.lock().node_added();
            h.queue.add(n.name_any());
        }
        Change::Updated { new, .. } => h.queue.add(new.name_any()),
        // A node that is gone needs no annotation.
        Change::Deleted(_) => h.lock().node_deleted(),
    });
    tokio::spawn(async move {
        ttl.nodes.wait_synced().await;
        let w = ttl.clone();
        ttl.queue.run_workers(5, move |name: String| {
            let w = w.clone();
            async move { w.sync(&name).await }
        });
    });
    Ok(true)
}

impl Ttl {
    fn lock(&self) -> std::sync::MutexGuard<'_, Size> {
        self.size.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `updateNodeIfNeeded`: patches the annotation when it is missing, not a number, or
    /// not the desired TTL.
    async fn sync(&self, name: &str) -> Result<(), kube::Error> {
        let Some(node) = self.nodes.get("", name) else { return Ok(()) };
        let desired = self.lock().desired_ttl_seconds();
        let current = node.annotations().get(TTL_ANNOTATION).and_then(|v| v.parse::<i64>().ok());
        if current == Some(desired) {
            return Ok(());
        }
        let patch = serde_json::json!({"metadata": {"annotations": {TTL_ANNOTATION: desired.to_string()}}});
        let api: Api<Node> = Api::all(self.client.clone());
        match api.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(_) => {
                tracing::debug!(node = %name, ttl = desired, "Changed ttl annotation");
                Ok(())
            }
            Err(e) => {
                tracing::debug!(node = %name, "Failed to change ttl annotation for node: {e}");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grown_to(n: u64) -> Size {
        let mut s = Size::default();
        for _ in 0..n {
            s.node_added();
        }
        s
    }

    #[test]
    fn the_ttl_follows_upstreams_boundaries() {
        for (nodes, ttl) in [(0, 0), (1, 0), (100, 0), (101, 15), (500, 15), (501, 30), (1000, 30), (1001, 60)] {
            assert_eq!(grown_to(nodes).desired_ttl_seconds(), ttl, "{nodes} nodes");
        }
        assert_eq!(grown_to(2000).desired_ttl_seconds(), 60);
        assert_eq!(grown_to(2001).desired_ttl_seconds(), 300);
    }

    #[test]
    fn shrinking_steps_down_only_below_the_lower_end() {
        let mut s = grown_to(101);
        assert_eq!(s.desired_ttl_seconds(), 15);
        // 100 down to 90 is still the 15s range.
        for _ in 0..11 {
            s.node_deleted();
        }
        assert_eq!((s.nodes, s.desired_ttl_seconds()), (90, 15));
        s.node_deleted();
        assert_eq!((s.nodes, s.desired_ttl_seconds()), (89, 0));
        // And growing again does not step up before 101.
        for _ in 0..11 {
            s.node_added();
        }
        assert_eq!((s.nodes, s.desired_ttl_seconds()), (100, 0));
        s.node_added();
        assert_eq!(s.desired_ttl_seconds(), 15);

        let mut s = grown_to(2001);
        for _ in 0..(2001 - 1800) {
            s.node_deleted();
        }
        assert_eq!((s.nodes, s.desired_ttl_seconds()), (1800, 300));
        s.node_deleted();
        assert_eq!(s.desired_ttl_seconds(), 60);
        let mut empty = Size::default();
        empty.node_deleted();
        assert_eq!((empty.nodes, empty.desired_ttl_seconds()), (0, 0));
    }
}
