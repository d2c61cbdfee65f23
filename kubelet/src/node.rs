//! The node in the API: registration, status (addresses, capacity, allocatable, conditions,
//! node info, images) posted every `nodeStatusUpdateFrequency` when it changed or every
//! `nodeStatusReportFrequency` regardless, and the heartbeat Lease in `kube-node-lease`.

use crate::config::Config;
use crate::cri::{self, Cri};
use crate::machine::MachineInfo;
use crate::quantity::{binary_si, milli, millicores, threshold_bytes, value};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const KUBELET_VERSION: &str = "v1.33.0";

/// What the node loop shares with the rest of the kubelet.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// The node object as last read or written.
    pub node: Option<Arc<Node>>,
    /// The runtime's problem, when it is not ready (the Ready condition's message).
    pub runtime_problem: Option<String>,
}

fn q(s: String) -> Quantity {
    Quantity(s)
}

/// The default labels a kubelet sets on its node.
pub fn default_labels(cfg: &Config) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("beta.kubernetes.io/arch".into(), "amd64".into());
    l.insert("beta.kubernetes.io/os".into(), "linux".into());
    l.insert("kubernetes.io/arch".into(), "amd64".into());
    l.insert("kubernetes.io/hostname".into(), cfg.node_name.clone());
    l.insert("kubernetes.io/os".into(), "linux".into());
    for (k, v) in &cfg.node_labels {
        l.insert(k.clone(), v.clone());
    }
    l
}

/// The node as first registered.
pub fn initial_node(cfg: &Config) -> Node {
    let mut annotations = BTreeMap::new();
    annotations.insert("volumes.kubernetes.io/controller-managed-attach-detach".to_string(), "true".to_string());
    Node {
        metadata: ObjectMeta {
            name: Some(cfg.node_name.clone()),
            labels: Some(default_labels(cfg)),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!cfg.register_with_taints.is_empty()).then(|| cfg.register_with_taints.clone()),
            ..Default::default()
        }),
        status: None,
    }
}

/// The node's addresses: `--node-ip`, else the source address of the default route.
pub fn addresses(cfg: &Config) -> Vec<NodeAddress> {
    let mut out = Vec::new();
    let ips: Vec<std::net::IpAddr> =
        if cfg.node_ips.is_empty() { default_route_ip().into_iter().collect() } else { cfg.node_ips.clone() };
    for ip in ips {
        out.push(NodeAddress { type_: "InternalIP".into(), address: ip.to_string() });
    }
    out.push(NodeAddress { type_: "Hostname".into(), address: cfg.node_name.clone() });
    out
}

/// The address the kernel would send from towards the default route (no packet is sent).
fn default_route_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// Capacity and allocatable: the machine, less kube-reserved, system-reserved and the hard
/// eviction thresholds.
pub fn resources(cfg: &Config, m: &MachineInfo) -> (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>) {
    let mut cap = BTreeMap::new();
    cap.insert("cpu".to_string(), q(m.cpus.to_string()));
    cap.insert("memory".to_string(), q(binary_si(m.memory_bytes)));
    cap.insert("ephemeral-storage".to_string(), q(binary_si(m.fs_bytes)));
    cap.insert("pods".to_string(), q(cfg.max_pods.to_string()));
    for (name, bytes) in &m.hugepages {
        cap.insert(name.clone(), q(binary_si(*bytes)));
    }
    let reserved = |name: &str, f: fn(&str) -> Option<i64>| -> i64 {
        [&cfg.kube_reserved, &cfg.system_reserved].iter().filter_map(|r| r.get(name)).filter_map(|v| f(v)).sum()
    };
    let mut alloc = cap.clone();
    let cpu = (m.cpus * 1000 - reserved("cpu", milli)).max(0);
    alloc.insert("cpu".into(), q(millicores(cpu)));
    let mem_evict =
        cfg.eviction_hard.get("memory.available").and_then(|v| threshold_bytes(v, m.memory_bytes)).unwrap_or(0);
    let mem = (m.memory_bytes - reserved("memory", value) - mem_evict).max(0);
    alloc.insert("memory".into(), q(binary_si(mem)));
    let fs_evict = cfg.eviction_hard.get("nodefs.available").and_then(|v| threshold_bytes(v, m.fs_bytes)).unwrap_or(0);
    let fs = (m.fs_bytes - reserved("ephemeral-storage", value) - fs_evict).max(0);
    alloc.insert("ephemeral-storage".into(), q(binary_si(fs)));
    (cap, alloc)
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &Time,
    prev: Option<&NodeCondition>,
) -> NodeCondition {
    let status = if type_ == "Ready" { ok } else { !ok };
    let status = if status { "True" } else { "False" }.to_string();
    let transition = match prev {
        Some(p) if p.status == status => p.last_transition_time.clone().unwrap_or_else(|| now.clone()),
        _ => now.clone(),
    };
    NodeCondition {
        type_: type_.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(transition),
    }
}

/// The node's conditions, keeping each one's transition time while its status holds.
pub fn conditions(
    prev: &[NodeCondition],
    runtime_problem: Option<&str>,
    pressure: &[&str],
    now: &Time,
) -> Vec<NodeCondition> {
    let p = |t: &str| prev.iter().find(|c| c.type_ == t);
    let calm = |t: &str| !pressure.contains(&t);
    let ready = match runtime_problem {
        None => condition("Ready", true, "KubeletReady", "kubelet is posting ready status", now, p("Ready")),
        Some(msg) => condition("Ready", false, "KubeletNotReady", msg, now, p("Ready")),
    };
    vec![
        if calm("MemoryPressure") {
            condition(
                "MemoryPressure",
                true,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                now,
                p("MemoryPressure"),
            )
        } else {
            condition(
                "MemoryPressure",
                false,
                "KubeletHasInsufficientMemory",
                "kubelet has insufficient memory available",
                now,
                p("MemoryPressure"),
            )
        },
        if calm("DiskPressure") {
            condition(
                "DiskPressure",
                true,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
                now,
                p("DiskPressure"),
            )
        } else {
            condition(
                "DiskPressure",
                false,
                "KubeletHasDiskPressure",
                "kubelet has disk pressure",
                now,
                p("DiskPressure"),
            )
        },
        if calm("PIDPressure") {
            condition(
                "PIDPressure",
                true,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
                now,
                p("PIDPressure"),
            )
        } else {
            condition(
                "PIDPressure",
                false,
                "KubeletHasInsufficientPID",
                "kubelet has insufficient PID available",
                now,
                p("PIDPressure"),
            )
        },
        ready,
    ]
}

/// The Ready condition's message from the runtime's status, as upstream words it.
pub fn runtime_problem(status: Result<&cri::api::RuntimeStatus, &tonic::Status>) -> Option<String> {
    match status {
        Err(e) => Some(format!("container runtime status check may not have completed yet: {}", e.message())),
        Ok(st) => {
            if let Some(p) = cri::condition_problem(st, "RuntimeReady") {
                return Some(format!("container runtime not ready: {p}"));
            }
            cri::condition_problem(st, "NetworkReady").map(|p| format!("container runtime network not ready: {p}"))
        }
    }
}

/// Images for the node status: the 50 largest, names as tags then digests.
pub fn images(list: &[cri::api::Image]) -> Vec<ContainerImage> {
    let mut imgs: Vec<&cri::api::Image> = list.iter().filter(|i| !i.pinned || !i.repo_tags.is_empty()).collect();
    imgs.sort_by_key(|i| std::cmp::Reverse(i.size));
    imgs.into_iter()
        .take(50)
        .map(|i| ContainerImage {
            names: Some(i.repo_digests.iter().chain(i.repo_tags.iter()).cloned().collect()),
            size_bytes: Some(i.size as i64),
        })
        .collect()
}

pub fn now() -> Time {
    Time(Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| Timestamp::now()))
}

/// The node loop: registers, then posts status and watches the node for its pod CIDR.
pub struct NodeLoop {
    pub cfg: Arc<Config>,
    pub client: Client,
    pub cri: Cri,
    pub state: watch::Sender<NodeState>,
    pub eviction: Arc<crate::eviction::Manager>,
}

impl NodeLoop {
    fn api(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Registers the node, retrying until the apiserver takes it.
    async fn register(&self) -> Node {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.try_register().await {
                Ok(n) => {
                    tracing::info!(node = %self.cfg.node_name, "Successfully registered node");
                    return n;
                }
                Err(e) => {
                    tracing::warn!(node = %self.cfg.node_name, "Unable to register node with API server: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(7));
                }
            }
        }
    }

    async fn try_register(&self) -> Result<Node, kube::Error> {
        let node = initial_node(&self.cfg);
        match self.api().create(&PostParams::default(), &node).await {
            Ok(n) => Ok(n),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Already registered (a restart): keep it, and make sure our default labels hold.
                let existing = self.api().get(&self.cfg.node_name).await?;
                let have = existing.metadata.labels.clone().unwrap_or_default();
                let want = default_labels(&self.cfg);
                if want.iter().any(|(k, v)| have.get(k) != Some(v)) {
                    let patch = serde_json::json!({"metadata": {"labels": want}});
                    return self.api().patch(&self.cfg.node_name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                }
                Ok(existing)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn run(self) {
        let machine = MachineInfo::read(&self.cfg.root_dir);
        let version = loop {
            match self.cri.version().await {
                Ok(v) => break v,
                Err(e) => {
                    tracing::warn!("container runtime not reachable: {}", e.message());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut node = self.register().await;
        let mut last_post = Instant::now() - self.cfg.node_status_report_frequency;
        let mut last_status: Option<serde_json::Value> = None;
        let mut pod_cidr_sent: Option<String> = None;
        let mut tick = tokio::time::interval(self.cfg.node_status_update_frequency);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The node object itself, watched: a pod CIDR (or a deletion) is acted on at once.
        let node_changed = Arc::new(tokio::sync::Notify::new());
        let own: component_base::Informer<Node> = component_base::Informer::new(
            "nodes",
            self.api(),
            kube::runtime::watcher::Config::default().fields(&format!("metadata.name={}", self.cfg.node_name)),
        );
        let n = node_changed.clone();
        own.add_handler(move |c| {
            if let component_base::Change::Updated { old, new } = c {
                let cidr = |n: &Node| n.spec.as_ref().and_then(|s| s.pod_cidr.clone());
                if cidr(old) != cidr(new) {
                    n.notify_one();
                }
            } else {
                n.notify_one();
            }
        });
        own.start();
        loop {
            let rs = self.cri.status().await;
            let problem = runtime_problem(rs.as_ref());
            let images = self.cri.list_images().await.map(|l| images(&l)).unwrap_or_default();
            // The pod CIDR the node IPAM controller gave us goes to the runtime (CNI config).
            let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone()).or_else(|| self.cfg.pod_cidr.clone());
            if let Some(c) = cidr.filter(|c| pod_cidr_sent.as_ref() != Some(c)) {
                match self.cri.update_pod_cidr(&c).await {
                    Ok(()) => {
                        tracing::info!(cidr = %c, "Updating Pod CIDR");
                        pod_cidr_sent = Some(c);
                    }
                    Err(e) => tracing::warn!("Failed to update pod CIDR: {}", e.message()),
                }
            }
            let status = self.status(&node, &machine, &version, problem.as_deref(), images);
            let comparable = comparable(&status);
            let changed = last_status.as_ref() != Some(&comparable);
            if changed || last_post.elapsed() >= self.cfg.node_status_report_frequency {
                let patch = serde_json::json!({ "status": status });
                match self
                    .api()
                    .patch_status(&self.cfg.node_name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await
                {
                    Ok(n) => {
                        node = n;
                        last_status = Some(comparable);
                        last_post = Instant::now();
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        tracing::warn!("node {} was deleted: registering it again", self.cfg.node_name);
                        node = self.register().await;
                        last_status = None;
                        continue;
                    }
                    Err(e) => tracing::warn!("Error updating node status, will retry: {e}"),
                }
            } else if let Some(n) = own.get("", &self.cfg.node_name) {
                // The node as watched: no GET per tick.
                node = (*n).clone();
            }
            self.state.send_modify(|s| {
                s.node = Some(Arc::new(node.clone()));
                s.runtime_problem = problem.clone();
            });
            tokio::select! {
                _ = tick.tick() => {}
                _ = node_changed.notified() => {
                    if let Some(n) = own.get("", &self.cfg.node_name) {
                        node = (*n).clone();
                    }
                }
            }
        }
    }

    fn status(
        &self,
        node: &Node,
        m: &MachineInfo,
        version: &cri::api::VersionResponse,
        problem: Option<&str>,
        images: Vec<ContainerImage>,
    ) -> NodeStatus {
        let (capacity, allocatable) = resources(&self.cfg, m);
        let prev = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        NodeStatus {
            addresses: Some(addresses(&self.cfg)),
            capacity: Some(capacity),
            allocatable: Some(allocatable),
            conditions: Some(conditions(&prev, problem, &self.eviction.conditions(), &now())),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: self.cfg.port as i32 }),
            }),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".into(),
                boot_id: m.boot_id.clone(),
                container_runtime_version: format!("{}://{}", version.runtime_name, version.runtime_version),
                kernel_version: m.kernel_version.clone(),
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: m.machine_id.clone(),
                operating_system: "linux".into(),
                os_image: m.os_image.clone(),
                system_uuid: m.system_uuid.clone(),
                swap: None,
            }),
            images: Some(images),
            ..Default::default()
        }
    }
}

/// The status without heartbeat times, to tell a change from a heartbeat.
fn comparable(s: &NodeStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(conds) = v.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastHeartbeatTime");
            }
        }
    }
    v
}

/// The heartbeat: renews `kube-node-lease/<node>` every quarter of its duration, creating it
/// (owned by the Node) when missing.
pub async fn lease_loop(cfg: Arc<Config>, client: Client, state: watch::Receiver<NodeState>) {
    let api: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let interval = Duration::from_secs((cfg.node_lease_duration_seconds.max(4) / 4) as u64);
    let mut state = state;
    // The lease is owned by the node, so wait for registration.
    let node = loop {
        if let Some(n) = state.borrow().node.clone() {
            break n;
        }
        if state.changed().await.is_err() {
            return;
        }
    };
    loop {
        let now = MicroTime(Timestamp::now());
        let result = match api.get_opt(&cfg.node_name).await {
            Ok(Some(mut lease)) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                spec.renew_time = Some(now);
                spec.holder_identity = Some(cfg.node_name.clone());
                spec.lease_duration_seconds = Some(cfg.node_lease_duration_seconds);
                api.replace(&cfg.node_name, &PostParams::default(), &lease).await.map(|_| ())
            }
            Ok(None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(cfg.node_name.clone()),
                        namespace: Some("kube-node-lease".into()),
                        owner_references: Some(vec![OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: cfg.node_name.clone(),
                            uid: node.metadata.uid.clone().unwrap_or_default(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(cfg.node_name.clone()),
                        lease_duration_seconds: Some(cfg.node_lease_duration_seconds),
                        renew_time: Some(now),
                        ..Default::default()
                    }),
                };
                api.create(&PostParams::default(), &lease).await.map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!("failed to update lease, will retry: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Config {
        use clap::Parser;
        Config::load(&crate::config::Options::parse_from(std::iter::once("kubelet").chain(args.iter().copied())))
            .unwrap()
    }

    #[test]
    fn allocatable_subtracts_reservations_and_eviction_thresholds() {
        let c = cfg(&["--kube-reserved=cpu=200m,memory=100Mi", "--system-reserved=memory=100Mi", "--max-pods=30"]);
        let m = MachineInfo { cpus: 2, memory_bytes: 4 << 30, fs_bytes: 100 << 30, ..Default::default() };
        let (cap, alloc) = resources(&c, &m);
        assert_eq!(cap["cpu"].0, "2");
        assert_eq!(cap["memory"].0, "4Gi");
        assert_eq!(cap["pods"].0, "30");
        assert_eq!(alloc["cpu"].0, "1800m");
        // 4Gi - 100Mi - 100Mi - 100Mi (memory.available).
        assert_eq!(alloc["memory"].0, binary_si((4 << 30) - 300 * (1 << 20)));
        // 10 % of the filesystem is kept for eviction.
        assert_eq!(alloc["ephemeral-storage"].0, "90Gi");
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let t0 = Time(Timestamp::from_second(1000).unwrap());
        let t1 = Time(Timestamp::from_second(2000).unwrap());
        let first = conditions(&[], Some("container runtime network not ready: x"), &[], &t0);
        assert_eq!(
            first.iter().map(|c| c.type_.as_str()).collect::<Vec<_>>(),
            ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        assert_eq!(first[3].status, "False");
        assert_eq!(first[3].reason.as_deref(), Some("KubeletNotReady"));
        let second = conditions(&first, None, &["DiskPressure"], &t1);
        assert_eq!(second[3].status, "True");
        assert_eq!(second[3].message.as_deref(), Some("kubelet is posting ready status"));
        assert_eq!(second[3].last_transition_time, Some(t1.clone()));
        assert_eq!(second[0].status, "False");
        assert_eq!(second[0].last_transition_time, Some(t0));
        assert_eq!(second[0].last_heartbeat_time, Some(t1));
        assert_eq!(second[1].status, "True");
        assert_eq!(second[1].reason.as_deref(), Some("KubeletHasDiskPressure"));
        assert_eq!(second[1].message.as_deref(), Some("kubelet has disk pressure"));
    }

    #[test]
    fn registration_carries_labels_taints_and_the_attach_detach_annotation() {
        let c = cfg(&["--hostname-override=n1", "--node-labels=role=web", "--register-with-taints=a=b:NoSchedule"]);
        let n = initial_node(&c);
        let labels = n.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["role"], "web");
        assert_eq!(n.spec.unwrap().taints.unwrap()[0].effect, "NoSchedule");
        assert_eq!(n.metadata.annotations.unwrap()["volumes.kubernetes.io/controller-managed-attach-detach"], "true");
    }
}
