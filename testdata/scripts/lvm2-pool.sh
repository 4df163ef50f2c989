#!/usr/bin/env bash
# LVM2 fixtures for how LVs are found across the images of one run, made by
# the real lvm2 tools on loop devices (never activated: --driverloaded n,
# -an -Zn) with each LV's contents written at the extents lvm2 allocated
# (lvm2_helper.py scatter), and qcow2 images made by qemu-img:
#   dup-x.img, dup-y.img: two unrelated disks, each with its own VG named
#     `dup` (different VG UUIDs, as a cloned or re-used disk leaves them).
#     X: LV base holds 1 MiB of bytes that are no qcow2. Y: LV base is a
#     qcow2; LV top a qcow2 naming /dev/dup/base; LV top2 one naming bare
#     `base`. Given together, /dev/dup/base is ambiguous (lvm: "Multiple VGs
#     found with the same name").
#   split-a.img, split-b.img: VG imgck_split on two PVs; LV top (qcow2,
#     backing /dev/imgck_split/base) on a, LV base (qcow2) wholly on b.
#     Alone, a leaves base on a missing PV; a clone of b (same PV UUID) is a
#     duplicate PV.
#   libvirt.img: VG imgck_lib as a libvirt LVM pool leaves it, no oVirt
#     tags: LV disk holds a qcow2 whose first L1 entry points past the end
#     of the image (qemu-img check: errors); LV ov a qcow2 overlay naming
#     /dev/imgck_lib/disk.
#   chain.img: VG imgck_chain with 70 oVirt-tagged LVs c0..c69, c(i) a
#     qcow2 overlay naming ../i/c(i+1) as vdsm writes names, c69 the base:
#     a chain deeper than imgcheck's bound (qemu sets none).
source "$(dirname "$0")/lvm2-lib.sh"
q=$work/q; mkdir -p "$q"
ovirt="--addtag IU_i --addtag PU_00000000-0000-0000-0000-000000000000"
C() { L "2025-11-15 10:00:00" lvcreate --driverloaded n -an -Zn "$@"; }

python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 7 + 3) & 255 for i in range(1 << 20)))' > "$q/xbase"
qemu-img create -q -f qcow2 "$q/ybase" 8M
qemu-img create -q -f qcow2 -u -b /dev/dup/base -F qcow2 "$q/top" 8M
qemu-img create -q -f qcow2 -u -b base -F qcow2 "$q/top2" 8M
x=$work/dup-x.img y=$work/dup-y.img
truncate -s 16M "$x" "$y"
attach "$x" dx
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid DupXXX-aaaa-bbbb-cccc-dddd-eeee-000001 "$dx"
L "2025-11-15 10:00:00" vgcreate -s 1M dup "$dx"
C -L 1M -n base $ovirt dup; scatter dup base "$q/xbase"
# Stored and detached before Y's VG of the same name is made: the filter
# then shows lvm only Y.
finish "$x"; detach_all
attach "$y" dy
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid DupYYY-aaaa-bbbb-cccc-dddd-eeee-000001 "$dy"
L "2025-11-15 10:00:00" vgcreate -s 1M dup "$dy"
for n in base top top2; do C -L 1M -n "$n" $ovirt dup; done
scatter dup base "$q/ybase"; scatter dup top "$q/top"; scatter dup top2 "$q/top2"
finish "$y"; detach_all

qemu-img create -q -f qcow2 "$q/sbase" 8M
qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' "$q/sbase" >/dev/null
qemu-img create -q -f qcow2 -u -b /dev/imgck_split/base -F qcow2 "$q/stop" 8M
a=$work/split-a.img b=$work/split-b.img
truncate -s 8M "$a" "$b"; attach "$a" da; attach "$b" db
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid SplitA-aaaa-bbbb-cccc-dddd-eeee-000001 "$da"
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid SplitB-aaaa-bbbb-cccc-dddd-eeee-000001 "$db"
L "2025-11-15 10:00:00" vgcreate -s 1M imgck_split "$da" "$db"; vgs_made+=(imgck_split)
C -L 1M -n top $ovirt imgck_split "$da"; C -L 1M -n base $ovirt imgck_split "$db"
scatter imgck_split top "$q/stop"; scatter imgck_split base "$q/sbase"
finish "$a" "$b"; detach_all

qemu-img create -q -f qcow2 "$q/disk" 8M
qemu-io -f qcow2 -c 'write -P 0x55 0 64k' "$q/disk" >/dev/null
python3 - "$q/disk" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b"); h = f.read(104)
l1 = struct.unpack(">Q", h[40:48])[0]
f.seek(l1); f.write(struct.pack(">Q", (1 << 63) | 0x7f0000)); f.close()
PY
# qemu-img check exits 2 on corruption: the image must be corrupt.
rc=0; qemu-img check -q "$q/disk" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || { echo "qemu-img check gave $rc, not 2" >&2; exit 1; }
qemu-img create -q -f qcow2 -u -b /dev/imgck_lib/disk -F qcow2 "$q/ov" 8M
l=$work/libvirt.img; truncate -s 16M "$l"; attach "$l" dl
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid LibvPV-aaaa-bbbb-cccc-dddd-eeee-000001 "$dl"
L "2025-11-15 10:00:00" vgcreate -s 1M imgck_lib "$dl"; vgs_made+=(imgck_lib)
for n in disk ov; do C -L 1M -n "$n" imgck_lib; scatter imgck_lib "$n" "$q/$n"; done
finish "$l"; detach_all

n=70
qemu-img create -q -f qcow2 "$q/c$((n - 1))" 8M
for i in $(seq 0 $((n - 2))); do
  qemu-img create -q -f qcow2 -u -b "../i/c$((i + 1))" -F qcow2 "$q/c$i" 8M
done
c=$work/chain.img; truncate -s 80M "$c"; attach "$c" dc
L "2025-11-15 10:00:00" pvcreate --norestorefile --uuid ChainP-aaaa-bbbb-cccc-dddd-eeee-000001 "$dc"
L "2025-11-15 10:00:00" vgcreate -s 1M imgck_chain "$dc"; vgs_made+=(imgck_chain)
for i in $(seq 0 $((n - 1))); do C -L 1M -n "c$i" $ovirt imgck_chain; scatter imgck_chain "c$i" "$q/c$i"; done
finish "$c"; detach_all
