//! REST semantics for every stored resource: get, list, create, update, patch, delete,
//! deletecollection, and the status, scale, binding and finalize subresources.

use crate::codec::{self, Query};
use crate::error::{ApiError, ApiResult, Qualified};
use crate::request_info::RequestInfo;
use crate::ApiServer;
use api_types::json::Ptr;
use api_types::kinds;
use api_types::selector::{FieldSelector, LabelSelector};
use api_types::ResourceDef;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use storage::{ListOptions, Obj, StorageError};

/// Everything a handler needs about one resource request.
pub struct Ctx<'a> {
    pub st: &'a ApiServer,
    pub rd: &'static ResourceDef,
    pub info: &'a RequestInfo,
    pub q: &'a Query,
    /// The apiserver's own writes (the `kubernetes` endpoints, which point at a loopback
    /// address in single-host setups): metadata is validated, kind rules are not.
    pub system: bool,
    /// `Warning` headers for the response (field validation in Warn mode).
    pub warnings: std::sync::Mutex<Vec<String>>,
    /// The request's User-Agent: names the field manager when `fieldManager` is not given.
    pub user_agent: String,
    /// The authenticated (or impersonated) user.
    pub user: crate::auth::UserInfo,
}

/// Who records field ownership for a write: the generic update tracking, or nobody (the
/// apply computed it, or the write is a raw system change such as a binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Update,
    None,
}

/// How often a create with `generateName` tries a new name when the generated one is taken.
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// The longest field manager name upstream accepts.
const FIELD_MANAGER_MAX: usize = 128;

/// How unknown and duplicate fields in a request body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// A handler's answer: the HTTP code and the body object.
#[derive(Default)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
    /// A list's items, kept apart from the body and shared with the watch cache, so they are
    /// encoded without copying each object.
    pub items: Option<Vec<Arc<Obj>>>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply { code: 200, body, items: None }
    }

    pub fn with_code(code: u16, body: Value) -> Reply {
        Reply { code, body, items: None }
    }

    /// The whole body as one value (items included, without per-item apiVersion/kind).
    pub fn into_value(self) -> Value {
        let mut body = self.body;
        if let Some(items) = self.items {
            body["items"] = Value::Array(
                items.iter().map(|i| serde_json::from_slice(i.list_item()).unwrap_or(Value::Null)).collect(),
            );
        }
        body
    }
}

/// A parsed label and field selector, evaluated on decoded objects (etcd reads) or on cached
/// ones (whose labels and fields were extracted once).
pub struct Matcher {
    ls: LabelSelector,
    fs: FieldSelector,
    rd: &'static ResourceDef,
}

impl Matcher {
    pub fn value(&self, v: &Value) -> bool {
        self.ls.matches_object(v) && (self.fs.is_empty() || self.fs.matches(&kinds::fields::field_set(self.rd, v)))
    }

    pub fn obj(&self, o: &Obj) -> bool {
        self.ls.matches(&o.labels) && (self.fs.is_empty() || self.fs.matches(&o.fields))
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta_str<'v>(obj: &'v Value, field: &str) -> &'v str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or("")
}

/// Whether two objects are equal but for `metadata.resourceVersion` (an update that changes
/// nothing else writes nothing), compared in place: both trees are whole objects.
fn same_but_resource_version(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    a.len() == b.len()
        && a.iter().all(|(k, v)| match (k.as_str(), b.get(k)) {
            ("metadata", Some(w)) => match (v.as_object(), w.as_object()) {
                (Some(m), Some(n)) => {
                    let rest =
                        |m: &'_ serde_json::Map<String, Value>| m.keys().filter(|k| *k != "resourceVersion").count();
                    rest(m) == rest(n)
                        && m.iter().filter(|(k, _)| *k != "resourceVersion").all(|(k, x)| n.get(k) == Some(x))
                }
                _ => v == w,
            },
            (_, Some(w)) => v == w,
            (_, None) => false,
        })
}

fn rv_of(obj: &Value) -> i64 {
    meta_str(obj, "resourceVersion").parse().unwrap_or(0)
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = rand::rng();
    (0..5).map(|_| ALPHA[r.random_range(0..ALPHA.len())] as char).collect()
}

impl<'a> Ctx<'a> {
    pub fn qualified(&self, name: &str) -> Qualified {
        Qualified::new(self.rd.group, self.rd.plural, name)
    }

    fn key(&self, name: &str) -> String {
        self.st.backend.key(self.rd, &self.info.namespace, name)
    }

    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.q.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::BadRequest(format!("Invalid dryRun value: {v:?}. Valid values: \"All\""))),
        }
    }

    fn invalid(&self, name: &str, errors: Vec<api_types::FieldError>) -> ApiError {
        ApiError::Invalid {
            kind: self.rd.kind.to_string(),
            group: self.rd.group.to_string(),
            name: name.to_string(),
            errors,
        }
    }

    pub fn new(st: &'a ApiServer, rd: &'static ResourceDef, info: &'a RequestInfo, q: &'a Query, system: bool) -> Self {
        let user_agent = if system { format!("kube-apiserver/{}", crate::version::GIT_VERSION) } else { String::new() };
        // The apiserver's own writes run as its loopback identity (upstream's system:apiserver).
        let user = if system {
            crate::auth::UserInfo {
                name: "system:apiserver".into(),
                groups: vec![crate::auth::MASTERS.into(), crate::auth::ALL_AUTHENTICATED.into()],
                ..Default::default()
            }
        } else {
            crate::auth::UserInfo::default()
        };
        Ctx { st, rd, info, q, system, warnings: Default::default(), user_agent, user }
    }

    pub fn with_user_agent(mut self, ua: &str) -> Self {
        self.user_agent = ua.to_string();
        self
    }

    fn is_csr(&self) -> bool {
        self.rd.group == "certificates.k8s.io" && self.rd.plural == "certificatesigningrequests"
    }

    pub fn with_user(mut self, user: crate::auth::UserInfo) -> Self {
        self.user = user;
        self
    }

    /// The field manager: `fieldManager`, else the User-Agent up to its first `/`.
    fn manager(&self) -> String {
        match self.q.get("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => {
                let prefix = self.user_agent.split('/').next().unwrap_or("");
                prefix.chars().filter(|c| !c.is_control()).take(FIELD_MANAGER_MAX).collect()
            }
        }
    }

    /// Upstream's `ValidateFieldManager` (and the apply/force rules of `ValidatePatchOptions`),
    /// reported as an invalid `<options>.meta.k8s.io`.
    fn validate_options(&self, options: &str, apply: Option<bool>) -> ApiResult<()> {
        use api_types::field::{FieldError, FieldPath};
        let fm = self.q.get("fieldManager").unwrap_or("");
        let path = FieldPath::new("fieldManager");
        let mut errs = Vec::new();
        match apply {
            Some(true) if fm.is_empty() => errs.push(FieldError::required(&path, "is required for apply patch")),
            Some(false) if self.q.get("force").is_some() => {
                errs.push(FieldError::forbidden(&FieldPath::new("force"), "may not be specified for non-apply patch"))
            }
            _ => {}
        }
        if fm.chars().count() > FIELD_MANAGER_MAX {
            errs.push(FieldError::too_long(&path, FIELD_MANAGER_MAX));
        }
        for (i, c) in fm.chars().enumerate() {
            if c.is_control() {
                errs.push(FieldError::invalid(
                    &path,
                    fm,
                    format!("invalid character U+{:04X} (at position {i})", c as u32),
                ));
            }
        }
        if errs.is_empty() {
            return Ok(());
        }
        Err(ApiError::Invalid { kind: options.into(), group: "meta.k8s.io".into(), name: String::new(), errors: errs })
    }

    /// The endpoint as the field manager sees it.
    fn field_target<'v>(&self, api_version: &'v str) -> fieldmanager::Target<'v> {
        let rd = self.rd;
        let has_status = rd.subresource("status").is_some();
        let (subresource, ignored): (&'static str, &'static [&'static str]) = match self.info.subresource.as_str() {
            "status" => ("status", &["spec"]),
            "scale" => ("scale", &["status"]),
            "ephemeralcontainers" => ("ephemeralcontainers", &["status"]),
            _ if has_status => ("", &["status"]),
            _ => ("", &[]),
        };
        fieldmanager::Target {
            definition: openapi::kind_definition(rd.group, rd.version, rd.kind).unwrap_or(""),
            api_version,
            kind: rd.kind,
            subresource,
            ignored,
        }
    }

    /// Records this write's field ownership on `new`.
    fn track_update(&self, live: Option<&Value>, new: &mut Value) {
        let av = self.rd.api_version();
        fieldmanager::update(&self.field_target(&av), live, new, &self.manager(), &now_rfc3339());
    }

    fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.q.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(v) => Err(ApiError::BadRequest(format!(
                "fieldValidation: Unsupported value: {v:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }

    /// Upstream's strict decoding: unknown (and duplicate) fields are an error under Strict,
    /// a `Warning` each under Warn, and silently dropped under Ignore.
    /// `body`: the request body as sent (with its content type), for duplicate keys and the
    /// document order of the errors; None for bodies that were not sent as such (applies).
    fn check_fields(&self, obj: &Value, body: Option<(&[u8], Option<&str>)>) -> ApiResult<()> {
        let mode = self.field_validation()?;
        if mode == FieldValidation::Ignore || self.system {
            return Ok(());
        }
        let unknown = openapi::unknown_fields(self.rd.group, self.rd.version, self.rd.kind, obj);
        let scan = body.map(|(b, ct)| codec::FieldScan::new(b, ct, !unknown.is_empty())).unwrap_or_default();
        let problems = scan.strict_errors(unknown);
        if problems.is_empty() {
            return Ok(());
        }
        match mode {
            FieldValidation::Strict => Err(ApiError::BadRequest(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                self.rd.kind,
                self.rd.version,
                self.rd.kind,
                problems.join(", ")
            ))),
            _ => {
                self.warnings.lock().unwrap_or_else(|p| p.into_inner()).extend(problems);
                Ok(())
            }
        }
    }

    /// Decodes a body for create/update and reconciles it with the URL: apiVersion and kind
    /// default to the endpoint's, a namespace must match, unknown fields are dropped by the
    /// typed round trip, and upstream's defaults are applied.
    pub fn decode_for_write(&self, body: &[u8], content_type: Option<&str>) -> ApiResult<Value> {
        let mut obj = codec::decode_object(body, content_type)?;
        self.check_gvk(&mut obj)?;
        self.check_fields(&obj, Some((body, content_type)))?;
        self.reconcile_namespace(&mut obj)?;
        self.finish_decode(obj)
    }

    fn check_gvk(&self, obj: &mut Value) -> ApiResult<()> {
        let want_av = self.rd.api_version();
        match obj.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => obj["apiVersion"] = json!(want_av),
            Some(av) if av != want_av => {
                return Err(ApiError::BadRequest(format!(
                    "the API version in the data ({av}) does not match the expected API version ({want_av})"
                )))
            }
            _ => {}
        }
        match obj.get("kind").and_then(Value::as_str) {
            None | Some("") => obj["kind"] = json!(self.rd.kind),
            Some(k) if k != self.rd.kind => {
                return Err(ApiError::BadRequest(format!(
                    "{k} in version \"{}\" cannot be handled as a {}: the kind in the data ({k}) does not match the expected kind ({})",
                    self.rd.version, self.rd.kind, self.rd.kind
                )))
            }
            _ => {}
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            if obj.get("metadata").is_some_and(|m| !m.is_null()) {
                return Err(ApiError::BadRequest(format!(
                    "{} in version \"{}\" cannot be handled as a {}: metadata must be an object",
                    self.rd.kind, self.rd.version, self.rd.kind
                )));
            }
            obj["metadata"] = json!({});
        }
        Ok(())
    }

    fn reconcile_namespace(&self, obj: &mut Value) -> ApiResult<()> {
        let req_ns = if self.rd.namespaced { self.info.namespace.as_str() } else { "" };
        let obj_ns = meta_str(obj, "namespace").to_string();
        if obj_ns == req_ns {
            return Ok(());
        }
        if obj_ns.is_empty() {
            obj["metadata"]["namespace"] = json!(req_ns);
        } else if req_ns.is_empty() {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        } else {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
        Ok(())
    }

    /// Typed round trip and defaulting.
    fn finish_decode(&self, obj: Value) -> ApiResult<Value> {
        let mut obj =
            openapi::gonull::typed_round_trip(self.rd.group, self.rd.version, self.rd.kind, obj).map_err(|e| {
                ApiError::BadRequest(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {e}",
                    self.rd.kind, self.rd.version, self.rd.kind
                ))
            })?;
        kinds::defaults::apply(self.rd, &mut obj);
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            if m.get("namespace").and_then(Value::as_str) == Some("") {
                m.remove("namespace");
            }
        }
        Ok(obj)
    }

    /// NamespaceLifecycle: no creates in a missing or terminating namespace.
    async fn check_namespace_lifecycle(&self, ns: &str, name: &str) -> ApiResult<()> {
        if !self.rd.namespaced || ns.is_empty() {
            return Ok(());
        }
        let ns_rd = api_types::lookup("", "v1", "namespaces")
            .ok_or_else(|| ApiError::Internal("namespaces not registered".into()))?;
        let cacher = self.st.backend.cacher(ns_rd);
        let key = self.st.backend.key(ns_rd, "", ns);
        // The phase is one of the namespace's selectable fields, extracted once by the cache.
        let mut phase = cacher.get(&key).0.map(|o| o.field("status.phase").unwrap_or("").to_string());
        if phase.is_none() {
            // The cache may lag a namespace created a moment ago: ask etcd.
            let stored =
                self.st.backend.store.get(&key).await.map_err(|e| ApiError::from_storage(e, &self.qualified("")))?;
            phase = stored.map(|n| n.ptr("/status/phase").and_then(Value::as_str).unwrap_or("").to_string());
        }
        match phase.as_deref() {
            None => Err(ApiError::NotFound(Qualified::new("", "namespaces", ns))),
            Some("Terminating") => {
                // As upstream's NamespaceLifecycle: the NamespaceTerminating cause lets clients
                // (event recorders, the namespace's own controllers) tell this refusal apart.
                let err = format!("unable to create new content in namespace {ns} because it is being terminated");
                let (code, mut status) = ApiError::forbidden(self.rd.group, self.rd.plural, name, err).to_status();
                status["details"]["causes"] = serde_json::json!([{"reason": "NamespaceTerminating",
                    "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]);
                let message = status["message"].as_str().unwrap_or_default().to_string();
                Err(ApiError::Raw(code, "Forbidden".into(), message, status.get("details").cloned()))
            }
            Some(_) => Ok(()),
        }
    }

    // ---------------------------------------------------------------- reads

    pub async fn get(&self, name: &str) -> ApiResult<Reply> {
        let obj = match self.q.get("resourceVersion") {
            Some("0") if self.st.backend.caches(self.rd) => {
                let cacher = self.st.backend.cacher(self.rd);
                cacher
                    .wait_fresh(1, Duration::from_secs(3))
                    .await
                    .map_err(|e| ApiError::from_storage(e, &self.qualified(name)))?;
                cacher.get(&self.key(name)).0.map(|o| o.value())
            }
            _ => self
                .st
                .backend
                .store
                .get(&self.key(name))
                .await
                .map_err(|e| ApiError::from_storage(e, &self.qualified(name)))?,
        };
        obj.map(|o| Reply::ok(self.external(o))).ok_or_else(|| ApiError::NotFound(self.qualified(name)))
    }

    /// The object as this resource serves it (objects of a few resources are stored in
    /// another version; see `api_types::convert`).
    pub fn external(&self, stored: Value) -> Value {
        if stored.get("kind").and_then(Value::as_str) == Some("Status") {
            return stored;
        }
        api_types::convert::from_storage(self.rd, stored)
    }

    pub fn selectors(&self) -> ApiResult<(LabelSelector, FieldSelector)> {
        let ls = LabelSelector::parse(self.q.str("labelSelector")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let fs = FieldSelector::parse(self.q.str("fieldSelector")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let allowed = kinds::fields::selectable(self.rd);
        for r in &fs.0 {
            if !allowed.contains(&r.field.as_str()) {
                return Err(ApiError::BadRequest(format!("field label not supported: {}", r.field)));
            }
        }
        Ok((ls, fs))
    }

    pub fn matcher(&self, ls: LabelSelector, fs: FieldSelector) -> Matcher {
        Matcher { ls, fs, rd: self.rd }
    }

    pub async fn list(&self) -> ApiResult<Reply> {
        let (ls, fs) = self.selectors()?;
        let m = self.matcher(ls, fs);
        let limit = self.q.int("limit")?.unwrap_or(0).max(0);
        let cont = self.q.str("continue").to_string();
        let rv = self.q.str("resourceVersion").to_string();
        let rv_match = self.q.str("resourceVersionMatch").to_string();
        if !cont.is_empty() && !rv.is_empty() && rv != "0" {
            return Err(ApiError::BadRequest("specifying resource version is not allowed when using continue".into()));
        }
        if !rv_match.is_empty() {
            if !matches!(rv_match.as_str(), "NotOlderThan" | "Exact") {
                return Err(ApiError::BadRequest(format!("resourceVersionMatch: Unsupported value: {rv_match:?}: supported values: \"Exact\", \"NotOlderThan\"")));
            }
            if rv.is_empty() {
                return Err(ApiError::BadRequest(
                    "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
                ));
            }
            if rv_match == "Exact" && rv == "0" {
                return Err(ApiError::BadRequest(
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
                ));
            }
        }
        let rv_num: i64 = if rv.is_empty() {
            0
        } else {
            rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?
        };
        let prefix = self.st.backend.list_prefix(self.rd, &self.info.namespace);
        let from_cache = self.st.backend.caches(self.rd)
            && cont.is_empty()
            && !rv.is_empty()
            && rv_match != "Exact"
            && (rv_num == 0 || limit == 0 || rv_match == "NotOlderThan");
        let (items, list_rv, continue_token, remaining) = if from_cache {
            let cacher = self.st.backend.cacher(self.rd);
            cacher
                .wait_fresh(rv_num.max(1), Duration::from_secs(3))
                .await
                .map_err(|e| ApiError::from_storage(e, &self.qualified("")))?;
            let pred = |o: &Obj| m.obj(o);
            let (items, crv) = if self.rd.namespaced && !self.info.namespace.is_empty() {
                cacher.snapshot_prefix(&prefix, &pred)
            } else {
                cacher.snapshot(&pred)
            };
            (items, crv, None, None)
        } else {
            let indexer = self.st.backend.indexer(self.rd);
            let opts = ListOptions {
                limit,
                continue_token: if cont.is_empty() { None } else { Some(cont) },
                revision: if rv_match == "Exact" { rv_num } else { 0 },
            };
            let res = self
                .st
                .backend
                .store
                .list_map(&prefix, &opts, &|v: Value| {
                    m.value(&v).then(|| Arc::new(Obj::from_value(&v, rv_of(&v), &indexer)))
                })
                .await
                .map_err(|e| ApiError::from_storage(e, &self.qualified("")))?;
            (res.items, res.revision, res.continue_token, res.remaining)
        };
        let items: Vec<Arc<Obj>> = if api_types::convert::storage_kind(self.rd).is_some() {
            let indexer = self.st.backend.indexer(self.rd);
            items.iter().map(|o| Arc::new(Obj::from_value(&self.external(o.value()), o.rv, &indexer))).collect()
        } else {
            items
        };
        let mut meta = json!({"resourceVersion": list_rv.to_string()});
        if let Some(c) = continue_token {
            meta["continue"] = json!(c);
            if let Some(r) = remaining {
                if self.q.str("labelSelector").is_empty() && self.q.str("fieldSelector").is_empty() {
                    meta["remainingItemCount"] = json!(r);
                }
            }
        }
        Ok(Reply {
            code: 200,
            body: json!({"kind": format!("{}List", self.rd.kind), "apiVersion": self.rd.api_version(), "metadata": meta}),
            items: Some(items),
        })
    }

    // ---------------------------------------------------------------- create

    pub async fn create(&self, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
        self.validate_options("CreateOptions", None)?;
        let obj = self.decode_for_write(body, content_type)?;
        let obj = self.create_object(obj, Track::Update).await?;
        Ok(Reply::with_code(201, obj))
    }

    /// The create pipeline after decoding: system fields, name generation, strategy,
    /// validation, allocation, storage.
    pub async fn create_object(&self, mut obj: Value, track: Track) -> ApiResult<Value> {
        let dry_run = self.dry_run()?;
        if track == Track::Update {
            self.track_update(None, &mut obj);
        }
        crate::admission::mutate(self, crate::admission::Operation::Create, &mut obj, None).await?;
        let ns = meta_str(&obj, "namespace").to_string();
        self.check_namespace_lifecycle(&ns, meta_str(&obj, "name")).await?;
        if !meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError::BadRequest("resourceVersion should not be set on objects to be created".into()));
        }
        let generate = meta_str(&obj, "name").is_empty() && !meta_str(&obj, "generateName").is_empty();
        // A generated name that collides is generated again (upstream since v1.32: eight tries);
        // each try runs the strategy, validation and validating admission again.
        if !generate {
            return self.create_attempt(obj, dry_run).await;
        }
        let mut last = None;
        for _ in 0..GENERATE_NAME_ATTEMPTS {
            match self.create_attempt(obj.clone(), dry_run).await {
                Err(ApiError::AlreadyExists(q)) => last = Some(q),
                other => return other,
            }
        }
        Err(ApiError::GenerateNameConflict(last.unwrap_or_else(|| self.qualified(""))))
    }

    /// One try of a create: system fields (and a fresh generated name), strategy, validation,
    /// validating admission, allocation, the storage write.
    async fn create_attempt(&self, mut obj: Value, dry_run: bool) -> ApiResult<Value> {
        let ns = meta_str(&obj, "namespace").to_string();
        {
            let m = obj["metadata"]
                .as_object_mut()
                .ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))?;
            let gen_name = m.get("generateName").and_then(Value::as_str).unwrap_or("").to_string();
            let name = m.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            if name.is_empty() && !gen_name.is_empty() {
                m.insert("name".into(), json!(format!("{gen_name}{}", random_suffix())));
            }
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now_rfc3339()));
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("selfLink");
        }
        if self.is_csr() && !self.system {
            crate::certificates::prepare_create(self, &mut obj)?;
        }
        kinds::prepare_for_create(self.rd, &mut obj);
        let name = meta_str(&obj, "name").to_string();
        let errs = if self.system {
            api_types::meta::validate_object_meta(&obj["metadata"], self.rd.namespaced, kinds::name_rule(self.rd))
        } else {
            kinds::validate_create(self.rd, &obj)
        };
        if !errs.is_empty() {
            return Err(self.invalid(&name, errs));
        }
        crate::auth::escalation::check(self, &obj, None).await?;
        crate::admission::validate(self, crate::admission::Operation::Create, Some(&obj), None).await?;
        let alloc = crate::alloc::before_create(self.st, self.rd, &mut obj, dry_run).await?;
        if dry_run {
            alloc.release(self.st).await;
            return Ok(obj);
        }
        let key = self.st.backend.key(self.rd, &ns, &name);
        match self.st.backend.store.create(&key, api_types::convert::to_storage(self.rd, obj)).await {
            Ok(stored) => Ok(self.external(stored)),
            Err(e) => {
                alloc.release(self.st).await;
                Err(ApiError::from_storage(e, &self.qualified(&name)))
            }
        }
    }

    // ---------------------------------------------------------------- update

    /// Reads the current object, lets `mutate` compute the new one, runs the update strategy
    /// and validation, and writes with compare-and-swap. Without a client resourceVersion a
    /// lost race is retried; with one it is a 409.
    pub async fn guaranteed_update<F>(&self, name: &str, mode: UpdateMode, mutate: F) -> ApiResult<Reply>
    where
        F: Fn(&Value) -> ApiResult<Value>,
    {
        let track = if mode == UpdateMode::Raw { Track::None } else { Track::Update };
        self.guaranteed_update_with(name, mode, track, mutate).await
    }

    /// `guaranteed_update`, saying who records field ownership.
    pub async fn guaranteed_update_with<F>(
        &self,
        name: &str,
        mode: UpdateMode,
        track: Track,
        mutate: F,
    ) -> ApiResult<Reply>
    where
        F: Fn(&Value) -> ApiResult<Value>,
    {
        let dry_run = self.dry_run()?;
        let key = self.key(name);
        // As upstream's GuaranteedUpdate with a cached existing object: the first try starts
        // from the watch cache, which saves etcd a read per write. Whatever that try cannot
        // settle (an error, a lost race, no change to write) is tried again from etcd, so a
        // cache that lags only costs a retry.
        let mut from_cache = true;
        for _attempt in 0..16 {
            let cached = if from_cache { self.st.backend.cached(self.rd, &key) } else { None };
            from_cache = cached.is_some();
            let (current, stale) = match cached {
                Some(c) => (self.external(c), false),
                None => {
                    let current = self
                        .st
                        .backend
                        .store
                        .get_stale(&key)
                        .await
                        .map_err(|e| ApiError::from_storage(e, &self.qualified(name)))?;
                    let Some((current, stale)) = current.map(|(c, stale)| (self.external(c), stale)) else {
                        return Err(ApiError::NotFound(self.qualified(name)));
                    };
                    (current, stale)
                }
            };
            let attempt = Attempt { name, key: &key, mode, track, dry_run, current, stale, from_cache };
            match self.update_attempt(attempt, &mutate).await {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => from_cache = false,
                Err(_) if from_cache => from_cache = false,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::Conflict(
            self.qualified(name),
            "the object has been modified; please apply your changes to the latest version and try again".into(),
        ))
    }

    /// One try of [`Self::guaranteed_update_with`]: the reply, or None to try again from etcd.
    async fn update_attempt<F>(&self, a: Attempt<'_>, mutate: &F) -> ApiResult<Option<Reply>>
    where
        F: Fn(&Value) -> ApiResult<Value>,
    {
        let Attempt { name, key, mode, track, dry_run, current, stale, from_cache } = a;
        let cur_rv = rv_of(&current);
        let mut new = mutate(&current)?;
        if meta_str(&new, "name") != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&new, "name")
            )));
        }
        let client_rv = meta_str(&new, "resourceVersion").to_string();
        if !client_rv.is_empty() && client_rv != cur_rv.to_string() {
            return Err(ApiError::Conflict(
                self.qualified(name),
                "the object has been modified; please apply your changes to the latest version and try again".into(),
            ));
        }
        // System fields come from the stored object.
        {
            let m = new["metadata"]
                .as_object_mut()
                .ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))?;
            for k in ["creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                match current["metadata"].get(k) {
                    Some(v) => m.insert(k.into(), v.clone()),
                    None => m.remove(k),
                };
            }
            if m.get("uid").and_then(Value::as_str).unwrap_or("").is_empty() {
                if let Some(u) = current["metadata"].get("uid") {
                    m.insert("uid".into(), u.clone());
                }
            }
            if let Some(g) = current["metadata"].get("generation") {
                m.insert("generation".into(), g.clone());
            }
            m.remove("selfLink");
        }
        if track == Track::Update {
            self.track_update(Some(&current), &mut new);
        }
        if mode != UpdateMode::Raw {
            crate::admission::mutate(self, crate::admission::Operation::Update, &mut new, Some(&current)).await?;
        }
        match mode {
            UpdateMode::Main => kinds::prepare_for_update(self.rd, &mut new, &current),
            UpdateMode::Status => {
                kinds::prepare_for_status_update(&mut new, &current);
                kinds::stamp_phase_transition(self.rd, &mut new, &current);
                if self.is_csr() {
                    crate::certificates::prepare_status(&mut new, &current);
                }
            }
            UpdateMode::Approval => crate::certificates::prepare_approval(&mut new, &current),
            UpdateMode::EphemeralContainers => kinds::prepare_for_ephemeral_containers_update(&mut new, &current),
            UpdateMode::Raw => {}
        }
        crate::alloc::patch_allocated_values(self.rd, &mut new, &current);
        let errs = if self.system {
            api_types::meta::validate_object_meta_update(
                &new["metadata"],
                &current["metadata"],
                self.rd.namespaced,
                kinds::name_rule(self.rd),
            )
        } else if self.is_csr() && matches!(mode, UpdateMode::Approval | UpdateMode::Status) {
            let mut e = api_types::meta::validate_object_meta_update(
                &new["metadata"],
                &current["metadata"],
                self.rd.namespaced,
                kinds::name_rule(self.rd),
            );
            e.extend(kinds::validation::validate_csr_subresource_update(&new, &current, mode == UpdateMode::Approval));
            e
        } else if mode == UpdateMode::EphemeralContainers {
            let mut e = api_types::meta::validate_object_meta_update(
                &new["metadata"],
                &current["metadata"],
                self.rd.namespaced,
                kinds::name_rule(self.rd),
            );
            e.extend(kinds::validation::validate_ephemeral_containers_update(&new, &current));
            e
        } else {
            kinds::validate_update(self.rd, &new, &current)
        };
        if !errs.is_empty() {
            return Err(self.invalid(name, errs));
        }
        crate::auth::escalation::check(self, &new, Some(&current)).await?;
        crate::admission::validate(self, crate::admission::Operation::Update, Some(&new), Some(&current)).await?;
        if self.is_csr() && !self.system && matches!(mode, UpdateMode::Approval | UpdateMode::Status) {
            crate::certificates::admit_subresource(self, mode == UpdateMode::Approval, &new, &current).await?;
        }
        let alloc = crate::alloc::before_update(self.st, self.rd, &mut new, &current, dry_run).await?;
        // A terminating object whose last finalizer was removed is deleted now.
        if !meta_str(&current, "deletionTimestamp").is_empty() && self.deletion_finished(&new) {
            if dry_run {
                return Ok(Some(Reply::ok(new)));
            }
            return match self.st.backend.store.delete(key, cur_rv).await {
                Ok(deleted) => {
                    crate::alloc::after_delete(self.st, self.rd, &deleted).await;
                    Ok(Some(Reply::ok(new)))
                }
                Err(StorageError::Conflict { .. }) if client_rv.is_empty() || from_cache => Ok(None),
                Err(e) => Err(ApiError::from_storage(e, &self.qualified(name))),
            };
        }
        if same_but_resource_version(&new, &current) && !stale {
            // No change: upstream skips the write and answers with the stored object
            // (unless it is encrypted with an old key: rewriting it is how keys rotate).
            // A cached object may be behind etcd: only etcd's says there is nothing to do.
            alloc.release(self.st).await;
            return Ok((!from_cache).then(|| Reply::ok(current)));
        }
        if dry_run {
            alloc.release(self.st).await;
            return Ok(Some(Reply::ok(new)));
        }
        match self.st.backend.store.update(key, api_types::convert::to_storage(self.rd, new), cur_rv).await {
            Ok(stored) => {
                alloc.commit(self.st).await;
                Ok(Some(Reply::ok(self.external(stored))))
            }
            Err(StorageError::Conflict { .. }) if client_rv.is_empty() || from_cache => {
                alloc.release(self.st).await;
                Ok(None)
            }
            Err(e) => {
                alloc.release(self.st).await;
                Err(ApiError::from_storage(e, &self.qualified(name)))
            }
        }
    }

    /// Whether a terminating object may go now: no finalizer is left, no grace period remains
    /// (pods), and for a namespace `spec.finalizers` is empty too, as upstream's
    /// `ShouldDeleteNamespaceDuringUpdate` requires, so its content is never orphaned.
    pub(crate) fn deletion_finished(&self, obj: &Value) -> bool {
        let empty = |p: &str| obj.ptr(p).and_then(Value::as_array).is_none_or(|f| f.is_empty());
        empty("/metadata/finalizers")
            && (!self.is_namespace() || empty("/spec/finalizers"))
            && obj.ptr("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) == 0
    }

    fn is_namespace(&self) -> bool {
        self.rd.group.is_empty() && self.rd.plural == "namespaces"
    }

    pub async fn update(
        &self,
        name: &str,
        body: &[u8],
        content_type: Option<&str>,
        mode: UpdateMode,
    ) -> ApiResult<Reply> {
        self.validate_options("UpdateOptions", None)?;
        let mut obj = codec::decode_object(body, content_type)?;
        self.check_gvk(&mut obj)?;
        self.check_fields(&obj, Some((body, content_type)))?;
        self.reconcile_namespace(&mut obj)?;
        let obj = self.finish_decode(obj)?;
        self.guaranteed_update(name, mode, |_cur| Ok(obj.clone())).await
    }

    pub async fn patch(
        &self,
        name: &str,
        body: &[u8],
        content_type: Option<&str>,
        mode: UpdateMode,
    ) -> ApiResult<Reply> {
        let mt = codec::media_type(content_type);
        let is_apply = mt == "application/apply-patch+yaml";
        if is_apply {
            self.validate_options("PatchOptions", Some(true))?;
            return self.apply(name, body, mode).await;
        }
        enum Kind {
            Json(json_patch::Patch),
            Merge(Value),
            Strategic(Value),
        }
        let unsupported = || {
            ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml".into(),
            )
        };
        let decode_map = |what: &str| -> ApiResult<Value> {
            let v: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
            if !v.is_object() {
                return Err(ApiError::BadRequest(format!("{what}: the patch must be a JSON object")));
            }
            Ok(v)
        };
        let patch = match mt.as_str() {
            "application/json-patch+json" => {
                let p: json_patch::Patch = serde_json::from_slice(body)
                    .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                Kind::Json(p)
            }
            "application/merge-patch+json" => Kind::Merge(decode_map("merge patch")?),
            // Custom resources have no schema to patch strategically, as upstream.
            "application/strategic-merge-patch+json"
                if kinds::typed::is_typed(self.rd.group, self.rd.version, self.rd.kind) =>
            {
                Kind::Strategic(decode_map("strategic merge patch")?)
            }
            _ => return Err(unsupported()),
        };
        self.validate_options("PatchOptions", Some(false))?;
        self.guaranteed_update(name, mode, |cur| {
            let mut doc = cur.clone();
            if let Some(m) = doc["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            match &patch {
                // On a copy: a failed patch is discarded whole. (`patch` would roll back in
                // place, and json-patch 5.0 panics when that rollback fails.)
                Kind::Json(p) => json_patch::patch_unsafe(&mut doc, p).map_err(|e| match e.kind {
                    json_patch::PatchErrorKind::TestFailed => ApiError::Unprocessable(format!(
                        "the server rejected our request due to an error in our request: {e}"
                    )),
                    _ => ApiError::Unprocessable(format!(
                        "the server rejected our request due to an error in our request: {e}"
                    )),
                })?,
                Kind::Merge(p) => json_patch::merge(&mut doc, p),
                Kind::Strategic(p) => {
                    doc = openapi::strategic_merge_patch(self.rd.group, self.rd.version, self.rd.kind, &doc, p)
                        .map_err(ApiError::BadRequest)?;
                }
            }
            // The patched object must still be this object.
            if doc.get("apiVersion").and_then(Value::as_str) != Some(&self.rd.api_version()) {
                if doc.get("apiVersion").is_some_and(|v| !v.is_null()) {
                    return Err(ApiError::BadRequest(format!(
                        "the API version in the data ({}) does not match the expected API version ({})",
                        doc["apiVersion"].as_str().unwrap_or(""),
                        self.rd.api_version()
                    )));
                }
                doc["apiVersion"] = json!(self.rd.api_version());
            }
            if doc.get("kind").and_then(Value::as_str) != Some(self.rd.kind) {
                if doc.get("kind").is_some_and(|v| !v.is_null()) {
                    return Err(ApiError::BadRequest(format!(
                        "the kind in the data ({}) does not match the expected kind ({})",
                        doc["kind"].as_str().unwrap_or(""),
                        self.rd.kind
                    )));
                }
                doc["kind"] = json!(self.rd.kind);
            }
            if !doc.get("metadata").is_some_and(Value::is_object) {
                return Err(ApiError::BadRequest("metadata must be an object".into()));
            }
            self.reconcile_namespace(&mut doc)?;
            self.check_fields(&doc, None)?;
            self.finish_decode(doc)
        })
        .await
    }

    /// Server-side apply (`application/apply-patch+yaml`): creates the object when it does
    /// not exist, else merges the configuration with field-ownership conflict checks.
    async fn apply(&self, name: &str, body: &[u8], mode: UpdateMode) -> ApiResult<Reply> {
        let config: Value =
            serde_saphyr::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
        if !config.is_object() {
            return Err(ApiError::BadRequest(
                "error decoding YAML: the applied configuration must be a YAML or JSON object".into(),
            ));
        }
        let force = self.q.flag("force");
        let manager = self.manager();
        let av = self.rd.api_version();
        let target = self.field_target(&av);
        let now = now_rfc3339();
        let run = |live: Option<&Value>| -> ApiResult<Value> {
            let mut obj = fieldmanager::apply(&target, live, &config, &manager, force, &now)?;
            self.reconcile_namespace(&mut obj)?;
            self.finish_decode(obj)
        };
        // Most applies update an existing object: try that first, and create on NotFound.
        let updated = self.guaranteed_update_with(name, mode, Track::None, |cur| run(Some(cur))).await;
        if mode != UpdateMode::Main || !matches!(updated, Err(ApiError::NotFound(_))) {
            return updated;
        }
        let obj = run(None)?;
        if meta_str(&obj, "name") != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta_str(&obj, "name")
            )));
        }
        match self.create_object(obj, Track::None).await {
            Ok(created) => Ok(Reply::with_code(201, created)),
            // Lost a race with another create: apply to what is there now.
            Err(ApiError::AlreadyExists(_)) => {
                self.guaranteed_update_with(name, mode, Track::None, |cur| run(Some(cur))).await
            }
            Err(e) => Err(e),
        }
    }

    // ---------------------------------------------------------------- delete

    pub async fn delete(&self, name: &str, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
        let opts = DeleteOptions::parse(body, content_type, self.q)?;
        self.delete_with(name, &opts).await
    }

    /// DELETE with options already decoded (a deletecollection decodes them once).
    pub(crate) async fn delete_with(&self, name: &str, opts: &DeleteOptions) -> ApiResult<Reply> {
        let dry_run = self.dry_run()? || opts.dry_run;
        let key = self.key(name);
        for _ in 0..16 {
            let Some(current) =
                self.st.backend.store.get(&key).await.map_err(|e| ApiError::from_storage(e, &self.qualified(name)))?
            else {
                return Err(ApiError::NotFound(self.qualified(name)));
            };
            if let Some(uid) = &opts.precondition_uid {
                let have = meta_str(&current, "uid");
                if uid != have {
                    return Err(ApiError::Conflict(
                        self.qualified(name),
                        format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
                    ));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                let have = meta_str(&current, "resourceVersion");
                if rv != have {
                    return Err(ApiError::Conflict(
                        self.qualified(name),
                        format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"),
                    ));
                }
            }
            let cur_rv = rv_of(&current);
            crate::admission::validate(self, crate::admission::Operation::Delete, None, Some(&current)).await?;
            let was_terminating = !meta_str(&current, "deletionTimestamp").is_empty();
            let mut updated = current.clone();
            if self.is_namespace() {
                // Namespaces are emptied and finalized by the namespace controller; a second
                // delete removes one whose finalizers (both kinds) are all gone.
                if was_terminating {
                    if self.deletion_finished(&current) {
                        return self.delete_now(&key, cur_rv, name, current, dry_run).await;
                    }
                    return Ok(Reply::ok(self.external(current)));
                }
                updated["status"]["phase"] = json!("Terminating");
                updated["metadata"]["deletionTimestamp"] = json!(deletion_time(0));
                updated["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                // An explicit propagation policy becomes the garbage collector's finalizer.
                let fin = match opts.propagation.as_deref() {
                    Some("Orphan") => Some("orphan"),
                    Some("Foreground") => Some("foregroundDeletion"),
                    _ => None,
                };
                if let Some(fin) = fin {
                    let mut fins = current.ptr("/metadata/finalizers").cloned().unwrap_or(json!([]));
                    if let Some(a) = fins.as_array_mut() {
                        if !a.iter().any(|f| f == fin) {
                            a.push(json!(fin));
                        }
                    }
                    updated["metadata"]["finalizers"] = fins;
                }
            } else {
                let mut finalizers: Vec<String> = current
                    .ptr("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                // The propagation policy becomes a finalizer for the garbage collector.
                let policy = opts.propagation.as_deref().unwrap_or("Background");
                if !was_terminating || !finalizers.is_empty() {
                    let (add, drop) = match policy {
                        "Orphan" => ("orphan", "foregroundDeletion"),
                        "Foreground" => ("foregroundDeletion", "orphan"),
                        _ => ("", ""),
                    };
                    if !add.is_empty() && !finalizers.iter().any(|f| f == add) {
                        finalizers.retain(|f| f != drop);
                        finalizers.push(add.to_string());
                    }
                }
                let grace = self.grace_period(&current, opts);
                if finalizers.is_empty() && grace == 0 {
                    return self.delete_now(&key, cur_rv, name, current, dry_run).await;
                }
                let cur_grace = current.ptr("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
                // A deletion already under way can only be shortened.
                if !was_terminating || cur_grace.is_some_and(|c| grace < c) {
                    updated["metadata"]["deletionTimestamp"] = json!(deletion_time(grace));
                    updated["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                }
                if !finalizers.is_empty() {
                    updated["metadata"]["finalizers"] = json!(finalizers);
                }
            }
            if updated == current || dry_run {
                return Ok(Reply::ok(self.external(updated)));
            }
            match self.st.backend.store.update(&key, updated, cur_rv).await {
                Ok(stored) => {
                    if self.is_namespace() {
                        // NamespaceLifecycle reads namespaces from the cache: let it see the
                        // Terminating phase before answering, so no later create slips in.
                        let _ =
                            self.st.backend.cacher(self.rd).wait_fresh(rv_of(&stored), Duration::from_secs(3)).await;
                    }
                    return Ok(Reply::with_code(if opts.orphan_false { 202 } else { 200 }, self.external(stored)));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(ApiError::from_storage(e, &self.qualified(name))),
            }
        }
        Err(ApiError::Conflict(
            self.qualified(name),
            "the object has been modified; please apply your changes to the latest version and try again".into(),
        ))
    }

    fn grace_period(&self, current: &Value, opts: &DeleteOptions) -> i64 {
        if !(self.rd.group.is_empty() && self.rd.plural == "pods") {
            return 0;
        }
        // Pods not bound to a node (or already finished) go at once, as upstream.
        let node = current.ptr("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
        let phase = current.ptr("/status/phase").and_then(Value::as_str).unwrap_or("");
        if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
            return 0;
        }
        let g = opts.grace_period.unwrap_or_else(|| {
            current.ptr("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30)
        });
        // Upstream turns a requested 0 into 1 for bound pods unless forced; we keep 0 meaning
        // immediate only when explicitly asked with gracePeriodSeconds=0.
        g.max(0)
    }

    async fn delete_now(&self, key: &str, rv: i64, name: &str, current: Value, dry_run: bool) -> ApiResult<Reply> {
        if dry_run {
            return Ok(self.delete_reply(current));
        }
        match self.st.backend.store.delete(key, rv).await {
            Ok(deleted) => {
                crate::alloc::after_delete(self.st, self.rd, &deleted).await;
                Ok(self.delete_reply(deleted))
            }
            Err(e) => Err(ApiError::from_storage(e, &self.qualified(name))),
        }
    }

    fn delete_reply(&self, deleted: Value) -> Reply {
        if kinds::returns_deleted_object(self.rd) {
            return Reply::ok(self.external(deleted));
        }
        let mut details =
            json!({"name": meta_str(&deleted, "name"), "kind": self.rd.plural, "uid": meta_str(&deleted, "uid")});
        if !self.rd.group.is_empty() {
            details["group"] = json!(self.rd.group);
        }
        Reply::ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        )
    }

    pub async fn delete_collection(&self, body: &[u8], content_type: Option<&str>) -> ApiResult<Reply> {
        let opts = DeleteOptions::parse(body, content_type, self.q)?;
        let (ls, fs) = self.selectors()?;
        let m = self.matcher(ls, fs);
        let pred = |v: &Value| m.value(v);
        let prefix = self.st.backend.list_prefix(self.rd, &self.info.namespace);
        let listed = self
            .st
            .backend
            .store
            .list(&prefix, &ListOptions::default(), &pred)
            .await
            .map_err(|e| ApiError::from_storage(e, &self.qualified("")))?;
        let mut items = Vec::new();
        for obj in listed.items {
            let name = meta_str(&obj, "name").to_string();
            let ns = meta_str(&obj, "namespace").to_string();
            let info = RequestInfo { namespace: ns, name: name.clone(), ..self.info.clone() };
            let ctx = Ctx::new(self.st, self.rd, &info, self.q, self.system);
            match ctx.delete_with(&name, &opts).await {
                Ok(r) => {
                    if r.body.get("kind").and_then(Value::as_str) != Some("Status") {
                        items.push(r.body);
                    } else {
                        items.push(obj);
                    }
                }
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Reply::ok(json!({
            "kind": format!("{}List", self.rd.kind),
            "apiVersion": self.rd.api_version(),
            "metadata": {"resourceVersion": listed.revision.to_string()},
            "items": items,
        })))
    }
}

fn deletion_time(grace: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(grace)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// The main resource: status changes are ignored for kinds with a status subresource.
    Main,
    /// The status subresource: only status changes.
    Status,
    /// A CertificateSigningRequest's `approval` subresource: only conditions change.
    Approval,
    /// A pod's `ephemeralcontainers` subresource: only `spec.ephemeralContainers` changes.
    EphemeralContainers,
    /// Write what was computed, with no strategy (internal subresources).
    Raw,
}

/// DeleteOptions from the body and the query.
#[derive(Debug, Default)]
pub struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
    pub orphan_false: bool,
}

impl DeleteOptions {
    pub fn parse(body: &[u8], content_type: Option<&str>, q: &Query) -> ApiResult<DeleteOptions> {
        let mut o = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v = codec::decode_options(body, content_type, "DeleteOptions")?;
            if let Some(k) = v.get("kind").and_then(Value::as_str) {
                if k != "DeleteOptions" {
                    return Err(ApiError::BadRequest(format!("expected DeleteOptions, got {k}")));
                }
            }
            o.grace_period = v.get("gracePeriodSeconds").and_then(Value::as_i64);
            o.propagation = v.get("propagationPolicy").and_then(Value::as_str).map(str::to_string);
            o.precondition_uid = v.ptr("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
            o.precondition_rv = v.ptr("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
            o.dry_run = v.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == "All"));
            if let Some(orphan) = v.get("orphanDependents").and_then(Value::as_bool) {
                if o.propagation.is_none() {
                    o.propagation = Some(if orphan { "Orphan" } else { "Background" }.into());
                }
                o.orphan_false = !orphan;
            }
        }
        if let Some(g) = q.int("gracePeriodSeconds")? {
            o.grace_period = Some(g);
        }
        if let Some(p) = q.get("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if let Some(p) = &o.propagation {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::Unprocessable(format!(
                    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                )));
            }
        }
        if o.grace_period.is_some_and(|g| g < 0) {
            return Err(ApiError::Unprocessable(
                "DeleteOptions.meta.k8s.io \"\" is invalid: gracePeriodSeconds: Invalid value: -1: must be >= 0".into(),
            ));
        }
        Ok(o)
    }
}

/// What one try of a guaranteed update starts from.
struct Attempt<'a> {
    name: &'a str,
    key: &'a str,
    mode: UpdateMode,
    track: Track,
    dry_run: bool,
    current: Value,
    /// Encrypted with an old key: rewrite even when nothing changed.
    stale: bool,
    /// `current` came from the watch cache and may be behind etcd.
    from_cache: bool,
}

#[cfg(test)]
mod tests {
    use super::same_but_resource_version;
    use serde_json::json;

    #[test]
    fn updates_that_change_only_the_resource_version_are_no_ops() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"k": "v"}});
        assert!(same_but_resource_version(&a, &json!({"metadata": {"name": "a"}, "data": {"k": "v"}})));
        assert!(same_but_resource_version(
            &a,
            &json!({"metadata": {"name": "a", "resourceVersion": "9"}, "data": {"k": "v"}})
        ));
        assert!(!same_but_resource_version(&a, &json!({"metadata": {"name": "a"}, "data": {"k": "w"}})));
        assert!(!same_but_resource_version(&a, &json!({"metadata": {"name": "a", "uid": "u"}, "data": {"k": "v"}})));
        assert!(!same_but_resource_version(&a, &json!({"metadata": {"name": "a"}})));
        assert!(!same_but_resource_version(&a, &json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "x": 1})));
    }
}
