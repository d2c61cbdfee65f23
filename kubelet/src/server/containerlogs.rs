//! Reading a container's CRI log file the way `kubectl logs` expects (upstream's
//! `cri-client/pkg/logs`): each file line is `<RFC3339Nano time> <stdout|stderr> <P|F>[:tags]
//! <content>`; `P` chunks of one long line are joined; `tailLines` counts file lines from the
//! end; `sinceTime` skips older chunks; `timestamps` prefixes each logical line with its first
//! chunk's time (nine fractional digits); `limitBytes` caps what is written, prefixes included;
//! `follow` keeps reading what is appended, across a rotation, while the container runs.

use bytes::Bytes;
use jiff::Timestamp;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, BufReader};
use tokio::sync::mpsc::Sender;

/// What to read, from the query (already validated).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tail: Option<u64>,
    pub since: Option<Timestamp>,
    pub timestamps: bool,
    pub limit_bytes: Option<u64>,
    pub follow: bool,
}

/// One parsed file line.
#[derive(Debug, PartialEq)]
pub struct Chunk<'a> {
    pub time: Timestamp,
    pub stream: &'a str,
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses a CRI log line (without its trailing newline); `None` for a malformed one, which is
/// skipped as upstream skips it.
pub fn parse(line: &[u8]) -> Option<Chunk<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse::<Timestamp>().ok()?;
    let stream = std::str::from_utf8(parts.next()?).ok()?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let tags = parts.next()?;
    let partial = tags.split(|b| *b == b':').next()? == b"P";
    Some(Chunk { time, stream, partial, content: parts.next().unwrap_or_default() })
}

/// `RFC3339NanoFixed`: always nine fractional digits.
pub fn fixed_time(t: Timestamp) -> String {
    format!("{}.{:09}Z", t.strftime("%Y-%m-%dT%H:%M:%S"), t.subsec_nanosecond())
}

/// Where reading starts for the last `n` lines (`FindTailLineStartIndex`): just after the
/// `n+1`-th newline from the end, so an unterminated last line does not count.
pub async fn tail_start(file: &mut tokio::fs::File, n: u64) -> std::io::Result<u64> {
    let len = file.metadata().await?.len();
    const BLOCK: u64 = 64 * 1024;
    let mut end = len;
    let mut seen = 0u64;
    let mut buf = vec![0u8; BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let size = (end - start) as usize;
        file.seek(std::io::SeekFrom::Start(start)).await?;
        file.read_exact(&mut buf[..size]).await?;
        for i in (0..size).rev() {
            if buf[i] != b'\n' {
                continue;
            }
            seen += 1;
            if seen > n {
                return Ok(start + i as u64 + 1);
            }
        }
        end = start;
    }
    Ok(0)
}

/// Turns file lines into output, as the options say.
pub struct Writer {
    opts: Options,
    new_line: bool,
    left: Option<u64>,
}

impl Writer {
    pub fn new(opts: Options) -> Writer {
        let left = opts.limit_bytes;
        Writer { opts, new_line: true, left }
    }

    /// The output for one file line (with its newline), or `None` when the byte limit is
    /// reached (nothing more is to be written).
    pub fn line(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        if self.left == Some(0) {
            return None;
        }
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let Some(c) = parse(raw) else { return Some(Vec::new()) };
        if self.opts.since.is_some_and(|s| c.time < s) {
            return Some(Vec::new());
        }
        let mut out = Vec::with_capacity(c.content.len() + 32);
        if self.opts.timestamps && self.new_line {
            out.extend_from_slice(fixed_time(c.time).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(c.content);
        if !c.partial {
            out.push(b'\n');
        }
        self.new_line = !c.partial;
        if let Some(left) = self.left.as_mut() {
            if out.len() as u64 >= *left {
                out.truncate(*left as usize);
                *left = 0;
            } else {
                *left -= out.len() as u64;
            }
        }
        Some(out)
    }
}

/// Streams the log at `path` into `out` until done: the end of the file (or `tail` lines)
/// without `follow`; with it, until `running` says the container stopped (then what is left
/// is drained) or the receiver goes away.
pub async fn stream<F, Fut>(path: PathBuf, opts: Options, out: Sender<Bytes>, running: F) -> std::io::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut file = tokio::fs::File::open(&path).await?;
    let ino = |m: &std::fs::Metadata| std::os::unix::fs::MetadataExt::ino(m);
    let mut inode = ino(&file.metadata().await?);
    let start = match opts.tail {
        Some(n) => tail_start(&mut file, n).await?,
        None => 0,
    };
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let follow = opts.follow;
    let mut w = Writer::new(opts);
    let mut reader = BufReader::new(file);
    let mut pending = Vec::new();
    let mut idle = 0u32;
    loop {
        let n = reader.read_until(b'\n', &mut pending).await?;
        if n > 0 && pending.ends_with(b"\n") {
            idle = 0;
            let Some(bytes) = w.line(&pending) else { return Ok(()) };
            pending.clear();
            if !bytes.is_empty() && out.send(Bytes::from(bytes)).await.is_err() {
                return Ok(());
            }
            continue;
        }
        // At the end (an unfinished line stays pending until its newline comes).
        if !follow {
            return Ok(());
        }
        if out.is_closed() {
            return Ok(());
        }
        // Rotated: the path names a new file; read it from its start.
        if let Ok(m) = tokio::fs::metadata(&path).await {
            if ino(&m) != inode {
                if let Ok(f) = tokio::fs::File::open(&path).await {
                    inode = ino(&m);
                    reader = BufReader::new(f);
                    pending.clear();
                    continue;
                }
            }
        }
        idle += 1;
        // About once a second, stop once the container no longer runs (after a last read).
        if idle.is_multiple_of(10) && !running().await {
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await?;
            pending.extend_from_slice(&rest);
            for line in pending.split_inclusive(|b| *b == b'\n').filter(|l| l.ends_with(b"\n")) {
                let Some(bytes) = w.line(line) else { return Ok(()) };
                if !bytes.is_empty() && out.send(Bytes::from(bytes)).await.is_err() {
                    return Ok(());
                }
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn lines_parse_with_their_tags() {
        let c = parse(b"2026-12-07T10:00:00.123456789Z stdout F hello world").unwrap();
        assert_eq!(c.time, ts("2026-12-07T10:00:00.123456789Z"));
        assert_eq!((c.stream, c.partial, c.content), ("stdout", false, &b"hello world"[..]));
        assert!(parse(b"2026-12-07T10:00:00Z stderr P:x part").unwrap().partial);
        assert_eq!(parse(b"2026-12-07T10:00:00Z stdout F ").unwrap().content, b"");
        assert!(parse(b"garbage").is_none());
        assert!(parse(b"2026-12-07T10:00:00Z nowhere F x").is_none());
    }

    #[test]
    fn partial_chunks_join_under_one_timestamp() {
        let mut w = Writer::new(Options { timestamps: true, ..Default::default() });
        let a = w.line(b"2026-12-07T10:00:00.5Z stdout P abc\n").unwrap();
        let b = w.line(b"2026-12-07T10:00:01Z stdout F def\n").unwrap();
        let c = w.line(b"2026-12-07T10:00:02Z stdout F ghi\n").unwrap();
        assert_eq!(String::from_utf8(a).unwrap(), "2026-12-07T10:00:00.500000000Z abc");
        assert_eq!(String::from_utf8(b).unwrap(), "def\n");
        assert_eq!(String::from_utf8(c).unwrap(), "2026-12-07T10:00:02.000000000Z ghi\n");
    }

    #[test]
    fn since_skips_older_chunks_and_limit_cuts_the_last_line() {
        let mut w = Writer::new(Options {
            since: Some(ts("2026-12-07T10:00:01Z")),
            limit_bytes: Some(6),
            ..Default::default()
        });
        assert_eq!(w.line(b"2026-12-07T10:00:00Z stdout F old\n").unwrap(), b"");
        assert_eq!(w.line(b"2026-12-07T10:00:01Z stdout F new\n").unwrap(), b"new\n");
        assert_eq!(w.line(b"2026-12-07T10:00:02Z stdout F newer\n").unwrap(), b"ne");
        assert_eq!(w.line(b"2026-12-07T10:00:03Z stdout F more\n"), None);
    }

    async fn read_all(content: &str, opts: Options) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, content).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(stream(path, opts, tx, || async { false }));
        let mut out = Vec::new();
        while let Some(b) = rx.recv().await {
            out.extend_from_slice(&b);
        }
        task.await.unwrap().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn tail_counts_file_lines_from_the_end() {
        let log = "2026-12-07T10:00:00Z stdout F one\n2026-12-07T10:00:01Z stderr F two\n2026-12-07T10:00:02Z stdout F three\n";
        assert_eq!(read_all(log, Options::default()).await, "one\ntwo\nthree\n");
        assert_eq!(read_all(log, Options { tail: Some(2), ..Default::default() }).await, "two\nthree\n");
        assert_eq!(read_all(log, Options { tail: Some(10), ..Default::default() }).await, "one\ntwo\nthree\n");
        assert_eq!(read_all(log, Options { tail: Some(0), ..Default::default() }).await, "");
        // An unfinished last line is neither counted nor written.
        let open = format!("{log}2026-12-07T10:00:03Z stdout F fo");
        assert_eq!(read_all(&open, Options { tail: Some(1), ..Default::default() }).await, "three\n");
    }

    #[tokio::test]
    async fn follow_reads_what_is_appended_until_the_container_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, "2026-12-07T10:00:00Z stdout F first\n").unwrap();
        let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let r = running.clone();
        let task = tokio::spawn(stream(path.clone(), Options { follow: true, ..Default::default() }, tx, move || {
            let r = r.clone();
            async move { r.load(std::sync::atomic::Ordering::SeqCst) }
        }));
        assert_eq!(rx.recv().await.unwrap(), "first\n");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2026-12-07T10:00:01Z stdout F second\n").unwrap();
        assert_eq!(rx.recv().await.unwrap(), "second\n");
        f.write_all(b"2026-12-07T10:00:02Z stdout F last\n").unwrap();
        running.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(rx.recv().await.unwrap(), "last\n");
        assert!(rx.recv().await.is_none());
        task.await.unwrap().unwrap();
    }
}
