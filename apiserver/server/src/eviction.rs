//! POST `pods/<name>/eviction` (upstream `pkg/registry/core/pod/storage/eviction.go`): a
//! deletion that honours the PodDisruptionBudget covering the pod. A budget with no
//! disruption left answers 429 TooManyRequests with a `DisruptionBudget` cause; an allowed
//! eviction records the pod in the budget's `status.disruptedPods` and decrements
//! `disruptionsAllowed` (compare-and-swap, so two evictions cannot both spend the last one),
//! then marks the pod with the `DisruptionTarget` condition and deletes it.

use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::rest::{now_rfc3339, Ctx, DeleteOptions, Reply, UpdateMode};
use api_types::json::Ptr;
use serde_json::{json, Value};

/// More unconfirmed evictions than this in one budget are refused (`MaxDisruptedPodSize`).
const MAX_DISRUPTED_PODS: usize = 2000;

const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";

fn too_many_requests(retry_after: u32, cause: String) -> ApiError {
    let mut details = json!({"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    ApiError::Raw(
        429,
        "TooManyRequests".into(),
        "Cannot evict pod as it would violate the pod's disruption budget.".into(),
        Some(details),
    )
}

/// `createTooManyRequestsError`: the budget's status is behind its spec.
fn still_processing(pdb: &str) -> ApiError {
    too_many_requests(10, format!("The disruption budget {pdb} is still being processed by the server."))
}

fn phase(pod: &Value) -> &str {
    pod.ptr("/status/phase").and_then(Value::as_str).unwrap_or("")
}

fn terminating(pod: &Value) -> bool {
    !pod.ptr("/metadata/deletionTimestamp").is_none_or(Value::is_null)
}

/// `canIgnorePDB`: finished, pending or already terminating pods disrupt nothing more.
fn can_ignore_pdb(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || terminating(pod)
}

/// `shouldEnforceResourceVersion`: a live pod must not become ready between the check and the
/// delete.
fn should_enforce_rv(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !terminating(pod)
}

fn pod_ready(pod: &Value) -> bool {
    pod.ptr("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.ptr(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// `LabelSelectorAsSelector(...).Matches`: a missing selector matches nothing, an empty one
/// everything (policy/v1); an invalid one matches nothing.
fn selector_matches(sel: Option<&Value>, labels: &Value) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_null()) else { return false };
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        if m.iter().any(|(k, v)| label(k) != v.as_str()) {
            return false;
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let have = label(key);
        let ok = match e["operator"].as_str().unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// `UpdateDisruptionAllowedCondition` for a budget with none left.
fn set_insufficient(pdb: &mut Value) {
    let now = now_rfc3339();
    let generation = int(pdb, "/metadata/generation");
    let mut conds = pdb.ptr("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let new = json!({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
        "message": "", "observedGeneration": generation, "lastTransitionTime": now});
    match conds.iter_mut().find(|c| c["type"] == "DisruptionAllowed") {
        Some(c) => {
            if c["status"] != "False" {
                *c = new;
            } else {
                c["reason"] = json!("InsufficientPods");
                c["observedGeneration"] = json!(generation);
            }
        }
        None => conds.push(new),
    }
    pdb["status"]["conditions"] = json!(conds);
}

pub async fn evict(ctx: &Ctx<'_>, name: &str, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
    let eviction = codec::decode_object(body, content_type)?;
    match (eviction.get("apiVersion").and_then(Value::as_str), eviction.get("kind").and_then(Value::as_str)) {
        (None | Some("policy/v1" | "policy/v1beta1"), None | Some("Eviction")) => {}
        (v, k) => {
            return Err(ApiError::BadRequest(format!(
                "not a Eviction object: {}, Kind={}",
                v.unwrap_or(""),
                k.unwrap_or("")
            )))
        }
    }
    if eviction.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("") != name {
        return Err(ApiError::BadRequest("name in URL does not match name in Eviction object".into()));
    }
    let options_body = eviction.get("deleteOptions").filter(|o| !o.is_null()).map(Value::to_string);
    let mut opts = DeleteOptions::parse(options_body.as_deref().unwrap_or("").as_bytes(), None, ctx.q)?;
    let query_dry = ctx.dry_run()?;
    let body_dry = eviction.ptr("/deleteOptions/dryRun").and_then(Value::as_array).cloned().unwrap_or_default();
    if query_dry && !body_dry.is_empty() && !opts.dry_run {
        return Err(ApiError::BadRequest(format!(
            "Non-matching dry-run options in request and content: [All] and {}",
            Value::Array(body_dry)
        )));
    }
    opts.dry_run |= query_dry;
    let rv_unset = opts.precondition_rv.is_none();

    let pod = ctx.get(name).await?.body;
    if can_ignore_pdb(&pod) {
        if should_enforce_rv(&pod) && rv_unset {
            opts.precondition_rv = pod.ptr("/metadata/resourceVersion").and_then(Value::as_str).map(String::from);
        }
        delete_with_condition(ctx, name, opts).await?;
        return Ok(success());
    }

    let ns = ctx.info.namespace.as_str();
    let labels = pod.ptr("/metadata/labels").cloned().unwrap_or(json!({}));
    let pdbs: Vec<Value> = crate::backend::cached_in_namespace(ctx.st, "policy", "poddisruptionbudgets", ns, &|_| true)
        .into_iter()
        .filter(|p| selector_matches(p.ptr("/spec/selector"), &labels))
        .collect();
    if pdbs.len() > 1 {
        return Ok(Reply::with_code(
            500,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                "code": 500}),
        ));
    }
    let mut unready_allowed = false;
    if let Some(pdb) = pdbs.first() {
        let pdb_name = pdb.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        if !pod_ready(&pod) {
            let always = pdb.ptr("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) == Some("AlwaysAllow");
            let (current, desired) = (int(pdb, "/status/currentHealthy"), int(pdb, "/status/desiredHealthy"));
            unready_allowed = always || (current >= desired && desired > 0);
        }
        if !unready_allowed {
            check_and_decrement(ctx, &pdb_name, name, opts.dry_run).await?;
        }
        if unready_allowed {
            // The pod must not turn ready between this check and its deletion.
            if rv_unset {
                opts.precondition_rv = pod.ptr("/metadata/resourceVersion").and_then(Value::as_str).map(String::from);
            }
            return match delete_with_condition(ctx, name, opts).await {
                Err(ApiError::Conflict(..)) if rv_unset => Err(still_processing(&pdb_name)),
                other => other.map(|_| success()),
            };
        }
    }
    delete_with_condition(ctx, name, opts).await?;
    Ok(success())
}

fn status_info(ns: &str, group: &str, resource: &str) -> crate::request_info::RequestInfo {
    crate::request_info::RequestInfo {
        namespace: ns.to_string(),
        group: group.into(),
        resource: resource.into(),
        version: "v1".into(),
        subresource: "status".into(),
        ..Default::default()
    }
}

fn success() -> Reply {
    Reply::with_code(
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

/// `checkAndDecrement`, on the budget as stored: refused with 429 (or 403) when it allows no
/// disruption, else one disruption is spent and the pod recorded in `disruptedPods`.
async fn check_and_decrement(ctx: &Ctx<'_>, pdb_name: &str, pod: &str, dry_run: bool) -> ApiResult<()> {
    let Some(rd) = api_types::lookup("policy", "v1", "poddisruptionbudgets") else { return Ok(()) };
    let info = status_info(&ctx.info.namespace, "policy", "poddisruptionbudgets");
    let q = codec::Query::parse(dry_run.then_some("dryRun=All"));
    let sys = Ctx::new(ctx.st, rd, &info, &q, true);
    let forbidden = |err: &str| ApiError::forbidden("policy", "poddisruptionbudget", pdb_name, err);
    sys.guaranteed_update(pdb_name, UpdateMode::Status, |cur| {
        if int(cur, "/status/observedGeneration") < int(cur, "/metadata/generation") {
            return Err(still_processing(pdb_name));
        }
        let allowed = int(cur, "/status/disruptionsAllowed");
        if allowed < 0 {
            return Err(forbidden("pdb disruptions allowed is negative"));
        }
        let disrupted = cur.ptr("/status/disruptedPods").and_then(Value::as_object).map_or(0, |m| m.len());
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(forbidden("DisruptedPods map too big - too many evictions not confirmed by PDB controller"));
        }
        if allowed == 0 {
            return Err(too_many_requests(
                0,
                format!(
                    "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                    int(cur, "/status/desiredHealthy"),
                    int(cur, "/status/currentHealthy")
                ),
            ));
        }
        let mut next = cur.clone();
        next["status"]["disruptionsAllowed"] = json!(allowed - 1);
        if allowed == 1 {
            set_insufficient(&mut next);
        }
        if !next["status"]["disruptedPods"].is_object() {
            next["status"]["disruptedPods"] = json!({});
        }
        next["status"]["disruptedPods"][pod] = json!(now_rfc3339());
        Ok(next)
    })
    .await
    .map(|_| ())
}

/// `addConditionAndDeletePod`: the pod gets `DisruptionTarget` (reason EvictionByEvictionAPI)
/// through its status, then is deleted with the caller's options (a resourceVersion
/// precondition follows the condition's own write).
async fn delete_with_condition(ctx: &Ctx<'_>, name: &str, mut opts: DeleteOptions) -> ApiResult<Reply> {
    if !opts.dry_run {
        let (uid, rv) = (opts.precondition_uid.clone(), opts.precondition_rv.clone());
        // The apiserver's own status write, as upstream's eviction writes through the status
        // store: no admission of the caller's, only the condition changes.
        let info = status_info(&ctx.info.namespace, "", "pods");
        let q = codec::Query::default();
        let status = Ctx::new(ctx.st, ctx.rd, &info, &q, true);
        let updated = status
            .guaranteed_update(name, UpdateMode::Status, |cur| {
                let have = |f: &str| cur.ptr(&format!("/metadata/{f}")).and_then(Value::as_str).unwrap_or("");
                if let Some(uid) = uid.as_deref().filter(|u| !u.is_empty() && *u != have("uid")) {
                    return Err(ApiError::Conflict(
                        ctx.qualified(name),
                        format!(
                            "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                            have("uid")
                        ),
                    ));
                }
                if let Some(rv) = rv.as_deref().filter(|r| !r.is_empty() && *r != have("resourceVersion")) {
                    return Err(ApiError::Conflict(
                        ctx.qualified(name),
                        format!(
                            "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                            have("resourceVersion")
                        ),
                    ));
                }
                let mut next = cur.clone();
                let mut conds = cur.ptr("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
                let cond = json!({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()});
                match conds.iter_mut().find(|c| c["type"] == "DisruptionTarget") {
                    Some(c) if c["status"] == "True" => {
                        c["reason"] = cond["reason"].clone();
                        c["message"] = cond["message"].clone();
                    }
                    Some(c) => *c = cond,
                    None => conds.push(cond),
                }
                next["status"]["conditions"] = json!(conds);
                Ok(next)
            })
            .await?;
        if opts.precondition_rv.is_some() {
            opts.precondition_rv =
                updated.body.ptr("/metadata/resourceVersion").and_then(Value::as_str).map(String::from);
        }
    }
    ctx.delete_with(name, &opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_follow_policy_v1() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(!selector_matches(None, &labels));
        assert!(!selector_matches(Some(&Value::Null), &labels));
        assert!(selector_matches(Some(&json!({})), &labels));
        assert!(selector_matches(Some(&json!({"matchLabels": {"app": "web"}})), &labels));
        assert!(!selector_matches(Some(&json!({"matchLabels": {"app": "db"}})), &labels));
        let expr = json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]});
        assert!(selector_matches(Some(&expr), &labels));
        let bad = json!({"matchExpressions": [{"key": "tier", "operator": "Near"}]});
        assert!(!selector_matches(Some(&bad), &labels));
    }

    #[test]
    fn finished_pending_and_terminating_pods_skip_the_budget() {
        assert!(can_ignore_pdb(&json!({"status": {"phase": "Pending"}})));
        assert!(can_ignore_pdb(&json!({"status": {"phase": "Succeeded"}})));
        assert!(can_ignore_pdb(&json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})));
        assert!(!can_ignore_pdb(&json!({"status": {"phase": "Running"}})));
        assert!(!should_enforce_rv(&json!({"status": {"phase": "Failed"}})));
        assert!(should_enforce_rv(&json!({"status": {"phase": "Pending"}})));
    }

    #[test]
    fn the_last_disruption_flips_the_condition() {
        let mut pdb = json!({"metadata": {"generation": 2}, "status": {"conditions": [
            {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods"}]}});
        set_insufficient(&mut pdb);
        let c = &pdb["status"]["conditions"][0];
        assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("False"), Some("InsufficientPods")));
        assert_eq!(c["observedGeneration"], 2);
    }
}
