//! Test fixtures: a real etcd and the real kube-apiserver binary on free loopback ports, with
//! certificates and an admin kubeconfig; each process is stopped by PID when its fixture drops
//! (also when a test fails). Helpers run the real kubectl against the server.

pub mod kwok;
pub mod node;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (the listener is dropped before the port is used).
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// N distinct free ports, all held until every one is chosen.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let mut out = [0u16; N];
    for (i, l) in listeners.iter().enumerate() {
        out[i] = l.local_addr().expect("addr").port();
    }
    out
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn kill(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A real etcd in a temporary data directory, plain or serving TLS with client certificates.
pub struct Etcd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    peer_port: u16,
    tls: bool,
}

impl Etcd {
    pub fn start() -> Etcd {
        let dir = tempfile::tempdir().expect("tempdir");
        let [port, peer_port] = free_ports::<2>();
        let mut e = Etcd { child: None, dir, port, peer_port, tls: false };
        e.spawn();
        e
    }

    /// etcd serving TLS and requiring client certificates: `tls/ca.crt`, `tls/server.*`,
    /// `tls/client.*` under [`Etcd::tls_dir`].
    pub fn start_tls() -> Etcd {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let ca = pki::new_ca("etcd-ca").expect("ca");
        let server = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "etcd".into(),
                dns_names: vec!["localhost".into()],
                ips: vec![[127, 0, 0, 1].into()],
                server: true,
                client: true,
                ..Default::default()
            },
        )
        .expect("server cert");
        let client = pki::issue(
            &ca,
            &pki::LeafSpec { common_name: "kube-apiserver-etcd-client".into(), client: true, ..Default::default() },
        )
        .expect("client cert");
        pki::write_pair(&tls, "ca", &ca).expect("write");
        pki::write_pair(&tls, "server", &server).expect("write");
        pki::write_pair(&tls, "client", &client).expect("write");
        let [port, peer_port] = free_ports::<2>();
        let mut e = Etcd { child: None, dir, port, peer_port, tls: true };
        e.spawn();
        e
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn etcdctl_cmd(&self) -> Command {
        let mut c = Command::new("etcdctl");
        c.env("ETCDCTL_API", "3").arg(format!("--endpoints={}", self.endpoint()));
        if self.tls {
            let t = self.tls_dir();
            c.arg(format!("--cacert={}", t.join("ca.crt").display()))
                .arg(format!("--cert={}", t.join("client.crt").display()))
                .arg(format!("--key={}", t.join("client.key").display()));
        }
        c
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).expect("log");
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "test", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .arg(format!("--listen-client-urls={}", self.endpoint()))
            .arg(format!("--advertise-client-urls={}", self.endpoint()))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{}", self.peer_port))
            .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{}", self.peer_port))
            .arg(format!("--initial-cluster=test=http://127.0.0.1:{}", self.peer_port));
        if self.tls {
            let t = self.tls_dir();
            cmd.arg(format!("--cert-file={}", t.join("server.crt").display()))
                .arg(format!("--key-file={}", t.join("server.key").display()))
                .arg(format!("--trusted-ca-file={}", t.join("ca.crt").display()))
                .arg("--client-cert-auth");
        }
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("etcd starts (run hack/install-deps.sh)");
        self.child = Some(child);
        let port = self.port;
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                // Most likely a port taken between choosing and binding: try fresh ones.
                self.child = None;
                if Instant::now() < end {
                    [self.port, self.peer_port] = free_ports::<2>();
                    return self.spawn();
                }
            }
            let healthy = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && self.etcdctl_cmd().arg("endpoint").arg("health").output().is_ok_and(|o| o.status.success());
            if healthy {
                return;
            }
            if Instant::now() > end {
                let log = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
                panic!(
                    "etcd did not become healthy in 30s; its log ends:\n{}",
                    log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs etcdctl against this etcd.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_cmd().args(args).output().expect("etcdctl runs")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding the workspace's built binaries.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("K8S_RS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug")
}

/// Certificates for a test cluster: a CA, the serving pair, an admin client pair, and a
/// kubeconfig.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: pki::CertKey,
}

impl Pki {
    pub fn create(dir: &Path) -> Pki {
        let ca = pki::new_ca("kubernetes").expect("ca");
        let (dns, ips) = pki::apiserver_sans("", [127, 0, 0, 1].into(), [10, 96, 0, 1].into(), "cluster.local");
        let serving = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "kube-apiserver".into(),
                dns_names: dns,
                ips,
                server: true,
                ..Default::default()
            },
        )
        .expect("serving");
        let admin = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "kubernetes-admin".into(),
                organizations: vec!["system:masters".into()],
                client: true,
                ..Default::default()
            },
        )
        .expect("admin");
        pki::write_pair(dir, "ca", &ca).expect("write");
        pki::write_pair(dir, "apiserver", &serving).expect("write");
        pki::write_pair(dir, "admin", &admin).expect("write");
        // The apiserver's client certificate towards kubelets, as kubeadm's
        // apiserver-kubelet-client (which kubeadm binds to cluster-admin).
        let kubelet_client = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "kube-apiserver-kubelet-client".into(),
                organizations: vec!["system:masters".into()],
                client: true,
                ..Default::default()
            },
        )
        .expect("kubelet client");
        pki::write_pair(dir, "apiserver-kubelet-client", &kubelet_client).expect("write");
        let (sa_key, sa_pub) = pki::sakey::generate_ec().expect("service account key");
        std::fs::write(dir.join("sa.key"), sa_key).expect("write");
        std::fs::write(dir.join("sa.pub"), sa_pub).expect("write");
        Pki { dir: dir.to_path_buf(), ca }
    }

    /// Issues and writes another client pair (`<name>.crt`, `<name>.key`).
    pub fn client(&self, name: &str, cn: &str, orgs: &[&str]) {
        let c = pki::issue(
            &self.ca,
            &pki::LeafSpec {
                common_name: cn.into(),
                organizations: orgs.iter().map(|s| s.to_string()).collect(),
                client: true,
                ..Default::default()
            },
        )
        .expect("client");
        pki::write_pair(&self.dir, name, &c).expect("write");
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// Runs `cmd` with `stdin` written and closed, and its output collected; killed and failed
/// when it has not finished by `timeout` (a hang is a failure, not a stuck test).
pub fn run_with_deadline(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    use std::io::{Read, Write};
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the command starts");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(input).expect("write stdin");
    }
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (out_t.join().unwrap_or_default(), err_t.join().unwrap_or_default());
            panic!(
                "{cmd:?} did not finish in {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out_t.join().unwrap_or_default(), stderr: err_t.join().unwrap_or_default() }
}

/// How many files (sockets included) process `pid` holds open.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// The real kube-apiserver binary, serving on a free port.
pub struct ApiServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub kubeconfig: PathBuf,
    args: Vec<String>,
    etcd: String,
}

impl ApiServer {
    pub fn start(etcd: &Etcd) -> ApiServer {
        Self::start_with(etcd, &[])
    }

    pub fn start_with(etcd: &Etcd, extra: &[&str]) -> ApiServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = Pki::create(&dir.path().join("pki"));
        let port = free_port();
        let kubeconfig = dir.path().join("admin.conf");
        let admin = pki::read_pair(&pki.dir, "admin").expect("admin pair");
        pki::write_kubeconfig(
            &kubeconfig,
            "kubernetes",
            &format!("https://127.0.0.1:{port}"),
            &pki.ca.cert_pem,
            "kubernetes-admin",
            &admin.cert_pem,
            &admin.key_pem,
        )
        .expect("kubeconfig");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        let mut s = ApiServer {
            child: None,
            port,
            dir,
            pki,
            kubeconfig,
            args: extra.iter().map(|s| s.to_string()).collect(),
            etcd: etcd.endpoint(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = bin_dir().join("kube-apiserver");
        assert!(bin.exists(), "{} is missing: build the workspace binaries first (hack/test.sh does)", bin.display());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("apiserver.log"))
            .expect("log");
        let child = Command::new(&bin)
            .arg(format!("--etcd-servers={}", self.etcd))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .arg("--service-cluster-ip-range=10.96.0.0/12")
            .arg(format!("--tls-cert-file={}", self.pki.path("apiserver.crt").display()))
            .arg(format!("--tls-private-key-file={}", self.pki.path("apiserver.key").display()))
            .arg(format!("--client-ca-file={}", self.pki.path("ca.crt").display()))
            .arg(format!("--kubelet-client-certificate={}", self.pki.path("apiserver-kubelet-client.crt").display()))
            .arg(format!("--kubelet-client-key={}", self.pki.path("apiserver-kubelet-client.key").display()))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", self.pki.path("sa.pub").display()))
            .arg(format!("--service-account-signing-key-file={}", self.pki.path("sa.key").display()))
            .args(self.default_admission())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kube-apiserver starts");
        self.child = Some(child);
        let url = format!("{}/readyz", self.url());
        let pki_dir = self.pki.dir.clone();
        let child_ref = self.child.as_mut().expect("child");
        poll("kube-apiserver readiness", Duration::from_secs(60), || {
            if let Ok(Some(status)) = child_ref.try_wait() {
                panic!("kube-apiserver exited early: {status}");
            }
            let out = Command::new("curl")
                .args(["-sf", "--max-time", "2", "--cacert"])
                .arg(pki_dir.join("ca.crt"))
                .arg("--cert")
                .arg(pki_dir.join("admin.crt"))
                .arg("--key")
                .arg(pki_dir.join("admin.key"))
                .arg(&url)
                .output()
                .ok()?;
            out.status.success().then_some(())
        });
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The apiserver's peak resident memory so far (VmHWM), in KiB.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// These clusters run no kube-controller-manager, so nothing creates the `default`
    /// service account of each namespace: like seed 004's lab cluster, they run without the
    /// ServiceAccount admission plugin unless a test configures admission plugins itself.
    fn default_admission(&self) -> Vec<String> {
        if self.args.iter().any(|a| a.contains("admission-plugins")) {
            Vec::new()
        } else {
            vec!["--disable-admission-plugins=ServiceAccount".to_string()]
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(self.dir.path().join("apiserver.log")).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    /// An HTTP client with the admin certificate.
    pub fn client(&self) -> reqwest::Client {
        self.client_as("admin")
    }

    /// An HTTP client with the named client pair (see [`Pki::client`]).
    pub fn client_as(&self, pair: &str) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.pki.ca.cert_pem.as_bytes()).expect("ca");
        let c = pki::read_pair(&self.pki.dir, pair).expect("pair");
        let id = reqwest::Identity::from_pem(format!("{}{}", c.cert_pem, c.key_pem).as_bytes()).expect("identity");
        reqwest::Client::builder().add_root_certificate(ca).identity(id).use_rustls_tls().build().expect("client")
    }

    /// A client without a client certificate (anonymous).
    pub fn anonymous_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.pki.ca.cert_pem.as_bytes()).expect("ca");
        reqwest::Client::builder().add_root_certificate(ca).use_rustls_tls().build().expect("client")
    }

    /// Runs `kubectl.<version>` (e.g. "1.33") with the admin kubeconfig.
    pub fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        self.kubectl_stdin(version, args, None)
    }

    /// kubectl `version` with this cluster's kubeconfig, to be configured further and run.
    pub fn kubectl_cmd(&self, version: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_path(version));
        cmd.env("KUBECONFIG", &self.kubeconfig).env("HOME", self.dir.path().join("home")).args(args);
        cmd
    }

    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = self.kubectl_cmd(version, args);
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("kubectl finishes")
    }

    /// Runs kubectl and returns stdout, panicking with stderr when it fails.
    pub fn kubectl_ok(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs curl with the admin certificate and `args` on `path` (below the server's URL):
    /// the HTTP status code and the JSON body (null when the body is not JSON).
    /// Without an HTTP answer the code is 0 and the body says what curl saw, with the end of
    /// the server's log.
    pub fn curl_json(&self, args: &[&str], path: &str) -> (u16, serde_json::Value) {
        let mut cmd = self.curl();
        cmd.arg("-S").args(args).args(["-w", "\n%{http_code}"]).arg(format!("{}{path}", self.url()));
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        let code = code.trim().parse().unwrap_or(0);
        if code == 0 {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let seen = format!("curl {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
            return (0, serde_json::json!({"curl": seen, "log": tail.into_iter().rev().collect::<Vec<_>>()}));
        }
        (code, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
    }

    /// A curl command with the admin certificate, as the seeds use it.
    pub fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "20", "--cacert"])
            .arg(self.pki.path("ca.crt"))
            .arg("--cert")
            .arg(self.pki.path("admin.crt"))
            .arg("--key")
            .arg(self.pki.path("admin.key"));
        c
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The kubectl binary of a release ("1.32", "1.33").
pub fn kubectl_path(version: &str) -> PathBuf {
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"));
    if p.exists() {
        p
    } else {
        PathBuf::from("kubectl")
    }
}

/// The Python with the official client library (`hack/install-deps.sh` makes its venv), or
/// `K8S_RS_PYTHON`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("K8S_RS_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/k8s-rs/pyenv/bin/python")
}

/// The kubectl releases the suites run against.
pub const KUBECTL_VERSIONS: &[&str] = &["1.32", "1.33"];

/// A cluster: etcd plus apiserver.
pub struct Cluster {
    pub api: ApiServer,
    pub etcd: Etcd,
}

impl Cluster {
    pub fn start() -> Cluster {
        Self::start_with(&[])
    }
    pub fn start_with(args: &[&str]) -> Cluster {
        let etcd = Etcd::start();
        let api = ApiServer::start_with(&etcd, args);
        Cluster { api, etcd }
    }
}

/// A small HTTPS server on loopback written in python3 (test OIDC issuers, admission and
/// authorization webhooks). `handler` is python defining `handler`, an http.server request
/// handler class (or factory), which may answer JSON with `reply(self, obj)`; `extra`
/// arguments follow the port, certificate and key in `sys.argv`. Stopped on drop.
pub struct PyHttps(Child);

const PY_PRELUDE: &str = r#"
import json
def reply(h, obj):
    body = json.dumps(obj).encode()
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)
"#;

const PY_SERVE: &str = r#"
import http.server, ssl, sys
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"#;

impl PyHttps {
    pub fn start(handler: &str, port: u16, cert: &Path, key: &Path, extra: &[&std::ffi::OsStr]) -> PyHttps {
        let script = format!("{PY_PRELUDE}\n{handler}\n{PY_SERVE}");
        let child = Command::new("python3")
            .args(["-c", &script, &port.to_string()])
            .arg(cert)
            .arg(key)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 https server");
        PyHttps(child)
    }

    /// The CA and serving pair such a server uses: (CA, directory holding `<name>.crt/.key`).
    pub fn pki(name: &str, dir: &Path) -> pki::CertKey {
        let ca = pki::new_ca(&format!("{name}-ca")).expect("ca");
        let leaf = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: name.into(),
                ips: vec![[127, 0, 0, 1].into()],
                server: true,
                ..Default::default()
            },
        )
        .expect("leaf");
        pki::write_pair(dir, name, &leaf).expect("write");
        pki::write_pair(dir, &format!("{name}-ca"), &ca).expect("write");
        ca
    }
}

impl Drop for PyHttps {
    fn drop(&mut self) {
        kill(&mut self.0);
    }
}

/// A daemon process the e2e suites run (kube-controller-manager, kube-scheduler): its secure
/// port and log, stopped by PID on drop.
pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
    log: PathBuf,
}

impl Daemon {
    fn new(api: &ApiServer, name: &str) -> Daemon {
        Daemon { child: None, port: free_port(), log: api.dir.path().join(format!("{name}.log")) }
    }

    /// Starts `cmd` with stderr to the log and waits (up to a minute) for the secure port's
    /// `/healthz`; panics with the log when the process exits first.
    fn start(&mut self, what: &str, mut cmd: Command) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log");
        let mut child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap_or_else(|e| panic!("{what} starts: {e}"));
        let url = format!("https://127.0.0.1:{}/healthz", self.port);
        poll(&format!("{what} /healthz"), Duration::from_secs(60), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{what} exited early: {status}\n{}", self.log());
            }
            let out = Command::new("curl").args(["-skf", "--max-time", "2"]).arg(&url).output().ok()?;
            out.status.success().then_some(())
        });
        self.child = Some(child);
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c);
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// curl against the secure port with `args` (e.g. `--cert`), returning status and body.
    pub fn curl(&self, path: &str, args: &[&str]) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sk", "--max-time", "10", "-w", "\n%{http_code}"])
            .args(args)
            .arg(format!("https://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::ops::Deref for Scheduler {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl std::ops::DerefMut for Scheduler {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

impl std::ops::Deref for ControllerManager {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl std::ops::DerefMut for ControllerManager {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

/// A kubeconfig for `user` (a client certificate from the cluster CA), written beside the
/// apiserver's files.
pub(crate) fn daemon_kubeconfig(api: &ApiServer, file: &str, user: &str) -> PathBuf {
    let kubeconfig = api.dir.path().join(file);
    let pair = pki::issue(&api.pki.ca, &pki::LeafSpec { common_name: user.into(), client: true, ..Default::default() })
        .expect("client pair");
    pki::write_kubeconfig(
        &kubeconfig,
        "kubernetes",
        &api.url(),
        &api.pki.ca.cert_pem,
        user,
        &pair.cert_pem,
        &pair.key_pem,
    )
    .expect("kubeconfig");
    kubeconfig
}

/// The real kube-scheduler binary against an [`ApiServer`], as kubeadm runs it (its own
/// `system:kube-scheduler` kubeconfig). Stopped by PID on drop.
pub struct Scheduler {
    daemon: Daemon,
    pub kubeconfig: PathBuf,
    args: Vec<String>,
}

impl Scheduler {
    pub fn start(api: &ApiServer, extra: &[&str]) -> Scheduler {
        Self::start_named(api, "scheduler", extra)
    }

    /// A second instance needs its own `name` (log and kubeconfig files).
    pub fn start_named(api: &ApiServer, name: &str, extra: &[&str]) -> Scheduler {
        let mut s = Scheduler {
            daemon: Daemon::new(api, name),
            kubeconfig: daemon_kubeconfig(api, &format!("{name}.conf"), "system:kube-scheduler"),
            args: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = bin_dir().join("kube-scheduler");
        assert!(bin.exists(), "{} is missing: build the workspace binaries first (hack/test.sh does)", bin.display());
        let mut cmd = Command::new(&bin);
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--authentication-kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--authorization-kubeconfig={}", self.kubeconfig.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port));
        if !self.args.iter().any(|a| a.starts_with("--leader-elect")) {
            cmd.arg("--leader-elect=false");
        }
        cmd.args(&self.args);
        self.daemon.start("kube-scheduler", cmd);
    }

    pub fn restart(&mut self) {
        self.daemon.stop();
        self.spawn();
    }
}

/// The real kube-controller-manager binary against an [`ApiServer`], as kubeadm runs it: its
/// own `system:kube-controller-manager` kubeconfig, `--use-service-account-credentials`, the
/// cluster CA for signing and the service-account key. Stopped by PID on drop.
pub struct ControllerManager {
    daemon: Daemon,
    pub kubeconfig: PathBuf,
    args: Vec<String>,
    pki_dir: PathBuf,
}

impl ControllerManager {
    pub fn start(api: &ApiServer, extra: &[&str]) -> ControllerManager {
        Self::start_named(api, "controller-manager", extra)
    }

    /// A second instance needs its own `name` (log and kubeconfig files).
    pub fn start_named(api: &ApiServer, name: &str, extra: &[&str]) -> ControllerManager {
        let kubeconfig = daemon_kubeconfig(api, &format!("{name}.conf"), "system:kube-controller-manager");
        let mut cm = ControllerManager {
            daemon: Daemon::new(api, name),
            kubeconfig,
            args: extra.iter().map(|s| s.to_string()).collect(),
            pki_dir: api.pki.dir.clone(),
        };
        cm.spawn();
        cm
    }

    fn spawn(&mut self) {
        let bin = bin_dir().join("kube-controller-manager");
        assert!(bin.exists(), "{} is missing: build the workspace binaries first (hack/test.sh does)", bin.display());
        let has = |flag: &str| self.args.iter().any(|a| a.starts_with(flag));
        let mut cmd = Command::new(&bin);
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--authentication-kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--authorization-kubeconfig={}", self.kubeconfig.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .arg(format!("--root-ca-file={}", self.pki_dir.join("ca.crt").display()))
            .arg(format!("--service-account-private-key-file={}", self.pki_dir.join("sa.key").display()))
            .arg(format!("--cluster-signing-cert-file={}", self.pki_dir.join("ca.crt").display()))
            .arg(format!("--cluster-signing-key-file={}", self.pki_dir.join("ca.key").display()));
        if !has("--use-service-account-credentials") {
            cmd.arg("--use-service-account-credentials=true");
        }
        if !has("--leader-elect") {
            cmd.arg("--leader-elect=false");
        }
        cmd.args(&self.args);
        self.daemon.start("kube-controller-manager", cmd);
    }

    pub fn restart(&mut self) {
        self.daemon.stop();
        self.spawn();
    }
}
