#!/usr/bin/env bash
# A realistic big guest for bench/run.sh (issue 20), generated on demand:
# a 100 GiB qcow2 with GPT, a 512 MiB ESP (FAT32) and an ext4 root holding
# FILES files (default 1,000,000) in a tree of 100-file directories three
# levels deep. The root filesystem is kept as a raw file beside it, for
# e2fsck -fn on the same ext4.
#
#   bench/bigguest.sh OUT_DIR [FILES] [SIZE_GIB]
#
# Writes OUT_DIR/guest-FILES.qcow2 and OUT_DIR/guest-FILES.root.ext4 (both
# sparse); the raw disk is deleted once converted. Sizes: a quarter of the
# files hold 1-3,000 bytes (random per file, fixed seed), the rest are empty.
#
# How the files get in (measured 2026-12-02, 2 cores, load ~3, 1 M files):
#  - as root: the ext4 is mounted on a loop device (noinit_itable) and the
#    generator creates the files in it: 54 s + 10 s umount;
#  - otherwise (GUEST_TREE=tmpfs, or not root): the tree is generated on
#    tmpfs (/dev/shm, about 1 GiB per million files) and copied in by
#    mkfs.ext4 -d: 21 s + 54 s. (The tree on the disk, as before, took
#    > 40 min at load 21.)
# The root is put into the disk by a SEEK_DATA/SEEK_HOLE copy (3 s for
# 1.8 GiB of data in 99.5 GiB; dd conv=sparse read all of it: 70 s).
set -euo pipefail
out=${1:?OUT_DIR}
files=${2:-1000000}
gib=${3:-100}
mkdir -p "$out"
q=$out/guest-$files.qcow2
root=$out/guest-$files.root.ext4
# one generator per size at a time (a second waits, then finds it made)
exec 9>"$out/.lock-$files"
flock 9
[ -f "$q" ] && [ -f "$root" ] && exit 0
raw=$out/guest-$files.raw
mnt=$out/mnt-$files
tree=${GUEST_TREE_DIR:-/dev/shm}/imgcheck-tree-$$
dev=
cleanup() {
  if [ -n "$dev" ]; then
    mountpoint -q "$mnt" && umount "$mnt"
    losetup -d "$dev"
  fi
  rmdir "$mnt" 2>/dev/null || true
  rm -rf "$tree"
}
trap cleanup EXIT
rm -f "$raw" "$root" "$q"

gen() { # gen DIR FILES: the tree, deterministic (seed 20)
  python3 - "$1" "$2" <<'PY'
import os, random, sys
top, n = sys.argv[1], int(sys.argv[2])
r = random.Random(20)
data = b"x" * 3000
per = 100
made = 0
d = 0
while made < n:
    p = os.path.join(top, f"usr{d // 10000:02}", f"lib{d // 100 % 100:02}", f"pkg{d % 100:02}")
    os.makedirs(p)
    for f in range(min(per, n - made)):
        fd = os.open(os.path.join(p, f"f{f:02}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        if r.random() < 0.25:
            os.write(fd, data[: r.randint(1, 3000)])
        os.close(fd)
    made += per
    d += 1
PY
}

# GPT: ESP at 1 MiB (512 MiB), root from 513 MiB to the end.
sectors=$((gib * 1024 * 1024 * 2))
esp_start=2048
root_start=$((2048 + 1048576))
root_end=$((sectors - 34 - 1))
root_sectors=$((root_end - root_start + 1))
truncate -s $((root_sectors * 512)) "$root"
if [ "${GUEST_TREE:-}" != tmpfs ] && [ "$(id -u)" = 0 ]; then
  mkfs.ext4 -q -F "$root"
  mkdir -p "$mnt"
  dev=$(losetup -f --show "$root")
  mount -o noinit_itable,nobarrier "$dev" "$mnt"
  gen "$mnt" "$files"
  umount "$mnt"
  losetup -d "$dev"
  dev=
else
  gen "$tree" "$files"
  mkfs.ext4 -q -F -d "$tree" "$root"
  rm -rf "$tree"
fi
e2fsck -fn "$root" >/dev/null

truncate -s "${gib}G" "$raw"
sgdisk -n 1:$esp_start:$((root_start - 1)) -t 1:ef00 -n 2:$root_start:$root_end -t 2:8300 "$raw" >/dev/null
# (its warnings, a small FAT32 and the disk larger than the FAT, are expected)
mkfs.vfat -F 32 --offset $esp_start "$raw" $((1048576 / 2)) >/dev/null 2>&1
# the root's data extents only, at the partition's offset
python3 - "$root" "$raw" $((root_start * 512)) <<'PY'
import os, sys
src, dst, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
i = os.open(src, os.O_RDONLY)
o = os.open(dst, os.O_WRONLY)
end = os.fstat(i).st_size
pos = 0
while pos < end:
    try:
        pos = os.lseek(i, pos, os.SEEK_DATA)
    except OSError:  # ENXIO: no data past pos
        break
    hole = os.lseek(i, pos, os.SEEK_HOLE)
    while pos < hole:
        n = os.copy_file_range(i, o, hole - pos, pos, pos + off)
        if n == 0:
            raise SystemExit("short copy")
        pos += n
PY
qemu-img convert -q -O qcow2 "$raw" "$q"
rm -f "$raw"
