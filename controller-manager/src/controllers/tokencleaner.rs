//! `token-cleaner-controller` (upstream `pkg/controller/bootstrap/tokencleaner.go`, off by
//! default; kubeadm turns it on): a bootstrap token Secret (`bootstrap.kubernetes.io/token` in
//! kube-system) whose `expiration` has passed, or does not parse, is deleted (with a UID
//! precondition, so a recreated Secret of the same name is left alone); one not yet expired is
//! looked at again when it expires.

use crate::context::Ctx;
use crate::controllers::bootstrapsigner::{expiration, SECRET_TYPE_BOOTSTRAP_TOKEN, TOKEN_SECRET_NAMESPACE};
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

struct Tc {
    client: Client,
    secrets: Informer<Secret>,
    queue: WorkQueue<String>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("token-cleaner").await?;
    let tc = Arc::new(Tc { client, secrets: ctx.informers.get::<Secret>(), queue: WorkQueue::new("token_cleaner") });
    let h = tc.clone();
    tc.secrets.add_handler(move |c| match c {
        Change::Added(s) | Change::Updated { new: s, .. } => {
            if s.type_.as_deref() == Some(SECRET_TYPE_BOOTSTRAP_TOKEN)
                && s.namespace().as_deref() == Some(TOKEN_SECRET_NAMESPACE)
            {
                h.queue.add(util::meta_key(&s.metadata));
            }
        }
        Change::Deleted(_) => {}
    });
    tokio::spawn(async move {
        tc.secrets.wait_synced().await;
        let w = tc.clone();
        tc.queue.run_workers(1, move |key: String| {
            let w = w.clone();
            async move { w.sync(&key).await }
        });
    });
    Ok(true)
}

impl Tc {
    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(secret) = self.secrets.get(ns, name) else {
            tracing::debug!(secret = %key, "Secret has been deleted");
            return Ok(());
        };
        if secret.type_.as_deref() != Some(SECRET_TYPE_BOOTSTRAP_TOKEN) {
            return Ok(());
        }
        match expiration(&secret, Timestamp::now()) {
            (_, true) => {
                tracing::debug!(secret = %key, "Deleting expired secret");
                let dp = DeleteParams {
                    preconditions: secret
                        .metadata
                        .uid
                        .clone()
                        .filter(|u| !u.is_empty())
                        .map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
                    ..Default::default()
                };
                let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
                match api.delete(&secret.name_any(), &dp).await {
                    Ok(_) => {}
                    // Gone already, or the UID precondition failed: not an error.
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                    Err(e) => tracing::debug!(secret = %key, "Error deleting secret: {e}"),
                }
            }
            (Some(left), false) => {
                self.queue.add_after(key.to_string(), Duration::try_from(left).unwrap_or(Duration::ZERO));
            }
            (None, false) => {}
        }
        Ok(())
    }
}
