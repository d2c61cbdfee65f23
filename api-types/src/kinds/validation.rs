//! Kind-specific validation (everything but ObjectMeta), as upstream's `Validate<Kind>` and
//! `Validate<Kind>Update` functions do it (v1.33), with upstream's field paths, error types and
//! detail messages.
//!
//! Objects arrive in their v1 JSON shape, already defaulted. Where upstream validates the
//! internal type, paths follow the internal field names exactly as upstream prints them (quirks
//! included, e.g. `metadata.taints` for node taints). Values that upstream renders with Go's
//! `%#v` (maps, selectors, small structs) are rendered the same way where practical.
//!
//! Nothing here panics on malformed input: every field is read defensively.

use crate::field::{ErrorType, FieldError, FieldPath};
use crate::meta::{
    is_dns1123_label, is_dns1123_subdomain, is_path_segment_name, is_qualified_name, is_valid_label_value,
    max_len_error, regex_error, validate_annotations,
};
use crate::registry::ResourceDef;
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

type Errs = Vec<FieldError>;
type P = FieldPath;

static NULL: Value = Value::Null;

// ---------------------------------------------------------------------------------------------
// JSON access helpers (never panic, missing or mistyped fields read as Go zero values)
// ---------------------------------------------------------------------------------------------

fn g<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&NULL)
}

fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn has(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

fn num(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(num)
}

fn int0(v: &Value, k: &str) -> i64 {
    int(v, k).unwrap_or(0)
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

/// Entries of a `map[string]string`-like field (non-string values read as "").
fn smap<'a>(v: &'a Value, k: &str) -> Vec<(&'a str, &'a str)> {
    match v.get(k).and_then(Value::as_object) {
        Some(m) => m.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))).collect(),
        None => Vec::new(),
    }
}

fn slist<'a>(v: &'a Value, k: &str) -> Vec<&'a str> {
    arr(v, k).iter().map(|x| x.as_str().unwrap_or("")).collect()
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    smap(v, "labels").into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ---------------------------------------------------------------------------------------------
// Go-style value rendering (what `%q`, `%v` and `%#v` print in field.Error)
// ---------------------------------------------------------------------------------------------

use crate::go::quote as go_quote;

/// `%#v` of a `map[string]string` (keys sorted, as Go's fmt does).
fn go_str_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let sorted: BTreeMap<&str, &str> = m.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))).collect();
            let body: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v))).collect();
            format!("map[string]string{{{}}}", body.join(", "))
        }
    }
}

/// `%#v` of a `[]string`.
fn go_str_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(a) => {
            let body: Vec<String> = a.iter().map(|x| go_quote(x.as_str().unwrap_or(""))).collect();
            format!("[]string{{{}}}", body.join(", "))
        }
    }
}

fn go_strs(items: &[&str]) -> String {
    let body: Vec<String> = items.iter().map(|x| go_quote(x)).collect();
    format!("[]string{{{}}}", body.join(", "))
}

/// `%#v` of a dereferenced `*metav1.LabelSelector`.
fn go_selector(v: &Value) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    let exprs = match v.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => {
            let body: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(st(e, "key")),
                        go_quote(st(e, "operator")),
                        go_str_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", body.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}", go_str_map(v.get("matchLabels")), exprs)
}

/// A compact rendering for struct values upstream prints with `%#v` (best effort).
fn go_struct(type_name: &str, v: &Value) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    format!("{}{}", type_name, serde_json::to_string(v).unwrap_or_default())
}

/// `%v` of an IntOrString (it implements Stringer).
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => num(other).unwrap_or(0).to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Error constructors with Go quoting
// ---------------------------------------------------------------------------------------------

fn mk(kind: ErrorType, p: &P, bad: Option<String>, detail: impl Into<String>) -> FieldError {
    FieldError { kind, field: p.to_string(), bad_value: bad, detail: detail.into() }
}

fn inv(p: &P, v: &str, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Invalid, p, Some(go_quote(v)), d)
}

fn inv_raw(p: &P, v: impl std::fmt::Display, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Invalid, p, Some(v.to_string()), d)
}

fn req(p: &P, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Required, p, None, d)
}

fn forb(p: &P, d: impl Into<String>) -> FieldError {
    mk(ErrorType::Forbidden, p, None, d)
}

fn supported(valid: &[&str]) -> String {
    if valid.is_empty() {
        String::new()
    } else {
        format!("supported values: {}", valid.iter().map(|v| go_quote(v)).collect::<Vec<_>>().join(", "))
    }
}

fn unsup(p: &P, v: &str, valid: &[&str]) -> FieldError {
    mk(ErrorType::NotSupported, p, Some(go_quote(v)), supported(valid))
}

fn unsup_raw(p: &P, v: impl std::fmt::Display, valid: &[&str]) -> FieldError {
    mk(ErrorType::NotSupported, p, Some(v.to_string()), supported(valid))
}

fn dup(p: &P, v: &str) -> FieldError {
    mk(ErrorType::Duplicate, p, Some(go_quote(v)), "")
}

fn dup_raw(p: &P, v: impl std::fmt::Display) -> FieldError {
    mk(ErrorType::Duplicate, p, Some(v.to_string()), "")
}

fn not_found(p: &P, v: &str) -> FieldError {
    mk(ErrorType::NotFound, p, Some(go_quote(v)), "")
}

fn too_many(p: &P, actual: usize, max: usize) -> FieldError {
    mk(ErrorType::TooMany, p, Some(actual.to_string()), format!("must have at most {max} items"))
}

fn too_long(p: &P, max: usize) -> FieldError {
    mk(ErrorType::TooLong, p, None, format!("may not be more than {max} bytes"))
}

const IMMUTABLE: &str = "field is immutable";
const NEGATIVE: &str = "must be greater than or equal to 0";

fn nonneg(v: i64, p: &P) -> Errs {
    if v < 0 {
        vec![inv_raw(p, v, NEGATIVE)]
    } else {
        vec![]
    }
}

fn inclusive_range(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn path(root: &str) -> P {
    let mut parts = root.split('.');
    let mut p = P::new(parts.next().unwrap_or(""));
    for s in parts {
        p = p.child(s);
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Name and syntax checks (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

fn anchored(fmt: &str) -> Regex {
    Regex::new(&format!("^(?:{fmt})$")).expect("static regex")
}

fn dns_label_errs(v: &str, p: &P) -> Errs {
    is_dns1123_label(v).into_iter().map(|m| inv(p, v, m)).collect()
}

fn dns_subdomain_errs(v: &str, p: &P) -> Errs {
    is_dns1123_subdomain(v).into_iter().map(|m| inv(p, v, m)).collect()
}

fn qualified_name_errs(v: &str, p: &P) -> Errs {
    is_qualified_name(v).into_iter().map(|m| inv(p, v, m)).collect()
}

fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        vec![]
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

static PORT_NAME_CHARSET: Lazy<Regex> = Lazy::new(|| anchored("[-a-z0-9]+"));

fn is_valid_port_name(port: &str) -> Vec<String> {
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

fn is_relaxed_env_var_name(v: &str) -> Vec<String> {
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

fn has_chdir_prefix(v: &str) -> Vec<String> {
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

const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
static CONFIG_MAP_KEY: Lazy<Regex> = Lazy::new(|| anchored(CONFIG_MAP_KEY_FMT));

fn is_config_map_key(v: &str) -> Vec<String> {
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

static HTTP_HEADER_NAME: Lazy<Regex> = Lazy::new(|| anchored("[-A-Za-z0-9]+"));

fn is_http_header_name(v: &str) -> Vec<String> {
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

static PERCENT: Lazy<Regex> = Lazy::new(|| anchored("[0-9]+%"));

fn is_valid_percent(v: &str) -> Vec<String> {
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

const DNS1123_SUB_UNDERSCORE_FMT: &str = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*";
static DNS1123_SUB_UNDERSCORE: Lazy<Regex> = Lazy::new(|| anchored(DNS1123_SUB_UNDERSCORE_FMT));

fn is_dns1123_subdomain_with_underscore(v: &str) -> Vec<String> {
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

fn is_valid_user_id(v: i64) -> Vec<String> {
    if (0..=0xffff_ffff).contains(&v) {
        vec![]
    } else {
        vec![inclusive_range(0, 0xffff_ffff)]
    }
}

/// Go's `netutils.ParseIPSloppy`: like `net.ParseIP` but IPv4 octets may have leading zeros.
fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
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
fn as_v4(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn is_ipv6_string(s: &str) -> bool {
    matches!(parse_ip_sloppy(s).map(as_v4), Some(IpAddr::V6(_)))
}

fn is_valid_ip(p: &P, s: &str) -> Errs {
    if parse_ip_sloppy(s).is_none() {
        vec![inv(p, s, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    } else {
        vec![]
    }
}

fn is_valid_ipv4(p: &P, s: &str) -> Errs {
    match parse_ip_sloppy(s).map(as_v4) {
        Some(IpAddr::V4(_)) => vec![],
        _ => vec![inv(p, s, "must be a valid IPv4 address")],
    }
}

fn is_valid_ipv6(p: &P, s: &str) -> Errs {
    match parse_ip_sloppy(s).map(as_v4) {
        Some(IpAddr::V6(_)) => vec![],
        _ => vec![inv(p, s, "must be a valid IPv6 address")],
    }
}

/// Go's `netutils.ParseCIDRSloppy`.
fn parse_cidr_sloppy(s: &str) -> Option<(IpAddr, u32)> {
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

fn is_valid_cidr(p: &P, s: &str) -> Errs {
    if parse_cidr_sloppy(s).is_none() {
        vec![inv(p, s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    } else {
        vec![]
    }
}

/// upstream `ValidateNonSpecialIP`.
fn validate_non_special_ip(s: &str, p: &P) -> Errs {
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
fn is_dual_stack(ips: &[&str]) -> bool {
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

fn is_dual_stack_cidrs(cidrs: &[&str]) -> bool {
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
fn validate_path_no_backsteps(target: &str, p: &P) -> Errs {
    if target.split('/').any(|s| s == "..") {
        vec![inv(p, target, "must not contain '..'")]
    } else {
        vec![]
    }
}

/// `validateLocalDescendingPath`.
fn validate_local_descending_path(target: &str, p: &P) -> Errs {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(inv(p, target, "must be a relative path"));
    }
    errs.extend(validate_path_no_backsteps(target, p));
    errs
}

/// `ValidateLocalNonReservedPath`.
fn validate_local_non_reserved_path(target: &str, p: &P) -> Errs {
    let mut errs = validate_local_descending_path(target, p);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(inv(p, target, "must not start with '..'"));
    }
    errs
}

fn is_zero_value(v: &Value) -> bool {
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
fn sem_eq(a: &Value, b: &Value) -> bool {
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

// ---------------------------------------------------------------------------------------------
// resource.Quantity: exact parsing, comparison and canonical rendering
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QFormat {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A `resource.Quantity`: value = m * 10^s. Public for admission (LimitRanger, ResourceQuota).
/// Ordered and compared by value (`1` == `1000m`), as `Quantity.Cmp`.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    m: i128,
    s: i32,
    fmt: QFormat,
}

impl PartialEq for Quantity {
    fn eq(&self, o: &Self) -> bool {
        self.compare(o) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Quantity {
    fn cmp(&self, o: &Self) -> Ordering {
        self.compare(o)
    }
}

const QUANTITY_FORMAT_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Quantity {
    /// `resource.ParseQuantity`.
    pub fn parse(input: &str) -> Option<Quantity> {
        let s = input;
        if s.is_empty() {
            return None;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if bytes[0] == b'+' || bytes[0] == b'-' {
            neg = bytes[0] == b'-';
            i = 1;
        }
        let num_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let number = &s[num_start..i];
        let suffix = &s[i..];
        if number.is_empty() || number.matches('.').count() > 1 || number == "." {
            return None;
        }
        let (int_part, frac_part) = match number.split_once('.') {
            Some((a, b)) => (a, b),
            None => (number, ""),
        };
        let mut m: i128 = 0;
        let mut sc: i32 = 0;
        for c in int_part.bytes() {
            let d = i128::from(c - b'0');
            match m.checked_mul(10).and_then(|x| x.checked_add(d)) {
                Some(x) => m = x,
                None => sc = sc.saturating_add(1),
            }
        }
        for c in frac_part.bytes() {
            let d = i128::from(c - b'0');
            if let Some(x) = m.checked_mul(10).and_then(|x| x.checked_add(d)) {
                m = x;
                sc = sc.saturating_sub(1);
            }
        }
        let (fmt, base2, exp10): (QFormat, u32, i32) = match suffix {
            "" => (QFormat::DecimalSI, 0, 0),
            "n" => (QFormat::DecimalSI, 0, -9),
            "u" => (QFormat::DecimalSI, 0, -6),
            "m" => (QFormat::DecimalSI, 0, -3),
            "k" => (QFormat::DecimalSI, 0, 3),
            "M" => (QFormat::DecimalSI, 0, 6),
            "G" => (QFormat::DecimalSI, 0, 9),
            "T" => (QFormat::DecimalSI, 0, 12),
            "P" => (QFormat::DecimalSI, 0, 15),
            "E" => (QFormat::DecimalSI, 0, 18),
            "Ki" => (QFormat::BinarySI, 10, 0),
            "Mi" => (QFormat::BinarySI, 20, 0),
            "Gi" => (QFormat::BinarySI, 30, 0),
            "Ti" => (QFormat::BinarySI, 40, 0),
            "Pi" => (QFormat::BinarySI, 50, 0),
            "Ei" => (QFormat::BinarySI, 60, 0),
            other => {
                let rest = other.strip_prefix('e').or_else(|| other.strip_prefix('E'))?;
                let digits = rest.strip_prefix('+').or_else(|| rest.strip_prefix('-')).unwrap_or(rest);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let e: i32 = rest.parse().ok()?;
                (QFormat::DecimalExponent, 0, e)
            }
        };
        sc = sc.saturating_add(exp10);
        if base2 > 0 {
            let factor = 1i128 << base2;
            loop {
                match m.checked_mul(factor) {
                    Some(x) => {
                        m = x;
                        break;
                    }
                    None => {
                        m /= 10;
                        sc = sc.saturating_add(1);
                    }
                }
            }
        }
        if neg {
            m = -m;
        }
        let mut q = Quantity { m, s: sc, fmt };
        // Round up to nano precision, as ParseQuantity does.
        if q.s < -9 {
            let k = (-9i64 - i64::from(q.s)) as u32;
            let (quot, rem) = match pow10(k) {
                Some(d) => (q.m / d, q.m % d),
                None => (0, q.m),
            };
            let quot = if rem > 0 {
                quot + 1
            } else if rem < 0 {
                quot - 1
            } else {
                quot
            };
            q = Quantity { m: quot, s: -9, fmt: q.fmt };
        }
        if q.m == 0 {
            q.s = 0;
        }
        Some(q)
    }

    fn sign(&self) -> i32 {
        self.m.signum() as i32
    }

    fn is_zero(&self) -> bool {
        self.m == 0
    }

    fn compare(&self, o: &Quantity) -> Ordering {
        let (sa, sb) = (self.sign(), o.sign());
        if sa != sb {
            return sa.cmp(&sb);
        }
        if sa == 0 {
            return Ordering::Equal;
        }
        // Same sign, both non-zero: compare magnitudes, then flip for negatives.
        let mag = Self::cmp_mag(self.m.unsigned_abs(), self.s, o.m.unsigned_abs(), o.s);
        if sa < 0 {
            mag.reverse()
        } else {
            mag
        }
    }

    fn cmp_mag(a: u128, sa: i32, b: u128, sb: i32) -> Ordering {
        if sa == sb {
            return a.cmp(&b);
        }
        if sa > sb {
            let d = (i64::from(sa) - i64::from(sb)) as u32;
            match 10u128.checked_pow(d).and_then(|f| a.checked_mul(f)) {
                Some(x) => x.cmp(&b),
                None => Ordering::Greater,
            }
        } else {
            Self::cmp_mag(b, sb, a, sa).reverse()
        }
    }

    /// The value scaled to `scale` (10^scale units), rounded up (away from zero); None on overflow.
    fn scaled(&self, scale: i32) -> Option<i128> {
        let d = i64::from(self.s) - i64::from(scale);
        if d >= 0 {
            pow10(u32::try_from(d).ok()?).and_then(|f| self.m.checked_mul(f))
        } else {
            let k = u32::try_from(-d).ok()?;
            let (q, r) = match pow10(k) {
                Some(f) => (self.m / f, self.m % f),
                None => (0, self.m),
            };
            Some(if r > 0 {
                q + 1
            } else if r < 0 {
                q - 1
            } else {
                q
            })
        }
    }

    fn milli_value(&self) -> Option<i128> {
        self.scaled(-3)
    }

    /// The zero quantity.
    pub fn zero() -> Quantity {
        Quantity { m: 0, s: 0, fmt: QFormat::DecimalSI }
    }

    /// `Quantity.Add`: exact at the finer of the two scales, in the first one's format.
    pub fn add(&self, o: &Quantity) -> Quantity {
        if self.m == 0 {
            return Quantity { fmt: if o.m == 0 { self.fmt } else { o.fmt }, ..*o };
        }
        let s = self.s.min(o.s);
        match (self.scaled(s), o.scaled(s)) {
            (Some(a), Some(b)) => match a.checked_add(b) {
                Some(m) => Quantity { m, s, fmt: self.fmt },
                None => *self,
            },
            _ => *self,
        }
    }

    /// upstream `Quantity.String()` (canonical form).
    pub fn canonical(&self) -> String {
        if self.m == 0 {
            return "0".to_string();
        }
        let mut fmt = self.fmt;
        let mut int_value = None;
        if fmt == QFormat::BinarySI {
            let small = self.cmp(&Quantity { m: -1024, s: 0, fmt }) == Ordering::Greater
                && self.cmp(&Quantity { m: 1024, s: 0, fmt }) == Ordering::Less;
            if small {
                fmt = QFormat::DecimalSI;
            } else {
                // Exact as an integer?
                match self.scaled(0) {
                    Some(v) if (Quantity { m: v, s: 0, fmt }).cmp(self) == Ordering::Equal => int_value = Some(v),
                    _ => fmt = QFormat::DecimalSI,
                }
            }
        }
        if let (QFormat::BinarySI, Some(mut v)) = (fmt, int_value) {
            let mut e = 0;
            while v != 0 && v % 1024 == 0 && e < 6 {
                v /= 1024;
                e += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][e];
            return format!("{v}{suffix}");
        }
        let mut m = self.m;
        let mut e = i64::from(self.s);
        while m != 0 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        match e.rem_euclid(3) {
            1 => {
                if let Some(x) = m.checked_mul(10) {
                    m = x;
                    e -= 1;
                }
            }
            2 => {
                if let Some(x) = m.checked_mul(100) {
                    m = x;
                    e -= 2;
                }
            }
            _ => {}
        }
        let suffix = match (fmt, e) {
            (_, 0) => String::new(),
            (QFormat::DecimalSI, -9) => "n".into(),
            (QFormat::DecimalSI, -6) => "u".into(),
            (QFormat::DecimalSI, -3) => "m".into(),
            (QFormat::DecimalSI, 3) => "k".into(),
            (QFormat::DecimalSI, 6) => "M".into(),
            (QFormat::DecimalSI, 9) => "G".into(),
            (QFormat::DecimalSI, 12) => "T".into(),
            (QFormat::DecimalSI, 15) => "P".into(),
            (QFormat::DecimalSI, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{m}{suffix}")
    }
}

/// Reads a quantity field (string or number); Err carries the bad string.
fn quantity_of(v: &Value) -> Result<Quantity, String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    Quantity::parse(s.trim()).ok_or(s)
}

// ---------------------------------------------------------------------------------------------
// Labels and label selectors (metav1 validation) and selector matching
// ---------------------------------------------------------------------------------------------

fn validate_label_name(k: &str, p: &P) -> Errs {
    qualified_name_errs(k, p)
}

/// `ValidateLabels` for a map value (Go quoting of bad values).
fn validate_label_map(m: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if let Some(o) = m.as_object() {
        for (k, v) in o {
            errs.extend(validate_label_name(k, p));
            let v = v.as_str().unwrap_or("");
            for msg in is_valid_label_value(v) {
                errs.push(inv(p, v, msg));
            }
        }
    }
    errs
}

fn validate_label_selector(sel: &Value, p: &P, allow_invalid_values: bool) -> Errs {
    if sel.is_null() {
        return vec![];
    }
    let mut errs = validate_label_map(g(sel, "matchLabels"), &p.child("matchLabels"));
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let ep = p.child("matchExpressions").index(i);
        let values = arr(e, "values");
        match st(e, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(req(&ep.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(forb(
                        &ep.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(inv(&ep.child("operator"), op, "not a valid selector operator")),
        }
        errs.extend(validate_label_name(st(e, "key"), &ep.child("key")));
        if !allow_invalid_values {
            for (vi, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or("");
                for msg in is_valid_label_value(v) {
                    errs.push(inv(&ep.child("values").index(vi), v, msg));
                }
            }
        }
    }
    errs
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A `labels.Selector` as `metav1.LabelSelectorAsSelector` builds it.
#[derive(Debug, Clone)]
enum Sel {
    Nothing,
    Everything,
    Reqs(Vec<(String, SelOp, Vec<String>)>),
}

impl Sel {
    fn empty(&self) -> bool {
        matches!(self, Sel::Everything)
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Sel::Nothing => false,
            Sel::Everything => true,
            Sel::Reqs(reqs) => reqs.iter().all(|(k, op, vals)| {
                let v = labels.get(k);
                match op {
                    SelOp::In => v.is_some_and(|v| vals.contains(v)),
                    SelOp::NotIn => !v.is_some_and(|v| vals.contains(v)),
                    SelOp::Exists => v.is_some(),
                    SelOp::DoesNotExist => v.is_none(),
                }
            }),
        }
    }
}

/// `metav1.LabelSelectorAsSelector`; Err when a requirement is malformed.
fn selector_of(sel: &Value) -> Result<Sel, ()> {
    if sel.is_null() {
        return Ok(Sel::Nothing);
    }
    let ml = smap(sel, "matchLabels");
    let me = arr(sel, "matchExpressions");
    if ml.is_empty() && me.is_empty() {
        return Ok(Sel::Everything);
    }
    let mut reqs = Vec::new();
    for (k, v) in ml {
        if !is_qualified_name(k).is_empty() || !is_valid_label_value(v).is_empty() {
            return Err(());
        }
        reqs.push((k.to_string(), SelOp::In, vec![v.to_string()]));
    }
    for e in me {
        let op = match st(e, "operator") {
            "In" => SelOp::In,
            "NotIn" => SelOp::NotIn,
            "Exists" => SelOp::Exists,
            "DoesNotExist" => SelOp::DoesNotExist,
            _ => return Err(()),
        };
        let key = st(e, "key");
        let vals = slist(e, "values");
        if !is_qualified_name(key).is_empty() {
            return Err(());
        }
        match op {
            SelOp::In | SelOp::NotIn if vals.is_empty() => return Err(()),
            SelOp::Exists | SelOp::DoesNotExist if !vals.is_empty() => return Err(()),
            _ => {}
        }
        if vals.iter().any(|v| !is_valid_label_value(v).is_empty()) {
            return Err(());
        }
        reqs.push((key.to_string(), op, vals.iter().map(|s| s.to_string()).collect()));
    }
    Ok(Sel::Reqs(reqs))
}

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

// ---------------------------------------------------------------------------------------------
// Tolerations, taints, affinity, topology spread
// ---------------------------------------------------------------------------------------------

fn validate_taint_effect(effect: &str, allow_empty: bool, p: &P) -> Errs {
    if !allow_empty && effect.is_empty() {
        return vec![req(p, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => vec![],
        other => vec![unsup(p, other, &["NoSchedule", "PreferNoSchedule", "NoExecute"])],
    }
}

fn validate_tolerations(tols: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, t) in tols.iter().enumerate() {
        let ip = p.index(i);
        let key = st(t, "key");
        let op = st(t, "operator");
        let value = st(t, "value");
        let effect = st(t, "effect");
        if !key.is_empty() {
            errs.extend(validate_label_name(key, &ip.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(inv(
                &ip.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(inv(&ip.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(inv(&ip.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(inv(&ip.child("operator"), value, "value must be empty when `operator` is 'Exists'"));
                }
            }
            other => errs.push(unsup(&ip.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() {
            errs.extend(validate_taint_effect(effect, true, &ip.child("effect")));
        }
    }
    errs
}

fn validate_node_selector_requirement(rq: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    let values = arr(rq, "values");
    match st(rq, "operator") {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(req(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(forb(
                    &p.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(req(&p.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            }
        }
        op => errs.push(inv(&p.child("operator"), op, "not a valid selector operator")),
    }
    errs.extend(validate_label_name(st(rq, "key"), &p.child("key")));
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            for msg in is_valid_label_value(v) {
                errs.push(inv(&p.child("values").index(i), v, msg));
            }
        }
    }
    errs
}

fn validate_node_field_selector_requirement(rq: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let values = slist(rq, "values");
    match st(rq, "operator") {
        "In" | "NotIn" => {
            if values.len() != 1 {
                errs.push(req(
                    &p.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        op => errs.push(inv(&p.child("operator"), op, "not a valid selector operator")),
    }
    let key = st(rq, "key");
    if key != "metadata.name" {
        errs.push(inv(&p.child("key"), key, "not a valid field selector key"));
    } else {
        for (i, v) in values.iter().enumerate() {
            for msg in is_dns1123_subdomain(v) {
                errs.push(inv(&p.child("values").index(i), v, msg));
            }
        }
    }
    errs
}

fn validate_node_selector_term(term: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    for (j, rq) in arr(term, "matchExpressions").iter().enumerate() {
        errs.extend(validate_node_selector_requirement(
            rq,
            allow_invalid_values,
            &p.child("matchExpressions").index(j),
        ));
    }
    for (j, rq) in arr(term, "matchFields").iter().enumerate() {
        errs.extend(validate_node_field_selector_requirement(rq, &p.child("matchFields").index(j)));
    }
    errs
}

fn validate_node_selector(ns: &Value, allow_invalid_values: bool, p: &P) -> Errs {
    let terms = arr(ns, "nodeSelectorTerms");
    let tp = p.child("nodeSelectorTerms");
    if terms.is_empty() {
        return vec![req(&tp, "must have at least one node selector term")];
    }
    let mut errs = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        errs.extend(validate_node_selector_term(t, allow_invalid_values, &tp.index(i)));
    }
    errs
}

fn validate_label_keys(p: &P, keys: &[&str], selector: &Value) -> Errs {
    if keys.is_empty() {
        return vec![];
    }
    if selector.is_null() {
        return vec![forb(p, "must not be specified when labelSelector is not set")];
    }
    let mut errs = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        errs.extend(validate_label_name(k, &p.index(i)));
    }
    errs
}

fn validate_pod_affinity_term(term: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let selector = g(term, "labelSelector");
    errs.extend(validate_label_selector(selector, &p.child("labelSelector"), false));
    errs.extend(validate_label_selector(g(term, "namespaceSelector"), &p.child("namespaceSelector"), false));
    for ns in slist(term, "namespaces") {
        for msg in is_dns1123_label(ns) {
            errs.push(inv(&p.child("namespace"), ns, msg));
        }
    }
    let mlk = slist(term, "matchLabelKeys");
    let mmlk = slist(term, "mismatchLabelKeys");
    errs.extend(validate_label_keys(&p.child("matchLabelKeys"), &mlk, selector));
    errs.extend(validate_label_keys(&p.child("mismatchLabelKeys"), &mmlk, selector));
    if !selector.is_null() {
        let idx: HashMap<&str, usize> = mlk.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        let mut keys: HashSet<&str> = smap(selector, "matchLabels").into_iter().map(|(k, _)| k).collect();
        for e in arr(selector, "matchExpressions") {
            let key = st(e, "key");
            if let Some(i) = idx.get(key) {
                if keys.contains(key) {
                    errs.push(inv(&p.index(*i), key, "exists in both matchLabelKeys and labelSelector"));
                }
            }
            keys.insert(key);
        }
    }
    let mm: HashSet<&str> = mmlk.iter().copied().collect();
    for (i, k) in mlk.iter().enumerate() {
        if mm.contains(k) {
            errs.push(inv(
                &p.child("matchLabelKeys").index(i),
                k,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            ));
        }
    }
    let tk = st(term, "topologyKey");
    if tk.is_empty() {
        errs.push(req(&p.child("topologyKey"), "can not be empty"));
    }
    errs.extend(validate_label_name(tk, &p.child("topologyKey")));
    errs
}

fn validate_pod_affinity_kind(a: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
    for (i, t) in arr(a, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
        errs.extend(validate_pod_affinity_term(t, &rp.index(i)));
    }
    let pp = p.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (j, w) in arr(a, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
        let weight = int0(w, "weight");
        if !(1..=100).contains(&weight) {
            errs.push(inv_raw(&pp.index(j).child("weight"), weight, "must be in the range 1-100"));
        }
        errs.extend(validate_pod_affinity_term(g(w, "podAffinityTerm"), &pp.index(j).child("podAffinityTerm")));
    }
    errs
}

fn validate_affinity(a: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if a.is_null() {
        return errs;
    }
    let na = g(a, "nodeAffinity");
    if !na.is_null() {
        let np = p.child("nodeAffinity");
        let r = g(na, "requiredDuringSchedulingIgnoredDuringExecution");
        if !r.is_null() {
            errs.extend(validate_node_selector(r, false, &np.child("requiredDuringSchedulingIgnoredDuringExecution")));
        }
        let pp = np.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in arr(na, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let weight = int0(t, "weight");
            if !(1..=100).contains(&weight) {
                errs.push(inv_raw(&pp.index(i).child("weight"), weight, "must be in the range 1-100"));
            }
            errs.extend(validate_node_selector_term(g(t, "preference"), true, &pp.index(i).child("preference")));
        }
    }
    if has(a, "podAffinity") {
        errs.extend(validate_pod_affinity_kind(g(a, "podAffinity"), &p.child("podAffinity")));
    }
    if has(a, "podAntiAffinity") {
        errs.extend(validate_pod_affinity_kind(g(a, "podAntiAffinity"), &p.child("podAntiAffinity")));
    }
    errs
}

fn validate_topology_spread_constraints(cs: &[Value], p: &P) -> Errs {
    let mut errs = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let sp = p.index(i);
        let max_skew = int0(c, "maxSkew");
        if max_skew <= 0 {
            errs.push(inv_raw(&sp.child("maxSkew"), max_skew, "must be greater than zero"));
        }
        let tk = st(c, "topologyKey");
        if tk.is_empty() {
            errs.push(req(&sp.child("topologyKey"), "can not be empty"));
        }
        let when = st(c, "whenUnsatisfiable");
        if when != "DoNotSchedule" && when != "ScheduleAnyway" {
            errs.push(unsup(&sp.child("whenUnsatisfiable"), when, &["DoNotSchedule", "ScheduleAnyway"]));
        }
        if cs[i + 1..].iter().any(|o| st(o, "topologyKey") == tk && st(o, "whenUnsatisfiable") == when) {
            errs.push(dup(&sp.child("{topologyKey, whenUnsatisfiable}"), &format!("{{{tk}, {when}}}")));
        }
        if let Some(md) = int(c, "minDomains") {
            if md <= 0 {
                errs.push(inv_raw(&sp.child("minDomains"), md, "must be greater than zero"));
            }
            if when != "DoNotSchedule" {
                errs.push(inv_raw(
                    &sp.child("minDomains"),
                    md,
                    format!("can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"),
                ));
            }
        }
        for k in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(v) = c.get(k).and_then(Value::as_str) {
                if v != "Honor" && v != "Ignore" {
                    errs.push(unsup(&sp.child(k), v, &["Honor", "Ignore"]));
                }
            }
        }
        let selector = g(c, "labelSelector");
        let mlk = slist(c, "matchLabelKeys");
        if !mlk.is_empty() {
            let mp = sp.child("matchLabelKeys");
            let mut keys: HashSet<&str> = HashSet::new();
            if selector.is_null() {
                errs.push(forb(&mp, "must not be specified when labelSelector is not set"));
            } else {
                keys.extend(smap(selector, "matchLabels").into_iter().map(|(k, _)| k));
                keys.extend(arr(selector, "matchExpressions").iter().map(|e| st(e, "key")));
            }
            for (j, k) in mlk.iter().enumerate() {
                errs.extend(validate_label_name(k, &mp.index(j)));
                if keys.contains(k) {
                    errs.push(inv(&mp.index(j), k, "exists in both matchLabelKeys and labelSelector"));
                }
            }
        }
        errs.extend(validate_label_selector(selector, &sp.child("labelSelector"), false));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_mode(v: &Value, key: &str, p: &P) -> Errs {
    match int(v, key) {
        Some(m) if !(0..=0o777).contains(&m) => vec![inv_raw(&p.child(key), m, FILE_MODE_ERR)],
        _ => vec![],
    }
}

fn validate_key_to_path(kp: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if st(kp, "key").is_empty() {
        errs.push(req(&p.child("key"), ""));
    }
    let path = st(kp, "path");
    if path.is_empty() {
        errs.push(req(&p.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
    errs.extend(validate_mode(kp, "mode", p));
    errs
}

static VALID_VOLUME_DOWNWARD_API_FIELDS: &[&str] =
    &["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
static VALID_ENV_DOWNWARD_API_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
static VALID_CONTAINER_RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn split_maybe_subscripted(fp: &str) -> Option<(&str, &str)> {
    let s = fp.strip_suffix("']")?;
    let (a, b) = s.split_once("['")?;
    if a.is_empty() {
        return None;
    }
    Some((a, b))
}

fn validate_object_field_selector(fs: &Value, expressions: &[&str], p: &P) -> Errs {
    let api_version = st(fs, "apiVersion");
    let fp = st(fs, "fieldPath");
    if api_version.is_empty() {
        return vec![req(&p.child("apiVersion"), "")];
    }
    if fp.is_empty() {
        return vec![req(&p.child("fieldPath"), "")];
    }
    // podshelper.ConvertDownwardAPIFieldLabel
    let converted: Result<String, String> = if api_version != "v1" {
        Err(format!("unsupported pod version: {api_version}"))
    } else if let Some((path, _)) = split_maybe_subscripted(fp) {
        match path {
            "metadata.annotations" | "metadata.labels" => Ok(fp.to_string()),
            _ => Err(format!("field label does not support subscript: {fp}")),
        }
    } else {
        match fp {
            "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs" => Ok(fp.to_string()),
            "spec.host" => Ok("spec.nodeName".to_string()),
            _ => Err(format!("field label not supported: {fp}")),
        }
    };
    let internal = match converted {
        Ok(s) => s,
        Err(e) => return vec![inv(&p.child("fieldPath"), fp, format!("error converting fieldPath: {e}"))],
    };
    if let Some((path, subscript)) = split_maybe_subscripted(&internal) {
        match path {
            "metadata.annotations" => qualified_name_errs(&subscript.to_lowercase(), p),
            "metadata.labels" => qualified_name_errs(subscript, p),
            _ => vec![inv(p, path, "does not support subscript")],
        }
    } else if !expressions.contains(&internal.as_str()) {
        vec![unsup(&p.child("fieldPath"), &internal, expressions)]
    } else {
        vec![]
    }
}

fn validate_container_resource_field_selector(fs: &Value, p: &P, volume: bool) -> Errs {
    let mut errs = Vec::new();
    let resource = st(fs, "resource");
    if volume && st(fs, "containerName").is_empty() {
        errs.push(req(&p.child("containerName"), ""));
    } else if resource.is_empty() {
        errs.push(req(&p.child("resource"), ""));
    } else if !VALID_CONTAINER_RESOURCE_FIELDS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.push(unsup(&p.child("resource"), resource, VALID_CONTAINER_RESOURCE_FIELDS));
    }
    if let Some(d) = fs.get("divisor").filter(|d| !d.is_null()) {
        if let Ok(q) = quantity_of(d) {
            if !q.is_zero() {
                let ds = q.canonical();
                let mem_like = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
                let dp = p.child("divisor");
                match resource {
                    "limits.cpu" | "requests.cpu" if ds != "1m" && ds != "1" => {
                        errs.push(inv(
                            &dp,
                            resource,
                            "only divisor's values 1m and 1 are supported with the cpu resource",
                        ));
                    }
                    "limits.memory" | "requests.memory" if !mem_like.contains(&ds.as_str()) => {
                        errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"));
                    }
                    "limits.ephemeral-storage" | "requests.ephemeral-storage" if !mem_like.contains(&ds.as_str()) => {
                        errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"));
                    }
                    _ => {}
                }
                if (resource.starts_with("requests.hugepages-") || resource.starts_with("limits.hugepages-"))
                    && !mem_like.contains(&ds.as_str())
                {
                    errs.push(inv(&dp, resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource"));
                }
            }
        }
    }
    errs
}

fn validate_downward_api_volume_file(file: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let path = st(file, "path");
    if path.is_empty() {
        errs.push(req(&p.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
    if has(file, "fieldRef") {
        errs.extend(validate_object_field_selector(
            g(file, "fieldRef"),
            VALID_VOLUME_DOWNWARD_API_FIELDS,
            &p.child("fieldRef"),
        ));
        if has(file, "resourceFieldRef") {
            errs.push(inv(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"));
        }
    } else if has(file, "resourceFieldRef") {
        errs.extend(validate_container_resource_field_selector(
            g(file, "resourceFieldRef"),
            &p.child("resourceFieldRef"),
            true,
        ));
    } else {
        errs.push(req(p, "one of fieldRef and resourceFieldRef is required"));
    }
    errs.extend(validate_mode(file, "mode", p));
    errs
}

fn validate_projected(src: &Value, p: &P) -> Errs {
    let mut errs = validate_mode(src, "defaultMode", p);
    let mut all_paths: HashSet<String> = HashSet::new();
    for (i, s) in arr(src, "sources").iter().enumerate() {
        let sp = p.child("sources").index(i);
        let mut n = 0;
        for kind in ["secret", "configMap"] {
            if has(s, kind) {
                n += 1;
                let kp = sp.child(kind);
                let o = g(s, kind);
                let name = st(o, "name");
                if name.is_empty() {
                    errs.push(req(&kp.child("name"), ""));
                }
                for (j, item) in arr(o, "items").iter().enumerate() {
                    errs.extend(validate_key_to_path(item, &kp.child("items").index(j)));
                    let ip = st(item, "path");
                    if !ip.is_empty() && !all_paths.insert(ip.to_string()) {
                        errs.push(inv(p, name, "conflicting duplicate paths"));
                    }
                }
            }
        }
        if has(s, "downwardAPI") {
            n += 1;
            let dp = sp.child("downwardAPI");
            for file in arr(g(s, "downwardAPI"), "items") {
                errs.extend(validate_downward_api_volume_file(file, &dp));
                let fp = st(file, "path");
                if !fp.is_empty() && !all_paths.insert(fp.to_string()) {
                    errs.push(inv(p, fp, "conflicting duplicate paths"));
                }
            }
        }
        if has(s, "serviceAccountToken") {
            n += 1;
            let t = g(s, "serviceAccountToken");
            let tp = sp.child("serviceAccountToken");
            let exp = int0(t, "expirationSeconds");
            if exp < 600 {
                errs.push(inv_raw(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if exp > 1 << 32 {
                errs.push(inv_raw(
                    &tp.child("expirationSeconds"),
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            let path = st(t, "path");
            if path.is_empty() {
                errs.push(req(&p.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(path, &p.child("path")));
            }
        }
        if has(s, "clusterTrustBundle") {
            n += 1;
            let c = g(s, "clusterTrustBundle");
            let cp = sp.child("clusterTrustBundle");
            let using_name = has(c, "name");
            let using_signer = has(c, "signerName");
            if using_name && using_signer {
                errs.push(inv_raw(
                    &cp,
                    go_struct("&core.ClusterTrustBundleProjection", c),
                    "only one of name and signerName may be used",
                ));
            } else if using_name {
                if st(c, "name").is_empty() {
                    errs.push(req(&cp.child("name"), "must be a valid object name"));
                }
                if has(c, "labelSelector") {
                    errs.push(inv_raw(
                        &cp.child("labelSelector"),
                        go_selector(g(c, "labelSelector")),
                        "labelSelector must be unset if name is specified",
                    ));
                }
            } else if using_signer {
                let sn = st(c, "signerName");
                if sn.is_empty() {
                    errs.push(req(&cp.child("signerName"), "must be a valid signer name"));
                }
                errs.extend(validate_signer_name(&cp.child("signerName"), sn));
                errs.extend(validate_label_selector(g(c, "labelSelector"), &cp.child("labelSelector"), false));
            } else {
                errs.push(req(&cp, "either name or signerName must be specified"));
            }
            let path = st(c, "path");
            if path.is_empty() {
                errs.push(req(&cp.child("path"), ""));
            }
            errs.extend(validate_local_non_reserved_path(path, &cp.child("path")));
            if !all_paths.insert(path.to_string()) {
                errs.push(inv(p, path, "conflicting duplicate paths"));
            }
        }
        if n > 1 {
            errs.push(forb(&sp, "may not specify more than 1 volume type per source"));
        }
    }
    errs
}

static ISCSI_IQN: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"iqn\.\d{4}-\d{2}\.([[:alnum:]-.]+)(:[^,;*&$|\s]+)$").expect("static regex"));
static ISCSI_EUI: Lazy<Regex> = Lazy::new(|| Regex::new(r"^eui.[[:alnum:]]{16}$").expect("static regex"));
static ISCSI_NAA: Lazy<Regex> = Lazy::new(|| Regex::new(r"^naa.[[:alnum:]]{32}$").expect("static regex"));

fn iqn_format_ok(v: &str) -> bool {
    if v.starts_with("iqn") {
        ISCSI_IQN.is_match(v)
    } else if v.starts_with("eui") {
        ISCSI_EUI.is_match(v)
    } else if v.starts_with("naa") {
        ISCSI_NAA.is_match(v)
    } else {
        true
    }
}

fn validate_iscsi(src: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    if st(src, "targetPortal").is_empty() {
        errs.push(req(&p.child("targetPortal"), ""));
    }
    let iqn = st(src, "iqn");
    if iqn.is_empty() {
        errs.push(req(&p.child("iqn"), ""));
    } else if !iqn.starts_with("iqn") && !iqn.starts_with("eui") && !iqn.starts_with("naa") {
        errs.push(inv(&p.child("iqn"), iqn, "must be valid format starting with iqn, eui, or naa"));
    } else if !iqn_format_ok(iqn) {
        errs.push(inv(&p.child("iqn"), iqn, "must be valid format"));
    }
    let lun = int0(src, "lun");
    if !(0..=255).contains(&lun) {
        errs.push(inv_raw(&p.child("lun"), lun, inclusive_range(0, 255)));
    }
    if (flag(src, "chapAuthDiscovery") || flag(src, "chapAuthSession")) && !has(src, "secretRef") {
        errs.push(req(&p.child("secretRef"), ""));
    }
    if let Some(init) = src.get("initiatorName").and_then(Value::as_str) {
        if !init.starts_with("iqn") && !init.starts_with("eui") && !init.starts_with("naa") {
            errs.push(inv(&p.child("initiatorname"), init, "must be valid format starting with iqn, eui, or naa"));
        }
        if !iqn_format_ok(init) {
            errs.push(inv(&p.child("initiatorname"), init, "must be valid format"));
        }
    }
    errs
}

/// The `Forbidden` path names upstream uses per volume source (quirks included), in check order.
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

fn validate_csi_driver_name(name: &str, p: &P) -> Errs {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(req(p, ""));
    }
    if name.len() > 63 {
        errs.push(too_long(p, 63));
    }
    for msg in is_dns1123_subdomain(&name.to_lowercase()) {
        errs.push(inv(p, name, msg));
    }
    errs
}

fn validate_one_volume_source(
    key: &str,
    src: &Value,
    p: &P,
    vp: &P,
    vol_name: &str,
    pod_name: Option<&str>,
    is_pod: bool,
) -> Errs {
    let mut errs = Vec::new();
    let required = |errs: &mut Errs, field: &str| {
        if st(src, field).is_empty() {
            errs.push(req(&p.child(field), ""));
        }
    };
    match key {
        "emptyDir" => {
            if let Some(Ok(q)) = src.get("sizeLimit").filter(|v| !v.is_null()).map(quantity_of) {
                if q.sign() < 0 {
                    errs.push(forb(&p.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"));
                }
            }
        }
        "hostPath" => {
            let hp = st(src, "path");
            if hp.is_empty() {
                errs.push(req(&p.child("path"), ""));
                return errs;
            }
            errs.extend(validate_path_no_backsteps(hp, &p.child("path")));
            if let Some(t) = src.get("type").and_then(Value::as_str) {
                let ok = [
                    "",
                    "DirectoryOrCreate",
                    "Directory",
                    "FileOrCreate",
                    "File",
                    "Socket",
                    "CharDevice",
                    "BlockDevice",
                ];
                if !ok.contains(&t) {
                    errs.push(unsup(
                        &p.child("type"),
                        t,
                        &[
                            "",
                            "BlockDevice",
                            "CharDevice",
                            "Directory",
                            "DirectoryOrCreate",
                            "File",
                            "FileOrCreate",
                            "Socket",
                        ],
                    ));
                }
            }
        }
        "gitRepo" => {
            required(&mut errs, "repository");
            errs.extend(validate_local_descending_path(st(src, "directory"), &p.child("directory")));
        }
        "gcePersistentDisk" | "awsElasticBlockStore" => {
            let (pp, id) = if key == "gcePersistentDisk" {
                (vp.child("persistentDisk"), "pdName")
            } else {
                (p.clone(), "volumeID")
            };
            if st(src, id).is_empty() {
                errs.push(req(&pp.child(id), ""));
            }
            let part = int0(src, "partition");
            if !(0..=255).contains(&part) {
                errs.push(inv_raw(&pp.child("partition"), part, inclusive_range(1, 255)));
            }
        }
        "secret" => {
            required(&mut errs, "secretName");
            errs.extend(validate_mode(src, "defaultMode", p));
            for (i, kp) in arr(src, "items").iter().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "configMap" => {
            required(&mut errs, "name");
            errs.extend(validate_mode(src, "defaultMode", p));
            for (i, kp) in arr(src, "items").iter().enumerate() {
                errs.extend(validate_key_to_path(kp, &p.child("items").index(i)));
            }
        }
        "nfs" => {
            required(&mut errs, "server");
            required(&mut errs, "path");
            let np = st(src, "path");
            if !np.starts_with('/') {
                errs.push(inv(&p.child("path"), np, "must be an absolute path"));
            }
        }
        "iscsi" => errs.extend(validate_iscsi(src, p)),
        "glusterfs" => {
            required(&mut errs, "endpoints");
            required(&mut errs, "path");
        }
        "flocker" => {
            let name = st(src, "datasetName");
            let uuid = st(src, "datasetUUID");
            if name.is_empty() && uuid.is_empty() {
                errs.push(req(p, "one of datasetName and datasetUUID is required"));
            }
            if !name.is_empty() && !uuid.is_empty() {
                errs.push(inv(p, "resource", "datasetName and datasetUUID can not be specified simultaneously"));
            }
            if name.contains('/') {
                errs.push(inv(&p.child("datasetName"), name, "must not contain '/'"));
            }
        }
        "persistentVolumeClaim" => required(&mut errs, "claimName"),
        "rbd" => {
            if arr(src, "monitors").is_empty() {
                errs.push(req(&p.child("monitors"), ""));
            }
            required(&mut errs, "image");
        }
        "cinder" => {
            required(&mut errs, "volumeID");
            if has(src, "secretRef") && st(g(src, "secretRef"), "name").is_empty() {
                errs.push(req(&p.child("secretRef").child("name"), ""));
            }
        }
        "cephfs" if arr(src, "monitors").is_empty() => errs.push(req(&p.child("monitors"), "")),
        "quobyte" => {
            let registry = st(src, "registry");
            if registry.is_empty() {
                errs.push(req(&p.child("registry"), "must be a host:port pair or multiple pairs separated by commas"));
            } else if st(src, "tenant").len() >= 65 {
                errs.push(req(&p.child("tenant"), "must be a UUID and may not exceed a length of 64 characters"));
            } else {
                for pair in registry.split(',') {
                    let ok = match pair.rsplit_once(':') {
                        Some((h, _)) if h.starts_with('[') => h.ends_with(']'),
                        Some((h, _)) => !h.contains(':'),
                        None => false,
                    };
                    if !ok {
                        errs.push(inv(
                            &p.child("registry"),
                            registry,
                            "must be a host:port pair or multiple pairs separated by commas",
                        ));
                    }
                }
            }
            required(&mut errs, "volume");
        }
        "downwardAPI" => {
            errs.extend(validate_mode(src, "defaultMode", p));
            for file in arr(src, "items") {
                errs.extend(validate_downward_api_volume_file(file, p));
            }
        }
        "fc" => {
            let wwns = arr(src, "targetWWNs");
            let wwids = arr(src, "wwids");
            if wwns.is_empty() && wwids.is_empty() {
                errs.push(req(&p.child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"));
            }
            if !wwns.is_empty() && !wwids.is_empty() {
                errs.push(inv_raw(
                    &p.child("targetWWNs"),
                    go_str_slice(src.get("targetWWNs")),
                    "targetWWNs and wwids can not be specified simultaneously",
                ));
            }
            if !wwns.is_empty() {
                match int(src, "lun") {
                    None => errs.push(req(&p.child("lun"), "lun is required if targetWWNs is specified")),
                    Some(l) if !(0..=255).contains(&l) => {
                        errs.push(inv_raw(&p.child("lun"), l, inclusive_range(0, 255)))
                    }
                    _ => {}
                }
            }
        }
        "flexVolume" => {
            required(&mut errs, "driver");
            for (k, _) in smap(src, "options") {
                let ns = k.split_once('/').map(|(a, _)| a).unwrap_or(k);
                let normalized = format!(".{}", ns.to_lowercase());
                if normalized.ends_with(".kubernetes.io") || normalized.ends_with(".k8s.io") {
                    errs.push(inv(&p.child("options").key(k), k, "kubernetes.io and k8s.io namespaces are reserved"));
                }
            }
        }
        "azureFile" => {
            required(&mut errs, "secretName");
            required(&mut errs, "shareName");
        }
        "vsphereVolume" => required(&mut errs, "volumePath"),
        "photonPersistentDisk" => required(&mut errs, "pdID"),
        "portworxVolume" => required(&mut errs, "volumeID"),
        "azureDisk" => {
            required(&mut errs, "diskName");
            let uri = st(src, "diskURI");
            if uri.is_empty() {
                errs.push(req(&p.child("diskURI"), ""));
            }
            if let Some(cm) = src.get("cachingMode").and_then(Value::as_str) {
                if !["None", "ReadOnly", "ReadWrite"].contains(&cm) {
                    errs.push(unsup(&p.child("cachingMode"), cm, &["None", "ReadOnly", "ReadWrite"]));
                }
            }
            if let Some(kind) = src.get("kind").and_then(Value::as_str) {
                if !["Dedicated", "Managed", "Shared"].contains(&kind) {
                    errs.push(unsup(&p.child("kind"), kind, &["Dedicated", "Managed", "Shared"]));
                }
                if kind == "Managed" && !uri.starts_with("/subscriptions/") {
                    errs.push(unsup(&p.child("diskURI"), uri, &["/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"]));
                }
                if kind != "Managed" && !uri.starts_with("https://") {
                    errs.push(unsup(
                        &p.child("diskURI"),
                        uri,
                        &["https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"],
                    ));
                }
            }
        }
        "storageos" => {
            let vn = st(src, "volumeName");
            if vn.is_empty() {
                errs.push(req(&p.child("volumeName"), ""));
            } else {
                errs.extend(dns_label_errs(vn, &p.child("volumeName")));
            }
            let vns = st(src, "volumeNamespace");
            if !vns.is_empty() {
                errs.extend(dns_label_errs(vns, &p.child("volumeNamespace")));
            }
            if has(src, "secretRef") && st(g(src, "secretRef"), "name").is_empty() {
                errs.push(req(&p.child("secretRef").child("name"), ""));
            }
        }
        "projected" => errs.extend(validate_projected(src, p)),
        "scaleIO" => {
            required(&mut errs, "gateway");
            required(&mut errs, "system");
            required(&mut errs, "volumeName");
        }
        "csi" => {
            errs.extend(validate_csi_driver_name(st(src, "driver"), &p.child("driver")));
            if has(src, "nodePublishSecretRef") {
                let n = st(g(src, "nodePublishSecretRef"), "name");
                if n.is_empty() {
                    errs.push(req(&p.child("nodePublishSecretRef").child("name"), ""));
                } else {
                    for msg in is_dns1123_subdomain(n) {
                        errs.push(inv(&p.child("name"), n, msg));
                    }
                }
            }
        }
        "ephemeral" => {
            let t = g(src, "volumeClaimTemplate");
            if t.is_null() {
                errs.push(req(&p.child("volumeClaimTemplate"), ""));
            } else {
                let tp = p.child("volumeClaimTemplate");
                errs.extend(validate_template_object_meta(g(t, "metadata"), &tp.child("metadata")));
                errs.extend(validate_pvc_spec(g(t, "spec"), &tp.child("spec")));
                if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
                    if !vol_name.is_empty() {
                        let pvc = format!("{pod}-{vol_name}");
                        for msg in is_dns1123_subdomain(&pvc) {
                            errs.push(inv(
                                &vp.child("name"),
                                vol_name,
                                format!("PVC name {}: {}", go_quote(&pvc), msg),
                            ));
                        }
                    }
                }
            }
        }
        "image" => {
            if is_pod && st(src, "reference").is_empty() {
                errs.push(req(&p.child("reference"), ""));
            }
            errs.extend(validate_pull_policy(st(src, "pullPolicy"), &p.child("pullPolicy")));
        }
        _ => {}
    }
    errs
}

/// `validateVolumeSource`: exactly one source, each validated. `p` is the volume's path.
fn validate_volume_source(vol: &Value, p: &P, vol_name: &str, pod_name: Option<&str>, is_pod: bool) -> Errs {
    let mut errs = Vec::new();
    let mut n = 0;
    for (key, forbidden_name) in VOLUME_SOURCES {
        if !has(vol, key) {
            continue;
        }
        if n > 0 {
            errs.push(forb(&p.child(forbidden_name), "may not specify more than 1 volume type"));
        } else {
            n += 1;
            let child = if *key == "cephfs" { "cephfs" } else { key };
            errs.extend(validate_one_volume_source(key, g(vol, key), &p.child(child), p, vol_name, pod_name, is_pod));
        }
        if *key == "iscsi" {
            let src = g(vol, key);
            if has(src, "initiatorName") && vol_name.len() + 1 + st(src, "targetPortal").len() > 64 {
                errs.push(inv(
                    &p.child("name"),
                    vol_name,
                    "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified.",
                ));
            }
        }
    }
    if n == 0 {
        errs.push(req(p, "must specify a volume type"));
    }
    errs
}

fn validate_volumes<'a>(
    vols: &'a [Value],
    pod_name: Option<&str>,
    p: &P,
    is_pod: bool,
) -> (HashMap<String, &'a Value>, Errs) {
    let mut errs = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut created_pvcs: HashSet<String> = HashSet::new();
    if let Some(pod) = pod_name.filter(|n| !n.is_empty()) {
        for v in vols {
            if has(v, "ephemeral") {
                created_pvcs.insert(format!("{pod}-{}", st(v, "name")));
            }
        }
    }
    let mut out = HashMap::new();
    for (i, vol) in vols.iter().enumerate() {
        let ip = p.index(i);
        let np = ip.child("name");
        let name = st(vol, "name");
        let mut el = validate_volume_source(vol, &ip, name, pod_name, is_pod);
        if name.is_empty() {
            el.push(req(&np, ""));
        } else {
            el.extend(dns_label_errs(name, &np));
        }
        if names.contains(name) {
            el.push(dup(&np, name));
        }
        if el.is_empty() {
            names.insert(name.to_string());
            out.insert(name.to_string(), vol);
        } else {
            errs.extend(el);
        }
        if has(vol, "persistentVolumeClaim") {
            let claim = st(g(vol, "persistentVolumeClaim"), "claimName");
            if created_pvcs.contains(claim) {
                errs.push(inv(
                    &ip.child("persistentVolumeClaim").child("claimName"),
                    claim,
                    "must not reference a PVC that gets created for an ephemeral volume",
                ));
            }
        }
    }
    (out, errs)
}

/// `ValidateTemplateObjectMeta`: only labels and annotations may be set.
fn validate_template_object_meta(meta: &Value, p: &P) -> Errs {
    let mut errs = validate_annotations(g(meta, "annotations"), &p.child("annotations"));
    errs.extend(validate_label_map(g(meta, "labels"), &p.child("labels")));
    const FIELDS: &[(&str, &str)] = &[
        ("name", "name"),
        ("generateName", "generateName"),
        ("namespace", "namespace"),
        ("selfLink", "selfLink"),
        ("uid", "uID"),
        ("resourceVersion", "resourceVersion"),
        ("generation", "generation"),
        ("creationTimestamp", "creationTimestamp"),
        ("deletionTimestamp", "deletionTimestamp"),
        ("deletionGracePeriodSeconds", "deletionGracePeriodSeconds"),
        ("ownerReferences", "ownerReferences"),
        ("finalizers", "finalizers"),
        ("managedFields", "managedFields"),
    ];
    for (k, go_name) in FIELDS {
        if is_set(g(meta, k)) {
            errs.push(forb(&p.child(go_name), "cannot be set"));
        }
    }
    errs
}

/// Whether a JSON value differs from its Go zero value.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(is_set),
    }
}

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

/// `ValidatePersistentVolumeClaimSpec` (defaults for a plain create).
fn validate_pvc_spec(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let modes = slist(spec, "accessModes");
    if modes.is_empty() {
        errs.push(req(&p.child("accessModes"), "at least 1 access mode is required"));
    }
    if has(spec, "selector") {
        errs.extend(validate_label_selector(g(spec, "selector"), &p.child("selector"), false));
    }
    let (mut rwop, mut other) = (false, false);
    for m in &modes {
        if !ACCESS_MODES.contains(m) {
            errs.push(unsup(&p.child("accessModes"), m, ACCESS_MODES));
        }
        if *m == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(m) {
            other = true;
        }
    }
    if rwop && other {
        errs.push(forb(&p.child("accessModes"), "may not use ReadWriteOncePod with other access modes"));
    }
    let sp = p.child("resources").key("storage");
    match g(g(g(spec, "resources"), "requests"), "storage") {
        Value::Null => errs.push(req(&sp, "")),
        v => match quantity_of(v) {
            Ok(q) if q.sign() <= 0 => errs.push(inv(&sp, &q.canonical(), "must be greater than zero")),
            Ok(_) => {}
            Err(s) => errs.push(inv(&sp, &s, QUANTITY_FORMAT_ERR)),
        },
    }
    let sc = st(spec, "storageClassName");
    if !sc.is_empty() {
        for msg in is_dns1123_subdomain(sc) {
            errs.push(inv(&p.child("storageClassName"), sc, msg));
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(unsup(&p.child("volumeMode"), vm, &["Block", "Filesystem"]));
        }
    }
    for key in ["dataSource", "dataSourceRef"] {
        let ds = g(spec, key);
        if ds.is_null() {
            continue;
        }
        let dp = p.child(key);
        if st(ds, "name").is_empty() {
            errs.push(req(&dp.child("name"), ""));
        }
        let kind = st(ds, "kind");
        if kind.is_empty() {
            errs.push(req(&dp.child("kind"), ""));
        }
        let group = st(ds, "apiGroup");
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errs.push(inv(&dp, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
        }
        if !group.is_empty() {
            errs.extend(dns_subdomain_errs(group, &dp.child("apiGroup")));
        }
        if key == "dataSourceRef" {
            let ns = st(ds, "namespace");
            if !ns.is_empty() {
                for msg in is_dns1123_label(ns) {
                    errs.push(inv(&dp.child("namespace"), ns, msg));
                }
            }
        }
    }
    let ds = g(spec, "dataSource");
    let dsr = g(spec, "dataSourceRef");
    if !st(dsr, "namespace").is_empty() {
        if !ds.is_null() {
            errs.push(inv_raw(
                p,
                p.child("dataSource"),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        }
    } else if !ds.is_null()
        && !dsr.is_null()
        && (g(ds, "apiGroup") != g(dsr, "apiGroup")
            || st(ds, "kind") != st(dsr, "kind")
            || st(ds, "name") != st(dsr, "name"))
    {
        errs.push(inv_raw(p, p.child("dataSource"), "must match dataSourceRef"));
    }
    if let Some(vac) = spec.get("volumeAttributesClassName").and_then(Value::as_str) {
        if !vac.is_empty() {
            for msg in is_dns1123_subdomain(vac) {
                errs.push(inv(&p.child("volumeAttributesClassName"), vac, msg));
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------

struct PodCtx<'a> {
    vols: HashMap<String, &'a Value>,
    claim_names: HashSet<String>,
    grace: Option<i64>,
    restart_policy: String,
    host_users: bool,
}

fn validate_pull_policy(policy: &str, p: &P) -> Errs {
    match policy {
        "Always" | "IfNotPresent" | "Never" => vec![],
        "" => vec![req(p, "")],
        other => vec![unsup(p, other, &["Always", "IfNotPresent", "Never"])],
    }
}

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_container_ports(ports: &[Value], p: &P) -> Errs {
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

fn validate_key_selector(s: &Value, p: &P) -> Errs {
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

fn validate_env(vars: &[Value], p: &P) -> Errs {
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

fn validate_env_from(vars: &[Value], p: &P) -> Errs {
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

fn validate_volume_mounts(c: &Value, devices: &HashMap<&str, &str>, ctx: &PodCtx, p: &P) -> Errs {
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

fn validate_volume_devices(c: &Value, mounts: &HashMap<&str, &str>, ctx: &PodCtx, p: &P) -> Errs {
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

fn validate_port_num_or_name(port: &Value, p: &P) -> Errs {
    match port {
        Value::String(s) => is_valid_port_name(s).into_iter().map(|m| inv(p, s, m)).collect(),
        other => {
            let n = num(other).unwrap_or(0);
            is_valid_port_num(n).into_iter().map(|m| inv_raw(p, n, m)).collect()
        }
    }
}

/// `validateHandler` over the handler kinds present in `h` (`sleep` only for lifecycle hooks).
fn validate_handler(h: &Value, grace: Option<i64>, p: &P, allow_sleep: bool) -> Errs {
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

fn validate_probe(probe: &Value, grace: Option<i64>, p: &P) -> Errs {
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

fn validate_probes(c: &Value, grace: Option<i64>, p: &P) -> Errs {
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

fn validate_lifecycle(lc: &Value, grace: Option<i64>, p: &P) -> Errs {
    let mut errs = Vec::new();
    for hook in ["postStart", "preStop"] {
        if has(lc, hook) {
            errs.extend(validate_handler(g(lc, hook), grace, &p.child(hook), true));
        }
    }
    errs
}

// --- resources ---

const STANDARD_RESOURCES: &[&str] = &[
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
const INTEGER_RESOURCES: &[&str] = &[
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

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepage_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepage_resource(name)
}

fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name) || name.starts_with("requests.hugepages-") || is_hugepage_resource(name)
}

fn validate_resource_name(name: &str, p: &P) -> Errs {
    let errs: Errs = is_qualified_name(name).into_iter().map(|m| inv_raw(p, name, m)).collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        return vec![inv_raw(p, name, "must be a standard resource type or fully qualified")];
    }
    errs
}

fn validate_container_resource_name(name: &str, p: &P) -> Errs {
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
fn validate_resource_quantity(name: &str, q: &Quantity, p: &P) -> Errs {
    let mut errs = Vec::new();
    if q.sign() < 0 {
        errs.push(inv(p, &q.canonical(), NEGATIVE));
    }
    if is_integer_resource(name) && q.milli_value().is_some_and(|m| m % 1000 != 0) {
        errs.push(inv_raw(p, q.canonical(), "must be an integer"));
    }
    errs
}

fn hugepage_divisible(name: &str, q: &Quantity) -> bool {
    let Some(size) = name.strip_prefix("hugepages-").and_then(Quantity::parse) else {
        return false;
    };
    match (size.milli_value(), q.milli_value()) {
        (Some(s), Some(v)) if size.sign() > 0 && s > 0 => v % s == 0,
        _ => false,
    }
}

fn validate_resource_requirements(res: &Value, claim_names: Option<&HashSet<String>>, p: &P) -> Errs {
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

fn validate_resize_policy(list: &[Value], p: &P, pod_restart_policy: &str) -> Errs {
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

fn validate_seccomp_profile(sp: &Value, p: &P) -> Errs {
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

fn validate_apparmor_profile(ap: &Value, p: &P) -> Errs {
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

static CTRL: Lazy<Regex> = Lazy::new(|| Regex::new(r"[[:cntrl:]]+").expect("static regex"));
static NETBIOS: Lazy<Regex> =
    Lazy::new(|| Regex::new(r#"^[^\\/:\*\?"<>|\.][^\\/:\*\?"<>|]{0,14}$"#).expect("static regex"));
static WIN_DNS: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
        .expect("static regex")
});
static BAD_USER_CHARS: Lazy<Regex> = Lazy::new(|| Regex::new(r#"["/\\:;|=,\+\*\?<>@\[\]]"#).expect("static regex"));
static DOTS_SPACES: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[\. ]+$").expect("static regex"));

fn validate_windows_options(w: &Value, p: &P) -> Errs {
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

fn validate_container_security_context(sc: &Value, p: &P, host_users: bool) -> Errs {
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

fn validate_container_common(c: &Value, ctx: &PodCtx, p: &P) -> Errs {
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

fn check_host_port_conflicts(containers: &[&Value], p: &P, seen: &mut HashSet<String>) -> Errs {
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

fn validate_containers(containers: &[Value], ctx: &PodCtx, p: &P) -> Errs {
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

fn validate_init_containers(inits: &[Value], regular: &[Value], ctx: &PodCtx, p: &P) -> Errs {
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

fn validate_ephemeral_containers(ecs: &[Value], containers: &[Value], inits: &[Value], ctx: &PodCtx, p: &P) -> Errs {
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

fn validate_container_only_for_pod(c: &Value, p: &P) -> Errs {
    let image = st(c, "image");
    if image.len() != image.trim().len() {
        vec![inv(&p.child("image"), image, "must not have leading or trailing whitespace")]
    } else {
        vec![]
    }
}

// ---------------------------------------------------------------------------------------------
// PodSpec
// ---------------------------------------------------------------------------------------------

const SYSCTL_SEGMENT: &str = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
static SYSCTL_NAME: Lazy<Regex> =
    Lazy::new(|| Regex::new(&format!("^({SYSCTL_SEGMENT}[\\./])*{SYSCTL_SEGMENT}$")).expect("static regex"));

fn sysctl_namespace(name: &str) -> &'static str {
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

fn validate_pod_security_context(spec: &Value, p: &P) -> Errs {
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

fn validate_dns_config(spec: &Value, p: &P) -> Errs {
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

fn validate_pod_os(spec: &Value, p: &P) -> Errs {
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
fn visit_containers<'a>(spec: &'a Value, p: &P) -> Vec<(P, &'a Value)> {
    let mut out = Vec::new();
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in arr(spec, key).iter().enumerate() {
            out.push((p.child(key).index(i), c));
        }
    }
    out
}

fn validate_windows_host_process(spec: &Value, p: &P) -> Errs {
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
fn validate_pod_spec_opts(spec: &Value, pod_name: Option<&str>, p: &P, is_pod: bool) -> Errs {
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

fn validate_preemption_policy(pp: &str, p: &P) -> Errs {
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

const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
const MIRROR_POD: &str = "kubernetes.io/config.mirror";
const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn valid_deletion_cost(v: &str) -> bool {
    let first_ok = match v.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => v == "0",
        Some(b'1'..=b'9') => true,
        _ => false,
    };
    first_ok && v.parse::<i32>().is_ok()
}

fn validate_seccomp_annotation_value(v: &str, p: &P) -> Errs {
    if v == "runtime/default" || v == "docker/default" || v == "unconfined" {
        return vec![];
    }
    if let Some(rest) = v.strip_prefix("localhost/") {
        return validate_local_descending_path(rest, p);
    }
    vec![inv(p, v, "must be a valid seccomp profile")]
}

/// `ValidatePodSpecificAnnotations`.
fn validate_pod_specific_annotations(meta: &Value, spec: &Value, p: &P, allow_invalid_cost: bool) -> Errs {
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
fn validate_pod_template_spec(t: &Value, p: &P) -> Errs {
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

// ---------------------------------------------------------------------------------------------
// Pod create / update
// ---------------------------------------------------------------------------------------------

fn validate_pod_metadata_and_spec(pod: &Value, allow_invalid_cost: bool) -> Errs {
    let meta = g(pod, "metadata");
    let spec = g(pod, "spec");
    let sp = P::new("spec");
    let mut errs = validate_pod_specific_annotations(meta, spec, &path("metadata.annotations"), allow_invalid_cost);
    errs.extend(validate_pod_spec_opts(spec, Some(st(meta, "name")), &sp, true));
    if st(spec, "serviceAccountName").is_empty() {
        for (vi, v) in arr(spec, "volumes").iter().enumerate() {
            if !has(v, "projected") {
                continue;
            }
            for (si, s) in arr(g(v, "projected"), "sources").iter().enumerate() {
                if has(s, "serviceAccountToken") {
                    errs.push(forb(
                        &sp.child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for key in ["containers", "initContainers"] {
        for (i, c) in arr(spec, key).iter().enumerate() {
            errs.extend(validate_container_only_for_pod(c, &sp.child(key).index(i)));
        }
    }
    errs
}

fn validate_pod_create(pod: &Value) -> Errs {
    let mut errs = validate_pod_metadata_and_spec(pod, false);
    let spec = g(pod, "spec");
    let sp = P::new("spec");
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(forb(&sp.child("ephemeralContainers"), "cannot be set on create"));
    }
    if !st(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
        errs.push(forb(&sp.child("nodeName"), "cannot be set until all schedulingGates have been cleared"));
    }
    errs
}

const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Go's field name for a v1 PodSpec JSON key (for the diff printed after the update error).
fn go_field_name(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A small `cmp.Diff`-like rendering of the differing top-level fields.
fn spec_diff(old: &Value, new: &Value, type_name: &str) -> String {
    let mut keys: Vec<&String> = Vec::new();
    for m in [old.as_object(), new.as_object()].into_iter().flatten() {
        for k in m.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let mut out = format!("  {type_name}{{\n");
    for k in keys {
        let (o, n) = (g(old, k), g(new, k));
        if sem_eq(o, n) {
            continue;
        }
        let name = go_field_name(k);
        if !o.is_null() {
            let _ = writeln!(out, "- \t{}: {},", name, serde_json::to_string(o).unwrap_or_default());
        }
        if !n.is_null() {
            let _ = writeln!(out, "+ \t{}: {},", name, serde_json::to_string(n).unwrap_or_default());
        }
    }
    out.push_str("  }\n");
    out
}

fn validate_pod_update(new: &Value, old: &Value) -> Errs {
    let old_meta = g(old, "metadata");
    let allow_invalid_cost =
        smap(old_meta, "annotations").iter().any(|(k, v)| *k == DELETION_COST && !valid_deletion_cost(v));
    let mut errs = validate_pod_metadata_and_spec(new, allow_invalid_cost);
    // ValidatePodSpecificAnnotationUpdates
    let ap = path("metadata.annotations");
    let new_ann: BTreeMap<&str, &str> = smap(g(new, "metadata"), "annotations").into_iter().collect();
    let old_ann: BTreeMap<&str, &str> = smap(old_meta, "annotations").into_iter().collect();
    for (k, ov) in &old_ann {
        if new_ann.get(k) == Some(ov) {
            continue;
        }
        if k.starts_with(APPARMOR_PREFIX) {
            errs.push(forb(&ap.key(k), "may not remove or update AppArmor annotations"));
        }
        if *k == MIRROR_POD {
            errs.push(forb(&ap.key(k), "may not remove or update mirror pod annotation"));
        }
    }
    for k in new_ann.keys() {
        if old_ann.contains_key(k) {
            continue;
        }
        if k.starts_with(APPARMOR_PREFIX) {
            errs.push(forb(&ap.key(k), "may not add AppArmor annotations"));
        }
        if *k == MIRROR_POD {
            errs.push(forb(&ap.key(k), "may not add mirror pod annotation"));
        }
    }
    let ns = g(new, "spec");
    let os = g(old, "spec");
    let sp = P::new("spec");
    for key in ["containers", "initContainers"] {
        let (nc, oc) = (arr(ns, key), arr(os, key));
        let cp = sp.child(key);
        if nc.len() != oc.len() {
            errs.push(forb(&cp, "pod updates may not add or remove containers"));
            return errs;
        }
        for (i, c) in nc.iter().enumerate() {
            let image = st(c, "image");
            if image.is_empty() {
                errs.push(req(&cp.index(i).child("image"), ""));
            }
            if image.trim().len() != image.len() {
                errs.push(inv(&cp.index(i).child("image"), image, "must not have leading or trailing whitespace"));
            }
        }
    }
    let ap = sp.child("activeDeadlineSeconds");
    match (int(ns, "activeDeadlineSeconds"), int(os, "activeDeadlineSeconds")) {
        (Some(n), old_v) => {
            if n < 0 || n > i64::from(i32::MAX) {
                errs.push(inv_raw(&ap, n, inclusive_range(0, i64::from(i32::MAX))));
                return errs;
            }
            if let Some(o) = old_v {
                if o < n {
                    errs.push(inv_raw(&ap, n, "must be less than or equal to previous value"));
                    return errs;
                }
            }
        }
        (None, Some(_)) => errs.push(inv_raw(&ap, "null", "must not update from a positive integer to nil value")),
        (None, None) => {}
    }
    // Only additions to tolerations (tolerationSeconds may change).
    let new_tols = arr(ns, "tolerations");
    let tp = sp.child("tolerations");
    let mut tol_ok = true;
    for ot in arr(os, "tolerations") {
        let found = new_tols.iter().any(|nt| {
            let mut a = ot.clone();
            if let Some(m) = a.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            let mut b = nt.clone();
            if let Some(m) = b.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            sem_eq(&a, &b)
        });
        if !found {
            errs.push(forb(&tp, "existing toleration can not be modified except its tolerationSeconds"));
            tol_ok = false;
            break;
        }
    }
    if tol_ok {
        errs.extend(validate_tolerations(new_tols, &tp));
    }
    // Only deletions of scheduling gates.
    let new_gates = arr(ns, "schedulingGates");
    if !new_gates.is_empty() {
        let old_gates: HashSet<&str> = arr(os, "schedulingGates").iter().map(|g| st(g, "name")).collect();
        let mut added: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, gt) in new_gates.iter().enumerate() {
            added.insert(st(gt, "name"), i);
        }
        for (name, i) in added {
            if !old_gates.contains(name) {
                errs.push(forb(
                    &sp.child("schedulingGates").index(i).child("name"),
                    format!("only deletion is allowed, but found new scheduling gate '{name}'"),
                ));
            }
        }
    }
    if sem_eq(ns, os) {
        return errs;
    }
    // Munge the updatable fields and compare the rest.
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let Some(list) = m.get_mut(key).and_then(Value::as_array_mut) {
                for (i, c) in list.iter_mut().enumerate() {
                    let old_image = arr(os, key).get(i).map(|oc| g(oc, "image").clone()).unwrap_or(Value::Null);
                    if let Some(co) = c.as_object_mut() {
                        if old_image.is_null() {
                            co.remove("image");
                        } else {
                            co.insert("image".into(), old_image);
                        }
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match os.get(key) {
                Some(v) => {
                    m.insert(key.into(), v.clone());
                }
                None => {
                    m.remove(key);
                }
            }
        }
        if let (Some(o), Some(n)) = (int(os, "terminationGracePeriodSeconds"), int(ns, "terminationGracePeriodSeconds"))
        {
            if o < 0 && n == 1 {
                m.insert("terminationGracePeriodSeconds".into(), Value::from(o));
            }
        }
        let gated = !arr(os, "schedulingGates").is_empty();
        if gated {
            // Additions to nodeSelector and node affinity are allowed for gated pods.
            let old_ns: Vec<(&str, &str)> = smap(os, "nodeSelector");
            let new_ns: HashMap<&str, &str> = smap(ns, "nodeSelector").into_iter().collect();
            if !sem_eq(g(ns, "nodeSelector"), g(os, "nodeSelector")) {
                if old_ns.iter().any(|(k, v)| new_ns.get(k) != Some(v)) {
                    errs.push(inv_raw(
                        &sp.child("nodeSelector"),
                        go_str_map(ns.get("nodeSelector")),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    ));
                }
                match os.get("nodeSelector") {
                    Some(v) => {
                        m.insert("nodeSelector".into(), v.clone());
                    }
                    None => {
                        m.remove("nodeSelector");
                    }
                }
            }
            let old_na = g(g(os, "affinity"), "nodeAffinity").clone();
            let new_na = g(g(ns, "affinity"), "nodeAffinity").clone();
            if !sem_eq(&old_na, &new_na) {
                let napath = sp.child("affinity").child("nodeAffinity");
                let old_terms = arr(g(&old_na, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
                let new_terms = arr(g(&new_na, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
                let tp = napath.child("requiredDuringSchedulingIgnoredDuringExecution").child("nodeSelectorTerms");
                if has(&old_na, "requiredDuringSchedulingIgnoredDuringExecution") {
                    if !old_terms.is_empty() && old_terms.len() != new_terms.len() {
                        errs.push(inv_raw(
                            &tp,
                            serde_json::to_string(new_terms).unwrap_or_default(),
                            "no additions/deletions to non-empty NodeSelectorTerms list are allowed",
                        ));
                    } else {
                        for (i, ot) in old_terms.iter().enumerate() {
                            let nt = new_terms.get(i).unwrap_or(&NULL);
                            if !term_has_only_additions(nt, ot) {
                                errs.push(inv_raw(
                                    &tp.index(i),
                                    serde_json::to_string(nt).unwrap_or_default(),
                                    "only additions are allowed (no mutations or deletions)",
                                ));
                            }
                        }
                    }
                }
                let has_aff = m.get("affinity").is_some_and(|a| !a.is_null());
                if !has_aff {
                    if !old_na.is_null() {
                        m.insert("affinity".into(), serde_json::json!({ "nodeAffinity": old_na }));
                    }
                } else {
                    let aff = m.get("affinity").cloned().unwrap_or(Value::Null);
                    let only_node = !has(&aff, "podAffinity") && !has(&aff, "podAntiAffinity");
                    if !has(os, "affinity") && only_node {
                        m.remove("affinity");
                    } else if let Some(a) = m.get_mut("affinity").and_then(Value::as_object_mut) {
                        if old_na.is_null() {
                            a.remove("nodeAffinity");
                        } else {
                            a.insert("nodeAffinity".into(), old_na.clone());
                        }
                    }
                }
            }
        }
    }
    if !sem_eq(&munged, os) {
        let diff = spec_diff(os, &munged, "core.PodSpec");
        errs.push(forb(
            &sp,
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{diff}"),
        ));
    }
    errs
}

fn term_has_only_additions(new: &Value, old: &Value) -> bool {
    let (oe, of) = (arr(old, "matchExpressions"), arr(old, "matchFields"));
    let (ne, nf) = (arr(new, "matchExpressions"), arr(new, "matchFields"));
    if oe.is_empty() && of.is_empty() && (!ne.is_empty() || !nf.is_empty()) {
        return false;
    }
    if !oe.is_empty() && (ne.len() < oe.len() || !ne.iter().zip(oe).all(|(a, b)| sem_eq(a, b))) {
        return false;
    }
    if !of.is_empty() && (nf.len() < of.len() || !nf.iter().zip(of).all(|(a, b)| sem_eq(a, b))) {
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

/// The service's clusterIPs as upstream's strategy normalizes them before validating
/// (`normalizeClusterIPs`).
fn normalized_cluster_ips(spec: &Value, old_spec: Option<&Value>) -> Vec<String> {
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

fn is_headless(ips: &[String]) -> bool {
    ips.len() == 1 && ips[0] == "None"
}

fn go_ips(ips: &[String]) -> String {
    let v: Vec<&str> = ips.iter().map(String::as_str).collect();
    go_strs(&v)
}

fn go_opt_str(v: &Value) -> String {
    match v.as_str() {
        Some(s) => go_quote(s),
        None => "null".to_string(),
    }
}

fn validate_service(svc: &Value, ips: &[String]) -> Errs {
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
    } else if hcnp == 0 {
        errs.push(req(&sp.child("healthCheckNodePort"), ""));
    } else {
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

fn validate_lb_class(old_spec: Option<&Value>, spec: &Value) -> Errs {
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

fn validate_cluster_ips_related(spec: &Value, ips: &[String], headless: bool) -> Errs {
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

fn validate_service_update(new: &Value, old: &Value) -> Errs {
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

// ---------------------------------------------------------------------------------------------
// ReplicationController, PodTemplate
// ---------------------------------------------------------------------------------------------

fn validate_rc_spec(spec: &Value) -> Errs {
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

// ---------------------------------------------------------------------------------------------
// Namespace, ConfigMap, Secret, Endpoints, Node, Event
// ---------------------------------------------------------------------------------------------

fn validate_namespace(ns: &Value) -> Errs {
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

const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// Decoded length of a base64 (standard alphabet) string, or None when malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
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

fn validate_config_map(cm: &Value) -> Errs {
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
        errs.push(too_long(&P::root(), MAX_SECRET_SIZE));
    }
    errs
}

fn validate_config_map_update(new: &Value, old: &Value) -> Errs {
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

fn validate_secret(s: &Value) -> Errs {
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
fn json_error_text(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of JSON input".to_string(),
        serde_json::error::Category::Data => {
            "json: cannot unmarshal value into Go value of type map[string]interface {}".to_string()
        }
        _ => format!("invalid character looking for beginning of value ({e})"),
    }
}

fn validate_secret_update(new: &Value, old: &Value) -> Errs {
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

fn validate_endpoint_address(a: &Value, p: &P) -> Errs {
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

fn validate_endpoints(ep: &Value) -> Errs {
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

fn validate_node_taints(taints: &[Value], p: &P) -> Errs {
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

fn node_pod_cidrs(spec: &Value) -> Vec<&str> {
    let cidrs = slist(spec, "podCIDRs");
    if cidrs.is_empty() && !st(spec, "podCIDR").is_empty() {
        vec![st(spec, "podCIDR")]
    } else {
        cidrs
    }
}

fn validate_node_resources(node: &Value) -> Errs {
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

fn validate_node(node: &Value) -> Errs {
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

fn validate_node_update(node: &Value, old: &Value) -> Errs {
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
struct EventView<'a> {
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

fn event_view(ev: &Value, events_api: bool) -> EventView<'_> {
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

fn legacy_validate_event(e: &EventView) -> Errs {
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

fn validate_event_series(e: &EventView) -> Errs {
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

fn validate_event_create(ev: &Value, events_api: bool) -> Errs {
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

fn validate_event_update(ev: &Value, old: &Value, events_api: bool) -> Errs {
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

// ---------------------------------------------------------------------------------------------
// apps: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision
// ---------------------------------------------------------------------------------------------

/// `ValidatePositiveIntOrPercent`.
fn validate_int_or_percent(v: &Value, p: &P) -> Errs {
    match v {
        Value::String(s) => is_valid_percent(s).into_iter().map(|m| inv_raw(p, s, m)).collect(),
        other => nonneg(num(other).unwrap_or(0), p),
    }
}

/// `getIntOrPercentValue` (a percent string yields its number, other strings 0).
fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(s) => {
            if is_valid_percent(s).is_empty() {
                s.trim_end_matches('%').parse::<i64>().unwrap_or(0)
            } else {
                s.parse::<i64>().unwrap_or(0)
            }
        }
        other => num(other).unwrap_or(0),
    }
}

fn not_more_than_100_percent(v: &Value, p: &P) -> Errs {
    match v {
        Value::String(s) if is_valid_percent(s).is_empty() => {
            if s.trim_end_matches('%').parse::<i64>().map(|n| n > 100).unwrap_or(true) {
                vec![inv_raw(p, s, "must not be greater than 100%")]
            } else {
                vec![]
            }
        }
        _ => vec![],
    }
}

/// Selector checks shared by Deployment and ReplicaSet, then the template.
fn validate_selector_and_template(spec: &Value, kind_word: &str, owner: &str) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let sel = g(spec, "selector");
    if sel.is_null() {
        errs.push(req(&sp.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &sp.child("selector"), false));
        if smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
            errs.push(inv_raw(
                &sp.child("selector"),
                go_selector(sel),
                format!("empty selector is invalid for {kind_word}"),
            ));
        }
    }
    match selector_of(sel) {
        Err(()) => errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "invalid label selector")),
        Ok(selector) => {
            let t = g(spec, "template");
            let tp = sp.child("template");
            let meta = g(t, "metadata");
            if !selector.empty() && !selector.matches(&labels_of(meta)) {
                errs.push(inv_raw(
                    &tp.child("metadata").child("labels"),
                    go_str_map(meta.get("labels")),
                    SELECTOR_MISMATCH,
                ));
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
                    format!("activeDeadlineSeconds in {owner} is not Supported"),
                ));
            }
        }
    }
    errs
}

fn go_rolling_update_deployment(ru: &Value) -> String {
    if ru.is_null() {
        "(*apps.RollingUpdateDeployment)(nil)".to_string()
    } else {
        format!(
            "&apps.RollingUpdateDeployment{{MaxUnavailable:{}, MaxSurge:{}}}",
            int_or_string(g(ru, "maxUnavailable")),
            int_or_string(g(ru, "maxSurge"))
        )
    }
}

fn validate_deployment(d: &Value) -> Errs {
    let spec = g(d, "spec");
    let sp = P::new("spec");
    let mut errs = nonneg(int0(spec, "replicas"), &sp.child("replicas"));
    errs.extend(validate_selector_and_template(spec, "deployment", "ReplicaSet"));
    // Strategy.
    let strat = g(spec, "strategy");
    let stp = sp.child("strategy");
    let ru = g(strat, "rollingUpdate");
    match st(strat, "type") {
        "Recreate" => {
            if !ru.is_null() {
                errs.push(forb(&stp.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => {
            if ru.is_null() {
                errs.push(req(&stp.child("rollingUpdate"), "this should be defaulted and never be nil"));
            } else {
                let rp = stp.child("rollingUpdate");
                let (mu, ms) = (g(ru, "maxUnavailable"), g(ru, "maxSurge"));
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(inv_raw(
                        &rp.child("maxUnavailable"),
                        int_or_string(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
            }
        }
        other => errs.push(unsup_raw(
            &stp,
            format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                go_rolling_update_deployment(ru)
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
    let mrs = int0(spec, "minReadySeconds");
    errs.extend(nonneg(mrs, &sp.child("minReadySeconds")));
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        errs.extend(nonneg(r, &sp.child("revisionHistoryLimit")));
    }
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        errs.extend(nonneg(pds, &sp.child("progressDeadlineSeconds")));
        if pds <= mrs {
            errs.push(inv_raw(&sp.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"));
        }
    }
    errs
}

fn validate_replica_set(rs: &Value) -> Errs {
    let spec = g(rs, "spec");
    let sp = P::new("spec");
    let mut errs = nonneg(int0(spec, "replicas"), &sp.child("replicas"));
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    errs.extend(validate_selector_and_template(spec, "deployment", "ReplicaSet"));
    errs
}

fn selector_immutable(new: &Value, old: &Value) -> Errs {
    let (n, o) = (g(g(new, "spec"), "selector"), g(g(old, "spec"), "selector"));
    if sem_eq(n, o) {
        vec![]
    } else {
        vec![inv_raw(&path("spec.selector"), go_selector(n), IMMUTABLE)]
    }
}

fn validate_daemon_set(ds: &Value) -> Errs {
    let spec = g(ds, "spec");
    let sp = P::new("spec");
    let sel = g(spec, "selector");
    let mut errs = validate_label_selector(sel, &sp.child("selector"), false);
    let t = g(spec, "template");
    let tp = sp.child("template");
    let meta = g(t, "metadata");
    if let Ok(selector) = selector_of(sel) {
        if !selector.matches(&labels_of(meta)) {
            errs.push(inv_raw(
                &tp.child("metadata").child("labels"),
                go_str_map(meta.get("labels")),
                SELECTOR_MISMATCH,
            ));
        }
    }
    if !sel.is_null() && smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
        errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "empty selector is invalid for daemonset"));
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
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    // Update strategy.
    let us = g(spec, "updateStrategy");
    let up = sp.child("updateStrategy");
    match st(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let ru = g(us, "rollingUpdate");
            if ru.is_null() {
                errs.push(req(&up.child("rollingUpdate"), ""));
            } else {
                let rp = up.child("rollingUpdate");
                let (mu, ms) = (g(ru, "maxUnavailable"), g(ru, "maxSurge"));
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100_percent(ms, &rp.child("maxSurge")));
                let (hu, hs) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                if hu && hs {
                    errs.push(inv_raw(
                        &rp.child("maxSurge"),
                        int_or_string(ms),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !hu && !hs {
                    errs.push(req(&rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
                }
            }
        }
        other => errs.push(unsup_raw(
            &up,
            format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                if has(us, "rollingUpdate") {
                    "&apps.RollingUpdateDaemonSet{...}"
                } else {
                    "(*apps.RollingUpdateDaemonSet)(nil)"
                }
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        errs.extend(nonneg(r, &sp.child("revisionHistoryLimit")));
    }
    errs
}

fn validate_stateful_set_spec(spec: &Value) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    match st(spec, "podManagementPolicy") {
        "" => errs.push(req(&sp.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(inv(&sp.child("podManagementPolicy"), other, "must be 'OrderedReady' or 'Parallel'")),
    }
    let us = g(spec, "updateStrategy");
    let up = sp.child("updateStrategy");
    let ru = g(us, "rollingUpdate");
    match st(us, "type") {
        "" => errs.push(req(&up, "")),
        "OnDelete" => {
            if !ru.is_null() {
                errs.push(inv_raw(
                    &up.child("rollingUpdate"),
                    go_struct("apps.RollingUpdateStatefulSetStrategy", ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if !ru.is_null() {
                let rp = up.child("rollingUpdate");
                errs.extend(nonneg(int0(ru, "partition"), &rp.child("partition")));
                if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    let mp = rp.child("maxUnavailable");
                    errs.extend(validate_int_or_percent(mu, &mp));
                    if int_or_percent_value(mu) == 0 {
                        errs.push(inv_raw(&mp, int_or_string(mu), "cannot be 0"));
                    }
                    errs.extend(not_more_than_100_percent(mu, &mp));
                }
            }
        }
        other => errs.push(inv_raw(
            &up,
            format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{}}}",
                go_quote(other),
                if ru.is_null() {
                    "(*apps.RollingUpdateStatefulSetStrategy)(nil)"
                } else {
                    "&apps.RollingUpdateStatefulSetStrategy{...}"
                }
            ),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let pol = g(spec, "persistentVolumeClaimRetentionPolicy");
    if !pol.is_null() {
        let pp = sp.child("persistentVolumeClaimRetentionPolicy");
        for k in ["whenDeleted", "whenScaled"] {
            let v = st(pol, k);
            if v != "Retain" && v != "Delete" {
                errs.push(unsup(&pp.child(k), v, &["Retain", "Delete"]));
            }
        }
    }
    errs.extend(nonneg(int0(spec, "replicas"), &sp.child("replicas")));
    errs.extend(nonneg(int0(spec, "minReadySeconds"), &sp.child("minReadySeconds")));
    if has(spec, "ordinals") {
        errs.extend(nonneg(int0(g(spec, "ordinals"), "start"), &sp.child("ordinals.start")));
    }
    let sel = g(spec, "selector");
    if sel.is_null() {
        errs.push(req(&sp.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &sp.child("selector"), false));
        if smap(sel, "matchLabels").is_empty() && arr(sel, "matchExpressions").is_empty() {
            errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "empty selector is invalid for statefulset"));
        }
    }
    let t = g(spec, "template");
    let tp = sp.child("template");
    match selector_of(sel) {
        Err(()) => errs.push(inv_raw(&sp.child("selector"), go_selector(sel), "")),
        Ok(selector) => {
            let meta = g(t, "metadata");
            if !selector.empty() && !selector.matches(&labels_of(meta)) {
                errs.push(inv_raw(
                    &tp.child("metadata").child("labels"),
                    go_str_map(meta.get("labels")),
                    SELECTOR_MISMATCH,
                ));
            }
            errs.extend(validate_label_map(g(meta, "labels"), &tp.child("labels")));
            errs.extend(validate_annotations(g(meta, "annotations"), &tp.child("annotations")));
            errs.extend(validate_pod_specific_annotations(meta, g(t, "spec"), &tp.child("annotations"), false));
        }
    }
    let tspec = g(t, "spec");
    let rp = st(tspec, "restartPolicy");
    if rp != "Always" {
        errs.push(unsup(&tp.child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if has(tspec, "activeDeadlineSeconds") {
        errs.push(forb(
            &tp.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

fn validate_stateful_set_update(new: &Value, old: &Value) -> Errs {
    let mut errs = validate_stateful_set_spec(g(new, "spec"));
    let mut n = g(new, "spec").clone();
    let o = g(old, "spec");
    if let Some(m) = n.as_object_mut() {
        for k in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ] {
            match o.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
    }
    if !sem_eq(&n, o) {
        errs.push(forb(
            &P::new("spec"),
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errs
}

fn validate_controller_revision(cr: &Value) -> Errs {
    let mut errs = Vec::new();
    if g(cr, "data").is_null() {
        errs.push(req(&P::new("data"), "data is mandatory"));
    }
    errs.extend(nonneg(int0(cr, "revision"), &P::new("revision")));
    errs
}

// ---------------------------------------------------------------------------------------------
// batch: Job, CronJob
// ---------------------------------------------------------------------------------------------

static DOMAIN_PREFIXED_PATH: Lazy<Regex> = Lazy::new(|| anchored(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"));

fn is_domain_prefixed_path(p: &P, v: &str) -> Errs {
    if v.is_empty() {
        return vec![req(p, "")];
    }
    let Some((host, rest)) = v.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        return vec![inv(p, v, "must be a domain-prefixed path (such as \"acme.io/foo\")")];
    };
    let mut errs: Errs = is_dns1123_subdomain(host).into_iter().map(|m| inv(p, host, m)).collect();
    if !DOMAIN_PREFIXED_PATH.is_match(rest) {
        errs.push(inv(p, rest, regex_error("Invalid path", r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+", &[])));
    }
    errs
}

/// `parseIndexInterval` / `validateIndexesFormat`; returns the number of indexes.
fn validate_indexes_format(s: &str, completions: i64) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0i64;
    for interval in s.split(',') {
        let parts: Vec<&str> = interval.split('-').collect();
        if parts.len() > 2 {
            return Err(format!(
                "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
                go_quote(interval)
            ));
        }
        let parse = |x: &str| -> Result<i64, String> {
            let n: i64 =
                x.parse().map_err(|_| format!("cannot convert string to integer for index: {}", go_quote(x)))?;
            if n >= completions {
                return Err(format!("too large index: {}", go_quote(x)));
            }
            Ok(n)
        };
        let x = parse(parts[0])?;
        let y = if parts.len() > 1 {
            let y = parse(parts[1])?;
            if x >= y {
                return Err(format!("non-increasing order, previous: {x}, current: {y}"));
            }
            y
        } else {
            x
        };
        if let Some(l) = last {
            if l >= x {
                return Err(format!("non-increasing order, previous: {l}, current: {x}"));
            }
        }
        total = total.saturating_add(y - x + 1);
        last = Some(y);
    }
    Ok(total)
}

const POD_FAILURE_ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];

fn validate_pod_failure_policy(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let pfp = g(spec, "podFailurePolicy");
    let rules = arr(pfp, "rules");
    let rp = p.child("rules");
    if rules.len() > 20 {
        errs.push(too_many(&rp, rules.len(), 20));
    }
    let tspec = g(g(spec, "template"), "spec");
    let names: HashSet<&str> =
        arr(tspec, "containers").iter().chain(arr(tspec, "initContainers")).map(|c| st(c, "name")).collect();
    for (i, rule) in rules.iter().enumerate() {
        let rulep = rp.index(i);
        let ap = rulep.child("action");
        let action = st(rule, "action");
        if action.is_empty() {
            errs.push(req(&ap, "valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]"));
        } else if action == "FailIndex" {
            if !has(spec, "backoffLimitPerIndex") {
                errs.push(inv(&ap, action, "requires the backoffLimitPerIndex to be set"));
            }
        } else if !POD_FAILURE_ACTIONS.contains(&action) {
            errs.push(unsup(&ap, action, POD_FAILURE_ACTIONS));
        }
        let oec = g(rule, "onExitCodes");
        let opc = arr(rule, "onPodConditions");
        if !oec.is_null() {
            let ep = rulep.child("onExitCodes");
            let op = st(oec, "operator");
            let opp = ep.child("operator");
            if op.is_empty() {
                errs.push(req(&opp, "valid values: [\"In\" \"NotIn\"]"));
            } else if op != "In" && op != "NotIn" {
                errs.push(unsup(&opp, op, &["In", "NotIn"]));
            }
            if let Some(cn) = oec.get("containerName").and_then(Value::as_str) {
                if !names.contains(cn) {
                    errs.push(inv(
                        &ep.child("containerName"),
                        cn,
                        "must be one of the container or initContainer names in the pod template",
                    ));
                }
            }
            let values: Vec<i64> = arr(oec, "values").iter().map(|v| num(v).unwrap_or(0)).collect();
            let vp = ep.child("values");
            let go_ints = |vals: &[i64]| {
                format!("[]int32{{{}}}", vals.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
            };
            if values.is_empty() {
                errs.push(inv_raw(&vp, go_ints(&values), "at least one value is required"));
            } else if values.len() > 255 {
                errs.push(too_many(&vp, values.len(), 255));
            }
            let mut seen = HashSet::new();
            let mut ordered = true;
            for (j, v) in values.iter().enumerate() {
                if op == "In" && *v == 0 {
                    errs.push(inv_raw(&vp.index(j), v, "must not be 0 for the In operator"));
                }
                if !seen.insert(*v) {
                    errs.push(dup_raw(&vp.index(j), v));
                }
                if j > 0 && values[j - 1] > *v {
                    ordered = false;
                }
            }
            if !ordered {
                errs.push(inv_raw(&vp, go_ints(&values), "must be ordered"));
            }
        }
        if !opc.is_empty() {
            let cp = rulep.child("onPodConditions");
            if opc.len() > 20 {
                errs.push(too_many(&cp, opc.len(), 20));
            }
            for (j, pat) in opc.iter().enumerate() {
                let pp = cp.index(j);
                errs.extend(qualified_name_errs(st(pat, "type"), &pp.child("type")));
                let status = st(pat, "status");
                if status.is_empty() {
                    errs.push(req(&pp.child("status"), "valid values: [\"False\" \"True\" \"Unknown\"]"));
                } else if !["False", "True", "Unknown"].contains(&status) {
                    errs.push(unsup(&pp.child("status"), status, &["False", "True", "Unknown"]));
                }
            }
        }
        if !oec.is_null() && !opc.is_empty() {
            errs.push(mk(
                ErrorType::Invalid,
                &rulep,
                None,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if oec.is_null() && opc.is_empty() {
            errs.push(mk(
                ErrorType::Invalid,
                &rulep,
                None,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
    errs
}

fn validate_success_policy(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    let rules = arr(g(spec, "successPolicy"), "rules");
    let rp = p.child("rules");
    if rules.is_empty() {
        errs.push(req(&rp, "at least one rules must be specified when the successPolicy is specified"));
    }
    if rules.len() > 20 {
        errs.push(too_many(&rp, rules.len(), 20));
    }
    let completions = int0(spec, "completions");
    for (i, rule) in rules.iter().enumerate() {
        let rulep = rp.index(i);
        let count = int(rule, "succeededCount");
        let indexes = rule.get("succeededIndexes").and_then(Value::as_str);
        if count.is_none() && indexes.is_none() {
            errs.push(req(&rulep, "at least one of succeededCount or succeededIndexes must be specified"));
        }
        let mut total = 0;
        if let Some(ix) = indexes {
            let ip = rulep.child("succeededIndexes");
            if ix.len() > 64 * 1024 {
                errs.push(too_long(&ip, 64 * 1024));
            }
            match validate_indexes_format(ix, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(inv(&ip, ix, format!("error parsing succeededIndexes: {e}"))),
            }
        }
        if let Some(c) = count {
            let cp = rulep.child("succeededCount");
            errs.extend(nonneg(c, &cp));
            if c > completions {
                errs.push(inv_raw(
                    &cp,
                    c,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if indexes.is_some() && c > total {
                errs.push(inv_raw(&cp, c, format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)")));
            }
        }
    }
    errs
}

/// upstream `validateJobSpec` (without the selector checks).
fn validate_job_spec_inner(spec: &Value, p: &P) -> Errs {
    let mut errs = Vec::new();
    for k in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ] {
        if let Some(v) = int(spec, k) {
            errs.extend(nonneg(v, &p.child(k)));
        }
    }
    let mfi = int(spec, "maxFailedIndexes");
    let blpi = int(spec, "backoffLimitPerIndex");
    let completions = int(spec, "completions");
    let parallelism = int(spec, "parallelism");
    if let Some(v) = mfi {
        errs.extend(nonneg(v, &p.child("maxFailedIndexes")));
        if blpi.is_none() {
            errs.push(req(&p.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
        }
    }
    if let Some(mb) = spec.get("managedBy").and_then(Value::as_str) {
        let mp = p.child("managedBy");
        errs.extend(is_domain_prefixed_path(&mp, mb));
        if mb.len() > 63 {
            errs.push(mk(ErrorType::TooLong, &mp, None, "may not be longer than 63"));
        }
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(unsup(&p.child("completionMode"), m, &["NonIndexed", "Indexed"]));
        }
        if m == "Indexed" {
            if completions.is_none() {
                errs.push(req(&p.child("completions"), "when completion mode is Indexed"));
            }
            if let Some(par) = parallelism.filter(|v| *v > 100_000) {
                errs.push(inv_raw(
                    &p.child("parallelism"),
                    par,
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
            if let (Some(c), Some(f)) = (completions, mfi) {
                if f > c {
                    errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to completions"));
                }
            }
            if let Some(f) = mfi.filter(|f| *f > 100_000) {
                errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to 100000"));
            }
            if completions.is_some_and(|c| c > 100_000) && blpi.is_some() {
                if mfi.is_none() {
                    errs.push(req(&p.child("maxFailedIndexes"), "must be specified when completions is above 100000"));
                }
                if let Some(par) = parallelism.filter(|v| *v > 10_000) {
                    errs.push(inv_raw(&p.child("parallelism"), par, "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"));
                }
                if let Some(f) = mfi.filter(|f| *f > 10_000) {
                    errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index"));
                }
            }
        }
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        if let Some(b) = blpi {
            errs.push(inv_raw(&p.child("backoffLimitPerIndex"), b, "requires indexed completion mode"));
        }
        if let Some(f) = mfi {
            errs.push(inv_raw(&p.child("maxFailedIndexes"), f, "requires indexed completion mode"));
        }
    }
    let has_pfp = has(spec, "podFailurePolicy");
    if has_pfp {
        errs.extend(validate_pod_failure_policy(spec, &p.child("podFailurePolicy")));
    }
    if has(spec, "successPolicy") {
        if mode != Some("Indexed") {
            errs.push(inv_raw(
                &p.child("successPolicy"),
                go_struct("batch.SuccessPolicy", g(spec, "successPolicy")),
                "requires indexed completion mode",
            ));
        } else {
            errs.extend(validate_success_policy(spec, &p.child("successPolicy")));
        }
    }
    if let Some(prp) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let pp = p.child("podReplacementPolicy");
        if has_pfp {
            if prp != "Failed" {
                errs.push(unsup(&pp, prp, &["Failed"]));
            }
        } else if prp != "Failed" && prp != "TerminatingOrFailed" {
            errs.push(unsup(&pp, prp, &["Failed", "TerminatingOrFailed"]));
        }
    }
    let t = g(spec, "template");
    let tp = p.child("template");
    errs.extend(validate_pod_template_spec(t, &tp));
    let rp = st(g(t, "spec"), "restartPolicy");
    let rpp = tp.child("spec").child("restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(req(&rpp, "valid values: \"OnFailure\", \"Never\""));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(unsup(&rpp, rp, &["OnFailure", "Never"]));
    } else if has_pfp && rp != "Never" {
        errs.push(inv(&rpp, rp, "only \"Never\" is supported when podFailurePolicy is specified"));
    }
    errs
}

/// upstream `ValidateJobSpec`: spec plus the selector and its match with the template.
///
/// Upstream's strategy generates the selector before validating unless `manualSelector` is
/// set; when it is still missing here it is left to the server to generate.
fn validate_job_spec(spec: &Value, p: &P) -> Errs {
    let mut errs = validate_job_spec_inner(spec, p);
    let sel = g(spec, "selector");
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if sel.is_null() && !manual {
        return errs;
    }
    if sel.is_null() {
        errs.push(req(&p.child("selector"), ""));
    } else {
        errs.extend(validate_label_selector(sel, &p.child("selector"), false));
    }
    if let Ok(selector) = selector_of(sel) {
        let meta = g(g(spec, "template"), "metadata");
        if !selector.matches(&labels_of(meta)) {
            errs.push(inv_raw(
                &p.child("template").child("metadata").child("labels"),
                go_str_map(meta.get("labels")),
                SELECTOR_MISMATCH,
            ));
        }
    }
    errs
}

fn validate_has_label(meta: &Value, p: &P, key: &str, expected: &str) -> Errs {
    let labels = labels_of(meta);
    let lp = p.child("labels").key(key);
    match labels.get(key) {
        None => vec![req(&lp, format!("must be '{expected}'"))],
        Some(v) if v != expected => vec![inv_raw(&lp, go_str_map(meta.get("labels")), format!("must be '{expected}'"))],
        _ => vec![],
    }
}

/// upstream `ValidateJob` (metadata is validated elsewhere).
fn validate_job(job: &Value, require_prefixed_labels: bool) -> Errs {
    let mut errs = Vec::new();
    let meta = g(job, "metadata");
    let spec = g(job, "spec");
    let uid = st(meta, "uid");
    let name = st(meta, "name");
    // validateGeneratedSelector: only once the server has generated selector and labels.
    let tm = g(g(spec, "template"), "metadata");
    let generated =
        ["controller-uid", "batch.kubernetes.io/controller-uid"].iter().any(|k| labels_of(tm).contains_key(*k));
    if spec.get("manualSelector").and_then(Value::as_bool) != Some(true)
        && has(spec, "selector")
        && !uid.is_empty()
        && generated
    {
        let tmp = path("spec.template.metadata");
        errs.extend(validate_has_label(tm, &tmp, "controller-uid", uid));
        errs.extend(validate_has_label(tm, &tmp, "job-name", name));
        let mut expected = BTreeMap::new();
        if require_prefixed_labels {
            errs.extend(validate_has_label(tm, &tmp, "batch.kubernetes.io/controller-uid", uid));
            errs.extend(validate_has_label(tm, &tmp, "batch.kubernetes.io/job-name", name));
            expected.insert("batch.kubernetes.io/controller-uid".to_string(), uid.to_string());
            expected.insert("batch.kubernetes.io/job-name".to_string(), name.to_string());
        }
        expected.insert("controller-uid".to_string(), uid.to_string());
        expected.insert("job-name".to_string(), name.to_string());
        if let Ok(sel) = selector_of(g(spec, "selector")) {
            if !sel.matches(&expected) {
                errs.push(inv_raw(
                    &path("spec.selector"),
                    go_selector(g(spec, "selector")),
                    "`selector` not auto-generated",
                ));
            }
        }
    }
    errs.extend(validate_job_spec(spec, &P::new("spec")));
    if spec.get("completionMode").and_then(Value::as_str) == Some("Indexed") {
        if let Some(c) = int(spec, "completions").filter(|c| *c > 0) {
            let host = format!("{}-{}", name, c - 1);
            if !is_dns1123_label(&host).is_empty() {
                errs.push(inv(
                    &path("metadata.name"),
                    name,
                    format!("will not able to create pod with invalid DNS label: {host}"),
                ));
            }
        }
    }
    errs
}

fn immutable_field(new: &Value, old: &Value, p: &P, render: impl Fn(&Value) -> String) -> Errs {
    if sem_eq(new, old) {
        vec![]
    } else {
        vec![inv_raw(p, render(new), IMMUTABLE)]
    }
}

fn render_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

fn validate_job_update(new: &Value, old: &Value) -> Errs {
    let (ns, os) = (g(new, "spec"), g(old, "spec"));
    let require_prefixed = labels_of(g(g(os, "template"), "metadata")).contains_key("batch.kubernetes.io/job-name");
    let mut errs = validate_job(new, require_prefixed);
    let sp = P::new("spec");
    errs.extend(validate_job_spec(ns, &sp));
    // completions: immutable, except for Indexed jobs scaled together with parallelism.
    let cp = sp.child("completions");
    if ns.get("completionMode").and_then(Value::as_str) == Some("Indexed") {
        if !sem_eq(g(ns, "completions"), g(os, "completions")) {
            if let Some(c) = int(ns, "completions") {
                if Some(c) != int(ns, "parallelism") {
                    errs.push(inv_raw(&cp, c, "can only be modified in tandem with spec.parallelism"));
                }
            }
        }
    } else {
        errs.extend(immutable_field(g(ns, "completions"), g(os, "completions"), &cp, render_scalar));
    }
    errs.extend(immutable_field(g(ns, "selector"), g(os, "selector"), &sp.child("selector"), go_selector));
    // Template: immutable; scheduling directives are mutable while suspended and never started.
    let mutable_sched = os.get("suspend").and_then(Value::as_bool) == Some(true) && !has(g(old, "status"), "startTime");
    let nt = g(ns, "template");
    let mut ot = g(os, "template").clone();
    if mutable_sched {
        let nspec = g(nt, "spec");
        if let Some(o) = ot.as_object_mut() {
            let meta = o.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            if let Some(mm) = meta.as_object_mut() {
                for k in ["labels", "annotations"] {
                    match g(g(nt, "metadata"), k) {
                        Value::Null => {
                            mm.remove(k);
                        }
                        v => {
                            mm.insert(k.into(), v.clone());
                        }
                    }
                }
            }
            let spec = o.entry("spec").or_insert_with(|| Value::Object(Map::new()));
            if let Some(sm) = spec.as_object_mut() {
                for k in ["nodeSelector", "tolerations", "schedulingGates"] {
                    match g(nspec, k) {
                        Value::Null => {
                            sm.remove(k);
                        }
                        v => {
                            sm.insert(k.into(), v.clone());
                        }
                    }
                }
                let new_aff = g(nspec, "affinity");
                let old_aff = sm.get("affinity").cloned().unwrap_or(Value::Null);
                if new_aff.is_null() && !old_aff.is_null() {
                    let mut a = old_aff.clone();
                    if let Some(am) = a.as_object_mut() {
                        am.remove("nodeAffinity");
                    }
                    if is_zero_value(&a) {
                        sm.remove("affinity");
                    } else {
                        sm.insert("affinity".into(), a);
                    }
                } else if !new_aff.is_null() && old_aff.is_null() {
                    let na = g(new_aff, "nodeAffinity");
                    sm.insert(
                        "affinity".into(),
                        if na.is_null() { serde_json::json!({}) } else { serde_json::json!({ "nodeAffinity": na }) },
                    );
                } else if !new_aff.is_null() {
                    let mut a = old_aff.clone();
                    if let Some(am) = a.as_object_mut() {
                        match g(new_aff, "nodeAffinity") {
                            Value::Null => {
                                am.remove("nodeAffinity");
                            }
                            v => {
                                am.insert("nodeAffinity".into(), v.clone());
                            }
                        }
                    }
                    sm.insert("affinity".into(), a);
                }
            }
        }
    }
    errs.extend(immutable_field(nt, &ot, &sp.child("template"), |v| go_struct("core.PodTemplateSpec", v)));
    errs.extend(immutable_field(
        g(ns, "completionMode"),
        g(os, "completionMode"),
        &sp.child("completionMode"),
        render_scalar,
    ));
    errs.extend(immutable_field(
        g(ns, "podFailurePolicy"),
        g(os, "podFailurePolicy"),
        &sp.child("podFailurePolicy"),
        |v| go_struct("batch.PodFailurePolicy", v),
    ));
    errs.extend(immutable_field(
        g(ns, "backoffLimitPerIndex"),
        g(os, "backoffLimitPerIndex"),
        &sp.child("backoffLimitPerIndex"),
        render_scalar,
    ));
    errs.extend(immutable_field(g(ns, "managedBy"), g(os, "managedBy"), &sp.child("managedBy"), render_scalar));
    errs.extend(immutable_field(g(ns, "successPolicy"), g(os, "successPolicy"), &sp.child("successPolicy"), |v| {
        go_struct("batch.SuccessPolicy", v)
    }));
    errs
}

// --- cron schedules (robfig/cron v3 ParseStandard) ---

fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix('+').or_else(|| s.strip_prefix('-')).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

fn cron_parse_int(expr: &str) -> Result<i64, String> {
    let n = go_atoi(expr).map_err(|e| format!("failed to parse int from {expr}: {e}"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    Ok(n)
}

fn cron_field(field: &str, min: i64, max: i64, names: &[&str], names_base: i64) -> Result<(), String> {
    for expr in field.split(',').filter(|s| !s.is_empty()) {
        let range_and_step: Vec<&str> = expr.split('/').collect();
        let low_high: Vec<&str> = range_and_step[0].split('-').collect();
        let single = low_high.len() == 1;
        let named = |s: &str| -> Result<i64, String> {
            let lower = s.to_lowercase();
            if let Some(i) = names.iter().position(|n| *n == lower) {
                return Ok(i as i64 + names_base);
            }
            cron_parse_int(s)
        };
        let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
            (min, max)
        } else {
            let start = named(low_high[0])?;
            match low_high.len() {
                1 => (start, start),
                2 => (start, named(low_high[1])?),
                _ => return Err(format!("too many hyphens: {expr}")),
            }
        };
        let step = match range_and_step.len() {
            1 => 1,
            2 => {
                let s = cron_parse_int(range_and_step[1])?;
                if single {
                    end = max;
                }
                s
            }
            _ => return Err(format!("too many slashes: {expr}")),
        };
        if start < min {
            return Err(format!("beginning of range ({start}) below minimum ({min}): {expr}"));
        }
        if end > max {
            return Err(format!("end of range ({end}) above maximum ({max}): {expr}"));
        }
        if start > end {
            return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
        }
        if step == 0 {
            return Err(format!("step of range should be a positive number: {expr}"));
        }
    }
    Ok(())
}

/// Go's `time.ParseDuration` (syntax only).
fn go_parse_duration(s: &str) -> Result<(), String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = s.strip_prefix('-').or_else(|| s.strip_prefix('+')).unwrap_or(s);
    if s == "0" {
        return Ok(());
    }
    if s.is_empty() {
        return Err(err());
    }
    while !s.is_empty() {
        let digits_end = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
        let number = &s[..digits_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err());
        }
        s = &s[digits_end..];
        let unit_end = s.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(s.len());
        let unit = &s[..unit_end];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
            return Err(format!("time: unknown unit {} in duration {}", go_quote(unit), go_quote(orig)));
        }
        s = &s[unit_end..];
    }
    Ok(())
}

const TZ_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Brazil",
    "Canada",
    "Chile",
    "Etc",
    "Europe",
    "Indian",
    "Mexico",
    "Pacific",
    "US",
];
const TZ_NAMES: &[&str] = &[
    "UTC",
    "GMT",
    "UCT",
    "Universal",
    "Zulu",
    "Greenwich",
    "EST",
    "MST",
    "HST",
    "EST5EDT",
    "CST6CDT",
    "MST7MDT",
    "PST8PDT",
    "CET",
    "EET",
    "MET",
    "WET",
    "Cuba",
    "Egypt",
    "Eire",
    "GB",
    "GB-Eire",
    "Hongkong",
    "Iceland",
    "Iran",
    "Israel",
    "Jamaica",
    "Japan",
    "Kwajalein",
    "Libya",
    "NZ",
    "NZ-CHAT",
    "Navajo",
    "PRC",
    "Poland",
    "Portugal",
    "ROC",
    "ROK",
    "Singapore",
    "Turkey",
    "W-SU",
    "GMT0",
    "GMT+0",
    "GMT-0",
];

/// `time.LoadLocation` without a tz database: known names and Area/Location shapes.
fn load_location(tz: &str) -> Result<(), String> {
    if tz.is_empty() || tz == "UTC" || tz == "Local" || TZ_NAMES.contains(&tz) {
        return Ok(());
    }
    if let Some((area, rest)) = tz.split_once('/') {
        if TZ_AREAS.contains(&area)
            && !rest.is_empty()
            && rest.split('/').all(|p| {
                !p.is_empty()
                    && p.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || area == "Etc")
            })
        {
            return Ok(());
        }
    }
    Err(format!("unknown time zone {tz}"))
}

fn parse_cron_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let eq = spec.find('=').unwrap_or(0);
        let Some(sp) = spec.find(' ') else {
            return Err(format!("provided bad location {}: unknown time zone {}", &spec[eq + 1..], &spec[eq + 1..]));
        };
        let loc = spec.get(eq + 1..sp).unwrap_or("");
        if let Err(e) = load_location(loc) {
            return Err(format!("provided bad location {loc}: {e}"));
        }
        spec = spec[sp..].trim();
    }
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => match spec.strip_prefix("@every ") {
                Some(d) => go_parse_duration(d).map_err(|e| format!("failed to parse duration {spec}: {e}")),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DOW: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    cron_field(fields[0], 0, 59, &[], 0)?;
    cron_field(fields[1], 0, 23, &[], 0)?;
    cron_field(fields[2], 1, 31, &[], 0)?;
    cron_field(fields[3], 1, 12, MONTHS, 1)?;
    cron_field(fields[4], 0, 6, DOW, 0)?;
    Ok(())
}

static TZ_PART: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[A-Za-z\.\-_0-9+]{1,14}$").expect("static regex"));

fn validate_time_zone(tz: &Value, p: &P) -> Errs {
    let Some(tz) = tz.as_str() else { return vec![] };
    if tz.is_empty() {
        return vec![inv(p, tz, "timeZone must be nil or non-empty string")];
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !TZ_PART.is_match(part) {
            return vec![inv(p, tz, format!("unknown time zone {tz}"))];
        }
    }
    let mut errs = Vec::new();
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(inv(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    }
    if let Err(e) = load_location(tz) {
        errs.push(inv(p, tz, e));
    }
    errs
}

fn validate_cron_job_spec(spec: &Value, old_spec: Option<&Value>) -> Errs {
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let schedule = st(spec, "schedule");
    let schp = sp.child("schedule");
    if schedule.is_empty() {
        errs.push(req(&schp, ""));
    } else {
        let allow_tz = old_spec.is_some_and(|o| st(o, "schedule").contains("TZ"));
        if let Err(e) = parse_cron_standard(schedule) {
            errs.push(inv(&schp, schedule, e));
        }
        if allow_tz && schedule.contains("TZ") && has(spec, "timeZone") {
            errs.push(inv(&schp, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(inv(&schp, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
    }
    if let Some(sds) = int(spec, "startingDeadlineSeconds") {
        errs.extend(nonneg(sds, &sp.child("startingDeadlineSeconds")));
    }
    if old_spec.is_none_or(|o| g(o, "timeZone") != g(spec, "timeZone")) {
        errs.extend(validate_time_zone(g(spec, "timeZone"), &sp.child("timeZone")));
    }
    match st(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(req(&sp.child("concurrencyPolicy"), "")),
        other => errs.push(unsup(&sp.child("concurrencyPolicy"), other, &["Allow", "Forbid", "Replace"])),
    }
    let jt = g(spec, "jobTemplate");
    let jp = sp.child("jobTemplate");
    let jspec = g(jt, "spec");
    errs.extend(validate_job_spec_inner(jspec, &jp.child("spec")));
    if has(jspec, "selector") {
        errs.push(inv_raw(
            &jp.child("spec").child("selector"),
            go_selector(g(jspec, "selector")),
            "`selector` will be auto-generated",
        ));
    }
    if jspec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(unsup_raw(&jp.child("spec").child("manualSelector"), true, &["nil", "false"]));
    }
    for k in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        if let Some(v) = int(spec, k) {
            errs.extend(nonneg(v, &sp.child(k)));
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// discovery: EndpointSlice
// ---------------------------------------------------------------------------------------------

fn is_fully_qualified_domain_name(p: &P, name: &str) -> Errs {
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

fn validate_endpoint_slice(es: &Value, valid_types: &[&str]) -> Errs {
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

// ---------------------------------------------------------------------------------------------
// coordination, scheduling, rbac, certificates, policy
// ---------------------------------------------------------------------------------------------

fn validate_lease(lease: &Value) -> Errs {
    let spec = g(lease, "spec");
    let sp = P::new("spec");
    let mut errs = Vec::new();
    if let Some(d) = int(spec, "leaseDurationSeconds") {
        if d <= 0 {
            errs.push(inv_raw(&sp.child("leaseDurationSeconds"), d, "must be greater than 0"));
        }
    }
    if let Some(t) = int(spec, "leaseTransitions") {
        if t < 0 {
            errs.push(inv_raw(&sp.child("leaseTransitions"), t, "must be greater than or equal to 0"));
        }
    }
    let strategy = spec.get("strategy").and_then(Value::as_str);
    if let Some(s) = strategy {
        let fp = sp.child("strategy").child("strategy");
        if !s.contains('/') {
            if s != "OldestEmulationVersion" {
                errs.push(unsup(&fp, s, &["OldestEmulationVersion"]));
            }
        } else {
            errs.extend(qualified_name_errs(s, &fp));
        }
    }
    if spec.get("preferredHolder").and_then(Value::as_str).is_some_and(|h| !h.is_empty())
        && strategy.is_none_or(str::is_empty)
    {
        errs.push(forb(&sp.child("preferredHolder"), "may only be specified if `strategy` is defined"));
    }
    errs
}

fn validate_priority_class(pc: &Value) -> Errs {
    let mut errs = Vec::new();
    let name = st(g(pc, "metadata"), "name");
    let value = int0(pc, "value");
    let global_default = flag(pc, "globalDefault");
    if name.starts_with("system-") {
        let known: &[(&str, i64)] =
            &[("system-node-critical", 2_000_001_000), ("system-cluster-critical", 2_000_000_000)];
        let err = match known.iter().find(|(n, _)| *n == name) {
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global_default => Some(format!("globalDefault of {n} PriorityClass must be false")),
            Some(_) => None,
            None => Some(format!("{name} is not a known system priority class")),
        };
        if let Some(e) = err {
            errs.push(forb(
                &path("metadata.name"),
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if value > 1_000_000_000 {
        errs.push(forb(&P::new("value"), "maximum allowed value of a user defined priority is 1000000000"));
    }
    if let Some(pp) = pc.get("preemptionPolicy").and_then(Value::as_str) {
        errs.extend(validate_preemption_policy(pp, &P::new("preemptionPolicy")));
    }
    errs
}

fn validate_priority_class_update(new: &Value, old: &Value) -> Errs {
    let mut errs = Vec::new();
    if int0(new, "value") != int0(old, "value") {
        errs.push(forb(&P::new("value"), "may not be changed in an update."));
    }
    errs.extend(immutable_field(
        g(new, "preemptionPolicy"),
        g(old, "preemptionPolicy"),
        &P::new("preemptionPolicy"),
        render_scalar,
    ));
    errs
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_policy_rule(rule: &Value, namespaced: bool, p: &P) -> Errs {
    let mut errs = Vec::new();
    if arr(rule, "verbs").is_empty() {
        errs.push(req(&p.child("verbs"), "verbs must contain at least one value"));
    }
    let nru = slist(rule, "nonResourceURLs");
    if !nru.is_empty() {
        if namespaced {
            errs.push(inv_raw(
                &p.child("nonResourceURLs"),
                go_strs(&nru),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !arr(rule, "apiGroups").is_empty()
            || !arr(rule, "resources").is_empty()
            || !arr(rule, "resourceNames").is_empty()
        {
            errs.push(inv_raw(
                &p.child("nonResourceURLs"),
                go_strs(&nru),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if arr(rule, "apiGroups").is_empty() {
        errs.push(req(&p.child("apiGroups"), "resource rules must supply at least one api group"));
    }
    let resources = arr(rule, "resources");
    if resources.is_empty() {
        errs.push(req(&p.child("resources"), "resource rules must supply at least one resource"));
    }
    if !arr(rule, "resourceNames").is_empty() && resources.len() > 1 {
        errs.push(req(&p.child("resourceNames"), "resource names cannot apply to multiple resources"));
    }
    errs
}

fn validate_role(role: &Value, namespaced: bool) -> Errs {
    let mut errs = Vec::new();
    for (i, r) in arr(role, "rules").iter().enumerate() {
        errs.extend(validate_policy_rule(r, namespaced, &P::new("rules").index(i)));
    }
    if !namespaced && has(role, "aggregationRule") {
        let sels = arr(g(role, "aggregationRule"), "clusterRoleSelectors");
        let sp = path("aggregationRule.clusterRoleSelectors");
        if sels.is_empty() {
            errs.push(req(&sp, "at least one clusterRoleSelector required if aggregationRule is non-nil"));
        }
        for (i, s) in sels.iter().enumerate() {
            errs.extend(validate_label_selector(s, &sp.index(i), false));
            if selector_of(s).is_err() {
                errs.push(inv_raw(&sp.index(i), go_selector(s), "invalid label selector."));
            }
        }
    }
    errs
}

fn validate_role_binding(rb: &Value, namespaced: bool) -> Errs {
    let mut errs = Vec::new();
    let rr = g(rb, "roleRef");
    let group = st(rr, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(unsup(&path("roleRef.apiGroup"), group, &[RBAC_GROUP]));
    }
    let kind = st(rr, "kind");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errs.push(unsup(&path("roleRef.kind"), kind, kinds));
    }
    let name = st(rr, "name");
    if name.is_empty() {
        errs.push(req(&path("roleRef.name"), ""));
    } else {
        for m in is_path_segment_name(name) {
            errs.push(inv(&path("roleRef.name"), name, m));
        }
    }
    for (i, s) in arr(rb, "subjects").iter().enumerate() {
        let sp = P::new("subjects").index(i);
        let name = st(s, "name");
        let group = st(s, "apiGroup");
        if name.is_empty() {
            errs.push(req(&sp.child("name"), ""));
        }
        match st(s, "kind") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    for m in is_dns1123_subdomain(name) {
                        errs.push(inv(&sp.child("name"), name, m));
                    }
                }
                if !group.is_empty() {
                    errs.push(unsup(&sp.child("apiGroup"), group, &[""]));
                }
                if !namespaced && st(s, "namespace").is_empty() {
                    errs.push(req(&sp.child("namespace"), ""));
                }
            }
            k @ ("User" | "Group") => {
                if name.is_empty() {
                    let what = if k == "User" { "user" } else { "group" };
                    errs.push(inv(&sp.child("name"), name, format!("{what} name cannot be empty")));
                }
                if group != RBAC_GROUP {
                    errs.push(unsup(&sp.child("apiGroup"), group, &[RBAC_GROUP]));
                }
            }
            other => errs.push(unsup(&sp.child("kind"), other, &["ServiceAccount", "User", "Group"])),
        }
    }
    errs
}

fn validate_role_binding_update(new: &Value, old: &Value) -> Errs {
    let (n, o) = (g(new, "roleRef"), g(old, "roleRef"));
    let key = |r: &Value| (st(r, "apiGroup").to_string(), st(r, "kind").to_string(), st(r, "name").to_string());
    if key(n) != key(o) {
        let (a, k, nm) = key(n);
        vec![inv_raw(
            &P::new("roleRef"),
            format!("rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}", go_quote(&a), go_quote(&k), go_quote(&nm)),
            "cannot change roleRef",
        )]
    } else {
        vec![]
    }
}

/// `ValidateSignerName`.
fn validate_signer_name(p: &P, signer: &str) -> Errs {
    if signer.is_empty() {
        return vec![req(p, "")];
    }
    let segs: Vec<&str> = signer.split('/').collect();
    if segs.len() != 2 {
        return vec![inv(p, signer, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
    }
    let mut errs = Vec::new();
    if segs[0].len() > 253 {
        errs.push(too_long(p, 253));
    }
    let labels: Vec<&str> = segs[0].split('.').collect();
    for l in &labels {
        let e = is_dns1123_label(l);
        if !e.is_empty() {
            for m in e {
                errs.push(inv(p, segs[0], format!("validating label {}: {}", go_quote(l), m)));
            }
            break;
        }
    }
    if labels.len() < 2 {
        errs.push(inv(p, segs[0], "should be a domain with at least two segments separated by dots"));
    }
    for l in segs[1].split('.') {
        let e = is_dns1123_subdomain(l);
        if !e.is_empty() {
            for m in e {
                errs.push(inv(p, segs[1], format!("validating label {}: {}", go_quote(l), m)));
            }
            break;
        }
    }
    let max = 253 + 63 + 1 + 253 + 1;
    if signer.len() > max {
        errs.push(too_long(p, max));
    }
    errs
}

const KEY_USAGES: &[&str] = &[
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

fn go_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "[]byte(nil)".to_string();
    }
    let body: Vec<String> = b.iter().map(|x| format!("0x{x:x}")).collect();
    format!("[]byte{{{}}}", body.join(", "))
}

/// The first PEM block of `data`: (type, base64 body) or None.
fn pem_block(data: &str) -> Option<(String, String)> {
    let start = data.find("-----BEGIN ")?;
    let rest = &data[start + 11..];
    let type_end = rest.find("-----")?;
    let ty = rest[..type_end].to_string();
    let body_start = &rest[type_end + 5..];
    let end_marker = format!("-----END {ty}-----");
    let end = body_start.find(&end_marker)?;
    Some((ty, body_start[..end].trim().to_string()))
}

fn validate_csr(csr: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    let spec = g(csr, "spec");
    let sp = P::new("spec");
    let req_b64 = st(spec, "request");
    let raw = base64_decode(req_b64).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw);
    let err = match pem_block(&text) {
        Some((ty, body)) if ty == "CERTIFICATE REQUEST" => match base64_decode(&body) {
            Some(der) if der.first() == Some(&0x30) && der.len() > 2 => None,
            _ => Some("asn1: structure error: tags don't match".to_string()),
        },
        _ => Some("PEM block type must be CERTIFICATE REQUEST".to_string()),
    };
    if let Some(e) = err {
        errs.push(inv_raw(&sp.child("request"), go_bytes(&raw), e));
    }
    let usages = slist(spec, "usages");
    if usages.is_empty() {
        errs.push(req(&sp.child("usages"), ""));
    }
    let old_spec = old.map(|o| g(o, "spec"));
    let allow_unknown = old_spec.is_some_and(|o| slist(o, "usages").iter().any(|u| !KEY_USAGES.contains(u)));
    if !allow_unknown {
        for (i, u) in usages.iter().enumerate() {
            if !KEY_USAGES.contains(u) {
                errs.push(unsup(&sp.child("usages").index(i), u, KEY_USAGES));
            }
        }
    }
    let allow_dup = old_spec.is_some_and(|o| {
        let u = slist(o, "usages");
        u.iter().collect::<HashSet<_>>().len() != u.len()
    });
    if !allow_dup {
        let mut seen = HashSet::new();
        for (i, u) in usages.iter().enumerate() {
            if !seen.insert(*u) {
                errs.push(dup(&sp.child("usages").index(i), u));
            }
        }
    }
    let signer = st(spec, "signerName");
    let legacy = "kubernetes.io/legacy-unknown";
    if signer == legacy && old_spec.is_none_or(|o| st(o, "signerName") != legacy) {
        errs.push(inv(&sp.child("signerName"), signer, "the legacy signerName is not allowed via this API version"));
    } else {
        errs.extend(validate_signer_name(&sp.child("signerName"), signer));
    }
    if let Some(e) = int(spec, "expirationSeconds") {
        if e < 600 {
            errs.push(inv_raw(
                &sp.child("expirationSeconds"),
                e,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
    }
    let conds = arr(g(csr, "status"), "conditions");
    let cp = path("status.conditions");
    let mut seen = HashSet::new();
    let (mut approved, mut denied) = (false, false);
    for (i, c) in conds.iter().enumerate() {
        let ty = st(c, "type");
        if ty.is_empty() {
            errs.push(req(&cp.index(i).child("type"), ""));
        }
        let status = st(c, "status");
        let true_only = ["Approved", "Denied", "Failed"].contains(&ty);
        if status.is_empty() {
            errs.push(req(&cp.index(i).child("status"), ""));
        } else if true_only && status != "True" {
            errs.push(unsup(&cp.index(i).child("status"), status, &["True"]));
        } else if !true_only && !["False", "True", "Unknown"].contains(&status) {
            errs.push(unsup(&cp.index(i).child("status"), status, &["False", "True", "Unknown"]));
        }
        match ty {
            "Approved" => {
                approved = true;
                if denied {
                    errs.push(inv(
                        &cp.index(i).child("type"),
                        ty,
                        "Approved and Denied conditions are mutually exclusive",
                    ));
                }
            }
            "Denied" => {
                denied = true;
                if approved {
                    errs.push(inv(
                        &cp.index(i).child("type"),
                        ty,
                        "Approved and Denied conditions are mutually exclusive",
                    ));
                }
            }
            _ => {}
        }
        if !seen.insert(ty) {
            errs.push(dup(&cp.index(i).child("type"), ty));
        }
    }
    errs
}

fn validate_csr_update(new: &Value, old: &Value) -> Errs {
    let mut errs = validate_csr(new, Some(old));
    let count = |o: &Value, t: &str| arr(g(o, "status"), "conditions").iter().filter(|c| st(c, "type") == t).count();
    for t in ["Approved", "Denied", "Failed"] {
        if count(new, t) < count(old, t) {
            errs.push(forb(
                &path("status.conditions"),
                format!("updates may not remove a condition of type {}", go_quote(t)),
            ));
        }
    }
    for t in ["Approved", "Denied"] {
        let (n, o) = (count(new, t), count(old, t));
        if n > o {
            errs.push(forb(
                &path("status.conditions"),
                format!("updates may not add a condition of type {}", go_quote(t)),
            ));
        } else if n == o {
            let pick = |x: &Value| -> Vec<Value> {
                arr(g(x, "status"), "conditions").iter().filter(|c| st(c, "type") == t).cloned().collect()
            };
            if !sem_eq(&Value::Array(pick(new)), &Value::Array(pick(old))) {
                errs.push(forb(
                    &path("status.conditions"),
                    format!("updates may not modify a condition of type {}\n", go_quote(t)),
                ));
            }
        }
    }
    if st(g(new, "status"), "certificate") != st(g(old, "status"), "certificate") {
        errs.push(forb(&path("status.certificate"), "updates may not set certificate content"));
    }
    errs
}

/// Updates through a CSR's `approval` subresource (conditions may be added, never removed; the
/// certificate stays) or its `status` subresource (the certificate may be set once; approval
/// conditions stay).
pub fn validate_csr_subresource_update(new: &Value, old: &Value, approval: bool) -> Errs {
    let mut errs = validate_csr(new, Some(old));
    let count = |o: &Value, t: &str| arr(g(o, "status"), "conditions").iter().filter(|c| st(c, "type") == t).count();
    for t in ["Approved", "Denied", "Failed"] {
        if count(new, t) < count(old, t) {
            errs.push(forb(
                &path("status.conditions"),
                format!("updates may not remove a condition of type {}", go_quote(t)),
            ));
        }
    }
    let (new_cert, old_cert) = (st(g(new, "status"), "certificate"), st(g(old, "status"), "certificate"));
    if approval {
        if new_cert != old_cert {
            errs.push(forb(&path("status.certificate"), "updates may not set certificate content"));
        }
    } else {
        for t in ["Approved", "Denied"] {
            if count(new, t) > count(old, t) {
                errs.push(forb(
                    &path("status.conditions"),
                    format!("updates may not add a condition of type {}", go_quote(t)),
                ));
            }
        }
        if !old_cert.is_empty() && new_cert != old_cert {
            errs.push(forb(&path("status.certificate"), "updates may not modify existing certificate content"));
        }
    }
    dedup(errs)
}

fn validate_pdb(pdb: &Value) -> Errs {
    let spec = g(pdb, "spec");
    let sp = P::new("spec");
    let mut errs = Vec::new();
    let (min, max) = (g(spec, "minAvailable"), g(spec, "maxUnavailable"));
    if !min.is_null() && !max.is_null() {
        errs.push(inv_raw(
            &sp,
            go_struct("policy.PodDisruptionBudgetSpec", spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (k, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        if !v.is_null() {
            errs.extend(validate_int_or_percent(v, &sp.child(k)));
            errs.extend(not_more_than_100_percent(v, &sp.child(k)));
        }
    }
    errs.extend(validate_label_selector(g(spec, "selector"), &sp.child("selector"), false));
    if let Some(pol) = spec.get("unhealthyPodEvictionPolicy").and_then(Value::as_str) {
        if pol != "AlwaysAllow" && pol != "IfHealthyBudget" {
            errs.push(unsup(&sp.child("unhealthyPodEvictionPolicy"), pol, &["AlwaysAllow", "IfHealthyBudget"]));
        }
    }
    errs
}

fn validate_resource_quota(rq: &Value) -> Errs {
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

fn is_standard_quota_resource(name: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// PersistentVolumeClaim
// ---------------------------------------------------------------------------------------------

fn validate_pvc_update(new: &Value, old: &Value) -> Errs {
    let (ns, os) = (g(new, "spec"), g(old, "spec"));
    let sp = P::new("spec");
    let mut errs = validate_pvc_spec(ns, &sp);
    let mut n = ns.clone();
    let mut o = os.clone();
    if st(os, "volumeName").is_empty() {
        if let Some(m) = o.as_object_mut() {
            m.insert("volumeName".into(), g(ns, "volumeName").clone());
        }
    }
    let bound = st(g(new, "status"), "phase") == "Bound";
    if bound {
        if let Some(req_map) = n.pointer_mut("/resources/requests").and_then(Value::as_object_mut) {
            match os.pointer("/resources/requests/storage") {
                Some(v) => {
                    req_map.insert("storage".into(), v.clone());
                }
                None => {
                    req_map.remove("storage");
                }
            }
        }
        if let Some(m) = n.as_object_mut() {
            match os.get("volumeAttributesClassName") {
                Some(v) if ns.get("volumeAttributesClassName").is_some_and(|x| !x.is_null()) => {
                    m.insert("volumeAttributesClassName".into(), v.clone());
                }
                _ => {}
            }
        }
    }
    // The beta storage-class annotation upgrade path: setting storageClassName from nil.
    if os.get("storageClassName").is_none_or(Value::is_null) && ns.get("storageClassName").is_some_and(|v| !v.is_null())
    {
        if let Some(m) = n.as_object_mut() {
            m.remove("storageClassName");
        }
    }
    if !sem_eq(&n, &o) {
        errs.push(forb(
            &sp,
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                spec_diff(&o, &n, "core.PersistentVolumeClaimSpec")
            ),
        ));
    }
    let size = |s: &Value| s.pointer("/resources/requests/storage").and_then(|v| quantity_of(v).ok());
    if let (Some(new_size), Some(old_size)) = (size(ns), size(os)) {
        if new_size.cmp(&old_size) == Ordering::Less {
            let status_size = g(g(old, "status"), "capacity")
                .get("storage")
                .and_then(|v| quantity_of(v).ok())
                .unwrap_or(Quantity { m: 0, s: 0, fmt: QFormat::DecimalSI });
            if new_size.cmp(&status_size) != Ordering::Greater {
                errs.push(forb(&path("spec.resources.requests.storage"), "field can not be less than status.capacity"));
            }
        }
    }
    errs.extend(immutable_field(g(ns, "volumeMode"), g(os, "volumeMode"), &P::new("volumeMode"), render_scalar));
    errs
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Validates the kind-specific parts of `obj`; `old` is the stored object on update.
pub fn validate(rd: &ResourceDef, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = g(obj, "spec");
    let sp = P::new("spec");
    let errs: Errs = match (rd.group, rd.kind) {
        ("", "Pod") => match old {
            None => validate_pod_create(obj),
            Some(o) => validate_pod_update(obj, o),
        },
        ("", "PodTemplate") => validate_pod_template_spec(g(obj, "template"), &P::new("template")),
        ("", "Service") => match old {
            None => validate_service(obj, &normalized_cluster_ips(spec, None)),
            Some(o) => validate_service_update(obj, o),
        },
        ("", "ReplicationController") => validate_rc_spec(spec),
        ("", "Namespace") => match old {
            None => validate_namespace(obj),
            Some(_) => vec![],
        },
        ("", "ConfigMap") => match old {
            None => validate_config_map(obj),
            Some(o) => validate_config_map_update(obj, o),
        },
        ("", "Secret") => match old {
            None => validate_secret(obj),
            Some(o) => validate_secret_update(obj, o),
        },
        ("", "Endpoints") => validate_endpoints(obj),
        ("", "Node") => match old {
            None => validate_node(obj),
            Some(o) => validate_node_update(obj, o),
        },
        ("", "Event") => match old {
            None => validate_event_create(obj, false),
            Some(o) => validate_event_update(obj, o, false),
        },
        ("events.k8s.io", "Event") => match old {
            None => validate_event_create(obj, true),
            Some(o) => validate_event_update(obj, o, true),
        },
        ("", "ResourceQuota") => validate_resource_quota(obj),
        ("", "PersistentVolumeClaim") => match old {
            None => validate_pvc_spec(spec, &sp),
            Some(o) => validate_pvc_update(obj, o),
        },
        ("apps", "Deployment") => {
            let mut e = validate_deployment(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "ReplicaSet") => {
            let mut e = validate_replica_set(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "DaemonSet") => {
            let mut e = validate_daemon_set(obj);
            if let Some(o) = old {
                e.extend(selector_immutable(obj, o));
            }
            e
        }
        ("apps", "StatefulSet") => match old {
            None => validate_stateful_set_spec(spec),
            Some(o) => validate_stateful_set_update(obj, o),
        },
        ("apps", "ControllerRevision") => {
            let mut e = validate_controller_revision(obj);
            if let Some(o) = old {
                e.extend(immutable_field(g(obj, "data"), g(o, "data"), &P::new("data"), |v| {
                    go_struct("runtime.RawExtension", v)
                }));
            }
            e
        }
        ("batch", "Job") => match old {
            None => validate_job(obj, true),
            Some(o) => validate_job_update(obj, o),
        },
        ("batch", "CronJob") => {
            let mut e = validate_cron_job_spec(spec, old.map(|o| g(o, "spec")));
            let name = st(g(obj, "metadata"), "name");
            if old.is_none() && name.len() > 52 {
                e.push(inv(&path("metadata.name"), name, "must be no more than 52 characters"));
            }
            e
        }
        ("discovery.k8s.io", "EndpointSlice") => match old {
            None => validate_endpoint_slice(obj, &["FQDN", "IPv4", "IPv6"]),
            Some(o) => {
                let mut e = validate_endpoint_slice(obj, &["FQDN", "IP", "IPv4", "IPv6"]);
                e.extend(immutable_field(
                    g(obj, "addressType"),
                    g(o, "addressType"),
                    &P::new("addressType"),
                    render_scalar,
                ));
                e
            }
        },
        ("coordination.k8s.io", "Lease") => validate_lease(obj),
        ("scheduling.k8s.io", "PriorityClass") => match old {
            None => validate_priority_class(obj),
            Some(o) => validate_priority_class_update(obj, o),
        },
        ("rbac.authorization.k8s.io", "Role") => validate_role(obj, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => validate_role(obj, false),
        ("rbac.authorization.k8s.io", kind @ ("RoleBinding" | "ClusterRoleBinding")) => {
            let mut e = validate_role_binding(obj, kind == "RoleBinding");
            if let Some(o) = old {
                e.extend(validate_role_binding_update(obj, o));
            }
            e
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => match old {
            None => validate_csr(obj, None),
            Some(o) => validate_csr_update(obj, o),
        },
        ("policy", "PodDisruptionBudget") => validate_pdb(obj),
        _ => vec![],
    };
    dedup(errs)
}

/// Drops exact repeats, as upstream's aggregate does when rendering the message.
fn dedup(errs: Errs) -> Errs {
    let mut seen = HashSet::new();
    errs.into_iter().filter(|e| seen.insert(e.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rd(group: &str, kind: &str) -> &'static ResourceDef {
        crate::resources().iter().find(|r| r.group == group && r.kind == kind).expect("resource")
    }

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn container(name: &str, image: &str) -> Value {
        json!({
            "name": name,
            "image": image,
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "resources": {}
        })
    }

    fn pod_spec(containers: Vec<Value>) -> Value {
        json!({
            "containers": containers,
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30,
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "securityContext": {}
        })
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn pod_errs(spec: Value) -> Vec<String> {
        msgs(&validate(rd("", "Pod"), &pod(spec), None))
    }

    #[test]
    fn valid_pod_passes() {
        let mut c = container("web", "nginx");
        c["ports"] = json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]);
        c["env"] = json!([{"name": "A", "value": "b"}, {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]);
        c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
        c["resources"] =
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}});
        let mut spec = pod_spec(vec![c]);
        spec["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        assert_eq!(pod_errs(spec), Vec::<String>::new());
    }

    #[test]
    fn pod_containers_required() {
        assert_eq!(pod_errs(pod_spec(vec![])), vec!["spec.containers: Required value"]);
    }

    #[test]
    fn pod_container_name_and_image() {
        let errs = pod_errs(pod_spec(vec![container("web", ""), container("web", "nginx")]));
        assert_eq!(
            errs,
            vec!["spec.containers[0].image: Required value", "spec.containers[1].name: Duplicate value: \"web\""]
        );
        let errs = pod_errs(pod_spec(vec![container("Web_1", "nginx")]));
        assert_eq!(
            errs,
            vec!["spec.containers[0].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        let errs = pod_errs(pod_spec(vec![container("", "nginx")]));
        assert_eq!(errs, vec!["spec.containers[0].name: Required value"]);
    }

    #[test]
    fn pod_ports() {
        let mut c = container("web", "nginx");
        c["ports"] = json!([
            {"containerPort": 70000, "protocol": "TCP"},
            {"containerPort": 0, "protocol": "HTTP", "name": "Bad_Name"},
            {"containerPort": 80, "protocol": "TCP", "name": "http"},
            {"containerPort": 81, "protocol": "TCP", "name": "http"}
        ]);
        let errs = pod_errs(pod_spec(vec![c]));
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].name: Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[1].containerPort: Required value",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[3].name: Duplicate value: \"http\"",
            ]
        );
    }

    #[test]
    fn pod_policies() {
        let mut spec = pod_spec(vec![container("web", "nginx")]);
        spec["restartPolicy"] = json!("Sometimes");
        spec["dnsPolicy"] = json!("Bogus");
        assert_eq!(
            pod_errs(spec),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]
        );
        let mut spec = pod_spec(vec![container("web", "nginx")]);
        spec["containers"][0]["imagePullPolicy"] = json!("Sometimes");
        assert_eq!(
            pod_errs(spec),
            vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""]
        );
    }

    #[test]
    fn pod_volumes() {
        let mut c = container("web", "nginx");
        c["volumeMounts"] = json!([{"name": "missing", "mountPath": "/a"}, {"name": "a", "mountPath": "/a"}]);
        let mut spec = pod_spec(vec![c]);
        spec["volumes"] = json!([
            {"name": "a", "emptyDir": {}},
            {"name": "a", "emptyDir": {}},
            {"name": "b"},
            {"name": "c", "emptyDir": {}, "hostPath": {"path": "/x"}}
        ]);
        assert_eq!(
            pod_errs(spec),
            vec![
                "spec.volumes[1].name: Duplicate value: \"a\"",
                "spec.volumes[2]: Required value: must specify a volume type",
                "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
            ]
        );
    }

    #[test]
    fn pod_env_and_resources() {
        let mut c = container("web", "nginx");
        c["env"] = json!([{"name": ""}, {"name": "A=B"}, {"name": "X", "valueFrom": {}}]);
        c["resources"] = json!({"requests": {"cpu": "2", "memory": "-1"}, "limits": {"cpu": "1"}});
        let errs = pod_errs(pod_spec(vec![c]));
        assert_eq!(
            errs,
            vec![
                "spec.containers[0].env[0].name: Required value",
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[2].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            ]
        );
        let mut c = container("web", "nginx");
        c["resources"] = json!({"limits": {"foo": "1"}});
        assert_eq!(
            pod_errs(pod_spec(vec![c])),
            vec![
                "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[foo]: Invalid value: foo: must be a standard resource for containers",
            ]
        );
    }

    #[test]
    fn pod_probes_and_tolerations() {
        let mut c = container("web", "nginx");
        c["livenessProbe"] =
            json!({"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 2, "failureThreshold": 3});
        let mut spec = pod_spec(vec![c]);
        spec["tolerations"] =
            json!([{"key": "k", "operator": "Exists", "value": "v"}, {"operator": "Equal", "effect": "Bad"}]);
        assert_eq!(
            pod_errs(spec),
            vec![
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
                "spec.tolerations[1].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ]
        );
    }

    #[test]
    fn pod_create_rules() {
        let mut spec = pod_spec(vec![container("web", " nginx")]);
        spec["terminationGracePeriodSeconds"] = Value::Null;
        assert_eq!(
            pod_errs(spec),
            vec![
                "spec.terminationGracePeriodSeconds: Required value",
                "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
            ]
        );
    }

    #[test]
    fn pod_update() {
        let old = pod(pod_spec(vec![container("web", "nginx")]));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["activeDeadlineSeconds"] = json!(30);
        new["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
        assert_eq!(msgs(&validate(rd("", "Pod"), &new, Some(&old))), Vec::<String>::new());
        let mut bad = old.clone();
        bad["spec"]["restartPolicy"] = json!("Never");
        let errs = msgs(&validate(rd("", "Pod"), &bad, Some(&old)));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"), "{}", errs[0]);
        let mut more = old.clone();
        more["spec"]["containers"] = json!([container("web", "nginx"), container("b", "x")]);
        assert_eq!(
            msgs(&validate(rd("", "Pod"), &more, Some(&old))),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
    }

    fn service(spec: Value) -> Value {
        json!({"metadata": {"name": "s", "namespace": "default"}, "spec": spec})
    }

    fn svc_spec() -> Value {
        json!({
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]
        })
    }

    #[test]
    fn service_rules() {
        let r = rd("", "Service");
        assert_eq!(msgs(&validate(r, &service(svc_spec()), None)), Vec::<String>::new());
        let mut s = svc_spec();
        s["ports"] = json!([{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 0, "protocol": "TCP", "targetPort": "x_y"}]);
        assert_eq!(
            msgs(&validate(r, &service(s), None)),
            vec![
                "spec.ports[1].name: Required value",
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: \"x_y\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ]
        );
        let mut s = svc_spec();
        s["type"] = json!("Bogus");
        s["ports"] = json!([{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}]);
        assert_eq!(
            msgs(&validate(r, &service(s), None)),
            vec!["spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]
        );
        let mut s = svc_spec();
        s["ports"] = json!([{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}]);
        assert_eq!(
            msgs(&validate(r, &service(s), None)),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
        let s = json!({"type": "ExternalName", "sessionAffinity": "None"});
        assert_eq!(msgs(&validate(r, &service(s), None)), vec!["spec.externalName: Required value"]);
        let mut s = svc_spec();
        s["clusterIP"] = json!("abc");
        assert_eq!(
            msgs(&validate(r, &service(s), None)),
            vec!["spec.clusterIPs[0]: Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
        );
        let mut s = svc_spec();
        s["clusterIP"] = json!("None");
        s["ports"] = json!([]);
        assert_eq!(msgs(&validate(r, &service(s), None)), Vec::<String>::new());
    }

    #[test]
    fn service_update_cluster_ip_immutable() {
        let r = rd("", "Service");
        let mut s = svc_spec();
        s["clusterIP"] = json!("10.0.0.1");
        s["clusterIPs"] = json!(["10.0.0.1"]);
        let old = service(s);
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.2");
        assert_eq!(
            msgs(&validate(r, &new, Some(&old))),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.2\"}: may not change once set"]
        );
    }

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": selector,
                "template": {"metadata": {"labels": labels}, "spec": pod_spec(vec![container("web", "nginx")])},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            }
        })
    }

    #[test]
    fn deployment_rules() {
        let r = rd("apps", "Deployment");
        let ok = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "a"}));
        assert_eq!(msgs(&validate(r, &ok, None)), Vec::<String>::new());
        let bad = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "b"}));
        assert_eq!(
            msgs(&validate(r, &bad, None)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`"]
        );
        let none = deployment(Value::Null, json!({"app": "b"}));
        assert_eq!(
            msgs(&validate(r, &none, None)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`",
            ]
        );
        let empty = deployment(json!({}), json!({"app": "b"}));
        assert_eq!(
            msgs(&validate(r, &empty, None)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
        );
        let mut d = ok.clone();
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
        assert_eq!(
            msgs(&validate(r, &d, None)),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
            ]
        );
        let mut upd = ok.clone();
        upd["spec"]["selector"] = json!({"matchLabels": {"app": "b"}});
        upd["spec"]["template"]["metadata"]["labels"] = json!({"app": "b"});
        assert_eq!(
            msgs(&validate(r, &upd, Some(&ok))),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
    }

    #[test]
    fn statefulset_rules() {
        let r = rd("apps", "StatefulSet");
        let sts = json!({
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "serviceName": "s",
                "selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(vec![container("web", "nginx")])},
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "revisionHistoryLimit": 10
            }
        });
        assert_eq!(msgs(&validate(r, &sts, None)), Vec::<String>::new());
        let mut upd = sts.clone();
        upd["spec"]["replicas"] = json!(3);
        assert_eq!(msgs(&validate(r, &upd, Some(&sts))), Vec::<String>::new());
        upd["spec"]["serviceName"] = json!("other");
        assert_eq!(
            msgs(&validate(r, &upd, Some(&sts))),
            vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
        );
        let mut bad = sts.clone();
        bad["spec"]["podManagementPolicy"] = json!("Whenever");
        assert_eq!(
            msgs(&validate(r, &bad, None)),
            vec!["spec.podManagementPolicy: Invalid value: \"Whenever\": must be 'OrderedReady' or 'Parallel'"]
        );
    }

    #[test]
    fn daemonset_and_replicaset() {
        let ds = json!({
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(vec![container("web", "nginx")])},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10
            }
        });
        assert_eq!(msgs(&validate(rd("apps", "DaemonSet"), &ds, None)), Vec::<String>::new());
        let rs = json!({
            "metadata": {"name": "r", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec(vec![container("web", "nginx")])}}
        });
        assert_eq!(
            msgs(&validate(rd("apps", "ReplicaSet"), &rs, None)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"]
        );
    }

    fn job(restart: &str) -> Value {
        let mut spec = pod_spec(vec![container("c", "busybox")]);
        spec["restartPolicy"] = json!(restart);
        json!({
            "metadata": {"name": "j", "namespace": "default", "uid": "u1"},
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "suspend": false,
                "podReplacementPolicy": "TerminatingOrFailed",
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                "template": {
                    "metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "j", "controller-uid": "u1", "job-name": "j"}},
                    "spec": spec
                }
            }
        })
    }

    #[test]
    fn job_rules() {
        let r = rd("batch", "Job");
        assert_eq!(msgs(&validate(r, &job("Never"), None)), Vec::<String>::new());
        assert_eq!(
            msgs(&validate(r, &job("Always"), None)),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
        );
        let mut j = job("Never");
        j["spec"]["parallelism"] = json!(-1);
        j["spec"]["backoffLimit"] = json!(-2);
        assert_eq!(
            msgs(&validate(r, &j, None)),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
            ]
        );
        let old = job("Never");
        let mut upd = old.clone();
        upd["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        let errs = msgs(&validate(r, &upd, Some(&old)));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.template: Invalid value: core.PodTemplateSpec"), "{}", errs[0]);
        assert!(errs[0].ends_with(": field is immutable"));
    }

    #[test]
    fn cronjob_rules() {
        let r = rd("batch", "CronJob");
        let mk = |schedule: &str| {
            let mut spec = pod_spec(vec![container("c", "busybox")]);
            spec["restartPolicy"] = json!("OnFailure");
            json!({
                "metadata": {"name": "c", "namespace": "default"},
                "spec": {
                    "schedule": schedule,
                    "concurrencyPolicy": "Allow",
                    "suspend": false,
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 1,
                    "jobTemplate": {"spec": {"backoffLimit": 6, "completionMode": "NonIndexed", "template": {"spec": spec}}}
                }
            })
        };
        for ok in ["*/5 * * * *", "@hourly", "@every 1h30m", "0 0 1 jan-mar mon-fri", "0 0 * * 0"] {
            assert_eq!(msgs(&validate(r, &mk(ok), None)), Vec::<String>::new(), "{ok}");
        }
        assert_eq!(msgs(&validate(r, &mk(""), None)), vec!["spec.schedule: Required value"]);
        assert_eq!(
            msgs(&validate(r, &mk("bad"), None)),
            vec!["spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"]
        );
        assert_eq!(
            msgs(&validate(r, &mk("61 * * * *"), None)),
            vec!["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]
        );
        assert_eq!(
            msgs(&validate(r, &mk("TZ=UTC 0 * * * *"), None)),
            vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
        );
        let mut c = mk("@daily");
        c["spec"]["concurrencyPolicy"] = json!("Sometimes");
        assert_eq!(
            msgs(&validate(r, &c, None)),
            vec!["spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""]
        );
    }

    #[test]
    fn configmap_rules() {
        let r = rd("", "ConfigMap");
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v", "k": "v"}, "binaryData": {"k": "dg=="}});
        assert_eq!(
            msgs(&validate(r, &cm, None)),
            vec![
                "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                "data[k]: Invalid value: \"k\": duplicate of key present in binaryData",
            ]
        );
        let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            msgs(&validate(r, &new, Some(&old))),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let big = json!({"metadata": {"name": "c"}, "data": {"a": "x".repeat(MAX_SECRET_SIZE + 1)}});
        assert_eq!(msgs(&validate(r, &big, None)), vec!["Too long: may not be more than 1048576 bytes"]);
    }

    #[test]
    fn secret_rules() {
        let r = rd("", "Secret");
        let old = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ=="}});
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/tls");
        assert_eq!(
            msgs(&validate(r, &new, Some(&old))),
            vec![
                "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
                "data[tls.crt]: Required value",
                "data[tls.key]: Required value",
            ]
        );
        let sa = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/service-account-token"});
        assert_eq!(
            msgs(&validate(r, &sa, None)),
            vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        let dc = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {}});
        assert_eq!(msgs(&validate(r, &dc, None)), vec!["data[.dockerconfigjson]: Required value"]);
        let ok = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eyJhdXRocyI6e319"}});
        assert_eq!(msgs(&validate(r, &ok, None)), Vec::<String>::new());
    }

    #[test]
    fn namespace_and_node() {
        let ns = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes", "foo"]}});
        assert_eq!(
            msgs(&validate(rd("", "Namespace"), &ns, None)),
            vec!["spec.finalizers: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]
        );
        let node = json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.0.0.0/33"], "taints": [{"key": "k", "effect": "Bad"}]}});
        assert_eq!(
            msgs(&validate(rd("", "Node"), &node, None)),
            vec![
                "metadata.taints[0].effect: Unsupported value: \"Bad\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.podCIDRs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ]
        );
    }

    #[test]
    fn endpoints_and_slices() {
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]});
        assert_eq!(
            msgs(&validate(rd("", "Endpoints"), &ep, None)),
            vec!["subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]
        );
        let es = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": [{"addresses": ["fe80::1"]}], "ports": [{"name": "", "port": 80, "protocol": "TCP"}]});
        assert_eq!(
            msgs(&validate(rd("discovery.k8s.io", "EndpointSlice"), &es, None)),
            vec!["endpoints[0].addresses[0]: Invalid value: \"fe80::1\": must be a valid IPv4 address"]
        );
        let mut upd = es.clone();
        upd["addressType"] = json!("IPv6");
        upd["endpoints"] = json!([]);
        assert_eq!(
            msgs(&validate(rd("discovery.k8s.io", "EndpointSlice"), &upd, Some(&es))),
            vec!["addressType: Invalid value: \"IPv6\": field is immutable"]
        );
    }

    #[test]
    fn rbac_rules() {
        let rb = json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}, "subjects": [{"kind": "Robot", "name": "x"}]});
        let r = rd("rbac.authorization.k8s.io", "RoleBinding");
        assert_eq!(
            msgs(&validate(r, &rb, None)),
            vec!["subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""]
        );
        let old = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}});
        let mut new = old.clone();
        new["roleRef"]["name"] = json!("b");
        assert_eq!(
            msgs(&validate(r, &new, Some(&old))),
            vec!["roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"b\"}: cannot change roleRef"]
        );
        let role = json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
        assert_eq!(
            msgs(&validate(rd("rbac.authorization.k8s.io", "Role"), &role, None)),
            vec!["rules[0].verbs: Required value: verbs must contain at least one value"]
        );
    }

    #[test]
    fn lease_priorityclass_event_csr() {
        let lease = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}});
        assert_eq!(
            msgs(&validate(rd("coordination.k8s.io", "Lease"), &lease, None)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
        let pc = json!({"metadata": {"name": "high"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            msgs(&validate(rd("scheduling.k8s.io", "PriorityClass"), &pc, None)),
            vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(
            msgs(&validate(rd("", "Event"), &ev, None)),
            vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
        );
        let csr = json!({"metadata": {"name": "c"}, "spec": {"request": "", "usages": ["bogus"], "signerName": ""}});
        assert_eq!(
            msgs(&validate(rd("certificates.k8s.io", "CertificateSigningRequest"), &csr, None)),
            vec![
                "spec.request: Invalid value: []byte(nil): PEM block type must be CERTIFICATE REQUEST",
                "spec.usages[0]: Unsupported value: \"bogus\": supported values: \"any\", \"cert sign\", \"client auth\", \"code signing\", \"content commitment\", \"crl sign\", \"data encipherment\", \"decipher only\", \"digital signature\", \"email protection\", \"encipher only\", \"ipsec end system\", \"ipsec tunnel\", \"ipsec user\", \"key agreement\", \"key encipherment\", \"microsoft sgc\", \"netscape sgc\", \"ocsp signing\", \"s/mime\", \"server auth\", \"signing\", \"timestamping\"",
                "spec.signerName: Required value",
            ]
        );
    }

    #[test]
    fn quantities() {
        let c = |s: &str| Quantity::parse(s).map(|q| q.canonical());
        assert_eq!(c("0.5").as_deref(), Some("500m"));
        assert_eq!(c("1024Mi").as_deref(), Some("1Gi"));
        assert_eq!(c("1.5Gi").as_deref(), Some("1536Mi"));
        assert_eq!(c("1500").as_deref(), Some("1500"));
        assert_eq!(c("2000").as_deref(), Some("2k"));
        assert_eq!(c("1000m").as_deref(), Some("1"));
        assert_eq!(c("100Ki").as_deref(), Some("100Ki"));
        assert_eq!(c("0.5Ki").as_deref(), Some("512"));
        assert_eq!(c("1e3").as_deref(), Some("1e3"));
        assert_eq!(c("0").as_deref(), Some("0"));
        assert!(c("abc").is_none());
        assert!(c("1Zi").is_none());
        let a = Quantity::parse("1Gi").unwrap();
        let b = Quantity::parse("1073741824").unwrap();
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(Quantity::parse("100m").unwrap().cmp(&Quantity::parse("0.1").unwrap()), Ordering::Equal);
        assert_eq!(
            Quantity::parse("1e100").unwrap().cmp(&Quantity::parse("99999999999999999999999999999999Ei").unwrap()),
            Ordering::Greater
        );
    }

    #[test]
    fn validate_pod_spec_is_reusable() {
        let mut spec = pod_spec(vec![container("web", "nginx")]);
        spec["restartPolicy"] = json!("Never");
        let errs = validate_pod_spec(&spec, &P::new("spec").child("template").child("spec"));
        assert!(errs.is_empty(), "{errs:?}");
        let errs = validate_pod_spec(&json!({}), &P::new("spec"));
        assert_eq!(
            msgs(&errs),
            vec![
                "spec.terminationGracePeriodSeconds: Required value",
                "spec.containers: Required value",
                "spec.restartPolicy: Required value",
                "spec.dnsPolicy: Required value",
            ]
        );
    }

    #[test]
    fn realistic_objects_pass() {
        // A pod as the apiserver stores it after admission (service account token volume).
        let mut c = container("app", "registry.k8s.io/pause:3.10");
        c["ports"] = json!([{"containerPort": 8080, "protocol": "TCP"}]);
        c["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
        c["readinessProbe"] = json!({"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
        c["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 5}}});
        c["envFrom"] = json!([{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec", "optional": true}, "prefix": "S_"}]);
        c["volumeMounts"] = json!([{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}, {"name": "scratch", "mountPath": "/scratch"}]);
        c["securityContext"] = json!({"runAsUser": 1000, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}});
        let mut sidecar = container("log", "busybox");
        sidecar["restartPolicy"] = json!("Always");
        sidecar["startupProbe"] = json!({"exec": {"command": ["true"]}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3});
        let mut spec = pod_spec(vec![c]);
        spec["initContainers"] = json!([sidecar]);
        spec["volumes"] = json!([
            {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}
        ]);
        spec["tolerations"] = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]);
        spec["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}}]}});
        spec["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "x"}}}]);
        spec["dnsConfig"] = json!({"nameservers": ["10.96.0.10"], "searches": ["svc.cluster.local"], "options": [{"name": "ndots", "value": "2"}]});
        spec["priority"] = json!(0);
        spec["enableServiceLinks"] = json!(true);
        assert_eq!(pod_errs(spec), Vec::<String>::new());

        let r = rd("", "Service");
        let np = json!({"metadata": {"name": "s"}, "spec": {
            "type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
            "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "selector": {"app": "x"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http", "nodePort": 30080}, {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]
        }});
        assert_eq!(msgs(&validate(r, &np, None)), Vec::<String>::new());
        let lb = json!({"metadata": {"name": "s"}, "spec": {
            "type": "LoadBalancer", "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true,
            "loadBalancerSourceRanges": ["10.0.0.0/8"],
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]
        }});
        assert_eq!(msgs(&validate(r, &lb, None)), Vec::<String>::new());
        let mut lb2 = lb.clone();
        lb2["spec"]["type"] = json!("ClusterIP");
        assert_eq!(
            msgs(&validate(r, &lb2, None)),
            vec![
                "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
                "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
                "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ]
        );
    }

    #[test]
    fn job_selector_generation() {
        let r = rd("batch", "Job");
        // Not generated yet (no selector, no labels): left to the server.
        let mut j = job("OnFailure");
        j["spec"].as_object_mut().unwrap().remove("selector");
        j["spec"]["template"]["metadata"] = json!({});
        assert_eq!(msgs(&validate(r, &j, None)), Vec::<String>::new());
        // Manual selector without a selector.
        j["spec"]["manualSelector"] = json!(true);
        assert_eq!(
            msgs(&validate(r, &j, None)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
            ]
        );
        // Generated labels that conflict with user-set ones.
        let mut j = job("Never");
        j["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
        assert_eq!(
            msgs(&validate(r, &j, None)),
            vec!["spec.template.metadata.labels[job-name]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u1\", \"batch.kubernetes.io/job-name\":\"j\", \"controller-uid\":\"u1\", \"job-name\":\"other\"}: must be 'j'"]
        );
    }

    #[test]
    fn regexes_compile() {
        for re in [
            &*PORT_NAME_CHARSET,
            &*CONFIG_MAP_KEY,
            &*HTTP_HEADER_NAME,
            &*PERCENT,
            &*DNS1123_SUB_UNDERSCORE,
            &*ISCSI_IQN,
            &*ISCSI_EUI,
            &*ISCSI_NAA,
            &*CTRL,
            &*NETBIOS,
            &*WIN_DNS,
            &*BAD_USER_CHARS,
            &*DOTS_SPACES,
            &*SYSCTL_NAME,
            &*DOMAIN_PREFIXED_PATH,
            &*TZ_PART,
        ] {
            let _ = re.is_match("x");
        }
        assert!(ISCSI_IQN.is_match("iqn.2015-02.example.com:test"));
        assert!(!ISCSI_IQN.is_match("iqn.2015-02.example.com"));
        assert!(SYSCTL_NAME.is_match("net.ipv4.ip_forward"));
        assert!(SYSCTL_NAME.is_match("kernel/shm_rmid_forced"));
        assert!(!SYSCTL_NAME.is_match("Net.x"));
    }

    #[test]
    fn misc_formats() {
        assert!(parse_cron_standard("@every 90s").is_ok());
        assert_eq!(
            parse_cron_standard("@every 5").unwrap_err(),
            "failed to parse duration @every 5: time: missing unit in duration \"5\""
        );
        assert_eq!(parse_cron_standard("@weird").unwrap_err(), "unrecognized descriptor: @weird");
        assert_eq!(
            parse_cron_standard("x * * * *").unwrap_err(),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert!(parse_cron_standard("CRON_TZ=Europe/Berlin 0 * * * *").is_ok());
        assert_eq!(validate_indexes_format("0-2,5", 10), Ok(4));
        assert!(validate_indexes_format("3,1", 10).is_err());
        assert!(parse_ip_sloppy("010.001.002.003").is_some());
        assert!(parse_ip_sloppy("::ffff:1.2.3.4").is_some());
        assert!(parse_ip_sloppy("1.2.3").is_none());
        assert!(parse_cidr_sloppy("fd00::/64").is_some());
        assert!(parse_cidr_sloppy("10.0.0.0/8/1").is_none());
        assert!(is_dual_stack(&["10.0.0.1", "fd00::1"]));
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
        let r = rd("batch", "Job");
        let mut j = job("Never");
        j["spec"]["managedBy"] = json!("bad");
        assert_eq!(
            msgs(&validate(r, &j, None)),
            vec!["spec.managedBy: Invalid value: \"bad\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        let mut spec = pod_spec(vec![container("web", "nginx")]);
        spec["securityContext"] =
            json!({"sysctls": [{"name": "net.core.somaxconn", "value": "1"}, {"name": "Bad", "value": "1"}]});
        spec["hostNetwork"] = json!(true);
        assert_eq!(
            pod_errs(spec),
            vec![
                "spec.securityContext.sysctls[0].name: Invalid value: \"net.core.somaxconn\": may not be specified when 'hostNetwork' is true",
                "spec.securityContext.sysctls[1].name: Invalid value: \"Bad\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ]
        );
    }

    /// Malformed input of every shape must never panic.
    #[test]
    fn never_panics_on_garbage() {
        let junk = vec![
            Value::Null,
            json!(1),
            json!(-1.5e300),
            json!("x"),
            json!([]),
            json!([1, "a", null, {"a": []}]),
            json!({"a": {"b": 1}}),
            json!(u64::MAX),
        ];
        let keys = [
            "spec",
            "metadata",
            "data",
            "binaryData",
            "type",
            "subsets",
            "endpoints",
            "ports",
            "addressType",
            "roleRef",
            "subjects",
            "rules",
            "value",
            "template",
            "involvedObject",
            "regarding",
            "status",
            "immutable",
            "aggregationRule",
        ];
        let spec_keys = [
            "containers",
            "initContainers",
            "ephemeralContainers",
            "volumes",
            "selector",
            "template",
            "ports",
            "clusterIP",
            "clusterIPs",
            "type",
            "schedule",
            "jobTemplate",
            "replicas",
            "strategy",
            "updateStrategy",
            "podCIDRs",
            "taints",
            "finalizers",
            "request",
            "usages",
            "signerName",
            "leaseDurationSeconds",
            "affinity",
            "tolerations",
            "securityContext",
            "dnsConfig",
            "resources",
            "completions",
            "podFailurePolicy",
            "successPolicy",
            "completionMode",
            "sessionAffinityConfig",
            "topologySpreadConstraints",
            "hostAliases",
            "overhead",
            "os",
            "externalIPs",
            "ipFamilies",
            "minAvailable",
        ];
        for r in crate::resources() {
            for j in &junk {
                let mut obj = json!({"metadata": {"name": "x", "namespace": "y"}});
                for k in keys {
                    obj[k] = j.clone();
                    let _ = validate(r, &obj, None);
                    let _ = validate(r, &obj, Some(&json!({})));
                    let _ = validate(r, &json!({}), Some(&obj));
                }
                let mut obj = json!({"metadata": {"name": "x"}, "spec": {}});
                for k in spec_keys {
                    obj["spec"][k] = j.clone();
                    let _ = validate(r, &obj, None);
                    let _ = validate(r, &obj, Some(&obj.clone()));
                }
                // Nested garbage inside containers and volumes.
                let nested = json!({"spec": {
                    "containers": [{"name": j, "ports": [j], "env": [{"valueFrom": j}], "resources": {"limits": {"cpu": j}, "requests": j}, "livenessProbe": {"httpGet": j}}],
                    "volumes": [{"name": "v", "projected": {"sources": [j]}, "ephemeral": {"volumeClaimTemplate": {"spec": j}}}],
                    "template": {"metadata": j, "spec": {"containers": j}},
                    "selector": {"matchExpressions": [j, {"operator": j, "values": j}]}
                }});
                let _ = validate(r, &nested, None);
                let _ = validate(r, &nested, Some(&nested));
            }
        }
        for s in [
            "",
            "-",
            ".",
            "1.2.3",
            "+",
            "1e",
            "1e99999999999",
            "99999999999999999999999999999999999999999999Ei",
            "-0.0000000000001",
            "1.5.5",
        ] {
            if let Some(q) = Quantity::parse(s) {
                let _ = q.canonical();
                let _ = q.milli_value();
            }
        }
        for s in [
            "",
            "@every",
            "@every ",
            "TZ=",
            "TZ=UTC",
            "* * * * * *",
            "*/0 * * * *",
            "1-2-3 * * * *",
            "a/b * * * *",
            "99999999999999999999 * * * *",
        ] {
            let _ = parse_cron_standard(s);
        }
    }
}
