#!/usr/bin/env bash
# A GRUB core.img without the partition map module of its disk's table
# (attack 16 F11): boot.sh's MBR disk (fixtures/boot/mbr-grub.img) with
# grub-install --target=i386-pc run again with --modules="ext2" and
# --skip-fs-probe, so core.img holds no part_msdos and GRUB cannot read
# the partition its prefix is on.
#
#   boot/mbr-grub-no-partmap.delta
#                          the sectors that install wrote before the first
#                          partition (boot.img in sector 0, core.img in the
#                          gap), as "OFFSET HEX" lines; the copy of
#                          core.img it also put in /boot/grub/i386-pc is
#                          never read by a BIOS boot and is left out.
#
# Needs root (losetup, mount of ext4), grub-pc-bin, zstd, python3.
source "$(dirname "$0")/common.sh"
mnt=$work/mnt
loops=()
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
base=$work/mbr-grub.img
zstd -dcq "$testdata/fixtures/boot/mbr-grub.img.zst" > "$base"
img=$work/no-partmap.img
cp "$base" "$img"
off=$((2048 * 512)); len=$(( $(stat -c %s "$img") - off ))
disk=$(losetup --show -f "$img"); loops+=("$disk")
part=$(losetup --show -f -o "$off" --sizelimit "$len" "$img"); loops+=("$part")
mkdir -p "$mnt"
mount "$part" "$mnt"
mods="part_gpt part_msdos ext2 fat search search_fs_uuid normal linux echo configfile sleep test"
grub-install --target=i386-pc --boot-directory="$mnt/boot" \
  --install-modules="$(with_deps i386-pc $mods biosdisk)" --modules="ext2" \
  --locales= --fonts= --themes= --skip-fs-probe "$disk"
umount "$mnt"
losetup -d "$part"; losetup -d "$disk"; loops=()
python3 - "$base" "$img" "$off" > "$testdata/fixtures/boot/mbr-grub-no-partmap.delta" <<'PY'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
end = int(sys.argv[3])
run = None
for off in range(0, end + 512, 512):
    same = off >= end or a[off:off + 512] == b[off:off + 512]
    if not same:
        run = run if run is not None else off
    elif run is not None:
        print(run, b[run:off].hex()); run = None
PY
ls -l "$testdata/fixtures/boot/mbr-grub-no-partmap.delta" >&2
