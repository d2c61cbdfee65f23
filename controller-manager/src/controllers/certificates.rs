//! The certificates controllers (upstream `pkg/controller/certificates`):
//! - `csrsigning`: signs approved CertificateSigningRequests of the built-in signers
//!   (`kube-apiserver-client`, `kube-apiserver-client-kubelet`, `kubelet-serving`,
//!   `legacy-unknown`) with the cluster CA (or the signer's own CA flags), after checking the
//!   request fits the signer; a request that does not gets the Failed condition.
//!   The lifetime is `--cluster-signing-duration`, or `spec.expirationSeconds` when shorter
//!   (at least ten minutes).
//! - `csrapproving`: approves kubelet client certificate requests (`system:node:<name>` in
//!   `system:nodes`) when a SubjectAccessReview allows the requester to create
//!   `certificatesigningrequests/nodeclient` (bootstrap tokens) or `/selfnodeclient` (a node
//!   renewing its own).
//! - `csrcleaner`: removes requests that are done with (approved, denied or failed for an
//!   hour, pending for a day, or whose certificate expired).

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::ByteString;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
pub const KUBELET_CLIENT: &str = "kubernetes.io/kube-apiserver-client-kubelet";
pub const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";
pub const LEGACY_UNKNOWN: &str = "kubernetes.io/legacy-unknown";

fn has_condition(csr: &CertificateSigningRequest, type_: &str) -> bool {
    csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

fn issued(csr: &CertificateSigningRequest) -> bool {
    csr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some_and(|c| !c.0.is_empty())
}

fn usage_set(csr: &CertificateSigningRequest) -> BTreeSet<String> {
    csr.spec.usages.iter().flatten().cloned().collect()
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `ValidateKubeletClientCSR`: `key encipherment` may be there or not, whatever the key type.
fn validate_kubelet_client(info: &pki::csr::CsrInfo, usages: &BTreeSet<String>) -> Result<(), String> {
    if info.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if !info.dns_names.is_empty() {
        return Err("DNS subjectAltNames are not allowed".into());
    }
    if !info.emails.is_empty() {
        return Err("Email subjectAltNames are not allowed".into());
    }
    if !info.ip_addresses.is_empty() {
        return Err("IP subjectAltNames are not allowed".into());
    }
    if !info.uris.is_empty() {
        return Err("URI subjectAltNames are not allowed".into());
    }
    if !info.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    usages_match(usages, "client auth")
}

/// The usages a kubelet certificate must ask for: digital signature and `auth`, with or
/// without key encipherment.
fn usages_match(usages: &BTreeSet<String>, auth: &str) -> Result<(), String> {
    let with = set_of(&["key encipherment", "digital signature", auth]);
    let without = set_of(&["digital signature", auth]);
    if *usages != with && *usages != without {
        let list: Vec<&str> = with.iter().map(String::as_str).collect();
        return Err(format!("usages did not match [{}]", list.join(" ")));
    }
    Ok(())
}

/// `ValidateKubeletServingCSR`.
fn validate_kubelet_serving(info: &pki::csr::CsrInfo, usages: &BTreeSet<String>) -> Result<(), String> {
    if info.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    if info.dns_names.is_empty() && info.ip_addresses.is_empty() {
        return Err("DNS or IP subjectAltName is required".into());
    }
    if !info.emails.is_empty() {
        return Err("Email subjectAltNames are not allowed".into());
    }
    if !info.uris.is_empty() {
        return Err("URI subjectAltNames are not allowed".into());
    }
    usages_match(usages, "server auth")?;
    if !info.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    Ok(())
}

fn validate_apiserver_client(usages: &BTreeSet<String>) -> Result<(), String> {
    for u in usages {
        if !["digital signature", "key encipherment", "client auth"].contains(&u.as_str()) {
            return Err(format!("invalid usage for client certificate: {u}"));
        }
    }
    Ok(())
}

fn decode_request(csr: &CertificateSigningRequest) -> Vec<u8> {
    csr.spec.request.0.clone()
}

struct Signing {
    client: Client,
    csrs: Informer<CertificateSigningRequest>,
    queue: WorkQueue<String>,
    /// Signer name → CA.
    cas: HashMap<&'static str, pki::CertKey>,
    duration: Duration,
}

fn read_ca(cert: &std::path::Path, key: &std::path::Path) -> Result<pki::CertKey, Error> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Error::Config(format!("error reading CA cert file {:?}: {e}", p.display())))
    };
    Ok(pki::CertKey { cert_pem: read(cert)?, key_pem: read(key)? })
}

pub async fn start_signing(ctx: Ctx) -> Result<bool, Error> {
    let o = &ctx.opts;
    let general = match (&o.cluster_signing_cert_file, &o.cluster_signing_key_file) {
        (Some(c), Some(k)) => Some(read_ca(c, k)?),
        _ => None,
    };
    let specific =
        |c: &Option<std::path::PathBuf>, k: &Option<std::path::PathBuf>| -> Result<Option<pki::CertKey>, Error> {
            match (c, k) {
                (Some(c), Some(k)) => Ok(Some(read_ca(c, k)?)),
                _ => Ok(general.clone()),
            }
        };
    let mut cas = HashMap::new();
    for (signer, ca) in [
        (
            KUBELET_SERVING,
            specific(&o.cluster_signing_kubelet_serving_cert_file, &o.cluster_signing_kubelet_serving_key_file)?,
        ),
        (
            KUBELET_CLIENT,
            specific(&o.cluster_signing_kubelet_client_cert_file, &o.cluster_signing_kubelet_client_key_file)?,
        ),
        (
            KUBE_APISERVER_CLIENT,
            specific(
                &o.cluster_signing_kube_apiserver_client_cert_file,
                &o.cluster_signing_kube_apiserver_client_key_file,
            )?,
        ),
        (
            LEGACY_UNKNOWN,
            specific(&o.cluster_signing_legacy_unknown_cert_file, &o.cluster_signing_legacy_unknown_key_file)?,
        ),
    ] {
        if let Some(ca) = ca {
            cas.insert(signer, ca);
        }
    }
    if cas.is_empty() {
        tracing::info!("Skipping CSR signer controller because no csr cert/key was specified");
        return Ok(false);
    }
    let client = ctx.client("certificate-controller").await?;
    let s = Arc::new(Signing {
        client,
        csrs: ctx.informers.get::<CertificateSigningRequest>(),
        queue: WorkQueue::new("csrsigning"),
        cas,
        duration: o.cluster_signing_duration,
    });
    let q = s.queue.clone();
    s.csrs.add_handler(move |c| match c {
        Change::Added(x) | Change::Updated { new: x, .. } => q.add(x.name_any()),
        Change::Deleted(_) => {}
    });
    tokio::spawn(async move {
        s.csrs.wait_synced().await;
        let w = s.clone();
        s.queue.run_workers(1, move |name: String| {
            let w = w.clone();
            async move { w.sync(&name).await }
        });
    });
    Ok(true)
}

impl Signing {
    async fn sync(&self, name: &str) -> Result<(), Error> {
        let Some(csr) = self.csrs.get("", name) else { return Ok(()) };
        if !has_condition(&csr, "Approved")
            || has_condition(&csr, "Failed")
            || has_condition(&csr, "Denied")
            || issued(&csr)
        {
            return Ok(());
        }
        let Some(ca) = self.cas.get(csr.spec.signer_name.as_str()) else { return Ok(()) };
        let pem = decode_request(&csr);
        let usages = usage_set(&csr);
        let info = match pki::csr::parse_csr(&pem) {
            Ok(i) => i,
            Err(e) => return self.fail(&csr, format!("unable to parse csr {name:?}: {e}")).await,
        };
        let check = match csr.spec.signer_name.as_str() {
            KUBELET_CLIENT => validate_kubelet_client(&info, &usages),
            KUBELET_SERVING => validate_kubelet_serving(&info, &usages),
            KUBE_APISERVER_CLIENT => validate_apiserver_client(&usages),
            _ => Ok(()),
        };
        if let Err(why) = check {
            return self.fail(&csr, why).await;
        }
        let mut ttl = self.duration;
        if let Some(secs) = csr.spec.expiration_seconds {
            // At least ten minutes, as upstream's duration handling.
            let asked = Duration::from_secs(u64::try_from(secs.max(600)).unwrap_or(600));
            ttl = ttl.min(asked);
        }
        let usage_list: Vec<String> = csr.spec.usages.clone().unwrap_or_default();
        let cert = match pki::csr::sign_csr(ca, &pem, &usage_list, ttl) {
            Ok(c) => c,
            Err(e) => return self.fail(&csr, format!("error auto signing csr: {e}")).await,
        };
        let mut signed = (*csr).clone();
        signed.status.get_or_insert_with(Default::default).certificate = Some(ByteString(cert.into_bytes()));
        let api: Api<CertificateSigningRequest> = Api::all(self.client.clone());
        match api.replace_status(name, &PostParams::default(), &signed).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn fail(&self, csr: &CertificateSigningRequest, message: String) -> Result<(), Error> {
        let mut failed = csr.clone();
        let st = failed.status.get_or_insert_with(Default::default);
        st.conditions.get_or_insert_with(Vec::new).push(CertificateSigningRequestCondition {
            type_: "Failed".into(),
            status: "True".into(),
            reason: Some("SignerValidationFailure".into()),
            message: Some(message),
            last_update_time: Some(util::time_now()),
            last_transition_time: Some(util::time_now()),
        });
        let api: Api<CertificateSigningRequest> = Api::all(self.client.clone());
        match api.replace_status(&csr.name_any(), &PostParams::default(), &failed).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub async fn start_approving(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("certificate-controller").await?;
    let csrs = ctx.informers.get::<CertificateSigningRequest>();
    let queue: WorkQueue<String> = WorkQueue::new("csrapproving");
    let q = queue.clone();
    csrs.add_handler(move |c| match c {
        Change::Added(x) | Change::Updated { new: x, .. } => q.add(x.name_any()),
        Change::Deleted(_) => {}
    });
    let inf = csrs.clone();
    tokio::spawn(async move {
        inf.wait_synced().await;
        queue.run_workers(1, move |name: String| {
            let (client, csrs) = (client.clone(), inf.clone());
            async move { approve(&client, &csrs, &name).await }
        });
    });
    Ok(true)
}

async fn allowed(client: &Client, csr: &CertificateSigningRequest, subresource: &str) -> Result<bool, Error> {
    let spec = &csr.spec;
    let sar = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: spec.username.clone(),
            uid: spec.uid.clone(),
            groups: spec.groups.clone(),
            extra: spec.extra.clone(),
            resource_attributes: Some(ResourceAttributes {
                group: Some("certificates.k8s.io".into()),
                resource: Some("certificatesigningrequests".into()),
                subresource: Some(subresource.into()),
                verb: Some("create".into()),
                version: Some("*".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let out = Api::<SubjectAccessReview>::all(client.clone()).create(&PostParams::default(), &sar).await?;
    Ok(out.status.is_some_and(|s| s.allowed))
}

async fn approve(client: &Client, csrs: &Informer<CertificateSigningRequest>, name: &str) -> Result<(), Error> {
    let Some(csr) = csrs.get("", name) else { return Ok(()) };
    if csr.spec.signer_name != KUBELET_CLIENT
        || has_condition(&csr, "Approved")
        || has_condition(&csr, "Denied")
        || has_condition(&csr, "Failed")
        || issued(&csr)
    {
        return Ok(());
    }
    let Ok(info) = pki::csr::parse_csr(&decode_request(&csr)) else { return Ok(()) };
    if validate_kubelet_client(&info, &usage_set(&csr)).is_err() {
        return Ok(());
    }
    // Upstream's recognizers in order: a node renewing its own certificate may be allowed either
    // way; a CSR that no review allows is retried (with back-off), so that it is approved once
    // the RBAC that allows it exists.
    let own = csr.spec.username.as_deref() == Some(info.common_name.as_str());
    let recognizers = [
        (own, "selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."),
        (true, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."),
    ];
    let mut tried = Vec::new();
    let mut message = None;
    for (applies, sub, msg) in recognizers {
        if !applies {
            continue;
        }
        tried.push(sub);
        if allowed(client, &csr, sub).await? {
            message = Some(msg);
            break;
        }
    }
    let Some(message) = message else {
        return Err(Error::Sync(format!(
            "recognized csr {name:?} as [{}] but subject access review was not approved",
            tried.join(" ")
        )));
    };
    let mut approved = (*csr).clone();
    approved.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new).push(
        CertificateSigningRequestCondition {
            type_: "Approved".into(),
            status: "True".into(),
            reason: Some("AutoApproved".into()),
            message: Some(message.into()),
            last_update_time: Some(util::time_now()),
            last_transition_time: None,
        },
    );
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    match api
        .replace_subresource::<CertificateSigningRequest>("approval", name, &PostParams::default(), &approved)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

const APPROVED_EXPIRATION: i64 = 3600;
const DENIED_EXPIRATION: i64 = 3600;
const PENDING_EXPIRATION: i64 = 24 * 3600;
const CLEAN_INTERVAL: Duration = Duration::from_secs(3600);

pub async fn start_cleaner(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("certificate-controller").await?;
    let csrs = ctx.informers.get::<CertificateSigningRequest>();
    tokio::spawn(async move {
        csrs.wait_synced().await;
        loop {
            for csr in csrs.list() {
                if let Err(e) = clean(&client, &csr).await {
                    tracing::warn!("unable to delete CSR {:?}: {e}", csr.name_any());
                }
            }
            tokio::time::sleep(CLEAN_INTERVAL).await;
        }
    });
    Ok(true)
}

fn condition_age(csr: &CertificateSigningRequest, type_: &str, now: i64) -> Option<i64> {
    let c = csr.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_ && c.status == "True")?;
    let t = c.last_update_time.as_ref().or(c.last_transition_time.as_ref())?;
    Some(now - t.0.as_second())
}

fn cert_expired(csr: &CertificateSigningRequest, now: i64) -> bool {
    let Some(cert) = csr.status.as_ref().and_then(|s| s.certificate.as_ref()) else { return false };
    pki::not_after_of_pem(&cert.0).is_some_and(|not_after| not_after < now)
}

async fn clean(client: &Client, csr: &CertificateSigningRequest) -> Result<(), Error> {
    let now = util::now().as_second();
    let created = csr.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()).unwrap_or(now);
    let done = condition_age(csr, "Approved", now).is_some_and(|a| a > APPROVED_EXPIRATION && issued(csr))
        || condition_age(csr, "Denied", now).is_some_and(|a| a > DENIED_EXPIRATION)
        || condition_age(csr, "Failed", now).is_some_and(|a| a > DENIED_EXPIRATION)
        || (!has_condition(csr, "Approved")
            && !has_condition(csr, "Denied")
            && !has_condition(csr, "Failed")
            && now - created > PENDING_EXPIRATION)
        || cert_expired(csr, now);
    if !done {
        return Ok(());
    }
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    match api.delete(&csr.name_any(), &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
