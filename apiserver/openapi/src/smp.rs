//! Strategic merge patch (`application/strategic-merge-patch+json`), as upstream's
//! `strategicpatch` applies it: maps merge key by key (`null` deletes), lists follow their
//! field's patch strategy (merge by merge key, set union for primitives, replace otherwise),
//! and the directives `$patch` (replace, delete, merge), `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured. Field
//! strategies come from the patch metadata; element types from the schemas.

use crate::schema::{child_definition, ChildKind};
use api_types::patch_meta;
use serde_json::{Map, Value};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original`, an object of the kind's schema.
pub fn strategic_merge_patch(
    group: &str,
    version: &str,
    kind: &str,
    original: &Value,
    patch: &Value,
) -> Result<Value, String> {
    let def = crate::schema::kind_definition(group, version, kind).map(str::to_string);
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return Err("strategic merge patch: the patch must be a JSON object".into());
    };
    Ok(Value::Object(merge_map(o.clone(), p, def.as_deref())?))
}

fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    def: Option<&str>,
) -> Result<Map<String, Value>, String> {
    match patch.get(PATCH).map(|v| v.as_str()) {
        Some(Some("replace")) => {
            let mut p = patch.clone();
            p.remove(PATCH);
            return strip_directives_map(&p, def);
        }
        Some(Some("delete")) => return Ok(Map::new()),
        Some(Some("merge")) | None => {}
        Some(other) => return Err(format!("unknown patch type: {}", other.unwrap_or("<non-string>"))),
    }
    let retain: Option<Vec<String>> = match patch.get(RETAIN_KEYS) {
        Some(Value::Array(a)) => Some(a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect()),
        Some(_) => return Err("$retainKeys must be a list of strings".into()),
        None => None,
    };
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, pv) in patch {
        if k == PATCH || k == RETAIN_KEYS {
            continue;
        }
        if let Some(field) = k.strip_prefix(SET_ORDER) {
            let order = pv.as_array().cloned().ok_or_else(|| format!("{k} must be a list"))?;
            orders.push((field.to_string(), order));
            continue;
        }
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
            let gone = pv.as_array().cloned().ok_or_else(|| format!("{k} must be a list"))?;
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            original.remove(k);
            continue;
        }
        let meta = def.and_then(|d| patch_meta::field(d, k));
        let child = def.map(|d| child_definition(d, k)).unwrap_or(ChildKind::Unknown);
        let merged = match (original.remove(k), pv) {
            (Some(Value::Object(ov)), Value::Object(pm)) => Value::Object(merge_map(ov, pm, child.object_def())?),
            (Some(Value::Array(ol)), Value::Array(pl)) => Value::Array(merge_list(ol, pl, meta, &child)?),
            (None, Value::Object(pm)) => Value::Object(merge_map(Map::new(), pm, child.object_def())?),
            (None, Value::Array(pl)) => Value::Array(merge_list(Vec::new(), pl, meta, &child)?),
            (_, other) => other.clone(),
        };
        original.insert(k.clone(), merged);
    }
    for (field, order) in orders {
        let meta = def.and_then(|d| patch_meta::field(d, &field));
        if let Some(Value::Array(list)) = original.get_mut(&field) {
            reorder(list, &order, meta.and_then(|m| m.patch_merge_key));
        }
    }
    if let Some(keep) = retain {
        original.retain(|k, _| keep.iter().any(|r| r == k));
    }
    Ok(original)
}

/// Removes directives from a value that replaces (or newly appears in) the original.
fn strip_directives_map(m: &Map<String, Value>, def: Option<&str>) -> Result<Map<String, Value>, String> {
    merge_map(Map::new(), m, def)
}

fn merges(meta: Option<&patch_meta::FieldMeta>) -> bool {
    meta.and_then(|m| m.patch_strategy).is_some_and(|s| s.split(',').any(|x| x == "merge"))
}

fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    meta: Option<&patch_meta::FieldMeta>,
    child: &ChildKind,
) -> Result<Vec<Value>, String> {
    // A `{"$patch": "replace"}` element replaces the whole list with the other elements.
    if patch.iter().any(|e| e.get(PATCH).and_then(Value::as_str) == Some("replace")) {
        return patch.iter().filter(|e| e.get(PATCH).is_none()).map(|e| clean_element(e, child)).collect();
    }
    if !merges(meta) {
        return patch.iter().map(|e| clean_element(e, child)).collect();
    }
    let merge_key = meta.and_then(|m| m.patch_merge_key);
    let all_primitive = patch.iter().all(|e| !e.is_object() && !e.is_array());
    if all_primitive && merge_key.is_none() {
        // A set: the union, original order first.
        let mut out = original;
        for e in patch {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        return Ok(out);
    }
    let Some(key) = merge_key else {
        return patch.iter().map(|e| clean_element(e, child)).collect();
    };
    let mut out = original;
    for e in patch {
        let Value::Object(pm) = e else {
            return Err(format!("strategic merge patch: list elements merged by {key:?} must be objects"));
        };
        let kv = pm.get(key);
        if pm.get(PATCH).and_then(Value::as_str) == Some("delete") {
            out.retain(|o| o.get(key) != kv);
            continue;
        }
        if kv.is_none() {
            return Err(format!("map: {e} does not contain declared merge key: {key}"));
        }
        match out.iter_mut().find(|o| o.get(key) == kv) {
            Some(Value::Object(om)) => {
                let merged = merge_map(std::mem::take(om), pm, child.item_def())?;
                *om = merged;
            }
            _ => out.push(Value::Object(merge_map(Map::new(), pm, child.item_def())?)),
        }
    }
    Ok(out)
}

fn clean_element(e: &Value, child: &ChildKind) -> Result<Value, String> {
    match e {
        Value::Object(m) => Ok(Value::Object(strip_directives_map(m, child.item_def())?)),
        other => Ok(other.clone()),
    }
}

/// Orders a list as `$setElementOrder` says: listed elements in that order first, then the
/// others in their existing relative order.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let pos = |e: &Value| -> Option<usize> {
        order.iter().position(|o| match key {
            Some(k) => o.get(k).is_some() && o.get(k) == e.get(k),
            None => o == e,
        })
    };
    let mut listed: Vec<(usize, Value)> = Vec::new();
    let mut rest = Vec::new();
    for e in list.drain(..) {
        match pos(&e) {
            Some(p) => listed.push((p, e)),
            None => rest.push(e),
        }
    }
    listed.sort_by_key(|(p, _)| *p);
    list.extend(listed.into_iter().map(|(_, e)| e));
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "1"}, "finalizers": ["x/y"]},
            "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.24", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                    {"name": "side", "image": "busybox"}]}}}})
    }

    fn smp(o: &Value, p: Value) -> Value {
        strategic_merge_patch("apps", "v1", "Deployment", o, &p).unwrap()
    }

    #[test]
    fn containers_merge_by_name_env_by_name() {
        let out = smp(
            &deploy(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}}}}),
        );
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "nginx:1.25");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
        );
        assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
        assert_eq!(cs[1]["name"], "side");
    }

    #[test]
    fn directives() {
        // $patch: delete on a list element, null deletes a key.
        let out = smp(
            &deploy(),
            json!({"metadata": {"labels": {"a": null, "b": "2"}}, "spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
        // $patch: replace on a map.
        let out = smp(&deploy(), json!({"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        // $retainKeys (the strategy field is retainKeys).
        let out = smp(&deploy(), json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        // $setElementOrder.
        let out = smp(
            &deploy(),
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "nginx"}], "containers": [{"name": "nginx", "image": "x"}]}}}}),
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["name"], "side");
        // Finalizers are a set; $deleteFromPrimitiveList removes.
        let out = smp(&deploy(), json!({"metadata": {"finalizers": ["a/b", "x/y"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["x/y", "a/b"]));
        let out = smp(&deploy(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/y"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        // Lists without a merge strategy are replaced.
        let out =
            smp(&deploy(), json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "args": ["b"]}]}}}}));
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["args"], json!(["b"]));
        assert!(strategic_merge_patch(
            "apps",
            "v1",
            "Deployment",
            &deploy(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}})
        )
        .is_err());
        assert!(strategic_merge_patch("apps", "v1", "Deployment", &deploy(), &json!({"$patch": "bogus"})).is_err());
    }
}
