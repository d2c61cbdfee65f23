//! Server-side apply and field ownership (`metadata.managedFields`), as upstream's field
//! manager and structured-merge-diff do them:
//!
//! - every non-apply write records, for its manager, the fields it added or changed
//!   ([`update`]);
//! - an apply merges the applied configuration into the live object, takes ownership of
//!   exactly the applied fields, fails with a conflict when that changes a field another
//!   manager owns (unless forced), and removes fields the applier owned before, dropped
//!   from its configuration, and nobody else owns ([`apply`]).
//!
//! Objects are compared in the shape Go's reflection gives them (`kproto::go_fill`), so the
//! recorded sets match upstream's.

#![forbid(unsafe_code)]

mod managed;
mod schema;
mod set;
mod typed;

pub use managed::{decode, encode, Entry, ManagerId, Managers, Operation};
pub use set::{path_string, Path, PathElement, Set};

use once_cell::sync::Lazy;
use schema::Ty;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use typed::{values_equal, Comparison, Errors, Walker};

/// The most Update entries kept; older ones merge into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    /// An apply would change fields other managers own.
    #[error("{message}")]
    Conflict { message: String, causes: Vec<Cause> },
    #[error("{0}")]
    Internal(String),
}

/// One conflicting field, as a `StatusCause` of type `FieldManagerConflict`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub field: String,
    pub message: String,
}

/// The endpoint a write goes through.
pub struct Target<'a> {
    /// The OpenAPI definition of the kind (`io.k8s.api.apps.v1.Deployment`); unknown
    /// definitions are treated as free-form JSON.
    pub definition: &'a str,
    pub api_version: &'a str,
    pub kind: &'a str,
    /// `""` or the subresource (`status`, `scale`).
    pub subresource: &'a str,
    /// Top-level fields the endpoint resets, whose ownership is not tracked (`status` on the
    /// main resource of kinds with a status subresource, `spec` on `status`).
    pub ignored: &'a [&'a str],
}

impl Target<'_> {
    fn ty(&self) -> Ty {
        schema::schema().named(self.definition).unwrap_or(Ty::Untyped)
    }

    fn ignored_set(&self) -> Set {
        let mut s = Set::new();
        for f in self.ignored {
            s.insert(&[PathElement::field(f)]);
        }
        s
    }

    /// `apps/v1, Kind=Deployment` (`/v1, Kind=Pod` for the core group), as Go prints a GVK.
    fn gvk(api_version: &str, kind: &str) -> String {
        let gv = if api_version.contains('/') { api_version.to_string() } else { format!("/{api_version}") };
        format!("{gv}, Kind={kind}")
    }

    /// An empty object of the kind, as Go's zero value serializes.
    fn zero(&self) -> Value {
        let mut z = json!({});
        kproto::go_fill(self.definition, &mut z);
        z
    }

    /// A copy for comparison: no managed fields, Go's shape.
    fn prepare(&self, v: &Value) -> Value {
        let mut c = clone_without_managed_fields(v);
        kproto::go_fill(self.definition, &mut c);
        c
    }
}

/// Fields nobody owns: identity and system metadata.
static STRIP: Lazy<Set> = Lazy::new(|| {
    let mut s = Set::new();
    for p in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        s.insert(&p.iter().map(|f| PathElement::field(f)).collect::<Vec<_>>());
    }
    s
});

fn walker() -> Walker<'static> {
    Walker { schema: schema::schema() }
}

/// A copy without `metadata.managedFields`, which are never copied (they are often a third
/// of an object).
fn clone_without_managed_fields(v: &Value) -> Value {
    let Value::Object(m) = v else { return v.clone() };
    let copy = m
        .iter()
        .map(|(k, x)| {
            let x = match x {
                Value::Object(meta) if k == "metadata" => Value::Object(
                    meta.iter().filter(|(k, _)| *k != "managedFields").map(|(k, x)| (k.clone(), x.clone())).collect(),
                ),
                _ => x.clone(),
            };
            (k.clone(), x)
        })
        .collect();
    Value::Object(copy)
}

fn strip_managed_fields(v: &mut Value) {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
}

fn set_managed_fields(v: &mut Value, managers: &Managers) {
    let entries = encode(managers);
    if !v.is_object() {
        return;
    }
    if !v.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = json!({});
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        if entries.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Records a create, update or non-apply patch by `manager` on `new` (`live` is None on
/// create). Managed fields sent by the client replace the live ones, as upstream allows;
/// undecodable ones are dropped rather than failing the write.
pub fn update(t: &Target, live: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    let from_client = decode(new).ok().filter(|m| !m.is_empty() && t.subresource.is_empty());
    let mut managers = match from_client {
        Some(m) => m,
        None => match live.map(decode).unwrap_or_else(|| Ok(Managers::new())) {
            Ok(m) => m,
            Err(_) => {
                strip_managed_fields(new);
                return;
            }
        },
    };
    strip_managed_fields(new);
    let ty = t.ty();
    let w = walker();
    let l = live.map(|l| t.prepare(l)).unwrap_or_else(|| t.zero());
    let r = t.prepare(new);
    let mut cmp = Comparison::default();
    w.compare(Some(&l), Some(&r), &ty, &mut Vec::new(), &mut cmp);
    cmp.exclude(&t.ignored_set());
    // In place wherever possible: on a create `added` is every field of the object.
    let mut changed = std::mem::take(&mut cmp.added);
    if !cmp.modified.is_empty() {
        changed.union_in(&cmp.modified);
    }
    for e in managers.values_mut() {
        e.set.subtract(&changed);
        e.set.subtract(&cmp.removed);
    }
    let mut own = changed;
    own.subtract(&STRIP);
    if !own.is_empty() {
        let id = ManagerId::new(manager, Operation::Update, t.api_version, t.subresource);
        let e = managers.entry(id).or_insert_with(|| Entry {
            set: Set::new(),
            api_version: t.api_version.to_string(),
            time: None,
        });
        if e.set.is_empty() {
            e.set = own;
        } else {
            e.set.union_in(&own);
        }
        e.api_version = t.api_version.to_string();
        e.time = Some(now.to_string());
    }
    managers.retain(|_, e| !e.set.is_empty());
    cap_update_managers(&mut managers);
    set_managed_fields(new, &managers);
}

fn cap_update_managers(managers: &mut Managers) {
    let mut updaters: Vec<ManagerId> =
        managers.keys().filter(|id| id.operation == Operation::Update).cloned().collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| {
        let t = |id: &ManagerId| managers.get(id).and_then(|e| e.time.clone()).unwrap_or_default();
        t(a).cmp(&t(b)).then_with(|| a.cmp(b))
    });
    let mut first_of_version: HashMap<String, ManagerId> = HashMap::new();
    let mut length = updaters.len();
    for id in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(version) = managers.get(&id).map(|e| e.api_version.clone()) else { continue };
        let bucket = ManagerId::new("ancient-changes", Operation::Update, &version, "");
        match first_of_version.get(&version) {
            Some(first) => {
                if !managers.contains_key(&bucket) {
                    if let Some(e) = managers.remove(first) {
                        managers.insert(bucket.clone(), e);
                    }
                }
                if let Some(e) = managers.remove(&id) {
                    if let Some(b) = managers.get_mut(&bucket) {
                        b.set.union_in(&e.set);
                        b.time = e.time;
                    }
                }
                length -= 1;
            }
            None => {
                first_of_version.insert(version, id);
            }
        }
    }
}

/// Why an apply did not go through.
enum Refused {
    Error(Error),
    /// Per other manager, the fields the apply would change.
    Conflicts(Vec<(ManagerId, Set)>),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Error(e)
    }
}

/// Server-side apply of `config` by `manager`; `live` is None when the object does not exist
/// yet. Returns the object to store, with its managed fields.
///
/// For the `kubectl` manager, conflicts on fields whose live values still equal the
/// client-side-apply annotation's are not conflicts: that is the same user moving from
/// client-side to server-side apply (upstream's last-applied manager).
pub fn apply(
    t: &Target,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, Error> {
    let conflicts = match apply_once(t, live, config, manager, force, now) {
        Ok(v) => return Ok(v),
        Err(Refused::Error(e)) => return Err(e),
        Err(Refused::Conflicts(c)) => c,
    };
    let allowed = match (manager, live) {
        ("kubectl", Some(live)) => allowed_by_last_applied(t, live),
        _ => None,
    };
    let Some(allowed) = allowed else { return Err(conflict_error(&conflicts)) };
    let rest: Vec<(ManagerId, Set)> = conflicts
        .into_iter()
        .map(|(id, s)| {
            let left = s.paths().into_iter().filter(|p| !allowed.has(p)).fold(Set::new(), |mut acc, p| {
                acc.insert(&p);
                acc
            });
            (id, left)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if !rest.is_empty() {
        return Err(conflict_error(&rest));
    }
    match apply_once(t, live, config, manager, true, now) {
        Ok(v) => Ok(v),
        Err(Refused::Error(e)) => Err(e),
        Err(Refused::Conflicts(c)) => Err(conflict_error(&c)),
    }
}

/// The fields of the last-applied annotation whose live values are still the annotated ones.
fn allowed_by_last_applied(t: &Target, live: &Value) -> Option<Set> {
    let text = live.pointer("/metadata/annotations").and_then(|a| a.get(LAST_APPLIED)).and_then(Value::as_str)?;
    let last: Value = serde_json::from_str(text).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(t.api_version) {
        return None;
    }
    let ty = t.ty();
    let w = walker();
    let mut errors = Errors::default();
    let mut set = Set::new();
    w.to_field_set(&last, &ty, &mut Vec::new(), &mut set, &mut errors);
    if !errors.0.is_empty() {
        return None;
    }
    let mut cmp = Comparison::default();
    w.compare(Some(&last), Some(&t.prepare(live)), &ty, &mut Vec::new(), &mut cmp);
    Some(set.difference(&cmp.modified).difference(&cmp.added).difference(&cmp.removed))
}

fn apply_once(
    t: &Target,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, Refused> {
    let av = config.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    if av != t.api_version || kind != t.kind {
        return Err(Error::BadRequest(format!("invalid object type: {}", Target::gvk(av, kind))).into());
    }
    if config.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(Error::BadRequest("metadata.managedFields must be nil".into()).into());
    }
    let mut managers = match live.map(decode).transpose() {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => return Err(Error::Internal(format!("failed to decode managed fields: {e}")).into()),
    };
    let ty = t.ty();
    let w = walker();
    let ignored = t.ignored_set();
    let mut errors = Errors::default();
    let mut config_set = Set::new();
    w.to_field_set(config, &ty, &mut Vec::new(), &mut config_set, &mut errors);
    if !errors.0.is_empty() {
        let meta = |f: &str| config.pointer(&format!("/metadata/{f}")).and_then(Value::as_str).unwrap_or("");
        return Err(Error::BadRequest(format!(
            "failed to create typed patch object ({}/{}; {}): {errors}",
            meta("namespace"),
            meta("name"),
            Target::gvk(av, kind)
        ))
        .into());
    }
    let config_set = config_set.recursive_difference(&ignored);

    let l = live.map(|l| t.prepare(l)).unwrap_or_else(|| t.zero());
    let merged = w.merge(Some(&l), Some(config), &ty).unwrap_or_else(|| json!({}));
    let id = ManagerId::new(manager, Operation::Apply, t.api_version, t.subresource);
    let last = managers.get(&id).map(|e| e.set.clone());
    let time = managers.get(&id).and_then(|e| e.time.clone());
    managers.insert(id.clone(), Entry { set: config_set, api_version: t.api_version.to_string(), time });
    let mut merged = match last {
        Some(last) if !last.is_empty() => prune(&w, &ty, &merged, &managers, &last),
        _ => merged,
    };
    // Upstream's result goes back through a Go struct, which restores pruned-away zero structs.
    kproto::go_fill(t.definition, &mut merged);

    let mut cmp = Comparison::default();
    w.compare(Some(&l), Some(&merged), &ty, &mut Vec::new(), &mut cmp);
    cmp.exclude(&ignored);
    let changed = cmp.modified.union(&cmp.added);
    let conflicts: Vec<(ManagerId, Set)> = managers
        .iter()
        .filter(|(mid, _)| **mid != id)
        .map(|(mid, e)| (mid.clone(), e.set.intersection(&changed)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if !force && !conflicts.is_empty() {
        return Err(Refused::Conflicts(conflicts));
    }
    for (mid, e) in managers.iter_mut() {
        if *mid != id {
            e.set.subtract(&changed);
            e.set.subtract(&cmp.removed);
        }
    }
    let changed_object = !values_equal(&l, &merged);
    if let Some(e) = managers.get_mut(&id) {
        e.set.subtract(&STRIP);
        if changed_object {
            e.time = Some(now.to_string());
        }
    }
    managers.retain(|_, e| !e.set.is_empty());

    let mut out = match (changed_object, live) {
        (false, Some(live)) => live.clone(),
        _ => merged,
    };
    if manager == "kubectl" {
        sync_last_applied(&mut out, config);
    }
    set_managed_fields(&mut out, &managers);
    Ok(out)
}

/// kubectl's server-side apply keeps an existing client-side-apply annotation current, so
/// a later client-side apply computes its patch from the right configuration.
fn sync_last_applied(obj: &mut Value, config: &Value) {
    let Some(ann) = obj.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) else { return };
    if !ann.contains_key(LAST_APPLIED) {
        return;
    }
    let mut c = config.clone();
    if let Some(a) = c.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        a.remove(LAST_APPLIED);
    }
    ann.insert(LAST_APPLIED.into(), Value::String(format!("{}\n", c)));
}

/// Removes from `merged` what the applier owned before (`last`), no longer applies, and
/// nobody else owns; upstream's prune with its add-back passes.
fn prune(w: &Walker, ty: &Ty, merged: &Value, managers: &Managers, last: &Set) -> Value {
    let last = w.ensure_named_fields(last, ty);
    let named_set = |v: &Value| w.ensure_named_fields(&w.field_set(v, ty), ty);
    let remove = |s: &Set| w.remove_items(merged, ty, s).unwrap_or_else(|| Value::Object(Map::new()));
    let pruned = remove(&last);
    let mut owned = Set::new();
    for e in managers.values() {
        owned.union_in(&e.set);
    }
    let owned = w.ensure_named_fields(&owned, ty);
    let merged_set = named_set(merged);
    let pruned_set = named_set(&pruned);
    let pruned = remove(&merged_set.difference(&pruned_set.union(&owned)));
    let pruned_set = named_set(&pruned);
    remove(&merged_set.difference(&pruned_set).intersection(&last))
}

fn conflict_error(conflicts: &[(ManagerId, Set)]) -> Error {
    let mut causes = Vec::new();
    let mut lines: Vec<(ManagerId, Vec<String>)> = Vec::new();
    for (id, s) in conflicts {
        let paths: Vec<String> = s.paths().iter().map(|p| path_string(p)).collect();
        for p in &paths {
            causes.push(Cause { field: p.clone(), message: format!("conflict with {}", id.describe()) });
        }
        lines.push((id.clone(), paths));
    }
    let message = if causes.len() == 1 {
        format!("Apply failed with 1 conflict: {}: {}", causes[0].message, causes[0].field)
    } else {
        lines.sort_by(|a, b| a.0.manager.cmp(&b.0.manager).then_with(|| a.0.cmp(&b.0)));
        let mut msgs = Vec::new();
        for (id, paths) in &lines {
            msgs.push(format!("conflicts with {}:", id.describe()));
            msgs.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!("Apply failed with {} conflicts: {}", causes.len(), msgs.join("\n"))
    };
    Error::Conflict { message, causes }
}

#[cfg(test)]
mod tests;
