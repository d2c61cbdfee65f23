//! Resource quantities the kubelet computes (capacity, allocatable), rendered as upstream's
//! `resource.Quantity` renders them, and parsed through api-types.

use api_types::kinds::validation::Quantity;

/// `n` with the largest suffix of `base` that divides it exactly, else the plain number.
fn suffixed(n: i64, base: i64, suffixes: [&str; 6]) -> String {
    let (mut v, mut i) = (n, 0);
    while n != 0 && v % base == 0 && i < suffixes.len() {
        v /= base;
        i += 1;
    }
    if i == 0 {
        n.to_string()
    } else {
        format!("{v}{}", suffixes[i - 1])
    }
}

/// Bytes in BinarySI form: the largest binary suffix that divides exactly (`24Gi`, `1536Ki`),
/// else the plain number.
pub fn binary_si(bytes: i64) -> String {
    suffixed(bytes, 1024, ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
}

/// Numbers in DecimalSI form: the largest decimal suffix that divides exactly (`12k`).
pub fn decimal_si(n: i64) -> String {
    suffixed(n, 1000, ["k", "M", "G", "T", "P", "E"])
}

/// A quantity as upstream prints it (`1024Mi` -> `1Gi`), or the input when malformed.
pub fn canonical(s: &str) -> String {
    Quantity::parse(s.trim()).map(|q| q.canonical()).unwrap_or_else(|| s.to_string())
}

/// Millicores in DecimalSI form: `2`, `1800m`.
pub fn millicores(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

/// A quantity's value in its base unit (bytes, cores rounded up), or `None` when malformed.
pub fn value(s: &str) -> Option<i64> {
    Quantity::parse(s.trim()).map(|q| q.value())
}

/// A quantity in thousandths (millicores).
pub fn milli(s: &str) -> Option<i64> {
    Quantity::parse(s.trim()).map(|q| q.milli())
}

/// A threshold value: an absolute quantity, or a percentage of `capacity`.
pub fn threshold_bytes(s: &str, capacity: i64) -> Option<i64> {
    match s.trim().strip_suffix('%') {
        Some(p) => {
            let pct: f64 = p.parse().ok()?;
            Some((capacity as f64 * pct / 100.0) as i64)
        }
        None => value(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_upstream() {
        assert_eq!(binary_si(24 * 1024 * 1024 * 1024), "24Gi");
        assert_eq!(binary_si(24731408 * 1024), "24731408Ki");
        assert_eq!(binary_si(1000), "1000");
        assert_eq!(binary_si(0), "0");
        assert_eq!(decimal_si(12_000), "12k");
        assert_eq!(decimal_si(12_345), "12345");
        assert_eq!(decimal_si(0), "0");
        assert_eq!(millicores(2000), "2");
        assert_eq!(millicores(1800), "1800m");
    }

    #[test]
    fn parses_quantities_and_percentages() {
        assert_eq!(value("100Mi"), Some(100 * 1024 * 1024));
        assert_eq!(milli("200m"), Some(200));
        assert_eq!(milli("1"), Some(1000));
        assert_eq!(threshold_bytes("10%", 1000), Some(100));
        assert_eq!(threshold_bytes("1Ki", 1000), Some(1024));
        assert_eq!(value("bogus"), None);
    }
}
