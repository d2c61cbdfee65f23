//! The built-in mutating admission plugins: ServiceAccount, Priority, DefaultTolerationSeconds,
//! TaintNodesByCondition, DefaultStorageClass, StorageObjectInUseProtection and RuntimeClass,
//! each as upstream's plugin of the same name does it.

use super::Operation;
use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use api_types::json::Ptr;
use serde_json::{json, Value};

const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// Upstream's `utilrand.String` alphabet: no vowels, no confusable digits.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn forbidden(ctx: &Ctx<'_>, obj: &Value, msg: String) -> ApiError {
    let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("");
    ApiError::forbidden(ctx.rd.group, ctx.rd.plural, name, msg)
}

fn is(ctx: &Ctx<'_>, group: &str, plural: &str) -> bool {
    ctx.rd.group == group && ctx.rd.plural == plural && ctx.info.subresource.is_empty()
}

/// Runs the enabled mutating plugins, in upstream's order.
pub async fn mutate(ctx: &Ctx<'_>, op: Operation, obj: &mut Value) -> ApiResult<()> {
    let on = |p: &str| ctx.st.admission.on(p);
    if op != Operation::Create {
        return Ok(());
    }
    if is(ctx, "", "pods") {
        if on("LimitRanger") {
            super::quota::limit_ranger_defaults(ctx, obj);
        }
        if on("ServiceAccount") {
            service_account(ctx, obj).await?;
        }
        if on("Priority") {
            priority(ctx, obj).await?;
        }
        if on("DefaultTolerationSeconds") {
            default_toleration_seconds(obj);
        }
        if on("RuntimeClass") {
            runtime_class(ctx, obj).await?;
        }
    }
    if is(ctx, "", "nodes") && on("TaintNodesByCondition") {
        add_not_ready_taint(obj);
    }
    if is(ctx, "", "persistentvolumeclaims") {
        if on("DefaultStorageClass") {
            default_storage_class(ctx, obj);
        }
        if on("StorageObjectInUseProtection") {
            add_finalizer(obj, "kubernetes.io/pvc-protection");
        }
    }
    if is(ctx, "", "persistentvolumes") && on("StorageObjectInUseProtection") {
        add_finalizer(obj, "kubernetes.io/pv-protection");
    }
    Ok(())
}

fn add_finalizer(obj: &mut Value, f: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let list = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        if !a.iter().any(|x| x == f) {
            a.push(json!(f));
        }
    }
}

fn array<'a>(obj: &'a mut Value, ptr: &str, key: &str) -> Option<&'a mut Vec<Value>> {
    let parent = obj.pointer_mut(ptr)?.as_object_mut()?;
    let v = parent.entry(key).or_insert_with(|| json!([]));
    if !v.is_array() {
        *v = json!([]);
    }
    v.as_array_mut()
}

/// ServiceAccount: the pod runs as `default` unless named, the account must exist, and its
/// token is projected into every container unless automounting is off.
async fn service_account(ctx: &Ctx<'_>, pod: &mut Value) -> ApiResult<()> {
    let mirror = pod.ptr(&format!("/metadata/annotations/{}", MIRROR_ANNOTATION.replace('/', "~1"))).is_some();
    if mirror {
        if pod.ptr("/spec/serviceAccountName").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
            return Err(forbidden(ctx, pod, "a mirror pod may not reference service accounts".into()));
        }
        let secret_volume = pod
            .ptr("/spec/volumes")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|v| v.get("secret").is_some()));
        if secret_volume {
            return Err(forbidden(ctx, pod, "a mirror pod may not reference secrets".into()));
        }
        return Ok(());
    }
    if !pod.get("spec").is_some_and(Value::is_object) {
        return Ok(());
    }
    let name = match pod.ptr("/spec/serviceAccountName").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            pod["spec"]["serviceAccountName"] = json!("default");
            "default".to_string()
        }
    };
    let ns = ctx.info.namespace.clone();
    let Some(sa) = crate::backend::lookup(ctx.st, "", "serviceaccounts", &ns, &name).await else {
        return Err(forbidden(
            ctx,
            pod,
            format!(
                "error looking up service account {ns}/{name}: serviceaccount {} not found",
                crate::auth::go_quote(&name)
            ),
        ));
    };
    // A pod without pull secrets gets its account's.
    let pod_has_secrets = pod.ptr("/spec/imagePullSecrets").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if let Some(secrets) = sa.get("imagePullSecrets").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        if !pod_has_secrets {
            pod["spec"]["imagePullSecrets"] = Value::Array(secrets.clone());
        }
    }
    let automount = pod
        .ptr("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| sa.get("automountServiceAccountToken").and_then(Value::as_bool))
        .unwrap_or(true);
    if automount {
        mount_token(pod);
    }
    Ok(())
}

/// Adds the `kube-api-access-xxxxx` projected volume and mounts it where it is not mounted yet.
fn mount_token(pod: &mut Value) {
    let mounted_everywhere = ["containers", "initContainers"].iter().all(|k| {
        pod.ptr(&format!("/spec/{k}")).and_then(Value::as_array).is_none_or(|cs| {
            cs.iter().all(|c| {
                c.get("volumeMounts").and_then(Value::as_array).is_some_and(|m| {
                    m.iter().any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH))
                })
            })
        })
    });
    if mounted_everywhere {
        return;
    }
    let suffix: String = (0..5).map(|_| ALPHANUMS[rand::random_range(0..ALPHANUMS.len())] as char).collect();
    let vol_name = format!("kube-api-access-{suffix}");
    if let Some(vols) = array(pod, "/spec", "volumes") {
        vols.push(json!({
            "name": vol_name,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ],
            },
        }));
    }
    for k in ["initContainers", "containers"] {
        let Some(cs) = pod.pointer_mut(&format!("/spec/{k}")).and_then(Value::as_array_mut) else { continue };
        for c in cs {
            let Some(m) = c.as_object_mut() else { continue };
            let mounts = m.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else { continue };
            if mounts.iter().any(|x| x.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH)) {
                continue;
            }
            mounts.push(json!({"name": vol_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}));
        }
    }
}

/// Priority: the pod's priority comes from its PriorityClass (or the global default).
async fn priority(ctx: &Ctx<'_>, pod: &mut Value) -> ApiResult<()> {
    if !pod.get("spec").is_some_and(Value::is_object) {
        return Ok(());
    }
    let class_name = pod.ptr("/spec/priorityClassName").and_then(Value::as_str).unwrap_or("").to_string();
    let class = if class_name.is_empty() {
        default_priority_class(ctx)
    } else {
        match crate::backend::lookup(ctx.st, "scheduling.k8s.io", "priorityclasses", "", &class_name).await {
            Some(c) => Some(c),
            None => {
                return Err(forbidden(ctx, pod, format!("no PriorityClass with name {class_name} was found")));
            }
        }
    };
    let (value, policy, name) = match &class {
        Some(c) => (
            c.get("value").and_then(Value::as_i64).unwrap_or(0),
            c.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("PreemptLowerPriority").to_string(),
            c.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
        ),
        None => (0, "PreemptLowerPriority".to_string(), String::new()),
    };
    if let Some(given) = pod.ptr("/spec/priority").and_then(Value::as_i64) {
        if given != value {
            return Err(forbidden(
                ctx,
                pod,
                format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"),
            ));
        }
    }
    pod["spec"]["priority"] = json!(value);
    if !name.is_empty() {
        pod["spec"]["priorityClassName"] = json!(name);
    }
    let given_policy = pod.ptr("/spec/preemptionPolicy").and_then(Value::as_str).map(String::from);
    match given_policy {
        Some(p) if p != policy => {
            return Err(forbidden(
                ctx,
                pod,
                format!("the string value of PreemptionPolicy ({p}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"),
            ));
        }
        _ => pod["spec"]["preemptionPolicy"] = json!(policy),
    }
    Ok(())
}

/// The PriorityClass with `globalDefault: true` (the highest value, if several).
fn default_priority_class(ctx: &Ctx<'_>) -> Option<Value> {
    let rd = api_types::lookup("scheduling.k8s.io", "v1", "priorityclasses")?;
    /// The two members that pick the default, read without building each class's tree (this
    /// runs for every pod created without a class).
    #[derive(serde::Deserialize)]
    struct Pick {
        #[serde(rename = "globalDefault")]
        global_default: Option<bool>,
        value: Option<i64>,
    }
    let (objs, _) = ctx.st.backend.cacher(rd).snapshot(&|_| true);
    objs.iter()
        .filter_map(|o| {
            let p: Pick = serde_json::from_slice(o.list_item()).ok()?;
            (p.global_default == Some(true)).then_some((p.value.unwrap_or(0), o))
        })
        .max_by_key(|(v, _)| *v)
        .map(|(_, o)| o.value())
}

/// DefaultTolerationSeconds: tolerate not-ready and unreachable nodes for 300 s.
fn default_toleration_seconds(pod: &mut Value) {
    let Some(tols) = array(pod, "/spec", "tolerations") else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let tolerated = tols.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let exists_all = t.get("operator").and_then(Value::as_str) == Some("Exists") && k.is_empty();
            (k == key || exists_all) && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            tols.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// TaintNodesByCondition: a new node is not ready until its kubelet says so.
fn add_not_ready_taint(node: &mut Value) {
    if !node.get("spec").is_some_and(Value::is_object) {
        node["spec"] = json!({});
    }
    let Some(taints) = array(node, "/spec", "taints") else { return };
    let present = taints.iter().any(|t| {
        t.get("key").and_then(Value::as_str) == Some("node.kubernetes.io/not-ready")
            && t.get("effect").and_then(Value::as_str) == Some("NoSchedule")
    });
    if !present {
        taints.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}));
    }
}

/// DefaultStorageClass: a claim that names no class gets the default one (the newest when
/// several are marked default).
fn default_storage_class(ctx: &Ctx<'_>, pvc: &mut Value) {
    if pvc.ptr("/spec/storageClassName").is_some_and(|v| !v.is_null()) {
        return;
    }
    let Some(rd) = api_types::lookup("storage.k8s.io", "v1", "storageclasses") else { return };
    let (objs, _) = ctx.st.backend.cacher(rd).snapshot(&|_| true);
    let default = objs
        .iter()
        .map(|o| o.value())
        .filter(|c| {
            let a = |k: &str| c.ptr(&format!("/metadata/annotations/{}", k.replace('/', "~1"))).and_then(Value::as_str);
            a("storageclass.kubernetes.io/is-default-class") == Some("true")
                || a("storageclass.beta.kubernetes.io/is-default-class") == Some("true")
        })
        .max_by(|x, y| {
            let t = |c: &Value| c.ptr("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("").to_string();
            t(x).cmp(&t(y))
        });
    if let (Some(c), Some(spec)) = (default, pvc.get_mut("spec").and_then(Value::as_object_mut)) {
        spec.insert("storageClassName".into(), c["metadata"]["name"].clone());
    }
}

/// RuntimeClass: the pod's RuntimeClass must exist; its overhead and scheduling apply.
async fn runtime_class(ctx: &Ctx<'_>, pod: &mut Value) -> ApiResult<()> {
    let Some(name) = pod.ptr("/spec/runtimeClassName").and_then(Value::as_str).map(String::from) else {
        return Ok(());
    };
    let Some(rc) = crate::backend::lookup(ctx.st, "node.k8s.io", "runtimeclasses", "", &name).await else {
        return Err(forbidden(
            ctx,
            pod,
            format!("pod rejected: RuntimeClass {} not found", crate::auth::go_quote(&name)),
        ));
    };
    if let Some(fixed) = rc.ptr("/overhead/podFixed").filter(|v| v.is_object()) {
        match pod.ptr("/spec/overhead") {
            Some(o) if !o.is_null() && o != fixed => {
                return Err(forbidden(
                    ctx,
                    pod,
                    "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead".into(),
                ));
            }
            _ => pod["spec"]["overhead"] = fixed.clone(),
        }
    }
    if let Some(sel) = rc.ptr("/scheduling/nodeSelector").and_then(Value::as_object) {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
        let ns = spec.entry("nodeSelector").or_insert_with(|| json!({}));
        if let Some(m) = ns.as_object_mut() {
            for (k, v) in sel {
                match m.get(k) {
                    Some(existing) if existing != v => {
                        return Err(forbidden(
                            ctx,
                            &Value::Null,
                            format!(
                                "pod rejected: conflict between RuntimeClass {} nodeSelector and pod nodeSelector {k}",
                                crate::auth::go_quote(&name)
                            ),
                        ));
                    }
                    _ => {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    if let Some(rtols) = rc.ptr("/scheduling/tolerations").and_then(Value::as_array) {
        if let Some(tols) = array(pod, "/spec", "tolerations") {
            for t in rtols {
                if !tols.contains(t) {
                    tols.push(t.clone());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_volume_and_mounts() {
        let mut pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "x", "mountPath": TOKEN_MOUNT_PATH}]}]}});
        mount_token(&mut pod);
        let vol = &pod["spec"]["volumes"][0];
        let name = vol["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == 21, "{name}");
        assert_eq!(vol["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][0]["name"], name);
        assert_eq!(pod["spec"]["containers"][1]["volumeMounts"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn tolerations_and_taints() {
        let mut pod = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]}});
        default_toleration_seconds(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");
        let mut node = json!({"metadata": {"name": "n"}});
        add_not_ready_taint(&mut node);
        add_not_ready_taint(&mut node);
        assert_eq!(node["spec"]["taints"], json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]));
    }
}
