#!/usr/bin/env bash
# Runs the structure-aware targets with their dictionaries and issue 14's
# bounds (1 GiB RSS and malloc, a timeout per input), SECONDS each
# (default 1800), one after another, and prints the executions libFuzzer
# reports. Crashes and timeouts land in artifacts/TARGET/; each one found
# becomes a case of testdata/scripts/hostile.py (the suite runs a sample).
#   fuzz/run-structured.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-1800}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mbr_ebr gpt_struct ext4_struct pipeline_struct)
./seed.sh >/dev/null 2>&1 || true
for t in "${targets[@]}"; do
  case $t in ext4_*) dict=dict/ext4.dict ;; qcow2_*) dict=qcow2.dict ;; *) dict=dict/partitions.dict ;; esac
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/run-$(date +%s).log"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -dict="$dict" -max_total_time="$secs" \
    -timeout=15 -rss_limit_mb=1024 -malloc_limit_mb=1024 -print_final_stats=1 \
    >"$log" 2>&1 || echo "$t: stopped with a finding, see $log"
  printf '%s: %s executions, %s\n' "$t" \
    "$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)" \
    "$(ls "artifacts/$t" | grep -v '\.log$' | wc -l) artifacts"
done
