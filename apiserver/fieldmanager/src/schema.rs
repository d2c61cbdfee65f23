//! The type information structured merge needs, compacted from the served OpenAPI
//! definitions: per property whether it is a scalar, a struct, a map, or a list (atomic, a
//! set, or keyed by `x-kubernetes-list-map-keys`), as upstream's `schemaconv` derives it
//! (lists without a list type fall back to their patch strategy, else atomic).

use once_cell::sync::Lazy;
use serde_json::Value;
use std::collections::HashMap;

const REF_PREFIX: &str = "#/components/schemas/";

/// A type reference.
#[derive(Debug, Clone)]
pub enum Ty {
    Scalar,
    /// Free-form JSON (RawExtension, preserve-unknown-fields): maps are granular, lists atomic.
    Untyped,
    /// A named definition; `atomic` when the referring property says `x-kubernetes-map-type: atomic`.
    Named {
        def: u32,
        atomic: bool,
    },
    List(Box<ListTy>),
    Map(Box<MapTy>),
}

#[derive(Debug, Clone)]
pub struct ListTy {
    pub elem: Ty,
    pub atomic: bool,
    /// Key fields of a keyed associative list; empty for a set.
    pub keys: Vec<String>,
}

/// A struct (named fields) or a map (element type), or both.
#[derive(Debug, Clone, Default)]
pub struct MapTy {
    pub fields: HashMap<String, Ty>,
    pub elem: Option<Ty>,
    pub atomic: bool,
}

#[derive(Debug)]
enum Def {
    Scalar,
    Untyped,
    Map(MapTy),
    List(ListTy),
}

pub struct Schema {
    defs: Vec<Def>,
    by_name: HashMap<String, u32>,
}

/// What a type is, for one value.
pub enum Atom<'s> {
    Scalar,
    List(&'s ListTy),
    /// `None` for a free-form map (untyped elements, no named fields).
    Map(Option<&'s MapTy>, bool),
}

static SCHEMA: Lazy<Schema> = Lazy::new(|| Schema::build(openapi::raw_definitions()));

pub fn schema() -> &'static Schema {
    &SCHEMA
}

fn ref_name(s: &Value) -> Option<&str> {
    s.get("$ref")
        .or_else(|| s.get("allOf").and_then(|a| a.get(0)).and_then(|x| x.get("$ref")))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(REF_PREFIX))
}

fn ext_str<'v>(s: &'v Value, k: &str) -> Option<&'v str> {
    s.get(k).and_then(Value::as_str)
}

impl Schema {
    fn build(defs: &std::collections::BTreeMap<String, Value>) -> Schema {
        let by_name: HashMap<String, u32> = defs.keys().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        let defs = defs.values().map(|d| Self::def(d, &by_name)).collect();
        Schema { defs, by_name }
    }

    fn def(d: &Value, names: &HashMap<String, u32>) -> Def {
        if d.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) {
            return Def::Untyped;
        }
        match Self::ty(d, names) {
            Ty::Scalar => Def::Scalar,
            Ty::Map(m) => Def::Map(*m),
            Ty::List(l) => Def::List(*l),
            _ => Def::Untyped,
        }
    }

    fn ty(s: &Value, names: &HashMap<String, u32>) -> Ty {
        if let Some(n) = ref_name(s) {
            return match names.get(n) {
                Some(&def) => Ty::Named { def, atomic: ext_str(s, "x-kubernetes-map-type") == Some("atomic") },
                None => Ty::Untyped,
            };
        }
        if s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) {
            return Ty::Untyped;
        }
        if let Some(items) = s.get("items") {
            let (atomic, keys) = list_relationship(s);
            return Ty::List(Box::new(ListTy { elem: Self::ty(items, names), atomic, keys }));
        }
        let props = s.get("properties").and_then(Value::as_object);
        let ap = s.get("additionalProperties").filter(|a| a.is_object());
        if props.is_some() || ap.is_some() {
            let fields =
                props.map(|p| p.iter().map(|(k, v)| (k.clone(), Self::ty(v, names))).collect()).unwrap_or_default();
            return Ty::Map(Box::new(MapTy {
                fields,
                elem: ap.map(|a| Self::ty(a, names)),
                atomic: ext_str(s, "x-kubernetes-map-type") == Some("atomic"),
            }));
        }
        match ext_str(s, "type") {
            Some("string" | "integer" | "number" | "boolean") => Ty::Scalar,
            _ => Ty::Untyped,
        }
    }

    /// The type of a definition, by name (`io.k8s.api.apps.v1.Deployment`).
    pub fn named(&self, name: &str) -> Option<Ty> {
        self.by_name.get(name).map(|&def| Ty::Named { def, atomic: false })
    }

    /// Resolves a type for a value (free-form types depend on the value's shape).
    pub fn resolve<'s>(&'s self, ty: &'s Ty, v: Option<&Value>) -> Atom<'s> {
        match ty {
            Ty::Scalar => Atom::Scalar,
            Ty::List(l) => Atom::List(l),
            Ty::Map(m) => Atom::Map(Some(m), m.atomic),
            Ty::Named { def, atomic } => match self.defs.get(*def as usize) {
                Some(Def::Scalar) => Atom::Scalar,
                Some(Def::Map(m)) => Atom::Map(Some(m), m.atomic || *atomic),
                Some(Def::List(l)) => Atom::List(l),
                Some(Def::Untyped) | None => untyped(v),
            },
            Ty::Untyped => untyped(v),
        }
    }
}

static ATOMIC_UNTYPED_LIST: Lazy<ListTy> = Lazy::new(|| ListTy { elem: Ty::Untyped, atomic: true, keys: Vec::new() });

fn untyped<'s>(v: Option<&Value>) -> Atom<'s> {
    match v {
        Some(Value::Object(_)) | None => Atom::Map(None, false),
        Some(Value::Array(_)) => Atom::List(&ATOMIC_UNTYPED_LIST),
        Some(_) => Atom::Scalar,
    }
}

/// `schemaconv`'s rule: the list type, else a merge patch strategy (keyed by the merge key,
/// or a set without one), else atomic.
fn list_relationship(s: &Value) -> (bool, Vec<String>) {
    match ext_str(s, "x-kubernetes-list-type") {
        Some("set") => return (false, Vec::new()),
        Some("map") => {
            let keys = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            return (false, keys);
        }
        Some(_) => return (true, Vec::new()),
        None => {}
    }
    match ext_str(s, "x-kubernetes-patch-strategy") {
        Some("merge" | "merge,retainKeys") => {
            (false, ext_str(s, "x-kubernetes-patch-merge-key").map(|k| vec![k.to_string()]).unwrap_or_default())
        }
        _ => (true, Vec::new()),
    }
}

impl MapTy {
    /// The type of a key: its named field, else the element type.
    pub fn field(&self, k: &str) -> Option<&Ty> {
        self.fields.get(k).or(self.elem.as_ref())
    }
}
