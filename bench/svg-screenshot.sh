#!/usr/bin/env bash
# Screenshots of the --map picture, as a person sees it in a browser, for
# looking at: overlapping marks, cut text and unreadable colours show here
# and in no XML test. Draws the demo, an LVM PV (lvm2.sh's one-pv) and two
# GRUB-installed disks (boot.sh's gpt-grub and mbr-grub) and a DOS disk with an
# extended partition holding two logical ones (disk.sh's dos-logical), each with
# headless Chromium at the SVG's own size.
#
#   bench/svg-screenshot.sh IMGCHECK OUTDIR [PREFIX]
#
# (In bench/, not testdata/scripts/: make-fixtures.sh runs every script there.)
#
# writes OUTDIR/PREFIXdemo.png, PREFIXlvm.png, PREFIXboot-gpt.png,
# PREFIXboot-mbr.png, PREFIXdos-logical.png (and the .svg beside each). Installs chromium with
# apt-get when it is missing (root).
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath "$2")
prefix=${3:-}
testdata=$(cd "$(dirname "${BASH_SOURCE[0]}")/../testdata" && pwd)
command -v chromium >/dev/null || apt-get install -y chromium >/dev/null
command -v zstd >/dev/null || apt-get install -y zstd >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

shot() { # NAME IMAGE
  local svg=$out/$prefix$1.svg png=$out/$prefix$1.png
  # The exit status is the verdict (0, 1, 4); only 8 and up is a failure.
  local rc=0
  "$bin" --map "$svg" "$2" >/dev/null || rc=$?
  [ "$rc" -lt 8 ] || { echo "imgcheck failed ($rc) on $2" >&2; exit 1; }
  local w h
  w=$(sed -n 's/.*<svg [^>]*width="\([0-9]*\)".*/\1/p' "$svg" | head -1)
  h=$(sed -n 's/.*<svg [^>]*height="\([0-9]*\)".*/\1/p' "$svg" | head -1)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/profile" \
    --screenshot="$png" --window-size="$w,$h" "file://$svg" >/dev/null 2>&1
  echo "$png (${w}x${h})"
}

unzst() { zstd -dqf "$testdata/fixtures/$1.zst" -o "$work/$(basename "$1")"; echo "$work/$(basename "$1")"; }

shot demo "$testdata/demo/brainvm.qcow2"
shot lvm "$(unzst lvm2/one-pv.img)"
shot boot-gpt "$(unzst boot/gpt-grub.img)"
shot boot-mbr "$(unzst boot/mbr-grub.img)"
shot dos-logical "$(unzst disk/dos-logical.img)"
