import json,sys
d=json.load(open(sys.argv[1]))
for c in d['clips']:
  v={x['key']:x for x in c['variants']}
  if 'generic' not in v or 'adaptive' not in v: continue
  g=v['generic']['per_frame_psnr_y']; f=v['adaptive']['per_frame_psnr_y']; E=int(5*c['fps'])
  eps=v['adaptive']['epochs']
  print(c['name'])
  for e in range(0,(len(g)+E-1)//E):
    sl=slice(e*E,(e+1)*E); n=len(g[sl])
    served = eps[e-1]['served'] if 0<e<=len(eps) else 'initial'
    print(f'  epoch {e} served {served:9s} (f)-(c) {sum(f[sl])/n-sum(g[sl])/n:+.3f}')
