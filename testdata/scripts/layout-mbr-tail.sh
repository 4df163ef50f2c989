#!/usr/bin/env bash
# Free space after an MBR disk's last partition, a logical one, where the
# extended partition already reaches the disk's end (sfdisk's ",,5" takes
# the rest): only the logical partition grows, not the container. A 64 MiB
# DOS disk: primary 1 of 16 MiB, extended 2 to the end, logical 5 of
# 16 MiB holding an ext4 (mkfs.ext4), 31 MiB free inside the extended.
# Needs fdisk and e2fsprogs.
source "$(dirname "$0")/common.sh"
d=$work/dos-extended-room.img
truncate -s 64M "$d"
printf 'label: dos\nlabel-id: 0x5a5a0064\nstart=2048, size=16M, type=83\nstart=34816, type=5\nsize=16M, type=83\n' \
  | sfdisk -q --no-reread "$d" >/dev/null
truncate -s 16M "$work/p5"
mkfs.ext4 -q -F -U 5a5a5a5a-0000-0000-0000-000000000605 "$work/p5"
start=$(sfdisk -d "$d" | awk -F'[=,]' '/img5 /{gsub(/ /,"",$2); print $2}')
dd if="$work/p5" of="$d" bs=512 seek="$start" conv=notrunc,sparse status=none
store layout "$d"
