//! Each check at each level, and the per-version differences upstream documents.

use podsecurity::{
    check_ids, check_pod, check_pod_with, AggregateCheckResult, CheckOptions, Level, LevelVersion, Version,
};
use serde_json::{json, Value};

fn lv(s: &str) -> LevelVersion {
    let (l, v) = s.split_once(':').unwrap();
    LevelVersion::new(Level::parse(l).unwrap(), Version::parse(v).unwrap())
}

fn eval(level: &str, pod: &Value) -> AggregateCheckResult {
    AggregateCheckResult::new(&check_pod(lv(level), &pod["metadata"], &pod["spec"]))
}

/// `reason (detail), ...` as the messages show it, or "" when allowed.
fn detail(level: &str, pod: &Value) -> String {
    eval(level, pod).forbidden_detail()
}

/// A pod that meets restricted at every version.
fn restricted_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "c",
                "image": "nginx",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
            }],
            "volumes": [{"name": "cfg", "configMap": {"name": "x"}}, {"name": "tmp", "emptyDir": {}}]
        }
    })
}

/// A pod as a user writes it without any security settings.
fn plain_pod() -> Value {
    json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn with(mut pod: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = pod.pointer_mut(parent).unwrap();
    target.as_object_mut().unwrap().insert(key.to_string(), value);
    pod
}

const ALL_VERSIONS: std::ops::RangeInclusive<i64> = 0..=40;

#[test]
fn restricted_pod_passes_every_level_and_version() {
    let pod = restricted_pod();
    for level in ["privileged", "baseline", "restricted"] {
        assert!(eval(&format!("{level}:latest"), &pod).allowed, "{level}:latest");
        for m in ALL_VERSIONS {
            assert!(eval(&format!("{level}:v1.{m}"), &pod).allowed, "{level}:v1.{m}");
        }
    }
}

#[test]
fn plain_pod_passes_baseline_but_not_restricted() {
    let pod = plain_pod();
    assert!(eval("baseline:latest", &pod).allowed);
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    assert_eq!(
        eval("restricted:latest", &pod).forbidden_reason(),
        "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    );
    // The privileged level checks nothing.
    assert!(check_pod(lv("privileged:latest"), &pod["metadata"], &pod["spec"]).is_empty());
}

#[test]
fn privileged_container_rejected_by_baseline_and_restricted() {
    let pod = with(restricted_pod(), "/spec/containers/0/securityContext/privileged", json!(true));
    let expected = r#"privileged (container "c" must not set securityContext.privileged=true)"#;
    assert_eq!(detail("baseline:latest", &pod), expected);
    assert_eq!(detail("restricted:latest", &pod), expected);
    assert!(eval("privileged:latest", &pod).allowed);

    // Baseline reasons come first, then restricted ones.
    let pod = with(plain_pod(), "/spec/containers/0/securityContext", json!({"privileged": true}));
    assert!(detail("restricted:latest", &pod)
        .starts_with(r#"privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false ("#));
}

#[test]
fn privileged_lists_init_regular_and_ephemeral_containers() {
    let sc = json!({"privileged": true});
    let pod = json!({"spec": {
        "initContainers": [{"name": "i", "securityContext": sc}],
        "containers": [{"name": "a", "securityContext": sc}, {"name": "b", "securityContext": {"privileged": false}}],
        "ephemeralContainers": [{"name": "e", "securityContext": sc}]
    }});
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"privileged (containers "i", "a", "e" must not set securityContext.privileged=true)"#
    );
}

#[test]
fn host_namespaces() {
    let pod = with(with(restricted_pod(), "/spec/hostNetwork", json!(true)), "/spec/hostPID", json!(true));
    assert_eq!(detail("baseline:latest", &pod), "host namespaces (hostNetwork=true, hostPID=true)");
    let pod = with(restricted_pod(), "/spec/hostIPC", json!(true));
    assert_eq!(detail("restricted:v1.0", &pod), "host namespaces (hostIPC=true)");
    let pod = with(restricted_pod(), "/spec/hostNetwork", json!(false));
    assert!(eval("baseline:latest", &pod).allowed);
}

#[test]
fn host_path_volumes_baseline_vs_restricted() {
    let pod = with(
        restricted_pod(),
        "/spec/volumes",
        json!([{"name": "h", "hostPath": {"path": "/"}}, {"name": "t", "emptyDir": {}}]),
    );
    assert_eq!(detail("baseline:latest", &pod), r#"hostPath volumes (volume "h")"#);
    // Restricted replaces the hostPath check with the volume type allow-list.
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"restricted volume types (volume "h" uses restricted volume type "hostPath")"#
    );
    let pod = with(
        restricted_pod(),
        "/spec/volumes",
        json!([{"name": "a", "hostPath": {}}, {"name": "b", "nfs": {}}, {"name": "c", "hostPath": {}}]),
    );
    assert_eq!(detail("baseline:latest", &pod), r#"hostPath volumes (volumes "a", "c")"#);
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"restricted volume types (volumes "a", "b", "c" use restricted volume types "hostPath", "nfs")"#
    );
}

#[test]
fn restricted_volume_allow_list() {
    let allowed = [
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
    for t in allowed {
        let pod = with(restricted_pod(), "/spec/volumes", json!([{"name": "v", t: {}}]));
        assert!(eval("restricted:latest", &pod).allowed, "{t}");
    }
    // A volume without a source is defaulted to emptyDir by the apiserver.
    let pod = with(restricted_pod(), "/spec/volumes", json!([{"name": "v"}]));
    assert!(eval("restricted:latest", &pod).allowed);
    let pod = with(restricted_pod(), "/spec/volumes", json!([{"name": "v", "gitRepo": {"repository": "x"}}]));
    assert_eq!(
        detail("restricted:v1.0", &pod),
        r#"restricted volume types (volume "v" uses restricted volume type "gitRepo")"#
    );
    assert!(eval("baseline:latest", &pod).allowed);
}

#[test]
fn host_ports() {
    let pod = json!({"spec": {"containers": [
        {"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 80, "hostPort": 8080}]},
        {"name": "b", "ports": [{"hostPort": 9}, {"hostPort": 0}]},
        {"name": "c", "ports": [{"containerPort": 1}]}
    ]}});
    // Ports sort as strings, as upstream's string set does.
    assert_eq!(detail("baseline:latest", &pod), r#"hostPort (containers "a", "b" use hostPorts 8080, 9)"#);
    let pod = json!({"spec": {"containers": [{"name": "a", "ports": [{"hostPort": 443}]}]}});
    assert_eq!(detail("baseline:latest", &pod), r#"hostPort (container "a" uses hostPort 443)"#);
}

#[test]
fn capabilities_net_raw_baseline_vs_restricted() {
    let add = |caps: Value| with(restricted_pod(), "/spec/containers/0/securityContext/capabilities", caps);
    let pod = add(json!({"add": ["NET_RAW"], "drop": ["ALL"]}));
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"non-default capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add)"#
    );
    // From v1.22 restricted replaces the baseline capabilities check.
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"unrestricted capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add)"#
    );
    assert_eq!(
        detail("restricted:v1.21", &pod),
        r#"non-default capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add)"#
    );
    // Default capabilities are fine for baseline, but restricted only allows NET_BIND_SERVICE.
    let pod = add(json!({"add": ["CHOWN", "NET_BIND_SERVICE"], "drop": ["ALL"]}));
    assert!(eval("baseline:latest", &pod).allowed);
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"unrestricted capabilities (container "c" must not include "CHOWN" in securityContext.capabilities.add)"#
    );
    let pod = add(json!({"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}));
    assert!(eval("restricted:latest", &pod).allowed);
    // drop ALL is required from v1.22 on.
    let pod = add(json!({"drop": ["NET_RAW"]}));
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])"#
    );
    assert!(eval("restricted:v1.21", &pod).allowed);
}

#[test]
fn capabilities_restricted_both_details() {
    let pod = json!({"spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "Localhost"}},
        "containers": [
            {"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["FOO", "BAR"]}}},
            {"name": "b", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["BAZ"], "drop": ["ALL"]}}},
            {"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}
        ]
    }});
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"unrestricted capabilities (containers "a", "c" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b" must not include "BAR", "BAZ", "FOO" in securityContext.capabilities.add)"#
    );
}

#[test]
fn allow_privilege_escalation() {
    let pod = with(restricted_pod(), "/spec/containers/0/securityContext/allowPrivilegeEscalation", json!(true));
    assert!(eval("baseline:latest", &pod).allowed);
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)"#
    );
    // Not part of restricted before v1.8.
    assert!(eval("restricted:v1.7", &pod).allowed);
    assert!(!eval("restricted:v1.8", &pod).allowed);
}

#[test]
fn run_as_non_root() {
    let pod = with(restricted_pod(), "/spec/securityContext/runAsNonRoot", json!(false));
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"#
    );
    // Container-level true is enough without a pod-level setting.
    let mut pod = restricted_pod();
    pod["spec"]["securityContext"].as_object_mut().unwrap().remove("runAsNonRoot");
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)"#
    );
    pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = json!(true);
    assert!(eval("restricted:latest", &pod).allowed);
    pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = json!(false);
    assert_eq!(
        detail("restricted:latest", &pod),
        r#"runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false)"#
    );
    assert!(eval("baseline:latest", &pod).allowed);
}

#[test]
fn run_as_user_zero_from_v1_23() {
    let pod = with(restricted_pod(), "/spec/securityContext/runAsUser", json!(0));
    let pod = with(pod, "/spec/containers/0/securityContext/runAsUser", json!(0));
    assert!(eval("restricted:v1.22", &pod).allowed);
    assert_eq!(detail("restricted:v1.23", &pod), r#"runAsUser=0 (pod and container "c" must not set runAsUser=0)"#);
    assert!(!eval("restricted:latest", &pod).allowed);
    let pod = with(restricted_pod(), "/spec/securityContext/runAsUser", json!(1000));
    assert!(eval("restricted:latest", &pod).allowed);
}

#[test]
fn seccomp_baseline_and_restricted() {
    let pod = with(restricted_pod(), "/spec/securityContext/seccompProfile", json!({"type": "Unconfined"}));
    let expected = r#"seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")"#;
    assert_eq!(detail("baseline:latest", &pod), expected);
    assert_eq!(detail("restricted:latest", &pod), expected);
    // Before v1.19 only the alpha annotations were checked.
    assert!(eval("baseline:v1.18", &pod).allowed);

    let mut pod = restricted_pod();
    pod["spec"]["securityContext"].as_object_mut().unwrap().remove("seccompProfile");
    assert!(eval("baseline:latest", &pod).allowed);
    assert!(eval("restricted:v1.18", &pod).allowed);
    assert_eq!(
        detail("restricted:v1.19", &pod),
        r#"seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    pod["spec"]["containers"][0]["securityContext"]["seccompProfile"] =
        json!({"type": "Localhost", "localhostProfile": "p"});
    assert!(eval("restricted:latest", &pod).allowed);
}

#[test]
fn seccomp_annotations_before_v1_19() {
    let pod = json!({
        "metadata": {"annotations": {
            "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/c": "runtime/default",
            "container.seccomp.security.alpha.kubernetes.io/d": "unknown"
        }},
        "spec": {"containers": [{"name": "c"}, {"name": "d"}]}
    });
    assert_eq!(
        detail("baseline:v1.18", &pod),
        r#"seccompProfile (forbidden annotations container.seccomp.security.alpha.kubernetes.io/d="unknown", seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
    );
    assert!(eval("baseline:v1.19", &pod).allowed);
}

#[test]
fn windows_pods_skip_linux_only_restricted_checks_from_v1_25() {
    let pod = json!({"spec": {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "w"}]
    }});
    assert!(eval("restricted:v1.25", &pod).allowed);
    assert!(eval("restricted:latest", &pod).allowed);
    assert_eq!(
        eval("restricted:v1.24", &pod).forbidden_reason(),
        "allowPrivilegeEscalation != false, unrestricted capabilities, seccompProfile"
    );
}

#[test]
fn windows_host_process() {
    let pod = json!({"spec": {
        "securityContext": {"windowsOptions": {"hostProcess": true}},
        "containers": [
            {"name": "a", "securityContext": {"windowsOptions": {"hostProcess": true}}},
            {"name": "b", "securityContext": {"windowsOptions": {"hostProcess": false}}}
        ]
    }});
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"hostProcess (pod and container "a" must not set securityContext.windowsOptions.hostProcess=true)"#
    );
}

#[test]
fn proc_mount() {
    let pod = json!({"spec": {"hostUsers": false, "containers": [
        {"name": "a", "securityContext": {"procMount": "Unmasked"}},
        {"name": "b", "securityContext": {"procMount": "Default"}}
    ]}});
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"procMount (container "a" must not set securityContext.procMount to "Unmasked")"#
    );
    // The user-namespace relaxation is behind an alpha feature gate.
    let relaxed = CheckOptions { relax_policy_for_user_namespace_pods: true };
    let r = AggregateCheckResult::new(&check_pod_with(lv("baseline:latest"), &pod["metadata"], &pod["spec"], &relaxed));
    assert!(r.allowed);
}

#[test]
fn app_armor() {
    let pod = json!({
        "metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/b": "localhost/x",
            "container.apparmor.security.beta.kubernetes.io/c": "runtime/default"
        }},
        "spec": {
            "securityContext": {"appArmorProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}]
        }
    });
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined"")"#
    );
    let pod = json!({"spec": {"containers": [{"name": "x", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]}});
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"forbidden AppArmor profile (container "x" must not set AppArmor profile type to "Unconfined")"#
    );
}

#[test]
fn selinux_options_and_container_engine_t_from_v1_31() {
    let pod = json!({"spec": {
        "securityContext": {"seLinuxOptions": {"type": "foo", "user": "u"}},
        "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "bar", "role": "r"}}}]
    }});
    assert_eq!(
        detail("baseline:latest", &pod),
        r#"seLinuxOptions (pod and container "a" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)"#
    );
    let pod = json!({"spec": {"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}});
    assert_eq!(
        detail("baseline:v1.30", &pod),
        r#"seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "container_engine_t")"#
    );
    assert!(eval("baseline:v1.31", &pod).allowed);
    assert!(eval("baseline:latest", &pod).allowed);
}

#[test]
fn sysctls_by_version() {
    let pod = |name: &str| json!({"spec": {"securityContext": {"sysctls": [{"name": name, "value": "1"}]}}});
    assert_eq!(detail("baseline:latest", &pod("kernel.msgmax")), "forbidden sysctls (kernel.msgmax)");
    assert!(eval("baseline:latest", &pod("net.ipv4.ping_group_range")).allowed);
    assert!(!eval("baseline:v1.26", &pod("net.ipv4.ip_local_reserved_ports")).allowed);
    assert!(eval("baseline:v1.27", &pod("net.ipv4.ip_local_reserved_ports")).allowed);
    assert!(!eval("baseline:v1.28", &pod("net.ipv4.tcp_keepalive_time")).allowed);
    assert!(eval("baseline:v1.29", &pod("net.ipv4.tcp_keepalive_time")).allowed);
    assert_eq!(detail("baseline:v1.31", &pod("net.ipv4.tcp_rmem")), "forbidden sysctls (net.ipv4.tcp_rmem)");
    assert!(eval("baseline:v1.32", &pod("net.ipv4.tcp_rmem")).allowed);
    assert!(
        eval(
            "restricted:latest",
            &with(restricted_pod(), "/spec/securityContext/sysctls", json!([{"name": "net.ipv4.tcp_wmem"}]))
        )
        .allowed
    );
}

#[test]
fn latest_and_future_versions_mean_v1_33() {
    assert_eq!(check_ids(lv("restricted:latest")), check_ids(lv("restricted:v1.33")));
    assert_eq!(check_ids(lv("restricted:v1.99")), check_ids(lv("restricted:v1.32")));
    assert_eq!(
        check_ids(lv("restricted:latest")),
        [
            "appArmorProfile",
            "hostNamespaces",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "sysctls",
            "windowsHostProcess",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "runAsUser",
            "seccompProfile_restricted",
        ]
    );
    assert_eq!(
        check_ids(lv("baseline:v1.0")),
        [
            "appArmorProfile",
            "capabilities_baseline",
            "hostNamespaces",
            "hostPathVolumes",
            "hostPorts",
            "privileged",
            "procMount",
            "seLinuxOptions",
            "seccompProfile_baseline",
            "sysctls",
            "windowsHostProcess",
        ]
    );
    assert!(check_ids(lv("privileged:latest")).is_empty());
}

#[test]
fn mistyped_fields_never_panic_and_fail_closed() {
    let odd = [
        json!(null),
        json!(1),
        json!(-1.5),
        json!("x"),
        json!([1, "a", null]),
        json!({}),
        json!(true),
        json!({"a": 1}),
    ];
    let paths = [
        "/metadata",
        "/metadata/annotations",
        "/spec",
        "/spec/securityContext",
        "/spec/securityContext/seccompProfile",
        "/spec/securityContext/sysctls",
        "/spec/securityContext/runAsUser",
        "/spec/securityContext/seLinuxOptions",
        "/spec/containers",
        "/spec/containers/0",
        "/spec/containers/0/name",
        "/spec/containers/0/ports",
        "/spec/containers/0/securityContext",
        "/spec/containers/0/securityContext/capabilities",
        "/spec/containers/0/securityContext/capabilities/add",
        "/spec/containers/0/securityContext/allowPrivilegeEscalation",
        "/spec/volumes",
        "/spec/os",
        "/spec/hostNetwork",
    ];
    for path in paths {
        for v in &odd {
            let mut pod = restricted_pod();
            pod["spec"]["containers"][0]["ports"] = json!([{"hostPort": 0}]);
            let pod = if let Some(t) = pod.pointer_mut(path) {
                *t = v.clone();
                pod
            } else {
                with(pod, path, v.clone())
            };
            for level in ["baseline:latest", "restricted:latest", "restricted:v1.0", "baseline:v1.18"] {
                let _ = eval(level, &pod);
            }
        }
    }
    // A mistyped allowPrivilegeEscalation is not "false".
    let pod = with(restricted_pod(), "/spec/containers/0/securityContext/allowPrivilegeEscalation", json!("false"));
    assert!(!eval("restricted:latest", &pod).allowed);
    // Non-object inputs evaluate as empty pods.
    for v in &odd {
        let _ = check_pod(lv("restricted:latest"), v, v);
    }
}
