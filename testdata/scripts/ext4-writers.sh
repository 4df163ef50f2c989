#!/usr/bin/env bash
# ext2 images from writers other than mke2fs (issue 12's attack: images
# nobody here made with e2fsprogs), stored zstd-compressed in
# testdata/fixtures/ext4/:
#
#   genext2fs.img  genext2fs 1.5 from a small tree (files, a hard link, short
#                  and long symlinks, a FIFO, a sparse file, 300 entries in one
#                  directory), 1 KiB blocks. genext2fs writes no UUID and sizes
#                  the inode table to the tree (every inode in use): e2fsck -fn
#                  calls it clean, so imgcheck must say nothing above info.
#
# Needs genext2fs (apt-get install genext2fs).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
cd "$work"
export SOURCE_DATE_EPOCH=1700000000
tree=$work/gtree
mkdir -p "$tree/a/b" "$tree/wide"
echo hello > "$tree/a/f"
head -c 40000 /dev/zero | tr '\0' z > "$tree/a/big"
ln -s f "$tree/a/sl"
ln -s "$(printf 'y%.0s' $(seq 1 200))" "$tree/a/longsl"
ln "$tree/a/f" "$tree/a/b/hard"
mkfifo "$tree/fifo"
dd if=/dev/zero of="$tree/sparse" bs=1024 count=1 seek=300 status=none
for i in $(seq 1 300); do : > "$tree/wide/file-number-$i"; done
find "$tree" -exec touch -h -d @1700000000 {} +
genext2fs -B 1024 -b 1024 -d "$tree" genext2fs.img
store ext4 genext2fs.img
