// SPDX-License-Identifier: MPL-2.0

//! The trainer thread's side of `srenhance` (a child of `imp` for its private state): what the
//! library's worker hands the element at each epoch's end.

use super::super::messages::EpochMessage;
use super::{Network, Settings, Srenhance, CAT};
use crate::feedback::SrpatchFeedback;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use lv_gst::sync::lock;
use lv_infer::{Model, PlaneRunner};
use lv_livenas::online::{EpochReport, Host};
use lv_livenas::postfilter::Filter;
use std::sync::{Arc, Mutex};

/// The trainer thread's side of the element: installs each trained epoch's network for the
/// sink thread and turns the epoch reports into the feedback event and the bus message.
pub(super) struct ElementHost {
    pub(super) element: glib::WeakRef<super::super::Srenhance>,
    pub(super) network: Arc<Mutex<Network>>,
    pub(super) settings: Settings,
}

impl Host for ElementHost {
    fn patches_connected(&self) -> bool {
        self.element
            .upgrade()
            .is_some_and(|e| e.imp().patchpad.is_linked())
    }

    /// Builds the model and a runner for the output size here, on the trainer thread, so the
    /// sink thread only swaps an `Arc`.
    fn publish(
        &mut self,
        onnx: Vec<u8>,
        filter: Option<Arc<Filter>>,
        out_size: Option<(usize, usize)>,
    ) {
        let model = match Model::from_bytes(&onnx) {
            Ok(m) => m,
            Err(e) => {
                if let Some(el) = self.element.upgrade() {
                    gst::error!(CAT, obj = el, "exported model unusable: {e}");
                }
                return;
            }
        };
        let template = lock(&self.network).template.clone();
        let runner = out_size.and_then(|(w, h)| {
            let built = match &template {
                Some(t) if t.size() == (w, h) => t.with_model(&model),
                _ => PlaneRunner::new(&model, w, h, Srenhance::runner_config(&self.settings)),
            };
            built.ok().map(|r| ((w, h), Arc::new(r)))
        });
        let mut net = lock(&self.network);
        net.generation += 1;
        let g = net.generation;
        net.model = Some(model);
        net.runner = runner.map(|(s, r)| (g, s, r));
        net.filter = filter;
    }

    /// Swaps the filter alone: the runner already built for the weights is served again
    /// under a new generation, so the sink thread picks both up at its next frame.
    fn publish_filter(
        &mut self,
        filter: Option<Arc<Filter>>,
        out_size: Option<(usize, usize)>,
    ) -> bool {
        let mut net = lock(&self.network);
        let Some((_, size, runner)) = net.runner.clone() else {
            return false;
        };
        if Some(size) != out_size {
            return false;
        }
        net.generation += 1;
        net.runner = Some((net.generation, size, runner));
        net.filter = filter;
        true
    }

    fn epoch(&mut self, r: &EpochReport) {
        let Some(element) = self.element.upgrade() else {
            return;
        };
        let imp = element.imp();
        let q = &r.quality;
        let mut feedback = r.feedback;
        feedback.suggested_patch_kbps =
            lock(&imp.advice).on_epoch(&feedback, self.settings.epoch_duration as f64 / 1e9);
        gst::debug!(
            CAT,
            imp = imp,
            "epoch {}: {:?}, {:?} -> {:?} ({:?})",
            q.epoch,
            q,
            r.before,
            r.state,
            r.transition
        );
        let _ = imp
            .patchpad
            .push_event(gst::Event::from(SrpatchFeedback(feedback)));
        let ms = gst::Structure::from(EpochMessage::new(r, feedback.suggested_patch_kbps));
        let _ = element.post_message(gst::message::Element::builder(ms).src(&element).build());
    }

    fn saved(&mut self, path: &str, result: std::io::Result<()>) {
        let Some(el) = self.element.upgrade() else {
            return;
        };
        match result {
            Ok(()) => gst::info!(CAT, obj = el, "saved the learned model to {path}"),
            Err(e) => gst::element_error!(
                el,
                gst::ResourceError::Write,
                ["srenhance: cannot save the model to {path}: {e}"]
            ),
        }
    }
}
