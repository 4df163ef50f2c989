#!/usr/bin/env bash
# Fixtures for issue 17's typo overwrite: `dd if=foreign.img of=/dev/vda
# conv=notrunc` instead of the intended disk, over a VM's populated disk.
# Needs: e2fsprogs, gdisk (sgdisk), dosfstools, faketime, qemu-img, zstd.
#
# The victim: a GPT disk (sgdisk), partition 1 at 1 MiB an ext4 with 4k
# blocks and the default 32768 blocks per group (136 MiB, two groups: the
# backup superblock of group 1 at block 32768, 129 MiB into the disk),
# populated with mke2fs -d. The foreign image: 3.1 MiB (6348 sectors), a
# GPT (sgdisk) whose own headers give its size (alternate_lba 6347) and a
# FAT partition (mkfs.vfat). Its whole length lands on the victim's start:
# the victim's MBR, primary GPT and the first 2.1 MiB of its ext4
# (superblock, descriptors, reserved GDT, bitmaps, inode tables and the
# first files' data) are gone; its backup GPT and group 1 survive.
#
# The truth a test compares against is what debugfs icheck/ncheck compute
# on the victim before the overwrite for the partition's blocks 0..537
# (the foreign image ends at partition byte 2201600, inside block 537):
# typo-victim-p1.img.zst is that partition as it was, kept so the test
# can run debugfs itself.
source "$(dirname "$0")/common.sh"

make_tree "$work/tree"
# More files than make_tree's: a populated root spread over many
# directories, so the overwrite cuts through data of several files.
python3 - "$work/tree/srv" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(171)
for d in range(12):
    dd = os.path.join(root, f"d{d:02d}")
    os.makedirs(dd, exist_ok=True)
    for f in range(10):
        n = rng.choice([500, 3000, 9000, 40000, 120000])
        with open(os.path.join(dd, f"f{f:02d}.txt"), "w") as fh:
            fh.write((f"line of d{d:02d}/f{f:02d}\n") * (n // 20))
PY
find "$work/tree" -exec touch -h -d @1763000000 {} +

disk="$work/typo-victim.img"
truncate -s $((1 + 136 + 1))M "$disk"
sgdisk -U 17171717-0000-4000-8000-000000000171 -n 1:2048:+136M -t 1:8300 \
  -u 1:17171717-0000-4000-8000-000000000172 "$disk" >/dev/null
truncate -s 136M "$work/p1.img"
mkfs.ext4 -q -F -b 4096 -d "$work/tree" \
  -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
  -U 5a5a5a5a-0000-0000-0000-000000000171 -L victim "$work/p1.img"
dd if="$work/p1.img" of="$disk" bs=1M seek=1 conv=notrunc status=none
cp "$work/p1.img" "$work/typo-victim-p1.img"
store lost "$work/typo-victim-p1.img"

# The foreign image: 6348 sectors (3.1 MiB), GPT, one FAT partition.
foreign="$work/foreign.img"
truncate -s $((6348 * 512)) "$foreign"
sgdisk -U 17171717-0000-4000-8000-000000000173 -n 1:2048:0 -t 1:0700 \
  -u 1:17171717-0000-4000-8000-000000000174 "$foreign" >/dev/null
frozen mkfs.vfat -i 5a5a0171 --offset=2048 "$foreign" $(((6315 - 2048) / 2)) >/dev/null

cp "$disk" "$work/typo-lost.img"
dd if="$foreign" of="$work/typo-lost.img" conv=notrunc status=none
store lost "$work/typo-lost.img"
qemu-img convert -q -f raw -O qcow2 "$work/typo-lost.img" "$work/typo-lost.qcow2"
store lost "$work/typo-lost.qcow2"
