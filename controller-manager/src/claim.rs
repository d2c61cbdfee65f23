//! upstream's `ControllerRefManager.ClaimObject`: which of the objects a controller sees it owns.
//! Owned objects that still match stay, owned ones that no longer match are released (unless
//! the owner is being deleted), matching orphans are adopted by a strategic merge patch that
//! adds the controller reference, after one fresh read of the owner confirms it is still there
//! and not being deleted (`RecheckDeletionTimestamp`).

use crate::util;
use crate::Error;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::Arc;

/// Claims `objs` for `owner` (of `api_version`/kind `O`): the objects it now controls.
pub async fn claim<O, K>(
    client: &Client,
    owner: &O,
    selector: &LabelSelector,
    objs: Vec<Arc<K>>,
    filter: impl Fn(&K) -> bool,
) -> Result<Vec<Arc<K>>, Error>
where
    O: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
{
    let meta = owner.meta();
    let uid = meta.uid.clone().unwrap_or_default();
    let ns = meta.namespace.clone().unwrap_or_default();
    let owner_deleting = meta.deletion_timestamp.is_some();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let mut claimed = Vec::new();
    let mut can_adopt: Option<bool> = None;
    for obj in objs {
        let matches = util::selector_matches(Some(selector), obj.meta().labels.as_ref()) == Ok(true) && filter(&obj);
        match util::controller_ref(obj.meta()) {
            Some(r) if r.uid != uid => {}
            Some(_) if matches => claimed.push(obj),
            Some(_) => {
                if owner_deleting {
                    continue;
                }
                let patch = serde_json::json!({
                    "metadata": { "ownerReferences": [{ "$patch": "delete", "uid": uid }], "uid": obj.meta().uid }
                });
                match api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                if owner_deleting
                    || !matches
                    || obj.meta().deletion_timestamp.is_some()
                    || obj.meta().namespace.as_deref().unwrap_or_default() != ns
                {
                    continue;
                }
                if can_adopt.is_none() {
                    let fresh = Api::<O>::namespaced(client.clone(), &ns).get_opt(&owner.name_any()).await?;
                    let ok = fresh.is_some_and(|f| {
                        f.meta().uid.as_deref() == Some(uid.as_str()) && f.meta().deletion_timestamp.is_none()
                    });
                    can_adopt = Some(ok);
                }
                if can_adopt != Some(true) {
                    continue;
                }
                let owner_ref = util::new_controller_ref(&O::api_version(&()), &O::kind(&()), meta);
                let patch = serde_json::json!({
                    "metadata": { "ownerReferences": [owner_ref], "uid": obj.meta().uid }
                });
                match api.patch(&obj.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(o) => claimed.push(Arc::new(o)),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(claimed)
}
