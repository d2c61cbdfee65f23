//! `clusterrole-aggregation-controller` (upstream `pkg/controller/clusterroleaggregation`): a
//! ClusterRole with an `aggregationRule` gets as its rules the union of the rules of every
//! ClusterRole its selectors match (in name order, each rule once), written with server-side
//! apply as field manager `clusterrole-aggregation-controller`. This is what fills upstream's
//! `admin`, `edit` and `view` roles.

use crate::context::Ctx;
use crate::util;
use crate::Error;
use component_base::{Change, Informer, WorkQueue};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;

const MANAGER: &str = "clusterrole-aggregation-controller";

pub async fn start(ctx: Ctx) -> Result<bool, Error> {
    let client = ctx.client("clusterrole-aggregation-controller").await?;
    let roles = ctx.informers.get::<ClusterRole>();
    let queue: WorkQueue<String> = WorkQueue::new("ClusterRoleAggregator");
    let (q, r) = (queue.clone(), roles.clone());
    roles.add_handler(move |c| {
        if matches!(c, Change::Added(_) | Change::Updated { .. } | Change::Deleted(_)) {
            // Any role may be selected by any aggregated role: look at them all.
            for role in r.list() {
                if role.aggregation_rule.is_some() {
                    q.add(role.name_any());
                }
            }
        }
    });
    let inf = roles.clone();
    tokio::spawn(async move {
        inf.wait_synced().await;
        for role in inf.list() {
            if role.aggregation_rule.is_some() {
                queue.add(role.name_any());
            }
        }
        queue.run_workers(5, move |name: String| {
            let (client, roles) = (client.clone(), inf.clone());
            async move { sync(&client, &roles, &name).await }
        });
    });
    Ok(true)
}

/// The aggregated rules of `role`.
fn aggregate(role: &ClusterRole, all: &[Arc<ClusterRole>]) -> Vec<PolicyRule> {
    let mut rules: Vec<PolicyRule> = Vec::new();
    let Some(agg) = &role.aggregation_rule else { return rules };
    let mut sorted: Vec<&Arc<ClusterRole>> = all.iter().collect();
    sorted.sort_by_key(|r| r.name_any());
    for sel in agg.cluster_role_selectors.iter().flatten() {
        for other in &sorted {
            if other.name_any() == role.name_any()
                || util::selector_matches(Some(sel), other.metadata.labels.as_ref()) != Ok(true)
            {
                continue;
            }
            for rule in other.rules.iter().flatten() {
                if !rules.contains(rule) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

async fn sync(client: &Client, roles: &Informer<ClusterRole>, name: &str) -> Result<(), Error> {
    let Some(role) = roles.get("", name) else { return Ok(()) };
    if role.aggregation_rule.is_none() {
        return Ok(());
    }
    let rules = aggregate(&role, &roles.list());
    if role.rules.clone().unwrap_or_default() == rules {
        return Ok(());
    }
    let body = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    });
    let api: Api<ClusterRole> = Api::all(client.clone());
    api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(body)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;

    fn role(name: &str, label: Option<&str>, verbs: &[&str]) -> Arc<ClusterRole> {
        Arc::new(ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: label.map(|l| BTreeMap::from([(l.to_string(), "true".to_string())])),
                ..Default::default()
            },
            rules: Some(
                verbs
                    .iter()
                    .map(|v| PolicyRule {
                        verbs: vec![v.to_string()],
                        resources: Some(vec!["pods".into()]),
                        ..Default::default()
                    })
                    .collect(),
            ),
            aggregation_rule: None,
        })
    }

    #[test]
    fn rules_are_the_union_of_the_selected_roles_in_name_order_without_repeats() {
        let mut target = (*role("view", None, &[])).clone();
        target.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([("agg".into(), "true".into())])),
                ..Default::default()
            }]),
        });
        let all = vec![
            role("b", Some("agg"), &["list", "get"]),
            role("a", Some("agg"), &["get"]),
            role("c", None, &["delete"]),
        ];
        let rules = aggregate(&target, &all);
        let verbs: Vec<&str> = rules.iter().map(|r| r.verbs[0].as_str()).collect();
        assert_eq!(verbs, vec!["get", "list"]);
    }
}
