#!/usr/bin/env bash
# Boot-chain fixtures: a 64 MiB GPT disk with GRUB 2 installed for both
# firmware paths by the real tools, and the ESP damage of issue 16 made by
# mtools and dd (the other two damages are zeroed ranges the tests apply).
#
#   boot/gpt-grub.img      GPT: 1 BIOS boot (1 MiB), 2 EFI System (16 MiB,
#                          FAT16 "ESP"), 3 Linux filesystem (ext4 "root",
#                          the rest) holding /boot/grub.
#                          BIOS: grub-install --target=i386-pc onto the
#                          whole-disk loop device (boot.img in sector 0,
#                          core.img in the BIOS boot partition).
#                          UEFI: \EFI\BOOT\BOOTX64.EFI as grub-install
#                          --target=x86_64-efi --removable makes it
#                          (grub-mkimage with the same load.cfg), copied
#                          onto the ESP with mtools: grub-install itself
#                          needs the ESP mounted, and this kernel does not
#                          mount vfat.
#   boot/gpt-grub-esp-broken.img
#                          the same disk, then \EFI\BOOT\BOOTX64.EFI
#                          deleted with mdel and the ESP's second FAT copy
#                          overwritten by 4 KiB of 0xA5 (dd).
#   boot/mbr-grub.img      32 MiB MBR (DOS) disk: one bootable Linux
#                          partition at 1 MiB (ext4 "mroot", /boot/grub);
#                          grub-install --target=i386-pc embeds core.img in
#                          the gap before it (LBA 1..2047).
#   boot/fat16-empty.img   4 MiB, mkfs.vfat -F 16 -s 1, no label, no files.
#
# Needs root (losetup, mount of ext4), grub-pc-bin, grub-efi-amd64-bin,
# gdisk, dosfstools, mtools, e2fsprogs.
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
T="2025-11-13 10:00:00"
clock() { faketime -f "@$T" "$@"; }
img=$work/gpt-grub.img
mnt=$work/mnt
loops=()
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

truncate -s 64M "$img"
sgdisk --disk-guid=5a5a5a5a-0000-0000-0000-000000000016 \
  -n 1:2048:4095   -t 1:EF02 -c 1:bios -u 1:5a5a5a5a-0000-0000-0000-000000000161 \
  -n 2:4096:36863  -t 2:EF00 -c 2:esp  -u 2:5a5a5a5a-0000-0000-0000-000000000162 \
  -n 3:36864:0     -t 3:8300 -c 3:root -u 3:5a5a5a5a-0000-0000-0000-000000000163 "$img" >/dev/null
esp_off=$((4096 * 512)); esp_len=$((32768 * 512))
root_off=$((36864 * 512))
root_len=$(( $(stat -c %s "$img") - root_off - 34 * 512 ))

# ESP: FAT16, fixed volume id.
dd if=/dev/zero of="$work/esp.img" bs=1M count=16 status=none
clock mkfs.vfat -F 16 -n ESP -i 5a5a0016 "$work/esp.img" >/dev/null
# Root: ext4 with a fixed UUID, GRUB's files under /boot/grub.
mkfs.ext4 -q -F -L root -U 5a5a5a5a-0000-0000-0000-000000000003 -E root_owner=0:0 \
  "$work/root.img" $((root_len / 1024))k
dd if="$work/root.img" of="$img" bs=1M seek=$((root_off >> 20)) conv=notrunc,sparse status=none
dd if="$work/esp.img" of="$img" bs=1M seek=$((esp_off >> 20)) conv=notrunc,sparse status=none

disk=$(losetup --show -f "$img"); loops+=("$disk")
part=$(losetup --show -f -o "$root_off" --sizelimit "$root_len" "$img"); loops+=("$part")
mkdir -p "$mnt"
mount "$part" "$mnt"
mkdir -p "$mnt/boot/grub"
mods="part_gpt part_msdos ext2 fat search search_fs_uuid normal linux echo configfile"
# BIOS: boot.img into sector 0 (the table kept), core.img embedded in the
# BIOS boot partition, modules in /boot/grub/i386-pc.
grub-install --target=i386-pc --boot-directory="$mnt/boot" \
  --install-modules="$mods biosdisk" --modules="part_gpt ext2" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
# UEFI: grub-install --target=x86_64-efi needs the ESP mounted (it probes
# the directory's filesystem), which this kernel cannot do for vfat; so
# the removable loader is made as grub-install makes it: grub-mkimage
# with the load.cfg grub-install wrote (search.fs_uuid of the root
# filesystem, prefix /boot/grub), the modules copied beside i386-pc's.
mkdir -p "$mnt/boot/grub/x86_64-efi" "$work/efi/EFI/BOOT"
for m in $mods; do
  cp /usr/lib/grub/x86_64-efi/$m.mod "$mnt/boot/grub/x86_64-efi/"
done
cp /usr/lib/grub/x86_64-efi/{fshelp,extcmd,gettext,terminal,crypto,boot,bufio,datetime,net,priority_queue,normal}.mod \
  "$mnt/boot/grub/x86_64-efi/" 2>/dev/null || true
cp /usr/lib/grub/x86_64-efi/{moddep.lst,command.lst,fs.lst,partmap.lst} "$mnt/boot/grub/x86_64-efi/"
grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /boot/grub \
  -c "$mnt/boot/grub/i386-pc/load.cfg" -o "$work/efi/EFI/BOOT/BOOTX64.EFI" \
  part_gpt ext2 search_fs_uuid
cat > "$work/grub.cfg" <<'CFG'
set timeout=1
menuentry 'imgcheck fixture' {
  echo 'imgcheck fixture: GRUB reached grub.cfg'
}
CFG
cp "$work/grub.cfg" "$mnt/boot/grub/grub.cfg"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()

clock mcopy -s -i "$img@@$esp_off" "$work/efi/EFI" ::/
store boot "$img"

cp "$img" "$work/broken.img"
clock mdel -i "$work/broken.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI
# The second FAT copy: boot sector's reserved sectors and FAT size.
rsvd=$(od -An -tu2 -j $((esp_off + 14)) -N2 "$work/broken.img" | tr -d ' ')
fatsz=$(od -An -tu2 -j $((esp_off + 22)) -N2 "$work/broken.img" | tr -d ' ')
fat2=$((esp_off + (rsvd + fatsz) * 512))
head -c 4096 /dev/zero | tr '\0' '\245' | dd of="$work/broken.img" bs=1 seek=$((fat2 + 512)) conv=notrunc status=none
mv "$work/broken.img" "$work/gpt-grub-esp-broken.img"
store boot "$work/gpt-grub-esp-broken.img"

# An MBR disk with GRUB in the gap: one bootable Linux partition at 1 MiB
# (ext4 holding /boot/grub), grub-install --target=i386-pc onto the whole
# disk, which embeds core.img in LBA 1..2047.
mbr=$work/mbr-grub.img
truncate -s 32M "$mbr"
printf 'label: dos\nlabel-id: 0x5a5a0018\nstart=2048, type=83, bootable\n' | sfdisk -q "$mbr"
mroot_off=$((2048 * 512)); mroot_len=$(( $(stat -c %s "$mbr") - mroot_off ))
mkfs.ext4 -q -F -L mroot -U 5a5a5a5a-0000-0000-0000-000000000018 -E root_owner=0:0 \
  "$work/mroot.img" $((mroot_len / 1024))k
dd if="$work/mroot.img" of="$mbr" bs=1M seek=1 conv=notrunc,sparse status=none
disk=$(losetup --show -f "$mbr"); loops+=("$disk")
part=$(losetup --show -f -o "$mroot_off" --sizelimit "$mroot_len" "$mbr"); loops+=("$part")
mount "$part" "$mnt"
mkdir -p "$mnt/boot/grub"
grub-install --target=i386-pc --boot-directory="$mnt/boot" \
  --install-modules="$mods biosdisk" --modules="part_msdos ext2" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
cp "$work/grub.cfg" "$mnt/boot/grub/grub.cfg"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()
store boot "$mbr"

# An empty, unlabelled FAT16 (its fixed root directory is zeros by nature:
# the zero map must not call it destroyed).
truncate -s 4M "$work/fat16-empty.img"
clock mkfs.vfat -F 16 -s 1 -i 5a5a0017 "$work/fat16-empty.img" >/dev/null
store boot "$work/fat16-empty.img"
ls -l "$testdata/fixtures/boot" >&2
