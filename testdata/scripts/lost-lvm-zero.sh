#!/usr/bin/env bash
# Issue 17's zeros inside a logical volume (an independent attack,
# session 8, F8): a disk image that is one PV (VG imgck_zvg), LV data
# (ext4 made by mke2fs -d over 1,200 small binary files, written into the
# LV's extents as lvm2 maps them; never activated: no device-mapper here,
# see lvm2.sh), then 4 MiB of the disk inside the LV's file data zeroed
# with dd. lvm-zero.tsv: the zeroed disk bytes, and the disk byte where
# the LV (one linear segment) starts, so that a test can hand debugfs the
# LV's bytes (FILE?offset=N) and compute what was lost.
# Stored: lost/lvm-zero.img.
# Needs: lvm2, e2fsprogs, python3, zstd, faketime if at hand; root.
source "$(dirname "$0")/lvm2-lib.sh"
# Without libfaketime the metadata records the build's clock: only the
# times differ between rebuilds, which no test reads.
if ! command -v faketime >/dev/null; then
  L() {
    shift
    local cmd=$1; shift
    lvm "$cmd" --config "$LVMCFG" "$@" 2>&1 \
      | grep -v -e 'mapper/control' -e 'NOT backed up' -e 'not zeroed' -e 'device-mapper' \
                -e 'libdevmapper' -e 'successfully' -e 'created\.$' >&2 || true
  }
fi
img=$work/lvm-zero.img
truncate -s 48M "$img"; attach "$img" dz
L "2025-11-13 10:00:00" pvcreate --norestorefile --uuid ZvgZZZ-aaaa-bbbb-cccc-dddd-eeee-000001 "$dz"
L "2025-11-13 10:00:01" vgcreate -s 4M imgck_zvg "$dz"; vgs_made+=(imgck_zvg)
L "2025-11-13 10:01:00" lvcreate --driverloaded n -an -Zn -L 40M -n data imgck_zvg "$dz"
python3 - "$work/files" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random(88)
for d in range(12):
    dd = os.path.join(root, f"srv/d{d:02d}")
    os.makedirs(dd)
    for f in range(100):
        with open(os.path.join(dd, f"r{f:03d}.bin"), "wb") as fh:
            # Binary (no text), no 4 KiB block zeros, compressible.
            blk = bytes(r.randrange(1, 32) for _ in range(512)) * 8
            fh.write(blk * r.choice([1, 2, 3, 5]))
PY
find "$work/files" -exec touch -d @1763000000 {} +
fs=$work/data.fs
mkfs.ext4 -q -F -b 4096 -U 5a5a5a5a-0000-0000-0000-000000000881 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000008ff,root_owner=0:0 \
  -L zdata -d "$work/files" "$fs" 40960k
scatter imgck_zvg data "$fs"
lv_at=$(python3 - "$dz" <<'PY'
import json, subprocess, sys, os
cfg = os.environ["LVMCFG"]
def lvm(*a):
    return json.loads(subprocess.run(["lvm", a[0], "--config", cfg, *a[1:]], capture_output=True, text=True, check=True).stdout)["report"][0]
pe_start = int(lvm("pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pe_start", sys.argv[1])["pv"][0]["pe_start"])
ext = int(lvm("vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "vg_extent_size", "imgck_zvg")["vg"][0]["vg_extent_size"])
segs = lvm("lvs", "--reportformat", "json", "-o", "seg_pe_ranges", "imgck_zvg/data")["lv"]
assert len(segs) == 1, segs
pe = int(segs[0]["seg_pe_ranges"].rsplit(":", 1)[1].split("-")[0])
print(pe_start + pe * ext)
PY
)
sync
detach_all
# 4 MiB of file data, 8 MiB into the LV (past its group 0 metadata),
# where debugfs says files lie.
a=$((lv_at + (8 << 20)))
[ "$(debugfs -R "icheck $(((8 << 20) / 4096)) $(((12 << 20) / 4096 - 1))" "$img?offset=$lv_at" 2>/dev/null | tail -n +2 | grep -vc 'not found')" -eq 2 ]
dd if=/dev/zero of="$img" bs=1M seek=$((a >> 20)) count=4 conv=notrunc status=none
mkdir -p "$testdata/fixtures/lost"
printf 'lv_start\t%s\nzeroed\t%s\t%s\n' "$lv_at" "$a" $((a + (4 << 20))) > "$testdata/fixtures/lost/lvm-zero.tsv"
store lost "$img"
