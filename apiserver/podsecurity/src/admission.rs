//! The PodSecurity admission decisions for pods, pod-template workloads and namespaces, as
//! upstream's `pod-security-admission/admission` driven by the kube-apiserver plugin.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{
    aggregate_errors, FieldError, Level, LevelVersion, Policy, Version, AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL,
    AUDIT_VIOLATIONS_ANNOTATION, ENFORCE_LEVEL_LABEL, ENFORCE_POLICY_ANNOTATION, ENFORCE_VERSION_LABEL,
    ERROR_ANNOTATION, EXEMPT_ANNOTATION, WARN_LEVEL_LABEL, WARN_VERSION_LABEL,
};
use crate::checks::{check_pod_with, AggregateCheckResult, CheckOptions};
use crate::quote::go_quote;
use crate::Error;

/// Who and what is never evaluated (upstream's `PodSecurityExemptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exemptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usernames: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_classes: Vec<String>,
}

/// The admission plugin's configuration: cluster defaults for unlabelled namespaces, exemptions,
/// feature-gated check relaxations, and the bound on pods checked when a namespace is tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub defaults: Policy,
    pub exemptions: Exemptions,
    pub check_options: CheckOptions,
    pub namespace_max_pods_to_check: usize,
}

impl Default for Config {
    /// Upstream's defaults when no configuration file is given: everything privileged:latest.
    fn default() -> Self {
        Config {
            defaults: Policy::default(),
            exemptions: Exemptions::default(),
            check_options: CheckOptions::default(),
            namespace_max_pods_to_check: 3000,
        }
    }
}

#[derive(Deserialize, Default)]
struct RawDefaults {
    #[serde(default)]
    enforce: String,
    #[serde(default, rename = "enforce-version")]
    enforce_version: String,
    #[serde(default)]
    audit: String,
    #[serde(default, rename = "audit-version")]
    audit_version: String,
    #[serde(default)]
    warn: String,
    #[serde(default, rename = "warn-version")]
    warn_version: String,
}

#[derive(Deserialize)]
struct RawConfiguration {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    exemptions: Exemptions,
}

const CONFIG_GROUP: &str = "pod-security.admission.config.k8s.io";

fn dns1123_label_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
        _ => false,
    }
}

fn dns1123_subdomain_ok(s: &str) -> bool {
    s.split('.').all(dns1123_label_ok)
}

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

impl Config {
    /// Reads a `PodSecurityConfiguration` object (v1, v1beta1 or v1alpha1), defaulting unset
    /// levels and versions to privileged/latest and validating as upstream does, so a bad file
    /// stops the apiserver at start-up rather than silently changing policy.
    pub fn from_configuration(object: &Value) -> Result<Config, Error> {
        let raw: RawConfiguration =
            serde_json::from_value(object.clone()).map_err(|e| Error::InvalidConfiguration(e.to_string()))?;
        let version_ok = matches!(
            raw.api_version.strip_prefix(CONFIG_GROUP).and_then(|r| r.strip_prefix('/')),
            Some("v1" | "v1beta1" | "v1alpha1")
        );
        if !version_ok || raw.kind != "PodSecurityConfiguration" {
            return Err(Error::InvalidConfiguration(format!(
                "expected {CONFIG_GROUP}/v1 PodSecurityConfiguration, got {:?} {:?}",
                raw.api_version, raw.kind
            )));
        }
        let d = raw.defaults;
        let or = |s: String, def: &str| if s.is_empty() { def.to_string() } else { s };
        let fields = [
            ("defaults.enforce", or(d.enforce, "privileged"), true),
            ("defaults.enforce-version", or(d.enforce_version, "latest"), false),
            ("defaults.warn", or(d.warn, "privileged"), true),
            ("defaults.warn-version", or(d.warn_version, "latest"), false),
            ("defaults.audit", or(d.audit, "privileged"), true),
            ("defaults.audit-version", or(d.audit_version, "latest"), false),
        ];
        let mut errs = Vec::new();
        let mut levels = [Level::Privileged; 3];
        let mut versions = [Version::Latest; 3];
        for (i, (path, value, is_level)) in fields.iter().enumerate() {
            let slot = i / 2;
            let res = if *is_level {
                Level::parse(value).map(|l| levels[slot] = l)
            } else {
                Version::parse(value).map(|v| versions[slot] = v)
            };
            if let Err(e) = res {
                errs.push(FieldError::invalid(path.to_string(), value, e));
            }
        }
        let ex = &raw.exemptions;
        let mut seen = HashSet::new();
        for (i, ns) in ex.namespaces.iter().enumerate() {
            let path = format!("exemptions.namespaces[{i}]");
            let mut msgs = Vec::new();
            if ns.len() > 63 {
                msgs.push("must be no more than 63 characters");
            }
            if !dns1123_label_ok(ns) {
                msgs.push(if dns1123_subdomain_ok(ns) { "must not contain dots" } else { LABEL_MSG });
            }
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(path, ns, msgs.join(", ")));
            } else if !seen.insert(ns.as_str()) {
                errs.push(FieldError::duplicate(path, ns));
            }
        }
        let mut seen = HashSet::new();
        for (i, rc) in ex.runtime_classes.iter().enumerate() {
            let path = format!("exemptions.runtimeClasses[{i}]");
            let mut msgs = Vec::new();
            if rc.len() > 253 {
                msgs.push("must be no more than 253 characters");
            }
            if !dns1123_subdomain_ok(rc) {
                msgs.push(SUBDOMAIN_MSG);
            }
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(path, rc, msgs.join(", ")));
            } else if !seen.insert(rc.as_str()) {
                errs.push(FieldError::duplicate(path, rc));
            }
        }
        let mut seen = HashSet::new();
        for (i, u) in ex.usernames.iter().enumerate() {
            let path = format!("exemptions.usernames[{i}]");
            if u.is_empty() {
                errs.push(FieldError::invalid(path, u, "username must not be empty"));
            } else if !seen.insert(u.as_str()) {
                errs.push(FieldError::duplicate(path, u));
            }
        }
        if !errs.is_empty() {
            return Err(Error::InvalidConfiguration(aggregate_errors(&errs)));
        }
        Ok(Config {
            defaults: Policy {
                enforce: LevelVersion::new(levels[0], versions[0]),
                warn: LevelVersion::new(levels[1], versions[1]),
                audit: LevelVersion::new(levels[2], versions[2]),
            },
            exemptions: raw.exemptions,
            ..Config::default()
        })
    }

    fn exempt_namespace(&self, ns: &str) -> bool {
        !ns.is_empty() && self.exemptions.namespaces.iter().any(|n| n == ns)
    }

    fn exempt_user(&self, user: &str) -> bool {
        !user.is_empty() && self.exemptions.usernames.iter().any(|u| u == user)
    }

    fn exempt_runtime_class(&self, spec: &Value) -> bool {
        let rc = spec.get("runtimeClassName").and_then(Value::as_str).unwrap_or("");
        !rc.is_empty() && self.exemptions.runtime_classes.iter().any(|r| r == rc)
    }

    fn evaluate(&self, lv: LevelVersion, metadata: &Value, spec: &Value) -> AggregateCheckResult {
        AggregateCheckResult::new(&check_pod_with(lv, metadata, spec, &self.check_options))
    }
}

/// The admission operation; PodSecurity only acts on creates and updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// A request for a pod or a pod-template workload.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub operation: Operation,
    /// API group: `""`, `apps` or `batch`.
    pub group: &'a str,
    /// Plural resource, e.g. `pods`, `deployments`.
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    /// The object's name (the generated one for `generateName` creates): it appears in the 403.
    pub name: &'a str,
    pub username: &'a str,
    pub object: &'a Value,
    /// The stored object on updates; without it an update is evaluated like a create.
    pub old_object: Option<&'a Value>,
}

/// A namespace create or update.
#[derive(Debug, Clone, Copy)]
pub struct NamespaceRequest<'a> {
    pub operation: Operation,
    pub name: &'a str,
    /// The request's namespace attribute, which upstream matches against exempt namespaces.
    /// The apiserver sets it to the name for `PUT /api/v1/namespaces/NAME` and leaves it empty
    /// for `POST /api/v1/namespaces`, so exempt-namespace warnings only appear on updates.
    pub request_namespace: &'a str,
    pub subresource: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// The stored labels on updates.
    pub old_labels: Option<&'a BTreeMap<String, String>>,
}

/// The `metav1.Status` to send when a request is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// 403, 422 or 500.
    pub code: u16,
    /// `Forbidden`, `Invalid` or `InternalError`.
    pub reason: &'static str,
    /// The complete Status message, e.g. `pods "p" is forbidden: violates PodSecurity ...`.
    pub message: String,
    /// Status details: group, kind (the resource for Forbidden, the kind for Invalid) and name.
    pub group: String,
    pub kind: String,
    pub name: String,
    /// Field causes of an Invalid status.
    pub causes: Vec<FieldError>,
}

/// What admission decided, plus what it wants surfaced: response warnings and audit
/// annotations (keys already carry the `pod-security.kubernetes.io/` prefix the plugin adds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    /// Set when denied.
    pub status: Option<Status>,
    /// For a policy denial, the error after `<resource> "<name>" is forbidden: `, i.e.
    /// `violates PodSecurity "restricted:latest": ...`.
    pub message: Option<String>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
}

impl Decision {
    fn allow() -> Self {
        Decision { allowed: true, ..Default::default() }
    }

    fn annotated(key: &str, value: String) -> Self {
        let mut d = Decision::allow();
        d.audit_annotations.insert(key.to_string(), value);
        d
    }

    fn exempt(reason: &str) -> Self {
        Decision::annotated(EXEMPT_ANNOTATION, reason.to_string())
    }
}

/// `GroupResource.String()`: `pods`, `deployments.apps`.
fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// `apierrors.NewForbidden`'s message: `<resource> "<name>" is forbidden: <err>`.
pub fn forbidden_message(group: &str, resource: &str, name: &str, err: &str) -> String {
    let gr = group_resource(group, resource);
    match (gr.is_empty(), name.is_empty()) {
        (true, _) => format!("forbidden: {err}"),
        (false, true) => format!("{gr} is forbidden: {err}"),
        (false, false) => format!("{gr} {} is forbidden: {err}", go_quote(name)),
    }
}

/// `apierrors.NewInvalid`'s message for a core kind: `<Kind> "<name>" is invalid: <errors>`.
pub fn invalid_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let agg = aggregate_errors(errs);
    if agg.is_empty() {
        format!("{kind} {} is invalid", go_quote(name))
    } else {
        format!("{kind} {} is invalid: {agg}", go_quote(name))
    }
}

/// The enforce denial: `violates PodSecurity "<level:version>": <reason (detail), ...>`.
pub fn enforce_message(lv: LevelVersion, result: &AggregateCheckResult) -> String {
    format!("violates PodSecurity {}: {}", go_quote(&lv.to_string()), result.forbidden_detail())
}

/// The warning and `audit-violations` text: `would violate PodSecurity "<level:version>": ...`.
pub fn would_violate_message(lv: LevelVersion, result: &AggregateCheckResult) -> String {
    format!("would violate PodSecurity {}: {}", go_quote(&lv.to_string()), result.forbidden_detail())
}

const IGNORED_POD_SUBRESOURCES: &[&str] =
    &["exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"];

/// Whether PodSecurity evaluates this resource's pod template (besides pods themselves).
pub fn has_pod_spec(group: &str, resource: &str) -> bool {
    matches!(
        (group, resource),
        ("", "pods" | "replicationcontrollers" | "podtemplates")
            | ("apps", "replicasets" | "deployments" | "statefulsets" | "daemonsets")
            | ("batch", "jobs" | "cronjobs")
    )
}

/// The pod metadata and spec inside a workload object; `None` when there is none to check
/// (a replication controller without a template, or an unsupported resource).
pub fn extract_pod_template<'a>(group: &str, resource: &str, object: &'a Value) -> Option<(&'a Value, &'a Value)> {
    const NULL: &Value = &Value::Null;
    let field = |v: &'a Value, k: &str| v.get(k).unwrap_or(NULL);
    let parts = |t: &'a Value| (field(t, "metadata"), field(t, "spec"));
    match (group, resource) {
        ("", "pods") => Some(parts(object)),
        ("", "podtemplates") => Some(parts(field(object, "template"))),
        ("", "replicationcontrollers") => {
            let t = field(field(object, "spec"), "template");
            (!t.is_null()).then(|| parts(t))
        }
        ("apps", "replicasets" | "deployments" | "statefulsets" | "daemonsets") | ("batch", "jobs") => {
            Some(parts(field(field(object, "spec"), "template")))
        }
        ("batch", "cronjobs") => {
            Some(parts(field(field(field(field(object, "spec"), "jobTemplate"), "spec"), "template")))
        }
        _ => None,
    }
}

fn internal_error(namespace: &str, err: &str) -> Decision {
    let cause = format!("failed to lookup namespace {}", go_quote(namespace));
    let message = format!("Internal error occurred: {cause}");
    let mut d = Decision { allowed: false, ..Default::default() };
    d.audit_annotations.insert(ERROR_ANNOTATION.to_string(), format!("{message}: {err}"));
    d.status = Some(Status {
        code: 500,
        reason: "InternalError",
        message,
        group: String::new(),
        kind: String::new(),
        name: String::new(),
        causes: Vec::new(),
    });
    d
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn images(spec: &Value, key: &str) -> Vec<String> {
    spec.get(key)
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(|c| str_field(c, "image")).collect())
        .unwrap_or_default()
}

/// Only container counts, images and added or re-imaged ephemeral containers matter: other
/// pod updates cannot change the security posture, so they skip evaluation.
fn is_significant_pod_update(pod: &Value, old: &Value) -> bool {
    let null = Value::Null;
    let spec = pod.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    if images(spec, "containers") != images(old_spec, "containers")
        || images(spec, "initContainers") != images(old_spec, "initContainers")
    {
        return true;
    }
    let ephemeral = |s: &Value| -> Vec<(String, String)> {
        s.get("ephemeralContainers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(|c| (str_field(c, "name"), str_field(c, "image"))).collect())
            .unwrap_or_default()
    };
    let old_ephemeral = ephemeral(old_spec);
    ephemeral(spec).iter().any(|(name, image)| match old_ephemeral.iter().find(|(n, _)| n == name) {
        None => true,
        Some((_, old_image)) => image != old_image,
    })
}

/// Upstream's `ValidatePod`: enforce, audit and warn for a pod create or update.
/// `namespace_labels` is the pod's namespace's labels, or the lookup error.
pub fn admit_pod(
    config: &Config,
    req: &Request<'_>,
    namespace_labels: Result<&BTreeMap<String, String>, &str>,
) -> Decision {
    if !matches!(req.operation, Operation::Create | Operation::Update)
        || IGNORED_POD_SUBRESOURCES.contains(&req.subresource)
    {
        return Decision::allow();
    }
    if config.exempt_namespace(req.namespace) {
        return Decision::exempt("namespace");
    }
    if config.exempt_user(req.username) {
        return Decision::exempt("user");
    }
    let labels = match namespace_labels {
        Ok(l) => l,
        Err(e) => return internal_error(req.namespace, e),
    };
    let (policy, errs) = Policy::from_labels(labels, &config.defaults);
    if errs.is_empty() && policy.fully_privileged() {
        let lv = LevelVersion::new(Level::Privileged, Version::Latest);
        return Decision::annotated(ENFORCE_POLICY_ANNOTATION, lv.to_string());
    }
    if req.operation == Operation::Update {
        if let Some(old) = req.old_object {
            if !is_significant_pod_update(req.object, old) {
                return Decision::allow();
            }
        }
    }
    let (metadata, spec) = extract_pod_template("", "pods", req.object).unwrap_or((&Value::Null, &Value::Null));
    evaluate_pod(config, &policy, &errs, metadata, spec, Some(req))
}

/// Upstream's `ValidatePodController`: audit and warn (never enforce) for a workload's pod
/// template, so that bad templates are flagged before their pods are rejected.
pub fn admit_workload(
    config: &Config,
    req: &Request<'_>,
    namespace_labels: Result<&BTreeMap<String, String>, &str>,
) -> Decision {
    if !matches!(req.operation, Operation::Create | Operation::Update)
        || !req.subresource.is_empty()
        || !has_pod_spec(req.group, req.resource)
    {
        return Decision::allow();
    }
    if config.exempt_namespace(req.namespace) {
        return Decision::exempt("namespace");
    }
    if config.exempt_user(req.username) {
        return Decision::exempt("user");
    }
    let labels = match namespace_labels {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("failed to lookup namespace {}: {e}", go_quote(req.namespace));
            return Decision::annotated(ERROR_ANNOTATION, msg);
        }
    };
    let (policy, errs) = Policy::from_labels(labels, &config.defaults);
    if errs.is_empty() && policy.warn.level == Level::Privileged && policy.audit.level == Level::Privileged {
        return Decision::allow();
    }
    match extract_pod_template(req.group, req.resource, req.object) {
        Some((metadata, spec)) => evaluate_pod(config, &policy, &errs, metadata, spec, None),
        None => Decision::allow(),
    }
}

/// Pods go to [`admit_pod`], other pod-template resources to [`admit_workload`].
pub fn admit(
    config: &Config,
    req: &Request<'_>,
    namespace_labels: Result<&BTreeMap<String, String>, &str>,
) -> Decision {
    if req.group.is_empty() && req.resource == "pods" {
        admit_pod(config, req, namespace_labels)
    } else {
        admit_workload(config, req, namespace_labels)
    }
}

/// Upstream's `EvaluatePod`. `enforce` carries the pod request when enforcing.
fn evaluate_pod(
    config: &Config,
    policy: &Policy,
    policy_errs: &[FieldError],
    metadata: &Value,
    spec: &Value,
    enforce: Option<&Request<'_>>,
) -> Decision {
    if config.exempt_runtime_class(spec) {
        return Decision::exempt("runtimeClass");
    }
    let mut d = Decision::allow();
    if !policy_errs.is_empty() {
        d.audit_annotations
            .insert(ERROR_ANNOTATION.to_string(), format!("Failed to parse policy: {}", aggregate_errors(policy_errs)));
    }
    let mut cache: HashMap<LevelVersion, AggregateCheckResult> = HashMap::new();
    let mut result_for =
        |lv: LevelVersion| cache.entry(lv).or_insert_with(|| config.evaluate(lv, metadata, spec)).clone();
    if let Some(req) = enforce {
        d.audit_annotations.insert(ENFORCE_POLICY_ANNOTATION.to_string(), policy.enforce.to_string());
        let result = result_for(policy.enforce);
        if !result.allowed {
            let err = enforce_message(policy.enforce, &result);
            d.allowed = false;
            d.status = Some(Status {
                code: 403,
                reason: "Forbidden",
                message: forbidden_message(req.group, req.resource, req.name, &err),
                group: req.group.to_string(),
                kind: req.resource.to_string(),
                name: req.name.to_string(),
                causes: Vec::new(),
            });
            d.message = Some(err);
        }
    }
    let audit = result_for(policy.audit);
    if !audit.allowed {
        d.audit_annotations
            .insert(AUDIT_VIOLATIONS_ANNOTATION.to_string(), would_violate_message(policy.audit, &audit));
    }
    if d.allowed {
        let warn = result_for(policy.warn);
        if !warn.allowed {
            d.warnings.push(would_violate_message(policy.warn, &warn));
        }
    }
    d
}

/// Upstream's `ValidateNamespace`: reject invalid PodSecurity labels, and when an update
/// tightens enforcement, warn about existing pods that the new level would reject.
/// `list_pods` is called only when that check runs; `Err` yields upstream's listing warning.
pub fn admit_namespace<F>(config: &Config, req: &NamespaceRequest<'_>, list_pods: F) -> Decision
where
    F: FnOnce() -> Result<Vec<Value>, String>,
{
    if !req.subresource.is_empty() {
        return Decision::allow();
    }
    let (new_policy, new_errs) = Policy::from_labels(req.labels, &config.defaults);
    let invalid = |errs: Vec<FieldError>| Decision {
        allowed: false,
        status: Some(Status {
            code: 422,
            reason: "Invalid",
            message: invalid_message("Namespace", req.name, &errs),
            group: String::new(),
            kind: "Namespace".to_string(),
            name: req.name.to_string(),
            causes: errs,
        }),
        ..Default::default()
    };
    let exempt_warning = || {
        let mut d = Decision::allow();
        d.warnings.extend(exempt_namespace_warning(config, req.name, &new_policy, req.labels));
        d
    };
    match req.operation {
        Operation::Create => {
            if !new_errs.is_empty() {
                return invalid(new_errs);
            }
            if config.exempt_namespace(req.request_namespace) {
                return exempt_warning();
            }
            Decision::allow()
        }
        Operation::Update => {
            let empty = BTreeMap::new();
            let (old_policy, old_errs) = Policy::from_labels(req.old_labels.unwrap_or(&empty), &config.defaults);
            if !new_errs.is_empty() && (old_errs.is_empty() || new_errs != old_errs) {
                return invalid(new_errs);
            }
            let (new, old) = (new_policy.enforce, old_policy.enforce);
            if new == old || new.level == Level::Privileged || (new.version == old.version && new.level <= old.level) {
                return Decision::allow();
            }
            if config.exempt_namespace(req.request_namespace) {
                return exempt_warning();
            }
            let mut d = Decision::allow();
            d.warnings = match list_pods() {
                Ok(pods) => evaluate_pods_in_namespace(config, req.name, new, &pods),
                Err(_) => vec!["failed to list pods while checking new PodSecurity enforce level".to_string()],
            };
            d
        }
        _ => Decision::allow(),
    }
}

/// The warning that a non-privileged policy on an exempt namespace has no effect; `None` when
/// the policy is fully privileged or equivalent to the defaults.
fn exempt_namespace_warning(
    config: &Config,
    name: &str,
    policy: &Policy,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    if policy.fully_privileged() || policy.equivalent(&config.defaults) {
        return None;
    }
    let modes = [
        ("enforce", policy.enforce, ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL),
        ("audit", policy.audit, AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL),
        ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
    ];
    let parts: Vec<String> = modes
        .iter()
        .filter(|(_, lv, l, v)| lv.level != Level::Privileged && (labels.contains_key(*l) || labels.contains_key(*v)))
        .map(|(mode, lv, _, _)| format!("{mode}={lv}"))
        .collect();
    Some(format!(
        "namespace {} is exempt from Pod Security, and the policy ({}) will be ignored",
        go_quote(name),
        parts.join(", ")
    ))
}

fn controller_uid(pod: &Value) -> Option<&str> {
    pod.get("metadata")?
        .get("ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| r.get("uid").and_then(Value::as_str).unwrap_or(""))
}

/// Upstream's `EvaluatePodsInNamespace` (without its one-second deadline: the caller bounds
/// the work with `namespace_max_pods_to_check`). One pod per controller is checked first so
/// the bound covers as many distinct templates as possible; identical violations are grouped.
pub fn evaluate_pods_in_namespace(
    config: &Config,
    namespace: &str,
    enforce: LevelVersion,
    pods: &[Value],
) -> Vec<String> {
    let mut first = Vec::new();
    let mut replicas = Vec::new();
    let mut seen_controllers = HashSet::new();
    let null = Value::Null;
    for pod in pods {
        if config.exempt_runtime_class(pod.get("spec").unwrap_or(&null)) {
            continue;
        }
        match controller_uid(pod) {
            Some(uid) if !seen_controllers.insert(uid) => replicas.push(pod),
            _ => first.push(pod),
        }
    }
    first.extend(replicas);
    let total = first.len();
    first.truncate(config.namespace_max_pods_to_check);
    let checked = first.len();

    let mut order: Vec<String> = Vec::new();
    let mut counts: HashMap<String, (String, usize)> = HashMap::new();
    for pod in &first {
        let name = pod.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
        let r = config.evaluate(enforce, pod.get("metadata").unwrap_or(&null), pod.get("spec").unwrap_or(&null));
        if r.allowed {
            continue;
        }
        let reason = r.forbidden_reason();
        match counts.get_mut(&reason) {
            None => {
                counts.insert(reason.clone(), (name.to_string(), 1));
                order.push(reason);
            }
            Some((first_name, count)) => {
                if name < first_name.as_str() {
                    *first_name = name.to_string();
                }
                *count += 1;
            }
        }
    }
    let mut warnings = Vec::new();
    if checked < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
        ));
    }
    if !order.is_empty() {
        warnings.push(format!(
            "existing pods in namespace {} violate the new PodSecurity enforce level {}",
            go_quote(namespace),
            go_quote(&enforce.to_string())
        ));
    }
    let mut pod_warnings: Vec<String> = order
        .into_iter()
        .map(|reason| match counts.get(&reason) {
            Some((pod, 1)) => format!("{pod}: {reason}"),
            Some((pod, 2)) => format!("{pod} (and 1 other pod): {reason}"),
            Some((pod, n)) => format!("{pod} (and {} other pods): {reason}", n - 1),
            None => reason,
        })
        .collect();
    pod_warnings.sort();
    warnings.extend(pod_warnings);
    warnings
}
