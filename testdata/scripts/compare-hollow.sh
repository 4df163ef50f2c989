#!/usr/bin/env bash
# A hollow copy for `imgcheck compare` (issue 18, attack F0): full.raw is
# mkfs.ext4 -d of a tree holding 2.3 MiB of file data; hollow.raw is
# `e2image -r` of it (every superblock, table, inode and directory kept,
# every file's data blocks left zeros: e2fsck -fn calls it clean), then
# stamped as mounted and written later than full.raw by debugfs
# (s_mtime, s_wtime), as mounting the metadata image leaves it. It is no
# copy of the disk: it must never be named the source of a heal, in any
# argument order, however new it looks. Fixtures:
# fixtures/compare/hollow-{full,hollow}.raw.zst.
source "$(dirname "$0")/common.sh"
cd "$work"

mkdir -p t/etc t/var/lib/pgsql t/home/user
printf 'dbhost\n' > t/etc/hostname
seq 1 20000 > t/etc/services.txt
seq -w 100000000 100200000 > t/var/lib/pgsql/base.dat; truncate -s 1M t/var/lib/pgsql/base.dat
seq 1 200000 > t/home/user/notes.txt; truncate -s 1M t/home/user/notes.txt
touch -d @1763000000 t t/* t/*/* t/*/*/* t/*/*/*/* 2>/dev/null || true

truncate -s 32M hollow-full.raw
mkfs.ext4 -q -F -b 4096 -J size=4 -U 7d9c1e52-6666-4a4a-8b8b-000000000006 \
  -E root_owner=0:0,hash_seed=7d9c1e52-6666-4a4a-8b8b-0000000000ff -d t hollow-full.raw
e2image -r hollow-full.raw hollow-hollow.raw
# Mounted (and so written) three months after the full copy was made.
E2FSPROGS_FAKE_TIME=1772366400 debugfs -w -R "ssv mtime 20260301115000" hollow-hollow.raw >/dev/null 2>&1
e2fsck -fn hollow-hollow.raw >/dev/null
e2fsck -fn hollow-full.raw >/dev/null
for f in hollow-full.raw hollow-hollow.raw; do
  store compare "$f"
done
