#!/usr/bin/env bash
# Fixtures for "what was lost, by file" (issue 17): re-enactments with real
# tools of storage objects that came back as zeros.
# Needs: e2fsprogs, gdisk (sgdisk), dosfstools, python3, zstd.
source "$(dirname "$0")/common.sh"

# A generated tree: 40 directories of small text files (config, logs,
# docs), deterministic, so the root filesystem packs hundreds of paths
# into a few MiB as a cloud image's /usr and /var do.
python3 - "$work/tree" <<'PY'
import os, sys, random
root = sys.argv[1]
rng = random.Random(17)
words = "alpha beta gamma delta session cache config index page user app log doc share lib".split()
for d in range(40):
    top = ["usr/share/doc", "var/lib/app/sessions", "etc", "var/log"][d % 4]
    dd = os.path.join(root, top, f"pkg{d:02d}")
    os.makedirs(dd, exist_ok=True)
    for f in range(rng.randint(8, 24)):
        n = rng.choice([300, 900, 3000, 7000, 20000, 60000])
        with open(os.path.join(dd, f"file{f:02d}.txt"), "w") as fh:
            out = []
            size = 0
            while size < n:
                line = " ".join(rng.choice(words) for _ in range(8)) + f" {size}\n"
                out.append(line)
                size += len(line)
            fh.write("".join(out))
PY
find "$work/tree" -exec touch -d @1763000000 {} +

# cloud-lost.img: a cloud-style GPT disk (BIOS boot partition 14 with
# GRUB's core.img area, ESP 15, root 1), 40 MiB; then two 4 MiB storage
# objects returned as zeros: object 0 (MBR, primary GPT, the start of the
# BIOS boot partition) and object 5 (inside the root filesystem's data).
disk="$work/cloud-lost.img"
truncate -s 40M "$disk"
sgdisk -o -U 17171717-0000-4000-8000-000000000001 \
  -n 14:2048:+4M -t 14:ef02 -u 14:17171717-0000-4000-8000-000000000014 \
  -n 15:0:+8M -t 15:ef00 -u 15:17171717-0000-4000-8000-000000000015 \
  -n 1:0:0 -t 1:8300 -u 1:17171717-0000-4000-8000-000000000101 "$disk" >/dev/null
# Something where core.img lives, so object 0 destroys data there.
python3 -c "import random,sys; r=random.Random(14); sys.stdout.buffer.write(bytes(r.randrange(1,256) for _ in range(65536)))" > "$work/core.img"
dd if="$work/core.img" of="$disk" bs=512 seek=2048 conv=notrunc status=none
truncate -s 8M "$work/esp.img"
mkfs.vfat -i 17171715 -n ESP "$work/esp.img" >/dev/null
dd if="$work/esp.img" of="$disk" bs=512 seek=$((2048 + 8192)) conv=notrunc status=none
p1=$(sgdisk -i 1 "$disk" | awk '/First sector/ {print $3}')
p1end=$(sgdisk -i 1 "$disk" | awk '/Last sector/ {print $3}')
truncate -s $(( (p1end - p1 + 1) * 512 )) "$work/root.img"
mkfs.ext4 -q -F -b 4096 -L root -U 17171717-0000-4000-8000-0000000000ff \
  -E hash_seed=17171717-0000-4000-8000-0000000000fe,root_owner=0:0 -d "$work/tree" "$work/root.img"
dd if="$work/root.img" of="$disk" bs=512 seek="$p1" conv=notrunc status=none
# The two lost objects, as the storage returned them.
dd if=/dev/zero of="$disk" bs=4M seek=0 count=1 conv=notrunc status=none
dd if=/dev/zero of="$disk" bs=4M seek=5 count=1 conv=notrunc status=none
printf 'partition_start\t%s\nzeroed\t0\t4194304\nzeroed\t20971520\t25165824\n' $((p1 * 512)) \
  > "$testdata/fixtures/layout/cloud-lost.tsv"
store layout "$disk"
