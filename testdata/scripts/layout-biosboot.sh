#!/usr/bin/env bash
# A fresh GPT disk with a BIOS boot partition no GRUB was ever installed
# to (issue 13 F16): sgdisk -n 1:...:EF02 leaves it zeros and sector 0
# without boot code; partition 2 a small ext4. Empty, not destroyed.
# Needs gdisk, e2fsprogs.
source "$(dirname "$0")/common.sh"
d=$work/biosboot-fresh.img
truncate -s 16M "$d"
sgdisk -U 11111111-2222-3333-4444-000000001601 -n 1:2048:+1M -t 1:EF02 -c 1:bios \
  -u 1:aaaaaaaa-0000-0000-0000-000000001601 -n 2:4096:0 -t 2:8300 \
  -u 2:aaaaaaaa-0000-0000-0000-000000001602 "$d" >/dev/null
mkfs.ext4 -q -F -b 1024 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=$((4096*512)) \
  -U 5a5a5a5a-0000-0000-0000-000000001602 -L root "$d" $((16*1024 - 2048 - 17))k
store layout "$d"
