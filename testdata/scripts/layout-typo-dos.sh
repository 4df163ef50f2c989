#!/usr/bin/env bash
# The issue's typo incident with a DOS victim (issue 13 F27): a 512 MiB DOS
# disk (sfdisk, partition 1 from 1 MiB to the end, a multi-group 4k ext4
# "victim"), and a 64 MiB GPT template (sgdisk, its own 1k ext4) written
# whole over its start. The victim keeps no backup table at the disk's
# end, so only its backup superblocks (group 1 at disk 129 MiB, group 3 at 385 MiB), which the tail samples miss tell
# the overwrite from a disk that grew.
# Needs gdisk, util-linux sfdisk, e2fsprogs.
source "$(dirname "$0")/common.sh"
truncate -s 512M "$work/victim.img"
printf 'label: dos\nlabel-id: 0x13f27001\nstart=2048, type=83\n' | sfdisk -q "$work/victim.img"
E2FSPROGS_FAKE_TIME=1764000000 mkfs.ext4 -q -F -b 4096 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000002701 -L victim "$work/victim.img" $((512*1024 - 1024))k
truncate -s 64M "$work/template.img"
sgdisk -U 11111111-2222-3333-4444-000000002702 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000002702 "$work/template.img" >/dev/null
E2FSPROGS_FAKE_TIME=1760000000 mkfs.ext4 -q -F -b 1024 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000002702 -L template "$work/template.img" $((64*1024 - 1024 - 17))k
cp "$work/victim.img" "$work/typo-dos.img"
dd if="$work/template.img" of="$work/typo-dos.img" conv=notrunc status=none
store layout "$work/typo-dos.img"
