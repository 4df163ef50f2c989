#!/usr/bin/env bash
# GRUB with /boot on XFS (issue 16 F9; GRUB 2 reads XFS, and RHEL, Rocky,
# Alma and SUSE install /boot on it): boot.sh's GPT layout with the root
# filesystem on XFS instead of ext4.
#
#   boot/gpt-xfs.img       96 MiB GPT: 1 BIOS boot (1 MiB), 2 EFI System
#                          (16 MiB FAT16 "ESP"), 3 Linux filesystem (XFS,
#                          mkfs.xfs defaults: v5, crc, ftype, bigtime,
#                          inobtcount, reflink) holding /boot.
#                          BIOS: grub-install --target=i386-pc onto the
#                          whole-disk loop device, the XFS mounted as
#                          --boot-directory (core.img holds part_gpt and
#                          xfs; load.cfg searches the XFS UUID).
#                          UEFI: \EFI\BOOT\BOOTX64.EFI by grub-mkimage
#                          with the same load.cfg (part_gpt xfs
#                          search_fs_uuid), copied with mtools.
#                          /boot holds gpt-grub.img's kernel stand-in and
#                          initramfs (debugfs dump) and the same grub.cfg.
#   boot/gpt-xfs-kernel-missing.delta(.zst)
#                          /boot/vmlinuz-imgcheck removed (rm, mounted),
#                          as a delta, compressed (it holds the log).
#   boot/gpt-xfs-v4.img    the same disk with partition 3 made by
#                          mkfs.xfs -m crc=0 (v4, which this kernel no
#                          longer mounts) with the same UUID, from a
#                          prototype file of the v5 /boot tree.
#
# Needs root (losetup, mount of XFS), grub-pc-bin, grub-efi-amd64-bin,
# gdisk, dosfstools, mtools, xfsprogs, e2fsprogs (debugfs), zstd, python3.
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
# mkfs.xfs refuses filesystems under 300 MiB outside fstests.
export TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1
T="2025-11-13 10:00:00"
clock() { faketime -f "@$T" "$@"; }
img=$work/gpt-xfs.img
mnt=$work/mnt
loops=()
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
uuid=5a5a5a5a-0000-0000-0000-0000000000f9

# The kernel stand-in and initramfs of boot.sh's disk.
zstd -dcq "$testdata/fixtures/boot/gpt-grub.img.zst" > "$work/ext.img"
for f in vmlinuz-imgcheck initrd.img-imgcheck; do
  debugfs -R "dump -p /boot/$f $work/$f" "$work/ext.img?offset=$((36864 * 512))" 2>/dev/null
done
rm "$work/ext.img"

truncate -s 96M "$img"
sgdisk --disk-guid=5a5a5a5a-0000-0000-0000-0000000000f0 \
  -n 1:2048:4095   -t 1:EF02 -c 1:bios -u 1:5a5a5a5a-0000-0000-0000-0000000000f1 \
  -n 2:4096:36863  -t 2:EF00 -c 2:esp  -u 2:5a5a5a5a-0000-0000-0000-0000000000f2 \
  -n 3:36864:0     -t 3:8300 -c 3:root -u 3:5a5a5a5a-0000-0000-0000-0000000000f3 "$img" >/dev/null
esp_off=$((4096 * 512))
root_off=$((36864 * 512))
root_len=$(( $(stat -c %s "$img") - root_off - 34 * 512 ))
dd if=/dev/zero of="$work/esp.img" bs=1M count=16 status=none
clock mkfs.vfat -F 16 -n ESP -i 5a5a00f9 "$work/esp.img" >/dev/null
dd if="$work/esp.img" of="$img" bs=1M seek=$((esp_off >> 20)) conv=notrunc,sparse status=none
truncate -s "$root_len" "$work/root.img"
clock mkfs.xfs -q -f -L root -m uuid=$uuid "$work/root.img"
dd if="$work/root.img" of="$img" bs=1M seek=$((root_off >> 20)) conv=notrunc,sparse status=none

disk=$(losetup --show -f "$img"); loops+=("$disk")
part=$(losetup --show -f -o "$root_off" --sizelimit "$root_len" "$img"); loops+=("$part")
mkdir -p "$mnt"
mount "$part" "$mnt"
mkdir -p "$mnt/boot/grub"
mods="part_gpt part_msdos xfs fat search search_fs_uuid normal linux echo configfile sleep test"
grub-install --target=i386-pc --boot-directory="$mnt/boot" \
  --install-modules="$(with_deps i386-pc $mods biosdisk)" --modules="part_gpt xfs" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
grep -q "$uuid" "$mnt/boot/grub/i386-pc/load.cfg"
mkdir -p "$mnt/boot/grub/x86_64-efi" "$work/efi/EFI/BOOT"
for m in $(with_deps x86_64-efi $mods); do
  cp /usr/lib/grub/x86_64-efi/$m.mod "$mnt/boot/grub/x86_64-efi/"
done
cp /usr/lib/grub/x86_64-efi/{moddep.lst,command.lst,fs.lst,partmap.lst} "$mnt/boot/grub/x86_64-efi/"
grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /boot/grub \
  -c "$mnt/boot/grub/i386-pc/load.cfg" -o "$work/efi/EFI/BOOT/BOOTX64.EFI" \
  part_gpt xfs search_fs_uuid
cat > "$mnt/boot/grub/grub.cfg" <<CFG
set timeout=1
menuentry 'imgcheck fixture' {
  echo 'imgcheck fixture: GRUB reached grub.cfg'
  search --no-floppy --fs-uuid --set=root $uuid
  if linux /boot/vmlinuz-imgcheck root=UUID=$uuid ro ; then
    initrd /boot/initrd.img-imgcheck
    echo 'imgcheck fixture: kernel and initrd loaded'
  else
    echo 'imgcheck fixture: no kernel'
  fi
  sleep 300
}
CFG
cp -p "$work/vmlinuz-imgcheck" "$work/initrd.img-imgcheck" "$mnt/boot/"
find "$mnt/boot" -exec touch -h -d "$T" {} +
cp -a "$mnt/boot" "$work/boot-tree"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()
clock mcopy -s -i "$img@@$esp_off" "$work/efi/EFI" ::/
store boot "$img"

cp "$img" "$work/km.img"
part=$(losetup --show -f -o "$root_off" --sizelimit "$root_len" "$work/km.img"); loops+=("$part")
mount "$part" "$mnt"
rm "$mnt/boot/vmlinuz-imgcheck"
umount "$mnt"
losetup -d "$part"; loops=()
# Kept compressed: the unmount rewrote 2 MiB of the log.
delta "$img" "$work/km.img" > "$work/gpt-xfs-kernel-missing.delta"
store boot "$work/gpt-xfs-kernel-missing.delta"

# v4: the same tree written by mkfs.xfs -m crc=0 from a prototype file.
python3 - "$work/boot-tree" > "$work/v4.proto" <<'PY'
import os, stat, sys
root = sys.argv[1]
print("v4boot"); print("0 0"); print("d--755 0 0")
def walk(d):
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.islink(p):
            print(f"{n} l--777 0 0 {os.readlink(p)}")
        elif os.path.isdir(p):
            print(f"{n} d--755 0 0"); walk(p); print("$")
        else:
            print(f"{n} ---{stat.S_IMODE(os.stat(p).st_mode):o} 0 0 {p}")
print("boot d--755 0 0"); walk(root); print("$")
print("$")
PY
v4=$work/gpt-xfs-v4.img
cp "$img" "$v4"
rm -f "$work/root4.img"; truncate -s "$root_len" "$work/root4.img"
clock mkfs.xfs -q -f -L root -m crc=0,uuid=$uuid -p "$work/v4.proto" "$work/root4.img"
dd if="$work/root4.img" of="$v4" bs=1M seek=$((root_off >> 20)) conv=notrunc status=none
store boot "$v4"
ls -l "$testdata/fixtures/boot/"gpt-xfs* >&2
