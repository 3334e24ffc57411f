#!/bin/bash
T=/work/main/target/release/dnnscale-train
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
C="--data /work/main/.cache/train/tiles --exclude $X --init /work/main/models/dnnscale/dnnscale.onnx --batch 16 --patch 96 --lr 5e-4 --seed 2 --threads 1 --val-every 500"
cd /tmp/tr
$T $C --steps 2000 --ratio-min 1.25 --ratio-max 2.2 --mode agnostic --out low-agn.onnx --summary low-agn.json > low-agn.log 2>&1
$T $C --steps 2000 --ratio-min 1.25 --ratio-max 2.2 --mode scaled --rate-control crf --qp-min 18 --qp-max 40 --out low-scaled-crf.onnx --summary low-scaled-crf.json > low-scaled-crf.log 2>&1
$T $C --steps 2000 --mode agnostic --guide 1 --out guide1.onnx --summary guide1.json > guide1.log 2>&1
$T $C --steps 2000 --mode scaled --rate-control crf --qp-min 18 --qp-max 40 --out scaled-crf.onnx --summary scaled-crf.json > scaled-crf.log 2>&1
echo done > batch1.done
