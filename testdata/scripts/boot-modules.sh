#!/usr/bin/env bash
# GRUB images missing a module their embedded config needs (issue 16,
# attack A1): boot.sh's GPT disk (fixtures/boot/gpt-grub.img) with one
# GRUB image made again by grub-mkimage from the same load.cfg
# (search.fs_uuid of the root ext4, prefix ($root)/boot/grub) and a module
# list short by one, put where grub-install puts it:
#
#   EFI (\EFI\BOOT\BOOTX64.EFI, copied over the old one with mcopy -o):
#     gpt-grub-efi-no-fs.delta.zst       part_gpt search_fs_uuid (no ext2)
#     gpt-grub-efi-no-search.delta.zst   part_gpt ext2 (no search_fs_uuid)
#     gpt-grub-efi-msdos.delta.zst       part_msdos ext2 search_fs_uuid
#     gpt-grub-efi-search-wrap.delta.zst part_gpt ext2 search (the `search`
#                                        command; grub-mkimage adds its
#                                        search_fs_* dependencies): boots
#   BIOS (core.img by grub-mkimage -O i386-pc, written where grub-install
#   embedded the old one, as grub-bios-setup does; see bios() below):
#     gpt-grub-bios-no-fs.delta.zst      biosdisk part_gpt search_fs_uuid
#     gpt-grub-bios-no-search.delta.zst  biosdisk part_gpt ext2
#
# Each delta is the sectors that changed, as "OFFSET HEX" lines, zstd'd.
# Needs grub-efi-amd64-bin, grub-pc-bin, e2fsprogs
# (debugfs), mtools, faketime, zstd, python3.
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1
base=$work/gpt-grub.img
zstd -dcq "$testdata/fixtures/boot/gpt-grub.img.zst" > "$base"
esp_off=$((4096 * 512)); root_off=$((36864 * 512))
debugfs -R "dump /boot/grub/i386-pc/load.cfg $work/load.cfg" "$base?offset=$root_off" 2>/dev/null
grep -q search.fs_uuid "$work/load.cfg"
out=$testdata/fixtures/boot
save() { delta "$base" "$2" > "$work/$1.delta"; zstd -19 -q -f "$work/$1.delta" -o "$out/$1.delta.zst"; ls -l "$out/$1.delta.zst" >&2; }
efi() {
  local name=$1; shift
  cp "$base" "$work/v.img"
  grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -p /boot/grub \
    -c "$work/load.cfg" -o "$work/BOOTX64.EFI" "$@"
  faketime -f "@2025-11-13 10:00:00" mcopy -o -i "$work/v.img@@$esp_off" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
  save "$name" "$work/v.img"
}
# grub-bios-setup is not packaged here (grub-install runs its code
# in-process): core.img goes where it put the old one, LBA 2048 (the
# BIOS boot partition, which boot.img's kernel_sector names), and its
# first sector's blocklist (the last 12 bytes: u64 start, u16 sectors,
# u16 segment, setup.c save_blocklists) says the new length. No
# Reed-Solomon redundancy is added (its field stays 0, as grub-mkimage
# leaves it, and GRUB then recovers nothing).
bios() {
  local name=$1; shift
  cp "$base" "$work/v.img"
  grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -p /boot/grub \
    -c "$work/load.cfg" -o "$work/core.img" "$@"
  python3 - "$work/v.img" "$work/core.img" <<'PY'
import struct, sys
img, core = sys.argv[1], bytearray(open(sys.argv[2], "rb").read())
at = 2048 * 512
with open(img, "r+b") as f:
    f.seek(at); old = f.read(512)
    start, _, seg = struct.unpack_from("<QHH", old, 500)
    n = (len(core) + 511) // 512
    assert start == 2049 and n <= 2048, (start, n)
    struct.pack_into("<QHH", core, 500, start, n - 1, seg)
    f.seek(at); f.write(bytes(core) + bytes(n * 512 - len(core)))
PY
  save "$name" "$work/v.img"
}
efi gpt-grub-efi-no-fs part_gpt search_fs_uuid
efi gpt-grub-efi-no-search part_gpt ext2
efi gpt-grub-efi-msdos part_msdos ext2 search_fs_uuid
efi gpt-grub-efi-search-wrap part_gpt ext2 search
bios gpt-grub-bios-no-fs biosdisk part_gpt search_fs_uuid
bios gpt-grub-bios-no-search biosdisk part_gpt ext2
