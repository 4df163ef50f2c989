#!/usr/bin/env bash
# v5-attr-holes: attribute leaf blocks the kernel left with holes (names
# removed that were not the lowest in their block: the first used byte
# stays below the lowest live name, `holes` is set), and a node-form
# attribute fork with remote values. Found by the clean matrix: a
# first-used rule without the holes flag called 18 clean filesystems
# damaged; xfs_repair -n passes them.
# Needs root, xfsprogs, python3, loop devices.
source "$(dirname "$0")/common.sh"
source "$testdata/xfs/lib.sh"
trap 'xfs_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
img=$work/v5-attr-holes.img
truncate -s 40M "$img"
mkfs.xfs -q -f -d agcount=2 -m uuid=5a5a5a5a-0000-0000-0000-000000001910 "$img"
m=$(mktemp -d); XFS_MOUNTS+=("$m")
mount -o loop "$img" "$m"
python3 - "$m" <<'PY'
import os, sys
m = sys.argv[1]
leaf = os.path.join(m, "leaf")
open(leaf, "wb").close()
for i in range(60):
    os.setxattr(leaf, f"user.a{i:03}", b"v" * 30)
for i in range(0, 60, 3):
    os.removexattr(leaf, f"user.a{i:03}")
node = os.path.join(m, "node")
open(node, "wb").close()
for i in range(400):
    os.setxattr(node, f"user.attribute_number_{i}", b"v" * 150)
os.setxattr(node, "user.remote1", b"r" * 9000)
for i in range(0, 400, 7):
    os.removexattr(node, f"user.attribute_number_{i}")
PY
umount "$m"; rmdir "$m"
xfs_repair -n "$img" >/dev/null 2>&1 && r=0 || r=$?
echo "v5-attr-holes: xfs_repair -n exit $r"
for b in 0 1 2; do xfs_db -r -c 'path /node' -c "ablock $b" -c 'print hdr.holes' "$img" 2>/dev/null || true; done
store xfs "$img"
