//! The network probes' clients: HTTP(S) GET as upstream's prober sends it (`kube-probe/1.33`,
//! `Accept: */*`, no keep-alive, certificates not verified, 10 KiB of body read), and the gRPC
//! health check. Failure texts follow Go's error strings, which users match on.

use crate::prober::Outcome;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::time::Duration;

pub const USER_AGENT: &str = "kube-probe/1.33";

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

/// Any server certificate is accepted, as upstream's probes do (InsecureSkipVerify).
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

/// One HTTP(S) GET probe.
pub async fn get(
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
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
        // An empty Accept removes the header, as upstream.
        if k.eq_ignore_ascii_case("accept") && v.is_empty() {
            continue;
        }
        req = req.header(k.as_str(), v.as_str());
    }
    if !has_ua {
        req = req.header(http::header::USER_AGENT, USER_AGENT);
    }
    if !has_accept {
        req = req.header(http::header::ACCEPT, "*/*");
    }
    req = req.header(http::header::HOST, host_header).header(http::header::CONNECTION, "close");
    let req = match req.body(Empty::new()) {
        Ok(r) => r,
        Err(e) => return Outcome::Error(e.to_string()),
    };
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
        Err(_) => Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(e)) => Outcome::Failure(e),
        Ok(Ok((status, _))) if (200..400).contains(&status.as_u16()) => Outcome::Success,
        Ok(Ok((status, _))) => Outcome::Failure(format!("HTTP probe failed with statuscode: {}", status.as_u16())),
    }
}

/// One gRPC health check (grpc.health.v1.Health/Check).
pub async fn grpc(addr: &str, service: &str, timeout: Duration) -> Outcome {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let ep = match tonic::transport::Endpoint::from_shared(format!("http://{addr}")) {
        Ok(e) => e
            .connect_timeout(timeout)
            .user_agent(USER_AGENT)
            .unwrap_or_else(|_| tonic::transport::Endpoint::from_static("http://127.0.0.1")),
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let chan = match tokio::time::timeout(timeout, ep.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Outcome::Failure(format!(
                "timeout: failed to connect service {addr:?} within {}: {e}",
                component_base::flags::format_go_duration(timeout)
            ))
        }
        Err(_) => {
            return Outcome::Failure(format!(
                "timeout: failed to connect service {addr:?} within {}: context deadline exceeded",
                component_base::flags::format_go_duration(timeout)
            ))
        }
    };
    let mut client = HealthClient::new(chan);
    let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest { service: service.to_string() });
    req.set_timeout(timeout);
    match client.check(req).await {
        Ok(r) => {
            let st = r.into_inner().status;
            if st == ServingStatus::Serving as i32 {
                Outcome::Success
            } else {
                let name = ServingStatus::try_from(st).map(|s| s.as_str_name()).unwrap_or("UNKNOWN");
                Outcome::Failure(format!("service unhealthy (responded with {name:?})"))
            }
        }
        Err(s) if s.code() == tonic::Code::Unimplemented => Outcome::Failure(format!(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            s.message()
        )),
        Err(s) if s.code() == tonic::Code::DeadlineExceeded => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}",
            component_base::flags::format_go_duration(timeout)
        )),
        Err(s) => Outcome::Failure(format!("error: health rpc probe failed: {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_probes_read_status_and_send_upstream_headers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(String::new()));
        let s2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await.unwrap();
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                *s2.lock().unwrap() = req.clone();
                let code = if req.starts_with("GET /bad") { "500 Internal Server Error" } else { "200 OK" };
                let resp = format!("HTTP/1.1 {code}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                tokio::io::AsyncWriteExt::write_all(&mut tcp, resp.as_bytes()).await.unwrap();
            }
        });
        let t = Duration::from_secs(2);
        assert_eq!(
            get("http", "127.0.0.1", port, "/healthz", &[("X-Custom".into(), "v".into())], t).await,
            Outcome::Success
        );
        let req = seen.lock().unwrap().to_lowercase();
        assert!(req.contains("user-agent: kube-probe/1.33"), "{req}");
        assert!(req.contains("accept: */*"), "{req}");
        assert!(req.contains("x-custom: v"), "{req}");
        assert_eq!(
            get("http", "127.0.0.1", port, "/bad", &[], t).await,
            Outcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        assert_eq!(
            get("http", "127.0.0.1", closed, "/", &[], t).await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{closed}/\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
            ))
        );
    }
}
