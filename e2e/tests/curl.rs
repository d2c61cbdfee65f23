//! curl with client certificates does create, get, list and watch, as seeds 000 and 004 do.

use e2e::{poll, Cluster};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn curl_create_get_list_watch() {
    let c = Cluster::start();
    let base = c.api.url();
    // Watch first, streaming `?watch=true` events as newline-delimited JSON.
    let mut watch = c
        .api
        .curl()
        .arg("-N")
        .arg(format!("{base}/api/v1/namespaces/default/configmaps?watch=true"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl watch");
    let lines = BufReader::new(watch.stdout.take().expect("stdout"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in lines.lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });

    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"from-curl"},"data":{"hello":"world"}}"#;
    let out = c
        .api
        .curl()
        .args(["-X", "POST", "-H", "Content-Type: application/json", "-d", body, "-w", "\n%{http_code}"])
        .arg(format!("{base}/api/v1/namespaces/default/configmaps"))
        .output()
        .expect("curl create");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("201"), "{text}");

    let out =
        c.api.curl().arg(format!("{base}/api/v1/namespaces/default/configmaps/from-curl")).output().expect("curl get");
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got["data"]["hello"], "world");
    assert!(!got["metadata"]["uid"].as_str().unwrap_or("").is_empty());

    let out = c.api.curl().arg(format!("{base}/api/v1/namespaces/default/configmaps")).output().expect("curl list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(list["items"].as_array().expect("items").iter().any(|i| i["metadata"]["name"] == "from-curl"));

    let ev = poll("ADDED event for from-curl", Duration::from_secs(20), || {
        while let Ok(l) = rx.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&l).ok()?;
            if v["type"] == "ADDED" && v["object"]["metadata"]["name"] == "from-curl" {
                return Some(v);
            }
        }
        None
    });
    assert_eq!(ev["object"]["data"]["hello"], "world");
    let _ = watch.kill();
    let _ = watch.wait();

    // Seed 000: watch nodes, the legacy /watch/ path form too.
    let out = c
        .api
        .curl()
        .args(["--max-time", "1"])
        .arg(format!("{base}/api/v1/watch/namespaces?timeoutSeconds=1"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().filter(|l| l.contains("\"type\":\"ADDED\"")).count() >= 4, "{text}");
}

/// `curl` with the cluster CA and, optionally, a client certificate pair: (status, body).
fn curl_as(c: &Cluster, cert: Option<&e2e::Pki>, path: &str) -> (String, serde_json::Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "--cacert"]).arg(c.api.pki.path("ca.crt"));
    if let Some(p) = cert {
        cmd.arg("--cert").arg(p.path("admin.crt")).arg("--key").arg(p.path("admin.key"));
    }
    let out = cmd.arg(format!("{}{path}", c.api.url())).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_string(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn anonymous_requests_and_foreign_certificates() {
    // Upstream turns anonymous off under AlwaysAllow (the default mode): 401.
    let c = Cluster::start();
    let (code, v) = curl_as(&c, None, "/api/v1/namespaces");
    assert_eq!(code, "401");
    assert_eq!(v["reason"], "Unauthorized");
    assert_eq!(v["message"], "Unauthorized");
    // A certificate from another CA does not fail TLS, but it is a failed authentication
    // (upstream's x509 authenticator errors, and errors never fall back to anonymous).
    let other = tempfile::tempdir().expect("tmp");
    let foreign = e2e::Pki::create(other.path());
    assert_eq!(curl_as(&c, Some(&foreign), "/api/v1/namespaces").0, "401");
    drop(c);

    // Under RBAC, anonymous is on: public info is readable, the rest is forbidden.
    let c = Cluster::start_with(&["--authorization-mode=Node,RBAC"]);
    e2e::poll("anonymous /version", Duration::from_secs(30), || {
        (curl_as(&c, None, "/version").0 == "200").then_some(())
    });
    assert_eq!(curl_as(&c, None, "/healthz").0, "200");
    let (code, v) = curl_as(&c, None, "/api/v1/namespaces");
    assert_eq!(code, "403");
    assert_eq!(
        v["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    assert_eq!(v["details"]["kind"], "namespaces");
    assert_eq!(curl_as(&c, Some(&foreign), "/version").0, "401");
}

#[test]
fn apiserver_without_etcd_servers_exits_with_upstream_message() {
    let out = std::process::Command::new(e2e::bin_dir().join("kube-apiserver")).output().expect("runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--etcd-servers must be specified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn etcd_over_tls_with_client_certificates() {
    let etcd = e2e::Etcd::start_tls();
    let t = etcd.tls_dir();
    let api = e2e::ApiServer::start_with(
        &etcd,
        &[
            &format!("--etcd-cafile={}", t.join("ca.crt").display()),
            &format!("--etcd-certfile={}", t.join("client.crt").display()),
            &format!("--etcd-keyfile={}", t.join("client.key").display()),
        ],
    );
    let body = r#"{"metadata":{"name":"over-tls"}}"#;
    let out = api
        .curl()
        .args([
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("{}/api/v1/namespaces/default/configmaps", api.url()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    let keys = etcd.etcdctl(&["get", "/registry/configmaps/default/over-tls", "--keys-only"]);
    assert_eq!(String::from_utf8_lossy(&keys.stdout).trim(), "/registry/configmaps/default/over-tls");
}
