#!/usr/bin/env bash
# The whole ext4 clean matrix (ext4/tests/matrix.rs, FULL = 330 filesystems
# over mkfs.ext4's option space, each first verified clean by e2fsck -fn):
# runs the ignored test, which fails on any finding above info. Needs
# e2fsprogs; takes minutes. MATRIX_N=n for another count, MATRIX_ONLY=mNNN
# for one member.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test -p imgcheck-ext4 --test matrix clean_matrix_full -- --ignored --nocapture
