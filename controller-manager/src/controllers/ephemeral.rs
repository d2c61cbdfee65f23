//! `ephemeral-volume-controller` (upstream `pkg/controller/volume/ephemeral`): a pod's generic
//! ephemeral volume gets its claim `<pod>-<volume>`, made from the volume's
//! `volumeClaimTemplate` and controlled by the pod, so that the garbage collector deletes it
//! with the pod. A claim of that name deleted while the pod still exists is made again; one
//! that the pod does not control is never taken over (a `FailedBinding` event says so).

use crate::context::Ctx;
use crate::controllers::pvbinder::POD_PVC_INDEX;
use crate::util;
use crate::Error;
use api_types::storage::pod_claim_keys;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

struct Ephemeral {
    client: Client,
    pods: Informer<Pod>,
    pvcs: Informer<PersistentVolumeClaim>,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

fn has_ephemeral(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten().any(|v| v.ephemeral.is_some())
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("ephemeral-volume-controller").await?;
    let c = Arc::new(Ephemeral {
        recorder: ctx.recorder(&client, "ephemeral_volume"),
        client,
        pods: ctx.informers.get(),
        pvcs: ctx.informers.get(),
        queue: WorkQueue::new("ephemeral_volume"),
    });
    c.pods.add_index(POD_PVC_INDEX, pod_claim_keys);
    // A pod's spec cannot change, so only new pods matter; its claims go with it through the
    // garbage collector.
    let x = c.clone();
    c.pods.add_handler(move |ch| {
        if let Change::Added(p) = ch {
            if has_ephemeral(p) {
                x.queue.add(util::meta_key(&p.metadata));
            }
        }
    });
    // A claim deleted under a pod that still wants it is made again.
    let x = c.clone();
    c.pvcs.add_handler(move |ch| {
        if let Change::Deleted(pvc) = ch {
            for p in x.pods.by_index(POD_PVC_INDEX, &util::meta_key(&pvc.metadata)) {
                if has_ephemeral(&p) {
                    x.queue.add(util::meta_key(&p.metadata));
                }
            }
        }
    });
    let workers = ctx.opts.concurrent_ephemeralvolume_syncs.max(1);
    tokio::spawn(async move {
        c.pods.wait_synced().await;
        c.pvcs.wait_synced().await;
        let x = c.clone();
        c.queue.run_workers(workers, move |key: String| {
            let x = x.clone();
            async move { x.sync(&key).await }
        });
    });
    Ok(true)
}

/// The claim of an ephemeral volume, as the controller creates it.
pub fn claim_for(pod: &Pod, v: &Volume) -> Option<PersistentVolumeClaim> {
    let template = v.ephemeral.as_ref()?.volume_claim_template.as_ref()?;
    let meta = template.metadata.clone().unwrap_or_default();
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(format!("{}-{}", pod.name_any(), v.name)),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Pod".into(),
                name: pod.name_any(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            annotations: meta.annotations,
            labels: meta.labels,
            ..Default::default()
        },
        spec: Some(template.spec.clone()),
        status: None,
    })
}

/// `VolumeIsForPod`.
fn volume_is_for_pod(pod: &Pod, pvc: &PersistentVolumeClaim) -> Result<(), String> {
    if util::controller_ref(&pvc.metadata).is_some_and(|r| Some(&r.uid) == pod.metadata.uid.as_ref()) {
        return Ok(());
    }
    Err(format!(
        "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
        pvc.namespace().unwrap_or_default(),
        pvc.name_any(),
        pod.namespace().unwrap_or_default(),
        pod.name_any()
    ))
}

impl Ephemeral {
    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(pod) = self.pods.get(ns, name) else { return Ok(()) };
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
            if let Err(e) = self.handle_volume(&pod, v).await {
                self.recorder.warning(&*pod, "FailedBinding", format!("ephemeral volume {}: {e}", v.name));
                return Err(Error::Sync(format!("pod {key}, ephemeral volume {}: {e}", v.name)));
            }
        }
        Ok(())
    }

    async fn handle_volume(&self, pod: &Pod, v: &Volume) -> Result<(), String> {
        let Some(claim) = claim_for(pod, v) else { return Ok(()) };
        let ns = pod.namespace().unwrap_or_default();
        if let Some(existing) = self.pvcs.get(&ns, &claim.name_any()) {
            return volume_is_for_pod(pod, &existing);
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        match api.create(&PostParams::default(), &claim).await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("create PVC {}: {}", claim.name_any(), component_base::client::api_message(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [], "volumes": [
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
                    "metadata": {"labels": {"type": "scratch"}, "annotations": {"a": "b"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                             "resources": {"requests": {"storage": "1Gi"}}}}}}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn the_claim_is_the_template_controlled_by_the_pod() {
        let p = pod();
        let vols = p.spec.as_ref().unwrap().volumes.as_ref().unwrap();
        assert!(claim_for(&p, &vols[0]).is_none());
        let c = claim_for(&p, &vols[1]).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["metadata"]["name"], "web-scratch");
        assert_eq!(v["metadata"]["labels"], json!({"type": "scratch"}));
        assert_eq!(v["metadata"]["annotations"], json!({"a": "b"}));
        assert_eq!(
            v["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1", "controller": true, "blockOwnerDeletion": true}])
        );
        assert_eq!(v["spec"]["storageClassName"], "local");
        assert_eq!(v["spec"]["resources"]["requests"]["storage"], "1Gi");
        assert!(volume_is_for_pod(&p, &c).is_ok());
        let mut other = c.clone();
        other.metadata.namespace = Some("ns".into());
        other.metadata.owner_references.as_mut().unwrap()[0].uid = "u2".into();
        assert_eq!(
            volume_is_for_pod(&p, &other).unwrap_err(),
            "PVC ns/web-scratch was not created for pod ns/web (pod is not owner)"
        );
    }
}
