//! The resources the apiserver serves, found through discovery (kube-rs), for the controllers
//! that must cover every resource — also ones added later — rather than a fixed list: the
//! garbage collector and the namespace controller.

use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use kube::Client;
use std::collections::HashMap;

/// One served resource at its group's preferred version.
#[derive(Clone, Debug)]
pub struct Served {
    pub ar: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl Served {
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// Every resource of every group at the preferred version, and a lookup by apiVersion/kind
/// (any served version).
#[derive(Clone, Debug, Default)]
pub struct ServedResources {
    pub preferred: Vec<Served>,
    by_kind: HashMap<(String, String), Served>,
}

fn served(ar: ApiResource, caps: &ApiCapabilities) -> Served {
    Served { ar, namespaced: caps.scope == Scope::Namespaced, verbs: caps.operations.clone() }
}

impl ServedResources {
    pub async fn discover(client: &Client) -> Result<ServedResources, kube::Error> {
        let d = Discovery::new(client.clone()).run().await?;
        let mut out = ServedResources::default();
        for g in d.groups() {
            for (ar, caps) in g.recommended_resources() {
                out.preferred.push(served(ar, &caps));
            }
            for v in g.versions() {
                for (ar, caps) in g.versioned_resources(v) {
                    out.by_kind.entry((ar.api_version.clone(), ar.kind.clone())).or_insert_with(|| served(ar, &caps));
                }
            }
        }
        Ok(out)
    }

    /// The resource an owner reference's apiVersion and kind name.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&Served> {
        self.by_kind.get(&(api_version.to_string(), kind.to_string()))
    }

    /// What the garbage collector watches: listable, watchable and deletable resources,
    /// upstream's ignored ones (Events) excepted.
    pub fn deletable(&self) -> Vec<Served> {
        self.preferred
            .iter()
            .filter(|s| s.supports("list") && s.supports("watch") && s.supports("delete"))
            .filter(|s| !(s.ar.plural == "events" && (s.ar.group.is_empty() || s.ar.group == "events.k8s.io")))
            .cloned()
            .collect()
    }
}
