//! Rows a Parquet writer sets aside on local disk when the memory budget
//! asks it to free memory before it has a row group's worth.
//!
//! Writing those rows as a row group would free them too, but every row
//! group keeps its metadata (about 1 KiB a column) in memory until the file
//! closes: a thousand open files flushed again and again would grow by that
//! much each time. Set aside as Arrow IPC, they cost nothing in memory and
//! go into the file, in order, as part of a full-sized row group later.
//!
//! Each spill is one IPC stream (schema, batch, end) appended to the file,
//! which is opened only while it is written or read back, so a thousand
//! writers do not hold a thousand more descriptors and write buffers.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use super::FormatError;

/// The write and read buffer, only while a spill is written or read back.
const BUFFER_BYTES: usize = 64 << 10;

/// One writer's set-aside rows.
pub(super) struct Spill {
    path: PathBuf,
    /// Streams written (one per [`Spill::push`]).
    streams: usize,
    rows: usize,
}

impl Spill {
    /// A spill in `dir`; nothing is created until the first push.
    pub(super) fn new(dir: &Path) -> Self {
        let path = dir.join(format!("{}.spill", uuid::Uuid::new_v4().simple()));
        Spill { path, streams: 0, rows: 0 }
    }

    /// Rows set aside and not yet taken back.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Appends `batch` to the file.
    pub(super) fn push(&mut self, batch: &RecordBatch) -> Result<(), FormatError> {
        let file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        let mut writer = StreamWriter::try_new(BufWriter::with_capacity(BUFFER_BYTES, file), &batch.schema())
            .map_err(ipc)?;
        writer.write(batch).map_err(ipc)?;
        // Not synced: a crash empties the spool directory anyway.
        writer.finish().map_err(ipc)?;
        writer.into_inner().map_err(ipc)?.flush()?;
        self.streams += 1;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Reads every batch back, oldest first, handing each to `take`; the
    /// file is then removed and the spill is empty.
    pub(super) fn drain(
        &mut self,
        mut take: impl FnMut(RecordBatch) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        if self.streams == 0 {
            return Ok(());
        }
        let mut input = BufReader::with_capacity(BUFFER_BYTES, File::open(&self.path)?);
        for _ in 0..self.streams {
            // Unbuffered over the shared reader, so each stream stops at its own end.
            for batch in StreamReader::try_new(&mut input, None).map_err(ipc)? {
                take(batch.map_err(ipc)?)?;
            }
        }
        drop(input);
        self.remove();
        Ok(())
    }

    fn remove(&mut self) {
        if self.streams > 0 {
            crate::spool::remove(&self.path);
        }
        self.streams = 0;
        self.rows = 0;
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.remove();
    }
}

fn ipc(e: arrow::error::ArrowError) -> FormatError {
    match e {
        arrow::error::ArrowError::IoError(_, io) => FormatError::Io(io),
        other => FormatError::Encode(format!("spilled rows: {other}")),
    }
}
