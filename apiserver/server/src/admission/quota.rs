//! LimitRanger (container defaults from LimitRanges, min/max/ratio checks) and ResourceQuota
//! (a create must fit every quota of its namespace; admitted usage is charged to the quota's
//! status, which the controller-manager's quota controller computes in full).

use super::Operation;
use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use api_types::json::Ptr;
use api_types::kinds::validation::Quantity;
use api_types::quota::{containers, is_terminating, quota_selects, res_map, sum};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

fn forbidden(ctx: &Ctx<'_>, name: &str, msg: String) -> ApiError {
    ApiError::forbidden(ctx.rd.group, ctx.rd.plural, name, msg)
}

fn aggregate(errs: &[String]) -> String {
    if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// The namespace's objects of one resource, from the watch cache.
fn in_namespace(ctx: &Ctx<'_>, group: &str, plural: &str, ns: &str) -> Vec<Value> {
    crate::backend::cached_in_namespace(ctx.st, group, plural, ns, &|_| true)
}

// ---------------------------------------------------------------------------------------------
// LimitRanger
// ---------------------------------------------------------------------------------------------

/// Container defaults (`default` limits, `defaultRequest` requests) for a new pod.
pub fn limit_ranger_defaults(ctx: &Ctx<'_>, pod: &mut Value) {
    let ranges = in_namespace(ctx, "", "limitranges", &ctx.info.namespace);
    let mut limits = Map::new();
    let mut requests = Map::new();
    for r in &ranges {
        for l in r.ptr("/spec/limits").and_then(Value::as_array).into_iter().flatten() {
            if l.get("type").and_then(Value::as_str) != Some("Container") {
                continue;
            }
            for (key, out) in [("default", &mut limits), ("defaultRequest", &mut requests)] {
                for (k, v) in l.get(key).and_then(Value::as_object).into_iter().flatten() {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    if limits.is_empty() && requests.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for k in ["initContainers", "containers"] {
        let Some(cs) = pod.pointer_mut(&format!("/spec/{k}")).and_then(Value::as_array_mut) else { continue };
        for c in cs {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let Some(cm) = c.as_object_mut() else { continue };
            let res = cm.entry("resources").or_insert_with(|| json!({}));
            let Some(res) = res.as_object_mut() else { continue };
            for (field, defaults, word) in [("requests", &requests, "request"), ("limits", &limits, "limit")] {
                let mut set = Vec::new();
                let entry = res.entry(field).or_insert_with(|| json!({}));
                if let Some(m) = entry.as_object_mut() {
                    for (rk, rv) in defaults {
                        if !m.contains_key(rk) {
                            m.insert(rk.clone(), rv.clone());
                            set.push(rk.clone());
                        }
                    }
                }
                if entry.as_object().is_some_and(|m| m.is_empty()) {
                    res.remove(field);
                }
                if !set.is_empty() {
                    notes.push(format!(
                        "{} {word} for {} {name}",
                        set.join(", "),
                        if k == "initContainers" { "init container" } else { "container" }
                    ));
                }
            }
        }
    }
    if !notes.is_empty() {
        let anns = pod["metadata"].as_object_mut().map(|m| m.entry("annotations").or_insert_with(|| json!({})));
        if let Some(Value::Object(a)) = anns {
            a.insert(
                "kubernetes.io/limit-ranger".into(),
                json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
            );
        }
    }
}

fn check_min(
    errs: &mut Vec<String>,
    kind: &str,
    res: &str,
    min: &Quantity,
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
) {
    let m = min.canonical();
    match req {
        None => errs.push(format!("minimum {res} usage per {kind} is {m}.  No request is specified")),
        Some(r) if r.cmp(min) == Ordering::Less => {
            errs.push(format!("minimum {res} usage per {kind} is {m}, but request is {}", r.canonical()))
        }
        _ => {
            if let Some(l) = lim.filter(|l| **l < *min) {
                errs.push(format!("minimum {res} usage per {kind} is {m}, but limit is {}", l.canonical()));
            }
        }
    }
}

fn check_max(
    errs: &mut Vec<String>,
    kind: &str,
    res: &str,
    max: &Quantity,
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
) {
    let m = max.canonical();
    match lim {
        None => errs.push(format!("maximum {res} usage per {kind} is {m}.  No limit is specified")),
        Some(l) if l.cmp(max) == Ordering::Greater => {
            errs.push(format!("maximum {res} usage per {kind} is {m}, but limit is {}", l.canonical()))
        }
        _ => {
            if let Some(r) = req.filter(|r| **r > *max) {
                errs.push(format!("maximum {res} usage per {kind} is {m}, but request is {}", r.canonical()));
            }
        }
    }
}

/// LimitRanger's validation of a new pod or claim.
pub fn limit_ranger_validate(ctx: &Ctx<'_>, obj: &Value) -> ApiResult<()> {
    let is_pod = ctx.rd.plural == "pods";
    let ranges = in_namespace(ctx, "", "limitranges", &ctx.info.namespace);
    if ranges.is_empty() {
        return Ok(());
    }
    let mut errs = Vec::new();
    for r in &ranges {
        for l in r.ptr("/spec/limits").and_then(Value::as_array).into_iter().flatten() {
            let ty = l.get("type").and_then(Value::as_str).unwrap_or("");
            let (min, max) = (res_map(l.get("min")), res_map(l.get("max")));
            match (ty, is_pod) {
                ("Container", true) => {
                    for c in containers(obj) {
                        let req = res_map(c.ptr("/resources/requests"));
                        let lim = res_map(c.ptr("/resources/limits"));
                        for (k, v) in &min {
                            check_min(&mut errs, "Container", k, v, req.get(k), lim.get(k));
                        }
                        for (k, v) in &max {
                            check_max(&mut errs, "Container", k, v, req.get(k), lim.get(k));
                        }
                    }
                }
                ("Pod", true) => {
                    let cs: Vec<&Value> =
                        obj.ptr("/spec/containers").and_then(Value::as_array).into_iter().flatten().collect();
                    let req = sum(&cs.iter().map(|c| res_map(c.ptr("/resources/requests"))).collect::<Vec<_>>());
                    let lim = sum(&cs.iter().map(|c| res_map(c.ptr("/resources/limits"))).collect::<Vec<_>>());
                    for (k, v) in &min {
                        check_min(&mut errs, "Pod", k, v, req.get(k), lim.get(k));
                    }
                    for (k, v) in &max {
                        check_max(&mut errs, "Pod", k, v, req.get(k), lim.get(k));
                    }
                }
                ("PersistentVolumeClaim", false) => {
                    let req = res_map(obj.ptr("/spec/resources/requests"));
                    let lim = res_map(obj.ptr("/spec/resources/limits"));
                    for (k, v) in &min {
                        check_min(&mut errs, "PersistentVolumeClaim", k, v, req.get(k), lim.get(k));
                    }
                    for (k, v) in &max {
                        check_max(&mut errs, "PersistentVolumeClaim", k, v, req.get(k), lim.get(k));
                    }
                }
                _ => {}
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("");
        Err(forbidden(ctx, name, aggregate(&errs)))
    }
}

// ---------------------------------------------------------------------------------------------
// ResourceQuota
// ---------------------------------------------------------------------------------------------

/// `podEvaluator.Constraints`: when a quota covers cpu or memory, every container must state
/// them (`must specify requests.cpu for: c`).
fn pod_constraints(obj: &Value, restricted: &[&String]) -> Option<String> {
    let mut missing: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for r in restricted {
        let (field, res) = match r.as_str() {
            "cpu" | "requests.cpu" => ("requests", "cpu"),
            "memory" | "requests.memory" => ("requests", "memory"),
            "limits.cpu" => ("limits", "cpu"),
            "limits.memory" => ("limits", "memory"),
            _ => continue,
        };
        for c in containers(obj) {
            if c.ptr(&format!("/resources/{field}/{res}")).is_none() {
                let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                missing.entry((*r).clone()).or_default().insert(name);
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(r, cs)| format!("{r} for: {}", cs.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// ResourceQuota: every quota of the namespace whose scopes select the object must still hold
/// with this create; the usage is then charged to each such quota's status. As upstream, a
/// quota constrains what its `status.hard` lists (the quota controller copies `spec.hard`
/// there), and a covered resource without computed usage is refused. A pod update is charged
/// only when it starts or stops terminating (`activeDeadlineSeconds`), to the quotas that now
/// select it and did not before.
pub async fn resource_quota(ctx: &Ctx<'_>, op: Operation, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
    if !ctx.rd.namespaced || !ctx.info.subresource.is_empty() {
        return Ok(());
    }
    let is_pod = ctx.rd.group.is_empty() && ctx.rd.plural == "pods";
    let old = match (op, old) {
        (Operation::Create, _) => None,
        (Operation::Update, Some(old)) if is_pod && is_terminating(old) != is_terminating(obj) => Some(old),
        _ => return Ok(()),
    };
    let ns = ctx.info.namespace.clone();
    let quotas = in_namespace(ctx, "", "resourcequotas", &ns);
    if quotas.is_empty() {
        return Ok(());
    }
    let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let delta = api_types::quota::usage(ctx.rd.group, ctx.rd.plural, obj);
    let mut charges = Vec::new();
    for quota in &quotas {
        if !quota_selects(quota, is_pod, obj) || old.is_some_and(|o| quota_selects(quota, is_pod, o)) {
            continue;
        }
        let qname = quota.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let hard = res_map(quota.ptr("/status/hard"));
        let restricted: Vec<&String> = hard
            .keys()
            .filter(|k| {
                delta.contains_key(*k)
                    || (is_pod
                        && matches!(
                            k.as_str(),
                            "cpu" | "memory" | "requests.cpu" | "requests.memory" | "limits.cpu" | "limits.memory"
                        ))
            })
            .collect();
        if restricted.is_empty() {
            continue;
        }
        if is_pod {
            if let Some(e) = pod_constraints(obj, &restricted) {
                return Err(forbidden(ctx, &name, format!("failed quota: {qname}: {e}")));
            }
        }
        let used_obj = quota.ptr("/status/used").and_then(Value::as_object);
        let unknown: Vec<&str> = restricted
            .iter()
            .filter(|k| used_obj.is_none_or(|u| !u.contains_key(k.as_str())))
            .map(|k| k.as_str())
            .collect();
        if !unknown.is_empty() {
            return Err(forbidden(
                ctx,
                &name,
                format!("status unknown for quota: {qname}, resources: {}", unknown.join(",")),
            ));
        }
        let used = res_map(quota.ptr("/status/used"));
        let over: Vec<&String> = restricted
            .iter()
            .filter(|k| {
                delta.get(**k).is_some_and(|d| {
                    used.get(**k).copied().unwrap_or_else(Quantity::zero).add(d).cmp(&hard[**k]) == Ordering::Greater
                })
            })
            .copied()
            .collect();
        if !over.is_empty() {
            let fmt = |m: &dyn Fn(&String) -> String| {
                over.iter().map(|k| format!("{k}={}", m(k))).collect::<Vec<_>>().join(",")
            };
            let requested = fmt(&|k| delta[k].canonical());
            let used_s = fmt(&|k| used.get(k).copied().unwrap_or_else(Quantity::zero).canonical());
            let limited = fmt(&|k| hard[k].canonical());
            return Err(forbidden(
                ctx,
                &name,
                format!("exceeded quota: {qname}, requested: {requested}, used: {used_s}, limited: {limited}"),
            ));
        }
        charges.push((qname, hard.keys().cloned().collect::<Vec<String>>()));
    }
    if ctx.dry_run().unwrap_or(false) {
        return Ok(());
    }
    for (qname, keys) in charges {
        // Boxed: the status write passes through admission again (which skips system writes).
        Box::pin(charge(ctx, &ns, &qname, &keys, &delta)).await?;
    }
    Ok(())
}

/// Adds `delta` to a quota's `status.used` (compare-and-swap through the system path).
async fn charge(
    ctx: &Ctx<'_>,
    ns: &str,
    qname: &str,
    keys: &[String],
    delta: &BTreeMap<String, Quantity>,
) -> ApiResult<()> {
    let Some(rd) = api_types::lookup("", "v1", "resourcequotas") else { return Ok(()) };
    let info = crate::request_info::RequestInfo {
        namespace: ns.to_string(),
        resource: "resourcequotas".into(),
        version: "v1".into(),
        subresource: "status".into(),
        ..Default::default()
    };
    let q = crate::codec::Query::default();
    let sys = Ctx::new(ctx.st, rd, &info, &q, true);
    sys.guaranteed_update(qname, crate::rest::UpdateMode::Status, |cur| {
        let mut next = cur.clone();
        let used = res_map(cur.ptr("/status/used"));
        for k in keys {
            let d = delta.get(k).copied().unwrap_or_else(Quantity::zero);
            let v = used.get(k).copied().unwrap_or_else(Quantity::zero).add(&d);
            next["status"]["used"][k] = json!(v.canonical());
        }
        Ok(next)
    })
    .await
    .map(|_| ())
}
