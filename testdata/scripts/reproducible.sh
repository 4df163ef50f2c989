#!/usr/bin/env bash
# reproducible.sh SCRIPT...: run each fixture script twice in scratch copies
# of testdata/scripts and compare every fixture it stores, byte for byte
# after decompression. A fixture that differs names a tool whose random
# UUID, serial or clock the script has not pinned.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for script in "$@"; do
  name=$(basename "$script")
  for run in a b; do
    mkdir -p "$scratch/$run"
    rm -rf "$scratch/$run/fixtures"
    cp -r "$here" "$scratch/$run/scripts"
    (cd "$scratch/$run" && bash "scripts/$name" >/dev/null 2>&1)
  done
  while IFS= read -r f; do
    rel=${f#"$scratch/a/fixtures/"}
    if cmp -s <(zstd -dc "$f") <(zstd -dc "$scratch/b/fixtures/$rel"); then
      echo "same    $rel"
    else
      echo "DIFFERS $rel"
      status=1
    fi
  done < <(find "$scratch/a/fixtures" -name '*.zst' | sort)
done
exit $status
