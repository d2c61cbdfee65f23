//! Certificates for the cluster: a CA, serving and client leaf certificates signed by it,
//! subject parsing for authentication, and kubeconfig files that carry them.

pub mod csr;
mod kubeconfig;
pub mod sakey;
pub mod tls;

pub use kubeconfig::{kubeconfig_text, write_kubeconfig, Kubeconfig};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::Path;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid certificate: {0}")]
    Parse(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("reading {0}: {1}")]
    Read(String, String),
    #[error("tls configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, PkiError>;

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Default)]
pub struct LeafSpec {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub server: bool,
    pub client: bool,
    pub validity_days: i64,
}

/// kubeadm's certificate lifetimes: 10 years for CAs, 1 year for leaves.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;

fn dn(cn: &str, orgs: &[String]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for o in orgs {
        d.push(DnType::OrganizationName, o.as_str());
    }
    d.push(DnType::CommonName, cn);
    d
}

/// A new self-signed CA (kubeadm names its cluster CA "kubernetes").
pub fn new_ca(common_name: &str) -> Result<CertKey> {
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = dn(common_name, &[]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::minutes(5);
    p.not_after = now + Duration::days(CA_DAYS);
    let cert = p.self_signed(&key)?;
    Ok(CertKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// Issues a leaf certificate signed by `ca`.
pub fn issue(ca: &CertKey, spec: &LeafSpec) -> Result<CertKey> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca_key)?;
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = dn(&spec.common_name, &spec.organizations);
    for d in &spec.dns_names {
        p.subject_alt_names.push(SanType::DnsName(d.as_str().try_into()?));
    }
    for ip in &spec.ips {
        p.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    if spec.server {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if spec.client {
        p.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    p.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::minutes(5);
    p.not_after = now + Duration::days(if spec.validity_days > 0 { spec.validity_days } else { LEAF_DAYS });
    let cert = p.signed_by(&key, &issuer)?;
    Ok(CertKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
}

/// The identity a client certificate carries: CN is the user, each O a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub common_name: String,
    pub organizations: Vec<String>,
}

/// Reads the subject of a DER certificate.
pub fn subject_of_der(der: &[u8]) -> Result<Subject> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let subject = cert.subject();
    let common_name = subject.iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or_default().to_string();
    let organizations = subject.iter_organization().filter_map(|a| a.as_str().ok().map(str::to_string)).collect();
    Ok(Subject { common_name, organizations })
}

/// When the first certificate of a PEM bundle expires (Unix seconds).
pub fn not_after_of_pem(pem: &[u8]) -> Option<i64> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&p.contents).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Reads the subject of the first certificate of a PEM bundle.
pub fn subject_of_pem(pem: &str) -> Result<Subject> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::Parse(e.to_string()))?;
    subject_of_der(&p.contents)
}

fn write(path: &Path, data: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.display().to_string(), source })?;
    }
    std::fs::write(path, data).map_err(|source| PkiError::Io { path: path.display().to_string(), source })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| PkiError::Io { path: path.display().to_string(), source })
}

/// Writes `<dir>/<name>.crt` and `<dir>/<name>.key` (key readable by the owner only).
pub fn write_pair(dir: &Path, name: &str, ck: &CertKey) -> Result<()> {
    write(&dir.join(format!("{name}.crt")), &ck.cert_pem, 0o644)?;
    write(&dir.join(format!("{name}.key")), &ck.key_pem, 0o600)
}

/// Reads `<dir>/<name>.crt` and `<dir>/<name>.key`.
pub fn read_pair(dir: &Path, name: &str) -> Result<CertKey> {
    let rd = |p: std::path::PathBuf| {
        std::fs::read_to_string(&p).map_err(|source| PkiError::Io { path: p.display().to_string(), source })
    };
    Ok(CertKey { cert_pem: rd(dir.join(format!("{name}.crt")))?, key_pem: rd(dir.join(format!("{name}.key")))? })
}

/// The apiserver serving certificate's names, as kubeadm computes them.
pub fn apiserver_sans(
    node_name: &str,
    advertise: IpAddr,
    first_service_ip: IpAddr,
    dns_domain: &str,
) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = vec![
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        format!("kubernetes.default.svc.{dns_domain}"),
        "localhost".to_string(),
    ];
    if !node_name.is_empty() && !dns.iter().any(|d| d == node_name) {
        dns.push(node_name.to_string());
    }
    let mut ips = vec![first_service_ip, advertise];
    let lo: IpAddr = [127, 0, 0, 1].into();
    if !ips.contains(&lo) {
        ips.push(lo);
    }
    ips.dedup();
    (dns, ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_signs_client_cert_with_groups() {
        let ca = new_ca("kubernetes").unwrap();
        let leaf = issue(
            &ca,
            &LeafSpec {
                common_name: "kubernetes-admin".into(),
                organizations: vec!["system:masters".into()],
                client: true,
                ..Default::default()
            },
        )
        .unwrap();
        let s = subject_of_pem(&leaf.cert_pem).unwrap();
        assert_eq!(s.common_name, "kubernetes-admin");
        assert_eq!(s.organizations, vec!["system:masters".to_string()]);
        assert_eq!(subject_of_pem(&ca.cert_pem).unwrap().common_name, "kubernetes");
    }

    #[test]
    fn sans_include_service_names_and_ips() {
        let (dns, ips) = apiserver_sans("node1", [10, 0, 0, 5].into(), [10, 96, 0, 1].into(), "cluster.local");
        assert!(dns.contains(&"kubernetes.default.svc.cluster.local".to_string()));
        assert!(ips.contains(&"10.96.0.1".parse().unwrap()));
        assert!(ips.contains(&"127.0.0.1".parse().unwrap()));
    }
}
