//! OpenAPI and field validation with the real kubectl: default `--validate=strict` works
//! (server-side through the v3 `fieldValidation` parameter, client-side through the v2
//! protobuf document), `kubectl explain` explains, and Warn mode sends Warning headers.

use e2e::{Cluster, KUBECTL_VERSIONS};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn kubectl_default_validation_and_explain() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let pod = format!("bind-{}", v.replace('.', "-"));
        let manifest = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: busybox\n");
        let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(&manifest));
        assert!(out.status.success(), "kubectl {v}: {}", stderr(&out));
        // Seed 004's lab, verbatim: no --validate=false.
        let binding = format!("apiVersion: v1\nkind: Binding\nmetadata:\n  name: {pod}\ntarget:\n  apiVersion: v1\n  kind: Node\n  name: node-1\n");
        let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(&binding));
        assert!(out.status.success(), "kubectl {v}: {}", stderr(&out));
        assert_eq!(c.api.kubectl_ok(v, &["get", "pod", &pod, "-o", "jsonpath={.spec.nodeName}"]), "node-1");
        // Unknown fields: rejected with upstream's strict decoding message.
        let bad = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typo\nspec:\n  replica: 2\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: nginx, imagePullPolice: Always}]\n";
        let out = c.api.kubectl_stdin(v, &["create", "-f-"], Some(bad));
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("strict decoding error: unknown field \"spec.replica\""), "kubectl {v}: {err}");
        assert!(
            err.contains("unknown field \"spec.template.spec.containers[0].imagePullPolice\""),
            "kubectl {v}: {err}"
        );
        // With validation off the same manifest is accepted, the unknown fields dropped.
        let out = c.api.kubectl_stdin(
            v,
            &["create", "-f-", "--validate=false"],
            Some(&bad.replace("typo", &format!("typo-{}", v.replace('.', "-")))),
        );
        assert!(out.status.success(), "kubectl {v}: {}", stderr(&out));
        // explain reads the v3 documents.
        let ex = c.api.kubectl_ok(v, &["explain", "pod.spec.containers"]);
        assert!(ex.contains("KIND:       Pod") || ex.contains("KIND:     Pod"), "{ex}");
        assert!(
            ex.contains("FIELD: containers <[]Container>") || ex.contains("RESOURCE: containers <[]Object>"),
            "{ex}"
        );
        assert!(ex.contains("imagePullPolicy"), "{ex}");
        let rec = c.api.kubectl_ok(v, &["explain", "deployment.spec", "--recursive"]);
        for want in ["replicas", "selector", "strategy", "rollingUpdate", "maxSurge", "containers"] {
            assert!(rec.contains(want), "kubectl {v} explain --recursive lacks {want}");
        }
    }
}

#[test]
fn openapi_endpoints_and_warn_mode() {
    let c = Cluster::start();
    let url = c.api.url();
    let out = c
        .api
        .curl()
        .args([
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        ])
        .arg(format!("{url}/openapi/v2"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.contains("content-type: application/com.github.proto-openapi.spec.v2.v1.0+protobuf"), "{head}");
    let out = c.api.curl().arg(format!("{url}/openapi/v3")).output().unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apps = idx["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    let out = c.api.curl().arg(format!("{url}{apps}")).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.0.0");
    assert!(doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());
    // The server default (Warn): unknown and duplicate fields are dropped with a warning each.
    let body = r#"{"metadata":{"name":"w","name":"w"},"data":{"a":"b"},"bogus":1}"#;
    let out = c
        .api
        .curl()
        .args(["-D", "-", "-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/json", "-d", body])
        .arg(format!("{url}/api/v1/namespaces/default/configmaps"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.contains("HTTP/2 201") || head.contains("201 Created"), "{head}");
    assert!(head.to_lowercase().contains(r#"warning: 299 - "unknown field \"bogus\"""#), "{head}");
    assert!(head.to_lowercase().contains(r#"warning: 299 - "duplicate field \"metadata.name\"""#), "{head}");
    // Strict on a patch, Ignore silently.
    let out = c
        .api
        .curl()
        .args([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/merge-patch+json",
            "-d",
            r#"{"extra":1}"#,
        ])
        .arg(format!("{url}/api/v1/namespaces/default/configmaps/w?fieldValidation=Strict"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
    let out = c
        .api
        .curl()
        .args([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/merge-patch+json",
            "-d",
            r#"{"extra":1}"#,
        ])
        .arg(format!("{url}/api/v1/namespaces/default/configmaps/w?fieldValidation=Ignore"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}
