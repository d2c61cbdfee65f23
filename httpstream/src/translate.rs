//! kubectl's WebSocket protocols in front of kubelets that speak SPDY (upstream's
//! `StreamTranslatorHandler` and `TunnelingHandler`):
//!
//! - exec and attach over `v5.channel.k8s.io`: each message is `[channel][payload]`
//!   (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), `[255, channel]` closes a channel's
//!   input; the session is carried to the kubelet as a SPDY `v4.channel.k8s.io` session, and
//!   its result comes back as one Status on channel 3 before a normal close.
//! - port-forward over `SPDY/3.1+portforward.k8s.io`: the client's SPDY bytes ride in binary
//!   messages; they are passed to and from the kubelet's SPDY connection untouched.

use crate::spdy::{self, Frame, HeaderWriter};
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The WebSocket remote-command protocol with stream close.
pub const V5: &str = "v5.channel.k8s.io";
/// The prefix of port-forward's SPDY-over-WebSocket subprotocols.
pub const TUNNEL_PREFIX: &str = "SPDY/3.1+";
/// How long a stream may take to be accepted (upstream's `DefaultStreamCreationTimeout`).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds on what a client may send in one WebSocket message or frame.
const MAX_MESSAGE: usize = 16 << 20;
/// The most of the kubelet's error stream kept.
const MAX_STATUS: usize = 64 << 10;

/// Every subprotocol the client offers, in its order.
pub fn websocket_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A WebSocket upgrade request (`Upgrade: websocket` and `Connection: upgrade`).
pub fn is_websocket(headers: &HeaderMap) -> bool {
    crate::proxy::is_upgrade_request(headers)
        && headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Upstream's `IsWebSocketRequestWithStreamCloseProtocol`.
pub fn wants_v5(headers: &HeaderMap) -> bool {
    is_websocket(headers) && websocket_protocols(headers).iter().any(|p| p == V5)
}

/// The SPDY protocols inside the client's `SPDY/3.1+<protocol>` offers (upstream's
/// `IsWebSocketRequestWithTunnelingProtocol` holds when there is one).
pub fn tunnel_protocols(headers: &HeaderMap) -> Vec<String> {
    if !is_websocket(headers) {
        return Vec::new();
    }
    websocket_protocols(headers)
        .iter()
        .filter_map(|p| p.strip_prefix(TUNNEL_PREFIX))
        .filter(|p| p.ends_with(".k8s.io"))
        .map(str::to_string)
        .collect()
}

/// The `101 Switching Protocols` that accepts a WebSocket with `protocol`.
pub fn accept(headers: &HeaderMap, protocol: &str) -> Result<Response<Bytes>, String> {
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing".to_string())?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let protocol = HeaderValue::from_str(protocol).map_err(|e| e.to_string())?;
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(header::SEC_WEBSOCKET_PROTOCOL, protocol)
        .body(Bytes::new())
        .map_err(|e| e.to_string())
}

/// The server side of an accepted WebSocket, with bounded message sizes.
pub async fn server_socket<C>(io: C) -> WebSocketStream<C>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    // Small buffers: an idle session should cost little (kubectl's messages are at most
    // 32 KiB and each is flushed at once anyway).
    let cfg = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .read_buffer_size(16 << 10)
        .write_buffer_size(0);
    WebSocketStream::from_raw_socket(io, Role::Server, Some(cfg)).await
}

/// Why a SPDY upgrade did not happen.
#[derive(Debug)]
pub enum Refused {
    /// The backend answered with this (non-101) response.
    Response(Response<Bytes>),
    /// The request could not be made.
    Failed(String),
}

/// Asks the backend over `io` to upgrade `path_and_query` to SPDY/3.1 with `protocols`;
/// gives the upgraded connection and the protocol the backend chose.
pub async fn spdy_upgrade<IO>(
    io: IO,
    authority: &str,
    path_and_query: &str,
    protocols: &[&str],
) -> Result<(hyper::upgrade::Upgraded, String), Refused>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut req = Request::post(path_and_query)
        .header(header::HOST, authority)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header(header::CONTENT_LENGTH, "0");
    for p in protocols {
        req = req.header("X-Stream-Protocol-Version", *p);
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| Refused::Failed(e.to_string()))?;
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| Refused::Failed(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut resp = tx.send_request(req).await.map_err(|e| Refused::Failed(format!("error sending request: {e}")))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, 1 << 20).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(Refused::Response(Response::from_parts(parts, body)));
    }
    let chosen =
        resp.headers().get("X-Stream-Protocol-Version").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let up = hyper::upgrade::on(&mut resp).await.map_err(|e| Refused::Failed(e.to_string()))?;
    Ok((up, chosen))
}

// ------------------------------------------------------------------ statuses

/// `{"metadata":{},"status":"Success"}`, as Go marshals a metav1.Status.
pub fn success_status() -> String {
    r#"{"metadata":{},"status":"Success"}"#.to_string()
}

/// Upstream's `NewInternalError(err)` as the translator writes it.
pub fn internal_error_status(message: &str) -> String {
    json!({
        "metadata": {}, "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
    .to_string()
}

fn exit_status(code: u64) -> String {
    json!({
        "metadata": {}, "status": "Failure",
        "message": format!("command terminated with non-zero exit code: command terminated with exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
    .to_string()
}

/// What the translator reports for the kubelet's error stream (a v4 Status, or nothing for
/// success): an exit code as upstream's translator words it, other failures as internal
/// errors carrying the kubelet's message.
fn translate_status(kubelet: &[u8]) -> String {
    if kubelet.iter().all(u8::is_ascii_whitespace) {
        return success_status();
    }
    let Ok(s) = serde_json::from_slice::<serde_json::Value>(kubelet) else {
        return internal_error_status(String::from_utf8_lossy(kubelet).trim());
    };
    match s["status"].as_str() {
        Some("Success") => success_status(),
        Some("Failure") if s["reason"] == "NonZeroExitCode" => {
            let code = s["details"]["causes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["reason"] == "ExitCode")
                .and_then(|c| c["message"].as_str())
                .and_then(|m| m.parse::<u8>().ok());
            match code {
                Some(c) => exit_status(u64::from(c)),
                None => internal_error_status(s["message"].as_str().unwrap_or("")),
            }
        }
        Some("Failure") => internal_error_status(s["message"].as_str().unwrap_or("")),
        _ => internal_error_status("unknown error"),
    }
}

// ------------------------------------------------------------------ exec and attach

/// The streams a session carries (the apiserver's options).
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// A `v5.channel.k8s.io` session with the client, before the kubelet is reached.
pub struct V5Session<C> {
    ws: WebSocketStream<C>,
    streams: Streams,
}

impl<C: AsyncRead + AsyncWrite + Unpin> V5Session<C> {
    /// Starts the session: the empty message on the lowest channel the client reads
    /// ("connected"), as upstream writes it before contacting the kubelet.
    pub async fn start(io: C, streams: Streams) -> Option<V5Session<C>> {
        let mut ws = server_socket(io).await;
        let first = if streams.stdout {
            1
        } else if streams.stderr {
            2
        } else {
            3
        };
        ws.send(Message::Binary(Bytes::from(vec![first]))).await.ok()?;
        Some(V5Session { ws, streams })
    }

    /// Ends the session with `status` on the error channel and a normal close.
    pub async fn finish(mut self, status: String) {
        let mut msg = Vec::with_capacity(status.len() + 1);
        msg.push(3u8);
        msg.extend_from_slice(status.as_bytes());
        if self.ws.send(Message::Binary(Bytes::from(msg))).await.is_ok() {
            let _ = self.ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
        }
    }

    /// Carries the session over a SPDY connection already upgraded with
    /// `v4.channel.k8s.io`, then reports its result.
    pub async fn run<K>(mut self, kubelet: K)
    where
        K: AsyncRead + AsyncWrite + Unpin,
    {
        let status = match self.bridge(kubelet).await {
            Ok(status) => status,
            Err(e) => internal_error_status(&e),
        };
        self.finish(status).await;
    }

    async fn bridge<K>(&mut self, kubelet: K) -> Result<String, String>
    where
        K: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut kr, mut kw) = tokio::io::split(kubelet);
        let mut conn = SpdyClient {
            buf: BytesMut::with_capacity(64 << 10),
            out: BytesMut::new(),
            headers: HeaderWriter::default(),
        };
        let s = self.streams;
        let stderr = s.stderr && !s.tty;
        let mut ids = StreamIds::default();
        let mut next = 1u32;
        for (kind, wanted) in
            [("error", true), ("stdin", s.stdin), ("stdout", s.stdout), ("stderr", stderr), ("resize", s.tty)]
        {
            if !wanted {
                continue;
            }
            conn.open(&mut kr, &mut kw, next, kind).await?;
            ids.set(kind, next);
            next += 2;
        }
        let mut progress = Progress {
            status: Vec::new(),
            stdout_done: ids.stdout.is_none(),
            stderr_done: ids.stderr.is_none(),
            error_done: false,
        };
        let mut stdin_open = ids.stdin.is_some();
        let mut eof = false;
        loop {
            // What is buffered first: the kubelet may have sent everything, FINs included,
            // before this reads again (or before it closes).
            while let Some(f) = Frame::decode(&mut conn.buf).map_err(|e| e.to_string())? {
                self.kubelet_frame(&mut conn, &mut kw, &ids, &mut progress, f).await?;
            }
            if eof || (progress.error_done && progress.stdout_done && progress.stderr_done) {
                break;
            }
            tokio::select! {
                msg = self.ws.next() => match msg {
                    Some(Ok(Message::Binary(b))) => conn.client_message(&mut kw, &ids, &mut stdin_open, b).await?,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err("the client went away".into()),
                    Some(Ok(_)) => {}
                },
                r = kr.read_buf(&mut conn.buf) => eof = !matches!(r, Ok(n) if n > 0),
            }
        }
        let _ = conn.send(&mut kw, Frame::GoAway { last_good: 0, status: 0 }).await;
        Ok(translate_status(&progress.status))
    }

    /// One frame from the kubelet: output to the client's channels, the error stream kept
    /// for the status, pings answered, streams the kubelet opens refused.
    async fn kubelet_frame<W: AsyncWrite + Unpin>(
        &mut self,
        conn: &mut SpdyClient,
        kw: &mut W,
        ids: &StreamIds,
        p: &mut Progress,
        f: Frame,
    ) -> Result<(), String> {
        match f {
            Frame::Data { stream_id, flags, data } => {
                let fin = flags & spdy::FLAG_FIN != 0;
                let channel = if Some(stream_id) == ids.stdout {
                    p.stdout_done |= fin;
                    1
                } else if Some(stream_id) == ids.stderr {
                    p.stderr_done |= fin;
                    2
                } else {
                    if stream_id == ids.error {
                        p.error_done |= fin;
                        let room = MAX_STATUS.saturating_sub(p.status.len());
                        p.status.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    return Ok(());
                };
                if !data.is_empty() {
                    let mut m = Vec::with_capacity(data.len() + 1);
                    m.push(channel);
                    m.extend_from_slice(&data);
                    self.ws.send(Message::Binary(Bytes::from(m))).await.map_err(|e| e.to_string())?;
                }
            }
            Frame::RstStream { stream_id, .. } => {
                p.stdout_done |= Some(stream_id) == ids.stdout;
                p.stderr_done |= Some(stream_id) == ids.stderr;
                p.error_done |= stream_id == ids.error;
            }
            Frame::Ping { id } => conn.send(kw, Frame::Ping { id }).await?,
            Frame::SynStream { stream_id, .. } => {
                conn.send(kw, Frame::RstStream { stream_id, status: spdy::REFUSED_STREAM }).await?
            }
            Frame::GoAway { .. } => {
                p.error_done = true;
                p.stdout_done = true;
                p.stderr_done = true;
            }
            _ => {}
        }
        Ok(())
    }
}

/// How far the kubelet's side of a session has come.
struct Progress {
    status: Vec<u8>,
    stdout_done: bool,
    stderr_done: bool,
    error_done: bool,
}

#[derive(Default)]
struct StreamIds {
    error: u32,
    stdin: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<u32>,
}

impl StreamIds {
    fn set(&mut self, kind: &str, id: u32) {
        match kind {
            "error" => self.error = id,
            "stdin" => self.stdin = Some(id),
            "stdout" => self.stdout = Some(id),
            "stderr" => self.stderr = Some(id),
            _ => self.resize = Some(id),
        }
    }
}

/// The client end of a SPDY connection: frames out, and the read buffer.
struct SpdyClient {
    buf: BytesMut,
    out: BytesMut,
    headers: HeaderWriter,
}

impl SpdyClient {
    /// One v5 message from the client: stdin and resize data go to their streams, and
    /// `[255, 0]` closes stdin (an empty DATA with FIN).
    async fn client_message<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        ids: &StreamIds,
        stdin_open: &mut bool,
        b: Bytes,
    ) -> Result<(), String> {
        let Some(&channel) = b.first() else { return Ok(()) };
        let target = match channel {
            0 if *stdin_open => ids.stdin,
            4 => ids.resize,
            255 if b.len() != 2 => return Err("invalid close message".into()),
            255 if b[1] == 0 && *stdin_open => {
                *stdin_open = false;
                if let Some(id) = ids.stdin {
                    self.send(w, Frame::Data { stream_id: id, flags: spdy::FLAG_FIN, data: Bytes::new() }).await?;
                }
                None
            }
            _ => None,
        };
        match target {
            Some(id) => self.send(w, Frame::Data { stream_id: id, flags: 0, data: b.slice(1..) }).await,
            None => Ok(()),
        }
    }

    async fn send<W: AsyncWrite + Unpin>(&mut self, w: &mut W, f: Frame) -> Result<(), String> {
        self.out.clear();
        f.encode(&mut self.out);
        w.write_all(&self.out).await.map_err(|e| e.to_string())?;
        w.flush().await.map_err(|e| e.to_string())
    }

    /// Opens stream `id` of type `kind` and waits for the server's SYN_REPLY, as client-go
    /// does (one stream at a time).
    async fn open<R, W>(&mut self, r: &mut R, w: &mut W, id: u32, kind: &str) -> Result<(), String>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let block = self.headers.block(&[("streamtype", kind)]).map_err(|e| e.to_string())?;
        self.send(w, Frame::SynStream { stream_id: id, flags: 0, block }).await?;
        let wait = async {
            loop {
                while let Some(f) = Frame::decode(&mut self.buf).map_err(|e| e.to_string())? {
                    match f {
                        Frame::SynReply { stream_id, .. } if stream_id == id => return Ok(()),
                        Frame::RstStream { stream_id, .. } if stream_id == id => {
                            return Err(format!("the kubelet refused the {kind} stream"))
                        }
                        Frame::GoAway { .. } => return Err("the kubelet closed the connection".to_string()),
                        Frame::Ping { id } => self.send(w, Frame::Ping { id }).await?,
                        _ => {}
                    }
                }
                match r.read_buf(&mut self.buf).await {
                    Ok(n) if n > 0 => {}
                    _ => return Err("the kubelet closed the connection".to_string()),
                }
            }
        };
        match tokio::time::timeout(STREAM_CREATION_TIMEOUT, wait).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out creating the {kind} stream")),
        }
    }
}

// ------------------------------------------------------------------ port-forward tunnel

/// Passes the client's SPDY bytes (in binary messages) to the kubelet's SPDY connection and
/// back, until either side closes.
pub async fn tunnel<C, K>(client: C, kubelet: K)
where
    C: AsyncRead + AsyncWrite + Unpin,
    K: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = server_socket(client).await;
    let (mut kr, mut kw) = tokio::io::split(kubelet);
    let mut buf = vec![0u8; 32 << 10];
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if kw.write_all(&b).await.is_err() || kw.flush().await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(_))) | Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            r = kr.read(&mut buf) => match r {
                Ok(n) if n > 0 => {
                    if ws.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        break;
                    }
                }
                _ => break,
            },
        }
    }
    let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
    let _ = kw.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubelet that sends its last reply, the output and the status in one write and then
    /// hangs up: nothing of it is lost.
    #[tokio::test]
    async fn output_sent_with_the_last_reply_and_a_hang_up_arrives() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let (kubelet_io, mut fake) = tokio::io::duplex(1 << 16);
        let streams = Streams { stdin: false, stdout: true, stderr: true, tty: false };
        let session = tokio::spawn(async move {
            let s = V5Session::start(server_io, streams).await.expect("started");
            s.run(kubelet_io).await;
        });
        let kubelet = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            for id in [1u32, 3, 5] {
                let f = loop {
                    if let Some(f) = Frame::decode(&mut buf).unwrap() {
                        break f;
                    }
                    assert!(fake.read_buf(&mut buf).await.unwrap() > 0);
                };
                assert!(matches!(f, Frame::SynStream { stream_id, .. } if stream_id == id), "{f:?}");
                let mut out = BytesMut::new();
                Frame::SynReply { stream_id: id, flags: 0 }.encode(&mut out);
                if id == 5 {
                    Frame::Data { stream_id: 3, flags: spdy::FLAG_FIN, data: Bytes::from_static(b"web\n") }
                        .encode(&mut out);
                    Frame::Data { stream_id: 5, flags: spdy::FLAG_FIN, data: Bytes::new() }.encode(&mut out);
                    Frame::Data { stream_id: 1, flags: spdy::FLAG_FIN, data: Bytes::new() }.encode(&mut out);
                }
                fake.write_all(&out).await.unwrap();
            }
            drop(fake);
        });
        let mut ws = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(Bytes::from_static(&[1])));
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(Bytes::from_static(b"\x01web\n")));
        let Message::Binary(status) = ws.next().await.unwrap().unwrap() else { panic!("status") };
        assert_eq!(&status[1..], br#"{"metadata":{},"status":"Success"}"#);
        kubelet.await.unwrap();
        session.await.unwrap();
    }

    /// A message over the size bound ends the tunnel (no panic, nothing passed on).
    #[tokio::test]
    async fn oversized_messages_end_the_tunnel() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let (kubelet_io, mut fake) = tokio::io::duplex(1 << 16);
        let t = tokio::spawn(tunnel(server_io, kubelet_io));
        let mut ws = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        ws.send(Message::Binary(Bytes::from_static(b"SPDY"))).await.unwrap();
        let mut got = [0u8; 4];
        fake.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"SPDY");
        let _ = ws.send(Message::Binary(Bytes::from(vec![0u8; MAX_MESSAGE + 1]))).await;
        tokio::time::timeout(Duration::from_secs(10), t).await.expect("the tunnel ended").unwrap();
        let mut rest = Vec::new();
        fake.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "{} bytes passed on", rest.len());
    }

    #[test]
    fn protocols_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.append(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("v4.channel.k8s.io, v5.channel.k8s.io"));
        assert!(wants_v5(&h));
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"));
        assert!(!wants_v5(&h));
        assert_eq!(tunnel_protocols(&h), vec!["portforward.k8s.io"]);
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(tunnel_protocols(&h).is_empty());
    }

    #[test]
    fn kubelet_statuses_become_the_translators() {
        assert_eq!(translate_status(b""), r#"{"metadata":{},"status":"Success"}"#);
        let exit3 = br#"{"metadata":{},"status":"Failure","message":"error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        let s: serde_json::Value = serde_json::from_str(&translate_status(exit3)).unwrap();
        assert_eq!(s["message"], "command terminated with non-zero exit code: command terminated with exit code 3");
        assert_eq!(s["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
        let other = br#"{"metadata":{},"status":"Failure","message":"boom"}"#;
        let s: serde_json::Value = serde_json::from_str(&translate_status(other)).unwrap();
        assert_eq!((s["reason"].as_str(), s["code"].as_i64()), (Some("InternalError"), Some(500)));
        assert_eq!(s["message"], "Internal error occurred: boom");
    }

    /// A whole v5 session against a scripted SPDY server: streams opened in order, stdin
    /// passed on and closed, output and the exit status carried back.
    #[tokio::test]
    async fn a_v5_session_is_carried_over_spdy() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let (kubelet_io, mut fake) = tokio::io::duplex(1 << 16);
        let streams = Streams { stdin: true, stdout: true, stderr: true, tty: false };
        let session = tokio::spawn(async move {
            let s = V5Session::start(server_io, streams).await.expect("started");
            s.run(kubelet_io).await;
        });
        let kubelet = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let next_frame = async |buf: &mut BytesMut, fake: &mut tokio::io::DuplexStream| loop {
                if let Some(f) = Frame::decode(buf).unwrap() {
                    return f;
                }
                assert!(fake.read_buf(buf).await.unwrap() > 0, "the translator hung up");
            };
            let mut kinds = Vec::new();
            for _ in 0..4 {
                match next_frame(&mut buf, &mut fake).await {
                    Frame::SynStream { stream_id, .. } => {
                        kinds.push(stream_id);
                        let mut out = BytesMut::new();
                        Frame::SynReply { stream_id, flags: 0 }.encode(&mut out);
                        fake.write_all(&out).await.unwrap();
                    }
                    f => panic!("{f:?}"),
                }
            }
            assert_eq!(kinds, vec![1, 3, 5, 7]);
            assert_eq!(
                next_frame(&mut buf, &mut fake).await,
                Frame::Data { stream_id: 3, flags: 0, data: Bytes::from_static(b"hi\n") }
            );
            assert_eq!(
                next_frame(&mut buf, &mut fake).await,
                Frame::Data { stream_id: 3, flags: spdy::FLAG_FIN, data: Bytes::new() }
            );
            let mut out = BytesMut::new();
            Frame::Data { stream_id: 5, flags: spdy::FLAG_FIN, data: Bytes::from_static(b"hi\n") }.encode(&mut out);
            Frame::Data { stream_id: 7, flags: spdy::FLAG_FIN, data: Bytes::new() }.encode(&mut out);
            let status = br#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
            Frame::Data { stream_id: 1, flags: spdy::FLAG_FIN, data: Bytes::from_static(status) }.encode(&mut out);
            fake.write_all(&out).await.unwrap();
        });
        let mut ws = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(Bytes::from_static(&[1])));
        ws.send(Message::Binary(Bytes::from_static(b"\x00hi\n"))).await.unwrap();
        ws.send(Message::Binary(Bytes::from_static(&[255, 0]))).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(Bytes::from_static(b"\x01hi\n")));
        let Message::Binary(status) = ws.next().await.unwrap().unwrap() else { panic!("status") };
        assert_eq!(status[0], 3);
        let s: serde_json::Value = serde_json::from_slice(&status[1..]).unwrap();
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(f)))) if f.code == CloseCode::Normal));
        kubelet.await.unwrap();
        session.await.unwrap();
    }
}
