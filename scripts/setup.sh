#!/usr/bin/env bash
# Set up everything this repository needs on a fresh Debian 12 machine (idempotent):
# system packages, a virtual environment in .venv, and the collection made
# resolvable as openkube.podnet from this checkout (.tmp/collections).
set -euo pipefail
cd "$(dirname "$0")/.."

# user-mode-linux, or where it cannot boot QEMU (qemu-system-x86, busybox-static), is the second kernel that
# has ipip (tests/uml/harness.py); QEMU is installed everywhere: the harness's tests check the fallback too.
# python3-pyroute2: Debian's pyroute2 (0.7.2) for the system Python, which `make modules-distro` runs the modules with.
# bpftool: reads the eBPF filter's map back in the tests (the collection itself does not use it).
# debootstrap, systemd-container (systemd-nspawn), openssh-client, netcat-openbsd: the booted lab machines.
APT_PKGS="iproute2 util-linux iputils-ping user-mode-linux qemu-system-x86 busybox-static kmod tcpdump iptables nftables iperf3 procps shellcheck python3-pyroute2 debootstrap systemd-container openssh-client netcat-openbsd containernetworking-plugins bpftool"
missing=()
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
  # (pip's warnings about this machine's unreachable local mirrors are filtered out)
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > $stamp
fi

# openkube.podnet resolves from this checkout (ansible.cfg points collections_path here).
mkdir -p .tmp/collections/ansible_collections/openkube
ln -sfn ../../../.. .tmp/collections/ansible_collections/openkube/podnet

# ansible-test bootstraps pip from the network; this stand-in uses ensurepip instead (offline).
mkdir -p ~/.ansible/test/cache
cat > ~/.ansible/test/cache/get_pip_24_2.py <<'PYEOF'
import subprocess, sys
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
PYEOF
# The second kernel (ipip): probe which one boots here; the QEMU kit (bookworm's kernel, unpacked, never
# installed) is built once into /var/cache/podnet/second-kernel, outside the checkout.
(cd tests && ../.venv/bin/python -m uml.harness) 2>&1 | sed 's/^/setup: /'
echo "setup: ready (.venv, .tmp/collections)"
