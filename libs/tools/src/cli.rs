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

/// Sizes rayon's global pool; 0 keeps rayon's default (one thread per core).
pub fn set_threads(threads: usize) -> Result<(), String> {
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
