#!/usr/bin/env bash
# The README's first command: set up this machine, build the embedded lab (namespaces on
# this machine, never its own network), run the main job and verify it.
#   MODE=host-gw|ipip|vxlan (default vxlan)   INVENTORY=inventories/lab (default)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-vxlan}
INVENTORY=${INVENTORY:-inventories/lab}
EXTRA=()
if [ -z "${PODNET_DEMO_GUEST:-}" ]; then
  ./scripts/setup.sh
else
  # inside the second kernel (below): its own /run, so its own lab; User-Mode Linux has legacy iptables only
  EXTRA=(-e podnet_iptables=iptables-legacy)
fi
export PATH="$PWD/.venv/bin:$PATH"
# probe for ipip in a throwaway network namespace (never in this machine's own); with a local address, or
# it would clash with the any-to-any fallback device tunl0 that a kernel with ipip has in every namespace
if [ "$MODE" = ipip ] && ! unshare --net ip link add podnet-probe type ipip local 192.0.2.1 2>/dev/null; then
  if [ -n "${PODNET_DEMO_GUEST:-}" ]; then
    echo "demo: the second kernel has no ipip either" >&2
    exit 2
  fi
  echo "demo: this kernel has no ipip: the ipip demo runs inside the second kernel (tests/uml/harness.py);"
  echo "demo: its output shows when the guest powers off (3-6 minutes), and its lab goes with it"
  cd tests
  exec ../.venv/bin/python -m uml.harness --run "cd $(printf %q "$PWD/..") && MODE=ipip INVENTORY=$(printf %q "$INVENTORY") PODNET_DEMO_GUEST=1 ./scripts/demo.sh"
fi
ansible-playbook -i "$INVENTORY" playbooks/lab.yml
ansible-playbook -i "$INVENTORY" playbooks/site.yml -e mode="$MODE" "${EXTRA[@]}"
ansible-playbook -i "$INVENTORY" playbooks/verify.yml -e mode="$MODE" "${EXTRA[@]}"
if [ -n "${PODNET_DEMO_GUEST:-}" ]; then
  echo "demo: done (the lab lived in the second kernel and is gone with it)"
else
  echo "demo: done. Remove the lab with: .venv/bin/ansible-playbook -i $INVENTORY playbooks/lab.yml -e lab_state=absent"
fi
