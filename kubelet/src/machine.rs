//! What the node is made of, read from the machine as cAdvisor reads it: CPUs, memory, the
//! filesystem under the kubelet's root directory, hugepages, and the identity files.

use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct MachineInfo {
    pub cpus: i64,
    pub memory_bytes: i64,
    /// Capacity of the filesystem holding the kubelet's root directory.
    pub fs_bytes: i64,
    /// (size name as in `hugepages-2Mi`, total bytes).
    pub hugepages: Vec<(String, i64)>,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn mem_total(meminfo: &str) -> i64 {
    meminfo_field(meminfo, "MemTotal")
}

/// A kB field of /proc/meminfo in bytes.
pub fn meminfo_field(meminfo: &str, field: &str) -> i64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<i64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Filesystem capacity and available bytes at `path`.
pub fn fs_stats(path: &Path) -> Option<(i64, i64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(((st.f_blocks * st.f_frsize) as i64, (st.f_bavail * st.f_frsize) as i64))
}

fn os_image() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn hugepages() -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/sys/kernel/mm/hugepages") else { return out };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(kb) =
            name.strip_prefix("hugepages-").and_then(|s| s.strip_suffix("kB")).and_then(|s| s.parse::<i64>().ok())
        else {
            continue;
        };
        let count: i64 = read_trim(&format!("/sys/kernel/mm/hugepages/{name}/nr_hugepages")).parse().unwrap_or(0);
        let size = crate::quantity::binary_si(kb * 1024);
        out.push((format!("hugepages-{size}"), count * kb * 1024));
    }
    out.sort();
    out
}

impl MachineInfo {
    pub fn read(root_dir: &Path) -> MachineInfo {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpus = cpuinfo.lines().filter(|l| l.starts_with("processor")).count().max(1) as i64;
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let uts = rustix::system::uname();
        MachineInfo {
            cpus,
            memory_bytes: mem_total(&meminfo),
            fs_bytes: fs_stats(root_dir).map(|s| s.0).unwrap_or(0),
            hugepages: hugepages(),
            machine_id: read_trim("/etc/machine-id"),
            system_uuid: read_trim("/sys/class/dmi/id/product_uuid"),
            boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
            kernel_version: uts.release().to_string_lossy().to_string(),
            os_image: os_image(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_are_bytes() {
        let m = "MemTotal:       24731408 kB\nMemFree:        1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(mem_total(m), 24731408 * 1024);
        assert_eq!(meminfo_field(m, "MemAvailable"), 2048 * 1024);
        assert_eq!(meminfo_field(m, "Missing"), 0);
    }

    #[test]
    fn the_machine_is_read() {
        let m = MachineInfo::read(Path::new("/"));
        assert!(m.cpus >= 1);
        assert!(m.memory_bytes > 0);
        assert!(m.fs_bytes > 0);
        assert!(!m.kernel_version.is_empty());
    }
}
