//! Files that elements write whole (a results log, a saved model): written under a temporary
//! name next to the file and renamed over it once complete, so that the path always holds a
//! whole file, the last complete one or none.
//!
//! A rename replaces the directory entry it lands on, so it is only used where that entry is
//! the file itself: a symbolic link is followed to the file it names (the link stays a link),
//! and a path that is not a regular file (a FIFO, `/dev/stdout`, a terminal) is written
//! through directly, as a user who names one expects.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// How a file that is written whole reaches `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Write `partial`, then rename it over `path` (a regular file, or none yet).
    Replace { path: PathBuf, partial: PathBuf },
    /// Write through `path` as it is (a FIFO, a device, a dangling link).
    Through(PathBuf),
}

impl Destination {
    /// Where the bytes go while the file is being written.
    pub fn writing_path(&self) -> &Path {
        match self {
            Destination::Replace { partial, .. } => partial,
            Destination::Through(path) => path,
        }
    }

    /// Puts a completely written file in place.
    pub fn commit(&self) -> io::Result<()> {
        match self {
            Destination::Replace { path, partial } => std::fs::rename(partial, path),
            Destination::Through(_) => Ok(()),
        }
    }

    /// Removes what an abandoned write left (the temporary file; nothing when written through).
    pub fn abandon(&self) {
        if let Destination::Replace { partial, .. } = self {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// Decides how to write a whole file at `path`. Errors when `path` names a directory or no
/// file at all.
pub fn destination(path: &Path) -> io::Result<Destination> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory",
        )),
        Ok(m) if m.is_file() => replace(&std::fs::canonicalize(path)?),
        Ok(_) => Ok(Destination::Through(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                // A link to a file that does not exist yet: creating through it makes that file.
                Ok(Destination::Through(path.to_path_buf()))
            } else {
                replace(path)
            }
        }
        Err(e) => Err(e),
    }
}

/// The temporary name: in the same directory, so that the rename cannot cross file systems;
/// hidden, and named after the process so that two processes writing the same file do not
/// write into each other's.
fn replace(path: &Path) -> io::Result<Destination> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
    })?;
    let mut partial = OsString::from(".");
    partial.push(name);
    partial.push(format!(".{}.partial", std::process::id()));
    Ok(Destination::Replace {
        partial: path.with_file_name(partial),
        path: path.to_path_buf(),
    })
}

/// Whether a whole file can be written at `path`, found by creating (and removing) the file
/// it is first written to; whatever is at `path` is left alone. Written through, only its
/// permission bits are looked at: opening a FIFO to try it would hand its reader an end of
/// file.
pub fn check_writable(path: &Path) -> io::Result<()> {
    match destination(path)? {
        Destination::Replace { partial, .. } => {
            std::fs::File::create(&partial)?;
            std::fs::remove_file(&partial)
        }
        Destination::Through(p) => match std::fs::metadata(&p) {
            Ok(m) if m.permissions().readonly() => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "it is not writable",
            )),
            // A dangling link: what it names is created when the file is written.
            _ => Ok(()),
        },
    }
}

/// Writes `bytes` as the whole file at `path` (see the module's documentation).
pub fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dest = destination(path)?;
    let res = std::fs::write(dest.writing_path(), bytes).and_then(|_| dest.commit());
    if res.is_err() {
        dest.abandon();
    }
    res
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lv-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let p = scratch("plain.txt");
        std::fs::write(&p, "old").unwrap();
        write_whole(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert!(matches!(
            destination(&p).unwrap(),
            Destination::Replace { .. }
        ));
    }

    #[test]
    fn a_link_stays_a_link_and_its_file_is_written() {
        let target = scratch("target.txt");
        let link = scratch("link.txt");
        std::fs::write(&target, "old").unwrap();
        symlink(&target, &link).unwrap();
        write_whole(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn a_dangling_link_creates_its_file() {
        let target = scratch("later.txt");
        let link = scratch("dangling.txt");
        symlink(&target, &link).unwrap();
        write_whole(&link, b"made").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "made");
    }

    #[test]
    fn a_device_or_fifo_is_written_through() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        assert_eq!(
            destination(null).unwrap(),
            Destination::Through(null.into())
        );
        write_whole(null, b"x").unwrap();
        assert!(std::fs::metadata(null)
            .unwrap()
            .file_type()
            .is_char_device());
        let fifo = scratch("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(
                destination(&fifo).unwrap(),
                Destination::Through(fifo.clone())
            );
        }
    }

    #[test]
    fn a_directory_is_refused() {
        assert!(destination(&std::env::temp_dir()).is_err());
        assert!(check_writable(&std::env::temp_dir()).is_err());
        assert!(check_writable(Path::new("/nonexistent-lv-dir/x")).is_err());
    }
}
