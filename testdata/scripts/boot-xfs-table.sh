#!/usr/bin/env bash
# attack A2's XFS truth table (issue 16 F9), the file-level rows:
# boot-xfs.sh's disk (fixtures/boot/gpt-xfs.img) with /boot on its XFS
# changed by the kernel's own XFS (mounted), each stored as the sectors
# that changed (the unmount rewrites the log), zstd'd:
#
#   boot/gpt-xfs-nocfg.delta.zst           rm /boot/grub/grub.cfg
#   boot/gpt-xfs-nonormal.delta.zst        rm normal.mod (i386-pc and x86_64-efi)
#   boot/gpt-xfs-kernel-symlink.delta.zst  the kernel renamed vmlinuz-6.1 and
#                                          a relative symlink left in its place
#   boot/gpt-xfs-kernel-dangling.delta.zst the kernel removed, that symlink
#                                          left pointing at nothing
#   boot/gpt-xfs-kernel-empty.delta.zst    the kernel truncated to 0 bytes
#   boot/gpt-xfs-manyfiles.delta.zst       400 files with long names in
#                                          /boot/grub (a node directory)
#
# Needs root (losetup, mount of XFS), xfsprogs, zstd, python3.
source "$(dirname "$0")/common.sh"
export TZ=UTC
T="2025-11-13 10:00:00"
mnt=$work/mnt
loops=()
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
base=$work/gpt-xfs.img
zstd -dcq "$testdata/fixtures/boot/gpt-xfs.img.zst" > "$base"
root_off=$((36864 * 512))
root_len=$(( $(stat -c %s "$base") - root_off - 34 * 512 ))
mkdir -p "$mnt"
# variant NAME SHELL-COMMANDS: run them in the mounted root, store the delta.
variant() {
  local name=$1 cmds=$2
  cp --sparse=always "$base" "$work/v.img"
  local part; part=$(losetup --show -f -o "$root_off" --sizelimit "$root_len" "$work/v.img"); loops+=("$part")
  mount "$part" "$mnt"
  (cd "$mnt" && eval "$cmds")
  find "$mnt/boot" -exec touch -h -d "$T" {} +
  umount "$mnt"
  losetup -d "$part"; loops=()
  delta "$base" "$work/v.img" > "$work/$name.delta"
  zstd -19 -q -f "$work/$name.delta" -o "$testdata/fixtures/boot/$name.delta.zst"
  ls -l "$testdata/fixtures/boot/$name.delta.zst" >&2
}
variant gpt-xfs-nocfg 'rm boot/grub/grub.cfg'
variant gpt-xfs-nonormal 'rm boot/grub/i386-pc/normal.mod boot/grub/x86_64-efi/normal.mod'
variant gpt-xfs-kernel-symlink 'mv boot/vmlinuz-imgcheck boot/vmlinuz-6.1; ln -s vmlinuz-6.1 boot/vmlinuz-imgcheck'
variant gpt-xfs-kernel-dangling 'rm boot/vmlinuz-imgcheck; ln -s vmlinuz-6.1 boot/vmlinuz-imgcheck'
variant gpt-xfs-kernel-empty ': > boot/vmlinuz-imgcheck'
variant gpt-xfs-manyfiles 'for i in $(seq 1 400); do echo $i > boot/grub/f-$i-padding-name-to-make-entries-long.txt; done'
