//! The scheduler's cluster state: every node with the pods placed on it, kept from the informers,
//! plus pods assumed on a node between the decision and the binding showing up (upstream's
//! scheduler cache). A cycle reads an immutable snapshot; after a pod change only the changed
//! nodes' entries are replaced (in place when no cycle still holds the snapshot), and the node
//! order is rebuilt only when nodes come, go or change zone.

use crate::framework::{pod_key, NodeInfo, PodInfo};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The nodes a cycle sees, in upstream's order: interleaved across zones; with what plugins
/// would otherwise scan every node for (upstream's `HavePodsWithAffinityList` and image states).
#[derive(Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<Arc<NodeInfo>>,
    pub by_name: Arc<HashMap<String, usize>>,
    /// Nodes holding a pod with any (anti-)affinity term, and with required anti-affinity.
    pub with_affinity: usize,
    pub with_required_anti_affinity: usize,
    /// Image name -> how many nodes have it.
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// `namespace/claim` -> how many placed pods use it (upstream's `usedPVCSet`).
    pub used_pvcs: Arc<HashMap<String, usize>>,
}

impl std::ops::Deref for Snapshot {
    type Target = [Arc<NodeInfo>];
    fn deref(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }
}

impl Snapshot {
    pub fn new(nodes: Vec<Arc<NodeInfo>>) -> Snapshot {
        let by_name = Arc::new(nodes.iter().enumerate().map(|(i, n)| (n.name().to_string(), i)).collect());
        let mut s = Snapshot { nodes, by_name, ..Default::default() };
        s.with_affinity = s.nodes.iter().filter(|n| n.pods_with_affinity > 0).count();
        s.with_required_anti_affinity = s.nodes.iter().filter(|n| n.pods_with_required_anti_affinity > 0).count();
        s.count_images();
        let mut used: HashMap<String, usize> = HashMap::new();
        for n in &s.nodes {
            for (c, k) in &n.pvc_refs {
                *used.entry(c.clone()).or_default() += k;
            }
        }
        s.used_pvcs = Arc::new(used);
        s
    }

    fn count_images(&mut self) {
        let mut m: HashMap<String, usize> = HashMap::new();
        for n in &self.nodes {
            for img in n.images.keys() {
                *m.entry(img.clone()).or_default() += 1;
            }
        }
        self.image_nodes = Arc::new(m);
    }

    /// Replaces entry `i`, keeping the counts.
    fn replace(&mut self, i: usize, info: Arc<NodeInfo>) -> bool {
        let old = std::mem::replace(&mut self.nodes[i], info);
        let new = &self.nodes[i];
        let flip = |a: usize, b: usize| isize::from(b > 0) - isize::from(a > 0);
        self.with_affinity =
            self.with_affinity.saturating_add_signed(flip(old.pods_with_affinity, new.pods_with_affinity));
        self.with_required_anti_affinity = self
            .with_required_anti_affinity
            .saturating_add_signed(flip(old.pods_with_required_anti_affinity, new.pods_with_required_anti_affinity));
        if old.pvc_refs != new.pvc_refs {
            let used = Arc::make_mut(&mut self.used_pvcs);
            for (c, k) in &old.pvc_refs {
                if let Some(n) = used.get_mut(c) {
                    *n = n.saturating_sub(*k);
                    if *n == 0 {
                        used.remove(c);
                    }
                }
            }
            for (c, k) in &new.pvc_refs {
                *used.entry(c.clone()).or_default() += k;
            }
        }
        !Arc::ptr_eq(&old.images, &new.images)
    }
}

#[derive(Default)]
struct Inner {
    nodes: HashMap<String, Arc<NodeInfo>>,
    /// Zones in the order first seen, each with its nodes in the order added.
    zones: Vec<(String, Vec<String>)>,
    /// Pod key -> (node, assumed).
    pods: HashMap<String, (String, bool)>,
    snapshot: Option<Arc<Snapshot>>,
    /// Nodes whose entry in the snapshot is stale.
    dirty: HashSet<String>,
    /// The snapshot's node order is stale (a node added, removed or moved zone).
    reorder: bool,
}

#[derive(Default)]
pub struct Cache {
    inner: Mutex<Inner>,
}

/// upstream's zone key: region and zone, the legacy beta labels first.
fn zone_key(node: &Node) -> String {
    let l = node.metadata.labels.as_ref();
    let get = |a: &str, b: &str| l.and_then(|l| l.get(a).or_else(|| l.get(b))).cloned().unwrap_or_default();
    let region = get("failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region");
    let zone = get("failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone");
    format!("{region}:\x00:{zone}")
}

impl Inner {
    fn lock_node(&mut self, name: &str) -> &mut NodeInfo {
        if !self.dirty.contains(name) {
            self.dirty.insert(name.to_string());
        }
        Arc::make_mut(self.nodes.entry(name.to_string()).or_default())
    }

    fn remove_from_zones(&mut self, name: &str) {
        for (_, names) in self.zones.iter_mut() {
            names.retain(|n| n != name);
        }
        self.zones.retain(|(_, names)| !names.is_empty());
    }

    fn place(&mut self, pod: Arc<Pod>, node: &str, assumed: bool) {
        let key = pod_key(&pod);
        if let Some((old, _)) = self.pods.remove(&key) {
            self.lock_node(&old).remove_pod(&key);
        }
        self.lock_node(node).add_pod(Arc::new(PodInfo::new(pod)));
        self.pods.insert(key, (node.to_string(), assumed));
    }

    fn unplace(&mut self, key: &str) {
        if let Some((node, _)) = self.pods.remove(key) {
            let info = self.lock_node(&node);
            info.remove_pod(key);
            if info.node.is_none() && info.pods.is_empty() {
                self.nodes.remove(&node);
            }
        }
    }
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A node added or changed.
    pub fn set_node(&self, node: Arc<Node>) {
        let mut g = self.lock();
        let name = node.metadata.name.clone().unwrap_or_default();
        let zone = zone_key(&node);
        let known_zone = g.zones.iter().find(|(_, names)| names.contains(&name)).map(|(z, _)| z.clone());
        if known_zone.as_deref() != Some(zone.as_str()) {
            g.reorder = true;
            g.remove_from_zones(&name);
            match g.zones.iter_mut().find(|(z, _)| *z == zone) {
                Some((_, names)) => names.push(name.clone()),
                None => g.zones.push((zone, vec![name.clone()])),
            }
        }
        g.lock_node(&name).set_node(node);
    }

    pub fn remove_node(&self, name: &str) {
        let mut g = self.lock();
        g.remove_from_zones(name);
        g.reorder = true;
        // Pods still bound there keep a node-less entry until they go, as upstream.
        let empty = match g.nodes.get_mut(name) {
            Some(info) => {
                let info = Arc::make_mut(info);
                info.node = None;
                info.unschedulable = false;
                info.taints.clear();
                info.pods.is_empty()
            }
            None => false,
        };
        if empty {
            g.nodes.remove(name);
        }
    }

    /// An assigned pod seen by the informer (added or updated): confirms an assumed one.
    pub fn set_pod(&self, pod: Arc<Pod>) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) else {
            return;
        };
        let mut g = self.lock();
        g.place(pod, &node, false);
    }

    pub fn remove_pod(&self, pod: &Pod) {
        self.lock().unplace(&pod_key(pod));
    }

    /// Counts `pod` on `node` before its binding is confirmed.
    pub fn assume(&self, pod: Arc<Pod>, node: &str) {
        self.lock().place(pod, node, true);
    }

    /// Drops an assumed pod whose binding failed (a confirmed pod stays).
    pub fn forget(&self, key: &str) {
        let mut g = self.lock();
        if g.pods.get(key).is_some_and(|(_, assumed)| *assumed) {
            g.unplace(key);
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.lock().pods.get(key).is_some_and(|(_, a)| *a)
    }

    /// The nodes as a cycle sees them; the same snapshot until something changes.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let mut g = self.lock();
        let g = &mut *g;
        if g.reorder || g.snapshot.is_none() {
            g.reorder = false;
            g.dirty.clear();
            let s = Arc::new(g.build_snapshot());
            g.snapshot = Some(s.clone());
            return s;
        }
        let snap = g.snapshot.as_mut().expect("checked above");
        if !g.dirty.is_empty() {
            // Copies the entry list only if a cycle still holds the previous snapshot.
            let s = Arc::make_mut(snap);
            let mut images_changed = false;
            for name in g.dirty.drain() {
                // Entries without a Node object are not in the order; the next reorder adds them.
                if let (Some(i), Some(info)) = (s.by_name.get(&name).copied(), g.nodes.get(&name)) {
                    images_changed |= s.replace(i, info.clone());
                }
            }
            if images_changed {
                s.count_images();
            }
        }
        snap.clone()
    }
}

impl Inner {
    /// Every node with a Node object, interleaved by zone.
    fn build_snapshot(&self) -> Snapshot {
        let g = self;
        let mut nodes = Vec::with_capacity(g.nodes.len());
        let longest = g.zones.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
        for i in 0..longest {
            for (_, names) in &g.zones {
                if let Some(info) = names.get(i).and_then(|n| g.nodes.get(n)).filter(|i| i.node.is_some()) {
                    nodes.push(info.clone());
                }
            }
        }
        Snapshot::new(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
                "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: &str, cpu: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}))
            .unwrap(),
        )
    }

    #[test]
    fn nodes_interleave_by_zone_and_pods_count_on_their_node() {
        let c = Cache::default();
        for (n, z) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a"), ("b2", "b")] {
            c.set_node(node(n, z));
        }
        let names: Vec<String> = c.snapshot().nodes.iter().map(|n| n.name().to_string()).collect();
        assert_eq!(names, ["a1", "b1", "a2", "b2", "a3"]);
        c.assume(pod("p", "", "500m"), "b1");
        let s = c.snapshot();
        assert_eq!(s.nodes[s.by_name["b1"]].requested.milli_cpu, 500);
        // The informer's copy confirms it on the node the binding chose.
        c.set_pod(pod("p", "b1", "500m"));
        assert!(!c.is_assumed("d/p"));
        c.forget("d/p");
        assert_eq!(c.snapshot().nodes[1].requested.milli_cpu, 500, "a confirmed pod is not forgotten");
        c.remove_pod(&pod("p", "b1", "500m"));
        assert_eq!(c.snapshot().nodes[1].requested.milli_cpu, 0);
        c.remove_node("a2");
        assert_eq!(c.snapshot().nodes.len(), 4);
    }

    #[test]
    fn a_held_snapshot_stays_as_it_was_and_the_next_one_sees_only_the_change() {
        let c = Cache::default();
        c.set_node(node("a1", "a"));
        c.set_node(node("b1", "b"));
        let held = c.snapshot();
        c.assume(pod("p", "", "250m"), "b1");
        let next = c.snapshot();
        assert_eq!(held.nodes[held.by_name["b1"]].requested.milli_cpu, 0);
        assert_eq!(next.nodes[next.by_name["b1"]].requested.milli_cpu, 250);
        assert!(Arc::ptr_eq(&held.nodes[0], &next.nodes[0]), "an unchanged node is shared");
        assert!(Arc::ptr_eq(&held.by_name, &next.by_name), "the order is reused");
        drop((held, next));
        // With no cycle holding it, the snapshot is updated in place.
        c.assume(pod("q", "", "250m"), "a1");
        let s = c.snapshot();
        assert_eq!(s.nodes[s.by_name["a1"]].requested.milli_cpu, 250);
        // A new node changes the order.
        c.set_node(node("c1", "c"));
        assert_eq!(c.snapshot().nodes.len(), 3);
    }
}
