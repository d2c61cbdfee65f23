//! The `--audit-log-path` backend: one JSON `Event` per line (upstream's `json` format, the
//! default), with lumberjack-style rotation by size.
//!
//! Every [`LogBackend::write`] is one `write(2)` of a complete line on an unbuffered file, like
//! upstream's default `blocking` mode. Keeping no userspace buffer means an event that was
//! reported written survives an apiserver crash or abort and nothing needs flushing on shutdown;
//! the cost is one syscall per event (about a microsecond, small next to serving the request).
//! Encoding happens before the lock is taken, so concurrent requests only serialize on the write
//! itself. [`LogBackend::write_batch`] turns several events into one write for callers that
//! already hold a batch.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::event::Event;
use crate::request::Sink;
use crate::AuditError;

/// `--audit-log-path` value meaning standard output.
pub const STDOUT_PATH: &str = "-";
/// Upstream default of `--audit-log-maxsize`.
pub const DEFAULT_MAX_SIZE_MB: u64 = 100;
/// Upstream default of `--audit-log-maxage`.
pub const DEFAULT_MAX_AGE_DAYS: u64 = 366;
/// Upstream default of `--audit-log-maxbackup`.
pub const DEFAULT_MAX_BACKUPS: usize = 100;

/// lumberjack's backup timestamp layout (`2006-01-02T15-04-05.000`, UTC).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";
/// The resolution of backup names.
const ONE_MS: chrono::TimeDelta = chrono::TimeDelta::milliseconds(1);

/// Backend settings; sizes in bytes so tests need not write megabytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Log file, or [`STDOUT_PATH`].
    pub path: PathBuf,
    /// Rotate before a write would exceed this many bytes; 0 disables rotation.
    pub max_size_bytes: u64,
    /// Keep at most this many rotated files; 0 keeps all.
    pub max_backups: usize,
    /// Delete rotated files whose timestamp is older than this many days; 0 keeps all.
    pub max_age_days: u64,
}

/// Thread-safe JSON-lines audit log writer.
#[derive(Debug)]
pub struct LogBackend {
    path: PathBuf,
    out: Mutex<Output>,
}

#[derive(Debug)]
enum Output {
    Stdout,
    File(LogFile),
}

#[derive(Debug)]
struct LogFile {
    file: File,
    size: u64,
    opts: LogOptions,
    /// Timestamp of the last backup we made, so names stay increasing even within one
    /// millisecond (pruning relies on name order).
    last_backup: Option<DateTime<Utc>>,
}

impl LogBackend {
    /// Opens the log the way the flags describe it: `max_size_mb` is `--audit-log-maxsize`,
    /// `max_backups` `--audit-log-maxbackup`, `max_age_days` `--audit-log-maxage`; `-` is stdout.
    pub fn open(
        path: impl AsRef<Path>,
        max_size_mb: u64,
        max_backups: usize,
        max_age_days: u64,
    ) -> Result<LogBackend, AuditError> {
        LogBackend::with_options(LogOptions {
            path: path.as_ref().to_path_buf(),
            max_size_bytes: max_size_mb.saturating_mul(1024 * 1024),
            max_backups,
            max_age_days,
        })
    }

    /// Opens (creating the file `0600` and its directory `0700`, as upstream) and prunes old
    /// backups.
    pub fn with_options(opts: LogOptions) -> Result<LogBackend, AuditError> {
        let path = opts.path.clone();
        if path.as_os_str() == STDOUT_PATH {
            return Ok(LogBackend { path, out: Mutex::new(Output::Stdout) });
        }
        let io_err = |source| AuditError::Io { path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir(dir).map_err(io_err)?;
        }
        let file = open_file(&path).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        let log = LogFile { file, size, opts, last_backup: None };
        log.prune(Utc::now());
        Ok(LogBackend { path, out: Mutex::new(Output::File(log)) })
    }

    /// Where events go (`-` for stdout).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as one line.
    pub fn write(&self, event: &Event) -> Result<(), AuditError> {
        let mut line = Vec::with_capacity(1024);
        encode(event, &mut line)?;
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *out {
            Output::Stdout => write_stdout(&line).map_err(|source| self.io(source)),
            Output::File(f) => f.write_chunk(&line),
        }
    }

    /// Appends several events with as few writes as rotation allows.
    pub fn write_batch(&self, events: &[Event]) -> Result<(), AuditError> {
        let mut lines = Vec::with_capacity(events.len());
        for ev in events {
            let mut line = Vec::with_capacity(1024);
            encode(ev, &mut line)?;
            lines.push(line);
        }
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *out {
            Output::Stdout => write_stdout(&lines.concat()).map_err(|source| self.io(source)),
            Output::File(f) => {
                let mut pending: Vec<u8> = Vec::new();
                for line in lines {
                    let max = f.opts.max_size_bytes;
                    if max > 0 && f.size.saturating_add((pending.len() + line.len()) as u64) > max {
                        f.write_chunk(&pending)?;
                        pending.clear();
                    }
                    pending.extend_from_slice(&line);
                }
                f.write_chunk(&pending)
            }
        }
    }

    fn io(&self, source: io::Error) -> AuditError {
        AuditError::Io { path: self.path.clone(), source }
    }
}

impl Sink for LogBackend {
    fn process_event(&self, event: &Event) -> Result<(), AuditError> {
        self.write(event)
    }
}

fn encode(event: &Event, buf: &mut Vec<u8>) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *buf, event).map_err(|e| AuditError::Encode(e.to_string()))?;
    buf.push(b'\n');
    Ok(())
}

fn write_stdout(data: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(data)?;
    out.flush()
}

impl LogFile {
    fn io(&self, source: io::Error) -> AuditError {
        AuditError::Io { path: self.opts.path.clone(), source }
    }

    /// Writes `data` whole, rotating first if it would push the file past the limit.
    fn write_chunk(&mut self, data: &[u8]) -> Result<(), AuditError> {
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        let max = self.opts.max_size_bytes;
        if max > 0 {
            if len > max {
                return Err(AuditError::TooLarge { len, max });
            }
            if self.size.saturating_add(len) > max {
                self.rotate()?;
            }
        }
        // Count the bytes even on error: a partial write still grew the file.
        self.size = self.size.saturating_add(len);
        self.file.write_all(data).map_err(|e| self.io(e))
    }

    /// Renames the live file to `<name>-<timestamp><ext>` and starts a new one.
    fn rotate(&mut self) -> Result<(), AuditError> {
        let now = Utc::now();
        let after_last = self.last_backup.and_then(|last| last.checked_add_signed(ONE_MS));
        let stamp = after_last.filter(|t| *t > now).unwrap_or(now);
        let (backup, stamp) = self.backup_path(stamp);
        self.last_backup = Some(stamp);
        match fs::rename(&self.opts.path, &backup) {
            Ok(()) => {}
            // Someone removed the live file; just start a new one.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(e)),
        }
        self.file = open_file(&self.opts.path).map_err(|e| self.io(e))?;
        self.size = 0;
        self.prune(now);
        Ok(())
    }

    /// The directory, the name without extension, and the extension (Go's `filepath.Ext`).
    fn name_parts(&self) -> (PathBuf, String, String) {
        let dir = self.opts.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = self.opts.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (prefix, ext) = match name.rfind('.') {
            Some(i) => (name[..i].to_string(), name[i..].to_string()),
            None => (name.clone(), String::new()),
        };
        (dir.to_path_buf(), prefix, ext)
    }

    /// A backup name for `at`, stepping a millisecond forward while taken so two rotations in
    /// the same millisecond never overwrite each other.
    fn backup_path(&self, at: DateTime<Utc>) -> (PathBuf, DateTime<Utc>) {
        let (dir, prefix, ext) = self.name_parts();
        let name = |t: DateTime<Utc>| dir.join(format!("{prefix}-{}{ext}", t.format(BACKUP_TIME_FORMAT)));
        let mut t = at;
        for _ in 0..1000 {
            if !name(t).exists() {
                break;
            }
            match t.checked_add_signed(ONE_MS) {
                Some(next) => t = next,
                None => break,
            }
        }
        (name(t), t)
    }

    /// Deletes backups beyond `max_backups` (newest kept) and older than `max_age_days`.
    /// Failures are only logged: losing cleanup must not lose events.
    fn prune(&self, now: DateTime<Utc>) {
        let (max_backups, max_age) = (self.opts.max_backups, self.opts.max_age_days);
        if max_backups == 0 && max_age == 0 {
            return;
        }
        let (dir, prefix, ext) = self.name_parts();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot list audit log backups");
                return;
            }
        };
        let head = format!("{prefix}-");
        let mut backups: Vec<(NaiveDateTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stamp = name.strip_prefix(&head)?.strip_suffix(ext.as_str())?;
                let t = NaiveDateTime::parse_from_str(stamp, BACKUP_TIME_FORMAT).ok()?;
                Some((t, e.path()))
            })
            .collect();
        backups.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut doomed = Vec::new();
        if max_backups > 0 && backups.len() > max_backups {
            doomed = backups.split_off(max_backups);
        }
        if max_age > 0 {
            let cutoff = i64::try_from(max_age)
                .ok()
                .and_then(chrono::Duration::try_days)
                .and_then(|d| now.naive_utc().checked_sub_signed(d));
            if let Some(cutoff) = cutoff {
                doomed.extend(backups.into_iter().filter(|(t, _)| *t < cutoff));
            }
        }
        for (_, path) in doomed {
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove old audit log");
            }
        }
    }
}

#[cfg(unix)]
fn open_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(unix)]
fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Level, RequestMetadata};
    use std::sync::Arc;

    fn event(n: usize) -> Event {
        let meta = RequestMetadata {
            request_uri: format!("/api/v1/namespaces/default/pods/p{n}"),
            verb: "get".into(),
            user_agent: "x".repeat(200),
            ..Default::default()
        };
        Event::new(Level::Metadata, format!("id-{n}"), Utc::now(), meta)
    }

    fn line_len() -> u64 {
        let mut buf = Vec::new();
        encode(&event(0), &mut buf).map(|_| buf.len() as u64).unwrap_or(0)
    }

    fn read_events(path: &Path) -> Vec<Event> {
        let text = fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Event>(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
            .collect()
    }

    fn backups(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| !p.ends_with("audit.log")).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn backend(dir: &Path, max_size_bytes: u64, max_backups: usize, max_age_days: u64) -> LogBackend {
        LogBackend::with_options(LogOptions {
            path: dir.join("logs/audit.log"),
            max_size_bytes,
            max_backups,
            max_age_days,
        })
        .unwrap_or_else(|e| panic!("open: {e}"))
    }

    #[test]
    fn writes_one_json_line_per_event() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = backend(dir.path(), 0, 0, 0);
        for n in 0..3 {
            assert!(b.write(&event(n)).is_ok());
        }
        assert!(b.write_batch(&[event(3), event(4)]).is_ok());
        let evs = read_events(b.path());
        assert_eq!(
            evs.iter().map(|e| e.audit_id.as_str()).collect::<Vec<_>>(),
            ["id-0", "id-1", "id-2", "id-3", "id-4"]
        );
        // Reopening appends.
        drop(b);
        let b = backend(dir.path(), 0, 0, 0);
        assert!(b.write(&event(5)).is_ok());
        assert_eq!(read_events(b.path()).len(), 6);
    }

    #[cfg(unix)]
    #[test]
    fn file_and_dir_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = backend(dir.path(), 0, 0, 0);
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode(b.path()), 0o600);
        assert_eq!(mode(&dir.path().join("logs")), 0o700);
    }

    #[test]
    fn rotates_by_size_and_keeps_max_backups() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let len = line_len();
        // Room for two lines per file.
        let b = backend(dir.path(), 2 * len + len / 2, 3, 0);
        for n in 0..10 {
            assert!(b.write(&event(n)).is_ok(), "write {n}");
        }
        let logs = dir.path().join("logs");
        let live = read_events(b.path());
        assert_eq!(live.iter().map(|e| e.audit_id.as_str()).collect::<Vec<_>>(), ["id-8", "id-9"]);
        let olds = backups(&logs);
        assert_eq!(olds.len(), 3, "{olds:?}");
        for p in &olds {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            assert!(name.starts_with("audit-") && name.ends_with(".log"), "{name}");
            assert_eq!(read_events(p).len(), 2);
            assert!(fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX) <= 2 * len + len / 2);
        }
        // The newest backups survive: ids 2..=7.
        let mut kept: Vec<String> = olds.iter().flat_map(|p| read_events(p)).map(|e| e.audit_id).collect();
        kept.sort();
        assert_eq!(kept, ["id-2", "id-3", "id-4", "id-5", "id-6", "id-7"]);
    }

    #[test]
    fn batch_respects_rotation() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let len = line_len();
        let b = backend(dir.path(), 3 * len, 0, 0);
        let evs: Vec<Event> = (0..7).map(event).collect();
        assert!(b.write_batch(&evs).is_ok());
        let olds = backups(&dir.path().join("logs"));
        assert_eq!(olds.len(), 2);
        let total: usize = olds.iter().map(|p| read_events(p).len()).sum::<usize>() + read_events(b.path()).len();
        assert_eq!(total, 7);
    }

    #[test]
    fn existing_large_file_rotates_on_next_write() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let len = line_len();
        let b = backend(dir.path(), 4 * len, 0, 0);
        for n in 0..4 {
            assert!(b.write(&event(n)).is_ok());
        }
        drop(b);
        let b = backend(dir.path(), 4 * len, 0, 0);
        assert!(b.write(&event(4)).is_ok());
        assert_eq!(read_events(b.path()).len(), 1);
        assert_eq!(backups(&dir.path().join("logs")).len(), 1);
    }

    #[test]
    fn old_backups_expire_by_age() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = dir.path().join("logs");
        assert!(fs::create_dir_all(&logs).is_ok());
        let ancient = logs.join("audit-2001-02-03T04-05-06.789.log");
        let unrelated = logs.join("other-2001-02-03T04-05-06.789.log");
        assert!(fs::write(&ancient, "{}\n").is_ok() && fs::write(&unrelated, "x").is_ok());
        let len = line_len();
        let b = backend(dir.path(), len, 0, 30);
        // Pruned on open already.
        assert!(!ancient.exists());
        assert!(unrelated.exists());
        assert!(b.write(&event(0)).is_ok() && b.write(&event(1)).is_ok());
        assert_eq!(backups(&logs).len(), 2); // the fresh backup and the unrelated file
    }

    #[test]
    fn oversized_event_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = backend(dir.path(), 10, 0, 0);
        assert!(matches!(b.write(&event(0)), Err(AuditError::TooLarge { max: 10, .. })));
        assert!(b.write_batch(&[event(1)]).is_err());
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = Arc::new(backend(dir.path(), 0, 0, 0));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let b = Arc::clone(&b);
                std::thread::spawn(move || (0..50).all(|n| b.process_event(&event(t * 100 + n)).is_ok()))
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap_or(false)));
        assert_eq!(read_events(b.path()).len(), 200);
    }

    #[test]
    fn open_flag_values() {
        let b = LogBackend::open(STDOUT_PATH, DEFAULT_MAX_SIZE_MB, DEFAULT_MAX_BACKUPS, DEFAULT_MAX_AGE_DAYS);
        assert_eq!(b.map(|b| b.path().to_path_buf()).unwrap_or_default(), PathBuf::from("-"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = LogBackend::open(dir.path().join("a.log"), 1, 1, 1);
        assert!(b.is_ok());
        // A directory cannot be the log file.
        assert!(matches!(LogBackend::open(dir.path(), 1, 1, 1), Err(AuditError::Io { .. })));
    }
}
