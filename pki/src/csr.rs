//! Certificate signing requests: what a PEM CSR asks for (subject, names, key type), and
//! signing one with a CA the way upstream's CSR signer does — the subject and names from the
//! request, the usages from the CertificateSigningRequest object (never from the request's
//! own extensions), backdated five minutes, capped at the CA's own expiry.

use crate::{CertKey, PkiError, Result};
use rcgen::{CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose, SerialNumber};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

/// What a CSR asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsrInfo {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    pub rsa_key: bool,
}

fn pem_block(pem: &[u8]) -> Result<Vec<u8>> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| PkiError::Parse(e.to_string()))?;
    if block.label != "CERTIFICATE REQUEST" && block.label != "NEW CERTIFICATE REQUEST" {
        return Err(PkiError::Parse(format!("PEM block type must be CERTIFICATE REQUEST, not {}", block.label)));
    }
    Ok(block.contents)
}

/// Parses a PEM CSR (and checks its self-signature).
/// A PEM `CERTIFICATE REQUEST` for `cn` in `orgs`, signed by `key` (no SANs): what a kubelet
/// sends for its client certificate.
pub fn make_csr(key: &rcgen::KeyPair, cn: &str, orgs: &[String]) -> Result<String> {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = crate::dn(cn, orgs);
    Ok(p.serialize_request(key)?.pem()?)
}

pub fn parse_csr(pem: &[u8]) -> Result<CsrInfo> {
    let der = pem_block(pem)?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| PkiError::Parse(e.to_string()))?;
    csr.verify_signature().map_err(|e| PkiError::Parse(format!("invalid signature: {e}")))?;
    let info = &csr.certification_request_info;
    let mut out = CsrInfo {
        common_name: info
            .subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string(),
        organizations: info.subject.iter_organization().filter_map(|a| a.as_str().ok().map(str::to_string)).collect(),
        rsa_key: info.subject_pki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION,
        ..Default::default()
    };
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) = ext {
            for name in &san.general_names {
                use x509_parser::extensions::GeneralName;
                match name {
                    GeneralName::DNSName(d) => out.dns_names.push(d.to_string()),
                    GeneralName::RFC822Name(e) => out.emails.push(e.to_string()),
                    GeneralName::URI(u) => out.uris.push(u.to_string()),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => out.ip_addresses.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())),
                        16 => out.ip_addresses.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// The organizations a PEM CSR's subject names (empty when it cannot be read).
pub fn csr_organizations(pem: &[u8]) -> Vec<String> {
    parse_csr(pem).map(|c| c.organizations).unwrap_or_default()
}

fn usages(names: &[String]) -> Result<(Vec<KeyUsagePurpose>, Vec<ExtendedKeyUsagePurpose>)> {
    let mut ku = Vec::new();
    let mut eku = Vec::new();
    for n in names {
        match n.as_str() {
            "signing" | "digital signature" => ku.push(KeyUsagePurpose::DigitalSignature),
            "content commitment" => ku.push(KeyUsagePurpose::ContentCommitment),
            "key encipherment" => ku.push(KeyUsagePurpose::KeyEncipherment),
            "key agreement" => ku.push(KeyUsagePurpose::KeyAgreement),
            "data encipherment" => ku.push(KeyUsagePurpose::DataEncipherment),
            "cert sign" => ku.push(KeyUsagePurpose::KeyCertSign),
            "crl sign" => ku.push(KeyUsagePurpose::CrlSign),
            "encipher only" => ku.push(KeyUsagePurpose::EncipherOnly),
            "decipher only" => ku.push(KeyUsagePurpose::DecipherOnly),
            "any" => eku.push(ExtendedKeyUsagePurpose::Any),
            "server auth" => eku.push(ExtendedKeyUsagePurpose::ServerAuth),
            "client auth" => eku.push(ExtendedKeyUsagePurpose::ClientAuth),
            "code signing" => eku.push(ExtendedKeyUsagePurpose::CodeSigning),
            "email protection" | "s/mime" => eku.push(ExtendedKeyUsagePurpose::EmailProtection),
            "timestamping" => eku.push(ExtendedKeyUsagePurpose::TimeStamping),
            "ocsp signing" => eku.push(ExtendedKeyUsagePurpose::OcspSigning),
            "ipsec end system" => eku.push(ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 5])),
            "ipsec tunnel" => eku.push(ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 6])),
            "ipsec user" => eku.push(ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 7])),
            "microsoft sgc" => eku.push(ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 3])),
            "netscape sgc" => eku.push(ExtendedKeyUsagePurpose::Other(vec![2, 16, 840, 1, 113730, 4, 1])),
            other => return Err(PkiError::Parse(format!("unknown key usage: {other}"))),
        }
    }
    Ok((ku, eku))
}

/// Signs a PEM CSR with `ca` for `ttl`, with the given usages (upstream's names). Returns the
/// certificate PEM.
pub fn sign_csr(ca: &CertKey, csr_pem: &[u8], usage_names: &[String], ttl: std::time::Duration) -> Result<String> {
    let der = pem_block(csr_pem)?;
    let mut req = CertificateSigningRequestParams::from_der(&der.into())?;
    let ca_key = crate::key_pair_from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, &ca_key)?;
    let (ku, eku) = usages(usage_names)?;
    let p = &mut req.params;
    p.key_usages = ku;
    p.extended_key_usages = eku;
    p.is_ca = IsCa::ExplicitNoCa;
    p.use_authority_key_identifier_extension = true;
    let mut serial = [0u8; 16];
    rand::fill(&mut serial);
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    // Upstream's PermissiveSigningPolicy: backdated 5 minutes against clock skew, and a TTL of
    // 8 hours or more loses those 5 minutes at its end too.
    let now = OffsetDateTime::now_utc();
    let backdate = Duration::minutes(5);
    p.not_before = now - backdate;
    let ttl = Duration::try_from(ttl).unwrap_or(Duration::days(365));
    let mut not_after = now + ttl;
    if ttl >= Duration::hours(8) {
        not_after -= backdate;
    }
    let ca_end = ca_not_after(&ca.cert_pem)?;
    if not_after > ca_end {
        not_after = ca_end;
    }
    p.not_after = not_after;
    let cert = req.signed_by(&issuer)?;
    Ok(cert.pem())
}

fn ca_not_after(pem: &str) -> Result<OffsetDateTime> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::Parse(e.to_string()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&p.contents).map_err(|e| PkiError::Parse(e.to_string()))?;
    Ok(cert.validity().not_after.to_datetime())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(cn: &str, orgs: &[&str], sans: &[&str]) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name = crate::dn(cn, &orgs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        p.serialize_request(&key).unwrap().pem().unwrap()
    }

    #[test]
    fn a_signed_csr_keeps_its_subject_and_names_and_takes_the_objects_usages() {
        let ca = crate::new_ca("kubernetes").unwrap();
        let req = csr("jean.doe", &["devs"], &["example.com"]);
        let info = parse_csr(req.as_bytes()).unwrap();
        assert_eq!(info.common_name, "jean.doe");
        assert_eq!(info.organizations, vec!["devs"]);
        assert_eq!(info.dns_names, vec!["example.com"]);
        let pem = sign_csr(
            &ca,
            req.as_bytes(),
            &["digital signature".into(), "client auth".into()],
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
        let s = crate::subject_of_pem(&pem).unwrap();
        assert_eq!((s.common_name.as_str(), s.organizations.clone()), ("jean.doe", vec!["devs".to_string()]));
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&p.contents).unwrap();
        let life = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert_eq!(life, 3600 + 300);
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert!(parse_csr(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
        assert!(sign_csr(&ca, req.as_bytes(), &["warp drive".into()], std::time::Duration::from_secs(60)).is_err());
    }
}
