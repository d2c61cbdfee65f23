//! `persistentvolume-binder-controller` (upstream `pkg/controller/volume/persistentvolume`,
//! the PersistentVolumeController): binds each unbound claim to the smallest available volume
//! that satisfies it (class, access modes, volume mode, capacity, selector, pre-binding on
//! either side) by writing the volume's `claimRef` first and the claim's `volumeName` second,
//! moves volumes through Available/Bound/Released/Failed, and reclaims a released volume by
//! its policy: Retain keeps it, Delete deletes it through the in-tree hostPath deleter (only
//! under `/tmp/`) or leaves it to an external deleter, Recycle is reported unsupported.
//!
//! Claims of a `WaitForFirstConsumer` class wait for a consumer: kube-scheduler's VolumeBinding
//! plugin pre-binds a volume that fits the chosen node (its `claimRef`), which this controller
//! then completes, or sets the claim's `volume.kubernetes.io/selected-node` to ask for
//! provisioning, which this controller starts. Claims whose class names a provisioner outside `kubernetes.io/` are annotated for
//! that external provisioner. Like upstream, the controller keeps its own cache of the newest
//! versions it wrote, so that a stale informer event never makes it bind twice, and resyncs
//! every `--pvclaimbinder-sync-period`.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use api_types::storage::*;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The in-tree plugin kube-controller-manager registers that can delete (and, with
/// `--enable-hostpath-provisioner`, provision) volumes.
const HOST_PATH_PLUGIN: &str = "kubernetes.io/host-path";
/// The in-tree plugin that can only recycle.
const NFS_PLUGIN: &str = "kubernetes.io/nfs";

/// `updateClaimStatus`'s new status: the phase, and the volume's access modes and (when the
/// claim is just becoming that phase) capacity; without a volume both are cleared.
pub fn claim_status_for(
    c: &PersistentVolumeClaim,
    phase: &str,
    v: Option<&PersistentVolume>,
) -> Option<PersistentVolumeClaimStatus> {
    let old = c.status.clone().unwrap_or_default();
    let mut new = old.clone();
    new.phase = Some(phase.to_string());
    match v {
        None => {
            new.access_modes = None;
            new.capacity = None;
        }
        Some(v) => {
            let modes = v.spec.as_ref().and_then(|s| s.access_modes.clone());
            new.access_modes = modes;
            if claim_phase(c) != phase {
                let cap = v.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage"));
                let have = old.capacity.as_ref().and_then(|c| c.get("storage"));
                if let Some(cap) = cap {
                    if have.is_none_or(|h| parse_quantity(Some(h)) != parse_quantity(Some(cap))) {
                        new.capacity = v.spec.as_ref().and_then(|s| s.capacity.clone());
                    }
                }
            }
        }
    }
    (new != old).then_some(new)
}

pub const POD_PVC_INDEX: &str = "pod-pvc";

/// `IsPodTerminated`: finished, or being deleted with no container running (each one
/// terminated or waiting).
pub fn pod_terminated(pod: &Pod) -> bool {
    let phase = util::pod_phase(pod);
    if phase == "Succeeded" || phase == "Failed" {
        return true;
    }
    let status = pod.status.clone().unwrap_or_default();
    let not_running = |cs: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>| {
        cs.into_iter()
            .flatten()
            .all(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some() || s.waiting.is_some()))
    };
    pod.metadata.deletion_timestamp.is_some()
        && not_running(status.init_container_statuses.as_ref())
        && not_running(status.container_statuses.as_ref())
        && not_running(status.ephemeral_container_statuses.as_ref())
}

/// Objects by key, holding the newest version seen or written (`storeObjectUpdate`): an
/// older resourceVersion never replaces a newer one.
struct Versioned<K> {
    map: Mutex<HashMap<String, Arc<K>>>,
}

impl<K: kube::Resource> Versioned<K> {
    fn new() -> Self {
        Versioned { map: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<K>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `obj` unless the cache has a newer version; true when stored.
    fn store(&self, key: &str, obj: Arc<K>) -> bool {
        let mut m = self.lock();
        if let Some(old) = m.get(key) {
            if resource_version(old.meta()) > resource_version(obj.meta()) {
                return false;
            }
        }
        m.insert(key.to_string(), obj);
        true
    }

    fn get(&self, key: &str) -> Option<Arc<K>> {
        self.lock().get(key).cloned()
    }

    fn remove(&self, key: &str) -> Option<Arc<K>> {
        self.lock().remove(key)
    }

    fn list(&self) -> Vec<Arc<K>> {
        self.lock().values().cloned().collect()
    }
}

struct Pvc {
    client: Client,
    volume_inf: Informer<PersistentVolume>,
    claim_inf: Informer<PersistentVolumeClaim>,
    classes: Informer<StorageClass>,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    volumes: Versioned<PersistentVolume>,
    claims: Versioned<PersistentVolumeClaim>,
    volume_queue: WorkQueue<String>,
    claim_queue: WorkQueue<String>,
    recorder: Recorder,
    dynamic_provisioning: bool,
    /// Failed delete operations by volume UID: when the next try may run and the backoff
    /// after it (upstream's goroutinemap exponential backoff).
    delete_backoff: Mutex<HashMap<String, (tokio::time::Instant, std::time::Duration)>>,
}

/// goroutinemap's `initialDurationBeforeRetry` and `maxDurationBeforeRetry`.
const BACKOFF_INITIAL: std::time::Duration = std::time::Duration::from_millis(500);
const BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(122);

/// The backoff after another failure: doubled, capped.
fn next_backoff(prev: Option<std::time::Duration>) -> std::time::Duration {
    prev.map_or(BACKOFF_INITIAL, |d| (d * 2).min(BACKOFF_MAX))
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("persistent-volume-binder").await?;
    let c = Arc::new(Pvc {
        recorder: ctx.recorder(&client, "persistentvolume-controller"),
        client,
        volume_inf: ctx.informers.get(),
        claim_inf: ctx.informers.get(),
        classes: ctx.informers.get(),
        pods: ctx.informers.get(),
        nodes: ctx.informers.get(),
        volumes: Versioned::new(),
        claims: Versioned::new(),
        volume_queue: WorkQueue::new("volumes"),
        claim_queue: WorkQueue::new("claims"),
        dynamic_provisioning: ctx.opts.enable_dynamic_provisioning,
        delete_backoff: Mutex::new(HashMap::new()),
    });
    c.pods.add_index(POD_PVC_INDEX, pod_claim_keys);
    let x = c.clone();
    c.volume_inf.add_handler(move |ch| match ch {
        Change::Added(v) | Change::Updated { new: v, .. } | Change::Deleted(v) => x.volume_queue.add(v.name_any()),
    });
    let x = c.clone();
    c.claim_inf.add_handler(move |ch| match ch {
        Change::Added(p) | Change::Updated { new: p, .. } | Change::Deleted(p) => x.claim_queue.add(claim_key(p)),
    });
    let resync = ctx.opts.pvclaimbinder_sync_period;
    tokio::spawn(async move {
        c.volume_inf.wait_synced().await;
        c.claim_inf.wait_synced().await;
        c.classes.wait_synced().await;
        c.pods.wait_synced().await;
        c.nodes.wait_synced().await;
        // initializeCaches: the controller's own view starts from the informers'.
        for v in c.volume_inf.list() {
            c.volumes.store(&v.name_any(), v);
        }
        for p in c.claim_inf.list() {
            c.claims.store(&claim_key(&p), p);
        }
        // One worker per queue: two claim syncs at once could bind one volume twice.
        let x = c.clone();
        c.volume_queue.run_workers(1, move |key: String| {
            let x = x.clone();
            async move { x.volume_worker(&key).await }
        });
        let x = c.clone();
        c.claim_queue.run_workers(1, move |key: String| {
            let x = x.clone();
            async move { x.claim_worker(&key).await }
        });
        loop {
            tokio::time::sleep(resync).await;
            for p in c.claim_inf.list() {
                c.claim_queue.add(claim_key(&p));
            }
            for v in c.volume_inf.list() {
                c.volume_queue.add(v.name_any());
            }
        }
    });
    Ok(true)
}

/// A conflict is the normal outcome of racing our own writes; the next sync fixes it.
fn quiet_conflict(r: Result<(), Error>, what: &str) -> Result<(), Error> {
    match r {
        Err(Error::Kube(kube::Error::Api(s))) if s.code == 409 => {
            tracing::debug!("{what}: conflict, will retry: {}", s.message);
            Err(Error::Kube(kube::Error::Api(s)))
        }
        Err(e) => {
            tracing::info!("{what}: {e}");
            Err(e)
        }
        ok => ok,
    }
}

impl Pvc {
    fn pv_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn pvc_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    async fn volume_worker(&self, name: &str) -> Result<(), Error> {
        if let Some(v) = self.volume_inf.get("", name) {
            if !self.volumes.store(name, v.clone()) {
                return Ok(());
            }
            return quiet_conflict(self.sync_volume(v).await, &format!("syncing volume {name:?}"));
        }
        // Gone from the informer: deleted. Its claim becomes Lost without waiting for a resync.
        if let Some(v) = self.volumes.remove(name) {
            let op = format!("delete-{name}[{}]", uid(&v.metadata));
            self.delete_backoff.lock().unwrap_or_else(|e| e.into_inner()).remove(&op);
            if let Some(r) = claim_ref(&v) {
                self.claim_queue.add(ref_key(r));
            }
        }
        Ok(())
    }

    async fn claim_worker(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        if let Some(c) = self.claim_inf.get(ns, name) {
            if !self.claims.store(key, c.clone()) {
                return Ok(());
            }
            return quiet_conflict(self.sync_claim(c).await, &format!("syncing claim {key:?}"));
        }
        // Deleted: its volume is released without waiting for a resync.
        if let Some(c) = self.claims.remove(key) {
            let v = volume_name_of(&c);
            if !v.is_empty() {
                self.volume_queue.add(v.to_string());
            }
        }
        Ok(())
    }

    async fn sync_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        if ann(&claim.metadata, ANN_BIND_COMPLETED).is_none() {
            self.sync_unbound_claim(claim).await
        } else {
            self.sync_bound_claim(claim).await
        }
    }

    /// `IsDelayBindingMode`: the claim's class exists and waits for the first consumer.
    fn delay_binding(&self, claim: &PersistentVolumeClaim) -> Result<bool, Error> {
        let class = claim_class(claim);
        let sc = if class.is_empty() { None } else { self.classes.get("", class) };
        api_types::storage::delay_binding(class, sc.as_deref()).map_err(Error::Config)
    }

    async fn sync_unbound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let wanted = volume_name_of(&claim).to_string();
        if wanted.is_empty() {
            let delay = self.delay_binding(&claim)?;
            let all = self.volumes.list();
            let key = claim_key(&claim);
            let found = find_best_match(&claim, &all, None, delay)
                .map_err(|e| Error::Config(format!("error finding PV for claim {key:?}: {e}")))?;
            let selected = ann(&claim.metadata, ANN_SELECTED_NODE).map(str::to_string);
            if let Some(v) = found {
                return self.bind(v, claim).await;
            }
            if self.assign_default_class(&claim).await? {
                return Ok(());
            }
            if delay && selected.is_none() {
                self.emit_unbound_delay_event(&claim);
            } else if !claim_class(&claim).is_empty() {
                return self.provision_claim(&claim).await;
            } else {
                self.recorder.normal(
                    claim.as_ref(),
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set",
                );
            }
            self.update_claim_status(&claim, "Pending", None).await?;
            return Ok(());
        }
        let Some(volume) = self.volumes.get(&wanted) else {
            // Asked for a volume that does not exist (yet).
            self.update_claim_status(&claim, "Pending", None).await?;
            return Ok(());
        };
        match claim_ref(&volume) {
            None => {
                if let Err(why) = check_volume_satisfies_claim(&volume, &claim) {
                    self.recorder.warning(
                        claim.as_ref(),
                        "VolumeMismatch",
                        format!("Cannot bind to requested volume {wanted:?}: {why}"),
                    );
                    self.update_claim_status(&claim, "Pending", None).await?;
                    return Ok(());
                }
                self.bind(volume, claim).await
            }
            Some(_) if is_volume_bound_to_claim(&volume, &claim) => self.bind(volume, claim).await,
            Some(r) => {
                let msg = format!("volume {wanted:?} already bound to a different claim.");
                self.recorder.warning(claim.as_ref(), "FailedBinding", msg);
                if ann(&claim.metadata, ANN_BOUND_BY_CONTROLLER).is_none() {
                    self.update_claim_status(&claim, "Pending", None).await?;
                    return Ok(());
                }
                Err(Error::Config(format!(
                    "invalid binding of claim {:?} to volume {wanted:?}: volume already claimed by {:?}",
                    claim_key(&claim),
                    ref_key(r)
                )))
            }
        }
    }

    /// `emitEventForUnboundDelayBindingClaim`: which consumer the claim is waiting for.
    fn emit_unbound_delay_event(&self, claim: &PersistentVolumeClaim) {
        let mut names: Vec<String> = self
            .pods
            .by_index(POD_PVC_INDEX, &claim_key(claim))
            .iter()
            .filter(|p| !pod_terminated(p))
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty))
            .map(|p| p.name_any())
            .collect();
        names.sort();
        let (reason, msg) = match names.len() {
            0 => ("WaitForFirstConsumer", "waiting for first consumer to be created before binding".to_string()),
            1 => ("WaitForPodScheduled", format!("waiting for pod {} to be scheduled", names[0])),
            _ => ("WaitForPodScheduled", format!("waiting for pods {} to be scheduled", names.join(","))),
        };
        self.recorder.normal(claim, reason, msg);
    }

    /// `assignDefaultStorageClass`: a claim that asked for no class at all gets the default
    /// one retroactively (a claim created before any default existed).
    async fn assign_default_class(&self, claim: &PersistentVolumeClaim) -> Result<bool, Error> {
        if claim_has_class(claim) {
            return Ok(false);
        }
        let Some(class) = default_class(&self.classes.list()) else { return Ok(false) };
        let mut copy = claim.clone();
        copy.spec.get_or_insert_with(Default::default).storage_class_name = Some(class);
        let ns = claim.namespace().unwrap_or_default();
        let out = self.pvc_api(&ns).replace(&claim.name_any(), &PostParams::default(), &copy).await?;
        self.claims.store(&claim_key(&out), Arc::new(out));
        Ok(true)
    }

    async fn sync_bound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let wanted = volume_name_of(&claim).to_string();
        if wanted.is_empty() {
            let msg = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
            return self.claim_status_with_event(&claim, "Lost", "ClaimLost", msg).await;
        }
        let Some(volume) = self.volumes.get(&wanted) else {
            let msg = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            return self.claim_status_with_event(&claim, "Lost", "ClaimLost", msg).await;
        };
        match claim_ref(&volume) {
            None => self.bind(volume, claim).await,
            Some(r) if ref_uid(r) == uid(&claim.metadata) => self.bind(volume, claim).await,
            Some(_) => {
                let msg = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.claim_status_with_event(&claim, "Lost", "ClaimMisbound", msg).await
            }
        }
    }

    async fn claim_status_with_event(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        reason: &str,
        msg: &str,
    ) -> Result<(), Error> {
        if claim_phase(claim) == phase {
            return Ok(());
        }
        let out = self.update_claim_status(claim, phase, None).await?;
        self.recorder.warning(out.as_ref(), reason, msg);
        Ok(())
    }

    async fn sync_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
        let Some(r) = claim_ref(&volume).cloned() else {
            self.update_volume_phase(&volume, "Available", "").await?;
            return Ok(());
        };
        if ref_uid(&r).is_empty() {
            // Pre-bound to a claim that the claim sync has not bound yet.
            self.update_volume_phase(&volume, "Available", "").await?;
            return Ok(());
        }
        let key = ref_key(&r);
        let (ns, name) = util::split_key(&key);
        let mut claim = self.claims.get(&key);
        if claim.is_none() && phase(&volume) != "Released" && phase(&volume) != "Failed" {
            // The claim may just not be seen yet (e.g. bound by an external binder): ask the
            // informer, then the apiserver, before releasing the volume.
            claim = match self.claim_inf.get(ns, name) {
                Some(c) => Some(c),
                None => self.pvc_api(ns).get_opt(name).await?.map(Arc::new),
            };
        }
        if let Some(c) = &claim {
            if uid(&c.metadata) != ref_uid(&r) {
                // Maybe a stale cache: the apiserver decides whether it is a new claim.
                claim = self.pvc_api(ns).get_opt(name).await?.map(Arc::new);
                if claim.as_ref().is_some_and(|c| uid(&c.metadata) != ref_uid(&r)) {
                    claim = None;
                }
            }
        }
        let Some(claim) = claim else {
            let mut volume = volume;
            if phase(&volume) != "Released" && phase(&volume) != "Failed" {
                tracing::info!(volume = volume.name_any(), "volume is released and reclaim policy will be executed");
                volume = self.update_volume_phase(&volume, "Released", "").await?;
            }
            return self.reclaim_volume(&volume).await;
        };
        let bound_to = volume_name_of(&claim).to_string();
        if bound_to.is_empty() {
            if volume_mode_mismatch(&claim, &volume) {
                self.recorder.warning(
                    volume.as_ref(),
                    "VolumeMismatch",
                    format!(
                        "Cannot bind PersistentVolume to requested PersistentVolumeClaim {:?} due to incompatible volumeMode.",
                        claim.name_any()
                    ),
                );
                self.recorder.warning(
                    claim.as_ref(),
                    "VolumeMismatch",
                    format!(
                        "Cannot bind PersistentVolume {:?} to requested PersistentVolumeClaim due to incompatible volumeMode.",
                        volume.name_any()
                    ),
                );
                return Ok(());
            }
            // Bound on the volume's side only: the claim sync finishes it.
            self.claim_queue.add(claim_key(&claim));
            return Ok(());
        }
        if bound_to == volume.name_any() {
            self.update_volume_phase(&volume, "Bound", "").await?;
            return Ok(());
        }
        // The claim is bound to another volume.
        if ann(&volume.metadata, ANN_DYNAMICALLY_PROVISIONED).is_some() && reclaim_policy(&volume) == "Delete" {
            let mut volume = volume;
            if phase(&volume) != "Released" && phase(&volume) != "Failed" {
                volume = self.update_volume_phase(&volume, "Released", "").await?;
            }
            return self.reclaim_volume(&volume).await;
        }
        self.unbind_volume(&volume).await
    }

    /// `unbindVolume`: a binding the controller made is undone; a user's pre-binding keeps
    /// its name and loses the UID.
    async fn unbind_volume(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let mut copy = volume.clone();
        if ann(&volume.metadata, ANN_BOUND_BY_CONTROLLER).is_some() {
            if let Some(s) = copy.spec.as_mut() {
                s.claim_ref = None;
            }
            if let Some(a) = copy.metadata.annotations.as_mut() {
                a.remove(ANN_BOUND_BY_CONTROLLER);
                if a.is_empty() {
                    copy.metadata.annotations = None;
                }
            }
        } else if let Some(r) = copy.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
            r.uid = None;
        }
        let out = self.pv_api().replace(&volume.name_any(), &PostParams::default(), &copy).await?;
        let out = Arc::new(out);
        self.volumes.store(&out.name_any(), out.clone());
        self.update_volume_phase(&out, "Available", "").await?;
        Ok(())
    }

    /// `bind`: the volume first (claimRef, then phase), then the claim (volumeName, then
    /// status). Each write is skipped when already done; a failure leaves the rest to the next
    /// sync.
    async fn bind(&self, volume: Arc<PersistentVolume>, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let (bound, dirty) = bind_volume_to_claim(&volume, &claim);
        let volume = if dirty {
            tracing::info!(volume = volume.name_any(), claim = claim_key(&claim), "claim bound to volume");
            let out = Arc::new(self.pv_api().replace(&volume.name_any(), &PostParams::default(), &bound).await?);
            self.volumes.store(&out.name_any(), out.clone());
            out
        } else {
            volume
        };
        let volume = self.update_volume_phase(&volume, "Bound", "").await?;
        let claim = match bind_claim_to_volume(&claim, &volume) {
            Some(copy) => {
                let ns = claim.namespace().unwrap_or_default();
                let out = Arc::new(self.pvc_api(&ns).replace(&claim.name_any(), &PostParams::default(), &copy).await?);
                self.claims.store(&claim_key(&out), out.clone());
                out
            }
            None => claim,
        };
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        Ok(())
    }

    async fn update_claim_status(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let Some(status) = claim_status_for(claim, phase, volume) else {
            return Ok(Arc::new(claim.clone()));
        };
        let mut copy = claim.clone();
        copy.status = Some(status);
        let ns = claim.namespace().unwrap_or_default();
        let out = Arc::new(self.pvc_api(&ns).replace_status(&claim.name_any(), &PostParams::default(), &copy).await?);
        self.claims.store(&claim_key(&out), out.clone());
        tracing::info!(claim = claim_key(claim), phase, "claim entered phase");
        Ok(out)
    }

    /// `updateVolumePhase` (the apiserver stamps `lastPhaseTransitionTime`).
    async fn update_volume_phase(
        &self,
        volume: &PersistentVolume,
        new_phase: &str,
        message: &str,
    ) -> Result<Arc<PersistentVolume>, Error> {
        if phase(volume) == new_phase {
            return Ok(Arc::new(volume.clone()));
        }
        let mut copy = volume.clone();
        let status = copy.status.get_or_insert_with(PersistentVolumeStatus::default);
        status.phase = Some(new_phase.to_string());
        status.message = (!message.is_empty()).then(|| message.to_string());
        let out = Arc::new(self.pv_api().replace_status(&volume.name_any(), &PostParams::default(), &copy).await?);
        self.volumes.store(&out.name_any(), out.clone());
        tracing::info!(volume = volume.name_any(), phase = new_phase, "volume entered phase");
        Ok(out)
    }

    async fn volume_phase_with_event(
        &self,
        volume: &PersistentVolume,
        new_phase: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), Error> {
        if phase(volume) == new_phase {
            return Ok(());
        }
        let out = self.update_volume_phase(volume, new_phase, message).await?;
        self.recorder.warning(out.as_ref(), reason, message);
        Ok(())
    }

    /// `reclaimVolume`: the volume's policy, once its claim is gone.
    async fn reclaim_volume(&self, volume: &PersistentVolume) -> Result<(), Error> {
        if ann(&volume.metadata, ANN_MIGRATED_TO).is_some_and(|m| !m.is_empty()) {
            return Ok(());
        }
        match reclaim_policy(volume) {
            "Retain" => Ok(()),
            "Recycle" => self.recycle_volume(volume).await,
            "Delete" => self.delete_volume_operation(volume).await,
            _ => {
                let msg = "Volume has unrecognized PersistentVolumeReclaimPolicy";
                self.volume_phase_with_event(volume, "Failed", "VolumeUnknownReclaimPolicy", msg).await
            }
        }
    }

    /// Recycling needs a recycler pod run on the volume's host; without one, the volume is
    /// reported as upstream reports a volume no recycler plugin supports.
    async fn recycle_volume(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let msg = "No recycler plugin found for the volume!";
        self.volume_phase_with_event(volume, "Failed", "VolumeFailedRecycle", msg).await
    }

    /// `deleteVolumeOperation`: re-read the volume, check it is still released, delete the
    /// storage through its plugin, then the object. A plugin failure marks it Failed (once)
    /// and is retried on every sync; an external deleter is waited for.
    async fn delete_volume_operation(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let op = format!("delete-{}[{}]", volume.name_any(), uid(&volume.metadata));
        let prev = {
            let b = self.delete_backoff.lock().unwrap_or_else(|e| e.into_inner());
            match b.get(&op) {
                Some((at, _)) if tokio::time::Instant::now() < *at => {
                    tracing::debug!(operation = op, "operation postponed due to exponential backoff");
                    return Ok(());
                }
                other => other.map(|(_, d)| *d),
            }
        };
        let r = self.try_delete_volume(volume).await;
        let mut b = self.delete_backoff.lock().unwrap_or_else(|e| e.into_inner());
        match &r {
            Ok(true) => {
                b.remove(&op);
            }
            _ => {
                let d = next_backoff(prev);
                b.insert(op, (tokio::time::Instant::now() + d, d));
            }
        }
        r.map(|_| ())
    }

    /// One delete attempt: `Ok(true)` when it did not fail.
    async fn try_delete_volume(&self, volume: &PersistentVolume) -> Result<bool, Error> {
        let Some(fresh) = self.pv_api().get_opt(&volume.name_any()).await? else { return Ok(true) };
        if !self.is_volume_released(&fresh) {
            return Ok(true);
        }
        match delete_storage(&fresh) {
            Ok(false) => Ok(true),
            Ok(true) => {
                tracing::info!(volume = fresh.name_any(), "volume deleted");
                match self.pv_api().delete(&fresh.name_any(), &DeleteParams::default()).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(true),
                    Err(e) => Err(e.into()),
                }
            }
            Err(msg) => {
                tracing::info!(volume = fresh.name_any(), "deletion of volume failed: {msg}");
                self.volume_phase_with_event(&fresh, "Failed", "VolumeFailedDelete", &msg).await?;
                Ok(false)
            }
        }
    }

    /// `isVolumeReleased`: bound to a claim that is gone or bound elsewhere.
    fn is_volume_released(&self, volume: &PersistentVolume) -> bool {
        let Some(r) = claim_ref(volume) else { return false };
        if ref_uid(r).is_empty() {
            return false;
        }
        match self.claims.get(&ref_key(r)) {
            Some(c) if uid(&c.metadata) == ref_uid(r) => {
                let bound_to = volume_name_of(&c);
                !bound_to.is_empty() && bound_to != volume.name_any()
            }
            _ => true,
        }
    }

    /// `provisionClaim`: the class's in-tree plugin, or an external provisioner asked for
    /// through the claim's annotations.
    async fn provision_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), Error> {
        if !self.dynamic_provisioning {
            return Ok(());
        }
        let class_name = claim_class(claim);
        let Some(class) = self.classes.get("", class_name) else {
            let msg = format!("storageclass.storage.k8s.io {class_name:?} not found");
            self.recorder.warning(claim, "ProvisioningFailed", msg);
            return Ok(());
        };
        let provisioner = class.provisioner.clone();
        match in_tree_provisioner(&provisioner) {
            InTree::External => {
                let claim = self.set_claim_provisioner(claim, &provisioner).await?;
                let msg = format!(
                    "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
                );
                self.recorder.normal(claim.as_ref(), "ExternalProvisioning", msg);
            }
            InTree::Missing(err) => self.recorder.warning(claim, "ProvisioningFailed", err),
            InTree::HostPath => {
                let claim = self.set_claim_provisioner(claim, &provisioner).await?;
                let msg = format!(
                    "Failed to create provisioner: Provisioning in volume plugin {HOST_PATH_PLUGIN:?} is disabled"
                );
                self.recorder.warning(claim.as_ref(), "ProvisioningFailed", msg);
            }
        }
        Ok(())
    }

    /// `setClaimProvisioner`: both the GA and the beta annotation name the provisioner.
    async fn set_claim_provisioner(
        &self,
        claim: &PersistentVolumeClaim,
        provisioner: &str,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        if ann(&claim.metadata, ANN_BETA_STORAGE_PROVISIONER) == Some(provisioner) {
            return Ok(Arc::new(claim.clone()));
        }
        let mut copy = claim.clone();
        set_ann(&mut copy.metadata, ANN_BETA_STORAGE_PROVISIONER, provisioner);
        set_ann(&mut copy.metadata, ANN_STORAGE_PROVISIONER, provisioner);
        let ns = claim.namespace().unwrap_or_default();
        let out = Arc::new(self.pvc_api(&ns).replace(&claim.name_any(), &PostParams::default(), &copy).await?);
        self.claims.store(&claim_key(&out), out.clone());
        Ok(out)
    }
}

enum InTree {
    External,
    HostPath,
    Missing(String),
}

/// `findProvisionablePlugin` among kube-controller-manager's in-tree plugins (hostPath, whose
/// provisioning is off without `--enable-hostpath-provisioner`, and nfs, which cannot
/// provision); any name outside `kubernetes.io/` is an external provisioner.
fn in_tree_provisioner(name: &str) -> InTree {
    match name {
        HOST_PATH_PLUGIN => InTree::HostPath,
        NFS_PLUGIN => InTree::Missing("no provisionable volume plugin matched".into()),
        n if n.starts_with("kubernetes.io/") => InTree::Missing(format!("no volume plugin matched name: {n}")),
        _ => InTree::External,
    }
}

/// `GetDefaultClass`: the newest class marked default (ties by name).
pub fn default_class(classes: &[Arc<StorageClass>]) -> Option<String> {
    let mut defaults: Vec<&Arc<StorageClass>> = classes
        .iter()
        .filter(|c| {
            ann(&c.metadata, DEFAULT_CLASS) == Some("true") || ann(&c.metadata, BETA_DEFAULT_CLASS) == Some("true")
        })
        .collect();
    defaults.sort_by(|a, b| {
        let t = |c: &StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
        t(b).cmp(&t(a)).then_with(|| a.name_any().cmp(&b.name_any()))
    });
    defaults.first().map(|c| c.name_any())
}

/// `doDeleteVolume` with the deleters kube-controller-manager has: `Ok(true)` when the
/// storage is gone, `Ok(false)` when an external deleter owns it, `Err` with the plugin's
/// message otherwise.
pub fn delete_storage(v: &PersistentVolume) -> Result<bool, String> {
    let name = v.name_any();
    if let Some(p) = ann(&v.metadata, ANN_DYNAMICALLY_PROVISIONED).filter(|p| !p.is_empty()) {
        if p != HOST_PATH_PLUGIN {
            if !p.starts_with("kubernetes.io/") {
                return Ok(false);
            }
            return Err(format!("no volume plugin matched name: {p}"));
        }
    }
    let spec = v.spec.clone().unwrap_or_default();
    if ann(&v.metadata, ANN_MIGRATED_TO).is_some() || spec.csi.is_some() {
        return Ok(false);
    }
    if let Some(hp) = &spec.host_path {
        return host_path_delete(&hp.path).map(|_| true);
    }
    let plugin_err = if spec.nfs.is_some() { "no deletable volume plugin matched" } else { "no volume plugin matched" };
    Err(format!("error getting deleter volume plugin for volume {name:?}: {plugin_err}"))
}

/// The hostPath deleter: for testing on a single host, it removes only paths under `/tmp/`.
fn host_path_delete(path: &str) -> Result<(), String> {
    let allowed = path.find("/tmp/").is_some_and(|i| path.len() > i + "/tmp/".len());
    if !allowed {
        return Err(format!("host_path deleter only supports /tmp/.+ but received provided {path}"));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            std::fs::remove_file(path).map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("remove {path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        HostPathVolumeSource, LocalVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        ObjectReference, PersistentVolumeClaimSpec, PersistentVolumeSpec, VolumeNodeAffinity,
        VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
    use std::collections::BTreeMap;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn pv(name: &str, size: &str, modes: &[&str], class: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta { name: Some(name.into()), resource_version: Some("1".into()), ..Default::default() },
            spec: Some(PersistentVolumeSpec {
                capacity: Some([("storage".to_string(), Q(size.into()))].into()),
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                storage_class_name: (!class.is_empty()).then(|| class.to_string()),
                host_path: Some(HostPathVolumeSource { path: format!("/data/{name}"), type_: None }),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                volume_mode: Some("Filesystem".into()),
                ..Default::default()
            }),
            status: Some(PersistentVolumeStatus { phase: Some("Available".into()), ..Default::default() }),
        }
    }

    fn pvc(name: &str, size: &str, modes: &[&str], class: Option<&str>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), Q(size.into()))].into()),
                    ..Default::default()
                }),
                storage_class_name: class.map(String::from),
                ..Default::default()
            }),
            status: Some(PersistentVolumeClaimStatus { phase: Some("Pending".into()), ..Default::default() }),
        }
    }

    fn best(c: &PersistentVolumeClaim, vs: Vec<PersistentVolume>) -> Option<String> {
        let vs: Vec<Arc<PersistentVolume>> = vs.into_iter().map(Arc::new).collect();
        find_best_match(c, &vs, None, false).unwrap().map(|v| v.name_any())
    }

    const RWO: &str = "ReadWriteOnce";
    const RWX: &str = "ReadWriteMany";
    const ROX: &str = "ReadOnlyMany";

    #[test]
    fn the_smallest_sufficient_volume_wins() {
        let c = pvc("c", "3Gi", &[RWO], Some(""));
        let vs = vec![pv("big", "10Gi", &[RWO], ""), pv("small", "1Gi", &[RWO], ""), pv("fit", "5Gi", &[RWO], "")];
        assert_eq!(best(&c, vs.clone()), Some("fit".into()));
        assert_eq!(best(&pvc("c", "10Gi", &[RWO], Some("")), vs.clone()), Some("big".into()));
        assert_eq!(best(&pvc("c", "11Gi", &[RWO], Some("")), vs), None);
        // 1024Mi is exactly 1Gi.
        assert_eq!(best(&pvc("c", "1024Mi", &[RWO], Some("")), vec![pv("a", "1Gi", &[RWO], "")]), Some("a".into()));
    }

    #[test]
    fn the_class_must_be_the_same_and_empty_matches_none() {
        let vs = vec![pv("fast", "1Gi", &[RWO], "fast"), pv("none", "1Gi", &[RWO], "")];
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("fast")), vs.clone()), Some("fast".into()));
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("")), vs.clone()), Some("none".into()));
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], None), vs.clone()), Some("none".into()));
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("slow")), vs), None);
        let mut beta = pvc("c", "1Gi", &[RWO], Some(""));
        set_ann(&mut beta.metadata, ANN_BETA_STORAGE_CLASS, "fast");
        assert_eq!(claim_class(&beta), "fast");
    }

    #[test]
    fn access_modes_must_be_offered_and_fewer_modes_are_preferred() {
        let vs = vec![pv("rwo", "1Gi", &[RWO], ""), pv("many", "1Gi", &[RWO, ROX, RWX], "")];
        assert_eq!(best(&pvc("c", "1Gi", &[RWX], Some("")), vs.clone()), Some("many".into()));
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("")), vs.clone()), Some("rwo".into()));
        // A larger volume with exactly the modes beats a smaller one offering more modes.
        let vs = vec![pv("rwo-big", "10Gi", &[RWO], ""), pv("many-small", "1Gi", &[RWO, ROX], "")];
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("")), vs), Some("rwo-big".into()));
        assert_eq!(best(&pvc("c", "1Gi", &[RWO, RWX], Some("")), vec![pv("rwo", "1Gi", &[RWO], "")]), None);
    }

    #[test]
    fn volume_mode_must_be_equal_with_filesystem_the_default() {
        let mut block = pv("block", "1Gi", &[RWO], "");
        block.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        let mut unset = pv("unset", "5Gi", &[RWO], "");
        unset.spec.as_mut().unwrap().volume_mode = None;
        let fs = pvc("c", "1Gi", &[RWO], Some(""));
        assert_eq!(best(&fs, vec![block.clone(), unset.clone()]), Some("unset".into()));
        let mut bc = pvc("c", "1Gi", &[RWO], Some(""));
        bc.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        assert_eq!(best(&bc, vec![block, unset]), Some("block".into()));
    }

    #[test]
    fn the_selector_picks_volumes_by_label() {
        let mut fast = pv("ssd", "5Gi", &[RWO], "");
        fast.metadata.labels = Some(labels(&[("disk", "ssd")]));
        let vs = vec![pv("hdd", "1Gi", &[RWO], ""), fast];
        let mut c = pvc("c", "1Gi", &[RWO], Some(""));
        c.spec.as_mut().unwrap().selector =
            Some(LabelSelector { match_labels: Some(labels(&[("disk", "ssd")])), ..Default::default() });
        assert_eq!(best(&c, vs), Some("ssd".into()));
    }

    #[test]
    fn unavailable_claimed_and_deleted_volumes_are_skipped() {
        let mut bound = pv("bound", "1Gi", &[RWO], "");
        bound.status.as_mut().unwrap().phase = Some("Bound".into());
        let mut claimed = pv("claimed", "1Gi", &[RWO], "");
        claimed.spec.as_mut().unwrap().claim_ref =
            Some(ObjectReference { name: Some("other".into()), namespace: Some("ns".into()), ..Default::default() });
        let mut deleting = pv("deleting", "1Gi", &[RWO], "");
        deleting.metadata.deletion_timestamp = Some(util::time_now());
        let vs = vec![bound, claimed, deleting, pv("ok", "9Gi", &[RWO], "")];
        assert_eq!(best(&pvc("c", "1Gi", &[RWO], Some("")), vs), Some("ok".into()));
    }

    #[test]
    fn a_volume_pre_bound_to_the_claim_wins_over_a_better_fit() {
        let mut pre = pv("pre", "10Gi", &[RWO], "other-class");
        pre.spec.as_mut().unwrap().claim_ref =
            Some(ObjectReference { name: Some("c".into()), namespace: Some("ns".into()), ..Default::default() });
        pre.status.as_mut().unwrap().phase = Some("Available".into());
        let vs = vec![pv("fit", "1Gi", &[RWO], ""), pre.clone()];
        let c = pvc("c", "1Gi", &[RWO], Some(""));
        assert_eq!(best(&c, vs.clone()), Some("pre".into()));
        // Even for a delayed-binding claim without a node.
        let arcs: Vec<_> = vs.into_iter().map(Arc::new).collect();
        assert_eq!(find_best_match(&c, &arcs, None, true).unwrap().map(|v| v.name_any()), Some("pre".into()));
        // A UID of another claim does not count.
        pre.spec.as_mut().unwrap().claim_ref.as_mut().unwrap().uid = Some("someone-else".into());
        assert!(!is_volume_bound_to_claim(&pre, &c));
        // Too small a pre-bound volume is passed over.
        let mut small = pv("small", "1Mi", &[RWO], "");
        small.spec.as_mut().unwrap().claim_ref =
            Some(ObjectReference { name: Some("c".into()), namespace: Some("ns".into()), ..Default::default() });
        assert_eq!(best(&c, vec![small, pv("fit", "1Gi", &[RWO], "")]), Some("fit".into()));
    }

    #[test]
    fn delayed_binding_waits_for_a_node_whose_labels_the_volume_allows() {
        let affinity = |host: &str| VolumeNodeAffinity {
            required: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "kubernetes.io/hostname".into(),
                        operator: "In".into(),
                        values: Some(vec![host.into()]),
                    }]),
                    match_fields: None,
                }],
            }),
        };
        let mut a = pv("on-a", "1Gi", &[RWO], "local");
        a.spec.as_mut().unwrap().node_affinity = Some(affinity("node-a"));
        let mut b = pv("on-b", "1Gi", &[RWO], "local");
        b.spec.as_mut().unwrap().node_affinity = Some(affinity("node-b"));
        let vs: Vec<_> = vec![Arc::new(a), Arc::new(b)];
        let c = pvc("c", "1Gi", &[RWO], Some("local"));
        assert!(find_best_match(&c, &vs, None, true).unwrap().is_none());
        let node_b = labels(&[("kubernetes.io/hostname", "node-b")]);
        assert_eq!(find_best_match(&c, &vs, Some(&node_b), true).unwrap().map(|v| v.name_any()), Some("on-b".into()));
        let node_c = labels(&[("kubernetes.io/hostname", "node-c")]);
        assert!(find_best_match(&c, &vs, Some(&node_c), true).unwrap().is_none());
        // Immediate binding ignores node affinity.
        assert!(find_best_match(&c, &vs, None, false).unwrap().is_some());
    }

    #[test]
    fn binding_sets_claim_ref_and_annotations_once() {
        let v = pv("v", "1Gi", &[RWO], "");
        let c = pvc("c", "1Gi", &[RWO], Some(""));
        let (bound, dirty) = bind_volume_to_claim(&v, &c);
        assert!(dirty);
        let r = bound.spec.as_ref().unwrap().claim_ref.clone().unwrap();
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("PersistentVolumeClaim"), Some("c"), Some("uid-c"))
        );
        assert_eq!(ann(&bound.metadata, ANN_BOUND_BY_CONTROLLER), Some("yes"));
        assert!(!bind_volume_to_claim(&bound, &c).1);
        // A user's pre-binding gets the UID but not the controller's annotation.
        let mut pre = pv("v", "1Gi", &[RWO], "");
        pre.spec.as_mut().unwrap().claim_ref =
            Some(ObjectReference { name: Some("c".into()), namespace: Some("ns".into()), ..Default::default() });
        let (b, dirty) = bind_volume_to_claim(&pre, &c);
        assert!(dirty);
        assert_eq!(ann(&b.metadata, ANN_BOUND_BY_CONTROLLER), None);
        let claim = bind_claim_to_volume(&c, &bound).unwrap();
        assert_eq!(claim.spec.as_ref().unwrap().volume_name.as_deref(), Some("v"));
        assert_eq!(ann(&claim.metadata, ANN_BIND_COMPLETED), Some("yes"));
        assert_eq!(ann(&claim.metadata, ANN_BOUND_BY_CONTROLLER), Some("yes"));
        assert!(bind_claim_to_volume(&claim, &bound).is_none());
        // The user's volumeName: only bind-completed is added.
        let mut named = c.clone();
        named.spec.as_mut().unwrap().volume_name = Some("v".into());
        let done = bind_claim_to_volume(&named, &bound).unwrap();
        assert_eq!(ann(&done.metadata, ANN_BOUND_BY_CONTROLLER), None);
    }

    #[test]
    fn claim_status_takes_the_volumes_capacity_and_modes_when_becoming_bound() {
        let v = pv("v", "5Gi", &[RWO, ROX], "");
        let c = pvc("c", "1Gi", &[RWO], Some(""));
        let s = claim_status_for(&c, "Bound", Some(&v)).unwrap();
        assert_eq!(s.phase.as_deref(), Some("Bound"));
        assert_eq!(s.capacity.unwrap()["storage"].0, "5Gi");
        assert_eq!(s.access_modes.unwrap(), vec![RWO.to_string(), ROX.to_string()]);
        let mut bound = c.clone();
        bound.status = Some(claim_status_for(&c, "Bound", Some(&v)).unwrap());
        assert!(claim_status_for(&bound, "Bound", Some(&v)).is_none());
        let lost = claim_status_for(&bound, "Lost", None).unwrap();
        assert!(lost.capacity.is_none() && lost.access_modes.is_none());
        assert!(claim_status_for(&c, "Pending", None).is_none());
    }

    #[test]
    fn a_named_volume_must_satisfy_the_claim() {
        let c = pvc("c", "2Gi", &[RWO], Some(""));
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "1Gi", &[RWO], ""), &c).unwrap_err(),
            "requested PV is too small"
        );
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "2Gi", &[RWO], "x"), &c).unwrap_err(),
            "storageClassName does not match"
        );
        assert_eq!(
            check_volume_satisfies_claim(&pv("v", "2Gi", &[RWX], ""), &c).unwrap_err(),
            "incompatible accessMode"
        );
        assert!(check_volume_satisfies_claim(&pv("v", "2Gi", &[RWO], ""), &c).is_ok());
    }

    #[test]
    fn deleters_follow_kube_controller_managers_plugins() {
        let mut v = pv("v", "1Gi", &[RWO], "");
        assert_eq!(
            delete_storage(&v).unwrap_err(),
            "host_path deleter only supports /tmp/.+ but received provided /data/v"
        );
        let dir = std::env::temp_dir().join(format!("pvbinder-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        v.spec.as_mut().unwrap().host_path.as_mut().unwrap().path = dir.display().to_string();
        if dir.starts_with("/tmp/") {
            assert_eq!(delete_storage(&v), Ok(true));
            assert!(!dir.exists());
        }
        let mut local = pv("l", "1Gi", &[RWO], "");
        let spec = local.spec.as_mut().unwrap();
        spec.host_path = None;
        spec.local = Some(LocalVolumeSource { path: "/mnt/disk".into(), fs_type: None });
        assert_eq!(
            delete_storage(&local).unwrap_err(),
            "error getting deleter volume plugin for volume \"l\": no volume plugin matched"
        );
        set_ann(&mut local.metadata, ANN_DYNAMICALLY_PROVISIONED, "example.com/csi");
        assert_eq!(delete_storage(&local), Ok(false));
    }

    #[test]
    fn the_newest_default_class_is_the_default() {
        let sc = |name: &str, default: bool, secs: i64| {
            let mut m = ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::from_second(secs).unwrap(),
                )),
                ..Default::default()
            };
            if default {
                set_ann(&mut m, DEFAULT_CLASS, "true");
            }
            Arc::new(StorageClass { metadata: m, provisioner: "x".into(), ..Default::default() })
        };
        assert_eq!(default_class(&[sc("a", false, 1)]), None);
        assert_eq!(default_class(&[sc("old", true, 1), sc("new", true, 2), sc("z", false, 3)]), Some("new".into()));
    }

    #[test]
    fn failed_operations_back_off_exponentially_up_to_two_minutes() {
        assert_eq!(next_backoff(None), BACKOFF_INITIAL);
        assert_eq!(next_backoff(Some(BACKOFF_INITIAL)), std::time::Duration::from_secs(1));
        assert_eq!(next_backoff(Some(std::time::Duration::from_secs(100))), BACKOFF_MAX);
    }

    #[test]
    fn pods_are_terminated_when_finished_or_deleted_with_nothing_running() {
        let pod = |v: serde_json::Value| -> Pod { serde_json::from_value(v).unwrap() };
        assert!(pod_terminated(&pod(serde_json::json!({"status": {"phase": "Succeeded"}}))));
        let running = serde_json::json!({"phase": "Running",
            "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {}}}]});
        assert!(!pod_terminated(&pod(serde_json::json!({"status": running}))));
        let deleting =
            serde_json::json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": running});
        assert!(!pod_terminated(&pod(deleting)));
        let stopped = serde_json::json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
                "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]}});
        assert!(pod_terminated(&pod(stopped)));
    }

    #[test]
    fn pods_index_their_claims_and_ephemeral_claims() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"containers": [], "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "c1"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                {"name": "tmp", "emptyDir": {}}]}
        }))
        .unwrap();
        assert_eq!(pod_claim_keys(&pod), vec!["ns/c1".to_string(), "ns/web-scratch".to_string()]);
    }
}
