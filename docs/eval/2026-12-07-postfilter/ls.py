# Feasibility: does a hashed least-squares post-filter, fitted online on HR patches of the first
# half of a clip, lift the generic CNN's output on the second half?
import numpy as np, sys, os
W,H=1280,720
def y4m_y(path, n):
    d=open(path,'rb'); hdr=d.readline(); fs=W*H*3//2; out=[]
    for i in range(n):
        if not d.readline().startswith(b'FRAME'): break
        b=d.read(fs)
        if len(b)<fs: break
        out.append(np.frombuffer(b[:W*H],np.uint8).reshape(H,W))
    return out
def raw_y(path,n):
    fs=W*H*3//2; m=np.memmap(path,np.uint8,'r')
    return [np.asarray(m[i*fs:i*fs+W*H]).reshape(H,W) for i in range(n)]
N=480
hr=y4m_y(sys.argv[1],N); cnn=raw_y(sys.argv[2],N)
R=int(os.environ.get('RAD','2'))
def feats(y):
    y=y.astype(np.float32)
    p=np.pad(y,R,mode='edge')
    return [p[dy:dy+y.shape[0],dx:dx+y.shape[1]] for dy in range(2*R+1) for dx in range(2*R+1)]
def box(a,r=2):
    k=2*r+1; p=np.pad(a,r,mode='edge'); c=p.cumsum(0).cumsum(1)
    c=np.pad(c,((1,0),(1,0)))
    return (c[k:,k:]-c[:-k,k:]-c[k:,:-k]+c[:-k,:-k])/(k*k)
import os
NA,NS,NC=[int(v) for v in os.environ.get("HASH","8,3,3").split(",")]
def buckets(y, edges=None):
    y=y.astype(np.float32)
    gy,gx=np.gradient(y)
    a=box(gx*gx); b=box(gx*gy); c=box(gy*gy)
    tr=a+c; det=np.sqrt(np.maximum((a-c)**2+4*b*b,0))
    l1=(tr+det)/2; l2=(tr-det)/2
    ang=0.5*np.arctan2(2*b,a-c)  # -pi/2..pi/2
    ai=np.floor((ang+np.pi/2)/np.pi*NA).astype(int)%NA
    s=np.sqrt(np.maximum(l1,0))
    coh=(np.sqrt(np.maximum(l1,0))-np.sqrt(np.maximum(l2,0)))/(np.sqrt(np.maximum(l1,0))+np.sqrt(np.maximum(l2,0))+1e-6)
    si=np.digitize(s,[2.0,8.0]); ci=np.digitize(coh,[0.25,0.5])
    yy,xx=np.mgrid[0:y.shape[0],0:y.shape[1]]
    ph=((yy%2)*2+(xx%2)) if os.environ.get('PHASE','1')=='1' else 0*yy
    return ((ph*NA+ai)*NS+si)*NC+ci
NB=4*NA*NS*NC; K=(2*R+1)**2+1
def train(pairs, lam):
    AtA=np.zeros((NB,K,K)); Atb=np.zeros((NB,K))
    for (c,h) in pairs:
        f=feats(c); X=np.stack([x.ravel() for x in f]+[np.ones(c.size,np.float32)],1).astype(np.float64)
        X[:,:-1]-=c.astype(np.float64).ravel()[:,None]  # relative to centre: filter of the residual
        r=(h.astype(np.float64)-c).ravel(); bi=buckets(c).ravel()
        for b in np.unique(bi):
            m=bi==b; Xb=X[m]; AtA[b]+=Xb.T@Xb; Atb[b]+=Xb.T@r[m]
    w=np.zeros((NB,K))
    for b in range(NB):
        n=AtA[b][-1,-1]
        if n<K: continue
        w[b]=np.linalg.solve(AtA[b]+lam*n*np.eye(K),Atb[b])
    return w
def apply(c,w):
    f=feats(c); bi=buckets(c); cf=c.astype(np.float32)
    out=np.zeros_like(cf)
    Wm=w[bi].astype(np.float32)
    for k,x in enumerate(f): out+=Wm[...,k]*(x-cf)
    out+=Wm[...,-1]
    return np.clip(cf+out,0,255)
def psnr(a,b):
    e=np.mean((a.astype(np.float64)-b.astype(np.float64))**2); return min(60.0,10*np.log10(255**2/max(e,1e-12)))
rng=np.random.default_rng(1)
half=N//2
def sample(npatch, detail):
    pairs=[]
    while len(pairs)<npatch:
        t=rng.integers(0,half); y0=rng.integers(0,H-48)//2*2; x0=rng.integers(0,W-48)//2*2
        c=cnn[t][y0:y0+48,x0:x0+48]; h=hr[t][y0:y0+48,x0:x0+48]
        if detail and np.std(h)<detail: continue
        pairs.append((c,h))
    return pairs
test=range(int(sys.argv[4]),N if sys.argv[4]!="0" else half,8)
base=np.mean([psnr(cnn[t],hr[t]) for t in test])
print('cnn second half',round(base,3),flush=True)
for npatch in [int(a) for a in sys.argv[3].split(',')]:
  for lam in [0.03,0.3]:
    w=train(sample(npatch,8.0),lam)
    s=np.mean([psnr(apply(cnn[t],w),hr[t]) for t in test])
    print(npatch,'patches lam',lam,'->',round(s,3),'gain',round(s-base,3),flush=True)
