#!/usr/bin/env bash
# Worst wall time, peak RSS and output size of the whole CLI
# (`imgcheck --json --all-snapshots`) over images kept by
# IMGCHECK_IOTESTS_KEEP=DIR testdata/scripts/qcow2-iotests.sh (issue 22's
# closing numbers). Usage: qcow2-cli-bounds.sh DIR [IMGCHECK]
set -euo pipefail
dir=${1:?usage: qcow2-cli-bounds.sh DIR [IMGCHECK]}
bin=${2:-imgcheck}
printf '%-8s %9s %8s %10s %9s %4s  %s\n' case secs rss_kb stdout stderr rc what
for d in "$dir"/*/; do
  [ -f "$d/MAIN" ] || continue
  main=$(sed -n 1p "$d/MAIN"); what=$(sed -n 2p "$d/MAIN")
  t=$(mktemp); o=$(mktemp); e=$(mktemp)
  rc=0
  ( cd "$d" && /usr/bin/time -f '%e %M' -o "$t" timeout 120 "$bin" --json --all-snapshots "$main" >"$o" 2>"$e" ) || rc=$?
  read -r secs rss < <(tail -1 "$t")
  printf '%-8s %9s %8s %10s %9s %4s  %s\n' "$(basename "$d")" "$secs" "$rss" \
    "$(wc -c <"$o")" "$(wc -c <"$e")" "$rc" "$what"
  rm -f "$t" "$o" "$e"
done
