#!/usr/bin/env bash
# Public test images made by OTHER projects: where they come from, how the
# local cache is filled, and what the peer tools say about each one.
#
# Nothing here is committed but this script and testdata/public/manifest.tsv:
# the images keep their own licences and stay in a cache outside the repo
# (default /work/cache/public-images, or $IMGCHECK_PUBLIC_CACHE), one folder
# per source repository (owner+name), each file at its path in that
# repository with the compression suffix removed.
#
#   public-images.sh populate   extract every listed file from the git
#                               snapshots under $PUBLIC_MIRRORS (default
#                               /work/.mirror/<owner>+<name>/repo, as the
#                               search tool's fetch leaves them) into the cache
#   public-images.sh verify     check each cached file's sha256 against the
#                               committed manifest (exit 1 on any mismatch)
#   public-images.sh manifest   recompute sha256, size and the peer verdicts
#                               from the cache into testdata/public/manifest.tsv
#
# The peers run on this machine, read-only (-n and friends, on the cached
# file or a temporary copy of a partition or qcow2 guest), so the manifest
# records what e2fsprogs/xfsprogs/dosfstools/exfatprogs/ntfs-3g/btrfs-progs/
# qemu-img/gdisk/util-linux of this machine say, not what the source
# project's tests expected.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
testdata=$(cd "$here/.." && pwd)
manifest=$testdata/public/manifest.tsv
cache=${IMGCHECK_PUBLIC_CACHE:-/work/cache/public-images}
mirrors=${PUBLIC_MIRRORS:-/work/.mirror}
peer_timeout=${PEER_TIMEOUT:-120}

# id, kind (what the source project says the file is), repo, commit, path in
# the repo, how to decode it (raw|gz|bz2|xz|zst|xxd|tarxz:MEMBER|cat), licence
# of the source repo. The commit is the snapshot the files were taken from.
sources() {
  local EXT4VIEW=nicholasbishop/ext4-view-rs@c8d10a87395ff2c0312902eab567335f12a0de1b
  local GOEXT4=dsoprea/go-ext4@c13b09fc0ff87fdaddb31c26bd47051e0213fdee
  local DFVFS=log2timeline/dfvfs@ceb7ef3a02ec285433d185b57a8497e2ab9ca464
  local PLASO=log2timeline/plaso@4ea03ef9a48dad5284c371ac9b537a184b3eea9c
  local TSK=sleuthkit/sleuthkit@eb9fac87bf9c2fcae9ae3e8623c9dca6fc260121
  local UL=util-linux/util-linux@39465c780eed56034ed1440068a2722fc3331343
  local COREOS=coreos/coreos-installer@bee4500186302e3773afe969ecabb441f2d77279
  local GPTMAN=rust-disk-partition-management/gptman@dc106fc9404afeeaa72c43a6110a4aae121a7a56
  local MBRMAN=rust-disk-partition-management/mbrman@8710a44bf159abdc46fbd6361e57153db5f13c26
  local QGPT=Quyzi/gpt@828e548ca1c11b380b280e546700f9974cb2c280
  local DOSFS=dosfstools/dosfstools@289a48b9cb5b3c589391d28aa2515c325c932c7a
  local RFAT=rafalh/rust-fatfs@c4b88477b22ca7e5131fbd8891f62a5deaa88e6e
  local EXFAT=exfatprogs/exfatprogs@c98f9f9c3aa654ab501c664e8571dfdf1bca9693
  local NTFSRS=ColinFinck/ntfs@47ae0168f6c607208b27c61ed89b4ffac9a3c99a
  local BTRFS=kdave/btrfs-progs@10717dd7c190ef3b6778d3d45edb62e0d5488f5b
  local BLSF=serpent-os/blsforme@db14701afcc7d99e4cd794fc0be21b0a0b41d097
  local DISSECT=fox-it/dissect.extfs@24cb5825b139d7734c41a0abc777afe96546d472
  local VELOCIDEX=Velocidex/go-ext4@7ef59eafd0899bc4348fb5164c809fff905c0820
  local LDE=sheavner/lde-testdata@6b1000e9149b623a9a5bfb76913b3a550dc3be74
  local FSERR=danluu/fs-errors@053b591b123cbc79055461a43a7f208561753e27
  local SEPPLES=tux3/SepplesOS@d5ef2828895695bdbe0ef3e6ac5730d3ce97e6b2
  local EZFS=LegenQS/EZFS@da11dae387fcd781af92075855ce65ca6923ead1
  local NONE="none stated"
  local MIT_APACHE="MIT OR Apache-2.0"
  row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3%@*}" "${3#*@}" "$4" "$5" "$6"; }

  row ext4-view:test_disk1 ext4 $EXT4VIEW test_data/test_disk1.bin.zst zst "$MIT_APACHE"
  row ext4-view:test_disk_4k_block_journal ext4 $EXT4VIEW test_data/test_disk_4k_block_journal.bin.zst zst "$MIT_APACHE"
  row ext4-view:test_disk_ext2 ext2 $EXT4VIEW test_data/test_disk_ext2.bin.zst zst "$MIT_APACHE"
  row ext4-view:test_disk_ext3 ext3 $EXT4VIEW test_data/test_disk_ext3.bin.zst zst "$MIT_APACHE"

  row go-ext4:hierarchy_32 ext4 $GOEXT4 assets/hierarchy_32.ext4 raw MIT
  row go-ext4:hierarchy_64 ext4 $GOEXT4 assets/hierarchy_64.ext4 raw MIT
  row go-ext4:tiny ext4 $GOEXT4 assets/tiny.ext4 raw MIT
  row go-ext4:jbd2-tiny ext4 $GOEXT4 jbd2/assets/tiny.ext4 raw MIT

  # ext2/3/4 made elsewhere (issue 12): dissect.extfs's symlink test (its
  # other two images are Git LFS pointers), Velocidex's fork of go-ext4
  # (other bytes than dsoprea's), the Linux Disk Editor's test images,
  # fs-errors' error-injection bases, and two hobby kernels' ext2 disks.
  row dissect.extfs:ext4_symlink_test ext4 $DISSECT tests/data/ext4_symlink_test.bin.gz gz AGPL-3.0-or-later
  row velocidex-go-ext4:hierarchy_32 ext4 $VELOCIDEX tests/images/hierarchy_32.ext4 raw Apache-2.0
  row velocidex-go-ext4:hierarchy_64 ext4 $VELOCIDEX tests/images/hierarchy_64.ext4 raw Apache-2.0
  row velocidex-go-ext4:tiny ext4 $VELOCIDEX tests/images/tiny.ext4 raw Apache-2.0
  row lde:test.ext2 ext2 $LDE test.ext2 raw "$NONE"
  row lde:test.ext3 ext3 $LDE test.ext3 raw "$NONE"
  row lde:test.ext4 ext4 $LDE test.ext4 raw "$NONE"
  row fs-errors:ext3 ext3 $FSERR images/ext3.img.gz gz "$NONE"
  row fs-errors:ext3-largefile ext3 $FSERR images/ext3-largefile.img.gz gz "$NONE"
  row fs-errors:ext4 ext4 $FSERR images/ext4.img.gz gz "$NONE"
  row fs-errors:ext4-largefile ext4 $FSERR images/ext4-largefile.img.gz gz "$NONE"
  row sepplesos:ext2 ext2 $SEPPLES ext2.img raw "$NONE"
  row ezfs:ext2 ext2 $EZFS ext2.img raw "$NONE"

  row dfvfs:ext2.qcow2 qcow2 $DFVFS test_data/ext2.qcow2 raw Apache-2.0
  row dfvfs:windows_volume.qcow2 qcow2 $DFVFS test_data/windows_volume.qcow2 raw Apache-2.0
  # ext2.raw itself is over the snapshot's 4 MiB limit; dfvfs ships it split too.
  row dfvfs:ext2.splitraw ext2 $DFVFS test_data/ext2.splitraw.000,test_data/ext2.splitraw.001 cat Apache-2.0
  row dfvfs:iso9660 iso9660 $DFVFS test_data/iso9660.raw raw Apache-2.0
  row dfvfs:apfs apfs $DFVFS test_data/apfs.raw raw Apache-2.0
  row dfvfs:hfsplus hfsplus $DFVFS test_data/hfsplus.raw raw Apache-2.0
  row dfvfs:mynd.dd raw $DFVFS "test_data/ímynd.dd" raw Apache-2.0

  row plaso:image.qcow2 qcow2 $PLASO test_data/image.qcow2 raw Apache-2.0
  row plaso:vsstest.qcow2 qcow2 $PLASO test_data/vsstest.qcow2 raw Apache-2.0
  row plaso:tsk_volume_system mbr $PLASO test_data/tsk_volume_system.raw raw Apache-2.0
  row plaso:syslog_image.dd raw $PLASO test_data/syslog_image.dd raw Apache-2.0

  row tsk:image.qcow qcow $TSK test/data/image.qcow raw "CPL-1.0 AND IPL-1.0 AND GPL-2.0"
  row tsk:image.dd raw $TSK test/data/image.dd raw "CPL-1.0 AND IPL-1.0 AND GPL-2.0"
  row tsk:image.iso iso9660 $TSK test/data/image.iso raw "CPL-1.0 AND IPL-1.0 AND GPL-2.0"

  local p
  for p in atari-primary:atari atari-xgm:atari bsd:bsd dasd-cdl:dasd dasd-ldl:dasd dos+bsd:mbr gpt:gpt sgi:sgi sun:sun; do
    row "util-linux:pt-${p%%:*}" "${p#*:}" $UL "tests/ts/blkid/images-pt/${p%%:*}.img.xz" xz GPL-2.0-or-later
  done
  row util-linux:isosize-sample iso9660 $UL tests/ts/isosize/sample.iso.gz gz GPL-2.0-or-later
  row util-linux:cramfs-little cramfs $UL tests/ts/cramfs/cramfs-little.img raw GPL-2.0-or-later
  row util-linux:mkswap-LE-4096 swap $UL tests/ts/mkswap/LE-4096.img.xz xz GPL-2.0-or-later
  row util-linux:mkswap-BE-4096 swap $UL tests/ts/mkswap/BE-4096.img.xz xz GPL-2.0-or-later

  row coreos:empty raw $COREOS fixtures/empty.xz xz Apache-2.0
  row coreos:gpt-512 gpt $COREOS fixtures/gpt-512.xz xz Apache-2.0
  row coreos:gpt-4096 gpt $COREOS fixtures/gpt-4096.xz xz Apache-2.0
  row coreos:gpt-512-duplicate-partition-guids gpt $COREOS fixtures/gpt-512-duplicate-partition-guids.xz xz Apache-2.0
  row coreos:iso-synthetic iso9660 $COREOS fixtures/iso/synthetic.iso.xz xz Apache-2.0
  row coreos:iso-embed-areas-2023-07.x86_64 iso9660 $COREOS fixtures/iso/embed-areas-2023-07.x86_64.iso.xz xz Apache-2.0

  local n
  for n in 1 2 3 4; do row "gptman:disk$n" gpt $GPTMAN "tests/fixtures/disk$n.img" raw "$MIT_APACHE"; done
  for n in 1 2; do row "mbrman:disk$n" mbr $MBRMAN "tests/fixtures/disk$n.img" raw "$MIT_APACHE"; done
  row quyzi-gpt:gpt-disk gpt $QGPT tests/fixtures/gpt-disk.img raw MIT

  # dosfstools: each check-NAME.fsck is a damaged image fsck.fat must flag,
  # check-NAME.xxd the same image after its repair; the others are mkfs.fat
  # and label references. All are xxd dumps (xxd -r restores them).
  local t
  for t in bad_names chain_to_free_cluster chain_to_other_file chain_too_long circular_chain \
    dot_entries duplicate_names encryption_with_duplicate_dirent encryption_with_invalid_83 \
    fat12_first_cluster fat16_dos_cln_shut fat16_first_cluster fat32_dos_cln_shut \
    fat32_first_cluster label-different label-only-boot label-only-root; do
    row "dosfstools:check-$t" fat $DOSFS "tests/check-$t.fsck" xxd GPL-3.0-or-later
    row "dosfstools:check-$t.repaired" fat $DOSFS "tests/check-$t.xxd" xxd GPL-3.0-or-later
  done
  row dosfstools:check-huge fat $DOSFS tests/check-huge.fsck xxd GPL-3.0-or-later
  for t in referenceFAT12 referenceFAT16 referenceFAT32 referenceFAT32mbr mkfs-fat32_1_bad_block \
    mkfs-fat32_2_res_sects mkfs-fat32_4K label-fat32_xp_label1 label-fat32_mkdosfs_label1_mlabel_erase; do
    row "dosfstools:$t" fat $DOSFS "tests/$t.xxd" xxd GPL-3.0-or-later
  done

  row rust-fatfs:fat12 fat12 $RFAT resources/fat12.img raw MIT
  row rust-fatfs:fat16 fat16 $RFAT resources/fat16.img raw MIT

  # exfatprogs' fsck tests: damaged exFAT volumes (2tb_disk, a 2 TiB sparse
  # file, is left out: hashing it would read 2 TiB).
  for t in bad_bitmap bad_bitmap_size bad_dentries bad_dentries2 bad_file_size bad_first_clu \
    bad_num_chain bad_root bs_bad_csum de_bad_csum duplicate_clu duplicated_name file_invalid_clus \
    invalid_name large_file_invalid_clus loop_chain rename_dot_entry unused-dentries; do
    row "exfatprogs:$t" exfat $EXFAT "tests/$t/exfat.img.tar.xz" tarxz:exfat.img GPL-2.0-only
  done

  row ntfs-rs:testfs1 ntfs $NTFSRS testdata/testfs1 raw "$MIT_APACHE"

  # btrfs-progs: the raw images only (the .img files are btrfs-image
  # metadata dumps, not disk images); its ext2/ext4 conversion sources too.
  for t in drdhdhdrd drdhdhrh hrhdhdrd hrhdhrh; do
    row "btrfs-progs:convert-$t" ext2 $BTRFS "tests/convert-tests/004-ext2-backup-superblock-ranges/$t.e2image.raw.xz" xz GPL-2.0-only
  done
  row btrfs-progs:convert-refuse-needs-recovery ext4 $BTRFS tests/convert-tests/020-refuse-needs-recovery/ext4.raw.xz xz GPL-2.0-only
  for t in 014-no-extent-info/no_extent 018-leaf-crossing-stripes/default_case \
    020-extent-ref-cases/block_group_item_false_alert 020-extent-ref-cases/shared_block_ref_only \
    022-qgroup-rescan-halfway/qgroup_rescan_halfway 023-qgroup-stack-overflow/quota_balance_loop_backref \
    027-bad-extent-inline-ref-type/bad-extent-inline-ref-type \
    028-unaligned-super-dev-sizes/dev_and_super_mismatch_unaligned \
    039-bad-inode-mode/bad_free_space_cache_imode 040-compressed-nodatasum/compressed_extent_without_csum \
    042-half-dropped-inode/default 055-super-num-devs-mismatch/default; do
    row "btrfs-progs:fsck-${t%%-*}-${t##*/}" btrfs $BTRFS "tests/fsck-tests/$t.raw.xz" xz GPL-2.0-only
  done
  for t in bad-superblock-1 bko-155181-bad-backref superblock-total-bytes-0 sys-chunk-type-bogus; do
    row "btrfs-progs:fuzz-$t" btrfs $BTRFS "tests/fuzz-tests/images/$t.raw.xz" xz GPL-2.0-only
  done
  row btrfs-progs:misc-zstd-compression btrfs $BTRFS tests/misc-tests/025-zstd-compression/compress.raw.xz xz GPL-2.0-only

  for t in btrfs ext4 f2fs xfs; do
    row "blsforme:$t" "$t" $BLSF "crates/superblock/tests/$t.img.zst" zst MPL-2.0
  done
  row blsforme:ext4_gpt-nvme0n1 gpt $BLSF crates/topology/tests/ext4_gpt/dev/nvme0n1 raw MPL-2.0
}

# Where a source row's decoded file lives in the cache, relative to it.
cache_rel() { # repo path decode
  local dir=${1/\//+} path=$2
  case $3 in
    raw) ;;
    gz|bz2|xz|zst) path=${path%.*} ;;
    xxd) path=$path.img ;;
    tarxz:*) path=$(dirname "$path")/${3#tarxz:} ;;
    cat) path=${path%%,*}; path=${path%.*} ;;
  esac
  printf '%s/%s\n' "$dir" "$path"
}

# Extract one source row from its snapshot into the cache.
extract() { # repo commit path decode out
  local git_dir=$mirrors/${1/\//+}/repo rev=$2 path=$3 decode=$4 out=$5
  if [ ! -d "$git_dir" ]; then
    echo "  no snapshot of $1 under $mirrors (fetch github:$1 with the search tool)" >&2
    return 1
  fi
  if ! git -C "$git_dir" cat-file -e "$rev^{commit}" 2>/dev/null; then
    echo "  $1: commit $rev not in the snapshot, using its HEAD (verify decides)" >&2
    rev=HEAD
  fi
  mkdir -p "$(dirname "$out")"
  local tmp
  tmp=$(mktemp -d)
  case $decode in
    raw) git -C "$git_dir" show "$rev:$path" > "$tmp/f" ;;
    gz) git -C "$git_dir" show "$rev:$path" | gzip -dc > "$tmp/f" ;;
    bz2) git -C "$git_dir" show "$rev:$path" | bzip2 -dc > "$tmp/f" ;;
    xz) git -C "$git_dir" show "$rev:$path" | xz -dc > "$tmp/f" ;;
    zst) git -C "$git_dir" show "$rev:$path" | zstd -dcq > "$tmp/f" ;;
    # xxd -r seeks over the "*" runs, so the result is sparse like the original.
    xxd) git -C "$git_dir" show "$rev:$path" > "$tmp/dump" && xxd -r "$tmp/dump" "$tmp/f" ;;
    tarxz:*) git -C "$git_dir" show "$rev:$path" | tar -xJ -C "$tmp" "${decode#tarxz:}" &&
      mv "$tmp/${decode#tarxz:}" "$tmp/f" ;;
    cat) local part; : > "$tmp/f"
      IFS=, read -ra parts <<< "$path"
      for part in "${parts[@]}"; do git -C "$git_dir" show "$rev:$part" >> "$tmp/f"; done ;;
    *) echo "unknown decode $decode" >&2; rm -rf "$tmp"; return 1 ;;
  esac
  # Holes where the file is zero: the cache keeps 23 GiB of images in ~1 GiB.
  fallocate --dig-holes "$tmp/f" 2>/dev/null || true
  chmod a-w "$tmp/f"
  mv -f "$tmp/f" "$out"
  rm -rf "$tmp"
}

populate() {
  local id kind repo commit path decode licence n=0 bad=0
  while IFS=$'\t' read -r id kind repo commit path decode licence; do
    local out
    out=$cache/$(cache_rel "$repo" "$path" "$decode")
    if [ -f "$out" ]; then n=$((n + 1)); continue; fi
    echo "extract $id <- $repo:$path" >&2
    if extract "$repo" "$commit" "$path" "$decode" "$out"; then n=$((n + 1)); else bad=$((bad + 1)); fi
  done < <(sources)
  echo "cache $cache: $n files present, $bad not extracted" >&2
}

verify() {
  local ok=0 missing=0 wrong=0 id cache_file sha
  [ -f "$manifest" ] || { echo "no manifest at $manifest" >&2; return 1; }
  while IFS=$'\t' read -r id cache_file sha; do
    if [ ! -f "$cache/$cache_file" ]; then missing=$((missing + 1)); continue; fi
    if [ "$(sha256sum < "$cache/$cache_file" | cut -d' ' -f1)" = "$sha" ]; then
      ok=$((ok + 1))
    else
      echo "sha256 mismatch: $id ($cache_file)" >&2; wrong=$((wrong + 1))
    fi
  done < <(awk -F'\t' 'NR > 1 && !seen[$1]++ { print $1 "\t" $7 "\t" $8 }' "$manifest")
  echo "verify: $ok ok, $missing missing, $wrong mismatched" >&2
  [ "$wrong" -eq 0 ]
}

# --- peers -------------------------------------------------------------------

# grep that may select nothing (pipefail would end the run otherwise).
pick() { grep "$@" || true; }

# One line of peer output fit for a TSV cell, without the cache's or a
# temporary file's path (peers name the file they read).
squash() {
  tr '\t\n' '  ' | sed -e "s#$cache/##g" -e 's#/tmp/tmp\.[A-Za-z0-9]*/##g' -e 's#/dev/loop[0-9]*#DISK#g' \
    -e 's/  */ /g; s/^ //; s/ $//' | cut -c1-"${1:-160}"
}

# Emit one peer row: peer exit verdict says
emit() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | squash)"; }

# blkid -p: what sits at the start of FILE (TYPE, PTTYPE, or nothing).
blkid_of() { # file -> "TYPE=x PTTYPE=y" or "none" / "ambivalent"
  local out rc=0
  out=$(timeout "$peer_timeout" blkid -p -o export "$1" 2>&1) || rc=$?
  case $rc in
    0) printf '%s\n' "$out" | pick -E '^(TYPE|PTTYPE|VERSION)=' | tr '\n' ' ' | sed 's/ $//' ;;
    2) echo none ;;
    8) echo "ambivalent $(printf '%s' "$out" | squash 80)" ;;
    *) echo "error $rc $(printf '%s' "$out" | squash 80)" ;;
  esac
}

field() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<< "$2"; }

# The filesystem checker for blkid TYPE, run read-only on FILE. WHERE prefixes
# what it says ("", "partition 2: ", "guest: "). Verdicts: clean, flagged,
# refused (the peer could not judge), pending (nothing damaged, but a log
# replay is outstanding, which both e2fsck -n and xfs_repair -n skip).
fs_peer() { # type file where
  local type=$1 f=$2 where=$3 out rc=0 said
  case $type in
    ext2|ext3|ext4|jbd)
      out=$(timeout "$peer_timeout" e2fsck -fn "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -vE '^(e2fsck [0-9]|Pass [0-9]|[^ ]+: [0-9]+/[0-9]+ files|$)' | head -3)
      case $rc in
        0) if grep -q 'skipping journal recovery' <<< "$out"; then
             emit e2fsck 0 pending "$where$said"
           else emit e2fsck 0 clean "${where}${said:-clean}"; fi ;;
        4) emit e2fsck 4 flagged "$where$said" ;;
        8) if grep -qiE 'superblock|corrupt|bad magic|short read|invalid|inconsistent' <<< "$out"; then
             emit e2fsck 8 flagged "$where$said"
           else emit e2fsck 8 refused "$where$said"; fi ;;
        *) emit e2fsck "$rc" flagged "$where$said" ;;
      esac ;;
    xfs)
      out=$(timeout "$peer_timeout" xfs_repair -n -f "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -vE '^(Phase [0-9]|        - |No modify flag set|Cannot get host filesystem geometry|Repair may fail if|the image and the host filesystem|$)' | head -3)
      case $rc in
        0) emit xfs_repair 0 clean "${where}${said:-clean}" ;;
        2) emit xfs_repair 2 pending "${where}dirty log: $said" ;;
        *) emit xfs_repair "$rc" flagged "$where$said" ;;
      esac ;;
    vfat|msdos)
      out=$(timeout "$peer_timeout" fsck.fat -n "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -vE '^(fsck.fat [0-9]|Checking we can access|[^ ]+: [0-9]+ files, [0-9]+/[0-9]+ clusters|Leaving filesystem unchanged|$)' | head -3)
      case $rc in
        0) emit fsck.fat 0 clean "${where}${said:-clean}" ;;
        *) emit fsck.fat "$rc" flagged "$where$said" ;;
      esac ;;
    exfat)
      out=$(timeout "$peer_timeout" fsck.exfat -n "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -vE '^(exfatprogs version|$)' | head -3)
      case $rc in
        0) emit fsck.exfat 0 clean "${where}${said:-clean}" ;;
        *) emit fsck.exfat "$rc" flagged "$where$said" ;;
      esac ;;
    ntfs)
      out=$(timeout "$peer_timeout" ntfsfix -n "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -iE 'error|fail|corrupt|differ|inconsisten|not |unclean|dirty|schedul|mismatch' | head -3)
      case $rc in
        0) emit ntfsfix 0 clean "${where}${said:-no problem found}" ;;
        *) emit ntfsfix "$rc" flagged "$where${said:-$(printf '%s\n' "$out" | tail -2)}" ;;
      esac ;;
    btrfs)
      out=$(timeout "$peer_timeout" btrfs check --readonly "$f" 2>&1) || rc=$?
      said=$(printf '%s\n' "$out" | pick -vE '^(Opening filesystem|Checking filesystem on|UUID:|\[[0-9]/[0-9]\]|found [0-9]+ bytes used|total |file data blocks|referenced|btree space waste|cache and super|$)' | head -3)
      case $rc in
        0) emit btrfs-check 0 clean "${where}${said:-clean}" ;;
        *) emit btrfs-check "$rc" flagged "$where$said" ;;
      esac ;;
    *) ;; # no read-only checker here: blkid's identification is all there is
  esac
}

# sfdisk -V (dos, gpt, sun, sgi; bsd is read but not verified) and sgdisk -v
# (gpt) on a disk image or loop device.
table_peers() { # pttype dev where
  local pt=$1 f=$2 where=$3 out rc=0 said label
  label=$(timeout "$peer_timeout" sfdisk -d "$f" 2>/dev/null | sed -n 's/^label: //p')
  out=$(timeout "$peer_timeout" sfdisk -V "$f" 2>&1) || rc=$?
  # sfdisk names the device before what it says about it
  said=$(printf '%s\n' "$out" | awk -v f="$f:" '{ if (index($0, f) == 1) $0 = substr($0, length(f) + 2); print }' |
    pick -vE '^(Remaining [0-9]+ unallocated|$)' | head -3)
  if [ -z "$label" ]; then
    emit sfdisk "$rc" refused "${where}no label sfdisk reads${said:+: $said}"
  elif [ "$rc" -eq 0 ]; then
    emit sfdisk 0 clean "${where}label $label: ${said:-verify ok}"
  elif [ -z "$said" ]; then
    emit sfdisk "$rc" refused "${where}label $label: sfdisk does not verify this label"
  else
    emit sfdisk "$rc" flagged "${where}label $label: $said"
  fi
  if [ "$pt" = gpt ]; then
    rc=0
    out=$(timeout "$peer_timeout" sgdisk -v "$f" 2>&1) || rc=$?
    if grep -q 'No problems found' <<< "$out" && [ "$rc" -eq 0 ]; then
      said=$(printf '%s\n' "$out" | pick -iE 'warning|caution' | head -2)
      emit sgdisk "$rc" clean "${where}No problems found${said:+; $said}"
    else
      emit sgdisk "$rc" flagged "$where$(printf '%s\n' "$out" | pick -vE '^(\*+|$)' | head -3)"
    fi
  fi
}

loopdev=
detach() { if [ -n "$loopdev" ]; then losetup -d "$loopdev"; loopdev=; fi; }
trap detach EXIT

# blkid, then the checker for what blkid found; a partitioned disk's
# partitions are cut out to a temporary file and checked each.
disk_peers() { # file where source-kind
  local f=$1 where=$2 kind=${3:-} id type pt dev=$1
  id=$(blkid_of "$f")
  emit blkid - n/a "$where$id"
  type=$(field TYPE "$id")
  pt=$(field PTTYPE "$id")
  if [ -n "$type" ]; then
    fs_peer "$type" "$f" "$where"
  elif [ -z "$pt" ]; then
    # Nothing blkid recognises (a fuzzed superblock): the checker for what
    # the source project says it is still has a verdict.
    case $kind in fat*) fs_peer vfat "$f" "$where" ;; raw) ;; *) fs_peer "$kind" "$f" "$where" ;; esac
  fi
  # A GPT on 4096-byte sectors: blkid and sfdisk read a file with 512-byte
  # sectors and see only the protective MBR; a read-only loop device with
  # 4096-byte sectors shows them the disk as it was written.
  if [ "$pt" = PMBR ] && [ "$(dd if="$f" bs=1 skip=4096 count=8 status=none)" = "EFI PART" ]; then
    loopdev=$(losetup -f --show -r --sector-size 4096 "$f")
    dev=$loopdev
    local id4k
    id4k=$(blkid_of "$dev")
    emit blkid - n/a "${where}as 4096-byte sectors: $id4k"
    pt=$(field PTTYPE "$id4k")
  fi
  if [ -z "$pt" ] && [ -z "$type" ]; then
    # blkid does not probe every label sfdisk reads (a BSD disklabel alone)
    local label
    label=$(timeout "$peer_timeout" sfdisk -d "$f" 2>/dev/null | sed -n 's/^label: //p')
    [ -n "$label" ] && pt=$label
  fi
  # What imgcheck should name: blkid's TYPE, PTTYPE, or both where a table
  # with partitions shares the first sectors with a filesystem (hybrid ISO);
  # a boot sector's 0x55AA with no partitions is no table. Labels this blkid
  # cannot probe (DASD) fall back to the source's word.
  local nparts=0 expect
  [ -n "$pt" ] && nparts=$(timeout "$peer_timeout" sfdisk -J "$dev" 2>/dev/null |
    python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)["partitiontable"].get("partitions", [])))
except Exception: print(0)')
  if [ -n "$type" ] && [ -n "$pt" ]; then
    if [ "$nparts" -gt 0 ]; then expect="$pt|$type"; else expect=$type; fi
  elif [ -n "$type" ] || [ -n "$pt" ]; then expect=$type$pt
  else case $kind in
      dasd|atari|apm|bsd|sun|sgi) expect=$kind ;;
      # blkid rejects a damaged superblock that a checker may still name
      ext2|ext3|ext4|xfs|btrfs|exfat|ntfs|fat*) expect="none|$kind" ;;
      *) expect=none ;;
    esac
  fi
  printf '#expect\t%s\n' "$expect"
  if [ -n "$pt" ]; then
    table_peers "$pt" "$dev" "$where"
    case $pt in dos|gpt) ;; *) detach; return 0 ;; esac
    local tmp n start size
    tmp=$(mktemp -d)
    while read -r n start size; do
      [ "$size" -gt 0 ] || continue
      dd if="$f" of="$tmp/p" bs=512 skip="$start" count="$size" status=none 2>/dev/null || continue
      local pid ptype
      pid=$(blkid_of "$tmp/p")
      ptype=$(field TYPE "$pid")
      # Partition contents only where something is there to check.
      if [ -n "$ptype" ]; then
        emit blkid - n/a "${where}partition $n: $pid"
        fs_peer "$ptype" "$tmp/p" "${where}partition $n: "
      fi
    done < <(timeout "$peer_timeout" sfdisk -J "$dev" 2>/dev/null | python3 -c '
import json, sys
try:
    t = json.load(sys.stdin)["partitiontable"]
except Exception:
    sys.exit(0)
ss = t.get("sectorsize", 512)
for i, p in enumerate(t.get("partitions", []), 1):
    if p.get("type") in ("5", "f", "85"):
        continue  # extended containers: their logicals are listed themselves
    print(i, p["start"] * ss // 512, p["size"] * ss // 512)
')
    rm -rf "$tmp"
  fi
  detach
}

# Every peer row for one cached file.
peers() { # file source-kind
  local f=$1 kind=$2 rc=0 out said
  local magic
  magic=$(od -An -tx1 -N5 "$f" | tr -d ' \n')
  if [ "${magic:0:8}" = 514649fb ]; then
    local fmt=qcow2
    [ "${magic:8:2}" != 00 ] || [ "$(od -An -tu1 -j7 -N1 "$f" | tr -d ' ')" != 1 ] || fmt=qcow
    out=$(timeout "$peer_timeout" qemu-img check -f "$fmt" "$f" 2>&1) || rc=$?
    said=$(printf '%s\n' "$out" | head -2)
    case $rc in
      0) emit qemu-img 0 clean "$said" ;;
      63) emit qemu-img 63 refused "$said" ;;
      *) emit qemu-img "$rc" flagged "$said" ;;
    esac
    local tmp
    tmp=$(mktemp -d)
    if timeout "$peer_timeout" qemu-img convert -f "$fmt" -O raw "$f" "$tmp/guest.raw" 2>/dev/null; then
      disk_peers "$tmp/guest.raw" "guest: "
    fi
    rm -rf "$tmp"
  else
    disk_peers "$f" "" "$kind"
  fi
}

make_manifest() {
  mkdir -p "$(dirname "$manifest")"
  local tmp
  tmp=$(mktemp)
  printf 'id\tkind\texpect_kind\tsource\tcommit\tpath\tcache_file\tsha256\tsize\tlicence\tpeer\tpeer_exit\tpeer_verdict\tpeer_says\n' > "$tmp"
  local id kind repo commit path decode licence
  while IFS=$'\t' read -r id kind repo commit path decode licence; do
    local rel f sha size
    rel=$(cache_rel "$repo" "$path" "$decode")
    f=$cache/$rel
    if [ ! -f "$f" ]; then echo "not in cache, left out: $id" >&2; continue; fi
    sha=$(sha256sum < "$f" | cut -d' ' -f1)
    size=$(stat -c %s "$f")
    echo "peers: $id" >&2
    local rows p expect
    rows=$(peers "$f" "$kind")
    expect=$(printf '%s\n' "$rows" | sed -n 's/^#expect\t//p' | head -1)
    rows=$(printf '%s\n' "$rows" | pick -v '^#expect')
    # dosfstools' images are listed as "fat": blkid's VERSION says which one.
    if [ "$kind" = fat ]; then
      kind=$(printf '%s\n' "$rows" | sed -n 's/.*VERSION=FAT\(12\|16\|32\).*/fat\1/p' | head -1)
      kind=${kind:-fat}
    fi
    while IFS= read -r p; do
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$kind" "${expect:-none}" "$repo" "$commit" "$path" "$rel" "$sha" "$size" "$licence" "$p" >> "$tmp"
    done <<< "$rows"
  done < <(sources)
  mv "$tmp" "$manifest"
  echo "wrote $manifest: $(awk -F'\t' 'NR > 1 { print $1 }' "$manifest" | sort -u | wc -l) images, $(($(wc -l < "$manifest") - 1)) peer rows" >&2
}

case ${1:-} in
  populate) populate ;;
  verify) verify ;;
  manifest) make_manifest ;;
  sources) sources ;;
  *) sed -n '2,23p' "$0"; exit 2 ;;
esac
