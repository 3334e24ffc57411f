// SPDX-License-Identifier: MPL-2.0

//! The `results-filename` file: written under a temporary name next to it and renamed over it
//! once complete, so that the file at the given path is always a whole, valid log: the last
//! finished measurement's, or none. A measurement that is abandoned (a flushing seek, an
//! error) leaves the previous file as it was.

use lv_metrics::pool::Pooled;
use lv_metrics::report::{ResultsFormat, ResultsWriter};
use std::io;
use std::path::{Path, PathBuf};

pub struct ResultsFile {
    writer: Option<ResultsWriter>,
    partial: PathBuf,
    path: PathBuf,
}

/// The name a measurement is written under until it is complete. In the same directory,
/// so that the rename cannot cross file systems; named after the process so that two
/// processes writing the same results file do not write into each other's.
fn partial_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(format!(".{}.partial", std::process::id()));
    Ok(path.with_file_name(partial))
}

/// Whether a results file can be written at `path`, checked by creating (and removing) the
/// file it is first written to; the file at `path` itself is left alone.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    let partial = partial_path(path)?;
    std::fs::File::create(&partial)?;
    std::fs::remove_file(&partial)
}

impl ResultsFile {
    pub fn create(
        path: &Path,
        format: ResultsFormat,
        names: &[String],
        version: &str,
    ) -> io::Result<Self> {
        let partial = partial_path(path)?;
        let writer = ResultsWriter::create(&partial, format, names, version)?;
        Ok(ResultsFile {
            writer: Some(writer),
            partial,
            path: path.to_path_buf(),
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
        std::fs::rename(&self.partial, &self.path)
    }
}

impl Drop for ResultsFile {
    fn drop(&mut self) {
        // Committed, the partial file was renamed; otherwise the measurement was abandoned.
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!partial_path(&path).unwrap().exists());
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
        assert!(!partial_path(&path).unwrap().exists());
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
