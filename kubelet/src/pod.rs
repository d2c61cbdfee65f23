//! From a pod's spec to what the runtime is asked for: the sandbox config (hostname, DNS, port
//! mappings, namespaces, cgroup parent), each container's config (command, env, mounts,
//! resources, labels the kubelet finds it by again), and the pod's QoS class.

use crate::config::Config;
use crate::cri::api;
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
pub const ANN_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const ANN_TERMINATION_MESSAGE_PATH: &str = "io.kubernetes.container.terminationMessagePath";
pub const ANN_GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";

pub fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or("")
}
pub fn namespace(p: &Pod) -> &str {
    p.metadata.namespace.as_deref().unwrap_or("")
}
pub fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

/// `name_namespace(uid)`, as upstream names a pod in logs and events.
pub fn full_name(p: &Pod) -> String {
    format!("{}_{}({})", name(p), namespace(p), uid(p))
}

pub fn host_network(p: &Pod) -> bool {
    p.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false)
}

/// The pod's QoS class: as the apiserver recorded it, else (static pods) computed as upstream.
pub fn qos_class(p: &Pod) -> &'static str {
    match p.status.as_ref().and_then(|s| s.qos_class.as_deref()) {
        Some("Guaranteed") => "Guaranteed",
        Some("Burstable") => "Burstable",
        Some("BestEffort") => "BestEffort",
        _ => api_types::kinds::qos_class(&serde_json::to_value(p).unwrap_or_default()),
    }
}

/// The pod's cgroup (cgroupfs form): `<root>/kubepods[/burstable|/besteffort]/pod<uid>`.
pub fn cgroup_parent(cfg: &Config, p: &Pod) -> String {
    let root = cfg.cgroup_root.trim_end_matches('/');
    if !cfg.cgroups_per_qos {
        return if root.is_empty() { "/".into() } else { root.to_string() };
    }
    let qos = match qos_class(p) {
        "Guaranteed" => String::new(),
        "Burstable" => "/burstable".into(),
        _ => "/besteffort".into(),
    };
    format!("{root}/kubepods{qos}/pod{}", uid(p))
}

/// The pod's directory under the kubelet's root (`pods/<uid>`).
pub fn pod_dir(cfg: &Config, uid: &str) -> PathBuf {
    cfg.root_dir.join("pods").join(uid)
}

/// `<podLogsDir>/<namespace>_<name>_<uid>`.
pub fn log_dir(cfg: &Config, p: &Pod) -> PathBuf {
    cfg.pod_logs_dir.join(format!("{}_{}_{}", namespace(p), name(p), uid(p)))
}

/// The pod's hostname: `spec.hostname`, else its name cut to 63 characters.
pub fn hostname(p: &Pod) -> String {
    let spec = p.spec.as_ref();
    match spec.and_then(|s| s.hostname.clone()).filter(|h| !h.is_empty()) {
        Some(h) => h,
        None => {
            let n = name(p);
            let cut = &n[..n.len().min(63)];
            cut.trim_end_matches(['-', '.']).to_string()
        }
    }
}

/// A resolv.conf's nameservers, search domains and options.
pub fn parse_resolv_conf(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut ns, mut search, mut opts) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => ns.extend(f.next().map(str::to_string)),
            Some("search") => search = f.map(str::to_string).collect(),
            Some("options") => opts.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    (ns, search, opts)
}

/// The pod's DNS settings from its `dnsPolicy` and `dnsConfig`.
pub fn dns_config(cfg: &Config, p: &Pod, host_resolv: &str) -> api::DnsConfig {
    let spec = p.spec.clone().unwrap_or_default();
    let policy = spec.dns_policy.clone().unwrap_or_else(|| "ClusterFirst".into());
    let (host_ns, host_search, host_opts) = parse_resolv_conf(host_resolv);
    let cluster = match policy.as_str() {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network(p),
        _ => false,
    };
    let mut dns = if policy == "None" {
        api::DnsConfig::default()
    } else if cluster && !cfg.cluster_dns.is_empty() {
        let d = cfg.cluster_domain.trim_end_matches('.');
        let mut searches = if d.is_empty() {
            vec![]
        } else {
            vec![format!("{}.svc.{d}", namespace(p)), format!("svc.{d}"), d.to_string()]
        };
        searches.extend(host_search.iter().cloned());
        api::DnsConfig { servers: cfg.cluster_dns.clone(), searches, options: vec!["ndots:5".into()] }
    } else {
        api::DnsConfig { servers: host_ns, searches: host_search, options: host_opts }
    };
    if let Some(extra) = &spec.dns_config {
        for s in extra.nameservers.iter().flatten() {
            if !dns.servers.contains(s) {
                dns.servers.push(s.clone());
            }
        }
        for s in extra.searches.iter().flatten() {
            if !dns.searches.contains(s) {
                dns.searches.push(s.clone());
            }
        }
        for o in extra.options.iter().flatten() {
            let opt = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or("")),
                None => o.name.clone().unwrap_or_default(),
            };
            let key = opt.split(':').next().unwrap_or("").to_string();
            dns.options.retain(|x| x.split(':').next() != Some(key.as_str()));
            dns.options.push(opt);
        }
    }
    // Upstream limits: 3 nameservers, 32 search domains.
    dns.servers.truncate(3);
    dns.searches.truncate(32);
    dns
}

fn sandbox_labels(p: &Pod) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = p.metadata.labels.clone().unwrap_or_default().into_iter().collect();
    l.insert(LABEL_POD_NAME.into(), name(p).into());
    l.insert(LABEL_POD_NAMESPACE.into(), namespace(p).into());
    l.insert(LABEL_POD_UID.into(), uid(p).into());
    l.insert("io.kubernetes.container.name".into(), "POD".into());
    l
}

fn ns_mode(host: bool, default: i32) -> i32 {
    if host {
        api::NamespaceMode::Node as i32
    } else {
        default
    }
}

pub fn namespace_options(p: &Pod) -> api::NamespaceOption {
    let spec = p.spec.clone().unwrap_or_default();
    let pid_default = if spec.share_process_namespace.unwrap_or(false) {
        api::NamespaceMode::Pod as i32
    } else {
        api::NamespaceMode::Container as i32
    };
    api::NamespaceOption {
        network: ns_mode(spec.host_network.unwrap_or(false), api::NamespaceMode::Pod as i32),
        pid: ns_mode(spec.host_pid.unwrap_or(false), pid_default),
        ipc: ns_mode(spec.host_ipc.unwrap_or(false), api::NamespaceMode::Pod as i32),
        ..Default::default()
    }
}

/// The sandbox config for `attempt` of the pod's sandbox.
pub fn sandbox_config(cfg: &Config, p: &Pod, attempt: u32, host_resolv: &str) -> api::PodSandboxConfig {
    let spec = p.spec.clone().unwrap_or_default();
    let mut ports = Vec::new();
    for c in &spec.containers {
        for port in c.ports.iter().flatten() {
            let Some(host_port) = port.host_port.filter(|h| *h > 0) else { continue };
            let protocol = match port.protocol.as_deref() {
                Some("UDP") => api::Protocol::Udp,
                Some("SCTP") => api::Protocol::Sctp,
                _ => api::Protocol::Tcp,
            };
            ports.push(api::PortMapping {
                protocol: protocol as i32,
                container_port: port.container_port,
                host_port,
                host_ip: port.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    let psc = spec.security_context.clone().unwrap_or_default();
    let sysctls = psc.sysctls.iter().flatten().map(|s| (s.name.clone(), s.value.clone())).collect();
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name(p).into(),
            uid: uid(p).into(),
            namespace: namespace(p).into(),
            attempt,
        }),
        hostname: if host_network(p) { String::new() } else { hostname(p) },
        log_directory: log_dir(cfg, p).display().to_string(),
        dns_config: Some(dns_config(cfg, p, host_resolv)),
        port_mappings: ports,
        labels: sandbox_labels(p),
        annotations: p.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(cfg, p),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(p)),
                // The runtime refuses privileged containers in an unprivileged sandbox.
                privileged: has_privileged_container(p),
                run_as_user: psc.run_as_user.map(|v| api::Int64Value { value: v }),
                run_as_group: psc.run_as_group.map(|v| api::Int64Value { value: v }),
                supplemental_groups: psc.supplemental_groups.clone().unwrap_or_default(),
                seccomp: Some(api::SecurityProfile {
                    profile_type: api::security_profile::ProfileType::RuntimeDefault as i32,
                    localhost_ref: String::new(),
                }),
                ..Default::default()
            }),
            sysctls,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Some container of the pod (init, regular or ephemeral) is privileged: upstream's
/// `HasPrivilegedContainer`, which makes the sandbox privileged.
pub fn has_privileged_container(p: &Pod) -> bool {
    let Some(spec) = p.spec.as_ref() else { return false };
    let privileged = |sc: &Option<k8s_openapi::api::core::v1::SecurityContext>| {
        sc.as_ref().and_then(|s| s.privileged).unwrap_or(false)
    };
    spec.init_containers.iter().flatten().any(|c| privileged(&c.security_context))
        || spec.containers.iter().any(|c| privileged(&c.security_context))
        || spec.ephemeral_containers.iter().flatten().any(|c| privileged(&c.security_context))
}

/// `$(VAR)` references expanded from `env`, `$$` escaping, unknown references left as written.
pub fn expand(s: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'(' {
                if let Some(end) = s[i + 2..].find(')') {
                    let var = &s[i + 2..i + 2 + end];
                    match env.get(var) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&s[i..i + 3 + end]),
                    }
                    i += 3 + end;
                    continue;
                }
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The container's resources for the runtime: CPU shares and quota, memory limit.
pub fn container_resources(c: &Container) -> api::LinuxContainerResources {
    let res = c.resources.clone().unwrap_or_default();
    let limits = res.limits.unwrap_or_default();
    let requests = res.requests.unwrap_or_default();
    let cpu_req = requests.get("cpu").or(limits.get("cpu")).and_then(|q| crate::quantity::milli(&q.0));
    let cpu_lim = limits.get("cpu").and_then(|q| crate::quantity::milli(&q.0));
    let mem_lim = limits.get("memory").and_then(|q| crate::quantity::value(&q.0));
    const PERIOD: i64 = 100_000;
    api::LinuxContainerResources {
        cpu_shares: cpu_req.map(|m| (m * 1024 / 1000).max(2)).unwrap_or(2),
        cpu_period: if cpu_lim.is_some() { PERIOD } else { 0 },
        cpu_quota: cpu_lim.map(|m| (m * PERIOD / 1000).max(1000)).unwrap_or(0),
        memory_limit_in_bytes: mem_lim.unwrap_or(0),
        ..Default::default()
    }
}

/// The container's config; `env` is resolved already, `mounts` prepared by the caller.
pub fn container_config(
    p: &Pod,
    c: &Container,
    restart_count: u32,
    env: &[(String, String)],
    mounts: Vec<api::Mount>,
) -> api::ContainerConfig {
    let env_map: HashMap<String, String> = env.iter().cloned().collect();
    let mut labels = HashMap::new();
    labels.insert(LABEL_POD_NAME.to_string(), name(p).to_string());
    labels.insert(LABEL_POD_NAMESPACE.to_string(), namespace(p).to_string());
    labels.insert(LABEL_POD_UID.to_string(), uid(p).to_string());
    labels.insert(LABEL_CONTAINER_NAME.to_string(), c.name.clone());
    let mut annotations = HashMap::new();
    annotations.insert(ANN_RESTART_COUNT.to_string(), restart_count.to_string());
    annotations.insert(
        ANN_TERMINATION_MESSAGE_PATH.to_string(),
        c.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into()),
    );
    if let Some(g) = p.spec.as_ref().and_then(|s| s.termination_grace_period_seconds) {
        annotations.insert(ANN_GRACE_PERIOD.to_string(), g.to_string());
    }
    let sc = c.security_context.clone().unwrap_or_default();
    let psc = p.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
    let caps = sc.capabilities.clone().unwrap_or_default();
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata { name: c.name.clone(), attempt: restart_count }),
        image: Some(api::ImageSpec { image: c.image.clone().unwrap_or_default(), ..Default::default() }),
        command: c.command.iter().flatten().map(|s| expand(s, &env_map)).collect(),
        args: c.args.iter().flatten().map(|s| expand(s, &env_map)).collect(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: env.iter().map(|(k, v)| api::KeyValue { key: k.clone(), value: v.clone() }).collect(),
        mounts,
        labels,
        annotations,
        log_path: format!("{}/{restart_count}.log", c.name),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(container_resources(c)),
            security_context: Some(api::LinuxContainerSecurityContext {
                capabilities: Some(api::Capability {
                    add_capabilities: caps.add.unwrap_or_default(),
                    drop_capabilities: caps.drop.unwrap_or_default(),
                    ..Default::default()
                }),
                privileged: sc.privileged.unwrap_or(false),
                namespace_options: Some(namespace_options(p)),
                run_as_user: sc.run_as_user.or(psc.run_as_user).map(|v| api::Int64Value { value: v }),
                run_as_group: sc.run_as_group.or(psc.run_as_group).map(|v| api::Int64Value { value: v }),
                readonly_rootfs: sc.read_only_root_filesystem.unwrap_or(false),
                supplemental_groups: psc.supplemental_groups.iter().flatten().copied().chain(psc.fs_group).collect(),
                no_new_privs: sc.allow_privilege_escalation == Some(false),
                seccomp: Some(api::SecurityProfile {
                    profile_type: api::security_profile::ProfileType::RuntimeDefault as i32,
                    localhost_ref: String::new(),
                }),
                masked_paths: Vec::new(),
                readonly_paths: Vec::new(),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// The pod's `/etc/hosts`, as the kubelet writes it for pods off the host network.
pub fn etc_hosts(p: &Pod, pod_ips: &[String], cluster_domain: &str) -> String {
    let mut s = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let host = hostname(p);
    let spec = p.spec.clone().unwrap_or_default();
    let fqdn = match (&spec.subdomain, cluster_domain) {
        (Some(sub), d) if !sub.is_empty() && !d.is_empty() => Some(format!("{host}.{sub}.{}.svc.{d}", namespace(p))),
        _ => None,
    };
    for ip in pod_ips {
        match &fqdn {
            Some(f) => s.push_str(&format!("{ip}\t{f}\t{host}\n")),
            None => s.push_str(&format!("{ip}\t{host}\n")),
        }
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        s.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            s.push_str(&format!("{}\t{}\n", a.ip, a.hostnames.unwrap_or_default().join("\t")));
        }
    }
    s
}

/// Labels to find a pod's sandboxes and containers by.
pub fn uid_selector(uid: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert(LABEL_POD_UID.to_string(), uid.to_string());
    m
}

/// Environment variables given as plain values (`value`), in order, later names winning.
pub fn plain_env(c: &Container) -> BTreeMap<String, String> {
    c.env.iter().flatten().filter_map(|e| Some((e.name.clone(), e.value.clone()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn cfg() -> Config {
        use clap::Parser;
        Config::load(&crate::config::Options::parse_from([
            "kubelet",
            "--cluster-dns=10.96.0.10",
            "--cluster-domain=cluster.local",
            "--cgroup-root=/n1",
        ]))
        .unwrap()
    }

    #[test]
    fn qos_classes() {
        let be = pod(json!({"spec": {"containers": [{"name": "a"}]}}));
        assert_eq!(qos_class(&be), "BestEffort");
        let g = pod(
            json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}),
        );
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = pod(json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}}));
        assert_eq!(qos_class(&b), "Burstable");
        let b = pod(
            json!({"metadata": {"uid": "u1"}, "spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}}),
        );
        assert_eq!(cgroup_parent(&cfg(), &b), "/n1/kubepods/burstable/podu1");
    }

    #[test]
    fn cluster_first_dns_searches_the_namespace_first() {
        let p = pod(json!({"metadata": {"namespace": "web"}, "spec": {"containers": []}}));
        let d = dns_config(&cfg(), &p, "nameserver 1.1.1.1\nsearch example.com\noptions edns0\n");
        assert_eq!(d.servers, ["10.96.0.10"]);
        assert_eq!(d.searches, ["web.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.com"]);
        assert_eq!(d.options, ["ndots:5"]);
        let p = pod(json!({"spec": {"dnsPolicy": "Default", "containers": []}}));
        let d = dns_config(&cfg(), &p, "nameserver 1.1.1.1\nsearch example.com\noptions edns0\n");
        assert_eq!(d.servers, ["1.1.1.1"]);
        assert_eq!(d.options, ["edns0"]);
        let p = pod(
            json!({"spec": {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["9.9.9.9"], "options": [{"name": "ndots", "value": "2"}]}, "containers": []}}),
        );
        let d = dns_config(&cfg(), &p, "");
        assert_eq!(d.servers, ["9.9.9.9"]);
        assert_eq!(d.options, ["ndots:2"]);
    }

    #[test]
    fn a_privileged_container_makes_the_sandbox_privileged() {
        let plain = pod(json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(!has_privileged_container(&plain));
        let init = pod(
            json!({"spec": {"initContainers": [{"name": "i", "securityContext": {"privileged": true}}], "containers": [{"name": "a"}]}}),
        );
        assert!(has_privileged_container(&init));
        let c = pod(
            json!({"spec": {"containers": [{"name": "a", "securityContext": {"privileged": false}}, {"name": "b", "securityContext": {"privileged": true}}]}}),
        );
        assert!(has_privileged_container(&c));
    }

    #[test]
    fn variable_references_expand() {
        let env: HashMap<String, String> = [("A".to_string(), "x".to_string())].into_iter().collect();
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &env), "x-$(B)-$(A)-$");
    }

    #[test]
    fn hosts_file_names_the_pod() {
        let p = pod(json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"containers": [],
            "hostAliases": [{"ip": "10.1.1.1", "hostnames": ["foo", "bar"]}]}}));
        let h = etc_hosts(&p, &["10.244.0.5".into()], "cluster.local");
        assert!(h.contains("10.244.0.5\tweb\n"), "{h}");
        assert!(h.contains("# Entries added by HostAliases.\n10.1.1.1\tfoo\tbar\n"), "{h}");
    }
}
