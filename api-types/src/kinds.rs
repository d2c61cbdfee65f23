//! Per-kind behaviour: the typed round trip that prunes unknown fields, defaulting, validation,
//! selectable fields, and the create/update strategies (status reset, generation bumps) that
//! upstream's registry strategies implement.

pub mod defaults;
pub mod fields;
pub mod typed;
pub mod validation;

use crate::field::FieldError;
use crate::json::Ptr;
use crate::meta::{self, NameRule};
use crate::registry::ResourceDef;
use serde_json::{json, Value};

/// The syntax a resource's object names must follow (upstream's per-strategy name validators).
pub fn name_rule(rd: &ResourceDef) -> NameRule {
    match (rd.group, rd.plural) {
        ("", "namespaces") => NameRule::Dns1123Label,
        ("", "services") => NameRule::Dns1035Label,
        ("", "replicationcontrollers") | ("apps", "deployments") | ("apps", "daemonsets") | ("apps", "replicasets") => {
            NameRule::Dns1123Subdomain
        }
        ("apps", "statefulsets") => NameRule::Dns1123Label,
        ("batch", "cronjobs") => NameRule::Dns1123Subdomain,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        ("certificates.k8s.io", "certificatesigningrequests") => NameRule::PathSegment,
        ("", "events") | ("events.k8s.io", "events") => NameRule::Dns1123Subdomain,
        ("flowcontrol.apiserver.k8s.io", _) => NameRule::PathSegment,
        ("", "serviceaccounts") => NameRule::Dns1123Subdomain,
        _ => NameRule::Dns1123Subdomain,
    }
}

/// Whether upstream maintains `metadata.generation` for the kind (bumped on spec changes).
pub fn tracks_generation(rd: &ResourceDef) -> bool {
    matches!(
        (rd.group, rd.plural),
        ("apps", _)
            | ("batch", _)
            | ("", "replicationcontrollers")
            | ("", "pods")
            | ("autoscaling", "horizontalpodautoscalers")
            | ("policy", "poddisruptionbudgets")
            | ("networking.k8s.io", "networkpolicies")
            | ("networking.k8s.io", "ingresses")
            | ("apiextensions.k8s.io", "customresourcedefinitions")
            | ("admissionregistration.k8s.io", _)
            | ("flowcontrol.apiserver.k8s.io", _)
    )
}

/// Resources whose delete answers with the deleted object instead of a Status (upstream's
/// `ReturnDeletedObject`).
pub fn returns_deleted_object(rd: &ResourceDef) -> bool {
    matches!(
        (rd.group, rd.plural),
        ("", "pods") | ("", "services") | ("", "serviceaccounts") | ("storage.k8s.io", "storageclasses")
    )
}

/// Whether the resource has a `status` subresource, so that the main resource ignores status
/// changes and `/status` ignores everything else.
pub fn has_status_subresource(rd: &ResourceDef) -> bool {
    rd.subresource("status").is_some()
}

/// The part of an object that counts as its spec for generation bumps: everything but
/// metadata and status (upstream compares `Spec`, and for a few kinds other top-level fields).
fn spec_part(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Upstream's `PrepareForCreate`: status reset for kinds whose status is written by
/// controllers, initial generation, and the few kinds whose create sets fields.
pub fn prepare_for_create(rd: &ResourceDef, obj: &mut Value) {
    if tracks_generation(rd) {
        obj["metadata"]["generation"] = json!(1);
    } else if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("generation");
    }
    match (rd.group, rd.plural) {
        ("", "namespaces") => {
            obj["status"] = json!({"phase": "Active"});
            let fins = obj.pointer_mut("/spec/finalizers").and_then(Value::as_array_mut);
            match fins {
                Some(f) if f.iter().any(|x| x == "kubernetes") => {}
                Some(f) => f.push(json!("kubernetes")),
                None => {
                    if !obj.get("spec").is_some_and(Value::is_object) {
                        obj["spec"] = json!({});
                    }
                    obj["spec"]["finalizers"] = json!(["kubernetes"]);
                }
            }
        }
        ("", "pods") => {
            obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(obj)});
        }
        ("", "persistentvolumes") => {
            obj["status"] = json!({"phase": "Pending", "lastPhaseTransitionTime": now_rfc3339()});
        }
        ("", "persistentvolumeclaims") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "nodes") | ("certificates.k8s.io", "certificatesigningrequests") => {}
        ("apps", "daemonsets") => {
            obj["status"] = json!({});
            let generation = template_generation(obj).filter(|g| *g >= 1).unwrap_or(1);
            set_template_generation(obj, generation);
        }
        ("batch", "jobs") => {
            if obj.ptr("/spec/manualSelector").and_then(Value::as_bool) != Some(true) {
                generate_job_selector(obj);
            }
            if let Some(m) = obj.as_object_mut() {
                m.insert("status".into(), json!({}));
            }
        }
        _ if has_status_subresource(rd) => {
            if let Some(m) = obj.as_object_mut() {
                m.insert("status".into(), json!({}));
            }
        }
        _ => {}
    }
}

/// apps/v1's form of a DaemonSet's internal `spec.templateGeneration`.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn template_generation(obj: &Value) -> Option<i64> {
    obj.ptr("/metadata/annotations")?.get(TEMPLATE_GENERATION)?.as_str()?.parse().ok()
}

fn set_template_generation(obj: &mut Value, generation: i64) {
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][TEMPLATE_GENERATION] = json!(generation.to_string());
}

/// Upstream's Job `generateSelector`: the template gets the job-name and controller-uid labels
/// (legacy and `batch.kubernetes.io/` ones) unless set, and the selector matches the
/// controller UID; conflicting user values are left for validation to reject.
fn generate_job_selector(obj: &mut Value) {
    let name = obj.ptr("/metadata/name").cloned().unwrap_or(Value::Null);
    let uid = obj.ptr("/metadata/uid").cloned().unwrap_or(Value::Null);
    if !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    let spec = &mut obj["spec"];
    if !spec.get("template").is_some_and(Value::is_object) {
        spec["template"] = json!({});
    }
    if !spec["template"].get("metadata").is_some_and(Value::is_object) {
        spec["template"]["metadata"] = json!({});
    }
    let meta = &mut spec["template"]["metadata"];
    if !meta.get("labels").is_some_and(Value::is_object) {
        meta["labels"] = json!({});
    }
    if let Some(labels) = meta["labels"].as_object_mut() {
        for (key, value) in [
            ("job-name", &name),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("batch.kubernetes.io/controller-uid", &uid),
        ] {
            labels.entry(key).or_insert_with(|| value.clone());
        }
    }
    if !spec.get("selector").is_some_and(Value::is_object) {
        spec["selector"] = json!({});
    }
    if !spec["selector"].get("matchLabels").is_some_and(Value::is_object) {
        spec["selector"]["matchLabels"] = json!({});
    }
    if let Some(ml) = spec["selector"]["matchLabels"].as_object_mut() {
        ml.entry("batch.kubernetes.io/controller-uid").or_insert(uid);
    }
}

/// Upstream's `PrepareForUpdate` on the main resource: status is kept from the old object when
/// the kind has a status subresource, and generation is bumped when the spec changed.
pub fn prepare_for_update(rd: &ResourceDef, new: &mut Value, old: &Value) {
    if has_status_subresource(rd) && rd.plural != "certificatesigningrequests" {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if rd.group.is_empty() && rd.plural == "namespaces" {
        // Namespace finalizers change only through /finalize.
        if let Some(f) = old.ptr("/spec/finalizers") {
            new["spec"]["finalizers"] = f.clone();
        }
    }
    if rd.group == "apps" && rd.plural == "daemonsets" {
        // Only the apiserver moves the template generation: on every template change.
        let mut generation = template_generation(old).unwrap_or(0);
        if new.ptr("/spec/template") != old.ptr("/spec/template") {
            generation += 1;
        }
        if generation > 0 {
            set_template_generation(new, generation);
        } else if let Some(a) = new.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
            a.remove(TEMPLATE_GENERATION);
        }
    }
    let old_gen = old.ptr("/metadata/generation").and_then(Value::as_i64);
    if tracks_generation(rd) {
        let mut generation = old_gen.unwrap_or(1);
        if spec_part(new) != spec_part(old) {
            generation += 1;
        }
        new["metadata"]["generation"] = json!(generation);
    }
}

/// Upstream's `dropNonEphemeralContainerUpdates`: of what a `pods/ephemeralcontainers` write
/// sends, only `spec.ephemeralContainers` (and the field managers) are kept.
pub fn prepare_for_ephemeral_containers_update(new: &mut Value, old: &Value) {
    let mut merged = old.clone();
    match new.ptr("/spec/ephemeralContainers") {
        Some(e) => merged["spec"]["ephemeralContainers"] = e.clone(),
        None => {
            if let Some(spec) = merged.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("ephemeralContainers");
            }
        }
    }
    for k in ["managedFields", "resourceVersion"] {
        match new.ptr(&format!("/metadata/{k}")) {
            Some(v) => merged["metadata"][k] = v.clone(),
            None => {
                if let Some(m) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove(k);
                }
            }
        }
    }
    *new = merged;
}

/// Upstream's status strategy: only `status` (and, as upstream, nothing of the spec) changes.
pub fn prepare_for_status_update(new: &mut Value, old: &Value) {
    let status = new.get("status").cloned();
    let rv = new.ptr("/metadata/resourceVersion").cloned();
    let mut merged = old.clone();
    match status {
        Some(s) => merged["status"] = s,
        None => {
            if let Some(m) = merged.as_object_mut() {
                m.remove("status");
            }
        }
    }
    // Labels and annotations travel with status updates upstream (they are metadata the
    // status writer may set); everything else of metadata is kept.
    for k in ["labels", "annotations"] {
        if let Some(v) = new.ptr(&format!("/metadata/{k}")) {
            merged["metadata"][k] = v.clone();
        }
    }
    if let Some(rv) = rv {
        merged["metadata"]["resourceVersion"] = rv;
    }
    *new = merged;
}

/// The PersistentVolume status strategy: a phase change stamps `lastPhaseTransitionTime`
/// unless the writer set a new one itself.
pub fn stamp_phase_transition(rd: &ResourceDef, new: &mut Value, old: &Value) {
    if !(rd.group.is_empty() && rd.plural == "persistentvolumes") {
        return;
    }
    let (new_phase, old_phase) = (new.ptr("/status/phase"), old.ptr("/status/phase"));
    if new_phase == old_phase {
        return;
    }
    let stamp = new.ptr("/status/lastPhaseTransitionTime").filter(|t| !t.is_null());
    if stamp.is_none() || stamp == old.ptr("/status/lastPhaseTransitionTime") {
        if !new.get("status").is_some_and(Value::is_object) {
            new["status"] = json!({});
        }
        new["status"]["lastPhaseTransitionTime"] = json!(now_rfc3339());
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The QoS class upstream derives from the containers' requests and limits (requests default
/// to limits; zero quantities count as unset; compared as quantities, so `1` equals `1000m`).
pub fn qos_class(pod: &Value) -> &'static str {
    let mut containers: Vec<&Value> = Vec::new();
    for key in ["containers", "initContainers"] {
        if let Some(cs) = pod.ptr(&format!("/spec/{key}")).and_then(Value::as_array) {
            containers.extend(cs.iter());
        }
    }
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.ptr("/resources/requests").and_then(Value::as_object);
        let lim = c.ptr("/resources/limits").and_then(Value::as_object);
        let q = |m: Option<&serde_json::Map<String, Value>>, k: &str| {
            m.and_then(|m| m.get(k)).and_then(crate::quota::quantity).filter(|q| *q > validation::Quantity::zero())
        };
        for r in ["cpu", "memory"] {
            let (rq, lq) = (q(req, r), q(lim, r));
            if rq.is_some() || lq.is_some() {
                any = true;
            }
            if lq.is_none() || (rq.is_some() && rq != lq) {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Full validation of a new object: metadata, then the kind's own rules.
pub fn validate_create(rd: &ResourceDef, obj: &Value) -> Vec<FieldError> {
    let mut errs =
        meta::validate_object_meta(obj.get("metadata").unwrap_or(&Value::Null), rd.namespaced, name_rule(rd));
    errs.extend(validation::validate(rd, obj, None));
    errs
}

/// Full validation of an update: metadata immutables, then the kind's own rules.
pub fn validate_update(rd: &ResourceDef, obj: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let mut errs = meta::validate_object_meta_update(
        obj.get("metadata").unwrap_or(&null),
        old.get("metadata").unwrap_or(&null),
        rd.namespaced,
        name_rule(rd),
    );
    errs.extend(validation::validate(rd, obj, Some(old)));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(group: &str, plural: &str) -> &'static ResourceDef {
        crate::resources().iter().find(|r| r.group == group && r.plural == plural).unwrap()
    }

    #[test]
    fn a_volumes_phase_change_stamps_its_transition_time() {
        let pvs = rd("", "persistentvolumes");
        let mut pv = json!({"metadata": {"name": "v"}, "spec": {}});
        prepare_for_create(pvs, &mut pv);
        assert_eq!(pv["status"]["phase"], "Pending");
        let created = pv["status"]["lastPhaseTransitionTime"].clone();
        assert!(created.is_string());
        let old = json!({"status": {"phase": "Pending", "lastPhaseTransitionTime": "2020-01-01T00:00:00Z"}});
        let mut same = old.clone();
        stamp_phase_transition(pvs, &mut same, &old);
        assert_eq!(same, old);
        let mut bound = json!({"status": {"phase": "Bound", "lastPhaseTransitionTime": "2020-01-01T00:00:00Z"}});
        stamp_phase_transition(pvs, &mut bound, &old);
        assert_ne!(bound["status"]["lastPhaseTransitionTime"], "2020-01-01T00:00:00Z");
        // A writer's own new stamp is kept.
        let mut own = json!({"status": {"phase": "Bound", "lastPhaseTransitionTime": "2021-01-01T00:00:00Z"}});
        stamp_phase_transition(pvs, &mut own, &old);
        assert_eq!(own["status"]["lastPhaseTransitionTime"], "2021-01-01T00:00:00Z");
        // Claims have no such field.
        let mut claim = json!({"status": {"phase": "Bound"}});
        stamp_phase_transition(rd("", "persistentvolumeclaims"), &mut claim, &json!({"status": {"phase": "Pending"}}));
        assert!(claim["status"]["lastPhaseTransitionTime"].is_null());
    }

    #[test]
    fn daemon_sets_count_their_template_generations() {
        let rd = crate::lookup("apps", "v1", "daemonsets").unwrap();
        let mut ds =
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}});
        prepare_for_create(rd, &mut ds);
        assert_eq!(ds["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let mut same = ds.clone();
        same["spec"]["minReadySeconds"] = json!(5);
        same["metadata"]["annotations"][TEMPLATE_GENERATION] = json!("9");
        prepare_for_update(rd, &mut same, &ds);
        assert_eq!(same["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        assert_eq!(same["metadata"]["generation"], 2);
        let mut changed = same.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
        prepare_for_update(rd, &mut changed, &same);
        assert_eq!(changed["metadata"]["annotations"][TEMPLATE_GENERATION], "2");
    }

    #[test]
    fn generation_bumps_on_spec_change_only() {
        let d = rd("apps", "deployments");
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1}, "status": {"replicas": 3}});
        prepare_for_create(d, &mut obj);
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_eq!(obj["status"], json!({}));
        let old = obj.clone();
        let mut new = obj.clone();
        new["metadata"]["labels"] = json!({"a": "b"});
        new["status"] = json!({"replicas": 9});
        prepare_for_update(d, &mut new, &old);
        assert_eq!(new["metadata"]["generation"], 1);
        assert_eq!(new["status"], json!({}));
        new["spec"]["replicas"] = json!(2);
        prepare_for_update(d, &mut new, &old);
        assert_eq!(new["metadata"]["generation"], 2);
    }

    #[test]
    fn jobs_get_a_generated_selector_unless_manual() {
        let d = rd("batch", "jobs");
        let mut obj = json!({"metadata": {"name": "pi", "uid": "u1"},
            "spec": {"manualSelector": false, "template": {"metadata": {"labels": {"job-name": "mine"}}}}});
        prepare_for_create(d, &mut obj);
        assert_eq!(obj["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}));
        assert_eq!(
            obj["spec"]["template"]["metadata"]["labels"],
            json!({"job-name": "mine", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u1",
                "batch.kubernetes.io/controller-uid": "u1"})
        );
        assert_eq!(obj["status"], json!({}));
        let mut manual = json!({"metadata": {"name": "pi", "uid": "u1"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}});
        prepare_for_create(d, &mut manual);
        assert_eq!(manual["spec"]["selector"], json!({"matchLabels": {"a": "b"}}));
        assert!(manual["spec"]["template"].is_null());
    }

    #[test]
    fn qos() {
        assert_eq!(qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})), "BestEffort");
        let g = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&b), "Burstable");
        // Quantities compare by value; zero counts as unset.
        let g = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1000m", "memory": "1024Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let z = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "0"}}}]}});
        assert_eq!(qos_class(&z), "BestEffort");
    }
}
