//! JSON -> protobuf -> JSON for realistic objects of the kinds kubectl creates and a few more.

use serde_json::{json, Value};

/// Properties set to `null` are unset: decoding never produces them.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), strip_nulls(x))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The JSON without `apiVersion`/`kind` (the envelope's business, not the message's).
fn body(v: &Value) -> Value {
    let mut v = strip_nulls(v);
    if let Value::Object(m) = &mut v {
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

fn round_trip(definition: &str, v: &Value) -> Value {
    let bytes = kproto::encode(definition, v).unwrap_or_else(|e| panic!("encode {definition}: {e}"));
    let back = kproto::decode(definition, &bytes).unwrap_or_else(|e| panic!("decode {definition}: {e}"));
    assert_eq!(back, body(v), "{definition}: round trip\n{back:#}");
    // With the envelope, apiVersion and kind come back too.
    let (av, kind) = (v["apiVersion"].as_str().unwrap_or("v1"), v["kind"].as_str().unwrap_or("X"));
    let env = kproto::encode_object(av, kind, definition, v).unwrap();
    let mut want = body(v);
    want["apiVersion"] = json!(av);
    want["kind"] = json!(kind);
    assert_eq!(kproto::decode_object_as(&env, definition).unwrap(), want);
    back
}

fn meta(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": "default",
        "uid": "6f1c1c7e-8a42-4c59-9e8e-1e0d0c0b0a09",
        "resourceVersion": "12345",
        "generation": 2,
        "creationTimestamp": "2024-05-06T07:08:09Z",
        "labels": {"app": name, "tier": "web"},
        "annotations": {"note": "", "deployment.kubernetes.io/revision": "1"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1", "controller": true, "blockOwnerDeletion": true}],
        "finalizers": ["example.com/keep"],
        "managedFields": [{
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-05-06T07:08:09Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        }],
    })
}

#[test]
fn namespace() {
    round_trip(
        "io.k8s.api.core.v1.Namespace",
        &json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "uid": "x", "resourceVersion": "7", "creationTimestamp": "2024-01-02T03:04:05Z",
                         "labels": {"kubernetes.io/metadata.name": "team-a"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active", "conditions": [{"type": "NamespaceDeletionDiscoveryFailure", "status": "False",
                       "lastTransitionTime": "2024-01-02T03:04:05Z", "reason": "ResourcesDiscovered", "message": "All resources successfully discovered"}]},
        }),
    );
}

#[test]
fn configmap_and_secret() {
    round_trip(
        "io.k8s.api.core.v1.ConfigMap",
        &json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm"),
            "data": {"app.properties": "a=b\nc=d\n", "empty": ""},
            "binaryData": {"blob": "AAEC/w==", "none": ""},
            // A pointer: an explicit false is kept.
            "immutable": false,
        }),
    );
    round_trip(
        "io.k8s.api.core.v1.Secret",
        &json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "c2VjcmV0"},
            "immutable": true,
        }),
    );
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "args": ["--port", "80"],
                        "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "failureThreshold": 3},
                        "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent",
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                    "automountServiceAccountToken": false,
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                },
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {
            "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2024-05-06T07:08:19Z",
                            "lastTransitionTime": "2024-05-06T07:08:19Z", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}],
        },
    })
}

#[test]
fn deployment_round_trips() {
    let back = round_trip("io.k8s.api.apps.v1.Deployment", &deployment());
    assert_eq!(back["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    assert_eq!(back["spec"]["template"]["spec"]["securityContext"], json!({}));
}

#[test]
fn service_round_trips() {
    round_trip(
        "io.k8s.api.core.v1.Service",
        &json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "default"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 30443, "appProtocol": "https"},
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10", "fd00::10"],
                "type": "NodePort",
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "externalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4", "IPv6"],
                "ipFamilyPolicy": "PreferDualStack",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": false,
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ports": [{"port": 80, "protocol": "TCP"}]}]}},
        }),
    );
}

#[test]
fn pod_round_trips() {
    round_trip(
        "io.k8s.api.core.v1.Pod",
        &json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": meta("pod"),
            "spec": {
                "volumes": [
                    {"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420, "items": [{"key": "a", "path": "a.txt"}]}},
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}], "defaultMode": 420}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
                ],
                "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"], "restartPolicy": "Always"}],
                "containers": [{
                    "name": "app", "image": "app:1",
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": true}],
                    "securityContext": {"runAsNonRoot": false, "runAsUser": 0, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                    "startupProbe": {"grpc": {"port": 9000, "service": ""}, "failureThreshold": 30},
                }],
                "securityContext": {"fsGroup": 2000, "supplementalGroups": [1, 2, 3], "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
                "nodeName": "node-1",
                "serviceAccountName": "default",
                "priority": 0,
                "enableServiceLinks": true,
                "overhead": {"cpu": "250m"},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "pod"}}}],
            },
            "status": {
                "phase": "Running",
                "hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}],
                "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                "startTime": "2024-05-06T07:08:09Z",
                "qosClass": "BestEffort",
                "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T07:08:12Z"}],
                "containerStatuses": [{
                    "name": "app", "ready": true, "restartCount": 0, "image": "app:1", "imageID": "sha256:abc", "containerID": "containerd://123",
                    "started": true,
                    "state": {"running": {"startedAt": "2024-05-06T07:08:10Z"}},
                    "lastState": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-05-06T07:00:00Z", "finishedAt": "2024-05-06T07:01:00Z"}},
                }],
            },
        }),
    );
}

#[test]
fn events_with_micro_time() {
    let back = round_trip(
        "io.k8s.api.events.v1.Event",
        &json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "pod.17c", "namespace": "default"},
            "eventTime": "2024-05-06T07:08:09.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-05-06T07:09:09.000001Z"},
            "reportingController": "kubelet", "reportingInstance": "node-1",
            "action": "Pulling", "reason": "Pulling", "type": "Normal", "note": "Pulling image",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "pod", "uid": "u", "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "deprecatedCount": 2, "deprecatedFirstTimestamp": "2024-05-06T07:08:09Z",
        }),
    );
    assert_eq!(back["eventTime"], "2024-05-06T07:08:09.123456Z");
    round_trip(
        "io.k8s.api.core.v1.Event",
        &json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "pod", "namespace": "default"},
            "reason": "Started", "message": "Started container", "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-05-06T07:08:09Z", "lastTimestamp": "2024-05-06T07:08:10Z", "count": 1, "type": "Normal",
            "eventTime": "2024-05-06T07:08:09.000000Z",
        }),
    );
    // MicroTime keeps microseconds and drops what is finer; any offset becomes UTC.
    let b = kproto::encode("io.k8s.api.events.v1.Event", &json!({"eventTime": "2024-05-06T09:08:09.1234567+02:00"}))
        .unwrap();
    assert_eq!(kproto::decode("io.k8s.api.events.v1.Event", &b).unwrap()["eventTime"], "2024-05-06T07:08:09.123456Z");
    // Time drops sub-second precision, as upstream's protobuf does.
    let b = kproto::encode(
        "io.k8s.api.core.v1.Namespace",
        &json!({"metadata": {"creationTimestamp": "2024-05-06T07:08:09.9Z"}}),
    )
    .unwrap();
    assert_eq!(
        kproto::decode("io.k8s.api.core.v1.Namespace", &b).unwrap()["metadata"]["creationTimestamp"],
        "2024-05-06T07:08:09Z"
    );
}

#[test]
fn coordination_lease_and_rbac() {
    round_trip(
        "io.k8s.api.coordination.v1.Lease",
        &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
                "spec": {"holderIdentity": "h", "leaseDurationSeconds": 15, "acquireTime": "2024-05-06T07:08:09.000000Z",
                         "renewTime": "2024-05-06T07:08:19.500000Z", "leaseTransitions": 0}}),
    );
    round_trip(
        "io.k8s.api.rbac.v1.ClusterRole",
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "view"},
                "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
                          {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}],
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]}}),
    );
}

#[test]
fn crd_with_json_schema_props() {
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"], "categories": ["all"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A widget.",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "size": {"type": "integer", "minimum": 1, "maximum": 10.5, "exclusiveMaximum": true, "default": 3},
                                "color": {"type": "string", "enum": ["red", "green", null], "pattern": "^[a-z]+$", "maxLength": 20},
                                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "granular"},
                                "closed": {"type": "object", "additionalProperties": false},
                                "anything": {"x-kubernetes-preserve-unknown-fields": true, "example": {"a": [1, "b", null]}},
                                "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                                "ref": {"$ref": "#/definitions/x", "nullable": true},
                            },
                            "dependencies": {"size": ["color"], "port": {"required": ["size"]}},
                            "x-kubernetes-validations": [{"rule": "self.size <= 10", "message": "too big", "reason": "FieldValueInvalid", "fieldPath": ".size"}],
                        },
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                }},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                "selectableFields": [{"jsonPath": ".spec.color"}],
            }],
            "conversion": {"strategy": "None"},
        },
        "status": {
            "conditions": [{"type": "Established", "status": "True", "lastTransitionTime": "2024-05-06T07:08:09Z", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
            "acceptedNames": {"plural": "widgets", "kind": "Widget"},
            "storedVersions": ["v1"],
        },
    });
    let back = round_trip("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", &crd);
    let spec = &back["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(spec["closed"]["additionalProperties"], false);
    assert_eq!(spec["size"]["minimum"], json!(1));
    assert_eq!(spec["size"]["maximum"], json!(10.5));
    assert_eq!(back["spec"]["versions"][0]["subresources"]["status"], json!({}));
}

#[test]
fn zero_values_follow_omitempty() {
    // A k8s-pb message with zero values everywhere gogo would write them.
    use k8s_pb::api::core::v1 as core;
    use prost::Message as _;
    let svc = core::Service {
        metadata: Some(Default::default()),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: Some(String::new()),
                protocol: Some(String::new()),
                port: Some(0),
                target_port: Some(k8s_pb::apimachinery::pkg::util::intstr::IntOrString {
                    r#type: Some(0),
                    int_val: Some(0),
                    str_val: Some(String::new()),
                }),
                node_port: Some(0),
                ..Default::default()
            }],
            cluster_ip: Some(String::new()),
            r#type: Some(String::new()),
            publish_not_ready_addresses: Some(false),
            health_check_node_port: Some(0),
            // A pointer: false is a value.
            allocate_load_balancer_node_ports: Some(false),
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    let v = kproto::decode("io.k8s.api.core.v1.Service", &svc.encode_to_vec()).unwrap();
    // `port` has no omitempty upstream; `targetPort` is a non-pointer omitempty struct.
    assert_eq!(v, json!({"spec": {"ports": [{"port": 0}], "allocateLoadBalancerNodePorts": false}}));
}

#[test]
fn certificates_authorization_aggregator_autoscaling() {
    let back = round_trip(
        "io.k8s.api.certificates.v1.CertificateSigningRequest",
        &json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "csr"},
                "spec": {"request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K", "signerName": "kubernetes.io/kube-apiserver-client",
                         "expirationSeconds": 86400, "usages": ["client auth"], "username": "alice", "uid": "u",
                         "groups": ["system:authenticated"], "extra": {"scopes": ["a", "b"], "none": []}},
                "status": {"certificate": "Y2VydA==", "conditions": [{"type": "Approved", "status": "True", "reason": "R",
                           "lastUpdateTime": "2024-05-06T07:08:09Z", "lastTransitionTime": "2024-05-06T07:08:09Z"}]}}),
    );
    // ExtraValue is a protobuf message but a JSON list.
    assert_eq!(back["spec"]["extra"]["scopes"], json!(["a", "b"]));
    assert_eq!(back["spec"]["extra"]["none"], json!([]));
    round_trip(
        "io.k8s.api.authorization.v1.SubjectAccessReview",
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": "ns", "verb": "get", "resource": "pods",
                         "fieldSelector": {"requirements": [{"key": "spec.nodeName", "operator": "In", "values": ["n1"]}]}},
                         "user": "bob", "groups": ["g"], "extra": {"k": ["v"]}, "uid": "1"},
                "status": {"allowed": true, "reason": "RBAC: allowed"}}),
    );
    round_trip(
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
        &json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"service": {"namespace": "kube-system", "name": "metrics-server", "port": 443}, "group": "metrics.k8s.io",
                         "version": "v1beta1", "caBundle": "AAEC", "groupPriorityMinimum": 100, "versionPriority": 100},
                "status": {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": "2024-05-06T07:08:09Z"}]}}),
    );
    round_trip(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        &json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "d"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                         "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                                     {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}],
                         "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                                                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}},
                "status": {"currentReplicas": 2, "desiredReplicas": 2, "lastScaleTime": "2024-05-06T07:08:09Z"}}),
    );
}
