# Shell helpers the bench scripts share. Source it; it defines functions only.

# A free TCP port on loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_etcd DIR CLIENT_PORT PEER_PORT: a fresh etcd in DIR/etcd, logging to DIR/etcd.log;
# prints its PID once it answers /health.
start_etcd() {
  etcd --data-dir "$1/etcd" --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2" \
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3" \
    --initial-cluster "default=http://127.0.0.1:$3" --quota-backend-bytes=8589934592 >"$1/etcd.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/health" >/dev/null && break; sleep 0.1; done
  echo "$pid"
}

# start_apiserver DIR ETCD_PORT PORT [FLAG...]: a release kube-apiserver on the kubeadm PKI in
# DIR/pki, logging to DIR/apiserver.log; prints its PID once /readyz answers the admin pair
# (admin_pair first).
start_apiserver() {
  local dir=$1 ep=$2 ap=$3
  shift 3
  target/release/kube-apiserver --etcd-servers "http://127.0.0.1:$ep" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$ap" --service-cluster-ip-range 10.96.0.0/12 --tls-cert-file "$dir/pki/apiserver.crt" \
    --tls-private-key-file "$dir/pki/apiserver.key" --client-ca-file "$dir/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    "$@" >"$dir/apiserver.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    curl -sf --cacert "$dir/pki/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" "https://127.0.0.1:$ap/readyz" >/dev/null && break
    sleep 0.1
  done
  echo "$pid"
}

# admin_pair DIR: DIR/admin.crt and DIR/admin.key from the kubeconfig DIR/super-admin.conf
# (system:masters, as kubeadm's super-admin.conf: nothing binds admin.conf's group here).
admin_pair() {
  python3 - "$1" <<'PY'
import base64, sys, re
w = sys.argv[1]
t = open(w + "/super-admin.conf").read()
open(w + "/admin.crt", "wb").write(base64.b64decode(re.search(r"client-certificate-data: (\S+)", t).group(1)))
open(w + "/admin.key", "wb").write(base64.b64decode(re.search(r"client-key-data: (\S+)", t).group(1)))
PY
}

# start_bench_node WORK: what the node benchmarks measure against, from release binaries: a
# fresh etcd, kube-apiserver (reaching the kubelet with its client certificate through an
# egress proxy on the node switch), kube-controller-manager (node IPAM), kube-scheduler, and
# one node from hack/node.sh (namespace, containerd) with the kubelet, waited for until
# Ready. Sets AP (the apiserver's port), API_PID, KUBELET_PID and PIDS; the admin pair is
# WORK/admin.crt and WORK/admin.key. stop_bench_node WORK undoes it.
start_bench_node() {
  local work=$1 ep pp sp cp
  PIDS=()
  ep=$(port); pp=$(port); AP=$(port); sp=$(port); cp=$(port)
  target/release/kubeadm init phase certs all --apiserver-advertise-address 127.0.0.1 --cert-dir "$work/pki" >/dev/null
  for kc in super-admin scheduler controller-manager; do
    target/release/kubeadm init phase kubeconfig "$kc" --apiserver-advertise-address 127.0.0.1 --cert-dir "$work/pki" --kubeconfig-dir "$work" --apiserver-bind-port "$AP" >/dev/null
  done
  target/release/kubeadm init phase kubeconfig kubelet --apiserver-advertise-address 127.0.0.1 --node-name bench-node --cert-dir "$work/pki" --kubeconfig-dir "$work" \
    --apiserver-bind-port "$AP" >/dev/null
  PIDS+=("$(start_etcd "$work" "$ep" "$pp")")
  admin_pair "$work"
  bash hack/node.sh switch-up "$work/switch" 172.18.0.254/24 "$ROOT/target/release/k8s-rs-testserver" >/dev/null
  printf 'apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n- name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n    transport:\n      uds:\n        udsName: %s\n' \
    "$work/switch/egress.sock" >"$work/egress.yaml"
  API_PID=$(start_apiserver "$work" "$ep" "$AP" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --egress-selector-config-file "$work/egress.yaml" --kubelet-preferred-address-types InternalIP,Hostname \
    --kubelet-client-certificate "$work/pki/apiserver-kubelet-client.crt" --kubelet-client-key "$work/pki/apiserver-kubelet-client.key")
  PIDS+=("$API_PID")
  curl -sf --cacert "$work/pki/ca.crt" --cert "$work/admin.crt" --key "$work/admin.key" -H 'Content-Type: application/json' \
    -d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"kubeadm:cluster-admins"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"kubeadm:cluster-admins"}]}' \
    "https://127.0.0.1:$AP/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" >/dev/null
  target/release/kube-controller-manager --kubeconfig "$work/controller-manager.conf" \
    --authentication-kubeconfig "$work/controller-manager.conf" --authorization-kubeconfig "$work/controller-manager.conf" \
    --bind-address 127.0.0.1 --secure-port "$cp" --root-ca-file "$work/pki/ca.crt" \
    --service-account-private-key-file "$work/pki/sa.key" --use-service-account-credentials=true --leader-elect=false \
    --allocate-node-cidrs=true --cluster-cidr 10.244.0.0/16 >"$work/controller-manager.log" 2>&1 &
  PIDS+=($!)
  target/release/kube-scheduler --kubeconfig "$work/scheduler.conf" \
    --authentication-kubeconfig "$work/scheduler.conf" --authorization-kubeconfig "$work/scheduler.conf" \
    --bind-address 127.0.0.1 --secure-port "$sp" --leader-elect=false >"$work/scheduler.log" 2>&1 &
  PIDS+=($!)
  bash hack/node.sh up "$work/node" bench-node "$AP" "$work/switch" 172.18.0.2/24 >/dev/null
  printf 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodLogsDir: %s\ncontainerLogMaxSize: 1Gi\nauthentication: {x509: {clientCAFile: %s}}\n' \
    "$work/node/pod-logs" "$work/pki/ca.crt" >"$work/node/kubelet-config.yaml"
  nsenter --target "$(cat "$work/node/holder.pid")" --mount --net -- "$ROOT/target/release/kubelet" --kubeconfig "$work/kubelet.conf" \
    --config "$work/node/kubelet-config.yaml" --root-dir "$work/node/kubelet" --hostname-override bench-node \
    --node-ip 172.18.0.2 --container-runtime-endpoint "unix://$work/node/containerd.sock" \
    --cgroup-root "/$(cat "$work/node/netns")" >"$work/kubelet.log" 2>&1 &
  KUBELET_PID=$!
  PIDS+=("$KUBELET_PID")
  # The node is ready once the lifecycle controller lifts its not-ready taint.
  for _ in $(seq 600); do
    out=$(curl -sf --cacert "$work/pki/ca.crt" --cert "$work/admin.crt" --key "$work/admin.key" \
      "https://127.0.0.1:$AP/api/v1/nodes/bench-node" || true)
    if echo "$out" | python3 -c 'import json,sys
n = json.load(sys.stdin)
ready = any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
tainted = any(t["key"] == "node.kubernetes.io/not-ready" for t in n.get("spec", {}).get("taints", []) or [])
sys.exit(0 if ready and not tainted else 1)' 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench-node did not become Ready; see $work" >&2
  return 1
}

stop_bench_node() {
  local work=$1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  bash hack/node.sh down "$work/node" 2>/dev/null || true
  bash hack/node.sh switch-down "$work/switch" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
