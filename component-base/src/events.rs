//! core/v1 Events with client-go's recorder semantics (`tools/record`): a repeat of the same
//! event (same source, object, type, reason and message) patches the existing Event's `count`
//! and `lastTimestamp` instead of creating another; more than ten different messages for one
//! object and reason within ten minutes are combined into one "(combined from similar events)"
//! Event; a per-object token bucket (burst 25, one per five minutes) drops floods. Recording
//! never blocks the caller: events go through a bounded channel to a writer task.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

const MAX_SIMILAR: usize = 10;
const SIMILAR_WINDOW: Duration = Duration::from_secs(600);
const SPAM_BURST: f64 = 25.0;
const SPAM_QPS: f64 = 1.0 / 300.0;
/// Bound on each correlation cache, as upstream's LRU size.
const CACHE_SIZE: usize = 4096;

/// Records events for one component (`source.component`, e.g. `deployment-controller`).
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Event>,
    source: EventSource,
}

/// A reference to `obj` for `involvedObject`.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).to_string()),
        kind: Some(K::kind(&()).to_string()),
        namespace: obj.meta().namespace.clone(),
        name: obj.meta().name.clone(),
        uid: obj.meta().uid.clone(),
        resource_version: obj.meta().resource_version.clone(),
        field_path: None,
    }
}

impl Recorder {
    pub fn event(&self, obj: &ObjectReference, type_: &str, reason: &str, message: impl Into<String>) {
        let now = Time(Timestamp::now());
        let name = obj.name.clone().unwrap_or_default();
        let namespace = obj.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        let ev = Event {
            metadata: kube::api::ObjectMeta {
                name: Some(format!("{name}.{:x}", unix_nanos())),
                namespace: Some(namespace),
                ..Default::default()
            },
            involved_object: obj.clone(),
            reason: Some(reason.to_string()),
            message: Some(message.into()),
            source: Some(self.source.clone()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            type_: Some(type_.to_string()),
            reporting_component: self.source.component.clone(),
            reporting_instance: self.source.host.clone(),
            ..Default::default()
        };
        if self.tx.try_send(ev).is_err() {
            tracing::debug!("event queue full, dropping an event for {name}");
        }
    }

    pub fn normal<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: impl Into<String>) {
        self.event(&reference(obj), NORMAL, reason, message)
    }

    pub fn warning<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: impl Into<String>) {
        self.event(&reference(obj), WARNING, reason, message)
    }
}

fn unix_nanos() -> i128 {
    Timestamp::now().as_nanosecond()
}

/// Starts the writer task for `component` and returns its recorder.
pub fn recorder(client: Client, component: &str, host: Option<&str>) -> Recorder {
    let (tx, mut rx) = mpsc::channel::<Event>(1000);
    let source = EventSource { component: Some(component.to_string()), host: host.map(str::to_string) };
    tokio::spawn(async move {
        let mut corr = Correlator::default();
        while let Some(ev) = rx.recv().await {
            if let Some((ev, patch)) = corr.correlate(ev, Instant::now()) {
                let written = write(&client, &ev, patch).await;
                corr.observe_written(&ev, written);
            }
        }
    });
    Recorder { tx, source }
}

async fn write(client: &Client, ev: &Event, patch: bool) -> Option<Event> {
    let ns = ev.namespace().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    if patch {
        let body = serde_json::json!({
            "count": ev.count,
            "lastTimestamp": ev.last_timestamp,
            "message": ev.message,
        });
        match api.patch(&ev.name_any(), &PatchParams::default(), &Patch::Strategic(body)).await {
            Ok(e) => return Some(e),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!("unable to update event {}/{}: {e}", ns, ev.name_any());
                return None;
            }
        }
    }
    let mut fresh = ev.clone();
    fresh.metadata.resource_version = None;
    match api.create(&PostParams::default(), &fresh).await {
        Ok(e) => Some(e),
        // As upstream's recorder: events refused because they exist already or because their
        // namespace is being deleted are expected, so they are not reported as errors.
        Err(kube::Error::Api(s))
            if s.code == 409
                || s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")) =>
        {
            tracing::debug!("Server rejected event {}/{} (will not retry!): {}", ns, ev.name_any(), s.message);
            None
        }
        Err(e) => {
            tracing::error!("Server rejected event {}/{} (will not retry!): {e}", ns, ev.name_any());
            None
        }
    }
}

/// `EventCorrelator`: spam filter, aggregation of similar events, and repeat counting.
#[derive(Default)]
pub struct Correlator {
    spam: HashMap<String, (f64, Instant)>,
    similar: HashMap<String, (HashSet<String>, Instant)>,
    /// The last written Event for each repeat key.
    seen: HashMap<String, Event>,
}

fn join(parts: &[Option<&str>]) -> String {
    parts.iter().map(|p| p.unwrap_or("")).collect::<Vec<_>>().join("")
}

fn obj_parts(ev: &Event) -> [Option<&str>; 5] {
    let o = &ev.involved_object;
    [o.kind.as_deref(), o.namespace.as_deref(), o.name.as_deref(), o.uid.as_deref(), o.api_version.as_deref()]
}

fn source_parts(ev: &Event) -> [Option<&str>; 2] {
    let s = ev.source.as_ref();
    [s.and_then(|s| s.component.as_deref()), s.and_then(|s| s.host.as_deref())]
}

/// Source and object only, as client-go's getSpamKey: one budget per object, whatever the
/// event's type or reason.
fn spam_key(ev: &Event) -> String {
    let mut p: Vec<Option<&str>> = source_parts(ev).to_vec();
    p.extend(obj_parts(ev));
    join(&p)
}

fn aggregate_key(ev: &Event) -> String {
    let mut p: Vec<Option<&str>> = source_parts(ev).to_vec();
    p.extend(obj_parts(ev));
    p.extend([
        ev.type_.as_deref(),
        ev.reason.as_deref(),
        ev.reporting_component.as_deref(),
        ev.reporting_instance.as_deref(),
    ]);
    join(&p)
}

fn repeat_key(ev: &Event) -> String {
    let o = &ev.involved_object;
    let mut p: Vec<Option<&str>> = source_parts(ev).to_vec();
    p.extend([o.kind.as_deref(), o.namespace.as_deref(), o.name.as_deref(), o.field_path.as_deref()]);
    p.extend([
        o.uid.as_deref(),
        o.api_version.as_deref(),
        ev.type_.as_deref(),
        ev.reason.as_deref(),
        ev.message.as_deref(),
    ]);
    join(&p)
}

fn bounded<V>(map: &mut HashMap<String, V>) {
    if map.len() >= CACHE_SIZE {
        if let Some(k) = map.keys().next().cloned() {
            map.remove(&k);
        }
    }
}

impl Correlator {
    /// What to write for `ev`, and whether it is a patch of an existing Event; `None` when the
    /// spam filter drops it.
    pub fn correlate(&mut self, ev: Event, now: Instant) -> Option<(Event, bool)> {
        // Spam filter: a token bucket per source and object.
        let sk = spam_key(&ev);
        bounded(&mut self.spam);
        let (tokens, last) = self.spam.entry(sk).or_insert((SPAM_BURST, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * SPAM_QPS).min(SPAM_BURST);
        *last = now;
        if *tokens < 1.0 {
            return None;
        }
        *tokens -= 1.0;

        // Aggregation of similar events (same object and reason, different messages).
        let ak = aggregate_key(&ev);
        bounded(&mut self.similar);
        let entry = self.similar.entry(ak.clone()).or_insert_with(|| (HashSet::new(), now));
        if now.saturating_duration_since(entry.1) > SIMILAR_WINDOW {
            *entry = (HashSet::new(), now);
        }
        let message = ev.message.clone().unwrap_or_default();
        entry.0.insert(message.clone());
        entry.1 = now;
        let (mut ev, key) = if entry.0.len() < MAX_SIMILAR {
            let k = repeat_key(&ev);
            (ev, k)
        } else {
            if let Some(any) = entry.0.iter().next().cloned() {
                entry.0.remove(&any);
            }
            let mut combined = ev;
            combined.message = Some(format!("(combined from similar events): {message}"));
            (combined, ak)
        };

        // Repeats patch the existing Event.
        let patch = match self.seen.get(&key) {
            Some(last) => {
                ev.count = Some(last.count.unwrap_or(1) + 1);
                ev.first_timestamp = last.first_timestamp.clone();
                ev.metadata.name = last.metadata.name.clone();
                ev.metadata.resource_version = last.metadata.resource_version.clone();
                true
            }
            None => false,
        };
        bounded(&mut self.seen);
        self.seen.insert(key, ev.clone());
        Some((ev, patch))
    }

    /// Records the server's copy of a written event (its resourceVersion), or forgets a
    /// failed one so that the next repeat creates it again.
    pub fn observe_written(&mut self, ev: &Event, written: Option<Event>) {
        let keys: Vec<String> = self
            .seen
            .iter()
            .filter(|(_, v)| v.metadata.name == ev.metadata.name && v.metadata.namespace == ev.metadata.namespace)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            match &written {
                Some(w) => {
                    if let Some(v) = self.seen.get_mut(&k) {
                        v.metadata.resource_version = w.metadata.resource_version.clone();
                        v.count = w.count;
                    }
                }
                None => {
                    self.seen.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, reason: &str, message: &str) -> Event {
        Event {
            metadata: kube::api::ObjectMeta { name: Some(format!("{name}.{}", message.len())), ..Default::default() },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            source: Some(EventSource { component: Some("c".into()), host: None }),
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some(NORMAL.into()),
            count: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn repeats_patch_one_event_with_a_growing_count() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let (first, patch) = c.correlate(ev("p", "Pulled", "m"), now).unwrap();
        assert!(!patch);
        let (second, patch) = c.correlate(ev("p", "Pulled", "m"), now).unwrap();
        assert!(patch);
        assert_eq!(second.count, Some(2));
        assert_eq!(second.metadata.name, first.metadata.name);
        let (third, _) = c.correlate(ev("p", "Pulled", "m"), now).unwrap();
        assert_eq!(third.count, Some(3));
        // Another message is another event.
        let (other, patch) = c.correlate(ev("p", "Pulled", "other"), now).unwrap();
        assert!(!patch);
        assert_eq!(other.count, Some(1));
    }

    #[test]
    fn ten_different_messages_are_combined() {
        let mut c = Correlator::default();
        let now = Instant::now();
        for i in 0..9 {
            let (e, _) = c.correlate(ev("p", "Failed", &format!("m{i}")), now).unwrap();
            assert!(!e.message.unwrap().starts_with("(combined"));
        }
        let (e, patch) = c.correlate(ev("p", "Failed", "m9"), now).unwrap();
        assert_eq!(e.message.as_deref(), Some("(combined from similar events): m9"));
        assert!(!patch);
        let (e, patch) = c.correlate(ev("p", "Failed", "m10"), now).unwrap();
        assert_eq!(e.message.as_deref(), Some("(combined from similar events): m10"));
        assert!(patch);
        assert_eq!(e.count, Some(2));
    }

    #[test]
    fn floods_are_dropped_after_a_burst_of_twenty_five() {
        let mut c = Correlator::default();
        let now = Instant::now();
        let kept = (0..40).filter(|i| c.correlate(ev("p", "R", &format!("{}", i % 3)), now).is_some()).count();
        assert_eq!(kept, 25);
        // Five minutes later one more gets through.
        assert!(c.correlate(ev("p", "R", "x"), now + Duration::from_secs(301)).is_some());
        assert!(c.correlate(ev("p", "R", "x"), now + Duration::from_secs(301)).is_none());
    }
}
