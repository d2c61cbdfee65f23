//! How the apiserver reaches a node's kubelet (upstream's `NodeConnectionInfoGetter`): the
//! first of the node's addresses in `--kubelet-preferred-address-types` order, and the port the
//! kubelet reports in `status.daemonEndpoints`, else `--kubelet-port`.

use crate::egress::{self, Conn};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::client::TlsStream;

/// Where a node's kubelet answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub host: String,
    pub port: u16,
}

impl Location {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("https://{}{path_and_query}", egress::join_host_port(&self.host, self.port))
    }
}

/// The apiserver's client of the kubelets: TLS with `--kubelet-client-certificate`, the
/// kubelets' serving certificates checked against `--kubelet-certificate-authority` (not at
/// all without one, as upstream), dialed through the egress selector's `cluster` dialer.
#[derive(Clone)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
    /// For ports other than the kubelet's: no client certificate, no verification.
    insecure: Arc<rustls::ClientConfig>,
    pub dialer: egress::Dialer,
    pub timeout: Duration,
    port: u16,
    types: Vec<String>,
}

impl KubeletClient {
    pub fn from_options(o: &crate::options::Options) -> Result<KubeletClient, String> {
        let pair = match (&o.kubelet_client_certificate, &o.kubelet_client_key) {
            (Some(c), Some(k)) => Some((std::path::Path::new(c), std::path::Path::new(k))),
            _ => None,
        };
        let ca = o.kubelet_certificate_authority.as_deref().map(std::path::Path::new);
        Ok(KubeletClient {
            tls: pki::tls::client_config(pair, ca).map_err(|e| format!("kubelet client: {e}"))?,
            insecure: pki::tls::client_config(None, None).map_err(|e| e.to_string())?,
            dialer: egress::Dialer::from_file(o.egress_selector_config_file.as_deref())?,
            timeout: o.kubelet_timeout,
            port: o.kubelet_port,
            types: o.kubelet_preferred_address_types.clone(),
        })
    }

    /// The node's kubelet (upstream's `GetConnectionInfo`).
    pub fn location(&self, node: &Value) -> Result<Location, String> {
        Ok(Location { host: preferred_address(node, &self.types)?, port: kubelet_port(node, self.port) })
    }

    /// A TLS connection to the kubelet at `loc`.
    pub async fn connect(&self, loc: &Location) -> Result<TlsStream<Conn>, String> {
        self.connect_with(&self.tls, &loc.host, loc.port).await
    }

    /// A TLS connection without client certificate or verification (another port's HTTPS).
    pub async fn connect_insecure(&self, host: &str, port: u16) -> Result<TlsStream<Conn>, String> {
        self.connect_with(&self.insecure, host, port).await
    }

    async fn connect_with(
        &self,
        cfg: &Arc<rustls::ClientConfig>,
        host: &str,
        port: u16,
    ) -> Result<TlsStream<Conn>, String> {
        let io = self.dialer.dial(host, port, self.timeout).await?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(cfg.clone());
        match tokio::time::timeout(self.timeout, tls.connect(name, io)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("remote error: tls: {e}")),
            Err(_) => Err("net/http: TLS handshake timeout".into()),
        }
    }

    /// Sends `req` over a fresh connection. Errors read as Go's client's:
    /// `Get "https://…": dial tcp …: connect: connection refused`.
    pub async fn send<B>(&self, io: B, req: Request<Full>) -> Result<Response<Incoming>, String>
    where
        B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        tx.send_request(req).await.map_err(|e| e.to_string())
    }

    /// `GET` from the kubelet at `loc`.
    pub async fn get(&self, loc: &Location, path_and_query: &str) -> Result<Response<Incoming>, String> {
        let url = loc.url(path_and_query);
        let go_err = |e: String| format!("Get {url:?}: {e}");
        let io = self.connect(loc).await.map_err(go_err)?;
        let req = Request::get(path_and_query)
            .header(http::header::HOST, egress::join_host_port(&loc.host, loc.port))
            .body(Full::default())
            .map_err(|e| e.to_string())?;
        self.send(io, req).await.map_err(go_err)
    }
}

/// A request body held in memory.
pub type Full = http_body_util::Full<Bytes>;

/// The node's address to dial, or upstream's `NoMatchError` text.
pub fn preferred_address(node: &Value, types: &[String]) -> Result<String, String> {
    let addresses = node["status"]["addresses"].as_array().cloned().unwrap_or_default();
    for t in types {
        if let Some(a) = addresses.iter().find(|a| a["type"].as_str() == Some(t.as_str())) {
            return Ok(a["address"].as_str().unwrap_or("").to_string());
        }
    }
    // Go's `%v` of `[]NodeAddress`: `[{InternalIP 10.0.0.1} {Hostname n1}]`.
    let known: Vec<String> = addresses
        .iter()
        .map(|a| format!("{{{} {}}}", a["type"].as_str().unwrap_or(""), a["address"].as_str().unwrap_or("")))
        .collect();
    Err(format!("no preferred addresses found; known addresses: [{}]", known.join(" ")))
}

/// The kubelet's port: what the node reports, else the default.
pub fn kubelet_port(node: &Value, default: u16) -> u16 {
    node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn the_first_preferred_type_wins() {
        let node = json!({"status": {"addresses": [
            {"type": "InternalIP", "address": "172.18.0.2"},
            {"type": "Hostname", "address": "node1"}
        ]}});
        let default = types("Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP");
        assert_eq!(preferred_address(&node, &default).unwrap(), "node1");
        assert_eq!(preferred_address(&node, &types("InternalIP,Hostname")).unwrap(), "172.18.0.2");
        assert_eq!(
            preferred_address(&node, &types("ExternalIP")).unwrap_err(),
            "no preferred addresses found; known addresses: [{InternalIP 172.18.0.2} {Hostname node1}]"
        );
        assert_eq!(
            preferred_address(&json!({"status": {}}), &default).unwrap_err(),
            "no preferred addresses found; known addresses: []"
        );
    }

    #[test]
    fn the_reported_port_else_the_flag() {
        let node = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10350}}}});
        assert_eq!(kubelet_port(&node, 10250), 10350);
        assert_eq!(
            kubelet_port(&json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}}}), 10250),
            10250
        );
        assert_eq!(kubelet_port(&json!({}), 10250), 10250);
    }
}
