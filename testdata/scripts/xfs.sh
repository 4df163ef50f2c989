#!/usr/bin/env bash
# XFS fixtures: mkfs.xfs over its option space, populated by the kernel
# through a loop mount (testdata/xfs/lib.sh), stored zstd-compressed.
# Needs root, xfsprogs, attr. v4 filesystems this kernel no longer mounts
# are populated by mkfs.xfs -p (a prototype file) instead.
source "$(dirname "$0")/common.sh"
source "$testdata/xfs/lib.sh"
trap 'xfs_cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
make_tree "$work/tree"
u=5a5a5a5a-0000-0000-0000-0000000019

# v5-4k: the default feature set with rmapbt, 4 AGs, 4 KiB blocks.
mkpop "$work/v5-4k.img" 64M "-m uuid=${u}01,rmapbt=1 -L v5-4k" small
# v5-1k: 1 KiB blocks, 2 AGs, reflink and rmap, 64-bit extent counters.
mkpop "$work/v5-1k.img" 40M "-b size=1024 -d agcount=2 -m uuid=${u}02,rmapbt=1 -i nrext64=1" small
# v5-plain: every optional v5 feature off, 8 AGs, no sparse inodes.
mkpop "$work/v5-plain.img" 128M "-d agcount=8 -m uuid=${u}03,finobt=0,reflink=0,rmapbt=0,bigtime=0,inobtcount=0 -i sparse=0" small
# v5-dirty: the 4k layout, then writes and a forced shutdown.
mkpop "$work/v5-dirty.img" 48M "-d agcount=3 -m uuid=${u}04" small
mkdirty "$work/v5-dirty.img"
# v5-extlog: an external log (the data device alone is the fixture).
truncate -s 16M "$work/extlog.log"
mkpop "$work/v5-extlog.img" 40M "-d agcount=2 -m uuid=${u}05 -l logdev=$work/extlog.log,size=2048b" small "logdev=$(losetup -f --show "$work/extlog.log")"
losetup -j "$work/extlog.log" | cut -d: -f1 | xargs -r -n1 losetup -d
# v5-rt: a realtime section on its own device. This kernel is built
# without CONFIG_XFS_RT, so the data device is populated by mkfs -p; the
# fixture is the data device (realtime bitmap and summary inodes, no rt data).
truncate -s 16M "$work/rt.dev"
make_proto "$work/rt.proto" "$work/tree" 200
truncate -s 40M "$work/v5-rt.img"
mkfs.xfs -q -f -d agcount=2 -m uuid=${u}06,reflink=0 -r rtdev="$work/rt.dev" -p "$work/rt.proto" "$work/v5-rt.img"
# v5-small-in-big: made at 32 MiB in a 48 MiB container (never grown).
truncate -s 48M "$work/v5-notgrown.img"
mkfs.xfs -q -f -d size=32m,agcount=2 -m uuid=${u}07 "$work/v5-notgrown.img"
# v4: crc=0, populated from a prototype file (this kernel refuses v4 mounts).
make_proto "$work/v4.proto" "$work/tree" 300
truncate -s 64M "$work/v4.img"
mkfs.xfs -q -f -m crc=0,uuid=${u}08 -p "$work/v4.proto" "$work/v4.img"

for f in v5-4k v5-1k v5-plain v5-dirty v5-extlog v5-rt v5-notgrown v4; do
  xfs_repair -n "$work/$f.img" >/dev/null 2>&1 && r=0 || r=$?
  echo "$f: xfs_repair -n exit $r"
  store xfs "$work/$f.img"
done
