#!/usr/bin/env bash
# Fixture for issue 17's false alarm attackB F2 (--scan only): files that
# hold MiB-long zero runs of their own, written at once by the kernel on
# a 1 KiB-block ext4. Needs: root and a loop device (mount), e2fsprogs,
# python3, zstd.
#
# lost/zeroheavy-1k.img: 10 pairs of 2 MiB files, a = 1 MiB of data then
# 1 MiB of zeros, b = 1 MiB of zeros then 1 MiB of data; mballoc lays each
# pair out contiguous from a block 1 KiB past a MiB boundary (block 0 of
# a 1 KiB-block ext4 is before its first group), so each a's zero tail
# and b's zero head are one 2 MiB run 1 KiB past MiB boundaries, which
# the 4 KiB zero map rounds onto them. Nothing is lost: e2fsck -fn is
# clean and every byte is what was written.
source "$(dirname "$0")/common.sh"

mkdir -p "$testdata/fixtures/lost"
img="$work/zeroheavy-1k.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 1024 -L zeroheavy -U 17171717-0000-4000-8000-000000000401 \
  -E hash_seed=17171717-0000-4000-8000-000000000402,root_owner=0:0 "$img"
mkdir -p "$work/mnt"
mount -o loop "$img" "$work/mnt"
python3 - "$work/mnt" <<'PY'
import os, random, sys
rng = random.Random(1702)
M = 1 << 20
# Binary data without NUL bytes, a 4093-byte pattern per file so the
# fixture compresses.
def data(n):
    pat = bytes(b or 1 for b in rng.randbytes(4093))
    return (pat * (n // len(pat) + 1))[:n]
for i in range(10):
    for name, body in ((f"a{i:02d}.db", data(M) + bytes(M)),
                       (f"b{i:02d}.db", bytes(M) + data(M))):
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
PY
umount "$work/mnt"
e2fsck -fn "$img" >/dev/null
store lost "$img"
