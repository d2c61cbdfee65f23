//! `node-ipam-controller` with upstream's RangeAllocator (`pkg/controller/nodeipam`): with
//! `--allocate-node-cidrs`, every node gets `spec.podCIDR`/`spec.podCIDRs` — one subnet of
//! `--node-cidr-mask-size` (24 for IPv4, 64 for IPv6) per `--cluster-cidr` (one, or two of
//! different families for dual stack) — which CNI plugins and kube-proxy read. The part of
//! the cluster range that overlaps `--service-cluster-ip-range` is never handed out; subnets
//! nodes already carry are kept; a deleted node's subnets are released.

use crate::context::Ctx;
use crate::Error;
use component_base::events::Recorder;
use component_base::{Change, Informer, WorkQueue};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// One cluster range cut into equal subnets, with the ones in use.
#[derive(Debug)]
pub struct CidrSet {
    cluster: IpNet,
    mask: u8,
    used: Vec<bool>,
    /// Where the next search starts (upstream rotates to spread allocations).
    next: usize,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn bits(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(_) => 32,
        IpNet::V6(_) => 128,
    }
}

impl CidrSet {
    /// upstream's `NewCIDRSet`: the subnet mask must be at least the cluster's and at most 16
    /// bits longer (65536 subnets).
    pub fn new(cluster: IpNet, mask: u8) -> Result<CidrSet, String> {
        let cluster = cluster.trunc();
        if mask < cluster.prefix_len() || mask > bits(&cluster) {
            return Err(format!("invalid node CIDR mask size {mask} for cluster CIDR {cluster}"));
        }
        if mask - cluster.prefix_len() > 16 {
            return Err("CIDRSet node netmask is too large for the cluster CIDR".into());
        }
        let n = 1usize << (mask - cluster.prefix_len());
        Ok(CidrSet { cluster, mask, used: vec![false; n], next: 0 })
    }

    fn subnet(&self, i: usize) -> IpNet {
        let shift = u32::from(bits(&self.cluster) - self.mask);
        let base = to_u128(self.cluster.network()) + ((i as u128) << shift);
        let addr = match self.cluster {
            IpNet::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(base).unwrap_or(0))),
            IpNet::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(base)),
        };
        IpNet::new(addr, self.mask).unwrap_or(self.cluster)
    }

    /// The indexes of the subnets `net` overlaps (both ways: a bigger or smaller range).
    fn indexes(&self, net: &IpNet) -> Option<std::ops::RangeInclusive<usize>> {
        if bits(net) != bits(&self.cluster) {
            return None;
        }
        let net = net.trunc();
        let (lo, hi) = (to_u128(net.network()), to_u128(net.broadcast()));
        let (clo, chi) = (to_u128(self.cluster.network()), to_u128(self.cluster.broadcast()));
        if hi < clo || lo > chi {
            return None;
        }
        let shift = u32::from(bits(&self.cluster) - self.mask);
        let first = (lo.max(clo) - clo) >> shift;
        let last = (hi.min(chi) - clo) >> shift;
        Some(usize::try_from(first).ok()?..=usize::try_from(last).ok()?)
    }

    /// Marks what `net` overlaps as used (`Occupy`).
    pub fn occupy(&mut self, net: &IpNet) -> bool {
        match self.indexes(net) {
            Some(r) => {
                r.for_each(|i| self.used[i] = true);
                true
            }
            None => false,
        }
    }

    /// `Release`: the subnet is free again.
    pub fn release(&mut self, net: &IpNet) {
        if net.prefix_len() == self.mask {
            if let Some(r) = self.indexes(net) {
                r.for_each(|i| self.used[i] = false);
            }
        }
    }

    /// `AllocateNext`.
    pub fn allocate_next(&mut self) -> Option<IpNet> {
        let n = self.used.len();
        let i = (0..n).map(|k| (self.next + k) % n).find(|i| !self.used[*i])?;
        self.used[i] = true;
        self.next = (i + 1) % n;
        Some(self.subnet(i))
    }

    pub fn contains(&self, net: &IpNet) -> bool {
        self.cluster.contains(net)
    }
}

struct Ipam {
    client: Client,
    nodes: Informer<Node>,
    sets: Mutex<Vec<CidrSet>>,
    queue: WorkQueue<String>,
    recorder: Recorder,
}

/// `validateCIDRs`: one range, or two of different families.
pub fn parse_cluster_cidrs(list: &str) -> Result<Vec<IpNet>, String> {
    let nets: Vec<IpNet> = list
        .split(',')
        .map(|s| s.trim().parse::<IpNet>().map_err(|_| format!("invalid CIDR address: {}", s.trim())))
        .collect::<Result<_, _>>()?;
    let dual = nets.len() == 2 && bits(&nets[0]) != bits(&nets[1]);
    if nets.len() > 1 && !dual {
        return Err(format!(
            "len of ClusterCIDRs=={} and they are not configured as dual stack (at least one from each IPFamily",
            nets.len()
        ));
    }
    if nets.len() > 2 {
        return Err(format!("length of clusterCIDRs is:{} more than max allowed of 2", nets.len()));
    }
    Ok(nets)
}

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    if !ctx.opts.allocate_node_cidrs {
        return Ok(false);
    }
    let cidrs = parse_cluster_cidrs(ctx.opts.cluster_cidr.as_deref().unwrap_or("")).map_err(Error::Config)?;
    let mut sets = Vec::new();
    for c in &cidrs {
        let mask = match c {
            IpNet::V4(_) => ctx.opts.node_cidr_mask_size_ipv4.or(ctx.opts.node_cidr_mask_size).unwrap_or(24),
            IpNet::V6(_) => ctx.opts.node_cidr_mask_size_ipv6.or(ctx.opts.node_cidr_mask_size).unwrap_or(64),
        };
        sets.push(CidrSet::new(*c, mask).map_err(Error::Config)?);
    }
    // The service range inside the cluster range is never given to nodes.
    for svc in ctx.opts.service_cluster_ip_range.iter().flat_map(|s| s.split(',')) {
        if let Ok(svc) = svc.trim().parse::<IpNet>() {
            for s in sets.iter_mut() {
                s.occupy(&svc);
            }
        }
    }
    let client = ctx.client("node-controller").await?;
    let ipam = Arc::new(Ipam {
        recorder: ctx.recorder(&client, "cidrAllocator"),
        client,
        nodes: ctx.informers.get(),
        sets: Mutex::new(sets),
        queue: WorkQueue::new("cidrallocator_node"),
    });
    let i = ipam.clone();
    ipam.nodes.add_handler(move |c| match c {
        Change::Added(n) => {
            i.occupy_node(n);
            i.queue.add(n.name_any());
        }
        Change::Updated { new, .. } => {
            if node_cidrs(new).is_empty() {
                i.queue.add(new.name_any());
            }
        }
        Change::Deleted(n) => i.release_node(n),
    });
    tokio::spawn(async move {
        ipam.nodes.wait_synced().await;
        let i = ipam.clone();
        ipam.queue.run_workers(30, move |name: String| {
            let i = i.clone();
            async move { i.sync(&name).await }
        });
    });
    Ok(true)
}

fn node_cidrs(n: &Node) -> Vec<String> {
    let spec = n.spec.as_ref();
    let list = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if list.is_empty() {
        spec.and_then(|s| s.pod_cidr.clone()).into_iter().collect()
    } else {
        list
    }
}

impl Ipam {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CidrSet>> {
        self.sets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn occupy_node(&self, n: &Node) {
        let mut sets = self.lock();
        for c in node_cidrs(n).iter().filter_map(|c| c.parse::<IpNet>().ok()) {
            if let Some(s) = sets.iter_mut().find(|s| s.contains(&c)) {
                s.occupy(&c);
            }
        }
    }

    fn release_node(&self, n: &Node) {
        let mut sets = self.lock();
        for c in node_cidrs(n).iter().filter_map(|c| c.parse::<IpNet>().ok()) {
            if let Some(s) = sets.iter_mut().find(|s| s.contains(&c)) {
                s.release(&c);
            }
        }
    }

    async fn sync(&self, name: &str) -> Result<(), Error> {
        let Some(node) = self.nodes.get("", name) else { return Ok(()) };
        if !node_cidrs(&node).is_empty() || node.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let allocated: Option<Vec<IpNet>> = {
            let mut sets = self.lock();
            let mut got = Vec::new();
            for s in sets.iter_mut() {
                match s.allocate_next() {
                    Some(c) => got.push(c),
                    None => break,
                }
            }
            if got.len() == sets.len() {
                Some(got)
            } else {
                for (s, c) in sets.iter_mut().zip(&got) {
                    s.release(c);
                }
                None
            }
        };
        let Some(cidrs) = allocated else {
            self.recorder.normal(
                node.as_ref(),
                "CIDRNotAvailable",
                format!("Node {name} status is now: CIDRNotAvailable"),
            );
            return Err(Error::Config(format!("failed to allocate cidr from cluster cidr for node {name:?}")));
        };
        let list: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
        let patch = serde_json::json!({"spec": {"podCIDR": list[0], "podCIDRs": list}});
        let api: Api<Node> = Api::all(self.client.clone());
        match api.patch(name, &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => {
                tracing::info!(node = name, podCIDRs = ?list, "Set node PodCIDR");
                Ok(())
            }
            Err(e) => {
                // Give the subnets back; the node is tried again.
                let mut sets = self.lock();
                for (s, c) in sets.iter_mut().zip(&cidrs) {
                    s.release(c);
                }
                self.recorder.normal(
                    node.as_ref(),
                    "CIDRAssignmentFailed",
                    format!("Node {name} status is now: CIDRAssignmentFailed"),
                );
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_handed_out_in_order_skipping_the_occupied_ones() {
        let mut s = CidrSet::new("10.244.0.0/16".parse().unwrap(), 24).unwrap();
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.0.0/24");
        assert!(s.occupy(&"10.244.1.0/24".parse().unwrap()));
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.2.0/24");
        s.release(&"10.244.0.0/24".parse().unwrap());
        // The search goes on from the last allocation before it wraps around.
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.3.0/24");
        // A service range inside the cluster range blocks every subnet it touches.
        assert!(s.occupy(&"10.244.4.0/22".parse().unwrap()));
        assert_eq!(s.allocate_next().unwrap().to_string(), "10.244.8.0/24");
        assert!(!s.occupy(&"10.96.0.0/12".parse().unwrap()));
    }

    #[test]
    fn a_full_range_allocates_nothing() {
        let mut s = CidrSet::new("10.0.0.0/30".parse().unwrap(), 31).unwrap();
        assert!(s.allocate_next().is_some());
        assert!(s.allocate_next().is_some());
        assert!(s.allocate_next().is_none());
    }

    #[test]
    fn ipv6_and_dual_stack_ranges_parse_as_upstream() {
        let nets = parse_cluster_cidrs("10.244.0.0/16,fd00:10:244::/56").unwrap();
        let mut s = CidrSet::new(nets[1], 64).unwrap();
        assert_eq!(s.allocate_next().unwrap().to_string(), "fd00:10:244::/64");
        assert_eq!(s.allocate_next().unwrap().to_string(), "fd00:10:244:1::/64");
        assert!(parse_cluster_cidrs("10.0.0.0/16,10.1.0.0/16").unwrap_err().contains("not configured as dual stack"));
        assert_eq!(parse_cluster_cidrs("").unwrap_err(), "invalid CIDR address: ");
        assert!(CidrSet::new("10.0.0.0/8".parse().unwrap(), 28).is_err());
    }
}
