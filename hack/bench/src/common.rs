//! What both load tools share: an mTLS client for the apiserver and /proc readings of a
//! server process.

use std::time::Duration;

// Where the apiserver is and the client pair to reach it with (flattened into each tool's
// arguments; a doc comment here would become the tools' description).
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Apiserver URL, e.g. https://127.0.0.1:6443
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub ca: String,
    #[arg(long)]
    pub cert: String,
    #[arg(long)]
    pub key: String,
}

/// A client with the cluster CA and a client certificate pair (PEM files).
pub fn tls_client(ca: &str, cert: &str, key: &str) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).expect("ca")).expect("ca pem");
    let mut pem = std::fs::read(cert).expect("cert");
    pem.extend(std::fs::read(key).expect("key"));
    let id = reqwest::Identity::from_pem(&pem).expect("identity");
    reqwest::Client::builder().add_root_certificate(ca).identity(id).use_rustls_tls()
}

/// A process's CPU time so far (user + system), from /proc.
#[allow(dead_code)]
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A `/proc/<pid>/status` memory field (`VmRSS:`, `VmHWM:`), in KiB.
pub fn mem_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    s.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// The `p`th percentile of sorted durations (nearest rank).
#[allow(dead_code)]
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

#[allow(dead_code)]
pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[allow(dead_code)]
pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "?".into())
}
