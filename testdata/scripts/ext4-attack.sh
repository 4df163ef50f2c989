#!/usr/bin/env bash
# Independent attack on the ext4 layer (issue 12): filesystems from mke2fs
# option combinations outside the clean matrix (testdata/src/ext4gen), filled
# through a real kernel mount (files of every kind, deleted and fragmented
# files, punched holes, unwritten extents, xattrs, a large htree directory)
# and through debugfs, and also imaged while still mounted (a live copy:
# journal and orphans pending). For each, e2fsck -fn's verdict is computed
# and compared with imgcheck's default check:
#   AGREE      both clean, or both flag
#   FALSE      imgcheck errors/warnings where e2fsck -fn is clean
#   MISS       e2fsck -fn flags, imgcheck is clean
#   PENDING    a live copy: e2fsck -fn skips the replay; imgcheck must not say
#              "damaged" (no error) unless e2fsck -fy still finds damage after
#              its replay
# Needs root (loop devices), e2fsprogs and the imgcheck binary:
#   IMGCHECK=target/debug/imgcheck testdata/scripts/ext4-attack.sh [WORKDIR]
# ATTACK_ONLY=REGEX runs the specs whose name matches.
# Every loop device it attaches is detached again (trap).
set -uo pipefail
bin=${IMGCHECK:?set IMGCHECK to the imgcheck binary}
work=${1:-$(mktemp -d /dev/shm/ext4-attack.XXXXXX)}
mkdir -p "$work"
mnt=$work/mnt
mkdir -p "$mnt"
dev=
cleanup() {
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  if [ -n "$dev" ]; then losetup -d "$dev"; dev=; fi
}
trap cleanup EXIT

# e2fsck -fn's problem lines (everything but headers and the summary)
e2_problems() {
  e2fsck -fn "$1" 2>&1 | grep -vE '^(e2fsck [0-9]|Pass [0-9]|[^ ]+: [0-9]+/[0-9]+ files|$)'
}

# What the kernel workload writes: every file kind, deletions, fragmentation.
workload() {
  local m=$1
  mkdir -p "$m/d/sub/deeper" "$m/big" "$m/frag"
  echo hello > "$m/d/small"
  head -c 5000 /dev/urandom > "$m/d/5k"
  head -c 300000 /dev/urandom > "$m/d/300k"
  dd if=/dev/urandom of="$m/d/sparse" bs=4096 count=1 seek=2000 status=none
  fallocate -l 1M "$m/d/unwritten" 2>/dev/null || true
  head -c 200000 /dev/urandom > "$m/d/punched"
  fallocate -p -o 40960 -l 65536 "$m/d/punched" 2>/dev/null || true
  ln -s small "$m/d/short-link"
  ln -s "$(printf 'x%.0s' $(seq 1 300))" "$m/d/long-link"
  ln "$m/d/small" "$m/d/sub/hardlink"
  mkfifo "$m/d/fifo"; mknod "$m/d/chr" c 1 3; mknod "$m/d/blk" b 7 0
  setfattr -n user.a -v short "$m/d/small" 2>/dev/null || true
  setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' v)" "$m/d/5k" 2>/dev/null || true
  setfattr -n user.dir -v x "$m/d/sub" 2>/dev/null || true
  # fragmentation: two files appended in turn
  for i in $(seq 1 60); do
    head -c 8192 /dev/urandom >> "$m/frag/a"; head -c 8192 /dev/urandom >> "$m/frag/b"
    sync -f "$m/frag/a" 2>/dev/null || true
  done
  # a large directory (htree) with deletions in it
  for i in $(seq 1 3000); do : > "$m/big/entry-with-a-longish-name-$i" || break; done 2>/dev/null
  for i in $(seq 3 3 3000); do rm -f "$m/big/entry-with-a-longish-name-$i"; done
  # deleted and truncated files, a renamed directory
  head -c 100000 /dev/urandom > "$m/gone"; sync; rm "$m/gone"
  head -c 100000 /dev/urandom > "$m/d/trunc"; sync; truncate -s 3000 "$m/d/trunc"
  mv "$m/d/sub/deeper" "$m/moved"
  chattr +i "$m/d/5k" 2>/dev/null || true
  chattr +a "$m/d/300k" 2>/dev/null || true
}

# debugfs workload on an unmounted filesystem
dfs_workload() {
  local img=$1 src=$work/src
  mkdir -p "$src"; head -c 70000 /dev/urandom > "$src/f"; echo tiny > "$src/t"
  debugfs -w "$img" >/dev/null 2>&1 <<DFS
mkdir dbg
mkdir dbg/inner
write $src/f dbg/file
write $src/t dbg/tiny
symlink dbg/sl /some/target/that/is/long/enough/to/not/fit/inline/in/the/inode/area/xxxxxxxxxxxxxxx
ln dbg/file dbg/inner/hard
sif dbg/inner/hard links_count 2
ea_set dbg/file user.k value
ea_set dbg/tiny user.big $(head -c 2000 /dev/zero | tr '\0' q)
rm dbg/tiny
DFS
}

judge() { # name image [live]
  local name=$1 img=$2 live=${3:-} e ours rc verdict codes
  e=$(e2_problems "$img")
  ours=$("$bin" --json "$img" 2>/dev/null)
  rc=$?
  # imgcheck's errors and warnings, as "e:code w:code"
  codes=$(printf '%s' "$ours" | python3 -c 'import json,sys
try: r = json.load(sys.stdin)
except Exception: print("unparsable"); sys.exit()
print(" ".join(sorted({f["severity"][0] + ":" + f["code"] for f in r.get("findings", []) if f.get("severity") in ("error", "warning")})))')
  if [ -n "$live" ]; then
    # What e2fsck -fy still finds after its replay and orphan processing,
    # beyond the summary counts it fixes silently with -p.
    local fy
    cp --sparse=always "$img" "$work/fy.img"
    fy=$(e2fsck -fy "$work/fy.img" 2>&1 | grep -vE '^(e2fsck [0-9]|Pass [0-9]|[^ ]+: [0-9]+/[0-9]+ files|$|.*recovering journal|.*FILE SYSTEM WAS MODIFIED|Clearing orphaned inode|Truncating orphaned|Fix\? yes|Free (blocks|inodes) count wrong|Setting free)')
    rm -f "$work/fy.img"
    if grep -q 'e:' <<< "$codes" && [ -z "$fy" ]; then verdict=FALSE
    elif [ -n "$fy" ] && [ "$rc" -eq 0 ]; then verdict=MISS
    else verdict=PENDING; fi
    printf '%-8s %-36s e2fsck -fn: %s | -fy leaves: %s | imgcheck exit %s: %s\n' "$verdict" "$name" \
      "$(printf '%s' "$e" | head -2 | tr '\n' ' ' | cut -c1-80)" "$(printf '%s' "$fy" | head -2 | tr '\n' ' ' | cut -c1-80)" "$rc" "$codes"
    return
  fi
  if [ -z "$e" ] && [ "$rc" -eq 0 ]; then verdict=AGREE
  elif [ -n "$e" ] && [ "$rc" -ne 0 ]; then verdict=AGREE
  elif [ -z "$e" ]; then verdict=FALSE
  else verdict=MISS; fi
  printf '%-8s %-36s e2fsck -fn: %s | imgcheck exit %s: %s\n' "$verdict" "$name" \
    "$(printf '%s' "$e" | head -2 | tr '\n' ' ' | cut -c1-100)" "$rc" "$codes"
}


# Damage on the kernel-made image at structures e2fsck reads, located with
# debugfs: the big directory's first block (its htree root), the
# fragmented file's extent blocks (or first data block map), a directory's
# inode, the root directory's first block's second entry.
damages() { # image -> prints "name offset length mode" lines
  local img=$1 bs blk line
  bs=$(dumpe2fs -h "$img" 2>/dev/null | awk -F: '/^Block size/ {gsub(/ /,"",$2); print $2}')
  blk=$(debugfs -R "bmap /big 0" "$img" 2>/dev/null | tail -1)
  [ -n "$blk" ] && [ "$blk" != 0 ] && echo "htree-root-zeroed $((blk * bs)) $bs zero" &&
    echo "htree-root-byte $((blk * bs + 0x20)) 1 flip"
  # extent index/leaf blocks of the fragmented file: debugfs ex lists level 0 at depth > 0
  line=$(debugfs -R "ex /frag/a" "$img" 2>/dev/null | awk '$1 ~ /^0\// && NR > 1 {print $0; exit}')
  if [ -n "$line" ]; then
    blk=$(awk '{print $(NF-2)}' <<< "$line" | tr -d -c '0-9')
    [ -n "$blk" ] && echo "extent-node-byte $((blk * bs + 4)) 1 flip"
  fi
  line=$(debugfs -R "imap /d/sub" "$img" 2>/dev/null | awk '/located at block/ {gsub(",",""); print $4, $(NF)}')
  if [ -n "$line" ]; then
    read -r blk off <<< "$line"
    off=$((off))
    echo "dir-inode-zeroed $((blk * bs + off)) 128 zero"
    echo "dir-inode-mode $((blk * bs + off + 1)) 1 flip"
  fi
  blk=$(debugfs -R "bmap / 0" "$img" 2>/dev/null | tail -1)
  [ -n "$blk" ] && [ "$blk" != 0 ] && echo "root-dirent-reclen $((blk * bs + 12 + 4)) 1 flip"
}

apply() { # image offset length mode
  case $4 in
    zero) dd if=/dev/zero of="$1" bs=1 seek="$2" count="$3" conv=notrunc status=none ;;
    flip) python3 -c 'import sys
f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x10]))' "$1" "$2" ;;
  esac
}

# name | mkfs type | size MiB | mke2fs options
specs() {
cat <<'S'
ext2-1k|ext2|64|-b 1024
ext2-2k-I128|ext2|64|-b 2048 -I 128
ext3-1k|ext3|64|-b 1024
ext3-4k-dirindex-off|ext3|64|-O ^dir_index
ext4-1k-I128|ext4|64|-b 1024 -I 128
ext4-2k|ext4|64|-b 2048
ext4-inline|ext4|64|-O inline_data
ext4-inline-1k|ext4|64|-b 1024 -O inline_data
ext4-bigalloc|ext4|128|-O bigalloc -C 65536
ext4-meta-bg|ext4|128|-O meta_bg,^resize_inode
ext4-noflex|ext4|64|-O ^flex_bg
ext4-no64|ext4|64|-O ^64bit
ext4-nocsum-uninit|ext4|64|-O ^metadata_csum,uninit_bg
ext4-nocsum|ext4|64|-O ^metadata_csum,^uninit_bg
ext4-quota-project|ext4|64|-O quota,project
ext4-casefold|ext4|64|-O casefold
ext4-encrypt|ext4|64|-O encrypt
ext4-huge-file|ext4|64|-O huge_file
ext4-T-small|ext4|64|-T small
ext4-T-huge|ext4|256|-T huge
ext4-stride|ext4|64|-E stride=16,stripe_width=64
ext4-packed|ext4|64|-E packed_meta_blocks=1 -O ^resize_inode
ext4-itable-eager|ext4|64|-E lazy_itable_init=0
ext4-N-tiny|ext4|64|-N 4100
ext4-many-groups|ext4|256|-b 1024 -g 1024 -N 20000
ext4-orphan-file|ext4|64|-O orphan_file
ext4-fast-commit|ext4|64|-O fast_commit
ext4-largedir|ext4|64|-O large_dir
ext4-sparse2|ext4|64|-O sparse_super2
ext4-nojournal|ext4|64|-O ^has_journal
ext4-ea-inode|ext4|64|-O ea_inode
S
}

while IFS='|' read -r name type size opts; do
  [[ $name =~ ${ATTACK_ONLY:-.} ]] || continue
  img=$work/$name.img
  rm -f "$img"; truncate -s "${size}M" "$img"
  # shellcheck disable=SC2086
  if ! mkfs -t "$type" -q -F $opts "$img" >/dev/null 2>&1; then echo "SKIP     $name: mke2fs refused $opts"; continue; fi
  judge "$name/mkfs" "$img"
  dfs_workload "$img"
  judge "$name/debugfs" "$img"
  dev=$(losetup -f --show "$img")
  if mount -t "$type" "$dev" "$mnt" 2>/dev/null; then
    workload "$mnt" 2>/dev/null
    sync
    cp --sparse=always "$img" "$work/live.img"   # imaged while mounted
    umount "$mnt"
    losetup -d "$dev"; dev=
    judge "$name/kernel" "$img"
    judge "$name/live-copy" "$work/live.img" live
    while read -r dname off len mode; do
      cp --sparse=always "$img" "$work/dmg.img"
      apply "$work/dmg.img" "$off" "$len" "$mode"
      judge "$name/kernel+$dname" "$work/dmg.img"
    done < <(damages "$img")
    rm -f "$work/dmg.img"
    rm -f "$work/live.img"
  else
    losetup -d "$dev"; dev=
    echo "SKIP     $name/kernel: the kernel does not mount it"
  fi
  rm -f "$img"
done < <(specs)
