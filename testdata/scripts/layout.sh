#!/usr/bin/env bash
# Fixtures for what the partition-table layer must not mistake for an MBR
# (bare volumes, an isohybrid ISO, stray bytes in front of a filesystem).
# Needs: ntfs-3g (mkntfs), exfatprogs, e2fsprogs, fdisk (sfdisk), xorriso,
# qemu-utils.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"

# ntfs-bare.img: `mkntfs` on a whole file, no partition table: its boot
# sector ends in 0x55AA and its boot code fills the MBR's entry area.
# Reproducible: no -U (a random volume GUID), -T (zero file times) and a
# stopped clock (mkntfs seeds its serial number from the time).
truncate -s 4M "$work/ntfs-bare.img"
frozen mkntfs -q -F -Q -T -s 512 -p 0 -H 0 -S 0 -L bare "$work/ntfs-bare.img" >/dev/null 2>&1
store layout "$work/ntfs-bare.img"
# The same volume as a qcow2 guest disk.
qemu-img convert -q -f raw -O qcow2 "$work/ntfs-bare.img" "$work/ntfs-bare.qcow2"
store layout "$work/ntfs-bare.qcow2"

# exfat-bare.img: mkfs.exfat on a whole file. Its volume serial comes from
# the clock's microseconds (no option sets it in exfatprogs 1.2), so it is
# pinned afterwards, with both boot regions' checksums recomputed.
truncate -s 4M "$work/exfat-bare.img"
mkfs.exfat -L bare "$work/exfat-bare.img" >/dev/null
exfat_serial "$work/exfat-bare.img" 5a5a0025
fsck.exfat -n "$work/exfat-bare.img" >/dev/null
store layout "$work/exfat-bare.img"

# ext2-stray.img: mkfs.ext2 on a whole file whose sector 0 still holds the
# MBR of the disk it was cut from (sfdisk on a 1 GiB file): entries that
# run past this 8 MiB image, in front of a healthy superblock at byte 1024.
truncate -s 1G "$work/big.img"
sfdisk -q --no-reread --label dos "$work/big.img" <<'PT' >/dev/null
label-id: 0x0badcafe
start=2048, size=1048576, type=83
start=1050624, size=1040000, type=83
PT
truncate -s 8M "$work/ext2-stray.img"
mkfs.ext2 -q -F -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff -U 5a5a5a5a-0000-0000-0000-000000000013 -L stray "$work/ext2-stray.img"
dd if="$work/big.img" of="$work/ext2-stray.img" bs=512 count=1 conv=notrunc status=none
store layout "$work/ext2-stray.img"

# hybrid.iso: xorriso's isohybrid MBR maps the ISO itself from sector 0
# (a placeholder isolinux.bin carries isolinux's magic so xorriso patches
# it); hybrid-head.iso is its first 64 KiB, a header sample.
mkdir -p "$work/iso"
echo hello > "$work/iso/a.txt"
python3 -c 'b=bytearray(2048); b[0x40:0x44]=bytes([0xfb,0xc0,0x78,0x70]); open("'"$work"'/iso/isolinux.bin","wb").write(b)'
touch -d @1763000000 "$work/iso" "$work/iso"/*
head -c 432 /dev/zero > "$work/mbr.bin"
SOURCE_DATE_EPOCH=1763000000 xorriso -as mkisofs -quiet -V HYBRID -isohybrid-mbr "$work/mbr.bin" \
  -b isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table -o "$work/hybrid.iso" "$work/iso" 2>/dev/null
store layout "$work/hybrid.iso"
head -c 65536 "$work/hybrid.iso" > "$work/hybrid-head.iso"
store layout "$work/hybrid-head.iso"
# hybrid-efi.iso: the same with an EFI El Torito image (mkfs.vfat) and
# xorriso's -isohybrid-gpt-basdat: a classic MBR (ISO at sector 0, an
# 0xEF entry) and a GPT beside it whose entries overlap the ISO by design.
truncate -s 1M "$work/iso/efi.img"
frozen mkfs.vfat -i 5a5a0026 -n EFI "$work/iso/efi.img" >/dev/null
touch -d @1763000000 "$work/iso" "$work/iso"/*
SOURCE_DATE_EPOCH=1763000000 xorriso -as mkisofs -quiet -V HYBRIDEFI -isohybrid-mbr "$work/mbr.bin" \
  -b isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
  -eltorito-alt-boot -e efi.img -no-emul-boot -isohybrid-gpt-basdat -o "$work/hybrid-efi.iso" "$work/iso" 2>/dev/null
store layout "$work/hybrid-efi.iso"

# Other labels, each made by the tool that writes it (parted: mac, dvh =
# SGI, atari; fdisk: sun, and a BSD disklabel nested in an MBR slice,
# stored as the slice alone as a BSD slice is imaged). Needs parted.
for l in mac dvh atari; do
  truncate -s 4M "$work/label-$l.img"
  # parted exits non-zero when it cannot ask udev to settle; the label is written.
  parted -s "$work/label-$l.img" mklabel $l mkpart primary ext2 1MiB 2MiB mkpart primary ext2 2MiB 3MiB 2>/dev/null || true
  [ -n "$(blkid -p -o value -s PTTYPE "$work/label-$l.img")" ]
  store layout "$work/label-$l.img"
done
truncate -s 4M "$work/label-sun.img"
printf "s\nw\n" | fdisk -H 4 -S 32 "$work/label-sun.img" >/dev/null 2>&1 || true
store layout "$work/label-sun.img"
# label-sun-head.img: its first MiB, a truncated copy.
head -c 1M "$work/label-sun.img" > "$work/label-sun-head.img"
store layout "$work/label-sun-head.img"
truncate -s 4M "$work/dos-bsd.img"
printf 'o\nn\np\n1\n2048\n\nt\na5\nw\n' | fdisk "$work/dos-bsd.img" >/dev/null 2>&1 || true
printf "b\ny\nn\na\n\n+1M\nt\na\n7\nn\nb\n\n\nt\nb\n1\nw\nq\n" | fdisk -H 4 -S 32 "$work/dos-bsd.img" >/dev/null 2>&1 || true
dd if="$work/dos-bsd.img" of="$work/label-bsd-slice.img" bs=512 skip=2048 status=none
store layout "$work/label-bsd-slice.img"

# Destroyed filesystems: a partition whose type promises one, and what dd
# did to it. Filesystems are made in files of their own and copied in.
# destroyed-sb-1group.img: GPT (sgdisk), partition 1 typed Linux
# filesystem, a one-group ext4 (4k blocks: no backup superblock) whose
# superblock was zeroed (dd bs=1024 seek=1 count=1 into the partition).
truncate -s 24M "$work/destroyed-sb-1group.img"
mkfs.ext4 -q -F -b 4096 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff -U 5a5a5a5a-0000-0000-0000-000000000021 -L onegroup "$work/p-1group" 16M
dd if="$work/p-1group" of="$work/destroyed-sb-1group.img" bs=512 seek=2048 conv=notrunc status=none
sgdisk -U 11111111-2222-3333-4444-000000000021 -n 1:2048:34815 -t 1:8300 -c 1:data \
  -u 1:aaaaaaaa-0000-0000-0000-000000000021 "$work/destroyed-sb-1group.img" >/dev/null
dd if=/dev/zero of="$work/destroyed-sb-1group.img" bs=1024 seek=$((2048*512/1024 + 1)) count=1 conv=notrunc status=none
store layout "$work/destroyed-sb-1group.img"

# destroyed-dd-zero.img: GPT, a 1k-block ext4 of 24 MiB (three groups,
# backup superblocks at blocks 8193 and 24577), its first 8 MiB zeroed by
# `dd if=/dev/zero of=/dev/sdX1 bs=1M count=8`.
truncate -s 32M "$work/destroyed-dd-zero.img"
mkfs.ext4 -q -F -b 1024 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff -U 5a5a5a5a-0000-0000-0000-000000000022 -L victim -d "$work/tree" "$work/p-1k" 24M
dd if="$work/p-1k" of="$work/destroyed-dd-zero.img" bs=512 seek=2048 conv=notrunc status=none
sgdisk -U 11111111-2222-3333-4444-000000000022 -n 1:2048:51199 -t 1:8300 -c 1:data \
  -u 1:aaaaaaaa-0000-0000-0000-000000000022 "$work/destroyed-dd-zero.img" >/dev/null
dd if=/dev/zero of="$work/destroyed-dd-zero.img" bs=1M seek=1 count=8 conv=notrunc status=none
store layout "$work/destroyed-dd-zero.img"
# destroyed-dd-zero-snap.qcow2: the same disk as qcow2 with an internal
# snapshot "bad" of the damaged state: the loss is the snapshot's too.
qemu-img convert -q -f raw -O qcow2 "$work/destroyed-dd-zero.img" "$work/destroyed-dd-zero-snap.qcow2"
TZ=UTC faketime '2025-11-14 12:00:00' qemu-img snapshot -c bad "$work/destroyed-dd-zero-snap.qcow2"
store layout "$work/destroyed-dd-zero-snap.qcow2"

# destroyed-dd-foreign.img: MBR (sfdisk), partition 1 type 0x83 holding the
# same 1k-block ext4, its first 8 MiB overwritten by a FAT image
# (mkfs.vfat): `dd if=usb.img of=/dev/sdX1` instead of /dev/sdY.
truncate -s 32M "$work/destroyed-dd-foreign.img"
dd if="$work/p-1k" of="$work/destroyed-dd-foreign.img" bs=512 seek=2048 conv=notrunc status=none
sfdisk -q --no-reread --label dos "$work/destroyed-dd-foreign.img" <<'PT' >/dev/null
label-id: 0x5a5a0023
start=2048, size=49152, type=83
PT
truncate -s 8M "$work/usb.img"
frozen mkfs.vfat -i 5a5a0024 -n USBSTICK "$work/usb.img" >/dev/null
dd if="$work/usb.img" of="$work/destroyed-dd-foreign.img" bs=1M seek=1 conv=notrunc status=none
store layout "$work/destroyed-dd-foreign.img"
qemu-img convert -q -f raw -O qcow2 "$work/destroyed-dd-foreign.img" "$work/destroyed-dd-foreign.qcow2"
store layout "$work/destroyed-dd-foreign.qcow2"

# typo-overwrite.img: the typo that wrote a template image over a VM's
# disk (`dd if=template.img of=/dev/vdb` instead of a new disk). The
# victim: a 64 MiB GPT disk (sgdisk), partition 1 a multi-group 1k-block
# ext4 written 2025-11-24; the template: a 16 MiB GPT image with its own
# ext4 (4k blocks), made 2025-10-09, dd'd over the victim's start. The
# victim's backup GPT survives at the end, its backup superblocks past
# 16 MiB (groups 3, 5, 7 at 1k blocks).
truncate -s 64M "$work/victim.img"
sgdisk -U 11111111-2222-3333-4444-000000000031 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000000031 "$work/victim.img" >/dev/null
E2FSPROGS_FAKE_TIME=1764000000 mkfs.ext4 -q -F -b 1024 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000000031 -L victim "$work/victim.img" $((64*1024 - 1024 - 17))k
truncate -s 16M "$work/template.img"
sgdisk -U 11111111-2222-3333-4444-000000000032 -n 1:2048:0 -t 1:8300 \
  -u 1:aaaaaaaa-0000-0000-0000-000000000032 "$work/template.img" >/dev/null
E2FSPROGS_FAKE_TIME=1760000000 mkfs.ext4 -q -F -b 4096 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff,offset=1048576 \
  -U 5a5a5a5a-0000-0000-0000-000000000032 -L template "$work/template.img" $((16*1024 - 1024 - 17))k
cp "$work/victim.img" "$work/typo-overwrite.img"
dd if="$work/template.img" of="$work/typo-overwrite.img" conv=notrunc status=none
store layout "$work/typo-overwrite.img"
qemu-img convert -q -f raw -O qcow2 "$work/typo-overwrite.img" "$work/typo-overwrite.qcow2"
store layout "$work/typo-overwrite.qcow2"
