//! Nominated pods (upstream's nominator): a pod that preempted others on a node is nominated
//! there (`status.nominatedNodeName`) until it is bound or gone. Pods of lower or equal priority
//! are filtered as if the nominated pods already ran there, so that they do not take the room
//! the preemption made.

use crate::framework::{pod_key, PodInfo};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inner {
    by_node: HashMap<String, Vec<Arc<PodInfo>>>,
    by_pod: HashMap<String, String>,
}

#[derive(Default)]
pub struct Nominator {
    inner: Mutex<Inner>,
}

/// The nominated pods a cycle must count, by node.
pub type Nominated = HashMap<String, Vec<Arc<PodInfo>>>;

impl Nominator {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nominates `pod` to `node` (replacing an earlier nomination); an empty node clears it.
    pub fn set(&self, pod: Arc<Pod>, node: &str) {
        let key = pod_key(&pod);
        let mut g = self.lock();
        Self::unset(&mut g, &key);
        if node.is_empty() {
            return;
        }
        g.by_pod.insert(key, node.to_string());
        g.by_node.entry(node.to_string()).or_default().push(Arc::new(PodInfo::new(pod)));
    }

    fn unset(g: &mut Inner, key: &str) {
        if let Some(node) = g.by_pod.remove(key) {
            if let Some(v) = g.by_node.get_mut(&node) {
                v.retain(|p| p.key() != key);
                if v.is_empty() {
                    g.by_node.remove(&node);
                }
            }
        }
    }

    /// The pod was bound, deleted or lost its nomination.
    pub fn remove(&self, key: &str) {
        Self::unset(&mut self.lock(), key);
    }

    pub fn node_of(&self, key: &str) -> Option<String> {
        self.lock().by_pod.get(key).cloned()
    }

    /// The pods nominated anywhere with at least `priority`, other than `key` itself.
    pub fn at_least(&self, priority: i32, key: &str) -> Nominated {
        let g = self.lock();
        if g.by_pod.is_empty() {
            return Nominated::new();
        }
        let mut out = Nominated::new();
        for (node, pods) in &g.by_node {
            let v: Vec<Arc<PodInfo>> =
                pods.iter().filter(|p| p.priority() >= priority && p.key() != key).cloned().collect();
            if !v.is_empty() {
                out.insert(node.clone(), v);
            }
        }
        out
    }

    /// The pods nominated to `node` with a priority below `priority`.
    pub fn below(&self, node: &str, priority: i32) -> Vec<Arc<Pod>> {
        let g = self.lock();
        g.by_node.get(node).into_iter().flatten().filter(|p| p.priority() < priority).map(|p| p.pod.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, prio: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d"},
                "spec": {"priority": prio, "containers": []}}))
            .unwrap(),
        )
    }

    #[test]
    fn nominations_by_priority_and_node() {
        let n = Nominator::default();
        n.set(pod("high", 100), "a");
        n.set(pod("low", 1), "a");
        n.set(pod("mid", 50), "b");
        let at: Vec<String> = n.at_least(50, "d/mid").values().flatten().map(|p| p.key()).collect();
        assert_eq!(at, ["d/high"]);
        assert_eq!(n.below("a", 50).len(), 1);
        n.set(pod("high", 100), "b");
        assert_eq!(n.node_of("d/high").as_deref(), Some("b"));
        n.remove("d/high");
        n.set(pod("low", 1), "");
        assert!(!n.at_least(0, "").contains_key("a"));
    }
}
