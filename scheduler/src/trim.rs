//! What the scheduler keeps of each pod (the pod informer's transform). The informer holds
//! every pod of the cluster, and a typed pod costs several kilobytes, most of it in parts no
//! plugin reads: the service-account token volume every pod gets, container commands,
//! environment, probes and limits, container statuses. Dropping them (and `managedFields`, as
//! upstream's informers do) keeps the scheduler's memory to what scheduling needs.

use k8s_openapi::api::core::v1::{Container, Node, Pod, Volume};

/// Volume types some plugin reads: claims (VolumeBinding, VolumeZone, VolumeRestrictions,
/// NodeVolumeLimits), ephemeral claims, and the inline disks VolumeRestrictions and
/// NodeVolumeLimits look at.
fn volume_matters(v: &Volume) -> bool {
    v.persistent_volume_claim.is_some()
        || v.ephemeral.is_some()
        || v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.rbd.is_some()
        || v.iscsi.is_some()
        || v.azure_disk.is_some()
        || v.cinder.is_some()
        || v.csi.is_some()
}

/// A decoded list grows by doubling from four: keep only the elements (most pods have one
/// port, two tolerations, a condition or two).
fn shrunk<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

/// A container as scheduling sees it: its image (ImageLocality), ports (NodePorts), requests
/// (NodeResourcesFit, BalancedAllocation) and restart policy (sidecars).
fn trim_container(c: &mut Container) {
    let keep = Container {
        name: std::mem::take(&mut c.name),
        image: c.image.take(),
        ports: c.ports.take().map(shrunk),
        resources: c.resources.take().map(|mut r| {
            r.limits = None;
            r
        }),
        restart_policy: c.restart_policy.take(),
        ..Default::default()
    };
    *c = keep;
}

/// Drops what no plugin, the queue or preemption reads.
pub fn trim_pod(p: &mut Pod) {
    p.metadata.managed_fields = None;
    p.metadata.owner_references = p.metadata.owner_references.take().map(shrunk);
    if let Some(spec) = p.spec.as_mut() {
        spec.containers.iter_mut().for_each(trim_container);
        spec.containers.shrink_to_fit();
        if let Some(ic) = spec.init_containers.as_mut() {
            ic.iter_mut().for_each(trim_container);
            ic.shrink_to_fit();
        }
        // Ephemeral containers ask for no resources and no ports.
        spec.ephemeral_containers = None;
        if let Some(vs) = spec.volumes.as_mut() {
            vs.retain(volume_matters);
            vs.shrink_to_fit();
        }
        spec.tolerations = spec.tolerations.take().map(shrunk);
        spec.topology_spread_constraints = spec.topology_spread_constraints.take().map(shrunk);
        spec.security_context = None;
        spec.dns_config = None;
        spec.host_aliases = None;
        spec.image_pull_secrets = None;
        spec.readiness_gates = None;
        spec.resource_claims = None;
    }
    if let Some(st) = p.status.as_mut() {
        st.conditions = st.conditions.take().map(shrunk);
        st.container_statuses = None;
        st.init_container_statuses = None;
        st.ephemeral_container_statuses = None;
        st.resource_claim_statuses = None;
        st.pod_ips = None;
        st.host_ips = None;
    }
}

/// Drops what no plugin reads of a node: its system info, addresses, endpoints, attached
/// volumes, and the condition texts (the type and status stay: readiness changes requeue).
pub fn trim_node(n: &mut Node) {
    n.metadata.managed_fields = None;
    if let Some(st) = n.status.as_mut() {
        st.node_info = None;
        st.addresses = None;
        st.daemon_endpoints = None;
        st.volumes_attached = None;
        st.volumes_in_use = None;
        st.config = None;
        st.runtime_handlers = None;
        st.features = None;
        for c in st.conditions.iter_mut().flatten() {
            c.message = None;
            c.reason = None;
            c.last_heartbeat_time = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{pod_host_ports, pod_requests};
    use serde_json::json;

    #[test]
    fn trimming_keeps_what_scheduling_reads() {
        let mut p: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"},
            "managedFields": [{"manager": "kubectl"}]},
            "spec": {"nodeSelector": {"disk": "ssd"}, "priority": 5,
                "containers": [{"name": "c", "image": "nginx", "command": ["sleep"], "env": [{"name": "X", "value": "1"}],
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}},
                    "livenessProbe": {"exec": {"command": ["true"]}}}],
                "initContainers": [{"name": "s", "image": "side", "restartPolicy": "Always",
                    "resources": {"requests": {"memory": "1Gi"}}}],
                "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "c", "image": "nginx", "imageID": "",
                "ready": false, "restartCount": 0}], "conditions": [{"type": "PodScheduled", "status": "False"}]}}))
        .unwrap();
        let (requests, ports) = (pod_requests(&p, false), pod_host_ports(&p));
        trim_pod(&mut p);
        assert_eq!((pod_requests(&p, false), pod_host_ports(&p)), (requests, ports));
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.containers[0].image.as_deref(), Some("nginx"));
        assert!(spec.containers[0].command.is_none() && spec.containers[0].env.is_none());
        assert!(spec.containers[0].resources.as_ref().unwrap().limits.is_none());
        assert_eq!(spec.init_containers.as_ref().unwrap()[0].restart_policy.as_deref(), Some("Always"));
        let vols: Vec<&str> = spec.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
        assert_eq!(vols, ["data"]);
        assert_eq!(spec.priority, Some(5));
        assert!(p.metadata.managed_fields.is_none());
        let st = p.status.as_ref().unwrap();
        assert!(st.container_statuses.is_none());
        assert_eq!(st.conditions.as_ref().unwrap().len(), 1);
    }
}
