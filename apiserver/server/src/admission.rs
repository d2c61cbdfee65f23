//! Admission: which plugins run (`--enable-admission-plugins`, `--disable-admission-plugins`,
//! upstream's default set), and the validating hook every write passes through after its own
//! validation. Plugins that need the request's user and the objects live behind [`validate`].

pub mod builtin;
pub mod pod_security;
pub mod quota;
pub mod webhook;

use crate::error::{ApiError, ApiResult, Qualified};
use crate::rest::Ctx;
use api_types::json::Ptr;
use serde_json::Value;

/// Every admission plugin kube-apiserver v1.33 knows, in upstream's order.
pub const ALL: &[&str] = &[
    "AlwaysAdmit",
    "AlwaysDeny",
    "AlwaysPullImages",
    "CertificateApproval",
    "CertificateSigning",
    "CertificateSubjectRestriction",
    "ClusterTrustBundleAttest",
    "DefaultIngressClass",
    "DefaultStorageClass",
    "DefaultTolerationSeconds",
    "DenyServiceExternalIPs",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "ImagePolicyWebhook",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "NamespaceAutoProvision",
    "NamespaceExists",
    "NamespaceLifecycle",
    "NodeRestriction",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "PodNodeSelector",
    "PodSecurity",
    "PodTolerationRestriction",
    "Priority",
    "ResourceQuota",
    "RuntimeClass",
    "ServiceAccount",
    "StorageObjectInUseProtection",
    "TaintNodesByCondition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
];

/// Upstream's default-on plugins.
pub const DEFAULT_ON: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "TaintNodesByCondition",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

/// The enabled plugin set, and the plugins' configurations.
#[derive(Debug, Clone, Default)]
pub struct Plugins {
    enabled: Vec<String>,
    /// PodSecurity's cluster defaults and exemptions (`--admission-control-config-file`).
    pub pod_security: podsecurity::admission::Config,
}

impl Plugins {
    /// Defaults plus `enable`, minus `disable`; unknown names are an error, as upstream.
    pub fn new(enable: &[String], disable: &[String]) -> Result<Self, String> {
        for (flag, list) in [("enable-admission-plugins", enable), ("disable-admission-plugins", disable)] {
            for p in list.iter().filter(|p| !p.is_empty()) {
                if !ALL.contains(&p.as_str()) {
                    return Err(format!("{flag} plugin {p:?} is unknown"));
                }
            }
        }
        let mut enabled: Vec<String> = DEFAULT_ON.iter().map(|s| s.to_string()).collect();
        for p in enable.iter().filter(|p| !p.is_empty()) {
            if !enabled.contains(p) {
                enabled.push(p.clone());
            }
        }
        enabled.retain(|p| !disable.contains(p));
        Ok(Plugins { enabled, pod_security: Default::default() })
    }

    /// Reads `--admission-control-config-file`: an `apiserver.config.k8s.io` AdmissionConfiguration
    /// whose plugins carry their configuration inline (`configuration`) or in a file (`path`,
    /// relative to the configuration file). Configurations of plugins not implemented here are
    /// accepted and ignored.
    pub fn configure(&mut self, path: &std::path::Path) -> Result<(), String> {
        let read = |p: &std::path::Path| -> Result<Value, String> {
            let text = std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        };
        let cfg = read(path)?;
        let kind_ok = cfg.get("kind").and_then(Value::as_str) == Some("AdmissionConfiguration")
            && cfg.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("apiserver.config.k8s.io/"));
        if !kind_ok {
            return Err(format!("{}: not an apiserver.config.k8s.io AdmissionConfiguration", path.display()));
        }
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        for p in cfg.get("plugins").and_then(Value::as_array).into_iter().flatten() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let conf = match (p.get("configuration").filter(|c| !c.is_null()), p.get("path").and_then(Value::as_str)) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => read(&base.join(f))?,
                (None, None) => continue,
            };
            if name == "PodSecurity" {
                self.pod_security = podsecurity::admission::Config::from_configuration(&conf)
                    .map_err(|e| format!("PodSecurity configuration: {e}"))?;
            }
        }
        Ok(())
    }

    pub fn on(&self, name: &str) -> bool {
        self.enabled.iter().any(|p| p == name)
    }
}

/// Namespaces NamespaceLifecycle never lets go.
const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// The mutating admission plugins, run on every create and update after decoding and
/// defaulting, before the kind's strategy and validation.
pub async fn mutate(ctx: &Ctx<'_>, op: Operation, obj: &mut Value, _old: Option<&Value>) -> ApiResult<()> {
    if ctx.system {
        return Ok(());
    }
    builtin::mutate(ctx, op, obj).await?;
    if ctx.st.admission.on("MutatingAdmissionWebhook") {
        webhook::mutate(ctx, op, obj, _old).await?;
    }
    Ok(())
}

/// The validating admission plugins, run on every write after the kind's validation.
pub async fn validate(ctx: &Ctx<'_>, op: Operation, obj: Option<&Value>, old: Option<&Value>) -> ApiResult<()> {
    if ctx.system {
        return Ok(());
    }
    if ctx.st.admission.on("NamespaceLifecycle")
        && op == Operation::Delete
        && ctx.rd.group.is_empty()
        && ctx.rd.plural == "namespaces"
        && IMMORTAL_NAMESPACES.contains(&ctx.info.name.as_str())
    {
        return Err(ApiError::forbidden("", "namespaces", &ctx.info.name, "this namespace may not be deleted"));
    }
    if ctx.st.admission.on("NodeRestriction") {
        node_restriction(ctx, op, obj, old).await?;
    }
    if ctx.st.admission.on("PodSecurity") {
        pod_security::validate(ctx, op, obj, old).await?;
    }
    let creating_pod_or_claim = op == Operation::Create
        && ctx.rd.group.is_empty()
        && matches!(ctx.rd.plural, "pods" | "persistentvolumeclaims")
        && ctx.info.subresource.is_empty();
    if creating_pod_or_claim && ctx.st.admission.on("LimitRanger") {
        if let Some(o) = obj {
            quota::limit_ranger_validate(ctx, o)?;
        }
    }
    if ctx.st.admission.on("ValidatingAdmissionWebhook") {
        webhook::validate(ctx, op, obj, old).await?;
    }
    if ctx.st.admission.on("ResourceQuota") {
        if let Some(o) = obj {
            quota::resource_quota(ctx, op, o, old).await?;
        }
    }
    Ok(())
}

async fn node_restriction(ctx: &Ctx<'_>, op: Operation, obj: Option<&Value>, old: Option<&Value>) -> ApiResult<()> {
    use nodeauthz::admission::{admit, lookups, AdmissionRequest, Operation as NodeOp};
    if nodeauthz::node_identity(&ctx.user.name, &ctx.user.groups).is_none() {
        return Ok(());
    }
    let name = match obj.and_then(|o| o.ptr("/metadata/name")).and_then(Value::as_str) {
        Some(n) if ctx.info.name.is_empty() => n.to_string(),
        _ => ctx.info.name.clone(),
    };
    let namespace = obj
        .and_then(|o| o.ptr("/metadata/namespace"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| ctx.info.namespace.clone());
    let mut req = AdmissionRequest {
        operation: match op {
            Operation::Create => NodeOp::Create,
            Operation::Update => NodeOp::Update,
            Operation::Delete => NodeOp::Delete,
        },
        user: &ctx.user.name,
        groups: &ctx.user.groups,
        group: ctx.rd.group,
        resource: ctx.rd.plural,
        subresource: &ctx.info.subresource,
        namespace: &namespace,
        name: &name,
        object: obj,
        old_object: old,
        pod: None,
        node: None,
    };
    let l = lookups(&req);
    let pod = match &l.pod {
        Some((ns, n)) => crate::backend::lookup(ctx.st, "", "pods", ns, n).await,
        None => None,
    };
    let node = match &l.node {
        Some(n) => crate::backend::lookup(ctx.st, "", "nodes", "", n).await,
        None => None,
    };
    req.pod = pod.as_ref();
    req.node = node.as_ref();
    match admit(&req) {
        Ok(()) => Ok(()),
        Err(r) => {
            let (group, resource, name) = r.details(&req);
            let q = Qualified::new(&group, &resource, &name);
            Err(if r.code() == 404 {
                ApiError::NotFound(q)
            } else {
                ApiError::Forbidden { qualified: q, message: r.message(&req) }
            })
        }
    }
}
