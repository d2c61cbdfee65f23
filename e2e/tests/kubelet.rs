//! The kubelet on real nodes: each node a network namespace with its own containerd, pods
//! pulled from a real registry and run by runc, the control plane our own binaries.

use e2e::node::{Node, Switch};
use e2e::{poll, Cluster, ControllerManager, Scheduler};
use serde_json::Value;
use std::time::Duration;

const KUBECTL: &str = "1.33";

/// A control plane as kubeadm runs it: Node and RBAC authorization, NodeRestriction, node
/// IPAM handing out pod CIDRs from 10.244.0.0/16.
struct ControlPlane {
    c: Cluster,
    _cm: ControllerManager,
    _sched: Scheduler,
}

fn control_plane() -> ControlPlane {
    let c = Cluster::start_with(&["--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction"]);
    let cm = ControllerManager::start(
        &c.api,
        &["--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16", "--node-cidr-mask-size=24"],
    );
    let sched = Scheduler::start(&c.api, &[]);
    ControlPlane { c, _cm: cm, _sched: sched }
}

fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.api.kubectl_ok(KUBECTL, &a)).expect("json")
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn wait_node_ready(c: &Cluster, n: &Node) -> Value {
    poll(&format!("node {} Ready", n.name), Duration::from_secs(90), || {
        let out = c.api.kubectl(KUBECTL, &["get", "node", &n.name, "-o", "json"]);
        let node: Value = serde_json::from_slice(&out.stdout).ok()?;
        (condition(&node, "Ready")?["status"] == "True").then_some(node)
    })
}

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap();
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    let net: std::net::Ipv4Addr = net.parse().unwrap();
    let len: u32 = len.parse().unwrap();
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Seed 004's "Building our own cluster": the node registers and turns Ready, a Deployment of
/// nginx runs with a pod IP from the node's CIDR, and curl from the node gets nginx's page.
#[test]
fn a_node_registers_and_runs_nginx_reachable_at_its_pod_ip() {
    let cp = control_plane();
    let c = &cp.c;
    let sw = Switch::new();
    let n = Node::start(&c.api, &sw, "node-1", "172.18.0.2", &[]);
    let node = wait_node_ready(c, &n);
    let ready = condition(&node, "Ready").unwrap();
    assert_eq!(ready["reason"], "KubeletReady", "{ready}");
    assert_eq!(ready["message"], "kubelet is posting ready status");
    for (t, reason) in [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ] {
        let cond = condition(&node, t).unwrap_or_else(|| panic!("{t} in {node}"));
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], reason);
    }
    let addrs = node["status"]["addresses"].as_array().unwrap();
    assert!(addrs.iter().any(|a| a["type"] == "InternalIP" && a["address"] == "172.18.0.2"), "{addrs:?}");
    assert!(addrs.iter().any(|a| a["type"] == "Hostname" && a["address"] == "node-1"), "{addrs:?}");
    let info = &node["status"]["nodeInfo"];
    assert_eq!(info["kubeletVersion"], "v1.33.0");
    assert!(info["containerRuntimeVersion"].as_str().unwrap().starts_with("containerd://1.6"), "{info}");
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-1");
    let cpus = std::fs::read_to_string("/proc/cpuinfo").unwrap().lines().filter(|l| l.starts_with("processor")).count();
    assert_eq!(node["status"]["capacity"]["cpu"], cpus.to_string());
    assert_eq!(node["status"]["capacity"]["pods"], "110");
    let pod_cidr = node["spec"]["podCIDR"].as_str().expect("podCIDR").to_string();
    // The heartbeat Lease, owned by the node.
    let lease = get_json(c, &["lease", "-n", "kube-node-lease", "node-1"]);
    assert_eq!(lease["spec"]["holderIdentity"], "node-1");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");

    c.api.kubectl_ok(KUBECTL, &["create", "deployment", "web", "--image=nginx"]);
    let pod = poll("the web pod Running", Duration::from_secs(120), || {
        let list = get_json(c, &["pods", "-l", "app=web"]);
        let p = list["items"].as_array()?.first()?.clone();
        (p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string()).then_some(p)
    });
    let ip = pod["status"]["podIP"].as_str().unwrap();
    assert!(in_cidr(ip, &pod_cidr), "pod IP {ip} outside the node's {pod_cidr}");
    assert_eq!(pod["status"]["hostIP"], "172.18.0.2");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["name"], "nginx");
    assert_eq!(cs["image"], "docker.io/library/nginx:latest");
    assert!(cs["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"), "{cs}");
    assert!(cs["containerID"].as_str().unwrap().starts_with("containerd://"), "{cs}");
    assert!(cs["state"]["running"]["startedAt"].is_string(), "{cs}");
    assert_eq!(cs["restartCount"], 0);
    // `kubectl get pods -o wide` shows the IP and the node.
    let wide = c.api.kubectl_ok(KUBECTL, &["get", "pods", "-o", "wide"]);
    assert!(wide.contains(ip) && wide.contains("node-1") && wide.contains("Running"), "{wide}");

    let page = poll("nginx answers at the pod IP", Duration::from_secs(30), || {
        let out = n.exec(&["curl", "-s", "--max-time", "2", &format!("http://{ip}/")]);
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        body.contains("Welcome to nginx!").then_some(body)
    });
    assert!(page.contains("<title>Welcome to nginx!</title>"), "{page}");

    // Deleting the pod: the kubelet stops it and removes it from the API; the ReplicaSet
    // replaces it.
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", &name, "--wait=false"]);
    poll("the deleted pod gone from the API", Duration::from_secs(60), || {
        let out = c.api.kubectl(KUBECTL, &["get", "pod", &name]);
        (!out.status.success()).then_some(())
    });
    poll("a replacement Running", Duration::from_secs(60), || {
        let list = get_json(c, &["pods", "-l", "app=web"]);
        let items = list["items"].as_array()?;
        (items.len() == 1 && items[0]["metadata"]["name"] != name.as_str() && items[0]["status"]["phase"] == "Running")
            .then_some(())
    });
    let _ = n.kubelet_log();
}
