//! `taint-eviction-controller` (upstream `pkg/controller/tainteviction`): a pod on a node with
//! NoExecute taints it does not tolerate is deleted; one that tolerates them for
//! `tolerationSeconds` is deleted that long after the taint was added (the shortest of its
//! matching tolerations); one that tolerates them forever stays. Before deleting, the pod
//! gets the DisruptionTarget condition (reason DeletionByTaintManager) and an event.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint, Toleration};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

struct Tec {
    client: Client,
    nodes: Informer<Node>,
    pods: Informer<Pod>,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

/// What to do with a pod given its node's NoExecute taints: `None` keep it, `Some(0)` delete
/// now, `Some(s)` delete `s` seconds from now.
fn eviction_delay(pod: &Pod, taints: &[Taint], now_secs: i64) -> Option<i64> {
    let taints: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if taints.is_empty() {
        return None;
    }
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let mut due: Option<i64> = None;
    for taint in taints {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| api_types::scheduling::tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(0);
        }
        // Tolerated forever unless every matching toleration is limited: the shortest limit.
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let secs = matching.iter().filter_map(|t| t.toleration_seconds).min().unwrap_or(0).max(0);
        let added = taint.time_added.as_ref().map(|t| t.0.as_second()).unwrap_or(now_secs);
        let left = (added + secs - now_secs).max(0);
        due = Some(due.map_or(left, |d| d.min(left)));
    }
    due
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("node-controller").await?;
    let tec = Arc::new(Tec {
        recorder: ctx.recorder(&client, "taint-eviction-controller"),
        client,
        nodes: ctx.informers.get::<Node>(),
        pods: ctx.informers.get::<Pod>(),
        queue: WorkQueue::new("taint_eviction"),
    });
    tec.pods.add_index("node", |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect());
    let t = tec.clone();
    tec.nodes.add_handler(move |c| {
        let node = match c {
            Change::Added(n) => n,
            Change::Updated { old, new }
                if old.spec.as_ref().map(|s| &s.taints) != new.spec.as_ref().map(|s| &s.taints) =>
            {
                new
            }
            _ => return,
        };
        for p in t.pods.by_index("node", &node.name_any()) {
            t.queue.add(util::meta_key(&p.metadata));
        }
    });
    let t = tec.clone();
    tec.pods.add_handler(move |c| match c {
        Change::Added(p) | Change::Updated { new: p, .. }
            if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() =>
        {
            t.queue.add(util::meta_key(&p.metadata))
        }
        _ => {}
    });
    tokio::spawn(async move {
        tec.nodes.wait_synced().await;
        tec.pods.wait_synced().await;
        let t = tec.clone();
        tec.queue.run_workers(8, move |key: String| {
            let t = t.clone();
            async move { t.sync(&key).await }
        });
    });
    Ok(true)
}

impl Tec {
    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pod) = self.pods.get(ns, name) else { return Ok(()) };
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else { return Ok(()) };
        let taints = self.nodes.get("", &node_name).and_then(|n| n.spec.as_ref()?.taints.clone()).unwrap_or_default();
        match eviction_delay(&pod, &taints, util::now().as_second()) {
            None => Ok(()),
            Some(0) => self.evict(&pod).await,
            Some(secs) => {
                self.queue.add_after(key.to_string(), Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
                Ok(())
            }
        }
    }

    async fn evict(&self, pod: &Pod) -> Result<(), Error> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        self.recorder.normal(
            pod,
            "TaintManagerEviction",
            format!("Marking for deletion Pod {}", util::meta_key(&pod.metadata)),
        );
        let mut p = pod.clone();
        let conds = p.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new);
        if !conds.iter().any(|c| c.type_ == "DisruptionTarget") {
            conds.push(PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("DeletionByTaintManager".into()),
                message: Some("Taint manager: deleting due to NoExecute taint".into()),
                last_transition_time: Some(util::time_now()),
                ..Default::default()
            });
            if let Err(e) = api.replace_status(&p.name_any(), &PostParams::default(), &p).await {
                tracing::info!("failed to add the DisruptionTarget condition to {}: {e}", p.name_any());
            }
        }
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn taint(key: &str, added: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(k8s_openapi::jiff::Timestamp::from_second(added).unwrap())),
        }
    }

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod { spec: Some(PodSpec { tolerations: Some(tolerations), ..Default::default() }), ..Default::default() }
    }

    fn tol(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn pods_go_at_once_after_their_toleration_or_never() {
        let t = vec![taint("node.kubernetes.io/unreachable", 1000)];
        assert_eq!(eviction_delay(&pod(vec![]), &t, 1000), Some(0));
        assert_eq!(eviction_delay(&pod(vec![tol("node.kubernetes.io/unreachable", Some(300))]), &t, 1100), Some(200));
        assert_eq!(eviction_delay(&pod(vec![tol("node.kubernetes.io/unreachable", Some(300))]), &t, 1400), Some(0));
        assert_eq!(eviction_delay(&pod(vec![tol("node.kubernetes.io/unreachable", None)]), &t, 5000), None);
        assert_eq!(eviction_delay(&pod(vec![tol("other", None)]), &t, 1000), Some(0));
        assert_eq!(eviction_delay(&pod(vec![]), &[], 1000), None);
    }
}
