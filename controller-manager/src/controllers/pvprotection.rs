//! `persistentvolume-protection-controller` (upstream `pkg/controller/volume/pvprotection`):
//! every PersistentVolume carries the `kubernetes.io/pv-protection` finalizer (the apiserver's
//! StorageObjectInUseProtection admission adds it on create; this adds it to older ones), and
//! a volume being deleted keeps it while it is Bound to a claim.

use crate::context::Ctx;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::PersistentVolume;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

pub const FINALIZER: &str = "kubernetes.io/pv-protection";

/// `protectionutil.IsDeletionCandidate`.
pub fn deletion_candidate(meta: &kube::api::ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_some() && meta.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// `protectionutil.NeedToAddFinalizer`.
pub fn needs_finalizer(meta: &kube::api::ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_none() && !meta.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// `isBeingUsed`: a volume is in use while it is Bound.
fn in_use(pv: &PersistentVolume) -> bool {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

struct Pvp {
    client: Client,
    pvs: Informer<PersistentVolume>,
    queue: WorkQueue<String>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("pv-protection-controller").await?;
    let c = Arc::new(Pvp { client, pvs: ctx.informers.get(), queue: WorkQueue::new("pvprotection") });
    let x = c.clone();
    c.pvs.add_handler(move |ch| match ch {
        Change::Added(pv) | Change::Updated { new: pv, .. }
            if needs_finalizer(&pv.metadata, FINALIZER) || deletion_candidate(&pv.metadata, FINALIZER) =>
        {
            x.queue.add(pv.name_any())
        }
        _ => {}
    });
    tokio::spawn(async move {
        c.pvs.wait_synced().await;
        let x = c.clone();
        c.queue.run_workers(1, move |name: String| {
            let x = x.clone();
            async move { x.sync(&name).await }
        });
    });
    Ok(true)
}

impl Pvp {
    async fn sync(&self, name: &str) -> Result<(), Error> {
        let Some(pv) = self.pvs.get("", name) else { return Ok(()) };
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        if deletion_candidate(&pv.metadata, FINALIZER) {
            if in_use(&pv) {
                tracing::info!(volume = name, "keeping PV because it is being used");
                return Ok(());
            }
            let mut copy = (*pv).clone();
            if let Some(f) = copy.metadata.finalizers.as_mut() {
                f.retain(|x| x != FINALIZER);
            }
            api.replace(name, &PostParams::default(), &copy).await?;
            tracing::info!(volume = name, "removed protection finalizer from PV");
            return Ok(());
        }
        if needs_finalizer(&pv.metadata, FINALIZER) {
            let mut copy = (*pv).clone();
            copy.metadata.finalizers.get_or_insert_with(Vec::new).push(FINALIZER.to_string());
            api.replace(name, &PostParams::default(), &copy).await?;
            tracing::debug!(volume = name, "added protection finalizer to PV");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolumeStatus;
    use kube::api::ObjectMeta;

    #[test]
    fn the_finalizer_is_added_to_live_volumes_and_removed_from_unbound_deleted_ones() {
        let mut m = ObjectMeta::default();
        assert!(needs_finalizer(&m, FINALIZER) && !deletion_candidate(&m, FINALIZER));
        m.finalizers = Some(vec![FINALIZER.into()]);
        assert!(!needs_finalizer(&m, FINALIZER) && !deletion_candidate(&m, FINALIZER));
        m.deletion_timestamp = Some(crate::util::time_now());
        assert!(deletion_candidate(&m, FINALIZER));
        let pv = |phase: &str| PersistentVolume {
            metadata: m.clone(),
            status: Some(PersistentVolumeStatus { phase: Some(phase.into()), ..Default::default() }),
            ..Default::default()
        };
        assert!(in_use(&pv("Bound")));
        assert!(!in_use(&pv("Released")) && !in_use(&pv("Available")) && !in_use(&pv("Failed")));
    }
}
