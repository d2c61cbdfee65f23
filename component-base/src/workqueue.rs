//! A rate-limited work queue with client-go's semantics (`util/workqueue`): a key is queued at
//! most once however often it is added, a key being processed is never handed to a second
//! worker (an add while it is processed queues it again after `done`), delayed adds keep the
//! earliest deadline, and failed keys come back after `max(per-key exponential backoff
//! 5 ms → 1000 s, an overall 10/s token bucket with a burst of 100)`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Upstream's `DefaultTypedControllerRateLimiter`: the slower of a per-key exponential backoff
/// and an overall token bucket.
#[derive(Debug)]
pub struct RateLimiter<K> {
    base: Duration,
    max: Duration,
    failures: HashMap<K, u32>,
    bucket: TokenBucket,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// 5 ms doubling to 1000 s per key; 10 per second with a burst of 100 overall.
    pub fn controller_default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_secs(1000), 10.0, 100)
    }

    pub fn new(base: Duration, max: Duration, qps: f64, burst: u32) -> Self {
        RateLimiter { base, max, failures: HashMap::new(), bucket: TokenBucket::new(qps, burst) }
    }

    /// How long `key` waits before its next try; counts the failure.
    pub fn when(&mut self, key: &K, now: Instant) -> Duration {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let backoff = if exp >= 63 {
            self.max
        } else {
            self.base.checked_mul(1u32.checked_shl(exp.min(31)).unwrap_or(u32::MAX)).unwrap_or(self.max).min(self.max)
        };
        backoff.max(self.bucket.reserve(now))
    }

    /// Clears `key`'s failures: its next failure starts at the base delay again.
    pub fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    pub fn num_requeues(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }
}

/// `golang.org/x/time/rate`'s reservation: every call takes a token, possibly from the future,
/// and says how long to wait for it.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(qps: f64, burst: u32) -> Self {
        TokenBucket { qps, burst: f64::from(burst.max(1)), tokens: f64::from(burst.max(1)), last: None }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        }
        self.last = Some(now);
    }

    /// Takes a token if one is there now (`flowcontrol.RateLimiter.TryAccept`).
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.qps <= 0.0 || !self.qps.is_finite() {
            return true;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token and returns how long until it is really available.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if self.qps <= 0.0 || !self.qps.is_finite() {
            return Duration::ZERO;
        }
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Keys waiting for a delayed add, with the deadline that will add them.
    waiting: HashMap<K, Instant>,
    /// The same delayed adds by deadline (client-go's waiting heap), for the one timer task.
    timers: BTreeMap<(Instant, u64), K>,
    next_timer: u64,
    timer_started: bool,
    limiter: RateLimiter<K>,
    shutting_down: bool,
}

struct Inner<K> {
    name: String,
    state: Mutex<State<K>>,
    ready: Notify,
    /// Wakes the timer task when an earlier deadline arrives.
    timer: Arc<Notify>,
}

/// A cloneable handle; every clone is the same queue.
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue { inner: self.inner.clone() }
    }
}

/// The one task per queue that moves delayed keys onto the queue when they are due. It holds
/// the queue weakly, so a dropped queue's timer ends at its next wake-up.
async fn run_timer<K: Hash + Eq + Clone + Send + Sync + 'static>(inner: Weak<Inner<K>>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = inner.upgrade() else { return };
            let q = WorkQueue { inner };
            let now = Instant::now();
            let (due, next) = {
                let mut s = q.lock();
                if s.shutting_down {
                    return;
                }
                let mut due = Vec::new();
                while let Some(entry) = s.timers.first_entry() {
                    let at = entry.key().0;
                    if at > now {
                        break;
                    }
                    let key = entry.remove();
                    // Only the deadline still on record adds the key (an earlier one replaced it).
                    if s.waiting.get(&key) == Some(&at) {
                        s.waiting.remove(&key);
                        due.push(key);
                    }
                }
                (due, s.timers.first_key_value().map(|((at, _), _)| *at))
            };
            for key in due {
                q.add(key);
            }
            next
        };
        let idle = Instant::now() + Duration::from_secs(60);
        tokio::select! {
            _ = tokio::time::sleep_until(next.unwrap_or(idle).min(idle)) => {}
            _ = wake.notified() => {}
        }
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> WorkQueue<K> {
    /// A queue with the controller default rate limiter; `name` labels its metrics.
    pub fn new(name: &str) -> Self {
        Self::with_limiter(name, RateLimiter::controller_default())
    }

    pub fn with_limiter(name: &str, limiter: RateLimiter<K>) -> Self {
        crate::metrics::workqueue_depth(name, 0);
        WorkQueue {
            inner: Arc::new(Inner {
                name: name.to_string(),
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: HashMap::new(),
                    timers: BTreeMap::new(),
                    next_timer: 0,
                    timer_started: false,
                    limiter,
                    shutting_down: false,
                }),
                ready: Notify::new(),
                timer: Arc::new(Notify::new()),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // A panic while holding the lock cannot leave the sets inconsistent (every update is
        // a single insert or remove), so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `key` unless it is already queued; a key being processed is queued again once
    /// its worker calls `done`.
    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.shutting_down || s.dirty.contains(&key) {
            return;
        }
        s.dirty.insert(key.clone());
        if s.processing.contains(&key) {
            return;
        }
        s.queue.push_back(key);
        crate::metrics::workqueue_added(&self.inner.name, s.queue.len());
        drop(s);
        self.inner.ready.notify_one();
    }

    /// Adds `key` after `delay`; of several pending delays for one key the earliest wins.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let deadline = Instant::now() + delay;
        let start_timer = {
            let mut s = self.lock();
            if s.shutting_down {
                return;
            }
            match s.waiting.get(&key) {
                Some(&at) if at <= deadline => return,
                _ => {
                    s.waiting.insert(key.clone(), deadline);
                }
            }
            let seq = s.next_timer;
            s.next_timer += 1;
            let earliest = s.timers.first_key_value().is_none_or(|((at, _), _)| deadline < *at);
            s.timers.insert((deadline, seq), key);
            if earliest {
                self.inner.timer.notify_one();
            }
            !std::mem::replace(&mut s.timer_started, true)
        };
        if start_timer {
            tokio::spawn(run_timer(Arc::downgrade(&self.inner), self.inner.timer.clone()));
        }
    }

    /// Adds `key` after the rate limiter's delay for it (a retry after a failure).
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut s = self.lock();
            if s.shutting_down {
                return;
            }
            s.limiter.when(&key, Instant::now())
        };
        crate::metrics::workqueue_retry(&self.inner.name);
        self.add_after(key, delay);
    }

    /// Clears `key`'s failure count after a success.
    pub fn forget(&self, key: &K) {
        self.lock().limiter.forget(key);
    }

    pub fn num_requeues(&self, key: &K) -> u32 {
        self.lock().limiter.num_requeues(key)
    }

    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next key to process, or `None` once the queue is shut down and drained.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.inner.ready.notified();
            {
                let mut s = self.lock();
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    crate::metrics::workqueue_depth(&self.inner.name, s.queue.len());
                    if !s.queue.is_empty() {
                        // Another worker may be waiting for the rest.
                        self.inner.ready.notify_one();
                    }
                    return Some(key);
                }
                if s.shutting_down {
                    self.inner.ready.notify_one();
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Ends the processing of `key`; if it was added meanwhile it is queued again.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            drop(s);
            self.inner.ready.notify_one();
        }
    }

    /// Stops accepting keys; `get` returns `None` once the queued keys are handed out.
    pub fn shut_down(&self) {
        let mut s = self.lock();
        s.shutting_down = true;
        s.waiting.clear();
        drop(s);
        self.inner.ready.notify_waiters();
        self.inner.ready.notify_one();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + std::fmt::Debug + 'static> WorkQueue<K> {
    /// Runs `n` workers that take keys and sync them, as client-go controllers'
    /// `processNextWorkItem`: a success forgets the key's failures, a failure retries it with
    /// the rate limiter's backoff (and is logged).
    pub fn run_workers<F, Fut, E>(&self, n: usize, sync: F)
    where
        F: Fn(K) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let sync = Arc::new(sync);
        for _ in 0..n.max(1) {
            let (q, sync) = (self.clone(), sync.clone());
            tokio::spawn(async move {
                while let Some(key) = q.get().await {
                    match sync(key.clone()).await {
                        Ok(()) => q.forget(&key),
                        Err(e) => {
                            tracing::info!(queue = q.name(), "error syncing {key:?}, requeuing: {e}");
                            q.add_rate_limited(key.clone());
                        }
                    }
                    q.done(&key);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_never_processed_twice_at_once() {
        let q = WorkQueue::new("t");
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        // Added while processing: not handed out until done.
        q.add("a");
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.get().await, Some("a"));
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[test]
    fn backoff_doubles_from_five_milliseconds_to_a_thousand_seconds() {
        let mut r: RateLimiter<&str> = RateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000), 1e9, 1);
        let now = Instant::now();
        let waits: Vec<_> = (0..4).map(|_| r.when(&"k", now)).collect();
        assert_eq!(waits[0], Duration::from_millis(5));
        assert_eq!(waits[1], Duration::from_millis(10));
        assert_eq!(waits[3], Duration::from_millis(40));
        for _ in 0..40 {
            r.when(&"k", now);
        }
        assert_eq!(r.when(&"k", now), Duration::from_secs(1000));
        assert_eq!(r.num_requeues(&"k"), 45);
        r.forget(&"k");
        assert_eq!(r.when(&"k", now), Duration::from_millis(5));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_ten_per_second() {
        let mut b = TokenBucket::new(10.0, 100);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(b.reserve(now), Duration::ZERO);
        }
        assert_eq!(b.reserve(now), Duration::from_millis(100));
        assert_eq!(b.reserve(now), Duration::from_millis(200));
        // A second later ten tokens came back, two of them already promised.
        let later = now + Duration::from_secs(1);
        for _ in 0..8 {
            assert_eq!(b.reserve(later), Duration::ZERO);
        }
        assert_eq!(b.reserve(later), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_keep_the_earliest_deadline() {
        let q = WorkQueue::new("t");
        q.add_after("k", Duration::from_secs(10));
        q.add_after("k", Duration::from_secs(1));
        q.add_after("k", Duration::from_secs(5));
        let start = Instant::now();
        assert_eq!(q.get().await, Some("k"));
        assert_eq!(start.elapsed().as_secs(), 1);
        q.done(&"k");
        // The later timers fire without adding it again.
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn many_delayed_keys_come_due_in_deadline_order_from_one_timer() {
        let q = WorkQueue::new("t");
        for i in (0..1000u64).rev() {
            q.add_after(i, Duration::from_millis(10 + i));
        }
        // A later, earlier deadline wakes the timer early.
        q.add_after(5000, Duration::from_millis(1));
        assert_eq!(q.get().await, Some(5000));
        q.done(&5000);
        for i in 0..1000u64 {
            assert_eq!(q.get().await, Some(i));
            q.done(&i);
        }
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn shutdown_drains_then_ends() {
        let q = WorkQueue::new("t");
        q.add(1);
        q.shut_down();
        q.add(2);
        assert_eq!(q.get().await, Some(1));
        assert_eq!(q.get().await, None);
    }

    #[tokio::test]
    async fn waiting_workers_wake_for_new_keys() {
        let q: WorkQueue<u32> = WorkQueue::new("t");
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.get().await })
            })
            .collect();
        tokio::task::yield_now().await;
        for i in 0..3 {
            q.add(i);
        }
        let mut got = Vec::new();
        for w in workers {
            got.push(w.await.unwrap().unwrap());
        }
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
    }
}
