#!/usr/bin/env bash
# GRUB with /boot in an LVM2 logical volume (attack boot8-2 F10): GRUB
# reaches an LV only through the lvm module in core.img.
#
#   boot/mbr-lvm-boot.img  64 MiB MBR disk, partition 1 (type 8e, active)
#                          an LVM2 PV of VG vgb with LV boot (24 MiB, ext4
#                          "boot" holding /grub, a stand-in kernel and
#                          initramfs, grub.cfg) and LV root (16 MiB, ext4);
#                          grub-install --target=i386-pc into the MBR gap
#                          with --modules="part_msdos lvm ext2" and the
#                          load.cfg it writes (search.fs_uuid of LV boot).
#   boot/mbr-lvm-boot-nolvm.img
#                          grub-install run again on the same disk with
#                          --modules="part_msdos ext2" (as after /boot was
#                          moved into LVM with --skip-fs-probe): no lvm in
#                          core.img. Stored whole: grub-install rewrites
#                          every module file, so a delta is larger.
#
# Needs root (losetup, mount of ext4), lvm2, grub-pc-bin, e2fsprogs, fdisk.
source "$(dirname "$0")/common.sh"
export TZ=UTC
loops=()
mnt=$work/mnt
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
img=$work/mbr-lvm-boot.img
truncate -s 64M "$img"
printf 'label: dos\nlabel-id: 0x5a5a0b10\nstart=2048, type=8e, bootable\n' | sfdisk -q "$img"
disk=$(losetup --show -f "$img"); loops+=("$disk")
pv=$(losetup --show -f -o $((2048 * 512)) "$img"); loops+=("$pv")
# LVM on the PV loop device alone, without udev or the device-mapper
# (--driverloaded n): only the metadata is written.
export LVM_SYSTEM_DIR=$work/lvm
mkdir -p "$LVM_SYSTEM_DIR"
printf 'devices { filter = ["a|^%s$|", "r|.*|"] obtain_device_list_from_udev = 0 }\nactivation { udev_sync = 0 udev_rules = 0 }\n' "$pv" > "$LVM_SYSTEM_DIR/lvm.conf"
lv() { lvm "$@" --driverloaded n 2>&1 | grep -v WARNING || true; }
lv pvcreate -q -ff -y --pvmetadatacopies 1 "$pv"
lv vgcreate -q -s 4M vgb "$pv"
lv lvcreate -q -an -Zn -L 24M -n boot vgb
lv lvcreate -q -an -Zn -L 16M -n root vgb
pes=$(lvm pvs --driverloaded n --noheadings --units b -o pe_start "$pv" 2>/dev/null | tr -dc 0-9)
# LV boot is extents 0..5, LV root 6..9: contiguous on the PV.
boot_off=$((2048 * 512 + pes))
lb=$(losetup --show -f -o "$boot_off" --sizelimit $((24 << 20)) "$img"); loops+=("$lb")
lr=$(losetup --show -f -o $((boot_off + (24 << 20))) --sizelimit $((16 << 20)) "$img"); loops+=("$lr")
mkfs.ext4 -q -F -L boot -U 5a5a5a5a-0000-0000-0000-000000000b10 -E root_owner=0:0 "$lb"
mkfs.ext4 -q -F -L root -U 5a5a5a5a-0000-0000-0000-000000000b11 -E root_owner=0:0 "$lr"
mkdir -p "$mnt"
mount "$lb" "$mnt"
mods="part_msdos lvm ext2 search search_fs_uuid normal linux echo configfile sleep test"
install() {
  grub-install --target=i386-pc --boot-directory="$mnt" \
    --install-modules="$(with_deps i386-pc $mods biosdisk)" --modules="$1" \
    --locales= --fonts= --themes= --skip-fs-probe "$disk" 2>&1 | tail -1
}
install "part_msdos lvm ext2"
python3 - "$mnt" <<'PY'
import gzip, sys
k = bytearray(8192)
k[0x1F1] = 4
k[0x1FE:0x200] = b"\x55\xaa"
k[0x202:0x206] = b"HdrS"
open(sys.argv[1] + "/vmlinuz-6.1", "wb").write(k)
open(sys.argv[1] + "/initrd.img-6.1", "wb").write(gzip.compress(b"070701" + bytes(2048), mtime=0))
PY
cat > "$mnt/grub/grub.cfg" <<'CFG'
set timeout=1
menuentry 'imgcheck lvm fixture' {
  search --no-floppy --fs-uuid --set=root 5a5a5a5a-0000-0000-0000-000000000b10
  linux /vmlinuz-6.1 root=/dev/mapper/vgb-root ro
  initrd /initrd.img-6.1
}
CFG
touch -d @1763000000 "$mnt"/vmlinuz-6.1 "$mnt"/initrd.img-6.1 "$mnt"/grub/grub.cfg
umount "$mnt"
sync
cp "$img" "$work/base.img"
mount "$lb" "$mnt"
install "part_msdos ext2"
umount "$mnt"
for l in "${loops[@]}"; do losetup -d "$l"; done; loops=()
store boot "$work/base.img"
mv "$testdata/fixtures/boot/base.img.zst" "$testdata/fixtures/boot/mbr-lvm-boot.img.zst"
mv "$img" "$work/mbr-lvm-boot-nolvm.img"
store boot "$work/mbr-lvm-boot-nolvm.img"
ls -l "$testdata/fixtures/boot/mbr-lvm-boot"* >&2
