# Means over the clips of each run's variants: PSNR-Y, VMAF, training fraction (the report's
# per-clip numbers, averaged as srenhance-eval's goal table does).
import json, sys
for run in sys.argv[1:]:
    d = json.load(open(run + '/results.json'))
    keys = {}
    for c in d['clips']:
        for v in c['variants']:
            keys.setdefault(v['key'], []).append(v)
    for k, vs in keys.items():
        n = len(vs)
        fr = [v['training_fraction'] for v in vs if v.get('training_fraction') is not None]
        print(f"{run:45s} {k:12s} clips {n}  PSNR-Y {sum(v['psnr_y'] for v in vs)/n:.3f}  "
              f"VMAF {sum(v['vmaf'] for v in vs)/n:.2f}  fraction "
              + (f"{sum(fr)/len(fr):.3f}" if fr else "-"))
