# Epoch simulation: patches arrive per 5-s epoch (P per epoch, 96x96, detailed cells); the filter
# served in epoch e is fitted on the patches of epochs < e; PSNR on every 4th frame of epoch e.
import numpy as np, sys
exec(open('ls.py').read().split('rng=np.random')[0].replace('hr=y4m_y(sys.argv[1],N); cnn=raw_y(sys.argv[2],N)',''))
N=int(sys.argv[3]); hr=y4m_y(sys.argv[1],N); cnn=raw_y(sys.argv[2],N); N=len(hr)
fps=int(sys.argv[4]); P=int(sys.argv[5]); lam=float(sys.argv[6])
E=5*fps; rng=np.random.default_rng(1)
store=[]; tot_c=tot_f=tot_s=0; n=0
for e in range(N//E):
    fr=range(e*E,(e+1)*E)
    fresh=[]
    while len(fresh)<P:
        t=rng.integers(e*E,(e+1)*E); y0=rng.integers(0,H-96)//2*2; x0=rng.integers(0,W-96)//2*2
        h=hr[t][y0:y0+96,x0:x0+96]
        if np.std(h)<10: continue
        fresh.append((cnn[t][y0:y0+96,x0:x0+96],h))
    test=range(e*E,(e+1)*E,4)
    pc=np.mean([psnr(cnn[t],hr[t]) for t in test])
    if store:
        w=train(store[-1000:],lam)
        pf=np.mean([psnr(apply(cnn[t],w),hr[t]) for t in test])
        # safety net: the fresh patches, before training on them
        gc=np.mean([psnr(c,h) for c,h in fresh]); gf=np.mean([psnr(apply(c,w),h) for c,h in fresh])
        ps=pf if gf>gc else pc
    else:
        pf=ps=pc; gc=gf=0
    print(f'epoch {e}: cnn {pc:.3f} filter {pf:.3f} ({pf-pc:+.3f}) safe {ps-pc:+.3f}  fresh {gf-gc:+.3f}',flush=True)
    tot_c+=pc; tot_f+=pf; tot_s+=ps; n+=1
    store+=fresh
print(f'mean: filter {(tot_f-tot_c)/n:+.3f} safe {(tot_s-tot_c)/n:+.3f}')
