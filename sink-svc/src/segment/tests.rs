use std::collections::BTreeMap;
use std::io::Write;

use hydrate_common::connect::{DecimalFormat, Format, SchemaCompatibility};
use hydrate_common::record::{Record, Schema, SchemaAndValue, SchemaType, Value};

use super::*;

/// A format for tests: one line per record with its offset.
struct Lines {
    out: Box<dyn Write + Send>,
    records: u64,
}

impl RecordWriter for Lines {
    fn append(&mut self, record: &Record) -> Result<(), FormatError> {
        self.fits(record)?;
        match record.value.schema.as_ref().and_then(Schema::version) {
            Some(version) => writeln!(self.out, "{} v{version}", record.offset.unwrap_or(-1))?,
            None => writeln!(self.out, "{}", record.offset.unwrap_or(-1))?,
        }
        self.records += 1;
        Ok(())
    }
    fn fits(&mut self, record: &Record) -> Result<(), FormatError> {
        if record.value.value == Value::from("bad") {
            return Err(FormatError::Record("bad record".into()));
        }
        Ok(())
    }
    fn buffered_bytes(&self) -> usize {
        0
    }
    fn flush(&mut self) -> Result<(), FormatError> {
        Ok(())
    }
    fn records(&self) -> u64 {
        self.records
    }
    fn finish(mut self: Box<Self>) -> Result<(), FormatError> {
        self.out.flush()?;
        Ok(())
    }
}

fn factory(dir: &str) -> FileFactory {
    let root = std::env::temp_dir().join(format!("hydrate-segment-tests-{}", uuid::Uuid::new_v4().simple()));
    let spool = Spool::open(&root, dir).unwrap();
    let config = test_config();
    FileFactory {
        naming: Naming::new(&config, ".txt".into()),
        options: FormatOptions {
            format: Format::Json { gzip: None },
            json_decimal_format: DecimalFormat::Base64,
            excluded_fields: Vec::new(),
            row_group_rows: 10,
            spill_dir: None,
        },
        spool,
        open: Arc::new(|_, _, out| Ok(Box::new(Lines { out, records: 0 }) as Box<dyn RecordWriter>)),
        sidecars: Vec::new(),
    }
}

fn test_config() -> hydrate_common::connect::S3SinkConfig {
    crate::test_support::sink_config(&[])
}

fn rotation(flush_size: u64) -> Rotation {
    Rotation { flush_size, interval_ms: None, schedule: None, compatibility: SchemaCompatibility::None }
}

fn record(offset: i64, value: Value, schema: Option<Schema>) -> Record {
    Record {
        topic: "t".into(),
        partition: Some(0),
        offset: Some(offset),
        value: SchemaAndValue { schema, value },
        ..Record::default()
    }
}

fn keys(closed: &[ClosedFile]) -> Vec<(String, i64, i64)> {
    closed.iter().map(|f| (f.key.clone(), f.start, f.end)).collect()
}

#[test]
fn flush_size_commits_every_open_file_of_the_partition() {
    let files = factory("a");
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rotation(3), 0);
    for (offset, dir) in [(0, "x=1"), (1, "x=2"), (2, "x=1"), (3, "x=2")] {
        assert_eq!(
            w.append(&files, dir, &record(offset, Value::Int32(1), None), None, 0).unwrap(),
            Appended::Written
        );
    }
    let closed = w.take_closed();
    assert_eq!(
        keys(&closed),
        [
            ("topics/t/x=1/t+0+0000000000.txt".to_owned(), 0, 2),
            ("topics/t/x=2/t+0+0000000001.txt".to_owned(), 1, 1)
        ]
    );
    assert_eq!(std::fs::read_to_string(&closed[0].path).unwrap(), "0\n2\n");
    assert_eq!(w.resume_after_closed(), 3, "the open segment starts at 3");
    w.abandon();
}

#[test]
fn records_at_or_below_a_watermark_are_skipped_after_recovery() {
    let files = factory("b");
    let resume = Resume {
        offset: Some(10),
        watermarks: BTreeMap::from([("x=1".to_owned(), 12)]),
        unresolved: Vec::new(),
    };
    let mut w = PartitionWriter::new("t", 0, 10, resume, rotation(100), 0);
    let mut got = Vec::new();
    for (offset, dir) in [(10, "x=1"), (11, "x=2"), (12, "x=1"), (13, "x=1")] {
        got.push(w.append(&files, dir, &record(offset, Value::Int32(1), None), None, 0).unwrap());
    }
    assert_eq!(got, [Appended::Skipped, Appended::Written, Appended::Skipped, Appended::Written]);
    w.tick(0).unwrap();
    assert!(!w.has_closed());
    assert_eq!(w.resume_after_closed(), 11);
    w.abandon();
}

#[test]
fn the_schedule_commits_idle_segments_and_a_schema_change_rolls_them() {
    let files = factory("c");
    let schedule = crate::schedule::Schedule::new(1000, Some("UTC")).unwrap();
    let rot = Rotation { schedule: Some(schedule), ..rotation(100) };
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rot, 100);
    w.append(&files, "p", &record(0, Value::Int32(1), None), None, 200).unwrap();
    w.tick(999).unwrap();
    assert!(!w.has_closed(), "not yet due");
    w.tick(1000).unwrap();
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000000.txt".to_owned(), 0, 0)]);

    let int = Some(Schema::of(SchemaType::Int32));
    let string = Some(Schema::of(SchemaType::String));
    w.append(&files, "p", &record(1, Value::Int32(1), int.clone()), None, 1100).unwrap();
    w.append(&files, "p", &record(2, Value::from("s"), string), None, 1100).unwrap();
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000001.txt".to_owned(), 1, 1)]);
    // A rejected record leaves no empty file behind.
    assert!(matches!(
        w.append(&files, "q", &record(3, Value::from("bad"), None), None, 1100).unwrap(),
        Appended::Rejected(_)
    ));
    w.tick(2000).unwrap();
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000002.txt".to_owned(), 2, 2)]);
    w.abandon();
}

#[test]
fn rotate_interval_uses_record_time_from_the_segments_first_record() {
    let files = factory("d");
    let rot = Rotation { interval_ms: Some(1000), ..rotation(100) };
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rot, 0);
    for (offset, time) in [(0, 5_000), (1, 5_999), (2, 6_000), (3, 6_500)] {
        w.append(&files, "p", &record(offset, Value::Int32(1), None), Some(time), 0).unwrap();
    }
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000000.txt".to_owned(), 0, 1)]);
    w.abandon();
}

fn versioned(version: i32, with_country: bool) -> Schema {
    let mut builder = hydrate_common::record::SchemaBuilder::struct_()
        .name("address")
        .version(version)
        .field("id", Schema::of(SchemaType::Int32));
    if with_country {
        builder = builder.field("country", Schema::optional_of(SchemaType::String));
    }
    builder.build()
}

fn row(offset: i64, schema: &Schema) -> Record {
    let values = schema
        .fields()
        .iter()
        .map(|f| if f.name() == "id" { Value::Int32(1) } else { Value::Null })
        .collect();
    let value = Value::Struct(hydrate_common::record::Struct::from_values(schema.clone(), values).unwrap());
    record(offset, value, Some(schema.clone()))
}

#[test]
fn backward_rolls_on_a_newer_version_and_projects_older_records_onto_it() {
    let files = factory("d");
    let rot = Rotation { compatibility: SchemaCompatibility::Backward, ..rotation(2) };
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rot, 0);
    let (v1, v2) = (versioned(1, false), versioned(2, true));
    assert_eq!(w.append(&files, "p", &row(0, &v1), None, 0).unwrap(), Appended::Written);
    assert_eq!(w.append(&files, "p", &row(1, &v2), None, 0).unwrap(), Appended::Written);
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000000.txt".to_owned(), 0, 0)], "v2 rolled");
    assert_eq!(w.append(&files, "p", &row(2, &v1), None, 0).unwrap(), Appended::Written);
    let closed = w.take_closed();
    assert_eq!(keys(&closed), [("topics/t/p/t+0+0000000001.txt".to_owned(), 1, 2)], "v1 did not roll");
    assert_eq!(std::fs::read_to_string(&closed[0].path).unwrap(), "1 v2\n2 v2\n", "written with v2");
    w.abandon();
}

#[test]
fn forward_rolls_on_an_older_version_and_projects_newer_records() {
    let files = factory("e");
    let rot = Rotation { compatibility: SchemaCompatibility::Forward, ..rotation(2) };
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rot, 0);
    let (v1, v2) = (versioned(1, false), versioned(2, true));
    w.append(&files, "p", &row(0, &v2), None, 0).unwrap();
    w.append(&files, "p", &row(1, &v1), None, 0).unwrap();
    assert_eq!(keys(&w.take_closed()), [("topics/t/p/t+0+0000000000.txt".to_owned(), 0, 0)], "v1 rolled");
    w.append(&files, "p", &row(2, &v2), None, 0).unwrap();
    let closed = w.take_closed();
    assert_eq!(std::fs::read_to_string(&closed[0].path).unwrap(), "1 v1\n2 v1\n", "v2 projected onto v1");
    w.abandon();
}

#[test]
fn compatibility_modes_other_than_none_need_schema_versions_and_say_so() {
    let files = factory("f");
    let rot = Rotation { compatibility: SchemaCompatibility::Full, ..rotation(10) };
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rot, 0);
    let unversioned = hydrate_common::record::SchemaBuilder::struct_()
        .name("address")
        .field("id", Schema::of(SchemaType::Int32))
        .build();
    w.append(&files, "p", &row(0, &versioned(1, false)), None, 0).unwrap();
    let Appended::Rejected(reason) = w.append(&files, "p", &row(1, &unversioned), None, 0).unwrap() else {
        panic!("an unversioned schema must be refused under FULL");
    };
    assert!(reason.contains("schema.compatibility=FULL needs schema versions"), "{reason}");
    // A record that cannot be projected is refused with the reason.
    let renamed = hydrate_common::record::SchemaBuilder::struct_()
        .name("city")
        .version(1)
        .field("id", Schema::of(SchemaType::Int32))
        .build();
    let Appended::Rejected(reason) = w.append(&files, "p", &row(2, &renamed), None, 0).unwrap() else {
        panic!("a record of another schema name cannot be projected");
    };
    assert!(reason.contains("name mismatch"), "{reason}");
    w.abandon();
}

/// A format that holds 1,000 bytes a record until flushed, and keeps 1,000
/// bytes for good per flush (like a Parquet row group's metadata).
struct Held {
    rows: usize,
    flushes: Arc<std::sync::Mutex<Vec<usize>>>,
    index: usize,
}

impl RecordWriter for Held {
    fn append(&mut self, _record: &Record) -> Result<(), FormatError> {
        self.rows += 1;
        Ok(())
    }
    fn fits(&mut self, _record: &Record) -> Result<(), FormatError> {
        Ok(())
    }
    fn buffered_bytes(&self) -> usize {
        self.rows * 1000 + self.retained_bytes()
    }
    fn flush(&mut self) -> Result<(), FormatError> {
        self.rows = 0;
        self.flushes.lock().unwrap()[self.index] += 1;
        Ok(())
    }
    fn retained_bytes(&self) -> usize {
        2000 + self.flushes.lock().unwrap()[self.index] * self.flush_cost()
    }
    fn flush_cost(&self) -> usize {
        1000
    }
    fn records(&self) -> u64 {
        0
    }
    fn finish(self: Box<Self>) -> Result<(), FormatError> {
        Ok(())
    }
}

#[test]
fn a_flush_that_would_free_little_next_to_what_it_keeps_is_not_done() {
    let flushes = Arc::new(std::sync::Mutex::new(vec![0usize; 2]));
    let mut files = factory("held");
    let (counts, opened) = (flushes.clone(), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    files.open = Arc::new(move |_, _, _out| {
        let index = opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Box::new(Held { rows: 0, flushes: counts.clone(), index }) as Box<dyn RecordWriter>)
    });
    let mut w = PartitionWriter::new("t", 0, 0, Resume::default(), rotation(1000), 0);
    // x=1 holds 100 records (100 KB), x=2 holds 5 (5 KB, under 8 x 1 KB).
    for offset in 0..105 {
        let dir = if offset < 5 { "x=2" } else { "x=1" };
        w.append(&files, dir, &record(offset, Value::Int32(1), None), None, 0).unwrap();
    }
    let flushed = w.flush_largest(0).unwrap();
    assert_eq!(*flushes.lock().unwrap(), [0, 1], "only the large file (opened second) is flushed");
    assert_eq!((flushed.files, flushed.set_aside_rows), (1, 0));
    let left = flushed.buffered;
    assert!(left >= 5 * 1000, "the small file keeps its records: {left}");
    // Once it holds enough to be worth a row group, it is flushed too.
    for offset in 105..110 {
        w.append(&files, "x=2", &record(offset, Value::Int32(1), None), None, 0).unwrap();
    }
    w.flush_largest(0).unwrap();
    assert_eq!(*flushes.lock().unwrap(), [1, 1]);
    w.abandon();
}
