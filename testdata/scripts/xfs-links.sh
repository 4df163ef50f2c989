#!/usr/bin/env bash
# v5-1k-links: remote symlinks on 1 KiB blocks around the one-block limit
# (1024 - 56 header bytes = 968): the kernel writes a target longer than
# that as one buffer over two blocks, with one header and one CRC.
# Found attacking the xfs checker; xfs_repair -n passes it.
# Needs root, xfsprogs, loop devices.
source "$(dirname "$0")/common.sh"
source "$testdata/xfs/lib.sh"
trap 'xfs_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
img=$work/v5-1k-links.img
truncate -s 40M "$img"
mkfs.xfs -q -f -b size=1024 -d agcount=2 -m uuid=5a5a5a5a-0000-0000-0000-000000001909 "$img"
m=$(mktemp -d); XFS_MOUNTS+=("$m")
mount -o loop "$img" "$m"
for n in 900 968 969 1023; do
  ln -s "$(head -c "$n" < <(yes "t/" | tr -d '\n'))" "$m/link$n"
done
umount "$m"; rmdir "$m"
xfs_repair -n "$img" >/dev/null 2>&1 && r=0 || r=$?
echo "v5-1k-links: xfs_repair -n exit $r"
store xfs "$img"
