//! Audit logging glue (`--audit-policy-file`, `--audit-log-path`): the policy decides each
//! request's level, events go to the JSON-lines log as upstream's stages. The policy, event
//! shape and log writer are the `audit` crate's.

use crate::auth::UserInfo;
use crate::request_info::RequestInfo;
use audit::{LogBackend, Policy, RequestAudit, RequestMetadata};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Auditor {
    policy: Policy,
    pub sink: LogBackend,
}

impl Auditor {
    /// Auditing is on when both a policy and a log path are given, as upstream's log backend.
    pub fn from_options(o: &crate::options::Options) -> Result<Option<Arc<Auditor>>, String> {
        let (Some(policy), Some(path)) = (&o.audit_policy_file, &o.audit_log_path) else { return Ok(None) };
        let policy = Policy::load(policy).map_err(|e| e.to_string())?;
        let sink = LogBackend::open(path, o.audit_log_maxsize, o.audit_log_maxbackup, o.audit_log_maxage)
            .map_err(|e| e.to_string())?;
        Ok(Some(Arc::new(Auditor { policy, sink })))
    }

    /// Starts a request's audit: the policy's level for this user and request, and the event's
    /// metadata. `user` is None when authentication failed.
    pub fn begin(
        &self,
        audit_id: &str,
        info: &RequestInfo,
        user: Option<&UserInfo>,
        headers: &http::HeaderMap,
        peer: Option<SocketAddr>,
        uri: &http::Uri,
    ) -> RequestAudit {
        let empty = UserInfo::default();
        let u = user.unwrap_or(&empty);
        let attrs = u.attributes(info);
        let cfg = self.policy.evaluate(&attrs);
        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let meta = RequestMetadata {
            request_uri: uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default(),
            verb: info.verb.clone(),
            user: audit_user(u),
            source_ips: audit::source_ips(h("x-forwarded-for"), h("x-real-ip"), peer.map(|p| p.ip())),
            user_agent: h("user-agent").unwrap_or("").to_string(),
            object_ref: audit::ObjectReference::from_attributes(&attrs),
        };
        RequestAudit::new(cfg, audit_id, chrono::Utc::now(), meta).long_running(info.verb == "watch")
    }
}

pub fn audit_user(u: &UserInfo) -> audit::UserInfo {
    audit::UserInfo { username: u.name.clone(), uid: u.uid.clone(), groups: u.groups.clone(), extra: u.extra.clone() }
}

/// The request's audit ID: the client's `Audit-ID` header when it is a sane value, else new.
pub fn audit_id(headers: &http::HeaderMap) -> String {
    headers
        .get("audit-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(String::from)
        .unwrap_or_else(audit::new_audit_id)
}
