//! Subresources with their own shapes: `scale` (autoscaling/v1 Scale), `pods/binding` and the
//! `bindings` resource, and `namespaces/finalize`.

use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::rest::{Ctx, Reply, UpdateMode};
use api_types::json::Ptr;
use api_types::{FieldError, FieldPath};
use serde_json::{json, Value};

/// The label selector of a workload as the string a Scale carries.
fn selector_string(obj: &Value) -> String {
    let sel = obj.ptr("/spec/selector");
    let mut parts = Vec::new();
    let Some(sel) = sel else { return String::new() };
    // ReplicationControllers have a plain map.
    let labels = sel.get("matchLabels").or(if sel.get("matchExpressions").is_none() { Some(sel) } else { None });
    if let Some(m) = labels.and_then(Value::as_object) {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let vals: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", vals.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", vals.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.sort();
    parts.join(",")
}

pub fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut m = serde_json::Map::new();
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let mut status = json!({"replicas": obj.ptr("/status/replicas").and_then(Value::as_i64).unwrap_or(0)});
    let sel = selector_string(obj);
    if !sel.is_empty() {
        status["selector"] = json!(sel);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": Value::Object(m),
        "spec": {"replicas": obj.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": status,
    })
}

fn scale_invalid(name: &str, replicas: i64) -> ApiError {
    ApiError::Invalid {
        kind: "Scale".into(),
        group: "autoscaling".into(),
        name: name.into(),
        errors: vec![FieldError::invalid_raw(
            &FieldPath::new("spec").child("replicas"),
            replicas,
            "must be greater than or equal to 0",
        )],
    }
}

/// GET/PUT/PATCH of `<workload>/scale`.
pub async fn scale(ctx: &Ctx<'_>, name: &str, verb: &str, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
    match verb {
        "get" => {
            let r = ctx.get(name).await?;
            Ok(Reply::ok(scale_of(&r.body)))
        }
        "update" | "patch" => {
            let input: Value = if verb == "update" { codec::decode_object(body, content_type)? } else { Value::Null };
            if verb == "update" {
                if let Some(n) = input.ptr("/metadata/name").and_then(Value::as_str) {
                    if n != name {
                        return Err(ApiError::BadRequest(format!(
                            "the name of the object ({n}) does not match the name on the URL ({name})"
                        )));
                    }
                }
            }
            let mt = codec::media_type(content_type);
            let r = ctx
                .guaranteed_update(name, UpdateMode::Main, |cur| {
                    let current_scale = scale_of(cur);
                    let wanted = if verb == "update" {
                        input.clone()
                    } else {
                        let mut doc = current_scale.clone();
                        if let Some(m) = doc["metadata"].as_object_mut() {
                            m.remove("resourceVersion");
                        }
                        match mt.as_str() {
                            "application/json-patch+json" => {
                                let p: json_patch::Patch = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                                json_patch::patch_unsafe(&mut doc, &p).map_err(|e| ApiError::Unprocessable(format!("the server rejected our request due to an error in our request: {e}")))?;
                            }
                            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                                // A Scale has no lists, so a strategic merge patch is a merge patch.
                                let p: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                                json_patch::merge(&mut doc, &p);
                            }
                            _ => {
                                return Err(ApiError::UnsupportedMediaType(
                                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json".into(),
                                ))
                            }
                        }
                        doc
                    };
                    let replicas = wanted.ptr("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
                    if replicas < 0 {
                        return Err(scale_invalid(name, replicas));
                    }
                    let mut new = cur.clone();
                    new["spec"]["replicas"] = json!(replicas);
                    match wanted.ptr("/metadata/resourceVersion").and_then(Value::as_str) {
                        Some(rv) if !rv.is_empty() => new["metadata"]["resourceVersion"] = json!(rv),
                        _ => {
                            if let Some(m) = new["metadata"].as_object_mut() {
                                m.remove("resourceVersion");
                            }
                        }
                    }
                    Ok(new)
                })
                .await?;
            Ok(Reply::ok(scale_of(&r.body)))
        }
        _ => Err(ApiError::MethodNotSupported { resource: ctx.rd.plural.into(), verb: verb.into() }),
    }
}

/// POST `pods/<name>/binding` or `bindings`: assigns a pending pod to a node.
pub async fn bind(ctx: &Ctx<'_>, pod_name: Option<&str>, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
    let binding = codec::decode_object(body, content_type)?;
    let name = binding.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(p) = pod_name {
        if !name.is_empty() && name != p {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({name}) does not match the name on the URL ({p})"
            )));
        }
    }
    let pod = pod_name.map(str::to_string).unwrap_or(name);
    let node = binding.ptr("/target/name").and_then(Value::as_str).unwrap_or("").to_string();
    let invalid = |errors: Vec<FieldError>| ApiError::Invalid {
        kind: "Binding".into(),
        group: String::new(),
        name: pod.clone(),
        errors,
    };
    if pod.is_empty() {
        return Err(invalid(vec![FieldError::required(
            &FieldPath::new("metadata").child("name"),
            "name or generateName is required",
        )]));
    }
    if node.is_empty() {
        return Err(invalid(vec![FieldError::not_found(&FieldPath::new("target").child("name"), "")]));
    }
    let kind = binding.ptr("/target/kind").and_then(Value::as_str).unwrap_or("Node");
    if !kind.is_empty() && kind != "Node" {
        return Err(invalid(vec![FieldError::not_supported(
            &FieldPath::new("target").child("kind"),
            kind,
            &["Node", "<empty>"],
        )]));
    }
    let pods = api_types::lookup("", "v1", "pods").ok_or_else(|| ApiError::Internal("pods not registered".into()))?;
    // Like upstream's assignPod: the binding writes nodeName itself, outside pod-update rules.
    let pod_ctx = Ctx::new(ctx.st, pods, ctx.info, ctx.q, true);
    let annotations = binding.ptr("/metadata/annotations").cloned();
    let uid_pre = binding.ptr("/metadata/uid").and_then(Value::as_str).map(str::to_string);
    pod_ctx
        .guaranteed_update(&pod, UpdateMode::Raw, |cur| {
            if let Some(uid) = &uid_pre {
                if cur.ptr("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
                    return Err(ApiError::Conflict(pod_ctx.qualified(&pod), "Precondition failed: UID in precondition does not match".into()));
                }
            }
            if !cur.ptr("/metadata/deletionTimestamp").is_none_or(Value::is_null) {
                return Err(ApiError::Conflict(pod_ctx.qualified(&pod), format!("pod {pod} is being deleted, cannot be assigned to a host")));
            }
            let assigned = cur.ptr("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
            if !assigned.is_empty() {
                return Err(ApiError::Conflict(pod_ctx.qualified(&pod), format!("pod {pod} is already assigned to node {assigned:?}")));
            }
            let mut new = cur.clone();
            new["spec"]["nodeName"] = json!(node);
            if let Some(Value::Object(a)) = &annotations {
                for (k, v) in a {
                    new["metadata"]["annotations"][k] = v.clone();
                }
            }
            let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": crate::rest::now_rfc3339()});
            let conds = new["status"]["conditions"].as_array().cloned().unwrap_or_default();
            let mut conds: Vec<Value> = conds.into_iter().filter(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled")).collect();
            conds.push(cond);
            new["status"]["conditions"] = json!(conds);
            Ok(new)
        })
        .await?;
    Ok(Reply::with_code(
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

/// PUT `namespaces/<name>/finalize`: only `spec.finalizers` changes; a terminating namespace
/// whose finalizers are all gone is removed by the update itself (`deletion_finished`).
pub async fn finalize(ctx: &Ctx<'_>, name: &str, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
    let input = codec::decode_object(body, content_type)?;
    let fins = input.ptr("/spec/finalizers").cloned().unwrap_or(json!([]));
    ctx.guaranteed_update(name, UpdateMode::Raw, |cur| {
        let mut new = cur.clone();
        new["spec"]["finalizers"] = fins.clone();
        if let Some(rv) = input.ptr("/metadata/resourceVersion") {
            new["metadata"]["resourceVersion"] = rv.clone();
        } else if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        Ok(new)
    })
    .await
}
