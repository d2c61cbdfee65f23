//! discovery.k8s.io: EndpointSlice (`pkg/apis/discovery/validation`).

use super::*;

pub(crate) fn is_fully_qualified_domain_name(p: &P, name: &str) -> Errs {
    if name.is_empty() {
        return vec![req(p, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![inv(p, name, errs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![inv(p, name, "should be a domain with at least two segments separated by dots")];
    }
    for label in name.split('.') {
        let errs = is_dns1123_label(label);
        if !errs.is_empty() {
            return vec![inv(p, label, errs.join(","))];
        }
    }
    vec![]
}

pub(crate) fn validate_endpoint_slice(es: &Value, valid_types: &[&str]) -> Errs {
    let mut errs = Vec::new();
    let at = st(es, "addressType");
    if at.is_empty() {
        errs.push(req(&P::new("addressType"), ""));
    } else if !valid_types.contains(&at) {
        errs.push(unsup(&P::new("addressType"), at, valid_types));
    }
    let eps = arr(es, "endpoints");
    let ep = P::new("endpoints");
    if eps.len() > 1000 {
        errs.push(too_many(&ep, eps.len(), 1000));
    } else {
        for (i, e) in eps.iter().enumerate() {
            let ip = ep.index(i);
            let ap = ip.child("addresses");
            let addrs = slist(e, "addresses");
            if addrs.is_empty() {
                errs.push(req(&ap, "must contain at least 1 address"));
            } else if addrs.len() > 100 {
                errs.push(too_many(&ap, addrs.len(), 100));
            }
            for (j, a) in addrs.iter().enumerate() {
                let aip = ap.index(j);
                match at {
                    "IP" => errs.extend(is_valid_ip(&aip, a)),
                    "IPv4" | "IPv6" => {
                        let e = if at == "IPv4" { is_valid_ipv4(&aip, a) } else { is_valid_ipv6(&aip, a) };
                        if e.is_empty() {
                            errs.extend(validate_non_special_ip(a, &aip));
                        } else {
                            errs.extend(e);
                        }
                    }
                    "FQDN" => errs.extend(is_fully_qualified_domain_name(&aip, a)),
                    _ => {}
                }
            }
            if let Some(nn) = e.get("nodeName").and_then(Value::as_str) {
                errs.extend(dns_subdomain_errs(nn, &ip.child("nodeName")));
            }
            let tp = ip.child("deprecatedTopology");
            if let Some(t) = obj(e, "deprecatedTopology") {
                if t.len() > 16 {
                    errs.push(too_many(&tp, t.len(), 16));
                }
            }
            errs.extend(validate_label_map(g(e, "deprecatedTopology"), &tp));
            if let Some(h) = e.get("hostname").and_then(Value::as_str) {
                errs.extend(dns_label_errs(h, &ip.child("hostname")));
            }
            let hints = g(e, "hints");
            if !hints.is_null() {
                let fz = ip.child("hints").child("forZones");
                let zones = arr(hints, "forZones");
                if zones.len() > 8 {
                    errs.push(too_many(&fz, zones.len(), 8));
                } else {
                    let mut seen = HashSet::new();
                    for (j, z) in zones.iter().enumerate() {
                        let zp = fz.index(j).child("name");
                        let n = st(z, "name");
                        if !seen.insert(n) {
                            errs.push(dup(&zp, n));
                        }
                        for m in is_valid_label_value(n) {
                            errs.push(inv(&zp, n, m));
                        }
                    }
                }
            }
        }
    }
    let ports = arr(es, "ports");
    let pp = P::new("ports");
    if ports.len() > 100 {
        errs.push(too_many(&pp, ports.len(), 100));
        return errs;
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let ip = pp.index(i);
        let name = st(port, "name");
        if !name.is_empty() {
            errs.extend(dns_label_errs(name, &ip.child("name")));
        }
        if !names.insert(name) {
            errs.push(dup(&ip.child("name"), name));
        }
        match port.get("protocol").and_then(Value::as_str) {
            None => errs.push(req(&ip.child("protocol"), "")),
            Some(p) if !PROTOCOLS.contains(&p) => errs.push(unsup(&ip.child("protocol"), p, PROTOCOLS)),
            _ => {}
        }
        if let Some(ap) = port.get("appProtocol").and_then(Value::as_str) {
            errs.extend(qualified_name_errs(ap, &ip.child("appProtocol")));
        }
    }
    errs
}
