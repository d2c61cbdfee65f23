//! Per-request audit state: upstream's `AuditContext` plus the stage logic of the `WithAudit`
//! and `WithFailedAuthenticationAudit` filters (v1.33).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::event::{Event, Level, RequestMetadata, ResponseStatus, Stage, UserInfo};
use crate::policy::RequestAuditConfig;
use crate::AuditError;

/// Annotation the authorization filter sets to `allow` or `forbid`.
pub const ANNOTATION_AUTHZ_DECISION: &str = "authorization.k8s.io/decision";
/// Annotation carrying the authorizer's reason (may be empty).
pub const ANNOTATION_AUTHZ_REASON: &str = "authorization.k8s.io/reason";
/// Decision value for an allowed request.
pub const DECISION_ALLOW: &str = "allow";
/// Decision value for a denied request.
pub const DECISION_FORBID: &str = "forbid";
/// Reason recorded when the authorizer itself failed (no decision annotation is set then).
pub const REASON_INTERNAL_ERROR: &str = "internal error";

/// Where finished events go. `Err` means the event was lost; upstream answers 500 when that
/// happens at `RequestReceived`.
pub trait Sink: Send + Sync {
    fn process_event(&self, event: &Event) -> Result<(), AuditError>;
}

/// A fresh audit ID for requests without an `Audit-ID` header (upstream uses a random UUID).
pub fn new_audit_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The audit state of one request. Every method is a cheap no-op when the policy said
/// [`Level::None`], so the apiserver can call them unconditionally.
#[derive(Debug, Clone)]
pub struct RequestAudit {
    config: RequestAuditConfig,
    event: Option<Event>,
    long_running: bool,
    /// Upstream records the first status code only (`sync.Once` in its response writer).
    code_recorded: bool,
}

impl RequestAudit {
    /// Starts auditing a request the policy evaluated to `config`; metadata is only kept when the
    /// level is above `None`.
    pub fn new(
        config: RequestAuditConfig,
        audit_id: impl Into<String>,
        received: DateTime<Utc>,
        meta: RequestMetadata,
    ) -> RequestAudit {
        let event = (config.level != Level::None).then(|| Event::new(config.level, audit_id, received, meta));
        RequestAudit { config, event, long_running: false, code_recorded: false }
    }

    /// Auditing switched off (no policy configured).
    pub fn disabled() -> RequestAudit {
        RequestAudit { config: RequestAuditConfig::default(), event: None, long_running: false, code_recorded: false }
    }

    /// Marks a long-running request (watch, exec, proxy, ...), which also gets a
    /// `ResponseStarted` event when its headers go out.
    pub fn long_running(mut self, yes: bool) -> RequestAudit {
        self.long_running = yes;
        self
    }

    /// Whether anything will be recorded.
    pub fn enabled(&self) -> bool {
        self.event.is_some()
    }

    pub fn config(&self) -> &RequestAuditConfig {
        &self.config
    }

    pub fn event(&self) -> Option<&Event> {
        self.event.as_ref()
    }

    pub fn event_mut(&mut self) -> Option<&mut Event> {
        self.event.as_mut()
    }

    /// The user after impersonation.
    pub fn log_impersonated_user(&mut self, user: UserInfo) {
        if let Some(ev) = &mut self.event {
            ev.set_impersonated_user(user);
        }
    }

    /// The decoded request body of create/update (kept at Request and above).
    pub fn log_request_object(&mut self, obj: &Value) {
        let omit = self.config.omit_managed_fields;
        if let Some(ev) = &mut self.event {
            ev.log_request_object(obj, omit);
        }
    }

    /// The raw body of a patch (kept at Request and above).
    pub fn log_request_patch(&mut self, patch: &[u8]) {
        if let Some(ev) = &mut self.event {
            ev.log_request_patch(patch);
        }
    }

    /// The object about to be written as the response, before headers go out; a `Status` body
    /// fills `responseStatus`, any body is kept at RequestResponse.
    pub fn log_response_object(&mut self, obj: &Value) {
        let omit = self.config.omit_managed_fields;
        if let Some(ev) = &mut self.event {
            ev.log_response_object(obj, omit);
        }
    }

    /// See [`Event::add_annotation`].
    pub fn add_annotation(&mut self, key: &str, value: &str) {
        if let Some(ev) = &mut self.event {
            ev.add_annotation(key, value);
        }
    }

    /// Records the authorizer's verdict the way upstream's authorization filter does.
    pub fn log_authorization(&mut self, allowed: bool, reason: &str) {
        self.add_annotation(ANNOTATION_AUTHZ_DECISION, if allowed { DECISION_ALLOW } else { DECISION_FORBID });
        self.add_annotation(ANNOTATION_AUTHZ_REASON, reason);
    }

    /// Emits `RequestReceived`; call before serving. On `Err` upstream refuses the request with
    /// 500 "failed to store audit event".
    pub fn request_received(&mut self, sink: &dyn Sink) -> Result<(), AuditError> {
        self.process_stage(Stage::RequestReceived, Utc::now(), sink)
    }

    /// Call when the response status line is written. Only the first call records the code; long
    /// running requests emit `ResponseStarted` then.
    pub fn response_started(&mut self, code: i32, sink: &dyn Sink) -> Result<(), AuditError> {
        self.record_code(code, self.long_running, sink)
    }

    /// Emits `ResponseComplete` when the response is done (also when the client went away). A
    /// request that never wrote a status is recorded as 200 "Connection closed early", and a long
    /// running one first gets its missing `ResponseStarted`, as upstream.
    pub fn response_complete(&mut self, sink: &dyn Sink) -> Result<(), AuditError> {
        let Some(ev) = &mut self.event else { return Ok(()) };
        let mut started = Ok(());
        if ev.response_status.is_none() {
            ev.response_status = Some(ResponseStatus {
                status: "Success".into(),
                message: "Connection closed early".into(),
                code: 200,
                ..Default::default()
            });
            if self.long_running {
                started = self.process_stage(Stage::ResponseStarted, Utc::now(), sink);
            }
        }
        let complete = self.process_stage(Stage::ResponseComplete, Utc::now(), sink);
        started.and(complete)
    }

    /// Emits `Panic` when the handler crashed, with upstream's 500 status.
    pub fn panicked(&mut self, message: &str, sink: &dyn Sink) -> Result<(), AuditError> {
        let Some(ev) = &mut self.event else { return Ok(()) };
        ev.set_response_status(ResponseStatus::failure(500, "InternalError", format!("APIServer panic'd: {message}")));
        self.process_stage(Stage::Panic, Utc::now(), sink)
    }

    /// A request rejected by authentication gets a single `ResponseStarted` event carrying the
    /// 401 `Status` body (upstream's `WithFailedAuthenticationAudit`); nothing else is emitted.
    pub fn authentication_failed(&mut self, code: i32, response: &Value, sink: &dyn Sink) -> Result<(), AuditError> {
        self.log_response_object(response);
        self.record_code(code, true, sink)
    }

    fn record_code(&mut self, code: i32, emit: bool, sink: &dyn Sink) -> Result<(), AuditError> {
        if self.code_recorded {
            return Ok(());
        }
        self.code_recorded = true;
        let Some(ev) = &mut self.event else { return Ok(()) };
        ev.set_response_code(code);
        if emit {
            return self.process_stage(Stage::ResponseStarted, Utc::now(), sink);
        }
        Ok(())
    }

    /// Stamps the event with `stage` and hands a snapshot to `sink`, unless the stage is omitted.
    fn process_stage(&mut self, stage: Stage, now: DateTime<Utc>, sink: &dyn Sink) -> Result<(), AuditError> {
        if !self.config.emits(stage) {
            return Ok(());
        }
        let Some(ev) = &mut self.event else { return Ok(()) };
        ev.set_stage(stage, now);
        sink.process_event(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ObjectReference;
    use serde_json::json;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory(Mutex<Vec<Event>>);

    impl Sink for Memory {
        fn process_event(&self, event: &Event) -> Result<(), AuditError> {
            self.0.lock().map_err(|e| AuditError::Encode(e.to_string()))?.push(event.clone());
            Ok(())
        }
    }

    impl Memory {
        fn stages(&self) -> Vec<Stage> {
            self.0.lock().map(|v| v.iter().map(|e| e.stage).collect()).unwrap_or_default()
        }
        fn events(&self) -> Vec<Event> {
            self.0.lock().map(|v| v.clone()).unwrap_or_default()
        }
    }

    struct Failing;
    impl Sink for Failing {
        fn process_event(&self, _: &Event) -> Result<(), AuditError> {
            Err(AuditError::Encode("disk full".into()))
        }
    }

    fn audit(level: Level, omit: &[Stage]) -> RequestAudit {
        let cfg = RequestAuditConfig { level, omit_stages: omit.to_vec(), omit_managed_fields: false };
        let meta = RequestMetadata {
            request_uri: "/api/v1/namespaces/default/pods/web".into(),
            verb: "get".into(),
            object_ref: Some(ObjectReference { resource: "pods".into(), ..Default::default() }),
            ..Default::default()
        };
        RequestAudit::new(cfg, "id-1", Utc::now(), meta)
    }

    #[test]
    fn normal_request_emits_received_then_complete() {
        let sink = Memory::default();
        let mut a = audit(Level::Metadata, &[]);
        assert!(a.request_received(&sink).is_ok());
        a.log_authorization(true, "RBAC: allowed");
        assert!(a.response_started(200, &sink).is_ok());
        assert!(a.response_complete(&sink).is_ok());
        assert_eq!(sink.stages(), [Stage::RequestReceived, Stage::ResponseComplete]);
        let evs = sink.events();
        assert!(evs[0].response_status.is_none());
        assert_eq!(evs[1].response_status, Some(ResponseStatus::with_code(200)));
        assert_eq!(evs[1].annotations[ANNOTATION_AUTHZ_DECISION], "allow");
        assert_eq!(evs[0].stage_timestamp, evs[0].request_received_timestamp);
    }

    #[test]
    fn omitted_stages_and_level_none_emit_nothing() {
        let sink = Memory::default();
        let mut a = audit(Level::Request, &[Stage::RequestReceived]);
        assert!(a.request_received(&sink).is_ok());
        assert!(a.response_complete(&sink).is_ok());
        assert_eq!(sink.stages(), [Stage::ResponseComplete]);

        let sink = Memory::default();
        let mut none = audit(Level::None, &[]);
        assert!(!none.enabled());
        none.log_request_object(&json!({"a": 1}));
        assert!(none.request_received(&sink).is_ok());
        assert!(none.panicked("boom", &sink).is_ok());
        assert!(none.response_complete(&sink).is_ok());
        assert!(sink.stages().is_empty());
        assert!(RequestAudit::disabled().request_received(&Failing).is_ok());
    }

    #[test]
    fn long_running_emits_response_started() {
        let sink = Memory::default();
        let mut a = audit(Level::Metadata, &[]).long_running(true);
        assert!(a.request_received(&sink).is_ok());
        assert!(a.response_started(200, &sink).is_ok());
        assert!(a.response_started(500, &sink).is_ok()); // second call ignored
        assert!(a.response_complete(&sink).is_ok());
        assert_eq!(sink.stages(), [Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete]);
        assert_eq!(sink.events()[2].response_status.as_ref().map(|s| s.code), Some(200));

        // A watch that never wrote headers gets a faked ResponseStarted.
        let sink = Memory::default();
        let mut quiet = audit(Level::Metadata, &[Stage::RequestReceived]).long_running(true);
        assert!(quiet.response_complete(&sink).is_ok());
        assert_eq!(sink.stages(), [Stage::ResponseStarted, Stage::ResponseComplete]);
        let st = sink.events()[1].response_status.clone().unwrap_or_default();
        assert_eq!((st.code, st.status.as_str(), st.message.as_str()), (200, "Success", "Connection closed early"));
    }

    #[test]
    fn panic_stage_records_internal_error() {
        let sink = Memory::default();
        let mut a = audit(Level::Metadata, &[]);
        assert!(a.panicked("index out of range", &sink).is_ok());
        let ev = &sink.events()[0];
        assert_eq!(ev.stage, Stage::Panic);
        assert_eq!(
            ev.response_status,
            Some(ResponseStatus::failure(500, "InternalError", "APIServer panic'd: index out of range"))
        );
    }

    #[test]
    fn failed_authentication_is_one_response_started_event() {
        let sink = Memory::default();
        let mut a = audit(Level::Metadata, &[]);
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        assert!(a.authentication_failed(401, &body, &sink).is_ok());
        assert_eq!(sink.stages(), [Stage::ResponseStarted]);
        let v = serde_json::to_value(&sink.events()[0]).unwrap_or_default();
        assert_eq!(
            v["responseStatus"],
            json!({"metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        );
    }

    #[test]
    fn forbidden_request_carries_status_and_annotations() {
        let sink = Memory::default();
        let mut a = audit(Level::RequestResponse, &[Stage::RequestReceived]);
        a.log_authorization(false, "");
        a.log_authorization(true, "later filters cannot flip the decision");
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "pods \"web\" is forbidden", "reason": "Forbidden", "details": {"name": "web", "kind": "pods"},
            "code": 403});
        a.log_response_object(&body);
        assert!(a.response_started(403, &sink).is_ok());
        assert!(a.response_complete(&sink).is_ok());
        let ev = &sink.events()[0];
        assert_eq!(ev.annotations[ANNOTATION_AUTHZ_DECISION], "forbid");
        assert_eq!(ev.annotations[ANNOTATION_AUTHZ_REASON], "");
        assert_eq!(ev.response_status.as_ref().map(|s| s.reason.as_str()), Some("Forbidden"));
        assert_eq!(ev.response_object, Some(body));
    }

    #[test]
    fn sink_errors_surface() {
        let mut a = audit(Level::Metadata, &[]);
        assert!(a.request_received(&Failing).is_err());
        assert!(a.response_complete(&Failing).is_err());
    }

    #[test]
    fn audit_ids_are_uuids() {
        let (a, b) = (new_audit_id(), new_audit_id());
        assert_eq!(a.len(), 36);
        assert_ne!(a, b);
    }
}
