use crate::*;
use rbac::Attributes;
use serde_json::{json, Value};

fn node_groups() -> Vec<String> {
    vec![NODES_GROUP.to_string(), "system:authenticated".to_string()]
}

fn attrs(node: &str, verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
    Attributes {
        user: format!("system:node:{node}"),
        groups: node_groups(),
        verb: verb.into(),
        is_resource: true,
        api_group: group.into(),
        api_version: "v1".into(),
        namespace: ns.into(),
        resource: resource.into(),
        subresource: sub.into(),
        name: name.into(),
        path: String::new(),
        field_selector: String::new(),
    }
}

fn get(node: &str, resource: &str, ns: &str, name: &str) -> Attributes {
    attrs(node, "get", "", resource, "", ns, name)
}

fn pod(ns: &str, name: &str, node: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    json!({"metadata": {"namespace": ns, "name": name, "uid": format!("uid-{name}")}, "spec": spec})
}

fn no_rel(node: &str) -> Decision {
    Decision::NoOpinion(format!("no relationship found between node '{node}' and this object"))
}

#[test]
fn identity() {
    assert_eq!(node_identity("system:node:n1", &node_groups()), Some("n1".into()));
    assert_eq!(node_identity("system:node:n1", &["system:authenticated".into()]), None);
    assert_eq!(node_identity("alice", &node_groups()), None);
    assert_eq!(node_identity("system:node:", &node_groups()), Some(String::new()));
}

#[test]
fn secrets_follow_pods() {
    let mut g = Graph::new();
    g.apply(
        ObjectKind::Pod,
        false,
        &pod("ns", "p1", "node1", json!({"volumes": [{"name": "v", "secret": {"secretName": "s1"}}]})),
    );
    g.apply(
        ObjectKind::Pod,
        false,
        &pod(
            "ns",
            "p2",
            "node2",
            json!({"containers": [{"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}}]}]}),
        ),
    );
    assert_eq!(authorize(&g, &get("node1", "secrets", "ns", "s1"), None), Decision::Allow);
    assert_eq!(authorize(&g, &get("node1", "secrets", "ns", "s2"), None), no_rel("node1"));
    assert_eq!(authorize(&g, &get("node2", "secrets", "ns", "s2"), None), Decision::Allow);
    // Same name in another namespace is another object.
    assert_eq!(authorize(&g, &get("node1", "secrets", "other", "s1"), None), no_rel("node1"));
    // Kubelets watch single secrets by name.
    let mut w = attrs("node1", "watch", "", "secrets", "", "ns", "");
    assert_eq!(authorize(&g, &w, Some("metadata.name=s1")), Decision::Allow);
    assert_eq!(authorize(&g, &w, None), Decision::NoOpinion("No Object name found".into()));
    w.namespace.clear();
    assert_eq!(
        authorize(&g, &w, Some("metadata.name=s1")),
        Decision::NoOpinion("can only read namespaced object of this type".into())
    );
    let del = attrs("node1", "delete", "", "secrets", "", "ns", "s1");
    assert_eq!(authorize(&g, &del, None), Decision::NoOpinion("can only read resources of this type".into()));
}

#[test]
fn configmaps_via_projected_volumes_and_env_from() {
    let mut g = Graph::new();
    let spec = json!({
        "volumes": [{"name": "v", "projected": {"sources": [
            {"configMap": {"name": "cm1"}}, {"secret": {"name": "s1"}}, {"serviceAccountToken": {"path": "t"}}
        ]}}],
        "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm2"}}]}],
        "imagePullSecrets": [{"name": "pull"}]
    });
    g.apply(ObjectKind::Pod, false, &pod("ns", "p", "node1", spec));
    for (res, name) in [("configmaps", "cm1"), ("configmaps", "cm2"), ("secrets", "s1"), ("secrets", "pull")] {
        assert_eq!(authorize(&g, &get("node1", res, "ns", name), None), Decision::Allow, "{res}/{name}");
        assert_eq!(authorize(&g, &get("node2", res, "ns", name), None), no_rel("node2"));
    }
}

#[test]
fn pvc_to_pv_chain() {
    let mut g = Graph::new();
    g.apply(
        ObjectKind::Pod,
        false,
        &pod(
            "ns",
            "p",
            "node1",
            json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "claim"}}]}),
        ),
    );
    let pv = json!({"metadata": {"name": "pv1"}, "spec": {
        "claimRef": {"namespace": "ns", "name": "claim"},
        "csi": {"driver": "d", "volumeHandle": "h",
                "nodePublishSecretRef": {"namespace": "secrets", "name": "publish"},
                "controllerPublishSecretRef": {"namespace": "secrets", "name": "controller"}}
    }});
    g.apply(ObjectKind::PersistentVolume, false, &pv);
    assert_eq!(authorize(&g, &get("node1", "persistentvolumeclaims", "ns", "claim"), None), Decision::Allow);
    assert_eq!(authorize(&g, &get("node1", "persistentvolumes", "", "pv1"), None), Decision::Allow);
    assert_eq!(authorize(&g, &get("node1", "secrets", "secrets", "publish"), None), Decision::Allow);
    // Controller secrets are not for kubelets.
    assert_eq!(authorize(&g, &get("node1", "secrets", "secrets", "controller"), None), no_rel("node1"));
    assert_eq!(authorize(&g, &get("node2", "persistentvolumes", "", "pv1"), None), no_rel("node2"));
    let list = attrs("node1", "list", "", "persistentvolumes", "", "", "");
    assert_eq!(
        authorize(&g, &list, None),
        Decision::NoOpinion("can only get individual resources of this type".into())
    );
    // PVC status updates for expansion.
    let status = attrs("node1", "patch", "", "persistentvolumeclaims", "status", "ns", "claim");
    assert_eq!(authorize(&g, &status, None), Decision::Allow);
    // Unbinding the PV drops its edges.
    g.apply(ObjectKind::PersistentVolume, false, &json!({"metadata": {"name": "pv1"}, "spec": {}}));
    assert_eq!(authorize(&g, &get("node1", "persistentvolumes", "", "pv1"), None), no_rel("node1"));
    assert_eq!(authorize(&g, &get("node1", "secrets", "secrets", "publish"), None), no_rel("node1"));
}

#[test]
fn ephemeral_volumes_and_resource_claims() {
    let mut g = Graph::new();
    let mut p = pod(
        "ns",
        "web",
        "node1",
        json!({
            "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}],
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "t"}, {"name": "x", "resourceClaimName": "shared"}]
        }),
    );
    g.apply(ObjectKind::Pod, false, &p);
    let claim = |name: &str| attrs("node1", "get", "resource.k8s.io", "resourceclaims", "", "ns", name);
    assert_eq!(authorize(&g, &get("node1", "persistentvolumeclaims", "ns", "web-scratch"), None), Decision::Allow);
    assert_eq!(authorize(&g, &claim("shared"), None), Decision::Allow);
    assert_eq!(authorize(&g, &claim("web-gpu-abc"), None), no_rel("node1"));
    // The generated claim appears in status later.
    p["status"] = json!({"resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "web-gpu-abc"}]});
    g.apply(ObjectKind::Pod, false, &p);
    assert_eq!(authorize(&g, &claim("web-gpu-abc"), None), Decision::Allow);
}

#[test]
fn service_account_tokens() {
    let mut g = Graph::new();
    g.apply(ObjectKind::Pod, false, &pod("ns", "p", "node1", json!({"serviceAccountName": "sa"})));
    let token = |node: &str, name: &str| attrs(node, "create", "", "serviceaccounts", "token", "ns", name);
    assert_eq!(authorize(&g, &token("node1", "sa"), None), Decision::Allow);
    assert_eq!(authorize(&g, &token("node2", "sa"), None), no_rel("node2"));
    assert_eq!(authorize(&g, &token("node1", "other"), None), no_rel("node1"));
    assert_eq!(
        authorize(&g, &get("node1", "serviceaccounts", "ns", "sa"), None),
        Decision::NoOpinion("can only create tokens for individual service accounts".into())
    );
    let wrong_sub = attrs("node1", "create", "", "serviceaccounts", "status", "ns", "sa");
    assert_eq!(
        authorize(&g, &wrong_sub, None),
        Decision::NoOpinion("can only create token subresource of serviceaccount".into())
    );
}

#[test]
fn removing_the_pod_removes_edges() {
    let mut g = Graph::new();
    let p1 = pod("ns", "p1", "node1", json!({"volumes": [{"name": "v", "secret": {"secretName": "shared"}}]}));
    let p2 = pod("ns", "p2", "node1", json!({"volumes": [{"name": "v", "secret": {"secretName": "shared"}}]}));
    g.apply(ObjectKind::Pod, false, &p1);
    g.apply(ObjectKind::Pod, false, &p2);
    g.apply(ObjectKind::Pod, true, &p1);
    // p2 still uses it.
    assert_eq!(authorize(&g, &get("node1", "secrets", "ns", "shared"), None), Decision::Allow);
    assert_eq!(authorize(&g, &get("node1", "pods", "ns", "p1"), None), no_rel("node1"));
    g.apply(ObjectKind::Pod, true, &p2);
    assert_eq!(authorize(&g, &get("node1", "secrets", "ns", "shared"), None), no_rel("node1"));
    assert_eq!(g.edge_count(), 0);
}

#[test]
fn mirror_pods_grant_nothing_and_unbound_pods_are_ignored() {
    let mut g = Graph::new();
    let mut m = pod("ns", "m", "node1", json!({"volumes": [{"name": "v", "secret": {"secretName": "s"}}]}));
    m["metadata"]["annotations"] = json!({MIRROR_POD_ANNOTATION: "x"});
    g.apply(ObjectKind::Pod, false, &m);
    assert_eq!(authorize(&g, &get("node1", "pods", "ns", "m"), None), Decision::Allow);
    assert_eq!(authorize(&g, &get("node1", "secrets", "ns", "s"), None), no_rel("node1"));
    let unbound = json!({"metadata": {"namespace": "ns", "name": "u"}, "spec": {"serviceAccountName": "sa"}});
    g.apply(ObjectKind::Pod, false, &unbound);
    assert_eq!(authorize(&g, &get("node1", "pods", "ns", "u"), None), no_rel("node1"));
}

#[test]
fn malformed_objects_do_not_panic() {
    let mut g = Graph::new();
    for v in [
        json!(null),
        json!(42),
        json!({"metadata": "x", "spec": []}),
        json!({"spec": {"nodeName": "n", "volumes": "oops", "containers": [{"env": 3}, 5]}}),
        json!({"spec": {"nodeName": 7, "claimRef": 1, "csi": "x"}}),
    ] {
        for kind in
            [ObjectKind::Pod, ObjectKind::PersistentVolume, ObjectKind::VolumeAttachment, ObjectKind::ResourceSlice]
        {
            g.apply(kind, false, &v);
            g.apply(kind, true, &v);
        }
        let req = AdmissionRequest {
            operation: Operation::Update,
            user: "system:node:n",
            groups: &node_groups(),
            resource: "nodes",
            name: "n",
            object: Some(&v),
            old_object: Some(&v),
            ..Default::default()
        };
        let _ = admit(&req);
    }
}

#[test]
fn pods_list_and_watch_need_node_selector() {
    let mut g = Graph::new();
    g.apply(ObjectKind::Pod, false, &pod("ns", "p", "node1", json!({})));
    let list = attrs("node1", "list", "", "pods", "", "", "");
    assert_eq!(authorize(&g, &list, Some("spec.nodeName=node1")), Decision::Allow);
    assert_eq!(authorize(&g, &list, Some("spec.nodeName==node1,status.phase!=Failed")), Decision::Allow);
    let want = Decision::NoOpinion("can only list/watch pods with spec.nodeName field selector".into());
    assert_eq!(authorize(&g, &list, Some("spec.nodeName=node2")), want);
    assert_eq!(authorize(&g, &list, Some("spec.nodeName!=node2")), want);
    assert_eq!(authorize(&g, &list, None), want);
    let watch = attrs("node1", "watch", "", "pods", "", "ns", "");
    assert_eq!(authorize(&g, &watch, Some("metadata.name=p")), Decision::Allow);
    assert_eq!(authorize(&g, &watch, Some("metadata.name=q")), no_rel("node1"));
    for (verb, sub) in [("create", ""), ("delete", ""), ("patch", "status"), ("create", "eviction")] {
        assert_eq!(authorize(&g, &attrs("node1", verb, "", "pods", sub, "ns", "x"), None), Decision::Allow);
    }
    assert_eq!(
        authorize(&g, &attrs("node1", "update", "", "pods", "", "ns", "p"), None),
        Decision::NoOpinion("".into())
    );
    assert_eq!(
        authorize(&g, &attrs("node1", "get", "", "pods", "log", "ns", "p"), None),
        Decision::NoOpinion("".into())
    );
}

#[test]
fn nodes_read_only_themselves() {
    let g = Graph::new();
    assert_eq!(authorize(&g, &get("node1", "nodes", "", "node1"), None), Decision::Allow);
    assert_eq!(
        authorize(&g, &get("node1", "nodes", "", "node2"), None),
        Decision::NoOpinion("node 'node1' cannot read 'node2', only its own Node object".into())
    );
    let watch = attrs("node1", "watch", "", "nodes", "", "", "");
    assert_eq!(authorize(&g, &watch, Some("metadata.name=node1")), Decision::Allow);
    assert_eq!(
        authorize(&g, &watch, None),
        Decision::NoOpinion("node 'node1' cannot read all nodes, only its own Node object".into())
    );
    for (verb, sub) in [("create", ""), ("patch", ""), ("update", "status")] {
        assert_eq!(authorize(&g, &attrs("node1", verb, "", "nodes", sub, "", "node2"), None), Decision::Allow);
    }
    assert_eq!(
        authorize(&g, &attrs("node1", "delete", "", "nodes", "", "", "node1"), None),
        Decision::NoOpinion("".into())
    );
}

#[test]
fn leases_csinodes_attachments_slices() {
    let mut g = Graph::new();
    let lease = |verb: &str, ns: &str, name: &str| attrs("node1", verb, "coordination.k8s.io", "leases", "", ns, name);
    assert_eq!(authorize(&g, &lease("update", "kube-node-lease", "node1"), None), Decision::Allow);
    assert_eq!(authorize(&g, &lease("create", "kube-node-lease", ""), None), Decision::Allow);
    assert_eq!(
        authorize(&g, &lease("update", "kube-node-lease", "node2"), None),
        Decision::NoOpinion("can only access node lease with the same name as the requesting node".into())
    );
    assert_eq!(
        authorize(&g, &lease("get", "default", "node1"), None),
        Decision::NoOpinion("can only access leases in the \"kube-node-lease\" system namespace".into())
    );
    assert_eq!(
        authorize(&g, &lease("list", "kube-node-lease", ""), None),
        Decision::NoOpinion("can only get, create, update, patch, or delete a node lease".into())
    );
    let csinode = |name: &str| attrs("node1", "update", "storage.k8s.io", "csinodes", "", "", name);
    assert_eq!(authorize(&g, &csinode("node1"), None), Decision::Allow);
    assert_eq!(
        authorize(&g, &csinode("node2"), None),
        Decision::NoOpinion("can only access CSINode with the same name as the requesting node".into())
    );
    g.apply(ObjectKind::VolumeAttachment, false, &json!({"metadata": {"name": "va"}, "spec": {"nodeName": "node1"}}));
    let va = attrs("node1", "get", "storage.k8s.io", "volumeattachments", "", "", "va");
    assert_eq!(authorize(&g, &va, None), Decision::Allow);
    g.apply(ObjectKind::VolumeAttachment, false, &json!({"metadata": {"name": "va"}, "spec": {"nodeName": "node2"}}));
    assert_eq!(authorize(&g, &va, None), no_rel("node1"));
    g.apply(ObjectKind::ResourceSlice, false, &json!({"metadata": {"name": "rs"}, "spec": {"nodeName": "node1"}}));
    let rs = |verb: &str, name: &str| attrs("node1", verb, "resource.k8s.io", "resourceslices", "", "", name);
    assert_eq!(authorize(&g, &rs("delete", "rs"), None), Decision::Allow);
    assert_eq!(authorize(&g, &rs("list", ""), Some("nodeName=node1")), Decision::Allow);
    assert_eq!(
        authorize(&g, &rs("list", ""), None),
        Decision::NoOpinion("can only list/watch/deletecollection resourceslices with nodeName field selector".into())
    );
}

#[test]
fn static_rules_and_non_nodes() {
    let g = Graph::new();
    // Not subdivided: the system:node rules decide.
    assert_eq!(authorize(&g, &attrs("node1", "list", "", "services", "", "", ""), None), Decision::Allow);
    assert_eq!(authorize(&g, &attrs("node1", "create", "", "events", "", "ns", ""), None), Decision::Allow);
    assert_eq!(
        authorize(&g, &attrs("node1", "list", "apps", "deployments", "", "", ""), None),
        Decision::NoOpinion("".into())
    );
    // Everyone else: no opinion, so RBAC can decide.
    let mut a = get("node1", "secrets", "ns", "s");
    a.user = "alice".into();
    assert_eq!(authorize(&g, &a, None), Decision::NoOpinion("".into()));
    a.user = "system:node:".into();
    assert_eq!(authorize(&g, &a, None), Decision::NoOpinion("unknown node for user \"system:node:\"".into()));
    let r = rules_for("system:node:n1", &node_groups());
    assert!(r.incomplete && r.error.is_some() && r.resource_rules.is_empty());
    assert_eq!(rules_for("alice", &[]), RulesFor::default());
}

#[test]
fn field_selector_parsing() {
    assert_eq!(
        parse_field_selector(r"b!=x\,y,a==1"),
        vec![
            FieldRequirement { field: "a".into(), equals: true, value: "1".into() },
            FieldRequirement { field: "b".into(), equals: false, value: "x,y".into() },
        ]
    );
    assert!(parse_field_selector("novalue").is_empty());
    assert!(parse_field_selector(r"a=b\").is_empty());
    assert!(parse_field_selector("a=b=c").is_empty());
    assert!(parse_field_selector("").is_empty());
}

// ---- NodeRestriction ----

struct Req {
    op: Operation,
    resource: &'static str,
    group: &'static str,
    sub: &'static str,
    ns: &'static str,
    name: &'static str,
    obj: Option<Value>,
    old: Option<Value>,
    pod: Option<Value>,
    node: Option<Value>,
    groups: Vec<String>,
    user: String,
}

fn req(node: &str, op: Operation, resource: &'static str, name: &'static str) -> Req {
    Req {
        op,
        resource,
        group: "",
        sub: "",
        ns: "",
        name,
        obj: None,
        old: None,
        pod: None,
        node: None,
        groups: node_groups(),
        user: format!("system:node:{node}"),
    }
}

impl Req {
    fn as_request(&self) -> AdmissionRequest<'_> {
        AdmissionRequest {
            operation: self.op,
            user: &self.user,
            groups: &self.groups,
            group: self.group,
            resource: self.resource,
            subresource: self.sub,
            namespace: self.ns,
            name: self.name,
            object: self.obj.as_ref(),
            old_object: self.old.as_ref(),
            pod: self.pod.as_ref(),
            node: self.node.as_ref(),
        }
    }
    fn run(&self) -> Result<(), Rejection> {
        admit(&self.as_request())
    }
    fn forbidden(&self) -> String {
        match self.run() {
            Err(Rejection::Forbidden(m)) => m,
            other => panic!("expected forbidden, got {other:?}"),
        }
    }
}

fn node_obj(name: &str, labels: Value, taints: Value) -> Value {
    json!({"metadata": {"name": name, "uid": "node-uid", "labels": labels}, "spec": {"taints": taints}})
}

#[test]
fn node_cannot_modify_other_nodes() {
    let mut r = req("node1", Operation::Update, "nodes", "node2");
    r.sub = "status";
    r.obj = Some(node_obj("node2", json!({}), json!([])));
    r.old = r.obj.clone();
    let err = r.run().unwrap_err();
    assert_eq!(err, Rejection::Forbidden("node \"node1\" is not allowed to modify node \"node2\"".into()));
    assert_eq!(
        err.message(&r.as_request()),
        "nodes \"node2\" is forbidden: node \"node1\" is not allowed to modify node \"node2\""
    );
    assert_eq!(err.code(), 403);
    // Its own status is fine.
    let mut own = req("node1", Operation::Update, "nodes", "node1");
    own.sub = "status";
    own.obj = Some(node_obj("node1", json!({"a": "b"}), json!([])));
    own.old = own.obj.clone();
    assert_eq!(own.run(), Ok(()));
    // Non-nodes are not restricted.
    r.user = "alice".into();
    assert_eq!(r.run(), Ok(()));
    r.user = "system:node:".into();
    assert_eq!(r.forbidden(), "could not determine node from user \"system:node:\"");
}

#[test]
fn node_label_restrictions() {
    let mut create = req("node1", Operation::Create, "nodes", "");
    create.obj = Some(node_obj(
        "node1",
        json!({
            "kubernetes.io/hostname": "node1", "node.kubernetes.io/instance-type": "big",
            "foo.kubelet.kubernetes.io/x": "y", "example.com/free": "z",
            "topology.kubernetes.io/zone": "a"
        }),
        json!([]),
    ));
    assert_eq!(create.run(), Ok(()));
    create.obj = Some(node_obj(
        "node1",
        json!({"node-restriction.kubernetes.io/pool": "x", "node-role.kubernetes.io/master": "", "foo.k8s.io/x": "1"}),
        json!([]),
    ));
    assert_eq!(
        create.forbidden(),
        "node \"node1\" is not allowed to set the following labels: foo.k8s.io/x, node-restriction.kubernetes.io/pool, node-role.kubernetes.io/master"
    );
    assert_eq!(
        create.run().unwrap_err().message(&create.as_request()),
        format!("nodes \"node1\" is forbidden: {}", create.forbidden())
    );

    let mut update = req("node1", Operation::Update, "nodes", "node1");
    update.old = Some(node_obj("node1", json!({"a.node-restriction.kubernetes.io/x": "1", "keep": "1"}), json!([])));
    // Unchanged restricted labels are fine; changing free ones is fine.
    update.obj = Some(node_obj("node1", json!({"a.node-restriction.kubernetes.io/x": "1", "keep": "2"}), json!(null)));
    assert_eq!(update.run(), Ok(()));
    // Removing one is a modification.
    update.obj = Some(node_obj("node1", json!({"keep": "1"}), json!([])));
    assert_eq!(update.forbidden(), "is not allowed to modify labels: a.node-restriction.kubernetes.io/x");
    // Taints.
    update.obj = Some(node_obj(
        "node1",
        json!({"a.node-restriction.kubernetes.io/x": "1", "keep": "1"}),
        json!([{"key": "k", "effect": "NoSchedule"}]),
    ));
    assert_eq!(update.forbidden(), "node \"node1\" is not allowed to modify taints");
    // configSource.
    let mut with_source = node_obj("node1", json!({}), json!([]));
    with_source["spec"]["configSource"] = json!({"configMap": {"name": "c"}});
    create.obj = Some(with_source);
    assert_eq!(create.forbidden(), "node \"node1\" is not allowed to create pods with a non-nil configSource");
}

fn mirror_pod(node: &str) -> Value {
    json!({
        "metadata": {"name": "static-node1", "namespace": "kube-system",
            "annotations": {MIRROR_POD_ANNOTATION: "hash"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": "node-uid", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}
    })
}

#[test]
fn mirror_pod_creation() {
    let mut r = req("node1", Operation::Create, "pods", "static-node1");
    r.ns = "kube-system";
    r.obj = Some(mirror_pod("node1"));
    assert_eq!(lookups(&r.as_request()), Lookups { pod: None, node: Some("node1".into()) });
    // The node's UID must be checked, so a missing node is a 404.
    assert_eq!(r.run(), Err(Rejection::NotFound { kind: "node", name: "node1".into() }));
    r.node = Some(node_obj("node1", json!({}), json!([])));
    assert_eq!(r.run(), Ok(()));

    type Mutate = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutate, &str)> = vec![
        (
            Box::new(|p| p["metadata"]["annotations"] = json!({})),
            "pod does not have \"kubernetes.io/config.mirror\" annotation, node \"node1\" can only create mirror pods",
        ),
        (
            Box::new(|p| p["spec"]["nodeName"] = json!("node2")),
            "node \"node1\" can only create pods with spec.nodeName set to itself",
        ),
        (
            Box::new(|p| p["metadata"]["ownerReferences"] = json!([])),
            "node \"node1\" can only create pods with an owner reference set to itself",
        ),
        (
            Box::new(|p| p["metadata"]["ownerReferences"][0]["name"] = json!("node2")),
            "node \"node1\" can only create pods with an owner reference set to itself",
        ),
        (
            Box::new(|p| p["metadata"]["ownerReferences"][0]["controller"] = json!(false)),
            "node \"node1\" can only create pods with a controller owner reference set to itself",
        ),
        (
            Box::new(|p| p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = json!(true)),
            "node \"node1\" must not set blockOwnerDeletion on an owner reference",
        ),
        (
            Box::new(|p| p["metadata"]["ownerReferences"][0]["uid"] = json!("stale")),
            "node node1 UID mismatch: expected stale got node-uid",
        ),
        (
            Box::new(|p| p["spec"]["serviceAccountName"] = json!("default")),
            "node \"node1\" can not create pods that reference a service account",
        ),
        (
            Box::new(|p| p["spec"]["containers"][0]["envFrom"] = json!([{"secretRef": {"name": "s"}}])),
            "node \"node1\" can not create pods that reference secrets",
        ),
        (
            Box::new(|p| p["spec"]["volumes"] = json!([{"name": "v", "configMap": {"name": "c"}}])),
            "node \"node1\" can not create pods that reference configmaps",
        ),
        (
            Box::new(|p| {
                p["spec"]["volumes"] = json!([{"name": "v", "projected": {"sources": [{"clusterTrustBundle": {"name": "b", "path": "p"}}]}}])
            }),
            "node \"node1\" can not create pods that reference clustertrustbundles",
        ),
        (
            Box::new(|p| p["spec"]["volumes"] = json!([{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}])),
            "node \"node1\" can not create pods that reference persistentvolumeclaims",
        ),
    ];
    for (mutate, want) in cases {
        let mut p = mirror_pod("node1");
        mutate(&mut p);
        r.obj = Some(p);
        assert_eq!(r.forbidden(), want);
    }
    let mut two = mirror_pod("node1");
    two["metadata"]["ownerReferences"] = json!([{}, {}]);
    r.obj = Some(two);
    assert_eq!(r.forbidden(), "node \"node1\" can only create pods with a single owner reference set to itself");

    let mut upd = req("node1", Operation::Update, "pods", "p");
    upd.obj = Some(mirror_pod("node1"));
    assert_eq!(
        upd.forbidden(),
        "unexpected operation \"UPDATE\", node \"node1\" can only create and delete mirror pods"
    );
}

#[test]
fn pod_delete_status_and_eviction() {
    let bound = |node: &str| json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"a": "1"}}, "spec": {"nodeName": node}});
    let mut del = req("node1", Operation::Delete, "pods", "p");
    del.ns = "ns";
    assert_eq!(lookups(&del.as_request()).pod, Some(("ns".into(), "p".into())));
    assert_eq!(del.run(), Err(Rejection::NotFound { kind: "pod", name: "p".into() }));
    assert_eq!(del.run().unwrap_err().to_string(), "pod \"p\" not found");
    del.pod = Some(bound("node2"));
    assert_eq!(del.forbidden(), "node \"node1\" can only delete pods with spec.nodeName set to itself");
    del.pod = Some(bound("node1"));
    assert_eq!(del.run(), Ok(()));

    let mut st = req("node1", Operation::Update, "pods", "p");
    st.sub = "status";
    st.old = Some(bound("node2"));
    st.obj = Some(bound("node2"));
    assert_eq!(st.forbidden(), "node \"node1\" can only update pod status for pods with spec.nodeName set to itself");
    st.old = Some(bound("node1"));
    let mut relabeled = bound("node1");
    relabeled["metadata"]["labels"] = json!({"a": "2"});
    st.obj = Some(relabeled);
    assert_eq!(st.forbidden(), "node \"node1\" cannot update labels through pod status");
    let mut claims = bound("node1");
    claims["status"] = json!({"resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "x"}]});
    st.obj = Some(claims);
    assert_eq!(st.forbidden(), "node \"node1\" cannot update resource claim statues");
    let mut phase = bound("node1");
    phase["status"] = json!({"phase": "Running"});
    st.obj = Some(phase);
    assert_eq!(st.run(), Ok(()));

    let mut ev = req("node1", Operation::Create, "pods", "p");
    ev.ns = "ns";
    ev.sub = "eviction";
    ev.obj = Some(json!({"metadata": {"name": "p"}}));
    assert_eq!(lookups(&ev.as_request()).pod, Some(("ns".into(), "p".into())));
    ev.pod = Some(bound("node2"));
    assert_eq!(ev.forbidden(), "node node1 can only evict pods with spec.nodeName set to itself");
    ev.pod = Some(bound("node1"));
    assert_eq!(ev.run(), Ok(()));

    let mut exec = req("node1", Operation::Create, "pods", "p");
    exec.sub = "binding";
    assert_eq!(exec.forbidden(), "unexpected pod subresource \"binding\", only 'status' and 'eviction' are allowed");
    exec.op = Operation::Connect;
    exec.sub = "exec";
    assert_eq!(exec.run(), Ok(()));
}

#[test]
fn token_requests_bound_to_own_pods() {
    let tr =
        |uid: &str| json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": uid}}});
    let mut r = req("node1", Operation::Create, "serviceaccounts", "sa");
    r.ns = "ns";
    r.sub = "token";
    r.obj = Some(json!({"spec": {}}));
    assert_eq!(r.forbidden(), "node requested token not bound to a pod");
    r.obj = Some(tr(""));
    assert_eq!(r.forbidden(), "node requested token with a pod binding without a uid");
    r.obj = Some(tr("u1"));
    assert_eq!(lookups(&r.as_request()).pod, Some(("ns".into(), "p".into())));
    assert_eq!(r.run(), Err(Rejection::NotFound { kind: "pod", name: "p".into() }));
    r.pod = Some(json!({"metadata": {"uid": "u2"}, "spec": {"nodeName": "node1"}}));
    assert_eq!(
        r.forbidden(),
        "the UID in the bound object reference (u1) does not match the UID in record. The object might have been deleted and then recreated"
    );
    r.pod = Some(json!({"metadata": {"uid": "u1"}, "spec": {"nodeName": "node2"}}));
    assert_eq!(r.forbidden(), "node requested token bound to a pod scheduled on a different node");
    r.pod = Some(json!({"metadata": {"uid": "u1"}, "spec": {"nodeName": "node1"}}));
    assert_eq!(r.run(), Ok(()));
}

#[test]
fn leases_csinodes_slices_pvcs() {
    let mut lease = req("node1", Operation::Create, "leases", "");
    lease.group = "coordination.k8s.io";
    lease.ns = "kube-node-lease";
    lease.obj = Some(json!({"metadata": {"name": "node2"}}));
    assert_eq!(lease.forbidden(), "can only access node lease with the same name as the requesting node");
    assert_eq!(
        lease.run().unwrap_err().message(&lease.as_request()),
        "leases.coordination.k8s.io \"node2\" is forbidden: can only access node lease with the same name as the requesting node"
    );
    lease.obj = Some(json!({"metadata": {"name": "node1"}}));
    assert_eq!(lease.run(), Ok(()));
    lease.ns = "default";
    assert_eq!(lease.forbidden(), "can only access leases in the \"kube-node-lease\" system namespace");

    let mut csinode = req("node1", Operation::Update, "csinodes", "node2");
    csinode.group = "storage.k8s.io";
    assert_eq!(csinode.forbidden(), "can only access CSINode with the same name as the requesting node");

    let mut slice = req("node1", Operation::Delete, "resourceslices", "s");
    slice.group = "resource.k8s.io";
    slice.old = Some(json!({"spec": {"nodeName": "node2"}}));
    assert_eq!(slice.forbidden(), "can only delete ResourceSlice with the same NodeName as the requesting node");

    let mut pvc = req("node1", Operation::Update, "persistentvolumeclaims", "c");
    assert_eq!(pvc.forbidden(), "may only update PVC status");
    pvc.sub = "status";
    let old = json!({"metadata": {"name": "c", "resourceVersion": "1"}, "spec": {"volumeName": "pv"}, "status": {"capacity": {"storage": "1Gi"}}});
    let mut new = old.clone();
    new["metadata"]["resourceVersion"] = json!("2");
    new["status"]["capacity"]["storage"] = json!("2Gi");
    new["status"]["conditions"] = json!([{"type": "Resizing", "status": "True"}]);
    pvc.old = Some(old);
    pvc.obj = Some(new.clone());
    assert_eq!(pvc.run(), Ok(()));
    new["metadata"]["labels"] = json!({"x": "y"});
    pvc.obj = Some(new);
    assert!(pvc.forbidden().starts_with(
        "node \"node1\" is not allowed to update fields other than status.quantity and status.conditions: "
    ));
}

/// A DER-encoded PKCS#10 request with only a subject (enough for the CN check).
fn fake_csr_pem(cn: &str) -> String {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, u8::try_from(body.len()).expect("short")];
        v.extend_from_slice(body);
        v
    }
    let atv = [tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())].concat();
    let name = tlv(0x30, &tlv(0x31, &tlv(0x30, &atv)));
    let info = tlv(0x30, &[tlv(0x02, &[0]), name].concat());
    let der = tlv(0x30, &info);
    format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n", b64(&der))
}

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn kubelet_csrs_only_for_self() {
    let mut r = req("node1", Operation::Create, "certificatesigningrequests", "");
    r.group = "certificates.k8s.io";
    let csr = |signer: &str, cn: &str| json!({"metadata": {"name": "csr-1"}, "spec": {"signerName": signer, "request": b64(fake_csr_pem(cn).as_bytes())}});
    r.obj = Some(csr("kubernetes.io/kube-apiserver-client-kubelet", "system:node:node1"));
    assert_eq!(r.run(), Ok(()));
    r.obj = Some(csr("kubernetes.io/kubelet-serving", "system:node:node2"));
    assert_eq!(r.forbidden(), "can only create a node CSR with CN=system:node:node1");
    r.obj = Some(csr("example.com/other", "anything"));
    assert_eq!(r.run(), Ok(()));
    r.obj = Some(json!({"spec": {"signerName": "kubernetes.io/kubelet-serving", "request": b64(b"junk")}}));
    assert_eq!(r.forbidden(), "unable to parse csr: PEM block type must be CERTIFICATE REQUEST");
}
