#!/usr/bin/env bash
# Fixtures for issue 17's zeros that are not losses and losses that are
# not aligned (an independent attack's F1-F5, session 6).
# Needs: root (losetup, mount of ext4), e2fsprogs, python3, zstd.
#
# ext4/wal-zeros.img: a clean ext4 whose PostgreSQL-style WAL segments
# were written on the mounted filesystem: the current segment 1 MiB of
# records then zeros to its 16 MiB end, two more segments all zeros
# (wal_init_zero). mballoc puts them on 1 MiB boundaries, so the zeros
# start exactly at a 1 MiB boundary inside a file and run through whole
# files into free space: nothing was lost.
#
# lost/lost-zeros.img: a 64 MiB ext4 made with mke2fs -d, then four
# damages, each where the script finds it with debugfs on the pristine
# filesystem (which computed the truth, recorded in lost-zeros.tsv):
#   dirblock  the first directory block after the never-written journal
#             (one 4 KiB block; the journal's zero tail sits beside it);
#   span      1 MiB of zeros at an unaligned offset (12 KiB past a 1 MiB
#             boundary) over /srv/many's small files' data, no directory
#             block in it;
#   itable    one inode-table block of group 0 (16 inodes of 256 bytes);
#   leaf      one extent-tree leaf of /var/lib/app/big.db.
source "$(dirname "$0")/common.sh"

mnt="$work/mnt"
mkdir -p "$mnt"
loop=
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  if [ -n "$loop" ]; then losetup -d "$loop"; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- ext4/wal-zeros.img
mkdir -p "$work/wal/base"
seq 1 20000 > "$work/wal/base/16384"
find "$work/wal" -exec touch -d @1763000000 {} +
img="$work/wal-zeros.img"
truncate -s 200M "$img"
mkfs.ext4 -q -F -b 4096 -L wal -U 17171717-0000-4000-8000-0000000000f1 \
  -E hash_seed=17171717-0000-4000-8000-0000000000f2,root_owner=0:0 -d "$work/wal" "$img"
loop=$(losetup -f --show "$img")
mount "$loop" "$mnt"
mkdir "$mnt/pg_wal"
# XLOG pages as PostgreSQL writes them: a page header (magic 0xD116,
# info, timeline, page address) and binary records, so the first block is
# no text.
python3 - "$mnt/pg_wal/000000010000000000000001" <<'PY'
import struct, sys
pages = []
for p in range(128):
    hdr = struct.pack("<HHIQI", 0xD116, 2 if p else 7, 1, p * 8192, 0)
    body = b"".join(struct.pack("<IIQBBH", 54, 700 + p * 64 + r, p * 8192 + 24 + r * 64, 10, 0x80, 7)
                    + bytes(range(r, r + 40)) for r in range(127))
    pages.append((hdr + body).ljust(8192, b"\0"))
with open(sys.argv[1], "wb") as f:
    f.write(b"".join(pages))
    f.write(bytes(15 << 20))
PY
sync
for i in 2 3; do
  dd if=/dev/zero of="$mnt/pg_wal/00000001000000000000000$i" bs=1M count=16 status=none
  sync
done
umount "$mnt"
losetup -d "$loop"
loop=
e2fsck -fn "$img" >/dev/null
store ext4 "$img"

# --- layout/lost-zeros.img
python3 - "$work/tree" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(176)
words = "alpha beta gamma delta session cache config index page user app log doc share lib".split()
def text(n):
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choice(words) for _ in range(8)) + f" {size}\n"
        out.append(line)
        size += len(line)
    return "".join(out)
for d in range(12):
    dd = os.path.join(root, ["usr/share/doc", "var/lib/app", "etc"][d % 3], f"pkg{d:02d}")
    os.makedirs(dd, exist_ok=True)
    for f in range(rng.randint(8, 20)):
        with open(os.path.join(dd, f"file{f:02d}.txt"), "w") as fh:
            fh.write(text(rng.choice([300, 900, 3000, 7000, 20000])))
# One directory of small files: 1 MiB there is only file data.
many = os.path.join(root, "srv/many")
os.makedirs(many)
for f in range(400):
    with open(os.path.join(many, f"f{f:03d}.conf"), "w") as fh:
        fh.write(text(rng.choice([2000, 5000, 9000, 14000])))
# A file of 2000 one-block extents: its tree has leaves below the inode.
with open(os.path.join(root, "var/lib/app/big.db"), "wb") as fh:
    for i in range(2000):
        fh.seek(i * 8192)
        fh.write(b"page %06d " % i * 100)
PY
find "$work/tree" -exec touch -d @1763000000 {} +
img="$work/lost-zeros.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 4096 -I 256 -L lz -U 17171717-0000-4000-8000-0000000000f3 \
  -E hash_seed=17171717-0000-4000-8000-0000000000f4,root_owner=0:0 -d "$work/tree" "$img"
cp "$img" "$work/pristine.img"
mkdir -p "$testdata/fixtures/lost"
tsv="$testdata/fixtures/lost/lost-zeros.tsv"
python3 - "$work/pristine.img" "$tsv" <<'PY'
import re, subprocess, sys
img, tsv = sys.argv[1], sys.argv[2]
def dbg(cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, text=True).stdout
def blocks_of(path):
    # (logical, physical, len) leaf extents and the tree's own blocks
    data, meta = [], []
    for l in dbg(f"ex {path}").splitlines()[1:]:
        m = re.match(r"\s*(\d+)/\s*(\d+)\s+\d+/\s*\d+\s+(\d+)\s+-\s+(\d+)\s+(\d+)(?:\s+-\s+(\d+))?\s+(\d+)", l)
        if not m:
            continue
        lvl, depth = int(m[1]), int(m[2])
        if lvl < depth:
            meta.append((lvl, int(m[5])))
        else:
            data.append((int(m[3]), int(m[5]), int(m[7])))
    return data, meta
def icheck(blocks):
    inodes = set()
    for i in range(0, len(blocks), 256):
        out = dbg("icheck " + " ".join(map(str, blocks[i:i + 256])))
        for l in out.splitlines()[1:]:
            f = l.split("\t")
            if len(f) > 1 and f[1].isdigit():
                inodes.add(int(f[1]))
    return sorted(inodes)
def ncheck(inodes):
    names = {}
    if inodes:
        for l in dbg("ncheck " + " ".join(map(str, inodes))).splitlines()[1:]:
            f = l.split("\t", 1)
            if len(f) == 2 and f[0].isdigit():
                names.setdefault(int(f[0]), f[1].replace("//", "/"))
    return names
bs = 4096
stats = dbg("stats")
jblocks = [b for _, b, n in blocks_of("<8>")[0] for b in range(b, b + n)]
jend = max(jblocks) + 1
# dirblock: the first directory block at or past the journal's end.
def walk_dirs(path, out):
    for l in dbg(f"ls -p {path}").splitlines():
        f = l.strip().split("/")
        if len(f) < 6 or f[5] in (".", ".."):
            continue
        if f[2].startswith("040"):
            dir_inodes.add(int(f[1]))
            p = (path.rstrip("/") + "/" + f[5])
            out.append(p)
            walk_dirs(p, out)
all_dirs, dir_inodes = [], {2}
walk_dirs("/", all_dirs)
dirblocks = {}
for d in all_dirs + ["/"]:
    for _, b, n in blocks_of(d)[0]:
        for x in range(b, b + n):
            dirblocks[x] = d
dirblock = min(b for b in dirblocks if b >= jend)
# span: 1 MiB + 12 KiB into the MiB that holds /srv/many's files' data,
# checked to hold no directory block.
many_blocks = []
for l in dbg("ls -p /srv/many").splitlines():
    f = l.strip().split("/")
    if len(f) >= 6 and f[5].endswith(".conf"):
        many_blocks += [b for _, b, n in blocks_of("/srv/many/" + f[5])[0] for b in range(b, b + n)]
lo = min(many_blocks) * bs
span_start = ((lo >> 20) + 1 << 20) + 12288
span_end = span_start + (1 << 20)
sb0, sb1 = span_start // bs, span_end // bs
assert not any(sb0 <= b < sb1 for b in dirblocks), "directory block in the span"
# itable: the first block of group 0's inode table whose 16 inodes are
# all named regular files whose data the span does not hold, outside the
# directory the dirblock damage cuts off.
itable = int(re.search(r"Inode table at (\d+)", subprocess.run(["dumpe2fs", img], capture_output=True, text=True).stdout)[1])
span_inodes = set(icheck(list(range(sb0, sb1))))
for k in range(1, 64):
    ino = list(range(16 * k + 1, 16 * k + 17))
    names = ncheck(ino)
    if (len(names) == 16 and not (set(ino) & (span_inodes | dir_inodes))
            and not any(n.startswith(dirblocks[dirblock] + "/") for n in names.values())):
        break
itb = itable + k
# leaf: the first leaf of big.db's tree.
_, meta = blocks_of("/var/lib/app/big.db")
depth_meta = max(l for l, _ in meta)
leaf = min(b for l, b in meta if l == depth_meta)
with open(tsv, "w") as out:
    out.write(f"block_size\t{bs}\n")
    for name, a, b in [("dirblock", dirblock * bs, (dirblock + 1) * bs),
                       ("span", span_start, span_end),
                       ("itable", itb * bs, (itb + 1) * bs),
                       ("leaf", leaf * bs, (leaf + 1) * bs)]:
        blocks = list(range(a // bs, b // bs))
        inodes = icheck(blocks) if name != "itable" else list(range(16 * k + 1, 16 * k + 17))
        names = ncheck(inodes)
        out.write(f"zeroed\t{name}\t{a}\t{b}\n")
        for i in inodes:
            out.write(f"owner\t{name}\t{i}\t{names.get(i, '')}\n")
PY
# The damage, as dd does it.
while IFS=$'\t' read -r kind name a b; do
  [ "$kind" = zeroed ] || continue
  dd if=/dev/zero of="$img" bs=4096 seek=$((a / 4096)) count=$(((b - a) / 4096)) conv=notrunc status=none
done < "$tsv"
store lost "$img"

# --- ext4/ext4-1k-default.img: 1 KiB blocks with mke2fs' default features
# (64bit, flex_bg, resize_inode: 256 reserved GDT blocks after the one
# descriptor block), 64 MiB, 8 groups: backups in groups 1, 3, 5 and 7.
img="$work/ext4-1k-default.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 1024 -L k1 -U 17171717-0000-4000-8000-0000000000f5 \
  -E hash_seed=17171717-0000-4000-8000-0000000000f6,root_owner=0:0 -d "$work/wal" "$img"
store ext4 "$img"

# --- lost/journal-live.img: an ext4 copied while mounted after sync (a
# crash image: needs_recovery, the log starts at s_start with a committed
# transaction), then the block at s_start zeroed: the replay's first
# descriptor is gone. journal-live.tsv: the zeroed disk bytes.
img="$work/journal-live.img"
truncate -s 32M "$img"
mkfs.ext4 -q -F -b 4096 -L jl -U 17171717-0000-4000-8000-0000000000f7 \
  -E hash_seed=17171717-0000-4000-8000-0000000000f8,root_owner=0:0 "$img"
loop=$(losetup -f --show "$img")
mount "$loop" "$mnt"
mkdir "$mnt/d"
for i in $(seq 1 50); do echo "$i" > "$mnt/d/f$i"; done
sync
cp --sparse=always "$img" "$work/crash.img"
umount "$mnt"
losetup -d "$loop"
loop=
start=$(dumpe2fs -h "$work/crash.img" 2>/dev/null | awk '/^Journal start:/ {print $3}')
[ "$start" -gt 0 ]
phys=$(debugfs -R "bmap <8> $start" "$work/crash.img" 2>/dev/null)
dd if=/dev/zero of="$work/crash.img" bs=4096 seek="$phys" count=1 conv=notrunc status=none
printf 'zeroed\tlog\t%s\t%s\n' $((phys * 4096)) $(((phys + 1) * 4096)) > "$testdata/fixtures/lost/journal-live.tsv"
mv "$work/crash.img" "$img"
store lost "$img"
