//! Upstream's default bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy) as the
//! v1.33 apiserver writes it at start: the cluster roles of policy.go and controller_policy.go,
//! their bindings, and the kube-system / kube-public roles of namespace_policy.go.
//!
//! Upstream gates some roles and rules behind feature gates; this is the output with v1.33's
//! defaults. On: MultiCIDRServiceAllocator (GA), KubeletFineGrainedAuthz and SELinuxChangePolicy
//! (beta, on). Off, so absent here: DynamicResourceAllocation and its DRA* companions,
//! ClusterTrustBundle, VolumeAttributesClass, KubeletServiceAccountTokenForCredentialProviders,
//! StorageVersionAPI, StorageVersionMigrator.

use serde_json::{json, Map, Value};

use crate::{PolicyRule, RoleRef, Subject};

/// The label every bootstrap object carries, so `kubectl get clusterroles -l` finds them.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// Set to `"false"` on a stored object to stop the apiserver reconciling it at start.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
pub const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
pub const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
pub const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// Prefix of the per-controller roles; the rest of the name is the controller's service account.
const CONTROLLER_PREFIX: &str = "system:controller:";

const LEGACY: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EXTENSIONS: &str = "extensions";
const POLICY: &str = "policy";
const STORAGE: &str = "storage.k8s.io";
const RES_METRICS: &str = "metrics.k8s.io";
const CUSTOM_METRICS: &str = "custom.metrics.k8s.io";
const EXTERNAL_METRICS: &str = "external.metrics.k8s.io";
const NETWORKING: &str = "networking.k8s.io";
const EVENTS: &str = "events.k8s.io";
const ADMISSION_REGISTRATION: &str = "admissionregistration.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update", "patch"];

const KUBE_SYSTEM: &str = "kube-system";
const KUBE_PUBLIC: &str = "kube-public";

/// Builds a rule the way upstream's `rbacv1helpers.NewRule(...)...RuleOrDie()` does: verbs
/// deduplicated, and every list sorted, so stored rules compare equal to upstream's.
struct Rule(PolicyRule);

fn rule(verbs: &[&str]) -> Rule {
    let mut v: Vec<String> = verbs.iter().map(|s| s.to_string()).collect();
    v.sort();
    v.dedup();
    Rule(PolicyRule { verbs: v, ..Default::default() })
}

fn extend(list: &mut Vec<String>, items: &[&str]) {
    list.extend(items.iter().map(|s| s.to_string()));
}

impl Rule {
    fn groups(mut self, g: &[&str]) -> Self {
        extend(&mut self.0.api_groups, g);
        self
    }
    fn resources(mut self, r: &[&str]) -> Self {
        extend(&mut self.0.resources, r);
        self
    }
    fn names(mut self, n: &[&str]) -> Self {
        extend(&mut self.0.resource_names, n);
        self
    }
    fn urls(mut self, u: &[&str]) -> Self {
        extend(&mut self.0.non_resource_urls, u);
        self
    }
    fn rule(mut self) -> PolicyRule {
        let r = &mut self.0;
        debug_assert!(!r.verbs.is_empty());
        debug_assert!(r.non_resource_urls.is_empty() != r.resources.is_empty());
        r.api_groups.sort();
        r.resources.sort();
        r.resource_names.sort();
        r.non_resource_urls.sort();
        self.0
    }
}

/// `eventsRule()`: every controller may record events through either events API.
fn events_rule() -> PolicyRule {
    rule(&["create", "update", "patch"]).groups(&[LEGACY, EVENTS]).resources(&["events"]).rule()
}

fn metadata(name: &str, namespace: Option<&str>, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    for (k, v) in extra_labels.iter().chain([&BOOTSTRAP_LABEL]) {
        labels.insert(k.to_string(), json!(v));
    }
    let mut m = json!({
        "name": name,
        "labels": labels,
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

fn rules_json(rules: &[PolicyRule]) -> Value {
    serde_json::to_value(rules).expect("rules serialize")
}

/// A plain (non-aggregated) cluster role.
fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> Value {
    labeled_cluster_role(name, &[], rules)
}

fn labeled_cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name, None, labels),
        "rules": rules_json(&rules),
    })
}

/// A role whose rules the clusterrole-aggregation controller fills from the roles carrying
/// `selector_label: "true"`; it starts with no rules of its own.
fn aggregated_cluster_role(name: &str, labels: &[(&str, &str)], selector_label: &str) -> Value {
    let mut role = labeled_cluster_role(name, labels, vec![]);
    role["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {selector_label: "true"}}]});
    role
}

fn namespaced_role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(name, Some(namespace), &[]),
        "rules": rules_json(&rules),
    })
}

fn user(name: &str) -> Subject {
    Subject { kind: "User".into(), api_group: RBAC_GROUP.into(), name: name.into(), namespace: String::new() }
}

fn group(name: &str) -> Subject {
    Subject { kind: "Group".into(), api_group: RBAC_GROUP.into(), name: name.into(), namespace: String::new() }
}

fn service_account(namespace: &str, name: &str) -> Subject {
    Subject { kind: "ServiceAccount".into(), api_group: String::new(), name: name.into(), namespace: namespace.into() }
}

fn binding_json(kind: &str, name: &str, namespace: Option<&str>, role_ref: RoleRef, subjects: &[Subject]) -> Value {
    let mut b = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata(name, namespace, &[]),
        "roleRef": serde_json::to_value(role_ref).expect("roleRef serializes"),
    });
    // Upstream's `subjects` is omitempty: the deprecated system:node binding has none.
    if !subjects.is_empty() {
        b["subjects"] = serde_json::to_value(subjects).expect("subjects serialize");
    }
    b
}

/// `NewClusterBinding(role)`: the binding takes the role's name.
fn cluster_binding(role: &str, subjects: &[Subject]) -> Value {
    let role_ref = RoleRef { api_group: RBAC_GROUP.into(), kind: "ClusterRole".into(), name: role.into() };
    binding_json("ClusterRoleBinding", role, None, role_ref, subjects)
}

/// `NewRoleBinding(role, namespace)`, optionally renamed as upstream does for one binding.
fn role_binding(namespace: &str, name: &str, role: &str, subjects: &[Subject]) -> Value {
    let role_ref = RoleRef { api_group: RBAC_GROUP.into(), kind: "Role".into(), name: role.into() };
    binding_json("RoleBinding", name, Some(namespace), role_ref, subjects)
}

fn name_of(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or_default()
}

/// Upstream's testdata lists objects sorted by name; doing the same keeps output stable.
fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    v
}

/// `NodeRules()`: what the Node authorizer and NodeRestriction further narrow per node.
fn node_rules() -> Vec<PolicyRule> {
    vec![
        rule(&["create"]).groups(&[AUTHENTICATION]).resources(&["tokenreviews"]).rule(),
        rule(&["create"])
            .groups(&[AUTHORIZATION])
            .resources(&["subjectaccessreviews", "localsubjectaccessreviews"])
            .rule(),
        rule(READ).groups(&[LEGACY]).resources(&["services"]).rule(),
        rule(&["create", "get", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
        rule(&["update", "patch"]).groups(&[LEGACY]).resources(&["nodes/status"]).rule(),
        rule(&["update", "patch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
        rule(&["create", "update", "patch"]).groups(&[LEGACY]).resources(&["events"]).rule(),
        rule(READ).groups(&[LEGACY]).resources(&["pods"]).rule(),
        rule(&["create", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
        rule(&["update", "patch"]).groups(&[LEGACY]).resources(&["pods/status"]).rule(),
        rule(&["create"]).groups(&[LEGACY]).resources(&["pods/eviction"]).rule(),
        rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["secrets", "configmaps"]).rule(),
        rule(&["get"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims", "persistentvolumes"]).rule(),
        rule(&["get"]).groups(&[LEGACY]).resources(&["endpoints"]).rule(),
        rule(&["create", "get", "list", "watch"])
            .groups(&[CERTIFICATES])
            .resources(&["certificatesigningrequests"])
            .rule(),
        rule(&["get", "create", "update", "patch", "delete"]).groups(&[COORDINATION]).resources(&["leases"]).rule(),
        rule(&["get"]).groups(&[STORAGE]).resources(&["volumeattachments"]).rule(),
        rule(&["create"]).groups(&[LEGACY]).resources(&["serviceaccounts/token"]).rule(),
        rule(&["get", "update", "patch"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims/status"]).rule(),
        rule(&["get", "watch", "list"]).groups(&[STORAGE]).resources(&["csidrivers"]).rule(),
        rule(&["get", "create", "update", "patch", "delete"]).groups(&[STORAGE]).resources(&["csinodes"]).rule(),
        rule(&["get", "list", "watch"]).groups(&["node.k8s.io"]).resources(&["runtimeclasses"]).rule(),
    ]
}

/// policy.go's `ClusterRoles()`, sorted by name.
fn base_cluster_roles() -> Vec<Value> {
    let signer_approver = |name: &str, signer: &str| {
        cluster_role(
            name,
            vec![rule(&["approve"]).groups(&[CERTIFICATES]).resources(&["signers"]).names(&[signer]).rule()],
        )
    };
    let roles = vec![
        // A "root" role which can do absolutely anything.
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"]).groups(&["*"]).resources(&["*"]).rule(), rule(&["*"]).urls(&["*"]).rule()],
        ),
        // Just enough to see whether the server is ready and to negotiate API versions.
        cluster_role(
            "system:discovery",
            vec![rule(&["get"])
                .urls(&[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ])
                .rule()],
        ),
        cluster_role(
            "system:monitoring",
            vec![rule(&["get"])
                .urls(&[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                ])
                .rule()],
        ),
        // Lets a "normal" user learn about themselves.
        cluster_role(
            "system:basic-user",
            vec![
                rule(&["create"])
                    .groups(&[AUTHORIZATION])
                    .resources(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
                    .rule(),
                rule(&["create"]).groups(&[AUTHENTICATION]).resources(&["selfsubjectreviews"]).rule(),
            ],
        ),
        // Insensitive cluster information, readable even by anonymous users.
        cluster_role(
            "system:public-info-viewer",
            vec![rule(&["get"]).urls(&["/livez", "/readyz", "/healthz", "/version", "/version/"]).rule()],
        ),
        aggregated_cluster_role("admin", &[], AGGREGATE_TO_ADMIN),
        aggregated_cluster_role("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        aggregated_cluster_role("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        labeled_cluster_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(&["create"]).groups(&[AUTHORIZATION]).resources(&["localsubjectaccessreviews"]).rule(),
                rule(READ_WRITE).groups(&[RBAC_GROUP]).resources(&["roles", "rolebindings"]).rule(),
            ],
        ),
        // Everything a namespace user does, short of the "privileged" status/quota/limits.
        labeled_cluster_role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            vec![
                rule(READ)
                    .groups(&[LEGACY])
                    .resources(&[
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                        "secrets",
                        "services/proxy",
                    ])
                    .rule(),
                rule(&["impersonate"]).groups(&[LEGACY]).resources(&["serviceaccounts"]).rule(),
                rule(WRITE)
                    .groups(&[LEGACY])
                    .resources(&["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"])
                    .rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["pods/eviction"]).rule(),
                rule(WRITE)
                    .groups(&[LEGACY])
                    .resources(&[
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "persistentvolumeclaims",
                        "configmaps",
                        "secrets",
                        "events",
                    ])
                    .rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["serviceaccounts/token"]).rule(),
                rule(WRITE)
                    .groups(&[APPS])
                    .resources(&[
                        "statefulsets",
                        "statefulsets/scale",
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "replicasets",
                        "replicasets/scale",
                    ])
                    .rule(),
                rule(WRITE).groups(&[AUTOSCALING]).resources(&["horizontalpodautoscalers"]).rule(),
                rule(WRITE).groups(&[BATCH]).resources(&["jobs", "cronjobs"]).rule(),
                rule(WRITE)
                    .groups(&[EXTENSIONS])
                    .resources(&[
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "ingresses",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ])
                    .rule(),
                rule(WRITE).groups(&[POLICY]).resources(&["poddisruptionbudgets"]).rule(),
                rule(WRITE).groups(&[NETWORKING]).resources(&["networkpolicies", "ingresses"]).rule(),
                rule(READ_WRITE).groups(&[COORDINATION]).resources(&["leases"]).rule(),
            ],
        ),
        // Read-only access to non-escalating namespace resources.
        labeled_cluster_role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            vec![
                rule(READ)
                    .groups(&[LEGACY])
                    .resources(&[
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ])
                    .rule(),
                rule(READ)
                    .groups(&[LEGACY])
                    .resources(&[
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ])
                    .rule(),
                // Reading namespaces at namespace scope reveals only *this* namespace.
                rule(READ).groups(&[LEGACY]).resources(&["namespaces"]).rule(),
                rule(READ).groups(&[DISCOVERY]).resources(&["endpointslices"]).rule(),
                rule(READ)
                    .groups(&[APPS])
                    .resources(&[
                        "controllerrevisions",
                        "statefulsets",
                        "statefulsets/status",
                        "statefulsets/scale",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/status",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/status",
                        "replicasets/scale",
                    ])
                    .rule(),
                rule(READ)
                    .groups(&[AUTOSCALING])
                    .resources(&["horizontalpodautoscalers", "horizontalpodautoscalers/status"])
                    .rule(),
                rule(READ).groups(&[BATCH]).resources(&["jobs", "cronjobs", "cronjobs/status", "jobs/status"]).rule(),
                rule(READ)
                    .groups(&[EXTENSIONS])
                    .resources(&[
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ])
                    .rule(),
                rule(READ).groups(&[POLICY]).resources(&["poddisruptionbudgets", "poddisruptionbudgets/status"]).rule(),
                rule(READ)
                    .groups(&[NETWORKING])
                    .resources(&["networkpolicies", "ingresses", "ingresses/status"])
                    .rule(),
            ],
        ),
        cluster_role(
            "system:heapster",
            vec![
                rule(READ).groups(&[LEGACY]).resources(&["events", "pods", "nodes", "namespaces"]).rule(),
                rule(READ).groups(&[EXTENSIONS]).resources(&["deployments"]).rule(),
            ],
        ),
        cluster_role("system:node", node_rules()),
        // Not bound by default: where the detector runs varies by deployment.
        cluster_role(
            "system:node-problem-detector",
            vec![
                rule(&["get"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["patch"]).groups(&[LEGACY]).resources(&["nodes/status"]).rule(),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            vec![rule(&["create", "get", "list", "watch"])
                .groups(&[CERTIFICATES])
                .resources(&["certificatesigningrequests"])
                .rule()],
        ),
        cluster_role(
            "system:auth-delegator",
            vec![
                rule(&["create"]).groups(&[AUTHENTICATION]).resources(&["tokenreviews"]).rule(),
                rule(&["create"]).groups(&[AUTHORIZATION]).resources(&["subjectaccessreviews"]).rule(),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            vec![rule(READ).groups(&[LEGACY]).resources(&["services", "endpoints"]).rule()],
        ),
        // Enough for the controller manager to start its shared informers and mint the
        // per-controller service accounts whose roles follow below.
        cluster_role(
            "system:kube-controller-manager",
            vec![
                events_rule(),
                rule(&["create"]).groups(&[COORDINATION]).resources(&["leases"]).rule(),
                rule(&["get", "update"])
                    .groups(&[COORDINATION])
                    .resources(&["leases"])
                    .names(&["kube-controller-manager"])
                    .rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["secrets", "serviceaccounts"]).rule(),
                rule(&["delete"]).groups(&[LEGACY]).resources(&["secrets"]).rule(),
                rule(&["get"])
                    .groups(&[LEGACY])
                    .resources(&["namespaces", "secrets", "serviceaccounts", "configmaps"])
                    .rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["secrets", "serviceaccounts"]).rule(),
                rule(&["create"]).groups(&[AUTHENTICATION]).resources(&["tokenreviews"]).rule(),
                rule(&["create"]).groups(&[AUTHORIZATION]).resources(&["subjectaccessreviews"]).rule(),
                rule(&["list", "watch"]).groups(&["*"]).resources(&["*"]).rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["serviceaccounts/token"]).rule(),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["endpoints", "services"]).rule()],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule(&["get", "list", "watch", "create", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumes"])
                    .rule(),
                // update sets lock annotations on claims
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .rule(),
                rule(READ).groups(&[STORAGE]).resources(&["storageclasses"]).rule(),
                rule(&["watch"]).groups(&[LEGACY]).resources(&["events"]).rule(),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![rule(&["create"])
                .groups(&[CERTIFICATES])
                .resources(&["certificatesigningrequests/nodeclient"])
                .rule()],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![rule(&["create"])
                .groups(&[CERTIFICATES])
                .resources(&["certificatesigningrequests/selfnodeclient"])
                .rule()],
        ),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule(READ_UPDATE).groups(&[LEGACY]).resources(&["persistentvolumes"]).rule(),
                rule(READ).groups(&[STORAGE]).resources(&["storageclasses"]).rule(),
                rule(READ_UPDATE).groups(&[LEGACY]).resources(&["persistentvolumeclaims"]).rule(),
            ],
        ),
        signer_approver("system:certificates.k8s.io:legacy-unknown-approver", "kubernetes.io/legacy-unknown"),
        signer_approver("system:certificates.k8s.io:kubelet-serving-approver", "kubernetes.io/kubelet-serving"),
        signer_approver(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            "kubernetes.io/kube-apiserver-client",
        ),
        signer_approver(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "kubernetes.io/kube-apiserver-client-kubelet",
        ),
        // The slash-ended URLs serve clients generated from older published OpenAPI documents.
        cluster_role(
            "system:service-account-issuer-discovery",
            vec![rule(&["get"])
                .urls(&[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ])
                .rule()],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["proxy"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["*"])
                    .groups(&[LEGACY])
                    .resources(&["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"])
                    .rule(),
                // KubeletFineGrainedAuthz
                rule(&["*"]).groups(&[LEGACY]).resources(&["nodes/pods", "nodes/healthz", "nodes/configz"]).rule(),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["services", "endpoints"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                events_rule(),
                // MultiCIDRServiceAllocator
                rule(&["list", "watch"]).groups(&[NETWORKING]).resources(&["servicecidrs"]).rule(),
                rule(&["list", "watch"]).groups(&[DISCOVERY]).resources(&["endpointslices"]).rule(),
            ],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                events_rule(),
                // leader election
                rule(&["create"]).groups(&[COORDINATION]).resources(&["leases"]).rule(),
                rule(&["get", "update", "list", "watch"])
                    .groups(&[COORDINATION])
                    .resources(&["leases"])
                    .names(&["kube-scheduler"])
                    .rule(),
                rule(READ_WRITE).groups(&[COORDINATION]).resources(&["leasecandidates"]).rule(),
                rule(READ).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["get", "list", "watch", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["pods/binding", "bindings"]).rule(),
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["pods/status"]).rule(),
                rule(READ).groups(&[LEGACY]).resources(&["services", "replicationcontrollers"]).rule(),
                rule(READ).groups(&[APPS, EXTENSIONS]).resources(&["replicasets"]).rule(),
                rule(READ).groups(&[APPS]).resources(&["statefulsets"]).rule(),
                rule(READ).groups(&[POLICY]).resources(&["poddisruptionbudgets"]).rule(),
                rule(READ).groups(&[LEGACY]).resources(&["persistentvolumeclaims", "persistentvolumes"]).rule(),
                rule(&["create"]).groups(&[AUTHENTICATION]).resources(&["tokenreviews"]).rule(),
                rule(&["create"]).groups(&[AUTHORIZATION]).resources(&["subjectaccessreviews"]).rule(),
                rule(READ).groups(&[STORAGE]).resources(&["csinodes"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[STORAGE]).resources(&["volumeattachments"]).rule(),
                // namespaceSelector in pod affinity
                rule(READ).groups(&[LEGACY]).resources(&["namespaces"]).rule(),
                rule(READ).groups(&[STORAGE]).resources(&["csidrivers"]).rule(),
                rule(READ).groups(&[STORAGE]).resources(&["csistoragecapacities"]).rule(),
            ],
        ),
    ];
    sorted(roles)
}

/// policy.go's `ClusterRoleBindings()`, sorted by name.
fn base_cluster_role_bindings() -> Vec<Value> {
    sorted(vec![
        cluster_binding("cluster-admin", &[group("system:masters")]),
        cluster_binding("system:monitoring", &[group("system:monitoring")]),
        cluster_binding("system:discovery", &[group("system:authenticated")]),
        cluster_binding("system:basic-user", &[group("system:authenticated")]),
        cluster_binding("system:public-info-viewer", &[group("system:authenticated"), group("system:unauthenticated")]),
        cluster_binding("system:node-proxier", &[user("system:kube-proxy")]),
        cluster_binding("system:kube-controller-manager", &[user("system:kube-controller-manager")]),
        cluster_binding("system:kube-dns", &[service_account(KUBE_SYSTEM, "kube-dns")]),
        cluster_binding("system:kube-scheduler", &[user("system:kube-scheduler")]),
        cluster_binding("system:volume-scheduler", &[user("system:kube-scheduler")]),
        // Deprecated since the Node authorizer: kept with no subjects so that tightening
        // reconciliation can strip the old system:nodes subject.
        cluster_binding("system:node", &[]),
        // Every in-cluster workload may read the OIDC discovery documents.
        cluster_binding("system:service-account-issuer-discovery", &[group("system:serviceaccounts")]),
    ])
}

/// controller_policy.go: one role per kube-controller-manager controller, named after the
/// controller's service account in kube-system.
fn controller_role_rules() -> Vec<(&'static str, Vec<PolicyRule>)> {
    vec![
        (
            "attachdetach-controller",
            vec![
                rule(&["list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumes", "persistentvolumeclaims"])
                    .rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["nodes/status"]).rule(),
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
                rule(&["get", "create", "delete", "list", "watch"])
                    .groups(&[STORAGE])
                    .resources(&["volumeattachments"])
                    .rule(),
                rule(&["get", "watch", "list"]).groups(&[STORAGE]).resources(&["csidrivers"]).rule(),
                rule(&["get", "watch", "list"]).groups(&[STORAGE]).resources(&["csinodes"]).rule(),
            ],
        ),
        (
            "clusterrole-aggregation-controller",
            // full power over clusterroles, so it can write any aggregated rule
            vec![rule(&["escalate", "get", "list", "watch", "update", "patch"])
                .groups(&[RBAC_GROUP])
                .resources(&["clusterroles"])
                .rule()],
        ),
        (
            "cronjob-controller",
            vec![
                rule(&["get", "list", "watch", "update"]).groups(&[BATCH]).resources(&["cronjobs"]).rule(),
                rule(&["get", "list", "watch", "create", "update", "delete", "patch"])
                    .groups(&[BATCH])
                    .resources(&["jobs"])
                    .rule(),
                rule(&["update"]).groups(&[BATCH]).resources(&["cronjobs/status"]).rule(),
                rule(&["update"]).groups(&[BATCH]).resources(&["cronjobs/finalizers"]).rule(),
                rule(&["list", "watch", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[EXTENSIONS, APPS]).resources(&["daemonsets"]).rule(),
                rule(&["update"]).groups(&[EXTENSIONS, APPS]).resources(&["daemonsets/status"]).rule(),
                rule(&["update"]).groups(&[EXTENSIONS, APPS]).resources(&["daemonsets/finalizers"]).rule(),
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["list", "watch", "create", "delete", "patch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["pods/binding"]).rule(),
                rule(&["get", "list", "watch", "create", "delete", "update", "patch"])
                    .groups(&[APPS])
                    .resources(&["controllerrevisions"])
                    .rule(),
                events_rule(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[EXTENSIONS, APPS])
                    .resources(&["deployments"])
                    .rule(),
                rule(&["update"]).groups(&[EXTENSIONS, APPS]).resources(&["deployments/status"]).rule(),
                rule(&["update"]).groups(&[EXTENSIONS, APPS]).resources(&["deployments/finalizers"]).rule(),
                rule(&["get", "list", "watch", "create", "update", "patch", "delete"])
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets"])
                    .rule(),
                // update stays until kubernetes/kubernetes#36897 is resolved
                rule(&["get", "list", "watch", "update"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[EXTENSIONS, APPS]).resources(&["deployments"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[APPS, EXTENSIONS]).resources(&["replicasets"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["replicationcontrollers"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[POLICY]).resources(&["poddisruptionbudgets"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[APPS]).resources(&["statefulsets"]).rule(),
                rule(&["update"]).groups(&[POLICY]).resources(&["poddisruptionbudgets/status"]).rule(),
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["pods/status"]).rule(),
                rule(&["get"]).groups(&["*"]).resources(&["*/scale"]).rule(),
                events_rule(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["services", "pods"]).rule(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["endpoints"])
                    .rule(),
                rule(&["create"]).groups(&[LEGACY]).resources(&["endpoints/restricted"]).rule(),
                events_rule(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["services", "pods", "nodes"]).rule(),
                // owning the slices with blockOwnerDeletion needs the service's finalizers
                rule(&["update"]).groups(&[LEGACY]).resources(&["services/finalizers"]).rule(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[DISCOVERY])
                    .resources(&["endpointslices"])
                    .rule(),
                events_rule(),
            ],
        ),
        (
            "endpointslicemirroring-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["services", "endpoints"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["services/finalizers"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["endpoints/finalizers"]).rule(),
                rule(&["get", "list", "watch", "create", "update", "delete"])
                    .groups(&[DISCOVERY])
                    .resources(&["endpointslices"])
                    .rule(),
                events_rule(),
            ],
        ),
        (
            "expand-controller",
            vec![
                rule(&["get", "list", "watch", "update", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumes"])
                    .rule(),
                rule(&["update", "patch"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims/status"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims"]).rule(),
                events_rule(),
                // the in-tree portworx volume plugin
                rule(&["get"]).groups(&[LEGACY]).resources(&["services"]).rule(),
            ],
        ),
        (
            "ephemeral-volume-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["pods/finalizers"]).rule(),
                rule(&["get", "list", "watch", "create"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .rule(),
                events_rule(),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![
                rule(&["get", "list", "watch", "patch", "update", "delete"]).groups(&["*"]).resources(&["*"]).rule(),
                events_rule(),
            ],
        ),
        (
            "horizontal-pod-autoscaler",
            vec![
                rule(&["get", "list", "watch"]).groups(&[AUTOSCALING]).resources(&["horizontalpodautoscalers"]).rule(),
                rule(&["update"]).groups(&[AUTOSCALING]).resources(&["horizontalpodautoscalers/status"]).rule(),
                rule(&["get", "update"]).groups(&["*"]).resources(&["*/scale"]).rule(),
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["list", "watch"]).groups(&[RES_METRICS]).resources(&["pods"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[CUSTOM_METRICS]).resources(&["*"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[EXTERNAL_METRICS]).resources(&["*"]).rule(),
                events_rule(),
            ],
        ),
        (
            "job-controller",
            vec![
                rule(&["get", "list", "watch", "update", "patch"]).groups(&[BATCH]).resources(&["jobs"]).rule(),
                rule(&["update"]).groups(&[BATCH]).resources(&["jobs/status"]).rule(),
                rule(&["update"]).groups(&[BATCH]).resources(&["jobs/finalizers"]).rule(),
                rule(&["list", "watch", "create", "delete", "patch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "namespace-controller",
            vec![
                rule(&["get", "list", "watch", "delete"]).groups(&[LEGACY]).resources(&["namespaces"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["namespaces/finalize", "namespaces/status"]).rule(),
                rule(&["get", "list", "watch", "delete", "deletecollection"]).groups(&["*"]).resources(&["*"]).rule(),
            ],
        ),
        (
            "node-controller",
            vec![
                rule(&["get", "list", "watch", "update", "delete", "patch"])
                    .groups(&[LEGACY])
                    .resources(&["nodes"])
                    .rule(),
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["nodes/status"]).rule(),
                // pod deletion
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["pods/status"]).rule(),
                rule(&["list", "watch", "get", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "persistent-volume-binder",
            vec![
                rule(&["get", "list", "watch", "update", "create", "delete"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumes"])
                    .rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["persistentvolumes/status"]).rule(),
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims/status"]).rule(),
                rule(&["list", "watch", "get", "create", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[STORAGE]).resources(&["storageclasses"]).rule(),
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                events_rule(),
                // the recycler watches its pod's events
                rule(&["watch"]).groups(&[LEGACY]).resources(&["events"]).rule(),
                // the in-tree portworx volume plugin
                rule(&["get"]).groups(&[LEGACY]).resources(&["services"]).rule(),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                rule(&["list", "watch", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["patch"]).groups(&[LEGACY]).resources(&["pods/status"]).rule(),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[APPS, EXTENSIONS])
                    .resources(&["replicasets"])
                    .rule(),
                rule(&["update"]).groups(&[APPS, EXTENSIONS]).resources(&["replicasets/status"]).rule(),
                rule(&["update"]).groups(&[APPS, EXTENSIONS]).resources(&["replicasets/finalizers"]).rule(),
                rule(&["list", "watch", "patch", "create", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "replication-controller",
            vec![
                // 1.0 controllers needed get and update; old controllers break without them
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["replicationcontrollers"])
                    .rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["replicationcontrollers/status"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["replicationcontrollers/finalizers"]).rule(),
                rule(&["list", "watch", "patch", "create", "delete"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "resourcequota-controller",
            vec![
                // quota may count anything, so it sees everything
                rule(&["list", "watch"]).groups(&["*"]).resources(&["*"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["resourcequotas/status"]).rule(),
                events_rule(),
            ],
        ),
        (
            "route-controller",
            vec![
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                rule(&["patch"]).groups(&[LEGACY]).resources(&["nodes/status"]).rule(),
                events_rule(),
            ],
        ),
        (
            "service-account-controller",
            vec![rule(&["create"]).groups(&[LEGACY]).resources(&["serviceaccounts"]).rule(), events_rule()],
        ),
        (
            "service-controller",
            vec![
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["services"]).rule(),
                rule(&["patch", "update"]).groups(&[LEGACY]).resources(&["services/status"]).rule(),
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                events_rule(),
            ],
        ),
        (
            // MultiCIDRServiceAllocator
            "service-cidrs-controller",
            vec![
                rule(&["get", "list", "watch", "patch", "update"])
                    .groups(&[NETWORKING])
                    .resources(&["servicecidrs"])
                    .rule(),
                rule(&["patch", "update"]).groups(&[NETWORKING]).resources(&["servicecidrs/finalizers"]).rule(),
                rule(&["patch", "update"]).groups(&[NETWORKING]).resources(&["servicecidrs/status"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[NETWORKING]).resources(&["ipaddresses"]).rule(),
                events_rule(),
            ],
        ),
        (
            "statefulset-controller",
            vec![
                rule(&["list", "watch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[APPS]).resources(&["statefulsets"]).rule(),
                rule(&["update"]).groups(&[APPS]).resources(&["statefulsets/status"]).rule(),
                rule(&["update"]).groups(&[APPS]).resources(&["statefulsets/finalizers"]).rule(),
                rule(&["get", "create", "delete", "update", "patch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["get", "create", "delete", "update", "patch", "list", "watch"])
                    .groups(&[APPS])
                    .resources(&["controllerrevisions"])
                    .rule(),
                rule(&["get", "create", "list", "watch"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .rule(),
                events_rule(),
                // appended after events once StatefulSetAutoDeletePVC arrived; v1.33 keeps that order
                rule(&["update", "delete"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims"]).rule(),
                rule(&["update"]).groups(&[LEGACY]).resources(&["pods/finalizers"]).rule(),
            ],
        ),
        (
            "ttl-controller",
            vec![
                rule(&["update", "patch", "list", "watch"]).groups(&[LEGACY]).resources(&["nodes"]).rule(),
                events_rule(),
            ],
        ),
        (
            "certificate-controller",
            vec![
                rule(&["get", "list", "watch", "delete"])
                    .groups(&[CERTIFICATES])
                    .resources(&["certificatesigningrequests"])
                    .rule(),
                rule(&["update"])
                    .groups(&[CERTIFICATES])
                    .resources(&["certificatesigningrequests/status", "certificatesigningrequests/approval"])
                    .rule(),
                rule(&["approve"])
                    .groups(&[CERTIFICATES])
                    .resources(&["signers"])
                    .names(&["kubernetes.io/kube-apiserver-client-kubelet"])
                    .rule(),
                rule(&["sign"])
                    .groups(&[CERTIFICATES])
                    .resources(&["signers"])
                    .names(&[
                        "kubernetes.io/legacy-unknown",
                        "kubernetes.io/kube-apiserver-client",
                        "kubernetes.io/kube-apiserver-client-kubelet",
                        "kubernetes.io/kubelet-serving",
                    ])
                    .rule(),
                rule(&["create"]).groups(&[AUTHORIZATION]).resources(&["subjectaccessreviews"]).rule(),
                events_rule(),
            ],
        ),
        (
            "pvc-protection-controller",
            vec![
                rule(&["get", "list", "watch", "update"])
                    .groups(&[LEGACY])
                    .resources(&["persistentvolumeclaims"])
                    .rule(),
                rule(&["list", "watch", "get"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                events_rule(),
            ],
        ),
        (
            "pv-protection-controller",
            vec![
                rule(&["get", "list", "watch", "update"]).groups(&[LEGACY]).resources(&["persistentvolumes"]).rule(),
                events_rule(),
            ],
        ),
        (
            "ttl-after-finished-controller",
            vec![rule(&["get", "list", "watch", "delete"]).groups(&[BATCH]).resources(&["jobs"]).rule(), events_rule()],
        ),
        (
            "root-ca-cert-publisher",
            vec![rule(&["create", "update"]).groups(&[LEGACY]).resources(&["configmaps"]).rule(), events_rule()],
        ),
        (
            "validatingadmissionpolicy-status-controller",
            vec![
                rule(&["get", "list", "watch"])
                    .groups(&[ADMISSION_REGISTRATION])
                    .resources(&["validatingadmissionpolicies"])
                    .rule(),
                rule(&["get", "patch", "update"])
                    .groups(&[ADMISSION_REGISTRATION])
                    .resources(&["validatingadmissionpolicies/status"])
                    .rule(),
                events_rule(),
            ],
        ),
        (
            "legacy-service-account-token-cleaner",
            vec![
                rule(&["get"])
                    .groups(&[LEGACY])
                    .resources(&["configmaps"])
                    .names(&["kube-apiserver-legacy-service-account-token-tracking"])
                    .rule(),
                rule(&["patch", "delete"]).groups(&[LEGACY]).resources(&["secrets"]).rule(),
            ],
        ),
        (
            // SELinuxChangePolicy
            "selinux-warning-controller",
            vec![
                events_rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["persistentvolumes"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["persistentvolumeclaims"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["pods"]).rule(),
                rule(&["get", "list", "watch"]).groups(&[STORAGE]).resources(&["csidrivers"]).rule(),
            ],
        ),
    ]
}

/// Every ClusterRole the v1.33 apiserver's bootstrap-roles hook ensures: policy.go's roles
/// (sorted by name) followed by controller_policy.go's `system:controller:*` roles (sorted).
pub fn cluster_roles() -> Vec<Value> {
    let mut roles = base_cluster_roles();
    roles.extend(sorted(
        controller_role_rules()
            .into_iter()
            .map(|(controller, rules)| cluster_role(&format!("{CONTROLLER_PREFIX}{controller}"), rules))
            .collect(),
    ));
    roles
}

/// Every ClusterRoleBinding the hook ensures: policy.go's, then one per controller role binding
/// it to the controller's service account in kube-system.
pub fn cluster_role_bindings() -> Vec<Value> {
    let mut bindings = base_cluster_role_bindings();
    bindings.extend(sorted(
        controller_role_rules()
            .into_iter()
            .map(|(controller, _)| {
                cluster_binding(
                    &format!("{CONTROLLER_PREFIX}{controller}"),
                    &[service_account(KUBE_SYSTEM, controller)],
                )
            })
            .collect(),
    ));
    bindings
}

/// namespace_policy.go's Roles in kube-public then kube-system, each sorted by name.
pub fn namespace_roles() -> Vec<Value> {
    let public = vec![namespaced_role(
        KUBE_PUBLIC,
        "system:controller:bootstrap-signer",
        vec![
            rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["configmaps"]).rule(),
            rule(&["update"]).groups(&[LEGACY]).resources(&["configmaps"]).names(&["cluster-info"]).rule(),
            events_rule(),
        ],
    )];
    let system = vec![
        // the one configmap that publishes authentication configuration to extension servers
        namespaced_role(
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![rule(&["get", "list", "watch"])
                .groups(&[LEGACY])
                .resources(&["configmaps"])
                .names(&["extension-apiserver-authentication"])
                .rule()],
        ),
        namespaced_role(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            vec![rule(&["get", "list", "watch"]).groups(&[LEGACY]).resources(&["secrets"]).rule()],
        ),
        // deprecated since 1.10; kept per the deprecation policy
        namespaced_role(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            vec![rule(&["create", "get", "list", "watch"]).groups(&[LEGACY]).resources(&["configmaps"]).rule()],
        ),
        namespaced_role(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            vec![
                rule(&["get", "list", "watch", "delete"]).groups(&[LEGACY]).resources(&["secrets"]).rule(),
                events_rule(),
            ],
        ),
        namespaced_role(
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            vec![
                rule(&["watch"]).groups(&[LEGACY]).resources(&["configmaps"]).rule(),
                rule(&["get", "update"])
                    .groups(&[LEGACY])
                    .resources(&["configmaps"])
                    .names(&["kube-controller-manager"])
                    .rule(),
                rule(&["get", "watch", "list", "create", "update"])
                    .groups(&[COORDINATION])
                    .resources(&["leases"])
                    .rule(),
            ],
        ),
        namespaced_role(
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            vec![
                rule(&["watch"]).groups(&[LEGACY]).resources(&["configmaps"]).rule(),
                rule(&["get", "update"]).groups(&[LEGACY]).resources(&["configmaps"]).names(&["kube-scheduler"]).rule(),
            ],
        ),
    ];
    let mut roles = sorted(public);
    roles.extend(sorted(system));
    roles
}

/// namespace_policy.go's RoleBindings in kube-public then kube-system, each sorted by name.
pub fn namespace_role_bindings() -> Vec<Value> {
    let signer = "system:controller:bootstrap-signer";
    let public = vec![role_binding(KUBE_PUBLIC, signer, signer, &[service_account(KUBE_SYSTEM, "bootstrap-signer")])];
    let kcm_lock = "system::leader-locking-kube-controller-manager";
    let sched_lock = "system::leader-locking-kube-scheduler";
    let system = vec![
        role_binding(
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            &[user("system:kube-controller-manager"), user("system:kube-scheduler")],
        ),
        role_binding(
            KUBE_SYSTEM,
            kcm_lock,
            kcm_lock,
            &[
                user("system:kube-controller-manager"),
                service_account(KUBE_SYSTEM, "kube-controller-manager"),
                service_account(KUBE_SYSTEM, "leader-election-controller"),
            ],
        ),
        role_binding(
            KUBE_SYSTEM,
            sched_lock,
            sched_lock,
            &[user("system:kube-scheduler"), service_account(KUBE_SYSTEM, "kube-scheduler")],
        ),
        role_binding(KUBE_SYSTEM, signer, signer, &[service_account(KUBE_SYSTEM, "bootstrap-signer")]),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            &[service_account(KUBE_SYSTEM, "cloud-provider")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            &[service_account(KUBE_SYSTEM, "token-cleaner")],
        ),
    ];
    let mut bindings = sorted(public);
    bindings.extend(sorted(system));
    bindings
}

/// `ClusterRolesToAggregate()`: pre-aggregation clusters kept custom rules on admin/edit/view;
/// the hook copies them onto these roles before turning the originals into aggregated ones.
pub fn cluster_roles_to_aggregate() -> [(&'static str, &'static str); 3] {
    [("admin", "system:aggregate-to-admin"), ("edit", "system:aggregate-to-edit"), ("view", "system:aggregate-to-view")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{rule_allows, subject_matches, Attributes};
    use std::collections::HashSet;

    fn find<'a>(list: &'a [Value], name: &str) -> &'a Value {
        list.iter().find(|v| name_of(v) == name).unwrap_or_else(|| panic!("{name} missing"))
    }

    fn rules_of(role: &Value) -> Vec<PolicyRule> {
        serde_json::from_value(role["rules"].clone()).unwrap()
    }

    fn subjects_of(binding: &Value) -> Vec<Subject> {
        serde_json::from_value(binding.get("subjects").cloned().unwrap_or(json!([]))).unwrap()
    }

    fn allows(role: &Value, verb: &str, group: &str, resource: &str, sub: &str) -> bool {
        let a = Attributes {
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: "ns".into(),
            ..Default::default()
        };
        rules_of(role).iter().any(|r| rule_allows(&a, r))
    }

    fn allows_path(role: &Value, verb: &str, path: &str) -> bool {
        let a = Attributes { verb: verb.into(), path: path.into(), ..Default::default() };
        rules_of(role).iter().any(|r| rule_allows(&a, r))
    }

    #[test]
    fn counts_match_upstream_defaults() {
        assert_eq!(cluster_roles().len(), 66);
        assert_eq!(cluster_role_bindings().len(), 47);
        assert_eq!(namespace_roles().len(), 7);
        assert_eq!(namespace_role_bindings().len(), 7);
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for v in cluster_roles() {
            assert!(seen.insert(name_of(&v).to_string()), "duplicate clusterrole {}", name_of(&v));
        }
        let mut seen = HashSet::new();
        for v in cluster_role_bindings() {
            assert!(seen.insert(name_of(&v).to_string()), "duplicate clusterrolebinding {}", name_of(&v));
        }
        for list in [namespace_roles(), namespace_role_bindings()] {
            let mut seen = HashSet::new();
            for v in list {
                let key = (v["metadata"]["namespace"].as_str().unwrap().to_string(), name_of(&v).to_string());
                assert!(seen.insert(key.clone()), "duplicate {key:?}");
            }
        }
    }

    #[test]
    fn every_object_carries_bootstrap_metadata() {
        for v in cluster_roles()
            .iter()
            .chain(&cluster_role_bindings())
            .chain(&namespace_roles())
            .chain(&namespace_role_bindings())
        {
            assert_eq!(v["apiVersion"], "rbac.authorization.k8s.io/v1");
            assert_eq!(v["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults", "{}", name_of(v));
            assert_eq!(v["metadata"]["annotations"][AUTOUPDATE_ANNOTATION], "true", "{}", name_of(v));
        }
        for v in namespace_roles().iter().chain(&namespace_role_bindings()) {
            let ns = v["metadata"]["namespace"].as_str().unwrap();
            assert!(ns == KUBE_SYSTEM || ns == KUBE_PUBLIC);
        }
    }

    #[test]
    fn rules_are_sorted_like_upstream_builder() {
        for role in cluster_roles().iter().chain(&namespace_roles()) {
            for r in rules_of(role) {
                for list in [&r.verbs, &r.api_groups, &r.resources, &r.resource_names, &r.non_resource_urls] {
                    assert!(list.windows(2).all(|w| w[0] <= w[1]), "{} has unsorted {list:?}", name_of(role));
                }
            }
        }
    }

    #[test]
    fn cluster_admin_is_everything() {
        let roles = cluster_roles();
        let admin = find(&roles, "cluster-admin");
        let rules = rules_of(admin);
        assert_eq!(rules.len(), 2);
        assert_eq!(
            (rules[0].verbs.clone(), rules[0].api_groups.clone(), rules[0].resources.clone()),
            (vec!["*".into()], vec!["*".into()], vec!["*".into()])
        );
        assert_eq!((rules[1].verbs.clone(), rules[1].non_resource_urls.clone()), (vec!["*".into()], vec!["*".into()]));
        let binding = find(&cluster_role_bindings(), "cluster-admin").clone();
        assert_eq!(subjects_of(&binding), vec![group("system:masters")]);
    }

    #[test]
    fn aggregation_wiring() {
        let roles = cluster_roles();
        for (role, selector, label) in [
            ("admin", AGGREGATE_TO_ADMIN, None),
            ("edit", AGGREGATE_TO_EDIT, Some(AGGREGATE_TO_ADMIN)),
            ("view", AGGREGATE_TO_VIEW, Some(AGGREGATE_TO_EDIT)),
        ] {
            let r = find(&roles, role);
            assert_eq!(r["aggregationRule"]["clusterRoleSelectors"], json!([{"matchLabels": {selector: "true"}}]));
            assert_eq!(r["rules"], json!([]));
            if let Some(l) = label {
                assert_eq!(r["metadata"]["labels"][l], "true");
            }
        }
        for (role, label) in [
            ("system:aggregate-to-admin", AGGREGATE_TO_ADMIN),
            ("system:aggregate-to-edit", AGGREGATE_TO_EDIT),
            ("system:aggregate-to-view", AGGREGATE_TO_VIEW),
        ] {
            let r = find(&roles, role);
            assert_eq!(r["metadata"]["labels"][label], "true");
            assert!(r.get("aggregationRule").is_none());
        }
        let view = find(&roles, "system:aggregate-to-view");
        assert!(allows(view, "get", "", "pods", ""));
        assert!(allows(view, "list", "apps", "deployments", ""));
        assert!(!allows(view, "get", "", "secrets", ""));
        assert!(!allows(view, "create", "", "pods", ""));
        let edit = find(&roles, "system:aggregate-to-edit");
        assert!(allows(edit, "create", "apps", "deployments", ""));
        assert!(allows(edit, "get", "", "secrets", ""));
        assert!(!allows(edit, "create", "rbac.authorization.k8s.io", "rolebindings", ""));
        let admin = find(&roles, "system:aggregate-to-admin");
        assert!(allows(admin, "create", "rbac.authorization.k8s.io", "rolebindings", ""));
    }

    #[test]
    fn discovery_and_public_info() {
        let roles = cluster_roles();
        let d = find(&roles, "system:discovery");
        assert!(allows_path(d, "get", "/api"));
        assert!(allows_path(d, "get", "/apis/apps/v1"));
        assert!(!allows_path(d, "get", "/metrics"));
        let p = find(&roles, "system:public-info-viewer");
        assert!(allows_path(p, "get", "/version"));
        assert!(!allows_path(p, "get", "/api"));
        let m = find(&roles, "system:monitoring");
        assert!(allows_path(m, "get", "/readyz/etcd"));
    }

    #[test]
    fn well_known_bindings() {
        let b = cluster_role_bindings();
        // The Node authorizer grants nodes their access; the binding stays but binds nobody.
        assert_eq!(subjects_of(find(&b, "system:node")), vec![]);
        assert_eq!(subjects_of(find(&b, "system:kube-scheduler")), vec![user("system:kube-scheduler")]);
        assert_eq!(
            subjects_of(find(&b, "system:kube-controller-manager")),
            vec![user("system:kube-controller-manager")]
        );
        assert_eq!(subjects_of(find(&b, "system:basic-user")), vec![group("system:authenticated")]);
        assert_eq!(subjects_of(find(&b, "system:discovery")), vec![group("system:authenticated")]);
        assert_eq!(
            subjects_of(find(&b, "system:public-info-viewer")),
            vec![group("system:authenticated"), group("system:unauthenticated")]
        );
        assert_eq!(subjects_of(find(&b, "system:node-proxier")), vec![user("system:kube-proxy")]);
        assert_eq!(
            subjects_of(find(&b, "system:service-account-issuer-discovery")),
            vec![group("system:serviceaccounts")]
        );
        let gc = find(&b, "system:controller:generic-garbage-collector");
        assert_eq!(subjects_of(gc), vec![service_account("kube-system", "generic-garbage-collector")]);
        assert!(subject_matches(
            &subjects_of(gc)[0],
            "",
            "system:serviceaccount:kube-system:generic-garbage-collector",
            &[]
        ));
    }

    #[test]
    fn every_binding_refers_to_an_existing_role() {
        let roles: HashSet<String> = cluster_roles().iter().map(|r| name_of(r).to_string()).collect();
        for b in cluster_role_bindings() {
            assert_eq!(b["roleRef"]["kind"], "ClusterRole");
            assert_eq!(b["roleRef"]["apiGroup"], RBAC_GROUP);
            assert!(roles.contains(b["roleRef"]["name"].as_str().unwrap()), "{}", name_of(&b));
        }
        let ns_roles: HashSet<(String, String)> = namespace_roles()
            .iter()
            .map(|r| (r["metadata"]["namespace"].as_str().unwrap().to_string(), name_of(r).to_string()))
            .collect();
        for b in namespace_role_bindings() {
            assert_eq!(b["roleRef"]["kind"], "Role");
            let key = (
                b["metadata"]["namespace"].as_str().unwrap().to_string(),
                b["roleRef"]["name"].as_str().unwrap().to_string(),
            );
            assert!(ns_roles.contains(&key), "{key:?}");
        }
        // every controller role is bound, and only to its own service account
        let bindings = cluster_role_bindings();
        for r in cluster_roles().iter().filter(|r| name_of(r).starts_with(CONTROLLER_PREFIX)) {
            let sa = &name_of(r)[CONTROLLER_PREFIX.len()..];
            assert_eq!(subjects_of(find(&bindings, name_of(r))), vec![service_account(KUBE_SYSTEM, sa)]);
        }
    }

    #[test]
    fn namespace_policy() {
        let roles = namespace_roles();
        let reader = roles
            .iter()
            .find(|r| {
                name_of(r) == "extension-apiserver-authentication-reader" && r["metadata"]["namespace"] == KUBE_SYSTEM
            })
            .unwrap();
        assert_eq!(rules_of(reader)[0].resource_names, vec!["extension-apiserver-authentication".to_string()]);
        let public_signer = roles
            .iter()
            .find(|r| name_of(r) == "system:controller:bootstrap-signer" && r["metadata"]["namespace"] == KUBE_PUBLIC)
            .unwrap();
        assert_eq!(rules_of(public_signer)[1].resource_names, vec!["cluster-info".to_string()]);
        let b = namespace_role_bindings();
        let auth = find(&b, "system::extension-apiserver-authentication-reader");
        assert_eq!(auth["roleRef"]["name"], "extension-apiserver-authentication-reader");
        assert_eq!(subjects_of(auth), vec![user("system:kube-controller-manager"), user("system:kube-scheduler")]);
        let sched = find(&b, "system::leader-locking-kube-scheduler");
        assert_eq!(
            subjects_of(sched),
            vec![user("system:kube-scheduler"), service_account(KUBE_SYSTEM, "kube-scheduler")]
        );
    }

    #[test]
    fn node_and_scheduler_essentials() {
        let roles = cluster_roles();
        let node = find(&roles, "system:node");
        assert!(allows(node, "create", "", "nodes", ""));
        assert!(allows(node, "patch", "", "nodes", "status"));
        assert!(allows(node, "create", "", "serviceaccounts", "token"));
        assert!(!allows(node, "delete", "", "nodes", ""));
        let sched = find(&roles, "system:kube-scheduler");
        assert!(allows(sched, "create", "", "pods", "binding"));
        assert!(allows(sched, "create", "coordination.k8s.io", "leases", ""));
        let kubelet_admin = find(&roles, "system:kubelet-api-admin");
        assert!(allows(kubelet_admin, "get", "", "nodes", "configz"));
    }
}
