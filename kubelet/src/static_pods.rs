//! Static pods: manifests in `staticPodPath` (a directory or one file; dot files ignored,
//! subdirectories not followed) or at `staticPodURL`, re-read as they change. Each becomes a
//! pod of this node with upstream's treatment: named `<name>-<node>`, defaulted and validated,
//! a UID from the manifest's content, node and source, the `kubernetes.io/config.*`
//! annotations, and a toleration of every NoExecute taint. A manifest that cannot be used is
//! logged and skipped; the others keep running.

use api_types::kinds::{defaults, validation};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

pub const ANN_SOURCE: &str = "kubernetes.io/config.source";
pub const ANN_HASH: &str = "kubernetes.io/config.hash";
pub const ANN_SEEN: &str = "kubernetes.io/config.seen";
pub const ANN_MIRROR: &str = "kubernetes.io/config.mirror";

/// Manifests larger than this are refused, as upstream's 10 MB cap.
const MAX_MANIFEST: u64 = 10 * 1024 * 1024;

/// A pod from a static source, or why its manifest was refused.
pub fn pod_from_manifest(text: &str, node: &str, source: &str, origin: &str) -> Result<Pod, String> {
    let mut v: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("{e}: couldn't parse as pod, please check config file"))?;
    if v.get("kind").and_then(Value::as_str) != Some("Pod") {
        return Err(format!("{origin}: couldn't parse as pod(kind is not Pod), please check config file"));
    }
    let rd = api_types::lookup_kind("", "v1", "Pod").ok_or("no Pod kind")?;
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    if name.is_empty() {
        return Err("invalid pod: name is needed for the pod".into());
    }
    let m = v["metadata"].as_object_mut().ok_or("invalid pod: metadata")?;
    // The UID: the manifest as read, the node and the source, unless the manifest sets one.
    let uid = match m.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => {
            let mut h = Sha256::new();
            h.update(text.as_bytes());
            h.update(format!("host:{node}").as_bytes());
            h.update(format!("{source}:{origin}").as_bytes());
            let d = h.finalize();
            d.iter().take(16).map(|b| format!("{b:02x}")).collect()
        }
    };
    m.insert("uid".into(), json!(uid));
    m.insert("name".into(), json!(format!("{name}-{}", node.to_lowercase())));
    if m.get("namespace").and_then(Value::as_str).unwrap_or("").is_empty() {
        m.insert("namespace".into(), json!("default"));
    }
    let ann = m.entry("annotations").or_insert_with(|| json!({}));
    if !ann.is_object() {
        *ann = json!({});
    }
    ann[ANN_SOURCE] = json!(source);
    ann[ANN_HASH] = json!(uid);
    ann[ANN_SEEN] = json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_string());
    defaults::apply(rd, &mut v);
    v["spec"]["nodeName"] = json!(node);
    let tol = v["spec"].as_object_mut().ok_or("invalid pod: spec")?.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(list) = tol.as_array_mut() {
        list.push(json!({"operator": "Exists", "effect": "NoExecute"}));
    }
    let errs = validation::validate(rd, &v, None);
    if !errs.is_empty() {
        return Err(format!("invalid pod: {}", api_types::field::aggregate(&errs)));
    }
    v["status"] = json!({"phase": "Pending"});
    serde_json::from_value(v).map_err(|e| format!("invalid pod: {e}"))
}

/// The manifests of `path` (a file, or a directory's files but dot files), with what identifies
/// their content for change detection.
fn list(path: &Path) -> Vec<(PathBuf, (SystemTime, u64))> {
    let stamp = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => stamp(path).map(|s| vec![(path.to_path_buf(), s)]).unwrap_or_default(),
        Ok(m) if m.is_dir() => {
            let mut out: Vec<_> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter(|e| e.file_type().map(|t| t.is_file() || t.is_symlink()).unwrap_or(false))
                .filter_map(|e| stamp(&e.path()).map(|s| (e.path(), s)))
                .collect();
            out.sort();
            out
        }
        _ => Vec::new(),
    }
}

/// Reads every manifest under `path`: the pods, keyed by UID; refused manifests are logged.
pub fn read_dir(path: &Path, node: &str) -> BTreeMap<String, Pod> {
    let mut out = BTreeMap::new();
    for (file, (_, len)) in list(path) {
        if len > MAX_MANIFEST {
            tracing::error!(path = %file.display(), "Could not process manifest file: larger than 10MB");
            continue;
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(path = %file.display(), "Could not process manifest file: {e}");
                continue;
            }
        };
        match pod_from_manifest(&text, node, "file", &file.display().to_string()) {
            Ok(p) => {
                out.insert(p.metadata.uid.clone().unwrap_or_default(), p);
            }
            Err(e) => tracing::error!(path = %file.display(), "Could not process manifest file: {e}"),
        }
    }
    out
}

/// Watches the static sources and calls `update` with the full set of static pods whenever it
/// changes: the directory is checked every second for changed files (cheap: one listing) and
/// read in full every `file_check_frequency`, as upstream's periodic re-read; the URL is
/// fetched every `file_check_frequency`.
pub async fn run(
    path: Option<PathBuf>,
    url: Option<String>,
    node: String,
    file_check_frequency: Duration,
    update: impl Fn(BTreeMap<String, Pod>),
) {
    let mut last_listing = None;
    let mut last_full = Instant::now() - file_check_frequency;
    let mut last_pods: Option<BTreeMap<String, String>> = None;
    let mut url_pods: BTreeMap<String, Pod> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let listing = path.as_deref().map(list);
        let full = last_full.elapsed() >= file_check_frequency;
        if listing == last_listing && !full {
            continue;
        }
        if full {
            last_full = Instant::now();
            if let Some(u) = &url {
                url_pods = fetch_url(u, &node).await;
            }
        }
        last_listing = listing;
        let mut pods = path.as_deref().map(|p| read_dir(p, &node)).unwrap_or_default();
        pods.extend(url_pods.clone());
        // Compare by UID (content), not by the `seen` time, to report only real changes.
        let ids: BTreeMap<String, String> = pods.keys().map(|k| (k.clone(), String::new())).collect();
        if last_pods.as_ref() != Some(&ids) {
            last_pods = Some(ids);
            update(pods);
        }
    }
}

/// `--manifest-url`: a Pod or a PodList, fetched over HTTP.
async fn fetch_url(url: &str, node: &str) -> BTreeMap<String, Pod> {
    let mut out = BTreeMap::new();
    let body = match http_get(url).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(url, "Failed to read pods from URL: {e}");
            return out;
        }
    };
    let v: Value = match serde_saphyr::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(url, "Failed to read pods from URL: {e}");
            return out;
        }
    };
    let docs: Vec<Value> = if v.get("kind").and_then(Value::as_str) == Some("PodList") {
        v.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
    } else {
        vec![v]
    };
    for mut d in docs {
        if d.get("kind").is_none() {
            d["kind"] = json!("Pod");
            d["apiVersion"] = json!("v1");
        }
        let text = serde_json::to_string(&d).unwrap_or_default();
        match pod_from_manifest(&text, node, "http", url) {
            Ok(p) => {
                out.insert(p.metadata.uid.clone().unwrap_or_default(), p);
            }
            Err(e) => tracing::error!(url, "Could not process manifest: {e}"),
        }
    }
    out
}

/// A plain `http://` GET (static pod URLs are served locally).
async fn http_get(url: &str) -> Result<String, String> {
    use http_body_util::{BodyExt, Empty};
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// manifest URLs are supported".into());
    }
    let host = uri.host().ok_or("no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::time::timeout(Duration::from_secs(10), tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::get(uri.clone())
        .header(http::header::HOST, host)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), send.send_request(req))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url}: {}", resp.status()));
    }
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if body.len() as u64 > MAX_MANIFEST {
        return Err("larger than 10MB".into());
    }
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}

/// Whether an API pod is the mirror of a static pod (and of which: its hash).
pub fn mirror_of(p: &Pod) -> Option<&str> {
    p.metadata.annotations.as_ref()?.get(ANN_MIRROR).map(String::as_str)
}

/// Whether a pod came from a static source.
pub fn is_static(p: &Pod) -> bool {
    p.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SOURCE)).is_some_and(|s| s == "file" || s == "http")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\nspec:\n  containers:\n  - name: hello\n    image: nginx\n";

    #[test]
    fn a_manifest_becomes_a_node_pod() {
        let p = pod_from_manifest(HELLO, "node1", "file", "/etc/kubernetes/manifests/hello.yaml").unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("hello-node1"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        let ann = p.metadata.annotations.clone().unwrap();
        assert_eq!(ann[ANN_SOURCE], "file");
        assert_eq!(&ann[ANN_HASH], p.metadata.uid.as_ref().unwrap());
        assert_eq!(p.metadata.uid.as_ref().unwrap().len(), 32);
        let spec = p.spec.unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("node1"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("Always"));
        assert!(spec
            .tolerations
            .unwrap()
            .iter()
            .any(|t| t.operator.as_deref() == Some("Exists") && t.effect.as_deref() == Some("NoExecute")));
        // Same content, same UID; another node or file, another UID.
        let again = pod_from_manifest(HELLO, "node1", "file", "/etc/kubernetes/manifests/hello.yaml").unwrap();
        assert_eq!(again.metadata.uid, p.metadata.uid);
        let other = pod_from_manifest(HELLO, "node2", "file", "/etc/kubernetes/manifests/hello.yaml").unwrap();
        assert_ne!(other.metadata.uid, p.metadata.uid);
    }

    #[test]
    fn bad_manifests_are_refused_with_a_reason() {
        assert!(pod_from_manifest("kind: Pod\nmetadata: {}\nspec: {containers: []}", "n", "file", "f")
            .unwrap_err()
            .contains("name is needed"));
        assert!(pod_from_manifest("{not yaml", "n", "file", "f").is_err());
        let err = pod_from_manifest(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}",
            "n",
            "file",
            "f",
        )
        .unwrap_err();
        assert!(err.starts_with("invalid pod: "), "{err}");
        assert!(pod_from_manifest("apiVersion: v1\nkind: Service\nmetadata: {name: x}", "n", "file", "f").is_err());
    }

    #[test]
    fn dot_files_and_directories_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hello.yaml"), HELLO).unwrap();
        std::fs::write(d.path().join(".hidden.yaml"), HELLO.replace("hello", "hidden")).unwrap();
        std::fs::write(d.path().join("broken.yaml"), "kind: Pod\n: :").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/x.yaml"), HELLO.replace("hello", "sub")).unwrap();
        let pods = read_dir(d.path(), "n1");
        let names: Vec<_> = pods.values().map(|p| p.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["hello-n1"]);
    }
}
