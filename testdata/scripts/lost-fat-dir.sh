#!/usr/bin/env bash
# Issue 17, attack F12: a FAT32 volume (mkfs.vfat, 512-byte clusters) whose
# subdirectory /sub held 12 text files (mcopy); /sub's only cluster is
# then zeroed with dd. The files' entries (names, sizes, first clusters)
# are gone with it; their chains stay allocated in the FAT as lost chains
# (fsck.fat -n: "Reclaimed 916 unused clusters"). fat-dir-pristine.img is
# the volume before the dd, for mdir/mshowfat to say what /sub held.
# Stored: lost/fat-dir.img, lost/fat-dir-pristine.img.
# Needs: dosfstools, mtools, python3, faketime, zstd.
source "$(dirname "$0")/common.sh"
export MTOOLS_SKIP_CHECK=1
img=$work/fat-dir.img
truncate -s 40M "$img"
frozen mkfs.vfat -F 32 -i 5a5a0178 "$img" >/dev/null
frozen mmd -i "$img" ::/docs ::/sub
for i in $(seq 1 12); do
  python3 -c "import sys; sys.stdout.write(''.join('line %d of file $i\n' % k for k in range(300 * $i)))" > "$work/f$i.txt"
  frozen mcopy -i "$img" "$work/f$i.txt" ::/sub/
done
frozen mcopy -i "$img" "$work/f1.txt" ::/docs/
cp "$img" "$work/fat-dir-pristine.img"
store lost "$work/fat-dir-pristine.img"
# /sub's first cluster: the data region's start plus (cluster - 2).
cl=$(mshowfat -i "$img" ::/sub | sed -n 's/.*<\([0-9]*\).*/\1/p')
off=$(python3 - "$img" "$cl" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(512)
bps, spc = struct.unpack_from("<H", b, 11)[0], b[13]
res, nf, fz = struct.unpack_from("<H", b, 14)[0], b[16], struct.unpack_from("<I", b, 36)[0]
print((res + nf * fz) * bps + (int(sys.argv[2]) - 2) * spc * bps)
PY
)
dd if=/dev/zero of="$img" bs=512 seek=$((off / 512)) count=1 conv=notrunc status=none
store lost "$img"
