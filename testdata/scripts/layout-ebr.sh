#!/usr/bin/env bash
# A DOS disk with six logical partitions (sfdisk), the tests' base for a
# broken EBR chain (issue 13 A5/A7): 64 MiB, primary 1, extended 2 from
# LBA 8192 to the disk's end, logicals 5-10 of 1 MiB at LBA 10240 +
# 4096 k, their EBRs at LBA 8192, 12288, 16384, 20480, 24576, 28672, and
# 48 MiB free after partition 10, inside the extended one.
# The tests break the chain at logical 7's EBR (LBA 16384) by patching.
# Needs fdisk.
source "$(dirname "$0")/common.sh"
d=$work/dos-six-logicals.img
truncate -s 64M "$d"
sfdisk -q --no-reread "$d" <<'PT' >/dev/null
label: dos
label-id: 0x13ebc4a1
start=2048, size=4096, type=83
start=8192, type=5
start=10240, size=2048, type=83
start=14336, size=2048, type=83
start=18432, size=2048, type=83
start=22528, size=2048, type=83
start=26624, size=2048, type=83
start=30720, size=2048, type=83
PT
store layout "$d"
