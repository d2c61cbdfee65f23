//! The authentication.k8s.io and authorization.k8s.io APIs: TokenReview, SelfSubjectReview,
//! SubjectAccessReview (and its Local and Self forms), SelfSubjectRulesReview, and the
//! TokenRequest subresource of service accounts. None of them is stored: each create answers
//! 201 with the request and its computed status.

use crate::auth::serviceaccount::BoundClaims;
use crate::auth::UserInfo;
use crate::error::{ApiError, ApiResult};
use crate::rest::{Ctx, Reply};
use api_types::json::Ptr;
use api_types::{FieldError, FieldPath};
use serde_json::{json, Value};

fn invalid(kind: &str, group: &str, name: &str, errors: Vec<FieldError>) -> ApiError {
    ApiError::Invalid { kind: kind.into(), group: group.into(), name: name.into(), errors }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default()
}

fn extra_of(v: Option<&Value>) -> std::collections::BTreeMap<String, Vec<String>> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), strings(Some(v)))).collect())
        .unwrap_or_default()
}

/// A review's metadata must be empty (kubectl sends `creationTimestamp: null`).
fn metadata_empty(obj: &Value) -> bool {
    obj.get("metadata").and_then(Value::as_object).is_none_or(|m| m.values().all(Value::is_null))
}

/// Dispatches a create of one of the review resources.
pub async fn create(ctx: &Ctx<'_>, body: &[u8], ct: Option<&str>) -> ApiResult<Reply> {
    let mut obj = ctx.decode_for_write(body, ct)?;
    let status = match ctx.rd.plural {
        "tokenreviews" => token_review(ctx, &obj).await?,
        "selfsubjectreviews" => json!({"userInfo": ctx.user.to_json()}),
        "subjectaccessreviews" | "localsubjectaccessreviews" | "selfsubjectaccessreviews" => {
            access_review(ctx, &mut obj).await?
        }
        "selfsubjectrulesreviews" => rules_review(ctx, &obj)?,
        _ => return Err(ApiError::MethodNotSupported { resource: ctx.rd.plural.into(), verb: "create".into() }),
    };
    if ctx.rd.plural == "selfsubjectreviews" {
        obj["metadata"] = json!({"creationTimestamp": crate::rest::now_rfc3339()});
    }
    obj["status"] = status;
    Ok(Reply::with_code(201, obj))
}

async fn token_review(ctx: &Ctx<'_>, obj: &Value) -> ApiResult<Value> {
    let token = obj.ptr("/spec/token").and_then(Value::as_str).unwrap_or("");
    if token.is_empty() {
        return Err(ApiError::BadRequest("token is required for TokenReview in authentication".into()));
    }
    let mut auds = strings(obj.ptr("/spec/audiences"));
    if auds.is_empty() {
        auds = ctx.st.authn.service_accounts.as_ref().map(|s| s.api_audiences.clone()).unwrap_or_default();
    }
    Ok(match ctx.st.authn.authenticate_token(ctx.st, token, &auds).await {
        Some((user, matched)) => {
            let mut s = json!({"authenticated": true, "user": user.to_json()});
            if !matched.is_empty() {
                s["audiences"] = json!(matched);
            }
            s
        }
        None => json!({"user": {}, "error": "invalid bearer token"}),
    })
}

async fn access_review(ctx: &Ctx<'_>, obj: &mut Value) -> ApiResult<Value> {
    let kind = ctx.rd.kind;
    let group = "authorization.k8s.io";
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let ra = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let nra = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let sp = FieldPath::new("spec");
    let mut errs = Vec::new();
    if !metadata_empty(obj) && kind != "LocalSubjectAccessReview" {
        errs.push(FieldError::invalid_raw(&FieldPath::new("metadata"), "{...}", "must be empty"));
    }
    match (ra, nra) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid_raw(
            &sp.child("nonResourceAttributes"),
            "{...}",
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errs.push(FieldError::invalid_raw(
            &sp.child("resourceAttributes"),
            "null",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    let user = match kind {
        "SelfSubjectAccessReview" => ctx.user.clone(),
        _ => {
            let u = UserInfo {
                name: spec.get("user").and_then(Value::as_str).unwrap_or("").to_string(),
                uid: spec.get("uid").and_then(Value::as_str).unwrap_or("").to_string(),
                groups: strings(spec.get("groups")),
                extra: extra_of(spec.get("extra")),
            };
            if u.name.is_empty() && u.groups.is_empty() {
                errs.push(FieldError::invalid(
                    &sp.child("user"),
                    "",
                    "at least one of user or group must be specified",
                ));
            }
            u
        }
    };
    if kind == "LocalSubjectAccessReview" {
        if nra.is_some() {
            errs.push(FieldError::invalid_raw(
                &sp.child("nonResourceAttributes"),
                "{...}",
                "disallowed on this kind of request",
            ));
        }
        let ns = ra.and_then(|r| r.get("namespace")).and_then(Value::as_str).unwrap_or("");
        if ra.is_some() && ns != ctx.info.namespace {
            return Err(ApiError::BadRequest(format!(
                "spec.resourceAttributes.namespace must match namespace: {}",
                ctx.info.namespace
            )));
        }
    }
    if !errs.is_empty() {
        return Err(invalid(kind, group, "", errs));
    }
    let s = |v: Option<&Value>, k: &str| v.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
    let attrs = ::rbac::Attributes {
        user: user.name.clone(),
        groups: user.groups.clone(),
        verb: s(ra.or(nra), "verb"),
        is_resource: ra.is_some(),
        api_group: s(ra, "group"),
        api_version: s(ra, "version"),
        namespace: s(ra, "namespace"),
        resource: s(ra, "resource"),
        subresource: s(ra, "subresource"),
        name: s(ra, "name"),
        path: s(nra, "path"),
        field_selector: String::new(),
    };
    let d = ctx.st.authz.authorize(&attrs).await;
    let mut status = json!({"allowed": d.allowed()});
    if let crate::auth::authz::Decision::Error(e) = &d {
        status["evaluationError"] = json!(e);
    }
    if matches!(d, crate::auth::authz::Decision::Deny(_)) {
        status["denied"] = json!(true);
    }
    if !d.reason().is_empty() {
        status["reason"] = json!(d.reason());
    }
    Ok(status)
}

fn rules_review(ctx: &Ctx<'_>, obj: &Value) -> ApiResult<Value> {
    let ns = obj.ptr("/spec/namespace").and_then(Value::as_str).unwrap_or("");
    if ns.is_empty() {
        return Err(ApiError::BadRequest("no namespace on request".into()));
    }
    let r = ctx.st.authz.rules_for(&ctx.user.name, &ctx.user.groups, ns);
    let resource: Vec<Value> = r
        .resource
        .iter()
        .map(|p| {
            let mut v = json!({"verbs": p.verbs, "apiGroups": p.api_groups, "resources": p.resources});
            if !p.resource_names.is_empty() {
                v["resourceNames"] = json!(p.resource_names);
            }
            v
        })
        .collect();
    let non_resource: Vec<Value> =
        r.non_resource.iter().map(|p| json!({"verbs": p.verbs, "nonResourceURLs": p.non_resource_urls})).collect();
    let mut status = json!({"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": r.incomplete});
    if !r.errors.is_empty() {
        status["evaluationError"] =
            json!(if r.errors.len() == 1 { r.errors[0].clone() } else { format!("[{}]", r.errors.join(", ")) });
    }
    Ok(status)
}

/// The lifetime kubelets request for projected tokens, and what it is extended to.
const WARN_ONLY_SECONDS: i64 = 3607;
const EXTENDED_SECONDS: i64 = 365 * 24 * 60 * 60;

/// Seconds a requested token may live at least and at most.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;

/// `POST serviceaccounts/<name>/token`.
pub async fn token_request(ctx: &Ctx<'_>, sa_name: &str, body: &[u8], ct: Option<&str>) -> ApiResult<Reply> {
    let sa_cfg = ctx
        .st
        .authn
        .service_accounts
        .as_ref()
        .ok_or_else(|| ApiError::Internal("service account token issuing is not configured".into()))?;
    let mut req = crate::codec::decode_object(body, ct)?;
    // Status is output only (kubectl sends an empty one).
    if let Some(m) = req.as_object_mut() {
        m.remove("status");
    }
    let kind = req.get("kind").and_then(Value::as_str).unwrap_or("TokenRequest");
    if !kind.is_empty() && kind != "TokenRequest" {
        return Err(ApiError::BadRequest(format!("not a TokenRequest: {kind}")));
    }
    // The typed round trip refuses malformed bodies (a string spec, a numeric audience) as the
    // decoder upstream does.
    let mut req =
        openapi::gonull::typed_round_trip("authentication.k8s.io", "v1", "TokenRequest", req).map_err(|e| {
            ApiError::BadRequest(format!("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {e}"))
        })?;
    let ns = ctx.info.namespace.clone();
    let sa = crate::backend::lookup(ctx.st, "", "serviceaccounts", &ns, sa_name)
        .await
        .ok_or_else(|| ApiError::NotFound(crate::error::Qualified::new("", "serviceaccounts", sa_name)))?;
    let sa_uid = sa.ptr("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
    let spec = req.get("spec").cloned().unwrap_or(json!({}));
    let mut exp = spec.get("expirationSeconds").and_then(Value::as_i64).unwrap_or(3600);
    let path = FieldPath::new("spec").child("expirationSeconds");
    let mut errs = Vec::new();
    if exp < MIN_EXPIRATION {
        errs.push(FieldError::invalid_raw(&path, exp, "may not specify a duration less than 10 minutes"));
    }
    if exp > MAX_EXPIRATION {
        errs.push(FieldError::invalid_raw(&path, exp, "may not specify a duration larger than 2^32 seconds"));
    }
    if !errs.is_empty() {
        return Err(invalid("TokenRequest", "authentication.k8s.io", sa_name, errs));
    }
    if let Some(max) = sa_cfg.max_expiration {
        exp = exp.min(max);
    }
    let mut auds = strings(spec.get("audiences"));
    if auds.is_empty() {
        auds = sa_cfg.api_audiences.clone();
    }
    let bref = spec.get("boundObjectRef").filter(|v| !v.is_null());
    let mut bound: Option<(String, String, String)> = None;
    let mut node: Option<(String, String)> = None;
    if let Some(b) = bref {
        let bkind = b.get("kind").and_then(Value::as_str).unwrap_or("");
        let bname = b.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let buid = b.get("uid").and_then(Value::as_str).unwrap_or("");
        let (plural, claim, bns) = match bkind {
            "Pod" => ("pods", "pod", ns.as_str()),
            "Secret" => ("secrets", "secret", ns.as_str()),
            "Node" => ("nodes", "node", ""),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "cannot bind token for serviceaccount {sa_name:?} to object of kind {other:?}"
                )))
            }
        };
        let obj = crate::backend::lookup(ctx.st, "", plural, bns, &bname)
            .await
            .ok_or_else(|| ApiError::NotFound(crate::error::Qualified::new("", plural, &bname)))?;
        let uid = obj.ptr("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
        if !buid.is_empty() && buid != uid {
            return Err(ApiError::Conflict(
                crate::error::Qualified::new("", plural, &bname),
                format!("the UID in the bound object reference ({buid}) does not match the UID in record. The object might have been deleted and then recreated"),
            ));
        }
        if bkind == "Pod" {
            let pod_sa = obj.ptr("/spec/serviceAccountName").and_then(Value::as_str).unwrap_or("default");
            if pod_sa != sa_name {
                return Err(ApiError::BadRequest(format!(
                    "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
                )));
            }
            if let Some(n) = obj.ptr("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                let nuid = crate::backend::lookup(ctx.st, "", "nodes", "", n)
                    .await
                    .and_then(|o| o.ptr("/metadata/uid").and_then(Value::as_str).map(String::from))
                    .unwrap_or_default();
                node = Some((n.to_string(), nuid));
            }
        }
        req["spec"]["boundObjectRef"]["uid"] = json!(uid);
        bound = Some((claim.to_string(), bname, uid));
    }
    let now = chrono::Utc::now().timestamp();
    // Kubelets ask for 3607 s pod-bound tokens for projected volumes: those live a year and
    // only warn after the hour (--service-account-extend-token-expiration).
    let pod_bound = bound.as_ref().is_some_and(|(k, _, _)| k == "pod");
    let kube_audiences = auds.iter().all(|a| sa_cfg.api_audiences.contains(a));
    let (lifetime, warn_after) = if sa_cfg.extend_expiration && pod_bound && exp == WARN_ONLY_SECONDS && kube_audiences
    {
        (EXTENDED_SECONDS, Some(now + exp))
    } else {
        (exp, None)
    };
    let claims = BoundClaims {
        namespace: &ns,
        sa_name,
        sa_uid: &sa_uid,
        audiences: &auds,
        expiration_seconds: lifetime,
        bound: bound.as_ref().map(|(k, n, u)| (k.as_str(), n.as_str(), u.as_str())),
        node: node.as_ref().map(|(n, u)| (n.as_str(), u.as_str())),
        warn_after,
    };
    let token = sa_cfg.sign(claims.to_claims(now)).map_err(ApiError::Internal)?;
    let expires = chrono::DateTime::from_timestamp(now + exp, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    req["metadata"] = json!({"name": sa_name, "namespace": ns, "creationTimestamp": null});
    req["spec"]["audiences"] = json!(auds);
    req["spec"]["expirationSeconds"] = json!(exp);
    req["status"] = json!({"token": token, "expirationTimestamp": expires.to_string()});
    Ok(Reply::with_code(201, req))
}
