//! A small YUV4MPEG2 reader and writer for tools, tests and benches.
//!
//! Written here rather than taken from a crate because the maintained `y4m` crate has no
//! 10-bit little-endian sample access in the shape our planes want and we need only the
//! header fields GStreamer's `y4menc` and ffmpeg write.

use std::io::{self, BufRead, Write};

pub use lv_image::plane::Chroma;

#[derive(Clone, Debug)]
pub struct Header {
    pub width: usize,
    pub height: usize,
    pub chroma: Chroma,
    pub bpc: u32,
    pub fps_num: u32,
    pub fps_den: u32,
}

impl Header {
    pub fn plane_dims(&self, i: usize) -> (usize, usize) {
        if i == 0 {
            return (self.width, self.height);
        }
        let (sx, sy) = self.chroma.shifts();
        (
            (self.width + (1 << sx) - 1) >> sx,
            (self.height + (1 << sy) - 1) >> sy,
        )
    }
    pub fn n_planes(&self) -> usize {
        if self.chroma == Chroma::Mono {
            1
        } else {
            3
        }
    }
}

/// One frame; samples widened to u16 whatever the depth (packed, stride == width).
#[derive(Clone, Debug)]
pub struct Frame {
    pub planes: Vec<Vec<u16>>,
}

pub struct Reader<R: BufRead> {
    inner: R,
    pub header: Header,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl<R: BufRead> Reader<R> {
    pub fn new(mut inner: R) -> io::Result<Self> {
        let mut line = Vec::new();
        inner.read_until(b'\n', &mut line)?;
        let text = String::from_utf8_lossy(&line);
        let mut it = text.split_ascii_whitespace();
        if it.next() != Some("YUV4MPEG2") {
            return Err(bad("not a YUV4MPEG2 stream"));
        }
        let (mut w, mut h, mut chroma, mut bpc, mut fps) = (0, 0, Chroma::C420, 8, (25, 1));
        for tok in it {
            let (k, v) = tok.split_at(1);
            match k {
                "W" => w = v.parse().map_err(|_| bad("bad width"))?,
                "H" => h = v.parse().map_err(|_| bad("bad height"))?,
                "F" => {
                    let mut p = v.split(':');
                    let n = p.next().and_then(|s| s.parse().ok()).unwrap_or(25);
                    let d = p.next().and_then(|s| s.parse().ok()).unwrap_or(1);
                    fps = (n, d);
                }
                "C" => {
                    let (c, b) = parse_colorspace(v)?;
                    chroma = c;
                    bpc = b;
                }
                _ => {}
            }
        }
        if w == 0 || h == 0 {
            return Err(bad("missing frame size"));
        }
        Ok(Reader {
            inner,
            header: Header {
                width: w,
                height: h,
                chroma,
                bpc,
                fps_num: fps.0,
                fps_den: fps.1,
            },
        })
    }

    /// The next frame, or `None` at a clean end of stream.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let mut line = Vec::new();
        if self.inner.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if !line.starts_with(b"FRAME") {
            return Err(bad("missing FRAME marker"));
        }
        let bytes_per = if self.header.bpc > 8 { 2 } else { 1 };
        let mut planes = Vec::with_capacity(3);
        for i in 0..self.header.n_planes() {
            let (pw, ph) = self.header.plane_dims(i);
            let mut raw = vec![0u8; pw * ph * bytes_per];
            self.inner.read_exact(&mut raw)?;
            let plane = if bytes_per == 1 {
                raw.into_iter().map(u16::from).collect()
            } else {
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect()
            };
            planes.push(plane);
        }
        Ok(Some(Frame { planes }))
    }
}

fn parse_colorspace(v: &str) -> io::Result<(Chroma, u32)> {
    let (base, rest) = if let Some(r) = v.strip_prefix("420") {
        (Chroma::C420, r)
    } else if let Some(r) = v.strip_prefix("422") {
        (Chroma::C422, r)
    } else if let Some(r) = v.strip_prefix("444") {
        (Chroma::C444, r)
    } else if let Some(r) = v.strip_prefix("mono") {
        (Chroma::Mono, r)
    } else {
        return Err(bad(format!("unsupported colorspace C{v}")));
    };
    let bpc = match rest.strip_prefix('p') {
        Some(d) if !d.is_empty() => d.parse().map_err(|_| bad("bad bit depth"))?,
        _ => 8,
    };
    Ok((base, bpc))
}

/// Reads a whole file.
pub fn read_all(path: &std::path::Path) -> io::Result<(Header, Vec<Frame>)> {
    let f = std::fs::File::open(path)?;
    let mut r = Reader::new(io::BufReader::new(f))?;
    let mut frames = Vec::new();
    while let Some(fr) = r.next_frame()? {
        frames.push(fr);
    }
    Ok((r.header, frames))
}

/// Writes a header and frames in the layout `Reader` reads.
pub fn write_all(mut w: impl Write, h: &Header, frames: &[Frame]) -> io::Result<()> {
    let c = match (h.chroma, h.bpc) {
        (Chroma::C420, 8) => "420jpeg".to_string(),
        (Chroma::Mono, 8) => "mono".to_string(),
        (Chroma::C420, b) => format!("420p{b}"),
        (Chroma::C422, 8) => "422".to_string(),
        (Chroma::C422, b) => format!("422p{b}"),
        (Chroma::C444, 8) => "444".to_string(),
        (Chroma::C444, b) => format!("444p{b}"),
        (Chroma::Mono, b) => format!("mono{b}"),
    };
    writeln!(
        w,
        "YUV4MPEG2 W{} H{} F{}:{} Ip A1:1 C{}",
        h.width, h.height, h.fps_num, h.fps_den, c
    )?;
    for f in frames {
        w.write_all(b"FRAME\n")?;
        for p in &f.planes {
            if h.bpc > 8 {
                for s in p {
                    w.write_all(&s.to_le_bytes())?;
                }
            } else {
                let b: Vec<u8> = p.iter().map(|&s| s as u8).collect();
                w.write_all(&b)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_10bit_422() {
        let h = Header {
            width: 5,
            height: 3,
            chroma: Chroma::C422,
            bpc: 10,
            fps_num: 30,
            fps_den: 1,
        };
        let planes = (0..3)
            .map(|i| {
                let (w, hh) = h.plane_dims(i);
                (0..w * hh).map(|v| (v * 37 % 1024) as u16).collect()
            })
            .collect();
        let frames = vec![Frame { planes }];
        let mut buf = Vec::new();
        write_all(&mut buf, &h, &frames).unwrap();
        let mut r = Reader::new(io::Cursor::new(buf)).unwrap();
        assert_eq!(r.header.plane_dims(1), (3, 3));
        assert_eq!(r.header.bpc, 10);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.planes, frames[0].planes);
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let data = b"YUV4MPEG2 W4 H2 F25:1 Cmono\nFRAME\n\x01\x02".to_vec();
        let mut r = Reader::new(io::Cursor::new(data)).unwrap();
        assert!(r.next_frame().is_err());
    }
}
