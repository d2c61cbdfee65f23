//! Kind-specific validation (everything but ObjectMeta), as upstream's `Validate<Kind>` and
//! `Validate<Kind>Update` functions do it (v1.33), with upstream's field paths, error types and
//! detail messages.
//!
//! Objects arrive in their v1 JSON shape, already defaulted. Where upstream validates the
//! internal type, paths follow the internal field names exactly as upstream prints them (quirks
//! included, e.g. `metadata.taints` for node taints). Values that upstream renders with Go's
//! `%#v` (maps, selectors, small structs) are rendered the same way where practical.
//!
//! Nothing here panics on malformed input: every field is read defensively.

use crate::field::{ErrorType, FieldError, FieldPath};
use crate::meta::{
    is_dns1123_label, is_dns1123_subdomain, is_path_segment_name, is_qualified_name, is_valid_label_value,
    max_len_error, regex_error, validate_annotations,
};
use crate::registry::ResourceDef;
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type Errs = Vec<FieldError>;
type P = FieldPath;

static NULL: Value = Value::Null;

mod apps;
mod batch;
mod certificates;
mod coordination;
mod core;
mod discovery;
mod policy;
mod quantity;
mod rbac;
mod scheduling;
mod selectors;
mod syntax;
mod util;

use apps::*;
use batch::*;
use certificates::*;
use coordination::*;
use core::*;
use discovery::*;
use policy::*;
use quantity::*;
use rbac::*;
use scheduling::*;
use selectors::*;
use syntax::*;
use util::*;

pub use certificates::validate_csr_subresource_update;
pub use core::validate_ephemeral_containers_update;
pub use core::validate_pod_spec;
pub use quantity::Quantity;

/// Validates the kind-specific parts of `obj`; `old` is the stored object on update.
pub fn validate(rd: &ResourceDef, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = g(obj, "spec");
    let sp = P::new("spec");
    let errs: Errs = match (rd.group, rd.kind) {
        ("", "Pod") => match old {
            None => validate_pod_create(obj),
            Some(o) => validate_pod_update(obj, o),
        },
        ("", "PodTemplate") => validate_pod_template_spec(g(obj, "template"), &P::new("template")),
        ("", "Service") => match old {
            None => validate_service(obj, &normalized_cluster_ips(spec, None)),
            Some(o) => validate_service_update(obj, o),
        },
        ("", "ReplicationController") => validate_rc_spec(spec),
        ("", "Namespace") => match old {
            None => validate_namespace(obj),
            Some(_) => vec![],
        },
        ("", "ConfigMap") => match old {
            None => validate_config_map(obj),
            Some(o) => validate_config_map_update(obj, o),
        },
        ("", "Secret") => match old {
            None => validate_secret(obj),
            Some(o) => validate_secret_update(obj, o),
        },
        ("", "Endpoints") => validate_endpoints(obj),
        ("", "Node") => match old {
            None => validate_node(obj),
            Some(o) => validate_node_update(obj, o),
        },
        ("", "Event") => match old {
            None => validate_event_create(obj, false),
            Some(o) => validate_event_update(obj, o, false),
        },
        ("events.k8s.io", "Event") => match old {
            None => validate_event_create(obj, true),
            Some(o) => validate_event_update(obj, o, true),
        },
        ("", "ResourceQuota") => validate_resource_quota(obj),
        ("", "PersistentVolumeClaim") => match old {
            None => validate_pvc_spec(spec, &sp),
            Some(o) => validate_pvc_update(obj, o),
        },
        ("apps", "Deployment") => {
            let mut e = validate_deployment(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "ReplicaSet") => {
            let mut e = validate_replica_set(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "DaemonSet") => {
            let mut e = validate_daemon_set(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "StatefulSet") => match old {
            None => validate_stateful_set_spec(spec),
            Some(o) => validate_stateful_set_update(obj, o),
        },
        ("apps", "ControllerRevision") => {
            let mut e = validate_controller_revision(obj);
            if let Some(o) = old {
                e.extend(immutable_field(g(obj, "data"), g(o, "data"), &P::new("data"), |v| {
                    go_struct("runtime.RawExtension", v)
                }));
            }
            e
        }
        ("batch", "Job") => match old {
            None => validate_job(obj, true),
            Some(o) => validate_job_update(obj, o),
        },
        ("batch", "CronJob") => {
            let mut e = validate_cron_job_spec(spec, old.map(|o| g(o, "spec")));
            let name = st(g(obj, "metadata"), "name");
            if old.is_none() && name.len() > 52 {
                e.push(inv(&path("metadata.name"), name, "must be no more than 52 characters"));
            }
            e
        }
        ("discovery.k8s.io", "EndpointSlice") => match old {
            None => validate_endpoint_slice(obj, &["FQDN", "IPv4", "IPv6"]),
            Some(o) => {
                let mut e = validate_endpoint_slice(obj, &["FQDN", "IP", "IPv4", "IPv6"]);
                e.extend(immutable_field(
                    g(obj, "addressType"),
                    g(o, "addressType"),
                    &P::new("addressType"),
                    render_scalar,
                ));
                e
            }
        },
        ("coordination.k8s.io", "Lease") => validate_lease(obj),
        ("scheduling.k8s.io", "PriorityClass") => match old {
            None => validate_priority_class(obj),
            Some(o) => validate_priority_class_update(obj, o),
        },
        ("rbac.authorization.k8s.io", "Role") => validate_role(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => validate_role(obj, false),
        ("rbac.authorization.k8s.io", kind @ ("RoleBinding" | "ClusterRoleBinding")) => {
            let mut e = validate_role_binding(obj, kind == "RoleBinding");
            if let Some(o) = old {
                e.extend(validate_role_binding_update(obj, o));
            }
            e
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => match old {
            None => validate_csr(obj, None),
            Some(o) => validate_csr_update(obj, o),
        },
        ("policy", "PodDisruptionBudget") => validate_pdb(obj),
        _ => vec![],
    };
    dedup(errs)
}

/// Drops exact repeats, as upstream's aggregate does when rendering the message.
fn dedup(errs: Errs) -> Errs {
    let mut seen = HashSet::new();
    errs.into_iter().filter(|e| seen.insert(e.to_string())).collect()
}

#[cfg(test)]
mod tests;
