//! Client-side `kubectl apply` (strategic merge patch with the last-applied annotation),
//! `kubectl set env|image`, `kubectl patch --type=strategic|merge|json` and `kubectl edit`.

use e2e::{Cluster, KUBECTL_VERSIONS};
use serde_json::Value;

#[test]
fn apply_twice_patches_and_edit() {
    let c = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    for v in KUBECTL_VERSIONS {
        let name = format!("web-{}", v.replace('.', "-"));
        let first = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.24\n        env:\n        - {{name: A, value: \"1\"}}\n        - {{name: B, value: \"2\"}}\n"
        );
        let second = first
            .replace("replicas: 2", "replicas: 3")
            .replace("nginx:1.24", "nginx:1.25")
            .replace("        - {name: B, value: \"2\"}\n", "");
        let f1 = dir.path().join(format!("{name}-1.yaml"));
        let f2 = dir.path().join(format!("{name}-2.yaml"));
        std::fs::write(&f1, &first).unwrap();
        std::fs::write(&f2, &second).unwrap();
        assert!(c.api.kubectl_ok(v, &["apply", "-f", f1.to_str().unwrap()]).contains("created"));
        c.api.kubectl_ok(v, &["set", "env", &format!("deploy/{name}"), "EXTRA=yes"]);
        assert!(c.api.kubectl_ok(v, &["apply", "-f", f2.to_str().unwrap()]).contains("configured"));
        let d: Value = serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json"])).unwrap();
        assert_eq!(d["spec"]["replicas"], 3);
        let ctr = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(ctr["image"], "nginx:1.25");
        let env: Vec<&str> = ctr["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(env, vec!["A", "EXTRA"], "B removed from the file goes; EXTRA from set env stays");
        let last = d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap();
        assert!(last.contains("nginx:1.25") && !last.contains("\"B\""), "{last}");

        c.api.kubectl_ok(v, &["set", "image", &format!("deploy/{name}"), "nginx=nginx:1.26"]);
        c.api.kubectl_ok(
            v,
            &[
                "patch",
                "deploy",
                &name,
                "--type=strategic",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"P","value":"s"}]}]}}}}"#,
            ],
        );
        c.api.kubectl_ok(v, &["patch", "deploy", &name, "--type=merge", "-p", r#"{"metadata":{"labels":{"m":"1"}}}"#]);
        c.api.kubectl_ok(
            v,
            &["patch", "deploy", &name, "--type=json", "-p", r#"[{"op":"replace","path":"/spec/replicas","value":5}]"#],
        );
        // kubectl edit with an editor that changes a field.
        let editor = dir.path().join("editor.sh");
        std::fs::write(&editor, "#!/bin/sh\nsed -i 's/replicas: 5/replicas: 6/' \"$1\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(e2e::kubectl_path(v))
            .env("KUBECONFIG", &c.api.kubeconfig)
            .env("HOME", c.api.dir.path().join("home"))
            .env("EDITOR", &editor)
            .args(["edit", "deploy", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let d: Value = serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json"])).unwrap();
        assert_eq!(d["spec"]["replicas"], 6);
        assert_eq!(d["metadata"]["labels"]["m"], "1");
        let ctr = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(ctr["image"], "nginx:1.26");
        let env: Vec<&str> = ctr["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(env, vec!["A", "EXTRA", "P"]);
        // A malformed strategic patch is a 400 and changes nothing.
        let out = c.api.kubectl(
            v,
            &[
                "patch",
                "deploy",
                &name,
                "--type=strategic",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"image":"no-name"}]}}}}"#,
            ],
        );
        assert!(!out.status.success());
        let after: Value = serde_json::from_str(&c.api.kubectl_ok(v, &["get", "deploy", &name, "-o", "json"])).unwrap();
        assert_eq!(after["metadata"]["resourceVersion"], d["metadata"]["resourceVersion"]);
    }
}
