#!/usr/bin/env bash
# dd of a foreign image over a partition (`dd if=X.img of=/dev/sdX1`
# instead of a new disk), each intruder made by the tool that writes it:
# mkfs.xfs, pvcreate (lvm2) and mkfs.vfat (with files dated by mtools).
# The victims are ext4 filesystems made by mkfs.ext4 in files of their own
# and copied into partitions made by sgdisk (GPT) and sfdisk (MBR); 1k and
# 4k blocks, one group (no backup superblock) and several. Stored raw, and
# as qcow2 where named. Needs root (pvcreate on a loop device), xfsprogs,
# lvm2, dosfstools, mtools, gdisk, fdisk, qemu-utils, faketime.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"
seed=hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff

# victim FILE SIZE BLOCK UUID_TAIL TIME: an ext4 with the tree, written at TIME.
victim() {
  E2FSPROGS_FAKE_TIME=$5 mkfs.ext4 -q -F -b "$3" -E "$seed" -U "5a5a5a5a-0000-0000-0000-0000000000$4" \
    -L victim -d "$work/tree" "$1" "$2"
}
# used FILE: the kernel mounts the ext4 and writes to it (its journal then
# holds transactions, as every filesystem in use does), on a loop device.
# The kernel's clock is not faked: these two fixtures are not byte-for-byte
# reproducible (inode and journal times), and no test reads those times.
used() {
  local m; m=$(mktemp -d)
  mount -o loop "$1" "$m"
  cp -r "$work/tree/." "$m/more"; sync; rm -rf "$m/more/var"; sync
  umount "$m"; rmdir "$m"
}
# gpt_disk FILE SIZE_MIB LAST_LBA TAIL: one partition typed Linux filesystem from LBA 2048.
gpt_disk() {
  truncate -s "$2"M "$1"
  sgdisk -U "11111111-2222-3333-4444-0000000000$4" -n "1:2048:$3" -t 1:8300 -c 1:data \
    -u "1:aaaaaaaa-0000-0000-0000-0000000000$4" "$1" >/dev/null
}
# mbr_disk FILE SIZE_MIB SECTORS ID: one partition of type 0x83 from LBA 2048.
mbr_disk() {
  truncate -s "$2"M "$1"
  printf 'label-id: 0x%s\nstart=2048, size=%s, type=83\n' "$4" "$3" \
    | sfdisk -q --no-reread --label dos "$1" >/dev/null
}
# into DISK FILE: FILE copied to the partition at LBA 2048.
into() { dd if="$2" of="$1" bs=512 seek=2048 conv=notrunc status=none; }

# remnant-xfs.img: GPT, partition 1 (160 MiB) a multi-group 4k ext4
# (backup superblock of group 1 at 128 MiB), then a 32 MiB mkfs.xfs image
# dd'd over its start.
victim "$work/v4k" 160M 4096 41 1764000000
gpt_disk "$work/remnant-xfs.img" 168 329727 41
into "$work/remnant-xfs.img" "$work/v4k"
truncate -s 32M "$work/xfs.img"
# mkfs.xfs refuses filesystems under 300 MiB outside fstests.
export TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1
TZ=UTC faketime "2025-10-09 08:00:00" mkfs.xfs -q -f -m uuid=5a5a5a5a-0000-0000-0000-000000000042 -L intruder "$work/xfs.img"
into "$work/remnant-xfs.img" "$work/xfs.img"
store layout "$work/remnant-xfs.img"
qemu-img convert -q -f raw -O qcow2 "$work/remnant-xfs.img" "$work/remnant-xfs.qcow2"
store layout "$work/remnant-xfs.qcow2"

# remnant-lvm.img: MBR, partition 1 (24 MiB, type 0x83) a three-group 1k
# ext4, then a 4 MiB image holding only a PV label (pvcreate on a loop
# device, as a disk prepared for LVM is) dd'd over its start.
victim "$work/v1k" 24M 1024 43 1764000000
mbr_disk "$work/remnant-lvm.img" 32 49152 5a5a0043
into "$work/remnant-lvm.img" "$work/v1k"
truncate -s 4M "$work/pv.img"
dev=$(losetup -f --show "$work/pv.img")
cfg="devices{filter=[\"a|^$dev\$|\",\"r|.*|\"] use_devicesfile=0 obtain_device_list_from_udev=0} backup{backup=0 archive=0} global{event_activation=0}"
faketime -f "@2025-10-09 08:00:00" lvm pvcreate --config "$cfg" --norestorefile \
  --uuid IntrPV-aaaa-bbbb-cccc-dddd-eeee-000044 "$dev" >/dev/null 2>&1 || { losetup -d "$dev"; exit 1; }
losetup -d "$dev"
into "$work/remnant-lvm.img" "$work/pv.img"
store layout "$work/remnant-lvm.img"
qemu-img convert -q -f raw -O qcow2 "$work/remnant-lvm.img" "$work/remnant-lvm.qcow2"
store layout "$work/remnant-lvm.qcow2"

# fat_image FILE SIZE_K ID: a FAT volume holding two files written at
# 2025-10-01 and 2025-10-09 (the newest entry of its root directory).
fat_image() {
  truncate -s "$2"K "$1"
  frozen mkfs.vfat -i "$3" -n INTRUDER "$1" >/dev/null
  printf 'old\n' > "$work/old.txt"; printf 'readme\n' > "$work/README.TXT"
  touch -d "2025-10-01 08:00:00 UTC" "$work/old.txt"
  touch -d "2025-10-09 12:34:56 UTC" "$work/README.TXT"
  TZ=UTC mcopy -m -i "$1" "$work/old.txt" "$work/README.TXT" ::/
}

# remnant-fat-1group.img: MBR, partition 1 a one-group 4k ext4 (64 MiB:
# no backup superblock) the kernel wrote to, a 1 MiB FAT image with dated
# files dd'd over its start: the journal's superblock is in its first
# MiB, its transactions survive further in.
victim "$work/v1g4k" 64M 4096 45 1764000000
used "$work/v1g4k"
mbr_disk "$work/remnant-fat-1group.img" 72 131072 5a5a0045
into "$work/remnant-fat-1group.img" "$work/v1g4k"
fat_image "$work/fat1.img" 1024 5a5a0046
into "$work/remnant-fat-1group.img" "$work/fat1.img"
store layout "$work/remnant-fat-1group.img"

# remnant-fat-1k.qcow2: GPT, partition 1 a one-group 1k ext4 (7 MiB)
# the kernel wrote to, the same kind of FAT image over its start, as a
# qcow2 guest disk.
victim "$work/v1g1k" 7M 1024 47 1764000000
used "$work/v1g1k"
gpt_disk "$work/remnant-fat-1k.img" 16 16383 47
into "$work/remnant-fat-1k.img" "$work/v1g1k"
fat_image "$work/fat2.img" 1024 5a5a0048
into "$work/remnant-fat-1k.img" "$work/fat2.img"
qemu-img convert -q -f raw -O qcow2 "$work/remnant-fat-1k.img" "$work/remnant-fat-1k.qcow2"
store layout "$work/remnant-fat-1k.qcow2"

# A valid table that no longer covers a filesystem that still exists.
# outside-mbr.img: an MBR disk of 64 MiB had two partitions (sfdisk), an
# ext4 in each; it was re-partitioned from a script that lost the second
# line, so the table now ends at 25 MiB and the second ext4 (1k blocks, at
# 32 MiB) lies in what the MBR calls free space.
victim "$work/o1" 24M 4096 51 1763000000
victim "$work/o2" 24M 1024 52 1764000000
truncate -s 64M "$work/outside-mbr.img"
printf 'label-id: 0x5a5a0051\nstart=2048, size=49152, type=83\nstart=65536, size=49152, type=83\n' \
  | sfdisk -q --no-reread --label dos "$work/outside-mbr.img" >/dev/null
into "$work/outside-mbr.img" "$work/o1"
dd if="$work/o2" of="$work/outside-mbr.img" bs=512 seek=65536 conv=notrunc status=none
printf 'label-id: 0x5a5a0051\nstart=2048, size=49152, type=83\n' \
  | sfdisk -q --no-reread --label dos "$work/outside-mbr.img" >/dev/null
store layout "$work/outside-mbr.img"
qemu-img convert -q -f raw -O qcow2 "$work/outside-mbr.img" "$work/outside-mbr.qcow2"
store layout "$work/outside-mbr.qcow2"

# outside-gpt.img: a GPT disk (sgdisk) whose partition 1 held an ext4 from
# LBA 2048; re-created with a typo'd start (LBA 20480, 10 MiB in): the
# partition now starts inside the old filesystem, which starts in space
# no partition covers.
victim "$work/o3" 24M 1024 53 1764000000
truncate -s 48M "$work/outside-gpt.img"
into "$work/outside-gpt.img" "$work/o3"
sgdisk -U 11111111-2222-3333-4444-000000000053 -n 1:20480:0 -t 1:8300 -c 1:data \
  -u 1:aaaaaaaa-0000-0000-0000-000000000053 "$work/outside-gpt.img" >/dev/null
store layout "$work/outside-gpt.img"
