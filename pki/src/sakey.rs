//! Service-account signing keys: kubeadm's `sa.key`/`sa.pub` pair, the public keys the
//! apiserver verifies tokens with (from public or private PEM, as upstream's
//! `keyutil.PublicKeysFromFile` accepts both), and their JWK form for `/openid/v1/jwks`.

use crate::{PkiError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The JWS algorithm a key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    ES256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }
}

/// A public key: its SubjectPublicKeyInfo DER, algorithm and key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub spki_der: Vec<u8>,
    pub alg: Alg,
    /// Upstream's key id: unpadded base64url of the SHA-256 of the SPKI DER.
    pub kid: String,
}

/// A private signing key as PKCS#8 PEM, with its public half.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub pkcs8_pem: String,
    pub public: PublicKey,
}

fn bad(what: &str, e: impl std::fmt::Display) -> PkiError {
    PkiError::Parse(format!("{what}: {e}"))
}

/// A new service-account key pair: the private key as `crate::new_key` writes it (RSA as
/// PKCS#1 "RSA PRIVATE KEY", as kubeadm's `sa.key`) and the public key as PKIX ("PUBLIC KEY").
pub fn generate(alg: crate::KeyAlgorithm) -> Result<(String, String)> {
    let (pair, private) = crate::new_key(alg)?;
    Ok((private, pair.public_key_pem()))
}

/// kubeadm's default service-account key: RSA 2048.
pub fn generate_rsa() -> Result<(String, String)> {
    generate(crate::KeyAlgorithm::Rsa(2048))
}

/// An ECDSA P-256 key pair: quick to generate.
pub fn generate_ec() -> Result<(String, String)> {
    generate(crate::KeyAlgorithm::EcdsaP256)
}

fn public_from_spki(der: Vec<u8>) -> Result<PublicKey> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(&der).map_err(|e| bad("public key", e))?;
    let alg = match spki.parsed().map_err(|e| bad("public key", e))? {
        ParsedKey::RSA(_) => Alg::RS256,
        ParsedKey::EC(_)
            if spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string())
                == Some("1.2.840.10045.3.1.7".into()) =>
        {
            Alg::ES256
        }
        _ => return Err(PkiError::Parse("unsupported public key type (want RSA or ECDSA P-256)".into())),
    };
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(&der));
    Ok(PublicKey { spki_der: der, alg, kid })
}

fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or_else(|| bad("pem", "unterminated header"))?;
        let label = after[..label_end].to_string();
        let end_marker = format!("-----END {label}-----");
        let body_start = label_end + 5;
        let end = after.find(&end_marker).ok_or_else(|| bad("pem", format!("missing {end_marker}")))?;
        let body: String = after[body_start..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| bad("pem", e))?;
        out.push((label, der));
        rest = &after[end + end_marker.len()..];
    }
    Ok(out)
}

fn ec_pkcs8_to_public(pkcs8: &[u8]) -> Result<PublicKey> {
    let k = rcgen::KeyPair::try_from(pkcs8).map_err(|e| bad("ec private key", e))?;
    public_from_spki(rcgen::PublicKeyData::subject_public_key_info(&k))
}

/// Every public key in a PEM file: public keys, RSA and EC private keys, certificates.
pub fn public_keys_from_pem(pem: &str) -> Result<Vec<PublicKey>> {
    let mut out = Vec::new();
    for (label, der) in pem_blocks(pem)? {
        let key = match label.as_str() {
            "PUBLIC KEY" => public_from_spki(der)?,
            "RSA PUBLIC KEY" => {
                let k = rsa::RsaPublicKey::from_pkcs1_der(&der).map_err(|e| bad("rsa public key", e))?;
                public_from_spki(k.to_public_key_der().map_err(|e| bad("rsa public key", e))?.into_vec())?
            }
            "RSA PRIVATE KEY" => {
                let k = rsa::RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad("rsa private key", e))?;
                public_from_spki(k.to_public_key().to_public_key_der().map_err(|e| bad("rsa key", e))?.into_vec())?
            }
            "PRIVATE KEY" => match rsa::RsaPrivateKey::from_pkcs8_der(&der) {
                Ok(k) => {
                    public_from_spki(k.to_public_key().to_public_key_der().map_err(|e| bad("rsa key", e))?.into_vec())?
                }
                Err(_) => ec_pkcs8_to_public(&der)?,
            },
            "EC PRIVATE KEY" => {
                return Err(PkiError::Parse("EC PRIVATE KEY (SEC1) is not supported; use PKCS#8".into()))
            }
            "CERTIFICATE" => {
                let (_, c) = x509_parser::parse_x509_certificate(&der).map_err(|e| bad("certificate", e))?;
                public_from_spki(c.public_key().raw.to_vec())?
            }
            _ => continue,
        };
        out.push(key);
    }
    if out.is_empty() {
        return Err(PkiError::Parse("data does not contain any valid RSA or ECDSA public keys".into()));
    }
    Ok(out)
}

/// The signing key of `--service-account-signing-key-file`.
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey> {
    for (label, der) in pem_blocks(pem)? {
        match label.as_str() {
            "RSA PRIVATE KEY" | "PRIVATE KEY" => {
                let rsa_key = if label == "RSA PRIVATE KEY" {
                    Some(rsa::RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad("rsa private key", e))?)
                } else {
                    rsa::RsaPrivateKey::from_pkcs8_der(&der).ok()
                };
                if let Some(k) = rsa_key {
                    let pkcs8_pem = k.to_pkcs8_pem(LineEnding::LF).map_err(|e| bad("rsa key", e))?.to_string();
                    let spki = k.to_public_key().to_public_key_der().map_err(|e| bad("rsa key", e))?.into_vec();
                    return Ok(SigningKey { pkcs8_pem, public: public_from_spki(spki)? });
                }
                let public = ec_pkcs8_to_public(&der)?;
                let pkcs8_pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    base64::engine::general_purpose::STANDARD.encode(&der)
                );
                return Ok(SigningKey { pkcs8_pem, public });
            }
            _ => continue,
        }
    }
    Err(PkiError::Parse("data does not contain a valid RSA or ECDSA private key".into()))
}

impl PublicKey {
    /// The JWK (RFC 7517) upstream serves at `/openid/v1/jwks`.
    pub fn jwk(&self) -> serde_json::Value {
        let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&self.spki_der) else { return serde_json::Value::Null };
        match spki.parsed() {
            Ok(ParsedKey::RSA(k)) => serde_json::json!({
                "use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(strip_zeros(k.modulus)),
                "e": URL_SAFE_NO_PAD.encode(strip_zeros(k.exponent)),
            }),
            Ok(ParsedKey::EC(p)) => {
                let d = p.data();
                let (x, y) = if d.len() == 65 { (&d[1..33], &d[33..]) } else { (&d[..0], &d[..0]) };
                serde_json::json!({
                    "use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
            _ => serde_json::Value::Null,
        }
    }

    /// The key as "PUBLIC KEY" PEM.
    pub fn pem(&self) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(&self.spki_der);
        let mut s = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b.as_bytes().chunks(64) {
            s.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            s.push('\n');
        }
        s.push_str("-----END PUBLIC KEY-----\n");
        s
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_keys_round_trip() {
        let (priv_pem, pub_pem) = generate_ec().unwrap();
        let from_pub = public_keys_from_pem(&pub_pem).unwrap();
        let from_priv = public_keys_from_pem(&priv_pem).unwrap();
        assert_eq!(from_pub, from_priv);
        assert_eq!(from_pub[0].alg, Alg::ES256);
        let s = signing_key_from_pem(&priv_pem).unwrap();
        assert_eq!(s.public, from_pub[0]);
        let jwk = s.public.jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["kid"].as_str().unwrap().len(), 43);
        assert_eq!(public_keys_from_pem(&s.public.pem()).unwrap()[0], s.public);
    }

    #[test]
    fn rsa_keys_round_trip() {
        let (priv_pem, pub_pem) = generate_rsa().unwrap();
        assert!(priv_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let p = public_keys_from_pem(&pub_pem).unwrap();
        assert_eq!(p, public_keys_from_pem(&priv_pem).unwrap());
        assert_eq!(p[0].alg, Alg::RS256);
        let s = signing_key_from_pem(&priv_pem).unwrap();
        assert_eq!(s.public, p[0]);
        assert_eq!(s.public.jwk()["e"], "AQAB");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(public_keys_from_pem("hello").is_err());
        assert!(public_keys_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
        assert!(signing_key_from_pem("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n").is_err());
    }
}
