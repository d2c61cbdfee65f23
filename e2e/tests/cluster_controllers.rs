//! The smaller cluster-wide controllers of kube-controller-manager against the real apiserver:
//! bootstrap-signer and token-cleaner (as kubeadm turns them on), EndpointSlice mirroring of
//! hand-written Endpoints, the node TTL annotation and the legacy service-account token
//! cleaner. Each test starts only the controllers it looks at.

use base64::Engine;
use e2e::kwok::{apply, ensure_node, get, items, K};
use e2e::{poll, Cluster, ControllerManager};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn cluster() -> Cluster {
    Cluster::start_with(&["--enable-admission-plugins=NodeRestriction", "--authorization-mode=Node,RBAC"])
}

fn create(c: &Cluster, obj: &Value) {
    let out = c.api.kubectl_stdin(K, &["create", "-f", "-"], Some(&obj.to_string()));
    assert!(out.status.success(), "{obj}: {}", String::from_utf8_lossy(&out.stderr));
}

fn rfc3339_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A bootstrap token Secret as kubeadm writes it.
fn token_secret(id: &str, secret: &str, extra: Value) -> Value {
    let mut data = json!({"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true"});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    json!({"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
        "stringData": data})
}

/// What a joining node checks: the detached HS256 JWS of `content` with the token secret
/// (zero-padded to 32 bytes) as the key, computed here independently of the controller.
fn expected_jws(content: &str, id: &str, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(format!(r#"{{"alg":"HS256","kid":"{id}"}}"#));
    let mut key = secret.as_bytes().to_vec();
    key.resize(key.len().max(32), 0);
    let input = format!("{header}.{}", b64.encode(content));
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(&key),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("hmac");
    format!("{header}..{sig}")
}

fn cluster_info(c: &Cluster) -> Value {
    get(c, &["cm", "cluster-info", "-n", "kube-public"]).expect("cluster-info")
}

fn data_keys(cm: &Value) -> Vec<String> {
    let mut keys: Vec<String> = cm["data"].as_object().map(|d| d.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn cluster_info_is_signed_by_bootstrap_tokens_and_expired_tokens_are_cleaned_up() {
    let c = cluster();
    let kcm = ControllerManager::start(&c.api, &["--controllers=bootstrapsigner,tokencleaner"]);
    let kubeconfig =
        "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: https://10.0.0.1:6443\n";
    create(
        &c,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cluster-info", "namespace": "kube-public"},
            "data": {"kubeconfig": kubeconfig}}),
    );
    create(
        &c,
        &token_secret(
            "abcdef",
            "0123456789abcdef",
            json!({"usage-bootstrap-signing": "true", "expiration": rfc3339_in(3600)}),
        ),
    );
    // Not for signing, and a token whose name does not match its id: neither signs.
    create(&c, &token_secret("nosign", "0123456789abcdef", json!({})));
    let mut mismatched = token_secret("zzzzzz", "0123456789abcdef", json!({"usage-bootstrap-signing": "true"}));
    mismatched["stringData"]["token-id"] = json!("yyyyyy");
    create(&c, &mismatched);

    let want = expected_jws(kubeconfig, "abcdef", "0123456789abcdef");
    let cm = poll("jws-kubeconfig-abcdef", WAIT, || {
        let cm = cluster_info(&c);
        cm["data"]["jws-kubeconfig-abcdef"].is_string().then_some(cm)
    });
    assert_eq!(cm["data"]["jws-kubeconfig-abcdef"], want.as_str(), "{cm}\n{}", kcm.log());
    assert_eq!(data_keys(&cm), ["jws-kubeconfig-abcdef", "kubeconfig"], "{cm}");

    // A changed kubeconfig is signed again; a forged signature is put right.
    let changed = kubeconfig.replace("10.0.0.1", "10.0.0.2");
    let patch = json!({"data": {"kubeconfig": changed, "jws-kubeconfig-forged": "x..y"}}).to_string();
    c.api.kubectl_ok(K, &["-n", "kube-public", "patch", "cm", "cluster-info", "--type=merge", "-p", &patch]);
    let want = expected_jws(&changed, "abcdef", "0123456789abcdef");
    poll("the new kubeconfig signed and the forged signature gone", WAIT, || {
        let cm = cluster_info(&c);
        (cm["data"]["jws-kubeconfig-abcdef"] == want.as_str() && cm["data"]["jws-kubeconfig-forged"].is_null())
            .then_some(())
    });

    // A short-lived token signs until it expires; then the cleaner deletes it and its
    // signature goes.
    create(
        &c,
        &token_secret(
            "short1",
            "fedcba9876543210",
            json!({"usage-bootstrap-signing": "true", "expiration": rfc3339_in(10)}),
        ),
    );
    let want_short = expected_jws(&changed, "short1", "fedcba9876543210");
    poll("jws-kubeconfig-short1", WAIT, || {
        (cluster_info(&c)["data"]["jws-kubeconfig-short1"] == want_short.as_str()).then_some(())
    });
    poll("the expired token deleted", WAIT, || {
        get(&c, &["secret", "bootstrap-token-short1", "-n", "kube-system"]).is_none().then_some(())
    });
    poll("its signature removed", WAIT, || cluster_info(&c)["data"]["jws-kubeconfig-short1"].is_null().then_some(()));

    // Already expired, or with an expiration that does not parse: deleted.
    create(&c, &token_secret("old000", "0123456789abcdef", json!({"expiration": rfc3339_in(-60)})));
    create(&c, &token_secret("bad000", "0123456789abcdef", json!({"expiration": "next tuesday"})));
    for name in ["bootstrap-token-old000", "bootstrap-token-bad000"] {
        poll(&format!("{name} deleted"), WAIT, || {
            get(&c, &["secret", name, "-n", "kube-system"]).is_none().then_some(())
        });
    }
    // Tokens without an expiration or not expired stay.
    for name in ["bootstrap-token-abcdef", "bootstrap-token-nosign"] {
        assert!(get(&c, &["secret", name, "-n", "kube-system"]).is_some(), "{name}\n{}", kcm.log());
    }

    // The signing token deleted: its signature goes.
    c.api.kubectl_ok(K, &["-n", "kube-system", "delete", "secret", "bootstrap-token-abcdef"]);
    poll("jws-kubeconfig-abcdef removed", WAIT, || (data_keys(&cluster_info(&c)) == ["kubeconfig"]).then_some(()));
    for sa in ["bootstrap-signer", "token-cleaner"] {
        assert!(get(&c, &["sa", sa, "-n", "kube-system"]).is_some(), "{sa}");
    }
}

fn mirrored(c: &Cluster, svc: &str) -> Vec<Value> {
    let sel = format!("kubernetes.io/service-name={svc},{MANAGED_BY_MIRRORING}");
    items(c, &["endpointslices", "-n", "demo", "-l", &sel])
}

fn ips(slice: &Value) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = slice["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["addresses"][0].as_str().unwrap_or("").to_string(), e["conditions"]["ready"] == true))
        .collect();
    v.sort();
    v
}

const MANAGED_BY_MIRRORING: &str = "endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io";

const EXT_SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: demo}\nspec:\n  ports: [{name: http, port: 80}]\n";

fn ext_endpoints(ready: &[&str], not_ready: &[&str], labels: Value) -> String {
    json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "ext", "namespace": "demo", "labels": labels,
            "annotations": {"note": "n", "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:00Z"}},
        "subsets": [{"addresses": ready.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
            "notReadyAddresses": not_ready.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
    .to_string()
}

#[test]
fn endpoints_of_selectorless_services_are_mirrored_into_endpoint_slices() {
    let c = cluster();
    let kcm = ControllerManager::start(
        &c.api,
        &["--controllers=endpointslicemirroring", "--mirroring-max-endpoints-per-subset=4"],
    );
    c.api.kubectl_ok(K, &["create", "ns", "demo"]);
    apply(&c, EXT_SERVICE);
    apply(&c, &ext_endpoints(&["10.1.0.1", "10.1.0.2"], &["10.1.0.3"], json!({"team": "a"})));

    let sl = poll("a mirrored IPv4 slice", WAIT, || {
        let s = mirrored(&c, "ext");
        (s.len() == 1 && ips(&s[0]).len() == 3).then(|| s[0].clone())
    });
    assert_eq!(sl["addressType"], "IPv4", "{sl}");
    assert_eq!(
        ips(&sl),
        [("10.1.0.1".to_string(), true), ("10.1.0.2".to_string(), true), ("10.1.0.3".to_string(), false)]
    );
    assert_eq!(sl["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]), "{sl}");
    assert!(sl["metadata"]["name"].as_str().unwrap_or("").starts_with("ext-"), "{sl}");
    assert_eq!(sl["metadata"]["labels"]["team"], "a");
    let owner = &sl["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["controller"].as_bool()), (Some("Endpoints"), Some(true)), "{sl}");
    // The Endpoints' annotations come along, but not the trigger time or kubectl's own.
    assert_eq!(sl["metadata"]["annotations"], json!({"note": "n"}), "{sl}");

    // An IPv6 address gets its own slice; more addresses than the cap are skipped, with a
    // warning on the Endpoints.
    apply(&c, &ext_endpoints(&["10.1.0.1", "10.1.0.2", "10.1.0.4", "fd00::1"], &["10.1.0.3"], json!({"team": "a"})));
    let by_family = poll("an IPv6 slice beside the capped IPv4 one", WAIT, || {
        let s = mirrored(&c, "ext");
        let fam = |f: &str| s.iter().find(|x| x["addressType"] == f).cloned();
        match (fam("IPv4"), fam("IPv6")) {
            // The slices are written one at a time: wait for both to be the new ones.
            (Some(v4), Some(v6))
                if s.len() == 2
                    && ips(&v4).len() == 3
                    && ips(&v6).len() == 1
                    && !ips(&v4).iter().any(|(ip, _)| ip == "10.1.0.3") =>
            {
                Some((v4, v6))
            }
            _ => None,
        }
    });
    // Ready addresses are taken first: the not-ready 10.1.0.3 is the one skipped.
    assert_eq!(
        ips(&by_family.0),
        [("10.1.0.1".to_string(), true), ("10.1.0.2".to_string(), true), ("10.1.0.4".to_string(), true)]
    );
    assert_eq!(ips(&by_family.1), [("fd00::1".to_string(), true)]);
    poll("a TooManyAddressesToMirror event", WAIT, || {
        items(&c, &["events", "-n", "demo"]).into_iter().find(|e| {
            e["reason"] == "TooManyAddressesToMirror"
                && e["type"] == "Warning"
                && e["involvedObject"]["kind"] == "Endpoints"
                && e["message"]
                    == "A max of 4 addresses can be mirrored to EndpointSlices per Endpoints subset. \
                        1 addresses were skipped"
        })
    });

    // Labelled skip-mirror: the slices go; unlabelled: they come back.
    apply(&c, &ext_endpoints(&["10.1.0.1"], &[], json!({"endpointslice.kubernetes.io/skip-mirror": "true"})));
    poll("slices removed for skip-mirror", WAIT, || mirrored(&c, "ext").is_empty().then_some(()));
    apply(&c, &ext_endpoints(&["10.1.0.1"], &[], json!({})));
    poll("mirrored again", WAIT, || {
        let s = mirrored(&c, "ext");
        (s.len() == 1 && ips(&s[0]) == [("10.1.0.1".to_string(), true)]).then_some(())
    });

    // The Service gains a selector: its Endpoints is no longer the user's, nothing is mirrored.
    c.api.kubectl_ok(
        K,
        &["-n", "demo", "patch", "svc", "ext", "--type=merge", "-p", r#"{"spec":{"selector":{"app":"x"}}}"#],
    );
    poll("slices removed for a selector", WAIT, || mirrored(&c, "ext").is_empty().then_some(()));
    c.api.kubectl_ok(
        K,
        &["-n", "demo", "patch", "svc", "ext", "--type=json", "-p", r#"[{"op":"remove","path":"/spec/selector"}]"#],
    );
    poll("mirrored once selectorless again", WAIT, || (mirrored(&c, "ext").len() == 1).then_some(()));

    // The Service deleted: the slices go, though the Endpoints stays.
    c.api.kubectl_ok(K, &["-n", "demo", "delete", "svc", "ext"]);
    poll("slices removed with the service", WAIT, || mirrored(&c, "ext").is_empty().then_some(()));
    assert!(get(&c, &["endpoints", "ext", "-n", "demo"]).is_some());

    // Endpoints without a Service are never mirrored; the apiserver's own `kubernetes`
    // Endpoints (skip-mirror) neither.
    apply(&c, EXT_SERVICE);
    poll("mirrored with the service back", WAIT, || (mirrored(&c, "ext").len() == 1).then_some(()));
    c.api.kubectl_ok(K, &["-n", "demo", "delete", "endpoints", "ext"]);
    poll("slices removed with the endpoints", WAIT, || mirrored(&c, "ext").is_empty().then_some(()));
    assert!(items(&c, &["endpointslices", "-A", "-l", MANAGED_BY_MIRRORING]).is_empty(), "{}", kcm.log());

    // The settings show in /configz under upstream's names.
    let cert = c.api.pki.path("admin.crt").display().to_string();
    let key = c.api.pki.path("admin.key").display().to_string();
    let (code, body) = kcm.curl("/configz", &["--cert", &cert, "--key", &key]);
    assert_eq!(code, 200, "{body}");
    let cfg: Value = serde_json::from_str(&body).expect("configz");
    let mirroring = &cfg["componentconfig"]["EndpointSliceMirroringController"];
    assert_eq!(mirroring["MirroringMaxEndpointsPerSubset"], 4, "{cfg}");
    assert_eq!(mirroring["MirroringEndpointUpdatesBatchPeriod"], "0s", "{cfg}");
    assert_eq!(cfg["componentconfig"]["LegacySATokenCleaner"]["CleanUpPeriod"], "8760h0m0s", "{cfg}");
}

#[test]
fn nodes_carry_the_ttl_annotation_for_the_cluster_size() {
    let c = cluster();
    let _kcm = ControllerManager::start(&c.api, &["--controllers=ttl"]);
    for n in ["node-a", "node-b"] {
        ensure_node(&c, n);
    }
    let ttl =
        |n: &str| get(&c, &["node", n]).map(|n| n["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"].clone());
    for n in ["node-a", "node-b"] {
        poll(&format!("ttl on {n}"), WAIT, || (ttl(n) == Some(json!("0"))).then_some(()));
    }
    // A wrong value is put right on the node's next update.
    c.api.kubectl_ok(K, &["annotate", "--overwrite", "node", "node-a", "node.alpha.kubernetes.io/ttl=300"]);
    poll("ttl restored", WAIT, || (ttl("node-a") == Some(json!("0"))).then_some(()));
    assert!(get(&c, &["sa", "ttl-controller", "-n", "kube-system"]).is_some());
}

#[test]
fn unused_legacy_service_account_tokens_are_marked_invalid_then_deleted() {
    let c = cluster();
    c.api.kubectl_ok(K, &["create", "ns", "demo"]);
    // The apiserver has tracked legacy token use since long ago (it made the ConfigMap with
    // today's date; apply sets it whether or not the apiserver got there first).
    apply(
        &c,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-apiserver-legacy-service-account-token-tracking", "namespace": "kube-system"},
            "data": {"since": "2020-01-01"}})
        .to_string(),
    );
    let secrets = ["a-mounted", "b-used-today", "c-unlisted", "y-invalid-long-ago", "z-unused"];
    let listed: Vec<Value> = secrets.iter().filter(|s| **s != "c-unlisted").map(|s| json!({"name": s})).collect();
    create(
        &c,
        &json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "old", "namespace": "demo"}, "secrets": listed}),
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for s in secrets {
        let labels = match s {
            "b-used-today" => json!({"kubernetes.io/legacy-token-last-used": today}),
            "y-invalid-long-ago" => json!({"kubernetes.io/legacy-token-invalid-since": "2020-01-02"}),
            _ => json!({}),
        };
        create(
            &c,
            &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": s, "namespace": "demo", "labels": labels,
                    "annotations": {"kubernetes.io/service-account.name": "old"}}}),
        );
    }
    create(
        &c,
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": "demo"},
            "spec": {"serviceAccountName": "old", "automountServiceAccountToken": false,
                "containers": [{"name": "c", "image": "nginx"}],
                "volumes": [{"name": "t", "secret": {"secretName": "a-mounted"}}]}}),
    );
    // A clean-up period of a nanosecond makes every token old; the one pass at start-up runs
    // over the Secrets in name order.
    let kcm = ControllerManager::start(
        &c.api,
        &["--controllers=legacy-service-account-token-cleaner", "--legacy-service-account-token-clean-up-period=1ns"],
    );
    let invalid_since = |s: &str| {
        get(&c, &["secret", s, "-n", "demo"])
            .map(|s| s["metadata"]["labels"]["kubernetes.io/legacy-token-invalid-since"].clone())
    };
    poll("z-unused marked invalid today", WAIT, || (invalid_since("z-unused") == Some(json!(today))).then_some(()));
    poll("y-invalid-long-ago deleted", WAIT, || {
        get(&c, &["secret", "y-invalid-long-ago", "-n", "demo"]).is_none().then_some(())
    });
    for kept in ["a-mounted", "b-used-today", "c-unlisted"] {
        assert_eq!(invalid_since(kept), Some(Value::Null), "{kept}\n{}", kcm.log());
    }
}
