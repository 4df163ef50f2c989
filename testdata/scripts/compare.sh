#!/usr/bin/env bash
# Re-enactments for `imgcheck compare` (issue 18), made with real tools:
#  - two qcow2 replicas of one GPT+ext4 disk diverging after a crash:
#    qemu-io writes into each; replica 2 also gets a newer superblock
#    (debugfs-made, s_wtime/s_mtime later), a torn directory block (the
#    second half of /var/lib/pgsql's block overwritten) and a stale
#    refcount (a data cluster's refcount set to 0, as a crash between the
#    L2 and the refcount update leaves it);
#  - a qcow2 internal snapshot (qemu-img snapshot -c) and writes after it;
#  - a backup series: two full disks, then four that hold only /etc.
# The Gluster AFR xattrs are set by the test on copies in a tempdir
# (xattrs do not survive zstd). Fixtures: fixtures/compare/*.zst.
source "$(dirname "$0")/common.sh"
cd "$work"

tree() {
  local d=$1
  mkdir -p "$d/etc" "$d/var/lib/pgsql" "$d/home/user"
  printf 'dbhost\n' > "$d/etc/hostname"
  printf 'UUID=0 / ext4 defaults 0 1\n' > "$d/etc/fstab"
  seq 1 20000 > "$d/etc/services.txt"
  seq -w 100000000 100040000 > "$d/var/lib/pgsql/base.dat"; truncate -s 393216 "$d/var/lib/pgsql/base.dat"
  seq 1 30000 > "$d/home/user/notes.txt"
  touch -d @1763000000 "$d" "$d"/* "$d"/*/* "$d"/*/*/* 2>/dev/null || true
}

# disk NAME UUID TREE: a GPT disk of $size (16 MiB), one ext4 partition
# from 1 MiB to 1 MiB before the end (the backup GPT stays).
disk() {
  local mib=${size:-16M}
  mib=${mib%M}
  truncate -s "${mib}M" "$1"
  sgdisk -U 5e3b1b8e-0001-4c1e-9d50-000000000001 -n 1:2048:0 -t 1:8300 \
    -u 1:5e3b1b8e-0002-4c1e-9d50-000000000002 "$1" >/dev/null
  truncate -s "$((mib - 2))M" part.img
  mkfs.ext4 -q -F -b 1024 -U "$2" -E root_owner=0:0 -d "$3" part.img
  dd if=part.img of="$1" bs=1M seek=1 conv=notrunc status=none
  rm -f part.img
}

# blockof DISK PATH: the disk byte offset of PATH's first block.
blockof() {
  dd if="$1" of=p.tmp bs=1M skip=1 status=none
  local b
  b=$(debugfs -R "bmap $2 0" p.tmp 2>/dev/null)
  rm -f p.tmp
  echo $((1048576 + b * 1024))
}

tree t
disk base.raw 7d9c1e52-1111-4a4a-8b8b-000000000018 t
qemu-img convert -f raw -O qcow2 base.raw base.qcow2
notes=$(blockof base.raw /home/user/notes.txt)
db=$(blockof base.raw /var/lib/pgsql/base.dat)
pgdir=$(blockof base.raw /var/lib/pgsql)

# Replica 1: one write the crash kept only here (a block of notes.txt).
cp base.qcow2 replica1.qcow2
qemu-io -f qcow2 -c "write -P 0x11 $notes 4096" replica1.qcow2 >/dev/null

# Replica 2: newer writes into base.dat, a newer superblock, a torn
# directory block, then a stale refcount.
cp base.qcow2 replica2.qcow2
qemu-io -f qcow2 -c "write -P 0x22 $db 65536" -c "write -P 0x23 $((db + 131072)) 8192" replica2.qcow2 >/dev/null
dd if=base.raw of=p.tmp bs=1M skip=1 status=none
# debugfs stamps s_wtime with its clock when it writes: 2026-03-01 12:00.
E2FSPROGS_FAKE_TIME=1772366400 debugfs -w -R "ssv mtime 20260301115000" p.tmp >/dev/null 2>&1
dd if=p.tmp of=sb.bin bs=1024 skip=1 count=1 status=none
rm -f p.tmp
qemu-io -f qcow2 -c "write -s sb.bin $((1048576 + 1024)) 1024" replica2.qcow2 >/dev/null
qemu-io -f qcow2 -c "write -P 0x5a $((pgdir + 512)) 512" replica2.qcow2 >/dev/null
python3 - replica2.qcow2 <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
cb = struct.unpack(">I", b[20:24])[0]
rt = struct.unpack(">Q", b[48:56])[0]
blk = struct.unpack(">Q", b[rt:rt + 8])[0]
# refcount_order 4: 16-bit entries; the last cluster of the file is the
# data cluster the last write allocated. Its refcount goes to 0.
last = (len(b) >> cb) - 1
at = blk + 2 * last
assert struct.unpack(">H", b[at:at + 2])[0] == 1, "expected refcount 1"
b[at:at + 2] = b"\0\0"
open(p, "wb").write(b)
PY

# Snapshot, then writes after it.
cp base.qcow2 snap.qcow2
qemu-img snapshot -c pre-upgrade snap.qcow2
qemu-io -f qcow2 -c "write -P 0x33 $db 131072" -c "write -P 0x34 $notes 4096" snap.qcow2 >/dev/null

# Backup series: two full disks (with 12 MiB of database in a 32 MiB
# disk), four holding only /etc.
cp -a t full && head -c 12M /dev/zero | tr '\0' 'p' > full/var/lib/pgsql/big.dat
for i in 1 2; do
  E2FSPROGS_FAKE_TIME=$((1763000000 + i * 86400)) size=32M disk full$i.raw 7d9c1e52-2222-4a4a-8b8b-00000000000$i full
  qemu-img convert -f raw -O qcow2 full$i.raw backup-0$i.qcow2
done
mkdir -p e/etc && cp -a t/etc/hostname t/etc/fstab e/etc/
for i in 3 4 5 6; do
  E2FSPROGS_FAKE_TIME=$((1763000000 + i * 86400)) size=32M disk etc$i.raw 7d9c1e52-3333-4a4a-8b8b-00000000000$i e
  qemu-img convert -f raw -O qcow2 etc$i.raw backup-0$i.qcow2
done

for f in replica1.qcow2 replica2.qcow2 snap.qcow2 backup-0?.qcow2; do
  store compare "$f"
done
