# Sourced by the LVM2 fixture scripts (lvm2.sh, lvm2-ovirt.sh): loop devices,
# an lvm configuration that accepts only them, fixed clocks, cleanup.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
helper="python3 $here/lvm2_helper.py"
export LVM_SUPPRESS_FD_WARNINGS=1 TZ=UTC
make_tree "$work/tree"

loops=() vgs_made=()
LVMCFG=
refresh_cfg() {
  local f="" d
  for d in "${loops[@]}"; do f+="\"a|^$d\$|\","; done
  LVMCFG="devices{scan=[\"/dev\"] filter=[${f}\"r|.*|\"] use_devicesfile=0 obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0 monitoring=0} backup{backup=0 archive=0} global{event_activation=0}"
  export LVMCFG
}
cleanup() {
  set +e
  for vg in "${vgs_made[@]}"; do lvm vgremove --config "$LVMCFG" -ff -y "$vg" >/dev/null 2>&1; done
  for d in "${loops[@]}"; do lvm pvremove --config "$LVMCFG" -ff -y "$d" >/dev/null 2>&1; losetup -d "$d"; done
  rm -rf "$work"
}
trap cleanup EXIT
# attach FILE VAR: a loop device over FILE, its name in VAR (no subshell:
# the list of devices to clean up and to accept must be this shell's).
attach() { local dev; dev=$(losetup -f --show "$1"); loops+=("$dev"); refresh_cfg; printf -v "$2" %s "$dev"; }
detach_all() {
  local d
  for d in "${loops[@]}"; do losetup -d "$d"; done
  loops=(); refresh_cfg
}
# L TIME CMD ARGS: an lvm command at a fixed clock (metadata records it).
L() {
  local t=$1 cmd=$2; shift 2
  faketime -f "@$t" lvm "$cmd" --config "$LVMCFG" "$@" 2>&1 \
    | grep -v -e 'mapper/control' -e 'NOT backed up' -e 'not zeroed' -e 'device-mapper' \
              -e 'libdevmapper' -e 'successfully' -e 'created\.$' >&2 || true
}
C() { local cmd=$1; shift; lvm "$cmd" --config "$LVMCFG" --driverloaded n -an -Zn "$@"; }
mkext4() { # FILE SIZE_K UUID_TAIL LABEL [tree]
  mkfs.ext4 -q -F -U "5a5a5a5a-0000-0000-0000-0000000001$3" -E hash_seed=5a5a5a5a-0000-0000-0000-0000000000ff \
    -L "$4" ${5:+-d "$work/tree"} "$1" "$2"k
}
scatter() { $helper scatter "$@"; }
finish() { # store each image (before cleanup writes to it), then remove the VG
  local img
  for img in "$@"; do store lvm2 "$img"; done
}

