//! The output of the line formats (JSON, bytes): the object's bytes as they
//! are, or gzip-compressed as Confluent's `s3.compression.type=gzip` does.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use hydrate_common::connect::GzipLevel;

/// The most a deflate stream holds back before it emits a block (zlib's
/// 16K-symbol literal buffer); a sync flush pushes out no more than this.
const GZIP_PENDING_MAX: usize = 64 * 1024;

/// Where a line format's bytes go.
pub(super) struct Output {
    sink: Sink,
    /// Bytes given to the compressor since it last emitted everything.
    pending: usize,
}

enum Sink {
    Plain(Box<dyn Write + Send>),
    Gzip(Box<GzEncoder<Box<dyn Write + Send>>>),
}

impl Output {
    /// Writes into `out`, through gzip at `gzip`'s level when set.
    pub(super) fn new(out: Box<dyn Write + Send>, gzip: Option<GzipLevel>) -> Self {
        let sink = match gzip {
            None => Sink::Plain(out),
            // Java's Deflater.DEFAULT_COMPRESSION (-1) is level 6, as is flate2's default.
            Some(GzipLevel(level)) => {
                let level = level.map_or(Compression::default(), |l| Compression::new(l.min(9)));
                Sink::Gzip(Box::new(GzEncoder::new(out, level)))
            }
        };
        Self { sink, pending: 0 }
    }

    pub(super) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(out) => out.write_all(bytes),
            Sink::Gzip(gz) => {
                gz.write_all(bytes)?;
                self.pending = self.pending.saturating_add(bytes.len());
                Ok(())
            }
        }
    }

    /// Bytes accepted but possibly not yet in the output: what a deflate
    /// stream may hold back. The compressor's fixed state is not counted:
    /// flushing would not free it.
    pub(super) fn buffered_bytes(&self) -> usize {
        match self.sink {
            Sink::Plain(_) => 0,
            Sink::Gzip(_) => self.pending.min(GZIP_PENDING_MAX),
        }
    }

    /// Pushes everything accepted so far into the output (a gzip sync flush).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.pending = 0;
        match &mut self.sink {
            Sink::Plain(out) => out.flush(),
            Sink::Gzip(gz) => gz.flush(),
        }
    }

    /// Ends the stream (gzip trailer) and flushes the output.
    pub(super) fn finish(self) -> io::Result<()> {
        match self.sink {
            Sink::Plain(mut out) => out.flush(),
            Sink::Gzip(gz) => gz.finish()?.flush(),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `Write` whose bytes a test can read after the writer consumed it.
    #[derive(Clone, Default)]
    pub(crate) struct SharedBuf(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl SharedBuf {
        pub(crate) fn bytes(&self) -> Vec<u8> {
            self.0.lock().map(|b| b.clone()).unwrap_or_default()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.lock().map(|b| b.len()).unwrap_or_default()
        }
    }

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn gzip_round_trips_and_flush_empties_the_window() {
        let buf = SharedBuf::default();
        let mut out = Output::new(Box::new(buf.clone()), Some(GzipLevel(Some(9))));
        out.write_all(b"hello ").unwrap();
        assert_eq!(out.buffered_bytes(), 6);
        out.flush().unwrap();
        assert_eq!(out.buffered_bytes(), 0);
        let after_flush = buf.len();
        assert!(after_flush > 0, "a sync flush writes the compressed bytes out");
        out.write_all(b"world").unwrap();
        out.finish().unwrap();
        assert_eq!(gunzip(&buf.bytes()), b"hello world");
    }

    #[test]
    fn plain_passes_bytes_through() {
        let buf = SharedBuf::default();
        let mut out = Output::new(Box::new(buf.clone()), None);
        out.write_all(b"abc").unwrap();
        assert_eq!(out.buffered_bytes(), 0);
        out.finish().unwrap();
        assert_eq!(buf.bytes(), b"abc");
    }
}
