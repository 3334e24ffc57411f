#!/usr/bin/env bash
# Session 22 (#13): two clips no model, clip or decision had seen (scripts/fetch-eval-clips.sh:
# heldout_flower, a phone photo with sensor noise; heldout_solvay, a scanned film photograph),
# under the hidden check's protocol (x264 CRF 20-35 and VP9, ratios 1.5x/2x/3x, bicubic client).
#   train: session 21's r32 pair again (SCALED and its codec-agnostic twin, CRF 20-35, ratios
#          1.25-3.2; docs/eval/2026-12-07-crf/run.sh), and r32 relabelled to the element's range
#   main:  the default and r32 against ffmpeg's Lanczos, every metric, both codecs
#   codec-aware: the shipped pair and the r32 pair at equal budget, x264 PSNR-Y
#   sr:    srenhance (#14) on a clip built here from the same two photos, never used by srenhance
#          either: 18 s at 30 fps, a cut every 3 s (flower | solvay | ...), moving and static
#          camera; the issue's check: 100 kbit/s of patches, x264 800 kbit/s, (b) and (c) fed
#          900 kbit/s, every other property at its default
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
R=docs/eval/2026-12-07-heldout
HELD=heldout_flower_1280x720_30f,heldout_solvay_1280x720_30f
P=(--clips "$HELD" --frames 30 --sizes 1.5,2,3 --crfs 20,25,30,35 --vp9-crfs 32,38,44,50
  --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck)
BASE=(--data .cache/train/tiles --exclude $X --init $M/dnnscale-refine-c16-skip.onnx --batch 16
  --patch 96 --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps 2000 --rate-control crf)
mkdir -p "$O"
case "$1" in
  train)
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --qp-min 20 --qp-max 35 --mode scaled \
      --out $O/r32-scaled.onnx --summary $O/r32-scaled.summary.json
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --mode agnostic \
      --out $O/r32-agnostic.onnx --summary $O/r32-agnostic.summary.json
    $T --data .cache/train/tiles --exclude $X --init $O/r32-scaled.onnx --steps 0 \
      --use-ratios 1.3:3.2 --out $O/r32.onnx ;;
  main)
    $E "${P[@]}" --model default=$M/dnnscale.onnx --model r32=$O/r32.onnx --out $R/main ;;
  codec-aware)
    $E "${P[@]}" --codecs x264 --metrics psnr --model scaled=$M/dnnscale-refine-scaled.onnx \
      --model agnostic=$M/dnnscale-refine-agnostic-low.onnx --model r32=$O/r32-scaled.onnx \
      --model r32-agnostic=$O/r32-agnostic.onnx --compare scaled:agnostic --compare r32:r32-agnostic \
      --out $R/codec-aware ;;
  sr)
    S=.cache/eval-src/x; V=.cache/eval-src/venv/bin/python
    FL=$S/libjxl-testdata/usr/share/libjxl-testdata/jxl/flower/flower.png
    SO=$S/visp-images-data/usr/share/visp-images-data/ViSP-images/Solvay/Solvay_conference_1927_Version2_2126x1463.png
    CL=.cache/corpus/srenhance/sr_heldout_cuts_1280x720_540f.y4m
    if [ ! -s $CL ]; then
      { $V scripts/pan_zoom.py $FL 1280 720 90 1.00 1.05 0.40 0.50 0.50 0.50
        $V scripts/pan_zoom.py $SO 1280 720 90 1.00 1.02 0.35 0.45 0.50 0.50
        $V scripts/pan_zoom.py $FL 1280 720 90 1.04 1.04 0.60 0.60 0.45 0.45
        $V scripts/pan_zoom.py $SO 1280 720 90 1.02 1.00 0.60 0.50 0.50 0.52
        $V scripts/pan_zoom.py $FL 1280 720 90 1.00 1.08 0.50 0.45 0.55 0.48
        $V scripts/pan_zoom.py $SO 1280 720 90 1.01 1.01 0.55 0.55 0.50 0.50
      } | .cache/ffmpeg/ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s 1280x720 -r 30 -i - \
        -vf "scale=out_color_matrix=bt709:out_range=tv:flags=lanczos+accurate_rnd+full_chroma_int+bitexact,format=yuv420p,setsar=1" \
        -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe $CL.tmp
      mv $CL.tmp $CL
    fi
    target/release/srenhance-eval --clip $CL --patch-kbps 100 \
      --variants "${2:-bicubic,generic,continuous,adaptive}" --out $R/sr ;;
esac
