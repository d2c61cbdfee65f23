//! `ttl-after-finished-controller` (upstream `pkg/controller/ttlafterfinished`): deletes a Job
//! `spec.ttlSecondsAfterFinished` seconds after it finished (its Complete or Failed condition's
//! transition time), with foreground propagation so that its pods go first. Before deleting it
//! checks the TTL again on a live read (the TTL may have been changed) and deletes with a UID
//! precondition; a Job not yet expired is requeued at its expiry.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

struct Tc {
    client: Client,
    jobs: Informer<Job>,
    queue: WorkQueue<String>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("ttl-after-finished-controller").await?;
    let tc = Arc::new(Tc { client, jobs: ctx.informers.get::<Job>(), queue: WorkQueue::new("ttl_jobs_to_delete") });
    let h = tc.clone();
    tc.jobs.add_handler(move |c| match c {
        Change::Added(j) | Change::Updated { new: j, .. } => {
            if j.metadata.deletion_timestamp.is_none() && needs_cleanup(j) {
                h.queue.add(util::meta_key(&j.metadata));
            }
        }
        Change::Deleted(_) => {}
    });
    let workers = ctx.opts.concurrent_ttl_after_finished_syncs;
    tokio::spawn(async move {
        tc.jobs.wait_synced().await;
        let w = tc.clone();
        tc.queue.run_workers(workers, move |key: String| {
            let w = w.clone();
            async move { w.process(&key).await }
        });
    });
    Ok(true)
}

/// Whether a Job has a TTL and has finished.
fn needs_cleanup(j: &Job) -> bool {
    j.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished).is_some() && finish_time(j).is_some()
}

/// When the Job finished: its Complete or Failed condition's last transition.
fn finish_time(j: &Job) -> Option<Timestamp> {
    j.status.as_ref()?.conditions.as_ref()?.iter().find_map(|c| {
        ((c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            .then(|| c.last_transition_time.as_ref().map(|t| t.0))
            .flatten()
    })
}

/// Time left before a finished Job with a TTL expires (zero or negative: expired); `None` if
/// it has no TTL or has not finished.
pub fn time_left(j: &Job, now: Timestamp) -> Option<SignedDuration> {
    let ttl = j.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = finish_time(j)?;
    if finished > now {
        tracing::info!(
            job = %util::meta_key(&j.metadata),
            "Warning: Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred."
        );
    }
    let expire = finished.checked_add(SignedDuration::from_secs(i64::from(ttl))).ok()?;
    Some(expire.duration_since(now))
}

impl Tc {
    /// Requeues `key` when the Job has time left; true when it has expired.
    fn expired(&self, key: &str, j: &Job) -> bool {
        match time_left(j, util::now()) {
            None => false,
            Some(left) if left.is_positive() => {
                self.queue.add_after(key.to_string(), Duration::try_from(left).unwrap_or(Duration::ZERO));
                false
            }
            Some(_) => true,
        }
    }

    async fn process(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(cached) = self.jobs.get(ns, name) else { return Ok(()) };
        if cached.metadata.deletion_timestamp.is_some() || !needs_cleanup(&cached) || !self.expired(key, &cached) {
            return Ok(());
        }
        // The TTL may have changed since the informer saw the Job: check a live read.
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let Some(fresh) = api.get_opt(name).await? else { return Ok(()) };
        if fresh.metadata.deletion_timestamp.is_some() || !needs_cleanup(&fresh) || !self.expired(key, &fresh) {
            return Ok(());
        }
        tracing::info!(job = %key, "Cleaning up Job");
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions { uid: fresh.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&fresh.name_any(), &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn job(ttl: Option<i32>, cond: Option<(&str, &str, i64)>) -> Job {
        Job {
            spec: Some(JobSpec { ttl_seconds_after_finished: ttl, ..Default::default() }),
            status: Some(JobStatus {
                conditions: cond.map(|(t, s, at)| {
                    vec![JobCondition {
                        type_: t.into(),
                        status: s.into(),
                        last_transition_time: Some(Time(Timestamp::from_second(at).unwrap())),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_ttl_counts_from_the_finished_condition() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(
            time_left(&job(Some(100), Some(("Complete", "True", 950))), now),
            Some(SignedDuration::from_secs(50))
        );
        assert_eq!(time_left(&job(Some(10), Some(("Failed", "True", 950))), now), Some(SignedDuration::from_secs(-40)));
        assert_eq!(time_left(&job(Some(0), Some(("Complete", "True", 1_000))), now), Some(SignedDuration::ZERO));
        assert_eq!(time_left(&job(None, Some(("Complete", "True", 950))), now), None);
        assert_eq!(time_left(&job(Some(10), Some(("Complete", "False", 950))), now), None);
        assert_eq!(time_left(&job(Some(10), Some(("Suspended", "True", 950))), now), None);
        assert!(!needs_cleanup(&job(Some(10), None)));
        assert!(needs_cleanup(&job(Some(10), Some(("Failed", "True", 950)))));
    }
}
