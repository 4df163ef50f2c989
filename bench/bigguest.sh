#!/usr/bin/env bash
# A realistic big guest for bench/run.sh (issue 20), generated on demand:
# a 100 GiB qcow2 with GPT, a 512 MiB ESP (FAT32) and an ext4 root holding
# FILES files (default 1,000,000) in a tree of 100-file directories three
# levels deep, made by mkfs.ext4 -d from a generated tree into a sparse raw
# file, then qemu-img convert. The root filesystem is kept as a raw file
# beside it, for e2fsck -fn on the same ext4.
#
#   bench/bigguest.sh OUT_DIR [FILES] [SIZE_GIB]
#
# Writes OUT_DIR/guest-FILES.qcow2 and OUT_DIR/guest-FILES.root.ext4 (both
# sparse); the tree and the raw disk are deleted once used. Sizes: a quarter
# of the files hold 1-3,000 bytes (random per file, fixed seed), the rest are
# empty, so the tree needs about 1 GiB per million files while it exists.
set -euo pipefail
out=${1:?OUT_DIR}
files=${2:-1000000}
gib=${3:-100}
mkdir -p "$out"
q=$out/guest-$files.qcow2
root=$out/guest-$files.root.ext4
# one generator per size at a time (a second waits, then finds it made)
exec 9>"$out/.lock-$files"
flock 9
[ -f "$q" ] && [ -f "$root" ] && exit 0
tree=$out/tree-$files
raw=$out/guest-$files.raw
rm -rf "$tree" "$raw"
python3 - "$tree" "$files" <<'PY'
import os, random, sys
top, n = sys.argv[1], int(sys.argv[2])
r = random.Random(20)
per = 100
made = 0
d = 0
while made < n:
    p = os.path.join(top, f"usr{d // 10000:02}", f"lib{d // 100 % 100:02}", f"pkg{d % 100:02}")
    os.makedirs(p)
    for f in range(min(per, n - made)):
        with open(os.path.join(p, f"f{f:02}"), "wb") as fh:
            if r.random() < 0.25:
                fh.write(b"x" * r.randint(1, 3000))
    made += per
    d += 1
PY
# GPT: ESP at 1 MiB (512 MiB), root from 513 MiB to the end.
sectors=$((gib * 1024 * 1024 * 2))
esp_start=2048
root_start=$((2048 + 1048576))
root_end=$((sectors - 34 - 1))
truncate -s "${gib}G" "$raw"
# the root filesystem is made on its own file (mke2fs -d), then copied in
root_sectors=$((root_end - root_start + 1))
truncate -s $((root_sectors * 512)) "$root"
mkfs.ext4 -q -F -d "$tree" "$root"
rm -rf "$tree"
sgdisk -n 1:$esp_start:$((root_start - 1)) -t 1:ef00 -n 2:$root_start:$root_end -t 2:8300 "$raw" >/dev/null
mkfs.vfat -F 32 --offset $esp_start "$raw" $((1048576 / 2)) >/dev/null
dd if="$root" of="$raw" bs=4M seek=$((root_start * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
qemu-img convert -q -O qcow2 "$raw" "$q"
rm -f "$raw"
