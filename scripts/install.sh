#!/usr/bin/env bash
# Installs the three plugins (libgstdnnscale.so, libgstsrenhance.so, libgstvqmeter.so) into the
# system GStreamer plugin directory, so that `gst-inspect-1.0 dnnscale` works without
# GST_PLUGIN_PATH. The equivalent of gst-plugins-rs' `cargo cinstall` for this workspace: cargo-c
# is not packaged in Debian 12 and `cargo install cargo-c` compiles cargo itself (~15 min on 2
# cores), while the plugins need nothing but the cdylib copied into place (no headers or .pc).
#
# Builds with the `dist` profile (release without debug info, symbols stripped: ~23 MB a plugin
# instead of ~150 MB with the release profile's debug info).
#
#   scripts/install.sh                 build and install into `pkg-config --variable=pluginsdir gstreamer-1.0`
#   PLUGINDIR=/some/dir scripts/install.sh      another directory
#   DESTDIR=/tmp/stage scripts/install.sh       staged install (packaging): $DESTDIR$PLUGINDIR
#   PROFILE=dev scripts/install.sh     install an existing dev build instead (quick, keeps debug info)
#   scripts/install.sh --uninstall     remove the three plugins again
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE="${PROFILE:-dist}"
PLUGINS=(dnnscale srenhance vqmeter)
PLUGINDIR="${PLUGINDIR:-$(pkg-config --variable=pluginsdir gstreamer-1.0)}"
[ -n "$PLUGINDIR" ] || { echo "install.sh: no GStreamer plugin directory (pkg-config gstreamer-1.0)" >&2; exit 1; }
DEST="${DESTDIR:-}$PLUGINDIR"

if [ "${1:-}" = "--uninstall" ]; then
  for p in "${PLUGINS[@]}"; do rm -fv "$DEST/libgst$p.so"; done
  exit 0
fi

pkgs=(); for p in "${PLUGINS[@]}"; do pkgs+=(-p "gst-plugin-$p"); done
cargo build --profile "$PROFILE" "${pkgs[@]}"
OUTDIR="$ROOT/target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
mkdir -p "$DEST"
for p in "${PLUGINS[@]}"; do
  so="$OUTDIR/libgst$p.so"
  [ -f "$so" ] || { echo "install.sh: $so was not built" >&2; exit 1; }
  install -m 0644 "$so" "$DEST/libgst$p.so"
  echo "installed $DEST/libgst$p.so ($(du -h "$so" | cut -f1))"
done

# Check what a user would run, against the system registry only (not GST_PLUGIN_PATH).
if [ -z "${DESTDIR:-}" ] && [ "$PLUGINDIR" = "$(pkg-config --variable=pluginsdir gstreamer-1.0)" ]; then
  for e in dnnscale srpatch srenhance vqmeter; do
    env -u GST_PLUGIN_PATH GST_REGISTRY_UPDATE=yes gst-inspect-1.0 "$e" >/dev/null ||
      { echo "install.sh: gst-inspect-1.0 $e fails after the install" >&2; exit 1; }
  done
  echo "gst-inspect-1.0 finds dnnscale, srpatch, srenhance and vqmeter"
fi
