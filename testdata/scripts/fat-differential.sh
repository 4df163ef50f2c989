#!/usr/bin/env bash
# The full FAT differential against fsck.fat -n (dosfstools): every fixture
# under testdata/fixtures/fat, N damaged copies of each (default 150: bit
# flips, byte overwrites and zeroed sectors over the boot sector, the
# FAT32 backup boot sector, FSInfo, each FAT copy, directories and file
# data), each checked by fsck.fat and by imgcheck-fat. The suite runs a
# fixed-seed sample of the same test; this runs all of it (release build).
# It also runs the mkfs.vfat option matrix (made in the test) with M
# damaged copies per volume (default 150; the suite checks the clean ones).
#   testdata/scripts/fat-differential.sh [N [M]]
# Prints the counts by target and class, misses and false alarms, and
# leaves the report in $CARGO_TARGET_DIR/tmp/fat-differential-full.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v fsck.fat >/dev/null || { echo "fsck.fat (dosfstools) is needed" >&2; exit 1; }
IMGCHECK_FAT_DIFF=full IMGCHECK_FAT_DIFF_N=${1:-150} IMGCHECK_FAT_MATRIX_N=${2:-150} \
  cargo test --release -p imgcheck-fat --test differential -- --nocapture
