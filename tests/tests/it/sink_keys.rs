//! `store.kafka.keys` and `store.kafka.headers` through the real sink: a
//! keys and a headers object beside every value object, holding the i-th
//! record's key and headers where the value object holds its value.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::wait_for;

use crate::sink_support::{Produced, SinkWorld, envelope};

const SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"g"}],"optional":false,"name":"row"}"#;
const JSON: &str = "io.confluent.connect.s3.format.json.JsonFormat";
const PARQUET: &str = "io.confluent.connect.s3.format.parquet.ParquetFormat";

/// Record `id`: partition `id % 2`, key `k<id>`, headers `id: <id>` and
/// `source: hydrate-test`; directory `g=<id % 3>`.
fn record(id: u64) -> Produced {
    let payload = format!(r#"{{"id":{id},"g":{}}}"#, id % 3);
    let headers = vec![("id".to_owned(), id.to_string()), ("source".to_owned(), "hydrate-test".to_owned())];
    ((id % 2) as i32, Some(format!("k{id}")), Some(envelope(SCHEMA, &payload)), headers)
}

/// The headers object's line for record `id`.
fn headers_line(id: u64) -> serde_json::Value {
    serde_json::json!([{"key": "id", "value": id.to_string()}, {"key": "source", "value": "hydrate-test"}])
}

fn config(world: &SinkWorld, topic: &str, format: &str, flush_size: u32) -> serde_json::Value {
    world.sink_config(
        topic,
        serde_json::json!({
            "flush.size": flush_size,
            "format.class": format,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "partition.field.name": "g",
            "store.kafka.keys": true,
            "keys.format.class": format,
            "store.kafka.headers": true,
            "headers.format.class": format,
        }),
    )
}

async fn wait_committed(world: &SinkWorld, name: &str, topic: &str, ends: Vec<i64>) {
    wait_for("the sink to commit every record", Duration::from_secs(120), || {
        let (name, topic, ends) = (name.to_owned(), topic.to_owned(), ends.clone());
        async move {
            let committed = world.committed(&name, &topic, ends.len() as i32).await;
            if committed == ends { Ok(Some(())) } else { Err(format!("committed {committed:?}")) }
        }
    })
    .await;
}

/// The lake's objects under `dir` as (value, keys, headers) groups; every
/// object must belong to exactly one group.
fn groups(keys: &[String], extension: &str) -> Vec<(String, String, String)> {
    let mut rest: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let values: Vec<String> = keys
        .iter()
        .filter(|k| {
            k.ends_with(extension)
                && !k.ends_with(&format!(".keys{extension}"))
                && !k.ends_with(&format!(".headers{extension}"))
        })
        .cloned()
        .collect();
    let mut out = Vec::new();
    for value in values {
        let base = value.strip_suffix(extension).expect("extension");
        let (k, h) = (format!("{base}.keys{extension}"), format!("{base}.headers{extension}"));
        for key in [&value, &k, &h] {
            assert!(rest.remove(key.as_str()), "{key} missing from the lake: {keys:#?}");
        }
        out.push((value, k, h));
    }
    assert!(rest.is_empty(), "objects of no group: {rest:?}");
    out
}

fn json_lines(body: &[u8]) -> Vec<serde_json::Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn sink_keys_and_headers_objects_hold_each_records_key_and_headers_beside_its_value() {
    let world = SinkWorld::start("sink_keys_json", 5).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 2).await;
    // Records the sidecars cannot take (no key; no headers) are tolerated,
    // so they must be in none of the three objects.
    let (keyless, bare) = (37u64, 90u64);
    let records = (0..300)
        .map(|id| {
            let (partition, key, value, headers) = record(id);
            match id {
                _ if id == keyless => (partition, None, value, headers),
                _ if id == bare => (partition, key, value, Vec::new()),
                _ => (partition, key, value, headers),
            }
        })
        .collect();
    world.produce_with_headers(&topic, records).await;
    let mut config = config(&world, &topic, JSON, 40);
    config["errors.tolerance"] = "all".into();
    let name = format!("keys_{}", world.scope.id());
    world.put(&name, config).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;
    // 40-record segments: per partition three of them, the rest stays open.
    let keys = wait_for("three committed groups of each partition", Duration::from_secs(90), || {
        let (world, prefix) = (&world, format!("{}/{topic}/", world.topics_dir()));
        async move {
            let keys = world.list(&prefix).await;
            let values = keys.iter().filter(|k| !k.contains(".keys.") && !k.contains(".headers.")).count();
            // Three segments of each partition, each with a file per directory g=0..2.
            Ok((values == 2 * 3 * 3).then_some(keys))
        }
    })
    .await;

    let mut seen = BTreeSet::new();
    for (value, key_object, headers_object) in groups(&keys, ".json") {
        let values = json_lines(&world.get(&value).await);
        let ids: Vec<u64> = values.iter().map(|v| v["id"].as_u64().expect("id")).collect();
        let stored_keys = json_lines(&world.get(&key_object).await);
        let expected: Vec<serde_json::Value> = ids.iter().map(|id| format!("k{id}").into()).collect();
        assert_eq!(stored_keys, expected, "{key_object} beside {value}");
        let stored_headers = json_lines(&world.get(&headers_object).await);
        assert_eq!(
            stored_headers,
            ids.iter().map(|id| headers_line(*id)).collect::<Vec<_>>(),
            "{headers_object}"
        );
        // Each sidecar names its value object's upload as its group, with the same offsets.
        let value_meta = world.metadata(&value).await;
        for sidecar in [&key_object, &headers_object] {
            let meta = world.metadata(sidecar).await;
            assert_eq!(meta.get("hydrate-group"), value_meta.get("hydrate-upload-id"), "{sidecar}");
            for name in ["hydrate-start-offset", "hydrate-end-offset", "hydrate-records", "hydrate-connector"]
            {
                assert_eq!(meta.get(name), value_meta.get(name), "{name} of {sidecar}");
            }
        }
        for id in ids {
            assert!(seen.insert(id), "record {id} twice");
        }
    }
    assert!(!seen.contains(&keyless) && !seen.contains(&bare), "refused records are in no object");
    assert_eq!(seen.len(), 2 * 3 * 40, "three segments of 40 records of each partition");
}

#[tokio::test]
async fn sink_keys_and_headers_in_parquet_are_enveloped_and_aligned_with_the_values() {
    let world = SinkWorld::start("sink_keys_parquet", 5).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 2).await;
    world.produce_with_headers(&topic, (0..60).map(record).collect()).await;
    let name = format!("keysparquet_{}", world.scope.id());
    world.put(&name, config(&world, &topic, PARQUET, 30)).await;
    wait_committed(&world, &name, &topic, vec![30, 30]).await;

    let keys = world.list(&format!("{}/{topic}/", world.topics_dir())).await;
    let groups = groups(&keys, ".snappy.parquet");
    assert_eq!(groups.len(), 2 * 3, "one group per partition and directory: {keys:#?}");
    let root = std::env::temp_dir().join(format!("hydrate-sink-keys-{}", world.scope.id()));
    let mut files = Vec::new();
    for (n, group) in groups.iter().enumerate() {
        for (kind, key) in [("value", &group.0), ("keys", &group.1), ("headers", &group.2)] {
            let path = root.join(format!("{n}.{kind}.parquet"));
            std::fs::create_dir_all(&root).expect("temp dir");
            std::fs::write(&path, world.get(key).await).expect("write parquet");
            files.push(path);
        }
    }
    // pyarrow reads each file as a list of rows (dicts), one JSON document per file.
    let script = "import json, sys\nimport pyarrow.parquet as pq\n\
                  print(json.dumps([pq.read_table(p).to_pylist() for p in sys.argv[1:]]))";
    let output = Command::new(crate::sink_format::python())
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .expect("python");
    let _ = std::fs::remove_dir_all(&root);
    assert!(output.status.success(), "python failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let tables: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(&output.stdout).expect("python prints JSON");
    let mut seen = BTreeSet::new();
    for triple in tables.chunks(3) {
        let ids: Vec<u64> = triple[0].iter().map(|row| row["id"].as_u64().expect("id")).collect();
        let keys: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"key": format!("k{id}")})).collect();
        assert_eq!(triple[1], keys, "RecordKey{{key}} rows in value order");
        let headers: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"headers": headers_line(*id)})).collect();
        assert_eq!(triple[2], headers, "RecordHeaders{{headers}} rows in value order");
        seen.extend(ids);
    }
    assert_eq!(seen, (0..60).collect(), "each record once");
}

#[tokio::test]
async fn sink_a_null_key_fails_the_task_naming_the_record_and_writes_nothing_of_its_segment() {
    let world = SinkWorld::start("sink_keys_null", 5).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 1).await;
    let records = (0..3)
        .map(|id| {
            let (_, key, value, headers) = record(id);
            (0, if id == 1 { None } else { key }, value, headers)
        })
        .collect();
    world.produce_with_headers(&topic, records).await;
    let name = format!("keysnull_{}", world.scope.id());
    world.put(&name, config(&world, &topic, JSON, 10)).await;
    let traces = world.wait_tasks(&name, v1::State::Failed, Duration::from_secs(60)).await;
    assert!(traces[0].contains("Key cannot be null for SinkRecord"), "{traces:?}");
    assert!(traces[0].contains(&format!("{topic}-0@1")), "names the record: {traces:?}");
    assert!(world.list(&format!("{}/{topic}/", world.topics_dir())).await.is_empty(), "nothing partial");
}

/// A one-partition connector with keys whose ten records are committed as
/// one group; returns (connector, checkpoint key, value object, keys object).
async fn one_committed_group(world: &SinkWorld) -> (String, String, String, String) {
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 1).await;
    world
        .produce_with_headers(&topic, (0..10).map(|id| (0, record(id).1, record(id).2, Vec::new())).collect())
        .await;
    let mut config = config(world, &topic, JSON, 10);
    config["store.kafka.headers"] = false.into();
    config["partitioner.class"] = "io.confluent.connect.storage.partitioner.DefaultPartitioner".into();
    let name = format!("keysrec_{}", world.scope.id());
    world.put(&name, config).await;
    let checkpoint = format!("{}/_hydrate/{name}/{topic}+0.json", world.topics_dir());
    wait_resumed_at_10(world, &checkpoint).await;
    let base = format!("{}/{topic}/partition=0/{topic}+0+0000000000", world.topics_dir());
    let (value, keys) = (format!("{base}.json"), format!("{base}.keys.json"));
    assert_eq!(world.list(&format!("{}/{topic}/", world.topics_dir())).await, [value.clone(), keys.clone()]);
    (name, checkpoint, value, keys)
}

async fn wait_resumed_at_10(world: &SinkWorld, checkpoint: &str) {
    wait_for("the checkpoint to resume at 10 with nothing pending", Duration::from_secs(60), || async move {
        if world.list(checkpoint).await.is_empty() {
            return Ok(None);
        }
        let cp: serde_json::Value =
            serde_json::from_slice(&world.get(checkpoint).await).map_err(|e| e.to_string())?;
        Ok((cp["resume"] == 10 && cp["pending"].as_array().is_some_and(|p| p.is_empty())).then_some(()))
    })
    .await;
}

/// Rewinds the checkpoint to the state of a crash during the group's
/// upload: resume 0, the group pending.
async fn rewind(world: &SinkWorld, checkpoint: &str, value: &str, keys: &str) {
    let mut cp: serde_json::Value = serde_json::from_slice(&world.get(checkpoint).await).expect("checkpoint");
    cp["resume"] = 0.into();
    let entry =
        serde_json::json!({"key": value, "encoded": "partition=0", "start": 0, "end": 9, "sidecars": [keys]});
    cp["pending"] = serde_json::json!([entry]);
    put(world, checkpoint, cp.to_string().into_bytes(), &[]).await;
}

async fn put(world: &SinkWorld, key: &str, body: Vec<u8>, metadata: &[(&str, &str)]) {
    let s3 = world.scope.env().s3_client();
    let mut request = s3.put_object().bucket(world.scope.env().s3_bucket()).key(key).body(body.into());
    for (k, v) in metadata {
        request = request.metadata(*k, *v);
    }
    request.send().await.expect("put object");
}

/// The keys object holds `k0`..`k9` and names the value object's upload as its group.
async fn assert_aligned(world: &SinkWorld, value: &str, keys: &str) {
    let ids: Vec<u64> =
        json_lines(&world.get(value).await).iter().map(|v| v["id"].as_u64().expect("id")).collect();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    let expected: Vec<serde_json::Value> = (0..10).map(|id| format!("k{id}").into()).collect();
    assert_eq!(json_lines(&world.get(keys).await), expected);
    let group = world.metadata(keys).await.get("hydrate-group").cloned();
    assert_eq!(group.as_ref(), world.metadata(value).await.get("hydrate-upload-id"));
}

/// A crash after the keys object went up and before its value object: the
/// leftover keys object is replaced when the group is written again.
#[tokio::test]
async fn sink_keys_a_leftover_keys_object_of_a_missing_value_object_is_replaced() {
    let mut world = SinkWorld::start("sink_keys_leftover", 4).await;
    let (_, checkpoint, value, keys) = one_committed_group(&world).await;
    world.kill_sink();
    rewind(&world, &checkpoint, &value, &keys).await;
    let s3 = world.scope.env().s3_client();
    s3.delete_object().bucket(world.scope.env().s3_bucket()).key(&value).send().await.expect("delete");
    put(&world, &keys, b"\"stale\"\n".to_vec(), &[("hydrate-group", "dead"), ("hydrate-end-offset", "4")])
        .await;

    world.start_sink();
    wait_resumed_at_10(&world, &checkpoint).await;
    assert_aligned(&world, &value, &keys).await;
    assert_eq!(world.log_lines(&["replacing the leftover sidecar", &keys]).len(), 1);
}

/// The group a fenced owner's late value upload leaves behind: the value
/// object of one attempt, the keys object of another. Recovery fails the
/// task with the repair, and the repair works.
#[tokio::test]
async fn sink_keys_a_value_object_with_another_attempts_keys_object_fails_the_task_with_the_repair() {
    let mut world = SinkWorld::start("sink_keys_mixed", 4).await;
    let (name, checkpoint, value, keys) = one_committed_group(&world).await;
    world.kill_sink();
    rewind(&world, &checkpoint, &value, &keys).await;
    let body = world.get(&keys).await;
    let mut meta = world.metadata(&keys).await;
    meta.insert("hydrate-group".into(), "successor".into());
    let meta: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    put(&world, &keys, body, &meta).await;

    world.start_sink();
    let traces = world.wait_tasks(&name, v1::State::Failed, Duration::from_secs(60)).await;
    assert!(traces[0].contains("the lake and the checkpoint disagree"), "{traces:?}");
    assert!(traces[0].contains(&format!("Delete {value} and restart the task")), "{traces:?}");
    assert!(traces[0].contains(&keys), "{traces:?}");

    // The repair the message gives.
    let s3 = world.scope.env().s3_client();
    s3.delete_object().bucket(world.scope.env().s3_bucket()).key(&value).send().await.expect("delete");
    let restart = v1::RestartConnectorRequest { name: name.clone(), include_tasks: true, only_failed: true };
    world.admin.clone().restart_connector(restart).await.expect("restart");
    wait_resumed_at_10(&world, &checkpoint).await;
    assert_aligned(&world, &value, &keys).await;
}
