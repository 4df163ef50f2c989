#!/usr/bin/env bash
# Fixtures for issue 17's open misses (attack lost8 F2, F3, F4, F6): zero
# runs whose shape the 4 KiB zero map and the extent-level rules did not
# see. Needs: e2fsprogs (mkfs.ext4 -d, debugfs), python3, zstd.
#
# lost/unaligned-1k.img (F3, F4): a 1 KiB-block ext4 of text files, then
# 777,777 bytes of zeros written with dd at a byte offset that no block
# boundary holds, from byte 700 of /docs/a.txt (3,000 bytes: the zero
# map's first whole 4 KiB block is past its end) through /docs/b.txt into
# /docs/c.txt (found with debugfs bmap on the pristine filesystem; the
# three files' blocks are checked to be contiguous). unaligned-1k.tsv:
# the zeroed bytes.
#
# lost/bigalloc.img (F6): mkfs.ext4 -O bigalloc -C 65536 of 200 small
# text files (one 64 KiB cluster each), then one 1 MiB-aligned MiB over
# 16 of them zeroed with dd; bigalloc.tsv: the zeroed bytes.
#
# lost/head-pristine.img (F2): a 256 MiB ext4 (two groups, flex_bg: both
# inode tables in group 0) holding 5,000 files. The test zeroes its
# first 16 MiB with dd on a copy; debugfs on this pristine image is the
# truth (the backup superblock in group 1 survives the zeros).
source "$(dirname "$0")/common.sh"

mkdir -p "$testdata/fixtures/lost"

# --- lost/unaligned-1k.img
mkdir -p "$work/t1/docs"
python3 - "$work/t1/docs" <<'PY'
import os, random, sys
rng = random.Random(1717)
words = "alpha beta gamma delta session cache config index page user app log doc".split()
def text(n):
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choice(words) for _ in range(9)) + f" {size}\n"
        out.append(line)
        size += len(line)
    return "".join(out)[:n]
for name, n in [("a.txt", 3_000), ("b.txt", 500_000), ("c.txt", 500_000), ("d.txt", 20_000)]:
    with open(os.path.join(sys.argv[1], name), "w") as f:
        f.write(text(n))
PY
find "$work/t1" -exec touch -d @1763000000 {} +
img="$work/unaligned-1k.img"
truncate -s 16M "$img"
mkfs.ext4 -q -F -b 1024 -L u1k -U 17171717-0000-4000-8000-000000000101 \
  -E hash_seed=17171717-0000-4000-8000-000000000102,root_owner=0:0 -d "$work/t1" "$img"
first() { debugfs -R "bmap $1 0" "$img" 2>/dev/null; }
a=$(first /docs/a.txt); b=$(first /docs/b.txt); c=$(first /docs/c.txt)
# Contiguous: a's 3 blocks, then b's 489, then c.
[ "$b" -eq $((a + 3)) ] && [ "$c" -eq $((b + 489)) ]
start=$((a * 1024 + 700))
end=$((start + 777777))
[ $((start % 1024)) -ne 0 ] && [ $((end % 1024)) -ne 0 ]
[ "$end" -lt $(((c + 488) * 1024)) ]
dd if=/dev/zero of="$img" bs=1 seek="$start" count=777777 conv=notrunc status=none
printf 'zeroed\tspan\t%s\t%s\n' "$start" "$end" > "$testdata/fixtures/lost/unaligned-1k.tsv"
store lost "$img"

# --- lost/bigalloc.img
mkdir -p "$work/t2/etc/conf.d"
python3 - "$work/t2/etc/conf.d" <<'PY'
import os, random, sys
rng = random.Random(6)
keys = "listen port user group timeout retries cache path level mode".split()
for i in range(200):
    with open(os.path.join(sys.argv[1], f"unit{i:03d}.conf"), "w") as f:
        n, lines = rng.choice([900, 3000, 6000, 11000]), []
        while sum(map(len, lines)) < n:
            lines.append(f"{rng.choice(keys)} = {rng.randint(0, 99999)} # {i}\n")
        f.write("".join(lines))
PY
find "$work/t2" -exec touch -d @1763000000 {} +
img="$work/bigalloc.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 4096 -O bigalloc -C 65536 -L big -U 17171717-0000-4000-8000-000000000103 \
  -E hash_seed=17171717-0000-4000-8000-000000000104,root_owner=0:0 -d "$work/t2" "$img"
# The first whole MiB after unit010's cluster whose 16 clusters each start
# with one of the small files (and none is a directory's).
mib=$(python3 - "$img" <<'PY'
import subprocess, sys
img = sys.argv[1]
def dbg(c):
    return subprocess.run(["debugfs", "-R", c, img], capture_output=True, text=True).stdout
first = {}
for i in range(200):
    b = dbg(f"bmap /etc/conf.d/unit{i:03d}.conf 0").strip()
    first[int(b) // 16] = i
start = int(dbg("bmap /etc/conf.d/unit010.conf 0").strip()) // 256 + 1
for m in range(start, start + 40):
    if all(c in first for c in range(m * 16, m * 16 + 16)) and (m * 16 + 16) in first:
        print(m)
        break
PY
)
[ -n "$mib" ]
dd if=/dev/zero of="$img" bs=1M seek="$mib" count=1 conv=notrunc status=none
printf 'zeroed\tobject\t%s\t%s\n' $((mib << 20)) $(((mib + 1) << 20)) > "$testdata/fixtures/lost/bigalloc.tsv"
store lost "$img"

# --- lost/head-pristine.img
python3 - "$work/t3" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(2)
for d in range(50):
    dd = os.path.join(root, "srv", f"d{d:02d}")
    os.makedirs(dd)
    for f in range(100):
        with open(os.path.join(dd, f"f{f:03d}.log"), "w") as fh:
            fh.write(f"entry {d} {f} " * rng.randint(1, 300) + "\n")
PY
find "$work/t3" -exec touch -d @1763000000 {} +
img="$work/head-pristine.img"
truncate -s 256M "$img"
mkfs.ext4 -q -F -b 4096 -L head -U 17171717-0000-4000-8000-000000000105 \
  -E hash_seed=17171717-0000-4000-8000-000000000106,root_owner=0:0 -d "$work/t3" "$img"
e2fsck -fn "$img" >/dev/null
store lost "$img"

# --- lost/fat-pristine.img: FAT32 (mkfs.vfat -F 32, 512-byte clusters)
# holding 50 text files of 30-80 KiB copied in with mcopy (clusters
# allocated in order). The test zeroes the 1 MiB-aligned MiB at 2 MiB of
# a copy with dd: it cuts the files that cross its edges. The truth is
# mcopy's: every file copied out of both, those whose bytes differ.
export TZ=UTC MTOOLS_SKIP_CHECK=1
mkdir -p "$work/t4/logs"
python3 - "$work/t4/logs" <<'PY'
import os, random, sys
rng = random.Random(32)
words = "kernel eth0 link up down dhcp lease renew cron job started finished user login".split()
for i in range(50):
    n, out = rng.randint(30_000, 80_000), []
    while sum(map(len, out)) < n:
        out.append(f"Nov 13 10:{i % 60:02d}:00 host " + " ".join(rng.choice(words) for _ in range(7)) + "\n")
    with open(os.path.join(sys.argv[1], f"app{i:03d}.log"), "w") as f:
        f.write("".join(out))
PY
img="$work/fat-pristine.img"
truncate -s 40M "$img"
faketime -f "@2025-11-13 10:00:00" mkfs.vfat -F 32 -s 1 -i 17170032 -n LOGS "$img" >/dev/null
faketime -f "@2025-11-13 10:00:00" mcopy -s -m -i "$img" "$work/t4/logs" ::/
store lost "$img"

# --- lost/xfs-pristine.img: a 64 MiB XFS (mkfs.xfs -p, a prototype file:
# no mount needed) holding 60 text files of 30-80 KiB in /logs. The test
# zeroes the 1 MiB-aligned MiB that xfs_db bmap shows cut by files at both
# edges on a copy with dd; the truth is xfs_db's bmap of every file.
mkdir -p "$work/t5"
python3 - "$work/t5" <<'PY'
import os, random, sys
rng = random.Random(5)
words = "xfs inode extent btree log tail head agf agi free space block".split()
for i in range(60):
    n, out = rng.randint(30_000, 80_000), []
    while sum(map(len, out)) < n:
        out.append(f"line {i} " + " ".join(rng.choice(words) for _ in range(8)) + "\n")
    with open(os.path.join(sys.argv[1], f"app{i:03d}.log"), "w") as f:
        f.write("".join(out))
PY
{
  echo "boot"; echo "0 0"; echo "d--755 0 0"
  echo "logs d--755 0 0"
  for i in $(seq -f '%03g' 0 59); do echo "app$i.log ---644 0 0 $work/t5/app$i.log"; done
  echo '$'
  echo '$'
} > "$work/xfs.proto"
img="$work/xfs-pristine.img"
truncate -s 64M "$img"
# mkfs.xfs refuses filesystems under 300 MiB outside fstests (xfs/lib.sh).
TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=1 mkfs.xfs -q -f -d agcount=2 -m uuid=17171717-0000-4000-8000-000000000107 -p "$work/xfs.proto" "$img"
xfs_repair -n "$img" >/dev/null 2>&1
store lost "$img"

# --- lost/fat-textheaded.img (clean; attack lost17 F11): mkfs.vfat -F 16
# with a 3 MiB zero-filled SWAP.BIN and a PGM image (ASCII header, light
# rows, then black rows of zero bytes) copied in with mcopy. Nothing lost.
python3 - "$work" <<'PY'
import os, sys
d = sys.argv[1]
open(os.path.join(d, "SWAP.BIN"), "wb").write(bytes(3 << 20))
hdr = b"P5\n# CREATOR: scanner\n1024 1024\n255\n"
open(os.path.join(d, "SCAN.PGM"), "wb").write(hdr + bytes([200]) * (8 * 1024) + bytes(1016 * 1024))
PY
img="$work/fat-textheaded.img"
truncate -s 16M "$img"
faketime -f "@2025-11-13 10:00:00" mkfs.vfat -F 16 -i 17170016 -n TH "$img" >/dev/null
faketime -f "@2025-11-13 10:00:00" mcopy -m -i "$img" "$work/SWAP.BIN" "$work/SCAN.PGM" ::/
fsck.fat -n "$img" >/dev/null
store lost "$img"
