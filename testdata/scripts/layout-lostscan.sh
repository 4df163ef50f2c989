#!/usr/bin/env bash
# Lost partitions the signature scan must find where the MiB grid does not
# reach, each laid out by the tool that made such disks, then the MBR
# zeroed (`dd if=/dev/zero of=/dev/sdX bs=512 count=1`).
#
# lost-dos-cyl.img: a DOS-era layout on 255 heads / 63 sectors, exactly
# what `fdisk -c=dos -u=cylinders` chooses on a 64 MiB disk (the first
# partition at sector 63, the others on cylinder boundaries, a logical
# partition one track after its EBR): three ext4 (mkfs.ext4), none of
# them on a 1 MiB boundary but the first's sector-63 start.
#
# lost-backup-boot.img: partitions on the 1 MiB grid (sfdisk), an NTFS
# (mkntfs) and a FAT32 (mkfs.vfat, files by mtools) each with its first
# sector zeroed as well: only their backup boot sectors are left (NTFS's
# in the volume's last sector, FAT32's at BPB_BkBootSec, sector 6).
# Needs e2fsprogs, fdisk (sfdisk), ntfs-3g (mkntfs), dosfstools, mtools,
# faketime.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"
seed=hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff

# ext FILE SECTORS BLOCK UUID_TAIL: an ext4 with the tree.
ext() {
  truncate -s $(($2 * 512)) "$1"
  mkfs.ext4 -q -F -b "$3" -E "$seed" -U "5a5a5a5a-0000-0000-0000-0000000013$4" -L "cyl$4" \
    -d "$work/tree" "$1"
}
# put DISK FILE LBA: FILE written into DISK at sector LBA.
put() { dd if="$2" of="$1" bs=512 seek="$3" conv=notrunc status=none; }
# wipe DISK LBA: one sector of zeros at LBA.
wipe() { dd if=/dev/zero of="$1" bs=512 seek="$2" count=1 conv=notrunc status=none; }

d=$work/lost-dos-cyl.img
truncate -s 64M "$d"
sfdisk -q --no-reread --label dos "$d" <<'PT' >/dev/null
label-id: 0x5a5a1305
start=63, size=32067, type=83
start=32130, size=48195, type=83
start=80325, size=48195, type=5
start=80388, size=48132, type=83
PT
ext "$work/p1" 32067 1024 01
ext "$work/p2" 48195 1024 02
ext "$work/p5" 48132 4096 05
put "$d" "$work/p1" 63
put "$d" "$work/p2" 32130
put "$d" "$work/p5" 80388
wipe "$d" 0
store layout "$d"

d=$work/lost-backup-boot.img
truncate -s 96M "$d"
sfdisk -q --no-reread --label dos "$d" <<'PT' >/dev/null
label-id: 0x5a5a1307
start=2048, size=81920, type=7
start=86016, size=81920, type=c
PT
truncate -s 40M "$work/ntfs"
frozen mkntfs -q -F -Q -T -s 512 -p 2048 -H 255 -S 63 -L lostntfs "$work/ntfs" >/dev/null 2>&1
truncate -s 40M "$work/fat"
frozen mkfs.vfat -F 32 -s 1 -h 86016 -i 5a5a1307 -n LOSTFAT32 "$work/fat" >/dev/null
TZ=UTC mcopy -m -i "$work/fat" "$work/tree/etc/hostname" "$work/tree/var/log/syslog" ::/
put "$d" "$work/ntfs" 2048
put "$d" "$work/fat" 86016
wipe "$d" 0
wipe "$d" 2048
wipe "$d" 86016
store layout "$d"
