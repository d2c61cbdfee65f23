//! The PodSpec, shared by Pods and every workload template.

use super::*;

pub(crate) const SYSCTL_SEGMENT: &str = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
pub(crate) static SYSCTL_NAME: Lazy<Regex> =
    Lazy::new(|| Regex::new(&format!("^({SYSCTL_SEGMENT}[\\./])*{SYSCTL_SEGMENT}$")).expect("static regex"));

pub(crate) fn sysctl_namespace(name: &str) -> &'static str {
    let n = name.replace('/', ".");
    if n.starts_with("net.") {
        "net"
    } else if n.starts_with("kernel.shm")
        || n.starts_with("kernel.msg")
        || n == "kernel.sem"
        || n.starts_with("fs.mqueue.")
    {
        "ipc"
    } else {
        ""
    }
}

pub(crate) fn validate_pod_security_context(spec: &Value, p: &P) -> Errs {
    let sc = g(spec, "securityContext");
    let mut errs = Vec::new();
    if sc.is_null() {
        return errs;
    }
    if let Some(v) = int(sc, "fsGroup") {
        for m in is_valid_user_id(v) {
            errs.push(inv_raw(&p.child("fsGroup"), v, m));
        }
    }
    for k in ["runAsUser", "runAsGroup"] {
        if let Some(v) = int(sc, k) {
            for m in is_valid_user_id(v) {
                errs.push(inv_raw(&p.child(k), v, m));
            }
        }
    }
    for (i, gid) in arr(sc, "supplementalGroups").iter().enumerate() {
        let v = num(gid).unwrap_or(0);
        for m in is_valid_user_id(v) {
            errs.push(inv_raw(&p.child("supplementalGroups").index(i), v, m));
        }
    }
    if spec.get("shareProcessNamespace").and_then(Value::as_bool) == Some(true) && flag(spec, "hostPID") {
        errs.push(inv_raw(
            &p.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let sysctls = arr(sc, "sysctls");
    if !sysctls.is_empty() {
        let sp = p.child("sysctls");
        let mut names = HashSet::new();
        for (i, s) in sysctls.iter().enumerate() {
            let np = sp.index(i).child("name");
            let name = st(s, "name");
            if name.is_empty() {
                errs.push(req(&np, ""));
            } else if name.len() > 253 || !SYSCTL_NAME.is_match(name) {
                errs.push(inv(
                    &np,
                    name,
                    format!("must have at most 253 characters and match regex {}", SYSCTL_NAME.as_str()),
                ));
            } else if names.contains(name) {
                errs.push(dup(&np, name));
            }
            match sysctl_namespace(name) {
                "net" if flag(spec, "hostNetwork") => {
                    errs.push(inv(&np, name, "may not be specified when 'hostNetwork' is true"))
                }
                "ipc" if flag(spec, "hostIPC") => {
                    errs.push(inv(&np, name, "may not be specified when 'hostIPC' is true"))
                }
                _ => {}
            }
            names.insert(name);
        }
    }
    if let Some(v) = sc.get("fsGroupChangePolicy").and_then(Value::as_str) {
        if v != "Always" && v != "OnRootMismatch" {
            errs.push(unsup(&p.child("fsGroupChangePolicy"), v, &["Always", "OnRootMismatch"]));
        }
    }
    errs.extend(validate_seccomp_profile(g(sc, "seccompProfile"), &p.child("seccompProfile")));
    errs.extend(validate_windows_options(g(sc, "windowsOptions"), &p.child("windowsOptions")));
    errs.extend(validate_apparmor_profile(g(sc, "appArmorProfile"), &p.child("appArmorProfile")));
    if let Some(v) = sc.get("supplementalGroupsPolicy").and_then(Value::as_str) {
        if v != "Merge" && v != "Strict" {
            errs.push(unsup(&p.child("supplementalGroupsPolicy"), v, &["Merge", "Strict"]));
        }
    }
    if let Some(v) = sc.get("seLinuxChangePolicy").and_then(Value::as_str) {
        if v != "MountOption" && v != "Recursive" {
            errs.push(unsup(&p.child("seLinuxChangePolicy"), v, &["MountOption", "Recursive"]));
        }
    }
    errs
}

pub(crate) fn validate_dns_config(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let cfg = g(spec, "dnsConfig");
    if st(spec, "dnsPolicy") == "None" {
        if cfg.is_null() {
            return vec![req(p, "must provide `dnsConfig` when `dnsPolicy` is None")];
        }
        if arr(cfg, "nameservers").is_empty() {
            return vec![req(
                &p.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    if cfg.is_null() {
        return errs;
    }
    let ns = slist(cfg, "nameservers");
    if ns.len() > 3 {
        errs.push(inv_raw(&p.child("nameservers"), go_strs(&ns), "must not have more than 3 nameservers"));
    }
    for (i, n) in ns.iter().enumerate() {
        errs.extend(is_valid_ip(&p.child("nameservers").index(i), n));
    }
    let searches = slist(cfg, "searches");
    if searches.len() > 32 {
        errs.push(inv_raw(&p.child("searches"), go_strs(&searches), "must not have more than 32 search paths"));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(inv_raw(
            &p.child("searches"),
            go_strs(&searches),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if *s != "." {
            let t = s.strip_suffix('.').unwrap_or(s);
            for m in is_dns1123_subdomain_with_underscore(t) {
                errs.push(inv(&p.child("searches").index(i), t, m));
            }
        }
    }
    for (i, o) in arr(cfg, "options").iter().enumerate() {
        if st(o, "name").is_empty() {
            errs.push(req(&p.child("options").index(i), "must not be empty"));
        }
    }
    errs
}

pub(crate) fn validate_pod_os(spec: &Value, p: &P) -> Errs {
    let os = g(spec, "os");
    let op = p.child("os");
    let name = st(os, "name");
    if name.is_empty() {
        return vec![req(&op.child("name"), "cannot be empty")];
    }
    if name != "linux" && name != "windows" {
        return vec![unsup(&op, name, &["linux", "windows"])];
    }
    let mut errs = Vec::new();
    let all: Vec<(P, &Value)> = visit_containers(spec, p);
    let sc = g(spec, "securityContext");
    if name == "linux" {
        if has(sc, "windowsOptions") {
            errs.push(forb(
                &p.child("securityContext").child("windowsOptions"),
                "windows options cannot be set for a linux pod",
            ));
        }
        for (cp, c) in &all {
            if has(g(c, "securityContext"), "windowsOptions") {
                errs.push(forb(
                    &cp.child("securityContext").child("windowsOptions"),
                    "windows options cannot be set for a linux pod",
                ));
            }
        }
        return errs;
    }
    const W: &str = "cannot be set for a windows pod";
    let psp = p.child("securityContext");
    if !sc.is_null() {
        for k in ["appArmorProfile", "seLinuxOptions"] {
            if has(sc, k) {
                errs.push(forb(&psp.child(k), W));
            }
        }
    }
    if has(spec, "hostUsers") {
        errs.push(forb(&p.child("hostUsers"), W));
    }
    if flag(spec, "hostPID") {
        errs.push(forb(&p.child("hostPID"), W));
    }
    if flag(spec, "hostIPC") {
        errs.push(forb(&p.child("hostIPC"), W));
    }
    if !sc.is_null() {
        for k in ["seccompProfile", "fsGroup", "fsGroupChangePolicy"] {
            if has(sc, k) {
                errs.push(forb(&psp.child(k), W));
            }
        }
        if !arr(sc, "sysctls").is_empty() {
            errs.push(forb(&psp.child("sysctls"), W));
        }
    }
    if has(spec, "shareProcessNamespace") {
        errs.push(forb(&p.child("shareProcessNamespace"), W));
    }
    if !sc.is_null() {
        for k in ["runAsUser", "runAsGroup", "supplementalGroups", "supplementalGroupsPolicy", "seLinuxChangePolicy"] {
            if has(sc, k) {
                errs.push(forb(&psp.child(k), W));
            }
        }
    }
    for (cp, c) in &all {
        let csc = g(c, "securityContext");
        if csc.is_null() {
            continue;
        }
        let sp = cp.child("securityContext");
        for k in [
            "appArmorProfile",
            "seLinuxOptions",
            "seccompProfile",
            "capabilities",
            "readOnlyRootFilesystem",
            "privileged",
            "allowPrivilegeEscalation",
            "procMount",
            "runAsUser",
            "runAsGroup",
        ] {
            if has(csc, k) {
                errs.push(forb(&sp.child(k), W));
            }
        }
    }
    errs
}

/// `podshelper.VisitContainersWithPath`: init, regular, then ephemeral containers.
pub(crate) fn visit_containers<'a>(spec: &'a Value, p: &P) -> Vec<(P, &'a Value)> {
    let mut out = Vec::new();
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in arr(spec, key).iter().enumerate() {
            out.push((p.child(key).index(i), c));
        }
    }
    out
}

pub(crate) fn validate_windows_host_process(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let pod_hp = g(g(g(spec, "securityContext"), "windowsOptions"), "hostProcess").as_bool();
    let mut count = 0;
    let mut hp_count = 0;
    for (cp, c) in visit_containers(spec, p) {
        count += 1;
        let chp = g(g(g(c, "securityContext"), "windowsOptions"), "hostProcess").as_bool();
        if let (Some(ph), Some(ch)) = (pod_hp, chp) {
            if ph != ch {
                errs.push(inv_raw(
                    &cp.child("securityContext").child("windowsOptions").child("hostProcess"),
                    ch,
                    format!("pod hostProcess value must be identical if both are specified, was {ph}"),
                ));
            }
        }
        if chp == Some(true) || (chp.is_none() && pod_hp == Some(true)) {
            hp_count += 1;
        }
    }
    if hp_count > 0 {
        if hp_count != count {
            errs.push(inv(
                p,
                "",
                "If pod contains any hostProcess containers then all containers must be HostProcess containers",
            ));
        }
        if !flag(spec, "hostNetwork") {
            errs.push(inv_raw(
                &p.child("hostNetwork"),
                false,
                "hostNetwork must be true if pod contains any hostProcess containers",
            ));
        }
    }
    errs
}

/// upstream `ValidatePodSpec`. `pod_name` is set for real pods (generic ephemeral volume
/// naming); `is_pod` is upstream's `opts.ResourceIsPod`.
pub(crate) fn validate_pod_spec_opts(spec: &Value, pod_name: Option<&str>, p: &P, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    let grace = int(spec, "terminationGracePeriodSeconds");
    if grace.is_none() {
        errs.push(req(&p.child("terminationGracePeriodSeconds"), ""));
    }
    let host_users = spec.get("hostUsers").and_then(Value::as_bool).unwrap_or(true);
    let (vols, verrs) = validate_volumes(arr(spec, "volumes"), pod_name, &p.child("volumes"), is_pod);
    errs.extend(verrs);
    // Pod resource claims.
    let mut claim_names: HashSet<String> = HashSet::new();
    for c in arr(spec, "resourceClaims") {
        let n = st(c, "name");
        if !n.is_empty() {
            claim_names.insert(n.to_string());
        }
    }
    let mut seen_claims: HashSet<&str> = HashSet::new();
    for (i, c) in arr(spec, "resourceClaims").iter().enumerate() {
        let cp = p.child("resourceClaims").index(i);
        let n = st(c, "name");
        if n.is_empty() {
            errs.push(req(&cp.child("name"), ""));
        } else if !seen_claims.insert(n) {
            errs.push(dup(&cp.child("name"), n));
        } else {
            errs.extend(dns_label_errs(n, &cp.child("name")));
        }
        let (a, b) = (
            c.get("resourceClaimName").and_then(Value::as_str),
            c.get("resourceClaimTemplateName").and_then(Value::as_str),
        );
        if a.is_some() && b.is_some() {
            errs.push(inv_raw(
                &cp,
                go_struct("core.PodResourceClaim", c),
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            ));
        }
        if a.is_none() && b.is_none() {
            errs.push(inv_raw(
                &cp,
                go_struct("core.PodResourceClaim", c),
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            ));
        }
        for (k, v) in [("resourceClaimName", a), ("resourceClaimTemplateName", b)] {
            if let Some(v) = v {
                errs.extend(dns_subdomain_errs(v, &cp.child(k)));
            }
        }
    }
    let ctx = PodCtx { vols, claim_names, grace, restart_policy: st(spec, "restartPolicy").to_string(), host_users };
    let containers = arr(spec, "containers");
    let inits = arr(spec, "initContainers");
    errs.extend(validate_containers(containers, &ctx, &p.child("containers")));
    errs.extend(validate_init_containers(inits, containers, &ctx, &p.child("initContainers")));
    errs.extend(validate_ephemeral_containers(
        arr(spec, "ephemeralContainers"),
        containers,
        inits,
        &ctx,
        &p.child("ephemeralContainers"),
    ));
    // validatePodHostNetworkDeps
    if flag(spec, "hostNetwork") {
        for (i, c) in containers.iter().enumerate() {
            for (j, port) in arr(c, "ports").iter().enumerate() {
                let (hp, cp) = (int0(port, "hostPort"), int0(port, "containerPort"));
                if (is_pod || hp != 0) && hp != cp {
                    errs.push(inv_raw(
                        &p.child("containers").index(i).child("ports").index(j).child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match st(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(req(&p.child("restartPolicy"), "")),
        other => errs.push(unsup(&p.child("restartPolicy"), other, &["Always", "OnFailure", "Never"])),
    }
    match st(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(req(&p.child("dnsPolicy"), "")),
        other => errs.push(unsup(
            &p.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_label_map(g(spec, "nodeSelector"), &p.child("nodeSelector")));
    errs.extend(validate_pod_security_context(spec, &p.child("securityContext")));
    errs.extend(validate_affinity(g(spec, "affinity"), &p.child("affinity")));
    errs.extend(validate_dns_config(spec, &p.child("dnsConfig")));
    for (i, rg) in arr(spec, "readinessGates").iter().enumerate() {
        errs.extend(qualified_name_errs(
            st(rg, "conditionType"),
            &p.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = HashSet::new();
    for (i, sg) in arr(spec, "schedulingGates").iter().enumerate() {
        let gp = p.child("schedulingGates").index(i);
        let n = st(sg, "name");
        errs.extend(qualified_name_errs(n, &gp));
        if !gates.insert(n) {
            errs.push(dup(&gp, n));
        }
    }
    errs.extend(validate_topology_spread_constraints(
        arr(spec, "topologySpreadConstraints"),
        &p.child("topologySpreadConstraints"),
    ));
    errs.extend(validate_windows_host_process(spec, p));
    if !host_users {
        for (k, name) in [("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")] {
            if flag(spec, k) {
                errs.push(forb(&p.child(name), "when `pod.Spec.HostUsers` is false"));
            }
        }
    }
    for (k, f) in
        [("serviceAccountName", is_dns1123_subdomain as fn(&str) -> Vec<String>), ("nodeName", is_dns1123_subdomain)]
    {
        let v = st(spec, k);
        if !v.is_empty() {
            for m in f(v) {
                errs.push(inv(&p.child(k), v, m));
            }
        }
    }
    if let Some(ads) = int(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            errs.push(inv_raw(&p.child("activeDeadlineSeconds"), ads, inclusive_range(1, i64::from(i32::MAX))));
        }
    }
    for k in ["hostname", "subdomain"] {
        let v = st(spec, k);
        if !v.is_empty() {
            errs.extend(dns_label_errs(v, &p.child(k)));
        }
    }
    let tols = arr(spec, "tolerations");
    if !tols.is_empty() {
        errs.extend(validate_tolerations(tols, &p.child("tolerations")));
    }
    for (i, ha) in arr(spec, "hostAliases").iter().enumerate() {
        let hp = p.child("hostAliases").index(i);
        errs.extend(is_valid_ip(&hp.child("ip"), st(ha, "ip")));
        for (j, h) in slist(ha, "hostnames").iter().enumerate() {
            errs.extend(dns_subdomain_errs(h, &hp.child("hostnames").index(j)));
        }
    }
    let pcn = st(spec, "priorityClassName");
    if !pcn.is_empty() {
        errs.extend(dns_subdomain_errs(pcn, &p.child("priorityClassName")));
    }
    if let Some(rc) = spec.get("runtimeClassName").and_then(Value::as_str) {
        errs.extend(dns_subdomain_errs(rc, &p.child("runtimeClassName")));
    }
    if let Some(pp) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        errs.extend(validate_preemption_policy(pp, &p.child("preemptionPolicy")));
    }
    if let Some(o) = spec.get("overhead").filter(|o| !o.is_null()) {
        let wrapped = serde_json::json!({ "limits": o });
        errs.extend(validate_resource_requirements(&wrapped, None, &p.child("overhead")));
    }
    if has(spec, "os") {
        errs.extend(validate_pod_os(spec, p));
    }
    errs
}

pub(crate) fn validate_preemption_policy(pp: &str, p: &P) -> Errs {
    match pp {
        "PreemptLowerPriority" | "Never" => vec![],
        "" => vec![req(p, "")],
        other => vec![unsup(p, other, &["PreemptLowerPriority", "Never"])],
    }
}

/// Validates a PodSpec embedded in a template (upstream `ValidatePodSpec` with no pod metadata).
pub fn validate_pod_spec(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    validate_pod_spec_opts(spec, None, path, false)
}

pub(crate) const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
pub(crate) const MIRROR_POD: &str = "kubernetes.io/config.mirror";
pub(crate) const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

pub(crate) fn valid_deletion_cost(v: &str) -> bool {
    let first_ok = match v.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => v == "0",
        Some(b'1'..=b'9') => true,
        _ => false,
    };
    first_ok && v.parse::<i32>().is_ok()
}

pub(crate) fn validate_seccomp_annotation_value(v: &str, p: &P) -> Errs {
    if v == "runtime/default" || v == "docker/default" || v == "unconfined" {
        return vec![];
    }
    if let Some(rest) = v.strip_prefix("localhost/") {
        return validate_local_descending_path(rest, p);
    }
    vec![inv(p, v, "must be a valid seccomp profile")]
}

/// `ValidatePodSpecificAnnotations`.
pub(crate) fn validate_pod_specific_annotations(meta: &Value, spec: &Value, p: &P, allow_invalid_cost: bool) -> Errs {
    let mut errs = Vec::new();
    let ann = smap(meta, "annotations");
    for (k, v) in &ann {
        if *k == MIRROR_POD && st(spec, "nodeName").is_empty() {
            errs.push(inv(&p.key(k), v, "must set spec.nodeName if mirror pod annotation is set"));
        }
    }
    if !allow_invalid_cost {
        if let Some((_, v)) = ann.iter().find(|(k, _)| *k == DELETION_COST) {
            if !valid_deletion_cost(v) {
                errs.push(inv(&p.key(DELETION_COST), v, "must be a 32bit integer"));
            }
        }
    }
    for (k, v) in &ann {
        if *k == "seccomp.security.alpha.kubernetes.io/pod"
            || k.starts_with("container.seccomp.security.alpha.kubernetes.io/")
        {
            errs.extend(validate_seccomp_annotation_value(v, &p.child(k)));
        }
    }
    let names: HashSet<&str> =
        visit_containers(spec, &P::new("spec")).into_iter().map(|(_, c)| st(c, "name")).collect();
    for (k, v) in &ann {
        let Some(cname) = k.strip_prefix(APPARMOR_PREFIX) else {
            continue;
        };
        if !names.contains(cname) {
            errs.push(inv(&p.key(k), cname, "container not found"));
        }
        if !(v.is_empty() || *v == "runtime/default" || *v == "unconfined" || v.starts_with("localhost/")) {
            errs.push(inv(&p.key(k), v, format!("invalid AppArmor profile name: {}", go_quote(v))));
        }
    }
    errs
}

/// `ValidatePodTemplateSpec` (labels, annotations, pod spec, no ephemeral containers).
pub(crate) fn validate_pod_template_spec(t: &Value, p: &P) -> Errs {
    let meta = g(t, "metadata");
    let spec = g(t, "spec");
    let mut errs = validate_label_map(g(meta, "labels"), &p.child("labels"));
    errs.extend(validate_annotations(g(meta, "annotations"), &p.child("annotations")));
    errs.extend(validate_pod_specific_annotations(meta, spec, &p.child("annotations"), false));
    errs.extend(validate_pod_spec_opts(spec, None, &p.child("spec"), false));
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(forb(
            &p.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}
