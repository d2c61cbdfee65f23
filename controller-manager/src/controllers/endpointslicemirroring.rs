//! `endpointslice-mirroring-controller` (upstream `pkg/controller/endpointslicemirroring`): the
//! Endpoints a user writes for a Service without a selector are mirrored into EndpointSlices
//! (labelled `kubernetes.io/service-name` and managed-by
//! `endpointslicemirroring-controller.k8s.io`, owned by the Endpoints, carrying its labels and
//! annotations but the trigger time and kubectl's last-applied one), so that consumers of
//! slices see them too. The subsets are first repacked as upstream's `RepackSubsets`; each
//! (address family, port set) gets one slice of at most `--mirroring-max-endpoints-per-subset`
//! addresses (ready ones first), the rest skipped with a `TooManyAddressesToMirror` warning and
//! invalid IPs with `InvalidIPAddress`. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror:
//! "true"` (the apiserver's own `kubernetes` Endpoints) or holding a leader-election record are
//! not mirrored; the slices go when the Endpoints or the Service goes, or the Service gains a
//! selector.

use crate::context::Ctx;
use crate::controllers::endpointslice::{rv, Tracker, MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::workqueue::RateLimiter;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const MAX_ENDPOINTS_PER_SUBSET_LIMIT: i32 = 1000;

/// `shouldMirror`: not labelled skip-mirror and not a leader-election record.
pub fn should_mirror(ep: &Endpoints) -> bool {
    ep.labels().get(SKIP_MIRROR_LABEL).map(String::as_str) != Some("true")
        && !ep.annotations().contains_key(LEADER_ANNOTATION)
}

/// Whether a Service has a selector as stored: the apiserver drops an empty one.
fn has_selector(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|s| !s.is_empty())
}

/// `netutils.ParseIPSloppy` then `To4`: the IP in canonical form and its address type.
/// IPv4 fields may have leading zeros; an IPv4-mapped IPv6 address is IPv4.
pub fn parse_ip(s: &str) -> Option<(String, &'static str)> {
    if s.contains(':') {
        let v6: Ipv6Addr = s.parse().ok()?;
        return Some(match v6.to_ipv4_mapped() {
            Some(v4) => (v4.to_string(), "IPv4"),
            None => (v6.to_string(), "IPv6"),
        });
    }
    let mut octets = [0u8; 4];
    let mut fields = s.split('.');
    for o in octets.iter_mut() {
        let f = fields.next()?;
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = f.trim_start_matches('0');
        if digits.len() > 3 {
            return None;
        }
        *o = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    }
    if fields.next().is_some() {
        return None;
    }
    Some((IpAddr::V4(Ipv4Addr::from(octets)).to_string(), "IPv4"))
}

/// A port as the key of a port set: name, port, protocol (TCP when unset), app protocol.
type PortKey = (String, i32, String, Option<String>);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port.unwrap_or_default(),
        p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        p.app_protocol.clone(),
    )
}

/// The address type and sorted port set one slice holds (`addrTypePortMapKey`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SliceKey {
    address_type: String,
    ports: Vec<PortKey>,
}

fn slice_key(address_type: &str, ports: &[EndpointPort]) -> SliceKey {
    let mut p: Vec<PortKey> = ports.iter().map(port_key).collect();
    p.sort();
    SliceKey { address_type: address_type.to_string(), ports: p }
}

/// `RepackSubsets`: every (address, port) pair regrouped so that each subset is the set of
/// addresses offering exactly its ports, addresses deduplicated by IP and target UID (an
/// address not ready for a port stays not ready), sorted by IP then UID. Addresses of a subset
/// without ports are dropped, as upstream drops them.
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    type AddrKey = (String, Option<String>);
    type PortK = (Option<String>, i32, Option<String>, Option<String>);
    let addr_key = |a: &EndpointAddress| (a.ip.clone(), a.target_ref.as_ref().and_then(|r| r.uid.clone()));
    let mut all: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    let mut by_port: BTreeMap<PortK, (k8s_openapi::api::core::v1::EndpointPort, BTreeMap<AddrKey, bool>)> =
        BTreeMap::new();
    for s in subsets {
        for port in s.ports.iter().flatten() {
            let pk = (port.name.clone(), port.port, port.protocol.clone(), port.app_protocol.clone());
            let entry = by_port.entry(pk).or_insert_with(|| (port.clone(), BTreeMap::new()));
            let ready = s.addresses.iter().flatten().map(|a| (a, true));
            let not_ready = s.not_ready_addresses.iter().flatten().map(|a| (a, false));
            for (a, r) in ready.chain(not_ready) {
                let k = addr_key(a);
                all.entry(k.clone()).or_insert_with(|| a.clone());
                // Not ready trumps ready.
                let was = entry.1.entry(k).or_insert(r);
                *was = *was && r;
            }
        }
    }
    let mut groups: BTreeMap<Vec<(AddrKey, bool)>, Vec<k8s_openapi::api::core::v1::EndpointPort>> = BTreeMap::new();
    for (port, addrs) in by_port.into_values() {
        groups.entry(addrs.into_iter().collect()).or_default().push(port);
    }
    groups
        .into_iter()
        .map(|(addrs, ports)| {
            let pick = |want: bool| -> Option<Vec<EndpointAddress>> {
                let v: Vec<EndpointAddress> =
                    addrs.iter().filter(|(_, r)| *r == want).filter_map(|(k, _)| all.get(k).cloned()).collect();
                (!v.is_empty()).then_some(v)
            };
            EndpointSubset { addresses: pick(true), not_ready_addresses: pick(false), ports: Some(ports) }
        })
        .collect()
}

/// `addressToEndpoint`: the slice endpoint of an Endpoints address, with its address type.
fn address_to_endpoint(a: &EndpointAddress, ready: bool) -> Option<(Endpoint, &'static str)> {
    let (ip, address_type) = parse_ip(&a.ip)?;
    let ep = Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions { ready: Some(ready), serving: None, terminating: None }),
        target_ref: a.target_ref.clone(),
        node_name: a.node_name.clone(),
        hostname: a.hostname.clone().filter(|h| !h.is_empty()),
        ..Default::default()
    };
    Some((ep, address_type))
}

/// The identity of an endpoint within a slice (`hashEndpoint`): its addresses, hostname and
/// target's namespace and name; the rest may change in place.
fn endpoint_identity(e: &Endpoint) -> (Vec<String>, String, String, String) {
    let mut addrs = e.addresses.clone();
    addrs.sort();
    let r = e.target_ref.as_ref();
    (
        addrs,
        e.hostname.clone().unwrap_or_default(),
        r.and_then(|r| r.namespace.clone()).unwrap_or_default(),
        r.and_then(|r| r.name.clone()).unwrap_or_default(),
    )
}

/// An insertion-ordered set of endpoints by identity (upstream's `EndpointSet`): a second
/// endpoint with the same identity replaces the first.
#[derive(Debug, Default, Clone)]
pub struct EndpointSet {
    items: Vec<Endpoint>,
    index: HashMap<(Vec<String>, String, String, String), usize>,
}

impl EndpointSet {
    fn insert(&mut self, e: Endpoint) {
        let id = endpoint_identity(&e);
        match self.index.get(&id) {
            Some(&i) => self.items[i] = e,
            None => {
                self.index.insert(id, self.items.len());
                self.items.push(e);
            }
        }
    }

    fn get(&self, e: &Endpoint) -> Option<&Endpoint> {
        self.index.get(&endpoint_identity(e)).map(|&i| &self.items[i])
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What the Endpoints asks for: per slice key its ports and endpoints, and the counts of
/// addresses skipped (all, and those for being invalid IPs).
#[derive(Debug, Default)]
pub struct Desired {
    pub slices: BTreeMap<SliceKey, (Vec<EndpointPort>, EndpointSet)>,
    pub skipped: usize,
    pub invalid: usize,
}

/// The desired state of `reconcile`: each repacked subset's ports as slice ports under both
/// address types, and its addresses (ready first) up to `max_per_subset`.
pub fn desired(ep: &Endpoints, max_per_subset: usize) -> Desired {
    let mut d = Desired::default();
    for subset in repack(ep.subsets.as_deref().unwrap_or_default()) {
        let ports: Vec<EndpointPort> = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_default()),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        for family in ["IPv4", "IPv6"] {
            d.slices.entry(slice_key(family, &ports)).or_insert_with(|| (ports.clone(), EndpointSet::default())).0 =
                ports.clone();
        }
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset.not_ready_addresses.iter().flatten().map(|a| (a, false));
        let total =
            subset.addresses.as_ref().map_or(0, Vec::len) + subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        let mut added = 0;
        for (a, r) in ready.chain(not_ready) {
            if added >= max_per_subset {
                break;
            }
            match address_to_endpoint(a, r) {
                Some((e, family)) => {
                    if let Some(set) = d.slices.get_mut(&slice_key(family, &ports)) {
                        set.1.insert(e);
                    }
                    added += 1;
                }
                None => {
                    d.invalid += 1;
                    tracing::info!(
                        endpoints = %util::meta_key(&ep.metadata),
                        ip = %a.ip,
                        "Address in Endpoints is not a valid IP, it will not be mirrored to an EndpointSlice"
                    );
                }
            }
        }
        d.skipped += total - added;
    }
    d
}

/// The Endpoints' annotations a mirrored slice carries.
fn mirrored_annotations(ep: &Endpoints) -> BTreeMap<String, String> {
    let mut a = ep.metadata.annotations.clone().unwrap_or_default();
    a.remove(LAST_CHANGE_TRIGGER_TIME);
    a.remove(LAST_APPLIED);
    a
}

/// `newEndpointSlice`: owned by the Endpoints, its labels plus ours, its annotations.
pub fn new_slice(ep: &Endpoints, ports: &[EndpointPort], address_type: &str, name: Option<String>) -> EndpointSlice {
    let ep_name = ep.name_any();
    let mut labels = ep.metadata.labels.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), ep_name.clone());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    let annotations = mirrored_annotations(ep);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: name.is_none().then(|| format!("{ep_name}-")),
            name,
            namespace: ep.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![util::new_controller_ref("v1", "Endpoints", &ep.metadata)]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

/// The writes a reconcile makes.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<Arc<EndpointSlice>>,
}

/// Whether the first existing slice already holds exactly the desired endpoints (`totalChanges`
/// is zero) and mirrors the Endpoints' labels and annotations.
fn up_to_date(ep: &Endpoints, slice: &EndpointSlice, want: &EndpointSet) -> bool {
    let mut matched = 0;
    for e in &slice.endpoints {
        match want.get(e) {
            Some(w) if w == e => matched += 1,
            _ => return false,
        }
    }
    if matched != want.len() {
        return false;
    }
    let mut labels = slice.metadata.labels.clone().unwrap_or_default();
    labels.remove(MANAGED_BY_LABEL);
    labels.remove(SERVICE_NAME_LABEL);
    labels == ep.metadata.labels.clone().unwrap_or_default()
        && mirrored_annotations(ep) == slice.metadata.annotations.clone().unwrap_or_default()
}

/// `reconcile`'s slice arithmetic: per slice key keep (and rewrite if needed) the first
/// existing slice and delete the others; create one when there is none; delete slices of keys
/// no longer wanted or with nothing in them; then turn creates into updates of slices being
/// deleted of the same address type (`recycleSlices`).
pub fn plan(ep: &Endpoints, existing: &[Arc<EndpointSlice>], desired: Desired, max_per_subset: usize) -> Plan {
    let mut by_key: BTreeMap<SliceKey, Vec<Arc<EndpointSlice>>> = BTreeMap::new();
    let mut sorted = existing.to_vec();
    sorted.sort_by_key(|s| s.name_any());
    for s in sorted {
        by_key.entry(slice_key(&s.address_type, s.ports.as_deref().unwrap_or_default())).or_default().push(s);
    }
    let mut p = Plan::default();
    for (key, (ports, want)) in desired.slices {
        let slices = by_key.remove(&key).unwrap_or_default();
        if want.is_empty() {
            p.delete.extend(slices);
            continue;
        }
        if let Some(first) = slices.first() {
            p.delete.extend(slices.iter().skip(1).cloned());
            if up_to_date(ep, first, &want) {
                continue;
            }
        }
        let mut slice = new_slice(ep, &ports, &key.address_type, slices.first().map(|s| s.name_any()));
        slice.endpoints = want.items.into_iter().take(max_per_subset).collect();
        if slice.metadata.name.is_some() {
            p.update.push(slice);
        } else {
            p.create.push(slice);
        }
    }
    for slices in by_key.into_values() {
        p.delete.extend(slices);
    }
    // recycleSlices
    let mut create = Vec::new();
    for mut c in std::mem::take(&mut p.create) {
        match p.delete.iter().position(|d| d.address_type == c.address_type) {
            Some(i) => {
                let d = p.delete.remove(i);
                c.metadata.name = Some(d.name_any());
                c.metadata.generate_name = None;
                p.update.push(c);
            }
            None => create.push(c),
        }
    }
    p.create = create;
    p
}

struct Mc {
    client: Client,
    recorder: Recorder,
    endpoints: Informer<Endpoints>,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    queue: WorkQueue<String>,
    tracker: Tracker,
    max_per_subset: usize,
    batch: Duration,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let max = ctx.opts.mirroring_max_endpoints_per_subset;
    if max < 1 {
        return Err(Error::Config(format!(
            "mirroring-max-endpoints-per-subset must not be less than 1, but got {max}"
        )));
    }
    if max > MAX_ENDPOINTS_PER_SUBSET_LIMIT {
        return Err(Error::Config(format!(
            "mirroring-max-endpoints-per-subset must not be more than {MAX_ENDPOINTS_PER_SUBSET_LIMIT}, but got {max}"
        )));
    }
    let client = ctx.client("endpointslicemirroring-controller").await?;
    let recorder = ctx.recorder(&client, "endpoint-slice-mirroring-controller");
    // As upstream: a slower backoff than the default (1s to 100s), the slice writes are big.
    let limiter = RateLimiter::new(Duration::from_secs(1), Duration::from_secs(100), 10.0, 100);
    let mc = Arc::new(Mc {
        client,
        recorder,
        endpoints: ctx.informers.get::<Endpoints>(),
        services: ctx.informers.get::<Service>(),
        slices: ctx.informers.get::<EndpointSlice>(),
        queue: WorkQueue::with_limiter("endpoint_slice_mirroring", limiter),
        tracker: Tracker::default(),
        max_per_subset: usize::try_from(max).unwrap_or(1000),
        batch: ctx.opts.mirroring_endpointslice_updates_batch_period,
    });
    let h = mc.clone();
    mc.endpoints.add_handler(move |c| {
        let (ep, mirror) = match c {
            Change::Added(ep) | Change::Deleted(ep) => (ep, should_mirror(ep)),
            Change::Updated { old, new } => (new, should_mirror(old) || should_mirror(new)),
        };
        if mirror {
            h.queue.add(util::meta_key(&ep.metadata));
        }
    });
    let h = mc.clone();
    mc.services.add_handler(move |c| {
        let (svc, queue) = match c {
            Change::Added(s) | Change::Deleted(s) => (s, !has_selector(s)),
            Change::Updated { old, new } => (new, has_selector(old) != has_selector(new)),
        };
        if queue {
            h.queue.add(util::meta_key(&svc.metadata));
        }
    });
    let h = mc.clone();
    mc.slices.add_handler(move |c| {
        let key_of = |s: &EndpointSlice| {
            s.labels()
                .get(SERVICE_NAME_LABEL)
                .filter(|n| !n.is_empty())
                .map(|n| util::key(&s.namespace().unwrap_or_default(), n))
        };
        let mine = |s: &EndpointSlice| s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(CONTROLLER_NAME);
        match c {
            Change::Added(s) | Change::Deleted(s) if !mine(s) => {}
            Change::Added(s) => {
                if let Some(k) = key_of(s) {
                    h.tracker.observe(&k, &s.name_any(), Some(rv(s)));
                    h.queue.add_after(k, h.batch);
                }
            }
            Change::Deleted(s) => {
                if let Some(k) = key_of(s) {
                    h.tracker.observe(&k, &s.name_any(), None);
                    h.queue.add_after(k, h.batch);
                }
            }
            Change::Updated { old, new } => {
                // A user may relabel a slice to another service, or take it from us or give
                // it to us: both services are looked at again.
                let (ok, nk) = (key_of(old), key_of(new));
                if ok != nk || mine(old) != mine(new) {
                    for k in [ok, nk].into_iter().flatten() {
                        h.queue.add_after(k, h.batch);
                    }
                } else if mine(new) {
                    if let Some(k) = nk {
                        h.tracker.observe(&k, &new.name_any(), Some(rv(new)));
                        h.queue.add_after(k, h.batch);
                    }
                }
            }
        }
    });
    let workers = ctx.opts.mirroring_concurrent_service_endpoint_syncs;
    tokio::spawn(async move {
        mc.endpoints.wait_synced().await;
        mc.slices.wait_synced().await;
        mc.services.wait_synced().await;
        let w = mc.clone();
        mc.queue.run_workers(workers, move |key: String| {
            let w = w.clone();
            async move { w.sync(&key).await }
        });
    });
    Ok(true)
}

impl Mc {
    /// The slices this controller mirrored for `ns/name`.
    fn mirrored(&self, ns: &str, name: &str) -> Vec<Arc<EndpointSlice>> {
        self.slices
            .list_namespace(ns)
            .into_iter()
            .filter(|s| {
                s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(name)
                    && s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(CONTROLLER_NAME)
            })
            .collect()
    }

    async fn delete_mirrored(&self, key: &str, ns: &str, name: &str) -> Result<(), Error> {
        self.tracker.forget(key);
        let slices = self.mirrored(ns, name);
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let mut errs = Vec::new();
        for s in &slices {
            match api.delete(&s.name_any(), &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(st)) if st.code == 404 => {}
                Err(e) => errs.push(e),
            }
        }
        match errs.first() {
            None => Ok(()),
            Some(e) => Err(Error::Config(format!(
                "error(s) deleting {}/{} EndpointSlices for {ns}/{name} Endpoints, including: {e}",
                errs.len(),
                slices.len()
            ))),
        }
    }

    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(ep) = self.endpoints.get(ns, name) else {
            tracing::debug!(endpoints = %key, "Endpoints not found, cleaning up any mirrored EndpointSlices");
            return self.delete_mirrored(key, ns, name).await;
        };
        if !should_mirror(&ep) {
            return self.delete_mirrored(key, ns, name).await;
        }
        let Some(svc) = self.services.get(ns, name) else {
            tracing::debug!(service = %key, "Service not found, cleaning up any mirrored EndpointSlices");
            return self.delete_mirrored(key, ns, name).await;
        };
        if has_selector(&svc) {
            return self.delete_mirrored(key, ns, name).await;
        }
        let existing = self.mirrored(ns, name);
        if self.tracker.stale(key, &existing) {
            return Err(Error::Config("EndpointSlice informer cache is out of date".into()));
        }
        let d = desired(&ep, self.max_per_subset);
        if d.invalid > 0 {
            let msg = format!("Skipped {} invalid IP addresses when mirroring to EndpointSlices", d.invalid);
            self.recorder.warning(&*ep, "InvalidIPAddress", msg);
        }
        if d.skipped > d.invalid {
            tracing::info!(
                skipped = d.skipped,
                endpoints = %key,
                "Addresses in Endpoints were skipped due to exceeding MaxEndpointsPerSubset"
            );
            let msg = format!(
                "A max of {} addresses can be mirrored to EndpointSlices per Endpoints subset. \
                 {} addresses were skipped",
                self.max_per_subset, d.skipped
            );
            self.recorder.warning(&*ep, "TooManyAddressesToMirror", msg);
        }
        let p = plan(&ep, &existing, d, self.max_per_subset);
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        // No new slices for an Endpoints being deleted.
        if ep.metadata.deletion_timestamp.is_none() {
            for s in &p.create {
                match api.create(&PostParams::default(), s).await {
                    Ok(created) => self.tracker.record(key, &created.name_any(), Some(rv(&created))),
                    Err(kube::Error::Api(st)) if st.code == 403 && st.message.contains("is being terminated") => {
                        return Ok(())
                    }
                    Err(e) => {
                        return Err(Error::Config(format!("failed to create EndpointSlice for Endpoints {key}: {e}")))
                    }
                }
            }
        }
        for s in &p.update {
            let slice_name = s.name_any();
            match api.replace(&slice_name, &PostParams::default(), s).await {
                Ok(updated) => self.tracker.record(key, &slice_name, Some(rv(&updated))),
                Err(e) => {
                    return Err(Error::Config(format!(
                        "failed to update {slice_name} EndpointSlice for Endpoints {key}: {e}"
                    )))
                }
            }
        }
        for s in &p.delete {
            let slice_name = s.name_any();
            match api.delete(&slice_name, &Default::default()).await {
                Ok(_) => self.tracker.record(key, &slice_name, None),
                Err(kube::Error::Api(st)) if st.code == 404 => {}
                Err(e) => {
                    return Err(Error::Config(format!(
                        "failed to delete {slice_name} EndpointSlice for Endpoints {key}: {e}"
                    )))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointPort as CorePort, ObjectReference};

    fn addr(ip: &str) -> EndpointAddress {
        EndpointAddress { ip: ip.into(), ..Default::default() }
    }

    fn port(name: &str, p: i32) -> CorePort {
        CorePort { name: Some(name.into()), port: p, protocol: Some("TCP".into()), app_protocol: None }
    }

    fn endpoints(subsets: Vec<EndpointSubset>) -> Endpoints {
        Endpoints {
            metadata: ObjectMeta {
                name: Some("ext".into()),
                namespace: Some("demo".into()),
                uid: Some("u1".into()),
                labels: Some(BTreeMap::from([("team".to_string(), "a".to_string())])),
                annotations: Some(BTreeMap::from([
                    (LAST_CHANGE_TRIGGER_TIME.to_string(), "t".to_string()),
                    ("note".to_string(), "n".to_string()),
                ])),
                ..Default::default()
            },
            subsets: Some(subsets),
        }
    }

    #[test]
    fn ips_parse_sloppily_and_canonically() {
        assert_eq!(parse_ip("10.0.0.1"), Some(("10.0.0.1".into(), "IPv4")));
        assert_eq!(parse_ip("010.000.0.01"), Some(("10.0.0.1".into(), "IPv4")));
        assert_eq!(parse_ip("::ffff:1.2.3.4"), Some(("1.2.3.4".into(), "IPv4")));
        assert_eq!(parse_ip("2001:DB8:0:0::1"), Some(("2001:db8::1".into(), "IPv6")));
        for bad in ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "a.b.c.d", "1..2.3", "host", "fe80::1%eth0"] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn repack_groups_addresses_by_their_ports_and_not_ready_wins() {
        let subsets = vec![
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.2"), addr("10.0.0.1")]),
                not_ready_addresses: None,
                ports: Some(vec![port("http", 80)]),
            },
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.3")]),
                not_ready_addresses: Some(vec![addr("10.0.0.1")]),
                ports: Some(vec![port("http", 80)]),
            },
            EndpointSubset {
                addresses: Some(vec![addr("10.0.0.9")]),
                not_ready_addresses: None,
                ports: Some(vec![port("dns", 53)]),
            },
            // No ports: nothing to mirror.
            EndpointSubset { addresses: Some(vec![addr("10.0.0.7")]), not_ready_addresses: None, ports: None },
        ];
        let r = repack(&subsets);
        assert_eq!(r.len(), 2, "{r:?}");
        let http = r.iter().find(|s| s.ports.as_ref().unwrap()[0].port == 80).unwrap();
        let ips = |v: &Option<Vec<EndpointAddress>>| v.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>();
        assert_eq!(ips(&http.addresses), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(ips(&http.not_ready_addresses), ["10.0.0.1"]);
        // Two ports served by the same addresses share a subset.
        let r = repack(&[EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1")]),
            not_ready_addresses: None,
            ports: Some(vec![port("a", 1), port("b", 2)]),
        }]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].ports.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn each_family_and_port_set_gets_one_capped_slice() {
        let mut subset = EndpointSubset {
            addresses: Some((1..=5).map(|i| addr(&format!("10.0.0.{i}"))).chain([addr("fd00::1")]).collect()),
            not_ready_addresses: Some(vec![addr("10.0.1.1"), addr("not-an-ip")]),
            ports: Some(vec![port("http", 80)]),
        };
        subset.addresses.as_mut().unwrap()[0].target_ref =
            Some(ObjectReference { kind: Some("Pod".into()), name: Some("p".into()), ..Default::default() });
        let ep = endpoints(vec![subset]);
        let d = desired(&ep, 4);
        // Ready first: 10.0.0.1..4 fill the cap of four; fd00::1, 10.0.0.5 and the not-ready
        // ones (the invalid one too, as upstream breaks before looking at it) are skipped.
        assert_eq!((d.skipped, d.invalid), (4, 0));
        let p = plan(&ep, &[], d, 4);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (1, 0, 0));
        let s = &p.create[0];
        assert_eq!(s.address_type, "IPv4");
        assert_eq!(s.endpoints.len(), 4);
        assert_eq!(s.metadata.generate_name.as_deref(), Some("ext-"));
        let labels = s.metadata.labels.clone().unwrap();
        assert_eq!(labels.get(SERVICE_NAME_LABEL).map(String::as_str), Some("ext"));
        assert_eq!(labels.get(MANAGED_BY_LABEL).map(String::as_str), Some(CONTROLLER_NAME));
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(s.metadata.annotations, Some(BTreeMap::from([("note".to_string(), "n".to_string())])));
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("Endpoints", "u1", Some(true)));
        assert_eq!(s.endpoints[0].conditions.as_ref().and_then(|c| c.ready), Some(true));
        assert_eq!(s.ports.as_ref().unwrap()[0].name.as_deref(), Some("http"));

        // With room for all: one IPv4 and one IPv6 slice, the invalid IP counted.
        let d = desired(&ep, 1000);
        assert_eq!((d.skipped, d.invalid), (1, 1));
        let p = plan(&ep, &[], d, 1000);
        let mut fams: Vec<_> = p.create.iter().map(|s| (s.address_type.clone(), s.endpoints.len())).collect();
        fams.sort();
        assert_eq!(fams, [("IPv4".to_string(), 6), ("IPv6".to_string(), 1)]);
        let v4 = p.create.iter().find(|s| s.address_type == "IPv4").unwrap();
        let not_ready = v4.endpoints.iter().find(|e| e.addresses == ["10.0.1.1"]).unwrap();
        assert_eq!(not_ready.conditions.as_ref().and_then(|c| c.ready), Some(false));
    }

    fn existing(s: EndpointSlice, name: &str) -> Arc<EndpointSlice> {
        let mut s = s;
        s.metadata.name = Some(name.into());
        s.metadata.generate_name = None;
        Arc::new(s)
    }

    #[test]
    fn an_up_to_date_slice_is_left_and_others_are_updated_recycled_or_deleted() {
        let ep = endpoints(vec![EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1")]),
            not_ready_addresses: None,
            ports: Some(vec![port("http", 80)]),
        }]);
        let first = plan(&ep, &[], desired(&ep, 1000), 1000).create.remove(0);
        let current = existing(first.clone(), "ext-aaaaa");
        let p = plan(&ep, std::slice::from_ref(&current), desired(&ep, 1000), 1000);
        assert!(p.create.is_empty() && p.update.is_empty() && p.delete.is_empty(), "{p:?}");

        // A duplicate of the key is deleted; a changed label rewrites the first in place.
        let dup = existing(first.clone(), "ext-bbbbb");
        let mut relabelled = ep.clone();
        relabelled.metadata.labels = Some(BTreeMap::from([("team".to_string(), "b".to_string())]));
        let p = plan(&relabelled, &[current.clone(), dup], desired(&relabelled, 1000), 1000);
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].metadata.name.as_deref(), Some("ext-aaaaa"));
        assert_eq!(p.delete.iter().map(|s| s.name_any()).collect::<Vec<_>>(), ["ext-bbbbb"]);

        // The port changed: the old slice's name is reused for the new port set.
        let moved = endpoints(vec![EndpointSubset {
            addresses: Some(vec![addr("10.0.0.1")]),
            not_ready_addresses: None,
            ports: Some(vec![port("http", 8080)]),
        }]);
        let p = plan(&moved, std::slice::from_ref(&current), desired(&moved, 1000), 1000);
        assert!(p.create.is_empty() && p.delete.is_empty(), "{p:?}");
        assert_eq!(p.update[0].metadata.name.as_deref(), Some("ext-aaaaa"));
        assert_eq!(p.update[0].ports.as_ref().unwrap()[0].port, Some(8080));

        // No addresses left: the slice goes.
        let empty = endpoints(vec![]);
        let p = plan(&empty, std::slice::from_ref(&current), desired(&empty, 1000), 1000);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 0, 1));
    }

    #[test]
    fn skip_mirror_and_leader_records_are_not_mirrored() {
        let mut ep = endpoints(vec![]);
        assert!(should_mirror(&ep));
        ep.metadata.labels = Some(BTreeMap::from([(SKIP_MIRROR_LABEL.to_string(), "true".to_string())]));
        assert!(!should_mirror(&ep));
        ep.metadata.labels = None;
        ep.metadata.annotations = Some(BTreeMap::from([(LEADER_ANNOTATION.to_string(), "{}".to_string())]));
        assert!(!should_mirror(&ep));
    }
}
