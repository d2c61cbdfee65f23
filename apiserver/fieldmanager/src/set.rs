//! Field paths and sets of them, as structured-merge-diff models ownership: a path element
//! is a struct field or map key (`f:name`), a list item by its key fields
//! (`k:{"name":"c"}`), a set item by value (`v:"x"`) or an index (`i:0`). A set is a trie whose
//! nodes may themselves be members; `FieldsV1` is its JSON form, `.` marking a member node
//! that also has children.

use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    Field(String),
    /// Key fields of an associative list item, sorted by name.
    Key(Vec<(String, Value)>),
    Value(Value),
    Index(usize),
}

/// Structured-merge-diff's value order: numbers < strings < bools < lists < maps < null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = compare_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            for ((ka, va), (kb, vb)) in xs.iter().zip(&ys) {
                let c = ka.cmp(kb).then_with(|| compare_values(va, vb));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_string())
    }

    /// The FieldsV1 key: `f:name`, `k:{"a":1}`, `v:"x"`, `i:0`.
    pub fn serialize(&self) -> String {
        match self {
            PathElement::Field(n) => format!("f:{n}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v)).collect();
                format!("k:{{{}}}", parts.join(","))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    pub fn deserialize(s: &str) -> Result<Self, String> {
        if s.len() < 2 || s.as_bytes()[1] != b':' {
            return Err(format!("missing colon: {s}"));
        }
        let rest = &s[2..];
        match &s[..1] {
            "f" => Ok(PathElement::Field(rest.to_string())),
            "v" => serde_json::from_str(rest).map(PathElement::Value).map_err(|e| e.to_string()),
            "k" => {
                let m: Map<String, Value> = serde_json::from_str(rest).map_err(|e| e.to_string())?;
                let mut fields: Vec<(String, Value)> = m.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(fields))
            }
            "i" => rest.parse().map(PathElement::Index).map_err(|e| format!("{e}")),
            _ => Err("unknown path element type".into()),
        }
    }
}

/// Go's `%v` of a value inside a path string (`value.ToString`).
fn value_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(value_string).collect::<Vec<_>>().join(",")),
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", value_string(v))).collect::<Vec<_>>().join(""),
        other => other.to_string(),
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", value_string(v))).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for PathElement {}
impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b) {
                    let c = ka.cmp(kb).then_with(|| compare_values(va, vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<PathElement>;

/// `.spec.template.spec.containers[name="c"].image`, as upstream prints paths.
pub fn path_string(p: &[PathElement]) -> String {
    p.iter().map(|e| e.to_string()).collect()
}

/// A set of paths: members at this level and non-empty child sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    pub members: BTreeSet<PathElement>,
    pub children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Self {
        Set::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path; the empty path (the whole object) is not tracked.
    pub fn insert(&mut self, p: &[PathElement]) {
        match p {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, p: &[PathElement]) -> bool {
        match p {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The paths under `pe`, relative to it.
    pub fn with_prefix(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in(other);
        out
    }

    pub fn union_in(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            self.children.entry(pe.clone()).or_default().union_in(c);
        }
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            if let Some(c2) = other.children.get(pe) {
                let i = c.intersection(c2);
                if !i.is_empty() {
                    children.insert(pe.clone(), i);
                }
            }
        }
        Set { members, children }
    }

    /// Paths of `self` not in `other`; a member of `other` does not remove its subtree.
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            match other.children.get(pe) {
                Some(c2) => {
                    let d = c.difference(c2);
                    if !d.is_empty() {
                        children.insert(pe.clone(), d);
                    }
                }
                None => {
                    children.insert(pe.clone(), c.clone());
                }
            }
        }
        Set { members, children }
    }

    /// `difference` in place: touches only the paths `other` has, so taking a few paths out of
    /// a large set costs no copy of it.
    pub fn subtract(&mut self, other: &Set) {
        for m in &other.members {
            self.members.remove(m);
        }
        for (pe, c) in &other.children {
            if let Some(mine) = self.children.get_mut(pe) {
                mine.subtract(c);
                if mine.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// `recursive_difference` in place.
    pub fn recursive_subtract(&mut self, other: &Set) {
        for m in &other.members {
            self.members.remove(m);
            self.children.remove(m);
        }
        for (pe, c) in &other.children {
            if other.members.contains(pe) {
                continue;
            }
            if let Some(mine) = self.children.get_mut(pe) {
                mine.recursive_subtract(c);
                if mine.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// Like `difference`, but a member of `other` removes the whole subtree under it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            match other.children.get(pe) {
                Some(c2) => {
                    let d = c.recursive_difference(c2);
                    if !d.is_empty() {
                        children.insert(pe.clone(), d);
                    }
                }
                None => {
                    children.insert(pe.clone(), c.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Every member path: this level's members first, then each child's, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The FieldsV1 JSON object.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        // Members and children interleave in path-element order (upstream's; the JSON map
        // itself is kept sorted by key when encoded).
        let mut keys: Vec<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        keys.sort();
        keys.dedup();
        for pe in keys {
            let v = match self.children.get(pe) {
                Some(c) => Value::Object(c.emit(self.members.contains(pe))),
                None => Value::Object(Map::new()),
            };
            out.insert(pe.serialize(), v);
        }
        out
    }

    /// Parses a FieldsV1 JSON object.
    pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
        let Value::Object(m) = v else {
            return Err("FieldsV1 must be a JSON object".into());
        };
        let mut s = Set::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PathElement::deserialize(k)?;
            let Value::Object(cm) = child else {
                return Err(format!("{k}: expected an object"));
            };
            if cm.is_empty() {
                s.members.insert(pe);
                continue;
            }
            if cm.contains_key(".") {
                s.members.insert(pe.clone());
            }
            let c = Set::from_fields_v1(child)?;
            if !c.is_empty() {
                s.children.insert(pe, c);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(n: &str) -> PathElement {
        PathElement::field(n)
    }

    #[test]
    fn fields_v1_round_trip_in_upstream_order() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}, "f:finalizers": {"v:\"a\"": {}}}});
        let s = Set::from_fields_v1(&v).unwrap();
        assert!(s.has(&[f("metadata"), f("labels")]));
        assert!(s.has(&[f("metadata"), f("labels"), f("app")]));
        assert!(!s.has(&[f("metadata")]));
        assert_eq!(serde_json::to_string(&s.to_fields_v1()).unwrap(), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn paths_print_as_upstream() {
        let p = vec![f("spec"), PathElement::Key(vec![("name".into(), json!("c"))]), f("image")];
        assert_eq!(path_string(&p), ".spec[name=\"c\"].image");
        assert_eq!(path_string(&[f("x"), PathElement::Value(json!("v"))]), ".x[=\"v\"]");
        assert_eq!(
            PathElement::Key(vec![("containerPort".into(), json!(80)), ("protocol".into(), json!("TCP"))]).serialize(),
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
    }

    #[test]
    fn set_algebra() {
        let mut a = Set::new();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("template")]);
        a.insert(&[f("spec"), f("template"), f("x")]);
        let mut b = Set::new();
        b.insert(&[f("spec"), f("template")]);
        let d = a.difference(&b);
        assert!(d.has(&[f("spec"), f("template"), f("x")]) && !d.has(&[f("spec"), f("template")]));
        let r = a.recursive_difference(&b);
        assert_eq!(r.paths(), vec![vec![f("spec"), f("replicas")]]);
        assert_eq!(a.intersection(&b).paths(), vec![vec![f("spec"), f("template")]]);
        assert_eq!(b.union(&a), a);
    }
}
