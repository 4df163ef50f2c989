#!/usr/bin/env bash
# Builds the partition-table fixtures for the gpt crate with real tools
# (sgdisk, sfdisk, fdisk, mkfs.*) into a temp dir and writes zstd copies to
# testdata/fixtures/gpt/. GUIDs, UUIDs and times are fixed so a rerun gives
# the same tables; filesystem contents may differ in a few bytes.
#
# Layouts (sector numbers in logical sectors):
#   gpt-512.img    32 MiB, 512-byte sectors, 4 partitions (Linux fs, swap, LVM, EFI), 7 MiB free at the end
#   gpt-4k.img     64 MiB, 4096-byte sectors (fdisk -b 4096; sgdisk cannot), 2 partitions
#   mbr-logical.img 32 MiB, dos: 2 primaries + extended (0x05) with 3 logicals
#   hybrid.img     gpt-512 + `sgdisk -h 1:2` (hybrid MBR mirroring partitions 1 and 2)
#   grown.img      gpt-512 truncated to 48 MiB after partitioning (backup header left at 32 MiB)
#                  (what `qemu-img resize -f raw` does); tests zero its first MiB to make the
#                  "dd wiped the start of a grown disk" case, where only the stale backup survives
#   mbr-4k.img     32 MiB, dos label on 4096-byte sectors (fdisk -b 4096): ext4 (LBA 256, 8 MiB) and swap;
#                  nothing in an MBR states the sector size, only the contents tell
#   gpt-fs.img     64 MiB GPT whose partitions hold real filesystems: ext4 (1 MiB, 16 MiB),
#                  xfs (17 MiB, 16 MiB), swap (33 MiB, 8 MiB) and an empty LVM partition at 41 MiB
#                  of 10 MiB: tests copy util-linux's lvm2.img (a PV of 10 MiB, pvcreate needs a
#                  block device) into it at test time, never committed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/../fixtures/gpt"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

export E2FSPROGS_FAKE_TIME=1700000000
export SOURCE_DATE_EPOCH=1700000000
# mkfs.xfs refuses filesystems under 300 MiB outside fstests; these variables
# are how fstests itself lifts that limit.
export TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1

G=01234567-89ab-cdef-0123-4567890abc
gpt512() {
  truncate -s 32M "$1"
  sgdisk -o -U 11111111-2222-3333-4444-555555555555 \
    -n 1:2048:+8M -t 1:8300 -c 1:root -u 1:${G}01 \
    -n 2:0:+4M -t 2:8200 -c 2:swap -u 2:${G}02 \
    -n 3:0:+8M -t 3:8e00 -c 3:lvm -u 3:${G}03 \
    -n 4:0:+4M -t 4:ef00 -c 4:EFI -u 4:${G}04 \
    -A 4:set:0 "$1" >/dev/null
}

gpt512 gpt-512.img

# 4096-byte logical sectors: sgdisk always assumes 512 on a file, fdisk -b does not.
truncate -s 64M gpt-4k.img
printf 'g\nn\n1\n\n+16M\nn\n2\n\n+8M\nt\n2\n19\nx\ni\n11111111-2222-3333-4444-666666666666\nu\n1\n%s11\nu\n2\n%s12\nn\n1\nrootfs\nn\n2\nswap\nr\nw\n' "$G" "$G" \
  | fdisk -b 4096 gpt-4k.img >/dev/null 2>&1
fdisk -b 4096 -l gpt-4k.img | grep -q 'gpt-4k.img2' || { echo "fdisk -b 4096 failed" >&2; exit 1; }

truncate -s 32M mbr-logical.img
sfdisk -q mbr-logical.img >/dev/null <<'S'
label: dos
label-id: 0x12345678
start=2048, size=8192, type=83, bootable
start=10240, size=40960, type=5
start=51200, size=8192, type=83
start=12288, size=8192, type=83
start=22528, size=8192, type=82
start=32768, size=8192, type=8e
S

truncate -s 32M mbr-4k.img
printf 'o\nx\ni\n0x4b4b4b4b\nr\nn\np\n1\n\n+8M\nn\np\n2\n\n+8M\nt\n2\n82\nw\n' | fdisk -b 4096 mbr-4k.img >/dev/null 2>&1
truncate -s 8M ext4-4k.fs
mkfs.ext4 -q -F -b 4096 -U 22222222-0000-0000-0000-000000000005 -E hash_seed=22222222-0000-0000-0000-000000000006 -L four ext4-4k.fs
truncate -s 8M swap-4k.fs
mkswap -q -U 22222222-0000-0000-0000-000000000007 swap-4k.fs >/dev/null
dd if=ext4-4k.fs of=mbr-4k.img bs=1M seek=1 conv=notrunc,sparse status=none
dd if=swap-4k.fs of=mbr-4k.img bs=1M seek=9 conv=notrunc,sparse status=none

cp gpt-512.img hybrid.img
sgdisk -h 1:2 hybrid.img >/dev/null

cp gpt-512.img grown.img
truncate -s 48M grown.img

truncate -s 64M gpt-fs.img
sgdisk -o -U 11111111-2222-3333-4444-777777777777 \
  -n 1:2048:+16M -t 1:8300 -c 1:root -u 1:${G}21 \
  -n 2:0:+16M -t 2:8300 -c 2:data -u 2:${G}22 \
  -n 3:0:+8M -t 3:8200 -c 3:swap -u 3:${G}23 \
  -n 4:0:+10M -t 4:8e00 -c 4:pv -u 4:${G}24 gpt-fs.img >/dev/null
truncate -s 16M ext4.fs
mkfs.ext4 -q -F -U 22222222-0000-0000-0000-000000000001 -E hash_seed=22222222-0000-0000-0000-000000000002 -L root ext4.fs
truncate -s 16M xfs.fs
mkfs.xfs -q -f -m uuid=22222222-0000-0000-0000-000000000003 -L data xfs.fs
truncate -s 8M swap.fs
mkswap -q -U 22222222-0000-0000-0000-000000000004 -L swap swap.fs >/dev/null
dd if=ext4.fs of=gpt-fs.img bs=1M seek=1 conv=notrunc,sparse status=none
dd if=xfs.fs of=gpt-fs.img bs=1M seek=17 conv=notrunc,sparse status=none
dd if=swap.fs of=gpt-fs.img bs=1M seek=33 conv=notrunc,sparse status=none

for f in gpt-512.img gpt-4k.img mbr-logical.img mbr-4k.img hybrid.img grown.img gpt-fs.img; do
  zstd -19 -q -f "$f" -o "$out/$f.zst"
done
ls -l "$out"
