#!/usr/bin/env bash
# Worst wall time, peak RSS and output size of the whole CLI
# (`imgcheck --json --all-snapshots`) over kept images (issue 22's closing
# numbers): each DIR holds case directories with a MAIN file (first line:
# the image) as IMGCHECK_IOTESTS_KEEP=DIR testdata/scripts/qcow2-iotests.sh
# and IMGCHECK_MATRIX_KEEP=DIR testdata/scripts/qcow2-matrix.sh leave them.
# Each run is bounded (timeout 120 s) and measured by /usr/bin/time (wall
# and CPU seconds: on a shared machine the CPU time is the one to trust);
# the table goes to stdout, one summary line per DIR at the end.
# Usage: qcow2-cli-bounds.sh IMGCHECK DIR...
set -euo pipefail
bin=${1:?usage: qcow2-cli-bounds.sh IMGCHECK DIR...}
shift
bin=$(realpath "$bin")
summary=()
for dir in "$@"; do
  n=0; worst_s=0; worst_s_case=-; worst_cpu=0; worst_cpu_case=-; worst_rss=0; worst_rss_case=-; worst_out=0; worst_out_case=-
  timeouts=0; declare -A rcs=()
  printf '%-12s %8s %7s %9s %10s %8s %4s  %s\n' case secs cpu rss_kb stdout stderr rc what
  for d in "$dir"/*/; do
    [ -f "$d/MAIN" ] || continue
    main=$(sed -n 1p "$d/MAIN"); what=$(sed -n 2p "$d/MAIN" | cut -c1-100)
    t=$(mktemp); o=$(mktemp); e=$(mktemp)
    rc=0
    ( cd "$d" && /usr/bin/time -o "$t" -f '%e %M %U %S' timeout 120 "$bin" --json --all-snapshots "$main" >"$o" 2>"$e" ) || rc=$?
    read -r secs rss usr sys < <(tail -1 "$t")
    cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')
    out=$(wc -c <"$o")
    case=$(basename "$d")
    printf '%-12s %8s %7s %9s %10s %8s %4s  %s\n' "$case" "$secs" "$cpu" "$rss" "$out" "$(wc -c <"$e")" "$rc" "$what"
    n=$((n + 1)); rcs[$rc]=$(( ${rcs[$rc]:-0} + 1 ))
    [ "$rc" = 124 ] && timeouts=$((timeouts + 1))
    if awk -v a="$secs" -v b="$worst_s" 'BEGIN{exit !(a>b)}'; then worst_s=$secs; worst_s_case=$case; fi
    if awk -v a="$cpu" -v b="$worst_cpu" 'BEGIN{exit !(a>b)}'; then worst_cpu=$cpu; worst_cpu_case=$case; fi
    if [ "$rss" -gt "$worst_rss" ]; then worst_rss=$rss; worst_rss_case=$case; fi
    if [ "$out" -gt "$worst_out" ]; then worst_out=$out; worst_out_case=$case; fi
    rm -f "$t" "$o" "$e"
  done
  codes=$(for k in "${!rcs[@]}"; do printf '%s:%s ' "$k" "${rcs[$k]}"; done)
  summary+=("$dir: $n images; worst ${worst_s}s wall ($worst_s_case), ${worst_cpu}s CPU ($worst_cpu_case), peak RSS $((worst_rss / 1024)) MiB ($worst_rss_case), largest output $worst_out bytes ($worst_out_case); timeouts $timeouts; exit codes ${codes}")
  unset rcs
done
printf '%s\n' "${summary[@]}"
