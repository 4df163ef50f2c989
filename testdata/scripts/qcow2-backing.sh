#!/usr/bin/env bash
# A qcow2 overlay whose backing file leaks a cluster (issue 21, attack F8:
# findings in a backing file must name that file, not the overlay):
#   leak-base.qcow2  4 MiB, 256 KiB written by qemu-io, then one cluster
#                    appended to the file with refcount 1 and no reference
#                    (the refcount block's entry for it set by a byte edit:
#                    what a crash between refcount update and L2 update
#                    leaves; qemu-img check: "Leaked cluster 9 refcount=1
#                    reference=0")
#   leak-top.qcow2   qemu-img create -b leak-base.qcow2 -F qcow2, 64 KiB
#                    written at 1 MiB; sound itself
# The two must lie side by side (tests copy both into one directory).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$work"
qemu-img create -q -f qcow2 leak-base.qcow2 4M
qemu-io -f qcow2 -c 'write -q -P 0x11 0 256k' leak-base.qcow2 >/dev/null
python3 - leak-base.qcow2 <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    h = f.read(104)
    cluster_bits = struct.unpack(">I", h[20:24])[0]
    size = 1 << cluster_bits
    reftable = struct.unpack(">Q", h[48:56])[0]
    order = struct.unpack(">I", h[96:100])[0]
    assert order == 4, "16-bit refcounts expected"
    f.seek(reftable)
    refblock = struct.unpack(">Q", f.read(8))[0]
    f.seek(0, 2)
    end = f.tell()
    assert end % size == 0
    leaked = end // size
    # One more cluster, counted once, referenced by nothing.
    f.truncate(end + size)
    f.seek(refblock + 2 * leaked)
    f.write(struct.pack(">H", 1))
PY
qemu-img check leak-base.qcow2 >/dev/null 2>&1 && { echo "leak-base.qcow2: no leak" >&2; exit 1; }
qemu-img create -q -f qcow2 -b leak-base.qcow2 -F qcow2 leak-top.qcow2
qemu-io -f qcow2 -c 'write -q -P 0x22 1M 64k' leak-top.qcow2 >/dev/null
qemu-img check leak-top.qcow2 >/dev/null
store qcow2 leak-base.qcow2
store qcow2 leak-top.qcow2
