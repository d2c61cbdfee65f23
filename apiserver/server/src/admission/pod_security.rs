//! The PodSecurity plugin: pods are checked against their namespace's
//! `pod-security.kubernetes.io/*` labels (enforce rejects, warn adds warnings), workload
//! templates only warn, and namespace label changes are validated and warn about existing pods
//! that the new enforce level would reject. The decisions are the `podsecurity` crate's.

use super::Operation;
use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use api_types::json::Ptr;
use podsecurity::admission::{self as psa, Config, NamespaceRequest, Request};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn labels(v: &Value) -> BTreeMap<String, String> {
    api_types::selector::labels_of(v)
}

fn op(o: Operation) -> psa::Operation {
    match o {
        Operation::Create => psa::Operation::Create,
        Operation::Update => psa::Operation::Update,
        Operation::Delete => psa::Operation::Delete,
    }
}

fn into_error(d: psa::Decision) -> ApiError {
    let Some(s) = d.status else { return ApiError::Internal("PodSecurity denied the request".into()) };
    let mut details = json!({"name": s.name, "kind": s.kind});
    if !s.group.is_empty() {
        details["group"] = json!(s.group);
    }
    if !s.causes.is_empty() {
        details["causes"] =
            s.causes.iter().map(|c| json!({"reason": c.cause_type(), "message": c.body(), "field": c.field})).collect();
    }
    ApiError::Raw(s.code, s.reason.into(), s.message, Some(details))
}

pub async fn validate(ctx: &Ctx<'_>, o: Operation, obj: Option<&Value>, old: Option<&Value>) -> ApiResult<()> {
    let config: &Config = &ctx.st.admission.pod_security;
    let Some(obj) = obj else { return Ok(()) };
    let decision = if ctx.rd.group.is_empty() && ctx.rd.plural == "namespaces" {
        let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let (new_labels, old_labels) = (labels(obj), old.map(labels));
        let request_namespace = if o == Operation::Create { "" } else { name.as_str() };
        let req = NamespaceRequest {
            operation: op(o),
            name: &name,
            request_namespace,
            subresource: &ctx.info.subresource,
            labels: &new_labels,
            old_labels: old_labels.as_ref(),
        };
        let st = ctx.st;
        psa::admit_namespace(config, &req, || Ok(crate::backend::cached_in_namespace(st, "", "pods", &name, &|_| true)))
    } else if psa::has_pod_spec(ctx.rd.group, ctx.rd.plural) {
        let ns = ctx.info.namespace.clone();
        let ns_obj = crate::backend::lookup(ctx.st, "", "namespaces", "", &ns).await;
        let ns_labels = ns_obj.as_ref().map(labels);
        let lookup_err = format!("failed to lookup namespace {}", crate::auth::go_quote(&ns));
        let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let req = Request {
            operation: op(o),
            group: ctx.rd.group,
            resource: ctx.rd.plural,
            subresource: &ctx.info.subresource,
            namespace: &ns,
            name: &name,
            username: &ctx.user.name,
            object: obj,
            old_object: old,
        };
        psa::admit(config, &req, ns_labels.as_ref().ok_or(lookup_err.as_str()))
    } else {
        return Ok(());
    };
    {
        let mut w = ctx.warnings.lock().unwrap_or_else(|p| p.into_inner());
        w.extend(decision.warnings.iter().cloned());
    }
    if decision.allowed {
        Ok(())
    } else {
        Err(into_error(decision))
    }
}
