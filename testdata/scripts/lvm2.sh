#!/usr/bin/env bash
# LVM2 fixtures made by the real lvm2 tools on loop devices. This kernel has
# no device-mapper, so LVs are never activated (--driverloaded n, -an -Zn):
# lvm2 writes the labels and metadata, and each LV's contents are written at
# the extents lvm2 allocated (pe_start + extent x extent size), as dm-linear
# and dm-stripe map them (lvm2_helper.py scatter). Segment types lvm2 will
# not create without dm (snapshot, thin) are added to a vgcfgbackup file and
# restored with vgcfgrestore, with their on-disk formats written by
# thin_restore (thin) or by the helper (the dm-snap-persistent COW store).
#
# Never touches the host's devices: every lvm command gets a filter that
# accepts only the loop devices made here, no devices file, no udev. Unique
# VG names (imgck_*), everything removed and detached on exit.
source "$(dirname "$0")/lvm2-lib.sh"
# one-pv.img: one 48 MiB PV, VG imgck_one (4 MiB extents): root (ext4 with
# files), home (ext4 made at 8 MiB, then the LV extended to 16 MiB without
# resize2fs: the filesystem is smaller than its LV), swap.
img=$work/one-pv.img; truncate -s 48M "$img"; attach "$img" d
L "2025-11-13 10:00:00" pvcreate --norestorefile --uuid OnePV0-aaaa-bbbb-cccc-dddd-eeee-000001 "$d"
L "2025-11-13 10:00:01" vgcreate -s 4M imgck_one "$d"; vgs_made+=(imgck_one)
L "2025-11-13 10:01:00" lvcreate --driverloaded n -an -Zn -L 16M -n root imgck_one
L "2025-11-13 10:02:00" lvcreate --driverloaded n -an -Zn -L 8M -n home imgck_one
L "2025-11-13 10:03:00" lvcreate --driverloaded n -an -Zn -L 4M -n swap imgck_one
L "2025-11-20 09:00:00" lvextend --driverloaded n -L 16M imgck_one/home
mkext4 "$work/root.fs" 16384 01 root tree; scatter imgck_one root "$work/root.fs"
mkext4 "$work/home.fs" 8192 02 home; scatter imgck_one home "$work/home.fs"
truncate -s 4M "$work/swap.raw"; mkswap -q -U 5a5a5a5a-0000-0000-0000-0000000001aa "$work/swap.raw"
scatter imgck_one swap "$work/swap.raw"
finish "$img"

# pair-a.img + pair-b.img: the incident. VG imgck_pair lived on PV a; root
# and db were made there. A week later PV b (a second virtual disk) was
# added and db extended onto it, with the filesystem grown. pair-b-stale.img
# is b as it was before db was extended (a copy taken in between): its
# metadata is one generation older than a's.
a=$work/pair-a.img b=$work/pair-b.img
truncate -s 40M "$a"; truncate -s 24M "$b"; attach "$a" da; attach "$b" db
L "2025-11-13 10:00:00" pvcreate --norestorefile --uuid PairAA-aaaa-bbbb-cccc-dddd-eeee-000001 "$da"
L "2025-11-13 10:00:01" vgcreate -s 4M imgck_pair "$da"; vgs_made+=(imgck_pair)
L "2025-11-13 10:01:00" lvcreate --driverloaded n -an -Zn -L 12M -n root imgck_pair "$da"
L "2025-11-13 10:02:00" lvcreate --driverloaded n -an -Zn -L 16M -n db imgck_pair "$da"
L "2025-11-20 09:00:00" pvcreate --norestorefile --uuid PairBB-aaaa-bbbb-cccc-dddd-eeee-000002 "$db"
L "2025-11-20 09:00:01" vgextend imgck_pair "$db"
cp --sparse=always "$b" "$work/pair-b-stale.img"
L "2025-11-20 09:01:00" lvextend --driverloaded n -L 32M imgck_pair/db "$db"
mkext4 "$work/proot.fs" 12288 03 root tree; scatter imgck_pair root "$work/proot.fs"
mkext4 "$work/db.fs" 32768 04 db tree
# a database file big enough that some of it lives on PV b
debugfs -w -R "write $work/tree/home/user/docs/big.txt /big" "$work/db.fs" >/dev/null 2>&1
head -c 12M /dev/zero | tr '\0' 'D' > "$work/dbfile"
debugfs -w -R "write $work/dbfile /pgdata" "$work/db.fs" >/dev/null 2>&1
scatter imgck_pair db "$work/db.fs"
finish "$a" "$b" "$work/pair-b-stale.img"
detach_all

# stripe-a.img + stripe-b.img: a 2-stripe LV (64 KiB stripes) with ext4, a
# linear LV after it on the first PV, and a raid1 LV "mir" with one image
# (and its rmeta) on each PV, both images holding the same ext4. lvm2 will
# not make raid1 without dm: placeholder LVs give the extents and the raid
# LV is restored from the edited text.
a=$work/stripe-a.img b=$work/stripe-b.img
truncate -s 32M "$a"; truncate -s 32M "$b"; attach "$a" da; attach "$b" db
L "2025-11-13 11:00:00" pvcreate --norestorefile --uuid StrpAA-aaaa-bbbb-cccc-dddd-eeee-000001 "$da"
L "2025-11-13 11:00:00" pvcreate --norestorefile --uuid StrpBB-aaaa-bbbb-cccc-dddd-eeee-000002 "$db"
L "2025-11-13 11:00:01" vgcreate -s 4M imgck_stripe "$da" "$db"; vgs_made+=(imgck_stripe)
L "2025-11-13 11:01:00" lvcreate --driverloaded n -an -Zn -i 2 -I 64k -L 16M -n str imgck_stripe
L "2025-11-13 11:02:00" lvcreate --driverloaded n -an -Zn -L 8M -n lin imgck_stripe "$da"
for i in 0 1; do
  dev=$da; [ "$i" = 1 ] && dev=$db
  L "2025-11-13 11:03:00" lvcreate --driverloaded n -an -Zn -L 4M -n "rm$i" imgck_stripe "$dev"
  L "2025-11-13 11:03:00" lvcreate --driverloaded n -an -Zn -L 4M -n "ri$i" imgck_stripe "$dev"
done
mkext4 "$work/str.fs" 16384 05 str tree; scatter imgck_stripe str "$work/str.fs"
mkext4 "$work/lin.fs" 8192 06 lin; scatter imgck_stripe lin "$work/lin.fs"
mkext4 "$work/mir.fs" 4096 0b mir tree
scatter imgck_stripe ri0 "$work/mir.fs"; scatter imgck_stripe ri1 "$work/mir.fs"
lvm vgcfgbackup --config "$LVMCFG" -f "$work/str.vg" imgck_stripe >/dev/null 2>&1
$helper hide "$work/str.vg" "$work/str1.vg" rm0=mir_rmeta_0 ri0=mir_rimage_0 rm1=mir_rmeta_1 ri1=mir_rimage_1
cat > "$work/str.add" <<'LV'
mir {
id = "MirLV0-aaaa-bbbb-cccc-dddd-eeee-000001"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = 1763032200
creation_host = "fixture"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 1
type = "raid1"
device_count = 2
region_size = 1024
raids = ["mir_rmeta_0", "mir_rimage_0", "mir_rmeta_1", "mir_rimage_1"]
}
}
LV
$helper addlvs "$work/str1.vg" "$work/str2.vg" "$work/str.add"
L "2025-11-13 11:04:00" vgcfgrestore -f "$work/str2.vg" imgck_stripe
finish "$a" "$b"
detach_all

# snapshot.img: origin "data" (ext4) with an old-style snapshot "data_snap"
# (COW store, 4 KiB chunks). The snapshot was taken, then a file on the
# origin was rewritten: the COW store holds the old chunks, so the snapshot
# reads as the filesystem before the change.
img=$work/snapshot.img; truncate -s 32M "$img"; attach "$img" d
L "2025-11-13 12:00:00" pvcreate --norestorefile --uuid SnapPV-aaaa-bbbb-cccc-dddd-eeee-000001 "$d"
L "2025-11-13 12:00:01" vgcreate -s 4M imgck_snap "$d"; vgs_made+=(imgck_snap)
L "2025-11-13 12:01:00" lvcreate --driverloaded n -an -Zn -L 12M -n data imgck_snap
L "2025-11-13 12:02:00" lvcreate --driverloaded n -an -Zn -L 4M -n data_snap imgck_snap
mkext4 "$work/before.fs" 12288 07 data tree
cp "$work/before.fs" "$work/after.fs"
printf 'changed after the snapshot\n' > "$work/newhost"
debugfs -w -R "rm /etc/hostname" "$work/after.fs" >/dev/null 2>&1
debugfs -w -R "write $work/newhost /etc/hostname" "$work/after.fs" >/dev/null 2>&1
scatter imgck_snap data "$work/after.fs"
truncate -s 4M "$work/cow"; $helper cow "$work/before.fs" "$work/after.fs" 8 "$work/cow" >/dev/null
scatter imgck_snap data_snap "$work/cow"
lvm vgcfgbackup --config "$LVMCFG" -f "$work/snap.vg" imgck_snap >/dev/null 2>&1
cat > "$work/snap.add" <<'LV'
snapshot0 {
id = "Snap00-aaaa-bbbb-cccc-dddd-eeee-000001"
status = ["READ", "WRITE"]
flags = []
creation_time = 1763035320
creation_host = "fixture"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 3
type = "snapshot"
chunk_size = 8
origin = "data"
cow_store = "data_snap"
}
}
LV
$helper addlvs "$work/snap.vg" "$work/snap2.vg" "$work/snap.add"
L "2025-11-13 12:03:00" vgcfgrestore -f "$work/snap2.vg" imgck_snap
finish "$img"
detach_all

# thin.img: a thin pool (64 KiB chunks) with two thin LVs: thin1 (ext4 with
# files) and thin2 (a few written chunks). lvm2 will not make a pool without
# dm: placeholder LVs give the extents, the pool and thin LVs are added to
# the text and restored (vgcfgrestore --force), and the pool metadata is
# made by thin_restore from the mapping of each non-zero chunk.
img=$work/thin.img; truncate -s 48M "$img"; attach "$img" d
L "2025-11-13 13:00:00" pvcreate --norestorefile --uuid ThinPV-aaaa-bbbb-cccc-dddd-eeee-000001 "$d"
L "2025-11-13 13:00:01" vgcreate -s 4M imgck_thin "$d"; vgs_made+=(imgck_thin)
L "2025-11-13 13:01:00" lvcreate --driverloaded n -an -Zn -L 4M -n pmeta imgck_thin
L "2025-11-13 13:01:00" lvcreate --driverloaded n -an -Zn -L 16M -n pdata imgck_thin
mkext4 "$work/thin1.fs" 16384 08 thin1 tree
truncate -s 8M "$work/thin2.raw"
for off in 0 3 40; do printf 'thin2 chunk %s\n' "$off" | dd of="$work/thin2.raw" bs=64k seek="$off" conv=notrunc status=none; done
$helper thin "$work/thin.xml" "$work/tdata" 128 256 1="$work/thin1.fs" 2="$work/thin2.raw"
truncate -s 4M "$work/tmeta"; thin_restore -q -i "$work/thin.xml" -o "$work/tmeta"
scatter imgck_thin pmeta "$work/tmeta"; scatter imgck_thin pdata "$work/tdata"
lvm vgcfgbackup --config "$LVMCFG" -f "$work/thin.vg" imgck_thin >/dev/null 2>&1
$helper hide "$work/thin.vg" "$work/thin1.vg" pmeta=pool_tmeta pdata=pool_tdata
cat > "$work/thin.add" <<'LV'
pool {
id = "ThPool-aaaa-bbbb-cccc-dddd-eeee-000001"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = 1763038860
creation_host = "fixture"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 4
type = "thin-pool"
metadata = "pool_tmeta"
pool = "pool_tdata"
transaction_id = 2
chunk_size = 128
discards = "passdown"
zero_new_blocks = 1
}
}
thin1 {
id = "Thin01-aaaa-bbbb-cccc-dddd-eeee-000001"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = 1763038920
creation_host = "fixture"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 4
type = "thin"
thin_pool = "pool"
transaction_id = 0
device_id = 1
}
}
thin2 {
id = "Thin02-aaaa-bbbb-cccc-dddd-eeee-000001"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
creation_time = 1763038980
creation_host = "fixture"
segment_count = 1
segment1 {
start_extent = 0
extent_count = 2
type = "thin"
thin_pool = "pool"
transaction_id = 1
device_id = 2
}
}
LV
$helper addlvs "$work/thin1.vg" "$work/thin2.vg" "$work/thin.add"
L "2025-11-13 13:05:00" vgcfgrestore --force -f "$work/thin2.vg" imgck_thin
finish "$img"
detach_all

# ring.img: a 60 KiB metadata area (--metadatasize 8k, 64 KiB data
# alignment) and commits (an LV made, the one before removed) until the
# committed copy itself wraps around the end of the circular buffer, which
# then also holds older generations.
img=$work/ring.img; truncate -s 16M "$img"; attach "$img" d
L "2025-11-13 14:00:00" pvcreate --norestorefile --uuid RingPV-aaaa-bbbb-cccc-dddd-eeee-000001 --metadatasize 8k --dataalignment 64k "$d"
L "2025-11-13 14:00:01" vgcreate -s 1M imgck_ring "$d"; vgs_made+=(imgck_ring)
L "2025-11-13 14:00:02" lvcreate --driverloaded n -an -Zn -L 4M -n keep imgck_ring
wrapped() {
  pvck --dump headers "$d" 2>/dev/null | awk '$1=="mda_header_1.size"{m=$2} $1=="mda_header_1.raw_locn[0].offset"{o=$2}
    $1=="mda_header_1.raw_locn[0].size"{s=$2} END{exit !(o+s>m)}'
}
t0=$(date -u -d "2025-11-13 14:01:00" +%s)
for i in $(seq 1 80); do
  L "$(date -u -d @$((t0 + i*60)) '+%F %T')" lvcreate --driverloaded n -an -Zn -L 1M -n "tmp$i" imgck_ring
  wrapped && break
  [ "$i" -gt 1 ] && L "$(date -u -d @$((t0 + i*60 + 30)) '+%F %T')" lvremove -f "imgck_ring/tmp$((i-1))"
  wrapped && break
done
wrapped || { echo "ring.img: the committed copy never wrapped" >&2; exit 1; }
mkext4 "$work/keep.fs" 4096 09 keep; scatter imgck_ring keep "$work/keep.fs"
finish "$img"
detach_all

# ovirt.img: an oVirt block storage domain (vdsm layout): the VG is named by
# the storage domain UUID and tagged RHAT_storage_domain with MDT_ keys; the
# special LVs; two volume LVs of one image, named by volume UUID, tagged
# IU_/PU_/MD_, holding qcow2 (qemu-img convert of a raw ext4 disk, then an
# overlay whose backing file is the parent's volume UUID).
sd=5a5a0000-0000-4000-8000-00000000d001 im=5a5a0000-0000-4000-8000-00000000a001
v1=5a5a0000-0000-4000-8000-00000000b001 v2=5a5a0000-0000-4000-8000-00000000b002
img=$work/ovirt.img; truncate -s 64M "$img"; attach "$img" d
L "2025-11-13 15:00:00" pvcreate --norestorefile --uuid OvirtP-aaaa-bbbb-cccc-dddd-eeee-000001 "$d"
L "2025-11-13 15:00:01" vgcreate -s 4M --addtag RHAT_storage_domain --addtag MDT_VERSION=5 \
  --addtag "MDT_SDUUID=$sd" --addtag MDT_TYPE=ISCSI --addtag MDT_CLASS=Data "$sd" "$d"; vgs_made+=("$sd")
for lv in metadata ids leases inbox outbox; do
  L "2025-11-13 15:00:10" lvcreate --driverloaded n -an -Zn -L 4M -n "$lv" "$sd"
done
mkext4 "$work/guest.fs" 12288 0a guest tree
truncate -s 16M "$work/guest.raw"; dd if="$work/guest.fs" of="$work/guest.raw" bs=1M seek=4 conv=notrunc,sparse status=none
qemu-img convert -q -f raw -O qcow2 "$work/guest.raw" "$work/$v1"
(cd "$work" && qemu-img create -q -f qcow2 -b "$v1" -F qcow2 "$v2" 16M && qemu-io -f qcow2 -c "write -q -P 0x77 1M 64k" "$v2")
L "2025-11-13 15:01:00" lvcreate --driverloaded n -an -Zn -L 8M -n "$v1" --addtag "IU_$im" \
  --addtag PU_00000000-0000-0000-0000-000000000000 --addtag MD_1 "$sd"
L "2025-11-13 15:02:00" lvcreate --driverloaded n -an -Zn -L 4M -n "$v2" --addtag "IU_$im" \
  --addtag "PU_$v1" --addtag MD_2 "$sd"
scatter "$sd" "$v1" "$work/$v1"; scatter "$sd" "$v2" "$work/$v2"
finish "$img"
detach_all
