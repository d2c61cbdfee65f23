//! Pod Security Standards (privileged, baseline, restricted) and the PodSecurity admission
//! decisions, following upstream's `k8s.io/pod-security-admission` at v1.33 so that messages,
//! warnings and audit annotations match what clients and tests expect. Pure: the apiserver
//! supplies namespace labels and pods, this crate decides.

#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod checks;
mod quote;

pub use admission::{
    admit, admit_namespace, admit_pod, admit_workload, enforce_message, evaluate_pods_in_namespace,
    extract_pod_template, forbidden_message, has_pod_spec, invalid_message, would_violate_message, Config, Decision,
    Exemptions, NamespaceRequest, Operation, Request, Status,
};
pub use api::{FieldError, Level, LevelVersion, Policy, Version};
pub use checks::{check_ids, check_pod, check_pod_with, AggregateCheckResult, CheckOptions, CheckResult};
pub use quote::go_quote;

/// Errors of this crate; admission itself never fails, it decides.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The PodSecurity admission configuration could not be read or is invalid.
    #[error("PodSecurity invalid: {0}")]
    InvalidConfiguration(String),
}
