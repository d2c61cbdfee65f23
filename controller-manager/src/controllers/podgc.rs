//! `pod-garbage-collector-controller` (upstream `pkg/controller/podgc`), every 20 seconds:
//! terminated pods beyond `--terminated-pod-gc-threshold` are deleted, oldest first (evicted
//! ones before others); pods bound to a node that has been gone for 40 seconds are marked
//! Failed with the DisruptionTarget condition (DeletionByPodGC) and deleted; pods being
//! deleted that were never scheduled are deleted at once.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::Informer;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const PERIOD: Duration = Duration::from_secs(20);
/// How long a node must be gone before its pods are collected.
const QUARANTINE: Duration = Duration::from_secs(40);

struct Gc {
    client: Client,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    threshold: i32,
    /// Nodes found missing, and since when.
    missing: tokio::sync::Mutex<HashMap<String, Instant>>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("pod-garbage-collector").await?;
    let gc = Arc::new(Gc {
        client,
        pods: ctx.informers.get::<Pod>(),
        nodes: ctx.informers.get::<Node>(),
        threshold: ctx.opts.terminated_pod_gc_threshold,
        missing: Default::default(),
    });
    tokio::spawn(async move {
        gc.pods.wait_synced().await;
        gc.nodes.wait_synced().await;
        loop {
            gc.pass().await;
            tokio::time::sleep(PERIOD).await;
        }
    });
    Ok(true)
}

fn terminated(p: &Pod) -> bool {
    !matches!(util::pod_phase(p), "Pending" | "Running" | "Unknown")
}

/// The terminated pods to delete to get down to `threshold`: evicted first, then oldest.
fn over_threshold(pods: &[Arc<Pod>], threshold: i32) -> Vec<Arc<Pod>> {
    let mut done: Vec<Arc<Pod>> = pods.iter().filter(|p| terminated(p)).cloned().collect();
    let excess = done.len().saturating_sub(usize::try_from(threshold.max(0)).unwrap_or(0));
    if threshold <= 0 || excess == 0 {
        return Vec::new();
    }
    let evicted = |p: &Pod| p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted");
    done.sort_by(|a, b| {
        evicted(b).cmp(&evicted(a)).then_with(|| {
            let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b)).then_with(|| a.name_any().cmp(&b.name_any()))
        })
    });
    done.truncate(excess);
    done
}

impl Gc {
    async fn pass(&self) {
        let pods = self.pods.list();
        for p in over_threshold(&pods, self.threshold) {
            self.delete(&p, None).await;
        }
        // Orphans: pods on nodes that are gone (confirmed live after the quarantine).
        let nodes: HashSet<String> = self.nodes.list().iter().map(|n| n.name_any()).collect();
        let mut gone_now = Vec::new();
        {
            let mut missing = self.missing.lock().await;
            missing.retain(|n, _| !nodes.contains(n));
            for p in &pods {
                let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) else {
                    continue;
                };
                if nodes.contains(&n) {
                    continue;
                }
                let since = *missing.entry(n.clone()).or_insert_with(Instant::now);
                if since.elapsed() >= QUARANTINE && !gone_now.contains(&n) {
                    gone_now.push(n);
                }
            }
        }
        let api: Api<Node> = Api::all(self.client.clone());
        for n in gone_now {
            if !matches!(api.get_opt(&n).await, Ok(None)) {
                continue;
            }
            for p in pods.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(n.as_str())) {
                self.delete(p, Some("PodGC: node no longer exists")).await;
            }
        }
        // Never scheduled, yet being deleted: nothing will finish it but us.
        for p in pods.iter().filter(|p| {
            p.metadata.deletion_timestamp.is_some()
                && p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty)
        }) {
            self.delete(p, None).await;
        }
    }

    /// Deletes with no grace period; a pod that is not finished is first marked Failed with
    /// the DisruptionTarget condition saying why.
    async fn delete(&self, pod: &Pod, why: Option<&str>) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        if let Some(message) = why.filter(|_| !terminated(pod)) {
            let mut p = pod.clone();
            let st = p.status.get_or_insert_with(Default::default);
            st.phase = Some("Failed".into());
            st.conditions.get_or_insert_with(Vec::new).push(PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("DeletionByPodGC".into()),
                message: Some(message.into()),
                last_transition_time: Some(util::time_now()),
                ..Default::default()
            });
            if let Err(e) = api.replace_status(&p.name_any(), &PostParams::default(), &p).await {
                tracing::info!("failed to mark pod {} failed: {e}", p.name_any());
            }
        }
        match api.delete(&pod.name_any(), &DeleteParams::default().grace_period(0)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => tracing::info!("failed to delete pod {}: {e}", util::meta_key(&pod.metadata)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    fn pod(name: &str, phase: &str, created: i64, reason: Option<&str>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(k8s_openapi::jiff::Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                reason: reason.map(str::to_string),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn the_oldest_terminated_pods_beyond_the_threshold_go_evicted_first() {
        let pods = vec![
            pod("running", "Running", 1, None),
            pod("old", "Succeeded", 10, None),
            pod("new", "Failed", 30, None),
            pod("evicted", "Failed", 40, Some("Evicted")),
            pod("mid", "Succeeded", 20, None),
        ];
        let names = |v: Vec<Arc<Pod>>| v.iter().map(|p| p.name_any()).collect::<Vec<_>>();
        assert_eq!(names(over_threshold(&pods, 2)), vec!["evicted", "old"]);
        assert!(over_threshold(&pods, 4).is_empty());
        assert!(over_threshold(&pods, 0).is_empty());
    }
}
