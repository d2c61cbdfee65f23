//! Tolerations, taints, affinity and topology spread constraints.

use super::*;

pub(crate) fn validate_taint_effect(effect: &str, allow_empty: bool, p: &P) -> Errs {
    if !allow_empty && effect.is_empty() {
        return vec![req(p, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => vec![],
        other => vec![unsup(p, other, &["NoSchedule", "PreferNoSchedule", "NoExecute"])],
    }
}

pub(crate) fn validate_tolerations(tols: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let ip = p.index(i);
        let key = st(t, "key");
        let op = st(t, "operator");
        let value = st(t, "value");
        let effect = st(t, "effect");
        if !key.is_empty() {
            errs.extend(validate_label_name(key, &ip.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(inv(
                &ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(inv(&ip.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(inv(&ip.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(inv(&ip.child("operator"), value, "value must be empty when `operator` is 'Exists'"));
                }
            }
            other => errs.push(unsup(&ip.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() {
            errs.extend(validate_taint_effect(effect, true, &ip.child("effect")));
        }
    }
    errs
}

pub(crate) fn validate_node_selector_requirement(rq: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    let values = arr(rq, "values");
    match st(rq, "operator") {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(req(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(forb(
                    &p.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(req(&p.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            }
        }
        op => errs.push(inv(&p.child("operator"), op, "not a valid selector operator")),
    }
    errs.extend(validate_label_name(st(rq, "key"), &p.child("key")));
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            for msg in is_valid_label_value(v) {
                errs.push(inv(&p.child("values").index(i), v, msg));
            }
        }
    }
    errs
}

pub(crate) fn validate_node_field_selector_requirement(rq: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let values = slist(rq, "values");
    match st(rq, "operator") {
        "In" | "NotIn" => {
            if values.len() != 1 {
                errs.push(req(
                    &p.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        op => errs.push(inv(&p.child("operator"), op, "not a valid selector operator")),
    }
    let key = st(rq, "key");
    if key != "metadata.name" {
        errs.push(inv(&p.child("key"), key, "not a valid field selector key"));
    } else {
        for (i, v) in values.iter().enumerate() {
            for msg in is_dns1123_subdomain(v) {
                errs.push(inv(&p.child("values").index(i), v, msg));
            }
        }
    }
    errs
}

pub(crate) fn validate_node_selector_term(term: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    for (j, rq) in arr(term, "matchExpressions").iter().enumerate() {
        errs.extend(validate_node_selector_requirement(
            rq,
            allow_invalid_values,
            &p.child("matchExpressions").index(j),
        ));
    }
    for (j, rq) in arr(term, "matchFields").iter().enumerate() {
        errs.extend(validate_node_field_selector_requirement(rq, &p.child("matchFields").index(j)));
    }
    errs
}

pub(crate) fn validate_node_selector(ns: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let terms = arr(ns, "nodeSelectorTerms");
    let tp = p.child("nodeSelectorTerms");
    if terms.is_empty() {
        return vec![req(&tp, "must have at least one node selector term")];
    }
    let mut errs = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        errs.extend(validate_node_selector_term(t, allow_invalid_values, &tp.index(i)));
    }
    errs
}

pub(crate) fn validate_label_keys(p: &P, keys: &[&str], selector: &Value) -> Errs {
    if keys.is_empty() {
        return vec![];
    }
    if selector.is_null() {
        return vec![forb(p, "must not be specified when labelSelector is not set")];
    }
    let mut errs = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        errs.extend(validate_label_name(k, &p.index(i)));
    }
    errs
}

pub(crate) fn validate_pod_affinity_term(term: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let selector = g(term, "labelSelector");
    errs.extend(validate_label_selector(selector, &p.child("labelSelector"), false));
    errs.extend(validate_label_selector(g(term, "namespaceSelector"), &p.child("namespaceSelector"), false));
    for ns in slist(term, "namespaces") {
        for msg in is_dns1123_label(ns) {
            errs.push(inv(&p.child("namespace"), ns, msg));
        }
    }
    let mlk = slist(term, "matchLabelKeys");
    let mmlk = slist(term, "mismatchLabelKeys");
    errs.extend(validate_label_keys(&p.child("matchLabelKeys"), &mlk, selector));
    errs.extend(validate_label_keys(&p.child("mismatchLabelKeys"), &mmlk, selector));
    if !selector.is_null() {
        let idx: HashMap<&str, usize> = mlk.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut keys: HashSet<&str> = smap(selector, "matchLabels").into_iter().map(|(k, _)| k).collect();
        for e in arr(selector, "matchExpressions") {
            let key = st(e, "key");
            if let Some(i) = idx.get(key) {
                if keys.contains(key) {
                    errs.push(inv(&p.index(*i), key, "exists in both matchLabelKeys and labelSelector"));
                }
            }
            keys.insert(key);
        }
    }
    let mm: HashSet<&str> = mmlk.iter().copied().collect();
    for (i, k) in mlk.iter().enumerate() {
        if mm.contains(k) {
            errs.push(inv(
                &p.child("matchLabelKeys").index(i),
                k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    let tk = st(term, "topologyKey");
    if tk.is_empty() {
        errs.push(req(&p.child("topologyKey"), "can not be empty"));
    }
    errs.extend(validate_label_name(tk, &p.child("topologyKey")));
    errs
}

pub(crate) fn validate_pod_affinity_kind(a: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
    for (i, t) in arr(a, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
        errs.extend(validate_pod_affinity_term(t, &rp.index(i)));
    }
    let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (j, w) in arr(a, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
        let weight = int0(w, "weight");
        if !(1..=100).contains(&weight) {
            errs.push(inv_raw(&pp.index(j).child("weight"), weight, "must be in the range 1-100"));
        }
        errs.extend(validate_pod_affinity_term(g(w, "podAffinityTerm"), &pp.index(j).child("podAffinityTerm")));
    }
    errs
}

pub(crate) fn validate_affinity(a: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if a.is_null() {
        return errs;
    }
    let na = g(a, "nodeAffinity");
    if !na.is_null() {
        let np = p.child("nodeAffinity");
        let r = g(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if !r.is_null() {
            errs.extend(validate_node_selector(r, false, &np.child("requiredDuringSchedulingIgnoredDuringExecution")));
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let weight = int0(t, "weight");
            if !(1..=100).contains(&weight) {
                errs.push(inv_raw(&pp.index(i).child("weight"), weight, "must be in the range 1-100"));
            }
            errs.extend(validate_node_selector_term(g(t, "preference"), true, &pp.index(i).child("preference")));
        }
    }
    if has(a, "podAffinity") {
        errs.extend(validate_pod_affinity_kind(g(a, "podAffinity"), &p.child("podAffinity")));
    }
    if has(a, "podAntiAffinity") {
        errs.extend(validate_pod_affinity_kind(g(a, "podAntiAffinity"), &p.child("podAntiAffinity")));
    }
    errs
}

pub(crate) fn validate_topology_spread_constraints(cs: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let sp = p.index(i);
        let max_skew = int0(c, "maxSkew");
        if max_skew <= 0 {
            errs.push(inv_raw(&sp.child("maxSkew"), max_skew, "must be greater than zero"));
        }
        let tk = st(c, "topologyKey");
        if tk.is_empty() {
            errs.push(req(&sp.child("topologyKey"), "can not be empty"));
        }
        let when = st(c, "whenUnsatisfiable");
        if when != "DoNotSchedule" && when != "ScheduleAnyway" {
            errs.push(unsup(&sp.child("whenUnsatisfiable"), when, &["DoNotSchedule", "ScheduleAnyway"]));
        }
        if cs[i + 1..].iter().any(|o| st(o, "topologyKey") == tk && st(o, "whenUnsatisfiable") == when) {
            errs.push(dup(&sp.child("{topologyKey, whenUnsatisfiable}"), &format!("{{{tk}, {when}}}")));
        }
        if let Some(md) = int(c, "minDomains") {
            if md <= 0 {
                errs.push(inv_raw(&sp.child("minDomains"), md, "must be greater than zero"));
            }
            if when != "DoNotSchedule" {
                errs.push(inv_raw(
                    &sp.child("minDomains"),
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"),
                ));
            }
        }
        for k in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(v) = c.get(k).and_then(Value::as_str) {
                if v != "Honor" && v != "Ignore" {
                    errs.push(unsup(&sp.child(k), v, &["Honor", "Ignore"]));
                }
            }
        }
        let selector = g(c, "labelSelector");
        let mlk = slist(c, "matchLabelKeys");
        if !mlk.is_empty() {
            let mp = sp.child("matchLabelKeys");
            let mut keys: HashSet<&str> = HashSet::new();
            if selector.is_null() {
                errs.push(forb(&mp, "must not be specified when labelSelector is not set"));
            } else {
                keys.extend(smap(selector, "matchLabels").into_iter().map(|(k, _)| k));
                keys.extend(arr(selector, "matchExpressions").iter().map(|e| st(e, "key")));
            }
            for (j, k) in mlk.iter().enumerate() {
                errs.extend(validate_label_name(k, &mp.index(j)));
                if keys.contains(k) {
                    errs.push(inv(&mp.index(j), k, "exists in both matchLabelKeys and labelSelector"));
                }
            }
        }
        errs.extend(validate_label_selector(selector, &sp.child("labelSelector"), false));
    }
    errs
}
