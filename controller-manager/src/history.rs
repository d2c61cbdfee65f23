//! ControllerRevisions, as upstream's `pkg/controller/history`: the recorded pod templates of a
//! DaemonSet or StatefulSet. A revision's `data` is the strategic merge patch that puts a
//! template back (`{"spec":{"template":{...,"$patch":"replace"}}}`, encoded as Go's
//! `json.Marshal` of the typed object encodes it, since `kubectl rollout undo` applies it and
//! compares it byte for byte), its name is `<owner>-<hash>` and its `controller.kubernetes.io/hash`
//! label the FNV-32 hash of that data (plus the owner's collision count), safe-encoded.

use crate::util;
use crate::Error;
use component_base::Informer;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// `ControllerRevisionHashLabel`: the hash of a revision's data.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// `rand.SafeEncodeString`: no vowels, no confusable characters.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// FNV-1 (not 1a), 32 bits, as Go's `fnv.New32`.
fn fnv1_32(chunks: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for chunk in chunks {
        for b in *chunk {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    }
    h
}

/// `HashControllerRevision`: the data's bytes and, if any, the collision count in decimal.
pub fn hash_revision(data: &str, collision_count: Option<i32>) -> String {
    let probe = collision_count.map(|c| c.to_string()).unwrap_or_default();
    safe_encode(&fnv1_32(&[data.as_bytes(), probe.as_bytes()]).to_string())
}

/// `ControllerRevisionName`: `prefix-hash`, the prefix cut to 223 bytes.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// Go's `encoding/json` output for a decoded document: keys sorted, no spaces, and `<`, `>`,
/// `&`, U+2028 and U+2029 escaped.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            // serde_json's map is ordered by key (no preserve_order), as Go sorts map keys;
            // sort again so that this never depends on that feature.
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            out.push('{');
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(x, out);
            }
            out.push('}');
        }
    }
}

/// The template as Go's typed encoding writes it: `metadata.creationTimestamp` is a struct and
/// always written (as null), and so is every container's `resources`.
fn go_typed_template(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if !t.is_object() {
        t = json!({});
    }
    if !t.get("metadata").is_some_and(Value::is_object) {
        t["metadata"] = json!({});
    }
    if t["metadata"].get("creationTimestamp").is_none() {
        t["metadata"]["creationTimestamp"] = Value::Null;
    }
    if !t.get("spec").is_some_and(Value::is_object) {
        t["spec"] = json!({});
    }
    if t["spec"].get("containers").is_none_or(Value::is_null) {
        t["spec"]["containers"] = Value::Null;
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(cs) = t["spec"].get_mut(key).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.entry("resources").or_insert_with(|| json!({}));
            }
        }
    }
    t
}

/// upstream's `getPatch` (DaemonSet and StatefulSet alike): the patch that restores `template`.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut t = go_typed_template(template);
    t["$patch"] = json!("replace");
    json!({ "spec": { "template": t } })
}

/// The patch's bytes, as stored in a revision's `data` and hashed.
pub fn template_patch_bytes(template: &PodTemplateSpec) -> String {
    go_json(&template_patch(template))
}

/// The template a revision's data restores (upstream's `ApplyRevision` on the template).
pub fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            if meta.get("creationTimestamp").is_some_and(Value::is_null) {
                meta.remove("creationTimestamp");
            }
        }
    }
    serde_json::from_value(t).ok()
}

/// The data of a revision as Go would hold its raw bytes.
pub fn data_bytes(rev: &ControllerRevision) -> String {
    rev.data.as_ref().map(|d| go_json(&d.0)).unwrap_or_default()
}

/// `NewControllerRevision`: owned by `owner`, labelled with the template's labels and the hash.
pub fn new_revision(
    owner: &ObjectMeta,
    api_version: &str,
    kind: &str,
    template_labels: Option<&BTreeMap<String, String>>,
    data: Value,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let hash = hash_revision(&go_json(&data), collision_count);
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(owner.name.as_deref().unwrap_or_default(), &hash)),
            namespace: owner.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![util::new_controller_ref(api_version, kind, owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// `byRevision`: by revision, then creation time, then name.
pub fn compare(a: &ControllerRevision, b: &ControllerRevision) -> Ordering {
    a.revision
        .cmp(&b.revision)
        .then_with(|| {
            let t = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
        })
        .then_with(|| a.name_any().cmp(&b.name_any()))
}

pub fn sort(revs: &mut [Arc<ControllerRevision>]) {
    revs.sort_by(|a, b| compare(a, b));
}

/// `EqualRevision`: the same data (a differing numeric hash label rules it out first).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let num = |r: &ControllerRevision| r.labels().get(HASH_LABEL).and_then(|h| h.parse::<u32>().ok());
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        if x != y {
            return false;
        }
    }
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// `FindEqualRevisions`, in the given order.
pub fn find_equal(revs: &[Arc<ControllerRevision>], needle: &ControllerRevision) -> Vec<Arc<ControllerRevision>> {
    revs.iter().filter(|r| equal(r, needle)).cloned().collect()
}

/// The revision after the last one of a sorted history (`nextRevision`).
pub fn next_revision(sorted: &[Arc<ControllerRevision>]) -> i64 {
    sorted.last().map_or(1, |r| r.revision + 1)
}

/// `realHistory`: ControllerRevisions read through the shared informer and written with a
/// controller's client.
#[derive(Clone)]
pub struct History {
    client: Client,
    pub revisions: Informer<ControllerRevision>,
}

impl History {
    pub fn new(client: Client, revisions: Informer<ControllerRevision>) -> Self {
        History { client, revisions }
    }

    fn api(&self, ns: &str) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// `ListControllerRevisions`: those in the owner's namespace matching `selector` that the
    /// owner controls or that no controller does.
    pub fn list(&self, owner: &ObjectMeta, selector: &LabelSelector) -> Vec<Arc<ControllerRevision>> {
        let ns = owner.namespace.clone().unwrap_or_default();
        let uid = owner.uid.clone().unwrap_or_default();
        self.revisions
            .list_namespace(&ns)
            .into_iter()
            .filter(|r| util::selector_matches(Some(selector), r.metadata.labels.as_ref()) == Ok(true))
            .filter(|r| util::controller_ref(&r.metadata).is_none_or(|c| c.uid == uid))
            .collect()
    }

    /// `CreateControllerRevision`: on a name collision with different data, the collision count
    /// goes up and the name is hashed again; the same data already there is taken as is.
    pub async fn create(
        &self,
        owner: &ObjectMeta,
        rev: &ControllerRevision,
        collision_count: &mut i32,
    ) -> Result<ControllerRevision, Error> {
        let ns = owner.namespace.clone().unwrap_or_default();
        let api = self.api(&ns);
        let data = data_bytes(rev);
        let mut clone = rev.clone();
        clone.metadata.namespace = Some(ns.clone());
        loop {
            let hash = hash_revision(&data, Some(*collision_count));
            clone.metadata.name = Some(revision_name(owner.name.as_deref().unwrap_or_default(), &hash));
            match api.create(&PostParams::default(), &clone).await {
                Ok(created) => return Ok(created),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let existing = api.get(&clone.name_any()).await?;
                    if data_bytes(&existing) == data {
                        return Ok(existing);
                    }
                    *collision_count += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `UpdateControllerRevision`: sets the revision number, retrying on conflicts.
    pub async fn update_revision(
        &self,
        rev: &ControllerRevision,
        new_revision: i64,
    ) -> Result<ControllerRevision, Error> {
        let api = self.api(&rev.namespace().unwrap_or_default());
        let mut clone = rev.clone();
        for attempt in 0..5 {
            if clone.revision == new_revision {
                return Ok(clone);
            }
            clone.revision = new_revision;
            match api.replace(&clone.name_any(), &PostParams::default(), &clone).await {
                Ok(updated) => return Ok(updated),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 4 => {
                    clone = api.get(&rev.name_any()).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(clone)
    }

    pub async fn delete(&self, rev: &ControllerRevision) -> Result<(), Error> {
        match self.api(&rev.namespace().unwrap_or_default()).delete(&rev.name_any(), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `AdoptControllerRevision`: a controller reference added by strategic merge patch.
    pub async fn adopt(
        &self,
        owner: &ObjectMeta,
        api_version: &str,
        kind: &str,
        rev: &ControllerRevision,
    ) -> Result<ControllerRevision, Error> {
        if let Some(c) = util::controller_ref(&rev.metadata) {
            return Err(Error::Config(format!("attempt to adopt revision owned by {}/{}", c.kind, c.name)));
        }
        let patch = json!({"metadata": {
            "ownerReferences": [util::new_controller_ref(api_version, kind, owner)],
            "uid": rev.metadata.uid,
        }});
        let api = self.api(&owner.namespace.clone().unwrap_or_default());
        Ok(api.patch(&rev.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await?)
    }

    /// `ReleaseControllerRevision`: the owner's reference removed; gone or no longer owned
    /// revisions are not an error.
    pub async fn release(&self, owner: &ObjectMeta, rev: &ControllerRevision) -> Result<(), Error> {
        let patch = json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": owner.uid}],
            "uid": rev.metadata.uid,
        }});
        let api = self.api(&rev.namespace().unwrap_or_default());
        match api.patch(&rev.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSecurityContext, PodSpec, ResourceRequirements};

    /// The defaulted template of upstream's 1.33 compatibility fixture
    /// (`pkg/controller/statefulset/testdata/compatibility_revision_1.33.0.json`).
    fn fixture_template() -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                annotations: Some([("test".to_string(), "value".to_string())].into()),
                labels: Some([("app".to_string(), "foo".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    image: Some("test".into()),
                    image_pull_policy: Some("Always".into()),
                    name: "test".into(),
                    resources: Some(ResourceRequirements::default()),
                    termination_message_path: Some("/dev/termination-log".into()),
                    termination_message_policy: Some("File".into()),
                    ..Default::default()
                }],
                dns_policy: Some("ClusterFirst".into()),
                restart_policy: Some("Always".into()),
                scheduler_name: Some("default-scheduler".into()),
                security_context: Some(PodSecurityContext::default()),
                termination_grace_period_seconds: Some(30),
                ..Default::default()
            }),
        }
    }

    const FIXTURE_DATA: &str = r#"{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}"#;

    #[test]
    fn the_patch_and_hash_match_upstreams_1_33_fixture() {
        assert_eq!(template_patch_bytes(&fixture_template()), FIXTURE_DATA);
        // The StatefulSet controller hashes with its collision count (0).
        assert_eq!(hash_revision(FIXTURE_DATA, Some(0)), "c77f6d978");
        assert_eq!(revision_name("test", "c77f6d978"), "test-c77f6d978");
        let owner = ObjectMeta {
            name: Some("test".into()),
            namespace: Some("default".into()),
            uid: Some("u".into()),
            ..Default::default()
        };
        let rev = new_revision(
            &owner,
            "apps/v1",
            "StatefulSet",
            fixture_template().metadata.and_then(|m| m.labels).as_ref(),
            template_patch(&fixture_template()),
            1,
            Some(0),
        );
        assert_eq!(rev.name_any(), "test-c77f6d978");
        assert_eq!(rev.labels().get(HASH_LABEL).map(String::as_str), Some("c77f6d978"));
        assert_eq!(rev.labels().get("app").map(String::as_str), Some("foo"));
        // The template comes back out of the data.
        assert_eq!(template_of(&rev), Some(fixture_template()));
    }

    #[test]
    fn go_json_escapes_as_go_does() {
        let v = json!({"b": "<a&b>", "a": [1, null, true], "c": "\u{2028}\n\u{1}"});
        assert_eq!(go_json(&v), r#"{"a":[1,null,true],"b":"\u003ca\u0026b\u003e","c":"\u2028\n\u0001"}"#);
    }

    #[test]
    fn collisions_change_the_hash_and_names_are_cut_to_fit() {
        assert_ne!(hash_revision("x", Some(0)), hash_revision("x", Some(1)));
        assert_ne!(hash_revision("x", None), hash_revision("x", Some(0)));
        let long = "a".repeat(300);
        assert_eq!(revision_name(&long, "h").len(), 225);
    }

    #[test]
    fn revisions_sort_by_number_then_age_then_name_and_compare_by_data() {
        let rev = |name: &str, n: i64, data: Value| {
            Arc::new(ControllerRevision {
                metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
                data: Some(RawExtension(data)),
                revision: n,
            })
        };
        let mut v = vec![rev("c", 3, json!(1)), rev("b", 1, json!(2)), rev("a", 1, json!(1))];
        sort(&mut v);
        let names: Vec<_> = v.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(next_revision(&v), 4);
        assert_eq!(next_revision(&[]), 1);
        let eq = find_equal(&v, &rev("x", 9, json!(1)));
        assert_eq!(eq.iter().map(|r| r.name_any()).collect::<Vec<_>>(), ["a", "c"]);
    }
}
