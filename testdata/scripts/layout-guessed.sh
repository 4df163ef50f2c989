#!/usr/bin/env bash
# A lost partition the signature scan can only size by guessing: a
# table-less disk holding a 300 MiB XFS (mkfs.xfs) at 101 MiB whose primary
# superblock sector was zeroed (the scan knows it by its AG headers, the
# XFS layer by its AG 1 secondary superblock), followed at 421 MiB by a
# 60 MiB NTFS (mkntfs) whose boot sector was zeroed (only its backup at the
# end survives, which the scan does not read). The scan sizes the XFS's
# partition to the gap up to the disk's end; 110.9 MiB of that are the
# NTFS's, so "grow the filesystem" would overwrite it. Needs xfsprogs and
# ntfs-3g.
source "$(dirname "$0")/common.sh"
d=$work/guessed-xfs.img
truncate -s 300M "$work/xfs"
mkfs.xfs -q -f -m uuid=5a5a5a5a-0000-0000-0000-000000000301 "$work/xfs"
truncate -s 60M "$work/ntfs"
mkntfs -q -F -f -L lost "$work/ntfs" >/dev/null 2>&1
truncate -s 512M "$d"
dd if="$work/xfs" of="$d" bs=1M seek=101 conv=notrunc,sparse status=none
dd if="$work/ntfs" of="$d" bs=1M seek=421 conv=notrunc,sparse status=none
# The XFS primary superblock's sector and the NTFS boot sector.
dd if=/dev/zero of="$d" bs=512 seek=$((101 * 2048)) count=1 conv=notrunc status=none
dd if=/dev/zero of="$d" bs=512 seek=$((421 * 2048)) count=1 conv=notrunc status=none
store layout "$d"
