// SPDX-License-Identifier: MPL-2.0

//! Mapped video frames as the plain plane slices and layouts the libraries take.

use gst_video::prelude::*;
use lv_image::plane::{Chroma, PlaneLayout};

/// The chroma layout of a format (planar or not).
pub fn chroma(finfo: &gst_video::VideoFormatInfo) -> Chroma {
    if finfo.is_gray() {
        Chroma::Mono
    } else if finfo.w_sub()[1] == 0 {
        Chroma::C444
    } else if finfo.h_sub()[1] == 0 {
        Chroma::C422
    } else {
        Chroma::C420
    }
}

/// The plane layout and chroma siting of a stream.
pub fn layout(info: &gst_video::VideoInfo) -> PlaneLayout {
    let site = info.chroma_site();
    PlaneLayout {
        chroma: chroma(&info.format_info()),
        interleaved_uv: info.format() == gst_video::VideoFormat::Nv12,
        cosited: (
            site.contains(gst_video::VideoChromaSite::H_COSITED),
            site.contains(gst_video::VideoChromaSite::V_COSITED),
        ),
    }
}

/// A frame's planes, each with its stride in bytes.
pub fn planes<'a>(frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>) -> Vec<(&'a [u8], usize)> {
    let n = frame.n_planes() as usize;
    frame
        .planes_data()
        .into_iter()
        .zip(frame.plane_stride())
        .take(n)
        .map(|(data, &stride)| (data, stride as usize))
        .collect()
}

/// A writable frame's planes, each with its stride in bytes.
pub fn planes_mut<'a>(
    frame: &'a mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
) -> Vec<(&'a mut [u8], usize)> {
    let n = frame.n_planes() as usize;
    let strides: Vec<usize> = frame.plane_stride().iter().map(|&s| s as usize).collect();
    frame
        .planes_data_mut()
        .into_iter()
        .zip(strides)
        .take(n)
        .collect()
}
