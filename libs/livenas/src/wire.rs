//! The `srpatch` wire format: what the streamer's `srpatch` element sends beside the video
//! (high-quality training patches, LiveNAS §5.2) and what the ingest server's `srenhance`
//! answers (per-epoch feedback, LiveNAS §5.1 and Algorithm 1).
//!
//! Messages arrive from the network, so [`parse`] treats every byte string as hostile: all
//! lengths are checked against the buffer and against [`Limits`] before anything is allocated,
//! allocation is bounded by `Limits` (not by what a header claims), and no input panics
//! (`fuzz/` runs this under libFuzzer). Payload pixels are decoded separately, by
//! [`decode_patch_luma`], which checks the JPEG header's size before decoding.
//!
//! # Layout, version 1 (all integers little-endian)
//!
//! ```text
//! offset size  field
//!  0      4    magic "SRPT"
//!  4      1    version (1)
//!  5      1    kind: 1 = patches, 2 = feedback
//!  6      2    header_len: bytes from offset 0 to the body (>= 12); newer minor
//!              revisions may append header fields, which version-1 readers skip
//!  8      4    body_len: bytes of the body; the message is header_len + body_len bytes
//! -- kind 1, patches body
//!  0      8    pts: frame timestamp in ns (u64::MAX: unknown)
//!  8      4    frame_width   (luma samples)
//! 12      4    frame_height
//! 16      2    patch_size: side of the square cells of the grid
//! 18      1    codec: 1 = JPEG (8-bit grayscale, the luma plane), 2 = raw 8-bit luma
//! 19      1    reserved (0)
//! 20      2    count
//! 22     ...   count records: cell_x u16, cell_y u16, len u32, len payload bytes
//! -- kind 2, feedback body
//!  0      4    epoch
//!  4      1    state: 0 = training, 1 = suspended (gain saturated)
//!  5      3    reserved (0)
//!  8      4    gain_db: f32, quality gain of the latest model over the previous one (dB)
//! 12      4    gain_vs_initial_db: f32, over the initial (generic) model
//! 16      4    gain_vs_bicubic_db: f32
//! 20      4    training_fraction: f32 in [0, 1]
//! 24      4    suggested_patch_kbps: u32 (0: no suggestion)
//! ```
//!
//! Cell `(x, y)` covers luma samples `[x * patch_size, (x + 1) * patch_size)` horizontally and
//! the same vertically; it must lie inside the frame (the grid is non-overlapping, so a
//! partial edge cell is never sent).

use thiserror::Error;

pub const MAGIC: [u8; 4] = *b"SRPT";
pub const VERSION: u8 = 1;
/// Bytes of the version-1 fixed header.
pub const HEADER_LEN: usize = 12;
const PATCHES_FIXED: usize = 22;
const RECORD_FIXED: usize = 8;
const FEEDBACK_LEN: usize = 28;

/// The caps media type of a stream of these messages, one message per buffer.
pub const CAPS_MEDIA_TYPE: &str = "application/x-srpatch";

/// Upper bounds the parser enforces; the defaults suit 4K sources with LiveNAS' 120-pixel
/// patches and a few hundred kbit/s of patch budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_message: usize,
    pub max_patches: usize,
    pub max_payload: usize,
    pub max_frame_dim: u32,
    pub min_patch_size: u16,
    pub max_patch_size: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 4 << 20,
            max_patches: 64,
            max_payload: 256 << 10,
            max_frame_dim: 8192,
            min_patch_size: 8,
            max_patch_size: 512,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Jpeg = 1,
    RawLuma = 2,
}

/// The server's training state: Algorithm 1's state (`crate::adaptive`) and the feedback's
/// `state` byte are the same value, so one enum serves both (the discriminant is the byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum TrainerState {
    Training = 0,
    Suspended = 1,
}

impl TrainerState {
    /// The name used in element messages, stats and feedback structures.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainerState::Training => "training",
            TrainerState::Suspended => "suspended",
        }
    }
}

/// One patch as it sits in a message; `payload` borrows the message buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchRef<'a> {
    pub cell_x: u16,
    pub cell_y: u16,
    pub payload: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchBatch<'a> {
    pub pts: Option<u64>,
    pub frame_width: u32,
    pub frame_height: u32,
    pub patch_size: u16,
    pub codec: Codec,
    pub patches: Vec<PatchRef<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feedback {
    pub epoch: u32,
    pub state: TrainerState,
    pub gain_db: f32,
    pub gain_vs_initial_db: f32,
    pub gain_vs_bicubic_db: f32,
    pub training_fraction: f32,
    pub suggested_patch_kbps: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Message<'a> {
    Patches(PatchBatch<'a>),
    Feedback(Feedback),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("message truncated: needs {needed} bytes, has {have}")]
    Truncated { needed: usize, have: usize },
    #[error("not an srpatch message (bad magic)")]
    BadMagic,
    #[error("unsupported srpatch version {0} (this build reads version {VERSION})")]
    Version(u8),
    #[error("unknown message kind {0}")]
    Kind(u8),
    #[error("bad header length {0}")]
    HeaderLen(u16),
    #[error("message of {0} bytes exceeds the limit of {1}")]
    TooLarge(usize, usize),
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    #[error("frame size {0}x{1} outside 1..={2}")]
    FrameSize(u32, u32, u32),
    #[error("patch size {0} outside {1}..={2}")]
    PatchSize(u16, u16, u16),
    #[error("unknown patch codec {0}")]
    Codec(u8),
    #[error("{0} patches exceed the limit of {1}")]
    TooManyPatches(usize, usize),
    #[error("patch cell ({0}, {1}) lies outside the frame's grid")]
    CellOutside(u16, u16),
    #[error("patch payload of {0} bytes exceeds the limit of {1}")]
    PayloadTooLarge(usize, usize),
    #[error("raw patch payload has {0} bytes, expected {1}")]
    RawSize(usize, usize),
    #[error("invalid feedback field: {0}")]
    Feedback(&'static str),
    #[error("JPEG payload: {0}")]
    Jpeg(String),
    #[error("JPEG payload is {0}x{1}, expected {2}x{2}")]
    JpegSize(usize, usize, u16),
}

/// A bounds-checked little-endian reader: every read either succeeds inside the buffer or
/// reports how many bytes were missing.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated {
            needed: usize::MAX,
            have: self.buf.len(),
        })?;
        if end > self.buf.len() {
            return Err(WireError::Truncated {
                needed: end,
                have: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, WireError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

/// Parses exactly one message occupying all of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Message<'a>, WireError> {
    if buf.len() > limits.max_message {
        return Err(WireError::TooLarge(buf.len(), limits.max_message));
    }
    let mut r = Reader { buf, pos: 0 };
    if r.take(4)? != MAGIC {
        return Err(WireError::BadMagic);
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let kind = r.u8()?;
    let header_len = r.u16()?;
    if (header_len as usize) < HEADER_LEN {
        return Err(WireError::HeaderLen(header_len));
    }
    let body_len = r.u32()? as usize;
    r.take(header_len as usize - HEADER_LEN)?;
    let total = header_len as usize + body_len;
    if total > buf.len() {
        return Err(WireError::Truncated {
            needed: total,
            have: buf.len(),
        });
    }
    if total < buf.len() {
        return Err(WireError::Trailing(buf.len() - total));
    }
    match kind {
        1 => parse_patches(&mut r, limits).map(Message::Patches),
        2 => parse_feedback(&mut r).map(Message::Feedback),
        k => Err(WireError::Kind(k)),
    }
    .and_then(|m| {
        if r.pos != buf.len() {
            Err(WireError::Trailing(buf.len() - r.pos))
        } else {
            Ok(m)
        }
    })
}

fn parse_patches<'a>(r: &mut Reader<'a>, limits: &Limits) -> Result<PatchBatch<'a>, WireError> {
    let pts = r.u64()?;
    let (fw, fh) = (r.u32()?, r.u32()?);
    if fw == 0 || fh == 0 || fw > limits.max_frame_dim || fh > limits.max_frame_dim {
        return Err(WireError::FrameSize(fw, fh, limits.max_frame_dim));
    }
    let ps = r.u16()?;
    if ps < limits.min_patch_size || ps > limits.max_patch_size {
        return Err(WireError::PatchSize(
            ps,
            limits.min_patch_size,
            limits.max_patch_size,
        ));
    }
    let codec = match r.u8()? {
        1 => Codec::Jpeg,
        2 => Codec::RawLuma,
        c => return Err(WireError::Codec(c)),
    };
    r.u8()?;
    let count = r.u16()? as usize;
    if count > limits.max_patches {
        return Err(WireError::TooManyPatches(count, limits.max_patches));
    }
    // Each record needs at least RECORD_FIXED bytes, so a count the buffer cannot hold is
    // rejected before the vector is sized by it.
    let remaining = r.buf.len() - r.pos;
    if count * RECORD_FIXED > remaining {
        return Err(WireError::Truncated {
            needed: r.pos + count * RECORD_FIXED,
            have: r.buf.len(),
        });
    }
    let (cols, rows) = (fw / ps as u32, fh / ps as u32);
    let raw_len = ps as usize * ps as usize;
    let mut patches = Vec::with_capacity(count);
    for _ in 0..count {
        let (cx, cy) = (r.u16()?, r.u16()?);
        if cx as u32 >= cols || cy as u32 >= rows {
            return Err(WireError::CellOutside(cx, cy));
        }
        let len = r.u32()? as usize;
        if len > limits.max_payload {
            return Err(WireError::PayloadTooLarge(len, limits.max_payload));
        }
        if codec == Codec::RawLuma && len != raw_len {
            return Err(WireError::RawSize(len, raw_len));
        }
        let payload = r.take(len)?;
        patches.push(PatchRef {
            cell_x: cx,
            cell_y: cy,
            payload,
        });
    }
    Ok(PatchBatch {
        pts: (pts != u64::MAX).then_some(pts),
        frame_width: fw,
        frame_height: fh,
        patch_size: ps,
        codec,
        patches,
    })
}

fn parse_feedback(r: &mut Reader<'_>) -> Result<Feedback, WireError> {
    let epoch = r.u32()?;
    let state = match r.u8()? {
        0 => TrainerState::Training,
        1 => TrainerState::Suspended,
        _ => return Err(WireError::Feedback("state")),
    };
    r.take(3)?;
    let fb = Feedback {
        epoch,
        state,
        gain_db: r.f32()?,
        gain_vs_initial_db: r.f32()?,
        gain_vs_bicubic_db: r.f32()?,
        training_fraction: r.f32()?,
        suggested_patch_kbps: r.u32()?,
    };
    if ![fb.gain_db, fb.gain_vs_initial_db, fb.gain_vs_bicubic_db]
        .iter()
        .all(|g| g.is_finite())
    {
        return Err(WireError::Feedback("gain is not finite"));
    }
    if !(0.0..=1.0).contains(&fb.training_fraction) {
        return Err(WireError::Feedback("training_fraction outside [0, 1]"));
    }
    Ok(fb)
}

fn header(kind: u8, body_len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
}

/// Serializes a batch; the inverse of [`parse`]. Fails when the batch breaks `limits`, so a
/// sender never emits what a receiver with the same limits would reject.
pub fn encode_patches(batch: &PatchBatch<'_>, limits: &Limits) -> Result<Vec<u8>, WireError> {
    let body_len = PATCHES_FIXED
        + batch
            .patches
            .iter()
            .map(|p| RECORD_FIXED + p.payload.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    header(1, body_len, &mut out);
    out.extend_from_slice(&batch.pts.unwrap_or(u64::MAX).to_le_bytes());
    out.extend_from_slice(&batch.frame_width.to_le_bytes());
    out.extend_from_slice(&batch.frame_height.to_le_bytes());
    out.extend_from_slice(&batch.patch_size.to_le_bytes());
    out.push(batch.codec as u8);
    out.push(0);
    let count = u16::try_from(batch.patches.len())
        .map_err(|_| WireError::TooManyPatches(batch.patches.len(), limits.max_patches))?;
    out.extend_from_slice(&count.to_le_bytes());
    for p in &batch.patches {
        out.extend_from_slice(&p.cell_x.to_le_bytes());
        out.extend_from_slice(&p.cell_y.to_le_bytes());
        out.extend_from_slice(&(p.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(p.payload);
    }
    // Validating by parsing keeps one definition of what is acceptable.
    parse(&out, limits)?;
    Ok(out)
}

pub fn encode_feedback(fb: &Feedback) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + FEEDBACK_LEN);
    header(2, FEEDBACK_LEN, &mut out);
    out.extend_from_slice(&fb.epoch.to_le_bytes());
    out.push(fb.state as u8);
    out.extend_from_slice(&[0, 0, 0]);
    for v in [
        fb.gain_db,
        fb.gain_vs_initial_db,
        fb.gain_vs_bicubic_db,
        fb.training_fraction,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&fb.suggested_patch_kbps.to_le_bytes());
    out
}

/// JPEG-compresses one luma patch (8-bit grayscale; LiveNAS uses quality 95).
pub fn encode_jpeg_luma(pixels: &[u8], size: u16, quality: u8) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    let enc = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    enc.encode(pixels, size, size, jpeg_encoder::ColorType::Luma)
        .map_err(|e| WireError::Jpeg(e.to_string()))?;
    Ok(out)
}

/// Decodes one patch's payload to `size * size` luma samples. The JPEG header is read first
/// and anything but a `size` x `size` picture is rejected before pixel decoding, so memory
/// stays bounded by the patch size whatever the payload claims.
pub fn decode_patch_luma(codec: Codec, payload: &[u8], size: u16) -> Result<Vec<u8>, WireError> {
    let n = size as usize * size as usize;
    match codec {
        Codec::RawLuma => {
            if payload.len() != n {
                return Err(WireError::RawSize(payload.len(), n));
            }
            Ok(payload.to_vec())
        }
        Codec::Jpeg => {
            use zune_core::bytestream::ZCursor;
            use zune_core::colorspace::ColorSpace;
            use zune_core::options::DecoderOptions;
            // Strict: a lenient decoder fills a truncated or corrupt patch with grey and
            // returns it, and the trainer would learn that grey as the source's detail.
            let opts = DecoderOptions::default()
                .set_strict_mode(true)
                .set_max_width(size as usize)
                .set_max_height(size as usize)
                .jpeg_set_out_colorspace(ColorSpace::Luma);
            let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(payload), opts);
            dec.decode_headers()
                .map_err(|e| WireError::Jpeg(format!("{e:?}")))?;
            let info = dec
                .info()
                .ok_or_else(|| WireError::Jpeg("no header".into()))?;
            if info.width != size || info.height != size {
                return Err(WireError::JpegSize(
                    info.width as usize,
                    info.height as usize,
                    size,
                ));
            }
            let mut out = vec![0u8; n];
            match dec.output_buffer_size() {
                Some(len) if len == n => {}
                other => {
                    return Err(WireError::Jpeg(format!(
                        "decoder wants {other:?} bytes for a {size}x{size} luma patch"
                    )))
                }
            }
            dec.decode_into(&mut out)
                .map_err(|e| WireError::Jpeg(format!("{e:?}")))?;
            Ok(out)
        }
    }
}
