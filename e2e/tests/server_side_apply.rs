//! Server-side apply and managed fields through kubectl: two field managers, conflicts,
//! `--force-conflicts`, fields removed from a configuration, and the managed fields every
//! other write records.

use e2e::{Cluster, KUBECTL_VERSIONS};
use serde_json::Value;

fn entry<'a>(obj: &'a Value, manager: &str, op: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == manager && e["operation"] == op)
}

#[test]
fn two_managers_conflict_force_and_prune() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    for v in KUBECTL_VERSIONS {
        let name = format!("ssa-{}", v.replace('.', "-"));
        let cfg = |replicas: u32, extra_env: bool| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx\n        env:\n        - {{name: A, value: \"1\"}}\n{}",
                if extra_env { "        - {name: B, value: \"2\"}\n" } else { "" }
            )
        };
        let f1 = dir.path().join(format!("{name}-1.yaml"));
        std::fs::write(&f1, cfg(1, true)).unwrap();
        let out = c.api.kubectl_ok(v, &["apply", "--server-side", "-f", f1.to_str().unwrap()]);
        assert!(out.contains("serverside-applied"), "{out}");

        // A second manager setting the same field to another value: upstream's conflict.
        let f2 = dir.path().join(format!("{name}-2.yaml"));
        std::fs::write(
            &f2,
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 3\n"),
        )
        .unwrap();
        let out = c.api.kubectl(v, &["apply", "--server-side", "--field-manager=scaler", "-f", f2.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"), "{err}");
        let d: Value = serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json"])).unwrap();
        assert_eq!(d["spec"]["replicas"], 1, "a conflict changes nothing");

        let out = c.api.kubectl_ok(
            v,
            &["apply", "--server-side", "--field-manager=scaler", "--force-conflicts", "-f", f2.to_str().unwrap()],
        );
        assert!(out.contains("serverside-applied"), "{out}");
        let yaml = c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "yaml", "--show-managed-fields"]);
        assert!(yaml.contains("manager: kubectl\n") && yaml.contains("manager: scaler\n"), "{yaml}");
        assert!(yaml.contains("operation: Apply"), "{yaml}");
        let d: Value = serde_json::from_str(
            &c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json", "--show-managed-fields"]),
        )
        .unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(
            entry(&d, "scaler", "Apply").unwrap()["fieldsV1"],
            serde_json::json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(entry(&d, "kubectl", "Apply").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        // Without --show-managed-fields kubectl hides them.
        let plain = c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "yaml"]);
        assert!(!plain.contains("managedFields"), "{plain}");

        // The first manager drops env B (and replicas, now the scaler's): B goes, replicas stays.
        std::fs::write(&f1, cfg(3, false).replace("  replicas: 3\n", "")).unwrap();
        c.api.kubectl_ok(v, &["apply", "--server-side", "-f", f1.to_str().unwrap()]);
        let d: Value = serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json"])).unwrap();
        let env: Vec<&str> = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(env, vec!["A"]);
        assert_eq!(d["spec"]["replicas"], 3);
    }
}

#[test]
fn every_write_records_its_manager() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let name = format!("mf-{}", v.replace('.', "-"));
        c.api.kubectl_ok(v, &["create", "deployment", &name, "--image=nginx"]);
        c.api.kubectl_ok(v, &["scale", "deployment", &name, "--replicas=2"]);
        c.api.kubectl_ok(v, &["label", "deployment", &name, "team=a"]);
        let d: Value = serde_json::from_str(
            &c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json", "--show-managed-fields"]),
        )
        .unwrap();
        let created = entry(&d, "kubectl-create", "Update").unwrap_or_else(|| panic!("no kubectl-create entry: {d}"));
        assert_eq!(created["apiVersion"], "apps/v1");
        assert_eq!(created["fieldsType"], "FieldsV1");
        let spec = &created["fieldsV1"]["f:spec"];
        assert!(spec.get("f:replicas").is_none(), "scale took replicas: {created}");
        assert!(spec["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]
            .get("f:imagePullPolicy")
            .is_some());
        let scaled = d["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["subresource"] == "scale")
            .expect("scale entry");
        // kubectl scale sends no fieldManager: the manager is the User-Agent's program name.
        let program = e2e::kubectl_path(v).file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(scaled["manager"], program.as_str());
        assert_eq!(scaled["fieldsV1"], serde_json::json!({"f:spec": {"f:replicas": {}}}));
        let labelled = entry(&d, "kubectl-label", "Update").expect("kubectl-label entry");
        assert_eq!(labelled["fieldsV1"], serde_json::json!({"f:metadata": {"f:labels": {"f:team": {}}}}));
    }
}

#[test]
fn apply_bad_input() {
    let c = Cluster::start();
    let client = c.api.client();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("{}/api/v1/namespaces/default/configmaps/cm", c.api.url());
        let send = |body: &'static str, query: &'static str| {
            client
                .patch(format!("{url}{query}"))
                .header("Content-Type", "application/apply-patch+yaml")
                .body(body)
                .send()
        };
        let r = send("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n", "").await.unwrap();
        assert_eq!(r.status(), 422);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        let r = send("metadata: {name: cm}\n", "?fieldManager=m").await.unwrap();
        assert_eq!(r.status(), 400);
        let r =
            send("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nbogus: 1\n", "?fieldManager=m").await.unwrap();
        assert_eq!(r.status(), 400);
        let s: Value = r.json().await.unwrap();
        assert!(s["message"].as_str().unwrap().ends_with(".bogus: field not declared in schema"), "{s}");
        let r = send("{not yaml", "?fieldManager=m").await.unwrap();
        assert_eq!(r.status(), 400);
        // Nothing was created by the failures; a good apply creates (201), again is 200.
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let r = send("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n", "?fieldManager=m")
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = send("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: c}\n", "?fieldManager=m")
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["data"]["a"], "c");
        // force on a non-apply patch.
        let r = client
            .patch(format!("{url}?force=true"))
            .header("Content-Type", "application/merge-patch+json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    });
}
