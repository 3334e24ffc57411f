// SPDX-License-Identifier: MPL-2.0

//! `srenhance`: the ingest server side of LiveNAS (docs/srenhance-design.md).

use gst::glib;
use gst::prelude::*;

mod imp;
mod messages;
mod settings;

pub use messages::{EpochMessage, EPOCH_MESSAGE};

lv_gst::backend_enum!("GstSrenhanceBackend");

/// Which parameters online training moves (`adapt-params`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSrenhanceAdapt")]
pub enum Adapt {
    #[enum_value(name = "Every weight and bias", nick = "all")]
    All = 0,
    #[enum_value(name = "The biases only (per-channel offsets)", nick = "biases")]
    Biases = 1,
    #[enum_value(name = "The last convolution and every bias", nick = "last-layer")]
    LastLayer = 2,
}

impl From<Adapt> for lv_livenas::trainer::Adapt {
    fn from(a: Adapt) -> Self {
        match a {
            Adapt::All => Self::All,
            Adapt::Biases => Self::Biases,
            Adapt::LastLayer => Self::LastLayer,
        }
    }
}

/// The loss online training minimises (`training-loss`).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSrenhanceLoss")]
pub enum Loss {
    #[default]
    #[enum_value(name = "Mean squared error (what PSNR measures)", nick = "l2")]
    L2 = 0,
    #[enum_value(name = "Mean absolute error", nick = "l1")]
    L1 = 1,
}

impl From<Loss> for lv_livenas::trainer::Loss {
    fn from(l: Loss) -> Self {
        match l {
            Loss::L2 => Self::L2,
            Loss::L1 => Self::L1,
        }
    }
}

glib::wrapper! {
    pub struct Srenhance(ObjectSubclass<imp::Srenhance>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    lv_gst::element::register(
        plugin,
        "srenhance",
        Srenhance::static_type(),
        &[Backend::static_type(), Adapt::static_type()],
    )
}
