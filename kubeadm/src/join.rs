//! `kubeadm join <endpoint> --token ... --discovery-token-ca-cert-hash sha256:...`: a worker node
//! joins by token (upstream's `discovery/token` and `cmd/phases/join/kubelet.go`).
//!
//! Discovery reads `kube-public/cluster-info` without trusting the server, checks the bootstrap
//! signer's JWS over it with the token, pins the CA inside by its public key, and reads it again
//! over TLS verified against that CA. The kubelet is then started with a bootstrap kubeconfig
//! (the token) and kubeadm waits for it to get its own client certificate (TLS bootstrap).

use crate::{api, config, init, kubelet, preflight, token, Error, InitFlags, Resolved};
use clap::Args;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::Api;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `kubeadm join`'s flags.
#[derive(Args, Debug, Default, Clone)]
pub struct JoinFlags {
    /// The control plane's endpoint (`host:port`).
    pub api_server_endpoint: Option<String>,
    /// Use this token for both discovery-token and tls-bootstrap-token when those values are not provided.
    #[arg(long)]
    pub token: Option<String>,
    /// For token-based discovery, the token used to validate cluster information fetched from the API server.
    #[arg(long)]
    pub discovery_token: Option<String>,
    /// Specify the token used to temporarily authenticate with the Kubernetes Control Plane while joining the node.
    #[arg(long)]
    pub tls_bootstrap_token: Option<String>,
    /// For token-based discovery, validate that the root CA public key matches this hash (format: "<type>:<value>").
    #[arg(long, value_delimiter = ',')]
    pub discovery_token_ca_cert_hash: Vec<String>,
    /// For token-based discovery, allow joining without --discovery-token-ca-cert-hash pinning.
    #[arg(long)]
    pub discovery_token_unsafe_skip_ca_verification: bool,
    /// Specify the node name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Path to the CRI socket to connect.
    #[arg(long)]
    pub cri_socket: Option<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A list of checks whose errors will be shown as warnings. Value 'all' ignores errors from all checks.
    #[arg(long, value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
    /// List of phases to be skipped
    #[arg(long, value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// Create a new control plane instance on this node
    #[arg(long)]
    pub control_plane: bool,
    /// Use this key to decrypt the certificate secrets uploaded by init.
    #[arg(long)]
    pub certificate_key: Option<String>,
    /// The path where the kubeconfig files are kept (upstream's /etc/kubernetes).
    #[arg(long, default_value = config::KUBERNETES_DIR, hide = true)]
    pub kubeconfig_dir: PathBuf,
}

/// What discovery yields: the cluster's server (from cluster-info, not the join argument) and
/// its CA.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub server: String,
    pub ca_pem: String,
}

/// Upstream's `pubkeypin.Set.Allow` checks on a `--discovery-token-ca-cert-hash` value.
pub fn parse_pin(v: &str) -> Result<String, String> {
    let parts: Vec<&str> = v.split(':').collect();
    if parts.len() != 2 {
        return Err("invalid hash, expected \"format:hex-value\". Known format(s) are: sha256".into());
    }
    if !parts[0].eq_ignore_ascii_case("sha256") {
        return Err(format!("unknown hash format {:?}. Known format(s) are: sha256", parts[0]));
    }
    if parts[1].len() / 2 != 32 {
        return Err(format!(
            "invalid hash {:?}, expected a 32 byte SHA-256 hash, found {} bytes",
            v,
            parts[1].len() / 2
        ));
    }
    if !parts[1].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("could not decode SHA-256 from hex".into());
    }
    Ok(format!("sha256:{}", parts[1].to_ascii_lowercase()))
}

/// A client for `https://<endpoint>` without credentials: trusting any server (`ca` None) or
/// only `ca`.
fn anonymous_client(server: &str, ca: Option<&str>) -> Result<kube::Client, String> {
    let url = server.parse().map_err(|e| format!("invalid endpoint {server:?}: {e}"))?;
    let mut cfg = kube::Config::new(url);
    cfg.read_timeout = Some(Duration::from_secs(10));
    cfg.connect_timeout = Some(Duration::from_secs(10));
    match ca {
        None => cfg.accept_invalid_certs = true,
        Some(pem) => cfg.root_cert = Some(pki::certs_der(pem.as_bytes()).map_err(|e| e.to_string())?),
    }
    kube::Client::try_from(cfg).map_err(|e| e.to_string())
}

/// `getClusterInfo`: polls cluster-info every 5 s until it carries a signature for `token_id`;
/// the last error on timeout.
async fn cluster_info(client: &kube::Client, token_id: &str, limit: Duration) -> Result<ConfigMap, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    let deadline = Instant::now() + limit;
    loop {
        let err = match api.get("cluster-info").await {
            Ok(cm) if cm.data.as_ref().is_some_and(|d| d.contains_key(&format!("jws-kubeconfig-{token_id}"))) => {
                return Ok(cm)
            }
            Ok(_) => format!("could not find a JWS signature in the cluster-info ConfigMap for token ID {token_id:?}"),
            Err(e) => {
                format!("failed to request the cluster-info ConfigMap: {}", component_base::client::api_message(&e))
            }
        };
        if Instant::now() + Duration::from_secs(5) > deadline {
            return Err(err);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The kubeconfig in cluster-info, once its signature checks out with the token.
fn validated_kubeconfig(cm: &ConfigMap, token_id: &str, secret: &str) -> Result<String, String> {
    let data = cm.data.clone().unwrap_or_default();
    let kc = data.get("kubeconfig").filter(|k| !k.is_empty()).ok_or(
        "there is no kubeconfig key in the cluster-info ConfigMap. This API Server isn't set up for token bootstrapping, can't connect",
    )?;
    let sig = data.get(&format!("jws-kubeconfig-{token_id}")).filter(|s| !s.is_empty()).ok_or_else(|| {
        format!("token id {token_id:?} is invalid for this cluster or it has expired. Use \"kubeadm token create\" on the control-plane node to create a new valid token")
    })?;
    if !pki::jws::detached_token_is_valid(sig, kc, token_id, secret) {
        return Err(
            "failed to verify JWS signature of received cluster info object, can't trust this API Server".into()
        );
    }
    Ok(kc.clone())
}

/// The server and CA of the (first) cluster of a cluster-info kubeconfig.
fn server_and_ca(kc: &str) -> Result<Discovered, String> {
    let v: serde_json::Value =
        serde_saphyr::from_str(kc).map_err(|_| "couldn't parse the kubeconfig file in the cluster-info ConfigMap")?;
    let cluster = &v["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().ok_or("malformed kubeconfig in the cluster-info ConfigMap")?;
    use base64::Engine;
    let ca = cluster["certificate-authority-data"]
        .as_str()
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d.trim()).ok())
        .ok_or("malformed kubeconfig in the cluster-info ConfigMap")?;
    Ok(Discovered { server: server.to_string(), ca_pem: String::from_utf8_lossy(&ca).into_owned() })
}

/// Token discovery (`RetrieveValidatedConfigInfo`), errors worded as upstream's.
pub async fn discover(endpoint: &str, tok: &str, pins: &[String], limit: Duration) -> Result<Discovered, Error> {
    let wrap = |e: String| Error::Invalid(format!("couldn't validate the identity of the API Server: {e}"));
    let (id, secret) = token::parse(tok)?;
    let insecure = anonymous_client(&format!("https://{endpoint}"), None).map_err(wrap)?;
    let cm = cluster_info(&insecure, &id, limit).await.map_err(wrap)?;
    let first = validated_kubeconfig(&cm, &id, &secret).map_err(wrap)?;
    let found = server_and_ca(&first).map_err(wrap)?;
    if pins.is_empty() {
        return Ok(found);
    }
    let actual = pki::public_key_pins(found.ca_pem.as_bytes()).map_err(|e| wrap(e.to_string()))?;
    if !actual.iter().any(|a| pins.contains(a)) {
        return Err(wrap(format!(
            "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys {:?} are pinned",
            actual.join(":")
        )));
    }
    // Read again, now trusting only the pinned CA: the content must be the same.
    let secure = anonymous_client(&format!("https://{endpoint}"), Some(&found.ca_pem)).map_err(wrap)?;
    let cm = cluster_info(&secure, &id, limit).await.map_err(wrap)?;
    let second = cm.data.unwrap_or_default().remove("kubeconfig").unwrap_or_default();
    if second != first {
        return Err(wrap(
            "the second kubeconfig from the cluster-info ConfigMap (using validated TLS) was different from the first"
                .into(),
        ));
    }
    Ok(found)
}

/// The kubelet's bootstrap kubeconfig: the discovered cluster, authenticated by the token.
pub fn bootstrap_kubeconfig(d: &Discovered, cluster_name: &str, tok: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(d.ca_pem.as_bytes());
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {}\n  name: {cluster_name}\ncontexts:\n- context:\n    cluster: {cluster_name}\n    user: tls-bootstrap-token-user\n  name: tls-bootstrap-token-user@{cluster_name}\ncurrent-context: tls-bootstrap-token-user@{cluster_name}\nkind: Config\npreferences: {{}}\nusers:\n- name: tls-bootstrap-token-user\n  user:\n    token: {tok}\n",
        d.server
    )
}

/// `kubeadm join` (a worker).
pub fn run(f: &JoinFlags) -> Result<(), Error> {
    if f.control_plane {
        return Err(Error::Invalid(
            "joining a control-plane node (--control-plane) is not supported yet: join as a worker".into(),
        ));
    }
    let docs = match &f.config {
        Some(p) => config::load(p)?,
        None => config::Documents::default(),
    };
    let jc = docs.join.unwrap_or_default();
    let bt = jc.discovery.bootstrap_token.clone().unwrap_or_default();
    let endpoint = f.api_server_endpoint.clone().unwrap_or(bt.api_server_endpoint.clone());
    if endpoint.is_empty() {
        return Err(Error::Invalid(
            "discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"\": using token-based discovery without an API server endpoint".into(),
        ));
    }
    let disc_token = f.discovery_token.clone().or(f.token.clone()).unwrap_or(bt.token.clone());
    let tls_token =
        f.tls_bootstrap_token.clone().or(f.token.clone()).unwrap_or(jc.discovery.tls_bootstrap_token.clone());
    if disc_token.is_empty() {
        return Err(Error::Invalid(
            "discovery.bootstrapToken.token: Invalid value: \"\": using token-based discovery without a token".into(),
        ));
    }
    let tls_token = if tls_token.is_empty() { disc_token.clone() } else { tls_token };
    let mut pins = Vec::new();
    for p in f.discovery_token_ca_cert_hash.iter().chain(&bt.ca_cert_hashes) {
        pins.push(
            parse_pin(p).map_err(|e| Error::Invalid(format!("invalid discovery token CA certificate hash: {e}")))?,
        );
    }
    if pins.is_empty() && !(f.discovery_token_unsafe_skip_ca_verification || bt.unsafe_skip_ca_verification) {
        return Err(Error::Invalid("discovery.bootstrapToken: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue".into()));
    }
    let mut nr = jc.node_registration.clone();
    if let Some(n) = &f.node_name {
        nr.name = n.clone();
    }
    if nr.name.is_empty() {
        nr.name = config::default_node_name();
    }
    if let Some(c) = &f.cri_socket {
        nr.cri_socket = c.clone();
    }
    let skips = init::Skips::new(f.skip_phases.iter().chain(&jc.skip_phases).cloned().collect());
    let timeout = |v: &Option<String>, d: u64| {
        v.as_deref().and_then(config::go_duration_secs).map(Duration::from_secs).unwrap_or(Duration::from_secs(d))
    };
    let dir = &f.kubeconfig_dir;
    let rt = crate::runtime()?;
    let phase = |name: &str| {
        let name = name.to_string();
        move |e: Error| Error::Phase(name.clone(), Box::new(e))
    };

    // preflight: the node's checks, then discovery and the cluster's configuration.
    let mut r = Resolved::from_flags(&InitFlags { kubeconfig_dir: dir.clone(), ..Default::default() })?;
    r.init.node_registration = nr.clone();
    // A worker gets no taints unless the configuration names some.
    r.init.node_registration.taints = Some(nr.taints.clone().unwrap_or_default());
    let (found, cluster_cfg) = rt
        .block_on(async {
            if !skips.phase("preflight") {
                println!("[preflight] Running pre-flight checks");
                let ignore: Vec<String> =
                    f.ignore_preflight_errors.iter().chain(&nr.ignore_preflight_errors).cloned().collect();
                let (errors, warnings) = preflight::Checks::join(dir, &r.cri_socket()).run();
                preflight::report(errors, warnings, &ignore)?;
            }
            let found = discover(&endpoint, &disc_token, &pins, timeout(&jc.timeouts.discovery, 300)).await?;
            println!("[preflight] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...");
            println!("[preflight] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.");
            let client = token_client(&found, &tls_token).await?;
            let cm = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
                .get("kubeadm-config")
                .await
                .map_err(|e| Error::Invalid(format!("unable to fetch the kubeadm-config ConfigMap: {}", component_base::client::api_message(&e))))?;
            let text = cm.data.unwrap_or_default().remove("ClusterConfiguration").unwrap_or_default();
            let cluster: config::ClusterConfiguration = serde_saphyr::from_str(&text)
                .map_err(|e| Error::Invalid(format!("unable to decode the ClusterConfiguration: {e}")))?;
            Ok::<_, Error>((found, cluster.defaulted()))
        })
        .map_err(phase("preflight"))?;
    r.cluster = cluster_cfg;

    if !skips.phase("kubelet-start") {
        let bootstrap = dir.join("bootstrap-kubelet.conf");
        let res = rt.block_on(kubelet_start(&r, &found, &tls_token, &bootstrap, &jc.ca_cert_path, &jc.timeouts));
        // Removed whether the phase succeeded or not, as upstream.
        let _ = std::fs::remove_file(&bootstrap);
        res.map_err(phase("kubelet-start"))?;
    }
    print!(
        "\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun 'kubectl get nodes' on the control-plane to see this node join the cluster.\n\n"
    );
    Ok(())
}

/// A client authenticated by the bootstrap token, trusting the discovered CA.
async fn token_client(d: &Discovered, tok: &str) -> Result<kube::Client, Error> {
    let dir = tempfile_dir()?;
    let path = dir.join("bootstrap.conf");
    pki::write_file(&path, &bootstrap_kubeconfig(d, "kubernetes", tok), 0o600)?;
    let client = api::client(&path).await;
    let _ = std::fs::remove_dir_all(&dir);
    client
}

fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("kubeadm-join-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(dir)
}

/// The `kubelet-start` phase of a join.
async fn kubelet_start(
    r: &Resolved,
    d: &Discovered,
    tok: &str,
    bootstrap: &Path,
    ca_cert_path: &str,
    t: &config::Timeouts,
) -> Result<(), Error> {
    pki::write_file(bootstrap, &bootstrap_kubeconfig(d, &r.cluster.cluster_name, tok), 0o600)
        .map_err(|e| Error::Invalid(format!("couldn't save bootstrap-kubelet.conf to disk: {e}")))?;
    let ca_path =
        if ca_cert_path.is_empty() { r.cluster.cert_dir().join("ca.crt") } else { PathBuf::from(ca_cert_path) };
    if !ca_path.exists() {
        pki::write_file(&ca_path, &d.ca_pem, 0o644)?;
    }
    let client = api::client(bootstrap).await?;
    let node = r.node_name();
    if let Ok(n) = Api::<Node>::all(client.clone()).get(node).await {
        let ready = n
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            return Err(Error::Invalid(format!("a Node with name {node:?} and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node")));
        }
    }
    kubelet::stop();
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "kube-system").get("kubelet-config").await.map_err(|e| {
        Error::Invalid(format!(
            "unable to fetch the kubelet-config ConfigMap: {}",
            component_base::client::api_message(&e)
        ))
    })?;
    let text = cm.data.unwrap_or_default().remove("kubelet").unwrap_or_default();
    let cfg: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| Error::Invalid(format!("unable to decode the kubelet configuration: {e}")))?;
    let kdir = Path::new(kubelet::KUBELET_DIR);
    kubelet::write_files(r, Some(&cfg), kdir, true)?;
    kubelet::start();
    let kubelet_cfg = kubelet::config(r, Some(&cfg))?;
    let limit = t.kubelet_health_check.as_deref().and_then(config::go_duration_secs).unwrap_or(240);
    init::wait_for_kubelet(&kubelet_cfg, Duration::from_secs(limit)).await?;
    println!("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap");
    let limit = t.tls_bootstrap.as_deref().and_then(config::go_duration_secs).unwrap_or(300);
    let kubeconfig = r.kubeconfig_dir.join("kubelet.conf");
    let deadline = Instant::now() + Duration::from_secs(limit);
    loop {
        if bootstrapped(&kubeconfig) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Invalid(format!(
                "\nUnfortunately, an error has occurred:\n\ttimed out waiting for the condition\n\nThis error is likely caused by:\n\t- The kubelet is not running\n\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)\n\nIf you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:\n\t- 'systemctl status kubelet'\n\t- 'journalctl -xeu kubelet'\n\ncould not find {}",
                kubeconfig.display()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The kubelet has written its kubeconfig and the client certificate file it names exists, as
/// upstream's `ClientSetFromFile` requires.
fn bootstrapped(kubeconfig: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(kubeconfig) else { return false };
    let Ok(v) = serde_saphyr::from_str::<serde_json::Value>(&text) else { return false };
    let user = &v["users"][0]["user"];
    match user["client-certificate"].as_str() {
        Some(f) => Path::new(f).exists(),
        None => user["client-certificate-data"].is_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_checked_as_upstream() {
        let hex = "ce0c61d8445d778303d26d1cbee4163d775627233b89dcc39d2cfffe698f2655";
        assert_eq!(parse_pin(&format!("SHA256:{}", hex.to_uppercase())).unwrap(), format!("sha256:{hex}"));
        assert!(parse_pin(hex).unwrap_err().starts_with("invalid hash, expected"));
        assert_eq!(
            parse_pin(&format!("md5:{hex}")).unwrap_err(),
            "unknown hash format \"md5\". Known format(s) are: sha256"
        );
        assert!(parse_pin("sha256:abcd").unwrap_err().contains("found 2 bytes"));
        assert_eq!(parse_pin(&format!("sha256:{}", "zz".repeat(32))).unwrap_err(), "could not decode SHA-256 from hex");
    }

    #[test]
    fn cluster_info_is_trusted_only_with_the_tokens_signature() {
        let kc = crate::api::cluster_info_kubeconfig(
            "https://10.0.0.1:6443",
            "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
        );
        let sig = pki::jws::compute_detached_signature(&kc, "abcdef", "0123456789abcdef").unwrap();
        let cm = |data: Vec<(&str, &str)>| ConfigMap {
            data: Some(data.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        };
        let good = cm(vec![("kubeconfig", &kc), ("jws-kubeconfig-abcdef", &sig)]);
        assert_eq!(validated_kubeconfig(&good, "abcdef", "0123456789abcdef").unwrap(), kc);
        let e = validated_kubeconfig(&good, "abcdef", "0123456789abcdeg").unwrap_err();
        assert_eq!(e, "failed to verify JWS signature of received cluster info object, can't trust this API Server");
        let e = validated_kubeconfig(&good, "zzzzzz", "0123456789abcdef").unwrap_err();
        assert!(e.starts_with("token id \"zzzzzz\" is invalid for this cluster or it has expired"), "{e}");
        let e = validated_kubeconfig(&cm(vec![]), "abcdef", "0123456789abcdef").unwrap_err();
        assert!(e.starts_with("there is no kubeconfig key in the cluster-info ConfigMap"), "{e}");
        let d = server_and_ca(&kc).unwrap();
        assert_eq!(d.server, "https://10.0.0.1:6443");
        assert!(d.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let b = bootstrap_kubeconfig(&d, "kubernetes", "abcdef.0123456789abcdef");
        assert!(b.contains("current-context: tls-bootstrap-token-user@kubernetes\n"), "{b}");
        assert!(b.contains("    token: abcdef.0123456789abcdef\n"), "{b}");
    }
}
