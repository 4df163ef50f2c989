#!/usr/bin/env bash
# Fixtures for issue 17's evidence rules (an independent attack, session
# 8): zeros that files hold by content, zeros that are losses only the
# shape of the run or the structure they hit can tell.
# Needs: root (losetup, mount of ext4), e2fsprogs, python3, zstd.
#
# ext4/zero-files.img (F1, clean): a 16 MiB file of zeros written on the
#   mounted filesystem, then a 1 MiB file whose first 4 KiB are zeros,
#   placed right after it (checked with debugfs): one zero run through
#   two files, stopping inside the second, with nothing lost.
# lost/object-files.img (F7): 64 KiB binary files packed by mke2fs -d,
#   then one 1 MiB-aligned MiB that holds only whole files zeroed with dd
#   (object-files.tsv: the zeroed bytes).
# lost/root-itable.img (F12): the inode-table block of group 0 that holds
#   the root directory's inode (2) zeroed (root-itable.tsv).
# lost/itable-1k.img (F11): 1 KiB blocks, one inode-table block (4 inodes
#   of 256 bytes, all named files) zeroed (itable-1k.tsv).
# lost/journal-mid.img, lost/journal-head.img (F3): a crash image (copied
#   mounted after sync: needs_recovery) whose live log holds one
#   transaction of 30 blocks; then one block in the middle of the log
#   zeroed, or its head (the descriptor and the blocks after it that lie
#   together on the disk) (journal-mid.tsv, journal-head.tsv: the zeroed
#   bytes and the live log's extent). A whole live log zeroed is not
#   told from a journal loaded by a mount and never written.
# lost/htree-node.img (F15): an htree directory whose first interior
#   index node is zeroed (htree-node.tsv).
# lost/dir-leaf.img, lost/dir-etb.img: a linear directory whose leaf block
#   or extent-tree block is zeroed (dir-*.tsv).
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
mkdir -p "$testdata/fixtures/lost"

mount_img() { loop=$(losetup -f --show "$1"); mount "$loop" "$mnt"; }
umount_img() { umount "$mnt"; losetup -d "$loop"; loop=; }
# first_block IMG PATH: the physical block of PATH's logical block 0.
first_block() { debugfs -R "bmap $2 0" "$1" 2>/dev/null; }
zero_blocks() { # IMG BS FIRST COUNT
  dd if=/dev/zero of="$1" bs="$2" seek="$3" count="$4" conv=notrunc status=none
}

# --- ext4/zero-files.img
img="$work/zero-files.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 4096 -L zf -U 17171717-0000-4000-8000-0000000008f1 \
  -E hash_seed=17171717-0000-4000-8000-0000000008f2,root_owner=0:0 "$img"
mount_img "$img"
mkdir "$mnt/data"
seq 1 3000 > "$mnt/data/notes.txt"
sync
dd if=/dev/zero of="$mnt/data/zeros.bin" bs=1M count=16 status=none
sync
python3 - "$mnt/data/head.bin" <<'PY'
import random, sys
r = random.Random(81)
with open(sys.argv[1], "wb") as f:
    f.write(bytes(4096))
    # Binary, and no 4 KiB block of it zeros (compresses well).
    f.write(bytes(r.randrange(1, 32) for _ in range(4096)) * 256)
PY
sync
umount_img
e2fsck -fn "$img" >/dev/null
z=$(first_block "$img" /data/zeros.bin)
h=$(first_block "$img" /data/head.bin)
[ "$h" -eq $((z + 4096)) ] || { echo "head.bin at $h, not after zeros.bin ($z)" >&2; exit 1; }
store ext4 "$img"

# --- lost/object-files.img
python3 - "$work/obj" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random(82)
os.makedirs(os.path.join(root, "blobs"))
for i in range(160):
    with open(os.path.join(root, "blobs", f"b{i:03d}.bin"), "wb") as f:
        f.write(bytes(r.randrange(1, 32) for _ in range(4096)) * 16)
PY
img="$work/object-files.img"
mkfs_obj() {
  find "$work/obj" -exec touch -d @1763000000 {} +
  rm -f "$img"; truncate -s 64M "$img"
  mkfs.ext4 -q -F -b 4096 -L of -U 17171717-0000-4000-8000-0000000008f3 \
    -E hash_seed=17171717-0000-4000-8000-0000000008f4,root_owner=0:0 -d "$work/obj" "$img"
}
mkfs_obj
# mke2fs -d packs the blobs one after the other from where the first
# lands: shorten the first so that the others start on 64 KiB, and so on
# each 1 MiB boundary.
s=$(first_block "$img" /blobs/b000.bin)
head -c $(( (16 - s % 16) * 4096 )) "$work/obj/blobs/b001.bin" > "$work/obj/blobs/b000.bin"
mkfs_obj
[ "$(first_block "$img" /blobs/b000.bin)" -eq "$s" ]
# The first 1 MiB-aligned MiB whose every block is a blob's, each blob
# wholly inside it, with blob data on both sides (the run of zeros is
# exactly the object).
python3 - "$img" "$testdata/fixtures/lost/object-files.tsv" <<'PY'
import re, subprocess, sys
img, tsv = sys.argv[1], sys.argv[2]
def dbg(cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, text=True).stdout
owner = {}
for i in range(160):
    p = f"/blobs/b{i:03d}.bin"
    for l in dbg(f"ex {p}").splitlines()[1:]:
        m = re.match(r"\s*\d+/\s*\d+\s+\d+/\s*\d+\s+(\d+)\s+-\s+(\d+)\s+(\d+)\s+-\s+(\d+)", l)
        if m:
            for b in range(int(m[3]), int(m[4]) + 1):
                owner[b] = p
per = 256
for mib in range(1, 64):
    blocks = range(mib * per, (mib + 1) * per)
    if all(b in owner for b in blocks) and (mib * per - 1) in owner and ((mib + 1) * per) in owner \
            and owner[mib * per - 1] != owner[mib * per] and owner[(mib + 1) * per] != owner[(mib + 1) * per - 1]:
        break
else:
    sys.exit("no aligned MiB of whole blobs")
with open(tsv, "w") as f:
    f.write(f"zeroed\tobject\t{mib << 20}\t{(mib + 1) << 20}\n")
PY
read -r _ _ a b < "$testdata/fixtures/lost/object-files.tsv"
zero_blocks "$img" 1M $((a >> 20)) 1
store lost "$img"

# --- lost/root-itable.img
make_tree "$work/tree"
img="$work/root-itable.img"
truncate -s 32M "$img"
mkfs.ext4 -q -F -b 4096 -I 256 -L ri -U 17171717-0000-4000-8000-0000000008f5 \
  -E hash_seed=17171717-0000-4000-8000-0000000008f6,root_owner=0:0 -d "$work/tree" "$img"
# imap: "Inode 2 is part of block group 0\n\tlocated at block N, offset 0x0100"
blk=$(debugfs -R "imap <2>" "$img" 2>/dev/null | awk '/located at block/ {sub(",", "", $4); print $4}')
zero_blocks "$img" 4096 "$blk" 1
printf 'zeroed\troot\t%s\t%s\n' $((blk * 4096)) $(((blk + 1) * 4096)) > "$testdata/fixtures/lost/root-itable.tsv"
store lost "$img"

# --- lost/itable-1k.img
img="$work/itable-1k.img"
mkdir -p "$work/tree1k/etc/app"
for i in $(seq 1 40); do seq 1 $((i * 30)) > "$work/tree1k/etc/app/conf$i.txt"; done
find "$work/tree1k" -exec touch -d @1763000000 {} +
truncate -s 16M "$img"
mkfs.ext4 -q -F -b 1024 -I 256 -L k1 -U 17171717-0000-4000-8000-0000000008f7 \
  -E hash_seed=17171717-0000-4000-8000-0000000008f8,root_owner=0:0 -d "$work/tree1k" "$img"
# Inodes 21..24 (four named conf files) share one 1 KiB table block.
blk=$(debugfs -R "imap <21>" "$img" 2>/dev/null | awk '/located at block/ {sub(",", "", $4); print $4}')
off=$(debugfs -R "imap <21>" "$img" 2>/dev/null | awk '/located at block/ {print $6}')
[ "$off" = 0x0000 ]
[ "$(debugfs -R "ncheck 21 22 23 24" "$img" 2>/dev/null | tail -n +2 | wc -l)" -eq 4 ]
zero_blocks "$img" 1024 "$blk" 1
printf 'zeroed\titable\t%s\t%s\n' $((blk * 1024)) $(((blk + 1) * 1024)) > "$testdata/fixtures/lost/itable-1k.tsv"
store lost "$img"

# --- lost/journal-mid.img and lost/journal-head.img
img="$work/journal.img"
truncate -s 32M "$img"
mkfs.ext4 -q -F -b 4096 -L jm -U 17171717-0000-4000-8000-0000000008f9 \
  -E hash_seed=17171717-0000-4000-8000-0000000008fa,root_owner=0:0 "$img"
mount_img "$img"
for d in 1 2 3 4 5 6; do
  mkdir "$mnt/d$d"
  for i in $(seq 1 40); do echo "$d $i" > "$mnt/d$d/f$i"; done
done
sync
cp --sparse=always "$img" "$work/crash.img"
umount_img
dumpe2fs -h "$work/crash.img" 2>/dev/null | grep -q needs_recovery
# The live log, as logdump walks it: s_start to the last block of the
# last transaction it finds; each logical block's disk bytes (the journal
# need not be contiguous on the disk).
python3 - "$work/crash.img" "$work" "$testdata/fixtures/lost" <<'PY'
import re, subprocess, sys
img, work, out = sys.argv[1:4]
def dbg(cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, text=True).stdout
found = [int(m[1]) for m in re.finditer(r"^Found expected sequence \d+, type \d+ \(\w+ block\) at block (\d+)", dbg("logdump"), re.M)]
first, last = min(found), max(found)
assert last > first + 4, found
phys = [int(dbg(f"bmap <8> {l}").strip()) for l in range(first, last + 1)]
def runs(blocks):
    out = []
    for b in sorted(blocks):
        if out and out[-1][1] == b:
            out[-1][1] = b + 1
        else:
            out.append([b, b + 1])
    return out
mid = phys[len(phys) // 2]
log = "".join(f"log\t{a * 4096}\t{b * 4096}\n" for a, b in runs(phys))
with open(f"{out}/journal-mid.tsv", "w") as f:
    f.write(f"zeroed\tmid\t{mid * 4096}\t{(mid + 1) * 4096}\n" + log)
# The log's head: from s_start, its first descriptor and the blocks after
# it, as far as they lie together on the disk (12 blocks at most).
head = 1
while head < min(12, len(phys)) and phys[head] == phys[0] + head:
    head += 1
assert head >= 4, phys
with open(f"{out}/journal-head.tsv", "w") as f:
    f.write(f"zeroed\thead\t{phys[0] * 4096}\t{(phys[0] + head) * 4096}\n" + log)
PY
cp --sparse=always "$work/crash.img" "$work/journal-mid.img"
mv "$work/crash.img" "$work/journal-head.img"
for n in mid head; do
  while IFS=$'\t' read -r kind _ a b; do
    [ "$kind" = zeroed ] || continue
    zero_blocks "$work/journal-$n.img" 4096 $((a / 4096)) $(((b - a) / 4096))
  done < "$testdata/fixtures/lost/journal-$n.tsv"
  store lost "$work/journal-$n.img"
done

# --- lost/htree-node.img (F15): a directory of 6,000 entries, indexed by
# e2fsck -fD into an htree with one level of interior nodes (1 KiB blocks:
# 3 nodes under the root), then the first interior node zeroed
# (htree-node.tsv: the zeroed bytes, the node's logical block). The names
# it led to survive in their leaf blocks, but no lookup reaches them.
mkdir -p "$work/ht/big"
python3 - "$work/ht/big" <<'PY'
import sys
for i in range(6000):
    open(f"{sys.argv[1]}/file-with-a-longish-name-{i:05d}.conf", "w").write(f"x={i}\n")
PY
find "$work/ht" -exec touch -d @1763000000 {} +
img="$work/htree-node.img"
truncate -s 48M "$img"
mkfs.ext4 -q -F -b 1024 -L ht -U 17171717-0000-4000-8000-0000000008fb \
  -E hash_seed=17171717-0000-4000-8000-0000000008fc,root_owner=0:0 -d "$work/ht" "$img"
e2fsck -fyD "$img" >/dev/null 2>&1 || [ $? -eq 1 ]
e2fsck -fn "$img" >/dev/null
# htree_dump: the root's entries name the interior nodes' logical blocks.
node=$(debugfs -R "htree_dump /big" "$img" 2>/dev/null | awk '/Indirect levels: 1/ {l = 1} l && /^Entry #0: .* block/ {print $NF; exit}')
[ -n "$node" ] && [ "$node" -gt 0 ]
p=$(debugfs -R "bmap /big $node" "$img" 2>/dev/null)
zero_blocks "$img" 1024 "$p" 1
printf 'zeroed\tnode\t%s\t%s\nnode\t%s\n' $((p * 1024)) $(((p + 1) * 1024)) "$node" > "$testdata/fixtures/lost/htree-node.tsv"
store lost "$img"

# --- lost/dir-leaf.img, lost/dir-etb.img (attack session 8, lost8 F1): a
# linear directory of 3,000 entries (mke2fs -d indexes none), its blocks
# spread so that its extents need an extent-tree block; then its logical
# block 2 zeroed, or its extent-tree block (dir-*.tsv: the zeroed bytes).
# The names there are gone: e2fsck -fn calls those inodes unattached.
mkdir -p "$work/lin/many"
python3 - "$work/lin/many" <<'PY'
import sys
for i in range(3000):
    open(f"{sys.argv[1]}/file_with_long_name_{i:04d}.txt", "w").write("x" * (i % 50 + 1))
PY
find "$work/lin" -exec touch -d @1763000000 {} +
img="$work/dir.img"
truncate -s 64M "$img"
mkfs.ext4 -q -F -b 4096 -L dl -U 17171717-0000-4000-8000-0000000008fd \
  -E hash_seed=17171717-0000-4000-8000-0000000008fe,root_owner=0:0 -d "$work/lin" "$img"
etb=$(debugfs -R "stat /many" "$img" 2>/dev/null | grep -o '(ETB0):[0-9]*' | head -1 | cut -d: -f2)
leaf=$(debugfs -R "bmap /many 2" "$img" 2>/dev/null)
[ -n "$etb" ] && [ -n "$leaf" ]
for n in leaf etb; do
  b=$leaf; [ $n = etb ] && b=$etb
  cp "$img" "$work/dir-$n.img"
  zero_blocks "$work/dir-$n.img" 4096 "$b" 1
  printf 'zeroed\t%s\t%s\t%s\n' $n $((b * 4096)) $(((b + 1) * 4096)) > "$testdata/fixtures/lost/dir-$n.tsv"
  store lost "$work/dir-$n.img"
done
