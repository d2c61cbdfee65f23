//! When to sync, as upstream's `BoundedFrequencyRunner`: a change asks for a sync, which runs
//! at once unless the last one started less than `min_interval` ago (then when that has
//! passed); with no change, a sync still runs every `max_interval`; a failed sync asks to be
//! retried after a delay.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The longest time between syncs, and between full syncs (upstream's `FullSyncPeriod`).
pub const FULL_SYNC_PERIOD: Duration = Duration::from_secs(3600);

type Hook = Arc<dyn Fn() + Send + Sync>;

/// The handle informers use to ask for a sync: a flag that a sync is wanted (cleared when
/// one starts, so requests made before it are folded into it) and the wake-up.
#[derive(Clone, Default)]
pub struct Trigger {
    wake: Arc<Notify>,
    wanted: Arc<AtomicBool>,
    hook: Option<Hook>,
}

impl Trigger {
    /// A trigger that also calls `hook` on every request (health and metrics note the time).
    pub fn with_hook(hook: impl Fn() + Send + Sync + 'static) -> Trigger {
        Trigger { hook: Some(Arc::new(hook)), ..Default::default() }
    }

    pub fn run(&self) {
        if let Some(h) = &self.hook {
            h();
        }
        self.wanted.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// What a sync tells the runner.
pub enum Outcome {
    Done,
    /// Try again after this long (sooner if a change arrives).
    RetryAfter(Duration),
}

/// Runs `sync` under the bounds until the process ends.
pub async fn run<F, Fut>(trigger: Trigger, min_interval: Duration, max_interval: Duration, mut sync: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut last: Option<Instant> = None;
    let mut retry: Option<Instant> = None;
    loop {
        let periodic = last.map(|l| l + max_interval).unwrap_or_else(Instant::now);
        let deadline = retry.map_or(periodic, |r| r.min(periodic));
        tokio::select! {
            _ = trigger.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
        if !trigger.wanted.load(Ordering::SeqCst) && Instant::now() < deadline {
            // A wake-up left over from requests the last run already covered.
            continue;
        }
        if let Some(l) = last {
            tokio::time::sleep_until(l + min_interval).await;
        }
        // Requests from here on ask for the next run.
        trigger.wanted.store(false, Ordering::SeqCst);
        last = Some(Instant::now());
        retry = match sync().await {
            Outcome::Done => None,
            Outcome::RetryAfter(d) => Some(Instant::now() + d),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn changes_are_bounded_and_the_period_resyncs() {
        let trigger = Trigger::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let t = trigger.clone();
        tokio::spawn(run(t, Duration::from_secs(1), Duration::from_secs(30), move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                Outcome::Done
            }
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the first sync runs at once");
        for _ in 0..5 {
            trigger.run();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "not before min_interval");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "a burst of changes is one sync");
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "the periodic resync");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_sync_is_retried() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        tokio::spawn(run(Trigger::default(), Duration::from_secs(1), Duration::from_secs(3600), move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Outcome::RetryAfter(Duration::from_secs(5))
                } else {
                    Outcome::Done
                }
            }
        }));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
