//! Container log rotation, as upstream's container log manager: every
//! `containerLogMonitorInterval` each running container's log over `containerLogMaxSize` is
//! renamed to `<n>.log.<timestamp>` and the runtime told to reopen it; the previous rotated
//! file is gzipped, and only `containerLogMaxFiles` files (the live one included) are kept.

use crate::cri::{api, Cri};
use std::io::Write;
use std::path::{Path, PathBuf};

const COMPRESS_SUFFIX: &str = ".gz";
const TMP_SUFFIX: &str = ".tmp";
/// Upstream's `timestampFormat` (Go's `20060102-150405`).
const TIMESTAMP_FORMAT: &str = "%Y%m%d-%H%M%S";

/// The rotated files of `log`, oldest first (their names sort by timestamp).
fn rotated(log: &Path) -> Vec<PathBuf> {
    let Some(dir) = log.parent() else { return Vec::new() };
    let prefix = format!("{}.", log.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .collect();
    out.sort();
    out
}

/// Leftovers of interrupted rotations: temporary files, and uncompressed copies whose
/// compressed version exists.
fn clean_unused(log: &Path) {
    for p in rotated(log) {
        let name = p.to_string_lossy().to_string();
        if name.ends_with(TMP_SUFFIX) || Path::new(&format!("{name}{COMPRESS_SUFFIX}")).exists() {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Keeps the newest `max_files - 2` rotated files: with the live log and the one about to be
/// rotated that makes `max_files`.
fn remove_excess(log: &Path, max_files: usize) {
    let files = rotated(log);
    let keep = max_files.saturating_sub(2);
    if files.len() > keep {
        for p in &files[..files.len() - keep] {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn compress(path: &Path) -> std::io::Result<()> {
    let gz = PathBuf::from(format!("{}{COMPRESS_SUFFIX}", path.display()));
    let tmp = PathBuf::from(format!("{}{TMP_SUFFIX}", gz.display()));
    {
        let mut input = std::fs::File::open(path)?;
        let out = std::fs::File::create(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        std::io::copy(&mut input, &mut enc)?;
        enc.finish()?.flush()?;
    }
    std::fs::rename(&tmp, &gz)?;
    std::fs::remove_file(path)
}

/// Rotates one container's log when it has grown past `max_size`.
pub async fn rotate_if_needed(
    cri: &Cri,
    id: &str,
    log: &Path,
    max_size: i64,
    max_files: usize,
) -> Result<bool, String> {
    let size = match std::fs::metadata(log) {
        Ok(m) => m.len() as i64,
        Err(_) => return Ok(false),
    };
    if size <= max_size {
        return Ok(false);
    }
    clean_unused(log);
    remove_excess(log, max_files);
    // The newest rotated file is compressed now that another one follows it.
    if let Some(last) = rotated(log).last() {
        if !last.to_string_lossy().ends_with(COMPRESS_SUFFIX) {
            compress(last).map_err(|e| format!("failed to compress log {}: {e}", last.display()))?;
        }
    }
    let stamp = jiff::Zoned::now().strftime(TIMESTAMP_FORMAT).to_string();
    let target = PathBuf::from(format!("{}.{stamp}", log.display()));
    std::fs::rename(log, &target).map_err(|e| format!("failed to rotate log {}: {e}", log.display()))?;
    if let Err(e) = cri.reopen_container_log(id).await {
        // Put it back: the runtime still writes to the renamed file.
        let _ = std::fs::rename(&target, log);
        return Err(format!("failed to reopen container log {id:?}: {}", e.message()));
    }
    Ok(true)
}

/// `<podLogsDir>/<ns>_<pod>_<uid>/<container>/<attempt>.log`, from the container's labels.
fn log_path(logs_dir: &Path, c: &api::Container) -> Option<PathBuf> {
    use crate::pod::{LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID};
    let l = |k: &str| c.labels.get(k).cloned();
    let meta = c.metadata.as_ref()?;
    let dir = format!("{}_{}_{}", l(LABEL_POD_NAMESPACE)?, l(LABEL_POD_NAME)?, l(LABEL_POD_UID)?);
    Some(logs_dir.join(dir).join(&meta.name).join(format!("{}.log", meta.attempt)))
}

/// The rotation loop.
pub async fn run(cri: Cri, cfg: std::sync::Arc<crate::config::Config>) {
    let max_size = crate::quantity::value(&cfg.container_log_max_size).unwrap_or(10 << 20);
    let max_files = cfg.container_log_max_files as usize;
    loop {
        tokio::time::sleep(cfg.container_log_monitor_interval).await;
        let Ok(containers) = cri.list_containers().await else { continue };
        for c in containers.iter().filter(|c| c.state == api::ContainerState::ContainerRunning as i32) {
            // The kubelet chose the path when it created the container (see `pod.rs`): no
            // status call per container is needed to find it.
            let Some(log) = log_path(&cfg.pod_logs_dir, c) else { continue };
            if let Err(e) = rotate_if_needed(&cri, &c.id, &log, max_size, max_files).await {
                tracing::warn!(container = %c.id, "Failed to rotate log for container: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_rotations_are_removed_and_the_previous_one_compressed() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("0.log");
        for stamp in ["20261201-000001", "20261201-000002.gz", "20261201-000003"] {
            std::fs::write(d.path().join(format!("0.log.{stamp}")), "old\n").unwrap();
        }
        std::fs::write(d.path().join("0.log.20261201-000004.gz.tmp"), "x").unwrap();
        clean_unused(&log);
        remove_excess(&log, 3);
        let names: Vec<String> =
            rotated(&log).iter().map(|p| p.file_name().unwrap().to_string_lossy().to_string()).collect();
        assert_eq!(names, ["0.log.20261201-000003"]);
        compress(&d.path().join("0.log.20261201-000003")).unwrap();
        let gz = std::fs::read(d.path().join("0.log.20261201-000003.gz")).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
        assert_eq!(text, "old\n");
    }
}
