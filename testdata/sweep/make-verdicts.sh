#!/usr/bin/env bash
# Computes, once, what the peer tools say about every byte the damage sweep
# flips, and writes testdata/sweep/verdicts.tsv. The sweep test then needs no
# peer at test time: where the peer noticed a flip, imgcheck must not say
# "clean".
#
# A peer "noticed" when its output or exit status differs from what it says
# about the undamaged image (so its normal remarks, like sgdisk's alignment
# cautions, do not count).
#   qcow2 regions -> qemu-img check;  MBR/GPT -> sgdisk -v;  ext4 -> e2fsck -fn
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fx=$here/../fixtures
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$here/verdicts.tsv
printf 'fixture\tpeer\tregion\toffset\tmask\tnoticed\n' > "$out"

peer_run() { # peer file [fs_offset fs_len]
  case $1 in
    qemu-img) { qemu-img check "$2" 2>&1; echo "rc=$?"; } | grep -v -E '^Image end offset' ;;
    sgdisk) { sgdisk -v "$2" 2>&1; echo "rc=$?"; } ;;
    e2fsck)
      dd if="$2" of="$work/fs" bs=512 skip=$(( $3 / 512 )) count=$(( $4 / 512 )) status=none
      { e2fsck -fn "$work/fs" 2>&1; echo "rc=$?"; } | grep -v -E '^e2fsck [0-9]' ;;
  esac
}

# sweep FIXTURE PEER REGION START END STEP [FS_OFFSET FS_LEN]
sweep() {
  local name=$1 peer=$2 region=$3 start=$4 end=$5 step=$6 fso=${7:-0} fsl=${8:-0}
  local img=$work/$(basename "$name")
  zstd -dqf "$fx/$name.zst" -o "$img.clean"
  local base
  base=$(peer_run "$peer" "$img.clean" "$fso" "$fsl" | md5sum)
  for ((o = start; o < end; o += step)); do
    cp --sparse=always "$img.clean" "$img"
    python3 - "$img" "$o" <<'PY'
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, 'r+b') as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0xff]))
PY
    now=$(peer_run "$peer" "$img" "$fso" "$fsl" | md5sum)
    printf '%s\t%s\t%s\t%d\t255\t%d\n' "$name" "$peer" "$region" "$o" "$([ "$now" != "$base" ] && echo 1 || echo 0)" >> "$out"
  done
}

# Raw GPT disk, two ext4 partitions (testdata/scripts/disk.sh).
d=disk/gpt-two-ext4.img
sweep $d sgdisk "MBR partition entries" 446 512 1
sweep $d sgdisk "primary GPT header" 512 604 1
sweep $d sgdisk "primary GPT entries 1-2" 1024 1280 2
# Partition 1: 1 KiB blocks (see dumpe2fs); block numbers below are its own.
p1=$((2048 * 512)); p1len=$(((49152 - 2048) * 512))
zstd -dqf "$fx/$d.zst" -o "$work/probe.img"
dd if="$work/probe.img" of="$work/p1" bs=512 skip=2048 count=47104 status=none
blk() { echo $((p1 + $1 * 1024)); }
gd=$(dumpe2fs "$work/p1" 2>/dev/null | sed -n '/^Group 0:/,/^Group 1:/p')
bb=$(sed -n 's/.*Block bitmap at \([0-9]*\).*/\1/p' <<< "$gd")
ib=$(sed -n 's/.*Inode bitmap at \([0-9]*\).*/\1/p' <<< "$gd")
it=$(sed -n 's/.*Inode table at \([0-9]*\)-.*/\1/p' <<< "$gd")
rootdir=$(debugfs -R "bmap <2> 0" "$work/p1" 2>/dev/null)
jsb=$(debugfs -R "bmap <8> 0" "$work/p1" 2>/dev/null)
sweep $d e2fsck "ext4 superblock" $((p1 + 1024)) $((p1 + 2048)) 4 $p1 $p1len
sweep $d e2fsck "ext4 group descriptor 0" "$(blk 2)" $(($(blk 2) + 64)) 1 $p1 $p1len
sweep $d e2fsck "ext4 block bitmap 0" "$(blk "$bb")" $(($(blk "$bb") + 256)) 8 $p1 $p1len
sweep $d e2fsck "ext4 inode bitmap 0" "$(blk "$ib")" $(($(blk "$ib") + 64)) 4 $p1 $p1len
sweep $d e2fsck "ext4 root inode" $(($(blk "$it") + 256)) $(($(blk "$it") + 512)) 2 $p1 $p1len
sweep $d e2fsck "ext4 root directory block" "$(blk "$rootdir")" $(($(blk "$rootdir") + 256)) 4 $p1 $p1len
sweep $d e2fsck "ext4 journal superblock" "$(blk "$jsb")" $(($(blk "$jsb") + 128)) 2 $p1 $p1len

# The same disk as qcow2: header, L1, refcount table and block, first L2.
q=disk/gpt-two-ext4.qcow2
zstd -dqf "$fx/$q.zst" -o "$work/probe.qcow2"
read -r l1 rt < <(python3 - "$work/probe.qcow2" <<'PY'
import struct, sys
h = open(sys.argv[1], 'rb').read(112)
print(struct.unpack('>Q', h[40:48])[0], struct.unpack('>Q', h[48:56])[0])
PY
)
read -r rb l2 < <(python3 - "$work/probe.qcow2" "$rt" "$l1" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb'); rt, l1 = int(sys.argv[2]), int(sys.argv[3])
f.seek(rt); rb = struct.unpack('>Q', f.read(8))[0] & 0xfffffffffffffe00
f.seek(l1); l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
print(rb, l2)
PY
)
sweep $q qemu-img "qcow2 header" 0 112 1
sweep $q qemu-img "qcow2 L1 table" "$l1" $((l1 + 16)) 1
sweep $q qemu-img "qcow2 refcount table" "$rt" $((rt + 16)) 1
sweep $q qemu-img "qcow2 refcount block" "$rb" $((rb + 64)) 2
sweep $q qemu-img "qcow2 first L2 table" "$l2" $((l2 + 256)) 4
awk -F'\t' 'NR > 1 { n++; s += $6 } END { printf "%d flips, %d noticed by the peer\n", n, s }' "$out"
