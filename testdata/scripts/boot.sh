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
#   boot/gpt-grub-esp-broken.delta
#                          the same disk (as a delta, see below), then \EFI\BOOT\BOOTX64.EFI
#                          deleted with mdel and the ESP's second FAT copy
#                          overwritten by 4 KiB of 0xA5 (dd).
#   boot/gpt-grub-kernel-missing.delta
#                          gpt-grub.img with /boot/vmlinuz-imgcheck
#                          removed (rm on the mounted root filesystem),
#                          kept as the sectors rm changed ("OFFSET HEX"
#                          lines, see delta()): the disk is not stored twice.
#   boot/gpt-grub-loader-deleted.delta
#                          gpt-grub.img with only \EFI\BOOT\BOOTX64.EFI
#                          deleted (mdel), its FATs intact, as a delta.
#   Both GRUB disks hold /boot/vmlinuz-imgcheck (a 64 KiB stand-in with a
#   Linux x86 boot-protocol header GRUB's linux command accepts) and
#   /boot/initrd.img-imgcheck (a real initramfs: early-microcode cpio, then
#   a zstd-compressed cpio), named by grub.cfg as grub-mkconfig writes
#   an entry; the entry echoes what it loaded and sleeps, so a firmware
#   proof reads the screen before GRUB jumps into the stand-in.
#   boot/mbr-grub.img      32 MiB MBR (DOS) disk: one bootable Linux
#                          partition at 1 MiB (ext4 "mroot", /boot/grub);
#                          grub-install --target=i386-pc embeds core.img in
#                          the gap before it (LBA 1..2047).
#   boot/mbr-grub-kernel-missing.delta
#                          mbr-grub.img with /boot/vmlinuz-imgcheck removed.
#   boot/fat16-empty.img   4 MiB, mkfs.vfat -F 16 -s 1, no label, no files.
#
# Needs root (losetup, mount of ext4), grub-pc-bin, grub-efi-amd64-bin,
# gdisk, dosfstools, mtools, e2fsprogs, cpio, zstd.
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
mods="part_gpt part_msdos ext2 fat search search_fs_uuid normal linux echo configfile sleep test"
# BIOS: boot.img into sector 0 (the table kept), core.img embedded in the
# BIOS boot partition, modules in /boot/grub/i386-pc.
grub-install --target=i386-pc --boot-directory="$mnt/boot" \
  --install-modules="$(with_deps i386-pc $mods biosdisk)" --modules="part_gpt ext2" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
# UEFI: grub-install --target=x86_64-efi needs the ESP mounted (it probes
# the directory's filesystem), which this kernel cannot do for vfat; so
# the removable loader is made as grub-install makes it: grub-mkimage
# with the load.cfg grub-install wrote (search.fs_uuid of the root
# filesystem, prefix /boot/grub), the modules copied beside i386-pc's.
mkdir -p "$mnt/boot/grub/x86_64-efi" "$work/efi/EFI/BOOT"
for m in $(with_deps x86_64-efi $mods); do
  cp /usr/lib/grub/x86_64-efi/$m.mod "$mnt/boot/grub/x86_64-efi/"
done
cp /usr/lib/grub/x86_64-efi/{moddep.lst,command.lst,fs.lst,partmap.lst} "$mnt/boot/grub/x86_64-efi/"
grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /boot/grub \
  -c "$mnt/boot/grub/i386-pc/load.cfg" -o "$work/efi/EFI/BOOT/BOOTX64.EFI" \
  part_gpt ext2 search_fs_uuid
# grub.cfg for the root filesystem with UUID $1 (grub-mkconfig's form).
grub_cfg() {
  cat <<CFG
set timeout=1
menuentry 'imgcheck fixture' {
  echo 'imgcheck fixture: GRUB reached grub.cfg'
  search --no-floppy --fs-uuid --set=root $1
  if linux /boot/vmlinuz-imgcheck root=UUID=$1 ro ; then
    initrd /boot/initrd.img-imgcheck
    echo 'imgcheck fixture: kernel and initrd loaded'
  else
    echo 'imgcheck fixture: no kernel'
  fi
  sleep 300
}
CFG
}
# initramfs FILE: an initramfs laid out as initramfs-tools and dracut write
# one: an uncompressed newc cpio holding early microcode, then a
# zstd-compressed newc cpio holding /init (cpio -H newc, fixed times and
# owners, --reproducible). The kernel unpacks it; random bytes it does not.
initramfs() {
  local t=$work/initramfs
  rm -rf "$t"; mkdir -p "$t/early/kernel/x86/microcode" "$t/main/bin"
  printf 'imgcheck stand-in microcode\n' > "$t/early/kernel/x86/microcode/GenuineIntel.bin"
  printf '#!/bin/sh\necho imgcheck fixture initramfs\nexec /bin/sh\n' > "$t/main/init"
  chmod 755 "$t/main/init"
  find "$t" -exec touch -h -d "$T" {} +
  { (cd "$t/early" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible)
    (cd "$t/main" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible | zstd -19 -q -c)
  } > "$1"
  rm -rf "$t"
}
# kernel DIR: a 64 KiB stand-in bzImage (boot protocol 2.15 header:
# setup_sects 4, 55 AA, HdrS, LOADED_HIGH, relocatable, 64-bit with EFI
# handover, init_size 4 MiB, every other header field zero) of fixed
# pseudo-random bytes, and an initramfs (see initramfs).
kernel() {
  python3 - "$1" <<'PY'
import random, struct, sys
r = random.Random(16)
k = bytearray(r.getrandbits(8) for _ in range(65536))
k[0x1F1:0x290] = bytes(0x290 - 0x1F1)  # the header: no stray field values
k[0x1F1] = 4
k[0x1FE:0x200] = b"\x55\xaa"
k[0x202:0x206] = b"HdrS"
struct.pack_into("<H", k, 0x206, 0x020F)
k[0x211] = 0x01
struct.pack_into("<I", k, 0x230, 0x200000)
k[0x234] = 1
struct.pack_into("<H", k, 0x236, 0x0B15)  # min_alignment 21, xloadflags 0x0B
struct.pack_into("<Q", k, 0x258, 0x1000000)
struct.pack_into("<I", k, 0x260, 0x400000)
struct.pack_into("<I", k, 0x264, 0x200)
struct.pack_into("<I", k, 0x238, 255)  # cmdline_size
open(sys.argv[1] + "/vmlinuz-imgcheck", "wb").write(k)
PY
  initramfs "$1/initrd.img-imgcheck"
  touch -d "$T" "$1/vmlinuz-imgcheck" "$1/initrd.img-imgcheck"
}
grub_cfg 5a5a5a5a-0000-0000-0000-000000000003 > "$mnt/boot/grub/grub.cfg"
kernel "$mnt/boot"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()

clock mcopy -s -i "$img@@$esp_off" "$work/efi/EFI" ::/
store boot "$img"

cp "$img" "$work/gpt-grub-kernel-missing.img"
part=$(losetup --show -f -o "$root_off" --sizelimit "$root_len" "$work/gpt-grub-kernel-missing.img"); loops+=("$part")
mount "$part" "$mnt"
rm "$mnt/boot/vmlinuz-imgcheck"
umount "$mnt"
losetup -d "$part"; loops=()
delta "$img" "$work/gpt-grub-kernel-missing.img" > "$testdata/fixtures/boot/gpt-grub-kernel-missing.delta"

cp "$img" "$work/gpt-grub-loader-deleted.img"
clock mdel -i "$work/gpt-grub-loader-deleted.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI
delta "$img" "$work/gpt-grub-loader-deleted.img" > "$testdata/fixtures/boot/gpt-grub-loader-deleted.delta"

cp "$img" "$work/broken.img"
clock mdel -i "$work/broken.img@@$esp_off" ::/EFI/BOOT/BOOTX64.EFI
# The second FAT copy: boot sector's reserved sectors and FAT size.
rsvd=$(od -An -tu2 -j $((esp_off + 14)) -N2 "$work/broken.img" | tr -d ' ')
fatsz=$(od -An -tu2 -j $((esp_off + 22)) -N2 "$work/broken.img" | tr -d ' ')
fat2=$((esp_off + (rsvd + fatsz) * 512))
head -c 4096 /dev/zero | tr '\0' '\245' | dd of="$work/broken.img" bs=1 seek=$((fat2 + 512)) conv=notrunc status=none
delta "$img" "$work/broken.img" > "$testdata/fixtures/boot/gpt-grub-esp-broken.delta"

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
  --install-modules="$(with_deps i386-pc $mods biosdisk)" --modules="part_msdos ext2" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
grub_cfg 5a5a5a5a-0000-0000-0000-000000000018 > "$mnt/boot/grub/grub.cfg"
kernel "$mnt/boot"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()
store boot "$mbr"
cp "$mbr" "$work/mbr-grub-kernel-missing.img"
part=$(losetup --show -f -o "$mroot_off" --sizelimit "$mroot_len" "$work/mbr-grub-kernel-missing.img"); loops+=("$part")
mount "$part" "$mnt"
rm "$mnt/boot/vmlinuz-imgcheck"
umount "$mnt"
losetup -d "$part"; loops=()
delta "$mbr" "$work/mbr-grub-kernel-missing.img" > "$testdata/fixtures/boot/mbr-grub-kernel-missing.delta"

# An empty, unlabelled FAT16 (its fixed root directory is zeros by nature:
# the zero map must not call it destroyed).
truncate -s 4M "$work/fat16-empty.img"
clock mkfs.vfat -F 16 -s 1 -i 5a5a0017 "$work/fat16-empty.img" >/dev/null
store boot "$work/fat16-empty.img"
ls -l "$testdata/fixtures/boot" >&2
