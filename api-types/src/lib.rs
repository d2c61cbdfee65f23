//! The Kubernetes object model shared by every component: the registry of built-in resources,
//! defaulting and validation as upstream v1.33 does them, label and field selectors.
//!
//! Architecture invariant: this crate does no I/O and has no async runtime. Everything here is a
//! plain function of objects, so it is tested without a server.

pub mod convert;
pub mod field;
pub mod go;
pub mod json;
pub mod kinds;
pub mod meta;
pub mod patch_meta;
pub mod quota;
pub mod registry;
pub mod registry_data;
pub mod scheduling;
pub mod selector;
pub mod serviceaccount;
pub mod storage;
pub mod tables;

pub use field::{ErrorType, FieldError, FieldPath};
pub use registry::{ResourceDef, SubresourceDef};

/// Every resource of every served group/version.
pub fn resources() -> &'static [ResourceDef] {
    registry_data::RESOURCES
}

/// Looks a resource up by group, version and plural (the URL form).
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    resources().iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by group, version and kind.
pub fn lookup_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceDef> {
    resources().iter().find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Splits `apiVersion` into group and version (`v1` -> ("", "v1")).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The groups served, in upstream's discovery priority order, each with its versions
/// (preferred first).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in resources() {
        if r.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) => {
                if !vs.contains(&r.version) {
                    vs.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    for (g, vs) in out.iter_mut() {
        // Upstream prefers the newest stable version: autoscaling/v2 over v1.
        if *g == "autoscaling" {
            vs.sort_by(|a, b| b.cmp(a));
        }
    }
    out
}
