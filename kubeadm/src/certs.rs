//! The `certs` phase: upstream's certificate tree under the cert dir (`/etc/kubernetes/pki`):
//! three CAs, their leaves and the service-account key pair, with upstream's names, subjects,
//! SANs, usages, lifetimes and messages (`phases/certs/certlist.go`). Existing files are used
//! as they are, as upstream's phases do.

use crate::Error;
use pki::{CertKey, KeyAlgorithm};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// What the certificates are made from (the resolved configuration).
#[derive(Debug, Clone)]
pub struct Params {
    pub cert_dir: PathBuf,
    pub node_name: String,
    pub advertise: IpAddr,
    pub control_plane_endpoint: String,
    pub service_subnet: String,
    pub dns_domain: String,
    pub cert_sans: Vec<String>,
    pub etcd_server_sans: Vec<String>,
    pub etcd_peer_sans: Vec<String>,
    pub local_etcd: bool,
    pub key: KeyAlgorithm,
    /// One start time for every certificate of a run, as upstream's `StartTimeUTC`.
    pub start: OffsetDateTime,
    pub leaf_validity: Duration,
    pub ca_validity: Duration,
}

/// Whose names a serving certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sans {
    None,
    ApiServer,
    EtcdServer,
    EtcdPeer,
}

/// One certificate of the tree.
#[derive(Debug, Clone, Copy)]
pub struct Cert {
    /// The phase (`kubeadm init phase certs <name>`) and `certs renew` name.
    pub name: &'static str,
    /// The file name without extension, under the cert dir.
    pub base: &'static str,
    /// The signing CA's phase name; `None` for a CA.
    pub ca: Option<&'static str>,
    pub long: &'static str,
    cn: &'static str,
    org: &'static str,
    server: bool,
    client: bool,
    sans: Sans,
}

const fn ca(name: &'static str, base: &'static str, cn: &'static str, long: &'static str) -> Cert {
    Cert { name, base, ca: None, long, cn, org: "", server: false, client: false, sans: Sans::None }
}

const fn client(name: &'static str, ca: &'static str, cn: &'static str, org: &'static str, long: &'static str) -> Cert {
    Cert { name, base: name, ca: Some(ca), long, cn, org, server: false, client: true, sans: Sans::None }
}

/// The node name stands for the CN of the etcd serving certificates.
const NODE: &str = "<node>";

/// Upstream's `GetDefaultCertList`, in its order.
pub const CERTS: [Cert; 10] = [
    ca("ca", "ca", "kubernetes", "self-signed Kubernetes CA to provision identities for other Kubernetes components"),
    Cert {
        name: "apiserver",
        base: "apiserver",
        ca: Some("ca"),
        long: "certificate for serving the Kubernetes API",
        cn: "kube-apiserver",
        org: "",
        server: true,
        client: false,
        sans: Sans::ApiServer,
    },
    client(
        "apiserver-kubelet-client",
        "ca",
        "kube-apiserver-kubelet-client",
        "kubeadm:cluster-admins",
        "certificate for the API server to connect to kubelet",
    ),
    ca("front-proxy-ca", "front-proxy-ca", "front-proxy-ca", "self-signed CA to provision identities for front proxy"),
    client("front-proxy-client", "front-proxy-ca", "front-proxy-client", "", "certificate for the front proxy client"),
    ca("etcd-ca", "etcd/ca", "etcd-ca", "self-signed CA to provision identities for etcd"),
    Cert {
        name: "etcd-server",
        base: "etcd/server",
        ca: Some("etcd-ca"),
        long: "certificate for serving etcd",
        cn: NODE,
        org: "",
        server: true,
        client: true,
        sans: Sans::EtcdServer,
    },
    Cert {
        name: "etcd-peer",
        base: "etcd/peer",
        ca: Some("etcd-ca"),
        long: "certificate for etcd nodes to communicate with each other",
        cn: NODE,
        org: "",
        server: true,
        client: true,
        sans: Sans::EtcdPeer,
    },
    Cert {
        base: "etcd/healthcheck-client",
        ..client(
            "etcd-healthcheck-client",
            "etcd-ca",
            "kube-etcd-healthcheck-client",
            "",
            "certificate for liveness probes to healthcheck etcd",
        )
    },
    client(
        "apiserver-etcd-client",
        "etcd-ca",
        "kube-apiserver-etcd-client",
        "",
        "certificate the apiserver uses to access etcd",
    ),
];

pub fn find(name: &str) -> Option<&'static Cert> {
    CERTS.iter().find(|c| c.name == name)
}

impl Cert {
    pub fn is_etcd(&self) -> bool {
        self.name.starts_with("etcd-") || self.name == "apiserver-etcd-client"
    }

    fn ca_cert(&self) -> Option<&'static Cert> {
        self.ca.and_then(find)
    }

    /// The DNS names and IPs of a serving certificate: DNS names deduplicated and sorted, IPs
    /// deduplicated in first-seen order (upstream's `RemoveDuplicateAltNames`).
    fn alt_names(&self, p: &Params) -> Result<(Vec<String>, Vec<IpAddr>), Error> {
        let (mut dns, mut ips): (Vec<String>, Vec<IpAddr>) = (Vec::new(), Vec::new());
        let extra = match self.sans {
            Sans::None => return Ok((dns, ips)),
            Sans::ApiServer => {
                dns.extend([
                    p.node_name.clone(),
                    "kubernetes".into(),
                    "kubernetes.default".into(),
                    "kubernetes.default.svc".into(),
                    format!("kubernetes.default.svc.{}", p.dns_domain),
                ]);
                let first = p.service_subnet.split(',').next().unwrap_or_default();
                ips.push(crate::first_service_ip(first)?);
                ips.push(p.advertise);
                if !p.control_plane_endpoint.is_empty() {
                    let host = endpoint_host(&p.control_plane_endpoint).ok_or_else(|| {
                        Error::Invalid(format!(
                            "error parsing cluster controlPlaneEndpoint {:?}",
                            p.control_plane_endpoint
                        ))
                    })?;
                    match host.parse::<IpAddr>() {
                        Ok(ip) => ips.push(ip),
                        Err(_) => dns.push(host),
                    }
                }
                &p.cert_sans
            }
            Sans::EtcdServer | Sans::EtcdPeer => {
                dns.extend([p.node_name.clone(), "localhost".into()]);
                ips.extend([p.advertise, IpAddr::from([127, 0, 0, 1]), "::1".parse().expect("an IPv6 literal")]);
                if self.sans == Sans::EtcdServer {
                    &p.etcd_server_sans
                } else {
                    &p.etcd_peer_sans
                }
            }
        };
        for san in extra {
            match san.parse::<IpAddr>() {
                Ok(ip) => ips.push(ip),
                Err(_) if is_dns_subdomain(san.strip_prefix("*.").unwrap_or(san)) => dns.push(san.clone()),
                Err(_) => eprintln!(
                    "W: [certificates] WARNING: '{san}' was not added to the '{}.crt' SAN, because it is not a valid IP or RFC-1123 compliant DNS entry",
                    self.base
                ),
            }
        }
        dns.retain(|d| !d.is_empty());
        dns.sort();
        dns.dedup();
        let mut seen = Vec::new();
        ips.retain(|ip| {
            let new = !seen.contains(ip);
            seen.push(*ip);
            new
        });
        Ok((dns, ips))
    }
}

/// The host of `host[:port]` (an IPv6 address in brackets).
pub fn endpoint_host(endpoint: &str) -> Option<String> {
    if let Some(rest) = endpoint.strip_prefix('[') {
        return rest.split_once(']').map(|(h, _)| h.to_string());
    }
    if endpoint.parse::<IpAddr>().is_ok() {
        return Some(endpoint.to_string());
    }
    let host = endpoint.rsplit_once(':').map(|(h, _)| h).unwrap_or(endpoint);
    (!host.is_empty()).then(|| host.to_string())
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn read_ca(dir: &Path, ca: &Cert) -> Result<CertKey, Error> {
    pki::read_pair(dir, ca.base).map_err(|e| {
        Error::Invalid(format!(
            "couldn't load CA certificate {}: failure loading {} certificate authority: {e}",
            ca.name, ca.base
        ))
    })
}

/// Creates one certificate unless it is there: `kubeadm init phase certs <name>`.
pub fn create(p: &Params, cert: &Cert) -> Result<(), Error> {
    let dir = &p.cert_dir;
    let crt = dir.join(format!("{}.crt", cert.base));
    let Some(ca) = cert.ca_cert() else {
        if crt.exists() {
            if dir.join(format!("{}.key", cert.base)).exists() {
                pki::read_pair(dir, cert.base)?;
                println!("[certs] Using existing {} certificate authority", cert.base);
            } else {
                println!("[certs] Using existing {} keyless certificate authority", cert.base);
            }
            return Ok(());
        }
        println!("[certs] Generating {:?} certificate and key", cert.base);
        let ck = pki::new_ca_with(cert.cn, p.key, p.start - Duration::minutes(5), p.start + p.ca_validity)?;
        return Ok(pki::write_pair(dir, cert.base, &ck)?);
    };
    if let Ok(pem) = std::fs::read_to_string(&crt) {
        let ca_pem = std::fs::read_to_string(dir.join(format!("{}.crt", ca.base)))
            .map_err(|e| Error::Invalid(format!("couldn't load CA certificate {}: {e}", ca.name)))?;
        if pki::signed_by(&pem, &ca_pem) {
            println!("[certs] Using existing {} certificate and key on disk", cert.base);
            return Ok(());
        }
        return Err(Error::Invalid(format!(
            "[certs] certificate {} not signed by CA certificate {}: x509: certificate signed by unknown authority",
            cert.base, ca.base
        )));
    }
    let ca_pair = read_ca(dir, ca)?;
    let (dns, ips) = cert.alt_names(p)?;
    let cn = if cert.cn == NODE { p.node_name.clone() } else { cert.cn.to_string() };
    let spec = pki::LeafSpec {
        common_name: cn,
        organizations: if cert.org.is_empty() { vec![] } else { vec![cert.org.to_string()] },
        dns_names: dns.clone(),
        ips: ips.clone(),
        server: cert.server,
        client: cert.client,
        key: p.key,
        not_before: Some(p.start - Duration::minutes(5)),
        not_after: Some(p.start + p.leaf_validity),
        ..Default::default()
    };
    let leaf = pki::issue(&ca_pair, &spec)?;
    println!("[certs] Generating {:?} certificate and key", cert.base);
    if cert.server {
        let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
        println!(
            "[certs] {} serving cert is signed for DNS names [{}] and IPs [{}]",
            cert.base,
            dns.join(" "),
            ips.join(" ")
        );
    }
    Ok(pki::write_pair(dir, cert.base, &leaf)?)
}

/// `kubeadm init phase certs sa`: the service-account signing key pair `sa.key` / `sa.pub`.
pub fn service_account_key(p: &Params) -> Result<(), Error> {
    let dir = &p.cert_dir;
    let (key, public) = (dir.join("sa.key"), dir.join("sa.pub"));
    if let Ok(pem) = std::fs::read_to_string(&key) {
        if pki::key_pair_from_pem(&pem).is_err() {
            return Err(Error::Invalid("file sa.key existed but it could not be loaded properly".into()));
        }
        println!("[certs] Using the existing \"sa\" key");
        return Ok(());
    }
    println!("[certs] Generating \"sa\" key and public key");
    let (priv_pem, pub_pem) = pki::sakey::generate(p.key)?;
    // Upstream writes both with its key writer: owner-only.
    pki::write_file(&key, &priv_pem, 0o600)?;
    pki::write_file(&public, &pub_pem, 0o600)?;
    Ok(())
}

/// `kubeadm init phase certs all`: every certificate in order, then the service-account key;
/// those `skip` names (`--skip-phases certs/<name>`) excepted.
pub fn all(p: &Params, skip: &dyn Fn(&str) -> bool) -> Result<(), Error> {
    println!("[certs] Using certificateDir folder {:?}", p.cert_dir.display().to_string());
    for cert in CERTS.iter().filter(|c| !skip(c.name)) {
        if cert.is_etcd() && !p.local_etcd {
            match cert.ca {
                None => println!("[certs] External etcd mode: Skipping {} certificate authority generation", cert.base),
                Some(_) => println!("[certs] External etcd mode: Skipping {} certificate generation", cert.base),
            }
            continue;
        }
        create(p, cert)?;
    }
    if skip("sa") {
        return Ok(());
    }
    service_account_key(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(dir: &Path) -> Params {
        Params {
            cert_dir: dir.to_path_buf(),
            node_name: "node-1".into(),
            advertise: "10.0.0.1".parse().unwrap(),
            control_plane_endpoint: "cp.example.com:6443".into(),
            service_subnet: "10.96.0.0/12".into(),
            dns_domain: "cluster.local".into(),
            cert_sans: vec!["10.0.0.9".into(), "api.example.com".into(), "bad_name!".into()],
            etcd_server_sans: vec![],
            etcd_peer_sans: vec![],
            local_etcd: true,
            key: KeyAlgorithm::EcdsaP256,
            start: OffsetDateTime::now_utc(),
            leaf_validity: Duration::days(365),
            ca_validity: Duration::days(3650),
        }
    }

    #[test]
    fn the_apiserver_names_follow_upstreams_order() {
        let dir = tempfile::tempdir().unwrap();
        let (dns, ips) = find("apiserver").unwrap().alt_names(&params(dir.path())).unwrap();
        assert_eq!(
            dns,
            [
                "api.example.com",
                "cp.example.com",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "node-1"
            ]
        );
        let ips: Vec<String> = ips.iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["10.96.0.1", "10.0.0.1", "10.0.0.9"]);
        let (dns, ips) = find("etcd-server").unwrap().alt_names(&params(dir.path())).unwrap();
        assert_eq!(dns, ["localhost", "node-1"]);
        assert_eq!(ips.len(), 3);
    }

    #[test]
    fn all_writes_the_tree_once_and_then_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = params(dir.path());
        all(&p, &|_| false).unwrap();
        for f in [
            "ca.crt",
            "ca.key",
            "apiserver.crt",
            "apiserver-kubelet-client.key",
            "front-proxy-ca.crt",
            "front-proxy-client.crt",
            "etcd/ca.crt",
            "etcd/server.crt",
            "etcd/peer.key",
            "etcd/healthcheck-client.crt",
            "apiserver-etcd-client.crt",
            "sa.key",
            "sa.pub",
        ] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        let pem = std::fs::read_to_string(dir.path().join("apiserver-etcd-client.crt")).unwrap();
        let etcd_ca = std::fs::read_to_string(dir.path().join("etcd/ca.crt")).unwrap();
        let ca = std::fs::read_to_string(dir.path().join("ca.crt")).unwrap();
        assert!(pki::signed_by(&pem, &etcd_ca));
        assert!(!pki::signed_by(&pem, &ca));
        let before = std::fs::read(dir.path().join("apiserver.crt")).unwrap();
        all(&p, &|_| false).unwrap();
        assert_eq!(before, std::fs::read(dir.path().join("apiserver.crt")).unwrap());
        let s = pki::subject_of_pem(&std::fs::read_to_string(dir.path().join("etcd/server.crt")).unwrap()).unwrap();
        assert_eq!(s.common_name, "node-1");
        let s = pki::subject_of_pem(&std::fs::read_to_string(dir.path().join("apiserver-kubelet-client.crt")).unwrap())
            .unwrap();
        assert_eq!(s.organizations, ["kubeadm:cluster-admins"]);
    }

    #[test]
    fn a_leaf_from_another_ca_is_refused() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        all(&params(a.path()), &|_| false).unwrap();
        create(&params(b.path()), find("ca").unwrap()).unwrap();
        std::fs::copy(a.path().join("apiserver.crt"), b.path().join("apiserver.crt")).unwrap();
        let e = create(&params(b.path()), find("apiserver").unwrap()).unwrap_err().to_string();
        assert!(e.contains("certificate apiserver not signed by CA certificate ca"), "{e}");
    }
}
