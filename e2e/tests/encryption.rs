//! Encryption at rest (`--encryption-provider-config`): Secrets are stored as
//! `k8s:enc:aescbc:v1:<key>:` ciphertext in etcd, read back in clear through the API, and move to
//! a new key when the keys are rotated and the Secrets rewritten.

use e2e::{ApiServer, Etcd};

fn config(dir: &std::path::Path, keys: &[(&str, &str)]) -> std::path::PathBuf {
    let mut y = String::from(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aescbc:\n          keys:\n",
    );
    for (name, secret) in keys {
        y.push_str(&format!("            - name: {name}\n              secret: {secret}\n"));
    }
    y.push_str("      - identity: {}\n");
    let p = dir.join("enc.yaml");
    std::fs::write(&p, y).expect("write config");
    p
}

fn stored(etcd: &Etcd, key: &str) -> Vec<u8> {
    let out = etcd.etcdctl(&["get", key, "--print-value-only"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_are_encrypted_at_rest_and_keys_rotate() {
    let etcd = Etcd::start();
    let dir = tempfile::tempdir().expect("tmp");
    // 32-byte keys, base64.
    let key1 = "c2VjcmV0IGlzIHNlY3VyZSwgaXMgaXQgbm90PyEhISE=";
    let key2 = "YW5vdGhlciBzZWNyZXQga2V5IG9mIDMyIGJ5dGVzISE=";
    let cfg = config(dir.path(), &[("key1", key1)]);
    let mut api = ApiServer::start_with(&etcd, &[&format!("--encryption-provider-config={}", cfg.display())]);
    api.kubectl_ok("1.33", &["create", "secret", "generic", "s1", "--from-literal=password=hunter2-plaintext"]);
    api.kubectl_ok("1.33", &["create", "configmap", "c1", "--from-literal=note=visible-plaintext"]);
    let raw = stored(&etcd, "/registry/secrets/default/s1");
    assert!(raw.starts_with(b"k8s:enc:aescbc:v1:key1:"), "{}", String::from_utf8_lossy(&raw));
    assert!(!contains(&raw, b"aHVudGVyMi1wbGFpbnRleHQ") && !contains(&raw, b"hunter2"));
    // Resources not listed stay in clear.
    assert!(contains(&stored(&etcd, "/registry/configmaps/default/c1"), b"visible-plaintext"));
    let out = api.kubectl_ok("1.33", &["get", "secret", "s1", "-o", "jsonpath={.data.password}"]);
    assert_eq!(out, "aHVudGVyMi1wbGFpbnRleHQ=");

    // Rotation: the new key first, the old one still readable.
    std::fs::write(&cfg, std::fs::read_to_string(config(dir.path(), &[("key2", key2), ("key1", key1)])).unwrap())
        .unwrap();
    api.restart();
    assert_eq!(
        api.kubectl_ok("1.33", &["get", "secret", "s1", "-o", "jsonpath={.data.password}"]),
        "aHVudGVyMi1wbGFpbnRleHQ="
    );
    assert!(stored(&etcd, "/registry/secrets/default/s1").starts_with(b"k8s:enc:aescbc:v1:key1:"));
    // Rewriting every secret moves it to the new key (upstream's documented procedure).
    let all = api.kubectl_ok("1.33", &["get", "secrets", "-o", "json"]);
    let out = api.kubectl_stdin("1.33", &["replace", "-f", "-"], Some(&all));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stored(&etcd, "/registry/secrets/default/s1").starts_with(b"k8s:enc:aescbc:v1:key2:"));

    // Without the key, the data is unreadable and says so.
    std::fs::write(dir.path().join("other.yaml"), "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - identity: {}\n").unwrap();
    drop(api);
    let api = ApiServer::start_with(
        &etcd,
        &[&format!("--encryption-provider-config={}", dir.path().join("other.yaml").display())],
    );
    let out = api.kubectl("1.33", &["get", "secret", "s1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Internal error"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
