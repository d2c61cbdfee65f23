//! `resource.Quantity`: exact parsing, comparison and canonical rendering.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QFormat {
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

pub(crate) const QUANTITY_FORMAT_ERR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

pub(crate) fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Quantity {
    /// Zero, in the DecimalSI format an unset quantity prints in.
    pub(crate) const ZERO: Quantity = Quantity { m: 0, s: 0, fmt: QFormat::DecimalSI };

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

    pub(crate) fn sign(&self) -> i32 {
        self.m.signum() as i32
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.m == 0
    }

    pub(crate) fn compare(&self, o: &Quantity) -> Ordering {
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

    pub(crate) fn cmp_mag(a: u128, sa: i32, b: u128, sb: i32) -> Ordering {
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
    pub(crate) fn scaled(&self, scale: i32) -> Option<i128> {
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

    pub(crate) fn milli_value(&self) -> Option<i128> {
        self.scaled(-3)
    }

    /// `Quantity.MilliValue()`: thousandths, rounded up, saturating at i64's bounds.
    pub fn milli(&self) -> i64 {
        saturate(self.scaled(-3), self.m)
    }

    /// `Quantity.Value()`: whole units, rounded up, saturating at i64's bounds.
    pub fn value(&self) -> i64 {
        saturate(self.scaled(0), self.m)
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
pub(crate) fn quantity_of(v: &Value) -> Result<Quantity, String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    Quantity::parse(s.trim()).ok_or(s)
}

fn saturate(v: Option<i128>, sign: i128) -> i64 {
    match v {
        Some(v) => i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }),
        None if sign < 0 => i64::MIN,
        None => i64::MAX,
    }
}
