#!/bin/bash
T=/work/main/target/release/dnnscale-train
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
C="--data /work/main/.cache/train/tiles --exclude $X --batch 16 --patch 96 --seed 3 --threads 1 --val-every 1000"
cd /tmp/tr
# pre-filter alone (no refinement net), codec-agnostic, from scratch
$T $C --steps 3000 --lr 2e-3 --pre-channels 8 --pre-layers 0 --no-refine --mode agnostic --out /tmp/tr/unused.onnx --out-pre pre8-agn.onnx --summary pre8-agn.json > pre8-agn.log 2>&1
# the same through x264 (CRF, projection surrogate), continued from it
$T $C --steps 1500 --lr 5e-4 --pre-init pre8-agn.onnx --no-refine --mode scaled --rate-control crf --qp-min 18 --qp-max 40 --out /tmp/tr/unused.onnx --out-pre pre8-scaled.onnx --summary pre8-scaled.json > pre8-scaled.log 2>&1
echo done > batch2.done
