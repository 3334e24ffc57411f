#!/bin/bash
# Per-ratio-band pre-filters (C=8, no hidden layer), codec-agnostic, from scratch, then SCALED (CRF, projection) continuations.
T=/work/main/target/release/dnnscale-train
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
C="--data /work/main/.cache/train/tiles --exclude $X --batch 16 --patch 96 --seed 3 --threads 1 --val-every 1000"
cd /tmp/tr
while pgrep -f "batch2.sh" > /dev/null; do sleep 5; done
for band in "A 1.25 1.75" "B 1.75 2.4" "C 2.4 4.0"; do
  set -- $band
  $T $C --steps 3000 --lr 2e-3 --ratio-min $2 --ratio-max $3 --use-ratios $2:$3 --pre-channels 8 --pre-layers 0 --no-refine --mode agnostic --out /tmp/tr/unused.onnx --out-pre pre8-$1-agn.onnx --summary pre8-$1-agn.json > pre8-$1-agn.log 2>&1
done
echo agn > batch3.agn.done
for band in "A 1.25 1.75" "B 1.75 2.4" "C 2.4 4.0"; do
  set -- $band
  $T $C --steps 1500 --lr 5e-4 --ratio-min $2 --ratio-max $3 --use-ratios $2:$3 --pre-init pre8-$1-agn.onnx --no-refine --mode scaled --rate-control crf --qp-min 18 --qp-max 40 --out /tmp/tr/unused.onnx --out-pre pre8-$1-scaled.onnx --summary pre8-$1-scaled.json > pre8-$1-scaled.log 2>&1
done
echo done > batch3.done
