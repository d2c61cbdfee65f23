//! Request decoding and response encoding: JSON and YAML bodies, size limits, content
//! negotiation, and query parameters.

use crate::error::{ApiError, ApiResult};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::HashMap;

/// Upstream's limit on request bodies (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How much of an oversized body is read and discarded before answering 413, so that clients
/// still writing it see the Status rather than a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a whole request body, refusing more than [`MAX_BODY`] bytes with 413.
pub async fn read_body(mut body: hyper::body::Incoming, content_length: Option<usize>) -> ApiResult<Bytes> {
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    let oversized_declared = content_length.is_some_and(|n| n > MAX_BODY);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("error reading request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > DRAIN_LIMIT {
                break;
            }
            if !oversized_declared && total <= MAX_BODY {
                buf.extend_from_slice(&data);
            }
        }
    }
    if oversized_declared || total > MAX_BODY {
        return Err(too_large());
    }
    Ok(buf.freeze())
}

fn too_large() -> ApiError {
    ApiError::TooLarge("Request entity too large: limit is 3145728".into())
}

/// The media type of a Content-Type header, without parameters.
pub fn media_type(content_type: Option<&str>) -> String {
    content_type.unwrap_or("application/json").split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Decodes an object body (JSON or YAML).
pub fn decode_object(body: &[u8], content_type: Option<&str>) -> ApiResult<Value> {
    let mt = media_type(content_type);
    let v: Value = match mt.as_str() {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("error decoding JSON: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_saphyr::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: yaml: {e}")))?,
        "application/vnd.kubernetes.protobuf" => return decode_protobuf(body),
        "application/cbor" => {
            return Err(ApiError::UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".to_string()))
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
            )))
        }
    };
    if !v.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the object provided is unrecognized (must be of type {})",
            match v {
                Value::Array(_) => "object, not array",
                Value::String(_) => "object, not string",
                _ => "object",
            }
        )));
    }
    Ok(v)
}

/// Decodes an options body (`DeleteOptions`) in any content type the apiserver accepts for
/// objects: client-go sends it as protobuf by default, whatever group the resource is in.
pub fn decode_options(body: &[u8], content_type: Option<&str>, kind: &str) -> ApiResult<Value> {
    let bad = |e: String| ApiError::BadRequest(format!("error decoding {kind}: {e}"));
    let v: Value = match media_type(content_type).as_str() {
        "application/vnd.kubernetes.protobuf" => {
            let definition = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}");
            kproto::decode_object_as(body, &definition).map_err(|e| bad(e.to_string()))?
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_saphyr::from_slice(body).map_err(|e| bad(format!("yaml: {e}")))?
        }
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})"
            )))
        }
    };
    if !v.is_object() {
        return Err(bad(format!("expected an object, got {v}")));
    }
    Ok(v)
}

/// A protobuf body (`k8s\0` + `runtime.Unknown`): the envelope names the kind, whose schema
/// turns the message into upstream's JSON form, apiVersion and kind included.
fn decode_protobuf(body: &[u8]) -> ApiResult<Value> {
    let bad = |e: kproto::Error| ApiError::BadRequest(format!("error decoding protobuf body: {e}"));
    let (api_version, kind, raw) = kproto::decode_object(body).map_err(bad)?;
    if kind.is_empty() {
        return Err(ApiError::BadRequest("Object 'Kind' is missing in protobuf body".into()));
    }
    let (group, version) = api_types::split_api_version(&api_version);
    let definition = openapi::kind_definition(group, version, &kind).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (no protobuf form for {kind} in {api_version})"
        ))
    })?;
    let mut v = kproto::decode(definition, &raw).map_err(bad)?;
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), Value::String(api_version));
        m.insert("kind".into(), Value::String(kind));
    }
    Ok(v)
}

/// How a response body should be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Yaml,
    /// `as=Table;v=v1;g=meta.k8s.io`
    Table,
    /// `as=PartialObjectMetadata[List];v=v1;g=meta.k8s.io`: metadata only.
    PartialMetadata,
    /// `application/vnd.kubernetes.protobuf` (and `;stream=watch` for watches).
    Protobuf,
}

/// Picks the response encoding from the Accept header; 406 when nothing acceptable is served.
/// `table`: whether the endpoint can answer as a Table; upstream's endpoints without a table
/// convertor (the review APIs, bindings, TokenRequest) skip `as=Table` clauses.
pub fn negotiate(accept: Option<&str>, table: bool) -> ApiResult<Encoding> {
    let Some(accept) = accept else {
        return Ok(Encoding::Json);
    };
    if accept.trim().is_empty() {
        return Ok(Encoding::Json);
    }
    for part in accept.split(',') {
        let mut it = part.split(';').map(str::trim);
        let mt = it.next().unwrap_or("").to_ascii_lowercase();
        let params: HashMap<String, String> =
            it.filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
        if let Some(a) = params.get("as") {
            let meta_group = params.get("g").map(String::as_str) == Some("meta.k8s.io")
                && matches!(mt.as_str(), "application/json" | "*/*");
            if meta_group && (a == "PartialObjectMetadata" || a == "PartialObjectMetadataList") {
                return Ok(Encoding::PartialMetadata);
            }
            if a == "Table" && meta_group && table {
                return Ok(Encoding::Table);
            }
            continue;
        }
        match mt.as_str() {
            "application/json"
            | "*/*"
            | "application/*"
            | "application/json-patch+json"
            | "application/merge-patch+json" => return Ok(Encoding::Json),
            "application/yaml" => return Ok(Encoding::Yaml),
            "application/vnd.kubernetes.protobuf" => return Ok(Encoding::Protobuf),
            _ => continue,
        }
    }
    Err(ApiError::NotAcceptable(
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf".into(),
    ))
}

/// Decoded query parameters (the last value wins, as Go's `url.Values.Get` returns the first;
/// duplicates are rare and harmless either way).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut m = HashMap::new();
        if let Some(q) = q {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Query(m)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn str(&self, k: &str) -> &str {
        self.get(k).unwrap_or("")
    }
    pub fn flag(&self, k: &str) -> bool {
        self.get(k).and_then(parse_bool) == Some(true)
    }
    pub fn int(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::BadRequest(format!(
                    "invalid value for {k}: {v:?}: strconv.ParseInt: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }
}

/// The keys of a JSON body in document order, as upstream's strict decoder meets them: where
/// each path first appears, and the keys that appear twice in one object (reported where the
/// second one is read). YAML bodies with duplicate keys already fail to parse.
#[derive(Debug, Default)]
pub struct FieldScan {
    /// Where each path first appears; recorded only when asked (there are unknown fields to
    /// place), so the common write pays for duplicate detection alone.
    first: Option<HashMap<String, usize>>,
    keys: usize,
    duplicates: Vec<(usize, String)>,
}

impl FieldScan {
    /// `positions`: also record where each path first appears (to order unknown fields).
    pub fn new(body: &[u8], content_type: Option<&str>, positions: bool) -> FieldScan {
        use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
        use std::cell::RefCell;

        struct Walk<'a> {
            path: String,
            out: &'a RefCell<FieldScan>,
        }
        impl<'de> DeserializeSeed<'de> for Walk<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> Visitor<'de> for Walk<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
                let mut seen = std::collections::HashSet::new();
                while let Some(k) = m.next_key::<String>()? {
                    let p = if self.path.is_empty() { k.clone() } else { format!("{}.{k}", self.path) };
                    {
                        let mut out = self.out.borrow_mut();
                        let at = out.keys;
                        out.keys += 1;
                        if !seen.insert(k) {
                            out.duplicates.push((at, p.clone()));
                        } else if let Some(first) = out.first.as_mut() {
                            first.entry(p.clone()).or_insert(at);
                        }
                    }
                    m.next_value_seed(Walk { path: p, out: self.out })?;
                }
                Ok(())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
                let mut i = 0;
                while s.next_element_seed(Walk { path: format!("{}[{i}]", self.path), out: self.out })?.is_some() {
                    i += 1;
                }
                Ok(())
            }
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_i64<E>(self, _: i64) -> Result<(), E> {
                Ok(())
            }
            fn visit_u64<E>(self, _: u64) -> Result<(), E> {
                Ok(())
            }
            fn visit_f64<E>(self, _: f64) -> Result<(), E> {
                Ok(())
            }
            fn visit_str<E>(self, _: &str) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
        }
        if !matches!(media_type(content_type).as_str(), "" | "application/json" | "*/*") {
            return FieldScan::default();
        }
        let out = RefCell::new(FieldScan { first: positions.then(HashMap::new), ..FieldScan::default() });
        let mut de = serde_json::Deserializer::from_slice(body);
        let _ = Walk { path: String::new(), out: &out }.deserialize(&mut de);
        out.into_inner()
    }

    /// Upstream's strict decoding errors for the body: each unknown field where it first
    /// appears and each duplicate where it repeats, in document order, each (kind, path)
    /// once, at most 100 (Go's decoder stops collecting there).
    pub fn strict_errors(&self, unknown: Vec<String>) -> Vec<String> {
        let mut all: Vec<(usize, String)> = unknown
            .into_iter()
            .map(|u| {
                let at = self.first.as_ref().and_then(|f| f.get(&u)).copied().unwrap_or(usize::MAX);
                (at, format!("unknown field \"{u}\""))
            })
            .chain(self.duplicates.iter().map(|(at, d)| (*at, format!("duplicate field \"{d}\""))))
            .collect();
        all.sort_by_key(|(at, _)| *at);
        let mut seen = std::collections::HashSet::new();
        all.into_iter().map(|(_, e)| e).filter(|e| seen.insert(e.clone())).take(100).collect()
    }
}

/// Encodes a body (an object, a list with its items, or a Status) as protobuf with upstream's
/// envelope; None when its kind has no protobuf form (the caller answers JSON instead).
pub fn encode_protobuf(body: &Value) -> Option<Vec<u8>> {
    let api_version = body.get("apiVersion").and_then(Value::as_str)?;
    let kind = body.get("kind").and_then(Value::as_str)?;
    let (group, version) = api_types::split_api_version(api_version);
    let definition = if kind == "Status" {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    } else {
        openapi::kind_definition(group, version, kind)?
    };
    kproto::encode_object(api_version, kind, definition, body).ok()
}

/// Go's `strconv.ParseBool`, which decodes boolean query parameters upstream.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strict_errors_in_document_order() {
        let scan =
            super::FieldScan::new(br#"{"metadata":{"name":"a","name":"b"},"spec":{"x":[{"k":1,"k":2}]}}"#, None, false);
        assert_eq!(
            scan.strict_errors(vec![]),
            vec!["duplicate field \"metadata.name\"", "duplicate field \"spec.x[0].k\""]
        );
        assert!(super::FieldScan::new(br#"{"a":1}"#, None, false).strict_errors(vec![]).is_empty());
        // Upstream's example: the unknown field comes before the repeated key.
        let body = br#"{"spec":{"replicas":1,"unknownField":true,"replicas":2}}"#;
        let scan = super::FieldScan::new(body, None, true);
        assert_eq!(
            scan.strict_errors(vec!["spec.unknownField".into()]),
            vec!["unknown field \"spec.unknownField\"", "duplicate field \"spec.replicas\""]
        );
        // A duplicate read before an unknown key comes first.
        let body = br#"{"spec":{"replicas":1,"replicas":2,"unknownField":true}}"#;
        assert_eq!(
            super::FieldScan::new(body, None, true).strict_errors(vec!["spec.unknownField".into()]),
            vec!["duplicate field \"spec.replicas\"", "unknown field \"spec.unknownField\""]
        );
    }
}
