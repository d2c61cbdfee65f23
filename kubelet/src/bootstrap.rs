//! The kubelet's client certificate (upstream's `pkg/kubelet/certificate/bootstrap` and the
//! client-go certificate store): when `--kubeconfig` holds no certificate that still works and a
//! `--bootstrap-kubeconfig` is given, the kubelet writes a `kubeconfig` pointing at
//! `<cert dir>/kubelet-client-current.pem`, asks for a certificate with a CSR
//! (`kubernetes.io/kube-apiserver-client-kubelet`, `system:node:<name>` in `system:nodes`) under
//! the bootstrap credentials, and stores what it is issued there. With `rotateCertificates` a
//! certificate embedded in the kubeconfig (kubeadm init's) is moved into that store too, so
//! `kubeadm init`'s kubelet-finalize phase can point the kubeconfig at the file.
//!
//! Unlike upstream, the kubelet waits for the first certificate before it builds its API client
//! (its healthz is already serving); renewing before expiry is not done yet.

use crate::config::Config;
use crate::Error;
use base64::Engine;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestSpec};
use kube::api::{Api, ObjectMeta, PostParams};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CURRENT: &str = "kubelet-client-current.pem";
const SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// How long one request waits for its certificate (upstream's `certificateWaitTimeout`).
const WAIT: Duration = Duration::from_secs(15 * 60);

/// The current context's cluster and user of a kubeconfig, as far as the bootstrap needs them.
#[derive(Debug, Default)]
struct Parts {
    server: String,
    ca_data: Option<String>,
    ca_file: Option<String>,
    insecure: bool,
    cert_data: Option<Vec<u8>>,
    key_data: Option<Vec<u8>>,
    cert_file: Option<PathBuf>,
}

fn parts(path: &Path) -> Result<Parts, String> {
    use serde_json::Value;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let kc: Value = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
    let named = |list: &str, name: &str, field: &str| -> Option<Value> {
        kc[list].as_array()?.iter().find(|e| e["name"] == name).map(|e| e[field].clone())
    };
    let ctx_name = kc["current-context"].as_str().unwrap_or_default();
    let ctx = named("contexts", ctx_name, "context").ok_or_else(|| format!("context {ctx_name:?} not found"))?;
    let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
    let cluster =
        named("clusters", cluster_name, "cluster").ok_or_else(|| format!("cluster {cluster_name:?} not found"))?;
    let user = named("users", ctx["user"].as_str().unwrap_or_default(), "user").unwrap_or(Value::Null);
    let s = |v: &Value| v.as_str().map(str::to_string);
    let b64 = |v: &Value| v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok());
    Ok(Parts {
        server: s(&cluster["server"]).unwrap_or_default(),
        ca_data: s(&cluster["certificate-authority-data"]),
        ca_file: s(&cluster["certificate-authority"]),
        insecure: cluster["insecure-skip-tls-verify"].as_bool().unwrap_or(false),
        cert_data: b64(&user["client-certificate-data"]),
        key_data: b64(&user["client-key-data"]),
        cert_file: s(&user["client-certificate"]).map(PathBuf::from),
    })
}

/// Upstream's `isClientConfigStillValid`: the kubeconfig loads and every client certificate in it
/// is unexpired.
fn still_valid(path: &Path) -> bool {
    let Ok(p) = parts(path) else { return false };
    let pem = match (&p.cert_data, &p.cert_file) {
        (Some(d), _) => d.clone(),
        (None, Some(f)) => match std::fs::read(f) {
            Ok(d) => d,
            Err(_) => return false,
        },
        (None, None) => return false,
    };
    pki::all_certs_valid_at(&pem, jiff::Timestamp::now().as_second())
}

/// Stores `cert` and `key` as the client-go file store does: a new
/// `kubelet-client-<local time>.pem` (0600, certificates then the key), then the
/// `kubelet-client-current.pem` symlink moved to it through `kubelet-client-updated.pem`.
pub fn store_update(dir: &Path, cert: &str, key: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create directory {:?}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d-%H-%M-%S").to_string();
    let file = dir.join(format!("kubelet-client-{stamp}.pem"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(|e| format!("could not open {:?}: {e}", file.display()))?;
    let mut text = cert.trim_end().to_string();
    text.push('\n');
    text.push_str(key.trim_end());
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(|e| format!("could not write to {:?}: {e}", file.display()))?;
    let updated = dir.join("kubelet-client-updated.pem");
    let current = dir.join(CURRENT);
    let _ = std::fs::remove_file(&updated);
    std::os::unix::fs::symlink(&file, &updated)
        .map_err(|e| format!("unable to create a symlink from {:?} to {:?}: {e}", updated.display(), file.display()))?;
    if let Ok(m) = std::fs::symlink_metadata(&current) {
        if !m.file_type().is_symlink() {
            return Err(format!("expected {:?} to be a symlink but it is a file", current.display()));
        }
    }
    std::fs::rename(&updated, &current)
        .map_err(|e| format!("unable to rename {:?} to {:?}: {e}", updated.display(), current.display()))?;
    Ok(file)
}

/// The kubeconfig the kubelet writes when it bootstraps (`writeKubeconfigFromBootstrapping`):
/// the bootstrap's server and CA, the client pair from `pem`.
fn bootstrapped_kubeconfig(b: &Parts, pem: &Path) -> String {
    let mut cluster = String::new();
    if let Some(d) = &b.ca_data {
        cluster.push_str(&format!("    certificate-authority-data: {d}\n"));
    } else if let Some(f) = &b.ca_file {
        cluster.push_str(&format!("    certificate-authority: {f}\n"));
    }
    if b.insecure {
        cluster.push_str("    insecure-skip-tls-verify: true\n");
    }
    let pem = pem.display();
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n{cluster}    server: {}\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    namespace: default\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\npreferences: {{}}\nusers:\n- name: default-auth\n  user:\n    client-certificate: {pem}\n    client-key: {pem}\n",
        b.server
    )
}

/// Makes `cfg.kubeconfig` usable before the kubelet builds its client: keeps a valid one (moving
/// an embedded certificate into the store when rotating), or bootstraps a certificate.
pub async fn ensure_client_config(cfg: &Config) -> Result<(), Error> {
    let Some(kubeconfig) = &cfg.kubeconfig else { return Ok(()) };
    if still_valid(kubeconfig) {
        tracing::debug!("Current kubeconfig file contents are still valid, no bootstrap necessary");
        if cfg.rotate_certificates && !cfg.server.cert_dir.join(CURRENT).exists() {
            if let Ok(Parts { cert_data: Some(c), key_data: Some(k), .. }) = parts(kubeconfig) {
                let file =
                    store_update(&cfg.server.cert_dir, &String::from_utf8_lossy(&c), &String::from_utf8_lossy(&k))
                        .map_err(Error::Config)?;
                tracing::info!(path = %file.display(), "Stored the kubeconfig's client certificate for rotation");
            }
        }
        return Ok(());
    }
    let Some(bootstrap) = &cfg.bootstrap_kubeconfig else { return Ok(()) };
    let b = parts(bootstrap).map_err(|e| Error::Config(format!("unable to load bootstrap kubeconfig: {e}")))?;
    if !bootstrap.exists() {
        return Err(Error::Config(format!(
            "unable to load bootstrap kubeconfig: stat {}: no such file or directory",
            bootstrap.display()
        )));
    }
    let pem = cfg.server.cert_dir.join(CURRENT);
    tracing::info!(kubeconfig = %kubeconfig.display(), "Using bootstrap kubeconfig to generate TLS client cert, key and kubeconfig file");
    pki::write_file(kubeconfig, &bootstrapped_kubeconfig(&b, &pem), 0o600)
        .map_err(|e| Error::Config(format!("unable to write bootstrap kubeconfig: {e}")))?;
    let flags = component_base::flags::ClientFlags { kubeconfig: Some(bootstrap.clone()), ..Default::default() };
    let rest = component_base::client::config(&flags).await?;
    let client = component_base::client::build(rest, &component_base::client::user_agent("kubelet", None), 5.0, 10)?;
    // Retried as upstream: 2 s doubling over five tries, then every 32 s.
    let mut backoff = Duration::from_secs(2);
    loop {
        match request(&client, &cfg.node_name).await {
            Ok((cert, key)) => {
                let file = store_update(&cfg.server.cert_dir, &cert, &key).map_err(Error::Config)?;
                tracing::info!(path = %file.display(), "Certificate rotation: the kubelet's client certificate was issued");
                return Ok(());
            }
            Err(e) => {
                tracing::error!("Failed while requesting a signed certificate from the control plane: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(32));
            }
        }
    }
}

/// One CSR with a new ECDSA P-256 key, `generateName: csr-`, waited on until issued: the
/// certificate's PEM and the key's.
async fn request(client: &kube::Client, node: &str) -> Result<(String, String), String> {
    let (key, key_pem) = pki::new_key(pki::KeyAlgorithm::EcdsaP256).map_err(|e| e.to_string())?;
    let csr_pem = pki::csr::make_csr(&key, &format!("system:node:{node}"), &["system:nodes".to_string()])
        .map_err(|e| e.to_string())?;
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta { generate_name: Some("csr-".into()), ..Default::default() },
        spec: CertificateSigningRequestSpec {
            request: k8s_openapi::ByteString(csr_pem.into_bytes()),
            signer_name: SIGNER.into(),
            usages: Some(vec!["digital signature".into(), "client auth".into()]),
            ..Default::default()
        },
        status: None,
    };
    let created =
        api.create(&PostParams::default(), &csr).await.map_err(|e| component_base::client::api_message(&e))?;
    let name = created.metadata.name.clone().unwrap_or_default();
    let uid = created.metadata.uid.clone();
    tracing::info!(csr = %name, "Waiting for client certificate to be issued");
    let issued = |c: Option<&CertificateSigningRequest>| {
        c.is_none_or(|c| {
            c.metadata.uid != uid
                || c.status.as_ref().is_some_and(|s| {
                    s.certificate.as_ref().is_some_and(|b| !b.0.is_empty())
                        || s.conditions.iter().flatten().any(|x| x.type_ == "Denied" || x.type_ == "Failed")
                })
        })
    };
    let done = tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api, &name, issued))
        .await
        .map_err(|_| {
            format!(
                "certificate request {name:?} was not signed within {}",
                component_base::flags::format_go_duration(WAIT)
            )
        })?
        .map_err(|e| e.to_string())?;
    let Some(c) = done else { return Err(format!("csr {name:?} was deleted")) };
    if c.metadata.uid != uid {
        return Err(format!("csr {name:?} changed UIDs"));
    }
    let status = c.status.unwrap_or_default();
    for x in status.conditions.iter().flatten() {
        if x.type_ == "Denied" || x.type_ == "Failed" {
            let verb = if x.type_ == "Denied" { "denied" } else { "failed" };
            return Err(format!(
                "certificate signing request is {verb}, reason: {}, message: {}",
                x.reason.clone().unwrap_or_default(),
                x.message.clone().unwrap_or_default()
            ));
        }
    }
    let cert = String::from_utf8(status.certificate.map(|b| b.0).unwrap_or_default()).map_err(|e| e.to_string())?;
    Ok((cert, key_pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_writes_a_dated_file_and_moves_the_current_link() {
        let dir = tempfile::tempdir().unwrap();
        let first = store_update(dir.path(), "CERT1\n", "KEY1\n").unwrap();
        let name = first.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("kubelet-client-") && name.ends_with(".pem") && name.len() == 38, "{name}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&first).unwrap().permissions().mode() & 0o777, 0o600);
        let current = dir.path().join(CURRENT);
        assert_eq!(std::fs::read_link(&current).unwrap(), first);
        assert!(std::fs::read_link(&current).unwrap().is_absolute());
        assert_eq!(std::fs::read_to_string(&current).unwrap(), "CERT1\nKEY1\n");
        // A file where the link should be is refused, as upstream.
        std::fs::remove_file(&current).unwrap();
        std::fs::write(&current, "x").unwrap();
        assert!(store_update(dir.path(), "C", "K").unwrap_err().contains("to be a symlink"));
    }

    #[test]
    fn a_kubeconfig_is_valid_while_its_client_certificate_is() {
        let dir = tempfile::tempdir().unwrap();
        let ca = pki::new_ca("kubernetes").unwrap();
        let path = dir.path().join("kubelet.conf");
        let write = |not_after: time::OffsetDateTime| {
            let leaf = pki::issue(
                &ca,
                &pki::LeafSpec {
                    common_name: "system:node:n1".into(),
                    organizations: vec!["system:nodes".into()],
                    client: true,
                    not_after: Some(not_after),
                    ..Default::default()
                },
            )
            .unwrap();
            pki::write_kubeconfig(
                &path,
                "kubernetes",
                "https://10.0.0.1:6443",
                &ca.cert_pem,
                "system:node:n1",
                &leaf.cert_pem,
                &leaf.key_pem,
            )
            .unwrap();
        };
        assert!(!still_valid(&path), "a missing file");
        write(time::OffsetDateTime::now_utc() + time::Duration::days(1));
        assert!(still_valid(&path));
        write(time::OffsetDateTime::now_utc() - time::Duration::minutes(1));
        assert!(!still_valid(&path), "an expired certificate");
        // The file the kubelet writes when bootstrapping is valid once its pem is.
        let b = Parts { server: "https://10.0.0.1:6443".into(), ca_data: Some("Q0E=".into()), ..Default::default() };
        let pem = dir.path().join("pki").join(CURRENT);
        std::fs::write(&path, bootstrapped_kubeconfig(&b, &pem)).unwrap();
        assert!(!still_valid(&path), "no pem yet");
        let leaf = pki::issue(
            &ca,
            &pki::LeafSpec {
                common_name: "system:node:n1".into(),
                client: true,
                validity_days: 1,
                ..Default::default()
            },
        )
        .unwrap();
        store_update(&dir.path().join("pki"), &leaf.cert_pem, &leaf.key_pem).unwrap();
        assert!(still_valid(&path));
        let p = parts(&path).unwrap();
        assert_eq!(p.server, "https://10.0.0.1:6443");
        assert_eq!(p.cert_file.as_deref(), Some(pem.as_path()));
    }
}
