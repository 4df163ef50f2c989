#!/usr/bin/env bash
# A backup series for `imgcheck compare` (issue 18) that stopped holding
# data, where used blocks hide it: each backup is a fresh mkfs.ext4 -d
# (4 KiB blocks, a 4 MiB journal) of a 64 MiB disk, three of a full tree
# (2 MiB of files) then four of /etc alone (a few KB of files). Their
# metadata (inode tables, bitmaps, directories: 320 KiB allocated, 4.3 MiB
# used with the journal) is a seventh of a full backup's allocation and
# two thirds of its used blocks, so a rule on either sees no tenfold fall;
# the file data falls a hundredfold. Each is dated by its mkfs time (E2FSPROGS_FAKE_TIME:
# s_mkfs_time and s_wtime), one day apart from 2026-02-01, so a test can
# give them out of order. Fixtures: fixtures/compare/jbackup-*.qcow2.zst.
source "$(dirname "$0")/common.sh"
cd "$work"

mkdir -p full/etc full/var/lib/pgsql full/home/user
printf 'dbhost\n' > full/etc/hostname
printf 'UUID=0 / ext4 defaults 0 1\n' > full/etc/fstab
seq 1 2000 > full/etc/services.txt
head -c 1536K /dev/zero | tr '\0' 'p' > full/var/lib/pgsql/base.dat
seq 1 200000 > full/home/user/notes.txt; truncate -s 512K full/home/user/notes.txt
mkdir -p etc && cp -a full/etc etc/
touch -d @1769904000 full full/* full/*/* full/*/*/* etc etc/* etc/*/*

for i in 1 2 3 4 5 6 7; do
  tree=etc
  [ "$i" -le 3 ] && tree=full
  day=$((1769904000 + (i - 1) * 86400))   # 2026-02-01 00:00 UTC + i-1 days
  truncate -s 64M fs.img
  E2FSPROGS_FAKE_TIME=$day mkfs.ext4 -q -F -b 4096 -J size=4 \
    -U "7d9c1e52-4444-4a4a-8b8b-00000000000$i" -E root_owner=0:0 -d "$tree" fs.img
  qemu-img convert -f raw -O qcow2 fs.img "jbackup-$i.qcow2"
  rm -f fs.img
  store compare "jbackup-$i.qcow2"
done
