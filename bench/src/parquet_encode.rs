//! The Arrow-to-Parquet limit: records of a topic (Kafka Connect JSON with
//! schemas) decoded into Arrow batches, then encoded to Parquet in memory
//! with the sink's writer settings (`sink-svc/src/format/parquet.rs`:
//! dictionary on, page statistics, 128 Ki-row groups, 8192-row batches).
//! Decoding and encoding are timed apart; fetching from Kafka is not timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use base64::Engine;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

const BATCH_ROWS: usize = 8192;
const ROW_GROUP_ROWS: usize = 128 * 1024;

#[derive(clap::Args)]
pub struct EncodeArgs {
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap: String,
    #[arg(long)]
    topic: String,
    /// Records to decode and encode (from the start of partition 0).
    #[arg(long)]
    rows: usize,
}

/// One column's builder, by Connect type.
enum Column {
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Decimal(Decimal128Builder),
}

impl Column {
    fn new(data_type: &DataType) -> anyhow::Result<Column> {
        Ok(match data_type {
            DataType::Int8 => Column::I8(Int8Builder::new()),
            DataType::Int16 => Column::I16(Int16Builder::new()),
            DataType::Int32 => Column::I32(Int32Builder::new()),
            DataType::Int64 => Column::I64(Int64Builder::new()),
            DataType::Date32 => Column::Date(Date32Builder::new()),
            DataType::Timestamp(_, tz) => {
                Column::Timestamp(TimestampMillisecondBuilder::new().with_timezone_opt(tz.clone()))
            }
            DataType::Float32 => Column::F32(Float32Builder::new()),
            DataType::Float64 => Column::F64(Float64Builder::new()),
            DataType::Boolean => Column::Bool(BooleanBuilder::new()),
            DataType::Utf8 => Column::Str(StringBuilder::new()),
            DataType::Binary => Column::Bin(BinaryBuilder::new()),
            DataType::Decimal128(_, _) => {
                Column::Decimal(Decimal128Builder::new().with_data_type(data_type.clone()))
            }
            other => bail!("no builder for {other}"),
        })
    }

    fn append(&mut self, value: Option<&Value>) -> anyhow::Result<()> {
        let value = value.filter(|v| !v.is_null());
        let int = || value.and_then(Value::as_i64);
        match self {
            Column::I8(b) => b.append_option(int().map(|v| v as i8)),
            Column::I16(b) => b.append_option(int().map(|v| v as i16)),
            Column::I32(b) => b.append_option(int().map(|v| v as i32)),
            Column::I64(b) => b.append_option(int()),
            Column::Date(b) => b.append_option(int().map(|v| v as i32)),
            Column::Timestamp(b) => b.append_option(int()),
            Column::F32(b) => b.append_option(value.and_then(Value::as_f64).map(|v| v as f32)),
            Column::F64(b) => b.append_option(value.and_then(Value::as_f64)),
            Column::Bool(b) => b.append_option(value.and_then(Value::as_bool)),
            Column::Str(b) => b.append_option(value.and_then(Value::as_str)),
            Column::Bin(b) => match value.and_then(Value::as_str) {
                Some(text) => b.append_value(base64::engine::general_purpose::STANDARD.decode(text)?),
                None => b.append_null(),
            },
            Column::Decimal(b) => match value.and_then(Value::as_str) {
                Some(text) => {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
                    b.append_value(big_endian_i128(&bytes)?);
                }
                None => b.append_null(),
            },
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::I8(b) => Arc::new(b.finish()),
            Column::I16(b) => Arc::new(b.finish()),
            Column::I32(b) => Arc::new(b.finish()),
            Column::I64(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::F32(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Str(b) => Arc::new(b.finish()),
            Column::Bin(b) => Arc::new(b.finish()),
            Column::Decimal(b) => Arc::new(b.finish()),
        }
    }
}

/// A Connect Decimal's unscaled two's-complement big-endian bytes.
fn big_endian_i128(bytes: &[u8]) -> anyhow::Result<i128> {
    if bytes.len() > 16 {
        bail!("decimal wider than 128 bits");
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(buf))
}

/// The Arrow schema of a Connect struct schema, as the sink maps it.
fn arrow_schema(connect: &Value) -> anyhow::Result<(SchemaRef, Vec<String>)> {
    let fields = connect.get("fields").and_then(Value::as_array).context("schema without fields")?;
    let mut arrow_fields = Vec::new();
    let mut names = Vec::new();
    for f in fields {
        let name = f.get("field").and_then(Value::as_str).context("field name")?.to_owned();
        let logical = f.get("name").and_then(Value::as_str).unwrap_or("");
        let optional = f.get("optional").and_then(Value::as_bool).unwrap_or(true);
        let data_type = match (f.get("type").and_then(Value::as_str).unwrap_or(""), logical) {
            ("int32", "org.apache.kafka.connect.data.Date") => DataType::Date32,
            ("int64", "org.apache.kafka.connect.data.Timestamp") => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            }
            ("bytes", "org.apache.kafka.connect.data.Decimal") => {
                let param = |k: &str| -> Option<i64> {
                    f.get("parameters")
                        .and_then(|p| p.get(k))
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok())
                };
                let scale = param("scale").unwrap_or(0) as i8;
                let precision = param("connect.decimal.precision").unwrap_or(38) as u8;
                DataType::Decimal128(precision, scale)
            }
            ("int8", _) => DataType::Int8,
            ("int16", _) => DataType::Int16,
            ("int32", _) => DataType::Int32,
            ("int64", _) => DataType::Int64,
            ("float", _) | ("float32", _) => DataType::Float32,
            ("double", _) | ("float64", _) => DataType::Float64,
            ("boolean", _) => DataType::Boolean,
            ("string", _) => DataType::Utf8,
            ("bytes", _) => DataType::Binary,
            (other, _) => bail!("field {name}: type {other} is not in this benchmark's mapping"),
        };
        arrow_fields.push(Field::new(&name, data_type, optional));
        names.push(name);
    }
    Ok((Arc::new(Schema::new(arrow_fields)), names))
}

pub fn run(args: &EncodeArgs) -> anyhow::Result<Value> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .set("group.id", "hydrate-bench-encode")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .context("consumer")?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&args.topic, 0, Offset::Beginning)?;
    consumer.assign(&list)?;

    let mut schema: Option<(SchemaRef, Vec<String>)> = None;
    let mut columns: Vec<Column> = Vec::new();
    let mut batches = Vec::new();
    let (mut rows, mut in_rows, mut input_bytes) = (0usize, 0usize, 0u64);
    let mut decode = Duration::ZERO;
    while rows < args.rows {
        let message = match consumer.poll(Duration::from_secs(5)) {
            Some(Ok(m)) => m,
            Some(Err(KafkaError::PartitionEOF(_))) | None => break,
            Some(Err(e)) => return Err(e).context("consume"),
        };
        let payload = message.payload().unwrap_or_default();
        input_bytes += payload.len() as u64;
        let started = Instant::now();
        let record: Value = serde_json::from_slice(payload).context("record JSON")?;
        if schema.is_none() {
            let s = arrow_schema(record.get("schema").context("record without a schema")?)?;
            columns =
                s.0.fields().iter().map(|f| Column::new(f.data_type())).collect::<anyhow::Result<_>>()?;
            schema = Some(s);
        }
        let Some((arrow, names)) = &schema else { unreachable!("set above") };
        let fields = record.get("payload").context("record without a payload")?;
        for (column, name) in columns.iter_mut().zip(names) {
            column.append(fields.get(name))?;
        }
        rows += 1;
        in_rows += 1;
        if in_rows == BATCH_ROWS {
            let arrays = columns.iter_mut().map(Column::finish).collect();
            batches.push(RecordBatch::try_new(arrow.clone(), arrays)?);
            in_rows = 0;
        }
        decode += started.elapsed();
    }
    let Some((arrow, _)) = schema else { bail!("no records in {}", args.topic) };
    if in_rows > 0 {
        let arrays = columns.iter_mut().map(Column::finish).collect();
        batches.push(RecordBatch::try_new(arrow.clone(), arrays)?);
    }

    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let started = Instant::now();
    let mut writer = ArrowWriter::try_new(Vec::with_capacity(64 << 20), arrow, Some(props))?;
    for batch in &batches {
        writer.write(batch)?;
    }
    let parquet = writer.into_inner()?;
    let encode = started.elapsed().as_secs_f64();
    let decode = decode.as_secs_f64();
    Ok(json!({
        "rows": rows,
        "input_bytes": input_bytes,
        "parquet_bytes": parquet.len(),
        "decode_seconds": decode,
        "encode_seconds": encode,
        "encode_rows_per_s": rows as f64 / encode,
        "decode_encode_rows_per_s": rows as f64 / (decode + encode),
        "encode_input_bytes_per_s": input_bytes as f64 / encode,
    }))
}
