//! `/logs/` (the node's `/var/log`, served as Go's `http.FileServer` serves a directory) and
//! `/checkpoint/<ns>/<pod>/<container>` (CRI `CheckpointContainer`, on by default in 1.33).

use super::{text, Body, Server};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Response, StatusCode};
use std::path::{Path, PathBuf};

/// Go's `path.Clean("/" + p)`: `.` and `..` resolved without leaving the root.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
}

fn full_bytes(b: Vec<u8>) -> Body {
    http_body_util::Full::new(Bytes::from(b)).map_err(|never| match never {}).boxed()
}

/// Serves `rest` (the path after `/logs/`, still percent-encoded) from `root`.
pub(super) async fn serve(root: &Path, rest: &str, had_slash: bool) -> Response<Body> {
    let decoded = percent_decode(rest);
    let rel = clean(&decoded);
    let path: PathBuf = root.join(rel.trim_start_matches('/'));
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return text(StatusCode::FORBIDDEN, "403 Forbidden\n")
        }
        Err(_) => return text(StatusCode::NOT_FOUND, "404 page not found\n"),
    };
    if meta.is_dir() {
        if !had_slash && rel != "/" {
            let base = rel.rsplit('/').next().unwrap_or("");
            return Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header("location", format!("{base}/"))
                .body(full_bytes(Vec::new()))
                .unwrap_or_default();
        }
        let mut names = Vec::new();
        let mut rd = match tokio::fs::read_dir(&path).await {
            Ok(r) => r,
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "Error reading directory\n"),
        };
        while let Ok(Some(e)) = rd.next_entry().await {
            let mut n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().await.is_ok_and(|t| t.is_dir()) {
                n.push('/');
            }
            names.push(n);
        }
        names.sort();
        let mut out = String::from("<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n");
        for n in names {
            let href: String = form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>().replace("%2F", "/");
            out.push_str(&format!("<a href=\"{}\">{}</a>\n", href.replace('+', "%20"), html_escape(&n)));
        }
        out.push_str("</pre>\n");
        return Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(full_bytes(out.into_bytes()))
            .unwrap_or_default();
    }
    match tokio::fs::read(&path).await {
        Ok(b) => {
            let ct = if std::str::from_utf8(&b[..b.len().min(512)]).is_ok() {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            Response::builder().header("content-type", ct).body(full_bytes(b)).unwrap_or_default()
        }
        Err(_) => text(StatusCode::FORBIDDEN, "403 Forbidden\n"),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Server {
    /// `POST /checkpoint/<ns>/<pod>/<container>[?timeout=N]`.
    pub(super) async fn checkpoint(&self, segs: &[&str], query: &[(String, String)]) -> Response<Body> {
        let [ns, name, container] = segs else { return text(StatusCode::NOT_FOUND, "404: Page Not Found") };
        let Some(p) = self.pods.pod_by_name(ns, name) else {
            return text(StatusCode::NOT_FOUND, "pod does not exist");
        };
        let spec = p.spec.clone().unwrap_or_default();
        let known = spec.containers.iter().any(|c| c.name == *container)
            || spec.init_containers.iter().flatten().any(|c| c.name == *container)
            || spec.ephemeral_containers.iter().flatten().any(|c| c.name == *container);
        if !known {
            return text(StatusCode::NOT_FOUND, format!("container {container} does not exist"));
        }
        let mut timeout = 0i64;
        if let Some((_, t)) = query.iter().rev().find(|(k, _)| k == "timeout") {
            match t.parse() {
                Ok(t) => timeout = t,
                Err(_) => return text(StatusCode::NOT_FOUND, "cannot parse value of timeout parameter"),
            }
        }
        let failed = |e: String| {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("checkpointing of {ns}/{name}/{container} failed ({e})"))
        };
        let uid = crate::pod::uid(&p).to_string();
        let id = match self.running_container(&uid, container).await {
            Ok(Some(id)) => id,
            Ok(None) => return failed(format!("container {container} not found")),
            Err(e) => return failed(e),
        };
        let full_name = crate::pod::full_name(&p);
        let stamp = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let dir = self.cfg.root_dir.join("checkpoints");
        let location = dir.join(format!("checkpoint-{full_name}-{container}-{stamp}.tar"));
        let _ = std::fs::create_dir_all(&dir);
        match self.cri.checkpoint_container(&id, &location.display().to_string(), timeout).await {
            Ok(()) => super::json_response(&serde_json::json!({"items": [location.display().to_string()]})),
            Err(s) => failed(format!("rpc error: code = {:?} desc = {}", s.code(), s.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        assert_eq!(clean("../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean("a/./b/../c/"), "/a/c");
        assert_eq!(clean(""), "/");
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%é%41"), "%éA");
    }

    #[tokio::test]
    async fn directories_are_listed_and_files_served() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("apt")).unwrap();
        std::fs::write(d.path().join("a<b>.log"), "hello\n").unwrap();
        let body = |r: Response<Body>| async move { r.into_body().collect().await.unwrap().to_bytes() };
        let r = serve(d.path(), "", true).await;
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let listing = body(r).await;
        assert_eq!(
            &listing[..],
            b"<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n<a href=\"a%3Cb%3E.log\">a&lt;b&gt;.log</a>\n<a href=\"apt/\">apt/</a>\n</pre>\n"
        );
        assert_eq!(&body(serve(d.path(), "a%3Cb%3E.log", false).await).await[..], b"hello\n");
        let r = serve(d.path(), "apt", false).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()["location"], "apt/");
        assert_eq!(serve(d.path(), "../../etc/passwd", false).await.status(), StatusCode::NOT_FOUND);
    }
}
