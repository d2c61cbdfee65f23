//! The kubelet on real nodes: each node a network namespace with its own containerd, pods
//! pulled from a real registry and run by runc, the control plane our own binaries.

use e2e::node::{apply, condition, control_plane, get_json, one_node, wait_node_ready, Node, Switch, KUBECTL};
use e2e::{poll, Cluster};
use serde_json::Value;
use std::time::Duration;

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
    let (cp, sw) = control_plane();
    let c = &cp.c;
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

fn wait_phase(c: &Cluster, ns: &str, name: &str, phase: &str) -> Value {
    poll(&format!("pod {ns}/{name} {phase}"), Duration::from_secs(90), || {
        let out = c.api.kubectl(KUBECTL, &["get", "pod", "-n", ns, name, "-o", "json"]);
        let p: Value = serde_json::from_slice(&out.stdout).ok()?;
        (p["status"]["phase"] == phase).then_some(p)
    })
}

fn events_for(c: &Cluster, ns: &str, name: &str) -> Vec<Value> {
    let list = get_json(c, &["events", "-n", ns, "--field-selector", &format!("involvedObject.name={name}")]);
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Seed 002's volumes: an emptyDir two containers share, configMap and secret files (a tmpfs,
/// modes, live updates through `..data`), downwardAPI labels, the projected all-in-one
/// example, and environment from `valueFrom`/`envFrom`; a missing ConfigMap is a
/// CreateContainerConfigError and a failed hostPath check a FailedMount, with upstream's
/// messages.
#[test]
fn volumes_and_environment_reach_the_containers() {
    let (cp, _sw, n) = one_node("node-v", &[]);
    let c = &cp.c;
    apply(
        c,
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: myconfigmap}
data: {config: "color=blue", color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: mysecret}
stringData: {username: admin, password: s3cret}
---
apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {app: vols, tier: test}
spec:
  volumes:
  - {name: shared, emptyDir: {}}
  - {name: cfg, configMap: {name: myconfigmap}}
  - {name: sec, secret: {secretName: mysecret, defaultMode: 0400}}
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
  - name: all-in-one
    projected:
      sources:
      - secret:
          name: mysecret
          items: [{key: username, path: my-group/my-username}]
      - downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: cpu_limit, resourceFieldRef: {containerName: reader, resource: limits.cpu}}
      - configMap:
          name: myconfigmap
          items: [{key: config, path: my-group/my-config}]
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "echo hello-from-writer > /shared/msg; sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: reader
    image: busybox
    resources: {limits: {cpu: "1", memory: 64Mi}}
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: myconfigmap, key: color}}}
    - {name: PASS, valueFrom: {secretKeyRef: {name: mysecret, key: password}}}
    - {name: MY_NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: GREETING, value: "color is $(COLOR)"}
    envFrom: [{configMapRef: {name: myconfigmap}, prefix: CM_}]
    command: ["sh", "-c", "while true; do echo msg=$(cat /shared/msg); echo color=$(cat /cfg/color); echo pass=$(cat /sec/password) mode=$(stat -L -c %a /sec/password); echo labels=$(cat /podinfo/labels | tr '\\n' ' '); echo user=$(cat /projected/my-group/my-username) config=$(cat /projected/my-group/my-config) cpu=$(cat /projected/cpu_limit); echo env=$COLOR,$PASS,$MY_NODE,$GREETING,$CM_color; echo tmpfs=$(grep -c ' /sec tmpfs' /proc/mounts); echo ---; sleep 1; done"]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: podinfo, mountPath: /podinfo}
    - {name: all-in-one, mountPath: /projected, readOnly: true}
"#,
    );
    wait_phase(c, "default", "vols", "Running");
    let log = poll("the reader's report", Duration::from_secs(60), || {
        let l = n.container_log("default", "vols", "reader");
        l.contains("---").then_some(l)
    });
    for want in [
        "msg=hello-from-writer",
        "color=blue",
        "pass=s3cret mode=400",
        "app=\"vols\" tier=\"test\"",
        "user=admin config=color=blue cpu=1",
        "env=blue,s3cret,node-v,color is blue,blue",
        "tmpfs=1",
    ] {
        assert!(log.contains(want), "{want:?} missing from:\n{log}");
    }
    // A ConfigMap update reaches the mounted file (the pod is not restarted).
    c.api.kubectl_ok(KUBECTL, &["patch", "configmap", "myconfigmap", "-p", r#"{"data":{"color":"green"}}"#]);
    poll("the updated ConfigMap in the volume", Duration::from_secs(60), || {
        n.container_log("default", "vols", "reader").contains("color=green").then_some(())
    });
    let p = get_json(c, &["pod", "vols"]);
    for cs in p["status"]["containerStatuses"].as_array().unwrap() {
        assert_eq!(cs["restartCount"], 0, "{cs}");
    }

    // A missing ConfigMap: CreateContainerConfigError, as upstream words it.
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: nocfg}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]
"#,
    );
    let waiting = poll("CreateContainerConfigError", Duration::from_secs(60), || {
        let p = get_json(c, &["pod", "nocfg"]);
        let w = p["status"]["containerStatuses"][0]["state"]["waiting"].clone();
        (w["reason"] == "CreateContainerConfigError").then_some(w)
    });
    assert_eq!(waiting["message"], "configmap \"absent\" not found");
    let table = c.api.kubectl_ok(KUBECTL, &["get", "pod", "nocfg"]);
    assert!(table.contains("CreateContainerConfigError"), "{table}");
    // Creating it lets the container start.
    c.api.kubectl_ok(KUBECTL, &["create", "configmap", "absent", "--from-literal=k=v"]);
    wait_phase(c, "default", "nocfg", "Running");

    // hostPath type checks: a file where a directory is required.
    let file = n.path("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: hp}}
spec:
  volumes: [{{name: h, hostPath: {{path: {}, type: Directory}}}}]
  containers: [{{name: app, image: busybox, command: ["sleep", "3600"], volumeMounts: [{{name: h, mountPath: /h}}]}}]
"#,
            file.display()
        ),
    );
    let ev = poll("a FailedMount event", Duration::from_secs(60), || {
        events_for(c, "default", "hp").into_iter().find(|e| e["reason"] == "FailedMount")
    });
    assert_eq!(
        ev["message"],
        format!(
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: {} is not a directory",
            file.display()
        )
    );
    let p = get_json(c, &["pod", "hp"]);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating");
}

/// Persistent volumes on the node: a claim bound to a local PV (its node affinity takes the
/// pod there) and a generic ephemeral volume whose claim the ephemeral-volume controller makes
/// from the template, owned by the pod, bound to a hostPath PV; what the container writes is in
/// the node's directories. The ephemeral claim goes with its pod; a claim of that name that a
/// pod does not own is never taken over.
#[test]
fn claims_on_local_and_host_path_volumes_and_ephemeral_volumes() {
    let (cp, _sw, n) = one_node("node-v", &[]);
    let c = &cp.c;
    let (local, scratch) = (n.path("local-pv"), n.path("scratch-pv"));
    std::fs::create_dir_all(&local).unwrap();
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: PersistentVolume
metadata: {{name: local-pv}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {{path: {local}}}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{{matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [node-v]}}]}}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: scratch-pv}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: scratch
  hostPath: {{path: {scratch}, type: DirectoryOrCreate}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: claims}}
spec:
  volumes:
  - {{name: data, persistentVolumeClaim: {{claimName: data}}}}
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        metadata: {{labels: {{kind: scratch}}}}
        spec: {{accessModes: [ReadWriteOnce], storageClassName: scratch, resources: {{requests: {{storage: 1Gi}}}}}}
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo local > /data/hello; echo scratch > /scratch/hello; sleep 3600"]
    volumeMounts: [{{name: data, mountPath: /data}}, {{name: scratch, mountPath: /scratch}}]
"#,
            local = local.display(),
            scratch = scratch.display()
        ),
    );
    let p = wait_phase(c, "default", "claims", "Running");
    assert_eq!(p["spec"]["nodeName"], "node-v");
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).ok();
    poll("the files on the node", Duration::from_secs(30), || {
        (read(local.join("hello")).as_deref() == Some("local\n")
            && read(scratch.join("hello")).as_deref() == Some("scratch\n"))
        .then_some(())
    });
    let claim = get_json(c, &["pvc", "claims-scratch"]);
    assert_eq!(claim["metadata"]["labels"]["kind"], "scratch");
    assert_eq!(claim["status"]["phase"], "Bound");
    assert_eq!(claim["spec"]["volumeName"], "scratch-pv");
    let owner = &claim["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["name"], &owner["uid"]),
        (&"Pod".into(), &"claims".into(), &p["metadata"]["uid"])
    );
    assert_eq!((&owner["controller"], &owner["blockOwnerDeletion"]), (&true.into(), &true.into()));

    // A claim named like the volume's but made by someone else is not the pod's.
    apply(
        c,
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: thief-scratch}
spec: {accessModes: [ReadWriteOnce], storageClassName: none, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: thief}
spec:
  volumes: [{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], storageClassName: none, resources: {requests: {storage: 1Gi}}}}}}]
  containers: [{name: app, image: busybox, command: ["sleep", "3600"], volumeMounts: [{name: scratch, mountPath: /s}]}]
"#,
    );
    let not_owner =
        "ephemeral volume scratch: PVC default/thief-scratch was not created for pod default/thief (pod is not owner)";
    poll("a FailedBinding event", Duration::from_secs(30), || {
        events_for(c, "default", "thief")
            .into_iter()
            .find(|e| e["reason"] == "FailedBinding" && e["message"] == not_owner)
    });
    assert!(get_json(c, &["pvc", "thief-scratch"])["metadata"]["ownerReferences"].is_null());

    // The ephemeral claim goes with its pod.
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "claims", "--grace-period=1"]);
    poll("the ephemeral claim deleted", Duration::from_secs(60), || {
        (!c.api.kubectl(KUBECTL, &["get", "pvc", "claims-scratch"]).status.success()).then_some(())
    });
    assert_eq!(get_json(c, &["pvc", "data"])["status"]["phase"], "Bound");
}

/// Seed 004's kubelet API routes, curled inside the node with the admin certificate: 10250's
/// `/healthz`, `/pods`, `/runningpods/`, `/containerLogs` (tail, timestamps), `/run` and
/// `/configz`, and 10248's `/healthz`; with the KubeletConfiguration's defaults (no anonymous
/// requests, TokenReview and SubjectAccessReview) an anonymous caller gets 401 and a user
/// without rights on the Node gets upstream's 403.
#[test]
fn the_kubelet_api_serves_authorized_clients() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let n = Node::start(&c.api, &sw, "node-k", "172.18.0.2", &[]);
    let pki = c.api.pki.dir.clone();
    c.api.pki.client("nobody", "nobody", &[]);
    wait_node_ready(c, &n);
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: logger}
spec:
  containers:
  - {name: app, image: busybox, command: ["sh", "-c", "for i in $(seq 1 20); do echo line-$i; done; sleep 3600"]}
"#,
    );
    wait_phase(c, "default", "logger", "Running");
    poll("the pod's log", Duration::from_secs(30), || {
        n.container_log("default", "logger", "app").contains("line-20").then_some(())
    });
    let curl = |user: Option<&str>, args: &[&str]| -> (String, String) {
        let mut a = vec!["curl", "-sk", "--max-time", "20", "-w", "\n%{http_code}"];
        let (c2, k2);
        if let Some(u) = user {
            c2 = pki.join(format!("{u}.crt")).display().to_string();
            k2 = pki.join(format!("{u}.key")).display().to_string();
            a.extend(["--cert", c2.as_str(), "--key", k2.as_str()]);
        }
        a.extend(args);
        let out = n.exec(&a);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (body.to_string(), code.to_string())
    };
    let url = |p: &str| format!("https://172.18.0.2:10250{p}");

    assert_eq!(curl(Some("admin"), &[&url("/healthz")]), ("ok".into(), "200".into()));
    assert_eq!(curl(None, &["http://127.0.0.1:10248/healthz"]), ("ok".into(), "200".into()));
    let (pods, code) = curl(Some("admin"), &[&url("/pods")]);
    assert_eq!(code, "200");
    let pods: Value = serde_json::from_str(&pods).expect("PodList");
    assert_eq!(pods["kind"], "PodList");
    assert!(pods["items"].as_array().unwrap().iter().any(|p| p["metadata"]["name"] == "logger"), "{pods}");
    let (running, _) = curl(Some("admin"), &[&url("/runningpods/")]);
    let running: Value = serde_json::from_str(&running).expect("PodList");
    let logger = running["items"].as_array().unwrap().iter().find(|p| p["metadata"]["name"] == "logger").cloned();
    assert_eq!(logger.expect("logger runs")["spec"]["containers"][0]["name"], "app");

    let (log, code) = curl(Some("admin"), &[&url("/containerLogs/default/logger/app?tail=10")]);
    assert_eq!(code, "200");
    let want: String = (11..=20).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(log, want);
    let (stamped, _) = curl(Some("admin"), &[&url("/containerLogs/default/logger/app?tailLines=1&timestamps=true")]);
    let (stamp, line) = stamped.trim_end().split_once(' ').expect("a timestamp");
    assert_eq!(line, "line-20");
    assert!(stamp.ends_with('Z') && stamp.len() == "2026-01-01T00:00:00.000000000Z".len(), "{stamped}");
    assert_eq!(
        curl(Some("admin"), &[&url("/containerLogs/default/nope/app")]),
        ("pod \"nope\" does not exist".into(), "404".into())
    );
    let (ls, code) = curl(Some("admin"), &["-d", "cmd=ls /", &url("/run/default/logger/app")]);
    assert_eq!(code, "200");
    assert!(ls.lines().any(|l| l == "bin") && ls.lines().any(|l| l == "etc"), "{ls}");
    let (cfg, _) = curl(Some("admin"), &[&url("/configz")]);
    let cfg: Value = serde_json::from_str(&cfg).expect("configz");
    assert_eq!(cfg["kubeletconfig"]["authentication"]["anonymous"]["enabled"], false);
    assert_eq!(cfg["kubeletconfig"]["authorization"]["mode"], "Webhook");

    // The node's /var/log, as Go's file server lists and serves it, and nothing outside it.
    let (listing, code) = curl(Some("admin"), &[&url("/logs/")]);
    assert_eq!(code, "200");
    assert!(
        listing.starts_with("<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n"),
        "{listing}"
    );
    let first = listing.lines().find_map(|l| l.strip_prefix("<a href=\"")?.split('"').next()).expect("an entry");
    assert_eq!(curl(Some("admin"), &[&url(&format!("/logs/{first}"))]).1, "200");
    assert_eq!(curl(Some("admin"), &[&url("/logs/%2e%2e/etc/passwd")]).1, "404");
    // Checkpointing asks the runtime, which has no checkpoint support here: upstream's text.
    let (cp_err, code) = curl(Some("admin"), &["-X", "POST", &url("/checkpoint/default/logger/app")]);
    assert_eq!(code, "500", "{cp_err}");
    assert!(cp_err.starts_with("checkpointing of default/logger/app failed (rpc error: code = "), "{cp_err}");
    assert_eq!(
        curl(Some("admin"), &["-X", "POST", &url("/checkpoint/default/logger/nope")]),
        ("container nope does not exist".into(), "404".into())
    );

    // Refused: no credentials, then a user the cluster grants nothing.
    assert_eq!(curl(None, &[&url("/pods")]), ("Unauthorized".into(), "401".into()));
    assert_eq!(
        curl(Some("nobody"), &[&url("/pods")]),
        ("Forbidden (user=nobody, verb=get, resource=nodes, subresource(s)=[pods proxy])\n".into(), "403".into())
    );
    assert_eq!(
        curl(Some("nobody"), &["-d", "cmd=ls", &url("/run/default/logger/app")]),
        ("Forbidden (user=nobody, verb=create, resource=nodes, subresource(s)=[proxy])\n".into(), "403".into())
    );
    // Outside every route: Go's mux answers before any authentication.
    assert_eq!(curl(None, &[&url("/nothing")]), ("404 page not found\n".into(), "404".into()));
}

/// Seed 002's security-context lab: runAsUser 1000 and fsGroup 2000 show in the process list
/// and in the ownership of what the container writes to its emptyDir.
#[test]
fn security_context_sets_the_user_and_the_volume_group() {
    let (cp, _sw, n) = one_node("node-s", &[]);
    let c = &cp.c;
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: security-context-pod}
spec:
  securityContext: {runAsUser: 1000, fsGroup: 2000}
  volumes: [{name: sam-vol, emptyDir: {}}]
  containers:
  - name: sample-container
    image: busybox
    command: ["sh", "-c", "echo LinuxAcademy > /data/demo/test; echo id=$(id -u):$(id -g) groups=$(id -G); ps -o user,pid,args | sed -n 2p; ls -ln /data/demo/test; stat -c 'dir=%g %A' /data/demo; echo done; sleep 3600"]
    volumeMounts: [{name: sam-vol, mountPath: /data/demo}]
    securityContext: {allowPrivilegeEscalation: false}
"#,
    );
    wait_phase(c, "default", "security-context-pod", "Running");
    let log = poll("the lab's output", Duration::from_secs(60), || {
        let l = n.container_log("default", "security-context-pod", "sample-container");
        l.contains("done").then_some(l)
    });
    assert!(log.contains("id=1000:0"), "{log}");
    assert!(log.contains("groups=0 2000") || log.contains("groups=2000"), "{log}");
    // The process runs as uid 1000 (busybox ps shows the numeric user without /etc/passwd entry).
    assert!(log.lines().any(|l| l.trim_start().starts_with("1000 ")), "{log}");
    // The file the container wrote belongs to group 2000; the directory is setgid 2000.
    assert!(
        log.lines().any(|l| l.contains(" 1000 ") && l.contains(" 2000 ") && l.ends_with("/data/demo/test")),
        "{log}"
    );
    assert!(log.contains("dir=2000 drwxrwsrwx"), "{log}");
}

const HELLO: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n  namespace: default\nspec:\n  containers:\n  - name: hello\n    image: nginx\n";

/// Seed 004's static pod lab: a manifest `hello` runs as `hello-<node>` with a mirror pod (the
/// mirror annotation, owned by the Node); `kubectl delete` re-mirrors it; a malformed manifest
/// beside it is skipped; changing the file restarts the pod; removing it stops the pod.
#[test]
fn static_pods_run_from_manifests_and_are_mirrored() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let n = Node::start(&c.api, &sw, "node1", "172.18.0.2", &[]);
    let node = wait_node_ready(c, &n);
    std::fs::write(
        n.path("manifests/broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: broken}\nspec: {containers: [{name: x}]}\n",
    )
    .unwrap();
    std::fs::write(
        n.path("manifests/.hidden.yaml"),
        HELLO.replace("name: hello\n  namespace", "name: hidden\n  namespace"),
    )
    .unwrap();
    std::fs::write(n.path("manifests/hello.yaml"), HELLO).unwrap();
    let mirror = wait_phase(c, "default", "hello-node1", "Running");
    let ann = &mirror["metadata"]["annotations"];
    assert_eq!(ann["kubernetes.io/config.source"], "file");
    assert_eq!(ann["kubernetes.io/config.mirror"], ann["kubernetes.io/config.hash"]);
    let owner = &mirror["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Node");
    assert_eq!(owner["name"], "node1");
    assert_eq!(owner["uid"], node["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    let ip = mirror["status"]["podIP"].as_str().expect("podIP").to_string();
    poll("nginx of the static pod answers", Duration::from_secs(30), || {
        let out = n.exec(&["curl", "-s", "--max-time", "2", &format!("http://{ip}/")]);
        String::from_utf8_lossy(&out.stdout).contains("Welcome to nginx!").then_some(())
    });
    let pods = c.api.kubectl_ok(KUBECTL, &["get", "pods", "-A"]);
    assert!(!pods.contains("broken") && !pods.contains("hidden"), "{pods}");
    assert!(n.kubelet_log().contains("Could not process manifest file"), "{}", n.kubelet_log());

    // kubectl delete: the mirror comes back (a new object); the pod itself kept running.
    let old_uid = mirror["metadata"]["uid"].as_str().unwrap().to_string();
    let started = mirror["status"]["containerStatuses"][0]["state"]["running"]["startedAt"].clone();
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "hello-node1", "--wait=false"]);
    let again = poll("the mirror pod re-created", Duration::from_secs(60), || {
        let out = c.api.kubectl(KUBECTL, &["get", "pod", "hello-node1", "-o", "json"]);
        let p: Value = serde_json::from_slice(&out.stdout).ok()?;
        (p["metadata"]["uid"] != old_uid.as_str() && p["status"]["phase"] == "Running").then_some(p)
    });
    assert_eq!(again["status"]["containerStatuses"][0]["state"]["running"]["startedAt"], started);
    assert_eq!(again["status"]["containerStatuses"][0]["restartCount"], 0);

    // Changing the manifest replaces the pod.
    std::fs::write(
        n.path("manifests/hello.yaml"),
        HELLO.replace("image: nginx", "image: nginx\n    env: [{name: V, value: \"2\"}]"),
    )
    .unwrap();
    let changed = poll("the changed static pod mirrored", Duration::from_secs(60), || {
        let out = c.api.kubectl(KUBECTL, &["get", "pod", "hello-node1", "-o", "json"]);
        let p: Value = serde_json::from_slice(&out.stdout).ok()?;
        (p["spec"]["containers"][0]["env"][0]["value"] == "2" && p["status"]["phase"] == "Running").then_some(p)
    });
    assert_ne!(changed["metadata"]["annotations"]["kubernetes.io/config.hash"], ann["kubernetes.io/config.hash"]);

    // Removing the file stops the pod and deletes the mirror.
    std::fs::remove_file(n.path("manifests/hello.yaml")).unwrap();
    poll("the mirror pod gone", Duration::from_secs(60), || {
        (!c.api.kubectl(KUBECTL, &["get", "pod", "hello-node1"]).status.success()).then_some(())
    });
    poll("nginx stopped", Duration::from_secs(60), || {
        let out = n.exec(&["curl", "-s", "--max-time", "1", &format!("http://{ip}/")]);
        (!String::from_utf8_lossy(&out.stdout).contains("Welcome")).then_some(())
    });
}

/// Seed 004: a kubelet without --kubeconfig runs in standalone mode, static pods only.
#[test]
fn a_standalone_kubelet_runs_static_pods() {
    let sw = Switch::new();
    let n = Node::standalone(&sw, "solo", "172.18.0.2", &["--pod-cidr=10.88.0.0/24"]);
    std::fs::write(
        n.path("manifests/echo.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: echo}\nspec:\n  containers:\n  - name: echo\n    image: busybox\n    command: [sh, -c, 'echo standalone-$(hostname); sleep 3600']\n",
    )
    .unwrap();
    poll("the static pod's output", Duration::from_secs(90), || {
        n.container_log("default", "echo-solo", "echo").contains("standalone-echo-solo").then_some(())
    });
    assert!(n.kubelet_log().contains("No API server defined"), "{}", n.kubelet_log());
}

/// The count of a pod's events with `reason` whose message starts with `prefix` (repeats are
/// folded into one event's count, as the recorder does).
fn event_count(c: &Cluster, pod: &str, reason: &str, prefix: &str) -> i64 {
    events_for(c, "default", pod)
        .iter()
        .filter(|e| e["reason"] == reason && e["message"].as_str().unwrap_or("").starts_with(prefix))
        .map(|e| e["count"].as_i64().unwrap_or(1))
        .sum()
}

fn container_status(c: &Cluster, pod: &str) -> Value {
    get_json(c, &["pod", pod])["status"]["containerStatuses"][0].clone()
}

/// Probes: a failing liveness probe restarts the container; readiness flips Ready and moves the
/// pod out of the Service's endpoints and back; a startup probe holds liveness off until it
/// succeeds. The flags the probes look at are files on the node, so the test decides when they
/// pass.
#[test]
fn probes_restart_containers_and_gate_readiness() {
    let (cp, _sw, n) = one_node("node-p", &[]);
    let c = &cp.c;
    let flags = n.path("flags");
    std::fs::create_dir_all(&flags).unwrap();
    std::fs::write(flags.join("ready"), "ok").unwrap();
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  volumes: [{{name: www, hostPath: {{path: {flags}, type: Directory}}}}]
  containers:
  - name: httpd
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: [{{name: http, containerPort: 8080}}]
    volumeMounts: [{{name: www, mountPath: /www}}]
    readinessProbe:
      httpGet: {{path: /ready, port: http}}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: live}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 3600"]
    livenessProbe:
      exec: {{command: ["cat", "/tmp/healthy"]}}
      periodSeconds: 1
      failureThreshold: 2
"#,
            flags = flags.display()
        ),
    );

    // Readiness: Ready with the pod in the endpoints, then not, then again.
    let pod = poll("web Ready", Duration::from_secs(90), || {
        let p = get_json(c, &["pod", "web"]);
        (condition(&p, "Ready")?["status"] == "True").then_some(p)
    });
    let ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    let endpoint_ips = |key: &str| -> Vec<String> {
        let ep = get_json(c, &["endpoints", "web"]);
        ep["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s[key].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["ip"].as_str().map(str::to_string))
            .collect()
    };
    poll("the pod in the endpoints", Duration::from_secs(30), || endpoint_ips("addresses").contains(&ip).then_some(()));
    std::fs::remove_file(flags.join("ready")).unwrap();
    poll("web not Ready", Duration::from_secs(30), || {
        let p = get_json(c, &["pod", "web"]);
        (condition(&p, "Ready")?["status"] == "False").then_some(())
    });
    poll("the pod out of the ready endpoints", Duration::from_secs(30), || {
        (!endpoint_ips("addresses").contains(&ip) && endpoint_ips("notReadyAddresses").contains(&ip)).then_some(())
    });
    poll("a readiness Unhealthy event", Duration::from_secs(30), || {
        (event_count(c, "web", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404") >= 1)
            .then_some(())
    });
    std::fs::write(flags.join("ready"), "ok").unwrap();
    poll("web Ready again", Duration::from_secs(30), || endpoint_ips("addresses").contains(&ip).then_some(()));
    assert_eq!(container_status(c, "web")["restartCount"], 0);

    // Liveness: the container is killed and restarted, again and again.
    poll("the live container restarted twice", Duration::from_secs(120), || {
        (container_status(c, "live")["restartCount"].as_i64()? >= 2).then_some(())
    });
    // Events are written asynchronously: wait for them too.
    poll("liveness events", Duration::from_secs(30), || {
        (event_count(c, "live", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy'") >= 2
            && event_count(c, "live", "Killing", "Container app failed liveness probe, will be restarted") >= 1)
            .then_some(())
    });
    let st = container_status(c, "live");
    assert!(st["lastState"]["terminated"]["exitCode"].as_i64().unwrap_or(0) != 0, "{st}");

    // Startup: while it fails, liveness (which would fail too) does not run. (Created only
    // now: events about one object are limited to a burst of 25, as client-go's spam filter.)
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: slow}}
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{{name: flags, hostPath: {{path: {flags}, type: Directory}}}}]
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts: [{{name: flags, mountPath: /flags}}]
    startupProbe:
      exec: {{command: ["cat", "/flags/started"]}}
      periodSeconds: 1
      failureThreshold: 600
    livenessProbe:
      exec: {{command: ["cat", "/flags/live"]}}
      periodSeconds: 1
      failureThreshold: 1
"#,
            flags = flags.display()
        ),
    );
    poll("startup probe failures", Duration::from_secs(60), || {
        (event_count(c, "slow", "Unhealthy", "Startup probe failed") >= 3).then_some(())
    });
    assert_eq!(event_count(c, "slow", "Unhealthy", "Liveness probe failed"), 0);
    let st = container_status(c, "slow");
    assert_eq!(st["started"], false, "{st}");
    assert_eq!(st["ready"], false, "{st}");
    assert_eq!(st["restartCount"], 0, "{st}");
    std::fs::write(flags.join("started"), "yes").unwrap();
    // Started; now liveness runs, fails and restarts it.
    poll("the slow container restarted by liveness", Duration::from_secs(60), || {
        (container_status(c, "slow")["restartCount"].as_i64()? >= 1).then_some(())
    });
    poll("a liveness event after startup", Duration::from_secs(30), || {
        (event_count(c, "slow", "Unhealthy", "Liveness probe failed") >= 1).then_some(())
    });
    // The probes as /metrics/probes counts them, through the apiserver's nodes/proxy.
    let out = c.api.kubectl(KUBECTL, &["get", "--raw", "/api/v1/nodes/node-p/proxy/metrics/probes"]);
    let metrics = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(metrics.contains("# HELP prober_probe_total [BETA] Cumulative number of a liveness, readiness or startup probe for a container by result."), "{metrics}");
    let counted = |probe: &str, result: &str, pod: &str| {
        metrics.lines().any(|l| {
            l.starts_with("prober_probe_total{")
                && l.contains(&format!("probe_type=\"{probe}\""))
                && l.contains(&format!("result=\"{result}\""))
                && l.contains(&format!("pod=\"{pod}\""))
        })
    };
    assert!(counted("liveness", "failed", "live") && counted("readiness", "successful", "web"), "{metrics}");
    assert!(metrics.contains("\nprocess_start_time_seconds "), "{metrics}");
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Seed 003's init containers run in order before the app; a native sidecar starts before the
/// app and stops after it; deletion runs preStop, sends SIGTERM and, past the grace period,
/// SIGKILL; a restarted kubelet adopts running containers; a pod deleted while the kubelet is
/// down is finished when it returns.
#[test]
fn init_containers_sidecars_termination_and_kubelet_restarts() {
    let (cp, _sw, mut n) = one_node("node-l", &[]);
    let c = &cp.c;
    let out = n.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let order = out.join("order");
    let grace = out.join("grace");
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: init-demo}}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{{name: out, hostPath: {{path: {out}}}}}]
  initContainers:
  - name: init-1
    image: busybox
    command: ["sh", "-c", "echo first >> /out/order; sleep 1"]
    volumeMounts: [{{name: out, mountPath: /out}}]
  - name: init-2
    image: busybox
    command: ["sh", "-c", "echo second >> /out/order"]
    volumeMounts: [{{name: out, mountPath: /out}}]
  - name: log-agent
    image: busybox
    restartPolicy: Always
    command: ["sh", "-c", "echo sidecar-start >> /out/order; trap 'echo sidecar-stop >> /out/order; exit 0' TERM; while :; do sleep 0.2; done"]
    volumeMounts: [{{name: out, mountPath: /out}}]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo main-start >> /out/order; trap 'echo main-stop >> /out/order; exit 0' TERM; while :; do sleep 0.2; done"]
    volumeMounts: [{{name: out, mountPath: /out}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: grace}}
spec:
  terminationGracePeriodSeconds: 3
  volumes: [{{name: out, hostPath: {{path: {out}}}}}]
  containers:
  - name: stubborn
    image: busybox
    command: ["sh", "-c", "trap 'echo got-term >> /out/grace' TERM; echo up >> /out/grace; while :; do sleep 0.2; done"]
    volumeMounts: [{{name: out, mountPath: /out}}]
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo prestop >> /out/grace"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: steady}}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{{name: app, image: busybox, command: ["sleep", "3600"]}}]
"#,
            out = out.display()
        ),
    );
    let p = wait_phase(c, "default", "init-demo", "Running");
    assert_eq!(lines(&order)[..4], ["first", "second", "sidecar-start", "main-start"]);
    let inits = p["status"]["initContainerStatuses"].as_array().unwrap();
    assert_eq!(inits.len(), 3);
    for i in &inits[..2] {
        assert_eq!(i["state"]["terminated"]["reason"], "Completed", "{i}");
        assert_eq!(i["state"]["terminated"]["exitCode"], 0, "{i}");
    }
    assert!(inits[2]["state"]["running"].is_object(), "{}", inits[2]);
    assert_eq!(condition(&p, "Initialized").unwrap()["status"], "True");

    // Graceful deletion: preStop, then SIGTERM (ignored), then SIGKILL once 3 s have passed.
    wait_phase(c, "default", "grace", "Running");
    poll("the stubborn container up", Duration::from_secs(30), || {
        lines(&grace).contains(&"up".to_string()).then_some(())
    });
    let t0 = std::time::Instant::now();
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "grace", "--wait=false"]);
    poll("the grace pod gone", Duration::from_secs(60), || {
        (!c.api.kubectl(KUBECTL, &["get", "pod", "grace"]).status.success()).then_some(())
    });
    assert!(t0.elapsed() >= Duration::from_secs(3), "killed before its grace period: {:?}", t0.elapsed());
    assert_eq!(lines(&grace), ["up", "prestop", "got-term"]);

    // The sidecar stops after the app.
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "init-demo", "--wait=false"]);
    poll("init-demo gone", Duration::from_secs(60), || {
        (!c.api.kubectl(KUBECTL, &["get", "pod", "init-demo"]).status.success()).then_some(())
    });
    assert_eq!(lines(&order)[4..], ["main-stop", "sidecar-stop"]);

    // A kubelet restart adopts the running container: same container, no restart.
    let before = container_status(c, "steady");
    assert!(before["state"]["running"].is_object(), "{before}");
    n.restart_kubelet();
    c.api.kubectl_ok(KUBECTL, &["run", "after-restart", "--image=busybox", "--", "sleep", "3600"]);
    wait_phase(c, "default", "after-restart", "Running");
    let after = container_status(c, "steady");
    assert_eq!(after["containerID"], before["containerID"]);
    assert_eq!(after["state"]["running"]["startedAt"], before["state"]["running"]["startedAt"]);
    assert_eq!(after["restartCount"], 0);

    // Deleted while the kubelet is down: Terminating until it returns, then gone.
    n.stop_kubelet();
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "steady", "--wait=false"]);
    let p = get_json(c, &["pod", "steady"]);
    assert!(p["metadata"]["deletionTimestamp"].is_string(), "{p}");
    n.restart_kubelet();
    poll("steady gone after the kubelet returned", Duration::from_secs(60), || {
        (!c.api.kubectl(KUBECTL, &["get", "pod", "steady"]).status.success()).then_some(())
    });
}

/// A Deployment of 3 replicas across 2 nodes: each pod's IP is in its node's pod CIDR.
#[test]
fn a_deployment_spreads_over_two_nodes_with_their_pod_cidrs() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let n1 = Node::start(&c.api, &sw, "node-a", "172.18.0.2", &[]);
    let n2 = Node::start(&c.api, &sw, "node-b", "172.18.0.3", &[]);
    let cidr1 = wait_node_ready(c, &n1)["spec"]["podCIDR"].as_str().unwrap().to_string();
    let cidr2 = wait_node_ready(c, &n2)["spec"]["podCIDR"].as_str().unwrap().to_string();
    assert_ne!(cidr1, cidr2);
    c.api.kubectl_ok(
        KUBECTL,
        &["create", "deployment", "web", "--image=busybox", "--replicas=3", "--", "sleep", "3600"],
    );
    let pods = poll("3 web pods Running", Duration::from_secs(120), || {
        let list = get_json(c, &["pods", "-l", "app=web"]);
        let items = list["items"].as_array()?.clone();
        (items.len() == 3
            && items.iter().all(|p| p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string()))
        .then_some(items)
    });
    let mut nodes = std::collections::BTreeSet::new();
    for p in &pods {
        let node = p["spec"]["nodeName"].as_str().unwrap();
        let ip = p["status"]["podIP"].as_str().unwrap();
        let cidr = if node == "node-a" { &cidr1 } else { &cidr2 };
        assert!(in_cidr(ip, cidr), "{ip} of a pod on {node} outside {cidr}");
        let host = if node == "node-a" { "172.18.0.2" } else { "172.18.0.3" };
        assert_eq!(p["status"]["hostIP"], host);
        nodes.insert(node.to_string());
    }
    assert_eq!(nodes.len(), 2, "the scheduler spreads the replicas: {nodes:?}");
}

/// Bad input: an image that does not exist is ErrImagePull then ImagePullBackOff; a crashing
/// container goes into CrashLoopBackOff with a growing back-off; the node keeps working.
#[test]
fn bad_images_and_crashing_containers_back_off() {
    let (cp, _sw, _n) = one_node("node-b", &[]);
    let c = &cp.c;
    c.api.kubectl_ok(KUBECTL, &["run", "noimage", "--image=localhost/does-not-exist:1.0"]);
    c.api.kubectl_ok(KUBECTL, &["run", "crash", "--image=busybox", "--", "sh", "-c", "echo crashing; exit 3"]);
    let w = poll("ImagePullBackOff", Duration::from_secs(90), || {
        let w = container_status(c, "noimage")["state"]["waiting"].clone();
        (w["reason"] == "ImagePullBackOff").then_some(w)
    });
    assert_eq!(w["message"], "Back-off pulling image \"localhost/does-not-exist:1.0\"");
    poll("the pull failure event", Duration::from_secs(30), || {
        events_for(c, "default", "noimage")
            .iter()
            .any(|e| {
                e["reason"] == "Failed"
                    && e["message"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("Failed to pull image \"localhost/does-not-exist:1.0\"")
            })
            .then_some(())
    });
    let st = poll("CrashLoopBackOff", Duration::from_secs(90), || {
        let st = container_status(c, "crash");
        (st["state"]["waiting"]["reason"] == "CrashLoopBackOff" && st["restartCount"].as_i64()? >= 1).then_some(st)
    });
    let msg = st["state"]["waiting"]["message"].as_str().unwrap();
    assert!(msg.starts_with("back-off 10s restarting failed container=crash pod=crash_default("), "{msg}");
    assert_eq!(st["lastState"]["terminated"]["exitCode"], 3, "{st}");
    assert_eq!(st["lastState"]["terminated"]["reason"], "Error", "{st}");
    let p = get_json(c, &["pod", "crash"]);
    assert_eq!(p["status"]["phase"], "Running");
    let table = c.api.kubectl_ok(KUBECTL, &["get", "pod", "crash"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    // The back-off grows: the next wait is 20 s.
    poll("the second back-off", Duration::from_secs(60), || {
        let st = container_status(c, "crash");
        st["state"]["waiting"]["message"].as_str()?.starts_with("back-off 20s").then_some(())
    });
    // The node still runs pods.
    c.api.kubectl_ok(KUBECTL, &["run", "fine", "--image=busybox", "--", "sleep", "3600"]);
    wait_phase(c, "default", "fine", "Running");
}

/// What a pod's end says: the termination message file (and the log fallback), an exceeded
/// activeDeadlineSeconds, a runAsNonRoot pod on a root image, and admission beyond --max-pods.
#[test]
fn termination_messages_deadlines_non_root_and_max_pods() {
    let (cp, _sw, _n) = one_node("node-m", &["--max-pods=4"]);
    let c = &cp.c;
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: Never
  containers:
  - {name: app, image: busybox, command: ["sh", "-c", "echo goodbye > /dev/termination-log; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: fallback}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo last words from the log; exit 2"]
---
apiVersion: v1
kind: Pod
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 2
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox, command: ["sleep", "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: app, image: busybox, command: ["sleep", "3600"]}]
"#,
    );
    let p = wait_phase(c, "default", "msg", "Failed");
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["message"], "goodbye\n", "{t}");
    assert_eq!(t["exitCode"], 1);
    let p = wait_phase(c, "default", "fallback", "Failed");
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["message"], "last words from the log\n", "{t}");

    let p = wait_phase(c, "default", "deadline", "Failed");
    assert_eq!(p["status"]["reason"], "DeadlineExceeded");
    assert_eq!(p["status"]["message"], "Pod was active on the node longer than the specified deadline");

    let w = poll("runAsNonRoot refused", Duration::from_secs(60), || {
        let w = container_status(c, "nonroot")["state"]["waiting"].clone();
        (w["reason"] == "CreateContainerConfigError").then_some(w)
    });
    let uid = get_json(c, &["pod", "nonroot"])["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        w["message"],
        format!(
            "container has runAsNonRoot and image will run as root (pod: \"nonroot_default({uid})\", container: app)"
        )
    );

    // Admission: bound straight to the node (no scheduler), the pods beyond --max-pods=4 are
    // rejected. Four are admitted already: msg, fallback, deadline (ended) count no more;
    // nonroot does.
    for i in 0..4 {
        apply(
            c,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: direct-{i}}}\nspec:\n  nodeName: node-m\n  containers: [{{name: app, image: busybox, command: [sleep, '3600']}}]\n"
            ),
        );
    }
    let rejected = poll("a pod rejected with OutOfpods", Duration::from_secs(60), || {
        let list = get_json(c, &["pods"]);
        list["items"].as_array()?.iter().find(|p| p["status"]["reason"] == "OutOfpods").cloned()
    });
    assert_eq!(rejected["status"]["phase"], "Failed");
    assert_eq!(
        rejected["status"]["message"],
        "Node didn't have enough resource: pods, requested: 1, used: 4, capacity: 4"
    );
}

/// Faults: containerd restarted under the kubelet (it reconnects; running containers stay and
/// new pods start), and the apiserver away for a while (pods keep running; what happened
/// meanwhile reaches the API once it is back).
#[test]
fn the_node_rides_out_a_containerd_restart_and_an_apiserver_outage() {
    let (mut cp, sw) = control_plane();
    let n = Node::start(&cp.c.api, &sw, "node-f", "172.18.0.2", &[]);
    wait_node_ready(&cp.c, &n);
    let out = n.path("out");
    std::fs::create_dir_all(&out).unwrap();
    apply(
        &cp.c,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: ticker}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{{name: out, hostPath: {{path: {out}}}}}]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "while [ ! -e /out/stop ]; do date +%s >> /out/ticks; sleep 0.2; done; rm /out/stop"]
    volumeMounts: [{{name: out, mountPath: /out}}]
"#,
            out = out.display()
        ),
    );
    let before = wait_phase(&cp.c, "default", "ticker", "Running");
    let id = before["status"]["containerStatuses"][0]["containerID"].clone();
    let ticks = || lines(&out.join("ticks")).len();

    n.restart_containerd();
    let seen = ticks();
    poll("the container still ticking", Duration::from_secs(20), || (ticks() > seen + 3).then_some(()));
    cp.c.api.kubectl_ok(KUBECTL, &["run", "after-containerd", "--image=busybox", "--", "sleep", "3600"]);
    wait_phase(&cp.c, "default", "after-containerd", "Running");
    let p = get_json(&cp.c, &["pod", "ticker"]);
    assert_eq!(p["status"]["containerStatuses"][0]["containerID"], id);
    assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 0);

    // The apiserver goes away; the pod keeps running, and the container's exit and restart
    // meanwhile (the stop file ends one run) reach its status once the apiserver is back.
    cp.c.api.stop();
    std::fs::write(out.join("stop"), "").unwrap();
    poll("the container restarted without an apiserver", Duration::from_secs(30), || {
        (!out.join("stop").exists()).then_some(())
    });
    let seen = ticks();
    poll("ticking again without an apiserver", Duration::from_secs(30), || (ticks() > seen + 3).then_some(()));
    cp.c.api.restart();
    wait_node_ready(&cp.c, &n);
    poll("the restart in the status", Duration::from_secs(60), || {
        let st = container_status(&cp.c, "ticker");
        (st["restartCount"] == 1 && st["state"]["running"].is_object()).then_some(())
    });
    assert_ne!(container_status(&cp.c, "ticker")["containerID"], id);
}

/// A pod that sleeps: `node` binds it without the scheduler, `resources` is the container's
/// `resources` (flow style, or empty).
fn sleeper(name: &str, node: Option<&str>, resources: &str) -> String {
    let node = node.map(|n| format!("  nodeName: {n}\n")).unwrap_or_default();
    let resources = if resources.is_empty() { String::new() } else { format!(", resources: {resources}") };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{node}  terminationGracePeriodSeconds: 1\n  containers: [{{name: app, image: busybox, command: [sleep, '3600']{resources}}}]\n"
    )
}

fn node_condition(c: &Cluster, node: &str, type_: &str) -> Value {
    condition(&get_json(c, &["node", node]), type_).cloned().unwrap_or(Value::Null)
}

/// Waits on the eviction loop: it observes every 10 s and waits up to 30 s for a cleanup.
const EVICTION_WAIT: Duration = Duration::from_secs(90);

#[test]
fn disk_pressure_and_local_storage_limits_evict_pods() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let mut n = Node::start(
        &c.api,
        &sw,
        "node-e",
        "172.18.0.2",
        &["--eviction-hard=nodefs.available<24Mi", "--eviction-pressure-transition-period=15s"],
    );
    wait_node_ready(c, &n);
    // The node filesystem (the kubelet's root directory) becomes a 64 MiB tmpfs, so that a
    // pod can fill it; images and writable layers stay on containerd's own filesystem.
    n.stop_kubelet();
    let root = n.path("kubelet");
    let out = n.exec(&["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", root.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    n.restart_kubelet();
    poll("ephemeral-storage capacity of the tmpfs", Duration::from_secs(60), || {
        let node = get_json(c, &["node", "node-e"]);
        (node["status"]["capacity"]["ephemeral-storage"] == "64Mi").then_some(())
    });
    apply(
        c,
        &(sleeper("calm", None, "{requests: {ephemeral-storage: 1Mi}}")
            + r#"---
apiVersion: v1
kind: Pod
metadata: {name: capped}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: cache, emptyDir: {sizeLimit: 1Mi}}]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/cache/fill bs=1024 count=2048; sleep 3600"]
    volumeMounts: [{name: cache, mountPath: /cache}]
---
apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/fill bs=1024 count=4096; sleep 3600"]
    resources: {limits: {ephemeral-storage: 1Mi}}
"#),
    );
    // Local storage limits evict regardless of node pressure.
    let p = wait_phase(c, "default", "capped", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    assert_eq!(p["status"]["message"], "Usage of EmptyDir volume \"cache\" exceeds the limit \"1Mi\". ");
    let p = poll("greedy evicted", EVICTION_WAIT, || {
        let p = get_json(c, &["pod", "greedy"]);
        (p["status"]["phase"] == "Failed").then_some(p)
    });
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    assert_eq!(p["status"]["message"], "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ");
    let ev = events_for(c, "default", "capped");
    assert!(ev.iter().any(|e| e["reason"] == "Evicted" && e["type"] == "Warning"), "{ev:?}");
    // An evicted pod's volumes are torn down.
    let capped_uid = get_json(c, &["pod", "capped"])["metadata"]["uid"].as_str().unwrap().to_string();
    poll("the evicted pod's emptyDir removed", Duration::from_secs(30), || {
        (!root.join("pods").join(&capped_uid).join("volumes").exists()).then_some(())
    });

    // A pod fills the node filesystem past the threshold: DiskPressure, and the pod using more
    // than it requested goes first; the one within its request stays.
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=1M count=48; sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
"#,
    );
    let cond = poll("DiskPressure", EVICTION_WAIT, || {
        let cond = node_condition(c, "node-e", "DiskPressure");
        (cond["status"] == "True").then_some(cond)
    });
    assert_eq!(cond["reason"], "KubeletHasDiskPressure", "{cond}");
    assert_eq!(cond["message"], "kubelet has disk pressure");
    let p = wait_phase(c, "default", "hog", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    let msg = p["status"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("The node was low on resource: ephemeral-storage. Threshold quantity: 24Mi, available: "),
        "{msg}"
    );
    let dt = condition(&p, "DisruptionTarget").cloned().unwrap_or(Value::Null);
    assert_eq!(dt["status"], "True", "{p}");
    assert_eq!(dt["reason"], "TerminationByKubelet");
    let node_events = get_json(c, &["events", "-n", "default", "--field-selector", "involvedObject.kind=Node"]);
    let items = node_events["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items.iter().any(|e| e["reason"] == "EvictionThresholdMet" && e["message"] == "Attempting to reclaim ephemeral-storage"),
        "{items:?}"
    );
    // The hog's volume is gone with it, the pressure passes, and the calm pod kept running.
    poll("DiskPressure over", EVICTION_WAIT, || {
        (node_condition(c, "node-e", "DiskPressure")["status"] == "False").then_some(())
    });
    assert_eq!(get_json(c, &["pod", "calm"])["status"]["phase"], "Running");

    // Pressure the pods cannot relieve (a file on the node): new pods are refused.
    let junk = root.join("junk");
    let out = n.exec(&["dd", "if=/dev/zero", &format!("of={}", junk.display()), "bs=1M", "count=48"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    poll("DiskPressure again", EVICTION_WAIT, || {
        (node_condition(c, "node-e", "DiskPressure")["status"] == "True").then_some(())
    });
    apply(c, &sleeper("late", Some("node-e"), ""));
    let p = wait_phase(c, "default", "late", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    assert_eq!(p["status"]["message"], "The node had condition: [DiskPressure]. ");
    // With nothing else to take, the calm pod is evicted too.
    let p = wait_phase(c, "default", "calm", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    let out = n.exec(&["rm", "-f", junk.to_str().unwrap()]);
    assert!(out.status.success());
    poll("DiskPressure over again", EVICTION_WAIT, || {
        (node_condition(c, "node-e", "DiskPressure")["status"] == "False").then_some(())
    });
    apply(c, &sleeper("after", Some("node-e"), ""));
    wait_phase(c, "default", "after", "Running");
}

/// Containers of one pod (and container) the node's containerd holds.
fn runtime_containers(n: &Node, pod: &str, container: &str) -> usize {
    let out = n.ctr(&[
        "containers",
        "ls",
        "-q",
        &format!("labels.\"io.kubernetes.pod.name\"=={pod},labels.\"io.kubernetes.container.name\"=={container}"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count()
}

fn node_images(c: &Cluster, node: &str) -> Vec<String> {
    let n = get_json(c, &["node", node]);
    n["status"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[test]
fn garbage_collection_and_log_rotation() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let mut n = Node::start(&c.api, &sw, "node-g", "172.18.0.2", &[]);
    n.kubelet_config = "imageGCHighThresholdPercent: 1\nimageGCLowThresholdPercent: 0\nimageMinimumGCAge: 0s\ncontainerLogMaxSize: 8Ki\ncontainerLogMaxFiles: 3\ncontainerLogMonitorInterval: 3s\n".into();
    n.restart_kubelet();
    wait_node_ready(c, &n);
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers: [{name: app, image: "busybox:1.36", command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers: [{name: app, image: busybox, command: ["sh", "-c", "exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i of a chatty container that writes its log quickly; sleep 0.01; done"]
"#,
    );
    wait_phase(c, "default", "once", "Succeeded");
    wait_phase(c, "default", "keeper", "Running");
    let once_uid = get_json(c, &["pod", "once"])["metadata"]["uid"].as_str().unwrap().to_string();
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "once", "--wait=true"]);

    // Log rotation: the live file plus rotated ones, the older ones gzipped, never more than
    // containerLogMaxFiles; the runtime keeps writing the live file.
    let chatty_uid = poll("chatty uid", Duration::from_secs(30), || {
        get_json(c, &["pod", "chatty"])["metadata"]["uid"].as_str().map(str::to_string)
    });
    let dir = n.path("pods-logs").join(format!("default_chatty_{chatty_uid}")).join("app");
    let list = |dir: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.ends_with(".tmp"))
            .collect();
        v.sort();
        v
    };
    let files = poll("a compressed rotation", Duration::from_secs(60), || {
        let files = list(&dir);
        assert!(files.len() <= 3, "more than containerLogMaxFiles: {files:?}");
        // Between a rename and the runtime reopening it, the live file is missing.
        (files.iter().any(|f| f.ends_with(".gz")) && files.contains(&"0.log".to_string())).then_some(files)
    });
    assert!(files.iter().all(|f| f == "0.log" || f.starts_with("0.log.2")), "{files:?}");
    poll("the live log written after a rotation", Duration::from_secs(30), || {
        let live = n.container_log("default", "chatty", "app");
        live.lines().any(|l| l.starts_with("line ")).then_some(())
    });

    // Dead containers: at most one kept beside the live one.
    poll("crash restarted three times", Duration::from_secs(120), || {
        (container_status(c, "crash")["restartCount"].as_i64().unwrap_or(0) >= 3).then_some(())
    });
    poll("old dead containers collected", Duration::from_secs(90), || {
        (runtime_containers(&n, "crash", "app") <= 2).then_some(())
    });
    // The deleted pod's logs go too.
    poll("the deleted pod's logs removed", Duration::from_secs(90), || {
        (!n.path("pods-logs").join(format!("default_once_{once_uid}")).exists()).then_some(())
    });

    // Image GC (it runs when the kubelet starts, then every five minutes): the image no
    // container uses any more (busybox, under both its tags) is removed; the one in use and
    // the sandbox image stay.
    assert!(node_images(c, "node-g").iter().any(|i| i.ends_with("busybox:1.36")));
    c.api.kubectl_ok(KUBECTL, &["delete", "pod", "crash", "chatty", "--wait=true"]);
    poll("busybox containers removed", Duration::from_secs(60), || {
        (runtime_containers(&n, "crash", "app") + runtime_containers(&n, "chatty", "app") == 0).then_some(())
    });
    n.restart_kubelet();
    let images = poll("busybox:1.36 collected", Duration::from_secs(60), || {
        let images = node_images(c, "node-g");
        (!images.iter().any(|i| i.ends_with("busybox:1.36"))).then_some(images)
    });
    assert!(images.iter().any(|i| i.ends_with("nginx:latest")), "{images:?}");
    let out = n.ctr(&["images", "ls", "-q"]);
    let refs = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(refs.contains("registry.k8s.io/pause:3.10"), "{refs}");
    assert!(!refs.contains("busybox"), "{refs}");
    let ev = get_json(c, &["events", "-n", "default", "--field-selector", "involvedObject.kind=Node"]);
    let items = ev["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items.iter().any(|e| e["reason"] == "FreeDiskSpaceFailed"
            && e["message"].as_str().unwrap_or("").starts_with("Failed to garbage collect required amount of images.")),
        "{items:?}"
    );
}

/// The image of the node's private registry (`hack/node.sh`: basic auth, user `puller`,
/// password `s3cret`).
const PRIVATE_IMAGE: &str = "private.registry.test/library/busybox:latest";

#[test]
fn image_pull_secrets_authenticate_to_a_private_registry() {
    let (cp, _sw, n) = one_node("node-p", &[]);
    let c = &cp.c;
    poll("default service account", Duration::from_secs(30), || {
        c.api.kubectl(KUBECTL, &["get", "sa", "default"]).status.success().then_some(())
    });
    let pod = |name: &str, secrets: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  {secrets}\n  containers: [{{name: app, image: \"{PRIVATE_IMAGE}\", imagePullPolicy: Always, command: [sleep, '3600']}}]\n"
        )
    };
    // Anonymous pulls are refused.
    apply(c, &pod("anon", "imagePullSecrets: []"));
    let w = poll("the anonymous pull refused", Duration::from_secs(60), || {
        let w = container_status(c, "anon")["state"]["waiting"].clone();
        (w["reason"] == "ErrImagePull" || w["reason"] == "ImagePullBackOff").then_some(w)
    });
    let ev = events_for(c, "default", "anon");
    assert!(
        ev.iter().any(|e| e["reason"] == "Failed" && e["message"].as_str().unwrap_or("").contains("401 Unauthorized")),
        "{w} {ev:?}"
    );
    // A docker-registry secret, named by the pod.
    c.api.kubectl_ok(
        KUBECTL,
        &[
            "create",
            "secret",
            "docker-registry",
            "regcred",
            "--docker-server=private.registry.test",
            "--docker-username=puller",
            "--docker-password=s3cret",
        ],
    );
    apply(c, &pod("authed", "imagePullSecrets: [{name: regcred}]"));
    wait_phase(c, "default", "authed", "Running");
    // Through the service account: admission copies its pull secrets into the pod.
    c.api.kubectl_ok(
        KUBECTL,
        &["patch", "serviceaccount", "default", "-p", r#"{"imagePullSecrets":[{"name":"regcred"}]}"#],
    );
    apply(
        c,
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: via-sa}}\nspec:\n  containers: [{{name: app, image: \"{PRIVATE_IMAGE}\", imagePullPolicy: Always, command: [sleep, '3600']}}]\n"
        ),
    );
    let p = wait_phase(c, "default", "via-sa", "Running");
    assert_eq!(p["spec"]["imagePullSecrets"][0]["name"], "regcred");
    // A secret that does not exist is reported, and the pull goes on without it.
    apply(c, &pod("missing", "imagePullSecrets: [{name: nope}]"));
    poll("FailedToRetrieveImagePullSecret", Duration::from_secs(60), || {
        events_for(c, "default", "missing")
            .iter()
            .any(|e| {
                e["reason"] == "FailedToRetrieveImagePullSecret"
                    && e["message"]
                        == "Unable to retrieve some image pull secrets (nope); attempting to pull the image may not succeed."
            })
            .then_some(())
    });
    poll("the pull without the secret refused", Duration::from_secs(60), || {
        let w = container_status(c, "missing")["state"]["waiting"].clone();
        (w["reason"] == "ErrImagePull" || w["reason"] == "ImagePullBackOff").then_some(())
    });
    drop(n);
}

/// The project's test server in its two images: seed 004's `jpetazzo/httpenv` (the
/// environment as JSON on 8888) and agnhost's `netexec` behind a readiness probe.
#[test]
fn the_test_images_serve_http() {
    let (cp, _sw, n) = one_node("node-t", &[]);
    let c = &cp.c;
    c.api.kubectl_ok(KUBECTL, &["create", "deployment", "web", "--image=jpetazzo/httpenv"]);
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: netexec}
spec:
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"#,
    );
    let web = poll("the httpenv pod running", Duration::from_secs(90), || {
        let list = get_json(c, &["pods", "-l", "app=web"]);
        let p = list["items"].as_array()?.first()?.clone();
        (p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string()).then_some(p)
    });
    let ip = web["status"]["podIP"].as_str().unwrap();
    let out = poll("httpenv answers", Duration::from_secs(30), || {
        let out = n.exec(&["curl", "-sf", "--max-time", "2", &format!("http://{ip}:8888/")]);
        out.status.success().then_some(out)
    });
    let env: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(env["HOSTNAME"], web["metadata"]["name"], "{env}");
    assert!(env["KUBERNETES_SERVICE_HOST"].is_string(), "{env}");

    let p = poll("netexec ready", Duration::from_secs(90), || {
        let p = get_json(c, &["pod", "netexec"]);
        (condition(&p, "Ready")?["status"] == "True").then_some(p)
    });
    let ip = p["status"]["podIP"].as_str().unwrap();
    let get = |path: &str| {
        let out = n.exec(&["curl", "-sf", "--max-time", "2", &format!("http://{ip}:8080{path}")]);
        assert!(out.status.success(), "GET {path}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(get("/hostname"), "netexec");
    assert_eq!(get("/echo?msg=hello%20there"), "hello there");
    let shell: Value = serde_json::from_str(&get("/shell?cmd=id%20-u")).expect("JSON");
    assert_eq!(shell["output"], "0\n", "{shell}");
}

/// Memory pressure from the pods' own cgroup (`allocatableMemory.available`, watched because
/// allocatable is enforced on pods): with all but 400 MiB of the machine reserved, a pod
/// filling a memory-backed emptyDir leaves less than the 100 MiB threshold.
#[test]
fn memory_pressure_evicts_the_pod_over_its_request_and_refuses_best_effort_pods() {
    let (cp, sw) = control_plane();
    let c = &cp.c;
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    let total_kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    let reserved = format!("--system-reserved=memory={}Ki", total_kib - 400 * 1024);
    let n = Node::start(
        &c.api,
        &sw,
        "node-mem",
        "172.18.0.2",
        &[&reserved, "--eviction-hard=memory.available<100Mi", "--eviction-pressure-transition-period=30s"],
    );
    wait_node_ready(c, &n);
    let node = get_json(c, &["node", "node-mem"]);
    assert_eq!(node["status"]["allocatable"]["memory"], "300Mi", "{}", node["status"]);
    apply(c, &sleeper("calm", None, "{requests: {memory: 20Mi}}"));
    wait_phase(c, "default", "calm", "Running");
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{name: mem, emptyDir: {medium: Memory}}]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/mem/fill bs=1M count=320; sleep 3600"]
    volumeMounts: [{name: mem, mountPath: /mem}]
"#,
    );
    let p = wait_phase(c, "default", "hog", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    let msg = p["status"]["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with("The node was low on resource: memory. Threshold quantity: 100Mi, available: "), "{msg}");
    assert!(
        msg.contains("Container app was using ") && msg.ends_with(", request is 0, has larger consumption of memory. "),
        "{msg}"
    );
    // Under memory pressure a BestEffort pod is refused and a Burstable one admitted.
    let cond = poll("MemoryPressure reported", Duration::from_secs(30), || {
        let cond = node_condition(c, "node-mem", "MemoryPressure");
        (cond["status"] == "True").then_some(cond)
    });
    assert_eq!(cond["reason"], "KubeletHasInsufficientMemory");
    assert_eq!(cond["message"], "kubelet has insufficient memory available");
    apply(c, &sleeper("late", Some("node-mem"), ""));
    apply(c, &sleeper("modest", Some("node-mem"), "{requests: {memory: 10Mi}}"));
    let p = wait_phase(c, "default", "late", "Failed");
    assert_eq!(p["status"]["reason"], "Evicted", "{p}");
    assert_eq!(p["status"]["message"], "The node had condition: [MemoryPressure]. ");
    wait_phase(c, "default", "modest", "Running");
    poll("MemoryPressure over", Duration::from_secs(90), || {
        (node_condition(c, "node-mem", "MemoryPressure")["status"] == "False").then_some(())
    });
    assert_eq!(get_json(c, &["pod", "calm"])["status"]["phase"], "Running");
}

/// kubectl `args` with `env`, failed if it takes longer than a minute.
fn kubectl_env(c: &Cluster, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> std::process::Output {
    kubectl_at(c, KUBECTL, env, args, stdin)
}

/// kubectl `version` with `env` and `args`, failed if it takes longer than a minute.
fn kubectl_at(
    c: &Cluster,
    version: &str,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut cmd = c.api.kubectl_cmd(version, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    e2e::run_with_deadline(cmd, stdin.map(str::as_bytes), Duration::from_secs(60))
}

fn stdout_ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The SPDY path: kubectl told not to try WebSockets first.
const SPDY: &[(&str, &str)] =
    &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), ("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];

/// `kubectl logs` with its options, through the apiserver's `pods/log` and the kubelet (via
/// the egress proxy), and the apiserver's checks before it reaches a kubelet.
#[test]
fn kubectl_logs_reads_through_the_apiserver() {
    let (cp, _sw, n) = one_node("node-1", &[]);
    let c = &cp.c;
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "for i in $(seq 1 20); do echo line-$i; done; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo after-start; sleep 3600"]
  - {name: side, image: busybox, command: ["sh", "-c", "echo from-side; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - {name: app, image: busybox, command: ["sh", "-c", "echo run-at-$(date +%s%N); sleep 1; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: nowhere}
spec:
  nodeSelector: {no-such-label: "true"}
  containers:
  - {name: app, image: busybox}
"#,
    );
    wait_phase(c, "default", "talker", "Running");
    let logs = |args: &[&str]| -> String {
        let mut a = vec!["logs"];
        a.extend_from_slice(args);
        stdout_ok(&kubectl_env(c, &[], &a, None), &format!("kubectl {a:?}"))
    };
    let all = poll("talker's 20 lines", Duration::from_secs(30), || {
        let out = logs(&["talker", "-c", "app"]);
        out.contains("line-20").then_some(out)
    });
    assert_eq!(all.lines().collect::<Vec<_>>(), (1..=20).map(|i| format!("line-{i}")).collect::<Vec<_>>());
    assert_eq!(logs(&["talker", "-c", "app", "--tail=3"]), "line-18\nline-19\nline-20\n");
    let older = kubectl_at(c, "1.32", &[], &["logs", "talker", "-c", "app", "--tail=2"], None);
    assert_eq!(stdout_ok(&older, "kubectl 1.32 logs"), "line-19\nline-20\n");
    assert_eq!(logs(&["talker", "-c", "side"]), "from-side\n");
    assert_eq!(logs(&["talker", "-c", "app", "--since=1h"]).lines().count(), 20);
    assert_eq!(logs(&["talker", "-c", "app", "--limit-bytes=13"]), "line-1\nline-2");
    let stamped = logs(&["talker", "-c", "app", "--tail=1", "--timestamps"]);
    let (ts, line) = stamped.trim_end().split_once(' ').expect("a timestamp");
    assert_eq!(line, "line-20");
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{stamped}");
    // kubectl picks the first container itself; the apiserver asks for one.
    let raw = kubectl_env(c, &[], &["get", "--raw", "/api/v1/namespaces/default/pods/talker/log"], None);
    assert!(!raw.status.success());
    assert!(
        String::from_utf8_lossy(&raw.stderr)
            .contains("a container name must be specified for pod talker, choose one of: [app side]"),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let bad = kubectl_env(c, &[], &["logs", "talker", "-c", "nope"], None);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("container nope is not valid for pod talker"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let neg = kubectl_env(
        c,
        &[],
        &["get", "--raw", "/api/v1/namespaces/default/pods/talker/log?container=app&tailLines=-1"],
        None,
    );
    assert!(
        String::from_utf8_lossy(&neg.stderr)
            .contains("tailLines: Invalid value: -1: must be greater than or equal to 0"),
        "{}",
        String::from_utf8_lossy(&neg.stderr)
    );
    // A pod on no node has nothing to say (204).
    assert_eq!(logs(&["nowhere"]), "");

    // -f: a line written after the stream started arrives.
    let mut follow = c.api.kubectl_cmd(KUBECTL, &["logs", "-f", "talker", "-c", "app", "--tail=1"]);
    follow.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    let mut child = follow.spawn().expect("kubectl logs -f");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).expect("the tail line"), "line-20");
    stdout_ok(&kubectl_env(c, SPDY, &["exec", "talker", "-c", "app", "--", "touch", "/tmp/go"], None), "exec touch");
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).expect("the line written later"), "after-start");
    let _ = child.kill();
    let _ = child.wait();

    // --previous after a crash.
    poll("crasher restarted", Duration::from_secs(90), || {
        let p = get_json(c, &["pod", "crasher"]);
        (p["status"]["containerStatuses"][0]["restartCount"].as_i64()? >= 1).then_some(())
    });
    let prev = logs(&["crasher", "--previous"]);
    assert!(prev.starts_with("run-at-"), "{prev}");

    // nodes/proxy reaches the kubelet's API with the apiserver's client certificate.
    let healthz =
        stdout_ok(&kubectl_env(c, &[], &["get", "--raw", "/api/v1/nodes/node-1/proxy/healthz"], None), "healthz");
    assert_eq!(healthz, "ok");
    let pods: Value = serde_json::from_str(&stdout_ok(
        &kubectl_env(c, &[], &["get", "--raw", "/api/v1/nodes/node-1/proxy/pods"], None),
        "proxy pods",
    ))
    .expect("a pod list");
    assert!(pods["items"].as_array().unwrap().iter().any(|p| p["metadata"]["name"] == "talker"), "{pods}");

    // The summary API and /metrics/resource: a container that burned some CPU and holds
    // some memory shows both.
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: busy}
spec:
  containers:
  - {name: burn, image: busybox, command: ["sh", "-c", "head -c 50000000 /dev/urandom | md5sum; exec sleep 3600"]}
"#,
    );
    wait_phase(c, "default", "busy", "Running");
    let summary = poll("busy's CPU in the summary", Duration::from_secs(60), || {
        let out = kubectl_env(c, &[], &["get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary"], None);
        let s: Value = serde_json::from_slice(&out.stdout).ok()?;
        let p = s["pods"].as_array()?.iter().find(|p| p["podRef"]["name"] == "busy")?.clone();
        let ctr = p["containers"].as_array()?.iter().find(|c| c["name"] == "burn")?.clone();
        (ctr["cpu"]["usageCoreNanoSeconds"].as_u64()? > 50_000_000).then_some((s, p, ctr))
    });
    let (s, p, ctr) = summary;
    assert_eq!(s["node"]["nodeName"], "node-1");
    assert!(s["node"]["cpu"]["usageCoreNanoSeconds"].as_u64().unwrap() > 0, "{}", s["node"]);
    assert!(s["node"]["memory"]["workingSetBytes"].as_u64().unwrap() > 0, "{}", s["node"]);
    assert!(s["node"]["fs"]["capacityBytes"].as_u64().unwrap() > 0, "{}", s["node"]);
    assert!(ctr["memory"]["workingSetBytes"].as_u64().unwrap() > 0, "{ctr}");
    assert!(
        p["cpu"]["usageCoreNanoSeconds"].as_u64().unwrap() >= ctr["cpu"]["usageCoreNanoSeconds"].as_u64().unwrap(),
        "{p}"
    );
    assert!(p["memory"]["workingSetBytes"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(p["podRef"]["namespace"], "default");
    assert!(p["network"]["interfaces"].as_array().is_some_and(|i| !i.is_empty()), "{p}");
    let metrics = stdout_ok(
        &kubectl_env(c, &[], &["get", "--raw", "/api/v1/nodes/node-1/proxy/metrics/resource"], None),
        "metrics/resource",
    );
    let value = |prefix: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {metrics}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert!(value("container_cpu_usage_seconds_total{container=\"burn\",namespace=\"default\",pod=\"busy\"}") > 0.05);
    assert!(value("container_memory_working_set_bytes{container=\"burn\",namespace=\"default\",pod=\"busy\"}") > 0.0);
    assert!(value("node_cpu_usage_seconds_total ") > 0.0);
    assert!(
        metrics.contains("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes"),
        "{metrics}"
    );
    assert!(metrics.contains("\nresource_scrape_error 0\n"), "{metrics}");

    // Who may do what: pods/log is not pods/exec, and `get pods/exec` (a WebSocket's verb) is
    // not enough to exec, as in current upstream.
    for args in [
        &["create", "role", "log-reader", "--verb=get", "--resource=pods,pods/log"][..],
        &["create", "rolebinding", "log-reader", "--role=log-reader", "--user=logreader"],
        &["create", "role", "exec-getter", "--verb=get", "--resource=pods,pods/exec"],
        &["create", "rolebinding", "exec-getter", "--role=exec-getter", "--user=execgetter"],
    ] {
        stdout_ok(&kubectl_env(c, &[], args, None), "rbac");
    }
    assert!(logs(&["--as=logreader", "talker", "-c", "app", "--tail=1"]).contains("after-start"));
    for user in ["logreader", "execgetter"] {
        let denied = kubectl_env(c, &[], &[&format!("--as={user}"), "exec", "talker", "-c", "app", "--", "true"], None);
        let err = String::from_utf8_lossy(&denied.stderr).to_string();
        assert!(
            err.contains(&format!(
                "pods \"talker\" is forbidden: User \"{user}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
            )),
            "{user}: {err}"
        );
    }

    // A kubelet that is down: an error at once, not a hang.
    let mut n = n;
    n.stop_kubelet();
    let started = std::time::Instant::now();
    let down = kubectl_env(c, &[], &["logs", "talker", "-c", "app"], None);
    let err = String::from_utf8_lossy(&down.stderr).to_string();
    assert!(!down.status.success() && err.contains("172.18.0.2:10250"), "{err}");
    let down = kubectl_env(c, SPDY, &["exec", "talker", "-c", "app", "--", "true"], None);
    let err = String::from_utf8_lossy(&down.stderr).to_string();
    assert!(!down.status.success() && err.contains("error dialing backend"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

/// Runs `cmd` with `input` on its stdin, which stays open until a line of its stdout holds
/// `expect`; then stdin closes and the command must end. Fails after a minute.
fn converse(mut cmd: std::process::Command, input: &str, expect: &str) {
    use std::io::{BufRead, Write};
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("the command starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(expect) => break,
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?}: no {expect:?} in its output: {seen:?}");
            }
        }
    }
    drop(stdin);
    let ended = poll("the command to end", Duration::from_secs(30), || child.try_wait().ok().flatten());
    assert!(ended.success(), "{cmd:?}: {ended}");
}

/// The streaming calls of one kubectl, over WebSockets (checked not to fall back to SPDY:
/// client-go says so at -v=4) or over SPDY.
fn exec_attach_and_port_forward(c: &Cluster, version: &str, websockets: bool, round: usize) {
    let env: &[(&str, &str)] = if websockets { &[] } else { SPDY };
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut a: Vec<&str> = args.to_vec();
        if websockets {
            a.insert(1, "-v=4");
        }
        let out = kubectl_at(c, version, env, &a, stdin);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!err.contains("fallback"), "kubectl {version} fell back to SPDY for {args:?}: {err}");
        out
    };
    // Refused before any upgrade (as upstream, a WebSocket client then retries over SPDY and
    // reports that answer).
    let missing = kubectl_at(c, version, env, &["exec", "web", "-c", "zz", "--", "true"], None);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("container zz is not valid for pod web"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let what = format!("kubectl {version}, websockets {websockets}");
    assert_eq!(stdout_ok(&run(&["exec", "web", "--", "cat", "/etc/hostname"], None), &what), "web\n");
    // stdin piped in and closed: cat ends.
    assert_eq!(stdout_ok(&run(&["exec", "-i", "web", "--", "cat"], Some("hello\nworld\n")), &what), "hello\nworld\n");
    let three = run(&["exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], None);
    assert_eq!(three.status.code(), Some(3), "{what}: {}", String::from_utf8_lossy(&three.stderr));
    assert_eq!(String::from_utf8_lossy(&three.stdout), "out\n");
    assert!(String::from_utf8_lossy(&three.stderr).contains("err\n"), "{}", String::from_utf8_lossy(&three.stderr));
    // A TTY: kubectl asks for one with -t, and the shell sees a terminal.
    // kubectl needs a terminal of its own for that: `script` gives it one.
    let kubectl = e2e::kubectl_path(version);
    let line = format!("{} exec -it web -- sh -c 'tty; stty size; exit 4'", kubectl.display());
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    script.env("KUBECONFIG", &c.api.kubeconfig).env("HOME", c.api.dir.path().join("home"));
    for (k, v) in env {
        script.env(k, v);
    }
    let tty = e2e::run_with_deadline(script, None, Duration::from_secs(60));
    let tty_out = String::from_utf8_lossy(&tty.stdout).to_string();
    assert!(tty_out.contains("/dev/pts/"), "{what}: {tty_out} {}", String::from_utf8_lossy(&tty.stderr));
    assert_eq!(tty.status.code(), Some(4), "{what}: {tty_out}");

    // cp in and out: tar through exec, binary-safe.
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("in.bin"), &data).expect("write");
    let src = dir.path().join("in.bin").display().to_string();
    stdout_ok(&run(&["cp", &src, &format!("web:/tmp/in-{round}.bin")], None), &format!("{what}: cp in"));
    let out = dir.path().join("out.bin").display().to_string();
    stdout_ok(&run(&["cp", &format!("web:/tmp/in-{round}.bin"), &out], None), &format!("{what}: cp out"));
    assert!(std::fs::read(&out).expect("copied back") == data, "{what}: kubectl cp changed the file");

    // debug: an ephemeral container, in the target's process namespace, and one attached to.
    let dbg = format!("dbg-{round}");
    stdout_ok(
        &run(&["debug", "web", "--image=busybox", "-c", &dbg, "--target=nginx", "--", "sh", "-c", "ps"], None),
        &format!("{what}: debug"),
    );
    let ps = poll(&format!("{dbg}'s output"), Duration::from_secs(60), || {
        let out = kubectl_at(c, version, &[], &["logs", "web", "-c", &dbg], None);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("nginx: master process").then_some(text)
    });
    assert!(ps.contains("ps"), "{ps}");
    let pod = get_json(c, &["pod", "web"]);
    let st = pod["status"]["ephemeralContainerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == dbg.as_str()).cloned())
        .expect("the ephemeral container's status");
    assert_eq!(st["image"], "docker.io/library/busybox:latest", "{st}");
    // Attached: stdin stays open until the answer is back (a closed stdin ends an attach
    // session at once, as containerd does).
    let dbgi = format!("dbgi-{round}");
    let mut cmd = c.api.kubectl_cmd(version, &["debug", "-i", "web", "--image=busybox", "-c", &dbgi]);
    cmd.args(["--", "sh", "-c", "read x; echo got-$x; read y"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    converse(cmd, "abc\n", "got-abc");
    // With a terminal (-it), under `script`.
    let line = format!(
        "{} debug -it web --image=busybox -c dbgt-{round} -- sh -c 'read x; tty; echo got-$x'",
        e2e::kubectl_path(version).display()
    );
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    script.env("KUBECONFIG", &c.api.kubeconfig).env("HOME", c.api.dir.path().join("home"));
    script.envs(env.iter().copied());
    converse(script, "abc\n", "got-abc");

    // attach: what is piped in reaches the container's stdin, its output comes back.
    let reader = format!("reader-{round}");
    apply(
        c,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {reader}}}
spec:
  containers:
  - name: app
    image: busybox
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got-$l; done; echo stdin-closed"]
  restartPolicy: Never
"#
        ),
    );
    wait_phase(c, "default", &reader, "Running");
    let att = run(&["attach", "-i", &reader, "-c", "app"], Some("one\ntwo\n"));
    let text = String::from_utf8_lossy(&att.stdout).to_string();
    assert!(
        text.contains("got-one\ngot-two\nstdin-closed"),
        "{what}: {text}\n{}",
        String::from_utf8_lossy(&att.stderr)
    );

    // port-forward: curl on the local port reaches nginx.
    let port = e2e::free_port().to_string();
    let mut pf = c.api.kubectl_cmd(version, &["port-forward", "pod/web", &format!("{port}:80"), "-v=4"]);
    for (k, v) in env {
        pf.env(k, v);
    }
    let log = tempfile::NamedTempFile::new().expect("log file");
    pf.stdout(std::process::Stdio::null()).stderr(log.reopen().expect("log"));
    let mut child = pf.spawn().expect("kubectl port-forward");
    let fetch = || {
        let out = std::process::Command::new("curl")
            .args(["-s", "--max-time", "5", &format!("http://127.0.0.1:{port}/")])
            .output()
            .ok()?;
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        body.contains("Welcome to nginx!").then_some(body)
    };
    let page = poll("nginx through port-forward", Duration::from_secs(30), fetch);
    // A second connection through the same forward.
    let again = poll("nginx through port-forward again", Duration::from_secs(10), fetch);
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.contains("<title>Welcome to nginx!</title>") && again.contains("nginx"));
    let pf_log = std::fs::read_to_string(log.path()).unwrap_or_default().to_lowercase();
    assert!(!(websockets && pf_log.contains("fallback")), "{what}: port-forward fell back: {pf_log}");
}

/// `kubectl exec` (stdin, exit codes, a TTY), `attach` and `port-forward` through the
/// apiserver, the kubelet and containerd's streaming server: over WebSockets with kubectl
/// 1.33 and 1.32 (the apiserver ends v5 and carries it over SPDY; port-forward's SPDY rides
/// inside the WebSocket), and over SPDY with WebSockets turned off.
#[test]
fn kubectl_exec_attach_and_port_forward() {
    let (cp, sw, n) = one_node("node-1", &[]);
    let c = &cp.c;
    apply(
        c,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: nginx, image: nginx}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"#,
    );
    let pod = wait_phase(c, "default", "web", "Running");
    // pods/proxy and services/proxy: the apiserver dials the pod (its CIDR routed through the
    // node on the switch, as a cluster network would route it).
    let cidr = get_json(c, &["node", "node-1"])["spec"]["podCIDR"].as_str().expect("podCIDR").to_string();
    sw.route(&cidr, "172.18.0.2");
    assert!(pod["status"]["podIP"].is_string());
    for path in ["/api/v1/namespaces/default/pods/web/proxy/", "/api/v1/namespaces/default/services/web:80/proxy/"] {
        let page = poll(path, Duration::from_secs(30), || {
            let out = kubectl_env(c, &[], &["get", "--raw", path], None);
            let body = String::from_utf8_lossy(&out.stdout).to_string();
            body.contains("Welcome to nginx!").then_some(body)
        });
        assert!(page.contains("<title>Welcome to nginx!</title>"), "{path}: {page}");
    }
    let refused = kubectl_env(c, &[], &["get", "--raw", "/api/v1/namespaces/default/pods/web:81/proxy/"], None);
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(err.contains("error trying to reach service"), "{err}");
    let none = kubectl_env(c, &[], &["get", "--raw", "/api/v1/namespaces/default/services/web:8080/proxy/"], None);
    let err = String::from_utf8_lossy(&none.stderr).to_string();
    assert!(err.contains("no service port 8080 found for service \"web\""), "{err}");
    exec_attach_and_port_forward(c, "1.33", true, 0);
    exec_attach_and_port_forward(c, "1.32", true, 1);
    exec_attach_and_port_forward(c, "1.33", false, 2);

    // Clients that vanish mid-session leave nothing behind: the apiserver's and the kubelet's
    // open files (their connections) return to where they were.
    let (api, kubelet) = (c.api.pid().expect("apiserver pid"), n.kubelet_pid().expect("kubelet pid"));
    let before = (e2e::open_files(api), e2e::open_files(kubelet));
    let mut sessions = Vec::new();
    for env in [&[][..], SPDY, &[][..], SPDY] {
        use std::io::{BufRead, Write};
        let mut cmd = c.api.kubectl_cmd(KUBECTL, &["exec", "-i", "web", "--", "cat"]);
        cmd.envs(env.iter().copied());
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("kubectl exec");
        child.stdin.as_mut().unwrap().write_all(b"ping\n").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ping\n");
        sessions.push(child);
    }
    let during = (e2e::open_files(api), e2e::open_files(kubelet));
    assert!(during.0 > before.0 && during.1 > before.1, "sessions hold connections: {before:?} -> {during:?}");
    for mut s in sessions {
        let _ = s.kill();
        let _ = s.wait();
    }
    poll("the sessions' connections closed", Duration::from_secs(30), || {
        let now = (e2e::open_files(api), e2e::open_files(kubelet));
        (now.0 <= before.0 && now.1 <= before.1).then_some(())
    });
}
