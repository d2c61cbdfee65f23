//! kube-proxy's rule sync at scale: N Services × M endpoints programmed by the real proxier
//! (`--mode iptables` through iptables-restore, `--mode nftables` through nft), a full sync
//! and then partial syncs after one endpoint changes.
//! Run it inside a network namespace of its own (`hack/bench-proxy.sh` does, with
//! `unshare --net`): it programs the namespace's netfilter.

use clap::Parser;
use kube_proxy::iptables::{Config, LocalDetector, NodePortAddresses, Proxier};
use kube_proxy::model::{Endpoint, NodeInfo, Protocol, ServicePort, ServicePortName};
use kube_proxy::state::{ProxyState, ServiceKey};
use std::collections::BTreeSet;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    services: usize,
    #[arg(long, default_value_t = 5)]
    endpoints: usize,
    /// Partial syncs to time.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// iptables or nftables.
    #[arg(long, default_value = "iptables")]
    mode: String,
}

/// Either proxier, behind one sync call.
enum Any {
    Ipt(kube_proxy::iptables::Proxier),
    Nft(kube_proxy::nftables::Proxier),
}

impl Any {
    async fn sync(&mut self, node: &NodeInfo, state: &ProxyState, changed: &BTreeSet<ServiceKey>) {
        let r = match self {
            Any::Ipt(p) => p.sync(node, state, changed).await.map(|_| ()),
            Any::Nft(p) => p.sync(node, state, changed).await.map(|_| ()),
        };
        r.expect("sync");
    }

    fn force_full(&mut self) {
        match self {
            Any::Ipt(p) => p.force_full(),
            Any::Nft(p) => p.force_full(),
        }
    }
}

fn endpoint(i: usize, j: usize) -> Endpoint {
    let n = i * 8 + j;
    Endpoint {
        ip: std::net::Ipv4Addr::new(10, 244, (n >> 8) as u8, (n & 0xff) as u8),
        port: 8080,
        is_local: j == 0,
        ready: true,
        serving: true,
        terminating: false,
        zone_hints: Default::default(),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let mut state = ProxyState::new();
    for i in 0..args.services {
        let ns = format!("ns{}", i % 50);
        let name = format!("svc{i}");
        let port = ServicePort {
            name: ServicePortName {
                namespace: ns.clone(),
                name: name.clone(),
                port: "http".into(),
                protocol: Protocol::Tcp,
            },
            cluster_ip: std::net::Ipv4Addr::new(10, 96 + (i >> 16) as u8, (i >> 8) as u8, (i & 0xff) as u8),
            port: 80,
            node_port: if i % 10 == 0 { 30000 + (i / 10) as u16 % 2768 } else { 0 },
            external_ips: vec![],
            load_balancer_vips: vec![],
            source_ranges: vec![],
            affinity_seconds: None,
            external_policy_local: false,
            internal_policy_local: false,
            health_check_node_port: 0,
        };
        let eps = (0..args.endpoints).map(|j| endpoint(i, j)).collect();
        state.insert((ns, name), vec![(port, eps)]);
    }
    let cfg = Config {
        mark: Config::mark_for_bit(14),
        detector: LocalDetector::Cidr("10.244.0.0/16".into()),
        masquerade_all: false,
        localhost_nodeports: true,
        node_ip: Some("172.18.0.2".parse().unwrap()),
        nodeport_addresses: NodePortAddresses::All,
        random_fully: true,
        conntrack_liberal: false,
        nfacct: false,
    };
    let mut proxier = if args.mode == "nftables" {
        Any::Nft(kube_proxy::nftables::Proxier::new(cfg))
    } else {
        Any::Ipt(Proxier::new(cfg))
    };
    let node = NodeInfo { name: "node-a".into(), zone: None };
    let t0 = Instant::now();
    proxier.sync(&node, &state, &BTreeSet::new()).await;
    let full = t0.elapsed();
    let mut partial = Vec::new();
    for r in 0..args.rounds {
        let key: ServiceKey = (format!("ns{}", (r * 7) % 50), format!("svc{}", r * 7));
        let Some(svc) = state.get_mut(&key) else { break };
        svc[0].1[0].ip = std::net::Ipv4Addr::new(10, 250, 0, r as u8);
        let changed: BTreeSet<ServiceKey> = [key].into();
        let t = Instant::now();
        proxier.sync(&node, &state, &changed).await;
        partial.push(t.elapsed());
    }
    partial.sort();
    let p50 = partial.get(partial.len() / 2).copied().unwrap_or_default();
    let max = partial.last().copied().unwrap_or_default();
    // A second full sync, over the existing rules (what a periodic or post-failure resync costs).
    proxier.force_full();
    let t = Instant::now();
    proxier.sync(&node, &state, &BTreeSet::new()).await;
    let resync = t.elapsed();
    println!(
        "{} services={} endpoints={} full_sync_ms={} full_resync_ms={} partial_sync_p50_ms={} partial_sync_max_ms={} rss_mib={}",
        args.mode,
        args.services,
        args.endpoints,
        full.as_millis(),
        resync.as_millis(),
        p50.as_millis(),
        max.as_millis(),
        rss_kib() / 1024
    );
}
