//! Audit logging: `--audit-policy-file` + `--audit-log-path` write one audit.k8s.io/v1 Event
//! per line, at the level the first matching rule gives, without omitted stages.

use e2e::Cluster;
use serde_json::Value;

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - "RequestReceived"
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: RequestResponse
    resources:
    - group: ""
      resources: ["pods"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["secrets", "configmaps"]
  - level: Request
    resources:
    - group: "apps"
  - level: Metadata
"#;

fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn find<'a>(evs: &'a [Value], verb: &str, resource: &str) -> &'a Value {
    evs.iter()
        .find(|e| e["verb"] == verb && e["objectRef"]["resource"] == resource)
        .unwrap_or_else(|| panic!("no {verb} {resource} event in {evs:#?}"))
}

#[test]
fn audit_log_lines_follow_the_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("write");
    let log = dir.path().join("audit.log");
    let c = Cluster::start_with(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", log.display()),
    ]);
    c.api.kubectl_ok("1.33", &["create", "configmap", "c1", "--from-literal=a=b"]);
    c.api.kubectl_ok("1.33", &["run", "p1", "--image=nginx"]);
    c.api.kubectl_ok("1.33", &["create", "deployment", "d1", "--image=nginx"]);
    c.api.kubectl_ok("1.33", &["get", "secrets"]);
    // An unauthenticated request is recorded too.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(c.api.pki.path("ca.crt"))
        .arg(format!("{}/api/v1/namespaces", c.api.url()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    let evs = events(&log);
    assert!(!evs.is_empty());
    for e in &evs {
        assert_eq!(e["kind"], "Event");
        assert_eq!(e["apiVersion"], "audit.k8s.io/v1");
        assert_ne!(e["stage"], "RequestReceived", "omitted stage logged: {e}");
        assert!(e["auditID"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(!e["requestURI"].as_str().unwrap_or("").starts_with("/readyz"), "{e}");
    }
    let cm = find(&evs, "create", "configmaps");
    assert_eq!(cm["level"], "Metadata");
    assert_eq!(cm["stage"], "ResponseComplete");
    assert_eq!(cm["user"]["username"], "kubernetes-admin");
    assert_eq!(cm["objectRef"]["namespace"], "default");
    assert_eq!(cm["responseStatus"]["code"], 201);
    assert_eq!(cm["annotations"]["authorization.k8s.io/decision"], "allow");
    assert!(cm.get("requestObject").is_none() && cm.get("responseObject").is_none());
    assert!(cm["userAgent"].as_str().unwrap_or("").starts_with("kubectl"));
    assert!(cm["sourceIPs"][0] == "127.0.0.1");
    let pod = find(&evs, "create", "pods");
    assert_eq!(pod["level"], "RequestResponse");
    assert_eq!(pod["requestObject"]["metadata"]["name"], "p1");
    assert_eq!(pod["responseObject"]["kind"], "Pod");
    assert!(pod["responseObject"]["metadata"]["uid"].is_string());
    let dep = find(&evs, "create", "deployments");
    assert_eq!(dep["level"], "Request");
    assert_eq!(dep["requestObject"]["kind"], "Deployment");
    assert!(dep.get("responseObject").is_none());
    let secrets = find(&evs, "list", "secrets");
    assert_eq!(secrets["level"], "Metadata");
    let unauth = evs.iter().find(|e| e["responseStatus"]["code"] == 401).expect("401 event");
    assert_eq!(unauth["stage"], "ResponseStarted");
    assert_eq!(unauth["responseStatus"]["reason"], "Unauthorized");
}
