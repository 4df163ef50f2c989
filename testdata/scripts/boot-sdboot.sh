#!/usr/bin/env bash
# systemd-boot fixtures (issue 16, attack 16 F0): an 8 MiB GPT disk whose
# only partition is an EFI System Partition (FAT16) with systemd-boot as
# its removable loader, set up as bootctl install lays it out.
#
#   boot/sdboot.img        \EFI\BOOT\BOOTX64.EFI and \EFI\systemd\systemd-bootx64.efi
#                          = Debian 12's systemd-bootx64.efi (systemd-boot-efi 252);
#                          /loader/loader.conf "default arch*" (a glob, as
#                          systemd-boot matches it), "timeout 3";
#                          /loader/entries/arch.conf: linux /vmlinuz-linux,
#                          initrd /initramfs-linux.img (small stand-ins on
#                          the ESP); /loader/entries/old.conf names a kernel
#                          never installed (systemd-boot hides such an entry).
#   boot/sdboot-kernel-missing.delta
#                          sdboot.img with /vmlinuz-linux and
#                          /initramfs-linux.img deleted (mdel): no entry is
#                          left, systemd-boot says "No loader found".
#   boot/sdboot-initrd-missing.delta
#                          sdboot.img with only /initramfs-linux.img deleted.
#
# Needs gdisk, dosfstools, mtools, faketime, python3, cpio and
# /usr/lib/systemd/boot/efi/systemd-bootx64.efi (apt-get install systemd-boot-efi).
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
T="2025-11-13 10:00:00"
# faketime pins the FAT timestamps where it is installed.
clock() { if command -v faketime >/dev/null; then faketime -f "@$T" "$@"; else "$@"; fi; }
trap 'rm -rf "$work"' EXIT INT TERM
sd=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -f "$sd" ] || { echo "needs $sd (systemd-boot-efi)" >&2; exit 1; }


img=$work/sdboot.img
truncate -s 8M "$img"
sgdisk --disk-guid=5a5a5a5a-0000-0000-0000-000000000026 \
  -n1:2048:-34 -t1:EF00 -u1:5a5a5a5a-0000-0000-0000-000000000027 "$img" >/dev/null
start=2048
end=$(sgdisk -i1 "$img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
esp=$work/esp.img
truncate -s $(( (end - start + 1) * 512 )) "$esp"
clock mkfs.vfat -F 16 -s 1 -n ESP -i 5a5a0026 "$esp" >/dev/null
clock mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/systemd ::/loader ::/loader/entries
clock mcopy -i "$esp" "$sd" ::/EFI/BOOT/BOOTX64.EFI
clock mcopy -i "$esp" "$sd" ::/EFI/systemd/systemd-bootx64.efi
printf 'default arch*\ntimeout 3\n' > "$work/loader.conf"
printf 'title Arch Linux\nlinux /vmlinuz-linux\ninitrd /initramfs-linux.img\noptions root=PARTUUID=5a5a5a5a-0000-0000-0000-000000000028 rw\n' > "$work/arch.conf"
printf 'title Old\nlinux /vmlinuz-old\noptions ro\n' > "$work/old.conf"
# Stand-ins: the kernel is opaque to the check (systemd-boot needs it
# present and readable whole), so a few KiB of bytes do; the initramfs is
# a real one (a newc cpio holding /init, as mkinitcpio writes it
# uncompressed), which the check reads as the kernel unpacks it.
python3 -c 'print("vmlinuz-linux" * 1500)' > "$work/vmlinuz-linux"
mkdir -p "$work/initramfs"
printf '#!/bin/sh\necho imgcheck fixture initramfs\nexec /bin/sh\n' > "$work/initramfs/init"
chmod 755 "$work/initramfs/init"
find "$work/initramfs" -exec touch -h -d "$T" {} +
(cd "$work/initramfs" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$work/initramfs-linux.img"
clock mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
clock mcopy -i "$esp" "$work/arch.conf" "$work/old.conf" ::/loader/entries/
clock mcopy -i "$esp" "$work/vmlinuz-linux" "$work/initramfs-linux.img" ::/
dd if="$esp" of="$img" bs=512 seek=$start conv=notrunc status=none
store boot "$img"

off=$((start * 512))
cp "$img" "$work/k.img"
clock mdel -i "$work/k.img@@$off" ::/vmlinuz-linux ::/initramfs-linux.img
delta "$img" "$work/k.img" > "$testdata/fixtures/boot/sdboot-kernel-missing.delta"
cp "$img" "$work/i.img"
clock mdel -i "$work/i.img@@$off" ::/initramfs-linux.img
delta "$img" "$work/i.img" > "$testdata/fixtures/boot/sdboot-initrd-missing.delta"
ls -l "$testdata/fixtures/boot" >&2
