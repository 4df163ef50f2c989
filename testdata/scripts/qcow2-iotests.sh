#!/usr/bin/env bash
# The damage of QEMU's qcow2 iotests, rebuilt with qemu-img/qemu-io and
# judged by QEMU (qcow2/tests/iotests.rs), including the cases QEMU's own
# tools take tens of seconds on, which the test suite skips. Prints the
# per-iotest table: cases, QEMU-flagged, flagged by imgcheck, accepted.
# IMGCHECK_IOTESTS_KEEP=DIR keeps every case image (DIR/NNN-test/, MAIN
# names the image) for timing the CLI over them (--all-snapshots).
set -euo pipefail
cd "$(dirname "$0")/../.."
IMGCHECK_IOTESTS_ALL=1 IMGCHECK_IOTESTS_TIMES=${IMGCHECK_IOTESTS_TIMES:-} \
  IMGCHECK_IOTESTS_KEEP=${IMGCHECK_IOTESTS_KEEP:-} \
  cargo test -q --release -p imgcheck-qcow2 --test iotests -- --nocapture
