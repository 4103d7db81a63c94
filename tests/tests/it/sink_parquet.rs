//! Pair #3 of the seed: transforms on the sink, a FieldPartitioner on
//! `country`, gzip Parquet, read back by pyarrow and DuckDB with Hive
//! partitioning and without a duplicated `country` column.

use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use hydrate_proto::v1;
use hydrate_tests::control_plane::free_port;
use hydrate_tests::env::{repo_root, shared_file};
use hydrate_tests::observability::{sample, scrape};
use hydrate_tests::wait_for;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::sink_support::{SinkWorld, at_slot_start, envelope};

const QUERY_SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"address_id"},{"type":"string","optional":false,"field":"address"},{"type":"string","optional":true,"field":"address2"},{"type":"string","optional":false,"field":"city"},{"type":"string","optional":false,"field":"district"},{"type":"string","optional":true,"field":"postal_code"},{"type":"string","optional":false,"field":"country"},{"type":"string","optional":false,"field":"phone"},{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"last_update"},{"type":"string","optional":true,"field":"message_topic"}],"optional":false}"#;

const COUNTRIES: [&str; 12] = [
    "Canada",
    "Chad",
    "Japan",
    "United States",
    "Japan",
    "United States",
    "Canada",
    "Bosnia/Herzegovina",
    "United States",
    "Chad",
    "Japan",
    "United States",
];

#[tokio::test]
async fn sink_pair_three_writes_hive_partitioned_gzip_parquet() {
    let world = SinkWorld::start("sink_pair_three", 5).await;
    let topic = world.scope.topic("query");
    world.create_topic(&topic, 1).await;
    let records = COUNTRIES
        .iter()
        .enumerate()
        .map(|(i, country)| {
            let id = i + 1;
            let payload = format!(
                r#"{{"address_id":{id},"address":"{id} Main St","address2":null,"city":"City {id}","district":"District {id}","postal_code":"1000{id}","country":"{country}","phone":"555{id}","last_update":1139996730000,"message_topic":"pagila.query"}}"#
            );
            let key = format!(r#"{{"schema":{{"type":"int32","optional":false}},"payload":{id}}}"#);
            (0, Some(key), Some(envelope(QUERY_SCHEMA, &payload)))
        })
        .collect();
    world.produce(&topic, records).await;

    let mut config: serde_json::Value =
        serde_json::from_str(&shared_file("seed/connectors/s3_sink_connector_02.json")).expect("seed config");
    config["topics"] = topic.clone().into();
    config["topics.dir"] = world.topics_dir().into();
    config["s3.bucket.name"] = world.scope.env().s3_bucket().into();
    config["rotate.schedule.interval.ms"] = 10_000.into();
    let name = format!("pair3_{}", world.scope.id());
    // All twelve records land in one slot's segment, flushed when it ends.
    at_slot_start(10_000).await;
    world.put(&name, config).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;

    let prefix = format!("{}/{topic}", world.topics_dir());
    let us = format!("{prefix}/country=United States/{topic}+0+0000000003.gz.parquet");
    let bosnia = format!("{prefix}/country=Bosnia%2FHerzegovina/{topic}+0+0000000007.gz.parquet");
    let keys = wait_for("the objects of five countries", Duration::from_secs(60), || {
        let (world, prefix) = (&world, format!("{prefix}/"));
        async move {
            let keys = world.list(&prefix).await;
            Ok((keys.len() >= 5).then_some(keys))
        }
    })
    .await;
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(keys.contains(&us), "{us} in {keys:?}");
    assert!(keys.contains(&bosnia), "a `/` in a value stays one path segment: {keys:?}");

    // The object names use the test's topic; the checker wants pair #3's.
    let env = world.scope.env();
    let python = format!("{}/venv/bin/python", env.var("HYDRATE_CACHE"));
    let script = repo_root().join("tests/python/sink_parquet_check.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(env.s3_bucket())
        .arg(&prefix)
        .arg(COUNTRIES.len().to_string())
        .env("AWS_ENDPOINT_URL", env.var("AWS_ENDPOINT_URL"))
        .env("AWS_ACCESS_KEY_ID", env.var("AWS_ACCESS_KEY_ID"))
        .env("AWS_SECRET_ACCESS_KEY", env.var("AWS_SECRET_ACCESS_KEY"))
        .env("AWS_REGION", env.var("AWS_REGION"))
        .output()
        .await
        .expect("run the parquet checker");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const SPILL_SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"g"},{"type":"string","optional":false,"field":"name"},{"type":"double","optional":false,"field":"amount"}],"optional":false}"#;

/// Directories written at once by the small-budget test.
const SPILL_DIRECTORIES: u64 = 100;
/// Records of the small-budget test: one segment, 400 rows a directory.
const SPILL_RECORDS: u64 = 40_000;

/// The sink under its smallest memory budget (1 MiB) with a hundred Parquet
/// files open at once (about 3 MB of rows): the budget flushes them again
/// and again, each flush sets the file's rows aside on the spool (no row
/// group is under way), and each object still comes out as one row group
/// with every record of its directory once, in offset order.
#[tokio::test]
async fn sink_under_a_small_memory_budget_sets_parquet_rows_aside_and_writes_whole_row_groups() {
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let world = SinkWorld::start_with(
        "sink_spill",
        5,
        vec![
            ("HYDRATE_SINK_MEMORY_BYTES", "1MiB".to_owned()),
            ("HYDRATE_METRICS_LISTEN", metrics.to_string()),
        ],
    )
    .await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 1).await;
    let row = |id: u64| {
        let payload = format!(
            r#"{{"id":{id},"g":{},"name":"customer {id:08} of the spill test, padded out","amount":{id}.25}}"#,
            id % SPILL_DIRECTORIES
        );
        (0, None, Some(envelope(SPILL_SCHEMA, &payload)))
    };
    world.produce(&topic, (0..SPILL_RECORDS).map(row).collect()).await;
    let config = world.sink_config(
        &topic,
        serde_json::json!({
            "format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat",
            "flush.size": SPILL_RECORDS,
            "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "partition.field.name": "g",
        }),
    );
    let name = format!("spill_{}", world.scope.id());
    world.put(&name, config).await;
    let prefix = format!("{}/{topic}/", world.topics_dir());
    let keys = wait_for("an object for each directory", Duration::from_secs(120), || {
        let (world, prefix) = (&world, prefix.clone());
        async move {
            let keys = world.list(&prefix).await;
            if keys.len() as u64 >= SPILL_DIRECTORIES {
                Ok(Some(keys))
            } else {
                Err(format!("{} objects", keys.len()))
            }
        }
    })
    .await;
    assert_eq!(keys.len() as u64, SPILL_DIRECTORIES, "one segment: {keys:?}");

    // The budget flushed and the rows were set aside (read while the task runs).
    let samples = scrape(metrics).await.expect("scrape the sink");
    let task = [format!("connector=\"{name}\"")];
    let task: Vec<&str> = task.iter().map(String::as_str).collect();
    let counter = |metric: &str| sample(&samples, metric, &task).unwrap_or(0.0);
    let (flushes, spilled) =
        (counter("hydrate_sink_memory_flushes_total"), counter("hydrate_sink_spilled_rows_total"));
    assert!(flushes >= SPILL_DIRECTORIES as f64, "flushes for the budget: {flushes}");
    assert!(spilled >= (SPILL_RECORDS / 2) as f64, "rows set aside: {spilled}");

    let mut all = Vec::new();
    for key in &keys {
        let bytes = bytes::Bytes::from(world.get(key).await);
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).expect("a Parquet object");
        assert_eq!(reader.metadata().num_row_groups(), 1, "{key}: one whole row group");
        let g: u64 =
            key.split("/g=").nth(1).and_then(|rest| rest.split('/').next()?.parse().ok()).expect("g");
        let mut ids = Vec::new();
        for batch in reader.build().expect("reader") {
            let batch = batch.expect("batch");
            let column = batch.column_by_name("id").expect("id column");
            ids.extend(column.as_primitive::<Int64Type>().values().iter().map(|id| *id as u64));
            assert_eq!(column.null_count(), 0);
        }
        let expected: Vec<u64> = (0..SPILL_RECORDS).filter(|id| id % SPILL_DIRECTORIES == g).collect();
        assert_eq!(ids, expected, "{key}: its directory's records once, in offset order");
        all.extend(ids);
    }
    assert_eq!(all.len() as u64, SPILL_RECORDS);
}
