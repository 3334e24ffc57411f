# Per-epoch: generic filter (fit on other clips) vs online filter from zero vs online filter with the generic one as ridge prior.
# CNN outputs: session 18 cached `srenhance training=false` output per clip as raw I420 under /tmp/ls (see ../2026-12-07-postfilter/run.sh sim).
import numpy as np, sys, os
os.environ['PHASE']='0'
src=open('../2026-12-07-postfilter/ls.py').read()
pre=src.split('N=480')[0]; post=src.split('rng=np.random')[0].split("R=int(os.environ.get('RAD','2'))")[1]
exec(pre); R=2; exec(post)
C='../../../.cache/corpus/srenhance/'
clips={'trailer':(C+'sr_trailer_1280x720_480f.y4m','/tmp/ls/cnn.i420',480,24),
 'pans':(C+'sr_pans_1280x720_1800f.y4m','/tmp/ls/pans_1280x720_1800f.cnn.i420',1800,30),
 'cuts':(C+'sr_cuts_1280x720.y4m','/tmp/ls/cuts_1280x720.cnn.i420',426,25),
 'cockatoo':(C+'sr_cockatoo_1280x720_280f.y4m','/tmp/ls/cockatoo_1280x720_280f.cnn.i420',280,20)}
rng=np.random.default_rng(1)
def normals(pairs):
    AtA=np.zeros((NB,K,K)); Atb=np.zeros((NB,K))
    for (c,h) in pairs:
        f=feats(c); X=np.stack([x.ravel() for x in f]+[np.ones(c.size,np.float32)],1).astype(np.float64)
        X[:,:-1]-=c.astype(np.float64).ravel()[:,None]
        r=(h.astype(np.float64)-c).ravel(); bi=buckets(c).ravel()
        for b in np.unique(bi):
            m=bi==b; Xb=X[m]; AtA[b]+=Xb.T@Xb; Atb[b]+=Xb.T@r[m]
    return AtA,Atb
def solve(AtA,Atb,lam,w0=None,kap=0.0):
    w=np.zeros((NB,K)) if w0 is None else w0.copy()
    for b in range(NB):
        n=AtA[b][-1,-1]
        if n<K: continue
        p=np.zeros(K) if w0 is None else w0[b]
        reg=lam*n+kap
        w[b]=np.linalg.solve(AtA[b]+reg*np.eye(K),Atb[b]+reg*p)
    return w
def patches(hr,cnn,lo,hi,n):
    out=[]
    while len(out)<n:
        t=rng.integers(lo,hi); y0=rng.integers(0,H-96)//2*2; x0=rng.integers(0,W-96)//2*2
        h=hr[t][y0:y0+96,x0:x0+96]
        if np.std(h)<10: continue
        out.append((cnn[t][y0:y0+96,x0:x0+96],h))
    return out
test=sys.argv[1]; names=[n for n in clips if n!=test]
gp=[]
for n in names:
    h,c,N,_=clips[n]; hr=y4m_y(h,N)[::6]; cnn=raw_y(c,N)[::6][:len(hr)]
    gp+=patches(hr,cnn,0,len(hr),300)
gA,gB=normals(gp); w0=solve(gA,gB,0.3)
h,c,N,fps=clips[test]; hr=y4m_y(h,int(sys.argv[2]) if len(sys.argv)>2 else N); cnn=raw_y(c,len(hr)); N=len(hr)
E=5*fps; store=[]; tot=np.zeros(6); ne=0
for e in range(N//E):
    fresh=patches(hr,cnn,e*E,(e+1)*E,20)
    ts=range(e*E,(e+1)*E,4)
    pc=np.mean([psnr(cnn[t],hr[t]) for t in ts]); pg=np.mean([psnr(apply(cnn[t],w0),hr[t]) for t in ts])
    res=[pc,pg]
    if store:
        A,B=normals(store[-256:])
        for w in [solve(A,B,0.3), solve(A,B,0.3,w0,0.0), solve(A,B,0.0,w0,2e4), solve(A,B,0.0,w0,2e5)]:
            res.append(np.mean([psnr(apply(cnn[t],w),hr[t]) for t in ts]))
    else: res+=[pc,pg,pg,pg]
    res=np.array(res); tot+=res; ne+=1
    print(f'epoch {e}: cnn {pc:.3f} gen {pg-pc:+.3f} online0 {res[2]-pc:+.3f} prior(l.3n) {res[3]-pc:+.3f} prior(k2e4) {res[4]-pc:+.3f} prior(k2e5) {res[5]-pc:+.3f}',flush=True)
    store+=fresh
m=tot/ne
print(test,'mean gains: gen %+.3f online0 %+.3f priorL %+.3f k2e4 %+.3f k2e5 %+.3f'%tuple(m[1:]-m[0]))
