# Sourced by the XFS fixture and matrix scripts: make filesystems with
# mkfs.xfs and populate them through a loop mount (the kernel's own XFS
# code writes every structure), so nothing is hand-made.
# Needs: root, xfsprogs, attr (setfattr), loop devices.

# mkfs.xfs refuses filesystems under 300 MiB outside fstests; these
# variables are how fstests makes small ones.
export TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1
XFS_MOUNTS=()
xfs_cleanup() {
  local m
  for m in "${XFS_MOUNTS[@]}"; do
    if mountpoint -q "$m"; then umount "$m" || true; fi
    rmdir "$m" 2>/dev/null || true
  done
}

# Compressible, deterministic content: fixtures stay small.
blob() { # BYTES SEED (no pipe from yes: under pipefail its SIGPIPE fails the script)
  head -c "$1" < <(yes "imgcheck xfs fixture block $2")
}

# populate MOUNTPOINT [LEVEL]: short-form, block, leaf and node directories,
# fragmented, sparse, preallocated (unwritten) and btree-mapped files,
# inline, leaf and remote xattrs, hard links, inline and remote symlinks,
# device nodes. LEVEL small|full scales the node directory.
populate() {
  local m=$1 level=${2:-full} i n
  mkdir -p "$m/sf" "$m/block" "$m/leaf" "$m/node" "$m/deep/a/b/c/d"
  for i in 1 2 3; do blob 100 "$i" > "$m/sf/f$i"; done
  for i in $(seq 1 40); do : > "$m/block/file_with_a_longer_name_$i"; done
  for i in $(seq 1 300); do : > "$m/leaf/entry_number_$i"; done
  n=$([ "$level" = small ] && echo 1200 || echo 3000)
  for i in $(seq 1 "$n"); do : > "$m/node/n$i"; done
  for i in $(seq 1 3 "$n"); do rm -f "$m/node/n$i"; done
  for i in $(seq 1 40); do
    blob 4096 "a$i" >> "$m/frag1"; blob 4096 "b$i" >> "$m/frag2"; sync -f "$m/frag1"
  done
  xfs_io -f -c "pwrite -S 0x61 0 4k" -c "pwrite -S 0x62 1m 4k" -c "pwrite -S 0x63 9m 8k" "$m/sparse" >/dev/null
  xfs_io -f -c "falloc 0 512k" -c "pwrite -S 0x64 64k 4k" "$m/prealloc" >/dev/null
  : > "$m/many"
  for i in $(seq 0 2 240); do xfs_io -c "pwrite -S 0x65 $((i * 4096)) 4096" "$m/many" >/dev/null; done
  setfattr -n user.small -v x "$m/sf/f1"
  for i in $(seq 1 50); do setfattr -n "user.attr$i" -v "value_$i" "$m/sf/f2"; done
  setfattr -n user.big -v "$(blob 3000 big)" "$m/sf/f3"
  ln "$m/sf/f1" "$m/block/hardlink1"; ln "$m/sf/f1" "$m/deep/a/hardlink2"
  ln -s sf/f1 "$m/shortlink"
  ln -s "$(blob 900 l | tr -d '\n ')" "$m/longlink"
  mknod "$m/null" c 1 3; mkfifo "$m/fifo"
  blob $((2 * 1024 * 1024)) big > "$m/big"
  if cp --reflink=always "$m/big" "$m/bigclone" 2>/dev/null; then
    xfs_io -c "pwrite -S 0x66 0 4k" "$m/bigclone" >/dev/null
  fi
  sync -f "$m"
}

# mkpop IMAGE SIZE "MKFS OPTIONS" [LEVEL] [MOUNT OPTIONS]: a populated,
# cleanly unmounted filesystem.
mkpop() {
  local img=$1 size=$2 opts=$3 level=${4:-full} mopts=${5:-} m
  rm -f "$img"; truncate -s "$size" "$img"
  # shellcheck disable=SC2086
  mkfs.xfs -q -f $opts "$img"
  m=$(mktemp -d); XFS_MOUNTS+=("$m")
  mount -o "loop${mopts:+,$mopts}" "$img" "$m"
  populate "$m" "$level"
  umount "$m"; rmdir "$m"
}

# mkdirty IMAGE: more writes, then a forced shutdown: the log keeps
# transactions that were never written back (what a crash leaves).
mkdirty() {
  local img=$1 m i
  m=$(mktemp -d); XFS_MOUNTS+=("$m")
  mount -o loop "$img" "$m"
  mkdir -p "$m/after"
  for i in $(seq 1 50); do blob 512 "d$i" > "$m/after/x$i"; done
  rm -rf "$m/leaf"
  sync -f "$m"
  for i in $(seq 51 80); do : > "$m/after/y$i"; done
  xfs_io -x -c "shutdown -f" "$m"
  umount "$m"; rmdir "$m"
}

# make_proto FILE TREE N: an mkfs.xfs prototype file with the files of
# make_tree (common.sh) in TREE, a symlink, and a directory of N entries
# (block, leaf or node form by N), for filesystems the kernel cannot mount.
make_proto() {
  local out=$1 t=$2 n=$3 i
  {
    echo "boot"; echo "0 0"; echo "d--755 0 0"
    echo "etc d--755 0 0"
    echo "hostname ---644 0 0 $t/etc/hostname"
    echo '$'
    echo "syslog ---644 0 0 $t/var/log/syslog"
    echo "big ---644 0 0 $t/home/user/docs/big.txt"
    echo "link l--777 0 0 etc/hostname"
    echo "d d--755 0 0"
    for i in $(seq 1 "$n"); do echo "entry_with_a_long_name_$i ---644 0 0 $t/etc/hostname"; done
    echo '$'
    echo '$'
  } > "$out"
}

# populate_more MOUNTPOINT: what populate leaves out, for the clean matrix:
# btree-format directories (two directories grown in turns, so their
# blocks interleave and the extent list outgrows the inode), a node-form
# attribute fork (hundreds of xattrs), remote attribute values, deleted
# files and directories, reflinked copies overwritten in part, a sparse
# file with far-apart extents, and a directory of hard links.
populate_more() {
  local m=$1
  python3 - "$m" <<'PY'
import os, sys
m = sys.argv[1]
for d in ("bt1", "bt2"):
    os.makedirs(os.path.join(m, d), exist_ok=True)
long = "a_rather_long_name_that_fills_directory_blocks_quickly_"
for i in range(1500):
    for d in ("bt1", "bt2"):
        open(os.path.join(m, d, f"{long}{i}"), "wb").close()
for i in range(0, 1500, 4):
    os.unlink(os.path.join(m, "bt2", f"{long}{i}"))
f = os.path.join(m, "attrnode")
open(f, "wb").close()
for i in range(400):
    os.setxattr(f, f"user.attribute_number_{i}", b"v" * 150)
os.setxattr(f, "user.remote1", b"r" * 9000)
os.setxattr(f, "user.remote2", b"s" * 60000)
os.makedirs(os.path.join(m, "gone/sub"), exist_ok=True)
for i in range(30):
    with open(os.path.join(m, "gone", f"g{i}"), "wb") as fh:
        fh.write(b"g" * (i * 5000))
for i in range(30):
    os.unlink(os.path.join(m, "gone", f"g{i}"))
os.rmdir(os.path.join(m, "gone/sub"))
with open(os.path.join(m, "farsparse"), "wb") as fh:
    for off in (0, 1 << 20, 1 << 30, 1 << 36):
        fh.seek(off)
        fh.write(b"z" * 8192)
os.makedirs(os.path.join(m, "links"), exist_ok=True)
src = os.path.join(m, "links", "target")
open(src, "wb").close()
for i in range(40):
    os.link(src, os.path.join(m, "links", f"l{i}"))
PY
  local f
  for f in frag1 many sparse; do
    if cp --reflink=always "$m/$f" "$m/$f.clone" 2>/dev/null; then
      xfs_io -c "pwrite -S 0x67 4k 4k" "$m/$f.clone" >/dev/null
    fi
  done
  sync -f "$m"
}
