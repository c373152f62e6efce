#!/usr/bin/env bash
# The controller on older ansible-core releases than requirements.txt pins (meta/runtime.yml's
# requires_ansible): for each release, a venv of its own (.tmp/ansible-X.Y), then ansible-test units and
# sanity, then one mode end to end on an embedded lab of its own (site, verify, a rerun that must change
# nothing, teardown).   scripts/ansible-versions.sh [X.Y ...]   (default: 2.17 2.18)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.17 2.18)
pyroute2=$(grep -E '^pyroute2==' requirements.txt)
hypothesis=$(grep -E '^hypothesis==' requirements-dev.txt)  # the unit tests' property tests

for v in "${versions[@]}"; do
  venv=$REPO/.tmp/ansible-$v
  if [ ! -x "$venv/bin/ansible-playbook" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$v $pyroute2 $hypothesis" ]; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$v.*" "$pyroute2" "$hypothesis" \
      2> >(grep -v "^WARNING: Location" >&2)
    echo "$v $pyroute2 $hypothesis" > "$venv/.pins"
  fi
  # ansible-test bootstraps pip from the network: the offline stand-in of scripts/setup.sh, under the
  # name this release's ansible-test looks for (get_pip_<its pip version>.py)
  pip_version=$(grep -ohE "pip='[0-9.]+'" "$venv"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py \
    | head -n 1 | cut -d"'" -f2)
  cache=~/.ansible/test/cache
  [ -e "$cache/get_pip_${pip_version//./_}.py" ] || cp "$cache/get_pip_24_2.py" "$cache/get_pip_${pip_version//./_}.py"
  echo "=== ansible-core $("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')"

  echo "--- units"
  PODNET_ANSIBLE_VENV=$venv scripts/ansible-test.sh units
  echo "--- sanity"
  PODNET_ANSIBLE_VENV=$venv scripts/ansible-test.sh sanity

  echo "--- vxlan end to end on an embedded lab"
  lab="v${v//./}-${PODNET_RUN_ID:-$$}"  # PODNET_RUN_ID: a caller that checks for the lab's leftovers
  play() { PATH="$venv/bin:$PATH" ansible-playbook -e podnet_lab_name="$lab" "$@"; }
  # shellcheck disable=SC2064  # the lab's name is fixed now
  trap "PATH='$venv/bin:$PATH' ansible-playbook -e podnet_lab_name='$lab' playbooks/lab.yml -e lab_state=absent >/dev/null" EXIT
  play playbooks/lab.yml > /dev/null
  play playbooks/site.yml -e mode=vxlan | tail -n 4
  verify=$(play playbooks/verify.yml -e mode=vxlan) || { tail -n 30 <<<"$verify" >&2; exit 1; }
  grep -E '^ *"(mode|worker)' <<<"$verify" | tr -d '",' | sed 's/^ */  /'
  rerun=$(play playbooks/site.yml -e mode=vxlan)
  if ! grep -qE '^worker2 .*changed=0 .*failed=0' <<<"$rerun" || ! grep -qE '^worker3 .*changed=0 .*failed=0' <<<"$rerun"; then
    echo "ansible-core $v: the rerun changed something or failed:" >&2
    tail -n 20 <<<"$rerun" >&2
    exit 1
  fi
  echo "rerun: changed=0 on both hosts"
  play playbooks/lab.yml -e lab_state=absent > /dev/null
  trap - EXIT
done
