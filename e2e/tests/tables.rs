//! `kubectl get` prints upstream's columns: the server answers Table requests with each kind's
//! column definitions and cells.

use e2e::{Cluster, KUBECTL_VERSIONS};

fn header(out: &str) -> String {
    out.lines().next().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn kubectl_get_prints_upstream_columns() {
    let c = Cluster::start();
    let v = KUBECTL_VERSIONS[1];
    let manifests = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.33.0","osImage":"Debian","kernelVersion":"6.1","containerRuntimeVersion":"containerd://1.6.20","architecture":"amd64","bootID":"","machineID":"","systemUUID":"","kubeProxyVersion":"","operatingSystem":"linux"},"addresses":[{"type":"InternalIP","address":"10.0.0.5"}]}},
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}},
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}},
      {"apiVersion":"v1","kind":"Service","metadata":{"name":"np"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80}]}},
      {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"}},
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}
    ]}"#;
    let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(manifests));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for v in KUBECTL_VERSIONS {
        let cases: &[(&[&str], &str)] = &[
            (&["get", "pods"], "NAME READY STATUS RESTARTS AGE"),
            (&["get", "pods", "-o", "wide"], "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"),
            (&["get", "deploy", "-o", "wide"], "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"),
            (&["get", "rs"], "No resources"),
            (&["get", "svc"], "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"),
            (&["get", "svc", "-o", "wide"], "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"),
            (&["get", "nodes"], "NAME STATUS ROLES AGE VERSION"),
            (
                &["get", "nodes", "-o", "wide"],
                "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
            ),
            (&["get", "ns"], "NAME STATUS AGE"),
            (&["get", "secrets"], "NAME TYPE DATA AGE"),
            (&["get", "cm"], "NAME DATA AGE"),
        ];
        for (args, want) in cases {
            let out = c.api.kubectl(v, args);
            let text = String::from_utf8_lossy(&out.stdout);
            if *want == "No resources" {
                assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"), "kubectl {v} {args:?}");
                continue;
            }
            assert_eq!(header(&text), *want, "kubectl {v} {args:?}:\n{text}");
        }
        let pods = c.api.kubectl_ok(v, &["get", "pods", "p"]);
        let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(&row[..4], &["p", "0/1", "Pending", "0"]);
        let svc = c.api.kubectl_ok(v, &["get", "svc", "np"]);
        assert!(svc.lines().nth(1).unwrap().contains("NodePort"), "{svc}");
        assert!(svc.contains("80:3"), "{svc}");
        let nodes = c.api.kubectl_ok(v, &["get", "nodes"]);
        let row: Vec<&str> = nodes.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!((row[0], row[1], row[2], row[4]), ("node-1", "Ready", "control-plane", "v1.33.0"), "{nodes}");
        let all = c.api.kubectl_ok(v, &["get", "all"]);
        for want in ["pod/p", "service/np", "deployment.apps/web"] {
            assert!(all.contains(want), "{all}");
        }
    }
}

/// `--sort-by` asks for `includeObject=Object` tables and sorts rows by their embedded objects,
/// which must name their kind and apiVersion.
#[test]
fn kubectl_sort_by_prints_sorted_tables() {
    let c = Cluster::start();
    let v = KUBECTL_VERSIONS[1];
    let event = |name: &str, ts: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"{name}","namespace":"default"}},"involvedObject":{{"kind":"Pod","name":"{name}","namespace":"default"}},"reason":"R{name}","message":"m {name}","type":"Normal","firstTimestamp":"{ts}","lastTimestamp":"{ts}","count":1,"source":{{"component":"test"}}}}"#
        )
    };
    let mut items = Vec::new();
    for p in ["pb", "pc", "pa"] {
        items.push(format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{p}"}},"spec":{{"containers":[{{"name":"c","image":"nginx"}}]}}}}"#));
    }
    items.push(event("e2", "2024-01-02T00:00:00Z"));
    items.push(event("e3", "2024-01-03T00:00:00Z"));
    items.push(event("e1", "2024-01-01T00:00:00Z"));
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#, items.join(","));
    let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(&list));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names = |out: &str| {
        out.lines().skip(1).map(|l| l.split_whitespace().next().unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    for v in KUBECTL_VERSIONS {
        let out = c.api.kubectl_ok(v, &["get", "pods", "--sort-by=.metadata.name"]);
        assert_eq!(header(&out), "NAME READY STATUS RESTARTS AGE", "{v}: {out}");
        assert_eq!(names(&out), ["pa", "pb", "pc"], "{v}: {out}");
        let out = c.api.kubectl_ok(v, &["get", "pods", "--sort-by=.metadata.name", "-o", "wide"]);
        assert_eq!(header(&out), "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES", "{v}: {out}");
        assert_eq!(names(&out), ["pa", "pb", "pc"], "{v}: {out}");
        let out = c.api.kubectl_ok(v, &["get", "events", "-A", "--sort-by=.lastTimestamp"]);
        assert_eq!(header(&out), "NAMESPACE LAST SEEN TYPE REASON OBJECT MESSAGE", "{v}: {out}");
        let reasons: Vec<&str> = out.lines().skip(1).filter_map(|l| l.split_whitespace().nth(3)).collect();
        assert_eq!(reasons, ["Re1", "Re2", "Re3"], "{v}: {out}");
    }
    // The rows' objects: full objects with their kind for Object, PartialObjectMetadata for
    // Metadata (the default), none for None; anything else is refused as upstream does.
    let table = |include: &str| {
        c.api.curl_json(
            &["-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"],
            &format!("/api/v1/namespaces/default/pods?includeObject={include}"),
        )
    };
    let (_, t) = table("Object");
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "v1");
    assert_eq!(t["rows"][0]["object"]["spec"]["containers"][0]["name"], "c");
    let (_, t) = table("Metadata");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1");
    assert!(t["rows"][0]["object"].get("spec").is_none());
    let (_, t) = table("None");
    assert!(t["rows"][0].get("object").is_none_or(|o| o.is_null()));
    let (code, t) = table("Bogus");
    assert_eq!(code, 400);
    assert_eq!(
        t["message"],
        "Unable to convert to Table as requested: includeObject: Invalid value: \"Bogus\": must be 'Metadata', 'Object', 'None', or empty"
    );
    // A watch as kubectl `get -w --sort-by` opens it: each row's object names its kind.
    let out = c
        .api
        .curl()
        .args(["-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"])
        .arg(format!("{}/api/v1/namespaces/default/pods?watch=true&includeObject=Object&timeoutSeconds=1", c.api.url()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("an event")).expect("json");
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(first["object"]["rows"][0]["object"]["kind"], "Pod", "{first}");
}

/// Endpoints without a table form refuse `as=Table` alone (406), as upstream, and answer the
/// client's fallback media type when it offers one.
#[test]
fn table_requests_on_resources_without_tables() {
    let c = Cluster::start();
    let review = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}"#;
    let post = |accept: &str| {
        let accept = format!("Accept: {accept}");
        let args = ["-X", "POST", "-H", "Content-Type: application/json", "-H", &accept, "-d", review];
        c.api.curl_json(&args, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    };
    let (code, st) = post("application/json;as=Table;v=v1;g=meta.k8s.io");
    assert_eq!(code, 406, "{st}");
    assert_eq!(st["reason"], "NotAcceptable");
    assert_eq!(
        st["message"],
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    // Refused before the body is used: still read, so an HTTP/2 client that is sending a
    // large body gets the Status, not a reset stream.
    let padding = "x".repeat(2 << 20);
    let big = format!(
        r#"{{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{{"annotations":{{"pad":"{padding}"}}}},"spec":{{"resourceAttributes":{{"verb":"get","resource":"pods"}}}}}}"#
    );
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), big).expect("write");
    let data = format!("@{}", file.path().display());
    for _ in 0..3 {
        let args = [
            "--http2",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Accept: application/json;as=Table;v=v1;g=meta.k8s.io",
            "--data-binary",
            &data,
        ];
        let (code, st) = c.api.curl_json(&args, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews");
        assert_eq!(code, 406, "{st}");
    }
    let (code, r) = post("application/json;as=Table;v=v1;g=meta.k8s.io, application/json");
    assert_eq!(code, 201, "{r}");
    assert_eq!(r["kind"], "SelfSubjectAccessReview");
    assert_eq!(r["status"]["allowed"], true);
}
