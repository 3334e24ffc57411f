// SPDX-License-Identifier: MPL-2.0

//! `srenhance`'s properties: the settings they hold, their defaults and their specs, apart from
//! the element so that `imp.rs` reads as pads, caps, threads and messages.

use super::{Adapt, Backend, Loss};
use gst::glib;
use gst::prelude::*;
use lv_livenas::adaptive::Params;

const DEFAULT_LR: f64 = 1e-3;
const DEFAULT_BATCH: u32 = 8;
const DEFAULT_STEPS_PER_SECOND: u32 = 20;
const DEFAULT_RECENT: u32 = 150;
const DEFAULT_RECENT_WEIGHT: f64 = 4.0;
const DEFAULT_MAX_PATCHES: u32 = 1000;
const DEFAULT_SEED: u64 = 1;
const DEFAULT_TRAINER_NICE: i32 = 19;
const DEFAULT_ADAPT: Adapt = Adapt::All;

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) model: Option<String>,
    pub(super) save_model: Option<String>,
    pub(super) backend: Backend,
    pub(super) threads: u32,
    pub(super) training: bool,
    pub(super) adaptive: bool,
    pub(super) serve_best: bool,
    pub(super) post_filter: bool,
    pub(super) post_filter_model: Option<String>,
    pub(super) adapt: Adapt,
    pub(super) loss: Loss,
    pub(super) epoch_duration: u64,
    pub(super) learning_rate: f64,
    pub(super) batch_size: u32,
    pub(super) train_steps_per_second: u32,
    pub(super) recent_patches: u32,
    pub(super) recent_weight: f64,
    pub(super) params: Params,
    pub(super) max_patches: u32,
    pub(super) seed: u64,
    pub(super) trainer_nice: i32,
    pub(super) qos: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: None,
            save_model: None,
            backend: Backend::Cpu,
            threads: 0,
            training: true,
            adaptive: true,
            serve_best: true,
            post_filter: true,
            post_filter_model: None,
            adapt: DEFAULT_ADAPT,
            loss: Loss::default(),
            epoch_duration: lv_livenas::online::DEFAULT_EPOCH_NS,
            learning_rate: DEFAULT_LR,
            batch_size: DEFAULT_BATCH,
            train_steps_per_second: DEFAULT_STEPS_PER_SECOND,
            recent_patches: DEFAULT_RECENT,
            recent_weight: DEFAULT_RECENT_WEIGHT,
            params: Params::default(),
            max_patches: DEFAULT_MAX_PATCHES,
            seed: DEFAULT_SEED,
            trainer_nice: DEFAULT_TRAINER_NICE,
            qos: true,
        }
    }
}

/// Every property of the element, in gst-inspect's order (`stats` and `backend-in-use` are
/// read from the element's state, not from [`Settings`]).
pub(super) fn param_specs() -> Vec<glib::ParamSpec> {
    let d = Settings::default();
    vec![
        glib::ParamSpecString::builder("model")
            .nick("Model")
            .blurb(
                "Path of a srenhance-refine-v1 ONNX model to start from (e.g. one saved \
                 with save-model for this streamer); empty: the generic model embedded \
                 in the plugin. Read when the element starts",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("save-model")
            .nick("Save model")
            .blurb(
                "Where to write the online-trained model (ONNX) at end of stream and \
                 when the element stops; empty: not saved",
            )
            .mutable_ready()
            .build(),
        Backend::param_spec(),
        Backend::in_use_param_spec(),
        lv_gst::element::threads_param_spec(
            "Worker threads of the inference (network tiles and resampling bands); \
             0 = all cores; at most 4 per core are started",
        ),
        glib::ParamSpecBoolean::builder("training")
            .nick("Training")
            .blurb(
                "Train the network online from the patches on patch_sink; false: \
                 inference with the current network only (may change while playing: \
                 training pauses and resumes, patches are dropped while it is off)",
            )
            .default_value(d.training)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("qos")
            .nick("QoS")
            .blurb(
                "Handle quality-of-service events from downstream: drop frames that \
                 would be late anyway and post a QoS message, as video filters do",
            )
            .default_value(d.qos)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("adaptive")
            .nick("Adaptive")
            .blurb(
                "Content-adaptive training (LiveNAS Algorithm 1): suspend when the gain \
                 saturates, resume on a scene change; false: train continuously",
            )
            .default_value(d.adaptive)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("serve-best")
            .nick("Serve best")
            .blurb(
                "Safety net: each epoch serve whichever of the initial model, the online \
                 one or their average scored best on the epoch's new patches (before \
                 training on them), and the initial model from a detected scene cut \
                 on; restart training from it when it is clearly better. false: always \
                 the online model (LiveNAS as published)",
            )
            .default_value(d.serve_best)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("post-filter")
            .nick("Post-filter")
            .blurb(
                "Least-squares filters on the output luma (one 5x5 filter per \
                 local-gradient class): the generic one (post-filter-model) after the \
                 initial model, and with serve-best a refit on the online network's \
                 output from the scene's patches (pulled toward the generic one, refitted \
                 at each epoch's end, reset at a scene cut), served when the online \
                 network followed by it scores best on the epoch's new patches",
            )
            .default_value(d.post_filter)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("post-filter-model")
            .nick("Post-filter model")
            .blurb(
                "Path of a generic post-filter (.lvpf, written by srenhance-fit-filter) \
                 fitted on the initial model's output; empty: the one embedded beside the \
                 generic model when model is empty, none otherwise. Read when the \
                 element starts",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("training-loss", Loss::default())
            .nick("Training loss")
            .blurb(
                "The loss online training minimises: l2 (mean squared error, what PSNR \
                 measures) or l1 (mean absolute error)",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("adapt-params", DEFAULT_ADAPT)
            .nick("Adapted parameters")
            .blurb(
                "Which parameters online training moves; the others keep the initial \
                 model's values",
            )
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("epoch-duration")
            .nick("Epoch duration")
            .blurb(
                "Length of a training epoch in ns (wall time in a live pipeline, stream \
                 time otherwise); new weights are used from each epoch's end",
            )
            .minimum(10_000_000)
            .default_value(d.epoch_duration)
            .mutable_ready()
            .build(),
        glib::ParamSpecDouble::builder("learning-rate")
            .nick("Learning rate")
            .blurb("Adam learning rate of the online training")
            .minimum(0.0)
            .maximum(1.0)
            .default_value(d.learning_rate)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("batch-size")
            .nick("Batch size")
            .blurb("Patches per training step (a random 48x48 square of each)")
            .minimum(1)
            .maximum(256)
            .default_value(d.batch_size)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("train-steps-per-second")
            .nick("Training steps per second")
            .blurb(
                "Non-live pipelines: training steps per second of stream time (each \
                 epoch's budget; the stream waits for it, so results are reproducible). \
                 Ignored in live pipelines, which train as fast as they can",
            )
            .maximum(10_000)
            .default_value(d.train_steps_per_second)
            .mutable_ready()
            .build(),
        glib::ParamSpecInt::builder("trainer-nice")
            .nick("Trainer niceness")
            .blurb(
                "OS niceness (Linux, 0..19) of the training threads: with the default \
                 19 a live stream's inference always runs first and training takes \
                 the CPU time left over; 0 trains at the stream's priority. Non-live \
                 pipelines wait for each epoch, so it only changes their speed",
            )
            .minimum(0)
            .maximum(19)
            .default_value(d.trainer_nice)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("recent-patches")
            .nick("Recent patches")
            .blurb("How many of the newest patches are drawn more often (LiveNAS: 150)")
            .default_value(d.recent_patches)
            .mutable_ready()
            .build(),
        glib::ParamSpecDouble::builder("recent-weight")
            .nick("Recent weight")
            .blurb("How much more likely a recent patch is drawn (LiveNAS: 4)")
            .minimum(0.0)
            .maximum(1000.0)
            .default_value(d.recent_weight)
            .mutable_ready()
            .build(),
        glib::ParamSpecDouble::builder("thresh-sat")
            .nick("Saturation threshold")
            .blurb(
                "Algorithm 1: an epoch whose training gains less than this (dB, PSNR \
                 on the patches that arrived in it, measured on arrival) counts towards \
                 saturation",
            )
            .minimum(-100.0)
            .maximum(100.0)
            .default_value(d.params.thresh_sat)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("count-sat")
            .nick("Saturation patience")
            .blurb(
                "Algorithm 1: training is suspended after more than this many \
                 saturated epochs in a row",
            )
            .default_value(d.params.count_sat)
            .mutable_ready()
            .build(),
        glib::ParamSpecDouble::builder("thresh-online")
            .nick("Online threshold")
            .blurb(
                "Algorithm 1: while suspended, a validation where the online model (at \
                 its best: the network, or the network and its refitted post-filter) is \
                 less than this (dB) better than the initial model as served on new \
                 patches counts towards a scene change",
            )
            .minimum(-100.0)
            .maximum(100.0)
            .default_value(d.params.thresh_online)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("count-online")
            .nick("Scene-change patience")
            .blurb(
                "Algorithm 1: training resumes after more than this many such \
                 validations in a row",
            )
            .default_value(d.params.count_online)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-patches")
            .nick("Maximum patches")
            .blurb("Capacity of the patch store (oldest patches are dropped)")
            .minimum(1)
            .maximum(1_000_000)
            .default_value(d.max_patches)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("seed")
            .nick("Seed")
            .blurb("Seed of the training's random draws (minibatches, crops)")
            .default_value(d.seed)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(
                "Counters: patch buffers, malformed buffers, patches, undecodable \
                 payloads, patches dropped (no frame, wrong size, overflow, training \
                 off), live frames not kept for training (frames-skipped), training \
                 pairs, epochs, training steps, training-step passes the GPU failed \
                 and the CPU ran (gpu-step-failures), network generation, trainer \
                 state (off while training is off)",
            )
            .read_only()
            .build(),
    ]
}

impl Settings {
    /// Stores a property's value (its type checked by GObject before this is called).
    pub(super) fn set(&mut self, name: &str, value: &glib::Value) {
        let opt_str = |v: &glib::Value| {
            v.get::<Option<String>>()
                .ok()
                .flatten()
                .filter(|m| !m.is_empty())
        };
        match name {
            "training" => self.training = value.get().unwrap(),
            "qos" => self.qos = value.get().unwrap(),
            "model" => self.model = opt_str(value),
            "save-model" => self.save_model = opt_str(value),
            "backend" => self.backend = value.get().unwrap(),
            "threads" => self.threads = value.get().unwrap(),
            "adaptive" => self.adaptive = value.get().unwrap(),
            "serve-best" => self.serve_best = value.get().unwrap(),
            "post-filter" => self.post_filter = value.get().unwrap(),
            "post-filter-model" => self.post_filter_model = opt_str(value),
            "adapt-params" => self.adapt = value.get().unwrap(),
            "training-loss" => self.loss = value.get().unwrap(),
            "epoch-duration" => self.epoch_duration = value.get().unwrap(),
            "learning-rate" => self.learning_rate = value.get().unwrap(),
            "batch-size" => self.batch_size = value.get().unwrap(),
            "train-steps-per-second" => self.train_steps_per_second = value.get().unwrap(),
            "recent-patches" => self.recent_patches = value.get().unwrap(),
            "recent-weight" => self.recent_weight = value.get().unwrap(),
            "thresh-sat" => self.params.thresh_sat = value.get().unwrap(),
            "count-sat" => self.params.count_sat = value.get().unwrap(),
            "thresh-online" => self.params.thresh_online = value.get().unwrap(),
            "count-online" => self.params.count_online = value.get().unwrap(),
            "max-patches" => self.max_patches = value.get().unwrap(),
            "seed" => self.seed = value.get().unwrap(),
            "trainer-nice" => self.trainer_nice = value.get().unwrap(),
            _ => unreachable!("srenhance has no setting {name}"),
        }
    }

    pub(super) fn get(&self, name: &str) -> glib::Value {
        match name {
            "model" => self.model.clone().unwrap_or_default().to_value(),
            "save-model" => self.save_model.clone().unwrap_or_default().to_value(),
            "backend" => self.backend.to_value(),
            "threads" => self.threads.to_value(),
            "training" => self.training.to_value(),
            "qos" => self.qos.to_value(),
            "adaptive" => self.adaptive.to_value(),
            "serve-best" => self.serve_best.to_value(),
            "post-filter" => self.post_filter.to_value(),
            "post-filter-model" => self.post_filter_model.to_value(),
            "adapt-params" => self.adapt.to_value(),
            "training-loss" => self.loss.to_value(),
            "epoch-duration" => self.epoch_duration.to_value(),
            "learning-rate" => self.learning_rate.to_value(),
            "batch-size" => self.batch_size.to_value(),
            "train-steps-per-second" => self.train_steps_per_second.to_value(),
            "recent-patches" => self.recent_patches.to_value(),
            "recent-weight" => self.recent_weight.to_value(),
            "thresh-sat" => self.params.thresh_sat.to_value(),
            "count-sat" => self.params.count_sat.to_value(),
            "thresh-online" => self.params.thresh_online.to_value(),
            "count-online" => self.params.count_online.to_value(),
            "max-patches" => self.max_patches.to_value(),
            "seed" => self.seed.to_value(),
            "trainer-nice" => self.trainer_nice.to_value(),
            _ => unreachable!("srenhance has no setting {name}"),
        }
    }
}
