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
  # qcow2_poke: the image and a trailing 0 (no pokes yet), 1 MiB at most.
  mkdir -p corpus/qcow2_poke
  { { zstd -dqc "$f" || true; } | head -c 1048576; printf '\0'; } > "corpus/qcow2_poke/$(basename "$f" .zst)"
done
# qcow2_struct builds its images from an arbitrary-derived description;
# it starts from an empty corpus. Both use qcow2.dict:
#   cargo +nightly fuzz run qcow2_poke -- -dict=qcow2.dict -max_total_time=1800
for f in "$fx"/gpt/*.zst "$fx"/disk/*.img.zst; do [ -e "$f" ] && seed gpt_analyze "$f" 1048576; done
for f in "$fx"/disk/*.zst; do [ -e "$f" ] && seed imgcheck_pipeline "$f" 4194304; done
for f in "$fx"/ext4/*.zst "$fx"/disk/whole-disk-ext4.img.zst; do
  [ -e "$f" ] || continue
  seed ext4_default "$f" 2097152; seed ext4_deep "$f" 2097152
done
# lvm2: the first 2 MiB of each PV (label, mda ring, first extents), and
# each PV's committed metadata text (the structure-aware target adds the
# selector byte itself: a trailing 0).
for f in "$fx"/lvm2/*.zst; do
  [ -e "$f" ] || continue
  seed lvm2_pv "$f" 2097152
  mkdir -p corpus/lvm2_text
  { zstd -dqc "$f" || true; } | head -c 2097152 | python3 -c '
import struct, sys
b = sys.stdin.buffer.read()
off, size = struct.unpack_from("<QQ", b, 4096 + 40)
start, area = struct.unpack_from("<QQ", b, 4096 + 24)
t = b[start + off:start + off + size]
if off + size > area:
    t = b[start + off:start + area] + b[start + 512:start + 512 + off + size - area]
sys.stdout.buffer.write(t + b"\0")
' > "corpus/lvm2_text/$(basename "$f" .zst).txt"
done
# xfs_image: patch lists over the fixtures (selector byte, then 6-byte
# records); a handful of shapes to start from. xfs_raw: the first 2 MiB.
mkdir -p corpus/xfs_image
printf '\x00' > corpus/xfs_image/clean-4k
printf '\x81\x05\x00\x10\x00\x01\x07' > corpus/xfs_image/resealed-1k
printf '\x02\x00\x00\x54\x00\x01\xff' > corpus/xfs_image/v4-sb
printf '\xc3\x20\x00\x30\x00\x02\x10\x40\x00\x08\x00\x00\x00' > corpus/xfs_image/dirty-quick
for f in "$fx"/xfs/*.zst; do [ -e "$f" ] && seed xfs_raw "$f" 2097152; done
# fat: the first 256 KiB of each FAT fixture (boot sector, FATs, root,
# the first directories and files); the target repairs the BPB for the
# length it is given.
for f in "$fx"/fat/*.zst; do [ -e "$f" ] && seed fat_check "$f" 262144; done
# The structure-aware targets (mbr_ebr, gpt_struct, ext4_struct,
# pipeline_struct) build their images from the fixtures themselves: their
# input is a fixture index and a list of edits, so each seed is one
# fixture untouched (a single byte: the index; no edits).
for t in mbr_ebr:4 gpt_struct:5 ext4_struct:8 pipeline_struct:6; do
  name=${t%%:*}; n=${t##*:}; mkdir -p "corpus/$name"
  for i in $(seq 0 $((n - 1))); do printf "\\x$(printf %02x "$i")" > "corpus/$name/fixture-$i"; done
done
