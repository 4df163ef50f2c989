#!/usr/bin/env python3
"""Hostile images for issue 14: real fixtures (made by qemu-img, sfdisk,
sgdisk, mkfs.ext4 — see the scripts beside this one) edited at exact,
named offsets, plus input kinds that are not images at all (a FIFO, a
socket, a character device, a missing file, an empty directory).

    hostile.py gen OUT [--sample]      write the cases to OUT/ (manifest.json)
    hostile.py run OUT IMGCHECK [--report FILE]
                                        run each case in a child process under
                                        rlimits and report exit, JSON, RSS, time

Each case is checked by `IMGCHECK --json ARGS...` in its own directory, in a
child with RLIMIT_AS (address space) and RLIMIT_CPU set, and a wall-clock
watchdog only for what the CPU limit cannot see (a process blocked in
open(2) on a FIFO uses no CPU). A case passes when the child ends by itself
within the limits, exits with exactly the case's code, prints exactly
one valid JSON object per image it was given, and, where the case says
so, reports the finding it must (a code at an offset: a header QEMU
refuses is damage at that field) or the fatal error kind it must.

Exit codes are exact, one per case: 4 damage said (a finding at error),
1 warnings only, 0 clean, 8 operational (not an image: missing, a FIFO,
a socket, a character device, a directory with no image). A header QEMU
refuses is 4 with its finding at the field's offset, never 8. A missing
or unopenable external data file is 4 with `qcow2.data_file.unavailable`
at the data-file extension and the guest disk not inspected, as for a
missing backing file: the image file given is there and its metadata are
checked, and what is missing is part of the image (QEMU refuses to open
it), not an error in how imgcheck was run.

`--sample` writes the fixed subset the test suite runs
(inspect-cli/tests/hostile.rs): one or two of every class, the cheap ones.
The whole corpus is for this script, run by hand or in CI's long job.
"""

import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")

# Limits of the run (issue 14: <= 1 GiB RSS, a few seconds per image).
RSS_LIMIT = 1 << 30          # peak RSS above this is "over memory"
AS_LIMIT = 4 << 30           # address space: allocation fails past this
CPU_LIMIT = 15               # seconds of CPU (3x the goal): a loop is killed by SIGXCPU
WALL_WATCHDOG = 120          # seconds: only for a child blocked without CPU

DAMAGE = [4]                 # damage said: an error finding
WARNS = [1]                  # warnings only (the edit is legal, or only odd)
CLEAN = [0]
FATAL = [8]                  # not an image at all: operational error


def fixture(rel):
    p = os.path.join(FIX, rel + ".zst")
    return subprocess.run(["zstd", "-qdc", p], check=True,
                          stdout=subprocess.PIPE).stdout


# --- byte edits ------------------------------------------------------------

def put(b, off, width, value, big=False):
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    struct.pack_into((">" if big else "<") + fmt, b, off,
                     value & ((1 << (8 * width)) - 1))


def get(b, off, width, big=False):
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    return struct.unpack_from((">" if big else "<") + fmt, b, off)[0]


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC32C = _crc32c_table()


def crc32c_raw(seed, data):
    """ext4's ext4_chksum: crc32c without the final inversion."""
    c = seed
    for x in data:
        c = CRC32C[(c ^ x) & 0xFF] ^ (c >> 8)
    return c


# --- qcow2 (big-endian header, qemu's docs/interop/qcow2.txt) -------------

Q_VERSION, Q_BACKING_OFF, Q_BACKING_SIZE, Q_CLUSTER_BITS = 4, 8, 16, 20
Q_SIZE, Q_CRYPT, Q_L1_SIZE, Q_L1_OFF = 24, 32, 36, 40
Q_RT_OFF, Q_RT_CLUSTERS, Q_NB_SNAP, Q_SNAP_OFF = 48, 56, 60, 64
Q_INCOMPAT, Q_COMPAT, Q_AUTOCLEAR, Q_REFCOUNT_ORDER = 72, 80, 88, 96
Q_HEADER_LEN, Q_COMPRESSION = 100, 104


class Q:
    def __init__(self, b):
        self.b = b
        self.cb = get(b, Q_CLUSTER_BITS, 4, True)
        self.cs = 1 << self.cb
        self.l1 = get(b, Q_L1_OFF, 8, True)
        self.l1n = get(b, Q_L1_SIZE, 4, True)
        self.rt = get(b, Q_RT_OFF, 8, True)
        self.hlen = get(b, Q_HEADER_LEN, 4, True)

    def l1e(self, i):
        return get(self.b, self.l1 + 8 * i, 8, True)


def q_field(name, fx, off, width, value, allowed=DAMAGE, extra=(), finding=None):
    """`finding`: (code prefix, offset) the report must hold; a header
    QEMU refuses passes `refused(off)`, its finding at the field."""
    def make(d):
        b = bytearray(fixture(fx))
        put(b, off, width, value, True)
        write(d, "img.qcow2", b)
        return ["img.qcow2", *extra]
    return (name, "qcow2.header", make, allowed, 1, expect(finding))


def expect(finding=None, fatal=None):
    e = {}
    if finding:
        e["finding"] = list(finding)
    if fatal:
        e["fatal"] = fatal
    return e


def q_struct(name, fx, edit, allowed=DAMAGE, extra=(), cls="qcow2.tables", images=1,
             finding=None):
    def make(d):
        b = bytearray(fixture(fx))
        edit(b, Q(b))
        write(d, "img.qcow2", b)
        return ["img.qcow2", *extra]
    return (name, cls, make, allowed, images, expect(finding))


def one_l2_for_all(b, q):
    """Every L1 entry names the first L2 table; the disk is made as large
    as one L1 cluster can map, so the table is walked L1-cluster times."""
    first = next(q.l1e(i) for i in range(q.l1n) if q.l1e(i))
    n = q.cs // 8
    for i in range(n):
        put(b, q.l1 + 8 * i, 8, first, True)
    put(b, Q_L1_SIZE, 4, n, True)
    put(b, Q_SIZE, 8, n * (q.cs // 8) * q.cs, True)


def l1_names(target):
    def edit(b, q):
        put(b, q.l1, 8, (target(q) & 0x00FFFFFFFFFFFE00) | (1 << 63), True)
    return edit


def all_l2_to_one_cluster(b, q):
    l2 = next(q.l1e(i) for i in range(q.l1n) if q.l1e(i)) & 0x00FFFFFFFFFFFE00
    data = next((get(b, l2 + 8 * i, 8, True) for i in range(q.cs // 8)
                 if get(b, l2 + 8 * i, 8, True)), (1 << 63) | q.cs * 4)
    for i in range(q.cs // 8):
        put(b, l2 + 8 * i, 8, data, True)


def compressed_huge(b, q):
    l2 = next(q.l1e(i) for i in range(q.l1n) if q.l1e(i)) & 0x00FFFFFFFFFFFE00
    # compressed flag, every sector-count bit set, offset at the header
    for i in range(q.cs // 8):
        put(b, l2 + 8 * i, 8, (1 << 62) | ((1 << 62) - 1), True)


def compressed_everywhere(b, q):
    """Every L2 entry cycles through the image's compressed clusters and
    every L1 entry names that table: terabytes of compressed disk from a
    small file, each guest cluster decoded anew (the decode bound)."""
    l2 = next(q.l1e(i) for i in range(q.l1n) if q.l1e(i)) & 0x00FFFFFFFFFFFE00
    comp = [e for e in (get(b, l2 + 8 * i, 8, True) for i in range(q.cs // 8)) if e & (1 << 62)]
    for i in range(q.cs // 8):
        put(b, l2 + 8 * i, 8, comp[i % len(comp)], True)
    one_l2_for_all(b, q)


def refcount_all_one_block(b, q):
    first = get(b, q.rt, 8, True)
    put(b, Q_RT_CLUSTERS, 4, 16, True)
    b.extend(b"\0" * max(0, q.rt + 16 * q.cs - len(b)))
    for i in range(16 * q.cs // 8):
        put(b, q.rt + 8 * i, 8, first, True)


def refcount_at_header(b, q):
    put(b, q.rt, 8, 0, True)
    put(b, q.rt + 8, 8, q.rt, True)


def snapshots(count, name_len=0, l1_of=None, extra_size=0, truncate=False):
    """`count` snapshot entries appended at the end of the file (each
    one 40-byte header, extra data, an id and a name, padded to 8)."""
    def edit(b, q):
        off = (len(b) + q.cs - 1) // q.cs * q.cs
        b.extend(b"\0" * (off - len(b)))
        put(b, Q_NB_SNAP, 4, count, True)
        put(b, Q_SNAP_OFF, 8, off, True)
        name = b"n" * name_len
        out = bytearray()
        for i in range(count):
            sid = str(i + 1).encode()
            e = bytearray(40)
            put(e, 0, 8, q.l1 if l1_of is None else l1_of, True)
            put(e, 8, 4, q.l1n, True)
            put(e, 12, 2, len(sid), True)
            put(e, 14, 2, len(name), True)
            put(e, 16, 4, 1700000000 + i, True)
            put(e, 36, 4, extra_size, True)
            e += b"\0" * min(extra_size, 16) + sid + name
            e += b"\0" * (-len(e) % 8)
            out += e
        if truncate:
            out = out[: len(out) // 2]
        b.extend(out)
    return edit


def backing_name(name, fmt=None):
    """Points the header's backing file name at `name` (written after the
    header extensions, inside the first cluster)."""
    def edit(b, q):
        off = 0x300
        b[off:off + len(name)] = name.encode()
        put(b, Q_BACKING_OFF, 8, off, True)
        put(b, Q_BACKING_SIZE, 4, len(name), True)
    return edit


def q_extension(ext_type, length, repeat=1):
    def edit(b, q):
        off = q.hlen
        for _ in range(repeat):
            put(b, off, 4, ext_type, True)
            put(b, off + 4, 4, length, True)
            off += 8
            if off + 8 > q.cs:
                break
    return edit


def truncated(fx, n, name):
    def make(d):
        write(d, "img.qcow2", fixture(fx)[:n])
        return ["img.qcow2"]
    # Cut inside the header: refused, named at the first byte missing.
    at = ("qcow2.header.too_short", n) if n < 104 else None
    return (name, "qcow2.truncated", make, DAMAGE, 1, expect(at))


# Structures pointing anywhere (issue 14's attack, judged against qemu-img
# check: every one of these it flags, or refuses to open).

def q_ext_data(b, q, ext_type):
    """Offset of the data of header extension `ext_type`."""
    off = q.hlen
    while off + 8 <= q.cs:
        t, n = get(b, off, 4, True), get(b, off + 4, 4, True)
        if t == 0:
            break
        if t == ext_type:
            return off + 8
        off += 8 + (n + 7) // 8 * 8
    raise ValueError(f"no extension {ext_type:#x}")


def bitmaps_ext(f):
    return lambda b, q: f(b, q, q_ext_data(b, q, 0x23852875))


def bitmap_dir(f):
    return bitmaps_ext(lambda b, q, e: f(b, q, get(b, e + 16, 8, True)))


def luks_ext(f):
    return lambda b, q: f(b, q, q_ext_data(b, q, 0x0537BE77))


def first_entry(pred, width=8):
    """Edits the first L2 entry of the first table for which `pred`
    returns (entry, bitmap) (extended L2: 16-byte entries)."""
    def edit(b, q):
        l2 = next(q.l1e(i) for i in range(q.l1n) if q.l1e(i)) & 0x00FFFFFFFFFFFE00
        for i in range(q.cs // width):
            e = get(b, l2 + width * i, 8, True)
            bm = get(b, l2 + width * i + 8, 8, True) if width == 16 else 0
            r = pred(e, bm, q)
            if r:
                put(b, l2 + width * i, 8, r[0], True)
                if width == 16:
                    put(b, l2 + width * i + 8, 8, r[1], True)
                return
        raise ValueError("no entry matches")
    return edit


def comp_offset(q):
    return 62 - (q.cb - 8)


def anywhere_cases():
    V3, SNAP, BM, LUKS = "qcow2/v3.qcow2", "qcow2/snap.qcow2", "qcow2/bitmap.qcow2", "qcow2/luks.qcow2"
    EXT, ZLIB = "qcow2/extl2.qcow2", "qcow2/zlib.qcow2"
    snap0 = lambda b: get(b, Q_SNAP_OFF, 8, True)
    rb0 = lambda b, q: get(b, q.rt, 8, True) & 0x00FFFFFFFFFFFE00
    l2_0 = lambda q: next(q.l1e(i) for i in range(q.l1n) if q.l1e(i)) & 0x00FFFFFFFFFFFE00
    c = "qcow2.anywhere"
    return [
        q_struct("qcow2-bitmaps-count-max", BM, bitmaps_ext(lambda b, q, e: put(b, e, 4, 0xFFFFFFFF, True)), cls=c),
        q_struct("qcow2-bitmaps-dir-size-2^40", BM, bitmaps_ext(lambda b, q, e: put(b, e + 8, 8, 1 << 40, True)), cls=c),
        q_struct("qcow2-bitmaps-dir-at-header", BM, bitmaps_ext(lambda b, q, e: put(b, e + 16, 8, 0, True)), cls=c),
        q_struct("qcow2-bitmap-table-size-max", BM, bitmap_dir(lambda b, q, d: put(b, d + 8, 4, 0xFFFFFFFF, True)), cls=c),
        q_struct("qcow2-bitmap-table-at-l1", BM, bitmap_dir(lambda b, q, d: put(b, d, 8, q.l1, True)), cls=c),
        q_struct("qcow2-bitmap-granularity-255", BM, bitmap_dir(lambda b, q, d: put(b, d + 17, 1, 255)), cls=c),
        q_struct("qcow2-bitmap-name-size-max", BM, bitmap_dir(lambda b, q, d: put(b, d + 18, 2, 0xFFFF, True)), cls=c),
        # In use after a crash: qemu-img check passes it, convert --bitmaps refuses.
        q_struct("qcow2-bitmap-in-use", BM, bitmap_dir(lambda b, q, d: put(b, d + 12, 4, get(b, d + 12, 4, True) | 1, True)),
                 WARNS, cls=c, finding=("qcow2.bitmaps.in_use", None)),
        q_struct("qcow2-luks-length-2^62", LUKS, luks_ext(lambda b, q, e: put(b, e + 8, 8, 1 << 62, True)), cls=c),
        q_struct("qcow2-luks-header-at-0", LUKS, luks_ext(lambda b, q, e: put(b, e, 8, 0, True)), cls=c),
        q_struct("qcow2-luks-without-extension", V3, lambda b, q: put(b, Q_CRYPT, 4, 2, True), cls=c,
                 finding=("qcow2.crypto.missing_header", None)),
        q_struct("qcow2-snapshot-l1-is-reftable", SNAP, lambda b, q: put(b, snap0(b), 8, q.rt, True), cls=c),
        q_struct("qcow2-snapshot-table-at-header", SNAP, lambda b, q: put(b, Q_SNAP_OFF, 8, 0, True), cls=c),
        q_struct("qcow2-snapshot-l1-4m-entries", SNAP, lambda b, q: put(b, snap0(b) + 8, 4, 1 << 22, True), cls=c),
        q_struct("qcow2-reftable-is-l1", V3, lambda b, q: put(b, Q_RT_OFF, 8, q.l1, True), cls=c),
        q_struct("qcow2-refblock-is-l2", V3, lambda b, q: put(b, q.rt, 8, l2_0(q), True), cls=c),
        q_struct("qcow2-l2-is-refblock", V3, lambda b, q: put(b, q.l1, 8, rb0(b, q) | (1 << 63), True), cls=c),
        q_struct("qcow2-l2-reserved-bit-56", V3, first_entry(lambda e, bm, q: e & 0x00FFFFFFFFFFFE00 and (e | 1 << 56, 0)),
                 cls=c, finding=("qcow2.l2.reserved_bits", None)),
        q_struct("qcow2-extl2-alloc-and-zero", EXT, first_entry(lambda e, bm, q: bm & 0xFFFFFFFF and (e, bm | bm << 32), 16),
                 cls=c, finding=("qcow2.l2.subcluster_bitmap", None)),
        q_struct("qcow2-extl2-unallocated-with-alloc-bits", EXT,
                 first_entry(lambda e, bm, q: e == 0 and bm == 0 and (0, 0xFFFFFFFF), 16),
                 cls=c, finding=("qcow2.l2.unallocated_bitmap", None)),
        q_struct("qcow2-compressed-in-l1", ZLIB, first_entry(lambda e, bm, q: e & 1 << 62 and (
            (e & ~((1 << comp_offset(q)) - 1)) | q.l1, 0)), cls=c),
        q_struct("qcow2-compressed-sectors-max", ZLIB, first_entry(lambda e, bm, q: e & 1 << 62 and (
            e | ((1 << (q.cb - 8)) - 1) << comp_offset(q), 0)), cls=c),
    ]


# --- MBR / EBR (little-endian, 0x1BE + 16 * i) ----------------------------

def mbr_entry(b, base, i, kind=None, start=None, size=None):
    e = base + 0x1BE + 16 * i
    if kind is not None:
        b[e + 4] = kind
    if start is not None:
        put(b, e + 8, 4, start)
    if size is not None:
        put(b, e + 12, 4, size)


def ext_start(b):
    for i in range(4):
        if b[0x1BE + 16 * i + 4] in (0x05, 0x0F, 0x85):
            return get(b, 0x1BE + 16 * i + 8, 4)
    raise ValueError("no extended partition")


def m_case(name, fx, edit, allowed=DAMAGE, cls="mbr"):
    def make(d):
        b = bytearray(fixture(fx))
        edit(b)
        write(d, "disk.img", b)
        return ["disk.img"]
    return (name, cls, make, allowed)


def ebr_link(to):
    """The first EBR's link entry points at `to(b, ext)` (relative to the
    extended partition's start, as the link is)."""
    def edit(b):
        x = ext_start(b)
        mbr_entry(b, 512 * x, 1, kind=0x05, start=to(b, x), size=2048)
    return edit


def ebr_long_chain(n):
    """`n` EBRs one sector apart, each with a 1-sector logical partition
    and a link to the next: a chain far longer than any real one."""
    def edit(b):
        x = ext_start(b)
        for i in range(n):
            base = 512 * (x + i)
            b[base:base + 512] = bytes(512)
            b[base + 510:base + 512] = b"\x55\xaa"
            mbr_entry(b, base, 0, kind=0x83, start=n + 1 - i, size=1)
            if i + 1 < n:
                mbr_entry(b, base, 1, kind=0x05, start=i + 1, size=1)
    return edit


# --- GPT (LBA 1, revision 1.0 header; entries at partition_entry_lba) -----

G_HSIZE, G_HCRC, G_MY, G_ALT, G_FIRST, G_LAST = 12, 16, 24, 32, 40, 48
G_ENTRY_LBA, G_NUM, G_ESIZE, G_ECRC = 72, 80, 84, 88


def gpt_reseal(b, ss, header_lba=1, entries=True):
    h = ss * header_lba
    hs = get(b, h + G_HSIZE, 4)
    num, esz = get(b, h + G_NUM, 4), get(b, h + G_ESIZE, 4)
    elba = get(b, h + G_ENTRY_LBA, 8)
    if entries and 0 < num * esz <= 1 << 20 and (elba + 1) * ss + num * esz <= len(b):
        a = elba * ss
        put(b, h + G_ECRC, 4, zlib.crc32(bytes(b[a:a + num * esz])))
    n = min(max(hs, 92), ss)
    put(b, h + G_HCRC, 4, 0)
    put(b, h + G_HCRC, 4, zlib.crc32(bytes(b[h:h + n])))


def g_field(name, fx, off, width, value, ss=512, reseal=True, allowed=DAMAGE):
    def make(d):
        b = bytearray(fixture(fx))
        put(b, ss + off, width, value)
        if reseal:
            gpt_reseal(b, ss)
        write(d, "disk.img", b)
        return ["disk.img"]
    return (name, "gpt.header" if reseal else "gpt.header-unsealed", make, allowed)


def g_entry(name, fx, edit, ss=512, allowed=DAMAGE):
    def make(d):
        b = bytearray(fixture(fx))
        elba = get(b, ss + G_ENTRY_LBA, 8)
        edit(b, elba * ss, get(b, ss + G_ESIZE, 4), get(b, ss + G_NUM, 4))
        gpt_reseal(b, ss)
        write(d, "disk.img", b)
        return ["disk.img"]
    return (name, "gpt.entries", make, allowed)


# --- ext4 (superblock at 1024, little-endian; kernel's ext4.h names) ------

SB = 1024
S_INODES_COUNT, S_BLOCKS_LO, S_FIRST_DATA, S_LOG_BS = 0x00, 0x04, 0x14, 0x18
S_LOG_CS, S_BPG, S_CPG, S_IPG = 0x1C, 0x20, 0x24, 0x28
S_REV, S_FIRST_INO, S_INODE_SIZE = 0x4C, 0x54, 0x58
S_INCOMPAT, S_RO_COMPAT, S_UUID = 0x60, 0x64, 0x68
S_JOURNAL_INUM, S_DESC_SIZE, S_FIRST_META_BG = 0xE0, 0xFE, 0x104
S_BLOCKS_HI, S_LOG_GPF, S_CSUM_SEED, S_CHECKSUM = 0x150, 0x174, 0x270, 0x3FC
INCOMPAT_META_BG, INCOMPAT_64BIT, INCOMPAT_CSUM_SEED = 0x10, 0x80, 0x2000
RO_METADATA_CSUM = 0x400


class E:
    def __init__(self, b):
        self.b = b
        self.bs = 1024 << get(b, SB + S_LOG_BS, 4)
        self.isz = get(b, SB + S_INODE_SIZE, 2)
        self.ipg = get(b, SB + S_IPG, 4)
        inc = get(b, SB + S_INCOMPAT, 4)
        self.dsz = get(b, SB + S_DESC_SIZE, 2) if inc & INCOMPAT_64BIT else 32
        self.gdt = (get(b, SB + S_FIRST_DATA, 4) + 1) * self.bs
        self.itable = get(b, self.gdt + 0x08, 4) * self.bs
        self.bbitmap = get(b, self.gdt + 0x00, 4) * self.bs
        if inc & INCOMPAT_CSUM_SEED:
            self.seed = get(b, SB + S_CSUM_SEED, 4)
        else:
            self.seed = crc32c_raw(0xFFFFFFFF, bytes(b[SB + S_UUID:SB + S_UUID + 16]))

    def inode(self, n):
        return self.itable + (n - 1) * self.isz

    def free_blocks(self, count):
        """Blocks the group-0 bitmap marks free, from the end of group 0."""
        out = []
        nblocks = min(8 * self.bs, len(self.b) // self.bs)
        for blk in range(nblocks - 1, 0, -1):
            if not self.b[self.bbitmap + blk // 8] >> (blk % 8) & 1:
                out.append(blk + get(self.b, SB + S_FIRST_DATA, 4))
                if len(out) == count:
                    return out
        raise ValueError("no free blocks")

    def inode_seed(self, n):
        gen = get(self.b, self.inode(n) + 0x64, 4)
        return crc32c_raw(crc32c_raw(self.seed, struct.pack("<I", n)),
                          struct.pack("<I", gen))

    def seal_inode(self, n):
        at = self.inode(n)
        raw = bytearray(self.b[at:at + self.isz])
        raw[0x7C:0x7E] = b"\0\0"
        hi = len(raw) > 128 and get(raw, 0x80, 2) >= 4
        if hi:
            raw[0x82:0x84] = b"\0\0"
        c = crc32c_raw(self.inode_seed(n), raw)
        put(self.b, at + 0x7C, 2, c & 0xFFFF)
        if hi:
            put(self.b, at + 0x82, 2, c >> 16)

    def seal_extent_block(self, n, blk):
        o = blk * self.bs
        mx = get(self.b, o + 4, 2)
        tail = 12 + 12 * mx
        if tail + 4 <= self.bs:
            put(self.b, o + tail, 4,
                crc32c_raw(self.inode_seed(n), bytes(self.b[o:o + tail])))


def ext4_seal_sb(b):
    if get(b, SB + S_RO_COMPAT, 4) & RO_METADATA_CSUM:
        put(b, SB + S_CHECKSUM, 4, crc32c_raw(0xFFFFFFFF, bytes(b[SB:SB + 0x3FC])))


def e_case(name, fx, edit, allowed=DAMAGE, cls="ext4.superblock", extra=()):
    def make(d):
        b = bytearray(fixture(fx))
        edit(b)
        ext4_seal_sb(b)
        write(d, "fs.img", b)
        return ["fs.img", *extra]
    return (name, cls, make, allowed)


def sb_set(*fields):
    def edit(b):
        for off, width, value in fields:
            put(b, SB + off, width, value)
    return edit


def groups_claimed(groups, meta_bg=False, zero_gdt=False):
    """The superblock claims `groups` groups of 32768 blocks (64-bit
    counts), optionally with meta_bg, optionally over a zeroed table."""
    def edit(b):
        blocks = groups * 32768
        put(b, SB + S_BPG, 4, 32768)
        put(b, SB + S_CPG, 4, 32768)
        put(b, SB + S_FIRST_DATA, 4, 0)
        put(b, SB + S_BLOCKS_LO, 4, blocks & 0xFFFFFFFF)
        put(b, SB + S_BLOCKS_HI, 4, blocks >> 32)
        # s_inodes_count = s_inodes_per_group x groups, as the superblock's
        # own sanity check wants, so the claim is believed.
        put(b, SB + S_INODES_COUNT, 4, get(b, SB + S_IPG, 4) * groups)
        put(b, SB + S_INCOMPAT, 4, get(b, SB + S_INCOMPAT, 4) | INCOMPAT_64BIT
            | (INCOMPAT_META_BG if meta_bg else 0))
        if get(b, SB + S_DESC_SIZE, 2) < 64:
            put(b, SB + S_DESC_SIZE, 2, 64)
        if meta_bg:
            put(b, SB + S_FIRST_META_BG, 4, 0)
        if zero_gdt:
            e = E(b)
            b[e.gdt:e.gdt + 64 * e.bs] = bytes(64 * e.bs)
    return edit


def extent_dag(inode_no, depth, fan_root=4):
    """Inode `inode_no`'s extent tree made a DAG: the root's entries all
    name one index block, whose entries all name the next, down to one
    leaf — (fan_root x 340^(depth-1)) leaves reached through `depth` + 1
    blocks. Every block carries a valid tail checksum."""
    def edit(b):
        e = E(b)
        blocks = e.free_blocks(depth)
        per = (e.bs - 12) // 12
        at = e.inode(inode_no) + 0x28
        def header(o, entries, mx, d):
            put(b, o, 2, 0xF30A)
            put(b, o + 2, 2, entries)
            put(b, o + 4, 2, mx)
            put(b, o + 6, 2, d)
            put(b, o + 8, 4, 0)
        header(at, fan_root, 4, depth)
        for i in range(fan_root):
            put(b, at + 12 + 12 * i, 4, i)
            put(b, at + 12 + 12 * i + 4, 4, blocks[0])
            put(b, at + 12 + 12 * i + 8, 4, 0)
        for lvl in range(depth):
            o = blocks[lvl] * e.bs
            b[o:o + e.bs] = bytes(e.bs)
            d = depth - 1 - lvl
            header(o, per, per, d)
            for i in range(per):
                eo = o + 12 + 12 * i
                put(b, eo, 4, i)
                if d:
                    put(b, eo + 4, 4, blocks[lvl + 1])
                else:
                    put(b, eo + 4, 2, 1)
                    put(b, eo + 8, 4, blocks[-1])
            e.seal_extent_block(inode_no, blocks[lvl])
        put(b, e.inode(inode_no) + 0x20, 4, get(b, e.inode(inode_no) + 0x20, 4) | 0x80000)
        e.seal_inode(inode_no)
    return edit


def extent_cycle(inode_no):
    """Inode `inode_no`'s root indexes a block whose one index entry names
    that block itself."""
    def edit(b):
        e = E(b)
        blk = e.free_blocks(1)[0]
        at = e.inode(inode_no) + 0x28
        for o, mx in ((at, 4), (blk * e.bs, (e.bs - 12) // 12)):
            put(b, o, 2, 0xF30A)
            put(b, o + 2, 2, 1)
            put(b, o + 4, 2, mx)
            put(b, o + 6, 2, 2)
            put(b, o + 12, 4, 0)
            put(b, o + 16, 4, blk)
        e.seal_extent_block(inode_no, blk)
        e.seal_inode(inode_no)
    return edit


def gd_set(off, width, value, groups=1):
    def edit(b):
        e = E(b)
        for g in range(groups):
            put(b, e.gdt + g * e.dsz + off, width, value)
    return edit


# --- input kinds -----------------------------------------------------------

def kind_case(name, make, allowed=FATAL, images=1, finding=None, fatal=None):
    return (name, "kind", make, allowed, images, expect(finding, fatal))


def k_fifo(d):
    os.mkfifo(os.path.join(d, "img"))
    return ["img"]


def k_socket(d):
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, "img"))
    s.close()
    return ["img"]


def k_missing(d):
    return ["nothere.img"]


def k_empty_dir(d):
    os.mkdir(os.path.join(d, "dir"))
    return ["dir"]


def k_text_dir(d):
    os.mkdir(os.path.join(d, "dir"))
    write(os.path.join(d, "dir"), "notes.txt", b"backup of vm1, 2026-11-30\n")
    return ["dir"]


def k_fifo_in_dir(d):
    os.mkdir(os.path.join(d, "dir"))
    os.mkfifo(os.path.join(d, "dir", "a.img"))
    write(os.path.join(d, "dir"), "b.img", fixture("gpt/gpt-512.img"))
    return ["dir"]


def k_bytes(data, name="img"):
    def make(d):
        write(d, name, data)
        return [name]
    return make


def k_symlink_loop(d):
    os.symlink("img", os.path.join(d, "img"))
    return ["img"]


def k_backing(special):
    """chain-top's backing file name made `special`, a FIFO, a socket or
    a character device beside it."""
    def make(d):
        b = bytearray(fixture("qcow2/chain-top.qcow2"))
        name = "backing"
        if special == "chardev":
            name = "/dev/zero"
        backing_name(name)(b, Q(b))
        write(d, "img.qcow2", b)
        if special == "fifo":
            os.mkfifo(os.path.join(d, name))
        elif special == "socket":
            k_socket_at(os.path.join(d, name))
        return ["img.qcow2"]
    return make


def k_socket_at(p):
    s = socket.socket(socket.AF_UNIX)
    s.bind(p)
    s.close()


def data_file_name(b):
    """The external data file name: header extension 0x44415441."""
    q = Q(b)
    off = q.hlen
    while off + 8 <= q.cs:
        t, n = get(b, off, 4, True), get(b, off + 4, 4, True)
        if t == 0:
            break
        if t == 0x44415441:
            return bytes(b[off + 8:off + 8 + n]).decode()
        off += 8 + (n + 7) // 8 * 8
    raise ValueError("no data file extension")


def k_data_file(special):
    def make(d):
        b = fixture("qcow2/datafile.qcow2")
        write(d, "img.qcow2", b)
        name = os.path.basename(data_file_name(bytearray(b)))
        p = os.path.join(d, name)
        if special == "fifo":
            os.mkfifo(p)
        elif special == "socket":
            k_socket_at(p)
        elif special == "ok":
            write(d, name, fixture("qcow2/datafile.data"))
        return ["img.qcow2"]
    return make


def k_symlink_chain(d):
    """a.qcow2 backed by b.qcow2, a symlink to a.qcow2."""
    b = bytearray(fixture("qcow2/chain-top.qcow2"))
    backing_name("b.qcow2")(b, Q(b))
    write(d, "a.qcow2", b)
    os.symlink("a.qcow2", os.path.join(d, "b.qcow2"))
    return ["a.qcow2"]


def k_long_chain(n):
    """A chain of `n` distinct files (each chain-top renamed to name the
    next) over chain-base: past MAX_CHAIN_DEPTH (64) it is not followed."""
    def make(d):
        top = fixture("qcow2/chain-top.qcow2")
        for i in range(n):
            b = bytearray(top)
            backing_name(f"c{i + 1:03}.qcow2")(b, Q(b))
            write(d, f"c{i:03}.qcow2", b)
        write(d, f"c{n:03}.qcow2", fixture("qcow2/chain-base.qcow2"))
        return ["c000.qcow2"]
    return make


def k_hardlink_chain(d):
    """a.qcow2 backed by b.qcow2, a hard link to a.qcow2: one file under
    two names, a loop only (device, inode) identity sees."""
    b = bytearray(fixture("qcow2/chain-top.qcow2"))
    backing_name("b.qcow2")(b, Q(b))
    write(d, "a.qcow2", b)
    os.link(os.path.join(d, "a.qcow2"), os.path.join(d, "b.qcow2"))
    return ["a.qcow2"]


# --- the corpus --------------------------------------------------------------

def cases():
    V3, C2M, SNAP = "qcow2/v3.qcow2", "qcow2/c2m.qcow2", "qcow2/snap.qcow2"
    MBR, DOS = "gpt/mbr-logical.img", "disk/dos-logical.img"
    G512, G4K = "gpt/gpt-512.img", "gpt/gpt-4k.img"
    E4K, E1K = "ext4/ext4-4k.img", "ext4/ext4-1k.img"
    BACKING_AT, DATA_FILE_AT = 0x300, 112   # backing_name()'s offset; datafile's extension
    out = [
        kind_case("kind-fifo", k_fifo, fatal="not_a_file"),
        kind_case("kind-socket", k_socket, fatal="not_a_file"),
        kind_case("kind-chardev", lambda d: ["/dev/null"], fatal="not_a_file"),
        kind_case("kind-missing", k_missing, fatal="missing"),
        kind_case("kind-empty-dir", k_empty_dir, fatal="no_images"),
        kind_case("kind-dir-of-text", k_text_dir, fatal="no_images"),
        # The FIFO is skipped by the directory scan (said in the no-images
        # message when nothing else is there); the GPT image is judged.
        kind_case("kind-fifo-in-dir", k_fifo_in_dir, CLEAN),
        kind_case("kind-symlink-loop", k_symlink_loop, fatal="unreadable"),
        # An empty file is judged: 4 (sector 0 cannot be read), and said
        # to be empty.
        kind_case("kind-zero-bytes", k_bytes(b""), DAMAGE, finding=("layout.empty", 0)),
        kind_case("kind-one-byte", k_bytes(b"\0"), DAMAGE, finding=("layout.empty", 0)),
        kind_case("kind-qcow2-magic-only", k_bytes(b"QFI\xfb"), DAMAGE,
                  finding=("qcow2.header.too_short", 4)),
        # Named as qcow version 1 and not read: a warning that nothing in it
        # was checked (the format is sound; imgcheck does not read it).
        kind_case("kind-qcow2-v1", k_bytes(bytes(fixture(V3)[:4]) + b"\0\0\0\1"
                                            + bytes(fixture(V3)[8:4096])), WARNS,
                  finding=("qcow2.header.version_1", 4)),
        kind_case("kind-backing-fifo", k_backing("fifo"), DAMAGE,
                  finding=("qcow2.backing.not_a_file", BACKING_AT)),
        kind_case("kind-backing-socket", k_backing("socket"), DAMAGE,
                  finding=("qcow2.backing.not_a_file", BACKING_AT)),
        kind_case("kind-backing-chardev", k_backing("chardev"), DAMAGE,
                  finding=("qcow2.backing.not_a_file", BACKING_AT)),
        # Refused without blocking; an error at the data-file extension, the
        # guest disk not inspected (see the module text for why 4, not 8).
        kind_case("kind-data-file-fifo", k_data_file("fifo"), DAMAGE,
                  finding=("qcow2.data_file.unavailable", DATA_FILE_AT)),
        kind_case("kind-data-file-socket", k_data_file("socket"), DAMAGE,
                  finding=("qcow2.data_file.unavailable", DATA_FILE_AT)),
        kind_case("kind-data-file-missing", k_data_file("missing"), DAMAGE,
                  finding=("qcow2.data_file.unavailable", DATA_FILE_AT)),
        kind_case("kind-backing-hardlink-loop", k_hardlink_chain, DAMAGE,
                  finding=("qcow2.backing.loop", BACKING_AT)),
        kind_case("kind-backing-symlink-loop", k_symlink_chain, DAMAGE,
                  finding=("qcow2.backing.loop", BACKING_AT)),
        # 21 and 70 files: QEMU opens them cleanly, and so does imgcheck
        # (the guest has no table: a warning); 260 is past the depth bound
        # of 256 (qcow2::MAX_CHAIN_DEPTH), a warning that says where the
        # check stopped.
        kind_case("kind-backing-chain-21", k_long_chain(21), WARNS),
        kind_case("kind-backing-chain-70", k_long_chain(70), WARNS),
        kind_case("kind-backing-chain-260", k_long_chain(260), WARNS,
                  finding=("qcow2.backing.too_deep", None)),
    ]
    # qcow2 header fields at their offsets. REFUSED_FIELDS: qemu-img check
    # exits 1 "Could not open" on them (measured, QEMU 10.0.2).
    for name, off, w, v in [
        ("version-0", Q_VERSION, 4, 0), ("version-4", Q_VERSION, 4, 4),
        ("version-max", Q_VERSION, 4, 0xFFFFFFFF),
        ("cluster-bits-0", Q_CLUSTER_BITS, 4, 0), ("cluster-bits-8", Q_CLUSTER_BITS, 4, 8),
        ("cluster-bits-22", Q_CLUSTER_BITS, 4, 22), ("cluster-bits-31", Q_CLUSTER_BITS, 4, 31),
        ("cluster-bits-max", Q_CLUSTER_BITS, 4, 0xFFFFFFFF),
        ("crypt-aes", Q_CRYPT, 4, 1), ("crypt-max", Q_CRYPT, 4, 0xFFFFFFFF),
        ("l1-size-0", Q_L1_SIZE, 4, 0), ("l1-size-max", Q_L1_SIZE, 4, 0xFFFFFFFF),
        ("l1-size-32m", Q_L1_SIZE, 4, 1 << 25), ("l1-size-past-file", Q_L1_SIZE, 4, 1 << 16),
        ("l1-offset-0", Q_L1_OFF, 8, 0), ("l1-offset-unaligned", Q_L1_OFF, 8, 0x30001),
        ("l1-offset-past-end", Q_L1_OFF, 8, 1 << 40), ("l1-offset-2^63", Q_L1_OFF, 8, 1 << 63),
        ("rt-offset-0", Q_RT_OFF, 8, 0), ("rt-offset-past-end", Q_RT_OFF, 8, 1 << 40),
        ("rt-offset-unaligned", Q_RT_OFF, 8, 0x10010),
        ("rt-clusters-0", Q_RT_CLUSTERS, 4, 0), ("rt-clusters-max", Q_RT_CLUSTERS, 4, 0xFFFFFFFF),
        ("rt-clusters-1m", Q_RT_CLUSTERS, 4, 1 << 20),
        ("nb-snapshots-64k-nowhere", Q_NB_SNAP, 4, 65536),
        ("nb-snapshots-max", Q_NB_SNAP, 4, 0xFFFFFFFF),
        ("snapshots-offset-past-end", Q_SNAP_OFF, 8, 1 << 50),
        ("incompat-unknown", Q_INCOMPAT, 8, 1 << 63), ("incompat-dirty", Q_INCOMPAT, 8, 1),
        ("incompat-corrupt", Q_INCOMPAT, 8, 2), ("incompat-data-file", Q_INCOMPAT, 8, 4),
        ("incompat-extl2", Q_INCOMPAT, 8, 0x10), ("incompat-all", Q_INCOMPAT, 8, (1 << 64) - 1),
        ("autoclear-all", Q_AUTOCLEAR, 8, (1 << 64) - 1),
        ("refcount-order-0", Q_REFCOUNT_ORDER, 4, 0), ("refcount-order-6", Q_REFCOUNT_ORDER, 4, 6),
        ("refcount-order-7", Q_REFCOUNT_ORDER, 4, 7),
        ("refcount-order-max", Q_REFCOUNT_ORDER, 4, 0xFFFFFFFF),
        ("header-length-0", Q_HEADER_LEN, 4, 0), ("header-length-103", Q_HEADER_LEN, 4, 103),
        ("header-length-past-cluster", Q_HEADER_LEN, 4, 1 << 17),
        ("header-length-max", Q_HEADER_LEN, 4, 0xFFFFFFFF),
        ("compression-zstd-unflagged", Q_COMPRESSION, 1, 1),
        ("compression-255", Q_COMPRESSION, 1, 255),
        ("backing-offset-past-end", Q_BACKING_OFF, 8, 1 << 40),
        ("backing-size-max", Q_BACKING_SIZE, 4, 0xFFFFFFFF),
        ("backing-size-1024", Q_BACKING_SIZE, 4, 1024),
    ]:
        # Legal, or ignored by QEMU: the v3 fixture's guest has no table,
        # hence warnings only.
        ok = WARNS if name in LEGAL_FIELDS else DAMAGE
        # QEMU refuses to open it: damage named at the field itself.
        at = (name in REFUSED_FIELDS) and ("qcow2.", REFUSED_AT.get(name, off))
        out.append(q_field("qcow2-" + name, V3, off, w, v, ok, finding=at))
    out += [
        q_field("qcow2-size-2^64-1", V3, Q_SIZE, 8, (1 << 64) - 1, finding=("qcow2.", Q_SIZE)),
        q_field("qcow2-size-2^62-scan", V3, Q_SIZE, 8, 1 << 62, extra=["--scan"],
                finding=("qcow2.", Q_SIZE)),
        # 16 TiB: the L1 table is then too small for the disk.
        q_field("qcow2-size-1e-scan", V3, Q_SIZE, 8, 1 << 44, extra=["--scan"],
                finding=("qcow2.", Q_L1_SIZE)),
        q_field("qcow2-c2m-cluster-bits-22", C2M, Q_CLUSTER_BITS, 4, 22,
                finding=("qcow2.", Q_CLUSTER_BITS)),
        q_struct("qcow2-one-l2-for-all-64k", V3, one_l2_for_all),
        q_struct("qcow2-one-l2-for-all-64k-deep", V3, one_l2_for_all, extra=["--deep"]),
        q_struct("qcow2-one-l2-for-all-2m", C2M, one_l2_for_all),
        q_struct("qcow2-one-l2-for-all-64k-scan", V3, one_l2_for_all, extra=["--scan"]),
        q_struct("qcow2-l1-names-header", V3, l1_names(lambda q: 0)),
        q_struct("qcow2-l1-names-l1", V3, l1_names(lambda q: q.l1)),
        q_struct("qcow2-l1-names-refcount-table", V3, l1_names(lambda q: q.rt)),
        q_struct("qcow2-l2-all-one-cluster", V3, all_l2_to_one_cluster),
        q_struct("qcow2-l2-compressed-huge", V3, compressed_huge, extra=["--scan"]),
        q_struct("qcow2-compressed-everywhere-zstd", "qcow2/zstd.qcow2", compressed_everywhere,
                 finding=("layout.bound", None)),
        q_struct("qcow2-compressed-everywhere-zlib-scan", "qcow2/zlib.qcow2",
                 compressed_everywhere, extra=["--scan"], finding=("layout.bound", None)),
        q_struct("qcow2-compressed-everywhere-zstd-all-snapshots", "qcow2/zstd.qcow2",
                 compressed_everywhere, extra=["--all-snapshots"]),
        q_struct("qcow2-refcount-table-one-block", V3, refcount_all_one_block),
        q_struct("qcow2-refcount-at-header", V3, refcount_at_header),
        q_struct("qcow2-snapshots-65536", V3, snapshots(65536), cls="qcow2.snapshots"),
        q_struct("qcow2-snapshots-1000-long-names", V3, snapshots(1000, name_len=65535),
                 cls="qcow2.snapshots"),
        q_struct("qcow2-snapshots-truncated", V3, snapshots(16, truncate=True),
                 cls="qcow2.snapshots"),
        q_struct("qcow2-snapshot-l1-unaligned", V3, snapshots(4, l1_of=0x30001),
                 cls="qcow2.snapshots"),
        q_struct("qcow2-snapshot-l1-past-end", V3, snapshots(4, l1_of=1 << 50),
                 cls="qcow2.snapshots"),
        q_struct("qcow2-snapshot-extra-max", V3, snapshots(4, extra_size=0xFFFFFFFF),
                 cls="qcow2.snapshots"),
        # All 64 share one L1 table: one object for the image and one for the
        # first snapshot; the others are noted as showing the same disk.
        q_struct("qcow2-snapshots-all-one-l1-all-snapshots", V3, snapshots(64),
                 extra=["--all-snapshots"], cls="qcow2.snapshots", images=2),
        q_struct("qcow2-backing-self", V3, backing_name("img.qcow2"), cls="qcow2.backing",
                 finding=("qcow2.backing.loop", BACKING_AT)),
        q_struct("qcow2-backing-dotdot-loop", V3, backing_name("../" + "x/" * 1 + "img.qcow2"),
                 cls="qcow2.backing", finding=("qcow2.backing.missing", BACKING_AT)),
        # A name component past NAME_MAX: ENAMETOOLONG, not "missing".
        q_struct("qcow2-backing-long-name", V3, backing_name("a" * 1000), cls="qcow2.backing",
                 finding=("qcow2.backing.unreadable", BACKING_AT)),
        # Extensions start at header_length (112 in the v3 fixture).
        q_struct("qcow2-ext-huge-length", V3, q_extension(0x12345678, 0xFFFFFFFF),
                 cls="qcow2.extensions", finding=("qcow2.header.extension_too_large", 112)),
        # Empty unknown extensions repeated: QEMU ignores them (check exit 0).
        q_struct("qcow2-ext-many-empty", V3, q_extension(0x12345678, 0, repeat=1 << 14),
                 WARNS, cls="qcow2.extensions",
                 finding=("qcow2.header.extension_repeated", 120)),
        q_struct("qcow2-ext-backing-format-huge", V3, q_extension(0xE2792ACA, 0xFFFFFFF0),
                 cls="qcow2.extensions", finding=("qcow2.header.extension_too_large", 112)),
        q_struct("qcow2-ext-data-file-huge", V3, q_extension(0x44415441, 0xFFFFFFF0),
                 cls="qcow2.extensions", finding=("qcow2.header.extension_too_large", 112)),
        truncated(V3, 4, "qcow2-truncated-4"),
        truncated(V3, 72, "qcow2-truncated-72"),
        truncated(V3, 104, "qcow2-truncated-104"),
        truncated(V3, 65536, "qcow2-truncated-one-cluster"),
        truncated(V3, 0x30000 + 4, "qcow2-truncated-in-l1"),
    ]
    out += anywhere_cases()
    # MBR and EBR.
    out += [
        m_case("mbr-entry-max", MBR, lambda b: mbr_entry(b, 0, 0, start=0xFFFFFFFF,
                                                          size=0xFFFFFFFF)),
        m_case("mbr-entry-size-max", MBR, lambda b: mbr_entry(b, 0, 0, size=0xFFFFFFFF)),
        m_case("mbr-four-extended-at-0", MBR, lambda b: [mbr_entry(b, 0, i, 0x05, 0, 65536)
                                                          for i in range(4)]),
        m_case("mbr-four-extended-same", MBR,
               lambda b: [mbr_entry(b, 0, i, 0x05, ext_start(b), 8192) for i in range(1, 4)]),
        m_case("mbr-extended-at-lba-0", MBR,
               lambda b: [mbr_entry(b, 0, i, start=0) for i in range(4)
                          if b[0x1BE + 16 * i + 4] == 0x05]),
        # No 0x55AA: not a table at all; the disk behind it is unrecognised.
        m_case("mbr-no-signature", MBR, lambda b: b.__setitem__(slice(510, 512), b"\0\0"),
               WARNS),
        m_case("mbr-protective-no-gpt", MBR,
               lambda b: (mbr_entry(b, 0, 0, 0xEE, 1, 0xFFFFFFFF),
                          b.__setitem__(slice(512, 1024), bytes(512)))),
        m_case("mbr-all-overlap", MBR, lambda b: [mbr_entry(b, 0, i, 0x83, 1, 65535)
                                                   for i in range(4)]),
        m_case("ebr-link-self", MBR, ebr_link(lambda b, x: 0), cls="ebr"),
        m_case("ebr-link-back-to-mbr", MBR, ebr_link(lambda b, x: (1 << 32) - x), cls="ebr"),
        m_case("ebr-link-past-end", MBR, ebr_link(lambda b, x: 0xFFFFFFF0), cls="ebr"),
        m_case("ebr-logical-max", MBR, lambda b: mbr_entry(b, 512 * ext_start(b), 0,
                                                            size=0xFFFFFFFF), cls="ebr"),
        m_case("ebr-chain-4000", MBR, ebr_long_chain(4000), cls="ebr"),
        m_case("ebr-two-cycle", DOS, lambda b: (
            ebr_link(lambda b2, x: 1024)(b),
            mbr_entry(b, 512 * (ext_start(b) + 1024), 1, 0x05, 0, 2048),
            b.__setitem__(slice(512 * (ext_start(b) + 1024) + 510,
                                512 * (ext_start(b) + 1024) + 512), b"\x55\xaa")),
               cls="ebr"),
        m_case("ebr-dos-link-self", DOS, ebr_link(lambda b, x: 0), cls="ebr"),
    ]
    # GPT header fields, resealed so the edit is believed.
    for name, off, w, v in [
        ("num-entries-max", G_NUM, 4, 0xFFFFFFFF), ("num-entries-0", G_NUM, 4, 0),
        ("num-entries-1m", G_NUM, 4, 1 << 20),
        ("entry-size-max", G_ESIZE, 4, 0xFFFFFFFF), ("entry-size-0", G_ESIZE, 4, 0),
        ("entry-size-127", G_ESIZE, 4, 127), ("entry-size-2^31", G_ESIZE, 4, 1 << 31),
        ("entry-lba-0", G_ENTRY_LBA, 8, 0), ("entry-lba-1", G_ENTRY_LBA, 8, 1),
        ("entry-lba-max", G_ENTRY_LBA, 8, (1 << 64) - 1),
        ("entry-lba-past-end", G_ENTRY_LBA, 8, 1 << 40),
        ("alternate-max", G_ALT, 8, (1 << 64) - 1), ("alternate-self", G_ALT, 8, 1),
        ("alternate-0", G_ALT, 8, 0),
        ("my-lba-max", G_MY, 8, (1 << 64) - 1),
        ("header-size-0", G_HSIZE, 4, 0), ("header-size-max", G_HSIZE, 4, 0xFFFFFFFF),
        ("header-size-93", G_HSIZE, 4, 93),
        ("first-usable-max", G_FIRST, 8, (1 << 64) - 1), ("last-usable-max", G_LAST, 8, (1 << 64) - 1),
        ("last-usable-0", G_LAST, 8, 0),
    ]:
        # 93 bytes is a legal header size (92 up to a sector), only unusual.
        out.append(g_field("gpt-" + name, G512, off, w, v,
                           allowed=WARNS if name == "header-size-93" else DAMAGE))
    out += [
        g_field("gpt-num-entries-max-unsealed", G512, G_NUM, 4, 0xFFFFFFFF, reseal=False),
        g_field("gpt-entry-size-0-unsealed", G512, G_ESIZE, 4, 0, reseal=False),
        g_field("gpt-4k-num-entries-max", G4K, G_NUM, 4, 0xFFFFFFFF, ss=4096),
        g_field("gpt-4k-entry-lba-max", G4K, G_ENTRY_LBA, 8, (1 << 64) - 1, ss=4096),
        g_entry("gpt-entry-start-after-end", G512,
                lambda b, a, s, n: (put(b, a + 32, 8, 100000), put(b, a + 40, 8, 3000))),
        g_entry("gpt-entry-end-max", G512, lambda b, a, s, n: put(b, a + 40, 8, (1 << 64) - 1)),
        g_entry("gpt-entry-start-0", G512, lambda b, a, s, n: put(b, a + 32, 8, 0)),
        g_entry("gpt-entries-all-same", G512,
                lambda b, a, s, n: [b.__setitem__(slice(a + i * s, a + (i + 1) * s),
                                                  bytes(b[a:a + s])) for i in range(1, n)]),
        g_entry("gpt-entries-all-whole-disk", G512,
                lambda b, a, s, n: [(b.__setitem__(slice(a + i * s, a + i * s + 32),
                                                   bytes(b[a:a + 32])),
                                     put(b, a + i * s + 32, 8, 34),
                                     put(b, a + i * s + 40, 8, (1 << 64) - 1))
                                    for i in range(n)]),
        ("gpt-primary-zeroed-backup-huge", "gpt.header", gpt_backup_only, DAMAGE),
    ]
    # ext4 superblock fields (checksum re-sealed, so each edit is believed).
    for name, fields in [
        ("blocks-2^35-1m-groups", [(S_BLOCKS_LO, 4, 0), (S_BLOCKS_HI, 4, 8),
                                    (S_BPG, 4, 32768), (S_CPG, 4, 32768)]),
        ("blocks-2^35-1m-groups-inodes-consistent",
         [(S_BLOCKS_LO, 4, 0), (S_BLOCKS_HI, 4, 8), (S_BPG, 4, 32768), (S_CPG, 4, 32768),
          (S_FIRST_DATA, 4, 0), (S_INODES_COUNT, 4, 128 << 20)]),
        ("log-block-size-7", [(S_LOG_BS, 4, 7)]), ("log-block-size-max", [(S_LOG_BS, 4, 0xFFFFFFFF)]),
        ("log-cluster-size-max", [(S_LOG_CS, 4, 0xFFFFFFFF)]),
        ("blocks-per-group-0", [(S_BPG, 4, 0)]), ("blocks-per-group-1", [(S_BPG, 4, 1)]),
        ("blocks-per-group-max", [(S_BPG, 4, 0xFFFFFFFF)]),
        ("inodes-per-group-0", [(S_IPG, 4, 0)]), ("inodes-per-group-1", [(S_IPG, 4, 1)]),
        ("inodes-per-group-max", [(S_IPG, 4, 0xFFFFFFFF)]),
        ("inodes-count-max", [(S_INODES_COUNT, 4, 0xFFFFFFFF)]),
        ("inode-size-0", [(S_INODE_SIZE, 2, 0)]), ("inode-size-1", [(S_INODE_SIZE, 2, 1)]),
        ("inode-size-129", [(S_INODE_SIZE, 2, 129)]), ("inode-size-max", [(S_INODE_SIZE, 2, 0xFFFF)]),
        ("desc-size-0", [(S_DESC_SIZE, 2, 0)]), ("desc-size-1", [(S_DESC_SIZE, 2, 1)]),
        ("desc-size-max", [(S_DESC_SIZE, 2, 0xFFFF)]),
        ("first-data-block-max", [(S_FIRST_DATA, 4, 0xFFFFFFFF)]),
        ("first-meta-bg-max", [(S_FIRST_META_BG, 4, 0xFFFFFFFF)]),
        ("log-groups-per-flex-31", [(S_LOG_GPF, 1, 31)]),
        ("log-groups-per-flex-255", [(S_LOG_GPF, 1, 255)]),
        ("rev-level-max", [(S_REV, 4, 0xFFFFFFFF)]),
        ("first-ino-0", [(S_FIRST_INO, 4, 0)]), ("first-ino-max", [(S_FIRST_INO, 4, 0xFFFFFFFF)]),
        ("journal-inum-0", [(S_JOURNAL_INUM, 4, 0)]), ("journal-inum-2", [(S_JOURNAL_INUM, 4, 2)]),
        ("journal-inum-max", [(S_JOURNAL_INUM, 4, 0xFFFFFFFF)]),
    ]:
        # e2fsck -fn passes these two (the fields are unused there).
        ok = CLEAN if name in ("first-meta-bg-max", "log-groups-per-flex-31") else DAMAGE
        out.append(e_case("ext4-" + name, E4K, sb_set(*fields), ok))
    out += [
        # ext4/tests/fixtures_deep.rs::huge_claims_stay_bounded's image: its
        # time bound is this harness's CPU limit, not a clock in the test.
        e_case("ext4-huge-claims-deep", E4K,
               sb_set((S_BLOCKS_LO, 4, 0), (S_BLOCKS_HI, 4, 8), (S_BPG, 4, 32768),
                      (S_CPG, 4, 32768), (S_INODES_COUNT, 4, 128 << 20)),
               extra=["--deep"]),
        e_case("ext4-blocks-2^35-deep", E4K, sb_set((S_BLOCKS_LO, 4, 0), (S_BLOCKS_HI, 4, 8),
                                                    (S_BPG, 4, 32768), (S_CPG, 4, 32768)),
               extra=["--deep"]),
        e_case("ext4-4m-groups-meta-bg", E4K, groups_claimed(1 << 22, meta_bg=True),
               cls="ext4.groups"),
        e_case("ext4-4m-groups-meta-bg-deep", E4K, groups_claimed(1 << 22, meta_bg=True),
               cls="ext4.groups", extra=["--deep"]),
        e_case("ext4-200k-groups-zeroed-gdt", E4K, groups_claimed(200_000, zero_gdt=True),
               cls="ext4.groups"),
        e_case("ext4-200k-groups-zeroed-gdt-deep", E4K, groups_claimed(200_000, zero_gdt=True),
               cls="ext4.groups", extra=["--deep"]),
        e_case("ext4-1k-log-block-size-6", E1K, sb_set((S_LOG_BS, 4, 6))),
        e_case("ext4-gd-inode-table-0", E4K, gd_set(0x08, 4, 0), cls="ext4.descriptors"),
        e_case("ext4-gd-inode-table-past-end", E4K, gd_set(0x08, 4, 0xFFFFFFF0),
               cls="ext4.descriptors"),
        e_case("ext4-gd-bitmap-at-superblock", E4K, gd_set(0x00, 4, 0), cls="ext4.descriptors"),
        e_case("ext4-gd-itable-unused-max", E4K, gd_set(0x1C, 2, 0xFFFF), cls="ext4.descriptors"),
        e_case("ext4-journal-extent-dag", E4K, extent_dag(8, 3), cls="ext4.journal"),
        e_case("ext4-journal-extent-dag-deep", E4K, extent_dag(8, 3), cls="ext4.journal",
               extra=["--deep"]),
        e_case("ext4-journal-extent-cycle", E4K, extent_cycle(8), cls="ext4.journal"),
        e_case("ext4-root-extent-dag-deep", E4K, extent_dag(2, 3), cls="ext4.extents",
               extra=["--deep"]),
        e_case("ext4-root-extent-cycle-deep", E4K, extent_cycle(2), cls="ext4.extents",
               extra=["--deep"]),
        e_case("ext4-1k-journal-extent-dag", E1K, extent_dag(8, 3), cls="ext4.journal"),
    ]
    return out


# Header edits QEMU refuses to open (qemu-img check: exit 1, "Could not
# open"), and where their finding is when it is not at the edited field.
REFUSED_FIELDS = {
    "version-0", "version-4", "version-max", "cluster-bits-0", "cluster-bits-8",
    "cluster-bits-22", "cluster-bits-31", "cluster-bits-max", "crypt-max", "l1-size-0",
    "l1-size-max", "l1-size-32m", "l1-offset-unaligned", "l1-offset-2^63",
    "rt-offset-unaligned", "rt-clusters-max", "rt-clusters-1m", "incompat-unknown",
    "incompat-all", "incompat-data-file", "autoclear-all", "refcount-order-7",
    "refcount-order-max", "header-length-0", "header-length-103",
    "header-length-past-cluster", "header-length-max", "compression-zstd-unflagged",
    "compression-255", "backing-offset-past-end",
}
# A compression type without incompatible bit 3 is refused for the bit.
REFUSED_AT = {"compression-zstd-unflagged": Q_INCOMPAT}
# Legal or ignored by QEMU (qemu-img check exit 0) or legal but noted: AES
# encryption (an old, sound format imgcheck reads no keys for), the dirty
# bit alone, a backing size with no backing offset, a snapshot offset with
# no snapshots.
LEGAL_FIELDS = {"crypt-aes", "incompat-dirty", "backing-size-max", "backing-size-1024",
                "snapshots-offset-past-end"}


def gpt_backup_only(d):
    b = bytearray(fixture("gpt/gpt-512.img"))
    alt = get(b, 512 + G_ALT, 8)
    b[512:1024] = bytes(512)
    put(b, 512 * alt + G_NUM, 4, 0xFFFFFFFF)
    gpt_reseal(b, 512, header_lba=alt, entries=False)
    write(d, "disk.img", b)
    return ["disk.img"]


# The suite's sample: every class, none slower than a second or two.
SAMPLE = {
    "kind-fifo", "kind-socket", "kind-chardev", "kind-missing", "kind-empty-dir",
    "kind-dir-of-text", "kind-fifo-in-dir", "kind-zero-bytes", "kind-qcow2-v1",
    "kind-backing-fifo", "kind-data-file-fifo", "kind-backing-hardlink-loop",
    "qcow2-l1-size-max", "qcow2-cluster-bits-31", "qcow2-header-length-past-cluster",
    "qcow2-one-l2-for-all-64k", "qcow2-one-l2-for-all-2m", "qcow2-snapshots-truncated", "qcow2-backing-self",
    "qcow2-size-1e-scan", "qcow2-truncated-72", "qcow2-ext-huge-length",
    "mbr-four-extended-at-0", "ebr-link-self", "ebr-two-cycle", "mbr-entry-max",
    "gpt-num-entries-max", "gpt-entry-size-0", "gpt-entry-lba-1", "gpt-entries-all-same",
    "ext4-blocks-2^35-1m-groups", "ext4-blocks-2^35-1m-groups-inodes-consistent",
    "ext4-huge-claims-deep", "ext4-200k-groups-zeroed-gdt-deep",
    "ext4-200k-groups-zeroed-gdt", "ext4-4m-groups-meta-bg",
    "ext4-journal-extent-dag", "ext4-root-extent-cycle-deep", "ext4-inode-size-max",
    "kind-data-file-missing", "kind-backing-symlink-loop", "qcow2-incompat-unknown",
    "qcow2-refcount-order-7", "qcow2-compressed-everywhere-zlib-scan", "qcow2-bitmap-in-use",
    "qcow2-extl2-alloc-and-zero",
}


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gen(out, sample):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest = []
    for c in cases():
        name, cls, make, allowed = c[:4]
        images = c[4] if len(c) > 4 else 1
        exp = c[5] if len(c) > 5 else {}
        if sample and name not in SAMPLE:
            continue
        d = os.path.join(out, name)
        os.mkdir(d)
        args = make(d)
        manifest.append({"name": name, "class": cls, "args": args,
                         "exit": allowed, "images": images, **exp})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(manifest)} cases in {out}")


def limits():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT, CPU_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_one(binary, d, case):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--json", "-j1", *case["args"]], cwd=d,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=limits)
    killed = False
    try:
        out, err = p.communicate(timeout=WALL_WATCHDOG)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        killed = True
    wall = time.monotonic() - t0
    # The child's own rusage (wait4 already reaped it in communicate, so
    # take the children's maximum: each case is the only child running).
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss has the forking harness's own RSS as its floor (~14 MiB).
    rss = use.ru_maxrss * 1024
    cpu = use.ru_utime + use.ru_stime
    code = p.returncode
    docs, bad, objs = 0, 0, []
    for line in out.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            v = json.loads(line)
            docs += isinstance(v, dict)
            if isinstance(v, dict):
                objs.append(v)
        except ValueError:
            bad += 1
    problems = []
    hang = killed or code in (-signal.SIGXCPU, -signal.SIGKILL)
    if hang:
        problems.append("hang")
    over = rss > RSS_LIMIT or (code is not None and code < 0 and not hang) \
        or b"memory allocation" in err
    if over:
        problems.append("over-memory")
    if docs != case["images"] or bad:
        problems.append(f"json {docs}/{case['images']}" + (f" +{bad} bad" if bad else ""))
    if code not in case["exit"]:
        problems.append(f"exit {code} not in {case['exit']}")
    problems += expectations(case, objs)
    return {"name": case["name"], "class": case["class"], "exit": code,
            "wall": round(wall, 2), "cpu": round(cpu, 2), "rss": rss, "json": docs, "hang": hang,
            "over_memory": over, "problems": problems,
            "stderr": err.decode(errors="replace")[-400:]}


def expectations(case, objs):
    """What the case's report must hold: a finding (code prefix, offset,
    and above info), or the fatal error kind of a JSON error object."""
    problems = []
    if "finding" in case:
        prefix, offset = case["finding"]
        found = [f for o in objs for f in o.get("findings", [])
                 if f.get("code", "").startswith(prefix) and f.get("severity") != "info"]
        if not any(offset is None or f.get("offset") == offset for f in found):
            near = [(f["code"], f.get("offset")) for f in found][:3]
            problems.append(f"no {prefix}* at {offset} (have {near})")
    if "fatal" in case:
        kinds = [o.get("error", {}).get("kind") for o in objs if o.get("verdict") == "error"]
        if case["fatal"] not in kinds:
            problems.append(f"no fatal {case['fatal']} (have {kinds})")
    return problems


def run(out, binary, report):
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    binary = os.path.abspath(binary)
    results = []
    for case in manifest:
        # A fresh process per case so RUSAGE_CHILDREN is this case's peak.
        r = subprocess.run([sys.executable, __file__, "run-one", binary,
                            os.path.join(out, case["name"]), json.dumps(case)],
                           stdout=subprocess.PIPE, check=True)
        res = json.loads(r.stdout)
        results.append(res)
        flag = "ok " if not res["problems"] else "BAD"
        print(f"{flag} {res['name']:<44} exit {res['exit']!s:>4} {res['wall']:7.2f}s "
              f"{res['cpu']:6.2f}s cpu "
              f"{res['rss'] / 2**20:7.1f} MiB  {'; '.join(res['problems'])}", flush=True)
    summary = {
        "cases": len(results),
        "hangs": sum(r["hang"] for r in results),
        "over_memory": sum(r["over_memory"] for r in results),
        "missing_json": sum(r["json"] != c["images"] for r, c in zip(results, manifest)),
        "wrong_exit": sum(any(p.startswith("exit") for p in r["problems"]) for r in results),
        "failed": sum(bool(r["problems"]) for r in results),
        "worst_wall": max((r["wall"] for r in results), default=0),
        "worst_cpu": max((r.get("cpu", 0) for r in results), default=0),
        "worst_rss": max((r["rss"] for r in results), default=0),
    }
    print(json.dumps(summary))
    if report:
        with open(report, "w") as f:
            json.dump({"summary": summary, "results": results}, f, indent=1)
    return summary


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "gen":
        gen(a[1], "--sample" in a)
    elif len(a) >= 3 and a[0] == "run":
        rep = a[a.index("--report") + 1] if "--report" in a else None
        s = run(a[1], a[2], rep)
        sys.exit(1 if s["failed"] else 0)
    elif len(a) == 4 and a[0] == "run-one":
        print(json.dumps(run_one(a[1], a[2], json.loads(a[3]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
