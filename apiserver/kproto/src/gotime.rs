//! Go's time formats as upstream's JSON uses them: `metav1.Time` (RFC 3339, seconds),
//! `metav1.MicroTime` (RFC 3339 with microseconds) and `metav1.Duration` (`time.Duration`'s
//! `String` and `ParseDuration`).

use chrono::{DateTime, Datelike, Utc};

/// Seconds since the Unix epoch of Go's zero `time.Time` (0001-01-01T00:00:00Z).
pub(crate) const GO_ZERO_UNIX: i64 = -62_135_596_800;

fn datetime(secs: i64, nanos: u32) -> Result<DateTime<Utc>, String> {
    let t = DateTime::<Utc>::from_timestamp(secs, nanos).ok_or_else(|| format!("timestamp {secs} out of range"))?;
    if !(0..=9999).contains(&t.year()) {
        return Err(format!("year {} outside of range [0,9999]", t.year()));
    }
    Ok(t)
}

/// `2006-01-02T15:04:05Z`.
pub(crate) fn format_time(secs: i64) -> Result<String, String> {
    Ok(datetime(secs, 0)?.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `2006-01-02T15:04:05.000000Z`.
pub(crate) fn format_micro_time(secs: i64, nanos: i32) -> Result<String, String> {
    let nanos = u32::try_from(nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| format!("nanos {nanos} out of range"))?;
    Ok(datetime(secs, nanos - nanos % 1000)?.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// An RFC 3339 time (any offset, optional fraction): (seconds since the epoch, nanoseconds).
pub(crate) fn parse_time(s: &str) -> Result<(i64, i32), String> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|e| format!("invalid RFC 3339 time {s:?}: {e}"))?;
    Ok((t.timestamp(), t.timestamp_subsec_nanos() as i32))
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

/// Writes `v / 10^prec`'s fraction (".123", trailing zeros dropped) and returns the integer part.
fn frac(out: &mut String, v: u64, prec: u32) -> u64 {
    let p = 10u64.pow(prec);
    let mut f = v % p;
    if f != 0 {
        let mut digits = Vec::new();
        let mut printed = false;
        for _ in 0..prec {
            let d = f % 10;
            printed = printed || d != 0;
            if printed {
                digits.push(char::from(b'0' + d as u8));
            }
            f /= 10;
        }
        out.push('.');
        out.extend(digits.iter().rev());
    }
    v / p
}

/// Go's `time.Duration.String`: `1h0m0s`, `1.5s`, `300ms`, `0s`.
pub(crate) fn format_duration(d: i64) -> String {
    let neg = d < 0;
    let u = d.unsigned_abs();
    let body = if u < SEC {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            u if u < US => (0, "ns"),
            u if u < MS => (3, "µs"),
            _ => (6, "ms"),
        };
        let mut f = String::new();
        let int = frac(&mut f, u, prec);
        format!("{int}{f}{unit}")
    } else {
        let mut f = String::new();
        let secs = frac(&mut f, u, 9);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            format!("{h}h{m}m{s}{f}s")
        } else if m > 0 {
            format!("{m}m{s}{f}s")
        } else {
            format!("{s}{f}s")
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `time.ParseDuration`.
pub(crate) fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // (\.[0-9]*)?
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let mut i = 0;
        while i < s.len() && s[i] != b'.' && !s[i].is_ascii_digit() {
            i += 1;
        }
        if i == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit_str = std::str::from_utf8(&s[..i]).map_err(|_| invalid())?;
        s = &s[i..];
        let unit = match unit_str {
            "ns" => NS,
            "us" | "µs" | "μs" => US,
            "ms" => MS,
            "s" => SEC,
            "m" => 60 * SEC,
            "h" => 3600 * SEC,
            u => return Err(format!("time: unknown unit {u:?} in duration {orig:?}")),
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d = d.checked_add(v).filter(|d| *d <= LIMIT).ok_or_else(invalid)?;
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        for (d, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s"),
            (3600 * 1_000_000_000, "1h0m0s"),
            (-1_500_000_000, "-1.5s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format_duration(d), s);
            assert_eq!(parse_duration(s).unwrap(), d, "{s}");
        }
        assert_eq!(parse_duration("1.5h").unwrap(), 5400 * 1_000_000_000);
        assert_eq!(parse_duration("10us").unwrap(), 10_000);
        for bad in ["", "-", "1", "h", "1x", ".s", "9999999999999999999h", "9223372036854775808ns9223372036854775808ns"]
        {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_match_go() {
        assert_eq!(format_time(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(format_micro_time(1, 1_234_567).unwrap(), "1970-01-01T00:00:01.001234Z");
        assert_eq!(parse_time("2024-05-06T07:08:09Z").unwrap(), (1_714_979_289, 0));
        assert_eq!(parse_time("2024-05-06T09:08:09.5+02:00").unwrap(), (1_714_979_289, 500_000_000));
        assert_eq!(format_time(GO_ZERO_UNIX).unwrap(), "0001-01-01T00:00:00Z");
        assert!(format_time(-62_200_000_000).is_err());
        assert!(format_time(i64::MAX).is_err());
        assert!(parse_time("yesterday").is_err());
    }
}
