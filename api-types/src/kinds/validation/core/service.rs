//! Services.

use super::*;

/// The service's clusterIPs as upstream's strategy normalizes them before validating
/// (`normalizeClusterIPs`).
pub(crate) fn normalized_cluster_ips(spec: &Value, old_spec: Option<&Value>) -> Vec<String> {
    let cip = st(spec, "clusterIP");
    let mut ips: Vec<String> = slist(spec, "clusterIPs").into_iter().map(String::from).collect();
    match old_spec {
        None => {
            if !cip.is_empty() && ips.is_empty() {
                ips = vec![cip.to_string()];
            }
        }
        Some(old) => {
            let old_cip = st(old, "clusterIP");
            let old_ips: Vec<String> = slist(old, "clusterIPs").into_iter().map(String::from).collect();
            if !old_ips.is_empty() && ips.is_empty() && old_cip == cip {
                ips = old_ips.clone();
            }
            if old_cip != cip {
                let same = ips == old_ips;
                if !old_cip.is_empty() && cip.is_empty() {
                    if same {
                        ips.clear();
                    }
                } else if same {
                    ips = vec![cip.to_string()];
                }
            }
        }
    }
    ips
}

pub(crate) fn is_headless(ips: &[String]) -> bool {
    ips.len() == 1 && ips[0] == "None"
}

pub(crate) fn go_ips(ips: &[String]) -> String {
    let v: Vec<&str> = ips.iter().map(String::as_str).collect();
    go_strs(&v)
}

pub(crate) fn go_opt_str(v: &Value) -> String {
    match v.as_str() {
        Some(s) => go_quote(s),
        None => "null".to_string(),
    }
}

pub(crate) fn validate_service(svc: &Value, ips: &[String]) -> Errs {
    let mut errs = Vec::new();
    let meta = g(svc, "metadata");
    let spec = g(svc, "spec");
    let sp = P::new("spec");
    let ann: HashMap<&str, &str> = smap(meta, "annotations").into_iter().collect();
    if let (Some(hints), Some(mode)) =
        (ann.get("service.kubernetes.io/topology-aware-hints"), ann.get("service.kubernetes.io/topology-mode"))
    {
        if hints != mode {
            errs.push(inv(
                &path("metadata.annotations").key("service.kubernetes.io/topology-mode"),
                mode,
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
        }
    }
    let ty = st(spec, "type");
    let headless = is_headless(ips);
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(req(&sp.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(inv(
                &sp.child("clusterIPs").index(0),
                &ips[0],
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(forb(&sp.child("clusterIPs"), "may not be set for ExternalName services"));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(forb(&sp.child("ipFamilies"), "may not be set for ExternalName services"));
            }
            if has(spec, "ipFamilyPolicy") {
                errs.push(forb(&sp.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
            }
            let en = st(spec, "externalName");
            let cname = en.strip_suffix('.').unwrap_or(en);
            if !cname.is_empty() {
                errs.extend(dns_subdomain_errs(cname, &sp.child("externalName")));
            } else {
                errs.push(req(&sp.child("externalName"), ""));
            }
        }
        _ => {}
    }
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let pp = sp.child("ports").index(i);
        let name = st(port, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(req(&pp.child("name"), ""));
        } else if !name.is_empty() {
            errs.extend(dns_label_errs(name, &pp.child("name")));
            if !port_names.insert(name) {
                errs.push(dup(&pp.child("name"), name));
            }
        }
        let pn = int0(port, "port");
        for m in is_valid_port_num(pn) {
            errs.push(inv_raw(&pp.child("port"), pn, m));
        }
        let proto = st(port, "protocol");
        if proto.is_empty() {
            errs.push(req(&pp.child("protocol"), ""));
        } else if !PROTOCOLS.contains(&proto) {
            errs.push(unsup(&pp.child("protocol"), proto, PROTOCOLS));
        }
        errs.extend(validate_port_num_or_name(g(port, "targetPort"), &pp.child("targetPort")));
        if let Some(ap) = port.get("appProtocol").and_then(Value::as_str) {
            errs.extend(qualified_name_errs(ap, &pp.child("appProtocol")));
        }
    }
    if has(spec, "selector") {
        errs.extend(validate_label_map(g(spec, "selector"), &sp.child("selector")));
    }
    let aff = st(spec, "sessionAffinity");
    if aff.is_empty() {
        errs.push(req(&sp.child("sessionAffinity"), ""));
    } else if aff != "ClientIP" && aff != "None" {
        errs.push(unsup(&sp.child("sessionAffinity"), aff, &["ClientIP", "None"]));
    }
    let cfg_path = sp.child("sessionAffinityConfig");
    let cfg = g(spec, "sessionAffinityConfig");
    if aff == "ClientIP" {
        let msg = "when session affinity type is ClientIP";
        if cfg.is_null() {
            errs.push(req(&cfg_path, msg));
        } else if !has(cfg, "clientIP") {
            errs.push(req(&cfg_path.child("clientIP"), msg));
        } else {
            match int(g(cfg, "clientIP"), "timeoutSeconds") {
                None => errs.push(req(&cfg_path.child("clientIP").child("timeoutSeconds"), msg)),
                Some(t) if t <= 0 || t > 86400 => errs.push(inv_raw(
                    &cfg_path.child("clientIP").child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                )),
                _ => {}
            }
        }
    } else if aff == "None" && !cfg.is_null() {
        errs.push(forb(&cfg_path, "must not be set when session affinity is None"));
    }
    if ty != "ExternalName" {
        errs.extend(validate_cluster_ips_related(spec, ips, headless));
    }
    for (i, ip) in slist(spec, "externalIPs").iter().enumerate() {
        let ipp = sp.child("externalIPs").index(i);
        let e = is_valid_ip(&ipp, ip);
        if e.is_empty() {
            errs.extend(validate_non_special_ip(ip, &ipp));
        } else {
            errs.extend(e);
        }
    }
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if ty.is_empty() {
        errs.push(req(&sp.child("type"), ""));
    } else if !TYPES.contains(&ty) {
        errs.push(unsup(&sp.child("type"), ty, TYPES));
    }
    if ty == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int0(port, "nodePort") != 0 {
                errs.push(forb(
                    &sp.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let np = int0(port, "nodePort");
        if np == 0 {
            continue;
        }
        if !node_ports.insert((st(port, "protocol"), np)) {
            errs.push(dup_raw(&sp.child("ports").index(i).child("nodePort"), np));
        }
    }
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let (proto, pn) = (st(port, "protocol"), int0(port, "port"));
        if !seen.insert((proto, pn)) {
            errs.push(dup_raw(
                &sp.child("ports").index(i),
                format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_quote(proto),
                    pn
                ),
            ));
        }
    }
    let ranges = slist(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        let fp = sp.child("LoadBalancerSourceRanges");
        if ty != "LoadBalancer" {
            errs.push(forb(&fp, "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, r) in ranges.iter().enumerate() {
            errs.extend(is_valid_cidr(&fp.index(i), r.trim()));
        }
    } else if let Some(val) = ann.get("service.beta.kubernetes.io/load-balancer-source-ranges") {
        let fp = path("metadata.annotations").key("service.beta.kubernetes.io/load-balancer-source-ranges");
        if ty != "LoadBalancer" {
            errs.push(forb(&fp, "may only be used when `type` is 'LoadBalancer'"));
        }
        let val = val.trim();
        if !val.is_empty() {
            for c in val.split(',') {
                errs.extend(is_valid_cidr(&fp, c.trim()));
            }
        }
    }
    if has(spec, "allocateLoadBalancerNodePorts") && ty != "LoadBalancer" {
        errs.push(forb(&sp.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"));
    }
    if ty == "LoadBalancer" && !has(spec, "allocateLoadBalancerNodePorts") {
        errs.push(req(&P::new("allocateLoadBalancerNodePorts"), ""));
    }
    errs.extend(validate_lb_class(None, spec));
    // External traffic policy.
    let etp = st(spec, "externalTrafficPolicy");
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && !arr(spec, "externalIPs").is_empty());
    if !externally_accessible {
        if !etp.is_empty() {
            errs.push(inv(
                &sp.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        if ty != "ClusterIP" {
            errs.push(req(&sp.child("externalTrafficPolicy"), ""));
        }
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(unsup(&sp.child("externalTrafficPolicy"), etp, &["Cluster", "Local"]));
    }
    let hcnp = int0(spec, "healthCheckNodePort");
    if !(ty == "LoadBalancer" && etp == "Local") {
        if hcnp != 0 {
            errs.push(inv_raw(
                &sp.child("healthCheckNodePort"),
                hcnp,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hcnp != 0 {
        // 0 is filled in by the apiserver's port allocation, which runs after validation
        // here (upstream allocates first, so its Required error is never seen).
        for m in is_valid_port_num(hcnp) {
            errs.push(inv_raw(&sp.child("healthCheckNodePort"), hcnp, m));
        }
    }
    match spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        None => {
            if ty == "NodePort" || ty == "LoadBalancer" || ty == "ClusterIP" {
                errs.push(req(&sp.child("internalTrafficPolicy"), ""));
            }
        }
        Some(itp) => {
            if itp != "Cluster" && itp != "Local" {
                errs.push(unsup(&sp.child("internalTrafficPolicy"), itp, &["Cluster", "Local"]));
            }
        }
    }
    if let Some(td) = spec.get("trafficDistribution").and_then(Value::as_str) {
        if td != "PreferClose" {
            errs.push(unsup(&sp.child("trafficDistribution"), td, &["PreferClose"]));
        }
    }
    errs
}

pub(crate) fn validate_lb_class(old_spec: Option<&Value>, spec: &Value) -> Errs {
    let mut errs = Vec::new();
    let lbc = g(spec, "loadBalancerClass");
    let is_lb = st(spec, "type") == "LoadBalancer";
    if let Some(old) = old_spec {
        if st(old, "type") == "LoadBalancer" && is_lb && g(old, "loadBalancerClass") != lbc {
            errs.push(inv_raw(&path("spec.loadBalancerClass"), go_opt_str(lbc), "may not change once set"));
        }
    }
    if is_lb {
        if let Some(c) = lbc.as_str() {
            errs.extend(qualified_name_errs(c, &path("spec.loadBalancerClass")));
        }
    } else if !lbc.is_null() {
        errs.push(forb(&path("spec.loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"));
    }
    errs
}

pub(crate) fn validate_cluster_ips_related(spec: &Value, ips: &[String], headless: bool) -> Errs {
    let mut errs = Vec::new();
    let sp = P::new("spec");
    let cp = sp.child("clusterIPs");
    let cip = st(spec, "clusterIP");
    if !cip.is_empty() {
        if ips.is_empty() {
            errs.push(req(&cp, ""));
        } else if ips[0] != cip {
            errs.push(inv_raw(&cp, go_ips(ips), "first value must match `clusterIP`"));
        }
    } else if !ips.is_empty() {
        errs.push(inv_raw(&cp, go_ips(ips), "must be empty when `clusterIP` is not specified"));
    }
    let fams = slist(spec, "ipFamilies");
    let mut seen = HashSet::new();
    for (i, f) in fams.iter().enumerate() {
        if *f != "IPv4" && *f != "IPv6" {
            errs.push(unsup(&sp.child("ipFamilies").index(i), f, &["IPv4", "IPv6"]));
        }
        if !seen.insert(*f) {
            errs.push(dup(&sp.child("ipFamilies").index(i), f));
        }
    }
    if let Some(pol) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        if !["PreferDualStack", "RequireDualStack", "SingleStack"].contains(&pol) {
            errs.push(unsup(&sp.child("ipFamilyPolicy"), pol, &["PreferDualStack", "RequireDualStack", "SingleStack"]));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errs.push(inv_raw(&cp, go_ips(ips), "'None' must be the first and only value"));
            }
            continue;
        }
        let e = is_valid_ip(&cp.index(i), ip);
        invalid |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(inv_raw(&cp, go_ips(ips), "may only hold up to 2 values"));
    }
    if invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v: Vec<&str> = ips.iter().map(String::as_str).collect();
        if !is_dual_stack(&v) {
            errs.push(inv_raw(&cp, go_ips(ips), "may specify no more than one IP for each IP family"));
        }
    }
    if !headless && !ips.is_empty() && !fams.is_empty() {
        for (i, ip) in ips.iter().enumerate() {
            let Some(f) = fams.get(i) else { break };
            if *f == "IPv4" && is_ipv6_string(ip) {
                errs.push(inv(&cp.index(i), ip, format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`")));
            }
            if *f == "IPv6" && !is_ipv6_string(ip) {
                errs.push(inv(&cp.index(i), ip, format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`")));
            }
        }
    }
    errs
}

pub(crate) fn validate_service_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    let ns = g(new, "spec");
    let os = g(old, "spec");
    let new_ips = normalized_cluster_ips(ns, Some(os));
    let old_ips = normalized_cluster_ips(os, None);
    let (nt, ot) = (st(ns, "type"), st(os, "type"));
    let cp = path("spec.clusterIPs");
    if nt != "ExternalName" && ot != "ExternalName" {
        let (nh, oh) = (is_headless(&new_ips), is_headless(&old_ips));
        if !(nh && oh) {
            if old_ips.len() == new_ips.len() {
                for (i, ip) in old_ips.iter().enumerate() {
                    if *ip != new_ips[i] {
                        errs.push(inv_raw(&cp.index(i), go_ips(&new_ips), "may not change once set"));
                    }
                }
            } else if old_ips.len() > new_ips.len() {
                if new_ips.is_empty() {
                    errs.push(inv_raw(&cp.index(0), go_ips(&new_ips), "primary clusterIP can not be unset"));
                }
                if !new_ips.is_empty() && new_ips[0] != old_ips[0] {
                    errs.push(inv_raw(&cp.index(0), go_ips(&new_ips), "may not change once set"));
                }
                if new_ips.len() == 1 && st(ns, "ipFamilyPolicy") != "SingleStack" {
                    errs.push(inv_raw(
                        &path("spec.ipFamilyPolicy"),
                        go_opt_str(g(ns, "ipFamilyPolicy")),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    ));
                }
            } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
                errs.push(inv_raw(&cp.index(0), go_ips(&new_ips), "may not change once set"));
            }
        }
        // ipFamilies
        if nh == oh && !nh {
            let (nf, of) = (slist(ns, "ipFamilies"), slist(os, "ipFamilies"));
            let fp = path("spec.ipFamilies");
            if nf.len() == of.len() {
                for (i, f) in of.iter().enumerate() {
                    if *f != nf[i] {
                        errs.push(inv_raw(&fp.index(0), go_strs(&nf), "may not change once set"));
                    }
                }
            } else if of.len() > nf.len() {
                if new_ips.is_empty() {
                    errs.push(inv_raw(&fp.index(0), go_strs(&nf), "primary ipFamily can not be unset"));
                }
                if !nf.is_empty() && nf[0] != of[0] {
                    errs.push(inv_raw(&fp.index(0), go_ips(&new_ips), "may not change once set"));
                }
                if nf.len() == 1 && st(ns, "ipFamilyPolicy") != "SingleStack" {
                    errs.push(inv_raw(
                        &path("spec.ipFamilyPolicy"),
                        go_opt_str(g(ns, "ipFamilyPolicy")),
                        "must be set to 'SingleStack' when releasing the secondary ipFamily",
                    ));
                }
            } else if !of.is_empty() && !nf.is_empty() && nf[0] != of[0] {
                errs.push(inv_raw(&fp.index(0), go_ips(&new_ips), "may not change once set"));
            }
        }
    }
    errs.extend(validate_lb_class(Some(os), ns));
    let needs_hc = |s: &Value| st(s, "type") == "LoadBalancer" && st(s, "externalTrafficPolicy") == "Local";
    if needs_hc(os) && needs_hc(ns) && int0(ns, "healthCheckNodePort") != int0(os, "healthCheckNodePort") {
        errs.push(forb(&path("spec.healthCheckNodePort"), IMMUTABLE));
    }
    errs.extend(validate_service(new, &new_ips));
    errs
}
