//! Rate–distortion plots as PNG: a grid of panels (e.g. ladder sizes × metrics), each with one
//! line per method, rate on a logarithmic axis.
//!
//! Text is drawn with plotters' `ab_glyph` backend from a TrueType file found at run time
//! (DejaVu Sans or Liberation Sans, or `$LV_PLOT_FONT`), not with its `ttf` backend, because that
//! one needs fontconfig's development files at build time. Without a font the plot is still
//! written, without text, and `grid_png` says so in its result.

use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// One line of a panel: a method's RD points as (rate, quality).
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Logarithmic x axis with a marker on every point (RD curves); false: linear x axis,
    /// lines only (time series).
    pub log_x: bool,
}

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// Registers a font once; true when one was found.
fn fonts() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let env = std::env::var("LV_PLOT_FONT").ok();
        let candidates = env
            .iter()
            .map(String::as_str)
            .chain(FONT_CANDIDATES.iter().copied());
        for p in candidates {
            if let Ok(bytes) = std::fs::read(p) {
                // plotters keeps a `'static` reference; the font lives for the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// Colours of the series, by index (distinguishable, and the same method keeps its colour
/// across panels because callers keep the series order).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Writes `panels` as a `rows × cols` grid (row-major) into a PNG at `path`.
/// Returns whether text could be drawn (false: no font found, lines only).
pub fn grid_png(
    path: &Path,
    title: &str,
    rows: usize,
    cols: usize,
    panels: &[Panel],
) -> Result<bool, String> {
    let text = fonts();
    draw(path, title, rows, cols, panels, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text)
}

fn draw(
    path: &Path,
    title: &str,
    rows: usize,
    cols: usize,
    panels: &[Panel],
    text: bool,
) -> DrawResult<()> {
    let (pw, ph) = (560u32, 420u32);
    let root =
        BitMapBackend::new(path, (pw * cols as u32, ph * rows as u32 + 40)).into_drawing_area();
    root.fill(&WHITE)?;
    // Shrink the title to the image width (about 0.55 em per character).
    let size = (24.0f64).min(pw as f64 * cols as f64 / (0.55 * title.len().max(1) as f64));
    let body = if text {
        root.titled(title, ("sans-serif", size))?
    } else {
        root.margin(40, 0, 0, 0)
    };
    let areas = body.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, text)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    text: bool,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let all = || panel.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let tx = |x: f64| if panel.log_x { x.log10() } else { x };
    let usable = |x: f64, y: f64| (!panel.log_x || x > 0.0) && x.is_finite() && y.is_finite();
    for &(x, y) in all() {
        if usable(x, y) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        // Nothing to draw: leave the panel blank rather than fail the whole grid.
        return Ok(());
    }
    // The x axis is log10(rate) on a linear coordinate, labelled with the rate itself: plotters'
    // log coordinate labels only the powers of ten, which a 4-point RD curve rarely spans.
    let (x0, x1) = (tx(x0), tx(x1));
    let (xpad, ypad) = (((x1 - x0) * 0.05).max(0.01), ((y1 - y0) * 0.05).max(0.1));
    let (x0, x1, y0, y1) = (x0 - xpad, x1 + xpad, y0 - ypad, y1 + ypad);
    let mut b = ChartBuilder::on(area);
    b.margin(8);
    if text {
        b.caption(&panel.title, ("sans-serif", 16))
            .x_label_area_size(36)
            .y_label_area_size(48);
    }
    let mut chart = b.build_cartesian_2d(x0..x1, y0..y1)?;
    if text {
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| {
                if panel.log_x {
                    format!("{:.0}", 10f64.powf(*v))
                } else {
                    format!("{v:.0}")
                }
            })
            .y_label_formatter(&|v| {
                if y1 - y0 < 1.0 {
                    format!("{v:.3}")
                } else {
                    format!("{v:.1}")
                }
            })
            .label_style(("sans-serif", 12))
            .draw()?;
    } else {
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .draw()?;
    }
    for (i, s) in panel.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| usable(p.0, p.1))
            .map(|&(x, y)| (tx(x), y))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let line = chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
        if text {
            line.label(s.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        if panel.log_x {
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = std::env::temp_dir().join(format!("lvtools-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("grid.png");
        let panel = |t: &str| Panel {
            title: t.into(),
            x_label: "kbps".into(),
            y_label: "VMAF".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    points: vec![(100.0, 40.0), (200.0, 60.0), (400.0, 75.0)],
                },
                Series {
                    name: "b".into(),
                    points: vec![(90.0, 42.0), (180.0, 63.0), (390.0, 77.0)],
                },
            ],
            log_x: true,
        };
        grid_png(&p, "test", 1, 2, &[panel("x"), panel("y")]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // A PNG signature and more than a blank image's worth of data.
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5000, "{} bytes", bytes.len());
        std::fs::remove_dir_all(&dir).ok();
    }
}
