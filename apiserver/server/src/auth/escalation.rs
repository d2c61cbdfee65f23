//! RBAC privilege-escalation prevention on writes of roles and bindings: a user may only grant
//! what they already hold, unless they may `escalate` the role or `bind` the role a binding
//! names (or are in system:masters), as upstream's policy-based RBAC storage enforces.

use crate::error::{ApiError, ApiResult};
use crate::rest::Ctx;
use ::rbac::escalation::{bind_attributes, covers, escalate_attributes, escalation_allowed, escalation_message};
use ::rbac::{PolicyRule, RoleRef};
use api_types::json::Ptr;
use serde_json::Value;

const GROUP: &str = "rbac.authorization.k8s.io";

fn name_of(v: &Value) -> &str {
    v.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

/// `IsOnlyMutatingGCFields`: an update touching only owner references and finalizers (what
/// the garbage collector does) needs no escalation check.
fn only_gc_fields(new: &Value, old: &Value) -> bool {
    let mut copy = new.clone();
    if let (Some(m), Some(o)) = (copy.get_mut("metadata").and_then(Value::as_object_mut), old.get("metadata")) {
        for k in ["ownerReferences", "finalizers", "selfLink", "managedFields", "resourceVersion"] {
            match o.get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
    }
    &copy == old
}

fn forbidden(ctx: &Ctx<'_>, name: &str, message: String) -> ApiError {
    ApiError::forbidden(GROUP, ctx.rd.plural, name, message)
}

/// `ConfirmNoEscalation`: the user's own rules in the namespace must cover `rules`.
fn confirm_no_escalation(ctx: &Ctx<'_>, name: &str, namespace: &str, rules: &[PolicyRule]) -> ApiResult<()> {
    let (owner, errors) = ctx.st.rbac.rules_for(&ctx.user.name, &ctx.user.groups, namespace);
    let (ok, missing) = covers(&owner, rules);
    if ok {
        return Ok(());
    }
    Err(forbidden(ctx, name, escalation_message(&ctx.user.name, &ctx.user.groups, &missing, &errors)))
}

/// Checks a create (`old` None) or update of a role, cluster role or binding.
pub async fn check(ctx: &Ctx<'_>, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
    if ctx.system || ctx.rd.group != GROUP || escalation_allowed(&ctx.user.groups) {
        return Ok(());
    }
    if old.is_some_and(|o| only_gc_fields(obj, o)) {
        return Ok(());
    }
    let name = name_of(obj);
    let ns = obj.ptr("/metadata/namespace").and_then(Value::as_str).unwrap_or(&ctx.info.namespace).to_string();
    let authz = &ctx.st.authz;
    match ctx.rd.plural {
        "roles" | "clusterroles" => {
            if let Some(a) = escalate_attributes(&ctx.user.name, &ctx.user.groups, GROUP, ctx.rd.plural, &ns, name) {
                if authz.authorize(&a).await.allowed() {
                    return Ok(());
                }
            }
            let rules: Vec<PolicyRule> =
                obj.get("rules").cloned().and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default();
            confirm_no_escalation(ctx, name, &ns, &rules)?;
            if ctx.rd.plural == "clusterroles" && obj.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                let full = [PolicyRule {
                    verbs: vec!["*".into()],
                    api_groups: vec!["*".into()],
                    resources: vec!["*".into()],
                    ..Default::default()
                }];
                if confirm_no_escalation(ctx, name, &ns, &full).is_err() {
                    return Err(forbidden(
                        ctx,
                        name,
                        "must have cluster-admin privileges to use the aggregationRule".into(),
                    ));
                }
            }
            Ok(())
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_ref: RoleRef =
                obj.get("roleRef").cloned().and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default();
            if let Some(a) = bind_attributes(&ctx.user.name, &ctx.user.groups, &role_ref, &ns) {
                if authz.authorize(&a).await.allowed() {
                    return Ok(());
                }
            }
            let rules = ctx.st.rbac.rules_of_ref(&ns, &role_ref).map_err(|e| forbidden(ctx, name, e))?;
            confirm_no_escalation(ctx, name, &ns, &rules)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gc_only_updates() {
        let old = json!({"metadata": {"name": "r", "resourceVersion": "1"}, "rules": []});
        let gc =
            json!({"metadata": {"name": "r", "finalizers": ["x"], "ownerReferences": [{"uid": "u"}]}, "rules": []});
        assert!(only_gc_fields(&gc, &old));
        let grant = json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["*"]}]});
        assert!(!only_gc_fields(&grant, &old));
    }
}
