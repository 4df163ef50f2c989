# Sourced by the fixture scripts: fixed clocks and identifiers so that a
# rebuild changes only what the tools themselves vary.
set -euo pipefail
export E2FSPROGS_FAKE_TIME=1763000000   # 2025-11-13 02:13:20 UTC
export MKE2FS_DEVICE_SECTSIZE=512
testdata=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# store LAYER FILE: compress FILE into fixtures/LAYER/<basename>.zst
store() {
  mkdir -p "$testdata/fixtures/$1"
  zstd -19 -q -f "$2" -o "$testdata/fixtures/$1/$(basename "$2").zst"
}

# A small tree for mkfs.ext4 -d, so filesystems hold real files and dirs.
make_tree() {
  local d=$1
  mkdir -p "$d/etc" "$d/var/log" "$d/home/user/docs"
  printf 'brainvm\n' > "$d/etc/hostname"
  seq 1 2000 > "$d/var/log/syslog"
  head -c 200000 /dev/zero | tr '\0' 'x' > "$d/home/user/docs/big.txt"
  ln -s ../etc/hostname "$d/home/user/host"
  touch -d @1763000000 "$d" "$d"/etc "$d"/etc/hostname "$d"/var "$d"/var/log "$d"/var/log/syslog \
    "$d"/home "$d"/home/user "$d"/home/user/docs "$d"/home/user/docs/big.txt
}

# frozen CMD...: run CMD with the clock stopped at 2025-11-13 02:13:20 UTC
# (libfaketime's absolute form), for tools that seed serials from the time.
frozen() { TZ=UTC faketime "2025-11-13 02:13:20" "$@"; }

# exfat_serial FILE HEX: set an exFAT volume serial (boot sector 0x64, main
# and backup boot regions) and recompute each region's boot checksum
# (sector 11: exFAT spec 3.4, bytes 106, 107 and 112 skipped).
exfat_serial() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
path, serial = sys.argv[1], int(sys.argv[2], 16)
b = bytearray(open(path, "rb").read())
ss = 1 << b[108]
for base in (0, 12 * ss):
    struct.pack_into("<I", b, base + 0x64, serial)
    c = 0
    for i in range(11 * ss):
        if i not in (106, 107, 112):
            c = ((((c << 31) | (c >> 1)) & 0xFFFFFFFF) + b[base + i]) & 0xFFFFFFFF
    b[base + 11 * ss : base + 12 * ss] = struct.pack("<I", c) * (ss // 4)
open(path, "wb").write(b)
PY
}

# delta BASE CHANGED: the 512-byte sectors that differ, runs merged, as
# "OFFSET HEX" lines (what boot-proof.sh and the tests write back), so a
# damaged copy is stored as what the tool changed, not as a second disk.
delta() {
  python3 - "$1" "$2" <<'PY'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert len(a) == len(b)
run = None
for off in range(0, len(a), 512):
    if a[off:off + 512] != b[off:off + 512]:
        run = run if run is not None else off
    elif run is not None:
        print(run, b[run:off].hex()); run = None
if run is not None:
    print(run, b[run:].hex())
PY
}

# with_deps PLATFORM MODS...: the modules and everything they load
# (moddep.lst), so GRUB finds each module a command needs.
with_deps() {
  python3 - "/usr/lib/grub/$1/moddep.lst" "${@:2}" <<'PY'
import sys
deps = {}
for line in open(sys.argv[1]):
    m, _, d = line.partition(":")
    deps[m.strip()] = d.split()
seen, todo = set(), list(sys.argv[2:])
while todo:
    m = todo.pop()
    if m not in seen:
        seen.add(m); todo.extend(deps.get(m, []))
print(" ".join(sorted(seen)))
PY
}
