//! What a pod or persistent volume references, read from its JSON as upstream's
//! `VisitPodSecretNames`, `VisitPodConfigmapNames` and `VisitPVSecretNames` do. Both the graph
//! (what a node may read) and NodeRestriction (what a mirror pod may not reference) use these,
//! so they must agree. Empty names are skipped: they name nothing.

use api_types::json::Ptr;
use serde_json::Value;

/// The string at `ptr`, or "" when missing or not a string.
pub(crate) fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.ptr(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The array at `ptr`, or empty when missing or not an array.
pub(crate) fn arr_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.ptr(ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The object at `key`, treating `null` and non-objects as absent (Go's nil pointer).
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|f| f.is_object())
}

/// `name` of the object at `key` (a `LocalObjectReference`-like field), if present.
fn ref_name<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    field(v, key).map(|r| str_at(r, "/name"))
}

fn push(out: &mut Vec<String>, name: Option<&str>) {
    if let Some(n) = name.filter(|n| !n.is_empty()) {
        out.push(n.to_string());
    }
}

/// Init, regular and ephemeral containers: each can reference secrets and configmaps.
fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/spec/initContainers", "/spec/containers", "/spec/ephemeralContainers"]
        .into_iter()
        .flat_map(move |p| arr_at(pod, p).iter())
}

/// Every secret name the pod spec references (image pull secrets, env, volumes).
pub(crate) fn pod_secret_names(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in arr_at(pod, "/spec/imagePullSecrets") {
        push(&mut out, Some(str_at(r, "/name")));
    }
    for c in containers(pod) {
        for e in arr_at(c, "/envFrom") {
            push(&mut out, ref_name(e, "secretRef"));
        }
        for e in arr_at(c, "/env") {
            push(&mut out, e.get("valueFrom").and_then(|vf| ref_name(vf, "secretKeyRef")));
        }
    }
    for vol in arr_at(pod, "/spec/volumes") {
        // One source per volume; the order follows upstream's switch.
        if let Some(s) = field(vol, "azureFile") {
            push(&mut out, Some(str_at(s, "/secretName")));
        } else if let Some(s) = field(vol, "cephfs") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "cinder") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "flexVolume") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "projected") {
            for src in arr_at(s, "/sources") {
                push(&mut out, ref_name(src, "secret"));
            }
        } else if let Some(s) = field(vol, "rbd") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "secret") {
            push(&mut out, Some(str_at(s, "/secretName")));
        } else if let Some(s) = field(vol, "scaleIO") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "iscsi") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "storageos") {
            push(&mut out, ref_name(s, "secretRef"));
        } else if let Some(s) = field(vol, "csi") {
            push(&mut out, ref_name(s, "nodePublishSecretRef"));
        }
    }
    out
}

/// Every configmap name the pod spec references (env, configMap and projected volumes).
pub(crate) fn pod_configmap_names(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in containers(pod) {
        for e in arr_at(c, "/envFrom") {
            push(&mut out, ref_name(e, "configMapRef"));
        }
        for e in arr_at(c, "/env") {
            push(&mut out, e.get("valueFrom").and_then(|vf| ref_name(vf, "configMapKeyRef")));
        }
    }
    for vol in arr_at(pod, "/spec/volumes") {
        if let Some(s) = field(vol, "projected") {
            for src in arr_at(s, "/sources") {
                push(&mut out, ref_name(src, "configMap"));
            }
        } else if let Some(s) = field(vol, "configMap") {
            push(&mut out, Some(str_at(s, "/name")));
        }
    }
    out
}

/// PVC names the pod mounts: `persistentVolumeClaim` volumes and generic ephemeral volumes,
/// whose claim is named `<pod>-<volume>`.
pub(crate) fn pod_pvc_names(pod: &Value) -> Vec<String> {
    let pod_name = str_at(pod, "/metadata/name");
    let mut out = Vec::new();
    for vol in arr_at(pod, "/spec/volumes") {
        if let Some(pvc) = field(vol, "persistentVolumeClaim") {
            push(&mut out, Some(str_at(pvc, "/claimName")));
        } else if field(vol, "ephemeral").is_some() {
            out.push(format!("{pod_name}-{}", str_at(vol, "/name")));
        }
    }
    out
}

/// ResourceClaim names the pod uses, as `resourceclaim.Name` resolves them: a direct
/// `resourceClaimName`, or for a template the generated name recorded in the pod's status.
/// Claims not generated yet (or deliberately not needed) contribute nothing.
pub(crate) fn pod_resource_claim_names(pod: &Value) -> Vec<String> {
    let statuses = arr_at(pod, "/status/resourceClaimStatuses");
    let mut out = Vec::new();
    for claim in arr_at(pod, "/spec/resourceClaims") {
        if let Some(name) = claim.get("resourceClaimName").and_then(Value::as_str) {
            push(&mut out, Some(name));
        } else if claim.get("resourceClaimTemplateName").and_then(Value::as_str).is_some() {
            let want = str_at(claim, "/name");
            let generated = statuses
                .iter()
                .find(|s| str_at(s, "/name") == want)
                .and_then(|s| s.get("resourceClaimName"))
                .and_then(Value::as_str);
            push(&mut out, generated);
        }
    }
    out
}

/// A secret a PV names: namespace, name, and whether the kubelet itself reads it (CSI
/// controller secrets are for controllers only and grant the node nothing).
pub(crate) struct PvSecret {
    pub namespace: String,
    pub name: String,
    pub kubelet_visible: bool,
}

/// Secrets a PV references. Older volume types may omit the secret's namespace, meaning the
/// namespace of the bound claim.
pub(crate) fn pv_secret_refs(pv: &Value) -> Vec<PvSecret> {
    let claim_ns = str_at(pv, "/spec/claimRef/namespace");
    let spec = pv.get("spec").unwrap_or(&Value::Null);
    let mut out = Vec::new();
    let mut add = |ns: &str, name: &str, kubelet_visible: bool| {
        if !name.is_empty() {
            out.push(PvSecret { namespace: ns.to_string(), name: name.to_string(), kubelet_visible });
        }
    };
    // A `SecretReference` whose empty namespace falls back to the claim's.
    let ns_or_claim = |r: &Value| {
        let ns = str_at(r, "/namespace");
        if ns.is_empty() {
            claim_ns.to_string()
        } else {
            ns.to_string()
        }
    };
    if let Some(s) = field(spec, "azureFile") {
        let ns = s.get("secretNamespace").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or(claim_ns);
        add(ns, str_at(s, "/secretName"), true);
    } else if let Some(r) = field(spec, "cephfs").and_then(|s| field(s, "secretRef")) {
        add(&ns_or_claim(r), str_at(r, "/name"), true);
    } else if let Some(s) = field(spec, "cinder") {
        if let Some(r) = field(s, "secretRef") {
            add(str_at(r, "/namespace"), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "flexVolume") {
        if let Some(r) = field(s, "secretRef") {
            add(&ns_or_claim(r), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "rbd") {
        if let Some(r) = field(s, "secretRef") {
            add(&ns_or_claim(r), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "scaleIO") {
        if let Some(r) = field(s, "secretRef") {
            add(&ns_or_claim(r), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "iscsi") {
        if let Some(r) = field(s, "secretRef") {
            add(&ns_or_claim(r), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "storageos") {
        if let Some(r) = field(s, "secretRef") {
            add(str_at(r, "/namespace"), str_at(r, "/name"), true);
        }
    } else if let Some(s) = field(spec, "csi") {
        for (key, visible) in [
            ("controllerPublishSecretRef", false),
            ("controllerExpandSecretRef", false),
            ("nodePublishSecretRef", true),
            ("nodeStageSecretRef", true),
            ("nodeExpandSecretRef", true),
        ] {
            if let Some(r) = field(s, key) {
                add(str_at(r, "/namespace"), str_at(r, "/name"), visible);
            }
        }
    }
    out
}
