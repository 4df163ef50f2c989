#!/usr/bin/env bash
# Fixture for a false alarm in issue 17's loss map (lost8 attack F0): a
# clean ext4 written through a loop mount whose one zero run is only
# legitimate zeros, nothing lost (e2fsck -fn clean).
# Needs: root (losetup, mount of ext4), e2fsprogs, python3, zstd.
#
# lost/free-gap.img: /pg/db1 is 4 KiB of random bytes then 124 KiB of
#   zeros (a database file's zero pages); a filler file of zeros is
#   written right after it and deleted, leaving free blocks of zeros up
#   to a 1 MiB boundary; /headz, written after the filler, starts there
#   with 1 MiB of zeros then random bytes (a raw disk image file starts
#   like that), so its zero head ends on a 1 MiB (and 4 MiB) boundary.
#   One zero run: db1's tail, free space, headz's head. Free space
#   between two files' own zeros does not make them one loss.
source "$(dirname "$0")/common.sh"

mnt="$work/mnt"
mkdir -p "$mnt"
loop=
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  if [ -n "$loop" ]; then losetup -d "$loop"; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$testdata/fixtures/lost"

img="$work/free-gap.img"
truncate -s 32M "$img"
mkfs.ext4 -q -F -b 4096 -O ^has_journal -L fg -U 17171717-0000-4000-8000-0000000009a1 \
  -E hash_seed=17171717-0000-4000-8000-0000000009a2,root_owner=0:0 "$img"
loop=$(losetup -f --show "$img")
mount "$loop" "$mnt"
mkdir "$mnt/pg"
python3 - "$mnt" <<'PY'
import os, random, subprocess, sys
m = sys.argv[1]
r = random.Random(91)
def write(p, data):
    with open(os.path.join(m, p), "wb") as f:
        f.write(data)
    os.sync()
write("pg/db1", r.randbytes(4096) + bytes(126976))
# db1's last physical block (FIEMAP), so the filler ends on a 1 MiB
# boundary and headz starts there.
out = subprocess.run(["filefrag", "-v", "-b4096", os.path.join(m, "pg/db1")],
                     capture_output=True, text=True, check=True).stdout
last = max(int(l.split(":")[2].split("..")[1])
           for l in out.splitlines() if l.strip()[:1].isdigit())
write("filler", bytes((-(last + 1) % 256 or 256) * 4096))
# Random, no 4 KiB block of it zeros, and compresses well.
write("headz", bytes(1 << 20) + r.randbytes(4096) * 220)
os.remove(os.path.join(m, "filler"))
os.sync()
PY
touch -d @1763000000 "$mnt/pg/db1" "$mnt/headz" "$mnt/pg" "$mnt"
umount "$mnt"
losetup -d "$loop"
loop=
e2fsck -fn "$img" >/dev/null
first_block() { debugfs -R "bmap $2 0" "$1" 2>/dev/null; }
h=$(first_block "$img" /headz)
[ $((h % 256)) -eq 0 ] || { echo "headz at block $h, not on a 1 MiB boundary" >&2; exit 1; }
store lost "$img"
