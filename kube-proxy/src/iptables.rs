//! The iptables proxier: renders the whole `filter` and `nat` ruleset as one
//! `iptables-restore --noflush` transaction, with upstream's chain names, rule order and
//! comments. A partial sync rewrites the fixed chains and only the changed services' own
//! chains; the unchanged ones stay as they are in the kernel.

use crate::model::{categorize, Categorized, Endpoint, NodeInfo, ServicePort};
use crate::state::{ProxyState, ServiceKey};
use crate::{netfilter, Error};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

pub const KUBE_SERVICES: &str = "KUBE-SERVICES";
pub const KUBE_EXTERNAL_SERVICES: &str = "KUBE-EXTERNAL-SERVICES";
pub const KUBE_NODEPORTS: &str = "KUBE-NODEPORTS";
pub const KUBE_POSTROUTING: &str = "KUBE-POSTROUTING";
pub const KUBE_MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub const KUBE_FORWARD: &str = "KUBE-FORWARD";
pub const KUBE_PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";
pub const KUBE_FIREWALL: &str = "KUBE-FIREWALL";
pub const KUBE_PROXY_CANARY: &str = "KUBE-PROXY-CANARY";

/// A sync writes one comment per SEP and SVC rule only up to this many endpoints in all
/// (upstream's large-cluster mode drops them beyond).
const LARGE_CLUSTER_ENDPOINTS: usize = 1000;

/// The jumps from the built-in chains, ensured (`-C`, then `-I`) on full syncs:
/// (table, from, to, comment, extra match).
pub const JUMPS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "filter",
        "INPUT",
        KUBE_EXTERNAL_SERVICES,
        "kubernetes externally-visible service portals",
        "-m conntrack --ctstate NEW",
    ),
    (
        "filter",
        "FORWARD",
        KUBE_EXTERNAL_SERVICES,
        "kubernetes externally-visible service portals",
        "-m conntrack --ctstate NEW",
    ),
    ("filter", "INPUT", KUBE_NODEPORTS, "kubernetes health check service ports", ""),
    ("filter", "FORWARD", KUBE_SERVICES, "kubernetes service portals", "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", KUBE_SERVICES, "kubernetes service portals", "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", KUBE_FORWARD, "kubernetes forwarding rules", ""),
    ("filter", "INPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("nat", "OUTPUT", KUBE_SERVICES, "kubernetes service portals", ""),
    ("nat", "PREROUTING", KUBE_SERVICES, "kubernetes service portals", ""),
    ("nat", "POSTROUTING", KUBE_POSTROUTING, "kubernetes postrouting rules", ""),
    ("filter", "INPUT", KUBE_FIREWALL, "", ""),
    ("filter", "OUTPUT", KUBE_FIREWALL, "", ""),
];

/// Which traffic counts as coming from a pod (`--detect-local-mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDetector {
    /// No way to tell (no cluster CIDR): external ClusterIP traffic is not masqueraded.
    None,
    /// `ClusterCIDR` or `NodeCIDR`: the source address.
    Cidr(String),
    /// `BridgeInterface`: the input interface.
    Interface(String),
    /// `InterfaceNamePrefix`.
    InterfacePrefix(String),
}

impl LocalDetector {
    fn if_local(&self) -> Option<String> {
        match self {
            LocalDetector::None => None,
            LocalDetector::Cidr(c) => Some(format!("-s {c}")),
            LocalDetector::Interface(i) => Some(format!("-i {i}")),
            LocalDetector::InterfacePrefix(p) => Some(format!("-i {p}+")),
        }
    }

    fn if_not_local(&self) -> Option<String> {
        self.if_local().map(|s| format!("! {s}"))
    }
}

/// The addresses NodePorts answer on (`--nodeport-addresses`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePortAddresses {
    /// Every local address (no flag, or `0.0.0.0/0`).
    All,
    /// The local addresses inside these CIDRs, resolved when rules are written.
    Cidrs(Vec<ipnet::Ipv4Net>),
}

impl NodePortAddresses {
    pub fn parse(cidrs: &[String], node_ip: Option<Ipv4Addr>) -> Result<NodePortAddresses, String> {
        let mut out = Vec::new();
        for c in cidrs {
            if c == "primary" {
                if let Some(ip) = node_ip.filter(|ip| !ip.is_loopback()) {
                    out.push(ipnet::Ipv4Net::new(ip, 32).map_err(|e| e.to_string())?);
                }
                continue;
            }
            if c.contains(':') {
                continue;
            }
            let n: ipnet::Ipv4Net = c.parse().map_err(|_| format!("invalid CIDR {c:?}"))?;
            if c == "0.0.0.0/0" {
                return Ok(NodePortAddresses::All);
            }
            out.push(n);
        }
        Ok(if out.is_empty() { NodePortAddresses::All } else { NodePortAddresses::Cidrs(out) })
    }

    pub fn contains_loopback(&self) -> bool {
        match self {
            NodePortAddresses::All => true,
            NodePortAddresses::Cidrs(c) => {
                c.iter().any(|n| n.contains(&Ipv4Addr::new(127, 0, 0, 0)) || n.addr().is_loopback())
            }
        }
    }
}

/// What rules to write: the proxier's fixed settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `0x00004000` for the default `--iptables-masquerade-bit=14`.
    pub mark: String,
    pub detector: LocalDetector,
    pub masquerade_all: bool,
    pub localhost_nodeports: bool,
    pub node_ip: Option<Ipv4Addr>,
    pub nodeport_addresses: NodePortAddresses,
    /// `MASQUERADE --random-fully` (iptables 1.6.2 and later).
    pub random_fully: bool,
    /// `nf_conntrack_tcp_be_liberal` is set: no INVALID drop rule is needed.
    pub conntrack_liberal: bool,
    /// The nfacct counters exist, so two rules count packets with `-m nfacct`.
    pub nfacct: bool,
}

impl Config {
    pub fn mark_for_bit(bit: u32) -> String {
        format!("0x{:08x}", 1u64 << bit)
    }
}

/// The 16-character hash of upstream's chain names: base32(sha256(parts…)).
pub fn chain_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    let mut s = data_encoding::BASE32.encode(&h.finalize());
    s.truncate(16);
    s
}

/// The per-service-port chain names.
struct Chains {
    svc: String,
    svl: String,
    ext: String,
    fw: String,
}

impl Chains {
    fn of(port_name: &str, proto: &str) -> Chains {
        let h = chain_hash(&[port_name, proto]);
        Chains {
            svc: format!("KUBE-SVC-{h}"),
            svl: format!("KUBE-SVL-{h}"),
            ext: format!("KUBE-EXT-{h}"),
            fw: format!("KUBE-FW-{h}"),
        }
    }
}

fn sep_chain(port_name: &str, proto: &str, ep: &Endpoint) -> String {
    format!("KUBE-SEP-{}", chain_hash(&[port_name, proto, &ep.addr()]))
}

/// Whether a chain is one of the per-service ones this proxier garbage-collects.
pub fn is_service_chain(c: &str) -> bool {
    ["KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-"].iter().any(|p| c.starts_with(p))
}

/// `1/n` as upstream prints it: ten decimals.
fn probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

/// One sync's transaction and what the metrics report of it.
#[derive(Debug, Default)]
pub struct Rendered {
    pub text: String,
    /// Every per-service chain that exists after this transaction.
    pub active: HashSet<String>,
    pub filter_rules: usize,
    pub nat_rules: usize,
    /// Rules of unchanged services left in place by a partial sync.
    pub skipped_nat_rules: usize,
    pub deleted_chains: usize,
    /// Services with a Local policy and no local endpoint: (internal, external).
    pub no_local: (usize, usize),
}

struct Buf {
    chains: String,
    rules: String,
}

impl Buf {
    fn new() -> Buf {
        Buf { chains: String::new(), rules: String::new() }
    }

    fn chain(&mut self, name: &str) {
        let _ = writeln!(self.chains, ":{name} - [0:0]");
    }
}

/// Writes the rules of `state`. `changed` is `None` for a full sync, else the services whose
/// chains must be rewritten; `existing` are the per-service chains now in the kernel (those not
/// active any more are flushed and deleted).
pub fn render(
    cfg: &Config,
    node: &NodeInfo,
    state: &ProxyState,
    changed: Option<&BTreeSet<ServiceKey>>,
    existing: &HashSet<String>,
    node_ips: &[Ipv4Addr],
) -> Rendered {
    let mut out = Rendered::default();
    let mut filter = Buf::new();
    let mut nat = Buf::new();
    // The services' rules in nat KUBE-SERVICES and KUBE-NODEPORTS (always written), and
    // their own chains (into `scratch`, then dropped, when a partial sync leaves them).
    let mut nat_fixed = String::new();
    let mut own = Buf::new();
    let mut scratch = Buf::new();
    for c in [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL] {
        filter.chain(c);
    }
    let localhost_nodeports = cfg.localhost_nodeports && cfg.nodeport_addresses.contains_loopback();
    if localhost_nodeports {
        filter.chain(KUBE_FIREWALL);
    }
    for c in [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ] {
        nat.chain(c);
    }
    let m = &cfg.mark;
    let _ = writeln!(nat.rules, "-A {KUBE_POSTROUTING} -m mark ! --mark {m}/{m} -j RETURN");
    let _ = writeln!(nat.rules, "-A {KUBE_POSTROUTING} -j MARK --xor-mark {m}");
    let _ = writeln!(
        nat.rules,
        "-A {KUBE_POSTROUTING} -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE{}",
        if cfg.random_fully { " --random-fully" } else { "" }
    );
    let _ = writeln!(nat.rules, "-A {KUBE_MARK_MASQ} -j MARK --or-mark {m}");
    if localhost_nodeports {
        let _ = writeln!(
            filter.rules,
            "-A {KUBE_FIREWALL} -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
        );
    }
    let total_endpoints: usize = state.values().flat_map(|s| s.iter()).map(|(_, eps)| eps.len()).sum();
    let large = total_endpoints > LARGE_CLUSTER_ENDPOINTS;
    for (key, ports) in state {
        let rewrite = changed.is_none_or(|c| c.contains(key));
        for (svc, eps) in ports {
            let cat = categorize(eps, svc, node);
            let target = if rewrite { &mut own } else { &mut scratch };
            write_service(cfg, svc, &cat, large, localhost_nodeports, &mut filter, &mut nat_fixed, target, &mut out);
            if !rewrite {
                out.skipped_nat_rules += scratch.rules.lines().count();
                scratch.chains.clear();
                scratch.rules.clear();
            }
        }
    }
    nat.chains.push_str(&own.chains);
    nat.rules.push_str(&nat_fixed);
    nat.rules.push_str(&own.rules);
    let mut stale: Vec<&String> = existing.iter().filter(|c| !out.active.contains(*c) && is_service_chain(c)).collect();
    stale.sort();
    for c in stale {
        nat.chain(c);
        let _ = writeln!(nat.rules, "-X {c}");
        out.deleted_chains += 1;
    }
    let tail = "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
    match &cfg.nodeport_addresses {
        NodePortAddresses::All if localhost_nodeports => {
            let _ = writeln!(nat.rules, "-A {KUBE_SERVICES} {tail} -m addrtype --dst-type LOCAL -j {KUBE_NODEPORTS}");
        }
        NodePortAddresses::All => {
            let _ = writeln!(
                nat.rules,
                "-A {KUBE_SERVICES} {tail} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j {KUBE_NODEPORTS}"
            );
        }
        NodePortAddresses::Cidrs(_) => {
            for ip in node_ips {
                if ip.is_loopback() && !localhost_nodeports {
                    continue;
                }
                let _ = writeln!(nat.rules, "-A {KUBE_SERVICES} {tail} -d {ip} -j {KUBE_NODEPORTS}");
            }
        }
    }
    if !cfg.conntrack_liberal {
        let _ = writeln!(
            filter.rules,
            "-A {KUBE_FORWARD} -m conntrack --ctstate INVALID{} -j DROP",
            if cfg.nfacct { " -m nfacct --nfacct-name ct_state_invalid_dropped_pkts" } else { "" }
        );
    }
    let _ = writeln!(
        filter.rules,
        "-A {KUBE_FORWARD} -m comment --comment \"kubernetes forwarding rules\" -m mark --mark {m}/{m} -j ACCEPT"
    );
    let _ = writeln!(
        filter.rules,
        "-A {KUBE_FORWARD} -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    );
    out.filter_rules = filter.rules.lines().count();
    out.nat_rules = nat.rules.lines().count() - out.deleted_chains;
    let mut text =
        String::with_capacity(filter.chains.len() + filter.rules.len() + nat.chains.len() + nat.rules.len() + 32);
    text.push_str("*filter\n");
    text.push_str(&filter.chains);
    text.push_str(&filter.rules);
    text.push_str("COMMIT\n*nat\n");
    text.push_str(&nat.chains);
    text.push_str(&nat.rules);
    text.push_str("COMMIT\n");
    out.text = text;
    out
}

/// The rules of one service port: its entries in the fixed chains (always), and its own
/// chains (into `nat`, which is a scratch buffer when the service is unchanged).
#[allow(clippy::too_many_arguments)]
fn write_service(
    cfg: &Config,
    svc: &ServicePort,
    cat: &Categorized,
    large: bool,
    localhost_nodeports: bool,
    filter: &mut Buf,
    nat_fixed: &mut String,
    own: &mut Buf,
    out: &mut Rendered,
) {
    let name = svc.name.to_string();
    let proto = svc.name.protocol.lower();
    let ch = Chains::of(&name, proto);
    let has_endpoints = cat.has_any;
    let uses_cluster_chain = !cat.cluster.is_empty() && svc.uses_cluster_endpoints();
    let uses_local_chain = !cat.local.is_empty() && svc.uses_local_endpoints();
    let uses_ext_chain = has_endpoints && svc.externally_accessible();
    let uses_fw_chain = has_endpoints && !svc.load_balancer_vips.is_empty() && !svc.source_ranges.is_empty();
    let internal_chain = if svc.internal_policy_local { &ch.svl } else { &ch.svc };
    let external_chain = if svc.external_policy_local { &ch.svl } else { &ch.svc };
    let mut has_internal = has_endpoints;
    if svc.internal_policy_local && cat.local.is_empty() {
        has_internal = false;
    }
    let mut has_external = has_endpoints;
    if svc.external_policy_local && cat.local.is_empty() {
        has_external = false;
    }
    let none_target = |local_policy: bool| {
        if !has_endpoints || !local_policy {
            ("has no endpoints", "REJECT")
        } else {
            ("has no local endpoints", "DROP")
        }
    };
    if has_endpoints && svc.internal_policy_local && cat.local.is_empty() {
        out.no_local.0 += 1;
    }
    if has_endpoints && svc.external_policy_local && cat.local.is_empty() {
        out.no_local.1 += 1;
    }
    let port = svc.port;
    let m = format!("-m {proto} -p {proto}");
    // ClusterIP.
    if has_internal {
        let _ = writeln!(
            nat_fixed,
            "-A {KUBE_SERVICES} -m comment --comment \"{name} cluster IP\" {m} -d {} --dport {port} -j {internal_chain}",
            svc.cluster_ip
        );
    } else {
        let (why, target) = none_target(svc.internal_policy_local);
        let _ = writeln!(
            filter.rules,
            "-A {KUBE_SERVICES} -m comment --comment \"{name} {why}\" {m} -d {} --dport {port} -j {target}",
            svc.cluster_ip
        );
    }
    let (ext_why, ext_target) = none_target(svc.external_policy_local);
    for ip in &svc.external_ips {
        if has_endpoints {
            let _ = writeln!(
                nat_fixed,
                "-A {KUBE_SERVICES} -m comment --comment \"{name} external IP\" {m} -d {ip} --dport {port} -j {}",
                ch.ext
            );
        }
        if !has_external {
            let _ = writeln!(
                filter.rules,
                "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment \"{name} {ext_why}\" {m} -d {ip} --dport {port} -j {ext_target}"
            );
        }
    }
    for ip in &svc.load_balancer_vips {
        if has_endpoints {
            let _ = writeln!(
                nat_fixed,
                "-A {KUBE_SERVICES} -m comment --comment \"{name} loadbalancer IP\" {m} -d {ip} --dport {port} -j {}",
                if uses_fw_chain { &ch.fw } else { &ch.ext }
            );
        }
        if uses_fw_chain {
            let _ = writeln!(
                filter.rules,
                "-A {KUBE_PROXY_FIREWALL} -m comment --comment \"{name} traffic not accepted by {}\" {m} -d {ip} --dport {port} -j DROP",
                ch.fw
            );
        }
    }
    if !has_external {
        for ip in &svc.load_balancer_vips {
            let _ = writeln!(
                filter.rules,
                "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment \"{name} {ext_why}\" {m} -d {ip} --dport {port} -j {ext_target}"
            );
        }
    }
    if svc.node_port != 0 {
        let np = svc.node_port;
        if has_endpoints {
            if localhost_nodeports && cfg.nfacct {
                let _ = writeln!(
                    nat_fixed,
                    "-A {KUBE_NODEPORTS} -m comment --comment {name} {m} -d 127.0.0.0/8 --dport {np} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {}",
                    ch.ext
                );
            }
            let _ =
                writeln!(nat_fixed, "-A {KUBE_NODEPORTS} -m comment --comment {name} {m} --dport {np} -j {}", ch.ext);
        }
        if !has_external {
            let _ = writeln!(
                filter.rules,
                "-A {KUBE_EXTERNAL_SERVICES} -m comment --comment \"{name} {ext_why}\" -m addrtype --dst-type LOCAL {m} --dport {np} -j {ext_target}"
            );
        }
    }
    if svc.health_check_node_port != 0 {
        let _ = writeln!(
            filter.rules,
            "-A {KUBE_NODEPORTS} -m comment --comment \"{name} health check node port\" -m tcp -p tcp --dport {} -j ACCEPT",
            svc.health_check_node_port
        );
    }
    // The service's own chains.
    if has_internal {
        let masq =
            if cfg.masquerade_all { Some(String::new()) } else { cfg.detector.if_not_local().map(|s| format!(" {s}")) };
        if let Some(not_local) = masq {
            let _ = writeln!(
                own.rules,
                "-A {internal_chain} -m comment --comment \"{name} cluster IP\" {m} -d {} --dport {port}{not_local} -j {KUBE_MARK_MASQ}",
                svc.cluster_ip
            );
        }
    }
    if uses_ext_chain {
        own.chain(&ch.ext);
        out.active.insert(ch.ext.clone());
        if !svc.external_policy_local {
            let _ = writeln!(
                own.rules,
                "-A {} -m comment --comment \"masquerade traffic for {name} external destinations\" -j {KUBE_MARK_MASQ}",
                ch.ext
            );
        } else {
            if let Some(local) = cfg.detector.if_local() {
                let _ = writeln!(
                    own.rules,
                    "-A {} -m comment --comment \"pod traffic for {name} external destinations\" {local} -j {}",
                    ch.ext, ch.svc
                );
            }
            let _ = writeln!(
                own.rules,
                "-A {} -m comment --comment \"masquerade LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j {KUBE_MARK_MASQ}",
                ch.ext
            );
            let _ = writeln!(
                own.rules,
                "-A {} -m comment --comment \"route LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j {}",
                ch.ext, ch.svc
            );
        }
        if has_external {
            let _ = writeln!(own.rules, "-A {} -j {external_chain}", ch.ext);
        }
    }
    if uses_fw_chain {
        own.chain(&ch.fw);
        out.active.insert(ch.fw.clone());
        for r in &svc.source_ranges {
            let _ = writeln!(
                own.rules,
                "-A {} -m comment --comment \"{name} loadbalancer IP\" -s {r} -j {}",
                ch.fw, ch.ext
            );
        }
        if cfg.node_ip.is_some_and(|ip| svc.source_ranges.iter().any(|r| r.contains(&ip))) {
            for ip in &svc.load_balancer_vips {
                let _ = writeln!(
                    own.rules,
                    "-A {} -m comment --comment \"{name} loadbalancer IP\" -s {ip} -j {}",
                    ch.fw, ch.ext
                );
            }
        }
        let _ = writeln!(
            own.rules,
            "-A {} -m comment --comment \"other traffic to {name} will be dropped by {KUBE_PROXY_FIREWALL}\"",
            ch.fw
        );
    }
    if uses_cluster_chain {
        own.chain(&ch.svc);
        out.active.insert(ch.svc.clone());
        write_dispatch(own, &ch.svc, &name, proto, svc.affinity_seconds, &cat.cluster, large);
    }
    if uses_local_chain {
        own.chain(&ch.svl);
        out.active.insert(ch.svl.clone());
        write_dispatch(own, &ch.svl, &name, proto, svc.affinity_seconds, &cat.local, large);
    }
    for ep in &cat.all_reachable {
        let sep = sep_chain(&name, proto, ep);
        own.chain(&sep);
        let comment = if large { String::new() } else { format!("-m comment --comment {name} ") };
        let _ = writeln!(own.rules, "-A {sep} {comment}-s {} -j {KUBE_MARK_MASQ}", ep.ip);
        let recent =
            if svc.affinity_seconds.is_some() { format!("-m recent --name {sep} --set ") } else { String::new() };
        let _ = writeln!(own.rules, "-A {sep} {comment}{recent}{m} -j DNAT --to-destination {}", ep.addr());
        out.active.insert(sep);
    }
}

/// SVC/SVL → SEP: affinity checks first, then the random split.
fn write_dispatch(
    own: &mut Buf,
    chain: &str,
    name: &str,
    proto: &str,
    affinity: Option<u32>,
    eps: &[Endpoint],
    large: bool,
) {
    let seps: Vec<String> = eps.iter().map(|e| sep_chain(name, proto, e)).collect();
    let comment =
        |e: &Endpoint| if large { String::new() } else { format!("-m comment --comment \"{name} -> {}\" ", e.addr()) };
    if let Some(secs) = affinity {
        for (e, sep) in eps.iter().zip(&seps) {
            let _ = writeln!(
                own.rules,
                "-A {chain} {}-m recent --name {sep} --rcheck --seconds {secs} --reap -j {sep}",
                comment(e)
            );
        }
    }
    let n = eps.len();
    for (i, (e, sep)) in eps.iter().zip(&seps).enumerate() {
        let stat = if i + 1 < n {
            format!("-m statistic --mode random --probability {} ", probability(n - i))
        } else {
            String::new()
        };
        let _ = writeln!(own.rules, "-A {chain} {}{stat}-j {sep}", comment(e));
    }
}

/// The iptables proxier's state between syncs.
pub struct Proxier {
    pub cfg: Config,
    ipt: netfilter::Iptables,
    need_full: bool,
    last_full: Option<std::time::Instant>,
    /// The per-service chains in the kernel after the last successful transaction.
    existing: HashSet<String>,
}

/// What one successful sync did.
pub struct Synced {
    pub full: bool,
    pub no_local: (usize, usize),
}

impl Proxier {
    pub fn new(cfg: Config) -> Proxier {
        Proxier { cfg, ipt: netfilter::Iptables::default(), need_full: true, last_full: None, existing: HashSet::new() }
    }

    /// The next sync rewrites everything (after a failure, or when the canary went missing).
    pub fn force_full(&mut self) {
        self.need_full = true;
    }

    /// Programs `state`; `changed` are the services that differ since the last success.
    pub async fn sync(
        &mut self,
        node: &NodeInfo,
        state: &ProxyState,
        changed: &BTreeSet<ServiceKey>,
    ) -> Result<Synced, Error> {
        let full = self.need_full || self.last_full.is_none_or(|t| t.elapsed() > crate::runner::FULL_SYNC_PERIOD);
        let res = self.try_sync(full, node, state, changed).await;
        if res.is_err() {
            self.need_full = true;
            crate::metrics::RESTORE_FAILURES.with_label_values(&[crate::metrics::IPV4]).inc();
            if !full {
                crate::metrics::PARTIAL_RESTORE_FAILURES.with_label_values(&[crate::metrics::IPV4]).inc();
            }
        }
        res
    }

    async fn try_sync(
        &mut self,
        full: bool,
        node: &NodeInfo,
        state: &ProxyState,
        changed: &BTreeSet<ServiceKey>,
    ) -> Result<Synced, Error> {
        if full {
            for (table, from, to, comment, extra) in JUMPS {
                self.ipt.ensure_chain(table, to).await?;
                let args = jump_args(comment, extra, to);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.ipt.ensure_rule(table, from, &args).await?;
            }
            self.existing = self.ipt.chains("nat").await?.into_iter().filter(|c| is_service_chain(c)).collect();
        }
        let node_ips = match &self.cfg.nodeport_addresses {
            NodePortAddresses::All => Vec::new(),
            NodePortAddresses::Cidrs(c) => {
                netfilter::local_ipv4s().await.into_iter().filter(|ip| c.iter().any(|n| n.contains(ip))).collect()
            }
        };
        let r = render(&self.cfg, node, state, (!full).then_some(changed), &self.existing, &node_ips);
        self.ipt.restore(&r.text, None).await?;
        let fam = crate::metrics::IPV4;
        crate::metrics::IPTABLES_TOTAL.with_label_values(&[fam, "filter"]).set(r.filter_rules as i64);
        crate::metrics::IPTABLES_TOTAL.with_label_values(&[fam, "nat"]).set((r.nat_rules + r.skipped_nat_rules) as i64);
        crate::metrics::IPTABLES_LAST.with_label_values(&[fam, "filter"]).set(r.filter_rules as i64);
        crate::metrics::IPTABLES_LAST.with_label_values(&[fam, "nat"]).set(r.nat_rules as i64);
        self.existing = r.active;
        self.need_full = false;
        if full {
            self.last_full = Some(std::time::Instant::now());
        }
        Ok(Synced { full, no_local: r.no_local })
    }
}

/// Creates the canary chains, whose disappearance means someone flushed the tables.
pub async fn ensure_canary() -> Result<(), Error> {
    let ipt = netfilter::Iptables::default();
    for t in ["mangle", "nat", "filter"] {
        ipt.ensure_chain(t, KUBE_PROXY_CANARY).await?;
    }
    Ok(())
}

/// `-m conntrack --ctstate NEW -m comment --comment C -j TARGET` as separate arguments.
fn jump_args(comment: &str, extra: &str, to: &str) -> Vec<String> {
    let mut a: Vec<String> = extra.split_whitespace().map(String::from).collect();
    if !comment.is_empty() {
        a.extend(["-m".into(), "comment".into(), "--comment".into(), comment.to_string()]);
    }
    a.extend(["-j".into(), to.to_string()]);
    a
}

/// Removes every rule and chain the iptables proxier owns (`--cleanup`, or another mode's
/// start). Unlike upstream, KUBE-PROXY-FIREWALL, KUBE-FIREWALL, KUBE-MARK-MASQ and the canary
/// go too: nothing of kube-proxy's is left behind (the kubelet here writes no iptables rules).
pub async fn cleanup() -> Result<(), Error> {
    let ipt = netfilter::Iptables::default();
    if !ipt.available().await {
        return Ok(());
    }
    for (table, from, to, comment, extra) in JUMPS {
        let args = jump_args(comment, extra, to);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ipt.delete_rule(table, from, &args).await?;
    }
    let mut failed = None;
    for (table, fixed) in [
        ("nat", &[KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ][..]),
        (
            "filter",
            &[KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_FIREWALL]
                [..],
        ),
    ] {
        let chains = ipt.chains(table).await?;
        let doomed: Vec<&String> =
            chains.iter().filter(|c| fixed.contains(&c.as_str()) || (table == "nat" && is_service_chain(c))).collect();
        if doomed.is_empty() {
            continue;
        }
        let mut text = format!("*{table}\n");
        for c in &doomed {
            let _ = writeln!(text, ":{c} - [0:0]");
        }
        for c in &doomed {
            let _ = writeln!(text, "-X {c}");
        }
        text.push_str("COMMIT\n");
        if let Err(e) = ipt.restore(&text, Some(table)).await {
            failed = Some(e);
        }
    }
    for t in ["mangle", "nat", "filter"] {
        let mut text = format!("*{t}\n");
        if ipt.chains(t).await?.iter().any(|c| c == KUBE_PROXY_CANARY) {
            let _ = writeln!(text, ":{KUBE_PROXY_CANARY} - [0:0]\n-X {KUBE_PROXY_CANARY}\nCOMMIT");
            ipt.restore(&text, Some(t)).await?;
        }
    }
    failed.map_or(Ok(()), Err)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Protocol, ServicePortName};

    /// A TCP port 80 of Service `svcN` in namespace `nsN` (the nftables tests share it).
    pub(crate) fn port(ns: &str, ip: &str) -> ServicePort {
        ServicePort {
            name: ServicePortName {
                namespace: ns.into(),
                name: ns.replace("ns", "svc"),
                port: "p80".into(),
                protocol: Protocol::Tcp,
            },
            cluster_ip: ip.parse().unwrap(),
            port: 80,
            node_port: 0,
            external_ips: vec![],
            load_balancer_vips: vec![],
            source_ranges: vec![],
            affinity_seconds: None,
            external_policy_local: false,
            internal_policy_local: false,
            health_check_node_port: 0,
        }
    }

    pub(crate) fn ep(ip: &str, local: bool) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port: 80,
            is_local: local,
            ready: true,
            serving: true,
            terminating: false,
            zone_hints: Default::default(),
        }
    }

    fn cfg() -> Config {
        Config {
            mark: "0x4000".into(),
            detector: LocalDetector::Cidr("10.0.0.0/8".into()),
            masquerade_all: false,
            localhost_nodeports: true,
            node_ip: Some("192.168.0.2".parse().unwrap()),
            nodeport_addresses: NodePortAddresses::All,
            random_fully: false,
            conntrack_liberal: false,
            nfacct: true,
        }
    }

    fn node() -> NodeInfo {
        NodeInfo { name: "test-node".into(), zone: None }
    }

    /// The services of a mixed cluster: plain, LoadBalancer with a Local policy and no local
    /// endpoint, NodePort, external IPs, firewalled LoadBalancer with affinity, none.
    fn overall() -> ProxyState {
        let mut s = ProxyState::new();
        let mut add = |p: ServicePort, eps: Vec<Endpoint>| {
            s.insert((p.name.namespace.clone(), p.name.name.clone()), vec![(p, eps)]);
        };
        add(port("ns1", "172.30.0.41"), vec![ep("10.180.0.1", false)]);
        let mut p = port("ns2", "172.30.0.42");
        p.node_port = 3001;
        p.load_balancer_vips = vec!["1.2.3.4".parse().unwrap()];
        p.external_ips = vec!["192.168.99.22".parse().unwrap()];
        p.external_policy_local = true;
        p.health_check_node_port = 30000;
        add(p, vec![ep("10.180.0.2", false)]);
        let mut p = port("ns3", "172.30.0.43");
        p.node_port = 3003;
        add(p, vec![ep("10.180.0.3", false)]);
        let mut p = port("ns4", "172.30.0.44");
        p.external_ips = vec!["192.168.99.33".parse().unwrap()];
        add(p, vec![ep("10.180.0.4", false), ep("10.180.0.5", true)]);
        let mut p = port("ns5", "172.30.0.45");
        p.node_port = 3002;
        p.load_balancer_vips = vec!["5.6.7.8".parse().unwrap()];
        p.source_ranges = vec!["203.0.113.0/25".parse().unwrap()];
        p.affinity_seconds = Some(10800);
        add(p, vec![ep("10.180.0.3", false)]);
        add(port("ns6", "172.30.0.46"), vec![]);
        s
    }

    /// The rules of `chain` in `table`, in order.
    fn rules<'a>(text: &'a str, table: &str, chain: &str) -> Vec<&'a str> {
        let start = text.find(&format!("*{table}\n")).expect("table");
        let end = start + text[start..].find("COMMIT").expect("commit");
        let prefix = format!("-A {chain} ");
        text[start..end].lines().filter(|l| l.starts_with(&prefix)).collect()
    }

    #[test]
    fn chain_names_hash_as_upstream() {
        assert_eq!(chain_hash(&["default/kubernetes:https", "tcp"]), "NPX46M4PTMTKRN6Y");
        assert_eq!(chain_hash(&["ns1/svc1:p80", "tcp", "10.180.0.1:80"]), "SXIVWICOYRO3J4NJ");
        assert_eq!(Config::mark_for_bit(14), "0x00004000");
        assert_eq!((probability(2), probability(3)), ("0.5000000000".to_string(), "0.3333333333".to_string()));
    }

    #[test]
    fn a_mixed_cluster_renders_upstreams_rules() {
        let r = render(&cfg(), &node(), &overall(), None, &HashSet::new(), &[]);
        let t = &r.text;
        assert_eq!(
            rules(t, "filter", "KUBE-SERVICES"),
            ["-A KUBE-SERVICES -m comment --comment \"ns6/svc6:p80 has no endpoints\" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT"]
        );
        assert_eq!(
            rules(t, "filter", "KUBE-EXTERNAL-SERVICES"),
            [
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 192.168.99.22 --dport 80 -j DROP",
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP",
                "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no local endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP",
            ]
        );
        assert_eq!(
            rules(t, "filter", "KUBE-NODEPORTS"),
            ["-A KUBE-NODEPORTS -m comment --comment \"ns2/svc2:p80 health check node port\" -m tcp -p tcp --dport 30000 -j ACCEPT"]
        );
        assert_eq!(
            rules(t, "filter", "KUBE-PROXY-FIREWALL"),
            ["-A KUBE-PROXY-FIREWALL -m comment --comment \"ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C\" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP"]
        );
        assert_eq!(rules(t, "filter", "KUBE-FORWARD").len(), 3);
        let svcs = rules(t, "nat", "KUBE-SERVICES");
        assert_eq!(svcs.len(), 10, "{svcs:#?}");
        assert!(svcs.contains(&"-A KUBE-SERVICES -m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C"));
        assert!(svcs.contains(&"-A KUBE-SERVICES -m comment --comment \"ns4/svc4:p80 external IP\" -m tcp -p tcp -d 192.168.99.33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK"));
        assert_eq!(
            svcs.last().copied(),
            Some("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        );
        assert_eq!(
            rules(t, "nat", "KUBE-NODEPORTS")[..2],
            [
                "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
                "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT",
            ]
        );
        // eTP=Local without a local endpoint: short-circuits, no final jump.
        assert_eq!(
            rules(t, "nat", "KUBE-EXT-GNZBNJ2PO5MGZ6GT"),
            [
                "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"pod traffic for ns2/svc2:p80 external destinations\" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
                "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"masquerade LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"route LOCAL traffic for ns2/svc2:p80 external destinations\" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT",
            ]
        );
        assert_eq!(
            rules(t, "nat", "KUBE-FW-NUKIZ6OKUXPJNT4C"),
            [
                "-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 loadbalancer IP\" -s 203.0.113.0/25 -j KUBE-EXT-NUKIZ6OKUXPJNT4C",
                "-A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment \"other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL\"",
            ]
        );
        assert_eq!(
            rules(t, "nat", "KUBE-SVC-NUKIZ6OKUXPJNT4C"),
            [
                "-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 cluster IP\" -m tcp -p tcp -d 172.30.0.45 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
                "-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --rcheck --seconds 10800 --reap -j KUBE-SEP-I77PXRDZVX7PMWMN",
                "-A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment \"ns5/svc5:p80 -> 10.180.0.3:80\" -j KUBE-SEP-I77PXRDZVX7PMWMN",
            ]
        );
        assert_eq!(
            rules(t, "nat", "KUBE-SEP-I77PXRDZVX7PMWMN"),
            [
                "-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ",
                "-A KUBE-SEP-I77PXRDZVX7PMWMN -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I77PXRDZVX7PMWMN --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80",
            ]
        );
        assert_eq!(
            rules(t, "nat", "KUBE-SVC-4SW47YFZTEDKD3PK")[1..],
            [
                "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 -> 10.180.0.4:80\" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC",
                "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 -> 10.180.0.5:80\" -j KUBE-SEP-C6EBXVWJJZMIWKLZ",
            ]
        );
        // 4 EXT, 1 FW, 5 SVC, 6 SEP chains; no SVL (the only Local policy has no local endpoint).
        assert_eq!(r.active.len(), 16, "{:?}", r.active);
        assert!(!t.contains("KUBE-SVL-"));
        assert_eq!(r.no_local, (0, 1));
    }

    #[test]
    fn a_partial_sync_writes_only_changed_services_and_deletes_stale_chains() {
        let state = overall();
        let full = render(&cfg(), &node(), &state, None, &HashSet::new(), &[]);
        let mut next = state.clone();
        // ns3's endpoint moves; ns1 goes away.
        next.get_mut(&("ns3".to_string(), "svc3".to_string())).unwrap()[0].1 = vec![ep("10.180.0.9", false)];
        next.remove(&("ns1".to_string(), "svc1".to_string()));
        let changed: BTreeSet<ServiceKey> =
            [("ns1".to_string(), "svc1".to_string()), ("ns3".to_string(), "svc3".to_string())].into();
        let r = render(&cfg(), &node(), &next, Some(&changed), &full.active, &[]);
        let t = &r.text;
        assert!(!t.contains(":KUBE-SVC-NUKIZ6OKUXPJNT4C"), "unchanged ns5 is left alone");
        assert!(t.contains(":KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]"), "changed ns3 is rewritten");
        assert!(t.contains("-X KUBE-SVC-XPGD46QRK7WJZT7O\n"), "ns1's chains are deleted");
        assert!(t.contains("-X KUBE-SEP-SXIVWICOYRO3J4NJ\n"));
        assert!(t.contains("-X KUBE-SEP-OYPFS5VJICHGATKP\n"), "ns3's old endpoint chain is deleted");
        assert_eq!(r.deleted_chains, 3);
        assert!(r.skipped_nat_rules > 0);
        // The fixed chains still carry every service.
        assert_eq!(rules(t, "nat", "KUBE-SERVICES").len(), 9);
        assert!(r.active.contains("KUBE-SVC-NUKIZ6OKUXPJNT4C"));
    }

    #[test]
    fn large_clusters_drop_the_endpoint_comments() {
        let mut s = ProxyState::new();
        let eps: Vec<Endpoint> = (0..1001).map(|i| ep(&format!("10.1.{}.{}", i / 250, i % 250 + 1), false)).collect();
        s.insert(("ns1".into(), "svc1".into()), vec![(port("ns1", "172.30.0.41"), eps)]);
        let r = render(&cfg(), &node(), &s, None, &HashSet::new(), &[]);
        let sep = rules(&r.text, "nat", "KUBE-SVC-XPGD46QRK7WJZT7O");
        assert!(
            sep[1].starts_with(
                "-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic --mode random --probability 0.0009990010 -j KUBE-SEP-"
            ),
            "{}",
            sep[1]
        );
    }

    /// The rendered text is what iptables-restore accepts: loaded into a network namespace of
    /// the test's own (never the machine's), with a partial sync on top.
    #[test]
    fn iptables_restore_accepts_the_rules() {
        let Ok(out) = std::process::Command::new("unshare").args(["--net", "true"]).output() else { return };
        assert!(out.status.success(), "unshare --net needs root: {}", String::from_utf8_lossy(&out.stderr));
        let mut c = cfg();
        c.nfacct = false;
        c.random_fully = true;
        let state = overall();
        let full = render(&c, &node(), &state, None, &HashSet::new(), &[]);
        let mut next = state.clone();
        next.remove(&("ns1".to_string(), "svc1".to_string()));
        let changed: BTreeSet<ServiceKey> = [("ns1".to_string(), "svc1".to_string())].into();
        let partial = render(&c, &node(), &next, Some(&changed), &full.active, &[]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("full"), &full.text).unwrap();
        std::fs::write(dir.path().join("partial"), &partial.text).unwrap();
        let script = "set -e; iptables-restore -w 5 --noflush --counters < full; iptables-restore -w 5 --noflush --counters < partial; iptables-save -t nat";
        let out = std::process::Command::new("unshare")
            .args(["--net", "sh", "-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let saved = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}\n{saved}", String::from_utf8_lossy(&out.stderr));
        assert!(saved.contains(":KUBE-SVC-NUKIZ6OKUXPJNT4C"), "{saved}");
        assert!(!saved.contains("KUBE-SVC-XPGD46QRK7WJZT7O"), "{saved}");
        assert!(saved.contains("--probability 0.50000000000"), "the kernel's own rendering: {saved}");
    }
}
