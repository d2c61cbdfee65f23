//! batch: Job and CronJob, with cron schedules and time zones (`pkg/apis/batch/validation`).

use super::*;

pub(crate) static DOMAIN_PREFIXED_PATH: Lazy<Regex> = Lazy::new(|| anchored(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"));

pub(crate) fn is_domain_prefixed_path(p: &P, v: &str) -> Errs {
    if v.is_empty() {
        return vec![req(p, "")];
    }
    let Some((host, rest)) = v.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        return vec![inv(p, v, "must be a domain-prefixed path (such as \"acme.io/foo\")")];
    };
    let mut errs: Errs = is_dns1123_subdomain(host).into_iter().map(|m| inv(p, host, m)).collect();
    if !DOMAIN_PREFIXED_PATH.is_match(rest) {
        errs.push(inv(p, rest, regex_error("Invalid path", r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+", &[])));
    }
    errs
}

/// `parseIndexInterval` / `validateIndexesFormat`; returns the number of indexes.
pub(crate) fn validate_indexes_format(s: &str, completions: i64) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0i64;
    for interval in s.split(',') {
        let parts: Vec<&str> = interval.split('-').collect();
        if parts.len() > 2 {
            return Err(format!(
                "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
                go_quote(interval)
            ));
        }
        let parse = |x: &str| -> Result<i64, String> {
            let n: i64 =
                x.parse().map_err(|_| format!("cannot convert string to integer for index: {}", go_quote(x)))?;
            if n >= completions {
                return Err(format!("too large index: {}", go_quote(x)));
            }
            Ok(n)
        };
        let x = parse(parts[0])?;
        let y = if parts.len() > 1 {
            let y = parse(parts[1])?;
            if x >= y {
                return Err(format!("non-increasing order, previous: {x}, current: {y}"));
            }
            y
        } else {
            x
        };
        if let Some(l) = last {
            if l >= x {
                return Err(format!("non-increasing order, previous: {l}, current: {x}"));
            }
        }
        total = total.saturating_add(y - x + 1);
        last = Some(y);
    }
    Ok(total)
}

pub(crate) const POD_FAILURE_ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];

pub(crate) fn validate_pod_failure_policy(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let pfp = g(spec, "podFailurePolicy");
    let rules = arr(pfp, "rules");
    let rp = p.child("rules");
    if rules.len() > 20 {
        errs.push(too_many(&rp, rules.len(), 20));
    }
    let tspec = g(g(spec, "template"), "spec");
    let names: HashSet<&str> =
        arr(tspec, "containers").iter().chain(arr(tspec, "initContainers")).map(|c| st(c, "name")).collect();
    for (i, rule) in rules.iter().enumerate() {
        let rulep = rp.index(i);
        let ap = rulep.child("action");
        let action = st(rule, "action");
        if action.is_empty() {
            errs.push(req(&ap, "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]"));
        } else if action == "FailIndex" {
            if !has(spec, "backoffLimitPerIndex") {
                errs.push(inv(&ap, action, "requires the backoffLimitPerIndex to be set"));
            }
        } else if !POD_FAILURE_ACTIONS.contains(&action) {
            errs.push(unsup(&ap, action, POD_FAILURE_ACTIONS));
        }
        let oec = g(rule, "onExitCodes");
        let opc = arr(rule, "onPodConditions");
        if !oec.is_null() {
            let ep = rulep.child("onExitCodes");
            let op = st(oec, "operator");
            let opp = ep.child("operator");
            if op.is_empty() {
                errs.push(req(&opp, "valid values: [\"In\" \"NotIn\"]"));
            } else if op != "In" && op != "NotIn" {
                errs.push(unsup(&opp, op, &["In", "NotIn"]));
            }
            if let Some(cn) = oec.get("containerName").and_then(Value::as_str) {
                if !names.contains(cn) {
                    errs.push(inv(
                        &ep.child("containerName"),
                        cn,
                        "must be one of the container or initContainer names in the pod template",
                    ));
                }
            }
            let values: Vec<i64> = arr(oec, "values").iter().map(|v| num(v).unwrap_or(0)).collect();
            let vp = ep.child("values");
            let go_ints = |vals: &[i64]| {
                format!("[]int32{{{}}}", vals.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
            };
            if values.is_empty() {
                errs.push(inv_raw(&vp, go_ints(&values), "at least one value is required"));
            } else if values.len() > 255 {
                errs.push(too_many(&vp, values.len(), 255));
            }
            let mut seen = HashSet::new();
            let mut ordered = true;
            for (j, v) in values.iter().enumerate() {
                if op == "In" && *v == 0 {
                    errs.push(inv_raw(&vp.index(j), v, "must not be 0 for the In operator"));
                }
                if !seen.insert(*v) {
                    errs.push(dup_raw(&vp.index(j), v));
                }
                if j > 0 && values[j - 1] > *v {
                    ordered = false;
                }
            }
            if !ordered {
                errs.push(inv_raw(&vp, go_ints(&values), "must be ordered"));
            }
        }
        if !opc.is_empty() {
            let cp = rulep.child("onPodConditions");
            if opc.len() > 20 {
                errs.push(too_many(&cp, opc.len(), 20));
            }
            for (j, pat) in opc.iter().enumerate() {
                let pp = cp.index(j);
                errs.extend(qualified_name_errs(st(pat, "type"), &pp.child("type")));
                let status = st(pat, "status");
                if status.is_empty() {
                    errs.push(req(&pp.child("status"), "valid values: [\"False\" \"True\" \"Unknown\"]"));
                } else if !["False", "True", "Unknown"].contains(&status) {
                    errs.push(unsup(&pp.child("status"), status, &["False", "True", "Unknown"]));
                }
            }
        }
        if !oec.is_null() && !opc.is_empty() {
            errs.push(mk(
                ErrorType::Invalid,
                &rulep,
                None,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if oec.is_null() && opc.is_empty() {
            errs.push(mk(
                ErrorType::Invalid,
                &rulep,
                None,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
    errs
}

pub(crate) fn validate_success_policy(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let rules = arr(g(spec, "successPolicy"), "rules");
    let rp = p.child("rules");
    if rules.is_empty() {
        errs.push(req(&rp, "at least one rules must be specified when the successPolicy is specified"));
    }
    if rules.len() > 20 {
        errs.push(too_many(&rp, rules.len(), 20));
    }
    let completions = int0(spec, "completions");
    for (i, rule) in rules.iter().enumerate() {
        let rulep = rp.index(i);
        let count = int(rule, "succeededCount");
        let indexes = rule.get("succeededIndexes").and_then(Value::as_str);
        if count.is_none() && indexes.is_none() {
            errs.push(req(&rulep, "at least one of succeededCount or succeededIndexes must be specified"));
        }
        let mut total = 0;
        if let Some(ix) = indexes {
            let ip = rulep.child("succeededIndexes");
            if ix.len() > 64 * 1024 {
                errs.push(too_long(&ip, 64 * 1024));
            }
            match validate_indexes_format(ix, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(inv(&ip, ix, format!("error parsing succeededIndexes: {e}"))),
            }
        }
        if let Some(c) = count {
            let cp = rulep.child("succeededCount");
            errs.extend(nonneg(c, &cp));
            if c > completions {
                errs.push(inv_raw(
                    &cp,
                    c,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if indexes.is_some() && c > total {
                errs.push(inv_raw(&cp, c, format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)")));
            }
        }
    }
    errs
}

/// upstream `validateJobSpec` (without the selector checks).
pub(crate) fn validate_job_spec_inner(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    for k in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ] {
        if let Some(v) = int(spec, k) {
            errs.extend(nonneg(v, &p.child(k)));
        }
    }
    let mfi = int(spec, "maxFailedIndexes");
    let blpi = int(spec, "backoffLimitPerIndex");
    let completions = int(spec, "completions");
    let parallelism = int(spec, "parallelism");
    if let Some(v) = mfi {
        errs.extend(nonneg(v, &p.child("maxFailedIndexes")));
        if blpi.is_none() {
            errs.push(req(&p.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
        }
    }
    if let Some(mb) = spec.get("managedBy").and_then(Value::as_str) {
        let mp = p.child("managedBy");
        errs.extend(is_domain_prefixed_path(&mp, mb));
        if mb.len() > 63 {
            errs.push(mk(ErrorType::TooLong, &mp, None, "may not be longer than 63"));
        }
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(unsup(&p.child("completionMode"), m, &["NonIndexed", "Indexed"]));
        }
        if m == "Indexed" {
            if completions.is_none() {
                errs.push(req(&p.child("completions"), "when completion mode is Indexed"));
            }
            if let Some(par) = parallelism.filter(|v| *v > 100_000) {
                errs.push(inv_raw(
                    &p.child("parallelism"),
                    par,
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
            if let (Some(c), Some(f)) = (completions, mfi) {
                if f > c {
                    errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to completions"));
                }
            }
            if let Some(f) = mfi.filter(|f| *f > 100_000) {
                errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to 100000"));
            }
            if completions.is_some_and(|c| c > 100_000) && blpi.is_some() {
                if mfi.is_none() {
                    errs.push(req(&p.child("maxFailedIndexes"), "must be specified when completions is above 100000"));
                }
                if let Some(par) = parallelism.filter(|v| *v > 10_000) {
                    errs.push(inv_raw(&p.child("parallelism"), par, "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"));
                }
                if let Some(f) = mfi.filter(|f| *f > 10_000) {
                    errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"));
                }
            }
        }
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        if let Some(b) = blpi {
            errs.push(inv_raw(&p.child("backoffLimitPerIndex"), b, "requires indexed completion mode"));
        }
        if let Some(f) = mfi {
            errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "requires indexed completion mode"));
        }
    }
    let has_pfp = has(spec, "podFailurePolicy");
    if has_pfp {
        errs.extend(validate_pod_failure_policy(spec, &p.child("podFailurePolicy")));
    }
    if has(spec, "successPolicy") {
        if mode != Some("Indexed") {
            errs.push(inv_raw(
                &p.child("successPolicy"),
                go_struct("batch.SuccessPolicy", g(spec, "successPolicy")),
                "requires indexed completion mode",
            ));
        } else {
            errs.extend(validate_success_policy(spec, &p.child("successPolicy")));
        }
    }
    if let Some(prp) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let pp = p.child("podReplacementPolicy");
        if has_pfp {
            if prp != "Failed" {
                errs.push(unsup(&pp, prp, &["Failed"]));
            }
        } else if prp != "Failed" && prp != "TerminatingOrFailed" {
            errs.push(unsup(&pp, prp, &["Failed", "TerminatingOrFailed"]));
        }
    }
    let t = g(spec, "template");
    let tp = p.child("template");
    errs.extend(validate_pod_template_spec(t, &tp));
    let rp = st(g(t, "spec"), "restartPolicy");
    let rpp = tp.child("spec").child("restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(req(&rpp, "valid values: \"OnFailure\", \"Never\""));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(unsup(&rpp, rp, &["OnFailure", "Never"]));
    } else if has_pfp && rp != "Never" {
        errs.push(inv(&rpp, rp, "only \"Never\" is supported when podFailurePolicy is specified"));
    }
    errs
}

/// upstream `ValidateJobSpec`: spec plus the selector and its match with the template.
///
/// Upstream's strategy generates the selector before validating unless `manualSelector` is
/// set; when it is still missing here it is left to the server to generate.
pub(crate) fn validate_job_spec(spec: &Value, p: &P) -> Errs {
    let mut errs = validate_job_spec_inner(spec, p);
    let sel = g(spec, "selector");
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if sel.is_null() && !manual {
        return errs;
    }
    if sel.is_null() {
        errs.push(req(&p.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &p.child("selector"), false));
    }
    if let Ok(selector) = selector_of(sel) {
        let meta = g(g(spec, "template"), "metadata");
        if !selector.matches(&labels_of(meta)) {
            errs.push(inv_raw(
                &p.child("template").child("metadata").child("labels"),
                go_str_map(meta.get("labels")),
                SELECTOR_MISMATCH,
            ));
        }
    }
    errs
}

pub(crate) fn validate_has_label(meta: &Value, p: &P, key: &str, expected: &str) -> Errs {
    let labels = labels_of(meta);
    let lp = p.child("labels").key(key);
    match labels.get(key) {
        None => vec![req(&lp, format!("must be '{expected}'"))],
        Some(v) if v != expected => vec![inv_raw(&lp, go_str_map(meta.get("labels")), format!("must be '{expected}'"))],
        _ => vec![],
    }
}

/// upstream `ValidateJob` (metadata is validated elsewhere).
pub(crate) fn validate_job(job: &Value, require_prefixed_labels: bool) -> Errs {
    let mut errs = Vec::new();
    let meta = g(job, "metadata");
    let spec = g(job, "spec");
    let uid = st(meta, "uid");
    let name = st(meta, "name");
    // validateGeneratedSelector: only once the server has generated selector and labels.
    let tm = g(g(spec, "template"), "metadata");
    let generated =
        ["controller-uid", "batch.kubernetes.io/controller-uid"].iter().any(|k| labels_of(tm).contains_key(*k));
    if spec.get("manualSelector").and_then(Value::as_bool) != Some(true)
        && has(spec, "selector")
        && !uid.is_empty()
        && generated
    {
        let tmp = path("spec.template.metadata");
        errs.extend(validate_has_label(tm, &tmp, "controller-uid", uid));
        errs.extend(validate_has_label(tm, &tmp, "job-name", name));
        let mut expected = BTreeMap::new();
        if require_prefixed_labels {
            errs.extend(validate_has_label(tm, &tmp, "batch.kubernetes.io/controller-uid", uid));
            errs.extend(validate_has_label(tm, &tmp, "batch.kubernetes.io/job-name", name));
            expected.insert("batch.kubernetes.io/controller-uid".to_string(), uid.to_string());
            expected.insert("batch.kubernetes.io/job-name".to_string(), name.to_string());
        }
        expected.insert("controller-uid".to_string(), uid.to_string());
        expected.insert("job-name".to_string(), name.to_string());
        if let Ok(sel) = selector_of(g(spec, "selector")) {
            if !sel.matches(&expected) {
                errs.push(inv_raw(
                    &path("spec.selector"),
                    go_selector(g(spec, "selector")),
                    "`selector` not auto-generated",
                ));
            }
        }
    }
    errs.extend(validate_job_spec(spec, &P::new("spec")));
    if spec.get("completionMode").and_then(Value::as_str) == Some("Indexed") {
        if let Some(c) = int(spec, "completions").filter(|c| *c > 0) {
            let host = format!("{}-{}", name, c - 1);
            if !is_dns1123_label(&host).is_empty() {
                errs.push(inv(
                    &path("metadata.name"),
                    name,
                    format!("will not able to create pod with invalid DNS label: {host}"),
                ));
            }
        }
    }
    errs
}

pub(crate) fn immutable_field(new: &Value, old: &Value, p: &P, render: impl Fn(&Value) -> String) -> Errs {
    if sem_eq(new, old) {
        vec![]
    } else {
        vec![inv_raw(p, render(new), IMMUTABLE)]
    }
}

pub(crate) fn render_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

pub(crate) fn validate_job_update(new: &Value, old: &Value) -> Errs {
    let (ns, os) = (g(new, "spec"), g(old, "spec"));
    let require_prefixed = labels_of(g(g(os, "template"), "metadata")).contains_key("batch.kubernetes.io/job-name");
    let mut errs = validate_job(new, require_prefixed);
    let sp = P::new("spec");
    errs.extend(validate_job_spec(ns, &sp));
    // completions: immutable, except for Indexed jobs scaled together with parallelism.
    let cp = sp.child("completions");
    if ns.get("completionMode").and_then(Value::as_str) == Some("Indexed") {
        if !sem_eq(g(ns, "completions"), g(os, "completions")) {
            if let Some(c) = int(ns, "completions") {
                if Some(c) != int(ns, "parallelism") {
                    errs.push(inv_raw(&cp, c, "can only be modified in tandem with spec.parallelism"));
                }
            }
        }
    } else {
        errs.extend(immutable_field(g(ns, "completions"), g(os, "completions"), &cp, render_scalar));
    }
    errs.extend(immutable_field(g(ns, "selector"), g(os, "selector"), &sp.child("selector"), go_selector));
    // Template: immutable; scheduling directives are mutable while suspended and never started.
    let mutable_sched = os.get("suspend").and_then(Value::as_bool) == Some(true) && !has(g(old, "status"), "startTime");
    let nt = g(ns, "template");
    let mut ot = g(os, "template").clone();
    if mutable_sched {
        let nspec = g(nt, "spec");
        if let Some(o) = ot.as_object_mut() {
            let meta = o.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            if let Some(mm) = meta.as_object_mut() {
                for k in ["labels", "annotations"] {
                    match g(g(nt, "metadata"), k) {
                        Value::Null => {
                            mm.remove(k);
                        }
                        v => {
                            mm.insert(k.into(), v.clone());
                        }
                    }
                }
            }
            let spec = o.entry("spec").or_insert_with(|| Value::Object(Map::new()));
            if let Some(sm) = spec.as_object_mut() {
                for k in ["nodeSelector", "tolerations", "schedulingGates"] {
                    match g(nspec, k) {
                        Value::Null => {
                            sm.remove(k);
                        }
                        v => {
                            sm.insert(k.into(), v.clone());
                        }
                    }
                }
                let new_aff = g(nspec, "affinity");
                let old_aff = sm.get("affinity").cloned().unwrap_or(Value::Null);
                if new_aff.is_null() && !old_aff.is_null() {
                    let mut a = old_aff.clone();
                    if let Some(am) = a.as_object_mut() {
                        am.remove("nodeAffinity");
                    }
                    if is_zero_value(&a) {
                        sm.remove("affinity");
                    } else {
                        sm.insert("affinity".into(), a);
                    }
                } else if !new_aff.is_null() && old_aff.is_null() {
                    let na = g(new_aff, "nodeAffinity");
                    sm.insert(
                        "affinity".into(),
                        if na.is_null() { serde_json::json!({}) } else { serde_json::json!({ "nodeAffinity": na }) },
                    );
                } else if !new_aff.is_null() {
                    let mut a = old_aff.clone();
                    if let Some(am) = a.as_object_mut() {
                        match g(new_aff, "nodeAffinity") {
                            Value::Null => {
                                am.remove("nodeAffinity");
                            }
                            v => {
                                am.insert("nodeAffinity".into(), v.clone());
                            }
                        }
                    }
                    sm.insert("affinity".into(), a);
                }
            }
        }
    }
    errs.extend(immutable_field(nt, &ot, &sp.child("template"), |v| go_struct("core.PodTemplateSpec", v)));
    errs.extend(immutable_field(
        g(ns, "completionMode"),
        g(os, "completionMode"),
        &sp.child("completionMode"),
        render_scalar,
    ));
    errs.extend(immutable_field(
        g(ns, "podFailurePolicy"),
        g(os, "podFailurePolicy"),
        &sp.child("podFailurePolicy"),
        |v| go_struct("batch.PodFailurePolicy", v),
    ));
    errs.extend(immutable_field(
        g(ns, "backoffLimitPerIndex"),
        g(os, "backoffLimitPerIndex"),
        &sp.child("backoffLimitPerIndex"),
        render_scalar,
    ));
    errs.extend(immutable_field(g(ns, "managedBy"), g(os, "managedBy"), &sp.child("managedBy"), render_scalar));
    errs.extend(immutable_field(g(ns, "successPolicy"), g(os, "successPolicy"), &sp.child("successPolicy"), |v| {
        go_struct("batch.SuccessPolicy", v)
    }));
    errs
}

// --- cron schedules (robfig/cron v3 ParseStandard) ---

pub(crate) fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix('+').or_else(|| s.strip_prefix('-')).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

pub(crate) fn cron_parse_int(expr: &str) -> Result<i64, String> {
    let n = go_atoi(expr).map_err(|e| format!("failed to parse int from {expr}: {e}"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    Ok(n)
}

pub(crate) fn cron_field(field: &str, min: i64, max: i64, names: &[&str], names_base: i64) -> Result<(), String> {
    for expr in field.split(',').filter(|s| !s.is_empty()) {
        let range_and_step: Vec<&str> = expr.split('/').collect();
        let low_high: Vec<&str> = range_and_step[0].split('-').collect();
        let single = low_high.len() == 1;
        let named = |s: &str| -> Result<i64, String> {
            let lower = s.to_lowercase();
            if let Some(i) = names.iter().position(|n| *n == lower) {
                return Ok(i as i64 + names_base);
            }
            cron_parse_int(s)
        };
        let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
            (min, max)
        } else {
            let start = named(low_high[0])?;
            match low_high.len() {
                1 => (start, start),
                2 => (start, named(low_high[1])?),
                _ => return Err(format!("too many hyphens: {expr}")),
            }
        };
        let step = match range_and_step.len() {
            1 => 1,
            2 => {
                let s = cron_parse_int(range_and_step[1])?;
                if single {
                    end = max;
                }
                s
            }
            _ => return Err(format!("too many slashes: {expr}")),
        };
        if start < min {
            return Err(format!("beginning of range ({start}) below minimum ({min}): {expr}"));
        }
        if end > max {
            return Err(format!("end of range ({end}) above maximum ({max}): {expr}"));
        }
        if start > end {
            return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
        }
        if step == 0 {
            return Err(format!("step of range should be a positive number: {expr}"));
        }
    }
    Ok(())
}

/// Go's `time.ParseDuration` (syntax only).
pub(crate) fn go_parse_duration(s: &str) -> Result<(), String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = s.strip_prefix('-').or_else(|| s.strip_prefix('+')).unwrap_or(s);
    if s == "0" {
        return Ok(());
    }
    if s.is_empty() {
        return Err(err());
    }
    while !s.is_empty() {
        let digits_end = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
        let number = &s[..digits_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        s = &s[digits_end..];
        let unit_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let unit = &s[..unit_end];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
            return Err(format!("time: unknown unit {} in duration {}", go_quote(unit), go_quote(orig)));
        }
        s = &s[unit_end..];
    }
    Ok(())
}

pub(crate) const TZ_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Brazil",
    "Canada",
    "Chile",
    "Etc",
    "Europe",
    "Indian",
    "Mexico",
    "Pacific",
    "US",
];
pub(crate) const TZ_NAMES: &[&str] = &[
    "UTC",
    "GMT",
    "UCT",
    "Universal",
    "Zulu",
    "Greenwich",
    "EST",
    "MST",
    "HST",
    "EST5EDT",
    "CST6CDT",
    "MST7MDT",
    "PST8PDT",
    "CET",
    "EET",
    "MET",
    "WET",
    "Cuba",
    "Egypt",
    "Eire",
    "GB",
    "GB-Eire",
    "Hongkong",
    "Iceland",
    "Iran",
    "Israel",
    "Jamaica",
    "Japan",
    "Kwajalein",
    "Libya",
    "NZ",
    "NZ-CHAT",
    "Navajo",
    "PRC",
    "Poland",
    "Portugal",
    "ROC",
    "ROK",
    "Singapore",
    "Turkey",
    "W-SU",
    "GMT0",
    "GMT+0",
    "GMT-0",
];

/// `time.LoadLocation` without a tz database: known names and Area/Location shapes.
pub(crate) fn load_location(tz: &str) -> Result<(), String> {
    if tz.is_empty() || tz == "UTC" || tz == "Local" || TZ_NAMES.contains(&tz) {
        return Ok(());
    }
    if let Some((area, rest)) = tz.split_once('/') {
        if TZ_AREAS.contains(&area)
            && !rest.is_empty()
            && rest.split('/').all(|p| {
                !p.is_empty()
                    && p.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || area == "Etc")
            })
        {
            return Ok(());
        }
    }
    Err(format!("unknown time zone {tz}"))
}

pub(crate) fn parse_cron_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let Some(sp) = spec.find(' ') else {
            return Err(format!("provided bad location {}: unknown time zone {}", &spec[eq + 1..], &spec[eq + 1..]));
        };
        let loc = spec.get(eq + 1..sp).unwrap_or("");
        if let Err(e) = load_location(loc) {
            return Err(format!("provided bad location {loc}: {e}"));
        }
        spec = spec[sp..].trim();
    }
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => match spec.strip_prefix("@every ") {
                Some(d) => go_parse_duration(d).map_err(|e| format!("failed to parse duration {spec}: {e}")),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DOW: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    cron_field(fields[0], 0, 59, &[], 0)?;
    cron_field(fields[1], 0, 23, &[], 0)?;
    cron_field(fields[2], 1, 31, &[], 0)?;
    cron_field(fields[3], 1, 12, MONTHS, 1)?;
    cron_field(fields[4], 0, 6, DOW, 0)?;
    Ok(())
}

pub(crate) static TZ_PART: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[A-Za-z\.\-_0-9+]{1,14}$").expect("static regex"));

pub(crate) fn validate_time_zone(tz: &Value, p: &P) -> Errs {
    let Some(tz) = tz.as_str() else { return vec![] };
    if tz.is_empty() {
        return vec![inv(p, tz, "timeZone must be nil or non-empty string")];
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !TZ_PART.is_match(part) {
            return vec![inv(p, tz, format!("unknown time zone {tz}"))];
        }
    }
    let mut errs = Vec::new();
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(inv(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    }
    if let Err(e) = load_location(tz) {
        errs.push(inv(p, tz, e));
    }
    errs
}

pub(crate) fn validate_cron_job_spec(spec: &Value, old_spec: Option<&Value>) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let schedule = st(spec, "schedule");
    let schp = sp.child("schedule");
    if schedule.is_empty() {
        errs.push(req(&schp, ""));
    } else {
        let allow_tz = old_spec.is_some_and(|o| st(o, "schedule").contains("TZ"));
        if let Err(e) = parse_cron_standard(schedule) {
            errs.push(inv(&schp, schedule, e));
        }
        if allow_tz && schedule.contains("TZ") && has(spec, "timeZone") {
            errs.push(inv(&schp, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(inv(&schp, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
    }
    if let Some(sds) = int(spec, "startingDeadlineSeconds") {
        errs.extend(nonneg(sds, &sp.child("startingDeadlineSeconds")));
    }
    if old_spec.is_none_or(|o| g(o, "timeZone") != g(spec, "timeZone")) {
        errs.extend(validate_time_zone(g(spec, "timeZone"), &sp.child("timeZone")));
    }
    match st(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(req(&sp.child("concurrencyPolicy"), "")),
        other => errs.push(unsup(&sp.child("concurrencyPolicy"), other, &["Allow", "Forbid", "Replace"])),
    }
    let jt = g(spec, "jobTemplate");
    let jp = sp.child("jobTemplate");
    let jspec = g(jt, "spec");
    errs.extend(validate_job_spec_inner(jspec, &jp.child("spec")));
    if has(jspec, "selector") {
        errs.push(inv_raw(
            &jp.child("spec").child("selector"),
            go_selector(g(jspec, "selector")),
            "`selector` will be auto-generated",
        ));
    }
    if jspec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(unsup_raw(&jp.child("spec").child("manualSelector"), true, &["nil", "false"]));
    }
    for k in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        if let Some(v) = int(spec, k) {
            errs.extend(nonneg(v, &sp.child(k)));
        }
    }
    errs
}
