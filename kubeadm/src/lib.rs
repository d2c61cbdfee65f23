//! kubeadm: bootstraps a cluster kubeadm-style, with upstream's commands, phases, flags,
//! configuration (`kubeadm.k8s.io/v1beta4`) and file layout (`/etc/kubernetes/pki`,
//! `/etc/kubernetes/*.conf`): `init` (the whole workflow or `init phase <name>`), `token`,
//! `kubeconfig user`.

pub mod addons;
mod api;
pub mod certs;
pub mod config;
pub mod init;
pub mod join;
mod kubeconfigs;
pub mod kubelet;
pub mod manifests;
pub mod preflight;
pub mod reset;
pub mod token;

use clap::{Args, Parser, Subcommand};
use config::{ClusterConfiguration, InitConfiguration};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    #[error("unable to read config from {0:?} : {1}")]
    Config(String, String),
    #[error("invalid argument {0:?} for \"--validity-period\" flag: {1}")]
    Duration(String, String),
    #[error("invalid --service-cidr {0:?}: {1}")]
    ServiceCidr(String, String),
    #[error("{0}")]
    Invalid(String),
    /// A phase's failure, named as upstream's workflow runner names it.
    #[error("error execution phase {0}: {1}")]
    Phase(String, Box<Error>),
}

#[derive(Parser, Debug)]
#[command(name = "kubeadm", about = "kubeadm: easily bootstrap a secure Kubernetes cluster")]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Top,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Top {
    /// Run this command in order to set up the Kubernetes control plane
    Init(InitArgs),
    /// Manage configuration for a kubeadm cluster persisted in a ConfigMap in the cluster
    Config {
        #[command(subcommand)]
        which: ConfigCmd,
    },
    /// Run this on any machine you wish to join an existing cluster
    Join(join::JoinFlags),
    /// Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'
    Reset(reset::ResetFlags),
    /// Kubeconfig file utilities
    Kubeconfig {
        #[command(subcommand)]
        which: UserCmd,
    },
    /// Manage bootstrap tokens
    Token {
        /// The kubeconfig file to use when talking to the cluster.
        #[arg(long, global = true, default_value = "/etc/kubernetes/admin.conf")]
        kubeconfig: PathBuf,
        #[command(subcommand)]
        which: TokenCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Interact with container images used by kubeadm
    Images {
        #[command(subcommand)]
        which: ImagesCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImagesCmd {
    /// Print a list of images kubeadm will use. The configuration file is used in case any images or image repositories are customized
    List(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create bootstrap tokens on the server
    Create(TokenCreateFlags),
    /// List bootstrap tokens on the server
    List,
    /// Delete bootstrap tokens on the server
    Delete {
        /// Tokens (or their IDs) to delete.
        tokens: Vec<String>,
    },
    /// Generate and print a bootstrap token, but do not create it on the server
    Generate,
}

#[derive(Args, Debug)]
pub struct TokenCreateFlags {
    /// The token to create (generated when not given).
    pub token: Option<String>,
    /// The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). If set to '0', the token will never expire
    #[arg(long, default_value = "24h0m0s")]
    pub ttl: String,
    /// Describes the ways in which this token can be used. You can pass --usages multiple times or provide a comma separated list of options. Valid options: [signing,authentication]
    #[arg(long, value_delimiter = ',', default_value = "signing,authentication")]
    pub usages: Vec<String>,
    /// Extra groups that this token will authenticate as when used for authentication. Must match "\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z"
    #[arg(long, value_delimiter = ',', default_value = token::DEFAULT_GROUP)]
    pub groups: Vec<String>,
    /// A human friendly description of how this token is used.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Instead of printing only the token, print the full 'kubeadm join' flag needed to join the cluster using the token.
    #[arg(long)]
    pub print_join_command: bool,
    /// When used together with '--print-join-command', print the full 'kubeadm join' flag needed to join the cluster as a control-plane.
    #[arg(long)]
    pub certificate_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Output a kubeconfig file for an additional user
    User(UserFlags),
}

/// `kubeadm kubeconfig user`: a client certificate for any name, printed as a kubeconfig
/// (how kube-proxy's and other components' credentials are made outside `init`).
#[derive(Args, Debug)]
pub struct UserFlags {
    /// The name of user. It will be used as the CN if client certificates are created
    #[arg(long, required = true)]
    pub client_name: String,
    /// The organizations of the client certificate. It will be used as the O if client certificates are created
    #[arg(long, value_delimiter = ',')]
    pub org: Vec<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The validity period of the client certificate. It is an offset from the current time.
    #[arg(long, default_value = "8760h0m0s")]
    pub validity_period: String,
}

/// `kubeadm init [flags]` runs every phase; `kubeadm init phase <name>` one of them.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InitArgs {
    #[command(subcommand)]
    pub phase: Option<InitCmd>,
    #[command(flatten)]
    pub run: InitRunFlags,
}

/// The flags of the whole `init` workflow: the phases' flags and the workflow's own.
#[derive(Args, Debug, Default, Clone)]
pub struct InitRunFlags {
    #[command(flatten)]
    pub flags: InitFlags,
    /// List of phases to be skipped
    #[arg(long, value_delimiter = ',')]
    pub skip_phases: Vec<String>,
    /// Skip printing of the default bootstrap token generated by 'kubeadm init'.
    #[arg(long)]
    pub skip_token_print: bool,
    /// Upload control-plane certificates to the kubeadm-certs Secret.
    #[arg(long)]
    pub upload_certs: bool,
}

#[derive(Subcommand, Debug)]
pub enum InitCmd {
    /// Use this command to invoke single phase of the init workflow
    Phase {
        #[command(subcommand)]
        phase: Phase,
    },
}

#[derive(Subcommand, Debug)]
pub enum Phase {
    /// Run pre-flight checks
    Preflight(InitFlags),
    /// Certificate generation
    Certs {
        #[command(subcommand)]
        which: CertsCmd,
    },
    /// Generate all kubeconfig files necessary to establish the control plane and the admin kubeconfig file
    Kubeconfig {
        #[command(subcommand)]
        which: KubeconfigCmd,
    },
    /// Generate static Pod manifest file for local etcd
    Etcd {
        #[command(subcommand)]
        which: EtcdCmd,
    },
    /// Generate all static Pod manifest files necessary to establish the control plane
    #[command(name = "control-plane")]
    ControlPlane {
        #[command(subcommand)]
        which: ControlPlaneCmd,
    },
    /// Write kubelet settings and (re)start the kubelet
    #[command(name = "kubelet-start")]
    KubeletStart(InitFlags),
    /// Upload the kubeadm and kubelet configuration to a ConfigMap
    #[command(name = "upload-config")]
    UploadConfig {
        #[command(subcommand)]
        which: UploadConfigCmd,
    },
    /// Mark a node as a control-plane
    #[command(name = "mark-control-plane")]
    MarkControlPlane(InitFlags),
    /// Generates bootstrap tokens used to join a node to a cluster
    #[command(name = "bootstrap-token")]
    BootstrapToken(InitFlags),
    /// Wait for the control plane to start
    #[command(name = "wait-control-plane", hide = true)]
    WaitControlPlane(InitFlags),
    /// Updates settings relevant to the kubelet after TLS bootstrap
    #[command(name = "kubelet-finalize")]
    KubeletFinalize {
        #[command(subcommand)]
        which: KubeletFinalizeCmd,
    },
    /// Install required addons for passing conformance tests
    Addon {
        #[command(subcommand)]
        which: AddonCmd,
    },
    /// Show the join command for control-plane and worker node
    #[command(name = "show-join-command")]
    ShowJoinCommand(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum KubeletFinalizeCmd {
    /// Run all kubelet-finalize phases
    All(InitFlags),
    /// Enable kubelet client certificate rotation
    #[command(name = "enable-client-cert-rotation")]
    EnableClientCertRotation(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum AddonCmd {
    /// Install all the addons
    All(InitFlags),
    /// Install the kube-proxy addon to a Kubernetes cluster
    #[command(name = "kube-proxy")]
    KubeProxy(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum UploadConfigCmd {
    /// Upload all configuration to a config map
    All(InitFlags),
    /// Upload the kubeadm ClusterConfiguration to a ConfigMap
    Kubeadm(InitFlags),
    /// Upload the kubelet component config to a ConfigMap
    Kubelet(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum EtcdCmd {
    /// Generate the static Pod manifest file for a local, single-node local etcd instance
    Local(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum ControlPlaneCmd {
    /// Generate all static Pod manifest files
    All(InitFlags),
    /// Generates the kube-apiserver static Pod manifest
    Apiserver(InitFlags),
    /// Generates the kube-controller-manager static Pod manifest
    #[command(name = "controller-manager")]
    ControllerManager(InitFlags),
    /// Generates the kube-scheduler static Pod manifest
    Scheduler(InitFlags),
}

#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// Generate all certificates
    All(InitFlags),
    /// Generate the self-signed Kubernetes CA to provision identities for other Kubernetes components
    Ca(InitFlags),
    /// Generate the certificate for serving the Kubernetes API
    Apiserver(InitFlags),
    /// Generate the certificate for the API server to connect to kubelet
    #[command(name = "apiserver-kubelet-client")]
    ApiserverKubeletClient(InitFlags),
    /// Generate the self-signed CA to provision identities for front proxy
    #[command(name = "front-proxy-ca")]
    FrontProxyCa(InitFlags),
    /// Generate the certificate for the front proxy client
    #[command(name = "front-proxy-client")]
    FrontProxyClient(InitFlags),
    /// Generate the self-signed CA to provision identities for etcd
    #[command(name = "etcd-ca")]
    EtcdCa(InitFlags),
    /// Generate the certificate for serving etcd
    #[command(name = "etcd-server")]
    EtcdServer(InitFlags),
    /// Generate the certificate for etcd nodes to communicate with each other
    #[command(name = "etcd-peer")]
    EtcdPeer(InitFlags),
    /// Generate the certificate for liveness probes to healthcheck etcd
    #[command(name = "etcd-healthcheck-client")]
    EtcdHealthcheckClient(InitFlags),
    /// Generate the certificate the apiserver uses to access etcd
    #[command(name = "apiserver-etcd-client")]
    ApiserverEtcdClient(InitFlags),
    /// Generate a private key for signing service account tokens along with its public key
    Sa(InitFlags),
}

impl CertsCmd {
    /// The phase name and its flags.
    fn split(self) -> (&'static str, InitFlags) {
        match self {
            CertsCmd::All(f) => ("all", f),
            CertsCmd::Ca(f) => ("ca", f),
            CertsCmd::Apiserver(f) => ("apiserver", f),
            CertsCmd::ApiserverKubeletClient(f) => ("apiserver-kubelet-client", f),
            CertsCmd::FrontProxyCa(f) => ("front-proxy-ca", f),
            CertsCmd::FrontProxyClient(f) => ("front-proxy-client", f),
            CertsCmd::EtcdCa(f) => ("etcd-ca", f),
            CertsCmd::EtcdServer(f) => ("etcd-server", f),
            CertsCmd::EtcdPeer(f) => ("etcd-peer", f),
            CertsCmd::EtcdHealthcheckClient(f) => ("etcd-healthcheck-client", f),
            CertsCmd::ApiserverEtcdClient(f) => ("apiserver-etcd-client", f),
            CertsCmd::Sa(f) => ("sa", f),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum KubeconfigCmd {
    /// Generate all kubeconfig files
    All(InitFlags),
    /// Generate a kubeconfig file for the admin to use and for kubeadm itself
    Admin(InitFlags),
    /// Generate a kubeconfig file for the super-admin
    #[command(name = "super-admin")]
    SuperAdmin(InitFlags),
    /// Generate a kubeconfig file for the kubelet to use *only* for cluster bootstrapping purposes
    Kubelet(InitFlags),
    /// Generate a kubeconfig file for the controller manager to use
    #[command(name = "controller-manager")]
    ControllerManager(InitFlags),
    /// Generate a kubeconfig file for the scheduler to use
    Scheduler(InitFlags),
}

impl KubeconfigCmd {
    fn split(self) -> (&'static str, InitFlags) {
        match self {
            KubeconfigCmd::All(f) => ("all", f),
            KubeconfigCmd::Admin(f) => ("admin", f),
            KubeconfigCmd::SuperAdmin(f) => ("super-admin", f),
            KubeconfigCmd::Kubelet(f) => ("kubelet", f),
            KubeconfigCmd::ControllerManager(f) => ("controller-manager", f),
            KubeconfigCmd::Scheduler(f) => ("scheduler", f),
        }
    }
}

/// The flags `kubeadm init` and its phases share. Each overrides what `--config` says; unset,
/// the configuration's value (or upstream's default) holds.
#[derive(Args, Debug, Default, Clone)]
pub struct InitFlags {
    /// Path to a kubeadm configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The path where to save and store the certificates.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// The path where to save the kubeconfig file.
    #[arg(long, default_value = config::KUBERNETES_DIR)]
    pub kubeconfig_dir: PathBuf,
    /// The IP address the API Server will advertise it's listening on. If not set the default network interface will be used.
    #[arg(long)]
    pub apiserver_advertise_address: Option<IpAddr>,
    /// Port for the API Server to bind to.
    #[arg(long)]
    pub apiserver_bind_port: Option<u16>,
    /// Specify a stable IP address or DNS name for the control plane.
    #[arg(long)]
    pub control_plane_endpoint: Option<String>,
    /// Optional extra Subject Alternative Names (SANs) to use for the API Server serving certificate. Can be both IP addresses and DNS names.
    #[arg(long, value_delimiter = ',')]
    pub apiserver_cert_extra_sans: Vec<String>,
    /// Use alternative range of IP address for service VIPs.
    #[arg(long)]
    pub service_cidr: Option<String>,
    /// Use alternative domain for services, e.g. "myorg.internal".
    #[arg(long)]
    pub service_dns_domain: Option<String>,
    /// Specify the node name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// Choose a specific Kubernetes version for the control plane.
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// Specify range of IP addresses for the pod network. If set, the control plane will automatically allocate CIDRs for every node.
    #[arg(long)]
    pub pod_network_cidr: Option<String>,
    /// Choose a container registry to pull control plane images from
    #[arg(long)]
    pub image_repository: Option<String>,
    /// The kubeconfig file to use when talking to the cluster.
    #[arg(long, default_value = "/etc/kubernetes/admin.conf")]
    pub kubeconfig: PathBuf,
    /// Path to the CRI socket to connect.
    #[arg(long)]
    pub cri_socket: Option<String>,
    /// The token to use for establishing bidirectional trust between nodes and control-plane nodes. The format is [a-z0-9]{6}\.[a-z0-9]{16} - e.g. abcdef.0123456789abcdef
    #[arg(long)]
    pub token: Option<String>,
    /// The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). If set to '0', the token will never expire
    #[arg(long)]
    pub token_ttl: Option<String>,
    /// A list of checks whose errors will be shown as warnings. Example: 'IsPrivilegedUser,Swap'. Value 'all' ignores errors from all checks.
    #[arg(long, value_delimiter = ',')]
    pub ignore_preflight_errors: Vec<String>,
}

/// The configuration a command works from: `--config`'s documents, defaulted, with the flags
/// applied over them.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub init: InitConfiguration,
    pub cluster: ClusterConfiguration,
    pub kubeconfig_dir: PathBuf,
    /// The `--config` file's KubeletConfiguration and KubeProxyConfiguration, as given.
    pub kubelet: Option<serde_json::Value>,
    pub kube_proxy: Option<serde_json::Value>,
}

impl Resolved {
    pub fn from_flags(f: &InitFlags) -> Result<Resolved, Error> {
        let docs = match &f.config {
            Some(path) => config::load(path)?,
            None => config::Documents::default(),
        };
        let mut init = docs.init.unwrap_or_default();
        let mut cluster = docs.cluster.unwrap_or_default();
        if let Some(d) = &f.cert_dir {
            cluster.certificates_dir = d.display().to_string();
        }
        if let Some(a) = f.apiserver_advertise_address {
            init.local_api_endpoint.advertise_address = a.to_string();
        }
        if let Some(p) = f.apiserver_bind_port {
            init.local_api_endpoint.bind_port = Some(p);
        }
        if let Some(e) = &f.control_plane_endpoint {
            cluster.control_plane_endpoint = e.clone();
        }
        cluster.api_server.cert_sans.extend(f.apiserver_cert_extra_sans.iter().cloned());
        if let Some(c) = &f.service_cidr {
            cluster.networking.service_subnet = c.clone();
        }
        if let Some(d) = &f.service_dns_domain {
            cluster.networking.dns_domain = d.clone();
        }
        if let Some(n) = &f.node_name {
            init.node_registration.name = n.clone();
        }
        if let Some(v) = &f.kubernetes_version {
            cluster.kubernetes_version = v.clone();
        }
        if let Some(c) = &f.pod_network_cidr {
            cluster.networking.pod_subnet = c.clone();
        }
        if let Some(i) = &f.image_repository {
            cluster.image_repository = i.clone();
        }
        if let Some(c) = &f.cri_socket {
            init.node_registration.cri_socket = c.clone();
        }
        // --token and --token-ttl set the first bootstrap token.
        if f.token.is_some() || f.token_ttl.is_some() {
            if init.bootstrap_tokens.is_empty() {
                init.bootstrap_tokens.push(config::BootstrapToken {
                    description: DEFAULT_TOKEN_DESCRIPTION.into(),
                    ..Default::default()
                });
            }
            if let Some(t) = &f.token {
                init.bootstrap_tokens[0].token = t.clone();
            }
            if let Some(t) = &f.token_ttl {
                init.bootstrap_tokens[0].ttl = t.clone();
            }
        }
        if init.node_registration.name.is_empty() {
            init.node_registration.name = config::default_node_name();
        }
        if init.local_api_endpoint.advertise_address.is_empty() {
            init.local_api_endpoint.advertise_address = config::default_advertise_address().to_string();
        }
        init.local_api_endpoint.bind_port.get_or_insert(6443);
        Ok(Resolved {
            init,
            cluster: cluster.defaulted(),
            kubeconfig_dir: f.kubeconfig_dir.clone(),
            kubelet: docs.kubelet,
            kube_proxy: docs.kube_proxy,
        })
    }

    pub fn node_name(&self) -> &str {
        &self.init.node_registration.name
    }

    pub fn advertise(&self) -> Result<IpAddr, Error> {
        let a = &self.init.local_api_endpoint.advertise_address;
        a.parse().map_err(|_| {
            Error::Invalid(format!(
                "error parsing LocalAPIEndpoint AdvertiseAddress {a}: is not a valid textual representation of an IP address"
            ))
        })
    }

    /// The container runtime's endpoint: `nodeRegistration.criSocket`, else containerd's.
    pub fn cri_socket(&self) -> String {
        let s = &self.init.node_registration.cri_socket;
        if s.is_empty() {
            config::DEFAULT_CRI_SOCKET.to_string()
        } else {
            s.clone()
        }
    }

    pub fn bind_port(&self) -> u16 {
        self.init.local_api_endpoint.bind_port.unwrap_or(6443)
    }

    /// `https://<advertise address>:<bind port>`: how this node's components reach its apiserver.
    pub fn local_url(&self) -> Result<String, Error> {
        Ok(match self.advertise()? {
            IpAddr::V6(v6) => format!("https://[{v6}]:{}", self.bind_port()),
            v4 => format!("https://{v4}:{}", self.bind_port()),
        })
    }

    /// The control plane's URL: `controlPlaneEndpoint` (with the bind port unless it names
    /// one), else the local one.
    pub fn control_plane_url(&self) -> Result<String, Error> {
        let e = &self.cluster.control_plane_endpoint;
        if e.is_empty() {
            return self.local_url();
        }
        let has_port = if e.starts_with('[') { e.contains("]:") } else { e.matches(':').count() == 1 };
        Ok(if has_port { format!("https://{e}") } else { format!("https://{e}:{}", self.bind_port()) })
    }

    /// The node's taints: as configured, else the control-plane taint.
    pub fn control_plane_taints(&self) -> Vec<config::Taint> {
        self.init.node_registration.taints.clone().unwrap_or_else(|| {
            vec![config::Taint {
                key: "node-role.kubernetes.io/control-plane".into(),
                value: String::new(),
                effect: "NoSchedule".into(),
            }]
        })
    }

    /// The configuration's bootstrap tokens, defaulted as upstream: one generated token, valid
    /// for 24 hours, when none is given.
    pub fn bootstrap_tokens(&self) -> Result<Vec<token::Token>, Error> {
        let mut given = self.init.bootstrap_tokens.clone();
        if given.is_empty() {
            given.push(config::BootstrapToken { description: DEFAULT_TOKEN_DESCRIPTION.into(), ..Default::default() });
        }
        given
            .into_iter()
            .map(|b| {
                let value = if b.token.is_empty() { token::generate() } else { b.token };
                token::parse(&value)?;
                let ttl = if b.ttl.is_empty() { "24h0m0s".to_string() } else { b.ttl };
                let secs = config::go_duration_secs(&ttl)
                    .ok_or_else(|| Error::Invalid(format!("bootstrapTokens.ttl: invalid duration {ttl:?}")))?;
                let expires = if !b.expires.is_empty() {
                    Some(b.expires)
                } else {
                    (secs > 0).then(|| token::expiration_after(secs))
                };
                Ok(token::Token {
                    token: value,
                    description: b.description,
                    expires,
                    usages: if b.usages.is_empty() { token::USAGES.map(String::from).to_vec() } else { b.usages },
                    groups: if b.groups.is_empty() { vec![token::DEFAULT_GROUP.to_string()] } else { b.groups },
                })
            })
            .collect()
    }

    pub fn key_algorithm(&self) -> Result<pki::KeyAlgorithm, Error> {
        let a = &self.cluster.encryption_algorithm;
        pki::KeyAlgorithm::parse(a).ok_or_else(|| {
            Error::Invalid(format!(
                "encryptionAlgorithm: Invalid value: {a:?}: Unsupported value: {a:?}: supported values: \"ECDSA-P256\", \"RSA-2048\", \"RSA-3072\", \"RSA-4096\""
            ))
        })
    }

    fn period(s: &str, what: &str) -> Result<time::Duration, Error> {
        config::go_duration_secs(s)
            .map(|secs| time::Duration::seconds(secs as i64))
            .ok_or_else(|| Error::Invalid(format!("{what}: invalid duration {s:?}")))
    }

    pub fn cert_params(&self) -> Result<certs::Params, Error> {
        let local = self.cluster.etcd.local.clone().unwrap_or_default();
        Ok(certs::Params {
            cert_dir: self.cluster.cert_dir(),
            node_name: self.node_name().to_string(),
            advertise: self.advertise()?,
            control_plane_endpoint: self.cluster.control_plane_endpoint.clone(),
            service_subnet: self.cluster.networking.service_subnet.clone(),
            dns_domain: self.cluster.networking.dns_domain.clone(),
            cert_sans: self.cluster.api_server.cert_sans.clone(),
            etcd_server_sans: local.server_cert_sans,
            etcd_peer_sans: local.peer_cert_sans,
            local_etcd: self.cluster.local_etcd(),
            key: self.key_algorithm()?,
            start: time::OffsetDateTime::now_utc(),
            leaf_validity: Self::period(&self.cluster.certificate_validity_period, "certificateValidityPeriod")?,
            ca_validity: Self::period(&self.cluster.ca_certificate_validity_period, "caCertificateValidityPeriod")?,
        })
    }
}

const DEFAULT_TOKEN_DESCRIPTION: &str = "The default bootstrap token generated by 'kubeadm init'.";

/// The `upload-config` phase (`which`: all, kubeadm or kubelet).
async fn upload_config(r: &Resolved, kubeconfig: &std::path::Path, which: &str) -> Result<(), Error> {
    let client = api::admin_client(kubeconfig, &r.kubeconfig_dir).await?;
    let cluster = to_yaml(&r.cluster)?;
    let kubelet = to_yaml(&kubelet::config(r, r.kubelet.as_ref())?)?;
    api::upload_config(&client, &cluster, &kubelet, r.kubelet.is_some(), which).await
}

fn to_yaml<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_saphyr::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}

/// The `bootstrap-token` phase: the configuration's tokens (one generated when it names none).
async fn bootstrap_token(r: &Resolved, kubeconfig: &std::path::Path, tokens: &[token::Token]) -> Result<(), Error> {
    let shown: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
    if shown.len() == 1 {
        println!("[bootstrap-token] Using token: {}", shown[0]);
    } else {
        println!("[bootstrap-token] Using tokens: [{}]", shown.join(" "));
    }
    let ca = std::fs::read_to_string(r.cluster.cert_dir().join("ca.crt"))
        .map_err(|e| Error::Invalid(format!("failed to load the CA certificate: {e}")))?;
    let client = api::admin_client(kubeconfig, &r.kubeconfig_dir).await?;
    api::bootstrap_token_phase(&client, tokens, &r.control_plane_url()?, &ca).await
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Invalid(e.to_string()))
}

/// `kubeadm token ...`.
fn token_cmd(kubeconfig: &std::path::Path, which: TokenCmd) -> Result<(), Error> {
    match which {
        TokenCmd::Generate => {
            println!("{}", token::generate());
            Ok(())
        }
        TokenCmd::Create(f) => {
            if f.certificate_key.is_some() && !f.print_join_command {
                return Err(Error::Invalid("cannot use --certificate-key without --print-join-command".into()));
            }
            let value = f.token.clone().unwrap_or_else(token::generate);
            token::parse(&value)?;
            let secs = config::go_duration_secs(&f.ttl)
                .ok_or_else(|| Error::Invalid(format!("invalid argument {:?} for \"--ttl\" flag", f.ttl)))?;
            let t = token::Token {
                token: value.clone(),
                description: f.description.clone(),
                expires: (secs > 0).then(|| token::expiration_after(secs)),
                usages: f.usages.clone(),
                groups: f.groups.clone(),
            };
            let join = if f.print_join_command {
                // Upstream prints the template on one line.
                let text = join_command(kubeconfig, &value, f.certificate_key.as_deref(), f.certificate_key.is_some())?;
                Some(text.replace("\\\n", "").replace('\t', ""))
            } else {
                None
            };
            runtime()?.block_on(async {
                let client = api::client(kubeconfig).await?;
                api::write_tokens(&client, &[t], true).await
            })?;
            println!("{}", join.unwrap_or(value));
            Ok(())
        }
        TokenCmd::List => {
            let tokens = runtime()?.block_on(async { api::list_tokens(&api::client(kubeconfig).await?).await })?;
            print!("{}", token::list_text(&tokens, jiff::Timestamp::now()));
            Ok(())
        }
        TokenCmd::Delete { tokens } => {
            if tokens.is_empty() {
                return Err(Error::Invalid(format!(
                    "missing argument; 'token delete' is missing token of form {:?} or {:?}",
                    token::TOKEN_PATTERN,
                    token::ID_PATTERN
                )));
            }
            runtime()?.block_on(async {
                let client = api::client(kubeconfig).await?;
                for t in tokens {
                    let id = match token::parse(&t) {
                        Ok((id, _)) => id,
                        Err(_) if token::is_id(&t) => t.clone(),
                        Err(_) => {
                            return Err(Error::Invalid(format!(
                                "given token didn't match pattern {:?} or {:?}",
                                token::ID_PATTERN,
                                token::TOKEN_PATTERN
                            )))
                        }
                    };
                    api::delete_token(&client, &id).await?;
                    println!("bootstrap token {id:?} deleted");
                }
                Ok(())
            })
        }
    }
}

/// `kubeadm join <endpoint> --token <token> \` and, on the next line, tab-indented,
/// `--discovery-token-ca-cert-hash sha256:<hash> ` (per CA; `--control-plane` after a further
/// break for a control-plane join): upstream's template. The endpoint and CA come from the
/// kubeconfig's current cluster; the trailing space is upstream's.
fn join_command(
    kubeconfig: &std::path::Path,
    token: &str,
    certificate_key: Option<&str>,
    control_plane: bool,
) -> Result<String, Error> {
    let name = kubeconfig.display().to_string();
    let text = std::fs::read_to_string(kubeconfig).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
    let kc: pki::Kubeconfig = serde_saphyr::from_str(&text).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == kc.current_context)
        .and_then(|c| kc.clusters.iter().find(|cl| cl.name == c.context.cluster))
        .or(kc.clusters.first())
        .ok_or_else(|| Error::Config(name.clone(), "no cluster".into()))?;
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster.cluster.certificate_authority_data.trim())
        .map_err(|e| Error::Config(name, e.to_string()))?;
    let endpoint = cluster.cluster.server.trim_start_matches("https://");
    let mut out = format!("kubeadm join {endpoint} --token {token} \\\n\t");
    for pin in pki::public_key_pins(&ca)? {
        out.push_str(&format!("--discovery-token-ca-cert-hash {pin} "));
    }
    if control_plane {
        out.push_str("\\\n\t--control-plane ");
        if let Some(k) = certificate_key {
            out.push_str(&format!("--certificate-key {k}"));
        }
    }
    Ok(out)
}

/// The first address of a service CIDR: the `kubernetes` Service's ClusterIP.
pub fn first_service_ip(cidr: &str) -> Result<IpAddr, Error> {
    let net: ipnet::IpNet =
        cidr.parse().map_err(|e: ipnet::AddrParseError| Error::ServiceCidr(cidr.into(), e.to_string()))?;
    net.hosts().next().ok_or_else(|| Error::ServiceCidr(cidr.into(), "range has no host addresses".into()))
}

pub fn run(cli: Cli) -> Result<(), Error> {
    let phase = match cli.cmd {
        Top::Init(InitArgs { phase: Some(InitCmd::Phase { phase }), .. }) => phase,
        Top::Init(InitArgs { phase: None, run }) => return init::run(&run),
        Top::Join(f) => return join::run(&f),
        Top::Reset(f) => return reset::run(&f),
        Top::Kubeconfig { which: UserCmd::User(f) } => {
            print!("{}", kubeconfigs::user(&f)?);
            return Ok(());
        }
        Top::Token { kubeconfig, which } => return token_cmd(&kubeconfig, which),
        Top::Config { which: ConfigCmd::Images { which: ImagesCmd::List(f) } } => {
            for image in manifests::images(&Resolved::from_flags(&f)?) {
                println!("{image}");
            }
            return Ok(());
        }
    };
    let name = phase_name(&phase);
    run_phase(phase).map_err(|e| match e {
        e @ Error::Phase(..) => e,
        e => Error::Phase(name, Box::new(e)),
    })
}

/// The workflow's name of a phase: `certs/ca`, `upload-config/all`, `preflight`.
fn phase_name(p: &Phase) -> String {
    let (top, sub) = match p {
        Phase::Preflight(_) => ("preflight", None),
        Phase::Certs { which } => ("certs", Some(certs_sub(which))),
        Phase::Kubeconfig { which } => ("kubeconfig", Some(kubeconfig_sub(which))),
        Phase::Etcd { .. } => ("etcd", Some("local")),
        Phase::ControlPlane { which } => (
            "control-plane",
            Some(match which {
                ControlPlaneCmd::All(_) => "all",
                ControlPlaneCmd::Apiserver(_) => "apiserver",
                ControlPlaneCmd::ControllerManager(_) => "controller-manager",
                ControlPlaneCmd::Scheduler(_) => "scheduler",
            }),
        ),
        Phase::KubeletStart(_) => ("kubelet-start", None),
        Phase::UploadConfig { which } => (
            "upload-config",
            Some(match which {
                UploadConfigCmd::All(_) => "all",
                UploadConfigCmd::Kubeadm(_) => "kubeadm",
                UploadConfigCmd::Kubelet(_) => "kubelet",
            }),
        ),
        Phase::MarkControlPlane(_) => ("mark-control-plane", None),
        Phase::BootstrapToken(_) => ("bootstrap-token", None),
        Phase::WaitControlPlane(_) => ("wait-control-plane", None),
        Phase::KubeletFinalize { which } => (
            "kubelet-finalize",
            Some(match which {
                KubeletFinalizeCmd::All(_) => "all",
                KubeletFinalizeCmd::EnableClientCertRotation(_) => "enable-client-cert-rotation",
            }),
        ),
        Phase::Addon { which } => (
            "addon",
            Some(match which {
                AddonCmd::All(_) => "all",
                AddonCmd::KubeProxy(_) => "kube-proxy",
            }),
        ),
        Phase::ShowJoinCommand(_) => ("show-join-command", None),
    };
    match sub {
        Some(s) => format!("{top}/{s}"),
        None => top.to_string(),
    }
}

fn certs_sub(c: &CertsCmd) -> &'static str {
    match c {
        CertsCmd::All(_) => "all",
        CertsCmd::Ca(_) => "ca",
        CertsCmd::Apiserver(_) => "apiserver",
        CertsCmd::ApiserverKubeletClient(_) => "apiserver-kubelet-client",
        CertsCmd::FrontProxyCa(_) => "front-proxy-ca",
        CertsCmd::FrontProxyClient(_) => "front-proxy-client",
        CertsCmd::EtcdCa(_) => "etcd-ca",
        CertsCmd::EtcdServer(_) => "etcd-server",
        CertsCmd::EtcdPeer(_) => "etcd-peer",
        CertsCmd::EtcdHealthcheckClient(_) => "etcd-healthcheck-client",
        CertsCmd::ApiserverEtcdClient(_) => "apiserver-etcd-client",
        CertsCmd::Sa(_) => "sa",
    }
}

fn kubeconfig_sub(k: &KubeconfigCmd) -> &'static str {
    match k {
        KubeconfigCmd::All(_) => "all",
        KubeconfigCmd::Admin(_) => "admin",
        KubeconfigCmd::SuperAdmin(_) => "super-admin",
        KubeconfigCmd::Kubelet(_) => "kubelet",
        KubeconfigCmd::ControllerManager(_) => "controller-manager",
        KubeconfigCmd::Scheduler(_) => "scheduler",
    }
}

fn run_phase(phase: Phase) -> Result<(), Error> {
    match phase {
        Phase::Preflight(f) => {
            let ignore = f.ignore_preflight_errors.clone();
            init::run_preflight(&Resolved::from_flags(&f)?, &ignore)
        }
        Phase::Certs { which } => {
            let (name, f) = which.split();
            let p = Resolved::from_flags(&f)?.cert_params()?;
            match name {
                "all" => certs::all(&p, &|_| false),
                "sa" => certs::service_account_key(&p),
                name => certs::create(&p, certs::find(name).expect("every subcommand is a certificate")),
            }
        }
        Phase::Kubeconfig { which } => {
            let (name, f) = which.split();
            let r = Resolved::from_flags(&f)?;
            match name {
                "all" => kubeconfigs::all(&r, &|_| false),
                name => kubeconfigs::create(&r, kubeconfigs::find(name).expect("every subcommand is a kubeconfig")),
            }
        }
        Phase::Etcd { which: EtcdCmd::Local(f) } => manifests::etcd_local(&Resolved::from_flags(&f)?),
        Phase::ControlPlane { which } => {
            let (name, f) = match which {
                ControlPlaneCmd::All(f) => ("all", f),
                ControlPlaneCmd::Apiserver(f) => ("apiserver", f),
                ControlPlaneCmd::ControllerManager(f) => ("controller-manager", f),
                ControlPlaneCmd::Scheduler(f) => ("scheduler", f),
            };
            manifests::control_plane(&Resolved::from_flags(&f)?, name)
        }
        Phase::KubeletStart(f) => {
            let r = Resolved::from_flags(&f)?;
            kubelet::write_files(&r, r.kubelet.as_ref(), std::path::Path::new(kubelet::KUBELET_DIR), false)?;
            kubelet::start();
            Ok(())
        }
        Phase::UploadConfig { which } => {
            let (name, f) = match which {
                UploadConfigCmd::All(f) => ("all", f),
                UploadConfigCmd::Kubeadm(f) => ("kubeadm", f),
                UploadConfigCmd::Kubelet(f) => ("kubelet", f),
            };
            let r = Resolved::from_flags(&f)?;
            runtime()?.block_on(upload_config(&r, &f.kubeconfig, name))
        }
        Phase::MarkControlPlane(f) => {
            let r = Resolved::from_flags(&f)?;
            let taints = r.control_plane_taints();
            runtime()?.block_on(async {
                api::mark_control_plane(&api::client(&f.kubeconfig).await?, r.node_name(), &taints).await
            })
        }
        Phase::BootstrapToken(f) => {
            let r = Resolved::from_flags(&f)?;
            let tokens = r.bootstrap_tokens()?;
            runtime()?.block_on(bootstrap_token(&r, &f.kubeconfig, &tokens))
        }
        Phase::WaitControlPlane(f) => runtime()?.block_on(init::wait_control_plane(&Resolved::from_flags(&f)?)),
        Phase::KubeletFinalize {
            which: KubeletFinalizeCmd::All(f) | KubeletFinalizeCmd::EnableClientCertRotation(f),
        } => {
            let r = Resolved::from_flags(&f)?;
            init::kubelet_finalize(&r.kubeconfig_dir.join("kubelet.conf"), std::path::Path::new(kubelet::KUBELET_DIR))
        }
        Phase::Addon { which: AddonCmd::All(f) | AddonCmd::KubeProxy(f) } => {
            let r = Resolved::from_flags(&f)?;
            runtime()?.block_on(async {
                let client = api::admin_client(&f.kubeconfig, &r.kubeconfig_dir).await?;
                addons::kube_proxy(&client, &r).await
            })
        }
        Phase::ShowJoinCommand(f) => {
            let r = Resolved::from_flags(&f)?;
            let token = r.bootstrap_tokens()?.first().map(|t| t.token.clone()).unwrap_or_default();
            print!("{}", init::done_text(&r, &f.kubeconfig, &token)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_user_reads_the_configuration_and_signs_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let pki_dir = dir.path().join("pki");
        let ca = pki::new_ca("kubernetes").unwrap();
        pki::write_pair(&pki_dir, "ca", &ca).unwrap();
        let cfg = dir.path().join("kubeadm.yaml");
        std::fs::write(
            &cfg,
            format!(
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.0.5\n  bindPort: 7443\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\ncertificatesDir: {}\n",
                pki_dir.display()
            ),
        )
        .unwrap();
        let flags = UserFlags {
            client_name: "system:kube-proxy".into(),
            org: vec!["team-a".into()],
            config: Some(cfg.clone()),
            validity_period: "24h".into(),
        };
        let text = kubeconfigs::user(&flags).unwrap();
        let kc: pki::Kubeconfig = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(kc.clusters[0].cluster.server, "https://10.0.0.5:7443");
        assert_eq!(kc.current_context, "system:kube-proxy@kubernetes");
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD.decode(&kc.users[0].user.client_certificate_data).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        let subject = cert.subject().to_string();
        assert!(subject.contains("CN=system:kube-proxy") && subject.contains("O=team-a"), "{subject}");
        let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86400;
        assert!(days <= 2, "{days} days");

        let missing = UserFlags { config: Some(dir.path().join("nope.yaml")), ..flags };
        let err = kubeconfigs::user(&missing).unwrap_err().to_string();
        assert!(err.starts_with("unable to read config from"), "{err}");
    }
}
