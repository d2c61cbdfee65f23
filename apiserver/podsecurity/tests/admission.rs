//! Admission decisions and their exact messages for pods, workloads and namespaces.

use std::cell::Cell;
use std::collections::BTreeMap;

use podsecurity::{
    admit, admit_namespace, admit_pod, admit_workload, Config, Exemptions, NamespaceRequest, Operation, Request,
};
use serde_json::{json, Value};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string())).collect()
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string())).collect()
}

fn pod_request<'a>(object: &'a Value) -> Request<'a> {
    Request {
        operation: Operation::Create,
        group: "",
        resource: "pods",
        subresource: "",
        namespace: "ns",
        name: "p",
        username: "alice",
        object,
        old_object: None,
    }
}

fn restricted_pod() -> Value {
    json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "nginx",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
        }
    })
}

fn privileged_pod() -> Value {
    json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}
    })
}

const PRIVILEGED_RESTRICTED: &str = r#"privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;

#[test]
fn restricted_namespace_rejects_privileged_pod_with_upstream_message() {
    let ns = labels(&[("enforce", "restricted")]);
    let pod = privileged_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert!(!d.allowed);
    let err = format!(r#"violates PodSecurity "restricted:latest": {PRIVILEGED_RESTRICTED}"#);
    assert_eq!(d.message.as_deref(), Some(err.as_str()));
    let status = d.status.unwrap();
    assert_eq!((status.code, status.reason), (403, "Forbidden"));
    assert_eq!(status.message, format!(r#"pods "p" is forbidden: {err}"#));
    assert_eq!((status.kind.as_str(), status.name.as_str()), ("pods", "p"));
    // Denied requests carry no warnings; the audit log gets the enforced policy.
    assert!(d.warnings.is_empty());
    assert_eq!(d.audit_annotations, annotations(&[("enforce-policy", "restricted:latest")]));
}

#[test]
fn baseline_namespace_rejects_privileged_and_allows_restricted() {
    let ns = labels(&[("enforce", "baseline"), ("enforce-version", "v1.30")]);
    let pod = privileged_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert_eq!(
        d.message.as_deref(),
        Some(
            r#"violates PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)"#
        )
    );
    let pod = restricted_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert!(d.allowed && d.warnings.is_empty() && d.status.is_none());
    assert_eq!(d.audit_annotations, annotations(&[("enforce-policy", "baseline:v1.30")]));
}

#[test]
fn warn_and_audit_modes() {
    let ns =
        labels(&[("enforce", "baseline"), ("warn", "restricted"), ("audit", "restricted"), ("audit-version", "v1.25")]);
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert!(d.allowed);
    let restricted = r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#;
    assert_eq!(d.warnings, [format!(r#"would violate PodSecurity "restricted:latest": {restricted}"#)]);
    assert_eq!(
        d.audit_annotations,
        annotations(&[
            ("enforce-policy", "baseline:latest"),
            ("audit-violations", &format!(r#"would violate PodSecurity "restricted:v1.25": {restricted}"#)),
        ])
    );
}

#[test]
fn unlabelled_namespace_with_default_config_is_privileged() {
    let pod = privileged_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&BTreeMap::new()));
    assert!(d.allowed && d.warnings.is_empty());
    assert_eq!(d.audit_annotations, annotations(&[("enforce-policy", "privileged:latest")]));
    // A pinned privileged version is still reported as privileged:latest.
    let ns = labels(&[("enforce", "privileged"), ("enforce-version", "v1.20")]);
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert_eq!(d.audit_annotations, annotations(&[("enforce-policy", "privileged:latest")]));
}

#[test]
fn config_defaults_apply_to_unlabelled_namespaces() {
    let mut config = Config::default();
    config.defaults.enforce.level = podsecurity::Level::Baseline;
    let pod = privileged_pod();
    let d = admit_pod(&config, &pod_request(&pod), Ok(&BTreeMap::new()));
    assert!(!d.allowed);
    assert!(d.message.unwrap().starts_with(r#"violates PodSecurity "baseline:latest": privileged"#));
}

#[test]
fn exemptions() {
    let config = Config {
        exemptions: Exemptions {
            usernames: vec!["system:serviceaccount:kube-system:daemon-set-controller".into()],
            namespaces: vec!["kube-system".into()],
            runtime_classes: vec!["kata".into()],
        },
        ..Config::default()
    };
    let ns = labels(&[("enforce", "restricted")]);
    let pod = privileged_pod();
    let mut req = pod_request(&pod);
    req.namespace = "kube-system";
    let d = admit_pod(&config, &req, Ok(&ns));
    assert!(d.allowed);
    assert_eq!(d.audit_annotations, annotations(&[("exempt", "namespace")]));

    let mut req = pod_request(&pod);
    req.username = "system:serviceaccount:kube-system:daemon-set-controller";
    assert_eq!(admit_pod(&config, &req, Ok(&ns)).audit_annotations, annotations(&[("exempt", "user")]));

    let mut kata = privileged_pod();
    kata["spec"]["runtimeClassName"] = json!("kata");
    let d = admit_pod(&config, &pod_request(&kata), Ok(&ns));
    assert!(d.allowed);
    assert_eq!(d.audit_annotations, annotations(&[("exempt", "runtimeClass")]));
}

#[test]
fn ignored_subresources_and_operations() {
    let ns = labels(&[("enforce", "restricted")]);
    let pod = privileged_pod();
    for sub in ["status", "exec", "attach", "binding", "eviction", "log", "portforward", "proxy"] {
        let mut req = pod_request(&pod);
        req.subresource = sub;
        let d = admit_pod(&Config::default(), &req, Ok(&ns));
        assert!(d.allowed && d.audit_annotations.is_empty(), "{sub}");
    }
    let mut req = pod_request(&pod);
    req.operation = Operation::Delete;
    assert!(admit_pod(&Config::default(), &req, Ok(&ns)).allowed);
}

#[test]
fn updates_are_evaluated_only_when_images_or_containers_change() {
    let ns = labels(&[("enforce", "restricted")]);
    let old = privileged_pod();
    let mut relabelled = privileged_pod();
    relabelled["metadata"]["labels"] = json!({"a": "b"});
    let mut req = pod_request(&relabelled);
    req.operation = Operation::Update;
    req.old_object = Some(&old);
    let d = admit_pod(&Config::default(), &req, Ok(&ns));
    assert!(d.allowed && d.audit_annotations.is_empty());

    let mut reimaged = privileged_pod();
    reimaged["spec"]["containers"][0]["image"] = json!("nginx:2");
    req.object = &reimaged;
    assert!(!admit_pod(&Config::default(), &req, Ok(&ns)).allowed);

    // Adding an ephemeral container through the ephemeralcontainers subresource is evaluated.
    let old = restricted_pod();
    let mut debug = restricted_pod();
    debug["spec"]["ephemeralContainers"] =
        json!([{"name": "dbg", "image": "busybox", "securityContext": {"privileged": true}}]);
    let mut req = pod_request(&debug);
    req.operation = Operation::Update;
    req.subresource = "ephemeralcontainers";
    req.old_object = Some(&old);
    let d = admit_pod(&Config::default(), &req, Ok(&ns));
    assert!(d.message.unwrap().starts_with(
        r#"violates PodSecurity "restricted:latest": privileged (container "dbg" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "dbg" must set"#
    ));
}

#[test]
fn invalid_namespace_labels_fail_closed_for_pods() {
    let ns = labels(&[("enforce", "bogus")]);
    let pod = restricted_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns));
    assert!(d.allowed);
    assert_eq!(
        d.audit_annotations,
        annotations(&[
            ("enforce-policy", "restricted:latest"),
            (
                "error",
                r#"Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#
            ),
        ])
    );
    let pod = privileged_pod();
    assert!(!admit_pod(&Config::default(), &pod_request(&pod), Ok(&ns)).allowed);
}

#[test]
fn namespace_lookup_failure() {
    let pod = restricted_pod();
    let d = admit_pod(&Config::default(), &pod_request(&pod), Err("etcd unavailable"));
    let status = d.status.unwrap();
    assert_eq!((status.code, status.reason), (500, "InternalError"));
    assert_eq!(status.message, r#"Internal error occurred: failed to lookup namespace "ns""#);
    assert_eq!(
        d.audit_annotations,
        annotations(&[("error", r#"Internal error occurred: failed to lookup namespace "ns": etcd unavailable"#)])
    );
    let dep = json!({"spec": {"template": {}}});
    let mut req = pod_request(&dep);
    (req.group, req.resource) = ("apps", "deployments");
    let d = admit_workload(&Config::default(), &req, Err("gone"));
    assert!(d.allowed);
    assert_eq!(d.audit_annotations, annotations(&[("error", r#"failed to lookup namespace "ns": gone"#)]));
}

fn template_of(pod: &Value) -> Value {
    json!({"metadata": {"labels": {"app": "x"}}, "spec": pod["spec"].clone()})
}

#[test]
fn workloads_only_warn_and_audit() {
    let ns = labels(&[("enforce", "restricted")]);
    let t = template_of(&privileged_pod());
    let objects = [
        ("apps", "deployments", json!({"spec": {"template": t}})),
        ("apps", "replicasets", json!({"spec": {"template": t}})),
        ("apps", "statefulsets", json!({"spec": {"template": t}})),
        ("apps", "daemonsets", json!({"spec": {"template": t}})),
        ("batch", "jobs", json!({"spec": {"template": t}})),
        ("batch", "cronjobs", json!({"spec": {"jobTemplate": {"spec": {"template": t}}}})),
        ("", "replicationcontrollers", json!({"spec": {"template": t}})),
        ("", "podtemplates", json!({"template": t})),
    ];
    for (group, resource, object) in &objects {
        let mut req = pod_request(object);
        (req.group, req.resource, req.name) = (group, resource, "w");
        let d = admit(&Config::default(), &req, Ok(&ns));
        assert!(d.allowed, "{resource}");
        assert!(d.status.is_none());
        assert_eq!(d.warnings, [format!(r#"would violate PodSecurity "restricted:latest": {PRIVILEGED_RESTRICTED}"#)]);
        // Enforce is not evaluated for templates, so no enforce-policy annotation.
        assert_eq!(d.audit_annotations, BTreeMap::new(), "{resource}");
    }
    // Audit-only namespaces get only the annotation.
    let audit = labels(&[("audit", "baseline")]);
    let (group, resource, object) = &objects[0];
    let mut req = pod_request(object);
    (req.group, req.resource) = (group, resource);
    let d = admit_workload(&Config::default(), &req, Ok(&audit));
    assert!(d.warnings.is_empty());
    assert_eq!(
        d.audit_annotations,
        annotations(&[(
            "audit-violations",
            r#"would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#
        )])
    );
    // Subresources, template-less replication controllers and other resources are skipped.
    req.subresource = "scale";
    assert_eq!(admit_workload(&Config::default(), &req, Ok(&ns)).warnings.len(), 0);
    let rc = json!({"spec": {"replicas": 1}});
    let mut req = pod_request(&rc);
    req.resource = "replicationcontrollers";
    assert!(admit_workload(&Config::default(), &req, Ok(&ns)).warnings.is_empty());
    let svc = json!({"spec": {"template": t}});
    let mut req = pod_request(&svc);
    req.resource = "services";
    assert!(admit_workload(&Config::default(), &req, Ok(&ns)).warnings.is_empty());
}

fn ns_request<'a>(
    labels: &'a BTreeMap<String, String>,
    old: Option<&'a BTreeMap<String, String>>,
) -> NamespaceRequest<'a> {
    NamespaceRequest {
        operation: if old.is_some() { Operation::Update } else { Operation::Create },
        name: "test",
        request_namespace: "test",
        subresource: "",
        labels,
        old_labels: old,
    }
}

fn no_pods() -> Result<Vec<Value>, String> {
    Ok(vec![])
}

#[test]
fn namespace_label_validation() {
    let new = labels(&[("enforce", "bogus")]);
    let d = admit_namespace(&Config::default(), &ns_request(&new, None), no_pods);
    let status = d.status.unwrap();
    assert_eq!((d.allowed, status.code, status.reason), (false, 422, "Invalid"));
    assert_eq!(
        status.message,
        r#"Namespace "test" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#
    );
    assert_eq!(status.causes[0].field, "metadata.labels[pod-security.kubernetes.io/enforce]");
    assert_eq!(status.causes[0].cause_type(), "FieldValueInvalid");

    let new = labels(&[("enforce", "privileged"), ("warn-version", "v1")]);
    let d = admit_namespace(&Config::default(), &ns_request(&new, None), no_pods);
    assert_eq!(
        d.status.unwrap().message,
        r#"Namespace "test" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v1": must be "latest" or "v1.x""#
    );
    let new = labels(&[("enforce", "x"), ("audit", "y")]);
    let d = admit_namespace(&Config::default(), &ns_request(&new, None), no_pods);
    assert_eq!(
        d.status.unwrap().message,
        r#"Namespace "test" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "x": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "y": must be one of privileged, baseline, restricted]"#
    );
    // Updates that keep the same invalid labels are allowed; new errors are not.
    let d = admit_namespace(&Config::default(), &ns_request(&new, Some(&new)), no_pods);
    assert!(d.allowed);
    let old = labels(&[("enforce", "restricted")]);
    assert!(!admit_namespace(&Config::default(), &ns_request(&new, Some(&old)), no_pods).allowed);
    // Subresources are not checked.
    let mut req = ns_request(&new, None);
    req.subresource = "status";
    assert!(admit_namespace(&Config::default(), &req, no_pods).allowed);
}

fn named(name: &str, spec: Value, owner: Option<&str>) -> Value {
    let mut pod = json!({"metadata": {"name": name}, "spec": spec});
    if let Some(uid) = owner {
        pod["metadata"]["ownerReferences"] =
            json!([{"uid": uid, "controller": true, "kind": "ReplicaSet", "name": "rs"}]);
    }
    pod
}

#[test]
fn tightening_enforce_warns_about_existing_pods() {
    let plain = json!({"containers": [{"name": "c", "image": "nginx"}]});
    let host = json!({"hostNetwork": true, "containers": [{"name": "c", "image": "nginx"}]});
    let pods = vec![
        named("web-2", plain.clone(), Some("rs1")),
        named("web-1", plain.clone(), Some("rs1")),
        named("solo", plain.clone(), None),
        named("agent", host.clone(), None),
        named("ok", restricted_pod()["spec"].clone(), None),
    ];
    let old = labels(&[("enforce", "baseline")]);
    let new = labels(&[("enforce", "restricted")]);
    let d = admit_namespace(&Config::default(), &ns_request(&new, Some(&old)), || Ok(pods.clone()));
    assert!(d.allowed);
    assert_eq!(
        d.warnings,
        [
            r#"existing pods in namespace "test" violate the new PodSecurity enforce level "restricted:latest""#,
            "agent: host namespaces, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            "solo (and 2 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
        ]
    );

    // Bounded checks: one pod per controller first, then the extra replicas.
    let config = Config { namespace_max_pods_to_check: 2, ..Config::default() };
    let d = admit_namespace(&config, &ns_request(&new, Some(&old)), || Ok(pods.clone()));
    assert_eq!(
        d.warnings,
        [
            "new PodSecurity enforce level only checked against the first 2 of 5 existing pods",
            r#"existing pods in namespace "test" violate the new PodSecurity enforce level "restricted:latest""#,
            "solo (and 1 other pod): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
        ]
    );

    let d = admit_namespace(&Config::default(), &ns_request(&new, Some(&old)), || Err("timeout".into()));
    assert_eq!(d.warnings, ["failed to list pods while checking new PodSecurity enforce level"]);

    // Runtime-class exempt pods are skipped.
    let config = Config {
        exemptions: Exemptions { runtime_classes: vec!["kata".into()], ..Exemptions::default() },
        ..Config::default()
    };
    let kata = named("kata", json!({"runtimeClassName": "kata", "hostPID": true}), None);
    let d = admit_namespace(&config, &ns_request(&new, Some(&old)), || Ok(vec![kata.clone()]));
    assert!(d.warnings.is_empty());
}

#[test]
fn relaxing_or_equal_enforce_skips_the_pod_check() {
    let listed = Cell::new(false);
    let list = || {
        listed.set(true);
        Ok(vec![])
    };
    let cases = [
        (labels(&[("enforce", "restricted")]), labels(&[("enforce", "baseline")])),
        (
            labels(&[("enforce", "restricted"), ("enforce-version", "v1.0")]),
            labels(&[("enforce", "restricted"), ("enforce-version", "v1.0")]),
        ),
        (labels(&[("enforce", "restricted")]), labels(&[("enforce", "privileged")])),
        (labels(&[("enforce", "restricted")]), labels(&[])),
    ];
    for (old, new) in &cases {
        let d = admit_namespace(&Config::default(), &ns_request(new, Some(old)), list);
        assert!(d.allowed && d.warnings.is_empty());
    }
    assert!(!listed.get());
    // Changing the version is evaluated even at the same level.
    let old = labels(&[("enforce", "restricted"), ("enforce-version", "v1.20")]);
    let new = labels(&[("enforce", "baseline"), ("enforce-version", "v1.30")]);
    admit_namespace(&Config::default(), &ns_request(&new, Some(&old)), list);
    assert!(listed.get());
}

#[test]
fn exempt_namespace_warnings() {
    let config = Config {
        exemptions: Exemptions { namespaces: vec!["test".into()], ..Exemptions::default() },
        ..Config::default()
    };
    let new = labels(&[("enforce", "restricted")]);
    let d = admit_namespace(&config, &ns_request(&new, None), no_pods);
    assert_eq!(
        d.warnings,
        [r#"namespace "test" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored"#]
    );
    let new = labels(&[
        ("enforce", "restricted"),
        ("enforce-version", "v1.0"),
        ("audit", "restricted"),
        ("warn", "baseline"),
    ]);
    let d = admit_namespace(&config, &ns_request(&new, Some(&BTreeMap::new())), no_pods);
    assert_eq!(
        d.warnings,
        [
            r#"namespace "test" is exempt from Pod Security, and the policy (enforce=restricted:v1.0, audit=restricted:latest, warn=baseline:latest) will be ignored"#
        ]
    );
    // A privileged policy on an exempt namespace says nothing.
    let new = labels(&[("enforce", "privileged")]);
    assert!(admit_namespace(&config, &ns_request(&new, None), no_pods).warnings.is_empty());
    // On create the apiserver's request namespace is empty, so upstream does not warn.
    let new = labels(&[("enforce", "restricted")]);
    let mut req = ns_request(&new, None);
    req.request_namespace = "";
    assert!(admit_namespace(&config, &req, no_pods).warnings.is_empty());
}
