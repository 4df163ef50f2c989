#!/usr/bin/env bash
# The clean matrix: N filesystems made by mkfs.xfs over its option space
# (v5 feature bits on and off, 512 B (v4) to 64k blocks, inode and directory
# block sizes, AG counts, stripe units, internal logs of set sizes, external
# logs, realtime devices with extent sizes, 4 KiB sectors, v4), populated
# by the kernel through a loop mount (populate and populate_more in lib.sh;
# v4 and realtime filesystems by mkfs -p: this kernel has neither
# CONFIG_XFS_SUPPORT_V4 nor CONFIG_XFS_RT), cleanly unmounted, each checked by xfs_repair -n and the xfs checker.
# A "false alarm" is a warning or error of ours on an image xfs_repair -n
# passes. Prints one line per image and the totals.
#
# usage: testdata/xfs/matrix.sh CHECKER [N] [SEED]   (KEEP=DIR keeps every image not ok)
#   CHECKER: target/release/examples/xfscheck (cargo build --release -p imgcheck-xfs --example xfscheck)
# Needs root, xfsprogs, attr, loop devices. Runs about 5 s per image.
set -euo pipefail
shopt -s extglob
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
tried=0 alarms=0 repair_bad=0 crashes=0
for i in $(seq 1 "$n"); do
  img=$work/m$i.img
  v4=$([ $((RANDOM % 8)) -eq 0 ] && echo 1 || echo 0)
  bs=$(pick 1024 2048 4096 4096 4096 8192 16384 32768 65536)
  [ "$v4" = 1 ] && bs=$(pick 512 1024 2048 4096 4096)
  size=$(pick 64 96 160 300)
  # xfs_repair -n refuses one AG (no secondary to check geometry against),
  # and mkfs.xfs AGs of less than 16 MiB
  ag=$(pick 2 3 4 7 16)
  # large blocks need a larger log than a small filesystem has room for
  [ "$bs" -ge 16384 ] && size=1024
  [ $((size / ag)) -lt 18 ] && ag=$((size / 18))
  if [ "$v4" = 1 ]; then
    isz=$(pick 256 512 1024)
    [ "$isz" -gt $((bs / 2)) ] && isz=256
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
  fi
  # directory blocks of 2..16 blocks, never above 64 KiB
  if [ $((RANDOM % 5)) -eq 0 ]; then
    nsz=$(pick 8192 16384 65536); [ "$nsz" -gt "$bs" ] && opts+=" -n size=$nsz"
  fi
  # stripe geometry: su a multiple of the block size, sw 2..4
  if [ $((RANDOM % 5)) -eq 0 ]; then
    su=$((bs * $(pick 2 4 16))); [ "$su" -lt 8192 ] && su=8192
    [ $((su % bs)) -eq 0 ] && opts+=" -d su=$su,sw=$(pick 2 3 4)"
  fi
  extlog="" rtdev=""
  if [ $((RANDOM % 6)) -eq 0 ]; then
    truncate -s 32M "$work/m$i.log"; extlog=$work/m$i.log
    opts+=" -l logdev=$extlog$(pick "" ,size=16m ,size=24m)"
  elif [ $((RANDOM % 4)) -eq 0 ]; then
    # an internal log of a chosen size (blocks; mkfs's minimum varies)
    opts+=" -l internal,size=$(pick 2560 4096 8192)b"
  fi
  # a realtime section on its own device; this kernel has no
  # CONFIG_XFS_RT, so such filesystems are populated by mkfs -p
  if [ $((RANDOM % 6)) -eq 0 ]; then
    truncate -s "$(pick 16 48)M" "$work/m$i.rt"; rtdev=$work/m$i.rt
    # mkfs.xfs 6.1 makes no realtime section with reflink or rmapbt
    opts=${opts//reflink=1/reflink=0}; opts=${opts//rmapbt=1/rmapbt=0}
    ext=$((bs * $(pick 1 4 16))); [ "$ext" -gt 1048576 ] && ext=$bs
    opts+=" -r rtdev=$rtdev,extsize=$ext"
  fi
  truncate -s "${size}M" "$img"
  # shellcheck disable=SC2086
  if ! mkfs.xfs -q -f $opts "$img" 2>"$work/err" && grep -q -i 'log' "$work/err"; then
    # a log size this geometry cannot have (mkfs's minimum and maximum
    # depend on all the rest): mkfs's own choice instead
    opts=$(sed -E 's/ -l internal,size=[0-9]+b//; s/(logdev=[^ ,]*),size=[0-9]+m/\1/' <<<"$opts")
    # shellcheck disable=SC2086
    mkfs.xfs -q -f $opts "$img" 2>"$work/err" || true
  fi
  # shellcheck disable=SC2086
  if ! xfs_db -r -c 'sb 0' -c 'print magicnum' "$img" 2>/dev/null | grep -q 0x58465342; then
    echo "m$i: mkfs refused ($opts): $(head -1 "$work/err")"; rm -f "$img" "$extlog" "$rtdev"; continue
  fi
  how=kernel
  if [ "$v4" = 1 ] || [ -n "$rtdev" ]; then
    how=proto
    make_proto "$work/p" "$work/tree" $((RANDOM % 700))
    # shellcheck disable=SC2086
    mkfs.xfs -q -f $opts -p "$work/p" "$img"
  else
    m=$(mktemp -d); XFS_MOUNTS+=("$m"); mopt=loop
    if [ -n "$extlog" ]; then l=$(losetup -f --show "$extlog"); logloops+=("$l"); mopt+=",logdev=$l"; fi
    if ! mount -o "$mopt" "$img" "$m" 2>"$work/err"; then
      # this kernel's minimum log size is above mkfs.xfs 6.1's default for
      # some geometries ("Log size N blocks too small, minimum size is M
      # blocks"): make the filesystem again with that log
      min=$(dmesg | grep -o 'minimum size is [0-9]* blocks' | tail -1 | grep -o '[0-9]*' || true)
      if [ -n "$min" ] && [ -z "$extlog" ]; then
        opts="${opts/ -l internal,size=*([0-9])b/} -l size=$((min + 64))b"
        # shellcheck disable=SC2086
        mkfs.xfs -q -f $opts "$img" 2>"$work/err" || true
      fi
    fi
    if mountpoint -q "$m" || mount -o "$mopt" "$img" "$m" 2>"$work/err"; then
      populate "$m" small 2>/dev/null || true
      populate_more "$m" 2>/dev/null || true
      umount "$m"
    else
      how="unpopulated, mount refused: $(head -1 "$work/err")"
    fi
    rmdir "$m"
    if [ -n "$extlog" ]; then losetup -d "${logloops[-1]}"; unset 'logloops[-1]'; fi
  fi
  rargs=(); [ -n "$extlog" ] && rargs+=(-l "$extlog"); [ -n "$rtdev" ] && rargs+=(-r "$rtdev")
  xfs_repair -n "${rargs[@]}" "$img" >"$work/repair" 2>&1 && rr=0 || rr=$?
  "$checker" --codes "$img" >"$work/codes" 2>"$work/cerr" && cr=0 || cr=$?
  codes=$(sort -u "$work/codes" | tr '\n' ' ')
  tried=$((tried + 1))
  verdict=ok
  [ "$rr" != 0 ] && repair_bad=$((repair_bad + 1)) && verdict="xfs_repair -n exit $rr: $(grep -v '^[[:space:]]*-\|^Phase\|^No modify' "$work/repair" | head -2 | tr '\n' ' ')"
  if [ "$cr" -gt 1 ]; then crashes=$((crashes + 1)); verdict="CHECKER EXIT $cr: $(tail -1 "$work/cerr")"; fi
  if [ "$rr" = 0 ] && [ -n "$codes" ]; then alarms=$((alarms + 1)); verdict="FALSE ALARM: $codes"; fi
  echo "m$i: $verdict ($opts${extlog:+, external log}${rtdev:+, realtime device}; $how)"
  if [ -n "${KEEP:-}" ] && [ "$verdict" != ok ]; then cp --sparse=always "$img" "$KEEP/m$i.img"; fi
  rm -f "$img" "$extlog" "$rtdev"
done
echo "clean matrix: $tried filesystems tried, $alarms false alarms, $repair_bad that xfs_repair -n itself flagged, $crashes checker crashes"
[ "$alarms" = 0 ] && [ "$crashes" = 0 ]
