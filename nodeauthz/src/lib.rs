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

/// Go's `%q` for the names upstream quotes in its messages: clients match on those texts.
pub fn go_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let n = c as u32;
                // Writing to a String cannot fail.
                let _ = if n < 0x80 { write!(out, "\\x{n:02x}") } else { write!(out, "\\u{n:04x}") };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
