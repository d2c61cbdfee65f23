//! The Service and EndpointSlice shapes kube-proxy's informers keep: only the fields the
//! proxier reads (deserialising ignores the rest). k8s-openapi's full types cost several
//! kilobytes per object, most of it fields kube-proxy never looks at; at 10,000 Services the
//! caches were most of the process. Field names mirror k8s-openapi's, so the model reads
//! these as it would the full types; strings are `Box<str>` (a third smaller than `String`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

macro_rules! resource {
    ($t:ty, $group:literal, $version:literal, $api_version:literal, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $t {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $t {
            type Ty = ObjectMeta;

            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

impl Service {
    /// Gives back what deserialising over-allocated (vectors grow by doubling).
    pub fn shrink(&mut self) {
        if let Some(p) = self.spec.as_mut().and_then(|s| s.ports.as_mut()) {
            p.shrink_to_fit();
        }
    }
}

impl EndpointSlice {
    /// Gives back what deserialising over-allocated (vectors grow by doubling).
    pub fn shrink(&mut self) {
        self.endpoints.shrink_to_fit();
        if let Some(p) = self.ports.as_mut() {
            p.shrink_to_fit();
        }
    }
}

/// A core/v1 Service.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Service {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<ServiceSpec>,
    pub status: Option<ServiceStatus>,
}

resource!(Service, "", "v1", "v1", "Service", "services");

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub type_: Option<Box<str>>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<Box<str>>,
    #[serde(rename = "externalIPs")]
    pub external_ips: Option<Vec<String>>,
    pub load_balancer_source_ranges: Option<Vec<String>>,
    pub session_affinity: Option<Box<str>>,
    pub session_affinity_config: Option<SessionAffinityConfig>,
    pub external_traffic_policy: Option<Box<str>>,
    pub internal_traffic_policy: Option<Box<str>>,
    pub health_check_node_port: Option<i32>,
    pub ports: Option<Vec<ServicePort>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinityConfig {
    #[serde(rename = "clientIP")]
    pub client_ip: Option<ClientIpConfig>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientIpConfig {
    pub timeout_seconds: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: Option<Box<str>>,
    pub protocol: Option<Box<str>>,
    #[serde(default)]
    pub port: i32,
    pub node_port: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub load_balancer: Option<LoadBalancerStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LoadBalancerStatus {
    pub ingress: Option<Vec<LoadBalancerIngress>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIngress {
    pub ip: Option<Box<str>>,
    pub ip_mode: Option<Box<str>>,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub address_type: Box<str>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoints: Vec<Endpoint>,
    pub ports: Option<Vec<EndpointPort>>,
    /// The `kubernetes.io/service-name` label and the trigger-time annotation, moved out of
    /// the metadata by the informer's transform: a map of one entry costs a B-tree node.
    #[serde(skip)]
    pub service_name: Option<String>,
    #[serde(skip)]
    pub trigger_time: Option<String>,
}

resource!(EndpointSlice, "discovery.k8s.io", "v1", "discovery.k8s.io/v1", "EndpointSlice", "endpointslices");

/// The first string of a list, as an IPv4 address.
fn first_ipv4<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::net::Ipv4Addr>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.and_then(|v| v.first().and_then(|a| a.parse().ok())))
}

/// `endpoints: null` is as good as none.
fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The first of `addresses`, the one kube-proxy uses (as upstream's); `None` when it is
    /// not an IPv4 address.
    #[serde(rename = "addresses", default, deserialize_with = "first_ipv4")]
    pub address: Option<std::net::Ipv4Addr>,
    pub conditions: Option<EndpointConditions>,
    pub node_name: Option<Box<str>>,
    /// Rare, so boxed: an endpoint without hints pays 8 bytes, not 24.
    pub hints: Option<Box<EndpointHints>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct EndpointPort {
    pub name: Option<Box<str>>,
    pub protocol: Option<Box<str>>,
    pub port: Option<i32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct EndpointConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointHints {
    pub for_zones: Option<Vec<ForZone>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ForZone {
    pub name: Box<str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_paths_are_upstreams() {
        use kube::Resource;
        assert_eq!(Service::url_path(&(), Some("ns")), "/api/v1/namespaces/ns/services");
        assert_eq!(EndpointSlice::url_path(&(), None), "/apis/discovery.k8s.io/v1/endpointslices");
    }

    #[test]
    fn unread_fields_are_dropped_and_read_ones_kept() {
        let s: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"], "conditions": {"ready": true}, "nodeName": "n",
                           "targetRef": {"kind": "Pod", "name": "p"}, "hints": {"forZones": [{"name": "a"}]}}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        }))
        .unwrap();
        assert_eq!(s.endpoints[0].address, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(&*s.endpoints[0].hints.as_ref().unwrap().for_zones.as_ref().unwrap()[0].name, "a");
        let empty: EndpointSlice = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": null}),
        )
        .unwrap();
        assert!(empty.endpoints.is_empty());
    }
}
