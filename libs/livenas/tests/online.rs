// SPDX-License-Identifier: MPL-2.0
//! `lv_livenas::online`: a non-live stream's epochs run through the worker and are reported,
//! and a dead worker (a panic in it or in its host) ends every wait with an error instead of
//! a hang.

use lv_livenas::online::{
    EpochReport, Fault, Frame, Host, Interrupted, OnlineConfig, OnlineTrainer, PatchInput,
};
use lv_livenas::trainer::TrainerConfig;
use lv_train::{RefineConfig, RefineNet};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EPOCH_NS: u64 = 100_000_000;
const FRAME_NS: u64 = 33_333_333;
const BOUND: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Seen {
    published: usize,
    reports: Vec<EpochReport>,
}

struct TestHost {
    seen: Arc<Mutex<Seen>>,
    panic_in_epoch: bool,
}

impl Host for TestHost {
    fn publish(
        &mut self,
        onnx: Vec<u8>,
        _filter: Option<std::sync::Arc<lv_livenas::postfilter::Filter>>,
        out_size: Option<(usize, usize)>,
    ) {
        assert!(!onnx.is_empty());
        assert_eq!(out_size, Some((192, 192)));
        self.seen.lock().unwrap().published += 1;
    }

    fn epoch(&mut self, report: &EpochReport) {
        if self.panic_in_epoch {
            panic!("host failed");
        }
        self.seen.lock().unwrap().reports.push(*report);
    }
}

fn net() -> RefineNet {
    RefineNet::new(
        RefineConfig {
            channels: 8,
            hidden_layers: 1,
        },
        3,
    )
}

fn config(fault: Option<Fault>) -> OnlineConfig {
    OnlineConfig {
        trainer: TrainerConfig {
            batch_size: 2,
            ..TrainerConfig::default()
        },
        epoch_ns: EPOCH_NS,
        steps_per_second: 40,
        fault,
        ..OnlineConfig::default()
    }
}

/// A 96x96 frame and its 192x192 patch (one 96-pixel cell), both a smooth gradient.
fn frame_and_patch(i: u64) -> (Frame, PatchInput) {
    let lr: Vec<u8> = (0..96 * 96)
        .map(|k| ((k % 96) * 2 + (k / 96) + i as usize) as u8)
        .collect();
    let hr: Vec<u8> = (0..96 * 96)
        .map(|k| ((k % 96) + (k / 96) * 2) as u8)
        .collect();
    let pts = i * FRAME_NS;
    (
        Frame {
            pts,
            w: 96,
            h: 96,
            luma: Arc::new(lr),
        },
        PatchInput {
            pts: Some(pts),
            frame_w: 192,
            frame_h: 192,
            size: 96,
            patches: vec![((i % 2) as usize, 0, hr)],
            bad_payloads: 0,
            over_budget: 0,
        },
    )
}

/// Starts the worker on its own thread and feeds a non-live stream of `frames` frames from
/// another, which reports the first `advance` error (or `Ok` at the end).
fn stream(fault: Option<Fault>, panic_in_epoch: bool, frames: u64) -> Streamed {
    stream_with(config(fault), panic_in_epoch, frames)
}

fn stream_with(config: OnlineConfig, panic_in_epoch: bool, frames: u64) -> Streamed {
    stream_cut(config, panic_in_epoch, frames, None)
}

type Streamed = (
    OnlineTrainer,
    Result<(), Interrupted>,
    Arc<Mutex<Seen>>,
    std::thread::JoinHandle<()>,
);

/// As [`stream_with`], with a scene cut reported at frame `cut_at`.
fn stream_cut(
    config: OnlineConfig,
    panic_in_epoch: bool,
    frames: u64,
    cut_at: Option<u64>,
) -> Streamed {
    let online = OnlineTrainer::new(config);
    online.set_live(false);
    online.set_output(192, 192, FRAME_NS / 2);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let worker = online.worker(net());
    let mut host = TestHost {
        seen: seen.clone(),
        panic_in_epoch,
    };
    let thread = std::thread::spawn(move || worker.run(&mut host));
    let (tx, rx) = mpsc::channel();
    let feeder = online.clone();
    std::thread::spawn(move || {
        let res = (|| {
            for i in 0..frames {
                let (frame, patches) = frame_and_patch(i);
                feeder.push_patches(patches)?;
                if cut_at == Some(i) {
                    feeder.scene_cut(i * FRAME_NS);
                }
                feeder.push_frame(frame);
                feeder.frame_end(i * FRAME_NS + FRAME_NS);
                feeder.advance(i * FRAME_NS)?;
            }
            feeder.patch_eos();
            feeder.finish()
        })();
        let _ = tx.send(res);
    });
    let res = rx
        .recv_timeout(BOUND)
        .expect("the stream hung waiting for the trainer");
    (online, res, seen, thread)
}

#[test]
fn non_live_epochs_train_publish_and_report() {
    // Without the safety net every trained epoch publishes the online network.
    let cfg = OnlineConfig {
        serve_best: false,
        ..config(None)
    };
    let (online, res, seen, thread) = stream_with(cfg, false, 12);
    assert_eq!(res, Ok(()));
    online.stop();
    thread.join().unwrap();
    let seen = seen.lock().unwrap();
    let stats = online.stats();
    // 12 frames of 1/30 s: 3 full epochs of 0.1 s and the final partial one.
    assert_eq!(seen.reports.len(), 4, "{stats:?}");
    assert_eq!(stats.epochs, 4);
    assert_eq!(stats.patches, 12);
    assert!(stats.pairs > 0 && stats.train_steps > 0, "{stats:?}");
    assert!(seen.reports[0].trained && seen.published >= 1);
    assert_eq!(
        seen.reports[0].feedback.epoch,
        seen.reports[0].quality.epoch
    );
    assert!(online.failure().is_none());
}

#[test]
fn trainer_panic_ends_the_wait_with_an_error() {
    let (online, res, seen, thread) = stream(Some(Fault::PanicAtEpoch(2)), false, 30);
    match res {
        Err(Interrupted::Failed(msg)) => assert!(msg.contains("injected fault"), "{msg}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(seen.lock().unwrap().reports.len(), 1);
    assert!(online.failure().is_some());
    // Everything else that would wait on the trainer returns at once.
    let (_, patches) = frame_and_patch(99);
    assert!(matches!(
        online.push_patches(patches),
        Err(Interrupted::Failed(_))
    ));
    assert!(matches!(
        online.advance(u64::MAX / 2),
        Err(Interrupted::Failed(_))
    ));
    online.save(BOUND);
    online.stop();
    // The panic was caught at the thread's boundary: the thread ends normally.
    thread.join().unwrap();
}

#[test]
fn host_panic_is_caught_too() {
    let (online, res, _, thread) = stream(None, true, 30);
    match res {
        Err(Interrupted::Failed(msg)) => assert!(msg.contains("host failed"), "{msg}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    online.stop();
    thread.join().unwrap();
}

/// Issue #12, defect 6: with epochs shorter than one step's share of stream time (20 ms at
/// 20 steps/s) each epoch's budget rounded to 0 and nothing trained. The fraction carries
/// over: the stream gets its 20 steps per second whatever the epoch length.
#[test]
fn short_epochs_carry_the_fraction_of_a_step_over() {
    let cfg = OnlineConfig {
        epoch_ns: 20_000_000,
        steps_per_second: 20,
        adaptive: false,
        ..config(None)
    };
    // 60 frames: 2 s of stream.
    let (online, res, seen, thread) = stream_with(cfg, false, 60);
    assert_eq!(res, Ok(()));
    online.stop();
    thread.join().unwrap();
    let stats = online.stats();
    // Up to the end of the last frame: 20 steps/s × 1.99999998 s.
    assert_eq!(
        stats.train_steps,
        20 * 60 * FRAME_NS / 1_000_000_000,
        "{stats:?}"
    );
    assert!(seen.lock().unwrap().reports.len() >= 90, "{stats:?}");
}

/// Issue #12, defect 5: a flush (seek) or stop abandons the running epoch at once; its
/// remaining steps are not taken.
#[test]
fn flush_abandons_the_running_epoch() {
    let cfg = OnlineConfig {
        // 100 000 steps in each 0.1 s epoch: minutes of training if nothing stops it.
        steps_per_second: 1_000_000,
        adaptive: false,
        ..config(None)
    };
    let online = OnlineTrainer::new(cfg);
    online.set_live(false);
    online.set_output(192, 192, FRAME_NS / 2);
    let worker = online.worker(net());
    let mut host = TestHost {
        seen: Arc::new(Mutex::new(Seen::default())),
        panic_in_epoch: false,
    };
    let thread = std::thread::spawn(move || worker.run(&mut host));
    let feeder = online.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let res = (|| {
            for i in 0..10 {
                let (frame, patches) = frame_and_patch(i);
                feeder.push_patches(patches)?;
                feeder.push_frame(frame);
                feeder.advance(i * FRAME_NS)?;
            }
            Ok(())
        })();
        let _ = tx.send(res);
    });
    let t0 = std::time::Instant::now();
    while online.stats().train_steps < 20 {
        assert!(t0.elapsed() < BOUND, "training never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    online.flush_start();
    let res = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("advance waited on");
    assert_eq!(res, Err(Interrupted::Flushing));
    std::thread::sleep(Duration::from_millis(100));
    let a = online.stats().train_steps;
    std::thread::sleep(Duration::from_millis(300));
    let b = online.stats().train_steps;
    assert_eq!(a, b, "the abandoned epoch's steps went on");
    online.flush_stop();
    online.stop();
    thread.join().unwrap();
}

/// Non-live frames `frames` with their patches, each epoch waited for.
fn feed(online: &OnlineTrainer, frames: std::ops::Range<u64>) {
    for i in frames {
        let (frame, patches) = frame_and_patch(i);
        online.push_patches(patches).unwrap();
        online.push_frame(frame);
        online.advance(i * FRAME_NS).unwrap();
    }
}

/// `training` switched off while the stream runs: patches are dropped on arrival and
/// counted, no epoch runs; switched on again, the next frames start a new epoch.
#[test]
fn training_off_drops_patches_and_runs_no_epoch() {
    let online = OnlineTrainer::new(OnlineConfig {
        adaptive: false,
        ..config(None)
    });
    online.set_live(false);
    online.set_output(192, 192, FRAME_NS / 2);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let worker = online.worker(net());
    let mut host = TestHost {
        seen: seen.clone(),
        panic_in_epoch: false,
    };
    let thread = std::thread::spawn(move || worker.run(&mut host));
    online.set_enabled(false);
    assert!(!online.enabled());
    feed(&online, 0..12);
    let stats = online.stats();
    assert_eq!(
        (stats.dropped_not_training, stats.epochs),
        (12, 0),
        "{stats:?}"
    );
    online.set_enabled(true);
    feed(&online, 12..24);
    let stats = online.stats();
    assert!(stats.epochs >= 3 && stats.train_steps > 0, "{stats:?}");
    online.stop();
    thread.join().unwrap();
}

/// The safety net: every epoch serves what `serve::choose` picks from its fresh measures, a
/// network is published exactly when the served weights change, and a scene cut makes the
/// rest of its epoch (too few patches after it to judge) serve the initial model.
#[test]
fn the_safety_net_serves_the_best_and_the_initial_model_after_a_cut() {
    use lv_livenas::serve::{choose, Served};
    // Epochs of 0.1 s = 3 frames; the cut at frame 19 (0.633 s) falls in the seventh epoch
    // (0.6-0.7 s) with one patch after it.
    let (online, res, seen, thread) = stream_cut(config(None), false, 30, Some(19));
    assert_eq!(res, Ok(()));
    online.stop();
    thread.join().unwrap();
    let seen = seen.lock().unwrap();
    let mut served = Served::Initial;
    let mut changes = 0;
    for r in &seen.reports {
        let was = if r.cut { Served::Initial } else { served };
        assert_eq!(r.served, choose(&r.quality, r.cut, was), "{r:?}");
        if r.served != was || (r.trained && r.served != Served::Initial) {
            changes += 1;
        }
        served = r.served;
    }
    assert_eq!(seen.published, changes);
    let cut: Vec<_> = seen.reports.iter().filter(|r| r.cut).collect();
    assert_eq!(cut.len(), 1, "one epoch holds the cut");
    assert_eq!(cut[0].quality.epoch, 6);
    assert!(cut[0].quality.fresh < lv_livenas::serve::MIN_FRESH);
    assert_eq!(cut[0].served, Served::Initial);
}
