//! Helpers the controllers share, as upstream's `pkg/controller` and `podutil`: controller
//! references, label selectors, pod readiness and availability, and the expectations that
//! keep a controller from acting twice on a change its informer has not seen yet.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// `ns/name`, the key controllers queue.
pub fn key(ns: &str, name: &str) -> String {
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

pub fn meta_key(m: &ObjectMeta) -> String {
    key(m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""))
}

/// The owner reference with `controller: true`, if any.
pub fn controller_ref(m: &ObjectMeta) -> Option<&OwnerReference> {
    m.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true))
}

/// `metav1.NewControllerRef`.
pub fn new_controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

pub use api_types::selector::{selector_is_empty, selector_matches};

/// Index of objects by the UID of their controlling owner.
pub const BY_CONTROLLER: &str = "controller-uid";
/// Index of objects without a controlling owner, by namespace.
pub const ORPHANS: &str = "orphans-by-namespace";

/// Adds the two indexes a controller that claims objects by owner reference needs.
pub fn index_by_controller<K>(inf: &component_base::Informer<K>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    inf.add_index(BY_CONTROLLER, |o: &K| controller_ref(o.meta()).map(|r| vec![r.uid.clone()]).unwrap_or_default());
    inf.add_index(ORPHANS, |o: &K| match controller_ref(o.meta()) {
        None => vec![o.meta().namespace.clone().unwrap_or_default()],
        Some(_) => Vec::new(),
    });
}

/// The objects a controller with `uid` in `namespace` may claim: its own and the orphans.
pub fn claimable<K>(inf: &component_base::Informer<K>, uid: &str, namespace: &str) -> Vec<std::sync::Arc<K>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let mut v = inf.by_index(BY_CONTROLLER, uid);
    v.extend(inf.by_index(ORPHANS, namespace));
    v
}

/// An API error's message (the Status message rather than kube-rs' wrapping), as events and
/// conditions quote it.
pub use component_base::client::api_message;

/// A create refused because the namespace is being deleted: expected, not a failure.
pub fn namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")))
}

/// `intstr.GetScaledValueFromIntOrPercent`: an int as is, a percentage of `total` rounded up
/// or down.
pub fn scaled(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * f64::from(total) / 100.0;
            // Whole replica counts: the float is a percentage of an i32.
            (if round_up { x.ceil() } else { x.floor() }) as i32
        }
    }
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

/// `podutil.IsPodReady`.
pub fn pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became ready (its Ready condition's transition), if it is ready.
pub fn pod_ready_time(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod).filter(|c| c.status == "True").and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0)
}

/// When the pod's Ready condition last changed (either way): the pod's trigger time for the
/// endpoints' `last-change-trigger-time`.
pub fn pod_ready_transition(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod).and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0)
}

/// `podutil.IsPodAvailable`: ready for at least `min_ready_seconds`.
pub fn pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match pod_ready_time(pod) {
        Some(t) => t.as_nanosecond() + i128::from(min_ready_seconds) * 1_000_000_000 < now.as_nanosecond(),
        None => false,
    }
}

pub fn pod_phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// `controller.IsPodActive`: not finished and not being deleted.
pub fn pod_active(pod: &Pod) -> bool {
    let phase = pod_phase(pod);
    phase != "Succeeded" && phase != "Failed" && pod.metadata.deletion_timestamp.is_none()
}

pub fn time_now() -> Time {
    Time(now())
}

/// How long a controller waits for its informer to report what it did before it acts again
/// anyway (`ExpectationsTimeout`).
const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Expectation {
    add: i64,
    del: i64,
    /// Pods whose deletion is expected (upstream's UID-tracking expectations), so that one
    /// deletion observed twice counts once.
    deleting: HashSet<String>,
    at: Instant,
}

/// upstream's `UIDTrackingControllerExpectations`: how many creations and which deletions a
/// controller is still waiting to see, per controller key.
#[derive(Debug, Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Expectation>>,
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expectation>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when nothing is pending (or the expectation is older than five minutes).
    pub fn satisfied(&self, key: &str) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(e) => (e.add <= 0 && e.del <= 0) || e.at.elapsed() > EXPECTATIONS_TIMEOUT,
        }
    }

    pub fn expect_creations(&self, key: &str, n: usize) {
        self.lock().insert(
            key.to_string(),
            Expectation {
                add: i64::try_from(n).unwrap_or(i64::MAX),
                del: 0,
                deleting: HashSet::new(),
                at: Instant::now(),
            },
        );
    }

    pub fn expect_deletions(&self, key: &str, pods: Vec<String>) {
        let n = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        self.lock().insert(
            key.to_string(),
            Expectation { add: 0, del: n, deleting: pods.into_iter().collect(), at: Instant::now() },
        );
    }

    /// Creations and deletions at once (`SetExpectations`), as the DaemonSet controller's
    /// syncs both create and delete.
    pub fn expect(&self, key: &str, add: usize, pods: Vec<String>) {
        let del = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        self.lock().insert(
            key.to_string(),
            Expectation {
                add: i64::try_from(add).unwrap_or(i64::MAX),
                del,
                deleting: pods.into_iter().collect(),
                at: Instant::now(),
            },
        );
    }

    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.add -= 1;
        }
    }

    pub fn deletion_observed(&self, key: &str, pod_key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            if e.deleting.remove(pod_key) {
                e.del -= 1;
            }
        }
    }

    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_count_creations_and_named_deletions() {
        let e = Expectations::default();
        assert!(e.satisfied("a"));
        e.expect_creations("a", 2);
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        assert!(e.satisfied("a"));
        e.expect_deletions("a", vec!["ns/p1".into(), "ns/p2".into()]);
        e.deletion_observed("a", "ns/p1");
        e.deletion_observed("a", "ns/p1");
        assert!(!e.satisfied("a"));
        e.deletion_observed("a", "ns/p2");
        assert!(e.satisfied("a"));
    }
}
