//! Confluent's `ByteArrayFormat`: each record's raw value bytes, each
//! followed by the separator (`format.bytearray.separator`, a newline by
//! default), as Kafka's ByteArrayConverter hands them over.

use hydrate_common::connect::GzipLevel;
use hydrate_common::record::{Record, SchemaType, Value};

use super::compress::Output;
use super::{FormatError, RecordWriter};

/// Writes raw values with a separator.
pub(super) struct ByteArrayWriter {
    out: Output,
    separator: Vec<u8>,
    records: u64,
}

impl ByteArrayWriter {
    pub(super) fn new(
        gzip: Option<GzipLevel>,
        separator: Option<&str>,
        out: Box<dyn std::io::Write + Send>,
    ) -> Self {
        // Confluent's default is Java's System.lineSeparator().
        let separator = separator.unwrap_or("\n").as_bytes().to_vec();
        Self { out: Output::new(out, gzip), separator, records: 0 }
    }
}

/// The value's bytes; strings count as their UTF-8 bytes.
fn raw_bytes(record: &Record) -> Result<&[u8], FormatError> {
    if let Some(schema) = &record.value.schema
        && !matches!(schema.schema_type(), SchemaType::Bytes | SchemaType::String)
    {
        return Err(FormatError::Record(format!(
            "ByteArrayFormat writes bytes or string values, not {}",
            schema.schema_type()
        )));
    }
    match &record.value.value {
        Value::Bytes(b) => Ok(b),
        Value::String(s) => Ok(s.as_bytes()),
        Value::Null => Err(FormatError::Record("ByteArrayFormat cannot write a null value".into())),
        other => Err(FormatError::Record(format!("ByteArrayFormat writes bytes, not {}", other.kind()))),
    }
}

impl RecordWriter for ByteArrayWriter {
    fn append(&mut self, record: &Record) -> Result<(), FormatError> {
        let bytes = raw_bytes(record)?;
        self.out.write_all(bytes)?;
        self.out.write_all(&self.separator)?;
        self.records += 1;
        Ok(())
    }

    fn fits(&mut self, record: &Record) -> Result<(), FormatError> {
        raw_bytes(record).map(|_| ())
    }

    fn buffered_bytes(&self) -> usize {
        self.out.buffered_bytes()
    }

    fn flush(&mut self) -> Result<(), FormatError> {
        Ok(self.out.flush()?)
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn finish(self: Box<Self>) -> Result<(), FormatError> {
        Ok(self.out.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use hydrate_common::connect::{DecimalFormat, Format};
    use hydrate_common::record::{Schema, SchemaAndValue};

    use super::super::compress::tests::{SharedBuf, gunzip};
    use super::super::{FormatOptions, open_writer};
    use super::*;

    fn write(gzip: Option<GzipLevel>, separator: Option<&str>, values: &[Value]) -> Vec<u8> {
        let options = FormatOptions {
            format: Format::ByteArray {
                gzip,
                extension: ".bin".into(),
                separator: separator.map(Into::into),
            },
            json_decimal_format: DecimalFormat::Base64,
            excluded_fields: Vec::new(),
            row_group_rows: 0,
            spill_dir: None,
        };
        let buf = SharedBuf::default();
        let mut w = open_writer(&options, None, Box::new(buf.clone())).unwrap();
        for v in values {
            w.append(&Record::new("t", SchemaAndValue::schemaless(v.clone()))).unwrap();
        }
        assert_eq!(w.records(), values.len() as u64);
        w.finish().unwrap();
        buf.bytes()
    }

    #[test]
    fn raw_values_with_the_separator_after_each() {
        let values = [Value::Bytes(vec![0, 1, 255]), Value::String("héllo".into())];
        assert_eq!(write(None, None, &values), b"\x00\x01\xff\nh\xc3\xa9llo\n");
        assert_eq!(write(None, Some("||"), &values), b"\x00\x01\xff||h\xc3\xa9llo||");
        assert_eq!(gunzip(&write(Some(GzipLevel(None)), Some(""), &values)), b"\x00\x01\xffh\xc3\xa9llo");
    }

    #[test]
    fn other_values_are_refused_and_the_writer_goes_on() {
        let buf = SharedBuf::default();
        let mut w = ByteArrayWriter::new(None, None, Box::new(buf.clone()));
        let int = Record::new("t", SchemaAndValue::new(Schema::of(SchemaType::Int32), Value::Int32(1)));
        assert!(matches!(w.append(&int), Err(FormatError::Record(m)) if m.contains("INT32")));
        let null = Record::new("t", SchemaAndValue::NULL);
        assert!(matches!(w.append(&null), Err(FormatError::Record(m)) if m.contains("null")));
        w.append(&Record::new("t", SchemaAndValue::schemaless(Value::Bytes(b"ok".to_vec())))).unwrap();
        assert_eq!(w.records(), 1);
        Box::new(w).finish().unwrap();
        assert_eq!(buf.bytes(), b"ok\n");
    }
}
