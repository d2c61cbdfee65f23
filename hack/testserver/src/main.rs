//! The server inside the project's test images (`hack/build-images.sh`), so that probe and
//! Service tests have a real HTTP backend without the internet:
//!
//! - `httpenv` (as `jpetazzo/httpenv`): every request answers the process environment as a
//!   JSON object, on port 8888.
//! - `agnhost netexec [--http-port=8080]` (a subset of upstream's test image): `/` the time,
//!   `/hostname`, `/echo?msg=`, `/clientip`, `/healthz`, `/header?key=`, `/shell?cmd=`,
//!   `/exit?code=`; and on UDP (`--udp-port`, 8081) the datagrams `hostname`, `echo MSG` and
//!   `clientip`.
//! - `agnhost serve-hostname [--port=9376]`: the hostname on every path.
//! - `connect-proxy --socket PATH`: an HTTP CONNECT proxy on a unix socket, for the e2e
//!   apiserver's egress selector (it runs in the test switch's network namespace, where the
//!   nodes are reachable and the machine's own namespace is not touched).
//!
//! The mode comes from the name it runs as (`httpenv`, `agnhost`) or the first argument.
//! Plain threads and std's TCP: a test backend needs no runtime.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Httpenv,
    Netexec,
    ServeHostname,
}

/// A parsed request: method, path, query parameters and headers (lowercased names).
struct Request {
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Some(Request { path: path.to_string(), query, headers })
}

fn respond(mut stream: &TcpStream, code: u16, content_type: &str, body: &str) {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn handle(mode: Mode, stream: TcpStream) {
    let Some(req) = read_request(&stream) else { return };
    // An IPv4 client of the dual-stack listener prints as IPv4, as Go's net does.
    let peer = stream
        .peer_addr()
        .map(|a| match a {
            std::net::SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(ip) => std::net::SocketAddr::from((ip, v6.port())).to_string(),
                None => a.to_string(),
            },
            v4 => v4.to_string(),
        })
        .unwrap_or_default();
    let text = "text/plain; charset=utf-8";
    match mode {
        Mode::Httpenv => {
            let env: BTreeMap<String, String> = std::env::vars().collect();
            respond(&stream, 200, "application/json", &serde_json::to_string(&env).unwrap_or_default());
        }
        Mode::ServeHostname => respond(&stream, 200, text, &hostname()),
        Mode::Netexec => match req.path.as_str() {
            "/" => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                respond(&stream, 200, text, &format!("NOW: {}", now.as_secs()));
            }
            "/hostname" => respond(&stream, 200, text, &hostname()),
            "/echo" => respond(&stream, 200, text, req.query.get("msg").map(String::as_str).unwrap_or("")),
            "/clientip" => respond(&stream, 200, text, &peer),
            "/healthz" => respond(&stream, 200, text, "ok"),
            "/header" => {
                let key = req.query.get("key").map(|k| k.to_ascii_lowercase()).unwrap_or_default();
                respond(&stream, 200, text, req.headers.get(&key).map(String::as_str).unwrap_or(""));
            }
            "/shell" => {
                let cmd = req.query.get("cmd").cloned().unwrap_or_default();
                let (output, error) = match std::process::Command::new("/bin/sh").arg("-c").arg(&cmd).output() {
                    Ok(o) if o.status.success() => (String::from_utf8_lossy(&o.stdout).to_string(), String::new()),
                    Ok(o) => (
                        String::from_utf8_lossy(&o.stdout).to_string(),
                        format!("exit status {}", o.status.code().unwrap_or(-1)),
                    ),
                    Err(e) => (String::new(), e.to_string()),
                };
                let body = serde_json::json!({"output": output, "error": error});
                respond(&stream, 200, "application/json", &body.to_string());
            }
            "/exit" => {
                let code: i32 = req.query.get("code").and_then(|c| c.parse().ok()).unwrap_or(0);
                respond(&stream, 200, text, "");
                std::process::exit(code);
            }
            _ => respond(&stream, 404, text, "404 page not found\n"),
        },
    }
}

/// `--name=value` or `--name value` from the arguments.
fn flag(args: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            return Some(v.to_string());
        }
        if *a == long {
            return it.next().cloned();
        }
    }
    None
}

/// Serves one CONNECT: the request head is read a byte at a time (nothing past it), the
/// target dialed, and bytes copied both ways, each direction's end passed on as a half close.
fn tunnel(mut client: std::os::unix::net::UnixStream) {
    use std::io::Read;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || !matches!(client.read(&mut b), Ok(1)) {
            return;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut words = head.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
        return;
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(target).ok().and_then(|mut a| a.next());
    let upstream = addr.and_then(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(10)).ok());
    let Some(upstream) = upstream else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    let _ = upstream.set_nodelay(true);
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
        return;
    }
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else { return };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let mut upstream = upstream;
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

fn connect_proxy(args: &[String]) -> ! {
    let Some(socket) = flag(args, "socket") else {
        eprintln!("connect-proxy needs --socket PATH");
        std::process::exit(2);
    };
    let _ = std::fs::remove_file(&socket);
    let listener = match std::os::unix::net::UnixListener::bind(&socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("listen on {socket}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("Proxying CONNECT requests on {socket}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || tunnel(stream));
    }
    std::process::exit(0);
}

/// netexec's UDP server: each datagram is a command, answered to its sender.
fn udp_echo(port: u16) {
    let sock = match std::net::UdpSocket::bind(("0.0.0.0", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("listen on udp port {port}: {e}");
            return;
        }
    };
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        let cmd = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        let reply = match cmd.split_once(' ') {
            Some(("echo", msg)) => msg.to_string(),
            _ if cmd == "hostname" => hostname(),
            _ if cmd == "clientip" => from.to_string(),
            _ => format!("unknown command {cmd:?}"),
        };
        let _ = sock.send_to(reply.as_bytes(), from);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args.first().map(|a| a.rsplit('/').next().unwrap_or(a).to_string()).unwrap_or_default();
    let rest: Vec<String> = args.iter().skip(1).cloned().collect();
    let sub = if prog == "httpenv" { "httpenv" } else { rest.first().map(String::as_str).unwrap_or("httpenv") };
    if sub == "connect-proxy" {
        connect_proxy(&rest);
    }
    let (mode, default_port, port_flag) = match sub {
        "httpenv" => (Mode::Httpenv, 8888, "port"),
        "netexec" => (Mode::Netexec, 8080, "http-port"),
        "serve-hostname" => (Mode::ServeHostname, 9376, "port"),
        other => {
            eprintln!("unknown command {other:?}: use httpenv, netexec, serve-hostname or connect-proxy");
            std::process::exit(2);
        }
    };
    let port: u16 = match flag(&rest, port_flag).map(|p| p.parse()) {
        None => default_port,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            eprintln!("invalid --{port_flag}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(("::", port)).or_else(|_| TcpListener::bind(("0.0.0.0", port))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    if mode == Mode::Netexec {
        let udp: i32 = flag(&rest, "udp-port").and_then(|p| p.parse().ok()).unwrap_or(8081);
        if let Ok(port) = u16::try_from(udp) {
            std::thread::spawn(move || udp_echo(port));
        }
    }
    eprintln!("Serving on port {port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || handle(mode, stream));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn flags_take_both_forms() {
        let args: Vec<String> = ["netexec", "--http-port=81", "--port", "82"].iter().map(|s| s.to_string()).collect();
        assert_eq!(flag(&args, "http-port").as_deref(), Some("81"));
        assert_eq!(flag(&args, "port").as_deref(), Some("82"));
        assert_eq!(flag(&args, "other"), None);
    }
}
