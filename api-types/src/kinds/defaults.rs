//! Defaulting as upstream's `SetDefaults_*` functions (and the generated `SetObjectDefaults_*`
//! walkers that call them on every nested struct) do it, per kind, for upstream v1.33 with the
//! default feature-gate states.
//!
//! Everything works on the JSON form. A field counts as unset the way it does for upstream's Go
//! types: a pointer field when absent or `null`; a plain string or number field also when it
//! holds its zero value (`""`, `0`). Structs that upstream embeds by value (`spec`,
//! `spec.template`, ...) are created when absent, as upstream's zero values are; pointer structs
//! are only defaulted when present. Anything of the wrong JSON type is left alone: validation
//! reports it. Every default only fills what is unset, so applying twice changes nothing.

use crate::registry::ResourceDef;
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::{json, Map, Value};

type Obj = Map<String, Value>;

/// Applies upstream's defaults to a decoded object of the resource's kind.
pub fn apply(rd: &ResourceDef, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (rd.group, rd.kind) {
        ("", "Pod") => pod(root),
        ("", "PodTemplate") => {
            if let Some(t) = ensure_obj(root, "template") {
                pod_template(t);
            }
        }
        ("", "ReplicationController") => replication_controller(root),
        ("", "Service") => service(root),
        ("", "Event") => core_event_zeros(root),
        ("events.k8s.io", "Event") => events_event_zeros(root),
        ("", "Namespace") => namespace(root),
        ("", "Secret") => secret(root),
        ("", "Endpoints") => endpoints(root),
        ("", "Node") => node(root),
        ("", "LimitRange") => limit_range(root),
        ("", "PersistentVolume") => persistent_volume(root),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(root),
        ("apps", "Deployment") => deployment(root),
        ("apps", "ReplicaSet") => replica_set(root),
        ("apps", "DaemonSet") => daemon_set(root),
        ("apps", "StatefulSet") => stateful_set(root),
        ("batch", "Job") => job(root),
        ("batch", "CronJob") => cron_job(root),
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(root, rd.version),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(root),
        ("networking.k8s.io", "IngressClass") => ingress_class(root),
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(root),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(root),
        ("storage.k8s.io", "StorageClass") => storage_class(root),
        ("storage.k8s.io", "CSIDriver") => csi_driver(root),
        ("storage.k8s.io", "VolumeAttachment") => volume_attachment(root),
        ("scheduling.k8s.io", "PriorityClass") => default_json(root, "preemptionPolicy", json!("PreemptLowerPriority")),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => webhook_configuration(root, false),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => webhook_configuration(root, true),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => validating_admission_policy(root),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => flow_schema(root),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => priority_level_configuration(root),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => custom_resource_definition(root),
        ("apiregistration.k8s.io", "APIService") => {
            if let Some(svc) = get_obj(root, "spec").and_then(|s| get_obj(s, "service")) {
                default_json(svc, "port", json!(443));
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

/// Absent or `null`: how a Go pointer (or slice/map) field reads as nil.
fn is_unset(m: &Obj, key: &str) -> bool {
    m.get(key).is_none_or(Value::is_null)
}

/// Unset for a plain Go string field: absent, `null` or `""`.
fn is_unset_str(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Unset for a plain Go integer field: absent, `null` or `0`.
fn is_unset_int(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Empty for a Go slice or map field (`len(x) == 0`).
fn is_empty_collection(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

fn default_json(m: &mut Obj, key: &str, v: Value) {
    if is_unset(m, key) {
        m.insert(key.to_string(), v);
    }
}

fn default_str(m: &mut Obj, key: &str, v: &str) {
    if is_unset_str(m, key) {
        m.insert(key.to_string(), Value::String(v.to_string()));
    }
}

fn default_int(m: &mut Obj, key: &str, v: i64) {
    if is_unset_int(m, key) {
        m.insert(key.to_string(), json!(v));
    }
}

fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The child object, when present and an object.
fn get_obj<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The child object, created when absent or `null` (a struct upstream embeds by value). `None`
/// when the child has another JSON type.
fn ensure_obj<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if is_unset(m, key) {
        m.insert(key.to_string(), Value::Object(Obj::new()));
    }
    get_obj(m, key)
}

/// Calls `f` on every object element of the array under `key`.
fn each_obj(m: &mut Obj, key: &str, mut f: impl FnMut(&mut Obj)) {
    if let Some(items) = m.get_mut(key).and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            f(item);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// core/v1: pods and pod templates.

fn pod(root: &mut Obj) {
    if let Some(spec) = ensure_obj(root, "spec") {
        pod_only(spec);
        pod_spec(spec);
    }
}

/// `SetDefaults_Pod`: the defaults that materialize only in Pods, never in templates.
fn pod_only(spec: &mut Obj) {
    for key in ["containers", "initContainers"] {
        each_obj(spec, key, requests_from_limits);
    }
    // PodLevelResources is alpha (off) in v1.33: no pod-level resource defaults.
    default_json(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for key in ["containers", "initContainers"] {
            each_obj(spec, key, |c| {
                each_obj(c, "ports", |p| {
                    if is_unset_int(p, "hostPort") {
                        if let Some(cp) = p.get("containerPort").filter(|v| v.is_number()).cloned() {
                            p.insert("hostPort".into(), cp);
                        }
                    }
                })
            });
        }
    }
}

/// Requests default to limits, per resource, when the container sets limits.
fn requests_from_limits(c: &mut Obj) {
    let Some(res) = get_obj(c, "resources") else {
        return;
    };
    let Some(limits) = res.get("limits").and_then(Value::as_object).filter(|l| !l.is_empty()).cloned() else {
        return;
    };
    if let Some(requests) = ensure_obj(res, "requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

fn pod_template(tpl: &mut Obj) {
    if let Some(spec) = ensure_obj(tpl, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` plus the generated walk over volumes and containers.
fn pod_spec(spec: &mut Obj) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_json(spec, "securityContext", json!({}));
    default_json(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    each_obj(spec, "volumes", volume);
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        each_obj(spec, key, container);
    }
}

/// The keys of a `Volume` that are not a volume source.
const VOLUME_NON_SOURCE_KEYS: &[&str] = &["name"];

fn volume(v: &mut Obj) {
    let has_source = v.iter().any(|(k, val)| !VOLUME_NON_SOURCE_KEYS.contains(&k.as_str()) && !val.is_null());
    if !has_source {
        v.insert("emptyDir".into(), json!({}));
    }
    // ImageVolume is beta but off by default in v1.33: no image pullPolicy default.
    volume_sources(v);
    if let Some(s) = get_obj(v, "secret") {
        default_json(s, "defaultMode", json!(420));
    }
    if let Some(d) = get_obj(v, "downwardAPI") {
        default_json(d, "defaultMode", json!(420));
        downward_api_items(d);
    }
    if let Some(cm) = get_obj(v, "configMap") {
        default_json(cm, "defaultMode", json!(420));
    }
    if let Some(p) = get_obj(v, "projected") {
        default_json(p, "defaultMode", json!(420));
        each_obj(p, "sources", |src| {
            if let Some(d) = get_obj(src, "downwardAPI") {
                downward_api_items(d);
            }
            if let Some(t) = get_obj(src, "serviceAccountToken") {
                default_json(t, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(t) = get_obj(v, "ephemeral").and_then(|e| get_obj(e, "volumeClaimTemplate")) {
        if let Some(spec) = ensure_obj(t, "spec") {
            pvc_spec(spec);
        }
    }
}

/// Defaults shared by pod volume sources and persistent volume sources.
fn volume_sources(v: &mut Obj) {
    if let Some(h) = get_obj(v, "hostPath") {
        default_json(h, "type", json!(""));
    }
    if let Some(i) = get_obj(v, "iscsi") {
        default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = get_obj(v, "rbd") {
        default_str(r, "pool", "rbd");
        default_str(r, "user", "admin");
        default_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = get_obj(v, "azureDisk") {
        default_json(a, "cachingMode", json!("ReadWrite"));
        default_json(a, "kind", json!("Shared"));
        default_json(a, "fsType", json!("ext4"));
        default_json(a, "readOnly", json!(false));
    }
    if let Some(s) = get_obj(v, "scaleIO") {
        default_str(s, "storageMode", "ThinProvisioned");
        default_str(s, "fsType", "xfs");
    }
}

fn downward_api_items(d: &mut Obj) {
    each_obj(d, "items", |item| {
        if let Some(f) = get_obj(item, "fieldRef") {
            default_str(f, "apiVersion", "v1");
        }
    });
}

fn container(c: &mut Obj) {
    if is_unset_str(c, "imagePullPolicy") {
        let policy = if image_tag_is_latest(str_of(c, "image")) { "Always" } else { "IfNotPresent" };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    // `resources` is a struct upstream embeds by value, so it always serializes (as `{}`).
    default_json(c, "resources", json!({}));
    each_obj(c, "ports", |p| default_str(p, "protocol", "TCP"));
    each_obj(c, "env", |e| {
        if let Some(f) = get_obj(e, "valueFrom").and_then(|vf| get_obj(vf, "fieldRef")) {
            default_str(f, "apiVersion", "v1");
        }
    });
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = get_obj(c, key) {
            probe(p);
        }
    }
    if let Some(l) = get_obj(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = get_obj(l, key).and_then(|h| get_obj(h, "httpGet")) {
                http_get(h);
            }
        }
    }
}

fn probe(p: &mut Obj) {
    default_int(p, "timeoutSeconds", 1);
    default_int(p, "periodSeconds", 10);
    default_int(p, "successThreshold", 1);
    default_int(p, "failureThreshold", 3);
    if let Some(h) = get_obj(p, "httpGet") {
        http_get(h);
    }
    if let Some(g) = get_obj(p, "grpc") {
        default_json(g, "service", json!(""));
    }
}

fn http_get(h: &mut Obj) {
    default_str(h, "path", "/");
    default_str(h, "scheme", "HTTP");
}

// Container image references, as upstream's `parsers.ParseImageName` (the distribution
// reference grammar, normalized the way `ParseNormalizedNamed` does).

const REF_PATTERN: &str = concat!(
    r"^(?P<name>",
    // optional domain: host components or a bracketed IPv6 address, optional port
    r"(?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*",
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?",
    // path components
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
    r")",
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?",
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$",
);

static REFERENCE: Lazy<Regex> = Lazy::new(|| Regex::new(REF_PATTERN).expect("reference pattern"));
static IDENTIFIER: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[a-f0-9]{64}$").expect("identifier pattern"));

/// Whether the image's tag, as upstream's image-name parser reports it, is `latest` (an image
/// without tag and digest counts as `latest`). Unparseable references count as not `latest`,
/// as upstream ignores the parse error and sees an empty tag.
fn image_tag_is_latest(image: &str) -> bool {
    parse_image_tag(image).is_some_and(|t| t == "latest")
}

/// The tag upstream's parser reports, `None` when the reference does not parse.
fn parse_image_tag(image: &str) -> Option<String> {
    if IDENTIFIER.is_match(image) {
        return None;
    }
    // splitDockerDomain
    let (domain, mut remainder) = match image.find('/') {
        Some(i) => {
            let first = &image[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first {
                ("docker.io".to_string(), image.to_string())
            } else {
                (first.to_string(), image[i + 1..].to_string())
            }
        }
        None => ("docker.io".to_string(), image.to_string()),
    };
    let domain = if domain == "index.docker.io" { "docker.io".to_string() } else { domain };
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    let remote_name = remainder.split(':').next().unwrap_or_default();
    if remote_name.to_lowercase() != remote_name {
        return None;
    }
    let full = format!("{domain}/{remainder}");
    let caps = REFERENCE.captures(&full)?;
    if caps.name("name").map_or(0, |m| m.as_str().len()) > 255 {
        return None;
    }
    let tag = caps.name("tag").map(|m| m.as_str().to_string());
    let digest = caps.name("digest").map(|m| m.as_str());
    if let Some(d) = digest {
        let (alg, hex) = d.split_once(':')?;
        let len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return None,
        };
        if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
    }
    match (tag, digest) {
        (Some(t), _) => Some(t),
        (None, None) => Some("latest".to_string()),
        (None, Some(_)) => Some(String::new()),
    }
}

// ---------------------------------------------------------------------------------------------
// core/v1: the other kinds.

fn replication_controller(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    let template_labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned();
    if let Some(labels) = &template_labels {
        if is_empty_collection(spec, "selector") {
            spec.insert("selector".into(), labels.clone());
        }
    }
    default_json(spec, "replicas", json!(1));
    if let Some(t) = get_obj(spec, "template") {
        pod_template(t);
    }
    if let Some(labels) = template_labels {
        if let Some(meta) = ensure_obj(root, "metadata") {
            if is_empty_collection(meta, "labels") {
                meta.insert("labels".into(), labels);
            }
        }
    }
}

/// Not defaults upstream, but how Go encodes a core/v1 Event's zero fields: `source` is a
/// struct held by value (`{}`), the Times have no `omitempty` effect (`null`), and the
/// reporting fields have no `omitempty` at all (`""`). Clients see these on every Event.
pub(crate) fn core_event_zeros(root: &mut Obj) {
    ensure_obj(root, "source");
    for t in ["firstTimestamp", "lastTimestamp", "eventTime"] {
        root.entry(t).or_insert(Value::Null);
    }
    for r in ["reportingComponent", "reportingInstance"] {
        default_json(root, r, json!(""));
    }
}

/// The same for an events.k8s.io/v1 Event: `regarding` and `deprecatedSource` are structs held
/// by value, `eventTime` and the deprecated Times encode as `null`.
pub(crate) fn events_event_zeros(root: &mut Obj) {
    ensure_obj(root, "regarding");
    ensure_obj(root, "deprecatedSource");
    for t in ["eventTime", "deprecatedFirstTimestamp", "deprecatedLastTimestamp"] {
        root.entry(t).or_insert(Value::Null);
    }
}

fn service(root: &mut Obj) {
    let mut load_balancer = false;
    if let Some(spec) = ensure_obj(root, "spec") {
        default_str(spec, "sessionAffinity", "None");
        match str_of(spec, "sessionAffinity") {
            "None" => {
                spec.remove("sessionAffinityConfig");
            }
            "ClientIP" => {
                let has_timeout = spec
                    .get("sessionAffinityConfig")
                    .and_then(|c| c.get("clientIP"))
                    .and_then(|c| c.get("timeoutSeconds"))
                    .is_some_and(|t| !t.is_null());
                if !has_timeout {
                    spec.insert("sessionAffinityConfig".into(), json!({"clientIP": {"timeoutSeconds": 10800}}));
                }
            }
            _ => {}
        }
        default_str(spec, "type", "ClusterIP");
        each_obj(spec, "ports", |p| {
            default_str(p, "protocol", "TCP");
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_f64() == Some(0.0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                if let Some(port) = p.get("port").filter(|v| v.is_number()).cloned() {
                    p.insert("targetPort".into(), port);
                }
            }
        });
        let ty = str_of(spec, "type").to_string();
        let has_external_ips = !is_empty_collection(spec, "externalIPs");
        let externally_accessible = ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && has_external_ips);
        if externally_accessible {
            default_str(spec, "externalTrafficPolicy", "Cluster");
        }
        if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
            default_json(spec, "internalTrafficPolicy", json!("Cluster"));
        }
        if ty == "LoadBalancer" {
            default_json(spec, "allocateLoadBalancerNodePorts", json!(true));
            load_balancer = true;
        }
    }
    if !load_balancer {
        return;
    }
    // LoadBalancer only: ingress points with an IP get ipMode VIP.
    if let Some(lb) = get_obj(root, "status").and_then(|s| get_obj(s, "loadBalancer")) {
        each_obj(lb, "ingress", |ing| {
            if !is_unset_str(ing, "ip") {
                default_json(ing, "ipMode", json!("VIP"));
            }
        });
    }
}

fn namespace(root: &mut Obj) {
    if let Some(meta) = get_obj(root, "metadata") {
        let name = str_of(meta, "name").to_string();
        if !name.is_empty() {
            if let Some(labels) = ensure_obj(meta, "labels") {
                labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
            }
        }
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Active");
    }
}

fn endpoints(root: &mut Obj) {
    each_obj(root, "subsets", |ss| each_obj(ss, "ports", |p| default_str(p, "protocol", "TCP")));
}

fn node(root: &mut Obj) {
    let Some(status) = get_obj(root, "status") else {
        return;
    };
    if is_unset(status, "allocatable") {
        if let Some(cap) = status.get("capacity").and_then(Value::as_object).filter(|c| !c.is_empty()).cloned() {
            status.insert("allocatable".into(), Value::Object(cap));
        }
    }
}

fn limit_range(root: &mut Obj) {
    let Some(spec) = get_obj(root, "spec") else {
        return;
    };
    each_obj(spec, "limits", |item| {
        if str_of(item, "type") != "Container" {
            return;
        }
        let map_of = |item: &Obj, key: &str| -> Option<Obj> {
            match item.get(key) {
                None | Some(Value::Null) => Some(Obj::new()),
                Some(Value::Object(o)) => Some(o.clone()),
                _ => None,
            }
        };
        let (Some(max), Some(min), Some(mut default), Some(mut default_request)) =
            (map_of(item, "max"), map_of(item, "min"), map_of(item, "default"), map_of(item, "defaultRequest"))
        else {
            return;
        };
        for (k, v) in max {
            default.entry(k).or_insert(v);
        }
        for (k, v) in &default {
            default_request.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in min {
            default_request.entry(k).or_insert(v);
        }
        if !default.is_empty() {
            item.insert("default".into(), Value::Object(default));
        }
        if !default_request.is_empty() {
            item.insert("defaultRequest".into(), Value::Object(default_request));
        }
    });
}

fn persistent_volume(root: &mut Obj) {
    if let Some(spec) = ensure_obj(root, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_json(spec, "volumeMode", json!("Filesystem"));
        volume_sources(spec);
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

fn persistent_volume_claim(root: &mut Obj) {
    if let Some(spec) = ensure_obj(root, "spec") {
        pvc_spec(spec);
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

fn pvc_spec(spec: &mut Obj) {
    default_json(spec, "volumeMode", json!("Filesystem"));
}

// ---------------------------------------------------------------------------------------------
// apps/v1.

fn deployment(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_json(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_obj(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_obj(strategy, "rollingUpdate") {
                default_json(ru, "maxUnavailable", json!("25%"));
                default_json(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_json(spec, "revisionHistoryLimit", json!(10));
    default_json(spec, "progressDeadlineSeconds", json!(600));
    if let Some(t) = ensure_obj(spec, "template") {
        pod_template(t);
    }
}

fn replica_set(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_json(spec, "replicas", json!(1));
    if let Some(t) = ensure_obj(spec, "template") {
        pod_template(t);
    }
}

fn daemon_set(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_obj(us, "rollingUpdate") {
                default_json(ru, "maxUnavailable", json!(1));
                default_json(ru, "maxSurge", json!(0));
            }
        }
    }
    default_json(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = ensure_obj(spec, "template") {
        pod_template(t);
    }
}

fn stateful_set(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        if is_unset_str(us, "type") {
            us.insert("type".into(), json!("RollingUpdate"));
            default_json(us, "rollingUpdate", json!({}));
        }
        // MaxUnavailableStatefulSet is alpha (off) in v1.33: no maxUnavailable default.
        if str_of(us, "type") == "RollingUpdate" {
            if let Some(ru) = get_obj(us, "rollingUpdate") {
                default_json(ru, "partition", json!(0));
            }
        }
    }
    // StatefulSetAutoDeletePVC is GA in v1.33.
    if let Some(p) = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(p, "whenDeleted", "Retain");
        default_str(p, "whenScaled", "Retain");
    }
    default_json(spec, "replicas", json!(1));
    default_json(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = ensure_obj(spec, "template") {
        pod_template(t);
    }
    each_obj(spec, "volumeClaimTemplates", |claim| {
        // Upstream's conversion to apps/v1 stamps the claims' apiVersion and kind.
        claim.insert("apiVersion".into(), json!("v1"));
        claim.insert("kind".into(), json!("PersistentVolumeClaim"));
        persistent_volume_claim(claim);
    });
}

// ---------------------------------------------------------------------------------------------
// batch/v1.

fn job(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_json(spec, "parallelism", json!(1));
    if is_unset(spec, "backoffLimit") {
        let limit = if is_unset(spec, "backoffLimitPerIndex") { 6 } else { i64::from(i32::MAX) };
        spec.insert("backoffLimit".into(), json!(limit));
    }
    default_json(spec, "completionMode", json!("NonIndexed"));
    default_json(spec, "suspend", json!(false));
    // JobPodReplacementPolicy is beta and on in v1.33.
    if is_unset(spec, "podReplacementPolicy") {
        let policy = if is_unset(spec, "podFailurePolicy") { "TerminatingOrFailed" } else { "Failed" };
        spec.insert("podReplacementPolicy".into(), json!(policy));
    }
    default_json(spec, "manualSelector", json!(false));
    job_spec_nested(spec);
    let template_labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(meta) = ensure_obj(root, "metadata") {
            if is_empty_collection(meta, "labels") {
                meta.insert("labels".into(), labels);
            }
        }
    }
}

/// The defaults of a JobSpec's nested structs (which CronJob job templates get too).
fn job_spec_nested(spec: &mut Obj) {
    if let Some(pfp) = get_obj(spec, "podFailurePolicy") {
        each_obj(pfp, "rules", |rule| {
            each_obj(rule, "onPodConditions", |pattern| default_str(pattern, "status", "True"));
        });
    }
    if let Some(t) = ensure_obj(spec, "template") {
        pod_template(t);
    }
}

fn cron_job(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_json(spec, "suspend", json!(false));
    default_json(spec, "successfulJobsHistoryLimit", json!(3));
    default_json(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = ensure_obj(spec, "jobTemplate").and_then(|jt| ensure_obj(jt, "spec")) {
        job_spec_nested(job_spec);
    }
}

// ---------------------------------------------------------------------------------------------
// autoscaling.

fn hpa(root: &mut Obj, version: &str) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_json(spec, "minReplicas", json!(1));
    if version != "v2" {
        return;
    }
    if is_empty_collection(spec, "metrics") {
        spec.insert(
            "metrics".into(),
            json!([{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
            }]),
        );
    }
    if let Some(behavior) = get_obj(spec, "behavior") {
        if let Some(up) = ensure_obj(behavior, "scaleUp") {
            default_json(up, "stabilizationWindowSeconds", json!(0));
            default_json(up, "selectPolicy", json!("Max"));
            default_json(
                up,
                "policies",
                json!([
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}
                ]),
            );
        }
        if let Some(down) = ensure_obj(behavior, "scaleDown") {
            // The scale-down stabilization window stays unset: the controller's flag decides it.
            default_json(down, "selectPolicy", json!("Max"));
            default_json(down, "policies", json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// networking, discovery, rbac, storage.

fn network_policy(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    for key in ["ingress", "egress"] {
        each_obj(spec, key, |rule| each_obj(rule, "ports", |p| default_json(p, "protocol", json!("TCP"))));
    }
    if is_empty_collection(spec, "policyTypes") {
        let types = if is_empty_collection(spec, "egress") { json!(["Ingress"]) } else { json!(["Ingress", "Egress"]) };
        spec.insert("policyTypes".into(), types);
    }
}

fn ingress_class(root: &mut Obj) {
    if let Some(params) = get_obj(root, "spec").and_then(|s| get_obj(s, "parameters")) {
        default_json(params, "scope", json!("Cluster"));
    }
}

fn endpoint_slice(root: &mut Obj) {
    each_obj(root, "ports", |p| {
        default_json(p, "name", json!(""));
        default_json(p, "protocol", json!("TCP"));
    });
}

fn role_binding(root: &mut Obj) {
    if let Some(rr) = ensure_obj(root, "roleRef") {
        default_str(rr, "apiGroup", "rbac.authorization.k8s.io");
    }
    each_obj(root, "subjects", |s| {
        if is_unset_str(s, "apiGroup") && matches!(str_of(s, "kind"), "User" | "Group") {
            s.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
        }
    });
}

fn storage_class(root: &mut Obj) {
    default_json(root, "reclaimPolicy", json!("Delete"));
    default_json(root, "volumeBindingMode", json!("Immediate"));
}

fn csi_driver(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_json(spec, "attachRequired", json!(true));
    default_json(spec, "podInfoOnMount", json!(false));
    default_json(spec, "storageCapacity", json!(false));
    default_json(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if is_empty_collection(spec, "volumeLifecycleModes") {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
    default_json(spec, "requiresRepublish", json!(false));
    // SELinuxMountReadWriteOncePod is beta and on in v1.33.
    default_json(spec, "seLinuxMount", json!(false));
}

fn volume_attachment(root: &mut Obj) {
    if let Some(inline) =
        get_obj(root, "spec").and_then(|s| get_obj(s, "source")).and_then(|s| get_obj(s, "inlineVolumeSpec"))
    {
        volume_sources(inline);
    }
}

// ---------------------------------------------------------------------------------------------
// admissionregistration, flowcontrol, apiextensions.

fn webhook_configuration(root: &mut Obj, mutating: bool) {
    each_obj(root, "webhooks", |w| {
        default_json(w, "failurePolicy", json!("Fail"));
        default_json(w, "matchPolicy", json!("Equivalent"));
        default_json(w, "namespaceSelector", json!({}));
        default_json(w, "objectSelector", json!({}));
        default_json(w, "timeoutSeconds", json!(10));
        if mutating {
            default_json(w, "reinvocationPolicy", json!("Never"));
        }
        each_obj(w, "rules", |r| default_json(r, "scope", json!("*")));
        if let Some(svc) = get_obj(w, "clientConfig").and_then(|c| get_obj(c, "service")) {
            default_json(svc, "port", json!(443));
        }
    });
}

fn validating_admission_policy(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    default_json(spec, "failurePolicy", json!("Fail"));
    if let Some(mc) = get_obj(spec, "matchConstraints") {
        default_json(mc, "matchPolicy", json!("Equivalent"));
        default_json(mc, "namespaceSelector", json!({}));
        default_json(mc, "objectSelector", json!({}));
        for key in ["resourceRules", "excludeResourceRules"] {
            each_obj(mc, key, |r| default_json(r, "scope", json!("*")));
        }
    }
}

fn flow_schema(root: &mut Obj) {
    if let Some(spec) = ensure_obj(root, "spec") {
        default_int(spec, "matchingPrecedence", 1000);
    }
}

fn priority_level_configuration(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    if let Some(limited) = get_obj(spec, "limited") {
        // v1: an explicit zero is kept (a "jail" level); only an unset value defaults.
        default_json(limited, "nominalConcurrencyShares", json!(30));
        default_json(limited, "lendablePercent", json!(0));
        if let Some(q) = get_obj(limited, "limitResponse").and_then(|lr| get_obj(lr, "queuing")) {
            default_int(q, "handSize", 8);
            default_int(q, "queues", 64);
            default_int(q, "queueLengthLimit", 50);
        }
    }
    if let Some(exempt) = get_obj(spec, "exempt") {
        default_json(exempt, "nominalConcurrencyShares", json!(0));
        default_json(exempt, "lendablePercent", json!(0));
    }
}

fn custom_resource_definition(root: &mut Obj) {
    let Some(spec) = ensure_obj(root, "spec") else {
        return;
    };
    if let Some(names) = ensure_obj(spec, "names") {
        let kind = str_of(names, "kind").to_string();
        if is_unset_str(names, "singular") {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if is_unset_str(names, "listKind") && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    default_json(spec, "conversion", json!({"strategy": "None"}));
    if let Some(svc) = get_obj(spec, "conversion")
        .and_then(|c| get_obj(c, "webhook"))
        .and_then(|w| get_obj(w, "clientConfig"))
        .and_then(|c| get_obj(c, "service"))
    {
        default_json(svc, "port", json!(443));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str) -> ResourceDef {
        ResourceDef {
            group,
            version,
            kind,
            plural,
            singular: "",
            short_names: &[],
            namespaced: true,
            verbs: &[],
            categories: &[],
            subresources: &[],
            etcd_prefix: "x",
        }
    }

    fn defaulted(r: &ResourceDef, mut obj: Value) -> Value {
        apply(r, &mut obj);
        let once = obj.clone();
        apply(r, &mut obj);
        assert_eq!(obj, once, "defaulting must be idempotent");
        obj
    }

    #[test]
    fn image_pull_policy_follows_tag() {
        for (image, latest) in [
            ("nginx", true),
            ("nginx:latest", true),
            ("nginx:1.25", false),
            ("library/nginx", true),
            ("registry.k8s.io/pause:3.10", false),
            ("localhost:5000/app", true),
            ("localhost:5000/app:v1", false),
            ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false),
            ("nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true),
            ("nginx@sha256:abc", false),
            ("NGINX", false),
            ("", false),
            ("nginx:", false),
        ] {
            assert_eq!(image_tag_is_latest(image), latest, "{image}");
        }
        let c = defaulted(
            &rd("", "v1", "Pod", "pods"),
            json!({"spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:1.25"}]}}),
        );
        assert_eq!(c["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(c["spec"]["containers"][1]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn pod_defaults() {
        let pod = defaulted(
            &rd("", "v1", "Pod", "pods"),
            json!({
                "metadata": {"name": "p"},
                "spec": {
                    "hostNetwork": true,
                    "containers": [{
                        "name": "c", "image": "busybox:1.36", "imagePullPolicy": "",
                        "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 9000, "protocol": "UDP"}],
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                        "livenessProbe": {"httpGet": {"port": 8080}},
                        "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
                        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}}
                    }],
                    "initContainers": [{"name": "i", "image": "busybox", "resources": {"limits": {"cpu": "2"}}}],
                    "volumes": [
                        {"name": "e"},
                        {"name": "s", "secret": {"secretName": "x"}},
                        {"name": "c", "configMap": {"name": "x", "defaultMode": 256}},
                        {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                        {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
                        {"name": "h", "hostPath": {"path": "/x"}},
                        {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}}
                    ]
                }
            }),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0], json!({"containerPort": 80, "hostPort": 80, "protocol": "TCP"}));
        assert_eq!(c["ports"][1], json!({"containerPort": 81, "hostPort": 9000, "protocol": "UDP"}));
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(c["resources"]["requests"], json!({"cpu": "500m", "memory": "1Gi"}));
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
        assert_eq!(c["readinessProbe"]["grpc"]["service"], "");
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"], json!({"port": 80, "path": "/stop", "scheme": "HTTP"}));
        let i = &spec["initContainers"][0];
        assert_eq!(i["imagePullPolicy"], "Always");
        assert_eq!(i["resources"]["requests"], json!({"cpu": "2"}));
        let v = &spec["volumes"];
        assert_eq!(v[0], json!({"name": "e", "emptyDir": {}}));
        assert_eq!(v[1]["secret"]["defaultMode"], 420);
        assert_eq!(v[2]["configMap"]["defaultMode"], 256);
        assert_eq!(v[3]["downwardAPI"]["defaultMode"], 420);
        assert_eq!(v[3]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(v[4]["projected"]["defaultMode"], 420);
        assert_eq!(v[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3600);
        assert_eq!(v[5]["hostPath"]["type"], "");
        assert_eq!(v[6]["ephemeral"]["volumeClaimTemplate"]["spec"]["volumeMode"], "Filesystem");
    }

    #[test]
    fn pod_without_host_network_keeps_host_ports_unset() {
        let pod = defaulted(
            &rd("", "v1", "Pod", "pods"),
            json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]}}),
        );
        assert!(pod["spec"]["containers"][0]["ports"][0].get("hostPort").is_none());
        assert!(pod["spec"]["containers"][0]["resources"].get("requests").is_none());
    }

    #[test]
    fn deployment_with_only_a_template() {
        let d = defaulted(
            &rd("apps", "v1", "Deployment", "deployments"),
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][0]["resources"], json!({}));
        // Pod-only defaults do not materialize in templates.
        assert!(pod.get("enableServiceLinks").is_none());
    }

    #[test]
    fn deployment_recreate_strategy_gets_no_rolling_update() {
        let d = defaulted(
            &rd("apps", "v1", "Deployment", "deployments"),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn daemonset_statefulset_replicaset() {
        let ds = defaulted(&rd("apps", "v1", "DaemonSet", "daemonsets"), json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);

        let ss = defaulted(
            &rd("apps", "v1", "StatefulSet", "statefulsets"),
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
        );
        let spec = &ss["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let claim = &spec["volumeClaimTemplates"][0];
        assert_eq!(claim["apiVersion"], "v1");
        assert_eq!(claim["kind"], "PersistentVolumeClaim");
        assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claim["status"]["phase"], "Pending");

        // An explicit RollingUpdate type without rollingUpdate gets no partition.
        let ss = defaulted(
            &rd("apps", "v1", "StatefulSet", "statefulsets"),
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}),
        );
        assert_eq!(ss["spec"]["updateStrategy"], json!({"type": "RollingUpdate"}));

        let rs = defaulted(&rd("apps", "v1", "ReplicaSet", "replicasets"), json!({"spec": {"replicas": 0}}));
        assert_eq!(rs["spec"]["replicas"], 0);
    }

    #[test]
    fn job_and_cronjob() {
        let j = defaulted(
            &rd("batch", "v1", "Job", "jobs"),
            json!({"metadata": {"name": "j"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never", "containers": []}}}}),
        );
        let spec = &j["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["manualSelector"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(j["metadata"]["labels"], json!({"a": "b"}));

        let j = defaulted(
            &rd("batch", "v1", "Job", "jobs"),
            json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1,
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}),
        );
        assert!(j["spec"].get("completions").is_none());
        assert_eq!(j["spec"]["parallelism"], 3);
        assert_eq!(j["spec"]["backoffLimit"], 2147483647);
        assert_eq!(j["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(j["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"], "True");
        // Without a restartPolicy the template gets Always, which Job validation then rejects.
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Always");

        let cj = defaulted(
            &rd("batch", "v1", "CronJob", "cronjobs"),
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}}}),
        );
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        let js = &spec["jobTemplate"]["spec"];
        assert!(js.get("backoffLimit").is_none(), "Job defaults are not applied to job templates");
        assert_eq!(js["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn replication_controller_copies_template_labels() {
        let rc = defaulted(
            &rd("", "v1", "ReplicationController", "replicationcontrollers"),
            json!({"metadata": {"name": "r"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}}),
        );
        assert_eq!(rc["spec"]["replicas"], 1);
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(rc["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");

        let rc = defaulted(
            &rd("", "v1", "ReplicationController", "replicationcontrollers"),
            json!({"metadata": {"labels": {"own": "1"}}, "spec": {"selector": {"s": "1"}, "template": {"metadata": {"labels": {"app": "x"}}}}}),
        );
        assert_eq!(rc["spec"]["selector"], json!({"s": "1"}));
        assert_eq!(rc["metadata"]["labels"], json!({"own": "1"}));
    }

    #[test]
    fn service_defaults() {
        let svc = rd("", "v1", "Service", "services");
        let s = defaulted(
            &svc,
            json!({"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "UDP"}], "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
        );
        let spec = &s["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert!(spec.get("sessionAffinityConfig").is_none());
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert!(spec.get("externalTrafficPolicy").is_none());
        assert!(spec.get("clusterIP").is_none());
        assert!(spec.get("ipFamilies").is_none());
        assert_eq!(spec["ports"][0], json!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["ports"][1]["protocol"], "UDP");

        let s = defaulted(
            &svc,
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "h"}]}}}),
        );
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(s["spec"]["sessionAffinityConfig"], json!({"clientIP": {"timeoutSeconds": 10800}}));
        assert_eq!(s["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
        assert!(s["status"]["loadBalancer"]["ingress"][1].get("ipMode").is_none());

        let s = defaulted(&svc, json!({"spec": {"type": "ExternalName", "externalName": "x.example"}}));
        assert!(s["spec"].get("internalTrafficPolicy").is_none());
        assert!(s["spec"].get("externalTrafficPolicy").is_none());

        let s = defaulted(&svc, json!({"spec": {"externalIPs": ["1.1.1.1"]}}));
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
    }

    #[test]
    fn core_misc() {
        let s = defaulted(&rd("", "v1", "Secret", "secrets"), json!({"metadata": {"name": "s"}}));
        assert_eq!(s["type"], "Opaque");

        let ns = defaulted(&rd("", "v1", "Namespace", "namespaces"), json!({"metadata": {"name": "team-a"}}));
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(ns["status"]["phase"], "Active");

        let ep = defaulted(
            &rd("", "v1", "Endpoints", "endpoints"),
            json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
        );
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");

        let pv = defaulted(
            &rd("", "v1", "PersistentVolume", "persistentvolumes"),
            json!({"spec": {"hostPath": {"path": "/d"}, "capacity": {"storage": "1Gi"}}}),
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["spec"]["hostPath"]["type"], "");
        assert_eq!(pv["status"]["phase"], "Pending");

        let pvc = defaulted(&rd("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"), json!({"spec": {}}));
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");

        let lr = defaulted(
            &rd("", "v1", "LimitRange", "limitranges"),
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}},
                {"type": "Pod", "max": {"cpu": "4"}}
            ]}}),
        );
        assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
        assert_eq!(lr["spec"]["limits"][0]["defaultRequest"], json!({"cpu": "2", "memory": "1Mi"}));
        assert!(lr["spec"]["limits"][1].get("default").is_none());

        let node = defaulted(&rd("", "v1", "Node", "nodes"), json!({"status": {"capacity": {"cpu": "4"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));

        let pt = defaulted(
            &rd("", "v1", "PodTemplate", "podtemplates"),
            json!({"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}),
        );
        assert_eq!(pt["template"]["spec"]["containers"][0]["terminationMessagePolicy"], "File");
        assert!(pt["template"]["spec"].get("enableServiceLinks").is_none());

        let cm = defaulted(&rd("", "v1", "ConfigMap", "configmaps"), json!({"metadata": {"name": "c"}}));
        assert_eq!(cm, json!({"metadata": {"name": "c"}}));
    }

    #[test]
    fn other_groups() {
        let np = defaulted(
            &rd("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        let np = defaulted(&rd("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"), json!({"spec": {}}));
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));

        let es = defaulted(
            &rd("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
            json!({"addressType": "IPv4", "ports": [{"port": 80}]}),
        );
        assert_eq!(es["ports"][0], json!({"port": 80, "name": "", "protocol": "TCP"}));

        let rb = defaulted(
            &rd("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [
                {"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"}, {"kind": "ServiceAccount", "name": "s", "namespace": "n"}
            ]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(rb["subjects"][2].get("apiGroup").is_none());

        let sc = defaulted(&rd("storage.k8s.io", "v1", "StorageClass", "storageclasses"), json!({"provisioner": "p"}));
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");

        let pc = defaulted(&rd("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses"), json!({"value": 5}));
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");

        let hpa = defaulted(
            &rd("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
            json!({"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        assert_eq!(hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"], 0);
        assert_eq!(hpa["spec"]["behavior"]["scaleUp"]["policies"].as_array().map(Vec::len), Some(2));
        assert_eq!(hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 60);
        assert_eq!(hpa["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Max");

        let vwc = defaulted(
            &rd("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
            json!({"webhooks": [{"name": "w.example.com", "clientConfig": {"service": {"name": "s", "namespace": "n"}}, "rules": [{"operations": ["CREATE"]}]}]}),
        );
        let w = &vwc["webhooks"][0];
        assert_eq!(w["failurePolicy"], "Fail");
        assert_eq!(w["matchPolicy"], "Equivalent");
        assert_eq!(w["timeoutSeconds"], 10);
        assert_eq!(w["reinvocationPolicy"], "Never");
        assert_eq!(w["namespaceSelector"], json!({}));
        assert_eq!(w["rules"][0]["scope"], "*");
        assert_eq!(w["clientConfig"]["service"]["port"], 443);

        let plc = defaulted(
            &rd("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations"),
            json!({"spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queuing", "queuing": {}}}}}),
        );
        assert_eq!(plc["spec"]["limited"]["nominalConcurrencyShares"], 30);
        assert_eq!(
            plc["spec"]["limited"]["limitResponse"]["queuing"],
            json!({"handSize": 8, "queues": 64, "queueLengthLimit": 50})
        );

        let crd = defaulted(
            &rd("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions"),
            json!({"spec": {"names": {"kind": "Widget", "plural": "widgets"}}}),
        );
        assert_eq!(crd["spec"]["names"]["singular"], "widget");
        assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    }

    #[test]
    fn malformed_input_never_panics() {
        let kinds = [
            rd("", "v1", "Pod", "pods"),
            rd("", "v1", "Service", "services"),
            rd("", "v1", "ReplicationController", "replicationcontrollers"),
            rd("", "v1", "Namespace", "namespaces"),
            rd("", "v1", "LimitRange", "limitranges"),
            rd("apps", "v1", "Deployment", "deployments"),
            rd("apps", "v1", "StatefulSet", "statefulsets"),
            rd("batch", "v1", "Job", "jobs"),
            rd("batch", "v1", "CronJob", "cronjobs"),
            rd("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        ];
        let inputs = [
            json!(null),
            json!([1, 2]),
            json!("x"),
            json!({"spec": 5}),
            json!({"spec": {"template": [], "containers": "x", "ports": {"a": 1}}}),
            json!({"spec": {"template": {"spec": {"containers": [1, null, {"ports": 3, "resources": {"limits": 2}}], "volumes": ["x"]}}}}),
            json!({"metadata": 3, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}, "selector": 7}}),
            json!({"spec": {"strategy": "x", "updateStrategy": {"type": 3}, "behavior": {"scaleUp": 1}}}),
            json!({"spec": {"limits": [{"type": "Container", "max": 3}]}, "status": {"loadBalancer": {"ingress": 1}}}),
        ];
        for r in &kinds {
            for input in &inputs {
                let mut v = input.clone();
                apply(r, &mut v);
            }
        }
    }
}

/// Secrets: `type` defaults to Opaque, and `stringData` is write-only: its values are merged into
/// `data` (overriding it) and never stored, as upstream's conversion to the internal type does.
fn secret(root: &mut Map<String, Value>) {
    default_str(root, "type", "Opaque");
    let Some(Value::Object(sd)) = root.remove("stringData") else { return };
    use base64::Engine;
    let data = root.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in sd {
            let text = v.as_str().unwrap_or_default();
            d.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

#[cfg(test)]
mod secret_tests {
    use serde_json::json;

    #[test]
    fn string_data_merges_into_data() {
        let rd = crate::lookup("", "v1", "secrets").unwrap();
        let mut s = json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "over", "c": "new"}});
        super::apply(rd, &mut s);
        assert_eq!(s, json!({"type": "Opaque", "data": {"a": "eA==", "b": "b3Zlcg==", "c": "bmV3"}}));
    }
}
