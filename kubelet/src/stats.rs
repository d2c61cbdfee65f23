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
    fn the_node_is_measured() {
        let (cap, avail) = memory();
        assert!(cap > 0 && avail > 0 && avail <= cap, "{cap} {avail}");
        let (max, running) = pids();
        assert!(max > running && running > 0, "{max} {running}");
        let f = fs(Path::new("/")).unwrap();
        assert!(f.capacity >= f.available && f.inodes >= f.inodes_free);
    }
}
