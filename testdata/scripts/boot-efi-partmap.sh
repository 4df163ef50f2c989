#!/usr/bin/env bash
# An EFI GRUB image without the partition map module of its disk's table
# (issue 16: the UEFI side of attack F11): boot.sh's GPT disk
# (fixtures/boot/gpt-grub.img) with \EFI\BOOT\BOOTX64.EFI made again by
# grub-mkimage as boot.sh makes it (the same load.cfg: search.fs_uuid of
# the root filesystem, prefix /boot/grub) but with "ext2 search_fs_uuid"
# only, no part_gpt, copied over the old one with mcopy -o.
#
#   boot/gpt-grub-efi-no-partmap.delta
#                          the sectors that changed, as "OFFSET HEX" lines.
#
# Needs grub-efi-amd64-bin, e2fsprogs (debugfs), mtools, zstd, python3.
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
base=$work/gpt-grub.img
zstd -dcq "$testdata/fixtures/boot/gpt-grub.img.zst" > "$base"
img=$work/efi-no-partmap.img
cp "$base" "$img"
esp_off=$((4096 * 512)); root_off=$((36864 * 512))
debugfs -R "dump /boot/grub/i386-pc/load.cfg $work/load.cfg" "$img?offset=$root_off" 2>/dev/null
grep -q search "$work/load.cfg"
grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /boot/grub \
  -c "$work/load.cfg" -o "$work/BOOTX64.EFI" ext2 search_fs_uuid
faketime -f "@2025-11-13 10:00:00" mcopy -o -i "$img@@$esp_off" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
delta "$base" "$img" > "$testdata/fixtures/boot/gpt-grub-efi-no-partmap.delta"
ls -l "$testdata/fixtures/boot/gpt-grub-efi-no-partmap.delta" >&2
