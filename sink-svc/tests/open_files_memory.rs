//! What a Parquet writer holds in memory against what it reports to the
//! memory budget: a thousand files open at once (a field partitioner with a
//! thousand values) must not hold much more than the budget is told.
//! The allocator counts live bytes, so this is its own test binary, and its
//! tests take turns ([`SERIAL`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hydrate_common::connect::{DecimalFormat, Format, ParquetCodec};
use hydrate_common::record::{
    DECIMAL_PRECISION_PARAM, Decimal, Record, Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct,
    Value,
};
use hydrate_sink::format::{FormatOptions, RecordWriter, open_writer};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// One test at a time: they read the same counter.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The benchmark's rows (`bench/harness/data.py`): integers, a decimal,
/// text and timestamps, about 150 bytes.
fn schema() -> Schema {
    SchemaBuilder::struct_()
        .name("bench_rows")
        .field("id", Schema::of(SchemaType::Int64))
        .field("customer_id", Schema::of(SchemaType::Int32))
        .field("quantity", Schema::of(SchemaType::Int32))
        .field("amount", SchemaBuilder::decimal(2).parameter(DECIMAL_PRECISION_PARAM, "12").build())
        .field("status", Schema::of(SchemaType::String))
        .field("description", Schema::of(SchemaType::String))
        .field("created_at", SchemaBuilder::timestamp().build())
        .field("last_update", SchemaBuilder::timestamp().build())
        .build()
}

fn record(schema: &Schema, n: i64) -> Record {
    let values = vec![
        Value::Int64(n),
        Value::Int32((n * 7919 % 100_000) as i32),
        Value::Int32((n % 10) as i32),
        Value::Decimal(Decimal::from_i128(i128::from(n % 100_000), 2)),
        Value::from(["paid", "open", "shipped", "refunded"][(n % 4) as usize]),
        Value::from(format!("{n:032x} {:09x} order line", n * 31)),
        Value::Timestamp(1_577_836_800_000 + n * 1000),
        Value::Timestamp(1_609_459_200_000 + n),
    ];
    let value = Struct::from_values(schema.clone(), values).unwrap();
    Record::new("t", SchemaAndValue::new(schema.clone(), Value::Struct(value)))
}

/// Snappy Parquet in row groups of 65,536 rows, as the benchmark's sink.
fn options(spill_dir: Option<std::path::PathBuf>) -> FormatOptions {
    FormatOptions {
        format: Format::Parquet { codec: ParquetCodec::Snappy },
        json_decimal_format: DecimalFormat::Base64,
        excluded_fields: Vec::new(),
        row_group_rows: 65_536,
        spill_dir,
    }
}

#[test]
fn a_thousand_open_parquet_files_hold_about_what_they_report() {
    const FILES: usize = 1000;
    const ROWS_PER_FILE: i64 = 300;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let schema = schema();
    let options = options(None);
    let records: Vec<Record> = (0..ROWS_PER_FILE).map(|n| record(&schema, n)).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut writers: Vec<Box<dyn RecordWriter>> = (0..FILES)
        .map(|_| open_writer(&options, Some(&schema), Box::new(std::io::sink())).unwrap())
        .collect();
    let opened = LIVE.load(Ordering::Relaxed) - before;
    for r in &records {
        for w in writers.iter_mut() {
            w.append(r).unwrap();
        }
    }
    let live = LIVE.load(Ordering::Relaxed) - before;
    let reported: usize = writers.iter().map(|w| w.buffered_bytes()).sum();
    eprintln!(
        "{FILES} files: opened {} KiB each, after {ROWS_PER_FILE} rows live {} KiB each, reported {} KiB each",
        opened / FILES / 1024,
        live / FILES / 1024,
        reported / FILES / 1024
    );
    for w in writers.iter_mut() {
        w.flush().unwrap();
    }
    let flushed = LIVE.load(Ordering::Relaxed) - before;
    let reported_flushed: usize = writers.iter().map(|w| w.buffered_bytes()).sum();
    eprintln!(
        "after flush: live {} KiB each, reported {} KiB each",
        flushed / FILES / 1024,
        reported_flushed / FILES / 1024
    );
    // What the budget is told covers what is held, within a tenth.
    let close = |live: usize, reported: usize| live <= reported + reported / 10 + FILES * 1024;
    assert!(close(live, reported), "with rows: live {live} bytes, reported {reported}");
    assert!(close(flushed, reported_flushed), "flushed: live {flushed} bytes, reported {reported_flushed}");
}

/// What the memory budget does to a thousand open files over a long run:
/// flush them again and again. Rows set aside on disk must not leave
/// anything behind in memory, as small row groups' metadata would (about
/// 1 KiB a column each, until the file closes).
#[test]
fn a_thousand_parquet_files_flushed_again_and_again_do_not_grow() {
    const FILES: usize = 1000;
    const ROUNDS: usize = 10;
    const ROWS_PER_ROUND: i64 = 20;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let spill = std::env::temp_dir().join(format!("hydrate-spill-test-{}", std::process::id()));
    std::fs::create_dir_all(&spill).unwrap();
    let schema = schema();
    let options = options(Some(spill.clone()));
    let records: Vec<Record> = (0..ROWS_PER_ROUND).map(|n| record(&schema, n)).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut writers: Vec<Box<dyn RecordWriter>> = (0..FILES)
        .map(|_| open_writer(&options, Some(&schema), Box::new(std::io::sink())).unwrap())
        .collect();
    let mut after_round = Vec::new();
    for _ in 0..ROUNDS {
        for w in writers.iter_mut() {
            for r in &records {
                w.append(r).unwrap();
            }
            w.flush().unwrap();
        }
        after_round.push(LIVE.load(Ordering::Relaxed) - before);
    }
    eprintln!(
        "{FILES} files, live after each round of {ROWS_PER_ROUND} rows and a flush (KiB each): {:?}",
        after_round.iter().map(|l| l / FILES / 1024).collect::<Vec<_>>()
    );
    let growth = after_round[ROUNDS - 1].saturating_sub(after_round[0]);
    assert!(growth < FILES * 1024, "grew {growth} bytes over {} more flushes of {FILES} files", ROUNDS - 1);
    for w in writers {
        w.finish().unwrap();
    }
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0, "every spill removed at finish");
    std::fs::remove_dir_all(&spill).unwrap();
}
