#!/usr/bin/env bash
# A template image dd'd over the start of a disk with a count, so only its
# first MiBs land (`dd if=template.img of=/dev/vdb bs=1M count=N`): the
# victim is layout.sh's typo-overwrite victim (a 64 MiB GPT disk, sgdisk,
# partition 1 a multi-group 1k ext4 by mkfs.ext4), the template a 16 MiB
# GPT image with its own ext4 (4k blocks).
# short-dd-1m.img: count=1, the victim's tables replaced, its filesystem
# (from 1 MiB) untouched. short-dd-2m.img: count=2, its first MiB (the
# primary superblock, descriptors, group 0's inode table start) replaced,
# its superblock copy of group 1 at 9 MiB intact.
# Needs gdisk, e2fsprogs.
source "$(dirname "$0")/common.sh"
truncate -s 64M "$work/victim.img"
sgdisk -U 11111111-2222-3333-4444-000000001341 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000001341 "$work/victim.img" >/dev/null
E2FSPROGS_FAKE_TIME=1764000000 mkfs.ext4 -q -F -b 1024 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000001341 -L victim "$work/victim.img" $((64*1024 - 1024 - 17))k
truncate -s 16M "$work/template.img"
sgdisk -U 11111111-2222-3333-4444-000000001342 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000001342 "$work/template.img" >/dev/null
E2FSPROGS_FAKE_TIME=1760000000 mkfs.ext4 -q -F -b 4096 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000001342 -L template "$work/template.img" $((16*1024 - 1024 - 17))k
for n in 1 2; do
  cp "$work/victim.img" "$work/short-dd-${n}m.img"
  dd if="$work/template.img" of="$work/short-dd-${n}m.img" bs=1M count=$n conv=notrunc status=none
  store layout "$work/short-dd-${n}m.img"
done
