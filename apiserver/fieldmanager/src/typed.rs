//! Structured operations over typed JSON values, with structured-merge-diff's semantics:
//! the field set of an object, the comparison of two objects (added, modified, removed
//! paths), the merge of an applied configuration into a live object, and the removal of
//! owned items.

use crate::schema::{Atom, ListTy, Schema, Ty};
use crate::set::{path_string, Path, PathElement, Set};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

static UNTYPED: Ty = Ty::Untyped;

/// Added, modified and removed paths between two objects.
#[derive(Debug, Default)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

impl Comparison {
    pub fn exclude(&mut self, ignored: &Set) {
        if ignored.is_empty() {
            return;
        }
        self.added.recursive_subtract(ignored);
        self.modified.recursive_subtract(ignored);
        self.removed.recursive_subtract(ignored);
    }
}

/// Schema errors of a value (`.spec.foo: field not declared in schema`).
#[derive(Debug, Default)]
pub struct Errors(pub Vec<String>);

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => write!(f, "errors:\n  {}", many.join("\n  ")),
        }
    }
}

fn go_quote_list(keys: &[String]) -> String {
    format!("[{}]", keys.iter().map(|k| Value::String(k.clone()).to_string()).collect::<Vec<_>>().join(" "))
}

/// The path element of a list item (by key fields, or by value for a set).
pub fn list_item_pe(l: &ListTy, item: &Value) -> Result<PathElement, String> {
    if !l.keys.is_empty() {
        let m = match item {
            Value::Object(m) => m,
            Value::Null => return Err("associative list with keys may not have a null element".into()),
            _ => return Err("associative list with keys may not have non-map elements".into()),
        };
        let mut fields = Vec::with_capacity(l.keys.len());
        for k in &l.keys {
            match m.get(k) {
                Some(v) => fields.push((k.clone(), v.clone())),
                // The only key with a schema default among the built-in types.
                None if k == "protocol" => fields.push((k.clone(), Value::String("TCP".into()))),
                None => {}
            }
        }
        if fields.is_empty() {
            return Err(format!(
                "associative list with keys has an element that omits all key fields {} (and doesn't have default values for any key fields)",
                go_quote_list(&l.keys)
            ));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        return Ok(PathElement::Key(fields));
    }
    match item {
        Value::Object(_) => Err("associative list without keys has an element that's a map type".into()),
        Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
        Value::Null => Err("associative list without keys has an element that's an explicit null".into()),
        v => Ok(PathElement::Value(v.clone())),
    }
}

fn child_ty<'s>(m: Option<&'s crate::schema::MapTy>, k: &str) -> Option<&'s Ty> {
    match m {
        Some(m) => m.field(k),
        None => Some(&UNTYPED),
    }
}

fn is_named_field(m: Option<&crate::schema::MapTy>, k: &str) -> bool {
    m.is_some_and(|m| m.fields.contains_key(k))
}

pub struct Walker<'s> {
    pub schema: &'s Schema,
}

impl<'s> Walker<'s> {
    // ------------------------------------------------------------ field sets

    /// The set of fields `v` specifies; `errors` collects values the schema does not allow.
    pub fn to_field_set(&self, v: &Value, ty: &Ty, path: &mut Path, set: &mut Set, errors: &mut Errors) {
        match self.schema.resolve(ty, Some(v)) {
            Atom::Scalar => {
                if v.is_object() || v.is_array() {
                    errors.0.push(format!("{}: expected scalar, got {}", path_string(path), kind_name(v)));
                }
                set.insert(path);
            }
            Atom::List(l) => {
                if l.atomic {
                    set.insert(path);
                    return;
                }
                let items = match v {
                    Value::Array(a) => a,
                    Value::Null => return,
                    other => {
                        errors.0.push(format!("{}: expected list, got {}", path_string(path), kind_name(other)));
                        return;
                    }
                };
                let mut seen: BTreeMap<PathElement, usize> = BTreeMap::new();
                let mut pes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match list_item_pe(l, item) {
                        Ok(pe) => {
                            *seen.entry(pe.clone()).or_default() += 1;
                            pes.push(Some(pe));
                        }
                        Err(e) => {
                            errors.0.push(format!("{}: element {i}: {e}", path_string(path)));
                            pes.push(None);
                        }
                    }
                }
                for (item, pe) in items.iter().zip(pes) {
                    let Some(pe) = pe else { continue };
                    path.push(pe.clone());
                    if seen.get(&pe).copied().unwrap_or(0) > 1 {
                        errors
                            .0
                            .push(format!("{}: duplicate entries for key {pe}", path_string(&path[..path.len() - 1])));
                        set.insert(path);
                    } else {
                        self.to_field_set(item, &l.elem, path, set, errors);
                        set.insert(path);
                    }
                    path.pop();
                }
            }
            Atom::Map(m, atomic) => {
                if atomic {
                    set.insert(path);
                    return;
                }
                let obj = match v {
                    Value::Object(o) => o,
                    Value::Null => return,
                    other => {
                        errors.0.push(format!("{}: expected map, got {}", path_string(path), kind_name(other)));
                        return;
                    }
                };
                for (k, val) in obj {
                    path.push(PathElement::Field(k.clone()));
                    match child_ty(m, k) {
                        None => errors.0.push(format!("{}: field not declared in schema", path_string(path))),
                        Some(cty) => {
                            self.to_field_set(val, cty, path, set, errors);
                            let empty_map = val.as_object().is_some_and(Map::is_empty);
                            if val.is_null() || empty_map || !is_named_field(m, k) {
                                set.insert(path);
                            }
                        }
                    }
                    path.pop();
                }
            }
        }
    }

    /// Marks every named struct field with owned descendants as owned itself.
    pub fn ensure_named_fields(&self, s: &Set, ty: &Ty) -> Set {
        let atom = self.schema.resolve(ty, None);
        let mut out = Set { members: s.members.clone(), children: BTreeMap::new() };
        for (pe, c) in &s.children {
            let cty = match (pe, &atom) {
                (PathElement::Field(n), Atom::Map(m, _)) => {
                    if is_named_field(*m, n) {
                        out.members.insert(pe.clone());
                    }
                    child_ty(*m, n).unwrap_or(&UNTYPED)
                }
                (PathElement::Key(_), Atom::List(l)) => &l.elem,
                _ => &UNTYPED,
            };
            out.children.insert(pe.clone(), self.ensure_named_fields(c, cty));
        }
        out
    }

    // ------------------------------------------------------------ compare

    pub fn compare(&self, l: Option<&Value>, r: Option<&Value>, ty: &Ty, path: &mut Path, c: &mut Comparison) {
        let atom = self.schema.resolve(ty, r.or(l));
        let leaf = match atom {
            Atom::Scalar => true,
            Atom::List(lt) => {
                let (la, ra) = (l.and_then(Value::as_array), r.and_then(Value::as_array));
                let empty = la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty);
                if lt.atomic || empty || mismatched(l, la.is_some()) || mismatched(r, ra.is_some()) {
                    true
                } else {
                    self.compare_lists(
                        lt,
                        la.map(Vec::as_slice).unwrap_or(&[]),
                        ra.map(Vec::as_slice).unwrap_or(&[]),
                        path,
                        c,
                    );
                    false
                }
            }
            Atom::Map(m, atomic) => {
                let (lm, rm) = (l.and_then(Value::as_object), r.and_then(Value::as_object));
                let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
                if atomic || empty || mismatched(l, lm.is_some()) || mismatched(r, rm.is_some()) {
                    true
                } else {
                    let empty_map = Map::new();
                    let (lm, rm) = (lm.unwrap_or(&empty_map), rm.unwrap_or(&empty_map));
                    for (k, lv) in lm {
                        path.push(PathElement::Field(k.clone()));
                        self.compare(Some(lv), rm.get(k), child_ty(m, k).unwrap_or(&UNTYPED), path, c);
                        path.pop();
                    }
                    for (k, rv) in rm {
                        if !lm.contains_key(k) {
                            path.push(PathElement::Field(k.clone()));
                            self.compare(None, Some(rv), child_ty(m, k).unwrap_or(&UNTYPED), path, c);
                            path.pop();
                        }
                    }
                    false
                }
            }
        };
        if leaf {
            match (l, r) {
                (None, Some(_)) => c.added.insert(path),
                (Some(_), None) => c.removed.insert(path),
                (Some(a), Some(b)) if !values_equal(a, b) => c.modified.insert(path),
                _ => {}
            }
        } else if l.is_none() {
            c.added.insert(path);
        } else if r.is_none() {
            c.removed.insert(path);
        }
    }

    fn compare_lists(&self, lt: &ListTy, la: &[Value], ra: &[Value], path: &mut Path, c: &mut Comparison) {
        let mut order: Vec<PathElement> = Vec::new();
        let mut lv: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
        for item in la {
            let Ok(pe) = list_item_pe(lt, item) else { continue };
            let e = lv.entry(pe.clone()).or_default();
            if e.is_empty() {
                order.push(pe);
            }
            e.push(item);
        }
        let mut rv: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
        for item in ra {
            let Ok(pe) = list_item_pe(lt, item) else { continue };
            let e = rv.entry(pe.clone()).or_default();
            if e.is_empty() && !lv.contains_key(&pe) {
                order.push(pe.clone());
            }
            e.push(item);
        }
        for pe in order {
            let ll = lv.get(&pe).map(Vec::as_slice).unwrap_or(&[]);
            let rl = rv.get(&pe).map(Vec::as_slice).unwrap_or(&[]);
            path.push(pe);
            match (ll.len(), rl.len()) {
                (a, b) if a <= 1 && b <= 1 => self.compare(ll.first().copied(), rl.first().copied(), &lt.elem, path, c),
                (a, b) if a >= 2 && b >= 2 => {
                    if ll.len() != rl.len() || ll.iter().zip(rl).any(|(x, y)| !values_equal(x, y)) {
                        c.modified.insert(path);
                    }
                }
                (a, _) if a >= 2 => {
                    if let Some(r0) = rl.first() {
                        self.compare(None, Some(r0), &lt.elem, path, c);
                    }
                    c.removed.insert(path);
                }
                _ => {
                    if let Some(l0) = ll.first() {
                        self.compare(Some(l0), None, &lt.elem, path, c);
                    }
                    c.added.insert(path);
                }
            }
            path.pop();
        }
    }

    // ------------------------------------------------------------ merge

    /// Merges `r` (an applied configuration) into `l`: `r` wins at leaves; keyed lists and
    /// granular maps merge item by item.
    pub fn merge(&self, l: Option<&Value>, r: Option<&Value>, ty: &Ty) -> Option<Value> {
        let leaf = || r.or(l).cloned();
        match self.schema.resolve(ty, r.or(l)) {
            Atom::Scalar => leaf(),
            Atom::List(lt) => {
                let (la, ra) = (l.and_then(Value::as_array), r.and_then(Value::as_array));
                let empty = la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty);
                if lt.atomic || empty || mismatched(l, la.is_some()) || mismatched(r, ra.is_some()) {
                    return leaf();
                }
                let out =
                    self.merge_lists(lt, la.map(Vec::as_slice).unwrap_or(&[]), ra.map(Vec::as_slice).unwrap_or(&[]));
                (!out.is_empty()).then_some(Value::Array(out))
            }
            Atom::Map(m, atomic) => {
                let (lm, rm) = (l.and_then(Value::as_object), r.and_then(Value::as_object));
                let empty = lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty);
                if atomic || empty || mismatched(l, lm.is_some()) || mismatched(r, rm.is_some()) {
                    return leaf();
                }
                let empty_map = Map::new();
                let (lm, rm) = (lm.unwrap_or(&empty_map), rm.unwrap_or(&empty_map));
                let mut out = Map::new();
                for k in lm.keys().chain(rm.keys().filter(|k| !lm.contains_key(*k))) {
                    if let Some(v) = self.merge(lm.get(k), rm.get(k), child_ty(m, k).unwrap_or(&UNTYPED)) {
                        out.insert(k.clone(), v);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
        }
    }

    /// Upstream's interleaving merge of two associative lists: shared items keep the applied
    /// order, live-only items stay near their neighbours.
    fn merge_lists(&self, lt: &ListTy, la: &[Value], ra: &[Value]) -> Vec<Value> {
        let index = |items: &[Value]| -> (Vec<(PathElement, usize)>, BTreeMap<PathElement, usize>) {
            let mut pes = Vec::new();
            let mut seen = BTreeMap::new();
            for (i, item) in items.iter().enumerate() {
                if let Ok(pe) = list_item_pe(lt, item) {
                    if !seen.contains_key(&pe) {
                        seen.insert(pe.clone(), i);
                        pes.push((pe, i));
                    }
                }
            }
            (pes, seen)
        };
        let (lpes, lseen) = index(la);
        let (rpes, rseen) = index(ra);
        let mut shared = rpes.iter().filter(|(pe, _)| lseen.contains_key(pe)).map(|(pe, _)| pe.clone());
        let mut next_shared = shared.next();
        let mut merged_r: std::collections::BTreeSet<PathElement> = Default::default();
        let mut out = Vec::with_capacity(la.len().max(ra.len()));
        let item = |pe: &PathElement, lchild: Option<&Value>| -> Option<Value> {
            self.merge(lchild, rseen.get(pe).map(|&i| &ra[i]), &lt.elem)
        };
        let (mut li, mut ri) = (0, 0);
        while li < lpes.len() || ri < rpes.len() {
            if li < lpes.len() && ri < rpes.len() {
                let pe = &lpes[li].0;
                if *pe == rpes[ri].0 {
                    merged_r.insert(pe.clone());
                    out.extend(item(pe, Some(&la[lpes[li].1])));
                    li += 1;
                    ri += 1;
                    next_shared = shared.next();
                    continue;
                }
                if rseen.contains_key(pe) && next_shared.as_ref().is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lpes.len() {
                let pe = &lpes[li].0;
                if !rseen.contains_key(pe) {
                    out.extend(self.merge(Some(&la[lpes[li].1]), None, &lt.elem));
                    li += 1;
                    continue;
                } else if merged_r.contains(pe) {
                    li += 1;
                }
            }
            if ri < rpes.len() {
                let pe = rpes[ri].0.clone();
                merged_r.insert(pe.clone());
                out.extend(item(&pe, lseen.get(&pe).map(|&i| &la[i])));
                ri += 1;
                if next_shared.as_ref() == Some(&pe) {
                    next_shared = shared.next();
                }
            }
        }
        out
    }

    // ------------------------------------------------------------ removal

    /// `v` without the items whose paths are members of `to_remove` (each with its subtree).
    pub fn remove_items(&self, v: &Value, ty: &Ty, to_remove: &Set) -> Option<Value> {
        match self.schema.resolve(ty, Some(v)) {
            Atom::Scalar => Some(v.clone()),
            Atom::List(lt) => {
                let items = v.as_array()?;
                if items.is_empty() || lt.atomic {
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Ok(pe) = list_item_pe(lt, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if to_remove.members.contains(&pe) {
                        continue;
                    }
                    match to_remove.with_prefix(&pe) {
                        Some(sub) => out.extend(self.remove_items(item, &lt.elem, sub)),
                        None => out.push(item.clone()),
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            Atom::Map(m, atomic) => {
                let obj = v.as_object()?;
                if obj.is_empty() || atomic {
                    return None;
                }
                let mut out = Map::new();
                for (k, val) in obj {
                    let pe = PathElement::Field(k.clone());
                    if to_remove.members.contains(&pe) {
                        continue;
                    }
                    match to_remove.with_prefix(&pe) {
                        Some(sub) => {
                            if let Some(x) = self.remove_items(val, child_ty(m, k).unwrap_or(&UNTYPED), sub) {
                                out.insert(k.clone(), x);
                            }
                        }
                        None => {
                            out.insert(k.clone(), val.clone());
                        }
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
        }
    }

    /// The field set of a whole object (errors ignored: live objects are already valid).
    pub fn field_set(&self, v: &Value, ty: &Ty) -> Set {
        let mut s = Set::new();
        self.to_field_set(v, ty, &mut Vec::new(), &mut s, &mut Errors::default());
        s
    }
}

/// A present, non-null value of the wrong shape for its type.
fn mismatched(v: Option<&Value>, right_shape: bool) -> bool {
    matches!(v, Some(x) if !x.is_null() && !right_shape)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Deep equality with numbers compared by value (1 == 1.0), as upstream's.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(i, j)| values_equal(i, j)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}
