#!/usr/bin/env bash
# A monthly backup series for `imgcheck compare` (issue 18) whose newest
# backup failed: jan, feb and mar are mkfs.ext4 -d of a full tree (1.5 MiB
# of files), apr of /etc alone, all with one filesystem UUID (-U, as a
# backup job that restores the UUID leaves them) and dated a month apart
# by E2FSPROGS_FAKE_TIME (s_mkfs_time, s_wtime). Given first, the thin
# and newest one must never be named as what to heal from (an attack's
# F5). Fixtures: fixtures/compare/thin-{jan,feb,mar,apr}.qcow2.zst.
source "$(dirname "$0")/common.sh"
cd "$work"

mkdir -p full/etc full/var/lib/pgsql full/home/user
printf 'dbhost\n' > full/etc/hostname
printf 'UUID=0 / ext4 defaults 0 1\n' > full/etc/fstab
seq 1 2000 > full/etc/services.txt
seq -w 100000000 100200000 > full/var/lib/pgsql/base.dat; truncate -s 1M full/var/lib/pgsql/base.dat
seq 1 200000 > full/home/user/notes.txt; truncate -s 512K full/home/user/notes.txt
mkdir -p etc && cp -a full/etc etc/
touch -d @1767225600 full full/* full/*/* full/*/*/* etc etc/* etc/*/*

n=0
for m in jan feb mar apr; do
  tree=full
  [ "$m" = apr ] && tree=etc
  day=$((1767225600 + n * 2678400))   # 2026-01-01 00:00 UTC + 31 days each
  n=$((n + 1))
  truncate -s 32M fs.img
  E2FSPROGS_FAKE_TIME=$day mkfs.ext4 -q -F -b 4096 -J size=4 \
    -U 7d9c1e52-5555-4a4a-8b8b-000000000005 -E root_owner=0:0,hash_seed=7d9c1e52-5555-4a4a-8b8b-0000000000ff \
    -d "$tree" fs.img
  qemu-img convert -f raw -O qcow2 fs.img "thin-$m.qcow2"
  rm -f fs.img
  store compare "thin-$m.qcow2"
done
