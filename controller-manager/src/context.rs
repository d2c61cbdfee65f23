//! What every controller is started with: the options, the shared informers, and the clients
//! it acts with — the controller-manager's own credentials, or with
//! `--use-service-account-credentials` a token of the controller's own service account in
//! kube-system (upstream's `DynamicControllerClientBuilder`), so that RBAC and the audit log
//! see each controller as itself.

use crate::options::Options;
use crate::Error;
use component_base::events::Recorder;
use component_base::InformerFactory;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, Config};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Lifetime asked for each controller's token; it is renewed at 80% of it.
const TOKEN_SECONDS: i64 = 3600;

#[derive(Clone)]
pub struct Ctx {
    pub opts: Arc<Options>,
    pub informers: InformerFactory,
    /// The rest config the controller-manager was given (its own credentials).
    pub root_config: Config,
    root: Client,
    clients: Arc<Mutex<HashMap<String, Client>>>,
}

impl Ctx {
    pub fn new(opts: Arc<Options>, root_config: Config, root: Client, informers: InformerFactory) -> Self {
        Ctx { opts, informers, root_config, root, clients: Arc::default() }
    }

    /// The client for a controller whose service account is `sa` (e.g. `replicaset-controller`).
    pub async fn client(&self, sa: &str) -> Result<Client, Error> {
        if let Some(c) = self.clients.lock().unwrap_or_else(|e| e.into_inner()).get(sa) {
            return Ok(c.clone());
        }
        let ua = component_base::client::user_agent("kube-controller-manager", Some(sa));
        let (qps, burst) = (self.opts.kube_api_qps(), self.opts.kube_api_burst());
        let client = if self.opts.use_service_account_credentials {
            let token = self.service_account_token(sa).await?;
            let shared = Arc::new(RwLock::new(token));
            let c =
                component_base::client::build_with_token(self.root_config.clone(), shared.clone(), &ua, qps, burst)?;
            tokio::spawn(refresh_token(self.root.clone(), sa.to_string(), shared));
            c
        } else {
            component_base::client::build(self.root_config.clone(), &ua, qps, burst)?
        };
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).insert(sa.to_string(), client.clone());
        Ok(client)
    }

    /// A recorder whose events name `component` as their source.
    pub fn recorder(&self, client: &Client, component: &str) -> Recorder {
        component_base::events::recorder(client.clone(), component, None)
    }

    /// Ensures `kube-system/<sa>` exists and asks for a token of it.
    async fn service_account_token(&self, sa: &str) -> Result<String, Error> {
        let api: Api<ServiceAccount> = Api::namespaced(self.root.clone(), "kube-system");
        if api.get_opt(sa).await?.is_none() {
            let obj = ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(sa.into()),
                    namespace: Some("kube-system".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        // As upstream's client builder, wait a while for the token rather than fail at once.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match request_token(&self.root, sa).await {
                Ok(t) => return Ok(t),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!("waiting for a token of service account kube-system/{sa}: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

async fn request_token(root: &Client, sa: &str) -> Result<String, Error> {
    let api: Api<ServiceAccount> = Api::namespaced(root.clone(), "kube-system");
    let req = TokenRequest {
        spec: TokenRequestSpec { expiration_seconds: Some(TOKEN_SECONDS), audiences: vec![], bound_object_ref: None },
        ..Default::default()
    };
    let out: TokenRequest = api.create_subresource("token", sa, &PostParams::default(), &req).await?;
    out.status.map(|s| s.token).ok_or_else(|| Error::Config(format!("no token in the TokenRequest for {sa}")))
}

async fn refresh_token(root: Client, sa: String, token: Arc<RwLock<String>>) {
    let renew = Duration::from_secs(u64::try_from(TOKEN_SECONDS * 8 / 10).unwrap_or(2880));
    let mut wait = renew;
    loop {
        tokio::time::sleep(wait).await;
        match request_token(&root, &sa).await {
            Ok(t) => {
                *token.write().unwrap_or_else(|e| e.into_inner()) = t;
                wait = renew;
            }
            Err(e) => {
                tracing::warn!("failed to renew the token of service account kube-system/{sa}: {e}");
                wait = Duration::from_secs(10);
            }
        }
    }
}
