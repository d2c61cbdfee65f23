//! The security pipeline: who is asking (`authn`), whether they may (`authz`, `rbac`), and
//! acting as someone else (`impersonation`). Token authenticators live in their own modules.

pub mod abac;
pub mod authn;
pub mod authz;
pub mod bootstrap_token;
pub mod escalation;
pub mod impersonation;
pub mod node;
pub mod rbac;
pub mod serviceaccount;
pub mod token_file;
pub mod webhook_authz;

use crate::request_info::RequestInfo;
use std::collections::BTreeMap;

pub const ALL_AUTHENTICATED: &str = "system:authenticated";
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";
pub const MASTERS: &str = "system:masters";

/// Who is making a request (upstream's `user.Info`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        UserInfo { name: ANONYMOUS.into(), groups: vec![ALL_UNAUTHENTICATED.into()], ..Default::default() }
    }

    /// Adds `system:authenticated` unless present (upstream's `AuthenticatedGroupAdder`).
    pub fn with_authenticated(mut self) -> Self {
        if !self.groups.iter().any(|g| g == ALL_AUTHENTICATED) {
            self.groups.push(ALL_AUTHENTICATED.into());
        }
        self
    }

    /// The request as the authorizers see it.
    pub fn attributes(&self, info: &RequestInfo) -> ::rbac::Attributes {
        ::rbac::Attributes {
            user: self.name.clone(),
            groups: self.groups.clone(),
            verb: info.verb.clone(),
            is_resource: info.is_resource,
            api_group: info.group.clone(),
            api_version: info.version.clone(),
            namespace: info.namespace.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            name: info.authz_name(),
            path: info.path.clone(),
            field_selector: info.field_selector.clone(),
        }
    }

    /// `userInfo` as the review APIs and audit events render it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("username".into(), self.name.clone().into());
        if !self.uid.is_empty() {
            m.insert("uid".into(), self.uid.clone().into());
        }
        if !self.groups.is_empty() {
            m.insert("groups".into(), self.groups.clone().into());
        }
        if !self.extra.is_empty() {
            m.insert("extra".into(), serde_json::to_value(&self.extra).unwrap_or_default());
        }
        serde_json::Value::Object(m)
    }
}

/// The outcome of authentication for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthnResult {
    User(UserInfo),
    /// Credentials were presented but are not valid: 401.
    Unauthorized,
}

/// Go's `%q` of a string, as upstream's messages quote names.
pub use api_types::go::quote as go_quote;

/// Upstream's forbidden message: `nodes is forbidden: User "jerome" cannot list resource
/// "nodes" in API group "" at the cluster scope`.
pub fn forbidden_message(a: &::rbac::Attributes, reason: &str) -> String {
    let mut msg = if a.is_resource {
        let res =
            if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
        let gr = if a.api_group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.api_group) };
        let subject = if a.name.is_empty() { gr } else { format!("{gr} {}", go_quote(&a.name)) };
        let scope = if a.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {}", go_quote(&a.namespace))
        };
        format!(
            "{subject} is forbidden: User {} cannot {} resource {} in API group {} {scope}",
            go_quote(&a.user),
            a.verb,
            go_quote(&res),
            go_quote(&a.api_group)
        )
    } else {
        format!("forbidden: User {} cannot {} path {}", go_quote(&a.user), a.verb, go_quote(&a.path))
    };
    if !reason.is_empty() {
        msg.push_str(": ");
        msg.push_str(reason);
    }
    msg
}
