//! events.k8s.io/v1 Events with the semantics of client-go's `tools/events`, the recorder
//! upstream's kube-scheduler uses. Unlike the core/v1 recorder (`events`), whose one writer
//! takes events in turn, every event here is written on its own, concurrently with the
//! others: a scheduler records one per bound pod and must keep up with binding. An event
//! isomorphic to one recorded in the last six minutes (same type, action, reason, reporter,
//! regarding and related objects; the note may differ) becomes an `EventSeries`: the first
//! repeat patches `series` onto the recorded Event; later ones only count, and the count is
//! written when the series is refreshed (every 30 minutes) or finished (six minutes after
//! its last repeat). Recording never blocks the caller; as upstream's broadcaster, events
//! that find the queue full are dropped.

use crate::events::reference;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const MAX_TRIES: u32 = 12;
const SLEEP: Duration = Duration::from_secs(10);
const FINISH_TIME: Duration = Duration::from_secs(6 * 60);
const REFRESH_TIME: Duration = Duration::from_secs(30 * 60);
/// Writers, each with one request in flight. Upstream starts a goroutine per event and
/// bounds nothing; here events wait their turn for one of a fixed set of writers, whose
/// requests share the client's HTTP/2 connection.
const WRITERS: usize = 32;
/// Events waiting for a writer, at most: beyond this (an apiserver that has stopped
/// answering) events are dropped rather than held in memory.
const MAX_QUEUED: usize = 10_000;

/// The writer shared by a daemon's recorders (`EventBroadcaster`).
#[derive(Clone)]
pub struct Broadcaster {
    tx: mpsc::Sender<Pending>,
}

/// Records events as one reporting controller (`reportingController`, e.g. a scheduler name).
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Pending>,
    reporter: Arc<Reporter>,
}

struct Reporter {
    controller: String,
    instance: String,
}

/// An event waiting for a writer: what its Event is made of, a quarter of the Event's size
/// (a scheduler queues thousands while binding outpaces event writes).
struct Pending {
    reporter: Arc<Reporter>,
    regarding: ObjectReference,
    related: Option<Box<ObjectReference>>,
    type_: &'static str,
    reason: Box<str>,
    action: Box<str>,
    note: Box<str>,
    at: Timestamp,
}

/// Starts the writer and the series' refresh and finish loops.
pub fn broadcaster(client: Client) -> Broadcaster {
    let (tx, rx) = mpsc::channel(MAX_QUEUED);
    let cache = Arc::new(Mutex::new(Cache::default()));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..WRITERS {
        tokio::spawn(write_loop(client.clone(), cache.clone(), rx.clone()));
    }
    tokio::spawn(series_loop(client, cache));
    Broadcaster { tx }
}

impl Broadcaster {
    /// A recorder for `controller`; its instance is `<controller>-<hostname>`, as upstream's.
    pub fn new_recorder(&self, controller: &str) -> Recorder {
        Recorder {
            tx: self.tx.clone(),
            reporter: Arc::new(Reporter {
                controller: controller.to_string(),
                instance: format!("{controller}-{}", crate::leader::hostname()),
            }),
        }
    }
}

impl Recorder {
    /// Records an event about `regarding` (and optionally `related`); `type_` is `Normal` or
    /// `Warning`, `action` what was done or failed (`Binding`, `Scheduling`, ...).
    pub fn eventf<K: Resource<DynamicType = ()>>(
        &self,
        regarding: &K,
        related: Option<ObjectReference>,
        type_: &str,
        reason: &str,
        action: &str,
        note: impl Into<String>,
    ) {
        let type_ = match type_ {
            crate::events::NORMAL => crate::events::NORMAL,
            crate::events::WARNING => crate::events::WARNING,
            other => {
                tracing::error!("Unsupported event type: '{other}'");
                return;
            }
        };
        let pending = Pending {
            reporter: self.reporter.clone(),
            regarding: reference(regarding),
            related: related.map(Box::new),
            type_,
            reason: reason.into(),
            action: action.into(),
            note: note.into().into(),
            at: Timestamp::now(),
        };
        if self.tx.try_send(pending).is_err() {
            tracing::debug!("event queue full, dropping an event");
        }
    }
}

impl Pending {
    /// The Event, named after its object and the time it was recorded, as upstream names it.
    fn into_event(self) -> Event {
        let name = self.regarding.name.as_deref().unwrap_or_default();
        let namespace = self.regarding.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        Event {
            metadata: kube::api::ObjectMeta {
                name: Some(format!("{name}.{:x}", self.at.as_nanosecond())),
                namespace: Some(namespace),
                ..Default::default()
            },
            event_time: Some(MicroTime(self.at)),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(self.reporter.instance.clone()),
            action: Some(self.action.into()),
            reason: Some(self.reason.into()),
            regarding: Some(self.regarding),
            related: self.related.map(|r| *r),
            note: Some(self.note.into()),
            type_: Some(self.type_.to_string()),
            ..Default::default()
        }
    }
}

/// Recorded events by isomorphism key (`eventCache`). A scheduler records an event per bound
/// pod and keeps each for six minutes, so entries are small: a 128-bit hash of the key and
/// what an isomorphic event does not share with the first (its name, note and time). Only
/// an event that repeats keeps its whole self, for the series' periodic writes.
#[derive(Default)]
struct Cache {
    events: HashMap<u128, Entry>,
}

struct Entry {
    name: Box<str>,
    note: Option<Box<str>>,
    event_time: Timestamp,
    /// Once the event repeats: its series, and the first Event's JSON (without the series).
    series: Option<(EventSeries, Box<[u8]>)>,
}

impl Entry {
    fn new(ev: &Event) -> Entry {
        Entry {
            name: ev.metadata.name.clone().unwrap_or_default().into(),
            note: ev.note.as_deref().map(Box::from),
            event_time: ev.event_time.as_ref().map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            series: None,
        }
    }

    /// The first event, from an isomorphic one: they differ only in name, note and time.
    fn first(&self, mut like: Event) -> Event {
        like.metadata.name = Some(self.name.to_string());
        like.note = self.note.as_deref().map(str::to_owned);
        like.event_time = Some(MicroTime(self.event_time));
        like.series = None;
        like
    }

    fn set_series(&mut self, first: &Event, series: EventSeries) {
        let mut plain = first.clone();
        plain.series = None;
        let json = serde_json::to_vec(&plain).unwrap_or_default().into_boxed_slice();
        self.series = Some((series, json));
    }

    /// The first event with its series (only for entries that have one).
    fn with_series(&self) -> Option<Event> {
        let (series, json) = self.series.as_ref()?;
        let mut ev: Event = serde_json::from_slice(json).ok()?;
        ev.series = Some(series.clone());
        Some(ev)
    }
}

/// Upstream's isomorphism key: type, action, reason, reporter, regarding and related objects.
fn key(ev: &Event) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut halves = [0u64; 2];
    for (seed, half) in halves.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        for f in [&ev.type_, &ev.action, &ev.reason, &ev.reporting_controller, &ev.reporting_instance] {
            f.hash(&mut h);
        }
        for o in [&ev.regarding, &ev.related] {
            let o = o.as_ref();
            o.is_some().hash(&mut h);
            if let Some(o) = o {
                for f in [&o.api_version, &o.kind, &o.namespace, &o.name, &o.uid, &o.resource_version, &o.field_path] {
                    f.hash(&mut h);
                }
            }
        }
        *half = h.finish();
    }
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
}

impl Cache {
    /// What to write for a new event: itself, the recorded isomorphic Event now a series, or
    /// nothing when that series only counts one more.
    fn observe(&mut self, ev: Event, now: Timestamp) -> Option<Event> {
        let k = key(&ev);
        match self.events.get_mut(&k) {
            Some(iso) => match iso.series.as_mut() {
                Some((s, _)) => {
                    s.count += 1;
                    s.last_observed_time = MicroTime(now);
                    None
                }
                None => {
                    let first = iso.first(ev);
                    iso.set_series(&first, EventSeries { count: 2, last_observed_time: MicroTime(now) });
                    iso.with_series()
                }
            },
            None => {
                self.events.insert(k, Entry::new(&ev));
                Some(ev)
            }
        }
    }

    /// Series whose last repeat is older than `FINISH_TIME` (to write a last time, then
    /// forget); singletons that old are forgotten now.
    fn finished(&mut self, now: Timestamp) -> Vec<(u128, Event)> {
        let cutoff = now - SignedDuration::try_from(FINISH_TIME).unwrap_or_default();
        self.events.retain(|_, e| e.series.is_some() || e.event_time >= cutoff);
        self.events
            .iter()
            .filter(|(_, e)| e.series.as_ref().is_some_and(|(s, _)| s.last_observed_time.0 < cutoff))
            .filter_map(|(k, e)| Some((*k, e.with_series()?)))
            .collect()
    }

    fn series(&self) -> Vec<(u128, Event)> {
        self.events.iter().filter_map(|(k, e)| Some((*k, e.with_series()?))).collect()
    }

    /// Keeps the server's copy of a refreshed series.
    fn refreshed(&mut self, k: u128, recorded: &Event) {
        if let (Some(e), Some(series)) = (self.events.get_mut(&k), recorded.series.clone()) {
            e.set_series(recorded, series);
        }
    }
}

/// One writer: takes the next event, settles what it means for the cache (in the order
/// events were recorded: the queue is held meanwhile), and writes that.
async fn write_loop(client: Client, cache: Arc<Mutex<Cache>>, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let write = {
            let mut rx = rx.lock().await;
            let Some(pending) = rx.recv().await else { return };
            cache.lock().expect("event cache").observe(pending.into_event(), Timestamp::now())
        };
        if let Some(ev) = write {
            attempt(&client, ev).await;
        }
    }
}

async fn series_loop(client: Client, cache: Arc<Mutex<Cache>>) {
    let mut finish = tokio::time::interval(FINISH_TIME);
    let mut refresh = tokio::time::interval(REFRESH_TIME);
    loop {
        tokio::select! {
            _ = finish.tick() => {
                let done = cache.lock().expect("event cache").finished(Timestamp::now());
                for (k, ev) in done {
                    if !record(&client, ev, false).await.1 {
                        cache.lock().expect("event cache").events.remove(&k);
                    }
                }
            }
            _ = refresh.tick() => {
                let series = cache.lock().expect("event cache").series();
                for (k, ev) in series {
                    if let (Some(recorded), false) = record(&client, ev, true).await {
                        cache.lock().expect("event cache").refreshed(k, &recorded);
                    }
                }
            }
        }
    }
}

/// Writes `ev`, retrying transport failures up to `MAX_TRIES` times about ten seconds apart.
async fn attempt(client: &Client, ev: Event) {
    for tries in 1..=MAX_TRIES {
        if !record(client, ev.clone(), false).await.1 {
            return;
        }
        if tries == MAX_TRIES {
            tracing::error!("Unable to write event (retry limit exceeded!) {:?}", ev.metadata.name);
            return;
        }
        tokio::time::sleep(SLEEP.mul_f64(1.0 + 0.25 * rand::random::<f64>())).await;
    }
}

/// One write: a series is patched onto its Event (created again if it is gone), anything
/// else created. Returns the server's Event (decoded only when `want` says the caller keeps
/// it: a scheduler writes one event per pod and never reads them back) and whether to try
/// again.
async fn record(client: &Client, mut ev: Event, want: bool) -> (Option<Event>, bool) {
    let ns = ev.metadata.namespace.clone().unwrap_or_default();
    let name = ev.metadata.name.clone().unwrap_or_default();
    let req = kube::core::Request::new(format!("/apis/events.k8s.io/v1/namespaces/{ns}/events"));
    let is_series = ev.series.is_some();
    let mut result = None;
    if let Some(s) = &ev.series {
        let patch = Patch::Strategic(
            serde_json::json!({"series": {"count": s.count, "lastObservedTime": s.last_observed_time}}),
        );
        result = Some(match req.patch(&name, &PatchParams::default(), &patch) {
            Ok(r) => client.request_text(r).await,
            Err(e) => Err(kube::Error::BuildRequest(e)),
        });
    }
    let gone = matches!(&result, Some(Err(kube::Error::Api(s))) if s.code == 404);
    if !is_series || gone {
        ev.metadata.resource_version = None;
        let body = serde_json::to_vec(&ev).unwrap_or_default();
        result = Some(match req.create(&PostParams::default(), body) {
            Ok(r) => client.request_text(r).await,
            Err(e) => Err(kube::Error::BuildRequest(e)),
        });
    }
    match result {
        Some(Ok(text)) => (want.then(|| serde_json::from_str(&text).ok()).flatten(), false),
        Some(Err(kube::Error::Api(s))) => {
            if s.code == 409 && s.reason == "AlreadyExists" {
                // A series whose Event was missing and has just been created by a repeat.
                if is_series {
                    return (None, true);
                }
                tracing::debug!("Server rejected event {ns}/{name} (will not retry!): {}", s.message);
            } else {
                tracing::error!("Server rejected event {ns}/{name} (will not retry!): {}", s.message);
            }
            (None, false)
        }
        Some(Err(kube::Error::BuildRequest(e))) => {
            tracing::error!("Unable to construct event {ns}/{name} (will not retry!): {e}");
            (None, false)
        }
        Some(Err(e)) => {
            tracing::error!("Unable to write event {ns}/{name} (may retry after sleeping): {e}");
            (None, true)
        }
        None => (None, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn recorder() -> Recorder {
        let (tx, _rx) = mpsc::channel(1);
        let reporter = Reporter { controller: "default-scheduler".into(), instance: "default-scheduler-h".into() };
        Recorder { tx, reporter: Arc::new(reporter) }
    }

    fn pod(name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p
    }

    fn ev(r: &Recorder, name: &str, note: &str, at: i64) -> Event {
        let t = Timestamp::from_second(at).expect("time");
        Pending {
            reporter: r.reporter.clone(),
            regarding: reference(&pod(name)),
            related: None,
            type_: "Normal",
            reason: "Scheduled".into(),
            action: "Binding".into(),
            note: note.into(),
            at: t,
        }
        .into_event()
    }

    #[test]
    fn events_are_named_after_their_object_and_carry_the_reporter() {
        let r = recorder();
        let e = ev(&r, "web", "Successfully assigned ns/web to n1", 100);
        assert!(e.metadata.name.as_deref().unwrap().starts_with("web."));
        assert_eq!(e.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(e.reporting_controller.as_deref(), Some("default-scheduler"));
        assert_eq!(e.regarding.as_ref().and_then(|o| o.kind.as_deref()), Some("Pod"));
        assert!(e.series.is_none());
    }

    #[test]
    fn distinct_objects_are_each_written() {
        let r = recorder();
        let mut c = Cache::default();
        let now = Timestamp::from_second(100).unwrap();
        for i in 0..100 {
            let e = ev(&r, &format!("p{i}"), "assigned", 100);
            assert_eq!(c.observe(e.clone(), now), Some(e));
        }
    }

    #[test]
    fn a_repeat_becomes_a_series_of_two_then_only_counts() {
        let r = recorder();
        let mut c = Cache::default();
        let now = Timestamp::from_second(100).unwrap();
        let first = ev(&r, "web", "first note", 100);
        c.observe(first.clone(), now);
        // The note is not part of the isomorphism: a different one still repeats.
        let second = c.observe(ev(&r, "web", "second note", 101), now).expect("series written");
        // The first event itself, with a series of two (what upstream keeps and patches).
        let mut expected = first.clone();
        expected.series = Some(EventSeries { count: 2, last_observed_time: MicroTime(now) });
        assert_eq!(second, expected);
        assert_eq!(c.observe(ev(&r, "web", "third", 102), now), None);
        assert_eq!(c.series()[0].1.series.as_ref().map(|s| s.count), Some(3));
        // Another object's event, or another reason, is not a repeat.
        assert!(c.observe(ev(&r, "db", "first note", 103), now).is_some_and(|e| e.series.is_none()));
    }

    #[test]
    fn old_singletons_are_forgotten_and_old_series_finished() {
        let r = recorder();
        let mut c = Cache::default();
        let t0 = Timestamp::from_second(1_000).unwrap();
        c.observe(ev(&r, "single", "n", 1_000), t0);
        c.observe(ev(&r, "repeated", "n", 1_000), t0);
        c.observe(ev(&r, "repeated", "n", 1_001), t0);
        assert!(c.finished(Timestamp::from_second(1_100).unwrap()).is_empty());
        assert_eq!(c.events.len(), 2);
        let done = c.finished(Timestamp::from_second(1_000 + 6 * 60 + 1).unwrap());
        assert_eq!(c.events.len(), 1, "the singleton is forgotten");
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].1.regarding.as_ref().and_then(|o| o.name.as_deref()), Some("repeated"));
    }
}
