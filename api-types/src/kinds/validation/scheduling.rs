//! scheduling.k8s.io: PriorityClass (`pkg/apis/scheduling/validation`).

use super::*;

pub(crate) fn validate_priority_class(pc: &Value) -> Errs {
    let mut errs = Vec::new();
    let name = st(g(pc, "metadata"), "name");
    let value = int0(pc, "value");
    let global_default = flag(pc, "globalDefault");
    if name.starts_with("system-") {
        let known: &[(&str, i64)] =
            &[("system-node-critical", 2_000_001_000), ("system-cluster-critical", 2_000_000_000)];
        let err = match known.iter().find(|(n, _)| *n == name) {
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global_default => Some(format!("globalDefault of {n} PriorityClass must be false")),
            Some(_) => None,
            None => Some(format!("{name} is not a known system priority class")),
        };
        if let Some(e) = err {
            errs.push(forb(
                &path("metadata.name"),
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if value > 1_000_000_000 {
        errs.push(forb(&P::new("value"), "maximum allowed value of a user defined priority is 1000000000"));
    }
    if let Some(pp) = pc.get("preemptionPolicy").and_then(Value::as_str) {
        errs.extend(validate_preemption_policy(pp, &P::new("preemptionPolicy")));
    }
    errs
}

pub(crate) fn validate_priority_class_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    if int0(new, "value") != int0(old, "value") {
        errs.push(forb(&P::new("value"), "may not be changed in an update."));
    }
    errs.extend(immutable_field(
        g(new, "preemptionPolicy"),
        g(old, "preemptionPolicy"),
        &P::new("preemptionPolicy"),
        render_scalar,
    ));
    errs
}
