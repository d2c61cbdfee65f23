//! Leader election on a coordination.k8s.io Lease, as client-go's `leaderelection` with the
//! `leases` lock: a candidate takes the Lease when it is free or its holder has not renewed it
//! for `leaseDurationSeconds` (measured on the candidate's own clock from when it last saw the
//! record change, so clock skew between machines does not matter), the leader renews every
//! `retry_period`, and a leader that cannot renew within `renew_deadline` stops leading.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Upstream's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    pub namespace: String,
    pub name: String,
    /// `<hostname>_<uuid>` for the controller-manager and the scheduler.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// `<hostname>_<random uuid>`, the identity upstream's daemons use.
pub fn default_identity() -> String {
    format!("{}_{}", hostname(), uuid::Uuid::new_v4())
}

/// The machine's host name (`localhost` when it has none).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// One candidate's view: the record it last saw and when (on its own clock) it changed.
pub struct Elector {
    api: Api<Lease>,
    cfg: LeaderElectionConfig,
    observed: Option<(LeaseSpec, Instant)>,
}

fn now_micro() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl Elector {
    pub fn new(client: Client, cfg: LeaderElectionConfig) -> Self {
        Elector { api: Api::namespaced(client, &cfg.namespace), cfg, observed: None }
    }

    /// One attempt to take or renew the Lease; true when this candidate holds it afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> bool {
        let now = Instant::now();
        let secs = i32::try_from(self.cfg.lease_duration.as_secs()).unwrap_or(i32::MAX).max(1);
        let current = match self.api.get_opt(&self.cfg.name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("error retrieving resource lock {}/{}: {e}", self.cfg.namespace, self.cfg.name);
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.cfg.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(now_micro()),
                    renew_time: Some(now_micro()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observed = created.spec.map(|s| (s, now));
                    true
                }
                Err(e) => {
                    tracing::warn!("error initially creating leader election record: {e}");
                    false
                }
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if self.observed.as_ref().map(|(s, _)| s) != Some(&spec) {
            self.observed = Some((spec.clone(), now));
        }
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_me = holder == self.cfg.identity;
        if !holder.is_empty() && !held_by_me {
            let seen = self.observed.as_ref().map(|(_, t)| *t).unwrap_or(now);
            let duration = spec
                .lease_duration_seconds
                .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
                .unwrap_or(self.cfg.lease_duration);
            if seen + duration > now {
                tracing::debug!("lock is held by {holder} and has not yet expired");
                return false;
            }
        }
        let mut next = spec.clone();
        next.holder_identity = Some(self.cfg.identity.clone());
        next.lease_duration_seconds = Some(secs);
        next.renew_time = Some(now_micro());
        if !held_by_me {
            next.acquire_time = Some(now_micro());
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(next);
        match self.api.replace(&self.cfg.name, &PostParams::default(), &lease).await {
            Ok(updated) => {
                self.observed = updated.spec.map(|s| (s, now));
                true
            }
            Err(e) => {
                tracing::warn!("failed to update lock {}/{}: {e}", self.cfg.namespace, self.cfg.name);
                false
            }
        }
    }

    /// Waits until this candidate holds the Lease.
    pub async fn acquire(&mut self) {
        tracing::info!("attempting to acquire leader lease {}/{}...", self.cfg.namespace, self.cfg.name);
        loop {
            if self.try_acquire_or_renew().await {
                tracing::info!("successfully acquired lease {}/{}", self.cfg.namespace, self.cfg.name);
                return;
            }
            tokio::time::sleep(jitter(self.cfg.retry_period, 1.2)).await;
        }
    }

    /// Renews every retry period; returns when a renewal has not succeeded within the renew
    /// deadline (leadership is lost).
    pub async fn renew_until_lost(&mut self) {
        loop {
            let deadline = Instant::now() + self.cfg.renew_deadline;
            let mut renewed = false;
            while Instant::now() < deadline {
                let attempt = tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await;
                if attempt == Ok(true) {
                    renewed = true;
                    break;
                }
                let wait = self.cfg.retry_period.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(wait).await;
            }
            if !renewed {
                tracing::error!("failed to renew lease {}/{}: timed out", self.cfg.namespace, self.cfg.name);
                return;
            }
            tokio::time::sleep(self.cfg.retry_period).await;
        }
    }
}

/// `wait.Jitter`: `d` plus up to `factor` × `d` at random.
fn jitter(d: Duration, factor: f64) -> Duration {
    d + d.mul_f64(rand::random::<f64>() * factor)
}

/// Runs `lead` once this process holds the Lease and returns when leadership is lost (the
/// caller exits, as upstream's daemons do: "leaderelection lost").
pub async fn run_leading<F>(client: Client, cfg: LeaderElectionConfig, lead: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut elector = Elector::new(client, cfg);
    elector.acquire().await;
    crate::metrics::set_leader(true);
    let leading = tokio::spawn(lead);
    elector.renew_until_lost().await;
    crate::metrics::set_leader(false);
    leading.abort();
}
