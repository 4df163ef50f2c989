#!/usr/bin/env python3
"""LVM2 attack matrix: PVs, VGs and LVs made by the real lvm2 tools with
option combinations (metadata copies and sizes, data alignment, extent
sizes, striping, extension across PVs, renames and removals in the ring,
vgsplit/vgmerge, a wrapped ring, PVs on partitions and in qcow2), then
damaged at each structure (label CRC, PV header, mda header checksum,
raw_locn offset and size, metadata text, seqno between copies, a missing
PV). Each case is judged by lvm2 itself (vgck, pvck, lvs partial) and by
imgcheck (a warning or error of the lvm2 layer, a partial LV), and the
verdicts are compared: agree / differ.

Usage (root, lvm2, qemu-img): lvm2-attack.py IMGCHECK_BINARY [FILTER]
Never touches the host's devices: every lvm command accepts only the loop
devices made here; everything is detached on exit."""
import json, os, shutil, struct, subprocess, sys, tempfile, zlib

IMGCHECK = sys.argv[1]
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
work = tempfile.mkdtemp(prefix="lvm2-attack-")
loops = []


def sh(*a, check=True, **kw):
    return subprocess.run(a, check=check, capture_output=True, text=True, **kw)


def cfg():
    f = "".join(f'"a|^{d}$|",' for d in loops)
    return (f'devices{{scan=["/dev"] filter=[{f}"r|.*|"] use_devicesfile=0 '
            'obtain_device_list_from_udev=0 hints="none"} activation{udev_sync=0 udev_rules=0 '
            'monitoring=0} backup{backup=0 archive=0} global{event_activation=0}')


def lvm(cmd, *a, check=True):
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
    return subprocess.run(["lvm", cmd, "--config", cfg(), *a], capture_output=True, text=True,
                          env=env, check=check)


def attach(path, ro=False):
    d = sh("losetup", *(["-r"] if ro else []), "-f", "--show", path).stdout.strip()
    loops.append(d)
    return d


def detach_all():
    while loops:
        sh("losetup", "-d", loops.pop(), check=False)


def image(name, size_m):
    p = os.path.join(work, name)
    with open(p, "wb") as f:
        f.truncate(size_m << 20)
    return p


LV = ["--driverloaded", "n", "-an", "-Zn", "-y"]


def peer(paths, part=None):
    """lvm2's verdict with every image attached read-only (`part`: the
    (offset, size) of the PV's partition, which this kernel does not scan
    on loop devices)."""
    detach_all()
    if part:
        devs = [sh("losetup", "-r", "-f", "--show", "-o", str(part[0]), "--sizelimit", str(part[1]),
                   paths[0]).stdout.strip()]
        loops.extend(devs)
    else:
        devs = [attach(p, ro=True) for p in paths]
    out = lvm("lvs", "--noheadings", "--separator", "|", "-a", "-o", "vg_name,lv_name,lv_attr",
              check=False)
    partial = sorted(l.split("|")[1].strip() for l in out.stdout.splitlines()
                     if "|" in l and len(l.split("|")[2].strip()) > 8
                     and l.split("|")[2].strip()[8] == "p" and not l.split("|")[1].strip().startswith("["))
    vgs = sorted({l.split("|")[0].strip() for l in out.stdout.splitlines() if "|" in l})
    vgck = [lvm("vgck", vg, check=False).returncode for vg in vgs]
    pvck = [lvm("pvck", d, check=False).returncode for d in devs]
    # pvck on a device without any label says so with rc 5: not damage
    # of a PV unless a VG names it.
    detach_all()
    # lvm's own warnings about the metadata (an older copy it ignores, a
    # checksum error it retried past) count like a failing check.
    warned = [l.strip() for l in out.stderr.splitlines()
              if "WARNING" in l and ("metadata" in l or "Checksum" in l or "missing" in l)]
    bad = any(vgck) or any(pvck) or bool(partial) or bool(warned)
    return {"bad": bad, "vgck": vgck, "pvck": pvck, "partial": partial, "vgs": vgs,
            "err": warned[-2:] or out.stderr.strip().splitlines()[-2:]}


def ours(paths):
    out = subprocess.run([IMGCHECK, "--json", *paths], capture_output=True, text=True)
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    codes, partial = set(), set()
    for r in lines:
        for f in r.get("findings", []):
            if f["code"].startswith("lvm2.") and f["severity"] in ("warning", "error"):
                codes.add(f["code"])
            if f["code"] == "lvm2.lv.partial":
                partial.add(f["message"].split()[1].split("/")[1])
    return {"bad": bool(codes), "codes": sorted(codes), "partial": sorted(partial),
            "verdicts": [r.get("verdict") for r in lines]}


results = []


def case(name, paths, design="", part=None):
    """One case; `design`: why imgcheck differs from lvm2 on purpose
    (counted apart when it does)."""
    if FILTER and FILTER not in name:
        return
    p, o = peer(paths, part), ours(paths)
    same = p["bad"] == o["bad"] and p["partial"] == o["partial"]
    kind = "agree" if same else ("design" if design else "DIFFER")
    results.append((name, kind, p, o, design))
    print(f"{kind:6} {name}: lvm2 bad={p['bad']} vgck={p['vgck']} pvck={p['pvck']} "
          f"partial={p['partial']} | imgcheck {o['verdicts']} {o['codes']} partial={o['partial']}"
          + (f"  [{design}]" if kind == "design" else ""), flush=True)
    if not same:
        print("       lvm2 said:", p["err"], flush=True)


def fresh(tag):
    d = os.path.join(work, tag)
    os.makedirs(d, exist_ok=True)
    return d


def build(tag, pv_opts=(), vg_opts=(), sizes=(48, 48), lvs=(), after=None):
    """PVs of `sizes` MiB with `pv_opts`, one VG over them, then each of
    `lvs` (lvcreate args), then `after(vg, devs)`. Returns the images."""
    detach_all()
    d = fresh(tag)
    paths = []
    for i, s in enumerate(sizes):
        p = os.path.join(d, f"pv{i}.img")
        with open(p, "wb") as f:
            f.truncate(s << 20)
        paths.append(p)
    devs = [attach(p) for p in paths]
    vg = "atk_" + tag.replace("-", "_")
    for i, dev in enumerate(devs):
        opts = pv_opts[i] if pv_opts and isinstance(pv_opts[0], (list, tuple)) else pv_opts
        lvm("pvcreate", "-y", *opts, dev)
    lvm("vgcreate", *vg_opts, vg, *devs)
    for a in lvs:
        lvm("lvcreate", *LV, *a, vg)
    if after:
        after(vg, devs)
    lvm("vgchange", "-an", "--driverloaded", "n", vg, check=False)
    detach_all()
    return paths


def rd(p, off, n):
    with open(p, "rb") as f:
        f.seek(off)
        return f.read(n)


def wr(p, off, b):
    with open(p, "r+b") as f:
        f.seek(off)
        f.write(b)


def copy(paths, tag):
    d = fresh(tag)
    out = []
    for p in paths:
        q = os.path.join(d, os.path.basename(p))
        shutil.copy(p, q)
        out.append(q)
    return out


LVM_CRC = 0xF597A6CF


def lvm_crc(data, crc=LVM_CRC):
    # lvm's calc_crc: the CRC-32 table, no pre/post inversion.
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc & 0xFFFFFFFF


def mda0(p):
    return 4096


def reseal_mda(p, at=4096):
    h = bytearray(rd(p, at, 512))
    struct.pack_into("<I", h, 0, lvm_crc(bytes(h[4:512])))
    wr(p, at, bytes(h))


try:
    # ---- clean option matrix -------------------------------------------
    for mc in ("0", "1", "2"):
        case(f"metadatacopies-{mc}+1", build(f"mc{mc}", pv_opts=[["--metadatacopies", mc], ["--metadatacopies", "1"]],
                                           lvs=[["-L", "40M", "-n", "a"]]))
    for ms in ("64k", "1m", "4m"):
        case(f"metadatasize-{ms}", build(f"ms{ms}", pv_opts=["--metadatasize", ms], sizes=(48,),
                                         lvs=[["-L", "8M", "-n", "a"]]))
    for da in ("64k", "4m", "8m"):
        case(f"dataalignment-{da}", build(f"da{da}", pv_opts=["--dataalignment", da], sizes=(48,),
                                          lvs=[["-L", "8M", "-n", "a"]]))
    case("dataalignmentoffset", build("dao", pv_opts=["--dataalignment", "1m", "--dataalignmentoffset", "192k"],
                                      sizes=(48,), lvs=[["-L", "8M", "-n", "a"]]))
    for s in ("1M", "2M", "16M", "64M"):
        case(f"extent-{s}", build(f"ext{s}", vg_opts=["-s", s], sizes=(160,),
                                   lvs=[["-L", "64M", "-n", "a"]]))
    case("vgmetadatacopies-2", build("vgmc", pv_opts=["--pvmetadatacopies", "2"], vg_opts=["--vgmetadatacopies", "2"],
                                     sizes=(32, 32, 32), lvs=[["-L", "40M", "-n", "a"]]))
    for i, ss in (("2", "4k"), ("2", "512k"), ("3", "64k")):
        case(f"striped-i{i}-I{ss}", build(f"str{i}{ss}", sizes=(32, 32, 32),
                                           lvs=[["-i", i, "-I", ss, "-L", "24M", "-n", "s"]]))

    def extend(vg, devs):
        lvm("lvextend", "--driverloaded", "n", "-L", "+24M", f"{vg}/a", devs[1])
        lvm("lvextend", "--driverloaded", "n", "-L", "+8M", f"{vg}/a", devs[0])
    case("lvextend-across", build("ext-across", lvs=[["-L", "24M", "-n", "a"], ["-L", "8M", "-n", "b"]], after=extend))

    def history(vg, devs):
        lvm("lvrename", "--driverloaded", "n", vg, "a", "renamed")
        lvm("lvremove", "--driverloaded", "n", "-y", f"{vg}/b")
        lvm("lvcreate", *LV, "-L", "4M", "-n", "c", vg)
        lvm("lvreduce", "-y", "--driverloaded", "n", "-L", "4M", f"{vg}/renamed", check=False)
    case("rename-remove-reduce", build("hist", lvs=[["-L", "8M", "-n", "a"], ["-L", "8M", "-n", "b"]], after=history))

    def wrap(vg, devs):
        for i in range(60):
            lvm("lvcreate", *LV, "-L", "4M" if i < 8 else "4M", "-n", f"w{i}", vg, check=False)
            if i >= 8:
                lvm("lvremove", "--driverloaded", "n", "-y", f"{vg}/w{i}", check=False)
    case("ring-wrap-64k", build("wrap", pv_opts=["--metadatasize", "64k"], sizes=(64,), after=wrap))

    def split(vg, devs):
        lvm("vgsplit", "--driverloaded", "n", vg, vg + "_x", devs[1])
    case("vgsplit", build("split", lvs=[["-L", "8M", "-n", "a", ]], after=lambda vg, d: (
        lvm("lvcreate", *LV, "-L", "8M", "-n", "b", vg, d[1]), split(vg, d))))

    def merge(vg, devs):
        lvm("vgsplit", "--driverloaded", "n", vg, vg + "_x", devs[1])
        lvm("vgmerge", "--driverloaded", "n", vg, vg + "_x")
    case("vgsplit-vgmerge", build("merge", lvs=[["-L", "8M", "-n", "a"]], after=lambda vg, d: (
        lvm("lvcreate", *LV, "-L", "8M", "-n", "b", vg, d[1]), merge(vg, d))))

    # PV on a partition, and in qcow2.
    detach_all()
    d = fresh("part")
    p = os.path.join(d, "disk.img")
    with open(p, "wb") as f:
        f.truncate(64 << 20)
    sh("sgdisk", "-n", "1:2048:+40M", "-t", "1:8e00", p)
    dev = sh("losetup", "-f", "--show", "-o", str(1 << 20), "--sizelimit", str(40 << 20), p).stdout.strip()
    loops.append(dev)
    lvm("pvcreate", "-y", dev)
    lvm("vgcreate", "atk_part", dev)
    lvm("lvcreate", *LV, "-L", "16M", "-n", "a", "atk_part")
    detach_all()
    case("pv-on-partition", [p], part=(1 << 20, 40 << 20))
    both = build("q", lvs=[["-L", "64M", "-n", "a"]])
    qs = []
    for x in both:
        q = x[:-4] + ".qcow2"
        sh("qemu-img", "convert", "-O", "qcow2", x, q)
        qs.append(q)
    case("pvs-in-qcow2", qs)
    case("pv-raw+pv-qcow2", [both[0], qs[1]], design="lvm2 cannot read a PV inside a qcow2; imgcheck reads the guest disk")

    # ---- damage ---------------------------------------------------------
    base = build("dmg", lvs=[["-L", "40M", "-n", "a"], ["-L", "24M", "-n", "b"]])
    # b lives on pv1 only if allocation put it there; whatever lvm says.
    label = None
    for s in range(4):
        if rd(base[1], s * 512, 8) == b"LABELONE":
            label = s * 512
    assert label is not None
    x = copy(base, "d-labelcrc"); wr(x[1], label + 16, bytes([rd(x[1], label + 16, 1)[0] ^ 0xff]))
    case("damage-label-crc", x, design="lvm2 ignores the PV; imgcheck names the CRC error and still maps its extents")
    x = copy(base, "d-labelgone"); wr(x[1], label, b"\0" * 512)
    case("damage-label-zeroed", x, design="lvm2 cannot find the PV; imgcheck finds it by its metadata area")
    x = copy(base, "d-pvhdr"); wr(x[1], label + 32 + 32, struct.pack("<Q", 1 << 40))
    case("damage-pvheader-devsize(crc)", x, design="lvm2 ignores the PV; imgcheck names the CRC error and still maps its extents")
    x = copy(base, "d-mdacsum"); wr(x[1], 4096, b"\0\0\0\0")
    case("damage-mda-checksum", x)
    x = copy(base, "d-mdamagic"); wr(x[1], 4096 + 4, b"X")
    case("damage-mda-magic", x)
    off, size = struct.unpack("<QQ", rd(base[1], 4096 + 40, 16))
    x = copy(base, "d-rawoff"); wr(x[1], 4096 + 40, struct.pack("<Q", 1 << 30)); reseal_mda(x[1])
    case("damage-raw_locn-offset-out", x)
    x = copy(base, "d-rawsize"); wr(x[1], 4096 + 48, struct.pack("<Q", size + 1000)); reseal_mda(x[1])
    case("damage-raw_locn-size", x)
    x = copy(base, "d-text"); t = 4096 + off + size // 2; wr(x[1], t, bytes([rd(x[1], t, 1)[0] ^ 0x01]))
    case("damage-text-byte(crc)", x)
    # Text damaged but resealed (CRC right, syntax wrong).
    x = copy(base, "d-syntax")
    txt = bytearray(rd(x[1], 4096 + off, size))
    i = txt.find(b"logical_volumes {")
    txt[i + len("logical_volumes ")] = ord("(")
    wr(x[1], 4096 + off, bytes(txt))
    wr(x[1], 4096 + 40 + 16, struct.pack("<I", lvm_crc(bytes(txt))))
    reseal_mda(x[1])
    case("damage-text-syntax(resealed)", x)
    x = copy(base, "d-both-text")
    for q in x:
        o2, s2 = struct.unpack("<QQ", rd(q, 4096 + 40, 16))
        wr(q, 4096 + o2 + 100, b"#")
    case("damage-text-all-copies", x)
    x = copy(base, "d-missing")
    case("missing-pv1", x[:1])
    case("missing-pv0", x[1:])
    # seqno mismatch: pv1 as it was before a later change.
    old = copy(base, "d-old")
    detach_all()
    devs = [attach(p) for p in base]
    lvm("lvcreate", *LV, "-L", "4M", "-n", "later", "atk_dmg")
    detach_all()
    case("seqno-older-copy-on-pv1", [base[0], old[1]])
    case("zeroed-last-pv", [base[0], image("zero.img", 48)])
finally:
    detach_all()
    n = len(results)
    count = {k: sum(1 for r in results if r[1] == k) for k in ("agree", "design", "DIFFER")}
    print(f"\nlvm2 attack: {n} cases: {count['agree']} agree, {count['design']} differ by design, "
          f"{count['DIFFER']} differ")
    shutil.rmtree(work, ignore_errors=True)
