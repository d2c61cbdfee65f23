//! `/openapi/v2` in the protobuf form kubectl asks for
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): gnostic's `openapi.v2`
//! messages, of which we emit the document's version, info and definitions — what kubectl
//! parses to build its schema models.

use serde_json::Value;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Document {
    #[prost(string, tag = "1")]
    pub swagger: String,
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    #[prost(message, optional, tag = "9")]
    pub definitions: Option<Definitions>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "2")]
    pub yaml: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedAny {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AdditionalPropertiesItem {
    #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
    pub oneof: Option<additional_properties_item::Oneof>,
}

pub mod additional_properties_item {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Oneof {
        #[prost(message, tag = "1")]
        Schema(Box<super::Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Schema {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub format: String,
    #[prost(string, tag = "3")]
    pub title: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(message, optional, tag = "5")]
    pub default: Option<Any>,
    #[prost(string, repeated, tag = "19")]
    pub required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub r#enum: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    pub r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub properties: Option<Properties>,
    #[prost(bool, tag = "27")]
    pub read_only: bool,
    #[prost(message, repeated, tag = "31")]
    pub vendor_extension: Vec<NamedAny>,
}

fn yaml(v: &Value) -> Any {
    Any { yaml: serde_saphyr::to_string(v).unwrap_or_default() }
}

fn schema(v: &Value) -> Schema {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = Schema {
        r#ref: s("$ref"),
        format: s("format"),
        title: s("title"),
        description: s("description"),
        default: v.get("default").map(yaml),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        r#enum: v.get("enum").and_then(Value::as_array).map(|a| a.iter().map(yaml).collect()).unwrap_or_default(),
        additional_properties: v.get("additionalProperties").map(|a| {
            Box::new(AdditionalPropertiesItem {
                oneof: Some(match a {
                    Value::Bool(b) => additional_properties_item::Oneof::Boolean(*b),
                    other => additional_properties_item::Oneof::Schema(Box::new(schema(other))),
                }),
            })
        }),
        r#type: v.get("type").and_then(Value::as_str).map(|t| TypeItem { value: vec![t.to_string()] }),
        items: v.get("items").map(|i| ItemsItem { schema: vec![schema(i)] }),
        all_of: v.get("allOf").and_then(Value::as_array).map(|a| a.iter().map(schema).collect()).unwrap_or_default(),
        properties: v.get("properties").and_then(Value::as_object).map(|m| Properties {
            additional_properties: m
                .iter()
                .map(|(k, x)| NamedSchema { name: k.clone(), value: Some(schema(x)) })
                .collect(),
        }),
        read_only: v.get("readOnly").and_then(Value::as_bool).unwrap_or(false),
        vendor_extension: Vec::new(),
    };
    if let Some(m) = v.as_object() {
        for (k, x) in m.iter().filter(|(k, _)| k.starts_with("x-")) {
            out.vendor_extension.push(NamedAny { name: k.clone(), value: Some(yaml(x)) });
        }
    }
    out
}

/// Encodes the v2 JSON document's version, info and definitions as gnostic protobuf.
pub fn encode_document(doc: &Value) -> Vec<u8> {
    use prost::Message;
    let d = Document {
        swagger: doc.get("swagger").and_then(Value::as_str).unwrap_or("2.0").to_string(),
        info: Some(Info {
            title: doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("").to_string(),
            version: doc.pointer("/info/version").and_then(Value::as_str).unwrap_or("").to_string(),
        }),
        definitions: doc.get("definitions").and_then(Value::as_object).map(|m| Definitions {
            additional_properties: m
                .iter()
                .map(|(k, v)| NamedSchema { name: k.clone(), value: Some(schema(v)) })
                .collect(),
        }),
    };
    d.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use serde_json::json;

    #[test]
    fn round_trips_through_protobuf() {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "definitions": {
            "a.B": {"type": "object", "description": "d", "required": ["x"], "properties": {"x": {"type": "string"}, "m": {"type": "object", "additionalProperties": {"type": "string"}}},
                    "x-kubernetes-group-version-kind": [{"group": "", "kind": "B", "version": "v1"}]}
        }});
        let bytes = encode_document(&doc);
        let d = Document::decode(bytes.as_slice()).unwrap();
        assert_eq!(d.swagger, "2.0");
        let b = &d.definitions.unwrap().additional_properties[0];
        assert_eq!(b.name, "a.B");
        let s = b.value.as_ref().unwrap();
        assert_eq!(s.required, vec!["x".to_string()]);
        assert!(s.vendor_extension[0].value.as_ref().unwrap().yaml.contains("kind: B"));
    }
}
