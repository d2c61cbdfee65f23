//! `bootstrap-signer-controller` (upstream `pkg/controller/bootstrap/bootstrapsigner.go`, off by
//! default; kubeadm turns it on): the `kube-public/cluster-info` ConfigMap's `kubeconfig` is
//! signed with every bootstrap token that may sign (a `bootstrap.kubernetes.io/token` Secret in
//! kube-system named `bootstrap-token-<id>`, its `token-id` the same `<id>`, a `token-secret`,
//! `usage-bootstrap-signing: "true"` and not expired), as a detached JWS under
//! `jws-kubeconfig-<id>`; signatures of tokens that are gone are removed. A joining node that
//! knows a token checks the unauthenticated cluster-info against it. Any change of the
//! ConfigMap or of a token Secret re-signs; a write that conflicts waits for the next change,
//! as upstream's.

use crate::context::Ctx;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const CONFIG_MAP_NAMESPACE: &str = "kube-public";
pub const CONFIG_MAP_NAME: &str = "cluster-info";
pub const KUBECONFIG_KEY: &str = "kubeconfig";
pub const JWS_SIGNATURE_PREFIX: &str = "jws-kubeconfig-";
pub const TOKEN_SECRET_NAMESPACE: &str = "kube-system";
pub const SECRET_TYPE_BOOTSTRAP_TOKEN: &str = "bootstrap.kubernetes.io/token";
const SECRET_NAME_PREFIX: &str = "bootstrap-token-";
const TOKEN_ID_KEY: &str = "token-id";
const TOKEN_SECRET_KEY: &str = "token-secret";
const EXPIRATION_KEY: &str = "expiration";
const USAGE_SIGNING_KEY: &str = "usage-bootstrap-signing";

/// The bootstrap token JWS (`pki::jws`), with this crate's error.
pub fn compute_detached_signature(
    content: &str,
    token_id: &str,
    token_secret: impl AsRef<[u8]>,
) -> Result<String, Error> {
    pki::jws::compute_detached_signature(content, token_id, token_secret).map_err(Error::Config)
}

/// `secrets.GetData`: a data value as a string, empty when missing.
pub(crate) fn data(secret: &Secret, key: &str) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default()
}

/// A data value's bytes, empty when missing.
fn data_bytes(secret: &Secret, key: &str) -> Vec<u8> {
    secret.data.as_ref().and_then(|d| d.get(key)).map(|v| v.0.clone()).unwrap_or_default()
}

/// Go's `time.Parse(time.RFC3339, s)`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)` and nothing
/// laxer (no space for the `T`, no offset without a colon).
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone_ok = rest == b"Z"
        || (rest.len() == 6
            && (rest[0] == b'+' || rest[0] == b'-')
            && rest[1..3].iter().all(u8::is_ascii_digit)
            && rest[3] == b':'
            && rest[4..6].iter().all(u8::is_ascii_digit));
    if !zone_ok {
        return None;
    }
    s.parse().ok()
}

/// `secrets.GetExpiration`: the time left before the token's `expiration` (RFC 3339) and
/// whether it has expired. No expiration: never expires; one that does not parse counts as
/// expired.
pub(crate) fn expiration(secret: &Secret, now: Timestamp) -> (Option<SignedDuration>, bool) {
    let exp = data(secret, EXPIRATION_KEY);
    if exp.is_empty() {
        return (None, false);
    }
    match parse_rfc3339(&exp) {
        Some(t) => {
            let left = t.duration_since(now);
            if left.is_positive() {
                (Some(left), false)
            } else {
                (None, true)
            }
        }
        None => {
            tracing::debug!(
                "Unparseable expiration time ({exp}) in {}/{} Secret. Treating as expired.",
                secret.namespace().unwrap_or_default(),
                secret.name_any()
            );
            (None, true)
        }
    }
}

/// `secrets.ParseName`: the `<id>` of `bootstrap-token-<id>` (six of `[a-z0-9]`).
pub(crate) fn parse_name(name: &str) -> Option<&str> {
    let id = name.strip_prefix(SECRET_NAME_PREFIX)?;
    (id.len() == 6 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())).then_some(id)
}

/// `validateSecretForSigning`: the token's id and secret when it may sign now.
fn token_for_signing(secret: &Secret, now: Timestamp) -> Option<(String, Vec<u8>)> {
    let name = secret.name_any();
    let Some(name_id) = parse_name(&name) else {
        tracing::debug!(secret = %name, "Invalid secret name, must be of the form {SECRET_NAME_PREFIX}<secret-id>");
        return None;
    };
    let id = data(secret, TOKEN_ID_KEY);
    if id.is_empty() || id != name_id {
        tracing::debug!(secret = %name, token_id = %id, "Token ID missing or not matching the secret name");
        return None;
    }
    let token_secret = data_bytes(secret, TOKEN_SECRET_KEY);
    if token_secret.is_empty() || expiration(secret, now).1 || data(secret, USAGE_SIGNING_KEY) != "true" {
        return None;
    }
    Some((id, token_secret))
}

/// The ConfigMap's data signed by `tokens` (id → secret), or `None` when it is already so.
/// Signatures of other tokens are dropped.
pub fn signed_data(
    data: &BTreeMap<String, String>,
    tokens: &BTreeMap<String, Vec<u8>>,
) -> Result<Option<BTreeMap<String, String>>, Error> {
    let Some(content) = data.get(KUBECONFIG_KEY) else { return Ok(None) };
    let mut out = data.clone();
    let mut old: BTreeMap<String, String> = BTreeMap::new();
    out.retain(|k, v| match k.strip_prefix(JWS_SIGNATURE_PREFIX) {
        Some(id) => {
            old.insert(id.to_string(), v.clone());
            false
        }
        None => true,
    });
    let mut changed = false;
    for (id, secret) in tokens {
        let sig = compute_detached_signature(content, id, secret)?;
        changed |= old.remove(id).as_ref() != Some(&sig);
        out.insert(format!("{JWS_SIGNATURE_PREFIX}{id}"), sig);
    }
    Ok((changed || !old.is_empty()).then_some(out))
}

struct Signer {
    client: Client,
    secrets: Informer<Secret>,
    maps: Informer<ConfigMap>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("bootstrap-signer").await?;
    let s = Arc::new(Signer { client, secrets: ctx.informers.get::<Secret>(), maps: ctx.informers.get::<ConfigMap>() });
    // One key only: it collapses the changes of the ConfigMap and of every token.
    let queue: WorkQueue<()> = WorkQueue::new("bootstrap_signer_queue");
    let q = queue.clone();
    s.maps.add_handler(move |c| match c {
        Change::Added(cm) | Change::Updated { new: cm, .. } => {
            if cm.namespace().as_deref() == Some(CONFIG_MAP_NAMESPACE) && cm.name_any() == CONFIG_MAP_NAME {
                q.add(());
            }
        }
        Change::Deleted(_) => {}
    });
    let q = queue.clone();
    s.secrets.add_handler(move |c| {
        let (Change::Added(s) | Change::Updated { new: s, .. } | Change::Deleted(s)) = c;
        if s.type_.as_deref() == Some(SECRET_TYPE_BOOTSTRAP_TOKEN)
            && s.namespace().as_deref() == Some(TOKEN_SECRET_NAMESPACE)
        {
            q.add(());
        }
    });
    tokio::spawn(async move {
        s.maps.wait_synced().await;
        s.secrets.wait_synced().await;
        queue.run_workers(1, move |()| {
            let s = s.clone();
            async move { s.sign().await }
        });
    });
    Ok(true)
}

impl Signer {
    /// The tokens that may sign, by id; of two Secrets with one id the first by name wins.
    fn tokens(&self) -> BTreeMap<String, Vec<u8>> {
        let now = Timestamp::now();
        let mut secrets = self.secrets.list_namespace(TOKEN_SECRET_NAMESPACE);
        secrets.sort_by_key(|s| s.name_any());
        let mut out = BTreeMap::new();
        for s in secrets.iter().filter(|s| s.type_.as_deref() == Some(SECRET_TYPE_BOOTSTRAP_TOKEN)) {
            let Some((id, secret)) = token_for_signing(s, now) else { continue };
            if out.contains_key(&id) {
                tracing::info!(
                    token_id = %id,
                    ignored_secret = %s.name_any(),
                    "Duplicate bootstrap tokens found for id, ignoring on the duplicate secret"
                );
                continue;
            }
            out.insert(id, secret);
        }
        out
    }

    /// `signConfigMap`: recomputes the signatures from the caches and writes them if they
    /// differ. A failed write is only logged: the change it races with queues another sync.
    async fn sign(&self) -> Result<(), Error> {
        let Some(cm) = self.maps.get(CONFIG_MAP_NAMESPACE, CONFIG_MAP_NAME) else { return Ok(()) };
        let data = cm.data.clone().unwrap_or_default();
        if !data.contains_key(KUBECONFIG_KEY) {
            tracing::debug!(config_map = "kube-public/cluster-info", "No key {KUBECONFIG_KEY} in ConfigMap");
            return Ok(());
        }
        let Some(signed) = signed_data(&data, &self.tokens())? else { return Ok(()) };
        let mut updated = (*cm).clone();
        updated.data = Some(signed);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), CONFIG_MAP_NAMESPACE);
        match api.replace(CONFIG_MAP_NAME, &PostParams::default(), &updated).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
            Err(e) => tracing::debug!("Error updating ConfigMap: {e}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    fn token(name: &str, kv: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE_BOOTSTRAP_TOKEN.into()),
            data: Some(kv.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn only_valid_signing_tokens_sign() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let good = [("token-id", "abcdef"), ("token-secret", "0123456789abcdef"), ("usage-bootstrap-signing", "true")];
        assert_eq!(
            token_for_signing(&token("bootstrap-token-abcdef", &good), now),
            Some(("abcdef".into(), b"0123456789abcdef".to_vec()))
        );
        assert_eq!(token_for_signing(&token("bootstrap-token-abcdeg", &good), now), None);
        assert_eq!(token_for_signing(&token("bootstrap-token-ABCDEF", &good), now), None);
        assert_eq!(token_for_signing(&token("token-abcdef", &good), now), None);
        let mut no_usage = good.to_vec();
        no_usage[2].1 = "false";
        assert_eq!(token_for_signing(&token("bootstrap-token-abcdef", &no_usage), now), None);
        let mut later = good.to_vec();
        later.push(("expiration", "2025-01-01T00:00:10Z"));
        assert!(token_for_signing(&token("bootstrap-token-abcdef", &later), now).is_some());
        let mut past = good.to_vec();
        past.push(("expiration", "2024-12-31T23:59:59Z"));
        assert_eq!(token_for_signing(&token("bootstrap-token-abcdef", &past), now), None);
        let mut bad = good.to_vec();
        bad.push(("expiration", "tomorrow"));
        assert_eq!(token_for_signing(&token("bootstrap-token-abcdef", &bad), now), None);
    }

    #[test]
    fn expirations_parse_as_gos_rfc3339() {
        let t = |s: &str| parse_rfc3339(s).map(|t| t.as_second());
        assert_eq!(t("2025-01-01T00:00:00Z"), Some(1_735_689_600));
        assert_eq!(t("2025-01-01T01:00:00+01:00"), Some(1_735_689_600));
        assert_eq!(t("2025-01-01T00:00:00.5Z"), Some(1_735_689_600));
        for bad in [
            "2025-01-01 00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00+0100",
            "2025-01-01t00:00:00z",
            "2025-1-01T00:00:00Z",
            "2025-01-01T00:00:00.Z",
            "",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiration_is_time_left_or_expired() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(expiration(&token("t", &[]), now), (None, false));
        assert_eq!(
            expiration(&token("t", &[("expiration", "2025-01-01T01:00:00+01:00")]), now),
            (None, true),
            "one hour ahead in +01:00 is now"
        );
        assert_eq!(
            expiration(&token("t", &[("expiration", "2025-01-01T00:01:00Z")]), now),
            (Some(SignedDuration::from_secs(60)), false)
        );
    }

    #[test]
    fn signatures_are_added_refreshed_and_removed() {
        let data = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let tokens = BTreeMap::from([("abcdef".to_string(), b"0123456789abcdef".to_vec())]);
        let sig = compute_detached_signature("hello", "abcdef", "0123456789abcdef").unwrap();
        // Nothing to sign without a kubeconfig.
        assert_eq!(signed_data(&data(&[("other", "x")]), &tokens).unwrap(), None);
        let signed = signed_data(&data(&[("kubeconfig", "hello")]), &tokens).unwrap().unwrap();
        assert_eq!(signed, data(&[("kubeconfig", "hello"), ("jws-kubeconfig-abcdef", &sig)]));
        // Already signed: no write.
        assert_eq!(signed_data(&signed, &tokens).unwrap(), None);
        // A stale signature is replaced; a gone token's is removed.
        let stale = data(&[("kubeconfig", "hello"), ("jws-kubeconfig-abcdef", "x..y"), ("jws-kubeconfig-gone00", "z")]);
        assert_eq!(signed_data(&stale, &tokens).unwrap().unwrap(), signed);
        assert_eq!(signed_data(&signed, &BTreeMap::new()).unwrap().unwrap(), data(&[("kubeconfig", "hello")]));
    }
}
