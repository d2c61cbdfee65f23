//! Keys that expire, as upstream's etcd3 store does it for resources with a TTL (Events, after
//! `--event-ttl`): each write attaches the key to an etcd lease. Leases are shared, as
//! upstream's `leaseManager` shares them, so that a stream of Events costs one lease grant per
//! minute (or per 1,000 objects), not one per write.

use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Upstream's defaults: a lease is reused for writes within 60 s, at most 5 % of the TTL, and
/// for at most 1,000 objects.
const REUSE_SECONDS: i64 = 60;
const REUSE_PERCENT: f64 = 0.05;
const MAX_OBJECTS: u64 = 1000;

/// The TTL of keys under a prefix.
#[derive(Debug, Clone)]
pub(crate) struct TtlPrefix {
    pub prefix: String,
    pub seconds: i64,
}

#[derive(Default)]
struct Current {
    id: i64,
    expires: Option<Instant>,
    attached: u64,
}

/// The lease writes are attached to; one per store.
#[derive(Default)]
pub(crate) struct Leases {
    current: Mutex<Current>,
}

/// Extra seconds a lease lives so that it can be shared: 5 % of the TTL, at most a minute.
fn reuse_seconds(ttl: i64) -> i64 {
    ((REUSE_PERCENT * ttl as f64) as i64).min(REUSE_SECONDS)
}

/// Whether the lease expiring at `expires` serves a key that must live `ttl` from `now`: it
/// lives at least that long, and not more than the reuse margin longer.
fn reusable(now: Instant, expires: Instant, ttl: i64) -> bool {
    let valid = now + Duration::from_secs(ttl as u64) < expires;
    let sufficient = now + Duration::from_secs((ttl + reuse_seconds(ttl)) as u64) > expires;
    valid && sufficient
}

impl Leases {
    /// A lease for a key that must live `ttl` seconds; `grant(seconds)` asks etcd for a new one.
    pub(crate) async fn get<F, Fut, E>(&self, ttl: i64, grant: F) -> Result<i64, E>
    where
        F: FnOnce(i64) -> Fut,
        Fut: std::future::Future<Output = Result<i64, E>>,
    {
        let now = Instant::now();
        let mut cur = self.current.lock().await;
        // Every request counts against the lease, whether or not its write succeeds (upstream).
        cur.attached += 1;
        if cur.expires.is_some_and(|e| reusable(now, e, ttl)) && cur.attached <= MAX_OBJECTS {
            return Ok(cur.id);
        }
        let seconds = ttl + reuse_seconds(ttl);
        let id = grant(seconds).await?;
        *cur = Current { id, expires: Some(now + Duration::from_secs(seconds as u64)), attached: 1 };
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[test]
    fn reuse_margin_is_five_percent_up_to_a_minute() {
        assert_eq!(reuse_seconds(3600), 60);
        assert_eq!(reuse_seconds(600), 30);
        assert_eq!(reuse_seconds(2), 0);
    }

    #[tokio::test]
    async fn leases_are_shared_until_full_or_too_old() {
        let leases = Leases::default();
        let grants = AtomicI64::new(0);
        let grant = |s: i64| {
            assert_eq!(s, 3660);
            let n = grants.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Ok::<_, ()>(n) }
        };
        let mut ids = Vec::new();
        for _ in 0..MAX_OBJECTS + 1 {
            ids.push(leases.get(3600, grant).await.unwrap());
        }
        assert!(ids[..MAX_OBJECTS as usize].iter().all(|&i| i == 1));
        assert_eq!(ids[MAX_OBJECTS as usize], 2, "the 1,001st object gets a new lease");
        // A lease that no longer outlives the TTL is not reused.
        let now = Instant::now();
        assert!(!reusable(now, now + Duration::from_secs(3599), 3600));
        assert!(reusable(now, now + Duration::from_secs(3630), 3600));
        assert!(!reusable(now, now + Duration::from_secs(3700), 3600), "it would outlive the TTL by too much");
    }
}
