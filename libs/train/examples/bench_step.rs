//! Training-step throughput of the engine (forward + backward, batch parallel on rayon):
//! `cargo run --release -p lvtrain --example bench_step [--features bench-gemm]`.
//!
//! Two workloads: the reference (4 convs 1→32→32→32→1 at 48x48, batch 16, where
//! candle measured ~6 GFLOP/s) and the dnnscale RefineNet on its training patches. FLOPs are
//! counted as 2 per MAC: forward, weight gradient and input gradient (none for the first conv).
//! With `--features bench-gemm` the reference stack is also run with `gemm` instead of
//! `matrixmultiply` for the three products of each conv.

use std::time::Instant;

use lv_train::conv;
use lv_train::{RefineConfig, RefineNet, Tensor, Trainable};
use rayon::prelude::*;

fn reference_step(chans: &[usize], h: usize, w: usize, batch: usize, weights: &[Vec<f32>]) {
    (0..batch).into_par_iter().for_each(|_| {
        let hw = h * w;
        let mut acts = vec![vec![0.5f32; chans[0] * hw]];
        let mut col = vec![0f32; chans.iter().max().unwrap() * 9 * hw];
        for k in 0..chans.len() - 1 {
            let mut out = vec![0f32; chans[k + 1] * hw];
            let b = vec![0.01f32; chans[k + 1]];
            conv::forward(
                &acts[k],
                chans[k],
                h,
                w,
                &weights[k],
                &b,
                chans[k + 1],
                &mut out,
                &mut col,
            );
            lv_train::ops::relu(&mut out);
            acts.push(out);
        }
        let mut g = vec![1e-3f32; chans[chans.len() - 1] * hw];
        for k in (0..chans.len() - 1).rev() {
            let mut dw = vec![0f32; weights[k].len()];
            let mut db = vec![0f32; chans[k + 1]];
            let mut dx = vec![0f32; chans[k] * hw];
            conv::backward(
                &acts[k],
                chans[k],
                h,
                w,
                &weights[k],
                chans[k + 1],
                &g,
                (k > 0).then_some(&mut dx[..]),
                &mut dw,
                &mut db,
                &mut col,
            );
            g = dx;
        }
    });
}

fn flops(chans: &[usize], h: usize, w: usize, batch: usize) -> f64 {
    let mut f = 0.0;
    for k in 0..chans.len() - 1 {
        let m = conv::macs(chans[k], chans[k + 1], h, w) as f64 * 2.0;
        f += m * if k > 0 { 3.0 } else { 2.0 };
    }
    f * batch as f64
}

fn time<F: FnMut()>(mut f: F, iters: usize) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

fn main() {
    let threads = rayon::current_num_threads();
    let chans = [1usize, 32, 32, 32, 1];
    let weights: Vec<Vec<f32>> = chans
        .windows(2)
        .map(|p| vec![0.01f32; p[0] * p[1] * 9])
        .collect();
    let s = time(|| reference_step(&chans, 48, 48, 16, &weights), 20);
    println!(
        "reference 1-32-32-32-1 48x48 batch 16 (matrixmultiply, {threads} threads): {:.1} ms/step, {:.1} GFLOP/s",
        s * 1e3,
        flops(&chans, 48, 48, 16) / s / 1e9
    );
    #[cfg(feature = "bench-gemm")]
    gemm_bench::run(&chans, &weights, threads);

    for &(c, l) in &[(16usize, 1usize), (12, 2), (32, 3)] {
        let net = RefineNet::new(
            RefineConfig {
                channels: c,
                hidden_layers: l,
            },
            1,
        );
        // Training inputs: 96x96 source patches at ratio ~2.6 -> 36x36 low-resolution input.
        let inputs: Vec<Tensor> = (0..16)
            .map(|_| Tensor::from_vec([1, 1, 36, 36], vec![0.5; 36 * 36]))
            .collect();
        let dys: Vec<Vec<f32>> = (0..16).map(|_| vec![1e-3; 36 * 36]).collect();
        let s = time(
            || {
                let t = net.forward_batch(&inputs);
                let g = net.backward_batch(&t, &dys);
                std::hint::black_box(g);
            },
            50,
        );
        let fl = net.macs_per_pixel() * 2.0 * (36.0 * 36.0) * 16.0 * 3.0;
        println!(
            "RefineNet C={c} hidden={l} 36x36 batch 16: {:.2} ms/step, {:.1} GFLOP/s",
            s * 1e3,
            fl / s / 1e9
        );
    }
}

#[cfg(feature = "bench-gemm")]
mod gemm_bench {
    //! The same reference stack with `gemm::gemm` for the three products, to compare GEMM crates.
    use super::*;
    use gemm::{gemm, Parallelism};

    #[allow(clippy::too_many_arguments)]
    fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        rsa: isize,
        csa: isize,
        b: &[f32],
        rsb: isize,
        csb: isize,
        beta: f32,
        c: &mut [f32],
        ldc: isize,
    ) {
        // SAFETY: callers pass buffers sized for the given shapes and strides.
        unsafe {
            gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                ldc,
                beta != 0.0,
                a.as_ptr(),
                csa,
                rsa,
                b.as_ptr(),
                csb,
                rsb,
                beta,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }

    fn step(chans: &[usize], h: usize, w: usize, batch: usize, weights: &[Vec<f32>]) {
        (0..batch).into_par_iter().for_each(|_| {
            let hw = h * w;
            let mut acts = vec![vec![0.5f32; chans[0] * hw]];
            let mut col = vec![0f32; chans.iter().max().unwrap() * 9 * hw];
            for k in 0..chans.len() - 1 {
                let (ci, co) = (chans[k], chans[k + 1]);
                let mut out = vec![0.01f32; co * hw];
                conv::im2col(&acts[k], ci, h, w, &mut col);
                mm(
                    co,
                    ci * 9,
                    hw,
                    &weights[k],
                    (ci * 9) as isize,
                    1,
                    &col,
                    hw as isize,
                    1,
                    1.0,
                    &mut out,
                    hw as isize,
                );
                lv_train::ops::relu(&mut out);
                acts.push(out);
            }
            let mut g = vec![1e-3f32; chans[chans.len() - 1] * hw];
            for k in (0..chans.len() - 1).rev() {
                let (ci, co) = (chans[k], chans[k + 1]);
                let kk = ci * 9;
                let mut dw = vec![0f32; weights[k].len()];
                conv::im2col(&acts[k], ci, h, w, &mut col);
                mm(
                    co,
                    hw,
                    kk,
                    &g,
                    hw as isize,
                    1,
                    &col,
                    1,
                    hw as isize,
                    1.0,
                    &mut dw,
                    kk as isize,
                );
                let mut dx = vec![0f32; ci * hw];
                if k > 0 {
                    mm(
                        kk,
                        co,
                        hw,
                        &weights[k],
                        1,
                        kk as isize,
                        &g,
                        hw as isize,
                        1,
                        0.0,
                        &mut col,
                        hw as isize,
                    );
                    conv::col2im_add(&col, ci, h, w, &mut dx);
                }
                g = dx;
            }
        });
    }

    pub fn run(chans: &[usize], weights: &[Vec<f32>], threads: usize) {
        let s = time(|| step(chans, 48, 48, 16, weights), 20);
        println!(
            "reference 1-32-32-32-1 48x48 batch 16 (gemm, {threads} threads): {:.1} ms/step, {:.1} GFLOP/s",
            s * 1e3,
            flops(chans, 48, 48, 16) / s / 1e9
        );
    }
}
