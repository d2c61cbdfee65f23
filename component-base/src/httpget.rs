//! One plain HTTP(S) GET, as upstream's health checks send them: a fresh connection, no
//! keep-alive, server certificates not verified (InsecureSkipVerify), at most 10 KiB of body
//! read. The kubelet's HTTP probes and kubeadm's control-plane checks both use it; failure
//! texts follow Go's error strings, which users match on.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::time::Duration;

/// Why a GET did not get a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// The request could not be built (a bad header): the caller's fault, not the server's.
    Request(String),
    /// Dial, TLS, HTTP or timeout failure, in Go's words (`Get "<url>": ...`).
    Failed(String),
}

/// `host:port`, with IPv6 hosts bracketed.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's text for a failed dial: `connect: connection refused`, `connect: no route to host`.
pub fn go_dial_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        std::io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        _ => format!("connect: {e}"),
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CFG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CFG.get_or_init(|| pki::tls::client_config(None, None).expect("a client TLS configuration without files")).clone()
}

async fn send<S>(io: S, req: http::Request<Empty<Bytes>>) -> Result<(http::StatusCode, Bytes), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    // Read at most 10 KiB of the body; more is not an error.
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while out.len() < 10 * 1024 {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    out.extend_from_slice(d);
                }
            }
            _ => break,
        }
    }
    out.truncate(10 * 1024);
    Ok((status, Bytes::from(out)))
}

/// GET `scheme://host:port/path` with `headers` (a `Host` header overrides the address, an
/// empty `Accept` removes that header), `user_agent` and `Accept: */*` unless given, within
/// `timeout`. Returns the status code.
pub async fn get(
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    user_agent: &str,
    timeout: Duration,
) -> Result<u16, GetError> {
    let addr = join_host_port(host, port);
    let url = format!("{scheme}://{addr}{path}");
    let mut req = http::Request::get(path);
    let mut has_ua = false;
    let mut has_accept = false;
    let mut host_header = addr.clone();
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host") {
            host_header = v.clone();
            continue;
        }
        has_ua |= k.eq_ignore_ascii_case("user-agent");
        has_accept |= k.eq_ignore_ascii_case("accept");
        if k.eq_ignore_ascii_case("accept") && v.is_empty() {
            continue;
        }
        req = req.header(k.as_str(), v.as_str());
    }
    if !has_ua {
        req = req.header(http::header::USER_AGENT, user_agent);
    }
    if !has_accept {
        req = req.header(http::header::ACCEPT, "*/*");
    }
    req = req.header(http::header::HOST, host_header).header(http::header::CONNECTION, "close");
    let req = req.body(Empty::new()).map_err(|e| GetError::Request(e.to_string()))?;
    let work = async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("Get \"{url}\": dial tcp {addr}: {}", go_dial_error(&e)))?;
        if scheme == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .unwrap_or_else(|_| rustls::pki_types::ServerName::try_from("localhost").expect("name"));
            let tls = tokio_rustls::TlsConnector::from(tls_config())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
            send(tls, req).await.map_err(|e| format!("Get \"{url}\": {e}"))
        } else {
            send(tcp, req).await.map_err(|e| format!("Get \"{url}\": {e}"))
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(GetError::Failed(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ))),
        Ok(Err(e)) => Err(GetError::Failed(e)),
        Ok(Ok((status, _))) => Ok(status.as_u16()),
    }
}
