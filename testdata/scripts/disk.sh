#!/usr/bin/env bash
# Whole-disk fixtures for the CLI: the stack from image to filesystems.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"

# gpt-two-ext4.img: 64 MiB raw disk, GPT (sgdisk), two ext4 partitions.
# Filesystems are made in files of their own and copied in: mke2fs wipes
# the first sectors of the file it is given, offset or not.
img=$work/gpt-two-ext4.img
mkfs.ext4 -q -F -U 5a5a5a5a-0000-0000-0000-000000000001 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
  -L root -d "$work/tree" "$work/p1" $(( (49152-2048)*512/1024 ))k
mkfs.ext4 -q -F -U 5a5a5a5a-0000-0000-0000-000000000002 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
  -L data "$work/p2" $(( (129024-49152)*512/1024 ))k
truncate -s 64M "$img"
dd if="$work/p1" of="$img" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$work/p2" of="$img" bs=512 seek=49152 conv=notrunc,sparse status=none
sgdisk -U 11111111-2222-3333-4444-555555555555 \
  -n 1:2048:49151 -t 1:8300 -c 1:root -u 1:aaaaaaaa-0000-0000-0000-000000000001 \
  -n 2:49152:129023 -t 2:8300 -c 2:data -u 2:aaaaaaaa-0000-0000-0000-000000000002 "$img" >/dev/null
store disk "$img"

# The same disk as qcow2.
qemu-img convert -q -f raw -O qcow2 "$img" "$work/gpt-two-ext4.qcow2"
store disk "$work/gpt-two-ext4.qcow2"

# dos-logical.img: 32 MiB, MBR with a primary, an extended and two logical
# partitions (sfdisk); ext4 in the first logical one.
img=$work/dos-logical.img
truncate -s 32M "$img"
sfdisk -q --no-reread --label dos --label-nested dos -X dos "$img" <<'PT' >/dev/null
label-id: 0x1234abcd
start=2048, size=10240, type=83
start=12288, size=53248, type=5
start=14336, size=20480, type=83
start=36864, size=28672, type=82
PT
mkfs.ext4 -q -F -U 5a5a5a5a-0000-0000-0000-000000000003 -L logical "$work/l5" $((20480*512/1024))k
dd if="$work/l5" of="$img" bs=512 seek=14336 conv=notrunc,sparse status=none
store disk "$img"

# random.img: 1 MiB of (seeded) random bytes: no table, no filesystem.
python3 -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(1<<16)))' > "$work/random.img"
store disk "$work/random.img"

# whole-disk-ext4.img: `mkfs.ext4 disk.img` with no partition table.
img=$work/whole-disk-ext4.img
truncate -s 16M "$img"
mkfs.ext4 -q -F -U 5a5a5a5a-0000-0000-0000-000000000004 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff -d "$work/tree" -L whole "$img"
store disk "$img"

# Empty images: the "backup" that has quietly been empty for months.
qemu-img create -q -f qcow2 "$work/empty.qcow2" 1G
store disk "$work/empty.qcow2"
truncate -s 16M "$work/empty.img"
store disk "$work/empty.img"

# snap-before-damage.qcow2: the two-partition disk as qcow2, an internal
# snapshot "good", then the current state's first MiB zeroed by qemu-io (the
# stray dd) — the snapshot is sound, the current disk is not.
qemu-img convert -q -f raw -O qcow2 "$work/gpt-two-ext4.img" "$work/snap-before-damage.qcow2"
TZ=UTC faketime '2025-11-14 12:00:00' qemu-img snapshot -c good "$work/snap-before-damage.qcow2"
qemu-io -f qcow2 -c "write -q -z 0 1M" "$work/snap-before-damage.qcow2"
store disk "$work/snap-before-damage.qcow2"

# chain/: a qcow2 whose backing file is missing (only the overlay kept).
qemu-img create -q -f qcow2 -b gpt-two-ext4.qcow2 -F qcow2 "$work/overlay.qcow2"
# a write into the unpartitioned tail (63 MiB), so the overlay is sound with its base
qemu-io -f qcow2 -c "write -q -P 0x5a 63M 64k" "$work/overlay.qcow2"
store disk "$work/overlay.qcow2"

# reformatted.img: partition 2 of gpt-two-ext4.img reformatted as swap by
# mkswap, which leaves the old ext4 backup superblocks behind.
cp "$work/gpt-two-ext4.img" "$work/reformatted.img"
dd if="$work/reformatted.img" of="$work/p2swap" bs=512 skip=49152 count=79872 status=none
mkswap -q -U 5a5a5a5a-0000-0000-0000-0000000000aa "$work/p2swap"
dd if="$work/p2swap" of="$work/reformatted.img" bs=512 seek=49152 conv=notrunc status=none
store disk "$work/reformatted.img"
