//! The kernels on a CUDA device: modules compiled by NVRTC for the device's architecture once
//! per [`Gpu`] (one per device and process), launched with the geometry of [`crate::launch`].
//!
//! [`Gpu::open`] never panics: a machine without the driver (`libcuda.so`), without a device, or
//! without NVRTC gets an error that says which, and the caller stays on the CPU.

use crate::adm::AdmRowSums;
use crate::kernels::SOURCES;
use crate::launch::{self, Dims};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use lv_image::plane::{OwnedPlane, Plane, Samples};
use lv_metrics::adm_int::AdmPlan;
use std::collections::HashMap;
use std::sync::Arc;

/// A CUDA device with every kernel module loaded.
pub struct Gpu {
    name: String,
    stream: Arc<CudaStream>,
    functions: HashMap<&'static str, CudaFunction>,
    _modules: Vec<Arc<CudaModule>>,
    /// The VIF kernels' log2 table, uploaded at the first frame.
    vif_table: std::sync::OnceLock<cudarc::driver::CudaSlice<u16>>,
}

fn cfg(d: Dims) -> LaunchConfig {
    LaunchConfig {
        grid_dim: d.grid,
        block_dim: d.block,
        shared_mem_bytes: 0,
    }
}

fn e<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err:?}")
}

/// A scale-0 picture on the device, in the container it came in.
enum Scale0 {
    U8(cudarc::driver::CudaSlice<u8>),
    U16(cudarc::driver::CudaSlice<u16>),
}

impl Scale0 {
    fn push<'a>(&'a self, l: &mut cudarc::driver::LaunchArgs<'a>) {
        match self {
            Scale0::U8(x) => l.arg(x),
            Scale0::U16(x) => l.arg(x),
        };
    }
}

impl Gpu {
    /// Device 0 with the kernels compiled for it, or why not.
    pub fn open() -> Result<Gpu, String> {
        // cudarc's dynamic loading panics when the library or a symbol is missing.
        let present =
            std::panic::catch_unwind(|| unsafe { cudarc::driver::sys::is_culib_present() })
                .unwrap_or(false);
        if !present {
            return Err("no CUDA driver (libcuda.so not found)".into());
        }
        if !crate::nvrtc::available() {
            return Err(crate::nvrtc::NvrtcError::Missing.to_string());
        }
        std::panic::catch_unwind(Self::open_inner)
            .unwrap_or_else(|_| Err("the CUDA driver library failed to load".into()))
    }

    fn open_inner() -> Result<Gpu, String> {
        let ctx = CudaContext::new(0).map_err(e("CUDA device 0"))?;
        let name = ctx.name().map_err(e("device name"))?;
        let (major, minor) = ctx.compute_capability().map_err(e("compute capability"))?;
        // PTX for the device's own architecture, capped at the newest this NVRTC (12.6) knows;
        // the driver JIT-compiles older PTX for newer devices.
        let arch: &'static str = match major * 10 + minor {
            v if v >= 90 => "compute_90",
            v if v >= 89 => "compute_89",
            v if v >= 86 => "compute_86",
            v if v >= 80 => "compute_80",
            v if v >= 75 => "compute_75",
            _ => {
                return Err(format!(
                    "{name}: compute capability {major}.{minor} is below 7.5"
                ))
            }
        };
        let mut functions = HashMap::new();
        let mut modules = Vec::new();
        for src in SOURCES {
            let ptx = crate::nvrtc::compile(src, arch).map_err(|err| err.to_string())?;
            let m = ctx.load_module(ptx).map_err(e(src.name))?;
            for &entry in src.entries {
                functions.insert(entry, m.load_function(entry).map_err(e(entry))?);
            }
            modules.push(m);
        }
        Ok(Gpu {
            name,
            stream: ctx.default_stream(),
            functions,
            _modules: modules,
            vif_table: std::sync::OnceLock::new(),
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn f(&self, name: &str) -> &CudaFunction {
        &self.functions[name]
    }

    /// `lv_sse_u8` on packed planes (stride = width): upload, launch, download.
    pub fn sse_u8(&self, a: &[u8], b: &[u8], w: usize, h: usize) -> Result<u64, String> {
        assert!(a.len() == w * h && b.len() == w * h);
        let s = &self.stream;
        let (da, db) = (
            s.clone_htod(a).map_err(e("upload"))?,
            s.clone_htod(b).map_err(e("upload"))?,
        );
        let mut total = s.alloc_zeros::<u64>(1).map_err(e("alloc"))?;
        let (wi, hi) = (w as i32, h as i32);
        let mut l = s.launch_builder(self.f("lv_sse_u8"));
        l.arg(&da)
            .arg(&db)
            .arg(&wi)
            .arg(&hi)
            .arg(&wi)
            .arg(&wi)
            .arg(&mut total);
        // SAFETY: the argument list matches lv_sse_u8's signature; buffers hold w*h samples.
        unsafe { l.launch(cfg(launch::sse(w, h))) }.map_err(e("lv_sse_u8"))?;
        Ok(s.clone_dtoh(&total).map_err(e("download"))?[0])
    }

    /// `lv_motion_row_sad` on packed planes, rows summed on the host.
    pub fn motion_sad(
        &self,
        prev: &[u16],
        cur: &[u16],
        w: usize,
        h: usize,
        bpc: u32,
    ) -> Result<u64, String> {
        assert!(prev.len() == w * h && cur.len() == w * h && w >= 3 && h >= 3);
        let s = &self.stream;
        let (dp, dc) = (
            s.clone_htod(prev).map_err(e("upload"))?,
            s.clone_htod(cur).map_err(e("upload"))?,
        );
        let mut rows = s.alloc_zeros::<u32>(h).map_err(e("alloc"))?;
        let (wi, hi, bi) = (w as i32, h as i32, bpc as i32);
        let mut l = s.launch_builder(self.f("lv_motion_row_sad"));
        l.arg(&dp)
            .arg(&dc)
            .arg(&wi)
            .arg(&hi)
            .arg(&wi)
            .arg(&bi)
            .arg(&mut rows);
        // SAFETY: as above; `rows` holds h counters.
        unsafe { l.launch(cfg(launch::per_sample(w, h, 1))) }.map_err(e("lv_motion_row_sad"))?;
        let rows = s.clone_dtoh(&rows).map_err(e("download"))?;
        Ok(rows.iter().map(|&r| r as u64).sum())
    }

    /// `lv_conv3x3` (see [`crate::host::conv3x3`]).
    #[allow(clippy::too_many_arguments)]
    pub fn conv3x3(
        &self,
        x: &[f32],
        wt: &[f32],
        bias: &[f32],
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
        relu: bool,
    ) -> Result<Vec<f32>, String> {
        self.conv3x3_add(x, wt, bias, None, cin, cout, h, w, relu)
    }

    /// libvmaf's integer VIF of packed 8-bit planes: per scale the four integer sums (see
    /// [`crate::host::vif_num_den`], which runs the same launches on the host).
    pub fn vif_sums_u8(
        &self,
        r: &[u8],
        d: &[u8],
        w: usize,
        h: usize,
        gain_limit: f64,
    ) -> Result<[[i64; 4]; 4], String> {
        assert!(r.len() == w * h && d.len() == w * h);
        let (r, d) = (Plane::new_u8(r, w, h, w), Plane::new_u8(d, w, h, w));
        self.vif_sums(&r, &d, gain_limit)
    }

    /// libvmaf's integer VIF of any two planes of one size and depth (8 to 16 bits, any
    /// strides): the rows are packed on upload, then the launches of [`Self::vif_sums_u8`].
    pub fn vif_sums(&self, r: &Plane, d: &Plane, gain_limit: f64) -> Result<[[i64; 4]; 4], String> {
        crate::refine::check_vif_planes(r, d)?;
        let (w, h, bpc) = (r.width, r.height, r.bpc);
        let s = &self.stream;
        let dt = match self.vif_table.get() {
            Some(t) => t,
            None => {
                let t = s
                    .clone_htod(&crate::refine::vif_table()[..])
                    .map_err(e("upload"))?;
                self.vif_table.get_or_init(|| t)
            }
        };
        // Scale 0 reads the planes as they come (8-bit samples, or 16-bit words of `bpc`
        // bits), packed.
        let upload = |p: &Plane| -> Result<Scale0, String> {
            Ok(match OwnedPlane::copy_from(p, None) {
                OwnedPlane::U8 { data, .. } => {
                    Scale0::U8(s.clone_htod(&data).map_err(e("upload"))?)
                }
                OwnedPlane::U16 { data, .. } => {
                    Scale0::U16(s.clone_htod(&data).map_err(e("upload"))?)
                }
            })
        };
        let (d0r, d0d) = (upload(r)?, upload(d)?);
        let first = match d0r {
            Scale0::U8(_) => ("lv_vif_stat_u8", "lv_vif_subsample_u8"),
            Scale0::U16(_) => ("lv_vif_stat_u16", "lv_vif_subsample_u16"),
        };
        let mut out = [[0i64; 4]; 4];
        let mut cur: Option<(
            cudarc::driver::CudaSlice<u16>,
            cudarc::driver::CudaSlice<u16>,
        )> = None;
        #[allow(clippy::needless_range_loop)] // the scale index drives sizes, kernels and `out`
        for sc in 0..4usize {
            let (ws, hs) = (w >> sc, h >> sc);
            let mut sums = s.alloc_zeros::<u64>(4).map_err(e("alloc"))?;
            let (wi, hi, si, sci, bpc) = (ws as i32, hs as i32, ws as i32, sc as i32, bpc as i32);
            {
                let name = if sc == 0 { first.0 } else { "lv_vif_stat_u16" };
                let mut l = s.launch_builder(self.f(name));
                match &cur {
                    None => {
                        d0r.push(&mut l);
                        d0d.push(&mut l);
                    }
                    Some((cr, cd)) => {
                        l.arg(cr).arg(cd);
                    }
                }
                l.arg(&wi)
                    .arg(&hi)
                    .arg(&si)
                    .arg(&sci)
                    .arg(&bpc)
                    .arg(dt)
                    .arg(&gain_limit)
                    .arg(&mut sums);
                // SAFETY: matches lv_vif_stat_*'s signature; the planes hold ws*hs samples.
                unsafe { l.launch(cfg(launch::per_sample(ws, hs, 1))) }.map_err(e(name))?;
            }
            out[sc] = s
                .clone_dtoh(&sums)
                .map_err(e("download"))?
                .try_into()
                .map(|v: [u64; 4]| v.map(|x| x as i64))
                .map_err(|_| "sums".to_string())?;
            if sc == 3 {
                break;
            }
            let (wo, ho) = (ws / 2, hs / 2);
            let mut nr = s.alloc_zeros::<u16>(wo * ho).map_err(e("alloc"))?;
            let mut nd = s.alloc_zeros::<u16>(wo * ho).map_err(e("alloc"))?;
            {
                let name = if sc == 0 {
                    first.1
                } else {
                    "lv_vif_subsample_u16"
                };
                let mut l = s.launch_builder(self.f(name));
                match &cur {
                    None => {
                        d0r.push(&mut l);
                        d0d.push(&mut l);
                    }
                    Some((cr, cd)) => {
                        l.arg(cr).arg(cd);
                    }
                }
                l.arg(&wi)
                    .arg(&hi)
                    .arg(&si)
                    .arg(&sci)
                    .arg(&bpc)
                    .arg(&mut nr)
                    .arg(&mut nd);
                // SAFETY: as above; the outputs hold wo*ho samples.
                unsafe { l.launch(cfg(launch::per_sample(wo, ho, 1))) }.map_err(e(name))?;
            }
            cur = Some((nr, nd));
        }
        Ok(out)
    }

    /// libvmaf's integer ADM of one frame: the `lv_adm_*` launches of
    /// [`crate::host::adm_sums`], with every band kept on the device; only the per-row sums
    /// come back.
    pub fn adm_row_sums(&self, r: &Plane, d: &Plane, plan: &AdmPlan) -> Result<AdmRowSums, String> {
        let (w, h, bpc) = (plan.width(), plan.height(), plan.bpc());
        let s = &self.stream;
        // Each plane's rows as they are (its stride kept): `plane_len` samples.
        let len = |p: &Plane| {
            assert!(p.width == w && p.height == h && p.bpc == bpc && p.stride >= w);
            (h - 1) * p.stride + w
        };
        let (lr, ld) = (len(r), len(d));
        enum Up {
            U8(CudaSlice<u8>, CudaSlice<u8>),
            U16(CudaSlice<u16>, CudaSlice<u16>),
        }
        let planes = match (r.samples, d.samples) {
            (Samples::U8(a), Samples::U8(b)) => Up::U8(
                s.clone_htod(&a[..lr]).map_err(e("upload"))?,
                s.clone_htod(&b[..ld]).map_err(e("upload"))?,
            ),
            (Samples::U16(a), Samples::U16(b)) => Up::U16(
                s.clone_htod(&a[..lr]).map_err(e("upload"))?,
                s.clone_htod(&b[..ld]).map_err(e("upload"))?,
            ),
            _ => panic!("reference and distorted samples must share a type"),
        };
        let (rs, ds, bpci) = (r.stride as i32, d.stride as i32, bpc as i32);
        let gain = plan.options().enhn_gain_limit;
        let cos_sq = plan.cos_1deg_sq();
        let mut out = AdmRowSums::default();
        let mut bands: Option<CudaSlice<i32>> = None;
        for sc in 0..4usize {
            let c = plan.scale(sc);
            let (wi, hi, wo, ho) = (c.w_in, c.h_in, c.w, c.h);
            let (wii, hii, woi, hoi, sci) = (wi as i32, hi as i32, wo as i32, ho as i32, sc as i32);
            let mut tmp = s.alloc_zeros::<i32>(4 * ho * wi).map_err(e("alloc"))?;
            let dims = cfg(launch::per_sample(wi, ho, 2));
            {
                let name = match (&bands, &planes) {
                    (Some(_), _) => "lv_adm_dwt_v_s",
                    (None, Up::U8(..)) => "lv_adm_dwt_v_u8",
                    (None, Up::U16(..)) => "lv_adm_dwt_v_u16",
                };
                let mut l = s.launch_builder(self.f(name));
                match (&bands, &planes) {
                    (Some(b), _) => l.arg(b).arg(&wii).arg(&hii).arg(&sci),
                    (None, Up::U8(a, b)) => l
                        .arg(a)
                        .arg(&rs)
                        .arg(b)
                        .arg(&ds)
                        .arg(&wii)
                        .arg(&hii)
                        .arg(&bpci),
                    (None, Up::U16(a, b)) => l
                        .arg(a)
                        .arg(&rs)
                        .arg(b)
                        .arg(&ds)
                        .arg(&wii)
                        .arg(&hii)
                        .arg(&bpci),
                };
                l.arg(&mut tmp);
                // SAFETY: matches lv_adm_dwt_v_*'s signature; the planes hold their rows, the
                // previous bands 2 x 4 x wi x hi values, `tmp` 2 x 2 x ho x wi.
                unsafe { l.launch(dims) }.map_err(e(name))?;
            }
            let mut next = s.alloc_zeros::<i32>(8 * wo * ho).map_err(e("alloc"))?;
            {
                let mut l = s.launch_builder(self.f("lv_adm_dwt_h"));
                l.arg(&tmp).arg(&wii).arg(&hoi).arg(&sci).arg(&mut next);
                // SAFETY: matches lv_adm_dwt_h; `tmp` 2 x 2 x ho x wi, `next` 2 x 4 x wo x ho.
                unsafe { l.launch(cfg(launch::per_sample(wo, ho, 2))) }
                    .map_err(e("lv_adm_dwt_h"))?;
            }
            let rf = c.rf_fixed;
            let [l0, r0, t0, b0] = c.work.map(|v| v as i32);
            let mut mask = s.alloc_zeros::<i32>(5 * wo * ho).map_err(e("alloc"))?;
            {
                let mut l = s.launch_builder(self.f("lv_adm_decouple"));
                l.arg(&next).arg(&woi).arg(&hoi);
                l.arg(&l0).arg(&r0).arg(&t0).arg(&b0).arg(&sci);
                l.arg(&gain).arg(&cos_sq);
                l.arg(&rf[0]).arg(&rf[1]).arg(&rf[2]).arg(&mut mask);
                let dims = launch::per_sample((r0 - l0) as usize, (b0 - t0) as usize, 1);
                // SAFETY: matches lv_adm_decouple; the work region lies inside the bands.
                unsafe { l.launch(cfg(dims)) }.map_err(e("lv_adm_decouple"))?;
            }
            let [pl, pr, pt, pb] = c.pool.map(|v| v as i32);
            let rows = (pb - pt) as usize;
            let dims = cfg(launch::per_sample((pr - pl) as usize, rows, 1));
            let mut num = s.alloc_zeros::<u64>(3 * rows).map_err(e("alloc"))?;
            let mut den = s.alloc_zeros::<u64>(3 * rows).map_err(e("alloc"))?;
            let cub = c.cm_cube_shift.map(|v| v as i32);
            {
                let mut l = s.launch_builder(self.f("lv_adm_cm"));
                l.arg(&mask).arg(&woi).arg(&hoi);
                l.arg(&pl).arg(&pr).arg(&pt).arg(&pb).arg(&sci);
                l.arg(&rf[0]).arg(&rf[1]).arg(&rf[2]);
                l.arg(&cub[0]).arg(&cub[1]).arg(&cub[2]).arg(&mut num);
                // SAFETY: matches lv_adm_cm; the pooling region's neighbourhood lies inside the
                // work region; `num` holds 3 counters per pooled row.
                unsafe { l.launch(dims) }.map_err(e("lv_adm_cm"))?;
            }
            let (sq, shift_cub) = (c.den_square_shift as i32, c.den_cube_shift as i32);
            {
                let mut l = s.launch_builder(self.f("lv_adm_den"));
                l.arg(&next).arg(&woi).arg(&hoi);
                l.arg(&pl).arg(&pr).arg(&pt).arg(&pb).arg(&sci);
                l.arg(&sq).arg(&shift_cub).arg(&mut den);
                // SAFETY: matches lv_adm_den; as above.
                unsafe { l.launch(dims) }.map_err(e("lv_adm_den"))?;
            }
            let num = s.clone_dtoh(&num).map_err(e("download"))?;
            let den = s.clone_dtoh(&den).map_err(e("download"))?;
            out.push_scale(sc, &num, &den);
            bands = Some(next);
        }
        Ok(out)
    }

    /// The integer resampler on a packed 8-bit plane with `r`'s tables (see
    /// [`crate::host::resample`]).
    pub fn resample_u8(
        &self,
        src: &[u8],
        r: &lv_image::resample::Resampler,
    ) -> Result<Vec<u8>, String> {
        let (hf, vf) = r.taps();
        let (in_w, in_h, out_w, out_h) = (hf.in_len(), vf.in_len(), hf.out_len(), vf.out_len());
        assert_eq!(src.len(), in_w * in_h);
        let (h, v) = (
            crate::host::AxisTables::of(hf),
            crate::host::AxisTables::of(vf),
        );
        let ((hs, hw), (vs, vw)) = ((h.starts, h.weights), (v.starts, v.weights));
        let s = &self.stream;
        let up = |v: &[i32]| s.clone_htod(v).map_err(e("upload"));
        let up16 = |v: &[i16]| s.clone_htod(v).map_err(e("upload"));
        let (dhs, dhw, dvs, dvw) = (up(&hs)?, up16(&hw)?, up(&vs)?, up16(&vw)?);
        let dsrc = s.clone_htod(src).map_err(e("upload"))?;
        let mut tmp = s.alloc_zeros::<i16>(in_h * out_w).map_err(e("alloc"))?;
        let mut dst = s.alloc_zeros::<u8>(out_w * out_h).map_err(e("alloc"))?;
        let (st, ih, ht, ow, hsh) = (
            in_w as i32,
            in_h as i32,
            hf.taps() as i32,
            out_w as i32,
            7i32,
        );
        let mut l = s.launch_builder(self.f("lv_resample_h_u8"));
        l.arg(&dsrc)
            .arg(&st)
            .arg(&ih)
            .arg(&dhs)
            .arg(&dhw)
            .arg(&ht)
            .arg(&ow)
            .arg(&hsh)
            .arg(&mut tmp);
        // SAFETY: matches lv_resample_h_u8; the tables keep every window inside the source.
        unsafe { l.launch(cfg(launch::per_sample(out_w, in_h, 1))) }
            .map_err(e("lv_resample_h_u8"))?;
        let (oh, vt, vsh) = (out_h as i32, vf.taps() as i32, 19i32);
        let mut l = s.launch_builder(self.f("lv_resample_v_u8"));
        l.arg(&tmp)
            .arg(&ow)
            .arg(&oh)
            .arg(&dvs)
            .arg(&dvw)
            .arg(&vt)
            .arg(&vsh)
            .arg(&mut dst)
            .arg(&ow);
        // SAFETY: matches lv_resample_v_u8; windows inside tmp's rows; dst holds out_w*out_h.
        unsafe { l.launch(cfg(launch::per_sample(out_w, out_h, 1))) }
            .map_err(e("lv_resample_v_u8"))?;
        s.clone_dtoh(&dst).map_err(e("download"))
    }

    /// `lv_ssim_map` on packed `f32` planes (8-bit range), the map summed on the host in the
    /// CPU path's order (see [`crate::host::ssim_means`]).
    pub fn ssim_means(&self, r: &[f32], d: &[f32], w: usize, h: usize) -> Result<[f32; 4], String> {
        assert!(w >= 11 && h >= 11 && r.len() == w * h && d.len() == w * h);
        let (dw, dh) = (w - 10, h - 10);
        let n = dw * dh;
        let s = &self.stream;
        let (dr, dd) = (
            s.clone_htod(r).map_err(e("upload"))?,
            s.clone_htod(d).map_err(e("upload"))?,
        );
        let mut map = s.alloc_zeros::<f64>(4 * n).map_err(e("alloc"))?;
        let (wi, hi) = (w as i32, h as i32);
        let mut l = s.launch_builder(self.f("lv_ssim_map"));
        l.arg(&dr).arg(&dd).arg(&wi).arg(&hi).arg(&mut map);
        // SAFETY: matches lv_ssim_map's signature; the map holds 4 x dw x dh.
        unsafe { l.launch(cfg(launch::per_sample(dw, dh, 1))) }.map_err(e("lv_ssim_map"))?;
        let map = s.clone_dtoh(&map).map_err(e("download"))?;
        Ok(std::array::from_fn(|k| {
            (map[k * n..(k + 1) * n].iter().sum::<f64>() / n as f64) as f32
        }))
    }

    /// `lv_conv3x3` with an optional `addend` (see [`crate::host::conv3x3`]).
    #[allow(clippy::too_many_arguments)]
    pub fn conv3x3_add(
        &self,
        x: &[f32],
        wt: &[f32],
        bias: &[f32],
        addend: Option<&[f32]>,
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
        relu: bool,
    ) -> Result<Vec<f32>, String> {
        assert!(x.len() == cin * h * w && wt.len() == cout * cin * 9 && bias.len() == cout);
        let s = &self.stream;
        let dx = s.clone_htod(x).map_err(e("upload"))?;
        let dw = s.clone_htod(wt).map_err(e("upload"))?;
        let db = s.clone_htod(bias).map_err(e("upload"))?;
        let mut dy = s.alloc_zeros::<f32>(cout * h * w).map_err(e("alloc"))?;
        let (ci, co, hi, wi, ri) = (cin as i32, cout as i32, h as i32, w as i32, relu as i32);
        let dims = cfg(launch::per_sample(w, h, cout));
        let f = self.f("lv_conv3x3");
        match addend {
            Some(a) => {
                assert_eq!(a.len(), cout * h * w);
                let da = s.clone_htod(a).map_err(e("upload"))?;
                let mut l = s.launch_builder(f);
                l.arg(&dx).arg(&dw).arg(&db).arg(&da).arg(&mut dy);
                l.arg(&ci).arg(&co).arg(&hi).arg(&wi).arg(&ri);
                // SAFETY: matches lv_conv3x3's signature; sizes checked above.
                unsafe { l.launch(dims) }.map_err(e("lv_conv3x3"))?;
            }
            None => {
                let null: u64 = 0;
                let mut l = s.launch_builder(f);
                l.arg(&dx).arg(&dw).arg(&db).arg(&null).arg(&mut dy);
                l.arg(&ci).arg(&co).arg(&hi).arg(&wi).arg(&ri);
                // SAFETY: as above, with a null addend.
                unsafe { l.launch(dims) }.map_err(e("lv_conv3x3"))?;
            }
        }
        s.clone_dtoh(&dy).map_err(e("download"))
    }

    /// A 3x3 convolution's backward pass (`lv_conv3x3_backward_data`, `_weight`,
    /// `lv_conv_backward_bias`, as [`crate::host::conv3x3_backward`]): returns dL/dx and adds
    /// the weight and bias gradients to `dw`, `db`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv3x3_backward(
        &self,
        x: &[f32],
        wt: &[f32],
        dy: &[f32],
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
        dw: &mut [f32],
        db: &mut [f32],
    ) -> Result<Vec<f32>, String> {
        assert!(x.len() == cin * h * w && dy.len() == cout * h * w && wt.len() == cout * cin * 9);
        assert!(dw.len() == wt.len() && db.len() == cout);
        let s = &self.stream;
        let (gx, gwt, gdy) = (
            s.clone_htod(x).map_err(e("upload"))?,
            s.clone_htod(wt).map_err(e("upload"))?,
            s.clone_htod(dy).map_err(e("upload"))?,
        );
        let mut gdx = s.alloc_zeros::<f32>(cin * h * w).map_err(e("alloc"))?;
        let mut gdw = s.clone_htod(&*dw).map_err(e("upload"))?;
        let mut gdb = s.clone_htod(&*db).map_err(e("upload"))?;
        let (ci, co, hi, wi, hw) = (cin as i32, cout as i32, h as i32, w as i32, (h * w) as i32);
        let name = "lv_conv3x3_backward_data";
        let mut l = s.launch_builder(self.f(name));
        l.arg(&gwt).arg(&gdy).arg(&mut gdx);
        l.arg(&ci).arg(&co).arg(&hi).arg(&wi);
        // SAFETY: matches the kernel's signature; sizes checked above.
        unsafe { l.launch(cfg(launch::per_sample(w, h, cin))) }.map_err(e(name))?;
        let name = "lv_conv3x3_backward_weight";
        let mut l = s.launch_builder(self.f(name));
        l.arg(&gx).arg(&gdy).arg(&mut gdw);
        l.arg(&ci).arg(&co).arg(&hi).arg(&wi);
        // SAFETY: as above.
        unsafe { l.launch(cfg(launch::weights(cin, cout))) }.map_err(e(name))?;
        let name = "lv_conv_backward_bias";
        let mut l = s.launch_builder(self.f(name));
        l.arg(&gdy).arg(&mut gdb).arg(&co).arg(&hw);
        // SAFETY: as above.
        unsafe { l.launch(cfg(launch::linear(cout))) }.map_err(e(name))?;
        dw.copy_from_slice(&s.clone_dtoh(&gdw).map_err(e("download"))?);
        db.copy_from_slice(&s.clone_dtoh(&gdb).map_err(e("download"))?);
        s.clone_dtoh(&gdx).map_err(e("download"))
    }

    /// `lv_adam_step` (see [`crate::host::adam_update`]); the slices change only on success.
    #[allow(clippy::too_many_arguments)]
    pub fn adam_update(
        &self,
        params: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        beta1: f32,
        beta2: f32,
        step: f32,
        eps: f32,
    ) -> Result<(), String> {
        let n = params.len();
        assert!(grad.len() == n && m.len() == n && v.len() == n);
        let s = &self.stream;
        let mut gp = s.clone_htod(&*params).map_err(e("upload"))?;
        let gg = s.clone_htod(grad).map_err(e("upload"))?;
        let mut gm = s.clone_htod(&*m).map_err(e("upload"))?;
        let mut gv = s.clone_htod(&*v).map_err(e("upload"))?;
        let ni = n as i32;
        let mut l = s.launch_builder(self.f("lv_adam_step"));
        l.arg(&mut gp).arg(&gg).arg(&mut gm).arg(&mut gv).arg(&ni);
        l.arg(&beta1).arg(&beta2).arg(&step).arg(&eps);
        // SAFETY: matches lv_adam_step's signature; all four buffers hold n values.
        unsafe { l.launch(cfg(launch::linear(n))) }.map_err(e("lv_adam_step"))?;
        let (p2, m2, v2) = (
            s.clone_dtoh(&gp).map_err(e("download"))?,
            s.clone_dtoh(&gm).map_err(e("download"))?,
            s.clone_dtoh(&gv).map_err(e("download"))?,
        );
        params.copy_from_slice(&p2);
        m.copy_from_slice(&m2);
        v.copy_from_slice(&v2);
        Ok(())
    }

    /// `lv_relu_backward` (see [`crate::host::relu_backward`]).
    pub fn relu_backward(&self, act: &[f32], g: &mut [f32]) -> Result<(), String> {
        assert_eq!(act.len(), g.len());
        let s = &self.stream;
        let ga = s.clone_htod(act).map_err(e("upload"))?;
        let mut gg = s.clone_htod(&*g).map_err(e("upload"))?;
        let n = g.len() as i32;
        let mut l = s.launch_builder(self.f("lv_relu_backward"));
        l.arg(&ga).arg(&mut gg).arg(&n);
        // SAFETY: matches the kernel's signature; both buffers hold n values.
        unsafe { l.launch(cfg(launch::linear(g.len()))) }.map_err(e("lv_relu_backward"))?;
        g.copy_from_slice(&s.clone_dtoh(&gg).map_err(e("download"))?);
        Ok(())
    }

    /// `lv_space_to_depth2` (see [`crate::host::space_to_depth2`]).
    pub fn s2d(&self, x: &[f32], h: usize, w: usize) -> Result<Vec<f32>, String> {
        assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w);
        let s = &self.stream;
        let dx = s.clone_htod(x).map_err(e("upload"))?;
        let mut dy = s.alloc_zeros::<f32>(h * w).map_err(e("alloc"))?;
        let (hi, wi) = (h as i32, w as i32);
        let mut l = s.launch_builder(self.f("lv_space_to_depth2"));
        l.arg(&dx).arg(&mut dy).arg(&hi).arg(&wi);
        // SAFETY: matches lv_space_to_depth2; both buffers hold h*w values.
        unsafe { l.launch(cfg(launch::per_sample(w / 2, h / 2, 1))) }
            .map_err(e("lv_space_to_depth2"))?;
        s.clone_dtoh(&dy).map_err(e("download"))
    }

    /// `lv_depth_to_space2_add` (see [`crate::host::depth_to_space2_add`]).
    pub fn d2s_add(&self, x: &[f32], skip: &[f32], h: usize, w: usize) -> Result<Vec<f32>, String> {
        assert!(
            h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w && skip.len() == h * w
        );
        let s = &self.stream;
        let dx = s.clone_htod(x).map_err(e("upload"))?;
        let ds = s.clone_htod(skip).map_err(e("upload"))?;
        let mut dy = s.alloc_zeros::<f32>(h * w).map_err(e("alloc"))?;
        let (hi, wi) = (h as i32, w as i32);
        let mut l = s.launch_builder(self.f("lv_depth_to_space2_add"));
        l.arg(&dx).arg(&ds).arg(&mut dy).arg(&hi).arg(&wi);
        // SAFETY: matches lv_depth_to_space2_add; all buffers hold h*w values.
        unsafe { l.launch(cfg(launch::per_sample(w, h, 1))) }
            .map_err(e("lv_depth_to_space2_add"))?;
        s.clone_dtoh(&dy).map_err(e("download"))
    }
}
