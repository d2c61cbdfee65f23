//! The change tracker: informer handlers only note which Services changed (their own object
//! or one of their EndpointSlices); a sync recomputes those Services from the informers'
//! stores, so the cost of a sync follows the number of changed Services, not their total.

use crate::model::{self, Endpoint, NodeInfo, ServicePort, ServiceState};
use crate::objects::{EndpointSlice, Service};
use crate::runner::Trigger;
use component_base::{Change, Informer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// `(namespace, name)` of a Service.
pub type ServiceKey = (String, String);

/// Everything programmed, by Service.
pub type ProxyState = BTreeMap<ServiceKey, ServiceState>;

const BY_SERVICE: &str = "service";

/// The pending keys, shared with the informer handlers.
#[derive(Clone, Default)]
pub struct Pending(Arc<Mutex<PendingInner>>);

#[derive(Default)]
struct PendingInner {
    keys: BTreeSet<ServiceKey>,
    /// Trigger times (`endpoints.kubernetes.io/last-change-trigger-time`) not yet programmed.
    triggers: Vec<jiff::Timestamp>,
}

impl Pending {
    fn add(&self, key: ServiceKey, trigger: Option<jiff::Timestamp>) {
        let mut p = self.0.lock().unwrap_or_else(|e| e.into_inner());
        p.keys.insert(key);
        p.triggers.extend(trigger);
    }

    fn take(&self) -> (BTreeSet<ServiceKey>, Vec<jiff::Timestamp>) {
        let mut p = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut p.keys), std::mem::take(&mut p.triggers))
    }
}

fn slice_service(s: &EndpointSlice) -> Option<ServiceKey> {
    let label = || s.metadata.labels.as_ref()?.get(model::SERVICE_NAME_LABEL);
    let name = s.service_name.as_ref().or_else(label)?;
    Some((s.metadata.namespace.clone().unwrap_or_default(), name.clone()))
}

/// When the change a slice carries happened (set by the EndpointSlice controller).
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

fn trigger_time(s: &EndpointSlice, since: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let annotation = || s.metadata.annotations.as_ref()?.get(TRIGGER_TIME_ANNOTATION);
    let t = s.trigger_time.as_ref().or_else(annotation)?;
    t.parse::<jiff::Timestamp>().ok().filter(|t| *t > since)
}

/// Services and their endpoints as last computed, and what changed since.
pub struct Tracker {
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    pending: Pending,
    pub state: ProxyState,
    /// Services whose values the rules cannot carry, with the reason (logged once per change).
    pub rejected: BTreeMap<ServiceKey, String>,
}

/// What one update found.
#[derive(Debug, Default)]
pub struct Update {
    /// Services whose ports or endpoints differ from before.
    pub changed: BTreeSet<ServiceKey>,
    /// Changed services with a UDP port, before and after (their conntrack entries may be stale).
    pub udp_changed: bool,
    pub triggers: Vec<jiff::Timestamp>,
    /// Services newly rejected, with the reason, for an Event.
    pub newly_rejected: Vec<(ServiceKey, String)>,
}

impl Tracker {
    /// Registers the handlers; every change asks `trigger` for a sync.
    pub fn new(services: Informer<Service>, slices: Informer<EndpointSlice>, trigger: Trigger) -> Tracker {
        let pending = Pending::default();
        let started = jiff::Timestamp::now();
        slices.add_index(BY_SERVICE, |s: &EndpointSlice| {
            slice_service(s).map(|(ns, n)| format!("{ns}/{n}")).into_iter().collect()
        });
        {
            let (p, t) = (pending.clone(), trigger.clone());
            services.add_handler(move |c: Change<'_, Service>| {
                let s = match c {
                    Change::Added(s) | Change::Deleted(s) => s,
                    Change::Updated { new, .. } => new,
                };
                p.add(
                    (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone().unwrap_or_default()),
                    None,
                );
                t.run();
            });
        }
        {
            let (p, t) = (pending.clone(), trigger);
            slices.add_handler(move |c: Change<'_, EndpointSlice>| {
                let (s, removed) = match c {
                    Change::Added(s) => (s, false),
                    Change::Deleted(s) => (s, true),
                    Change::Updated { new, .. } => (new, false),
                };
                let Some(key) = slice_service(s) else { return };
                crate::metrics::ENDPOINT_CHANGES.inc();
                let trig = if removed { None } else { trigger_time(s, started) };
                p.add(key, trig);
                t.run();
            });
        }
        Tracker { services, slices, pending, state: ProxyState::new(), rejected: BTreeMap::new() }
    }

    /// Recomputes the pending Services (every Service when `all`) for `node`.
    pub fn update(&mut self, node: &NodeInfo, all: bool) -> Update {
        let (mut keys, triggers) = self.pending.take();
        if all {
            keys.extend(self.state.keys().cloned());
            keys.extend(self.services.list().iter().map(|s| {
                (s.metadata.namespace.clone().unwrap_or_default(), s.metadata.name.clone().unwrap_or_default())
            }));
        }
        let mut out = Update { triggers, ..Default::default() };
        for key in keys {
            let new = self.compute(&key, node, &mut out);
            let old = self.state.get(&key);
            if old == new.as_ref() {
                continue;
            }
            let udp = |s: Option<&ServiceState>| {
                s.is_some_and(|s| s.iter().any(|(p, _)| p.name.protocol == model::Protocol::Udp))
            };
            out.udp_changed |= udp(old) || udp(new.as_ref());
            out.changed.insert(key.clone());
            match new {
                Some(s) => {
                    self.state.insert(key, s);
                }
                None => {
                    self.state.remove(&key);
                }
            }
        }
        out
    }

    fn compute(&mut self, key: &ServiceKey, node: &NodeInfo, out: &mut Update) -> Option<ServiceState> {
        let svc = self.services.get(&key.0, &key.1)?;
        let ports = match model::service_ports(&svc) {
            Ok(p) => {
                self.rejected.remove(key);
                p
            }
            Err(why) => {
                if self.rejected.get(key) != Some(&why) {
                    out.newly_rejected.push((key.clone(), why.clone()));
                    self.rejected.insert(key.clone(), why);
                }
                return None;
            }
        };
        if ports.is_empty() {
            return None;
        }
        let slices = self.slices.by_index(BY_SERVICE, &format!("{}/{}", key.0, key.1));
        let mut eps = model::slice_endpoints(slices.iter().map(|s| s.as_ref()), &node.name);
        let state: Vec<(ServicePort, Vec<Endpoint>)> = ports
            .into_iter()
            .map(|p| {
                let e = eps.remove(&(p.name.port.clone(), p.name.protocol)).unwrap_or_default();
                (p, e)
            })
            .collect();
        Some(state)
    }
}
