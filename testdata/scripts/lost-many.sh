#!/usr/bin/env bash
# Fixture for issue 17's silent pass (attackC F3): more structure blocks
# than the zeroed-structure check's old count of 65,536, so a block late
# in disk order went unchecked and nothing said so. Needs: e2fsprogs
# (mkfs.ext4 -d, e2fsck), python3, zstd. mkfs.ext4 -d of 70,000 entries
# in one directory takes minutes: run by hand, not in the suite.
#
# lost/many-1k.img: a 120 MiB ext4 with 1 KiB blocks and 1 KiB inodes
# (-I 1024: one inode per table block) holding 70,000 empty files in /d,
# so 70,000 named inodes' table blocks and /d's directory blocks are
# structure to check. Pristine: the test zeroes the table block of the
# highest-numbered file on a copy (located with debugfs imap) and names
# it with debugfs ncheck.
source "$(dirname "$0")/common.sh"

mkdir -p "$testdata/fixtures/lost" "$work/t/d"
python3 - "$work/t/d" <<'PY'
import os, sys
for i in range(70000):
    open(os.path.join(sys.argv[1], f"e{i}"), "w").close()
PY
find "$work/t" -exec touch -d @1763000000 {} +
img="$work/many-1k.img"
truncate -s 120M "$img"
mkfs.ext4 -q -F -b 1024 -I 1024 -N 70200 -L many -U 17171717-0000-4000-8000-000000000301 \
  -E hash_seed=17171717-0000-4000-8000-000000000302,root_owner=0:0 -d "$work/t" "$img"
e2fsck -fn "$img" >/dev/null
store lost "$img"
