#!/usr/bin/env bash
# The clean matrix: N filesystems made by mkfs.xfs over its option space
# (v5 feature bits on and off, 1k-64k blocks, inode sizes, AG counts,
# internal and external logs, sector sizes, v4), populated by the kernel
# through a loop mount (v4: mkfs -p, this kernel no longer mounts v4),
# cleanly unmounted, each checked by xfs_repair -n and the xfs checker.
# A "false alarm" is a warning or error of ours on an image xfs_repair -n
# passes. Prints one line per image and the totals.
#
# usage: testdata/xfs/matrix.sh CHECKER [N] [SEED]
#   CHECKER: target/release/examples/xfscheck (cargo build --release -p imgcheck-xfs --example xfscheck)
# Needs root, xfsprogs, attr, loop devices. Runs about 5 s per image.
set -euo pipefail
checker=$(realpath "$1"); n=${2:-120}; seed=${3:-19}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/common.sh"   # sets $work and the fixed clocks
source "$here/lib.sh"
logloops=()
trap 'xfs_cleanup; for l in "${logloops[@]}"; do losetup -d "$l" 2>/dev/null || true; done; rm -rf "$work"' EXIT
# a signal still unmounts and detaches what this run made (the EXIT trap)
trap 'exit 130' INT TERM
make_tree "$work/tree"

RANDOM=$seed
pick() { local a=("$@"); echo "${a[$((RANDOM % ${#a[@]}))]}"; }
tried=0 alarms=0 repair_bad=0
for i in $(seq 1 "$n"); do
  img=$work/m$i.img
  v4=$([ $((RANDOM % 8)) -eq 0 ] && echo 1 || echo 0)
  bs=$(pick 1024 2048 4096 4096 4096 65536)
  size=$(pick 64 96 160 300)
  # xfs_repair -n refuses one AG (no secondary to check geometry against),
  # and mkfs.xfs AGs of less than 16 MiB
  ag=$(pick 2 3 4 7 16)
  # 64 KiB blocks need a larger log than a small filesystem has room for
  [ "$bs" = 65536 ] && size=1024
  [ $((size / ag)) -lt 18 ] && ag=$((size / 18))
  if [ "$v4" = 1 ]; then
    isz=$(pick 256 512)
    opts="-m crc=0 -i size=$isz -b size=$bs -d agcount=$ag"
  else
    fino=$(pick 0 1); rmap=$(pick 0 1); refl=$(pick 0 1); big=$(pick 0 1); spin=$(pick 0 1)
    cnt=0; [ "$fino" = 1 ] && cnt=$(pick 0 1)
    nrext=$(pick 0 0 1)
    isz=$(pick 512 512 1024 2048)
    # an inode is at most half a block
    [ "$isz" -gt $((bs / 2)) ] && isz=512
    [ "$isz" -gt $((bs / 2)) ] && isz=256
    opts="-b size=$bs -d agcount=$ag -i size=$isz,sparse=$spin,nrext64=$nrext -m finobt=$fino,rmapbt=$rmap,reflink=$refl,bigtime=$big,inobtcount=$cnt"
    [ "$bs" -ge 4096 ] && [ $((RANDOM % 4)) -eq 0 ] && opts+=" -s size=4096"
    [ $((RANDOM % 5)) -eq 0 ] && opts+=" -n size=$(pick 8192 16384)"
  fi
  extlog=""
  if [ $((RANDOM % 6)) -eq 0 ]; then
    truncate -s 32M "$work/m$i.log"; extlog=$work/m$i.log
    opts+=" -l logdev=$extlog,size=4096b"
  fi
  truncate -s "${size}M" "$img"
  # shellcheck disable=SC2086
  if ! mkfs.xfs -q -f $opts "$img" 2>"$work/err"; then
    echo "m$i: mkfs refused ($opts): $(head -1 "$work/err")"; rm -f "$img" "$extlog"; continue
  fi
  if [ "$v4" = 1 ]; then
    make_proto "$work/p" "$work/tree" $((RANDOM % 700))
    # shellcheck disable=SC2086
    mkfs.xfs -q -f $opts -p "$work/p" "$img"
  else
    m=$(mktemp -d); XFS_MOUNTS+=("$m"); mopt=loop
    if [ -n "$extlog" ]; then l=$(losetup -f --show "$extlog"); logloops+=("$l"); mopt+=",logdev=$l"; fi
    if mount -o "$mopt" "$img" "$m" 2>"$work/err"; then
      populate "$m" small 2>/dev/null || true
      umount "$m"
    else
      echo "m$i: mount refused ($opts): $(head -1 "$work/err")"
    fi
    rmdir "$m"
    if [ -n "$extlog" ]; then losetup -d "${logloops[-1]}"; unset 'logloops[-1]'; fi
  fi
  rargs=(); [ -n "$extlog" ] && rargs=(-l "$extlog")
  xfs_repair -n "${rargs[@]}" "$img" >/dev/null 2>&1 && rr=0 || rr=$?
  codes=$("$checker" --codes "$img" | sort -u | tr '\n' ' ') || true
  tried=$((tried + 1))
  verdict=ok
  [ "$rr" != 0 ] && repair_bad=$((repair_bad + 1)) && verdict="xfs_repair exit $rr"
  if [ "$rr" = 0 ] && [ -n "$codes" ]; then alarms=$((alarms + 1)); verdict="FALSE ALARM: $codes"; fi
  echo "m$i: $verdict ($opts${extlog:+, external log})"
  rm -f "$img" "$extlog"
done
echo "clean matrix: $tried filesystems tried, $alarms false alarms, $repair_bad that xfs_repair -n itself flagged"
[ "$alarms" = 0 ]
