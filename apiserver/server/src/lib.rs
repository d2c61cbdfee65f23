//! kube-apiserver: the REST + watch API over etcd, served over HTTPS with client-certificate
//! authentication. `main.rs` parses flags; everything else lives here so tests reach it.

pub mod admission;
pub mod alloc;
pub mod auditing;
pub mod auth;
pub mod authapi;
mod backend;
pub mod bootstrap;
pub mod certificates;
pub mod codec;
pub mod componentstatus;
pub mod connect;
pub mod discovery;
pub mod egress;
pub mod error;
pub mod eviction;
pub mod handler;
pub mod health;
pub mod kubeletclient;
pub mod metrics;
pub mod options;
pub mod request_info;
pub mod rest;
pub mod subresources;
pub mod table;
use pki::tls;
pub mod version;
pub mod watch;

use crate::auth::authn::Authenticator;
use crate::auth::authz::AuthorizerChain;
use crate::options::Options;
use backend::Backend;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Response bodies: whole buffers or watch streams.
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

pub fn full(data: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(data.into()).boxed()
}

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("failed to listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("invalid flag: {0}")]
    Flag(String),
}

/// The running server's shared state.
pub struct ApiServer {
    pub backend: Backend,
    pub authn: Authenticator,
    pub authz: AuthorizerChain,
    pub rbac: Arc<auth::rbac::Rbac>,
    pub ranges: alloc::Ranges,
    pub advertise_address: IpAddr,
    pub secure_port: u16,
    pub min_request_timeout: u64,
    pub bootstrapped: AtomicBool,
    /// The default RBAC roles and bindings exist (`poststarthook/rbac/bootstrap-roles`).
    pub rbac_bootstrapped: AtomicBool,
    /// system-node-critical and system-cluster-critical exist.
    pub priority_bootstrapped: AtomicBool,
    /// The enabled admission plugins.
    pub admission: admission::Plugins,
    /// Admission webhook configurations and clients.
    pub webhooks: admission::webhook::Webhooks,
    /// Audit logging, when configured.
    pub audit: Option<Arc<auditing::Auditor>>,
    /// The data of `kube-system/extension-apiserver-authentication`: how this apiserver
    /// authenticates clients, for the components that delegate to it.
    pub authentication_info: serde_json::Map<String, serde_json::Value>,
    /// How `logs`, `exec`, `attach`, `portforward` and `proxy` reach kubelets and pods.
    pub kubelets: kubeletclient::KubeletClient,
}

impl ApiServer {
    /// `host:port` clients should use (discovery's serverAddressByClientCIDRs).
    pub fn server_address(&self) -> String {
        SocketAddr::new(self.advertise_address, self.secure_port).to_string()
    }
}

pub fn init_logging(verbosity: u8) {
    let level = match verbosity {
        0..=1 => "info",
        2..=4 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The address other members reach us on: the flag, else the bind address, else the address
/// of the interface holding the default route (found without sending a packet).
fn advertise_address(opts: &Options) -> IpAddr {
    if let Some(a) = opts.advertise_address {
        return a;
    }
    if !opts.bind_address.is_unspecified() {
        return opts.bind_address;
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:1")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Self-signed serving certificate in `--cert-dir`, as upstream makes one when no
/// `--tls-cert-file` is given.
fn self_signed(
    opts: &Options,
    advertise: IpAddr,
    first_service_ip: IpAddr,
) -> Result<(std::path::PathBuf, std::path::PathBuf), Error> {
    let dir = &opts.cert_dir;
    let (crt, key) = (dir.join("apiserver.crt"), dir.join("apiserver.key"));
    if crt.exists() && key.exists() {
        return Ok((crt, key));
    }
    let ca = pki::new_ca(&format!("localhost-ca@{}", chrono::Utc::now().timestamp()))?;
    let (dns, ips) = pki::apiserver_sans("", advertise, first_service_ip, "cluster.local");
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: format!("localhost@{}", chrono::Utc::now().timestamp()),
            dns_names: dns,
            ips,
            server: true,
            ..Default::default()
        },
    )?;
    let bundle = pki::CertKey { cert_pem: format!("{}{}", leaf.cert_pem, ca.cert_pem), key_pem: leaf.key_pem };
    pki::write_pair(dir, "apiserver", &bundle)?;
    Ok((crt, key))
}

/// `--encryption-provider-config`: the transformer of each stored resource's key prefix.
fn transformers(
    path: &std::path::Path,
    etcd_prefix: &str,
) -> Result<Vec<(String, Arc<encryption::Transformer>)>, Error> {
    let cfg = encryption::EncryptionConfig::load(path)
        .map_err(|e| Error::Flag(format!("--encryption-provider-config: {e}")))?;
    let mut out: Vec<(String, Arc<encryption::Transformer>)> = Vec::new();
    for rd in api_types::resources().iter().filter(|r| r.is_stored()) {
        let prefix = format!("{}/{}/", etcd_prefix.trim_end_matches('/'), rd.etcd_prefix);
        if out.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        if let Some(t) = cfg.transformer_for(rd.group, rd.plural) {
            tracing::info!(resource = rd.plural, group = rd.group, "encrypting at rest");
            out.push((prefix, t));
        }
    }
    Ok(out)
}

fn read_file(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Flag(format!("reading {path}: {e}")))
}

/// The authenticator chain the flags configure.
fn authenticator(opts: &Options, client_ca: Option<tls::ClientCa>, advertise: IpAddr) -> Result<Authenticator, Error> {
    // Upstream: "AnonymousAuth is not allowed with the AlwaysAllow authorizer".
    let anonymous = opts.anonymous_auth && !opts.authorization_mode.iter().any(|m| m == "AlwaysAllow");
    if opts.anonymous_auth && !anonymous {
        tracing::warn!("AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth to false. You should use a different authorizer");
    }
    let token_file =
        opts.token_auth_file.as_deref().map(auth::token_file::TokenFile::load).transpose().map_err(Error::Flag)?;
    let signing = opts.service_account_signing_key_file.as_deref().map(read_file).transpose()?;
    let key_files = if opts.service_account_key_file.is_empty() {
        opts.service_account_signing_key_file.iter().cloned().collect()
    } else {
        opts.service_account_key_file.clone()
    };
    let verify: Vec<String> = key_files.iter().map(|f| read_file(f)).collect::<Result<_, _>>()?;
    let jwks_uri = opts
        .service_account_jwks_uri
        .clone()
        .unwrap_or_else(|| format!("https://{}/openid/v1/jwks", SocketAddr::new(advertise, opts.secure_port)));
    let service_accounts = if opts.service_account_issuer.is_empty() {
        None
    } else {
        let mut sa = auth::serviceaccount::ServiceAccounts::new(
            opts.service_account_issuer.clone(),
            opts.api_audiences.clone(),
            signing.as_deref(),
            &verify,
            jwks_uri,
        )
        .map_err(|e| Error::Flag(format!("service account keys: {e}")))?;
        sa.lookup = opts.service_account_lookup;
        sa.extend_expiration = opts.service_account_extend_token_expiration;
        sa.max_expiration = opts.service_account_max_token_expiration.map(|d| d.as_secs() as i64);
        Some(sa)
    };
    // The aggregator's client identity: loaded (so a bad pair fails the start, as upstream),
    // though no aggregated API is proxied yet.
    if let (Some(cert), Some(key)) = (&opts.proxy_client_cert_file, &opts.proxy_client_key_file) {
        tls::client_config(Some((cert, key)), None)
            .map_err(|e| Error::Flag(format!("failed to load proxy client certificate: {e}")))?;
    }
    let request_header = match &opts.requestheader_client_ca_file {
        Some(path) => Some(auth::authn::RequestHeader {
            ca: tls::ClientCa::load(path)?,
            allowed_names: opts.requestheader_allowed_names.clone(),
            username_headers: opts.requestheader_username_headers.clone(),
            uid_headers: opts.requestheader_uid_headers.clone(),
            group_headers: opts.requestheader_group_headers.clone(),
            extra_prefixes: opts.requestheader_extra_headers_prefix.clone(),
        }),
        None => None,
    };
    let oidc = match (&opts.oidc_issuer_url, &opts.oidc_client_id) {
        (None, None) => None,
        (issuer, client) => {
            let required_claims = opts
                .oidc_required_claim
                .iter()
                .map(|c| oidc::OidcOptions::parse_required_claim(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Flag(e.to_string()))?;
            let o = oidc::OidcOptions {
                issuer_url: issuer.clone().unwrap_or_default(),
                client_id: client.clone().unwrap_or_default(),
                username_claim: opts.oidc_username_claim.clone(),
                username_prefix: opts.oidc_username_prefix.clone(),
                groups_claim: opts.oidc_groups_claim.clone(),
                groups_prefix: opts.oidc_groups_prefix.clone(),
                ca_file: opts.oidc_ca_file.clone(),
                required_claims,
                signing_algs: opts.oidc_signing_algs.clone(),
            };
            o.validate().map_err(|e| Error::Flag(e.to_string()))?;
            Some(oidc::OidcAuthenticator::new(o).map_err(|e| Error::Flag(e.to_string()))?)
        }
    };
    let token_webhook = opts
        .authentication_token_webhook_config_file
        .as_deref()
        .map(|p| {
            auth::webhook_authz::TokenWebhook::load(
                p,
                &opts.authentication_token_webhook_version,
                opts.authentication_token_webhook_cache_ttl,
            )
        })
        .transpose()
        .map_err(Error::Flag)?;
    Ok(Authenticator {
        token_webhook,
        oidc,
        request_header,
        client_ca,
        anonymous,
        token_file,
        service_accounts,
        bootstrap_tokens: opts.enable_bootstrap_token_auth,
    })
}

/// Builds the server from flags and serves until the process is stopped.
pub async fn run(opts: Options) -> Result<(), Error> {
    metrics::init();
    let service_cidr: ipnet::IpNet =
        opts.service_cluster_ip_range.parse().map_err(|_| Error::Flag("--service-cluster-ip-range".into()))?;
    let node_ports = alloc::parse_port_range(&opts.service_node_port_range)
        .ok_or_else(|| Error::Flag("--service-node-port-range".into()))?;
    let ranges = alloc::Ranges { service_cidr, node_ports };
    let advertise = advertise_address(&opts);
    let store = storage::Store::connect(&storage::EtcdConfig {
        endpoints: opts.etcd_servers.clone(),
        ca_file: opts.etcd_cafile.clone(),
        cert_file: opts.etcd_certfile.clone(),
        key_file: opts.etcd_keyfile.clone(),
        request_timeout: Some(Duration::from_secs(10)),
    })
    .await?;
    let store = match &opts.encryption_provider_config {
        Some(path) => store.with_transformers(transformers(path, &opts.etcd_prefix)?),
        None => store,
    };
    // Events expire (upstream's TTLFunc for events): both API groups share these keys.
    let store = store.with_ttl(&format!("{}/events/", opts.etcd_prefix.trim_end_matches('/')), opts.event_ttl);
    if !opts.etcd_compaction_interval.is_zero() {
        store.start_compactor(opts.etcd_compaction_interval);
    }
    let (cert, key) = match (&opts.tls_cert_file, &opts.tls_private_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => self_signed(&opts, advertise, ranges.first_ip())?,
    };
    let client_ca = opts.client_ca_file.as_deref().map(tls::ClientCa::load).transpose()?;
    let authn = authenticator(&opts, client_ca.clone(), advertise)?;
    // Client certificates are requested when either the client CA or the front proxy's CA
    // could vouch for them.
    let verifier = client_ca.as_ref().or(authn.request_header.as_ref().map(|r| &r.ca));
    let tls_cfg = tls::server_config(&cert, &key, verifier)?;
    let cacher_cfg = storage::CacherConfig {
        history: opts.default_watch_cache_size.max(100),
        bookmark_interval: opts.watch_bookmark_interval,
        ..Default::default()
    };
    let mut admission = admission::Plugins::new(&opts.enable_admission_plugins, &opts.disable_admission_plugins)
        .map_err(Error::Flag)?;
    if let Some(path) = &opts.admission_control_config_file {
        admission.configure(path).map_err(Error::Flag)?;
    }
    let rbac = Arc::new(auth::rbac::Rbac::default());
    let nodes = Arc::new(auth::node::NodeGraph::default());
    let authz = AuthorizerChain::new(
        &opts.authorization_mode,
        &rbac,
        &nodes,
        opts.authorization_policy_file.as_deref(),
        auth::authz::WebhookConfig {
            config_file: opts.authorization_webhook_config_file.as_deref(),
            version: &opts.authorization_webhook_version,
            allowed_ttl: opts.authorization_webhook_cache_authorized_ttl,
            denied_ttl: opts.authorization_webhook_cache_unauthorized_ttl,
        },
    )
    .map_err(Error::Flag)?;
    let st = Arc::new(ApiServer {
        backend: Backend::new(store, &opts.etcd_prefix, cacher_cfg, opts.watch_cache)
            .with_uncached(backend::uncached_resources(&opts.watch_cache_sizes).map_err(Error::Flag)?),
        authn,
        authz,
        rbac: rbac.clone(),
        ranges,
        advertise_address: advertise,
        secure_port: opts.secure_port,
        min_request_timeout: opts.min_request_timeout,
        bootstrapped: AtomicBool::new(false),
        rbac_bootstrapped: AtomicBool::new(false),
        priority_bootstrapped: AtomicBool::new(false),
        admission,
        webhooks: Default::default(),
        audit: auditing::Auditor::from_options(&opts).map_err(|e| Error::Flag(format!("audit: {e}")))?,
        authentication_info: authentication_info(&opts)?,
        kubelets: kubeletclient::KubeletClient::from_options(&opts).map_err(Error::Flag)?,
    });
    let addr = SocketAddr::new(opts.bind_address, opts.secure_port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Listen(addr, e))?;
    tracing::info!(%addr, advertise = %advertise, "Serving securely");
    // The RBAC view also backs escalation checks, whatever the authorization modes.
    auth::rbac::start(st.clone(), rbac);
    if st.authz.uses_node() {
        auth::node::start(st.clone(), nodes);
    }
    bootstrap::start(st.clone());
    serve(st, listener, tls_cfg).await;
    Ok(())
}

/// Accepts TLS connections and serves HTTP/1.1 and HTTP/2 on them.
pub async fn serve(st: Arc<ApiServer>, listener: tokio::net::TcpListener, tls_cfg: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_cfg);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let st = st.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let cert_user = {
                let (_, conn) = tls.get_ref();
                st.authn.from_connection(conn.peer_certificates())
            };
            let svc =
                hyper::service::service_fn(move |req| handler::handle(st.clone(), cert_user.clone(), Some(peer), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// upstream's `ClusterAuthenticationInfo`: the client CA and the request-header settings, the
/// list values as JSON arrays.
fn authentication_info(opts: &Options) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Error::Flag(format!("unable to load client CA file {}: {e}", p.display())))
    };
    let mut m = serde_json::Map::new();
    if let Some(p) = &opts.client_ca_file {
        m.insert("client-ca-file".into(), read(p)?.into());
    }
    if let Some(p) = &opts.requestheader_client_ca_file {
        m.insert("requestheader-client-ca-file".into(), read(p)?.into());
        let list = |v: &[String]| serde_json::Value::String(serde_json::to_string(v).unwrap_or_else(|_| "[]".into()));
        m.insert("requestheader-username-headers".into(), list(&opts.requestheader_username_headers));
        if !opts.requestheader_uid_headers.is_empty() {
            m.insert("requestheader-uid-headers".into(), list(&opts.requestheader_uid_headers));
        }
        m.insert("requestheader-group-headers".into(), list(&opts.requestheader_group_headers));
        m.insert("requestheader-extra-headers-prefix".into(), list(&opts.requestheader_extra_headers_prefix));
        m.insert("requestheader-allowed-names".into(), list(&opts.requestheader_allowed_names));
    }
    Ok(m)
}
