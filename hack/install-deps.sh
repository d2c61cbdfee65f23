#!/usr/bin/env bash
# Installs everything the build, the local cluster and the tests need. Idempotent: packages
# already present are skipped, and `apt-get update` runs at most once per invocation.
set -euo pipefail

PKGS=(etcd-server etcd-client protobuf-compiler libprotobuf-dev curl openssl jq ca-certificates
  # Nodes: the container runtime, CNI plugins and the tools a node namespace is built with.
  containerd runc containernetworking-plugins iproute2 iptables nftables conntrack iputils-ping socat util-linux
  # Test images (hack/build-images.sh): their contents, and a real registry to pull them from.
  busybox-static nginx-light docker-registry skopeo
  # The daemons' images (build-images.sh daemons) hold stripped binaries; systemd-analyze
  # checks the units in manifests/systemd (the machine need not run systemd).
  binutils systemd
  # The password file of the test nodes' private registry (image pull secrets).
  apache2-utils)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages with services (nginx, docker-registry, containerd) must not start them: every
  # daemon runs inside the namespaces a test or the local cluster creates.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || { [ "$own_policy" = 1 ] && rm -f "$policy"; exit 1; }
  [ "$own_policy" = 1 ] && rm -f "$policy"
fi

# Debian's etcd package may try to start a service; we always run etcd ourselves.
command -v etcd >/dev/null || { echo "install-deps: etcd not found after install" >&2; exit 1; }
command -v protoc >/dev/null || { echo "install-deps: protoc not found after install" >&2; exit 1; }
for b in containerd runc ctr docker-registry skopeo busybox nginx ip socat nsenter unshare htpasswd; do
  command -v "$b" >/dev/null || { echo "install-deps: $b not found after install" >&2; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || { echo "install-deps: CNI plugins not in /usr/lib/cni" >&2; exit 1; }
if ! command -v kubectl >/dev/null; then
  echo "install-deps: warning: kubectl not found; the kubectl end-to-end tests need it" >&2
fi
# The official Python client for the client-library end-to-end test, in its own venv.
PYENV="${K8S_RS_PYENV:-$HOME/.cache/k8s-rs/pyenv}"
if ! "$PYENV/bin/python" -c 'import kubernetes' 2>/dev/null; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3 python3-venv
  fi
  echo "install-deps: installing the Python client into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install -q kubernetes==33.1.0
fi
echo "install-deps: ok"
