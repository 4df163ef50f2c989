#!/usr/bin/env bash
# demo/brainvm.qcow2 re-enacts a real outage, every step done by the tool
# that did it in real life:
#  1. a 64 MiB VM disk: GPT, a boot and a root ext4 partition (root to the
#     end of the disk);
#  2. an internal snapshot "pre-resize" while all was well;
#  3. the hypervisor crashed mid-transaction: root's journal holds a
#     committed transaction never replayed (debugfs jo/jw/jc), and the kernel
#     had recorded I/O errors on it before (s_error_count, first/last error);
#  4. someone ran `qemu-img resize +64M`: the GPT backup header and the last
#     partition were never moved.
source "$(dirname "$0")/common.sh"
make_tree "$work/tree"
img=$work/disk.raw
# 1. filesystems made apart and copied in (mke2fs wipes the head of a file).
mkfs.ext4 -q -F -b 1024 -U b0000000-0000-4000-8000-000000000001 -E hash_seed=b0000000-0000-4000-8000-0000000000ff \
  -L boot "$work/boot" 16M
mkfs.ext4 -q -F -U b0000000-0000-4000-8000-000000000002 -E hash_seed=b0000000-0000-4000-8000-0000000000ff \
  -L root -M / -d "$work/tree" "$work/root" $(( (131039-34816)*512/1024 ))k
truncate -s 64M "$img"
dd if="$work/boot" of="$img" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$work/root" of="$img" bs=512 seek=34816 conv=notrunc,sparse status=none
sgdisk -U b0000000-0000-4000-8000-0000000000aa \
  -n 1:2048:34815 -t 1:ef00 -c 1:boot -u 1:b0000000-0000-4000-8000-0000000000b1 \
  -n 2:34816:131038 -t 2:8300 -c 2:root -u 2:b0000000-0000-4000-8000-0000000000b2 "$img" >/dev/null

qcow=$work/brainvm.qcow2
qemu-img convert -q -f raw -O qcow2 -o cluster_size=65536 "$img" "$qcow"
# 2. the snapshot, taken while the disk was sound — on the evening before
#    the crash (faketime gives qemu-img the story's clock).
TZ=UTC faketime '2025-11-19 22:00:00' qemu-img snapshot -c pre-resize "$qcow"

# 3. the crash: a committed, unreplayed journal transaction and kernel error
#    records on root. Done with debugfs on a copy of the partition, then the
#    changed blocks written into the qcow2 with qemu-io (as the guest would).
cp "$work/root" "$work/root.crash"
head -c 4096 /dev/zero | tr '\0' '\252' > "$work/blk"
cat > "$work/cmds" <<CMDS
ssv mtime 20251120080000
ssv last_mounted /
ssv mnt_count 17
ssv state 2
ssv error_count 3
ssv first_error_time 20251120091502
ssv first_error_func ext4_find_entry
ssv first_error_line 1602
ssv first_error_ino 2
ssv first_error_block 0
ssv last_error_time 20251120091733
ssv last_error_func ext4_journal_check_start
ssv last_error_line 84
jo
jw -b 9000 $work/blk
jc
CMDS
debugfs -w -f "$work/cmds" "$work/root.crash" >/dev/null 2>&1
{ cmp -l "$work/root" "$work/root.crash" || true; } | awk '{print int(($1-1)/65536)}' | uniq | while read -r c; do
  dd if="$work/root.crash" of="$work/chunk" bs=65536 skip="$c" count=1 status=none
  qemu-io -f qcow2 -c "write -q -s $work/chunk $((34816*512 + c*65536)) 65536" "$qcow"
done

# 4. the resize, with nothing inside grown.
qemu-img resize -q "$qcow" +64M
mkdir -p "$testdata/demo"
cp "$qcow" "$testdata/demo/brainvm.qcow2"
