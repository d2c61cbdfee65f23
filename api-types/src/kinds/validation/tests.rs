use super::*;
use serde_json::json;

fn rd(group: &str, kind: &str) -> &'static ResourceDef {
    crate::resources().iter().find(|r| r.group == group && r.kind == kind).expect("resource")
}

fn msgs(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "resources": {}
    })
}

fn pod_spec(containers: Vec<Value>) -> Value {
    json!({
        "containers": containers,
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "securityContext": {}
    })
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

fn pod_errs(spec: Value) -> Vec<String> {
    msgs(&validate(rd("", "Pod"), &pod(spec), None))
}

#[test]
fn valid_pod_passes() {
    let mut c = container("web", "nginx");
    c["ports"] = json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]);
    c["env"] = json!([{"name": "A", "value": "b"}, {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]);
    c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    c["resources"] = json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}});
    let mut spec = pod_spec(vec![c]);
    spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
    assert_eq!(pod_errs(spec), Vec::<String>::new());
}

#[test]
fn pod_containers_required() {
    assert_eq!(pod_errs(pod_spec(vec![])), vec!["spec.containers: Required value"]);
}

#[test]
fn pod_container_name_and_image() {
    let errs = pod_errs(pod_spec(vec![container("web", ""), container("web", "nginx")]));
    assert_eq!(
        errs,
        vec!["spec.containers[0].image: Required value", "spec.containers[1].name: Duplicate value: \"web\""]
    );
    let errs = pod_errs(pod_spec(vec![container("Web_1", "nginx")]));
    assert_eq!(
        errs,
        vec!["spec.containers[0].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    );
    let errs = pod_errs(pod_spec(vec![container("", "nginx")]));
    assert_eq!(errs, vec!["spec.containers[0].name: Required value"]);
}

#[test]
fn pod_ports() {
    let mut c = container("web", "nginx");
    c["ports"] = json!([
        {"containerPort": 70000, "protocol": "TCP"},
        {"containerPort": 0, "protocol": "HTTP", "name": "Bad_Name"},
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 81, "protocol": "TCP", "name": "http"}
    ]);
    let errs = pod_errs(pod_spec(vec![c]));
    assert_eq!(
        errs,
        vec![
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].name: Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[1].containerPort: Required value",
            "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[3].name: Duplicate value: \"http\"",
        ]
    );
}

#[test]
fn pod_policies() {
    let mut spec = pod_spec(vec![container("web", "nginx")]);
    spec["restartPolicy"] = json!("Sometimes");
    spec["dnsPolicy"] = json!("Bogus");
    assert_eq!(
        pod_errs(spec),
        vec![
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ]
    );
    let mut spec = pod_spec(vec![container("web", "nginx")]);
    spec["containers"][0]["imagePullPolicy"] = json!("Sometimes");
    assert_eq!(
        pod_errs(spec),
        vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""]
    );
}

#[test]
fn pod_volumes() {
    let mut c = container("web", "nginx");
    c["volumeMounts"] = json!([{"name": "missing", "mountPath": "/a"}, {"name": "a", "mountPath": "/a"}]);
    let mut spec = pod_spec(vec![c]);
    spec["volumes"] = json!([
        {"name": "a", "emptyDir": {}},
        {"name": "a", "emptyDir": {}},
        {"name": "b"},
        {"name": "c", "emptyDir": {}, "hostPath": {"path": "/x"}}
    ]);
    assert_eq!(
        pod_errs(spec),
        vec![
            "spec.volumes[1].name: Duplicate value: \"a\"",
            "spec.volumes[2]: Required value: must specify a volume type",
            "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
        ]
    );
}

#[test]
fn pod_env_and_resources() {
    let mut c = container("web", "nginx");
    c["env"] = json!([{"name": ""}, {"name": "A=B"}, {"name": "X", "valueFrom": {}}]);
    c["resources"] = json!({"requests": {"cpu": "2", "memory": "-1"}, "limits": {"cpu": "1"}});
    let errs = pod_errs(pod_spec(vec![c]));
    assert_eq!(
        errs,
        vec![
            "spec.containers[0].env[0].name: Required value",
            "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].env[2].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
        ]
    );
    let mut c = container("web", "nginx");
    c["resources"] = json!({"limits": {"foo": "1"}});
    assert_eq!(
        pod_errs(pod_spec(vec![c])),
        vec![
            "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource type or fully qualified",
            "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource for containers",
        ]
    );
}

#[test]
fn pod_probes_and_tolerations() {
    let mut c = container("web", "nginx");
    c["livenessProbe"] =
        json!({"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 2, "failureThreshold": 3});
    let mut spec = pod_spec(vec![c]);
    spec["tolerations"] =
        json!([{"key": "k", "operator": "Exists", "value": "v"}, {"operator": "Equal", "effect": "Bad"}]);
    assert_eq!(
        pod_errs(spec),
        vec![
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
            "spec.tolerations[1].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[1].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
        ]
    );
}

#[test]
fn pod_create_rules() {
    let mut spec = pod_spec(vec![container("web", " nginx")]);
    spec["terminationGracePeriodSeconds"] = Value::Null;
    assert_eq!(
        pod_errs(spec),
        vec![
            "spec.terminationGracePeriodSeconds: Required value",
            "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
        ]
    );
}

#[test]
fn pod_update() {
    let old = pod(pod_spec(vec![container("web", "nginx")]));
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("nginx:2");
    new["spec"]["activeDeadlineSeconds"] = json!(30);
    new["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    assert_eq!(msgs(&validate(rd("", "Pod"), &new, Some(&old))), Vec::<String>::new());
    let mut bad = old.clone();
    bad["spec"]["restartPolicy"] = json!("Never");
    let errs = msgs(&validate(rd("", "Pod"), &bad, Some(&old)));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"), "{}", errs[0]);
    let mut more = old.clone();
    more["spec"]["containers"] = json!([container("web", "nginx"), container("b", "x")]);
    assert_eq!(
        msgs(&validate(rd("", "Pod"), &more, Some(&old))),
        vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
    );
}

fn service(spec: Value) -> Value {
    json!({"metadata": {"name": "s", "namespace": "default"}, "spec": spec})
}

fn svc_spec() -> Value {
    json!({
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    })
}

#[test]
fn service_rules() {
    let r = rd("", "Service");
    assert_eq!(msgs(&validate(r, &service(svc_spec()), None)), Vec::<String>::new());
    let mut s = svc_spec();
    s["ports"] = json!([{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 0, "protocol": "TCP", "targetPort": "x_y"}]);
    assert_eq!(
        msgs(&validate(r, &service(s), None)),
        vec![
            "spec.ports[1].name: Required value",
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[1].targetPort: Invalid value: \"x_y\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ]
    );
    let mut s = svc_spec();
    s["type"] = json!("Bogus");
    s["ports"] = json!([{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}]);
    assert_eq!(
        msgs(&validate(r, &service(s), None)),
        vec!["spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]
    );
    let mut s = svc_spec();
    s["ports"] = json!([{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}]);
    assert_eq!(
        msgs(&validate(r, &service(s), None)),
        vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    );
    let s = json!({"type": "ExternalName", "sessionAffinity": "None"});
    assert_eq!(msgs(&validate(r, &service(s), None)), vec!["spec.externalName: Required value"]);
    let mut s = svc_spec();
    s["clusterIP"] = json!("abc");
    assert_eq!(
        msgs(&validate(r, &service(s), None)),
        vec![
            "spec.clusterIPs[0]: Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        ]
    );
    let mut s = svc_spec();
    s["clusterIP"] = json!("None");
    s["ports"] = json!([]);
    assert_eq!(msgs(&validate(r, &service(s), None)), Vec::<String>::new());
}

#[test]
fn service_update_cluster_ip_immutable() {
    let r = rd("", "Service");
    let mut s = svc_spec();
    s["clusterIP"] = json!("10.0.0.1");
    s["clusterIPs"] = json!(["10.0.0.1"]);
    let old = service(s);
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.0.0.2");
    assert_eq!(
        msgs(&validate(r, &new, Some(&old))),
        vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.2\"}: may not change once set"]
    );
}

fn deployment(selector: Value, labels: Value) -> Value {
    json!({
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": selector,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(vec![container("web", "nginx")])},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        }
    })
}

#[test]
fn deployment_rules() {
    let r = rd("apps", "Deployment");
    let ok = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "a"}));
    assert_eq!(msgs(&validate(r, &ok, None)), Vec::<String>::new());
    let bad = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "b"}));
    assert_eq!(
        msgs(&validate(r, &bad, None)),
        vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`"]
    );
    let none = deployment(Value::Null, json!({"app": "b"}));
    assert_eq!(
        msgs(&validate(r, &none, None)),
        vec![
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`",
        ]
    );
    let empty = deployment(json!({}), json!({"app": "b"}));
    assert_eq!(
        msgs(&validate(r, &empty, None)),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    );
    let mut d = ok.clone();
    d["spec"]["replicas"] = json!(-1);
    d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    d["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
    assert_eq!(
        msgs(&validate(r, &d, None)),
        vec![
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ]
    );
    let mut upd = ok.clone();
    upd["spec"]["selector"] = json!({"matchLabels": {"app": "b"}});
    upd["spec"]["template"]["metadata"]["labels"] = json!({"app": "b"});
    assert_eq!(
        msgs(&validate(r, &upd, Some(&ok))),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
    );
}

#[test]
fn statefulset_rules() {
    let r = rd("apps", "StatefulSet");
    let sts = json!({
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "serviceName": "s",
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(vec![container("web", "nginx")])},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10
        }
    });
    assert_eq!(msgs(&validate(r, &sts, None)), Vec::<String>::new());
    let mut upd = sts.clone();
    upd["spec"]["replicas"] = json!(3);
    assert_eq!(msgs(&validate(r, &upd, Some(&sts))), Vec::<String>::new());
    upd["spec"]["serviceName"] = json!("other");
    assert_eq!(
        msgs(&validate(r, &upd, Some(&sts))),
        vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
    );
    let mut bad = sts.clone();
    bad["spec"]["podManagementPolicy"] = json!("Whenever");
    assert_eq!(
        msgs(&validate(r, &bad, None)),
        vec!["spec.podManagementPolicy: Invalid value: \"Whenever\": must be 'OrderedReady' or 'Parallel'"]
    );
}

#[test]
fn daemonset_and_replicaset() {
    let ds = json!({
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(vec![container("web", "nginx")])},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "revisionHistoryLimit": 10
        }
    });
    assert_eq!(msgs(&validate(rd("apps", "DaemonSet"), &ds, None)), Vec::<String>::new());
    let rs = json!({
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec(vec![container("web", "nginx")])}}
    });
    assert_eq!(
        msgs(&validate(rd("apps", "ReplicaSet"), &rs, None)),
        vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"]
    );
}

fn job(restart: &str) -> Value {
    let mut spec = pod_spec(vec![container("c", "busybox")]);
    spec["restartPolicy"] = json!(restart);
    json!({
        "metadata": {"name": "j", "namespace": "default", "uid": "u1"},
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": false,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {
                "metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "j", "controller-uid": "u1", "job-name": "j"}},
                "spec": spec
            }
        }
    })
}

#[test]
fn job_rules() {
    let r = rd("batch", "Job");
    assert_eq!(msgs(&validate(r, &job("Never"), None)), Vec::<String>::new());
    assert_eq!(
        msgs(&validate(r, &job("Always"), None)),
        vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
    );
    let mut j = job("Never");
    j["spec"]["parallelism"] = json!(-1);
    j["spec"]["backoffLimit"] = json!(-2);
    assert_eq!(
        msgs(&validate(r, &j, None)),
        vec![
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
        ]
    );
    let old = job("Never");
    let mut upd = old.clone();
    upd["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
    let errs = msgs(&validate(r, &upd, Some(&old)));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("spec.template: Invalid value: core.PodTemplateSpec"), "{}", errs[0]);
    assert!(errs[0].ends_with(": field is immutable"));
}

#[test]
fn cronjob_rules() {
    let r = rd("batch", "CronJob");
    let mk = |schedule: &str| {
        let mut spec = pod_spec(vec![container("c", "busybox")]);
        spec["restartPolicy"] = json!("OnFailure");
        json!({
            "metadata": {"name": "c", "namespace": "default"},
            "spec": {
                "schedule": schedule,
                "concurrencyPolicy": "Allow",
                "suspend": false,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"backoffLimit": 6, "completionMode": "NonIndexed", "template": {"spec": spec}}}
            }
        })
    };
    for ok in ["*/5 * * * *", "@hourly", "@every 1h30m", "0 0 1 jan-mar mon-fri", "0 0 * * 0"] {
        assert_eq!(msgs(&validate(r, &mk(ok), None)), Vec::<String>::new(), "{ok}");
    }
    assert_eq!(msgs(&validate(r, &mk(""), None)), vec!["spec.schedule: Required value"]);
    assert_eq!(
        msgs(&validate(r, &mk("bad"), None)),
        vec!["spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"]
    );
    assert_eq!(
        msgs(&validate(r, &mk("61 * * * *"), None)),
        vec!["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]
    );
    assert_eq!(
        msgs(&validate(r, &mk("TZ=UTC 0 * * * *"), None)),
        vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
    );
    let mut c = mk("@daily");
    c["spec"]["concurrencyPolicy"] = json!("Sometimes");
    assert_eq!(
        msgs(&validate(r, &c, None)),
        vec!["spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""]
    );
}

#[test]
fn configmap_rules() {
    let r = rd("", "ConfigMap");
    let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v", "k": "v"}, "binaryData": {"k": "dg=="}});
    assert_eq!(
        msgs(&validate(r, &cm, None)),
        vec![
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[k]: Invalid value: \"k\": duplicate of key present in binaryData",
        ]
    );
    let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    let new = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
    assert_eq!(
        msgs(&validate(r, &new, Some(&old))),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
    let big = json!({"metadata": {"name": "c"}, "data": {"a": "x".repeat(MAX_SECRET_SIZE + 1)}});
    assert_eq!(msgs(&validate(r, &big, None)), vec!["[]: Too long: may not be more than 1048576 bytes"]);
}

#[test]
fn secret_rules() {
    let r = rd("", "Secret");
    let old = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ=="}});
    let mut new = old.clone();
    new["type"] = json!("kubernetes.io/tls");
    assert_eq!(
        msgs(&validate(r, &new, Some(&old))),
        vec![
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
            "data[tls.crt]: Required value",
            "data[tls.key]: Required value",
        ]
    );
    let sa = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/service-account-token"});
    assert_eq!(
        msgs(&validate(r, &sa, None)),
        vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    );
    let dc = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {}});
    assert_eq!(msgs(&validate(r, &dc, None)), vec!["data[.dockerconfigjson]: Required value"]);
    let ok = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eyJhdXRocyI6e319"}});
    assert_eq!(msgs(&validate(r, &ok, None)), Vec::<String>::new());
}

#[test]
fn namespace_and_node() {
    let ns = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes", "foo"]}});
    assert_eq!(
        msgs(&validate(rd("", "Namespace"), &ns, None)),
        vec!["spec.finalizers: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]
    );
    let node = json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.0.0.0/33"], "taints": [{"key": "k", "effect": "Bad"}]}});
    assert_eq!(
        msgs(&validate(rd("", "Node"), &node, None)),
        vec![
            "metadata.taints[0].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            "spec.podCIDRs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ]
    );
}

#[test]
fn endpoints_and_slices() {
    let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]});
    assert_eq!(
        msgs(&validate(rd("", "Endpoints"), &ep, None)),
        vec!["subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]
    );
    let es = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": [{"addresses": ["fe80::1"]}], "ports": [{"name": "", "port": 80, "protocol": "TCP"}]});
    assert_eq!(
        msgs(&validate(rd("discovery.k8s.io", "EndpointSlice"), &es, None)),
        vec!["endpoints[0].addresses[0]: Invalid value: \"fe80::1\": must be a valid IPv4 address"]
    );
    let mut upd = es.clone();
    upd["addressType"] = json!("IPv6");
    upd["endpoints"] = json!([]);
    assert_eq!(
        msgs(&validate(rd("discovery.k8s.io", "EndpointSlice"), &upd, Some(&es))),
        vec!["addressType: Invalid value: \"IPv6\": field is immutable"]
    );
}

#[test]
fn rbac_rules() {
    let rb = json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}, "subjects": [{"kind": "Robot", "name": "x"}]});
    let r = rd("rbac.authorization.k8s.io", "RoleBinding");
    assert_eq!(
        msgs(&validate(r, &rb, None)),
        vec![
            "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""
        ]
    );
    let old = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}});
    let mut new = old.clone();
    new["roleRef"]["name"] = json!("b");
    assert_eq!(
        msgs(&validate(r, &new, Some(&old))),
        vec!["roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"b\"}: cannot change roleRef"]
    );
    let role = json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
    assert_eq!(
        msgs(&validate(rd("rbac.authorization.k8s.io", "Role"), &role, None)),
        vec!["rules[0].verbs: Required value: verbs must contain at least one value"]
    );
}

#[test]
fn lease_priorityclass_event_csr() {
    let lease = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}});
    assert_eq!(
        msgs(&validate(rd("coordination.k8s.io", "Lease"), &lease, None)),
        vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    );
    let pc = json!({"metadata": {"name": "high"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        msgs(&validate(rd("scheduling.k8s.io", "PriorityClass"), &pc, None)),
        vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    );
    let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
    assert_eq!(
        msgs(&validate(rd("", "Event"), &ev, None)),
        vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
    );
    let csr = json!({"metadata": {"name": "c"}, "spec": {"request": "", "usages": ["bogus"], "signerName": ""}});
    assert_eq!(
        msgs(&validate(rd("certificates.k8s.io", "CertificateSigningRequest"), &csr, None)),
        vec![
            "spec.request: Invalid value: []byte(nil): PEM block type must be CERTIFICATE REQUEST",
            "spec.usages[0]: Unsupported value: \"bogus\": supported values: \"any\", \"cert sign\", \"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", \"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\"",
            "spec.signerName: Required value",
        ]
    );
}

#[test]
fn quantities() {
    let c = |s: &str| Quantity::parse(s).map(|q| q.canonical());
    assert_eq!(c("0.5").as_deref(), Some("500m"));
    assert_eq!(c("1024Mi").as_deref(), Some("1Gi"));
    assert_eq!(c("1.5Gi").as_deref(), Some("1536Mi"));
    assert_eq!(c("1500").as_deref(), Some("1500"));
    assert_eq!(c("2000").as_deref(), Some("2k"));
    assert_eq!(c("1000m").as_deref(), Some("1"));
    assert_eq!(c("100Ki").as_deref(), Some("100Ki"));
    assert_eq!(c("0.5Ki").as_deref(), Some("512"));
    assert_eq!(c("1e3").as_deref(), Some("1e3"));
    assert_eq!(c("0").as_deref(), Some("0"));
    assert!(c("abc").is_none());
    assert!(c("1Zi").is_none());
    let a = Quantity::parse("1Gi").unwrap();
    let b = Quantity::parse("1073741824").unwrap();
    assert_eq!(a.cmp(&b), Ordering::Equal);
    assert_eq!(Quantity::parse("100m").unwrap().cmp(&Quantity::parse("0.1").unwrap()), Ordering::Equal);
    assert_eq!(
        Quantity::parse("1e100").unwrap().cmp(&Quantity::parse("99999999999999999999999999999999Ei").unwrap()),
        Ordering::Greater
    );
}

#[test]
fn validate_pod_spec_is_reusable() {
    let mut spec = pod_spec(vec![container("web", "nginx")]);
    spec["restartPolicy"] = json!("Never");
    let errs = validate_pod_spec(&spec, &P::new("spec").child("template").child("spec"));
    assert!(errs.is_empty(), "{errs:?}");
    let errs = validate_pod_spec(&json!({}), &P::new("spec"));
    assert_eq!(
        msgs(&errs),
        vec![
            "spec.terminationGracePeriodSeconds: Required value",
            "spec.containers: Required value",
            "spec.restartPolicy: Required value",
            "spec.dnsPolicy: Required value",
        ]
    );
}

#[test]
fn realistic_objects_pass() {
    // A pod as the apiserver stores it after admission (service account token volume).
    let mut c = container("app", "registry.k8s.io/pause:3.10");
    c["ports"] = json!([{"containerPort": 8080, "protocol": "TCP"}]);
    c["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
    c["readinessProbe"] = json!({"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
    c["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 5}}});
    c["envFrom"] =
        json!([{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec", "optional": true}, "prefix": "S_"}]);
    c["volumeMounts"] = json!([{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}, {"name": "scratch", "mountPath": "/scratch"}]);
    c["securityContext"] = json!({"runAsUser": 1000, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}});
    let mut sidecar = container("log", "busybox");
    sidecar["restartPolicy"] = json!("Always");
    sidecar["startupProbe"] = json!({"exec": {"command": ["true"]}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
    let mut spec = pod_spec(vec![c]);
    spec["initContainers"] = json!([sidecar]);
    spec["volumes"] = json!([
        {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}
    ]);
    spec["tolerations"] = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
    spec["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}}]}});
    spec["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "x"}}}]);
    spec["dnsConfig"] = json!({"nameservers": ["10.96.0.10"], "searches": ["svc.cluster.local"], "options": [{"name": "ndots", "value": "2"}]});
    spec["priority"] = json!(0);
    spec["enableServiceLinks"] = json!(true);
    assert_eq!(pod_errs(spec), Vec::<String>::new());

    let r = rd("", "Service");
    let np = json!({"metadata": {"name": "s"}, "spec": {
        "type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
        "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "selector": {"app": "x"},
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http", "nodePort": 30080}, {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]
    }});
    assert_eq!(msgs(&validate(r, &np, None)), Vec::<String>::new());
    let lb = json!({"metadata": {"name": "s"}, "spec": {
        "type": "LoadBalancer", "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true,
        "loadBalancerSourceRanges": ["10.0.0.0/8"],
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    }});
    assert_eq!(msgs(&validate(r, &lb, None)), Vec::<String>::new());
    let mut lb2 = lb.clone();
    lb2["spec"]["type"] = json!("ClusterIP");
    assert_eq!(
        msgs(&validate(r, &lb2, None)),
        vec![
            "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
            "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
            "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ]
    );
}

#[test]
fn job_selector_generation() {
    let r = rd("batch", "Job");
    // Not generated yet (no selector, no labels): left to the server.
    let mut j = job("OnFailure");
    j["spec"].as_object_mut().unwrap().remove("selector");
    j["spec"]["template"]["metadata"] = json!({});
    assert_eq!(msgs(&validate(r, &j, None)), Vec::<String>::new());
    // Manual selector without a selector.
    j["spec"]["manualSelector"] = json!(true);
    assert_eq!(
        msgs(&validate(r, &j, None)),
        vec![
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
        ]
    );
    // Generated labels that conflict with user-set ones.
    let mut j = job("Never");
    j["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
    assert_eq!(
        msgs(&validate(r, &j, None)),
        vec!["spec.template.metadata.labels[job-name]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u1\", \"batch.kubernetes.io/job-name\":\"j\", \"controller-uid\":\"u1\", \"job-name\":\"other\"}: must be 'j'"]
    );
}

#[test]
fn regexes_compile() {
    for re in [
        &*PORT_NAME_CHARSET,
        &*CONFIG_MAP_KEY,
        &*HTTP_HEADER_NAME,
        &*PERCENT,
        &*DNS1123_SUB_UNDERSCORE,
        &*ISCSI_IQN,
        &*ISCSI_EUI,
        &*ISCSI_NAA,
        &*CTRL,
        &*NETBIOS,
        &*WIN_DNS,
        &*BAD_USER_CHARS,
        &*DOTS_SPACES,
        &*SYSCTL_NAME,
        &*DOMAIN_PREFIXED_PATH,
        &*TZ_PART,
    ] {
        let _ = re.is_match("x");
    }
    assert!(ISCSI_IQN.is_match("iqn.2015-02.example.com:test"));
    assert!(!ISCSI_IQN.is_match("iqn.2015-02.example.com"));
    assert!(SYSCTL_NAME.is_match("net.ipv4.ip_forward"));
    assert!(SYSCTL_NAME.is_match("kernel/shm_rmid_forced"));
    assert!(!SYSCTL_NAME.is_match("Net.x"));
}

#[test]
fn misc_formats() {
    assert!(parse_cron_standard("@every 90s").is_ok());
    assert_eq!(
        parse_cron_standard("@every 5").unwrap_err(),
        "failed to parse duration @every 5: time: missing unit in duration \"5\""
    );
    assert_eq!(parse_cron_standard("@weird").unwrap_err(), "unrecognized descriptor: @weird");
    assert_eq!(
        parse_cron_standard("x * * * *").unwrap_err(),
        "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
    );
    assert!(parse_cron_standard("CRON_TZ=Europe/Berlin 0 * * * *").is_ok());
    assert_eq!(validate_indexes_format("0-2,5", 10), Ok(4));
    assert!(validate_indexes_format("3,1", 10).is_err());
    assert!(parse_ip_sloppy("010.001.002.003").is_some());
    assert!(parse_ip_sloppy("::ffff:1.2.3.4").is_some());
    assert!(parse_ip_sloppy("1.2.3").is_none());
    assert!(parse_cidr_sloppy("fd00::/64").is_some());
    assert!(parse_cidr_sloppy("10.0.0.0/8/1").is_none());
    assert!(is_dual_stack(&["10.0.0.1", "fd00::1"]));
    assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    let r = rd("batch", "Job");
    let mut j = job("Never");
    j["spec"]["managedBy"] = json!("bad");
    assert_eq!(
        msgs(&validate(r, &j, None)),
        vec!["spec.managedBy: Invalid value: \"bad\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
    );
    let mut spec = pod_spec(vec![container("web", "nginx")]);
    spec["securityContext"] =
        json!({"sysctls": [{"name": "net.core.somaxconn", "value": "1"}, {"name": "Bad", "value": "1"}]});
    spec["hostNetwork"] = json!(true);
    assert_eq!(
        pod_errs(spec),
        vec![
            "spec.securityContext.sysctls[0].name: Invalid value: \"net.core.somaxconn\": may not be specified when 'hostNetwork' is true",
            "spec.securityContext.sysctls[1].name: Invalid value: \"Bad\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
        ]
    );
}

/// Malformed input of every shape must never panic.
#[test]
fn never_panics_on_garbage() {
    let junk = vec![
        Value::Null,
        json!(1),
        json!(-1.5e300),
        json!("x"),
        json!([]),
        json!([1, "a", null, {"a": []}]),
        json!({"a": {"b": 1}}),
        json!(u64::MAX),
    ];
    let keys = [
        "spec",
        "metadata",
        "data",
        "binaryData",
        "type",
        "subsets",
        "endpoints",
        "ports",
        "addressType",
        "roleRef",
        "subjects",
        "rules",
        "value",
        "template",
        "involvedObject",
        "regarding",
        "status",
        "immutable",
        "aggregationRule",
    ];
    let spec_keys = [
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "selector",
        "template",
        "ports",
        "clusterIP",
        "clusterIPs",
        "type",
        "schedule",
        "jobTemplate",
        "replicas",
        "strategy",
        "updateStrategy",
        "podCIDRs",
        "taints",
        "finalizers",
        "request",
        "usages",
        "signerName",
        "leaseDurationSeconds",
        "affinity",
        "tolerations",
        "securityContext",
        "dnsConfig",
        "resources",
        "completions",
        "podFailurePolicy",
        "successPolicy",
        "completionMode",
        "sessionAffinityConfig",
        "topologySpreadConstraints",
        "hostAliases",
        "overhead",
        "os",
        "externalIPs",
        "ipFamilies",
        "minAvailable",
    ];
    for r in crate::resources() {
        for j in &junk {
            let mut obj = json!({"metadata": {"name": "x", "namespace": "y"}});
            for k in keys {
                obj[k] = j.clone();
                let _ = validate(r, &obj, None);
                let _ = validate(r, &obj, Some(&json!({})));
                let _ = validate(r, &json!({}), Some(&obj));
            }
            let mut obj = json!({"metadata": {"name": "x"}, "spec": {}});
            for k in spec_keys {
                obj["spec"][k] = j.clone();
                let _ = validate(r, &obj, None);
                let _ = validate(r, &obj, Some(&obj.clone()));
            }
            // Nested garbage inside containers and volumes.
            let nested = json!({"spec": {
                "containers": [{"name": j, "ports": [j], "env": [{"valueFrom": j}], "resources": {"limits": {"cpu": j}, "requests": j}, "livenessProbe": {"httpGet": j}}],
                "volumes": [{"name": "v", "projected": {"sources": [j]}, "ephemeral": {"volumeClaimTemplate": {"spec": j}}}],
                "template": {"metadata": j, "spec": {"containers": j}},
                "selector": {"matchExpressions": [j, {"operator": j, "values": j}]}
            }});
            let _ = validate(r, &nested, None);
            let _ = validate(r, &nested, Some(&nested));
        }
    }
    for s in [
        "",
        "-",
        ".",
        "1.2.3",
        "+",
        "1e",
        "1e99999999999",
        "99999999999999999999999999999999999999999999Ei",
        "-0.0000000000001",
        "1.5.5",
    ] {
        if let Some(q) = Quantity::parse(s) {
            let _ = q.canonical();
            let _ = q.milli_value();
        }
    }
    for s in [
        "",
        "@every",
        "@every ",
        "TZ=",
        "TZ=UTC",
        "* * * * * *",
        "*/0 * * * *",
        "1-2-3 * * * *",
        "a/b * * * *",
        "99999999999999999999 * * * *",
    ] {
        let _ = parse_cron_standard(s);
    }
}

#[test]
fn ephemeral_containers_are_only_added() {
    let mut old = pod(pod_spec(vec![container("app", "nginx")]));
    old["spec"]["ephemeralContainers"] = json!([container("dbg", "busybox")]);
    let mut added = old.clone();
    added["spec"]["ephemeralContainers"] = json!([container("dbg", "busybox"), container("dbg2", "busybox")]);
    assert!(validate_ephemeral_containers_update(&added, &old).is_empty());
    let mut removed = old.clone();
    removed["spec"]["ephemeralContainers"] = json!([]);
    assert_eq!(
        msgs(&validate_ephemeral_containers_update(&removed, &old)),
        vec!["spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be removed\n"]
    );
    let mut changed = old.clone();
    changed["spec"]["ephemeralContainers"] = json!([container("dbg", "alpine")]);
    let e = msgs(&validate_ephemeral_containers_update(&changed, &old));
    assert!(
        e[0].starts_with(
            "spec.ephemeralContainers[dbg]: Forbidden: existing ephemeral containers \"dbg\" may not be changed\n"
        ),
        "{e:?}"
    );
    let mut clash = old.clone();
    clash["spec"]["ephemeralContainers"] = json!([container("dbg", "busybox"), container("app", "busybox")]);
    assert!(!validate_ephemeral_containers_update(&clash, &old).is_empty());
    let mut mirror = old.clone();
    mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    assert_eq!(
        msgs(&validate_ephemeral_containers_update(&added, &mirror)),
        vec!["[]: Forbidden: static pods do not support ephemeral containers"]
    );
}
