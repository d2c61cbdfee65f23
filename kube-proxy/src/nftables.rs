//! The nftables proxier: upstream's `kube-proxy` table (family `ip`), where Service
//! addresses are keys of verdict maps, so a packet costs one lookup whatever the number of
//! Services. A full sync is one `nft -f` transaction; a partial sync renders only the Services
//! that changed and sends their chains and map elements as one netlink batch (see [`nfnl`]),
//! so its cost follows the change, not the table.

use crate::iptables::{Config, LocalDetector, NodePortAddresses, Synced};
use crate::model::{categorize, Endpoint, NodeInfo, Protocol, ServicePort, ServiceState};
use crate::state::{ProxyState, ServiceKey};
use crate::{netfilter, nfnl, Error};
use ipnet::Ipv4Net;
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

/// One match or statement of a per-Service rule: printed for `nft -f`, encoded for netlink.
#[derive(Debug, Clone, PartialEq)]
enum Stmt {
    Daddr(Ipv4Addr),
    /// `ip saddr <ip>`.
    Saddr(Ipv4Addr),
    /// `ip saddr [!= ]<cidr>`.
    SaddrNet(Ipv4Net, bool),
    /// `<proto> dport <port>`.
    Dport(Protocol, u16),
    /// `iifname [!= ]"<name>[*]"`: name, prefix, negated.
    Iifname(String, bool, bool),
    FibSaddrLocal,
    /// `ip saddr @<set>`.
    SaddrIn(String),
    L4proto(Protocol),
    Jump(&'static str),
    Goto(String),
    /// `numgen random mod <n> vmap { 0 : goto <c0> , … }`.
    NumgenVmap(Vec<String>),
    /// `update @<set> { ip saddr }`.
    Update(String),
    Dnat(Ipv4Addr, u16),
    /// Anything else, as nft text: such a transaction goes through `nft -f`.
    Raw(String),
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

impl Stmt {
    fn text(&self, s: &mut String) {
        let _ = match self {
            Stmt::Daddr(ip) => write!(s, "ip daddr {ip}"),
            Stmt::Saddr(ip) => write!(s, "ip saddr {ip}"),
            Stmt::SaddrNet(net, neg) => write!(s, "ip saddr {}{net}", if *neg { "!= " } else { "" }),
            Stmt::Dport(p, port) => write!(s, "{} dport {port}", p.lower()),
            Stmt::Iifname(name, prefix, neg) => {
                write!(s, "iifname {}\"{name}{}\"", if *neg { "!= " } else { "" }, if *prefix { "*" } else { "" })
            }
            Stmt::FibSaddrLocal => write!(s, "fib saddr type local"),
            Stmt::SaddrIn(set) => write!(s, "ip saddr @{set}"),
            Stmt::L4proto(p) => write!(s, "meta l4proto {}", p.lower()),
            Stmt::Jump(c) => write!(s, "jump {c}"),
            Stmt::Goto(c) => write!(s, "goto {c}"),
            Stmt::NumgenVmap(chains) => {
                let _ = write!(s, "numgen random mod {} vmap {{ ", chains.len());
                for (i, c) in chains.iter().enumerate() {
                    let _ = write!(s, "{}{i} : goto {c}", if i > 0 { " , " } else { "" });
                }
                write!(s, " }}")
            }
            Stmt::Update(set) => write!(s, "update @{set} {{ ip saddr }}"),
            Stmt::Dnat(ip, port) => write!(s, "dnat to {ip}:{port}"),
            Stmt::Raw(t) => write!(s, "{t}"),
        };
    }

    /// Whether [`Stmt::encode`] can carry the statement.
    fn has_netlink_form(&self) -> bool {
        match self {
            Stmt::SaddrNet(net, _) => net.prefix_len() > 0,
            Stmt::Iifname(name, ..) => name.len() <= 15,
            Stmt::Raw(_) => false,
            _ => true,
        }
    }

    /// The expressions nft generates for the statement; false for `Raw`.
    fn encode(&self, r: &mut nfnl::Rule<'_>) -> bool {
        match self {
            Stmt::Daddr(ip) => r.payload(nfnl::NETWORK, 16, 4).cmp(false, &ip.octets()),
            Stmt::Saddr(ip) => r.payload(nfnl::NETWORK, 12, 4).cmp(false, &ip.octets()),
            Stmt::SaddrNet(net, neg) => {
                let len = net.prefix_len();
                let addr = net.network().octets();
                if len == 0 {
                    return false;
                }
                if len % 8 == 0 {
                    let n = usize::from(len / 8);
                    r.payload(nfnl::NETWORK, 12, n as u32).cmp(*neg, &addr[..n])
                } else {
                    r.payload(nfnl::NETWORK, 12, 4).mask(&net.netmask().octets()).cmp(*neg, &addr)
                }
            }
            Stmt::Dport(p, port) => r
                .meta(nfnl::META_L4PROTO)
                .cmp(false, &[proto_number(*p)])
                .payload(nfnl::TRANSPORT, 2, 2)
                .cmp(false, &port.to_be_bytes()),
            Stmt::Iifname(name, prefix, neg) => {
                if name.len() > 15 {
                    return false;
                }
                let mut data = name.as_bytes().to_vec();
                if !prefix {
                    data.resize(16, 0);
                }
                r.meta(nfnl::META_IIFNAME).cmp(*neg, &data)
            }
            // RTN_LOCAL, host byte order.
            Stmt::FibSaddrLocal => r.fib_saddr_type().cmp(false, &2u32.to_ne_bytes()),
            Stmt::SaddrIn(set) => r.payload(nfnl::NETWORK, 12, 4).lookup(set),
            Stmt::L4proto(p) => r.meta(nfnl::META_L4PROTO).cmp(false, &[proto_number(*p)]),
            Stmt::Jump(c) => r.verdict(nfnl::Code::Jump, Some(c)),
            Stmt::Goto(c) => r.verdict(nfnl::Code::Goto, Some(c)),
            Stmt::NumgenVmap(chains) => {
                let c: Vec<&str> = chains.iter().map(String::as_str).collect();
                r.numgen_vmap(&c)
            }
            Stmt::Update(set) => r.payload(nfnl::NETWORK, 12, 4).update_set(set),
            Stmt::Dnat(ip, port) => r.dnat(*ip, *port),
            Stmt::Raw(_) => return false,
        };
        true
    }
}

/// One rule of a per-Service chain.
#[derive(Debug, Clone)]
struct Rule {
    chain: String,
    stmts: Vec<Stmt>,
    comment: Option<&'static str>,
}

impl LocalDetector {
    fn nft(&self, local: bool) -> Option<Stmt> {
        let neg = !local;
        match self {
            LocalDetector::None => None,
            LocalDetector::Cidr(c) => Some(match c.parse::<Ipv4Net>() {
                Ok(net) => Stmt::SaddrNet(net, neg),
                Err(_) => Stmt::Raw(format!("ip saddr {}{c}", if neg { "!= " } else { "" })),
            }),
            LocalDetector::Interface(i) => Some(Stmt::Iifname(i.clone(), false, neg)),
            LocalDetector::InterfacePrefix(p) => Some(Stmt::Iifname(p.clone(), true, neg)),
        }
    }
}

/// The sets and maps whose elements follow the Services (indexes into [`CONTAINERS`]).
const CLUSTER_IPS: u8 = 0;
const SERVICE_IPS: u8 = 1;
const SERVICE_NODEPORTS: u8 = 2;
const NO_ENDPOINT_SERVICES: u8 = 3;
const NO_ENDPOINT_NODEPORTS: u8 = 4;
const FIREWALL_IPS: u8 = 5;

/// An element's key: the container, then the parts of the key its type has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    set: u8,
    ip: Ipv4Addr,
    proto: Protocol,
    port: u16,
}

impl Key {
    fn ip(set: u8, ip: Ipv4Addr, proto: Protocol, port: u16) -> Key {
        Key { set, ip, proto, port }
    }

    fn nodeport(set: u8, proto: Protocol, port: u16) -> Key {
        Key { set, ip: Ipv4Addr::UNSPECIFIED, proto, port }
    }

    fn container(&self) -> &'static str {
        CONTAINERS[usize::from(self.set)].0
    }

    fn text(&self, s: &mut String) {
        let p = self.proto.lower();
        let _ = match self.set {
            CLUSTER_IPS => write!(s, "{}", self.ip),
            SERVICE_NODEPORTS | NO_ENDPOINT_NODEPORTS => write!(s, "{p} . {}", self.port),
            _ => write!(s, "{} . {p} . {}", self.ip, self.port),
        };
    }

    /// The key as the kernel stores it: each concatenated field padded to 4 bytes.
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(12);
        if !matches!(self.set, SERVICE_NODEPORTS | NO_ENDPOINT_NODEPORTS) {
            v.extend_from_slice(&self.ip.octets());
        }
        if self.set != CLUSTER_IPS {
            v.extend_from_slice(&[proto_number(self.proto), 0, 0, 0]);
            v.extend_from_slice(&self.port.to_be_bytes());
            v.extend_from_slice(&[0, 0]);
        }
        v
    }
}

/// An element's value: a map's verdict (none for a set) and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Val {
    verdict: Option<Verdict>,
    comment: Option<Box<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Drop,
    Goto(Box<str>),
}

impl Val {
    fn goto(chain: &str) -> Val {
        Val { verdict: Some(Verdict::Goto(chain.into())), comment: None }
    }

    fn text(&self, s: &mut String) {
        if let Some(c) = &self.comment {
            let _ = write!(s, " comment \"{c}\"");
        }
        match &self.verdict {
            None => {}
            Some(Verdict::Drop) => s.push_str(" : drop"),
            Some(Verdict::Goto(c)) => {
                let _ = write!(s, " : goto {c}");
            }
        }
    }

    fn element(&self, key: &Key) -> nfnl::Element<'_> {
        nfnl::Element {
            key: key.bytes(),
            verdict: self.verdict.as_ref().map(|v| match v {
                Verdict::Drop => (nfnl::Code::Drop, None),
                Verdict::Goto(c) => (nfnl::Code::Goto, Some(&**c)),
            }),
            comment: self.comment.as_deref(),
        }
    }
}

/// An element comment as upstream writes it: no quotes, at most 128 bytes (the kernel's limit).
fn comment(s: &str) -> Box<str> {
    let mut c: String = s.chars().filter(|c| *c != '"').collect();
    if c.len() > 128 {
        let mut end = 128;
        while !c.is_char_boundary(end) {
            end -= 1;
        }
        c.truncate(end);
    }
    c.into()
}

/// What one Service leaves in the kernel, kept between syncs so that a partial sync renders
/// only the changed Services and diffs their elements against their previous ones.
#[derive(Debug, Default, Clone)]
struct Piece {
    elements: Vec<(Key, Stored)>,
    chains: Names,
    sets: Names,
    no_local: (usize, usize),
}

/// An element as a piece keeps it: a plain goto to one of the piece's own chains is that
/// chain's index, not a second copy of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stored {
    Val(Val),
    Chain(u8),
}

impl Piece {
    fn resolve(&self, s: &Stored) -> Val {
        match s {
            Stored::Val(v) => v.clone(),
            Stored::Chain(i) => Val::goto(self.chains.iter().nth(usize::from(*i)).unwrap_or_default()),
        }
    }
}

/// Names joined by newlines: one allocation for a Service's chains (or sets), where a
/// `Vec<Box<str>>` costs one per name (at 10,000 Services, 60,000 chain names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Names(Box<str>);

impl Names {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Names {
        Names(names.collect::<Vec<_>>().join("\n").into_boxed_str())
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split('\n').filter(|n| !n.is_empty())
    }

    fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

/// What one Service writes: its chains (added and flushed), affinity sets and rules.
#[derive(Debug, Default)]
struct Writes {
    chains: Vec<String>,
    sets: Vec<(String, u32)>,
    rules: Vec<Rule>,
}

impl Writes {
    fn chain(&mut self, name: &str) {
        if !self.chains.iter().any(|c| c == name) {
            self.chains.push(name.to_string());
        }
    }

    fn rule(&mut self, chain: &str, stmts: Vec<Stmt>, comment: Option<&'static str>) {
        self.rules.push(Rule { chain: chain.to_string(), stmts, comment });
    }

    fn text(&self, s: &mut String) {
        for c in &self.chains {
            let _ = writeln!(s, "add chain {T} {c}\nflush chain {T} {c}");
        }
        for (set, secs) in &self.sets {
            let _ = writeln!(s, "add set {T} {set} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {secs}s ; }}");
        }
        for r in &self.rules {
            let _ = write!(s, "add rule {T} {} ", r.chain);
            for (i, st) in r.stmts.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                st.text(s);
            }
            if let Some(c) = r.comment {
                let _ = write!(s, " comment \"{c}\"");
            }
            s.push('\n');
        }
    }

    fn has_netlink_form(&self) -> bool {
        self.rules.iter().all(|r| r.stmts.iter().all(Stmt::has_netlink_form))
    }

    /// Adds the writes to a netlink batch; false (and nothing added) if a rule has no netlink
    /// form.
    fn encode(&self, b: &mut nfnl::Batch) -> bool {
        if !self.has_netlink_form() {
            return false;
        }
        for c in &self.chains {
            b.add_chain(c);
            b.flush_chain(c);
        }
        for (set, secs) in &self.sets {
            b.add_timeout_set(set, *secs);
        }
        for r in &self.rules {
            let mut nr = b.rule(&r.chain);
            if !r.stmts.iter().all(|s| s.encode(&mut nr)) {
                return false;
            }
            nr.finish(r.comment);
        }
        true
    }
}

fn write_service(cfg: &Config, svc: &ServicePort, eps: &[Endpoint], node: &NodeInfo, p: &mut Piece, w: &mut Writes) {
    let cat = categorize(eps, svc, node);
    let n = &svc.name;
    let port_name = format!("{}/{}/{}/{}", n.namespace, n.name, n.protocol.lower(), n.port);
    let base = name_base(&port_name);
    let (svc_chain, local_chain, ext_chain, fw_chain) =
        (format!("service-{base}"), format!("local-{base}"), format!("external-{base}"), format!("firewall-{base}"));
    let proto = n.protocol;
    let has_endpoints = cat.has_any;
    let uses_cluster = !cat.cluster.is_empty() && svc.uses_cluster_endpoints();
    let uses_local = !cat.local.is_empty() && svc.uses_local_endpoints();
    let internal_chain = if svc.internal_policy_local { &local_chain } else { &svc_chain };
    let external_policy_chain = if svc.external_policy_local { &local_chain } else { &svc_chain };
    let has_internal = has_endpoints && !(svc.internal_policy_local && cat.local.is_empty());
    let has_external = has_endpoints && !(svc.external_policy_local && cat.local.is_empty());
    let uses_ext = has_endpoints && svc.externally_accessible();
    let uses_fw = !svc.load_balancer_vips.is_empty() && !svc.source_ranges.is_empty();
    let no_endpoints = Val {
        verdict: Some(if has_endpoints { Verdict::Drop } else { Verdict::Goto("reject-chain".into()) }),
        comment: Some(comment(&n.to_string())),
    };
    if has_endpoints {
        p.no_local.0 += usize::from(!has_internal);
        p.no_local.1 += usize::from(!has_external);
    }
    let port = svc.port;
    let mut elem = |k: Key, v: Val| p.elements.push((k, Stored::Val(v)));
    elem(Key::ip(CLUSTER_IPS, svc.cluster_ip, proto, 0), Val { verdict: None, comment: None });
    if has_internal {
        elem(Key::ip(SERVICE_IPS, svc.cluster_ip, proto, port), Val::goto(internal_chain));
    } else {
        elem(Key::ip(NO_ENDPOINT_SERVICES, svc.cluster_ip, proto, port), no_endpoints.clone());
    }
    for ip in &svc.external_ips {
        if has_endpoints {
            elem(Key::ip(SERVICE_IPS, *ip, proto, port), Val::goto(&ext_chain));
        }
        if !has_external {
            elem(Key::ip(NO_ENDPOINT_SERVICES, *ip, proto, port), no_endpoints.clone());
        }
    }
    for ip in &svc.load_balancer_vips {
        if has_endpoints {
            elem(Key::ip(SERVICE_IPS, *ip, proto, port), Val::goto(&ext_chain));
        }
        if uses_fw {
            elem(Key::ip(FIREWALL_IPS, *ip, proto, port), Val::goto(&fw_chain));
        }
        if !has_external {
            elem(Key::ip(NO_ENDPOINT_SERVICES, *ip, proto, port), no_endpoints.clone());
        }
    }
    if svc.node_port != 0 {
        if has_endpoints {
            elem(Key::nodeport(SERVICE_NODEPORTS, proto, svc.node_port), Val::goto(&ext_chain));
        }
        if !has_external {
            elem(Key::nodeport(NO_ENDPOINT_NODEPORTS, proto, svc.node_port), no_endpoints.clone());
        }
    }
    const MASQ: &str = "mark-for-masquerade";
    if has_internal {
        let masq = if cfg.masquerade_all { Some(None) } else { cfg.detector.nft(false).map(Some) };
        if let Some(m) = masq {
            let mut stmts = vec![Stmt::Daddr(svc.cluster_ip), Stmt::Dport(proto, port)];
            stmts.extend(m);
            stmts.push(Stmt::Jump(MASQ));
            w.rule(internal_chain, stmts, None);
        }
    }
    if uses_ext {
        w.chain(&ext_chain);
        if !svc.external_policy_local {
            w.rule(&ext_chain, vec![Stmt::Jump(MASQ)], None);
        } else {
            if let Some(l) = cfg.detector.nft(true) {
                w.rule(&ext_chain, vec![l, Stmt::Goto(svc_chain.clone())], Some("short-circuit pod traffic"));
            }
            w.rule(&ext_chain, vec![Stmt::FibSaddrLocal, Stmt::Jump(MASQ)], Some("masquerade local traffic"));
            w.rule(
                &ext_chain,
                vec![Stmt::FibSaddrLocal, Stmt::Goto(svc_chain.clone())],
                Some("short-circuit local traffic"),
            );
        }
        if has_external {
            w.rule(&ext_chain, vec![Stmt::Goto(external_policy_chain.clone())], None);
        }
    }
    if uses_fw {
        w.chain(&fw_chain);
        let mut sources: Vec<String> = svc.source_ranges.iter().map(|r| r.to_string()).collect();
        if cfg.node_ip.is_some_and(|ip| svc.source_ranges.iter().any(|r| r.contains(&ip))) {
            sources.extend(svc.load_balancer_vips.iter().map(|ip| ip.to_string()));
        }
        w.rule(&fw_chain, vec![Stmt::Raw(format!("ip saddr != {{ {} }} drop", sources.join(" , ")))], None);
    }
    let affinity = svc.affinity_seconds;
    let dispatch = |chain: &str, eps: &[Endpoint], w: &mut Writes| {
        if affinity.is_some() {
            for e in eps {
                let b = endpoint_base(&port_name, e);
                w.rule(chain, vec![Stmt::SaddrIn(format!("affinity-{b}")), Stmt::Goto(format!("endpoint-{b}"))], None);
            }
        }
        let arms = eps.iter().map(|e| format!("endpoint-{}", endpoint_base(&port_name, e))).collect();
        w.rule(chain, vec![Stmt::NumgenVmap(arms)], None);
    };
    if uses_cluster {
        w.chain(&svc_chain);
        dispatch(&svc_chain, &cat.cluster, w);
    }
    if uses_local {
        w.chain(&local_chain);
        dispatch(&local_chain, &cat.local, w);
    }
    for e in &cat.all_reachable {
        let b = endpoint_base(&port_name, e);
        let chain = format!("endpoint-{b}");
        w.chain(&chain);
        w.rule(&chain, vec![Stmt::Saddr(e.ip), Stmt::Jump(MASQ)], None);
        if let Some(secs) = affinity {
            let set = format!("affinity-{b}");
            if !w.sets.iter().any(|(s, _)| *s == set) {
                w.sets.push((set.clone(), secs));
            }
            w.rule(&chain, vec![Stmt::Update(set)], None);
        }
        w.rule(&chain, vec![Stmt::L4proto(proto), Stmt::Dnat(e.ip, e.port)], None);
    }
}

/// Renders one Service's piece and writes.
fn render_service(cfg: &Config, node: &NodeInfo, ports: &ServiceState) -> (Piece, Writes) {
    let (mut p, mut w) = (Piece::default(), Writes::default());
    for (svc, eps) in ports {
        write_service(cfg, svc, eps, node, &mut p, &mut w);
    }
    p.chains = Names::new(w.chains.iter().map(String::as_str));
    p.sets = Names::new(w.sets.iter().map(|(s, _)| s.as_str()));
    for (_, e) in &mut p.elements {
        if let Stored::Val(Val { verdict: Some(Verdict::Goto(c)), comment: None }) = e {
            if let Some(i) = w.chains.iter().position(|n| **n == **c).and_then(|i| u8::try_from(i).ok()) {
                *e = Stored::Chain(i);
            }
        }
    }
    p.elements.shrink_to_fit();
    (p, w)
}

/// The fixed part of a full sync: table, base chains, jumps, helper chains, sets and maps
/// (the tracked ones flushed, to be filled again).
fn setup(cfg: &Config, first: bool, node_ips: &[Ipv4Addr], flush_containers: bool) -> String {
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
        let _ = writeln!(s, "add {decl}");
        if flush_containers {
            let _ = writeln!(s, "flush {kind} {T} {name}");
        }
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

/// What the kernel holds, as far as the last successful transaction says.
#[derive(Default)]
pub struct Kernel {
    pieces: BTreeMap<ServiceKey, Piece>,
    /// How many pieces claim each element key (several Services may share an external IP).
    claims: HashMap<Key, u32>,
    /// Chains flushed because unused, with when: deleted a second later (a map element that
    /// pointed at one keeps it busy for a moment on kernels before 6.2).
    stale: HashMap<String, Instant>,
}

impl Kernel {
    fn claim(&mut self, piece: &Piece, add: bool) {
        for (k, _) in &piece.elements {
            if add {
                *self.claims.entry(*k).or_default() += 1;
            } else if let Some(n) = self.claims.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.claims.remove(k);
                }
            }
        }
    }

    /// The element the kernel has (or will have) for a key: the last claim, in Service order,
    /// as a full sync writes them. `hint` holds the pieces just changed, which settle it
    /// unless the key is contested.
    fn element(&self, key: &Key, hint: &[&Piece]) -> Option<Val> {
        let last = |p: &Piece| p.elements.iter().rev().find(|(k, _)| k == key).map(|(_, v)| p.resolve(v));
        match self.claims.get(key).copied().unwrap_or(0) {
            0 => None,
            1 => hint.iter().find_map(|p| last(p)).or_else(|| self.pieces.values().rev().find_map(last)),
            _ => self.pieces.values().rev().find_map(last),
        }
    }

    /// Of the per-Service chains and affinity sets a listing found, those no piece uses:
    /// chains to flush (and delete later), sets to delete; both sorted.
    fn leftovers(&self, chains: HashSet<String>, sets: HashSet<String>) -> (Vec<String>, Vec<String>) {
        let active: HashSet<&str> = self.pieces.values().flat_map(|p| p.chains.iter()).collect();
        let mut stale: Vec<String> = chains.into_iter().filter(|c| !active.contains(c.as_str())).collect();
        stale.sort();
        let active: HashSet<&str> = self.pieces.values().flat_map(|p| p.sets.iter()).collect();
        let mut dead: Vec<String> = sets.into_iter().filter(|s| !active.contains(s.as_str())).collect();
        dead.sort();
        (stale, dead)
    }

    fn no_local(&self) -> (usize, usize) {
        self.pieces.values().fold((0, 0), |a, p| (a.0 + p.no_local.0, a.1 + p.no_local.1))
    }
}

/// A partial sync's transaction: the changed Services' writes and everything they obsolete.
#[derive(Default)]
struct Partial {
    writes: Vec<Writes>,
    delete: Vec<Key>,
    add: Vec<(Key, Val)>,
    flush: Vec<String>,
    delete_sets: Vec<String>,
}

impl Partial {
    fn is_empty(&self) -> bool {
        self.writes.iter().all(|w| w.chains.is_empty() && w.rules.is_empty() && w.sets.is_empty())
            && self.delete.is_empty()
            && self.add.is_empty()
            && self.flush.is_empty()
            && self.delete_sets.is_empty()
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for w in &self.writes {
            w.text(&mut s);
        }
        for k in &self.delete {
            let _ = write!(s, "delete element {T} {} {{ ", k.container());
            k.text(&mut s);
            s.push_str(" }\n");
        }
        for (k, v) in &self.add {
            element_text(&mut s, k, v);
        }
        for c in &self.flush {
            let _ = writeln!(s, "flush chain {T} {c}");
        }
        for set in &self.delete_sets {
            let _ = writeln!(s, "delete set {T} {set}");
        }
        s
    }

    /// The transaction as one netlink batch, or `None` if part of it has only a text form.
    fn batch(&self) -> Option<nfnl::Batch> {
        let mut b = nfnl::Batch::new();
        for w in &self.writes {
            if !w.encode(&mut b) {
                return None;
            }
        }
        let deleted = self.delete.iter().map(|k| (k, ()));
        by_container(&mut b, false, deleted, |k, ()| nfnl::Element { key: k.bytes(), verdict: None, comment: None });
        add_elements(&mut b, self.add.iter().map(|(k, v)| (k, v)));
        for c in &self.flush {
            b.flush_chain(c);
        }
        for set in &self.delete_sets {
            b.delete_set(set);
        }
        Some(b)
    }
}

/// `add element` messages for `elems`, one container at a time.
fn add_elements<'a>(b: &mut nfnl::Batch, elems: impl Iterator<Item = (&'a Key, &'a Val)> + Clone) {
    by_container(b, true, elems, |k, v| v.element(k));
}

/// `add` (or `delete`) `element` messages for `items`, one container at a time.
fn by_container<'a, T>(
    b: &mut nfnl::Batch,
    add: bool,
    items: impl Iterator<Item = (&'a Key, T)> + Clone,
    element: impl Fn(&'a Key, T) -> nfnl::Element,
) {
    for set in 0..CONTAINERS.len() as u8 {
        let elems: Vec<nfnl::Element> =
            items.clone().filter(|(k, _)| k.set == set).map(|(k, v)| element(k, v)).collect();
        b.elements(CONTAINERS[usize::from(set)].0, add, &elems);
    }
}

fn element_text(s: &mut String, k: &Key, v: &Val) {
    let _ = write!(s, "add element {T} {} {{ ", k.container());
    k.text(s);
    v.text(s);
    s.push_str(" }\n");
}

/// A full sync's transaction: the fixed part, every Service, every element.
#[cfg(test)]
fn render_full(
    cfg: &Config,
    node: &NodeInfo,
    state: &ProxyState,
    first: bool,
    node_ips: &[Ipv4Addr],
) -> (String, Kernel) {
    let mut text = setup(cfg, first, node_ips, true);
    let mut kernel = Kernel::default();
    for (key, ports) in state {
        kernel.add_service(cfg, node, key, ports, &mut text);
    }
    kernel.elements_text(&mut text);
    (text, kernel)
}

impl Kernel {
    /// Renders one Service for a full sync and keeps its piece.
    fn add_service(
        &mut self,
        cfg: &Config,
        node: &NodeInfo,
        key: &ServiceKey,
        ports: &ServiceState,
        text: &mut String,
    ) {
        let (piece, writes) = render_service(cfg, node, ports);
        writes.text(text);
        self.claim(&piece, true);
        self.pieces.insert(key.clone(), piece);
    }

    /// A full sync's elements: the containers were flushed, so each key gets its winning
    /// element (the last claim).
    fn elements_text(&self, text: &mut String) {
        for (k, v) in self.winners() {
            element_text(text, k, &v);
        }
    }

    /// Every key's element, in key order.
    fn winners(&self) -> Vec<(&Key, Val)> {
        let mut winners: HashMap<&Key, (&Piece, &Stored)> = HashMap::with_capacity(self.claims.len());
        for p in self.pieces.values() {
            for (k, v) in &p.elements {
                winners.insert(k, (p, v));
            }
        }
        let mut sorted: Vec<_> = winners.into_iter().map(|(k, (p, v))| (k, p.resolve(v))).collect();
        sorted.sort_unstable_by_key(|(k, _)| **k);
        sorted
    }
}

/// `nft -f -`, fed while a full sync renders: at 10,000 Services the transaction is ~30 MB
/// of text, which need not sit whole in kube-proxy's memory.
struct Feed {
    cmd: netfilter::Fed,
    buf: String,
}

impl Feed {
    const CHUNK: usize = 1 << 20;

    fn start() -> Result<Feed, Error> {
        Ok(Feed {
            cmd: netfilter::Fed::start("nft", &["-f", "-"])?,
            buf: String::with_capacity(Self::CHUNK + 64 * 1024),
        })
    }

    async fn maybe_flush(&mut self) {
        if self.buf.len() >= Self::CHUNK {
            self.cmd.write(self.buf.as_bytes()).await;
            self.buf.clear();
        }
    }

    async fn finish(mut self) -> Result<(), Error> {
        self.cmd.write(self.buf.as_bytes()).await;
        let ran = self.cmd.finish().await?;
        if ran.code != 0 {
            return Err(Error::Restore(format!("nft -f: {}", ran.stderr.trim())));
        }
        Ok(())
    }
}

/// A partial sync: renders the `changed` Services, moves their pieces into `kernel`, and
/// returns what the kernel must do to follow.
fn render_partial(
    cfg: &Config,
    node: &NodeInfo,
    state: &ProxyState,
    changed: &BTreeSet<ServiceKey>,
    kernel: &mut Kernel,
) -> Partial {
    let mut tx = Partial::default();
    let mut news: Vec<(ServiceKey, Option<Piece>)> = Vec::with_capacity(changed.len());
    for key in changed {
        let new = state.get(key).map(|ports| {
            let (p, w) = render_service(cfg, node, ports);
            tx.writes.push(w);
            p
        });
        news.push((key.clone(), new));
    }
    let olds: Vec<Option<Piece>> = news.iter().map(|(k, _)| kernel.pieces.get(k).cloned()).collect();
    let mut keys: Vec<Key> = olds
        .iter()
        .chain(news.iter().map(|(_, p)| p))
        .flatten()
        .flat_map(|p| p.elements.iter().map(|(k, _)| *k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let old_hint: Vec<&Piece> = olds.iter().flatten().collect();
    let before: Vec<Option<Val>> = keys.iter().map(|k| kernel.element(k, &old_hint)).collect();
    // Chains and sets that only the old pieces had.
    for (old, (_, new)) in olds.iter().zip(&news) {
        let Some(old) = old else { continue };
        for c in old.chains.iter() {
            if !new.as_ref().is_some_and(|n| n.chains.contains(c)) && !kernel.stale.contains_key(c) {
                tx.flush.push(c.to_string());
            }
        }
        for s in old.sets.iter() {
            if !new.as_ref().is_some_and(|n| n.sets.contains(s)) {
                tx.delete_sets.push(s.to_string());
            }
        }
    }
    for (key, new) in news {
        if let Some(old) = kernel.pieces.remove(&key) {
            kernel.claim(&old, false);
        }
        if let Some(new) = new {
            for c in new.chains.iter() {
                kernel.stale.remove(c);
            }
            kernel.claim(&new, true);
            kernel.pieces.insert(key, new);
        }
    }
    let new_hint: Vec<&Piece> = changed.iter().filter_map(|k| kernel.pieces.get(k)).collect();
    for (k, old) in keys.iter().zip(before) {
        let new = kernel.element(k, &new_hint);
        if old == new {
            continue;
        }
        if old.is_some() {
            tx.delete.push(*k);
        }
        if let Some(v) = new {
            tx.add.push((*k, v));
        }
    }
    tx
}

/// The nftables proxier's state between syncs.
pub struct Proxier {
    cfg: Config,
    kernel: Kernel,
    need_full: bool,
    last_full: Option<Instant>,
    synced_once: bool,
    /// Full syncs go over netlink; after one fails, the next is a single `nft -f`.
    netlink_full: bool,
}

impl Proxier {
    pub fn new(cfg: Config) -> Proxier {
        Proxier {
            cfg,
            kernel: Kernel::default(),
            need_full: true,
            last_full: None,
            synced_once: false,
            netlink_full: true,
        }
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
            let res = if self.netlink_full {
                self.full_sync_netlink(node, state).await
            } else {
                self.full_sync(node, state).await
            };
            if let Err(e) = res {
                self.netlink_full = !self.netlink_full;
                return Err(e);
            }
        } else {
            // On failure the next sync is a full one, which rebuilds `kernel` from scratch.
            let tx = render_partial(&self.cfg, node, state, changed, &mut self.kernel);
            if !tx.is_empty() {
                apply(&tx).await?;
            }
            let now = Instant::now();
            for c in tx.flush {
                self.kernel.stale.insert(c, now);
            }
        }
        self.need_full = false;
        self.synced_once = true;
        Ok(Synced { full, no_local: self.kernel.no_local() })
    }

    /// A full sync in steps that each leave working rules: the fixed part (`nft -f`, without
    /// touching the Service maps), then every Service's chains in netlink batches of a few
    /// megabytes (a chain is flushed and refilled in one batch), then one batch that refills
    /// the maps and drops what no Service uses. nft needs ~40 s for the single transaction at
    /// 10,000 Services (its parser and the quadratic chain dump); this takes a few seconds.
    async fn full_sync_netlink(&mut self, node: &NodeInfo, state: &ProxyState) -> Result<(), Error> {
        const BATCH: usize = 4 << 20;
        let (chains, sets) = list_table().await?;
        let node_ips = self.nodeport_ips().await;
        run_nft(&setup(&self.cfg, !self.synced_once, &node_ips, false)).await?;
        let mut kernel = Kernel::default();
        let mut batch = nfnl::Batch::new();
        // Services whose rules have only a text form.
        let mut text = String::new();
        for (key, ports) in state {
            let (piece, writes) = render_service(&self.cfg, node, ports);
            if !writes.encode(&mut batch) {
                writes.text(&mut text);
            }
            kernel.claim(&piece, true);
            kernel.pieces.insert(key.clone(), piece);
            if batch.bytes() >= BATCH {
                send(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            send(std::mem::take(&mut batch)).await?;
        }
        if !text.is_empty() {
            run_nft(&text).await?;
        }
        let (stale, dead_sets) = kernel.leftovers(chains, sets);
        for (name, _) in CONTAINERS {
            batch.flush_set(name);
        }
        let winners = kernel.winners();
        add_elements(&mut batch, winners.iter().map(|(k, v)| (*k, v)));
        for c in stale.iter().filter(|c| !self.kernel.stale.contains_key(*c)) {
            batch.flush_chain(c);
        }
        for s in &dead_sets {
            batch.delete_set(s);
        }
        send(batch).await?;
        self.adopt(kernel, stale);
        Ok(())
    }

    /// Takes a full sync's bookkeeping; chains flushed earlier keep their time.
    fn adopt(&mut self, mut kernel: Kernel, stale: Vec<String>) {
        let now = Instant::now();
        kernel.stale =
            stale.into_iter().map(|c| (c.clone(), self.kernel.stale.get(&c).copied().unwrap_or(now))).collect();
        self.kernel = kernel;
        self.last_full = Some(now);
    }

    async fn nodeport_ips(&self) -> Vec<Ipv4Addr> {
        match &self.cfg.nodeport_addresses {
            NodePortAddresses::All => Vec::new(),
            NodePortAddresses::Cidrs(c) => {
                netfilter::local_ipv4s().await.into_iter().filter(|ip| c.iter().any(|n| n.contains(ip))).collect()
            }
        }
    }

    async fn full_sync(&mut self, node: &NodeInfo, state: &ProxyState) -> Result<(), Error> {
        let (chains, sets) = list_table().await?;
        let node_ips = self.nodeport_ips().await;
        let mut feed = Feed::start()?;
        feed.buf.push_str(&setup(&self.cfg, !self.synced_once, &node_ips, true));
        let mut kernel = Kernel::default();
        for (key, ports) in state {
            kernel.add_service(&self.cfg, node, key, ports, &mut feed.buf);
            feed.maybe_flush().await;
        }
        kernel.elements_text(&mut feed.buf);
        let (stale, dead_sets) = kernel.leftovers(chains, sets);
        for c in &stale {
            if !self.kernel.stale.contains_key(c) {
                let _ = writeln!(feed.buf, "flush chain {T} {c}");
            }
        }
        for s in &dead_sets {
            let _ = writeln!(feed.buf, "delete set {T} {s}");
        }
        feed.finish().await?;
        self.adopt(kernel, stale);
        Ok(())
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
        let mut b = nfnl::Batch::new();
        for c in &due {
            b.delete_chain(c);
        }
        match send(b).await {
            Ok(()) => {
                for c in &due {
                    self.kernel.stale.remove(c);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "Failed to delete stale chains");
                self.need_full = true;
            }
        }
    }
}

/// Sends a partial transaction over netlink, or through `nft -f` when part of it has only a
/// text form (a firewall's source ranges).
async fn apply(tx: &Partial) -> Result<(), Error> {
    match tx.batch() {
        Some(b) => send(b).await,
        None => run_nft(&tx.text()).await,
    }
}

async fn run_nft(text: &str) -> Result<(), Error> {
    let out = netfilter::run("nft", &["-f", "-"], Some(text.as_bytes())).await?;
    if out.code != 0 {
        return Err(Error::Restore(format!("nft -f: {}", out.stderr.trim())));
    }
    Ok(())
}

async fn send(b: nfnl::Batch) -> Result<(), Error> {
    let (buf, what) = b.finish();
    tokio::task::spawn_blocking(move || nfnl::send(&buf, &what))
        .await
        .map_err(|e| Error::Restore(format!("nftables netlink: {e}")))?
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
        let (t, _) = render_full(&cfg(), &NodeInfo::default(), &state(), true, &["192.168.0.2".parse().unwrap()]);
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

    fn key(ns: &str, name: &str) -> ServiceKey {
        (ns.to_string(), name.to_string())
    }

    #[test]
    fn a_partial_sync_sends_only_differences() {
        let c = cfg();
        let s = state();
        let (_, mut kernel) = render_full(&c, &NodeInfo::default(), &s, true, &[]);
        let unchanged = render_partial(&c, &NodeInfo::default(), &s, &BTreeSet::new(), &mut kernel);
        assert!(unchanged.is_empty(), "nothing changed, nothing to send");
        let again = render_partial(&c, &NodeInfo::default(), &s, &[key("ns2", "svc2")].into(), &mut kernel);
        assert!(again.add.is_empty() && again.delete.is_empty(), "the same Service again changes no element");
        let mut next = s.clone();
        next.remove(&key("ns1", "svc1"));
        let r = render_partial(&c, &NodeInfo::default(), &next, &[key("ns1", "svc1")].into(), &mut kernel);
        let text = r.text();
        assert!(text.contains("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }\n"), "{text}");
        assert!(text.contains("flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"));
        assert!(text.contains("delete set ip kube-proxy affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n"));
        assert!(!text.contains("svc2/tcp/p80\nflush"), "unchanged services keep their chains");
        assert_eq!(r.flush.len(), 3);
        assert_eq!(kernel.pieces.len(), 2);
    }

    /// Two Services may claim one external IP and port: the element follows the last one, as
    /// in a full sync, and goes back to the other when that one goes.
    #[test]
    fn a_contested_element_follows_the_last_claimant() {
        let c = cfg();
        let mut s = ProxyState::new();
        let ext: Ipv4Addr = "5.6.7.8".parse().unwrap();
        for (ns, ip) in [("nsa", "172.30.0.1"), ("nsb", "172.30.0.2")] {
            let mut p = port(ns, ip);
            p.external_ips = vec![ext];
            s.insert(key(ns, &ns.replace("ns", "svc")), vec![(p, vec![ep("10.180.0.9")])]);
        }
        let (text, mut kernel) = render_full(&c, &NodeInfo::default(), &s, true, &[]);
        let ext_key = Key::ip(SERVICE_IPS, ext, Protocol::Tcp, 80);
        let winner = |k: &Kernel| match k.element(&ext_key, &[]).and_then(|v| v.verdict) {
            Some(Verdict::Goto(c)) => c.to_string(),
            v => panic!("{v:?}"),
        };
        assert_eq!(text.matches("5.6.7.8 . tcp . 80").count(), 1, "{text}");
        assert!(winner(&kernel).ends_with("nsb/svcb/tcp/p80"));
        let mut next = s.clone();
        next.remove(&key("nsb", "svcb"));
        let r = render_partial(&c, &NodeInfo::default(), &next, &[key("nsb", "svcb")].into(), &mut kernel);
        assert!(r.delete.contains(&ext_key));
        assert!(r
            .add
            .iter()
            .any(|(k, v)| *k == ext_key
                && matches!(&v.verdict, Some(Verdict::Goto(c)) if c.ends_with("nsa/svca/tcp/p80"))));
        assert!(winner(&kernel).ends_with("nsa/svca/tcp/p80"));
    }

    #[test]
    fn keys_are_padded_per_field() {
        let k = Key::ip(SERVICE_IPS, "10.96.0.10".parse().unwrap(), Protocol::Tcp, 80);
        assert_eq!(k.bytes(), [10, 96, 0, 10, 6, 0, 0, 0, 0, 80, 0, 0]);
        assert_eq!(Key::nodeport(SERVICE_NODEPORTS, Protocol::Tcp, 30080).bytes(), [6, 0, 0, 0, 0x75, 0x80, 0, 0]);
        assert_eq!(Key::ip(CLUSTER_IPS, "10.96.0.10".parse().unwrap(), Protocol::Tcp, 0).bytes(), [10, 96, 0, 10]);
    }

    /// The transactions load with Debian's nft into a network namespace of the test's own.
    #[test]
    fn nft_accepts_the_transactions() {
        let c = cfg();
        let s = state();
        let (first, mut kernel) = render_full(&c, &NodeInfo::default(), &s, true, &["192.168.0.2".parse().unwrap()]);
        let mut next = s.clone();
        next.remove(&key("ns1", "svc1"));
        let partial = render_partial(&c, &NodeInfo::default(), &next, &[key("ns1", "svc1")].into(), &mut kernel);
        let (again, _) = render_full(&c, &NodeInfo::default(), &next, false, &[]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1"), &first).unwrap();
        std::fs::write(dir.path().join("2"), partial.text()).unwrap();
        std::fs::write(dir.path().join("3"), &again).unwrap();
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

    /// Set in the copy of this test binary that runs inside a network namespace of its own.
    const IN_NETNS: &str = "KUBE_PROXY_TEST_IN_NETNS";

    fn nft(args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("nft")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "nft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A partial sync sent over netlink leaves exactly the table `nft -f` leaves for the same
    /// change, as `nft list` prints it: every rule shape, map element, comment and set. The
    /// test runs itself again inside `unshare --net` (never the machine's own netfilter).
    #[test]
    fn netlink_and_nft_build_the_same_table() {
        if std::env::var_os(IN_NETNS).is_none() {
            let out = std::process::Command::new("unshare")
                .args(["--net", "--"])
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", "nftables::tests::netlink_and_nft_build_the_same_table", "--nocapture"])
                .env(IN_NETNS, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("1 passed"),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let node = NodeInfo::default();
        // Every shape: affinity, several endpoints, local policies, an interface detector,
        // NodePorts, external IPs, a Service losing its endpoints and one going away.
        let mut c = cfg();
        let before = state();
        let mut local = port("ns3", "172.30.0.43");
        local.external_policy_local = true;
        local.node_port = 3003;
        local.external_ips = vec!["5.6.7.9".parse().unwrap()];
        let mut l1 = ep("10.180.0.7");
        l1.is_local = true;
        let mut before = before;
        before.insert(key("ns3", "svc3"), vec![(local.clone(), vec![l1.clone(), ep("10.180.0.8")])]);
        let mut after = before.clone();
        let mut a = port("ns1", "172.30.0.41");
        a.affinity_seconds = Some(300);
        after.insert(key("ns1", "svc1"), vec![(a, vec![ep("10.180.0.1"), ep("10.180.0.5"), ep("10.180.0.6")])]);
        after.insert(key("ns3", "svc3"), vec![(local, vec![l1, ep("10.180.0.10")])]);
        after.insert(key("ns4", "svc4"), vec![(port("ns4", "172.30.0.44"), vec![ep("10.180.0.4")])]);
        after.insert(key("ns6", "svc6"), vec![(port("ns6", "172.30.0.46"), vec![ep("10.180.0.11")])]);
        after.insert(key("ns5", "svc5"), vec![(port("ns5", "172.30.0.45"), vec![])]);
        after.remove(&key("ns2", "svc2"));
        let changed: BTreeSet<ServiceKey> =
            ["1", "2", "3", "4", "5", "6"].iter().map(|n| key(&format!("ns{n}"), &format!("svc{n}"))).collect();
        for detector in [LocalDetector::Cidr("10.0.0.0/8".into()), LocalDetector::Interface("cni0".into())] {
            let interface = matches!(detector, LocalDetector::Interface(_));
            c.detector = detector;
            let mut lists = Vec::new();
            for netlink in [false, true] {
                let _ = std::process::Command::new("nft").args(["delete", "table", "ip", "kube-proxy"]).output();
                let (first, mut kernel) = render_full(&c, &node, &before, true, &[]);
                nft(&["-f", "-"], Some(&first));
                let tx = render_partial(&c, &node, &after, &changed, &mut kernel);
                if netlink {
                    let (buf, what) = tx.batch().expect("every shape has a netlink form").finish();
                    nfnl::send(&buf, &what).unwrap();
                } else {
                    nft(&["-f", "-"], Some(&tx.text()));
                }
                lists.push(nft(&["list", "table", "ip", "kube-proxy"], None));
            }
            // A full sync over netlink (in steps) leaves what one `nft -f` leaves, also for a
            // Service whose firewall rule has only a text form (ns2 in `before`).
            for netlink_full in [false, true] {
                let _ = std::process::Command::new("nft").args(["delete", "table", "ip", "kube-proxy"]).output();
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let mut p = Proxier::new(c.clone());
                p.netlink_full = netlink_full;
                rt.block_on(async {
                    for s in [&before, &after] {
                        p.force_full();
                        let synced = p.sync(&node, s, &BTreeSet::new()).await.unwrap();
                        assert!(synced.full);
                    }
                });
                lists.push(nft(&["list", "table", "ip", "kube-proxy"], None));
            }
            // Chains list in creation order, and the text-only Service's come last here.
            let blocks = |l: &str| {
                let mut b: Vec<String> = l.split("\n\n").map(str::to_string).collect();
                b.sort();
                b
            };
            assert_eq!(blocks(&lists[2]), blocks(&lists[3]), "a full sync through nft -f and through netlink differ");
            let l = &lists[0];
            assert!(
                l.contains("10.180.0.10")
                    && l.contains("comment \"ns5/svc5:p80\"")
                    && l.contains("iifname") == interface,
                "{l}"
            );
            assert_eq!(lists[0], lists[1], "nft -f and netlink differ");
        }
    }
}
