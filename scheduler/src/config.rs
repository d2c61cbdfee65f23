//! `--config`: KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) with upstream's
//! defaults, validation messages, and how each profile's plugin lists are merged with the
//! default plugins (multiPoint first, then each extension point's own enabled/disabled).

use crate::framework::{Filter, Permit, PostBind, PreBind, PreFilter, PreScore, Reserve, Score};
use crate::plugins;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";

/// The settings the scheduler runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub profiles: Vec<ProfileConfig>,
    pub percentage_of_nodes_to_score: i32,
    pub parallelism: i32,
    pub pod_initial_backoff: Duration,
    pub pod_max_backoff: Duration,
    pub leader_elect: Option<bool>,
    pub lease_name: Option<String>,
    pub lease_namespace: Option<String>,
    pub qps: Option<f32>,
    pub burst: Option<u32>,
    pub kubeconfig: Option<String>,
    /// The document as read, with defaults filled (for `/configz`).
    pub raw: Value,
}

#[derive(Clone, Debug)]
pub struct ProfileConfig {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub plugins: Value,
    pub plugin_config: Value,
}

impl Default for Config {
    fn default() -> Config {
        parse_value(json!({"apiVersion": API_VERSION, "kind": "KubeSchedulerConfiguration"}))
            .expect("the default configuration is valid")
    }
}

/// Reads and validates a configuration file.
pub fn load(path: &std::path::Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("unable to read config file {:?}: {e}", path))?;
    let v: Value = serde_saphyr::from_str(&text).map_err(|e| format!("decoding config file {:?}: {e}", path))?;
    parse_value(v)
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(Value::as_i64)
}

pub fn parse_value(v: Value) -> Result<Config, String> {
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "KubeSchedulerConfiguration" || api_version != API_VERSION {
        return Err(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\" in scheme \"pkg/scheduler/apis/config/scheme/scheme.go:30\""
        ));
    }
    let mut errs = Vec::new();
    let pct = int(&v, "percentageOfNodesToScore").unwrap_or(0);
    if !(0..=100).contains(&pct) {
        errs.push(format!("percentageOfNodesToScore: Invalid value: {pct}: not in valid range [0-100]"));
    }
    let parallelism = int(&v, "parallelism").unwrap_or(16);
    if parallelism <= 0 {
        errs.push(format!("parallelism: Invalid value: {parallelism}: should be an integer value greater than zero"));
    }
    let initial = int(&v, "podInitialBackoffSeconds").unwrap_or(1);
    if initial <= 0 {
        errs.push(format!("podInitialBackoffSeconds: Invalid value: {initial}: must be greater than 0"));
    }
    let max = int(&v, "podMaxBackoffSeconds").unwrap_or(10);
    if max < initial {
        errs.push(format!(
            "podMaxBackoffSeconds: Invalid value: {max}: must be greater than or equal to PodInitialBackoffSeconds"
        ));
    }
    let le = v.get("leaderElection");
    if let Some(lock) = le.and_then(|l| l.get("resourceLock")).and_then(Value::as_str) {
        if lock != "leases" && le.and_then(|l| l.get("leaderElect")).and_then(Value::as_bool) != Some(false) {
            errs.push(format!(
                "leaderElection.resourceLock: Invalid value: \"{lock}\": resourceLock value must be \"leases\""
            ));
        }
    }
    let listed: Vec<Value> = v.get("profiles").and_then(Value::as_array).cloned().unwrap_or_default();
    let profiles_in = if listed.is_empty() { vec![json!({})] } else { listed };
    let single = profiles_in.len() == 1;
    let mut profiles: Vec<ProfileConfig> = Vec::new();
    for (i, p) in profiles_in.iter().enumerate() {
        let name = match p.get("schedulerName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ if single => "default-scheduler".to_string(),
            _ => {
                errs.push(format!("profiles[{i}].schedulerName: Required value"));
                continue;
            }
        };
        if let Some(first) = profiles.iter().position(|q| q.scheduler_name == name) {
            errs.push(format!("profiles[{i}].schedulerName: Duplicate value: \"profiles[{first}].schedulerName\""));
        }
        let ppct = int(p, "percentageOfNodesToScore");
        if let Some(x) = ppct.filter(|x| !(0..=100).contains(x)) {
            errs.push(format!(
                "profiles[{i}].percentageOfNodesToScore: Invalid value: {x}: not in valid range [0-100]"
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (j, pc) in p.get("pluginConfig").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let n = pc.get("name").and_then(Value::as_str).unwrap_or("");
            if !seen.insert(n.to_string()) {
                errs.push(format!("profiles[{i}].pluginConfig[{j}]: Duplicate value: \"{n}\""));
            }
        }
        profiles.push(ProfileConfig {
            scheduler_name: name,
            percentage_of_nodes_to_score: ppct.and_then(|x| i32::try_from(x).ok()),
            plugins: p.get("plugins").cloned().unwrap_or(json!({})),
            plugin_config: p.get("pluginConfig").cloned().unwrap_or(json!([])),
        });
    }
    match errs.len() {
        0 => {}
        1 => return Err(errs.remove(0)),
        _ => return Err(format!("[{}]", errs.join(", "))),
    }
    let cc = v.get("clientConnection");
    Ok(Config {
        profiles,
        percentage_of_nodes_to_score: i32::try_from(pct).unwrap_or(0),
        parallelism: i32::try_from(parallelism).unwrap_or(16),
        pod_initial_backoff: Duration::from_secs(u64::try_from(initial).unwrap_or(1)),
        pod_max_backoff: Duration::from_secs(u64::try_from(max).unwrap_or(10)),
        leader_elect: le.and_then(|l| l.get("leaderElect")).and_then(Value::as_bool),
        lease_name: le.and_then(|l| l.get("resourceName")).and_then(Value::as_str).map(String::from),
        lease_namespace: le.and_then(|l| l.get("resourceNamespace")).and_then(Value::as_str).map(String::from),
        qps: cc.and_then(|c| c.get("qps")).and_then(Value::as_f64).map(|q| q as f32).filter(|q| *q != 0.0),
        burst: cc
            .and_then(|c| c.get("burst"))
            .and_then(Value::as_u64)
            .and_then(|b| u32::try_from(b).ok())
            .filter(|b| *b != 0),
        kubeconfig: cc
            .and_then(|c| c.get("kubeconfig"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from),
        raw: v,
    })
}

/// One profile's plugins per extension point, built from the defaults and its configuration.
pub struct Profile {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<i32>,
    pub pre_filter: Vec<Arc<dyn PreFilter>>,
    pub filter: Vec<Arc<dyn Filter>>,
    pub pre_score: Vec<Arc<dyn PreScore>>,
    pub score: Vec<(Arc<dyn Score>, i64)>,
    pub reserve: Vec<Arc<dyn Reserve>>,
    pub permit: Vec<Arc<dyn Permit>>,
    pub pre_bind: Vec<Arc<dyn PreBind>>,
    pub post_bind: Vec<Arc<dyn PostBind>>,
    /// DefaultPreemption's arguments when the profile runs it at PostFilter.
    pub preemption: Option<crate::preemption::Args>,
    pub has_binder: bool,
}

/// An enabled/disabled pair of one extension point: (name, weight) enabled, names disabled.
fn point(plugins: &Value, p: &str) -> (Vec<(String, i64)>, Vec<String>) {
    let set = plugins.get(p);
    let enabled = set
        .and_then(|s| s.get("enabled"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((e.get("name")?.as_str()?.to_string(), e.get("weight").and_then(Value::as_i64).unwrap_or(0)))
        })
        .collect();
    let disabled = set
        .and_then(|s| s.get("disabled"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("name").and_then(Value::as_str).map(String::from))
        .collect();
    (enabled, disabled)
}

/// upstream's `mergePluginSet`: disabled defaults go ("*" all of them), an enabled default is
/// replaced in place (its weight from the user), the rest are appended.
fn merge(defaults: &[(String, i64)], enabled: &[(String, i64)], disabled: &[String]) -> Vec<(String, i64)> {
    let all = disabled.iter().any(|d| d == "*");
    let mut out: Vec<(String, i64)> = defaults.iter().filter(|(n, _)| !all && !disabled.contains(n)).cloned().collect();
    for (n, w) in enabled {
        match out.iter_mut().find(|(d, _)| d == n) {
            Some(slot) => slot.1 = *w,
            None => out.push((n.clone(), *w)),
        }
    }
    out
}

const POINTS: [&str; 8] = ["preFilter", "filter", "preScore", "score", "reserve", "permit", "preBind", "postBind"];

fn point_label(p: &str) -> &'static str {
    match p {
        "preFilter" => "PreFilterPlugin",
        "filter" => "FilterPlugin",
        "preScore" => "PreScorePlugin",
        "reserve" => "ReservePlugin",
        "permit" => "PermitPlugin",
        "preBind" => "PreBindPlugin",
        "postBind" => "PostBindPlugin",
        _ => "ScorePlugin",
    }
}

impl Profile {
    pub fn build(pc: &ProfileConfig, listers: &Arc<dyn crate::framework::Listers>) -> Result<Profile, String> {
        let defaults: Vec<(String, i64)> = plugins::DEFAULT_PLUGINS.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        let (mp_en, mp_dis) = point(&pc.plugins, "multiPoint");
        let multi = merge(&defaults, &mp_en, &mp_dis);
        let args_of = |name: &str| -> Value {
            pc.plugin_config
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|c| c.get("args").cloned())
                .unwrap_or(json!({}))
        };
        let ctx = |e: String| format!("creating profile for scheduler name {}: {e}", pc.scheduler_name);
        let mut built: std::collections::HashMap<String, crate::framework::Points> = Default::default();
        let mut get = |name: &str, label: &str| -> Result<crate::framework::Points, String> {
            if let Some(p) = built.get(name) {
                return Ok(p.clone());
            }
            let p = plugins::build(name, &args_of(name), listers)
                .ok_or_else(|| format!("{label} \"{name}\" does not exist"))?;
            built.insert(name.to_string(), p.clone());
            Ok(p)
        };
        let mut prof = Profile {
            scheduler_name: pc.scheduler_name.clone(),
            percentage_of_nodes_to_score: pc.percentage_of_nodes_to_score,
            pre_filter: Vec::new(),
            filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            permit: Vec::new(),
            pre_bind: Vec::new(),
            post_bind: Vec::new(),
            preemption: None,
            has_binder: false,
        };
        // multiPoint plugins take part wherever they implement the point, unless disabled there.
        for p in POINTS {
            let (en, dis) = point(&pc.plugins, p);
            let all = dis.iter().any(|d| d == "*");
            let mut names: Vec<(String, i64)> = Vec::new();
            // Explicit entries that override a multiPoint plugin come first, as upstream.
            for (n, w) in &en {
                if multi.iter().any(|(m, _)| m == n) {
                    names.push((n.clone(), *w));
                }
            }
            for (n, w) in &multi {
                if all || dis.contains(n) || names.iter().any(|(x, _)| x == n) {
                    continue;
                }
                let pts = get(n, "PreFilterPlugin").map_err(ctx)?;
                let implements = match p {
                    "preFilter" => pts.pre_filter.is_some(),
                    "filter" => pts.filter.is_some(),
                    "preScore" => pts.pre_score.is_some(),
                    "reserve" => pts.reserve.is_some(),
                    "permit" => pts.permit.is_some(),
                    "preBind" => pts.pre_bind.is_some(),
                    "postBind" => pts.post_bind.is_some(),
                    _ => pts.score.is_some(),
                };
                if implements {
                    names.push((n.clone(), *w));
                }
            }
            for (n, w) in &en {
                if !names.iter().any(|(x, _)| x == n) {
                    names.push((n.clone(), *w));
                }
            }
            for (n, w) in names {
                let pts = get(&n, point_label(p)).map_err(ctx)?;
                let missing = || {
                    ctx(format!(
                        "plugin \"{n}\" does not extend {} plugin",
                        &point_label(p)[..point_label(p).len() - 6]
                    ))
                };
                match p {
                    "preFilter" => prof.pre_filter.push(pts.pre_filter.ok_or_else(missing)?),
                    "filter" => prof.filter.push(pts.filter.ok_or_else(missing)?),
                    "preScore" => prof.pre_score.push(pts.pre_score.ok_or_else(missing)?),
                    "reserve" => prof.reserve.push(pts.reserve.ok_or_else(missing)?),
                    "permit" => prof.permit.push(pts.permit.ok_or_else(missing)?),
                    "preBind" => prof.pre_bind.push(pts.pre_bind.ok_or_else(missing)?),
                    "postBind" => prof.post_bind.push(pts.post_bind.ok_or_else(missing)?),
                    _ => prof.score.push((pts.score.ok_or_else(missing)?, if w == 0 { 1 } else { w })),
                }
            }
        }
        let (pf_en, pf_dis) = point(&pc.plugins, "postFilter");
        let post_filters = merge(
            &multi.iter().filter(|(n, _)| n == crate::preemption::NAME).cloned().collect::<Vec<_>>(),
            &pf_en,
            &pf_dis,
        );
        for (n, _) in post_filters {
            let pts = get(&n, "PostFilterPlugin").map_err(ctx)?;
            let args =
                pts.post_filter.ok_or_else(|| ctx(format!("plugin \"{n}\" does not extend PostFilter plugin")))?;
            prof.preemption = Some(args);
        }
        let (bind_en, bind_dis) = point(&pc.plugins, "bind");
        let binders = merge(
            &multi.iter().filter(|(n, _)| n == "DefaultBinder").cloned().collect::<Vec<_>>(),
            &bind_en,
            &bind_dis,
        );
        prof.has_binder = !binders.is_empty();
        if !prof.has_binder {
            return Err(ctx(format!(
                "at least one bind plugin is needed for profile with scheduler name \"{}\"",
                pc.scheduler_name
            )));
        }
        Ok(prof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_listers() -> Arc<dyn crate::framework::Listers> {
        Arc::new(crate::framework::NoListers)
    }

    fn cfg(extra: Value) -> Result<Config, String> {
        let mut v = json!({"apiVersion": API_VERSION, "kind": "KubeSchedulerConfiguration"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        parse_value(v)
    }

    #[test]
    fn defaults_and_validation_messages_are_upstreams() {
        let c = Config::default();
        assert_eq!(c.profiles.len(), 1);
        assert_eq!(c.profiles[0].scheduler_name, "default-scheduler");
        assert_eq!((c.pod_initial_backoff.as_secs(), c.pod_max_backoff.as_secs(), c.parallelism), (1, 10, 16));
        assert_eq!(
            cfg(json!({"percentageOfNodesToScore": 110})).unwrap_err(),
            "percentageOfNodesToScore: Invalid value: 110: not in valid range [0-100]"
        );
        assert_eq!(
            cfg(json!({"profiles": [{"schedulerName": "a"}, {}]})).unwrap_err(),
            "profiles[1].schedulerName: Required value"
        );
        let e = cfg(json!({"podInitialBackoffSeconds": 0, "parallelism": 0})).unwrap_err();
        assert!(e.starts_with("[parallelism: Invalid value: 0"), "{e}");
    }

    #[test]
    fn profiles_merge_defaults_with_their_plugin_lists() {
        let p = Profile::build(&Config::default().profiles[0], &no_listers()).unwrap();
        let names = |v: Vec<&'static str>| v.join(",");
        assert_eq!(
            names(p.filter.iter().map(|f| f.name()).collect()),
            "NodeUnschedulable,NodeName,TaintToleration,NodeAffinity,NodePorts,NodeResourcesFit,VolumeRestrictions,NodeVolumeLimits,VolumeBinding,VolumeZone,PodTopologySpread,InterPodAffinity"
        );
        assert_eq!(names(p.reserve.iter().map(|f| f.name()).collect()), "VolumeBinding");
        assert_eq!(names(p.pre_bind.iter().map(|f| f.name()).collect()), "VolumeBinding");
        let scores: Vec<(&str, i64)> = p.score.iter().map(|(s, w)| (s.name(), *w)).collect();
        assert_eq!(
            scores,
            [
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("VolumeBinding", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        let c = cfg(json!({"profiles": [{"schedulerName": "s", "plugins": {
            "score": {"disabled": [{"name": "ImageLocality"}], "enabled": [{"name": "NodeResourcesFit", "weight": 5}]}}}]}))
        .unwrap();
        let p = Profile::build(&c.profiles[0], &no_listers()).unwrap();
        let scores: Vec<(&str, i64)> = p.score.iter().map(|(s, w)| (s.name(), *w)).collect();
        assert_eq!(scores[0], ("NodeResourcesFit", 5));
        assert!(!scores.iter().any(|(n, _)| *n == "ImageLocality"));
        let c = cfg(json!({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Foo"}]}}}]})).unwrap();
        assert_eq!(
            Profile::build(&c.profiles[0], &no_listers()).err().unwrap(),
            "creating profile for scheduler name default-scheduler: FilterPlugin \"Foo\" does not exist"
        );
    }
}
