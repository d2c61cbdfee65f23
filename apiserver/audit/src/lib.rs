//! API audit logging, after upstream `k8s.io/apiserver` v1.33 (`pkg/audit`, `pkg/audit/policy`,
//! `plugin/pkg/audit/log`).
//!
//! Three pieces, usable separately:
//! - [`Policy`]: the `audit.k8s.io/v1` `Policy` file (`--audit-policy-file`), validated like
//!   upstream, and [`Policy::evaluate`] turning a request's [`Attributes`] into a
//!   [`RequestAuditConfig`] (first matching rule wins; no match means [`Level::None`]).
//! - [`Event`]: the `audit.k8s.io/v1` `Event` with upstream's JSON field names, and
//!   [`RequestAudit`], the per-request state machine (upstream's `AuditContext` plus the
//!   `WithAudit` filter) that decides which stages are emitted and what each level records.
//! - [`LogBackend`]: the `--audit-log-path` JSON-lines writer with size-based rotation.
#![forbid(unsafe_code)]

mod backend;
mod event;
mod policy;
mod request;

use std::path::PathBuf;

pub use backend::{
    LogBackend, LogOptions, DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_BACKUPS, DEFAULT_MAX_SIZE_MB, STDOUT_PATH,
};
pub use event::{
    source_ips, Event, Level, ListMeta, ObjectReference, RequestMetadata, ResponseStatus, Stage, UserInfo, API_VERSION,
    HEADER_AUDIT_ID, KIND_EVENT,
};
pub use policy::{Attributes, GroupResources, Policy, PolicyRule, RequestAuditConfig};
pub use request::{
    new_audit_id, RequestAudit, Sink, ANNOTATION_AUTHZ_DECISION, ANNOTATION_AUTHZ_REASON, DECISION_ALLOW,
    DECISION_FORBID, REASON_INTERNAL_ERROR,
};

/// Everything that can go wrong loading a policy or writing the log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `--audit-policy-file` was given as an empty string.
    #[error("file path not specified")]
    NoPolicyPath,
    /// The policy file could not be read.
    #[error("failed to read file path {path:?}: {source}")]
    ReadPolicy { path: PathBuf, source: std::io::Error },
    /// A parse or validation error, tagged with the file it came from (upstream appends the path).
    #[error("{source}: from file {}", path.display())]
    PolicyFile { path: PathBuf, source: Box<AuditError> },
    /// The document is not a decodable `audit.k8s.io/v1` `Policy`.
    #[error("failed decoding: {0}")]
    Decode(String),
    /// Field validation failed; rendered like apimachinery's aggregated `field.ErrorList`.
    #[error("{}", aggregate(.0))]
    Invalid(Vec<String>),
    /// A policy must have at least one rule.
    #[error("loaded illegal policy with 0 rules")]
    NoRules,
    /// The log file could not be opened, rotated or written.
    #[error("audit log {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A single event is larger than `--audit-log-maxsize` (lumberjack refuses such writes too).
    #[error("write length {len} exceeds maximum file size {max}")]
    TooLarge { len: u64, max: u64 },
    /// An event could not be serialized.
    #[error("encoding audit event: {0}")]
    Encode(String),
}

/// apimachinery's `utilerrors.NewAggregate(..).Error()`: one message bare, several deduplicated
/// inside brackets.
fn aggregate(msgs: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in msgs {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen[0].to_string(),
        _ => format!("[{}]", seen.join(", ")),
    }
}
