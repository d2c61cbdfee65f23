//! What the proxiers program, derived from Services and EndpointSlices as upstream's change
//! trackers do: one [`ServicePort`] per port of a Service that kube-proxy handles, and the
//! endpoints of that port merged over the Service's EndpointSlices.

use crate::objects::{EndpointSlice, Service};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Services (and their slices) with this label belong to another proxy.
pub const SERVICE_PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";
/// Headless Services' slices carry this label; kube-proxy ignores them.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// The label selector of both informers, as upstream's.
pub const INFORMER_SELECTOR: &str = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lower case, as iptables' `-p` and nftables' `meta l4proto` spell it.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// `namespace/name:port` (`:port` only for a named port), upstream's `ServicePortName`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    pub port: String,
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// One port of a Service, with what every proxier needs of the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub name: ServicePortName,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub node_port: u16,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_vips: Vec<Ipv4Addr>,
    /// `loadBalancerSourceRanges` (IPv4 CIDRs, normalised).
    pub source_ranges: Vec<ipnet::Ipv4Net>,
    /// `sessionAffinity: ClientIP`'s timeout in seconds.
    pub affinity_seconds: Option<u32>,
    pub external_policy_local: bool,
    pub internal_policy_local: bool,
    pub health_check_node_port: u16,
}

impl ServicePort {
    /// Reachable from outside the cluster network: NodePort, externalIPs or load balancer.
    pub fn externally_accessible(&self) -> bool {
        self.node_port != 0 || !self.load_balancer_vips.is_empty() || !self.external_ips.is_empty()
    }

    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || (self.externally_accessible() && !self.external_policy_local)
    }

    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.externally_accessible() && self.external_policy_local)
    }
}

/// One endpoint of a service port: the first address of an EndpointSlice endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub is_local: bool,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// The zones the EndpointSlice controller hinted; boxed, as most endpoints have none
    /// (an endpoint is 24 bytes instead of 40, and there are five per Service).
    pub zone_hints: Option<Box<BTreeSet<String>>>,
}

impl Endpoint {
    /// `ip:port`, the string upstream hashes into endpoint chain names.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    fn hinted_for(&self, zone: &str) -> bool {
        self.zone_hints.as_ref().is_some_and(|z| z.contains(zone))
    }
}

/// Everything about one Service the proxiers use: its ports, each with its endpoints.
pub type ServiceState = Vec<(ServicePort, Vec<Endpoint>)>;

/// The node facts that categorising endpoints needs.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    pub zone: Option<String>,
}

/// The ports of `svc` that kube-proxy handles (IPv4 ClusterIP services; headless and
/// ExternalName ones are skipped), or an error message for a value the rules cannot carry.
pub fn service_ports(svc: &Service) -> Result<Vec<ServicePort>, String> {
    let Some(spec) = &svc.spec else { return Ok(Vec::new()) };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Ok(Vec::new());
    }
    let cluster_ip = match spec.cluster_ip.as_deref() {
        None | Some("") | Some("None") => return Ok(Vec::new()),
        Some(ip) => match ip.parse::<Ipv4Addr>() {
            Ok(ip) => ip,
            // An IPv6 family's address is another proxier's.
            Err(_) if ip.contains(':') => return Ok(Vec::new()),
            Err(_) => return Err(format!("invalid cluster IP {ip:?}")),
        },
    };
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let v4 = |s: &String| s.parse::<Ipv4Addr>().ok();
    let external_ips: Vec<Ipv4Addr> = spec.external_ips.iter().flatten().filter_map(v4).collect();
    let lb_type = spec.type_.as_deref() == Some("LoadBalancer");
    let load_balancer_vips: Vec<Ipv4Addr> = if lb_type {
        let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
        ingress
            .into_iter()
            .flatten()
            // An ingress in "Proxy" mode is reached through the load balancer, not short-cut.
            .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
            .filter_map(|i| i.ip.as_deref().and_then(|ip| ip.parse().ok()))
            .collect()
    } else {
        Vec::new()
    };
    let mut source_ranges = Vec::new();
    if lb_type {
        for r in spec.load_balancer_source_ranges.iter().flatten() {
            let r = r.trim();
            if r.contains(':') {
                continue;
            }
            match r.parse::<ipnet::Ipv4Net>() {
                Ok(n) => source_ranges.push(n.trunc()),
                Err(_) => return Err(format!("invalid loadBalancerSourceRanges entry {r:?}")),
            }
        }
    }
    let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(10800)
    });
    let external_policy_local = spec.external_traffic_policy.as_deref() == Some("Local")
        && (lb_type || spec.type_.as_deref() == Some("NodePort") || !external_ips.is_empty());
    let internal_policy_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let health_check_node_port = if external_policy_local {
        spec.health_check_node_port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0)
    } else {
        0
    };
    let mut out = Vec::new();
    for p in spec.ports.iter().flatten() {
        let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
            return Err(format!("unsupported protocol {:?}", p.protocol.as_deref().unwrap_or_default()));
        };
        let port = u16::try_from(p.port).ok().filter(|p| *p != 0).ok_or_else(|| format!("invalid port {}", p.port))?;
        out.push(ServicePort {
            name: ServicePortName {
                namespace: namespace.clone(),
                name: name.clone(),
                port: p.name.as_deref().unwrap_or_default().to_string(),
                protocol,
            },
            cluster_ip,
            port,
            node_port: p.node_port.and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
            external_ips: external_ips.clone(),
            load_balancer_vips: load_balancer_vips.clone(),
            source_ranges: source_ranges.clone(),
            affinity_seconds,
            external_policy_local,
            internal_policy_local,
            health_check_node_port,
        });
    }
    Ok(out)
}

/// The endpoints of each port of one Service, merged over its IPv4 EndpointSlices and sorted
/// by `ip:port` as a string (which fixes the rule order). An endpoint in several slices
/// counts once: the first copy, unless a later one is local (upstream's
/// `endpointSliceCache`).
pub fn slice_endpoints<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    node: &str,
) -> BTreeMap<(String, Protocol), Vec<Endpoint>> {
    let mut merged: BTreeMap<(String, Protocol), BTreeMap<String, Endpoint>> = BTreeMap::new();
    for slice in slices {
        if &*slice.address_type != "IPv4" {
            continue;
        }
        for p in slice.ports.iter().flatten() {
            let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else { continue };
            let Some(port) = p.port.and_then(|n| u16::try_from(n).ok()).filter(|p| *p != 0) else { continue };
            let eps = merged.entry((p.name.as_deref().unwrap_or_default().to_string(), protocol)).or_default();
            for e in &slice.endpoints {
                let Some(ip) = e.address else { continue };
                let c = e.conditions.as_ref();
                let ready = c.and_then(|c| c.ready).unwrap_or(true);
                let ep = Endpoint {
                    ip,
                    port,
                    is_local: !node.is_empty() && e.node_name.as_deref() == Some(node),
                    ready,
                    serving: c.and_then(|c| c.serving).unwrap_or(true),
                    terminating: c.and_then(|c| c.terminating).unwrap_or(false),
                    zone_hints: e
                        .hints
                        .as_ref()
                        .and_then(|h| h.for_zones.as_ref())
                        .filter(|z| !z.is_empty())
                        .map(|z| Box::new(z.iter().map(|z| z.name.to_string()).collect())),
                };
                let addr = ep.addr();
                if ep.is_local || !eps.contains_key(&addr) {
                    eps.insert(addr, ep);
                }
            }
        }
    }
    merged.into_iter().map(|(k, v)| (k, v.into_values().collect())).collect()
}

/// How one service port's endpoints split by traffic policy (upstream's
/// `CategorizeEndpoints`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Categorized {
    /// Used for traffic with a Cluster policy.
    pub cluster: Vec<Endpoint>,
    /// Used for traffic with a Local policy.
    pub local: Vec<Endpoint>,
    /// Every endpoint a packet may be sent to (the chains to write).
    pub all_reachable: Vec<Endpoint>,
    /// Whether any endpoint anywhere could serve: without one, traffic is rejected.
    pub has_any: bool,
}

pub fn categorize(eps: &[Endpoint], svc: &ServicePort, node: &NodeInfo) -> Categorized {
    let mut out = Categorized::default();
    if svc.uses_cluster_endpoints() {
        let topology = can_use_topology(eps, node);
        out.cluster = eps
            .iter()
            .filter(|e| e.ready && (!topology || node.zone.as_ref().is_some_and(|z| e.hinted_for(z))))
            .cloned()
            .collect();
        if out.cluster.is_empty() {
            out.cluster = eps.iter().filter(|e| e.serving && e.terminating).cloned().collect();
        }
        out.has_any = !out.cluster.is_empty();
    }
    if !svc.uses_local_endpoints() {
        out.all_reachable = out.cluster.clone();
        return out;
    }
    let (mut local_ready, mut local_terminating) = (false, false);
    for e in eps {
        if e.ready {
            out.has_any = true;
            local_ready |= e.is_local;
        } else if e.serving && e.terminating {
            out.has_any = true;
            local_terminating |= e.is_local;
        }
    }
    if local_ready {
        out.local = eps.iter().filter(|e| e.is_local && e.ready).cloned().collect();
    } else if local_terminating {
        out.local = eps.iter().filter(|e| e.is_local && e.serving && e.terminating).cloned().collect();
    }
    if !svc.uses_cluster_endpoints() {
        out.all_reachable = out.local.clone();
        return out;
    }
    let mut all = out.cluster.clone();
    for e in &out.local {
        if !all.iter().any(|c| c.ip == e.ip && c.port == e.port) {
            all.push(e.clone());
        }
    }
    out.all_reachable = all;
    out
}

/// Topology-aware routing applies when every ready endpoint has zone hints and one of them
/// names this node's zone.
fn can_use_topology(eps: &[Endpoint], node: &NodeInfo) -> bool {
    let Some(zone) = &node.zone else { return false };
    let mut for_zone = false;
    for e in eps.iter().filter(|e| e.ready) {
        if e.zone_hints.is_none() {
            return false;
        }
        for_zone |= e.hinted_for(zone);
    }
    for_zone
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, local: bool, ready: bool, serving: bool, terminating: bool) -> Endpoint {
        Endpoint { ip: ip.parse().unwrap(), port: 80, is_local: local, ready, serving, terminating, zone_hints: None }
    }

    fn svc(yaml: serde_json::Value) -> Service {
        serde_json::from_value(yaml).unwrap()
    }

    fn port(internal_local: bool, external_local: bool, node_port: u16) -> ServicePort {
        ServicePort {
            name: ServicePortName {
                namespace: "ns".into(),
                name: "s".into(),
                port: String::new(),
                protocol: Protocol::Tcp,
            },
            cluster_ip: "10.96.0.10".parse().unwrap(),
            port: 80,
            node_port,
            external_ips: vec![],
            load_balancer_vips: vec![],
            source_ranges: vec![],
            affinity_seconds: None,
            external_policy_local: external_local,
            internal_policy_local: internal_local,
            health_check_node_port: 0,
        }
    }

    #[test]
    fn port_names_print_as_upstream() {
        let mut n = ServicePortName {
            namespace: "default".into(),
            name: "kubernetes".into(),
            port: "https".into(),
            protocol: Protocol::Tcp,
        };
        assert_eq!(n.to_string(), "default/kubernetes:https");
        n.port.clear();
        assert_eq!(n.to_string(), "default/kubernetes");
    }

    #[test]
    fn headless_external_name_and_ipv6_services_are_skipped() {
        for spec in [
            serde_json::json!({"clusterIP": "None", "ports": [{"port": 80}]}),
            serde_json::json!({"type": "ExternalName", "externalName": "x.example"}),
            serde_json::json!({"clusterIP": "fd00::1", "ports": [{"port": 80}]}),
        ] {
            let s = svc(serde_json::json!({"metadata": {"name": "a", "namespace": "b"}, "spec": spec}));
            assert_eq!(service_ports(&s).unwrap(), vec![]);
        }
    }

    #[test]
    fn service_fields_reach_the_port() {
        let s = svc(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20", "externalIPs": ["192.0.2.1"],
                     "externalTrafficPolicy": "Local", "healthCheckNodePort": 30001,
                     "loadBalancerSourceRanges": ["203.0.113.7/24"],
                     "sessionAffinity": "ClientIP",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "dns", "port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}, {"ip": "198.51.100.2", "ipMode": "Proxy"}]}}
        }));
        let ports = service_ports(&s).unwrap();
        assert_eq!(ports.len(), 2);
        let p = &ports[0];
        assert_eq!(p.name.to_string(), "default/web:http");
        assert_eq!((p.port, p.node_port, p.health_check_node_port), (80, 30080, 30001));
        assert_eq!(p.load_balancer_vips, vec!["198.51.100.1".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(p.source_ranges[0].to_string(), "203.0.113.0/24");
        assert_eq!(p.affinity_seconds, Some(10800));
        assert!(p.external_policy_local && !p.internal_policy_local);
        assert_eq!(ports[1].name.protocol, Protocol::Udp);
    }

    #[test]
    fn bad_values_are_reported_not_programmed() {
        let s = svc(serde_json::json!({"metadata": {"name": "a", "namespace": "b"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80, "protocol": "ICMP"}]}}));
        assert_eq!(service_ports(&s).unwrap_err(), "unsupported protocol \"ICMP\"");
    }

    #[test]
    fn slices_merge_and_sort_as_strings() {
        let slice = |ready: bool| -> EndpointSlice {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("s-{ready}"), "namespace": "ns"},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": ["10.244.0.5"], "nodeName": if ready { "n1" } else { "n2" }, "conditions": {"ready": ready}},
                              {"addresses": ["10.244.0.11"], "nodeName": "n2"}]
            }))
            .unwrap()
        };
        let (a, b) = (slice(false), slice(true));
        let got = slice_endpoints([&a, &b], "n1");
        let eps = &got[&("http".to_string(), Protocol::Tcp)];
        assert_eq!(eps.len(), 2);
        // "10.244.0.11:8080" < "10.244.0.5:8080" as strings.
        assert!(eps[0].ip.to_string() == "10.244.0.11" && eps[0].ready && !eps[0].is_local);
        // The local copy wins over the first one.
        assert!(eps[1].ready && eps[1].is_local && eps[1].port == 8080);
    }

    #[test]
    fn terminating_endpoints_serve_only_when_nothing_is_ready() {
        let node = NodeInfo { name: "n1".into(), zone: None };
        let p = port(false, false, 0);
        let eps = vec![ep("10.0.0.1", false, false, true, true), ep("10.0.0.2", false, true, true, false)];
        let c = categorize(&eps, &p, &node);
        assert_eq!(c.cluster.len(), 1);
        assert_eq!(c.cluster[0].ip.to_string(), "10.0.0.2");
        let c = categorize(&eps[..1], &p, &node);
        assert_eq!(c.cluster.len(), 1);
        assert!(c.has_any);
        let c = categorize(&[ep("10.0.0.3", false, false, false, true)], &p, &node);
        assert!(c.cluster.is_empty() && !c.has_any);
    }

    #[test]
    fn local_policies_pick_local_endpoints() {
        let node = NodeInfo { name: "n1".into(), zone: None };
        let eps = vec![ep("10.0.0.1", true, true, true, false), ep("10.0.0.2", false, true, true, false)];
        // externalTrafficPolicy: Local on a NodePort: cluster for internal, local for external.
        let c = categorize(&eps, &port(false, true, 30000), &node);
        assert_eq!((c.cluster.len(), c.local.len(), c.all_reachable.len()), (2, 1, 2));
        // internalTrafficPolicy: Local only: local endpoints only, yet "has any" counts all.
        let c = categorize(&eps[1..], &port(true, false, 0), &node);
        assert!(c.local.is_empty() && c.all_reachable.is_empty() && c.has_any);
    }

    #[test]
    fn zone_hints_apply_only_when_complete() {
        let node = NodeInfo { name: "n1".into(), zone: Some("a".into()) };
        let mut a = ep("10.0.0.1", false, true, true, false);
        a.zone_hints = Some(Box::new(["a".to_string()].into()));
        let mut b = ep("10.0.0.2", false, true, true, false);
        b.zone_hints = Some(Box::new(["b".to_string()].into()));
        let p = port(false, false, 0);
        assert_eq!(categorize(&[a.clone(), b.clone()], &p, &node).cluster, vec![a.clone()]);
        let c = ep("10.0.0.3", false, true, true, false);
        assert_eq!(categorize(&[a, b, c], &p, &node).cluster.len(), 3);
    }
}
