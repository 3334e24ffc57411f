#!/usr/bin/env bash
# Session 22 (#13): the codec-aware margin of the pre-filter (Netflix's preprocessing block, at
# the source resolution: SCALED's own setting) rather than of the refinement net.
#   pairs: the shipped pre-filter pair's missing twin (dnnscale-pre-agnostic + 1500 agnostic
#          steps, the budget of dnnscale-pre-scaled), and a pre-filter with one hidden layer
#          (C=8, 288 MAC per source pixel): 3000 agnostic steps, then 1500 SCALED or agnostic
#   q2035: the shipped pre-filter's SCALED steps at the check's CRF 20-35 (eval: Q2035=1)
#   long:  the C=8 pre-filter pair with 4500 steps each from dnnscale-pre-agnostic (eval: LONG=1)
#   eval:  SCALED vs agnostic at equal budget, x264 PSNR-Y, hidden protocol, eight clips + the
#          two held-out ones
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
R=docs/eval/2026-12-07-heldout
B=(--data .cache/train/tiles --exclude $X --batch 16 --patch 96 --seed 3 --threads 1 --val-every 1000
  --no-refine --out $O/unused.onnx)
mkdir -p "$O"
case "$1" in
  pairs)
    $T "${B[@]}" --steps 1500 --lr 5e-4 --pre-init $M/dnnscale-pre-agnostic.onnx --mode agnostic \
      --out-pre $O/pre8-agn-cont.onnx --summary $O/pre8-agn-cont.json
    $T "${B[@]}" --steps 3000 --lr 2e-3 --pre-channels 8 --pre-layers 1 --mode agnostic \
      --out-pre $O/pre8h1-agn.onnx --summary $O/pre8h1-agn.json
    $T "${B[@]}" --steps 1500 --lr 5e-4 --pre-init $O/pre8h1-agn.onnx --mode agnostic \
      --out-pre $O/pre8h1-agn-cont.onnx --summary $O/pre8h1-agn-cont.json
    $T "${B[@]}" --steps 1500 --lr 5e-4 --pre-init $O/pre8h1-agn.onnx --mode scaled \
      --rate-control crf --qp-min 18 --qp-max 40 --out-pre $O/pre8h1-scaled.onnx --summary $O/pre8h1-scaled.json ;;
  q2035)
    $T "${B[@]}" --steps 1500 --lr 5e-4 --pre-init $M/dnnscale-pre-agnostic.onnx --mode scaled \
      --rate-control crf --qp-min 20 --qp-max 35 --out-pre $O/pre8-scaled-q2035.onnx \
      --summary $O/pre8-scaled-q2035.json ;;
  long)
    $T "${B[@]}" --steps 4500 --lr 5e-4 --pre-init $M/dnnscale-pre-agnostic.onnx --mode agnostic \
      --out-pre $O/pre8-agn-4500.onnx --summary $O/pre8-agn-4500.json
    $T "${B[@]}" --steps 4500 --lr 5e-4 --pre-init $M/dnnscale-pre-agnostic.onnx --mode scaled \
      --rate-control crf --qp-min 18 --qp-max 40 --out-pre $O/pre8-scaled-4500.onnx --summary $O/pre8-scaled-4500.json ;;
  eval)
    if [ -n "${Q2035:-}" ]; then
      $E --clips "$CLIPS,heldout_flower_1280x720_30f,heldout_solvay_1280x720_30f" --frames 30 \
        --sizes 1.5,2,3 --crfs 20,25,30,35 --jobs 2 --anchors ffmpeg --no-crosscheck --codecs x264 \
        --metrics psnr --model pre-scaled-q2035=$O/pre8-scaled-q2035.onnx \
        --model pre-agnostic=$O/pre8-agn-cont.onnx --compare pre-scaled-q2035:pre-agnostic \
        --out $R/pre-codec-aware-q2035
      exit 0
    fi
    if [ -n "${LONG:-}" ]; then
      $E --clips "$CLIPS,heldout_flower_1280x720_30f,heldout_solvay_1280x720_30f" --frames 30 \
        --sizes 1.5,2,3 --crfs 20,25,30,35 --jobs 2 --anchors ffmpeg --no-crosscheck --codecs x264 \
        --metrics psnr --model pre-scaled-4500=$O/pre8-scaled-4500.onnx \
        --model pre-agnostic-4500=$O/pre8-agn-4500.onnx --compare pre-scaled-4500:pre-agnostic-4500 \
        --out $R/pre-codec-aware-4500
      exit 0
    fi
    $E --clips "$CLIPS,heldout_flower_1280x720_30f,heldout_solvay_1280x720_30f" --frames 30 \
      --sizes 1.5,2,3 --crfs 20,25,30,35 --jobs 2 --anchors ffmpeg --no-crosscheck --codecs x264 \
      --metrics psnr --model pre-scaled=$M/dnnscale-pre-scaled.onnx --model pre-agnostic=$O/pre8-agn-cont.onnx \
      ${H1:+--model pre-h1-scaled=$O/pre8h1-scaled.onnx --model pre-h1-agnostic=$O/pre8h1-agn-cont.onnx --compare pre-h1-scaled:pre-h1-agnostic} \
      --compare pre-scaled:pre-agnostic --out $R/pre-codec-aware ;;
esac
