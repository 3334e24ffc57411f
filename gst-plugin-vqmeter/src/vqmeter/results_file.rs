// SPDX-License-Identifier: MPL-2.0

//! The `results-filename` file: written under a temporary name next to it and renamed over it
//! once complete, so that the file at the given path is always a whole, valid log: the last
//! finished measurement's, or none. A measurement that is abandoned (a flushing seek, an
//! error) leaves the previous file as it was. A link is followed to its file; a FIFO or a
//! device (`/dev/stdout`) is written through as the measurement goes (`lv_image::output`).

use lv_image::output::{self, Destination};
use lv_metrics::pool::Pooled;
use lv_metrics::report::{ResultsFormat, ResultsWriter};
use std::io;
use std::path::Path;

pub struct ResultsFile {
    writer: Option<ResultsWriter>,
    dest: Destination,
}

impl ResultsFile {
    pub fn create(
        path: &Path,
        format: ResultsFormat,
        names: &[String],
        version: &str,
    ) -> io::Result<Self> {
        let dest = output::destination(path)?;
        let writer = ResultsWriter::create(dest.writing_path(), format, names, version)?;
        Ok(ResultsFile {
            writer: Some(writer),
            dest,
        })
    }

    pub fn frame(&mut self, index: u64, values: &[f64]) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.frame(index, values),
            None => Ok(()),
        }
    }

    /// Writes the pooled block and puts the file in place.
    pub fn commit(mut self, pooled: &[(String, Pooled)]) -> io::Result<()> {
        if let Some(w) = self.writer.take() {
            w.finish(pooled)?;
        }
        self.dest.commit()
    }
}

impl Drop for ResultsFile {
    fn drop(&mut self) {
        // Committed, the partial file was renamed; otherwise the measurement was abandoned.
        self.dest.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lv_image::output::check_writable;

    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vqmeter-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn abandoned_measurement_keeps_the_previous_file() {
        let path = scratch("abandoned.json");
        std::fs::write(&path, "previous").unwrap();
        let names = vec!["psnr_y".to_string()];
        let mut f = ResultsFile::create(&path, ResultsFormat::Json, &names, "test").unwrap();
        f.frame(0, &[40.0]).unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        assert!(!output::destination(&path).unwrap().writing_path().exists());
    }

    #[test]
    fn committed_measurement_replaces_the_file() {
        let path = scratch("committed.csv");
        std::fs::write(&path, "previous").unwrap();
        let names = vec!["psnr_y".to_string()];
        let mut f = ResultsFile::create(&path, ResultsFormat::Csv, &names, "test").unwrap();
        f.frame(0, &[40.0]).unwrap();
        f.commit(&[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "Frame,psnr_y\n0,40.000000\n"
        );
        assert!(!output::destination(&path).unwrap().writing_path().exists());
    }

    #[test]
    fn writability() {
        assert!(check_writable(Path::new("/nonexistent-vqmeter-dir/x.json")).is_err());
        assert!(check_writable(&std::env::temp_dir()).is_err());
        let path = scratch("check.json");
        check_writable(&path).unwrap();
        assert!(!path.exists());
    }
}
