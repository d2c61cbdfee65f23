//! Built-in admission plugins through kubectl: ServiceAccount (default account, projected
//! token volume, automount opt-out), PodSecurity (enforce and warn labels), Priority,
//! DefaultTolerationSeconds and TaintNodesByCondition.

use e2e::{poll, Cluster};
use serde_json::{json, Value};
use std::time::Duration;

fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.api.kubectl_ok("1.33", &a)).expect("json")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn service_account_admission() {
    let c = Cluster::start_with(&["--enable-admission-plugins=NodeRestriction"]);
    let out = c.api.kubectl("1.33", &["run", "p", "--image=nginx"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "pods \"p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found"
        ),
        "{}",
        stderr(&out)
    );
    c.api.kubectl_ok("1.33", &["create", "serviceaccount", "default"]);
    poll("the account is visible", Duration::from_secs(10), || {
        c.api.kubectl("1.33", &["run", "p", "--image=nginx"]).status.success().then_some(())
    });
    let pod = get_json(&c, &["pod", "p"]);
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    let vol = &pod["spec"]["volumes"][0];
    let name = vol["name"].as_str().expect("volume name");
    assert!(name.starts_with("kube-api-access-"), "{vol}");
    assert_eq!(
        vol["projected"]["sources"],
        json!([
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ])
    );
    assert_eq!(
        pod["spec"]["containers"][0]["volumeMounts"][0],
        json!({"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    );
    // An account that opts out mounts nothing.
    let sa = r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"quiet"},"automountServiceAccountToken":false,
        "imagePullSecrets":[{"name":"registry-creds"}]}"#;
    assert!(c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(sa)).status.success());
    poll("quiet account visible", Duration::from_secs(10), || {
        c.api
            .kubectl(
                "1.33",
                &["run", "q", "--image=nginx", "--overrides={\"spec\":{\"serviceAccountName\":\"quiet\"}}"],
            )
            .status
            .success()
            .then_some(())
    });
    let pod = get_json(&c, &["pod", "q"]);
    assert!(pod["spec"].get("volumes").is_none_or(|v| v.as_array().is_some_and(|a| a.is_empty())), "{pod}");
    // ... and its pull secrets come from the account.
    assert_eq!(pod["spec"]["imagePullSecrets"], json!([{"name": "registry-creds"}]));
}

const PRIVILEGED: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  containers:
  - name: c
    image: nginx
    securityContext: {privileged: true}
"#;

#[test]
fn pod_security_enforce_and_warn() {
    let c = Cluster::start();
    c.api.kubectl_ok("1.33", &["create", "namespace", "locked"]);
    c.api.kubectl_ok("1.33", &["label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted"]);
    let out = c.api.kubectl_stdin("1.33", &["create", "-n", "locked", "-f", "-"], Some(PRIVILEGED));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "pods \"priv\" is forbidden: violates PodSecurity \"restricted:latest\": privileged (container \"c\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        ),
        "{}",
        stderr(&out)
    );
    // Workloads are not enforced, only warned about.
    let out = c.api.kubectl("1.33", &["create", "deployment", "web", "--image=nginx", "-n", "locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Warning: would violate PodSecurity \"restricted:latest\""), "{}", stderr(&out));
    // warn gives warnings and admits.
    c.api.kubectl_ok("1.33", &["create", "namespace", "warned"]);
    c.api.kubectl_ok("1.33", &["label", "namespace", "warned", "pod-security.kubernetes.io/warn=baseline"]);
    let out = c.api.kubectl_stdin("1.33", &["create", "-n", "warned", "-f", "-"], Some(PRIVILEGED));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Warning: would violate PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"),
        "{}",
        stderr(&out)
    );
    // Labelling a namespace whose pods would be rejected warns about them.
    let out = c.api.kubectl("1.33", &["label", "namespace", "warned", "pod-security.kubernetes.io/enforce=baseline"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "existing pods in namespace \"warned\" violate the new PodSecurity enforce level \"baseline:latest\""
        ),
        "{}",
        stderr(&out)
    );
    // Invalid levels are refused.
    let out = c
        .api
        .kubectl("1.33", &["label", "namespace", "warned", "--overwrite", "pod-security.kubernetes.io/enforce=bogus"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("must be one of privileged, baseline, restricted"), "{}", stderr(&out));
}

#[test]
fn priority_tolerations_and_node_taints() {
    let c = Cluster::start();
    poll("system priority classes exist", Duration::from_secs(30), || {
        c.api
            .kubectl("1.33", &["get", "priorityclass", "system-node-critical", "system-cluster-critical"])
            .status
            .success()
            .then_some(())
    });
    c.api.kubectl_ok("1.33", &["run", "plain", "--image=nginx"]);
    let pod = get_json(&c, &["pod", "plain"]);
    assert_eq!(pod["spec"]["priority"], 0);
    assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(
        pod["spec"]["tolerations"],
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );
    c.api.kubectl_ok(
        "1.33",
        &[
            "run",
            "critical",
            "--image=nginx",
            "-n",
            "kube-system",
            "--overrides={\"spec\":{\"priorityClassName\":\"system-cluster-critical\"}}",
        ],
    );
    assert_eq!(get_json(&c, &["pod", "critical", "-n", "kube-system"])["spec"]["priority"], 2_000_000_000);
    let out = c
        .api
        .kubectl("1.33", &["run", "x", "--image=nginx", "--overrides={\"spec\":{\"priorityClassName\":\"nope\"}}"]);
    assert!(
        stderr(&out).contains("pods \"x\" is forbidden: no PriorityClass with name nope was found"),
        "{}",
        stderr(&out)
    );
    // A new node starts tainted not-ready.
    let node = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}"#;
    assert!(c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(node)).status.success());
    assert_eq!(
        get_json(&c, &["node", "n1"])["spec"]["taints"],
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    );
}

#[test]
fn limit_ranger_and_resource_quota() {
    let c = Cluster::start();
    let lr = r#"{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits"},"spec":{"limits":[{"type":"Container",
        "default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"},"max":{"cpu":"1"}}]}}"#;
    assert!(c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(lr)).status.success());
    // The LimitRange reaches the admission plugins through the watch cache: retry until a pod
    // is admitted with its defaults.
    poll("defaults applied", Duration::from_secs(10), || {
        if !c.api.kubectl("1.33", &["run", "a", "--image=nginx"]).status.success() {
            return None;
        }
        let pod = get_json(&c, &["pod", "a"]);
        if pod["spec"]["containers"][0]["resources"].as_object().is_none_or(|r| r.is_empty()) {
            c.api.kubectl_ok("1.33", &["delete", "pod", "a", "--grace-period=0", "--force"]);
            return None;
        }
        Some(())
    });
    let pod = get_json(&c, &["pod", "a"]);
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    assert_eq!(
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a"
    );
    let big = r#"{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"limits":{"cpu":"2"}}}]}}"#;
    let out = c.api.kubectl("1.33", &["run", "big", "--image=nginx", &format!("--overrides={big}")]);
    assert!(
        stderr(&out).contains("pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"),
        "{}",
        stderr(&out)
    );
    c.api.kubectl_ok("1.33", &["delete", "limitrange", "limits"]);

    // ResourceQuota: a quota counts once its status lists what it constrains (the quota
    // controller's job; set by hand here, as no controller-manager runs).
    c.api.kubectl_ok("1.33", &["create", "namespace", "q"]);
    c.api.kubectl_ok("1.33", &["create", "quota", "compute", "-n", "q", "--hard=pods=2,requests.cpu=1"]);
    let status = r#"{"status":{"hard":{"pods":"2","requests.cpu":"1"},"used":{"pods":"0","requests.cpu":"0"}}}"#;
    c.api.kubectl_ok(
        "1.33",
        &["patch", "quota", "compute", "-n", "q", "--subresource=status", "--type=merge", "-p", status],
    );
    let run = |name: &str, cpu: Option<&str>| {
        let over = match cpu {
            Some(cpu) => format!(
                r#"{{"spec":{{"containers":[{{"name":"{name}","image":"nginx","resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}}}}"#
            ),
            None => "{}".to_string(),
        };
        c.api.kubectl("1.33", &["run", name, "-n", "q", "--image=nginx", &format!("--overrides={over}")])
    };
    let out = poll("the quota applies", Duration::from_secs(10), || {
        let out = run("nocpu", None);
        (!out.status.success()).then_some(out)
    });
    assert!(
        stderr(&out)
            .contains("pods \"nocpu\" is forbidden: failed quota: compute: must specify requests.cpu for: nocpu"),
        "{}",
        stderr(&out)
    );
    assert!(run("p1", Some("600m")).status.success());
    let out = run("p2", Some("600m"));
    assert!(
        stderr(&out).contains("pods \"p2\" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1"),
        "{}",
        stderr(&out)
    );
    let quota = get_json(&c, &["quota", "compute", "-n", "q"]);
    assert_eq!(quota["status"]["used"], json!({"pods": "1", "requests.cpu": "600m"}));
    assert!(run("p3", Some("400m")).status.success());
    let out = run("p4", Some("1m"));
    assert!(stderr(&out).contains("exceeded quota: compute, requested: pods=1,requests.cpu=1m, used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1"), "{}", stderr(&out));
}

#[test]
fn pod_security_cluster_defaults_from_the_admission_config_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("podsecurity.yaml"),
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: baseline\n  enforce-version: latest\nexemptions:\n  namespaces: [exempt]\n",
    )
    .expect("write");
    let cfg = dir.path().join("admission.yaml");
    std::fs::write(
        &cfg,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: podsecurity.yaml\n",
    )
    .expect("write");
    let c = Cluster::start_with(&[&format!("--admission-control-config-file={}", cfg.display())]);
    let out = c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(PRIVILEGED));
    assert!(
        stderr(&out).contains("pods \"priv\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"),
        "{}",
        stderr(&out)
    );
    c.api.kubectl_ok("1.33", &["create", "namespace", "exempt"]);
    let out = c.api.kubectl_stdin("1.33", &["create", "-n", "exempt", "-f", "-"], Some(PRIVILEGED));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// ResourceQuota scopes: a pod is charged to, and constrained by, only the quotas whose scopes
/// all select it (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
/// CrossNamespacePodAffinity), at create and when an update sets an active deadline.
#[test]
fn resource_quota_scopes_select_pods() {
    let c = Cluster::start();
    c.api.kubectl_ok("1.33", &["create", "namespace", "qs"]);
    c.api.kubectl_ok("1.33", &["create", "priorityclass", "high", "--value=1000"]);
    let quotas = [
        ("term", json!({"scopes": ["Terminating"]}), "1"),
        ("notterm", json!({"scopes": ["NotTerminating"]}), "10"),
        ("be", json!({"scopes": ["BestEffort"]}), "10"),
        ("nbe", json!({"scopes": ["NotBestEffort"]}), "10"),
        (
            "pc",
            json!({"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}),
            "10",
        ),
        (
            "nopc",
            json!({"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]}}),
            "10",
        ),
        ("xns", json!({"scopes": ["CrossNamespacePodAffinity"]}), "10"),
        ("all", json!({}), "100"),
    ];
    for (name, scopes, pods) in &quotas {
        let mut q = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": "qs"}, "spec": {"hard": {"pods": pods}}});
        for (k, v) in scopes.as_object().unwrap() {
            q["spec"][k] = v.clone();
        }
        let out = c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(&q.to_string()));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let status = json!({"status": {"hard": {"pods": pods}, "used": {"pods": "0"}}}).to_string();
        c.api.kubectl_ok(
            "1.33",
            &["patch", "quota", name, "-n", "qs", "--subresource=status", "--type=merge", "-p", &status],
        );
    }
    // Admission reads quotas from the watch cache: wait until it holds every status.
    poll("the cache has the quotas' status", Duration::from_secs(10), || {
        let out = c.api.kubectl_ok("1.33", &["get", "--raw", "/api/v1/namespaces/qs/resourcequotas?resourceVersion=0"]);
        let list: Value = serde_json::from_str(&out).ok()?;
        let items = list["items"].as_array()?;
        (items.len() == quotas.len() && items.iter().all(|q| q["status"]["hard"]["pods"].is_string())).then_some(())
    });
    let pod = |name: &str, spec: Value| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "qs"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        for (k, v) in spec.as_object().unwrap() {
            p["spec"][k] = v.clone();
        }
        c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(&p.to_string()))
    };
    let requests = json!([{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}]);
    let affinity = json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
        "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "namespaces": ["other"], "labelSelector": {"matchLabels": {"a": "b"}}}}]}});
    // (pod, spec, the quotas that select it)
    let cases = [
        ("long", json!({}), vec!["notterm", "be", "nopc", "all"]),
        ("deadline", json!({"activeDeadlineSeconds": 60, "containers": requests}), vec!["term", "nbe", "nopc", "all"]),
        ("high", json!({"priorityClassName": "high"}), vec!["notterm", "be", "pc", "all"]),
        ("xns", json!({"affinity": affinity}), vec!["notterm", "be", "nopc", "xns", "all"]),
    ];
    let mut expected: std::collections::BTreeMap<&str, i64> = quotas.iter().map(|(n, _, _)| (*n, 0)).collect();
    for (name, spec, selecting) in &cases {
        let out = pod(name, spec.clone());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        for q in selecting {
            *expected.get_mut(q).unwrap() += 1;
        }
    }
    let used = || -> std::collections::BTreeMap<String, i64> {
        let list = get_json(&c, &["quota", "-n", "qs"]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                let n = q["metadata"]["name"].as_str().unwrap().to_string();
                (n, q["status"]["used"]["pods"].as_str().unwrap().parse().unwrap())
            })
            .collect()
    };
    let want: std::collections::BTreeMap<String, i64> = expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(used(), want);

    // The Terminating quota is full: another terminating pod is refused by it alone, while a
    // long-running one is admitted.
    poll("the cache has the charges", Duration::from_secs(10), || {
        let out =
            c.api.kubectl_ok("1.33", &["get", "--raw", "/api/v1/namespaces/qs/resourcequotas/term?resourceVersion=0"]);
        let q: Value = serde_json::from_str(&out).ok()?;
        (q["status"]["used"]["pods"] == "1").then_some(())
    });
    let out = pod("deadline2", json!({"activeDeadlineSeconds": 30}));
    assert!(
        stderr(&out).contains(
            "pods \"deadline2\" is forbidden: exceeded quota: term, requested: pods=1, used: pods=1, limited: pods=1"
        ),
        "{}",
        stderr(&out)
    );
    let out = pod("long2", json!({}));
    assert!(out.status.success(), "{}", stderr(&out));
    // Setting an active deadline on a running pod charges the Terminating quota, which is full.
    let out = c.api.kubectl(
        "1.33",
        &["patch", "pod", "long2", "-n", "qs", "--type=merge", "-p", r#"{"spec":{"activeDeadlineSeconds":100}}"#],
    );
    assert!(stderr(&out).contains("exceeded quota: term"), "{}", stderr(&out));
}
