//! The job, cronjob and ttl-after-finished controllers against the real apiserver, with the
//! fake kubelet of `e2e::kwok` playing the pods (a pod annotated with an exit code finishes
//! with it). The controller-manager runs only what these need.

use e2e::kwok::{apply, get, items, live, name, owned_by, pods, FakeKubelet, EXIT_CODE, K};
use e2e::{poll, Cluster, ControllerManager};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const CONTROLLERS: &str = "--controllers=job,cronjob,ttl-after-finished,garbagecollector,serviceaccount";

/// A cluster, the controller-manager and a fake kubelet for `default`.
fn setup() -> (Cluster, ControllerManager, FakeKubelet) {
    let c = Cluster::start_with(&["--enable-admission-plugins=NodeRestriction", "--authorization-mode=Node,RBAC"]);
    let kcm = ControllerManager::start(&c.api, &[CONTROLLERS]);
    // ServiceAccount admission needs the default account before any pod.
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    let kubelet = FakeKubelet::start(&c, "default");
    (c, kcm, kubelet)
}

/// A pod template whose pods finish with `exit` (run until deleted when `None`).
fn template(exit: Option<i32>) -> Value {
    let annotations = match exit {
        Some(code) => json!({ EXIT_CODE: code.to_string() }),
        None => json!({}),
    };
    json!({"metadata": {"annotations": annotations},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}})
}

fn job(name: &str, spec: Value, exit: Option<i32>) -> String {
    let mut spec = spec;
    spec["template"] = template(exit);
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
        .to_string()
}

fn condition<'a>(o: &'a Value, type_: &str) -> Option<&'a Value> {
    o["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn events(c: &Cluster, object: &str) -> String {
    c.api.kubectl_ok(
        K,
        &["get", "events", "-n", "default", "--field-selector", &format!("involvedObject.name={object}")],
    )
}

fn wait_event(c: &Cluster, object: &str, needle: &str, timeout: Duration) -> String {
    poll(&format!("event {needle:?} on {object}"), timeout, || Some(events(c, object)).filter(|e| e.contains(needle)))
}

/// `poll`, but a timeout shows the Jobs, CronJobs, pods and the controller-manager's log.
fn until<T>(
    what: &str,
    timeout: Duration,
    c: &Cluster,
    kcm: &ControllerManager,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let end = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if std::time::Instant::now() > end {
            let state = c.api.kubectl(K, &["get", "jobs,cronjobs,pods,events", "-n", "default", "-o", "yaml"]);
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}\n{}",
                String::from_utf8_lossy(&state.stdout),
                kcm.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn job_pods(c: &Cluster, job: &str) -> Vec<Value> {
    pods(c, "default", &format!("batch.kubernetes.io/job-name={job}"))
}

#[test]
fn jobs_run_their_completions_and_count_pods_through_finalizers() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &job("pi", json!({"completions": 3, "parallelism": 2}), Some(0)));
    let uid = get(&c, &["job", "pi"]).expect("job")["metadata"]["uid"].as_str().expect("uid").to_string();
    let done = until("the job completes", WAIT, &c, &kcm, || {
        get(&c, &["job", "pi"]).filter(|j| condition(j, "Complete").is_some())
    });
    let st = &done["status"];
    assert_eq!(st["succeeded"], 3, "{done}\n{}", kcm.log());
    assert!(st["failed"].is_null() || st["failed"] == 0, "{done}");
    assert!(st["active"].is_null() || st["active"] == 0, "{done}");
    assert_eq!(st["ready"], 0, "{done}");
    assert_eq!(st["terminating"], 0, "{done}");
    assert!(st["startTime"].is_string() && st["completionTime"].is_string(), "{done}");
    let uncounted = &st["uncountedTerminatedPods"];
    assert!(uncounted["succeeded"].as_array().is_none_or(|a| a.is_empty()), "{done}");
    let complete = condition(&done, "Complete").expect("Complete");
    assert_eq!(complete["status"], "True");
    assert_eq!(complete["reason"], "CompletionsReached");
    assert_eq!(complete["message"], "Reached expected number of succeeded pods");
    // v1.33's two steps: SuccessCriteriaMet first, then Complete.
    let types: Vec<&str> =
        st["conditions"].as_array().expect("conditions").iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"], "{done}");

    // Exactly three pods, ours, named after the job, labelled, and their finalizers removed.
    let ps = job_pods(&c, "pi");
    assert_eq!(ps.len(), 3, "{ps:?}");
    for p in &ps {
        assert!(owned_by(p, &uid), "{p}");
        assert!(name(p).starts_with("pi-"), "{p}");
        assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid.as_str(), "{p}");
        assert_eq!(p["metadata"]["labels"]["job-name"], "pi", "{p}");
        assert_eq!(p["status"]["phase"], "Succeeded", "{p}");
        let fins = p["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        assert!(!fins.iter().any(|f| f == "batch.kubernetes.io/job-tracking"), "{p}");
    }
    let ev = wait_event(&c, "pi", "Job completed", WAIT);
    assert!(ev.contains("SuccessfulCreate") && ev.contains("Created pod: pi-"), "{ev}");
    assert!(ev.contains("Completed"), "{ev}");
}

#[test]
fn failing_pods_fail_the_job_once_the_backoff_limit_is_exceeded() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &job("bad", json!({"backoffLimit": 1}), Some(1)));
    // One failure, a ten second backoff, a second failure: 2 > 1.
    let failed = until("the job fails", Duration::from_secs(60), &c, &kcm, || {
        get(&c, &["job", "bad"]).filter(|j| condition(j, "Failed").is_some())
    });
    let cond = condition(&failed, "Failed").expect("Failed");
    assert_eq!(cond["reason"], "BackoffLimitExceeded", "{failed}\n{}", kcm.log());
    assert_eq!(cond["message"], "Job has reached the specified backoff limit");
    let target = condition(&failed, "FailureTarget").expect("FailureTarget first");
    assert_eq!(target["reason"], "BackoffLimitExceeded");
    assert_eq!(failed["status"]["failed"], 2, "{failed}");
    assert!(failed["status"]["completionTime"].is_null(), "{failed}");
    let ps = job_pods(&c, "bad");
    assert_eq!(ps.len(), 2, "{ps:?}");
    // The second pod came after the backoff, not at once.
    let created = |p: &Value| {
        chrono::DateTime::parse_from_rfc3339(p["metadata"]["creationTimestamp"].as_str().unwrap_or("")).expect("time")
    };
    let gap = (created(&ps[0]) - created(&ps[1])).num_seconds().abs();
    assert!(gap >= 9, "pods created {gap}s apart: {ps:?}");
    let ev = wait_event(&c, "bad", "BackoffLimitExceeded", WAIT);
    assert!(ev.contains("Job has reached the specified backoff limit"), "{ev}");
}

#[test]
fn indexed_jobs_give_each_pod_an_index_and_report_completed_indexes() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &job("idx", json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}), Some(0)));
    let done = until("the indexed job completes", WAIT, &c, &kcm, || {
        get(&c, &["job", "idx"]).filter(|j| condition(j, "Complete").is_some())
    });
    assert_eq!(done["status"]["completedIndexes"], "0-2", "{done}\n{}", kcm.log());
    assert_eq!(done["status"]["succeeded"], 3, "{done}");
    let ps = job_pods(&c, "idx");
    assert_eq!(ps.len(), 3, "{ps:?}");
    let mut seen: Vec<String> = Vec::new();
    for p in &ps {
        let ix = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"].as_str().expect("index");
        assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"], ix, "{p}");
        assert_eq!(p["spec"]["hostname"], format!("idx-{ix}"), "{p}");
        assert!(name(p).starts_with(&format!("idx-{ix}-")), "{p}");
        let env = &p["spec"]["containers"][0]["env"][0];
        assert_eq!(env["name"], "JOB_COMPLETION_INDEX", "{p}");
        assert_eq!(
            env["valueFrom"]["fieldRef"]["fieldPath"], "metadata.labels['batch.kubernetes.io/job-completion-index']",
            "{p}"
        );
        seen.push(ix.to_string());
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2"]);
}

#[test]
fn suspending_a_job_deletes_its_pods_and_resuming_restarts_them() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &job("sleepy", json!({"parallelism": 2, "completions": 4}), None));
    let running = until("two running pods", WAIT, &c, &kcm, || {
        get(&c, &["job", "sleepy"]).filter(|j| j["status"]["active"] == 2 && j["status"]["ready"] == 2)
    });
    let first_start = running["status"]["startTime"].as_str().expect("startTime").to_string();

    c.api.kubectl_ok(K, &["patch", "job", "sleepy", "--type=merge", "-p", r#"{"spec":{"suspend":true}}"#]);
    let suspended = until("suspended", WAIT, &c, &kcm, || {
        get(&c, &["job", "sleepy"]).filter(|j| {
            condition(j, "Suspended").is_some_and(|s| s["status"] == "True")
                && (j["status"]["active"].is_null() || j["status"]["active"] == 0)
        })
    });
    let cond = condition(&suspended, "Suspended").expect("Suspended");
    assert_eq!(cond["reason"], "JobSuspended", "{suspended}");
    assert_eq!(cond["message"], "Job suspended");
    until("the pods are gone", WAIT, &c, &kcm, || job_pods(&c, "sleepy").is_empty().then_some(()));
    wait_event(&c, "sleepy", "Job suspended", WAIT);
    // Deleted pods of a suspended Job are not failures.
    assert!(suspended["status"]["failed"].is_null() || suspended["status"]["failed"] == 0, "{suspended}");

    // The start time moves to the resumption (whole seconds: let the clock pass the first).
    until("the clock to pass the first start", WAIT, &c, &kcm, || {
        (chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string() > first_start).then_some(())
    });
    c.api.kubectl_ok(K, &["patch", "job", "sleepy", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#]);
    let resumed = until("resumed", WAIT, &c, &kcm, || {
        get(&c, &["job", "sleepy"])
            .filter(|j| condition(j, "Suspended").is_some_and(|s| s["status"] == "False") && j["status"]["active"] == 2)
    });
    let cond = condition(&resumed, "Suspended").expect("Suspended");
    assert_eq!(cond["reason"], "JobResumed", "{resumed}\n{}", kcm.log());
    assert_eq!(cond["message"], "Job resumed");
    let start = resumed["status"]["startTime"].as_str().expect("startTime");
    assert!(start > first_start.as_str(), "{start} vs {first_start}");
    assert_eq!(live(&job_pods(&c, "sleepy")).len(), 2);
}

#[test]
fn finished_jobs_with_a_ttl_are_deleted_with_their_pods() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &job("short-lived", json!({"ttlSecondsAfterFinished": 2}), Some(0)));
    apply(&c, &job("kept", json!({}), Some(0)));
    until("the job completes", WAIT, &c, &kcm, || {
        get(&c, &["job", "short-lived"]).filter(|j| condition(j, "Complete").is_some())
    });
    until("the job is deleted", WAIT, &c, &kcm, || get(&c, &["job", "short-lived"]).is_none().then_some(()));
    until("its pods are deleted", WAIT, &c, &kcm, || job_pods(&c, "short-lived").is_empty().then_some(()));
    // A job without a TTL stays.
    until("the other job completes", WAIT, &c, &kcm, || {
        get(&c, &["job", "kept"]).filter(|j| condition(j, "Complete").is_some())
    });
    assert!(get(&c, &["job", "kept"]).is_some(), "{}", kcm.log());
}

#[test]
fn deadlines_pod_failure_policies_and_success_policies_end_jobs_early() {
    let (c, kcm, _kubelet) = setup();
    // Pods that never finish, and a two second deadline.
    apply(&c, &job("deadline", json!({"parallelism": 2, "activeDeadlineSeconds": 2}), None));
    // Exit code 42 fails the whole Job at once, whatever the backoff limit.
    let fail_job = json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}});
    apply(&c, &job("fatal", fail_job, Some(42)));
    // Index 1 succeeding is enough.
    let success = json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
        "successPolicy": {"rules": [{"succeededIndexes": "1"}]}});
    apply(&c, &job("lenient", success, Some(0)));

    let failed = until("the deadline fails the job", WAIT, &c, &kcm, || {
        get(&c, &["job", "deadline"]).filter(|j| condition(j, "Failed").is_some())
    });
    let cond = condition(&failed, "Failed").expect("Failed");
    assert_eq!(cond["reason"], "DeadlineExceeded", "{failed}");
    assert_eq!(cond["message"], "Job was active longer than specified deadline");
    // The active pods were deleted and counted as failed; none is left.
    assert_eq!(failed["status"]["failed"], 2, "{failed}");
    until("the deadline job's pods are gone", WAIT, &c, &kcm, || job_pods(&c, "deadline").is_empty().then_some(()));

    let fatal = until("the pod failure policy fails the job", WAIT, &c, &kcm, || {
        get(&c, &["job", "fatal"]).filter(|j| condition(j, "Failed").is_some())
    });
    let cond = condition(&fatal, "Failed").expect("Failed");
    assert_eq!(cond["reason"], "PodFailurePolicy", "{fatal}");
    let msg = cond["message"].as_str().unwrap_or("");
    assert!(
        msg.starts_with("Container main for pod default/fatal-")
            && msg.ends_with("failed with exit code 42 matching FailJob rule at index 0"),
        "{msg}"
    );
    assert_eq!(job_pods(&c, "fatal").len(), 1);

    let lenient = until("the success policy completes the job", WAIT, &c, &kcm, || {
        get(&c, &["job", "lenient"]).filter(|j| condition(j, "Complete").is_some())
    });
    let cond = condition(&lenient, "Complete").expect("Complete");
    assert_eq!(cond["reason"], "SuccessPolicy", "{lenient}");
    assert_eq!(cond["message"], "Matched rules at index 0");
    assert_eq!(condition(&lenient, "SuccessCriteriaMet").expect("SuccessCriteriaMet")["reason"], "SuccessPolicy");
    // "1", "0,1", "0-2", ...: the interval list holds index 1.
    let holds_one = lenient["status"]["completedIndexes"].as_str().unwrap_or("").split(',').any(|iv| {
        let (a, b) = iv.split_once('-').unwrap_or((iv, iv));
        a.parse::<i32>().is_ok_and(|a| a <= 1) && b.parse::<i32>().is_ok_and(|b| b >= 1)
    });
    assert!(holds_one, "{lenient}");
}

// ---- CronJobs ----------------------------------------------------------------------------

fn cronjob(name: &str, spec: Value, exit: Option<i32>) -> String {
    let mut spec = spec;
    spec["jobTemplate"] = json!({"spec": {"backoffLimit": 0, "template": template(exit)}});
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
        .to_string()
}

fn rfc3339_ago(secs: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(secs)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Pretends the CronJob last ran `secs` ago (as after a controller-manager outage), so that a
/// run is due now instead of at the next minute boundary.
fn backdate(c: &Cluster, cj: &str, secs: i64, active: Value) {
    let patch = json!({"status": {"lastScheduleTime": rfc3339_ago(secs), "active": active}});
    c.api.kubectl_ok(K, &["patch", "cronjob", cj, "--subresource=status", "--type=merge", "-p", &patch.to_string()]);
}

fn cronjob_jobs(c: &Cluster, uid: &str) -> Vec<Value> {
    live(&items(c, &["jobs", "-n", "default"])).into_iter().filter(|j| owned_by(j, uid)).collect()
}

#[test]
fn a_due_cronjob_creates_its_job_and_records_the_run() {
    let (c, kcm, _kubelet) = setup();
    apply(&c, &cronjob("tick", json!({"schedule": "*/1 * * * *", "timeZone": "Asia/Kolkata"}), Some(0)));
    let cj = get(&c, &["cronjob", "tick"]).expect("cronjob");
    let uid = cj["metadata"]["uid"].as_str().expect("uid").to_string();
    backdate(&c, "tick", 180, json!(null));
    let before = chrono::Utc::now().timestamp();
    let jobs = until("the scheduled job", WAIT, &c, &kcm, || Some(cronjob_jobs(&c, &uid)).filter(|j| !j.is_empty()));
    assert_eq!(jobs.len(), 1, "{jobs:?}\n{}", kcm.log());
    let j = &jobs[0];
    // Named after the scheduled minute: the latest one due.
    let minutes: i64 = name(j).strip_prefix("tick-").expect("name").parse().expect("minutes");
    assert!((before / 60 - 1..=before / 60 + 1).contains(&minutes), "{j}");
    let stamp = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].as_str().expect("ts");
    assert!(stamp.ends_with(":00+05:30"), "{stamp}");
    assert_eq!(chrono::DateTime::parse_from_rfc3339(stamp).expect("rfc3339").timestamp(), minutes * 60);
    let owner = &j["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool()), (Some("CronJob"), Some(true)), "{j}");

    let cj = until("status.active", WAIT, &c, &kcm, || {
        get(&c, &["cronjob", "tick"]).filter(|cj| cj["status"]["active"].as_array().is_some_and(|a| a.len() == 1))
    });
    assert_eq!(cj["status"]["active"][0]["name"], name(j).as_str());
    let last =
        chrono::DateTime::parse_from_rfc3339(cj["status"]["lastScheduleTime"].as_str().expect("last")).expect("t");
    assert_eq!(last.timestamp(), minutes * 60);
    wait_event(&c, "tick", &format!("Created job {}", name(j)), WAIT);

    // The job's pod exits 0: the run is seen completed and recorded.
    let cj = until("the completed run", WAIT, &c, &kcm, || {
        get(&c, &["cronjob", "tick"]).filter(|cj| {
            cj["status"]["lastSuccessfulTime"].is_string()
                && cj["status"]["active"].as_array().is_none_or(|a| a.is_empty())
        })
    });
    assert!(cj["status"]["lastSuccessfulTime"].is_string(), "{cj}");
    wait_event(&c, "tick", "SawCompletedJob", WAIT);
}

/// A running Job the CronJob lists as active, as if it had created it.
fn manual_active_job(c: &Cluster, cj: &str, cj_uid: &str, job_name: &str) -> Value {
    let j = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name, "namespace": "default",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cj, "uid": cj_uid,
                "controller": true}]},
        "spec": {"template": template(None)}});
    apply(c, &j.to_string());
    let j = get(c, &["job", job_name]).expect("job");
    json!([{"apiVersion": "batch/v1", "kind": "Job", "namespace": "default", "name": job_name,
        "uid": j["metadata"]["uid"]}])
}

#[test]
fn concurrency_policies_forbid_or_replace_a_running_job() {
    let (c, kcm, _kubelet) = setup();
    for (cj, policy) in [("forbid", "Forbid"), ("replace", "Replace")] {
        apply(&c, &cronjob(cj, json!({"schedule": "* * * * *", "concurrencyPolicy": policy}), None));
    }
    let uid = |n: &str| get(&c, &["cronjob", n]).expect("cj")["metadata"]["uid"].as_str().expect("uid").to_string();
    let (forbid_uid, replace_uid) = (uid("forbid"), uid("replace"));
    let forbid_active = manual_active_job(&c, "forbid", &forbid_uid, "forbid-running");
    let replace_active = manual_active_job(&c, "replace", &replace_uid, "replace-running");
    backdate(&c, "forbid", 180, forbid_active);
    backdate(&c, "replace", 180, replace_active);

    // Forbid: the due run is skipped while the earlier one runs.
    wait_event(
        &c,
        "forbid",
        "Not starting job because prior execution is running and concurrency policy is Forbid",
        WAIT,
    );
    let jobs: Vec<String> = cronjob_jobs(&c, &forbid_uid).iter().map(name).collect();
    assert_eq!(jobs, ["forbid-running"], "{}", kcm.log());

    // Replace: the running job is deleted and the due run created.
    let jobs = until("the replacement", WAIT, &c, &kcm, || {
        let jobs: Vec<String> = cronjob_jobs(&c, &replace_uid).iter().map(name).collect();
        (jobs.len() == 1 && jobs[0] != "replace-running").then_some(jobs)
    });
    assert!(jobs[0].starts_with("replace-"), "{jobs:?}");
    wait_event(&c, "replace", "Deleted job replace-running", WAIT);
    let cj = until("active is the new job", WAIT, &c, &kcm, || {
        get(&c, &["cronjob", "replace"]).filter(|cj| {
            cj["status"]["active"].as_array().is_some_and(|a| a.len() == 1 && a[0]["name"] == jobs[0].as_str())
        })
    });
    assert!(cj["status"]["lastScheduleTime"].is_string(), "{cj}");
}

#[test]
fn history_limits_keep_the_newest_finished_jobs() {
    let (c, kcm, _kubelet) = setup();
    apply(
        &c,
        &cronjob(
            "hist",
            json!({"schedule": "0 0 1 1 *", "suspend": true,
                "successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1}),
            Some(0),
        ),
    );
    let uid = get(&c, &["cronjob", "hist"]).expect("cj")["metadata"]["uid"].as_str().expect("uid").to_string();
    // Finished runs, oldest first (as the controller would have left them).
    for (n, exit) in [("hist-a", 0), ("hist-b", 0), ("hist-c", 0), ("hist-f1", 1), ("hist-f2", 1)] {
        let j = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": n, "namespace": "default",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hist", "uid": uid,
                    "controller": true}]},
            "spec": {"backoffLimit": 0, "template": template(Some(exit))}});
        apply(&c, &j.to_string());
        until(&format!("{n} finishes"), WAIT, &c, &kcm, || {
            get(&c, &["job", n]).filter(|j| condition(j, "Complete").or(condition(j, "Failed")).is_some())
        });
    }
    let left = until("only the newest of each kind", WAIT, &c, &kcm, || {
        let mut names: Vec<String> = cronjob_jobs(&c, &uid).iter().map(name).collect();
        names.sort();
        (names.len() == 2).then_some(names)
    });
    assert_eq!(left, ["hist-c", "hist-f2"], "{}", kcm.log());
    let ev = wait_event(&c, "hist", "Deleted job hist-a", WAIT);
    assert!(ev.contains("SuccessfulDelete"), "{ev}");
}
