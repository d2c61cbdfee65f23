//! The typed round trip through k8s-openapi's structs. Decoding into the typed struct is what
//! upstream's decoder does: unknown fields are dropped, wrongly typed fields are a 400.

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
use serde_json::Value;

type RoundTrip = fn(Value) -> Result<Value, serde_json::Error>;

fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(v: Value) -> Result<Value, serde_json::Error> {
    let t: T = serde_json::from_value(v)?;
    serde_json::to_value(t)
}

macro_rules! table {
    ($( ($g:literal, $v:literal, $k:literal) => $t:ty ),* $(,)?) => {
        fn lookup(group: &str, version: &str, kind: &str) -> Option<RoundTrip> {
            match (group, version, kind) {
                $( ($g, $v, $k) => Some(rt::<$t> as RoundTrip), )*
                _ => None,
            }
        }
        /// Every (group, version, kind) with a typed form.
        pub const KNOWN: &[(&str, &str, &str)] = &[ $( ($g, $v, $k), )* ];

        /// Registers the schema of every typed kind (and of everything it references) with
        /// the generator; returns each kind's (group, version, kind, definition name).
        #[cfg(feature = "schemars")]
        pub fn register_schemas(gen: &mut schemars::SchemaGenerator) -> Vec<(&'static str, &'static str, &'static str, String)> {
            let mut out = Vec::new();
            $(
                gen.subschema_for::<$t>();
                out.push(($g, $v, $k, <$t as schemars::JsonSchema>::schema_name().into_owned()));
            )*
            out
        }
    };
}

table! {
    ("", "v1", "Binding") => api::core::v1::Binding,
    ("", "v1", "ComponentStatus") => api::core::v1::ComponentStatus,
    ("", "v1", "ConfigMap") => api::core::v1::ConfigMap,
    ("", "v1", "Endpoints") => api::core::v1::Endpoints,
    ("", "v1", "Event") => api::core::v1::Event,
    ("", "v1", "LimitRange") => api::core::v1::LimitRange,
    ("", "v1", "Namespace") => api::core::v1::Namespace,
    ("", "v1", "Node") => api::core::v1::Node,
    ("", "v1", "PersistentVolume") => api::core::v1::PersistentVolume,
    ("", "v1", "PersistentVolumeClaim") => api::core::v1::PersistentVolumeClaim,
    ("", "v1", "Pod") => api::core::v1::Pod,
    ("", "v1", "PodTemplate") => api::core::v1::PodTemplate,
    ("", "v1", "ReplicationController") => api::core::v1::ReplicationController,
    ("", "v1", "ResourceQuota") => api::core::v1::ResourceQuota,
    ("", "v1", "Secret") => api::core::v1::Secret,
    ("", "v1", "Service") => api::core::v1::Service,
    ("", "v1", "ServiceAccount") => api::core::v1::ServiceAccount,
    ("apps", "v1", "ControllerRevision") => api::apps::v1::ControllerRevision,
    ("apps", "v1", "DaemonSet") => api::apps::v1::DaemonSet,
    ("apps", "v1", "Deployment") => api::apps::v1::Deployment,
    ("apps", "v1", "ReplicaSet") => api::apps::v1::ReplicaSet,
    ("apps", "v1", "StatefulSet") => api::apps::v1::StatefulSet,
    ("batch", "v1", "CronJob") => api::batch::v1::CronJob,
    ("batch", "v1", "Job") => api::batch::v1::Job,
    ("autoscaling", "v1", "HorizontalPodAutoscaler") => api::autoscaling::v1::HorizontalPodAutoscaler,
    ("autoscaling", "v1", "Scale") => api::autoscaling::v1::Scale,
    ("autoscaling", "v2", "HorizontalPodAutoscaler") => api::autoscaling::v2::HorizontalPodAutoscaler,
    ("policy", "v1", "PodDisruptionBudget") => api::policy::v1::PodDisruptionBudget,
    ("policy", "v1", "Eviction") => api::policy::v1::Eviction,
    ("networking.k8s.io", "v1", "Ingress") => api::networking::v1::Ingress,
    ("networking.k8s.io", "v1", "IngressClass") => api::networking::v1::IngressClass,
    ("networking.k8s.io", "v1", "NetworkPolicy") => api::networking::v1::NetworkPolicy,
    ("networking.k8s.io", "v1", "IPAddress") => api::networking::v1::IPAddress,
    ("networking.k8s.io", "v1", "ServiceCIDR") => api::networking::v1::ServiceCIDR,
    ("discovery.k8s.io", "v1", "EndpointSlice") => api::discovery::v1::EndpointSlice,
    ("rbac.authorization.k8s.io", "v1", "ClusterRole") => api::rbac::v1::ClusterRole,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => api::rbac::v1::ClusterRoleBinding,
    ("rbac.authorization.k8s.io", "v1", "Role") => api::rbac::v1::Role,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding") => api::rbac::v1::RoleBinding,
    ("storage.k8s.io", "v1", "CSIDriver") => api::storage::v1::CSIDriver,
    ("storage.k8s.io", "v1", "CSINode") => api::storage::v1::CSINode,
    ("storage.k8s.io", "v1", "CSIStorageCapacity") => api::storage::v1::CSIStorageCapacity,
    ("storage.k8s.io", "v1", "StorageClass") => api::storage::v1::StorageClass,
    ("storage.k8s.io", "v1", "VolumeAttachment") => api::storage::v1::VolumeAttachment,
    ("coordination.k8s.io", "v1", "Lease") => api::coordination::v1::Lease,
    ("certificates.k8s.io", "v1", "CertificateSigningRequest") => api::certificates::v1::CertificateSigningRequest,
    ("scheduling.k8s.io", "v1", "PriorityClass") => api::scheduling::v1::PriorityClass,
    ("node.k8s.io", "v1", "RuntimeClass") => api::node::v1::RuntimeClass,
    ("events.k8s.io", "v1", "Event") => api::events::v1::Event,
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => api::admissionregistration::v1::MutatingWebhookConfiguration,
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => api::admissionregistration::v1::ValidatingWebhookConfiguration,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") => api::admissionregistration::v1::ValidatingAdmissionPolicy,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding") => api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => apiext::CustomResourceDefinition,
    ("apiregistration.k8s.io", "v1", "APIService") => apireg::APIService,
    ("authentication.k8s.io", "v1", "TokenReview") => api::authentication::v1::TokenReview,
    ("authentication.k8s.io", "v1", "TokenRequest") => api::authentication::v1::TokenRequest,
    ("authentication.k8s.io", "v1", "SelfSubjectReview") => api::authentication::v1::SelfSubjectReview,
    ("authorization.k8s.io", "v1", "SubjectAccessReview") => api::authorization::v1::SubjectAccessReview,
    ("authorization.k8s.io", "v1", "LocalSubjectAccessReview") => api::authorization::v1::LocalSubjectAccessReview,
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview") => api::authorization::v1::SelfSubjectAccessReview,
    ("authorization.k8s.io", "v1", "SelfSubjectRulesReview") => api::authorization::v1::SelfSubjectRulesReview,
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema") => api::flowcontrol::v1::FlowSchema,
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration") => api::flowcontrol::v1::PriorityLevelConfiguration,
}

/// Decodes `obj` as the typed kind and encodes it back, pruning unknown fields. Kinds without
/// a typed form (custom resources) pass through unchanged. The error is the decoder's message.
pub fn round_trip(group: &str, version: &str, kind: &str, obj: Value) -> Result<Value, String> {
    match lookup(group, version, kind) {
        Some(f) => f(obj).map_err(|e| e.to_string()),
        None => Ok(obj),
    }
}

pub fn is_typed(group: &str, version: &str, kind: &str) -> bool {
    lookup(group, version, kind).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_unknown_fields_and_rejects_bad_types() {
        let v =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "bogus": 1, "data": {"k": "v"}});
        let out = round_trip("", "v1", "ConfigMap", v).unwrap();
        assert!(out.get("bogus").is_none());
        assert_eq!(out["data"]["k"], "v");
        let bad = json!({"metadata": {"name": "a"}, "data": {"k": 1}});
        assert!(round_trip("", "v1", "ConfigMap", bad).is_err());
    }
}
