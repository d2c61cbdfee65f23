//! VolumeBinding: a pod's PersistentVolumeClaims must be bound, or bindable on the node.
//! Claims of `WaitForFirstConsumer` classes are bound here: Filter finds, per node, the
//! smallest static volume each claim fits (PV node affinity, class, size, access modes) or
//! checks that the class can provision there (provisioner, `allowedTopologies`, CSI storage
//! capacity); Reserve assumes the choice (the volume's `claimRef`, or the claim's
//! `volume.kubernetes.io/selected-node`) so the next pod sees it taken; PreBind writes it and
//! waits until the PV controller has completed every binding (`bindTimeoutSeconds`).
//! With StorageCapacityScoring off (1.33's default) it never scores.

use crate::assume_cache::AssumeCache;
use crate::framework::{
    BoxFuture, Code, CycleState, Filter, Listers, NodeInfo, Plugin, PreBind, PreFilter, PreScore, Reserve, Score,
    Snapshot, Status,
};
use api_types::kinds::validation::Quantity;
use api_types::storage::{
    bind_volume_to_claim, claim_class, claim_fully_bound, claim_key, claim_ref, delay_binding, find_matching_volume,
    node_affinity_allows, pod_claims, requested, resource_version, set_ann, topology_terms_match, volume_class,
    volume_name_of, ANN_SELECTED_NODE, NOT_SUPPORTED_PROVISIONER, NO_MATCHING_TERMS,
};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const NAME: &str = "VolumeBinding";

pub const ERR_NODE_CONFLICT: &str = "node(s) didn't match PersistentVolume's node affinity";
pub const ERR_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const ERR_NOT_ENOUGH_SPACE: &str = "node(s) did not have enough free storage";
pub const ERR_PV_NOT_EXIST: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// How often PreBind looks whether the bindings have completed.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub struct VolumeBinding {
    listers: Arc<dyn Listers>,
    bind_timeout: Duration,
    pvs: AssumeCache<PersistentVolume>,
    pvcs: AssumeCache<PersistentVolumeClaim>,
}

/// What a node needs done for the pod: static volumes to bind, claims to provision.
#[derive(Clone, Debug, Default)]
pub struct PodVolumes {
    pub static_bindings: Vec<(Arc<PersistentVolumeClaim>, Arc<PersistentVolume>)>,
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

/// The cycle's state. The per-node results are shared by clones (as upstream's pointer),
/// since Filter fills them in while reading the state.
#[derive(Clone, Default)]
struct State {
    all_bound: bool,
    bound: Vec<Arc<PersistentVolumeClaim>>,
    delayed: Vec<Arc<PersistentVolumeClaim>>,
    /// The volumes of each class a delayed claim asks for, by name.
    volumes_by_class: HashMap<String, Vec<Arc<PersistentVolume>>>,
    by_node: Arc<Mutex<HashMap<String, PodVolumes>>>,
}

impl State {
    fn node_volumes(&self, node: &str) -> Option<PodVolumes> {
        self.by_node.lock().unwrap_or_else(|e| e.into_inner()).get(node).cloned()
    }
}

/// `ephemeral.VolumeIsForPod`: the claim of an ephemeral volume must be controlled by the pod.
fn ephemeral_owner_error(pod: &Pod, pvc: &PersistentVolumeClaim) -> Option<String> {
    let owned = pvc.metadata.namespace == pod.metadata.namespace
        && pvc
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && Some(&o.uid) == pod.metadata.uid.as_ref());
    (!owned).then(|| {
        format!(
            "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
            pvc.metadata.namespace.as_deref().unwrap_or(""),
            pvc.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        )
    })
}

fn pv_name(v: &PersistentVolume) -> &str {
    v.metadata.name.as_deref().unwrap_or("")
}

fn unresolvable(msg: impl Into<String>) -> Status {
    Status::new(Code::UnschedulableAndUnresolvable, msg)
}

/// What `FindPodVolumes` found on one node.
struct Findings {
    bound_ok: bool,
    unbound_ok: bool,
    enough_storage: bool,
    bound_pvs_found: bool,
    volumes: PodVolumes,
}

impl Findings {
    fn reasons(&self) -> Vec<String> {
        let mut r = Vec::new();
        if !self.bound_ok {
            r.push(ERR_NODE_CONFLICT.to_string());
        }
        if !self.unbound_ok {
            r.push(ERR_BIND_CONFLICT.to_string());
        }
        if !self.enough_storage {
            r.push(ERR_NOT_ENOUGH_SPACE.to_string());
        }
        if !self.bound_pvs_found {
            r.push(ERR_PV_NOT_EXIST.to_string());
        }
        r
    }
}

impl VolumeBinding {
    pub fn from_args(args: &Value, listers: Arc<dyn Listers>) -> VolumeBinding {
        let secs = args.get("bindTimeoutSeconds").and_then(Value::as_u64).unwrap_or(600);
        VolumeBinding {
            listers,
            bind_timeout: Duration::from_secs(secs),
            pvs: AssumeCache::new("v1.PersistentVolume"),
            pvcs: AssumeCache::new("v1.PersistentVolumeClaim"),
        }
    }

    fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.pvs.get(name, self.listers.pv(name))
    }

    fn pvc(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.pvcs.get(&format!("{ns}/{name}"), self.listers.pvc(ns, name))
    }

    /// Every volume of a class, as the assume cache sees them, by name.
    fn volumes_of_class(&self, class: &str) -> Vec<Arc<PersistentVolume>> {
        let mut out: Vec<Arc<PersistentVolume>> = self
            .listers
            .pvs()
            .into_iter()
            .filter_map(|v| self.pvs.get(pv_name(&v), Some(v.clone())))
            .filter(|v| volume_class(v) == class)
            .collect();
        out.sort_by(|a, b| pv_name(a).cmp(pv_name(b)));
        out
    }

    /// `FindPodVolumes` for one node; Err for an error that ends the cycle.
    fn find_pod_volumes(&self, st: &State, node: &NodeInfo) -> Result<Findings, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        let labels = node.labels().unwrap_or(&EMPTY);
        let mut f = Findings {
            bound_ok: true,
            unbound_ok: true,
            enough_storage: true,
            bound_pvs_found: true,
            volumes: PodVolumes::default(),
        };
        for claim in &st.bound {
            let Some(pv) = self.pv(volume_name_of(claim)) else {
                f.bound_pvs_found = false;
                break;
            };
            if !node_affinity_allows(&pv, labels) {
                f.bound_ok = false;
                break;
            }
        }
        let mut to_provision: Vec<Arc<PersistentVolumeClaim>> = Vec::new();
        let mut to_match: Vec<Arc<PersistentVolumeClaim>> = Vec::new();
        for claim in &st.delayed {
            match claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE)) {
                // Another pod's cycle already chose a node for this claim.
                Some(n) if n != node.name() => {
                    f.unbound_ok = false;
                    return Ok(f);
                }
                Some(_) => to_provision.push(claim.clone()),
                None => to_match.push(claim.clone()),
            }
        }
        if !to_match.is_empty() {
            to_match.sort_by_key(|c| requested(c));
            let mut chosen: HashSet<String> = HashSet::new();
            let mut all_found = true;
            for claim in to_match {
                let candidates: Vec<Arc<PersistentVolume>> = st
                    .volumes_by_class
                    .get(claim_class(&claim))
                    .into_iter()
                    .flatten()
                    .filter(|v| !chosen.contains(pv_name(v)))
                    .cloned()
                    .collect();
                match find_matching_volume(&claim, &candidates, Some(labels), true)? {
                    Some(pv) => {
                        chosen.insert(pv_name(&pv).to_string());
                        f.volumes.static_bindings.push((claim, pv));
                    }
                    None => {
                        all_found = false;
                        to_provision.push(claim);
                    }
                }
            }
            f.unbound_ok = all_found;
        }
        if !to_provision.is_empty() {
            let (unbound_ok, enough) = self.check_provisions(&to_provision, labels)?;
            f.unbound_ok = unbound_ok;
            f.enough_storage = enough;
            if unbound_ok && enough {
                f.volumes.provisions = to_provision;
            }
        }
        Ok(f)
    }

    /// `checkVolumeProvisions`: (the classes can provision here, there is room for it).
    fn check_provisions(
        &self,
        claims: &[Arc<PersistentVolumeClaim>],
        labels: &BTreeMap<String, String>,
    ) -> Result<(bool, bool), String> {
        for claim in claims {
            let class = claim_class(claim);
            if class.is_empty() {
                return Err(format!("no class for claim {:?}", claim_key(claim)));
            }
            let sc =
                self.listers.storage_class(class).ok_or_else(|| format!("failed to find storage class {class:?}"))?;
            if sc.provisioner.is_empty() || sc.provisioner == NOT_SUPPORTED_PROVISIONER {
                return Ok((false, true));
            }
            if !topology_terms_match(sc.allowed_topologies.as_deref().unwrap_or(&[]), labels) {
                return Ok((false, true));
            }
            if !self.has_enough_capacity(&sc.provisioner, claim, class, labels) {
                return Ok((true, false));
            }
        }
        Ok((true, true))
    }

    /// `hasEnoughCapacity`: only a CSI driver that publishes storage capacity is checked, against
    /// a CSIStorageCapacity of the class whose topology covers the node.
    fn has_enough_capacity(
        &self,
        provisioner: &str,
        claim: &PersistentVolumeClaim,
        class: &str,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let has_request = claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.contains_key("storage"));
        if !has_request {
            return true;
        }
        let Some(driver) = self.listers.csi_driver(provisioner) else { return true };
        if driver.spec.storage_capacity != Some(true) {
            return true;
        }
        let want = requested(claim);
        self.listers.csi_storage_capacities().iter().any(|c| {
            let limit = c.maximum_volume_size.as_ref().or(c.capacity.as_ref()).and_then(|q| Quantity::parse(&q.0));
            c.storage_class_name == class
                && limit.is_some_and(|l| l >= want)
                && c.node_topology
                    .as_ref()
                    .is_some_and(|sel| api_types::selector::selector_matches(Some(sel), Some(labels)).unwrap_or(false))
        })
    }

    /// `checkBindings`: Ok(true) once every claim is fully bound as the informers see it.
    fn check_bindings(
        &self,
        pod: &Pod,
        node: &str,
        vols: &PodVolumes,
        written: &HashMap<String, i64>,
    ) -> Result<bool, String> {
        let n =
            self.listers.node(node).ok_or_else(|| format!("failed to get node {node:?}: node {node:?} not found"))?;
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        let labels = n.metadata.labels.as_ref().unwrap_or(&EMPTY);
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let name = pod.metadata.name.as_deref().unwrap_or("");
        if self.listers.pod(ns, name).is_none() {
            return Err(format!("pod does not exist any more: pod {name:?} not found"));
        }
        let affinity_err = |pv: &PersistentVolume| {
            format!("pv {:?} node affinity doesn't match node {node:?}: {NO_MATCHING_TERMS}", pv_name(pv))
        };
        for (claim, pv) in &vols.static_bindings {
            let api_pv = self
                .listers
                .pv(pv_name(pv))
                .ok_or_else(|| format!("failed to check binding: persistentvolume {:?} not found", pv_name(pv)))?;
            let cns = claim.metadata.namespace.as_deref().unwrap_or("");
            let cname = claim.metadata.name.as_deref().unwrap_or("");
            let api_claim = self
                .listers
                .pvc(cns, cname)
                .ok_or_else(|| format!("failed to check binding: persistentvolumeclaim {cname:?} not found"))?;
            if resource_version(&api_pv.metadata) < written.get(&format!("pv/{}", pv_name(pv))).copied().unwrap_or(0) {
                return Ok(false);
            }
            if !node_affinity_allows(&api_pv, labels) {
                return Err(affinity_err(&api_pv));
            }
            if claim_ref(&api_pv).is_none_or(|r| r.uid.as_deref().unwrap_or("").is_empty()) {
                return Err(format!("ClaimRef got reset for pv {:?}", pv_name(pv)));
            }
            if !claim_fully_bound(&api_claim) {
                return Ok(false);
            }
        }
        for claim in &vols.provisions {
            let cns = claim.metadata.namespace.as_deref().unwrap_or("");
            let cname = claim.metadata.name.as_deref().unwrap_or("");
            let api_claim = self.listers.pvc(cns, cname).ok_or_else(|| {
                format!("failed to check provisioning pvc: persistentvolumeclaim {cname:?} not found")
            })?;
            if resource_version(&api_claim.metadata)
                < written.get(&format!("pvc/{}", claim_key(claim))).copied().unwrap_or(0)
            {
                return Ok(false);
            }
            let Some(anns) = api_claim.metadata.annotations.as_ref() else {
                return Err(format!("selectedNode annotation reset for PVC {cname:?}"));
            };
            if anns.get(ANN_SELECTED_NODE).map(String::as_str) != Some(node) {
                return Err(format!("provisioning failed for PVC {cname:?}"));
            }
            let vname = volume_name_of(&api_claim);
            if !vname.is_empty() {
                let Some(pv) = self.listers.pv(vname) else { return Ok(false) };
                if !node_affinity_allows(&pv, labels) {
                    return Err(affinity_err(&pv));
                }
            }
            if !claim_fully_bound(&api_claim) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `BindPodVolumes`: the writes (each volume, then each claim), then the wait.
    async fn bind_pod_volumes(&self, pod: &Pod, node: &str, vols: &PodVolumes) -> Status {
        let Some(client) = self.listers.client() else { return Status::new(Code::Error, "no API client") };
        let mut written: HashMap<String, i64> = HashMap::new();
        let pv_api: Api<PersistentVolume> = Api::all(client.clone());
        for (i, (_, pv)) in vols.static_bindings.iter().enumerate() {
            match pv_api.replace(pv_name(pv), &PostParams::default(), pv).await {
                Ok(new) => {
                    written.insert(format!("pv/{}", pv_name(pv)), resource_version(&new.metadata));
                }
                Err(e) => {
                    for (_, rest) in &vols.static_bindings[i..] {
                        self.pvs.restore(pv_name(rest));
                    }
                    for c in &vols.provisions {
                        self.pvcs.restore(&claim_key(c));
                    }
                    return Status::new(Code::Error, component_base::client::api_message(&e));
                }
            }
        }
        for (i, claim) in vols.provisions.iter().enumerate() {
            let api: Api<PersistentVolumeClaim> =
                Api::namespaced(client.clone(), claim.metadata.namespace.as_deref().unwrap_or(""));
            match api.replace(claim.metadata.name.as_deref().unwrap_or(""), &PostParams::default(), claim).await {
                Ok(new) => {
                    written.insert(format!("pvc/{}", claim_key(claim)), resource_version(&new.metadata));
                }
                Err(e) => {
                    for c in &vols.provisions[i..] {
                        self.pvcs.restore(&claim_key(c));
                    }
                    return Status::new(Code::Error, component_base::client::api_message(&e));
                }
            }
        }
        let deadline = tokio::time::Instant::now() + self.bind_timeout;
        loop {
            let next = tokio::time::Instant::now() + CHECK_INTERVAL;
            if next > deadline {
                tokio::time::sleep_until(deadline).await;
                return Status::new(Code::Error, "binding volumes: context deadline exceeded");
            }
            tokio::time::sleep_until(next).await;
            match self.check_bindings(pod, node, vols, &written) {
                Ok(true) => return Status::success(),
                Ok(false) => {}
                Err(e) => return Status::new(Code::Error, format!("binding volumes: {e}")),
            }
        }
    }
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let claims = pod_claims(pod);
        for (name, ephemeral) in &claims {
            let Some(pvc) = self.listers.pvc(ns, name) else {
                return unresolvable(if *ephemeral {
                    format!("waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}")
                } else {
                    format!("persistentvolumeclaim {name:?} not found")
                });
            };
            if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
                return unresolvable(format!(
                    "persistentvolumeclaim {name:?} bound to non-existent persistentvolume {:?}",
                    volume_name_of(&pvc)
                ));
            }
            if pvc.metadata.deletion_timestamp.is_some() {
                return unresolvable(format!("persistentvolumeclaim {name:?} is being deleted"));
            }
            if *ephemeral {
                if let Some(e) = ephemeral_owner_error(pod, &pvc) {
                    return unresolvable(e);
                }
            }
        }
        if claims.is_empty() {
            // Without state, Reserve and PreBind have nothing to do (all bound).
            return Status::skip();
        }
        let mut st = State::default();
        let mut immediate = false;
        for (name, ephemeral) in &claims {
            let Some(pvc) = self.pvc(ns, name) else {
                return Status::new(
                    Code::Error,
                    format!(
                        "error getting PVC \"{ns}/{name}\": could not find v1.PersistentVolumeClaim \"{ns}/{name}\""
                    ),
                );
            };
            if *ephemeral {
                if let Some(e) = ephemeral_owner_error(pod, &pvc) {
                    return Status::new(Code::Error, e);
                }
            }
            if claim_fully_bound(&pvc) {
                st.bound.push(pvc);
                continue;
            }
            let class = claim_class(&pvc);
            let sc = if class.is_empty() { None } else { self.listers.storage_class(class) };
            let delay = match delay_binding(class, sc.as_deref()) {
                Ok(d) => d,
                Err(e) => return Status::new(Code::Error, e),
            };
            if delay && volume_name_of(&pvc).is_empty() {
                st.delayed.push(pvc);
            } else {
                immediate = true;
            }
        }
        if immediate {
            return unresolvable(ERR_UNBOUND_IMMEDIATE);
        }
        for claim in &st.delayed {
            let class = claim_class(claim).to_string();
            if let std::collections::hash_map::Entry::Vacant(e) = st.volumes_by_class.entry(class) {
                let vols = self.volumes_of_class(e.key());
                e.insert(vols);
            }
        }
        state.write(NAME, st);
        Status::success()
    }
}

impl Filter for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Status {
        let Some(st) = state.read::<State>(NAME) else { return Status::success() };
        match self.find_pod_volumes(st, node) {
            Err(e) => Status::new(Code::Error, e),
            Ok(f) => {
                let reasons = f.reasons();
                if !reasons.is_empty() {
                    return Status { code: Code::UnschedulableAndUnresolvable, reasons, plugin: "" };
                }
                st.by_node.lock().unwrap_or_else(|e| e.into_inner()).insert(node.name().to_string(), f.volumes);
                Status::success()
            }
        }
    }
}

impl PreScore for VolumeBinding {
    fn pre_score(&self, _: &mut CycleState, _: &Pod, _: &[Arc<NodeInfo>], _: &Snapshot) -> Status {
        // The scorer exists only with the StorageCapacityScoring gate, which 1.33 leaves off.
        Status::skip()
    }
}

impl Score for VolumeBinding {
    fn score(&self, _: &CycleState, _: &Pod, _: &NodeInfo) -> i64 {
        0
    }
}

impl Reserve for VolumeBinding {
    /// `AssumePodVolumes`.
    fn reserve(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
        let Some(st) = state.read::<State>(NAME) else { return Status::success() };
        let Some(vols) = st.node_volumes(node) else {
            state.update::<State>(NAME, |s| s.all_bound = true);
            return Status::success();
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let all_bound =
            pod_claims(pod).iter().all(|(name, _)| self.pvc(ns, name).is_some_and(|c| claim_fully_bound(&c)));
        if all_bound {
            state.update::<State>(NAME, |s| s.all_bound = true);
            return Status::success();
        }
        let mut out = PodVolumes::default();
        for (claim, pv) in &vols.static_bindings {
            let (new, dirty) = bind_volume_to_claim(pv, claim);
            let new = Arc::new(new);
            if dirty {
                if let Err(e) = self.pvs.assume(pv_name(pv), new.clone(), self.listers.pv(pv_name(pv))) {
                    self.revert(&out);
                    return Status::new(Code::Error, e);
                }
            }
            out.static_bindings.push((claim.clone(), new));
        }
        for claim in &vols.provisions {
            let mut c = (**claim).clone();
            set_ann(&mut c.metadata, ANN_SELECTED_NODE, node);
            let c = Arc::new(c);
            let key = claim_key(claim);
            let (cns, cname) = key.split_once('/').unwrap_or(("", ""));
            if let Err(e) = self.pvcs.assume(&key, c.clone(), self.listers.pvc(cns, cname)) {
                self.revert(&out);
                return Status::new(Code::Error, e);
            }
            out.provisions.push(c);
        }
        st.by_node.lock().unwrap_or_else(|e| e.into_inner()).insert(node.to_string(), out);
        state.update::<State>(NAME, |s| s.all_bound = false);
        Status::success()
    }

    /// `RevertAssumedPodVolumes`.
    fn unreserve(&self, state: &CycleState, _pod: &Pod, node: &str) {
        if let Some(vols) = state.read::<State>(NAME).and_then(|st| st.node_volumes(node)) {
            self.revert(&vols);
        }
    }
}

impl VolumeBinding {
    fn revert(&self, vols: &PodVolumes) {
        for (_, pv) in &vols.static_bindings {
            self.pvs.restore(pv_name(pv));
        }
        for c in &vols.provisions {
            self.pvcs.restore(&claim_key(c));
        }
    }
}

impl PreBind for VolumeBinding {
    fn pre_bind<'a>(&'a self, state: &'a CycleState, pod: &'a Pod, node: &'a str) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let Some(st) = state.read::<State>(NAME) else { return Status::success() };
            if st.all_bound {
                return Status::success();
            }
            let Some(vols) = st.node_volumes(node) else {
                return Status::new(Code::Error, format!("no pod volumes found for node {node:?}"));
            };
            self.bind_pod_volumes(pod, node, &vols).await
        })
    }
}

/// The cluster events that can make a pod this plugin rejected fit: a claim of the pod
/// appearing or changing, any volume, class, CSI node or capacity change.
pub fn claim_event_helps(pending: &Pod, claim: &PersistentVolumeClaim) -> bool {
    pending.metadata.namespace == claim.metadata.namespace
        && pod_claims(pending).iter().any(|(n, _)| Some(n) == claim.metadata.name.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{NodeInfo, Snapshot};
    use crate::plugins::testing::{obj, Fake};
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::api::storage::v1::StorageClass;
    use serde_json::json;

    fn node(name: &str) -> NodeInfo {
        let mut n = NodeInfo::default();
        n.set_node(obj::<Node>(json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})));
        n
    }

    fn local_pv(name: &str, size: &str, host: &str) -> Arc<PersistentVolume> {
        obj(json!({"metadata": {"name": name, "resourceVersion": "1"}, "spec": {
            "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "local": {"path": "/mnt"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}},
            "status": {"phase": "Available"}}))
    }

    fn claim(name: &str, size: &str, class: &str) -> Arc<PersistentVolumeClaim> {
        obj(json!({"metadata": {"name": name, "namespace": "d", "uid": format!("uid-{name}"), "resourceVersion": "1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                "resources": {"requests": {"storage": size}}}}))
    }

    fn class(name: &str, mode: &str, provisioner: &str) -> Arc<StorageClass> {
        obj(json!({"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}))
    }

    fn pod(claims: &[&str]) -> Pod {
        let vols: Vec<Value> =
            claims.iter().map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}})).collect();
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d", "uid": "u"},
            "spec": {"containers": [{"name": "c"}], "volumes": vols}}))
        .unwrap()
    }

    fn plugin(f: Fake) -> VolumeBinding {
        VolumeBinding::from_args(&json!({}), Arc::new(f))
    }

    #[test]
    fn immediate_and_missing_claims_are_refused_before_filtering() {
        let vb = plugin(Fake {
            pvcs: vec![claim("now", "1Gi", "fast")],
            classes: vec![class("fast", "Immediate", "example.com/x")],
            ..Default::default()
        });
        let mut st = CycleState::default();
        let s = vb.pre_filter(&mut st, &pod(&["now"]), &Snapshot::default());
        assert_eq!((s.code, s.message()), (Code::UnschedulableAndUnresolvable, ERR_UNBOUND_IMMEDIATE.into()));
        let s = vb.pre_filter(&mut st, &pod(&["gone"]), &Snapshot::default());
        assert_eq!(s.message(), "persistentvolumeclaim \"gone\" not found");
        let s = vb.pre_filter(&mut st, &pod(&[]), &Snapshot::default());
        assert_eq!(s.code, Code::Skip);
    }

    #[test]
    fn delayed_claims_take_the_smallest_local_volume_on_the_node_and_reserve_assumes_it() {
        let vb = plugin(Fake {
            pvcs: vec![claim("data", "1Gi", "local")],
            pvs: vec![local_pv("a-big", "10Gi", "a"), local_pv("a-small", "2Gi", "a"), local_pv("b", "5Gi", "b")],
            classes: vec![class("local", "WaitForFirstConsumer", NOT_SUPPORTED_PROVISIONER)],
            ..Default::default()
        });
        let p = pod(&["data"]);
        let mut st = CycleState::default();
        assert!(vb.pre_filter(&mut st, &p, &Snapshot::default()).is_success());
        assert!(vb.filter(&st, &p, &node("a")).is_success());
        assert!(vb.filter(&st, &p, &node("b")).is_success());
        let c = vb.filter(&st, &p, &node("c"));
        assert_eq!((c.code, c.message()), (Code::UnschedulableAndUnresolvable, ERR_BIND_CONFLICT.into()));
        assert!(vb.reserve(&mut st, &p, "a").is_success());
        let vols = st.read::<State>(NAME).unwrap().node_volumes("a").unwrap();
        assert_eq!(pv_name(&vols.static_bindings[0].1), "a-small");
        // The next pod's cycle sees the volume taken.
        let assumed = vb.pv("a-small").unwrap();
        assert_eq!(claim_ref(&assumed).and_then(|r| r.uid.as_deref()), Some("uid-data"));
        let vols = vb.volumes_of_class("local");
        let mut other = CycleState::default();
        let q = serde_json::from_value::<Pod>(json!({"metadata": {"name": "q", "namespace": "d"}, "spec": {
            "containers": [{"name": "c"}], "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}}))
        .unwrap();
        assert!(vols.iter().any(|v| pv_name(v) == "a-small" && claim_ref(v).is_some()));
        assert!(vb.pre_filter(&mut other, &q, &Snapshot::default()).is_success());
        vb.unreserve(&st, &p, "a");
        assert!(claim_ref(&vb.pv("a-small").unwrap()).is_none(), "unreserve gives the volume back");
    }

    #[test]
    fn without_a_static_volume_the_class_must_be_able_to_provision_there() {
        let mut sc = (*class("dyn", "WaitForFirstConsumer", "example.com/csi")).clone();
        sc.allowed_topologies = serde_json::from_value(json!([{"matchLabelExpressions": [
            {"key": "kubernetes.io/hostname", "values": ["b"]}]}]))
        .unwrap();
        let vb =
            plugin(Fake { pvcs: vec![claim("data", "1Gi", "dyn")], classes: vec![Arc::new(sc)], ..Default::default() });
        let p = pod(&["data"]);
        let mut st = CycleState::default();
        assert!(vb.pre_filter(&mut st, &p, &Snapshot::default()).is_success());
        assert_eq!(vb.filter(&st, &p, &node("a")).message(), ERR_BIND_CONFLICT);
        assert!(vb.filter(&st, &p, &node("b")).is_success());
        assert!(vb.reserve(&mut st, &p, "b").is_success());
        let assumed = vb.pvc("d", "data").unwrap();
        assert_eq!(assumed.metadata.annotations.as_ref().unwrap()[ANN_SELECTED_NODE], "b");
        // Another pod sharing the claim now fits only on the selected node.
        let mut st2 = CycleState::default();
        assert!(vb.pre_filter(&mut st2, &p, &Snapshot::default()).is_success());
        assert_eq!(vb.filter(&st2, &p, &node("a")).message(), ERR_BIND_CONFLICT);
        assert!(vb.filter(&st2, &p, &node("b")).is_success());
    }

    #[test]
    fn a_bound_claim_needs_its_volume_and_the_volumes_node_affinity() {
        let mut bound = (*claim("data", "1Gi", "local")).clone();
        bound.spec.as_mut().unwrap().volume_name = Some("a-small".into());
        set_ann(&mut bound.metadata, api_types::storage::ANN_BIND_COMPLETED, "yes");
        let mut orphan = bound.clone();
        orphan.metadata.name = Some("orphan".into());
        orphan.spec.as_mut().unwrap().volume_name = Some("missing".into());
        let vb = plugin(Fake {
            pvcs: vec![Arc::new(bound), Arc::new(orphan)],
            pvs: vec![local_pv("a-small", "2Gi", "a")],
            ..Default::default()
        });
        let p = pod(&["data"]);
        let mut st = CycleState::default();
        assert!(vb.pre_filter(&mut st, &p, &Snapshot::default()).is_success());
        assert!(vb.filter(&st, &p, &node("a")).is_success());
        assert_eq!(vb.filter(&st, &p, &node("b")).message(), ERR_NODE_CONFLICT);
        assert!(vb.reserve(&mut st, &p, "a").is_success());
        assert!(st.read::<State>(NAME).unwrap().all_bound);
        let p = pod(&["orphan"]);
        let mut st = CycleState::default();
        assert!(vb.pre_filter(&mut st, &p, &Snapshot::default()).is_success());
        assert_eq!(vb.filter(&st, &p, &node("a")).message(), ERR_PV_NOT_EXIST);
    }
}
