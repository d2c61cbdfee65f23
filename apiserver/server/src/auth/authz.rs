//! The authorizer chain (`--authorization-mode`, in order): the first Allow or Deny wins,
//! members of `system:masters` are always allowed, and the reasons of the authorizers that had
//! no opinion are kept for the 403 message and SubjectAccessReview status.

use super::rbac::Rbac;
use ::rbac::{Attributes, PolicyRule};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny(String),
    NoOpinion(String),
    /// No authorizer allowed and one failed (a webhook call): upstream answers 500.
    Error(String),
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::NoOpinion(r) | Decision::Error(r) => r,
        }
    }
}

pub enum Mode {
    AlwaysAllow,
    AlwaysDeny,
    Rbac(Arc<Rbac>),
    Abac(super::abac::PolicyList),
    Node(Arc<super::node::NodeGraph>),
    Webhook(super::webhook_authz::WebhookAuthorizer),
}

/// Where the Webhook mode's configuration comes from.
pub struct WebhookConfig<'a> {
    pub config_file: Option<&'a std::path::Path>,
    pub version: &'a str,
    pub allowed_ttl: std::time::Duration,
    pub denied_ttl: std::time::Duration,
}

/// What SelfSubjectRulesReview reports.
#[derive(Debug, Default)]
pub struct Rules {
    pub resource: Vec<PolicyRule>,
    pub non_resource: Vec<PolicyRule>,
    pub incomplete: bool,
    pub errors: Vec<String>,
}

pub struct AuthorizerChain {
    pub modes: Vec<Mode>,
}

impl AuthorizerChain {
    /// The chain `--authorization-mode` names, in order.
    pub fn new(
        names: &[String],
        rbac: &Arc<Rbac>,
        nodes: &Arc<super::node::NodeGraph>,
        policy_file: Option<&std::path::Path>,
        webhook: WebhookConfig<'_>,
    ) -> Result<Self, String> {
        let mut modes = Vec::new();
        for m in names {
            modes.push(match m.as_str() {
                "AlwaysAllow" => Mode::AlwaysAllow,
                "AlwaysDeny" => Mode::AlwaysDeny,
                "RBAC" => Mode::Rbac(rbac.clone()),
                "Node" => Mode::Node(nodes.clone()),
                "Webhook" => {
                    let path = webhook
                        .config_file
                        .ok_or("authorization-mode Webhook's authorization config file not passed")?;
                    Mode::Webhook(super::webhook_authz::WebhookAuthorizer::load(
                        path,
                        webhook.version,
                        webhook.allowed_ttl,
                        webhook.denied_ttl,
                    )?)
                }
                "ABAC" => {
                    let path = policy_file.ok_or("authorization-mode ABAC's authorization policy file not passed")?;
                    Mode::Abac(super::abac::PolicyList::load(path)?)
                }
                other => {
                    tracing::warn!(mode = other, "authorization mode not implemented yet; it has no opinion");
                    continue;
                }
            });
        }
        Ok(AuthorizerChain { modes })
    }

    pub fn uses_node(&self) -> bool {
        self.modes.iter().any(|m| matches!(m, Mode::Node(_)))
    }

    pub async fn authorize(&self, a: &Attributes) -> Decision {
        if a.groups.iter().any(|g| g == super::MASTERS) {
            return Decision::Allow(String::new());
        }
        let mut reasons: Vec<String> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        for m in &self.modes {
            let d = match m {
                Mode::AlwaysAllow => Decision::Allow(String::new()),
                Mode::AlwaysDeny => Decision::Deny("Everything is forbidden.".into()),
                Mode::Rbac(r) => {
                    let c = r.authorize(a);
                    if c.allowed {
                        Decision::Allow(c.reason)
                    } else {
                        Decision::NoOpinion(c.reason)
                    }
                }
                Mode::Abac(p) => match p.authorize(a) {
                    Ok(()) => Decision::Allow(String::new()),
                    Err(reason) => Decision::NoOpinion(reason),
                },
                Mode::Node(g) => match g.authorize(a) {
                    nodeauthz::Decision::Allow => Decision::Allow(String::new()),
                    nodeauthz::Decision::NoOpinion(reason) => Decision::NoOpinion(reason),
                },
                Mode::Webhook(w) => match w.authorize(a).await {
                    Ok(super::webhook_authz::Answer::Allow(r)) => Decision::Allow(r),
                    Ok(super::webhook_authz::Answer::Deny(r)) => Decision::Deny(r),
                    Ok(super::webhook_authz::Answer::NoOpinion(r)) => Decision::NoOpinion(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "authorization webhook failed");
                        errors.push(e);
                        Decision::NoOpinion(String::new())
                    }
                },
            };
            match d {
                Decision::NoOpinion(r) => {
                    if !r.is_empty() {
                        reasons.push(r);
                    }
                }
                d => return d,
            }
        }
        if !errors.is_empty() {
            return Decision::Error(errors.join(", "));
        }
        Decision::NoOpinion(reasons.join("\n"))
    }

    /// `RulesFor` of every authorizer, concatenated as upstream's union does.
    pub fn rules_for(&self, user: &str, groups: &[String], namespace: &str) -> Rules {
        let mut out = Rules::default();
        for m in &self.modes {
            match m {
                Mode::AlwaysAllow => {
                    out.resource.push(PolicyRule {
                        verbs: vec!["*".into()],
                        api_groups: vec!["*".into()],
                        resources: vec!["*".into()],
                        ..Default::default()
                    });
                    out.non_resource.push(PolicyRule {
                        verbs: vec!["*".into()],
                        non_resource_urls: vec!["*".into()],
                        ..Default::default()
                    });
                }
                Mode::AlwaysDeny => {}
                Mode::Webhook(_) => out.incomplete = true,
                Mode::Node(_) => {
                    let r = nodeauthz::rules_for(user, groups);
                    out.resource.extend(r.resource_rules);
                    out.non_resource.extend(r.non_resource_rules);
                    if r.incomplete {
                        out.incomplete = true;
                    }
                    out.errors.extend(r.error);
                }
                Mode::Abac(p) => {
                    let (res, non) = p.rules_for(user, groups);
                    out.resource.extend(res);
                    out.non_resource.extend(non);
                }
                Mode::Rbac(r) => {
                    let (rules, errs) = r.rules_for(user, groups, namespace);
                    for rule in rules {
                        if !rule.resources.is_empty() {
                            out.resource.push(PolicyRule { non_resource_urls: vec![], ..rule.clone() });
                        }
                        if !rule.non_resource_urls.is_empty() {
                            out.non_resource.push(PolicyRule {
                                api_groups: vec![],
                                resources: vec![],
                                resource_names: vec![],
                                ..rule
                            });
                        }
                    }
                    if !errs.is_empty() {
                        out.incomplete = true;
                        out.errors.extend(errs);
                    }
                }
            }
        }
        out
    }
}
