#!/usr/bin/env bash
# The directory-entry mutation run against fsck.fat -n (dosfstools): one
# mkfs.vfat -F 16 -s 1 -R 1 volume filled by mtools, every byte of every
# live directory entry changed by each of its 8 bit flips, to 0x00 and to
# 0xFF (about 3,400 copies), each checked by fsck.fat and by imgcheck-fat
# (fat/tests/differential.rs, dirent_mutation_differential, ignored in the
# suite). Prints the counts and the copies flagged only by imgcheck-fat,
# grouped by entry kind, byte and finding codes, to be judged.
#   testdata/scripts/fat-dirent-mutate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v fsck.fat >/dev/null || { echo "fsck.fat (dosfstools) is needed" >&2; exit 1; }
command -v mcopy >/dev/null || { echo "mtools is needed" >&2; exit 1; }
cargo test --release -p imgcheck-fat --test differential -- --ignored --nocapture dirent_mutation_differential
