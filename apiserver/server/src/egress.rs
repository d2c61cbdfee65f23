//! The egress selector (`--egress-selector-config-file`): how the apiserver dials out of the
//! control plane. Only the `cluster` selection is used (connections to kubelets, pods and
//! services); it is `Direct` unless configured as `HTTPConnect` through a proxy reached over a
//! unix socket or TCP, as with upstream's konnectivity server.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A connection to a backend, however it was dialed.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type Conn = Pin<Box<dyn Io>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    egress_selections: Vec<Selection>,
}

#[derive(Deserialize)]
struct Selection {
    #[serde(default)]
    name: String,
    connection: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    #[serde(default)]
    proxy_protocol: String,
    transport: Option<Transport>,
}

#[derive(Deserialize)]
struct Transport {
    tcp: Option<Tcp>,
    uds: Option<Uds>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tcp {
    #[serde(default)]
    url: String,
    tls_config: Option<TlsConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsConfig {
    ca_bundle: Option<PathBuf>,
    client_key: Option<PathBuf>,
    client_cert: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Uds {
    #[serde(default)]
    uds_name: String,
}

/// Where an HTTP CONNECT proxy is.
#[derive(Clone)]
enum ProxyAt {
    Uds(PathBuf),
    Tcp { addr: String, tls: Option<(Arc<rustls::ClientConfig>, String)> },
}

/// How connections to the cluster are made.
#[derive(Clone, Default)]
pub struct Dialer {
    proxy: Option<ProxyAt>,
}

impl Dialer {
    /// The `cluster` dialer from the configuration file, or direct dialing without one.
    pub fn from_file(path: Option<&Path>) -> Result<Dialer, String> {
        let Some(path) = path else { return Ok(Dialer::default()) };
        let text = std::fs::read_to_string(path).map_err(|e| format!("failed to read egress selector config: {e}"))?;
        let cfg: Config =
            serde_saphyr::from_str(&text).map_err(|e| format!("failed to read egress selector config: {e}"))?;
        if cfg.kind.as_deref() != Some("EgressSelectorConfiguration")
            || !matches!(
                cfg.api_version.as_deref(),
                Some("apiserver.k8s.io/v1beta1" | "apiserver.k8s.io/v1alpha1" | "apiserver.k8s.io/v1")
            )
        {
            return Err(format!(
                "failed to read egress selector config: no kind \"EgressSelectorConfiguration\" is registered for \
                 version {:?}",
                cfg.api_version.unwrap_or_default()
            ));
        }
        let mut dialer = Dialer::default();
        for (i, s) in cfg.egress_selections.iter().enumerate() {
            let at = format!("egressSelection[{i}]");
            let name = s.name.to_lowercase();
            if !matches!(name.as_str(), "controlplane" | "master" | "etcd" | "cluster") {
                return Err(format!(
                    "{at}.name: Unsupported value: {:?}: supported values: \"cluster\", \"controlplane\", \"etcd\"",
                    s.name
                ));
            }
            let proxy = match s.connection.proxy_protocol.as_str() {
                "Direct" => None,
                "HTTPConnect" => Some(proxy_at(&at, s.connection.transport.as_ref())?),
                "GRPC" => return Err(format!("{at}.connection.proxyProtocol: GRPC (konnectivity) is not supported")),
                other => {
                    return Err(format!(
                        "{at}.connection.proxyProtocol: Unsupported value: {other:?}: supported values: \"Direct\", \
                         \"GRPC\", \"HTTPConnect\""
                    ))
                }
            };
            if name == "cluster" {
                dialer.proxy = proxy;
            }
        }
        Ok(dialer)
    }

    /// Connects to `host:port`, giving up after `timeout`. Errors read as Go's dialer's.
    pub async fn dial(&self, host: &str, port: u16, timeout: Duration) -> Result<Conn, String> {
        let target = join_host_port(host, port);
        let from = match &self.proxy {
            None => String::new(),
            Some(ProxyAt::Uds(p)) => p.display().to_string(),
            Some(ProxyAt::Tcp { addr, .. }) => addr.clone(),
        };
        let work = async {
            match &self.proxy {
                None => {
                    let s = tokio::net::TcpStream::connect(&target).await.map_err(|e| dial_error(&target, &e))?;
                    let _ = s.set_nodelay(true);
                    Ok(Box::pin(s) as Conn)
                }
                Some(ProxyAt::Uds(path)) => {
                    let s = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| format!("dial unix {}: {}", path.display(), e))?;
                    connect_through(s, &from, &target).await
                }
                Some(ProxyAt::Tcp { addr, tls }) => {
                    let s = tokio::net::TcpStream::connect(addr).await.map_err(|e| dial_error(addr, &e))?;
                    match tls {
                        None => connect_through(s, &from, &target).await,
                        Some((cfg, server_name)) => {
                            let name = rustls::pki_types::ServerName::try_from(server_name.clone())
                                .map_err(|e| e.to_string())?;
                            let s = tokio_rustls::TlsConnector::from(cfg.clone())
                                .connect(name, s)
                                .await
                                .map_err(|e| format!("proxy TLS handshake: {e}"))?;
                            connect_through(s, &from, &target).await
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(format!("dial tcp {target}: i/o timeout")),
        }
    }
}

fn proxy_at(at: &str, t: Option<&Transport>) -> Result<ProxyAt, String> {
    let t =
        t.ok_or_else(|| format!("{at}.connection.transport: Required value: transport must be set for HTTPConnect"))?;
    match (&t.tcp, &t.uds) {
        (Some(_), Some(_)) => Err(format!("{at}.connection.transport: Invalid value: both TCP and UDS transports set")),
        (None, None) => Err(format!("{at}.connection.transport: Required value: one of TCP or UDS must be set")),
        (None, Some(u)) if u.uds_name.is_empty() => {
            Err(format!("{at}.connection.transport.uds.udsName: Required value: udsName must be set"))
        }
        (None, Some(u)) => Ok(ProxyAt::Uds(PathBuf::from(&u.uds_name))),
        (Some(tcp), None) => {
            let (scheme, rest) = tcp
                .url
                .split_once("://")
                .ok_or_else(|| format!("{at}.connection.transport.tcp.url: Invalid value: {:?}", tcp.url))?;
            let addr = rest.trim_end_matches('/').to_string();
            let tls = match scheme {
                "http" => None,
                "https" => {
                    let c = tcp.tls_config.as_ref().ok_or_else(|| {
                        format!("{at}.connection.transport.tcp.tlsConfig: Required value: https needs a tlsConfig")
                    })?;
                    let pair = match (&c.client_cert, &c.client_key) {
                        (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
                        _ => None,
                    };
                    let cfg = pki::tls::client_config(pair, c.ca_bundle.as_deref()).map_err(|e| e.to_string())?;
                    let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                    Some((cfg, host.trim_matches(|c| c == '[' || c == ']').to_string()))
                }
                other => return Err(format!("{at}.connection.transport.tcp.url: Unsupported scheme {other:?}")),
            };
            Ok(ProxyAt::Tcp { addr, tls })
        }
    }
}

/// `host:port`, with brackets around IPv6 addresses (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn dial_error(target: &str, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        std::io::ErrorKind::HostUnreachable => "connect: no route to host".to_string(),
        std::io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {target}: {what}")
}

/// The HTTP CONNECT handshake: the tunnel is open once the proxy answers 200. The answer is
/// read a byte at a time so that nothing after its header is consumed.
async fn connect_through<S>(mut s: S, from: &str, target: &str) -> Result<Conn, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| format!("error sending CONNECT to the egress proxy: {e}"))?;
    let mut head = Vec::with_capacity(128);
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err("the egress proxy's answer to CONNECT is too long".into());
        }
        let n = s.read(&mut b).await.map_err(|e| format!("error reading the egress proxy's answer: {e}"))?;
        if n == 0 {
            return Err(format!("the egress proxy closed the connection while dialing {target}"));
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("");
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        let status = status_line.split_once(' ').map_or(status_line, |(_, s)| s);
        return Err(format!("proxy error from {from} while dialing {target}, code {code}: {status}"));
    }
    Ok(Box::pin(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_cluster_selection_picks_the_dialer() {
        let f = write(
            "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
             - name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n    transport:\n      uds:\n        \
             udsName: /run/egress.sock\n- name: controlplane\n  connection:\n    proxyProtocol: Direct\n",
        );
        let d = Dialer::from_file(Some(f.path())).unwrap();
        assert!(matches!(d.proxy, Some(ProxyAt::Uds(ref p)) if p == Path::new("/run/egress.sock")));
        assert!(Dialer::from_file(None).unwrap().proxy.is_none());
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        let f = write("apiVersion: v1\nkind: Pod\n");
        assert!(Dialer::from_file(Some(f.path())).err().unwrap().contains("EgressSelectorConfiguration"));
        let f = write(
            "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
             - name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n",
        );
        assert!(Dialer::from_file(Some(f.path())).err().unwrap().contains("transport must be set"));
        let f = write(
            "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
             - name: elsewhere\n  connection:\n    proxyProtocol: Direct\n",
        );
        assert!(Dialer::from_file(Some(f.path())).err().unwrap().contains("Unsupported value: \"elsewhere\""));
    }

    #[tokio::test]
    async fn connect_through_a_proxy_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("p.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            for answer in ["HTTP/1.1 200 Connection established\r\n\r\n", "HTTP/1.1 503 Service Unavailable\r\n\r\n"] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).await.unwrap();
                assert!(buf[..n].starts_with(b"CONNECT 10.0.0.1:10250 HTTP/1.1\r\n"));
                s.write_all(answer.as_bytes()).await.unwrap();
                s.write_all(b"tunnelled").await.unwrap();
                let _ = s.read(&mut buf).await;
            }
        });
        let d = Dialer { proxy: Some(ProxyAt::Uds(sock)) };
        let mut c = d.dial("10.0.0.1", 10250, Duration::from_secs(5)).await.unwrap();
        let mut got = [0u8; 9];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"tunnelled");
        drop(c);
        let e = d.dial("10.0.0.1", 10250, Duration::from_secs(5)).await.err().unwrap();
        assert!(e.contains("code 503"), "{e}");
    }
}
