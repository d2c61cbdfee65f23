//! Admission webhooks: a test webhook server on loopback over HTTPS (its own CA in
//! `caBundle`) mutates (adds a label) and validates (refuses a label); with the server gone,
//! `failurePolicy: Fail` refuses writes and `Ignore` admits them.

use e2e::{free_port, poll, Cluster, PyHttps};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const SERVE: &str = r#"
import base64, http.server, json
class handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        resp = {"uid": req["uid"], "allowed": True}
        labels = ((req.get("object") or {}).get("metadata") or {}).get("labels") or {}
        if self.path == "/mutate":
            ops = [{"op": "add", "path": "/metadata/labels", "value": {}}] if not labels else []
            ops.append({"op": "add", "path": "/metadata/labels/webhook", "value": "mutated"})
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif labels.get("deny") == "true":
            resp = {"uid": req["uid"], "allowed": False, "status": {"code": 403, "message": "denied by test"}}
        reply(self, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
"#;

fn configs(port: u16, ca_b64: &str, policy: &str) -> String {
    format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: test-mutate}}
webhooks:
- name: mutate.test.k8s.io
  clientConfig: {{url: "https://127.0.0.1:{port}/mutate", caBundle: "{ca_b64}"}}
  rules: [{{operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"]}}]
  sideEffects: None
  admissionReviewVersions: ["v1"]
  failurePolicy: {policy}
  timeoutSeconds: 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: test-validate}}
webhooks:
- name: deny.test.k8s.io
  clientConfig: {{url: "https://127.0.0.1:{port}/validate", caBundle: "{ca_b64}"}}
  rules: [{{operations: ["CREATE", "UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"]}}]
  namespaceSelector: {{matchExpressions: [{{key: webhooks, operator: NotIn, values: ["off"]}}]}}
  sideEffects: None
  admissionReviewVersions: ["v1"]
  failurePolicy: {policy}
  timeoutSeconds: 5
"#
    )
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn mutating_and_validating_webhooks_with_failure_policies() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().expect("tmp");
    let ca = PyHttps::pki("webhook", dir.path());
    let port = free_port();
    let server = PyHttps::start(SERVE, port, &dir.path().join("webhook.crt"), &dir.path().join("webhook.key"), &[]);
    let ca_b64 = {
        use std::io::Write;
        let mut child =
            Command::new("base64").arg("-w0").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("base64");
        child.stdin.take().expect("stdin").write_all(ca.cert_pem.as_bytes()).expect("write");
        String::from_utf8(child.wait_with_output().expect("base64").stdout).expect("utf-8")
    };
    let out = c.api.kubectl_stdin("1.33", &["apply", "-f", "-"], Some(&configs(port, &ca_b64, "Fail")));
    assert!(out.status.success(), "{}", stderr(&out));
    // Mutation: the webhook's label lands on the stored object.
    let mut n = 0;
    let labels = poll("the mutating webhook applies", Duration::from_secs(30), || {
        n += 1;
        let name = format!("m{n}");
        let out = c.api.kubectl("1.33", &["create", "configmap", &name, "-o", "json"]);
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["metadata"]["labels"]["webhook"] == "mutated").then(|| v["metadata"]["labels"].clone())
    });
    assert_eq!(labels["webhook"], "mutated");
    // Validation: a refused label.
    let denied = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  labels: {deny: \"true\"}\n";
    let out = c.api.kubectl_stdin("1.33", &["create", "-f", "-"], Some(denied));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("admission webhook \"deny.test.k8s.io\" denied the request: denied by test"),
        "{}",
        stderr(&out)
    );
    assert!(!c.api.kubectl("1.33", &["get", "configmap", "bad"]).status.success());
    // namespaceSelector: namespaces labelled webhooks=off are not validated.
    c.api.kubectl_ok("1.33", &["create", "namespace", "free"]);
    c.api.kubectl_ok("1.33", &["label", "namespace", "free", "webhooks=off"]);
    let out = c.api.kubectl_stdin("1.33", &["create", "-n", "free", "-f", "-"], Some(denied));
    assert!(out.status.success(), "{}", stderr(&out));
    // With the server down, Fail refuses and Ignore admits.
    drop(server);
    let out = c.api.kubectl("1.33", &["create", "configmap", "down1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Internal error occurred: failed calling webhook \"mutate.test.k8s.io\": failed to call webhook: Post \"https://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    let out = c.api.kubectl_stdin("1.33", &["apply", "-f", "-"], Some(&configs(port, &ca_b64, "Ignore")));
    assert!(out.status.success(), "{}", stderr(&out));
    poll("Ignore admits", Duration::from_secs(30), || {
        c.api.kubectl("1.33", &["create", "configmap", "down2"]).status.success().then_some(())
    });
}

/// A webhook server over HTTPS with its own CA, and the kubeconfig file the apiserver's
/// `--authorization-webhook-config-file` / `--authentication-token-webhook-config-file` take.
fn remote_webhook(name: &str, handler: &str, path: &str) -> (tempfile::TempDir, PyHttps, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    PyHttps::pki(name, dir.path());
    let port = free_port();
    let server = PyHttps::start(
        handler,
        port,
        &dir.path().join(format!("{name}.crt")),
        &dir.path().join(format!("{name}.key")),
        &[],
    );
    let kubeconfig = dir.path().join(format!("{name}.kubeconfig"));
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: https://127.0.0.1:{port}{path}\n    certificate-authority: {name}-ca.crt\nusers:\n- name: apiserver\n  user: {{}}\ncontexts:\n- name: c\n  context: {{cluster: {name}, user: apiserver}}\ncurrent-context: c\n"
        ),
    )
    .expect("write");
    (dir, server, kubeconfig)
}

const AUTHZ: &str = r#"
import http.server, json
class handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        sar = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        spec = sar["spec"]
        ra = spec.get("resourceAttributes") or {}
        status = {"allowed": False}
        if spec.get("user") == "alice" and ra.get("resource") == "pods" and ra.get("verb") in ("get", "list"):
            status = {"allowed": True, "reason": "alice may read pods"}
        elif spec.get("user") == "mallory":
            status = {"allowed": False, "denied": True, "reason": "mallory is banned"}
        sar["status"] = status
        reply(self, sar)
"#;

#[test]
fn webhook_authorizer() {
    let (_dir, server, kubeconfig) = remote_webhook("authz", AUTHZ, "/authorize");
    let c = Cluster::start_with(&[
        "--authorization-mode=Webhook,RBAC",
        &format!("--authorization-webhook-config-file={}", kubeconfig.display()),
        "--authorization-webhook-cache-unauthorized-ttl=1s",
    ]);
    let as_user = |user: &str, args: &[&str]| {
        let mut a = args.to_vec();
        let flag = format!("--as={user}");
        a.push(&flag);
        c.api.kubectl("1.33", &a)
    };
    // The webhook's allow wins; its explicit deny stops RBAC from being asked.
    poll("the webhook answers", Duration::from_secs(30), || {
        as_user("alice", &["get", "pods"]).status.success().then_some(())
    });
    let out = as_user("mallory", &["get", "pods"]);
    assert!(
        stderr(&out).contains("pods is forbidden: User \"mallory\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\": mallory is banned"),
        "{}",
        stderr(&out)
    );
    // No opinion: RBAC decides (and denies).
    let out = as_user("bob", &["get", "pods"]);
    assert!(stderr(&out).contains("User \"bob\" cannot list resource \"pods\""), "{}", stderr(&out));
    // With the webhook gone and nobody else allowing, the request fails with 500.
    drop(server);
    let out = poll("the failure shows", Duration::from_secs(10), || {
        let out = as_user("bob", &["get", "configmaps"]);
        stderr(&out).contains("InternalError").then_some(out)
    });
    assert!(stderr(&out).contains("Internal error occurred"), "{}", stderr(&out));
}

const TOKENS: &str = r#"
import http.server, json
class handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if review["spec"]["token"] == "webhook-token":
            review["status"] = {"authenticated": True, "user": {"username": "wendy", "uid": "w-1", "groups": ["webhookers"]}}
        else:
            review["status"] = {"authenticated": False}
        reply(self, review)
"#;

#[test]
fn token_authentication_webhook() {
    let (_dir, _server, kubeconfig) = remote_webhook("tokens", TOKENS, "/");
    let c = Cluster::start_with(&[
        "--authorization-mode=Node,RBAC",
        &format!("--authentication-token-webhook-config-file={}", kubeconfig.display()),
    ]);
    let whoami = |token: &str| {
        Command::new(e2e::kubectl_path("1.33"))
            .arg(format!("--server={}", c.api.url()))
            .arg(format!("--certificate-authority={}", c.api.pki.path("ca.crt").display()))
            .args(["--kubeconfig=/dev/null", "--token", token, "auth", "whoami"])
            .output()
            .expect("kubectl")
    };
    let out = poll("the webhook vouches for wendy", Duration::from_secs(30), || {
        let out = whoami("webhook-token");
        out.status.success().then_some(out)
    });
    let who = String::from_utf8_lossy(&out.stdout);
    assert!(who.contains("wendy") && who.contains("w-1") && who.contains("[webhookers system:authenticated]"), "{who}");
    let out = whoami("not-a-token");
    assert!(stderr(&out).contains("Unauthorized"), "{}", stderr(&out));
}
