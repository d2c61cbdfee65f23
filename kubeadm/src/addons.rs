//! The `addon kube-proxy` phase (upstream's `phases/addons/proxy`): the `kube-proxy` ConfigMap
//! (its KubeProxyConfiguration and an in-cluster kubeconfig), the DaemonSet running
//! `/usr/local/bin/kube-proxy --config=...` on every node, its ServiceAccount and RBAC.

use crate::api::{cluster_binding, config_hash, create_or_update, meta, role_binding, role_get, service_account};
use crate::{token, Error, Resolved};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::{Api, Client};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Where the ConfigMap is mounted in kube-proxy's pod.
const MOUNT: &str = "/var/lib/kube-proxy";

/// The KubeProxyConfiguration kubeadm writes: every v1alpha1 field at its zero value, as
/// upstream marshals it, with kubeadm's defaults (bind address, kubeconfig, cluster CIDR) and
/// the user's `--config` document over them.
pub fn config(r: &Resolved) -> Result<Value, Error> {
    let v6 = r.advertise()?.is_ipv6();
    let mut cfg = json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": if v6 { "::" } else { "0.0.0.0" },
        "bindAddressHardFail": false,
        "clientConnection": {
            "acceptContentTypes": "", "burst": 0, "contentType": "",
            "kubeconfig": format!("{MOUNT}/kubeconfig.conf"), "qps": 0,
        },
        "clusterCIDR": r.cluster.networking.pod_subnet,
        "configSyncPeriod": "0s",
        "conntrack": {
            "maxPerCore": null, "min": null, "tcpBeLiberal": false, "tcpCloseWaitTimeout": null,
            "tcpEstablishedTimeout": null, "udpStreamTimeout": "0s", "udpTimeout": "0s",
        },
        "detectLocal": {"bridgeInterface": "", "interfaceNamePrefix": ""},
        "detectLocalMode": "",
        "enableProfiling": false,
        "healthzBindAddress": "",
        "hostnameOverride": "",
        "iptables": {
            "localhostNodePorts": null, "masqueradeAll": false, "masqueradeBit": null,
            "minSyncPeriod": "0s", "syncPeriod": "0s",
        },
        "ipvs": {
            "excludeCIDRs": null, "minSyncPeriod": "0s", "scheduler": "", "strictARP": false,
            "syncPeriod": "0s", "tcpFinTimeout": "0s", "tcpTimeout": "0s", "udpTimeout": "0s",
        },
        "logging": {
            "flushFrequency": 0,
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0,
        },
        "metricsBindAddress": "",
        "mode": "",
        "nftables": {"masqueradeAll": false, "masqueradeBit": null, "minSyncPeriod": "0s", "syncPeriod": "0s"},
        "nodePortAddresses": null,
        "oomScoreAdj": null,
        "portRange": "",
        "showHiddenMetricsForVersion": "",
        "winkernel": {
            "enableDSR": false, "forwardHealthCheckVip": false, "networkName": "",
            "rootHnsEndpointName": "", "sourceVip": "",
        },
    });
    if let Some(user) = &r.kube_proxy {
        crate::kubelet::merge(&mut cfg, user);
    }
    Ok(cfg)
}

/// kube-proxy's kubeconfig in its pod: the control plane, trusted through the service account's
/// CA, authenticated by its token.
fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: {server}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"
    )
}

pub fn config_map(r: &Resolved) -> Result<ConfigMap, Error> {
    let text = serde_saphyr::to_string(&config(r)?).map_err(|e| Error::Invalid(e.to_string()))?;
    let data = BTreeMap::from([
        ("config.conf".to_string(), text.trim_end().to_string()),
        ("kubeconfig.conf".to_string(), kubeconfig(&r.control_plane_url()?)),
    ]);
    let mut m = meta("kube-proxy", Some("kube-system"));
    m.labels = Some(BTreeMap::from([("app".to_string(), "kube-proxy".to_string())]));
    if r.kube_proxy.is_none() {
        m.annotations =
            Some(BTreeMap::from([("kubeadm.kubernetes.io/component-config.hash".to_string(), config_hash(&data))]));
    }
    Ok(ConfigMap { metadata: m, data: Some(data), ..Default::default() })
}

pub fn daemon_set(r: &Resolved) -> Result<DaemonSet, Error> {
    let v = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"labels": {"k8s-app": "kube-proxy"}, "name": "kube-proxy", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "containers": [{
                        "name": "kube-proxy",
                        "image": crate::manifests::image(r, "kube-proxy"),
                        "imagePullPolicy": "IfNotPresent",
                        "command": [
                            "/usr/local/bin/kube-proxy",
                            format!("--config={MOUNT}/config.conf"),
                            "--hostname-override=$(NODE_NAME)",
                        ],
                        "securityContext": {"privileged": true},
                        "volumeMounts": [
                            {"mountPath": MOUNT, "name": "kube-proxy"},
                            {"mountPath": "/run/xtables.lock", "name": "xtables-lock", "readOnly": false},
                            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": true},
                        ],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    }],
                    "hostNetwork": true,
                    "serviceAccountName": "kube-proxy",
                    "volumes": [
                        {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                    ],
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
    });
    serde_json::from_value(v).map_err(|e| Error::Invalid(e.to_string()))
}

/// Creates (or updates) everything, in upstream's order, and says so.
pub async fn kube_proxy(client: &Client, r: &Resolved) -> Result<(), Error> {
    let ns = "kube-system";
    create_or_update(&Api::<ConfigMap>::namespaced(client.clone(), ns), &config_map(r)?).await?;
    create_or_update(&Api::<DaemonSet>::namespaced(client.clone(), ns), &daemon_set(r)?).await?;
    create_or_update(&Api::<ServiceAccount>::namespaced(client.clone(), ns), &service_account("kube-proxy", ns))
        .await?;
    let sa = k8s_openapi::api::rbac::v1::Subject {
        kind: "ServiceAccount".into(),
        name: "kube-proxy".into(),
        namespace: Some(ns.into()),
        ..Default::default()
    };
    create_or_update(
        &Api::<ClusterRoleBinding>::all(client.clone()),
        &cluster_binding("kubeadm:node-proxier", "system:node-proxier", vec![sa]),
    )
    .await?;
    create_or_update(&Api::<Role>::namespaced(client.clone(), ns), &role_get("kube-proxy", ns, "kube-proxy")).await?;
    create_or_update(
        &Api::<RoleBinding>::namespaced(client.clone(), ns),
        &role_binding("kube-proxy", ns, vec![crate::api::group(token::DEFAULT_GROUP)]),
    )
    .await?;
    println!("[addons] Applied essential addon: kube-proxy");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitFlags;

    #[test]
    fn the_addon_carries_kubeadms_defaults_and_the_users_configuration() {
        let mut r = Resolved::from_flags(&InitFlags {
            node_name: Some("node-1".into()),
            apiserver_advertise_address: Some("10.0.0.1".parse().unwrap()),
            pod_network_cidr: Some("10.244.0.0/16".into()),
            ..Default::default()
        })
        .unwrap();
        let cm = config_map(&r).unwrap();
        let data = cm.data.as_ref().unwrap();
        let conf: Value = serde_saphyr::from_str(&data["config.conf"]).unwrap();
        assert_eq!(conf["clusterCIDR"], "10.244.0.0/16");
        assert_eq!(conf["bindAddress"], "0.0.0.0");
        assert_eq!(conf["clientConnection"]["kubeconfig"], "/var/lib/kube-proxy/kubeconfig.conf");
        assert!(data["kubeconfig.conf"].contains("server: https://10.0.0.1:6443"), "{}", data["kubeconfig.conf"]);
        let hash = &cm.metadata.annotations.as_ref().unwrap()["kubeadm.kubernetes.io/component-config.hash"];
        assert_eq!(hash, &config_hash(data));

        r.kube_proxy = Some(json!({"mode": "nftables", "conntrack": {"maxPerCore": 0}}));
        let cm = config_map(&r).unwrap();
        let conf: Value = serde_saphyr::from_str(&cm.data.as_ref().unwrap()["config.conf"]).unwrap();
        assert_eq!(conf["mode"], "nftables");
        assert_eq!(conf["conntrack"]["maxPerCore"], 0);
        assert_eq!(conf["conntrack"]["udpTimeout"], "0s");
        assert!(cm.metadata.annotations.is_none(), "a user's configuration is not signed");

        let ds = daemon_set(&r).unwrap();
        let c = &ds.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some("registry.k8s.io/kube-proxy:v1.33.0"));
        assert_eq!(c.command.as_ref().unwrap()[1], "--config=/var/lib/kube-proxy/config.conf");
    }
}
