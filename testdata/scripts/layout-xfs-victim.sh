#!/usr/bin/env bash
# typo-overwrite-xfs.img: the typo that wrote a template image over a VM's
# disk (`dd if=template.img of=/dev/vdb` instead of a new disk), with an
# XFS victim. The victim: a 96 MiB GPT disk (sgdisk), partition 1 from
# LBA 2048 to the end, holding an XFS (mkfs.xfs, 4 AGs of 6079 4 KiB
# blocks: none of its AG boundaries on a 1 MiB one) made 2025-11-24; the
# template: a 16 MiB GPT image with its own ext4 (4k blocks), made
# 2025-10-09, dd'd over the victim's start. The victim's AG 1..3
# secondary superblocks survive past 16 MiB. Needs gdisk, xfsprogs,
# e2fsprogs, faketime.
source "$(dirname "$0")/common.sh"
truncate -s 96M "$work/victim.img"
sgdisk -U 11111111-2222-3333-4444-000000001331 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000001331 "$work/victim.img" >/dev/null
last=$(sgdisk -i 1 "$work/victim.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
truncate -s $(( (last - 2048 + 1) * 512 )) "$work/xfs"
# mkfs.xfs refuses filesystems under 300 MiB outside fstests.
export TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1
TZ=UTC faketime "2025-11-24 08:00:00" mkfs.xfs -q -f -m uuid=5a5a5a5a-0000-0000-0000-000000001331 -L victim "$work/xfs"
dd if="$work/xfs" of="$work/victim.img" bs=512 seek=2048 conv=notrunc status=none
truncate -s 16M "$work/template.img"
sgdisk -U 11111111-2222-3333-4444-000000001332 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000001332 "$work/template.img" >/dev/null
E2FSPROGS_FAKE_TIME=1760000000 mkfs.ext4 -q -F -b 4096 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000001332 -L template "$work/template.img" $((16*1024 - 1024 - 17))k
cp "$work/victim.img" "$work/typo-overwrite-xfs.img"
dd if="$work/template.img" of="$work/typo-overwrite-xfs.img" conv=notrunc status=none
store layout "$work/typo-overwrite-xfs.img"
