#!/usr/bin/env bash
# The whole ext4 damage run (ext4/tests/damage.rs): ≥ 20,000 mutants from
# the fixed seed over every metadata block kind of the damage bases, each
# judged by e2fsck -fn (and -fy on bases with recovery pending) and by
# imgcheck's default check; fails on any miss or false alarm. Needs
# e2fsprogs; takes long. DAMAGE_N=n for another count, DAMAGE_ONLY=kind
# for one block kind, DAMAGE_VERBOSE=1 to list every miss.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo test -p imgcheck-ext4 --test damage damage_full -- --ignored --nocapture
