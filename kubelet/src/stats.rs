//! Resource usage the eviction manager and the garbage collectors decide on: the node's
//! memory, filesystems and PIDs, and each pod's disk (writable layers, logs, local volumes)
//! and memory, measured as upstream's summary API measures them.

use crate::cri::{api, Cri};
use crate::pod;
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A filesystem's size and free space, in bytes and inodes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FsStats {
    pub capacity: i64,
    pub available: i64,
    pub inodes: i64,
    pub inodes_free: i64,
}

/// `statvfs` of the filesystem holding `path`.
pub fn fs(path: &Path) -> Option<FsStats> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(FsStats {
        capacity: (st.f_blocks * st.f_frsize) as i64,
        available: (st.f_bavail * st.f_frsize) as i64,
        inodes: st.f_files as i64,
        inodes_free: st.f_ffree as i64,
    })
}

/// The device of the filesystem holding `path`.
pub fn device(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.dev())
}

/// Disk usage of a tree, as `du` counts it: allocated blocks and inodes, on one filesystem.
pub fn disk_usage(path: &Path) -> (i64, i64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return (0, 0) };
    let dev = meta.dev();
    let (mut bytes, mut inodes) = ((meta.blocks() * 512) as i64, 1i64);
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != dev {
                continue;
            }
            bytes += (m.blocks() * 512) as i64;
            inodes += 1;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (bytes, inodes)
}

/// The node's memory: capacity, and what is available as upstream computes it (capacity less
/// the working set, which is usage less inactive file pages).
pub fn memory() -> (i64, i64) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = crate::machine::mem_total(&meminfo);
    let free = crate::machine::meminfo_field(&meminfo, "MemFree");
    let inactive_file = crate::machine::meminfo_field(&meminfo, "Inactive(file)");
    let working_set = (total - free - inactive_file).max(0);
    (total, total - working_set)
}

/// A cgroup's memory working set (usage less inactive file pages), on cgroup v2 or v1.
pub fn cgroup_working_set(path: &str) -> Option<i64> {
    let path = path.trim_start_matches('/');
    let stat_field = |text: &str, key: &str| {
        text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<i64>().ok())
    };
    let read = |p: String| std::fs::read_to_string(p).ok();
    let v2 = format!("/sys/fs/cgroup/{path}");
    if let Some(usage) = read(format!("{v2}/memory.current")).and_then(|s| s.trim().parse::<i64>().ok()) {
        let inactive = read(format!("{v2}/memory.stat")).and_then(|t| stat_field(&t, "inactive_file")).unwrap_or(0);
        return Some((usage - inactive).max(0));
    }
    let v1 = format!("/sys/fs/cgroup/memory/{path}");
    let usage = read(format!("{v1}/memory.usage_in_bytes"))?.trim().parse::<i64>().ok()?;
    let inactive = read(format!("{v1}/memory.stat")).and_then(|t| stat_field(&t, "total_inactive_file")).unwrap_or(0);
    Some((usage - inactive).max(0))
}

/// The PID limit (the smaller of `pid_max` and `threads-max`) and the processes running.
pub fn pids() -> (i64, i64) {
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<i64>().ok());
    let max = match (read("/proc/sys/kernel/pid_max"), read("/proc/sys/kernel/threads-max")) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(0),
    };
    let running = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().nth(3)?.split_once('/')?.1.parse::<i64>().ok())
        .unwrap_or(0);
    (max, running)
}

/// The machine's CPU time, in core-nanoseconds (`/proc/stat`'s busy ticks), and when it
/// booted (seconds since the epoch).
pub fn node_cpu() -> (u64, i64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut busy = 0u64;
    let mut boot = 0i64;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("cpu ") {
            // user nice system idle iowait irq softirq steal: all but idle and iowait.
            let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            busy = [0usize, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum();
        } else if let Some(b) = l.strip_prefix("btime ") {
            boot = b.trim().parse().unwrap_or(0);
        }
    }
    // USER_HZ is 100 on Linux.
    (busy * 10_000_000, boot)
}

/// The machine's memory as upstream's summary reports the root cgroup: usage, working set,
/// RSS (anonymous pages) and page faults.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeMemory {
    pub capacity: u64,
    pub usage: u64,
    pub working_set: u64,
    pub rss: u64,
    pub page_faults: u64,
    pub major_page_faults: u64,
}

pub fn node_memory() -> NodeMemory {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |k: &str| crate::machine::meminfo_field(&meminfo, k).max(0) as u64;
    let total = crate::machine::mem_total(&meminfo).max(0) as u64;
    let usage = total.saturating_sub(field("MemFree"));
    let vmstat = std::fs::read_to_string("/proc/vmstat").unwrap_or_default();
    let vm = |k: &str| {
        vmstat.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(' ')?.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    NodeMemory {
        capacity: total,
        usage,
        working_set: usage.saturating_sub(field("Inactive(file)")),
        rss: field("AnonPages"),
        page_faults: vm("pgfault"),
        major_page_faults: vm("pgmajfault"),
    }
}

/// One interface's counters from `/proc/<pid>/net/dev` (`self` for the kubelet's own
/// namespace): name, rx bytes, rx errors, tx bytes, tx errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_errors: u64,
    pub tx_bytes: u64,
    pub tx_errors: u64,
}

/// The interfaces of the network namespace `pid` is in, loopback left out.
pub fn interfaces(pid: &str) -> Vec<Interface> {
    parse_net_dev(&std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default())
}

fn parse_net_dev(text: &str) -> Vec<Interface> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (v.len() >= 11 && name.trim() != "lo").then(|| Interface {
                name: name.trim().to_string(),
                rx_bytes: v[0],
                rx_errors: v[2],
                tx_bytes: v[8],
                tx_errors: v[10],
            })
        })
        .collect()
}

/// A cgroup's CPU time in nanoseconds (v2 `cpu.stat`, v1 `cpuacct.usage`).
pub fn cgroup_cpu(path: &str) -> Option<u64> {
    let path = path.trim_start_matches('/');
    if let Ok(t) = std::fs::read_to_string(format!("/sys/fs/cgroup/{path}/cpu.stat")) {
        let usec = t.lines().find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())?;
        return Some(usec * 1000);
    }
    std::fs::read_to_string(format!("/sys/fs/cgroup/cpuacct/{path}/cpuacct.usage")).ok()?.trim().parse().ok()
}

/// The processes in a cgroup and below it (`pids.current`), and one of them, whose
/// `/proc/<pid>/net/dev` shows the cgroup's network namespace.
pub fn cgroup_processes(path: &str) -> (Option<u64>, Option<String>) {
    let path = path.trim_start_matches('/');
    let read = |p: String| std::fs::read_to_string(p).ok();
    let count = read(format!("/sys/fs/cgroup/{path}/pids.current"))
        .or_else(|| read(format!("/sys/fs/cgroup/pids/{path}/pids.current")))
        .and_then(|s| s.trim().parse().ok());
    // A process of the pod: the first found in the pod's cgroup tree (v2, else v1 memory).
    let mut stack = vec![
        std::path::PathBuf::from(format!("/sys/fs/cgroup/{path}")),
        std::path::PathBuf::from(format!("/sys/fs/cgroup/memory/{path}")),
    ];
    let mut pid = None;
    while let Some(dir) = stack.pop() {
        if let Some(first) =
            read(dir.join("cgroup.procs").display().to_string()).and_then(|t| t.lines().next().map(str::to_string))
        {
            pid = Some(first);
            break;
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            stack.extend(rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
        }
    }
    (count, pid)
}

/// One container's usage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerUsage {
    pub name: String,
    /// The writable layer, in bytes and inodes.
    pub rootfs: (i64, i64),
    /// Its log files.
    pub logs: (i64, i64),
    pub memory_working_set: i64,
}

/// One pod's usage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodUsage {
    pub containers: Vec<ContainerUsage>,
    /// Local ephemeral volumes (emptyDir on disk, configMap, downwardAPI) by volume name.
    pub volumes: HashMap<String, (i64, i64)>,
    /// Every emptyDir by name, medium Memory included (for `sizeLimit`).
    pub empty_dirs: HashMap<String, i64>,
    /// The pod's own files besides volumes (`/etc/hosts`).
    pub etc_hosts: (i64, i64),
}

impl PodUsage {
    /// Containers' rootfs and logs, local volumes and `/etc/hosts`: the pod's ephemeral storage.
    pub fn ephemeral_storage(&self) -> i64 {
        self.containers.iter().map(|c| c.rootfs.0 + c.logs.0).sum::<i64>()
            + self.volumes.values().map(|v| v.0).sum::<i64>()
            + self.etc_hosts.0
    }

    pub fn memory(&self) -> i64 {
        self.containers.iter().map(|c| c.memory_working_set).sum()
    }
}

/// Volumes that live on the node's disk and count as the pod's ephemeral storage.
fn is_local_ephemeral(v: &k8s_openapi::api::core::v1::Volume) -> bool {
    v.empty_dir.as_ref().is_some_and(|e| e.medium.as_deref() != Some("Memory"))
        || v.config_map.is_some()
        || v.downward_api.is_some()
}

/// The usage of each of `pods`, by UID, from the runtime's container stats and the pods'
/// directories.
pub async fn pods(
    cri: &Cri,
    root_dir: &Path,
    logs_dir: &Path,
    pods: &[std::sync::Arc<Pod>],
) -> Result<HashMap<String, PodUsage>, tonic::Status> {
    let stats = cri.list_container_stats().await?;
    let mut by_pod: HashMap<String, Vec<&api::ContainerStats>> = HashMap::new();
    for s in &stats {
        let Some(attr) = s.attributes.as_ref() else { continue };
        if let Some(uid) = attr.labels.get(pod::LABEL_POD_UID) {
            by_pod.entry(uid.clone()).or_default().push(s);
        }
    }
    let mut out = HashMap::new();
    for p in pods {
        let uid = pod::uid(p).to_string();
        let pod_logs = logs_dir.join(format!("{}_{}_{}", pod::namespace(p), pod::name(p), uid));
        let mut usage = PodUsage::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for s in by_pod.get(&uid).into_iter().flatten() {
            let name =
                s.attributes.as_ref().and_then(|a| a.metadata.as_ref()).map(|m| m.name.clone()).unwrap_or_default();
            let rootfs = s
                .writable_layer
                .as_ref()
                .map(|w| {
                    (
                        w.used_bytes.as_ref().map_or(0, |v| v.value as i64),
                        w.inodes_used.as_ref().map_or(0, |v| v.value as i64),
                    )
                })
                .unwrap_or_default();
            let mem = s.memory.as_ref().and_then(|m| m.working_set_bytes.as_ref()).map_or(0, |v| v.value as i64);
            // Several instances of one container (restarts): their layers add up; memory is
            // only the running one's.
            match seen.get(&name) {
                Some(&i) => {
                    let c = &mut usage.containers[i];
                    c.rootfs = (c.rootfs.0 + rootfs.0, c.rootfs.1 + rootfs.1);
                    c.memory_working_set = c.memory_working_set.max(mem);
                }
                None => {
                    seen.insert(name.clone(), usage.containers.len());
                    let logs = disk_usage(&pod_logs.join(&name));
                    usage.containers.push(ContainerUsage { name, rootfs, logs, memory_working_set: mem });
                }
            }
        }
        let vol_dir = root_dir.join("pods").join(&uid).join("volumes");
        for v in p.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
            let Some(plugin) = crate::volumes::plugin_dir(v) else { continue };
            let dir = vol_dir.join(plugin).join(&v.name);
            if v.empty_dir.is_some() {
                let used = disk_usage(&dir);
                usage.empty_dirs.insert(v.name.clone(), used.0);
                if is_local_ephemeral(v) {
                    usage.volumes.insert(v.name.clone(), used);
                }
            } else if is_local_ephemeral(v) {
                usage.volumes.insert(v.name.clone(), disk_usage(&dir));
            }
        }
        usage.etc_hosts = disk_usage(&root_dir.join("pods").join(&uid).join("etc-hosts"));
        out.insert(uid, usage);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_blocks_and_inodes() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/f"), vec![1u8; 100_000]).unwrap();
        let (bytes, inodes) = disk_usage(d.path());
        assert!(bytes >= 100_000, "{bytes}");
        assert_eq!(inodes, 3);
        assert_eq!(disk_usage(&d.path().join("missing")), (0, 0));
    }

    #[test]
    fn net_dev_is_parsed() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n  eth0: 5000 40 3 0 0 0 0 0 7000 50 4 0 0 0 0 0\n";
        assert_eq!(
            parse_net_dev(text),
            vec![Interface { name: "eth0".into(), rx_bytes: 5000, rx_errors: 3, tx_bytes: 7000, tx_errors: 4 }]
        );
    }

    #[test]
    fn the_node_is_measured() {
        let (cpu, boot) = node_cpu();
        assert!(cpu > 0 && boot > 1_500_000_000, "{cpu} {boot}");
        let m = node_memory();
        assert!(m.capacity >= m.usage && m.usage >= m.working_set && m.page_faults > 0, "{m:?}");
        let (cap, avail) = memory();
        assert!(cap > 0 && avail > 0 && avail <= cap, "{cap} {avail}");
        let (max, running) = pids();
        assert!(max > running && running > 0, "{max} {running}");
        let f = fs(Path::new("/")).unwrap();
        assert!(f.capacity >= f.available && f.inodes >= f.inodes_free);
    }
}
