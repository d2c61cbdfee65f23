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
    let Top::Init { phase: InitCmd::Phase { phase } } = cli.cmd;
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
    let host = match &f.control_plane_endpoint {
        Some(e) if e.contains(':') && !e.starts_with('[') => e.clone(),
        Some(e) => format!("{e}:{}", f.apiserver_bind_port),
        None => match f.apiserver_advertise_address {
            IpAddr::V6(v6) => format!("[{v6}]:{}", f.apiserver_bind_port),
            v4 => format!("{v4}:{}", f.apiserver_bind_port),
        },
    };
    let path = f.kubeconfig_dir.join(file);
    pki::write_kubeconfig(
        &path,
        "kubernetes",
        &format!("https://{host}"),
        &ca.cert_pem,
        user,
        &admin.cert_pem,
        &admin.key_pem,
    )?;
    println!("[kubeconfig] Writing \"{file}\" kubeconfig file");
    Ok(())
}
