//! certificates.k8s.io: CertificateSigningRequest (`pkg/apis/certificates/validation`).

use super::*;

/// `ValidateSignerName`.
pub(crate) fn validate_signer_name(p: &P, signer: &str) -> Errs {
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

pub(crate) const KEY_USAGES: &[&str] = &[
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

pub(crate) fn go_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "[]byte(nil)".to_string();
    }
    let body: Vec<String> = b.iter().map(|x| format!("0x{x:x}")).collect();
    format!("[]byte{{{}}}", body.join(", "))
}

/// The first PEM block of `data`: (type, base64 body) or None.
pub(crate) fn pem_block(data: &str) -> Option<(String, String)> {
    let start = data.find("-----BEGIN ")?;
    let rest = &data[start + 11..];
    let type_end = rest.find("-----")?;
    let ty = rest[..type_end].to_string();
    let body_start = &rest[type_end + 5..];
    let end_marker = format!("-----END {ty}-----");
    let end = body_start.find(&end_marker)?;
    Some((ty, body_start[..end].trim().to_string()))
}

pub(crate) fn validate_csr(csr: &Value, old: Option<&Value>) -> Errs {
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

pub(crate) fn validate_csr_update(new: &Value, old: &Value) -> Errs {
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
