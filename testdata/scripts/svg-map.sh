#!/usr/bin/env bash
# Disks whose --map drawing is hard to get right, made by sgdisk, mkfs.ext4
# and qemu-img (fixtures/svg/):
#   gpt-128.img       73 MiB GPT with all 128 entries used (512 KiB each,
#                     sgdisk -a 8) and an 8 MiB unpartitioned tail: the map
#                     caps its list of partitions, never the tail's row.
#   tiny-ends.qcow2   a 16 GiB GPT disk (sparse, a qcow2 of ~1 MiB): 1 MiB
#                     ext4 partitions at both ends beside a 16 GiB one and a
#                     2 MiB tail: at 16 MiB a pixel, the small partitions
#                     share pixels with their big neighbour and the tail.
#   bidi-name.img     8 MiB GPT whose partition 1 is named U+202E "evil"
#                     (sgdisk -c): the map must not show it reversed.
source "$(dirname "$0")/common.sh"

img=$work/gpt-128.img
truncate -s 73M "$img"
args=()
# Fixed partition GUIDs, as every fixture script: a rebuild is byte-identical.
for i in $(seq 1 128); do args+=("-n$i:0:+512K" "-u$i:5a5a0000-0000-4000-8000-$(printf '%012x' "$i")"); done
sgdisk -a 8 -U 5a5a0000-0000-4000-8000-000000005128 "${args[@]}" "$img" >/dev/null
store svg "$img"

raw=$work/tiny-ends.raw
truncate -s 16G "$raw"
sectors=$(( $(stat -c %s "$raw") / 512 ))
p3=$(( (sectors - 34 - 4096 - 2048) / 2048 * 2048 ))   # 1 MiB partition, 2+ MiB tail after it
sgdisk -U 5a5a0000-0000-4000-8000-00000000e1d5 \
  -n1:2048:+1M -n3:$p3:+1M -n2:4096:$(( p3 - 1 )) \
  -u1:5a5a0000-0000-4000-8000-00000000e111 -u2:5a5a0000-0000-4000-8000-00000000e112 \
  -u3:5a5a0000-0000-4000-8000-00000000e113 "$raw" >/dev/null
seed=-Ehash_seed=5a5a0000-0000-4000-8000-0000000000ff
mkfs.ext4 -q -F -U 5a5a0000-0000-4000-8000-00000000e101 "$seed" -L left "$work/fs1" 1M 2>/dev/null
mkfs.ext4 -q -F -U 5a5a0000-0000-4000-8000-00000000e103 "$seed" -L right "$work/fs3" 1M 2>/dev/null
dd if="$work/fs1" of="$raw" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$work/fs3" of="$raw" bs=512 seek=$p3 conv=notrunc,sparse status=none
qemu-img convert -q -f raw -O qcow2 "$raw" "$work/tiny-ends.qcow2"
store svg "$work/tiny-ends.qcow2"

img=$work/bidi-name.img
truncate -s 8M "$img"
sgdisk -U 5a5a0000-0000-4000-8000-00000000b1d1 -n1:2048:+2M \
  -u1:5a5a0000-0000-4000-8000-00000000b111 -c 1:"$(printf '\u202eevil')" "$img" >/dev/null
store svg "$img"
