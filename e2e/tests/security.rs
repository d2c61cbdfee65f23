//! The security pipeline end to end, with kubectl and openssl as the seeds use them: user
//! certificates and RBAC (seed 004), seed 001's pod-reader Role, SubjectAccessReviews,
//! `kubectl auth can-i|whoami`, impersonation, service-account, bootstrap and static tokens.

use e2e::{poll, Cluster};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const RBAC: &str = "--authorization-mode=Node,RBAC";

/// A private copy of the admin kubeconfig that kubectl may edit (`kubectl config ...`).
fn own_kubeconfig(c: &Cluster, dir: &Path) -> PathBuf {
    let p = dir.join("config");
    std::fs::copy(&c.api.kubeconfig, &p).expect("copy kubeconfig");
    p
}

/// kubectl with `cfg`, run in the kubeconfig's directory (relative paths resolve there).
fn kubectl(_c: &Cluster, cfg: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(e2e::kubectl_path("1.33"));
    cmd.arg("--kubeconfig").arg(cfg).args(args).current_dir(cfg.parent().expect("dir"));
    cmd.env("HOME", cfg.parent().expect("dir"));
    cmd.stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() });
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("kubectl finishes")
}

fn ok(c: &Cluster, cfg: &Path, args: &[&str]) -> String {
    let out = kubectl(c, cfg, args, None);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(c: &Cluster, cfg: &Path, args: &[&str]) -> String {
    let out = kubectl(c, cfg, args, None);
    assert!(!out.status.success(), "kubectl {args:?} unexpectedly succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("bash").arg("-ec").arg(script).current_dir(dir).output().expect("bash");
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Waits until the default policy is in place (the `view` role and its aggregation).
fn wait_for_policy(c: &Cluster, cfg: &Path) {
    poll("bootstrap RBAC policy", Duration::from_secs(60), || {
        let out = kubectl(c, cfg, &["get", "clusterrole", "view", "system:aggregate-to-view", "-o", "name"], None);
        out.status.success().then_some(())
    });
}

#[test]
fn seed_004_user_certificates_and_rbac() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    let pki = c.api.pki.dir.display().to_string();
    sh(
        dir.path(),
        &format!(
            "openssl genrsa 4096 > user.key 2>/dev/null
             openssl req -new -key user.key -subj /CN=jerome/O=devs/O=ops > user.csr
             openssl x509 -req -CA {pki}/ca.crt -CAkey {pki}/ca.key -in user.csr -days 1 -set_serial 1234 > user.crt 2>/dev/null"
        ),
    );
    ok(&c, &cfg, &["config", "set-credentials", "jerome", "--client-key=user.key", "--client-certificate=user.crt"]);
    // kubectl resolves the relative paths against the kubeconfig's directory.
    for f in ["user.key", "user.crt"] {
        assert!(dir.path().join(f).exists());
    }
    ok(&c, &cfg, &["config", "set-context", "--current", "--user=jerome"]);
    let err = fails(&c, &cfg, &["get", "pods"]);
    assert!(
        err.contains(
            "Error from server (Forbidden): pods is forbidden: User \"jerome\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{err}"
    );
    ok(&c, &cfg, &["config", "set-context", "--current", "--user=kubernetes-admin"]);
    ok(&c, &cfg, &["create", "clusterrolebinding", "devs-can-view", "--clusterrole=view", "--group=devs"]);
    ok(&c, &cfg, &["config", "set-context", "--current", "--user=jerome"]);
    poll("jerome can list pods", Duration::from_secs(10), || {
        kubectl(&c, &cfg, &["get", "pods"], None).status.success().then_some(())
    });
    ok(&c, &cfg, &["get", "deployments,services,configmaps"]);
    let err = fails(&c, &cfg, &["delete", "pod", "web"]);
    assert!(
        err.contains("pods \"web\" is forbidden: User \"jerome\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    // view does not include secrets.
    let err = fails(&c, &cfg, &["get", "secrets"]);
    assert!(err.contains("cannot list resource \"secrets\""), "{err}");
    let who = ok(&c, &cfg, &["auth", "whoami"]);
    assert!(who.contains("jerome") && who.contains("[devs ops system:authenticated]"), "{who}");
    assert_eq!(ok(&c, &cfg, &["auth", "can-i", "list", "pods"]).trim(), "yes");
    let out = kubectl(&c, &cfg, &["auth", "can-i", "delete", "pods"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
}

const POD_READER: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  namespace: default
  name: pod-reader
rules:
- apiGroups: [""] # "" indicates the core API group
  resources: ["pods"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
  namespace: default
subjects:
- kind: User
  name: jane # Name is case sensitive
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role #this must be Role or ClusterRole
  name: pod-reader # must match name of Role
  apiGroup: rbac.authorization.k8s.io
"#;

#[test]
fn seed_001_pod_reader_can_i_and_impersonation() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    let out = kubectl(&c, &cfg, &["apply", "-f", "-"], Some(POD_READER));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.pki.client("jane", "jane", &[]);
    let (crt, key) = (c.api.pki.path("jane.crt"), c.api.pki.path("jane.key"));
    ok(
        &c,
        &cfg,
        &[
            "config",
            "set-credentials",
            "jane",
            &format!("--client-certificate={}", crt.display()),
            &format!("--client-key={}", key.display()),
        ],
    );
    let jane = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--user=jane");
        kubectl(&c, &cfg, &a, None)
    };
    poll("jane can list pods", Duration::from_secs(10), || jane(&["get", "pods"]).status.success().then_some(()));
    let out = ok(&c, &cfg, &["run", "web", "--image=nginx"]);
    assert!(out.contains("pod/web created"), "{out}");
    assert!(jane(&["get", "pod", "web", "-o", "name"]).status.success());
    for (args, msg) in [
        (vec!["get", "pods", "-n", "kube-system"], "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\""),
        (vec!["get", "services"], "services is forbidden: User \"jane\" cannot list resource \"services\""),
        (vec!["delete", "pod", "web"], "pods \"web\" is forbidden: User \"jane\" cannot delete resource \"pods\""),
        (vec!["logs", "web"], "pods \"web\" is forbidden: User \"jane\" cannot get resource \"pods/log\""),
    ] {
        let out = jane(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    // can-i as the admin, and for jane through impersonation.
    assert_eq!(ok(&c, &cfg, &["auth", "can-i", "*", "*"]).trim(), "yes");
    assert_eq!(ok(&c, &cfg, &["auth", "can-i", "watch", "pods", "--as=jane"]).trim(), "yes");
    let out = kubectl(&c, &cfg, &["auth", "can-i", "create", "pods", "--as=jane"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let list = ok(&c, &cfg, &["auth", "can-i", "--list", "--as=jane"]);
    let pods_line = list.lines().find(|l| l.starts_with("pods ")).unwrap_or_default().to_string();
    assert!(pods_line.contains("[get watch list]"), "{list}");
    assert!(list.contains("selfsubjectreviews.authentication.k8s.io"), "{list}");
    let who = ok(&c, &cfg, &["auth", "whoami", "--as=jane", "--as-group=devs"]);
    assert!(who.contains("jane") && who.contains("[devs system:authenticated]"), "{who}");
    let who = ok(&c, &cfg, &["auth", "whoami", "-o", "json"]);
    let v: Value = serde_json::from_str(&who).expect("json");
    assert_eq!(v["status"]["userInfo"]["username"], "kubernetes-admin");
    assert_eq!(v["status"]["userInfo"]["groups"], json!(["system:masters", "system:authenticated"]));
    // jane may not impersonate.
    let out = jane(&["get", "pods", "--as=bob"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("users \"bob\" is forbidden: User \"jane\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{err}"
    );
    // Deleting the binding takes the right away.
    ok(&c, &cfg, &["delete", "rolebinding", "read-pods"]);
    poll("jane loses access", Duration::from_secs(10), || (!jane(&["get", "pods"]).status.success()).then_some(()));
}

#[test]
fn subject_access_reviews() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    assert!(kubectl(&c, &cfg, &["apply", "-f", "-"], Some(POD_READER)).status.success());
    let sar = |user: &str, ns: &str, verb: &str| {
        let body = format!(
            "apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec:\n  user: {user}\n  groups:\n  - foo\n  - bar\n  resourceAttributes:\n    namespace: {ns}\n    resource: pods\n    verb: {verb}\n"
        );
        let out = kubectl(&c, &cfg, &["create", "-f", "-", "-o", "json"], Some(&body));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    // Seed 004's example: jean.doe may not get pods in kube-system.
    let v = sar("jean.doe", "kube-system", "get");
    assert_eq!(v["status"], json!({"allowed": false}));
    let v = sar("jane", "default", "get");
    assert_eq!(v["status"]["allowed"], true);
    assert_eq!(
        v["status"]["reason"],
        "RBAC: allowed by RoleBinding \"read-pods/default\" of Role \"pod-reader\" to User \"jane\""
    );
    assert_eq!(sar("jane", "default", "delete")["status"]["allowed"], false);
    // Group subjects, non-resource URLs, and validation.
    let out = kubectl(
        &c,
        &cfg,
        &["create", "-f", "-", "-o", "json"],
        Some(
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"groups":["system:authenticated"],"nonResourceAttributes":{"path":"/version","verb":"get"}}}"#,
        ),
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let out = kubectl(
        &c,
        &cfg,
        &["create", "-f", "-"],
        Some(r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x"}}"#),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The SubjectAccessReview \"\" is invalid: spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"),
        "{err}"
    );
    // LocalSubjectAccessReview must name its own namespace.
    let out = kubectl(
        &c,
        &cfg,
        &["create", "-n", "default", "-f", "-", "-o", "json"],
        Some(
            r#"{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","metadata":{"namespace":"default"},"spec":{"user":"jane","resourceAttributes":{"namespace":"default","verb":"list","resource":"pods"}}}"#,
        ),
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"]["allowed"], true, "{}", String::from_utf8_lossy(&out.stderr));
}

/// A JWT's claims, read without checking its signature (the tests only inspect them).
fn unverified_claims(token: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.insecure_disable_signature_validation();
    v.validate_aud = false;
    v.validate_exp = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &jsonwebtoken::DecodingKey::from_secret(b""), &v).expect("claims").claims
}

fn token_kubeconfig(c: &Cluster, dir: &Path, name: &str, token: &str) -> PathBuf {
    let cfg = dir.join(format!("{name}.conf"));
    let ca = c.api.pki.path("ca.crt");
    let run = |args: &[&str]| {
        let out = Command::new(e2e::kubectl_path("1.33")).env("KUBECONFIG", &cfg).args(args).output().expect("kubectl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "config",
        "set-cluster",
        "k",
        &format!("--server={}", c.api.url()),
        &format!("--certificate-authority={}", ca.display()),
    ]);
    run(&["config", "set-credentials", name, &format!("--token={token}")]);
    run(&["config", "set-context", "k", "--cluster=k", &format!("--user={name}")]);
    run(&["config", "use-context", "k"]);
    cfg
}

#[test]
fn service_account_tokens_and_revocation() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    ok(&c, &cfg, &["create", "serviceaccount", "robot"]);
    let token = ok(&c, &cfg, &["create", "token", "robot"]).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let rcfg = token_kubeconfig(&c, dir.path(), "robot", &token);
    let who = ok(&c, &rcfg, &["auth", "whoami"]);
    assert!(who.contains("system:serviceaccount:default:robot"), "{who}");
    assert!(who.contains("[system:serviceaccounts system:serviceaccounts:default system:authenticated]"), "{who}");
    // TokenReview by the admin.
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let out = kubectl(&c, &cfg, &["create", "-f", "-", "-o", "json"], Some(&review.to_string()));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"]["authenticated"], true);
    assert_eq!(v["status"]["user"]["username"], "system:serviceaccount:default:robot");
    assert_eq!(v["status"]["audiences"], json!(["https://kubernetes.default.svc.cluster.local"]));
    // Issuer discovery, readable by service accounts.
    let out = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(c.api.pki.path("ca.crt"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("{}/.well-known/openid-configuration", c.api.url()))
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["issuer"], "https://kubernetes.default.svc.cluster.local");
    // A token bound to a pod dies with the pod.
    ok(&c, &cfg, &["run", "p", "--image=nginx", "--overrides={\"spec\":{\"serviceAccountName\":\"robot\"}}"]);
    let bound = ok(&c, &cfg, &["create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=p"]);
    let bcfg = token_kubeconfig(&c, dir.path(), "bound", bound.trim());
    let who = ok(&c, &bcfg, &["auth", "whoami"]);
    assert!(who.contains("authentication.kubernetes.io/pod-name") && who.contains("[p]"), "{who}");
    // A kubelet-style request (3607 s, pod-bound) gets a year, warning after the hour.
    let projected = ok(
        &c,
        &cfg,
        &["create", "token", "robot", "--bound-object-kind=Pod", "--bound-object-name=p", "--duration=3607s"],
    );
    let claims = unverified_claims(projected.trim());
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64(), Some(iat + 365 * 24 * 3600), "{claims}");
    assert_eq!(claims["kubernetes.io"]["warnafter"].as_i64(), Some(iat + 3607), "{claims}");
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "p");
    let plain = unverified_claims(token.as_str());
    assert_eq!(plain["exp"].as_i64().zip(plain["iat"].as_i64()).map(|(e, i)| e - i), Some(3600));
    ok(&c, &cfg, &["delete", "pod", "p", "--grace-period=0", "--force"]);
    poll("bound token rejected", Duration::from_secs(10), || {
        let out = kubectl(&c, &bcfg, &["auth", "whoami"], None);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (!out.status.success() && err.contains("Unauthorized")).then_some(())
    });
    // The unbound token still works; a tampered one does not.
    ok(&c, &rcfg, &["auth", "whoami"]);
    let mut bad = token.clone();
    bad.pop();
    bad.push(if token.ends_with('A') { 'B' } else { 'A' });
    let badcfg = token_kubeconfig(&c, dir.path(), "bad", &bad);
    let err = fails(&c, &badcfg, &["get", "pods"]);
    assert!(err.contains("error: You must be logged in to the server (Unauthorized)"), "{err}");
    // Invalid requests.
    let err = fails(&c, &cfg, &["create", "token", "robot", "--duration=5m"]);
    assert!(err.contains("may not specify a duration less than 10 minutes"), "{err}");
    let err = fails(&c, &cfg, &["create", "token", "nobody"]);
    assert!(err.contains("serviceaccounts \"nobody\" not found"), "{err}");
}

#[test]
fn bootstrap_and_static_tokens() {
    let tdir = tempfile::tempdir().expect("tmp");
    let tokens = tdir.path().join("tokens.csv");
    std::fs::write(&tokens, "s3cr3t,alice,1001,\"admins,ops\"\n").expect("write");
    let c = Cluster::start_with(&[
        RBAC,
        "--enable-bootstrap-token-auth",
        &format!("--token-auth-file={}", tokens.display()),
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    let acfg = token_kubeconfig(&c, dir.path(), "alice", "s3cr3t");
    let who = ok(&c, &acfg, &["auth", "whoami"]);
    assert!(
        who.contains("alice") && who.contains("1001") && who.contains("[admins ops system:authenticated]"),
        "{who}"
    );
    let secret = |id: &str, exp: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-{id}\n  namespace: kube-system\ntype: bootstrap.kubernetes.io/token\nstringData:\n  token-id: {id}\n  token-secret: 0123456789abcdef\n  expiration: \"{exp}\"\n  usage-bootstrap-authentication: \"true\"\n  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token\n"
        )
    };
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (id, exp) in [("abcdef", &future), ("expird", &past)] {
        let out = kubectl(&c, &cfg, &["create", "-f", "-"], Some(&secret(id, exp)));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let bcfg = token_kubeconfig(&c, dir.path(), "boot", "abcdef.0123456789abcdef");
    let who = poll("bootstrap token works", Duration::from_secs(10), || {
        let out = kubectl(&c, &bcfg, &["auth", "whoami"], None);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(who.contains("system:bootstrap:abcdef"), "{who}");
    assert!(
        who.contains("[system:bootstrappers system:bootstrappers:kubeadm:default-node-token system:authenticated]"),
        "{who}"
    );
    let xcfg = token_kubeconfig(&c, dir.path(), "expired", "expird.0123456789abcdef");
    let err = fails(&c, &xcfg, &["auth", "whoami"]);
    assert!(err.contains("Unauthorized"), "{err}");
    let wcfg = token_kubeconfig(&c, dir.path(), "wrong", "abcdef.0123456789abcdee");
    assert!(fails(&c, &wcfg, &["auth", "whoami"]).contains("Unauthorized"));
}

#[test]
fn rbac_escalation_is_refused() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    // jerome may manage roles and bindings in default, and read pods, nothing more.
    ok(&c, &cfg, &["create", "role", "rbac-manager", "--verb=create,get,list,update", "--resource=roles,rolebindings"]);
    ok(&c, &cfg, &["create", "role", "pod-viewer", "--verb=get,list", "--resource=pods"]);
    ok(&c, &cfg, &["create", "rolebinding", "jerome-rbac", "--role=rbac-manager", "--user=jerome"]);
    ok(&c, &cfg, &["create", "rolebinding", "jerome-pods", "--role=pod-viewer", "--user=jerome"]);
    let as_jerome = ["--as=jerome", "--as-group=devs"];
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&as_jerome);
        kubectl(&c, &cfg, &a, None)
    };
    poll("jerome's rights are in effect", Duration::from_secs(10), || {
        run(&["get", "pods"]).status.success().then_some(())
    });
    // A role within his own rights is fine; one beyond them is refused.
    let out = run(&["create", "role", "mine", "--verb=get", "--resource=pods"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["create", "role", "more", "--verb=delete", "--resource=pods"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("roles.rbac.authorization.k8s.io \"more\" is forbidden: user \"jerome\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}"),
        "{err}"
    );
    // Binding admin to himself is an escalation.
    let out = run(&["create", "rolebinding", "grab", "--clusterrole=admin", "--user=jerome"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rolebindings.rbac.authorization.k8s.io \"grab\" is forbidden: user \"jerome\"")
            && err.contains("is attempting to grant RBAC permissions not currently held"),
        "{err}"
    );
    // ... unless he may `bind` that role.
    ok(&c, &cfg, &["create", "role", "bind-admin", "--verb=bind", "--resource=clusterroles", "--resource-name=admin"]);
    ok(&c, &cfg, &["create", "rolebinding", "jerome-bind", "--role=bind-admin", "--user=jerome"]);
    poll("bind permission in effect", Duration::from_secs(10), || {
        run(&["create", "rolebinding", "grab", "--clusterrole=admin", "--user=jerome"]).status.success().then_some(())
    });
    assert!(!kubectl(&c, &cfg, &["get", "rolebinding", "more"], None).status.success());
}

#[test]
fn seed_003_abac_policy_file() {
    let pdir = tempfile::tempdir().expect("tmp");
    let policy = pdir.path().join("abac.jsonl");
    std::fs::write(
        &policy,
        r#"{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"user": "bob", "namespace": "projectCaribou", "resource": "pods", "readonly": true}}
{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"group": "system:authenticated", "readonly": true, "nonResourcePath": "*"}}
"#,
    )
    .expect("write policy");
    let c = Cluster::start_with(&[
        "--authorization-mode=ABAC",
        &format!("--authorization-policy-file={}", policy.display()),
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    c.api.pki.client("bob", "bob", &[]);
    ok(
        &c,
        &cfg,
        &[
            "config",
            "set-credentials",
            "bob",
            &format!("--client-certificate={}", c.api.pki.path("bob.crt").display()),
            &format!("--client-key={}", c.api.pki.path("bob.key").display()),
        ],
    );
    // (The seed's namespace name is not a valid DNS label, so it cannot exist; listing it is
    // still authorized and answers an empty list.)
    ok(&c, &cfg, &["get", "pods", "-n", "projectCaribou", "--user=bob"]);
    let err = fails(&c, &cfg, &["run", "x", "--image=nginx", "-n", "projectCaribou", "--user=bob"]);
    assert!(
        err.contains("pods is forbidden: User \"bob\" cannot create resource \"pods\" in API group \"\" in the namespace \"projectCaribou\": No policy matched."),
        "{err}"
    );
    let err = fails(&c, &cfg, &["get", "pods", "-n", "default", "--user=bob"]);
    assert!(err.contains("cannot list resource \"pods\""), "{err}");
    // The seed's review, asked for bob in the core group.
    let sar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"bob","resourceAttributes":{"namespace":"projectCaribou","verb":"get","resource":"pods"}}}"#;
    let out = kubectl(&c, &cfg, &["create", "-f", "-", "-o", "json"], Some(sar));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let sar = sar.replace("\"get\"", "\"delete\"");
    let out = kubectl(&c, &cfg, &["create", "-f", "-", "-o", "json"], Some(&sar));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], json!({"allowed": false, "reason": "No policy matched."}));
}

#[test]
fn seed_004_csr_api_approve_and_deny() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    sh(
        dir.path(),
        "openssl req -newkey rsa:2048 -nodes -keyout key.pem -new -subj /CN=jean.doe/O=devs/ -out csr.pem 2>/dev/null",
    );
    let csr_b64 = {
        use std::io::Read;
        let mut s = String::new();
        std::fs::File::open(dir.path().join("csr.pem")).expect("csr").read_to_string(&mut s).expect("read");
        base64_encode(s.as_bytes())
    };
    let csr = |name: &str, signer: &str| {
        format!(
            "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\nspec:\n  request: {csr_b64}\n  signerName: {signer}\n  usages:\n  - digital signature\n  - key encipherment\n  - client auth\n"
        )
    };
    let out =
        kubectl(&c, &cfg, &["apply", "-f", "-"], Some(&csr("user=jean.doe", "kubernetes.io/kube-apiserver-client")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(&ok(&c, &cfg, &["get", "csr", "user=jean.doe", "-o", "json"])).expect("json");
    assert_eq!(v["spec"]["username"], "kubernetes-admin");
    assert_eq!(v["spec"]["groups"], json!(["system:masters", "system:authenticated"]));
    let table = ok(&c, &cfg, &["get", "csr"]);
    assert!(table.contains("user=jean.doe") && table.contains("Pending"), "{table}");
    // Approving needs `approve` on the signer, not just access to the subresource.
    ok(
        &c,
        &cfg,
        &[
            "create",
            "clusterrole",
            "csr-approver",
            "--verb=get,list,update",
            "--resource=certificatesigningrequests,certificatesigningrequests/approval",
        ],
    );
    ok(&c, &cfg, &["create", "clusterrolebinding", "carol-approves", "--clusterrole=csr-approver", "--user=carol"]);
    poll("carol's role in effect", Duration::from_secs(10), || {
        kubectl(&c, &cfg, &["get", "csr", "--as=carol"], None).status.success().then_some(())
    });
    let out = kubectl(&c, &cfg, &["certificate", "approve", "user=jean.doe", "--as=carol"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificatesigningrequests.certificates.k8s.io \"user=jean.doe\" is forbidden: user not permitted to approve requests with signerName \"kubernetes.io/kube-apiserver-client\""),
        "{err}"
    );
    let out = ok(&c, &cfg, &["certificate", "approve", "user=jean.doe"]);
    assert_eq!(out.trim(), "certificatesigningrequest.certificates.k8s.io/user=jean.doe approved");
    let v: Value = serde_json::from_str(&ok(&c, &cfg, &["get", "csr", "user=jean.doe", "-o", "json"])).expect("json");
    let cond = &v["status"]["conditions"][0];
    assert_eq!((cond["type"].as_str(), cond["reason"].as_str()), (Some("Approved"), Some("KubectlApprove")));
    assert!(cond["lastUpdateTime"].is_string() && cond["lastTransitionTime"].is_string(), "{cond}");
    assert!(ok(&c, &cfg, &["get", "csr", "user=jean.doe"]).contains("Approved"));
    // Approved and Denied exclude each other (kubectl checks too, so the server is asked raw).
    let mut both = v.clone();
    both["status"]["conditions"]
        .as_array_mut()
        .expect("conditions")
        .push(json!({"type": "Denied", "status": "True", "reason": "X"}));
    let f = dir.path().join("both.json");
    std::fs::write(&f, both.to_string()).expect("write");
    let err = fails(
        &c,
        &cfg,
        &[
            "replace",
            "--raw",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/user=jean.doe/approval",
            "-f",
            f.to_str().expect("path"),
        ],
    );
    assert!(err.contains("Approved and Denied conditions are mutually exclusive"), "{err}");
    // A second request, denied.
    let out = kubectl(&c, &cfg, &["create", "-f", "-"], Some(&csr("second", "kubernetes.io/kube-apiserver-client")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ok(&c, &cfg, &["certificate", "deny", "second"]).contains("denied"));
    assert!(ok(&c, &cfg, &["get", "csr", "second"]).contains("Denied"));
    // Signer names are validated.
    let err = String::from_utf8_lossy(&kubectl(&c, &cfg, &["create", "-f", "-"], Some(&csr("bad", "nodomain"))).stderr)
        .into_owned();
    assert!(err.contains("spec.signerName"), "{err}");
    // Nobody may ask the client signer for system:masters.
    sh(dir.path(), "openssl req -newkey rsa:2048 -nodes -keyout k2.pem -new -subj /CN=evil/O=system:masters -out m.pem 2>/dev/null");
    let m = base64_encode(&std::fs::read(dir.path().join("m.pem")).expect("read"));
    let body = csr("masters", "kubernetes.io/kube-apiserver-client").replace(&csr_b64, &m);
    let err = String::from_utf8_lossy(&kubectl(&c, &cfg, &["create", "-f", "-"], Some(&body)).stderr).into_owned();
    assert!(
        err.contains("use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"),
        "{err}"
    );
}

fn base64_encode(data: &[u8]) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.expect("base64");
    {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(data).expect("write");
    }
    String::from_utf8(child.wait_with_output().expect("base64").stdout).expect("utf-8")
}

#[test]
fn authenticating_proxy_headers() {
    let pdir = tempfile::tempdir().expect("tmp");
    let ca = pki::new_ca("front-proxy-ca").expect("ca");
    pki::write_pair(pdir.path(), "front-proxy-ca", &ca).expect("write");
    for (name, cn) in [("proxy", "front-proxy-client"), ("other", "someone-else")] {
        let leaf = pki::issue(&ca, &pki::LeafSpec { common_name: cn.into(), client: true, ..Default::default() })
            .expect("leaf");
        pki::write_pair(pdir.path(), name, &leaf).expect("write");
    }
    let c = Cluster::start_with(&[
        RBAC,
        &format!("--requestheader-client-ca-file={}", pdir.path().join("front-proxy-ca.crt").display()),
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    ]);
    let review = |pair: &str, headers: &[&str]| {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(c.api.pki.path("ca.crt"))
            .arg("--cert")
            .arg(pdir.path().join(format!("{pair}.crt")))
            .arg("--key")
            .arg(pdir.path().join(format!("{pair}.key")))
            .args(["-X", "POST", "-H", "Content-Type: application/json"]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        cmd.args(["-d", r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#])
            .arg(format!("{}/apis/authentication.k8s.io/v1/selfsubjectreviews", c.api.url()));
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (code.to_string(), serde_json::from_str::<Value>(body).unwrap_or(Value::Null))
    };
    let (code, v) = poll("policy lets users review themselves", Duration::from_secs(30), || {
        let r = review(
            "proxy",
            &["X-Remote-User: alice", "X-Remote-Group: devs", "X-Remote-Group: ops", "X-Remote-Extra-Scopes: openid"],
        );
        (r.0 == "201").then_some(r)
    });
    assert_eq!(code, "201");
    assert_eq!(
        v["status"]["userInfo"],
        json!({"username": "alice", "groups": ["devs", "ops", "system:authenticated"], "extra": {"scopes": ["openid"]}})
    );
    // A certificate from the proxy CA with another name is not a trusted proxy (and not a
    // client certificate either): 401.
    // (A transport failure under load, curl's "000", is retried.)
    let code = poll("an HTTP answer", Duration::from_secs(30), || {
        let c = review("other", &["X-Remote-User: alice"]).0;
        (c != "000").then_some(c)
    });
    assert_eq!(code, "401");
}

#[test]
fn node_authorizer_and_node_restriction() {
    // (No controller-manager creates the default service account: ServiceAccount is off.)
    let c = Cluster::start_with(&[
        RBAC,
        "--enable-admission-plugins=NodeRestriction",
        "--disable-admission-plugins=ServiceAccount",
    ]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    let objects = r#"apiVersion: v1
kind: Node
metadata: {name: node1}
---
apiVersion: v1
kind: Node
metadata: {name: node2}
---
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {k: one}
---
apiVersion: v1
kind: Secret
metadata: {name: s2}
stringData: {k: two}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm2}
data: {k: two}
---
apiVersion: v1
kind: Pod
metadata: {name: p1}
spec:
  nodeName: node1
  containers: [{name: c, image: nginx}]
  volumes: [{name: s, secret: {secretName: s1}}]
---
apiVersion: v1
kind: Pod
metadata: {name: p2}
spec:
  nodeName: node2
  containers: [{name: c, image: nginx, envFrom: [{configMapRef: {name: cm2}}]}]
  volumes: [{name: s, secret: {secretName: s2}}]
"#;
    let out = kubectl(&c, &cfg, &["create", "-f", "-"], Some(objects));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.pki.client("node1", "system:node:node1", &["system:nodes"]);
    ok(
        &c,
        &cfg,
        &[
            "config",
            "set-credentials",
            "node1",
            &format!("--client-certificate={}", c.api.pki.path("node1.crt").display()),
            &format!("--client-key={}", c.api.pki.path("node1.key").display()),
        ],
    );
    let node1 = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--user=node1");
        kubectl(&c, &cfg, &a, None)
    };
    // The secret of its own pod is readable (once the graph has seen the pod).
    poll("node1 reads its pod's secret", Duration::from_secs(10), || {
        node1(&["get", "secret", "s1", "-o", "name"]).status.success().then_some(())
    });
    for (kind, name) in [("secret", "s2"), ("configmap", "cm2")] {
        let out = node1(&["get", kind, name]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{kind}s \"{name}\" is forbidden: User \"system:node:node1\" cannot get resource \"{kind}s\" in API group \"\" in the namespace \"default\": no relationship found between node 'node1' and this object"
            )),
            "{err}"
        );
    }
    // Listing secrets is not a node's business.
    assert!(!node1(&["get", "secrets"]).status.success());
    // Its own node status may change; node2's may not (NodeRestriction). A kubelet patches
    // status without reading it first (system:node may not get nodes/status), as curl does here.
    let patch_status = |node: &str| {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(c.api.pki.path("ca.crt"))
            .arg("--cert")
            .arg(c.api.pki.path("node1.crt"))
            .arg("--key")
            .arg(c.api.pki.path("node1.key"))
            .args(["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json"])
            .args(["-d", r#"{"status":{"capacity":{"cpu":"2"}}}"#])
            .arg(format!("{}/api/v1/nodes/{node}/status", c.api.url()))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(patch_status("node1").ends_with("\n200"), "{}", patch_status("node1"));
    let out = patch_status("node2");
    assert!(out.ends_with("\n403"), "{out}");
    assert!(
        out.contains(
            "nodes \\\"node2\\\" is forbidden: node \\\"node1\\\" is not allowed to modify node \\\"node2\\\""
        ),
        "{out}"
    );
    // Reading another Node is refused too (kubectl label reads first).
    let out = node1(&["label", "node", "node2", "stolen=yes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node 'node1' cannot read 'node2', only its own Node object"), "{err}");
    // Deleting the pod removes the relationship.
    ok(&c, &cfg, &["delete", "pod", "p1", "--grace-period=0", "--force"]);
    poll("node1 loses the secret", Duration::from_secs(10), || {
        (!node1(&["get", "secret", "s1"]).status.success()).then_some(())
    });
}

#[test]
fn legacy_secret_tokens_and_immortal_namespaces() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    ok(&c, &cfg, &["create", "serviceaccount", "robot"]);
    let uid = ok(&c, &cfg, &["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"]);
    // A token as the (controller-manager's) token controller mints them, signed with the
    // cluster's service-account key.
    let key = std::fs::read(c.api.pki.path("sa.key")).expect("sa.key");
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "default",
        "kubernetes.io/serviceaccount/secret.name": "robot-token",
        "kubernetes.io/serviceaccount/service-account.name": "robot",
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": "system:serviceaccount:default:robot",
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(&key).expect("ec key"),
    )
    .expect("sign");
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n  annotations: {{kubernetes.io/service-account.name: robot, kubernetes.io/service-account.uid: {uid}}}\ntype: kubernetes.io/service-account-token\nstringData:\n  token: {token}\n"
    );
    let out = kubectl(&c, &cfg, &["create", "-f", "-"], Some(&secret));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tcfg = token_kubeconfig(&c, dir.path(), "legacy", &token);
    let who = poll("the legacy token works", Duration::from_secs(10), || {
        let out = kubectl(&c, &tcfg, &["auth", "whoami"], None);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(who.contains("system:serviceaccount:default:robot"), "{who}");
    // Legacy token tracking: the apiserver has recorded since when it tracks (a date) ...
    let since = ok(
        &c,
        &cfg,
        &[
            "get",
            "cm",
            "-n",
            "kube-system",
            "kube-apiserver-legacy-service-account-token-tracking",
            "-o",
            "jsonpath={.data.since}",
        ],
    );
    assert!(chrono::NaiveDate::parse_from_str(&since, "%Y-%m-%d").is_ok(), "since: {since:?}");
    // ... and labels the Secret with the day of use.
    let label = |k: &str| {
        let path = format!("jsonpath={{.metadata.labels.{}}}", k.replace('.', "\\."));
        ok(&c, &cfg, &["get", "secret", "robot-token", "-o", &path])
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let used = label("kubernetes.io/legacy-token-last-used");
    assert!(used == today || used == tomorrow, "last used: {used:?}");
    // A token the cleaner marked invalid no longer authenticates, until the label goes.
    ok(&c, &cfg, &["label", "secret", "robot-token", "kubernetes.io/legacy-token-invalid-since=2020-01-02"]);
    poll("the invalidated token is refused", Duration::from_secs(10), || {
        (!kubectl(&c, &tcfg, &["auth", "whoami"], None).status.success()).then_some(())
    });
    ok(&c, &cfg, &["label", "secret", "robot-token", "kubernetes.io/legacy-token-invalid-since-"]);
    poll("the token works again", Duration::from_secs(10), || {
        kubectl(&c, &tcfg, &["auth", "whoami"], None).status.success().then_some(())
    });
    // Deleting the secret revokes it.
    ok(&c, &cfg, &["delete", "secret", "robot-token"]);
    poll("revoked", Duration::from_secs(10), || {
        (!kubectl(&c, &tcfg, &["auth", "whoami"], None).status.success()).then_some(())
    });
    // NamespaceLifecycle keeps the system namespaces.
    let err = fails(&c, &cfg, &["delete", "namespace", "kube-system"]);
    assert!(err.contains("namespaces \"kube-system\" is forbidden: this namespace may not be deleted"), "{err}");
}

#[test]
fn malformed_review_and_token_bodies_are_refused_cleanly() {
    let c = Cluster::start_with(&[RBAC]);
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = own_kubeconfig(&c, dir.path());
    wait_for_policy(&c, &cfg);
    ok(&c, &cfg, &["create", "serviceaccount", "robot"]);
    let post = |path: &str, body: &str| {
        let out = c
            .api
            .curl()
            .args(["-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/json", "-d", body])
            .arg(format!("{}{path}", c.api.url()))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (code.to_string(), serde_json::from_str::<Value>(body).unwrap_or(Value::Null))
    };
    for (path, body) in [
        ("/api/v1/namespaces/default/serviceaccounts/robot/token", r#"{"spec":"x"}"#),
        ("/api/v1/namespaces/default/serviceaccounts/robot/token", r#"{"spec":{"audiences":[1]}}"#),
        ("/api/v1/namespaces/default/serviceaccounts/robot/token", "not json"),
        ("/apis/authorization.k8s.io/v1/subjectaccessreviews", r#"{"spec":{"user":5}}"#),
        ("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", r#"{"spec":[]}"#),
        ("/apis/authentication.k8s.io/v1/tokenreviews", r#"{"spec":{"token":{}}}"#),
        ("/apis/authentication.k8s.io/v1/tokenreviews", r#"{"spec":{}}"#),
    ] {
        let (code, v) = post(path, body);
        assert!(code.starts_with('4'), "{path} {body}: {code} {v}");
        assert_eq!(v["kind"], "Status", "{path} {body}: {v}");
    }
    // kubectl's own requests still work after the stricter decoding.
    assert_eq!(ok(&c, &cfg, &["create", "token", "robot"]).trim().split('.').count(), 3);
}
