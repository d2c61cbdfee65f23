//! `/exec`, `/attach` and `/portForward`: the runtime's streaming server does the protocol
//! work (SPDY and WebSocket channels); the kubelet asks CRI for a one-time URL and proxies the
//! client's upgrade to it (upstream's `proxyStream`).

use super::{query_last, text, Body, Server};
use crate::cri::api;
use crate::pod;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Request, Response, StatusCode};

/// The stream flags as the kubelet reads them (`remotecommand.NewOptions`): only `1` is true;
/// stderr is dropped with a TTY.
struct StreamOptions {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

fn stream_options(q: &[(String, String)]) -> Result<StreamOptions, String> {
    let on = |k: &str| query_last(q, k) == Some("1");
    let tty = on("tty");
    let o = StreamOptions { stdin: on("input"), stdout: on("output"), stderr: on("error") && !tty, tty };
    if !o.stdin && !o.stdout && !o.stderr {
        return Err("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    Ok(o)
}

/// `portforward.NewV4Options`: ports come from the query only for WebSocket clients (SPDY
/// clients name them per stream).
fn forward_ports(q: &[(String, String)], websocket: bool) -> Result<Vec<i32>, String> {
    if !websocket {
        return Ok(Vec::new());
    }
    let values: Vec<&str> = q.iter().filter(|(k, _)| k == "port").map(|(_, v)| v.as_str()).collect();
    if values.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    let mut ports = Vec::new();
    for v in values {
        if v.is_empty() {
            return Err("query parameter \"port\" cannot be empty".into());
        }
        for p in v.split(',') {
            let port: u16 = p.parse().map_err(|_| format!("unable to parse {v:?} as a port: invalid syntax"))?;
            if port < 1 {
                return Err(format!("port {v:?} must be > 0"));
            }
            ports.push(i32::from(port));
        }
    }
    Ok(ports)
}

fn is_websocket(req: &Request<hyper::body::Incoming>) -> bool {
    req.headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `streaming.WriteError`: the runtime's error with NotFound as 404.
fn runtime_error(s: &tonic::Status) -> Response<Body> {
    let code = match s.code() {
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(code, format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))
}

impl Server {
    /// `/exec|attach/<ns>/<pod>[/<uid>]/<container>`.
    pub(super) async fn exec_or_attach(
        &self,
        exec: bool,
        segs: &[&str],
        req: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        if segs.len() != 3 && segs.len() != 4 {
            return text(StatusCode::NOT_FOUND, "404: Page Not Found");
        }
        let (ns, name, container) = (segs[0], segs[1], segs[segs.len() - 1]);
        let q = super::query(&req);
        let opts = match stream_options(&q) {
            Ok(o) => o,
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        };
        let Some(p) = self.pods.pod_by_name(ns, name) else {
            return text(StatusCode::NOT_FOUND, "pod does not exist");
        };
        let uid = if segs.len() == 4 { segs[2].to_string() } else { pod::uid(&p).to_string() };
        let id = match self.running_container(&uid, container).await {
            Ok(Some(id)) => id,
            Ok(None) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("container not found ({container:?})")),
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
        };
        let url = if exec {
            let cmd: Vec<String> = q.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
            self.cri
                .get_exec(api::ExecRequest {
                    container_id: id,
                    cmd,
                    tty: opts.tty,
                    stdin: opts.stdin,
                    stdout: opts.stdout,
                    stderr: opts.stderr,
                })
                .await
        } else {
            self.cri
                .get_attach(api::AttachRequest {
                    container_id: id,
                    stdin: opts.stdin,
                    tty: opts.tty,
                    stdout: opts.stdout,
                    stderr: opts.stderr,
                })
                .await
        };
        match url {
            Ok(url) => proxy_stream(req, &url).await,
            Err(s) => runtime_error(&s),
        }
    }

    /// `/portForward/<ns>/<pod>[/<uid>]`.
    pub(super) async fn port_forward(&self, segs: &[&str], req: Request<hyper::body::Incoming>) -> Response<Body> {
        if segs.len() != 2 && segs.len() != 3 {
            return text(StatusCode::NOT_FOUND, "404: Page Not Found");
        }
        let (ns, name) = (segs[0], segs[1]);
        let ports = match forward_ports(&super::query(&req), is_websocket(&req)) {
            Ok(p) => p,
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        };
        let Some(p) = self.pods.pod_by_name(ns, name) else {
            return text(StatusCode::NOT_FOUND, "pod does not exist");
        };
        let uid = pod::uid(&p).to_string();
        if segs.len() == 3 && segs[2] != uid {
            return text(StatusCode::NOT_FOUND, "pod not found");
        }
        let sandboxes = match self.cri.list_sandboxes().await {
            Ok(s) => s,
            Err(s) => return runtime_error(&s),
        };
        let sandbox = sandboxes
            .iter()
            .filter(|s| s.state == api::PodSandboxState::SandboxReady as i32)
            .filter(|s| s.metadata.as_ref().is_some_and(|m| m.uid == uid))
            .max_by_key(|s| s.created_at);
        let Some(sandbox) = sandbox else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, format!("pod not found (\"{name}_{ns}\")"));
        };
        match self.cri.get_port_forward(&sandbox.id, ports).await {
            Ok(url) => proxy_stream(req, &url).await,
            Err(s) => runtime_error(&s),
        }
    }
}

/// Proxies the client's upgrade to the runtime's streaming URL (`http://host:port/path`).
async fn proxy_stream(mut req: Request<hyper::body::Incoming>, url: &str) -> Response<Body> {
    let fail = |e: String| text(StatusCode::INTERNAL_SERVER_ERROR, e);
    if !httpstream::proxy::is_upgrade_request(req.headers()) {
        return fail("Upgrade request required".into());
    }
    let Ok(uri) = url.parse::<http::Uri>() else { return fail(format!("invalid streaming URL {url:?}")) };
    let Some(authority) = uri.authority().map(|a| a.to_string()) else {
        return fail(format!("invalid streaming URL {url:?}"));
    };
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let io = match tokio::net::TcpStream::connect(&authority).await {
        Ok(s) => s,
        Err(e) => return fail(format!("error dialing backend: dial tcp {authority}: {e}")),
    };
    let _ = io.set_nodelay(true);
    let on_upgrade = hyper::upgrade::on(&mut req);
    match httpstream::proxy::upgrade(req.method().clone(), req.headers(), &authority, &path, &[], io, on_upgrade).await
    {
        Ok(resp) => resp.map(|b: Bytes| http_body_util::Full::new(b).map_err(|never| match never {}).boxed()),
        Err(e) => fail(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        super::super::decode_pairs(s)
    }

    #[test]
    fn stream_flags_as_the_kubelet_reads_them() {
        let o = stream_options(&q("input=1&output=1&error=1&tty=1")).unwrap();
        assert!(o.stdin && o.stdout && o.tty && !o.stderr);
        assert_eq!(
            stream_options(&q("output=true")).err().unwrap(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
    }

    #[test]
    fn websocket_port_forwards_name_their_ports() {
        assert_eq!(forward_ports(&q(""), false).unwrap(), Vec::<i32>::new());
        assert_eq!(forward_ports(&q("port=80%2C443&port=8080"), true).unwrap(), vec![80, 443, 8080]);
        assert_eq!(forward_ports(&q(""), true).err().unwrap(), "query parameter \"port\" is required");
        assert_eq!(forward_ports(&q("port=0"), true).err().unwrap(), "port \"0\" must be > 0");
        assert!(forward_ports(&q("port=http"), true).err().unwrap().starts_with("unable to parse \"http\""));
    }
}
