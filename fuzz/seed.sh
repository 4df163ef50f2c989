#!/usr/bin/env bash
# Seeds each target's corpus from the committed fixtures (decompressed,
# truncated to what libFuzzer takes well).
set -euo pipefail
cd "$(dirname "$0")"
fx=../testdata/fixtures
seed() { mkdir -p "corpus/$1"; { zstd -dqc "$2" || true; } | head -c "${3:-4194304}" > "corpus/$1/$(basename "$2" .zst)"; }
for f in "$fx"/qcow2/*.zst "$fx"/disk/*.qcow2.zst; do
  [ -e "$f" ] || continue
  for t in qcow2_open qcow2_guest_read qcow2_check; do seed "$t" "$f"; done
done
for f in "$fx"/gpt/*.zst "$fx"/disk/*.img.zst; do [ -e "$f" ] && seed gpt_analyze "$f" 1048576; done
for f in "$fx"/disk/*.zst; do [ -e "$f" ] && seed imgcheck_pipeline "$f" 4194304; done
for f in "$fx"/ext4/*.zst "$fx"/disk/whole-disk-ext4.img.zst; do
  [ -e "$f" ] || continue
  seed ext4_default "$f" 2097152; seed ext4_deep "$f" 2097152
done
