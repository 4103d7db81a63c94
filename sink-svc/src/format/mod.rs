//! Object formats: records in, the bytes of one object out.
//!
//! A writer holds at most one batch of rows and the Parquet writer's
//! in-progress row group (Parquet) or a compressor's window (JSON, bytes) in
//! memory; everything else goes to `out` as soon as it is encoded, so the
//! caller bounds memory by calling [`RecordWriter::flush`] on the writers
//! holding the most ([`RecordWriter::buffered_bytes`]).
//!
//! - [`json`]: Confluent's `JsonFormat`, one payload per line.
//! - [`parquet`]: Confluent's `ParquetFormat`, through Arrow ([`arrow_schema`], [`columns`]).
//! - [`bytes`]: Confluent's `ByteArrayFormat`.

mod arrow_schema;
mod bytes;
mod columns;
mod compress;
mod decimal;
mod json;
mod mismatch;
mod parquet;
mod spill;

use std::io::Write;
use std::path::PathBuf;

use hydrate_common::connect::{DecimalFormat, Format, ParquetCodec};
use hydrate_common::record::{Record, Schema};

pub use arrow_schema::arrow_schema;

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
    /// Rows a Parquet writer buffers before it encodes a row group
    /// (0: [`DEFAULT_ROW_GROUP_ROWS`]).
    pub row_group_rows: usize,
    /// Where a Parquet writer sets rows aside when it must free memory
    /// before it has a row group's worth (None: it writes a small row group).
    pub spill_dir: Option<PathBuf>,
}

/// Rows per Parquet row group when [`FormatOptions::row_group_rows`] is 0.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 128 * 1024;

/// Encodes the records of one object.
pub trait RecordWriter: Send {
    /// Appends one record's value. A record that does not fit leaves the
    /// writer as it was, so the caller may route it elsewhere and go on.
    fn append(&mut self, record: &Record) -> Result<(), FormatError>;
    /// Whether [`RecordWriter::append`] would take `record`; writes nothing.
    /// A record goes into several objects (value, keys, headers) only once
    /// each of them is known to take it, so they stay aligned.
    fn fits(&mut self, record: &Record) -> Result<(), FormatError>;
    /// Bytes held in memory and not yet written to the output.
    fn buffered_bytes(&self) -> usize;
    /// Encodes what is buffered into the output now (or, for Parquet with a
    /// spill directory, sets it aside on local disk), to free memory.
    fn flush(&mut self) -> Result<(), FormatError>;
    /// Of [`RecordWriter::buffered_bytes`], what a flush cannot free (a
    /// Parquet writer's state and the metadata of its row groups).
    fn retained_bytes(&self) -> usize {
        0
    }
    /// What a flush adds to [`RecordWriter::retained_bytes`] for good (a
    /// Parquet row group's metadata, kept for the footer).
    fn flush_cost(&self) -> usize {
        0
    }
    /// Rows a flush set aside on local disk so far, in all (Parquet with a
    /// spill directory), rather than encoding them into a small row group.
    fn set_aside_rows(&self) -> u64 {
        0
    }
    /// Records appended so far.
    fn records(&self) -> u64;
    /// Writes what remains (and the footer); the output is then a complete object.
    fn finish(self: Box<Self>) -> Result<(), FormatError>;
}

/// The object name's extension for `format` (".json", ".json.gz",
/// ".snappy.parquet", ".gz.parquet", ...), as Confluent's S3 sink names them:
/// JSON and bytes append the compression's extension to their own, Parquet
/// puts the codec's (parquet-mr's `CompressionCodecName.getExtension`) first.
pub fn extension(format: &Format) -> String {
    let gz = |gzip: bool| if gzip { ".gz" } else { "" };
    match format {
        Format::Json { gzip } => format!(".json{}", gz(gzip.is_some())),
        Format::ByteArray { gzip, extension, .. } => format!("{extension}{}", gz(gzip.is_some())),
        Format::Parquet { codec } => {
            let codec = match codec {
                ParquetCodec::None => "",
                ParquetCodec::Snappy => ".snappy",
                ParquetCodec::Gzip => ".gz",
                ParquetCodec::Zstd => ".zstd",
                // Hydrate writes LZ4_RAW (Hadoop-framed LZ4 is deprecated in
                // Parquet), so the name says so rather than ".lz4hadoop".
                ParquetCodec::Lz4 => ".lz4raw",
            };
            format!("{codec}.parquet")
        }
    }
}

/// A writer for one object whose records have value schema `schema`
/// (`None`: schemaless), writing into `out`.
pub fn open_writer(
    options: &FormatOptions,
    schema: Option<&Schema>,
    out: Box<dyn Write + Send>,
) -> Result<Box<dyn RecordWriter>, FormatError> {
    Ok(match &options.format {
        Format::Json { gzip } => Box::new(json::JsonWriter::new(options, *gzip, out)),
        Format::ByteArray { gzip, separator, .. } => {
            Box::new(bytes::ByteArrayWriter::new(*gzip, separator.as_deref(), out))
        }
        Format::Parquet { codec } => {
            let schema = schema.ok_or_else(|| {
                FormatError::Record("ParquetFormat needs records with a value schema".into())
            })?;
            Box::new(parquet::ParquetWriter::new(options, *codec, schema, out)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use hydrate_common::connect::GzipLevel;

    use super::*;

    #[test]
    fn extensions_follow_confluent() {
        let parquet = |codec| extension(&Format::Parquet { codec });
        assert_eq!(parquet(ParquetCodec::None), ".parquet");
        assert_eq!(parquet(ParquetCodec::Snappy), ".snappy.parquet");
        assert_eq!(parquet(ParquetCodec::Gzip), ".gz.parquet");
        assert_eq!(parquet(ParquetCodec::Zstd), ".zstd.parquet");
        assert_eq!(parquet(ParquetCodec::Lz4), ".lz4raw.parquet");
        assert_eq!(extension(&Format::Json { gzip: None }), ".json");
        assert_eq!(extension(&Format::Json { gzip: Some(GzipLevel(None)) }), ".json.gz");
        let bytes = |gzip| Format::ByteArray { gzip, extension: ".bin".into(), separator: None };
        assert_eq!(extension(&bytes(None)), ".bin");
        assert_eq!(extension(&bytes(Some(GzipLevel(Some(9))))), ".bin.gz");
    }

    #[test]
    fn parquet_needs_a_schema() {
        let options = FormatOptions {
            format: Format::Parquet { codec: ParquetCodec::Snappy },
            json_decimal_format: DecimalFormat::Base64,
            excluded_fields: Vec::new(),
            row_group_rows: 0,
            spill_dir: None,
        };
        let err = open_writer(&options, None, Box::new(Vec::new())).err();
        assert!(matches!(err, Some(FormatError::Record(m)) if m.contains("schema")));
    }
}
