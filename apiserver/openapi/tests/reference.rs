//! Compares the generated `/openapi/v2` definitions with upstream's published v1.33 spec
//! (`../shared/reference/openapi-v1.33/swagger.json`, never copied into the project): the same
//! properties, required fields, group-version-kinds and `x-kubernetes-*` extensions for every
//! definition both documents have.

use serde_json::Value;
use std::path::Path;

fn reference() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/openapi-v1.33/swagger.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("reference json")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

#[test]
fn definitions_match_upstream() {
    let upstream = reference();
    let ours: Value = serde_json::from_slice(&openapi::v2().json).unwrap();
    let (u, o) = (&upstream["definitions"], &ours["definitions"]);
    let mut compared = 0;
    let mut problems = Vec::new();
    for (name, od) in o.as_object().unwrap() {
        let Some(ud) = u.get(name) else { continue };
        compared += 1;
        if keys(&od["properties"]) != keys(&ud["properties"]) {
            problems.push(format!(
                "{name}: properties {:?} vs upstream {:?}",
                keys(&od["properties"]),
                keys(&ud["properties"])
            ));
        }
        let req = |d: &Value| {
            let mut r: Vec<String> = d["required"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            r.sort();
            r
        };
        if req(od) != req(ud) {
            problems.push(format!("{name}: required {:?} vs upstream {:?}", req(od), req(ud)));
        }
        for (prop, up) in ud["properties"].as_object().into_iter().flatten() {
            for ext in [
                "x-kubernetes-patch-strategy",
                "x-kubernetes-patch-merge-key",
                "x-kubernetes-list-type",
                "x-kubernetes-list-map-keys",
                "x-kubernetes-map-type",
            ] {
                if up.get(ext) != od["properties"][prop].get(ext) {
                    problems.push(format!(
                        "{name}.{prop}: {ext} {:?} vs upstream {:?}",
                        od["properties"][prop].get(ext),
                        up.get(ext)
                    ));
                }
            }
        }
        if let Some(ug) = ud.get("x-kubernetes-group-version-kind").and_then(Value::as_array) {
            let og = od.get("x-kubernetes-group-version-kind").and_then(Value::as_array).cloned().unwrap_or_default();
            for g in ug {
                // Upstream lists every group-version that knows the kind; compare the ones we serve.
                let served = api_types::resources().iter().any(|r| r.group == g["group"] && r.version == g["version"]);
                if served && !og.contains(g) {
                    problems.push(format!("{name}: missing x-kubernetes-group-version-kind {g}"));
                }
            }
        }
    }
    assert!(compared > 400, "only {compared} definitions in common");
    assert!(
        problems.is_empty(),
        "{} differences, first ones:\n{}",
        problems.len(),
        problems.iter().take(200).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_served_kind_is_defined() {
    let ours: Value = serde_json::from_slice(&openapi::v2().json).unwrap();
    for r in api_types::resources() {
        let found = ours["definitions"].as_object().unwrap().values().any(|d| {
            d["x-kubernetes-group-version-kind"].as_array().is_some_and(|a| {
                a.iter().any(|g| g["group"] == r.group && g["version"] == r.version && g["kind"] == r.kind)
            })
        });
        assert!(found, "no definition for {}/{} {}", r.group, r.version, r.kind);
    }
}
