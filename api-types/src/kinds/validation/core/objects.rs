//! The other core kinds: ReplicationController, PodTemplate, Namespace, ConfigMap, Secret,
//! Endpoints, Node, Event, ResourceQuota.

use super::*;

pub(crate) fn validate_rc_spec(spec: &Value) -> Errs {
    let sp = P::new("spec");
    let mut errs = nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds"));
    let selector = smap(spec, "selector");
    if selector.is_empty() {
        errs.push(req(&sp.child("selector"), ""));
    }
    errs.extend(nonneg(int0(spec, "replicas"), &sp.child("replicas")));
    let t = g(spec, "template");
    let tp = sp.child("template");
    if t.is_null() {
        errs.push(req(&tp, ""));
        return errs;
    }
    if !selector.is_empty() {
        let labels = labels_of(g(t, "metadata"));
        if !selector.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v)) {
            errs.push(inv_raw(
                &tp.child("metadata").child("labels"),
                go_str_map(g(t, "metadata").get("labels")),
                SELECTOR_MISMATCH,
            ));
        }
    }
    errs.extend(validate_pod_template_spec(t, &tp));
    let tspec = g(t, "spec");
    let rp = st(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(unsup(&tp.child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if has(tspec, "activeDeadlineSeconds") {
        errs.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

pub(crate) fn validate_namespace(ns: &Value) -> Errs {
    let mut errs = Vec::new();
    let fp = path("spec.finalizers");
    for f in slist(g(ns, "spec"), "finalizers") {
        errs.extend(qualified_name_errs(f, &fp));
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            errs.push(inv(&fp, f, "name is neither a standard finalizer name nor is it fully qualified"));
        }
    }
    errs
}

pub(crate) const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// Decoded length of a base64 (standard alphabet) string, or None when malformed.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let trimmed: &[u8] = {
        let mut end = bytes.len();
        while end > 0 && bytes[end - 1] == b'=' {
            end -= 1;
        }
        &bytes[..end]
    };
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in trimmed {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

pub(crate) fn validate_config_map(cm: &Value) -> Errs {
    let mut errs = Vec::new();
    let mut total = 0usize;
    let binary = obj(cm, "binaryData");
    for (k, v) in smap(cm, "data") {
        for m in is_config_map_key(k) {
            errs.push(inv(&P::new("data").key(k), k, m));
        }
        if binary.is_some_and(|b| b.contains_key(k)) {
            errs.push(inv(&P::new("data").key(k), k, "duplicate of key present in binaryData"));
        }
        total += v.len();
    }
    for (k, v) in smap(cm, "binaryData") {
        for m in is_config_map_key(k) {
            errs.push(inv(&P::new("binaryData").key(k), k, m));
        }
        total += base64_decode(v).map(|b| b.len()).unwrap_or(v.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(too_long(&P::new(""), MAX_SECRET_SIZE));
    }
    errs
}

pub(crate) fn validate_config_map_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(forb(&P::new("immutable"), "field is immutable when `immutable` is set"));
        }
        for k in ["data", "binaryData"] {
            if !sem_eq(g(new, k), g(old, k)) {
                errs.push(forb(&P::new(k), "field is immutable when `immutable` is set"));
            }
        }
    }
    errs.extend(validate_config_map(new));
    errs
}

pub(crate) fn validate_secret(s: &Value) -> Errs {
    let mut errs = Vec::new();
    let dp = P::new("data");
    let mut total = 0usize;
    let data: HashMap<&str, &str> = smap(s, "data").into_iter().collect();
    for (k, v) in smap(s, "data") {
        for m in is_config_map_key(k) {
            errs.push(inv(&dp.key(k), k, m));
        }
        total += base64_decode(v).map(|b| b.len()).unwrap_or(v.len());
    }
    if total > MAX_SECRET_SIZE {
        errs.push(too_long(&dp, MAX_SECRET_SIZE));
    }
    let decoded = |k: &str| data.get(k).map(|v| base64_decode(v).unwrap_or_default());
    match st(s, "type") {
        "kubernetes.io/service-account-token" => {
            let ann: HashMap<&str, &str> = smap(g(s, "metadata"), "annotations").into_iter().collect();
            if ann.get("kubernetes.io/service-account.name").is_none_or(|v| v.is_empty()) {
                errs.push(req(&path("metadata.annotations").key("kubernetes.io/service-account.name"), ""));
            }
        }
        "" | "Opaque" => {}
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" { ".dockercfg" } else { ".dockerconfigjson" };
            match decoded(key) {
                None => errs.push(req(&dp.key(key), "")),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<Map<String, Value>>(&bytes) {
                        errs.push(inv(&dp.key(key), "<secret contents redacted>", json_error_text(&e)));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            errs.push(req(&dp.key("username"), ""));
            errs.push(req(&dp.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if decoded("ssh-privatekey").is_none_or(|b| b.is_empty()) => {
            errs.push(req(&dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !data.contains_key(k) {
                    errs.push(req(&dp.key(k), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

/// An approximation of Go's encoding/json error text.
pub(crate) fn json_error_text(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of JSON input".to_string(),
        serde_json::error::Category::Data => {
            "json: cannot unmarshal value into Go value of type map[string]interface {}".to_string()
        }
        _ => format!("invalid character looking for beginning of value ({e})"),
    }
}

pub(crate) fn validate_secret_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    let (nt, ot) = (st(new, "type"), st(old, "type"));
    if nt != ot {
        errs.push(inv(&P::new("type"), nt, IMMUTABLE));
    }
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(forb(&P::new("immutable"), "field is immutable when `immutable` is set"));
        }
        if !sem_eq(g(new, "data"), g(old, "data")) {
            errs.push(forb(&P::new("data"), "field is immutable when `immutable` is set"));
        }
    }
    errs.extend(validate_secret(new));
    errs
}

pub(crate) fn validate_endpoint_address(a: &Value, p: &P) -> Errs {
    let ip = st(a, "ip");
    let mut errs = is_valid_ip(&p.child("ip"), ip);
    let hn = st(a, "hostname");
    if !hn.is_empty() {
        errs.extend(dns_label_errs(hn, &p.child("hostname")));
    }
    if let Some(nn) = a.get("nodeName").and_then(Value::as_str) {
        errs.extend(dns_subdomain_errs(nn, &p.child("nodeName")));
    }
    errs.extend(validate_non_special_ip(ip, &p.child("ip")));
    errs
}

pub(crate) fn validate_endpoints(ep: &Value) -> Errs {
    let mut errs = Vec::new();
    for (i, ss) in arr(ep, "subsets").iter().enumerate() {
        let ip = P::new("subsets").index(i);
        let addrs = arr(ss, "addresses");
        let nr = arr(ss, "notReadyAddresses");
        if addrs.is_empty() && nr.is_empty() {
            errs.push(req(&ip, "must specify `addresses` or `notReadyAddresses`"));
        }
        for (j, a) in addrs.iter().enumerate() {
            errs.extend(validate_endpoint_address(a, &ip.child("addresses").index(j)));
        }
        for (j, a) in nr.iter().enumerate() {
            errs.extend(validate_endpoint_address(a, &ip.child("notReadyAddresses").index(j)));
        }
        let ports = arr(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = ip.child("ports").index(j);
            let name = st(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(req(&pp.child("name"), ""));
            } else if !name.is_empty() {
                errs.extend(dns_label_errs(name, &pp.child("name")));
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
            if let Some(ap) = port.get("appProtocol").and_then(Value::as_str) {
                errs.extend(qualified_name_errs(ap, &pp.child("appProtocol")));
            }
        }
    }
    errs
}

pub(crate) fn validate_node_taints(taints: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    let mut unique: HashSet<(&str, &str)> = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let ip = p.index(i);
        let (key, value, effect) = (st(t, "key"), st(t, "value"), st(t, "effect"));
        errs.extend(validate_label_name(key, &ip.child("key")));
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(inv(&ip.child("value"), value, msgs.join(";")));
        }
        errs.extend(validate_taint_effect(effect, false, &ip.child("effect")));
        if !unique.insert((effect, key)) {
            let mut e = dup_raw(
                &ip,
                format!(
                    "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
                    go_quote(key),
                    go_quote(value),
                    go_quote(effect)
                ),
            );
            e.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(e);
        }
    }
    errs
}

pub(crate) fn node_pod_cidrs(spec: &Value) -> Vec<&str> {
    let cidrs = slist(spec, "podCIDRs");
    if cidrs.is_empty() && !st(spec, "podCIDR").is_empty() {
        vec![st(spec, "podCIDR")]
    } else {
        cidrs
    }
}

pub(crate) fn validate_node_resources(node: &Value) -> Errs {
    let mut errs = Vec::new();
    for k in ["capacity", "allocatable"] {
        if let Some(m) = obj(g(node, "status"), k) {
            for (name, v) in m {
                let rp = path("status").child(k).child(name);
                match quantity_of(v) {
                    Ok(q) => errs.extend(validate_resource_quantity(name, &q, &rp)),
                    Err(s) => errs.push(inv(&rp, &s, QUANTITY_FORMAT_ERR)),
                }
            }
        }
    }
    errs
}

pub(crate) fn validate_node(node: &Value) -> Errs {
    let spec = g(node, "spec");
    let mut errs = Vec::new();
    let taints = arr(spec, "taints");
    if !taints.is_empty() {
        errs.extend(validate_node_taints(taints, &path("metadata.taints")));
    }
    errs.extend(validate_node_resources(node));
    let cidrs = node_pod_cidrs(spec);
    let cp = path("spec.podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        errs.extend(is_valid_cidr(&cp.index(i), c));
    }
    if cidrs.len() > 1 {
        if !is_dual_stack_cidrs(&cidrs) || cidrs.len() > 2 {
            errs.push(inv_raw(&cp, go_strs(&cidrs), "may specify no more than one CIDR for each IP family"));
        }
        let mut seen = HashSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(*c) {
                errs.push(dup(&cp.index(i), c));
            }
        }
    }
    errs
}

pub(crate) fn validate_node_update(node: &Value, old: &Value) -> Errs {
    let mut errs = validate_node_resources(node);
    let mut seen = HashSet::new();
    for (i, a) in arr(g(node, "status"), "addresses").iter().enumerate() {
        let key = (st(a, "type").to_string(), st(a, "address").to_string());
        if !seen.insert(key.clone()) {
            errs.push(dup_raw(
                &path("status.addresses").index(i),
                format!("core.NodeAddress{{Type:{}, Address:{}}}", go_quote(&key.0), go_quote(&key.1)),
            ));
        }
    }
    let (ns, os) = (g(node, "spec"), g(old, "spec"));
    let (nc, oc) = (node_pod_cidrs(ns), node_pod_cidrs(os));
    let msg = "node updates may not change podCIDR except from \"\" to valid";
    if !oc.is_empty() {
        if oc.len() != nc.len() {
            errs.push(forb(&path("spec.podCIDRs"), msg));
        } else {
            for (i, c) in oc.iter().enumerate() {
                if *c != nc[i] {
                    errs.push(forb(&path("spec.podCIDRs"), msg));
                }
            }
        }
    }
    let opid = st(os, "providerID");
    if !opid.is_empty() && opid != st(ns, "providerID") {
        errs.push(forb(&path("spec.providerID"), "node updates may not change providerID except from \"\" to valid"));
    }
    let taints = arr(ns, "taints");
    if !taints.is_empty() {
        errs.extend(validate_node_taints(taints, &path("metadata.taints")));
    }
    if st(ns, "externalID") != st(os, "externalID") {
        errs.push(forb(&path("spec.externalID"), "may not be updated"));
    }
    errs
}

/// Event fields under their internal names, for both core/v1 and events.k8s.io/v1 shapes.
pub(crate) struct EventView<'a> {
    namespace: &'a str,
    involved_ns: &'a str,
    event_time: bool,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    action: &'a str,
    reason: &'a str,
    message: &'a str,
    ty: &'a str,
    first_ts: bool,
    last_ts: bool,
    count: i64,
    source: &'a Value,
    series: &'a Value,
    involved: &'a Value,
    related: &'a Value,
    event_time_v: &'a Value,
}

pub(crate) fn event_view(ev: &Value, events_api: bool) -> EventView<'_> {
    let namespace = st(g(ev, "metadata"), "namespace");
    let set = |k: &str| ev.get(k).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    if events_api {
        EventView {
            namespace,
            involved_ns: st(g(ev, "regarding"), "namespace"),
            event_time: set("eventTime"),
            reporting_controller: st(ev, "reportingController"),
            reporting_instance: st(ev, "reportingInstance"),
            action: st(ev, "action"),
            reason: st(ev, "reason"),
            message: st(ev, "note"),
            ty: st(ev, "type"),
            first_ts: set("deprecatedFirstTimestamp"),
            last_ts: set("deprecatedLastTimestamp"),
            count: int0(ev, "deprecatedCount"),
            source: g(ev, "deprecatedSource"),
            series: g(ev, "series"),
            involved: g(ev, "regarding"),
            related: g(ev, "related"),
            event_time_v: g(ev, "eventTime"),
        }
    } else {
        EventView {
            namespace,
            involved_ns: st(g(ev, "involvedObject"), "namespace"),
            event_time: set("eventTime"),
            reporting_controller: st(ev, "reportingComponent"),
            reporting_instance: st(ev, "reportingInstance"),
            action: st(ev, "action"),
            reason: st(ev, "reason"),
            message: st(ev, "message"),
            ty: st(ev, "type"),
            first_ts: set("firstTimestamp"),
            last_ts: set("lastTimestamp"),
            count: int0(ev, "count"),
            source: g(ev, "source"),
            series: g(ev, "series"),
            involved: g(ev, "involvedObject"),
            related: g(ev, "related"),
            event_time_v: g(ev, "eventTime"),
        }
    }
}

pub(crate) fn legacy_validate_event(e: &EventView) -> Errs {
    let mut errs = Vec::new();
    let inp = path("involvedObject.namespace");
    if !e.event_time {
        if e.involved_ns.is_empty() {
            if !e.namespace.is_empty() && e.namespace != "default" {
                errs.push(inv(&inp, e.involved_ns, "does not match event.namespace"));
            }
        } else if e.namespace != e.involved_ns {
            errs.push(inv(&inp, e.involved_ns, "does not match event.namespace"));
        }
    } else {
        if e.involved_ns.is_empty() && e.namespace != "default" && e.namespace != "kube-system" {
            errs.push(inv(&inp, e.involved_ns, "does not match event.namespace"));
        }
        let rc = P::new("reportingController");
        if e.reporting_controller.is_empty() {
            errs.push(req(&rc, ""));
        }
        errs.extend(qualified_name_errs(e.reporting_controller, &rc));
        for (name, v, limit) in
            [("reportingInstance", e.reporting_instance, 128), ("action", e.action, 128), ("reason", e.reason, 128)]
        {
            if v.is_empty() {
                errs.push(req(&P::new(name), ""));
            }
            if v.len() > limit {
                errs.push(inv(&P::new(name), "", format!("can have at most {limit} characters")));
            }
        }
        if e.message.len() > 1024 {
            errs.push(inv(&P::new("message"), "", "can have at most 1024 characters"));
        }
    }
    for m in is_dns1123_subdomain(e.namespace) {
        errs.push(inv(&P::new("namespace"), e.namespace, m));
    }
    errs
}

pub(crate) fn validate_event_series(e: &EventView) -> Errs {
    let mut errs = Vec::new();
    if !e.series.is_null() {
        if int0(e.series, "count") < 2 {
            errs.push(inv(&P::new("series.count"), "", "should be at least 2"));
        }
        if st(e.series, "lastObservedTime").is_empty() {
            errs.push(req(&P::new("series.lastObservedTime"), ""));
        }
    }
    errs
}

pub(crate) fn validate_event_create(ev: &Value, events_api: bool) -> Errs {
    let e = event_view(ev, events_api);
    let mut errs = legacy_validate_event(&e);
    if !events_api {
        return errs;
    }
    errs.extend(validate_event_series(&e));
    if !e.event_time {
        errs.push(req(&P::new("eventTime"), ""));
    }
    if e.ty != "Normal" && e.ty != "Warning" {
        errs.push(inv(&P::new("type"), "", format!("has invalid value: {}", e.ty)));
    }
    if e.first_ts {
        errs.push(inv(&P::new("firstTimestamp"), "", "needs to be unset"));
    }
    if e.last_ts {
        errs.push(inv(&P::new("lastTimestamp"), "", "needs to be unset"));
    }
    if e.count != 0 {
        errs.push(inv(&P::new("count"), "", "needs to be unset"));
    }
    if !st(e.source, "component").is_empty() || !st(e.source, "host").is_empty() {
        errs.push(inv(&P::new("source"), "", "needs to be unset"));
    }
    errs
}

pub(crate) fn validate_event_update(ev: &Value, old: &Value, events_api: bool) -> Errs {
    let e = event_view(ev, events_api);
    let mut errs = legacy_validate_event(&e);
    if !events_api {
        return errs;
    }
    let o = event_view(old, events_api);
    if !sem_eq(e.series, o.series) {
        errs.extend(validate_event_series(&e));
    }
    let imm_json = |errs: &mut Errs, name: &str, a: &Value, b: &Value, type_name: &str| {
        if !sem_eq(a, b) {
            errs.push(inv_raw(&P::new(name), go_struct(type_name, a), IMMUTABLE));
        }
    };
    let imm_str = |errs: &mut Errs, name: &str, a: &str, b: &str| {
        if a != b {
            errs.push(inv(&P::new(name), a, IMMUTABLE));
        }
    };
    imm_json(&mut errs, "involvedObject", e.involved, o.involved, "core.ObjectReference");
    imm_str(&mut errs, "reason", e.reason, o.reason);
    imm_str(&mut errs, "message", e.message, o.message);
    imm_json(&mut errs, "source", e.source, o.source, "core.EventSource");
    if e.first_ts != o.first_ts {
        errs.push(inv_raw(&P::new("firstTimestamp"), "v1.Time{}", IMMUTABLE));
    }
    if e.last_ts != o.last_ts {
        errs.push(inv_raw(&P::new("lastTimestamp"), "v1.Time{}", IMMUTABLE));
    }
    if e.count != o.count {
        errs.push(inv_raw(&P::new("count"), e.count, IMMUTABLE));
    }
    imm_str(&mut errs, "reason", e.reason, o.reason);
    imm_str(&mut errs, "type", e.ty, o.ty);
    if !sem_eq(e.event_time_v, o.event_time_v) {
        errs.push(inv_raw(&P::new("eventTime"), e.event_time_v.as_str().unwrap_or(""), IMMUTABLE));
    }
    imm_str(&mut errs, "action", e.action, o.action);
    imm_json(&mut errs, "related", e.related, o.related, "&core.ObjectReference");
    imm_str(&mut errs, "reportingController", e.reporting_controller, o.reporting_controller);
    imm_str(&mut errs, "reportingInstance", e.reporting_instance, o.reporting_instance);
    errs
}

pub(crate) fn validate_resource_quota(rq: &Value) -> Errs {
    let mut errs = Vec::new();
    let spec = g(rq, "spec");
    if let Some(m) = obj(spec, "hard") {
        for (k, v) in m {
            let rp = path("spec.hard").key(k);
            errs.extend(validate_resource_name(k, &rp));
            if !k.contains('/') && !is_standard_quota_resource(k) {
                errs.push(inv_raw(&rp, k, "must be a standard resource for quota"));
            }
            match quantity_of(v) {
                Ok(q) => errs.extend(validate_resource_quantity(k, &q, &rp)),
                Err(s) => errs.push(inv(&rp, &s, QUANTITY_FORMAT_ERR)),
            }
        }
    }
    errs
}

pub(crate) fn is_standard_quota_resource(name: &str) -> bool {
    const QUOTA: &[&str] = &[
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "cpu",
        "memory",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "persistentvolumeclaims",
        "configmaps",
        "secrets",
        "services.nodeports",
        "services.loadbalancers",
        "ephemeral-storage",
    ];
    QUOTA.contains(&name) || name.starts_with("requests.hugepages-") || name.starts_with("count/")
}
