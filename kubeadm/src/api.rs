//! kubeadm's API calls: a client from a kubeconfig (kube-rs, through component-base), the
//! create-or-update upstream's `apiclient` does, and the phases that write objects:
//! `bootstrap-token` (token Secrets, their RBAC, `kube-public/cluster-info`) and the `token`
//! commands.

use crate::token::{self, Token};
use crate::Error;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

/// How long one API call is retried (`timeouts.kubernetesAPICall`), and how often.
pub const API_CALL_TIMEOUT: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_millis(500);

fn api_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(e.to_string())
}

/// A client authenticated by the kubeconfig at `path`.
pub async fn client(path: &Path) -> Result<Client, Error> {
    let flags = component_base::flags::ClientFlags { kubeconfig: Some(path.to_path_buf()), ..Default::default() };
    let cfg = component_base::client::config(&flags).await.map_err(api_err)?;
    component_base::client::build(cfg, &component_base::client::user_agent("kubeadm", None), 50.0, 100).map_err(api_err)
}

/// The client of `admin.conf` (at `kubeconfig`), once its group `kubeadm:cluster-admins` is
/// bound to `cluster-admin`: upstream's `EnsureAdminClusterRoleBinding`. The admin creates the
/// binding itself when it already may; while it is forbidden to, `super-admin.conf` (in
/// `kubeconfig_dir`, `system:masters`) does.
pub async fn admin_client(kubeconfig: &Path, kubeconfig_dir: &Path) -> Result<Client, Error> {
    let admin = client(kubeconfig).await?;
    let crb = cluster_binding("kubeadm:cluster-admins", "cluster-admin", vec![group("kubeadm:cluster-admins")]);
    let deadline = tokio::time::Instant::now() + API_CALL_TIMEOUT;
    let forbidden = loop {
        match Api::<ClusterRoleBinding>::all(admin.clone()).create(&PostParams::default(), &crb).await {
            Ok(_) => return Ok(admin),
            Err(e) if is_code(&e, 409) => return Ok(admin),
            Err(e) if is_code(&e, 403) => break e,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::Invalid(format!(
                    "unable to create the ClusterRoleBinding \"kubeadm:cluster-admins\": {}",
                    component_base::client::api_message(&e)
                )))
            }
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    };
    let super_admin = kubeconfig_dir.join("super-admin.conf");
    if !super_admin.exists() {
        return Err(Error::Invalid(format!(
            "the ClusterRoleBinding \"kubeadm:cluster-admins\" is missing and {} cannot create it: {}",
            kubeconfig.display(),
            component_base::client::api_message(&forbidden)
        )));
    }
    let sup = client(&super_admin).await?;
    create_or_update(&Api::<ClusterRoleBinding>::all(sup), &crb).await?;
    Ok(admin)
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Creates `obj`, or updates it when it exists, retrying for up to a minute.
pub async fn create_or_update<K>(api: &Api<K>, obj: &K) -> Result<(), Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + API_CALL_TIMEOUT;
    loop {
        let res = match api.create(&PostParams::default(), obj).await {
            Err(e) if is_code(&e, 409) => api.replace(&name, &PostParams::default(), obj).await.map(|_| ()),
            other => other.map(|_| ()),
        };
        match res {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline || is_code(&e, 403) || is_code(&e, 422) => {
                return Err(Error::Invalid(format!(
                    "unable to create or update {} {name:?}: {}",
                    K::kind(&()),
                    component_base::client::api_message(&e)
                )))
            }
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

pub(crate) fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: namespace.map(str::to_string), ..Default::default() }
}

pub(crate) fn service_account(name: &str, namespace: &str) -> k8s_openapi::api::core::v1::ServiceAccount {
    k8s_openapi::api::core::v1::ServiceAccount { metadata: meta(name, Some(namespace)), ..Default::default() }
}

pub(crate) fn group(name: &str) -> Subject {
    Subject {
        kind: "Group".into(),
        name: name.into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        ..Default::default()
    }
}

pub(crate) fn cluster_binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    }
}

/// The token's Secret.
pub fn token_secret(t: &Token) -> Result<Secret, Error> {
    let (name, data) = t.secret_data()?;
    Ok(Secret {
        metadata: meta(&name, Some("kube-system")),
        type_: Some(token::SECRET_TYPE.into()),
        data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v.into_bytes()))).collect()),
        ..Default::default()
    })
}

/// Writes the tokens, creating or updating each (`kubeadm init`), or failing when one exists
/// (`kubeadm token create`).
pub async fn write_tokens(client: &Client, tokens: &[Token], fail_if_exists: bool) -> Result<(), Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    for t in tokens {
        let secret = token_secret(t)?;
        if fail_if_exists {
            let (id, _) = token::parse(&t.token)?;
            match api.create(&PostParams::default(), &secret).await {
                Ok(_) => {}
                Err(e) if is_code(&e, 409) => {
                    return Err(Error::Invalid(format!("a token with id {id:?} already exists")))
                }
                Err(e) => return Err(Error::Invalid(component_base::client::api_message(&e))),
            }
        } else {
            create_or_update(&api, &secret).await.map_err(|_| {
                Error::Invalid(format!(
                    "failed to create or update bootstrap token with name {}",
                    secret.metadata.name.clone().unwrap_or_default()
                ))
            })?;
        }
    }
    Ok(())
}

/// The `bootstrap-token` phase: the tokens, the RBAC that lets them join nodes, and the
/// `cluster-info` ConfigMap anyone may read (its kubeconfig holds the CA and the endpoint).
pub async fn bootstrap_token_phase(
    client: &Client,
    tokens: &[Token],
    cluster_info_server: &str,
    ca_pem: &str,
) -> Result<(), Error> {
    println!("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles");
    write_tokens(client, tokens, false).await?;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    println!("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes");
    let get_nodes = ClusterRole {
        metadata: meta("kubeadm:get-nodes", None),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["nodes".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        }]),
        ..Default::default()
    };
    create_or_update(&roles, &get_nodes).await?;
    create_or_update(
        &bindings,
        &cluster_binding("kubeadm:get-nodes", "kubeadm:get-nodes", vec![group(token::DEFAULT_GROUP)]),
    )
    .await?;
    println!("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials");
    create_or_update(
        &bindings,
        &cluster_binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", vec![group(token::DEFAULT_GROUP)]),
    )
    .await?;
    println!("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token");
    create_or_update(
        &bindings,
        &cluster_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![group(token::DEFAULT_GROUP)],
        ),
    )
    .await?;
    println!("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster");
    create_or_update(
        &bindings,
        &cluster_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![group("system:nodes")],
        ),
    )
    .await?;
    println!("[bootstrap-token] Creating the \"cluster-info\" ConfigMap in the \"kube-public\" namespace");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    let cm = ConfigMap {
        metadata: meta("cluster-info", Some("kube-public")),
        data: Some(BTreeMap::from([("kubeconfig".to_string(), cluster_info_kubeconfig(cluster_info_server, ca_pem))])),
        ..Default::default()
    };
    // Only when missing: the bootstrap signer adds its signatures to the existing one.
    match cms.create(&PostParams::default(), &cm).await {
        Ok(_) => {}
        Err(e) if is_code(&e, 409) => {}
        Err(e) => return Err(Error::Invalid(component_base::client::api_message(&e))),
    }
    let roles: Api<Role> = Api::namespaced(client.clone(), "kube-public");
    let role = Role {
        metadata: meta("kubeadm:bootstrap-signer-clusterinfo", Some("kube-public")),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            resource_names: Some(vec!["cluster-info".into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        }]),
    };
    create_or_update(&roles, &role).await?;
    let rbs: Api<RoleBinding> = Api::namespaced(client.clone(), "kube-public");
    let rb = RoleBinding {
        metadata: meta("kubeadm:bootstrap-signer-clusterinfo", Some("kube-public")),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "kubeadm:bootstrap-signer-clusterinfo".into(),
        },
        subjects: Some(vec![Subject {
            kind: "User".into(),
            name: "system:anonymous".into(),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    create_or_update(&rbs, &rb).await
}

/// The `kubeconfig` of `cluster-info`: one unnamed cluster, as upstream's `clientcmd.Write`.
pub fn cluster_info_kubeconfig(server: &str, ca_pem: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n"
    )
}

/// The tokens in the cluster, as `kubeadm token list` reads them.
pub async fn list_tokens(client: &Client) -> Result<Vec<Token>, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let lp = ListParams::default().fields(&format!("type={}", token::SECRET_TYPE));
    let list = api.list(&lp).await.map_err(|e| Error::Invalid(component_base::client::api_message(&e)))?;
    let mut out = Vec::new();
    for s in list.items {
        let name = s.metadata.name.clone().unwrap_or_default();
        let data: BTreeMap<String, String> = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        match Token::from_secret(&name, &data) {
            Ok(t) => out.push(t),
            Err(e) => eprint!("{e}"),
        }
    }
    Ok(out)
}

/// Deletes the token `id` (`kubeadm token delete`).
pub async fn delete_token(client: &Client, id: &str) -> Result<(), Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    api.delete(&format!("bootstrap-token-{id}"), &DeleteParams::default())
        .await
        .map(|_| ())
        .map_err(|_| Error::Invalid(format!("failed to delete bootstrap token {id:?}")))
}

pub(crate) fn role_get(name: &str, namespace: &str, configmap: &str) -> Role {
    Role {
        metadata: meta(name, Some(namespace)),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["configmaps".into()]),
            resource_names: Some(vec![configmap.into()]),
            verbs: vec!["get".into()],
            ..Default::default()
        }]),
    }
}

pub(crate) fn role_binding(name: &str, namespace: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: meta(name, Some(namespace)),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: name.into() },
        subjects: Some(subjects),
    }
}

/// `sha256:<hex>` over a ConfigMap's data (sorted keys), upstream's component-config hash.
pub fn config_hash(data: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in data {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    format!("sha256:{}", h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The `upload-config` phase: `kubeadm-config` (the ClusterConfiguration) and `kubelet-config`
/// (the KubeletConfiguration every node's kubelet starts from), each with the Role and
/// RoleBinding that let joining nodes read it.
pub async fn upload_config(
    client: &Client,
    cluster_yaml: &str,
    kubelet_yaml: &str,
    user_kubelet: bool,
    which: &str,
) -> Result<(), Error> {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let roles: Api<Role> = Api::namespaced(client.clone(), "kube-system");
    let rbs: Api<RoleBinding> = Api::namespaced(client.clone(), "kube-system");
    if which != "kubelet" {
        upload_kubeadm_config(&cms, &roles, &rbs, cluster_yaml).await?;
    }
    if which == "kubeadm" {
        return Ok(());
    }
    upload_kubelet_config(&cms, &roles, &rbs, kubelet_yaml, user_kubelet).await
}

async fn upload_kubeadm_config(
    cms: &Api<ConfigMap>,
    roles: &Api<Role>,
    rbs: &Api<RoleBinding>,
    cluster_yaml: &str,
) -> Result<(), Error> {
    println!("[upload-config] Storing the configuration used in ConfigMap \"kubeadm-config\" in the \"kube-system\" Namespace");
    let cm = ConfigMap {
        metadata: meta("kubeadm-config", Some("kube-system")),
        data: Some(BTreeMap::from([("ClusterConfiguration".to_string(), cluster_yaml.to_string())])),
        ..Default::default()
    };
    create_or_update(cms, &cm).await?;
    create_or_update(roles, &role_get("kubeadm:nodes-kubeadm-config", "kube-system", "kubeadm-config")).await?;
    create_or_update(
        rbs,
        &role_binding(
            "kubeadm:nodes-kubeadm-config",
            "kube-system",
            vec![group(token::DEFAULT_GROUP), group("system:nodes")],
        ),
    )
    .await
}

async fn upload_kubelet_config(
    cms: &Api<ConfigMap>,
    roles: &Api<Role>,
    rbs: &Api<RoleBinding>,
    kubelet_yaml: &str,
    user_kubelet: bool,
) -> Result<(), Error> {
    println!("[kubelet] Creating a ConfigMap \"kubelet-config\" in namespace kube-system with the configuration for the kubelets in the cluster");
    let data = BTreeMap::from([("kubelet".to_string(), kubelet_yaml.to_string())]);
    let mut m = meta("kubelet-config", Some("kube-system"));
    if !user_kubelet {
        m.annotations =
            Some(BTreeMap::from([("kubeadm.kubernetes.io/component-config.hash".to_string(), config_hash(&data))]));
    }
    create_or_update(cms, &ConfigMap { metadata: m, data: Some(data), ..Default::default() }).await?;
    create_or_update(roles, &role_get("kubeadm:kubelet-config", "kube-system", "kubelet-config")).await?;
    create_or_update(
        rbs,
        &role_binding(
            "kubeadm:kubelet-config",
            "kube-system",
            vec![group("system:nodes"), group(token::DEFAULT_GROUP)],
        ),
    )
    .await
}

/// The `mark-control-plane` phase: once the node has registered, its control-plane labels and
/// taints (by default `node-role.kubernetes.io/control-plane:NoSchedule`).
pub async fn mark_control_plane(client: &Client, node: &str, taints: &[crate::config::Taint]) -> Result<(), Error> {
    use k8s_openapi::api::core::v1::{Node, Taint};
    let labels = ["node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"];
    println!(
        "[mark-control-plane] Marking the node {node} as control-plane by adding the labels: [{}]",
        labels.join(" ")
    );
    if !taints.is_empty() {
        let shown: Vec<String> = taints.iter().map(ToString::to_string).collect();
        println!(
            "[mark-control-plane] Marking the node {node} as control-plane by adding the taints [{}]",
            shown.join(" ")
        );
    }
    let api: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + API_CALL_TIMEOUT;
    loop {
        let res = async {
            let mut n = api.get(node).await?;
            let l = n.metadata.labels.get_or_insert_with(BTreeMap::new);
            for k in labels {
                l.insert(k.to_string(), String::new());
            }
            let spec = n.spec.get_or_insert_with(Default::default);
            let mut all: Vec<Taint> = taints
                .iter()
                .map(|t| Taint {
                    key: t.key.clone(),
                    value: (!t.value.is_empty()).then(|| t.value.clone()),
                    effect: t.effect.clone(),
                    ..Default::default()
                })
                .collect();
            for t in spec.taints.take().unwrap_or_default() {
                if !all.iter().any(|a| a.key == t.key && a.effect == t.effect) {
                    all.push(t);
                }
            }
            spec.taints = (!all.is_empty()).then_some(all);
            api.replace(node, &PostParams::default(), &n).await
        }
        .await;
        match res {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::Invalid(format!(
                    "error patching node {node:?} through apiserver: {}",
                    component_base::client::api_message(&e)
                )))
            }
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}
