//! `legacy-serviceaccount-token-cleaner-controller` (upstream
//! `pkg/controller/serviceaccount/legacy_serviceaccount_token_cleaner.go`): once a day, an
//! auto-generated legacy ServiceAccount token Secret (`kubernetes.io/service-account-token`,
//! listed in its ServiceAccount's `secrets`) that was created, and last used (label
//! `kubernetes.io/legacy-token-last-used`), more than `--legacy-service-account-token-clean-up-period`
//! (default a year) ago and that no pod mounts is first labelled
//! `kubernetes.io/legacy-token-invalid-since: <today>` (the apiserver then refuses it), and
//! deleted once that date is also older than the period. Nothing happens until the apiserver
//! has tracked token use that long (the `since` date of the
//! `kube-system/kube-apiserver-legacy-service-account-token-tracking` ConfigMap).

use crate::context::Ctx;
use crate::controllers::serviceaccounttoken::TOKEN_TYPE;
use crate::Error;
use component_base::Informer;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodSpec, Secret, ServiceAccount};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use api_types::serviceaccount::{INVALID_SINCE_LABEL, LAST_USED_LABEL, TRACKING_CONFIG_MAP};
const TRACKING_SINCE_KEY: &str = "since";
const SA_NAME_KEY: &str = "kubernetes.io/service-account.name";
const SA_UID_KEY: &str = "kubernetes.io/service-account.uid";
/// How often the tokens are looked at (`DefaultCleanerSyncInterval`).
const SYNC_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// A `2006-01-02` date, strictly in that form.
fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10))
        .then(|| s.parse().ok())
        .flatten()
}

fn utc_date(t: Timestamp) -> Date {
    t.to_zoned(TimeZone::UTC).date()
}

/// What becomes of one token Secret.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Label it invalid since this date.
    MarkInvalid(String),
    Delete,
}

/// The cleaner's rules for one Secret, in upstream's order; `referenced` (its ServiceAccount
/// lists it) and `mounted` (a pod of its namespace uses it) are asked only when needed.
pub fn judge(
    secret: &Secret,
    now: Timestamp,
    period: SignedDuration,
    referenced: impl FnOnce() -> bool,
    mounted: impl FnOnce() -> bool,
) -> Verdict {
    if secret.type_.as_deref() != Some(TOKEN_TYPE) || secret.metadata.deletion_timestamp.is_some() {
        return Verdict::Keep;
    }
    let Ok(preserve_since) = now.checked_sub(period) else { return Verdict::Keep };
    // A Secret without a creation time counts as old, as Go's zero time does.
    if secret.metadata.creation_timestamp.as_ref().is_some_and(|t| t.0 >= preserve_since) {
        return Verdict::Keep;
    }
    let preserve_used = utc_date(preserve_since).to_string();
    if let Some(last_used) = secret.labels().get(LAST_USED_LABEL) {
        if parse_date(last_used).is_none() || *last_used >= preserve_used {
            return Verdict::Keep;
        }
    }
    if !referenced() || mounted() {
        return Verdict::Keep;
    }
    match secret.labels().get(INVALID_SINCE_LABEL).filter(|d| parse_date(d).is_some()) {
        None => Verdict::MarkInvalid(utc_date(now).to_string()),
        Some(since) if *since >= preserve_used => Verdict::Keep,
        Some(_) => Verdict::Delete,
    }
}

/// Every Secret name a pod spec uses (`VisitPodSecretNames`).
pub fn pod_secret_names(spec: &PodSpec) -> Vec<String> {
    let mut out: Vec<String> = spec.image_pull_secrets.iter().flatten().map(|r| r.name.clone()).collect();
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| (c.env.as_ref(), c.env_from.as_ref()))
        .chain(spec.ephemeral_containers.iter().flatten().map(|c| (c.env.as_ref(), c.env_from.as_ref())));
    for (env, env_from) in containers {
        out.extend(env_from.into_iter().flatten().filter_map(|e| e.secret_ref.as_ref().map(|r| r.name.clone())));
        out.extend(
            env.into_iter()
                .flatten()
                .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref().map(|r| r.name.clone())),
        );
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.azure_file {
            out.push(s.secret_name.clone());
        }
        out.extend(v.cephfs.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        out.extend(v.cinder.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        out.extend(v.flex_volume.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        if let Some(p) = &v.projected {
            out.extend(p.sources.iter().flatten().filter_map(|s| s.secret.as_ref().map(|r| r.name.clone())));
        }
        out.extend(v.rbd.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        out.extend(v.secret.as_ref().and_then(|s| s.secret_name.clone()));
        out.extend(v.scale_io.as_ref().map(|s| s.secret_ref.name.clone()));
        out.extend(v.iscsi.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        out.extend(v.storageos.as_ref().and_then(|s| s.secret_ref.as_ref()).map(|r| r.name.clone()));
        out.extend(v.csi.as_ref().and_then(|s| s.node_publish_secret_ref.as_ref()).map(|r| r.name.clone()));
    }
    out
}

struct Cleaner {
    client: Client,
    accounts: Informer<ServiceAccount>,
    secrets: Informer<Secret>,
    pods: Informer<Pod>,
    period: SignedDuration,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let period = ctx.opts.legacy_service_account_token_clean_up_period;
    if period.is_zero() {
        return Err(Error::Config(format!(
            "failed to start the legacy service account token cleaner: invalid CleanUpPeriod: {}",
            component_base::flags::format_go_duration(period)
        )));
    }
    let period = SignedDuration::try_from(period).map_err(|e| Error::Config(format!("invalid CleanUpPeriod: {e}")))?;
    let client = ctx.client("legacy-service-account-token-cleaner").await?;
    let c = Cleaner {
        client,
        accounts: ctx.informers.get::<ServiceAccount>(),
        secrets: ctx.informers.get::<Secret>(),
        pods: ctx.informers.get::<Pod>(),
        period,
    };
    tokio::spawn(async move {
        c.accounts.wait_synced().await;
        c.secrets.wait_synced().await;
        c.pods.wait_synced().await;
        loop {
            c.evaluate().await;
            tokio::time::sleep(SYNC_INTERVAL).await;
        }
    });
    Ok(true)
}

impl Cleaner {
    /// The first day the apiserver tracked legacy token use for all of (the day after `since`).
    async fn tracked_since(&self) -> Result<Timestamp, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        let cm = api.get(TRACKING_CONFIG_MAP).await.map_err(|e| e.to_string())?;
        let since = cm
            .data
            .as_ref()
            .and_then(|d| d.get(TRACKING_SINCE_KEY))
            .ok_or_else(|| "configMap does not have since label".to_string())?;
        let date = parse_date(since).ok_or_else(|| format!("error parsing trackedSince time: {since:?}"))?;
        date.tomorrow()
            .and_then(|d| d.to_zoned(TimeZone::UTC))
            .map(|z| z.timestamp())
            .map_err(|e| format!("error parsing trackedSince time: {e}"))
    }

    /// The names of the Secrets the pods of `ns` use, computed once per namespace and pass.
    fn mounted<'a>(&self, ns: &str, cache: &'a mut HashMap<String, HashSet<String>>) -> &'a HashSet<String> {
        cache.entry(ns.to_string()).or_insert_with(|| {
            self.pods.list_namespace(ns).iter().filter_map(|p| p.spec.as_ref()).flat_map(pod_secret_names).collect()
        })
    }

    /// Whether the Secret names a ServiceAccount (of that UID, if given) that lists it.
    fn referenced(&self, s: &Secret) -> bool {
        let Some(sa_name) = s.annotations().get(SA_NAME_KEY).filter(|n| !n.is_empty()) else { return false };
        let Some(sa) = self.accounts.get(&s.namespace().unwrap_or_default(), sa_name) else { return false };
        let uid_ok = s
            .annotations()
            .get(SA_UID_KEY)
            .filter(|u| !u.is_empty())
            .is_none_or(|u| sa.metadata.uid.as_deref() == Some(u.as_str()));
        uid_ok && sa.secrets.iter().flatten().any(|r| r.name.as_deref() == Some(s.name_any().as_str()))
    }

    /// `evaluateSATokens`: one pass over every token Secret.
    async fn evaluate(&self) {
        let now = Timestamp::now();
        let tracked = match self.tracked_since().await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("Getting lastest possible tracked_since time: {e}");
                return;
            }
        };
        if tracked.checked_add(self.period).is_ok_and(|t| now < t) {
            // Not tracked for long enough.
            return;
        }
        let mut mounted: HashMap<String, HashSet<String>> = HashMap::new();
        for s in self.secrets.list() {
            let ns = s.namespace().unwrap_or_default();
            let name = s.name_any();
            let verdict =
                judge(&s, now, self.period, || self.referenced(&s), || self.mounted(&ns, &mut mounted).contains(&name));
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
            match verdict {
                Verdict::Keep => {}
                Verdict::MarkInvalid(date) => {
                    tracing::info!(
                        invalid_since = %date,
                        secret = %format!("{ns}/{name}"),
                        "Mark the auto-generated service account token as invalid"
                    );
                    let labels = serde_json::json!({ INVALID_SINCE_LABEL: date });
                    let patch = serde_json::json!({
                        "kind": "Secret", "apiVersion": "v1",
                        "metadata": {"name": name, "namespace": ns, "uid": s.metadata.uid, "labels": labels},
                    });
                    if let Err(e) = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        tracing::error!(
                            "Failed to label legacy service account token secret with invalid since date: {e}"
                        );
                    }
                }
                Verdict::Delete => {
                    tracing::info!(secret = %format!("{ns}/{name}"), "Delete auto-generated service account token");
                    let dp = DeleteParams {
                        preconditions: Some(Preconditions {
                            uid: None,
                            resource_version: s.metadata.resource_version.clone(),
                        }),
                        ..Default::default()
                    };
                    match api.delete(&name, &dp).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(st)) if st.code == 404 || st.code == 409 => {}
                        Err(e) => {
                            let secret = format!("{ns}/{name}");
                            tracing::error!(secret = %secret, "Deleting legacy service account token: {e}")
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, SecretVolumeSource, Volume};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn token(created: &str, labels: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("sa-token".into()),
                namespace: Some("demo".into()),
                creation_timestamp: Some(Time(ts(created))),
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()),
                ..Default::default()
            },
            type_: Some(TOKEN_TYPE.into()),
            ..Default::default()
        }
    }

    #[test]
    fn old_unused_unmounted_tokens_are_marked_then_deleted() {
        let now = ts("2025-06-15T12:00:00Z");
        let year = SignedDuration::from_hours(24 * 365);
        let yes = || true;
        let no = || false;
        // Created within the period: kept.
        assert_eq!(judge(&token("2025-01-01T00:00:00Z", &[]), now, year, yes, no), Verdict::Keep);
        let old = "2023-01-01T00:00:00Z";
        // Never used since tracking began: marked invalid today.
        assert_eq!(judge(&token(old, &[]), now, year, yes, no), Verdict::MarkInvalid("2025-06-15".into()));
        // Used within the period, or an unreadable last-used: kept.
        assert_eq!(judge(&token(old, &[(LAST_USED_LABEL, "2024-06-15")]), now, year, yes, no), Verdict::Keep);
        assert_eq!(judge(&token(old, &[(LAST_USED_LABEL, "June")]), now, year, yes, no), Verdict::Keep);
        let unused = (LAST_USED_LABEL, "2024-06-14");
        assert_eq!(judge(&token(old, &[unused]), now, year, yes, no), Verdict::MarkInvalid("2025-06-15".into()));
        // Not its ServiceAccount's, or mounted by a pod: kept.
        assert_eq!(judge(&token(old, &[unused]), now, year, no, no), Verdict::Keep);
        assert_eq!(judge(&token(old, &[unused]), now, year, yes, yes), Verdict::Keep);
        // Invalid for less than the period: kept; longer: deleted; a bad date is re-marked.
        assert_eq!(
            judge(&token(old, &[unused, (INVALID_SINCE_LABEL, "2025-01-01")]), now, year, yes, no),
            Verdict::Keep
        );
        assert_eq!(
            judge(&token(old, &[unused, (INVALID_SINCE_LABEL, "2024-06-14")]), now, year, yes, no),
            Verdict::Delete
        );
        assert_eq!(
            judge(&token(old, &[unused, (INVALID_SINCE_LABEL, "2024-6-1")]), now, year, yes, no),
            Verdict::MarkInvalid("2025-06-15".into())
        );
        // Other Secret types are never touched.
        let mut opaque = token(old, &[]);
        opaque.type_ = Some("Opaque".into());
        assert_eq!(judge(&opaque, now, year, yes, no), Verdict::Keep);
    }

    #[test]
    fn pods_use_secrets_through_volumes_env_and_pull_secrets() {
        let spec = PodSpec {
            containers: vec![Container {
                name: "c".into(),
                env_from: Some(vec![k8s_openapi::api::core::v1::EnvFromSource {
                    secret_ref: Some(k8s_openapi::api::core::v1::SecretEnvSource {
                        name: "from-env".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            image_pull_secrets: Some(vec![k8s_openapi::api::core::v1::LocalObjectReference { name: "pull".into() }]),
            volumes: Some(vec![Volume {
                name: "v".into(),
                secret: Some(SecretVolumeSource { secret_name: Some("vol".into()), ..Default::default() }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut names = pod_secret_names(&spec);
        names.sort();
        assert_eq!(names, ["from-env", "pull", "vol"]);
        assert_eq!(parse_date("2024-02-29"), Some(Date::constant(2024, 2, 29)));
        assert_eq!(parse_date("20240229"), None);
    }
}
