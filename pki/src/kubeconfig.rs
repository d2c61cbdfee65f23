//! kubeconfig files (clientcmd v1) with embedded certificates, as kubeadm writes admin.conf.

use crate::{PkiError, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub clusters: Vec<NamedCluster>,
    pub contexts: Vec<NamedContext>,
    #[serde(rename = "current-context")]
    pub current_context: String,
    pub preferences: serde_json::Map<String, serde_json::Value>,
    pub users: Vec<NamedUser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cluster {
    #[serde(rename = "certificate-authority-data")]
    pub certificate_authority_data: String,
    pub server: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Context,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Context {
    pub cluster: String,
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "client-certificate-data")]
    pub client_certificate_data: String,
    #[serde(rename = "client-key-data")]
    pub client_key_data: String,
}

/// A kubeconfig for `user` at `server`, with the CA and client pair embedded, as text
/// (`kubeadm kubeconfig user` prints it).
pub fn kubeconfig_text(
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let ctx = format!("{user}@{cluster}");
    let kc = Kubeconfig {
        api_version: "v1".into(),
        kind: "Config".into(),
        clusters: vec![NamedCluster {
            name: cluster.into(),
            cluster: Cluster { certificate_authority_data: b64(ca_pem), server: server.into() },
        }],
        contexts: vec![NamedContext {
            name: ctx.clone(),
            context: Context { cluster: cluster.into(), user: user.into() },
        }],
        current_context: ctx,
        preferences: Default::default(),
        users: vec![NamedUser {
            name: user.into(),
            user: User { client_certificate_data: b64(cert_pem), client_key_data: b64(key_pem) },
        }],
    };
    // Plain scalars, as kubectl writes them: long base64 values on one line, not folded.
    let opts = serde_saphyr::ser_options! { prefer_block_scalars: false };
    serde_saphyr::to_string_with_options(&kc, opts).map_err(|e| PkiError::Kubeconfig(e.to_string()))
}

/// Writes a kubeconfig for `user` at `server` (mode 0600), with the CA and client pair embedded.
pub fn write_kubeconfig(
    path: &Path,
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<()> {
    let text = kubeconfig_text(cluster, server, ca_pem, user, cert_pem, key_pem)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.display().to_string(), source })?;
    }
    std::fs::write(path, text).map_err(|source| PkiError::Io { path: path.display().to_string(), source })?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| PkiError::Io { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubeconfigs_keep_each_credential_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::new_ca("kubernetes").unwrap();
        let path = dir.path().join("admin.conf");
        super::write_kubeconfig(
            &path,
            "kubernetes",
            "https://127.0.0.1:6443",
            &ca.cert_pem,
            "admin",
            &ca.cert_pem,
            &ca.key_pem,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for key in ["certificate-authority-data", "client-certificate-data", "client-key-data"] {
            let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap();
            let value = line.split_once(": ").unwrap().1;
            assert!(value.starts_with("LS0t"), "{key} is not a plain one-line scalar: {line}");
        }
    }
}
