//! kube-apiserver's command line, with upstream's flag names and defaults. Flags that belong to
//! later features are accepted (so upstream command lines start) and noted as not yet in effect.

use clap::{ArgAction, Parser};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

/// Parses Go's duration syntax (`5m`, `1h30m`, `250ms`, `10s`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "kube-apiserver",
    about = "The Kubernetes API server validates and configures data for the api objects which include pods, services, replicationcontrollers, and others.",
    version = crate::version::GIT_VERSION
)]
pub struct Options {
    /// List of etcd servers to connect with (scheme://ip:port), comma separated.
    #[arg(long = "etcd-servers", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// SSL Certificate Authority file used to secure etcd communication.
    #[arg(long = "etcd-cafile")]
    pub etcd_cafile: Option<String>,
    /// SSL certification file used to secure etcd communication.
    #[arg(long = "etcd-certfile")]
    pub etcd_certfile: Option<String>,
    /// SSL key file used to secure etcd communication.
    #[arg(long = "etcd-keyfile")]
    pub etcd_keyfile: Option<String>,
    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long = "etcd-prefix", default_value = "/registry")]
    pub etcd_prefix: String,
    /// The interval of compaction requests. If 0, the compaction request from apiserver is disabled.
    #[arg(long = "etcd-compaction-interval", default_value = "5m", value_parser = parse_duration)]
    pub etcd_compaction_interval: Duration,
    /// Amount of time to retain events.
    #[arg(long = "event-ttl", default_value = "1h0m0s", value_parser = parse_duration)]
    pub event_ttl: Duration,
    /// The IP address on which to advertise the apiserver to members of the cluster.
    #[arg(long = "advertise-address")]
    pub advertise_address: Option<IpAddr>,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long = "secure-port", default_value_t = 6443)]
    pub secure_port: u16,
    /// A CIDR notation IP range from which to assign service cluster IPs.
    #[arg(long = "service-cluster-ip-range", default_value = "10.0.0.0/24")]
    pub service_cluster_ip_range: String,
    /// A port range to reserve for services with NodePort visibility.
    #[arg(long = "service-node-port-range", default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// File containing the default x509 Certificate for HTTPS.
    #[arg(long = "tls-cert-file")]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long = "tls-private-key-file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// The directory where the TLS certs are located. Ignored if --tls-cert-file is provided.
    #[arg(long = "cert-dir", default_value = "/var/run/kubernetes")]
    pub cert_dir: PathBuf,
    /// If set, any request presenting a client certificate signed by one of the authorities in
    /// the client-ca-file is authenticated with an identity corresponding to the CommonName.
    #[arg(long = "client-ca-file")]
    pub client_ca_file: Option<PathBuf>,
    /// Root certificate bundle to verify client certificates on incoming requests before
    /// trusting usernames in headers specified by --requestheader-username-headers.
    #[arg(long = "requestheader-client-ca-file")]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// List of client certificate common names to allow to provide usernames in headers.
    /// If empty, any client certificate validated by --requestheader-client-ca-file is allowed.
    #[arg(long = "requestheader-allowed-names", value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// List of request headers to inspect for usernames. X-Remote-User is common.
    #[arg(long = "requestheader-username-headers", value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,
    /// List of request headers to inspect for UIDs. X-Remote-Uid is suggested.
    #[arg(long = "requestheader-uid-headers", value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,
    /// List of request headers to inspect for groups. X-Remote-Group is suggested.
    #[arg(long = "requestheader-group-headers", value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,
    /// List of request header prefixes to inspect. X-Remote-Extra- is suggested.
    #[arg(long = "requestheader-extra-headers-prefix", value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Client certificate used to prove the identity of the aggregator or kube-apiserver when it
    /// must call out during a request. This includes proxying requests to a user api-server and
    /// calling out to webhook admission plugins. It is expected that this cert includes a
    /// signature from the CA in the --requestheader-client-ca-file flag.
    #[arg(long = "proxy-client-cert-file")]
    pub proxy_client_cert_file: Option<PathBuf>,
    /// Private key for the client certificate used to prove the identity of the aggregator or
    /// kube-apiserver when it must call out during a request.
    #[arg(long = "proxy-client-key-file")]
    pub proxy_client_key_file: Option<PathBuf>,
    /// The URL of the OpenID issuer, only HTTPS scheme will be accepted.
    #[arg(long = "oidc-issuer-url")]
    pub oidc_issuer_url: Option<String>,
    /// The client ID for the OpenID Connect client, must be set if oidc-issuer-url is set.
    #[arg(long = "oidc-client-id")]
    pub oidc_client_id: Option<String>,
    /// The OpenID claim to use as the user name.
    #[arg(long = "oidc-username-claim", default_value = "sub")]
    pub oidc_username_claim: String,
    /// If provided, all usernames will be prefixed with this value ('-' disables prefixing).
    #[arg(long = "oidc-username-prefix")]
    pub oidc_username_prefix: Option<String>,
    /// If provided, the name of a custom OpenID Connect claim for specifying user groups.
    #[arg(long = "oidc-groups-claim")]
    pub oidc_groups_claim: Option<String>,
    /// If provided, all groups will be prefixed with this value.
    #[arg(long = "oidc-groups-prefix", default_value = "")]
    pub oidc_groups_prefix: String,
    /// If set, the OpenID server's certificate will be verified by one of the authorities in the oidc-ca-file.
    #[arg(long = "oidc-ca-file")]
    pub oidc_ca_file: Option<PathBuf>,
    /// A key=value pair that describes a required claim in the ID Token. Repeat for several.
    #[arg(long = "oidc-required-claim")]
    pub oidc_required_claim: Vec<String>,
    /// Comma-separated list of allowed JOSE asymmetric signing algorithms.
    #[arg(long = "oidc-signing-algs", value_delimiter = ',', default_value = "RS256")]
    pub oidc_signing_algs: Vec<String>,
    /// File with webhook configuration for token authentication in kubeconfig format.
    #[arg(long = "authentication-token-webhook-config-file")]
    pub authentication_token_webhook_config_file: Option<PathBuf>,
    /// The API version of the authentication.k8s.io TokenReview to send to and expect from the webhook.
    #[arg(long = "authentication-token-webhook-version", default_value = "v1beta1")]
    pub authentication_token_webhook_version: String,
    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long = "authentication-token-webhook-cache-ttl", default_value = "2m0s", value_parser = parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// Enables anonymous requests to the secure port of the API server.
    #[arg(long = "anonymous-auth", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub anonymous_auth: bool,
    /// Ordered list of plug-ins to do authorization on secure port.
    #[arg(long = "authorization-mode", value_delimiter = ',', default_value = "AlwaysAllow")]
    pub authorization_mode: Vec<String>,
    /// File with authorization policy in json line by line format, used with
    /// --authorization-mode=ABAC, on the secure port.
    #[arg(long = "authorization-policy-file")]
    pub authorization_policy_file: Option<PathBuf>,
    /// File with webhook configuration in kubeconfig format, used with
    /// --authorization-mode=Webhook.
    #[arg(long = "authorization-webhook-config-file")]
    pub authorization_webhook_config_file: Option<PathBuf>,
    /// The API version of the authorization.k8s.io SubjectAccessReview to send to and expect
    /// from the webhook.
    #[arg(long = "authorization-webhook-version", default_value = "v1beta1")]
    pub authorization_webhook_version: String,
    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long = "authorization-webhook-cache-authorized-ttl", default_value = "5m0s", value_parser = parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: Duration,
    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long = "authorization-webhook-cache-unauthorized-ttl", default_value = "30s", value_parser = parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,
    /// admission plugins that should be enabled in addition to default enabled ones.
    #[arg(long = "enable-admission-plugins", value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,
    /// admission plugins that should be disabled although they are in the default enabled plugins list.
    #[arg(long = "disable-admission-plugins", value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,
    /// File with admission control configuration.
    #[arg(long = "admission-control-config-file")]
    pub admission_control_config_file: Option<PathBuf>,
    /// If true, allow privileged containers.
    #[arg(long = "allow-privileged", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub allow_privileged: Option<bool>,
    /// Number of apiserver replicas (the `kubernetes` endpoints are reconciled for this one).
    #[arg(long = "apiserver-count", default_value_t = 1)]
    pub apiserver_count: u32,
    /// Use an endpoint reconciler (master-count, lease, none).
    #[arg(long = "endpoint-reconciler-type", default_value = "lease")]
    pub endpoint_reconciler_type: String,
    /// An optional field indicating the minimum number of seconds a handler must keep a request
    /// open before timing it out (watches get a random timeout between this and twice this).
    #[arg(long = "min-request-timeout", default_value_t = 1800)]
    pub min_request_timeout: u64,
    /// An optional field indicating the duration a handler must keep a request open before timing it out.
    #[arg(long = "request-timeout", default_value = "1m0s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Enable watch caching in the apiserver.
    #[arg(long = "watch-cache", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub watch_cache: bool,
    /// Watch cache size settings for some resources (pods, nodes, etc.), comma separated. The individual setting format: resource[.group]#size, where resource is lowercase plural (no version), group is omitted for resources of apiVersion v1 (the legacy core API) and included for others, and size is a number. The only meaningful size setting to supply here is zero, which means to disable watch caching for the associated resource; all non-zero values are equivalent and mean to not disable watch caching for that resource.
    #[arg(long = "watch-cache-sizes", value_delimiter = ',')]
    pub watch_cache_sizes: Vec<String>,
    /// Default watch cache size (events kept per resource for resuming watchers).
    #[arg(long = "default-watch-cache-size", default_value_t = 10_000)]
    pub default_watch_cache_size: usize,
    /// How often watchers that asked for bookmarks get one (not an upstream flag; upstream's
    /// interval is about a minute).
    #[arg(long = "watch-bookmark-interval", default_value = "1m", value_parser = parse_duration, hide = true)]
    pub watch_bookmark_interval: Duration,
    /// The maximum number of non-mutating requests in flight at a given time.
    #[arg(long = "max-requests-inflight", default_value_t = 400)]
    pub max_requests_inflight: u32,
    /// The maximum number of mutating requests in flight at a given time.
    #[arg(long = "max-mutating-requests-inflight", default_value_t = 200)]
    pub max_mutating_requests_inflight: u32,
    /// The storage backend for persistence. Only etcd3 is supported.
    #[arg(long = "storage-backend", default_value = "etcd3")]
    pub storage_backend: String,
    /// The media type to use to store objects in storage (only application/json here).
    #[arg(long = "storage-media-type", default_value = "application/json")]
    pub storage_media_type: String,
    /// A set of key=value pairs that describe feature gates for alpha/experimental features.
    #[arg(long = "feature-gates", value_delimiter = ',')]
    pub feature_gates: Vec<String>,
    /// A set of key=value pairs that enable or disable built-in APIs.
    #[arg(long = "runtime-config", value_delimiter = ',')]
    pub runtime_config: Vec<String>,
    /// File containing PEM-encoded x509 RSA or ECDSA private or public keys, used to verify
    /// ServiceAccount tokens. May be given several times. Defaults to
    /// --service-account-signing-key-file.
    #[arg(long = "service-account-key-file", value_delimiter = ',')]
    pub service_account_key_file: Vec<String>,
    /// Path to the file that contains the current private key of the service account token issuer.
    #[arg(long = "service-account-signing-key-file")]
    pub service_account_signing_key_file: Option<String>,
    /// Identifier of the service account token issuer. The first one signs; all are accepted.
    #[arg(long = "service-account-issuer")]
    pub service_account_issuer: Vec<String>,
    /// Overrides the URI for the JSON Web Key Set in the discovery doc served at
    /// /.well-known/openid-configuration.
    #[arg(long = "service-account-jwks-uri")]
    pub service_account_jwks_uri: Option<String>,
    /// If true, validate ServiceAccount tokens exist in etcd as part of authentication.
    #[arg(long = "service-account-lookup", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub service_account_lookup: bool,
    /// The maximum validity duration of a token created by the service account token issuer.
    #[arg(long = "service-account-max-token-expiration", value_parser = parse_duration)]
    pub service_account_max_token_expiration: Option<Duration>,
    /// Turns on projected service account expiration extension during token generation.
    #[arg(long = "service-account-extend-token-expiration", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub service_account_extend_token_expiration: bool,
    /// Identifiers of the API. Defaults to the first --service-account-issuer.
    #[arg(long = "api-audiences", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// Path to a client cert file for TLS (to the kubelets).
    #[arg(long = "kubelet-client-certificate")]
    pub kubelet_client_certificate: Option<String>,
    /// Path to a client key file for TLS (to the kubelets).
    #[arg(long = "kubelet-client-key")]
    pub kubelet_client_key: Option<String>,
    /// Path to a cert file for the certificate authority (of the kubelets' serving
    /// certificates; unset, they are not verified, as upstream).
    #[arg(long = "kubelet-certificate-authority")]
    pub kubelet_certificate_authority: Option<String>,
    /// List of the preferred NodeAddressTypes to use for kubelet connections.
    #[arg(
        long = "kubelet-preferred-address-types",
        value_delimiter = ',',
        default_value = "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP"
    )]
    pub kubelet_preferred_address_types: Vec<String>,
    /// DEPRECATED: kubelet port (used when a node does not report its kubelet's port).
    #[arg(long = "kubelet-port", default_value_t = 10250)]
    pub kubelet_port: u16,
    /// File with apiserver egress selector configuration.
    #[arg(long = "egress-selector-config-file")]
    pub egress_selector_config_file: Option<PathBuf>,
    /// Timeout for kubelet operations.
    #[arg(long = "kubelet-timeout", value_parser = parse_duration, default_value = "5s")]
    pub kubelet_timeout: Duration,
    /// Enable to allow secrets of type 'bootstrap.kubernetes.io/token' in the 'kube-system'
    /// namespace to be used for TLS bootstrapping authentication.
    #[arg(long = "enable-bootstrap-token-auth", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub enable_bootstrap_token_auth: bool,
    /// If set, the file that will be used to secure the secure port of the API server via token authentication.
    #[arg(long = "token-auth-file")]
    pub token_auth_file: Option<PathBuf>,
    /// The file containing configuration for encryption providers to be used for storing
    /// secrets in etcd.
    #[arg(long = "encryption-provider-config")]
    pub encryption_provider_config: Option<PathBuf>,
    /// Path to the file that defines the audit policy configuration.
    #[arg(long = "audit-policy-file")]
    pub audit_policy_file: Option<PathBuf>,
    /// If set, all requests coming to the apiserver will be logged to this file. '-' means
    /// standard out.
    #[arg(long = "audit-log-path")]
    pub audit_log_path: Option<String>,
    /// The maximum number of days to retain old audit log files based on the timestamp encoded
    /// in their filename.
    #[arg(long = "audit-log-maxage", default_value_t = 0)]
    pub audit_log_maxage: u64,
    /// The maximum number of old audit log files to retain.
    #[arg(long = "audit-log-maxbackup", default_value_t = 0)]
    pub audit_log_maxbackup: usize,
    /// The maximum size in megabytes of the audit log file before it gets rotated.
    #[arg(long = "audit-log-maxsize", default_value_t = 0)]
    pub audit_log_maxsize: u64,
    /// Format of saved audits. Only "json" is supported here.
    #[arg(long = "audit-log-format", default_value = "json")]
    pub audit_log_format: String,
    /// Number for the log level verbosity.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

impl Options {
    /// Upstream's option validation; every problem found, as upstream aggregates them.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        if self.etcd_servers.iter().all(|s| s.trim().is_empty()) {
            errs.push("--etcd-servers must be specified".to_string());
        }
        if let Err(e) = crate::backend::uncached_resources(&self.watch_cache_sizes) {
            errs.push(e);
        }
        if self.event_ttl.is_zero() {
            errs.push("--event-ttl must be greater than 0".to_string());
        }
        if self.storage_backend != "etcd3" {
            errs.push(
                "--storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3'"
                    .to_string(),
            );
        }
        if self.service_cluster_ip_range.parse::<ipnet::IpNet>().is_err() {
            errs.push("service-cluster-ip-range[0] is not a valid cidr".to_string());
        }
        if crate::alloc::parse_port_range(&self.service_node_port_range).is_none() {
            errs.push(format!(
                "invalid argument {:?} for \"--service-node-port-range\" flag",
                self.service_node_port_range
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_private_key_file.is_some() {
            errs.push("--tls-cert-file and --tls-private-key-file must be specified together".to_string());
        }
        if self.proxy_client_cert_file.is_some() != self.proxy_client_key_file.is_some() {
            errs.push("--proxy-client-cert-file and --proxy-client-key-file must be specified together".to_string());
        }
        if self.service_account_issuer.is_empty() {
            errs.push("service-account-issuer is a required flag".to_string());
        }
        if self.service_account_signing_key_file.is_none() || self.service_account_issuer.is_empty() {
            errs.push("--service-account-signing-key-file and --service-account-issuer are required flags".to_string());
        }
        if self.authorization_mode.iter().any(|m| m == "Webhook") && self.authorization_webhook_config_file.is_none() {
            errs.push("authorization-mode Webhook's authorization config file not passed".to_string());
        }
        if self.audit_log_format != "json" {
            errs.push(format!("invalid audit log format {}, allowed formats are \"json\"", self.audit_log_format));
        }
        if self.authorization_mode.iter().any(|m| m == "ABAC") && self.authorization_policy_file.is_none() {
            errs.push("authorization-mode ABAC's authorization policy file not passed".to_string());
        }
        for m in &self.authorization_mode {
            if !["AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"].contains(&m.as_str()) {
                errs.push(format!("authorization-mode {m:?} is not a valid mode"));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("x"), None);
    }

    #[test]
    fn etcd_servers_required() {
        let o = Options::try_parse_from(["kube-apiserver"]).unwrap();
        assert_eq!(
            o.validate().unwrap_err(),
            vec![
                "--etcd-servers must be specified".to_string(),
                "service-account-issuer is a required flag".to_string(),
                "--service-account-signing-key-file and --service-account-issuer are required flags".to_string()
            ]
        );
        let o = Options::try_parse_from([
            "kube-apiserver",
            "--etcd-servers=http://127.0.0.1:2379,http://127.0.0.1:2380",
            "--anonymous-auth=false",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
        ])
        .unwrap();
        assert_eq!(o.etcd_servers.len(), 2);
        assert!(!o.anonymous_auth);
        assert!(o.validate().is_ok());
    }
}
