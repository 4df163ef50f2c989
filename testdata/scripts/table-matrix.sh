#!/usr/bin/env bash
# The full option-matrix attack on the table layers (the suite runs a
# fixed-seed sample of it): every combination of label (gpt, dos), sector
# size (512, 4096), alignment (1 MiB, LBA 63, none), 1/4/9/40 partitions,
# EBR chains, GPT entry counts (4, 56, 128, 256), hybrid MBR (sgdisk -h),
# bootable PMBR (parted pmbr_boot), empty or formatted; each judged by
# sgdisk -v, sfdisk --verify and blkid -p in the test. Prints the counts;
# exit 1 on any false alarm or mislabel.
# Needs: fdisk (sfdisk), gdisk, parted, e2fsprogs, dosfstools.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMGCHECK_MATRIX=full cargo test -p imgcheck --test table_matrix -- --nocapture
