//! Stale UDP conntrack entries, reconciled as upstream's `CleanStaleEntries`: a UDP flow to a
//! Service address (cluster IP, external IP, load-balancer IP or NodePort) whose reply comes
//! from something that is no longer a serving endpoint is deleted, so that the next datagram
//! is load-balanced afresh. TCP is left to its own timeouts.

use crate::model::Protocol;
use crate::netfilter;
use crate::state::ProxyState;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// One conntrack flow's original destination and reply source.
#[derive(Debug, PartialEq, Eq)]
struct Flow {
    orig_src: String,
    orig_dst: Ipv4Addr,
    orig_sport: String,
    orig_dport: u16,
    reply_src: String,
    reply_sport: u16,
}

/// Parses `conntrack -L -p udp` lines: `udp 17 29 src=A dst=B sport=C dport=D [UNREPLIED]
/// src=E dst=F sport=G dport=H …`.
fn parse(line: &str) -> Option<Flow> {
    let mut src = Vec::new();
    let mut dst = Vec::new();
    let mut sport = Vec::new();
    let mut dport = Vec::new();
    for w in line.split_whitespace() {
        if let Some(v) = w.strip_prefix("src=") {
            src.push(v);
        } else if let Some(v) = w.strip_prefix("dst=") {
            dst.push(v);
        } else if let Some(v) = w.strip_prefix("sport=") {
            sport.push(v);
        } else if let Some(v) = w.strip_prefix("dport=") {
            dport.push(v);
        }
    }
    if src.len() < 2 || dst.is_empty() || sport.len() < 2 || dport.is_empty() {
        return None;
    }
    Some(Flow {
        orig_src: src[0].to_string(),
        orig_dst: dst[0].parse().ok()?,
        orig_sport: sport[0].to_string(),
        orig_dport: dport[0].parse().ok()?,
        reply_src: src[1].to_string(),
        reply_sport: sport[1].parse().ok()?,
    })
}

/// The flows of `listing` to delete for `state`.
fn stale(state: &ProxyState, listing: &str) -> Vec<Flow> {
    let mut by_addr: HashMap<(Ipv4Addr, u16), HashSet<String>> = HashMap::new();
    let mut by_nodeport: HashMap<u16, HashSet<String>> = HashMap::new();
    for (svc, eps) in state.values().flatten() {
        if svc.name.protocol != Protocol::Udp {
            continue;
        }
        let serving: HashSet<String> = eps.iter().filter(|e| e.serving).map(|e| e.addr()).collect();
        if serving.is_empty() {
            continue;
        }
        for ip in std::iter::once(&svc.cluster_ip).chain(&svc.external_ips).chain(&svc.load_balancer_vips) {
            by_addr.insert((*ip, svc.port), serving.clone());
        }
        if svc.node_port != 0 {
            by_nodeport.insert(svc.node_port, serving);
        }
    }
    let mut out = Vec::new();
    for f in listing.lines().filter_map(parse) {
        let reply = format!("{}:{}", f.reply_src, f.reply_sport);
        let set = by_addr.get(&(f.orig_dst, f.orig_dport)).or_else(|| by_nodeport.get(&f.orig_dport));
        if set.is_some_and(|s| !s.contains(&reply)) {
            out.push(f);
        }
    }
    out
}

/// Deletes the stale UDP flows of this network namespace; returns how many.
pub async fn clean_stale(state: &ProxyState) -> usize {
    let started = std::time::Instant::now();
    let listing = match netfilter::run("conntrack", &["-L", "-p", "udp", "-f", "ipv4"], None).await {
        Ok(r) if r.code == 0 => r.stdout,
        Ok(r) => {
            tracing::error!(error = r.stderr.trim(), "Failed to list conntrack entries");
            return 0;
        }
        Err(e) => {
            tracing::error!(error = %e, "Failed to list conntrack entries");
            return 0;
        }
    };
    let mut deleted = 0;
    for f in stale(state, &listing) {
        let (dport, sport) = (f.orig_dport.to_string(), f.orig_sport.clone());
        let dst = f.orig_dst.to_string();
        let args =
            ["-D", "-p", "udp", "--orig-src", &f.orig_src, "--orig-dst", &dst, "--sport", &sport, "--dport", &dport];
        if let Ok(r) = netfilter::run("conntrack", &args, None).await {
            if r.code == 0 {
                deleted += 1;
            }
        }
    }
    crate::metrics::CONNTRACK_DELETED.with_label_values(&[crate::metrics::IPV4]).inc_by(deleted as u64);
    crate::metrics::CONNTRACK_DURATION
        .with_label_values(&[crate::metrics::IPV4])
        .observe(started.elapsed().as_secs_f64());
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, ServicePort, ServicePortName};

    #[test]
    fn flows_to_gone_endpoints_are_stale() {
        let svc = ServicePort {
            name: ServicePortName {
                namespace: "ns".into(),
                name: "dns".into(),
                port: String::new(),
                protocol: Protocol::Udp,
            },
            cluster_ip: "10.96.0.10".parse().unwrap(),
            port: 53,
            node_port: 30053,
            external_ips: vec![],
            load_balancer_vips: vec![],
            source_ranges: vec![],
            affinity_seconds: None,
            external_policy_local: false,
            internal_policy_local: false,
            health_check_node_port: 0,
        };
        let ep = Endpoint {
            ip: "10.244.0.7".parse().unwrap(),
            port: 5353,
            is_local: true,
            ready: true,
            serving: true,
            terminating: false,
            zone_hints: Default::default(),
        };
        let mut state = ProxyState::new();
        state.insert(("ns".into(), "dns".into()), vec![(svc, vec![ep])]);
        let listing = "\
udp      17 29 src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=53 src=10.244.0.7 dst=10.244.0.5 sport=5353 dport=40000 mark=0 use=1
udp      17 29 src=10.244.0.5 dst=10.96.0.10 sport=40001 dport=53 [UNREPLIED] src=10.244.0.6 dst=10.244.0.5 sport=5353 dport=40001 mark=0 use=1
udp      17 29 src=172.18.0.9 dst=172.18.0.2 sport=40002 dport=30053 src=10.244.0.6 dst=172.18.0.9 sport=5353 dport=40002 mark=0 use=1
udp      17 29 src=10.244.0.5 dst=10.96.0.99 sport=40003 dport=53 src=10.96.0.99 dst=10.244.0.5 sport=53 dport=40003 mark=0 use=1
";
        let got = stale(&state, listing);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].orig_sport.as_str(), got[1].orig_dport), ("40001", 30053));
    }
}
