//! `node-lifecycle-controller` (upstream `pkg/controller/nodelifecycle`): every
//! `--node-monitor-period` it looks at each node's heartbeats (the Ready condition's
//! `lastHeartbeatTime` and the node's Lease in `kube-node-lease`). A node not heard from for
//! `--node-monitor-grace-period` (`--node-startup-grace-period` before its first status) gets
//! its Ready, MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown ("Kubelet
//! stopped posting node status."), its pods marked not ready, and the
//! `node.kubernetes.io/unreachable` NoExecute taint (`not-ready` when Ready is False), added at
//! most `--node-eviction-rate` nodes a second; the taints go when the node is Ready again.
//! Conditions also map to NoSchedule taints (not-ready, unreachable, memory-, disk- and
//! pid-pressure, network-unavailable, unschedulable), as upstream's TaintNodesByCondition.

use crate::context::Ctx;
use crate::Error;
use component_base::events::Recorder;
use component_base::workqueue::TokenBucket;
use component_base::Informer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
const NO_EXECUTE: &str = "NoExecute";
const NO_SCHEDULE: &str = "NoSchedule";
const LEASE_NAMESPACE: &str = "kube-node-lease";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// What the controller last saw of a node's heartbeats, and when (on its own clock).
struct Health {
    heartbeat: Option<Time>,
    lease_renew: Option<String>,
    probe: Instant,
}

struct Nlc {
    client: Client,
    nodes: Informer<Node>,
    leases: Informer<Lease>,
    pods: Informer<Pod>,
    recorder: Recorder,
    health: tokio::sync::Mutex<HashMap<String, Health>>,
    /// One NoExecute tainter per zone, `--node-eviction-rate` nodes a second.
    zones: tokio::sync::Mutex<HashMap<String, TokenBucket>>,
    period: Duration,
    grace: Duration,
    startup_grace: Duration,
    eviction_rate: f64,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("node-controller").await?;
    let o = &ctx.opts;
    let nlc = Arc::new(Nlc {
        recorder: ctx.recorder(&client, "node-controller"),
        client,
        nodes: ctx.informers.get::<Node>(),
        leases: ctx.informers.get::<Lease>(),
        pods: ctx.informers.get::<Pod>(),
        health: Default::default(),
        zones: Default::default(),
        period: o.node_monitor_period,
        grace: o.node_monitor_grace_period,
        startup_grace: o.node_startup_grace_period,
        eviction_rate: f64::from(o.node_eviction_rate),
    });
    nlc.pods.add_index("node", |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect());
    tokio::spawn(async move {
        nlc.nodes.wait_synced().await;
        nlc.leases.wait_synced().await;
        nlc.pods.wait_synced().await;
        loop {
            for node in nlc.nodes.list() {
                if let Err(e) = nlc.monitor(&node).await {
                    tracing::warn!("node {}: {e}", node.name_any());
                }
            }
            tokio::time::sleep(nlc.period).await;
        }
    });
    Ok(true)
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// The NoSchedule taints a node's conditions call for (`TaintNodesByCondition`).
fn no_schedule_taints(node: &Node) -> Vec<&'static str> {
    let mut out = Vec::new();
    let status = |t: &str| condition(node, t).map(|c| c.status.as_str());
    match status("Ready") {
        Some("False") => out.push(NOT_READY),
        Some("Unknown") => out.push(UNREACHABLE),
        _ => {}
    }
    for (cond, taint) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        ("NetworkUnavailable", "node.kubernetes.io/network-unavailable"),
    ] {
        if status(cond) == Some("True") {
            out.push(taint);
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        out.push("node.kubernetes.io/unschedulable");
    }
    out
}

const CONDITION_TAINTS: &[&str] = &[
    NOT_READY,
    UNREACHABLE,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/unschedulable",
];

impl Nlc {
    async fn monitor(&self, node: &Node) -> Result<(), Error> {
        let name = node.name_any();
        let now = Instant::now();
        let ready = condition(node, "Ready").cloned();
        let lease_renew = self
            .leases
            .get(LEASE_NAMESPACE, &name)
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0.to_string()));
        let probe = {
            let mut health = self.health.lock().await;
            let h = health.entry(name.clone()).or_insert(Health { heartbeat: None, lease_renew: None, probe: now });
            let heartbeat = ready.as_ref().and_then(|c| c.last_heartbeat_time.clone());
            if heartbeat != h.heartbeat || lease_renew != h.lease_renew {
                h.heartbeat = heartbeat;
                h.lease_renew = lease_renew;
                h.probe = now;
            }
            h.probe
        };
        let grace = if ready.is_none() { self.startup_grace } else { self.grace };
        let mut node = node.clone();
        if now.saturating_duration_since(probe) > grace && ready.as_ref().is_none_or(|c| c.status != "Unknown") {
            node = self.mark_unknown(&node, ready.is_none()).await?;
            self.mark_pods_not_ready(&node).await;
        }
        self.reconcile_taints(&node).await
    }

    /// Ready, MemoryPressure, DiskPressure and PIDPressure to Unknown.
    async fn mark_unknown(&self, node: &Node, never: bool) -> Result<Node, Error> {
        let mut n = node.clone();
        let st = n.status.get_or_insert_with(Default::default);
        let conds = st.conditions.get_or_insert_with(Vec::new);
        let now = Time(crate::util::now());
        for t in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
            let (reason, message) = if never {
                ("NodeStatusNeverUpdated", "Kubelet never posted node status.")
            } else {
                ("NodeStatusUnknown", "Kubelet stopped posting node status.")
            };
            match conds.iter_mut().find(|c| c.type_ == t) {
                Some(c) => {
                    if c.status != "Unknown" {
                        c.status = "Unknown".into();
                        c.reason = Some(reason.into());
                        c.message = Some(message.into());
                        c.last_transition_time = Some(now.clone());
                    }
                }
                None => conds.push(NodeCondition {
                    type_: t.into(),
                    status: "Unknown".into(),
                    reason: Some(reason.into()),
                    message: Some(message.into()),
                    last_heartbeat_time: Some(now.clone()),
                    last_transition_time: Some(now.clone()),
                }),
            }
        }
        let api: Api<Node> = Api::all(self.client.clone());
        let updated = api.replace_status(&n.name_any(), &PostParams::default(), &n).await?;
        self.recorder.normal(
            &updated,
            "NodeNotReady",
            format!("Node {} status is now: NodeNotReady", updated.name_any()),
        );
        Ok(updated)
    }

    /// `MarkPodsNotReady`: the pods of a node no one hears from are not ready.
    async fn mark_pods_not_ready(&self, node: &Node) {
        for pod in self.pods.by_index("node", &node.name_any()) {
            if !crate::util::pod_ready(&pod) {
                continue;
            }
            let mut p = (*pod).clone();
            let now = Time(crate::util::now());
            if let Some(conds) = p.status.as_mut().and_then(|s| s.conditions.as_mut()) {
                for c in conds.iter_mut().filter(|c| c.type_ == "Ready") {
                    *c = PodCondition { status: "False".into(), last_transition_time: Some(now.clone()), ..c.clone() };
                }
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &p.namespace().unwrap_or_default());
            if let Err(e) = api.replace_status(&p.name_any(), &PostParams::default(), &p).await {
                tracing::info!("failed to mark pod {} not ready: {e}", p.name_any());
            }
        }
    }

    async fn reconcile_taints(&self, node: &Node) -> Result<(), Error> {
        let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        let ready = condition(node, "Ready").map(|c| c.status.clone());
        let want_exec = match ready.as_deref() {
            Some("False") => Some(NOT_READY),
            Some("Unknown") => Some(UNREACHABLE),
            _ => None,
        };
        let want_sched = no_schedule_taints(node);
        let mut next: Vec<Taint> = taints
            .iter()
            .filter(|t| {
                let ours_exec = t.effect == NO_EXECUTE && (t.key == UNREACHABLE || t.key == NOT_READY);
                let ours_sched = t.effect == NO_SCHEDULE && CONDITION_TAINTS.contains(&t.key.as_str());
                (!ours_exec || Some(t.key.as_str()) == want_exec)
                    && (!ours_sched || want_sched.contains(&t.key.as_str()))
            })
            .cloned()
            .collect();
        for key in &want_sched {
            if !next.iter().any(|t| t.key == *key && t.effect == NO_SCHEDULE) {
                next.push(Taint { key: key.to_string(), effect: NO_SCHEDULE.into(), value: None, time_added: None });
            }
        }
        if let Some(key) = want_exec {
            if !next.iter().any(|t| t.key == key && t.effect == NO_EXECUTE) && self.may_taint(node).await {
                next.push(Taint {
                    key: key.into(),
                    effect: NO_EXECUTE.into(),
                    value: None,
                    time_added: Some(Time(crate::util::now())),
                });
            }
        }
        if next == taints {
            return Ok(());
        }
        let mut n = node.clone();
        n.spec.get_or_insert_with(Default::default).taints = (!next.is_empty()).then_some(next);
        let api: Api<Node> = Api::all(self.client.clone());
        match api.replace(&n.name_any(), &PostParams::default(), &n).await {
            Ok(_) => Ok(()),
            // Someone else wrote the node; the next pass looks again.
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The zone's NoExecute tainter: `--node-eviction-rate` nodes a second, one at once.
    async fn may_taint(&self, node: &Node) -> bool {
        let zone = node.labels().get(ZONE_LABEL).cloned().unwrap_or_default();
        let mut zones = self.zones.lock().await;
        let bucket = zones.entry(zone).or_insert_with(|| TokenBucket::new(self.eviction_rate, 1));
        bucket.try_take(Instant::now())
    }
}
