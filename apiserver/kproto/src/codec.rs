//! JSON <-> protobuf for one message, driven by the field table.

use crate::gotime;
use crate::schema::{self, Field, Label, Message, Ty};
use crate::wire::{self, put_bytes, put_key, put_uvarint_field, Raw, Reader};
use crate::Error;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as B64};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// Messages nested deeper than this (on the wire or in the JSON being encoded) are rejected.
pub const MAX_DEPTH: usize = 100;

/// Messages whose JSON form is not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    Time,
    MicroTime,
    Duration,
    Quantity,
    IntOrString,
    /// runtime.RawExtension, meta/v1 FieldsV1, apiextensions JSON: `raw=1` holds JSON text.
    RawJson,
    PropsOrBool,
    PropsOrArray,
    PropsOrStringArray,
    /// `type X []string` wrappers (authentication/authorization/certificates ExtraValue, Verbs):
    /// `items=1` <-> a JSON array of strings.
    StringList,
}

const APIEXT: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";
const PROPS: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";

pub(crate) fn special(name: &str) -> Option<Special> {
    Some(match name {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "io.k8s.apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => Special::Quantity,
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "io.k8s.apimachinery.pkg.runtime.RawExtension" | "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            Special::RawJson
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.Verbs"
        | "io.k8s.api.authentication.v1.ExtraValue"
        | "io.k8s.api.authorization.v1.ExtraValue"
        | "io.k8s.api.certificates.v1.ExtraValue" => Special::StringList,
        n => match n.strip_prefix(APIEXT) {
            Some("JSON") => Special::RawJson,
            Some("JSONSchemaPropsOrBool") => Special::PropsOrBool,
            Some("JSONSchemaPropsOrArray") => Special::PropsOrArray,
            Some("JSONSchemaPropsOrStringArray") => Special::PropsOrStringArray,
            _ => return None,
        },
    })
}

fn lookup(name: &str) -> Result<&'static Message, Error> {
    schema::message(name).ok_or_else(|| Error::UnknownDefinition(name.to_string()))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(expected: &'static str, v: &Value) -> Error {
    Error::TypeMismatch { path: String::new(), expected, found: json_type(v) }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidValue { path: String::new(), message: message.into() }
}

fn check_depth(depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        Err(Error::TooDeep(MAX_DEPTH))
    } else {
        Ok(())
    }
}

// ------------------------------------------------------------------------------------ encode

/// Go's `base64.StdEncoding` as encoding/json decodes `[]byte`: padding required, non-zero
/// trailing bits tolerated, CR and LF ignored.
const GO_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

fn go_base64(s: &str) -> Result<Vec<u8>, Error> {
    let r = if s.contains(['\r', '\n']) {
        let clean: Vec<u8> = s.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect();
        GO_B64.decode(clean)
    } else {
        GO_B64.decode(s.as_bytes())
    };
    r.map_err(|e| invalid(format!("illegal base64 data: {e}")))
}

/// Encodes `v` as the body of message `name`.
pub(crate) fn encode_named(name: &str, v: &Value, depth: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode_message(lookup(name)?, v, &mut out, depth)?;
    Ok(out)
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= -9.223_372_036_854_776e18 && *f < 9.223_372_036_854_776e18)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

fn encode_message(m: &Message, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
    check_depth(depth)?;
    if let Some(s) = special(m.name) {
        return encode_special(s, v, out, depth);
    }
    let Value::Object(obj) = v else { return Err(mismatch("object", v)) };
    for f in &m.fields {
        if f.def.inline {
            let Ty::Message(name) = f.def.ty else { continue };
            let sub = encode_named(name, v, depth + 1)?;
            put_bytes(out, f.def.tag, &sub);
            continue;
        }
        let Some(x) = obj.get(&f.json) else { continue };
        if x.is_null() {
            continue;
        }
        encode_field(f, x, out, depth).map_err(|e| e.at(&f.json))?;
    }
    Ok(())
}

fn encode_field(f: &Field, x: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
    let tag = f.def.tag;
    match f.def.label {
        Label::Single => encode_value(f.def.ty, tag, x, out, depth),
        Label::Repeated => {
            let Value::Array(items) = x else { return Err(mismatch("array", x)) };
            for (i, item) in items.iter().enumerate() {
                encode_element(f.def.ty, tag, item, out, depth).map_err(|e| e.at(&format!("[{i}]")))?;
            }
            Ok(())
        }
        Label::Map => {
            let Value::Object(entries) = x else { return Err(mismatch("object", x)) };
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            for k in keys {
                let mut entry = Vec::new();
                put_bytes(&mut entry, 1, k.as_bytes());
                encode_element(f.def.ty, 2, &entries[k], &mut entry, depth).map_err(|e| e.at(&format!("[{k}]")))?;
                put_bytes(out, tag, &entry);
            }
            Ok(())
        }
    }
}

/// A list element or map value: always written, `null` as the zero value (as Go decodes it).
fn encode_element(ty: Ty, tag: u32, x: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
    if !x.is_null() {
        return encode_value(ty, tag, x, out, depth);
    }
    match ty {
        Ty::String | Ty::Bytes => put_bytes(out, tag, &[]),
        Ty::Int32 | Ty::Int64 | Ty::Bool => put_uvarint_field(out, tag, 0),
        Ty::Double => {
            put_key(out, tag, wire::FIXED64);
            out.extend_from_slice(&0f64.to_le_bytes());
        }
        Ty::Message(name) => {
            // The zero value: an empty message (JSON null, zero time, ...) for the special
            // types, an empty object otherwise.
            let sub = match special(name) {
                Some(_) => Vec::new(),
                None => encode_named(name, &Value::Object(Map::new()), depth + 1)?,
            };
            put_bytes(out, tag, &sub);
        }
    }
    Ok(())
}

fn encode_value(ty: Ty, tag: u32, x: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
    match ty {
        Ty::String => {
            let Value::String(s) = x else { return Err(mismatch("string", x)) };
            put_bytes(out, tag, s.as_bytes());
        }
        Ty::Bytes => {
            let Value::String(s) = x else { return Err(mismatch("string (base64)", x)) };
            put_bytes(out, tag, &go_base64(s)?);
        }
        Ty::Int32 => {
            let n = integer(x).ok_or_else(|| mismatch("integer", x))?;
            let n = i32::try_from(n).map_err(|_| invalid(format!("{n} overflows int32")))?;
            put_uvarint_field(out, tag, i64::from(n) as u64);
        }
        Ty::Int64 => {
            let n = integer(x).ok_or_else(|| mismatch("integer", x))?;
            put_uvarint_field(out, tag, n as u64);
        }
        Ty::Bool => {
            let Value::Bool(b) = x else { return Err(mismatch("boolean", x)) };
            put_uvarint_field(out, tag, u64::from(*b));
        }
        Ty::Double => {
            let n = x.as_f64().ok_or_else(|| mismatch("number", x))?;
            put_key(out, tag, wire::FIXED64);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Ty::Message(name) => {
            let sub = encode_named(name, x, depth + 1)?;
            put_bytes(out, tag, &sub);
        }
    }
    Ok(())
}

fn encode_special(s: Special, v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), Error> {
    match s {
        Special::Time | Special::MicroTime => {
            let Value::String(t) = v else { return Err(mismatch("string (RFC 3339 time)", v)) };
            let (secs, nanos) = gotime::parse_time(t).map_err(invalid)?;
            // Go's zero time marshals to nothing.
            if secs == gotime::GO_ZERO_UNIX && (s == Special::Time || nanos < 1000) {
                return Ok(());
            }
            let nanos = if s == Special::Time { 0 } else { nanos - nanos % 1000 };
            put_uvarint_field(out, 1, secs as u64);
            put_uvarint_field(out, 2, i64::from(nanos) as u64);
        }
        Special::Duration => {
            let Value::String(d) = v else { return Err(mismatch("string (duration)", v)) };
            let ns = gotime::parse_duration(d).map_err(invalid)?;
            put_uvarint_field(out, 1, ns as u64);
        }
        Special::Quantity => {
            let q = match v {
                Value::String(q) => q.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(mismatch("string (quantity)", v)),
            };
            put_bytes(out, 1, q.as_bytes());
        }
        Special::IntOrString => match v {
            Value::String(st) => {
                put_uvarint_field(out, 1, 1);
                put_uvarint_field(out, 2, 0);
                put_bytes(out, 3, st.as_bytes());
            }
            Value::Number(_) => {
                let n = integer(v).ok_or_else(|| mismatch("integer or string", v))?;
                let n = i32::try_from(n).map_err(|_| invalid(format!("{n} overflows int32")))?;
                put_uvarint_field(out, 1, 0);
                put_uvarint_field(out, 2, i64::from(n) as u64);
                put_bytes(out, 3, &[]);
            }
            _ => return Err(mismatch("integer or string", v)),
        },
        Special::RawJson => {
            if !v.is_null() {
                let raw = serde_json::to_vec(v).map_err(|e| invalid(e.to_string()))?;
                put_bytes(out, 1, &raw);
            }
        }
        Special::PropsOrBool => match v {
            Value::Bool(b) => put_uvarint_field(out, 1, u64::from(*b)),
            Value::Object(_) => {
                put_uvarint_field(out, 1, 1);
                put_bytes(out, 2, &encode_named(PROPS, v, depth + 1)?);
            }
            _ => return Err(invalid("boolean or JSON schema expected")),
        },
        Special::PropsOrArray => match v {
            Value::Object(_) => put_bytes(out, 1, &encode_named(PROPS, v, depth + 1)?),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let b = encode_named(PROPS, item, depth + 1).map_err(|e| e.at(&format!("[{i}]")))?;
                    put_bytes(out, 2, &b);
                }
            }
            // Upstream's UnmarshalJSON ignores anything else.
            _ => {}
        },
        Special::PropsOrStringArray => match v {
            Value::Object(_) => put_bytes(out, 1, &encode_named(PROPS, v, depth + 1)?),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Value::String(st) = item else { return Err(mismatch("string", item).at(&format!("[{i}]"))) };
                    put_bytes(out, 2, st.as_bytes());
                }
            }
            _ => {}
        },
        Special::StringList => {
            let Value::Array(items) = v else { return Err(mismatch("array", v)) };
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(st) => put_bytes(out, 1, st.as_bytes()),
                    Value::Null => put_bytes(out, 1, &[]),
                    _ => return Err(mismatch("string", item).at(&format!("[{i}]"))),
                }
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ decode

/// Decodes `bytes` as the body of message `name`.
pub(crate) fn decode_named(name: &str, bytes: &[u8], depth: usize) -> Result<Value, Error> {
    decode_message(lookup(name)?, bytes, depth)
}

/// Go's omitempty zero values.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

enum Slot {
    Empty,
    One(Value),
    Many(Vec<Value>),
    Map(Map<String, Value>),
}

fn decode_message(m: &Message, bytes: &[u8], depth: usize) -> Result<Value, Error> {
    check_depth(depth)?;
    if let Some(s) = special(m.name) {
        return decode_special(s, bytes, depth);
    }
    let mut slots: Vec<Slot> = m.fields.iter().map(|_| Slot::Empty).collect();
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let (tag, raw) = r.field()?;
        let Some(idx) = m.field_index(tag) else { continue };
        let f = &m.fields[idx];
        let name = if f.json.is_empty() { f.def.rust } else { f.json.as_str() };
        match f.def.label {
            Label::Single => {
                let v = decode_value(f.def.ty, raw, depth).map_err(|e| e.at(name))?;
                slots[idx] = Slot::One(v);
            }
            Label::Repeated => {
                let mut items = match std::mem::replace(&mut slots[idx], Slot::Empty) {
                    Slot::Many(v) => v,
                    _ => Vec::new(),
                };
                decode_repeated(f.def.ty, raw, &mut items, depth).map_err(|e| e.at(name))?;
                slots[idx] = Slot::Many(items);
            }
            Label::Map => {
                let mut entries = match std::mem::replace(&mut slots[idx], Slot::Empty) {
                    Slot::Map(m) => m,
                    _ => Map::new(),
                };
                let (k, v) = decode_entry(f.def.ty, raw, depth).map_err(|e| e.at(name))?;
                entries.insert(k, v);
                slots[idx] = Slot::Map(entries);
            }
        }
    }
    let mut out = Map::new();
    for (f, slot) in m.fields.iter().zip(slots) {
        match slot {
            Slot::Empty => {}
            Slot::One(Value::Object(inner)) if f.def.inline => out.extend(inner),
            Slot::One(v) => {
                if !v.is_null() && (f.keep_zero || !is_zero(&v)) {
                    out.insert(f.json.clone(), v);
                }
            }
            Slot::Many(items) => {
                if !items.is_empty() {
                    out.insert(f.json.clone(), Value::Array(items));
                }
            }
            Slot::Map(entries) => {
                if !entries.is_empty() {
                    out.insert(f.json.clone(), Value::Object(entries));
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn expect_bytes<'a>(raw: Raw<'a>) -> Result<&'a [u8], Error> {
    match raw {
        Raw::Bytes(b) => Ok(b),
        other => Err(Error::malformed(format!("expected a length-delimited field, got {}", other.wire_name()))),
    }
}

fn expect_varint(raw: Raw<'_>) -> Result<u64, Error> {
    match raw {
        Raw::Varint(v) => Ok(v),
        other => Err(Error::malformed(format!("expected a varint field, got {}", other.wire_name()))),
    }
}

fn number_f64(f: f64) -> Result<Value, Error> {
    if !f.is_finite() {
        return Err(invalid(format!("unsupported value: {f}")));
    }
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return Ok(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid(format!("unsupported value: {f}")))
}

fn decode_value(ty: Ty, raw: Raw<'_>, depth: usize) -> Result<Value, Error> {
    Ok(match ty {
        Ty::String => Value::String(String::from_utf8_lossy(expect_bytes(raw)?).into_owned()),
        Ty::Bytes => Value::String(B64.encode(expect_bytes(raw)?)),
        Ty::Int32 => Value::Number(Number::from(expect_varint(raw)? as i32)),
        Ty::Int64 => Value::Number(Number::from(expect_varint(raw)? as i64)),
        Ty::Bool => Value::Bool(expect_varint(raw)? != 0),
        Ty::Double => match raw {
            Raw::Fixed64(bits) => number_f64(f64::from_bits(bits))?,
            other => return Err(Error::malformed(format!("expected a fixed64 field, got {}", other.wire_name()))),
        },
        Ty::Message(name) => decode_named(name, expect_bytes(raw)?, depth + 1)?,
    })
}

fn decode_repeated(ty: Ty, raw: Raw<'_>, items: &mut Vec<Value>, depth: usize) -> Result<(), Error> {
    // Packed scalars: a length-delimited run of varints or fixed64s.
    if let (Ty::Int32 | Ty::Int64 | Ty::Bool | Ty::Double, Raw::Bytes(b)) = (ty, raw) {
        let mut r = Reader::new(b);
        while !r.is_empty() {
            let v = if ty == Ty::Double { Raw::Fixed64(r.fixed64()?) } else { Raw::Varint(r.varint()?) };
            items.push(decode_value(ty, v, depth)?);
        }
        return Ok(());
    }
    items.push(decode_value(ty, raw, depth)?);
    Ok(())
}

fn zero_value(ty: Ty, depth: usize) -> Result<Value, Error> {
    Ok(match ty {
        Ty::String | Ty::Bytes => Value::String(String::new()),
        Ty::Int32 | Ty::Int64 | Ty::Double => Value::Number(Number::from(0)),
        Ty::Bool => Value::Bool(false),
        Ty::Message(name) => decode_named(name, &[], depth + 1)?,
    })
}

fn decode_entry(ty: Ty, raw: Raw<'_>, depth: usize) -> Result<(String, Value), Error> {
    let mut r = Reader::new(expect_bytes(raw)?);
    let mut key = String::new();
    let mut value = None;
    while !r.is_empty() {
        match r.field()? {
            (1, raw) => key = String::from_utf8_lossy(expect_bytes(raw)?).into_owned(),
            (2, raw) => value = Some(raw),
            _ => {}
        }
    }
    let v = match value {
        Some(raw) => decode_value(ty, raw, depth).map_err(|e| e.at(&format!("[{key}]")))?,
        None => zero_value(ty, depth)?,
    };
    Ok((key, v))
}

fn raw_json(b: &[u8]) -> Result<Value, Error> {
    if b.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(b).map_err(|e| invalid(format!("embedded raw bytes are not JSON: {e}")))
}

fn decode_special(s: Special, bytes: &[u8], depth: usize) -> Result<Value, Error> {
    let mut r = Reader::new(bytes);
    let mut fields: Vec<(u32, Raw<'_>)> = Vec::new();
    while !r.is_empty() {
        fields.push(r.field()?);
    }
    let last = |tag: u32| fields.iter().rev().find(|(t, _)| *t == tag).map(|(_, raw)| *raw);
    let varint = |tag: u32| -> Result<u64, Error> { last(tag).map(expect_varint).transpose().map(|v| v.unwrap_or(0)) };
    let bytes_of = |tag: u32| -> Result<Option<&[u8]>, Error> { last(tag).map(expect_bytes).transpose() };
    Ok(match s {
        Special::Time | Special::MicroTime => {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            let secs = varint(1)? as i64;
            let nanos = varint(2)? as i32;
            if s == Special::Time {
                if secs == gotime::GO_ZERO_UNIX {
                    return Ok(Value::Null);
                }
                Value::String(gotime::format_time(secs).map_err(invalid)?)
            } else {
                // time.Unix(secs, nanos truncated to microseconds), normalized.
                let n = i64::from(nanos - nanos % 1000);
                let secs = secs.checked_add(n.div_euclid(1_000_000_000)).ok_or_else(|| invalid("time out of range"))?;
                let n = n.rem_euclid(1_000_000_000) as i32;
                if secs == gotime::GO_ZERO_UNIX && n == 0 {
                    return Ok(Value::Null);
                }
                Value::String(gotime::format_micro_time(secs, n).map_err(invalid)?)
            }
        }
        Special::Duration => Value::String(gotime::format_duration(varint(1)? as i64)),
        Special::Quantity => match bytes_of(1)? {
            Some(b) if !b.is_empty() => Value::String(String::from_utf8_lossy(b).into_owned()),
            _ => Value::String("0".into()),
        },
        Special::IntOrString => match varint(1)? as i64 {
            0 => Value::Number(Number::from(varint(2)? as i32)),
            1 => Value::String(bytes_of(3)?.map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()),
            t => return Err(invalid(format!("impossible IntOrString.Type {t}"))),
        },
        Special::RawJson => raw_json(bytes_of(1)?.unwrap_or_default())?,
        Special::PropsOrBool => match bytes_of(2)? {
            Some(b) => decode_named(PROPS, b, depth + 1)?,
            None => Value::Bool(varint(1)? != 0),
        },
        Special::PropsOrArray => {
            let mut items = Vec::new();
            for (t, raw) in &fields {
                if *t == 2 {
                    items.push(decode_named(PROPS, expect_bytes(*raw)?, depth + 1)?);
                }
            }
            if !items.is_empty() {
                Value::Array(items)
            } else if let Some(b) = bytes_of(1)? {
                decode_named(PROPS, b, depth + 1)?
            } else {
                Value::Null
            }
        }
        Special::PropsOrStringArray => {
            let mut items = Vec::new();
            for (t, raw) in &fields {
                if *t == 2 {
                    items.push(Value::String(String::from_utf8_lossy(expect_bytes(*raw)?).into_owned()));
                }
            }
            if !items.is_empty() {
                Value::Array(items)
            } else if let Some(b) = bytes_of(1)? {
                decode_named(PROPS, b, depth + 1)?
            } else {
                Value::Null
            }
        }
        Special::StringList => {
            let mut items = Vec::new();
            for (t, raw) in &fields {
                if *t == 1 {
                    items.push(Value::String(String::from_utf8_lossy(expect_bytes(*raw)?).into_owned()));
                }
            }
            // Upstream prints an empty one as null; [] means the same and stays a valid list
            // for typed decoders.
            Value::Array(items)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_is_as_lenient_as_go() {
        assert_eq!(go_base64("AAE=").unwrap(), [0, 1]);
        assert_eq!(go_base64("AA\r\nE=").unwrap(), [0, 1]);
        assert_eq!(go_base64("AAF=").unwrap(), [0, 1]);
        assert!(go_base64("AAE").is_err());
        assert!(go_base64("A*E=").is_err());
    }

    #[test]
    fn int_or_string_and_quantity_forms() {
        let ios = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
        for v in [json!(0), json!(-5), json!("25%"), json!("")] {
            assert_eq!(decode_named(ios, &encode_named(ios, &v, 0).unwrap(), 0).unwrap(), v);
        }
        assert!(encode_named(ios, &json!(1u64 << 33), 0).is_err());
        assert!(decode_named(ios, &[0x08, 0x02], 0).is_err());
        let q = "io.k8s.apimachinery.pkg.api.resource.Quantity";
        assert_eq!(decode_named(q, &encode_named(q, &json!(1.5), 0).unwrap(), 0).unwrap(), json!("1.5"));
        assert_eq!(decode_named(q, &[], 0).unwrap(), json!("0"));
        let d = "io.k8s.apimachinery.pkg.apis.meta.v1.Duration";
        assert_eq!(encode_named(d, &json!("1h"), 0).unwrap(), [0x08, 0x80, 0xc0, 0xe2, 0x85, 0xe3, 0x68]);
        assert_eq!(decode_named(d, &encode_named(d, &json!("90s"), 0).unwrap(), 0).unwrap(), json!("1m30s"));
    }

    #[test]
    fn zero_times_are_empty_messages() {
        let t = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
        assert!(encode_named(t, &json!("0001-01-01T00:00:00Z"), 0).unwrap().is_empty());
        assert_eq!(decode_named(t, &[], 0).unwrap(), Value::Null);
        // Seconds only, nanos written as zero (as upstream's Timestamp marshals).
        assert_eq!(encode_named(t, &json!("1970-01-01T00:00:01.5Z"), 0).unwrap(), [0x08, 0x01, 0x10, 0x00]);
        // The epoch is a time, not the zero time.
        assert_eq!(decode_named(t, &[0x08, 0x00, 0x10, 0x00], 0).unwrap(), json!("1970-01-01T00:00:00Z"));
        let mt = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
        // Negative nanos normalize as Go's time.Unix does.
        let neg = [0x08, 0x02, 0x10, 0x98, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(decode_named(mt, &neg, 0).unwrap(), json!("1970-01-01T00:00:01.999999Z"));
    }

    #[test]
    fn zero_value_predicate() {
        for z in [json!(null), json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({})] {
            assert!(is_zero(&z), "{z}");
        }
        for nz in [json!(true), json!(1), json!("0"), json!([0]), json!({"a": 0})] {
            assert!(!is_zero(&nz), "{nz}");
        }
    }
}
