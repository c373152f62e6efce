#!/usr/bin/env bash
# The README's first command: set up this machine, build the embedded lab (namespaces on
# this machine, never its own network), run the main job and verify it.
#   MODE=host-gw|ipip|vxlan (default vxlan)   INVENTORY=inventories/lab (default)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${MODE:-vxlan}
INVENTORY=${INVENTORY:-inventories/lab}
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# probe for ipip in a throwaway network namespace (never in this machine's own)
if [ "$MODE" = ipip ] && ! unshare --net ip link add podnet-probe type ipip 2>/dev/null; then
  echo "demo: this kernel has no ipip; run the ipip demo under User-Mode Linux: make demo-uml MODE=ipip" >&2
  exit 2
fi
ansible-playbook -i "$INVENTORY" playbooks/lab.yml
ansible-playbook -i "$INVENTORY" playbooks/site.yml -e mode="$MODE"
ansible-playbook -i "$INVENTORY" playbooks/verify.yml
echo "demo: done. Remove the lab with: .venv/bin/ansible-playbook -i $INVENTORY playbooks/lab.yml -e lab_state=absent"
