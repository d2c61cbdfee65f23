use super::*;
use serde_json::json;

const NOW: &str = "2026-11-23T10:00:00Z";
const LATER: &str = "2026-11-23T10:05:00Z";

fn deployments() -> Target<'static> {
    Target {
        definition: "io.k8s.api.apps.v1.Deployment",
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: "",
        ignored: &["status"],
    }
}

fn fields_of(obj: &Value, manager: &str, op: &str) -> Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager && e["operation"] == op))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

/// What `kubectl create deployment web --image=nginx` stores, defaults included.
fn created_deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "securityContext": {}, "schedulerName": "default-scheduler"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {}})
}

#[test]
fn create_records_what_upstream_records() {
    let mut d = created_deployment();
    update(&deployments(), None, &mut d, "kubectl-create", NOW);
    let mf = &d["metadata"]["managedFields"];
    assert_eq!(mf.as_array().map(Vec::len), Some(1));
    assert_eq!(mf[0]["manager"], "kubectl-create");
    assert_eq!(mf[0]["operation"], "Update");
    assert_eq!(mf[0]["apiVersion"], "apps/v1");
    assert_eq!(mf[0]["time"], NOW);
    assert_eq!(mf[0]["fieldsType"], "FieldsV1");
    // Upstream v1.33's entry for the same command.
    let want = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
            "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {},
                    "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                    "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {}}}}});
    assert_eq!(mf[0]["fieldsV1"], want);
}

#[test]
fn updates_move_ownership_and_keep_unchanged_writes_out() {
    let t = deployments();
    let mut d = created_deployment();
    update(&t, None, &mut d, "kubectl-create", NOW);
    let live = d.clone();
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(3);
    update(&t, Some(&live), &mut scaled, "kubectl-scale", LATER);
    assert_eq!(fields_of(&scaled, "kubectl-scale", "Update"), json!({"f:spec": {"f:replicas": {}}}));
    assert!(fields_of(&scaled, "kubectl-create", "Update")["f:spec"].get("f:replicas").is_none());
    // A write that changes nothing records nothing new.
    let mut same = scaled.clone();
    update(&t, Some(&scaled), &mut same, "noop", LATER);
    assert_eq!(fields_of(&same, "noop", "Update"), Value::Null);
    assert_eq!(same["metadata"]["managedFields"], scaled["metadata"]["managedFields"]);
}

fn config(replicas: i64, env: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "env": env}]}}}})
}

#[test]
fn apply_conflicts_force_and_prune() {
    let t = deployments();
    let a = apply(
        &t,
        None,
        &config(1, json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
        "alice",
        false,
        NOW,
    )
    .unwrap();
    assert_eq!(a["spec"]["replicas"], 1);
    let alice = fields_of(&a, "alice", "Apply");
    assert_eq!(alice["f:spec"]["f:replicas"], json!({}));
    assert_eq!(alice["f:spec"]["f:selector"], json!({}));
    let c = &alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
    assert_eq!(c["."], json!({}));
    assert_eq!(c["f:env"]["k:{\"name\":\"A\"}"], json!({".": {}, "f:name": {}, "f:value": {}}));

    // Bob applies a different replica count: a conflict naming alice's field.
    let bob_cfg =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    match apply(&t, Some(&a), &bob_cfg, "bob", false, LATER) {
        Err(Error::Conflict { message, causes }) => {
            assert_eq!(message, "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
            assert_eq!(
                causes,
                vec![Cause { field: ".spec.replicas".into(), message: "conflict with \"alice\"".into() }]
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same value is shared, not a conflict.
    let shared =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}});
    let s = apply(&t, Some(&a), &shared, "bob", false, LATER).unwrap();
    assert_eq!(fields_of(&s, "bob", "Apply"), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(fields_of(&s, "alice", "Apply")["f:spec"]["f:replicas"], json!({}));
    // Forced: bob takes the field from alice.
    let f = apply(&t, Some(&a), &bob_cfg, "bob", true, LATER).unwrap();
    assert_eq!(f["spec"]["replicas"], 5);
    assert!(fields_of(&f, "alice", "Apply")["f:spec"].get("f:replicas").is_none());

    // Alice drops env B and replicas: B is removed; replicas now belongs to bob and stays.
    let mut cfg = config(1, json!([{"name": "A", "value": "1"}]));
    cfg["spec"].as_object_mut().unwrap().remove("replicas");
    let p = apply(&t, Some(&f), &cfg, "alice", false, LATER).unwrap();
    assert_eq!(p["spec"]["template"]["spec"]["containers"][0]["env"], json!([{"name": "A", "value": "1"}]));
    assert_eq!(p["spec"]["replicas"], 5);
}

#[test]
fn conflicts_with_several_managers_are_listed_per_manager() {
    let t = deployments();
    let mut d = created_deployment();
    update(&t, None, &mut d, "kubectl-create", NOW);
    let cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "revisionHistoryLimit": 3}});
    let Err(Error::Conflict { message, .. }) = apply(&t, Some(&d), &cfg, "kubectl", false, LATER) else {
        panic!("expected a conflict")
    };
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.revisionHistoryLimit"
    );
}

#[test]
fn bad_apply_bodies_are_rejected() {
    let t = deployments();
    let no_kind = json!({"metadata": {"name": "web"}});
    assert!(
        matches!(apply(&t, None, &no_kind, "m", false, NOW), Err(Error::BadRequest(m)) if m == "invalid object type: /, Kind=")
    );
    let unknown = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 1, "bogus": true}});
    match apply(&t, None, &unknown, "m", false, NOW) {
        Err(Error::BadRequest(m)) => assert_eq!(
            m,
            "failed to create typed patch object (ns/web; apps/v1, Kind=Deployment): .spec.bogus: field not declared in schema"
        ),
        other => panic!("{other:?}"),
    }
    let dup = config(1, json!([{"name": "A"}, {"name": "A"}]));
    assert!(
        matches!(apply(&t, None, &dup, "m", false, NOW), Err(Error::BadRequest(m)) if m.contains("duplicate entries for key [name=\"A\"]"))
    );
}

#[test]
fn update_managers_are_capped() {
    let t = deployments();
    let mut d = created_deployment();
    update(&t, None, &mut d, "creator", "2026-11-23T09:00:00Z");
    for i in 0..12 {
        let live = d.clone();
        d["metadata"]["labels"][format!("l{i}")] = json!("x");
        update(&t, Some(&live), &mut d, &format!("m{i:02}"), &format!("2026-11-23T10:{i:02}:00Z"));
    }
    let mf = d["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(mf.len(), 10);
    assert!(mf.iter().any(|e| e["manager"] == "ancient-changes"));
}

#[test]
fn kubectl_moving_from_client_side_apply_does_not_conflict_with_itself() {
    let t = deployments();
    // Created by client-side apply: the annotation holds the configuration, the fields belong
    // to kubectl-client-side-apply.
    let cfg =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    let mut d = created_deployment();
    d["spec"]["replicas"] = json!(2);
    d["metadata"]["annotations"] = json!({LAST_APPLIED: cfg.to_string()});
    update(&t, None, &mut d, "kubectl-client-side-apply", NOW);
    let new_cfg =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let out = apply(&t, Some(&d), &new_cfg, "kubectl", false, LATER).unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(fields_of(&out, "kubectl", "Apply")["f:spec"]["f:replicas"], json!({}));
    let last: Value = serde_json::from_str(out["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap()).unwrap();
    assert_eq!(last["spec"]["replicas"], 3, "the annotation follows the applied configuration");
    // Another manager is not excused, and neither is a field changed since (revisionHistoryLimit
    // is not in the annotation).
    assert!(matches!(apply(&t, Some(&d), &new_cfg, "other", false, LATER), Err(Error::Conflict { .. })));
    let cfg2 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"revisionHistoryLimit": 1}});
    assert!(matches!(apply(&t, Some(&d), &cfg2, "kubectl", false, LATER), Err(Error::Conflict { .. })));
}

#[test]
fn in_place_subtraction_matches_the_copying_differences() {
    let set = |v: Value| Set::from_fields_v1(&v).unwrap();
    let a = set(json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}, "f:b": {}}, "f:name": {}},
        "f:spec": {".": {}, "f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}, "f:status": {"f:x": {}}}));
    let others = [
        set(json!({"f:status": {}})),
        set(json!({"f:spec": {}})),
        set(json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}})),
        set(json!({"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}, "f:nothing": {}})),
        Set::new(),
    ];
    for o in &others {
        let mut d = a.clone();
        d.subtract(o);
        assert_eq!(d, a.difference(o), "{:?}", o.to_fields_v1());
        let mut r = a.clone();
        r.recursive_subtract(o);
        assert_eq!(r, a.recursive_difference(o), "{:?}", o.to_fields_v1());
    }
}
