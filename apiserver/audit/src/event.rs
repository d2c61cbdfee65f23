//! The `audit.k8s.io/v1` `Event` and the types it embeds, serialized exactly as upstream's JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::policy::Attributes;

/// `apiVersion` of every event and policy this crate reads or writes.
pub const API_VERSION: &str = "audit.k8s.io/v1";
/// `kind` of an audit event.
pub const KIND_EVENT: &str = "Event";
/// Request header a client may set to choose the audit ID; the server echoes it back.
pub const HEADER_AUDIT_ID: &str = "Audit-ID";

/// Upstream truncates user agents so one client cannot bloat every event.
const MAX_USER_AGENT_LENGTH: usize = 1024;
const USER_AGENT_TRUNCATE_SUFFIX: &str = "...TRUNCATED";

/// How much of a request is recorded. Ordered so `level >= Level::Request` reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub enum Level {
    /// Not audited at all.
    #[default]
    None,
    /// User, verb, resource, timestamps, status; no bodies.
    Metadata,
    /// Metadata plus the request body.
    Request,
    /// Metadata plus request and response bodies.
    RequestResponse,
}

impl Level {
    /// Every level, lowest first (upstream's order in validation messages).
    pub const ALL: [Level; 4] = [Level::None, Level::Metadata, Level::Request, Level::RequestResponse];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    /// Parses the wire spelling (case-sensitive, as upstream).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Point in the request's life an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// As soon as the audit handler sees the request, before it is served.
    RequestReceived,
    /// Response headers sent; only emitted for long-running requests (watch, exec, ...).
    ResponseStarted,
    /// Response body finished.
    ResponseComplete,
    /// The handler panicked.
    Panic,
}

impl Stage {
    /// Every stage, in upstream's order.
    pub const ALL: [Stage; 4] = [Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete, Stage::Panic];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    /// Parses the wire spelling (case-sensitive, as upstream).
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `authentication.k8s.io/v1` `UserInfo`; every field is omitted when empty, as upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The object a resource request targets; empty fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

impl ObjectReference {
    /// What upstream's `LogRequestMetadata` records; `None` for non-resource requests.
    pub fn from_attributes(attrs: &Attributes) -> Option<ObjectReference> {
        attrs.is_resource.then(|| ObjectReference {
            resource: attrs.resource.clone(),
            namespace: attrs.namespace.clone(),
            name: attrs.name.clone(),
            api_group: attrs.api_group.clone(),
            api_version: attrs.api_version.clone(),
            subresource: attrs.subresource.clone(),
            ..Default::default()
        })
    }
}

/// `metav1.ListMeta` as it appears in `responseStatus`: upstream never copies it, but Go's
/// encoder still writes the struct, so the JSON always carries `"metadata":{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {}

/// The bounded subset of `metav1.Status` upstream copies into `responseStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseStatus {
    #[serde(default)]
    pub metadata: ListMeta,
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Machine-readable reason such as `Forbidden` or `NotFound`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// `metav1.StatusDetails`, kept as JSON since the audit log only passes it through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}

fn is_zero(c: &i32) -> bool {
    *c == 0
}

impl ResponseStatus {
    /// Just the HTTP code: what a successful, non-`Status` response records.
    pub fn with_code(code: i32) -> ResponseStatus {
        ResponseStatus { code, ..Default::default() }
    }

    /// A `Failure` status, as the panic path and error responses record it.
    pub fn failure(code: i32, reason: impl Into<String>, message: impl Into<String>) -> ResponseStatus {
        ResponseStatus {
            status: "Failure".into(),
            reason: reason.into(),
            message: message.into(),
            code,
            ..Default::default()
        }
    }

    /// The fields upstream copies when the response body is a `metav1.Status` (`kind: Status`,
    /// core `v1`); `None` for any other object.
    pub fn from_status_object(obj: &Value) -> Option<ResponseStatus> {
        let m = obj.as_object()?;
        if m.get("kind").and_then(Value::as_str) != Some("Status") {
            return None;
        }
        if !matches!(m.get("apiVersion").and_then(Value::as_str), None | Some("" | "v1")) {
            return None;
        }
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(ResponseStatus {
            status: s("status"),
            message: s("message"),
            reason: s("reason"),
            details: m.get("details").filter(|d| !d.is_null()).cloned(),
            code: m.get("code").and_then(Value::as_i64).and_then(|c| i32::try_from(c).ok()).unwrap_or(0),
            ..Default::default()
        })
    }
}

/// What the request itself tells us, gathered once by the apiserver (upstream's
/// `LogRequestMetadata` inputs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestMetadata {
    /// Path plus query string, as received.
    pub request_uri: String,
    /// Kubernetes verb (`get`, `list`, `watch`, ...) or lower-case HTTP method for non-resource
    /// requests.
    pub verb: String,
    /// The authenticated user (before impersonation).
    pub user: UserInfo,
    /// Usually from [`source_ips`].
    pub source_ips: Vec<String>,
    /// Raw `User-Agent`; truncated on the way into the event.
    pub user_agent: String,
    /// Usually from [`ObjectReference::from_attributes`].
    pub object_ref: Option<ObjectReference>,
}

/// One `audit.k8s.io/v1` `Event`; field order and names match upstream's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: String,
    pub api_version: String,
    pub level: Level,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: Stage,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub verb: String,
    pub user: UserInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<UserInfo>,
    #[serde(rename = "sourceIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<ResponseStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_object: Option<Value>,
    #[serde(with = "micro_time")]
    pub request_received_timestamp: DateTime<Utc>,
    #[serde(with = "micro_time")]
    pub stage_timestamp: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Event {
    /// A fresh event at `RequestReceived`, filled in as upstream's `LogRequestMetadata` does.
    pub fn new(level: Level, audit_id: impl Into<String>, received: DateTime<Utc>, meta: RequestMetadata) -> Event {
        Event {
            kind: KIND_EVENT.into(),
            api_version: API_VERSION.into(),
            level,
            audit_id: audit_id.into(),
            stage: Stage::RequestReceived,
            request_uri: meta.request_uri,
            verb: meta.verb,
            user: meta.user,
            impersonated_user: None,
            source_ips: meta.source_ips,
            user_agent: truncate_user_agent(meta.user_agent),
            object_ref: meta.object_ref,
            response_status: None,
            request_object: None,
            response_object: None,
            request_received_timestamp: received,
            stage_timestamp: received,
            annotations: BTreeMap::new(),
        }
    }

    /// Moves the event to `stage`; `RequestReceived` reuses the receive time so both timestamps
    /// agree, as upstream.
    pub fn set_stage(&mut self, stage: Stage, now: DateTime<Utc>) {
        self.stage = stage;
        self.stage_timestamp = if stage == Stage::RequestReceived { self.request_received_timestamp } else { now };
    }

    /// Records who the request acts as after impersonation (Metadata and above).
    pub fn set_impersonated_user(&mut self, user: UserInfo) {
        if self.level >= Level::Metadata {
            self.impersonated_user = Some(user);
        }
    }

    /// Replaces the whole response status (e.g. the panic path).
    pub fn set_response_status(&mut self, status: ResponseStatus) {
        self.response_status = Some(status);
    }

    /// Sets only the HTTP code, keeping any reason/message already taken from a `Status` body.
    pub fn set_response_code(&mut self, code: i32) {
        self.response_status.get_or_insert_with(ResponseStatus::default).code = code;
    }

    /// Completes `objectRef` from the object's metadata (Metadata and above) and keeps the body
    /// itself at Request and above, optionally without `managedFields`.
    pub fn log_request_object(&mut self, obj: &Value, omit_managed_fields: bool) {
        if self.level < Level::Metadata {
            return;
        }
        let r = self.object_ref.get_or_insert_with(ObjectReference::default);
        if let Some(meta) = obj.get("metadata") {
            let field = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            for (slot, key) in [
                (&mut r.namespace, "namespace"),
                (&mut r.name, "name"),
                (&mut r.uid, "uid"),
                (&mut r.resource_version, "resourceVersion"),
            ] {
                if slot.is_empty() {
                    *slot = field(key);
                }
            }
        }
        if self.level < Level::Request {
            return;
        }
        let mut body = obj.clone();
        if omit_managed_fields {
            strip_managed_fields(&mut body);
        }
        self.request_object = Some(body);
    }

    /// Keeps a patch body as the request object (Request and above). Patches are not objects, so
    /// managed fields are left alone; non-JSON bodies (apply YAML) are kept as a string.
    pub fn log_request_patch(&mut self, patch: &[u8]) {
        if self.level < Level::Request {
            return;
        }
        let body = serde_json::from_slice(patch)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(patch).into_owned()));
        self.request_object = Some(body);
    }

    /// Copies a `Status` body into `responseStatus` (Metadata and above) and keeps the body itself
    /// at RequestResponse, optionally without `managedFields`.
    pub fn log_response_object(&mut self, obj: &Value, omit_managed_fields: bool) {
        if self.level < Level::Metadata {
            return;
        }
        if let Some(status) = ResponseStatus::from_status_object(obj) {
            self.response_status = Some(status);
        }
        if self.level < Level::RequestResponse {
            return;
        }
        let mut body = obj.clone();
        if omit_managed_fields {
            strip_managed_fields(&mut body);
        }
        self.response_object = Some(body);
    }

    /// Adds an annotation. Like upstream, an existing key is never overwritten with a different
    /// value (so a later filter cannot rewrite an authorization decision); returns whether the
    /// value is now present.
    pub fn add_annotation(&mut self, key: impl Into<String>, value: impl Into<String>) -> bool {
        let (key, value) = (key.into(), value.into());
        match self.annotations.get(&key) {
            Some(existing) if *existing != value => {
                tracing::warn!(
                    audit_id = %self.audit_id,
                    key = %key,
                    value = %value,
                    existing = %existing,
                    "refusing to overwrite audit annotation"
                );
                false
            }
            _ => {
                self.annotations.insert(key, value);
                true
            }
        }
    }
}

/// Drops `metadata.managedFields` from an object, each item of a list, and each row object of a
/// `Table` (the shapes upstream's `copyWithoutManagedFields` handles).
pub(crate) fn strip_managed_fields(obj: &mut Value) {
    fn strip_one(v: &mut Value) {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    strip_one(obj);
    if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(strip_one);
    }
    if obj.get("kind").and_then(Value::as_str) == Some("Table") {
        if let Some(rows) = obj.get_mut("rows").and_then(Value::as_array_mut) {
            for row in rows {
                if let Some(o) = row.get_mut("object") {
                    strip_one(o);
                }
            }
        }
    }
}

fn truncate_user_agent(mut ua: String) -> String {
    if ua.len() > MAX_USER_AGENT_LENGTH {
        // Go slices bytes; back off to a char boundary so we never split UTF-8.
        let mut cut = MAX_USER_AGENT_LENGTH;
        while !ua.is_char_boundary(cut) {
            cut -= 1;
        }
        ua.truncate(cut);
        ua.push_str(USER_AGENT_TRUNCATE_SUFFIX);
    }
    ua
}

/// `utilnet.SourceIPs`: every valid `X-Forwarded-For` entry, then `X-Real-Ip` unless already
/// listed, then the peer address unless it equals the last entry. Invalid entries are skipped.
pub fn source_ips(x_forwarded_for: Option<&str>, x_real_ip: Option<&str>, remote: Option<IpAddr>) -> Vec<String> {
    let parse = |s: &str| s.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Some(xff) = x_forwarded_for {
        ips.extend(xff.split(',').filter_map(parse));
    }
    if let Some(ip) = x_real_ip.and_then(parse) {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if let Some(ip) = remote.map(|ip| ip.to_canonical()) {
        if ips.last() != Some(&ip) {
            ips.push(ip);
        }
    }
    ips.into_iter().map(|ip| ip.to_string()).collect()
}

/// `metav1.MicroTime` on the wire: UTC RFC 3339 with exactly six fractional digits.
mod micro_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap_or_default()
    }

    fn pod_event(level: Level) -> Event {
        let meta = RequestMetadata {
            request_uri: "/api/v1/namespaces/default/pods".into(),
            verb: "create".into(),
            user: UserInfo {
                username: "alice".into(),
                groups: vec!["system:authenticated".into()],
                ..Default::default()
            },
            source_ips: vec!["10.0.0.1".into()],
            user_agent: "kubectl/v1.33.0".into(),
            object_ref: Some(ObjectReference {
                resource: "pods".into(),
                namespace: "default".into(),
                api_version: "v1".into(),
                ..Default::default()
            }),
        };
        Event::new(level, "a1b2", t0(), meta)
    }

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default", "uid": "u-1",
            "resourceVersion": "7", "managedFields": [{"manager": "kubectl"}]}, "spec": {}})
    }

    #[test]
    fn metadata_event_json_shape() {
        let mut ev = pod_event(Level::Metadata);
        ev.log_request_object(&pod(), false);
        ev.log_response_object(&pod(), false);
        ev.set_response_code(201);
        ev.add_annotation("authorization.k8s.io/decision", "allow");
        ev.add_annotation("authorization.k8s.io/reason", "");
        ev.set_stage(Stage::ResponseComplete, t0() + chrono::Duration::microseconds(1500));
        let line = serde_json::to_string(&ev).unwrap_or_default();
        assert_eq!(
            line,
            concat!(
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1b2","#,
                r#""stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","#,
                r#""user":{"username":"alice","groups":["system:authenticated"]},"sourceIPs":["10.0.0.1"],"#,
                r#""userAgent":"kubectl/v1.33.0","objectRef":{"resource":"pods","namespace":"default","name":"web","#,
                r#""uid":"u-1","apiVersion":"v1","resourceVersion":"7"},"responseStatus":{"metadata":{},"code":201},"#,
                r#""requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.001500Z","#,
                r#""annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}"#
            )
        );
        let back: Event = serde_json::from_str(&line).unwrap_or_else(|_| pod_event(Level::None));
        assert_eq!(back, ev);
    }

    #[test]
    fn request_level_keeps_only_request_body() {
        let mut ev = pod_event(Level::Request);
        ev.log_request_object(&pod(), false);
        ev.log_response_object(&pod(), false);
        assert_eq!(ev.request_object, Some(pod()));
        assert_eq!(ev.response_object, None);
    }

    #[test]
    fn request_response_level_keeps_both_and_can_drop_managed_fields() {
        let mut ev = pod_event(Level::RequestResponse);
        ev.log_request_object(&pod(), true);
        ev.log_response_object(&json!({"kind": "PodList", "items": [pod(), pod()]}), true);
        let req = ev.request_object.clone().unwrap_or_default();
        assert!(req["metadata"].get("managedFields").is_none());
        assert_eq!(req["metadata"]["name"], "web");
        let resp = ev.response_object.clone().unwrap_or_default();
        assert!(resp["items"][1]["metadata"].get("managedFields").is_none());
        let v = serde_json::to_value(&ev).unwrap_or_default();
        assert!(v.get("requestObject").is_some() && v.get("responseObject").is_some());

        let mut kept = pod_event(Level::RequestResponse);
        kept.log_request_object(&pod(), false);
        assert!(kept.request_object.unwrap_or_default()["metadata"].get("managedFields").is_some());
    }

    #[test]
    fn table_rows_lose_managed_fields() {
        let mut t = json!({"kind": "Table", "rows": [{"cells": [], "object": pod()}]});
        strip_managed_fields(&mut t);
        assert!(t["rows"][0]["object"]["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn status_body_becomes_response_status() {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "pods \"x\" not found", "reason": "NotFound",
            "details": {"name": "x", "kind": "pods"}, "code": 404});
        let mut ev = pod_event(Level::Metadata);
        ev.log_response_object(&status, false);
        ev.set_response_code(404);
        let v = serde_json::to_value(&ev).unwrap_or_default();
        assert_eq!(
            v["responseStatus"],
            json!({"metadata": {}, "status": "Failure", "message": "pods \"x\" not found", "reason": "NotFound",
                "details": {"name": "x", "kind": "pods"}, "code": 404})
        );
        assert!(v.get("responseObject").is_none());
        assert!(ResponseStatus::from_status_object(&pod()).is_none());
    }

    #[test]
    fn patches_and_annotations() {
        let mut ev = pod_event(Level::Request);
        ev.log_request_patch(br#"{"spec":{"replicas":2}}"#);
        assert_eq!(ev.request_object, Some(json!({"spec": {"replicas": 2}})));
        ev.log_request_patch(b"spec:\n  replicas: 3\n");
        assert_eq!(ev.request_object, Some(json!("spec:\n  replicas: 3\n")));
        let mut md = pod_event(Level::Metadata);
        md.log_request_patch(b"{}");
        assert!(md.request_object.is_none());

        assert!(ev.add_annotation("k", "v"));
        assert!(ev.add_annotation("k", "v"));
        assert!(!ev.add_annotation("k", "other"));
        assert_eq!(ev.annotations["k"], "v");
    }

    #[test]
    fn request_received_stage_uses_receive_time() {
        let mut ev = pod_event(Level::Metadata);
        ev.set_stage(Stage::RequestReceived, t0() + chrono::Duration::seconds(5));
        assert_eq!(ev.stage_timestamp, t0());
    }

    #[test]
    fn user_agent_truncation_respects_utf8() {
        let ua = "é".repeat(600); // 1200 bytes, boundary at odd offsets
        let out = truncate_user_agent(ua);
        assert!(out.ends_with(USER_AGENT_TRUNCATE_SUFFIX));
        assert!(out.len() <= MAX_USER_AGENT_LENGTH + USER_AGENT_TRUNCATE_SUFFIX.len());
        assert_eq!(truncate_user_agent("short".into()), "short");
    }

    #[test]
    fn source_ip_chain() {
        let remote: Option<IpAddr> = "10.0.0.9".parse().ok();
        assert_eq!(
            source_ips(Some("1.2.3.4, bogus, 5.6.7.8"), Some("1.2.3.4"), remote),
            ["1.2.3.4", "5.6.7.8", "10.0.0.9"]
        );
        assert_eq!(source_ips(Some("10.0.0.9"), None, remote), ["10.0.0.9"]);
        assert_eq!(source_ips(None, Some("7.7.7.7"), "::ffff:10.0.0.9".parse().ok()), ["7.7.7.7", "10.0.0.9"]);
        assert!(source_ips(None, None, None).is_empty());
    }
}
