#!/usr/bin/env bash
# Boot chains other than GRUB's own (issue 16, attack boot8): SYSLINUX's
# MBRs and the partition boot sector they load, loaders for other
# machines than x86-64, and shim without the GRUB it loads.
#
#   boot/mbr-syslinux.img  8 MiB MBR disk, SYSLINUX mbr.bin (syslinux-common)
#                          in sector 0's code area; partition 1 (1..4 MiB,
#                          type 7, active) NTFS by mkntfs (its boot sector
#                          has 55 AA and mkntfs's "This is not a bootable
#                          disk" message for code), partition 2
#                          (4 MiB..end, type 83) ext4, whose first sector
#                          is zeros.
#   boot/mbr-syslinux-ext4-active.delta
#                          the same disk with the active flag moved to the
#                          ext4 partition (sfdisk --activate 2): mbr.bin
#                          loads a sector without 55 AA.
#   boot/gpt-gptmbr.img    8 MiB GPT disk, SYSLINUX gptmbr.bin in sector 0,
#                          partition 1 NTFS, partition 2 ext4, neither with
#                          attribute bit 2 (legacy BIOS bootable).
#   boot/gpt-gptmbr-ntfs-legacy.delta
#                          sgdisk -A 1:set:2: the NTFS partition is the one
#                          gptmbr.bin boots.
#   boot/gpt-gptmbr-ext4-legacy.delta
#                          sgdisk -A 2:set:2: the ext4 partition is.
#   boot/esp-aa64.img      8 MiB GPT disk whose only partition is an ESP
#                          (FAT16) holding only \EFI\BOOT\BOOTAA64.EFI: a
#                          grub-mkimage x86_64-efi image with its COFF
#                          Machine set to 0xAA64 (no arm64 GRUB is
#                          installed here; the boot chain reads the header
#                          only, which is then an arm64 EFI application's).
#   boot/esp-ia32.delta    the same ESP with BOOTAA64.EFI deleted (mdel) and
#                          \EFI\BOOT\BOOTIA32.EFI put there, Machine 0x014C.
#   boot/esp-shim.img      8 MiB GPT disk, one ESP (FAT16): \EFI\BOOT\BOOTX64.EFI
#                          = shim 16.1 (shim-unsigned's shimx64.efi) and
#                          \EFI\BOOT\grubx64.efi = grub-mkimage x86_64-efi
#                          with prefix /EFI/BOOT, and \EFI\BOOT\grub.cfg
#                          with one entry loading /vmlinuz-shim and
#                          /initrd-shim.img (small stand-ins) from the ESP.
#   boot/esp-shim-no-grub.delta
#                          the same ESP with \EFI\BOOT\grubx64.efi deleted:
#                          shim fails "Failed to open \EFI\BOOT\grubx64.efi".
#   boot/esp-shim-stub-search.delta
#                          the same ESP with \EFI\BOOT\grub.cfg replaced by a
#                          grub-install style stub: search.fs_uuid of a UUID
#                          no filesystem on the disk has, then configfile.
#   boot/gpt-grub-blscfg.delta
#                          boot.sh's gpt-grub.img with a Fedora-style
#                          /boot/grub/grub.cfg (load_env, default from
#                          saved_entry, blscfg), one BLS entry
#                          /boot/loader/entries/imgcheck-6.1.conf and a
#                          grubenv (grub-editenv) whose saved_entry is
#                          imgcheck-5.0, an entry no longer there; written
#                          with debugfs -w at the root partition's offset.
#                          Debian's GRUB has no blscfg.mod.
#
# Needs gdisk, fdisk (sfdisk), dosfstools, mtools, ntfs-3g (mkntfs),
# e2fsprogs, syslinux-common, grub-efi-amd64-bin, shim-unsigned, python3.
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
T="2025-11-13 10:00:00"
# faketime pins the FAT timestamps where it is installed.
clock() { if command -v faketime >/dev/null; then faketime -f "@$T" "$@"; else "$@"; fi; }
trap 'rm -rf "$work"' EXIT INT TERM
sysl=/usr/lib/syslinux/mbr
shim=/usr/lib/shim/shimx64.efi
for f in "$sysl/mbr.bin" "$sysl/gptmbr.bin" "$shim"; do
  [ -f "$f" ] || { echo "needs $f" >&2; exit 1; }
done

# ntfs FILE SECTORS START: an NTFS of SECTORS sectors for a partition at
# LBA START (mkntfs writes the hidden-sector count its boot code uses).
ntfs() {
  truncate -s $(($2 * 512)) "$1"
  mkntfs -q -F -f -L ntfs -p "$3" -H 255 -S 63 "$1" >/dev/null 2>&1
}
# ext4 FILE SECTORS: an empty ext4 with a fixed UUID.
ext4() {
  truncate -s $(($2 * 512)) "$1"
  mkfs.ext4 -q -F -L data -U 5a5a5a5a-0000-0000-0000-000000000b08 "$1" >/dev/null
}

# SYSLINUX mbr.bin on an MBR disk.
img=$work/mbr-syslinux.img
truncate -s 8M "$img"
printf 'label: dos\nlabel-id: 0x5a5a0b08\nstart=2048, size=6144, type=7, bootable\nstart=8192, type=83\n' | sfdisk -q "$img"
ntfs "$work/p1" 6144 2048
ext4 "$work/p2" $((16384 - 8192))
dd if="$work/p1" of="$img" bs=512 seek=2048 conv=notrunc status=none
dd if="$work/p2" of="$img" bs=512 seek=8192 conv=notrunc status=none
dd if="$sysl/mbr.bin" of="$img" bs=440 count=1 conv=notrunc status=none
store boot "$img"
cp "$img" "$work/m2.img"
sfdisk -q --activate "$work/m2.img" 2
delta "$img" "$work/m2.img" > "$testdata/fixtures/boot/mbr-syslinux-ext4-active.delta"

# SYSLINUX gptmbr.bin on a GPT disk.
img=$work/gpt-gptmbr.img
truncate -s 8M "$img"
sgdisk --disk-guid=5a5a5a5a-0000-0000-0000-000000000b08 \
  -n 1:2048:8191 -t 1:0700 -u 1:5a5a5a5a-0000-0000-0000-000000000b81 \
  -n 2:8192:0    -t 2:8300 -u 2:5a5a5a5a-0000-0000-0000-000000000b82 "$img" >/dev/null
last=$(sgdisk -i2 "$img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
ntfs "$work/g1" 6144 2048
ext4 "$work/g2" $((last - 8192 + 1))
dd if="$work/g1" of="$img" bs=512 seek=2048 conv=notrunc status=none
dd if="$work/g2" of="$img" bs=512 seek=8192 conv=notrunc status=none
dd if="$sysl/gptmbr.bin" of="$img" bs=440 count=1 conv=notrunc status=none
store boot "$img"
for n in 1:ntfs 2:ext4; do
  cp "$img" "$work/g.img"
  sgdisk -A "${n%%:*}:set:2" "$work/g.img" >/dev/null
  delta "$img" "$work/g.img" > "$testdata/fixtures/boot/gpt-gptmbr-${n#*:}-legacy.delta"
done

# machine FILE HEX: set a PE image's COFF Machine (at e_lfanew + 4).
machine() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
lfanew = struct.unpack_from("<I", b, 0x3C)[0]
assert b[lfanew:lfanew + 4] == b"PE\0\0"
struct.pack_into("<H", b, lfanew + 4, int(sys.argv[2], 16))
open(sys.argv[1], "wb").write(b)
PY
}
# esp_disk IMG: an 8 MiB GPT disk whose one partition is an ESP, its
# FAT16 in $work/esp.img (copied in by the caller after filling it).
esp_disk() {
  truncate -s 8M "$1"
  sgdisk --disk-guid=5a5a5a5a-0000-0000-0000-00000000eb08 \
    -n1:2048:-34 -t1:EF00 -u1:5a5a5a5a-0000-0000-0000-00000000eb81 "$1" >/dev/null
  local end
  end=$(sgdisk -i1 "$1" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
  rm -f "$work/esp.img"
  truncate -s $(( (end - 2048 + 1) * 512 )) "$work/esp.img"
  clock mkfs.vfat -F 16 -s 1 -n ESP -i 5a5a0b08 "$work/esp.img" >/dev/null
  clock mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
}
off=$((2048 * 512))

grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /EFI/BOOT \
  -o "$work/grubx64.efi" part_gpt fat normal configfile echo linux search search_fs_uuid search_label search_fs_file
cp "$work/grubx64.efi" "$work/BOOTAA64.EFI"; machine "$work/BOOTAA64.EFI" AA64
cp "$work/grubx64.efi" "$work/BOOTIA32.EFI"; machine "$work/BOOTIA32.EFI" 014C

img=$work/esp-aa64.img
esp_disk "$img"
clock mcopy -i "$work/esp.img" "$work/BOOTAA64.EFI" ::/EFI/BOOT/BOOTAA64.EFI
dd if="$work/esp.img" of="$img" bs=512 seek=2048 conv=notrunc status=none
store boot "$img"
cp "$img" "$work/i.img"
clock mdel -i "$work/i.img@@$off" ::/EFI/BOOT/BOOTAA64.EFI
clock mcopy -i "$work/i.img@@$off" "$work/BOOTIA32.EFI" ::/EFI/BOOT/BOOTIA32.EFI
delta "$img" "$work/i.img" > "$testdata/fixtures/boot/esp-ia32.delta"

img=$work/esp-shim.img
esp_disk "$img"
printf "set timeout=1\nmenuentry 'imgcheck shim fixture' {\n  linux /vmlinuz-shim ro\n  initrd /initrd-shim.img\n}\n" > "$work/grub.cfg"
# Stand-ins: a bzImage's boot-protocol marks (55 AA at 0x1FE, HdrS at
# 0x202) and a gzip member, as GRUB's linux and initrd commands load them.
python3 - "$work" <<'PY'
import gzip, sys
k = bytearray(8192)
k[0x1F1] = 4
k[0x1FE:0x200] = b"\x55\xaa"
k[0x202:0x206] = b"HdrS"
open(sys.argv[1] + "/vmlinuz-shim", "wb").write(k)
open(sys.argv[1] + "/initrd-shim.img", "wb").write(gzip.compress(b"070701" + bytes(2048), mtime=0))
PY
clock mcopy -i "$work/esp.img" "$shim" ::/EFI/BOOT/BOOTX64.EFI
clock mcopy -i "$work/esp.img" "$work/grubx64.efi" ::/EFI/BOOT/grubx64.efi
clock mcopy -i "$work/esp.img" "$work/grub.cfg" ::/EFI/BOOT/grub.cfg
clock mcopy -i "$work/esp.img" "$work/vmlinuz-shim" "$work/initrd-shim.img" ::/
dd if="$work/esp.img" of="$img" bs=512 seek=2048 conv=notrunc status=none
store boot "$img"
cp "$img" "$work/s.img"
clock mdel -i "$work/s.img@@$off" ::/EFI/BOOT/grubx64.efi
delta "$img" "$work/s.img" > "$testdata/fixtures/boot/esp-shim-no-grub.delta"
# The stub grub-install writes beside an EFI GRUB whose /boot is elsewhere
# (Debian's \EFI\debian\grub.cfg), for a filesystem UUID no partition has.
printf "search.fs_uuid 5a5a5a5a-0000-0000-0000-00000000dead root\nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" > "$work/stub.cfg"
cp "$img" "$work/u.img"
clock mcopy -o -i "$work/u.img@@$off" "$work/stub.cfg" ::/EFI/BOOT/grub.cfg
delta "$img" "$work/u.img" > "$testdata/fixtures/boot/esp-shim-stub-search.delta"

# A Fedora-style blscfg setup on boot.sh's GRUB disk, written into its
# ext4 root (partition 3, LBA 36864) by debugfs through e2fsprogs'
# offset= I/O option.
zstd -dq "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-grub.img"
cp "$work/gpt-grub.img" "$work/b.img"
root="$work/b.img?offset=$((36864 * 512))"
cat > "$work/bls.cfg" <<'CFG'
set timeout=1
load_env
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
else
   set default="${saved_entry}"
fi
search --no-floppy --fs-uuid --set=root 5a5a5a5a-0000-0000-0000-000000000003
blscfg
CFG
printf 'title imgcheck 6.1\nversion 6.1\nlinux /boot/vmlinuz-imgcheck\ninitrd /boot/initrd.img-imgcheck\noptions root=UUID=5a5a5a5a-0000-0000-0000-000000000003 ro\n' > "$work/e.conf"
grub-editenv "$work/genv" create
grub-editenv "$work/genv" set saved_entry=imgcheck-5.0
for c in "rm /boot/grub/grub.cfg" "rm /boot/grub/grubenv" \
  "write $work/bls.cfg /boot/grub/grub.cfg" "write $work/genv /boot/grub/grubenv" \
  "mkdir /boot/loader" "mkdir /boot/loader/entries" \
  "write $work/e.conf /boot/loader/entries/imgcheck-6.1.conf"; do
  debugfs -w -R "$c" "$root" >/dev/null 2>&1
done
debugfs -R "ls /boot/loader/entries" "$root" 2>/dev/null | grep -q imgcheck-6.1.conf
delta "$work/gpt-grub.img" "$work/b.img" > "$testdata/fixtures/boot/gpt-grub-blscfg.delta"
ls -l "$testdata/fixtures/boot" >&2
