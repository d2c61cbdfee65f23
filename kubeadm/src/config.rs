//! kubeadm's configuration API, `kubeadm.k8s.io/v1beta4`: the InitConfiguration,
//! ClusterConfiguration and JoinConfiguration documents of `--config`, with upstream's defaults
//! (`apis/kubeadm/v1beta4/defaults.go`). Command-line flags override what the file says.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";
pub const DEFAULT_CERT_DIR: &str = "/etc/kubernetes/pki";
pub const KUBERNETES_DIR: &str = "/etc/kubernetes";
pub const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";

/// A `name`/`value` pair: v1beta4's form of extra arguments and environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Arg {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiEndpoint {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Taint {
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub effect: String,
}

/// `key[=value]:Effect`, as upstream's `Taint.ToString` (and `--register-with-taints`).
impl std::fmt::Display for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeRegistration {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cri_socket: String,
    /// `None`: kubeadm's default (the control-plane taint on control-plane nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubelet_extra_args: Vec<Arg>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_preflight_errors: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_pull_policy: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BootstrapToken {
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ttl: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires: String,
    pub usages: Vec<String>,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Timeouts {
    pub control_plane_component_health_check: Option<String>,
    pub kubelet_health_check: Option<String>,
    #[serde(rename = "kubernetesAPICall")]
    pub kubernetes_api_call: Option<String>,
    #[serde(rename = "etcdAPICall")]
    pub etcd_api_call: Option<String>,
    pub tls_bootstrap: Option<String>,
    pub discovery: Option<String>,
}

/// The InitConfiguration document.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InitConfiguration {
    pub bootstrap_tokens: Vec<BootstrapToken>,
    pub node_registration: NodeRegistration,
    #[serde(rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate_key: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip_phases: Vec<String>,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostPathMount {
    pub name: String,
    pub host_path: String,
    pub mount_path: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_type: String,
}

/// apiServer, controllerManager and scheduler: what kubeadm adds to their static pods.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ControlPlaneComponent {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_volumes: Vec<HostPathMount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_envs: Vec<Arg>,
    #[serde(rename = "certSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalEtcd {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_repository: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_tag: String,
    pub data_dir: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<Arg>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_envs: Vec<Arg>,
    #[serde(rename = "serverCertSANs", skip_serializing_if = "Vec::is_empty")]
    pub server_cert_sans: Vec<String>,
    #[serde(rename = "peerCertSANs", skip_serializing_if = "Vec::is_empty")]
    pub peer_cert_sans: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExternalEtcd {
    pub endpoints: Vec<String>,
    #[serde(rename = "caFile")]
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Etcd {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalEtcd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalEtcd>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Networking {
    pub dns_domain: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_subnet: String,
    pub service_subnet: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Addon {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// The ClusterConfiguration document (also stored in the `kubeadm-config` ConfigMap). Fields
/// in key order: upstream writes the document with sorted keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterConfiguration {
    pub api_server: ControlPlaneComponent,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    pub ca_certificate_validity_period: String,
    pub certificate_validity_period: String,
    pub certificates_dir: String,
    pub cluster_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub control_plane_endpoint: String,
    pub controller_manager: ControlPlaneComponent,
    pub dns: Addon,
    pub encryption_algorithm: String,
    pub etcd: Etcd,
    pub image_repository: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub kubernetes_version: String,
    pub networking: Networking,
    pub proxy: Addon,
    pub scheduler: ControlPlaneComponent,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BootstrapTokenDiscovery {
    pub token: String,
    #[serde(rename = "apiServerEndpoint")]
    pub api_server_endpoint: String,
    pub ca_cert_hashes: Vec<String>,
    #[serde(rename = "unsafeSkipCAVerification")]
    pub unsafe_skip_ca_verification: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Discovery {
    pub bootstrap_token: Option<BootstrapTokenDiscovery>,
    pub tls_bootstrap_token: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JoinControlPlane {
    #[serde(rename = "localAPIEndpoint")]
    pub local_api_endpoint: ApiEndpoint,
    pub certificate_key: String,
}

/// The JoinConfiguration document.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JoinConfiguration {
    pub node_registration: NodeRegistration,
    #[serde(rename = "caCertPath")]
    pub ca_cert_path: String,
    pub discovery: Discovery,
    pub control_plane: Option<JoinControlPlane>,
    pub skip_phases: Vec<String>,
    pub timeouts: Timeouts,
}

/// Every document of a `--config` file kubeadm reads; other kinds (KubeletConfiguration,
/// KubeProxyConfiguration) are kept as they are for the components.
#[derive(Debug, Default)]
pub struct Documents {
    pub init: Option<InitConfiguration>,
    pub cluster: Option<ClusterConfiguration>,
    pub join: Option<JoinConfiguration>,
    pub kubelet: Option<serde_json::Value>,
    pub kube_proxy: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// Reads a `--config` file: YAML documents separated by `---`.
pub fn load(path: &Path) -> Result<Documents, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
    parse(&text).map_err(|e| Error::Config(name, e))
}

pub fn parse(text: &str) -> Result<Documents, String> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    let mut out = Documents::default();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        let tm: TypeMeta = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
        let group = tm.api_version.split('/').next().unwrap_or_default();
        match (group, tm.kind.as_str()) {
            ("kubeadm.k8s.io", kind) if tm.api_version != API_VERSION => {
                return Err(format!(
                    "no kind {kind:?} is registered for version {:?} in scheme \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\"",
                    tm.api_version
                ));
            }
            ("kubeadm.k8s.io", "InitConfiguration") => out.init = Some(from(doc)?),
            ("kubeadm.k8s.io", "ClusterConfiguration") => out.cluster = Some(from(doc)?),
            ("kubeadm.k8s.io", "JoinConfiguration") => out.join = Some(from(doc)?),
            ("kubelet.config.k8s.io", "KubeletConfiguration") => out.kubelet = Some(doc),
            ("kubeproxy.config.k8s.io", "KubeProxyConfiguration") => out.kube_proxy = Some(doc),
            (_, kind) => {
                // Upstream warns and goes on.
                eprintln!(
                    "W: [config] WARNING: Ignored configuration document with GroupVersionKind {}, Kind={kind}",
                    tm.api_version
                );
            }
        }
    }
    Ok(out)
}

fn from<T: serde::de::DeserializeOwned>(doc: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| e.to_string())
}

/// This build's Kubernetes version: the version of the API it serves.
pub const KUBERNETES_VERSION: &str = concat!("v", "1.33.0");

impl ClusterConfiguration {
    /// Fills in what the document left empty, as `SetDefaults_ClusterConfiguration` does.
    pub fn defaulted(mut self) -> Self {
        let d = |s: &mut String, v: &str| {
            if s.is_empty() {
                *s = v.to_string();
            }
        };
        self.api_version = API_VERSION.into();
        self.kind = "ClusterConfiguration".into();
        d(&mut self.ca_certificate_validity_period, "87600h0m0s");
        d(&mut self.certificate_validity_period, "8760h0m0s");
        d(&mut self.certificates_dir, DEFAULT_CERT_DIR);
        d(&mut self.cluster_name, "kubernetes");
        d(&mut self.encryption_algorithm, "RSA-2048");
        d(&mut self.image_repository, "registry.k8s.io");
        d(&mut self.kubernetes_version, KUBERNETES_VERSION);
        d(&mut self.networking.service_subnet, "10.96.0.0/12");
        d(&mut self.networking.dns_domain, "cluster.local");
        if self.etcd.external.is_none() {
            let local = self.etcd.local.get_or_insert_with(LocalEtcd::default);
            d(&mut local.data_dir, "/var/lib/etcd");
        }
        self
    }

    pub fn cert_dir(&self) -> PathBuf {
        PathBuf::from(&self.certificates_dir)
    }

    pub fn local_etcd(&self) -> bool {
        self.etcd.external.is_none()
    }
}

/// The node's name when none is given: the host name, lowercased (as kubeadm and the kubelet).
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_lowercase()).unwrap_or_default()
}

/// The address to advertise when none is given: the source address of the default route's
/// interface, as upstream's `ChooseHostInterface`; loopback when there is no default route.
pub fn default_advertise_address() -> IpAddr {
    // A UDP "connection" picks the route's source address without sending anything.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("203.0.113.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// A Go duration (`8760h0m0s`, `24h`, `90m`) in seconds.
pub fn go_duration_secs(s: &str) -> Option<u64> {
    let (mut total, mut num) = (0f64, String::new());
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return None;
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('h', _) => 3600.0,
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
    }
    (num.is_empty() || s == "0").then_some(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_by_kind_and_defaulted() {
        let docs = parse(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.1, bindPort: 7443}\nnodeRegistration:\n  name: node-1\n  kubeletExtraArgs:\n  - {name: v, value: \"2\"}\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: {podSubnet: 10.244.0.0/16}\napiServer:\n  certSANs: [api.example.com]\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
        )
        .unwrap();
        let init = docs.init.unwrap();
        assert_eq!(init.local_api_endpoint.advertise_address, "10.0.0.1");
        assert_eq!(init.local_api_endpoint.bind_port, Some(7443));
        assert_eq!(init.node_registration.kubelet_extra_args, vec![Arg { name: "v".into(), value: "2".into() }]);
        let c = docs.cluster.unwrap().defaulted();
        assert_eq!(c.networking.pod_subnet, "10.244.0.0/16");
        assert_eq!(c.networking.service_subnet, "10.96.0.0/12");
        assert_eq!(c.api_server.cert_sans, vec!["api.example.com"]);
        assert_eq!(c.etcd.local.unwrap().data_dir, "/var/lib/etcd");
        assert_eq!(docs.kubelet.unwrap()["cgroupDriver"], "cgroupfs");
    }

    #[test]
    fn an_old_api_version_is_refused() {
        let e = parse("apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n").unwrap_err();
        assert!(
            e.contains("no kind \"ClusterConfiguration\" is registered for version \"kubeadm.k8s.io/v1beta2\""),
            "{e}"
        );
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration_secs("8760h0m0s"), Some(8760 * 3600));
        assert_eq!(go_duration_secs("90m"), Some(5400));
        assert_eq!(go_duration_secs("1h30m10s"), Some(5410));
        assert_eq!(go_duration_secs("0"), Some(0));
        assert_eq!(go_duration_secs("10"), None);
        assert_eq!(go_duration_secs(""), None);
    }
}
