//! coordination.k8s.io: Lease (`pkg/apis/coordination/validation`).

use super::*;

pub(crate) fn validate_lease(lease: &Value) -> Errs {
    let spec = g(lease, "spec");
    let sp = P::new("spec");
    let mut errs = Vec::new();
    if let Some(d) = int(spec, "leaseDurationSeconds") {
        if d <= 0 {
            errs.push(inv_raw(&sp.child("leaseDurationSeconds"), d, "must be greater than 0"));
        }
    }
    if let Some(t) = int(spec, "leaseTransitions") {
        if t < 0 {
            errs.push(inv_raw(&sp.child("leaseTransitions"), t, "must be greater than or equal to 0"));
        }
    }
    let strategy = spec.get("strategy").and_then(Value::as_str);
    if let Some(s) = strategy {
        let fp = sp.child("strategy").child("strategy");
        if !s.contains('/') {
            if s != "OldestEmulationVersion" {
                errs.push(unsup(&fp, s, &["OldestEmulationVersion"]));
            }
        } else {
            errs.extend(qualified_name_errs(s, &fp));
        }
    }
    if spec.get("preferredHolder").and_then(Value::as_str).is_some_and(|h| !h.is_empty())
        && strategy.is_none_or(str::is_empty)
    {
        errs.push(forb(&sp.child("preferredHolder"), "may only be specified if `strategy` is defined"));
    }
    errs
}
