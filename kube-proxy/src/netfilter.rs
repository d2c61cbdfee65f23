//! Running iptables, iptables-restore, nft and conntrack, and the sysctls kube-proxy sets.
//! Rules change only through whole transactions (`iptables-restore --noflush`, `nft -f`);
//! single `iptables` calls only ensure the jumps from the built-in chains.

use crate::Error;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// A finished command.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin args…` with `stdin`, waiting for it.
pub async fn run(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Ran, Error> {
    let mut cmd = Fed::spawn(bin, args, stdin.is_some())?;
    if let Some(data) = stdin {
        cmd.write(data).await;
    }
    cmd.finish().await
}

/// A running command whose stdin is written in parts (a full `nft -f` sync is fed while it
/// renders, rather than held whole in memory).
pub struct Fed {
    bin: String,
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
}

impl Fed {
    pub fn start(bin: &str, args: &[&str]) -> Result<Fed, Error> {
        Fed::spawn(bin, args, true)
    }

    fn spawn(bin: &str, args: &[&str], with_stdin: bool) -> Result<Fed, Error> {
        let mut child = tokio::process::Command::new(bin)
            .args(args)
            .stdin(if with_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Exec(format!("{bin}: {e}")))?;
        let stdin = child.stdin.take();
        Ok(Fed { bin: bin.to_string(), child, stdin })
    }

    pub async fn write(&mut self, data: &[u8]) {
        if let Some(w) = &mut self.stdin {
            // The reader may fail early and close its stdin; its exit status tells why.
            if w.write_all(data).await.is_err() {
                self.stdin = None;
            }
        }
    }

    /// Closes stdin and waits for the command.
    pub async fn finish(mut self) -> Result<Ran, Error> {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().await.map_err(|e| Error::Exec(format!("{}: {e}", self.bin)))?;
        Ok(Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// The iptables binaries of one family, with the xtables lock wait flags upstream passes.
#[derive(Debug, Clone)]
pub struct Iptables {
    pub iptables: &'static str,
    pub restore: &'static str,
    pub save: &'static str,
}

const WAIT: [&str; 4] = ["-w", "5", "-W", "100000"];

impl Default for Iptables {
    fn default() -> Self {
        Iptables { iptables: "iptables", restore: "iptables-restore", save: "iptables-save" }
    }
}

impl Iptables {
    async fn ipt(&self, args: &[&str]) -> Result<Ran, Error> {
        let mut all: Vec<&str> = WAIT.to_vec();
        all.extend_from_slice(args);
        run(self.iptables, &all, None).await
    }

    /// Whether iptables works here at all.
    pub async fn available(&self) -> bool {
        matches!(run(self.iptables, &["-w", "5", "-L", "-n", "-t", "nat"], None).await, Ok(r) if r.code == 0)
    }

    /// `-N chain`; an existing chain is fine.
    pub async fn ensure_chain(&self, table: &str, chain: &str) -> Result<(), Error> {
        let r = self.ipt(&["-N", chain, "-t", table]).await?;
        if r.code == 0 || r.code == 1 {
            return Ok(());
        }
        Err(Error::Exec(format!("error creating chain {chain:?}: exit status {}: {}", r.code, r.stderr.trim())))
    }

    /// `-C`, and `-I` (first position) when the rule is missing.
    pub async fn ensure_rule(&self, table: &str, chain: &str, args: &[&str]) -> Result<(), Error> {
        let mut check = vec!["-C", chain, "-t", table];
        check.extend_from_slice(args);
        let r = self.ipt(&check).await?;
        if r.code == 0 {
            return Ok(());
        }
        if r.code != 1 {
            return Err(Error::Exec(format!("error checking rule: exit status {}: {}", r.code, r.stderr.trim())));
        }
        check[0] = "-I";
        let r = self.ipt(&check).await?;
        if r.code != 0 {
            return Err(Error::Exec(format!("error appending rule: exit status {}: {}", r.code, r.stderr.trim())));
        }
        Ok(())
    }

    /// `-D`; a missing rule or chain is fine.
    pub async fn delete_rule(&self, table: &str, chain: &str, args: &[&str]) -> Result<(), Error> {
        let mut del = vec!["-D", chain, "-t", table];
        del.extend_from_slice(args);
        self.ipt(&del).await.map(|_| ())
    }

    /// Whether `chain` exists in `table` (`-S`; exit status 4, a busy lock, counts as yes).
    pub async fn chain_exists(&self, table: &str, chain: &str) -> Result<bool, Error> {
        let r = self.ipt(&["-S", chain, "-t", table]).await?;
        Ok(r.code == 0 || r.code == 4)
    }

    /// `iptables-restore --noflush --counters` of `text`; the error names the failing lines.
    pub async fn restore(&self, text: &str, table: Option<&str>) -> Result<(), Error> {
        let mut args: Vec<&str> = WAIT.to_vec();
        if let Some(t) = table {
            args.extend(["-T", t]);
        }
        args.extend(["--noflush", "--counters"]);
        let r = run(self.restore, &args, Some(text.as_bytes())).await?;
        if r.code == 0 {
            return Ok(());
        }
        Err(Error::Restore(format!("{}{}", r.stderr.trim(), failing_lines(text, &r.stderr))))
    }

    /// The chains of `table`, from `iptables-save -t table`.
    pub async fn chains(&self, table: &str) -> Result<Vec<String>, Error> {
        let r = run(self.save, &["-t", table], None).await?;
        if r.code != 0 {
            return Err(Error::Exec(format!("{} -t {table}: exit status {}: {}", self.save, r.code, r.stderr.trim())));
        }
        Ok(r.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split(' ').next())
            .map(String::from)
            .collect())
    }
}

/// The lines around the one iptables-restore names (`line N failed`), for the log.
fn failing_lines(text: &str, stderr: &str) -> String {
    let Some(n) = stderr
        .split("line ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let from = n.saturating_sub(4);
    let to = (n + 3).min(lines.len());
    let mut out = String::from("\nrules around the failure:");
    for (i, l) in lines.iter().enumerate().take(to).skip(from) {
        out.push_str(&format!("\n{:>6}{} {l}", i + 1, if i + 1 == n { " >" } else { "  " }));
    }
    out
}

/// Writes `/proc/sys/<name>` when it differs (`name` with slashes, as upstream's).
pub fn ensure_sysctl(name: &str, value: i64) -> Result<bool, Error> {
    let path = format!("/proc/sys/{name}");
    let cur = std::fs::read_to_string(&path).map_err(|e| Error::Config(format!("can't read sysctl {name}: {e}")))?;
    if cur.trim() == value.to_string() {
        return Ok(false);
    }
    std::fs::write(&path, value.to_string())
        .map_err(|e| Error::Config(format!("can't set sysctl {name} to {value}: {e}")))?;
    tracing::info!(name, before = cur.trim(), after = value, "Changed sysctl");
    Ok(true)
}

pub fn read_sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/sys/{name}")).ok()?.trim().parse().ok()
}

/// The IPv4 addresses of this network namespace's interfaces (`ip -o -4 addr show`).
pub async fn local_ipv4s() -> Vec<std::net::Ipv4Addr> {
    let Ok(r) = run("ip", &["-o", "-4", "addr", "show"], None).await else { return Vec::new() };
    let mut out: Vec<std::net::Ipv4Addr> = r
        .stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            it.find(|w| *w == "inet")?;
            it.next()?.split('/').next()?.parse().ok()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_line_is_shown_with_its_neighbours() {
        let text = "*nat\n:A - [0:0]\n-A A -j B\n-A A -j C\nCOMMIT\n";
        let got = failing_lines(text, "iptables-restore: line 3 failed\n");
        assert!(got.contains("     3 > -A A -j B"), "{got}");
        assert!(got.contains("     1   *nat"), "{got}");
        assert_eq!(failing_lines(text, "something else"), "");
    }
}
