//! Upstream v1.33's controller table: canonical names, the aliases `--controllers` also
//! accepts, the service account each acts as, which are off by default, behind feature gates
//! that are off, or cloud-provider only; and the start-up that walks it with upstream's log
//! lines.

pub mod bootstrapsigner;
pub mod certificates;
pub mod clusterroleaggregation;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod endpointslicemirroring;
pub mod ephemeral;
pub mod garbagecollector;
pub mod job;
pub mod legacysatokencleaner;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod podgc;
pub mod pvbinder;
pub mod pvcprotection;
pub mod pvprotection;
pub mod replicaset;
pub mod resourcequota;
pub mod rootcacert;
pub mod serviceaccount;
pub mod serviceaccounttoken;
pub mod statefulset;
pub mod tainteviction;
pub mod tokencleaner;
pub mod ttl;
pub mod ttlafterfinished;

use crate::context::Ctx;
use crate::Error;
use component_base::serving::Endpoints;
use futures::future::BoxFuture;
use std::sync::Arc;

/// Starts a controller; `Ok(false)` when it decided not to run (upstream's "skipping").
type StartFn = fn(Ctx) -> BoxFuture<'static, Result<bool, Error>>;

pub struct Descriptor {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub disabled_by_default: bool,
    /// Needs a feature gate that is off by default in v1.33.
    pub gated_off: bool,
    pub cloud: bool,
    pub start: Option<StartFn>,
}

const fn d(name: &'static str, aliases: &'static [&'static str], start: Option<StartFn>) -> Descriptor {
    Descriptor { name, aliases, disabled_by_default: false, gated_off: false, cloud: false, start }
}

macro_rules! start {
    ($m:ident) => {
        Some(|ctx| Box::pin($m::start(ctx)))
    };
}

/// Every controller v1.33 registers, in start order (serviceaccount-token first, as upstream).
pub fn descriptors() -> Vec<Descriptor> {
    let mut v = vec![
        d("serviceaccount-token-controller", &["serviceaccount-token"], start!(serviceaccounttoken)),
        d("endpoints-controller", &["endpoint"], start!(endpoints)),
        d("endpointslice-controller", &["endpointslice"], start!(endpointslice)),
        d("endpointslice-mirroring-controller", &["endpointslicemirroring"], start!(endpointslicemirroring)),
        d(
            "replicationcontroller-controller",
            &["replicationcontroller"],
            Some(|ctx| Box::pin(replicaset::start_rc(ctx))),
        ),
        d("pod-garbage-collector-controller", &["podgc"], start!(podgc)),
        d("resourcequota-controller", &["resourcequota"], start!(resourcequota)),
        d("namespace-controller", &["namespace"], start!(namespace)),
        d("serviceaccount-controller", &["serviceaccount"], start!(serviceaccount)),
        d("garbage-collector-controller", &["garbagecollector"], start!(garbagecollector)),
        d("daemonset-controller", &["daemonset"], start!(daemonset)),
        d("job-controller", &["job"], start!(job)),
        d("deployment-controller", &["deployment"], start!(deployment)),
        d("replicaset-controller", &["replicaset"], start!(replicaset)),
        d("horizontal-pod-autoscaler-controller", &["horizontalpodautoscaling"], None),
        d("disruption-controller", &["disruption"], start!(disruption)),
        d("statefulset-controller", &["statefulset"], start!(statefulset)),
        d("cronjob-controller", &["cronjob"], start!(cronjob)),
        d(
            "certificatesigningrequest-signing-controller",
            &["csrsigning"],
            Some(|ctx| Box::pin(certificates::start_signing(ctx))),
        ),
        d(
            "certificatesigningrequest-approving-controller",
            &["csrapproving"],
            Some(|ctx| Box::pin(certificates::start_approving(ctx))),
        ),
        d(
            "certificatesigningrequest-cleaner-controller",
            &["csrcleaner"],
            Some(|ctx| Box::pin(certificates::start_cleaner(ctx))),
        ),
        d("ttl-controller", &["ttl"], start!(ttl)),
        Descriptor {
            disabled_by_default: true,
            ..d("bootstrap-signer-controller", &["bootstrapsigner"], start!(bootstrapsigner))
        },
        Descriptor {
            disabled_by_default: true,
            ..d("token-cleaner-controller", &["tokencleaner"], start!(tokencleaner))
        },
        d("node-ipam-controller", &["nodeipam"], start!(nodeipam)),
        d("node-lifecycle-controller", &["nodelifecycle"], start!(nodelifecycle)),
        Descriptor { cloud: true, ..d("service-lb-controller", &["service"], None) },
        Descriptor { cloud: true, ..d("node-route-controller", &["route"], None) },
        Descriptor { cloud: true, ..d("cloud-node-lifecycle-controller", &["cloud-node-lifecycle"], None) },
        d("persistentvolume-binder-controller", &["persistentvolume-binder"], start!(pvbinder)),
        d("persistentvolume-attach-detach-controller", &["attachdetach"], None),
        d("persistentvolume-expander-controller", &["persistentvolume-expander"], None),
        d("clusterrole-aggregation-controller", &["clusterrole-aggregation"], start!(clusterroleaggregation)),
        d("persistentvolumeclaim-protection-controller", &["pvc-protection"], start!(pvcprotection)),
        d("persistentvolume-protection-controller", &["pv-protection"], start!(pvprotection)),
        Descriptor { gated_off: true, ..d("volumeattributesclass-protection-controller", &[], None) },
        d("ttl-after-finished-controller", &["ttl-after-finished"], start!(ttlafterfinished)),
        d("root-ca-certificate-publisher-controller", &["root-ca-cert-publisher"], start!(rootcacert)),
        Descriptor {
            gated_off: true,
            ..d("kube-apiserver-serving-clustertrustbundle-publisher-controller", &[], None)
        },
        d("ephemeral-volume-controller", &["ephemeral-volume"], start!(ephemeral)),
        Descriptor {
            gated_off: true,
            ..d("storageversion-garbage-collector-controller", &["storage-version-gc"], None)
        },
        Descriptor { gated_off: true, ..d("resourceclaim-controller", &["resource-claim-controller"], None) },
        Descriptor { gated_off: true, ..d("device-taint-eviction-controller", &[], None) },
        d(
            "legacy-serviceaccount-token-cleaner-controller",
            &["legacy-service-account-token-cleaner"],
            start!(legacysatokencleaner),
        ),
        d("validatingadmissionpolicy-status-controller", &[], None),
        d("taint-eviction-controller", &[], start!(tainteviction)),
        d("service-cidr-controller", &[], None),
        d("storage-version-migrator-controller", &["svm"], None),
        Descriptor { disabled_by_default: true, ..d("selinux-warning-controller", &[], None) },
    ];
    // Keep serviceaccount-token first; the rest start in table order.
    v.sort_by_key(|d| d.name != "serviceaccount-token-controller");
    v
}

fn canonical(name: &str, table: &[Descriptor]) -> Option<&'static str> {
    table.iter().find(|d| d.name == name || d.aliases.contains(&name)).map(|d| d.name)
}

/// `--controllers` names known controllers (canonical or alias), `*`, or `-name`.
pub fn validate_selection(selection: &[String]) -> Result<(), Error> {
    let table = descriptors();
    for s in selection {
        let name = s.strip_prefix('-').unwrap_or(s);
        if name != "*" && canonical(name, &table).is_none() {
            return Err(Error::Config(format!("{name:?} is not in the list of known controllers")));
        }
    }
    Ok(())
}

/// upstream's `IsControllerEnabled`: an explicit name wins, then `-name`, then `*` enables the
/// on-by-default ones.
pub fn is_enabled(selection: &[String], desc: &Descriptor) -> bool {
    let table = descriptors();
    let mut star = false;
    for s in selection {
        if s == "*" {
            star = true;
            continue;
        }
        let (negated, name) = match s.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, s.as_str()),
        };
        if canonical(name, &table) == Some(desc.name) {
            return !negated;
        }
    }
    star && !desc.disabled_by_default
}

/// Starts every enabled controller, then the informers they registered with.
pub async fn start_all(ctx: &Ctx, endpoints: &Endpoints) -> Result<(), Error> {
    for desc in descriptors() {
        let name = desc.name;
        if desc.gated_off {
            tracing::info!(controller = ?name, "Controller is disabled by a feature gate");
            continue;
        }
        if desc.cloud {
            tracing::info!(controller = ?name, "Skipping a cloud provider controller");
            continue;
        }
        if !is_enabled(&ctx.opts.controllers, &desc) {
            tracing::warn!(controller = ?name, "Warning: controller is disabled");
            continue;
        }
        let Some(start) = desc.start else {
            tracing::warn!(controller = ?name, reason = "not implemented yet", "Warning: skipping controller");
            continue;
        };
        if !ctx.opts.controller_start_interval.is_zero() {
            let jitter = ctx.opts.controller_start_interval.mul_f64(1.0 + rand::random::<f64>());
            tokio::time::sleep(jitter).await;
        }
        tracing::debug!(controller = ?name, "Starting controller");
        match start(ctx.clone()).await {
            Ok(true) => {
                tracing::info!(controller = ?name, "Started controller");
                endpoints.add_check(name, Arc::new(|| Ok(())));
            }
            Ok(false) => tracing::warn!(controller = ?name, "Warning: skipping controller"),
            Err(e) => {
                tracing::error!(controller = ?name, "Error starting controller: {e}");
                return Err(e);
            }
        }
    }
    ctx.informers.start();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn find(name: &str) -> Descriptor {
        descriptors().into_iter().find(|d| d.name == name).unwrap()
    }

    #[test]
    fn selection_follows_upstreams_rules() {
        let rs = find("replicaset-controller");
        let bs = find("bootstrap-signer-controller");
        assert!(is_enabled(&sel(&["*"]), &rs));
        assert!(!is_enabled(&sel(&["*"]), &bs));
        assert!(is_enabled(&sel(&["*", "bootstrapsigner"]), &bs));
        assert!(!is_enabled(&sel(&["*", "-replicaset"]), &rs));
        assert!(!is_enabled(&sel(&["-replicaset-controller", "*"]), &rs));
        assert!(is_enabled(&sel(&["replicaset"]), &rs));
        assert!(!is_enabled(&sel(&["deployment"]), &rs));
        assert!(validate_selection(&sel(&["*", "-tokencleaner", "csrsigning"])).is_ok());
        let e = validate_selection(&sel(&["nope"])).unwrap_err().to_string();
        assert_eq!(e, "\"nope\" is not in the list of known controllers");
    }

    #[test]
    fn the_table_has_upstreams_forty_nine_controllers_and_token_first() {
        let t = descriptors();
        assert_eq!(t.len(), 49);
        assert_eq!(t[0].name, "serviceaccount-token-controller");
        let mut names: Vec<_> = t.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 49);
    }
}
