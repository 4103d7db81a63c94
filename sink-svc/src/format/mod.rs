//! Object formats: records in, the bytes of one object out.
//!
//! A writer holds at most one row group (Parquet) or a compressor's window
//! (JSON) in memory; everything else goes to `out` as soon as it is encoded,
//! so the caller bounds memory by calling [`RecordWriter::flush`] on the
//! writers holding the most ([`RecordWriter::buffered_bytes`]).

use std::io::Write;

use hydrate_common::connect::{DecimalFormat, Format};
use hydrate_common::record::{Record, Schema};

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The record does not fit this object (schema, shape, null where not allowed).
    #[error("record does not fit the object: {0}")]
    Record(String),
    /// Writing the output failed.
    #[error("writing the object failed: {0}")]
    Io(#[from] std::io::Error),
    /// The encoder failed.
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// What one object's writer needs to know.
#[derive(Debug, Clone)]
pub struct FormatOptions {
    /// The format and its compression.
    pub format: Format,
    /// How JSON writes decimals.
    pub json_decimal_format: DecimalFormat,
    /// Top-level value fields not written into the object (the partition
    /// fields, which are in the path already).
    pub excluded_fields: Vec<String>,
    /// Rows a Parquet writer buffers before it encodes a row group.
    pub row_group_rows: usize,
}

/// Encodes the records of one object.
pub trait RecordWriter: Send {
    /// Appends one record's value. A record that does not fit leaves the
    /// writer as it was, so the caller may route it elsewhere and go on.
    fn append(&mut self, record: &Record) -> Result<(), FormatError>;
    /// Bytes held in memory and not yet written to the output.
    fn buffered_bytes(&self) -> usize;
    /// Encodes what is buffered into the output now, to free memory.
    fn flush(&mut self) -> Result<(), FormatError>;
    /// Records appended so far.
    fn records(&self) -> u64;
    /// Writes what remains (and the footer); the output is then a complete object.
    fn finish(self: Box<Self>) -> Result<(), FormatError>;
}

/// The object name's extension for `format` (".json", ".json.gz",
/// ".snappy.parquet", ".gz.parquet", ...), as Confluent's S3 sink names them.
pub fn extension(format: &Format) -> String {
    let _ = format;
    unimplemented!("format helper")
}

/// A writer for one object whose records have value schema `schema`
/// (`None`: schemaless), writing into `out`.
pub fn open_writer(
    options: &FormatOptions,
    schema: Option<&Schema>,
    out: Box<dyn Write + Send>,
) -> Result<Box<dyn RecordWriter>, FormatError> {
    let _ = (options, schema, out);
    unimplemented!("format helper")
}
