//! streaming-bench: the streaming calls on a real node, through the real kubectl: `logs -f`
//! throughput from a container writing as fast as it can, the round trip of `exec -- true`,
//! port-forward throughput for a large file, and the apiserver's and kubelet's memory and
//! open files with many idle exec sessions, after they end and after their clients are
//! killed (nothing may stay behind).

mod common;

use clap::Parser;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "kubectl logs/exec/port-forward throughput, latency and memory on a real node")]
struct Args {
    #[command(flatten)]
    target: common::Target,
    #[arg(long)]
    kubectl: String,
    #[arg(long)]
    kubeconfig: String,
    #[arg(long)]
    apiserver_pid: u32,
    #[arg(long)]
    kubelet_pid: u32,
    /// `exec -- true` round trips.
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// MiB the log writer writes.
    #[arg(long, default_value_t = 100)]
    log_mib: usize,
    /// MiB fetched through port-forward.
    #[arg(long, default_value_t = 100)]
    forward_mib: usize,
    /// Concurrent idle exec sessions.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Rounds of sessions whose clients are killed.
    #[arg(long, default_value_t = 4)]
    kill_rounds: usize,
}

struct Bench {
    a: Args,
    client: reqwest::Client,
}

impl Bench {
    fn kubectl(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.a.kubectl);
        c.env("KUBECONFIG", &self.a.kubeconfig).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).stdin(Stdio::null()).output().expect("kubectl");
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn create_running(&self, pod: Value) {
        let base = self.a.target.server.trim_end_matches('/');
        let url = format!("{base}/api/v1/namespaces/default/pods");
        let r = self.client.post(&url).json(&pod).send().await.expect("create");
        assert!(r.status().is_success(), "create: {}", r.text().await.unwrap_or_default());
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let p: Value =
                self.client.get(format!("{url}/{name}")).send().await.expect("get").json().await.expect("json");
            if p["status"]["phase"] == "Running" {
                return;
            }
            assert!(Instant::now() < deadline, "{name} did not start: {}", p["status"]);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn rss(pid: u32) -> String {
    common::mib(common::mem_kib(Some(pid), "VmRSS:"))
}

/// `n` idle `exec -i -- cat` sessions, each shown alive by an echo.
fn open_sessions(b: &Bench, n: usize) -> Vec<Child> {
    let mut children: Vec<Child> = (0..n)
        .map(|_| {
            b.kubectl(&["exec", "-i", "bench-web", "--", "cat"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubectl exec")
        })
        .collect();
    for c in &mut children {
        let stdin = c.stdin.as_mut().expect("stdin");
        stdin.write_all(b"ping\n").expect("write");
        stdin.flush().expect("flush");
        let mut line = String::new();
        std::io::BufReader::new(c.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("echo");
        assert_eq!(line, "ping\n");
    }
    children
}

/// Polls until both servers hold at most `limit` open files, or 30 s pass; their counts.
fn settle(b: &Bench, limits: (usize, usize)) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = (fds(b.a.apiserver_pid), fds(b.a.kubelet_pid));
        if (now.0 <= limits.0 && now.1 <= limits.1) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let client = common::tls_client(&a.target.ca, &a.target.cert, &a.target.key).build().expect("client");
    let b = Bench { a, client };
    let line = "x".repeat(1023);
    let bytes = b.a.log_mib << 20;
    b.create_running(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-logs"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "w", "image": "busybox",
            "command": ["sh", "-c", format!("while [ ! -f /tmp/go ]; do sleep 0.1; done; yes {line} | head -c {bytes}; exec sleep 3600")]}]}
    }))
    .await;
    b.create_running(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-web"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "nginx", "image": "nginx"}]}
    }))
    .await;

    // exec round trips, against kubectl's own cost for a trivial request.
    let mut base = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        b.run(&["get", "--raw", "/healthz"]);
        base.push(t.elapsed());
    }
    base.sort();
    let mut lat = Vec::new();
    for _ in 0..b.a.runs {
        let t = Instant::now();
        b.run(&["exec", "bench-web", "--", "true"]);
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "exec -- true ({} runs): p50 {}, p99 {}, max {} (kubectl get --raw /healthz p50 {})",
        b.a.runs,
        common::ms(common::pct(&lat, 50.0)),
        common::ms(common::pct(&lat, 99.0)),
        common::ms(*lat.last().unwrap_or(&Duration::ZERO)),
        common::ms(common::pct(&base, 50.0)),
    );

    // logs -f while the container writes.
    let mut follow =
        b.kubectl(&["logs", "-f", "bench-logs"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("logs -f");
    let mut out = follow.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let (mut got, mut first) = (0usize, None);
        while got < bytes {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    first.get_or_insert_with(Instant::now);
                    got += n;
                }
            }
        }
        (got, first.map(|f| f.elapsed()))
    });
    let start = Instant::now();
    b.run(&["exec", "bench-logs", "--", "touch", "/tmp/go"]);
    let (got, from_first) = reader.join().expect("reader");
    let total = start.elapsed();
    let _ = follow.kill();
    let _ = follow.wait();
    println!(
        "logs -f: {:.1} MiB in {:.2} s from the trigger ({:.1} MiB/s; {:.1} MiB/s from the first byte)",
        got as f64 / 1048576.0,
        total.as_secs_f64(),
        got as f64 / 1048576.0 / total.as_secs_f64(),
        got as f64 / 1048576.0 / from_first.unwrap_or(total).as_secs_f64(),
    );
    let t = Instant::now();
    let whole = b.kubectl(&["logs", "bench-logs"]).stderr(Stdio::null()).output().expect("logs");
    println!(
        "logs (written already): {:.1} MiB in {:.2} s ({:.1} MiB/s)",
        whole.stdout.len() as f64 / 1048576.0,
        t.elapsed().as_secs_f64(),
        whole.stdout.len() as f64 / 1048576.0 / t.elapsed().as_secs_f64()
    );

    // port-forward.
    let count = format!("count={}", b.a.forward_mib);
    b.run(&["exec", "bench-web", "--", "dd", "if=/dev/zero", "of=/usr/share/nginx/html/big", "bs=1M", &count]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut pf = b
        .kubectl(&["port-forward", "pod/bench-web", &format!("{port}:80")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("port-forward");
    let url = format!("http://127.0.0.1:{port}/big");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut speeds = Vec::new();
    while speeds.len() < 3 {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", &url])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.first() == Some(&"200") {
            let (size, secs): (f64, f64) = (f[1].parse().unwrap_or(0.0), f[2].parse().unwrap_or(1.0));
            speeds.push(size / 1048576.0 / secs);
        } else {
            assert!(Instant::now() < deadline, "port-forward did not answer: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = pf.kill();
    let _ = pf.wait();
    speeds.sort_by(|x, y| x.total_cmp(y));
    println!(
        "port-forward, {} MiB with curl: median {:.1} MiB/s, best {:.1} MiB/s",
        b.a.forward_mib, speeds[1], speeds[2]
    );

    // Idle sessions.
    let (api, kl) = (b.a.apiserver_pid, b.a.kubelet_pid);
    let before = (fds(api), fds(kl));
    println!(
        "before sessions: apiserver {} RSS, {} fds; kubelet {} RSS, {} fds",
        rss(api),
        before.0,
        rss(kl),
        before.1
    );
    let sessions = open_sessions(&b, b.a.sessions);
    println!(
        "{} idle exec sessions: apiserver {} RSS, {} fds; kubelet {} RSS, {} fds",
        b.a.sessions,
        rss(api),
        fds(api),
        rss(kl),
        fds(kl)
    );
    for mut c in sessions {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    let after = settle(&b, before);
    println!("after they end: apiserver {} RSS, {} fds; kubelet {} RSS, {} fds", rss(api), after.0, rss(kl), after.1);
    // Rounds whose clients are killed mid-session: memory that settles is the allocator's
    // cache; memory that climbs round after round would be a leak.
    for round in 1..=b.a.kill_rounds {
        let sessions = open_sessions(&b, b.a.sessions);
        for mut c in sessions {
            let _ = c.kill();
            let _ = c.wait();
        }
        let killed = settle(&b, before);
        println!(
            "after round {round} of {} sessions whose clients are killed: apiserver {} RSS, {} fds; kubelet {} RSS, {} fds",
            b.a.sessions,
            rss(api),
            killed.0,
            rss(kl),
            killed.1
        );
    }
}
