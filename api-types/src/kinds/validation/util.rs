//! JSON access that never panics, Go-style value rendering (`%q`, `%v`, `%#v`) and the
//! error constructors every group's rules share.

use super::*;

pub(crate) fn g<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&NULL)
}

pub(crate) fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

pub(crate) fn has(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

pub(crate) fn num(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

pub(crate) fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(num)
}

pub(crate) fn int0(v: &Value, k: &str) -> i64 {
    int(v, k).unwrap_or(0)
}

pub(crate) fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

/// Entries of a `map[string]string`-like field (non-string values read as "").
pub(crate) fn smap<'a>(v: &'a Value, k: &str) -> Vec<(&'a str, &'a str)> {
    match v.get(k).and_then(Value::as_object) {
        Some(m) => m.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))).collect(),
        None => Vec::new(),
    }
}

pub(crate) fn slist<'a>(v: &'a Value, k: &str) -> Vec<&'a str> {
    arr(v, k).iter().map(|x| x.as_str().unwrap_or("")).collect()
}

pub(crate) fn labels_of(v: &Value) -> BTreeMap<String, String> {
    smap(v, "labels").into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub(crate) use crate::go::quote as go_quote;

/// `%#v` of a `map[string]string` (keys sorted, as Go's fmt does).
pub(crate) fn go_str_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let sorted: BTreeMap<&str, &str> = m.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))).collect();
            let body: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v))).collect();
            format!("map[string]string{{{}}}", body.join(", "))
        }
    }
}

/// `%#v` of a `[]string`.
pub(crate) fn go_str_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(a) => {
            let body: Vec<String> = a.iter().map(|x| go_quote(x.as_str().unwrap_or(""))).collect();
            format!("[]string{{{}}}", body.join(", "))
        }
    }
}

pub(crate) fn go_strs(items: &[&str]) -> String {
    let body: Vec<String> = items.iter().map(|x| go_quote(x)).collect();
    format!("[]string{{{}}}", body.join(", "))
}

/// `%#v` of a dereferenced `*metav1.LabelSelector`.
pub(crate) fn go_selector(v: &Value) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    let exprs = match v.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => {
            let body: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(st(e, "key")),
                        go_quote(st(e, "operator")),
                        go_str_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", body.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}", go_str_map(v.get("matchLabels")), exprs)
}

/// A compact rendering for struct values upstream prints with `%#v` (best effort).
pub(crate) fn go_struct(type_name: &str, v: &Value) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    format!("{}{}", type_name, serde_json::to_string(v).unwrap_or_default())
}

/// `%v` of an IntOrString (it implements Stringer).
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => num(other).unwrap_or(0).to_string(),
    }
}

pub(crate) fn mk(kind: ErrorType, p: &P, bad: Option<String>, detail: impl Into<String>) -> FieldError {
    FieldError { kind, field: p.to_string(), bad_value: bad, detail: detail.into() }
}

pub(crate) fn inv(p: &P, v: &str, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Invalid, p, Some(go_quote(v)), d)
}

pub(crate) fn inv_raw(p: &P, v: impl std::fmt::Display, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Invalid, p, Some(v.to_string()), d)
}

pub(crate) fn req(p: &P, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Required, p, None, d)
}

pub(crate) fn forb(p: &P, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Forbidden, p, None, d)
}

pub(crate) fn supported(valid: &[&str]) -> String {
    if valid.is_empty() {
        String::new()
    } else {
        format!("supported values: {}", valid.iter().map(|v| go_quote(v)).collect::<Vec<_>>().join(", "))
    }
}

pub(crate) fn unsup(p: &P, v: &str, valid: &[&str]) -> FieldError {
    mk(ErrorType::NotSupported, p, Some(go_quote(v)), supported(valid))
}

pub(crate) fn unsup_raw(p: &P, v: impl std::fmt::Display, valid: &[&str]) -> FieldError {
    mk(ErrorType::NotSupported, p, Some(v.to_string()), supported(valid))
}

pub(crate) fn dup(p: &P, v: &str) -> FieldError {
    mk(ErrorType::Duplicate, p, Some(go_quote(v)), "")
}

pub(crate) fn dup_raw(p: &P, v: impl std::fmt::Display) -> FieldError {
    mk(ErrorType::Duplicate, p, Some(v.to_string()), "")
}

pub(crate) fn not_found(p: &P, v: &str) -> FieldError {
    mk(ErrorType::NotFound, p, Some(go_quote(v)), "")
}

pub(crate) fn too_many(p: &P, actual: usize, max: usize) -> FieldError {
    mk(ErrorType::TooMany, p, Some(actual.to_string()), format!("must have at most {max} items"))
}

pub(crate) fn too_long(p: &P, max: usize) -> FieldError {
    mk(ErrorType::TooLong, p, None, format!("may not be more than {max} bytes"))
}

pub(crate) const IMMUTABLE: &str = "field is immutable";
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";

pub(crate) fn nonneg(v: i64, p: &P) -> Errs {
    if v < 0 {
        vec![inv_raw(p, v, NEGATIVE)]
    } else {
        vec![]
    }
}

pub(crate) fn inclusive_range(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

pub(crate) fn path(root: &str) -> P {
    let mut parts = root.split('.');
    let mut p = P::new(parts.next().unwrap_or(""));
    for s in parts {
        p = p.child(s);
    }
    p
}
