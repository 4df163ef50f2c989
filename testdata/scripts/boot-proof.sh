#!/usr/bin/env bash
# Proof with real firmware, outside the test suite: boots each boot
# fixture and its broken variants (the damages the tests re-enact, made
# here with dd on throwaway copies) read-only (-drive snapshot=on) under
# QEMU with SeaBIOS and with OVMF, records what the firmware and GRUB put
# on the screen / serial console, and sets it beside imgcheck's verdict
# for each path.
#
# QEMU, SeaBIOS and OVMF are Debian's packages unpacked with
# `apt-get download` + `dpkg -x` into $FW (default /work/cache/firmware):
# nothing is installed, qemu-utils is left alone.
#
#   testdata/scripts/boot-proof.sh [IMGCHECK]   (run from anywhere; needs zstd, python3)
#
# The table goes to stdout and $out/proof.tsv; testdata/scripts/BOOT-PROOF.md
# keeps the last run (date, commit, package versions), and
# testdata/fixtures/boot/firmware-proof.tsv the copy the suite matches.
set -euo pipefail
testdata=$(cd "$(dirname "$0")/.." && pwd)
FW=${FW:-/work/cache/firmware}
IMGCHECK=${1:-${CARGO_TARGET_DIR:-$testdata/../target}/debug/imgcheck}
out=${OUT:-$FW/proof}
mkdir -p "$FW" "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ ! -x "$FW/root/usr/bin/qemu-system-x86_64" ]; then
  (cd "$FW" && apt-get download qemu-system-x86 qemu-system-common ovmf seabios libcapstone4 libfdt1 libpmem1 \
     librdmacm1 libibverbs1 libslirp0 libvdeplug2 libndctl6 libdaxctl1 libnl-3-200 libnl-route-3-200 \
   && mkdir -p root && for d in *.deb; do dpkg -x "$d" root; done)
fi
export LD_LIBRARY_PATH=$FW/root/usr/lib/x86_64-linux-gnu:$FW/root/lib/x86_64-linux-gnu
export QEMU_MODULE_DIR=$FW/root/usr/lib/x86_64-linux-gnu/qemu   # the TCG accelerator module
QEMU=$FW/root/usr/bin/qemu-system-x86_64
SEABIOS=$FW/root/usr/share/seabios
OVMF=$FW/root/usr/share/ovmf/OVMF.fd
WAIT=${WAIT:-20}

# screen SOCK: the VGA text screen (0xB8000, 80x25) through the monitor.
screen() {
  python3 - "$1" <<'PY'
import socket, sys, time, re
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(3)
def cmd(c):
    s.sendall((c + "\n").encode()); time.sleep(1.0); data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            data += d
    except socket.timeout:
        pass
    return data.decode("latin-1")
cmd("")
txt = cmd("xp /4000bx 0xb8000")
vals = [int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})\b", txt.split("\n", 1)[-1])]
chars = vals[0::2]
rows = ["".join(chr(c) if 32 <= c < 127 else " " for c in chars[i:i+80]).rstrip() for i in range(0, len(chars), 80)]
print(" | ".join(r.strip() for r in rows if r.strip()))
cmd("quit")
PY
}

# boot FIRMWARE IMAGE NAME: what the firmware showed, in words.
boot() {
  local fw=$1 img=$2 name=$3 sock=$work/$name.$1.sock log=$out/$name.$1.log
  local args=(-nodefaults -machine pc -m 256 -display none -vga std -no-reboot
              -drive "file=$img,format=raw,if=ide,snapshot=on"
              -monitor "unix:$sock,server=on,wait=off")
  if [ "$fw" = seabios ]; then
    args+=(-bios "$SEABIOS/bios-256k.bin" -L "$SEABIOS"
           -chardev "file,id=dbg,path=$log" -device isa-debugcon,iobase=0x402,chardev=dbg)
  else
    args+=(-bios "$OVMF" -serial "file:$log")
  fi
  "$QEMU" "${args[@]}" >/dev/null 2>&1 &
  local pid=$!; pids+=("$pid")
  sleep "$WAIT"
  local scr; scr=$(screen "$sock" 2>/dev/null || true)
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  printf '%s\n' "$scr" > "$out/$name.$fw.screen"
  local all; all="$scr $(tr -d '\r' < "$log" | tr '\n' ' ' | tr -cd '[:print:] ')"
  if grep -q "kernel and initrd loaded" <<<"$all"; then echo "GRUB menu, kernel and initrd loaded"
  elif grep -q "imgcheck fixture: no kernel" <<<"$all"; then echo "GRUB menu, then error: kernel not found"
  elif grep -q "imgcheck fixture" <<<"$all"; then echo "GRUB menu (grub.cfg read)"
  elif grep -q "grub rescue>" <<<"$all"; then echo "GRUB rescue prompt"
  elif grep -q "GNU GRUB\|grub>" <<<"$all"; then echo "GRUB (no grub.cfg)"
  elif grep -qi "No bootable device" <<<"$all"; then echo "No bootable device"
  elif grep -q "Shell>\|UEFI Interactive Shell\|Boot Manager" <<<"$all"; then echo "UEFI shell / boot manager"
  elif grep -q "No bootable option" <<<"$all"; then echo "No bootable option"
  elif grep -q "GRUB GRUB" <<<"$scr"; then echo "loops printing \"GRUB \""
  elif grep -q "GRUB " <<<"$scr"; then echo "stops in boot.img: $(grep -o 'GRUB [A-Za-z ]*' <<<"$scr" | head -1)"
  elif grep -q "Booting from Hard Disk" <<<"$all"; then echo "hangs after Booting from Hard Disk"
  else echo "unclear (see $out/$name.$fw.*)"; fi
}

verdict() { # verdict IMAGE: "bios/uefi" outcomes by imgcheck
  # imgcheck exits 4 on damage: the verdict is in the JSON either way.
  { "$IMGCHECK" --json "$1" || true; } | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline()); b = r.get("boot") or {}
print((b.get("bios") or {}).get("outcome", "-") + "\t" + (b.get("uefi") or {}).get("outcome", "-"))'
}

variant() { # variant NAME FIXTURE [dd-args...]...
  local name=$1 fx=$2; shift 2
  zstd -dqf "$testdata/fixtures/boot/$fx.zst" -o "$work/$name.img"
  while [ $# -gt 0 ]; do
    dd if=/dev/zero of="$work/$name.img" bs=512 conv=notrunc status=none $1; shift
  done
}
# delta_variant NAME FIXTURE DELTA: the fixture with the sectors a real
# tool changed (rm, mdel; testdata/scripts/boot.sh) written back.
# A DELTA named *.zst (one holding a rewritten XFS log) is decompressed first.
delta_variant() {
  zstd -dqf "$testdata/fixtures/boot/$2.zst" -o "$work/$1.img"
  local d=$testdata/fixtures/boot/$3
  if [ ! -f "$d" ]; then zstd -dqf "$d.zst" -o "$work/$1.delta"; d=$work/$1.delta; fi
  python3 - "$work/$1.img" "$d" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    for line in open(sys.argv[2]):
        off, hx = line.split()
        f.seek(int(off)); f.write(bytes.fromhex(hx))
PY
}

printf 'variant\tSeaBIOS\timgcheck BIOS\tOVMF\timgcheck UEFI\n' | tee "$out/proof.tsv"
run() {
  local name=$1 img=$work/$1.img
  # ONLY: one variant name, or several separated by spaces.
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local v; v=$(verdict "$img")
  local sb; sb=$(boot seabios "$img" "$name")
  local ov; ov=$(boot ovmf "$img" "$name")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$sb" "${v%%$'\t'*}" "$ov" "${v##*$'\t'}" | tee -a "$out/proof.tsv"
}
variant gpt-clean gpt-grub.img; run gpt-clean
variant gpt-sector0-zeroed gpt-grub.img "count=1"; run gpt-sector0-zeroed
# boot code only (bytes 0..439; the disk signature and table kept)
zstd -dqf "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-code-zeroed.img"
dd if=/dev/zero of="$work/gpt-code-zeroed.img" bs=440 count=1 conv=notrunc status=none
run gpt-code-zeroed
# boot code (bytes 0..439) and the BIOS boot partition (LBA 2048..4095) zeroed
zstd -dqf "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-code-biosboot-zeroed.img"
dd if=/dev/zero of="$work/gpt-code-biosboot-zeroed.img" bs=440 count=1 conv=notrunc status=none
dd if=/dev/zero of="$work/gpt-code-biosboot-zeroed.img" bs=512 seek=2048 count=2048 conv=notrunc status=none
run gpt-code-biosboot-zeroed
variant gpt-core-zeroed gpt-grub.img "seek=2048 count=2048"; run gpt-core-zeroed
# 64 bytes of core.img's compressed kernel flipped (XOR 0x5A at LBA 2100):
# within what GRUB's Reed-Solomon parity repairs (startup_raw.S).
zstd -dqf "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-core-rs-repaired.img"
python3 - "$work/gpt-core-rs-repaired.img" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(2100 * 512); b = bytes(x ^ 0x5A for x in f.read(64)); f.seek(2100 * 512); f.write(b)
PY
run gpt-core-rs-repaired
delta_variant gpt-loader-deleted gpt-grub.img gpt-grub-loader-deleted.delta; run gpt-loader-deleted
# the ESP's second FAT copy: 4 KiB of 0xA5 from its second sector (the
# ESP starts at LBA 4096; reserved sectors and FAT size from its BPB)
zstd -dqf "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-fat-damaged.img"
esp_off=$((4096 * 512))
rsvd=$(od -An -tu2 -j $((esp_off + 14)) -N2 "$work/gpt-fat-damaged.img" | tr -d ' ')
fatsz=$(od -An -tu2 -j $((esp_off + 22)) -N2 "$work/gpt-fat-damaged.img" | tr -d ' ')
head -c 4096 /dev/zero | tr '\0' '\245' | dd of="$work/gpt-fat-damaged.img" bs=1 \
  seek=$((esp_off + (rsvd + fatsz) * 512 + 512)) conv=notrunc status=none
run gpt-fat-damaged
delta_variant gpt-esp-broken gpt-grub.img gpt-grub-esp-broken.delta; run gpt-esp-broken
delta_variant gpt-kernel-missing gpt-grub.img gpt-grub-kernel-missing.delta; run gpt-kernel-missing
variant mbr-clean mbr-grub.img; run mbr-clean
variant mbr-sector0-zeroed mbr-grub.img "count=1"; run mbr-sector0-zeroed
zstd -dqf "$testdata/fixtures/boot/mbr-grub.img.zst" -o "$work/mbr-code-zeroed.img"
dd if=/dev/zero of="$work/mbr-code-zeroed.img" bs=440 count=1 conv=notrunc status=none
run mbr-code-zeroed
variant mbr-gap-zeroed mbr-grub.img "seek=1 count=2047"; run mbr-gap-zeroed
delta_variant mbr-kernel-missing mbr-grub.img mbr-grub-kernel-missing.delta; run mbr-kernel-missing
# Attack 16 (session 16): a lost primary GPT (LBA 1-33 zeroed, the backup
# intact); the ESP's boot sector without its 55 AA; core.img without
# part_msdos (testdata/scripts/boot-partmap.sh); the MBR entry holding
# /boot set to type 0 by sfdisk.
variant gpt-primary-gpt-zeroed gpt-grub.img "seek=1 count=33"; run gpt-primary-gpt-zeroed
zstd -dqf "$testdata/fixtures/boot/gpt-grub.img.zst" -o "$work/gpt-esp-no-55aa.img"
dd if=/dev/zero of="$work/gpt-esp-no-55aa.img" bs=1 seek=$((esp_off + 510)) count=2 conv=notrunc status=none
run gpt-esp-no-55aa
delta_variant mbr-no-partmap mbr-grub.img mbr-grub-no-partmap.delta; run mbr-no-partmap
zstd -dqf "$testdata/fixtures/boot/mbr-grub.img.zst" -o "$work/mbr-type0.img"
sfdisk -q --part-type "$work/mbr-type0.img" 1 0
run mbr-type0
# Issue 16, session 10: /boot on XFS (boot-xfs.sh: v5 mkfs.xfs defaults,
# its kernel removed, and the same /boot on a v4 XFS); an EFI GRUB made
# without part_gpt (boot-efi-partmap.sh); the two tune2fs changes the
# suite makes on gpt-grub.img's root ext4 (partition 3, LBA 36864 to the
# backup GPT): a new UUID, so the embedded search finds nothing (attack
# F14), and casefold, which GRUB 2.06's ext2 driver refuses (F20).
variant gpt-xfs-clean gpt-xfs.img; run gpt-xfs-clean
delta_variant gpt-xfs-kernel-missing gpt-xfs.img gpt-xfs-kernel-missing.delta; run gpt-xfs-kernel-missing
variant gpt-xfs-v4-clean gpt-xfs-v4.img; run gpt-xfs-v4-clean
delta_variant gpt-efi-no-partmap gpt-grub.img gpt-grub-efi-no-partmap.delta; run gpt-efi-no-partmap
# tune_root NAME TUNE2FS-ARGS...: gpt-grub.img with tune2fs run on its root.
tune_root() {
  local name=$1; shift
  variant "$name" gpt-grub.img
  local img=$work/$name.img root_off=$((36864 * 512))
  local len=$(( $(stat -c %s "$img") - root_off - 34 * 512 ))
  dd if="$img" of="$work/$name.root" bs=512 skip=36864 count=$((len / 512)) status=none
  e2fsck -fp "$work/$name.root" >/dev/null
  tune2fs "$@" "$work/$name.root" >/dev/null
  dd if="$work/$name.root" of="$img" bs=512 seek=36864 conv=notrunc status=none
  rm -f "$work/$name.root"
}
tune_root gpt-root-uuid-changed -U 5a5a5a5a-0000-0000-0000-0000000000ee; run gpt-root-uuid-changed
tune_root gpt-root-casefold -O casefold; run gpt-root-casefold
