//! Launch geometry of each kernel, shared by the GPU launch and the host emulation.

/// Grid and block sizes, as CUDA's `dim3` pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
}

/// Samples each thread of the SSE kernels sums (`LV_SSE_SPAN` in psnr.cu).
pub const SSE_SPAN: usize = 64;

fn blocks(n: usize, per: u32) -> u32 {
    n.div_ceil(per as usize).max(1) as u32
}

/// 2-D grid of 32x8 blocks, one thread per sample (`depth` grid layers, e.g. output channels).
pub fn per_sample(w: usize, h: usize, depth: usize) -> Dims {
    Dims {
        grid: (blocks(w, 32), blocks(h, 8), depth.max(1) as u32),
        block: (32, 8, 1),
    }
}

/// The SSE kernels: one thread per `SSE_SPAN` samples of a row.
pub fn sse(w: usize, h: usize) -> Dims {
    per_sample(w.div_ceil(SSE_SPAN), h, 1)
}

/// 1-D grid of 256-thread blocks over `n` elements.
pub fn linear(n: usize) -> Dims {
    Dims {
        grid: (blocks(n, 256), 1, 1),
        block: (256, 1, 1),
    }
}

/// The weight-gradient kernel: one thread per weight, `cin * 9` by `cout`.
pub fn weights(cin: usize, cout: usize) -> Dims {
    per_sample(cin * 9, cout, 1)
}
