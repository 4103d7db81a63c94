//! Confluent's `ParquetFormat`, written with Arrow: records are appended to
//! column builders, handed to the Parquet writer a batch at a time (where
//! they are encoded and compressed into pages), and the row group is closed
//! every `row_group_rows` rows or on [`RecordWriter::flush`]. A flush with
//! no row group under way sets the rows aside on local disk instead
//! ([`Spill`]), so small flushes do not leave small row groups behind.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use hydrate_common::connect::ParquetCodec;
use hydrate_common::record::{Record, Schema, Value};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::arrow_schema::arrow_schema;
use super::columns::{ColumnBuilder, same_fields};
use super::spill::Spill;
use super::{DEFAULT_ROW_GROUP_ROWS, FormatError, FormatOptions, RecordWriter};

/// Rows collected in builders before they go to the Parquet writer: large
/// enough to amortise a batch's fixed cost, small enough to stay cheap.
const BATCH_ROWS: usize = 8192;
/// Builder bytes after which a batch goes to the Parquet writer early (wide rows).
const BATCH_BYTES: usize = 4 << 20;
/// How often (in rows) the writer measures what it holds, for the memory
/// budget and against [`BATCH_BYTES`]: often enough that a builder doubling
/// its buffers shows soon after.
const MEASURE_EVERY: usize = 16;
/// What an open Parquet writer holds besides its rows, per column: encoders,
/// page and index builders (measured: about 1.8 KiB a column; see
/// `tests/open_files_memory.rs`).
const OPEN_BYTES_PER_COLUMN: usize = 2 << 10;
/// What each row group written so far keeps until the footer, per column:
/// its chunk's metadata, statistics and page index entries (measured: about 1 KiB).
const ROW_GROUP_BYTES_PER_COLUMN: usize = 1 << 10;
/// parquet-mr's default zstd level, which Confluent's writer uses.
const ZSTD_LEVEL: i32 = 3;

/// One written column: the record field it comes from and its builder.
struct TopColumn {
    index: usize,
    name: String,
    builder: ColumnBuilder,
}

/// Writes one Parquet object.
pub(super) struct ParquetWriter {
    /// The value schema the object was opened with.
    schema: Schema,
    /// The last other schema allocation found to have the same fields.
    matched: Option<Schema>,
    arrow: SchemaRef,
    columns: Vec<TopColumn>,
    /// Rows in the builders.
    rows: usize,
    /// What [`RecordWriter::buffered_bytes`] says: measured every
    /// [`MEASURE_EVERY`] rows and after each batch (measuring walks every
    /// column, too dear for every row).
    measured: usize,
    batch_rows: usize,
    writer: ArrowWriter<Box<dyn Write + Send>>,
    /// Rows set aside by flushes, older than the builders' (None: flushes
    /// write row groups).
    spill: Option<Spill>,
    /// Rows set aside so far, in all.
    set_aside: u64,
    records: u64,
    /// Set if a checked record still failed to append (a bug): the columns
    /// may disagree in length, so nothing more is written.
    broken: Option<String>,
}

fn compression(codec: ParquetCodec) -> Result<Compression, FormatError> {
    Ok(match codec {
        ParquetCodec::None => Compression::UNCOMPRESSED,
        ParquetCodec::Snappy => Compression::SNAPPY,
        ParquetCodec::Gzip => Compression::GZIP(GzipLevel::default()),
        ParquetCodec::Zstd => {
            Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).map_err(|e| FormatError::Encode(e.to_string()))?)
        }
        ParquetCodec::Lz4 => Compression::LZ4_RAW,
    })
}

impl ParquetWriter {
    pub(super) fn new(
        options: &FormatOptions,
        codec: ParquetCodec,
        schema: &Schema,
        out: Box<dyn Write + Send>,
    ) -> Result<Self, FormatError> {
        let arrow = arrow_schema(schema, &options.excluded_fields)?;
        if arrow.fields().is_empty() {
            // Parquet counts rows per column chunk: a file without columns would say 0 rows.
            return Err(FormatError::Record(
                "every field of the value is a partition field; a Parquet file needs at least one column"
                    .into(),
            ));
        }
        let mut columns = Vec::with_capacity(arrow.fields().len());
        for field in arrow.fields() {
            // arrow_schema made one Arrow field per kept Connect field, by name.
            let connect = schema
                .field(field.name())
                .ok_or_else(|| FormatError::Encode(format!("no Connect field {}", field.name())))?;
            let builder = ColumnBuilder::new(connect.schema(), field.data_type())
                .map_err(|e| FormatError::Record(format!("field {}: {e}", field.name())))?;
            columns.push(TopColumn { index: connect.index(), name: field.name().clone(), builder });
        }
        let row_group_rows =
            if options.row_group_rows == 0 { DEFAULT_ROW_GROUP_ROWS } else { options.row_group_rows };
        let props = WriterProperties::builder()
            .set_compression(compression(codec)?)
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(row_group_rows))
            .build();
        let writer = ArrowWriter::try_new(out, arrow.clone(), Some(props)).map_err(encode)?;
        let mut opened = Self {
            schema: schema.clone(),
            matched: None,
            arrow,
            columns,
            rows: 0,
            measured: 0,
            batch_rows: BATCH_ROWS.min(row_group_rows),
            writer,
            spill: options.spill_dir.as_deref().map(Spill::new),
            set_aside: 0,
            records: 0,
            broken: None,
        };
        opened.measured = opened.measure();
        Ok(opened)
    }

    /// Whether `record` fits the object's columns; changes nothing.
    fn check(&mut self, record: &Record) -> Result<(), FormatError> {
        let value = match &record.value.value {
            Value::Struct(s) => s,
            other => {
                return Err(FormatError::Record(format!(
                    "ParquetFormat writes struct values, not {}",
                    other.kind()
                )));
            }
        };
        let found = value.schema();
        if !(found.ptr_eq(&self.schema) || self.matched.as_ref().is_some_and(|m| m.ptr_eq(found))) {
            same_fields(&self.schema, found).map_err(|e| FormatError::Record(e.to_string()))?;
            self.matched = Some(found.clone());
        }
        for column in &self.columns {
            let v = value.values().get(column.index).unwrap_or(&Value::Null);
            column.builder.check(v).map_err(|e| FormatError::Record(e.under(&column.name).to_string()))?;
        }
        Ok(())
    }

    fn builder_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.builder.memory()).sum()
    }

    /// Everything the writer holds: the rows in the builders, the encoded
    /// pages of the open row group, and what the Parquet writer keeps per
    /// column and per row group written.
    fn measure(&self) -> usize {
        self.builder_bytes() + self.writer.memory_size() + self.retained()
    }

    /// The writer's fixed state and its flushed row groups' metadata.
    fn retained(&self) -> usize {
        let columns = self.arrow.fields().len();
        let row_groups = self.writer.flushed_row_groups().len();
        columns * (OPEN_BYTES_PER_COLUMN + row_groups * ROW_GROUP_BYTES_PER_COLUMN)
    }

    /// Rows set aside and not yet written.
    fn spilled_rows(&self) -> usize {
        self.spill.as_ref().map_or(0, Spill::rows)
    }

    /// Whether a flush now would set the rows aside rather than close a
    /// row group: no row group is under way.
    fn would_spill(&self) -> bool {
        self.spill.is_some() && self.writer.in_progress_rows() == 0
    }

    /// The builders' rows as one batch; the builders are then empty.
    fn take_batch(&mut self) -> Result<Option<RecordBatch>, FormatError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let arrays = self.columns.iter_mut().map(|c| c.builder.finish()).collect::<Result<Vec<_>, _>>();
        let rows = std::mem::take(&mut self.rows);
        let arrays = arrays.map_err(|e| self.break_with(e.to_string()))?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&self.arrow), arrays, &options)
            .map_err(|e| self.break_with(e.to_string()))?;
        Ok(Some(batch))
    }

    /// Hands the rows set aside, then the builders' rows, to the Parquet
    /// writer (which closes a row group by itself every `row_group_rows`).
    fn write_batch(&mut self) -> Result<(), FormatError> {
        if let Some(spill) = &mut self.spill {
            let writer = &mut self.writer;
            // Part of the rows set aside may be in the file now: nothing more goes in.
            if let Err(e) = spill.drain(|batch| writer.write(&batch).map_err(encode)) {
                self.broken = Some(format!("writing the rows set aside: {e}"));
                return Err(e);
            }
        }
        if let Some(batch) = self.take_batch()? {
            self.writer.write(&batch).map_err(encode)?;
        }
        self.measured = self.measure();
        Ok(())
    }

    /// Sets the builders' rows aside on disk.
    fn spill_batch(&mut self) -> Result<(), FormatError> {
        if let Some(batch) = self.take_batch()?
            && let Some(spill) = &mut self.spill
        {
            if let Err(e) = spill.push(&batch) {
                // The rows have left the builders but are not set aside.
                self.broken = Some(format!("setting rows aside: {e}"));
                return Err(e);
            }
            self.set_aside += batch.num_rows() as u64;
        }
        self.measured = self.measure();
        Ok(())
    }

    fn break_with(&mut self, reason: String) -> FormatError {
        self.broken = Some(reason.clone());
        FormatError::Encode(reason)
    }

    fn ensure_whole(&self) -> Result<(), FormatError> {
        match &self.broken {
            Some(reason) => Err(FormatError::Encode(format!("the object is unusable: {reason}"))),
            None => Ok(()),
        }
    }
}

fn encode(e: parquet::errors::ParquetError) -> FormatError {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => FormatError::Io(*io),
            Err(other) => FormatError::Encode(other.to_string()),
        },
        other => FormatError::Encode(other.to_string()),
    }
}

impl RecordWriter for ParquetWriter {
    fn append(&mut self, record: &Record) -> Result<(), FormatError> {
        self.ensure_whole()?;
        self.check(record)?;
        let Value::Struct(value) = &record.value.value else {
            return Err(FormatError::Record("ParquetFormat writes struct values".into()));
        };
        for i in 0..self.columns.len() {
            let column = &mut self.columns[i];
            let v = value.values().get(column.index).unwrap_or(&Value::Null);
            if let Err(e) = column.builder.append(v) {
                let reason = format!("a checked record did not append: {}", e.under(&column.name));
                return Err(self.break_with(reason));
            }
        }
        self.rows += 1;
        self.records += 1;
        if self.rows + self.spilled_rows() >= self.batch_rows {
            self.write_batch()?;
        } else if self.rows == 1 || self.rows.is_multiple_of(MEASURE_EVERY) {
            let builders = self.builder_bytes();
            if builders >= BATCH_BYTES {
                self.write_batch()?;
            } else {
                self.measured = self.measure();
            }
        }
        Ok(())
    }

    fn fits(&mut self, record: &Record) -> Result<(), FormatError> {
        self.ensure_whole()?;
        self.check(record)
    }

    fn buffered_bytes(&self) -> usize {
        self.measured
    }

    fn flush(&mut self) -> Result<(), FormatError> {
        self.ensure_whole()?;
        if self.would_spill() {
            return self.spill_batch();
        }
        self.write_batch()?;
        self.writer.flush().map_err(encode)?;
        self.measured = self.measure();
        Ok(self.writer.sync()?)
    }

    fn retained_bytes(&self) -> usize {
        self.retained()
    }

    fn flush_cost(&self) -> usize {
        if self.would_spill() { 0 } else { self.arrow.fields().len() * ROW_GROUP_BYTES_PER_COLUMN }
    }

    fn set_aside_rows(&self) -> u64 {
        self.set_aside
    }

    fn records(&self) -> u64 {
        self.records
    }

    fn finish(mut self: Box<Self>) -> Result<(), FormatError> {
        self.ensure_whole()?;
        self.write_batch()?;
        self.writer.close().map_err(encode)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
        Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, ListArray, MapArray,
        StringArray, StructArray, Time32MillisecondArray, TimestampMillisecondArray,
    };
    use arrow::datatypes::{DataType, TimeUnit, i256};
    use hydrate_common::connect::{DecimalFormat, Format};
    use hydrate_common::record::{
        DECIMAL_PRECISION_PARAM, Decimal, SchemaAndValue, SchemaBuilder, SchemaType, Struct,
    };
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::super::compress::tests::SharedBuf;
    use super::super::open_writer;
    use super::*;

    fn options(codec: ParquetCodec, excluded: &[&str], row_group_rows: usize) -> FormatOptions {
        FormatOptions {
            format: Format::Parquet { codec },
            json_decimal_format: DecimalFormat::Base64,
            excluded_fields: excluded.iter().map(|s| s.to_string()).collect(),
            row_group_rows,
            spill_dir: None,
        }
    }

    fn record(schema: &Schema, values: Vec<Value>) -> Record {
        let s = Struct::from_values(schema.clone(), values).unwrap();
        Record::new("t", SchemaAndValue::new(schema.clone(), Value::Struct(s)))
    }

    /// Writes `records` and reads the file back as one batch.
    fn round_trip(options: &FormatOptions, schema: &Schema, records: &[Record]) -> (RecordBatch, Vec<u8>) {
        let buf = SharedBuf::default();
        let mut w = open_writer(options, Some(schema), Box::new(buf.clone())).unwrap();
        for r in records {
            w.append(r).unwrap();
        }
        w.finish().unwrap();
        let file = buf.bytes();
        (read(&file), file)
    }

    fn read(file: &[u8]) -> RecordBatch {
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(file)).unwrap();
        let schema = builder.schema().clone();
        let batches: Vec<_> = builder.with_batch_size(1 << 20).build().unwrap().map(Result::unwrap).collect();
        arrow::compute::concat_batches(&schema, &batches).unwrap()
    }

    fn all_types() -> Schema {
        SchemaBuilder::struct_()
            .field("i8", Schema::of(SchemaType::Int8))
            .field("i16", Schema::of(SchemaType::Int16))
            .field("i32", Schema::of(SchemaType::Int32))
            .field("i64", Schema::of(SchemaType::Int64))
            .field("f32", Schema::of(SchemaType::Float32))
            .field("f64", Schema::of(SchemaType::Float64))
            .field("b", Schema::of(SchemaType::Boolean))
            .field("s", Schema::optional_of(SchemaType::String))
            .field("bytes", Schema::of(SchemaType::Bytes))
            .field("price", SchemaBuilder::decimal(2).parameter(DECIMAL_PRECISION_PARAM, "5").build())
            .field(
                "big",
                SchemaBuilder::decimal(3).parameter(DECIMAL_PRECISION_PARAM, "50").optional().build(),
            )
            .field("day", SchemaBuilder::date().build())
            .field("at", SchemaBuilder::time().build())
            .field("last_update", SchemaBuilder::timestamp().build())
            .build()
    }

    fn all_values(n: i32) -> Vec<Value> {
        vec![
            Value::Int8(-8),
            Value::Int16(16),
            Value::Int32(n),
            Value::Int64(1 << 40),
            Value::Float32(1.5),
            Value::Float64(-2.25),
            Value::Boolean(true),
            if n % 2 == 0 { Value::Null } else { "héllo".into() },
            Value::Bytes(vec![0, 255]),
            Value::Decimal(Decimal::from_i128(-12345, 2)),
            Value::Decimal(Decimal::parse("123456789012345678901234567890123456789012.345").unwrap()),
            Value::Date(13194),
            Value::Time(35_130_000),
            Value::Timestamp(1_139_996_730_000),
        ]
    }

    #[test]
    fn every_connect_type_round_trips_with_its_logical_type() {
        let schema = all_types();
        let records: Vec<_> = (0..3).map(|n| record(&schema, all_values(n))).collect();
        let (batch, _) = round_trip(&options(ParquetCodec::Snappy, &[], 0), &schema, &records);
        assert_eq!(batch.num_rows(), 3);
        let col = |name: &str| batch.column_by_name(name).unwrap().clone();
        assert_eq!(col("i8").as_any().downcast_ref::<Int8Array>().unwrap().value(0), -8);
        assert_eq!(col("i16").as_any().downcast_ref::<Int16Array>().unwrap().value(0), 16);
        assert_eq!(col("i32").as_any().downcast_ref::<Int32Array>().unwrap().values(), &[0, 1, 2]);
        assert_eq!(col("i64").as_any().downcast_ref::<Int64Array>().unwrap().value(0), 1 << 40);
        assert_eq!(col("f32").as_any().downcast_ref::<Float32Array>().unwrap().value(0), 1.5);
        assert_eq!(col("f64").as_any().downcast_ref::<Float64Array>().unwrap().value(0), -2.25);
        assert!(col("b").as_any().downcast_ref::<BooleanArray>().unwrap().value(0));
        let s = col("s");
        let s = s.as_any().downcast_ref::<StringArray>().unwrap();
        assert!(s.is_null(0) && s.is_valid(1));
        assert_eq!(s.value(1), "héllo");
        assert_eq!(col("bytes").as_any().downcast_ref::<BinaryArray>().unwrap().value(0), [0, 255]);
        let price = col("price");
        assert_eq!(price.data_type(), &DataType::Decimal128(5, 2));
        assert_eq!(price.as_any().downcast_ref::<Decimal128Array>().unwrap().value(0), -12345);
        let big = col("big");
        assert_eq!(big.data_type(), &DataType::Decimal256(50, 3));
        let expected = i256::from_string("123456789012345678901234567890123456789012345").unwrap();
        assert_eq!(big.as_any().downcast_ref::<Decimal256Array>().unwrap().value(0), expected);
        assert_eq!(col("day").as_any().downcast_ref::<Date32Array>().unwrap().value(0), 13194);
        let at = col("at");
        assert_eq!(at.data_type(), &DataType::Time32(TimeUnit::Millisecond));
        assert_eq!(at.as_any().downcast_ref::<Time32MillisecondArray>().unwrap().value(0), 35_130_000);
        let ts = col("last_update");
        assert_eq!(ts.data_type(), &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())));
        assert_eq!(
            ts.as_any().downcast_ref::<TimestampMillisecondArray>().unwrap().value(2),
            1_139_996_730_000
        );
        for name in ["i32", "s", "price", "last_update"] {
            let field = batch.schema().field_with_name(name).unwrap().clone();
            assert_eq!(field.is_nullable(), name == "s", "{name}");
        }
    }

    /// Structs, lists and maps, with nulls at each level.
    fn nested() -> (Schema, Vec<Record>) {
        let point = SchemaBuilder::struct_()
            .field("x", Schema::of(SchemaType::Int32))
            .field("label", Schema::optional_of(SchemaType::String))
            .optional()
            .build();
        let tags = SchemaBuilder::array(Schema::optional_of(SchemaType::String)).optional().build();
        let attrs = SchemaBuilder::map(Schema::of(SchemaType::String), Schema::of(SchemaType::Int64)).build();
        let schema = SchemaBuilder::struct_()
            .field("point", point.clone())
            .field("tags", tags)
            .field("attrs", attrs)
            .field("points", SchemaBuilder::array(point.clone()).build())
            .build();
        let p = |x, label: Option<&str>| {
            Value::Struct(
                Struct::from_values(
                    point.clone(),
                    vec![Value::Int32(x), label.map_or(Value::Null, Value::from)],
                )
                .unwrap(),
            )
        };
        let records = vec![
            record(
                &schema,
                vec![
                    p(1, Some("a")),
                    Value::Array(vec!["t1".into(), Value::Null]),
                    Value::Map(vec![("k".into(), Value::Int64(9))]),
                    Value::Array(vec![p(2, None), Value::Null]),
                ],
            ),
            record(&schema, vec![Value::Null, Value::Null, Value::Map(vec![]), Value::Array(vec![])]),
        ];
        (schema, records)
    }

    #[test]
    fn nested_structs_lists_and_maps_with_nulls() {
        let (schema, records) = nested();
        let (batch, _) = round_trip(&options(ParquetCodec::Zstd, &[], 0), &schema, &records);
        let point_col = batch.column_by_name("point").unwrap().as_struct().clone();
        assert!(point_col.is_valid(0) && point_col.is_null(1));
        assert_eq!(point_col.column(0).as_any().downcast_ref::<Int32Array>().unwrap().value(0), 1);
        let tags =
            batch.column_by_name("tags").unwrap().as_any().downcast_ref::<ListArray>().unwrap().clone();
        assert!(tags.is_null(1));
        let first = tags.value(0);
        let first = first.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((first.value(0), first.is_null(1)), ("t1", true));
        let attrs =
            batch.column_by_name("attrs").unwrap().as_any().downcast_ref::<MapArray>().unwrap().clone();
        assert_eq!(attrs.value_length(0), 1);
        assert_eq!(attrs.value_length(1), 0);
        assert_eq!(attrs.keys().as_any().downcast_ref::<StringArray>().unwrap().value(0), "k");
        let points = batch.column_by_name("points").unwrap().as_list::<i32>().clone();
        let inner = points.value(0);
        let inner = inner.as_any().downcast_ref::<StructArray>().unwrap();
        assert_eq!(inner.len(), 2);
        assert!(inner.is_valid(0) && inner.is_null(1));
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused_naming_the_field_and_the_writer_goes_on() {
        let schema = all_types();
        let buf = SharedBuf::default();
        let mut w =
            open_writer(&options(ParquetCodec::None, &[], 0), Some(&schema), Box::new(buf.clone())).unwrap();
        w.append(&record(&schema, all_values(1))).unwrap();
        // Wrong type in a late column: earlier columns pass their check first.
        let mut bad = all_values(2);
        bad[13] = Value::Int32(5);
        let err = w.append(&record(&schema, bad)).unwrap_err().to_string();
        assert!(err.contains("field last_update") && err.contains("int32"), "{err}");
        // Too many digits for numeric(5,2).
        let mut wide = all_values(3);
        wide[9] = Value::Decimal(Decimal::from_i128(1_234_567, 2));
        let err = w.append(&record(&schema, wide)).unwrap_err().to_string();
        assert!(err.contains("field price") && err.contains("5 digits"), "{err}");
        // A null in a required field.
        let mut null = all_values(4);
        null[2] = Value::Null;
        assert!(w.append(&record(&schema, null)).unwrap_err().to_string().contains("field i32: null"));
        // Another schema: a renamed field.
        let other = SchemaBuilder::struct_().field("j", Schema::of(SchemaType::Int32)).build();
        let err = w.append(&record(&other, vec![Value::Int32(1)])).unwrap_err().to_string();
        assert!(err.contains("i8") && err.contains('j'), "{err}");
        assert!(matches!(
            w.append(&Record::new("t", SchemaAndValue::schemaless(Value::Int32(1)))),
            Err(FormatError::Record(_))
        ));
        // The same fields in a schema of their own allocation are fine.
        let copy = all_types();
        assert!(!copy.ptr_eq(&schema));
        w.append(&record(&copy, all_values(5))).unwrap();
        assert_eq!(w.records(), 2);
        w.finish().unwrap();
        let batch = read(&buf.bytes());
        let ids = batch.column_by_name("i32").unwrap().as_any().downcast_ref::<Int32Array>().unwrap().clone();
        assert_eq!(ids.values(), &[1, 5]);
    }

    #[test]
    fn excluded_fields_are_not_in_the_file() {
        let schema = SchemaBuilder::struct_()
            .field("address_id", Schema::of(SchemaType::Int32))
            .field("country", Schema::of(SchemaType::String))
            .field("city", Schema::of(SchemaType::String))
            .build();
        let records = [record(&schema, vec![Value::Int32(1), "Canada".into(), "Lethbridge".into()])];
        let (batch, _) = round_trip(&options(ParquetCodec::Gzip, &["country"], 0), &schema, &records);
        let names: Vec<_> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["address_id", "city"]);
        assert_eq!(batch.column(1).as_any().downcast_ref::<StringArray>().unwrap().value(0), "Lethbridge");
        // Every field excluded: refused, not a file that says it has no rows.
        let all = options(ParquetCodec::Gzip, &["address_id", "country", "city"], 0);
        let err = open_writer(&all, Some(&schema), Box::new(Vec::new())).err().unwrap();
        assert!(err.to_string().contains("at least one column"), "{err}");
    }

    #[test]
    fn every_codec_writes_a_readable_file_with_statistics() {
        use parquet::basic::Compression as C;
        let schema = all_types();
        let records: Vec<_> = (0..50).map(|n| record(&schema, all_values(n))).collect();
        for (codec, expected) in [
            (ParquetCodec::None, C::UNCOMPRESSED),
            (ParquetCodec::Snappy, C::SNAPPY),
            (ParquetCodec::Gzip, C::GZIP(Default::default())),
            (ParquetCodec::Zstd, C::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL).unwrap())),
            (ParquetCodec::Lz4, C::LZ4_RAW),
        ] {
            let (batch, file) = round_trip(&options(codec, &[], 0), &schema, &records);
            assert_eq!(batch.num_rows(), 50, "{codec:?}");
            let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
            let column = reader.metadata().row_group(0).column(2);
            // The reader reports the codec without its level.
            assert_eq!(
                std::mem::discriminant(&column.compression()),
                std::mem::discriminant(&expected),
                "{codec:?}"
            );
            assert!(column.statistics().is_some_and(|s| s.min_bytes_opt().is_some()), "{codec:?}");
            assert!(column.dictionary_page_offset().is_some(), "{codec:?}: dictionary encoding");
        }
    }

    #[test]
    fn buffered_bytes_grow_with_records_and_drop_after_flush() {
        let schema = all_types();
        let buf = SharedBuf::default();
        let mut w = open_writer(&options(ParquetCodec::Snappy, &[], 0), Some(&schema), Box::new(buf.clone()))
            .unwrap();
        w.append(&record(&schema, all_values(1))).unwrap();
        let one = w.buffered_bytes();
        assert!(one > 0);
        // Past one batch: the rows now sit encoded in the row group.
        for n in 0..(BATCH_ROWS as i32 + 10) {
            w.append(&record(&schema, all_values(n))).unwrap();
        }
        let many = w.buffered_bytes();
        assert!(many > one, "{many} > {one}");
        let written = buf.len();
        w.flush().unwrap();
        // What stays is the writer's own state: per column, and per row group written.
        let fixed = all_types().fields().len() * (OPEN_BYTES_PER_COLUMN + ROW_GROUP_BYTES_PER_COLUMN);
        let after = w.buffered_bytes();
        assert!((fixed..fixed + 1024).contains(&after), "after flush: {after}, fixed {fixed}");
        assert!(buf.len() > written, "flush wrote the row group out");
        w.append(&record(&schema, all_values(7))).unwrap();
        w.finish().unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(buf.bytes())).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 2);
        assert_eq!(reader.metadata().file_metadata().num_rows(), BATCH_ROWS as i64 + 12);
    }

    #[test]
    fn row_groups_close_every_row_group_rows() {
        let schema = SchemaBuilder::struct_().field("n", Schema::of(SchemaType::Int64)).build();
        let records: Vec<_> = (0..25).map(|n| record(&schema, vec![Value::Int64(n)])).collect();
        let (batch, file) = round_trip(&options(ParquetCodec::None, &[], 10), &schema, &records);
        assert_eq!(batch.num_rows(), 25);
        let reader = SerializedFileReader::new(bytes::Bytes::from(file)).unwrap();
        let rows: Vec<_> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, [10, 10, 5]);
    }

    /// A directory of its own under the system's temporary one, removed on drop.
    struct SpillDir(std::path::PathBuf);

    impl SpillDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("hydrate-spill-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            SpillDir(dir)
        }

        fn files(&self) -> usize {
            std::fs::read_dir(&self.0).unwrap().count()
        }
    }

    impl Drop for SpillDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A writer of one Int64 column `n` into `buf`, setting rows aside in `dir`.
    fn spilling_ids(row_group_rows: usize) -> (SpillDir, Schema, SharedBuf, Box<dyn RecordWriter>) {
        let dir = SpillDir::new();
        let mut options = options(ParquetCodec::None, &[], row_group_rows);
        options.spill_dir = Some(dir.0.clone());
        let schema = SchemaBuilder::struct_().field("n", Schema::of(SchemaType::Int64)).build();
        let buf = SharedBuf::default();
        let w = open_writer(&options, Some(&schema), Box::new(buf.clone())).unwrap();
        (dir, schema, buf, w)
    }

    fn ids(file: &[u8]) -> Vec<i64> {
        let batch = read(file);
        batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
    }

    #[test]
    fn flushes_before_a_row_group_set_rows_aside_instead_of_writing_small_row_groups() {
        let dir = SpillDir::new();
        let mut options = options(ParquetCodec::Snappy, &[], 0);
        options.spill_dir = Some(dir.0.clone());
        let schema = SchemaBuilder::struct_()
            .field("n", Schema::of(SchemaType::Int64))
            .field("s", Schema::of(SchemaType::String))
            .build();
        let buf = SharedBuf::default();
        let mut w = open_writer(&options, Some(&schema), Box::new(buf.clone())).unwrap();
        let fixed = w.retained_bytes();
        for n in 0..1000 {
            w.append(&record(&schema, vec![Value::Int64(n), format!("row {n}").into()])).unwrap();
            if n % 10 == 9 {
                let held = w.buffered_bytes();
                assert_eq!(w.flush_cost(), 0, "nothing kept for good by a flush that sets rows aside");
                w.flush().unwrap();
                assert!(w.buffered_bytes() < held, "the flush freed memory");
            }
        }
        assert_eq!(w.retained_bytes(), fixed, "no row group written, no metadata kept");
        assert_eq!(dir.files(), 1, "the rows set aside are in one file");
        w.finish().unwrap();
        assert_eq!(dir.files(), 0, "the spill is removed once written");
        let file = buf.bytes();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 1);
        assert_eq!(ids(&file), (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn rows_set_aside_go_into_full_row_groups_in_order() {
        let (dir, schema, buf, mut w) = spilling_ids(100);
        let mut n = 0;
        let mut append = |w: &mut Box<dyn RecordWriter>, rows: i64| {
            for _ in 0..rows {
                w.append(&record(&schema, vec![Value::Int64(n)])).unwrap();
                n += 1;
            }
        };
        append(&mut w, 30);
        w.flush().unwrap(); // set aside: 30
        append(&mut w, 30);
        w.flush().unwrap(); // set aside: 60
        assert_eq!(dir.files(), 1);
        // The 100th row (60 set aside + 40 new) sends them all into a row group.
        append(&mut w, 50);
        assert_eq!(dir.files(), 0, "the rows set aside were written");
        w.flush().unwrap(); // the 10 after it are set aside
        assert_eq!(dir.files(), 1);
        append(&mut w, 5);
        w.finish().unwrap();
        assert_eq!(dir.files(), 0);
        let file = buf.bytes();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        let rows: Vec<_> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, [100, 15]);
        assert_eq!(ids(&file), (0..115).collect::<Vec<_>>());
    }

    #[test]
    fn a_flush_with_a_row_group_under_way_closes_it() {
        let (dir, schema, buf, mut w) = spilling_ids(10_000);
        let batch = BATCH_ROWS as i64;
        for n in 0..3000 {
            w.append(&record(&schema, vec![Value::Int64(n)])).unwrap();
        }
        w.flush().unwrap(); // set aside
        // A batch's worth (with those set aside) goes to the Parquet writer,
        // which holds it as a row group under way.
        for n in 3000..batch {
            w.append(&record(&schema, vec![Value::Int64(n)])).unwrap();
        }
        assert_eq!(dir.files(), 0);
        assert!(w.flush_cost() > 0, "closing a row group keeps its metadata");
        w.flush().unwrap();
        for n in batch..batch + 10 {
            w.append(&record(&schema, vec![Value::Int64(n)])).unwrap();
        }
        w.finish().unwrap();
        let file = buf.bytes();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        let rows: Vec<_> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, [batch, 10]);
        assert_eq!(ids(&file), (0..batch + 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_writer_dropped_unfinished_removes_its_spill() {
        let dir = SpillDir::new();
        let mut options = options(ParquetCodec::Snappy, &[], 0);
        options.spill_dir = Some(dir.0.clone());
        let schema = SchemaBuilder::struct_().field("n", Schema::of(SchemaType::Int64)).build();
        let mut w = open_writer(&options, Some(&schema), Box::new(std::io::sink())).unwrap();
        w.append(&record(&schema, vec![Value::Int64(1)])).unwrap();
        w.flush().unwrap();
        assert_eq!(dir.files(), 1);
        drop(w);
        assert_eq!(dir.files(), 0);
    }

    #[test]
    fn rows_that_cannot_be_set_aside_leave_the_object_unusable() {
        let dir = SpillDir::new();
        let mut options = options(ParquetCodec::Snappy, &[], 0);
        options.spill_dir = Some(dir.0.join("gone"));
        let schema = SchemaBuilder::struct_().field("n", Schema::of(SchemaType::Int64)).build();
        let mut w = open_writer(&options, Some(&schema), Box::new(std::io::sink())).unwrap();
        w.append(&record(&schema, vec![Value::Int64(1)])).unwrap();
        assert!(matches!(w.flush(), Err(FormatError::Io(_))));
        // The row left the builders without reaching the disk: the object
        // cannot be finished as if it held it.
        let err = w.append(&record(&schema, vec![Value::Int64(2)])).unwrap_err().to_string();
        assert!(err.contains("unusable") && err.contains("setting rows aside"), "{err}");
        assert!(w.finish().is_err());
    }

    #[test]
    fn every_type_comes_back_the_same_after_being_set_aside() {
        let typed = all_types();
        let typed_records = (0..3).map(|n| record(&typed, all_values(n))).collect();
        for (schema, records) in [(typed, typed_records), nested()] {
            let (direct, _) = round_trip(&options(ParquetCodec::Snappy, &[], 0), &schema, &records);
            let dir = SpillDir::new();
            let mut spilling = options(ParquetCodec::Snappy, &[], 0);
            spilling.spill_dir = Some(dir.0.clone());
            let buf = SharedBuf::default();
            let mut w = open_writer(&spilling, Some(&schema), Box::new(buf.clone())).unwrap();
            for r in &records {
                w.append(r).unwrap();
                w.flush().unwrap();
            }
            assert_eq!(dir.files(), 1);
            w.finish().unwrap();
            assert_eq!(read(&buf.bytes()), direct);
        }
    }
}
