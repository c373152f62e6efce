#!/usr/bin/env bash
# CI smoke of the benchmark (make bench-smoke): a short run into a scratch folder; it checks only that the
# table was written (never speed: the machine is shared and noisy). About 2-3 minutes on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /var/tmp/podnet-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
.venv/bin/python benchmarks/run.py --smoke --out "$out"
for f in RESULTS.md results.json control_plane.png dataplane.png; do
  [ -s "$out/$f" ] || { echo "bench-smoke: $f was not written" >&2; exit 1; }
done
if ! grep -q '^## Control plane' "$out/RESULTS.md" || ! grep -q '^| 2 | vxlan |' "$out/RESULTS.md"; then
  echo "bench-smoke: the control-plane table is missing" >&2; cat "$out/RESULTS.md" >&2; exit 1
fi
grep -q '^| vxlan (collection) |' "$out/RESULTS.md" \
  || { echo "bench-smoke: the data-plane table is missing" >&2; cat "$out/RESULTS.md" >&2; exit 1; }
echo "bench-smoke: table written ($(grep -c '^|' "$out/RESULTS.md") table rows)"
