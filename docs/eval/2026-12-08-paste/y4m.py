import numpy as np
def read_y4m(path, max_frames=None, luma_only=True):
    f=open(path,'rb'); hdr=f.readline().decode().split()
    w=int([h for h in hdr if h[0]=='W'][0][1:]); h=int([x for x in hdr if x[0]=='H'][0][1:])
    n=w*h*3//2; out=[]
    while True:
        line=f.readline()
        if not line: break
        buf=f.read(n)
        if len(buf)<n: break
        y=np.frombuffer(buf[:w*h],np.uint8).reshape(h,w)
        out.append(y if luma_only else buf)
        if max_frames and len(out)>=max_frames: break
    return w,h,out
