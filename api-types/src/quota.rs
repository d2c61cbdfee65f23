//! ResourceQuota evaluation shared by the apiserver's admission (which charges a create) and
//! the controller-manager's quota controller (which recomputes usage in full): what an object
//! adds to its namespace's usage in quota resource names, and which quotas' scopes select it.
//! Objects are JSON values, the form both sides hold.

use crate::json::Ptr;
use crate::kinds::validation::Quantity;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A quantity field (a string, or a bare number).
pub fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s.trim()),
        Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

/// Every container of a pod, init containers first.
pub fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod.ptr(&format!("/spec/{k}")).and_then(Value::as_array).into_iter().flatten())
        .collect()
}

/// A ResourceList as quantities (unparseable values dropped).
pub fn res_map(v: Option<&Value>) -> BTreeMap<String, Quantity> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| quantity(v).map(|q| (k.clone(), q))).collect())
        .unwrap_or_default()
}

/// The sum of resource lists.
pub fn sum(items: &[BTreeMap<String, Quantity>]) -> BTreeMap<String, Quantity> {
    let mut out: BTreeMap<String, Quantity> = BTreeMap::new();
    for m in items {
        for (k, v) in m {
            let cur = out.get(k).copied().unwrap_or_else(Quantity::zero);
            out.insert(k.clone(), cur.add(v));
        }
    }
    out
}

/// What an object adds to a namespace's usage, in quota resource names.
pub fn usage(group: &str, plural: &str, obj: &Value) -> BTreeMap<String, Quantity> {
    let mut u = BTreeMap::new();
    let one = Quantity::parse("1").unwrap_or_else(Quantity::zero);
    let gr = if group.is_empty() { plural.to_string() } else { format!("{plural}.{group}") };
    u.insert(format!("count/{gr}"), one);
    if group.is_empty()
        && matches!(
            plural,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
        )
    {
        u.insert(plural.to_string(), one);
    }
    match (group, plural) {
        ("", "pods") => {
            // Effective requests: the sum over containers, or the largest init container.
            for field in ["requests", "limits"] {
                let cs: Vec<&Value> =
                    obj.ptr("/spec/containers").and_then(Value::as_array).into_iter().flatten().collect();
                let mut total =
                    sum(&cs.iter().map(|c| res_map(c.ptr(&format!("/resources/{field}")))).collect::<Vec<_>>());
                for ic in obj.ptr("/spec/initContainers").and_then(Value::as_array).into_iter().flatten() {
                    for (k, v) in res_map(ic.ptr(&format!("/resources/{field}"))) {
                        if total.get(&k).is_none_or(|t| v.cmp(t) == Ordering::Greater) {
                            total.insert(k, v);
                        }
                    }
                }
                for (k, v) in res_map(obj.ptr("/spec/overhead")) {
                    let cur = total.get(&k).copied().unwrap_or_else(Quantity::zero);
                    total.insert(k, cur.add(&v));
                }
                for (k, v) in total {
                    if field == "requests" && matches!(k.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                        u.insert(k.clone(), v);
                    }
                    u.insert(format!("{field}.{k}"), v);
                }
            }
        }
        ("", "services") => match obj.ptr("/spec/type").and_then(Value::as_str) {
            Some("NodePort") => {
                u.insert("services.nodeports".into(), one);
            }
            Some("LoadBalancer") => {
                u.insert("services.loadbalancers".into(), one);
                u.insert("services.nodeports".into(), one);
            }
            _ => {}
        },
        ("", "persistentvolumeclaims") => {
            if let Some(s) = obj.ptr("/spec/resources/requests/storage").and_then(quantity) {
                u.insert("requests.storage".into(), s);
                if let Some(class) = obj.ptr("/spec/storageClassName").and_then(Value::as_str) {
                    u.insert(format!("{class}.storageclass.storage.k8s.io/requests.storage"), s);
                    u.insert(format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"), one);
                }
            }
        }
        _ => {}
    }
    u
}

/// A quota's scopes as selector requirements: `spec.scopes` (each `Exists`) and
/// `spec.scopeSelector.matchExpressions`.
pub fn quota_scopes(quota: &Value) -> Vec<(&str, &str, Vec<&str>)> {
    let mut out: Vec<(&str, &str, Vec<&str>)> = quota
        .ptr("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| (s, "Exists", Vec::new()))
        .collect();
    for e in quota.ptr("/spec/scopeSelector/matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let scope = e.get("scopeName").and_then(Value::as_str).unwrap_or("");
        let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
        let values =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        out.push((scope, op, values));
    }
    out
}

/// `IsTerminating`: a pod with an active deadline.
pub fn is_terminating(pod: &Value) -> bool {
    pod.ptr("/spec/activeDeadlineSeconds").and_then(Value::as_i64).is_some_and(|d| d >= 0)
}

/// `GetPodQOS(pod) == BestEffort`: no container or init container requests or limits any cpu
/// or memory above zero (the class the create strategy recorded, when there is one).
pub fn is_best_effort(pod: &Value) -> bool {
    if let Some(c) = pod.ptr("/status/qosClass").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        return c == "BestEffort";
    }
    !containers(pod).iter().any(|c| {
        ["requests", "limits"].iter().any(|f| {
            ["cpu", "memory"].iter().any(|r| {
                c.ptr(&format!("/resources/{f}/{r}"))
                    .and_then(quantity)
                    .is_some_and(|v| v.cmp(&Quantity::zero()) == Ordering::Greater)
            })
        })
    })
}

/// Whether a pod uses cross-namespace pod (anti-)affinity: a term naming namespaces or
/// selecting them.
pub fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(a) = pod.ptr(&format!("/spec/affinity/{kind}")) else { return false };
        let required = a.get("requiredDuringSchedulingIgnoredDuringExecution").and_then(Value::as_array);
        let preferred = a.get("preferredDuringSchedulingIgnoredDuringExecution").and_then(Value::as_array);
        required
            .into_iter()
            .flatten()
            .chain(preferred.into_iter().flatten().filter_map(|w| w.get("podAffinityTerm")))
            .any(|t| {
                t.get("namespaces").and_then(Value::as_array).is_some_and(|n| !n.is_empty())
                    || t.get("namespaceSelector").is_some_and(|s| !s.is_null())
            })
    })
}

/// `podMatchesScopeFunc`: one scope requirement against a pod. PriorityClass is a label
/// selector on the key `PriorityClass` over `{PriorityClass: name}` (empty without a class).
pub fn pod_matches_scope(pod: &Value, scope: &str, op: &str, values: &[&str]) -> bool {
    match scope {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        "PriorityClass" => {
            let pc = pod.ptr("/spec/priorityClassName").and_then(Value::as_str).unwrap_or("");
            match op {
                "Exists" => !pc.is_empty(),
                "DoesNotExist" => pc.is_empty(),
                "In" => !pc.is_empty() && values.contains(&pc),
                "NotIn" => pc.is_empty() || !values.contains(&pc),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a quota's scopes all select the object. Scopes are about pods: a scoped quota
/// selects nothing else, as upstream's generic evaluator matches no scope.
pub fn quota_selects(quota: &Value, is_pod: bool, obj: &Value) -> bool {
    quota_scopes(quota).iter().all(|(scope, op, values)| is_pod && pod_matches_scope(obj, scope, op, values))
}
