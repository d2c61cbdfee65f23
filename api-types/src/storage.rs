//! PersistentVolume and claim helpers shared by the PV controller and kube-scheduler's volume
//! binding (upstream's `pkg/controller/volume/persistentvolume/util` and
//! `component-helpers/storage/volume`): classes, capacity, access and volume modes, node
//! affinity, matching a claim to the smallest volume that serves it, and the binding edits.

use crate::kinds::validation::Quantity;
use crate::selector::selector_matches;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorTerm, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
pub const ANN_DYNAMICALLY_PROVISIONED: &str = "pv.kubernetes.io/provisioned-by";
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
pub const ANN_MIGRATED_TO: &str = "pv.kubernetes.io/migrated-to";
/// `v1.BetaStorageClassAnnotation`, which wins over `storageClassName` on both kinds.
pub const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
pub fn ann<'a>(m: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    m.annotations.as_ref()?.get(key).map(String::as_str)
}

pub fn set_ann(m: &mut ObjectMeta, key: &str, value: &str) {
    m.annotations.get_or_insert_with(BTreeMap::new).insert(key.to_string(), value.to_string());
}

/// `GetPersistentVolumeClaimClass`: the beta annotation, else `storageClassName`, else "".
pub fn claim_class(c: &PersistentVolumeClaim) -> &str {
    if let Some(a) = ann(&c.metadata, ANN_BETA_STORAGE_CLASS) {
        return a;
    }
    c.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

/// `PersistentVolumeClaimHasClass`: a class was asked for, even "".
pub fn claim_has_class(c: &PersistentVolumeClaim) -> bool {
    ann(&c.metadata, ANN_BETA_STORAGE_CLASS).is_some()
        || c.spec.as_ref().is_some_and(|s| s.storage_class_name.is_some())
}

/// `GetPersistentVolumeClass`.
pub fn volume_class(v: &PersistentVolume) -> &str {
    if let Some(a) = ann(&v.metadata, ANN_BETA_STORAGE_CLASS) {
        return a;
    }
    v.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

pub fn parse_quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Quantity {
    q.and_then(|q| Quantity::parse(q.0.trim())).unwrap_or_else(Quantity::zero)
}

pub fn requested(c: &PersistentVolumeClaim) -> Quantity {
    parse_quantity(
        c.spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage")),
    )
}

pub fn capacity(v: &PersistentVolume) -> Quantity {
    parse_quantity(v.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage")))
}

pub fn phase(v: &PersistentVolume) -> &str {
    v.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

pub fn claim_phase(c: &PersistentVolumeClaim) -> &str {
    c.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

pub fn claim_ref(v: &PersistentVolume) -> Option<&ObjectReference> {
    v.spec.as_ref()?.claim_ref.as_ref()
}

pub fn ref_uid(r: &ObjectReference) -> &str {
    r.uid.as_deref().unwrap_or("")
}

pub fn ref_key(r: &ObjectReference) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""))
}

pub fn claim_key(c: &PersistentVolumeClaim) -> String {
    format!("{}/{}", c.metadata.namespace.as_deref().unwrap_or(""), c.metadata.name.clone().unwrap_or_default())
}

pub fn volume_name_of(c: &PersistentVolumeClaim) -> &str {
    c.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("")
}

pub fn reclaim_policy(v: &PersistentVolume) -> &str {
    v.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("")
}

/// An object's resourceVersion as a number (0 when unset), to tell which of two copies is newer.
pub fn resource_version(m: &ObjectMeta) -> i64 {
    m.resource_version.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0)
}

pub fn uid(m: &ObjectMeta) -> &str {
    m.uid.as_deref().unwrap_or("")
}

/// `CheckVolumeModeMismatches`, with an unset mode meaning Filesystem on both sides.
pub fn volume_mode_mismatch(c: &PersistentVolumeClaim, v: &PersistentVolume) -> bool {
    let want = c.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    let have = v.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    want != have
}

/// `CheckAccessModes`: the volume offers every mode the claim asks for.
pub fn access_modes_ok(c: &PersistentVolumeClaim, v: &PersistentVolume) -> bool {
    let have = v.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default();
    c.spec.as_ref().and_then(|s| s.access_modes.as_ref()).is_none_or(|w| w.iter().all(|m| have.contains(m)))
}

/// `IsVolumeBoundToClaim`: pre-bound or bound to this claim (the UID, when set, must agree).
pub fn is_volume_bound_to_claim(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    let Some(r) = claim_ref(v) else { return false };
    if r.name.as_deref() != c.metadata.name.as_deref()
        || r.namespace.as_deref().unwrap_or("") != c.metadata.namespace.as_deref().unwrap_or("")
    {
        return false;
    }
    ref_uid(r).is_empty() || ref_uid(r) == uid(&c.metadata)
}

/// `CheckNodeAffinity` against a node's labels. As upstream, the node is known by its labels
/// only, and a node without fields skips `matchFields`: a term's field requirements always
/// hold (a term with nothing at all still selects nothing).
pub fn node_affinity_allows(v: &PersistentVolume, labels: &BTreeMap<String, String>) -> bool {
    let Some(req) = v.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref()) else {
        return true;
    };
    let node =
        Node { metadata: ObjectMeta { labels: Some(labels.clone()), ..Default::default() }, ..Default::default() };
    req.node_selector_terms.iter().any(|t: &NodeSelectorTerm| {
        let has_fields = t.match_fields.as_ref().is_some_and(|f| !f.is_empty());
        if !has_fields {
            return crate::scheduling::term_matches(t, &node);
        }
        let exprs_only = NodeSelectorTerm { match_expressions: t.match_expressions.clone(), match_fields: None };
        exprs_only.match_expressions.as_ref().is_none_or(|e| e.is_empty())
            || crate::scheduling::term_matches(&exprs_only, &node)
    })
}

/// `CheckNodeAffinity`'s error text when it fails.
pub const NO_MATCHING_TERMS: &str = "no matching NodeSelectorTerms";

/// `FindMatchingVolume` over one group of volumes (ordered by capacity): a volume pre-bound
/// to the claim with enough capacity wins at once; otherwise the smallest sufficient Available
/// unclaimed volume of the claim's class that its selector picks. `node` is the scheduler's
/// path (node affinity and access modes checked); with `delay_binding` and no node only
/// pre-bound volumes count.
pub fn find_matching_volume(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    node: Option<&BTreeMap<String, String>>,
    delay_binding: bool,
) -> Result<Option<Arc<PersistentVolume>>, String> {
    let want = requested(claim);
    let class = claim_class(claim);
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    let mut best: Option<(Arc<PersistentVolume>, Quantity)> = None;
    for v in volumes {
        let cap = capacity(v);
        if volume_mode_mismatch(claim, v) || v.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let affinity_ok = node.is_none_or(|labels| node_affinity_allows(v, labels));
        if is_volume_bound_to_claim(v, claim) {
            if cap < want {
                continue;
            }
            return Ok(affinity_ok.then(|| v.clone()));
        }
        if node.is_none() && delay_binding {
            continue;
        }
        if phase(v) != "Available" || claim_ref(v).is_some() {
            continue;
        }
        if let Some(sel) = selector {
            let labels = v.metadata.labels.as_ref();
            if !selector_matches(Some(sel), labels)
                .map_err(|e| format!("error creating internal label selector for claim: {}: {e}", claim_key(claim)))?
            {
                continue;
            }
        }
        if volume_class(v) != class || !affinity_ok {
            continue;
        }
        if node.is_some() && !access_modes_ok(claim, v) {
            continue;
        }
        if cap >= want && best.as_ref().is_none_or(|(_, b)| *b > cap) {
            best = Some((v.clone(), cap));
        }
    }
    Ok(best.map(|(v, _)| v))
}

/// The access modes in upstream's canonical order, as the volume index keys them.
pub fn modes_key(modes: &[String]) -> Vec<String> {
    let order = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];
    let mut out: Vec<String> = order.iter().filter(|m| modes.iter().any(|x| x == *m)).map(|m| m.to_string()).collect();
    for m in modes {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// `persistentVolumeOrderedIndex.findByClaim`: volumes are grouped by their set of access
/// modes; the groups offering every requested mode are tried from the fewest modes up, each
/// ordered by capacity, and the first group with a match wins.
pub fn find_best_match(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    node: Option<&BTreeMap<String, String>>,
    delay_binding: bool,
) -> Result<Option<Arc<PersistentVolume>>, String> {
    let wanted = claim.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default();
    let mut groups: BTreeMap<Vec<String>, Vec<Arc<PersistentVolume>>> = BTreeMap::new();
    for v in volumes {
        let modes = modes_key(&v.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default());
        groups.entry(modes).or_default().push(v.clone());
    }
    let mut keys: Vec<&Vec<String>> = groups.keys().filter(|k| wanted.iter().all(|m| k.contains(m))).collect();
    keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    for k in keys {
        let Some(group) = groups.get(k) else { continue };
        let mut group = group.clone();
        group.sort_by(|a, b| {
            capacity(a).cmp(&capacity(b)).then_with(|| {
                a.metadata.name.clone().unwrap_or_default().cmp(&b.metadata.name.clone().unwrap_or_default())
            })
        });
        if let Some(v) = find_matching_volume(claim, &group, node, delay_binding)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// `checkVolumeSatisfyClaim`: why a volume the claim names cannot serve it.
pub fn check_volume_satisfies_claim(v: &PersistentVolume, c: &PersistentVolumeClaim) -> Result<(), String> {
    if v.metadata.deletion_timestamp.is_some() {
        return Err(format!("the volume is marked for deletion {:?}", v.metadata.name.clone().unwrap_or_default()));
    }
    if capacity(v) < requested(c) {
        return Err("requested PV is too small".into());
    }
    if volume_class(v) != claim_class(c) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(c, v) {
        return Err("incompatible volumeMode".into());
    }
    if !access_modes_ok(c, v) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

/// `reference.GetReference` for a claim, as the volume's `claimRef`.
pub fn claim_reference(c: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: c.metadata.namespace.clone(),
        name: c.metadata.name.clone(),
        uid: c.metadata.uid.clone(),
        resource_version: c.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// `GetBindVolumeToClaim`: the volume bound to the claim, and whether anything changed.
pub fn bind_volume_to_claim(v: &PersistentVolume, c: &PersistentVolumeClaim) -> (PersistentVolume, bool) {
    let set_by_controller = !is_volume_bound_to_claim(v, c);
    let mut out = v.clone();
    let mut dirty = false;
    let current = claim_ref(v);
    if current.is_none_or(|r| {
        r.name.as_deref() != c.metadata.name.as_deref()
            || r.namespace.as_deref() != c.metadata.namespace.as_deref()
            || ref_uid(r) != uid(&c.metadata)
    }) {
        out.spec.get_or_insert_with(Default::default).claim_ref = Some(claim_reference(c));
        dirty = true;
    }
    if set_by_controller && ann(&out.metadata, ANN_BOUND_BY_CONTROLLER).is_none() {
        set_ann(&mut out.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
        dirty = true;
    }
    (out, dirty)
}

/// The claim pointed at the volume with upstream's annotations, if anything changes.
pub fn bind_claim_to_volume(c: &PersistentVolumeClaim, v: &PersistentVolume) -> Option<PersistentVolumeClaim> {
    let mut out = c.clone();
    let mut dirty = false;
    if volume_name_of(c) != v.metadata.name.clone().unwrap_or_default() {
        out.spec.get_or_insert_with(Default::default).volume_name = Some(v.metadata.name.clone().unwrap_or_default());
        if ann(&out.metadata, ANN_BOUND_BY_CONTROLLER).is_none() {
            set_ann(&mut out.metadata, ANN_BOUND_BY_CONTROLLER, "yes");
        }
        dirty = true;
    }
    if ann(&out.metadata, ANN_BIND_COMPLETED).is_none() {
        set_ann(&mut out.metadata, ANN_BIND_COMPLETED, "yes");
        dirty = true;
    }
    dirty.then_some(out)
}
/// The ns/name of every claim a pod's volumes use (`common.PodPVCIndexFunc`): named claims and
/// the `<pod>-<volume>` claims of generic ephemeral volumes.
pub fn pod_claim_keys(pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    pod_claims(pod).into_iter().map(|(name, _)| format!("{ns}/{name}")).collect()
}

/// The claim each of a pod's volumes uses, in volume order: (claim name, whether it is the
/// `<pod>-<volume>` claim of a generic ephemeral volume).
pub fn pod_claims(pod: &Pod) -> Vec<(String, bool)> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    let mut out = Vec::new();
    for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        if let Some(c) = &v.persistent_volume_claim {
            out.push((c.claim_name.clone(), false));
        } else if v.ephemeral.is_some() {
            out.push((format!("{pod_name}-{}", v.name), true));
        }
    }
    out
}

/// `MatchTopologySelectorTerms`: a class's `allowedTopologies` against a node's labels. No
/// terms allow every node; terms are ORed, a term without expressions allows none, and each
/// expression needs the label present with one of its values.
pub fn topology_terms_match(
    terms: &[k8s_openapi::api::core::v1::TopologySelectorTerm],
    labels: &BTreeMap<String, String>,
) -> bool {
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|t| {
        let exprs = t.match_label_expressions.as_deref().unwrap_or(&[]);
        !exprs.is_empty()
            && exprs.iter().all(|e| !e.values.is_empty() && labels.get(&e.key).is_some_and(|v| e.values.contains(v)))
    })
}

/// A claim is fully bound: it names its volume and the PV controller has completed the bind.
pub fn claim_fully_bound(c: &PersistentVolumeClaim) -> bool {
    !volume_name_of(c).is_empty() && ann(&c.metadata, ANN_BIND_COMPLETED).is_some()
}

/// `IsDelayBindingMode` given the claim's class (None when the class does not exist): the
/// class waits for the first consumer. An unset mode is an error, as upstream.
pub fn delay_binding(
    class_name: &str,
    class: Option<&k8s_openapi::api::storage::v1::StorageClass>,
) -> Result<bool, String> {
    if class_name.is_empty() {
        return Ok(false);
    }
    let Some(sc) = class else { return Ok(false) };
    match sc.volume_binding_mode.as_deref() {
        None => Err(format!("VolumeBindingMode not set for StorageClass {class_name:?}")),
        Some(m) => Ok(m == "WaitForFirstConsumer"),
    }
}

/// The provisioner name that means "static volumes only".
pub const NOT_SUPPORTED_PROVISIONER: &str = "kubernetes.io/no-provisioner";
