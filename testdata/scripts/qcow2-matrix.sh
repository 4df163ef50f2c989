#!/usr/bin/env bash
# The clean matrix: images written by QEMU's tools over the option space
# (qcow2/tests/common/matrix.rs), judged by QEMU in the test. Seeds are
# IMGCHECK_MATRIX (default 0..400); IMGCHECK_MATRIX_VERBOSE=1 prints each
# image's recipe; IMGCHECK_MATRIX_KEEP=DIR keeps every image (DIR/seed-N/,
# MAIN names it) for timing the CLI over them (qcow2-cli-bounds.sh).
# Prints images, false alarms, QEMU-flagged ones and how many imgcheck
# flagged, guest mismatches, --qemu-compat agreement.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMGCHECK_MATRIX=${IMGCHECK_MATRIX:-0..400} \
  IMGCHECK_MATRIX_KEEP=${IMGCHECK_MATRIX_KEEP:-} \
  cargo test -q --release -p imgcheck-qcow2 --test matrix matrix_full -- --ignored --nocapture
