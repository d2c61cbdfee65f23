//! `/stats/summary` (the stats/v1alpha1 Summary that metrics-server and `kubectl top` read)
//! and `/metrics/resource` (the same CPU and memory figures as Prometheus text). Containers
//! come from the runtime's stats (CRI), pods from their cgroups, the node from `/proc`.

use super::Server;
use crate::cri::api;
use crate::{pod, stats};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// The last CPU sample of each container, pod and the node: usageNanoCores is the rate
/// between two samples (upstream's CRI stats provider keeps the same cache).
#[derive(Default)]
pub(super) struct CpuRates(Mutex<HashMap<String, (i64, u64)>>);

impl CpuRates {
    /// The rate since the previous sample of `key` (none for the first).
    fn rate(&self, key: &str, now_ns: i64, usage: u64) -> Option<u64> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let prev = m.insert(key.to_string(), (now_ns, usage));
        let (t, u) = prev?;
        let dt = now_ns.checked_sub(t).filter(|d| *d > 0)?;
        Some(((usage.saturating_sub(u)) as u128 * 1_000_000_000 / dt as u128) as u64)
    }

    /// Forgets keys not seen in this round.
    fn retain(&self, seen: &std::collections::HashSet<String>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).retain(|k, _| seen.contains(k));
    }
}

fn rfc3339(ns: i64) -> String {
    jiff::Timestamp::from_second(ns.div_euclid(1_000_000_000))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

/// Inserts `v` under `k` when there is one (Go's omitempty pointers).
fn put(m: &mut Map<String, Value>, k: &str, v: Option<u64>) {
    if let Some(v) = v {
        m.insert(k.into(), json!(v));
    }
}

fn cpu_json(time: i64, usage: Option<u64>, nano_cores: Option<u64>) -> Value {
    let mut m = Map::new();
    m.insert("time".into(), json!(rfc3339(time)));
    put(&mut m, "usageNanoCores", nano_cores);
    put(&mut m, "usageCoreNanoSeconds", usage);
    Value::Object(m)
}

/// Memory as the summary shows it; `available` only under a limit.
#[derive(Default, Clone, Copy)]
struct Mem {
    available: Option<u64>,
    usage: Option<u64>,
    working_set: Option<u64>,
    rss: Option<u64>,
    page_faults: Option<u64>,
    major_page_faults: Option<u64>,
}

fn mem_json(time: i64, m: Mem) -> Value {
    let mut o = Map::new();
    o.insert("time".into(), json!(rfc3339(time)));
    put(&mut o, "availableBytes", m.available);
    put(&mut o, "usageBytes", m.usage);
    put(&mut o, "workingSetBytes", m.working_set);
    put(&mut o, "rssBytes", m.rss);
    put(&mut o, "pageFaults", m.page_faults);
    put(&mut o, "majorPageFaults", m.major_page_faults);
    Value::Object(o)
}

fn fs_json(time: i64, fs: Option<stats::FsStats>, used: Option<(i64, i64)>) -> Value {
    let mut o = Map::new();
    o.insert("time".into(), json!(rfc3339(time)));
    let nn = |v: i64| Some(v.max(0) as u64);
    if let Some(f) = fs {
        put(&mut o, "availableBytes", nn(f.available));
        put(&mut o, "capacityBytes", nn(f.capacity));
    }
    if let Some((bytes, _)) = used {
        put(&mut o, "usedBytes", nn(bytes));
    }
    if let Some(f) = fs {
        put(&mut o, "inodesFree", nn(f.inodes_free));
        put(&mut o, "inodes", nn(f.inodes));
    }
    if let Some((_, inodes)) = used {
        put(&mut o, "inodesUsed", nn(inodes));
    }
    Value::Object(o)
}

fn network_json(time: i64, ifaces: &[stats::Interface]) -> Option<Value> {
    let default = ifaces.iter().find(|i| i.name == "eth0").or(ifaces.first())?;
    let one = |i: &stats::Interface| json!({"name": i.name, "rxBytes": i.rx_bytes, "rxErrors": i.rx_errors, "txBytes": i.tx_bytes, "txErrors": i.tx_errors});
    let mut o = one(default);
    o["time"] = json!(rfc3339(time));
    o["interfaces"] = Value::Array(ifaces.iter().map(one).collect());
    Some(o)
}

fn uval(v: &Option<api::UInt64Value>) -> Option<u64> {
    v.as_ref().map(|v| v.value)
}

/// One running container's figures.
struct Ctr {
    name: String,
    started: i64,
    cpu_time: i64,
    cpu: Option<u64>,
    nano_cores: Option<u64>,
    mem_time: i64,
    mem: Mem,
    rootfs: Option<(i64, i64)>,
}

impl Server {
    /// The Summary; with `only_cpu_and_memory`, just CPU and memory.
    pub(super) async fn summary(&self, only_cpu_and_memory: bool) -> Result<Value, String> {
        let now = now_ns();
        let mut seen = std::collections::HashSet::new();
        let containers = self.cri.list_containers().await.map_err(|e| e.message().to_string())?;
        let running: HashMap<&str, &api::Container> = containers
            .iter()
            .filter(|c| c.state == api::ContainerState::ContainerRunning as i32)
            .map(|c| (c.id.as_str(), c))
            .collect();
        let cstats = self.cri.list_container_stats().await.map_err(|e| e.message().to_string())?;
        let mut by_pod: HashMap<String, Vec<Ctr>> = HashMap::new();
        for s in &cstats {
            let Some(attr) = &s.attributes else { continue };
            let Some(c) = running.get(attr.id.as_str()) else { continue };
            let Some(uid) = c.labels.get(pod::LABEL_POD_UID) else { continue };
            let cpu = s.cpu.as_ref();
            let usage = cpu.and_then(|c| uval(&c.usage_core_nano_seconds));
            let cpu_time = cpu.map(|c| c.timestamp).filter(|t| *t > 0).unwrap_or(now);
            seen.insert(attr.id.clone());
            let rate = usage.and_then(|u| self.cpu_rates.rate(&attr.id, cpu_time, u));
            // containerd 1.6 reports 0 until it has its own second sample: ours then.
            let reported = cpu.and_then(|c| uval(&c.usage_nano_cores));
            let nano_cores = reported.filter(|v| *v > 0).or(rate).or(reported);
            let m = s.memory.as_ref();
            let mem = Mem {
                available: m.and_then(|m| uval(&m.available_bytes)).filter(|v| *v > 0),
                usage: m.and_then(|m| uval(&m.usage_bytes)),
                working_set: m.and_then(|m| uval(&m.working_set_bytes)),
                rss: m.and_then(|m| uval(&m.rss_bytes)),
                page_faults: m.and_then(|m| uval(&m.page_faults)),
                major_page_faults: m.and_then(|m| uval(&m.major_page_faults)),
            };
            let rootfs = s
                .writable_layer
                .as_ref()
                .map(|w| (uval(&w.used_bytes).unwrap_or(0) as i64, uval(&w.inodes_used).unwrap_or(0) as i64));
            by_pod.entry(uid.clone()).or_default().push(Ctr {
                name: attr.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default(),
                started: c.created_at,
                cpu_time,
                cpu: usage,
                nano_cores,
                mem_time: m.map(|m| m.timestamp).filter(|t| *t > 0).unwrap_or(now),
                mem,
                rootfs,
            });
        }
        let root_fs = stats::fs(&self.cfg.root_dir);
        let image_fs = match self.cri.image_fs_info().await {
            Ok(v) => v.into_iter().next(),
            Err(_) => None,
        };
        let image_fs_stats = image_fs
            .as_ref()
            .and_then(|f| f.fs_id.as_ref())
            .and_then(|id| stats::fs(std::path::Path::new(&id.mountpoint)));
        let pods = self.pods.pods();
        let usage = if only_cpu_and_memory {
            HashMap::new()
        } else {
            stats::pods(&self.cri, &self.cfg.root_dir, &self.cfg.pod_logs_dir, &pods).await.unwrap_or_default()
        };
        let mut pod_list = Vec::new();
        for p in &pods {
            let uid = pod::uid(p).to_string();
            let ctrs = by_pod.remove(&uid).unwrap_or_default();
            let cg = pod::cgroup_parent(&self.cfg, p);
            let cpu = stats::cgroup_cpu(&cg).or_else(|| ctrs.iter().map(|c| c.cpu).sum());
            let key = format!("pod/{uid}");
            seen.insert(key.clone());
            let nano = cpu.and_then(|u| self.cpu_rates.rate(&key, now, u));
            let ws = stats::cgroup_working_set(&cg)
                .map(|v| v as u64)
                .or_else(|| ctrs.iter().map(|c| c.mem.working_set).sum());
            let pod_mem = Mem {
                working_set: ws,
                usage: ctrs.iter().map(|c| c.mem.usage).sum(),
                rss: ctrs.iter().map(|c| c.mem.rss).sum(),
                page_faults: ctrs.iter().map(|c| c.mem.page_faults).sum(),
                major_page_faults: ctrs.iter().map(|c| c.mem.major_page_faults).sum(),
                ..Default::default()
            };
            let pu = usage.get(&uid);
            let containers: Vec<Value> = ctrs
                .iter()
                .map(|c| {
                    let mut o = json!({
                        "name": c.name,
                        "startTime": rfc3339(c.started),
                        "cpu": cpu_json(c.cpu_time, c.cpu, c.nano_cores),
                        "memory": mem_json(c.mem_time, c.mem),
                    });
                    if !only_cpu_and_memory {
                        o["rootfs"] = fs_json(now, image_fs_stats, c.rootfs);
                        let logs = pu.and_then(|u| u.containers.iter().find(|x| x.name == c.name)).map(|x| x.logs);
                        o["logs"] = fs_json(now, root_fs, logs);
                    }
                    o
                })
                .collect();
            let start = p.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.to_string());
            let mut o = json!({
                "podRef": {"name": pod::name(p), "namespace": pod::namespace(p), "uid": uid},
                "startTime": start.unwrap_or_else(|| rfc3339(now)),
                "containers": containers,
                "cpu": cpu_json(now, cpu, nano),
                "memory": mem_json(now, pod_mem),
            });
            if !only_cpu_and_memory {
                let (procs, pid) = stats::cgroup_processes(&cg);
                if let Some(net) = pid.and_then(|pid| network_json(now, &stats::interfaces(&pid))) {
                    o["network"] = net;
                }
                if let Some(u) = pu {
                    let mut vols: Vec<(&String, &(i64, i64))> = u.volumes.iter().collect();
                    vols.sort();
                    o["volume"] = Value::Array(
                        vols.into_iter()
                            .map(|(name, used)| {
                                let mut v = fs_json(now, root_fs, Some(*used));
                                v["name"] = json!(name);
                                v
                            })
                            .collect(),
                    );
                    let eph = u.ephemeral_storage();
                    o["ephemeral-storage"] = fs_json(now, root_fs, Some((eph, 0)));
                    if let Some(inodes) = o["ephemeral-storage"].as_object_mut() {
                        inodes.remove("inodesUsed");
                    }
                }
                if let Some(n) = procs {
                    o["process_stats"] = json!({"process_count": n});
                }
            }
            pod_list.push(o);
        }
        // The node.
        let (node_cpu, boot) = stats::node_cpu();
        seen.insert("node".into());
        let node_nano = self.cpu_rates.rate("node", now, node_cpu);
        let nm = stats::node_memory();
        let node_mem = Mem {
            available: Some(nm.capacity.saturating_sub(nm.working_set)),
            usage: Some(nm.usage),
            working_set: Some(nm.working_set),
            rss: Some(nm.rss),
            page_faults: Some(nm.page_faults),
            major_page_faults: Some(nm.major_page_faults),
        };
        let pods_cg = format!("{}/kubepods", self.cfg.cgroup_root.trim_end_matches('/'));
        let pods_cpu = stats::cgroup_cpu(&pods_cg);
        seen.insert("pods".into());
        let pods_nano = pods_cpu.and_then(|u| self.cpu_rates.rate("pods", now, u));
        let pods_mem = Mem { working_set: stats::cgroup_working_set(&pods_cg).map(|v| v as u64), ..Default::default() };
        self.cpu_rates.retain(&seen);
        let mut node = json!({
            "nodeName": self.cfg.node_name,
            "systemContainers": [{
                "name": "pods",
                "startTime": rfc3339(boot * 1_000_000_000),
                "cpu": cpu_json(now, pods_cpu, pods_nano),
                "memory": mem_json(now, pods_mem),
            }],
            "startTime": rfc3339(boot * 1_000_000_000),
            "cpu": cpu_json(now, Some(node_cpu), node_nano),
            "memory": mem_json(now, node_mem),
        });
        if !only_cpu_and_memory {
            if let Some(net) = network_json(now, &stats::interfaces("self")) {
                node["network"] = net;
            }
            let used = root_fs.map(|f| (f.capacity - f.available, f.inodes - f.inodes_free));
            node["fs"] = fs_json(now, root_fs, used);
            if let Some(f) = &image_fs {
                let used = (uval(&f.used_bytes).unwrap_or(0) as i64, uval(&f.inodes_used).unwrap_or(0) as i64);
                let img = fs_json(now, image_fs_stats, Some(used));
                node["runtime"] = json!({"imageFs": img, "containerFs": img});
            }
            let (max, cur) = stats::pids();
            node["rlimit"] = json!({"time": rfc3339(now), "maxpid": max, "curproc": cur});
        }
        Ok(json!({"node": node, "pods": pod_list}))
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, as Prometheus' text format writes values.
pub(super) fn go_float(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Shortest form: the exponent notation below 1e-4 and from 1e6 (strconv's eprec 6).
    if !(-4..6).contains(&exp) {
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{v}")
}

/// `/metrics/resource` from a summary (CPU and memory only).
pub(super) fn resource_metrics(summary: Option<&Value>) -> String {
    let ms = |t: &Value| {
        t.as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| format!(" {}", t.as_millisecond()))
            .unwrap_or_default()
    };
    let mut families: Vec<(&str, &str, &str, Vec<String>)> = vec![
        (
            "container_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed by the container in core-seconds",
            vec![],
        ),
        ("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes", vec![]),
        ("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds", vec![]),
        ("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds", vec![]),
        ("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes", vec![]),
        ("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the pod in core-seconds", vec![]),
        ("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes", vec![]),
        (
            "resource_scrape_error",
            "gauge",
            "1 if there was an error while getting container metrics, 0 otherwise",
            vec![],
        ),
    ];
    let mut add = |name: &str, line: String| {
        if let Some(f) = families.iter_mut().find(|f| f.0 == name) {
            f.3.push(line);
        }
    };
    // The CPU and memory samples of one summary entry (node, pod or container) under `scope`.
    let mut usage = |scope: &str, labels: &str, e: &Value| {
        let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        if let Some(u) = e["cpu"]["usageCoreNanoSeconds"].as_u64() {
            let name = format!("{scope}_cpu_usage_seconds_total");
            let line = format!("{name}{labels} {}{}", go_float(u as f64 / 1e9), ms(&e["cpu"]["time"]));
            add(&name, line);
        }
        if let Some(w) = e["memory"]["workingSetBytes"].as_u64() {
            let name = format!("{scope}_memory_working_set_bytes");
            let line = format!("{name}{labels} {}{}", go_float(w as f64), ms(&e["memory"]["time"]));
            add(&name, line);
        }
        if scope == "container" {
            if let Some(t) = e["startTime"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
                if t.as_second() > 0 {
                    let line = format!("container_start_time_seconds{labels} {}", go_float(t.as_second() as f64));
                    add("container_start_time_seconds", line);
                }
            }
        }
    };
    if let Some(s) = summary {
        usage("node", "", &s["node"]);
        for p in s["pods"].as_array().into_iter().flatten() {
            let (name, ns) =
                (p["podRef"]["name"].as_str().unwrap_or(""), p["podRef"]["namespace"].as_str().unwrap_or(""));
            let plabels = format!("namespace=\"{ns}\",pod=\"{name}\"");
            usage("pod", &plabels, p);
            for c in p["containers"].as_array().into_iter().flatten() {
                let cname = c["name"].as_str().unwrap_or("");
                usage("container", &format!("container=\"{cname}\",{plabels}"), c);
            }
        }
    }
    add("resource_scrape_error", format!("resource_scrape_error {}", u8::from(summary.is_none())));
    let mut out = String::new();
    for (name, kind, help, mut lines) in families {
        if lines.is_empty() {
            continue;
        }
        lines.sort();
        out.push_str(&format!("# HELP {name} [STABLE] {help}\n# TYPE {name} {kind}\n"));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_go_writes_them() {
        assert_eq!(go_float(17391616.0), "1.7391616e+07");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn cpu_rates_need_two_samples() {
        let r = CpuRates::default();
        assert_eq!(r.rate("c", 1_000_000_000, 5_000_000_000), None);
        assert_eq!(r.rate("c", 3_000_000_000, 6_000_000_000), Some(500_000_000));
    }

    #[test]
    fn resource_metrics_are_sorted_families_with_timestamps() {
        let s = json!({"node": {"cpu": {"time": "2024-01-02T03:04:05Z", "usageCoreNanoSeconds": 2_500_000_000u64},
                                "memory": {"time": "2024-01-02T03:04:05Z", "workingSetBytes": 17391616}},
                       "pods": [{"podRef": {"name": "p", "namespace": "d"},
                                 "cpu": {"time": "2024-01-02T03:04:05Z", "usageCoreNanoSeconds": 1_000_000u64},
                                 "memory": {"time": "2024-01-02T03:04:05Z", "workingSetBytes": 1000},
                                 "containers": [{"name": "c", "startTime": "2024-01-02T03:00:00Z",
                                                 "cpu": {"time": "2024-01-02T03:04:05Z", "usageCoreNanoSeconds": 1_000_000u64},
                                                 "memory": {"time": "2024-01-02T03:04:05Z", "workingSetBytes": 1000}}]}]});
        let text = resource_metrics(Some(&s));
        assert!(text.starts_with("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\ncontainer_cpu_usage_seconds_total{container=\"c\",namespace=\"d\",pod=\"p\"} 0.001 1704164645000\n"), "{text}");
        assert!(text.contains("\nnode_memory_working_set_bytes 1.7391616e+07 1704164645000\n"), "{text}");
        assert!(
            text.contains("\ncontainer_start_time_seconds{container=\"c\",namespace=\"d\",pod=\"p\"} 1.7041644e+09\n"),
            "{text}"
        );
        assert!(text.ends_with("# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n"), "{text}");
        assert!(resource_metrics(None).contains("resource_scrape_error 1\n"));
    }
}
