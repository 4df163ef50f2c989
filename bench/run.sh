#!/usr/bin/env bash
# Whole-process comparisons against the peer tools, run in the same
# invocation so that ratios hold on a shared, noisy machine. Large inputs are
# generated on demand under bench/work/ (sparse; nothing large is committed).
#
#   bench/run.sh            all comparisons
#   bench/run.sh qcow2      one of: qcow2 ext4 scan lost sparse jobs xfs compare scale
#   IMGCHECK_BIN=/path/to/imgcheck bench/run.sh   measure that binary
#
# Prints one line per comparison: wall-time ratio imgcheck/peer and peak RSS
# ratio, from the median of N runs (hyperfine when present, else repeated
# /usr/bin/time). Needs: qemu-img qemu-io e2fsprogs; hyperfine optional.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/bench/work
mkdir -p "$work"
runs=${RUNS:-5}
# IMGCHECK_BIN measures a given binary (another commit's, for before/after
# ratios); else this checkout's release build, wherever CARGO_TARGET_DIR puts it.
if [ -n "${IMGCHECK_BIN:-}" ]; then
  bin=$IMGCHECK_BIN
else
  cargo build --release -q -p imgcheck
  bin=${CARGO_TARGET_DIR:-$root/target}/release/imgcheck
fi
only=${1:-}

# median wall seconds and max RSS (KiB) of a command, over $runs runs
measure() {
  local t=() r=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/.time" "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    # time prints "Command exited with non-zero status N" first when it does
    k=$(tail -n 1 "$work/.time")
    # wall time in seconds with microsecond resolution (time's %e has 10 ms)
    t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')"); r+=("$k")
  done
  local ms mr
  ms=$(printf '%s\n' "${t[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  mr=$(printf '%s\n' "${r[@]}" | sort -g | tail -1)
  echo "$ms $mr"
}

# compare NAME -- imgcheck-args... -- peer-command...
compare() {
  local name=$1; shift
  local ours=() peer=()
  while [ "$1" != "--" ]; do shift; done; shift
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift
  peer=("$@")
  read -r ot om < <(measure "${ours[@]}")
  read -r pt pm < <(measure "${peer[@]}")
  awk -v n="$name" -v ot="$ot" -v pt="$pt" -v om="$om" -v pm="$pm" 'BEGIN {
    rt = (pt > 0) ? ot / pt : 0; rm = (pm > 0) ? om / pm : 0;
    printf "%-58s imgcheck %8.4fs %8d KiB | peer %8.4fs %8d KiB | time x%.2f  rss x%.2f\n", n, ot, om, pt, pm, rt, rm }'
}

# alternate NAME -- imgcheck-args... -- peer-command...: the two timed in
# turn, $runs pairs, for a shared machine whose load moves between runs:
# medians of each and the median of the per-pair ratios; throughput ÷ peer
# is the inverse of the time ratio (the same bytes read both ways).
alternate() {
  local name=$1; shift
  local ours=() peer=() ts=()
  while [ "$1" != "--" ]; do shift; done; shift
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift
  peer=("$@")
  for _ in $(seq "$runs"); do
    local a b c
    a=$(date +%s%N); "${ours[@]}" >/dev/null 2>&1 || true
    b=$(date +%s%N); "${peer[@]}" >/dev/null 2>&1 || true
    c=$(date +%s%N)
    ts+=("$(( b - a )) $(( c - b ))")
  done
  printf '%s\n' "${ts[@]}" | awk -v n="$name" '
    { o[NR] = $1 / 1e9; p[NR] = $2 / 1e9; r[NR] = ($1 > 0) ? $2 / $1 : 0 }
    function med(a, k, i, j, t) {
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((k + 1) / 2)] }
    END { k = NR; mo = med(o, k); mp = med(p, k); mr = med(r, k);
      printf "%-58s imgcheck %8.4fs | peer %8.4fs | alternating x%d: throughput / peer %.2f (median of pairs)\n", n, mo, mp, k, mr }'
}

# one timed run of a command: "wall_seconds max_rss_kib cpu_seconds"
# (cpu: user + sys, steadier than wall on a loaded machine)
once() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M %U %S' -o "$work/.time" "$@" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}') $(tail -n 1 "$work/.time" | awk '{printf "%d %.2f", $1, $2 + $3}')"
}

# alternate_rss NAME -- imgcheck-args... -- peer-command...: like compare, but
# the two are run in turn (ours, peer, ours, peer, ...) so that a machine
# whose load changes during the run weighs on both alike; the 1-minute load
# average at the start and the end is printed beside the ratio, and the
# CPU time (user + sys, median) of each with its ratio. For a peer run
# through bash -c, the CPU time is that of its children, as time counts it.
alternate_rss() {
  local name=$1; shift
  local ours=() peer=() ot=() om=() oc=() pt=() pm=() pc=()
  while [ "$1" != "--" ]; do shift; done; shift
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done; shift
  peer=("$@")
  local l0; l0=$(cut -d' ' -f1 /proc/loadavg)
  # CPU time the hypervisor took from this VM during the row (the 8th
  # field of /proc/stat's cpu line, in USER_HZ ticks): a --jobs 1 run
  # whose wall time varies while its CPU time does not was waiting for it.
  local s0; s0=$(awk '/^cpu / {print $9}' /proc/stat)
  for _ in $(seq "$runs"); do
    read -r a b c < <(once "${ours[@]}"); ot+=("$a"); om+=("$b"); oc+=("$c")
    read -r a b c < <(once "${peer[@]}"); pt+=("$a"); pm+=("$b"); pc+=("$c")
  done
  local l1; l1=$(cut -d' ' -f1 /proc/loadavg)
  local s1; s1=$(awk '/^cpu / {print $9}' /proc/stat)
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  mx() { printf '%s\n' "$@" | sort -g | tail -1; }
  awk -v n="$name" -v ot="$(med "${ot[@]}")" -v pt="$(med "${pt[@]}")" -v om="$(mx "${om[@]}")" -v pm="$(mx "${pm[@]}")" \
    -v oc="$(med "${oc[@]}")" -v pc="$(med "${pc[@]}")" -v l="$l0-$l1" -v st="$(( (s1 - s0) * 1000 / $(getconf CLK_TCK) ))" 'BEGIN {
    rt = (pt > 0) ? ot / pt : 0; rm = (pm > 0) ? om / pm : 0; rc = (pc > 0) ? oc / pc : 0;
    printf "%-58s imgcheck %8.4fs %8d KiB cpu %.2fs | peer %8.4fs %8d KiB cpu %.2fs | time x%.2f  rss x%.2f  cpu x%.2f | load %s, steal %d ms\n", n, ot, om, oc, pt, pm, pc, rt, rm, rc, l, st }'
}

# make_xfs_200k IMG: the 4 GiB XFS (rmapbt) with 204,000+ files the xfs
# and scale sections measure, made by the kernel through a loop mount
# (needs root), unless IMG exists.
make_xfs_200k() {
  local img=$1
  [ -f "$img" ] && return 0
  truncate -s 4G "$img.tmp"
  mkfs.xfs -q -f -m rmapbt=1 "$img.tmp"
  local m; m=$(mktemp -d)
  mount -o loop "$img.tmp" "$m"
  # 400 directories of 510 files of 100 B – 3 KB, a few larger files
  python3 - "$m" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(400):
    p = os.path.join(root, f"d{d:03}")
    os.mkdir(p)
    for f in range(510):
        with open(os.path.join(p, f"file{f:04}"), "wb") as fh:
            fh.write(b"x" * (100 + (d * 510 + f) * 37 % 3000))
for i in range(20):
    with open(os.path.join(root, f"big{i}"), "wb") as fh:
        fh.write(os.urandom(1 << 20) * 8)
PY
  umount "$m"; rmdir "$m"
  mv "$img.tmp" "$img"
}

echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ -z "$only" ] || [ "$only" = qcow2 ]; then
  for size in 64G 128G 256G; do
    img=$work/prealloc-$size.qcow2
    [ -f "$img" ] || qemu-img create -q -f qcow2 -o preallocation=metadata "$img" "$size"
    # 64G = 1,048,576 allocated clusters; 256G = 4,194,304.
    # --qemu-compat runs what qemu-img check runs (the qcow2 layer only);
    # the second line is the whole pipeline (table, filesystems, zero map,
    # and on a disk with no table the bounded lost-partition scan).
    compare "qcow2 check --qemu-compat, preallocated $size" -- "$bin" --qemu-compat "$img" -- qemu-img check "$img"
    compare "whole pipeline, preallocated $size (no table: scan)" -- "$bin" "$img" -- qemu-img check "$img"
  done
  img=$work/fragmented.qcow2
  if [ ! -f "$img" ]; then
    # 4 KiB clusters written in random order (so allocation order and guest
    # order differ: qemu-img reports ~99% fragmented), with snapshots
    # between rounds so clusters are shared. qemu-io reads the commands
    # from stdin in one process.
    qemu-img create -q -f qcow2 -o cluster_size=4096 "$img" 4G
    for round in 1 2 3; do
      python3 -c "
import random, sys
r = random.Random($round)
for i in range(${FRAG_WRITES:-150000}):
    print(f'write -q -P {($round * 7 + i) % 251} {r.randrange(0, 1 << 20) * 4096} 4k')
" | qemu-io -f qcow2 "$img" >/dev/null
      qemu-img snapshot -c "round$round" "$img"
    done
  fi
  compare "qcow2 check --qemu-compat, fragmented 4 KiB clusters + 3 snapshots" -- "$bin" --qemu-compat "$img" -- qemu-img check "$img"
fi

if [ -z "$only" ] || [ "$only" = ext4 ]; then
  # EXT4_FILES="200000" measures one size only.
  for files in ${EXT4_FILES:-50000 100000 200000}; do
    fs=$work/ext4-$files.img
    if [ ! -f "$fs" ]; then
      tree=$work/tree$files
      rm -rf "$tree"; mkdir -p "$tree"
      python3 - "$tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 500
for d in range(n // per):
    p = os.path.join(root, f"d{d:03}")
    os.mkdir(p)
    for f in range(per):
        with open(os.path.join(p, f"f{f:03}"), "w") as fh:
            fh.write("x" * (f % 3000))
PY
      truncate -s 4G "$fs"
      mkfs.ext4 -q -F -N $((files * 3 / 2)) -d "$tree" "$fs"
      rm -rf "$tree"
    fi
    # The default is the full check (issue 12), e2fsck -fn's peer;
    # --quick (metadata proportional to groups) is dumpe2fs -h's.
    compare "ext4 default (full) vs e2fsck -fn (4 GiB, $files files)" -- "$bin" "$fs" -- e2fsck -fn "$fs"
    compare "ext4 --quick vs dumpe2fs -h (4 GiB, $files files)" -- "$bin" --quick "$fs" -- dumpe2fs -h "$fs"
  done
fi

if [ -z "$only" ] || [ "$only" = scan ]; then
  for mib in 512 1024 2048; do
    raw=$work/scan-$mib.img
    [ -f "$raw" ] || head -c "${mib}M" /dev/urandom > "$raw"
    cat "$raw" > /dev/null
    compare "raw zero+signature scan (--scan, $mib MiB, cached) vs cat" -- "$bin" --scan "$raw" -- cat "$raw"
  done
fi

# --scan over a full ext4 with a zeroed 4 MiB object: the whole read plus
# the full check that fills the reverse map and the loss mapping (issue 17).
if [ -z "$only" ] || [ "$only" = lost ]; then
  img=$work/lost-512m.img
  if [ ! -f "$img" ]; then
    rm -rf "$work/lost-tree" && mkdir -p "$work/lost-tree"
    for d in $(seq 0 39); do
      mkdir -p "$work/lost-tree/d$d"
      for f in $(seq 0 99); do head -c 102400 /dev/urandom > "$work/lost-tree/d$d/f$f"; done
    done
    truncate -s 512M "$img"
    mkfs.ext4 -q -F -d "$work/lost-tree" "$img"
    rm -rf "$work/lost-tree"
    dd if=/dev/zero of="$img" bs=4M seek=40 count=1 conv=notrunc status=none
  fi
  cat "$img" > /dev/null
  compare "ext4 --scan with a lost 4 MiB object (512 MiB, 4000 files) vs cat" -- "$bin" --scan "$img" -- cat "$img"
  alternate "the same, alternating" -- "$bin" --scan "$img" -- cat "$img"
  # The same filesystem on a 2 GiB disk (holes past it), raw and qcow2:
  # --scan skips holes (SEEK_DATA) and unallocated clusters unread; cat
  # reads the file as it is.
  sparse=$work/lost-2g.img q=$work/lost-2g.qcow2
  if [ ! -f "$q" ]; then
    cp --sparse=always "$img" "$sparse"
    truncate -s 2G "$sparse"
    qemu-img convert -q -f raw -O qcow2 "$sparse" "$q"
  fi
  cat "$sparse" "$q" > /dev/null
  alternate "the same in a 2 GiB sparse raw disk, alternating" -- "$bin" --scan "$sparse" -- cat "$sparse"
  alternate "the same as qcow2, alternating" -- "$bin" --scan "$q" -- cat "$q"
fi

if [ -z "$only" ] || [ "$only" = sparse ]; then
  img=$work/vm-100g.qcow2
  if [ ! -f "$img" ]; then
    qemu-img create -q -f raw "$work/vm.raw" 100G
    # mke2fs wipes the head of the file it is given, so the table comes after.
    mkfs.ext4 -q -F -E offset=$((1050624 * 512)) "$work/vm.raw" $(( (209715200 - 1050624 - 34) / 2 ))k
    sgdisk -n 1:2048:1050623 -t 1:ef00 -n 2:1050624:0 -t 2:8300 "$work/vm.raw" >/dev/null
    qemu-img convert -q -O qcow2 "$work/vm.raw" "$img"
    rm -f "$work/vm.raw"
  fi
  compare "default depth, 100 GiB sparse qcow2 VM (target < 1 s)" -- "$bin" "$img" -- qemu-img check "$img"
fi

if [ -z "$only" ] || [ "$only" = jobs ]; then
  dir=$work/many
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    zstd -dq "$root/testdata/fixtures/disk/gpt-two-ext4.img.zst" -o "$dir/base.img"
    for i in $(seq -w 1 200); do cp --sparse=always "$dir/base.img" "$dir/img$i.img"; done
    rm "$dir/base.img"
  fi
  compare "200 small images: --jobs 2 vs sequential runs" -- "$bin" --jobs 2 "$dir" -- \
    bash -c "for f in $dir/*.img; do $bin \"\$f\"; done"
fi

if [ -z "$only" ] || [ "$only" = xfs ]; then
  # The XFS crate's full check (its xfscheck example: the layer alone, as
  # the adapter runs it) against xfs_repair -n, on a 4 GiB filesystem with
  # 200,000+ files made by the kernel through a loop mount (needs root).
  cargo build --release -q -p imgcheck-xfs --example xfscheck
  xbin=${CARGO_TARGET_DIR:-$root/target}/release/examples/xfscheck
  img=$work/xfs-4g-200k.img
  make_xfs_200k "$img"
  # the default: the whole imgcheck process (partition scan, the xfs layer
  # at full depth, the report), then the layer alone, then its quick depth
  compare "imgcheck default vs xfs_repair -n, 4 GiB, 204,000 files" -- "$bin" "$img" -- xfs_repair -n "$img"
  compare "xfs full check (xfscheck) vs xfs_repair -n, 4 GiB, 204,000 files" -- "$xbin" "$img" -- xfs_repair -n "$img"
  compare "xfs quick check (xfscheck --quick) vs xfs_repair -n, same image" -- "$xbin" --quick "$img" -- xfs_repair -n "$img"
fi

if [ -z "$only" ] || [ "$only" = compare ]; then
  # Two 20 GiB qcow2 replicas of one disk: 2 GiB of data in A (32 runs of
  # 64 MiB, 640 MiB apart). B: 1 GiB (5 % of the disk, the first half of
  # each run) rewritten, spread over the disk. C: 1 GiB (5 %) written at the
  # end of the disk. D: A's identical copy. E1, E2: two overlays of A (one
  # base, as replicas made by snapshotting a template): E1 with B's 1 GiB
  # spread write, E2 with none, so the runs both take from A are never read.
  # qemu-img compare stops at the first difference, so against B it reads
  # little and against C everything; imgcheck maps every difference (and
  # runs its normal check on each copy) every time. The runs alternate
  # (ours, peer, ...) and print the load average, as the machine is shared.
  # IMGCHECK_BEFORE=/path/to/imgcheck adds a before/after row per case.
  a=$work/replica-a.qcow2 b=$work/replica-b.qcow2 c=$work/replica-c.qcow2 d=$work/replica-d.qcow2
  e1=$work/overlay-e1.qcow2 e2=$work/overlay-e2.qcow2
  if [ ! -f "$e2" ]; then
    rm -f "$a" "$b" "$c" "$d" "$e1" "$e2"
    qemu-img create -q -f qcow2 "$a" 20G
    cmds=()
    for i in $(seq 0 31); do cmds+=(-c "write -P 0x5a $((i * 640))M 64M"); done
    qemu-io -f qcow2 "${cmds[@]}" "$a" >/dev/null
    cp --sparse=always "$a" "$b"
    cp --sparse=always "$a" "$c"
    cmds=()
    for i in $(seq 0 31); do cmds+=(-c "write -P 0xa5 $((i * 640))M 32M"); done
    qemu-io -f qcow2 "${cmds[@]}" "$b" >/dev/null
    qemu-img create -q -f qcow2 -b "$a" -F qcow2 "$e1"
    qemu-io -f qcow2 "${cmds[@]}" "$e1" >/dev/null
    qemu-io -f qcow2 -c "write -P 0xa5 19G 1G" "$c" >/dev/null
    cp --sparse=always "$a" "$d"
    qemu-img create -q -f qcow2 -b "$a" -F qcow2 "$e2"
  fi
  cases=(
    "identical 20 GiB replicas (two files)|$a|$d"
    "20 GiB, 5 % differ at the end|$a|$c"
    "20 GiB, 5 % differ, spread|$a|$b"
    "20 GiB overlays of one base, 5 % differ, spread|$e1|$e2"
  )
  for cse in "${cases[@]}"; do
    IFS='|' read -r name x y <<<"$cse"
    alternate_rss "compare vs qemu-img compare, $name" -- "$bin" compare "$x" "$y" -- qemu-img compare -U "$x" "$y"
    if [ -n "${IMGCHECK_BEFORE:-}" ]; then
      alternate_rss "compare, this build vs IMGCHECK_BEFORE, $name" -- "$bin" compare "$x" "$y" -- "$IMGCHECK_BEFORE" compare "$x" "$y"
    fi
  done
fi

# Issue 20, at real scale. Big inputs live outside the repo, under
# SCALE_DIR (default /work/cache/bench-scale; at most ~15 GB), made on
# demand: a 256 GiB preallocated qcow2 (sparse) and the populated guest of
# bench/bigguest.sh (100 GiB qcow2, GPT, ESP, ext4 root with
# SCALE_FILES files, default 1,000,000; its root also kept as a raw file).
if [ -z "$only" ] || [ "$only" = scale ]; then
  sdir=${SCALE_DIR:-/work/cache/bench-scale}
  mkdir -p "$sdir"
  # cost curve over allocated clusters: 1, 2 and 4 M clusters
  for size in 64G 128G 256G; do
    img=$sdir/prealloc-$size.qcow2
    [ -f "$img" ] || qemu-img create -q -f qcow2 -o preallocation=metadata "$img" "$size"
    alternate_rss "whole default report, preallocated $size vs qemu-img check" -- "$bin" "$img" -- qemu-img check "$img"
  done
  # --jobs 2 against --jobs 1 on one image with two large filesystems: a
  # GPT disk holding two copies of the xfs section's 4 GiB, 204,544-inode
  # filesystem (made here, in SCALE_DIR, when that section has not made it).
  x=$work/xfs-4g-200k.img
  [ -f "$x" ] || x=$sdir/xfs-4g-200k.img
  make_xfs_200k "$x"
  two=$sdir/two-xfs.img
  if [ ! -f "$two" ]; then
    truncate -s 9G "$two.tmp"
    sgdisk -n 1:2048:+4G -t 1:8300 -n 2:0:+4G -t 2:8300 "$two.tmp" >/dev/null
    for s in 2048 8390656; do
      dd if="$x" of="$two.tmp" bs=4M seek=$((s * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
    done
    mv "$two.tmp" "$two"
  fi
  # The two reports must be the same bytes: a lane that changes the
  # output is no speed-up.
  if ! cmp -s <("$bin" --jobs 1 "$two") <("$bin" --jobs 2 "$two"); then
    echo "# --jobs 1 and --jobs 2 reports DIFFER on $two"
  fi
  # "time x" is jobs 2 / jobs 1; the speed-up is its inverse (wall), and
  # the CPU ratio is the extra work two lanes cost over one.
  alternate_rss "--jobs 2 vs --jobs 1, GPT with two 4 GiB XFS (204,544 inodes each)" -- "$bin" --jobs 2 "$two" -- "$bin" --jobs 1 "$two" |
    awk '{ print; if (match($0, /time x[0-9.]+/)) { r = substr($0, RSTART + 6, RLENGTH - 6) + 0; if (r > 0) printf "%-58s speed-up of --jobs 2 over --jobs 1: %.2fx (done-when: >= 1.7x)\n", "", 1 / r } }'
  # cost curve over inodes in use, then the 1 M-file guest
  # SCALE_FILES= (empty) skips the guest; SCALE_CURVE="100000 300000" adds sizes
  for files in ${SCALE_CURVE:-} ${SCALE_FILES-1000000}; do
    bench/bigguest.sh "$sdir" "$files" 100
    q=$sdir/guest-$files.qcow2
    fs=$sdir/guest-$files.root.ext4
    alternate_rss "full check, 100 GiB guest, $files files vs qemu-img check + e2fsck -fn" -- "$bin" "$q" -- \
      bash -c "qemu-img check '$q' >/dev/null; e2fsck -fn '$fs' >/dev/null"
  done
fi
