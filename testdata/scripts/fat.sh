#!/usr/bin/env bash
# FAT12/16/32 fixtures for the fat crate, made by mkfs.vfat (dosfstools)
# over its options and populated with mtools (this kernel cannot mount
# vfat). Clocks (faketime) and volume ids (-i) are fixed, so a rebuild
# changes nothing the tools do not vary themselves.
#
#   fat12-floppy.img   1440 KiB, -F 12 (mkfs defaults: 1 sector/cluster,
#                      224 root entries, 2 FATs), label FLOPPY; files,
#                      long names, an empty file, a fragmented file
#   fat12-S1024.img    4 MiB, -F 12 -S 1024 -s 2 -f 1 -r 64: 1 KiB
#                      sectors, one FAT, a small root directory
#   fat12-S4096.img    8 MiB, -F 12 -S 4096 -s 1 -R 2: 4 KiB sectors
#   fat16-16m.img      16 MiB, -F 16 -s 4 -r 512 -n DATA16: deep (12
#                      levels) and wide (300 entries, a multi-cluster
#                      directory) trees, long and non-ASCII names,
#                      zero-length files, files fragmented by
#                      interleaved writes and deletes
#   fat16-S2048.img    16 MiB, -F 16 -S 2048 -s 1 -f 1 -R 4, no label
#   fat16-R8.img       8 MiB, -F 16 -s 2 -R 8 -r 64 -f 2, label R8
#   fat32-34m.img      34 MiB, -F 32 -s 1 -n ESP: 68528 clusters (a
#                      FAT32 by the spec's cluster count), an ESP-like
#                      tree (EFI/BOOT/BOOTX64.EFI), deep, wide and
#                      fragmented files
#   fat32-S4096.img    260 MiB, -F 32 -S 4096 -s 1 -R 16 -b 6: 4 KiB
#                      sectors, 66414 clusters
#   fat32-8m.img       8 MiB, -F 32 -s 8 -R 32, empty: fewer clusters than
#                      the spec's FAT32 minimum (mkfs.vfat warns; Linux and
#                      fsck.fat read it by its BPB, mtools and Windows by
#                      its cluster count, as FAT12, so mtools cannot put
#                      files in it)
#   fat32-S1024-f1.img 72 MiB, -F 32 -S 1024 -s 1 -f 1 -n ONEFAT: 1 KiB
#                      sectors, one FAT
#   fat16-s16.img      40 MiB, -F 16 -s 16 (8 KiB clusters): files
#                      smaller than a cluster, chains of one cluster
source "$(dirname "$0")/common.sh"
export TZ=UTC MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0
T="2025-11-13 10:00:00"
clock() { faketime -f "@$T" "$@"; }

# Contents, made once on the host and copied in with mtools.
src=$work/src
mkdir -p "$src"
printf 'hello, FAT\n' > "$src/hello.txt"
: > "$src/empty"
seq 1 20000 > "$src/numbers.txt"                  # ~108 KiB
head -c 300000 /dev/zero | tr '\0' 'A' > "$src/big.bin"
head -c 7000 /dev/zero | tr '\0' 'b' > "$src/small.bin"
printf 'MZ' > "$src/BOOTX64.EFI"; head -c 4094 /dev/zero >> "$src/BOOTX64.EFI"
printf 'title Linux\nlinux /vmlinuz\ninitrd /initrd.img\n' > "$src/linux.conf"

mk() { # mk FILE SIZE mkfs-args...
  local f=$1 size=$2
  shift 2
  rm -f "$f"
  truncate -s "$size" "$f"
  clock mkfs.vfat -i 5a5a0001 "$@" "$f" 2>&1 >/dev/null | grep -v "less then suggested minimum" >&2 || true
}
m() { clock "$@"; }

# A fragmented file: a, b, c written in turn, b deleted, then a file
# larger than the hole, which mtools places in the hole and beyond.
fragment() { # fragment IMG DIR
  local img=$1 d=$2
  m mcopy -i "$img" "$src/small.bin" "::$d/frag-a.bin"
  m mcopy -i "$img" "$src/small.bin" "::$d/frag-b.bin"
  m mcopy -i "$img" "$src/small.bin" "::$d/frag-c.bin"
  m mdel -i "$img" "::$d/frag-b.bin"
  m mcopy -i "$img" "$src/numbers.txt" "::$d/fragmented.txt"
  m mcopy -i "$img" "$src/small.bin" "::$d/frag-d.bin"
  m mdel -i "$img" "::$d/frag-a.bin"
}

basic() { # basic IMG: a few files in the root and one directory
  local img=$1
  m mcopy -i "$img" "$src/hello.txt" ::/HELLO.TXT
  m mcopy -i "$img" "$src/empty" ::/empty.dat
  m mmd -i "$img" ::/docs
  m mcopy -i "$img" "$src/numbers.txt" "::/docs/A long file name with spaces.txt"
  m mcopy -i "$img" "$src/hello.txt" "::/docs/lower.txt"
}

deep() { # deep IMG N: a chain of N nested directories with a file at the bottom
  local img=$1 n=$2 p="" i
  for ((i = 1; i <= n; i++)); do
    p="$p/level$i"
    m mmd -i "$img" "::$p"
  done
  m mcopy -i "$img" "$src/hello.txt" "::$p/bottom.txt"
}

wide() { # wide IMG DIR N: N entries in one directory, long and short names
  local img=$1 d=$2 n=$3 i
  rm -rf "$work/wide"; mkdir -p "$work/wide"
  for ((i = 0; i < n; i++)); do
    if ((i % 2)); then cp "$src/hello.txt" "$work/wide/F$i.TXT"
    else : > "$work/wide/entry number $i with a long name"; fi
  done
  m mmd -i "$img" "::$d"
  m mcopy -i "$img" "$work/wide/"* "::$d/"
  rm -rf "$work/wide"
}

names() { # names IMG: long, mixed-case and non-ASCII names
  local img=$1
  m mmd -i "$img" ::/names
  m mcopy -i "$img" "$src/hello.txt" "::/names/Ünïcödé ñame.txt"
  m mcopy -i "$img" "$src/hello.txt" "::/names/MixedCase.Txt"
  m mcopy -i "$img" "$src/hello.txt" "::/names/$(printf 'x%.0s' {1..120}).dat"
  m mcopy -i "$img" "$src/empty" "::/names/zero length file"
  m mcopy -i "$img" "$src/hello.txt" "::/names/a.b.c.d"
}

cd "$work"

mk fat12-floppy.img 1440K -F 12 -n FLOPPY
basic fat12-floppy.img
names fat12-floppy.img
fragment fat12-floppy.img /docs
store fat fat12-floppy.img

mk fat12-S1024.img 4M -F 12 -S 1024 -s 2 -f 1 -r 64
basic fat12-S1024.img
deep fat12-S1024.img 4
store fat fat12-S1024.img

mk fat12-S4096.img 8M -F 12 -S 4096 -s 1 -R 2
basic fat12-S4096.img
fragment fat12-S4096.img /docs
store fat fat12-S4096.img

mk fat16-16m.img 16M -F 16 -s 4 -r 512 -n DATA16
basic fat16-16m.img
names fat16-16m.img
deep fat16-16m.img 12
wide fat16-16m.img /wide 300
fragment fat16-16m.img /docs
m mcopy -i fat16-16m.img "$src/big.bin" ::/big.bin
store fat fat16-16m.img

mk fat16-S2048.img 16M -F 16 -S 2048 -s 1 -f 1 -R 4
basic fat16-S2048.img
fragment fat16-S2048.img /docs
store fat fat16-S2048.img

mk fat16-R8.img 8M -F 16 -s 2 -R 8 -r 64 -f 2 -n R8
basic fat16-R8.img
deep fat16-R8.img 3
store fat fat16-R8.img

mk fat32-34m.img 34M -F 32 -s 1 -n ESP
m mmd -i fat32-34m.img ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
m mcopy -i fat32-34m.img "$src/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
m mcopy -i fat32-34m.img "$src/linux.conf" ::/loader/entries/linux.conf
basic fat32-34m.img
names fat32-34m.img
deep fat32-34m.img 8
wide fat32-34m.img /wide 200
fragment fat32-34m.img /docs
m mcopy -i fat32-34m.img "$src/big.bin" ::/big.bin
store fat fat32-34m.img

mk fat32-S4096.img 260M -F 32 -S 4096 -s 1 -R 16 -b 6
basic fat32-S4096.img
fragment fat32-S4096.img /docs
store fat fat32-S4096.img

mk fat32-8m.img 8M -F 32 -s 8 -R 32
store fat fat32-8m.img

mk fat32-S1024-f1.img 72M -F 32 -S 1024 -s 1 -f 1 -n ONEFAT
basic fat32-S1024-f1.img
fragment fat32-S1024-f1.img /docs
store fat fat32-S1024-f1.img

mk fat16-s16.img 40M -F 16 -s 16
basic fat16-s16.img
names fat16-s16.img
store fat fat16-s16.img

for f in *.img; do
  if ! fsck.fat -n "$f" >/dev/null 2>&1; then
    echo "fat.sh: fsck.fat -n does not call $f clean" >&2
    fsck.fat -n "$f" >&2 || true
    exit 1
  fi
done
