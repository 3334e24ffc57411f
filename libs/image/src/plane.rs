//! Strided views over one image plane, 8-bit or 16-bit container (8..=16 bits per component).
//!
//! A decoder's buffers are often padded (stride > width), so every algorithm walks rows
//! through `stride` and never assumes a packed plane.

/// Chroma layout of a planar YUV picture (or luma only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chroma {
    C420,
    C422,
    C444,
    Mono,
}

impl Chroma {
    /// Horizontal and vertical chroma subsampling shifts.
    pub fn shifts(self) -> (usize, usize) {
        match self {
            Chroma::C420 => (1, 1),
            Chroma::C422 => (1, 0),
            Chroma::C444 | Chroma::Mono => (0, 0),
        }
    }
}

/// How a picture's chroma is stored and sited, as far as a scaler needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneLayout {
    pub chroma: Chroma,
    /// U and V interleaved in one plane (NV12) instead of a plane each.
    pub interleaved_uv: bool,
    /// Chroma samples co-sited with the first luma sample of their cell horizontally and
    /// vertically; otherwise centred in it.
    pub cosited: (bool, bool),
}

/// The samples of a plane: 8-bit, or 16-bit little-endian words holding `bpc` bits.
#[derive(Clone, Copy, Debug)]
pub enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

/// A borrowed plane: `height` rows of `width` samples, rows `stride` samples apart.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    pub samples: Samples<'a>,
    pub width: usize,
    pub height: usize,
    /// Distance between rows, in samples (not bytes).
    pub stride: usize,
    /// Bits per component: 8 for `U8`, 9..=16 for `U16`.
    pub bpc: u32,
}

impl<'a> Plane<'a> {
    pub fn new_u8(data: &'a [u8], width: usize, height: usize, stride: usize) -> Self {
        assert!(stride >= width && (height == 0 || data.len() >= (height - 1) * stride + width));
        Plane {
            samples: Samples::U8(data),
            width,
            height,
            stride,
            bpc: 8,
        }
    }

    pub fn new_u16(data: &'a [u16], width: usize, height: usize, stride: usize, bpc: u32) -> Self {
        assert!(stride >= width && (height == 0 || data.len() >= (height - 1) * stride + width));
        assert!((9..=16).contains(&bpc));
        Plane {
            samples: Samples::U16(data),
            width,
            height,
            stride,
            bpc,
        }
    }

    /// One sample, widened.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> u16 {
        match self.samples {
            Samples::U8(d) => d[y * self.stride + x] as u16,
            Samples::U16(d) => d[y * self.stride + x],
        }
    }

    /// Copies row `y` into `out` (length `width`) as f32, unscaled.
    pub fn row_f32(&self, y: usize, out: &mut [f32]) {
        let o = y * self.stride;
        match self.samples {
            Samples::U8(d) => {
                for (dst, &s) in out.iter_mut().zip(&d[o..o + self.width]) {
                    *dst = s as f32;
                }
            }
            Samples::U16(d) => {
                for (dst, &s) in out.iter_mut().zip(&d[o..o + self.width]) {
                    *dst = s as f32;
                }
            }
        }
    }

    /// Copies row `y` into `out` (length `width`) as u16.
    pub fn row_u16(&self, y: usize, out: &mut [u16]) {
        let o = y * self.stride;
        match self.samples {
            Samples::U8(d) => {
                for (dst, &s) in out.iter_mut().zip(&d[o..o + self.width]) {
                    *dst = s as u16;
                }
            }
            Samples::U16(d) => out[..self.width].copy_from_slice(&d[o..o + self.width]),
        }
    }
}

/// An owned packed plane (stride == width), for state kept across frames.
#[derive(Clone, Debug, Default)]
pub struct PlaneBuf {
    pub data: Vec<u16>,
    pub width: usize,
    pub height: usize,
    pub bpc: u32,
}

impl PlaneBuf {
    pub fn from_plane(p: &Plane) -> Self {
        let mut data = vec![0u16; p.width * p.height];
        for y in 0..p.height {
            p.row_u16(y, &mut data[y * p.width..(y + 1) * p.width]);
        }
        PlaneBuf {
            data,
            width: p.width,
            height: p.height,
            bpc: p.bpc,
        }
    }

    /// A view of this buffer; 8-bit content is still held in u16 words, so it is presented
    /// as a `U16` plane with `bpc` 8 only through `get`/`row_*`.
    pub fn view(&self) -> Plane<'_> {
        Plane {
            samples: Samples::U16(&self.data),
            width: self.width,
            height: self.height,
            stride: self.width,
            bpc: self.bpc,
        }
    }
}

/// An owned copy of a plane in its own container width (packed rows), for work that outlives
/// the buffer it came from: a frame measured on another thread while the stream goes on.
/// Unlike [`PlaneBuf`], 8-bit content stays 8-bit, so the copy takes the same code paths
/// as the original.
#[derive(Clone, Debug)]
pub enum OwnedPlane {
    U8 {
        data: Vec<u8>,
        width: usize,
        height: usize,
    },
    U16 {
        data: Vec<u16>,
        width: usize,
        height: usize,
        bpc: u32,
    },
}

impl OwnedPlane {
    /// Copies `p`'s rows, dropping any padding. `reuse` gives its allocation back (a pool of
    /// these avoids allocating a picture per frame); its content is overwritten.
    pub fn copy_from(p: &Plane, reuse: Option<OwnedPlane>) -> Self {
        let (w, h) = (p.width, p.height);
        fn packed<T: Copy>(
            src: &[T],
            stride: usize,
            w: usize,
            h: usize,
            mut data: Vec<T>,
        ) -> Vec<T> {
            data.clear();
            for y in 0..h {
                data.extend_from_slice(&src[y * stride..y * stride + w]);
            }
            data
        }
        match p.samples {
            Samples::U8(src) => {
                let data = match reuse {
                    Some(OwnedPlane::U8 { data, .. }) => data,
                    _ => Vec::new(),
                };
                OwnedPlane::U8 {
                    data: packed(src, p.stride, w, h, data),
                    width: w,
                    height: h,
                }
            }
            Samples::U16(src) => {
                let data = match reuse {
                    Some(OwnedPlane::U16 { data, .. }) => data,
                    _ => Vec::new(),
                };
                OwnedPlane::U16 {
                    data: packed(src, p.stride, w, h, data),
                    width: w,
                    height: h,
                    bpc: p.bpc,
                }
            }
        }
    }

    pub fn view(&self) -> Plane<'_> {
        match self {
            OwnedPlane::U8 {
                data,
                width,
                height,
            } => Plane::new_u8(data, *width, *height, *width),
            OwnedPlane::U16 {
                data,
                width,
                height,
                bpc,
            } => Plane::new_u16(data, *width, *height, *width, *bpc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_rows_skip_padding() {
        let data: Vec<u8> = (0..24).collect();
        let p = Plane::new_u8(&data, 5, 3, 8);
        let mut row = [0f32; 5];
        p.row_f32(2, &mut row);
        assert_eq!(row, [16.0, 17.0, 18.0, 19.0, 20.0]);
        assert_eq!(p.get(4, 1), 12);
        let owned = PlaneBuf::from_plane(&p);
        assert_eq!(owned.view().get(4, 1), 12);
        assert_eq!(owned.data.len(), 15);
        let copy = OwnedPlane::copy_from(&p, None);
        assert!(matches!(copy.view().samples, Samples::U8(_)));
        assert_eq!(copy.view().get(4, 1), 12);
        assert_eq!(copy.view().stride, 5);
    }
}
