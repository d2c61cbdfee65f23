//! `persistentvolumeclaim-protection-controller` (upstream
//! `pkg/controller/volume/pvcprotection`): every PersistentVolumeClaim carries the
//! `kubernetes.io/pvc-protection` finalizer (the apiserver's StorageObjectInUseProtection
//! admission adds it on create; this adds it to older claims), and a claim being deleted keeps
//! it while a scheduled pod uses it — by name, or as the `<pod>-<volume>` claim of a generic
//! ephemeral volume that pod owns. Before removing it the controller confirms with a live pod
//! list, since the informer may not have seen a new pod yet.

use crate::context::Ctx;
use crate::controllers::pvbinder::{pod_terminated, POD_PVC_INDEX};
use crate::controllers::pvprotection::{deletion_candidate, needs_finalizer};
use crate::util;
use crate::Error;
use api_types::storage::pod_claim_keys;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

pub const FINALIZER: &str = "kubernetes.io/pvc-protection";

/// `podIsShutDown`: the kubelet is done with the pod (deleted with a zero grace period) or it
/// was force-deleted.
fn pod_shut_down(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && pod.metadata.deletion_grace_period_seconds == Some(0)
}

/// `podUsesPVC`: only scheduled pods count (the kubelet will not start a pod whose claim is
/// being deleted); an ephemeral volume's claim counts while the pod owning it still runs.
pub fn pod_uses_claim(pod: &Pod, pvc: &PersistentVolumeClaim) -> bool {
    if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty) {
        return false;
    }
    let claim = pvc.name_any();
    pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten().any(|v| {
        if let Some(c) = &v.persistent_volume_claim {
            return c.claim_name == claim;
        }
        v.ephemeral.is_some()
            && !pod_shut_down(pod)
            && format!("{}-{}", pod.name_any(), v.name) == claim
            && util::controller_ref(&pvc.metadata).is_some_and(|r| Some(&r.uid) == pod.metadata.uid.as_ref())
    })
}

struct Pvcp {
    client: Client,
    pvcs: Informer<PersistentVolumeClaim>,
    pods: Informer<Pod>,
    queue: WorkQueue<String>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("pvc-protection-controller").await?;
    let c = Arc::new(Pvcp {
        client,
        pvcs: ctx.informers.get(),
        pods: ctx.informers.get(),
        queue: WorkQueue::new("pvcprotection"),
    });
    c.pods.add_index(POD_PVC_INDEX, pod_claim_keys);
    let x = c.clone();
    c.pvcs.add_handler(move |ch| match ch {
        Change::Added(p) | Change::Updated { new: p, .. }
            if needs_finalizer(&p.metadata, FINALIZER) || deletion_candidate(&p.metadata, FINALIZER) =>
        {
            x.queue.add(util::meta_key(&p.metadata))
        }
        _ => {}
    });
    let x = c.clone();
    c.pods.add_handler(move |ch| match ch {
        Change::Added(p) => x.enqueue_claims(p, false),
        Change::Deleted(p) => x.enqueue_claims(p, true),
        Change::Updated { old, new } => {
            x.enqueue_claims(new, false);
            // A delete and a re-create under the same name look like an update.
            if old.metadata.uid != new.metadata.uid {
                x.enqueue_claims(old, true);
            }
        }
    });
    tokio::spawn(async move {
        c.pvcs.wait_synced().await;
        c.pods.wait_synced().await;
        let x = c.clone();
        c.queue.run_workers(1, move |key: String| {
            let x = x.clone();
            async move { x.sync(&key).await }
        });
    });
    Ok(true)
}

impl Pvcp {
    /// Only pods that can no longer hold a claim (gone, finished, or not scheduled) can let a
    /// finalizer go.
    fn enqueue_claims(&self, pod: &Pod, deleted: bool) {
        let scheduled = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
        if !deleted && !pod_terminated(pod) && scheduled {
            return;
        }
        for k in pod_claim_keys(pod) {
            self.queue.add(k);
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pvc) = self.pvcs.get(ns, name) else { return Ok(()) };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), ns);
        if deletion_candidate(&pvc.metadata, FINALIZER) {
            if self.in_use(&pvc).await? {
                tracing::info!(pvc = key, "keeping PVC because it is being used");
            } else {
                let mut copy = (*pvc).clone();
                if let Some(f) = copy.metadata.finalizers.as_mut() {
                    f.retain(|x| x != FINALIZER);
                }
                api.replace(name, &PostParams::default(), &copy).await?;
                tracing::info!(pvc = key, "removed protection finalizer from PVC");
                return Ok(());
            }
        }
        if needs_finalizer(&pvc.metadata, FINALIZER) {
            let mut copy = (*pvc).clone();
            copy.metadata.finalizers.get_or_insert_with(Vec::new).push(FINALIZER.to_string());
            api.replace(name, &PostParams::default(), &copy).await?;
            tracing::debug!(pvc = key, "added protection finalizer to PVC");
        }
        Ok(())
    }

    /// `isBeingUsed`: the informer's pods first, then a live list to be sure.
    async fn in_use(&self, pvc: &PersistentVolumeClaim) -> Result<bool, Error> {
        let key = util::meta_key(&pvc.metadata);
        if self.pods.by_index(POD_PVC_INDEX, &key).iter().any(|p| pod_uses_claim(p, pvc)) {
            return Ok(true);
        }
        let ns = pvc.namespace().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let live = pods.list(&ListParams::default()).await?;
        Ok(live.items.iter().any(|p| pod_uses_claim(p, pvc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn claim(name: &str, owner_uid: Option<&str>) -> PersistentVolumeClaim {
        let mut meta = json!({"name": name, "namespace": "ns"});
        if let Some(u) = owner_uid {
            meta["ownerReferences"] =
                json!([{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": u, "controller": true}]);
        }
        serde_json::from_value(json!({"metadata": meta, "spec": {}})).unwrap()
    }

    #[test]
    fn only_scheduled_pods_use_claims() {
        let vols = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "c1"}},
                          {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]);
        let unscheduled = pod(
            json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}, "spec": {"containers": [], "volumes": vols}}),
        );
        assert!(!pod_uses_claim(&unscheduled, &claim("c1", None)));
        let scheduled = pod(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"nodeName": "n1", "containers": [], "volumes": vols}}));
        assert!(pod_uses_claim(&scheduled, &claim("c1", None)));
        assert!(!pod_uses_claim(&scheduled, &claim("c2", None)));
        // An ephemeral volume's claim counts only when that pod owns it.
        assert!(pod_uses_claim(&scheduled, &claim("web-scratch", Some("u1"))));
        assert!(!pod_uses_claim(&scheduled, &claim("web-scratch", Some("other"))));
        let mut shut = scheduled.clone();
        shut.metadata.deletion_timestamp = Some(util::time_now());
        shut.metadata.deletion_grace_period_seconds = Some(0);
        assert!(!pod_uses_claim(&shut, &claim("web-scratch", Some("u1"))));
        // A named claim stays in use until the pod object is gone.
        assert!(pod_uses_claim(&shut, &claim("c1", None)));
    }
}
