//! kubeadm: bootstraps a cluster's files. This first cut has the phases the local cluster
//! needs: `kubeadm init phase certs all` and `kubeadm init phase kubeconfig admin`, with
//! upstream's flags and file layout (`/etc/kubernetes/pki/{ca,apiserver}.{crt,key}`,
//! `/etc/kubernetes/admin.conf`).

use clap::{Args, Parser, Subcommand};
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
}

#[derive(Parser, Debug)]
#[command(name = "kubeadm", about = "kubeadm: easily bootstrap a secure Kubernetes cluster")]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Top,
}

#[derive(Subcommand, Debug)]
pub enum Top {
    /// Run this command in order to set up the Kubernetes control plane
    Init {
        #[command(subcommand)]
        phase: InitCmd,
    },
    /// Kubeconfig file utilities
    Kubeconfig {
        #[command(subcommand)]
        which: UserCmd,
    },
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

/// The fields of a kubeadm configuration file (InitConfiguration and ClusterConfiguration
/// documents, kubeadm.k8s.io/v1beta4) that `kubeconfig user` reads.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct ConfigDoc {
    kind: String,
    certificates_dir: Option<PathBuf>,
    control_plane_endpoint: Option<String>,
    cluster_name: Option<String>,
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: Option<ApiEndpoint>,
}

#[derive(serde::Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct ApiEndpoint {
    advertise_address: Option<IpAddr>,
    bind_port: Option<u16>,
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
}

#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// Generate all certificates
    All(CertFlags),
}

#[derive(Subcommand, Debug)]
pub enum KubeconfigCmd {
    /// Generate a kubeconfig file for the admin to use and for kubeadm itself
    Admin(KubeconfigFlags),
    /// Generate a kubeconfig file for the controller manager to use
    #[command(name = "controller-manager")]
    ControllerManager(KubeconfigFlags),
    /// Generate a kubeconfig file for the scheduler to use
    Scheduler(KubeconfigFlags),
    /// Generate a kubeconfig file for the kubelet to use *only* for cluster bootstrapping purposes
    Kubelet(KubeletKubeconfigFlags),
}

#[derive(Args, Debug)]
pub struct KubeletKubeconfigFlags {
    #[command(flatten)]
    pub common: KubeconfigFlags,
    /// Specify the node name.
    #[arg(long)]
    pub node_name: Option<String>,
}

#[derive(Args, Debug)]
pub struct CertFlags {
    /// The path where to save and store the certificates.
    #[arg(long, default_value = "/etc/kubernetes/pki")]
    pub cert_dir: PathBuf,
    /// The IP address the API Server will advertise it's listening on.
    #[arg(long, default_value = "127.0.0.1")]
    pub apiserver_advertise_address: IpAddr,
    /// Use alternative range of IP address for service VIPs.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// Use alternative domain for services, e.g. "myorg.internal".
    #[arg(long, default_value = "cluster.local")]
    pub service_dns_domain: String,
    /// Specify the node name.
    #[arg(long, default_value = "")]
    pub node_name: String,
    /// Optional extra Subject Alternative Names (SANs) to use for the API Server serving certificate.
    #[arg(long, value_delimiter = ',')]
    pub apiserver_cert_extra_sans: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KubeconfigFlags {
    /// The path where certificates are stored.
    #[arg(long, default_value = "/etc/kubernetes/pki")]
    pub cert_dir: PathBuf,
    /// The path where to save the kubeconfig file.
    #[arg(long, default_value = "/etc/kubernetes")]
    pub kubeconfig_dir: PathBuf,
    /// The IP address the API Server will advertise it's listening on.
    #[arg(long, default_value = "127.0.0.1")]
    pub apiserver_advertise_address: IpAddr,
    /// Port for the API Server to bind to.
    #[arg(long, default_value_t = 6443)]
    pub apiserver_bind_port: u16,
    /// Specify a stable IP address or DNS name for the control plane.
    #[arg(long)]
    pub control_plane_endpoint: Option<String>,
}

/// The first address of a service CIDR: the `kubernetes` Service's ClusterIP.
pub fn first_service_ip(cidr: &str) -> Result<IpAddr, Error> {
    let net: ipnet::IpNet =
        cidr.parse().map_err(|e: ipnet::AddrParseError| Error::ServiceCidr(cidr.into(), e.to_string()))?;
    net.hosts().next().ok_or_else(|| Error::ServiceCidr(cidr.into(), "range has no host addresses".into()))
}

pub fn run(cli: Cli) -> Result<(), Error> {
    let phase = match cli.cmd {
        Top::Init { phase: InitCmd::Phase { phase } } => phase,
        Top::Kubeconfig { which: UserCmd::User(f) } => {
            print!("{}", user_kubeconfig(&f)?);
            return Ok(());
        }
    };
    match phase {
        Phase::Certs { which: CertsCmd::All(f) } => certs_all(&f),
        Phase::Kubeconfig { which: KubeconfigCmd::Admin(f) } => {
            kubeconfig(&f, "admin.conf", "kubernetes-admin", &["system:masters"])
        }
        Phase::Kubeconfig { which: KubeconfigCmd::ControllerManager(f) } => {
            kubeconfig(&f, "controller-manager.conf", "system:kube-controller-manager", &[])
        }
        Phase::Kubeconfig { which: KubeconfigCmd::Scheduler(f) } => {
            kubeconfig(&f, "scheduler.conf", "system:kube-scheduler", &[])
        }
        Phase::Kubeconfig { which: KubeconfigCmd::Kubelet(f) } => {
            // The node's identity, as the Node authorizer and NodeRestriction expect it.
            let node = f.node_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_lowercase())
                    .unwrap_or_default()
            });
            kubeconfig(&f.common, "kubelet.conf", &format!("system:node:{node}"), &["system:nodes"])
        }
    }
}

/// The kubeconfig `kubeadm kubeconfig user` prints: the cluster CA from the configuration's
/// `certificatesDir`, the server from `controlPlaneEndpoint` or `localAPIEndpoint`.
fn user_kubeconfig(f: &UserFlags) -> Result<String, Error> {
    let secs = go_duration_secs(&f.validity_period)
        .ok_or_else(|| Error::Duration(f.validity_period.clone(), "invalid duration".into()))?;
    let mut cfg = ConfigDoc::default();
    if let Some(path) = &f.config {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(name.clone(), e.to_string()))?;
        let docs: Vec<ConfigDoc> =
            serde_saphyr::from_multiple(&text).map_err(|e| Error::Config(name, e.to_string()))?;
        for d in docs {
            match d.kind.as_str() {
                "ClusterConfiguration" => {
                    cfg.certificates_dir = d.certificates_dir.or(cfg.certificates_dir);
                    cfg.control_plane_endpoint = d.control_plane_endpoint.or(cfg.control_plane_endpoint);
                    cfg.cluster_name = d.cluster_name.or(cfg.cluster_name);
                }
                "InitConfiguration" => cfg.local_api_endpoint = d.local_api_endpoint,
                _ => {}
            }
        }
    }
    let dir = cfg.certificates_dir.unwrap_or_else(|| PathBuf::from("/etc/kubernetes/pki"));
    let ca = pki::read_pair(&dir, "ca")?;
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: f.client_name.clone(),
            organizations: f.org.clone(),
            client: true,
            validity_days: secs.div_ceil(86400).max(1) as i64,
            ..Default::default()
        },
    )?;
    let local = cfg.local_api_endpoint.unwrap_or_default();
    let flags = KubeconfigFlags {
        cert_dir: dir,
        kubeconfig_dir: PathBuf::new(),
        apiserver_advertise_address: local.advertise_address.unwrap_or(IpAddr::from([127, 0, 0, 1])),
        apiserver_bind_port: local.bind_port.unwrap_or(6443),
        control_plane_endpoint: cfg.control_plane_endpoint.filter(|e| !e.is_empty()),
    };
    let cluster = cfg.cluster_name.unwrap_or_else(|| "kubernetes".into());
    Ok(pki::kubeconfig_text(
        &cluster,
        &server_url(&flags),
        &ca.cert_pem,
        &f.client_name,
        &leaf.cert_pem,
        &leaf.key_pem,
    )?)
}

/// `https://host:port` of the control plane: the endpoint if set (with the bind port unless it
/// has one), else the advertise address.
fn server_url(f: &KubeconfigFlags) -> String {
    let host = match &f.control_plane_endpoint {
        Some(e) if e.contains(':') && !e.starts_with('[') => e.clone(),
        Some(e) => format!("{e}:{}", f.apiserver_bind_port),
        None => match f.apiserver_advertise_address {
            IpAddr::V6(v6) => format!("[{v6}]:{}", f.apiserver_bind_port),
            v4 => format!("{v4}:{}", f.apiserver_bind_port),
        },
    };
    format!("https://{host}")
}

fn certs_all(f: &CertFlags) -> Result<(), Error> {
    let ca = match pki::read_pair(&f.cert_dir, "ca") {
        Ok(ca) => {
            println!("[certs] Using the existing \"ca\" certificate and key");
            ca
        }
        Err(_) => {
            let ca = pki::new_ca("kubernetes")?;
            pki::write_pair(&f.cert_dir, "ca", &ca)?;
            println!("[certs] Generating \"ca\" certificate and key");
            ca
        }
    };
    service_account_key(&f.cert_dir)?;
    apiserver_kubelet_client(&f.cert_dir, &ca)?;
    if pki::read_pair(&f.cert_dir, "apiserver").is_ok() {
        println!("[certs] Using the existing \"apiserver\" certificate and key");
        return Ok(());
    }
    let (mut dns, mut ips) = pki::apiserver_sans(
        &f.node_name,
        f.apiserver_advertise_address,
        first_service_ip(&f.service_cidr)?,
        &f.service_dns_domain,
    );
    for extra in &f.apiserver_cert_extra_sans {
        match extra.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(extra.clone()),
        }
    }
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: "kube-apiserver".into(),
            dns_names: dns.clone(),
            ips: ips.clone(),
            server: true,
            ..Default::default()
        },
    )?;
    pki::write_pair(&f.cert_dir, "apiserver", &leaf)?;
    let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
    println!("[certs] Generating \"apiserver\" certificate and key");
    println!("[certs] apiserver serving cert is signed for DNS names [{}] and IPs [{}]", dns.join(" "), ips.join(" "));
    Ok(())
}

/// kubeadm's `apiserver-kubelet-client` phase: the apiserver's client certificate towards
/// kubelets, in the `kubeadm:cluster-admins` group (bound to cluster-admin by `kubeadm init`).
fn apiserver_kubelet_client(dir: &std::path::Path, ca: &pki::CertKey) -> Result<(), Error> {
    if pki::read_pair(dir, "apiserver-kubelet-client").is_ok() {
        println!("[certs] Using the existing \"apiserver-kubelet-client\" certificate and key");
        return Ok(());
    }
    let leaf = pki::issue(
        ca,
        &pki::LeafSpec {
            common_name: "kube-apiserver-kubelet-client".into(),
            organizations: vec!["kubeadm:cluster-admins".into()],
            client: true,
            ..Default::default()
        },
    )?;
    pki::write_pair(dir, "apiserver-kubelet-client", &leaf)?;
    println!("[certs] Generating \"apiserver-kubelet-client\" certificate and key");
    Ok(())
}

/// kubeadm's `sa` phase: the service-account signing key pair `sa.key` / `sa.pub`.
fn service_account_key(dir: &std::path::Path) -> Result<(), Error> {
    let (key, public) = (dir.join("sa.key"), dir.join("sa.pub"));
    if key.exists() {
        println!("[certs] Using the existing \"sa\" key");
        return Ok(());
    }
    let (priv_pem, pub_pem) = pki::sakey::generate_rsa()?;
    let write = |p: &std::path::Path, data: &str, mode: u32| -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(p, data))
            .map_err(|e| pki::PkiError::Io { path: p.display().to_string(), source: e })?;
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        Ok(())
    };
    write(&key, &priv_pem, 0o600)?;
    write(&public, &pub_pem, 0o644)?;
    println!("[certs] Generating \"sa\" key and public key");
    Ok(())
}

/// Writes `<kubeconfig-dir>/<file>` with a client certificate for `user` in `groups`.
fn kubeconfig(f: &KubeconfigFlags, file: &str, user: &str, groups: &[&str]) -> Result<(), Error> {
    let ca = pki::read_pair(&f.cert_dir, "ca")?;
    let admin = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: user.into(),
            organizations: groups.iter().map(|g| g.to_string()).collect(),
            client: true,
            ..Default::default()
        },
    )?;
    let path = f.kubeconfig_dir.join(file);
    pki::write_kubeconfig(&path, "kubernetes", &server_url(f), &ca.cert_pem, user, &admin.cert_pem, &admin.key_pem)?;
    println!("[kubeconfig] Writing \"{file}\" kubeconfig file");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_kubeadm_flags_take_them() {
        assert_eq!(go_duration_secs("8760h0m0s"), Some(8760 * 3600));
        assert_eq!(go_duration_secs("24h"), Some(86400));
        assert_eq!(go_duration_secs("1h30m"), Some(5400));
        assert_eq!(go_duration_secs("0"), Some(0));
        assert_eq!(go_duration_secs("10"), None);
        assert_eq!(go_duration_secs("3d"), None);
        assert_eq!(go_duration_secs(""), None);
    }

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
        let text = user_kubeconfig(&flags).unwrap();
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
        let err = user_kubeconfig(&missing).unwrap_err().to_string();
        assert!(err.starts_with("unable to read config from"), "{err}");
    }
}
