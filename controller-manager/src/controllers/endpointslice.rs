//! `endpointslice-controller` (upstream `pkg/controller/endpointslice` and the staging
//! reconciler): every Service with a selector has EndpointSlices (`<service>-<random>`, labelled
//! `kubernetes.io/service-name` and managed-by `endpointslice-controller.k8s.io`, owned by the
//! Service) holding one endpoint per selected pod with an IP of the slice's family, with the
//! ready/serving/terminating conditions, node name, zone and hostname; pods whose named target
//! ports resolve differently land in different slices; at most 100 endpoints per slice, packed
//! as upstream packs them (changed slices filled first, leftovers into the fullest slice they
//! fit, else new slices); a service with no endpoints keeps one empty placeholder slice.
//! A tracker of what this controller wrote keeps it from acting on a stale informer.

use crate::context::Ctx;
use crate::controllers::endpoints::{
    find_port, pod_in_endpoints, pod_ref, queue_on_service_and_pod_changes, selected_pods, HEADLESS_LABEL,
};
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
const MAX_ENDPOINTS_PER_SLICE: usize = 100;
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// What this controller last wrote per service: slice name → resourceVersion (`None` for a
/// deletion), to detect an informer that has not caught up (upstream's endpointSliceTracker).
#[derive(Default)]
pub(crate) struct Tracker {
    written: Mutex<HashMap<String, HashMap<String, Option<u64>>>>,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Option<u64>>>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stale(&self, svc: &str, seen: &[Arc<EndpointSlice>]) -> bool {
        let g = self.lock();
        let Some(w) = g.get(svc) else { return false };
        let seen: HashMap<String, u64> = seen.iter().map(|s| (s.name_any(), rv(s))).collect();
        w.iter().any(|(name, want)| match (want, seen.get(name)) {
            (Some(want), Some(have)) => have < want,
            (Some(_), None) => true,
            (None, Some(_)) => true,
            (None, None) => false,
        })
    }

    pub(crate) fn record(&self, svc: &str, name: &str, rv: Option<u64>) {
        self.lock().entry(svc.to_string()).or_default().insert(name.to_string(), rv);
    }

    /// The informer showed this slice (at `seen`) or its deletion (`None`): an expectation it
    /// meets is done. A deletion by someone else also ends any expectation about the slice.
    pub(crate) fn observe(&self, svc: &str, name: &str, seen: Option<u64>) {
        let mut g = self.lock();
        let Some(w) = g.get_mut(svc) else { return };
        let done = match (w.get(name), seen) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(Some(want)), Some(have)) => have >= *want,
            (Some(None), Some(_)) => false,
        };
        if done {
            w.remove(name);
        }
    }

    pub(crate) fn forget(&self, svc: &str) {
        self.lock().remove(svc);
    }
}

pub(crate) fn rv(s: &EndpointSlice) -> u64 {
    s.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

struct Esc {
    client: Client,
    services: Informer<Service>,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    slices: Informer<EndpointSlice>,
    queue: WorkQueue<String>,
    tracker: Tracker,
    triggers: TriggerTimes,
}

/// The annotation kube-proxy measures network programming latency from.
const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// upstream's TriggerTimeTracker: per Service, the pods' Ready transition times and the
/// Service's creation time seen at the last sync, so a sync can say which change it carries.
#[derive(Default)]
struct TriggerTimes(std::sync::Mutex<HashMap<String, TriggerState>>);

/// A Service's pods' Ready transition times (by pod name) and its creation time.
type TriggerState = (HashMap<String, Timestamp>, Option<Timestamp>);

impl TriggerTimes {
    /// The time to annotate this sync's slices with: the Service's creation for a Service not
    /// seen before, else the earliest trigger time that changed since the last sync (`None`
    /// clears the annotation).
    fn compute(&self, key: &str, svc: &Service, pods: &[Arc<Pod>]) -> Option<Timestamp> {
        let mut states = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let known = states.contains_key(key);
        let (last_pods, last_svc) = states.entry(key.to_string()).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut now_pods = HashMap::new();
        for pod in pods {
            if let Some(t) = util::pod_ready_transition(pod) {
                let name = pod.name_any();
                if last_pods.get(&name).is_none_or(|l| t > *l) {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                }
                now_pods.insert(name, t);
            }
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(c) = created.filter(|c| last_svc.is_none_or(|l| *c > l)) {
            earliest = Some(earliest.map_or(c, |e| e.min(c)));
        }
        *last_pods = now_pods;
        *last_svc = created;
        if known {
            earliest
        } else {
            created
        }
    }

    fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// Sets (or, without a trigger time, removes) the slice's last-change-trigger-time.
fn annotate_trigger_time(s: &mut EndpointSlice, t: Option<Timestamp>) {
    let a = s.metadata.annotations.get_or_insert_with(Default::default);
    match t {
        Some(t) => {
            a.insert(TRIGGER_TIME_ANNOTATION.into(), t.to_string());
        }
        None => {
            a.remove(TRIGGER_TIME_ANNOTATION);
        }
    }
}

#[derive(Debug)]
struct StaleInformer;

impl std::fmt::Display for StaleInformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointSlice informer cache is out of date")
    }
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("endpointslice-controller").await?;
    let esc = Arc::new(Esc {
        client,
        services: ctx.informers.get::<Service>(),
        pods: ctx.informers.get::<Pod>(),
        nodes: ctx.informers.get::<Node>(),
        slices: ctx.informers.get::<EndpointSlice>(),
        queue: WorkQueue::new("endpoint_slice"),
        tracker: Tracker::default(),
        triggers: TriggerTimes::default(),
    });
    queue_on_service_and_pod_changes(&esc.services, &esc.pods, &esc.queue);
    let e = esc.clone();
    esc.slices.add_handler(move |c| {
        let (s, seen) = match c {
            Change::Added(s) | Change::Updated { new: s, .. } => (s, Some(rv(s))),
            Change::Deleted(s) => (s, None),
        };
        if s.labels().get(MANAGED_BY_LABEL).map(String::as_str) != Some(CONTROLLER_NAME) {
            return;
        }
        if let Some(svc) = s.labels().get(SERVICE_NAME_LABEL) {
            let key = util::key(&s.namespace().unwrap_or_default(), svc);
            e.tracker.observe(&key, &s.name_any(), seen);
            e.queue.add(key);
        }
    });
    let e = esc.clone();
    esc.nodes.add_handler(move |c| {
        // A node appearing or changing zone changes the endpoints of the pods on it.
        let changed = match c {
            Change::Added(_) | Change::Deleted(_) => true,
            Change::Updated { old, new } => old.labels().get(ZONE_LABEL) != new.labels().get(ZONE_LABEL),
        };
        if changed {
            for s in e.services.list() {
                e.queue.add(util::meta_key(&s.metadata));
            }
        }
    });
    let workers = ctx.opts.concurrent_service_endpoint_syncs;
    tokio::spawn(async move {
        esc.services.wait_synced().await;
        esc.pods.wait_synced().await;
        esc.nodes.wait_synced().await;
        esc.slices.wait_synced().await;
        let e = esc.clone();
        esc.queue.run_workers(workers, move |key: String| {
            let e = e.clone();
            async move { e.sync(&key).await.map_err(|e| e.to_string()) }
        });
    });
    Ok(true)
}

/// A port's name, number, protocol and app protocol.
type PortKey = (Option<String>, Option<i32>, Option<String>, Option<String>);

/// The ports and address type a group of endpoints shares (one or more slices each).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Mapping {
    address_type: String,
    ports: Vec<PortKey>,
}

fn mapping_of(address_type: &str, ports: &[EndpointPort]) -> Mapping {
    let mut p: Vec<_> =
        ports.iter().map(|p| (p.name.clone(), p.port, p.protocol.clone(), p.app_protocol.clone())).collect();
    p.sort();
    Mapping { address_type: address_type.to_string(), ports: p }
}

fn endpoint_key(e: &Endpoint) -> String {
    let uid = e.target_ref.as_ref().and_then(|r| r.uid.clone()).unwrap_or_default();
    format!("{}/{}", e.addresses.join(","), uid)
}

fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

impl Esc {
    fn expected_labels(&self, svc: &Service) -> BTreeMap<String, String> {
        let mut l = svc.metadata.labels.clone().unwrap_or_default();
        l.remove(MANAGED_BY_LABEL);
        l.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
        l.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
        if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
            l.insert(HEADLESS_LABEL.into(), String::new());
        } else {
            l.remove(HEADLESS_LABEL);
        }
        l
    }

    fn new_slice(&self, svc: &Service, m: &Mapping, ports: &[EndpointPort]) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}-", svc.name_any())),
                namespace: svc.metadata.namespace.clone(),
                labels: Some(self.expected_labels(svc)),
                owner_references: Some(vec![util::new_controller_ref("v1", "Service", &svc.metadata)]),
                ..Default::default()
            },
            address_type: m.address_type.clone(),
            endpoints: Vec::new(),
            ports: Some(ports.to_vec()),
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Box<dyn std::fmt::Display + Send>> {
        let (ns, name) = util::split_key(key);
        let mine: Vec<Arc<EndpointSlice>> = self
            .slices
            .list_namespace(ns)
            .into_iter()
            .filter(|s| {
                s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(name)
                    && s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(CONTROLLER_NAME)
            })
            .collect();
        if self.tracker.stale(key, &mine) {
            return Err(Box::new(StaleInformer));
        }
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let svc = match self.services.get(ns, name) {
            Some(s) => s,
            None => {
                // The garbage collector removes the slices of a deleted Service.
                self.tracker.forget(key);
                self.triggers.forget(key);
                return Ok(());
            }
        };
        let spec = svc.spec.clone().unwrap_or_default();
        if spec.selector.is_none() || spec.type_.as_deref() == Some("ExternalName") {
            for s in &mine {
                self.delete(&api, key, s).await?;
            }
            return Ok(());
        }
        let families: Vec<String> = match spec.ip_families.clone().filter(|f| !f.is_empty()) {
            Some(f) => f,
            None => vec!["IPv4".into()],
        };
        let publish = spec.publish_not_ready_addresses.unwrap_or(false);
        let pods = selected_pods(&self.pods, &svc);
        let trigger_time = self.triggers.compute(key, &svc, &pods);
        // Desired endpoints, grouped by (address type, ports).
        let mut desired: BTreeMap<Mapping, (Vec<EndpointPort>, BTreeMap<String, Endpoint>)> = BTreeMap::new();
        for pod in pods {
            if !pod_in_endpoints(&pod, true) {
                continue;
            }
            let pspec = pod.spec.clone().unwrap_or_default();
            let node = match pspec.node_name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => match self.nodes.get("", n) {
                    Some(node) => Some(node),
                    // A pod on a node that does not exist is left out until the node appears.
                    None => continue,
                },
                None => None,
            };
            let ports: Vec<EndpointPort> = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|sp| {
                    find_port(&pod, sp).map(|port| EndpointPort {
                        name: Some(sp.name.clone().unwrap_or_default()),
                        port: Some(port),
                        protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                        app_protocol: sp.app_protocol.clone(),
                    })
                })
                .collect();
            let st = pod.status.clone().unwrap_or_default();
            let mut ips: Vec<String> = st.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
            if ips.is_empty() {
                ips.extend(st.pod_ip.clone());
            }
            let serving = util::pod_ready(&pod);
            let terminating = pod.metadata.deletion_timestamp.is_some();
            let ready = publish || (serving && !terminating);
            for family in &families {
                let Some(ip) = ips.iter().find(|ip| is_ipv6(ip) == (family == "IPv6")) else { continue };
                let hostname = match (&pspec.hostname, &pspec.subdomain) {
                    (Some(h), Some(sd)) if sd == name && !h.is_empty() => Some(h.clone()),
                    _ => None,
                };
                let ep = Endpoint {
                    addresses: vec![ip.clone()],
                    conditions: Some(EndpointConditions {
                        ready: Some(ready),
                        serving: Some(serving),
                        terminating: Some(terminating),
                    }),
                    hostname,
                    node_name: pspec.node_name.clone().filter(|n| !n.is_empty()),
                    target_ref: Some(pod_ref(&pod)),
                    zone: node.as_ref().and_then(|n| n.labels().get(ZONE_LABEL).cloned()),
                    ..Default::default()
                };
                let m = mapping_of(family, &ports);
                desired.entry(m).or_insert_with(|| (ports.clone(), BTreeMap::new())).1.insert(endpoint_key(&ep), ep);
            }
        }
        let labels = self.expected_labels(&svc);
        let (mut to_create, mut to_update, mut to_delete): (
            Vec<EndpointSlice>,
            Vec<EndpointSlice>,
            Vec<Arc<EndpointSlice>>,
        ) = (vec![], vec![], vec![]);
        // Existing slices whose mapping is no longer wanted go.
        let mut by_mapping: BTreeMap<Mapping, Vec<Arc<EndpointSlice>>> = BTreeMap::new();
        for s in &mine {
            let m = mapping_of(&s.address_type, s.ports.as_deref().unwrap_or_default());
            if desired.contains_key(&m) {
                by_mapping.entry(m).or_default().push(s.clone());
            } else {
                to_delete.push(s.clone());
            }
        }
        for (m, (ports, mut want)) in desired {
            let existing = by_mapping.remove(&m).unwrap_or_default();
            let mut unchanged: Vec<EndpointSlice> = Vec::new();
            let mut updating: Vec<EndpointSlice> = Vec::new();
            // 1. Keep what is still wanted in each existing slice.
            for s in existing {
                let mut kept = Vec::new();
                let mut changed = false;
                for e in &s.endpoints {
                    match want.remove(&endpoint_key(e)) {
                        Some(w) => {
                            changed |= &w != e;
                            kept.push(w);
                        }
                        None => changed = true,
                    }
                }
                let labels_changed = s.metadata.labels.as_ref() != Some(&labels);
                if kept.is_empty() {
                    to_delete.push(s.clone());
                } else if changed || labels_changed {
                    let mut copy = (*s).clone();
                    copy.endpoints = kept;
                    copy.metadata.labels = Some(labels.clone());
                    updating.push(copy);
                } else {
                    unchanged.push((*s).clone());
                }
            }
            // 2. Fill the slices being updated anyway, fullest first.
            updating.sort_by_key(|s| std::cmp::Reverse(s.endpoints.len()));
            for s in updating.iter_mut() {
                while s.endpoints.len() < MAX_ENDPOINTS_PER_SLICE {
                    let Some(k) = want.keys().next().cloned() else { break };
                    if let Some(e) = want.remove(&k) {
                        s.endpoints.push(e);
                    }
                }
            }
            // 3. The rest: into the fullest unchanged slice they all fit in, else new slices.
            while !want.is_empty() {
                let mut slice = None;
                if want.len() < MAX_ENDPOINTS_PER_SLICE {
                    let fit = unchanged
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.endpoints.len() + want.len() <= MAX_ENDPOINTS_PER_SLICE)
                        .max_by_key(|(_, s)| s.endpoints.len())
                        .map(|(i, _)| i);
                    slice = fit.map(|i| unchanged.remove(i));
                }
                let mut s = slice.unwrap_or_else(|| self.new_slice(&svc, &m, &ports));
                while s.endpoints.len() < MAX_ENDPOINTS_PER_SLICE {
                    let Some(k) = want.keys().next().cloned() else { break };
                    if let Some(e) = want.remove(&k) {
                        s.endpoints.push(e);
                    }
                }
                if s.metadata.name.is_some() {
                    updating.push(s);
                } else {
                    to_create.push(s);
                }
            }
            to_update.extend(updating);
        }
        // No endpoints at all: one empty placeholder slice, as upstream keeps.
        if to_create.is_empty() && to_update.is_empty() && mine.len() == to_delete.len() {
            let family = families.first().cloned().unwrap_or_else(|| "IPv4".into());
            let placeholder = self.new_slice(&svc, &mapping_of(&family, &[]), &[]);
            let is_placeholder = |s: &EndpointSlice| {
                s.endpoints.is_empty()
                    && s.ports.as_ref().is_none_or(|p| p.is_empty())
                    && s.address_type == family
                    && s.metadata.labels.as_ref() == Some(&labels)
            };
            if to_delete.len() == 1 && is_placeholder(&to_delete[0]) {
                to_delete.clear();
            } else {
                let mut p = placeholder;
                p.ports = Some(Vec::new());
                to_create.push(p);
            }
        }
        for s in to_create.iter_mut().chain(to_update.iter_mut()) {
            annotate_trigger_time(s, trigger_time);
        }
        for s in to_create {
            match api.create(&PostParams::default(), &s).await {
                Ok(created) => self.tracker.record(key, &created.name_any(), Some(rv(&created))),
                Err(kube::Error::Api(st)) if st.code == 403 && st.message.contains("is being terminated") => {
                    return Ok(())
                }
                Err(e) => return Err(Box::new(e)),
            }
        }
        for s in to_update {
            match api.replace(&s.name_any(), &PostParams::default(), &s).await {
                Ok(updated) => self.tracker.record(key, &updated.name_any(), Some(rv(&updated))),
                Err(e) => return Err(Box::new(e)),
            }
        }
        for s in &to_delete {
            self.delete(&api, key, s).await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        api: &Api<EndpointSlice>,
        key: &str,
        s: &EndpointSlice,
    ) -> Result<(), Box<dyn std::fmt::Display + Send>> {
        match api.delete(&s.name_any(), &Default::default()).await {
            Ok(_) => {
                self.tracker.record(key, &s.name_any(), None);
                Ok(())
            }
            Err(kube::Error::Api(st)) if st.code == 404 => Ok(()),
            Err(e) => Err(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn pod(name: &str, ready_at: Option<i64>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            status: Some(PodStatus {
                conditions: ready_at.map(|t| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(ts(t))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn trigger_times_follow_upstreams_tracker() {
        let svc = Service {
            metadata: ObjectMeta { creation_timestamp: Some(Time(ts(100))), ..Default::default() },
            ..Default::default()
        };
        let t = TriggerTimes::default();
        // A Service seen for the first time: its creation.
        assert_eq!(t.compute("ns/web", &svc, &[pod("a", Some(150))]), Some(ts(100)));
        // Nothing changed since: no trigger time (the annotation is cleared).
        assert_eq!(t.compute("ns/web", &svc, &[pod("a", Some(150))]), None);
        // Two pods changed: the earlier change.
        assert_eq!(t.compute("ns/web", &svc, &[pod("a", Some(300)), pod("b", Some(200))]), Some(ts(200)));
        // A pod without a Ready condition carries no time.
        assert_eq!(t.compute("ns/web", &svc, &[pod("a", Some(300)), pod("b", Some(200)), pod("c", None)]), None);
        // Forgotten (the Service was deleted): creation time again.
        t.forget("ns/web");
        assert_eq!(t.compute("ns/web", &svc, &[]), Some(ts(100)));
    }

    #[test]
    fn the_annotation_is_set_and_cleared() {
        let mut s = EndpointSlice::default();
        annotate_trigger_time(&mut s, Some(ts(1_700_000_000)));
        assert_eq!(s.metadata.annotations.as_ref().unwrap()[TRIGGER_TIME_ANNOTATION], "2023-11-14T22:13:20Z");
        annotate_trigger_time(&mut s, None);
        assert!(!s.metadata.annotations.unwrap().contains_key(TRIGGER_TIME_ANNOTATION));
    }
}
