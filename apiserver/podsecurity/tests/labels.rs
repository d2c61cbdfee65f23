//! Namespace label parsing, defaults and the admission configuration.

use std::collections::BTreeMap;

use podsecurity::{Config, Error, Level, LevelVersion, Policy, Version};
use serde_json::json;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (format!("pod-security.kubernetes.io/{k}"), v.to_string())).collect()
}

fn lv(level: Level, version: Version) -> LevelVersion {
    LevelVersion::new(level, version)
}

#[test]
fn level_and_version_parsing() {
    assert_eq!(Version::parse("latest"), Ok(Version::Latest));
    assert_eq!(Version::parse("v1.0"), Ok(Version::V1(0)));
    assert_eq!(Version::parse("v1.25"), Ok(Version::V1(25)));
    for bad in ["v1.01", "v2.0", "1.25", "v1.", "v1.x", "Latest", "", "v1.25 ", "v1.-1"] {
        assert_eq!(Version::parse(bad), Err(r#"must be "latest" or "v1.x""#.to_string()), "{bad}");
    }
    assert_eq!(Level::parse("Restricted"), Err("must be one of privileged, baseline, restricted".to_string()));
    assert_eq!(lv(Level::Restricted, Version::Latest).to_string(), "restricted:latest");
    assert_eq!(lv(Level::Baseline, Version::V1(22)).to_string(), "baseline:v1.22");
    assert!(Version::V1(99).older(Version::Latest));
    assert!(!Version::Latest.older(Version::V1(99)));
}

#[test]
fn unlabelled_namespace_uses_defaults() {
    let defaults = Policy {
        enforce: lv(Level::Baseline, Version::V1(25)),
        audit: lv(Level::Restricted, Version::Latest),
        warn: lv(Level::Restricted, Version::Latest),
    };
    assert_eq!(Policy::from_labels(&BTreeMap::new(), &defaults), (defaults, vec![]));
    let (p, errs) = Policy::from_labels(&BTreeMap::new(), &Policy::default());
    assert!(errs.is_empty() && p.fully_privileged());
    assert_eq!(p.enforce, lv(Level::Privileged, Version::Latest));
}

#[test]
fn warn_follows_a_stricter_enforce_unless_set() {
    let (p, errs) =
        Policy::from_labels(&labels(&[("enforce", "restricted"), ("enforce-version", "v1.24")]), &Policy::default());
    assert!(errs.is_empty());
    assert_eq!(p.enforce, lv(Level::Restricted, Version::V1(24)));
    assert_eq!(p.warn, lv(Level::Restricted, Version::V1(24)));
    assert_eq!(p.audit, lv(Level::Privileged, Version::Latest));

    let (p, _) =
        Policy::from_labels(&labels(&[("enforce", "baseline"), ("warn-version", "v1.20")]), &Policy::default());
    assert_eq!(p.warn, lv(Level::Baseline, Version::V1(20)));

    let (p, _) = Policy::from_labels(&labels(&[("enforce", "restricted"), ("warn", "baseline")]), &Policy::default());
    assert_eq!(p.warn, lv(Level::Baseline, Version::Latest));
}

#[test]
fn invalid_labels_fail_closed_for_enforce_and_open_for_audit_and_warn() {
    let (p, errs) = Policy::from_labels(
        &labels(&[("enforce", "bogus"), ("audit", "nope"), ("warn", "no"), ("audit-version", "v2")]),
        &Policy::default(),
    );
    assert_eq!(p.enforce, lv(Level::Restricted, Version::Latest));
    assert_eq!(p.audit, lv(Level::Privileged, Version::Latest));
    assert_eq!(p.warn, lv(Level::Privileged, Version::Latest));
    let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#,
            r#"metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "nope": must be one of privileged, baseline, restricted"#,
            r#"metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v2": must be "latest" or "v1.x""#,
            r#"metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "no": must be one of privileged, baseline, restricted"#,
        ]
    );
    // An invalid enforce level does not raise warn.
    let (p, errs) = Policy::from_labels(&labels(&[("enforce", "bogus")]), &Policy::default());
    assert_eq!(errs.len(), 1);
    assert_eq!(p.warn.level, Level::Privileged);
    // An invalid version means latest.
    let (p, errs) =
        Policy::from_labels(&labels(&[("enforce", "baseline"), ("enforce-version", "1.22")]), &Policy::default());
    assert_eq!(p.enforce, lv(Level::Baseline, Version::Latest));
    assert_eq!(errs[0].body(), r#"Invalid value: "1.22": must be "latest" or "v1.x""#);
}

#[test]
fn configuration_defaults_and_validation() {
    let c = Config::from_configuration(&json!({
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "baseline", "enforce-version": "v1.30", "warn": "restricted"},
        "exemptions": {"usernames": ["admin"], "runtimeClasses": ["kata"], "namespaces": ["kube-system"]}
    }))
    .unwrap();
    assert_eq!(c.defaults.enforce, lv(Level::Baseline, Version::V1(30)));
    assert_eq!(c.defaults.warn, lv(Level::Restricted, Version::Latest));
    assert_eq!(c.defaults.audit, lv(Level::Privileged, Version::Latest));
    assert_eq!(c.exemptions.runtime_classes, ["kata"]);
    assert_eq!(c, Config { defaults: c.defaults, exemptions: c.exemptions.clone(), ..Config::default() });

    let err = Config::from_configuration(&json!({
        "apiVersion": "pod-security.admission.config.k8s.io/v1beta1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "strict"},
        "exemptions": {"namespaces": ["a.b", "ok", "ok"], "usernames": [""]}
    }))
    .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidConfiguration(
            r#"[defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted, exemptions.namespaces[0]: Invalid value: "a.b": must not contain dots, exemptions.namespaces[2]: Duplicate value: "ok", exemptions.usernames[0]: Invalid value: "": username must not be empty]"#
                .to_string()
        )
    );
    assert!(Config::from_configuration(&json!({"kind": "Other"})).is_err());
    assert!(Config::from_configuration(&json!("not an object")).is_err());
}
