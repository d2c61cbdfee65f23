//! The localhost healthz endpoint (`--healthz-port`, 10248): `GET /healthz` answers `ok`.

use crate::config::Config;
use crate::Error;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (code, body) = match req.uri().path() {
        "/healthz" | "/healthz/ping" | "/healthz/syncloop" => (StatusCode::OK, "ok"),
        _ => (StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = code;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

/// Starts the healthz server (none when the port is 0).
pub async fn serve(cfg: &Config) -> Result<tokio::task::JoinHandle<()>, Error> {
    if cfg.healthz_port == 0 {
        return Ok(tokio::spawn(futures::future::pending()));
    }
    let addr = format!("{}:{}", cfg.healthz_bind_address, cfg.healthz_port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::Config(format!("failed to start healthz server on {addr}: {e}")))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(handle))
                    .await;
            });
        }
    }))
}
