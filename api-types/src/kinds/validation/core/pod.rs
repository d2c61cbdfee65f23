//! Pod create and update.

use super::*;

pub(crate) fn validate_pod_metadata_and_spec(pod: &Value, allow_invalid_cost: bool) -> Errs {
    let meta = g(pod, "metadata");
    let spec = g(pod, "spec");
    let sp = P::new("spec");
    let mut errs = validate_pod_specific_annotations(meta, spec, &path("metadata.annotations"), allow_invalid_cost);
    errs.extend(validate_pod_spec_opts(spec, Some(st(meta, "name")), &sp, true));
    if st(spec, "serviceAccountName").is_empty() {
        for (vi, v) in arr(spec, "volumes").iter().enumerate() {
            if !has(v, "projected") {
                continue;
            }
            for (si, s) in arr(g(v, "projected"), "sources").iter().enumerate() {
                if has(s, "serviceAccountToken") {
                    errs.push(forb(
                        &sp.child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for key in ["containers", "initContainers"] {
        for (i, c) in arr(spec, key).iter().enumerate() {
            errs.extend(validate_container_only_for_pod(c, &sp.child(key).index(i)));
        }
    }
    errs
}

pub(crate) fn validate_pod_create(pod: &Value) -> Errs {
    let mut errs = validate_pod_metadata_and_spec(pod, false);
    let spec = g(pod, "spec");
    let sp = P::new("spec");
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(forb(&sp.child("ephemeralContainers"), "cannot be set on create"));
    }
    if !st(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
        errs.push(forb(&sp.child("nodeName"), "cannot be set until all schedulingGates have been cleared"));
    }
    errs
}

pub(crate) const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Go's field name for a v1 PodSpec JSON key (for the diff printed after the update error).
pub(crate) fn go_field_name(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A small `cmp.Diff`-like rendering of the differing top-level fields.
pub(crate) fn spec_diff(old: &Value, new: &Value, type_name: &str) -> String {
    let mut keys: Vec<&String> = Vec::new();
    for m in [old.as_object(), new.as_object()].into_iter().flatten() {
        for k in m.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let mut out = format!("  {type_name}{{\n");
    for k in keys {
        let (o, n) = (g(old, k), g(new, k));
        if sem_eq(o, n) {
            continue;
        }
        let name = go_field_name(k);
        if !o.is_null() {
            let _ = writeln!(out, "- \t{}: {},", name, serde_json::to_string(o).unwrap_or_default());
        }
        if !n.is_null() {
            let _ = writeln!(out, "+ \t{}: {},", name, serde_json::to_string(n).unwrap_or_default());
        }
    }
    out.push_str("  }\n");
    out
}

/// Upstream's `ValidatePodEphemeralContainersUpdate`: the pod as a whole, no static pods, and
/// ephemeral containers only added, never removed or changed.
pub fn validate_ephemeral_containers_update(new: &Value, old: &Value) -> Errs {
    let mut errs = validate_pod_metadata_and_spec(new, false);
    if smap(g(old, "metadata"), "annotations").iter().any(|(k, _)| *k == MIRROR_POD) {
        return vec![forb(&P::new(""), "static pods do not support ephemeral containers")];
    }
    let sp = P::new("spec").child("ephemeralContainers");
    let now = arr(g(new, "spec"), "ephemeralContainers");
    for o in arr(g(old, "spec"), "ephemeralContainers") {
        let name = st(o, "name");
        match now.iter().find(|n| st(n, "name") == name) {
            None => errs.push(forb(&sp, format!("existing ephemeral containers {name:?} may not be removed\n"))),
            Some(n) if !sem_eq(o, n) => errs.push(forb(
                &sp.key(name),
                format!(
                    "existing ephemeral containers {name:?} may not be changed\n{}",
                    spec_diff(o, n, "core.EphemeralContainer")
                ),
            )),
            Some(_) => {}
        }
    }
    errs
}

pub(crate) fn validate_pod_update(new: &Value, old: &Value) -> Errs {
    let old_meta = g(old, "metadata");
    let allow_invalid_cost =
        smap(old_meta, "annotations").iter().any(|(k, v)| *k == DELETION_COST && !valid_deletion_cost(v));
    let mut errs = validate_pod_metadata_and_spec(new, allow_invalid_cost);
    // ValidatePodSpecificAnnotationUpdates
    let ap = path("metadata.annotations");
    let new_ann: BTreeMap<&str, &str> = smap(g(new, "metadata"), "annotations").into_iter().collect();
    let old_ann: BTreeMap<&str, &str> = smap(old_meta, "annotations").into_iter().collect();
    for (k, ov) in &old_ann {
        if new_ann.get(k) == Some(ov) {
            continue;
        }
        if k.starts_with(APPARMOR_PREFIX) {
            errs.push(forb(&ap.key(k), "may not remove or update AppArmor annotations"));
        }
        if *k == MIRROR_POD {
            errs.push(forb(&ap.key(k), "may not remove or update mirror pod annotation"));
        }
    }
    for k in new_ann.keys() {
        if old_ann.contains_key(k) {
            continue;
        }
        if k.starts_with(APPARMOR_PREFIX) {
            errs.push(forb(&ap.key(k), "may not add AppArmor annotations"));
        }
        if *k == MIRROR_POD {
            errs.push(forb(&ap.key(k), "may not add mirror pod annotation"));
        }
    }
    let ns = g(new, "spec");
    let os = g(old, "spec");
    let sp = P::new("spec");
    for key in ["containers", "initContainers"] {
        let (nc, oc) = (arr(ns, key), arr(os, key));
        let cp = sp.child(key);
        if nc.len() != oc.len() {
            errs.push(forb(&cp, "pod updates may not add or remove containers"));
            return errs;
        }
        for (i, c) in nc.iter().enumerate() {
            let image = st(c, "image");
            if image.is_empty() {
                errs.push(req(&cp.index(i).child("image"), ""));
            }
            if image.trim().len() != image.len() {
                errs.push(inv(&cp.index(i).child("image"), image, "must not have leading or trailing whitespace"));
            }
        }
    }
    let ap = sp.child("activeDeadlineSeconds");
    match (int(ns, "activeDeadlineSeconds"), int(os, "activeDeadlineSeconds")) {
        (Some(n), old_v) => {
            if n < 0 || n > i64::from(i32::MAX) {
                errs.push(inv_raw(&ap, n, inclusive_range(0, i64::from(i32::MAX))));
                return errs;
            }
            if let Some(o) = old_v {
                if o < n {
                    errs.push(inv_raw(&ap, n, "must be less than or equal to previous value"));
                    return errs;
                }
            }
        }
        (None, Some(_)) => errs.push(inv_raw(&ap, "null", "must not update from a positive integer to nil value")),
        (None, None) => {}
    }
    // Only additions to tolerations (tolerationSeconds may change).
    let new_tols = arr(ns, "tolerations");
    let tp = sp.child("tolerations");
    let mut tol_ok = true;
    for ot in arr(os, "tolerations") {
        let found = new_tols.iter().any(|nt| {
            let mut a = ot.clone();
            if let Some(m) = a.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            let mut b = nt.clone();
            if let Some(m) = b.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            sem_eq(&a, &b)
        });
        if !found {
            errs.push(forb(&tp, "existing toleration can not be modified except its tolerationSeconds"));
            tol_ok = false;
            break;
        }
    }
    if tol_ok {
        errs.extend(validate_tolerations(new_tols, &tp));
    }
    // Only deletions of scheduling gates.
    let new_gates = arr(ns, "schedulingGates");
    if !new_gates.is_empty() {
        let old_gates: HashSet<&str> = arr(os, "schedulingGates").iter().map(|g| st(g, "name")).collect();
        let mut added: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, gt) in new_gates.iter().enumerate() {
            added.insert(st(gt, "name"), i);
        }
        for (name, i) in added {
            if !old_gates.contains(name) {
                errs.push(forb(
                    &sp.child("schedulingGates").index(i).child("name"),
                    format!("only deletion is allowed, but found new scheduling gate '{name}'"),
                ));
            }
        }
    }
    if sem_eq(ns, os) {
        return errs;
    }
    // Munge the updatable fields and compare the rest.
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr(os, key).get(i).map(|oc| g(oc, "image").clone()).unwrap_or(Value::Null);
                    if let Some(co) = c.as_object_mut() {
                        if old_image.is_null() {
                            co.remove("image");
                        } else {
                            co.insert("image".into(), old_image);
                        }
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match os.get(key) {
                Some(v) => {
                    m.insert(key.into(), v.clone());
                }
                None => {
                    m.remove(key);
                }
            }
        }
        if let (Some(o), Some(n)) = (int(os, "terminationGracePeriodSeconds"), int(ns, "terminationGracePeriodSeconds"))
        {
            if o < 0 && n == 1 {
                m.insert("terminationGracePeriodSeconds".into(), Value::from(o));
            }
        }
        let gated = !arr(os, "schedulingGates").is_empty();
        if gated {
            // Additions to nodeSelector and node affinity are allowed for gated pods.
            let old_ns: Vec<(&str, &str)> = smap(os, "nodeSelector");
            let new_ns: HashMap<&str, &str> = smap(ns, "nodeSelector").into_iter().collect();
            if !sem_eq(g(ns, "nodeSelector"), g(os, "nodeSelector")) {
                if old_ns.iter().any(|(k, v)| new_ns.get(k) != Some(v)) {
                    errs.push(inv_raw(
                        &sp.child("nodeSelector"),
                        go_str_map(ns.get("nodeSelector")),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    ));
                }
                match os.get("nodeSelector") {
                    Some(v) => {
                        m.insert("nodeSelector".into(), v.clone());
                    }
                    None => {
                        m.remove("nodeSelector");
                    }
                }
            }
            let old_na = g(g(os, "affinity"), "nodeAffinity").clone();
            let new_na = g(g(ns, "affinity"), "nodeAffinity").clone();
            if !sem_eq(&old_na, &new_na) {
                let napath = sp.child("affinity").child("nodeAffinity");
                let old_terms = arr(g(&old_na, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
                let new_terms = arr(g(&new_na, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
                let tp = napath.child("requiredDuringSchedulingIgnoredDuringExecution").child("nodeSelectorTerms");
                if has(&old_na, "requiredDuringSchedulingIgnoredDuringExecution") {
                    if !old_terms.is_empty() && old_terms.len() != new_terms.len() {
                        errs.push(inv_raw(
                            &tp,
                            serde_json::to_string(new_terms).unwrap_or_default(),
                            "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
                        ));
                    } else {
                        for (i, ot) in old_terms.iter().enumerate() {
                            let nt = new_terms.get(i).unwrap_or(&NULL);
                            if !term_has_only_additions(nt, ot) {
                                errs.push(inv_raw(
                                    &tp.index(i),
                                    serde_json::to_string(nt).unwrap_or_default(),
                                    "only additions are allowed (no mutations or deletions)",
                                ));
                            }
                        }
                    }
                }
                let has_aff = m.get("affinity").is_some_and(|a| !a.is_null());
                if !has_aff {
                    if !old_na.is_null() {
                        m.insert("affinity".into(), serde_json::json!({ "nodeAffinity": old_na }));
                    }
                } else {
                    let aff = m.get("affinity").cloned().unwrap_or(Value::Null);
                    let only_node = !has(&aff, "podAffinity") && !has(&aff, "podAntiAffinity");
                    if !has(os, "affinity") && only_node {
                        m.remove("affinity");
                    } else if let Some(a) = m.get_mut("affinity").and_then(Value::as_object_mut) {
                        if old_na.is_null() {
                            a.remove("nodeAffinity");
                        } else {
                            a.insert("nodeAffinity".into(), old_na.clone());
                        }
                    }
                }
            }
        }
    }
    if !sem_eq(&munged, os) {
        let diff = spec_diff(os, &munged, "core.PodSpec");
        errs.push(forb(
            &sp,
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{diff}"),
        ));
    }
    errs
}

pub(crate) fn term_has_only_additions(new: &Value, old: &Value) -> bool {
    let (oe, of) = (arr(old, "matchExpressions"), arr(old, "matchFields"));
    let (ne, nf) = (arr(new, "matchExpressions"), arr(new, "matchFields"));
    if oe.is_empty() && of.is_empty() && (!ne.is_empty() || !nf.is_empty()) {
        return false;
    }
    if !oe.is_empty() && (ne.len() < oe.len() || !ne.iter().zip(oe).all(|(a, b)| sem_eq(a, b))) {
        return false;
    }
    if !of.is_empty() && (nf.len() < of.len() || !nf.iter().zip(of).all(|(a, b)| sem_eq(a, b))) {
        return false;
    }
    true
}
