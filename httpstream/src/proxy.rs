//! The upgrade-aware proxy: the client's request goes to the backend with its method and
//! headers (Upgrade, Connection, X-Stream-Protocol-Version, Sec-WebSocket-*); a `101` is
//! answered to the client with the backend's headers and then bytes are copied both ways
//! until either side closes; an error status is handed back as the backend wrote it.

use crate::Error;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// How much of a backend's error body is handed back.
const MAX_ERROR_BODY: usize = 1 << 20;

/// Whether the request asks for a connection upgrade (`Connection: upgrade` and an `Upgrade`
/// header), as upstream's `httpstream.IsUpgradeRequest`.
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade"))));
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// Headers that describe one hop and are not forwarded, except those of the upgrade itself.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "content-length"
            | "host"
    )
}

/// Sends the upgrade request to the backend over `io` (already connected, TLS done) with
/// `path_and_query` as its target, and answers the client. `client_upgrade` is the client
/// connection's pending upgrade (`hyper::upgrade::on` of the incoming request). `extra`
/// headers are added (`X-Forwarded-For`).
pub async fn upgrade<IO>(
    method: http::Method,
    headers: &HeaderMap,
    authority: &str,
    path_and_query: &str,
    extra: &[(header::HeaderName, HeaderValue)],
    io: IO,
    client_upgrade: OnUpgrade,
) -> Result<Response<Bytes>, Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut req = Request::builder().method(method).uri(path_and_query);
    for (k, v) in headers {
        if !hop_by_hop(k) {
            req = req.header(k, v);
        }
    }
    req = req.header(header::HOST, authority);
    for (k, v) in extra {
        req = req.header(k, v);
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| Error::Send(e.to_string()))?;
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| Error::Send(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "backend connection ended with an error");
        }
    });
    let mut resp = tx.send_request(req).await.map_err(|e| Error::Send(e.to_string()))?;
    let status = resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let mut out = Response::builder().status(status);
        for (k, v) in resp.headers() {
            if !hop_by_hop(k) {
                out = out.header(k, v);
            }
        }
        let backend_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (backend, client) = match tokio::try_join!(backend_upgrade, client_upgrade) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "upgrade failed");
                    return;
                }
            };
            relay(TokioIo::new(client), TokioIo::new(backend)).await;
        });
        return out.body(Bytes::new()).map_err(|e| Error::Send(e.to_string()));
    }
    if status.as_u16() < 400 {
        return Err(Error::InvalidUpgradeResponse(status.as_u16()));
    }
    // An error: handed back as the backend wrote it (status, headers, body).
    let mut out = Response::builder().status(status);
    for (k, v) in resp.headers() {
        if !hop_by_hop(k) {
            out = out.header(k, v);
        }
    }
    let body = Limited::new(resp.into_body(), MAX_ERROR_BODY)
        .collect()
        .await
        .map_err(|e| Error::Read(e.to_string()))?
        .to_bytes();
    out.body(body).map_err(|e| Error::Read(e.to_string()))
}

/// Copies both ways until either direction ends (EOF or error), then drops both
/// connections, as upstream's proxy does: nothing outlives the first side to go.
pub async fn relay<A, B>(a: A, b: B)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ar, mut aw) = tokio::io::split(a);
    let (mut br, mut bw) = tokio::io::split(b);
    tokio::select! {
        _ = tokio::io::copy(&mut ar, &mut bw) => {}
        _ = tokio::io::copy(&mut br, &mut aw) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_requests_need_both_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(!is_upgrade_request(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade_request(&h));
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        assert!(!is_upgrade_request(&h));
    }

    #[tokio::test]
    async fn relay_ends_when_either_side_closes() {
        let (a, mut a_peer) = tokio::io::duplex(64);
        let (b, b_peer) = tokio::io::duplex(64);
        let task = tokio::spawn(relay(a, b));
        use tokio::io::AsyncWriteExt;
        a_peer.write_all(b"ping").await.unwrap();
        drop(b_peer);
        tokio::time::timeout(std::time::Duration::from_secs(5), task).await.expect("relay ended").unwrap();
        drop(a_peer);
    }
}
