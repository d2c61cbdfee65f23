//! The CertificateSigningRequest API's own rules: the requester's identity recorded at create,
//! the `approval` and `status` subresource strategies, and the CertificateApproval,
//! CertificateSigning and CertificateSubjectRestriction admission checks. Signing itself is the
//! controller-manager's job.

use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use api_types::json::Ptr;
use serde_json::{json, Value};

const GROUP: &str = "certificates.k8s.io";
const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";

fn forbidden(name: &str, msg: String) -> ApiError {
    ApiError::forbidden(GROUP, "certificatesigningrequests", name, msg)
}

fn plugin_enabled(ctx: &Ctx<'_>, name: &str) -> bool {
    ctx.st.admission.on(name)
}

/// `PrepareForCreate` plus CertificateSubjectRestriction: the spec carries who asked.
pub fn prepare_create(ctx: &Ctx<'_>, obj: &mut Value) -> ApiResult<()> {
    let u = &ctx.user;
    if !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    let spec = &mut obj["spec"];
    spec["username"] = json!(u.name);
    for (k, v) in [("uid", json!(u.uid)), ("groups", json!(u.groups)), ("extra", json!(u.extra))] {
        let empty = v.as_str() == Some("")
            || v.as_array().is_some_and(|a| a.is_empty())
            || v.as_object().is_some_and(|o| o.is_empty());
        match spec.as_object_mut() {
            Some(m) if empty => {
                m.remove(k);
            }
            Some(m) => {
                m.insert(k.into(), v);
            }
            None => {}
        }
    }
    if let Some(m) = obj.as_object_mut() {
        m.remove("status");
    }
    if plugin_enabled(ctx, "CertificateSubjectRestriction")
        && obj.ptr("/spec/signerName").and_then(Value::as_str) == Some(CLIENT_SIGNER)
        && request_organizations(obj).iter().any(|o| o == crate::auth::MASTERS)
    {
        let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("");
        return Err(forbidden(
            name,
            format!("use of {CLIENT_SIGNER} signer with {} group is not allowed", crate::auth::MASTERS),
        ));
    }
    Ok(())
}

/// The organizations (groups) a CSR's subject asks for.
fn request_organizations(obj: &Value) -> Vec<String> {
    use base64::Engine;
    let Some(b64) = obj.ptr("/spec/request").and_then(Value::as_str) else { return vec![] };
    let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(b64) else { return vec![] };
    pki::csr::csr_organizations(&pem)
}

/// `populateConditionTimestamps`: new conditions get now, unchanged ones keep their times.
fn condition_times(new: &mut Value, old: &Value) {
    let now = crate::rest::now_rfc3339();
    let old_conds = old.ptr("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(conds) = new.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
        for c in conds {
            let Some(m) = c.as_object_mut() else { continue };
            if m.get("lastUpdateTime").is_none_or(Value::is_null) {
                m.insert("lastUpdateTime".into(), json!(now));
            }
            if m.get("lastTransitionTime").is_none_or(Value::is_null) {
                let prior =
                    old_conds.iter().find(|o| o.get("type") == m.get("type") && o.get("status") == m.get("status"));
                let t = prior.and_then(|p| p.get("lastTransitionTime")).filter(|t| !t.is_null()).cloned();
                m.insert("lastTransitionTime".into(), t.unwrap_or_else(|| json!(now)));
            }
        }
    }
}

/// The `approval` subresource: only the conditions change.
pub fn prepare_approval(new: &mut Value, old: &Value) {
    let conds = new.ptr("/status/conditions").cloned();
    let mut merged = old.clone();
    if !merged.get("status").is_some_and(Value::is_object) {
        merged["status"] = json!({});
    }
    match conds {
        Some(c) => merged["status"]["conditions"] = c,
        None => {
            if let Some(s) = merged["status"].as_object_mut() {
                s.remove("conditions");
            }
        }
    }
    for k in ["labels", "annotations", "resourceVersion", "managedFields"] {
        if let Some(v) = new.ptr(&format!("/metadata/{k}")) {
            merged["metadata"][k] = v.clone();
        }
    }
    *new = merged;
    condition_times(new, old);
}

/// The `status` subresource: the spec stays, and Approved/Denied conditions only change
/// through `approval`.
pub fn prepare_status(new: &mut Value, old: &Value) {
    new["spec"] = old.get("spec").cloned().unwrap_or(Value::Null);
    let keep: Vec<Value> = old
        .ptr("/status/conditions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|c| matches!(c.get("type").and_then(Value::as_str), Some("Approved" | "Denied")))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(s) = new.get_mut("status").and_then(Value::as_object_mut) {
        let mut conds: Vec<Value> = s
            .get("conditions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|c| !matches!(c.get("type").and_then(Value::as_str), Some("Approved" | "Denied")))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut all = keep;
        all.append(&mut conds);
        if all.is_empty() {
            s.remove("conditions");
        } else {
            s.insert("conditions".into(), Value::Array(all));
        }
    }
    condition_times(new, old);
}

/// CertificateApproval / CertificateSigning: approving or signing needs `approve` / `sign` on
/// the signer (`signers` in certificates.k8s.io, by name or `<domain>/*`).
pub async fn admit_subresource(ctx: &Ctx<'_>, approval: bool, new: &Value, old: &Value) -> ApiResult<()> {
    let (plugin, verb, what) =
        if approval { ("CertificateApproval", "approve", "approve") } else { ("CertificateSigning", "sign", "sign") };
    if !plugin_enabled(ctx, plugin) {
        return Ok(());
    }
    if !approval && new.ptr("/status/certificate") == old.ptr("/status/certificate") {
        return Ok(());
    }
    let signer = old.ptr("/spec/signerName").and_then(Value::as_str).unwrap_or("");
    let attrs = |name: String| ::rbac::Attributes {
        user: ctx.user.name.clone(),
        groups: ctx.user.groups.clone(),
        verb: verb.into(),
        is_resource: true,
        api_group: GROUP.into(),
        api_version: "*".into(),
        resource: "signers".into(),
        name,
        ..Default::default()
    };
    let domain = signer.split('/').next().unwrap_or("");
    if ctx.st.authz.authorize(&attrs(signer.to_string())).await.allowed()
        || ctx.st.authz.authorize(&attrs(format!("{domain}/*"))).await.allowed()
    {
        return Ok(());
    }
    let name = old.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("");
    Err(forbidden(
        name,
        format!("user not permitted to {what} requests with signerName {}", crate::auth::go_quote(signer)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_changes_only_conditions() {
        let old =
            json!({"metadata": {"name": "c"}, "spec": {"signerName": "x/y"}, "status": {"certificate": "Q0VSVA=="}});
        let mut new = json!({"metadata": {"name": "c"}, "spec": {"signerName": "evil/z"},
            "status": {"certificate": "", "conditions": [{"type": "Approved", "status": "True", "reason": "KubectlApprove"}]}});
        prepare_approval(&mut new, &old);
        assert_eq!(new["spec"]["signerName"], "x/y");
        assert_eq!(new["status"]["certificate"], "Q0VSVA==");
        assert_eq!(new["status"]["conditions"][0]["reason"], "KubectlApprove");
        assert!(new["status"]["conditions"][0]["lastUpdateTime"].is_string());
        // The status subresource keeps the approval.
        let approved = new.clone();
        let mut status =
            json!({"metadata": {"name": "c"}, "spec": {}, "status": {"certificate": "TkVX", "conditions": []}});
        prepare_status(&mut status, &approved);
        assert_eq!(status["status"]["conditions"][0]["type"], "Approved");
        assert_eq!(status["status"]["certificate"], "TkVX");
    }
}
