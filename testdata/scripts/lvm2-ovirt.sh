#!/usr/bin/env bash
# ovirt-chain.img: an oVirt/RHV block storage domain as vdsm lays it out
# (lib/vdsm/storage/blockSD.py, blockVolume.py): one PV, the VG named by
# the storage domain UUID and tagged RHAT_storage_domain and MDT_*, the
# special LVs, and volume LVs named by volume UUID, tagged IU_<image>,
# PU_<parent>, MD_<slot>, with V5 metadata slots (1 MiB + slot x 8 KiB) in
# the metadata LV. The qcow2 volumes are made as vdsm makes them, in an
# images/<image>/<volume> tree, so each overlay names its parent
# `../<image>/<volume>` as qemu-img writes it:
#   image A: vA1 (qcow2 base: GPT + ext4) <- vA2 <- vA3 (two overlays,
#            each adding a file; qemu-img convert -B keeps only changes);
#   template image T: vT1 (qcow2: MBR + FAT16), VOLTYPE SHARED;
#   image B: vB1, a VM disk made from the template (its parent is vT1 of
#            another image: PU_ names it, IU_ is B's own);
#   image C: vC1, a RAW volume (GPT + ext4 straight on the LV).
# Each volume is written at the extents lvm2 allocated (lvm2_helper.py
# scatter), as dm-linear maps them.
source "$(dirname "$0")/lvm2-lib.sh"

sd=5a5a0000-0000-4000-8000-0000000ad001
imA=5a5a0000-0000-4000-8000-0000000aa001 imT=5a5a0000-0000-4000-8000-0000000aa00f
imB=5a5a0000-0000-4000-8000-0000000aa002 imC=5a5a0000-0000-4000-8000-0000000aa003
vA1=5a5a0000-0000-4000-8000-0000000ab001 vA2=5a5a0000-0000-4000-8000-0000000ab002
vA3=5a5a0000-0000-4000-8000-0000000ab003 vT1=5a5a0000-0000-4000-8000-0000000ab00f
vB1=5a5a0000-0000-4000-8000-0000000ab004 vC1=5a5a0000-0000-4000-8000-0000000ab005
none=00000000-0000-0000-0000-000000000000
export SOURCE_DATE_EPOCH=1763000000
ims=$work/images; mkdir -p "$ims/$imA" "$ims/$imT" "$ims/$imB" "$ims/$imC"

# gptdisk RAW FS: a 16 MiB disk, GPT with one Linux partition at 1 MiB
# exactly the size of FS, holding it (fixed GUIDs).
gptdisk() {
  truncate -s 16M "$1"
  sgdisk -U 5a5a0000-0000-4000-8000-00000000cccc -n "1:2048:+$(( $(stat -c %s "$2") / 1024 ))K" \
    -t 1:8300 -u 1:5a5a0000-0000-4000-8000-00000000ccc1 "$1" >/dev/null
  dd if="$2" of="$1" bs=1M seek=1 conv=notrunc,sparse status=none
}
# ext4 of image A, three generations (each overlay adds a file).
mkext4 "$work/a.fs" 12288 c1 guest tree
gptdisk "$work/a1.raw" "$work/a.fs"
printf 'second generation\n' > "$work/gen2"; seq 1 3000 > "$work/gen3"
debugfs -w -R "write $work/gen2 /gen2" "$work/a.fs" >/dev/null 2>&1
gptdisk "$work/a2.raw" "$work/a.fs"
debugfs -w -R "write $work/gen3 /gen3" "$work/a.fs" >/dev/null 2>&1
gptdisk "$work/a3.raw" "$work/a.fs"
(cd "$ims/$imA" \
  && qemu-img convert -q -f raw -O qcow2 "$work/a1.raw" "$vA1" \
  && qemu-img convert -q -f raw -O qcow2 -B "../$imA/$vA1" -F qcow2 "$work/a2.raw" "$vA2" \
  && qemu-img convert -q -f raw -O qcow2 -B "../$imA/$vA2" -F qcow2 "$work/a3.raw" "$vA3")
# The template: MBR + FAT16 (mtools: the kernel here mounts no vfat).
faketime -f "@2025-11-13 02:13:20" mkfs.vfat -C -n TEMPLATE -i 5a5a00f1 "$work/t.fat" 12288 >/dev/null
faketime -f "@2025-11-13 02:13:20" mcopy -i "$work/t.fat" "$work/tree/etc/hostname" ::/HOSTNAME
truncate -s 16M "$work/t.raw"
printf 'label: dos\nlabel-id: 0x5a5a00f2\nstart=2048, size=12M, type=6\n' | sfdisk -q "$work/t.raw"
dd if="$work/t.fat" of="$work/t.raw" bs=1M seek=1 conv=notrunc,sparse status=none
(cd "$ims/$imT" && qemu-img convert -q -f raw -O qcow2 "$work/t.raw" "$vT1")
# The VM disk from the template: one more file in its FAT.
faketime -f "@2025-11-13 02:13:20" mcopy -i "$work/t.fat" "$work/tree/var/log/syslog" ::/SYSLOG
dd if="$work/t.fat" of="$work/t.raw" bs=1M seek=1 conv=notrunc,sparse status=none
(cd "$ims/$imB" && qemu-img convert -q -f raw -O qcow2 -B "../$imT/$vT1" -F qcow2 "$work/t.raw" "$vB1")
# The RAW volume.
mkext4 "$work/c.fs" 8192 c5 data
gptdisk "$work/c.raw" "$work/c.fs"
for v in "$ims"/*/*; do qemu-img info "$v" | grep -e '^image' -e '^backing file:' >&2 || true; done

img=$work/ovirt-chain.img; truncate -s 96M "$img"; attach "$img" d
L "2025-11-14 08:00:00" pvcreate --norestorefile --uuid OvirtC-aaaa-bbbb-cccc-dddd-eeee-000001 "$d"
L "2025-11-14 08:00:01" vgcreate -s 4M --addtag RHAT_storage_domain --addtag MDT_VERSION=5 \
  --addtag "MDT_SDUUID=$sd" --addtag MDT_TYPE=ISCSI --addtag MDT_CLASS=Data \
  --addtag MDT_ROLE=Regular --addtag MDT_LOGBLKSIZE=512 --addtag MDT_PHYBLKSIZE=512 "$sd" "$d"
vgs_made+=("$sd")
for lv in metadata ids leases inbox outbox xleases; do
  L "2025-11-14 08:00:10" lvcreate --driverloaded n -an -Zn -L 4M -n "$lv" "$sd"
done
# vol LV SIZE IMAGE PARENT SLOT FORMAT DISKTYPE VOLTYPE TIME FILE
slots=$work/metadata.lv; truncate -s 4M "$slots"
vol() {
  L "$9" lvcreate --driverloaded n -an -Zn -L "$2" -n "$1" --addtag "IU_$3" \
    --addtag "PU_$4" --addtag "MD_$5" "$sd"
  local cap; cap=$(qemu-img info --output=json "${10}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$6" = RAW ] && cap=$(stat -c %s "${10}")
  printf 'CAP=%s\nCTIME=1763107200\nDESCRIPTION=\nDISKTYPE=%s\nDOMAIN=%s\nFORMAT=%s\nGEN=0\nIMAGE=%s\nLEGALITY=LEGAL\nPUUID=%s\nTYPE=SPARSE\nVOLTYPE=%s\nEOF\n' \
    "$cap" "$7" "$sd" "$6" "$3" "$4" "$8" \
    | dd of="$slots" bs=8192 seek=$((128 + $5)) conv=notrunc status=none
  scatter "$sd" "$1" "${10}"
}
vol "$vA1" 8M "$imA" "$none" 1 COW DATA INTERNAL "2025-11-14 08:01:00" "$ims/$imA/$vA1"
vol "$vA2" 4M "$imA" "$vA1" 2 COW DATA INTERNAL "2025-11-14 08:02:00" "$ims/$imA/$vA2"
vol "$vA3" 4M "$imA" "$vA2" 3 COW DATA LEAF "2025-11-14 08:03:00" "$ims/$imA/$vA3"
vol "$vT1" 4M "$imT" "$none" 4 COW DATA SHARED "2025-11-14 08:04:00" "$ims/$imT/$vT1"
vol "$vB1" 4M "$imB" "$vT1" 5 COW DATA LEAF "2025-11-14 08:05:00" "$ims/$imB/$vB1"
vol "$vC1" 16M "$imC" "$none" 6 RAW DATA LEAF "2025-11-14 08:06:00" "$work/c.raw"
scatter "$sd" metadata "$slots"
finish "$img"
detach_all
