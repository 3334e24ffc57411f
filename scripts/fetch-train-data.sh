#!/usr/bin/env bash
# Fetches the natural photos dnnscale is trained on and cuts them into 512x512 PNG tiles:
#   .cache/train/tiles/<photo id>_r<row>c<col>.png   (+ .cache/train/tiles.tsv: name, texture score)
#
# The photos (models/dnnscale/photos.tsv: id, package, path, license, author) come from three
# Debian 12 packages, fetched with `apt-get download` (no root needed once `apt-get update` has
# run): lomiri-wallpapers-16.04, lomiri-wallpapers-20.04, mate-backgrounds. Tiles are cut by
# scripts/make_tiles.py in a venv with pillow + numpy (PyPI). Deterministic for the pinned versions.
#
# Usage: scripts/fetch-train-data.sh        (idempotent; rerun to rebuild the tiles)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/train"
PHOTOS="$ROOT/models/dnnscale/photos.tsv"
mkdir -p "$CACHE"/{debs,x}

DEBS=(
  "lomiri-wallpapers-16.04=20.04.0-2"
  "lomiri-wallpapers-20.04=20.04.0-2"
  "mate-backgrounds=1.26.0-1"
)
for spec in "${DEBS[@]}"; do
  name="${spec%%=*}"
  if ! ls "$CACHE/debs/${name}_"*.deb >/dev/null 2>&1; then
    (cd "$CACHE/debs" && { apt-get download -q "$spec" 2>/dev/null || {
        echo "WARN: $spec not available, taking the current $name" >&2; apt-get download -q "$name"; }; })
  fi
  if [ ! -d "$CACHE/x/$name" ]; then
    mkdir -p "$CACHE/x/$name.tmp"
    dpkg-deb -x "$CACHE/debs/${name}_"*.deb "$CACHE/x/$name.tmp"
    mv "$CACHE/x/$name.tmp" "$CACHE/x/$name"
  fi
done

VENV="$CACHE/venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import PIL, numpy" 2>/dev/null ||
  "$VENV/bin/pip" install -q "pillow==13.0.0" "numpy==2.4.6"

rm -rf "$CACHE/tiles.tmp"
# 512 px tiles, the 6 most textured per photo, at most 150 in all (the corpus the shipped
# models were trained on; see models/dnnscale/MODEL_CARD.md).
"$VENV/bin/python" "$ROOT/scripts/make_tiles.py" "$PHOTOS" "$CACHE/x" "$CACHE/tiles.tmp" 512 6 150 \
  > "$CACHE/tiles.tsv"
rm -rf "$CACHE/tiles"
mv "$CACHE/tiles.tmp" "$CACHE/tiles"
(cd "$CACHE/tiles" && sha256sum *.png > ../SHA256SUMS)
echo "tiles: $CACHE/tiles ($(ls "$CACHE/tiles" | wc -l) files)"
