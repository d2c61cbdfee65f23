//! Strategic-merge-patch and list/map metadata of the built-in API types, as upstream v1.33
//! declares it in its Go types (`patchStrategy`/`patchMergeKey` struct tags and the
//! `+listType`, `+listMapKey`, `+mapType`, `+structType` markers) and publishes it in its
//! OpenAPI spec as `x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`.
//!
//! Covers every GA group/version served in 1.33 plus meta/v1, apiextensions/v1 and
//! apiregistration/v1. Definitions are named as upstream's OpenAPI names them. A few entries
//! belong to GA Go types that upstream's OpenAPI does not publish (Table, the *Options types,
//! PodExecOptions, ...); they are marked as such.
//!
//! Drives strategic merge patch (lists merged by key), server-side apply and the extensions of
//! the OpenAPI documents we serve.

/// Patch and list metadata of one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMeta {
    /// x-kubernetes-patch-strategy: "merge", "replace", "retainKeys" or "merge,retainKeys".
    pub patch_strategy: Option<&'static str>,
    /// x-kubernetes-patch-merge-key.
    pub patch_merge_key: Option<&'static str>,
    /// x-kubernetes-list-type: "atomic", "set" or "map".
    pub list_type: Option<&'static str>,
    /// x-kubernetes-list-map-keys.
    pub list_map_keys: &'static [&'static str],
    /// x-kubernetes-map-type: "atomic" or "granular".
    pub map_type: Option<&'static str>,
}

const EMPTY: FieldMeta =
    FieldMeta { patch_strategy: None, patch_merge_key: None, list_type: None, list_map_keys: &[], map_type: None };

/// `+listType=atomic`.
const ATOMIC_LIST: FieldMeta = FieldMeta { list_type: Some("atomic"), ..EMPTY };
/// `+listType=set`.
const SET_LIST: FieldMeta = FieldMeta { list_type: Some("set"), ..EMPTY };
/// `+mapType=atomic`.
const ATOMIC_MAP: FieldMeta = FieldMeta { map_type: Some("atomic"), ..EMPTY };
/// `+mapType=granular` / `+structType=granular`.
const GRANULAR_MAP: FieldMeta = FieldMeta { map_type: Some("granular"), ..EMPTY };

/// `+listType=map` with `+listMapKey`s, no patch strategy.
const fn map_list(keys: &'static [&'static str]) -> FieldMeta {
    FieldMeta { list_type: Some("map"), list_map_keys: keys, ..EMPTY }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"` with `+listType=map` and `+listMapKey`s.
const fn merge_map(key: &'static str, keys: &'static [&'static str]) -> FieldMeta {
    FieldMeta {
        patch_strategy: Some("merge"),
        patch_merge_key: Some(key),
        list_type: Some("map"),
        list_map_keys: keys,
        map_type: None,
    }
}

/// (definition name as upstream's OpenAPI names it, JSON property name, metadata), sorted by
/// (definition, property). Only properties with at least one non-empty attribute are listed.
#[rustfmt::skip]
pub static FIELDS: &[(&str, &str, FieldMeta)] = &[
    ("io.k8s.api.admissionregistration.v1.MatchResources", "excludeResourceRules", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.MatchResources", "resourceRules", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "admissionReviewVersions", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "matchConditions", merge_map("name", &["name"])),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "rules", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration", "webhooks", merge_map("name", &["name"])),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "apiGroups", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "apiVersions", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "operations", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "resourceNames", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "resources", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "apiGroups", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "apiVersions", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "operations", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.RuleWithOperations", "resources", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.TypeChecking", "expressionWarnings", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec", "validationActions", SET_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "auditAnnotations", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "matchConditions", merge_map("name", &["name"])),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "validations", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "variables", merge_map("name", &["name"])),
    ("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus", "conditions", map_list(&["type"])),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "admissionReviewVersions", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "matchConditions", merge_map("name", &["name"])),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "rules", ATOMIC_LIST),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration", "webhooks", merge_map("name", &["name"])),

    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", FieldMeta { patch_strategy: Some("retainKeys"), patch_merge_key: None, list_type: None, list_map_keys: &[], map_type: None }),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates", ATOMIC_LIST),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", merge_map("type", &["type"])),

    ("io.k8s.api.authentication.v1.TokenRequestSpec", "audiences", ATOMIC_LIST),
    ("io.k8s.api.authentication.v1.TokenReviewSpec", "audiences", ATOMIC_LIST),
    ("io.k8s.api.authentication.v1.TokenReviewStatus", "audiences", ATOMIC_LIST),
    ("io.k8s.api.authentication.v1.UserInfo", "groups", ATOMIC_LIST),

    ("io.k8s.api.authorization.v1.FieldSelectorAttributes", "requirements", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.LabelSelectorAttributes", "requirements", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.NonResourceRule", "nonResourceURLs", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.NonResourceRule", "verbs", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.ResourceRule", "apiGroups", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.ResourceRule", "resourceNames", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.ResourceRule", "resources", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.ResourceRule", "verbs", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.SubjectAccessReviewSpec", "groups", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", "nonResourceRules", ATOMIC_LIST),
    ("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", "resourceRules", ATOMIC_LIST),

    ("io.k8s.api.autoscaling.v2.HPAScalingRules", "policies", ATOMIC_LIST),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics", ATOMIC_LIST),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentMetrics", ATOMIC_LIST),

    ("io.k8s.api.batch.v1.CronJobStatus", "active", ATOMIC_LIST),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", FieldMeta { patch_strategy: Some("merge"), patch_merge_key: Some("type"), list_type: Some("atomic"), list_map_keys: &[], map_type: None }),
    ("io.k8s.api.batch.v1.PodFailurePolicy", "rules", ATOMIC_LIST),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", "values", SET_LIST),
    ("io.k8s.api.batch.v1.PodFailurePolicyRule", "onPodConditions", ATOMIC_LIST),
    ("io.k8s.api.batch.v1.SuccessPolicy", "rules", ATOMIC_LIST),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "failed", SET_LIST),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", "succeeded", SET_LIST),

    ("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "groups", ATOMIC_LIST),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "request", ATOMIC_LIST),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "usages", ATOMIC_LIST),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", "certificate", ATOMIC_LIST),
    ("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", "conditions", map_list(&["type"])),

    ("io.k8s.api.core.v1.AvoidPods", "preferAvoidPods", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.api.core.v1.Capabilities", "add", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Capabilities", "drop", ATOMIC_LIST),
    ("io.k8s.api.core.v1.CephFSPersistentVolumeSource", "monitors", ATOMIC_LIST),
    ("io.k8s.api.core.v1.CephFSVolumeSource", "monitors", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.ConfigMapProjection", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Container", "args", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Container", "command", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Container", "env", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.Container", "envFrom", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Container", "ports", merge_map("containerPort", &["containerPort", "protocol"])),
    ("io.k8s.api.core.v1.Container", "resizePolicy", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Container", "volumeDevices", merge_map("devicePath", &["devicePath"])),
    ("io.k8s.api.core.v1.Container", "volumeMounts", merge_map("mountPath", &["mountPath"])),
    ("io.k8s.api.core.v1.ContainerImage", "names", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", merge_map("mountPath", &["mountPath"])),
    ("io.k8s.api.core.v1.DownwardAPIProjection", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EndpointSubset", "addresses", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EndpointSubset", "notReadyAddresses", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EndpointSubset", "ports", ATOMIC_LIST),
    ("io.k8s.api.core.v1.Endpoints", "subsets", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EphemeralContainer", "args", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EphemeralContainer", "command", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.EphemeralContainer", "envFrom", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", merge_map("containerPort", &["containerPort", "protocol"])),
    ("io.k8s.api.core.v1.EphemeralContainer", "resizePolicy", ATOMIC_LIST),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", merge_map("devicePath", &["devicePath"])),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", merge_map("mountPath", &["mountPath"])),
    ("io.k8s.api.core.v1.ExecAction", "command", ATOMIC_LIST),
    ("io.k8s.api.core.v1.FCVolumeSource", "targetWWNs", ATOMIC_LIST),
    ("io.k8s.api.core.v1.FCVolumeSource", "wwids", ATOMIC_LIST),
    ("io.k8s.api.core.v1.HTTPGetAction", "httpHeaders", ATOMIC_LIST),
    ("io.k8s.api.core.v1.HostAlias", "hostnames", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", "portals", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", "portals", ATOMIC_LIST),
    ("io.k8s.api.core.v1.LimitRangeSpec", "limits", ATOMIC_LIST),
    ("io.k8s.api.core.v1.LinuxContainerUser", "supplementalGroups", ATOMIC_LIST),
    ("io.k8s.api.core.v1.LoadBalancerIngress", "ports", ATOMIC_LIST),
    ("io.k8s.api.core.v1.LoadBalancerStatus", "ingress", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NamespaceSpec", "finalizers", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeSelector", "nodeSelectorTerms", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", "values", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchExpressions", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchFields", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", FieldMeta { patch_strategy: Some("merge"), patch_merge_key: None, list_type: Some("set"), list_map_keys: &[], map_type: None }),
    ("io.k8s.api.core.v1.NodeSpec", "taints", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.NodeStatus", "images", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeStatus", "runtimeHandlers", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeStatus", "volumesAttached", ATOMIC_LIST),
    ("io.k8s.api.core.v1.NodeStatus", "volumesInUse", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "accessModes", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "accessModes", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "allocatedResourceStatuses", GRANULAR_MAP),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef", GRANULAR_MAP),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "mountOptions", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAffinityTerm", "matchLabelKeys", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAffinityTerm", "mismatchLabelKeys", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAffinityTerm", "namespaces", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodDNSConfig", "nameservers", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodDNSConfig", "options", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodDNSConfig", "searches", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodExecOptions", "command", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.api.core.v1.PodPortForwardOptions", "ports", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.api.core.v1.PodSecurityContext", "supplementalGroups", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodSecurityContext", "sysctls", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodSpec", "containers", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", merge_map("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector", ATOMIC_MAP),
    ("io.k8s.api.core.v1.PodSpec", "readinessGates", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", FieldMeta { patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), list_type: Some("map"), list_map_keys: &["name"], map_type: None }),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", merge_map("topologyKey", &["topologyKey", "whenUnsatisfiable"])),
    ("io.k8s.api.core.v1.PodSpec", "volumes", FieldMeta { patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), list_type: Some("map"), list_map_keys: &["name"], map_type: None }),
    ("io.k8s.api.core.v1.PodStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.PodStatus", "containerStatuses", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", FieldMeta { patch_strategy: Some("merge"), patch_merge_key: Some("ip"), list_type: Some("atomic"), list_map_keys: &[], map_type: None }),
    ("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", ATOMIC_LIST),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", merge_map("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", FieldMeta { patch_strategy: Some("merge,retainKeys"), patch_merge_key: Some("name"), list_type: Some("map"), list_map_keys: &["name"], map_type: None }),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", "sources", ATOMIC_LIST),
    ("io.k8s.api.core.v1.RBDPersistentVolumeSource", "monitors", ATOMIC_LIST),
    ("io.k8s.api.core.v1.RBDVolumeSource", "monitors", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "selector", ATOMIC_MAP),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.ResourceQuotaSpec", "scopes", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ResourceRequirements", "claims", map_list(&["name"])),
    ("io.k8s.api.core.v1.ResourceStatus", "resources", map_list(&["resourceID"])),
    ("io.k8s.api.core.v1.ScopeSelector", "matchExpressions", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", "values", ATOMIC_LIST),
    ("io.k8s.api.core.v1.SecretProjection", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.SecretVolumeSource", "items", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", merge_map("name", &["name"])),
    ("io.k8s.api.core.v1.ServiceSpec", "clusterIPs", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceSpec", "externalIPs", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges", ATOMIC_LIST),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", merge_map("port", &["port", "protocol"])),
    ("io.k8s.api.core.v1.ServiceSpec", "selector", ATOMIC_MAP),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.core.v1.TopologySelectorLabelRequirement", "values", ATOMIC_LIST),
    ("io.k8s.api.core.v1.TopologySelectorTerm", "matchLabelExpressions", ATOMIC_LIST),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "matchLabelKeys", ATOMIC_LIST),

    ("io.k8s.api.discovery.v1.Endpoint", "addresses", SET_LIST),
    ("io.k8s.api.discovery.v1.EndpointHints", "forNodes", ATOMIC_LIST),
    ("io.k8s.api.discovery.v1.EndpointHints", "forZones", ATOMIC_LIST),
    ("io.k8s.api.discovery.v1.EndpointSlice", "endpoints", ATOMIC_LIST),
    ("io.k8s.api.discovery.v1.EndpointSlice", "ports", ATOMIC_LIST),

    ("io.k8s.api.flowcontrol.v1.FlowSchemaSpec", "rules", ATOMIC_LIST),
    ("io.k8s.api.flowcontrol.v1.FlowSchemaStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", "nonResourceURLs", SET_LIST),
    ("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", "verbs", SET_LIST),
    ("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "nonResourceRules", ATOMIC_LIST),
    ("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "resourceRules", ATOMIC_LIST),
    ("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "subjects", ATOMIC_LIST),
    ("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus", "conditions", merge_map("type", &["type"])),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "apiGroups", SET_LIST),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "namespaces", SET_LIST),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "resources", SET_LIST),
    ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "verbs", SET_LIST),

    ("io.k8s.api.networking.v1.HTTPIngressRuleValue", "paths", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IPBlock", "except", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IngressLoadBalancerIngress", "ports", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IngressLoadBalancerStatus", "ingress", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IngressSpec", "rules", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IngressSpec", "tls", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.IngressTLS", "hosts", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "ports", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "to", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "from", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "ports", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "egress", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "ingress", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.ServiceCIDRSpec", "cidrs", ATOMIC_LIST),
    ("io.k8s.api.networking.v1.ServiceCIDRStatus", "conditions", merge_map("type", &["type"])),

    ("io.k8s.api.node.v1.Scheduling", "nodeSelector", ATOMIC_MAP),
    ("io.k8s.api.node.v1.Scheduling", "tolerations", ATOMIC_LIST),

    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", FieldMeta { patch_strategy: Some("replace"), patch_merge_key: None, list_type: None, list_map_keys: &[], map_type: None }),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", merge_map("type", &["type"])),

    ("io.k8s.api.rbac.v1.AggregationRule", "clusterRoleSelectors", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.ClusterRole", "rules", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.PolicyRule", "apiGroups", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.PolicyRule", "nonResourceURLs", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.PolicyRule", "resourceNames", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.PolicyRule", "resources", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.PolicyRule", "verbs", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.Role", "rules", ATOMIC_LIST),
    ("io.k8s.api.rbac.v1.RoleBinding", "subjects", ATOMIC_LIST),

    ("io.k8s.api.storage.v1.CSIDriverSpec", "tokenRequests", ATOMIC_LIST),
    ("io.k8s.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes", SET_LIST),
    ("io.k8s.api.storage.v1.CSINodeDriver", "topologyKeys", ATOMIC_LIST),
    ("io.k8s.api.storage.v1.CSINodeSpec", "drivers", merge_map("name", &["name"])),
    ("io.k8s.api.storage.v1.StorageClass", "allowedTopologies", ATOMIC_LIST),
    ("io.k8s.api.storage.v1.StorageClass", "mountOptions", ATOMIC_LIST),

    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ConversionRequest", "objects", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ConversionResponse", "convertedObjects", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames", "categories", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames", "shortNames", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec", "versions", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", "conditions", map_list(&["type"])),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", "storedVersions", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion", "additionalPrinterColumns", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion", "selectableFields", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "allOf", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "anyOf", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "enum", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "oneOf", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "required", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-list-map-keys", ATOMIC_LIST),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-validations", merge_map("rule", &["rule"])),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion", "conversionReviewVersions", ATOMIC_LIST),

    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "serverAddressByClientCIDRs", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "versions", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", "groups", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "categories", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "shortNames", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", "resources", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "serverAddressByClientCIDRs", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "versions", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ApplyOptions", "dryRun", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.CreateOptions", "dryRun", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "dryRun", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", "values", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchExpressions", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "values", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", FieldMeta { patch_strategy: Some("merge"), patch_merge_key: None, list_type: Some("set"), list_map_keys: &[], map_type: None }),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", merge_map("uid", &["uid"])),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.PatchOptions", "dryRun", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.RootPaths", "paths", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "details", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", "causes", ATOMIC_LIST),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Table", "columnDefinitions", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Table", "rows", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.TableRow", "cells", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.TableRow", "conditions", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI
    ("io.k8s.apimachinery.pkg.apis.meta.v1.UpdateOptions", "dryRun", ATOMIC_LIST),  // Go type only; absent from upstream's OpenAPI

    ("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceSpec", "caBundle", ATOMIC_LIST),
    ("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus", "conditions", merge_map("type", &["type"])),
];

/// Definition-level x-kubernetes-map-type (`+structType=atomic` / `+mapType=atomic` on the Go
/// type), sorted by definition.
#[rustfmt::skip]
pub static TYPES: &[(&str, &str)] = &[
    ("io.k8s.api.admissionregistration.v1.MatchResources", "atomic"),
    ("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "atomic"),
    ("io.k8s.api.admissionregistration.v1.ParamKind", "atomic"),
    ("io.k8s.api.admissionregistration.v1.ParamRef", "atomic"),
    ("io.k8s.api.admissionregistration.v1.Variable", "atomic"),
    ("io.k8s.api.autoscaling.v1.CrossVersionObjectReference", "atomic"),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", "atomic"),
    ("io.k8s.api.core.v1.EndpointAddress", "atomic"),
    ("io.k8s.api.core.v1.EndpointPort", "atomic"),
    ("io.k8s.api.core.v1.LocalObjectReference", "atomic"),
    ("io.k8s.api.core.v1.NodeSelector", "atomic"),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "atomic"),
    ("io.k8s.api.core.v1.ObjectFieldSelector", "atomic"),
    ("io.k8s.api.core.v1.ObjectReference", "atomic"),
    ("io.k8s.api.core.v1.ResourceFieldSelector", "atomic"),
    ("io.k8s.api.core.v1.ScopeSelector", "atomic"),
    ("io.k8s.api.core.v1.SecretKeySelector", "atomic"),
    ("io.k8s.api.core.v1.SecretReference", "atomic"),
    ("io.k8s.api.core.v1.TopologySelectorTerm", "atomic"),
    ("io.k8s.api.core.v1.TypedLocalObjectReference", "atomic"),
    ("io.k8s.api.discovery.v1.EndpointPort", "atomic"),
    ("io.k8s.api.networking.v1.ServiceBackendPort", "atomic"),
    ("io.k8s.api.rbac.v1.RoleRef", "atomic"),
    ("io.k8s.api.rbac.v1.Subject", "atomic"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "atomic"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", "atomic"),
];

/// The metadata of `property` of `definition`, if upstream declares any.
pub fn field(definition: &str, property: &str) -> Option<&'static FieldMeta> {
    FIELDS.binary_search_by(|(d, p, _)| (*d, *p).cmp(&(definition, property))).ok().map(|i| &FIELDS[i].2)
}

/// The definition-level x-kubernetes-map-type of `definition`, if upstream declares one.
pub fn type_map_type(definition: &str) -> Option<&'static str> {
    TYPES.binary_search_by(|(d, _)| (*d).cmp(definition)).ok().map(|i| TYPES[i].1)
}

/// Every property of `definition` that carries metadata, in property-name order.
pub fn fields_of(definition: &str) -> impl Iterator<Item = (&'static str, &'static FieldMeta)> + '_ {
    let start = FIELDS.partition_point(|(d, _, _)| *d < definition);
    FIELDS[start..].iter().take_while(move |(d, _, _)| *d == definition).map(|(_, p, m)| (*p, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = "io.k8s.api.core.v1.";
    const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

    fn core(ty: &str, prop: &str) -> &'static FieldMeta {
        field(&format!("{CORE}{ty}"), prop).unwrap_or_else(|| panic!("{ty}.{prop} missing"))
    }

    fn meta(ty: &str, prop: &str) -> &'static FieldMeta {
        field(&format!("{META}{ty}"), prop).unwrap_or_else(|| panic!("{ty}.{prop} missing"))
    }

    #[test]
    fn pod_spec_containers_merge_by_name() {
        let m = core("PodSpec", "containers");
        assert_eq!(m.patch_strategy, Some("merge"));
        assert_eq!(m.patch_merge_key, Some("name"));
        assert_eq!(m.list_type, Some("map"));
        assert_eq!(m.list_map_keys, &["name"]);
        assert_eq!(core("PodSpec", "initContainers"), m);
        assert_eq!(core("PodSpec", "ephemeralContainers"), m);
    }

    #[test]
    fn container_ports_and_env() {
        for ty in ["Container", "EphemeralContainer"] {
            let ports = core(ty, "ports");
            assert_eq!(ports.patch_strategy, Some("merge"));
            assert_eq!(ports.patch_merge_key, Some("containerPort"));
            assert_eq!(ports.list_type, Some("map"));
            assert_eq!(ports.list_map_keys, &["containerPort", "protocol"]);
            let env = core(ty, "env");
            assert_eq!(env.patch_strategy, Some("merge"));
            assert_eq!(env.patch_merge_key, Some("name"));
            assert_eq!(env.list_map_keys, &["name"]);
            assert_eq!(core(ty, "volumeMounts").patch_merge_key, Some("mountPath"));
            assert_eq!(core(ty, "command"), &ATOMIC_LIST);
        }
        assert_eq!(field("io.k8s.api.core.v1.Container", "image"), None);
    }

    #[test]
    fn pod_spec_volumes_retain_keys() {
        let m = core("PodSpec", "volumes");
        assert_eq!(m.patch_strategy, Some("merge,retainKeys"));
        assert_eq!(m.patch_merge_key, Some("name"));
        assert_eq!(m.list_type, Some("map"));
        assert_eq!(m.list_map_keys, &["name"]);
        assert_eq!(core("PodSpec", "tolerations"), &ATOMIC_LIST);
        assert_eq!(core("PodSpec", "nodeSelector").map_type, Some("atomic"));
    }

    #[test]
    fn object_meta() {
        let owners = meta("ObjectMeta", "ownerReferences");
        assert_eq!(owners.patch_strategy, Some("merge"));
        assert_eq!(owners.patch_merge_key, Some("uid"));
        assert_eq!(owners.list_type, Some("map"));
        assert_eq!(owners.list_map_keys, &["uid"]);
        let finalizers = meta("ObjectMeta", "finalizers");
        assert_eq!(finalizers.patch_strategy, Some("merge"));
        assert_eq!(finalizers.patch_merge_key, None);
        assert_eq!(finalizers.list_type, Some("set"));
        assert_eq!(meta("ObjectMeta", "managedFields"), &ATOMIC_LIST);
        assert_eq!(field(&format!("{META}ObjectMeta"), "labels"), None);
        assert_eq!(type_map_type(&format!("{META}OwnerReference")), Some("atomic"));
    }

    #[test]
    fn label_selector() {
        assert_eq!(meta("LabelSelector", "matchExpressions").list_type, Some("atomic"));
        assert_eq!(meta("LabelSelectorRequirement", "values").list_type, Some("atomic"));
        assert_eq!(type_map_type(&format!("{META}LabelSelector")), Some("atomic"));
    }

    #[test]
    fn service_ports() {
        let m = core("ServiceSpec", "ports");
        assert_eq!(m.patch_strategy, Some("merge"));
        assert_eq!(m.patch_merge_key, Some("port"));
        assert_eq!(m.list_type, Some("map"));
        assert_eq!(m.list_map_keys, &["port", "protocol"]);
        assert_eq!(core("ServiceSpec", "selector").map_type, Some("atomic"));
    }

    #[test]
    fn conditions_and_odd_ones() {
        let d = field("io.k8s.api.apps.v1.DeploymentStatus", "conditions").unwrap();
        assert_eq!(*d, merge_map("type", &["type"]));
        let j = field("io.k8s.api.batch.v1.JobStatus", "conditions").unwrap();
        assert_eq!((j.patch_strategy, j.patch_merge_key, j.list_type), (Some("merge"), Some("type"), Some("atomic")));
        let s = field("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert_eq!(s.patch_strategy, Some("retainKeys"));
        let pdb = field("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector").unwrap();
        assert_eq!(pdb.patch_strategy, Some("replace"));
        assert_eq!(core("PersistentVolumeSpec", "claimRef").map_type, Some("granular"));
        assert_eq!(type_map_type("io.k8s.api.core.v1.NodeSelectorTerm"), Some("atomic"));
        assert_eq!(type_map_type("io.k8s.api.core.v1.ObjectReference"), Some("atomic"));
        assert_eq!(type_map_type("io.k8s.api.core.v1.PodSpec"), None);
        assert_eq!(fields_of("io.k8s.api.core.v1.Capabilities").map(|(p, _)| p).collect::<Vec<_>>(), ["add", "drop"]);
    }

    #[test]
    fn table_is_well_formed() {
        for w in FIELDS.windows(2) {
            assert!((w[0].0, w[0].1) < (w[1].0, w[1].1), "unsorted or duplicate: {:?} / {:?}", w[0].0, w[1].1);
        }
        for w in TYPES.windows(2) {
            assert!(w[0].0 < w[1].0, "unsorted or duplicate: {}", w[1].0);
        }
        for (d, p, m) in FIELDS {
            assert!(d.starts_with("io.k8s."), "{d}");
            assert_ne!(*m, EMPTY, "{d}.{p}");
            assert!(m
                .patch_strategy
                .is_none_or(|s| ["merge", "replace", "retainKeys", "merge,retainKeys"].contains(&s)));
            assert!(m.list_type.is_none_or(|t| ["atomic", "set", "map"].contains(&t)));
            assert!(m.map_type.is_none_or(|t| ["atomic", "granular"].contains(&t)));
            assert_eq!(m.list_type == Some("map"), !m.list_map_keys.is_empty(), "{d}.{p}");
            assert_eq!(field(d, p), Some(m));
        }
        for (d, t) in TYPES {
            assert!(d.starts_with("io.k8s."), "{d}");
            assert_eq!(type_map_type(d), Some(*t));
        }
    }
}
