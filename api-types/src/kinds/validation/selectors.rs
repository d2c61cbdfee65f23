//! Labels and label selectors (metav1 validation) and selector matching.

use super::*;

pub(crate) fn validate_label_name(k: &str, p: &P) -> Errs {
    qualified_name_errs(k, p)
}

/// `ValidateLabels` for a map value (Go quoting of bad values).
pub(crate) fn validate_label_map(m: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if let Some(o) = m.as_object() {
        for (k, v) in o {
            errs.extend(validate_label_name(k, p));
            let v = v.as_str().unwrap_or("");
            for msg in is_valid_label_value(v) {
                errs.push(inv(p, v, msg));
            }
        }
    }
    errs
}

pub(crate) fn validate_label_selector(sel: &Value, p: &P, allow_invalid_values: bool) -> Errs {
    if sel.is_null() {
        return vec![];
    }
    let mut errs = validate_label_map(g(sel, "matchLabels"), &p.child("matchLabels"));
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let ep = p.child("matchExpressions").index(i);
        let values = arr(e, "values");
        match st(e, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(req(&ep.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(forb(
                        &ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(inv(&ep.child("operator"), op, "not a valid selector operator")),
        }
        errs.extend(validate_label_name(st(e, "key"), &ep.child("key")));
        if !allow_invalid_values {
            for (vi, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or("");
                for msg in is_valid_label_value(v) {
                    errs.push(inv(&ep.child("values").index(vi), v, msg));
                }
            }
        }
    }
    errs
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A `labels.Selector` as `metav1.LabelSelectorAsSelector` builds it.
#[derive(Debug, Clone)]
pub(crate) enum Sel {
    Nothing,
    Everything,
    Reqs(Vec<(String, SelOp, Vec<String>)>),
}

impl Sel {
    pub(crate) fn empty(&self) -> bool {
        matches!(self, Sel::Everything)
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Sel::Nothing => false,
            Sel::Everything => true,
            Sel::Reqs(reqs) => reqs.iter().all(|(k, op, vals)| {
                let v = labels.get(k);
                match op {
                    SelOp::In => v.is_some_and(|v| vals.contains(v)),
                    SelOp::NotIn => !v.is_some_and(|v| vals.contains(v)),
                    SelOp::Exists => v.is_some(),
                    SelOp::DoesNotExist => v.is_none(),
                }
            }),
        }
    }
}

/// `metav1.LabelSelectorAsSelector`; Err when a requirement is malformed.
pub(crate) fn selector_of(sel: &Value) -> Result<Sel, ()> {
    if sel.is_null() {
        return Ok(Sel::Nothing);
    }
    let ml = smap(sel, "matchLabels");
    let me = arr(sel, "matchExpressions");
    if ml.is_empty() && me.is_empty() {
        return Ok(Sel::Everything);
    }
    let mut reqs = Vec::new();
    for (k, v) in ml {
        if !is_qualified_name(k).is_empty() || !is_valid_label_value(v).is_empty() {
            return Err(());
        }
        reqs.push((k.to_string(), SelOp::In, vec![v.to_string()]));
    }
    for e in me {
        let op = match st(e, "operator") {
            "In" => SelOp::In,
            "NotIn" => SelOp::NotIn,
            "Exists" => SelOp::Exists,
            "DoesNotExist" => SelOp::DoesNotExist,
            _ => return Err(()),
        };
        let key = st(e, "key");
        let vals = slist(e, "values");
        if !is_qualified_name(key).is_empty() {
            return Err(());
        }
        match op {
            SelOp::In | SelOp::NotIn if vals.is_empty() => return Err(()),
            SelOp::Exists | SelOp::DoesNotExist if !vals.is_empty() => return Err(()),
            _ => {}
        }
        if vals.iter().any(|v| !is_valid_label_value(v).is_empty()) {
            return Err(());
        }
        reqs.push((key.to_string(), op, vals.iter().map(|s| s.to_string()).collect()));
    }
    Ok(Sel::Reqs(reqs))
}

pub(crate) const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";
