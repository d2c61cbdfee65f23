//! Pod workers: one task per pod, driven by the pod's desired state (the apiserver's pods
//! bound to this node) and the runtime's actual state (a PLEG-style relist once a second).
//! A worker syncs its pod — sandbox, containers, restarts with back-off, status — or, once the
//! pod is deleted or gone, kills it, reports its final status and removes it from the API.

use crate::config::Config;
use crate::cri::{api, Cri};
use crate::env::{EnvInputs, Sources};
use crate::node::NodeState;
use crate::objects::Objects;
use crate::pod::{self, uid_selector};
use crate::status::{self, ContainerView, PodFacts, Waiting};
use crate::volumes::{self, Tokens, VolumeInputs};
use component_base::events::Recorder;
use component_base::Informer;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service,
    ServiceAccount,
};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::Client;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Restart and image pull back-off per (pod uid, container), doubling from 10 s to 5 min.
#[derive(Default)]
struct Backoffs(HashMap<(String, String), (Duration, Instant)>);

impl Backoffs {
    /// When `key` may next be tried, if it is in back-off.
    fn until(&self, key: &(String, String)) -> Option<Instant> {
        self.0.get(key).map(|(_, at)| *at).filter(|at| *at > Instant::now())
    }
    /// Records a failure: the next try waits the current delay, which then doubles.
    fn next(&mut self, key: (String, String)) -> Duration {
        let d = match self.0.get(&key) {
            Some((d, _)) => (*d * 2).min(BACKOFF_MAX),
            None => BACKOFF_INITIAL,
        };
        self.0.insert(key, (d, Instant::now() + d));
        d
    }
    fn clear_pod(&mut self, uid: &str) {
        self.0.retain(|(u, _), _| u != uid);
    }
}

/// The kubelet's pods: desired state, workers, and what they share.
pub struct Pods {
    pub cfg: Arc<Config>,
    pub client: Option<Client>,
    pub cri: Cri,
    pub recorder: Option<Recorder>,
    pub node: watch::Receiver<NodeState>,
    pub eviction: Arc<crate::eviction::Manager>,
    services: Option<Informer<Service>>,
    config_maps: Option<Objects<ConfigMap>>,
    secrets: Option<Objects<Secret>>,
    /// Service account tokens per (pod uid, audience, expiry): the token and when to renew it.
    tokens: Mutex<HashMap<TokenKey, (String, Instant)>>,
    desired: Mutex<HashMap<String, Arc<Pod>>>,
    prober: crate::prober::Prober,
    /// Pods the kubelet ended itself (deadline exceeded, not admitted, evicted).
    ended: Mutex<HashMap<String, Ended>>,
    /// Pods admitted to run here (checked once, when first seen).
    admitted: Mutex<HashSet<String>>,
    /// UIDs of the desired pods that came from static sources.
    statics: Mutex<HashSet<String>>,
    /// Mirror pods in the API, by the UID of the static pod they mirror.
    mirrors: Mutex<HashMap<String, Arc<Pod>>>,
    workers: Mutex<HashMap<String, Arc<Notify>>>,
    backoff: Mutex<Backoffs>,
    /// Why a container is not running, when the runtime cannot say (image pulls, create
    /// errors); cleared when it starts.
    waiting: Mutex<HashMap<Key, Waiting>>,
    /// Containers whose image pull failed, with the image, for `ImagePullBackOff`.
    pull_failed: Mutex<HashMap<Key, String>>,
    /// Per pod: its newest sandbox and that sandbox's IPs, which do not change while it
    /// lives (one PodSandboxStatus per sandbox rather than two per sync).
    sandbox_ips: Mutex<HashMap<String, (String, Vec<String>)>>,
    /// Per pod: the last status written, to write only changes.
    written: Mutex<HashMap<String, serde_json::Value>>,
    /// True once the pod sources have listed: only then are unknown runtime pods orphans.
    sources_ready: std::sync::atomic::AtomicBool,
    host_resolv: String,
}

/// A pod the kubelet ended: the phase, reason and message its status reports from then on.
#[derive(Clone)]
struct Ended {
    phase: String,
    reason: String,
    message: String,
    /// The grace period its containers get, when not the pod's own (evictions).
    grace: Option<i64>,
    /// A `DisruptionTarget` condition's message (node-pressure evictions).
    disruption: Option<String>,
}

impl Ended {
    fn failed(reason: &str, message: String) -> Ended {
        Ended { phase: "Failed".into(), reason: reason.into(), message, grace: None, disruption: None }
    }
}

/// Where a pod stands, for the garbage collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Known and not finished.
    Active,
    /// Known and finished: its containers will not run again.
    Terminated,
    /// No source knows it.
    Deleted,
}

/// What the runtime holds for one pod.
#[derive(Default)]
struct RuntimePod {
    sandboxes: Vec<api::PodSandbox>,
    containers: Vec<api::Container>,
}

impl Pods {
    pub fn new(
        cfg: Arc<Config>,
        client: Option<Client>,
        cri: Cri,
        recorder: Option<Recorder>,
        node: watch::Receiver<NodeState>,
        services: Option<Informer<Service>>,
        eviction: Arc<crate::eviction::Manager>,
    ) -> Arc<Pods> {
        let host_resolv = std::fs::read_to_string(&cfg.resolv_conf).unwrap_or_default();
        Arc::new_cyclic(|me: &std::sync::Weak<Pods>| {
            // A changed ConfigMap or Secret wakes the pods that use it.
            let me = me.clone();
            let me2 = me.clone();
            let on_change: crate::objects::OnChange = Arc::new(move |uids| {
                if let Some(pods) = me.upgrade() {
                    for uid in uids {
                        pods.kick(uid);
                    }
                }
            });
            // Probe results wake the pod; failures are Unhealthy events.
            let on_probe: crate::prober::OnResult = Arc::new(move |ev| {
                let Some(pods) = me2.upgrade() else { return };
                match ev {
                    crate::prober::ProbeEvent::Changed { uid } => pods.kick_existing(uid),
                    crate::prober::ProbeEvent::Unhealthy { uid, container, message } => {
                        let p = pods.desired.lock().unwrap().get(uid).cloned();
                        if let Some(p) = p {
                            pods.event(&p, Some(container), "Warning", "Unhealthy", message);
                        }
                    }
                }
            });
            Pods {
                prober: crate::prober::Prober::new(cri.clone(), on_probe),
                config_maps: client.as_ref().map(|c| Objects::new(c.clone(), on_change.clone())),
                secrets: client.as_ref().map(|c| Objects::new(c.clone(), on_change)),
                tokens: Mutex::new(HashMap::new()),
                services,
                cfg,
                client,
                cri,
                recorder,
                node,
                eviction,
                desired: Mutex::new(HashMap::new()),
                statics: Mutex::new(HashSet::new()),
                ended: Mutex::new(HashMap::new()),
                admitted: Mutex::new(HashSet::new()),
                mirrors: Mutex::new(HashMap::new()),
                workers: Mutex::new(HashMap::new()),
                backoff: Mutex::new(Backoffs::default()),
                waiting: Mutex::new(HashMap::new()),
                pull_failed: Mutex::new(HashMap::new()),
                sandbox_ips: Mutex::new(HashMap::new()),
                written: Mutex::new(HashMap::new()),
                sources_ready: std::sync::atomic::AtomicBool::new(false),
                host_resolv,
            }
        })
    }

    /// A pod from a source was added or changed.
    pub fn upsert(self: &Arc<Self>, p: Arc<Pod>) {
        let uid = pod::uid(&p).to_string();
        if uid.is_empty() {
            return;
        }
        self.desired.lock().unwrap().insert(uid.clone(), p);
        self.kick(&uid);
    }

    /// A pod left its source (deleted from the API, or no longer bound here).
    pub fn remove(self: &Arc<Self>, uid: &str) {
        self.desired.lock().unwrap().remove(uid);
        self.kick(uid);
    }

    /// The static sources' pods, in full: those that left are stopped, new ones started.
    pub fn set_static(self: &Arc<Self>, pods: std::collections::BTreeMap<String, Pod>) {
        let gone: Vec<String> = {
            let mut statics = self.statics.lock().unwrap();
            let gone = statics.iter().filter(|u| !pods.contains_key(*u)).cloned().collect();
            *statics = pods.keys().cloned().collect();
            gone
        };
        for uid in gone {
            tracing::info!(pod_uid = %uid, "static pod removed");
            self.remove(&uid);
        }
        for (uid, p) in pods {
            let known = self.desired.lock().unwrap().contains_key(&uid);
            if !known {
                tracing::info!(pod = %pod::full_name(&p), "static pod added");
                self.upsert(Arc::new(p));
            }
        }
    }

    /// A mirror pod in the API changed (or appeared): its static pod's worker takes note.
    pub fn mirror_upsert(self: &Arc<Self>, p: Arc<Pod>) {
        let Some(hash) = crate::static_pods::mirror_of(&p).map(str::to_string) else { return };
        tracing::debug!(pod = %pod::full_name(&p), deleting = p.metadata.deletion_timestamp.is_some(), "mirror pod seen");
        self.mirrors.lock().unwrap().insert(hash.clone(), p);
        self.kick_existing(&hash);
    }

    pub fn mirror_delete(self: &Arc<Self>, p: &Pod) {
        let Some(hash) = crate::static_pods::mirror_of(p) else { return };
        tracing::debug!(pod = %pod::full_name(p), "mirror pod deleted");
        let mut mirrors = self.mirrors.lock().unwrap();
        if mirrors.get(hash).is_some_and(|m| m.metadata.uid == p.metadata.uid) {
            mirrors.remove(hash);
        }
        drop(mirrors);
        self.kick_existing(hash);
    }

    /// Wakes a worker only if there is one (mirrors of unknown pods are cleaned up elsewhere).
    fn kick_existing(self: &Arc<Self>, uid: &str) {
        if let Some(n) = self.workers.lock().unwrap().get(uid) {
            n.notify_one();
        }
    }

    /// Keeps the static pod's mirror in the API: created when missing, replaced when it is
    /// being deleted (a `kubectl delete` of a mirror pod re-mirrors it).
    async fn sync_mirror(&self, p: &Pod) {
        let Some(client) = &self.client else { return };
        let uid = pod::uid(p);
        let mirror = self.mirrors.lock().unwrap().get(uid).cloned();
        let api: Api<Pod> = Api::namespaced(client.clone(), pod::namespace(p));
        if let Some(m) = &mirror {
            if m.metadata.deletion_timestamp.is_none() {
                return;
            }
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: m.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            tracing::info!(pod = %pod::full_name(p), "Deleting mirror pod because it is being deleted");
            match api.delete(pod::name(m), &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => {
                    tracing::warn!(pod = %pod::full_name(p), "Failed deleting a mirror pod: {e}");
                    return;
                }
            }
            self.mirrors.lock().unwrap().remove(uid);
        }
        let node = self.node.borrow().node.clone();
        let Some(node) = node else { return };
        let mut m = p.clone();
        m.metadata.uid = None;
        m.metadata.resource_version = None;
        m.status = None;
        m.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(crate::static_pods::ANN_MIRROR.into(), uid.to_string());
        m.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "Node".into(),
            name: node.metadata.name.clone().unwrap_or_default(),
            uid: node.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        match api.create(&kube::api::PostParams::default(), &m).await {
            Ok(created) => {
                self.written.lock().unwrap().remove(uid);
                self.mirrors.lock().unwrap().insert(uid.to_string(), Arc::new(created));
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => tracing::warn!(pod = %pod::full_name(p), "Failed creating a mirror pod: {e}"),
        }
    }

    /// Deletes the mirror of a static pod that is gone.
    async fn delete_mirror(&self, uid: &str) {
        let Some(client) = &self.client else { return };
        let mirror = self.mirrors.lock().unwrap().remove(uid);
        if let Some(m) = mirror {
            let api: Api<Pod> = Api::namespaced(client.clone(), pod::namespace(&m));
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: m.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            let _ = api.delete(pod::name(&m), &dp).await;
        }
    }

    /// Mirror pods whose static pod no source has any more.
    async fn delete_orphaned_mirrors(&self) {
        let orphans: Vec<String> = {
            let desired = self.desired.lock().unwrap();
            self.mirrors.lock().unwrap().keys().filter(|h| !desired.contains_key(*h)).cloned().collect()
        };
        for uid in orphans {
            tracing::info!(pod_uid = %uid, "Deleting orphaned mirror pod");
            self.delete_mirror(&uid).await;
        }
    }

    pub fn set_sources_ready(&self) {
        self.sources_ready.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn desired_count(&self) -> usize {
        self.desired.lock().unwrap().len()
    }

    pub fn sources_ready(&self) -> bool {
        self.sources_ready.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the pod is known, and finished.
    pub fn pod_state(&self, uid: &str) -> PodState {
        let Some(p) = self.desired.lock().unwrap().get(uid).cloned() else { return PodState::Deleted };
        let terminal = matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        if terminal || self.ended.lock().unwrap().contains_key(uid) {
            PodState::Terminated
        } else {
            PodState::Active
        }
    }

    /// Every pod of the pod manager (the API's pods bound here and the static pods), for the
    /// kubelet API's `/pods`; a static pod carries its mirror's status.
    pub fn pods(&self) -> Vec<Arc<Pod>> {
        let desired: Vec<Arc<Pod>> = self.desired.lock().unwrap().values().cloned().collect();
        desired.into_iter().map(|p| self.with_api_status(p)).collect()
    }

    /// A pod of the pod manager by namespace and name (static pods by `<name>-<node>`).
    pub fn pod_by_name(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        let found = self
            .desired
            .lock()
            .unwrap()
            .values()
            .find(|p| pod::namespace(p) == namespace && pod::name(p) == name)
            .cloned();
        found.map(|p| self.with_api_status(p))
    }

    fn with_api_status(&self, p: Arc<Pod>) -> Arc<Pod> {
        if !crate::static_pods::is_static(&p) {
            return p;
        }
        let Some(m) = self.mirrors.lock().unwrap().get(pod::uid(&p)).cloned() else { return p };
        let mut x = (*p).clone();
        x.status = m.status.clone();
        Arc::new(x)
    }

    /// Pods admitted here that may run: not finished, not ended, not being deleted.
    pub fn active_pods(&self) -> Vec<Arc<Pod>> {
        let admitted = self.admitted.lock().unwrap().clone();
        let ended: HashSet<String> = self.ended.lock().unwrap().keys().cloned().collect();
        let desired = self.desired.lock().unwrap();
        desired
            .iter()
            .filter(|(uid, p)| {
                admitted.contains(*uid)
                    && !ended.contains(*uid)
                    && p.metadata.deletion_timestamp.is_none()
                    && !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
            })
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Evicts a pod: its containers are killed with `grace` and its status becomes Failed with
    /// reason Evicted. Critical pods are not evicted (false).
    pub fn evict(self: &Arc<Self>, p: &Pod, message: String, disruption: Option<String>, grace: i64) -> bool {
        if crate::eviction::is_critical(p) {
            tracing::error!(pod = %pod::full_name(p), "Eviction manager: cannot evict a critical pod");
            return false;
        }
        self.event(p, None, "Warning", "Evicted", message.clone());
        tracing::info!(pod = %pod::full_name(p), %message, "Evicting pod");
        let ended = Ended { grace: Some(grace), disruption, ..Ended::failed("Evicted", message) };
        self.ended.lock().unwrap().insert(pod::uid(p).to_string(), ended);
        self.kick(pod::uid(p));
        true
    }

    /// Whether an ended pod's resources are reclaimed: nothing runs and its volumes are gone.
    pub async fn cleaned_up(&self, uid: &str) -> bool {
        let Ok(rt) = self.runtime_pod(uid).await else { return false };
        let running = rt.containers.iter().any(|c| c.state == api::ContainerState::ContainerRunning as i32);
        !running && !pod::pod_dir(&self.cfg, uid).join("volumes").exists()
    }

    /// An event about this node.
    pub fn node_event(&self, type_: &str, reason: &str, message: String) {
        let Some(r) = &self.recorder else { return };
        let obj = ObjectReference {
            kind: Some("Node".into()),
            name: Some(self.cfg.node_name.clone()),
            uid: Some(self.cfg.node_name.clone()),
            ..Default::default()
        };
        r.event(&obj, type_, reason, message);
    }

    /// Wakes the pod's worker, starting one if needed.
    fn kick(self: &Arc<Self>, uid: &str) {
        let mut workers = self.workers.lock().unwrap();
        if let Some(n) = workers.get(uid) {
            n.notify_one();
            return;
        }
        let n = Arc::new(Notify::new());
        workers.insert(uid.to_string(), n.clone());
        let me = self.clone();
        let uid = uid.to_string();
        tokio::spawn(async move { me.worker(uid, n).await });
    }

    async fn worker(self: Arc<Self>, uid: String, notify: Arc<Notify>) {
        loop {
            let desired = self.desired.lock().unwrap().get(&uid).cloned();
            tracing::debug!(pod_uid = %uid, "sync");
            let wait = match self.sync(&uid, desired).await {
                Ok(None) => {
                    // Done: the pod is gone from source and runtime. Exit unless it came back.
                    let mut workers = self.workers.lock().unwrap();
                    if !self.desired.lock().unwrap().contains_key(&uid) {
                        workers.remove(&uid);
                        self.backoff.lock().unwrap().clear_pod(&uid);
                        self.written.lock().unwrap().remove(&uid);
                        self.waiting.lock().unwrap().retain(|(u, _), _| *u != uid);
                        self.tokens.lock().unwrap().retain(|(u, _, _), _| *u != uid);
                        self.prober.remove_pod(&uid);
                        self.ended.lock().unwrap().remove(&uid);
                        self.admitted.lock().unwrap().remove(&uid);
                        if let Some(o) = &self.config_maps {
                            o.release(&uid);
                        }
                        if let Some(o) = &self.secrets {
                            o.release(&uid);
                        }
                        self.pull_failed.lock().unwrap().retain(|(u, _), _| *u != uid);
                        self.sandbox_ips.lock().unwrap().remove(&uid);
                        return;
                    }
                    Duration::ZERO
                }
                Ok(Some(d)) => d,
                Err(e) => {
                    tracing::warn!(pod_uid = %uid, "Error syncing pod, skipping: {e}");
                    Duration::from_secs(1)
                }
            };
            tracing::debug!(pod_uid = %uid, ?wait, "synced");
            if !wait.is_zero() {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    async fn runtime_pod(&self, uid: &str) -> Result<RuntimePod, tonic::Status> {
        let mut rt = self.cri.runtime.clone();
        let sandboxes = rt
            .list_pod_sandbox(self.cri.req(api::ListPodSandboxRequest {
                filter: Some(api::PodSandboxFilter { label_selector: uid_selector(uid), ..Default::default() }),
            }))
            .await?
            .into_inner()
            .items;
        let containers = rt
            .list_containers(self.cri.req(api::ListContainersRequest {
                filter: Some(api::ContainerFilter { label_selector: uid_selector(uid), ..Default::default() }),
            }))
            .await?
            .into_inner()
            .containers;
        Ok(RuntimePod { sandboxes, containers })
    }

    fn event(&self, p: &Pod, container: Option<&str>, type_: &str, reason: &str, message: String) {
        let Some(r) = &self.recorder else { return };
        let obj = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: p.metadata.name.clone(),
            namespace: p.metadata.namespace.clone(),
            uid: p.metadata.uid.clone(),
            resource_version: p.metadata.resource_version.clone(),
            field_path: container.map(|c| {
                let init = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.init_containers.as_ref())
                    .is_some_and(|ic| ic.iter().any(|x| x.name == c));
                let ephemeral = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.ephemeral_containers.as_ref())
                    .is_some_and(|ec| ec.iter().any(|x| x.name == c));
                if init {
                    format!("spec.initContainers{{{c}}}")
                } else if ephemeral {
                    format!("spec.ephemeralContainers{{{c}}}")
                } else {
                    format!("spec.containers{{{c}}}")
                }
            }),
        };
        r.event(&obj, type_, reason, message);
    }

    /// One sync of a pod. `Ok(Some(d))`: sync again within `d` (or on a change); `Ok(None)`:
    /// the pod is gone and the worker can stop.
    async fn sync(&self, uid: &str, desired: Option<Arc<Pod>>) -> Result<Option<Duration>, String> {
        let rt = self.runtime_pod(uid).await.map_err(|e| e.message().to_string())?;
        let Some(p) = desired else {
            // Gone from every source: kill whatever runs and forget it.
            if rt.sandboxes.is_empty() && rt.containers.is_empty() {
                self.delete_mirror(uid).await;
                return Ok(None);
            }
            if !self.sources_ready.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(Some(Duration::from_secs(1)));
            }
            self.kill(&rt, None, 30).await?;
            self.remove_all(&rt).await;
            self.delete_mirror(uid).await;
            return Ok(None);
        };
        if crate::static_pods::is_static(&p) {
            self.sync_mirror(&p).await;
        }
        // Ended by the kubelet: stopped, and its status says why.
        let ended = self.ended.lock().unwrap().get(uid).cloned();
        if let Some(ended) = ended.filter(|_| p.metadata.deletion_timestamp.is_none()) {
            let own = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
            self.kill(&rt, Some(&p), ended.grace.unwrap_or(own)).await?;
            volumes::teardown_volumes(&self.cfg.root_dir, uid);
            // Once the API shows the final status, the containers may be collected without
            // it being rewritten.
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some(ended.phase.as_str()) {
                let rt = self.runtime_pod(uid).await.map_err(|e| e.message().to_string())?;
                self.write_status(&p, &rt, false).await?;
            }
            return Ok(Some(self.cfg.sync_frequency));
        }
        if !self.admit(&p, &rt) {
            self.write_status(&p, &rt, false).await?;
            return Ok(Some(self.cfg.sync_frequency));
        }
        if let Some(left) = self.deadline_left(&p) {
            if left.is_zero() {
                let msg = "Pod was active on the node longer than the specified deadline".to_string();
                self.event(&p, None, "Normal", "DeadlineExceeded", msg.clone());
                self.ended.lock().unwrap().insert(uid.to_string(), Ended::failed("DeadlineExceeded", msg));
                return Ok(Some(Duration::ZERO));
            }
        }
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        if p.metadata.deletion_timestamp.is_some() {
            return self.terminate(&p, &rt).await;
        }
        if phase == "Succeeded" || phase == "Failed" {
            // Terminal: nothing more runs (sidecars are stopped gracefully); the sandbox goes.
            let grace = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
            self.kill(&rt, Some(&p), grace).await?;
            volumes::teardown_volumes(&self.cfg.root_dir, uid);
            return Ok(Some(self.cfg.sync_frequency));
        }
        // Wake up when activeDeadlineSeconds runs out.
        let deadline = self.deadline_left(&p);
        self.run(&p, &rt).await.map(|w| w.map(|w| deadline.map_or(w, |d| w.min(d + Duration::from_millis(10)))))
    }

    /// Stops every container (with `grace` seconds) and the sandboxes.
    async fn kill(&self, rt: &RuntimePod, p: Option<&Pod>, grace: i64) -> Result<(), String> {
        let started = Instant::now();
        let running: Vec<&api::Container> =
            rt.containers.iter().filter(|c| c.state == api::ContainerState::ContainerRunning as i32).collect();
        let name_of = |c: &api::Container| c.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
        // Native sidecars (restartable init containers) stop after the containers they serve,
        // in reverse order.
        let sidecars: Vec<String> = p
            .and_then(|p| p.spec.as_ref())
            .map(|s| {
                s.init_containers
                    .iter()
                    .flatten()
                    .filter(|c| c.restart_policy.as_deref() == Some("Always"))
                    .map(|c| c.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let (side, main): (Vec<&api::Container>, Vec<&api::Container>) =
            running.into_iter().partition(|c| sidecars.contains(&name_of(c)));
        let stop = |c: &'_ api::Container, grace: i64| {
            let name = name_of(c);
            let id = c.id.clone();
            async move {
                let spec = p.and_then(|p| {
                    p.spec.as_ref().and_then(|s| {
                        s.containers.iter().chain(s.init_containers.iter().flatten()).find(|x| x.name == name).cloned()
                    })
                });
                if let Some(p) = p {
                    self.event(p, Some(&name), "Normal", "Killing", format!("Stopping container {name}"));
                    if let Some(h) = spec.as_ref().and_then(|s| s.lifecycle.as_ref()).and_then(|l| l.pre_stop.as_ref())
                    {
                        let budget = Duration::from_secs(grace.max(1) as u64);
                        if let Err(e) = self.run_hook(p, spec.as_ref().unwrap(), &id, h, budget).await {
                            tracing::warn!(pod = %pod::full_name(p), container = %name, "PreStop hook failed: {e}");
                            self.event(
                                p,
                                Some(&name),
                                "Warning",
                                "FailedPreStopHook",
                                format!("PreStopHook failed: {e}"),
                            );
                        }
                    }
                }
                // What the hook used of the grace period is gone.
                let left = grace - started.elapsed().as_secs() as i64;
                self.cri.stop_container(&id, left.max(if grace > 0 { 1 } else { 0 })).await
            }
        };
        for r in futures::future::join_all(main.iter().map(|c| stop(c, grace))).await {
            r.map_err(|e| e.message().to_string())?;
        }
        let mut side = side;
        side.sort_by_key(|c| std::cmp::Reverse(sidecars.iter().position(|n| *n == name_of(c))));
        for c in side {
            let left = (grace - started.elapsed().as_secs() as i64).max(if grace > 0 { 2 } else { 0 });
            stop(c, left).await.map_err(|e| e.message().to_string())?;
        }
        for s in rt.sandboxes.iter().filter(|s| s.state == api::PodSandboxState::SandboxReady as i32) {
            self.cri.stop_sandbox(&s.id).await.map_err(|e| e.message().to_string())?;
        }
        Ok(())
    }

    /// Runs a lifecycle hook (postStart, preStop): exec in the container, or an HTTP GET.
    async fn run_hook(
        &self,
        p: &Pod,
        c: &Container,
        container_id: &str,
        h: &k8s_openapi::api::core::v1::LifecycleHandler,
        timeout: Duration,
    ) -> Result<(), String> {
        if let Some(e) = &h.exec {
            let cmd = e.command.clone().unwrap_or_default();
            let mut rt = self.cri.runtime.clone();
            let r = rt
                .exec_sync(self.cri.req_with(
                    api::ExecSyncRequest {
                        container_id: container_id.to_string(),
                        cmd: cmd.clone(),
                        timeout: timeout.as_secs() as i64,
                    },
                    timeout + Duration::from_secs(5),
                ))
                .await
                .map_err(|s| s.message().to_string())?
                .into_inner();
            if r.exit_code != 0 {
                let mut out = r.stdout;
                out.extend(r.stderr);
                return Err(format!(
                    "command '{}' exited with {}: {}",
                    cmd.join(" "),
                    r.exit_code,
                    String::from_utf8_lossy(&out).trim_end()
                ));
            }
            return Ok(());
        }
        if let Some(g) = &h.http_get {
            let probe = k8s_openapi::api::core::v1::Probe { http_get: Some(g.clone()), ..Default::default() };
            let ip = self.pod_ip(p).await;
            return match crate::prober::execute(&self.cri, &probe, c, container_id, ip.as_deref(), timeout).await {
                crate::prober::Outcome::Success => Ok(()),
                crate::prober::Outcome::Failure(m) | crate::prober::Outcome::Error(m) => Err(m),
            };
        }
        if let Some(s) = &h.sleep {
            tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(timeout)).await;
            return Ok(());
        }
        Ok(())
    }

    /// The pod's IP from its ready sandbox.
    async fn pod_ip(&self, p: &Pod) -> Option<String> {
        if pod::host_network(p) {
            return self.host_ips().first().cloned();
        }
        let rt = self.runtime_pod(pod::uid(p)).await.ok()?;
        let sb = rt.sandboxes.iter().find(|s| s.state == api::PodSandboxState::SandboxReady as i32)?;
        let st = self.cri.sandbox_status(&sb.id).await.ok()??;
        st.network.map(|n| n.ip).filter(|ip| !ip.is_empty())
    }

    async fn remove_all(&self, rt: &RuntimePod) {
        for c in &rt.containers {
            let _ = self.cri.remove_container(&c.id).await;
        }
        for s in &rt.sandboxes {
            let _ = self.cri.remove_sandbox(&s.id).await;
        }
        let uids: HashSet<&String> = rt.sandboxes.iter().filter_map(|s| s.labels.get(pod::LABEL_POD_UID)).collect();
        for uid in uids {
            volumes::teardown(&self.cfg.root_dir, uid);
        }
    }

    /// Pulls an image with the pod's pull secrets: each matching credential in turn (the
    /// first that works wins), anonymously when none matches.
    async fn pull(&self, p: &Pod, image: &str) -> Result<String, tonic::Status> {
        let creds = self.pull_credentials(p).await.lookup(image);
        if creds.is_empty() {
            return self.cri.pull_image(image, None).await;
        }
        let mut last = None;
        for c in creds {
            match self.cri.pull_image(image, Some(c.to_cri())).await {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| tonic::Status::unknown("no credentials")))
    }

    /// The keyring of the pod's `imagePullSecrets`; those that cannot be read are reported and
    /// the pull goes on without them, as upstream does.
    async fn pull_credentials(&self, p: &Pod) -> crate::credentials::Keyring {
        let names: Vec<String> = p
            .spec
            .as_ref()
            .and_then(|s| s.image_pull_secrets.as_ref())
            .into_iter()
            .flatten()
            .map(|r| r.name.clone())
            .filter(|n| !n.is_empty())
            .collect();
        let Some(objects) = self.secrets.as_ref().filter(|_| !names.is_empty()) else {
            return crate::credentials::Keyring::default();
        };
        let mut secrets = Vec::new();
        let mut failed = Vec::new();
        for name in names {
            match objects.get(pod::namespace(p), &name, pod::uid(p)).await {
                Ok(Some(s)) => secrets.push(s),
                Ok(None) => failed.push(name),
                Err(e) => {
                    tracing::info!(pod = %pod::full_name(p), secret = %name, err = %e, "Unable to retrieve pull secret, the image pull may not succeed.");
                    failed.push(name)
                }
            }
        }
        if !failed.is_empty() {
            self.event(
                p,
                None,
                "Warning",
                "FailedToRetrieveImagePullSecret",
                format!(
                    "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                    failed.join(", ")
                ),
            );
        }
        crate::credentials::Keyring::from_secrets(&secrets)
    }

    /// The node's allocatable as strings, for resourceFieldRef without a limit.
    fn allocatable(&self) -> std::collections::BTreeMap<String, String> {
        let st = self.node.borrow();
        st.node
            .as_ref()
            .and_then(|n| n.status.as_ref())
            .and_then(|s| s.allocatable.as_ref())
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
            .unwrap_or_default()
    }

    /// PersistentVolumeClaims of the pod (and its ephemeral volumes) -> their volumes' paths.
    async fn claim_paths(&self, p: &Pod) -> Result<HashMap<String, std::path::PathBuf>, (String, String)> {
        let mut out = HashMap::new();
        let Some(client) = &self.client else { return Ok(out) };
        let ns = pod::namespace(p);
        for v in p.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            let (claim, ephemeral) = match (&v.persistent_volume_claim, &v.ephemeral) {
                (Some(c), _) => (c.claim_name.clone(), false),
                (_, Some(_)) => (format!("{}-{}", pod::name(p), v.name), true),
                _ => continue,
            };
            // The volume manager's texts (`createVolumeSpec`, `getPVCExtractPV`, `getPVSpec`).
            let fail = |e: String| (v.name.clone(), format!("error processing PVC {ns}/{claim}: {e}"));
            let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns).get(&claim).await.map_err(|e| {
                fail(format!("failed to fetch PVC from API server: {}", component_base::client::api_message(&e)))
            })?;
            if pvc.metadata.deletion_timestamp.is_some() {
                return Err(fail("PVC is being deleted".into()));
            }
            if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Bound") {
                return Err(fail("PVC is not bound".into()));
            }
            let Some(pv_name) = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()).filter(|n| !n.is_empty()) else {
                return Err(fail("PVC has empty pvc.Spec.VolumeName".into()));
            };
            if ephemeral && !owned_by(&pvc.metadata, p) {
                return Err((
                    v.name.clone(),
                    format!("PVC {ns}/{claim} was not created for pod {ns}/{} (pod is not owner)", pod::name(p)),
                ));
            }
            let pv = Api::<PersistentVolume>::all(client.clone()).get(&pv_name).await.map_err(|e| {
                fail(format!(
                    "failed to fetch PV {pv_name} from API server: {}",
                    component_base::client::api_message(&e)
                ))
            })?;
            let spec = pv.spec.unwrap_or_default();
            let claim_uid = pvc.metadata.uid.clone().unwrap_or_default();
            match spec.claim_ref.as_ref().map(|r| r.uid.clone().unwrap_or_default()) {
                None => {
                    return Err(fail(format!(
                        "found PV object {pv_name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim"
                    )))
                }
                Some(uid) if uid != claim_uid => {
                    return Err(fail(format!(
                        "found PV object {pv_name} but its pv.Spec.ClaimRef.UID {uid} does not point to claim.UID {claim_uid}"
                    )))
                }
                Some(_) => {}
            }
            let path = if let Some(h) = spec.host_path {
                volumes::check_host_path(std::path::Path::new(&h.path), h.type_.as_deref().unwrap_or(""))
                    .map_err(|e| (v.name.clone(), e))?;
                h.path
            } else if let Some(l) = spec.local {
                l.path
            } else {
                return Err((
                    v.name.clone(),
                    format!("persistent volume {pv_name} is of a type this node cannot mount"),
                ));
            };
            out.insert(claim, std::path::PathBuf::from(path));
        }
        Ok(out)
    }

    /// A pod being deleted: stop it within its grace period, report the final status, and
    /// delete it from the API (grace 0), which ends its life there.
    async fn terminate(&self, p: &Pod, rt: &RuntimePod) -> Result<Option<Duration>, String> {
        let grace = p
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(30)
            .max(1);
        self.kill(rt, Some(p), grace).await?;
        let rt = self.runtime_pod(pod::uid(p)).await.map_err(|e| e.message().to_string())?;
        self.write_status(p, &rt, false).await?;
        if let Some(client) = &self.client {
            let api: Api<Pod> = Api::namespaced(client.clone(), pod::namespace(p));
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: p.metadata.uid.clone(), resource_version: None }),
                ..Default::default()
            };
            match api.delete(pod::name(p), &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(format!("failed to delete pod: {e}")),
            }
        }
        self.remove_all(&rt).await;
        Ok(Some(Duration::from_secs(1)))
    }

    /// Brings the pod to its spec: sandbox, init containers in order, then the containers.
    async fn run(&self, p: &Pod, rt: &RuntimePod) -> Result<Option<Duration>, String> {
        let uid = pod::uid(p).to_string();
        let spec = p.spec.clone().unwrap_or_default();
        let mut wait = self.cfg.sync_frequency;
        // Volumes first: a pod whose volumes cannot be set up does not start.
        let claims = match self.claim_paths(p).await {
            Ok(c) => c,
            Err((v, e)) => return self.mount_failed(p, rt, &v, &e).await,
        };
        let refs = PodRefs { pods: self, uid: &uid };
        let allocatable = self.allocatable();
        let vin = VolumeInputs {
            root_dir: &self.cfg.root_dir,
            sources: &refs,
            tokens: &refs,
            allocatable: &allocatable,
            claims: &claims,
        };
        let vols = match volumes::setup(p, &vin).await {
            Ok(v) => v,
            Err((v, e)) => return self.mount_failed(p, rt, &v, &e).await,
        };
        // The sandbox: the newest ready one, else a new attempt.
        let mut sandboxes = rt.sandboxes.clone();
        sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let ready = sandboxes.iter().find(|s| s.state == api::PodSandboxState::SandboxReady as i32).cloned();
        let (sandbox_id, sandbox_cfg, fresh) = match ready {
            Some(s) => {
                let attempt = s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
                (s.id.clone(), pod::sandbox_config(&self.cfg, p, attempt, &self.host_resolv), false)
            }
            None => {
                let attempt = sandboxes.first().and_then(|s| s.metadata.as_ref()).map(|m| m.attempt + 1).unwrap_or(0);
                if !sandboxes.is_empty() {
                    // Its containers died with it: stop them all before the new sandbox.
                    self.kill(rt, Some(p), 0).await?;
                    self.event(
                        p,
                        None,
                        "Normal",
                        "SandboxChanged",
                        "Pod sandbox changed, it will be killed and re-created.".into(),
                    );
                }
                let problem = self.node.borrow().runtime_problem.clone();
                if let Some(problem) = problem {
                    if problem.contains("network not ready") && !pod::host_network(p) {
                        self.write_status(p, rt, false).await?;
                        tracing::info!(pod = %pod::full_name(p), "Error syncing pod, skipping: network is not ready: {problem}");
                        return Ok(Some(Duration::from_secs(1)));
                    }
                }
                let cfg = pod::sandbox_config(&self.cfg, p, attempt, &self.host_resolv);
                std::fs::create_dir_all(pod::log_dir(&self.cfg, p)).map_err(|e| e.to_string())?;
                let mut c = self.cri.runtime.clone();
                let r = c
                    .run_pod_sandbox(self.cri.req_with(
                        api::RunPodSandboxRequest { config: Some(cfg.clone()), runtime_handler: String::new() },
                        Duration::from_secs(240),
                    ))
                    .await;
                match r {
                    Ok(r) => (r.into_inner().pod_sandbox_id, cfg, true),
                    Err(e) => {
                        let msg = format!("Failed to create pod sandbox: {}", e.message());
                        self.event(p, None, "Warning", "FailedCreatePodSandBox", msg.clone());
                        self.write_status(p, rt, false).await?;
                        return Err(msg);
                    }
                }
            }
        };
        let pod_ips = self.sandbox_ips(p, &sandbox_id).await.map_err(|e| e.message().to_string())?;
        let hosts = self.write_etc_hosts(p, &pod_ips)?;
        let host_ips = self.host_ips();
        let services: Vec<Arc<Service>> = self.services.as_ref().map(|i| i.list()).unwrap_or_default();
        let ctx = StartCtx {
            pid_target: None,
            sandbox_id: &sandbox_id,
            sandbox_cfg: &sandbox_cfg,
            hosts: &hosts,
            vols: &vols,
            env: EnvInputs { pod_ips: &pod_ips, host_ips: &host_ips, allocatable: &allocatable, services: &services },
        };
        // A sandbox made just now holds no containers yet: no need to ask the runtime again.
        let relisted;
        let rt = if fresh {
            rt
        } else {
            relisted = self.runtime_pod(&uid).await.map_err(|e| e.message().to_string())?;
            &relisted
        };
        let in_sandbox = |name: &str| -> Vec<&api::Container> {
            let mut v: Vec<&api::Container> = rt
                .containers
                .iter()
                .filter(|c| c.pod_sandbox_id == sandbox_id && c.metadata.as_ref().is_some_and(|m| m.name == name))
                .collect();
            v.sort_by_key(|c| std::cmp::Reverse(c.created_at));
            v
        };
        let restart_policy = spec.restart_policy.clone().unwrap_or_else(|| "Always".into());
        // Init containers, one at a time, each to success; native sidecars keep running.
        for c in spec.init_containers.iter().flatten() {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            let latest = in_sandbox(&c.name).first().copied();
            match latest
                .map(|l| api::ContainerState::try_from(l.state).unwrap_or(api::ContainerState::ContainerUnknown))
            {
                Some(api::ContainerState::ContainerRunning) if sidecar => continue,
                Some(api::ContainerState::ContainerRunning | api::ContainerState::ContainerCreated) => {
                    wait = wait.min(Duration::from_secs(1));
                    break;
                }
                Some(api::ContainerState::ContainerExited) if !sidecar => {
                    let st =
                        self.cri.container_status(&latest.unwrap().id).await.map_err(|e| e.message().to_string())?;
                    if st.map(|s| s.exit_code) == Some(0) {
                        continue;
                    }
                    if restart_policy == "Never" {
                        break;
                    }
                }
                _ => {}
            }
            let count = latest.map(|l| restart_count(l) + 1).unwrap_or(0);
            if let Some(d) = self.start_container(p, c, count, &ctx).await {
                wait = wait.min(d);
            }
            if !sidecar {
                wait = wait.min(Duration::from_secs(1));
                break;
            }
        }
        let init_done = spec.init_containers.iter().flatten().all(|c| {
            let latest = in_sandbox(&c.name).first().copied();
            if c.restart_policy.as_deref() == Some("Always") {
                return latest.is_some_and(|l| l.state == api::ContainerState::ContainerRunning as i32);
            }
            latest.is_some_and(|l| l.state == api::ContainerState::ContainerExited as i32)
        });
        let init_ok = init_done && {
            let mut ok = true;
            for c in spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() != Some("Always")) {
                if let Some(l) = in_sandbox(&c.name).first() {
                    let st = self.cri.container_status(&l.id).await.map_err(|e| e.message().to_string())?;
                    ok &= st.map(|s| s.exit_code) == Some(0);
                }
            }
            ok
        };
        if init_ok {
            for c in &spec.containers {
                let latest = in_sandbox(&c.name).first().copied();
                let count = match latest {
                    None => 0,
                    Some(l) if l.state == api::ContainerState::ContainerRunning as i32 => {
                        if let Some(kind) = self.failed_probe(&uid, c, &l.id) {
                            self.kill_for_probe(p, c, &l.id, kind, &restart_policy).await;
                            wait = Duration::ZERO;
                        } else {
                            self.prober.ensure(p, c, &l.id, pod_ips.first().cloned());
                        }
                        continue;
                    }
                    Some(l) if l.state == api::ContainerState::ContainerCreated as i32 => {
                        wait = wait.min(Duration::from_secs(1));
                        continue;
                    }
                    Some(l) => {
                        let st = self.cri.container_status(&l.id).await.map_err(|e| e.message().to_string())?;
                        let exit = st.map(|s| s.exit_code).unwrap_or(-1);
                        let restart = match restart_policy.as_str() {
                            "Always" => true,
                            "OnFailure" => exit != 0,
                            _ => false,
                        };
                        if !restart {
                            continue;
                        }
                        restart_count(l) + 1
                    }
                };
                if let Some(d) = self.start_container(p, c, count, &ctx).await {
                    wait = wait.min(d);
                }
            }
        }
        // Ephemeral containers: started once each into a sandbox that already ran, never
        // restarted, without probes (upstream starts none into a sandbox made in this sync).
        if !fresh {
            for e in spec.ephemeral_containers.iter().flatten() {
                if !in_sandbox(&e.name).is_empty() {
                    continue;
                }
                let Some(c) = ephemeral_as_container(e) else { continue };
                let target = e.target_container_name.as_deref().and_then(|t| {
                    in_sandbox(t).into_iter().find(|x| x.state == api::ContainerState::ContainerRunning as i32)
                });
                let ectx = StartCtx { pid_target: target.map(|t| t.id.as_str()), ..ctx };
                if let Some(d) = self.start_container(p, &c, 0, &ectx).await {
                    wait = wait.min(d);
                }
            }
        }
        let rt = self.runtime_pod(&uid).await.map_err(|e| e.message().to_string())?;
        self.write_status(p, &rt, true).await?;
        Ok(Some(wait))
    }

    /// Admission, once per pod: a pod beyond `maxPods` is rejected (Failed, OutOfpods), as
    /// upstream's predicate admission does. Pods the runtime already runs are admitted.
    fn admit(&self, p: &Pod, rt: &RuntimePod) -> bool {
        let uid = pod::uid(p).to_string();
        if self.admitted.lock().unwrap().contains(&uid) {
            return true;
        }
        if !rt.sandboxes.is_empty() || pod::host_network(p) && crate::static_pods::is_static(p) {
            self.admitted.lock().unwrap().insert(uid);
            return true;
        }
        // Node pressure first, as upstream orders its admit handlers.
        if let Some(msg) = self.eviction.admit(p) {
            tracing::info!(pod = %pod::full_name(p), %msg, "Failed to admit pod");
            self.event(p, None, "Warning", "Evicted", msg.clone());
            self.ended.lock().unwrap().insert(uid, Ended::failed("Evicted", msg));
            return false;
        }
        let used = {
            let admitted = self.admitted.lock().unwrap();
            let ended = self.ended.lock().unwrap();
            let desired = self.desired.lock().unwrap();
            admitted
                .iter()
                .filter(|u| !ended.contains_key(*u))
                .filter(|u| {
                    desired.get(*u).is_some_and(|d| {
                        !matches!(d.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
                    })
                })
                .count()
        };
        let cap = self.cfg.max_pods as usize;
        if used >= cap {
            let msg = format!("Node didn't have enough resource: pods, requested: 1, used: {used}, capacity: {cap}");
            self.event(p, None, "Warning", "OutOfpods", msg.clone());
            self.ended.lock().unwrap().insert(uid, Ended::failed("OutOfpods", msg));
            return false;
        }
        self.admitted.lock().unwrap().insert(uid);
        true
    }

    /// Time left before `activeDeadlineSeconds` (counted from the pod's start) runs out.
    fn deadline_left(&self, p: &Pod) -> Option<Duration> {
        let secs = p.spec.as_ref()?.active_deadline_seconds?;
        let start = p.status.as_ref()?.start_time.as_ref()?.0;
        let deadline = start + jiff::SignedDuration::from_secs(secs);
        let left = deadline.duration_since(jiff::Timestamp::now());
        Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
    }

    /// The probe (liveness or startup) that failed for this container, if one did.
    fn failed_probe(&self, uid: &str, c: &Container, id: &str) -> Option<crate::prober::Kind> {
        use crate::prober::Kind;
        [Kind::Startup, Kind::Liveness].into_iter().find(|k| self.prober.result(uid, &c.name, id, *k) == Some(false))
    }

    /// Stops a container whose liveness or startup probe failed; the restart policy decides
    /// what comes next.
    async fn kill_for_probe(&self, p: &Pod, c: &Container, id: &str, kind: crate::prober::Kind, restart_policy: &str) {
        use crate::prober::Kind;
        let (what, probe) = match kind {
            Kind::Startup => ("startup", c.startup_probe.as_ref()),
            _ => ("liveness", c.liveness_probe.as_ref()),
        };
        let mut msg = format!("Container {} failed {what} probe", c.name);
        if restart_policy != "Never" {
            msg.push_str(", will be restarted");
        }
        self.event(p, Some(&c.name), "Normal", "Killing", msg);
        let grace = probe
            .and_then(|pr| pr.termination_grace_period_seconds)
            .or_else(|| p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(30);
        if let Err(e) = self.cri.stop_container(id, grace).await {
            tracing::warn!(pod = %pod::full_name(p), container = %c.name, "failed to stop container: {}", e.message());
        }
    }

    /// `runAsNonRoot`: the user the container will run as must not be root, as upstream
    /// verifies it (the image's user when the spec sets none).
    async fn verify_non_root(&self, p: &Pod, c: &Container, image: &str) -> Result<(), String> {
        let psc = p.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
        let sc = c.security_context.clone().unwrap_or_default();
        if !sc.run_as_non_root.or(psc.run_as_non_root).unwrap_or(false) {
            return Ok(());
        }
        let who = format!("(pod: \"{}\", container: {})", pod::full_name(p), c.name);
        match sc.run_as_user.or(psc.run_as_user) {
            Some(0) => Err(format!("container's runAsUser breaks non-root policy {who}")),
            Some(_) => Ok(()),
            None => {
                let img = self.cri.image(image).await.map_err(|e| e.message().to_string())?;
                let (uid, name) = img.map(|i| (i.uid.map(|u| u.value), i.username)).unwrap_or((None, String::new()));
                match uid {
                    Some(0) => Err(format!("container has runAsNonRoot and image will run as root {who}")),
                    Some(_) => Ok(()),
                    None if name.is_empty() || name == "root" => {
                        Err(format!("container has runAsNonRoot and image will run as root {who}"))
                    }
                    None => Err(format!(
                        "container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root {who}"
                    )),
                }
            }
        }
    }

    /// A fresh file under the pod's directory for the container's termination message.
    fn termination_log_file(&self, p: &Pod, c: &Container) -> Result<std::path::PathBuf, String> {
        use std::os::unix::fs::PermissionsExt;
        let dir = pod::pod_dir(&self.cfg, pod::uid(p)).join("containers").join(&c.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join(format!("{:08x}", rand::random::<u32>()));
        std::fs::write(&file, b"").map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(file)
    }

    /// A volume could not be set up: say so (event, status) and try again shortly.
    async fn mount_failed(
        &self,
        p: &Pod,
        rt: &RuntimePod,
        volume: &str,
        err: &str,
    ) -> Result<Option<Duration>, String> {
        self.event(
            p,
            None,
            "Warning",
            "FailedMount",
            format!("MountVolume.SetUp failed for volume \"{volume}\" : {err}"),
        );
        self.write_status(p, rt, false).await?;
        Ok(Some(Duration::from_secs(2)))
    }

    /// Starts `c` (attempt `count`) unless it is in back-off; returns when to look again.
    async fn start_container(&self, p: &Pod, c: &Container, count: u32, ctx: &StartCtx<'_>) -> Option<Duration> {
        let (sandbox_id, sandbox_cfg, hosts) = (ctx.sandbox_id, ctx.sandbox_cfg, ctx.hosts);
        let key = (pod::uid(p).to_string(), c.name.clone());
        let until = self.backoff.lock().unwrap().until(&key);
        if let Some(until) = until {
            return Some(until.saturating_duration_since(Instant::now()));
        }
        let image = c.image.clone().unwrap_or_default();
        let policy = c.image_pull_policy.clone().unwrap_or_else(|| {
            if image.contains('@')
                || (image.rsplit('/').next().is_some_and(|l| l.contains(':')) && !image.ends_with(":latest"))
            {
                "IfNotPresent".into()
            } else {
                "Always".into()
            }
        });
        // The image, per imagePullPolicy.
        let present = self.cri.image(&image).await.ok().flatten().map(|i| i.id);
        let need_pull = match policy.as_str() {
            "Always" => true,
            "Never" => {
                if present.is_none() {
                    let msg = format!("Container image \"{image}\" is not present with pull policy of Never");
                    self.event(p, Some(&c.name), "Warning", "ErrImageNeverPull", msg.clone());
                    self.set_waiting(&key, "ErrImageNeverPull", msg);
                    return Some(Duration::from_secs(10));
                }
                false
            }
            _ => present.is_none(),
        };
        if need_pull {
            self.event(p, Some(&c.name), "Normal", "Pulling", format!("Pulling image \"{image}\""));
            let started = Instant::now();
            match self.pull(p, &image).await {
                Ok(_) => {
                    let took = started.elapsed().as_secs_f64();
                    self.event(
                        p,
                        Some(&c.name),
                        "Normal",
                        "Pulled",
                        format!("Successfully pulled image \"{image}\" in {took:.3}s ({took:.3}s including waiting)"),
                    );
                }
                Err(e) => {
                    let msg = format!("Failed to pull image \"{image}\": {}", e.message());
                    self.event(p, Some(&c.name), "Warning", "Failed", msg.clone());
                    self.event(p, Some(&c.name), "Warning", "Failed", "Error: ErrImagePull".into());
                    let d = self.backoff.lock().unwrap().next(key.clone());
                    self.set_waiting(&key, "ErrImagePull", msg);
                    self.set_pull_failed(&key, &image);
                    return Some(d);
                }
            }
        } else if count == 0 {
            self.event(
                p,
                Some(&c.name),
                "Normal",
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            );
        }
        let refs = PodRefs { pods: self, uid: pod::uid(p) };
        let env = match crate::env::environment(p, c, &refs, &ctx.env).await {
            Ok(env) => env,
            Err(msg) => {
                self.event(p, Some(&c.name), "Warning", "Failed", format!("Error: {msg}"));
                self.set_waiting(&key, "CreateContainerConfigError", msg);
                return Some(Duration::from_secs(2));
            }
        };
        if let Err(msg) = self.verify_non_root(p, c, &image).await {
            self.event(p, Some(&c.name), "Warning", "Failed", format!("Error: {msg}"));
            self.set_waiting(&key, "CreateContainerConfigError", msg);
            return Some(Duration::from_secs(2));
        }
        let env_map: HashMap<String, String> = env.iter().cloned().collect();
        let mut mounts = match volumes::mounts(c, ctx.vols, &env_map) {
            Ok(m) => m,
            Err(msg) => {
                self.event(p, Some(&c.name), "Warning", "Failed", format!("Error: {msg}"));
                self.set_waiting(&key, "CreateContainerConfigError", msg);
                return Some(Duration::from_secs(2));
            }
        };
        // The termination message file: what the container writes there becomes its
        // terminated state's message.
        let tm_path = c.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
        if !tm_path.is_empty() && !mounts.iter().any(|m| m.container_path == tm_path) {
            match self.termination_log_file(p, c) {
                Ok(host) => mounts.push(api::Mount {
                    container_path: tm_path,
                    host_path: host.display().to_string(),
                    ..Default::default()
                }),
                Err(e) => tracing::warn!(pod = %pod::full_name(p), container = %c.name, "termination log file: {e}"),
            }
        }
        if !pod::host_network(p) && !mounts.iter().any(|m| m.container_path == "/etc/hosts") {
            mounts.push(api::Mount {
                container_path: "/etc/hosts".into(),
                host_path: hosts.display().to_string(),
                ..Default::default()
            });
        }
        let mut config = pod::container_config(p, c, count, &env, mounts);
        if let Some(target) = ctx.pid_target {
            if let Some(ns) = config
                .linux
                .as_mut()
                .and_then(|l| l.security_context.as_mut())
                .and_then(|s| s.namespace_options.as_mut())
            {
                ns.pid = api::NamespaceMode::Target as i32;
                ns.target_id = target.to_string();
            }
        }
        let mut rt = self.cri.runtime.clone();
        let created = rt
            .create_container(self.cri.req(api::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox_cfg.clone()),
            }))
            .await;
        let id = match created {
            Ok(r) => r.into_inner().container_id,
            Err(e) => {
                let msg = e.message().to_string();
                self.event(p, Some(&c.name), "Warning", "Failed", format!("Error: {msg}"));
                self.set_waiting(&key, "CreateContainerError", msg);
                self.backoff.lock().unwrap().next(key);
                return Some(Duration::from_secs(1));
            }
        };
        self.event(p, Some(&c.name), "Normal", "Created", format!("Created container: {}", c.name));
        let started_id = id.clone();
        if let Err(e) = rt.start_container(self.cri.req(api::StartContainerRequest { container_id: id })).await {
            let msg = e.message().to_string();
            self.event(p, Some(&c.name), "Warning", "Failed", format!("Error: {msg}"));
            self.set_waiting(&key, "RunContainerError", msg);
            self.backoff.lock().unwrap().next(key);
            return Some(Duration::from_secs(1));
        }
        self.event(p, Some(&c.name), "Normal", "Started", format!("Started container {}", c.name));
        // postStart: a failure kills the container, and the restart policy decides.
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let grace = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
            if let Err(e) = self.run_hook(p, c, &started_id, h, Duration::from_secs(grace.max(1) as u64)).await {
                tracing::warn!(pod = %pod::full_name(p), container = %c.name, "PostStart hook failed: {e}");
                self.event(p, Some(&c.name), "Warning", "FailedPostStartHook", format!("PostStartHook failed: {e}"));
                let _ = self.cri.stop_container(&started_id, grace).await;
                self.backoff.lock().unwrap().next(key);
                return Some(Duration::from_secs(1));
            }
        }
        self.clear_waiting(&key);
        if count > 0 {
            // A restart: the next crash waits longer.
            self.backoff.lock().unwrap().next(key);
        }
        None
    }

    /// The pod's IPs in a sandbox: the node's for host-network pods, else the sandbox's
    /// network status, asked once per sandbox.
    async fn sandbox_ips(&self, p: &Pod, sandbox_id: &str) -> Result<Vec<String>, tonic::Status> {
        if pod::host_network(p) {
            return Ok(self.host_ips());
        }
        let uid = pod::uid(p);
        if let Some((id, ips)) = self.sandbox_ips.lock().unwrap().get(uid) {
            if id == sandbox_id {
                return Ok(ips.clone());
            }
        }
        let Some(st) = self.cri.sandbox_status(sandbox_id).await? else { return Ok(Vec::new()) };
        let ips: Vec<String> = st
            .network
            .map(|n| {
                std::iter::once(n.ip)
                    .chain(n.additional_ips.into_iter().map(|i| i.ip))
                    .filter(|i| !i.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        self.sandbox_ips.lock().unwrap().insert(uid.to_string(), (sandbox_id.to_string(), ips.clone()));
        Ok(ips)
    }

    fn host_ips(&self) -> Vec<String> {
        let st = self.node.borrow();
        let Some(n) = &st.node else { return Vec::new() };
        n.status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .map(|a| a.iter().filter(|a| a.type_ == "InternalIP").map(|a| a.address.clone()).collect())
            .unwrap_or_default()
    }

    fn write_etc_hosts(&self, p: &Pod, ips: &[String]) -> Result<std::path::PathBuf, String> {
        let dir = pod::pod_dir(&self.cfg, pod::uid(p));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("etc-hosts");
        let text = pod::etc_hosts(p, ips, &self.cfg.cluster_domain);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(path)
    }

    fn set_waiting(&self, key: &(String, String), reason: &str, message: String) {
        self.waiting.lock().unwrap().insert(key.clone(), Waiting { reason: reason.into(), message });
    }
    fn set_pull_failed(&self, key: &(String, String), image: &str) {
        self.pull_failed.lock().unwrap().insert(key.clone(), image.to_string());
    }
    fn clear_waiting(&self, key: &(String, String)) {
        self.waiting.lock().unwrap().remove(key);
        self.pull_failed.lock().unwrap().remove(key);
    }

    /// Computes the pod's status from the runtime and writes it when it changed.
    async fn write_status(&self, p: &Pod, rt: &RuntimePod, sandbox_expected: bool) -> Result<(), String> {
        let Some(client) = &self.client else { return Ok(()) };
        let uid = pod::uid(p).to_string();
        // A static pod's status is its mirror's: read from it and written to it.
        let mirror = if crate::static_pods::is_static(p) {
            match self.mirrors.lock().unwrap().get(&uid).cloned() {
                Some(m) => Some(m),
                None => return Ok(()),
            }
        } else {
            None
        };
        let with_mirror_status;
        let p = match &mirror {
            Some(m) => {
                let mut x = p.clone();
                x.status = m.status.clone();
                with_mirror_status = x;
                &with_mirror_status
            }
            None => p,
        };
        let (target_name, target_uid) = match &mirror {
            Some(m) => (pod::name(m).to_string(), pod::uid(m).to_string()),
            None => (pod::name(p).to_string(), uid.clone()),
        };
        let spec = p.spec.clone().unwrap_or_default();
        let mut sandboxes = rt.sandboxes.clone();
        sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let sandbox = sandboxes.first();
        let sandbox_ready = sandbox.is_some_and(|s| s.state == api::PodSandboxState::SandboxReady as i32);
        let mut pod_ips = Vec::new();
        if let Some(s) = sandbox.filter(|_| sandbox_ready) {
            pod_ips = self.sandbox_ips(p, &s.id).await.unwrap_or_default();
        }
        let views = |specs: &[Container]| {
            let specs = specs.to_vec();
            let rt_containers = rt.containers.clone();
            let uid = uid.clone();
            let cri = self.cri.clone();
            let waiting_now = self.waiting.lock().unwrap().clone();
            let prober = &self.prober;
            async move {
                let mut out = Vec::new();
                for c in &specs {
                    let mut mine: Vec<&api::Container> = rt_containers
                        .iter()
                        .filter(|x| x.metadata.as_ref().is_some_and(|m| m.name == c.name))
                        .collect();
                    mine.sort_by_key(|c| std::cmp::Reverse(c.created_at));
                    let mut attempts = Vec::new();
                    for x in mine.iter().take(2) {
                        if let Ok(Some(mut s)) = cri.container_status(&x.id).await {
                            termination_message(c, &mut s);
                            attempts.push(s);
                        }
                    }
                    let key = (uid.clone(), c.name.clone());
                    let waiting = waiting_now.get(&key).cloned();
                    let running =
                        attempts.first().is_some_and(|s| s.state == api::ContainerState::ContainerRunning as i32);
                    let id = attempts.first().map(|s| s.id.clone()).unwrap_or_default();
                    let ready = running && prober.ready(&uid, c, &id);
                    let started = running && prober.started(&uid, c, &id);
                    out.push(ContainerView { attempts, waiting: if running { None } else { waiting }, ready, started });
                }
                out
            }
        };
        let init_specs = spec.init_containers.clone().unwrap_or_default();
        let init_views = views(&init_specs).await;
        let mut ctr_views = views(&spec.containers).await;
        // A container that exited and waits for its restart back-off is in CrashLoopBackOff.
        for (c, v) in spec.containers.iter().zip(ctr_views.iter_mut()) {
            let key = (uid.clone(), c.name.clone());
            let exited = v.attempts.first().is_some_and(|s| s.state == api::ContainerState::ContainerExited as i32);
            let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");
            let will_restart = match restart_policy {
                "Always" => true,
                "OnFailure" => v.attempts.first().is_some_and(|s| s.exit_code != 0),
                _ => false,
            };
            if exited && will_restart && sandbox_expected {
                // One lock for both reads (a guard held across a second lock() deadlocks).
                let backoff = {
                    let b = self.backoff.lock().unwrap();
                    b.until(&key).map(|_| b.0.get(&key).map(|(d, _)| d.as_secs()).unwrap_or(10))
                };
                if let Some(d) = backoff {
                    v.waiting = Some(Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: format!(
                            "back-off {} restarting failed container={} pod={}",
                            go_secs(d),
                            c.name,
                            pod::full_name(p)
                        ),
                    });
                }
            }
            let failed_image = self.pull_failed.lock().unwrap().get(&key).cloned();
            if let Some(img) = failed_image {
                if self.backoff.lock().unwrap().until(&key).is_some() && v.attempts.is_empty() {
                    let was_err = v.waiting.as_ref().is_some_and(|w| w.reason == "ErrImagePull");
                    if !was_err
                        || written_reason(&self.written.lock().unwrap(), &uid, &c.name).as_deref()
                            == Some("ErrImagePull")
                    {
                        v.waiting = Some(Waiting {
                            reason: "ImagePullBackOff".into(),
                            message: format!("Back-off pulling image \"{img}\""),
                        });
                    }
                }
            }
        }
        let host_ips = self.host_ips();
        let start_time = p.status.as_ref().and_then(|s| s.start_time.clone()).or_else(|| Some(crate::node::now()));
        let facts = PodFacts { sandbox_ready, pod_ips: &pod_ips, host_ips: &host_ips, start_time };
        let ephemeral: Vec<Container> =
            spec.ephemeral_containers.iter().flatten().filter_map(ephemeral_as_container).collect();
        let eph_views = views(&ephemeral).await;
        let mut status = status::pod_status(p, &init_views, &ctr_views, &facts, &crate::node::now());
        if !ephemeral.is_empty() {
            status.ephemeral_container_statuses = Some(
                ephemeral
                    .iter()
                    .zip(&eph_views)
                    .map(|(c, v)| status::container_status(&c.name, c.image.as_deref().unwrap_or(""), v))
                    .collect(),
            );
        }
        if let Some(e) = self.ended.lock().unwrap().get(&uid).cloned() {
            status.phase = Some(e.phase);
            status.reason = Some(e.reason);
            status.message = Some(e.message);
            if let Some(msg) = e.disruption {
                let conds = status.conditions.get_or_insert_with(Vec::new);
                conds.retain(|c| c.type_ != "DisruptionTarget");
                conds.push(k8s_openapi::api::core::v1::PodCondition {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                    reason: Some("TerminationByKubelet".into()),
                    message: Some(msg),
                    last_transition_time: Some(crate::node::now()),
                    ..Default::default()
                });
            }
        }
        let mut comparable = serde_json::to_value(&status).unwrap_or_default();
        strip_times(&mut comparable);
        if self.written.lock().unwrap().get(&uid) == Some(&comparable) {
            return Ok(());
        }
        let patch = serde_json::json!({"metadata": {"uid": target_uid}, "status": status});
        let api: Api<Pod> = Api::namespaced(client.clone(), pod::namespace(p));
        match api.patch_status(&target_name, &PatchParams::default(), &Patch::Strategic(&patch)).await {
            Ok(_) => {
                self.written.lock().unwrap().insert(uid, comparable);
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(format!("failed to update status: {e}")),
        }
    }

    /// The PLEG: relists the runtime once a second and wakes the workers of pods whose
    /// containers changed; runtime pods no source knows are handed to a worker to be killed.
    pub async fn pleg(self: Arc<Self>) {
        let mut last: HashMap<String, Vec<(String, i32)>> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (Ok(sandboxes), Ok(containers)) = (self.cri.list_sandboxes().await, self.cri.list_containers().await)
            else {
                continue;
            };
            let mut now: HashMap<String, Vec<(String, i32)>> = HashMap::new();
            for s in &sandboxes {
                if let Some(uid) = s.labels.get(pod::LABEL_POD_UID) {
                    now.entry(uid.clone()).or_default().push((s.id.clone(), s.state));
                }
            }
            for c in &containers {
                if let Some(uid) = c.labels.get(pod::LABEL_POD_UID) {
                    now.entry(uid.clone()).or_default().push((c.id.clone(), c.state + 10));
                }
            }
            for v in now.values_mut() {
                v.sort();
            }
            let changed: HashSet<&String> = now
                .iter()
                .filter(|(uid, v)| last.get(*uid) != Some(*v))
                .map(|(uid, _)| uid)
                .chain(last.keys().filter(|uid| !now.contains_key(*uid)))
                .collect();
            let ready = self.sources_ready.load(std::sync::atomic::Ordering::SeqCst);
            for uid in changed {
                self.kick(uid);
            }
            if ready {
                self.delete_orphaned_mirrors().await;
                let desired = self.desired.lock().unwrap().keys().cloned().collect::<HashSet<_>>();
                let workers = self.workers.lock().unwrap().keys().cloned().collect::<HashSet<_>>();
                for uid in now.keys().filter(|u| !desired.contains(*u) && !workers.contains(*u)) {
                    self.kick(uid);
                }
            }
            last = now;
        }
    }
}

/// `VolumeIsForPod`: a generic ephemeral volume's claim must be controlled by the pod itself,
/// so that a claim of the same name made by someone else is never mounted.
/// An ephemeral container as the container it runs as (the same fields; never probed).
fn ephemeral_as_container(e: &k8s_openapi::api::core::v1::EphemeralContainer) -> Option<Container> {
    let mut v = serde_json::to_value(e).ok()?;
    if let Some(m) = v.as_object_mut() {
        m.remove("targetContainerName");
    }
    serde_json::from_value(v).ok()
}

fn owned_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, p: &Pod) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && Some(&r.uid) == p.metadata.uid.as_ref())
}

fn written_reason(written: &HashMap<String, serde_json::Value>, uid: &str, name: &str) -> Option<String> {
    let st = written.get(uid)?;
    st.get("containerStatuses")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(|n| n.as_str()) == Some(name))?
        .pointer("/state/waiting/reason")?
        .as_str()
        .map(str::to_string)
}

/// `10s`, `1m20s`, `5m0s`: Go's rendering of a whole number of seconds.
fn go_secs(s: u64) -> String {
    component_base::flags::format_go_duration(Duration::from_secs(s))
}

fn restart_count(c: &api::Container) -> u32 {
    c.annotations.get(pod::ANN_RESTART_COUNT).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Removes the times that change on every sync (heartbeat-like), to compare statuses.
fn strip_times(v: &mut serde_json::Value) {
    if let Some(conds) = v.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastProbeTime");
            }
        }
    }
}

/// The terminated state's message: the container's termination message file (up to 4 KiB),
/// or with `FallbackToLogsOnError` and a failure, the end of its log (80 lines, 2 KiB).
fn termination_message(c: &Container, s: &mut api::ContainerStatus) {
    if s.state != api::ContainerState::ContainerExited as i32 {
        return;
    }
    let path = c.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
    let mut msg = s
        .mounts
        .iter()
        .find(|m| m.container_path == path)
        .and_then(|m| std::fs::read(&m.host_path).ok())
        .map(|mut b| {
            b.truncate(4096);
            String::from_utf8_lossy(&b).to_string()
        })
        .unwrap_or_default();
    let fallback = c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError") && s.exit_code != 0;
    if msg.is_empty() && fallback {
        msg = log_tail(&s.log_path, 80, 2048);
    }
    if !msg.is_empty() {
        if !s.message.is_empty() {
            s.message.push_str(": ");
        }
        s.message.push_str(&msg);
    }
}

/// The last `lines` lines (at most `max` bytes) a container logged, without the CRI prefix.
fn log_tail(path: &str, lines: usize, max: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else { return String::new() };
    let all: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in &all[all.len().saturating_sub(lines)..] {
        let mut f = l.splitn(4, ' ');
        let (_, _, tag, msg) = (f.next(), f.next(), f.next(), f.next().unwrap_or(""));
        out.push_str(msg);
        if tag != Some("P") {
            out.push('\n');
        }
    }
    if out.len() > max {
        let mut cut = out.len() - max;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_string();
    }
    out
}

/// What starting a container needs from its pod's sync.
#[derive(Clone, Copy)]
struct StartCtx<'a> {
    /// An ephemeral container's `targetContainerName`'s runtime ID: it joins that
    /// container's process namespace.
    pid_target: Option<&'a str>,
    sandbox_id: &'a str,
    sandbox_cfg: &'a api::PodSandboxConfig,
    hosts: &'a std::path::Path,
    vols: &'a HashMap<String, std::path::PathBuf>,
    env: EnvInputs<'a>,
}

/// A pod's view of the kubelet's ConfigMaps, Secrets and tokens (references are counted per
/// pod, so that watches stop with the last pod that needs them).
struct PodRefs<'a> {
    pods: &'a Pods,
    uid: &'a str,
}

impl Sources for PodRefs<'_> {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<Arc<ConfigMap>>, String> {
        match &self.pods.config_maps {
            Some(o) => o.get(ns, name, self.uid).await,
            None => Err(format!("couldn't get configMap {ns}/{name}, no kubeClient defined")),
        }
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Arc<Secret>>, String> {
        match &self.pods.secrets {
            Some(o) => o.get(ns, name, self.uid).await,
            None => Err(format!("couldn't get secret {ns}/{name}, no kubeClient defined")),
        }
    }
}

impl Tokens for PodRefs<'_> {
    async fn token(&self, p: &Pod, audience: &str, exp: i64) -> Result<String, String> {
        let key = (self.uid.to_string(), audience.to_string(), exp);
        if let Some((t, renew)) = self.pods.tokens.lock().unwrap().get(&key) {
            if *renew > Instant::now() {
                return Ok(t.clone());
            }
        }
        let Some(client) = &self.pods.client else {
            return Err("cannot request a service account token without an API server".into());
        };
        let sa = p.spec.as_ref().and_then(|s| s.service_account_name.clone()).unwrap_or_else(|| "default".into());
        let tr = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if audience.is_empty() { vec![] } else { vec![audience.to_string()] },
                expiration_seconds: Some(exp),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: p.metadata.name.clone(),
                    uid: p.metadata.uid.clone(),
                }),
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), pod::namespace(p));
        let out: TokenRequest = api
            .create_subresource("token", &sa, &kube::api::PostParams::default(), &tr)
            .await
            .map_err(|e| format!("failed to fetch token: {}", component_base::client::api_message(&e)))?;
        let status = out.status.ok_or("failed to fetch token: no status in the TokenRequest")?;
        // Renewed once 80 % of its life has passed, or after 24 h, as upstream.
        let ttl = status.expiration_timestamp.0.duration_since(jiff::Timestamp::now());
        let ttl = Duration::try_from(ttl).unwrap_or(Duration::ZERO);
        let renew = Instant::now() + (ttl.mul_f64(0.8)).min(Duration::from_secs(24 * 3600));
        self.pods.tokens.lock().unwrap().insert(key, (status.token.clone(), renew));
        Ok(status.token)
    }
}

/// A projected token: (pod uid, audience, expiration seconds).
type TokenKey = (String, String, i64);

/// A container of a pod: (pod uid, container name).
type Key = (String, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let mut b = Backoffs::default();
        let k = ("u".to_string(), "c".to_string());
        assert!(b.until(&k).is_none());
        assert_eq!(b.next(k.clone()), Duration::from_secs(10));
        assert!(b.until(&k).is_some());
        assert_eq!(b.next(k.clone()), Duration::from_secs(20));
        for _ in 0..10 {
            b.next(k.clone());
        }
        assert_eq!(b.next(k.clone()), Duration::from_secs(300));
        b.clear_pod("u");
        assert!(b.until(&k).is_none());
        assert_eq!(go_secs(80), "1m20s");
    }
}
