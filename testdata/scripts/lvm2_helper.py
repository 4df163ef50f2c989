#!/usr/bin/env python3
"""Helpers for lvm2.sh: lvm2 cannot activate LVs here (no device-mapper),
so LV contents are written where lvm2 allocated them, as dm would map them.

  scatter VG LV FILE        write FILE as LV's contents (linear/striped) per `lvs`
  thin XML DATAOUT SPEC...  build thin_restore XML and the pool's data area
  cow ORIGIN_OLD ORIGIN_NEW CHUNK_SECTORS OUT   build an old-style COW store
  addlvs BACKUP OUT SNIPPET   insert LV sections into a vgcfgbackup file
  hide BACKUP OUT [OLD=]LV...  drop VISIBLE from LVs (sub-LVs of pools), renaming

Every lvm command runs with $LVMCFG (restricted to our loop devices)."""
import json, os, re, subprocess, sys

CFG = os.environ.get("LVMCFG", "")


def lvm(*args):
    out = subprocess.run(["lvm", args[0], "--config", CFG, *args[1:]],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["report"][0]


def scatter(vg, lv, path):
    ext = int(lvm("vgs", "--reportformat", "json", "--units", "b", "--nosuffix",
                  "-o", "vg_extent_size", vg)["vg"][0]["vg_extent_size"])
    pvs = lvm("pvs", "--reportformat", "json", "--units", "b", "--nosuffix",
              "-o", "pv_name,pe_start")["pv"]
    pe_start = {p["pv_name"]: int(p["pe_start"]) for p in pvs}
    segs = lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
               "lv_name,segtype,seg_start_pe,seg_size_pe,stripes,stripe_size,seg_pe_ranges",
               f"{vg}/{lv}")["lv"]
    data = open(path, "rb").read()
    fds = {}
    for s in segs:
        assert s["segtype"] in ("linear", "striped"), s
        n = int(s["stripes"])
        ss = int(s["stripe_size"]) if n > 1 else ext
        areas = []
        for r in s["seg_pe_ranges"].split():
            dev, rng = r.rsplit(":", 1)
            areas.append((dev, int(rng.split("-")[0])))
        seg_start = int(s["seg_start_pe"]) * ext
        seg_len = int(s["seg_size_pe"]) * ext
        for o in range(0, seg_len, 4096):
            lo = seg_start + o
            block = data[lo:lo + 4096]
            if not block.strip(b"\0"):
                continue
            k, within = divmod(o, ss)
            dev, pe = areas[k % n]
            at = pe_start[dev] + pe * ext + (k // n) * ss + within
            fd = fds.setdefault(dev, os.open(dev, os.O_WRONLY))
            os.pwrite(fd, block, at)
    for fd in fds.values():
        os.fsync(fd)
        os.close(fd)


def thin(xml_out, data_out, chunk_sectors, nr_blocks, *specs):
    """specs: DEV_ID=FILE; each non-zero chunk of FILE gets the next data block."""
    chunk = int(chunk_sectors) * 512
    out = open(data_out, "wb")
    nxt = 0
    devs = []
    for spec in specs:
        dev_id, path = spec.split("=", 1)
        data = open(path, "rb").read()
        maps = []
        for v in range(0, len(data) // chunk):
            c = data[v * chunk:(v + 1) * chunk]
            if c.strip(b"\0"):
                out.seek(nxt * chunk)
                out.write(c)
                maps.append((v, nxt))
                nxt += 1
        devs.append((dev_id, maps))
    out.truncate(int(nr_blocks) * chunk)
    out.close()
    assert nxt <= int(nr_blocks)
    x = [f'<superblock uuid="" time="1" transaction="{len(devs)}" flags="0" version="2" '
         f'data_block_size="{chunk_sectors}" nr_data_blocks="{nr_blocks}">']
    for dev_id, maps in devs:
        x.append(f'  <device dev_id="{dev_id}" mapped_blocks="{len(maps)}" transaction="0" '
                 f'creation_time="0" snap_time="0">')
        for v, d in maps:
            x.append(f'    <single_mapping origin_block="{v}" data_block="{d}" time="0"/>')
        x.append('  </device>')
    x.append('</superblock>')
    open(xml_out, "w").write("\n".join(x) + "\n")


def cow(old, new, chunk_sectors, out):
    """COW store of a snapshot taken when the origin held OLD; the origin now
    holds NEW. Layout of dm-snap-persistent: chunk 0 header, then areas of
    one metadata chunk followed by its data chunks."""
    chunk = int(chunk_sectors) * 512
    a, b = open(old, "rb").read(), open(new, "rb").read()
    per_area = chunk // 16
    changed = [i for i in range(len(a) // chunk) if a[i*chunk:(i+1)*chunk] != b[i*chunk:(i+1)*chunk]]
    assert len(changed) < per_area, "one exception area is enough here"
    f = open(out, "r+b")
    f.write((0x70416E53).to_bytes(4, "little") + (1).to_bytes(4, "little") +
            (1).to_bytes(4, "little") + int(chunk_sectors).to_bytes(4, "little"))
    table = b""
    for j, i in enumerate(changed):
        new_chunk = 2 + j
        table += i.to_bytes(8, "little") + new_chunk.to_bytes(8, "little")
        f.seek(new_chunk * chunk)
        f.write(a[i*chunk:(i+1)*chunk])
    f.seek(chunk)
    f.write(table + b"\0" * 16)
    f.close()
    print(len(changed))


def addlvs(backup, out, snippet):
    t = open(backup).read()
    add = open(snippet).read()
    i = t.index("logical_volumes {") + len("logical_volumes {")
    open(out, "w").write(t[:i] + "\n" + add + t[i:])


def hide(backup, out, *lvs):
    """LV or OLD=NEW (renamed too: lvcreate refuses the reserved _tmeta/_tdata
    names that the pool's sub-LVs carry)."""
    t = open(backup).read()
    for lv in lvs:
        if "=" in lv:
            old, lv = lv.split("=", 1)
            t = re.sub(r"\n(\t+)" + re.escape(old) + r" \{\n", lambda m: "\n" + m.group(1) + lv + " {\n", t)
        m = re.search(r"\n(\t+)" + re.escape(lv) + r" \{\n", t)
        j = t.index('"VISIBLE"', m.end())
        t = t[:j - 2] + t[j + len('"VISIBLE"'):] if t[j-2:j] == ", " else t[:j] + t[j + len('"VISIBLE"'):]
    open(out, "w").write(t)


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    {"scatter": scatter, "thin": thin, "cow": cow, "addlvs": addlvs, "hide": hide}[cmd](*rest)
