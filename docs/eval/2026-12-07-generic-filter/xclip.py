# Cross-clip transfer of the hashed LS filter: fit on clips A (many patches), test on clip B.
# CNN outputs: session 18 cached `srenhance training=false` output per clip as raw I420 under /tmp/ls (see ../2026-12-07-postfilter/run.sh sim).
import numpy as np, sys, os
os.environ.setdefault('PHASE','0')
src=open('../2026-12-07-postfilter/ls.py').read()
pre=src.split('N=480')[0]; post=src.split('rng=np.random')[0].split("R=int(os.environ.get('RAD','2'))")[1]
exec(pre); R=2; exec(post)
C='../../../.cache/corpus/srenhance/'
clips={'trailer':(C+'sr_trailer_1280x720_480f.y4m','/tmp/ls/cnn.i420',480),
 'pans':(C+'sr_pans_1280x720_1800f.y4m','/tmp/ls/pans_1280x720_1800f.cnn.i420',1800),
 'cuts':(C+'sr_cuts_1280x720.y4m','/tmp/ls/cuts_1280x720.cnn.i420',426),
 'cockatoo':(C+'sr_cockatoo_1280x720_280f.y4m','/tmp/ls/cockatoo_1280x720_280f.cnn.i420',280)}
def load(name,step):
    h,c,n=clips[name]
    hr=y4m_y(h,n); cnn=raw_y(c,len(hr))
    return hr[::step],cnn[::step]
rng=np.random.default_rng(1)
def patches(hr,cnn,n):
    out=[]
    while len(out)<n:
        t=rng.integers(0,len(hr)); y0=rng.integers(0,H-96)//2*2; x0=rng.integers(0,W-96)//2*2
        h=hr[t][y0:y0+96,x0:x0+96]
        if np.std(h)<10: continue
        out.append((cnn[t][y0:y0+96,x0:x0+96],h))
    return out
names=sys.argv[1].split(','); lam=float(sys.argv[2]) if len(sys.argv)>2 else 0.3
data={n:load(n,6) for n in names}
pp={n:patches(*data[n],int(os.environ.get("NP","300"))) for n in names}
for test in names:
    tr=[p for n in names if n!=test for p in pp[n]]
    w=train(tr,lam)
    hr,cnn=data[test]; idx=range(0,len(hr),3)
    base=np.mean([psnr(cnn[t],hr[t]) for t in idx]); f=np.mean([psnr(apply(cnn[t],w),hr[t]) for t in idx])
    print(test,'base',round(base,3),'xclip filter',round(f-base,3),flush=True)
