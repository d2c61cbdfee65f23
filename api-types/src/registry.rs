//! The table of every built-in resource the apiserver serves, as upstream v1.33's discovery
//! documents describe them, plus the etcd key prefix upstream stores each one under.

/// One subresource of a resource (`pods/status`, `deployments/scale`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubresourceDef {
    /// The part after the slash: `status`, `scale`, `binding`, `log`, ...
    pub name: &'static str,
    /// The group of the kind the subresource accepts/returns (`autoscaling` for scale).
    pub group: &'static str,
    /// The version of that kind.
    pub version: &'static str,
    /// The kind (`Scale`, `Binding`, `Pod` for status, ...).
    pub kind: &'static str,
    /// Verbs in upstream discovery order.
    pub verbs: &'static [&'static str],
}

/// One resource of one group/version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group; `""` for the core (legacy) group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural, the URL segment (`pods`).
    pub plural: &'static str,
    /// Lower-case singular (`pod`).
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    /// Verbs in upstream discovery order (`create`, `delete`, `deletecollection`, `get`, `list`,
    /// `patch`, `update`, `watch`).
    pub verbs: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [SubresourceDef],
    /// Key prefix under `/registry/` (e.g. `services/specs`, `minions`,
    /// `apiextensions.k8s.io/customresourcedefinitions`). Empty for virtual resources that are
    /// never stored (reviews, `bindings`, `tokenreviews`, ...).
    pub etcd_prefix: &'static str,
}

impl ResourceDef {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceDef> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether objects of this resource are persisted in etcd.
    pub fn is_stored(&self) -> bool {
        !self.etcd_prefix.is_empty()
    }
}
