// SPDX-License-Identifier: MPL-2.0
//! The LiveNAS WebRTC loopback example (examples/livenas_webrtc.rs) as an integration test:
//! the two webrtcbins connect in-process, patches cross the data channel and reach the
//! receiver with their timestamps mapped to its frames, the video is decoded and upscaled
//! to the source size, and the scheduler's split drives the encoder.

// The example says `#![allow(dead_code)]` itself (the test uses only part of it).
#[path = "../examples/livenas_webrtc.rs"]
mod example;

#[test]
fn webrtc_loopback_carries_video_and_patches() {
    let cfg = example::Config {
        seconds: 8.0,
        width: 384,
        height: 192,
        bandwidth_kbps: 1200,
        patch_kbps: 200,
        use_srenhance: true,
    };
    let r = example::run(&cfg).expect("example runs");
    eprintln!("{r:#?}");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.connected, "no media pad on the receiver");
    assert!(r.data_channel_open, "data channel never opened");
    assert!(r.frames_out >= 30, "{} frames out", r.frames_out);
    assert_eq!(r.out_size, Some((384, 192)));
    assert!(r.patch_messages_sent >= 3, "{r:?}");
    assert!(r.patch_messages_received >= 3);
    assert_eq!(r.patch_messages_rejected, 0);
    // Timestamps mapped onto received frames (those sent in the last moments may not be).
    assert!(
        r.patch_messages_delivered * 2 >= r.patch_messages_received,
        "{r:?}"
    );
    // The receiver trained on them: an epoch ran with pairs in its store.
    assert!(r.epochs >= 1 && r.store > 0 && r.train_steps > 0, "{r:?}");
    assert!(r.feedback_sent >= 1 && r.feedback_received >= 1, "{r:?}");
    assert!(r.rate_messages >= 5);
    assert!(r.last_video_kbps > 0.0 && r.last_video_kbps + r.last_patch_kbps <= 1200.0 + 1e-6);
}
