//! The scheduling queue, as upstream's: activeQ ordered by priority then arrival (PrioritySort),
//! backoffQ for pods that failed a moment ago (1 s doubling to 10 s per attempt), and the
//! unschedulable pods, which wait for a cluster event that may make them fit (a node added or
//! changed, an assigned pod gone) or for the 5-minute leftover flush. Gated pods
//! (`schedulingGates`) wait there too until an update removes their gates.

use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A pod the queue holds, with its scheduling history.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    pub key: String,
    /// Scheduling attempts so far (each pop counts one).
    pub attempts: u32,
    /// When it was added, or last came back as unschedulable.
    pub timestamp: Instant,
    /// When it was first popped (the SLI's start).
    pub initial_attempt: Option<Instant>,
    /// The plugins that rejected it last time: a cluster event moves it only if one of
    /// them cares about that event (upstream's `UnschedulablePlugins`).
    pub rejectors: Vec<&'static str>,
    /// A cluster event that may help it came in while it was being scheduled: if the
    /// attempt fails, it goes to backoff instead of waiting for another event.
    event_in_flight: bool,
}

impl QueuedPod {
    fn new(pod: Arc<Pod>, key: String) -> QueuedPod {
        QueuedPod {
            pod,
            key,
            attempts: 0,
            timestamp: Instant::now(),
            initial_attempt: None,
            rejectors: Vec::new(),
            event_in_flight: false,
        }
    }

    fn priority(&self) -> i32 {
        crate::framework::pod_priority(&self.pod)
    }
}

fn gated(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.scheduling_gates.as_ref()).is_some_and(|g| !g.is_empty())
}

/// activeQ's order: higher priority first, then earlier timestamp, then a sequence number.
type ActiveKey = (std::cmp::Reverse<i32>, Instant, u64);

#[derive(Default)]
struct Inner {
    active: BTreeSet<(ActiveKey, String)>,
    backoff: BTreeSet<(Instant, u64, String)>,
    pods: HashMap<String, (Where, QueuedPod)>,
    /// Keys of the pods waiting for an event, and of those being scheduled: events look
    /// only at these, not at every queued pod.
    unschedulable: HashSet<String>,
    in_flight: HashSet<String>,
    seq: u64,
    closed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Active(ActiveKey),
    Backoff(Instant, u64),
    Unschedulable,
    Gated,
    /// Popped and being scheduled.
    InFlight,
}

pub struct Queue {
    inner: Mutex<Inner>,
    notify: Notify,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_unschedulable: Duration,
}

/// Pending pods by sub-queue, for `scheduler_pending_pods{queue}`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
    pub gated: usize,
}

impl Queue {
    pub fn new(initial_backoff: Duration, max_backoff: Duration, max_unschedulable: Duration) -> Queue {
        Queue { inner: Mutex::default(), notify: Notify::new(), initial_backoff, max_backoff, max_unschedulable }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    fn put(&self, g: &mut Inner, qp: QueuedPod, to: Where) {
        let key = qp.key.clone();
        g.seq += 1;
        let seq = g.seq;
        let to = match to {
            Where::Active(_) => {
                let k = (std::cmp::Reverse(qp.priority()), qp.timestamp, seq);
                g.active.insert((k, key.clone()));
                self.notify.notify_one();
                Where::Active(k)
            }
            Where::Backoff(..) => {
                let expiry = qp.timestamp + self.backoff_duration(qp.attempts);
                if expiry <= Instant::now() {
                    return self.put(g, qp, Where::Active((std::cmp::Reverse(0), Instant::now(), 0)));
                }
                g.backoff.insert((expiry, seq, key.clone()));
                Where::Backoff(expiry, seq)
            }
            Where::Unschedulable => {
                g.unschedulable.insert(key.clone());
                Where::Unschedulable
            }
            other => other,
        };
        g.pods.insert(key, (to, qp));
    }

    fn take(g: &mut Inner, key: &str) -> Option<(Where, QueuedPod)> {
        let (w, qp) = g.pods.remove(key)?;
        match w {
            Where::Active(k) => {
                g.active.remove(&(k, key.to_string()));
            }
            Where::Backoff(e, s) => {
                g.backoff.remove(&(e, s, key.to_string()));
            }
            Where::Unschedulable => {
                g.unschedulable.remove(key);
            }
            Where::InFlight => {
                g.in_flight.remove(key);
            }
            Where::Gated => {}
        }
        Some((w, qp))
    }

    /// Placeholders: `put` fills in the real key.
    fn active_slot() -> Where {
        Where::Active((std::cmp::Reverse(0), Instant::now(), 0))
    }

    fn backoff_slot() -> Where {
        Where::Backoff(Instant::now(), 0)
    }

    /// A new pending pod (or one seen again after a relist).
    pub fn add(&self, pod: Arc<Pod>, key: String) {
        let mut g = self.lock();
        if g.pods.contains_key(&key) {
            drop(g);
            return self.update(pod, key);
        }
        let qp = QueuedPod::new(pod.clone(), key);
        let to = if gated(&pod) { Where::Gated } else { Self::active_slot() };
        self.put(&mut g, qp, to);
    }

    /// A pending pod changed: queued copies are refreshed; a gated pod whose gates are gone,
    /// or an unschedulable pod whose spec or labels changed, gets another try. (A pod's
    /// priority is immutable, so an active pod keeps its place in line.)
    pub fn update(&self, pod: Arc<Pod>, key: String) {
        let mut g = self.lock();
        let Some((w, qp)) = g.pods.get_mut(&key) else {
            drop(g);
            return self.add(pod, key);
        };
        let spec_changed = qp.pod.spec != pod.spec || qp.pod.metadata.labels != pod.metadata.labels;
        qp.pod = pod.clone();
        let to = match *w {
            Where::Gated if !gated(&pod) => Self::active_slot(),
            Where::Unschedulable if spec_changed && gated(&pod) => Where::Gated,
            Where::Unschedulable if spec_changed => Self::backoff_slot(),
            _ => return,
        };
        if let Some((_, qp)) = Self::take(&mut g, &key) {
            self.put(&mut g, qp, to);
        }
    }

    /// A pending pod deleted or bound elsewhere: out of every sub-queue.
    pub fn delete(&self, key: &str) {
        let mut g = self.lock();
        Self::take(&mut g, key);
    }

    /// The next pod to schedule, waiting while activeQ is empty; None once closed.
    pub async fn pop(&self) -> Option<QueuedPod> {
        loop {
            let notified = self.notify.notified();
            {
                let mut g = self.lock();
                if g.closed {
                    return None;
                }
                if let Some(first) = g.active.iter().next().cloned() {
                    g.active.remove(&first);
                    if let Some((w, qp)) = g.pods.get_mut(&first.1) {
                        *w = Where::InFlight;
                        qp.attempts += 1;
                        qp.event_in_flight = false;
                        qp.initial_attempt.get_or_insert_with(Instant::now);
                        let out = qp.clone();
                        g.in_flight.insert(first.1.clone());
                        // Wake another popper if more are waiting.
                        if !g.active.is_empty() {
                            self.notify.notify_one();
                        }
                        return Some(out);
                    }
                    continue;
                }
            }
            notified.await;
        }
    }

    /// The attempt failed, rejected by `rejectors`: to backoff when a cluster event that
    /// may help came in meanwhile, or with `error` (not a plugin's rejection); else to the
    /// unschedulable pods.
    pub fn requeue_unschedulable(&self, mut qp: QueuedPod, error: bool, rejectors: Vec<&'static str>) {
        let mut g = self.lock();
        let Some((Where::InFlight, stored)) = g.pods.get(&qp.key) else {
            // Deleted or bound while in flight.
            return;
        };
        let event = stored.event_in_flight;
        Self::take(&mut g, &qp.key);
        qp.timestamp = Instant::now();
        qp.rejectors = rejectors;
        let to = if error || event || qp.rejectors.is_empty() { Self::backoff_slot() } else { Where::Unschedulable };
        self.put(&mut g, qp, to);
    }

    /// A pod that left the queue when placed failed later (Reserve to Bind): back to the
    /// unschedulable pods when `rejectors` turned it away, else to backoff; unless it was
    /// queued again meanwhile (seen pending after a relist).
    pub fn requeue_failed(&self, mut qp: QueuedPod, error: bool, rejectors: Vec<&'static str>) {
        let mut g = self.lock();
        if g.pods.contains_key(&qp.key) {
            return;
        }
        qp.timestamp = Instant::now();
        qp.rejectors = rejectors;
        let to = if error || qp.rejectors.is_empty() { Self::backoff_slot() } else { Where::Unschedulable };
        self.put(&mut g, qp, to);
    }

    /// The pod was placed (assumed): it leaves the queue.
    pub fn done(&self, key: &str) {
        let mut g = self.lock();
        if matches!(g.pods.get(key), Some((Where::InFlight, _))) {
            Self::take(&mut g, key);
        }
    }

    /// A cluster event that may make any unschedulable pod fit: every one goes to backoff
    /// (or active when its backoff is over).
    pub fn move_all(&self) {
        self.on_event(None, |_| true);
    }

    /// A cluster event that only the `plugins` (None: any) care about, and only for pods
    /// the hint accepts (upstream's QueueingHints): those unschedulable pods go to backoff,
    /// and pods being scheduled remember it.
    pub fn on_event(&self, plugins: Option<&[&str]>, hint: impl Fn(&Pod) -> bool) {
        let mut g = self.lock();
        let g = &mut *g;
        for k in &g.in_flight {
            if let Some((_, qp)) = g.pods.get_mut(k) {
                if !qp.event_in_flight && hint(&qp.pod) {
                    qp.event_in_flight = true;
                }
            }
        }
        let keys: Vec<String> = g
            .unschedulable
            .iter()
            .filter(|k| {
                g.pods.get(*k).is_some_and(|(_, qp)| {
                    plugins.is_none_or(|ps| qp.rejectors.iter().any(|r| ps.contains(r))) && hint(&qp.pod)
                })
            })
            .cloned()
            .collect();
        for k in keys {
            if let Some((_, qp)) = Self::take(g, &k) {
                self.put(g, qp, Self::backoff_slot());
            }
        }
    }

    /// Moves pods whose backoff is over to activeQ, and pods unschedulable for longer than
    /// the limit back into line. Called every second.
    pub fn flush(&self) {
        let mut g = self.lock();
        let now = Instant::now();
        while let Some(first) = g.backoff.iter().next().cloned() {
            if first.0 > now {
                break;
            }
            if let Some((_, qp)) = Self::take(&mut g, &first.2) {
                self.put(&mut g, qp, Self::active_slot());
            } else {
                g.backoff.remove(&first);
            }
        }
        let stale: Vec<String> = g
            .unschedulable
            .iter()
            .filter(|k| g.pods.get(*k).is_some_and(|(_, qp)| now.duration_since(qp.timestamp) > self.max_unschedulable))
            .cloned()
            .collect();
        for k in stale {
            if let Some((_, qp)) = Self::take(&mut g, &k) {
                self.put(&mut g, qp, Self::backoff_slot());
            }
        }
    }

    pub fn pending(&self) -> Pending {
        let g = self.lock();
        let mut p = Pending::default();
        for (w, _) in g.pods.values() {
            match w {
                Where::Active(_) => p.active += 1,
                Where::Backoff(..) => p.backoff += 1,
                Where::Unschedulable => p.unschedulable += 1,
                Where::Gated => p.gated += 1,
                Where::InFlight => {}
            }
        }
        p
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, prio: i32, gates: &[&str]) -> Arc<Pod> {
        let gates: Vec<_> = gates.iter().map(|g| json!({"name": g})).collect();
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d"},
                "spec": {"priority": prio, "schedulingGates": gates, "containers": []}}))
            .unwrap(),
        )
    }

    fn q() -> Queue {
        Queue::new(Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(300))
    }

    #[tokio::test]
    async fn pops_by_priority_then_arrival() {
        let q = q();
        q.add(pod("low", 0, &[]), "d/low".into());
        q.add(pod("high", 10, &[]), "d/high".into());
        q.add(pod("low2", 0, &[]), "d/low2".into());
        let order: Vec<String> =
            [q.pop().await, q.pop().await, q.pop().await].into_iter().map(|p| p.unwrap().key).collect();
        assert_eq!(order, ["d/high", "d/low", "d/low2"]);
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let q = q();
        let secs: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test]
    async fn unschedulable_pods_wait_for_an_event_and_gated_pods_for_their_gates() {
        let q = q();
        q.add(pod("a", 0, &[]), "d/a".into());
        q.add(pod("g", 0, &["example.com/wait"]), "d/g".into());
        let a = q.pop().await.unwrap();
        q.requeue_unschedulable(a, false, vec!["NodeResourcesFit"]);
        assert_eq!(q.pending(), Pending { unschedulable: 1, gated: 1, ..Default::default() });
        q.move_all();
        assert_eq!(q.pending().backoff, 1);
        q.update(pod("g", 0, &[]), "d/g".into());
        assert_eq!(q.pop().await.unwrap().key, "d/g");
        // An event during an attempt sends the pod to backoff, not to the unschedulable pods.
        q.delete("d/a");
        q.add(pod("b", 0, &[]), "d/b".into());
        let b = q.pop().await.unwrap();
        q.move_all();
        q.requeue_unschedulable(b, false, vec!["NodeResourcesFit"]);
        assert_eq!(q.pending(), Pending { backoff: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn events_move_only_pods_their_plugins_rejected_and_their_hint_accepts() {
        let q = q();
        q.add(pod("a", 0, &[]), "d/a".into());
        let a = q.pop().await.unwrap();
        q.requeue_unschedulable(a, false, vec!["InterPodAffinity"]);
        q.on_event(Some(&["NodeResourcesFit"]), |_| true);
        q.on_event(Some(&["InterPodAffinity"]), |_| false);
        assert_eq!(q.pending().unschedulable, 1);
        q.on_event(Some(&["InterPodAffinity"]), |p| p.metadata.name.as_deref() == Some("a"));
        assert_eq!(q.pending(), Pending { backoff: 1, ..Default::default() });
        // An event a pod's hint rejects while it is in flight leaves it unschedulable.
        q.add(pod("b", 0, &[]), "d/b".into());
        let b = q.pop().await.unwrap();
        q.on_event(None, |p| p.metadata.name.as_deref() != Some("b"));
        q.requeue_unschedulable(b, false, vec!["NodePorts"]);
        assert_eq!(q.pending().unschedulable, 1);
    }
}
