//! policy: PodDisruptionBudget (`pkg/apis/policy/validation`).

use super::*;

pub(crate) fn validate_pdb(pdb: &Value) -> Errs {
    let spec = g(pdb, "spec");
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let (min, max) = (g(spec, "minAvailable"), g(spec, "maxUnavailable"));
    if !min.is_null() && !max.is_null() {
        errs.push(inv_raw(
            &sp,
            go_struct("policy.PodDisruptionBudgetSpec", spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (k, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        if !v.is_null() {
            errs.extend(validate_int_or_percent(v, &sp.child(k)));
            errs.extend(not_more_than_100_percent(v, &sp.child(k)));
        }
    }
    errs.extend(validate_label_selector(g(spec, "selector"), &sp.child("selector"), false));
    if let Some(pol) = spec.get("unhealthyPodEvictionPolicy").and_then(Value::as_str) {
        if pol != "AlwaysAllow" && pol != "IfHealthyBudget" {
            errs.push(unsup(&sp.child("unhealthyPodEvictionPolicy"), pol, &["AlwaysAllow", "IfHealthyBudget"]));
        }
    }
    errs
}
