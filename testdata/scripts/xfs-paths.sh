#!/usr/bin/env bash
# Path lookup fixtures for the xfs crate's path module (the boot chain
# reads GRUB's files, kernels and initramfs on an XFS /boot through it):
#   xfs/v5-paths.img   mkfs.xfs defaults (v5: crc, ftype, finobt,
#                      reflink, bigtime), populated by the kernel through
#                      a loop mount (testdata/xfs/lib.sh populate: short
#                      form, block, leaf and node directories; extent and
#                      btree-mapped, sparse and preallocated files; local
#                      and remote symlinks), plus a symlink chain of 9
#                      (one past GRUB's 8) and a symlink loop.
#   xfs/v4-paths.img   the same on -m crc=0 (v4, no ftype in entries).
#   xfs/v{5,4}-paths.listing
#                      what the kernel's mount shows, for the test to
#                      match: `find -printf '%y %s %P'` for every path,
#                      then for every regular file its extents as
#                      `xfs_io -r -c 'bmap'` prints them (512-byte units),
#                      and each inode's data fork format (xfs_db
#                      `core.format`: 1 local, 2 extents, 3 btree) for the
#                      directories and files the test names.
# Needs root, xfsprogs, attr, loop devices.
source "$(dirname "$0")/common.sh"
source "$testdata/xfs/lib.sh"
trap 'xfs_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# listing IMAGE ROOT: every path under ROOT as `TYPE SIZE PATH`, then the
# data extents of every regular file as xfs_db's bmap prints them
# (`bmap PATH file-block fsb blocks unwritten-flag`).
listing() {
  (cd "$2" && find . -printf '%y %s %P\n' | LC_ALL=C sort -k3)
  (cd "$2" && find . -type f | LC_ALL=C sort) | while read -r f; do
    xfs_db -r -c "path /${f#./}" -c bmap "$1" |
      sed -n "s|^data offset \([0-9]*\) startblock \([0-9]*\) ([0-9/]*) count \([0-9]*\) flag \([01]\)|bmap ${f#./} \1 \2 \3 \4|p"
  done
}
# fmt IMAGE PATH...: each path's data fork format (xfs_db core.format).
fmt() {
  local img=$1 p; shift
  for p in "$@"; do
    echo "format $p $(xfs_db -r -c "path /$p" -c "print core.format" "$img" | sed 's/.*= //; s/ .*//')"
  done
}
# boot_files DIR: a kernel stand-in, local and absolute symlinks to it, a
# chain of 9 symlinks (one past GRUB's 8) and a loop.
boot_files() {
  mkdir -p "$1/boot"
  blob 70000 kernel > "$1/boot/vmlinuz-6.1.0-imgcheck"
  ln -s vmlinuz-6.1.0-imgcheck "$1/boot/vmlinuz"
  ln -s /boot/vmlinuz "$1/boot/abs-link"
  ln -s ../sf/f2 "$1/boot/up-link"
  for i in 1 2 3 4 5 6 7 8; do ln -s "chain$((i + 1))" "$1/chain$i"; done
  ln -s sf/f3 "$1/chain9"
  ln -s loopb "$1/loopa"; ln -s loopa "$1/loopb"
}

# v5: written by the kernel through a loop mount.
img=$work/v5-paths.img
TZ=UTC faketime "2025-11-13 10:00:00" bash -c \
  "source '$testdata/xfs/lib.sh'; mkpop '$img' 64M '-m uuid=5a5a5a5a-0000-0000-0000-000000000165' small"
m=$(mktemp -d); XFS_MOUNTS+=("$m")
mount -o loop "$img" "$m"
boot_files "$m"
umount "$m"
mount -o loop,ro "$img" "$m"
{ listing "$img" "$m"; fmt "$img" sf block leaf node many big boot/vmlinuz-6.1.0-imgcheck; } > "$work/v5-paths.listing"
umount "$m"; rmdir "$m"

# v4 (-m crc=0): this kernel refuses to mount v4, so mkfs.xfs writes the
# same shapes from a prototype file of a tree made here.
t=$work/v4tree
mkdir -p "$t/sf" "$t/block" "$t/leaf" "$t/node"
for i in 1 2 3; do blob 100 "$i" > "$t/sf/f$i"; done
for i in $(seq 1 40); do : > "$t/block/file_with_a_longer_name_$i"; done
for i in $(seq 1 300); do : > "$t/leaf/entry_number_$i"; done
for i in $(seq 1 1200); do : > "$t/node/n$i"; done
blob $((2 * 1024 * 1024)) big > "$t/big"
boot_files "$t"
python3 - "$t" > "$work/v4.proto" <<'PY'
import os, sys
root = sys.argv[1]
print("v4paths"); print("0 0"); print("d--755 0 0")
def walk(d, depth):
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.islink(p):
            print(f"{n} l--777 0 0 {os.readlink(p)}")
        elif os.path.isdir(p):
            print(f"{n} d--755 0 0"); walk(p, depth + 1); print("$")
        else:
            print(f"{n} ---644 0 0 {p}")
walk(root, 0)
print("$")
PY
img=$work/v4-paths.img
truncate -s 64M "$img"
TZ=UTC faketime "2025-11-13 10:00:00" mkfs.xfs -q -f -m crc=0,uuid=5a5a5a5a-0000-0000-0000-000000000164 -p "$work/v4.proto" "$img"
{ listing "$img" "$t"; fmt "$img" sf block leaf node big boot/vmlinuz-6.1.0-imgcheck; } > "$work/v4-paths.listing"

for v in v5 v4; do
  xfs_repair -n "$work/$v-paths.img" >/dev/null 2>&1 && r=0 || r=$?
  echo "$v-paths: xfs_repair -n exit $r"
  store xfs "$work/$v-paths.img"
  cp "$work/$v-paths.listing" "$testdata/fixtures/xfs/$v-paths.listing"
done
