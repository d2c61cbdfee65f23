//! Signing algorithms and the issuer's JSON Web Key Set, turned into jsonwebtoken keys.

use jsonwebtoken::{crypto, Algorithm, DecodingKey};
use serde_json::Value;

/// The algorithms upstream allows in `--oidc-signing-algs` (RFC 7518 asymmetric ones only, so a
/// public key can never be used as an HMAC secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigAlg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
}

impl SigAlg {
    pub(crate) fn parse(s: &str) -> Option<SigAlg> {
        Some(match s {
            "RS256" => SigAlg::RS256,
            "RS384" => SigAlg::RS384,
            "RS512" => SigAlg::RS512,
            "PS256" => SigAlg::PS256,
            "PS384" => SigAlg::PS384,
            "PS512" => SigAlg::PS512,
            "ES256" => SigAlg::ES256,
            "ES384" => SigAlg::ES384,
            "ES512" => SigAlg::ES512,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SigAlg::RS256 => "RS256",
            SigAlg::RS384 => "RS384",
            SigAlg::RS512 => "RS512",
            SigAlg::PS256 => "PS256",
            SigAlg::PS384 => "PS384",
            SigAlg::PS512 => "PS512",
            SigAlg::ES256 => "ES256",
            SigAlg::ES384 => "ES384",
            SigAlg::ES512 => "ES512",
        }
    }

    /// jsonwebtoken's name for it; `None` where it has no verifier (ES512).
    pub(crate) fn jwt_alg(self) -> Option<Algorithm> {
        Some(match self {
            SigAlg::RS256 => Algorithm::RS256,
            SigAlg::RS384 => Algorithm::RS384,
            SigAlg::RS512 => Algorithm::RS512,
            SigAlg::PS256 => Algorithm::PS256,
            SigAlg::PS384 => Algorithm::PS384,
            SigAlg::PS512 => Algorithm::PS512,
            SigAlg::ES256 => Algorithm::ES256,
            SigAlg::ES384 => Algorithm::ES384,
            SigAlg::ES512 => return None,
        })
    }

    /// Whether a key can verify this algorithm. Checked before calling jsonwebtoken, which
    /// panics when an RSA-components key meets a non-RSA algorithm.
    fn fits(self, kind: KeyKind) -> bool {
        match self {
            SigAlg::RS256 | SigAlg::RS384 | SigAlg::RS512 | SigAlg::PS256 | SigAlg::PS384 | SigAlg::PS512 => {
                kind == KeyKind::Rsa
            }
            SigAlg::ES256 => kind == KeyKind::P256,
            SigAlg::ES384 => kind == KeyKind::P384,
            SigAlg::ES512 => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
}

/// One usable verification key of the issuer.
pub(crate) struct Jwk {
    /// Empty when the JWK has none (it then only matches tokens without a `kid`, as in go-oidc).
    kid: String,
    kind: KeyKind,
    key: DecodingKey,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk").field("kid", &self.kid).field("kind", &self.kind).finish()
    }
}

/// Parses a JWKS document. Keys this implementation cannot use (other key types, curves, or
/// malformed members) are skipped rather than failing the set, so one odd key does not lock
/// every user out.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("oidc: failed to decode keys: {e}"))?;
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Err("oidc: failed to decode keys: no \"keys\" array".into());
    };
    let mut out = Vec::new();
    for k in keys {
        match parse_jwk(k) {
            Some(jwk) => out.push(jwk),
            None => tracing::debug!(key = %k, "oidc: skipping unusable JWK"),
        }
    }
    Ok(out)
}

fn parse_jwk(k: &Value) -> Option<Jwk> {
    let field = |name: &str| k.get(name).and_then(Value::as_str);
    // Go's decoder tolerates padded base64url in JWKs; jsonwebtoken does not.
    let b64 = |name: &str| field(name).map(|s| s.trim_end_matches('=').to_string());
    let kid = match k.get("kid") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return None,
    };
    let (kind, key) = match field("kty")? {
        "RSA" => (KeyKind::Rsa, DecodingKey::from_rsa_components(&b64("n")?, &b64("e")?).ok()?),
        "EC" => {
            let (kind, len) = match field("crv")? {
                "P-256" => (KeyKind::P256, 32usize),
                "P-384" => (KeyKind::P384, 48),
                _ => return None,
            };
            let (x, y) = (b64("x")?, b64("y")?);
            // Both coordinates at full length, or the uncompressed point would be misparsed.
            if x.len() != (len * 4).div_ceil(3) || y.len() != x.len() {
                return None;
            }
            (kind, DecodingKey::from_ec_components(&x, &y).ok()?)
        }
        _ => return None,
    };
    Some(Jwk { kid, kind, key })
}

/// Whether any key selected by `kid` (all keys when the token has none) verifies the signature.
pub(crate) fn verify(keys: &[Jwk], kid: &str, alg: SigAlg, message: &[u8], signature: &str) -> bool {
    let Some(jwt_alg) = alg.jwt_alg() else { return false };
    keys.iter()
        .filter(|k| (kid.is_empty() || k.kid == kid) && alg.fits(k.kind))
        .any(|k| crypto::verify(signature, message, &k.key, jwt_alg).unwrap_or(false))
}
