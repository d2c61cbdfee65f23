//! The kube-rs client every daemon talks to the apiserver with: configured from
//! `--kubeconfig`/`--master` (or the in-cluster service account), identified by its
//! User-Agent, and held to `--kube-api-qps`/`--kube-api-burst` by a token bucket as
//! client-go's rate limiter does.

use crate::flags::ClientFlags;
use crate::workqueue::TokenBucket;
use crate::Error;
use http::{HeaderValue, Request};
use kube::client::{Body, ClientBuilder, ConfigExt};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

/// The rest config: where the apiserver is and how to authenticate, before rate limits.
pub async fn config(flags: &ClientFlags) -> Result<Config, Error> {
    let mut cfg = match &flags.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        }
        None => match &flags.master {
            Some(master) => Config::new(master.parse().map_err(|e| Error::Config(format!("--master {master}: {e}")))?),
            None => {
                tracing::warn!(
                    "Neither --kubeconfig nor --master was specified. Using the inClusterConfig. This might not work."
                );
                Config::incluster().map_err(|e| Error::Config(e.to_string()))?
            }
        },
    };
    if let (Some(master), Some(_)) = (&flags.master, &flags.kubeconfig) {
        cfg.cluster_url = master.parse().map_err(|e| Error::Config(format!("--master {master}: {e}")))?;
    }
    Ok(cfg)
}

/// `<program>/<version> (linux/amd64) kubernetes/<commit>`, with `/<suffix>` appended for a
/// controller's own client, as upstream builds it.
pub fn user_agent(program: &str, suffix: Option<&str>) -> String {
    let base = format!("{program}/v1.33.0 ({}/{}) kubernetes/rust", std::env::consts::OS, go_arch());
    match suffix {
        Some(s) => format!("{base}/{s}"),
        None => base,
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A client from `cfg` with `user_agent`, at most `qps` requests a second after a burst of
/// `burst` (a `qps` of 0 or less means no limit).
pub fn build(mut cfg: Config, user_agent: &str, qps: f32, burst: u32) -> Result<Client, Error> {
    let ua = HeaderValue::from_str(user_agent).map_err(|e| Error::Config(format!("user agent: {e}")))?;
    cfg.headers.retain(|(k, _)| k != http::header::USER_AGENT);
    cfg.headers.push((http::header::USER_AGENT, ua));
    let limit = RateLimitLayer::new(qps, burst);
    Ok(builder(&cfg)?.with_layer(&limit).build())
}

/// A client that authenticates with a bearer token it reads from `token` on every request
/// (the controller-manager's per-controller service-account clients refresh it).
pub fn build_with_token(
    mut cfg: Config,
    token: Arc<RwLock<String>>,
    user_agent: &str,
    qps: f32,
    burst: u32,
) -> Result<Client, Error> {
    // The base config's own credentials must not be sent.
    cfg.auth_info = Default::default();
    let ua = HeaderValue::from_str(user_agent).map_err(|e| Error::Config(format!("user agent: {e}")))?;
    cfg.headers.retain(|(k, _)| k != http::header::USER_AGENT);
    cfg.headers.push((http::header::USER_AGENT, ua));
    let limit = RateLimitLayer::new(qps, burst);
    Ok(builder(&cfg)?.with_layer(&limit).with_layer(&BearerLayer { token }).build())
}

/// kube-rs's stack (base URI, credentials, extra headers) over a connection that speaks
/// HTTP/2 when the server offers it, as client-go's does: one TLS connection carries every
/// request and watch, instead of an HTTP/1.1 connection per request in flight.
fn builder(
    cfg: &Config,
) -> Result<
    ClientBuilder<
        impl Service<
                Request<Body>,
                Response = http::Response<hyper::body::Incoming>,
                Error = tower::BoxError,
                Future: Send + 'static,
            > + Send
            + 'static,
    >,
    Error,
> {
    let err = |e: kube::Error| Error::Config(e.to_string());
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(cfg.connect_timeout);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg.rustls_client_config().map_err(err)?)
        .https_or_http();
    if let Some(name) = &cfg.tls_server_name {
        let name = name.clone().try_into().map_err(|e| Error::Config(format!("tls-server-name: {e}")))?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let connector = https.enable_all_versions().wrap_connector(http);
    // client-go's HTTP/2 health check: a ping after 30 s without a frame, the connection
    // dropped when it is not answered within 15 s (every request depends on it).
    let client: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_keep_alive_timeout(Duration::from_secs(15))
            .build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(cfg.base_uri_layer())
        .option_layer(cfg.auth_layer().map_err(err)?)
        .layer(cfg.extra_headers_layer().map_err(err)?)
        .map_err(tower::BoxError::from)
        .service(client);
    Ok(ClientBuilder::new(service, cfg.default_namespace.clone()))
}

/// Sets `Authorization: Bearer <token>` from a shared, refreshable token.
#[derive(Clone)]
struct BearerLayer {
    token: Arc<RwLock<String>>,
}

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;
    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer { inner, token: self.token.clone() }
    }
}

struct Bearer<S> {
    inner: S,
    token: Arc<RwLock<String>>,
}

impl<S: Service<Request<Body>>> Service<Request<Body>> for Bearer<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let token = self.token.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            req.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        self.inner.call(req)
    }
}

/// client-go's token bucket limiter in front of every request.
#[derive(Clone)]
pub struct RateLimitLayer {
    bucket: Option<Arc<Mutex<TokenBucket>>>,
}

impl RateLimitLayer {
    pub fn new(qps: f32, burst: u32) -> Self {
        let bucket = (qps > 0.0).then(|| Arc::new(Mutex::new(TokenBucket::new(f64::from(qps), burst))));
        RateLimitLayer { bucket }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited { inner, bucket: self.bucket.clone() }
    }
}

pub struct RateLimited<S> {
    inner: S,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
}

impl<S, B> Service<Request<Body>> for RateLimited<S>
where
    S: Service<Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The inner future does nothing until polled, so waiting for the token before
        // polling it delays the request itself.
        let delay = self
            .bucket
            .as_ref()
            .map(|b| b.lock().unwrap_or_else(|e| e.into_inner()).reserve(tokio::time::Instant::now()));
        let method = req.method().as_str().to_string();
        let host = req.uri().authority().map(|a| a.to_string()).unwrap_or_default();
        let fut = self.inner.call(req);
        Box::pin(async move {
            if let Some(d) = delay.filter(|d| !d.is_zero()) {
                tokio::time::sleep(d).await;
            }
            let res = fut.await;
            let code = match &res {
                Ok(r) => r.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            crate::metrics::rest_request(&code, &host, &method);
            res
        })
    }
}

/// The message of an API error (the Status's `message`), or the error itself: what a daemon
/// puts in its events and conditions, as upstream's `err.Error()` reads.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
