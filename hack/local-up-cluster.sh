#!/usr/bin/env bash
# Brings up a local cluster kubeadm-style, from this checkout: installs dependencies, builds the
# binaries, the test images and the daemons' images, makes NODES nodes (hack/node.sh: a network
# namespace with its own containerd each, on one switch; its own /etc/kubernetes,
# /var/lib/kubelet and /var/lib/etcd; a kubelet supervised as kubelet.service would be), runs
# `kubeadm init` on node-1 (the control plane as static pods) and `kubeadm join` on the others,
# and prints how to point kubectl at it.
#
#   hack/local-up-cluster.sh          start the cluster (a running one is taken down first)
#   hack/local-up-cluster.sh add-node one more node, joined with a fresh `kubeadm token create
#                                     --print-join-command` from node-1
#   hack/local-up-cluster.sh down     stop it (by PID and namespace), keep its files
#   hack/local-up-cluster.sh clean    stop it and delete its files
#
# Environment: NODES (default 2), LOCAL_UP_DIR (default /tmp/k8s-rs-local), API_PORT (6443: the
# apiserver, relayed to the machine's loopback), SERVICE_CIDR (10.96.0.0/12), CLUSTER_CIDR
# (10.244.0.0/16), PROFILE (release|debug, default release), PROXY_MODE (iptables|nftables,
# default iptables), SKIP_DEPS=1, SKIP_BUILD=1 with BIN_DIR (binaries already built there; the
# e2e tests use these).
#
# The processes-only cluster of earlier versions (no kubeadm, no static pods) is
# hack/local-up-processes.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${LOCAL_UP_DIR:-/tmp/k8s-rs-local}
NODES=${NODES:-2}
API_PORT=${API_PORT:-6443}
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/12}
CLUSTER_CIDR=${CLUSTER_CIDR:-10.244.0.0/16}
PROFILE=${PROFILE:-release}
PROXY_MODE=${PROXY_MODE:-iptables}
DAEMON_IMAGES=${K8S_RS_DAEMON_IMAGES:-$HOME/.cache/k8s-rs/daemon-images}

node_ip() { echo "172.18.0.$(($1 + 1))"; }

stop() {
  if [ -f "$DIR/relay.pid" ]; then
    kill "$(cat "$DIR/relay.pid")" 2>/dev/null || true
    rm -f "$DIR/relay.pid"
  fi
  local n
  for n in "$DIR"/node-*; do
    [ -d "$n" ] && "$ROOT/hack/node.sh" down "$n"
  done
  if [ -d "$DIR/switch" ]; then "$ROOT/hack/node.sh" switch-down "$DIR/switch" || true; fi
}

CMD=${1:-up}
case "$CMD" in
  down) stop; echo "cluster stopped (files kept in $DIR)"; exit 0 ;;
  clean) stop; rm -rf "$DIR"; echo "cluster stopped and $DIR removed"; exit 0 ;;
  up | add-node) ;;
  *) echo "usage: $0 [up|add-node|down|clean]" >&2; exit 2 ;;
esac
[ "$NODES" -ge 1 ] 2>/dev/null || { echo "NODES must be a number >= 1" >&2; exit 2; }
BIN=${BIN_DIR:-$ROOT/target/$PROFILE}

# make_node I: node-I on the switch, a kubeadm node (hack/node.sh kubelet-unit) holding the
# daemons' images.
make_node() {
  local i=$1 n="$DIR/node-$1" t
  "$ROOT/hack/node.sh" up "$n" "node-$i" "" "$DIR/switch" "$(node_ip "$i")/24" >"$n.env"
  "$ROOT/hack/node.sh" kubelet-unit "$n" "$BIN/kubelet"
  # The node's /etc/default/kubelet: its pods' cgroups under the node's, its address.
  echo "KUBELET_EXTRA_ARGS=\"--cgroup-root=/$(cat "$n/netns") --node-ip=$(node_ip "$i")\"" >"$n/kubelet.env"
  # The daemons' images, as a node that pulled them would hold them.
  for t in "$DAEMON_IMAGES"/*.tar; do
    "$ROOT/hack/node.sh" exec "$n" ctr --address "$n/containerd.sock" -n k8s.io images import "$t" >/dev/null
  done
}

in_node() { # NODE_INDEX CMD...: CMD inside the node, with its systemctl
  local n="$DIR/node-$1"
  shift
  "$ROOT/hack/node.sh" exec "$n" env "PATH=$n/bin:$BIN:$PATH" "$@"
}

# join_node I JOIN_COMMAND...: kubeadm join on node-I.
join_node() {
  local i=$1
  shift
  echo ">>> kubeadm join on node-$i"
  in_node "$i" "$@" --node-name "node-$i" --cri-socket "unix://$DIR/node-$i/containerd.sock" \
    2>&1 | tee "$DIR/logs/kubeadm-join-node-$i.log"
}

# The pod network between nodes (what `kubeadm init` leaves to a network add-on): each node
# routes every other node's pod CIDR to that node's address, host-gw style.
pod_routes() {
  local i j cidr count
  count=$(find "$DIR" -maxdepth 1 -name 'node-*' -type d | wc -l)
  for i in $(seq "$count"); do
    for j in $(seq "$count"); do
      [ "$i" = "$j" ] && continue
      cidr=$(kubectl get node "node-$j" -o jsonpath='{.spec.podCIDR}')
      [ -n "$cidr" ] && "$ROOT/hack/node.sh" exec "$DIR/node-$i" ip route replace "$cidr" via "$(node_ip "$j")"
    done
  done
}

if [ "$CMD" = add-node ]; then
  [ -f "$DIR/admin.conf" ] || { echo "no cluster in $DIR: run $0 first" >&2; exit 1; }
  export KUBECONFIG=$DIR/admin.conf
  i=$(($(find "$DIR" -maxdepth 1 -name 'node-*' -type d | wc -l) + 1))
  echo ">>> node-$i"
  make_node "$i"
  read -ra join <<<"$(in_node 1 kubeadm token create --print-join-command)"
  start=$(date +%s%N)
  join_node "$i" "${join[@]}"
  kubectl wait --for=condition=Ready "node/node-$i" --timeout=120s >/dev/null
  echo "kubeadm join to node-$i Ready: $((($(date +%s%N) - start) / 1000000)) ms"
  pod_routes
  exit 0
fi

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  "$ROOT/hack/install-deps.sh"
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo ">>> building ($PROFILE)"
  flags=()
  [ "$PROFILE" = release ] && flags=(--release)
  (cd "$ROOT" && cargo build "${flags[@]}" --bin kube-apiserver --bin kube-controller-manager --bin kube-scheduler \
    --bin kubeadm --bin kubelet --bin kube-proxy --bin k8s-rs-testserver)
fi

echo ">>> images"
"$ROOT/hack/build-images.sh"
"$ROOT/hack/build-images.sh" daemons "$BIN"

stop
rm -rf "$DIR"
mkdir -p "$DIR/logs"

echo ">>> $NODES node(s) on one switch"
"$ROOT/hack/node.sh" switch-up "$DIR/switch" >/dev/null
for i in $(seq "$NODES"); do
  make_node "$i"
done

# kubeadm's configuration: node-1's address and runtime, the pod network, a kubelet on cgroupfs
# without disk-based eviction, and kube-proxy leaving the machine's conntrack table size alone
# (as kind does).
kubeadm_config() { # NODE_INDEX KIND
  local n="$DIR/node-$1"
  if [ "$2" = init ]; then
    cat <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $(node_ip 1)
  bindPort: 6443
nodeRegistration:
  name: node-1
  criSocket: unix://$n/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  certSANs: [127.0.0.1, localhost]
networking:
  podSubnet: $CLUSTER_CIDR
  serviceSubnet: $SERVICE_CIDR
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
# The nodes share the machine's disk, whose fill level is not theirs: as kind does, no
# disk-based eviction and no image garbage collection.
evictionHard: {memory.available: 100Mi, nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: $PROXY_MODE
conntrack:
  maxPerCore: 0
EOF
  fi
}

echo ">>> kubeadm init on node-1"
kubeadm_config 1 init >"$DIR/kubeadm-init.yaml"
start=$(date +%s%N)
if ! in_node 1 kubeadm init --config "$DIR/kubeadm-init.yaml" 2>&1 | tee "$DIR/logs/kubeadm-init.log"; then
  echo "kubeadm init failed; the kubelet's log: $DIR/node-1/log/kubelet.log" >&2
  exit 1
fi

# kubectl on this machine reaches node-1's apiserver through a relay on its loopback.
socat "TCP-LISTEN:$API_PORT,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$DIR/apiserver.sock" \
  >"$DIR/logs/relay.log" 2>&1 &
echo $! >"$DIR/relay.pid"
nsenter --target "$(cat "$DIR/node-1/holder.pid")" --net -- socat "UNIX-LISTEN:$DIR/apiserver.sock,fork,unlink-early" \
  "TCP:$(node_ip 1):6443" >"$DIR/logs/relay-node.log" 2>&1 &
echo $! >>"$DIR/node-1/pids"
sed -e "s|server: https://.*|server: https://127.0.0.1:$API_PORT|" "$DIR/node-1/root/etc/kubernetes/admin.conf" \
  >"$DIR/admin.conf"
export KUBECONFIG=$DIR/admin.conf
for _ in $(seq 100); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done

if [ "$NODES" -gt 1 ]; then
  read -ra join <<<"$(in_node 1 kubeadm token create --print-join-command)"
  for i in $(seq 2 "$NODES"); do
    join_node "$i" "${join[@]}"
  done
else
  # One node: it runs the workloads too.
  kubectl taint nodes node-1 node-role.kubernetes.io/control-plane:NoSchedule- >/dev/null
fi

echo ">>> waiting for $NODES node(s) Ready"
kubectl wait --for=condition=Ready nodes --all --timeout=120s >/dev/null

pod_routes
echo "kubeadm init (started at $((start / 1000000)) ms since the epoch) to $NODES node(s) Ready: $((($(date +%s%N) - start) / 1000000)) ms"

cat <<MSG

Local cluster is running: $NODES node(s), the control plane as static pods on node-1 (logs:
$DIR/node-*/log; stop it with: hack/local-up-cluster.sh down). To use it:

  export KUBECONFIG=$DIR/admin.conf
  kubectl get nodes
  kubectl -n kube-system get pods
  kubectl create deployment web --image=nginx
  kubectl expose deployment web --port=80
  hack/node.sh exec $DIR/node-1 curl -s \$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')

Inside a node (its /etc/kubernetes, ctr, kubeadm):  hack/node.sh exec $DIR/node-1 bash
One more node (joined with a fresh token):  hack/local-up-cluster.sh add-node
Static pods: $DIR/node-1/root/etc/kubernetes/manifests

MSG
