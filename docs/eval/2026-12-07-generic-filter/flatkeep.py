# prior.py's refit toward the generic filter (ridge 2e4), and the same with the flat buckets
# (strength class 0) kept at the generic filter: the patches are detailed cells, so their flat
# pixels may not stand for a frame's flat areas.
import numpy as np, sys
src=open('prior.py').read().split("h,c,N,fps=clips[test]")[0]
exec(src)
h,c,N,fps=clips[test]; hr=y4m_y(h,int(sys.argv[2]) if len(sys.argv)>2 else N); cnn=raw_y(c,len(hr)); N=len(hr)
E=5*fps; store=[]; tot=np.zeros(4); ne=0
flat=np.array([((b//NC)%NS)==0 for b in range(NB)])
for e in range(N//E):
    fresh=patches(hr,cnn,e*E,(e+1)*E,20)
    ts=range(e*E,(e+1)*E,4)
    pc=np.mean([psnr(cnn[t],hr[t]) for t in ts]); pg=np.mean([psnr(apply(cnn[t],w0),hr[t]) for t in ts])
    res=[pc,pg]
    if store:
        A,B=normals(store[-256:])
        w=solve(A,B,0.0,w0,2e4); wk=w.copy(); wk[flat]=w0[flat]
        res+=[np.mean([psnr(apply(cnn[t],x),hr[t]) for t in ts]) for x in (w,wk)]
    else: res+=[pg,pg]
    res=np.array(res); tot+=res; ne+=1
    print(f'epoch {e}: cnn {pc:.3f} gen {pg-pc:+.3f} refit {res[2]-pc:+.3f} refit-flat-kept {res[3]-pc:+.3f}',flush=True)
    store+=fresh
m=tot/ne
print(test,'mean gains: gen %+.3f refit %+.3f flat-kept %+.3f'%tuple(m[1:]-m[0]))
