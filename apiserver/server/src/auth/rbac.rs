//! The RBAC authorizer: Roles, ClusterRoles and their bindings, kept in memory from the watch
//! caches and indexed by subject, so a decision looks only at the bindings that name the user
//! or one of their groups, however many bindings exist.
//!
//! Aggregated ClusterRoles (`aggregationRule`) are resolved here, as the union of the rules of
//! the ClusterRoles their selectors match (what kube-controller-manager's aggregation controller
//! writes into them), so they grant the same whether or not that controller has run.

use ::rbac::{rule_allows, Attributes, PolicyRule, RoleRef, Subject};
use api_types::json::Ptr;
use api_types::selector::LabelSelector;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use storage::EventType;

struct Binding {
    name: String,
    namespace: String,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

struct ClusterRole {
    rules: Arc<Vec<PolicyRule>>,
    labels: BTreeMap<String, String>,
    /// Selectors of an aggregated role (None: not aggregated).
    aggregation: Option<Vec<LabelSelector>>,
}

/// Bindings by the user and group names their subjects name.
#[derive(Default)]
struct SubjectIndex {
    users: HashMap<String, Vec<(Arc<Binding>, usize)>>,
    groups: HashMap<String, Vec<(Arc<Binding>, usize)>>,
}

impl SubjectIndex {
    fn key(s: &Subject, binding_ns: &str) -> Option<(bool, String)> {
        match s.kind.as_str() {
            "User" => Some((true, s.name.clone())),
            "Group" => Some((false, s.name.clone())),
            "ServiceAccount" => {
                let ns = if s.namespace.is_empty() { binding_ns } else { &s.namespace };
                (!ns.is_empty()).then(|| (true, ::rbac::service_account_user(ns, &s.name)))
            }
            _ => None,
        }
    }

    fn add(&mut self, b: &Arc<Binding>) {
        for (i, s) in b.subjects.iter().enumerate() {
            if let Some((user, k)) = Self::key(s, &b.namespace) {
                let m = if user { &mut self.users } else { &mut self.groups };
                m.entry(k).or_default().push((b.clone(), i));
            }
        }
    }

    fn remove(&mut self, b: &Arc<Binding>) {
        for s in &b.subjects {
            if let Some((user, k)) = Self::key(s, &b.namespace) {
                let m = if user { &mut self.users } else { &mut self.groups };
                if let Some(v) = m.get_mut(&k) {
                    v.retain(|(x, _)| !Arc::ptr_eq(x, b));
                    if v.is_empty() {
                        m.remove(&k);
                    }
                }
            }
        }
    }

    /// Every (binding, subject index) naming the user or one of the groups.
    fn matching<'a>(&'a self, user: &str, groups: &'a [String]) -> impl Iterator<Item = &'a (Arc<Binding>, usize)> {
        self.users
            .get(user)
            .into_iter()
            .flatten()
            .chain(groups.iter().flat_map(|g| self.groups.get(g).into_iter().flatten()))
    }
}

#[derive(Default)]
struct Inner {
    roles: HashMap<(String, String), Arc<Vec<PolicyRule>>>,
    cluster_roles: HashMap<String, ClusterRole>,
    /// Effective rules of aggregated ClusterRoles.
    aggregated: HashMap<String, Arc<Vec<PolicyRule>>>,
    crbs: HashMap<String, Arc<Binding>>,
    rbs: HashMap<(String, String), Arc<Binding>>,
    crb_index: SubjectIndex,
    rb_index: HashMap<String, SubjectIndex>,
}

impl Inner {
    fn cluster_role_rules(&self, name: &str) -> Option<Arc<Vec<PolicyRule>>> {
        self.aggregated.get(name).cloned().or_else(|| self.cluster_roles.get(name).map(|c| c.rules.clone()))
    }

    fn role_rules(&self, ns: &str, r: &RoleRef) -> Result<Arc<Vec<PolicyRule>>, String> {
        match r.kind.as_str() {
            "ClusterRole" => self
                .cluster_role_rules(&r.name)
                .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {} not found", super::go_quote(&r.name))),
            "Role" if !ns.is_empty() => self
                .roles
                .get(&(ns.to_string(), r.name.clone()))
                .cloned()
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io {} not found", super::go_quote(&r.name))),
            _ => Err(format!("unknown role reference kind: {}", super::go_quote(&r.kind))),
        }
    }

    /// Recomputes every aggregated role: the union, in name order, of the rules of the roles
    /// its selectors match (themselves resolved the same way).
    fn reaggregate(&mut self) {
        let names: Vec<String> =
            self.cluster_roles.iter().filter(|(_, c)| c.aggregation.is_some()).map(|(n, _)| n.clone()).collect();
        let mut out = HashMap::new();
        for n in names {
            let mut visiting = HashSet::new();
            let rules = self.aggregate(&n, &mut visiting);
            out.insert(n, Arc::new(rules));
        }
        self.aggregated = out;
    }

    fn aggregate(&self, name: &str, visiting: &mut HashSet<String>) -> Vec<PolicyRule> {
        let Some(cr) = self.cluster_roles.get(name) else { return Vec::new() };
        let Some(selectors) = &cr.aggregation else { return cr.rules.to_vec() };
        if !visiting.insert(name.to_string()) {
            return cr.rules.to_vec();
        }
        let mut members: Vec<&String> = self
            .cluster_roles
            .iter()
            .filter(|(n, c)| *n != name && selectors.iter().any(|s| s.matches(&c.labels)))
            .map(|(n, _)| n)
            .collect();
        members.sort();
        let mut rules: Vec<PolicyRule> = Vec::new();
        for m in members {
            for r in self.aggregate(m, visiting) {
                if !rules.contains(&r) {
                    rules.push(r);
                }
            }
        }
        visiting.remove(name);
        rules
    }
}

fn rules_of(v: &Value) -> Vec<PolicyRule> {
    v.get("rules").cloned().and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default()
}

fn meta(v: &Value, k: &str) -> String {
    v.ptr(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("").to_string()
}

fn binding_of(v: &Value) -> Option<Arc<Binding>> {
    Some(Arc::new(Binding {
        name: meta(v, "name"),
        namespace: meta(v, "namespace"),
        role_ref: serde_json::from_value(v.get("roleRef")?.clone()).ok()?,
        subjects: v.get("subjects").cloned().and_then(|s| serde_json::from_value(s).ok()).unwrap_or_default(),
    }))
}

/// Which RBAC resource an event is about.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Roles,
    ClusterRoles,
    RoleBindings,
    ClusterRoleBindings,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Roles, Kind::ClusterRoles, Kind::RoleBindings, Kind::ClusterRoleBindings];
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Roles => "roles",
            Kind::ClusterRoles => "clusterroles",
            Kind::RoleBindings => "rolebindings",
            Kind::ClusterRoleBindings => "clusterrolebindings",
        }
    }
}

/// The RBAC view, fed by the four watch caches.
#[derive(Default)]
pub struct Rbac {
    inner: RwLock<Inner>,
    synced: AtomicUsize,
}

/// The outcome of one RBAC check.
pub struct Check {
    pub allowed: bool,
    /// `RBAC: allowed by ...`, or the role-resolution errors on a denial.
    pub reason: String,
}

impl Rbac {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether all four resources have been loaded once.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire) >= Kind::ALL.len()
    }

    pub fn mark_synced(&self) {
        self.synced.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets everything of one kind (before a full reload).
    pub fn clear(&self, kind: Kind) {
        let mut g = self.write();
        match kind {
            Kind::Roles => g.roles.clear(),
            Kind::ClusterRoles => {
                g.cluster_roles.clear();
                g.aggregated.clear();
            }
            Kind::RoleBindings => {
                g.rbs.clear();
                g.rb_index.clear();
            }
            Kind::ClusterRoleBindings => {
                g.crbs.clear();
                g.crb_index = SubjectIndex::default();
            }
        }
    }

    /// Applies a batch of changes of one kind.
    pub fn apply(&self, kind: Kind, events: &[(EventType, Value)]) {
        let mut g = self.write();
        let mut roles_changed = false;
        for (ev, v) in events {
            let (ns, name) = (meta(v, "namespace"), meta(v, "name"));
            let deleted = *ev == EventType::Deleted;
            match kind {
                Kind::Roles => {
                    if deleted {
                        g.roles.remove(&(ns, name));
                    } else {
                        g.roles.insert((ns, name), Arc::new(rules_of(v)));
                    }
                }
                Kind::ClusterRoles => {
                    roles_changed = true;
                    if deleted {
                        g.cluster_roles.remove(&name);
                    } else {
                        let aggregation = v.ptr("/aggregationRule").filter(|a| !a.is_null()).map(|a| {
                            a.get("clusterRoleSelectors")
                                .and_then(Value::as_array)
                                .map(|s| s.iter().filter_map(|s| LabelSelector::from_api(s).ok()).collect())
                                .unwrap_or_default()
                        });
                        let cr = ClusterRole {
                            rules: Arc::new(rules_of(v)),
                            labels: api_types::selector::labels_of(v),
                            aggregation,
                        };
                        g.cluster_roles.insert(name, cr);
                    }
                }
                Kind::RoleBindings => {
                    let key = (ns.clone(), name);
                    if let Some(old) = g.rbs.remove(&key) {
                        if let Some(ix) = g.rb_index.get_mut(&ns) {
                            ix.remove(&old);
                        }
                    }
                    if !deleted {
                        if let Some(b) = binding_of(v) {
                            g.rb_index.entry(ns).or_default().add(&b);
                            g.rbs.insert(key, b);
                        }
                    }
                }
                Kind::ClusterRoleBindings => {
                    if let Some(old) = g.crbs.remove(&name) {
                        g.crb_index.remove(&old);
                    }
                    if !deleted {
                        if let Some(b) = binding_of(v) {
                            g.crb_index.add(&b);
                            g.crbs.insert(name, b);
                        }
                    }
                }
            }
        }
        if roles_changed {
            g.reaggregate();
        }
    }

    /// `RBACAuthorizer.Authorize`: cluster role bindings, then the namespace's role bindings.
    pub fn authorize(&self, a: &Attributes) -> Check {
        let g = self.read();
        let mut errors: Vec<String> = Vec::new();
        for (b, i) in g.crb_index.matching(&a.user, &a.groups) {
            if b.role_ref.kind != "ClusterRole" {
                continue;
            }
            match g.role_rules("", &b.role_ref) {
                Ok(rules) => {
                    if rules.iter().any(|r| rule_allows(a, r)) {
                        return Check { allowed: true, reason: format!("RBAC: allowed by {}", describe(b, *i, true)) };
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !a.namespace.is_empty() {
            if let Some(ix) = g.rb_index.get(&a.namespace) {
                for (b, i) in ix.matching(&a.user, &a.groups) {
                    match g.role_rules(&b.namespace, &b.role_ref) {
                        Ok(rules) => {
                            if rules.iter().any(|r| rule_allows(a, r)) {
                                return Check {
                                    allowed: true,
                                    reason: format!("RBAC: allowed by {}", describe(b, *i, false)),
                                };
                            }
                        }
                        Err(e) => errors.push(e),
                    }
                }
            }
        }
        let reason = match errors.len() {
            0 => String::new(),
            1 => format!("RBAC: {}", errors[0]),
            _ => format!("RBAC: [{}]", errors.join(", ")),
        };
        Check { allowed: false, reason }
    }

    /// `RulesFor`: every rule that applies to the user in a namespace (cluster-wide rules
    /// included), and the resolution errors.
    pub fn rules_for(&self, user: &str, groups: &[String], namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let g = self.read();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        let mut visit = |b: &Arc<Binding>, ns: &str, g: &Inner| {
            if !seen.insert(Arc::as_ptr(b)) {
                return;
            }
            match g.role_rules(ns, &b.role_ref) {
                Ok(r) => rules.extend(r.iter().cloned()),
                Err(e) => errors.push(e),
            }
        };
        for (b, _) in g.crb_index.matching(user, groups) {
            if b.role_ref.kind == "ClusterRole" {
                visit(b, "", &g);
            }
        }
        if !namespace.is_empty() {
            if let Some(ix) = g.rb_index.get(namespace) {
                for (b, _) in ix.matching(user, groups) {
                    visit(b, &b.namespace, &g);
                }
            }
        }
        (rules, errors)
    }

    /// The rules a role reference grants, for escalation checks.
    pub fn rules_of_ref(&self, namespace: &str, r: &RoleRef) -> Result<Arc<Vec<PolicyRule>>, String> {
        self.read().role_rules(namespace, r)
    }
}

/// Upstream's binding describers, as SubjectAccessReview reasons show them.
fn describe(b: &Binding, subject: usize, cluster: bool) -> String {
    let s = &b.subjects[subject];
    let subj = if s.kind == "ServiceAccount" {
        let ns = if s.namespace.is_empty() { &b.namespace } else { &s.namespace };
        format!("{} {}", s.kind, super::go_quote(&format!("{}/{ns}", s.name)))
    } else {
        format!("{} {}", s.kind, super::go_quote(&s.name))
    };
    let name = if cluster { b.name.clone() } else { format!("{}/{}", b.name, b.namespace) };
    format!(
        "{} {} of {} {} to {subj}",
        if cluster { "ClusterRoleBinding" } else { "RoleBinding" },
        super::go_quote(&name),
        b.role_ref.kind,
        super::go_quote(&b.role_ref.name)
    )
}

/// Keeps `rbac` current from the four watch caches.
pub fn start(st: Arc<crate::ApiServer>, rbac: Arc<Rbac>) {
    use crate::backend::Change;
    for kind in Kind::ALL {
        let Some(rd) = api_types::lookup("rbac.authorization.k8s.io", "v1", kind.plural()) else { continue };
        let rbac = rbac.clone();
        crate::backend::follow(st.clone(), rd, move |c| match c {
            Change::Reset => rbac.clear(kind),
            Change::Apply(ev, o) => rbac.apply(kind, &[(ev, o.value())]),
            Change::Synced => rbac.mark_synced(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(user: &str, groups: &[&str], verb: &str, res: &str, ns: &str) -> Attributes {
        Attributes {
            user: user.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            verb: verb.into(),
            is_resource: true,
            resource: res.into(),
            namespace: ns.into(),
            ..Default::default()
        }
    }

    #[test]
    fn seed_001_pod_reader() {
        let r = Rbac::default();
        r.apply(
            Kind::Roles,
            &[(
                EventType::Added,
                json!({"metadata": {"namespace": "default", "name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]}]}),
            )],
        );
        r.apply(
            Kind::RoleBindings,
            &[(
                EventType::Added,
                json!({"metadata": {"namespace": "default", "name": "read-pods"},
                "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
                "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"}}),
            )],
        );
        let c = r.authorize(&attrs("jane", &[], "list", "pods", "default"));
        assert!(c.allowed);
        assert_eq!(
            c.reason,
            "RBAC: allowed by RoleBinding \"read-pods/default\" of Role \"pod-reader\" to User \"jane\""
        );
        assert!(!r.authorize(&attrs("jane", &[], "delete", "pods", "default")).allowed);
        assert!(!r.authorize(&attrs("jane", &[], "list", "pods", "kube-system")).allowed);
        assert!(!r.authorize(&attrs("bob", &[], "list", "pods", "default")).allowed);
        // Deleting the binding takes the right away.
        r.apply(
            Kind::RoleBindings,
            &[(
                EventType::Deleted,
                json!({"metadata": {"namespace": "default", "name": "read-pods"},
                "roleRef": {"kind": "Role", "name": "pod-reader"}}),
            )],
        );
        assert!(!r.authorize(&attrs("jane", &[], "list", "pods", "default")).allowed);
    }

    #[test]
    fn aggregation_and_missing_roles() {
        let r = Rbac::default();
        r.apply(
            Kind::ClusterRoles,
            &[
                (EventType::Added, json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [
                    {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}, "rules": []})),
                (EventType::Added, json!({"metadata": {"name": "agg", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})),
            ],
        );
        r.apply(
            Kind::ClusterRoleBindings,
            &[
                (EventType::Added, json!({"metadata": {"name": "devs-can-view"},
                    "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}],
                    "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"}})),
                (EventType::Added, json!({"metadata": {"name": "dangling"},
                    "subjects": [{"kind": "Group", "name": "devs"}], "roleRef": {"kind": "ClusterRole", "name": "gone"}})),
            ],
        );
        let c = r.authorize(&attrs("jerome", &["devs", "ops"], "list", "pods", "default"));
        assert!(c.allowed, "{}", c.reason);
        let c = r.authorize(&attrs("jerome", &["devs"], "delete", "pods", "default"));
        assert!(!c.allowed);
        assert_eq!(c.reason, "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found");
        let (rules, errs) = r.rules_for("jerome", &["devs".into()], "default");
        assert_eq!(rules.len(), 1);
        assert_eq!(errs.len(), 1);
    }
}
