//! kube-scheduler: watches pods and nodes through component-base's informers, keeps the cluster
//! state in its cache, and binds each pending pod whose `schedulerName` is one of its profiles
//! to the node its plugins choose. With `--leader-elect` (the default) only the holder of the
//! `kube-scheduler` Lease schedules.

pub mod assume_cache;
pub mod cache;
pub mod config;
pub mod framework;
pub mod metrics;
pub mod nominator;
pub mod options;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod schedule;
pub mod trim;

use cache::Cache;
use component_base::serving::{Delegated, Endpoints};
use component_base::{Change, Informer, InformerFactory};
use config::{Config, Profile};
use framework::Listers;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{CSIDriver, CSINode, CSIStorageCapacity, StorageClass, VolumeAttachment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::watcher;
use kube::Api;
use options::Options;
use queue::Queue;
use schedule::Scheduler;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Base(#[from] component_base::Error),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// The secure port's default.
pub const DEFAULT_PORT: u16 = 10259;

/// The client's request rate when neither `--kube-api-qps` nor `clientConnection.qps` sets one:
/// negative, which (as in client-go) means no client-side limit. Upstream defaults to 50, which
/// caps scheduling at about 50 pods/s (a binding and an event per pod); the scheduler's request
/// rate is bounded by its scheduling rate anyway, so the limit only queues bindings. Setting
/// `qps: 50` (or the flag) gives upstream's behaviour back.
pub const DEFAULT_QPS: f32 = -1.0;

fn terminal(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// A node change that can make an unschedulable pod fit: taints, cordoning, allocatable,
/// labels or conditions.
fn node_change_matters(old: &Node, new: &Node) -> bool {
    let spec = |n: &Node| n.spec.as_ref().map(|s| (s.taints.clone(), s.unschedulable));
    let status = |n: &Node| {
        n.status.as_ref().map(|s| {
            (
                s.allocatable.clone(),
                s.conditions.clone().map(|c| c.into_iter().map(|c| (c.type_, c.status)).collect::<Vec<_>>()),
            )
        })
    };
    spec(old) != spec(new) || status(old) != status(new) || old.metadata.labels != new.metadata.labels
}

/// The plugins' listers over the shared informers.
struct InformerListers {
    namespaces: Informer<Namespace>,
    services: Informer<Service>,
    replication_controllers: Informer<ReplicationController>,
    replica_sets: Informer<ReplicaSet>,
    stateful_sets: Informer<StatefulSet>,
    pdbs: Informer<PodDisruptionBudget>,
    pvcs: Informer<PersistentVolumeClaim>,
    pvs: Informer<PersistentVolume>,
    storage_classes: Informer<StorageClass>,
    csi_nodes: Informer<CSINode>,
    csi_drivers: Informer<CSIDriver>,
    csi_capacities: Informer<CSIStorageCapacity>,
    volume_attachments: Informer<VolumeAttachment>,
    nodes: Informer<Node>,
    pods: Informer<Pod>,
    client: kube::Client,
}

impl InformerListers {
    async fn wait_synced(&self) {
        self.namespaces.wait_synced().await;
        self.services.wait_synced().await;
        self.replication_controllers.wait_synced().await;
        self.replica_sets.wait_synced().await;
        self.stateful_sets.wait_synced().await;
        self.pdbs.wait_synced().await;
        self.pvcs.wait_synced().await;
        self.pvs.wait_synced().await;
        self.storage_classes.wait_synced().await;
        self.csi_nodes.wait_synced().await;
        self.csi_drivers.wait_synced().await;
        self.csi_capacities.wait_synced().await;
        self.volume_attachments.wait_synced().await;
    }
}

impl Listers for InformerListers {
    fn namespace_labels(&self, ns: &str) -> Option<BTreeMap<String, String>> {
        self.namespaces.get("", ns).and_then(|n| n.metadata.labels.clone())
    }

    fn namespaces_matching(&self, sel: &LabelSelector) -> Vec<String> {
        self.namespaces
            .list()
            .iter()
            .filter(|n| api_types::selector::selector_matches(Some(sel), n.metadata.labels.as_ref()).unwrap_or(false))
            .filter_map(|n| n.metadata.name.clone())
            .collect()
    }

    fn services(&self, ns: &str) -> Vec<Arc<Service>> {
        self.services.list_namespace(ns)
    }

    fn replication_controller(&self, ns: &str, name: &str) -> Option<Arc<ReplicationController>> {
        self.replication_controllers.get(ns, name)
    }

    fn replica_set(&self, ns: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        self.replica_sets.get(ns, name)
    }

    fn stateful_set(&self, ns: &str, name: &str) -> Option<Arc<StatefulSet>> {
        self.stateful_sets.get(ns, name)
    }

    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.list()
    }

    fn pvc(&self, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.pvcs.get(ns, name)
    }

    fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.pvs.get("", name)
    }

    fn pvs(&self) -> Vec<Arc<PersistentVolume>> {
        self.pvs.list()
    }

    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.storage_classes.get("", name)
    }

    fn csi_node(&self, name: &str) -> Option<Arc<CSINode>> {
        self.csi_nodes.get("", name)
    }

    fn csi_driver(&self, name: &str) -> Option<Arc<CSIDriver>> {
        self.csi_drivers.get("", name)
    }

    fn csi_storage_capacities(&self) -> Vec<Arc<CSIStorageCapacity>> {
        self.csi_capacities.list()
    }

    fn volume_attachments(&self) -> Vec<Arc<VolumeAttachment>> {
        self.volume_attachments.list()
    }

    fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.get("", name)
    }

    fn pod(&self, ns: &str, name: &str) -> Option<Arc<Pod>> {
        self.pods.get(ns, name)
    }

    fn client(&self) -> Option<kube::Client> {
        Some(self.client.clone())
    }
}

/// Plugins that look at volumes, and the events each kind of storage object is for.
const CLAIM_PLUGINS: &[&str] = &[plugins::volume_binding::NAME, "VolumeZone", "VolumeRestrictions", "NodeVolumeLimits"];
const VOLUME_PLUGINS: &[&str] = &[plugins::volume_binding::NAME, "VolumeZone"];
const CSI_NODE_PLUGINS: &[&str] = &[plugins::volume_binding::NAME, "NodeVolumeLimits"];
const CAPACITY_PLUGINS: &[&str] = &[plugins::volume_binding::NAME];
const ATTACHMENT_PLUGINS: &[&str] = &["NodeVolumeLimits"];

/// Moves the pods `plugins` rejected when a storage object of this informer is added or
/// changed (or, with `on_delete`, deleted).
fn requeue_on<K>(inf: &Informer<K>, queue: &Arc<Queue>, plugins: &'static [&'static str], on_delete: bool)
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let queue = queue.clone();
    inf.add_handler(move |c| {
        let relevant = matches!(c, Change::Deleted(_)) == on_delete;
        if relevant {
            queue.on_event(Some(plugins), |_| true);
        }
    });
}

/// The plugins a pod placed on a node can help: by matching required pod affinity, or by
/// raising the smallest count of a spread constraint.
const POD_ADD_PLUGINS: &[&str] = &[plugins::inter_pod_affinity::NAME, plugins::topology_spread::NAME];

/// The QueueingHint for a newly placed pod: whether `placed` matches one of the pending pod's
/// required affinity terms or its spread constraints.
fn may_help(pending: &Pod, placed: &Pod, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
    let terms = framework::PodAffinityTerms::of(pending);
    if terms.required_affinity.iter().any(|t| t.matches(placed, ns_labels)) {
        return true;
    }
    let same_ns = pending.metadata.namespace == placed.metadata.namespace;
    let spread = pending.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_deref()).unwrap_or(&[]);
    same_ns
        && spread.iter().any(|c| {
            api_types::selector::selector_matches(c.label_selector.as_ref(), placed.metadata.labels.as_ref())
                .unwrap_or(false)
        })
}

/// Runs the scheduler until SIGTERM (exit 0) or lost leadership (an error).
pub async fn run(opts: Options) -> Result<(), Error> {
    component_base::init_logging(opts.daemon.log.verbosity);
    tracing::info!(version = "v1.33.0", "Starting Kubernetes Scheduler");
    let cfg = match opts.config.as_deref() {
        Some(p) => config::load(p).map_err(Error::Config)?,
        None => Config::default(),
    };
    let mut client_flags = opts.daemon.client.clone();
    if let Some(k) = cfg.kubeconfig.as_ref().filter(|_| opts.daemon.client.kubeconfig.is_none()) {
        client_flags.kubeconfig = Some(k.into());
    }
    let qps = opts.daemon.client.kube_api_qps.or(cfg.qps).unwrap_or(DEFAULT_QPS);
    let burst = opts.daemon.client.kube_api_burst.or(cfg.burst).unwrap_or(100);
    let root = component_base::client::config(&client_flags).await?;
    let ua = component_base::client::user_agent("kube-scheduler", None);
    let client = component_base::client::build(root.clone(), &ua, qps, burst)?;
    let leader_ua = component_base::client::user_agent("kube-scheduler", Some("leader-election"));
    let leader_client = component_base::client::build(root, &leader_ua, 0.0, 0)?;

    // Informers are created here and started below; the profiles only keep the listers.
    let factory = InformerFactory::new(client.clone());
    // Pods that can still take resources: the terminal ones are not listed.
    let pods_cfg = watcher::Config::default().any_semantic().fields("status.phase!=Succeeded,status.phase!=Failed");
    let pods: Informer<Pod> = Informer::new("pods", Api::all(client.clone()), pods_cfg);
    pods.set_transform(trim::trim_pod);
    let nodes: Informer<Node> =
        Informer::new("nodes", Api::all(client.clone()), watcher::Config::default().any_semantic());
    nodes.set_transform(trim::trim_node);
    let listers = Arc::new(InformerListers {
        namespaces: factory.get(),
        services: factory.get(),
        replication_controllers: factory.get(),
        replica_sets: factory.get(),
        stateful_sets: factory.get(),
        pdbs: factory.get(),
        pvcs: factory.get(),
        pvs: factory.get(),
        storage_classes: factory.get(),
        csi_nodes: factory.get(),
        csi_drivers: factory.get(),
        csi_capacities: factory.get(),
        volume_attachments: factory.get(),
        nodes: nodes.clone(),
        pods: pods.clone(),
        client: client.clone(),
    });
    let dyn_listers: Arc<dyn Listers> = listers.clone();
    let mut profiles = Vec::new();
    for pc in &cfg.profiles {
        let p = Profile::build(pc, &dyn_listers).map_err(|e| Error::Config(format!("initializing profiles: {e}")))?;
        profiles.push(Arc::new(p));
    }

    let endpoints = Endpoints::new();
    endpoints.set_configz("componentconfig", cfg.raw.clone());
    let auth = Delegated::from_flags(&opts.daemon.auth, &ua, true).await?;
    component_base::serving::serve(&opts.daemon.serving, DEFAULT_PORT, "kube-scheduler", auth, endpoints.clone())
        .await?;

    let cache = Arc::new(Cache::default());
    let nominator = Arc::new(nominator::Nominator::default());
    let queue =
        Arc::new(Queue::new(cfg.pod_initial_backoff, cfg.pod_max_backoff, opts.pod_max_in_unschedulable_pods_duration));
    let names: Vec<String> = profiles.iter().map(|p| p.scheduler_name.clone()).collect();
    let responsible = move |p: &Pod| {
        let n = p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or("default-scheduler");
        names.iter().any(|x| x == n)
    };

    {
        let queue2 = queue.clone();
        listers.pvcs.add_handler(move |c| {
            let claim = match c {
                Change::Added(p) | Change::Updated { new: p, .. } => p,
                Change::Deleted(_) => return,
            };
            queue2.on_event(Some(CLAIM_PLUGINS), |pending| plugins::volume_binding::claim_event_helps(pending, claim));
        });
        requeue_on(&listers.pvs, &queue, VOLUME_PLUGINS, false);
        requeue_on(&listers.storage_classes, &queue, VOLUME_PLUGINS, false);
        requeue_on(&listers.csi_nodes, &queue, CSI_NODE_PLUGINS, false);
        requeue_on(&listers.csi_drivers, &queue, CAPACITY_PLUGINS, false);
        requeue_on(&listers.csi_capacities, &queue, CAPACITY_PLUGINS, false);
        requeue_on(&listers.volume_attachments, &queue, ATTACHMENT_PLUGINS, true);
    }
    {
        let (cache, queue) = (cache.clone(), queue.clone());
        nodes.add_handler(move |c| match c {
            Change::Added(n) => {
                cache.set_node(n.clone());
                queue.move_all();
            }
            Change::Updated { old, new } => {
                cache.set_node(new.clone());
                if node_change_matters(old, new) {
                    queue.move_all();
                }
            }
            Change::Deleted(n) => cache.remove_node(n.metadata.name.as_deref().unwrap_or("")),
        });
    }
    {
        let (cache, queue, listers, nominator) = (cache.clone(), queue.clone(), listers.clone(), nominator.clone());
        pods.add_handler(move |c| {
            let (pod, deleted, newly_placed) = match c {
                Change::Added(p) => (p, false, true),
                Change::Updated { old, new } => {
                    (new, false, !schedule::is_assigned(old) || old.metadata.labels != new.metadata.labels)
                }
                Change::Deleted(p) => (p, true, false),
            };
            let key = framework::pod_key(pod);
            if deleted || terminal(pod) {
                queue.delete(&key);
                nominator.remove(&key);
                if schedule::is_assigned(pod) || cache.is_assumed(&key) {
                    cache.remove_pod(pod);
                    queue.move_all();
                }
            } else if schedule::is_assigned(pod) {
                queue.delete(&key);
                nominator.remove(&key);
                cache.set_pod(pod.clone());
                if newly_placed {
                    let ns_labels = listers.namespace_labels(pod.metadata.namespace.as_deref().unwrap_or(""));
                    queue.on_event(Some(POD_ADD_PLUGINS), |pending| may_help(pending, pod, ns_labels.as_ref()));
                }
            } else if responsible(pod) {
                // A nomination seen on the pod (another scheduler instance's, or ours after a
                // restart) holds its room; one made here is kept until bound or cleared.
                if let Some(n) = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()) {
                    if !n.is_empty() && nominator.node_of(&key).as_deref() != Some(n) {
                        nominator.set(pod.clone(), n);
                    }
                }
                queue.update(pod.clone(), key);
            }
        });
    }
    nodes.start();
    pods.start();
    factory.start();
    nodes.wait_synced().await;
    pods.wait_synced().await;
    listers.wait_synced().await;

    let mut by_name = HashMap::new();
    let events = component_base::eventsv1::broadcaster(client.clone());
    for p in profiles {
        let rec = events.new_recorder(&p.scheduler_name);
        by_name.insert(p.scheduler_name.clone(), (p, rec));
    }
    let lookup_pods = pods.clone();
    let lookup = Box::new(move |key: &str| {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        lookup_pods.get(ns, name)
    });
    let sched = Arc::new(Scheduler::new(
        by_name,
        cache,
        queue.clone(),
        nominator,
        dyn_listers,
        client,
        cfg.percentage_of_nodes_to_score,
        lookup,
    ));
    {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                queue.flush();
                metrics::pending(&queue.pending());
            }
        });
    }

    let leader_elect = cfg.leader_elect.unwrap_or(opts.daemon.leader.leader_elect);
    if leader_elect {
        if opts.daemon.leader.leader_elect_resource_lock != "leases" {
            return Err(Error::Config(format!(
                "leader-elect-resource-lock: Unsupported value: {:?}: supported values: \"leases\"",
                opts.daemon.leader.leader_elect_resource_lock
            )));
        }
        let name = cfg
            .lease_name
            .clone()
            .or_else(|| opts.daemon.leader.leader_elect_resource_name.clone())
            .unwrap_or_else(|| "kube-scheduler".into());
        let ns =
            cfg.lease_namespace.clone().unwrap_or_else(|| opts.daemon.leader.leader_elect_resource_namespace.clone());
        let mut le =
            component_base::leader::LeaderElectionConfig::new(&ns, &name, &component_base::leader::default_identity());
        le.lease_duration = opts.daemon.leader.leader_elect_lease_duration;
        le.renew_deadline = opts.daemon.leader.leader_elect_renew_deadline;
        le.retry_period = opts.daemon.leader.leader_elect_retry_period;
        let lead = sched.run();
        tokio::select! {
            _ = component_base::leader::run_leading(leader_client, le, lead) => {
                tracing::error!("leaderelection lost");
                Err(Error::Config("leaderelection lost".into()))
            }
            _ = component_base::shutdown_signal() => Ok(()),
        }
    } else {
        tokio::select! {
            _ = sched.run() => Ok(()),
            _ = component_base::shutdown_signal() => Ok(()),
        }
    }
}
