#!/usr/bin/env bash
# Issue 17, attack F7 (session 9): a qcow2 image written raw over the
# start of a raw disk (`dd if=other.qcow2 of=disk.raw conv=notrunc`, the
# qcow2 taken for a raw image). The file then starts with qcow2's magic
# and a valid header, and qemu-img check calls it clean; the rest of it is
# the victim disk.
#
# The victim: a 64 MiB GPT disk (sgdisk), partition 1 at 1 MiB an ext4
# with 4 KiB blocks and 2048 blocks per group (8 MiB groups, so backup
# superblocks lie 8, 24, 40 and 56 MiB into it), populated with mke2fs -d
# from many directories of text files. The foreign qcow2: qemu-img
# convert of a 32 MiB ext4 with a few files (a few MiB of clusters). Its
# whole length lands on the victim's start: MBR, primary GPT, and the
# first MiBs of the ext4 (superblock, descriptors, bitmaps, inode tables,
# the first files' data) are gone; the backup GPT and groups 1.. survive.
# qcow2-over-victim-p1.img is the victim's partition as it was, so a test
# can run debugfs icheck/ncheck over the overwritten blocks.
# Stored: lost/qcow2-over.img, lost/qcow2-over-victim-p1.img,
# lost/qcow2-over-foreign.qcow2 (the foreign image alone: a genuine qcow2).
# Needs: e2fsprogs, gdisk, qemu-img, zstd, python3.
source "$(dirname "$0")/common.sh"

python3 - "$work/tree" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(177)
for d in range(16):
    dd = os.path.join(root, f"srv/d{d:02d}")
    os.makedirs(dd, exist_ok=True)
    for f in range(12):
        n = rng.choice([700, 5000, 20000, 60000, 150000])
        with open(os.path.join(dd, f"f{f:02d}.txt"), "w") as fh:
            fh.write((f"line of d{d:02d}/f{f:02d}\n") * (n // 20))
PY
find "$work/tree" -exec touch -h -d @1763000000 {} +

disk="$work/qcow2-over.img"
truncate -s 64M "$disk"
sgdisk -U 17171717-0000-4000-8000-000000000177 -n 1:2048:+62M -t 1:8300 \
  -u 1:17171717-0000-4000-8000-000000000178 "$disk" >/dev/null
truncate -s 62M "$work/p1.img"
mkfs.ext4 -q -F -b 4096 -g 2048 -d "$work/tree" \
  -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
  -U 5a5a5a5a-0000-0000-0000-000000000177 -L victim "$work/p1.img"
dd if="$work/p1.img" of="$disk" bs=1M seek=1 conv=notrunc status=none
cp "$work/p1.img" "$work/qcow2-over-victim-p1.img"
store lost "$work/qcow2-over-victim-p1.img"

# The foreign VM disk: a bare ext4 with some files, as qcow2.
mkdir -p "$work/ftree/opt"
python3 - "$work/ftree/opt" <<'PY'
import os, sys, random
r = random.Random(179)
for i in range(1, 13):
    # Binary and compressible: one random 512-byte block repeated.
    blk = bytes(r.randrange(1, 256) for _ in range(512))
    open(os.path.join(sys.argv[1], f"blob{i}"), "wb").write(blk * (i * 60))
PY
find "$work/ftree" -exec touch -h -d @1763000000 {} +
truncate -s 32M "$work/foreign.raw"
mkfs.ext4 -q -F -b 4096 -d "$work/ftree" -U 5a5a5a5a-0000-0000-0000-000000000179 \
  -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff -L foreign "$work/foreign.raw"
qemu-img convert -q -f raw -O qcow2 "$work/foreign.raw" "$work/qcow2-over-foreign.qcow2"
qemu-img check -q "$work/qcow2-over-foreign.qcow2"
store lost "$work/qcow2-over-foreign.qcow2"
dd if="$work/qcow2-over-foreign.qcow2" of="$disk" conv=notrunc status=none
# qemu-img reads the overwritten disk as that qcow2, and calls it clean.
qemu-img check -q "$disk"
store lost "$disk"
