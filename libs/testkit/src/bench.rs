//! What the speed benches share that is not about the oracle: their knobs from the environment
//! and frames that loop without copies.

use std::sync::Arc;

/// `$k` as a number, else `default` (unset or not a number).
pub fn env_usize(k: &str, default: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Frame bytes shared between the buffers made from them, so pushing a looped frame (e.g.
/// `gst::Buffer::from_slice`) does not copy it.
pub struct SharedBytes(pub Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A launched bench pipeline: its `appsrc` named `src`, and when each buffer reached the
/// `sink` element's sink pad, so timings can start at the first frame out and leave the
/// element's start-up (model loading, graph optimisation for the size) uncounted.
#[cfg(feature = "gst")]
pub struct Timed {
    pub pipeline: gst::Pipeline,
    pub src: gst::Element,
    pub arrivals: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

/// Parses `desc` (which names an `appsrc` `src` and a sink `sink`), records the arrivals at
/// `sink` (room for `frames`) and sets it playing; errors name `desc` or `what`.
#[cfg(feature = "gst")]
pub fn launch_timed(desc: &str, what: &str, frames: usize) -> Result<Timed, String> {
    use gst::prelude::*;
    let pipeline = gst::parse::launch(desc)
        .map_err(|e| format!("{desc}: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| format!("{desc}: not a pipeline"))?;
    let src = pipeline.by_name("src").ok_or(format!("{desc}: no src"))?;
    let sink = pipeline.by_name("sink").ok_or(format!("{desc}: no sink"))?;
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::with_capacity(frames)));
    let st = arrivals.clone();
    sink.static_pad("sink")
        .ok_or(format!("{desc}: sink has no sink pad"))?
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            st.lock().unwrap().push(std::time::Instant::now());
            gst::PadProbeReturn::Ok
        });
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    Ok(Timed {
        pipeline,
        src,
        arrivals,
    })
}
