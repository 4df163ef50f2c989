#!/usr/bin/env bash
# The database-LV incident for "what was lost, by file" (issue 17), made by
# the real lvm2 tools on loop devices (never activated: no device-mapper
# here; see lvm2.sh): VG imgck_dbvg on two PVs (two virtual disks), LV data
# (ext4) made on PV a and extended onto PV b, holding a database's files:
# a 16 MiB WAL segment written first (it fills what PV a holds of the LV),
# then 8 table files of 2 MiB, which lie on PV b. Then the incident:
# `dd if=/dev/zero of=/dev/vdc` over the whole of PV b.
# Stored: layout/dbvg-a.img (intact) and layout/dbvg-b-zeroed.img.
# Needs: lvm2, e2fsprogs (mkfs.ext4, debugfs), faketime, python3, zstd; root.
source "$(dirname "$0")/lvm2-lib.sh"
a=$work/dbvg-a.img b=$work/dbvg-b-zeroed.img
truncate -s 24M "$a"; truncate -s 40M "$b"; attach "$a" da; attach "$b" db
L "2025-11-13 10:00:00" pvcreate --norestorefile --uuid DbvgAA-aaaa-bbbb-cccc-dddd-eeee-000001 "$da"
L "2025-11-13 10:00:01" vgcreate -s 4M imgck_dbvg "$da"; vgs_made+=(imgck_dbvg)
L "2025-11-13 10:01:00" lvcreate --driverloaded n -an -Zn -L 16M -n data imgck_dbvg "$da"
L "2025-11-20 09:00:00" pvcreate --norestorefile --uuid DbvgBB-aaaa-bbbb-cccc-dddd-eeee-000002 "$db"
L "2025-11-20 09:00:01" vgextend imgck_dbvg "$db"
L "2025-11-20 09:01:00" lvextend --driverloaded n -L 48M imgck_dbvg/data "$db"
# Database pages: 8 KiB, a header at the start and tuples at the end (as
# PostgreSQL lays them out), so no 4 KiB block is all zeros and debugfs
# writes every block (it makes holes of zero blocks).
python3 - "$work/pg" <<'PY'
import os, struct, sys
root = sys.argv[1]
def pages(path, n, seed):
    with open(path, "wb") as f:
        for p in range(n):
            page = bytearray(8192)
            struct.pack_into("<QHHHHI", page, 0, (seed << 32) | p, 0, 0, 40, 8192 - 512, p)
            for t in range(8):
                page[8192 - 512 + t * 64:8192 - 512 + t * 64 + 48] = (b"row %08d-%04d seed %04d " % (p, t, seed)).ljust(48, b".")
            f.write(page)
os.makedirs(root, exist_ok=True)
pages(os.path.join(root, "wal"), 2048, 1)
for i in range(8):
    pages(os.path.join(root, f"t{i}"), 256, 100 + i)
PY
fs=$work/data.fs
mkfs.ext4 -q -F -b 4096 -U 5a5a5a5a-0000-0000-0000-000000000171 -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
  -L pgdata "$fs" 49152k
cmds=$work/debugfs.cmds
{
  echo "mkdir pg_wal"; echo "mkdir base"; echo "mkdir base/16384"
  echo "write $work/pg/wal pg_wal/000000010000000000000001"
  for i in $(seq 0 7); do echo "write $work/pg/t$i base/16384/$((16400 + i))"; done
  # Times as the database left them (debugfs writes its own clock's):
  # the WAL at 10:00, each table a minute after the one before.
  echo "sif pg_wal/000000010000000000000001 mtime 20251120100000"
  for i in $(seq 0 7); do echo "sif base/16384/$((16400 + i)) mtime 2025112010$(printf %02d $((i + 1)))00"; done
} > "$cmds"
debugfs -w -f "$cmds" "$fs" >/dev/null 2>&1
scatter imgck_dbvg data "$fs"
store layout "$a"
# The incident: the whole second disk zeroed.
dd if=/dev/zero of="$db" bs=1M count=40 conv=notrunc status=none
sync
store layout "$b"
detach_all
