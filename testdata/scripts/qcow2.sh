#!/usr/bin/env bash
# Builds the qcow2 fixtures with qemu-img and qemu-io into a temp dir and
# writes zstd-compressed copies to testdata/fixtures/qcow2/.
# Deterministic (snapshot dates pinned with faketime when it is installed)
# except the LUKS fixture, whose keys are random.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/fixtures/qcow2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$tmp"

# snap TIME NAME IMAGE: an internal snapshot dated TIME (UTC).
snap() {
  # -f: a frozen clock (the nanoseconds would differ otherwise).
  if command -v faketime >/dev/null; then TZ=UTC faketime -f "$1" qemu-img snapshot -c "$2" "$3"
  else qemu-img snapshot -c "$2" "$3"; fi
}
io() { local img="$1"; shift; local args=(); for c in "$@"; do args+=(-c "$c"); done; qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null; }
# Guest data: distinct patterns at scattered offsets, a zeroed range and a discard.
fill() {
  io "$1" 'write -P 0xab 0 64k' 'write -P 0x11 192k 8k' 'write -P 0x5a 1M 128k' \
        'write -P 0xc3 3M 4k' 'write -z 1088k 64k' 'write -P 0x77 2M 64k' 'discard 2M 64k'
}

# Deterministic pseudo-random bytes (incompressible) mixed with text (compressible).
python3 - <<'PY'
import random
r = random.Random(42)
buf = bytearray(1 << 20)
for c in range(16):
    i = c * 65536
    if c == 0:
        buf[i:i+65536] = bytes(r.getrandbits(8) for _ in range(65536))
    elif c == 5:
        buf[i:i+32768] = bytes(r.getrandbits(8) for _ in range(32768))
        buf[i+32768:i+65536] = b"x" * 32768
    elif c % 3 == 1:
        line = b"imgcheck qcow2 fixture cluster %02d line\n" % c
        buf[i:i+65536] = (line * (65536 // len(line) + 1))[:65536]
    elif c % 3 == 2:
        buf[i:i+65536] = bytes([c]) * 65536
open("mixed.raw", "wb").write(buf)
PY

qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 4M && fill v2.qcow2
qemu-img create -q -f qcow2 v3.qcow2 4M && fill v3.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 c512.qcow2 4M && fill c512.qcow2
qemu-img create -q -f qcow2 -o cluster_size=2M c2m.qcow2 8M && io c2m.qcow2 'write -P 0xab 0 64k' 'write -P 0x22 5M 4k'
qemu-img create -q -f qcow2 -o refcount_bits=1 rc1.qcow2 4M && fill rc1.qcow2
qemu-img create -q -f qcow2 -o refcount_bits=64 rc64.qcow2 4M && fill rc64.qcow2
qemu-img convert -q -c -O qcow2 mixed.raw zlib.qcow2
qemu-img convert -q -c -O qcow2 -o compression_type=zstd mixed.raw zstd.qcow2
qemu-img convert -q -c -O qcow2 -o extended_l2=on,compression_type=zstd mixed.raw zstd-extl2.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on extl2.qcow2 4M
io extl2.qcow2 'write -P 0xab 0 64k' 'write -P 0x11 192k 2k' 'write -P 0x12 200k 6k' 'write -z 204k 2k' \
     'write -P 0x5a 1M 4k' 'write -z 1100k 64k'
qemu-img create -q -f qcow2 -o preallocation=metadata prealloc.qcow2 4M && fill prealloc.qcow2

# Internal snapshots with different data before and after each.
qemu-img create -q -f qcow2 snap.qcow2 4M
io snap.qcow2 'write -P 0xa1 0 128k' 'write -P 0xa2 1M 64k'
snap '2024-01-15 10:00:00' first snap.qcow2
io snap.qcow2 'write -P 0xb1 64k 64k' 'write -z 1M 64k' 'write -P 0xb2 3M 64k'
snap '2024-03-01 18:30:00' second snap.qcow2
io snap.qcow2 'write -P 0xc1 0 32k' 'discard 3M 64k'

# A version 2 image with a snapshot (no extra data: no recorded disk size).
qemu-img create -q -f qcow2 -o compat=0.10 snap-v2.qcow2 4M
io snap-v2.qcow2 'write -P 0xe1 0 64k'
snap '2023-06-01 08:00:00' old snap-v2.qcow2
io snap-v2.qcow2 'write -P 0xe2 0 32k'

# Three snapshots in a row share their L2 tables (refcounts of 4).
qemu-img create -q -f qcow2 snap3.qcow2 4M
io snap3.qcow2 'write -P 0xd1 0 192k' 'write -P 0xd2 2M 64k'
snap '2024-02-01 12:00:00' a snap3.qcow2
snap '2024-02-02 12:00:00' b snap3.qcow2
snap '2024-02-03 12:00:00' c snap3.qcow2
io snap3.qcow2 'write -P 0xd3 64k 64k'

# Three-deep backing chain with relative names.
qemu-img create -q -f qcow2 chain-base.qcow2 4M && io chain-base.qcow2 'write -P 0x01 0 1M' 'write -P 0x02 3M 64k'
qemu-img create -q -f qcow2 -b chain-base.qcow2 -F qcow2 chain-mid.qcow2 && io chain-mid.qcow2 'write -P 0x03 64k 64k' 'write -z 512k 64k'
qemu-img create -q -f qcow2 -b chain-mid.qcow2 -F qcow2 chain-top.qcow2 && io chain-top.qcow2 'write -P 0x04 128k 4k' 'write -P 0x05 2M 64k'
# Extended L2 overlay: partly written subclusters read the rest from the backing file.
qemu-img create -q -f qcow2 -o extended_l2=on -b chain-base.qcow2 -F qcow2 extl2-over.qcow2
io extl2-over.qcow2 'write -P 0x07 4k 2k' 'write -z 10k 2k' 'write -P 0x08 3M 6k'
# An overlay on a raw backing file that is smaller than the overlay.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096)' > raw-base.raw
qemu-img create -q -f qcow2 -b raw-base.raw -F raw raw-over.qcow2 2M && io raw-over.qcow2 'write -P 0x06 1536k 64k'

# External data file.
qemu-img create -q -f qcow2 -o data_file=datafile.data datafile.qcow2 4M && fill datafile.qcow2

# Raw external data file (data_file_raw=on keeps it a plain raw image).
qemu-img create -q -f qcow2 -o data_file=rawdata.data,data_file_raw=on rawdata.qcow2 4M && fill rawdata.qcow2

# Lazy refcounts and a crash (qemu-io's abort): the dirty bit stays set and
# the refcounts were never written — what a killed VM leaves behind.
qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy-dirty.qcow2 4M
(ulimit -c 0; qemu-io -f qcow2 -c 'write -P 0x5d 0 128k' -c 'write -P 0x5e 1M 64k' -c abort lazy-dirty.qcow2 \
  >/dev/null 2>&1) 2>/dev/null || true

# A persistent dirty bitmap.
qemu-img create -q -f qcow2 bitmap.qcow2 4M
qemu-img bitmap --add bitmap.qcow2 b0
io bitmap.qcow2 'write -P 0xab 0 64k'
qemu-img bitmap --add --granularity 65536 bitmap.qcow2 b1

# What QEMU writes that a naive reader calls truncated: the last compressed
# cluster's sector-rounded length runs past the end of the file (QEMU does
# not pad it), and an extended-L2 write of one subcluster leaves the rest of
# its cluster unwritten past the end of the file.
qemu-img create -q -f qcow2 c-unpadded.qcow2 1M && io c-unpadded.qcow2 'write -c -P 0x3c 0 64k'
qemu-img create -q -f qcow2 -o extended_l2=on extl2-2k.qcow2 1M && io extl2-2k.qcow2 'write -P 0x2b 0 2k'

# A snapshot whose name is another snapshot's id: "1" must mean id 1.
qemu-img create -q -f qcow2 snap-ambiguous.qcow2 1M
io snap-ambiguous.qcow2 'write -P 0x61 0 64k'
snap '2024-04-01 09:00:00' first snap-ambiguous.qcow2
io snap-ambiguous.qcow2 'write -P 0x62 0 64k'
snap '2024-04-02 09:00:00' 1 snap-ambiguous.qcow2
io snap-ambiguous.qcow2 'write -P 0x63 0 64k'

# An empty disk of 32 PiB: its emptiness must be known without a walk.
qemu-img create -q -f qcow2 -o cluster_size=2M huge-empty.qcow2 32P

# LUKS encryption (the key is public: this only tests detection).
qemu-img create -q -f qcow2 --object secret,id=sec0,data=imgcheck \
  -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 luks.qcow2 1M
qemu-io --object secret,id=sec0,data=imgcheck --image-opts -c 'write -P 0xab 0 64k' \
  driver=qcow2,file.filename=luks.qcow2,encrypt.key-secret=sec0 >/dev/null

for f in *.qcow2 raw-base.raw datafile.data rawdata.data; do
  zstd -19 -q -f "$f" -o "$out/$f.zst"
done
ls -l "$out"
