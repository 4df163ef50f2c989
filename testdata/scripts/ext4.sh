#!/usr/bin/env bash
# Builds the ext2/3/4 fixtures for the ext4 crate with mkfs.ext{2,3,4} -d
# and debugfs, into a temp dir, and stores zstd copies in
# testdata/fixtures/ext4/. UUIDs, hash seeds and clocks are fixed.
#
#   ext4-4k.img      16 MiB, 4 KiB blocks, 4 groups (-g 1024): the mke2fs.conf ext4 defaults
#                    (metadata_csum, 64bit, flex_bg, extents, huge_file, dir_nlink)
#   ext4-1k.img      8 MiB, 1 KiB blocks, 4 groups (-g 2048), ^64bit, metadata_csum
#   ext4-uninit.img  8 MiB, 1 KiB blocks, 4 groups, uninit_bg (gdt_csum) instead of metadata_csum, ^flex_bg
#   ext4-sparse2.img 16 MiB, 4 KiB blocks, 8 groups, sparse_super2 (backups in groups 1 and 7)
#   ext2.img         4 MiB, 1 KiB blocks, 2 groups (-g 2048), no journal
#   ext3.img         8 MiB, 1 KiB blocks, 4 groups, journal, no extents
#   ext4-features.img 8 MiB, 1 KiB blocks: inline_data, orphan_file, metadata_csum_seed, quota, a
#                    directory of 400 entries indexed as an htree by e2fsck -fyD (mke2fs stamps the
#                    quota inodes with the real clock, so this one differs between runs in 8 bytes)
#   ext4-errors.img  ext4-4k.img after the kernel "recorded" errors (debugfs ssv error fields),
#                    with needs_recovery set and the journal superblock's s_start made non-zero
#   ext4-damaged.img ext4-1k.img damaged by debugfs: clri of /etc/hostname (entry points at an
#                    unused inode), freeb of a block of /var/log/syslog, links_count of
#                    /home/user/docs/big.txt set to 5
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
cd "$work"

tree="$work/tree"
make_tree "$tree"

U=5e1f1c2a-7c1b-4f5e-9a0d-3c6b2a1e0f99
H=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
mk() { # mk OUT SIZE mkfs-args...
  local out=$1 size=$2
  shift 2
  rm -f "$out"
  truncate -s "$size" "$out"
  "$@" -q -F -U "$U" -E "hash_seed=$H,lazy_itable_init=0" -L root -d "$tree" "$out"
}

mk ext4-4k.img 16M mkfs.ext4 -b 4096 -g 1024 -N 512
mk ext4-1k.img 8M mkfs.ext4 -b 1024 -g 2048 -N 512 -O ^64bit
mk ext4-uninit.img 8M mkfs.ext4 -b 1024 -g 2048 -N 512 -O ^metadata_csum,^64bit,^flex_bg,uninit_bg
mk ext4-sparse2.img 16M mkfs.ext4 -b 4096 -g 512 -N 512 -O sparse_super2,^resize_inode
mk ext2.img 4M mkfs.ext2 -b 1024 -g 2048 -N 256
mk ext3.img 8M mkfs.ext3 -b 1024 -g 2048 -N 512

tree2="$work/tree2"
make_tree "$tree2"
mkdir -p "$tree2/many"
for i in $(seq -w 1 400); do : > "$tree2/many/a-file-with-a-longish-name-$i"; done
printf 'tiny\n' > "$tree2/etc/inline"
find "$tree2" -exec touch -h -d @1763000000 {} +
rm -f ext4-features.img
truncate -s 8M ext4-features.img
mkfs.ext4 -q -F -U "$U" -E "hash_seed=$H,lazy_itable_init=0" -L feat -b 1024 -g 2048 -N 1024 \
  -O inline_data,orphan_file,metadata_csum_seed,quota,^64bit -d "$tree2" ext4-features.img
e2fsck -fyD ext4-features.img >/dev/null 2>&1 || test $? -le 1

cp ext4-4k.img ext4-errors.img
# debugfs has no field for the error codes (s_first/last_error_errcode at
# 0x27A/0x27B): write them first, debugfs below rewrites the checksum.
printf '\x04\x03' | dd of=ext4-errors.img bs=1 seek=$((1024 + 0x27A)) conv=notrunc status=none
debugfs -w ext4-errors.img -f - >/dev/null 2>&1 <<'CMDS'
ssv error_count 3
ssv first_error_time @1762990000
ssv first_error_func ext4_lookup
ssv first_error_line 1850
ssv first_error_ino 12
ssv first_error_block 0
ssv last_error_time @1762999000
ssv last_error_func ext4_validate_block_bitmap
ssv last_error_line 421
ssv last_error_ino 0
ssv last_error_block 33
ssv state 3
ssv mtime @1762980000
ssv last_mounted /srv
ssv mnt_count 7
feature needs_recovery
CMDS
# The journal superblock is the first block of inode 8: make s_start (big
# endian at 0x1C) non-zero and s_sequence 42, as a crash mid-transaction leaves it.
jblk=$(debugfs -R "bmap <8> 0" ext4-errors.img 2>/dev/null)
printf '\x00\x00\x00\x2a\x00\x00\x00\x01' | dd of=ext4-errors.img bs=1 seek=$((jblk * 4096 + 0x18)) conv=notrunc status=none

cp ext4-1k.img ext4-damaged.img
sblk=$(debugfs -R "bmap /var/log/syslog 1" ext4-damaged.img 2>/dev/null)
debugfs -w ext4-damaged.img -f - >/dev/null 2>&1 <<CMDS
clri /etc/hostname
freeb $sblk
set_inode_field /home/user/docs/big.txt links_count 5
CMDS

for f in ext4-4k ext4-1k ext4-uninit ext4-sparse2 ext2 ext3 ext4-features ext4-errors ext4-damaged; do
  store ext4 "$f.img"
done
