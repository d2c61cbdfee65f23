//! Detached JWS over bootstrap tokens (upstream's `cluster-bootstrap/token/jws`): the bootstrap
//! signer signs `kube-public/cluster-info` with each signing token, and `kubeadm join` checks
//! that signature with the token it was given before it trusts the CA inside.

use base64::Engine;
use std::collections::BTreeMap;

/// `jws.ComputeDetachedSignature`: a compact HS256 JWS of `content` with the protected header
/// `{"alg":"HS256","kid":"<token_id>"}` and the payload left out (`header..signature`, RFC 7515
/// appendix F). The key is the token secret's bytes, zero-padded to 32 bytes as upstream pads
/// it for go-jose.
pub fn compute_detached_signature(
    content: &str,
    token_id: &str,
    token_secret: impl AsRef<[u8]>,
) -> Result<String, String> {
    let mut key = token_secret.as_ref().to_vec();
    if key.len() < 32 {
        key.resize(32, 0);
    }
    // go-jose marshals the protected header as a Go map: keys sorted, no spaces.
    let header = serde_json::to_string(&BTreeMap::from([("alg", "HS256"), ("kid", token_id)]))
        .map_err(|e| format!("can't serialize the JWS header: {e}"))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let protected = b64.encode(header);
    let signing_input = format!("{protected}.{}", b64.encode(content));
    let sig = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(&key),
        jsonwebtoken::Algorithm::HS256,
    )
    .map_err(|e| format!("can't HS256-sign the given token: {e}"))?;
    Ok(format!("{protected}..{sig}"))
}

/// `jws.DetachedTokenIsValid`: `signature` is this token's signature of `content`.
pub fn detached_token_is_valid(signature: &str, content: &str, token_id: &str, token_secret: &str) -> bool {
    compute_detached_signature(content, token_id, token_secret).is_ok_and(|want| {
        // Constant-time enough for our use: the comparison runs over the whole string.
        want.len() == signature.len() && want.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Upstream's own vectors (cluster-bootstrap jws_test.go), which pin the header bytes, the
    // zero padding of a short key and the detached form.
    const CONTENT: &str = "Hello from the other side. I must have called a thousand times.";

    #[test]
    fn detached_signatures_match_upstreams_bytes() {
        let sig = compute_detached_signature(CONTENT, "joshua", "my voice is my passcode").unwrap();
        assert_eq!(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8");
        let sig = compute_detached_signature("", "joshua", "my voice is my passcode").unwrap();
        assert_eq!(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk");
        let sig = compute_detached_signature(CONTENT, "joshua", "").unwrap();
        assert_eq!(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8");
        // A kubeadm-shaped token: HMAC-SHA256 over `base64url(header).base64url("hello")` with
        // "0123456789abcdef" and 16 zero bytes as the key.
        let sig = compute_detached_signature("hello", "abcdef", "0123456789abcdef").unwrap();
        assert_eq!(sig, "eyJhbGciOiJIUzI1NiIsImtpZCI6ImFiY2RlZiJ9..MxsnbCjBaYzcbNIFa06F-wuF9LX26rhMlrL4zA1511s");
    }

    #[test]
    fn only_the_tokens_own_signature_of_the_same_content_is_valid() {
        let sig = compute_detached_signature("hello", "abcdef", "0123456789abcdef").unwrap();
        assert!(detached_token_is_valid(&sig, "hello", "abcdef", "0123456789abcdef"));
        assert!(!detached_token_is_valid(&sig, "hello!", "abcdef", "0123456789abcdef"));
        assert!(!detached_token_is_valid(&sig, "hello", "abcdef", "0123456789abcdeg"));
        assert!(!detached_token_is_valid(&sig, "hello", "abcdeg", "0123456789abcdef"));
        assert!(!detached_token_is_valid("", "hello", "abcdef", "0123456789abcdef"));
    }
}
