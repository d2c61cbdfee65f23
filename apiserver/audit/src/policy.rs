//! The `audit.k8s.io/v1` `Policy`: loading, validation (`pkg/apis/audit/validation`) and rule
//! evaluation (`pkg/audit/policy/checker.go`).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::event::{Level, Stage, API_VERSION};
use crate::AuditError;

/// The request as the policy sees it: the authorizers' attributes (upstream's
/// `authorizer.Attributes`), so the apiserver builds both from one `RequestInfo`.
pub use rbac::Attributes;

/// What the policy decided for one request (upstream's `audit.RequestAuditConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestAuditConfig {
    pub level: Level,
    /// Stages not to emit: the policy-wide list united with the matching rule's.
    pub omit_stages: Vec<Stage>,
    /// Whether request/response bodies lose `metadata.managedFields`.
    pub omit_managed_fields: bool,
}

impl RequestAuditConfig {
    /// Whether an event at `stage` should reach the backend.
    pub fn emits(&self, stage: Stage) -> bool {
        self.level != Level::None && !self.omit_stages.contains(&stage)
    }
}

/// A group and some of its resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupResources {
    /// API group; `""` is the core group.
    pub group: String,
    /// `pods`, `pods/log`, `*`, `*/status`, `pods/*`; empty matches every resource in the group.
    pub resources: Vec<String>,
    /// Restricts to these object names; empty matches any.
    pub resource_names: Vec<String>,
}

/// One rule; every non-empty selector must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub level: Level,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    /// `""` selects cluster-scoped resources.
    pub namespaces: Vec<String>,
    /// Exact paths, `*`, or a prefix ending in `*`.
    pub non_resource_urls: Vec<String>,
    pub omit_stages: Vec<Stage>,
    /// Overrides the policy-wide setting when present.
    pub omit_managed_fields: Option<bool>,
}

/// A loaded, validated audit policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<PolicyRule>,
    pub omit_stages: Vec<Stage>,
    pub omit_managed_fields: bool,
}

impl Policy {
    /// Reads `--audit-policy-file`; errors name the file, as upstream.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy, AuditError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(AuditError::NoPolicyPath);
        }
        let bytes =
            std::fs::read(path).map_err(|source| AuditError::ReadPolicy { path: path.to_path_buf(), source })?;
        Policy::parse(&bytes).map_err(|e| AuditError::PolicyFile { path: path.to_path_buf(), source: Box::new(e) })
    }

    /// Parses a YAML or JSON `audit.k8s.io/v1` `Policy`. Unknown fields only warn (upstream falls
    /// back from strict to lenient decoding); validation errors are returned together.
    pub fn parse(bytes: &[u8]) -> Result<Policy, AuditError> {
        let doc = decode_document(bytes)?;
        let obj = doc.as_object().ok_or_else(|| AuditError::Decode("Object 'Kind' is missing".into()))?;
        let field = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        if kind.is_empty() {
            return Err(AuditError::Decode("Object 'Kind' is missing".into()));
        }
        if api_version.is_empty() {
            return Err(AuditError::Decode("Object 'apiVersion' is missing".into()));
        }
        if api_version != API_VERSION || kind != "Policy" {
            return Err(AuditError::Decode(format!(
                "no kind {kind:?} is registered for version {api_version:?} as an audit policy"
            )));
        }
        let unknown = unknown_fields(&doc);
        if !unknown.is_empty() {
            tracing::warn!(fields = ?unknown, "audit policy contains unknown fields, ignoring them");
        }
        let raw: RawPolicy = serde_json::from_value(doc).map_err(|e| AuditError::Decode(e.to_string()))?;
        let errs = validate(&raw);
        if !errs.is_empty() {
            return Err(AuditError::Invalid(errs));
        }
        let policy = raw.into_policy();
        if policy.rules.is_empty() {
            return Err(AuditError::NoRules);
        }
        tracing::debug!(rules = policy.rules.len(), "loaded audit policy");
        Ok(policy)
    }

    /// The first matching rule decides; no match means `None` with the policy-wide settings.
    pub fn evaluate(&self, attrs: &Attributes) -> RequestAuditConfig {
        match self.rules.iter().find(|r| rule_matches(r, attrs)) {
            Some(rule) => RequestAuditConfig {
                level: rule.level,
                omit_stages: union_stages(&self.omit_stages, &rule.omit_stages),
                omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
            },
            None => RequestAuditConfig {
                level: Level::None,
                omit_stages: union_stages(&self.omit_stages, &[]),
                omit_managed_fields: self.omit_managed_fields,
            },
        }
    }
}

/// Deduplicated union in stage order, so results are deterministic (upstream's map order is not).
fn union_stages(a: &[Stage], b: &[Stage]) -> Vec<Stage> {
    Stage::ALL.into_iter().filter(|s| a.contains(s) || b.contains(s)).collect()
}

fn has(list: &[String], v: &str) -> bool {
    list.iter().any(|s| s == v)
}

fn rule_matches(r: &PolicyRule, a: &Attributes) -> bool {
    if !r.users.is_empty() && !has(&r.users, &a.user) {
        return false;
    }
    if !r.user_groups.is_empty() && !a.groups.iter().any(|g| has(&r.user_groups, g)) {
        return false;
    }
    if !r.verbs.is_empty() && !has(&r.verbs, &a.verb) {
        return false;
    }
    if !r.namespaces.is_empty() || !r.resources.is_empty() {
        return rule_matches_resource(r, a);
    }
    if !r.non_resource_urls.is_empty() {
        return !a.is_resource && r.non_resource_urls.iter().any(|spec| path_matches(&a.path, spec));
    }
    true
}

fn path_matches(path: &str, spec: &str) -> bool {
    if spec == "*" || spec == path {
        return true;
    }
    // Go's TrimRight strips every trailing '*'.
    spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*'))
}

fn rule_matches_resource(r: &PolicyRule, a: &Attributes) -> bool {
    if !a.is_resource {
        return false;
    }
    if !r.namespaces.is_empty() && !has(&r.namespaces, &a.namespace) {
        return false;
    }
    if r.resources.is_empty() {
        return true;
    }
    let combined =
        if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
    r.resources.iter().filter(|gr| gr.group == a.api_group).any(|gr| {
        if gr.resources.is_empty() {
            return true;
        }
        if !gr.resource_names.is_empty() && !has(&gr.resource_names, &a.name) {
            return false;
        }
        gr.resources.iter().any(|res| {
            res == "*"
                || *res == combined
                || (!a.subresource.is_empty() && res.strip_prefix("*/") == Some(a.subresource.as_str()))
                || res.strip_suffix("/*") == Some(a.resource.as_str())
        })
    })
}

/// JSON when it looks like JSON, else YAML (YAML 1.2 is a JSON superset, but the YAML parser's
/// error messages for JSON input are poor).
fn decode_document(bytes: &[u8]) -> Result<Value, AuditError> {
    let trimmed = bytes.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &bytes[i..]).unwrap_or_default();
    if trimmed.first() == Some(&b'{') {
        return serde_json::from_slice(trimmed).map_err(|e| AuditError::Decode(e.to_string()));
    }
    serde_saphyr::from_slice(bytes).map_err(|e| AuditError::Decode(e.to_string()))
}

const POLICY_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"];
const RULE_FIELDS: &[&str] = &[
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_RESOURCE_FIELDS: &[&str] = &["group", "resources", "resourceNames"];

/// Paths of fields a strict decoder would reject, for the warning upstream logs.
fn unknown_fields(doc: &Value) -> Vec<String> {
    fn extra(v: &Value, known: &[&str], prefix: &str, out: &mut Vec<String>) {
        if let Some(m) = v.as_object() {
            out.extend(m.keys().filter(|k| !known.contains(&k.as_str())).map(|k| format!("{prefix}{k}")));
        }
    }
    let mut out = Vec::new();
    extra(doc, POLICY_FIELDS, "", &mut out);
    for (i, rule) in doc.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
        extra(rule, RULE_FIELDS, &format!("rules[{i}]."), &mut out);
        for (j, gr) in rule.get("resources").and_then(Value::as_array).into_iter().flatten().enumerate() {
            extra(gr, GROUP_RESOURCE_FIELDS, &format!("rules[{i}].resources[{j}]."), &mut out);
        }
    }
    out
}

/// The document as written, before level/stage strings are checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPolicy {
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
    #[serde(default)]
    omit_stages: Option<Vec<String>>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    users: Option<Vec<String>>,
    #[serde(default)]
    user_groups: Option<Vec<String>>,
    #[serde(default)]
    verbs: Option<Vec<String>>,
    #[serde(default)]
    resources: Option<Vec<RawGroupResources>>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Option<Vec<String>>,
    #[serde(default)]
    omit_stages: Option<Vec<String>>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGroupResources {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
    #[serde(default)]
    resource_names: Option<Vec<String>>,
}

impl RawPolicy {
    /// Only called after [`validate`], so unparsable levels/stages cannot occur; they would map
    /// to `None`/be dropped rather than panic.
    fn into_policy(self) -> Policy {
        let stages =
            |v: Option<Vec<String>>| v.unwrap_or_default().iter().filter_map(|s| Stage::parse(s)).collect::<Vec<_>>();
        Policy {
            omit_stages: stages(self.omit_stages),
            omit_managed_fields: self.omit_managed_fields.unwrap_or(false),
            rules: self
                .rules
                .unwrap_or_default()
                .into_iter()
                .map(|r| PolicyRule {
                    level: r.level.as_deref().and_then(Level::parse).unwrap_or(Level::None),
                    users: r.users.unwrap_or_default(),
                    user_groups: r.user_groups.unwrap_or_default(),
                    verbs: r.verbs.unwrap_or_default(),
                    resources: r
                        .resources
                        .unwrap_or_default()
                        .into_iter()
                        .map(|g| GroupResources {
                            group: g.group.unwrap_or_default(),
                            resources: g.resources.unwrap_or_default(),
                            resource_names: g.resource_names.unwrap_or_default(),
                        })
                        .collect(),
                    namespaces: r.namespaces.unwrap_or_default(),
                    non_resource_urls: r.non_resource_urls.unwrap_or_default(),
                    omit_stages: stages(r.omit_stages),
                    omit_managed_fields: r.omit_managed_fields,
                })
                .collect(),
        }
    }
}

/// Go's `%#v` of a `[]string`, which is how field errors print list values.
fn go_string_slice(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("[]string{{{}}}", items.join(", "))
}

/// `ValidatePolicy`, producing apimachinery-formatted field errors.
fn validate(p: &RawPolicy) -> Vec<String> {
    let mut errs = Vec::new();
    validate_omit_stages(p.omit_stages.as_deref().unwrap_or_default(), "omitStages", &mut errs);
    for (i, rule) in p.rules.as_deref().unwrap_or_default().iter().enumerate() {
        let path = format!("rules[{i}]");
        match rule.level.as_deref().unwrap_or_default() {
            "" => errs.push(format!("{path}.level: Required value")),
            l if Level::parse(l).is_none() => {
                let supported: Vec<String> = Level::ALL.iter().map(|l| format!("{:?}", l.as_str())).collect();
                errs.push(format!(
                    "{path}.level: Unsupported value: {l:?}: supported values: {}",
                    supported.join(", ")
                ));
            }
            _ => {}
        }
        let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
        for (j, url) in urls.iter().enumerate() {
            if url == "*" {
                continue;
            }
            let at = format!("{path}.nonResourceURLs[{j}]");
            if !url.starts_with('/') {
                errs.push(format!(
                    "{at}: Invalid value: {url:?}: non-resource URL rules must begin with a '/' character"
                ));
            }
            if url.as_bytes().split_last().is_some_and(|(_, rest)| rest.contains(&b'*')) {
                errs.push(format!(
                    "{at}: Invalid value: {url:?}: non-resource URL wildcards '*' must be the final character of the rule"
                ));
            }
        }
        for gr in rule.resources.as_deref().unwrap_or_default() {
            let group = gr.group.as_deref().unwrap_or_default();
            if !group.is_empty() {
                if let Some(msg) = dns_subdomain_error(group) {
                    // Upstream reports this without the list index.
                    errs.push(format!("{path}.resources.group: Invalid value: {group:?}: {msg}"));
                }
            }
            let names = gr.resource_names.as_deref().unwrap_or_default();
            if !names.is_empty() && gr.resources.as_deref().unwrap_or_default().is_empty() {
                errs.push(format!(
                    "{path}.resources.resourceNames: Invalid value: {}: using resourceNames requires at least one resource",
                    go_string_slice(names)
                ));
            }
        }
        validate_omit_stages(rule.omit_stages.as_deref().unwrap_or_default(), &format!("{path}.omitStages"), &mut errs);
        let has_resources = rule.resources.as_deref().is_some_and(|r| !r.is_empty())
            || rule.namespaces.as_deref().is_some_and(|n| !n.is_empty());
        if !urls.is_empty() && has_resources {
            errs.push(format!(
                "{path}.nonResourceURLs: Invalid value: {}: rules cannot apply to both regular resources and non-resource URLs",
                go_string_slice(urls)
            ));
        }
    }
    errs
}

fn validate_omit_stages(stages: &[String], path: &str, errs: &mut Vec<String>) {
    for (i, s) in stages.iter().enumerate() {
        if Stage::parse(s).is_none() {
            let allowed: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
            errs.push(format!("{path}[{i}]: Invalid value: {s:?}: allowed stages are {}", allowed.join(",")));
        }
    }
}

/// `NameIsDNSSubdomain`: a lowercase RFC 1123 subdomain of at most 253 characters.
fn dns_subdomain_error(s: &str) -> Option<String> {
    let mut msgs = Vec::new();
    if s.len() > 253 {
        msgs.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        b.first().is_some_and(alnum) && b.last().is_some_and(alnum) && b.iter().all(|c| alnum(c) || *c == b'-')
    };
    if !s.split('.').all(label_ok) {
        msgs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must \
             start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    (!msgs.is_empty()).then(|| msgs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example policy from the Kubernetes "Auditing" documentation page.
    const DOCS_POLICY: &str = r#"
apiVersion: audit.k8s.io/v1 # This is required.
kind: Policy
# Don't generate audit events for all requests in RequestReceived stage.
omitStages:
  - "RequestReceived"
rules:
  # Log pod changes at RequestResponse level
  - level: RequestResponse
    resources:
    - group: ""
      # Resource "pods" doesn't match requests to any subresource of pods,
      # which is consistent with the RBAC policy.
      resources: ["pods"]
  # Log "pods/log", "pods/status" at Metadata level
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]

  # Don't log requests to a configmap called "controller-leader"
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]

  # Don't log watch requests by the "system:kube-proxy" on endpoints or services
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: "" # core API group
      resources: ["endpoints", "services"]

  # Don't log authenticated requests to certain non-resource URL paths.
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*" # Wildcard matching.
    - "/version"

  # Log the request body of configmap changes in kube-system.
  - level: Request
    resources:
    - group: "" # core API group
      resources: ["configmaps"]
    # This rule only applies to resources in the "kube-system" namespace.
    # The empty string "" can be used to select non-namespaced resources.
    namespaces: ["kube-system"]

  # Log configmap and secret changes in all other namespaces at the Metadata level.
  - level: Metadata
    resources:
    - group: "" # core API group
      resources: ["secrets", "configmaps"]

  # Log all other resources in core and extensions at the Request level.
  - level: Request
    resources:
    - group: "" # core API group
    - group: "extensions" # Version of group should NOT be included.

  # A catch-all rule to log all other requests at the Metadata level.
  - level: Metadata
    # Long-running requests like watches that fall under this rule will not
    # generate an audit event in RequestReceived.
    omitStages:
      - "RequestReceived"
"#;

    fn docs_policy() -> Policy {
        Policy::parse(DOCS_POLICY.as_bytes()).unwrap_or_else(|e| panic!("docs policy: {e}"))
    }

    fn res(user: &str, verb: &str, group: &str, ns: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            user: user.into(),
            groups: vec!["system:authenticated".into()],
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            api_version: "v1".into(),
            namespace: ns.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn non_res(user: &str, groups: &[&str], path: &str) -> Attributes {
        Attributes {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            verb: "get".into(),
            path: path.into(),
            ..Default::default()
        }
    }

    fn level(p: &Policy, a: &Attributes) -> Level {
        p.evaluate(a).level
    }

    #[test]
    fn docs_policy_parses() {
        let p = docs_policy();
        assert_eq!(p.rules.len(), 9);
        assert_eq!(p.omit_stages, [Stage::RequestReceived]);
        assert_eq!(p.rules[2].resources[0].resource_names, ["controller-leader"]);
        assert_eq!(p.rules[4].non_resource_urls, ["/api*", "/version"]);
    }

    #[test]
    fn docs_policy_levels() {
        let p = docs_policy();
        let alice = "alice";
        assert_eq!(level(&p, &res(alice, "create", "", "default", "pods", "", "web")), Level::RequestResponse);
        // "pods" does not cover subresources.
        assert_eq!(level(&p, &res(alice, "get", "", "default", "pods", "log", "web")), Level::Metadata);
        assert_eq!(level(&p, &res(alice, "update", "", "default", "pods", "status", "web")), Level::Metadata);
        assert_eq!(level(&p, &res(alice, "get", "", "default", "pods", "exec", "web")), Level::Request);
        assert_eq!(
            level(&p, &res(alice, "update", "", "kube-system", "configmaps", "", "controller-leader")),
            Level::None
        );
        assert_eq!(level(&p, &res(alice, "update", "", "kube-system", "configmaps", "", "other")), Level::Request);
        assert_eq!(level(&p, &res(alice, "update", "", "default", "configmaps", "", "other")), Level::Metadata);
        assert_eq!(level(&p, &res(alice, "get", "", "kube-system", "secrets", "", "token")), Level::Metadata);
        assert_eq!(level(&p, &res("system:kube-proxy", "watch", "", "", "endpoints", "", "")), Level::None);
        assert_eq!(level(&p, &res("system:kube-proxy", "watch", "", "", "services", "", "")), Level::None);
        // Same user listing (not watching) falls through to the core-group rule.
        assert_eq!(level(&p, &res("system:kube-proxy", "list", "", "", "services", "", "")), Level::Request);
        assert_eq!(level(&p, &res(alice, "get", "extensions", "default", "ingresses", "", "")), Level::Request);
        assert_eq!(level(&p, &res(alice, "get", "apps", "default", "deployments", "", "")), Level::Metadata);
        let authn = ["system:authenticated"];
        assert_eq!(level(&p, &non_res(alice, &authn, "/apis/apps/v1")), Level::None);
        assert_eq!(level(&p, &non_res(alice, &authn, "/version")), Level::None);
        assert_eq!(level(&p, &non_res(alice, &authn, "/healthz")), Level::Metadata);
        assert_eq!(level(&p, &non_res("system:anonymous", &["system:unauthenticated"], "/api")), Level::Metadata);
    }

    #[test]
    fn omit_stages_union_policy_and_rule() {
        let p = docs_policy();
        let cfg = p.evaluate(&res("alice", "get", "apps", "default", "deployments", "", ""));
        assert_eq!(cfg.omit_stages, [Stage::RequestReceived]);
        assert!(!cfg.emits(Stage::RequestReceived));
        assert!(cfg.emits(Stage::ResponseComplete));

        let y = br#"{"apiVersion":"audit.k8s.io/v1","kind":"Policy","omitStages":["ResponseStarted"],
            "rules":[{"level":"Request","omitStages":["Panic","RequestReceived"]}]}"#;
        let p = Policy::parse(y).unwrap_or_default();
        let cfg = p.evaluate(&non_res("bob", &[], "/x"));
        assert_eq!(cfg.omit_stages, [Stage::RequestReceived, Stage::ResponseStarted, Stage::Panic]);
    }

    #[test]
    fn no_match_is_none_with_policy_defaults() {
        let y = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Panic]\nomitManagedFields: true\nrules:\n- level: Metadata\n  verbs: [create]\n";
        let p = Policy::parse(y).unwrap_or_default();
        let cfg = p.evaluate(&res("a", "get", "", "default", "pods", "", ""));
        assert_eq!(
            cfg,
            RequestAuditConfig { level: Level::None, omit_stages: vec![Stage::Panic], omit_managed_fields: true }
        );
        assert!(!cfg.emits(Stage::ResponseComplete));
    }

    #[test]
    fn first_match_wins() {
        let y = br#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
  verbs: [get]
  resources: [{resources: [pods]}]
- level: Metadata
"#;
        let p = Policy::parse(y).unwrap_or_default();
        assert_eq!(level(&p, &res("a", "get", "", "ns", "pods", "", "")), Level::RequestResponse);
        assert_eq!(level(&p, &res("a", "list", "", "ns", "pods", "", "")), Level::Metadata);
        let mut swapped = p.clone();
        swapped.rules.reverse();
        assert_eq!(level(&swapped, &res("a", "get", "", "ns", "pods", "", "")), Level::Metadata);
    }

    #[test]
    fn resource_wildcards_and_names() {
        let rule = |resources: &[&str], names: &[&str]| Policy {
            rules: vec![PolicyRule {
                level: Level::Request,
                resources: vec![GroupResources {
                    group: String::new(),
                    resources: resources.iter().map(|s| s.to_string()).collect(),
                    resource_names: names.iter().map(|s| s.to_string()).collect(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let log = res("a", "get", "", "default", "pods", "log", "busybox");
        let pod = res("a", "get", "", "default", "pods", "", "busybox");
        assert_eq!(level(&rule(&["pods/log"], &[]), &log), Level::Request);
        assert_eq!(level(&rule(&["pods"], &[]), &log), Level::None);
        assert_eq!(level(&rule(&["*"], &[]), &log), Level::Request);
        assert_eq!(level(&rule(&["*/log"], &[]), &log), Level::Request);
        assert_eq!(level(&rule(&["*/log"], &[]), &pod), Level::None);
        assert_eq!(level(&rule(&["pods/*"], &[]), &log), Level::Request);
        assert_eq!(level(&rule(&["pods/*"], &[]), &pod), Level::Request);
        assert_eq!(level(&rule(&["pods"], &["busybox"]), &pod), Level::Request);
        assert_eq!(level(&rule(&["pods"], &["other"]), &pod), Level::None);
        // Other groups never match a core-group entry.
        let deploy = res("a", "get", "apps", "default", "deployments", "", "");
        assert_eq!(level(&rule(&["*"], &[]), &deploy), Level::None);
        // Resource selectors never match non-resource requests.
        assert_eq!(level(&rule(&["*"], &[]), &non_res("a", &[], "/healthz")), Level::None);
    }

    #[test]
    fn namespaces_empty_string_selects_cluster_scoped() {
        let y = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  namespaces: [\"\"]\n";
        let p = Policy::parse(y).unwrap_or_default();
        assert_eq!(
            level(&p, &res("a", "get", "rbac.authorization.k8s.io", "", "clusterroles", "", "")),
            Level::Request
        );
        assert_eq!(level(&p, &res("a", "get", "", "default", "pods", "", "")), Level::None);
    }

    #[test]
    fn non_resource_url_matching() {
        assert!(path_matches("/logs/kubelet.log", "/logs*"));
        assert!(path_matches("/anything", "*"));
        assert!(path_matches("/metrics", "/metrics"));
        assert!(!path_matches("/metrics/x", "/metrics"));
        assert!(!path_matches("/log", "/logs*"));
        let p = Policy {
            rules: vec![PolicyRule {
                level: Level::Metadata,
                non_resource_urls: vec!["/logs*".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(level(&p, &non_res("a", &[], "/logs/x")), Level::Metadata);
        let mut r = res("a", "get", "", "", "logs", "", "");
        r.path = "/logs/x".into();
        assert_eq!(level(&p, &r), Level::None);
    }

    #[test]
    fn omit_managed_fields_rule_overrides_policy() {
        let y = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitManagedFields: true\nrules:\n- level: Request\n  verbs: [create]\n  omitManagedFields: false\n- level: Request\n";
        let p = Policy::parse(y).unwrap_or_default();
        assert!(!p.evaluate(&res("a", "create", "", "d", "pods", "", "")).omit_managed_fields);
        assert!(p.evaluate(&res("a", "update", "", "d", "pods", "", "")).omit_managed_fields);
    }

    fn err(y: &str) -> String {
        match Policy::parse(y.as_bytes()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn validation_errors_match_upstream() {
        let head = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";
        assert_eq!(err(&format!("{head}rules: []\n")), "loaded illegal policy with 0 rules");
        assert_eq!(err(head), "loaded illegal policy with 0 rules");
        assert_eq!(err(&format!("{head}rules:\n- verbs: [get]\n")), "rules[0].level: Required value");
        assert_eq!(
            err(&format!("{head}rules:\n- level: Everything\n")),
            r#"rules[0].level: Unsupported value: "Everything": supported values: "None", "Metadata", "Request", "RequestResponse""#
        );
        assert_eq!(
            err(&format!("{head}omitStages: [Done]\nrules:\n- level: None\n")),
            r#"omitStages[0]: Invalid value: "Done": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"#
        );
        assert_eq!(
            err(&format!("{head}rules:\n- level: None\n  nonResourceURLs: [\"/a*b\", \"healthz\"]\n")),
            concat!(
                r#"[rules[0].nonResourceURLs[0]: Invalid value: "/a*b": non-resource URL wildcards '*' must be the final character of the rule, "#,
                r#"rules[0].nonResourceURLs[1]: Invalid value: "healthz": non-resource URL rules must begin with a '/' character]"#
            )
        );
        assert_eq!(
            err(&format!("{head}rules:\n- level: None\n  nonResourceURLs: [\"/x\"]\n  namespaces: [default]\n")),
            r#"rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both regular resources and non-resource URLs"#
        );
        assert_eq!(
            err(&format!("{head}rules:\n- level: None\n  resources: [{{group: \"\", resourceNames: [a]}}]\n")),
            r#"rules[0].resources.resourceNames: Invalid value: []string{"a"}: using resourceNames requires at least one resource"#
        );
        assert!(err(&format!("{head}rules:\n- level: None\n  resources: [{{group: rbac.authorization.k8s.io/v1}}]\n"))
            .starts_with(r#"rules[0].resources.group: Invalid value: "rbac.authorization.k8s.io/v1": a lowercase RFC 1123 subdomain"#));
        // v1.33 has no group wildcard.
        assert!(err(&format!("{head}rules:\n- level: None\n  resources: [{{group: \"*\"}}]\n"))
            .starts_with("rules[0].resources.group"));
        assert_eq!(err(&format!("{head}rules:\n- level: None\n  nonResourceURLs: [\"*\", \"/x*\"]\n")), "");
    }

    #[test]
    fn decoding_errors() {
        assert!(err("rules: []\n").starts_with("failed decoding: Object 'Kind' is missing"));
        assert!(err("").starts_with("failed decoding"));
        assert!(err("kind: Policy\nrules: []\n").starts_with("failed decoding: Object 'apiVersion' is missing"));
        assert!(err("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: [{level: None}]\n")
            .starts_with("failed decoding: no kind \"Policy\""));
        assert!(err("apiVersion: audit.k8s.io/v1\nkind: Event\n").starts_with("failed decoding"));
        assert!(err("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: nope\n").starts_with("failed decoding"));
        assert!(err("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: 3\n").starts_with("failed decoding"));
        assert!(err("{not json").starts_with("failed decoding"));
        assert!(err(":\n  - [").starts_with("failed decoding"));
        assert!(err("\u{0}\u{ff}").starts_with("failed decoding"));
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let y = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nbogus: 1\nrules:\n- level: Metadata\n  extra: x\n  resources: [{group: apps, color: red}]\n";
        assert_eq!(
            unknown_fields(&decode_document(y).unwrap_or_default()),
            ["bogus", "rules[0].extra", "rules[0].resources[0].color"]
        );
        assert_eq!(Policy::parse(y).map(|p| p.rules.len()).unwrap_or(0), 1);
    }

    #[test]
    fn null_lists_are_empty() {
        let y = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: null\nrules:\n- level: Metadata\n  users: null\n  resources: null\n";
        let p = Policy::parse(y).unwrap_or_default();
        assert_eq!(level(&p, &non_res("a", &[], "/x")), Level::Metadata);
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let good = dir.path().join("policy.yaml");
        let bad = dir.path().join("bad.yaml");
        let json = dir.path().join("policy.json");
        std::fs::write(&good, DOCS_POLICY).unwrap_or_default();
        std::fs::write(&bad, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n").unwrap_or_default();
        std::fs::write(&json, r#"{"apiVersion":"audit.k8s.io/v1","kind":"Policy","rules":[{"level":"Metadata"}]}"#)
            .unwrap_or_default();
        assert_eq!(Policy::load(&good).map(|p| p.rules.len()).unwrap_or(0), 9);
        assert_eq!(Policy::load(&json).map(|p| p.rules.len()).unwrap_or(0), 1);
        let e = Policy::load(&bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, format!("loaded illegal policy with 0 rules: from file {}", bad.display()));
        let missing = Policy::load(dir.path().join("nope")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.starts_with("failed to read file path"));
        assert!(matches!(Policy::load(""), Err(AuditError::NoPolicyPath)));
    }
}
