//! API errors, each rendered as upstream's `Status` object with its code, reason, message and
//! details.

use api_types::FieldError;
use serde_json::{json, Value};
use storage::StorageError;

/// Identifies the object an error is about (`details.name`, `details.group`, `details.kind`).
#[derive(Debug, Clone, Default)]
pub struct Qualified {
    pub group: String,
    /// The resource (plural), as upstream puts in `details.kind` for most errors.
    pub resource: String,
    pub name: String,
}

impl Qualified {
    pub fn new(group: &str, resource: &str, name: &str) -> Self {
        Qualified { group: group.into(), resource: resource.into(), name: name.into() }
    }
    /// `configmaps` or `deployments.apps`, as upstream prints it in messages.
    pub fn gr(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{}", .0)]
    BadRequest(String),
    #[error("not found")]
    NotFound(Qualified),
    #[error("the server could not find the requested resource")]
    NotFoundPath,
    #[error("already exists")]
    AlreadyExists(Qualified),
    /// Every generated name tried was taken (`NewGenerateNameConflict`).
    #[error("generated name already exists")]
    GenerateNameConflict(Qualified),
    #[error("conflict")]
    Conflict(Qualified, String),
    #[error("invalid")]
    Invalid { kind: String, group: String, name: String, errors: Vec<FieldError> },
    #[error("method not allowed")]
    MethodNotSupported { resource: String, verb: String },
    #[error("request entity too large")]
    TooLarge(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("not acceptable")]
    NotAcceptable(String),
    #[error("gone")]
    Gone(String),
    #[error("expired")]
    Expired(String),
    #[error("forbidden")]
    Forbidden { qualified: Qualified, message: String },
    #[error("unauthorized")]
    Unauthorized,
    #[error("timeout")]
    Timeout(String, u32),
    #[error("service unavailable")]
    Unavailable(String),
    #[error("internal")]
    Internal(String),
    /// A Status built elsewhere (admission plugins, webhooks): code, reason, message, details.
    #[error("{2}")]
    Raw(u16, String, String, Option<Value>),
    #[error("unprocessable")]
    Unprocessable(String),
    /// A server-side apply conflict: (field, message) per conflicting field.
    #[error("apply conflict")]
    ApplyConflict { message: String, causes: Vec<(String, String)> },
}

fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> (u16, Value) {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    });
    if !reason.is_empty() {
        s["reason"] = json!(reason);
    }
    if let Some(d) = details {
        s["details"] = d;
    }
    s["code"] = json!(code);
    (code, s)
}

fn details(q: &Qualified) -> Value {
    let mut d = serde_json::Map::new();
    if !q.name.is_empty() {
        d.insert("name".into(), json!(q.name));
    }
    if !q.group.is_empty() {
        d.insert("group".into(), json!(q.group));
    }
    if !q.resource.is_empty() {
        d.insert("kind".into(), json!(q.resource));
    }
    Value::Object(d)
}

impl ApiError {
    /// Upstream's `NewForbidden`: `<resource>[.<group>] ["<name>"] is forbidden: <err>`.
    pub fn forbidden(group: &str, resource: &str, name: &str, err: impl std::fmt::Display) -> ApiError {
        let qualified = Qualified::new(group, resource, name);
        let subject =
            if name.is_empty() { qualified.gr() } else { format!("{} {}", qualified.gr(), api_types::go::quote(name)) };
        ApiError::Forbidden { message: format!("{subject} is forbidden: {err}"), qualified }
    }

    /// The HTTP status code and the `Status` body.
    pub fn to_status(&self) -> (u16, Value) {
        match self {
            ApiError::BadRequest(m) => status(400, "BadRequest", m.clone(), None),
            ApiError::NotFound(q) => {
                status(404, "NotFound", format!("{} \"{}\" not found", q.gr(), q.name), Some(details(q)))
            }
            ApiError::NotFoundPath => {
                status(404, "NotFound", "the server could not find the requested resource".into(), Some(json!({})))
            }
            ApiError::AlreadyExists(q) => {
                status(409, "AlreadyExists", format!("{} \"{}\" already exists", q.gr(), q.name), Some(details(q)))
            }
            ApiError::GenerateNameConflict(q) => {
                let mut d = details(q);
                d["retryAfterSeconds"] = json!(1);
                status(
                    409,
                    "AlreadyExists",
                    format!(
                        "{} \"{}\" already exists, the server was not able to generate a unique name for the object",
                        q.gr(),
                        q.name
                    ),
                    Some(d),
                )
            }
            ApiError::Conflict(q, m) => status(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{}\": {m}", q.gr(), q.name),
                Some(details(q)),
            ),
            ApiError::Invalid { kind, group, name, errors } => {
                let causes: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"reason": e.kind.reason(), "message": e.cause_message(), "field": e.field}))
                    .collect();
                let mut d = json!({"name": name, "kind": kind, "causes": causes});
                if !group.is_empty() {
                    d["group"] = json!(group);
                }
                status(
                    422,
                    "Invalid",
                    format!(
                        "{kind}{} \"{name}\" is invalid: {}",
                        if group.is_empty() { String::new() } else { format!(".{group}") },
                        api_types::field::aggregate(errors)
                    ),
                    Some(d),
                )
            }
            ApiError::MethodNotSupported { .. } => status(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource".into(),
                Some(json!({})),
            ),
            ApiError::TooLarge(m) => status(413, "RequestEntityTooLarge", m.clone(), None),
            ApiError::UnsupportedMediaType(m) => status(415, "UnsupportedMediaType", m.clone(), None),
            ApiError::NotAcceptable(m) => status(406, "NotAcceptable", m.clone(), None),
            ApiError::Gone(m) => status(410, "Gone", m.clone(), None),
            ApiError::Expired(m) => status(410, "Expired", m.clone(), None),
            ApiError::Forbidden { qualified, message } => {
                status(403, "Forbidden", message.clone(), Some(details(qualified)))
            }
            ApiError::Unauthorized => status(401, "Unauthorized", "Unauthorized".into(), None),
            ApiError::Timeout(m, retry) => status(504, "Timeout", m.clone(), Some(json!({"retryAfterSeconds": retry}))),
            ApiError::Unavailable(m) => status(503, "ServiceUnavailable", m.clone(), None),
            ApiError::Raw(code, reason, message, details) => status(*code, reason, message.clone(), details.clone()),
            ApiError::Internal(m) => status(
                500,
                "InternalError",
                format!("Internal error occurred: {m}"),
                Some(json!({"causes": [{"message": m}]})),
            ),
            ApiError::Unprocessable(m) => status(422, "Invalid", m.clone(), None),
            ApiError::ApplyConflict { message, causes } => {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|(f, m)| json!({"reason": "FieldManagerConflict", "message": m, "field": f}))
                    .collect();
                status(409, "Conflict", message.clone(), Some(json!({ "causes": causes })))
            }
        }
    }

    /// Maps a storage failure for the object `q`.
    pub fn from_storage(e: StorageError, q: &Qualified) -> ApiError {
        match e {
            StorageError::NotFound(_) => ApiError::NotFound(q.clone()),
            StorageError::AlreadyExists(_) => ApiError::AlreadyExists(q.clone()),
            StorageError::Conflict { detail, .. } => ApiError::Conflict(q.clone(), detail),
            StorageError::Expired(m) => ApiError::Expired(m),
            StorageError::BadContinue(m) => ApiError::BadRequest(m),
            StorageError::TooLargeResourceVersion { requested, current } => {
                ApiError::Timeout(format!("Too large resource version: {requested}, current: {current}"), 1)
            }
            StorageError::Unavailable(m) => ApiError::Timeout(format!("etcd unavailable: {m}"), 1),
            StorageError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<fieldmanager::Error> for ApiError {
    fn from(e: fieldmanager::Error) -> Self {
        match e {
            fieldmanager::Error::BadRequest(m) => ApiError::BadRequest(m),
            fieldmanager::Error::Conflict { message, causes } => {
                ApiError::ApplyConflict { message, causes: causes.into_iter().map(|c| (c.field, c.message)).collect() }
            }
            fieldmanager::Error::Internal(m) => ApiError::Internal(m),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
