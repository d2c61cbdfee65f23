//! Continue tokens in upstream's format: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":K}`,
//! where K is the next key relative to the listed prefix. Clients treat them as opaque.

use crate::StorageError;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

pub fn encode(rv: i64, start: &str) -> String {
    let t = Token { v: "meta.k8s.io/v1".into(), rv, start: start.into() };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&t).unwrap_or_default())
}

pub fn decode(token: &str) -> Result<(i64, String), StorageError> {
    let bad = || StorageError::BadContinue("continue key is not valid: illegal base64 data at input byte 0".into());
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&raw)
        .map_err(|_| StorageError::BadContinue("continue key is not valid: invalid character".into()))?;
    if t.v != "meta.k8s.io/v1" {
        return Err(StorageError::BadContinue(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
        ));
    }
    if t.rv <= 0 {
        return Err(StorageError::BadContinue(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
        ));
    }
    if t.start.contains("..") || t.start.starts_with('/') {
        return Err(StorageError::BadContinue("continue key is not valid: start key is not valid".into()));
    }
    Ok((t.rv, t.start))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_rejects_garbage() {
        let t = super::encode(42, "ns/name\u{0}");
        assert_eq!(super::decode(&t).unwrap(), (42, "ns/name\u{0}".to_string()));
        assert!(super::decode("!!!").is_err());
        assert!(super::decode(&super::encode(0, "a")).is_err());
    }
}
