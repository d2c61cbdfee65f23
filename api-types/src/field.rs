//! Field paths and validation errors, formatted as upstream's `field.Error` so that Status
//! messages and `details.causes` read the same.

use std::fmt;

/// A path to a field, rendered like upstream (`spec.containers[0].name`, `metadata.labels[app]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// A path from `root`. Go's `field.NewPath("")` renders as `[]` (an element with neither
    /// name nor index), and so does this.
    pub fn new(root: &str) -> Self {
        if root.is_empty() {
            return FieldPath("[]".into());
        }
        FieldPath(root.to_string())
    }
    pub fn root() -> Self {
        FieldPath(String::new())
    }
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{}", self.0, name))
        }
    }
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, i))
    }
    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{}]", self.0, k))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Upstream's `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorType {
    /// The `reason` of a Status cause (`FieldValueRequired`, ...).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }
    /// The human text upstream prints for the type.
    pub fn text(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

/// One validation failure.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: String,
    /// The offending value, rendered as upstream does (strings quoted); None when omitted.
    pub bad_value: Option<String>,
    pub detail: String,
}

fn quote(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("\"{v}\""))
}

impl FieldError {
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Required, field: path.to_string(), bad_value: None, detail: detail.into() }
    }
    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Forbidden, field: path.to_string(), bad_value: None, detail: detail.into() }
    }
    pub fn invalid(path: &FieldPath, value: &str, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Invalid, field: path.to_string(), bad_value: Some(quote(value)), detail: detail.into() }
    }
    /// Invalid with a non-string value (numbers, objects) rendered verbatim.
    pub fn invalid_raw(path: &FieldPath, value: impl fmt::Display, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Invalid,
            field: path.to_string(),
            bad_value: Some(value.to_string()),
            detail: detail.into(),
        }
    }
    pub fn duplicate(path: &FieldPath, value: &str) -> Self {
        Self {
            kind: ErrorType::Duplicate,
            field: path.to_string(),
            bad_value: Some(quote(value)),
            detail: String::new(),
        }
    }
    pub fn not_found(path: &FieldPath, value: &str) -> Self {
        Self {
            kind: ErrorType::NotFound,
            field: path.to_string(),
            bad_value: Some(quote(value)),
            detail: String::new(),
        }
    }
    pub fn not_supported(path: &FieldPath, value: &str, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", valid.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", "))
        };
        Self { kind: ErrorType::NotSupported, field: path.to_string(), bad_value: Some(quote(value)), detail }
    }
    pub fn too_long(path: &FieldPath, max: usize) -> Self {
        Self {
            kind: ErrorType::TooLong,
            field: path.to_string(),
            bad_value: None,
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// The message without the field, as in a Status cause (`Required value`,
    /// `Invalid value: "x": detail`).
    pub fn cause_message(&self) -> String {
        let mut s = self.kind.text().to_string();
        if let Some(v) = &self.bad_value {
            s.push_str(": ");
            s.push_str(v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.cause_message())
        } else {
            write!(f, "{}: {}", self.field, self.cause_message())
        }
    }
}

/// Upstream's aggregate rendering: one error as is, several as `[a, b]`.
pub fn aggregate(errs: &[FieldError]) -> String {
    match errs {
        [] => String::new(),
        [one] => one.to_string(),
        many => format!("[{}]", many.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_upstream() {
        let p = FieldPath::new("spec").child("containers").index(0).child("name");
        let e = FieldError::required(&p, "");
        assert_eq!(e.to_string(), "spec.containers[0].name: Required value");
        let e = FieldError::invalid(&FieldPath::new("metadata").child("name"), "A", "bad");
        assert_eq!(e.to_string(), "metadata.name: Invalid value: \"A\": bad");
        assert_eq!(aggregate(&[e.clone(), e.clone()]).matches("metadata.name").count(), 2);
    }
}
