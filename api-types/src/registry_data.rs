//! The built-in resources upstream Kubernetes v1.33's kube-apiserver serves by default,
//! restricted to GA group/versions (no alpha/beta versions).
//!
//! Order:
//! * group/versions follow upstream's discovery order: the legacy core group (`/api/v1`) first,
//!   then the groups in the order `/apis` lists them (highest group priority first), and within
//!   a group the preferred version first (`autoscaling/v2` before `autoscaling/v1`);
//! * within a group/version, resources are sorted by name exactly as the discovery
//!   `APIResourceList` documents list them, and subresources are sorted by name as well.
//!
//! Subresource `group`/`version` are always filled in explicitly: when the discovery document
//! leaves them empty (same group/version as the parent resource) the parent's group/version is
//! used here.
//!
//! Etcd prefixes are the key prefix under `/registry/` that upstream stores each resource at (as
//! checked by upstream's `test/integration/etcd` storage-path test); virtual resources that are
//! never persisted have an empty prefix.

use crate::registry::{ResourceDef, SubresourceDef};

/// The full verb set of an ordinary stored resource, in discovery order.
const CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// `namespaces` has no `deletecollection`.
const CRUD_NO_DELETECOLLECTION: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
/// `status`, `scale`, `approval`, `ephemeralcontainers`, `resize`.
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
/// Create-only virtual resources and subresources (reviews, bindings, eviction, token).
const CREATE: &[&str] = &["create"];
/// `exec`, `attach`, `portforward` (connect subresources answering GET and POST).
const CREATE_GET: &[&str] = &["create", "get"];
/// `proxy` subresources (connect answering every HTTP method).
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

const NONE: &[&str] = &[];
const CAT_ALL: &[&str] = &["all"];
const CAT_API_EXTENSIONS: &[&str] = &["api-extensions"];

const NO_SUBRESOURCES: &[SubresourceDef] = &[];

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> SubresourceDef {
    SubresourceDef { name: "status", group, version, kind, verbs: GET_PATCH_UPDATE }
}

/// The `scale` subresource of workload resources: always `autoscaling/v1` `Scale`.
const SCALE: SubresourceDef =
    SubresourceDef { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: GET_PATCH_UPDATE };

pub static RESOURCES: &[ResourceDef] = &[
    // ------------------------------------------------------------------ core v1 (/api/v1)
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Binding",
        plural: "bindings",
        singular: "binding",
        short_names: NONE,
        namespaced: true,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ComponentStatus",
        plural: "componentstatuses",
        singular: "componentstatus",
        short_names: &["cs"],
        namespaced: false,
        verbs: &["get", "list"],
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        short_names: &["cm"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "configmaps",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        short_names: &["ep"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "services/endpoints",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "events",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        singular: "limitrange",
        short_names: &["limits"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "limitranges",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        short_names: &["ns"],
        namespaced: false,
        verbs: CRUD_NO_DELETECOLLECTION,
        categories: NONE,
        subresources: &[
            SubresourceDef { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] },
            status("", "v1", "Namespace"),
        ],
        etcd_prefix: "namespaces",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        short_names: &["no"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[
            SubresourceDef { name: "proxy", group: "", version: "v1", kind: "NodeProxyOptions", verbs: PROXY },
            status("", "v1", "Node"),
        ],
        etcd_prefix: "minions",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        short_names: &["pvc"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("", "v1", "PersistentVolumeClaim")],
        etcd_prefix: "persistentvolumeclaims",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        singular: "persistentvolume",
        short_names: &["pv"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("", "v1", "PersistentVolume")],
        etcd_prefix: "persistentvolumes",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        short_names: &["po"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[
            SubresourceDef { name: "attach", group: "", version: "v1", kind: "PodAttachOptions", verbs: CREATE_GET },
            SubresourceDef { name: "binding", group: "", version: "v1", kind: "Binding", verbs: CREATE },
            SubresourceDef {
                name: "ephemeralcontainers",
                group: "",
                version: "v1",
                kind: "Pod",
                verbs: GET_PATCH_UPDATE,
            },
            SubresourceDef { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: CREATE },
            SubresourceDef { name: "exec", group: "", version: "v1", kind: "PodExecOptions", verbs: CREATE_GET },
            SubresourceDef { name: "log", group: "", version: "v1", kind: "Pod", verbs: &["get"] },
            SubresourceDef {
                name: "portforward",
                group: "",
                version: "v1",
                kind: "PodPortForwardOptions",
                verbs: CREATE_GET,
            },
            SubresourceDef { name: "proxy", group: "", version: "v1", kind: "PodProxyOptions", verbs: PROXY },
            // Served since 1.33 by default (InPlacePodVerticalScaling is beta, on by default).
            SubresourceDef { name: "resize", group: "", version: "v1", kind: "Pod", verbs: GET_PATCH_UPDATE },
            status("", "v1", "Pod"),
        ],
        etcd_prefix: "pods",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        singular: "podtemplate",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "podtemplates",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        short_names: &["rc"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[SCALE, status("", "v1", "ReplicationController")],
        etcd_prefix: "controllers",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        short_names: &["quota"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("", "v1", "ResourceQuota")],
        etcd_prefix: "resourcequotas",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "secrets",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        short_names: &["sa"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: &[SubresourceDef {
            name: "token",
            group: "authentication.k8s.io",
            version: "v1",
            kind: "TokenRequest",
            verbs: CREATE,
        }],
        etcd_prefix: "serviceaccounts",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        short_names: &["svc"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[
            SubresourceDef { name: "proxy", group: "", version: "v1", kind: "ServiceProxyOptions", verbs: PROXY },
            status("", "v1", "Service"),
        ],
        etcd_prefix: "services/specs",
    },
    // ------------------------------------------------------------------ apiregistration.k8s.io/v1
    ResourceDef {
        group: "apiregistration.k8s.io",
        version: "v1",
        kind: "APIService",
        plural: "apiservices",
        singular: "apiservice",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: &[status("apiregistration.k8s.io", "v1", "APIService")],
        etcd_prefix: "apiregistration.k8s.io/apiservices",
    },
    // ------------------------------------------------------------------ apps/v1
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        singular: "controllerrevision",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "controllerrevisions",
    },
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        singular: "daemonset",
        short_names: &["ds"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[status("apps", "v1", "DaemonSet")],
        etcd_prefix: "daemonsets",
    },
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        short_names: &["deploy"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[SCALE, status("apps", "v1", "Deployment")],
        etcd_prefix: "deployments",
    },
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        short_names: &["rs"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[SCALE, status("apps", "v1", "ReplicaSet")],
        etcd_prefix: "replicasets",
    },
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        short_names: &["sts"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[SCALE, status("apps", "v1", "StatefulSet")],
        etcd_prefix: "statefulsets",
    },
    // ------------------------------------------------------------------ events.k8s.io/v1
    ResourceDef {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        short_names: &["ev"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        // Shares storage with core v1 events.
        etcd_prefix: "events",
    },
    // ------------------------------------------------------------------ authentication.k8s.io/v1
    ResourceDef {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        short_names: NONE,
        namespaced: false,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        short_names: NONE,
        namespaced: false,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    // ------------------------------------------------------------------ authorization.k8s.io/v1
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        short_names: NONE,
        namespaced: true,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        short_names: NONE,
        namespaced: false,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        short_names: NONE,
        namespaced: false,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        short_names: NONE,
        namespaced: false,
        verbs: CREATE,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "",
    },
    // ------------------------------------------------------------------ autoscaling/v2 (preferred)
    ResourceDef {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        short_names: &["hpa"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[status("autoscaling", "v2", "HorizontalPodAutoscaler")],
        etcd_prefix: "horizontalpodautoscalers",
    },
    // ------------------------------------------------------------------ autoscaling/v1
    ResourceDef {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        short_names: &["hpa"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[status("autoscaling", "v1", "HorizontalPodAutoscaler")],
        etcd_prefix: "horizontalpodautoscalers",
    },
    // ------------------------------------------------------------------ batch/v1
    ResourceDef {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        singular: "cronjob",
        short_names: &["cj"],
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[status("batch", "v1", "CronJob")],
        etcd_prefix: "cronjobs",
    },
    ResourceDef {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: CAT_ALL,
        subresources: &[status("batch", "v1", "Job")],
        etcd_prefix: "jobs",
    },
    // ------------------------------------------------------------------ certificates.k8s.io/v1
    ResourceDef {
        group: "certificates.k8s.io",
        version: "v1",
        kind: "CertificateSigningRequest",
        plural: "certificatesigningrequests",
        singular: "certificatesigningrequest",
        short_names: &["csr"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[
            SubresourceDef {
                name: "approval",
                group: "certificates.k8s.io",
                version: "v1",
                kind: "CertificateSigningRequest",
                verbs: GET_PATCH_UPDATE,
            },
            status("certificates.k8s.io", "v1", "CertificateSigningRequest"),
        ],
        etcd_prefix: "certificatesigningrequests",
    },
    // ------------------------------------------------------------------ networking.k8s.io/v1
    ResourceDef {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        singular: "ingressclass",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "ingressclasses",
    },
    ResourceDef {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        short_names: &["ing"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("networking.k8s.io", "v1", "Ingress")],
        etcd_prefix: "ingress",
    },
    // GA in 1.33 (MultiCIDRServiceAllocator).
    ResourceDef {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IPAddress",
        plural: "ipaddresses",
        singular: "ipaddress",
        short_names: &["ip"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "ipaddresses",
    },
    ResourceDef {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        singular: "networkpolicy",
        short_names: &["netpol"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "networkpolicies",
    },
    // GA in 1.33 (MultiCIDRServiceAllocator).
    ResourceDef {
        group: "networking.k8s.io",
        version: "v1",
        kind: "ServiceCIDR",
        plural: "servicecidrs",
        singular: "servicecidr",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("networking.k8s.io", "v1", "ServiceCIDR")],
        etcd_prefix: "servicecidrs",
    },
    // ------------------------------------------------------------------ policy/v1
    ResourceDef {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        short_names: &["pdb"],
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("policy", "v1", "PodDisruptionBudget")],
        etcd_prefix: "poddisruptionbudgets",
    },
    // ------------------------------------------------------------------ rbac.authorization.k8s.io/v1
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "clusterrolebindings",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "clusterroles",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "rolebindings",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "roles",
    },
    // ------------------------------------------------------------------ storage.k8s.io/v1
    // (volumeattributesclasses only reached v1 in 1.34: not served as v1 in 1.33.)
    ResourceDef {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        plural: "csidrivers",
        singular: "csidriver",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "csidrivers",
    },
    ResourceDef {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSINode",
        plural: "csinodes",
        singular: "csinode",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "csinodes",
    },
    ResourceDef {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIStorageCapacity",
        plural: "csistoragecapacities",
        singular: "csistoragecapacity",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "csistoragecapacities",
    },
    ResourceDef {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        singular: "storageclass",
        short_names: &["sc"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "storageclasses",
    },
    ResourceDef {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttachment",
        plural: "volumeattachments",
        singular: "volumeattachment",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("storage.k8s.io", "v1", "VolumeAttachment")],
        etcd_prefix: "volumeattachments",
    },
    // ------------------------------------------------------------------ admissionregistration.k8s.io/v1
    // (mutatingadmissionpolicies[bindings] are not v1 in 1.33.)
    ResourceDef {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        singular: "mutatingwebhookconfiguration",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "mutatingwebhookconfigurations",
    },
    ResourceDef {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicy",
        plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: &[status("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy")],
        etcd_prefix: "validatingadmissionpolicies",
    },
    ResourceDef {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicyBinding",
        plural: "validatingadmissionpolicybindings",
        singular: "validatingadmissionpolicybinding",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "validatingadmissionpolicybindings",
    },
    ResourceDef {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        singular: "validatingwebhookconfiguration",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "validatingwebhookconfigurations",
    },
    // ------------------------------------------------------------------ apiextensions.k8s.io/v1
    ResourceDef {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        short_names: &["crd", "crds"],
        namespaced: false,
        verbs: CRUD,
        categories: CAT_API_EXTENSIONS,
        subresources: &[status("apiextensions.k8s.io", "v1", "CustomResourceDefinition")],
        etcd_prefix: "apiextensions.k8s.io/customresourcedefinitions",
    },
    // ------------------------------------------------------------------ scheduling.k8s.io/v1
    ResourceDef {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        short_names: &["pc"],
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "priorityclasses",
    },
    // ------------------------------------------------------------------ coordination.k8s.io/v1
    ResourceDef {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "leases",
    },
    // ------------------------------------------------------------------ node.k8s.io/v1
    ResourceDef {
        group: "node.k8s.io",
        version: "v1",
        kind: "RuntimeClass",
        plural: "runtimeclasses",
        singular: "runtimeclass",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "runtimeclasses",
    },
    // ------------------------------------------------------------------ discovery.k8s.io/v1
    ResourceDef {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        short_names: NONE,
        namespaced: true,
        verbs: CRUD,
        categories: NONE,
        subresources: NO_SUBRESOURCES,
        etcd_prefix: "endpointslices",
    },
    // ------------------------------------------------------------------ flowcontrol.apiserver.k8s.io/v1
    ResourceDef {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "FlowSchema",
        plural: "flowschemas",
        singular: "flowschema",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema")],
        etcd_prefix: "flowschemas",
    },
    ResourceDef {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "PriorityLevelConfiguration",
        plural: "prioritylevelconfigurations",
        singular: "prioritylevelconfiguration",
        short_names: NONE,
        namespaced: false,
        verbs: CRUD,
        categories: NONE,
        subresources: &[status("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration")],
        etcd_prefix: "prioritylevelconfigurations",
    },
];

#[cfg(test)]
mod tests {
    use super::RESOURCES;
    use crate::registry::ResourceDef;
    use std::collections::HashSet;

    fn find(group: &str, version: &str, plural: &str) -> &'static ResourceDef {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .unwrap_or_else(|| panic!("{group}/{version} {plural} missing"))
    }

    #[test]
    fn no_duplicate_group_version_plural() {
        let mut seen = HashSet::new();
        for r in RESOURCES {
            assert!(seen.insert((r.group, r.version, r.plural)), "duplicate {} {}", r.api_version(), r.plural);
        }
    }

    #[test]
    fn pods_short_name_and_categories() {
        let pods = find("", "v1", "pods");
        assert_eq!(pods.short_names, &["po"]);
        assert_eq!(pods.categories, &["all"]);
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        let eviction = pods.subresource("eviction").expect("pods/eviction");
        assert_eq!((eviction.group, eviction.version, eviction.kind), ("policy", "v1", "Eviction"));
        assert!(pods.subresource("resize").is_some());
    }

    #[test]
    fn well_known_etcd_prefixes() {
        assert_eq!(find("", "v1", "services").etcd_prefix, "services/specs");
        assert_eq!(find("", "v1", "endpoints").etcd_prefix, "services/endpoints");
        assert_eq!(find("", "v1", "nodes").etcd_prefix, "minions");
        assert_eq!(find("", "v1", "replicationcontrollers").etcd_prefix, "controllers");
        assert_eq!(find("networking.k8s.io", "v1", "ingresses").etcd_prefix, "ingress");
        assert_eq!(
            find("apiextensions.k8s.io", "v1", "customresourcedefinitions").etcd_prefix,
            "apiextensions.k8s.io/customresourcedefinitions"
        );
        assert_eq!(
            find("apiregistration.k8s.io", "v1", "apiservices").etcd_prefix,
            "apiregistration.k8s.io/apiservices"
        );
        assert_eq!(find("events.k8s.io", "v1", "events").etcd_prefix, "events");
        assert_eq!(
            find("autoscaling", "v1", "horizontalpodautoscalers").etcd_prefix,
            find("autoscaling", "v2", "horizontalpodautoscalers").etcd_prefix
        );
    }

    #[test]
    fn stored_resources_have_prefix_virtual_ones_do_not() {
        let virtual_resources: HashSet<&str> = [
            "bindings",
            "componentstatuses",
            "tokenreviews",
            "selfsubjectreviews",
            "subjectaccessreviews",
            "localsubjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
        ]
        .into_iter()
        .collect();
        for r in RESOURCES {
            if virtual_resources.contains(r.plural) {
                assert!(!r.is_stored(), "{} should be virtual", r.plural);
            } else {
                assert!(!r.etcd_prefix.is_empty(), "{} {} has no prefix", r.api_version(), r.plural);
                assert!(!r.etcd_prefix.starts_with('/') && !r.etcd_prefix.ends_with('/'));
                // Every stored resource supports the full CRUD+watch verb set except
                // namespaces, which lacks deletecollection.
                for verb in ["create", "delete", "get", "list", "patch", "update", "watch"] {
                    assert!(r.has_verb(verb), "{} lacks {verb}", r.plural);
                }
            }
        }
    }

    #[test]
    fn resources_and_subresources_sorted_within_group_version() {
        let mut i = 0;
        while i < RESOURCES.len() {
            let mut j = i;
            while j + 1 < RESOURCES.len()
                && RESOURCES[j + 1].group == RESOURCES[i].group
                && RESOURCES[j + 1].version == RESOURCES[i].version
            {
                assert!(RESOURCES[j].plural < RESOURCES[j + 1].plural);
                j += 1;
            }
            i = j + 1;
        }
        for r in RESOURCES {
            for w in r.subresources.windows(2) {
                assert!(w[0].name < w[1].name, "{} subresources unsorted", r.plural);
            }
        }
    }

    #[test]
    fn verbs_are_sorted() {
        for r in RESOURCES {
            assert!(r.verbs.windows(2).all(|w| w[0] < w[1]), "{}", r.plural);
            for s in r.subresources {
                assert!(s.verbs.windows(2).all(|w| w[0] < w[1]), "{}/{}", r.plural, s.name);
            }
        }
    }

    #[test]
    fn group_versions_are_contiguous() {
        let mut seen = HashSet::new();
        let mut prev: Option<(&str, &str)> = None;
        for r in RESOURCES {
            let gv = (r.group, r.version);
            if prev != Some(gv) {
                assert!(seen.insert(gv), "{} appears in two separate runs", r.api_version());
                prev = Some(gv);
            }
        }
        assert_eq!(RESOURCES.len(), 61);
    }
}
