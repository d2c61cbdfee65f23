//! The pod's status as the kubelet reports it, computed from the runtime's view of its
//! containers: container statuses, phase, conditions, IPs, QoS class.

use crate::cri::api;
use crate::pod;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn time_ns(ns: i64) -> Option<Time> {
    (ns > 0).then(|| Time(Timestamp::from_nanosecond(ns as i128).unwrap_or(Timestamp::UNIX_EPOCH)))
}

/// Why a container is not running when the runtime has nothing to show for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// A container's runtime status and the kubelet's own note about it.
#[derive(Debug, Clone, Default)]
pub struct ContainerView {
    /// Latest first.
    pub attempts: Vec<api::ContainerStatus>,
    pub waiting: Option<Waiting>,
    pub ready: bool,
    /// Running and past its startup probe.
    pub started: bool,
}

fn terminated(s: &api::ContainerStatus) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: s.exit_code,
        reason: Some(if s.reason.is_empty() {
            if s.exit_code == 0 { "Completed" } else { "Error" }.to_string()
        } else {
            s.reason.clone()
        }),
        message: (!s.message.is_empty()).then(|| s.message.clone()),
        started_at: time_ns(s.started_at),
        finished_at: time_ns(s.finished_at),
        container_id: Some(format!("containerd://{}", s.id)),
        signal: None,
    }
}

fn state_of(s: &api::ContainerStatus) -> ContainerState {
    match api::ContainerState::try_from(s.state) {
        Ok(api::ContainerState::ContainerRunning) => ContainerState {
            running: Some(ContainerStateRunning { started_at: time_ns(s.started_at) }),
            ..Default::default()
        },
        Ok(api::ContainerState::ContainerExited) => {
            ContainerState { terminated: Some(terminated(s)), ..Default::default() }
        }
        _ => ContainerState {
            waiting: Some(ContainerStateWaiting { reason: Some("ContainerCreating".into()), message: None }),
            ..Default::default()
        },
    }
}

/// A container's status in the API from its attempts, as upstream converts it.
pub fn container_status(name: &str, spec_image: &str, v: &ContainerView) -> ContainerStatus {
    let latest = v.attempts.first();
    let restart_count =
        latest.and_then(|s| s.annotations.get(pod::ANN_RESTART_COUNT)).and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
    let mut st = ContainerStatus {
        name: name.to_string(),
        image: spec_image.to_string(),
        image_id: String::new(),
        restart_count,
        ready: false,
        started: Some(false),
        ..Default::default()
    };
    if let Some(s) = latest {
        st.image = s.image.as_ref().map(|i| i.image.clone()).filter(|i| !i.is_empty()).unwrap_or(st.image);
        st.image_id = s.image_ref.clone();
        st.container_id = Some(format!("containerd://{}", s.id));
        st.state = Some(state_of(s));
        let running = s.state == api::ContainerState::ContainerRunning as i32;
        st.started = Some(running && v.started);
        st.ready = running && v.ready;
        if let Some(prev) = v.attempts.get(1) {
            st.last_state = Some(ContainerState { terminated: Some(terminated(prev)), ..Default::default() });
        }
    }
    if let Some(w) = &v.waiting {
        // The latest attempt ended and the next is held back (or could not be made): the
        // ended one is the last state.
        if let Some(s) = latest.filter(|s| s.state == api::ContainerState::ContainerExited as i32) {
            st.last_state = Some(ContainerState { terminated: Some(terminated(s)), ..Default::default() });
        }
        st.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(w.reason.clone()),
                message: (!w.message.is_empty()).then(|| w.message.clone()),
            }),
            ..Default::default()
        });
        st.started = Some(false);
        st.ready = false;
    }
    if st.state.is_none() {
        st.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting { reason: Some("ContainerCreating".into()), message: None }),
            ..Default::default()
        });
    }
    st.last_state.get_or_insert_with(Default::default);
    st
}

/// The pod's phase from its container statuses, as upstream's getPhase.
pub fn phase(
    p: &k8s_openapi::api::core::v1::PodSpec,
    init: &[ContainerStatus],
    ctrs: &[ContainerStatus],
) -> &'static str {
    let restart = p.restart_policy.as_deref().unwrap_or("Always");
    for (i, s) in init.iter().enumerate() {
        let sidecar = p.init_containers.as_ref().and_then(|c| c.get(i)).and_then(|c| c.restart_policy.as_deref())
            == Some("Always");
        let st = s.state.clone().unwrap_or_default();
        if sidecar {
            continue;
        }
        if let Some(t) = &st.terminated {
            if t.exit_code == 0 {
                continue;
            }
            if restart == "Never" {
                return "Failed";
            }
        }
        if let Some(t) = s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
            if st.waiting.is_some() && t.exit_code != 0 && restart == "Never" {
                return "Failed";
            }
        }
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in ctrs {
        let st = s.state.clone().unwrap_or_default();
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = &st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if st.waiting.is_some() {
            match s.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
                Some(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                None => waiting += 1,
            }
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match restart {
            "Always" => "Running",
            "OnFailure" if stopped == succeeded => "Succeeded",
            "OnFailure" => "Running",
            _ if stopped == succeeded => "Succeeded",
            _ => "Failed",
        };
    }
    "Pending"
}

fn cond(
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    prev: &[PodCondition],
    now: &Time,
) -> PodCondition {
    let status = if ok { "True" } else { "False" }.to_string();
    let transition = match prev.iter().find(|c| c.type_ == type_) {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    PodCondition {
        type_: type_.into(),
        status,
        reason: if ok { None } else { reason.map(str::to_string) },
        message: if ok { None } else { message },
        last_probe_time: None,
        last_transition_time: transition,
        observed_generation: None,
    }
}

/// Inputs of the pod status beyond its containers.
pub struct PodFacts<'a> {
    pub sandbox_ready: bool,
    pub pod_ips: &'a [String],
    pub host_ips: &'a [String],
    pub start_time: Option<Time>,
}

/// The whole status the kubelet owns, from the container views (spec order) and the facts.
pub fn pod_status(
    p: &Pod,
    init_views: &[ContainerView],
    views: &[ContainerView],
    facts: &PodFacts<'_>,
    now: &Time,
) -> PodStatus {
    let spec = p.spec.clone().unwrap_or_default();
    let prev = p.status.clone().unwrap_or_default();
    let prev_conds = prev.conditions.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let init: Vec<ContainerStatus> = init_specs
        .iter()
        .zip(init_views)
        .map(|(c, v)| container_status(&c.name, c.image.as_deref().unwrap_or(""), v))
        .collect();
    let mut ctrs: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .zip(views)
        .map(|(c, v)| container_status(&c.name, c.image.as_deref().unwrap_or(""), v))
        .collect();
    let phase = phase(&spec, &init, &ctrs);
    ctrs.sort_by(|a, b| a.name.cmp(&b.name));

    let incomplete: Vec<&str> = init
        .iter()
        .zip(&init_specs)
        .filter(|(s, c)| {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            let st = s.state.clone().unwrap_or_default();
            if sidecar {
                st.running.is_none() && !s.started.unwrap_or(false)
            } else {
                !matches!(st.terminated, Some(t) if t.exit_code == 0)
            }
        })
        .map(|(s, _)| s.name.as_str())
        .collect();
    let initialized = incomplete.is_empty() || phase == "Succeeded";
    let unready: Vec<&str> = spec
        .containers
        .iter()
        .filter(|c| !ctrs.iter().any(|s| s.name == c.name && s.ready))
        .map(|c| c.name.as_str())
        .collect();
    let terminal = phase == "Succeeded" || phase == "Failed";
    let (ready_reason, ready_msg) = if terminal {
        ("PodCompleted", None)
    } else if !initialized {
        ("ContainersNotInitialized", Some(format!("containers with incomplete status: [{}]", incomplete.join(" "))))
    } else {
        ("ContainersNotReady", Some(format!("containers with unready status: [{}]", unready.join(" "))))
    };
    let containers_ready = unready.is_empty() && !terminal;
    let init_reason = if terminal { "PodCompleted" } else { "ContainersNotInitialized" };
    let mut conditions = vec![
        cond("PodReadyToStartContainers", facts.sandbox_ready, None, None, &prev_conds, now),
        cond(
            "Initialized",
            initialized,
            Some(init_reason),
            (!terminal).then(|| format!("containers with incomplete status: [{}]", incomplete.join(" "))),
            &prev_conds,
            now,
        ),
        cond("Ready", containers_ready, Some(ready_reason), ready_msg.clone(), &prev_conds, now),
        cond("ContainersReady", containers_ready, Some(ready_reason), ready_msg, &prev_conds, now),
    ];
    // Conditions others own (PodScheduled, DisruptionTarget, readiness gates) stay as they are.
    for c in &prev_conds {
        if !conditions.iter().any(|x| x.type_ == c.type_) {
            conditions.push(c.clone());
        }
    }
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        container_statuses: Some(ctrs),
        init_container_statuses: (!init.is_empty()).then_some(init),
        host_ip: facts.host_ips.first().cloned(),
        host_ips: (!facts.host_ips.is_empty())
            .then(|| facts.host_ips.iter().map(|ip| HostIP { ip: ip.clone() }).collect()),
        pod_ip: facts.pod_ips.first().cloned(),
        pod_ips: (!facts.pod_ips.is_empty()).then(|| facts.pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time: prev.start_time.clone().or_else(|| facts.start_time.clone()),
        qos_class: Some(pod::qos_class(p).into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cs(state: api::ContainerState, exit: i32, restart: u32) -> api::ContainerStatus {
        let mut s = api::ContainerStatus {
            id: format!("c{restart}"),
            state: state as i32,
            exit_code: exit,
            started_at: 1_000_000_000,
            ..Default::default()
        };
        s.annotations.insert(pod::ANN_RESTART_COUNT.into(), restart.to_string());
        s
    }

    fn spec(v: serde_json::Value) -> k8s_openapi::api::core::v1::PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn phases_follow_restart_policy() {
        let running = container_status(
            "a",
            "i",
            &ContainerView { attempts: vec![cs(api::ContainerState::ContainerRunning, 0, 0)], ..Default::default() },
        );
        let ok = container_status(
            "a",
            "i",
            &ContainerView { attempts: vec![cs(api::ContainerState::ContainerExited, 0, 0)], ..Default::default() },
        );
        let failed = container_status(
            "a",
            "i",
            &ContainerView { attempts: vec![cs(api::ContainerState::ContainerExited, 1, 0)], ..Default::default() },
        );
        let creating = container_status("a", "i", &ContainerView::default());
        let always = spec(json!({"containers": [{"name": "a"}]}));
        let never = spec(json!({"restartPolicy": "Never", "containers": [{"name": "a"}]}));
        assert_eq!(phase(&always, &[], std::slice::from_ref(&running)), "Running");
        assert_eq!(phase(&always, &[], &[creating]), "Pending");
        assert_eq!(phase(&always, &[], std::slice::from_ref(&failed)), "Running");
        assert_eq!(phase(&never, &[], &[failed]), "Failed");
        assert_eq!(phase(&never, &[], &[ok]), "Succeeded");
        let init = spec(json!({"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}));
        assert_eq!(phase(&init, &[running], &[]), "Pending");
    }

    #[test]
    fn a_crash_looping_container_waits_with_its_last_termination() {
        let v = ContainerView {
            attempts: vec![
                cs(api::ContainerState::ContainerExited, 2, 3),
                cs(api::ContainerState::ContainerExited, 2, 2),
            ],
            waiting: Some(Waiting { reason: "CrashLoopBackOff".into(), message: "back-off 40s".into() }),
            ready: false,
            started: false,
        };
        let s = container_status("a", "busybox", &v);
        assert_eq!(s.restart_count, 3);
        assert_eq!(s.state.unwrap().waiting.unwrap().reason.as_deref(), Some("CrashLoopBackOff"));
        let last = s.last_state.unwrap().terminated.unwrap();
        assert_eq!(last.exit_code, 2);
        assert_eq!(last.reason.as_deref(), Some("Error"));
        assert_eq!(last.container_id.as_deref(), Some("containerd://c3"));
    }

    #[test]
    fn conditions_name_the_unready_containers() {
        let p: Pod = serde_json::from_value(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "b"}, {"name": "a"}]},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}),
        )
        .unwrap();
        let running = ContainerView {
            attempts: vec![cs(api::ContainerState::ContainerRunning, 0, 0)],
            waiting: None,
            ready: true,
            started: true,
        };
        let facts = PodFacts {
            sandbox_ready: true,
            pod_ips: &["10.0.0.2".into()],
            host_ips: &["172.18.0.2".into()],
            start_time: None,
        };
        let now = Time(Timestamp::from_second(5).unwrap());
        let st = pod_status(&p, &[], &[running, ContainerView::default()], &facts, &now);
        assert_eq!(st.phase.as_deref(), Some("Pending"));
        let names: Vec<_> = st.container_statuses.as_ref().unwrap().iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, ["a", "b"]);
        let conds = st.conditions.unwrap();
        let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.message.as_deref(), Some("containers with unready status: [a]"));
        assert!(conds.iter().any(|c| c.type_ == "PodScheduled"));
        assert_eq!(st.pod_ip.as_deref(), Some("10.0.0.2"));
        assert_eq!(st.qos_class.as_deref(), Some("BestEffort"));
    }
}
