//! Upstream's Node authorizer and NodeRestriction admission plugin (v1.33). Kubelets act as
//! `system:node:<name>` in `system:nodes`; these two together confine each kubelet to its own
//! Node, its pods, and exactly the secrets, configmaps, volumes, claims and tokens those pods
//! use. Pure: the apiserver feeds the [`Graph`] from watch events and asks for decisions.

#![forbid(unsafe_code)]

pub mod admission;
pub mod authorizer;
mod csr;
pub mod graph;
mod refs;

pub use admission::{admit, lookups, AdmissionRequest, Lookups, Operation, Rejection};
pub use authorizer::{
    authorize, node_identity, parse_field_selector, rules_for, Decision, FieldRequirement, RulesFor, NODES_GROUP,
    NODE_LEASE_NAMESPACE, NODE_USER_PREFIX,
};
pub use graph::{Graph, ObjectKind, MIRROR_POD_ANNOTATION};

/// Go's `%q`, as upstream quotes names in its messages.
pub use api_types::go::quote as go_quote;

#[cfg(test)]
mod tests;
