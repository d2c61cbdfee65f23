//! The issue's kubectl acceptance scenarios, with the real kubectl 1.32 and 1.33 against a real
//! etcd and our kube-apiserver.

use e2e::{poll, Cluster, KUBECTL_VERSIONS};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn get_nodes_and_services() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let out = c.api.kubectl(v, &["get", "nodes"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("No resources found"), "kubectl {v}: {}", stderr(&out));
        let svc = c.api.kubectl_ok(v, &["get", "services"]);
        assert!(svc.lines().any(|l| l.starts_with("kubernetes ")), "kubectl {v}: {svc}");
        let ip = c.api.kubectl_ok(
            v,
            &[
                "get",
                "svc",
                "kubernetes",
                "-o",
                "jsonpath={.spec.clusterIP} {.spec.ports[0].name} {.spec.ports[0].port}",
            ],
        );
        assert_eq!(ip, "10.96.0.1 https 443");
        let ns = c.api.kubectl_ok(v, &["get", "namespaces", "-o", "name"]);
        for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(ns.contains(&format!("namespace/{want}")), "{ns}");
        }
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write manifest");
    p.display().to_string()
}

#[test]
fn manifests_labels_scale_and_delete() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().expect("tmp");
    for v in KUBECTL_VERSIONS {
        let ns = format!("demo-{}", v.replace('.', "-"));
        let ns_json = write(
            dir.path(),
            &format!("{ns}.json"),
            &format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#),
        );
        assert!(c
            .api
            .kubectl_ok(v, &["create", "-f", &ns_json, "--validate=false"])
            .contains(&format!("namespace/{ns} created")));
        let deploy = write(
            dir.path(),
            &format!("{ns}-deploy.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx\n"
            ),
        );
        c.api.kubectl_ok(v, &["create", "-f", &deploy, "--validate=false"]);
        let items: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"cm-{i:03}","namespace":"{ns}"}},"data":{{"i":"{i}"}}}}"#))
            .collect();
        let list = write(
            dir.path(),
            &format!("{ns}-list.json"),
            &format!(r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#, items.join(",")),
        );
        let out = c.api.kubectl_ok(v, &["create", "-f", &list, "--validate=false"]);
        assert_eq!(out.lines().filter(|l| l.ends_with(" created")).count(), 100);

        // get all shows the Deployment (no controllers yet, so nothing else).
        let all = c.api.kubectl_ok(v, &["get", "all", "-n", &ns]);
        assert!(all.contains("deployment.apps/web"), "{all}");

        // Output formats.
        let yaml = c.api.kubectl_ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "yaml"]);
        for want in [
            "replicas: 1",
            "maxSurge: 25%",
            "imagePullPolicy: Always",
            "terminationMessagePath: /dev/termination-log",
            "generation: 1",
        ] {
            assert!(yaml.contains(want), "missing {want:?} in\n{yaml}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "json"]))
                .expect("json");
        assert_eq!(json["spec"]["template"]["spec"]["schedulerName"], "default-scheduler");
        assert_eq!(c.api.kubectl_ok(v, &["get", "deploy", "-n", &ns, "-o", "name"]).trim(), "deployment.apps/web");

        // label, annotate, scale.
        c.api.kubectl_ok(v, &["label", "deploy", "web", "-n", &ns, "tier=frontend"]);
        c.api.kubectl_ok(v, &["annotate", "deploy", "web", "-n", &ns, "owner=team-a"]);
        c.api.kubectl_ok(v, &["scale", "deployment", "web", "-n", &ns, "--replicas=3"]);
        let got = c.api.kubectl_ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "jsonpath={.metadata.labels.tier} {.metadata.annotations.owner} {.spec.replicas} {.metadata.generation}"]);
        assert_eq!(got, "frontend team-a 3 2");
        let sel = c.api.kubectl_ok(v, &["get", "deploy", "-n", &ns, "-l", "tier=frontend", "-o", "name"]);
        assert_eq!(sel.trim(), "deployment.apps/web");
        let none = c.api.kubectl(v, &["get", "deploy", "-n", &ns, "-l", "tier!=frontend"]);
        assert!(stderr(&none).contains("No resources found"), "{}", stderr(&none));

        // Chunked list: kubectl pages with limit/continue and still sees all 100.
        let out = c.api.kubectl(v, &["get", "configmaps", "-n", &ns, "--chunk-size=10", "-o", "name", "-v=6"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let names = String::from_utf8_lossy(&out.stdout);
        assert_eq!(names.lines().filter(|l| l.starts_with("configmap/cm-")).count(), 100);
        let pages = stderr(&out).matches("limit=10").count();
        assert!(pages >= 10, "expected at least 10 paged requests, saw {pages}");

        // delete, with --wait.
        assert!(c.api.kubectl_ok(v, &["delete", "deploy", "web", "-n", &ns, "--wait"]).contains("deleted"));
        let gone = c.api.kubectl(v, &["get", "deploy", "web", "-n", &ns]);
        assert!(!gone.status.success());
        assert!(stderr(&gone).contains("NotFound") || stderr(&gone).contains("not found"), "{}", stderr(&gone));
        c.api.kubectl_ok(v, &["delete", "configmap", "cm-000", "cm-001", "-n", &ns]);
        let left = c.api.kubectl_ok(v, &["get", "cm", "-n", &ns, "-o", "name"]);
        assert_eq!(left.lines().filter(|l| l.starts_with("configmap/cm-")).count(), 98);
    }
}

#[test]
fn discovery_and_raw_endpoints() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let res = c.api.kubectl_ok(v, &["api-resources"]);
        for want in
            ["deployments", "pods", "customresourcedefinitions", "leases", "endpointslices", "horizontalpodautoscalers"]
        {
            assert!(res.lines().any(|l| l.starts_with(want)), "{want} missing:\n{res}");
        }
        assert!(res.lines().any(|l| l.starts_with("pods ") && l.contains(" po ")), "{res}");
        let vers = c.api.kubectl_ok(v, &["api-versions"]);
        for want in ["v1", "apps/v1", "batch/v1", "autoscaling/v2", "rbac.authorization.k8s.io/v1"] {
            assert!(vers.lines().any(|l| l == want), "{want} missing:\n{vers}");
        }
        let version: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["get", "--raw", "/version"])).expect("version json");
        assert_eq!(version["major"], "1");
        assert_eq!(version["minor"], "33");
        assert_eq!(c.api.kubectl_ok(v, &["get", "--raw", "/healthz"]), "ok");
        let metrics = c.api.kubectl_ok(v, &["get", "--raw", "/metrics"]);
        for want in [
            "apiserver_request_total",
            "apiserver_request_duration_seconds_bucket",
            "etcd_request_duration_seconds",
            "apiserver_registered_watchers",
        ] {
            assert!(metrics.contains(want), "{want} missing from /metrics");
        }
        let verbose = c.api.kubectl_ok(v, &["get", "--raw", "/readyz?verbose"]);
        assert!(verbose.contains("[+]etcd ok") && verbose.contains("readyz check passed"), "{verbose}");
    }
}

#[test]
fn binding_schedules_a_pending_pod() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let pod = format!("pending-{}", v.replace('.', "-"));
        let manifest = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: nginx\n");
        let out = c.api.kubectl_stdin(v, &["create", "-f-", "--validate=false"], Some(&manifest));
        assert!(out.status.success(), "{}", stderr(&out));
        let binding = format!("apiVersion: v1\nkind: Binding\nmetadata:\n  name: {pod}\ntarget:\n  apiVersion: v1\n  kind: Node\n  name: node-1\n");
        let out = c.api.kubectl_stdin(v, &["create", "-f-", "--validate=false"], Some(&binding));
        assert!(out.status.success(), "{}", stderr(&out));
        let got = c.api.kubectl_ok(
            v,
            &[
                "get",
                "pod",
                &pod,
                "-o",
                "jsonpath={.spec.nodeName} {.status.conditions[?(@.type==\"PodScheduled\")].status}",
            ],
        );
        assert_eq!(got, "node-1 True");
        // A second binding conflicts.
        let again = c.api.kubectl_stdin(v, &["create", "-f-", "--validate=false"], Some(&binding));
        assert!(!again.status.success());
        assert!(stderr(&again).contains("already assigned"), "{}", stderr(&again));
    }
}

#[test]
fn watch_shows_added_modified_deleted() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let ns = format!("w-{}", v.replace('.', "-"));
        let ns_manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n");
        let out = c.api.kubectl_stdin(v, &["create", "-f-", "--validate=false"], Some(&ns_manifest));
        assert!(out.status.success(), "{}", stderr(&out));
        let mut watcher = Command::new(e2e::kubectl_path(v))
            .env("KUBECONFIG", &c.api.kubeconfig)
            .env("HOME", c.api.dir.path().join("home"))
            .args(["get", "pods", "-n", &ns, "--watch", "--output-watch-events"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl watch");
        // Wait until the watch is registered before writing.
        poll("watcher registered", Duration::from_secs(20), || {
            let m = c.api.kubectl_ok(v, &["get", "--raw", "/metrics"]);
            m.lines()
                .any(|l| {
                    l.starts_with("apiserver_registered_watchers{") && l.contains("kind=\"Pod\"") && !l.ends_with(" 0")
                })
                .then_some(())
        });
        let pod =
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w1\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
        let out = c.api.kubectl_stdin(v, &["create", "-n", &ns, "-f-", "--validate=false"], Some(pod));
        assert!(out.status.success(), "{}", stderr(&out));
        c.api.kubectl_ok(v, &["label", "pod", "w1", "-n", &ns, "step=two"]);
        c.api.kubectl_ok(v, &["delete", "pod", "w1", "-n", &ns]);
        let mut stdout = watcher.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut acc = String::new();
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                acc.push_str(&String::from_utf8_lossy(&buf[..n]));
                let _ = tx.send(acc.clone());
            }
        });
        let mut seen = String::new();
        let ok = poll("watch events", Duration::from_secs(20), || {
            while let Ok(s) = rx.try_recv() {
                seen = s;
            }
            (seen.contains("ADDED") && seen.contains("MODIFIED") && seen.contains("DELETED")).then_some(true)
        });
        assert!(ok);
        let _ = watcher.kill();
        let _ = watcher.wait();
        let order: Vec<&str> = seen
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| ["ADDED", "MODIFIED", "DELETED"].contains(w))
            .collect();
        assert_eq!(order.first(), Some(&"ADDED"), "{seen}");
        assert_eq!(order.last(), Some(&"DELETED"), "{seen}");
    }
}

/// `kubectl create namespace|configmap|secret|deployment|service`, `run` and `expose`: kubectl
/// 1.32 and 1.33 send protobuf bodies for most of these and never fall back to JSON.
#[test]
fn imperative_creates_send_protobuf() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let ns = format!("imp-{}", v.replace('.', "-"));
        let steps: Vec<Vec<String>> = vec![
            vec!["create".into(), "namespace".into(), ns.clone()],
            vec!["-n".into(), ns.clone(), "create".into(), "configmap".into(), "c".into(), "--from-literal=a=b".into()],
            vec![
                "-n".into(),
                ns.clone(),
                "create".into(),
                "secret".into(),
                "generic".into(),
                "s".into(),
                "--from-literal=a=b".into(),
            ],
            vec!["-n".into(), ns.clone(), "create".into(), "deployment".into(), "web".into(), "--image=nginx".into()],
            vec![
                "-n".into(),
                ns.clone(),
                "create".into(),
                "service".into(),
                "clusterip".into(),
                "web".into(),
                "--tcp=80".into(),
            ],
            vec!["-n".into(), ns.clone(), "run".into(), "p".into(), "--image=nginx".into()],
            vec![
                "-n".into(),
                ns.clone(),
                "expose".into(),
                "deployment".into(),
                "web".into(),
                "--port=80".into(),
                "--name=web2".into(),
            ],
        ];
        for s in &steps {
            let args: Vec<&str> = s.iter().map(String::as_str).collect();
            let out = c.api.kubectl(v, &args);
            assert!(out.status.success(), "kubectl {v} {args:?}: {}", stderr(&out));
        }
        let cm: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["-n", &ns, "get", "cm", "c", "-o", "json"])).unwrap();
        assert_eq!(cm["data"]["a"], "b");
        let sec: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["-n", &ns, "get", "secret", "s", "-o", "json"])).unwrap();
        assert_eq!(sec["data"]["a"], "Yg==");
        assert_eq!(sec["type"], "Opaque");
        let d: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["-n", &ns, "get", "deploy", "web", "-o", "json"])).unwrap();
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let svc: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["-n", &ns, "get", "svc", "web", "-o", "json"])).unwrap();
        assert_eq!(svc["spec"]["ports"][0]["port"], 80);
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(svc["spec"]["selector"]["app"], "web");
        assert!(svc["spec"]["clusterIP"].as_str().unwrap().starts_with("10."));
        let pod: serde_json::Value =
            serde_json::from_str(&c.api.kubectl_ok(v, &["-n", &ns, "get", "pod", "p", "-o", "json"])).unwrap();
        assert_eq!(pod["metadata"]["labels"]["run"], "p");
        assert_eq!(pod["status"]["phase"], "Pending");
        let wide = c.api.kubectl_ok(v, &["-n", &ns, "get", "deploy,rs,po", "-o", "wide"]);
        assert!(wide.contains("CONTAINERS") && wide.contains("NOMINATED NODE"), "{wide}");

        // Managed fields as upstream records them for the same commands.
        let managed = |what: &[&str], manager: &str| -> serde_json::Value {
            let mut args = vec!["-n", ns.as_str(), "get"];
            args.extend_from_slice(what);
            args.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
            let o: serde_json::Value = serde_json::from_str(&c.api.kubectl_ok(v, &args)).unwrap();
            let entries = o["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
            assert_eq!(entries.len(), 1, "{what:?}: {entries:?}");
            assert_eq!(entries[0]["manager"], manager);
            assert_eq!(entries[0]["operation"], "Update");
            entries[0]["fieldsV1"].clone()
        };
        assert_eq!(managed(&["cm", "c"], "kubectl-create"), serde_json::json!({"f:data": {".": {}, "f:a": {}}}));
        assert_eq!(
            managed(&["secret", "s"], "kubectl-create"),
            serde_json::json!({"f:data": {".": {}, "f:a": {}}, "f:type": {}})
        );
        assert_eq!(
            managed(&["namespace", &ns], "kubectl-create"),
            serde_json::json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}})
        );
        let d = managed(&["deploy", "web"], "kubectl-create");
        assert_eq!(d["f:metadata"], serde_json::json!({"f:labels": {".": {}, "f:app": {}}}));
        assert_eq!(d["f:spec"]["f:selector"], serde_json::json!({}));
        assert_eq!(
            d["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["f:resources"],
            serde_json::json!({})
        );
        let svc = managed(&["svc", "web"], "kubectl-create");
        assert_eq!(
            svc["f:spec"]["f:ports"],
            serde_json::json!({".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}})
        );
        assert!(svc["f:spec"].get("f:clusterIP").is_none(), "allocated, not written by the client: {svc}");
        managed(&["pod", "p"], "kubectl-run");
        managed(&["svc", "web2"], "kubectl-expose");
    }
}

/// `kubectl get componentstatuses` probes the scheduler's and the controller-manager's secure
/// health endpoints and etcd, as upstream: a component that is down is Unhealthy with Go's
/// dial error, never a 404.
#[test]
fn componentstatuses_probe_the_components() {
    let c = Cluster::start();
    // Nothing serves the controller-manager's port here; a stand-in scheduler answers `ok`
    // on 10259 (with a certificate nobody verifies, as upstream's probe).
    let dir = tempfile::tempdir().expect("tmp");
    e2e::PyHttps::pki("scheduler", dir.path());
    let handler = r#"
import http.server
class handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/healthz" else b"no"
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
"#;
    let _scheduler =
        e2e::PyHttps::start(handler, 10259, &dir.path().join("scheduler.crt"), &dir.path().join("scheduler.key"), &[]);
    for v in KUBECTL_VERSIONS {
        let out = poll("the stand-in scheduler answers", Duration::from_secs(20), || {
            let out = c.api.kubectl(v, &["get", "componentstatuses"]);
            let healthy = String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.split_whitespace().take(2).eq(["scheduler", "Healthy"]));
            healthy.then_some(out)
        });
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["NAME", "STATUS", "MESSAGE", "ERROR"], "{text}");
        let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap_or_else(|| panic!("{name} in {text}")).clone();
        assert_eq!(row("scheduler")[1..], ["Healthy", "ok"], "{text}");
        assert_eq!(row("etcd-0")[1..], ["Healthy", "ok"], "{text}");
        let cm = text.lines().find(|l| l.starts_with("controller-manager")).expect("controller-manager row");
        assert!(
            cm.split_whitespace().collect::<Vec<_>>().join(" ").contains(r#"Unhealthy Get "https://127.0.0.1:10257/healthz": dial tcp 127.0.0.1:10257: connect: connection refused"#),
            "{text}"
        );
        assert_eq!(rows.len(), 4, "{text}");
        assert!(stderr(&out).contains("Warning: v1 ComponentStatus is deprecated in v1.19+"), "{}", stderr(&out));
        let one = c.api.kubectl_ok(v, &["get", "cs", "etcd-0", "-o", "json"]);
        let one: serde_json::Value = serde_json::from_str(&one).expect("json");
        assert_eq!(one["conditions"][0], serde_json::json!({"type": "Healthy", "status": "True", "message": "ok"}));
        let out = c.api.kubectl(v, &["get", "cs", "nope"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("Component not found: nope"), "{}", stderr(&out));
    }
}
