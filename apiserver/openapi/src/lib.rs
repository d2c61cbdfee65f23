//! OpenAPI documents for the served API, generated from the project's own type knowledge:
//! the schemas come from k8s-openapi's types (their descriptions are upstream's field docs),
//! the operations from the resource registry. Served as `/openapi/v3` (an index and one
//! document per group-version), and `/openapi/v2` (JSON, and the protobuf form kubectl reads).
//!
//! Everything is built once, on first use, and kept as encoded bytes.

mod gnostic;
pub mod gonull;
mod paths;
mod schema;
mod smp;

use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};
use std::collections::BTreeMap;

pub use schema::{definitions, kind_definition, raw_definitions, unknown_fields};
pub use smp::strategic_merge_patch;

/// One group-version's v3 document, encoded, with its content hash.
pub struct V3Doc {
    pub json: Vec<u8>,
    pub hash: String,
}

fn hash(bytes: &[u8]) -> String {
    let d = Sha512::digest(bytes);
    d.iter().map(|b| format!("{b:02X}")).collect()
}

/// The URL path segment of a group-version (`api/v1`, `apis/apps/v1`).
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in api_types::resources() {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

static V3: Lazy<BTreeMap<String, V3Doc>> = Lazy::new(|| {
    let mut docs = BTreeMap::new();
    for (g, v) in group_versions() {
        let doc = v3_document(g, v);
        let json = serde_json::to_vec(&doc).unwrap_or_default();
        let hash = hash(&json);
        docs.insert(gv_path(g, v), V3Doc { json, hash });
    }
    docs
});

/// The v3 document of one group-version path (`apis/apps/v1`).
pub fn v3(path: &str) -> Option<&'static V3Doc> {
    V3.get(path.trim_matches('/'))
}

/// The v3 discovery index: every group-version with its hashed URL.
pub fn v3_index() -> Value {
    let mut paths = Map::new();
    for (p, d) in V3.iter() {
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", d.hash)}));
    }
    json!({"paths": paths})
}

fn v3_document(group: &str, version: &str) -> Value {
    let ops = paths::operations(group, version);
    let mut wanted: Vec<String> = Vec::new();
    for o in &ops {
        o.referenced(&mut wanted);
    }
    let schemas = schema::closure_v3(&wanted);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths::render_v3(&ops),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}},
        },
    })
}

fn v2_document() -> Value {
    let mut all_ops = Vec::new();
    for (g, v) in group_versions() {
        all_ops.extend(paths::operations(g, v));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths::render_v2(&all_ops),
        "definitions": schema::all_v2(),
        "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"}},
        "security": [{"BearerToken": []}],
    })
}

/// `/openapi/v2` as JSON and as gnostic protobuf, with their hash (for ETags).
pub struct V2Doc {
    pub json: Vec<u8>,
    pub protobuf: Vec<u8>,
    pub hash: String,
}

static V2: Lazy<V2Doc> = Lazy::new(|| {
    let doc = v2_document();
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    let protobuf = gnostic::encode_document(&doc);
    let hash = hash(&json);
    V2Doc { json, protobuf, hash }
});

pub fn v2() -> &'static V2Doc {
    &V2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_documents_carry_kinds_and_field_validation() {
        let d = v3("apis/apps/v1").expect("apps/v1");
        let doc: Value = serde_json::from_slice(&d.json).unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "kind": "Deployment", "version": "v1"})
        );
        let params: Vec<&str> =
            patch["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(params.contains(&"fieldValidation"), "{params:?}");
        let dep = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert!(dep["properties"]["spec"]["allOf"][0]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("io.k8s.api.apps.v1.DeploymentSpec"));
        // Every reference resolves inside the document.
        let text = String::from_utf8(d.json.clone()).unwrap();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(doc["components"]["schemas"].get(name).is_some(), "dangling ref {name}");
        }
        let idx = v3_index();
        assert!(idx["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap().starts_with("/openapi/v3/api/v1?hash="));
    }

    #[test]
    fn v2_has_definitions_and_protobuf() {
        let d = v2();
        let doc: Value = serde_json::from_slice(&d.json).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        assert!(doc["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"]
            .as_str()
            .unwrap()
            .starts_with("#/definitions/"));
        assert!(d.protobuf.len() > 100_000);
    }
}
