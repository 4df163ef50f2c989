#!/usr/bin/env bash
# Two GPT disk images concatenated (cat a.img b.img > concat-gpt.img,
# issue 13 F25): the last sector is the second disk's backup header
# (my_lba 16383 of its own 16384 sectors, its own disk GUID), not the
# first disk's, whose backup sits at its own end, LBA 16383. Each disk
# has a small ext4 in partition 1 (mkfs.ext4 -E offset).
# Needs gdisk, e2fsprogs.
source "$(dirname "$0")/common.sh"
seed=hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff
for x in a b; do
  truncate -s 8M "$work/$x.img"
  sgdisk -U 11111111-2222-3333-4444-00000000250$x -n 1:2048:0 -t 1:8300 \
    -u 1:aaaaaaaa-0000-0000-0000-00000000250$x "$work/$x.img" >/dev/null
  mkfs.ext4 -q -F -b 1024 -E "$seed,offset=1048576" -U 5a5a5a5a-0000-0000-0000-00000000250$x \
    -L "disk$x" "$work/$x.img" $((8*1024 - 1024 - 17))k
done
cat "$work/a.img" "$work/b.img" > "$work/concat-gpt.img"
store layout "$work/concat-gpt.img"
