//! Containers: ports, env, resources, probes, lifecycle and security contexts.

use super::*;

pub(crate) struct PodCtx<'a> {
    pub(crate) vols: HashMap<String, &'a Value>,
    pub(crate) claim_names: HashSet<String>,
    pub(crate) grace: Option<i64>,
    pub(crate) restart_policy: String,
    pub(crate) host_users: bool,
}

pub(crate) fn validate_pull_policy(policy: &str, p: &P) -> Errs {
    match policy {
        "Always" | "IfNotPresent" | "Never" => vec![],
        "" => vec![req(p, "")],
        other => vec![unsup(p, other, &["Always", "IfNotPresent", "Never"])],
    }
}

pub(crate) const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

pub(crate) fn validate_container_ports(ports: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let ip = p.index(i);
        let name = st(port, "name");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(inv(&ip.child("name"), name, m));
                }
            } else if !names.insert(name) {
                errs.push(dup(&ip.child("name"), name));
            }
        }
        let cp = int0(port, "containerPort");
        if cp == 0 {
            errs.push(req(&ip.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(cp) {
                errs.push(inv_raw(&ip.child("containerPort"), cp, m));
            }
        }
        let hp = int0(port, "hostPort");
        if hp != 0 {
            for m in is_valid_port_num(hp) {
                errs.push(inv_raw(&ip.child("hostPort"), hp, m));
            }
        }
        let proto = st(port, "protocol");
        if proto.is_empty() {
            errs.push(req(&ip.child("protocol"), ""));
        } else if !PROTOCOLS.contains(&proto) {
            errs.push(unsup(&ip.child("protocol"), proto, PROTOCOLS));
        }
    }
    errs
}

pub(crate) fn validate_key_selector(s: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let name = st(s, "name");
    for msg in is_dns1123_subdomain(name) {
        errs.push(inv(&p.child("name"), name, msg));
    }
    let key = st(s, "key");
    if key.is_empty() {
        errs.push(req(&p.child("key"), ""));
    } else {
        for msg in is_config_map_key(key) {
            errs.push(inv(&p.child("key"), key, msg));
        }
    }
    errs
}

pub(crate) fn validate_env(vars: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let ip = p.index(i);
        let name = st(ev, "name");
        if name.is_empty() {
            errs.push(req(&ip.child("name"), ""));
        } else {
            for m in is_relaxed_env_var_name(name) {
                errs.push(inv(&ip.child("name"), name, m));
            }
        }
        let vf = g(ev, "valueFrom");
        if vf.is_null() {
            continue;
        }
        let vp = ip.child("valueFrom");
        let mut n = 0;
        if has(vf, "fieldRef") {
            n += 1;
            errs.extend(validate_object_field_selector(
                g(vf, "fieldRef"),
                VALID_ENV_DOWNWARD_API_FIELDS,
                &vp.child("fieldRef"),
            ));
        }
        if has(vf, "resourceFieldRef") {
            n += 1;
            errs.extend(validate_container_resource_field_selector(
                g(vf, "resourceFieldRef"),
                &vp.child("resourceFieldRef"),
                false,
            ));
        }
        if has(vf, "configMapKeyRef") {
            n += 1;
            errs.extend(validate_key_selector(g(vf, "configMapKeyRef"), &vp.child("configMapKeyRef")));
        }
        if has(vf, "secretKeyRef") {
            n += 1;
            errs.extend(validate_key_selector(g(vf, "secretKeyRef"), &vp.child("secretKeyRef")));
        }
        if n == 0 {
            errs.push(inv(
                &vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !st(ev, "value").is_empty() {
            errs.push(inv(&vp, "", "may not be specified when `value` is not empty"));
        } else if n > 1 {
            errs.push(inv(&vp, "", "may not have more than one field specified at a time"));
        }
    }
    errs
}

pub(crate) fn validate_env_from(vars: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let ip = p.index(i);
        let prefix = st(ev, "prefix");
        if !prefix.is_empty() {
            for m in is_relaxed_env_var_name(prefix) {
                errs.push(inv(&ip.child("prefix"), prefix, m));
            }
        }
        let mut n = 0;
        for key in ["configMapRef", "secretRef"] {
            if has(ev, key) {
                n += 1;
                let name = st(g(ev, key), "name");
                let np = ip.child(key).child("name");
                if name.is_empty() {
                    errs.push(req(&np, ""));
                } else {
                    let masked = match name.strip_suffix('-') {
                        Some(s) => format!("{s}a"),
                        None => name.to_string(),
                    };
                    for msg in is_dns1123_subdomain(&masked) {
                        errs.push(inv(&np, name, msg));
                    }
                }
            }
        }
        if n == 0 {
            errs.push(inv(p, "", "must specify one of: `configMapRef` or `secretRef`"));
        } else if n > 1 {
            errs.push(inv(p, "", "may not have more than one field specified at a time"));
        }
    }
    errs
}

pub(crate) fn validate_volume_mounts(c: &Value, devices: &HashMap<&str, &str>, ctx: &PodCtx, p: &P) -> Errs {
    let mut errs = Vec::new();
    let mut mountpoints: HashSet<&str> = HashSet::new();
    let privileged = g(g(c, "securityContext"), "privileged").as_bool().unwrap_or(false);
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let ip = p.index(i);
        let name = st(m, "name");
        let mp = st(m, "mountPath");
        if name.is_empty() {
            errs.push(req(&ip.child("name"), ""));
        }
        if !ctx.vols.contains_key(name) {
            errs.push(not_found(&ip.child("name"), name));
        }
        if mp.is_empty() {
            errs.push(req(&ip.child("mountPath"), ""));
        }
        if !mountpoints.insert(mp) {
            errs.push(inv(&ip.child("mountPath"), mp, "must be unique"));
        }
        if devices.contains_key(name) {
            errs.push(inv(&ip.child("name"), name, "must not already exist in volumeDevices"));
        }
        if devices.values().any(|d| *d == mp) {
            errs.push(inv(&ip.child("mountPath"), mp, "must not already exist as a path in volumeDevices"));
        }
        let sub = st(m, "subPath");
        let sub_expr = st(m, "subPathExpr");
        if ctx.vols.get(name).is_some_and(|v| has(v, "image")) {
            if !sub.is_empty() {
                errs.push(inv(&ip.child("subPath"), sub, "not allowed in image volume sources"));
            }
            if !sub_expr.is_empty() {
                errs.push(inv(&ip.child("subPathExpr"), sub_expr, "not allowed in image volume sources"));
            }
        }
        if !sub.is_empty() {
            errs.extend(validate_local_descending_path(sub, &p.child("subPath")));
        }
        if !sub_expr.is_empty() {
            if !sub.is_empty() {
                errs.push(inv(&ip.child("subPathExpr"), sub_expr, "subPathExpr and subPath are mutually exclusive"));
            }
            errs.extend(validate_local_descending_path(sub_expr, &p.child("subPathExpr")));
        }
        let prop = m.get("mountPropagation").and_then(Value::as_str);
        if let Some(prop) = prop {
            let pp = p.child("mountPropagation");
            if !["Bidirectional", "HostToContainer", "None"].contains(&prop) {
                errs.push(unsup(&pp, prop, &["Bidirectional", "HostToContainer", "None"]));
            }
            if prop == "Bidirectional" && !privileged {
                errs.push(forb(&pp, "Bidirectional mount propagation is available only to privileged containers"));
            }
        }
        if let Some(rro) = m.get("recursiveReadOnly").and_then(Value::as_str) {
            let rp = p.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if !flag(m, "readOnly") {
                        errs.push(forb(&rp, "may only be specified when readOnly is true"));
                    }
                    if prop.is_some_and(|x| x != "None") {
                        errs.push(forb(&rp, "may only be specified when mountPropagation is None or not specified"));
                    }
                }
                other => errs.push(unsup(&rp, other, &["Disabled", "Enabled", "IfPossible"])),
            }
        }
    }
    errs
}

pub(crate) fn validate_volume_devices(c: &Value, mounts: &HashMap<&str, &str>, ctx: &PodCtx, p: &P) -> Errs {
    let mut errs = Vec::new();
    let mut paths: HashSet<&str> = HashSet::new();
    let mut names: HashSet<&str> = HashSet::new();
    for (i, d) in arr(c, "volumeDevices").iter().enumerate() {
        let ip = p.index(i);
        let name = st(d, "name");
        let dp = st(d, "devicePath");
        let (matched, is_pvc) = match ctx.vols.get(name) {
            Some(v) => (true, has(v, "persistentVolumeClaim") || has(v, "ephemeral")),
            None => (false, false),
        };
        if name.is_empty() {
            errs.push(req(&ip.child("name"), ""));
        }
        if names.contains(name) {
            errs.push(inv(&ip.child("name"), name, "must be unique"));
        }
        if matched && !is_pvc {
            errs.push(inv(
                &ip.child("name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            ));
        }
        if !matched {
            errs.push(not_found(&ip.child("name"), name));
        }
        if dp.is_empty() {
            errs.push(req(&ip.child("devicePath"), ""));
        }
        if paths.contains(dp) {
            errs.push(inv(&ip.child("devicePath"), dp, "must be unique"));
        }
        if !dp.is_empty() && dp.split('/').any(|s| s == "..") {
            errs.push(inv(&ip.child("devicePath"), dp, "can not contain backsteps ('..')"));
        } else {
            paths.insert(dp);
        }
        if mounts.contains_key(name) {
            errs.push(inv(&ip.child("name"), name, "must not already exist in volumeMounts"));
        }
        if mounts.values().any(|m| *m == dp) {
            errs.push(inv(&ip.child("devicePath"), dp, "must not already exist as a path in volumeMounts"));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
    errs
}

pub(crate) fn validate_port_num_or_name(port: &Value, p: &P) -> Errs {
    match port {
        Value::String(s) => is_valid_port_name(s).into_iter().map(|m| inv(p, s, m)).collect(),
        other => {
            let n = num(other).unwrap_or(0);
            is_valid_port_num(n).into_iter().map(|m| inv_raw(p, n, m)).collect()
        }
    }
}

/// `validateHandler` over the handler kinds present in `h` (`sleep` only for lifecycle hooks).
pub(crate) fn validate_handler(h: &Value, grace: Option<i64>, p: &P, allow_sleep: bool) -> Errs {
    let mut errs = Vec::new();
    let mut n = 0;
    let kinds: &[&str] = if allow_sleep {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    for kind in kinds {
        if !has(h, kind) {
            continue;
        }
        let kp = p.child(kind);
        if n > 0 {
            errs.push(forb(&kp, "may not specify more than 1 handler type"));
            continue;
        }
        n += 1;
        let v = g(h, kind);
        match *kind {
            "exec" if arr(v, "command").is_empty() => errs.push(req(&kp.child("command"), "")),
            "httpGet" => {
                if st(v, "path").is_empty() {
                    errs.push(req(&kp.child("path"), ""));
                }
                errs.extend(validate_port_num_or_name(g(v, "port"), &kp.child("port")));
                let scheme = st(v, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(unsup(&kp.child("scheme"), scheme, &["HTTP", "HTTPS"]));
                }
                for hdr in arr(v, "httpHeaders") {
                    let name = st(hdr, "name");
                    for m in is_http_header_name(name) {
                        errs.push(inv(&kp.child("httpHeaders"), name, m));
                    }
                }
            }
            "tcpSocket" => errs.extend(validate_port_num_or_name(g(v, "port"), &kp.child("port"))),
            "grpc" => {
                let port = int0(v, "port");
                for m in is_valid_port_num(port) {
                    errs.push(inv_raw(&kp.child("port"), port, m));
                }
            }
            "sleep" => {
                let secs = int0(v, "seconds");
                if let Some(grace) = grace {
                    if secs < 0 || secs > grace {
                        errs.push(inv_raw(
                            &kp,
                            secs,
                            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(req(p, "must specify a handler type"));
    }
    errs
}

pub(crate) fn validate_probe(probe: &Value, grace: Option<i64>, p: &P) -> Errs {
    let mut errs = validate_handler(probe, grace, p, false);
    for k in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        errs.extend(nonneg(int0(probe, k), &p.child(k)));
    }
    if let Some(t) = int(probe, "terminationGracePeriodSeconds") {
        if t <= 0 {
            errs.push(inv_raw(&p.child("terminationGracePeriodSeconds"), t, "must be greater than 0"));
        }
    }
    errs
}

pub(crate) fn validate_probes(c: &Value, grace: Option<i64>, p: &P) -> Errs {
    let mut errs = Vec::new();
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let probe = g(c, kind);
        if probe.is_null() {
            continue;
        }
        let pp = p.child(kind);
        errs.extend(validate_probe(probe, grace, &pp));
        if kind == "readinessProbe" {
            if let Some(t) = int(probe, "terminationGracePeriodSeconds") {
                errs.push(inv_raw(
                    &pp.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        } else {
            let s = int0(probe, "successThreshold");
            if s != 1 {
                errs.push(inv_raw(&pp.child("successThreshold"), s, "must be 1"));
            }
        }
    }
    errs
}

pub(crate) fn validate_lifecycle(lc: &Value, grace: Option<i64>, p: &P) -> Errs {
    let mut errs = Vec::new();
    for hook in ["postStart", "preStop"] {
        if has(lc, hook) {
            errs.extend(validate_handler(g(lc, hook), grace, &p.child(hook), true));
        }
    }
    errs
}

// --- resources ---

pub(crate) const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];
pub(crate) const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub(crate) fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

pub(crate) fn is_hugepage_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

pub(crate) fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

pub(crate) fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

pub(crate) fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepage_resource(name)
}

pub(crate) fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name) || name.starts_with("requests.hugepages-") || is_hugepage_resource(name)
}

pub(crate) fn validate_resource_name(name: &str, p: &P) -> Errs {
    let errs: Errs = is_qualified_name(name).into_iter().map(|m| inv_raw(p, name, m)).collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        return vec![inv_raw(p, name, "must be a standard resource type or fully qualified")];
    }
    errs
}

pub(crate) fn validate_container_resource_name(name: &str, p: &P) -> Errs {
    let mut errs = validate_resource_name(name, p);
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepage_resource(name) {
            errs.push(inv_raw(p, name, "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(inv_raw(p, name, "doesn't follow extended resource name standard"));
    }
    errs
}

/// `ValidateResourceQuantityValue`: non-negative, integral for integer resources.
pub(crate) fn validate_resource_quantity(name: &str, q: &Quantity, p: &P) -> Errs {
    let mut errs = Vec::new();
    if q.sign() < 0 {
        errs.push(inv(p, &q.canonical(), NEGATIVE));
    }
    if is_integer_resource(name) && q.milli_value().is_some_and(|m| m % 1000 != 0) {
        errs.push(inv_raw(p, q.canonical(), "must be an integer"));
    }
    errs
}

pub(crate) fn hugepage_divisible(name: &str, q: &Quantity) -> bool {
    let Some(size) = name.strip_prefix("hugepages-").and_then(Quantity::parse) else {
        return false;
    };
    match (size.milli_value(), q.milli_value()) {
        (Some(s), Some(v)) if size.sign() > 0 && s > 0 => v % s == 0,
        _ => false,
    }
}

pub(crate) fn validate_resource_requirements(res: &Value, claim_names: Option<&HashSet<String>>, p: &P) -> Errs {
    let mut errs = Vec::new();
    let lim_path = p.child("limits");
    let req_path = p.child("requests");
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) = (false, false, false, false);
    let mut limits: HashMap<&str, Quantity> = HashMap::new();
    if let Some(m) = obj(res, "limits") {
        for (name, v) in m {
            let fp = lim_path.key(name);
            errs.extend(validate_container_resource_name(name, &fp));
            match quantity_of(v) {
                Ok(q) => {
                    errs.extend(validate_resource_quantity(name, &q, &fp));
                    if is_hugepage_resource(name) {
                        lim_huge = true;
                        if !hugepage_divisible(name, &q) {
                            errs.push(inv(
                                &fp,
                                &q.canonical(),
                                format!("{} is not positive integer multiple of {}", q.canonical(), name),
                            ));
                        }
                    }
                    limits.insert(name.as_str(), q);
                }
                Err(s) => errs.push(inv(&fp, &s, QUANTITY_FORMAT_ERR)),
            }
            if name == "cpu" || name == "memory" {
                lim_cpu_mem = true;
            }
        }
    }
    if let Some(m) = obj(res, "requests") {
        for (name, v) in m {
            let fp = req_path.key(name);
            errs.extend(validate_container_resource_name(name, &fp));
            match quantity_of(v) {
                Ok(q) => {
                    errs.extend(validate_resource_quantity(name, &q, &fp));
                    match limits.get(name.as_str()) {
                        Some(l) => {
                            let c = q.cmp(l);
                            if c != Ordering::Equal && !is_overcommit_allowed(name) {
                                errs.push(inv(
                                    &req_path,
                                    &q.canonical(),
                                    format!("must be equal to {} limit of {}", name, l.canonical()),
                                ));
                            } else if c == Ordering::Greater {
                                errs.push(inv(
                                    &req_path,
                                    &q.canonical(),
                                    format!("must be less than or equal to {} limit of {}", name, l.canonical()),
                                ));
                            }
                        }
                        None => {
                            if !is_overcommit_allowed(name) {
                                errs.push(req(&lim_path, "Limit must be set for non overcommitable resources"));
                            }
                        }
                    }
                    if is_hugepage_resource(name) {
                        req_huge = true;
                        if !hugepage_divisible(name, &q) {
                            errs.push(inv(
                                &fp,
                                &q.canonical(),
                                format!("{} is not positive integer multiple of {}", q.canonical(), name),
                            ));
                        }
                    }
                }
                Err(s) => errs.push(inv(&fp, &s, QUANTITY_FORMAT_ERR)),
            }
            if name == "cpu" || name == "memory" {
                req_cpu_mem = true;
            }
        }
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errs.push(forb(p, "HugePages require cpu or memory"));
    }
    // Resource claims reference pod.spec.resourceClaims.
    let cp = p.child("claims");
    let mut names: HashSet<String> = HashSet::new();
    for (i, c) in arr(res, "claims").iter().enumerate() {
        let name = st(c, "name");
        if name.is_empty() {
            errs.push(req(&cp.index(i), ""));
            continue;
        }
        if names.contains(name) {
            errs.push(dup(&cp.index(i), name));
        } else {
            let request = st(c, "request");
            let mut key = name.to_string();
            if !request.is_empty() {
                errs.extend(dns_label_errs(request, &cp.index(i).child("request")));
                key = format!("{name}/{request}");
            }
            if names.contains(&key) {
                errs.push(dup(&cp.index(i), &key));
            } else if request.is_empty() && names.iter().any(|k| k.split_once('/').is_some_and(|(a, _)| a == name)) {
                errs.push(dup(&cp.index(i), name));
            }
            names.insert(key);
        }
        if let Some(pod_claims) = claim_names {
            if !pod_claims.contains(name) {
                let mut e = not_found(&cp.index(i), name);
                let mut sorted: Vec<&String> = pod_claims.iter().collect();
                sorted.sort();
                e.detail = if sorted.is_empty() {
                    "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
                } else {
                    format!(
                        "must be one of the names in pod.spec.resourceClaims: {}",
                        sorted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    )
                };
                errs.push(e);
            }
        }
    }
    errs
}

pub(crate) fn validate_resize_policy(list: &[Value], p: &P, pod_restart_policy: &str) -> Errs {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, pol) in list.iter().enumerate() {
        let rn = st(pol, "resourceName");
        if !seen.insert(rn) {
            errs.push(dup_raw(&p.index(i), rn));
        }
        match rn {
            "cpu" | "memory" => {}
            "" => errs.push(req(p, "")),
            other => errs.push(unsup_raw(p, other, &["cpu", "memory"])),
        }
        let rp = st(pol, "restartPolicy");
        match rp {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(req(p, "")),
            other => errs.push(unsup(p, other, &["NotRequired", "RestartContainer"])),
        }
        if pod_restart_policy == "Never" && rp != "NotRequired" {
            errs.push(inv(p, rp, "must be 'NotRequired' when `restartPolicy` is 'Never'"));
        }
    }
    errs
}

// --- security contexts ---

pub(crate) fn validate_seccomp_profile(sp: &Value, p: &P) -> Errs {
    if sp.is_null() {
        return vec![];
    }
    let mut errs = Vec::new();
    let t = st(sp, "type");
    match t {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errs.push(req(&p.child("type"), "type is required when seccompProfile is set")),
        other => errs.push(unsup(&p.child("type"), other, &["Localhost", "RuntimeDefault", "Unconfined"])),
    }
    let lp = sp.get("localhostProfile").and_then(Value::as_str);
    if t == "Localhost" {
        match lp {
            None => errs.push(req(&p.child("localhostProfile"), "must be set when seccomp type is Localhost")),
            Some(l) => errs.extend(validate_local_descending_path(l, &p.child("localhostProfile"))),
        }
    } else if lp.is_some() {
        errs.push(inv_raw(
            &p.child("localhostProfile"),
            go_struct("core.SeccompProfile", sp),
            "can only be set when seccomp type is Localhost",
        ));
    }
    errs
}

pub(crate) fn validate_apparmor_profile(ap: &Value, p: &P) -> Errs {
    if ap.is_null() {
        return vec![];
    }
    let mut errs = Vec::new();
    let lp = ap.get("localhostProfile").and_then(Value::as_str);
    match st(ap, "type") {
        "Localhost" => match lp {
            None => errs.push(req(&p.child("localhostProfile"), "must be set when AppArmor type is Localhost")),
            Some(l) => {
                if l.trim() != l {
                    errs.push(inv(&p.child("localhostProfile"), l, "must not be padded with whitespace"));
                } else if l.is_empty() {
                    errs.push(req(&p.child("localhostProfile"), "must be set when AppArmor type is Localhost"));
                }
                if l.len() > 4095 {
                    errs.push(too_long(&p.child("localhostProfile"), 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(l) = lp {
                errs.push(inv(&p.child("localhostProfile"), l, "can only be set when AppArmor type is Localhost"));
            }
        }
        "" => errs.push(req(&p.child("type"), "type is required when appArmorProfile is set")),
        other => errs.push(unsup(&p.child("type"), other, &["Localhost", "RuntimeDefault", "Unconfined"])),
    }
    errs
}

pub(crate) static CTRL: Lazy<Regex> = Lazy::new(|| Regex::new(r"[[:cntrl:]]+").expect("static regex"));
pub(crate) static NETBIOS: Lazy<Regex> =
    Lazy::new(|| Regex::new(r#"^[^\\/:\*\?"<>|\.][^\\/:\*\?"<>|]{0,14}$"#).expect("static regex"));
pub(crate) static WIN_DNS: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
        .expect("static regex")
});
pub(crate) static BAD_USER_CHARS: Lazy<Regex> =
    Lazy::new(|| Regex::new(r#"["/\\:;|=,\+\*\?<>@\[\]]"#).expect("static regex"));
pub(crate) static DOTS_SPACES: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[\. ]+$").expect("static regex"));

pub(crate) fn validate_windows_options(w: &Value, p: &P) -> Errs {
    if w.is_null() {
        return vec![];
    }
    let mut errs = Vec::new();
    if let Some(n) = w.get("gmsaCredentialSpecName").and_then(Value::as_str) {
        for msg in is_dns1123_subdomain(n) {
            errs.push(inv(&p.child("gmsaCredentialSpecName"), n, msg));
        }
    }
    if let Some(s) = w.get("gmsaCredentialSpec").and_then(Value::as_str) {
        if s.is_empty() {
            errs.push(inv(&p.child("gmsaCredentialSpec"), s, "gmsaCredentialSpec cannot be an empty string"));
        } else if s.len() > 64 * 1024 {
            errs.push(inv(&p.child("gmsaCredentialSpec"), s, "gmsaCredentialSpec size must be under 64 KiB"));
        }
    }
    if let Some(u) = w.get("runAsUserName").and_then(Value::as_str) {
        let up = p.child("runAsUserName");
        let parts: Vec<&str> = u.split('\\').collect();
        if u.is_empty() {
            errs.push(inv(&up, u, "runAsUserName cannot be an empty string"));
        } else if CTRL.is_match(u) {
            errs.push(inv(&up, u, "runAsUserName cannot contain control characters"));
        } else if parts.len() > 2 {
            errs.push(inv(&up, u, "runAsUserName cannot contain more than one backslash"));
        } else {
            let (has_domain, domain, user) =
                if parts.len() == 1 { (false, "", parts[0]) } else { (true, parts[0], parts[1]) };
            if domain.len() >= 256 {
                errs.push(inv(&up, u, "runAsUserName's Domain length must be under 256 characters"));
            }
            if has_domain && !(NETBIOS.is_match(domain) || WIN_DNS.is_match(domain)) {
                errs.push(inv(&up, u, "runAsUserName's Domain doesn't match the NetBios nor the DNS format"));
            }
            if user.is_empty() {
                errs.push(inv(&up, u, "runAsUserName's User cannot be empty"));
            } else if user.len() > 104 {
                errs.push(inv(&up, u, "runAsUserName's User length must not be longer than 104 characters"));
            }
            if DOTS_SPACES.is_match(user) {
                errs.push(inv(&up, u, "runAsUserName's User cannot contain only periods or spaces"));
            }
            if BAD_USER_CHARS.is_match(user) {
                errs.push(inv(
                    &up,
                    u,
                    "runAsUserName's User cannot contain the following characters: \"/\\:;|=,+*?<>@[]",
                ));
            }
        }
    }
    errs
}

pub(crate) fn validate_container_security_context(sc: &Value, p: &P, host_users: bool) -> Errs {
    if sc.is_null() {
        return vec![];
    }
    let mut errs = Vec::new();
    for k in ["runAsUser", "runAsGroup"] {
        if let Some(v) = int(sc, k) {
            for m in is_valid_user_id(v) {
                errs.push(inv_raw(&p.child(k), v, m));
            }
        }
    }
    if let Some(pm) = sc.get("procMount").and_then(Value::as_str) {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(unsup(&p.child("procMount"), pm, &["Default", "Unmasked"]));
        }
        if host_users && pm == "Unmasked" {
            errs.push(inv(&p.child("procMount"), pm, "`hostUsers` must be false to use `Unmasked`"));
        }
    }
    errs.extend(validate_seccomp_profile(g(sc, "seccompProfile"), &p.child("seccompProfile")));
    if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) == Some(false) {
        if sc.get("privileged").and_then(Value::as_bool) == Some(true) {
            errs.push(inv_raw(
                p,
                go_struct("&core.SecurityContext", sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        for cap in slist(g(sc, "capabilities"), "add") {
            if cap == "CAP_SYS_ADMIN" {
                errs.push(inv_raw(
                    p,
                    go_struct("&core.SecurityContext", sc),
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                ));
            }
        }
    }
    errs.extend(validate_windows_options(g(sc, "windowsOptions"), &p.child("windowsOptions")));
    errs.extend(validate_apparmor_profile(g(sc, "appArmorProfile"), &p.child("appArmorProfile")));
    errs
}

pub(crate) fn validate_container_common(c: &Value, ctx: &PodCtx, p: &P) -> Errs {
    let mut errs = Vec::new();
    let name = st(c, "name");
    if name.is_empty() {
        errs.push(req(&p.child("name"), ""));
    } else {
        errs.extend(dns_label_errs(name, &p.child("name")));
    }
    if st(c, "image").is_empty() {
        errs.push(req(&p.child("image"), ""));
    }
    match st(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(req(&p.child("terminationMessagePolicy"), "")),
        other => errs.push(unsup(&p.child("terminationMessagePolicy"), other, &["File", "FallbackToLogsOnError"])),
    }
    let mounts: HashMap<&str, &str> =
        arr(c, "volumeMounts").iter().map(|m| (st(m, "name"), st(m, "mountPath"))).collect();
    let devices: HashMap<&str, &str> =
        arr(c, "volumeDevices").iter().map(|d| (st(d, "name"), st(d, "devicePath"))).collect();
    errs.extend(validate_container_ports(arr(c, "ports"), &p.child("ports")));
    errs.extend(validate_env(arr(c, "env"), &p.child("env")));
    errs.extend(validate_env_from(arr(c, "envFrom"), &p.child("envFrom")));
    errs.extend(validate_volume_mounts(c, &devices, ctx, &p.child("volumeMounts")));
    errs.extend(validate_volume_devices(c, &mounts, ctx, &p.child("volumeDevices")));
    errs.extend(validate_pull_policy(st(c, "imagePullPolicy"), &p.child("imagePullPolicy")));
    errs.extend(validate_resource_requirements(g(c, "resources"), Some(&ctx.claim_names), &p.child("resources")));
    errs.extend(validate_resize_policy(arr(c, "resizePolicy"), &p.child("resizePolicy"), &ctx.restart_policy));
    errs.extend(validate_container_security_context(
        g(c, "securityContext"),
        &p.child("securityContext"),
        ctx.host_users,
    ));
    errs
}

pub(crate) fn check_host_port_conflicts(containers: &[&Value], p: &P, seen: &mut HashSet<String>) -> Errs {
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let hp = int0(port, "hostPort");
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", st(port, "protocol"), st(port, "hostIP"), hp);
            if seen.contains(&key) {
                errs.push(dup(&p.index(ci).child("ports").index(pi).child("hostPort"), &key));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

pub(crate) fn validate_containers(containers: &[Value], ctx: &PodCtx, p: &P) -> Errs {
    if containers.is_empty() {
        return vec![req(p, "")];
    }
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = p.index(i);
        errs.extend(validate_container_common(c, ctx, &cp));
        let name = st(c, "name");
        if !names.insert(name) {
            errs.push(dup(&cp.child("name"), name));
        }
        if has(c, "lifecycle") {
            errs.extend(validate_lifecycle(g(c, "lifecycle"), ctx.grace, &cp.child("lifecycle")));
        }
        errs.extend(validate_probes(c, ctx.grace, &cp));
        if has(c, "restartPolicy") {
            errs.push(forb(&cp.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    let refs: Vec<&Value> = containers.iter().collect();
    errs.extend(check_host_port_conflicts(&refs, p, &mut HashSet::new()));
    errs
}

pub(crate) fn validate_init_containers(inits: &[Value], regular: &[Value], ctx: &PodCtx, p: &P) -> Errs {
    let mut errs = Vec::new();
    let mut names: HashSet<&str> = regular.iter().map(|c| st(c, "name")).collect();
    for (i, c) in inits.iter().enumerate() {
        let cp = p.index(i);
        errs.extend(validate_container_common(c, ctx, &cp));
        let mut restart_always = false;
        if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
            if rp != "Always" {
                errs.push(unsup(&cp.child("restartPolicy"), rp, &["Always"]));
            }
            restart_always = rp == "Always";
        }
        let name = st(c, "name");
        if names.contains(name) {
            errs.push(dup(&cp.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        errs.extend(check_host_port_conflicts(&[c], p, &mut HashSet::new()));
        if restart_always {
            if has(c, "lifecycle") {
                errs.extend(validate_lifecycle(g(c, "lifecycle"), ctx.grace, &cp.child("lifecycle")));
            }
            errs.extend(validate_probes(c, ctx.grace, &cp));
        } else {
            for k in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if has(c, k) {
                    errs.push(forb(&cp.child(k), "may not be set for init containers without restartPolicy=Always"));
                }
            }
        }
    }
    errs
}

pub(crate) fn validate_ephemeral_containers(
    ecs: &[Value],
    containers: &[Value],
    inits: &[Value],
    ctx: &PodCtx,
    p: &P,
) -> Errs {
    let mut errs = Vec::new();
    if ecs.is_empty() {
        return errs;
    }
    let others: HashSet<&str> = containers.iter().chain(inits.iter()).map(|c| st(c, "name")).collect();
    let mut all = others.clone();
    for (i, ec) in ecs.iter().enumerate() {
        let ip = p.index(i);
        errs.extend(validate_container_common(ec, ctx, &ip));
        errs.extend(validate_container_only_for_pod(ec, &ip));
        let name = st(ec, "name");
        if all.contains(name) {
            errs.push(dup(&ip.child("name"), name));
        } else {
            all.insert(name);
        }
        let target = st(ec, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            errs.push(not_found(&ip.child("targetContainerName"), target));
        }
        for k in [
            "ports",
            "resources",
            "resizePolicy",
            "restartPolicy",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
        ] {
            if is_set(g(ec, k)) {
                errs.push(forb(&ip.child(k), "cannot be set for an Ephemeral Container"));
            }
        }
        for (j, vm) in arr(ec, "volumeMounts").iter().enumerate() {
            for k in ["subPath", "subPathExpr"] {
                if !st(vm, k).is_empty() {
                    errs.push(forb(
                        &ip.child("volumeMounts").index(j).child(k),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
    errs
}

pub(crate) fn validate_container_only_for_pod(c: &Value, p: &P) -> Errs {
    let image = st(c, "image");
    if image.len() != image.trim().len() {
        vec![inv(&p.child("image"), image, "must not have leading or trailing whitespace")]
    } else {
        vec![]
    }
}
