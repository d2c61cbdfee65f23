//! `cronjob-controller` (upstream `pkg/controller/cronjob`, the v2 controller): creates a Job
//! from each CronJob's template at its schedule's times (robfig/cron's standard syntax, in
//! `spec.timeZone` or the controller-manager's own zone), named `<cronjob>-<minutes since the
//! epoch>` so that one scheduled time never makes two Jobs, honouring
//! `startingDeadlineSeconds`, `concurrencyPolicy` (Allow / Forbid / Replace) and `suspend`.
//! It keeps `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, deletes finished Jobs
//! beyond the history limits, and requeues each CronJob at its next scheduled time rather than
//! polling.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ObjectMeta, PostParams, PropagationPolicy};
use kube::{Api, Client, ResourceExt};
use schedule::{Missed, Schedule};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const KIND: &str = "CronJob";
const API_VERSION: &str = "batch/v1";
/// The annotation with the scheduled time of a Job, in the CronJob's time zone.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Padding on each requeue for clock skew (`nextScheduleDelta`).
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

struct Cjc {
    client: Client,
    jobs: Informer<Job>,
    cronjobs: Informer<CronJob>,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("cronjob-controller").await?;
    let c = Arc::new(Cjc {
        recorder: ctx.recorder(&client, "cronjob-controller"),
        client,
        jobs: ctx.informers.get::<Job>(),
        cronjobs: ctx.informers.get::<CronJob>(),
        queue: WorkQueue::new("cronjob"),
    });
    util::index_by_controller(&c.jobs);
    let h = c.clone();
    c.cronjobs.add_handler(move |ch| match ch {
        Change::Added(cj) | Change::Deleted(cj) => h.queue.add(util::meta_key(&cj.metadata)),
        Change::Updated { old, new } => h.update_cronjob(old, new),
    });
    let h = c.clone();
    c.jobs.add_handler(move |ch| match ch {
        Change::Added(j) | Change::Deleted(j) => h.enqueue_owner(j),
        Change::Updated { old, new } => {
            if old.resource_version() == new.resource_version() {
                return;
            }
            let (o, n) = (util::controller_ref(&old.metadata), util::controller_ref(&new.metadata));
            if o != n {
                h.enqueue_owner(old);
            }
            h.enqueue_owner(new);
        }
    });
    let workers = ctx.opts.concurrent_cron_job_syncs;
    tokio::spawn(async move {
        c.jobs.wait_synced().await;
        c.cronjobs.wait_synced().await;
        let w = c.clone();
        c.queue.run_workers(workers, move |key: String| {
            let w = w.clone();
            async move {
                if let Some(after) = w.sync(&key).await? {
                    w.queue.forget(&key);
                    w.queue.add_after(key, after);
                }
                Ok::<(), Error>(())
            }
        });
    });
    Ok(true)
}

/// Parses a CronJob's schedule as upstream's `formatSchedule` + `cron.ParseStandard`: in its
/// `spec.timeZone` when set, else in the controller-manager's zone (a legacy `TZ=` prefix
/// in the schedule wins).
fn schedule_of(cj: &CronJob) -> Result<Schedule, String> {
    let spec = cj.spec.as_ref().map(|s| s.schedule.as_str()).unwrap_or_default();
    let tz = match cj.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        Some(name) if !spec.contains("TZ") => schedule::load_location(name).unwrap_or_else(|_| local_zone()),
        _ => local_zone(),
    };
    schedule::parse(spec, tz)
}

fn local_zone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC)
}

fn ts(t: &Time) -> Timestamp {
    t.0
}

fn std_duration(d: jiff::SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

/// upstream's `IsJobFinished` with the condition type: Complete or Failed, status True.
pub fn finished_type(j: &Job) -> Option<&str> {
    j.status.as_ref()?.conditions.as_ref()?.iter().find_map(|c| {
        ((c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True").then_some(c.type_.as_str())
    })
}

fn in_active(cj: &CronJob, uid: &str) -> bool {
    cj.status.as_ref().and_then(|s| s.active.as_ref()).is_some_and(|a| a.iter().any(|r| r.uid.as_deref() == Some(uid)))
}

fn remove_active(cj: &mut CronJob, uid: &str) {
    if let Some(a) = cj.status.as_mut().and_then(|s| s.active.as_mut()) {
        a.retain(|r| r.uid.as_deref() != Some(uid));
    }
}

/// `<cronjob>-<scheduled time in minutes since the epoch>`.
pub fn job_name(cj_name: &str, scheduled: Timestamp) -> String {
    format!("{cj_name}-{}", scheduled.as_second().div_euclid(60))
}

/// The inputs of `mostRecentScheduleTime` a CronJob carries.
fn times(cj: &CronJob) -> (Timestamp, Option<Timestamp>, Option<i64>) {
    let created = cj.metadata.creation_timestamp.as_ref().map(ts).unwrap_or(Timestamp::UNIX_EPOCH);
    let last = cj.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(ts);
    let deadline = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
    (created, last, deadline)
}

fn next_schedule_duration(cj: &CronJob, now: Timestamp, sched: &Schedule) -> Option<Duration> {
    let (created, last, _) = times(cj);
    schedule::next_schedule_time_duration(created, last, now, sched).map(|d| std_duration(d) + NEXT_SCHEDULE_DELTA)
}

/// The Job a CronJob's template describes for one scheduled time.
fn job_from_template(cj: &CronJob, scheduled: Timestamp) -> Job {
    let template = cj.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    // Go's LoadLocation("") is UTC: without a time zone the annotation is in UTC.
    let tz = cj
        .spec
        .as_ref()
        .and_then(|s| s.time_zone.as_deref())
        .and_then(|n| schedule::load_location(n).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    annotations.insert(SCHEDULED_TIMESTAMP.into(), schedule::rfc3339(scheduled, &tz));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(&cj.name_any(), scheduled)),
            namespace: cj.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![util::new_controller_ref(API_VERSION, KIND, &cj.metadata)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some(API_VERSION.into()),
        kind: Some("Job".into()),
        name: j.metadata.name.clone(),
        namespace: j.metadata.namespace.clone(),
        uid: j.metadata.uid.clone(),
        resource_version: j.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Cjc {
    fn resolve(
        &self,
        ns: &str,
        r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> Option<Arc<CronJob>> {
        if r.kind != KIND {
            return None;
        }
        self.cronjobs.get(ns, &r.name).filter(|cj| cj.metadata.uid.as_deref() == Some(r.uid.as_str()))
    }

    fn enqueue_owner(&self, j: &Arc<Job>) {
        let ns = j.namespace().unwrap_or_default();
        if let Some(cj) = util::controller_ref(&j.metadata).and_then(|r| self.resolve(&ns, r)) {
            self.queue.add(util::meta_key(&cj.metadata));
        }
    }

    /// A changed schedule or time zone requeues at the new next time; anything else now.
    fn update_cronjob(&self, old: &Arc<CronJob>, new: &Arc<CronJob>) {
        let key = util::meta_key(&new.metadata);
        let (os, ns) = (old.spec.as_ref(), new.spec.as_ref());
        if os.map(|s| &s.schedule) != ns.map(|s| &s.schedule)
            || os.and_then(|s| s.time_zone.as_ref()) != ns.and_then(|s| s.time_zone.as_ref())
        {
            match schedule_of(new) {
                Ok(sched) => {
                    if let Some(d) = next_schedule_duration(new, util::now(), &sched) {
                        self.queue.add_after(key, d);
                    }
                }
                Err(_) => self.recorder.warning(
                    new.as_ref(),
                    "UnParseableCronJobSchedule",
                    format!("unparseable schedule for cronjob: {}", ns.map(|s| s.schedule.as_str()).unwrap_or("")),
                ),
            }
            return;
        }
        self.queue.add(key);
    }

    /// One pass over a CronJob; `Some(d)` asks for another pass in `d`.
    async fn sync(&self, key: &str) -> Result<Option<Duration>, Error> {
        let (ns, name) = util::split_key(key);
        let Some(cj) = self.cronjobs.get(ns, name) else { return Ok(None) };
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self
            .jobs
            .by_index(util::BY_CONTROLLER, &uid)
            .into_iter()
            .chain(self.jobs.list_namespace(ns).into_iter().filter(|j| {
                // upstream reconciles Jobs by the owner's name; keep those of a recreated
                // CronJob of the same name too.
                util::controller_ref(&j.metadata).is_some_and(|r| r.kind == KIND && r.name == name && r.uid != uid)
            }))
            .collect();
        let mut copy = (*cj).clone();
        let cleaned = self.cleanup_finished_jobs(&mut copy, &jobs).await;
        let (requeue, changed, sync_err) = match self.sync_cronjob(&mut copy, &jobs).await {
            Ok((r, c)) => (r, c, None),
            Err((c, e)) => (None, c, Some(e)),
        };
        if cleaned || changed {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
            api.replace_status(name, &PostParams::default(), &copy).await?;
        }
        if requeue.is_some() {
            return Ok(requeue);
        }
        match sync_err {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// upstream's `syncCronJob`: returns the requeue delay and whether the status changed.
    async fn sync_cronjob(
        &self,
        cj: &mut CronJob,
        jobs: &[Arc<Job>],
    ) -> Result<(Option<Duration>, bool), (bool, Error)> {
        let now = util::now();
        let mut changed = false;
        let ns = cj.namespace().unwrap_or_default();
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        let mut children = HashSet::new();
        for j in jobs {
            let juid = j.metadata.uid.clone().unwrap_or_default();
            children.insert(juid.clone());
            let found = in_active(cj, &juid);
            let finished = finished_type(j);
            if !found && finished.is_none() {
                let fresh = Api::<CronJob>::namespaced(self.client.clone(), &ns)
                    .get(&cj.name_any())
                    .await
                    .map_err(|e| (changed, e.into()))?;
                if in_active(&fresh, &juid) {
                    *cj = fresh;
                    continue;
                }
                self.recorder.warning(
                    &*cj,
                    "UnexpectedJob",
                    format!("Saw a job that the controller did not create or forgot: {}", j.name_any()),
                );
            } else if let (true, Some(status)) = (found, finished) {
                remove_active(cj, &juid);
                self.recorder.normal(
                    &*cj,
                    "SawCompletedJob",
                    format!("Saw completed job: {}, status: {status}", j.name_any()),
                );
                changed = true;
            } else if finished == Some("Complete") {
                let completion = j.status.as_ref().and_then(|s| s.completion_time.clone());
                let st = cj.status.get_or_insert_with(Default::default);
                if let Some(c) = completion {
                    if st.last_successful_time.as_ref().is_none_or(|l| c.0 > l.0) {
                        st.last_successful_time = Some(c);
                        changed = true;
                    }
                }
            }
        }
        // Active references whose Job is gone (checked with a live read, as the informer may lag).
        let active: Vec<ObjectReference> = cj.status.as_ref().and_then(|s| s.active.clone()).unwrap_or_default();
        for r in active {
            let ruid = r.uid.clone().unwrap_or_default();
            if children.contains(&ruid) {
                continue;
            }
            let rname = r.name.clone().unwrap_or_default();
            match jobs_api.get_opt(&rname).await {
                Ok(None) => {
                    self.recorder.normal(&*cj, "MissingJob", format!("Active job went missing: {rname}"));
                    remove_active(cj, &ruid);
                    changed = true;
                }
                Ok(Some(_)) => {}
                Err(e) => return Err((changed, e.into())),
            }
        }
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok((None, changed));
        }
        let spec = cj.spec.clone().unwrap_or_default();
        if let Some(tz) = &spec.time_zone {
            if let Err(e) = schedule::load_location(tz) {
                self.recorder.warning(&*cj, "UnknownTimeZone", format!("invalid timeZone: {tz:?}: {e}"));
                return Ok((None, changed));
            }
        }
        if spec.suspend == Some(true) {
            return Ok((None, changed));
        }
        if spec.schedule.contains("TZ") {
            self.recorder.warning(
                &*cj,
                "UnsupportedSchedule",
                format!(
                    "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                    spec.schedule
                ),
            );
        }
        let sched = match schedule_of(cj) {
            Ok(s) => s,
            Err(e) => {
                self.recorder.warning(
                    &*cj,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {e}", spec.schedule),
                );
                return Ok((None, changed));
            }
        };
        let (created, last, deadline) = times(cj);
        let recent = schedule::most_recent_schedule_time(created, last, deadline, now, &sched, true);
        if recent.missed == Missed::Many && recent.most_recent.is_some_and(|t| t <= now) {
            self.recorder.warning(
                &*cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            );
        }
        if let Some(e) = recent.err {
            self.recorder.warning(&*cj, "InvalidSchedule", format!("invalid schedule: {} : {e}", spec.schedule));
            return Ok((None, changed));
        }
        let Some(scheduled) = recent.most_recent.filter(|t| *t <= now) else {
            return Ok((next_schedule_duration(cj, now, &sched), changed));
        };
        if let Some(sds) = deadline {
            let late = scheduled.as_second().saturating_add(sds);
            if late < now.as_second()
                || (late == now.as_second() && scheduled.subsec_nanosecond() < now.subsec_nanosecond())
            {
                self.recorder.warning(
                    &*cj,
                    "MissSchedule",
                    format!("Missed scheduled time to start a job: {}", schedule::rfc1123z(scheduled)),
                );
                return Ok((next_schedule_duration(cj, now, &sched), changed));
            }
        }
        let name = job_name(&cj.name_any(), scheduled);
        let st = cj.status.clone().unwrap_or_default();
        let active = st.active.clone().unwrap_or_default();
        if active
            .iter()
            .any(|r| r.name.as_deref() == Some(name.as_str()) && r.namespace.as_deref() == Some(ns.as_str()))
            || st.last_schedule_time.as_ref().is_some_and(|l| l.0 == scheduled)
        {
            return Ok((next_schedule_duration(cj, now, &sched), changed));
        }
        let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
        if policy == "Forbid" && !active.is_empty() {
            self.recorder.normal(
                &*cj,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            );
            return Ok((next_schedule_duration(cj, now, &sched), changed));
        }
        if policy == "Replace" {
            for r in &active {
                let rname = r.name.clone().unwrap_or_default();
                let job = match jobs_api.get(&rname).await {
                    Ok(j) => j,
                    Err(e) => {
                        self.recorder.warning(&*cj, "FailedGet", format!("Get job: {}", util::api_message(&e)));
                        return Err((changed, e.into()));
                    }
                };
                if !self.delete_job(cj, &job).await {
                    return Err((changed, Error::Config(format!("could not replace job {ns}/{rname}"))));
                }
                changed = true;
            }
        }
        let req = job_from_template(cj, scheduled);
        let created = match jobs_api.create(&PostParams::default(), &req).await {
            Ok(j) => {
                self.recorder.normal(&*cj, "SuccessfulCreate", format!("Created job {}", j.name_any()));
                j
            }
            Err(kube::Error::Api(s))
                if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")) =>
            {
                return Err((changed, kube::Error::Api(s).into()));
            }
            Err(e) if is_status(&e, 409) => {
                // Created by an earlier pass that could not record it (or by someone else).
                let existing = jobs_api.get(&name).await.map_err(|e| (changed, e.into()))?;
                let ours = util::controller_ref(&existing.metadata)
                    .is_some_and(|r| Some(r.uid.as_str()) == cj.metadata.uid.as_deref());
                if !ours || in_active(cj, existing.metadata.uid.as_deref().unwrap_or_default()) {
                    return Ok((None, changed));
                }
                tracing::info!(cronjob = %util::meta_key(&cj.metadata), job = %name, "Job already exists");
                existing
            }
            Err(e) => {
                self.recorder.warning(&*cj, "FailedCreate", format!("Error creating job: {}", util::api_message(&e)));
                return Err((changed, e.into()));
            }
        };
        let st = cj.status.get_or_insert_with(Default::default);
        st.active.get_or_insert_with(Vec::new).push(job_ref(&created));
        st.last_schedule_time = Some(Time(scheduled));
        Ok((next_schedule_duration(cj, now, &sched), true))
    }

    /// Deletes a Job (its pods follow in the background) and drops it from `status.active`.
    async fn delete_job(&self, cj: &mut CronJob, job: &Job) -> bool {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        if let Err(e) = api.delete(&job.name_any(), &dp).await {
            self.recorder.warning(&*cj, "FailedDelete", format!("Deleted job: {}", util::api_message(&e)));
            return false;
        }
        remove_active(cj, job.metadata.uid.as_deref().unwrap_or_default());
        self.recorder.normal(&*cj, "SuccessfulDelete", format!("Deleted job {}", job.name_any()));
        true
    }

    /// Deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` and
    /// `failedJobsHistoryLimit`.
    async fn cleanup_finished_jobs(&self, cj: &mut CronJob, jobs: &[Arc<Job>]) -> bool {
        let spec = cj.spec.clone().unwrap_or_default();
        if spec.successful_jobs_history_limit.is_none() && spec.failed_jobs_history_limit.is_none() {
            return false;
        }
        let mut succeeded: Vec<Arc<Job>> = Vec::new();
        let mut failed: Vec<Arc<Job>> = Vec::new();
        for j in jobs {
            match finished_type(j) {
                Some("Complete") => succeeded.push(j.clone()),
                Some("Failed") => failed.push(j.clone()),
                _ => {}
            }
        }
        let mut changed = false;
        for (mut list, limit) in
            [(succeeded, spec.successful_jobs_history_limit), (failed, spec.failed_jobs_history_limit)]
        {
            let Some(limit) = limit else { continue };
            let excess = list.len().saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
            if excess == 0 {
                continue;
            }
            list.sort_by(|a, b| by_start_time(a, b));
            for j in list.iter().take(excess) {
                if self.delete_job(cj, j).await {
                    changed = true;
                }
            }
        }
        changed
    }
}

/// upstream's `byJobStartTime`: started ones first, oldest first, then by name.
fn by_start_time(a: &Job, b: &Job) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    match (start(a), start(b)) {
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (x, y) if x == y => a.metadata.name.cmp(&b.metadata.name),
        (x, y) => x.cmp(&y),
    }
}

/// robfig/cron v3's standard parser and `Next`, which Kubernetes schedules with: five fields
/// (minute hour day-of-month month day-of-week) with lists, ranges, steps, `*` / `?` and
/// month / weekday names; the `@yearly` ... `@hourly` descriptors and `@every <duration>`;
/// a day matches when day-of-month OR day-of-week matches, unless either field is a star.
pub mod schedule {
    use jiff::civil::DateTime;
    use jiff::tz::TimeZone;
    use jiff::{SignedDuration, Span, Timestamp, Zoned};

    const STAR: u64 = 1 << 63;

    #[derive(Debug, Clone)]
    pub enum Schedule {
        Spec(Spec),
        /// `@every`: whole seconds, at least one.
        Every(i64),
    }

    #[derive(Debug, Clone)]
    pub struct Spec {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
        tz: TimeZone,
    }

    struct Bounds {
        min: u32,
        max: u32,
        names: &'static [&'static str],
    }

    const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
    const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
    const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
    const MONTHS: Bounds = Bounds {
        min: 1,
        max: 12,
        names: &["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    };
    const DOW: Bounds = Bounds { min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

    /// Go's `time.LoadLocation` over the system's zoneinfo (`""` and `UTC` are UTC).
    pub fn load_location(name: &str) -> Result<TimeZone, String> {
        if name.is_empty() || name == "UTC" {
            return Ok(TimeZone::UTC);
        }
        if name == "Local" {
            return Ok(super::local_zone());
        }
        TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))
    }

    fn bits(min: u32, max: u32, step: u32) -> u64 {
        if step == 1 {
            return (!(u64::MAX << (max + 1))) & (u64::MAX << min);
        }
        (min..=max).step_by(step as usize).fold(0, |acc, i| acc | (1 << i))
    }

    fn all(b: &Bounds) -> u64 {
        bits(b.min, b.max, 1) | STAR
    }

    fn number(s: &str) -> Result<u32, String> {
        let n: i64 = s
            .parse()
            .map_err(|_| format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"))?;
        if n < 0 {
            return Err(format!("negative number ({n}) not allowed: {s}"));
        }
        u32::try_from(n).map_err(|_| format!("failed to parse int from {s}: value out of range"))
    }

    fn number_or_name(s: &str, b: &Bounds) -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = b.names.iter().position(|n| !n.is_empty() && *n == lower) {
            return u32::try_from(i).map_err(|e| e.to_string());
        }
        number(s)
    }

    fn range(expr: &str, b: &Bounds) -> Result<u64, String> {
        let range_and_step: Vec<&str> = expr.split('/').collect();
        let low_high: Vec<&str> = range_and_step[0].split('-').collect();
        let single = low_high.len() == 1;
        let (start, mut end, mut extra) = if low_high[0] == "*" || low_high[0] == "?" {
            (b.min, b.max, STAR)
        } else {
            let start = number_or_name(low_high[0], b)?;
            match low_high.len() {
                1 => (start, start, 0),
                2 => (start, number_or_name(low_high[1], b)?, 0),
                _ => return Err(format!("too many hyphens: {expr}")),
            }
        };
        let step = match range_and_step.len() {
            1 => 1,
            2 => {
                let step = number(range_and_step[1])?;
                if single {
                    end = b.max;
                }
                if step > 1 {
                    extra = 0;
                }
                step
            }
            _ => return Err(format!("too many slashes: {expr}")),
        };
        if start < b.min {
            return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
        }
        if end > b.max {
            return Err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
        }
        if start > end {
            return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
        }
        if step == 0 {
            return Err(format!("step of range should be a positive number: {expr}"));
        }
        Ok(bits(start, end, step) | extra)
    }

    fn field(f: &str, b: &Bounds) -> Result<u64, String> {
        f.split(',').filter(|s| !s.is_empty()).try_fold(0, |acc, e| Ok(acc | range(e, b)?))
    }

    /// Go's `time.ParseDuration`, in whole nanoseconds.
    fn go_duration(s: &str) -> Result<i128, String> {
        let err = || format!("time: invalid duration {s:?}");
        let (neg, mut rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if rest == "0" {
            return Ok(0);
        }
        if rest.is_empty() {
            return Err(err());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let n = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
            let value: f64 = rest[..n].parse().map_err(|_| err())?;
            rest = &rest[n..];
            let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
            let unit = match &rest[..u] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(err()),
            };
            rest = &rest[u..];
            total += value * unit;
        }
        // A duration is whole nanoseconds; the float above only carries the fractions.
        let ns = total as i128;
        Ok(if neg { -ns } else { ns })
    }

    /// `cron.ParseStandard` with `tz` for schedules without a `TZ=` / `CRON_TZ=` prefix.
    pub fn parse(spec: &str, tz: TimeZone) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        let mut spec = spec.trim();
        let mut tz = tz;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let eq = spec.find('=').unwrap_or(0);
            let sp = spec.find(' ').unwrap_or(spec.len());
            let name = spec.get(eq + 1..sp).unwrap_or_default();
            tz = load_location(name).map_err(|e| format!("provided bad location {name}: {e}"))?;
            spec = spec.get(sp..).unwrap_or_default().trim();
        }
        if let Some(d) = spec.strip_prefix("@every ") {
            let ns = go_duration(d).map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
            // `cron.Every`: at least a second, rounded down to whole seconds.
            let secs = i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX).max(1);
            return Ok(Schedule::Every(secs));
        }
        let one = |b: u32| 1u64 << b;
        let s = match spec {
            "@yearly" | "@annually" => {
                Spec { minute: one(0), hour: one(0), dom: one(1), month: one(1), dow: all(&DOW), tz }
            }
            "@monthly" => Spec { minute: one(0), hour: one(0), dom: one(1), month: all(&MONTHS), dow: all(&DOW), tz },
            "@weekly" => Spec { minute: one(0), hour: one(0), dom: all(&DOM), month: all(&MONTHS), dow: one(0), tz },
            "@daily" | "@midnight" => {
                Spec { minute: one(0), hour: one(0), dom: all(&DOM), month: all(&MONTHS), dow: all(&DOW), tz }
            }
            "@hourly" => {
                Spec { minute: one(0), hour: all(&HOURS), dom: all(&DOM), month: all(&MONTHS), dow: all(&DOW), tz }
            }
            s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {s}")),
            s => {
                let f: Vec<&str> = s.split_whitespace().collect();
                if f.len() != 5 {
                    return Err(format!("expected exactly 5 fields, found {}: [{}]", f.len(), f.join(" ")));
                }
                Spec {
                    minute: field(f[0], &MINUTES)?,
                    hour: field(f[1], &HOURS)?,
                    dom: field(f[2], &DOM)?,
                    month: field(f[3], &MONTHS)?,
                    dow: field(f[4], &DOW)?,
                    tz,
                }
            }
        };
        Ok(Schedule::Spec(s))
    }

    fn has(set: u64, v: i8) -> bool {
        u32::try_from(v).is_ok_and(|v| v < 63 && set & (1 << v) != 0)
    }

    fn day_matches(s: &Spec, t: &Zoned) -> bool {
        let dom = has(s.dom, t.day());
        let dow = has(s.dow, t.weekday().to_sunday_zero_offset());
        if s.dom & STAR != 0 || s.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn at(tz: &TimeZone, y: i16, m: i8, d: i8, h: i8) -> Option<Zoned> {
        DateTime::new(y, m, d, h, 0, 0, 0).ok()?.to_zoned(tz.clone()).ok()
    }

    fn plus(t: &Zoned, secs: i64) -> Option<Zoned> {
        t.checked_add(SignedDuration::from_secs(secs)).ok()
    }

    fn truncate(t: &Zoned, unit: i64) -> Option<Zoned> {
        let s = t.timestamp().as_second().div_euclid(unit) * unit;
        Some(Timestamp::from_second(s).ok()?.to_zoned(t.time_zone().clone()))
    }

    impl Schedule {
        /// The first activation strictly after `t`; `None` when there is none within five years
        /// (e.g. February 31st).
        pub fn next(&self, t: Timestamp) -> Option<Timestamp> {
            match self {
                Schedule::Every(secs) => {
                    let d = SignedDuration::new(*secs, -t.subsec_nanosecond());
                    t.checked_add(d).ok()
                }
                Schedule::Spec(s) => next_spec(s, t),
            }
        }
    }

    fn next_spec(s: &Spec, t: Timestamp) -> Option<Timestamp> {
        let tz = &s.tz;
        let mut t = t.to_zoned(tz.clone());
        t = t.checked_add(SignedDuration::new(1, -t.subsec_nanosecond())).ok()?;
        let mut added = false;
        let year_limit = t.year() + 5;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while !has(s.month, t.month()) {
                if !added {
                    added = true;
                    t = at(tz, t.year(), t.month(), 1, 0)?;
                }
                t = t.checked_add(Span::new().months(1)).ok()?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !day_matches(s, &t) {
                if !added {
                    added = true;
                    t = at(tz, t.year(), t.month(), t.day(), 0)?;
                }
                t = t.checked_add(Span::new().days(1)).ok()?;
                // Back to midnight if a DST change moved the wall clock.
                let h = i64::from(t.hour());
                if h != 0 {
                    t = if h > 12 { plus(&t, (24 - h) * 3600)? } else { plus(&t, -h * 3600)? };
                }
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while !has(s.hour, t.hour()) {
                if !added {
                    added = true;
                    t = at(tz, t.year(), t.month(), t.day(), t.hour())?;
                }
                t = plus(&t, 3600)?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !has(s.minute, t.minute()) {
                if !added {
                    added = true;
                    t = truncate(&t, 60)?;
                }
                t = plus(&t, 60)?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Standard schedules fire at second zero.
            if t.second() != 0 {
                if !added {
                    added = true;
                    t = truncate(&t, 1)?;
                }
                t = plus(&t, 60 - i64::from(t.second()))?;
                continue 'wrap;
            }
            return Some(t.timestamp());
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Missed {
        None,
        Few,
        Many,
    }

    #[derive(Debug)]
    pub struct Recent {
        pub earliest: Timestamp,
        pub most_recent: Option<Timestamp>,
        pub missed: Missed,
        pub err: Option<String>,
    }

    /// upstream's `mostRecentScheduleTime`: from the last schedule time (or creation, or the
    /// starting deadline when later), the latest activation not after `now`, estimating the
    /// number of missed ones from the interval between the next two.
    pub fn most_recent_schedule_time(
        created: Timestamp,
        last: Option<Timestamp>,
        starting_deadline: Option<i64>,
        now: Timestamp,
        sched: &Schedule,
        include_deadline: bool,
    ) -> Recent {
        let mut earliest = last.unwrap_or(created);
        if let (true, Some(sds)) = (include_deadline, starting_deadline) {
            if let Ok(deadline) = now.checked_sub(SignedDuration::from_secs(sds)) {
                if deadline > earliest {
                    earliest = deadline;
                }
            }
        }
        let none = |missed, err: Option<String>| Recent { earliest, most_recent: None, missed, err };
        let invalid = || none(Missed::None, Some("time difference between two schedules is less than 1 second".into()));
        let Some(t1) = sched.next(earliest) else { return invalid() };
        if now < t1 {
            return none(Missed::None, None);
        }
        let Some(t2) = sched.next(t1) else { return invalid() };
        if now < t2 {
            return Recent { earliest, most_recent: Some(t1), missed: Missed::None, err: None };
        }
        let between = t2.duration_since(t1).round(jiff::Unit::Second).map(|d| d.as_secs()).unwrap_or(0);
        if between < 1 {
            return invalid();
        }
        let elapsed = now.duration_since(t1).as_secs();
        let missed = elapsed / between + 1;
        let mut most_recent = None;
        let start = t1.checked_add(SignedDuration::from_secs((missed - 2).saturating_mul(between))).ok();
        let mut t = start.and_then(|s| sched.next(s));
        while let Some(x) = t.filter(|x| *x <= now) {
            most_recent = Some(x);
            t = sched.next(x);
        }
        let missed = if missed > 100 { Missed::Many } else { Missed::Few };
        Recent { earliest, most_recent, missed, err: None }
    }

    /// upstream's `nextScheduleTimeDuration` without the padding: how long until the
    /// activation after the most recent one.
    pub fn next_schedule_time_duration(
        created: Timestamp,
        last: Option<Timestamp>,
        now: Timestamp,
        sched: &Schedule,
    ) -> Option<SignedDuration> {
        let r = most_recent_schedule_time(created, last, None, now, sched, false);
        let from = match (r.err, r.most_recent) {
            (Some(_), _) => now,
            (None, Some(t)) => t,
            (None, None) if r.missed == Missed::None => r.earliest,
            (None, None) => now,
        };
        let next = sched.next(from)?;
        Some(next.duration_since(now).max(SignedDuration::ZERO))
    }

    /// Go's `time.RFC3339` of `t` in `tz`: `Z` for a zero offset, else `±hh:mm`.
    pub fn rfc3339(t: Timestamp, tz: &TimeZone) -> String {
        let z = t.to_zoned(tz.clone());
        let off = z.offset().seconds();
        let base = z.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        if off == 0 {
            return format!("{base}Z");
        }
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        format!("{base}{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    }

    /// Go's `time.RFC1123Z` in UTC.
    pub fn rfc1123z(t: Timestamp) -> String {
        t.to_zoned(TimeZone::UTC).strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::schedule::*;
    use super::*;
    use jiff::tz::TimeZone;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next_n(spec: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let tz = load_location(tz).unwrap();
        let s = parse(spec, tz.clone()).unwrap();
        let mut at = t(from);
        (0..n)
            .map(|_| {
                at = s.next(at).unwrap();
                rfc3339(at, &tz)
            })
            .collect()
    }

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        assert_eq!(
            next_n("*/15 * * * *", "UTC", "2024-01-01T00:07:30Z", 3),
            ["2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z", "2024-01-01T00:45:00Z"]
        );
        assert_eq!(
            next_n("5,10-12 3 * * *", "UTC", "2024-01-01T03:06:00Z", 4),
            ["2024-01-01T03:10:00Z", "2024-01-01T03:11:00Z", "2024-01-01T03:12:00Z", "2024-01-02T03:05:00Z"]
        );
        // 2024-01-01 is a Monday.
        assert_eq!(
            next_n("0 9 * JAN-feb MON", "UTC", "2024-01-01T09:00:00Z", 2),
            ["2024-01-08T09:00:00Z", "2024-01-15T09:00:00Z"]
        );
        assert_eq!(next_n("0 0 29 2 *", "UTC", "2024-03-01T00:00:00Z", 1), ["2028-02-29T00:00:00Z"]);
        // A step on a single value runs to the maximum.
        assert_eq!(
            next_n("50/5 * * * *", "UTC", "2024-01-01T00:51:00Z", 3),
            ["2024-01-01T00:55:00Z", "2024-01-01T01:50:00Z", "2024-01-01T01:55:00Z"]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_unless_one_is_a_star() {
        // The 13th, or any Friday: 2024-09-06 is a Friday, then the 13th (also Friday), 20th.
        assert_eq!(
            next_n("0 0 13 * 5", "UTC", "2024-09-01T00:00:00Z", 3),
            ["2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z"]
        );
        // With a star day-of-month, only Fridays; `?` is a star too.
        assert_eq!(next_n("0 0 ? * 5", "UTC", "2024-09-01T00:00:00Z", 1), ["2024-09-06T00:00:00Z"]);
        // `*/1` keeps the star, `*/2` does not.
        assert_eq!(next_n("0 0 */1 * 5", "UTC", "2024-09-01T00:00:00Z", 1), ["2024-09-06T00:00:00Z"]);
        assert_eq!(
            next_n("0 0 */2 * 5", "UTC", "2024-09-01T00:00:00Z", 2),
            ["2024-09-03T00:00:00Z", "2024-09-05T00:00:00Z"]
        );
    }

    #[test]
    fn descriptors_and_every() {
        assert_eq!(next_n("@hourly", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-01T01:00:00Z"]);
        assert_eq!(next_n("@daily", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-02T00:00:00Z"]);
        assert_eq!(next_n("@midnight", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-02T00:00:00Z"]);
        assert_eq!(next_n("@weekly", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-07T00:00:00Z"]);
        assert_eq!(next_n("@monthly", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-02-01T00:00:00Z"]);
        assert_eq!(next_n("@yearly", "UTC", "2024-01-01T00:00:00Z", 1), ["2025-01-01T00:00:00Z"]);
        assert_eq!(next_n("@annually", "UTC", "2024-01-01T00:00:00Z", 1), ["2025-01-01T00:00:00Z"]);
        assert_eq!(next_n("@every 1h30m", "UTC", "2024-01-01T00:00:00.5Z", 1), ["2024-01-01T01:30:00Z"]);
        assert_eq!(next_n("@every 100ms", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-01T00:00:01Z"]);
        for bad in ["", "@often", "* * * *", "60 * * * *", "* * * * 7", "5-1 * * * *", "*/0 * * * *", "1-2-3 * * * *"] {
            assert!(parse(bad, TimeZone::UTC).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        assert_eq!(next_n("30 9 * * *", "Asia/Kolkata", "2024-01-01T00:00:00Z", 1), ["2024-01-01T09:30:00+05:30"]);
        assert_eq!(next_n("TZ=Asia/Tokyo 0 0 * * *", "UTC", "2024-01-01T00:00:00Z", 1), ["2024-01-01T15:00:00Z"]);
        // Spring forward (2024-03-10, 02:00 → 03:00 in New York): 02:30 does not exist that day.
        assert_eq!(
            next_n("30 2 * * *", "America/New_York", "2024-03-09T05:00:00Z", 2),
            ["2024-03-09T02:30:00-05:00", "2024-03-11T02:30:00-04:00"]
        );
        // Fall back (2024-11-03, 02:00 → 01:00): 01:30 happens twice, as robfig/cron runs it.
        assert_eq!(
            next_n("30 1 * * *", "America/New_York", "2024-11-03T04:00:00Z", 3),
            ["2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00", "2024-11-04T01:30:00-05:00"]
        );
        assert!(load_location("Mars/Olympus").is_err());
    }

    #[test]
    fn most_recent_schedule_time_counts_missed_runs() {
        let s = parse("* * * * *", TimeZone::UTC).unwrap();
        let created = t("2024-01-01T00:00:30Z");
        // Not yet due.
        let r = most_recent_schedule_time(created, None, None, t("2024-01-01T00:00:59Z"), &s, true);
        assert_eq!((r.most_recent, r.missed), (None, Missed::None));
        // Exactly one due.
        let r = most_recent_schedule_time(created, None, None, t("2024-01-01T00:01:10Z"), &s, true);
        assert_eq!((r.most_recent, r.missed), (Some(t("2024-01-01T00:01:00Z")), Missed::None));
        // A few missed: the latest one is taken.
        let r = most_recent_schedule_time(created, None, None, t("2024-01-01T00:05:10Z"), &s, true);
        assert_eq!((r.most_recent, r.missed), (Some(t("2024-01-01T00:05:00Z")), Missed::Few));
        // Many missed.
        let r = most_recent_schedule_time(created, None, None, t("2024-01-02T00:00:10Z"), &s, true);
        assert_eq!((r.most_recent, r.missed), (Some(t("2024-01-02T00:00:00Z")), Missed::Many));
        // The starting deadline bounds how far back it looks.
        let r = most_recent_schedule_time(created, None, Some(200), t("2024-01-02T00:00:10Z"), &s, true);
        assert_eq!(r.missed, Missed::Few);
        // The last schedule time wins over the creation time.
        let r = most_recent_schedule_time(
            created,
            Some(t("2024-01-01T00:05:00Z")),
            None,
            t("2024-01-01T00:05:10Z"),
            &s,
            true,
        );
        assert_eq!(r.most_recent, None);
        // A schedule that never fires is an error.
        let never = parse("0 0 31 2 *", TimeZone::UTC).unwrap();
        assert!(most_recent_schedule_time(created, None, None, t("2024-06-01T00:00:00Z"), &never, true).err.is_some());
        // Requeue at the next one.
        let d = next_schedule_time_duration(created, Some(t("2024-01-01T00:05:00Z")), t("2024-01-01T00:05:10Z"), &s);
        assert_eq!(d, Some(jiff::SignedDuration::from_secs(50)));
    }

    #[test]
    fn job_names_and_scheduled_timestamps() {
        assert_eq!(job_name("hello", t("2024-01-01T00:05:00Z")), "hello-28401125");
        let kolkata = load_location("Asia/Kolkata").unwrap();
        assert_eq!(rfc3339(t("2024-01-01T00:05:00Z"), &kolkata), "2024-01-01T05:35:00+05:30");
        assert_eq!(rfc3339(t("2024-01-01T00:05:00Z"), &TimeZone::UTC), "2024-01-01T00:05:00Z");
        assert_eq!(rfc1123z(t("2024-01-01T00:05:00Z")), "Mon, 01 Jan 2024 00:05:00 +0000");
    }
}
