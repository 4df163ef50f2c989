#!/usr/bin/env bash
# A partition shrunk under its filesystem: the table was rewritten with a
# smaller size (sfdisk -N, as a mistaken "resize" does) while the
# filesystem in it was not shrunk, so the filesystem now runs past its
# partition's end.
#
# shrunk-mbr-ext4.img: MBR (sfdisk), partition 1 a 4k ext4 of 32 MiB
# (mkfs.ext4) cut to 20 MiB; its last 12 MiB lie in free space.
# shrunk-gpt-xfs.img: GPT (sgdisk), partition 1 a 64 MiB XFS (mkfs.xfs)
# cut to 40 MiB by sfdisk, and partition 2 made by sgdisk in the space
# that freed, over the XFS's last 24 MiB (an ext4 there: mkfs.ext4).
# Needs e2fsprogs, xfsprogs, fdisk (sfdisk), gdisk.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"
seed=hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff

d=$work/shrunk-mbr-ext4.img
truncate -s 48M "$d"
printf 'label-id: 0x5a5a1311\nstart=2048, size=65536, type=83\n' \
  | sfdisk -q --no-reread --label dos "$d" >/dev/null
truncate -s 32M "$work/e"
mkfs.ext4 -q -F -b 4096 -E "$seed" -U 5a5a5a5a-0000-0000-0000-000000001311 -L shrunk \
  -d "$work/tree" "$work/e"
dd if="$work/e" of="$d" bs=512 seek=2048 conv=notrunc status=none
echo 'size=40960' | sfdisk -q --no-reread -N 1 "$d" >/dev/null
store layout "$d"

d=$work/shrunk-gpt-xfs.img
truncate -s 112M "$d"
sgdisk -U 11111111-2222-3333-4444-000000001312 -n 1:2048:+64M -t 1:8300 -c 1:data \
  -u 1:aaaaaaaa-0000-0000-0000-000000001312 "$d" >/dev/null
truncate -s 64M "$work/x"
# mkfs.xfs refuses filesystems under 300 MiB outside fstests.
export TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1
TZ=UTC faketime "2025-10-09 08:00:00" mkfs.xfs -q -f -m uuid=5a5a5a5a-0000-0000-0000-000000001312 -L shrunk "$work/x"
dd if="$work/x" of="$d" bs=512 seek=2048 conv=notrunc status=none
echo 'size=81920' | sfdisk -q --no-reread -N 1 "$d" >/dev/null
sgdisk -n 2:83968:+24M -t 2:8300 -c 2:new -u 2:aaaaaaaa-0000-0000-0000-000000001313 "$d" >/dev/null
truncate -s 24M "$work/e2"
mkfs.ext4 -q -F -b 1024 -E "$seed" -U 5a5a5a5a-0000-0000-0000-000000001313 -L new "$work/e2"
dd if="$work/e2" of="$d" bs=512 seek=83968 conv=notrunc status=none
store layout "$d"
