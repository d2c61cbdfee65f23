//! `serviceaccount-controller`: every active namespace has a `default` ServiceAccount; one
//! that is deleted comes back.

use crate::context::Ctx;
use crate::Error;
use component_base::{Change, WorkQueue};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, ResourceExt};

const SERVICE_ACCOUNTS: &[&str] = &["default"];

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("service-account-controller").await?;
    let namespaces = ctx.informers.get::<Namespace>();
    let accounts = ctx.informers.get::<ServiceAccount>();
    let queue: WorkQueue<String> = WorkQueue::new("serviceaccount");
    let q = queue.clone();
    namespaces.add_handler(move |c| match c {
        Change::Added(ns) | Change::Updated { new: ns, .. } => q.add(ns.name_any()),
        Change::Deleted(_) => {}
    });
    let q = queue.clone();
    accounts.add_handler(move |c| {
        if let Change::Deleted(sa) = c {
            if SERVICE_ACCOUNTS.contains(&sa.name_any().as_str()) {
                q.add(sa.namespace().unwrap_or_default());
            }
        }
    });
    let (ns_inf, sa_inf) = (namespaces.clone(), accounts.clone());
    tokio::spawn(async move {
        ns_inf.wait_synced().await;
        sa_inf.wait_synced().await;
        queue.run_workers(1, move |ns: String| {
            let (client, namespaces, accounts) = (client.clone(), ns_inf.clone(), sa_inf.clone());
            async move {
                let Some(namespace) = namespaces.get("", &ns) else { return Ok::<(), kube::Error>(()) };
                let active = namespace.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Active") == "Active"
                    && namespace.metadata.deletion_timestamp.is_none();
                if !active {
                    return Ok(());
                }
                let api: Api<ServiceAccount> = Api::namespaced(client, &ns);
                for name in SERVICE_ACCOUNTS {
                    if accounts.get(&ns, name).is_some() {
                        continue;
                    }
                    let sa = ServiceAccount {
                        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
                        ..Default::default()
                    };
                    match api.create(&PostParams::default(), &sa).await {
                        Ok(_) => {}
                        // Already there (the informer lags), or the namespace began terminating.
                        Err(kube::Error::Api(s))
                            if s.code == 409
                                || s.code == 403
                                    && s.reason == "Forbidden"
                                    && s.message.contains("is being terminated") => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        });
    });
    Ok(true)
}
