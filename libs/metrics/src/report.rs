//! Collecting per-frame scores for pooling, and writing them in libvmaf's log layouts
//! (JSON, CSV, XML) so tools that read libvmaf logs read ours.
//!
//! Frames are streamed to the file as they become final; the pooled block is written at
//! the end. Values are kept per metric (one f64 a frame) because the percentile lows need
//! every frame.

use super::pool::Pooled;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Per-metric score columns for a range of frames.
#[derive(Clone, Debug, Default)]
pub struct Collector {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl Collector {
    pub fn new(names: &[String]) -> Self {
        Collector {
            names: names.to_vec(),
            columns: vec![Vec::new(); names.len()],
        }
    }

    pub fn push(&mut self, values: &[f64]) {
        for (c, v) in self.columns.iter_mut().zip(values) {
            c.push(*v);
        }
    }

    pub fn frames(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Pooled statistics per metric, in name order; empty when no frame was collected.
    pub fn pooled(&self) -> Vec<(String, Pooled)> {
        self.names
            .iter()
            .cloned()
            .zip(&self.columns)
            .filter_map(|(n, c)| Pooled::from_scores(c).map(|p| (n, p)))
            .collect()
    }

    pub fn clear(&mut self) {
        for c in &mut self.columns {
            c.clear();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultsFormat {
    Json,
    Csv,
    Xml,
}

/// Streams a results file. `finish` must be called to write the pooled block.
pub struct ResultsWriter {
    out: BufWriter<File>,
    format: ResultsFormat,
    names: Vec<String>,
    frames_written: usize,
}

/// A pooled block's statistics in libvmaf's order, as its writers print them.
fn pooled_fields(s: &Pooled) -> [(&'static str, String); 6] {
    [
        ("min", num(s.min)),
        ("max", num(s.max)),
        ("mean", num(s.mean)),
        ("harmonic_mean", num(s.harmonic_mean)),
        ("low_1pct", num(s.low_1pct)),
        ("low_5pct", num(s.low_5pct)),
    ]
}

fn num(v: f64) -> String {
    // libvmaf prints 6 decimals; NaN/inf are not JSON, so they become null there.
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "null".to_string()
    }
}

impl ResultsWriter {
    pub fn create(
        path: &Path,
        format: ResultsFormat,
        names: &[String],
        version: &str,
    ) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        match format {
            ResultsFormat::Json => {
                write!(out, "{{\n  \"version\": \"{version}\",\n  \"frames\": [")?
            }
            ResultsFormat::Csv => {
                write!(out, "Frame")?;
                for n in names {
                    write!(out, ",{n}")?;
                }
                writeln!(out)?;
            }
            ResultsFormat::Xml => {
                writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
                writeln!(out, "<VMAF version=\"{version}\">")?;
                writeln!(out, "  <frames>")?;
            }
        }
        Ok(ResultsWriter {
            out,
            format,
            names: names.to_vec(),
            frames_written: 0,
        })
    }

    pub fn frame(&mut self, index: u64, values: &[f64]) -> io::Result<()> {
        let o = &mut self.out;
        match self.format {
            ResultsFormat::Json => {
                if self.frames_written > 0 {
                    write!(o, ",")?;
                }
                write!(
                    o,
                    "\n    {{\n      \"frameNum\": {index},\n      \"metrics\": {{"
                )?;
                for (i, (n, v)) in self.names.iter().zip(values).enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(o, "{sep}\n        \"{n}\": {}", num(*v))?;
                }
                write!(o, "\n      }}\n    }}")?;
            }
            ResultsFormat::Csv => {
                write!(o, "{index}")?;
                for v in values {
                    write!(o, ",{}", num(*v))?;
                }
                writeln!(o)?;
            }
            ResultsFormat::Xml => {
                write!(o, "    <frame frameNum=\"{index}\"")?;
                for (n, v) in self.names.iter().zip(values) {
                    write!(o, " {n}=\"{}\"", num(*v))?;
                }
                writeln!(o, " />")?;
            }
        }
        self.frames_written += 1;
        Ok(())
    }

    /// Writes the pooled block and closes the file. CSV has no pooled block (as libvmaf's).
    pub fn finish(mut self, pooled: &[(String, Pooled)]) -> io::Result<()> {
        let o = &mut self.out;
        match self.format {
            ResultsFormat::Json => {
                write!(o, "\n  ],\n  \"pooled_metrics\": {{")?;
                for (i, (n, s)) in pooled.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    let fields: Vec<String> = pooled_fields(s)
                        .iter()
                        .map(|(k, v)| format!("\n      \"{k}\": {v}"))
                        .collect();
                    write!(o, "{sep}\n    \"{n}\": {{{}\n    }}", fields.join(","))?;
                }
                writeln!(o, "\n  }},\n  \"aggregate_metrics\": {{}}\n}}")?;
            }
            ResultsFormat::Csv => {}
            ResultsFormat::Xml => {
                writeln!(o, "  </frames>")?;
                writeln!(o, "  <pooled_metrics>")?;
                for (n, s) in pooled {
                    write!(o, "    <metric name=\"{n}\"")?;
                    for (k, v) in pooled_fields(s) {
                        write!(o, " {k}=\"{v}\"")?;
                    }
                    writeln!(o, " />")?;
                }
                writeln!(o, "  </pooled_metrics>")?;
                writeln!(o, "  <aggregate_metrics />")?;
                writeln!(o, "</VMAF>")?;
            }
        }
        self.out.flush()
    }
}
