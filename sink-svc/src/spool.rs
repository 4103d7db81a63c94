//! Local spool files: each open object is encoded into its own file on
//! disk, so memory does not grow with object size or with the number of
//! open objects; uploads stream from these files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The write buffer of each spool file (counted in the memory budget).
pub const BUFFER_BYTES: usize = 16 << 10;

/// A task's spool directory, emptied when the task starts.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool of one task under `root`; files a crashed run left are removed.
    pub fn open(root: &Path, task_dir: &str) -> std::io::Result<Spool> {
        let dir = root.join(task_dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Spool { dir })
    }

    /// The directory, which a task's format writers may also spill into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new spool file and the writer that fills it.
    pub fn create(&self) -> std::io::Result<(PathBuf, SpoolOut)> {
        let path = self.dir.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = File::create(&path)?;
        Ok((path, SpoolOut { file: BufWriter::with_capacity(BUFFER_BYTES, file), written: Arc::default() }))
    }
}

/// Writes into a spool file, counting bytes.
pub struct SpoolOut {
    file: BufWriter<File>,
    written: Arc<AtomicU64>,
}

impl SpoolOut {
    /// Bytes written so far (shared, readable after the writer is consumed).
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }
}

impl Write for SpoolOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for SpoolOut {
    fn drop(&mut self) {
        // A flush error shows as a size mismatch when the file is closed.
        let _ = self.file.flush();
    }
}

/// Checks that a finished spool file holds every byte written into it.
pub fn check_complete(path: &Path, written: &AtomicU64) -> std::io::Result<u64> {
    let on_disk = std::fs::metadata(path)?.len();
    let expected = written.load(Ordering::Relaxed);
    if on_disk != expected {
        return Err(std::io::Error::other(format!(
            "spool file {} holds {on_disk} of {expected} bytes",
            path.display()
        )));
    }
    Ok(on_disk)
}

/// Removes a spool file whose object is uploaded or abandoned.
pub fn remove(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "cannot remove spool file");
    }
}
