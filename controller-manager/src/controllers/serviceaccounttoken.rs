//! `serviceaccount-token-controller` (upstream `pkg/controller/serviceaccount/tokens_controller.go`):
//! a Secret of type `kubernetes.io/service-account-token` naming a ServiceAccount (annotation
//! `kubernetes.io/service-account.name`) gets a legacy token signed with
//! `--service-account-private-key-file` (issuer `kubernetes/serviceaccount`, no expiry), the
//! root CA and the namespace in its data, and the account's UID annotation; the Secret of a
//! ServiceAccount that is gone is deleted. It runs with the controller-manager's own client,
//! as upstream's, and only when a private key is given.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::ByteString;
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

pub const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const NAME_KEY: &str = "kubernetes.io/service-account.name";
const UID_KEY: &str = "kubernetes.io/service-account.uid";
const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

struct Tc {
    client: Client,
    secrets: Informer<Secret>,
    accounts: Informer<ServiceAccount>,
    queue: WorkQueue<String>,
    key: jsonwebtoken::EncodingKey,
    header: jsonwebtoken::Header,
    root_ca: Option<Vec<u8>>,
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let Some(path) = ctx.opts.service_account_private_key_file.clone() else {
        tracing::info!(controller = ?"serviceaccount-token-controller", "Controller is disabled because there is no private key");
        return Ok(false);
    };
    let pem = std::fs::read_to_string(&path)
        .map_err(|e| Error::Config(format!("error reading key for service account token controller: {e}")))?;
    let sk = pki::sakey::signing_key_from_pem(&pem)
        .map_err(|e| Error::Config(format!("failed to build token generator: {e}")))?;
    let (key, alg) = match sk.public.alg {
        pki::sakey::Alg::RS256 => {
            (jsonwebtoken::EncodingKey::from_rsa_pem(sk.pkcs8_pem.as_bytes()), jsonwebtoken::Algorithm::RS256)
        }
        pki::sakey::Alg::ES256 => {
            (jsonwebtoken::EncodingKey::from_ec_pem(sk.pkcs8_pem.as_bytes()), jsonwebtoken::Algorithm::ES256)
        }
    };
    let key = key.map_err(|e| Error::Config(format!("failed to build token generator: {e}")))?;
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = None;
    header.kid = Some(sk.public.kid.clone());
    let root_ca = match &ctx.opts.root_ca_file {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| Error::Config(format!("error reading root-ca-file at {}: {e}", p.display())))?,
        ),
        None => None,
    };
    // Upstream runs this one with the controller-manager's own credentials.
    let ua = component_base::client::user_agent("kube-controller-manager", Some("tokens-controller"));
    let client = component_base::client::build(
        ctx.root_config.clone(),
        &ua,
        ctx.opts.kube_api_qps(),
        ctx.opts.kube_api_burst(),
    )?;
    let tc = Arc::new(Tc {
        client,
        secrets: ctx.informers.get::<Secret>(),
        accounts: ctx.informers.get::<ServiceAccount>(),
        queue: WorkQueue::new("serviceaccount_tokens_secret"),
        key,
        header,
        root_ca,
    });
    tc.secrets.add_index("service-account", |s: &Secret| {
        if s.type_.as_deref() != Some(TOKEN_TYPE) {
            return Vec::new();
        }
        s.annotations().get(NAME_KEY).map(|n| util::key(&s.namespace().unwrap_or_default(), n)).into_iter().collect()
    });
    let t = tc.clone();
    tc.secrets.add_handler(move |c| match c {
        Change::Added(s) | Change::Updated { new: s, .. } if s.type_.as_deref() == Some(TOKEN_TYPE) => {
            t.queue.add(util::meta_key(&s.metadata))
        }
        _ => {}
    });
    let t = tc.clone();
    tc.accounts.add_handler(move |c| {
        if let Change::Deleted(sa) | Change::Added(sa) = c {
            for s in t.secrets.by_index("service-account", &util::meta_key(&sa.metadata)) {
                t.queue.add(util::meta_key(&s.metadata));
            }
        }
    });
    tokio::spawn(async move {
        tc.secrets.wait_synced().await;
        tc.accounts.wait_synced().await;
        let t = tc.clone();
        tc.queue.run_workers(ctx.opts.concurrent_serviceaccount_token_syncs, move |key: String| {
            let t = t.clone();
            async move { t.sync(&key).await }
        });
    });
    Ok(true)
}

impl Tc {
    async fn sync(&self, key: &str) -> Result<(), Error> {
        let (ns, name) = util::split_key(key);
        let Some(secret) = self.secrets.get(ns, name) else { return Ok(()) };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let sa_name = secret.annotations().get(NAME_KEY).cloned().unwrap_or_default();
        let want_uid = secret.annotations().get(UID_KEY).cloned().filter(|u| !u.is_empty());
        // The account, read live before anything is deleted on its account.
        let sa = match self.accounts.get(ns, &sa_name) {
            Some(sa) => Some((*sa).clone()),
            None => Api::<ServiceAccount>::namespaced(self.client.clone(), ns).get_opt(&sa_name).await?,
        };
        let sa = sa.filter(|sa| want_uid.as_ref().is_none_or(|u| sa.metadata.uid.as_ref() == Some(u)));
        let Some(sa) = sa else {
            match api.delete(name, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(());
        };
        let data = secret.data.clone().unwrap_or_default();
        let has = |k: &str| data.get(k).is_some_and(|v| !v.0.is_empty());
        let ca_ok = self.root_ca.as_ref().is_none_or(|ca| data.get("ca.crt").map(|v| &v.0) == Some(ca));
        let uid = sa.metadata.uid.clone().unwrap_or_default();
        if has("token") && has("namespace") && ca_ok && want_uid.as_deref() == Some(uid.as_str()) {
            return Ok(());
        }
        let mut s = (*secret).clone();
        let d = s.data.get_or_insert_with(Default::default);
        if !has("token") {
            let claims = serde_json::json!({
                "iss": LEGACY_ISSUER,
                "sub": format!("system:serviceaccount:{ns}:{sa_name}"),
                "kubernetes.io/serviceaccount/namespace": ns,
                "kubernetes.io/serviceaccount/secret.name": name,
                "kubernetes.io/serviceaccount/service-account.name": sa_name,
                "kubernetes.io/serviceaccount/service-account.uid": uid,
            });
            let token = jsonwebtoken::encode(&self.header, &claims, &self.key)
                .map_err(|e| Error::Config(format!("failed to generate token: {e}")))?;
            d.insert("token".into(), ByteString(token.into_bytes()));
        }
        d.insert("namespace".into(), ByteString(ns.as_bytes().to_vec()));
        if let Some(ca) = &self.root_ca {
            d.insert("ca.crt".into(), ByteString(ca.clone()));
        }
        s.annotations_mut().insert(UID_KEY.into(), uid);
        match api.replace(name, &PostParams::default(), &s).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(st)) if st.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
