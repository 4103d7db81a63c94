//! The sink's Parquet objects as lake engines read them: pair #3's shape
//! (FieldPartitioner on `country`, gzip Parquet) written by the sink's
//! format and partitioner modules into a local Hive-style tree, then read by
//! pyarrow.dataset and DuckDB with Hive partitioning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hydrate_common::connect::{DecimalFormat, Format, ParquetCodec};
use hydrate_common::record::{
    DECIMAL_PRECISION_PARAM, Decimal, Record, Schema, SchemaAndValue, SchemaBuilder, SchemaType, Struct,
    Value,
};
use hydrate_sink::format::{FormatOptions, extension, open_writer};
use hydrate_sink::partition::{FieldPartitioner, Partitioner};
use hydrate_tests::StackEnv;
use hydrate_tests::env::repo_root;

/// `pagila.query` after sink #3's transforms (district renamed, three fields
/// added), plus `rental_rate`, a numeric(4,2), so a Decimal is read back too.
fn query_schema() -> Schema {
    let text = || Schema::of(SchemaType::String);
    SchemaBuilder::struct_()
        .name("pagila.query")
        .field("address_id", Schema::of(SchemaType::Int32))
        .field("address", text())
        .field("address2", Schema::optional_of(SchemaType::String))
        .field("city", text())
        .field("state_province", text())
        .field("postal_code", Schema::optional_of(SchemaType::String))
        .field("country", text())
        .field("phone", text())
        .field("last_update", SchemaBuilder::timestamp().build())
        .field("rental_rate", SchemaBuilder::decimal(2).parameter(DECIMAL_PRECISION_PARAM, "4").build())
        .field("message_topic", text())
        .field("message_source", text())
        .field("message_source_engine", text())
        .field("environment", text())
        .build()
}

struct Row {
    id: i32,
    address: &'static str,
    city: &'static str,
    district: &'static str,
    country: &'static str,
    postal_code: Option<&'static str>,
    rate_cents: i128,
}

const ROWS: &[Row] = &[
    Row {
        id: 3,
        address: "23 Workhaven Lane",
        city: "Lethbridge",
        district: "Alberta",
        country: "Canada",
        postal_code: None,
        rate_cents: 99,
    },
    Row {
        id: 100,
        address: "1308 Arecibo Way",
        city: "Augusta-Richmond County",
        district: "Georgia",
        country: "United States",
        postal_code: Some("30695"),
        rate_cents: 499,
    },
    Row {
        id: 101,
        address: "1599 Plock Drive",
        city: "Tieli",
        district: "Heilongjiang",
        country: "China",
        postal_code: Some("71986"),
        rate_cents: 299,
    },
    Row {
        id: 102,
        address: "669 Firozabad Loop",
        city: "Birnin Zana",
        district: "Lake Turkana",
        country: "Wakanda / Golden City",
        postal_code: Some("92265"),
        rate_cents: 1099,
    },
    Row {
        id: 105,
        address: "1013 Tabuk Boulevard",
        city: "Kamyshin",
        district: "West Bengali",
        country: "United States",
        postal_code: Some("96203"),
        rate_cents: 0,
    },
];

/// 2006-02-15 09:45:30 UTC, when Pagila's rows were last updated.
const LAST_UPDATE_MS: i64 = 1_139_996_730_000;

fn record(schema: &Schema, offset: i64, row: &Row) -> Record {
    let values = vec![
        Value::Int32(row.id),
        row.address.into(),
        "".into(),
        row.city.into(),
        row.district.into(),
        row.postal_code.map_or(Value::Null, Value::from),
        row.country.into(),
        "6171054059".into(),
        Value::Timestamp(LAST_UPDATE_MS),
        Value::Decimal(Decimal::from_i128(row.rate_cents, 2)),
        "pagila.query".into(),
        "pagila".into(),
        "postgresql".into(),
        "development".into(),
    ];
    let value = Struct::from_values(schema.clone(), values).expect("values fit the schema");
    let mut record = Record::new("pagila.query", SchemaAndValue::new(schema.clone(), Value::Struct(value)));
    (record.partition, record.offset, record.timestamp) = (Some(0), Some(offset), Some(LAST_UPDATE_MS));
    record
}

/// Writes `ROWS` as the sink would: one object per encoded partition, named
/// after its first offset, the partition field left out of the file.
fn write_lake(root: &Path) -> Vec<String> {
    let schema = query_schema();
    let partitioner = FieldPartitioner::new(vec!["country".into()], "/".into());
    let format = Format::Parquet { codec: ParquetCodec::Gzip };
    let options = FormatOptions {
        format: format.clone(),
        json_decimal_format: DecimalFormat::Base64,
        excluded_fields: partitioner.fields().to_vec(),
        row_group_rows: 0,
        spill_dir: None,
    };
    let mut objects: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for (offset, row) in (3..).zip(ROWS) {
        let record = record(&schema, offset, row);
        let dir = partitioner.encode(&record, 0).expect("every row has a country");
        objects.entry(dir).or_default().push(record);
    }
    let mut keys = Vec::new();
    for (dir, records) in objects {
        let start = records[0].offset.expect("offset set");
        let key = format!("topics/pagila.query/{dir}/pagila.query+0+{start:010}{}", extension(&format));
        let path = root.join(&key);
        std::fs::create_dir_all(path.parent().expect("key has directories")).expect("create directories");
        let file = std::fs::File::create(&path).expect("create object file");
        let mut writer = open_writer(&options, Some(&schema), Box::new(file)).expect("open writer");
        for record in &records {
            writer.append(record).expect("append");
        }
        writer.finish().expect("finish");
        keys.push(key);
    }
    keys
}

pub(crate) fn python() -> PathBuf {
    let cache =
        std::env::var("HYDRATE_CACHE").unwrap_or_else(|_| StackEnv::get().var("HYDRATE_CACHE").to_owned());
    let python = PathBuf::from(cache).join("venv/bin/python");
    assert!(python.exists(), "no venv python at {}: run scripts/install-deps", python.display());
    python
}

#[test]
fn pair_3_parquet_reads_in_pyarrow_and_duckdb_with_hive_partitions() {
    let root = std::env::temp_dir().join(format!("hydrate-sink-format-{}", uuid::Uuid::new_v4()));
    let keys = write_lake(&root);
    assert_eq!(
        keys,
        [
            "topics/pagila.query/country=Canada/pagila.query+0+0000000003.gz.parquet",
            "topics/pagila.query/country=China/pagila.query+0+0000000005.gz.parquet",
            "topics/pagila.query/country=United States/pagila.query+0+0000000004.gz.parquet",
            "topics/pagila.query/country=Wakanda %2F Golden City/pagila.query+0+0000000006.gz.parquet",
        ]
    );

    let output = Command::new(python())
        .arg(repo_root().join("tests/python/read_lake_parquet.py"))
        .arg(root.join("topics/pagila.query"))
        .output()
        .expect("run python");
    let _ = std::fs::remove_dir_all(&root);
    assert!(output.status.success(), "python failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("python prints JSON");

    // Inside the files: every column but the partition column.
    let file_columns = report["files"]["columns"].as_array().expect("file columns");
    assert_eq!(file_columns.len(), 13, "{file_columns:?}");
    assert!(!file_columns.iter().any(|c| c == "country"), "country is in a file: {file_columns:?}");

    for engine in ["pyarrow", "duckdb"] {
        let r = &report[engine];
        let columns: Vec<&str> = r["columns"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
        assert_eq!(columns.iter().filter(|c| **c == "country").count(), 1, "{engine}: {columns:?}");
        assert_eq!(columns.len(), 14, "{engine}: {columns:?}");
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), ROWS.len(), "{engine}");
        let at = |row: usize, column: &str| {
            let i = columns.iter().position(|c| *c == column).unwrap();
            rows[row][i].clone()
        };
        // Sorted by address_id: 3, 100, 101, 102, 105. The country comes from the path, unescaped.
        let countries: Vec<_> = (0..rows.len()).map(|i| at(i, "country")).collect();
        assert_eq!(
            countries,
            ["Canada", "United States", "China", "Wakanda / Golden City", "United States"],
            "{engine}"
        );
        assert_eq!(at(1, "address"), "1308 Arecibo Way", "{engine}");
        assert_eq!(at(0, "postal_code"), serde_json::Value::Null, "{engine}");
        assert_eq!(at(3, "rental_rate"), "10.99", "{engine}");
        assert_eq!(at(1, "last_update"), "2006-02-15T09:45:30+00:00", "{engine}");
    }

    let types = &report["pyarrow"]["types"];
    assert_eq!(types["address_id"], "int32");
    assert_eq!(types["last_update"], "timestamp[ms, tz=UTC]");
    assert_eq!(types["rental_rate"], "decimal128(4, 2)");
    assert_eq!(types["address2"], "string");
    assert_eq!(types["country"], "string");
    let types = &report["duckdb"]["types"];
    assert_eq!(types["address_id"], "INTEGER");
    assert_eq!(types["last_update"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["rental_rate"], "DECIMAL(4,2)");
    assert_eq!(types["country"], "VARCHAR");
}
