#!/usr/bin/env bash
# grub.cfg files longer than what a quick look reads: the MBR GRUB disk of
# boot.sh (fixtures/boot/mbr-grub.img) with its /boot/grub/grub.cfg
# preceded by comment lines (a generated config with many themes or
# kernels), written through a loop mount by the kernel's ext4:
#   mbr-grub-bigcfg.img   1.5 MiB of comments, then the original menu:
#                         GRUB reads the whole file and boots its entry;
#   mbr-grub-hugecfg.img  17 MiB of comments, then the menu: past what
#                         imgcheck reads (16 MiB), so not judged.
# Needs root (mount), util-linux, zstd.
source "$(dirname "$0")/common.sh"
make_one() { # NAME MIB
  local d=$work/$1 m; m=$(mktemp -d)
  zstd -dcq "$testdata/fixtures/boot/mbr-grub.img.zst" > "$d"
  local loop; loop=$(losetup -f --show -o $((2048 * 512)) --sizelimit $((63488 * 512)) "$d")
  mount "$loop" "$m"
  local cfg=$m/boot/grub/grub.cfg
  # (yes ends on SIGPIPE when head has its bytes: not a failure)
  { yes '# imgcheck fixture: a long generated grub.cfg, padding before the menu' \
      | head -c $(($2 * 1024 * 1024 / 2)) || true; cat "$cfg"; } > "$work/cfg"
  cp "$work/cfg" "$cfg"
  touch -d @1763000000 "$cfg"
  umount "$m"; losetup -d "$loop"; rmdir "$m"
  store boot "$d"
}
make_one mbr-grub-bigcfg.img 3
make_one mbr-grub-hugecfg.img 34
