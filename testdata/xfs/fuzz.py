#!/usr/bin/env python3
"""Differential fuzzing of imgcheck-xfs against xfs_repair -n, as xfstests
fuzzes XFS (common/fuzzy: _scratch_xfs_fuzz_metadata): for every field of
every structure, every verb, `xfs_db -x -c SELECT -c "fuzz -d FIELD VERB"` on
a copy of a clean fixture, then `xfs_repair -n` and the xfs checker on it.

Every image xfs_repair -n flags must be flagged by the checker (a finding of
warning or error severity). Output: one TSV line per case
(image, structure, field, verb, repair_rc, ours_rc, our codes), then a table
per structure on stderr.

usage: fuzz.py CHECKER OUT.tsv [--images a.img,b.img] [--verbs v,..]
               [--structures s,..] [--jobs N] [--limit N] [--seed S]
CHECKER is the xfscheck example binary (cargo build --release -p
imgcheck-xfs --example xfscheck). Images default to the committed fixtures
v5-4k, v5-1k, v5-plain and v4 (decompressed by the caller or by zstd here).
"""
import argparse
import concurrent.futures
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

VERBS = ["zeroes", "ones", "firstbit", "middlebit", "lastbit", "add", "sub", "random"]


def db(img, *cmds, write=False):
    args = ["xfs_db"] + (["-x"] if write else ["-r"])
    for c in cmds:
        args += ["-c", c]
    return subprocess.run(args + [img], capture_output=True, encoding="utf-8", errors="replace", timeout=60)


def structures(img):
    """(name, selector commands) for every structure the fixture holds."""
    bs = int(db(img, "sb 0", "print blocksize").stdout.split("=")[1])
    leaf = (1 << 35) // bs
    free = (1 << 36) // bs
    v5 = "crc" in db(img, "version").stdout.lower() or "CRC" in db(img, "version").stdout
    feats = db(img, "version").stdout
    out = [
        ("sb0", ["sb 0"]),
        ("sb1", ["sb 1"]),
        ("agf", ["agf 0"]),
        ("agf1", ["agf 1"]),
        ("agi", ["agi 0"]),
        ("agi1", ["agi 1"]),
        ("agfl", ["agfl 0"]),
        ("bnobt", ["agf 0", "addr bnoroot"]),
        ("cntbt", ["agf 0", "addr cntroot"]),
        ("inobt", ["agi 0", "addr root"]),
        ("inode_root", ["path /"]),
    ]
    sbv = {}
    for line in db(img, "sb 0", "print rblocks rbmino rsumino").stdout.splitlines():
        k, _, v = line.partition(" = ")
        sbv[k.strip()] = v.strip()
    if sbv.get("rblocks", "0") not in ("0", ""):
        # the realtime bitmap and summary inodes (their blocks are raw
        # words xfs_db names no fields in)
        out.append(("inode_rtbitmap", [f"inode {sbv['rbmino']}"]))
        out.append(("inode_rtsummary", [f"inode {sbv['rsumino']}"]))
    if "FINOBT" in feats:
        out.append(("finobt", ["agi 0", "addr free_root"]))
    if "RMAPBT" in feats:
        out.append(("rmapbt", ["agf 0", "addr rmaproot"]))
    if "REFLINK" in feats:
        out.append(("refcountbt", ["agf 0", "addr refcntroot"]))
    paths = {
        "inode_sfdir": "/sf",
        "inode_blockdir": "/block",
        "inode_leafdir": "/leaf",
        "inode_nodedir": "/node",
        "inode_extents": "/frag1",
        "inode_btree": "/many",
        "inode_symlink_local": "/shortlink",
        "inode_symlink_remote": "/longlink",
        "inode_dev": "/null",
        "inode_attr_local": "/sf/f1",
        "inode_attr_leaf": "/sf/f2",
        "inode_sparse": "/sparse",
        "inode_unwritten": "/prealloc",
        # v4 fixtures (prototype-made) hold these instead
        # populate_more (testdata/xfs/lib.sh) images hold these too
        "inode_btreedir": "/bt1",
        "inode_attr_node": "/attrnode",
        "inode_reflinked": "/frag1.clone",
        "inode_v4dir": "/d",
        "inode_v4file": "/big",
        # xfs-vm.sh fixtures: realtime files (extents, btree) and quota owners
        "inode_rtfile": "/rtfile",
        "inode_rtbtree": "/rtmany",
        "inode_rtinherit": "/rtdir/r2",
    }
    for name, p in paths.items():
        r = db(img, f"path {p}", "print core.format")
        if r.returncode == 0 and "core.format" in r.stdout:
            out.append((name, [f"path {p}"]))
    blocks = [
        ("bmbt", "/many", ["addr u3.bmbt.ptrs[1]"]),
        ("dir_block", "/block", ["dblock 0"]),
        ("dir_data", "/leaf", ["dblock 0"]),
        ("dir_leaf1", "/leaf", [f"dblock {leaf}"]),
        ("dir_node_data", "/node", ["dblock 0"]),
        ("dir_node", "/node", [f"dblock {leaf}"]),
        ("dir_leafn", "/node", [f"dblock {leaf + 1}"]),
        ("dir_free", "/node", [f"dblock {free}"]),
        ("dir_v4", "/d", ["dblock 0"]),
        ("attr_leaf", "/sf/f2", ["ablock 0"]),
        ("attr_remote", "/sf/f3", ["ablock 1"]),
        ("symlink_remote", "/longlink", ["dblock 0"]),
        ("bmbt_dir", "/bt1", ["addr u3.bmbt.ptrs[1]"]),
        ("dir_btree_data", "/bt1", ["dblock 1"]),
        ("attr_node", "/attrnode", ["ablock 0"]),
        ("attr_node_leaf", "/attrnode", ["ablock 1"]),
        ("bmbt_rt", "/rtmany", ["addr u3.bmbt.ptrs[1]"]),
    ]
    for name, p, sel in blocks:
        cmds = [f"path {p}"] + sel
        r = db(img, *cmds, "print")
        if r.returncode == 0 and r.stdout.strip() and "no" not in r.stdout[:40].lower() and "error" not in r.stderr.lower():
            out.append((name, cmds))
    # dquots (xfs-vm.sh quota fixtures): root's, and owners with limits
    for name, sel in [("dquot_u0", "dquot -u 0"), ("dquot_u1001", "dquot -u 1001"), ("dquot_u70000", "dquot -u 70000"),
                      ("dquot_g1005", "dquot -g 1005"), ("dquot_p42", "dquot -p 42")]:
        r = db(img, sel, "print diskdq.magic")
        if r.returncode == 0 and "0x4451" in r.stdout:
            out.append((name, [sel]))
    _ = v5
    return out


FIELD_RE = re.compile(r"^([A-Za-z0-9_.\[\]-]+) = (.*)$")


def fields(img, sel):
    """Field names as `fuzz` takes them: arrays by their first and last element."""
    r = db(img, *sel, "print")
    names = []
    for line in r.stdout.splitlines():
        m = FIELD_RE.match(line.strip())
        if not m:
            continue
        name, val = m.group(1), m.group(2)
        arr = re.match(r"^(.*)\[(\d+)-(\d+)\](.*)$", name)
        idxs = []
        if arr:
            base, a, b, rest = arr.group(1), int(arr.group(2)), int(arr.group(3)), arr.group(4)
            idxs = sorted({a, b})
            if val.startswith("[") and "]" in val:
                subs = val[1 : val.index("]")].split(",")
                for i in idxs:
                    for s in subs:
                        names.append(f"{base}[{i}]{rest}.{s}")
            else:
                for i in idxs:
                    names.append(f"{base}[{i}]{rest}")
        else:
            names.append(name)
    return thin(names)


def thin(names):
    """Per array (dir entries, leaf entries, records), its first three and
    last elements: the fields repeat, and the walk stays hours, not days."""
    idx_re = re.compile(r"^([^\[]*)\[(\d+)\](.*)$")
    groups = {}
    for n in names:
        m = idx_re.match(n)
        if m:
            groups.setdefault(m.group(1), set()).add(int(m.group(2)))
    keep = {}
    for base, ks in groups.items():
        ks = sorted(ks)
        keep[base] = set(ks[:3] + ks[-1:])
    out = []
    for n in names:
        m = idx_re.match(n)
        if not m or int(m.group(2)) in keep[m.group(1)]:
            out.append(n)
    return out


RTDEVS = {}


def rtdev_args(src):
    """A realtime filesystem's xfs_repair -n needs its realtime device: a
    zeroed file of its size stands in (the fixtures' realtime sections
    were never written)."""
    if src not in RTDEVS:
        r = db(src, "sb 0", "print rblocks blocksize")
        v = dict(l.split(" = ") for l in r.stdout.splitlines() if " = " in l)
        n = int(v.get("rblocks", "0")) * int(v.get("blocksize", "0"))
        RTDEVS[src] = []
        if n:
            # xfs-vm.sh fixtures keep their written realtime device beside
            # the image as IMAGE.rtdev: use it when it is there
            dev = src + ".rtdev"
            if not os.path.exists(dev):
                with open(dev, "wb") as fh:
                    fh.truncate(n)
            RTDEVS[src] = ["-r", dev]
    return RTDEVS[src]


def run_case(checker, src, tmpdir, sname, sel, field, verb):
    try:
        return run_case_inner(checker, src, tmpdir, sname, sel, field, verb)
    except Exception as e:  # noqa: BLE001 - one bad case must not stop the run
        print(f"case {sname} {field} {verb} failed: {e}", file=sys.stderr)
        return None


def run_case_inner(checker, src, tmpdir, sname, sel, field, verb):
    img = os.path.join(tmpdir, f"c{os.getpid()}_{abs(hash((src, sname, field, verb)))}.img")
    subprocess.run(["cp", "--sparse=always", src, img], check=True)
    flag = "-c" if field.endswith("crc") else "-d"
    r = db(img, *sel, f"fuzz {flag} {field} {verb}", write=True)
    if r.returncode != 0 or "unknown" in r.stdout.lower() or "not" in r.stdout.lower() and "fuzz" in r.stdout.lower():
        os.unlink(img)
        return None
    try:
        rep = subprocess.run(["xfs_repair", "-n"] + rtdev_args(src) + [img], capture_output=True, encoding="utf-8", errors="replace", timeout=300)
        ours = subprocess.run([checker, "--codes", img], capture_output=True, encoding="utf-8", errors="replace", timeout=300)
    finally:
        os.unlink(img)
    codes = ",".join(sorted(set(ours.stdout.split())))
    return (os.path.basename(src), sname, field, verb, rep.returncode, ours.returncode, codes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checker")
    ap.add_argument("out")
    ap.add_argument("--images", default="")
    ap.add_argument("--verbs", default=",".join(VERBS))
    ap.add_argument("--structures", default="")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit", type=int, default=0, help="cases at most, sampled with --seed")
    ap.add_argument("--seed", type=int, default=19)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    tmpdir = tempfile.mkdtemp(prefix="xfsfuzz")
    images = [i for i in a.images.split(",") if i]
    if not images:
        for n in ["v5-4k", "v5-1k", "v5-plain", "v4"]:
            dst = os.path.join(tmpdir, n + ".img")
            subprocess.run(["zstd", "-d", "-q", "-f", os.path.join(here, "..", "fixtures", "xfs", n + ".img.zst"), "-o", dst], check=True)
            images.append(dst)
    want = set(s for s in a.structures.split(",") if s)
    cases = []
    for img in images:
        for sname, sel in structures(img):
            if want and sname not in want:
                continue
            for f in fields(img, sel):
                for v in a.verbs.split(","):
                    cases.append((img, sname, sel, f, v))
    for img in images:
        rtdev_args(img)  # made once, before the threads
    print(f"{len(cases)} cases over every field and verb", file=sys.stderr)
    if a.limit and len(cases) > a.limit:
        random.Random(a.seed).shuffle(cases)
        cases = sorted(cases[: a.limit], key=lambda c: (c[0], c[1], c[3], c[4]))
    print(f"{len(cases)} cases", file=sys.stderr)
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(run_case, a.checker, img, tmpdir, s, sel, f, v) for img, s, sel, f, v in cases]
        with open(a.out, "w") as out:
            for fu in concurrent.futures.as_completed(futs):
                r = fu.result()
                if r is None:
                    continue
                results.append(r)
                out.write("\t".join(str(x) for x in r) + "\n")
                out.flush()
    shutil.rmtree(tmpdir, ignore_errors=True)
    summarize(results)


def summarize(results):
    per = {}
    for img, s, f, v, rr, orc, codes in results:
        key = s
        d = per.setdefault(key, [0, 0, 0, 0])
        d[0] += 1
        if rr != 0:
            d[1] += 1
            if orc != 0:
                d[2] += 1
        elif orc != 0:
            d[3] += 1
    print(f"{'structure':24} {'fuzzed':>7} {'repair':>7} {'ours':>7} {'extra':>6}", file=sys.stderr)
    tot = [0, 0, 0, 0]
    for k in sorted(per):
        d = per[k]
        tot = [x + y for x, y in zip(tot, d)]
        print(f"{k:24} {d[0]:7} {d[1]:7} {d[2]:7} {d[3]:6}", file=sys.stderr)
    print(f"{'total':24} {tot[0]:7} {tot[1]:7} {tot[2]:7} {tot[3]:6}", file=sys.stderr)
    misses = [r for r in results if r[4] != 0 and r[5] == 0]
    for r in misses[:200]:
        print("MISS", *r, sep="\t", file=sys.stderr)


if __name__ == "__main__":
    main()
