//! Name and syntax checks, as `k8s.io/apimachinery/pkg/util/validation`.

use super::*;

pub(crate) fn anchored(fmt: &str) -> Regex {
    Regex::new(&format!("^(?:{fmt})$")).expect("static regex")
}

pub(crate) fn dns_label_errs(v: &str, p: &P) -> Errs {
    is_dns1123_label(v).into_iter().map(|m| inv(p, v, m)).collect()
}

pub(crate) fn dns_subdomain_errs(v: &str, p: &P) -> Errs {
    is_dns1123_subdomain(v).into_iter().map(|m| inv(p, v, m)).collect()
}

pub(crate) fn qualified_name_errs(v: &str, p: &P) -> Errs {
    is_qualified_name(v).into_iter().map(|m| inv(p, v, m)).collect()
}

pub(crate) fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        vec![]
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

pub(crate) static PORT_NAME_CHARSET: Lazy<Regex> = Lazy::new(|| anchored("[-a-z0-9]+"));

pub(crate) fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if !PORT_NAME_CHARSET.is_match(port) {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

pub(crate) fn is_relaxed_env_var_name(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if v.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .to_string(),
        );
    }
    errs
}

pub(crate) fn has_chdir_prefix(v: &str) -> Vec<String> {
    if v == "." {
        vec!["must not be '.'".into()]
    } else if v == ".." {
        vec!["must not be '..'".into()]
    } else if v.starts_with("..") {
        vec!["must not start with '..'".into()]
    } else {
        vec![]
    }
}

pub(crate) const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
pub(crate) static CONFIG_MAP_KEY: Lazy<Regex> = Lazy::new(|| anchored(CONFIG_MAP_KEY_FMT));

pub(crate) fn is_config_map_key(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !CONFIG_MAP_KEY.is_match(v) {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(has_chdir_prefix(v));
    errs
}

pub(crate) static HTTP_HEADER_NAME: Lazy<Regex> = Lazy::new(|| anchored("[-A-Za-z0-9]+"));

pub(crate) fn is_http_header_name(v: &str) -> Vec<String> {
    if HTTP_HEADER_NAME.is_match(v) {
        vec![]
    } else {
        vec![regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            "[-A-Za-z0-9]+",
            &["X-Header-Name"],
        )]
    }
}

pub(crate) static PERCENT: Lazy<Regex> = Lazy::new(|| anchored("[0-9]+%"));

pub(crate) fn is_valid_percent(v: &str) -> Vec<String> {
    if PERCENT.is_match(v) {
        vec![]
    } else {
        vec![regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            &["1%", "93%"],
        )]
    }
}

pub(crate) const DNS1123_SUB_UNDERSCORE_FMT: &str =
    "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*";
pub(crate) static DNS1123_SUB_UNDERSCORE: Lazy<Regex> = Lazy::new(|| anchored(DNS1123_SUB_UNDERSCORE_FMT));

pub(crate) fn is_dns1123_subdomain_with_underscore(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !DNS1123_SUB_UNDERSCORE.is_match(v) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUB_UNDERSCORE_FMT,
            &["example.com"],
        ));
    }
    errs
}

pub(crate) fn is_valid_user_id(v: i64) -> Vec<String> {
    if (0..=0xffff_ffff).contains(&v) {
        vec![]
    } else {
        vec![inclusive_range(0, 0xffff_ffff)]
    }
}

/// Go's `netutils.ParseIPSloppy`: like `net.ParseIP` but IPv4 octets may have leading zeros.
pub(crate) fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 4 {
        let mut oct = [0u8; 4];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            oct[i] = p.parse::<u16>().ok().filter(|n| *n <= 255)? as u8;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(oct)));
    }
    None
}

/// Collapses IPv4-mapped IPv6 addresses to IPv4, as Go's `To4()` does.
pub(crate) fn as_v4(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

pub(crate) fn is_ipv6_string(s: &str) -> bool {
    matches!(parse_ip_sloppy(s).map(as_v4), Some(IpAddr::V6(_)))
}

pub(crate) fn is_valid_ip(p: &P, s: &str) -> Errs {
    if parse_ip_sloppy(s).is_none() {
        vec![inv(p, s, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    } else {
        vec![]
    }
}

pub(crate) fn is_valid_ipv4(p: &P, s: &str) -> Errs {
    match parse_ip_sloppy(s).map(as_v4) {
        Some(IpAddr::V4(_)) => vec![],
        _ => vec![inv(p, s, "must be a valid IPv4 address")],
    }
}

pub(crate) fn is_valid_ipv6(p: &P, s: &str) -> Errs {
    match parse_ip_sloppy(s).map(as_v4) {
        Some(IpAddr::V6(_)) => vec![],
        _ => vec![inv(p, s, "must be a valid IPv6 address")],
    }
}

/// Go's `netutils.ParseCIDRSloppy`.
pub(crate) fn parse_cidr_sloppy(s: &str) -> Option<(IpAddr, u32)> {
    let (ip, bits) = s.split_once('/')?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    let addr = parse_ip_sloppy(ip)?;
    // Go parses the address part as written: "::ffff:1.2.3.4/n" is an IPv6 CIDR.
    let max = if ip.contains(':') { 128 } else { 32 };
    if bits > max {
        return None;
    }
    Some((addr, bits))
}

pub(crate) fn is_valid_cidr(p: &P, s: &str) -> Errs {
    if parse_cidr_sloppy(s).is_none() {
        vec![inv(p, s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    } else {
        vec![]
    }
}

/// upstream `ValidateNonSpecialIP`.
pub(crate) fn validate_non_special_ip(s: &str, p: &P) -> Errs {
    let Some(ip) = parse_ip_sloppy(s).map(as_v4) else {
        return vec![inv(p, s, "must be a valid IP address")];
    };
    let mut errs = Vec::new();
    let (unspec, loopback, ll_uni, ll_multi) = match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            (v.is_unspecified(), o[0] == 127, o[0] == 169 && o[1] == 254, o[0] == 224 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v) => {
            let seg = v.segments();
            (v == Ipv6Addr::UNSPECIFIED, v == Ipv6Addr::LOCALHOST, seg[0] & 0xffc0 == 0xfe80, seg[0] & 0xff0f == 0xff02)
        }
    };
    if unspec {
        errs.push(inv(p, s, format!("may not be unspecified ({s})")));
    }
    if loopback {
        errs.push(inv(p, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
    }
    if ll_uni {
        errs.push(inv(p, s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
    }
    if ll_multi {
        errs.push(inv(p, s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
    }
    errs
}

/// `netutils.IsDualStackIPStrings` (all valid, at least one of each family).
pub(crate) fn is_dual_stack(ips: &[&str]) -> bool {
    let mut v4 = false;
    let mut v6 = false;
    for s in ips {
        match parse_ip_sloppy(s).map(as_v4) {
            Some(IpAddr::V4(_)) => v4 = true,
            Some(IpAddr::V6(_)) => v6 = true,
            None => return false,
        }
    }
    v4 && v6
}

pub(crate) fn is_dual_stack_cidrs(cidrs: &[&str]) -> bool {
    let mut v4 = false;
    let mut v6 = false;
    for s in cidrs {
        match parse_cidr_sloppy(s) {
            Some((_, _)) if s.split('/').next().is_some_and(|ip| ip.contains(':')) => v6 = true,
            Some(_) => v4 = true,
            None => return false,
        }
    }
    v4 && v6
}

/// `validatePathNoBacksteps`.
pub(crate) fn validate_path_no_backsteps(target: &str, p: &P) -> Errs {
    if target.split('/').any(|s| s == "..") {
        vec![inv(p, target, "must not contain '..'")]
    } else {
        vec![]
    }
}

/// `validateLocalDescendingPath`.
pub(crate) fn validate_local_descending_path(target: &str, p: &P) -> Errs {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(inv(p, target, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, p));
    errs
}

/// `ValidateLocalNonReservedPath`.
pub(crate) fn validate_local_non_reserved_path(target: &str, p: &P) -> Errs {
    let mut errs = validate_local_descending_path(target, p);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(inv(p, target, "must not start with '..'"));
    }
    errs
}

pub(crate) fn is_zero_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// `apiequality.Semantic.DeepEqual` over the JSON form: absent fields equal their Go zero value,
/// and nil/empty collections are equal.
pub(crate) fn sem_eq(a: &Value, b: &Value) -> bool {
    if is_zero_value(a) && is_zero_value(b) {
        return true;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.iter().all(|(k, v)| sem_eq(v, y.get(k).unwrap_or(&NULL)))
                && y.iter().all(|(k, v)| x.contains_key(k) || is_zero_value(v))
        }
        (Value::Object(x), other) | (other, Value::Object(x)) if is_zero_value(other) => x.values().all(is_zero_value),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| sem_eq(a, b)),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}
