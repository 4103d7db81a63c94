//! The reference demo of `../shared/seed/README.md`, end to end, the way the
//! README walks a new user through it: on the local stack and the three
//! services `scripts/up` started, with the six connector configs unchanged.
//!
//! It ends with the demo's observability: every dashboard and alert
//! expression through the stack's Prometheus, and one trace across the
//! source and the sink in the stack's Jaeger.
//!
//! This binary runs alone (`scripts/test` runs it after the parallel suite):
//! it resets the demo's connectors, topics, objects and the `pagila`
//! database, which no other test may share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hydrate_tests::env::repo_root;
use hydrate_tests::observability::{promql_check, wait_source_to_sink_trace};
use hydrate_tests::{StackEnv, wait_for};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::Value;

const SOURCES: [&str; 3] = [
    "jdbc_source_connector_postgresql_00",
    "jdbc_source_connector_postgresql_01",
    "jdbc_source_connector_postgresql_02",
];
/// Address 100 in the lake, byte for byte as the seed README prints it.
const ADDRESS_100: &str = r#"{"address_id":100,"address":"1308 Arecibo Way","address2":"","district":"Georgia","city_id":41,"postal_code":"30695","phone":"6171054059","last_update":1139996730000}"#;
const SINKS: [&str; 3] = ["s3_sink_connector_00", "s3_sink_connector_01", "s3_sink_connector_02"];

/// Runs a command with the stack's environment, returning stdout; panics
/// with its output when it fails.
fn run(program: PathBuf, args: &[&str]) -> String {
    let output = Command::new(&program).args(args).current_dir(repo_root()).output().expect("start command");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{} {args:?} failed:\n{stdout}\n{stderr}", program.display());
    stdout
}

fn script(name: &str) -> PathBuf {
    repo_root().join("scripts").join(name)
}

fn hydratectl(args: &[&str]) -> String {
    run(script("hydratectl"), args)
}

/// Every record of `topic` visible to a read_committed consumer, as
/// (key, value) text.
fn read_topic(env: &StackEnv, topic: &str) -> Vec<(Option<String>, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", env.kafka_bootstrap())
        .set("group.id", "hydrate-demo-check")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
        return Vec::new();
    };
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut out = Vec::new();
    for partition in partitions {
        let Ok((low, high)) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)) else {
            continue;
        };
        if high <= low {
            continue;
        }
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(topic, partition, Offset::Offset(low)).expect("assign");
        consumer.assign(&assignment).expect("assign");
        // read_committed stops at the last stable offset; transaction
        // markers take offsets too, so read until polls come back empty.
        let mut empty = 0;
        while empty < 3 {
            match consumer.poll(Duration::from_millis(500)) {
                Some(Ok(message)) => {
                    empty = 0;
                    let key = message.key().map(|k| String::from_utf8_lossy(k).into_owned());
                    let value = message.payload().map(|v| String::from_utf8_lossy(v).into_owned());
                    out.push((key, value.unwrap_or_default()));
                    if message.offset() + 1 >= high {
                        break;
                    }
                }
                Some(Err(err)) => panic!("consume {topic}: {err}"),
                None => empty += 1,
            }
        }
    }
    out
}

fn payload(value: &str) -> Value {
    let envelope: Value = serde_json::from_str(value).expect("record value is JSON");
    envelope.get("payload").cloned().expect("schemas enabled: {\"schema\",\"payload\"}")
}

/// Versions per id field of the records in `topic`.
fn versions(records: &[(Option<String>, String)], id: &str) -> BTreeMap<i64, Vec<Value>> {
    let mut by_id: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (_, value) in records {
        let payload = payload(value);
        let key = payload[id].as_i64().expect("id field");
        by_id.entry(key).or_default().push(payload);
    }
    by_id
}

async fn keys_under(env: &StackEnv, prefix: &str) -> Vec<String> {
    let s3 = env.s3_client();
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(env.s3_bucket()).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.expect("list objects");
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    keys.sort();
    keys
}

async fn object_text(env: &StackEnv, key: &str) -> String {
    let object =
        env.s3_client().get_object().bucket(env.s3_bucket()).key(key).send().await.expect("get object");
    let bytes = object.body.collect().await.expect("read object").into_bytes();
    String::from_utf8(bytes.to_vec()).expect("JSON object is UTF-8")
}

fn expected_pair_one_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for (table, objects) in [("address", 7), ("city", 6), ("country", 2)] {
        for i in 0..objects {
            keys.push(format!(
                "topics/pagila.public.{table}/partition=0/pagila.public.{table}+0+{:010}.json",
                i * 100
            ));
        }
    }
    keys.sort();
    keys
}

/// The connector's status as hydratectl prints it for scripts.
fn status(name: &str) -> Value {
    serde_json::from_str(&hydratectl(&["status", name, "-o", "json"])).expect("status JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_demo_end_to_end() {
    let env = StackEnv::get();

    // A clean demo, then the README's first command's demo step.
    run(script("demo"), &["reset"]);
    run(script("demo"), &["start"]);

    // Status: all six RUNNING, through hydratectl and through grpcurl.
    for name in SOURCES.iter().chain(SINKS.iter()) {
        let status = status(name);
        assert_eq!(status["connector"]["state"], "RUNNING", "{name}: {status}");
        let tasks = status["tasks"].as_array().expect("tasks");
        assert!(!tasks.is_empty() && tasks.iter().all(|t| t["state"] == "RUNNING"), "{name}: {status}");
    }
    let grpcurl = PathBuf::from(env.var("HYDRATE_CACHE")).join("bin/grpcurl");
    let address = env.var("HYDRATE_ENDPOINT").trim_start_matches("http://").to_owned();
    let auth = format!("authorization: Bearer {}", env.var("HYDRATE_TOKEN"));
    let out = run(
        grpcurl,
        &[
            "-plaintext",
            "-H",
            &auth,
            "-d",
            r#"{"name": "s3_sink_connector_02"}"#,
            &address,
            "hydrate.v1.ConnectorService/GetConnectorStatus",
        ],
    );
    assert!(out.contains("RUNNING"), "grpcurl status:\n{out}");

    // Pair #1: three topics with 603, 600 and 109 records, null keys, schemas on.
    let counts = [
        ("pagila.public.address", 603),
        ("pagila.public.city", 600),
        ("pagila.public.country", 109),
        ("pagila.public.alt.address", 603),
        ("pagila.query", 603),
    ];
    for (topic, count) in counts {
        wait_for(&format!("{count} records in {topic}"), Duration::from_secs(120), || async move {
            let seen = read_topic(env, topic).len();
            if seen >= count { Ok(Some(())) } else { Err(format!("{seen} so far")) }
        })
        .await;
        let records = read_topic(env, topic);
        assert_eq!(records.len(), count, "{topic} holds each row once");
    }
    let address = read_topic(env, "pagila.public.address");
    assert!(address.iter().all(|(key, _)| key.is_none()), "pair #1 keys are null");
    let first: Value = serde_json::from_str(&address[0].1).expect("JSON");
    assert_eq!(first["schema"]["type"], "struct", "schemas enabled: {first}");
    let by_id = versions(&address, "address_id");
    let seed_example: Value = serde_json::from_str(ADDRESS_100).expect("JSON");
    assert_eq!(by_id[&100][0], seed_example, "address 100 as the seed README prints it");

    // Pair #2: keyed by address_id, two added fields.
    let alt = read_topic(env, "pagila.public.alt.address");
    let (key, value) = alt
        .iter()
        .find(|(_, v)| payload(v)["address_id"] == 100)
        .cloned()
        .expect("address 100 in pagila.public.alt.address");
    assert_eq!(key.as_deref(), Some(r#"{"schema":{"type":"int32","optional":false},"payload":100}"#));
    let value = payload(&value);
    assert_eq!(value["message_topic"], "pagila.public.alt.address");
    assert_eq!(value["message_source"], "pagila");

    // Pair #3: the custom query into the prefix alone, keyed, with the topic added.
    let query = read_topic(env, "pagila.query");
    let (key, value) = query
        .iter()
        .find(|(_, v)| payload(v)["address_id"] == 100)
        .cloned()
        .expect("address 100 in pagila.query");
    assert_eq!(key.as_deref(), Some(r#"{"schema":{"type":"int32","optional":false},"payload":100}"#));
    let value = payload(&value);
    assert_eq!(value["message_topic"], "pagila.query");
    assert_eq!(value["country"], "United States");

    // The lake, pair #1: exactly the 15 keys once the 60 s schedule flushed
    // the remainders, and the payload alone in each line.
    let expected = expected_pair_one_keys();
    let mut seen = Vec::new();
    for table in ["address", "city", "country"] {
        let prefix = format!("topics/pagila.public.{table}/");
        let want: Vec<String> = expected.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
        let prefix = &prefix;
        let want = &want;
        let keys = wait_for(&format!("the objects of {prefix}"), Duration::from_secs(150), || async move {
            let keys = keys_under(env, prefix).await;
            if &keys == want { Ok(Some(keys)) } else { Err(format!("{keys:?}")) }
        })
        .await;
        seen.extend(keys);
    }
    assert_eq!(seen, expected);
    let mut lines = 0;
    for key in &expected {
        let text = object_text(env, key).await;
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).expect("one JSON record per line");
            assert!(record.get("schema").is_none(), "the payload alone: {line}");
            lines += 1;
        }
    }
    assert_eq!(lines, 603 + 600 + 109, "every row once in the lake");
    let first_address =
        object_text(env, "topics/pagila.public.address/partition=0/pagila.public.address+0+0000000000.json")
            .await;
    assert!(
        first_address.lines().any(|l| l == ADDRESS_100),
        "address 100 as the seed README prints it:\n{first_address}"
    );

    // Pair #2 in the lake.
    let alt_keys = keys_under(env, "topics/pagila.public.alt.address/partition=0/").await;
    assert!(
        alt_keys.iter().any(|k| k.ends_with("pagila.public.alt.address+0+0000000000.json")),
        "{alt_keys:?}"
    );

    // Pair #3: gzip Parquet partitioned by country, read by DuckDB with Hive
    // partitioning through the project's query script.
    // The seed README's example, `+0000000003`, is the offset of the first
    // United States row in the original run, whose row order PostgreSQL did
    // not fix (every row has the same last_update); here it is computed from
    // the topic. The snapshot is one transaction, so offsets are positions.
    let first_us =
        query.iter().position(|(_, v)| payload(v)["country"] == "United States").expect("a US row");
    let us = format!("topics/pagila.query/country=United States/pagila.query+0+{first_us:010}.gz.parquet");
    let us = &us;
    wait_for("pair #3's Parquet objects", Duration::from_secs(150), || async move {
        let keys = keys_under(env, "topics/pagila.query/").await;
        if keys.iter().any(|k| k == us) {
            Ok(Some(()))
        } else {
            Err(format!("{} objects, not {us}", keys.len()))
        }
    })
    .await;
    let countries: BTreeSet<String> = keys_under(env, "topics/pagila.query/")
        .await
        .iter()
        .filter_map(|k| k.split('/').nth(2).map(str::to_owned))
        .collect();
    assert!(countries.iter().all(|c| c.starts_with("country=")), "{countries:?}");
    assert_eq!(countries.len(), 109, "one partition per country: {countries:?}");

    let lake = lake_query().await;
    let history = lake["history"].as_array().expect("history");
    assert_eq!(history.len(), 6, "one version each of 100..105 before dml.sql: {history:?}");
    assert!(
        history.iter().all(|r| r.get("district").is_none() && r["state_province"].is_string()),
        "renamed field"
    );

    // dml.sql: new versions arrive, within a poll plus the flush schedule.
    run(script("demo"), &["dml"]);
    let changed =
        wait_for("the new versions in pagila.public.address", Duration::from_secs(60), || async move {
            let by_id = versions(&read_topic(env, "pagila.public.address"), "address_id");
            let count = |id: i64| by_id.get(&id).map_or(0, Vec::len);
            if count(100) == 2 && (2..=3).contains(&count(101)) && (2..=3).contains(&count(102)) {
                Ok(Some(by_id))
            } else {
                Err(format!("versions of 100/101/102: {}/{}/{}", count(100), count(101), count(102)))
            }
        })
        .await;
    assert_eq!(changed[&100].last().expect("100")["address"], "123 CDC Test Lane");
    assert_eq!(changed[&101].last().expect("101")["address2"], "Apartment #2202");
    assert_eq!(changed[&102].last().expect("102")["city_id"], 601);
    assert_eq!(
        changed[&104].len(),
        1,
        "the deleted address is not seen again (query-based CDC sees no deletes)"
    );
    let countries = versions(&read_topic(env, "pagila.public.country"), "country_id");
    assert_eq!(countries[&110][0]["country"], "Wakanda");
    let cities = versions(&read_topic(env, "pagila.public.city"), "city_id");
    assert_eq!(cities[&601][0]["city"], "Birnin Zana");

    // The lake's latest versions, the seed README's ROW_NUMBER() query.
    let lake = wait_for("the latest versions in the lake", Duration::from_secs(150), || async move {
        let lake = lake_query().await;
        let latest = lake["latest"].as_array().cloned().unwrap_or_default();
        let address_100 = latest.first().map(|r| r["address"].clone());
        if address_100 == Some(Value::from("123 CDC Test Lane"))
            && latest.get(2).map(|r| r["state_province"].clone()) == Some(Value::from("Lake Turkana"))
        {
            Ok(Some(lake))
        } else {
            Err(format!("{latest:?}"))
        }
    })
    .await;
    let latest = lake["latest"].as_array().expect("latest");
    let ids: Vec<&str> = latest.iter().map(|r| r["address_id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["100", "101", "102", "103", "104", "105"], "104 stays: deletes are invisible");
    assert_eq!(latest[0]["address"], "123 CDC Test Lane");
    assert_eq!(latest[1]["address2"], "Apartment #2202");
    assert_eq!(latest[2]["city"], "Birnin Zana");
    assert_eq!(latest[2]["state_province"], "Lake Turkana");
    assert_eq!(latest[2]["country"], "Wakanda");
    let history = lake["history"].as_array().expect("history");
    let count = |id: &str| history.iter().filter(|r| r["address_id"] == id).count();
    assert_eq!(count("100"), 2, "{history:?}");
    assert!((2..=3).contains(&count("101")) && (2..=3).contains(&count("102")), "{history:?}");
    for id in ["103", "104", "105"] {
        assert_eq!(count(id), 1, "{id} unchanged: {history:?}");
    }

    // Observability of the demo, as an operator sees it. The stack's
    // Prometheus scrapes the three services: every dashboard and alert
    // expression parses and returns series (an alert's expression without
    // its threshold, and each metric it reads; tests/python/promql_check.py).
    let prometheus = env.var("PROMETHEUS_URL");
    let output = wait_for(
        "every dashboard and alert expression to return series",
        Duration::from_secs(90),
        || async move {
            let (passed, output) = promql_check(prometheus).await;
            if passed { Ok(Some(output)) } else { Err(output) }
        },
    )
    .await;
    assert!(output.contains(" 0 failed"), "{output}");
    // Jaeger holds one trace with the poll that read pair #1's rows and
    // the upload of an object holding them.
    let (trace, spans) = wait_source_to_sink_trace(
        env.var("JAEGER_URL"),
        Duration::from_secs(120),
        |poll| poll.tags.get("connector").is_some_and(|c| c == SOURCES[0]),
        |upload| upload.tags.get("key").is_some_and(|k| k.starts_with("topics/pagila.public.")),
    )
    .await;
    let operations: BTreeSet<&str> = spans.iter().map(|s| s.operation.as_str()).collect();
    assert!(operations.contains("source.produce"), "trace {trace}: {operations:?}");
}

/// `scripts/lake-query --json`: the history and latest versions of addresses
/// 100..105, as the project's DuckDB script prints them.
async fn lake_query() -> Value {
    let out =
        tokio::task::spawn_blocking(|| run(script("lake-query"), &["--json"])).await.expect("lake query");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("lake-query --json printed {out}: {e}"))
}
