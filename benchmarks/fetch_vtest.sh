#!/usr/bin/env bash
# OpenCV's sample pedestrian clip vtest.avi (768x576, 795 frames at 10 fps, Apache-2.0 / BSD
# with OpenCV): the real footage of benchmarks.real_clip. Not committed (8 MB); this puts it at
# $1 (default data/clips/opencv-vtest.avi). From Debian's opencv-doc package where apt-get
# reaches a mirror, else from OpenCV's repository on GitHub; the sha256 is checked either way.
set -euo pipefail
dest=${1:-data/clips/opencv-vtest.avi}
sha=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
url=https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if (cd "$tmp" && apt-get download -qq opencv-doc >/dev/null 2>&1); then
  dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/deb"
  cp "$tmp/deb/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$tmp/vtest.avi"
elif ! curl -fsSL "$url" -o "$tmp/vtest.avi"; then
  echo "error: could not fetch vtest.avi (apt-get download opencv-doc and $url both failed);" \
    "copy OpenCV's samples/data/vtest.avi to $dest by hand" >&2
  exit 1
fi
echo "$sha  $tmp/vtest.avi" | sha256sum -c --status - || {
  echo "error: vtest.avi has another sha256 than $sha; not written" >&2
  exit 1
}
mkdir -p "$(dirname "$dest")"
cp "$tmp/vtest.avi" "$dest.part" && mv "$dest.part" "$dest"  # atomic within its folder
echo "wrote $dest"
