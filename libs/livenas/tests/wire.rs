//! The wire format against hostile input: every truncation, every single-byte corruption and
//! random byte strings must give an error (never a panic), and valid messages round-trip.

use lv_livenas::wire::*;

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// A textured luma patch (not flat, so JPEG has something to code).
fn patch_pixels(size: u16, seed: u64) -> Vec<u8> {
    let n = size as usize;
    (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f64, (i / n) as f64);
            (128.0 + 60.0 * (x * 0.3 + seed as f64).sin() * (y * 0.17).cos() + (i % 7) as f64) as u8
        })
        .collect()
}

fn sample_message(limits: &Limits) -> (Vec<u8>, Vec<Vec<u8>>) {
    let payloads: Vec<Vec<u8>> = (0..3)
        .map(|k| encode_jpeg_luma(&patch_pixels(48, k), 48, 95).unwrap())
        .collect();
    let batch = PatchBatch {
        pts: Some(1_000_000_000),
        frame_width: 320,
        frame_height: 180,
        patch_size: 48,
        codec: Codec::Jpeg,
        patches: payloads
            .iter()
            .enumerate()
            .map(|(k, p)| PatchRef {
                cell_x: k as u16 * 2,
                cell_y: k as u16,
                payload: p,
            })
            .collect(),
    };
    (encode_patches(&batch, limits).unwrap(), payloads)
}

#[test]
fn patches_round_trip_and_jpeg_q95_is_close() {
    let limits = Limits::default();
    let (msg, payloads) = sample_message(&limits);
    let Message::Patches(b) = parse(&msg, &limits).unwrap() else {
        panic!("kind")
    };
    assert_eq!(
        (b.frame_width, b.frame_height, b.patch_size, b.pts),
        (320, 180, 48, Some(1_000_000_000))
    );
    assert_eq!(b.patches.len(), 3);
    for (k, p) in b.patches.iter().enumerate() {
        assert_eq!(p.payload, &payloads[k][..]);
        assert_eq!((p.cell_x, p.cell_y), (k as u16 * 2, k as u16));
        let px = decode_patch_luma(b.codec, p.payload, 48).unwrap();
        let src = patch_pixels(48, k as u64);
        let mse = px
            .iter()
            .zip(&src)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum::<f64>()
            / src.len() as f64;
        let psnr = 10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10();
        assert!(psnr > 38.0, "JPEG q95 patch PSNR {psnr}");
    }
}

#[test]
fn feedback_round_trip_and_rejects_nan() {
    let fb = Feedback {
        epoch: 7,
        state: TrainerState::Suspended,
        gain_db: 0.04,
        gain_vs_initial_db: 0.9,
        gain_vs_bicubic_db: 1.3,
        training_fraction: 0.31,
        suggested_patch_kbps: 25,
    };
    let msg = encode_feedback(&fb);
    assert_eq!(
        parse(&msg, &Limits::default()).unwrap(),
        Message::Feedback(fb)
    );
    let mut bad = fb;
    bad.gain_db = f32::NAN;
    assert!(matches!(
        parse(&encode_feedback(&bad), &Limits::default()),
        Err(WireError::Feedback(_))
    ));
}

#[test]
fn every_truncation_is_an_error() {
    let limits = Limits::default();
    let (msg, _) = sample_message(&limits);
    for n in 0..msg.len() {
        assert!(
            parse(&msg[..n], &limits).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
    let mut longer = msg.clone();
    longer.push(0);
    assert!(matches!(
        parse(&longer, &limits),
        Err(WireError::Trailing(1))
    ));
}

#[test]
fn every_byte_corruption_is_handled() {
    let limits = Limits::default();
    let (msg, _) = sample_message(&limits);
    for i in 0..msg.len() {
        for v in [0u8, 0xff, msg[i] ^ 0x01, msg[i].wrapping_add(0x80)] {
            let mut m = msg.clone();
            m[i] = v;
            if let Ok(Message::Patches(b)) = parse(&m, &limits) {
                for p in &b.patches {
                    // Corrupted entropy-coded data may decode to garbage; it must not panic
                    // and must not produce anything but a patch of the stated size.
                    if let Ok(px) = decode_patch_luma(b.codec, p.payload, b.patch_size) {
                        assert_eq!(px.len(), b.patch_size as usize * b.patch_size as usize);
                    }
                }
            }
        }
    }
}

#[test]
fn hostile_headers_are_rejected_before_allocating() {
    let limits = Limits::default();
    let (msg, _) = sample_message(&limits);
    let set = |off: usize, bytes: &[u8]| {
        let mut m = msg.clone();
        m[off..off + bytes.len()].copy_from_slice(bytes);
        parse(&m, &limits).map(|_| ())
    };
    let body = HEADER_LEN;
    assert!(matches!(set(0, b"XXXX"), Err(WireError::BadMagic)));
    assert!(matches!(set(4, &[2]), Err(WireError::Version(2))));
    assert!(matches!(set(5, &[9]), Err(WireError::Kind(9))));
    assert!(matches!(
        set(6, &3u16.to_le_bytes()),
        Err(WireError::HeaderLen(3))
    ));
    assert!(matches!(
        set(8, &u32::MAX.to_le_bytes()),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        set(body + 8, &0u32.to_le_bytes()),
        Err(WireError::FrameSize(..))
    ));
    assert!(matches!(
        set(body + 8, &100_000u32.to_le_bytes()),
        Err(WireError::FrameSize(..))
    ));
    assert!(matches!(
        set(body + 16, &4u16.to_le_bytes()),
        Err(WireError::PatchSize(..))
    ));
    assert!(matches!(set(body + 18, &[7]), Err(WireError::Codec(7))));
    assert!(matches!(
        set(body + 20, &60000u16.to_le_bytes()),
        Err(WireError::TooManyPatches(..))
    ));
    assert!(matches!(
        set(body + 20, &40u16.to_le_bytes()),
        Err(WireError::Truncated { .. })
    ));
    // First record's cell x: 320 / 48 = 6 columns, so 6 is outside.
    assert!(matches!(
        set(body + 22, &6u16.to_le_bytes()),
        Err(WireError::CellOutside(6, 0))
    ));
    assert!(matches!(
        set(body + 26, &u32::MAX.to_le_bytes()),
        Err(WireError::PayloadTooLarge(..))
    ));
    let big = vec![0u8; limits.max_message + 1];
    assert!(matches!(parse(&big, &limits), Err(WireError::TooLarge(..))));
}

#[test]
fn jpeg_of_another_size_is_rejected_before_decoding() {
    // A well-formed JPEG that is larger than the patch (a decompression bomb in miniature).
    let big = encode_jpeg_luma(&vec![100u8; 256 * 256], 256, 95).unwrap();
    assert!(decode_patch_luma(Codec::Jpeg, &big, 48).is_err());
    let small = encode_jpeg_luma(&patch_pixels(32, 1), 32, 95).unwrap();
    assert!(matches!(
        decode_patch_luma(Codec::Jpeg, &small, 48),
        Err(WireError::JpegSize(32, 32, 48))
    ));
    assert!(decode_patch_luma(Codec::Jpeg, b"not a jpeg", 48).is_err());
    assert!(matches!(
        decode_patch_luma(Codec::RawLuma, &[0u8; 10], 48),
        Err(WireError::RawSize(10, 2304))
    ));
}

/// A patch cut short on the way (or forged so) is refused, not decoded as grey: the trainer
/// would learn the grey as the picture's detail.
#[test]
fn truncated_jpeg_patches_are_rejected() {
    let jpeg = encode_jpeg_luma(&patch_pixels(48, 3), 48, 95).unwrap();
    assert!(decode_patch_luma(Codec::Jpeg, &jpeg, 48).is_ok());
    // (Only the end-of-image marker missing still decodes: the picture's data is whole.)
    for keep in [jpeg.len() / 4, jpeg.len() / 2, jpeg.len() * 9 / 10] {
        assert!(
            decode_patch_luma(Codec::Jpeg, &jpeg[..keep], 48).is_err(),
            "{keep} of {} bytes decoded",
            jpeg.len()
        );
    }
}

#[test]
fn random_byte_strings_never_panic() {
    let limits = Limits::default();
    let (msg, _) = sample_message(&limits);
    let mut seed = 42u64;
    for _ in 0..20_000 {
        let len = (lcg(&mut seed) % 300) as usize;
        let mut m: Vec<u8> = if lcg(&mut seed).is_multiple_of(2) {
            // Keep a valid prefix so the parser gets past the magic and the header.
            msg[..len.min(msg.len())].to_vec()
        } else {
            (0..len).map(|_| lcg(&mut seed) as u8).collect()
        };
        for _ in 0..(lcg(&mut seed) % 4) {
            if !m.is_empty() {
                let i = (lcg(&mut seed) as usize) % m.len();
                m[i] = lcg(&mut seed) as u8;
            }
        }
        let _ = parse(&m, &limits);
    }
}
