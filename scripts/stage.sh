#!/usr/bin/env bash
# Run one stage of `make test` and print its wall time: scripts/stage.sh NAME CMD [ARG...]
# The stage's exit status is passed through. With STAGE_LOG set, "NAME SECONDS STATUS" is appended there.
set -u
name=$1; shift
echo "=== stage $name: $*"
start=$(date +%s.%N)
"$@"
rc=$?
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
if [ "$rc" -eq 0 ]; then status=ok; else status="FAILED(rc=$rc)"; fi
echo "=== stage $name: $status in ${secs}s"
if [ -n "${STAGE_LOG:-}" ]; then echo "$name ${secs}s $status" >> "$STAGE_LOG"; fi
exit "$rc"
