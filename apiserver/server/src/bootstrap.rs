//! What the apiserver owns: the system namespaces, the default ServiceCIDR, the
//! `kubernetes` Service with its Endpoints and EndpointSlice pointing at this apiserver, and
//! `kube-system/extension-apiserver-authentication` for components that delegate
//! authentication to it.
//! Reconciled at start and every few seconds, so a deleted one comes back.

use crate::codec::Query;
use crate::error::ApiError;
use crate::request_info::RequestInfo;
use crate::rest::{Ctx, UpdateMode};
use crate::ApiServer;
use api_types::json::Ptr;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

async fn ensure(
    st: &ApiServer,
    group: &str,
    version: &str,
    plural: &str,
    obj: Value,
    reconcile: bool,
) -> Result<(), ApiError> {
    let rd = api_types::lookup(group, version, plural)
        .ok_or_else(|| ApiError::Internal(format!("{plural} not registered")))?;
    let ns = obj.ptr("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
    let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let info = RequestInfo {
        namespace: ns,
        resource: plural.into(),
        group: group.into(),
        version: version.into(),
        ..Default::default()
    };
    let q = Query::default();
    let ctx = Ctx::new(st, rd, &info, &q, true);
    let existing = st
        .backend
        .store
        .get(&st.backend.key(rd, &info.namespace, &name))
        .await
        .map_err(|e| ApiError::from_storage(e, &ctx.qualified(&name)))?;
    match existing {
        None => {
            let bytes = serde_json::to_vec(&obj).unwrap_or_default();
            let decoded = ctx.decode_for_write(&bytes, None)?;
            match ctx.create_object(decoded, crate::rest::Track::Update).await {
                Ok(_) | Err(ApiError::AlreadyExists(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Some(cur) if reconcile => {
            // Only the parts we own are reconciled.
            let want = obj.clone();
            let differs = ["subsets", "endpoints", "ports", "data"]
                .iter()
                .any(|k| want.get(*k).is_some() && want.get(*k) != cur.get(*k));
            if !differs {
                return Ok(());
            }
            let mut new = cur.clone();
            for k in ["subsets", "endpoints", "ports", "addressType", "data"] {
                if let Some(v) = want.get(k) {
                    new[k] = v.clone();
                }
            }
            let bytes = serde_json::to_vec(&new).unwrap_or_default();
            ctx.update(&name, &bytes, None, UpdateMode::Main).await.map(|_| ())
        }
        Some(_) => Ok(()),
    }
}

async fn reconcile_once(st: &ApiServer) -> Result<(), ApiError> {
    for ns in SYSTEM_NAMESPACES {
        ensure(
            st,
            "",
            "v1",
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            false,
        )
        .await?;
    }
    let cidr = st.ranges.service_cidr.to_string();
    ensure(
        st,
        "networking.k8s.io",
        "v1",
        "servicecidrs",
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "kubernetes"}, "spec": {"cidrs": [cidr]}}),
        false,
    )
    .await?;
    let ip = st.ranges.first_ip().to_string();
    let port = st.secure_port;
    let advertise = st.advertise_address.to_string();
    ensure(
        st,
        "",
        "v1",
        "services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None", "type": "ClusterIP"},
        }),
        false,
    )
    .await?;
    ensure(
        st,
        "",
        "v1",
        "endpoints",
        json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": advertise}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
        true,
    )
    .await?;
    // The `start-cluster-authentication-info-controller` hook's ConfigMap.
    if !st.authentication_info.is_empty() {
        ensure(
            st,
            "",
            "v1",
            "configmaps",
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
                "data": st.authentication_info,
            }),
            true,
        )
        .await?;
    }
    ensure_token_tracking(st).await?;
    let family = if st.advertise_address.is_ipv4() { "IPv4" } else { "IPv6" };
    ensure(
        st,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": family,
            "endpoints": [{"addresses": [advertise], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
        true,
    )
    .await?;
    Ok(())
}

/// The legacy token tracking controller's ConfigMap: `since` is the day from which the
/// apiserver has labelled legacy tokens with their last use (the controller-manager's cleaner
/// judges tokens only by use after it). Created once; a `since` that is not a date is reset.
async fn ensure_token_tracking(st: &ApiServer) -> Result<(), ApiError> {
    use api_types::serviceaccount::TRACKING_CONFIG_MAP as NAME;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let want = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": "kube-system"},
        "data": {"since": today},
    });
    // From the watch cache when it has the ConfigMap: this runs every reconcile, and `ensure`
    // reads etcd itself.
    let cur = crate::backend::lookup(st, "", "configmaps", "kube-system", NAME).await;
    let since = cur.as_ref().and_then(|c| c.ptr("/data/since")).and_then(Value::as_str);
    let valid = since.is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    // `ensure` with reconcile rewrites `data`: only when the date is unusable.
    ensure(st, "", "v1", "configmaps", want, cur.is_some() && !valid).await
}

/// The `rbac/bootstrap-roles` post-start hook: upstream's default roles and bindings are
/// created when missing and reconciled when present (missing rules and subjects added, nothing
/// removed; objects annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` left alone).
async fn ensure_rbac_policy(st: &ApiServer) -> Result<(), ApiError> {
    use ::rbac::reconcile::{reconcile_binding, reconcile_role, BindingReconcile};
    let sets = [
        ("clusterroles", ::rbac::bootstrap::cluster_roles()),
        ("clusterrolebindings", ::rbac::bootstrap::cluster_role_bindings()),
        ("roles", ::rbac::bootstrap::namespace_roles()),
        ("rolebindings", ::rbac::bootstrap::namespace_role_bindings()),
    ];
    for (plural, objects) in sets {
        let rd = api_types::lookup("rbac.authorization.k8s.io", "v1", plural)
            .ok_or_else(|| ApiError::Internal(format!("{plural} not registered")))?;
        let binding = plural.ends_with("bindings");
        for want in objects {
            let ns = want.ptr("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
            let name = want.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
            let info = RequestInfo {
                namespace: ns.clone(),
                resource: plural.into(),
                group: rd.group.into(),
                version: rd.version.into(),
                ..Default::default()
            };
            let q = Query::default();
            let ctx = Ctx::new(st, rd, &info, &q, true);
            let key = st.backend.key(rd, &ns, &name);
            let existing =
                st.backend.store.get(&key).await.map_err(|e| ApiError::from_storage(e, &ctx.qualified(&name)))?;
            let create = |obj: Value| {
                let ctx = &ctx;
                async move {
                    let decoded = ctx.decode_for_write(&serde_json::to_vec(&obj).unwrap_or_default(), None)?;
                    match ctx.create_object(decoded, crate::rest::Track::Update).await {
                        Ok(_) | Err(ApiError::AlreadyExists(_)) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
            };
            let Some(cur) = existing else {
                create(want).await?;
                continue;
            };
            let update = if binding {
                match reconcile_binding(&cur, &want) {
                    BindingReconcile::Unchanged => None,
                    BindingReconcile::Update(v) => Some(v),
                    BindingReconcile::Recreate(v) => {
                        tracing::info!(plural, name, "recreating binding with a changed roleRef");
                        ctx.delete(&name, b"", None).await?;
                        create(v).await?;
                        None
                    }
                }
            } else {
                reconcile_role(&cur, &want)
            };
            if let Some(v) = update {
                tracing::info!(plural, name, "reconciling bootstrap RBAC object");
                ctx.update(&name, &serde_json::to_vec(&v).unwrap_or_default(), None, UpdateMode::Main).await?;
            }
        }
    }
    Ok(())
}

/// The `scheduling/bootstrap-system-priority-classes` post-start hook.
async fn ensure_priority_classes(st: &ApiServer) -> Result<(), ApiError> {
    for (name, value, description) in [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        ensure(
            st,
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value, "description": description}),
            false,
        )
        .await?;
    }
    Ok(())
}

/// Reconciles now and then every 10 s, forever; the RBAC policy once, after the namespaces.
pub fn start(st: Arc<ApiServer>) {
    tokio::spawn(async move {
        loop {
            match reconcile_once(&st).await {
                Ok(()) => {
                    if !st.bootstrapped.swap(true, Ordering::Relaxed) {
                        tracing::info!("bootstrap objects are in place");
                    }
                    while !st.priority_bootstrapped.load(Ordering::Relaxed) {
                        match ensure_priority_classes(&st).await {
                            Ok(()) => st.priority_bootstrapped.store(true, Ordering::Relaxed),
                            Err(e) => {
                                tracing::warn!(error = ?e.to_status().1["message"], "priority class bootstrap failed; retrying");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    }
                    while !st.rbac_bootstrapped.load(Ordering::Relaxed) {
                        match ensure_rbac_policy(&st).await {
                            Ok(()) => {
                                st.rbac_bootstrapped.store(true, Ordering::Relaxed);
                                tracing::info!("RBAC bootstrap policy is in place");
                            }
                            Err(e) => {
                                tracing::warn!(error = ?e.to_status().1["message"], "RBAC bootstrap failed; retrying");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
                Err(e) => {
                    tracing::warn!(error = ?e.to_status().1["message"], "bootstrap reconcile failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}
