//! Pair #3 of the seed: transforms on the sink, a FieldPartitioner on
//! `country`, gzip Parquet, read back by pyarrow and DuckDB with Hive
//! partitioning and without a duplicated `country` column.

use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::env::{repo_root, shared_file};
use hydrate_tests::wait_for;

use crate::sink_support::{SinkWorld, envelope};

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
    config["rotate.schedule.interval.ms"] = 2000.into();
    let name = format!("pair3_{}", world.scope.id());
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
