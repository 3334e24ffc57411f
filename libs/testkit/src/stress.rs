//! A stress run as a demanding application drives an element: random state changes, flushing
//! seeks and property changes on a running pipeline, each bounded in time, then a last run
//! to the end of the stream. A hang (a state change or seek that does not complete), an
//! error on the bus or a stream that never ends fails the run with the seed and the actions
//! so far, so that a failure can be replayed.

use gst::glib;
use gst::prelude::*;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// What to stress: a `gst-launch-1.0` description with a finite source and an element named
/// `element`, and the values each property may be set to while the pipeline runs.
#[derive(Clone)]
pub struct Case {
    pub pipeline: String,
    pub element: String,
    pub properties: Vec<(&'static str, Vec<glib::Value>)>,
    /// Random actions before the final run.
    pub actions: usize,
    pub seed: u64,
    /// Longest wait for one state change or seek, and for the final run to reach EOS.
    pub step_bound: Duration,
    pub final_bound: Duration,
}

impl Case {
    /// 40 random actions, 10 s per step, 60 s for the final run to EOS, seed 1.
    pub fn new(
        pipeline: impl Into<String>,
        element: &str,
        properties: Vec<(&'static str, Vec<glib::Value>)>,
    ) -> Case {
        Case {
            pipeline: pipeline.into(),
            element: element.into(),
            properties,
            actions: 40,
            seed: 1,
            step_bound: Duration::from_secs(10),
            final_bound: Duration::from_secs(60),
        }
    }
}

/// Runs `case` with seeds 1..=`seeds` and prints what each did; panics with the seed and the
/// action log at the first failure.
pub fn run_seeds(case: Case, seeds: u64) {
    for seed in 1..=seeds {
        let case = Case {
            seed,
            ..case.clone()
        };
        let report = run(&case).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "seed {seed}: {} state changes, {} seeks, {} property changes, {} warnings",
            report.state_changes,
            report.seeks,
            report.property_changes,
            report.warnings.len()
        );
    }
}

/// What happened, for the test's assertions and its log.
#[derive(Debug, Default)]
pub struct Report {
    pub log: Vec<String>,
    pub state_changes: usize,
    pub seeks: usize,
    pub property_changes: usize,
    /// Warnings posted on the bus (allowed; errors are not).
    pub warnings: Vec<String>,
}

const STATES: [gst::State; 4] = [
    gst::State::Null,
    gst::State::Ready,
    gst::State::Paused,
    gst::State::Playing,
];

fn drain(bus: &gst::Bus, report: &mut Report) -> Result<(), String> {
    while let Some(msg) = bus.pop() {
        match msg.view() {
            gst::MessageView::Error(e) => {
                return Err(format!("error on the bus: {} ({:?})", e.error(), e.debug()))
            }
            gst::MessageView::Warning(w) => report.warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    Ok(())
}

/// Waits for a state change (or the preroll after a seek) to complete within `bound`.
fn settle(pipeline: &gst::Pipeline, bound: Duration, what: &str) -> Result<(), String> {
    let (res, cur, pending) =
        pipeline.state(gst::ClockTime::from_nseconds(bound.as_nanos() as u64));
    match res {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "{what}: state change failed (current {cur:?}, pending {pending:?})"
        )),
    }
    .and_then(|_| {
        if pending != gst::State::VoidPending && res == Ok(gst::StateChangeSuccess::Async) {
            Err(format!(
                "{what}: not done after {bound:?} (current {cur:?}, pending {pending:?})"
            ))
        } else {
            Ok(())
        }
    })
}

/// Runs the case; `Err` says what hung or failed, with the actions that led to it.
pub fn run(case: &Case) -> Result<Report, String> {
    let pipeline = gst::parse::launch(&case.pipeline)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let element = pipeline
        .by_name(&case.element)
        .ok_or_else(|| format!("no element named {}", case.element))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut rng = rand_pcg::Pcg64::seed_from_u64(case.seed);
    let mut report = Report::default();
    let fail = |report: &Report, why: String| {
        format!(
            "seed {}: {why}\nactions:\n  {}",
            case.seed,
            report.log.join("\n  ")
        )
    };
    let mut state = gst::State::Null;
    for _ in 0..case.actions {
        match rng.random_range(0..3) {
            0 => {
                let to = STATES[rng.random_range(0..STATES.len())];
                report.log.push(format!("set_state {to:?}"));
                report.state_changes += 1;
                // set_state blocks for a downward change until the streaming threads stop:
                // bounded like the seek.
                let p = pipeline.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = tx.send(p.set_state(to).is_ok());
                });
                let Ok(ok) = rx.recv_timeout(case.step_bound) else {
                    return Err(fail(
                        &report,
                        format!("set_state {to:?} blocked for {:?}", case.step_bound),
                    ));
                };
                if !ok {
                    drain(&bus, &mut report).map_err(|e| fail(&report, e))?;
                    return Err(fail(&report, format!("set_state {to:?} failed")));
                }
                settle(&pipeline, case.step_bound, &format!("set_state {to:?}"))
                    .map_err(|e| fail(&report, e))?;
                state = to;
            }
            1 if state >= gst::State::Paused => {
                let pos = gst::ClockTime::from_mseconds(rng.random_range(0..2000));
                report.log.push(format!("flushing seek to {pos}"));
                report.seeks += 1;
                // A seek past the end is not an error: the stream just ends. The seek call
                // itself blocks while the flush goes through the pipeline, so it runs on a
                // thread of its own and a hang there is reported instead of hanging the test.
                let p = pipeline.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = p.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, pos);
                    let _ = tx.send(());
                });
                if rx.recv_timeout(case.step_bound).is_err() {
                    return Err(fail(
                        &report,
                        format!("seek to {pos} blocked for {:?}", case.step_bound),
                    ));
                }
                settle(&pipeline, case.step_bound, &format!("seek to {pos}"))
                    .map_err(|e| fail(&report, e))?;
            }
            _ if !case.properties.is_empty() => {
                let (name, values) = &case.properties[rng.random_range(0..case.properties.len())];
                let v = &values[rng.random_range(0..values.len())];
                report.log.push(format!("{name} = {v:?}"));
                report.property_changes += 1;
                element.set_property_from_value(name, v);
            }
            _ => {}
        }
        drain(&bus, &mut report).map_err(|e| fail(&report, e))?;
    }
    // The final run: from the start to the end of the stream, whatever came before.
    report.log.push("final run".into());
    let to_end = (|| {
        pipeline
            .set_state(gst::State::Ready)
            .map_err(|_| "set_state Ready failed".to_string())?;
        settle(&pipeline, case.step_bound, "final Ready")?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| "set_state Playing failed".to_string())?;
        let deadline = Instant::now() + case.final_bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no EOS within {:?}", case.final_bound));
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
            else {
                continue;
            };
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(e) => {
                    return Err(format!("error on the bus: {} ({:?})", e.error(), e.debug()))
                }
                _ => {}
            }
        }
    })();
    let stopped = pipeline.set_state(gst::State::Null);
    to_end.map_err(|e| fail(&report, e))?;
    stopped.map_err(|_| fail(&report, "set_state Null failed".into()))?;
    Ok(report)
}
