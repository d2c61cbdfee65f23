#!/usr/bin/env bash
# Builds the test images offline and stores them in a real registry's storage, so that nodes
# pull them for real (no public registry is reachable here):
#
#   registry.k8s.io/pause:3.10           the pod sandbox (busybox sh reaping children, exits on TERM)
#   docker.io/library/busybox:latest     busybox-static with every applet (also :1.36)
#   docker.io/library/nginx:latest       Debian's nginx with the official image's layout and page
#   docker.io/jpetazzo/httpenv:latest    the project's test server answering its environment as
#                                        JSON on 8888 (hack/testserver)
#   registry.k8s.io/e2e-test-images/agnhost:2.53
#                                        the same server as upstream's test image: `netexec`,
#                                        `serve-hostname`
#
# Output in $K8S_RS_IMAGES (default ~/.cache/k8s-rs/images):
#   oci/NAME/       an OCI image layout per image (uncompressed layers, reproducible digests)
#   oci/NAME.tar    the same, tarred for `ctr images import` (io.containerd.image.name set)
#   registry/       the storage directory of a docker-registry that holds every image; a node
#                   serves it on its own loopback (see e2e's node fixture and local-up-cluster)
#
# The test server is the workspace's `k8s-rs-testserver` binary (the newest of target/debug and
# target/release, or $K8S_RS_TESTSERVER): build it first (hack/test.sh and local-up-cluster do).
#
# Idempotent: nothing is rebuilt while the inputs (this script, busybox, nginx, the test
# server) are unchanged.
#
# `build-images.sh daemons BINDIR` builds instead the images of the project's own daemons, for
# kubeadm's static pods and kube-proxy DaemonSet, under the names and tags `BINDIR/kubeadm
# config images list` prints (registry.k8s.io/kube-apiserver:v1.33.0, ..., etcd from Debian's
# etcd binary): binaries stripped, with the libraries they link, in /usr/local/bin of an
# otherwise empty root filesystem (kube-proxy's also has iptables, nft and conntrack). Output:
# $K8S_RS_DAEMON_IMAGES (default ~/.cache/k8s-rs/daemon-images)/NAME.tar, for `ctr images import`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${K8S_RS_IMAGES:-$HOME/.cache/k8s-rs/images}
OCI=$OUT/oci
for b in busybox nginx docker-registry skopeo sha256sum tar; do
  command -v "$b" >/dev/null || { echo "build-images: $b not found: run hack/install-deps.sh" >&2; exit 1; }
done

WORK=$(mktemp -d)
REG_PID=
cleanup() {
  # The registry dies of the TERM: its status (143) must not become the script's.
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT


# A root filesystem with busybox and its applets, users and the usual directories.
busybox_rootfs() {
  local r=$1
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,var/run,var/www,home}
  chmod 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
  done
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nginx:x:101:101:nginx:/nonexistent:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nginx:x:101:
nogroup:x:65534:
EOF
  : >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
}

# Writes an OCI layout for rootfs $2 with image config fragment $3 (JSON object members) as
# image $1 (a full reference, e.g. docker.io/library/busybox:latest).
oci_image() {
  local ref=$1 rootfs=$2 config=$3 name dir tag layer ldigest lsize cfg cdigest csize man mdigest msize
  name=${ref##*/}
  tag=${name##*:}
  name=${name%%:*}
  dir="$OCI/$name"
  mkdir -p "$dir/blobs/sha256"
  layer="$WORK/$name.layer.tar"
  tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$layer" .
  ldigest=$(sha256sum "$layer" | cut -d' ' -f1)
  lsize=$(stat -c %s "$layer")
  mv "$layer" "$dir/blobs/sha256/$ldigest"
  cfg=$(printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$config" "$ldigest")
  cdigest=$(printf %s "$cfg" | sha256sum | cut -d' ' -f1)
  csize=$(printf %s "$cfg" | wc -c)
  printf %s "$cfg" >"$dir/blobs/sha256/$cdigest"
  man=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$cdigest" "$csize" "$ldigest" "$lsize")
  mdigest=$(printf %s "$man" | sha256sum | cut -d' ' -f1)
  msize=$(printf %s "$man" | wc -c)
  printf %s "$man" >"$dir/blobs/sha256/$mdigest"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mdigest" "$msize" "$ref" "$tag" >"$dir/index.json"
  tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$OCI/$name.tar" .
  echo "build-images: $ref sha256:$mdigest"
}

PATH_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'

# Images go into a registry's storage (the directory nodes serve read-only): a registry on a
# free loopback port, written to by skopeo.
REG_PORT=
registry_start() { # STORAGE_DIR
  REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$1" "$REG_PORT" >"$WORK/registry.yml"
  docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0
    sleep 0.1
  done
  echo "build-images: the registry did not start: $(cat "$WORK/registry.log")" >&2
  exit 1
}
push() { # SOURCE (skopeo transport:path) REPO:TAG
  skopeo --insecure-policy copy -q --dest-tls-verify=false "$1" "docker://127.0.0.1:$REG_PORT/$2"
}

# Copies binaries and the libraries they link into root filesystem $1 (binaries stripped, into
# /usr/local/bin unless given as DEST=SRC).
with_libs() {
  local r=$1 b src dest lib
  shift
  for b in "$@"; do
    src=${b#*=}
    dest=/usr/local/bin/$(basename "$src")
    [ "$src" = "$b" ] || dest=${b%%=*}
    mkdir -p "$r$(dirname "$dest")"
    strip -o "$r$dest" "$src" 2>/dev/null || cp -L "$src" "$r$dest"
    for lib in $(ldd "$src" 2>/dev/null | grep -oE '/[^ ]+'); do
      [ -e "$r$lib" ] && continue
      mkdir -p "$r$(dirname "$lib")"
      cp -L "$lib" "$r$lib"
    done
  done
}

daemon_images() {
  local bin=$1 stamp ref name r
  for b in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubeadm; do
    [ -x "$bin/$b" ] || { echo "build-images: no $bin/$b: build the daemons first" >&2; exit 1; }
  done
  OUT=${K8S_RS_DAEMON_IMAGES:-$HOME/.cache/k8s-rs/daemon-images}
  OCI=$OUT
  stamp=$( (cat "$0"; dpkg-query -W etcd-server etcd-client iptables nftables conntrack 2>/dev/null
    cat "$bin"/kube-apiserver "$bin"/kube-controller-manager "$bin"/kube-scheduler "$bin"/kube-proxy "$bin"/kubeadm) |
    sha256sum | cut -c1-16)
  if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then
    echo "build-images: daemon images up to date in $OUT"
    return 0
  fi
  local refs
  refs=$("$bin/kubeadm" config images list)
  rm -rf "$OUT"
  mkdir -p "$OUT"
  for ref in $refs; do
    name=${ref##*/}
    name=${name%%:*}
    r="$WORK/$name"
    mkdir -p "$r"/{etc,tmp,var/run}
    chmod 1777 "$r/tmp"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    case $name in
      pause) continue ;; # the test images' pause serves every node
      etcd) with_libs "$r" /usr/bin/etcd /usr/bin/etcdctl; mkdir -p "$r/var/lib/etcd" ;;
      kube-proxy)
        with_libs "$r" "$bin/kube-proxy" /usr/sbin/nft=/usr/sbin/nft /usr/sbin/conntrack=/usr/sbin/conntrack \
          /usr/sbin/xtables-nft-multi=/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi=/usr/sbin/xtables-legacy-multi
        # iptables' extensions are loaded at run time, not linked.
        mkdir -p "$r/usr/lib/x86_64-linux-gnu"
        cp -a /usr/lib/x86_64-linux-gnu/xtables "$r/usr/lib/x86_64-linux-gnu/"
        for l in /usr/lib/x86_64-linux-gnu/xtables/*.so; do with_libs "$r" "$l=$l"; done
        # The host's choice of backend (Debian's alternatives), and both by name.
        local mode=nft
        [ "$(readlink -f /etc/alternatives/iptables 2>/dev/null)" = /usr/sbin/xtables-legacy-multi ] && mode=legacy
        for t in iptables ip6tables; do
          for s in "" -save -restore; do
            ln -sf "xtables-$mode-multi" "$r/usr/sbin/$t$s"
            ln -sf xtables-nft-multi "$r/usr/sbin/$t-nft$s"
            ln -sf xtables-legacy-multi "$r/usr/sbin/$t-legacy$s"
          done
        done
        ;;
      *) with_libs "$r" "$bin/$name" ;;
    esac
    oci_image "$ref" "$r" "$PATH_ENV"
    rm -rf "${OCI:?}/$name" # the tar is what nodes import
  done
  # Also in a registry's storage, for nodes to pull them again (the kubelet's image garbage
  # collection may remove them).
  registry_start "$OUT/registry"
  for ref in $refs; do
    name=${ref##*/}
    name=${name%%:*}
    [ -f "$OUT/$name.tar" ] && push "oci-archive:$OUT/$name.tar" "${ref#*/}"
  done
  echo "$stamp" >"$OUT/stamp"
  echo "build-images: daemon images in $OUT (and a registry's storage in $OUT/registry)"
}

if [ "${1:-}" = daemons ]; then
  [ -n "${2:-}" ] || { echo "usage: build-images.sh daemons BINDIR" >&2; exit 2; }
  daemon_images "$(cd "$2" && pwd)"
  exit 0
fi

TESTSERVER=${K8S_RS_TESTSERVER:-$(ls -t "$ROOT"/target/{debug,release}/k8s-rs-testserver 2>/dev/null | head -1 || true)}
[ -n "$TESTSERVER" ] && [ -x "$TESTSERVER" ] ||
  { echo "build-images: no k8s-rs-testserver binary: run cargo build --bin k8s-rs-testserver" >&2; exit 1; }
stamp=$( (cat "$0"; dpkg-query -W busybox-static nginx-light 2>/dev/null; cat "$TESTSERVER") | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ]; then
  echo "build-images: up to date in $OUT"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT/oci" "$OUT/registry"

# pause: PID 1 of every sandbox. It must exit on SIGTERM (PID 1 has no default handlers) and
# reap the zombies it inherits; a shell waiting on a sleeping child does both.
busybox_rootfs "$WORK/pause"
oci_image registry.k8s.io/pause:3.10 "$WORK/pause" \
  "$PATH_ENV,\"Entrypoint\":[\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait \$!; done\"],\"WorkingDir\":\"/\""

busybox_rootfs "$WORK/busybox"
oci_image docker.io/library/busybox:latest "$WORK/busybox" "$PATH_ENV,\"Cmd\":[\"sh\"]"

# nginx: Debian's binary and the libraries it links, laid out as the official image (config in
# /etc/nginx, page in /usr/share/nginx/html, logs to the container's stdout and stderr).
n="$WORK/nginx"
busybox_rootfs "$n"
mkdir -p "$n/usr/sbin" "$n/etc/nginx/conf.d" "$n/usr/share/nginx/html" "$n/var/log/nginx" \
  "$n/var/lib/nginx" "$n/var/cache/nginx" "$n/run"
cp /usr/sbin/nginx "$n/usr/sbin/nginx"
for lib in $(ldd /usr/sbin/nginx | grep -oE '/[^ ]+'); do
  mkdir -p "$n$(dirname "$lib")"
  cp -L "$lib" "$n$lib"
done
cp /etc/nginx/mime.types "$n/etc/nginx/mime.types"
cp /usr/share/nginx/html/index.html "$n/usr/share/nginx/html/index.html"
ln -sf /dev/stdout "$n/var/log/nginx/access.log"
ln -sf /dev/stderr "$n/var/log/nginx/error.log"
cat >"$n/etc/nginx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;
error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;
events {
    worker_connections  1024;
}
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    access_log  /var/log/nginx/access.log;
    sendfile        on;
    keepalive_timeout  65;
    include /etc/nginx/conf.d/*.conf;
}
EOF
cat >"$n/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen       80;
    server_name  localhost;
    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
}
EOF
oci_image docker.io/library/nginx:latest "$n" \
  "$PATH_ENV,\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],\"ExposedPorts\":{\"80/tcp\":{}},\"StopSignal\":\"SIGQUIT\""

# The test server, with the libraries it links, under the names tests and labs use.
t="$WORK/testserver"
busybox_rootfs "$t"
cp "$TESTSERVER" "$t/testserver"
for lib in $(ldd "$TESTSERVER" | grep -oE '/[^ ]+'); do
  mkdir -p "$t$(dirname "$lib")"
  cp -L "$lib" "$t$lib"
done
ln -sf testserver "$t/httpenv"
ln -sf testserver "$t/agnhost"
oci_image docker.io/jpetazzo/httpenv:latest "$t" \
  "$PATH_ENV,\"Entrypoint\":[\"/httpenv\"],\"ExposedPorts\":{\"8888/tcp\":{}}"
oci_image registry.k8s.io/e2e-test-images/agnhost:2.53 "$t" "$PATH_ENV,\"Entrypoint\":[\"/agnhost\"]"

registry_start "$OUT/registry"
push "oci:$OCI/pause" pause:3.10
push "oci:$OCI/busybox" library/busybox:latest
push "oci:$OCI/busybox" library/busybox:1.36
push "oci:$OCI/nginx" library/nginx:latest
push "oci:$OCI/httpenv" jpetazzo/httpenv:latest
push "oci:$OCI/agnhost" e2e-test-images/agnhost:2.53
echo "$stamp" >"$OUT/stamp"
echo "build-images: registry storage in $OUT/registry"
