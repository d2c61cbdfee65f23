//! ObjectMeta validation and the name, label and annotation syntax rules, with upstream's
//! messages (k8s.io/apimachinery/pkg/util/validation).

use crate::field::{FieldError, FieldPath};
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::Value;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const QUALIFIED_NAME_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Upstream's limit on the summed size of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn anchored(fmt: &str) -> Regex {
    Regex::new(&format!("^(?:{fmt})$")).expect("static regex")
}

static DNS1123_LABEL: Lazy<Regex> = Lazy::new(|| anchored(DNS1123_LABEL_FMT));
static DNS1123_SUBDOMAIN: Lazy<Regex> = Lazy::new(|| anchored(DNS1123_SUBDOMAIN_FMT));
static DNS1035_LABEL: Lazy<Regex> = Lazy::new(|| anchored(DNS1035_LABEL_FMT));
static QUALIFIED_NAME: Lazy<Regex> = Lazy::new(|| anchored(QUALIFIED_NAME_FMT));
static LABEL_VALUE: Lazy<Regex> = Lazy::new(|| anchored(LABEL_VALUE_FMT));

/// Upstream's `RegexError`: the message, examples and the regex.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

pub fn is_dns1123_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !DNS1123_LABEL.is_match(v) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

pub fn is_dns1123_subdomain(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !DNS1123_SUBDOMAIN.is_match(v) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

pub fn is_dns1035_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !DNS1035_LABEL.is_match(v) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Names that must be a single URL path segment (RBAC objects, CSRs, ...).
pub fn is_path_segment_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v == "." || v == ".." {
        errs.push(format!("may not be '{v}'"));
    }
    for bad in ["/", "%"] {
        if v.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// Label keys and other prefixed names (`example.com/MyName`).
pub fn is_qualified_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = v.split('/').collect();
    let name = match parts.as_slice() {
        [n] => *n,
        [prefix, n] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(is_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *n
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !QUALIFIED_NAME.is_match(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

pub fn is_valid_label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !LABEL_VALUE.is_match(v) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Which syntax an object's name must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
}

impl NameRule {
    /// Validates a name; `prefix` is true for `generateName`, whose trailing dash is allowed.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && name.ends_with('-') && self != NameRule::PathSegment {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
            NameRule::Dns1123Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment => is_path_segment_name(name),
        }
    }
}

pub fn validate_labels(labels: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = labels.as_object() else {
        return errs;
    };
    for (k, v) in map {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, k, m));
        }
        let v = v.as_str().unwrap_or_default();
        for m in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v, m));
        }
    }
    errs
}

pub fn validate_annotations(annotations: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = annotations.as_object() else {
        return errs;
    };
    let mut total = 0usize;
    for (k, v) in map {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k, m));
        }
        total += k.len() + v.as_str().map(str::len).unwrap_or_default();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn validate_finalizers(fins: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(list) = fins.as_array() else {
        return errs;
    };
    let mut seen = std::collections::HashSet::new();
    for (i, f) in list.iter().enumerate() {
        let f = f.as_str().unwrap_or_default();
        for m in is_qualified_name(f) {
            errs.push(FieldError::invalid(&path.index(i), f, m));
        }
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            errs.push(FieldError::invalid(
                &path.index(i),
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&path.index(i), f));
        }
    }
    if list.iter().any(|f| f == "orphan") && list.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid_raw(
            path,
            serde_json::to_string(list).unwrap_or_default(),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Upstream's `ValidateObjectMeta` for a new object.
pub fn validate_object_meta(meta: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    let generate_name = s("generateName");
    if !generate_name.is_empty() {
        for m in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(&path.child("generateName"), generate_name, m));
        }
    }
    let name = s("name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), "name or generateName is required"));
    } else {
        for m in rule.check(name, false) {
            errs.push(FieldError::invalid(&path.child("name"), name, m));
        }
    }
    let ns = s("namespace");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for m in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(&path.child("namespace"), ns, m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
        if g < 0 {
            errs.push(FieldError::invalid_raw(&path.child("generation"), g, "must be greater than or equal to 0"));
        }
    }
    if let Some(l) = meta.get("labels") {
        errs.extend(validate_labels(l, &path.child("labels")));
    }
    if let Some(a) = meta.get("annotations") {
        errs.extend(validate_annotations(a, &path.child("annotations")));
    }
    if let Some(f) = meta.get("finalizers") {
        errs.extend(validate_finalizers(f, &path.child("finalizers")));
    }
    if let Some(owners) = meta.get("ownerReferences").and_then(Value::as_array) {
        let op = path.child("ownerReferences");
        let mut controllers = 0;
        for o in owners {
            for k in ["apiVersion", "kind", "name", "uid"] {
                if o.get(k).and_then(Value::as_str).unwrap_or_default().is_empty() {
                    let detail = match k {
                        "apiVersion" => "version must not be empty",
                        "kind" => "kind must not be empty",
                        "name" => "name must not be empty",
                        _ => "uid must not be empty",
                    };
                    errs.push(FieldError::invalid_raw(&op, o, detail));
                }
            }
            if o.get("controller").and_then(Value::as_bool) == Some(true) {
                controllers += 1;
            }
        }
        if controllers > 1 {
            errs.push(FieldError::invalid_raw(
                &op,
                Value::Array(owners.clone()),
                "Only one reference can have Controller set to true",
            ));
        }
    }
    errs
}

/// Upstream's `ValidateObjectMetaUpdate`: the new metadata is valid and the immutable parts kept.
pub fn validate_object_meta_update(new: &Value, old: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = validate_object_meta(new, namespaced, rule);
    for (k, label) in
        [("name", "name"), ("namespace", "namespace"), ("uid", "uid"), ("creationTimestamp", "creationTimestamp")]
    {
        let n = new.get(k).cloned().unwrap_or(Value::Null);
        let o = old.get(k).cloned().unwrap_or(Value::Null);
        if n != o {
            let shown = match &n {
                Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
                other => other.to_string(),
            };
            errs.push(FieldError {
                kind: crate::field::ErrorType::Invalid,
                field: path.child(label).to_string(),
                bad_value: Some(shown),
                detail: "field is immutable".into(),
            });
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(is_dns1123_subdomain("web.example-1").is_empty());
        assert_eq!(is_dns1123_subdomain("Web").len(), 1);
        assert!(is_dns1123_label("a.b").len() == 1);
        assert!(is_dns1035_label("1abc").len() == 1);
        assert!(is_path_segment_name("system:node").is_empty());
        assert_eq!(is_path_segment_name("a/b"), vec!["may not contain '/'"]);
        assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
    }

    #[test]
    fn qualified_names_and_labels() {
        assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert_eq!(is_qualified_name("/x"), vec!["prefix part must be non-empty"]);
        assert!(is_valid_label_value("").is_empty());
        assert!(!is_valid_label_value("-x").is_empty());
        let errs = validate_labels(&json!({"ok": "v", "bad key!": "v"}), &FieldPath::new("metadata").child("labels"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.labels");
    }

    #[test]
    fn object_meta() {
        let errs = validate_object_meta(&json!({}), true, NameRule::Dns1123Subdomain);
        let fields: Vec<_> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Required value"
            ]
        );
        let errs = validate_object_meta(&json!({"name": "n", "namespace": "x"}), false, NameRule::Dns1123Subdomain);
        assert_eq!(errs[0].to_string(), "metadata.namespace: Forbidden: not allowed on this type");
    }
}
