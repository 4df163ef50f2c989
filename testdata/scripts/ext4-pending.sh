#!/usr/bin/env bash
# Builds ext4 fixtures whose state is pending work, not damage: images the
# kernel left behind while mounted (copied from the loop device's backing
# file after sync, as a power cut would leave them), and an orphan list
# debugfs builds the way an interrupted truncate leaves it. Stores zstd
# copies in testdata/fixtures/ext4/. Needs root (mount -o loop).
#
#   ext4-crash.img      16 MiB, 4 KiB blocks: files written, some deleted, synced; the
#                       journal holds committed transactions with descriptor, commit and
#                       revoke blocks (needs_recovery)
#   ext4-fc.img         16 MiB, fast_commit: appends fsync'd after the last full commit, so
#                       the fast-commit area holds inode and range records to replay
#   ext4-orphan.img     16 MiB: a file unlinked while held open (orphan list, delete
#                       pending) at the copy
#   ext4-orphan-trunc.img  ext4-4k-like image where debugfs shrank i_size of a 40-block
#                       file to 2 blocks and put it on the orphan list, as a truncate
#                       interrupted before its blocks were freed
# Kernels differ in what they write: the tests check properties (needs_recovery, log
# blocks present, orphan head set), not bytes.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
cd "$work"
[ "$(id -u)" = 0 ] || { echo "needs root (mount -o loop)" >&2; exit 1; }

U=5e1f1c2a-7c1b-4f5e-9a0d-3c6b2a1e0fa0
mnt=$work/mnt
mkdir -p "$mnt"
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT

mk() { # mk OUT mkfs-args...
  local out=$1; shift
  rm -f "$out"; truncate -s 16M "$out"
  # The kernel stamps real times once mounted; mkfs's are fixed.
  mkfs.ext4 -q -F -U "$U" -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$@" "$out"
}
# snapshot IMAGE OUT: the backing file as a crash would leave it.
snapshot() { sync; cp --sparse=always "$1" "$2"; }

mk crash.img
mount -o loop crash.img "$mnt"
mkdir -p "$mnt/d"
for i in $(seq 1 300); do printf 'file %d\n' "$i" > "$mnt/d/f$i"; done
head -c 3000000 /dev/zero | tr '\0' 'y' > "$mnt/big"
sync
rm -rf "$mnt/d" "$mnt/big"
for i in $(seq 1 20); do printf 'again %d\n' "$i" > "$mnt/g$i"; done
snapshot crash.img ext4-crash.img
umount "$mnt"

mk fc.img -O fast_commit
# A long commit interval keeps the fsyncs in the fast-commit area.
mount -o loop,commit=300 fc.img "$mnt"
printf 'base\n' > "$mnt/log"
sync
python3 - "$mnt" <<'PY'
import os, sys
d = sys.argv[1]
fd = os.open(d + "/log", os.O_WRONLY | os.O_APPEND)
for i in range(20):
    os.write(fd, b"line %d\n" % i * 300)
    os.fsync(fd)
# New files, each fsync'd: create, link and range records.
for i in range(3):
    f = os.open(d + "/new%d" % i, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(f, b"n" * (5000 * (i + 1)))
    os.fsync(f)
    os.close(f)
PY
cp --sparse=always fc.img ext4-fc.img
umount "$mnt"

mk orphan.img
mount -o loop orphan.img "$mnt"
head -c 200000 /dev/zero | tr '\0' 'z' > "$mnt/held"
sync
exec 9<"$mnt/held"
rm "$mnt/held"
snapshot orphan.img ext4-orphan.img
exec 9<&-
umount "$mnt"

# An interrupted truncate: a 40-block file cut to 2 blocks on the orphan list,
# its blocks still mapped (what the kernel's ext4_truncate leaves before it frees).
mk trunc.img
mkdir tree
head -c 163840 /dev/zero | tr '\0' 't' > tree/long
rm -f trunc.img; truncate -s 16M trunc.img
mkfs.ext4 -q -F -U "$U" -b 4096 -E lazy_itable_init=0 -d tree trunc.img
ino=$(debugfs -R 'stat /long' trunc.img 2>/dev/null | awk '/^Inode:/ {print $2}')
debugfs -w trunc.img -f - >/dev/null 2>&1 <<CMDS
sif /long size 8192
ssv last_orphan $ino
CMDS
cp trunc.img ext4-orphan-trunc.img

for f in ext4-crash ext4-fc ext4-orphan ext4-orphan-trunc; do
  store ext4 "$f.img"
done
