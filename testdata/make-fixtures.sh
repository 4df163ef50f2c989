#!/usr/bin/env bash
# Rebuilds every committed fixture with real tools: qemu-img, qemu-io,
# sgdisk, sfdisk, mkfs.ext4, debugfs, mkfs.vfat and mtools. Each scripts/*.sh writes zstd-compressed
# images into fixtures/<layer>/ (the demo image goes uncompressed into demo/).
# Needs: qemu-utils e2fsprogs gdisk fdisk xfsprogs zstd faketime python3
# lvm2 thin-provisioning-tools (scripts/lvm2.sh: root, loop devices)
# dosfstools mtools (scripts/fat.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
only=${1:-}
for s in "$here"/scripts/*.sh; do
  name=$(basename "$s" .sh)
  [ -n "$only" ] && [ "$only" != "$name" ] && continue
  echo "== $name"
  bash "$s"
done
du -sh "$here/fixtures" "$here/demo"
