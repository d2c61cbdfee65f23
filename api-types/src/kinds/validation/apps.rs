//! apps: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision (`pkg/apis/apps/validation`).

use super::*;

/// `ValidatePositiveIntOrPercent`.
pub(crate) fn validate_int_or_percent(v: &Value, p: &P) -> Errs {
    match v {
        Value::String(s) => is_valid_percent(s).into_iter().map(|m| inv_raw(p, s, m)).collect(),
        other => nonneg(num(other).unwrap_or(0), p),
    }
}

/// `getIntOrPercentValue` (a percent string yields its number, other strings 0).
pub(crate) fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(s) => {
            if is_valid_percent(s).is_empty() {
                s.trim_end_matches('%').parse::<i64>().unwrap_or(0)
            } else {
                s.parse::<i64>().unwrap_or(0)
            }
        }
        other => num(other).unwrap_or(0),
    }
}

pub(crate) fn not_more_than_100_percent(v: &Value, p: &P) -> Errs {
    match v {
        Value::String(s) if is_valid_percent(s).is_empty() => {
            if s.trim_end_matches('%').parse::<i64>().map(|n| n > 100).unwrap_or(true) {
                vec![inv_raw(p, s, "must not be greater than 100%")]
            } else {
                vec![]
            }
        }
        _ => vec![],
    }
}

/// Selector checks shared by Deployment and ReplicaSet, then the template.
pub(crate) fn validate_selector_and_template(spec: &Value, kind_word: &str, owner: &str) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let sel = g(spec, "selector");
    if sel.is_null() {
        errs.push(req(&sp.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &sp.child("selector"), false));
        if smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
            errs.push(inv_raw(
                &sp.child("selector"),
                go_selector(sel),
                format!("empty selector is invalid for {kind_word}"),
            ));
        }
    }
    match selector_of(sel) {
        Err(()) => errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "invalid label selector")),
        Ok(selector) => {
            let t = g(spec, "template");
            let tp = sp.child("template");
            let meta = g(t, "metadata");
            if !selector.empty() && !selector.matches(&labels_of(meta)) {
                errs.push(inv_raw(
                    &tp.child("metadata").child("labels"),
                    go_str_map(meta.get("labels")),
                    SELECTOR_MISMATCH,
                ));
            }
            errs.extend(validate_pod_template_spec(t, &tp));
            let tspec = g(t, "spec");
            let rp = st(tspec, "restartPolicy");
            if rp != "Always" {
                errs.push(unsup(&tp.child("spec").child("restartPolicy"), rp, &["Always"]));
            }
            if has(tspec, "activeDeadlineSeconds") {
                errs.push(forb(
                    &tp.child("spec").child("activeDeadlineSeconds"),
                    format!("activeDeadlineSeconds in {owner} is not Supported"),
                ));
            }
        }
    }
    errs
}

pub(crate) fn go_rolling_update_deployment(ru: &Value) -> String {
    if ru.is_null() {
        "(*apps.RollingUpdateDeployment)(nil)".to_string()
    } else {
        format!(
            "&apps.RollingUpdateDeployment{{MaxUnavailable:{}, MaxSurge:{}}}",
            int_or_string(g(ru, "maxUnavailable")),
            int_or_string(g(ru, "maxSurge"))
        )
    }
}

pub(crate) fn validate_deployment(d: &Value) -> Errs {
    let spec = g(d, "spec");
    let sp = P::new("spec");
    let mut errs = nonneg(int0(spec, "replicas"), &sp.child("replicas"));
    errs.extend(validate_selector_and_template(spec, "deployment", "ReplicaSet"));
    // Strategy.
    let strat = g(spec, "strategy");
    let stp = sp.child("strategy");
    let ru = g(strat, "rollingUpdate");
    match st(strat, "type") {
        "Recreate" => {
            if !ru.is_null() {
                errs.push(forb(&stp.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => {
            if ru.is_null() {
                errs.push(req(&stp.child("rollingUpdate"), "this should be defaulted and never be nil"));
            } else {
                let rp = stp.child("rollingUpdate");
                let (mu, ms) = (g(ru, "maxUnavailable"), g(ru, "maxSurge"));
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(inv_raw(
                        &rp.child("maxUnavailable"),
                        int_or_string(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
            }
        }
        other => errs.push(unsup_raw(
            &stp,
            format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_rolling_update_deployment(ru)
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
    let mrs = int0(spec, "minReadySeconds");
    errs.extend(nonneg(mrs, &sp.child("minReadySeconds")));
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        errs.extend(nonneg(r, &sp.child("revisionHistoryLimit")));
    }
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        errs.extend(nonneg(pds, &sp.child("progressDeadlineSeconds")));
        if pds <= mrs {
            errs.push(inv_raw(&sp.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"));
        }
    }
    errs
}

pub(crate) fn validate_replica_set(rs: &Value) -> Errs {
    let spec = g(rs, "spec");
    let sp = P::new("spec");
    let mut errs = nonneg(int0(spec, "replicas"), &sp.child("replicas"));
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    errs.extend(validate_selector_and_template(spec, "deployment", "ReplicaSet"));
    errs
}

pub(crate) fn selector_immutable(new: &Value, old: &Value) -> Errs {
    let (n, o) = (g(g(new, "spec"), "selector"), g(g(old, "spec"), "selector"));
    if sem_eq(n, o) {
        vec![]
    } else {
        vec![inv_raw(&path("spec.selector"), go_selector(n), IMMUTABLE)]
    }
}

pub(crate) fn validate_daemon_set(ds: &Value) -> Errs {
    let spec = g(ds, "spec");
    let sp = P::new("spec");
    let sel = g(spec, "selector");
    let mut errs = validate_label_selector(sel, &sp.child("selector"), false);
    let t = g(spec, "template");
    let tp = sp.child("template");
    let meta = g(t, "metadata");
    if let Ok(selector) = selector_of(sel) {
        if !selector.matches(&labels_of(meta)) {
            errs.push(inv_raw(
                &tp.child("metadata").child("labels"),
                go_str_map(meta.get("labels")),
                SELECTOR_MISMATCH,
            ));
        }
    }
    if !sel.is_null() && smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
        errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "empty selector is invalid for daemonset"));
    }
    errs.extend(validate_pod_template_spec(t, &tp));
    let tspec = g(t, "spec");
    let rp = st(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(unsup(&tp.child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if has(tspec, "activeDeadlineSeconds") {
        errs.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    // Update strategy.
    let us = g(spec, "updateStrategy");
    let up = sp.child("updateStrategy");
    match st(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let ru = g(us, "rollingUpdate");
            if ru.is_null() {
                errs.push(req(&up.child("rollingUpdate"), ""));
            } else {
                let rp = up.child("rollingUpdate");
                let (mu, ms) = (g(ru, "maxUnavailable"), g(ru, "maxSurge"));
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100_percent(ms, &rp.child("maxSurge")));
                let (hu, hs) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                if hu && hs {
                    errs.push(inv_raw(
                        &rp.child("maxSurge"),
                        int_or_string(ms),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !hu && !hs {
                    errs.push(req(&rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
                }
            }
        }
        other => errs.push(unsup_raw(
            &up,
            format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                if has(us, "rollingUpdate") {
                    "&apps.RollingUpdateDaemonSet{...}"
                } else {
                    "(*apps.RollingUpdateDaemonSet)(nil)"
                }
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        errs.extend(nonneg(r, &sp.child("revisionHistoryLimit")));
    }
    errs
}

pub(crate) fn validate_stateful_set_spec(spec: &Value) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    match st(spec, "podManagementPolicy") {
        "" => errs.push(req(&sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(inv(&sp.child("podManagementPolicy"), other, "must be 'OrderedReady' or 'Parallel'")),
    }
    let us = g(spec, "updateStrategy");
    let up = sp.child("updateStrategy");
    let ru = g(us, "rollingUpdate");
    match st(us, "type") {
        "" => errs.push(req(&up, "")),
        "OnDelete" => {
            if !ru.is_null() {
                errs.push(inv_raw(
                    &up.child("rollingUpdate"),
                    go_struct("apps.RollingUpdateStatefulSetStrategy", ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if !ru.is_null() {
                let rp = up.child("rollingUpdate");
                errs.extend(nonneg(int0(ru, "partition"), &rp.child("partition")));
                if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    let mp = rp.child("maxUnavailable");
                    errs.extend(validate_int_or_percent(mu, &mp));
                    if int_or_percent_value(mu) == 0 {
                        errs.push(inv_raw(&mp, int_or_string(mu), "cannot be 0"));
                    }
                    errs.extend(not_more_than_100_percent(mu, &mp));
                }
            }
        }
        other => errs.push(inv_raw(
            &up,
            format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                if ru.is_null() {
                    "(*apps.RollingUpdateStatefulSetStrategy)(nil)"
                } else {
                    "&apps.RollingUpdateStatefulSetStrategy{...}"
                }
            ),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let pol = g(spec, "persistentVolumeClaimRetentionPolicy");
    if !pol.is_null() {
        let pp = sp.child("persistentVolumeClaimRetentionPolicy");
        for k in ["whenDeleted", "whenScaled"] {
            let v = st(pol, k);
            if v != "Retain" && v != "Delete" {
                errs.push(unsup(&pp.child(k), v, &["Retain", "Delete"]));
            }
        }
    }
    errs.extend(nonneg(int0(spec, "replicas"), &sp.child("replicas")));
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    if has(spec, "ordinals") {
        errs.extend(nonneg(int0(g(spec, "ordinals"), "start"), &sp.child("ordinals.start")));
    }
    let sel = g(spec, "selector");
    if sel.is_null() {
        errs.push(req(&sp.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &sp.child("selector"), false));
        if smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
            errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "empty selector is invalid for statefulset"));
        }
    }
    let t = g(spec, "template");
    let tp = sp.child("template");
    match selector_of(sel) {
        Err(()) => errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "")),
        Ok(selector) => {
            let meta = g(t, "metadata");
            if !selector.empty() && !selector.matches(&labels_of(meta)) {
                errs.push(inv_raw(
                    &tp.child("metadata").child("labels"),
                    go_str_map(meta.get("labels")),
                    SELECTOR_MISMATCH,
                ));
            }
            errs.extend(validate_label_map(g(meta, "labels"), &tp.child("labels")));
            errs.extend(validate_annotations(g(meta, "annotations"), &tp.child("annotations")));
            errs.extend(validate_pod_specific_annotations(meta, g(t, "spec"), &tp.child("annotations"), false));
        }
    }
    let tspec = g(t, "spec");
    let rp = st(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(unsup(&tp.child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if has(tspec, "activeDeadlineSeconds") {
        errs.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

pub(crate) fn validate_stateful_set_update(new: &Value, old: &Value) -> Errs {
    let mut errs = validate_stateful_set_spec(g(new, "spec"));
    let mut n = g(new, "spec").clone();
    let o = g(old, "spec");
    if let Some(m) = n.as_object_mut() {
        for k in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ] {
            match o.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
    }
    if !sem_eq(&n, o) {
        errs.push(forb(
            &P::new("spec"),
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errs
}

pub(crate) fn validate_controller_revision(cr: &Value) -> Errs {
    let mut errs = Vec::new();
    if g(cr, "data").is_null() {
        errs.push(req(&P::new("data"), "data is mandatory"));
    }
    errs.extend(nonneg(int0(cr, "revision"), &P::new("revision")));
    errs
}
