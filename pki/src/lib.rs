//! Certificates for the cluster: a CA, serving and client leaf certificates signed by it,
//! subject parsing for authentication, and kubeconfig files that carry them.

pub mod csr;
pub mod jws;
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
    /// The new key's algorithm.
    pub key: KeyAlgorithm,
    /// Validity bounds; by default from five minutes ago for `validity_days`.
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
}

/// The algorithm of a new private key: kubeadm's `encryptionAlgorithm`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Quick to generate: what the project's own tooling uses unless told otherwise.
    #[default]
    EcdsaP256,
    Rsa(usize),
}

impl KeyAlgorithm {
    /// kubeadm's names: `RSA-2048`, `RSA-3072`, `RSA-4096`, `ECDSA-P256`.
    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        Some(match s {
            "RSA-2048" | "" => KeyAlgorithm::Rsa(2048),
            "RSA-3072" => KeyAlgorithm::Rsa(3072),
            "RSA-4096" => KeyAlgorithm::Rsa(4096),
            "ECDSA-P256" => KeyAlgorithm::EcdsaP256,
            _ => return None,
        })
    }
}

/// A new private key: the pair to sign with, and its PEM as upstream writes it (RSA keys as
/// PKCS#1 `RSA PRIVATE KEY`; ECDSA keys as PKCS#8).
pub fn new_key(alg: KeyAlgorithm) -> Result<(KeyPair, String)> {
    match alg {
        KeyAlgorithm::EcdsaP256 => {
            let k = KeyPair::generate()?;
            let pem = k.serialize_pem();
            Ok((k, pem))
        }
        KeyAlgorithm::Rsa(bits) => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
                .map_err(|e| PkiError::Parse(format!("rsa key generation: {e}")))?;
            let pem = key
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| PkiError::Parse(format!("rsa key encoding: {e}")))?
                .to_string();
            let der = key.to_pkcs8_der().map_err(|e| PkiError::Parse(format!("rsa key encoding: {e}")))?;
            let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().to_vec().into(), &rcgen::PKCS_RSA_SHA256)?;
            Ok((pair, pem))
        }
    }
}

/// A private key from PEM: PKCS#8, or PKCS#1 RSA as kubeadm writes it.
pub fn key_pair_from_pem(pem: &str) -> Result<KeyPair> {
    if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        let key =
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| PkiError::Parse(format!("rsa private key: {e}")))?;
        let der = key.to_pkcs8_der().map_err(|e| PkiError::Parse(format!("rsa key encoding: {e}")))?;
        return Ok(KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().to_vec().into(), &rcgen::PKCS_RSA_SHA256)?);
    }
    Ok(KeyPair::from_pem(pem)?)
}

/// A self-signed CA as kubeadm makes them: its name also as a DNS name, key usages
/// digitalSignature, keyEncipherment and keyCertSign, valid from `not_before` to `not_after`.
pub fn new_ca_with(
    common_name: &str,
    alg: KeyAlgorithm,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertKey> {
    let (key, key_pem) = new_key(alg)?;
    let mut p = CertificateParams::new(vec![common_name.to_string()])?;
    p.distinguished_name = dn(common_name, &[]);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages =
        vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
    p.serial_number = Some(serial());
    (p.not_before, p.not_after) = (not_before, not_after);
    let cert = p.self_signed(&key)?;
    Ok(CertKey { cert_pem: cert.pem(), key_pem })
}

/// A random positive serial number below 2^63, as upstream's.
fn serial() -> rcgen::SerialNumber {
    let mut b = [0u8; 8];
    rand::fill(&mut b);
    b[0] &= 0x7f;
    if b == [0; 8] {
        b[7] = 1;
    }
    rcgen::SerialNumber::from_slice(&b)
}

/// kubeadm's certificate lifetimes: 10 years for CAs, 1 year for leaves.
const CA_DAYS: i64 = 3650;
const LEAF_DAYS: i64 = 365;

pub(crate) fn dn(cn: &str, orgs: &[String]) -> DistinguishedName {
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
    let ca_key = key_pair_from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca_key)?;
    let (key, key_pem) = new_key(spec.key)?;
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
    p.serial_number = Some(serial());
    let now = OffsetDateTime::now_utc();
    p.not_before = spec.not_before.unwrap_or(now - Duration::minutes(5));
    p.not_after = spec
        .not_after
        .unwrap_or(now + Duration::days(if spec.validity_days > 0 { spec.validity_days } else { LEAF_DAYS }));
    let cert = p.signed_by(&key, &issuer)?;
    Ok(CertKey { cert_pem: cert.pem(), key_pem })
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

/// Every certificate of a PEM bundle parses and is unexpired at `now` (Unix seconds); false for
/// a bundle without certificates.
pub fn all_certs_valid_at(pem: &[u8], now: i64) -> bool {
    let mut any = false;
    for p in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let Ok(p) = p else { return false };
        if p.label != "CERTIFICATE" {
            continue;
        }
        match x509_parser::parse_x509_certificate(&p.contents) {
            Ok((_, c)) if c.validity().not_after.timestamp() > now => any = true,
            _ => return false,
        }
    }
    any
}

/// Reads the subject of the first certificate of a PEM bundle.
pub fn subject_of_pem(pem: &str) -> Result<Subject> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::Parse(e.to_string()))?;
    subject_of_der(&p.contents)
}

/// Whether the first certificate of `pem` carries a valid signature of the first certificate of
/// `ca_pem` (and names it as issuer).
pub fn signed_by(pem: &str, ca_pem: &str) -> bool {
    let parse = |p: &str| x509_parser::pem::parse_x509_pem(p.as_bytes()).ok().map(|(_, b)| b.contents);
    let (Some(leaf), Some(ca)) = (parse(pem), parse(ca_pem)) else { return false };
    let (Ok((_, leaf)), Ok((_, ca))) =
        (x509_parser::parse_x509_certificate(&leaf), x509_parser::parse_x509_certificate(&ca))
    else {
        return false;
    };
    leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
}

/// kubeadm's public-key pin of a certificate (`--discovery-token-ca-cert-hash`): `sha256:` and
/// the hex SHA-256 of its DER SubjectPublicKeyInfo.
pub fn public_key_pin(pem: &str) -> Result<String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::Parse(e.to_string()))?;
    public_key_pin_der(&block.contents)
}

fn public_key_pin_der(der: &[u8]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Parse(e.to_string()))?;
    let digest = Sha256::digest(cert.tbs_certificate.subject_pki.raw);
    Ok(format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// The DER of every `CERTIFICATE` block of a PEM bundle, in order.
pub fn certs_der(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for p in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let p = p.map_err(|e| PkiError::Parse(e.to_string()))?;
        if p.label == "CERTIFICATE" {
            out.push(p.contents);
        }
    }
    Ok(out)
}

/// The public-key pin of every certificate of a PEM bundle (a CA bundle may hold several).
pub fn public_key_pins(pem: &[u8]) -> Result<Vec<String>> {
    certs_der(pem)?.iter().map(|d| public_key_pin_der(d)).collect()
}

/// Writes `path` with `mode`, creating its directory.
pub fn write_file(path: &Path, data: &str, mode: u32) -> Result<()> {
    write(path, data, mode)
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
