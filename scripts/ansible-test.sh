#!/usr/bin/env bash
# Run ansible-test on a copy of this checkout: scripts/ansible-test.sh sanity|units [ARG...]
# ansible-test wants to run from a path ending in ansible_collections/openkube/podnet and refuses a
# symlinked tree, so the tracked and untracked-but-not-ignored files are copied into a fresh temporary
# tree outside the checkout (inside it, ansible-test would find this git repository, see the copy as
# ignored and skip every target); its tests/output is copied back to ./tests/output, then it is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ $# -ge 1 ] || { echo "usage: $0 sanity|units [ansible-test args...]" >&2; exit 2; }
command=$1; shift
# PODNET_ANSIBLE_VENV: another controller venv (scripts/ansible-versions.sh: older ansible-core releases)
export PATH="${PODNET_ANSIBLE_VENV:-$REPO/.venv}/bin:$PATH"

run=$(mktemp -d "${TMPDIR:-/tmp}/podnet-ansible-test.XXXXXX")
trap 'rm -rf "$run"' EXIT
dest=$run/ansible_collections/openkube/podnet
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$dest"

cd "$dest"
case "$command" in
  sanity) args=(sanity --local --python 3.11 --color no) ;;
  units)  args=(units --local --python 3.11 --requirements --color no) ;;
  *)      echo "unknown ansible-test command: $command" >&2; exit 2 ;;
esac
rc=0
ansible-test "${args[@]}" "$@" || rc=$?
if [ -d tests/output ]; then
  mkdir -p "$REPO/tests/output"
  cp -a tests/output/. "$REPO/tests/output/"
fi
exit "$rc"
