//! The network probes' clients: HTTP(S) GET as upstream's prober sends it (`kube-probe/1.33`,
//! `Accept: */*`, no keep-alive, certificates not verified, 10 KiB of body read: component-base's
//! `httpget`), and the gRPC health check. Failure texts follow Go's error strings, which users match on.

use crate::prober::Outcome;
use std::time::Duration;

pub const USER_AGENT: &str = "kube-probe/1.33";

pub use component_base::httpget::{go_dial_error, join_host_port};

/// One HTTP(S) GET probe: 2xx and 3xx succeed.
pub async fn get(
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    use component_base::httpget::GetError;
    match component_base::httpget::get(scheme, host, port, path, headers, USER_AGENT, timeout).await {
        Err(GetError::Request(e)) => Outcome::Error(e),
        Err(GetError::Failed(e)) => Outcome::Failure(e),
        Ok(status) if (200..400).contains(&status) => Outcome::Success,
        Ok(status) => Outcome::Failure(format!("HTTP probe failed with statuscode: {status}")),
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
    use std::sync::Arc;

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
