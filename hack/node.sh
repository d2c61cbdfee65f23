#!/usr/bin/env bash
# A test node on this machine: a network namespace and a mount namespace of its own, holding
# its own containerd (root, state, socket, CNI config), a registry serving hack/build-images.sh's
# images on the node's loopback, and a relay to the apiserver on the machine's loopback. The
# kubelet runs inside it (`node.sh exec`), as it would on a real node. Nothing here touches the
# machine's root network namespace: nodes reach each other through a switch namespace.
#
#   node.sh switch-up DIR [ADDR/LEN PROXYBIN]  a namespace with a bridge that nodes attach to;
#                                              with ADDR and PROXYBIN (hack/testserver), the
#                                              bridge gets ADDR and an HTTP CONNECT proxy on
#                                              DIR/egress.sock reaches the nodes from outside
#                                              (the apiserver's egress selector)
#   node.sh switch-down DIR
#   node.sh up DIR NAME [APIPORT] [SWITCHDIR NODEIP/LEN]
#                                              start a node; prints its facts as shell variables
#   node.sh exec DIR CMD...                    run CMD inside the node (its network and mounts)
#   node.sh kubelet-unit DIR KUBELET           make the node a kubeadm node: its own /etc/kubernetes,
#                                              /var/lib/kubelet, /var/lib/etcd and /var/log/pods
#                                              (bind mounts of DIR/root/..., seen only inside the
#                                              node), and KUBELET run as kubelet.service would
#                                              (hack/kubelet-supervisor); DIR/bin/systemctl stops
#                                              and restarts it: put DIR/bin first in kubeadm's PATH
#   node.sh restart-containerd DIR             stop the node's containerd and start it again
#                                              (its shims, and so the containers, keep running)
#   node.sh down DIR                           kill everything the node runs, by namespace and
#                                              cgroup, remove its namespace, cgroups and files
#   node.sh gc                                 take down the nodes and switches whose owner
#                                              process (K8S_RS_NODE_OWNER when they were made,
#                                              e.g. a test binary that was killed) is gone
#
# The node's state lives in DIR (a fresh directory per node). Its pods' cgroups are under
# /<netns> in every hierarchy: start the kubelet with --cgroup-root=/$NODE_NETNS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGES=${K8S_RS_IMAGES:-$HOME/.cache/k8s-rs/images}
DAEMON_IMAGES=${K8S_RS_DAEMON_IMAGES:-$HOME/.cache/k8s-rs/daemon-images}
# Every node and switch is registered here with its directory and owner, for `gc`.
REGISTRY=/run/k8s-rs/nodes

die() { echo "node.sh: $*" >&2; exit 1; }

# Runs a command in the node: the holder process owns the node's mount namespace. Refuses if
# the holder is (still, or again) in this shell's network or mount namespace: nothing here may
# ever run in the machine's own.
node_exec() {
  local dir=$1
  shift
  check_holder "$dir"
  nsenter --target "$(cat "$dir/holder.pid")" --mount --net -- "$@"
}

check_holder() {
  local holder
  holder=$(cat "$1/holder.pid")
  if [ "$(readlink "/proc/$holder/ns/net")" = "$(readlink /proc/$$/ns/net)" ] ||
    [ "$(readlink "/proc/$holder/ns/mnt")" = "$(readlink /proc/$$/ns/mnt)" ]; then
    die "the node's holder $holder is not in the node's namespaces"
  fi
}

wait_for() { # wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

switch_up() {
  local dir=$1 ns
  mkdir -p "$dir"
  ns="k8srs-sw-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  ip netns add "$ns"
  echo "$ns" >"$dir/netns"
  register "$ns" "$(cd "$dir" && pwd)" switch
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link add br0 type bridge
  ip netns exec "$ns" ip link set br0 up
  if [ -n "${2:-}" ]; then
    ip netns exec "$ns" ip addr add "$2" dev br0
    ip netns exec "$ns" "$3" connect-proxy --socket "$dir/egress.sock" >"$dir/egress-proxy.log" 2>&1 &
    echo "$!" >"$dir/proxy.pid"
    wait_for 10 test -S "$dir/egress.sock" || die "the egress proxy did not start: $(cat "$dir/egress-proxy.log")"
  fi
  echo "SWITCH_NETNS=$ns"
}

switch_down() {
  local dir=$1
  [ -f "$dir/netns" ] || return 0
  if [ -f "$dir/proxy.pid" ]; then
    kill "$(cat "$dir/proxy.pid")" 2>/dev/null || true
    rm -f "$dir/proxy.pid"
  fi
  ip netns del "$(cat "$dir/netns")" 2>/dev/null || true
  rm -f "$REGISTRY/$(cat "$dir/netns")" "$dir/netns"
}

register() { # register NETNS DIR KIND
  mkdir -p "$REGISTRY"
  echo "$2 $3 ${K8S_RS_NODE_OWNER:-}" >"$REGISTRY/$1"
}

gc() {
  [ -d "$REGISTRY" ] || return 0
  local f dir kind owner
  # Nodes first, then the switches they were attached to.
  for want in node switch; do
    for f in "$REGISTRY"/*; do
      [ -f "$f" ] || continue
      read -r dir kind owner <"$f" || true
      [ "$kind" = "$want" ] && [ -n "$owner" ] || continue
      kill -0 "$owner" 2>/dev/null && continue
      echo "node.sh gc: $(basename "$f") of dead owner $owner ($dir)"
      if [ "$kind" = node ]; then down "$dir"; else switch_down "$dir"; fi
      rm -f "$f"
    done
  done
}

up() {
  local dir=$1 name=$2 apiport=${3:-} swdir=${4:-} nodeip=${5:-} ns holder sw i
  [ -d "$IMAGES/registry" ] || die "no images in $IMAGES: run hack/build-images.sh"
  mkdir -p "$dir"/{containerd/root,containerd/state,cni/net.d,log,certs.d/docker.io,certs.d/registry.k8s.io,certs.d/private.registry.test}
  dir=$(cd "$dir" && pwd)
  ns="k8srs-$name-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  ip netns add "$ns"
  echo "$ns" >"$dir/netns"
  echo "$name" >"$dir/name"
  register "$ns" "$dir" node
  : >"$dir/pids"

  # The holder keeps the node's mount namespace alive; every mount the node makes (overlays,
  # volumes, pod network namespaces on a private /run/netns) goes away with it.
  nsenter --net="/run/netns/$ns" unshare --mount --propagation private -- \
    sh -c 'mount -t tmpfs -o mode=755 tmpfs /run/netns && exec sleep infinity' </dev/null >/dev/null 2>&1 &
  holder=$!
  echo "$holder" >"$dir/holder.pid"
  # Set up once it is `sleep`: namespaces entered, /run/netns mounted (the machine's own
  # mount table has a /run/netns too, so that is no sign).
  wait_for 20 grep -qx sleep "/proc/$holder/comm" || die "the node's namespaces did not come up"

  node_exec "$dir" ip link set lo up
  node_exec "$dir" sysctl -qw net.ipv4.ip_forward=1
  # Per namespace; with it off, pod -> Service -> pod on one bridge times out.
  if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    node_exec "$dir" sysctl -qw net.bridge.bridge-nf-call-iptables=1
  fi
  if [ -n "$swdir" ]; then
    sw=$(cat "$swdir/netns")
    i="v$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    ip netns exec "$sw" ip link add "$i" type veth peer name eth0 netns "$ns"
    ip netns exec "$sw" ip link set "$i" master br0 up
    node_exec "$dir" ip addr add "$nodeip" dev eth0
    node_exec "$dir" ip link set eth0 up
    node_exec "$dir" ip route add default dev eth0
  fi

  # A registry on the node's loopback serving the prebuilt images: pulls are real pulls.
  cat >"$dir/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $IMAGES/registry
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: true
http:
  addr: 127.0.0.1:5000
EOF
  for host in docker.io registry.k8s.io; do
    cat >"$dir/certs.d/$host/hosts.toml" <<EOF
server = "https://$host"
[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
EOF
  done
  # The project's own daemons (hack/build-images.sh daemons), when built: registry.k8s.io's
  # second host, on 127.0.0.1:5002.
  if [ -d "$DAEMON_IMAGES/registry" ]; then
    sed -e "s|127.0.0.1:5000|127.0.0.1:5002|" -e "s|rootdirectory: .*|rootdirectory: $DAEMON_IMAGES/registry|" \
      "$dir/registry.yml" >"$dir/registry-daemons.yml"
    printf '[host."http://127.0.0.1:5002"]\n  capabilities = ["pull", "resolve"]\n' \
      >>"$dir/certs.d/registry.k8s.io/hosts.toml"
  fi
  # The same images behind basic auth (user puller, password s3cret) on 127.0.0.1:5001, as
  # private.registry.test: pulls from it need the pod's image pull secrets.
  htpasswd -cbB "$dir/registry.htpasswd" puller s3cret 2>/dev/null
  sed -e 's/127.0.0.1:5000/127.0.0.1:5001/' "$dir/registry.yml" >"$dir/registry-private.yml"
  cat >>"$dir/registry-private.yml" <<EOF
auth:
  htpasswd:
    realm: private.registry.test
    path: $dir/registry.htpasswd
EOF
  cat >"$dir/certs.d/private.registry.test/hosts.toml" <<EOF
server = "https://private.registry.test"
[host."http://127.0.0.1:5001"]
  capabilities = ["pull", "resolve"]
EOF
  # Daemons are started with nsenter itself (not through the node_exec function, whose
  # background job would be a subshell): the recorded PID is the daemon's.
  check_holder "$dir"
  nsenter --target "$holder" --mount --net -- docker-registry serve "$dir/registry.yml" >"$dir/log/registry.log" 2>&1 &
  echo "$!" >>"$dir/pids"
  nsenter --target "$holder" --mount --net -- docker-registry serve "$dir/registry-private.yml" \
    >"$dir/log/registry-private.log" 2>&1 &
  echo "$!" >>"$dir/pids"
  if [ -f "$dir/registry-daemons.yml" ]; then
    nsenter --target "$holder" --mount --net -- docker-registry serve "$dir/registry-daemons.yml" \
      >"$dir/log/registry-daemons.log" 2>&1 &
    echo "$!" >>"$dir/pids"
  fi

  # containerd renders the CNI config from the pod CIDR the kubelet hands it
  # (UpdateRuntimeConfig), as a kubenet-style bridge.
  cat >"$dir/cni-template.json" <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "k8s-pod-network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [{{range $i, $range := .PodCIDRRanges}}{{if $i}}, {{end}}[{"subnet": "{{$range}}"}]{{end}}],
        "routes": [{{range $i, $route := .Routes}}{{if $i}}, {{end}}{"dst": "{{$route}}"}{{end}}],
        "dataDir": "DATADIR"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # Address allocations stay with the node (host-local's default directory is machine-wide).
  sed -i "s|DATADIR|$dir/cni/ipam|" "$dir/cni-template.json"
  cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # A fixed streaming port, outside the ephemeral range: a random one could take the port
  # the apiserver relay below listens on (the apiserver's, itself drawn from that range).
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"
  systemd_cgroup = false
  tolerate_missing_hugetlb_controller = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
    conf_template = "$dir/cni-template.json"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
EOF
  start_containerd "$dir"

  # The apiserver listens on the machine's loopback; the node reaches it on its own loopback,
  # same port, through a relay over a unix socket (which crosses network namespaces).
  if [ -n "$apiport" ]; then
    socat "UNIX-LISTEN:$dir/apiserver.sock,fork,unlink-early" "TCP:127.0.0.1:$apiport" \
      >"$dir/log/relay-root.log" 2>&1 &
    echo "$!" >"$dir/relay.pid"
    nsenter --target "$holder" --mount --net -- socat "TCP-LISTEN:$apiport,bind=127.0.0.1,reuseaddr,fork" \
      "UNIX-CONNECT:$dir/apiserver.sock" >"$dir/log/relay-node.log" 2>&1 &
    echo "$!" >>"$dir/pids"
    wait_for 10 node_exec "$dir" bash -c "exec 3<>/dev/tcp/127.0.0.1/$apiport" ||
      die "the node's relay to the apiserver did not start: $(tail -5 "$dir/log/relay-node.log")"
  fi
  wait_for 10 node_exec "$dir" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000' ||
    die "the node's registry did not start: $(tail -5 "$dir/log/registry.log")"
  wait_for 10 node_exec "$dir" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5001' ||
    die "the node's private registry did not start: $(tail -5 "$dir/log/registry-private.log")"
  echo "NODE_DIR=$dir"
  echo "NODE_NETNS=$ns"
  echo "NODE_HOLDER_PID=$holder"
  echo "CONTAINERD_SOCK=$dir/containerd.sock"
}

# The paths a kubeadm node keeps its state in; each gets the node's own directory.
KUBEADM_PATHS="/etc/kubernetes /var/lib/kubelet /var/lib/etcd /var/log/pods /var/log/containers"

kubelet_unit() {
  local dir=$1 kubelet=$2 p
  dir=$(cd "$dir" && pwd)
  [ -x "$kubelet" ] || die "no kubelet at $kubelet"
  check_holder "$dir"
  for p in $KUBEADM_PATHS; do
    # The mount point must exist on the machine (empty); what is mounted on it is the node's.
    mkdir -p "$p" "$dir/root$p"
    node_exec "$dir" mount --bind "$dir/root$p" "$p"
  done
  mkdir -p "$dir/bin"
  cp "$ROOT/hack/kubelet-supervisor" "$dir/bin/kubelet-supervisor"
  cp "$ROOT/hack/node-systemctl" "$dir/bin/systemctl"
  echo "$kubelet" >"$dir/kubelet.bin"
  nsenter --target "$(cat "$dir/holder.pid")" --mount --net -- "$dir/bin/kubelet-supervisor" "$dir" \
    </dev/null >/dev/null 2>&1 &
  echo "$!" >"$dir/supervisor.pid"
  echo "$!" >>"$dir/pids"
}

start_containerd() {
  local dir=$1
  check_holder "$dir"
  nsenter --target "$(cat "$dir/holder.pid")" --mount --net -- containerd --config "$dir/containerd.toml" \
    >>"$dir/log/containerd.log" 2>&1 &
  echo "$!" >"$dir/containerd.pid"
  echo "$!" >>"$dir/pids"
  wait_for 20 test -S "$dir/containerd.sock" || die "containerd did not start: $(tail -5 "$dir/log/containerd.log")"
}

restart_containerd() {
  local dir=$1 pid
  pid=$(cat "$dir/containerd.pid")
  kill "$pid" 2>/dev/null || true
  # Gone, or a zombie nobody reaps (its parent, an earlier node.sh, has exited).
  wait_for 20 sh -c "[ ! -e /proc/$pid ] || grep -q ') Z' /proc/$pid/stat" || kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/containerd.sock"
  start_containerd "$dir"
}

# The pids of every process in the node: its network namespace, plus the pods' processes
# (in their own network namespaces) found through the node's cgroups.
node_pids() {
  local ns=$1
  ip netns pids "$ns" 2>/dev/null || true
  find /sys/fs/cgroup/*/"$ns" -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

down() {
  local dir=$1 ns pids
  [ -f "$dir/netns" ] || return 0
  ns=$(cat "$dir/netns")
  [ -f "$dir/relay.pid" ] && kill "$(cat "$dir/relay.pid")" 2>/dev/null || true
  for _ in $(seq 1 100); do
    pids=$(node_pids "$ns" | sort -u)
    [ -f "$dir/holder.pid" ] && kill -0 "$(cat "$dir/holder.pid")" 2>/dev/null && pids="$pids $(cat "$dir/holder.pid")"
    [ -z "${pids// /}" ] && break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.05
  done
  # Cgroups empty now; remove them deepest first.
  find /sys/fs/cgroup/*/"$ns" -depth -type d -exec rmdir {} + 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -f "$dir/netns" "$REGISTRY/$ns"
  rm -rf "$dir/containerd" 2>/dev/null || true
}

cmd=${1:-}
shift || true
case "$cmd" in
  switch-up) switch_up "$@" ;;
  switch-down) switch_down "$@" ;;
  up) up "$@" ;;
  exec)
    d=$1
    shift
    node_exec "$d" "$@"
    ;;
  down) down "$@" ;;
  restart-containerd) restart_containerd "$@" ;;
  kubelet-unit) kubelet_unit "$@" ;;
  gc) gc ;;
  *) die "usage: node.sh switch-up|switch-down|up|exec|down DIR ... | gc" ;;
esac
