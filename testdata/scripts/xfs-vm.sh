#!/usr/bin/env bash
# XFS fixtures this host's kernel cannot write (it is built without
# CONFIG_XFS_QUOTA, CONFIG_XFS_RT and CONFIG_XFS_SUPPORT_V4): quota files
# with dquots, realtime files with data, and v4 filesystems populated by
# the kernel. mkfs.xfs runs here; the population runs inside a KVM guest
# booted (KVM or TCG) from Debian's own kernel (which has all three), so every
# structure is written by the kernel's XFS code, not by hand.
#
# Nothing is installed: Debian's linux-image and busybox-static are
# fetched with `apt-get download` and unpacked with `dpkg -x` into $VM
# (default /work/cache/vm); QEMU is the copy testdata/scripts/boot-proof.sh
# unpacks into $FW (default /work/cache/firmware), fetched the same way if
# absent. qemu-utils is left alone. Skips visibly (exit 0, "SKIP" on
# stderr) with ACCEL=kvm and no /dev/kvm, or when the packages cannot be fetched.
#
# The guest: an initramfs with busybox, bash, xfs_io, xfs_quota and
# setfattr (the host's binaries and their libraries) and the xfs and
# virtio modules. Disk 1 (vda) is the filesystem, disk 2 (vdb) a tar with
# the workload (run.sh + testdata/xfs/lib.sh), disk 3 (vdc) an optional
# realtime device. The guest prints XFSVM-EXIT <status> and powers off.
#
#   testdata/scripts/xfs-vm.sh      (root; needs zstd, xfsprogs)
source "$(dirname "$0")/common.sh"
source "$testdata/xfs/lib.sh"   # TEST_DIR etc.: how fstests makes filesystems under 300 MiB
VM=${VM:-/work/cache/vm}
FW=${FW:-/work/cache/firmware}
skip() { echo "xfs-vm.sh: SKIP: $*" >&2; exit 0; }
# ACCEL=kvm uses /dev/kvm. The default is TCG: on this host (nested KVM on
# AMD EPYC) a KVM guest hangs right after the kernel is decompressed,
# before earlyprintk prints a line, while TCG boots the same kernel in ~3 s.
ACCEL=${ACCEL:-tcg}
if [ "$ACCEL" = kvm ]; then [ -w /dev/kvm ] || skip "no usable /dev/kvm"; fi
kver=
kernel() {
  local pkg
  if ! ls "$VM"/root/boot/vmlinuz-* >/dev/null 2>&1; then
    mkdir -p "$VM"
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    [ -n "$pkg" ] || return 1
    # qemu-system-data: the option ROMs -kernel boots through (linuxboot_dma.bin)
    (cd "$VM" && apt-get download "$pkg" busybox-static qemu-system-data) || return 1
    mkdir -p "$VM/root"
    for d in "$VM"/*.deb; do dpkg -x "$d" "$VM/root"; done
  fi
  kver=$(basename "$(ls "$VM"/root/boot/vmlinuz-* | head -1)"); kver=${kver#vmlinuz-}
}
kernel || skip "cannot fetch Debian's linux-image-amd64 / busybox-static"
cfg="$VM/root/boot/config-$kver"
for o in CONFIG_XFS_QUOTA CONFIG_XFS_RT CONFIG_XFS_SUPPORT_V4; do
  grep -q "^$o=y" "$cfg" || skip "$kver has no $o"
done
if [ ! -x "$FW/root/usr/bin/qemu-system-x86_64" ]; then
  (mkdir -p "$FW" && cd "$FW" && apt-get download qemu-system-x86 qemu-system-common libcapstone4 libfdt1 libpmem1 \
     librdmacm1 libibverbs1 libslirp0 libvdeplug2 libndctl6 libdaxctl1 libnl-3-200 libnl-route-3-200 seabios \
   && mkdir -p root && for d in *.deb; do dpkg -x "$d" root; done) || skip "cannot fetch qemu-system-x86"
fi
QEMU=$FW/root/usr/bin/qemu-system-x86_64
qemu_env=(env "LD_LIBRARY_PATH=$FW/root/usr/lib/x86_64-linux-gnu:$FW/root/lib/x86_64-linux-gnu"
          "QEMU_MODULE_DIR=$FW/root/usr/lib/x86_64-linux-gnu/qemu")

# The initramfs, built once per run.
ird=$work/initrd
mkdir -p "$ird"/{bin,sbin,dev,proc,sys,mnt,rt,w,tmp,lib/modules,etc}
cp "$VM/root/bin/busybox" "$ird/bin/busybox"
mods="kernel/crypto/crc32c_generic kernel/lib/libcrc32c kernel/drivers/virtio/virtio_ring kernel/drivers/virtio/virtio
      kernel/drivers/virtio/virtio_pci_legacy_dev kernel/drivers/virtio/virtio_pci_modern_dev
      kernel/drivers/virtio/virtio_pci kernel/drivers/block/virtio_blk kernel/fs/xfs/xfs"
order=
for m in $mods; do
  cp "$VM/root/lib/modules/$kver/$m.ko" "$ird/lib/modules/"; order="$order $(basename "$m")"
done
for b in bash xfs_io xfs_quota setfattr; do
  p=$(command -v "$b"); cp "$p" "$ird/bin/"
  for l in $(ldd "$p" | awk '$(NF-1) ~ /^\// {print $(NF-1)}'); do
    mkdir -p "$ird$(dirname "$l")"; cp -L "$l" "$ird$l"
  done
done
echo "root:x:0:0::/:/bin/sh" > "$ird/etc/passwd"
echo "root:x:0:" > "$ird/etc/group"
cat > "$ird/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
ln -s /proc/self/fd /dev/fd
for m in $order; do insmod /lib/modules/\$m.ko || echo "insmod \$m failed"; done
i=0; while [ ! -b /dev/vdb ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done
tar -xf /dev/vdb -C /w
cd /w && PATH=/bin bash /w/run.sh; echo "XFSVM-EXIT \$?"
sync; poweroff -f
EOF
chmod +x "$ird/init"
(cd "$ird" && find . | "$VM/root/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$work/initrd.gz"

# vm IMAGE RUNSH [RTDEV]: run RUNSH in the guest over IMAGE (vda), with
# RTDEV as vdc; fails unless the workload exits 0. (no_timer_check: under
# TCG on a loaded host the kernel's IO-APIC timer test can fail and panic.)
vm() {
  local img=$1 run=$2 rt=${3:-} log=$work/$(basename "$1").log
  want "$(basename "$img" .img)" || return 1
  rm -rf "$work/w"; mkdir -p "$work/w"
  cp "$run" "$work/w/run.sh"; cp "$testdata/xfs/lib.sh" "$work/w/lib.sh"
  tar -cf "$work/w.tar" -C "$work/w" .
  local drives=(-drive "file=$img,format=raw,if=virtio,cache=unsafe"
                -drive "file=$work/w.tar,format=raw,if=virtio,readonly=on")
  [ -z "$rt" ] || drives+=(-drive "file=$rt,format=raw,if=virtio,cache=unsafe")
  timeout 300 "${qemu_env[@]}" "$QEMU" -accel "$ACCEL" -nographic -m 512 -no-reboot -nodefaults -serial stdio \
    -L "$VM/root/usr/share/qemu" -L "$FW/root/usr/share/seabios" \
    -kernel "$VM/root/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet no_timer_check" "${drives[@]}" > "$log" 2>&1 || true
  grep -a -E "^(User|Group|Project|EXT|  [0-9]+: )" "$log" | head -40 || true
  if ! grep -aq 'XFSVM-EXIT 0' "$log"; then
    echo "xfs-vm.sh: workload on $(basename "$img") failed:" >&2; tail -30 "$log" >&2; return 1
  fi
}

# Workloads (bash in the guest; lib.sh's populate is shared with xfs.sh).
cat > "$work/quota.sh" <<'EOF'
set -euo pipefail
source /w/lib.sh
m=/mnt
mount -o "$QOPTS" /dev/vda $m
populate $m small
mkdir -p $m/users $m/proj $m/proj/sub
for u in 1000 1001 2000 70000; do
  mkdir -p $m/users/u$u
  for i in 1 2 3; do blob $((u % 7 * 3000 + i * 5000)) "$u.$i" > $m/users/u$u/f$i; done
  chown -R $u:$((u + 5)) $m/users/u$u
done
chgrp 300 $m/users/u1001/f2
if [ -n "${PROJ:-}" ]; then
  xfs_quota -x -c "project -s -p $m/proj 42" $m >/dev/null
  for i in 1 2 3 4; do blob $((i * 20000)) "p$i" > $m/proj/f$i; done
  blob 70000 ps > $m/proj/sub/deep
  chown 1000:1005 $m/proj/f1
  xfs_quota -x -c "limit -p bsoft=1m bhard=2m isoft=50 ihard=100 42" $m
fi
if [[ ,$QOPTS == *,u* ]]; then
  xfs_quota -x -c "limit -u bsoft=100k bhard=1m isoft=2 ihard=20 1001" $m
  xfs_quota -x -c "limit -u bhard=10m 70000" $m
  xfs_quota -x -c "timer -u -b 3d" $m
fi
if [[ ,$QOPTS == *,g* ]]; then xfs_quota -x -c "limit -g bsoft=500k ihard=30 1005" $m; fi
rm -f $m/users/u2000/f3
xfs_quota -x -c "report -ugpbin" $m
sync -f $m; umount $m
EOF
cat > "$work/v4.sh" <<'EOF'
set -euo pipefail
source /w/lib.sh
mount /dev/vda /mnt
populate /mnt full
mkdir -p /mnt/gone; for i in $(seq 1 30); do blob $((i * 3000)) g$i > /mnt/gone/g$i; done
rm -rf /mnt/gone/g1* ; sync -f /mnt; umount /mnt
EOF
cat > "$work/rt.sh" <<'EOF'
set -euo pipefail
source /w/lib.sh
m=/mnt
mount -o rtdev=/dev/vdc /dev/vda $m
populate $m small
mkdir -p $m/rtdir
xfs_io -c "chattr +t" $m/rtdir        # rtinherit: new files land in the rt section
for i in $(seq 1 20); do blob $((i * 7000)) rt$i > $m/rtdir/r$i; done
for i in $(seq 1 3 20); do rm -f $m/rtdir/r$i; done
: > $m/rtfile; xfs_io -c "chattr +r" $m/rtfile
xfs_io -c "pwrite -S 0x71 0 300k" -c "pwrite -S 0x72 1m 64k" -c "falloc 2m 256k" -c fsync $m/rtfile >/dev/null
: > $m/rtmany; xfs_io -c "chattr +r" $m/rtmany
for i in $(seq 0 2 200); do xfs_io -c "pwrite -S 0x73 $((i * 65536)) 4096" $m/rtmany >/dev/null; done
xfs_io -c "bmap -v" $m/rtfile
sync -f $m; umount $m
EOF

# ONLY="NAME ...": run only these workloads.
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
u=5a5a5a5a-0000-0000-0000-0000000019
out=()
# v5-quota: user, group and project quota with limits, several owners
# (one with id 70000, so the user quota file has a hole before its block).
truncate -s 48M "$work/v5-quota.img"
mkfs.xfs -q -f -d agcount=2 -m uuid=${u}11 "$work/v5-quota.img"
vm "$work/v5-quota.img" <(echo "QOPTS=usrquota,grpquota,prjquota PROJ=1"; cat "$work/quota.sh") && out+=(v5-quota)
# v4-quota: crc=0 with user and group quota (v4 shares one inode between
# group and project, so both cannot be on).
truncate -s 48M "$work/v4-quota.img"
mkfs.xfs -q -f -m crc=0,uuid=${u}12 -d agcount=2 "$work/v4-quota.img"
vm "$work/v4-quota.img" <(echo "QOPTS=uquota,gquota"; cat "$work/quota.sh") && out+=(v4-quota)
# v4-pquota: v4 with project quota alone (it lives in sb_gquotino).
truncate -s 40M "$work/v4-pquota.img"
mkfs.xfs -q -f -m crc=0,uuid=${u}13 -d agcount=2 "$work/v4-pquota.img"
vm "$work/v4-pquota.img" <(echo "QOPTS=prjquota PROJ=1"; cat "$work/quota.sh") && out+=(v4-pquota)
# v4-kern: crc=0, 1 KiB blocks, no ftype, populated by the kernel.
truncate -s 48M "$work/v4-kern.img"
mkfs.xfs -q -f -m crc=0,uuid=${u}14 -b size=1024 -n ftype=0 -d agcount=3 "$work/v4-kern.img"
vm "$work/v4-kern.img" "$work/v4.sh" && out+=(v4-kern)
# v5-rtdata: a realtime section with files written into it (rtinherit
# directory, chattr +r files, a preallocated rt range) and 16 KiB rt
# extents. The fixture is the data device (the rt bitmap and summary live
# there); the rt device is kept beside it for xfs_repair -n -r.
truncate -s 40M "$work/v5-rtdata.img"; truncate -s 16M "$work/v5-rtdata.rtdev"
mkfs.xfs -q -f -d agcount=2 -m uuid=${u}15,reflink=0 -r rtdev="$work/v5-rtdata.rtdev",extsize=16k "$work/v5-rtdata.img"
vm "$work/v5-rtdata.img" "$work/rt.sh" "$work/v5-rtdata.rtdev" && out+=(v5-rtdata)
# v4-rtdata: a v4 realtime filesystem, rt extent = 1 block.
truncate -s 40M "$work/v4-rtdata.img"; truncate -s 8M "$work/v4-rtdata.rtdev"
mkfs.xfs -q -f -m crc=0,uuid=${u}16 -d agcount=2 -r rtdev="$work/v4-rtdata.rtdev" "$work/v4-rtdata.img"
vm "$work/v4-rtdata.img" "$work/rt.sh" "$work/v4-rtdata.rtdev" && out+=(v4-rtdata)
# v5-quota-1k: 1 KiB blocks (7 dquots a block, not 30); bigtime off
# (dquot timers in seconds, no bigtime type bit).
truncate -s 40M "$work/v5-quota-1k.img"
mkfs.xfs -q -f -b size=1024 -d agcount=2 -m uuid=${u}17,bigtime=0 "$work/v5-quota-1k.img"
vm "$work/v5-quota-1k.img" <(echo "QOPTS=usrquota,grpquota,prjquota PROJ=1"; cat "$work/quota.sh") && out+=(v5-quota-1k)
# (Realtime files under quota, for d_rtbcount, are not made: mounted with
# rtdev,uquota,gquota the 6.1 guest left no quota inodes; Linux turns
# quotas off on a filesystem with a realtime section before 6.14.)
for f in "${out[@]}"; do
  rt=(); [ -e "$work/$f.rtdev" ] && rt=(-r "$work/$f.rtdev")
  xfs_repair -n "${rt[@]}" "$work/$f.img" >/dev/null 2>&1 && r=0 || r=$?
  echo "$f: xfs_repair -n exit $r"
  store xfs "$work/$f.img"
  [ -e "$work/$f.rtdev" ] && store xfs "$work/$f.rtdev"
done
echo "xfs-vm.sh: ${#out[@]} fixtures made in the VM (of 7)"
