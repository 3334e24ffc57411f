//! The training tiles both trainers learn from: PNG crops of photos (scripts/make_tiles.py),
//! read as the luma the evaluation clips carry and split by photo, so that no photo feeds both
//! training and validation.

use std::path::{Path, PathBuf};

/// A training tile: 8-bit luma.
pub struct Tile {
    pub name: String,
    pub w: usize,
    pub h: usize,
    pub y: Vec<u8>,
}

impl Tile {
    /// The tile cut to even width and height (4:2:0 pictures are made of it).
    pub fn even(self) -> Tile {
        let (w, h) = (self.w / 2 * 2, self.h / 2 * 2);
        if (w, h) == (self.w, self.h) {
            return self;
        }
        let y = (0..h)
            .flat_map(|r| self.y[r * self.w..r * self.w + w].to_vec())
            .collect();
        Tile { w, h, y, ..self }
    }
}

/// Photo id of a tile named `<photo id>_r<row>c<col>.png`.
pub fn photo_id(name: &str) -> &str {
    name.rsplit_once("_r").map(|(p, _)| p).unwrap_or(name)
}

/// Reads a PNG and converts it to BT.709 limited-range luma, the matrix and range of the
/// evaluation clips (Y = 16 + 219 (0.2126 R + 0.7152 G + 0.0722 B) / 255, rounded).
pub fn read_luma(path: &Path) -> Result<Tile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let ch = info.color_type.samples();
    let mut y = Vec::with_capacity(w * h);
    for row in 0..h {
        let line = &buf[row * info.line_size..][..w * ch];
        for px in line.chunks_exact(ch) {
            let v = if ch >= 3 {
                16.0 + 219.0
                    * (0.2126 * px[0] as f64 + 0.7152 * px[1] as f64 + 0.0722 * px[2] as f64)
                    / 255.0
            } else {
                16.0 + 219.0 * px[0] as f64 / 255.0
            };
            y.push(v.round().clamp(0.0, 255.0) as u8);
        }
    }
    Ok(Tile {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        w,
        h,
        y,
    })
}

/// The tiles of `dir`'s PNGs in name order as (training, validation): the photos in `exclude`
/// left out, those in `val_ids` for validation. `admit` sees each tile read: it returns the
/// tile to use, `None` to pass it over, or an error that ends the load.
pub fn load_split(
    dir: &Path,
    exclude: &[String],
    val_ids: &[String],
    mut admit: impl FnMut(Tile) -> Result<Option<Tile>, String>,
) -> Result<(Vec<Tile>, Vec<Tile>), String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for p in names {
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        let id = photo_id(&n);
        if exclude.iter().any(|e| e == id) {
            continue;
        }
        let Some(t) = admit(read_luma(&p)?)? else {
            continue;
        };
        if val_ids.iter().any(|v| v == id) {
            val.push(t);
        } else {
            train.push(t);
        }
    }
    if train.is_empty() {
        return Err(no_training_tiles(dir));
    }
    Ok((train, val))
}

/// The error of [`load_split`] when no training tile is left: a caller that passed tiles
/// over can tell it from the others and say why.
pub fn no_training_tiles(dir: &Path) -> String {
    format!("no training tiles in {}", dir.display())
}
