//! The flags every upstream daemon shares, with upstream's names and defaults, as clap
//! argument groups a daemon flattens into its own command line.

use clap::{ArgAction, Args};
use std::path::PathBuf;
use std::time::Duration;

/// Go's `strconv.ParseBool`, which pflag uses for boolean flags.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`ns`, `us`/`µs`, `ms`,
/// `s`, `m`, `h`), e.g. `15s`, `1m30s`, `1.5h`, `0`.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("time: invalid duration {s:?}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(format!("time: negative duration {s:?} is not allowed here"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        rest = &rest[unit_end..];
        total += value * unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

/// Go's `Duration.String()`: `15s`, `1m0s`, `2h0m0s`, `500ms`.
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    // Under a second: the largest of ns, µs and ms below the value, with the rest as a
    // fraction (Go's `502.334893ms`).
    if nanos < 1_000_000_000 {
        let (unit, per) = match nanos {
            0..1_000 => return format!("{nanos}ns"),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        let (whole, frac) = (nanos / per, nanos % per);
        if frac == 0 {
            return format!("{whole}{unit}");
        }
        let digits = if per == 1_000 { 3 } else { 6 };
        let f = format!("{frac:0digits$}");
        return format!("{whole}.{}{unit}", f.trim_end_matches('0'));
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let s = if frac == 0 {
        format!("{}s", secs % 60)
    } else {
        let f = format!("{:09}", frac);
        format!("{}.{}s", secs % 60, f.trim_end_matches('0'))
    };
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{h}h{m}m{s}")
    } else if secs >= 60 {
        format!("{m}m{s}")
    } else {
        s
    }
}

/// How to reach the apiserver (`--kubeconfig`, `--master`) and how hard to use it.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientFlags {
    /// Path to kubeconfig file with authorization and master location information (the master
    /// location can be overridden by the master flag).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The address of the Kubernetes API server (overrides any value in kubeconfig).
    #[arg(long)]
    pub master: Option<String>,
    /// QPS to use while talking with kubernetes apiserver (the daemon's default when unset).
    #[arg(long)]
    pub kube_api_qps: Option<f32>,
    /// Burst to use while talking with kubernetes apiserver (the daemon's default when unset).
    #[arg(long)]
    pub kube_api_burst: Option<u32>,
    /// Content type of requests sent to apiserver. Accepted for compatibility; requests are JSON.
    #[arg(long, default_value = "application/vnd.kubernetes.protobuf")]
    pub kube_api_content_type: String,
}

/// `--leader-elect*`: leader election on a Lease in `kube-system`.
#[derive(Args, Debug, Clone)]
pub struct LeaderElectionFlags {
    /// Start a leader election client and gain leadership before executing the main loop.
    #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub leader_elect: bool,
    /// The duration that non-leader candidates will wait after observing a leadership renewal
    /// until attempting to acquire leadership of a led but unrenewed leader slot.
    #[arg(long, default_value = "15s", value_parser = parse_go_duration)]
    pub leader_elect_lease_duration: Duration,
    /// The interval between attempts by the acting master to renew a leadership slot before it
    /// stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_go_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// The duration the clients should wait between attempting acquisition and renewal of a
    /// leadership.
    #[arg(long, default_value = "2s", value_parser = parse_go_duration)]
    pub leader_elect_retry_period: Duration,
    /// The type of resource object that is used for locking during leader election. Supported
    /// options are 'leases'.
    #[arg(long, default_value = "leases")]
    pub leader_elect_resource_lock: String,
    /// The name of resource object that is used for locking during leader election (the
    /// daemon's name when unset).
    #[arg(long)]
    pub leader_elect_resource_name: Option<String>,
    /// The namespace of resource object that is used for locking during leader election.
    #[arg(long, default_value = "kube-system")]
    pub leader_elect_resource_namespace: String,
}

/// `--secure-port`, `--bind-address` and the serving certificate.
#[derive(Args, Debug, Clone)]
pub struct ServingFlags {
    /// The port on which to serve HTTPS with authentication and authorization. If 0, don't
    /// serve HTTPS at all (the daemon's port when unset).
    #[arg(long)]
    pub secure_port: Option<u16>,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// The directory where the TLS certs are located. If --tls-cert-file and
    /// --tls-private-key-file are provided, this flag will be ignored.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// File containing the default x509 Certificate for HTTPS.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
}

/// Delegated authentication and authorization of the secure port.
#[derive(Args, Debug, Clone)]
pub struct DelegatedAuthFlags {
    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// tokenreviews.authentication.k8s.io.
    #[arg(long)]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// subjectaccessreviews.authorization.k8s.io.
    #[arg(long)]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// If set, any request presenting a client certificate signed by one of the authorities in
    /// the client-ca-file is authenticated with an identity corresponding to the CommonName of
    /// the client certificate.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// If false, the authentication-kubeconfig will be used to lookup missing authentication
    /// configuration from the cluster.
    #[arg(long, default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = parse_go_bool, action = ArgAction::Set)]
    pub authentication_skip_lookup: bool,
    /// If true, failures to look up missing authentication configuration from the cluster are
    /// not considered fatal. The default is the daemon's (kube-scheduler: true,
    /// kube-controller-manager: false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub authentication_tolerate_lookup_failure: Option<bool>,
    /// A list of HTTP paths to skip during authorization.
    #[arg(long, default_value = "/healthz,/readyz,/livez", value_delimiter = ',')]
    pub authorization_always_allow_paths: Vec<String>,
    /// Root certificate bundle to use to verify client certificates on incoming requests
    /// before trusting usernames in headers specified by --requestheader-username-headers.
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// List of client certificate common names to allow to provide usernames in headers.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// List of request headers to inspect for usernames.
    #[arg(long, default_value = "x-remote-user", value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,
    /// List of request headers to inspect for groups.
    #[arg(long, default_value = "x-remote-group", value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,
    /// List of request header prefixes to inspect.
    #[arg(long, default_value = "x-remote-extra-", value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,
}

/// The flags every control-plane daemon shares (client, leader election, secure serving,
/// delegated authn/authz, logging), flattened into each daemon's command line.
#[derive(Args, Debug, Clone)]
pub struct DaemonFlags {
    #[command(flatten)]
    pub client: ClientFlags,
    #[command(flatten)]
    pub leader: LeaderElectionFlags,
    #[command(flatten)]
    pub serving: ServingFlags,
    #[command(flatten)]
    pub auth: DelegatedAuthFlags,
    #[command(flatten)]
    pub log: LogFlags,
}

/// klog's verbosity and the logging options upstream daemons accept.
#[derive(Args, Debug, Clone, Default)]
pub struct LogFlags {
    /// number for the log level verbosity
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
    /// Sets the log format. Permitted formats: "text".
    #[arg(long, default_value = "text")]
    pub logging_format: String,
    /// Maximum number of seconds between log flushes.
    #[arg(long, value_parser = parse_go_duration)]
    pub log_flush_frequency: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cmd {
        #[command(flatten)]
        le: LeaderElectionFlags,
        #[command(flatten)]
        log: LogFlags,
    }

    #[test]
    fn go_durations_parse_and_print_as_go_does() {
        for (text, secs) in
            [("15s", 15.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("500ms", 0.5), ("0", 0.0), ("2h0m0s", 7200.0)]
        {
            assert_eq!(parse_go_duration(text).unwrap().as_secs_f64(), secs, "{text}");
        }
        for bad in ["", "15", "s", "1x", "-1s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_go_duration(Duration::from_secs(15)), "15s");
        assert_eq!(format_go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_go_duration(Duration::from_secs(8760 * 3600)), "8760h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(5)), "5ms");
        assert_eq!(format_go_duration(Duration::from_nanos(502_334_893)), "502.334893ms");
        assert_eq!(format_go_duration(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(format_go_duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(format_go_duration(Duration::from_nanos(1_502_287_868)), "1.502287868s");
    }

    #[test]
    fn flags_take_upstreams_spellings() {
        let c = Cmd::parse_from(["x", "--leader-elect=false", "--leader-elect-lease-duration=30s", "-v=4"]);
        assert!(!c.le.leader_elect);
        assert_eq!(c.le.leader_elect_lease_duration, Duration::from_secs(30));
        assert_eq!(c.log.verbosity, 4);
        let c = Cmd::parse_from(["x", "--leader-elect", "--v", "2"]);
        assert!(c.le.leader_elect);
        assert_eq!(c.log.verbosity, 2);
        assert_eq!(c.le.leader_elect_renew_deadline, Duration::from_secs(10));
        assert_eq!(c.le.leader_elect_retry_period, Duration::from_secs(2));
    }
}
