//! The schema definitions: generated from k8s-openapi's types by schemars, with upstream's
//! naming (`io.k8s.api.apps.v1.Deployment`), plus the list kinds and the few meta types the
//! operations reference, and the `x-kubernetes-*` extensions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

struct Base {
    /// Definitions with `$ref`s to `#/components/schemas/` and descriptions beside them.
    defs: BTreeMap<String, Value>,
    /// (group, version, kind) -> definition name, for every served kind.
    kinds: BTreeMap<(String, String, String), String>,
}

fn gvk(g: &str, v: &str, k: &str) -> Value {
    json!({"group": g, "kind": k, "version": v})
}

fn push_gvk(def: &mut Value, g: &str, v: &str, k: &str) {
    let entry = gvk(g, v, k);
    let list = def.as_object_mut().map(|m| m.entry("x-kubernetes-group-version-kind").or_insert_with(|| json!([])));
    if let Some(Value::Array(a)) = list {
        if !a.contains(&entry) {
            a.push(entry);
        }
    }
}

static BASE: Lazy<Base> = Lazy::new(build);

fn build() -> Base {
    let mut gen = schemars::generate::SchemaSettings::openapi3().into_generator();
    let typed = api_types::kinds::typed::register_schemas(&mut gen);
    gen.subschema_for::<meta::Status>();
    gen.subschema_for::<meta::DeleteOptions>();
    gen.subschema_for::<meta::ListMeta>();
    gen.subschema_for::<meta::APIResourceList>();
    let mut defs: BTreeMap<String, Value> = gen.take_definitions(true).into_iter().collect();
    for d in defs.values_mut() {
        if let Some(m) = d.as_object_mut() {
            m.remove("$schema");
            m.remove("title");
        }
    }
    defs.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into(),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
    );
    defs.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent".into(),
        json!({
            "description": "Event represents a single event to a watched resource.",
            "properties": {
                "object": {"description": "Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is recommended; other types may make sense\n   depending on context.", "type": "object"},
                "type": {"default": "", "type": "string"},
            },
            "required": ["type", "object"],
            "type": "object",
        }),
    );
    let mut kinds = BTreeMap::new();
    for (g, v, k, name) in typed {
        if let Some(d) = defs.get_mut(&name) {
            push_gvk(d, g, v, k);
        }
        kinds.insert((g.to_string(), v.to_string(), k.to_string()), name.clone());
        // The list kind of every listable resource.
        if let Some(rd) = api_types::lookup_kind(g, v, k) {
            if rd.has_verb("list") {
                let list_name = format!("{name}List");
                let mut list = json!({
                    "description": format!("{k}List is a list of {k} objects."),
                    "properties": {
                        "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"},
                        "items": {"description": format!("List of {k} objects."), "items": {"$ref": format!("{V3_PREFIX}{name}")}, "type": "array"},
                        "kind": {"description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"},
                        "metadata": {"$ref": format!("{V3_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"), "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"},
                    },
                    "required": ["items"],
                    "type": "object",
                });
                push_gvk(&mut list, g, v, &format!("{k}List"));
                defs.insert(list_name.clone(), list);
                kinds.insert((g.to_string(), v.to_string(), format!("{k}List")), list_name);
            }
        }
    }
    // Status, DeleteOptions and WatchEvent are served by every group-version.
    let mut gvs: Vec<(&str, &str)> = api_types::resources().iter().map(|r| (r.group, r.version)).collect();
    gvs.dedup();
    for name in
        ["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"]
    {
        if let Some(d) = defs.get_mut(name) {
            for (g, v) in &gvs {
                let kind = if name.ends_with("DeleteOptions") { "DeleteOptions" } else { "WatchEvent" };
                push_gvk(d, g, v, kind);
            }
        }
    }
    for (name, kind) in [
        ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "Status"),
        ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", "APIResourceList"),
    ] {
        if let Some(d) = defs.get_mut(name) {
            push_gvk(d, "", "v1", kind);
        }
    }
    fix_required(&mut defs);
    add_patch_extensions(&mut defs);
    Base { defs, kinds }
}

/// Upstream's `required` lists, where k8s-openapi's Rust modelling differs: `metadata` is never
/// required, `LocalObjectReference`-style names are optional, and two fields k8s-openapi
/// models as optional are required upstream.
fn fix_required(defs: &mut BTreeMap<String, Value>) {
    const OPTIONAL_NAME: &[&str] = &[
        "io.k8s.api.core.v1.ConfigMapEnvSource",
        "io.k8s.api.core.v1.ConfigMapKeySelector",
        "io.k8s.api.core.v1.ConfigMapProjection",
        "io.k8s.api.core.v1.ConfigMapVolumeSource",
        "io.k8s.api.core.v1.LocalObjectReference",
        "io.k8s.api.core.v1.SecretEnvSource",
        "io.k8s.api.core.v1.SecretKeySelector",
        "io.k8s.api.core.v1.SecretProjection",
    ];
    const ALSO_REQUIRED: &[(&str, &str)] =
        &[("io.k8s.api.events.v1.Event", "eventTime"), ("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector")];
    for (name, d) in defs.iter_mut() {
        let Some(m) = d.as_object_mut() else { continue };
        let drop_name = OPTIONAL_NAME.contains(&name.as_str());
        let mut req: Vec<Value> = m.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
        // core/v1 Event is the one kind upstream marks metadata required on.
        let keep_meta = name == "io.k8s.api.core.v1.Event";
        req.retain(|r| (keep_meta || r != "metadata") && !(drop_name && r == "name"));
        for (def, field) in ALSO_REQUIRED {
            if name == def && !req.iter().any(|r| r == field) {
                req.push(json!(field));
            }
        }
        req.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        if req.is_empty() {
            m.remove("required");
        } else {
            m.insert("required".into(), Value::Array(req));
        }
    }
}

/// The `x-kubernetes-patch-*`, `list-*` and `map-type` extensions of every property and
/// definition, from the project's patch metadata.
fn add_patch_extensions(defs: &mut BTreeMap<String, Value>) {
    use api_types::patch_meta;
    for (def, prop, meta) in patch_meta::FIELDS {
        let Some(p) = defs
            .get_mut(*def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(*prop))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(s) = meta.patch_strategy {
            p.insert("x-kubernetes-patch-strategy".into(), json!(s));
        }
        if let Some(k) = meta.patch_merge_key {
            p.insert("x-kubernetes-patch-merge-key".into(), json!(k));
        }
        if let Some(t) = meta.list_type {
            p.insert("x-kubernetes-list-type".into(), json!(t));
        }
        if !meta.list_map_keys.is_empty() {
            p.insert("x-kubernetes-list-map-keys".into(), json!(meta.list_map_keys));
        }
        if let Some(t) = meta.map_type {
            p.insert("x-kubernetes-map-type".into(), json!(t));
        }
    }
    for (def, map_type) in patch_meta::TYPES {
        if let Some(d) = defs.get_mut(*def).and_then(Value::as_object_mut) {
            d.insert("x-kubernetes-map-type".into(), json!(map_type));
        }
    }
}

/// The definition name of a kind.
pub fn kind_definition(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    BASE.kinds.get(&(group.to_string(), version.to_string(), kind.to_string())).map(String::as_str)
}

fn collect_refs(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                if let Some(n) = r.strip_prefix(prefix) {
                    out.push(n.to_string());
                }
            }
            for x in m.values() {
                collect_refs(x, prefix, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, prefix, out)),
        _ => {}
    }
}

/// Rewrites a `$ref` with siblings into upstream's v3 form: `allOf: [{$ref}]` beside them.
fn to_v3(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m.iter().map(|(k, x)| (k.clone(), to_v3(x))).collect();
            // Only a string `$ref` is a reference (JSONSchemaProps has a property named `$ref`).
            if out.len() > 1 && out.get("$ref").is_some_and(Value::is_string) {
                if let Some(r) = out.remove("$ref") {
                    out.insert("allOf".into(), json!([{"$ref": r}]));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

/// Upstream's v2 form: `#/definitions/` references, with descriptions beside a lone `$ref`
/// instead of an `allOf` around it.
fn to_v2(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m
                .iter()
                .map(|(k, x)| match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => (k.clone(), Value::String(r.replacen(V3_PREFIX, V2_PREFIX, 1))),
                    _ => (k.clone(), to_v2(x)),
                })
                .collect();
            let lone_ref = match out.get("allOf") {
                Some(Value::Array(a))
                    if a.len() == 1 && a[0].as_object().is_some_and(|o| o.len() == 1 && o.contains_key("$ref")) =>
                {
                    a[0].get("$ref").cloned()
                }
                _ => None,
            };
            if let Some(r) = lone_ref {
                out.remove("allOf");
                out.insert("$ref".into(), r);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(to_v2).collect()),
        other => other.clone(),
    }
}

/// Every definition as built (v3 `$ref`s, possibly wrapped in `allOf`), without copying.
pub fn raw_definitions() -> &'static BTreeMap<String, Value> {
    &BASE.defs
}

/// Every definition in v3 form.
pub fn definitions() -> BTreeMap<String, Value> {
    BASE.defs.iter().map(|(k, v)| (k.clone(), to_v3(v))).collect()
}

/// The named definitions and everything they reference, in v3 form.
pub(crate) fn closure_v3(roots: &[String]) -> Map<String, Value> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.to_vec();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(d) = BASE.defs.get(&n) {
            let mut refs = Vec::new();
            collect_refs(d, V3_PREFIX, &mut refs);
            todo.extend(refs);
        }
    }
    seen.into_iter().filter_map(|n| BASE.defs.get(&n).map(|d| (n, to_v3(d)))).collect()
}

/// Every definition in v2 form.
pub(crate) fn all_v2() -> Map<String, Value> {
    BASE.defs.iter().map(|(k, v)| (k.clone(), to_v2(v))).collect()
}

fn resolve(s: &Value) -> &Value {
    resolve_ref(s).1
}

/// The definition a schema refers to (directly or as `allOf: [{$ref}]`), with its name; the
/// schema itself when it refers to none.
pub(crate) fn resolve_ref(s: &Value) -> (Option<&str>, &Value) {
    let r = s.get("$ref").or_else(|| s.get("allOf").and_then(|a| a.get(0)).and_then(|x| x.get("$ref")));
    match r.and_then(Value::as_str).and_then(|r| r.strip_prefix(V3_PREFIX)).and_then(|n| BASE.defs.get_key_value(n)) {
        Some((n, d)) => (Some(n.as_str()), d),
        None => (None, s),
    }
}

/// A step of the path to a field; the path is spelled out only for unknown fields, so a walk
/// over a known object allocates nothing.
enum Step<'a> {
    Key(&'a str),
    /// A map's key: spelled `.k` even at the top, as upstream's strict decoding does.
    MapKey(&'a str),
    Index(usize),
}

fn spell(path: &[Step<'_>], last: &str) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::MapKey(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(last);
    out
}

fn walk_unknown<'a>(schema: &Value, v: &'a Value, path: &mut Vec<Step<'a>>, out: &mut Vec<String>) {
    let schema = resolve(schema);
    if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, x) in m {
                    match props.get(k) {
                        Some(ps) => {
                            path.push(Step::Key(k));
                            walk_unknown(ps, x, path, out);
                            path.pop();
                        }
                        None => out.push(spell(path, k)),
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, x) in m {
                    path.push(Step::MapKey(k));
                    walk_unknown(ap, x, path, out);
                    path.pop();
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, x) in a.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk_unknown(items, x, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// The fields of an object of the kind that its schema does not know, named as upstream's
/// strict decoding names them (`spec.template.spec.containers[0].foo`). Kinds without a
/// schema (custom resources) have none.
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(def) = kind_definition(group, version, kind).and_then(|n| BASE.defs.get(n)) {
        walk_unknown(def, obj, &mut Vec::new(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unknown_fields_with_upstream_paths() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "labels": {"x": "y"}, "bogus": 1},
            "spec": {"replicas": 1, "replica": 2, "selector": {"matchLabels": {"a": "b"}}, "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "Always"}]}}}});
        let mut u = unknown_fields("apps", "v1", "Deployment", &d);
        u.sort();
        assert_eq!(u, vec!["metadata.bogus", "spec.replica", "spec.template.spec.containers[0].imagePullPolice"]);
        let cm = json!({"metadata": {"name": "a"}, "data": {"any": "key"}});
        assert!(unknown_fields("", "v1", "ConfigMap", &cm).is_empty());
    }
}

/// What a property's value is, as far as patching needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChildKind {
    /// An object of the named definition.
    Object(String),
    /// A list whose elements are of the named definition (None for primitives).
    List(Option<String>),
    /// A map whose values are of the named definition (None for primitives).
    Map(Option<String>),
    Unknown,
}

impl ChildKind {
    pub(crate) fn object_def(&self) -> Option<&str> {
        match self {
            ChildKind::Object(d) => Some(d),
            _ => None,
        }
    }
    pub(crate) fn item_def(&self) -> Option<&str> {
        match self {
            ChildKind::List(d) => d.as_deref(),
            _ => None,
        }
    }
}

fn ref_name(s: &Value) -> Option<String> {
    s.get("$ref")
        .or_else(|| s.get("allOf").and_then(|a| a.get(0)).and_then(|x| x.get("$ref")))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(V3_PREFIX))
        .map(str::to_string)
}

/// The kind of value a definition's property holds.
pub(crate) fn child_definition(def: &str, prop: &str) -> ChildKind {
    let Some(ps) = BASE.defs.get(def).and_then(|d| d.get("properties")).and_then(|p| p.get(prop)) else {
        return ChildKind::Unknown;
    };
    if let Some(n) = ref_name(ps) {
        return ChildKind::Object(n);
    }
    if let Some(items) = ps.get("items") {
        return ChildKind::List(ref_name(items));
    }
    if let Some(ap) = ps.get("additionalProperties") {
        return ChildKind::Map(ref_name(ap));
    }
    ChildKind::Unknown
}
