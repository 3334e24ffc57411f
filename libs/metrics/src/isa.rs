//! Run-time choice of instruction set for the integer features' kernels (ADM, motion): one
//! source per kernel, compiled as a portable copy and as AVX2 and AVX-512 copies, so every
//! path computes the same integer arithmetic and stays bit-exact with libvmaf.

/// Defines `$name(isa, args..)` running the `#[inline(always)]` kernel `$imp` as a
/// portable copy or as a copy compiled for AVX2 or AVX-512, chosen at run time.
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($p:ident: $t:ty),* $(,)?) $(-> $r:ty)? = $imp:path;) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        fn $name(isa: $crate::isa::Isa, $($p: $t),*) $(-> $r)? {
            #[allow(clippy::too_many_arguments)]
            #[inline(never)]
            fn portable($($p: $t),*) $(-> $r)? {
                $imp($($p),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx2")]
            #[inline(never)]
            fn avx2($($p: $t),*) $(-> $r)? {
                $imp($($p),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
            #[inline(never)]
            fn avx512($($p: $t),*) $(-> $r)? {
                $imp($($p),*)
            }
            match isa {
                // SAFETY: `Isa::detect` only reports instruction sets the CPU has.
                #[cfg(target_arch = "x86_64")]
                $crate::isa::Isa::Avx512 => unsafe { avx512($($p),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::isa::Isa::Avx2 => unsafe { avx2($($p),*) },
                _ => portable($($p),*),
            }
        }
    };
}

/// The instruction set the kernels run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum Isa {
    Portable,
    Avx2,
    Avx512,
}

impl Isa {
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let cap = env_cap();
            if cap >= 2
                && has!("avx512f")
                && has!("avx512bw")
                && has!("avx512dq")
                && has!("avx512vl")
            {
                return Isa::Avx512;
            }
            if cap >= 1 && has!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

/// The widest kernel path allowed by `LV_METRICS_ISA` (`portable` 0, `avx2` 1, `avx512` or
/// unset 2): benchmarks time the narrower paths on a CPU that has the wider ones, as a
/// machine without AVX2 or AVX-512 would run them. Never widens past what the CPU reports.
pub(crate) fn env_cap() -> u8 {
    match std::env::var("LV_METRICS_ISA").as_deref().map(str::trim) {
        Ok(v) if v.eq_ignore_ascii_case("portable") => 0,
        Ok(v) if v.eq_ignore_ascii_case("avx2") => 1,
        _ => 2,
    }
}

pub(crate) use multiversion;
