//! The Pod Security Standards checks and their per-version registry, as upstream's `policy`
//! package at v1.33. Pods are read from JSON as decoded by the apiserver; a field that is
//! missing or of the wrong type counts as unset, and a flag counts as set only when it is
//! exactly `true`, so odd input can never panic and never loosens a check that requires a value.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use crate::api::{Level, LevelVersion, Version};
use crate::quote::go_quote;

/// One check's verdict, with upstream's reason and detail texts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckResult {
    pub allowed: bool,
    /// Short, always shown (e.g. `privileged`).
    pub forbidden_reason: String,
    /// The specifics, shown for individual objects (e.g. `container "c" must not set ...`).
    pub forbidden_detail: String,
}

impl CheckResult {
    fn allow() -> Self {
        CheckResult { allowed: true, ..Default::default() }
    }

    fn forbid(reason: &str, detail: String) -> Self {
        CheckResult { allowed: false, forbidden_reason: reason.to_string(), forbidden_detail: detail }
    }
}

/// The forbidden results of one evaluation, in check order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregateCheckResult {
    pub allowed: bool,
    pub forbidden_reasons: Vec<String>,
    pub forbidden_details: Vec<String>,
}

/// Placeholder upstream uses when a check forbids without a reason.
pub const UNKNOWN_FORBIDDEN_REASON: &str = "unknown forbidden reason";

impl AggregateCheckResult {
    /// Collects the forbidden results (upstream's `AggregateCheckResults`).
    pub fn new(results: &[CheckResult]) -> Self {
        let mut agg = AggregateCheckResult::default();
        for r in results.iter().filter(|r| !r.allowed) {
            let reason =
                if r.forbidden_reason.is_empty() { UNKNOWN_FORBIDDEN_REASON } else { r.forbidden_reason.as_str() };
            agg.forbidden_reasons.push(reason.to_string());
            agg.forbidden_details.push(r.forbidden_detail.clone());
        }
        agg.allowed = agg.forbidden_reasons.is_empty();
        agg
    }

    /// Reasons only, comma-separated: what namespace-wide pod summaries show.
    pub fn forbidden_reason(&self) -> String {
        self.forbidden_reasons.join(", ")
    }

    /// `reason (detail), reason, ...`: what single-object messages show.
    pub fn forbidden_detail(&self) -> String {
        let parts: Vec<String> = self
            .forbidden_reasons
            .iter()
            .zip(&self.forbidden_details)
            .map(|(r, d)| if d.is_empty() { r.clone() } else { format!("{r} ({d})") })
            .collect();
        parts.join(", ")
    }
}

/// Switches that upstream takes from feature gates rather than from the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckOptions {
    /// `UserNamespacesPodSecurityStandards` (alpha, off by default in v1.33): pods with
    /// `hostUsers: false` skip the procMount, runAsNonRoot and runAsUser checks.
    pub relax_policy_for_user_namespace_pods: bool,
}

type CheckFn = fn(&Value, &Value, &CheckOptions) -> CheckResult;

struct Versioned {
    min_minor: i64,
    check: CheckFn,
    /// Baseline checks this restricted check replaces.
    overrides: &'static [&'static str],
}

struct CheckDef {
    id: &'static str,
    level: Level,
    versions: &'static [Versioned],
}

const fn v(min_minor: i64, check: CheckFn) -> Versioned {
    Versioned { min_minor, check, overrides: &[] }
}

const fn vo(min_minor: i64, check: CheckFn, overrides: &'static [&'static str]) -> Versioned {
    Versioned { min_minor, check, overrides }
}

const B: Level = Level::Baseline;
const R: Level = Level::Restricted;

/// Every check upstream registers by default at v1.33 (none are experimental at v1.33).
static CHECKS: &[CheckDef] = &[
    CheckDef { id: "allowPrivilegeEscalation", level: R, versions: &[v(8, ape_1_8), v(25, ape_1_25)] },
    CheckDef { id: "appArmorProfile", level: B, versions: &[v(0, app_armor_1_0)] },
    CheckDef { id: "capabilities_baseline", level: B, versions: &[v(0, capabilities_baseline_1_0)] },
    CheckDef {
        id: "capabilities_restricted",
        level: R,
        versions: &[
            vo(22, capabilities_restricted_1_22, &["capabilities_baseline"]),
            vo(25, capabilities_restricted_1_25, &["capabilities_baseline"]),
        ],
    },
    CheckDef { id: "hostNamespaces", level: B, versions: &[v(0, host_namespaces_1_0)] },
    CheckDef { id: "hostPathVolumes", level: B, versions: &[v(0, host_path_volumes_1_0)] },
    CheckDef { id: "hostPorts", level: B, versions: &[v(0, host_ports_1_0)] },
    CheckDef { id: "privileged", level: B, versions: &[v(0, privileged_1_0)] },
    CheckDef { id: "procMount", level: B, versions: &[v(0, proc_mount_1_0)] },
    CheckDef { id: "restrictedVolumes", level: R, versions: &[vo(0, restricted_volumes_1_0, &["hostPathVolumes"])] },
    CheckDef { id: "runAsNonRoot", level: R, versions: &[v(0, run_as_non_root_1_0)] },
    CheckDef { id: "runAsUser", level: R, versions: &[v(23, run_as_user_1_23)] },
    CheckDef { id: "seLinuxOptions", level: B, versions: &[v(0, selinux_1_0), v(31, selinux_1_31)] },
    CheckDef {
        id: "seccompProfile_baseline",
        level: B,
        versions: &[v(0, seccomp_baseline_1_0), v(19, seccomp_baseline_1_19)],
    },
    CheckDef {
        id: "seccompProfile_restricted",
        level: R,
        versions: &[
            vo(19, seccomp_restricted_1_19, &["seccompProfile_baseline"]),
            vo(25, seccomp_restricted_1_25, &["seccompProfile_baseline"]),
        ],
    },
    CheckDef {
        id: "sysctls",
        level: B,
        versions: &[v(0, sysctls_1_0), v(27, sysctls_1_27), v(29, sysctls_1_29), v(32, sysctls_1_32)],
    },
    CheckDef { id: "windowsHostProcess", level: B, versions: &[v(0, windows_host_process_1_0)] },
];

/// The newest policy version any check changes at; `latest` and newer versions mean this one.
pub fn max_policy_version() -> Version {
    let max = CHECKS.iter().filter_map(|c| c.versions.last()).map(|v| v.min_minor).max().unwrap_or(0);
    Version::V1(max)
}

/// The check IDs and functions that apply at `lv`, in upstream's order: baseline checks then
/// restricted checks, each sorted by ID, with overridden baseline checks dropped.
fn selected(lv: LevelVersion) -> Vec<(&'static str, CheckFn)> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let max = max_policy_version();
    let version = if max.older(lv.version) { max } else { lv.version };
    let minor = match version {
        Version::V1(m) => m,
        Version::Latest => return Vec::new(), // unreachable: latest is clamped to max
    };
    let pick = |def: &CheckDef| def.versions.iter().rev().find(|v| v.min_minor <= minor);
    let mut overridden: HashSet<&str> = HashSet::new();
    if lv.level == Level::Restricted {
        for def in CHECKS.iter().filter(|d| d.level == R) {
            if let Some(vc) = pick(def) {
                overridden.extend(vc.overrides.iter().copied());
            }
        }
    }
    let mut out: Vec<(Level, &'static str, CheckFn)> = Vec::new();
    for def in CHECKS {
        let applies = match def.level {
            Level::Baseline => !overridden.contains(def.id),
            _ => lv.level == Level::Restricted,
        };
        if !applies {
            continue;
        }
        if let Some(vc) = pick(def) {
            out.push((def.level, def.id, vc.check));
        }
    }
    out.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
    out.into_iter().map(|(_, id, f)| (id, f)).collect()
}

/// IDs of the checks evaluated at `lv`, in evaluation order.
pub fn check_ids(lv: LevelVersion) -> Vec<&'static str> {
    selected(lv).into_iter().map(|(id, _)| id).collect()
}

/// Evaluates a pod's (or pod template's) metadata and spec at `lv`, one result per applicable
/// check, with the feature-gated relaxations off (v1.33's defaults).
pub fn check_pod(lv: LevelVersion, metadata: &Value, spec: &Value) -> Vec<CheckResult> {
    check_pod_with(lv, metadata, spec, &CheckOptions::default())
}

/// As [`check_pod`], with explicit feature-gate options.
pub fn check_pod_with(lv: LevelVersion, metadata: &Value, spec: &Value, opts: &CheckOptions) -> Vec<CheckResult> {
    selected(lv).into_iter().map(|(_, f)| f(metadata, spec, opts)).collect()
}

// ---- JSON access: absent, null and mistyped fields all read as unset ----

fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| x.is_object())
}

fn present(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn flag(v: Option<&Value>, key: &str) -> Option<bool> {
    v.and_then(|v| v.get(key)).and_then(Value::as_bool)
}

fn is_true(v: Option<&Value>, key: &str) -> bool {
    flag(v, key) == Some(true)
}

fn strings<'a>(v: Option<&'a Value>, key: &str) -> impl Iterator<Item = &'a str> {
    v.map(|v| items(v, key)).unwrap_or(&[]).iter().filter_map(Value::as_str)
}

/// Init, regular then ephemeral containers, as upstream's `visitContainers`.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    items(spec, "initContainers")
        .iter()
        .chain(items(spec, "containers"))
        .chain(items(spec, "ephemeralContainers"))
        .filter(|c| c.is_object())
}

fn name(c: &Value) -> &str {
    string(c, "name")
}

fn sc(c: &Value) -> Option<&Value> {
    object(c, "securityContext")
}

fn is_windows(spec: &Value) -> bool {
    object(spec, "os").is_some_and(|os| string(os, "name") == "windows")
}

fn relaxed_for_user_namespace(spec: &Value, opts: &CheckOptions) -> bool {
    opts.relax_policy_for_user_namespace_pods && spec.get("hostUsers") == Some(&Value::Bool(false))
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, n: usize) -> &'a str {
    if n == 1 {
        singular
    } else {
        plural
    }
}

/// `"a", "b"` (upstream's joinQuote: plain wrapping, no escaping).
fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", inner.join("\", \""))
}

fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

fn sorted(set: BTreeSet<String>) -> Vec<String> {
    set.into_iter().collect()
}

// ---- baseline checks ----

fn privileged_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let bad: Vec<&str> = containers(spec).filter(|c| is_true(sc(c), "privileged")).map(name).collect();
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "privileged",
        format!("{} must not set securityContext.privileged=true", containers_phrase(&bad)),
    )
}

fn host_namespaces_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let s = Some(spec);
    let bad: Vec<&str> =
        [("hostNetwork", "hostNetwork=true"), ("hostPID", "hostPID=true"), ("hostIPC", "hostIPC=true")]
            .into_iter()
            .filter(|(k, _)| is_true(s, k))
            .map(|(_, m)| m)
            .collect();
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid("host namespaces", bad.join(", "))
}

fn host_path_volumes_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let bad: Vec<&str> = items(spec, "volumes").iter().filter(|v| present(v, "hostPath")).map(name).collect();
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "hostPath volumes",
        format!("{} {}", pluralize("volume", "volumes", bad.len()), join_quote(&bad)),
    )
}

/// A non-zero port as Go prints it; zero and non-numbers mean "no host port".
fn nonzero_port(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => match n.as_i64() {
            Some(0) => None,
            Some(i) => Some(i.to_string()),
            None if n.as_f64() == Some(0.0) => None,
            None => Some(n.to_string()),
        },
        _ => None,
    }
}

fn host_ports_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mut valid = true;
        for p in items(c, "ports") {
            if let Some(port) = nonzero_port(p.get("hostPort")) {
                valid = false;
                ports.insert(port);
            }
        }
        if !valid {
            bad.push(name(c));
        }
    }
    if bad.is_empty() {
        return CheckResult::allow();
    }
    let detail = format!(
        "{} {} {} {}",
        containers_phrase(&bad),
        pluralize("uses", "use", bad.len()),
        pluralize("hostPort", "hostPorts", ports.len()),
        sorted(ports).join(", ")
    );
    CheckResult::forbid("hostPort", detail)
}

const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn capabilities_baseline_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        let Some(capabilities) = sc(c).and_then(|s| object(s, "capabilities")) else { continue };
        let mut valid = true;
        for cap in strings(Some(capabilities), "add") {
            if !DEFAULT_CAPABILITIES.contains(&cap) {
                valid = false;
                caps.insert(cap.to_string());
            }
        }
        if !valid {
            bad.push(name(c));
        }
    }
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&sorted(caps))
        ),
    )
}

fn app_armor_1_0(metadata: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    fn allowed_type(t: &str) -> bool {
        matches!(t, "RuntimeDefault" | "Localhost")
    }
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(profile) = object(spec, "securityContext").and_then(|s| object(s, "appArmorProfile")) {
        let t = string(profile, "type");
        if !allowed_type(t) {
            setters.push("pod".to_string());
            bad_values.insert(t.to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(profile) = sc(c).and_then(|s| object(s, "appArmorProfile")) {
            let t = string(profile, "type");
            if !allowed_type(t) {
                bad_containers.push(name(c));
                bad_values.insert(t.to_string());
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    const PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
    let mut annotations: Vec<String> = metadata
        .get("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.as_str()?)))
        .filter(|(k, v)| {
            k.starts_with(PREFIX) && !(v.is_empty() || *v == "runtime/default" || v.starts_with("localhost/"))
        })
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect();
    let mut values = sorted(bad_values);
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values)),
    )
}

fn proc_mount_1_0(_: &Value, spec: &Value, opts: &CheckOptions) -> CheckResult {
    if relaxed_for_user_namespace(spec, opts) {
        return CheckResult::allow();
    }
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        if let Some(pm) = sc(c).and_then(|s| s.get("procMount")).and_then(Value::as_str) {
            if pm != "Default" {
                bad.push(name(c));
                types.insert(pm.to_string());
            }
        }
    }
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "procMount",
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&sorted(types))),
    )
}

fn selinux(spec: &Value, allowed: &[&str]) -> CheckResult {
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |opts: &Value| {
        let mut ok = true;
        let t = string(opts, "type");
        if !allowed.contains(&t) {
            ok = false;
            bad_types.insert(t.to_string());
        }
        if !string(opts, "user").is_empty() {
            ok = false;
            set_user = true;
        }
        if !string(opts, "role").is_empty() {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters: Vec<String> = Vec::new();
    if let Some(opts) = object(spec, "securityContext").and_then(|s| object(s, "seLinuxOptions")) {
        if !valid(opts) {
            setters.push("pod".to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(opts) = sc(c).and_then(|s| object(s, "seLinuxOptions")) {
            if !valid(opts) {
                bad_containers.push(name(c));
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return CheckResult::allow();
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let n = bad_types.len();
        data.push(format!("{} {}", pluralize("type", "types", n), join_quote(&sorted(bad_types))));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    CheckResult::forbid(
        "seLinuxOptions",
        format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; ")),
    )
}

fn selinux_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    selinux(spec, &["", "container_t", "container_init_t", "container_kvm_t"])
}

fn selinux_1_31(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    selinux(spec, &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"])
}

fn valid_seccomp_type(t: &str) -> bool {
    matches!(t, "Localhost" | "RuntimeDefault")
}

fn seccomp_baseline_1_0(metadata: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let annotations = metadata.get("annotations");
    let valid = |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let mut forbidden = BTreeSet::new();
    let mut check = |key: &str| {
        if let Some(val) = annotations.and_then(|a| a.get(key)).and_then(Value::as_str) {
            if !valid(val) {
                forbidden.insert(format!("{key}={}", go_quote(val)));
            }
        }
    };
    check(POD_KEY);
    for c in containers(spec) {
        check(&format!("{CONTAINER_PREFIX}{}", name(c)));
    }
    if forbidden.is_empty() {
        return CheckResult::allow();
    }
    let n = forbidden.len();
    CheckResult::forbid(
        "seccompProfile",
        format!("forbidden {} {}", pluralize("annotation", "annotations", n), sorted(forbidden).join(", ")),
    )
}

/// Shared by the 1.19+ baseline and restricted seccomp checks; `require` makes an unset
/// profile (not covered by a valid pod-level one) a violation.
fn seccomp_fields(spec: &Value, require: bool) -> CheckResult {
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(profile) = object(spec, "securityContext").and_then(|s| object(s, "seccompProfile")) {
        let t = string(profile, "type");
        if valid_seccomp_type(t) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            bad_values.insert(t.to_string());
        }
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in containers(spec) {
        match sc(c).and_then(|s| object(s, "seccompProfile")) {
            Some(profile) => {
                let t = string(profile, "type");
                if !valid_seccomp_type(t) {
                    explicit.push(name(c));
                    bad_values.insert(t.to_string());
                }
            }
            None if !pod_set => implicit.push(name(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return CheckResult::forbid(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&sorted(bad_values))
            ),
        );
    }
    if require && !implicit.is_empty() {
        return CheckResult::forbid(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        );
    }
    CheckResult::allow()
}

fn seccomp_baseline_1_19(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    seccomp_fields(spec, false)
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

fn sysctls(spec: &Value, allowed: &[&[&str]]) -> CheckResult {
    let bad: Vec<&str> = object(spec, "securityContext")
        .map(|s| items(s, "sysctls"))
        .unwrap_or(&[])
        .iter()
        .filter(|s| s.is_object())
        .map(name)
        .filter(|n| !allowed.iter().any(|set| set.contains(n)))
        .collect();
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid("forbidden sysctls", bad.join(", "))
}

fn sysctls_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    sysctls(spec, &[SYSCTLS_1_0])
}

fn sysctls_1_27(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    sysctls(spec, &[SYSCTLS_1_0, SYSCTLS_1_27])
}

fn sysctls_1_29(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    sysctls(spec, &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29])
}

fn sysctls_1_32(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    sysctls(spec, &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29, SYSCTLS_1_32])
}

fn windows_host_process_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let host_process = |s: Option<&Value>| is_true(s.and_then(|s| object(s, "windowsOptions")), "hostProcess");
    let bad: Vec<&str> = containers(spec).filter(|c| host_process(sc(c))).map(name).collect();
    let mut setters: Vec<String> = Vec::new();
    if host_process(object(spec, "securityContext")) {
        setters.push("pod".to_string());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "hostProcess",
        format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and ")),
    )
}

// ---- restricted checks ----

fn ape_1_8(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let bad: Vec<&str> =
        containers(spec).filter(|c| flag(sc(c), "allowPrivilegeEscalation") != Some(false)).map(name).collect();
    if bad.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid(
        "allowPrivilegeEscalation != false",
        format!("{} must set securityContext.allowPrivilegeEscalation=false", containers_phrase(&bad)),
    )
}

/// Windows pods are exempt from the Linux-only restricted checks from v1.25 on.
fn ape_1_25(m: &Value, spec: &Value, o: &CheckOptions) -> CheckResult {
    if is_windows(spec) {
        return CheckResult::allow();
    }
    ape_1_8(m, spec, o)
}

fn capabilities_restricted_1_22(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    let (mut missing_drop_all, mut adding) = (Vec::new(), Vec::new());
    let mut forbidden = BTreeSet::new();
    for c in containers(spec) {
        let Some(caps) = sc(c).and_then(|s| object(s, "capabilities")) else {
            missing_drop_all.push(name(c));
            continue;
        };
        if !strings(Some(caps), "drop").any(|d| d == "ALL") {
            missing_drop_all.push(name(c));
        }
        let mut added_forbidden = false;
        for cap in strings(Some(caps), "add").filter(|a| *a != "NET_BIND_SERVICE") {
            added_forbidden = true;
            forbidden.insert(cap.to_string());
        }
        if added_forbidden {
            adding.push(name(c));
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&sorted(forbidden))
        ));
    }
    if details.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid("unrestricted capabilities", details.join("; "))
}

fn capabilities_restricted_1_25(m: &Value, spec: &Value, o: &CheckOptions) -> CheckResult {
    if is_windows(spec) {
        return CheckResult::allow();
    }
    capabilities_restricted_1_22(m, spec, o)
}

fn restricted_volumes_1_0(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    const ALLOWED: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    const RESTRICTED: &[&str] = &[
        "hostPath",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "nfs",
        "iscsi",
        "glusterfs",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "fc",
        "azureFile",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "portworxVolume",
        "scaleIO",
        "storageos",
    ];
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for vol in items(spec, "volumes") {
        if ALLOWED.iter().any(|k| present(vol, k)) {
            continue;
        }
        // A volume without any source is defaulted to emptyDir before admission.
        let Some(t) = RESTRICTED.iter().find(|k| present(vol, k)) else { continue };
        bad.push(name(vol));
        types.insert(t.to_string());
    }
    if bad.is_empty() {
        return CheckResult::allow();
    }
    let detail = format!(
        "{} {} {} {} {}",
        pluralize("volume", "volumes", bad.len()),
        join_quote(&bad),
        pluralize("uses", "use", bad.len()),
        pluralize("restricted volume type", "restricted volume types", types.len()),
        join_quote(&sorted(types))
    );
    CheckResult::forbid("restricted volume types", detail)
}

fn run_as_non_root_1_0(_: &Value, spec: &Value, opts: &CheckOptions) -> CheckResult {
    if relaxed_for_user_namespace(spec, opts) {
        return CheckResult::allow();
    }
    let mut setters: Vec<String> = Vec::new();
    let mut pod_non_root = false;
    match flag(object(spec, "securityContext"), "runAsNonRoot") {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
    for c in containers(spec) {
        match flag(sc(c), "runAsNonRoot") {
            Some(false) => explicit.push(name(c)),
            Some(true) => {}
            None if !pod_non_root => implicit.push(name(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return CheckResult::forbid(
            "runAsNonRoot != true",
            format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and ")),
        );
    }
    if !implicit.is_empty() {
        return CheckResult::forbid(
            "runAsNonRoot != true",
            format!("pod or {} must set securityContext.runAsNonRoot=true", containers_phrase(&implicit)),
        );
    }
    CheckResult::allow()
}

fn run_as_user_1_23(_: &Value, spec: &Value, opts: &CheckOptions) -> CheckResult {
    if relaxed_for_user_namespace(spec, opts) {
        return CheckResult::allow();
    }
    let is_root = |s: Option<&Value>| s.and_then(|s| s.get("runAsUser")).and_then(Value::as_f64) == Some(0.0);
    let mut setters: Vec<String> = Vec::new();
    if is_root(object(spec, "securityContext")) {
        setters.push("pod".to_string());
    }
    let bad: Vec<&str> = containers(spec).filter(|c| is_root(sc(c))).map(name).collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return CheckResult::allow();
    }
    CheckResult::forbid("runAsUser=0", format!("{} must not set runAsUser=0", setters.join(" and ")))
}

fn seccomp_restricted_1_19(_: &Value, spec: &Value, _: &CheckOptions) -> CheckResult {
    seccomp_fields(spec, true)
}

fn seccomp_restricted_1_25(m: &Value, spec: &Value, o: &CheckOptions) -> CheckResult {
    if is_windows(spec) {
        return CheckResult::allow();
    }
    seccomp_restricted_1_19(m, spec, o)
}
