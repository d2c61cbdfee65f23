//! TLS serving configuration: the serving certificate, ALPN for HTTP/2 and HTTP/1.1, and client
//! certificates requested but checked by the authenticator rather than the handshake, so that a
//! certificate from an unknown CA makes the request anonymous instead of failing TLS (as
//! upstream's Go server does).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

use crate::PkiError as TlsError;

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Read(path.display().to_string(), e.to_string()))?
        .collect();
    let certs = certs.map_err(|e| TlsError::Read(path.display().to_string(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Read(path.display().to_string(), "no certificates found".into()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Read(path.display().to_string(), e.to_string()))
}

/// Verifies client certificates against the client CA on demand.
#[derive(Debug, Clone)]
pub struct ClientCa {
    inner: Arc<dyn ClientCertVerifier>,
    /// The CA certificates, for X.509 v1 client certificates (what `openssl x509 -req` makes
    /// without an extensions file), which webpki refuses but Go accepts.
    roots: Arc<Vec<CertificateDer<'static>>>,
}

impl ClientCa {
    pub fn load(path: &Path) -> Result<ClientCa, TlsError> {
        Self::from_certs(load_certs(path)?)
    }

    /// A verifier for the CA certificates in a PEM bundle held in memory.
    pub fn from_pem(pem: &str) -> Result<ClientCa, TlsError> {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
        let certs = certs.map_err(|e| TlsError::Config(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsError::Config("no certificates found".into()));
        }
        Self::from_certs(certs)
    }

    fn from_certs(certs: Vec<CertificateDer<'static>>) -> Result<ClientCa, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in certs.clone() {
            roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
        }
        let inner = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(ClientCa { inner, roots: Arc::new(certs) })
    }

    /// Whether the presented chain is valid for client auth and signed by the CA.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> bool {
        match chain.split_first() {
            Some((end, rest)) => {
                self.inner.verify_client_cert(end, rest, UnixTime::now()).is_ok() || self.verify_v1(end)
            }
            None => false,
        }
    }

    /// An X.509 v1 leaf signed directly by one of the CAs and valid now (v1 certificates carry
    /// no extensions, so there is no usage to check).
    fn verify_v1(&self, end: &CertificateDer<'_>) -> bool {
        let Ok((_, leaf)) = x509_parser::parse_x509_certificate(end.as_ref()) else { return false };
        if leaf.version() != x509_parser::x509::X509Version::V1 || !leaf.validity().is_valid() {
            return false;
        }
        self.roots.iter().any(|r| {
            x509_parser::parse_x509_certificate(r.as_ref()).is_ok_and(|(_, ca)| {
                ca.subject() == leaf.issuer() && leaf.verify_signature(Some(ca.public_key())).is_ok()
            })
        })
    }
}

/// Checks a TLS 1.3 handshake signature with the certificate's key, also for certificates
/// webpki cannot parse (X.509 v1).
fn verify_tls13_any(
    ca: &ClientCa,
    m: &[u8],
    c: &CertificateDer<'_>,
    d: &DigitallySignedStruct,
) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
    match ca.inner.verify_tls13_signature(m, c, d) {
        Ok(v) => Ok(v),
        Err(e) => {
            let Ok((_, cert)) = x509_parser::parse_x509_certificate(c.as_ref()) else { return Err(e) };
            let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(cert.public_key().raw);
            let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
            rustls::crypto::verify_tls13_signature_with_raw_key(m, &spki, d, &algs)
        }
    }
}

/// Requests a client certificate, accepts any, and checks only that the client holds its key.
#[derive(Debug)]
struct RequestClientCert {
    ca: ClientCa,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.ca.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.ca.inner.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        verify_tls13_any(&self.ca, m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.ca.inner.supported_verify_schemes()
    }
}

/// Builds the server configuration from certificate and key files.
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&ClientCa>) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_from(load_certs(cert)?, load_key(key)?, client_ca)
}

/// Builds the server configuration from a certificate chain and key in memory.
pub fn server_config_from(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&ClientCa>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(Arc::new(RequestClientCert { ca: ca.clone() })),
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(certs, key).map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Accepts any server certificate: Go's `InsecureSkipVerify`, for probes and for kubelets
/// when no `--kubelet-certificate-authority` is given.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration: server certificates checked against `ca` (any accepted without
/// one), a client certificate presented when `cert_key` is given. HTTP/1.1 only, since the
/// connections it makes may be upgraded to streaming protocols.
pub fn client_config(
    cert_key: Option<(&Path, &Path)>,
    ca: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in load_certs(ca)? {
                roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))),
    };
    let mut cfg = match cert_key {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| TlsError::Config(e.to_string()))?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
