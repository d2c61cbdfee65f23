//! Levels, versions and the namespace-label policy, as upstream's `pod-security-admission/api`.

use std::collections::BTreeMap;
use std::fmt;

use crate::quote::go_quote;

/// Prefix of the namespace labels and of the audit annotations the plugin records.
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// Audit annotation keys as the kube-apiserver plugin records them (prefix included).
pub const EXEMPT_ANNOTATION: &str = "pod-security.kubernetes.io/exempt";
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "pod-security.kubernetes.io/audit-violations";
pub const ENFORCE_POLICY_ANNOTATION: &str = "pod-security.kubernetes.io/enforce-policy";
pub const ERROR_ANNOTATION: &str = "pod-security.kubernetes.io/error";

/// A Pod Security Standards profile, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    /// The label spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// Parses a level. On error upstream still yields `restricted` (fail closed for enforce);
    /// the error text is upstream's.
    pub fn parse(s: &str) -> Result<Level, String> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err("must be one of privileged, baseline, restricted".to_string()),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `latest` or `v1.<minor>`. `Latest` sorts after every numbered version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    #[default]
    Latest,
    V1(i64),
}

impl Version {
    /// Parses `latest` or `v1.x` (no leading zeros). On error upstream yields `latest`.
    pub fn parse(s: &str) -> Result<Version, String> {
        const ERR: &str = r#"must be "latest" or "v1.x""#;
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let minor = s.strip_prefix("v1.").ok_or_else(|| ERR.to_string())?;
        let digits_ok =
            !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()) && (minor == "0" || !minor.starts_with('0'));
        if !digits_ok {
            return Err(ERR.to_string());
        }
        minor.parse::<i64>().map(Version::V1).map_err(|_| ERR.to_string())
    }

    /// True if `self` is strictly older than `other` (upstream's `Older`).
    pub fn older(self, other: Version) -> bool {
        match (self, other) {
            (Version::Latest, _) => false,
            (_, Version::Latest) => true,
            (Version::V1(a), Version::V1(b)) => a < b,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(m) => write!(f, "v1.{m}"),
        }
    }
}

/// A level pinned to a version, displayed `level:version` as in every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub const fn new(level: Level, version: Version) -> Self {
        LevelVersion { level, version }
    }

    /// Privileged is privileged whatever the version; otherwise both must match.
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// One `field.Invalid` error, rendered as upstream's `field.Error` (`<field>: Invalid value: "<v>": <detail>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `Invalid` or `Duplicate` (upstream's cause type, without the `Field` prefix).
    pub kind: FieldErrorKind,
    pub field: String,
    pub value: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Invalid,
    Duplicate,
}

impl FieldError {
    pub(crate) fn invalid(field: String, value: &str, detail: impl Into<String>) -> Self {
        FieldError { kind: FieldErrorKind::Invalid, field, value: value.to_string(), detail: detail.into() }
    }

    pub(crate) fn duplicate(field: String, value: &str) -> Self {
        FieldError { kind: FieldErrorKind::Duplicate, field, value: value.to_string(), detail: String::new() }
    }

    /// The Status cause type (`FieldValueInvalid`, `FieldValueDuplicate`).
    pub fn cause_type(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
        }
    }

    /// The message without the field (a Status cause's `message`).
    pub fn body(&self) -> String {
        let kind = match self.kind {
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Duplicate => "Duplicate value",
        };
        let mut s = format!("{kind}: {}", go_quote(&self.value));
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Renders a list as `errors.NewAggregate` does: one error bare, several bracketed, duplicates dropped.
pub fn aggregate_errors<T: fmt::Display>(errs: &[T]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let s = e.to_string();
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.swap_remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// The three modes' level-versions for one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

fn label_path(label: &str) -> String {
    format!("metadata.labels[{label}]")
}

impl Policy {
    /// All modes privileged: nothing to evaluate.
    pub fn fully_privileged(&self) -> bool {
        self.enforce.level == Level::Privileged
            && self.audit.level == Level::Privileged
            && self.warn.level == Level::Privileged
    }

    pub fn equivalent(&self, other: &Policy) -> bool {
        self.enforce.equivalent(&other.enforce)
            && self.audit.equivalent(&other.audit)
            && self.warn.equivalent(&other.warn)
    }

    /// Upstream's `PolicyToEvaluate`: labels override `defaults`. A bad enforce level fails
    /// closed (restricted), bad audit/warn levels fail open (privileged), bad versions mean
    /// latest; each bad label is reported. Without an explicit warn label, warn is raised to
    /// a stricter enforce level (and its version, unless warn-version is set) so that users
    /// see warnings for what enforce rejects.
    pub fn from_labels(labels: &BTreeMap<String, String>, defaults: &Policy) -> (Policy, Vec<FieldError>) {
        let mut p = *defaults;
        let mut errs = Vec::new();
        if labels.is_empty() {
            return (p, errs);
        }
        let mut has_enforce_level = false;
        if let Some(v) = labels.get(ENFORCE_LEVEL_LABEL) {
            match Level::parse(v) {
                Ok(l) => {
                    p.enforce.level = l;
                    has_enforce_level = true;
                }
                Err(e) => {
                    p.enforce.level = Level::Restricted;
                    errs.push(FieldError::invalid(label_path(ENFORCE_LEVEL_LABEL), v, e));
                }
            }
        }
        let version = |label: &str, target: &mut Version, errs: &mut Vec<FieldError>| {
            if let Some(v) = labels.get(label) {
                *target = Version::parse(v).unwrap_or_else(|e| {
                    errs.push(FieldError::invalid(label_path(label), v, e));
                    Version::Latest
                });
            }
        };
        version(ENFORCE_VERSION_LABEL, &mut p.enforce.version, &mut errs);
        if let Some(v) = labels.get(AUDIT_LEVEL_LABEL) {
            p.audit.level = Level::parse(v).unwrap_or_else(|e| {
                errs.push(FieldError::invalid(label_path(AUDIT_LEVEL_LABEL), v, e));
                Level::Privileged
            });
        }
        version(AUDIT_VERSION_LABEL, &mut p.audit.version, &mut errs);
        let has_warn_level = labels.contains_key(WARN_LEVEL_LABEL);
        if let Some(v) = labels.get(WARN_LEVEL_LABEL) {
            p.warn.level = Level::parse(v).unwrap_or_else(|e| {
                errs.push(FieldError::invalid(label_path(WARN_LEVEL_LABEL), v, e));
                Level::Privileged
            });
        }
        let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
        version(WARN_VERSION_LABEL, &mut p.warn.version, &mut errs);
        if !has_warn_level && has_enforce_level && p.enforce.level > p.warn.level {
            p.warn.level = p.enforce.level;
            if !has_warn_version {
                p.warn.version = p.enforce.version;
            }
        }
        (p, errs)
    }
}
