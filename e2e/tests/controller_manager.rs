//! kube-controller-manager against the real apiserver, started as kubeadm starts it (its own
//! identity, `--use-service-account-credentials`, ServiceAccount admission on). There is no
//! kubelet yet: a "fake kubelet" here binds pods and marks them Running and Ready through the
//! API, as kwok does.

use e2e::kwok::{apply, get, live, owned_by, pods, renew_lease, FakeKubelet, K};
use e2e::{kwok, poll, Cluster, ControllerManager};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn cluster(extra: &[&str]) -> Cluster {
    let mut args = vec!["--enable-admission-plugins=NodeRestriction", "--authorization-mode=Node,RBAC"];
    args.extend_from_slice(extra);
    Cluster::start_with(&args)
}

#[test]
fn namespaces_get_a_default_service_account_and_the_root_ca() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    let ca = std::fs::read_to_string(c.api.pki.path("ca.crt")).expect("ca");

    c.api.kubectl_ok(K, &["create", "ns", "demo"]);
    let sa = poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "demo"]));
    let cm = poll("kube-root-ca.crt", WAIT, || get(&c, &["cm", "kube-root-ca.crt", "-n", "demo"]));
    assert_eq!(cm["data"]["ca.crt"], ca.as_str(), "{cm}");
    assert!(cm["metadata"]["annotations"]["kubernetes.io/description"]
        .as_str()
        .unwrap_or("")
        .starts_with("Contains a CA bundle"));
    // Every namespace that already existed too.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        poll(&format!("default service account in {ns}"), WAIT, || get(&c, &["sa", "default", "-n", ns]));
        poll(&format!("kube-root-ca.crt in {ns}"), WAIT, || get(&c, &["cm", "kube-root-ca.crt", "-n", ns]));
    }

    // Deleted or changed, they come back.
    c.api.kubectl_ok(K, &["delete", "sa", "default", "-n", "demo"]);
    poll("default service account recreated", WAIT, || {
        get(&c, &["sa", "default", "-n", "demo"]).filter(|s| s["metadata"]["uid"] != sa["metadata"]["uid"])
    });
    c.api.kubectl_ok(
        K,
        &["-n", "demo", "patch", "cm", "kube-root-ca.crt", "--type=merge", "-p", r#"{"data":{"ca.crt":"tampered"}}"#],
    );
    poll("kube-root-ca.crt restored", WAIT, || {
        get(&c, &["cm", "kube-root-ca.crt", "-n", "demo"]).filter(|cm| cm["data"]["ca.crt"] == ca.as_str())
    });
    c.api.kubectl_ok(K, &["-n", "demo", "delete", "cm", "kube-root-ca.crt"]);
    poll("kube-root-ca.crt recreated", WAIT, || get(&c, &["cm", "kube-root-ca.crt", "-n", "demo"]));

    // Seed 004's service-account story: with ServiceAccount admission on, a pod gets the
    // projected token volume, unless it opts out.
    c.api.kubectl_ok(K, &["-n", "demo", "run", "with-token", "--image=nginx"]);
    let pod = get(&c, &["pod", "with-token", "-n", "demo"]).expect("pod");
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    let vols = pod["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    let token =
        vols.iter().find(|v| v["name"].as_str().unwrap_or("").starts_with("kube-api-access-")).expect("token volume");
    let sources = token["projected"]["sources"].as_array().expect("projected");
    assert!(sources.iter().any(|s| s["serviceAccountToken"]["path"] == "token"), "{token}");
    assert!(sources.iter().any(|s| s["configMap"]["name"] == "kube-root-ca.crt"), "{token}");
    let opt_out = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"no-token"},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"c","image":"nginx"}]}}"#;
    let out = c.api.kubectl_stdin(K, &["-n", "demo", "create", "-f", "-"], Some(opt_out));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pod = get(&c, &["pod", "no-token", "-n", "demo"]).expect("pod");
    assert!(pod["spec"]["volumes"].as_array().is_none_or(|v| v.is_empty()), "{pod}");

    // Each controller acts as its own service account in kube-system.
    for sa in ["service-account-controller", "root-ca-cert-publisher", "replicaset-controller"] {
        assert!(get(&c, &["sa", sa, "-n", "kube-system"]).is_some(), "{sa}\n{}", kcm.log());
    }
}

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx
"#;

#[test]
fn replica_sets_keep_their_pods_and_report_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [\"pods\"]\n").expect("policy");
    let audit = dir.path().join("audit.log");
    let c = cluster(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", audit.display()),
    ]);
    let kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));

    apply(&c, RS);
    let rs = get(&c, &["rs", "web"]).expect("rs");
    let uid = rs["metadata"]["uid"].as_str().expect("uid").to_string();
    poll("three pods", WAIT, || {
        let ps = live(&pods(&c, "default", "app=web"));
        (ps.len() == 3 && ps.iter().all(|p| owned_by(p, &uid))).then_some(())
    });
    // Exactly three, and they stay three (expectations: no duplicates).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(live(&pods(&c, "default", "app=web")).len(), 3, "{}", kcm.log());
    for p in pods(&c, "default", "app=web") {
        assert!(p["metadata"]["name"].as_str().unwrap().starts_with("web-"), "{p}");
    }

    // Scale up; the fake kubelet makes them ready; status follows.
    c.api.kubectl_ok(K, &["scale", "rs", "web", "--replicas=5"]);
    poll("five pods", WAIT, || (live(&pods(&c, "default", "app=web")).len() == 5).then_some(()));
    kwok::ready_once(&c, "default", "app=web", "node-1");
    let st = poll("ready status", WAIT, || {
        get(&c, &["rs", "web"])
            .filter(|rs| rs["status"]["readyReplicas"] == 5 && rs["status"]["availableReplicas"] == 5)
    });
    assert_eq!(st["status"]["replicas"], 5);
    assert_eq!(st["status"]["fullyLabeledReplicas"], 5);
    assert_eq!(st["status"]["observedGeneration"], st["metadata"]["generation"]);

    // Scale down to two.
    c.api.kubectl_ok(K, &["scale", "rs", "web", "--replicas=2"]);
    poll("two pods", WAIT, || (live(&pods(&c, "default", "app=web")).len() == 2).then_some(()));

    // A matching orphan is adopted, and then one pod too many is deleted: the unscheduled
    // orphan, which ranks first for deletion.
    c.api.kubectl_ok(K, &["run", "orphan", "--image=nginx", "--labels=app=web"]);
    poll("orphan adopted and removed", WAIT, || {
        let ps = live(&pods(&c, "default", "app=web"));
        (ps.len() == 2 && ps.iter().all(|p| owned_by(p, &uid) && p["metadata"]["name"] != "orphan")).then_some(())
    });

    // A pod whose labels stop matching is released and replaced.
    let victim = live(&pods(&c, "default", "app=web"))[0]["metadata"]["name"].as_str().unwrap().to_string();
    c.api.kubectl_ok(K, &["label", "pod", &victim, "app=other", "--overwrite"]);
    poll("released and replaced", WAIT, || {
        let released = get(&c, &["pod", &victim])?;
        let ps = live(&pods(&c, "default", "app=web"));
        (released["metadata"]["ownerReferences"].as_array().is_none_or(|r| r.is_empty()) && ps.len() == 2).then_some(())
    });

    // Events say what happened.
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=web"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("Created pod: web-"), "{events}");
    assert!(events.contains("SuccessfulDelete"), "{events}");

    // --use-service-account-credentials: the pods were created as the controller's own
    // service account.
    let log = std::fs::read_to_string(&audit).expect("audit log");
    let creator = log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|e| {
        e["verb"] == "create"
            && e["objectRef"]["resource"] == "pods"
            && e["objectRef"]["subresource"].is_null()
            && e["stage"] == "ResponseComplete"
            && e["responseStatus"]["code"] == 201
            && e["user"]["username"] != "kubernetes-admin"
    });
    let creator = creator.expect("a pod create in the audit log");
    assert_eq!(creator["user"]["username"], "system:serviceaccount:kube-system:replicaset-controller", "{creator}");
    assert!(creator["userAgent"].as_str().unwrap_or("").starts_with("kube-controller-manager/"), "{creator}");
}

#[test]
fn the_secure_port_serves_health_and_guards_metrics() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    assert_eq!(kcm.curl("/healthz", &[]), (200, "ok".to_string()));
    // Each controller adds its check once started.
    let body = poll("the replicaset-controller health check", WAIT, || {
        let (code, body) = kcm.curl("/healthz?verbose", &[]);
        (code == 200 && body.contains("[+]replicaset-controller ok")).then_some(body)
    });
    assert!(body.contains("[+]ping ok") && body.ends_with("healthz check passed\n"), "{body}");
    assert_eq!(kcm.curl("/livez", &[]).0, 200);
    assert_eq!(kcm.curl("/readyz", &[]).0, 200);

    let (code, body) = kcm.curl("/metrics", &[]);
    assert_eq!(code, 403, "{body}");
    let status: Value = serde_json::from_str(&body).expect("Status");
    assert_eq!(status["message"], "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"");
    let (code, body) = kcm.curl("/metrics", &["-H", "Authorization: Bearer not-a-token"]);
    assert_eq!(code, 401, "{body}");

    let cert = c.api.pki.path("admin.crt").display().to_string();
    let key = c.api.pki.path("admin.key").display().to_string();
    let (code, body) = kcm.curl("/metrics", &["--cert", &cert, "--key", &key]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("workqueue_adds_total{name=\"replicaset\"}"), "{body}");
    let (code, body) = kcm.curl("/configz", &["--cert", &cert, "--key", &key]);
    assert_eq!(code, 200, "{body}");
    let cfg: Value = serde_json::from_str(&body).expect("configz");
    assert_eq!(cfg["componentconfig"]["Generic"]["ClientConnection"]["QPS"], 20.0);

    // A service account token is checked with a TokenReview and authorized with a
    // SubjectAccessReview: allowed once RBAC grants the path.
    c.api.kubectl_ok(K, &["create", "sa", "scraper"]);
    c.api.kubectl_ok(K, &["create", "clusterrole", "metrics-reader", "--verb=get", "--non-resource-url=/metrics"]);
    c.api.kubectl_ok(
        K,
        &[
            "create",
            "clusterrolebinding",
            "scraper",
            "--clusterrole=metrics-reader",
            "--serviceaccount=default:scraper",
        ],
    );
    let token = c.api.kubectl_ok(K, &["create", "token", "scraper"]);
    let bearer = format!("Authorization: Bearer {}", token.trim());
    let (code, body) = kcm.curl("/metrics", &["-H", &bearer]);
    assert_eq!(code, 200, "{body}");
    let (code, _) = kcm.curl("/configz", &["-H", &bearer]);
    assert_eq!(code, 403);
}

#[test]
fn leader_election_hands_over_when_the_leader_dies_without_duplicate_pods() {
    let c = cluster(&[]);
    let le = [
        "--leader-elect=true",
        "--leader-elect-lease-duration=4s",
        "--leader-elect-renew-deadline=3s",
        "--leader-elect-retry-period=1s",
    ];
    let mut a = ControllerManager::start_named(&c.api, "kcm-a", &le);
    let lease = poll("the lease", WAIT, || {
        get(&c, &["lease", "kube-controller-manager", "-n", "kube-system"])
            .filter(|l| l["spec"]["holderIdentity"].is_string())
    });
    let first = lease["spec"]["holderIdentity"].as_str().unwrap().to_string();
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 4);
    let b = ControllerManager::start_named(&c.api, "kcm-b", &le);

    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    apply(&c, &RS.replace("replicas: 3", "replicas: 10"));
    poll("ten pods", WAIT, || (live(&pods(&c, "default", "app=web")).len() == 10).then_some(()));

    // The leader crashes; the other takes over within the lease duration (plus its retry
    // period and the time to notice).
    let killed_at = std::time::Instant::now();
    a.kill9();
    let lease = poll("a new holder", Duration::from_secs(20), || {
        get(&c, &["lease", "kube-controller-manager", "-n", "kube-system"])
            .filter(|l| l["spec"]["holderIdentity"] != first.as_str())
    });
    assert!(killed_at.elapsed() < Duration::from_secs(4 + 1 + 3), "took {:?}", killed_at.elapsed());
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    c.api.kubectl_ok(K, &["scale", "rs", "web", "--replicas=20"]);
    poll("twenty pods", WAIT, || (live(&pods(&c, "default", "app=web")).len() == 20).then_some(()));
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(live(&pods(&c, "default", "app=web")).len(), 20, "{}", b.log());
}

#[test]
fn unknown_controllers_are_refused_and_disabled_ones_logged() {
    let c = cluster(&[]);
    let out = std::process::Command::new(e2e::bin_dir().join("kube-controller-manager"))
        .args(["--controllers=*,nope", &format!("--kubeconfig={}", c.api.kubeconfig.display())])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\" is not in the list of known controllers"));
    let kcm = ControllerManager::start(&c.api, &["--controllers=*,-replicaset"]);
    let log = poll("start-up logged", WAIT, || {
        let l = kcm.log();
        // The last controller of the table.
        l.contains("controller=\"selinux-warning-controller\"").then_some(l)
    });
    assert!(log.contains("Warning: controller is disabled controller=\"replicaset-controller\""), "{log}");
    assert!(log.contains("Warning: controller is disabled controller=\"bootstrap-signer-controller\""), "{log}");
    assert!(log.contains("Started controller controller=\"serviceaccount-controller\""), "{log}");
}

fn replica_sets(c: &Cluster, selector: &str) -> Vec<Value> {
    get(c, &["rs", "-l", selector]).map(|l| l["items"].as_array().cloned().unwrap_or_default()).unwrap_or_default()
}

#[test]
fn seed_004_deployment_rollout_scale_undo_and_history() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    let _kubelet = FakeKubelet::start(&c, "default");

    // A Deployment makes a ReplicaSet, which makes a Pod.
    c.api.kubectl_ok(K, &["create", "deployment", "web", "--image=nginx"]);
    let rs = poll("a replica set", WAIT, || replica_sets(&c, "app=web").into_iter().next());
    let first_hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().expect("hash").to_string();
    assert_eq!(rs["metadata"]["name"], format!("web-{first_hash}"));
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    assert_eq!(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], first_hash.as_str());
    poll("one ready pod", WAIT, || {
        get(&c, &["deploy", "web"])
            .filter(|d| d["status"]["availableReplicas"] == 1 && d["status"]["readyReplicas"] == 1)
    });
    let out = c.api.kubectl_ok(K, &["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = get(&c, &["deploy", "web"]).expect("deployment");
    let conds = d["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let cond = |t: &str| conds.iter().find(|c| c["type"] == t).cloned().unwrap_or(Value::Null);
    assert_eq!(cond("Available")["reason"], "MinimumReplicasAvailable", "{d}");
    assert_eq!(cond("Progressing")["reason"], "NewReplicaSetAvailable", "{d}");
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");

    // Scale: the same ReplicaSet grows.
    c.api.kubectl_ok(K, &["scale", "deployment", "web", "--replicas=5"]);
    poll("five available", WAIT, || get(&c, &["deploy", "web"]).filter(|d| d["status"]["availableReplicas"] == 5));
    assert_eq!(replica_sets(&c, "app=web").len(), 1);

    // A new image: a second ReplicaSet; the total never exceeds replicas + maxSurge (5 + 2)
    // nor do available pods drop below replicas - maxUnavailable (5 - 1).
    c.api.kubectl_ok(K, &["set", "image", "deployment/web", "nginx=nginx:1.25"]);
    let mut max_total = 0;
    let mut min_available = i64::MAX;
    poll("the rollout to finish", Duration::from_secs(60), || {
        let sets = replica_sets(&c, "app=web");
        let total: i64 = sets.iter().map(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(0)).sum();
        let available: i64 = sets.iter().map(|rs| rs["status"]["availableReplicas"].as_i64().unwrap_or(0)).sum();
        max_total = max_total.max(total);
        min_available = min_available.min(available);
        let d = get(&c, &["deploy", "web"])?;
        (d["status"]["updatedReplicas"] == 5
            && d["status"]["availableReplicas"] == 5
            && d["status"]["replicas"] == 5
            && sets.len() == 2)
            .then_some(())
    });
    assert!(max_total <= 7, "surged to {max_total}");
    assert!(min_available >= 4, "availability fell to {min_available}");
    let out = c.api.kubectl_ok(K, &["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let sets = replica_sets(&c, "app=web");
    let old =
        sets.iter().find(|rs| rs["metadata"]["labels"]["pod-template-hash"] == first_hash.as_str()).expect("old rs");
    assert_eq!(old["spec"]["replicas"], 0);
    let new =
        sets.iter().find(|rs| rs["metadata"]["labels"]["pod-template-hash"] != first_hash.as_str()).expect("new rs");
    assert_eq!(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=web"]);
    assert!(events.contains("ScalingReplicaSet") && events.contains("Scaled up replica set web-"), "{events}");

    // History and undo: back to the first template, whose ReplicaSet becomes revision 3.
    let history = c.api.kubectl_ok(K, &["rollout", "history", "deployment/web"]);
    assert!(history.contains("REVISION") && history.contains('1') && history.contains('2'), "{history}");
    c.api.kubectl_ok(K, &["rollout", "undo", "deployment/web"]);
    poll("the first replica set back", Duration::from_secs(60), || {
        let sets = replica_sets(&c, "app=web");
        let first =
            sets.iter().find(|rs| rs["metadata"]["labels"]["pod-template-hash"] == first_hash.as_str())?.clone();
        let d = get(&c, &["deploy", "web"])?;
        (first["spec"]["replicas"] == 5
            && first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            && d["status"]["updatedReplicas"] == 5
            && d["status"]["availableReplicas"] == 5
            && d["status"]["replicas"] == 5)
            .then_some(())
    });
    let d = get(&c, &["deploy", "web"]).expect("deployment");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx");
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    let first = replica_sets(&c, "app=web")
        .into_iter()
        .find(|rs| rs["metadata"]["labels"]["pod-template-hash"] == first_hash.as_str())
        .unwrap();
    assert_eq!(first["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1");

    // Pause: template changes wait; resume: they roll out.
    c.api.kubectl_ok(K, &["rollout", "pause", "deployment/web"]);
    poll("paused condition", WAIT, || {
        get(&c, &["deploy", "web"]).filter(|d| {
            d["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["reason"] == "DeploymentPaused"))
        })
    });
    c.api.kubectl_ok(K, &["set", "image", "deployment/web", "nginx=nginx:1.26"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(replica_sets(&c, "app=web").len(), 2, "a paused deployment rolled out");
    c.api.kubectl_ok(K, &["rollout", "resume", "deployment/web"]);
    poll("the resumed rollout", Duration::from_secs(60), || {
        let d = get(&c, &["deploy", "web"])?;
        (replica_sets(&c, "app=web").len() == 3
            && d["status"]["updatedReplicas"] == 5
            && d["status"]["availableReplicas"] == 5
            && d["status"]["replicas"] == 5)
            .then_some(())
    });
    let out = c.api.kubectl_ok(K, &["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.contains("successfully rolled out"), "{out}\n{}", kcm.log());

    // Restart: a new ReplicaSet with the restartedAt annotation.
    c.api.kubectl_ok(K, &["rollout", "restart", "deployment/web"]);
    poll("the restart", Duration::from_secs(60), || (replica_sets(&c, "app=web").len() == 4).then_some(()));
}

#[test]
fn recreate_deployments_scale_down_before_up() {
    let c = cluster(&[]);
    let _kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    let _kubelet = FakeKubelet::start(&c, "default");
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: rc, namespace: default}
spec:
  replicas: 3
  strategy: {type: Recreate}
  selector: {matchLabels: {app: rc}}
  template:
    metadata: {labels: {app: rc}}
    spec: {containers: [{name: c, image: nginx}]}
"#;
    apply(&c, yaml);
    poll("three available", WAIT, || get(&c, &["deploy", "rc"]).filter(|d| d["status"]["availableReplicas"] == 3));
    c.api.kubectl_ok(K, &["set", "image", "deployment/rc", "c=nginx:2"]);
    let mut overlap = false;
    poll("the recreate", Duration::from_secs(60), || {
        let sets = replica_sets(&c, "app=rc");
        let busy = sets
            .iter()
            .filter(|rs| {
                rs["spec"]["replicas"].as_i64().unwrap_or(0) > 0 || rs["status"]["replicas"].as_i64().unwrap_or(0) > 0
            })
            .count();
        overlap |= busy > 1 && sets.iter().all(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(0) > 0);
        let d = get(&c, &["deploy", "rc"])?;
        (sets.len() == 2
            && d["status"]["updatedReplicas"] == 3
            && d["status"]["availableReplicas"] == 3
            && d["status"]["replicas"] == 3)
            .then_some(())
    });
    assert!(!overlap, "old and new replica sets ran together");
}

fn deployment_yaml(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: nginx}}]}}\n"
    )
}

#[test]
fn deleting_owners_cascades_background_foreground_and_orphan() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    let _kubelet = FakeKubelet::start(&c, "default");
    for name in ["bg", "fg", "orph"] {
        apply(&c, &deployment_yaml(name, 2));
    }
    for name in ["bg", "fg", "orph"] {
        poll(&format!("{name} available"), WAIT, || {
            get(&c, &["deploy", name]).filter(|d| d["status"]["availableReplicas"] == 2)
        });
    }

    // Background (kubectl's default): the Deployment goes at once, then its ReplicaSet and pods.
    c.api.kubectl_ok(K, &["delete", "deployment", "bg"]);
    poll("bg's replica set and pods collected", WAIT, || {
        (replica_sets(&c, "app=bg").is_empty() && pods(&c, "default", "app=bg").is_empty()).then_some(())
    });

    // Orphan: the ReplicaSet and pods stay, without the owner reference.
    c.api.kubectl_ok(K, &["delete", "deployment", "orph", "--cascade=orphan"]);
    poll("orph's replica set orphaned", WAIT, || {
        let sets = replica_sets(&c, "app=orph");
        (get(&c, &["deploy", "orph"]).is_none()
            && sets.len() == 1
            && sets[0]["metadata"]["ownerReferences"].as_array().is_none_or(|r| r.is_empty()))
        .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(live(&pods(&c, "default", "app=orph")).len(), 2, "orphaned pods were deleted\n{}", kcm.log());

    // Foreground: children first. The Deployment stays (with the foregroundDeletion finalizer)
    // while its ReplicaSet exists, and the ReplicaSet while its pods exist.
    c.api.kubectl_ok(K, &["delete", "deployment", "fg", "--cascade=foreground", "--wait=false"]);
    let d = get(&c, &["deploy", "fg"]).expect("fg while its children go");
    assert!(d["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion")), "{d}");
    poll("fg gone, children first", Duration::from_secs(60), || {
        let (dep, sets, ps) = (get(&c, &["deploy", "fg"]), replica_sets(&c, "app=fg"), pods(&c, "default", "app=fg"));
        assert!(dep.is_some() || sets.is_empty(), "the deployment went before its replica set");
        assert!(!sets.is_empty() || ps.is_empty(), "the replica set went before its pods");
        (dep.is_none() && sets.is_empty() && ps.is_empty()).then_some(())
    });

    // Dangling owners: an object whose only owner never existed is collected; one with a live
    // owner too only loses the dangling reference.
    let owner = get(&c, &["cm", "kube-root-ca.crt"]).expect("owner");
    let live_ref =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "kube-root-ca.crt", "uid": owner["metadata"]["uid"]});
    let dead_ref =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "7f3c0f59-0000-4000-8000-000000000000"});
    let only_dead = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dangling", "ownerReferences": [dead_ref]}});
    let both = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "half", "ownerReferences": [live_ref, dead_ref]}});
    for obj in [only_dead, both] {
        let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&obj.to_string()));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    poll("dangling collected", WAIT, || get(&c, &["cm", "dangling"]).is_none().then_some(()));
    let half = poll("dangling reference dropped", WAIT, || {
        get(&c, &["cm", "half"]).filter(|cm| cm["metadata"]["ownerReferences"].as_array().is_some_and(|r| r.len() == 1))
    });
    assert_eq!(half["metadata"]["ownerReferences"][0]["name"], "kube-root-ca.crt");
}

#[test]
fn deleting_a_namespace_removes_everything_in_it_then_the_namespace() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    c.api.kubectl_ok(K, &["create", "ns", "doomed"]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "doomed"]));
    let _kubelet = FakeKubelet::start(&c, "doomed");
    let n = ["-n", "doomed"];
    let run = |args: &[&str]| {
        let mut a = n.to_vec();
        a.extend_from_slice(args);
        c.api.kubectl_ok(K, &a);
    };
    run(&["create", "configmap", "cm", "--from-literal=a=b"]);
    run(&["create", "secret", "generic", "s", "--from-literal=a=b"]);
    run(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    run(&["create", "service", "clusterip", "svc", "--tcp=80:80"]);
    run(&["create", "serviceaccount", "robot"]);
    run(&["create", "role", "r", "--verb=get", "--resource=pods"]);
    run(&["create", "rolebinding", "rb", "--role=r", "--serviceaccount=doomed:robot"]);
    run(&["create", "job", "j", "--image=busybox"]);
    let held = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}"#;
    let out = c.api.kubectl_stdin(K, &["-n", "doomed", "create", "-f", "-"], Some(held));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    poll("web's pods", WAIT, || (live(&pods(&c, "doomed", "app=web")).len() == 2).then_some(()));

    c.api.kubectl_ok(K, &["delete", "ns", "doomed", "--wait=false"]);
    // The held ConfigMap blocks the namespace (once the pods' deletion is through), and the
    // conditions say so.
    let ns = poll("only the held ConfigMap remaining", Duration::from_secs(60), || {
        get(&c, &["ns", "doomed"]).filter(|ns| {
            ns["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True")
                    && cs.iter().any(|c| {
                        c["type"] == "NamespaceContentRemaining"
                            && c["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
                    })
            })
        })
    });
    assert_eq!(ns["status"]["phase"], "Terminating");
    let conds = ns["status"]["conditions"].as_array().unwrap();
    let fin = conds.iter().find(|c| c["type"] == "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(fin["reason"], "SomeFinalizersRemain");
    assert_eq!(
        fin["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    let remain = conds.iter().find(|c| c["type"] == "NamespaceContentRemaining").unwrap();
    assert_eq!(remain["message"], "Some resources are remaining: configmaps. has 1 resource instances", "{ns}");
    let ok = conds.iter().find(|c| c["type"] == "NamespaceDeletionDiscoveryFailure").unwrap();
    assert_eq!((ok["status"].as_str(), ok["reason"].as_str()), (Some("False"), Some("ResourcesDiscovered")));
    for kind in ["secret", "deploy", "svc", "role", "rolebinding", "job"] {
        let names = c.api.kubectl_ok(K, &["-n", "doomed", "get", kind, "-o", "name"]);
        assert!(names.trim().is_empty(), "{kind} left: {names}");
    }

    // Release the held ConfigMap: the namespace goes.
    c.api.kubectl_ok(
        K,
        &["-n", "doomed", "patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
    );
    poll("the namespace gone", Duration::from_secs(60), || get(&c, &["ns", "doomed"]).is_none().then_some(()));
    for kind in ["cm", "secret", "sa", "pods", "rs", "endpoints", "events"] {
        let names = c.api.kubectl_ok(K, &["-n", "doomed", "get", kind, "-o", "name"]);
        assert!(names.trim().is_empty(), "{kind} left: {names}\n{}", kcm.log());
    }
}

fn create_node(c: &Cluster, name: &str, zone: &str) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}});
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&node.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn slices(c: &Cluster, svc: &str) -> Vec<Value> {
    get(c, &["endpointslices", "-l", &format!("kubernetes.io/service-name={svc}")])
        .map(|l| l["items"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

fn slice_endpoints(c: &Cluster, svc: &str) -> Vec<Value> {
    slices(c, svc).iter().flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default()).collect()
}

#[test]
fn endpoints_and_slices_follow_readiness_selectors_and_ports() {
    let c = cluster(&[]);
    let _kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    create_node(&c, "node-1", "zone-a");
    let _kubelet = FakeKubelet::start(&c, "default");
    let web = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
"#;
    apply(&c, web);
    apply(&c, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, labels: {team: a}}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: http}]\n");
    let ep = poll("three ready addresses", WAIT, || {
        get(&c, &["endpoints", "web"])
            .filter(|ep| ep["subsets"][0]["addresses"].as_array().is_some_and(|a| a.len() == 3))
    });
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080, "{ep}");
    assert_eq!(ep["metadata"]["labels"]["team"], "a");
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    let sl = poll("a slice with three ready endpoints", WAIT, || {
        let sl = slices(&c, "web");
        (sl.len() == 1
            && sl[0]["endpoints"]
                .as_array()
                .is_some_and(|e| e.len() == 3 && e.iter().all(|e| e["conditions"]["ready"] == true)))
        .then(|| sl[0].clone())
    });
    assert_eq!(sl["addressType"], "IPv4");
    assert_eq!(sl["ports"], json!([{"name": "", "port": 8080, "protocol": "TCP"}]), "{sl}");
    assert_eq!(sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
    assert_eq!(sl["metadata"]["labels"]["team"], "a");
    assert_eq!(sl["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert!(sl["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(sl["endpoints"][0]["zone"], "zone-a");
    assert_eq!(sl["endpoints"][0]["nodeName"], "node-1");

    // Readiness: a pod that stops being ready moves to notReadyAddresses and ready=false.
    let victim = live(&pods(&c, "default", "app=web"))[0]["metadata"]["name"].as_str().unwrap().to_string();
    let unready =
        r#"{"status":{"conditions":[{"type":"Ready","status":"False","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
    let args = ["-X", "PATCH", "-H", "Content-Type: application/strategic-merge-patch+json", "-d", unready];
    let (code, got) = c.api.curl_json(&args, &format!("/api/v1/namespaces/default/pods/{victim}/status"));
    assert_eq!(code, 200, "{got}");
    poll("the unready pod in notReadyAddresses", WAIT, || {
        let ep = get(&c, &["endpoints", "web"])?;
        let nr = ep["subsets"][0]["notReadyAddresses"].as_array()?;
        (nr.len() == 1
            && nr[0]["targetRef"]["name"] == victim.as_str()
            && ep["subsets"][0]["addresses"].as_array()?.len() == 2)
            .then_some(())
    });
    poll("the unready endpoint", WAIT, || {
        let eps = slice_endpoints(&c, "web");
        let e = eps.iter().find(|e| e["targetRef"]["name"] == victim.as_str())?;
        (e["conditions"]["ready"] == false
            && e["conditions"]["serving"] == false
            && e["conditions"]["terminating"] == false)
            .then_some(())
    });

    // publishNotReadyAddresses: every address is ready.
    c.api.kubectl_ok(K, &["patch", "svc", "web", "-p", r#"{"spec":{"publishNotReadyAddresses":true}}"#]);
    poll("all published", WAIT, || {
        let ep = get(&c, &["endpoints", "web"])?;
        (ep["subsets"][0]["addresses"].as_array()?.len() == 3 && ep["subsets"][0]["notReadyAddresses"].is_null())
            .then_some(())
    });
    c.api.kubectl_ok(K, &["patch", "svc", "web", "-p", r#"{"spec":{"publishNotReadyAddresses":false}}"#]);

    // A target port name the pods do not have: no ports resolve.
    c.api.kubectl_ok(
        K,
        &[
            "patch",
            "svc",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/ports/0/targetPort","value":"nope"}]"#,
        ],
    );
    poll("no resolvable ports", WAIT, || {
        let ep = get(&c, &["endpoints", "web"])?;
        let sl = slices(&c, "web");
        (ep["subsets"].is_null()
            && sl.len() == 1
            && sl[0]["ports"].as_array().is_none_or(|p| p.is_empty())
            && sl[0]["endpoints"].as_array().is_some_and(|e| e.len() == 3))
        .then_some(())
    });

    // A selector that matches nothing: empty Endpoints and one placeholder slice.
    c.api.kubectl_ok(K, &["patch", "svc", "web", "-p", r#"{"spec":{"selector":{"app":"none"}}}"#]);
    poll("a placeholder slice", WAIT, || {
        let ep = get(&c, &["endpoints", "web"])?;
        let sl = slices(&c, "web");
        (ep["subsets"].is_null() && sl.len() == 1 && sl[0]["endpoints"].as_array().is_none_or(|e| e.is_empty()))
            .then_some(())
    });

    // More than 100 endpoints: more than one slice.
    c.api.kubectl_ok(K, &["scale", "deployment", "web", "--replicas=110"]);
    c.api.kubectl_ok(K, &["patch", "svc", "web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/selector","value":{"app":"web"}},{"op":"replace","path":"/spec/ports/0/targetPort","value":"http"}]"#]);
    poll("110 endpoints in two slices", Duration::from_secs(90), || {
        let sl = slices(&c, "web");
        let sizes: Vec<usize> = sl.iter().map(|s| s["endpoints"].as_array().map_or(0, Vec::len)).collect();
        (sizes.iter().sum::<usize>() == 110 && sl.len() == 2 && sizes.iter().all(|n| *n <= 100)).then_some(())
    });

    // Deleting the Service removes its Endpoints and slices.
    c.api.kubectl_ok(K, &["delete", "svc", "web"]);
    poll("endpoints and slices gone", WAIT, || {
        (get(&c, &["endpoints", "web"]).is_none() && slices(&c, "web").is_empty()).then_some(())
    });
}

fn sh(dir: &std::path::Path, script: &str) -> String {
    let out = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn csr_yaml(name: &str, signer: &str, usages: &[&str], pem_file: &std::path::Path) -> String {
    use base64::Engine;
    let pem = std::fs::read(pem_file).expect("csr");
    let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
        "spec": {"request": b64, "signerName": signer, "usages": usages}})
    .to_string()
}

#[test]
fn seed_004_csr_lab_and_kubelet_bootstrap_certificates() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    // The lab: a key and CSR from openssl, a CertificateSigningRequest, an approval.
    sh(
        d,
        "openssl req -newkey rsa:2048 -nodes -keyout key.pem -new -subj /CN=jean.doe/O=devs/ -out csr.pem 2>/dev/null",
    );
    let obj = csr_yaml(
        "user=jean.doe",
        "kubernetes.io/kube-apiserver-client",
        &["digital signature", "key encipherment", "client auth"],
        &d.join("csr.pem"),
    );
    let out = c.api.kubectl_stdin(K, &["apply", "-f", "-"], Some(&obj));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        get(&c, &["csr", "user=jean.doe"]).expect("csr")["status"]["certificate"].is_null(),
        "issued before approval"
    );
    c.api.kubectl_ok(K, &["certificate", "approve", "user=jean.doe"]);
    let cert_b64 = poll("the certificate", WAIT, || {
        let out = c.api.kubectl(K, &["get", "csr", "user=jean.doe", "-o", "jsonpath={.status.certificate}"]);
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!s.is_empty()).then_some(s)
    });
    use base64::Engine;
    std::fs::write(d.join("cert.pem"), base64::engine::general_purpose::STANDARD.decode(cert_b64).expect("base64"))
        .expect("write");
    let text = sh(d, "openssl x509 -in cert.pem -noout -subject -issuer -ext extendedKeyUsage");
    assert!(text.contains("CN = jean.doe") && text.contains("O = devs"), "{text}");
    assert!(text.contains("issuer=CN = kubernetes") && text.contains("TLS Web Client Authentication"), "{text}");
    // The certificate authenticates: jean.doe is known, just not allowed.
    let out = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(c.api.pki.path("ca.crt"))
        .arg("--cert")
        .arg(d.join("cert.pem"))
        .arg("--key")
        .arg(d.join("key.pem"))
        .arg(format!("{}/api/v1/namespaces/default/pods", c.api.url()))
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&out.stdout).expect("status");
    assert_eq!(body["code"], 403, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("User \"jean.doe\" cannot list resource \"pods\""),
        "{body}"
    );

    // A request the signer refuses: a kubelet client certificate outside system:nodes.
    let obj = csr_yaml(
        "bad-kubelet",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &["digital signature", "client auth"],
        &d.join("csr.pem"),
    );
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&obj));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.kubectl_ok(K, &["certificate", "approve", "bad-kubelet"]);
    let failed = poll("the Failed condition", WAIT, || {
        get(&c, &["csr", "bad-kubelet"])
            .filter(|x| x["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Failed")))
    });
    let cond =
        failed["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Failed").unwrap().clone();
    assert_eq!(cond["reason"], "SignerValidationFailure", "{failed}");
    assert!(failed["status"]["certificate"].is_null());

    // Kubelet bootstrap: a bootstrap token's group may ask for a node client certificate,
    // which is approved and signed with no one's help.
    // (the bindings kubeadm makes for bootstrap tokens)
    c.api.kubectl_ok(
        K,
        &[
            "create",
            "clusterrolebinding",
            "kubeadm:kubelet-bootstrap",
            "--clusterrole=system:node-bootstrapper",
            "--group=system:bootstrappers",
        ],
    );
    c.api.kubectl_ok(
        K,
        &[
            "create",
            "clusterrolebinding",
            "kubeadm:node-autoapprove-bootstrap",
            "--clusterrole=system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "--group=system:bootstrappers",
        ],
    );
    sh(d, "openssl ecparam -genkey -name prime256v1 -noout -out node.key && openssl req -new -key node.key -subj /O=system:nodes/CN=system:node:node-1 -out node.csr");
    let obj = csr_yaml(
        "node-csr-1",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &["digital signature", "client auth"],
        &d.join("node.csr"),
    );
    let out = c.api.kubectl_stdin(
        K,
        &[
            "--as=system:bootstrap:abcdef",
            "--as-group=system:bootstrappers",
            "--as-group=system:authenticated",
            "create",
            "-f",
            "-",
        ],
        Some(&obj),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done = poll("auto-approved and signed", WAIT, || {
        get(&c, &["csr", "node-csr-1"]).filter(|x| !x["status"]["certificate"].is_null())
    });
    let approved = done["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Approved")
        .cloned()
        .expect("approved");
    assert_eq!(approved["reason"], "AutoApproved");
    assert_eq!(approved["message"], "Auto approving kubelet client certificate after SubjectAccessReview.");
    let listing = c.api.kubectl_ok(K, &["get", "csr", "node-csr-1"]);
    assert!(listing.contains("Approved,Issued"), "{listing}\n{}", kcm.log());

    // A request that no review allows yet is retried, and approved once the RBAC that allows it
    // exists; an ECDSA key may ask for key encipherment too.
    c.api.kubectl_ok(
        K,
        &[
            "create",
            "clusterrolebinding",
            "late-bootstrap",
            "--clusterrole=system:node-bootstrapper",
            "--group=late-joiners",
        ],
    );
    sh(d, "openssl req -new -key node.key -subj /O=system:nodes/CN=system:node:node-2 -out node2.csr");
    let obj = csr_yaml(
        "node-csr-2",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &["digital signature", "key encipherment", "client auth"],
        &d.join("node2.csr"),
    );
    let out = c.api.kubectl_stdin(
        K,
        &["--as=late-1", "--as-group=late-joiners", "--as-group=system:authenticated", "create", "-f", "-"],
        Some(&obj),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.kubectl_ok(
        K,
        &[
            "create",
            "clusterrolebinding",
            "late-autoapprove",
            "--clusterrole=system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "--group=late-joiners",
        ],
    );
    poll("the late request approved and signed", WAIT, || {
        get(&c, &["csr", "node-csr-2"]).filter(|x| !x["status"]["certificate"].is_null())
    });
}

#[test]
fn a_silent_node_becomes_unknown_is_tainted_and_its_pods_evicted_after_their_toleration() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(
        &c.api,
        &[
            "--node-monitor-period=1s",
            "--node-monitor-grace-period=4s",
            "--node-startup-grace-period=4s",
            "--node-eviction-rate=10",
        ],
    );
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&node.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    renew_lease(&c, "n1");
    // Three pods on n1: tolerating unreachable for 2 s, for ever, and (by default admission) 300 s.
    for (name, tol) in [
        (
            "short",
            json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]),
        ),
        ("forever", json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}])),
        ("default", json!(null)),
    ] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "n1", "tolerations": tol, "containers": [{"name": "c", "image": "nginx"}]}});
        let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&pod.to_string()));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // While the lease is renewed the node stays Ready.
    for _ in 0..6 {
        renew_lease(&c, "n1");
        std::thread::sleep(Duration::from_millis(1000));
    }
    let n = get(&c, &["node", "n1"]).expect("node");
    let ready = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(ready["status"], "True", "{n}\n{}", kcm.log());
    // Silence: Unknown, the unreachable taints, then the short-toleration pod goes.
    let n = poll("the node Unknown and tainted", Duration::from_secs(30), || {
        get(&c, &["node", "n1"]).filter(|n| {
            n["spec"]["taints"].as_array().is_some_and(|t| {
                t.iter().any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute")
            })
        })
    });
    let ready = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("Unknown"), Some("NodeStatusUnknown")),
        "{n}"
    );
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    let taints = n["spec"]["taints"].as_array().unwrap();
    assert!(taints.iter().any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoSchedule"), "{n}");
    poll("the short-toleration pod evicted", Duration::from_secs(30), || {
        get(&c, &["pod", "short"]).is_none_or(|p| !p["metadata"]["deletionTimestamp"].is_null()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    for name in ["forever", "default"] {
        let p = get(&c, &["pod", name]).unwrap_or_else(|| panic!("{name} was evicted"));
        assert!(p["metadata"]["deletionTimestamp"].is_null(), "{name} was evicted: {p}");
    }
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector", "involvedObject.name=short"]);
    assert!(events.contains("TaintManagerEviction"), "{events}");
    // The heartbeat comes back: the taints go.
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    let args = ["-X", "PATCH", "-H", "Content-Type: application/strategic-merge-patch+json", "-d", &status.to_string()];
    let (code, got) = c.api.curl_json(&args, "/api/v1/nodes/n1/status");
    assert_eq!(code, 200, "{got}");
    renew_lease(&c, "n1");
    poll("the taints removed", Duration::from_secs(30), || {
        renew_lease(&c, "n1");
        get(&c, &["node", "n1"]).filter(|n| n["spec"]["taints"].as_array().is_none_or(|t| t.is_empty()))
    });
}

#[test]
fn aggregated_cluster_roles_collect_the_rules_of_the_roles_they_select() {
    let c = cluster(&[]);
    let _kcm = ControllerManager::start(&c.api, &[]);
    // upstream's edit role, filled from system:aggregate-to-edit.
    let edit = poll("edit's rules", WAIT, || {
        get(&c, &["clusterrole", "edit"]).filter(|r| r["rules"].as_array().is_some_and(|r| !r.is_empty()))
    });
    let rules = edit["rules"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r["resources"].as_array().is_some_and(|res| res.iter().any(|x| x == "deployments"))
            && r["verbs"].as_array().is_some_and(|v| v.iter().any(|x| x == "create"))),
        "{edit}"
    );
    c.api.kubectl_ok(K, &["create", "rolebinding", "dev-edit", "--clusterrole=edit", "--user=dev"]);
    let yes = c.api.kubectl(K, &["auth", "can-i", "create", "deployments", "--as=dev"]);
    assert_eq!(String::from_utf8_lossy(&yes.stdout).trim(), "yes");
    // A new role labelled for view adds its rules to view.
    let extra = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"widgets-view","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},"rules":[{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get","list"]}]}"#;
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(extra));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    poll("view aggregates widgets", WAIT, || {
        get(&c, &["clusterrole", "view"])
            .filter(|r| r["rules"].as_array().is_some_and(|rs| rs.iter().any(|x| x["resources"] == json!(["widgets"]))))
    });
    let managers = get(&c, &["clusterrole", "view", "--show-managed-fields"]).expect("view");
    assert!(
        managers["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "clusterrole-aggregation-controller" && m["operation"] == "Apply"),
        "{managers}"
    );
}

#[test]
fn terminated_pods_beyond_the_threshold_are_collected_oldest_first() {
    let c = cluster(&[]);
    let _kcm = ControllerManager::start(&c.api, &["--terminated-pod-gc-threshold=1"]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    for name in ["first", "second", "third"] {
        c.api.kubectl_ok(K, &["run", name, "--image=nginx", "--labels=gc=me"]);
        let done = json!({"status": {"phase": "Succeeded"}});
        let args = ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-d", &done.to_string()];
        let (code, got) = c.api.curl_json(&args, &format!("/api/v1/namespaces/default/pods/{name}/status"));
        assert_eq!(code, 200, "{got}");
        // Distinct creation seconds, so that "oldest" is well defined.
        std::thread::sleep(Duration::from_millis(1100));
    }
    poll("two collected", Duration::from_secs(60), || {
        let names: Vec<String> =
            pods(&c, "default", "gc=me").iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
        (names == ["third"]).then_some(())
    });
}

#[test]
fn legacy_service_account_token_secrets_are_filled_and_authenticate() {
    let c = cluster(&[]);
    let _kcm = ControllerManager::start(&c.api, &[]);
    poll("default service account", WAIT, || get(&c, &["sa", "default", "-n", "default"]));
    c.api.kubectl_ok(K, &["create", "sa", "builder"]);
    let secret = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"builder-token","annotations":{"kubernetes.io/service-account.name":"builder"}},"type":"kubernetes.io/service-account-token"}"#;
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(secret));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s =
        poll("the token", WAIT, || get(&c, &["secret", "builder-token"]).filter(|s| s["data"]["token"].is_string()));
    use base64::Engine;
    let b64 = |k: &str| {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s["data"][k].as_str().unwrap()).unwrap())
            .unwrap()
    };
    assert_eq!(b64("namespace"), "default");
    assert_eq!(b64("ca.crt"), std::fs::read_to_string(c.api.pki.path("ca.crt")).unwrap());
    let sa = get(&c, &["sa", "builder"]).unwrap();
    assert_eq!(s["metadata"]["annotations"]["kubernetes.io/service-account.uid"], sa["metadata"]["uid"]);
    // The token authenticates as the service account.
    let out = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(c.api.pki.path("ca.crt"))
        .args(["-H", &format!("Authorization: Bearer {}", b64("token"))])
        .arg(format!("{}/api/v1/namespaces/default/pods", c.api.url()))
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&out.stdout).expect("status");
    assert_eq!(body["code"], 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("User \"system:serviceaccount:default:builder\""), "{body}");
    // The account goes, and so does its token.
    c.api.kubectl_ok(K, &["delete", "sa", "builder"]);
    poll("the token secret deleted", WAIT, || get(&c, &["secret", "builder-token"]).is_none().then_some(()));
}

fn evict(c: &Cluster, pod: &str) -> (u16, Value) {
    let body =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": "default"}});
    let args = ["-X", "POST", "-H", "Content-Type: application/json", "-d", &body.to_string()];
    c.api.curl_json(&args, &format!("/api/v1/namespaces/default/pods/{pod}/eviction"))
}

fn ready_pod_names(c: &Cluster, selector: &str) -> Vec<String> {
    live(&pods(c, "default", selector))
        .iter()
        .filter(|p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|x| x["type"] == "Ready" && x["status"] == "True"))
        })
        .map(kwok::name)
        .collect()
}

#[test]
fn evictions_honour_pod_disruption_budgets() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    let _kubelet = FakeKubelet::start(&c, "default");
    apply(&c, &deployment_yaml("guarded", 3));
    apply(
        &c,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: guard\n  namespace: default\nspec:\n  minAvailable: 3\n  selector:\n    matchLabels:\n      app: guarded\n",
    );
    let pdb = poll("budget status", WAIT, || {
        get(&c, &["pdb", "guard"])
            .filter(|p| p["status"]["currentHealthy"] == 3 && p["status"]["observedGeneration"] == 1)
    });
    assert_eq!(pdb["status"]["desiredHealthy"], 3, "{pdb}");
    assert_eq!(pdb["status"]["expectedPods"], 3, "{pdb}");
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0, "{pdb}");
    let cond = &pdb["status"]["conditions"][0];
    assert_eq!((cond["type"].as_str(), cond["status"].as_str()), (Some("DisruptionAllowed"), Some("False")));
    assert_eq!(cond["reason"], "InsufficientPods");
    let listing = c.api.kubectl_ok(K, &["get", "pdb", "guard"]);
    assert!(listing.contains("MIN AVAILABLE") && listing.split_whitespace().any(|w| w == "0"), "{listing}");

    // No disruption allowed: 429 with the budget as the cause, and the pod stays.
    let victims = ready_pod_names(&c, "app=guarded");
    let (code, st) = evict(&c, &victims[0]);
    assert_eq!(code, 429, "{st}");
    assert_eq!(st["reason"], "TooManyRequests");
    assert_eq!(st["message"], "Cannot evict pod as it would violate the pod's disruption budget.");
    assert_eq!(st["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert_eq!(
        st["details"]["causes"][0]["message"],
        "The disruption budget guard needs 3 healthy pods and has 3 currently"
    );
    assert!(get(&c, &["pod", &victims[0]]).is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null()));
    // kubectl drain keeps retrying the 429 until its timeout.
    let out = c.api.kubectl(K, &["drain", "node-1", "--timeout=3s", "--pod-selector=app=guarded"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."), "{stderr}");
    c.api.kubectl_ok(K, &["uncordon", "node-1"]);

    // One disruption allowed: the first eviction spends it, the second is refused.
    c.api.kubectl_ok(K, &["patch", "pdb", "guard", "--type=merge", "-p", r#"{"spec":{"minAvailable":2}}"#]);
    poll("one disruption allowed", WAIT, || {
        get(&c, &["pdb", "guard"])
            .filter(|p| p["status"]["disruptionsAllowed"] == 1 && p["status"]["observedGeneration"] == 2)
    });
    let victims = ready_pod_names(&c, "app=guarded");
    let (code, st) = evict(&c, &victims[0]);
    assert_eq!(code, 201, "{st}");
    assert_eq!(st["status"], "Success");
    let (code, st) = evict(&c, &victims[1]);
    assert_eq!(code, 429, "{st}");
    // The Deployment replaces the evicted pod; the budget recovers.
    poll("budget recovers", WAIT, || {
        get(&c, &["pdb", "guard"])
            .filter(|p| p["status"]["disruptionsAllowed"] == 1 && p["status"]["currentHealthy"] == 3)
    });
    assert!(get(&c, &["pod", &victims[0]]).is_none(), "{}", kcm.log());

    // maxUnavailable counts from the Deployment's scale.
    c.api.kubectl_ok(K, &["delete", "pdb", "guard"]);
    apply(
        &c,
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: guard-max\n  namespace: default\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: guarded\n",
    );
    let pdb = poll("maxUnavailable status", WAIT, || {
        get(&c, &["pdb", "guard-max"]).filter(|p| p["status"]["expectedPods"] == 3)
    });
    assert_eq!(pdb["status"]["desiredHealthy"], 2, "{pdb}");
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1, "{pdb}");
    let (code, st) = evict(&c, "missing-pod");
    assert_eq!(code, 404, "{st}");
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}});
    let args = ["-X", "POST", "-H", "Content-Type: application/json", "-d", &body.to_string()];
    let (code, st) = c.api.curl_json(&args, &format!("/api/v1/namespaces/default/pods/{}/eviction", victims[1]));
    assert_eq!((code, st["message"].as_str()), (400, Some("name in URL does not match name in Eviction object")));
}

#[test]
fn quota_status_is_filled_in_and_given_back_when_objects_go() {
    let c = cluster(&[]);
    // The full resync corrects what a quota's first computation missed (an informer still
    // catching up right after start-up); upstream's default is five minutes.
    let kcm = ControllerManager::start(&c.api, &["--resource-quota-sync-period=2s"]);
    c.api.kubectl_ok(K, &["create", "namespace", "q"]);
    poll("root CA config map", WAIT, || get(&c, &["configmap", "kube-root-ca.crt", "-n", "q"]));
    apply(
        &c,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: budget\n  namespace: q\nspec:\n  hard:\n    pods: \"2\"\n    requests.cpu: \"1\"\n    services: \"1\"\n    configmaps: \"5\"\n    count/deployments.apps: \"1\"\n",
    );
    let used = |q: &Value, k: &str| q["status"]["used"][k].as_str().map(String::from);
    let q = poll("quota status", WAIT, || {
        get(&c, &["quota", "budget", "-n", "q"]).filter(|q| !q["status"]["used"].is_null())
    });
    assert_eq!(q["status"]["hard"], q["spec"]["hard"], "{q}");
    assert_eq!(used(&q, "pods").as_deref(), Some("0"), "{q}");
    assert_eq!(used(&q, "requests.cpu").as_deref(), Some("0"), "{q}");
    assert_eq!(used(&q, "services").as_deref(), Some("0"), "{q}");
    assert_eq!(used(&q, "count/deployments.apps").as_deref(), Some("0"), "{q}");
    poll("the root CA config map counted", WAIT, || {
        get(&c, &["quota", "budget", "-n", "q"]).filter(|q| used(q, "configmaps").as_deref() == Some("1"))
    });

    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"q"},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"500m"}}}]}}"#;
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(pod));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    c.api.kubectl_ok(K, &["create", "deployment", "d", "-n", "q", "--image=nginx", "--replicas=0"]);
    let q = poll("usage charged", WAIT, || {
        get(&c, &["quota", "budget", "-n", "q"]).filter(|q| {
            used(q, "pods").as_deref() == Some("1") && used(q, "count/deployments.apps").as_deref() == Some("1")
        })
    });
    assert_eq!(used(&q, "requests.cpu").as_deref(), Some("500m"), "{q}");
    let listing = c.api.kubectl_ok(K, &["get", "quota", "budget", "-n", "q"]);
    assert!(listing.contains("pods: 1/2") && listing.contains("requests.cpu: 500m/1"), "{listing}");

    // A second deployment is over the object count.
    let out = c.api.kubectl(K, &["create", "deployment", "e", "-n", "q", "--image=nginx"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exceeded quota: budget, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"), "{stderr}");

    // Deleting gives usage back.
    c.api.kubectl_ok(K, &["delete", "pod", "p1", "-n", "q", "--grace-period=0", "--force"]);
    c.api.kubectl_ok(K, &["delete", "deployment", "d", "-n", "q"]);
    poll("usage given back", WAIT, || {
        get(&c, &["quota", "budget", "-n", "q"]).filter(|q| {
            used(q, "pods").as_deref() == Some("0")
                && used(q, "requests.cpu").as_deref() == Some("0")
                && used(q, "count/deployments.apps").as_deref() == Some("0")
        })
    });
    // Raising the limit shows in status.hard.
    c.api.kubectl_ok(
        K,
        &["patch", "quota", "budget", "-n", "q", "--type=merge", "-p", r#"{"spec":{"hard":{"pods":"3"}}}"#],
    );
    poll("new hard limit", WAIT, || {
        get(&c, &["quota", "budget", "-n", "q"]).filter(|q| q["status"]["hard"]["pods"] == "3")
    });
    drop(kcm);
}

#[test]
fn replication_controllers_keep_their_pods_and_report_status() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(&c.api, &[]);
    let _kubelet = FakeKubelet::start(&c, "default");
    apply(
        &c,
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: legacy\n  namespace: default\nspec:\n  replicas: 3\n  template:\n    metadata:\n      labels:\n        app: legacy\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
    );
    let rc = get(&c, &["rc", "legacy"]).expect("rc");
    let uid = rc["metadata"]["uid"].as_str().expect("uid").to_string();
    let st = poll("three ready replicas", WAIT, || {
        get(&c, &["rc", "legacy"])
            .filter(|rc| rc["status"]["readyReplicas"] == 3 && rc["status"]["availableReplicas"] == 3)
    });
    assert_eq!(st["status"]["replicas"], 3);
    assert_eq!(st["status"]["fullyLabeledReplicas"], 3);
    assert_eq!(st["status"]["observedGeneration"], st["metadata"]["generation"]);
    let ps = live(&pods(&c, "default", "app=legacy"));
    assert_eq!(ps.len(), 3);
    for p in &ps {
        assert!(owned_by(p, &uid), "{p}");
        let r = &p["metadata"]["ownerReferences"][0];
        assert_eq!((r["kind"].as_str(), r["apiVersion"].as_str()), (Some("ReplicationController"), Some("v1")));
        assert!(kwok::name(p).starts_with("legacy-"), "{p}");
    }
    let listing = c.api.kubectl_ok(K, &["get", "rc", "legacy"]);
    assert!(listing.contains("DESIRED") && listing.contains("legacy"), "{listing}");
    c.api.kubectl_ok(K, &["scale", "rc", "legacy", "--replicas=1"]);
    poll("one pod", WAIT, || (live(&pods(&c, "default", "app=legacy")).len() == 1).then_some(()));
    let events = c.api.kubectl_ok(K, &["get", "events", "--field-selector=involvedObject.kind=ReplicationController"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("SuccessfulDelete"), "{events}\n{}", kcm.log());
}

#[test]
fn nodes_get_pod_cidrs_from_the_cluster_cidr() {
    let c = cluster(&[]);
    let kcm = ControllerManager::start(
        &c.api,
        &[
            "--controllers=nodeipam",
            "--allocate-node-cidrs=true",
            "--cluster-cidr=10.244.0.0/16",
            "--service-cluster-ip-range=10.96.0.0/12",
        ],
    );
    for n in ["n1", "n2"] {
        kwok::ensure_node(&c, n);
    }
    let cidr = |n: &str| get(&c, &["node", n]).and_then(|o| o["spec"]["podCIDR"].as_str().map(String::from));
    let (a, b) = poll("pod CIDRs", WAIT, || Some((cidr("n1")?, cidr("n2")?)));
    let mut got = [a.clone(), b.clone()];
    got.sort();
    assert_eq!(got, ["10.244.0.0/24".to_string(), "10.244.1.0/24".to_string()], "{}", kcm.log());
    let n1 = get(&c, &["node", "n1"]).expect("n1");
    assert_eq!(n1["spec"]["podCIDRs"], json!([a]));
    let out = c.api.kubectl_ok(K, &["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"]);
    assert!(out.contains(&a) && out.contains(&b), "{out}");
    // A deleted node's subnet is free again; a new node never shares one with a live node.
    c.api.kubectl_ok(K, &["delete", "node", "n1"]);
    kwok::ensure_node(&c, "n3");
    let c3 = poll("n3 pod CIDR", WAIT, || cidr("n3"));
    assert_ne!(c3, b);
    assert!(c3.starts_with("10.244.") && c3.ends_with(".0/24"), "{c3}");

    // Without --allocate-node-cidrs the controller is skipped, as upstream.
    let other = ControllerManager::start_named(&c.api, "kcm-no-ipam", &["--controllers=nodeipam"]);
    let log = poll("start-up log", WAIT, || {
        let l = other.log();
        l.contains("node-ipam-controller").then_some(l)
    });
    assert!(log.contains("Warning: skipping controller controller=\"node-ipam-controller\""), "{log}");
}
