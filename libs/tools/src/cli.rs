//! What the tools' hand-written command lines share (a dozen flags each do not justify an
//! argument-parsing dependency in the workspace), and the set-up every tool run starts with.

/// A comma-separated list; empty items dropped.
pub fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// The value `v` given to `flag`, parsed.
pub fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: bad value {v:?}"))
}

/// The command line as run, under the tool's own name (not the path it was started by), for
/// the summaries that record how a result was made.
pub fn command_line(tool: &str) -> String {
    std::iter::once(tool.to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Most `--channels` (and `--pre-channels`, `--expand`) a trainer accepts: the shipped models
/// use 8 to 32, and the weights and activations grow with its square.
pub const MAX_CHANNELS: usize = 256;
/// Most hidden layers (`--layers`, `--pre-layers`) a trainer accepts.
pub const MAX_LAYERS: usize = 64;
/// Most `--steps` a trainer accepts.
pub const MAX_STEPS: u64 = 1_000_000_000;
/// Most `--threads`: more is an error (0 asks for one per core).
pub const MAX_THREADS: usize = 256;

/// `v`, given to `flag`, in `lo..=hi` (NaN never is), or an error naming the range.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    flag: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), String> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be in {lo}..={hi}"))
    }
}

/// `v`, given to `flag`, at least `lo`, or an error.
pub fn at_least<T: PartialOrd + std::fmt::Display>(flag: &str, v: T, lo: T) -> Result<(), String> {
    if v >= lo {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be at least {lo}"))
    }
}

/// `v`, given to `flag`, a finite number in `(0, hi]`, or an error.
pub fn positive(flag: &str, v: f64, hi: f64) -> Result<(), String> {
    if v > 0.0 && v <= hi {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be a number > 0 and <= {hi}"))
    }
}

/// A `--threads` value: 0 (one per core) up to [`MAX_THREADS`].
pub fn check_threads(threads: usize) -> Result<(), String> {
    if threads > MAX_THREADS {
        return Err(format!(
            "--threads {threads}: at most {MAX_THREADS} (0: one per core)"
        ));
    }
    Ok(())
}

/// Sizes rayon's global pool; 0 keeps rayon's default (one thread per core). More than
/// [`MAX_THREADS`] is an error.
pub fn set_threads(threads: usize) -> Result<(), String> {
    check_threads(threads)?;
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Cosine decay from `lr` to `lr / 20` over `steps`: the late small steps settle the weights.
pub fn cosine_lr(lr: f32, steps: u64, step: u64) -> f32 {
    let t = (step as f64 / steps.max(1) as f64).min(1.0);
    let lo = lr as f64 / 20.0;
    (lo + (lr as f64 - lo) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
}

/// A flag the tool does not define: `-h`/`--help` prints `usage` and ends the run, anything
/// else is an error that shows it.
pub fn other_flag(flag: &str, usage: &str) -> Result<(), String> {
    if flag == "-h" || flag == "--help" {
        println!("{usage}");
        std::process::exit(0);
    }
    Err(format!("unknown argument {flag:?}\n{usage}"))
}

/// The trainers' two required paths, tiles in and model out.
pub fn require_data_out(
    data: &std::path::Path,
    out: &std::path::Path,
    usage: &str,
) -> Result<(), String> {
    if data.as_os_str().is_empty() || out.as_os_str().is_empty() {
        return Err(format!("--data and --out are required\n{usage}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks_refuse_nan_and_out_of_range() {
        assert!(in_range("--channels", 0usize, 1, MAX_CHANNELS).is_err());
        assert!(in_range("--channels", 100_000usize, 1, MAX_CHANNELS).is_err());
        assert!(in_range("--channels", 16usize, 1, MAX_CHANNELS).is_ok());
        assert!(in_range("--share", f64::NAN, 0.0, 1.0).is_err());
        assert!(at_least("--val-every", 0u64, 1).is_err());
        for bad in [f64::NAN, -1.0, 0.0, f64::INFINITY, 2.0] {
            assert!(positive("--lr", bad, 1.0).is_err(), "{bad}");
        }
        assert!(positive("--lr", 1e-3, 1.0).is_ok());
        assert!(check_threads(MAX_THREADS + 1).is_err());
        assert!(check_threads(0).is_ok());
    }
}
