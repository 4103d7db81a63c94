use arrow::array::{Array, AsArray, RecordBatch};
use hydrate_common::connect::{DecimalFormat, GzipLevel, ParquetCodec, SchemaCompatibility};
use hydrate_common::record::Header;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::checkpoint::Resume;
use crate::naming::Naming;
use crate::segment::{Appended, ClosedFile, PartitionWriter, Rotation};
use crate::spool::Spool;

const JSON: Format = Format::Json { gzip: None };
const PARQUET: Format = Format::Parquet { codec: ParquetCodec::Snappy };

fn value_options() -> FormatOptions {
    FormatOptions {
        format: JSON,
        json_decimal_format: DecimalFormat::Base64,
        excluded_fields: vec!["g".into()],
        row_group_rows: 10,
        spill_dir: None,
    }
}

fn config() -> S3SinkConfig {
    crate::test_support::sink_config(&[])
}

/// Real format writers, JSON values, and these sidecars.
fn factory(sidecars: &[(View, Format)]) -> FileFactory {
    let root = std::env::temp_dir().join(format!("hydrate-sidecar-tests-{}", uuid::Uuid::new_v4().simple()));
    let options = value_options();
    FileFactory {
        naming: Naming::new(&config(), ".json".into()),
        sidecars: sidecars.iter().map(|(view, format)| Sidecar::new(*view, format, &options)).collect(),
        options,
        spool: Spool::open(&root, "task").unwrap(),
        open: Arc::new(format::open_writer),
    }
}

fn writer(flush_size: u64) -> PartitionWriter {
    let rotation =
        Rotation { flush_size, interval_ms: None, schedule: None, compatibility: SchemaCompatibility::None };
    PartitionWriter::new("t", 0, 0, Resume::default(), rotation, 0)
}

fn row_schema() -> Schema {
    SchemaBuilder::struct_().name("row").field("id", Schema::of(SchemaType::Int64)).build()
}

/// Record `id` with a string key `k<id>` (as StringConverter reads it) and
/// the headers `h: <id>` and `trace: t<id>`.
fn record(id: i64) -> Record {
    let schema = row_schema();
    let value = Struct::from_values(schema.clone(), vec![Value::Int64(id)]).unwrap();
    Record {
        topic: "t".into(),
        partition: Some(0),
        offset: Some(id),
        key: SchemaAndValue::new(Schema::optional_of(SchemaType::String), Value::from(format!("k{id}"))),
        value: SchemaAndValue::new(schema, Value::Struct(value)),
        headers: vec![header("h", &id.to_string()), header("trace", &format!("t{id}"))],
        ..Record::default()
    }
}

fn header(key: &str, value: &str) -> Header {
    Header { key: key.into(), value: Some(value.as_bytes().to_vec()) }
}

fn append(w: &mut PartitionWriter, files: &FileFactory, record: &Record) -> Appended {
    w.append(files, "g=1", record, None, 0).unwrap()
}

fn text(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn parquet(path: &std::path::Path) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<_> = builder.build().unwrap().map(Result::unwrap).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn suffixes_name_the_view_then_the_format() {
    let options = value_options();
    assert_eq!(Sidecar::new(View::Keys, &JSON, &options).suffix, ".keys.json");
    assert_eq!(Sidecar::new(View::Headers, &PARQUET, &options).suffix, ".headers.snappy.parquet");
    let bytes = Format::ByteArray { gzip: Some(GzipLevel(None)), extension: ".bin".into(), separator: None };
    assert_eq!(Sidecar::new(View::Keys, &bytes, &options).suffix, ".keys.bin.gz");
    let mut config = config();
    config.store_headers = Some(JSON);
    config.store_keys = Some(PARQUET);
    let views: Vec<View> = Sidecar::configured(&config, &options).iter().map(|s| s.view).collect();
    assert_eq!(views, [View::Keys, View::Headers]);
}

#[test]
fn json_keys_and_headers_hold_the_ith_record_on_the_ith_line_and_roll_with_the_value() {
    let files = factory(&[(View::Keys, JSON), (View::Headers, JSON)]);
    let mut w = writer(3);
    for id in 0..4 {
        assert_eq!(append(&mut w, &files, &record(id)), Appended::Written);
    }
    let closed: Vec<ClosedFile> = w.take_closed();
    assert_eq!(closed.len(), 1);
    let file = &closed[0];
    assert_eq!((file.start, file.end, file.records), (0, 2, 3));
    let sidecar_keys: Vec<&str> = file.sidecars.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        sidecar_keys,
        ["topics/t/g=1/t+0+0000000000.keys.json", "topics/t/g=1/t+0+0000000000.headers.json"]
    );
    assert_eq!(text(&file.path), "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n");
    assert_eq!(text(&file.sidecars[0].path), "\"k0\"\n\"k1\"\n\"k2\"\n");
    assert_eq!(
        text(&file.sidecars[1].path),
        "[{\"key\":\"h\",\"value\":\"0\"},{\"key\":\"trace\",\"value\":\"t0\"}]\n\
         [{\"key\":\"h\",\"value\":\"1\"},{\"key\":\"trace\",\"value\":\"t1\"}]\n\
         [{\"key\":\"h\",\"value\":\"2\"},{\"key\":\"trace\",\"value\":\"t2\"}]\n"
    );
    w.abandon();
}

#[test]
fn parquet_views_are_enveloped_in_a_struct() {
    let files = factory(&[(View::Keys, PARQUET), (View::Headers, PARQUET)]);
    let mut w = writer(2);
    // A struct key with a schema, as JsonConverter with schemas reads it.
    let key_schema = SchemaBuilder::struct_().name("k").field("id", Schema::of(SchemaType::Int64)).build();
    for id in 0..2 {
        let mut r = record(id);
        let key = Struct::from_values(key_schema.clone(), vec![Value::Int64(id * 10)]).unwrap();
        r.key = SchemaAndValue::new(key_schema.clone(), Value::Struct(key));
        assert_eq!(append(&mut w, &files, &r), Appended::Written);
        if id == 0 {
            // The JSON value writer holds nothing; the Parquet sidecars' builders do.
            assert!(w.buffered() > 0, "sidecars count towards the memory budget");
        }
    }
    let closed = w.take_closed();
    let keys = parquet(&closed[0].sidecars[0].path);
    assert_eq!(keys.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["key"]);
    let ids = keys
        .column(0)
        .as_struct()
        .column_by_name("id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert_eq!(ids.values().to_vec(), [0, 10]);

    let headers = parquet(&closed[0].sidecars[1].path);
    assert_eq!(headers.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["headers"]);
    let lists = headers.column(0).as_list::<i32>();
    assert_eq!(lists.len(), 2);
    let second = lists.value(1);
    let pairs = second.as_struct();
    let keys_of = pairs.column_by_name("key").unwrap().as_string::<i32>();
    let values_of = pairs.column_by_name("value").unwrap().as_string::<i32>();
    let read: Vec<(&str, &str)> = (0..pairs.len()).map(|i| (keys_of.value(i), values_of.value(i))).collect();
    assert_eq!(read, [("h", "1"), ("trace", "t1")]);
    w.abandon();
}

#[test]
fn a_null_key_or_no_headers_is_refused_with_confluents_message_before_anything_is_written() {
    let files = factory(&[(View::Keys, JSON), (View::Headers, JSON)]);
    let mut w = writer(2);
    let mut keyless = record(0);
    keyless.key = SchemaAndValue::NULL;
    assert_eq!(
        append(&mut w, &files, &keyless),
        Appended::Rejected(
            "Key cannot be null for SinkRecord: SinkRecord{kafkaOffset=0, topic='t', kafkaPartition=0}"
                .into()
        )
    );
    assert_eq!(append(&mut w, &files, &record(1)), Appended::Written);
    let mut bare = record(2);
    bare.headers.clear();
    let Appended::Rejected(reason) = append(&mut w, &files, &bare) else {
        panic!("no headers must be refused")
    };
    assert_eq!(
        reason,
        "Headers cannot be null for SinkRecord: SinkRecord{kafkaOffset=2, topic='t', kafkaPartition=0}"
    );
    assert_eq!(append(&mut w, &files, &record(3)), Appended::Written);
    let closed = w.take_closed();
    assert_eq!(text(&closed[0].path), "{\"id\":1}\n{\"id\":3}\n");
    assert_eq!(text(&closed[0].sidecars[0].path), "\"k1\"\n\"k3\"\n");
    w.abandon();

    // Without sidecars neither is needed.
    let plain = factory(&[]);
    let mut w = writer(1);
    assert_eq!(append(&mut w, &plain, &keyless), Appended::Written);
    assert!(w.take_closed()[0].sidecars.is_empty());
    w.abandon();
}

#[test]
fn a_record_a_sidecar_cannot_take_leaves_every_object_of_the_group_as_it_was() {
    let bytes = Format::ByteArray { gzip: None, extension: ".bin".into(), separator: None };
    let files = factory(&[(View::Keys, bytes), (View::Headers, JSON)]);
    let mut w = writer(2);
    // ByteArrayFormat writes bytes or strings, not an int64 key.
    let mut int_key = record(0);
    int_key.key = SchemaAndValue::new(Schema::of(SchemaType::Int64), Value::Int64(7));
    let Appended::Rejected(reason) = append(&mut w, &files, &int_key) else {
        panic!("an int key is not bytes")
    };
    assert!(reason.contains("ByteArrayFormat"), "{reason}");
    // Refused as the first record of its group: nothing stays open.
    assert_eq!(w.buffered(), 0);
    assert_eq!(append(&mut w, &files, &record(1)), Appended::Written);
    // A null header value has no string form.
    let mut null_header = record(2);
    null_header.headers.push(Header { key: "gone".into(), value: None });
    let Appended::Rejected(reason) = append(&mut w, &files, &null_header) else {
        panic!("null header value")
    };
    assert!(reason.contains("header gone has a null value"), "{reason}");
    assert_eq!(append(&mut w, &files, &record(3)), Appended::Written);
    let closed = w.take_closed();
    assert_eq!(text(&closed[0].path), "{\"id\":1}\n{\"id\":3}\n");
    assert_eq!(text(&closed[0].sidecars[0].path), "k1\nk3\n");
    assert_eq!(text(&closed[0].sidecars[1].path).lines().count(), 2);
    w.abandon();

    // Parquet keys need a key schema.
    let files = factory(&[(View::Keys, PARQUET)]);
    let mut w = writer(2);
    let mut schemaless = record(4);
    schemaless.key = SchemaAndValue::schemaless(Value::from("k4"));
    let Appended::Rejected(reason) = append(&mut w, &files, &schemaless) else { panic!("no key schema") };
    assert!(reason.contains("need keys with a schema"), "{reason}");
    w.abandon();
}
