//! kube-proxy on real nodes: two network namespaces with their own containerd and kubelet,
//! kube-proxy programming each node's own netfilter (never the machine's), traffic from the
//! nodes and from the switch they hang off (an "outside" client).

use e2e::node::{apply, control_plane, get_json, wait_node_ready, Node, Switch, KUBECTL};
use e2e::{poll, Cluster};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs `sh -c script` in the switch's namespace: a client outside every node.
fn from_switch(sw: &Switch, script: &str) -> Output {
    let ns = std::fs::read_to_string(sw.dir.path().join("netns")).expect("switch netns");
    std::process::Command::new("ip")
        .args(["netns", "exec", ns.trim(), "sh", "-c", script])
        .output()
        .expect("ip netns exec")
}

fn cluster_ip(c: &Cluster, svc: &str) -> String {
    get_json(c, &["service", svc])["spec"]["clusterIP"].as_str().expect("clusterIP").to_string()
}

fn node_port(c: &Cluster, svc: &str) -> u16 {
    get_json(c, &["service", svc])["spec"]["ports"][0]["nodePort"].as_u64().expect("nodePort") as u16
}

/// The ready endpoints of `svc`'s slices.
fn ready_endpoints(c: &Cluster, svc: &str) -> usize {
    let list = get_json(c, &["endpointslices", "-l", &format!("kubernetes.io/service-name={svc}")]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"] != false)
        .count()
}

/// `n` GETs of `url` from `node`, one answer per line.
fn answers(node: &Node, url: &str, n: usize) -> Vec<String> {
    let script = format!("for i in $(seq {n}); do curl -s --max-time 2 {url}; echo; done");
    text(&node.exec(&["sh", "-c", &script])).lines().map(String::from).collect()
}

/// The names deployment: `replicas` agnhost netexec pods answering their own names on
/// 8080 (named port `http`) and UDP commands on 8081.
fn names_deployment(replicas: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: names}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: names}}}}
  template:
    metadata: {{labels: {{app: names}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080", "--udp-port=8081"]
        ports: [{{name: http, containerPort: 8080}}, {{name: udp, containerPort: 8081, protocol: UDP}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
"#
    )
}

/// Two nodes with routes to each other's pod CIDR (as a cluster network would give them),
/// kube-proxy in `mode` on both.
struct Setup {
    nodes: Vec<Node>,
}

fn bring_up(c: &Cluster, sw: &Switch, mode: &str) -> Setup {
    let mut nodes = vec![
        Node::start(&c.api, sw, "node-a", "172.18.0.2", &[]),
        Node::start(&c.api, sw, "node-b", "172.18.0.3", &[]),
    ];
    let mut cidrs = Vec::new();
    for n in &nodes {
        let node = wait_node_ready(c, n);
        cidrs.push(node["spec"]["podCIDR"].as_str().expect("podCIDR").to_string());
    }
    for (i, n) in nodes.iter().enumerate() {
        let (other, cidr) = (&nodes[1 - i], &cidrs[1 - i]);
        let out = n.exec(&["ip", "route", "replace", cidr, "via", &other.ip]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        sw.route(&cidrs[i], &n.ip);
    }
    for n in &mut nodes {
        n.start_kube_proxy(&[&format!("--proxy-mode={mode}")]);
    }
    Setup { nodes }
}

fn services_work(mode: &str) {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let s = bring_up(c, &sw, mode);
    let (a, b) = (&s.nodes[0], &s.nodes[1]);

    // Seed 004: expose a deployment and curl its ClusterIP from the node.
    c.api.kubectl_ok(KUBECTL, &["create", "deployment", "web", "--image=nginx"]);
    c.api.kubectl_ok(KUBECTL, &["expose", "deployment", "web", "--port=80"]);
    let ip = cluster_ip(c, "web");
    let page = poll("curl the web ClusterIP", Duration::from_secs(120), || {
        let out = a.exec(&["curl", "-s", "--max-time", "2", &format!("http://{ip}")]);
        out.status.success().then(|| text(&out))
    });
    assert!(page.contains("Welcome to nginx!"), "{page}");
    let pod_ip = get_json(c, &["pods", "-l", "app=web"])["items"][0]["status"]["podIP"].as_str().unwrap().to_string();
    if mode == "iptables" {
        let nat = text(&a.exec(&["iptables", "-t", "nat", "-L", "KUBE-SERVICES", "-n"]));
        let line = nat.lines().find(|l| l.contains("/* default/web cluster IP */")).unwrap_or_else(|| panic!("{nat}"));
        assert!(line.starts_with("KUBE-SVC-") && line.contains(&ip) && line.contains("tcp dpt:80"), "{line}");
        let svc_chain = line.split_whitespace().next().unwrap();
        let svc = text(&a.exec(&["iptables", "-t", "nat", "-L", svc_chain, "-n"]));
        let sep = svc
            .lines()
            .find_map(|l| l.strip_prefix("KUBE-SEP-"))
            .map(|l| format!("KUBE-SEP-{}", l.split_whitespace().next().unwrap()));
        let sep = sep.unwrap_or_else(|| panic!("{svc}"));
        let rules = text(&a.exec(&["iptables", "-t", "nat", "-S", &sep]));
        assert!(rules.contains(&format!("-j DNAT --to-destination {pod_ip}:80")), "{rules}");
        assert!(
            rules.contains(&format!("-s {pod_ip}/32 -m comment --comment \"default/web\" -j KUBE-MARK-MASQ")),
            "{rules}"
        );
    } else {
        let table = text(&a.exec(&["nft", "list", "table", "ip", "kube-proxy"]));
        assert!(table.contains(&format!("{ip} . tcp . 80 : goto service-")), "{table}");
    }

    // Three replicas behind a named targetPort: 300 requests reach all three; with ClientIP
    // affinity they reach one.
    apply(c, &names_deployment(3));
    apply(
        c,
        r#"
apiVersion: v1
kind: Service
metadata: {name: names}
spec:
  selector: {app: names}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: udp, port: 53, targetPort: udp, protocol: UDP}
"#,
    );
    poll("3 ready names endpoints", Duration::from_secs(120), || (ready_endpoints(c, "names") == 3).then_some(()));
    let names_ip = cluster_ip(c, "names");
    let url = format!("http://{names_ip}/hostname");
    let seen = poll("300 requests reach all three pods", Duration::from_secs(30), || {
        let got: BTreeSet<String> = answers(a, &url, 300).into_iter().filter(|l| l.starts_with("names-")).collect();
        (got.len() == 3).then_some(got)
    });
    assert_eq!(seen.len(), 3);
    c.api.kubectl_ok(KUBECTL, &["patch", "service", "names", "-p", r#"{"spec":{"sessionAffinity":"ClientIP"}}"#]);
    poll("ClientIP affinity pins one pod", Duration::from_secs(30), || {
        let got: BTreeSet<String> = answers(a, &url, 300).into_iter().collect();
        (got.len() == 1 && got.iter().all(|g| g.starts_with("names-"))).then_some(())
    });
    c.api.kubectl_ok(KUBECTL, &["patch", "service", "names", "-p", r#"{"spec":{"sessionAffinity":"None"}}"#]);

    // NodePort on both nodes' addresses, from outside the nodes.
    c.api.kubectl_ok(
        KUBECTL,
        &["expose", "deployment", "names", "--name=names-np", "--type=NodePort", "--port=80", "--target-port=8080"],
    );
    let np = node_port(c, "names-np");
    for n in [a, b] {
        let url = format!("http://{}:{np}/hostname", n.ip);
        poll(&format!("NodePort {url} from the switch"), Duration::from_secs(30), || {
            let out = from_switch(&sw, &format!("curl -s --max-time 2 {url}"));
            text(&out).starts_with("names-").then_some(())
        });
    }

    // externalIPs: the switch routes the address to node-a.
    apply(
        c,
        r#"
apiVersion: v1
kind: Service
metadata: {name: names-ext}
spec:
  selector: {app: names}
  externalIPs: [172.18.0.100]
  ports: [{port: 8000, targetPort: 8080}]
"#,
    );
    sw.route("172.18.0.100/32", &a.ip);
    poll("the external IP answers", Duration::from_secs(30), || {
        let out = from_switch(&sw, "curl -s --max-time 2 http://172.18.0.100:8000/hostname");
        text(&out).starts_with("names-").then_some(())
    });

    // externalTrafficPolicy: Local: only node-b has the endpoint; it keeps the client's IP
    // and its health-check port says so.
    apply(
        c,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: solo}
spec:
  replicas: 1
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec:
      nodeSelector: {kubernetes.io/hostname: node-b}
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: solo}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: solo}
  ports: [{port: 80, targetPort: 8080}]
"#,
    );
    poll("solo ready", Duration::from_secs(120), || (ready_endpoints(c, "solo") == 1).then_some(()));
    let solo = get_json(c, &["service", "solo"]);
    let np = solo["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    let hc = solo["spec"]["healthCheckNodePort"].as_u64().expect("healthCheckNodePort");
    let client = poll("the local node answers with the client's address", Duration::from_secs(30), || {
        let out = from_switch(&sw, &format!("curl -s --max-time 2 http://{}:{np}/clientip", b.ip));
        let t = text(&out);
        (!t.is_empty()).then_some(t)
    });
    assert!(client.starts_with("172.18.0.254:"), "the client IP is kept: {client}");
    let out = from_switch(&sw, &format!("curl -s --max-time 2 http://{}:{np}/clientip", a.ip));
    assert!(!out.status.success(), "node-a has no local endpoint: {}", text(&out));
    let check = |n: &Node| {
        let out = from_switch(&sw, &format!("curl -s -w ' %{{http_code}}' --max-time 2 http://{}:{hc}/", n.ip));
        text(&out)
    };
    let (good, bad) = poll("health-check ports", Duration::from_secs(30), || {
        let (g, b) = (check(b), check(a));
        (g.ends_with(" 200") && b.ends_with(" 503")).then_some((g, b))
    });
    assert!(good.contains("\"localEndpoints\": 1") && good.contains("\"name\": \"solo\""), "{good}");
    assert!(bad.contains("\"localEndpoints\": 0"), "{bad}");

    // Hairpin: a pod reaches itself through its own Service.
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hair, labels: {app: hair}}
spec:
  containers:
  - name: httpd
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: hair}
spec:
  selector: {app: hair}
  ports: [{port: 80, targetPort: 8080}]
"#,
    );
    poll("hair ready", Duration::from_secs(120), || (ready_endpoints(c, "hair") == 1).then_some(()));
    let hair_ip = cluster_ip(c, "hair");
    // (busybox's static wget crashes on this machine's glibc; nc speaks the HTTP itself.)
    let got = poll("the pod reaches itself through its Service", Duration::from_secs(30), || {
        let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {hair_ip} 80");
        let out = c.api.kubectl(KUBECTL, &["exec", "hair", "--", "sh", "-c", &script]);
        let t = text(&out);
        (out.status.success() && t.starts_with("HTTP/1.")).then(|| t.lines().last().unwrap_or_default().to_string())
    });
    assert_eq!(got.trim(), "hair");

    // No endpoints: refused at once, not a timeout.
    c.api.kubectl_ok(KUBECTL, &["create", "service", "clusterip", "empty", "--tcp=80:80"]);
    let empty_ip = cluster_ip(c, "empty");
    poll("no endpoints is refused", Duration::from_secs(30), || {
        let t0 = Instant::now();
        let out = a.exec(&["curl", "-s", "--max-time", "5", &format!("http://{empty_ip}/")]);
        (out.status.code() == Some(7) && t0.elapsed() < Duration::from_secs(1)).then_some(())
    });

    // UDP: a datagram from a fixed source port reaches the endpoint; after the endpoint is
    // replaced, the same flow reaches the new one (the stale conntrack entry is gone).
    let udp = |n: &Node| {
        let script = format!("echo hostname | socat -T2 - UDP:{names_ip}:53,sourceport=40053");
        text(&n.exec(&["sh", "-c", &script]))
    };
    c.api.kubectl_ok(KUBECTL, &["scale", "deployment", "names", "--replicas=1"]);
    poll("one names endpoint", Duration::from_secs(60), || (ready_endpoints(c, "names") == 1).then_some(()));
    let first = poll("UDP answers", Duration::from_secs(30), || Some(udp(a)).filter(|t| t.starts_with("names-")));
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", first.trim(), "--wait=false"]);
    let second = poll("UDP reaches the replacement", Duration::from_secs(60), || {
        Some(udp(a)).filter(|t| t.starts_with("names-") && t != &first)
    });
    assert_ne!(first, second);

    // Scaling down: the removed endpoint leaves the rotation within a second of its
    // EndpointSlice saying so.
    c.api.kubectl_ok(KUBECTL, &["scale", "deployment", "names", "--replicas=2"]);
    poll("two names endpoints", Duration::from_secs(60), || (ready_endpoints(c, "names") == 2).then_some(()));
    c.api.kubectl_ok(KUBECTL, &["scale", "deployment", "names", "--replicas=1"]);
    poll("the slice drops one", Duration::from_secs(60), || (ready_endpoints(c, "names") == 1).then_some(()));
    let t0 = Instant::now();
    let remaining = get_json(c, &["pods", "-l", "app=names", "--field-selector=status.phase=Running"]);
    let live: BTreeSet<String> = remaining["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    poll("only the remaining pod answers", Duration::from_secs(1), || {
        let got: BTreeSet<String> = answers(a, &url, 20).into_iter().collect();
        got.is_subset(&live).then_some(())
    });
    assert!(t0.elapsed() < Duration::from_secs(2));

    // Health and metrics.
    let healthz = text(&a.exec(&["curl", "-s", "http://127.0.0.1:10256/healthz"]));
    let h: Value = serde_json::from_str(&healthz).expect(&healthz);
    assert_eq!(h["nodeEligible"], true, "{healthz}");
    assert_eq!(text(&a.exec(&["curl", "-s", "http://127.0.0.1:10249/proxyMode"])), mode);
    let metrics = text(&a.exec(&["curl", "-s", "http://127.0.0.1:10249/metrics"]));
    assert!(metrics.contains("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}"), "{metrics}");
    assert!(metrics.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"}"), "{metrics}");
    // The EndpointSlice controller's last-change-trigger-time makes programming latency measurable.
    let programmed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kubeproxy_network_programming_duration_seconds_count{ip_family=\"IPv4\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(programmed.is_some_and(|n| n > 0), "no network programming observations:\n{metrics}");
}

/// kube-proxy stopped leaves the rules in place, and `--cleanup` removes all of them.
fn restart_and_cleanup(mode: &str) {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let mut s = bring_up(c, &sw, mode);
    c.api.kubectl_ok(KUBECTL, &["create", "deployment", "web", "--image=nginx"]);
    c.api.kubectl_ok(KUBECTL, &["expose", "deployment", "web", "--port=80"]);
    let ip = cluster_ip(c, "web");
    let a = &mut s.nodes[0];
    let curl = |n: &Node| n.exec(&["curl", "-s", "--max-time", "2", &format!("http://{ip}")]).status.success();
    poll("curl the web ClusterIP", Duration::from_secs(120), || curl(a).then_some(()));
    a.stop_kube_proxy();
    assert!(curl(a), "traffic flows while kube-proxy is down");
    a.start_kube_proxy(&[&format!("--proxy-mode={mode}")]);
    assert!(curl(a), "traffic flows across a restart");
    a.stop_kube_proxy();
    let bin = e2e::bin_dir().join("kube-proxy");
    let out = a.exec(&[bin.to_str().unwrap(), "--cleanup"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = text(&a.exec(&["iptables-save"]));
    assert!(!saved.contains("KUBE-"), "{saved}");
    let nft = text(&a.exec(&["nft", "list", "tables"]));
    assert!(!nft.contains("kube-proxy"), "{nft}");
    assert!(!curl(a), "no Service rules are left");
}

#[test]
fn iptables_mode_programs_services() {
    services_work("iptables");
}

#[test]
fn iptables_mode_survives_restarts_and_cleans_up() {
    restart_and_cleanup("iptables");
}

#[test]
fn nftables_mode_programs_services() {
    services_work("nftables");
}

#[test]
fn nftables_mode_survives_restarts_and_cleans_up() {
    restart_and_cleanup("nftables");
}

/// Modes kube-proxy cannot run are refused before it touches anything.
#[test]
fn unusable_modes_are_refused() {
    let bin = e2e::bin_dir().join("kube-proxy");
    let out =
        std::process::Command::new(&bin).args(["--proxy-mode=ipvs", "--kubeconfig=/nonexistent"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("can't use the IPVS proxier"), "{err}");
    let out = std::process::Command::new(&bin).args(["--proxy-mode=userspace"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("must be iptables, ipvs, nftables or blank"), "{err}");
}
