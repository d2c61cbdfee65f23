//! Just enough of base64, PEM and DER to read the subject common name of a PKCS#10
//! certificate request: NodeRestriction only needs the CN of kubelet CSRs, and this keeps the
//! crate free of an X.509 dependency.

/// Decodes standard base64 (JSON's encoding of `[]byte`, and PEM bodies), skipping
/// whitespace. `None` on any other invalid input.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The first PEM block in `text`: its type and decoded body.
fn pem_decode(text: &str) -> Option<(&str, Vec<u8>)> {
    const BEGIN: &str = "-----BEGIN ";
    let start = text.find(BEGIN)? + BEGIN.len();
    let rest = text.get(start..)?;
    let type_end = rest.find("-----")?;
    let ty = rest.get(..type_end)?;
    let body_start = type_end + 5;
    let end_marker = format!("-----END {ty}-----");
    let body_end = rest.find(&end_marker)?;
    let body = rest.get(body_start..body_end)?;
    // Skip RFC 1421 headers ("Key: value" lines) if any.
    let data: String = body.lines().filter(|l| !l.contains(':')).collect();
    Some((ty, base64_decode(&data)?))
}

/// One DER element: tag and contents, plus what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = (rest.get(..n)?, rest.get(n..)?);
        rest = after;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// A directory string's text, if it is one of the string types Go's pkix reads as a string.
fn der_string(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, T61String, IA5String
        0x0c | 0x12 | 0x13 | 0x14 | 0x16 => String::from_utf8(value.to_vec()).ok(),
        // BMPString: UTF-16BE
        0x1e => {
            let units: Vec<u16> = value
                .chunks(2)
                .map(|c| u16::from_be_bytes([*c.first().unwrap_or(&0), *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// The subject CN of a DER certificate request ("" when it has none); like Go's
/// `pkix.Name`, the last CN attribute wins.
fn subject_common_name(der: &[u8]) -> Option<String> {
    let (tag, csr, _) = der_next(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, info, _) = der_next(csr)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_version, _, rest) = der_next(info)?;
    let (tag, mut rdns, _) = der_next(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut cn = String::new();
    while !rdns.is_empty() {
        let (tag, mut set, after) = der_next(rdns)?;
        rdns = after;
        if tag != SET {
            return None;
        }
        while !set.is_empty() {
            let (tag, atv, after) = der_next(set)?;
            set = after;
            if tag != SEQUENCE {
                return None;
            }
            let (_, oid, value) = der_next(atv)?;
            let (vtag, value, _) = der_next(value)?;
            if oid == OID_COMMON_NAME {
                if let Some(s) = der_string(vtag, value) {
                    cn = s;
                }
            }
        }
    }
    Some(cn)
}

/// `certapi.ParseCSR` far enough to get the subject CN; `Err` carries the reason after
/// "unable to parse csr: ".
pub(crate) fn csr_common_name(pem: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(pem);
    let der = match pem_decode(&text) {
        Some(("CERTIFICATE REQUEST", der)) => der,
        _ => return Err("PEM block type must be CERTIFICATE REQUEST".to_string()),
    };
    subject_common_name(&der).ok_or_else(|| "x509: malformed certificate request".to_string())
}
