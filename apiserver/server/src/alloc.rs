//! Service ClusterIP and NodePort allocation.
//!
//! ClusterIPs are reserved as upstream v1.33 does (MultiCIDRServiceAllocator): one
//! `networking.k8s.io/v1 IPAddress` object per address, created only if absent, so two services
//! can never hold the same IP. NodePorts live in upstream's `RangeAllocation` bitmap at
//! `/registry/ranges/servicenodeports`, updated with compare-and-swap.

use crate::error::{ApiError, ApiResult};
use crate::ApiServer;
use api_types::json::Ptr;
use api_types::{FieldError, FieldPath, ResourceDef};
use base64::Engine;
use ipnet::IpNet;
use rand::Rng;
use serde_json::{json, Value};
use std::net::IpAddr;
use storage::StorageError;

pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let a: u16 = s.trim().parse().ok()?;
            (a, a)
        }
    };
    if a == 0 || b < a {
        None
    } else {
        Some((a, b))
    }
}

/// The service IP range and the node port range.
#[derive(Debug, Clone)]
pub struct Ranges {
    pub service_cidr: IpNet,
    pub node_ports: (u16, u16),
}

impl Ranges {
    /// The first usable address: the `kubernetes` Service's ClusterIP.
    pub fn first_ip(&self) -> IpAddr {
        self.service_cidr.hosts().next().unwrap_or(self.service_cidr.addr())
    }

    fn size(&self) -> u128 {
        match self.service_cidr {
            IpNet::V4(n) => {
                let hosts = 1u128 << (32 - n.prefix_len());
                if n.prefix_len() >= 31 {
                    hosts
                } else {
                    hosts - 2
                }
            }
            IpNet::V6(n) => {
                let bits = 128 - n.prefix_len() as u32;
                if bits >= 64 {
                    u64::MAX as u128
                } else {
                    (1u128 << bits) - 1
                }
            }
        }
    }

    /// The offset-th usable address (0 = the first).
    fn nth(&self, offset: u128) -> IpAddr {
        match self.service_cidr {
            IpNet::V4(n) => {
                let base = u32::from(n.network()) as u128 + if n.prefix_len() >= 31 { 0 } else { 1 };
                IpAddr::V4(((base + offset) as u32).into())
            }
            IpNet::V6(n) => IpAddr::V6((u128::from(n.network()) + 1 + offset).into()),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        if !self.service_cidr.contains(&ip) {
            return false;
        }
        match (self.service_cidr, ip) {
            (IpNet::V4(n), IpAddr::V4(a)) => n.prefix_len() >= 31 || (a != n.network() && a != n.broadcast()),
            (IpNet::V6(n), IpAddr::V6(a)) => a != n.network(),
            _ => false,
        }
    }
}

/// What a write allocated, to undo if the write fails, and what it freed, to release once the
/// write has landed.
#[derive(Debug, Default)]
pub struct Allocation {
    new_ips: Vec<String>,
    new_ports: Vec<u16>,
    freed_ips: Vec<String>,
    freed_ports: Vec<u16>,
}

impl Allocation {
    pub async fn release(self, st: &ApiServer) {
        for ip in &self.new_ips {
            release_ip(st, ip).await;
        }
        if !self.new_ports.is_empty() {
            let _ = update_ports(st, |bits, _| {
                for p in &self.new_ports {
                    bits.set(*p, false);
                }
                Ok(())
            })
            .await;
        }
    }

    pub async fn commit(self, st: &ApiServer) {
        for ip in &self.freed_ips {
            release_ip(st, ip).await;
        }
        if !self.freed_ports.is_empty() {
            let _ = update_ports(st, |bits, _| {
                for p in &self.freed_ports {
                    bits.set(*p, false);
                }
                Ok(())
            })
            .await;
        }
    }
}

fn is_services(rd: &ResourceDef) -> bool {
    rd.group.is_empty() && rd.plural == "services"
}

fn ipaddresses() -> &'static ResourceDef {
    api_types::lookup("networking.k8s.io", "v1", "ipaddresses").expect("ipaddresses registered")
}

fn ip_key(st: &ApiServer, ip: &str) -> String {
    st.backend.key(ipaddresses(), "", ip)
}

async fn release_ip(st: &ApiServer, ip: &str) {
    let key = ip_key(st, ip);
    if let Ok(Some(obj)) = st.backend.store.get(&key).await {
        let rv = obj.ptr("/metadata/resourceVersion").and_then(Value::as_str).and_then(|r| r.parse().ok()).unwrap_or(0);
        let _ = st.backend.store.delete(&key, rv).await;
    }
}

fn ip_object(ip: IpAddr, svc: &Value) -> Value {
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip.to_string(),
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": crate::rest::now_rfc3339(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": family,
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
            },
        },
        "spec": {"parentRef": {
            "group": "",
            "resource": "services",
            "namespace": svc.ptr("/metadata/namespace").and_then(Value::as_str).unwrap_or(""),
            "name": svc.ptr("/metadata/name").and_then(Value::as_str).unwrap_or(""),
        }},
    })
}

fn invalid_svc(svc: &Value, errors: Vec<FieldError>) -> ApiError {
    ApiError::Invalid {
        kind: "Service".into(),
        group: String::new(),
        name: svc.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
        errors,
    }
}

fn cluster_ips_error(svc: &Value, ip: &str, detail: String) -> ApiError {
    invalid_svc(
        svc,
        vec![FieldError::invalid_raw(
            &FieldPath::new("spec").child("clusterIPs"),
            format!("[]string{{\"{ip}\"}}"),
            detail,
        )],
    )
}

/// Reserves a specific IP, or a random free one when `want` is None.
async fn allocate_ip(st: &ApiServer, svc: &Value, want: Option<&str>) -> ApiResult<String> {
    let ranges = &st.ranges;
    if let Some(w) = want {
        let ip: IpAddr =
            w.parse().map_err(|_| cluster_ips_error(svc, w, format!("failed to allocate IP {w}: not a valid IP")))?;
        if !ranges.contains(ip) {
            return Err(cluster_ips_error(
                svc,
                w,
                format!("failed to allocate IP {w}: the provided IP ({w}) is not in the valid range. The range of valid IPs is {}", ranges.service_cidr),
            ));
        }
        return match st.backend.store.create(&ip_key(st, w), ip_object(ip, svc)).await {
            Ok(_) => Ok(ip.to_string()),
            Err(StorageError::AlreadyExists(_)) => {
                Err(cluster_ips_error(svc, w, format!("failed to allocate IP {w}: provided IP is already allocated")))
            }
            Err(e) => Err(ApiError::from_storage(e, &crate::error::Qualified::new("", "services", ""))),
        };
    }
    let size = ranges.size();
    if size == 0 {
        return Err(ApiError::Internal("failed to allocate a serviceIP: range is full".into()));
    }
    // Dynamic allocations prefer the upper band, leaving the lower one for static choices.
    let static_band = (size / 16).clamp(16.min(size), 256.min(size));
    let start = if size > static_band { rand::rng().random_range(static_band..size) } else { 0 };
    let cacher = st.backend.cacher(ipaddresses());
    let attempts = size.min(1 << 16);
    for i in 0..attempts {
        let off = (start + i) % size;
        let ip = ranges.nth(off);
        let name = ip.to_string();
        if cacher.get(&ip_key(st, &name)).0.is_some() {
            continue;
        }
        match st.backend.store.create(&ip_key(st, &name), ip_object(ip, svc)).await {
            Ok(_) => return Ok(name),
            Err(StorageError::AlreadyExists(_)) => continue,
            Err(e) => return Err(ApiError::from_storage(e, &crate::error::Qualified::new("", "services", ""))),
        }
    }
    Err(ApiError::Internal("failed to allocate a serviceIP: range is full".into()))
}

/// A bitmap of node ports, offset from the range start.
pub struct Bits {
    base: u16,
    bytes: Vec<u8>,
}

impl Bits {
    fn get(&self, port: u16) -> bool {
        let i = (port - self.base) as usize;
        self.bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }
    fn set(&mut self, port: u16, on: bool) {
        if port < self.base {
            return;
        }
        let i = (port - self.base) as usize;
        if self.bytes.len() <= i / 8 {
            self.bytes.resize(i / 8 + 1, 0);
        }
        if on {
            self.bytes[i / 8] |= 1 << (i % 8);
        } else {
            self.bytes[i / 8] &= !(1 << (i % 8));
        }
    }
}

const PORTS_KEY: &str = "ranges/servicenodeports";

/// Reads, changes and writes the node-port bitmap with compare-and-swap.
async fn update_ports<F>(st: &ApiServer, mut f: F) -> ApiResult<()>
where
    F: FnMut(&mut Bits, (u16, u16)) -> ApiResult<()>,
{
    let key = format!("{}/{PORTS_KEY}", st.backend.prefix);
    let (lo, hi) = st.ranges.node_ports;
    let range = format!("{lo}-{hi}");
    let q = crate::error::Qualified::new("", "services", "");
    for _ in 0..32 {
        let current = st.backend.store.get(&key).await.map_err(|e| ApiError::from_storage(e, &q))?;
        let (mut bits, rv) = match &current {
            Some(obj) => {
                // Upstream's encoding: the bytes of a big-endian big integer, bit i = port lo+i.
                let data = obj.get("data").and_then(Value::as_str).unwrap_or("");
                let mut be = base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default();
                be.reverse();
                let rv = obj
                    .ptr("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                (Bits { base: lo, bytes: be }, rv)
            }
            None => (Bits { base: lo, bytes: Vec::new() }, 0),
        };
        f(&mut bits, (lo, hi))?;
        let mut be = bits.bytes.clone();
        while be.last() == Some(&0) {
            be.pop();
        }
        be.reverse();
        let obj = json!({
            "kind": "RangeAllocation",
            "apiVersion": "v1",
            "metadata": {"creationTimestamp": null},
            "range": range,
            "data": base64::engine::general_purpose::STANDARD.encode(&be),
        });
        let res = if current.is_some() {
            st.backend.store.update(&key, obj, rv).await
        } else {
            st.backend.store.create(&key, obj).await
        };
        match res {
            Ok(_) => return Ok(()),
            Err(StorageError::Conflict { .. })
            | Err(StorageError::AlreadyExists(_))
            | Err(StorageError::NotFound(_)) => continue,
            Err(e) => return Err(ApiError::from_storage(e, &q)),
        }
    }
    Err(ApiError::Internal("failed to update the node port allocation: too many conflicts".into()))
}

fn wants_node_ports(svc: &Value) -> bool {
    match svc.ptr("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => true,
        Some("LoadBalancer") => svc.ptr("/spec/allocateLoadBalancerNodePorts").and_then(Value::as_bool).unwrap_or(true),
        _ => false,
    }
}

/// Allocates the node ports a service asks for (fixed ones must be free and in range); fills
/// in random ports for the others. Returns the ports newly taken.
async fn allocate_node_ports(st: &ApiServer, svc: &mut Value, keep: &[u16]) -> ApiResult<Vec<u16>> {
    let ports = svc.ptr("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
    let requested: Vec<Option<u16>> =
        ports.iter().map(|p| p.get("nodePort").and_then(Value::as_u64).filter(|n| *n > 0).map(|n| n as u16)).collect();
    let mut chosen: Vec<u16> = Vec::new();
    let svc_ro = svc.clone();
    update_ports(st, |bits, (lo, hi)| {
        chosen.clear();
        let mut errs = Vec::new();
        for (i, r) in requested.iter().enumerate() {
            if let Some(p) = r {
                let path = FieldPath::new("spec").child("ports").index(i).child("nodePort");
                if *p < lo || *p > hi {
                    errs.push(FieldError::invalid_raw(
                        &path,
                        p,
                        format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
                    ));
                } else if keep.contains(p) {
                    // Already this service's.
                } else if bits.get(*p) || chosen.contains(p) {
                    errs.push(FieldError::invalid_raw(&path, p, "provided port is already allocated"));
                } else {
                    bits.set(*p, true);
                    chosen.push(*p);
                }
            }
        }
        if !errs.is_empty() {
            return Err(invalid_svc(&svc_ro, errs));
        }
        let span = (hi - lo) as u32 + 1;
        for r in &requested {
            if r.is_none() {
                let start = rand::rng().random_range(0..span);
                let free =
                    (0..span).map(|k| lo + ((start + k) % span) as u16).find(|p| !bits.get(*p) && !chosen.contains(p));
                match free {
                    Some(p) => {
                        bits.set(p, true);
                        chosen.push(p);
                    }
                    None => return Err(ApiError::Internal("failed to allocate a nodePort: range is full".into())),
                }
            }
        }
        Ok(())
    })
    .await?;
    let mut it = chosen.iter().filter(|p| !requested.contains(&Some(**p)));
    if let Some(arr) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for (i, p) in arr.iter_mut().enumerate() {
            if requested[i].is_none() {
                if let Some(n) = it.next() {
                    p["nodePort"] = json!(n);
                }
            }
        }
    }
    Ok(chosen)
}

/// A LoadBalancer with `externalTrafficPolicy: Local` gets a health-check node port.
fn needs_health_check(svc: &Value) -> bool {
    svc.ptr("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
        && svc.ptr("/spec/externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

fn health_check_port(svc: &Value) -> Option<u16> {
    svc.ptr("/spec/healthCheckNodePort").and_then(Value::as_u64).filter(|p| *p > 0).map(|p| p as u16)
}

/// Takes the service's `healthCheckNodePort` from the node port range (the one asked for, or
/// any free one, written into the spec); `keep` is the port it already holds.
async fn allocate_health_check_port(st: &ApiServer, svc: &mut Value, keep: Option<u16>) -> ApiResult<Option<u16>> {
    let want = health_check_port(svc);
    if want.is_some() && want == keep {
        return Ok(None);
    }
    let mut chosen = None;
    update_ports(st, |bits, (lo, hi)| {
        chosen = None;
        match want {
            Some(p) if p < lo || p > hi => Err(ApiError::Internal(format!(
                "failed to allocate requested HealthCheck NodePort {p}: provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
            ))),
            Some(p) if bits.get(p) => Err(ApiError::Internal(format!(
                "failed to allocate requested HealthCheck NodePort {p}: provided port is already allocated"
            ))),
            Some(p) => {
                bits.set(p, true);
                chosen = Some(p);
                Ok(())
            }
            None => {
                let span = (hi - lo) as u32 + 1;
                let start = rand::rng().random_range(0..span);
                let free = (0..span).map(|k| lo + ((start + k) % span) as u16).find(|p| !bits.get(*p));
                let Some(p) = free else {
                    return Err(ApiError::Internal("failed to allocate a HealthCheck NodePort 0: range is full".into()));
                };
                bits.set(p, true);
                chosen = Some(p);
                Ok(())
            }
        }
    })
    .await?;
    if want.is_none() {
        svc["spec"]["healthCheckNodePort"] = json!(chosen);
    }
    Ok(chosen)
}

fn node_ports_of(svc: &Value) -> Vec<u16> {
    svc.ptr("/spec/ports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
                .filter(|n| *n > 0)
                .map(|n| n as u16)
                .collect()
        })
        .unwrap_or_default()
}

fn cluster_ips_of(svc: &Value) -> Vec<String> {
    let mut ips: Vec<String> = svc
        .ptr("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if ips.is_empty() {
        if let Some(ip) = svc.ptr("/spec/clusterIP").and_then(Value::as_str) {
            ips.push(ip.to_string());
        }
    }
    ips.retain(|i| !i.is_empty() && i != "None");
    ips
}

fn set_ip_fields(svc: &mut Value, ip: &str) {
    svc["spec"]["clusterIP"] = json!(ip);
    svc["spec"]["clusterIPs"] = json!([ip]);
    let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
    if svc.ptr("/spec/ipFamilies").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
        svc["spec"]["ipFamilies"] = json!([family]);
    }
    if svc.ptr("/spec/ipFamilyPolicy").is_none_or(Value::is_null) {
        svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    }
}

/// Allocation for a new object (only Services allocate).
pub async fn before_create(st: &ApiServer, rd: &ResourceDef, obj: &mut Value, _dry_run: bool) -> ApiResult<Allocation> {
    let mut a = Allocation::default();
    if !is_services(rd) {
        return Ok(a);
    }
    let ty = obj.ptr("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    if ty != "ExternalName" {
        let want = obj.ptr("/spec/clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
        if want == "None" {
            obj["spec"]["clusterIPs"] = json!(["None"]);
            set_ip_fields_headless(obj);
        } else {
            let ip = allocate_ip(st, obj, if want.is_empty() { None } else { Some(&want) }).await?;
            set_ip_fields(obj, &ip);
            a.new_ips.push(ip);
        }
    }
    if wants_node_ports(obj) {
        match allocate_node_ports(st, obj, &[]).await {
            Ok(p) => a.new_ports = p,
            Err(e) => {
                a.release(st).await;
                return Err(e);
            }
        }
    }
    if needs_health_check(obj) {
        match allocate_health_check_port(st, obj, None).await {
            Ok(p) => a.new_ports.extend(p),
            Err(e) => {
                a.release(st).await;
                return Err(e);
            }
        }
    }
    Ok(a)
}

fn set_ip_fields_headless(svc: &mut Value) {
    if svc.ptr("/spec/ipFamilies").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
        svc["spec"]["ipFamilies"] = json!(["IPv4"]);
    }
    if svc.ptr("/spec/ipFamilyPolicy").is_none_or(Value::is_null) {
        svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    }
}

/// Before validating an update: keeps allocated values the client left out (upstream's
/// `patchAllocatedValues`), so that `kubectl replace` of a manifest without a clusterIP works.
pub fn patch_allocated_values(rd: &ResourceDef, new: &mut Value, old: &Value) {
    if !is_services(rd) {
        return;
    }
    let new_ty = new.ptr("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let old_ty = old.ptr("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    if new_ty != "ExternalName" && old_ty != "ExternalName" {
        if new.ptr("/spec/clusterIP").and_then(Value::as_str).unwrap_or("").is_empty() {
            for k in ["clusterIP", "clusterIPs"] {
                if let Some(v) = old.ptr(&format!("/spec/{k}")) {
                    new["spec"][k] = v.clone();
                }
            }
        }
        if new.ptr("/spec/clusterIPs").is_none_or(Value::is_null) {
            if let Some(v) = old.ptr("/spec/clusterIPs") {
                new["spec"]["clusterIPs"] = v.clone();
            }
        }
        for k in ["ipFamilies", "ipFamilyPolicy"] {
            if new.ptr(&format!("/spec/{k}")).is_none_or(Value::is_null) {
                if let Some(v) = old.ptr(&format!("/spec/{k}")) {
                    new["spec"][k] = v.clone();
                }
            }
        }
    }
    if needs_health_check(new) && needs_health_check(old) && health_check_port(new).is_none() {
        if let Some(p) = health_check_port(old) {
            new["spec"]["healthCheckNodePort"] = json!(p);
        }
    }
    if wants_node_ports(new) && wants_node_ports(old) {
        let old_ports = old.ptr("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(arr) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in arr.iter_mut() {
                if p.get("nodePort").and_then(Value::as_u64).unwrap_or(0) == 0 {
                    let same = old_ports
                        .iter()
                        .find(|o| o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol"));
                    if let Some(n) = same.and_then(|o| o.get("nodePort")) {
                        p["nodePort"] = n.clone();
                    }
                }
            }
        }
    }
}

/// Allocation for an update: new node ports and IPs when the type changes.
pub async fn before_update(
    st: &ApiServer,
    rd: &ResourceDef,
    new: &mut Value,
    old: &Value,
    _dry_run: bool,
) -> ApiResult<Allocation> {
    let mut a = Allocation::default();
    if !is_services(rd) {
        return Ok(a);
    }
    let new_ty = new.ptr("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let old_ips = cluster_ips_of(old);
    if new_ty == "ExternalName" {
        a.freed_ips = old_ips;
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
    } else if old_ips.is_empty() && new.ptr("/spec/clusterIP").and_then(Value::as_str) != Some("None") {
        let want = new.ptr("/spec/clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
        let ip = allocate_ip(st, new, if want.is_empty() { None } else { Some(&want) }).await?;
        set_ip_fields(new, &ip);
        a.new_ips.push(ip);
    }
    let old_ports = node_ports_of(old);
    if wants_node_ports(new) {
        match allocate_node_ports(st, new, &old_ports).await {
            Ok(p) => a.new_ports = p,
            Err(e) => {
                a.release(st).await;
                return Err(e);
            }
        }
    } else if let Some(arr) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in arr.iter_mut() {
            if let Some(m) = p.as_object_mut() {
                m.remove("nodePort");
            }
        }
    }
    let old_hc = health_check_port(old).filter(|_| needs_health_check(old));
    if needs_health_check(new) {
        match allocate_health_check_port(st, new, old_hc).await {
            Ok(p) => a.new_ports.extend(p),
            Err(e) => {
                a.release(st).await;
                return Err(e);
            }
        }
    } else if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("healthCheckNodePort");
    }
    let mut kept = node_ports_of(new);
    kept.extend(health_check_port(new));
    a.freed_ports = old_ports.into_iter().chain(old_hc).filter(|p| !kept.contains(p)).collect();
    Ok(a)
}

/// Frees what a deleted object held.
pub async fn after_delete(st: &ApiServer, rd: &ResourceDef, deleted: &Value) {
    if !is_services(rd) {
        return;
    }
    let mut freed_ports = node_ports_of(deleted);
    freed_ports.extend(health_check_port(deleted).filter(|_| needs_health_check(deleted)));
    let a = Allocation { freed_ips: cluster_ips_of(deleted), freed_ports, ..Default::default() };
    a.commit(st).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = Ranges { service_cidr: "10.96.0.0/12".parse().unwrap(), node_ports: (30000, 32767) };
        assert_eq!(r.first_ip().to_string(), "10.96.0.1");
        assert_eq!(r.nth(0).to_string(), "10.96.0.1");
        assert!(r.contains("10.96.0.10".parse().unwrap()));
        assert!(!r.contains("10.96.0.0".parse().unwrap()));
        assert!(!r.contains("10.112.0.1".parse().unwrap()));
        assert_eq!(parse_port_range("30000-32767"), Some((30000, 32767)));
        assert_eq!(parse_port_range("x"), None);
    }

    #[test]
    fn bitmap() {
        let mut b = Bits { base: 30000, bytes: vec![] };
        b.set(30009, true);
        assert!(b.get(30009) && !b.get(30008));
        b.set(30009, false);
        assert!(!b.get(30009));
    }
}
