//! `endpoints-controller` (upstream `pkg/controller/endpoint`): every Service with a selector
//! has an Endpoints object of the same name listing the IPs of its selected pods — ready ones
//! in `addresses`, the others in `notReadyAddresses` (all of them ready with
//! `publishNotReadyAddresses`) — with each service port resolved against the pod (named target
//! ports by container port name and protocol), packed into subsets by port set.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Upstream truncates an Endpoints object at this many addresses.
const MAX_CAPACITY: usize = 1000;

/// `podutil.FindPort`: the container port a service port targets on this pod.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    match sp.target_port.as_ref() {
        None => Some(sp.port),
        Some(IntOrString::Int(i)) => Some(*i),
        Some(IntOrString::String(name)) => {
            let proto = sp.protocol.as_deref().unwrap_or("TCP");
            let spec = pod.spec.as_ref()?;
            // Regular containers, then sidecars (init containers that keep running).
            let sidecars =
                spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers.iter().chain(sidecars).flat_map(|c| c.ports.iter().flatten()).find_map(|p| {
                (p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == proto)
                    .then_some(p.container_port)
            })
        }
    }
}

/// `ShouldPodBeInEndpoints`.
pub fn pod_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let phase = util::pod_phase(pod);
    if phase == "Succeeded" || phase == "Failed" {
        return false;
    }
    let st = pod.status.as_ref();
    let has_ip = st.and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty())
        || st.and_then(|s| s.pod_ips.as_ref()).is_some_and(|ips| !ips.is_empty());
    has_ip && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Services whose selector selects `pod`.
pub fn services_for_pod(services: &Informer<Service>, pod: &Pod) -> Vec<Arc<Service>> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    services
        .list_namespace(&pod.namespace().unwrap_or_default())
        .into_iter()
        .filter(|s| {
            s.spec
                .as_ref()
                .and_then(|sp| sp.selector.as_ref())
                .is_some_and(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .collect()
}

pub fn selected_pods(pods: &Informer<Pod>, svc: &Service) -> Vec<Arc<Pod>> {
    let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.clone()) else { return Vec::new() };
    pods.list_namespace(&svc.namespace().unwrap_or_default())
        .into_iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            sel.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .collect()
}

/// What a pod change means for the services selecting it: labels, IP, readiness, deletion.
pub fn pod_changed_for_endpoints(old: &Pod, new: &Pod) -> bool {
    old.metadata.labels != new.metadata.labels
        || old.status.as_ref().map(|s| (&s.pod_ip, &s.pod_ips, &s.phase))
            != new.status.as_ref().map(|s| (&s.pod_ip, &s.pod_ips, &s.phase))
        || util::pod_ready(old) != util::pod_ready(new)
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || old.spec.as_ref().map(|s| (&s.node_name, &s.hostname, &s.subdomain))
            != new.spec.as_ref().map(|s| (&s.node_name, &s.hostname, &s.subdomain))
        || old.spec.as_ref().map(|s| &s.containers) != new.spec.as_ref().map(|s| &s.containers)
}

/// Queues a Service's key when it changes, and the keys of the Services selecting a pod when
/// the pod changes in a way that matters to endpoints (both endpoint controllers do this).
pub fn queue_on_service_and_pod_changes(services: &Informer<Service>, pods: &Informer<Pod>, queue: &WorkQueue<String>) {
    let q = queue.clone();
    services.add_handler(move |c| match c {
        Change::Added(s) | Change::Updated { new: s, .. } | Change::Deleted(s) => q.add(util::meta_key(&s.metadata)),
    });
    let (q, svcs) = (queue.clone(), services.clone());
    pods.add_handler(move |c| {
        let keys_of = |p: &Pod| -> Vec<String> {
            services_for_pod(&svcs, p).iter().map(|s| util::meta_key(&s.metadata)).collect()
        };
        let keys: Vec<String> = match c {
            Change::Added(p) | Change::Deleted(p) => keys_of(p),
            Change::Updated { old, new } => {
                if !pod_changed_for_endpoints(old, new) {
                    return;
                }
                let mut keys = keys_of(new);
                if old.metadata.labels != new.metadata.labels {
                    keys.extend(keys_of(old));
                }
                keys
            }
        };
        for k in keys {
            q.add(k);
        }
    });
}

struct Ec {
    client: Client,
    services: Informer<Service>,
    pods: Informer<Pod>,
    endpoints: Informer<Endpoints>,
    queue: WorkQueue<String>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("endpoint-controller").await?;
    let ec = Arc::new(Ec {
        client,
        services: ctx.informers.get::<Service>(),
        pods: ctx.informers.get::<Pod>(),
        endpoints: ctx.informers.get::<Endpoints>(),
        queue: WorkQueue::new("endpoint"),
    });
    queue_on_service_and_pod_changes(&ec.services, &ec.pods, &ec.queue);
    let e = ec.clone();
    ec.endpoints.add_handler(move |c| {
        // Someone else changed or deleted an Endpoints object we manage: put it right.
        if let Change::Updated { new: ep, .. } | Change::Deleted(ep) = c {
            e.queue.add(util::meta_key(&ep.metadata));
        }
    });
    let workers = ctx.opts.concurrent_endpoint_syncs;
    tokio::spawn(async move {
        ec.services.wait_synced().await;
        ec.pods.wait_synced().await;
        ec.endpoints.wait_synced().await;
        let e = ec.clone();
        ec.queue.run_workers(workers, move |key: String| {
            let e = e.clone();
            async move { e.sync(&key).await }
        });
    });
    Ok(true)
}

/// Subsets packed as upstream's `RepackSubsets`: addresses grouped by the exact set of ports
/// they serve, sorted for stable comparison.
fn repack(entries: Vec<(EndpointAddress, bool, Vec<EndpointPort>)>) -> Vec<EndpointSubset> {
    // Per port set: the ports, the ready addresses, the not-ready ones.
    type Group = (Vec<EndpointPort>, Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for (addr, ready, mut ports) in entries {
        ports.sort_by(|a, b| (&a.name, a.port, &a.protocol).cmp(&(&b.name, b.port, &b.protocol)));
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let g = groups.entry(key).or_insert_with(|| (ports.clone(), Vec::new(), Vec::new()));
        if ready {
            g.1.push(addr);
        } else {
            g.2.push(addr);
        }
    }
    let by_ip = |a: &EndpointAddress, b: &EndpointAddress| {
        (&a.ip, a.target_ref.as_ref().and_then(|r| r.uid.clone()))
            .cmp(&(&b.ip, b.target_ref.as_ref().and_then(|r| r.uid.clone())))
    };
    let mut out: Vec<EndpointSubset> = groups
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(by_ip);
            not_ready.sort_by(by_ip);
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let first = |s: &EndpointSubset| {
            s.addresses.iter().chain(s.not_ready_addresses.iter()).flatten().next().map(|a| a.ip.clone())
        };
        first(a).cmp(&first(b))
    });
    out
}

impl Ec {
    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let Some(svc) = self.services.get(ns, name) else {
            // The Service is gone: so is its Endpoints object (if we made it).
            if self.endpoints.get(ns, name).is_some() {
                match api.delete(name, &Default::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(());
        };
        let spec = svc.spec.clone().unwrap_or_default();
        if spec.selector.is_none() || spec.type_.as_deref() == Some("ExternalName") {
            // Endpoints of selectorless services are the user's.
            return Ok(());
        }
        let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
        let mut entries = Vec::new();
        for pod in selected_pods(&self.pods, &svc) {
            if !pod_in_endpoints(&pod, publish_not_ready) {
                continue;
            }
            let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
            let pspec = pod.spec.clone().unwrap_or_default();
            let hostname = match (&pspec.hostname, &pspec.subdomain) {
                (Some(h), Some(sd)) if sd == name && !h.is_empty() => Some(h.clone()),
                _ => None,
            };
            let addr =
                EndpointAddress { ip, hostname, node_name: pspec.node_name.clone(), target_ref: Some(pod_ref(&pod)) };
            let ready = publish_not_ready || util::pod_ready(&pod);
            let mut ports = Vec::new();
            for sp in spec.ports.iter().flatten() {
                if let Some(port) = find_port(&pod, sp) {
                    ports.push(EndpointPort {
                        name: sp.name.clone(),
                        port,
                        protocol: sp.protocol.clone(),
                        app_protocol: sp.app_protocol.clone(),
                    });
                }
            }
            if spec.ports.as_ref().is_some_and(|p| !p.is_empty()) && ports.is_empty() {
                continue;
            }
            entries.push((addr, ready, ports));
        }
        let mut subsets = repack(entries);
        let mut truncated = false;
        let total: usize = subsets
            .iter()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len) + s.not_ready_addresses.as_ref().map_or(0, Vec::len))
            .sum();
        if total > MAX_CAPACITY {
            truncated = true;
            let mut left = MAX_CAPACITY;
            for s in subsets.iter_mut() {
                for list in [&mut s.addresses, &mut s.not_ready_addresses] {
                    if let Some(l) = list.as_mut() {
                        l.truncate(left);
                        left -= l.len();
                    }
                }
            }
        }
        let mut labels = svc.metadata.labels.clone().unwrap_or_default();
        if spec.cluster_ip.as_deref() == Some("None") {
            labels.insert(HEADLESS_LABEL.into(), String::new());
        } else {
            labels.remove(HEADLESS_LABEL);
        }
        let current = self.endpoints.get(ns, name);
        let subsets = (!subsets.is_empty()).then_some(subsets);
        let mut annotations = current.as_ref().and_then(|c| c.metadata.annotations.clone()).unwrap_or_default();
        if truncated {
            annotations.insert("endpoints.kubernetes.io/over-capacity".into(), "truncated".into());
        } else {
            annotations.remove("endpoints.kubernetes.io/over-capacity");
        }
        match current {
            Some(cur) => {
                let cur_labels = cur.metadata.labels.clone().unwrap_or_default();
                if cur.subsets == subsets
                    && cur_labels == labels
                    && cur.metadata.annotations.clone().unwrap_or_default() == annotations
                {
                    return Ok(());
                }
                let mut ep = (*cur).clone();
                ep.subsets = subsets;
                ep.metadata.labels = Some(labels);
                ep.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
                match api.replace(name, &PostParams::default(), &ep).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            None => {
                let ep = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        namespace: Some(ns.into()),
                        labels: Some(labels),
                        annotations: (!annotations.is_empty()).then_some(annotations),
                        ..Default::default()
                    },
                    subsets,
                };
                match api.create(&PostParams::default(), &ep).await {
                    Ok(_) => Ok(()),
                    // The namespace is going away: nothing to do.
                    Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("is being terminated") => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}
