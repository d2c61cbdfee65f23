//! The nftables proxier: upstream's `kube-proxy` table (family `ip`), where Service
//! addresses are keys of verdict maps, so a packet costs one lookup whatever the number of
//! Services, and a sync sends `nft -f` only the map elements and the chains of the Services
//! that changed.

use crate::iptables::{Config, LocalDetector, NodePortAddresses, Synced};
use crate::model::{categorize, Endpoint, NodeInfo, ServicePort};
use crate::state::{ProxyState, ServiceKey};
use crate::{netfilter, Error};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const T: &str = "ip kube-proxy";

/// The base chains: name, type, hook, priority.
const BASE_CHAINS: &[(&str, &str, &str, i32)] = &[
    ("filter-prerouting", "filter", "prerouting", -110),
    ("filter-input", "filter", "input", -110),
    ("filter-forward", "filter", "forward", -110),
    ("filter-output", "filter", "output", -110),
    ("filter-output-post-dnat", "filter", "output", -90),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
];

/// The jumps from the base chains: (from, only new connections, to).
const JUMPS: &[(&str, bool, &str)] = &[
    ("filter-input", true, "nodeport-endpoints-check"),
    ("filter-input", true, "service-endpoints-check"),
    ("filter-forward", true, "service-endpoints-check"),
    ("filter-output", true, "service-endpoints-check"),
    ("filter-prerouting", true, "firewall-check"),
    ("filter-output", true, "firewall-check"),
    ("nat-output", false, "services"),
    ("nat-prerouting", false, "services"),
    ("nat-postrouting", false, "masquerading"),
    ("filter-forward", true, "cluster-ips-check"),
    ("filter-output-post-dnat", true, "cluster-ips-check"),
];

/// The sets and maps whose elements follow the Services, with their declarations.
const CONTAINERS: &[(&str, &str)] = &[
    ("cluster-ips", "set ip kube-proxy cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }"),
    (
        "service-ips",
        "map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }",
    ),
    (
        "service-nodeports",
        "map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ; }",
    ),
    (
        "no-endpoint-services",
        "map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ; }",
    ),
    (
        "no-endpoint-nodeports",
        "map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ; }",
    ),
    (
        "firewall-ips",
        "map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ; }",
    ),
];

/// Upstream's chain-name base: `<base32(sha256(name))[:8]>-<name>`, cut to 240 characters.
pub fn name_base(name: &str) -> String {
    let mut h = data_encoding::BASE32.encode(&Sha256::digest(name.as_bytes()));
    h.truncate(8);
    let mut s = format!("{h}-{name}");
    if s.len() > 240 {
        s.truncate(237);
        s.push_str("...");
    }
    s
}

fn endpoint_base(port_name: &str, ep: &Endpoint) -> String {
    name_base(&format!("{port_name}__{}/{}", ep.ip, ep.port))
}

/// Whether a chain is a per-service one (they alone contain `/`).
fn is_service_chain(name: &str) -> bool {
    name.contains('/')
}

impl LocalDetector {
    fn nft(&self, local: bool) -> Option<String> {
        let op = if local { "" } else { "!= " };
        match self {
            LocalDetector::None => None,
            LocalDetector::Cidr(c) => Some(format!("ip saddr {op}{c}")),
            LocalDetector::Interface(i) => Some(format!("iifname {op}\"{i}\"")),
            LocalDetector::InterfacePrefix(p) => Some(format!("iifname {op}\"{p}*\"")),
        }
    }
}

/// Desired elements: container → key → the rest of the element (` : verdict`, a comment).
type Elements = BTreeMap<&'static str, BTreeMap<String, String>>;

fn comment(s: &str) -> String {
    // The kernel refuses element comments over 128 bytes.
    let mut c: String = s.chars().filter(|c| *c != '"').collect();
    if c.len() > 128 {
        let mut end = 128;
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        c.truncate(end);
    }
    format!(" comment \"{c}\"")
}

/// The per-service part of one sync.
#[derive(Default)]
struct Out {
    /// `add chain` / `flush chain` / `add set` lines, before any rule uses them.
    decls: String,
    rules: String,
    elements: Elements,
    active_chains: HashSet<String>,
    active_sets: HashSet<String>,
    no_local: (usize, usize),
}

impl Out {
    fn chain(&mut self, name: &str, write: bool) {
        if self.active_chains.insert(name.to_string()) && write {
            let _ = writeln!(self.decls, "add chain {T} {name}\nflush chain {T} {name}");
        }
    }

    fn elem(&mut self, container: &'static str, key: String, rest: String) {
        self.elements.entry(container).or_default().insert(key, rest);
    }
}

fn write_service(cfg: &Config, svc: &ServicePort, eps: &[Endpoint], node: &NodeInfo, write: bool, o: &mut Out) {
    let cat = categorize(eps, svc, node);
    let n = &svc.name;
    let port_name = format!("{}/{}/{}/{}", n.namespace, n.name, n.protocol.lower(), n.port);
    let base = name_base(&port_name);
    let (svc_chain, local_chain, ext_chain, fw_chain) =
        (format!("service-{base}"), format!("local-{base}"), format!("external-{base}"), format!("firewall-{base}"));
    let proto = n.protocol.lower();
    let display = n.to_string();
    let has_endpoints = cat.has_any;
    let uses_cluster = !cat.cluster.is_empty() && svc.uses_cluster_endpoints();
    let uses_local = !cat.local.is_empty() && svc.uses_local_endpoints();
    let internal_chain = if svc.internal_policy_local { &local_chain } else { &svc_chain };
    let external_policy_chain = if svc.external_policy_local { &local_chain } else { &svc_chain };
    let has_internal = has_endpoints && !(svc.internal_policy_local && cat.local.is_empty());
    let has_external = has_endpoints && !(svc.external_policy_local && cat.local.is_empty());
    let uses_ext = has_endpoints && svc.externally_accessible();
    let uses_fw = !svc.load_balancer_vips.is_empty() && !svc.source_ranges.is_empty();
    let (internal_verdict, external_verdict) = if !has_endpoints {
        ("goto reject-chain", "goto reject-chain")
    } else {
        if !has_internal {
            o.no_local.0 += 1;
        }
        if !has_external {
            o.no_local.1 += 1;
        }
        ("drop", "drop")
    };
    let c = comment(&display);
    let port = svc.port;
    o.elem("cluster-ips", svc.cluster_ip.to_string(), String::new());
    if has_internal {
        o.elem("service-ips", format!("{} . {proto} . {port}", svc.cluster_ip), format!(" : goto {internal_chain}"));
    } else {
        o.elem(
            "no-endpoint-services",
            format!("{} . {proto} . {port}", svc.cluster_ip),
            format!("{c} : {internal_verdict}"),
        );
    }
    for ip in &svc.external_ips {
        if has_endpoints {
            o.elem("service-ips", format!("{ip} . {proto} . {port}"), format!(" : goto {ext_chain}"));
        }
        if !has_external {
            o.elem("no-endpoint-services", format!("{ip} . {proto} . {port}"), format!("{c} : {external_verdict}"));
        }
    }
    for ip in &svc.load_balancer_vips {
        if has_endpoints {
            o.elem("service-ips", format!("{ip} . {proto} . {port}"), format!(" : goto {ext_chain}"));
        }
        if uses_fw {
            o.elem("firewall-ips", format!("{ip} . {proto} . {port}"), format!(" : goto {fw_chain}"));
        }
        if !has_external {
            o.elem("no-endpoint-services", format!("{ip} . {proto} . {port}"), format!("{c} : {external_verdict}"));
        }
    }
    if svc.node_port != 0 {
        if has_endpoints {
            o.elem("service-nodeports", format!("{proto} . {}", svc.node_port), format!(" : goto {ext_chain}"));
        }
        if !has_external {
            o.elem(
                "no-endpoint-nodeports",
                format!("{proto} . {}", svc.node_port),
                format!("{c} : {external_verdict}"),
            );
        }
    }
    // The chains (rewritten only when `write`).
    let mut rules = String::new();
    let mut rule = |chain: &str, text: String| {
        let _ = writeln!(rules, "add rule {T} {chain} {text}");
    };
    if has_internal {
        let masq =
            if cfg.masquerade_all { Some(String::new()) } else { cfg.detector.nft(false).map(|s| format!(" {s}")) };
        if let Some(m) = masq {
            rule(
                internal_chain,
                format!("ip daddr {} {proto} dport {port}{m} jump mark-for-masquerade", svc.cluster_ip),
            );
        }
    }
    if uses_ext {
        o.chain(&ext_chain, write);
        if !svc.external_policy_local {
            rule(&ext_chain, "jump mark-for-masquerade".into());
        } else {
            if let Some(l) = cfg.detector.nft(true) {
                rule(&ext_chain, format!("{l} goto {svc_chain} comment \"short-circuit pod traffic\""));
            }
            rule(
                &ext_chain,
                "fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"".into(),
            );
            rule(&ext_chain, format!("fib saddr type local goto {svc_chain} comment \"short-circuit local traffic\""));
        }
        if has_external {
            rule(&ext_chain, format!("goto {external_policy_chain}"));
        }
    }
    if uses_fw {
        o.chain(&fw_chain, write);
        let mut sources: Vec<String> = svc.source_ranges.iter().map(|r| r.to_string()).collect();
        if cfg.node_ip.is_some_and(|ip| svc.source_ranges.iter().any(|r| r.contains(&ip))) {
            sources.extend(svc.load_balancer_vips.iter().map(|ip| ip.to_string()));
        }
        rule(&fw_chain, format!("ip saddr != {{ {} }} drop", sources.join(" , ")));
    }
    let affinity = svc.affinity_seconds;
    let dispatch = |chain: &str, eps: &[Endpoint], rule: &mut dyn FnMut(&str, String)| {
        if affinity.is_some() {
            for e in eps {
                let b = endpoint_base(&port_name, e);
                rule(chain, format!("ip saddr @affinity-{b} goto endpoint-{b}"));
            }
        }
        let arms: Vec<String> = eps
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{i} : goto endpoint-{}", endpoint_base(&port_name, e)))
            .collect();
        rule(chain, format!("numgen random mod {} vmap {{ {} }}", eps.len(), arms.join(" , ")));
    };
    if uses_cluster {
        o.chain(&svc_chain, write);
        dispatch(&svc_chain, &cat.cluster, &mut rule);
    }
    if uses_local {
        o.chain(&local_chain, write);
        dispatch(&local_chain, &cat.local, &mut rule);
    }
    for e in &cat.all_reachable {
        let b = endpoint_base(&port_name, e);
        let chain = format!("endpoint-{b}");
        o.chain(&chain, write);
        rule(&chain, format!("ip saddr {} jump mark-for-masquerade", e.ip));
        if let Some(secs) = affinity {
            let set = format!("affinity-{b}");
            if o.active_sets.insert(set.clone()) && write {
                let _ = writeln!(
                    o.decls,
                    "add set {T} {set} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {secs}s ; }}"
                );
            }
            rule(&chain, format!("update @{set} {{ ip saddr }}"));
        }
        rule(&chain, format!("meta l4proto {proto} dnat to {}", e.addr()));
    }
    if write {
        o.rules.push_str(&rules);
    }
}

/// The fixed part of a full sync: table, base chains, jumps, helper chains, sets and maps
/// (the tracked ones flushed, to be filled again).
fn setup(cfg: &Config, first: bool, node_ips: &[Ipv4Addr]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "add table {T} {{ comment \"rules for kube-proxy\" ; }}");
    if first {
        // An older kube-proxy's base chains may differ: remove them (with their rules).
        for (name, ..) in BASE_CHAINS {
            let _ = writeln!(s, "add chain {T} {name}\ndelete chain {T} {name}");
        }
    }
    for (name, ty, hook, prio) in BASE_CHAINS {
        let _ =
            writeln!(s, "add chain {T} {name} {{ type {ty} hook {hook} priority {prio} ; }}\nflush chain {T} {name}");
    }
    let mut made = BTreeSet::new();
    for to in JUMPS.iter().map(|j| j.2).chain(["services", "cluster-ips-check", "masquerading", "mark-for-masquerade"])
    {
        if made.insert(to) {
            let _ = writeln!(s, "add chain {T} {to}\nflush chain {T} {to}");
        }
    }
    for (from, new, to) in JUMPS {
        let _ = writeln!(s, "add rule {T} {from} {}jump {to}", if *new { "ct state new " } else { "" });
    }
    let m = &cfg.mark;
    let _ = writeln!(s, "add rule {T} mark-for-masquerade mark set mark or {m}");
    let _ = writeln!(s, "add rule {T} masquerading mark and {m} == 0 return");
    let _ = writeln!(s, "add rule {T} masquerading mark set mark xor {m}");
    let _ = writeln!(s, "add rule {T} masquerading masquerade fully-random");
    for (name, decl) in CONTAINERS {
        let kind = if decl.starts_with("set") { "set" } else { "map" };
        let _ = writeln!(s, "add {decl}\nflush {kind} {T} {name}");
    }
    let _ = writeln!(
        s,
        "add rule {T} cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\""
    );
    let _ =
        writeln!(s, "add set {T} nodeport-ips {{ type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }}");
    match &cfg.nodeport_addresses {
        NodePortAddresses::All => {
            let _ = writeln!(s, "delete set {T} nodeport-ips");
        }
        NodePortAddresses::Cidrs(_) => {
            let _ = writeln!(s, "flush set {T} nodeport-ips");
            for ip in node_ips.iter().filter(|ip| !ip.is_loopback()) {
                let _ = writeln!(s, "add element {T} nodeport-ips {{ {ip} }}");
            }
        }
    }
    let _ = writeln!(
        s,
        "add chain {T} reject-chain {{ comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }}\nflush chain {T} reject-chain\nadd rule {T} reject-chain reject"
    );
    let _ = writeln!(
        s,
        "add rule {T} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services"
    );
    let _ = writeln!(s, "add rule {T} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips");
    let _ = writeln!(s, "add rule {T} services ip daddr . meta l4proto . th dport vmap @service-ips");
    match &cfg.nodeport_addresses {
        NodePortAddresses::All => {
            let _ = writeln!(
                s,
                "add rule {T} services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"
            );
            let _ = writeln!(
                s,
                "add rule {T} nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports"
            );
        }
        NodePortAddresses::Cidrs(_) => {
            let _ = writeln!(
                s,
                "add rule {T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"
            );
            let _ = writeln!(
                s,
                "add rule {T} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"
            );
        }
    }
    s
}

/// One sync's transaction and what it leaves in the kernel.
pub struct Rendered {
    pub text: String,
    pub elements: Elements,
    pub active_chains: HashSet<String>,
    pub active_sets: HashSet<String>,
    pub newly_stale: Vec<String>,
    pub no_local: (usize, usize),
}

/// What the kernel holds, as far as the last successful transaction says.
#[derive(Default)]
pub struct Kernel {
    pub elements: Elements,
    pub chains: HashSet<String>,
    pub sets: HashSet<String>,
    /// Chains flushed because unused, with when: deleted a second later (a map element that
    /// pointed at one keeps it busy for a moment on kernels before 6.2).
    pub stale: HashMap<String, Instant>,
}

/// Writes one sync's transaction: everything (`changed` is `None`) or the changed Services'
/// chains, and the element differences against `kernel`.
pub fn render(
    cfg: &Config,
    node: &NodeInfo,
    state: &ProxyState,
    changed: Option<&BTreeSet<ServiceKey>>,
    kernel: &Kernel,
    first: bool,
    node_ips: &[Ipv4Addr],
) -> Rendered {
    let mut text = String::new();
    let full = changed.is_none();
    if full {
        text.push_str(&setup(cfg, first, node_ips));
    }
    let mut o = Out::default();
    for (key, ports) in state {
        let write = changed.is_none_or(|c| c.contains(key));
        for (svc, eps) in ports {
            write_service(cfg, svc, eps, node, write, &mut o);
        }
    }
    text.push_str(&o.decls);
    text.push_str(&o.rules);
    // Elements: a full sync flushed the containers, so all are added again.
    let empty = Elements::new();
    let have = if full { &empty } else { &kernel.elements };
    for (name, _) in CONTAINERS {
        let want = o.elements.get(name);
        let had = have.get(name);
        for (k, rest) in had.into_iter().flatten() {
            if want.and_then(|w| w.get(k)) != Some(rest) {
                let _ = writeln!(text, "delete element {T} {name} {{ {k} }}");
            }
        }
        for (k, rest) in want.into_iter().flatten() {
            if had.and_then(|h| h.get(k)) != Some(rest) {
                let _ = writeln!(text, "add element {T} {name} {{ {k}{rest} }}");
            }
        }
    }
    let mut newly_stale = Vec::new();
    let mut stale: Vec<&String> =
        kernel.chains.iter().filter(|c| is_service_chain(c) && !o.active_chains.contains(*c)).collect();
    stale.sort();
    for c in stale {
        if !kernel.stale.contains_key(c) {
            let _ = writeln!(text, "flush chain {T} {c}");
            newly_stale.push(c.clone());
        }
    }
    let mut sets: Vec<&String> = kernel.sets.iter().filter(|s| !o.active_sets.contains(*s)).collect();
    sets.sort();
    for s in sets {
        let _ = writeln!(text, "delete set {T} {s}");
    }
    Rendered {
        text,
        elements: o.elements,
        active_chains: o.active_chains,
        active_sets: o.active_sets,
        newly_stale,
        no_local: o.no_local,
    }
}

/// The nftables proxier's state between syncs.
pub struct Proxier {
    cfg: Config,
    kernel: Kernel,
    need_full: bool,
    last_full: Option<Instant>,
    synced_once: bool,
}

impl Proxier {
    pub fn new(cfg: Config) -> Proxier {
        Proxier { cfg, kernel: Kernel::default(), need_full: true, last_full: None, synced_once: false }
    }

    pub fn force_full(&mut self) {
        self.need_full = true;
    }

    /// Checks that `nft` works here (upstream needs nft 1.0.1 and kernel 5.13).
    pub async fn check() -> Result<(), Error> {
        let r = netfilter::run(
            "nft",
            &["--check", "-f", "-"],
            Some(format!("add table {T} {{ comment \"test\" ; }}\n").as_bytes()),
        )
        .await
        .map_err(|e| Error::Config(format!("unable to create proxier: {e}")))?;
        if r.code != 0 {
            return Err(Error::Config(format!(
                "unable to create proxier: could not run nftables command: {}",
                r.stderr.trim()
            )));
        }
        Ok(())
    }

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
            crate::metrics::NFT_SYNC_FAILURES.with_label_values(&[crate::metrics::IPV4]).inc();
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
        self.delete_stale_chains().await;
        if full {
            let (chains, sets) = list_table().await?;
            self.kernel.chains = chains;
            self.kernel.sets = sets;
        }
        let node_ips = match &self.cfg.nodeport_addresses {
            NodePortAddresses::All => Vec::new(),
            NodePortAddresses::Cidrs(c) => {
                netfilter::local_ipv4s().await.into_iter().filter(|ip| c.iter().any(|n| n.contains(ip))).collect()
            }
        };
        let r = render(&self.cfg, node, state, (!full).then_some(changed), &self.kernel, !self.synced_once, &node_ips);
        if !r.text.is_empty() {
            let out = netfilter::run("nft", &["-f", "-"], Some(r.text.as_bytes())).await?;
            if out.code != 0 {
                return Err(Error::Restore(format!("nft -f: {}", out.stderr.trim())));
            }
        }
        let now = Instant::now();
        for c in &r.newly_stale {
            self.kernel.stale.insert(c.clone(), now);
        }
        self.kernel.stale.retain(|c, _| !r.active_chains.contains(c));
        self.kernel.chains = r.active_chains.union(&self.kernel.stale.keys().cloned().collect()).cloned().collect();
        self.kernel.sets = r.active_sets;
        self.kernel.elements = r.elements;
        self.need_full = false;
        self.synced_once = true;
        if full {
            self.last_full = Some(now);
        }
        Ok(Synced { full, no_local: r.no_local })
    }

    /// Deletes the chains that went unused a second or more ago, in a transaction of their own.
    async fn delete_stale_chains(&mut self) {
        let due: Vec<String> = self
            .kernel
            .stale
            .iter()
            .filter(|(_, t)| t.elapsed() >= Duration::from_secs(1))
            .map(|(c, _)| c.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let mut text = String::new();
        for c in &due {
            let _ = writeln!(text, "delete chain {T} {c}");
        }
        match netfilter::run("nft", &["-f", "-"], Some(text.as_bytes())).await {
            Ok(r) if r.code == 0 => {
                for c in &due {
                    self.kernel.stale.remove(c);
                    self.kernel.chains.remove(c);
                }
            }
            Ok(r) => {
                tracing::error!(error = r.stderr.trim(), "Failed to delete stale chains");
                self.need_full = true;
            }
            Err(e) => tracing::error!(error = %e, "Failed to delete stale chains"),
        }
    }
}

/// The per-service chains and affinity sets of the `kube-proxy` table now in the kernel, from
/// the terse text listing (no elements; far lighter than the JSON one at scale).
async fn list_table() -> Result<(HashSet<String>, HashSet<String>), Error> {
    let r = netfilter::run("nft", &["-t", "list", "table", "ip", "kube-proxy"], None).await?;
    if r.code != 0 {
        // No table yet.
        return Ok((HashSet::new(), HashSet::new()));
    }
    Ok(parse_listing(&r.stdout))
}

fn parse_listing(text: &str) -> (HashSet<String>, HashSet<String>) {
    let mut chains = HashSet::new();
    let mut sets = HashSet::new();
    for line in text.lines() {
        let name = |rest: &str| rest.trim_end_matches('{').trim().trim_matches('"').to_string();
        if let Some(rest) = line.strip_prefix("\tchain ") {
            let n = name(rest);
            if is_service_chain(&n) {
                chains.insert(n);
            }
        } else if let Some(rest) = line.strip_prefix("\tset ") {
            let n = name(rest);
            if n.starts_with("affinity-") {
                sets.insert(n);
            }
        }
    }
    (chains, sets)
}

/// Deletes the `kube-proxy` table (`--cleanup`, or iptables mode's start).
pub async fn cleanup() -> Result<(), Error> {
    let r = match netfilter::run("nft", &["delete", "table", "ip", "kube-proxy"], None).await {
        Ok(r) => r,
        // No nft on this host: nothing of ours can be there.
        Err(_) => return Ok(()),
    };
    if r.code == 0 || r.stderr.contains("No such file or directory") {
        return Ok(());
    }
    Err(Error::Exec(format!("nft delete table ip kube-proxy: {}", r.stderr.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config {
            mark: "0x4000".into(),
            detector: LocalDetector::Cidr("10.0.0.0/8".into()),
            masquerade_all: false,
            localhost_nodeports: false,
            node_ip: Some("192.168.0.2".parse().unwrap()),
            nodeport_addresses: NodePortAddresses::Cidrs(vec!["192.168.0.2/32".parse().unwrap()]),
            random_fully: true,
            conntrack_liberal: false,
            nfacct: false,
        }
    }

    use crate::iptables::tests::port;

    fn ep(ip: &str) -> Endpoint {
        crate::iptables::tests::ep(ip, false)
    }

    fn state() -> ProxyState {
        let mut s = ProxyState::new();
        let mut a = port("ns1", "172.30.0.41");
        a.affinity_seconds = Some(10800);
        s.insert(("ns1".into(), "svc1".into()), vec![(a, vec![ep("10.180.0.1"), ep("10.180.0.2")])]);
        let mut b = port("ns2", "172.30.0.42");
        b.node_port = 3001;
        b.load_balancer_vips = vec!["5.6.7.8".parse().unwrap()];
        b.source_ranges = vec!["203.0.113.0/25".parse().unwrap()];
        s.insert(("ns2".into(), "svc2".into()), vec![(b, vec![ep("10.180.0.3")])]);
        s.insert(("ns6".into(), "svc6".into()), vec![(port("ns6", "172.30.0.46"), vec![])]);
        s
    }

    #[test]
    fn the_listing_names_our_chains_and_sets() {
        let text = "table ip kube-proxy {\n\tset affinity-B-ns/s/tcp/p__10.0.0.1/80 {\n\t\ttype ipv4_addr\n\t}\n\n\tset cluster-ips {\n\t}\n\tchain service-A-ns/s/tcp/p {\n\t}\n\tchain services {\n\t}\n}\n";
        let (chains, sets) = parse_listing(text);
        assert_eq!(chains, HashSet::from(["service-A-ns/s/tcp/p".to_string()]));
        assert_eq!(sets, HashSet::from(["affinity-B-ns/s/tcp/p__10.0.0.1/80".to_string()]));
    }

    #[test]
    fn names_hash_as_upstream() {
        assert_eq!(name_base("ns1/svc1/tcp/p80"), "ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(name_base("ns1/svc1/tcp/p80__10.180.0.1/80"), "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
        assert!(name_base(&"x".repeat(300)).ends_with("...") && name_base(&"x".repeat(300)).len() == 240);
    }

    #[test]
    fn services_become_map_elements_and_chains() {
        let r = render(
            &cfg(),
            &NodeInfo::default(),
            &state(),
            None,
            &Kernel::default(),
            true,
            &["192.168.0.2".parse().unwrap()],
        );
        let t = &r.text;
        for line in [
            "add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }",
            "add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment \"ns6/svc6:p80\" : goto reject-chain }",
            "add element ip kube-proxy nodeport-ips { 192.168.0.2 }",
            "add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 update @affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 { ip saddr }",
            "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
            "add set ip kube-proxy affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }",
            "add rule ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 meta l4proto tcp dnat to 10.180.0.1:80",
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line}\n{t}");
        }
        assert!(t.contains("numgen random mod 2 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 , 1 : goto endpoint-"));
        assert!(t.contains("ip saddr != { 203.0.113.0/25 } drop\n"), "{t}");
    }

    #[test]
    fn a_partial_sync_sends_only_differences() {
        let c = cfg();
        let s = state();
        let first = render(&c, &NodeInfo::default(), &s, None, &Kernel::default(), true, &[]);
        let kernel = Kernel {
            elements: first.elements,
            chains: first.active_chains,
            sets: first.active_sets,
            stale: HashMap::new(),
        };
        let unchanged = render(&c, &NodeInfo::default(), &s, Some(&BTreeSet::new()), &kernel, false, &[]);
        assert_eq!(unchanged.text, "", "nothing changed, nothing to send");
        let mut next = s.clone();
        next.remove(&("ns1".to_string(), "svc1".to_string()));
        let changed: BTreeSet<ServiceKey> = [("ns1".to_string(), "svc1".to_string())].into();
        let r = render(&c, &NodeInfo::default(), &next, Some(&changed), &kernel, false, &[]);
        assert!(r.text.contains("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }\n"), "{}", r.text);
        assert!(r.text.contains("flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"));
        assert!(r.text.contains("delete set ip kube-proxy affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"));
        assert!(!r.text.contains("svc2/tcp/p80\nflush"), "unchanged services keep their chains");
        assert_eq!(r.newly_stale.len(), 3);
    }

    /// The transactions load with Debian's nft into a network namespace of the test's own.
    #[test]
    fn nft_accepts_the_transactions() {
        let c = cfg();
        let s = state();
        let first =
            render(&c, &NodeInfo::default(), &s, None, &Kernel::default(), true, &["192.168.0.2".parse().unwrap()]);
        let kernel = Kernel {
            elements: first.elements.clone(),
            chains: first.active_chains.clone(),
            sets: first.active_sets.clone(),
            stale: HashMap::new(),
        };
        let mut next = s.clone();
        next.remove(&("ns1".to_string(), "svc1".to_string()));
        let changed: BTreeSet<ServiceKey> = [("ns1".to_string(), "svc1".to_string())].into();
        let partial = render(&c, &NodeInfo::default(), &next, Some(&changed), &kernel, false, &[]);
        let again = render(&c, &NodeInfo::default(), &next, None, &Kernel::default(), false, &[]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1"), &first.text).unwrap();
        std::fs::write(dir.path().join("2"), &partial.text).unwrap();
        std::fs::write(dir.path().join("3"), &again.text).unwrap();
        let script = "set -e; nft -f 1; nft -f 2; nft -f 3; nft list table ip kube-proxy";
        let out = std::process::Command::new("unshare")
            .args(["--net", "sh", "-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}\n{listed}", String::from_utf8_lossy(&out.stderr));
        assert!(listed.contains("5.6.7.8 . tcp . 80 : goto external-"), "{listed}");
        assert!(!listed.contains("172.30.0.41"), "{listed}");
    }
}
