//! The `kubeconfig` phase (`admin.conf`, `super-admin.conf`, `kubelet.conf`,
//! `controller-manager.conf`, `scheduler.conf` under `/etc/kubernetes`) and `kubeconfig user`:
//! kubeconfigs embedding the cluster CA and a client certificate it signs, with upstream's
//! identities (`phases/kubeconfig/kubeconfig.go`).

use crate::{Error, InitFlags, Resolved, UserFlags};
use std::path::Path;

/// Which apiserver a kubeconfig points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// `controlPlaneEndpoint` (the load balancer, when there is one).
    ControlPlane,
    /// This node's own apiserver.
    Local,
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub file: &'static str,
    /// The client name; `<node>` is replaced by the node's name.
    user: &'static str,
    org: &'static str,
    server: Server,
}

/// In upstream's order.
pub const SPECS: [Spec; 5] = [
    Spec {
        name: "admin",
        file: "admin.conf",
        user: "kubernetes-admin",
        org: "kubeadm:cluster-admins",
        server: Server::ControlPlane,
    },
    Spec {
        name: "super-admin",
        file: "super-admin.conf",
        user: "kubernetes-super-admin",
        org: "system:masters",
        server: Server::ControlPlane,
    },
    // Since v1.33 (ControlPlaneKubeletLocalMode) a control-plane kubelet talks to its own apiserver.
    Spec {
        name: "kubelet",
        file: "kubelet.conf",
        user: "system:node:<node>",
        org: "system:nodes",
        server: Server::Local,
    },
    Spec {
        name: "controller-manager",
        file: "controller-manager.conf",
        user: "system:kube-controller-manager",
        org: "",
        server: Server::Local,
    },
    Spec { name: "scheduler", file: "scheduler.conf", user: "system:kube-scheduler", org: "", server: Server::Local },
];

pub fn find(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

fn ca_of(text: &str) -> Option<String> {
    let kc: pki::Kubeconfig = serde_saphyr::from_str(text).ok()?;
    let ctx = kc.contexts.iter().find(|c| c.name == kc.current_context)?;
    let cluster = kc.clusters.iter().find(|c| c.name == ctx.context.cluster)?;
    Some(cluster.cluster.certificate_authority_data.clone())
}

/// Writes one kubeconfig unless it is there with this cluster's CA: `kubeadm init phase
/// kubeconfig <name>`.
pub fn create(r: &Resolved, spec: &Spec) -> Result<(), Error> {
    let dir = r.cluster.cert_dir();
    let ca = pki::read_pair(&dir, "ca").map_err(|_| {
        Error::Invalid("the CA files do not exist, please run `kubeadm init phase certs ca` to generate it".into())
    })?;
    let path = r.kubeconfig_dir.join(spec.file);
    let shown = path.display().to_string();
    if let Ok(text) = std::fs::read_to_string(&path) {
        use base64::Engine;
        let have = ca_of(&text).ok_or_else(|| {
            Error::Invalid(format!("failed to load kubeconfig file {shown} that already exists on disk"))
        })?;
        let have = base64::engine::general_purpose::STANDARD.decode(have.trim()).unwrap_or_default();
        let (have, want) = (String::from_utf8_lossy(&have), ca.cert_pem.trim());
        if have.trim() != want {
            return Err(Error::Invalid(format!(
                "a kubeconfig file {shown:?} exists already but has got the wrong CA cert"
            )));
        }
        println!("[kubeconfig] Using existing kubeconfig file: {shown:?}");
        return Ok(());
    }
    let user = spec.user.replace("<node>", r.node_name());
    let server = match spec.server {
        Server::ControlPlane => r.control_plane_url()?,
        Server::Local => r.local_url()?,
    };
    let p = r.cert_params()?;
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: user.clone(),
            organizations: if spec.org.is_empty() { vec![] } else { vec![spec.org.to_string()] },
            client: true,
            key: p.key,
            not_before: Some(p.start - time::Duration::minutes(5)),
            not_after: Some(p.start + p.leaf_validity),
            ..Default::default()
        },
    )?;
    println!("[kubeconfig] Writing {:?} kubeconfig file", spec.file);
    pki::write_kubeconfig(&path, &r.cluster.cluster_name, &server, &ca.cert_pem, &user, &leaf.cert_pem, &leaf.key_pem)?;
    Ok(())
}

/// `kubeadm init phase kubeconfig all`.
pub fn all(r: &Resolved, skip: &dyn Fn(&str) -> bool) -> Result<(), Error> {
    println!("[kubeconfig] Using kubeconfig folder {:?}", r.kubeconfig_dir.display().to_string());
    SPECS.iter().filter(|s| !skip(s.name)).try_for_each(|s| create(r, s))
}

/// `kubeadm kubeconfig user`: the kubeconfig, printed, for any client name; the CA from the
/// configuration's `certificatesDir`, the server its control-plane endpoint.
pub fn user(f: &UserFlags) -> Result<String, Error> {
    let secs = crate::config::go_duration_secs(&f.validity_period)
        .ok_or_else(|| Error::Duration(f.validity_period.clone(), "invalid duration".into()))?;
    let r = Resolved::from_flags(&InitFlags { config: f.config.clone(), ..Default::default() })?;
    let ca = pki::read_pair(Path::new(&r.cluster.certificates_dir), "ca")?;
    let now = time::OffsetDateTime::now_utc();
    let leaf = pki::issue(
        &ca,
        &pki::LeafSpec {
            common_name: f.client_name.clone(),
            organizations: f.org.clone(),
            client: true,
            key: r.key_algorithm()?,
            not_before: Some(now - time::Duration::minutes(5)),
            not_after: Some(now + time::Duration::seconds(secs as i64)),
            ..Default::default()
        },
    )?;
    Ok(pki::kubeconfig_text(
        &r.cluster.cluster_name,
        &r.control_plane_url()?,
        &ca.cert_pem,
        &f.client_name,
        &leaf.cert_pem,
        &leaf.key_pem,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(dir: &Path) -> Resolved {
        let flags = InitFlags {
            cert_dir: Some(dir.join("pki")),
            kubeconfig_dir: dir.to_path_buf(),
            apiserver_advertise_address: Some("10.0.0.1".parse().unwrap()),
            control_plane_endpoint: Some("cp.example.com".into()),
            node_name: Some("node-1".into()),
            ..Default::default()
        };
        let mut r = Resolved::from_flags(&flags).unwrap();
        r.cluster.encryption_algorithm = "ECDSA-P256".into();
        r
    }

    #[test]
    fn every_kubeconfig_carries_its_identity_and_server() {
        let dir = tempfile::tempdir().unwrap();
        let r = resolved(dir.path());
        crate::certs::create(&r.cert_params().unwrap(), crate::certs::find("ca").unwrap()).unwrap();
        all(&r, &|_| false).unwrap();
        let read = |f: &str| -> pki::Kubeconfig {
            serde_saphyr::from_str(&std::fs::read_to_string(dir.path().join(f)).unwrap()).unwrap()
        };
        let subject = |kc: &pki::Kubeconfig| {
            use base64::Engine;
            let pem =
                base64::engine::general_purpose::STANDARD.decode(&kc.users[0].user.client_certificate_data).unwrap();
            pki::subject_of_pem(&String::from_utf8(pem).unwrap()).unwrap()
        };
        let admin = read("admin.conf");
        assert_eq!(admin.clusters[0].cluster.server, "https://cp.example.com:6443");
        assert_eq!(admin.current_context, "kubernetes-admin@kubernetes");
        assert_eq!(subject(&admin).organizations, ["kubeadm:cluster-admins"]);
        assert_eq!(subject(&read("super-admin.conf")).organizations, ["system:masters"]);
        let kubelet = read("kubelet.conf");
        assert_eq!(kubelet.clusters[0].cluster.server, "https://10.0.0.1:6443");
        assert_eq!(subject(&kubelet).common_name, "system:node:node-1");
        assert_eq!(read("scheduler.conf").current_context, "system:kube-scheduler@kubernetes");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin.conf")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // Again: the files stay; with another CA, they are refused.
        let before = std::fs::read(dir.path().join("admin.conf")).unwrap();
        all(&r, &|_| false).unwrap();
        assert_eq!(before, std::fs::read(dir.path().join("admin.conf")).unwrap());
        std::fs::remove_file(dir.path().join("pki/ca.crt")).unwrap();
        crate::certs::create(&r.cert_params().unwrap(), crate::certs::find("ca").unwrap()).unwrap();
        let e = create(&r, find("admin").unwrap()).unwrap_err().to_string();
        assert!(e.contains("exists already but has got the wrong CA cert"), "{e}");
    }
}
