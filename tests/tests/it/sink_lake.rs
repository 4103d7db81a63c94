//! The sink service against the real stack: object names and contents as
//! Confluent's sink writes them, the dead letter queue, and failures that
//! must say what is wrong.

use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::env::shared_file;
use hydrate_tests::wait_for;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::sink_support::{ADDRESS_SCHEMA, SinkWorld, address_payload, at_slot_start, envelope};

fn seed_sink(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let text = shared_file(&format!("seed/connectors/{name}.json"));
    match serde_json::from_str(&text).expect("seed config") {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[tokio::test]
async fn sink_pair_one_writes_confluents_keys_and_each_payload_once() {
    let world = SinkWorld::start("sink_pair_one", 5).await;
    let counts = [("address", 603u32), ("city", 600), ("country", 109)];
    let mut expected_keys = Vec::new();
    for (table, count) in counts {
        let topic = world.scope.topic(table);
        world.create_topic(&topic, 1).await;
        let records =
            (1..=count).map(|id| (0, None, Some(envelope(ADDRESS_SCHEMA, &address_payload(id))))).collect();
        world.produce(&topic, records).await;
        for start in (0..count).step_by(100) {
            expected_keys
                .push(format!("{}/{topic}/partition=0/{topic}+0+{start:010}.json", world.topics_dir()));
        }
    }
    assert_eq!(expected_keys.len(), 15);
    expected_keys.sort();

    let mut config = seed_sink("s3_sink_connector_00");
    let regex = format!("{}\\.(.*)", world.scope.topic("").trim_end_matches('.').replace('.', "\\."));
    config.insert("topics.regex".into(), regex.into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    // A 10 s schedule started at a slot's beginning: the sink reads the
    // 1312 records long before the slot ends, then flushes the remainders.
    config.insert("rotate.schedule.interval.ms".into(), 10_000.into());
    let name = format!("pair1_{}", world.scope.id());
    at_slot_start(10_000).await;
    world.put(&name, serde_json::Value::Object(config)).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;

    let prefix = format!("{}/test.", world.topics_dir());
    let keys = wait_for("the 15 objects of pair #1", Duration::from_secs(90), || {
        let world = &world;
        let prefix = prefix.clone();
        let expected = expected_keys.len();
        async move {
            let keys = world.list(&prefix).await;
            if keys.len() > expected {
                return Ok(Some(keys));
            }
            Ok((keys.len() == expected).then_some(keys))
        }
    })
    .await;
    assert_eq!(keys, expected_keys);

    for (table, count) in counts {
        let topic = world.scope.topic(table);
        let mut lines = Vec::new();
        for key in keys.iter().filter(|k| k.contains(&format!("/{topic}/"))) {
            let body = String::from_utf8(world.get(key).await).expect("utf-8");
            lines.extend(body.lines().map(str::to_owned));
        }
        let expected: Vec<String> = (1..=count).map(address_payload).collect();
        assert_eq!(lines, expected, "{topic}: every payload once, in offset order, exactly as produced");
    }
    let checkpoints = world.list(&format!("{}/_hydrate/{name}/", world.topics_dir())).await;
    assert_eq!(checkpoints.len(), 3, "one checkpoint per partition: {checkpoints:?}");
    let committed = world.committed(&name, &world.scope.topic("address"), 1).await;
    assert_eq!(committed, [603], "the group offset follows the checkpoint");
}

/// A key in the converter's format: only the value is bad.
const KEY: &str = r#"{"schema":{"type":"int32","optional":false},"payload":7}"#;

#[tokio::test]
async fn sink_bad_records_go_to_the_dead_letter_queue_with_context_headers() {
    let world = SinkWorld::start("sink_dlq", 5).await;
    let topic = world.scope.topic("data");
    let dlq = world.scope.topic("dlq");
    world.create_topic(&topic, 1).await;
    world.create_topic(&dlq, 1).await;
    let good = |id| Some(envelope(ADDRESS_SCHEMA, &address_payload(id)));
    world
        .produce(
            &topic,
            vec![(0, None, good(1)), (0, Some(KEY.into()), Some("{not json".into())), (0, None, good(2))],
        )
        .await;
    let mut config = seed_sink("s3_sink_connector_01");
    config.insert("topics".into(), topic.clone().into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    config.insert("flush.size".into(), 2.into());
    config.remove("rotate.schedule.interval.ms");
    config.insert("errors.tolerance".into(), "all".into());
    config.insert("errors.deadletterqueue.topic.name".into(), dlq.clone().into());
    config.insert("errors.deadletterqueue.topic.replication.factor".into(), 1.into());
    config.insert("errors.deadletterqueue.context.headers.enable".into(), true.into());
    let name = format!("dlq_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;

    let key = format!("{}/{topic}/partition=0/{topic}+0+0000000000.json", world.topics_dir());
    let prefix = format!("{}/{topic}/", world.topics_dir());
    wait_for("the object of the two good records", Duration::from_secs(60), || {
        let (world, prefix, key) = (&world, prefix.clone(), key.clone());
        async move { Ok((world.list(&prefix).await == [key]).then_some(())) }
    })
    .await;
    let body = String::from_utf8(world.get(&key).await).expect("utf-8");
    assert_eq!(body.lines().collect::<Vec<_>>(), [address_payload(1), address_payload(2)]);

    let dead = world.first_dead_letter(&dlq).await.expect("a record in the dead letter queue within 30 s");
    assert_eq!(dead.key.as_deref(), Some(KEY.as_bytes()), "the original key");
    assert_eq!(dead.value.as_deref(), Some(&b"{not json"[..]), "the original value");
    assert_eq!(dead.headers["__connect.errors.topic"], topic);
    assert_eq!(dead.headers["__connect.errors.partition"], "0");
    assert_eq!(dead.headers["__connect.errors.offset"], "1");
    assert_eq!(dead.headers["__connect.errors.stage"], "VALUE_CONVERTER");
    assert_eq!(
        dead.headers["__connect.errors.exception.class.name"],
        "org.apache.kafka.connect.errors.DataException"
    );
    assert!(!dead.headers["__connect.errors.exception.message"].is_empty());
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn sink_a_tombstone_with_behavior_fail_fails_the_task_and_writes_nothing() {
    let world = SinkWorld::start("sink_null_fail", 5).await;
    let topic = world.scope.topic("data");
    world.create_topic(&topic, 1).await;
    world
        .produce(
            &topic,
            vec![(0, None, Some(envelope(ADDRESS_SCHEMA, &address_payload(1)))), (0, None, None)],
        )
        .await;
    let mut config = seed_sink("s3_sink_connector_01");
    config.insert("topics".into(), topic.clone().into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    config.insert("behavior.on.null.values".into(), "fail".into());
    let name = format!("nullfail_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;
    let traces = world.wait_tasks(&name, v1::State::Failed, Duration::from_secs(60)).await;
    assert!(traces[0].contains("behavior.on.null.values"), "{traces:?}");
    assert!(traces[0].contains(&format!("{topic}-0@1")), "names the record: {traces:?}");
    assert!(world.list(&format!("{}/{topic}/", world.topics_dir())).await.is_empty(), "nothing partial");
}

#[tokio::test]
async fn sink_a_missing_bucket_fails_the_task_naming_the_bucket() {
    let world = SinkWorld::start("sink_no_bucket", 5).await;
    let topic = world.scope.topic("data");
    world.create_topic(&topic, 1).await;
    let bucket =
        format!("no-such-bucket-{}", &world.scope.id().replace('_', "-")[..20.min(world.scope.id().len())]);
    let mut config = seed_sink("s3_sink_connector_01");
    config.insert("topics".into(), topic.into());
    config.insert("s3.bucket.name".into(), bucket.clone().into());
    let name = format!("nobucket_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;
    let traces = world.wait_tasks(&name, v1::State::Failed, Duration::from_secs(60)).await;
    assert!(traces[0].contains(&bucket) && traces[0].contains("does not exist"), "{traces:?}");
}

#[tokio::test]
async fn sink_an_object_larger_than_a_part_is_a_multipart_upload_streamed_from_the_spool() {
    let world = SinkWorld::start("sink_multipart", 5).await;
    let topic = world.scope.topic("big");
    world.create_topic(&topic, 1).await;
    const ROWS: u32 = 60_000; // about 10 MB of JSON lines: two 5 MiB parts
    let records =
        (1..=ROWS).map(|id| (0, None, Some(envelope(ADDRESS_SCHEMA, &address_payload(id))))).collect();
    world.produce(&topic, records).await;
    let mut config = seed_sink("s3_sink_connector_01");
    config.insert("topics".into(), topic.clone().into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    config.insert("flush.size".into(), ROWS.into());
    config.insert("s3.part.size".into(), (5 * 1024 * 1024).into());
    // Only flush.size cuts the file.
    config.remove("rotate.schedule.interval.ms");
    let name = format!("multipart_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;
    let key = format!("{}/{topic}/partition=0/{topic}+0+0000000000.json", world.topics_dir());
    let prefix = format!("{}/{topic}/", world.topics_dir());
    wait_for("the one big object", Duration::from_secs(120), || {
        let (world, prefix, key) = (&world, prefix.clone(), key.clone());
        async move { Ok((world.list(&prefix).await == [key]).then_some(())) }
    })
    .await;
    let s3 = world.scope.env().s3_client();
    let head = s3.head_object().bucket(world.scope.env().s3_bucket()).key(&key).send().await.expect("head");
    let size = head.content_length().unwrap_or(0);
    assert!(size > 5 << 20, "bigger than a part: {size}");
    let parts = (size + (5 << 20) - 1) / (5 << 20);
    let etag = head.e_tag().unwrap_or_default();
    assert!(etag.trim_matches('"').ends_with(&format!("-{parts}")), "a {parts}-part upload: {etag}");
    let meta = head.metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("hydrate-end-offset").map(String::as_str), Some("59999"));
    assert_eq!(meta.get("hydrate-records").map(String::as_str), Some("60000"));
    let body = String::from_utf8(world.get(&key).await).expect("utf-8");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), ROWS as usize);
    assert_eq!(lines[59_999], address_payload(ROWS));
}

/// The dead letter queue topic is created when the task starts, as Kafka
/// Connect does (brokers such as MSK's do not create topics on first use);
/// a replication factor the cluster cannot meet fails the task, naming it.
#[tokio::test]
async fn sink_creates_its_dead_letter_queue_topic_and_names_a_replication_factor_it_cannot_meet() {
    let world = SinkWorld::start("sink_dlq_create", 5).await;
    let topic = world.scope.topic("data");
    world.create_topic(&topic, 1).await;
    let config_for = |dlq: &str, replication: i64| {
        let mut config = seed_sink("s3_sink_connector_01");
        config.insert("topics".into(), topic.clone().into());
        config.insert("topics.dir".into(), world.topics_dir().into());
        config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
        config.remove("rotate.schedule.interval.ms");
        config.insert("errors.tolerance".into(), "all".into());
        config.insert("errors.deadletterqueue.topic.name".into(), dlq.into());
        config.insert("errors.deadletterqueue.topic.replication.factor".into(), replication.into());
        serde_json::Value::Object(config)
    };
    let topics = |bootstrap: String| {
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer =
                ClientConfig::new().set("bootstrap.servers", &bootstrap).create().expect("consumer");
            let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
            metadata.topics().iter().map(|t| (t.name().to_owned(), t.partitions().len())).collect::<Vec<_>>()
        })
    };
    let bootstrap = world.scope.env().kafka_bootstrap().to_owned();

    // No bad record is ever sent: only the task's start can create it.
    let dlq = world.scope.topic("dlq");
    let name = format!("dlq_create_{}", world.scope.id());
    world.put(&name, config_for(&dlq, 1)).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;
    let partitions = wait_for("the dead letter queue topic", Duration::from_secs(30), || {
        let (topics, bootstrap, dlq) = (&topics, bootstrap.clone(), dlq.clone());
        async move {
            let found = topics(bootstrap).await.map_err(|e| e.to_string())?;
            Ok(found.into_iter().find(|(t, _)| *t == dlq).map(|(_, partitions)| partitions))
        }
    })
    .await;
    assert_eq!(partitions, 1, "one partition, as Kafka Connect creates it");

    // The local cluster has one broker.
    let unreachable = world.scope.topic("dlq_rf2");
    let failing = format!("dlq_rf2_{}", world.scope.id());
    world.put(&failing, config_for(&unreachable, 2)).await;
    let traces = world.wait_tasks(&failing, v1::State::Failed, Duration::from_secs(60)).await;
    assert!(
        traces.iter().all(|t| t.contains(&unreachable) && t.contains("replication.factor=2")),
        "{traces:?}"
    );
    let found = topics(bootstrap).await.expect("metadata");
    assert!(!found.iter().any(|(t, _)| *t == unreachable), "no topic half-made");
}

/// S3 throttles (HTTP 503 `SlowDown`) every third write, as it does under
/// load: the sink retries with backoff and the lake still ends with every
/// record once, the task never FAILED.
#[tokio::test]
async fn sink_retries_throttled_writes_and_the_lake_ends_complete() {
    let world = SinkWorld::start("sink_throttled", 5).await;
    let proxy = hydrate_tests::faulty_s3::FaultyS3::start(world.scope.env().var("AWS_ENDPOINT_URL"), 3).await;
    let topic = world.scope.topic("data");
    world.create_topic(&topic, 2).await;
    const RECORDS: u32 = 4_000;
    let records = (0..RECORDS)
        .map(|id| ((id % 2) as i32, None, Some(envelope(ADDRESS_SCHEMA, &address_payload(id)))))
        .collect();
    world.produce(&topic, records).await;
    let mut config = seed_sink("s3_sink_connector_01");
    config.insert("topics".into(), topic.clone().into());
    config.insert("topics.dir".into(), world.topics_dir().into());
    config.insert("s3.bucket.name".into(), world.scope.env().s3_bucket().into());
    config.insert("store.url".into(), proxy.endpoint.clone().into());
    config.insert("flush.size".into(), 250.into());
    config.insert("s3.retry.backoff.ms".into(), 20.into());
    config.remove("rotate.schedule.interval.ms");
    let name = format!("throttled_{}", world.scope.id());
    world.put(&name, serde_json::Value::Object(config)).await;

    let half = i64::from(RECORDS / 2);
    wait_for("every record committed through the throttling store", Duration::from_secs(120), || {
        let (world, name, topic) = (&world, name.clone(), topic.clone());
        async move {
            let committed = world.committed(&name, &topic, 2).await;
            if committed == [half, half] { Ok(Some(())) } else { Err(format!("committed {committed:?}")) }
        }
    })
    .await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(5)).await;
    let mut ids = Vec::new();
    for key in world.list(&format!("{}/{topic}/", world.topics_dir())).await {
        for line in world.get(&key).await.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: serde_json::Value = serde_json::from_slice(line).expect("json");
            ids.push(row["address_id"].as_u64().expect("id"));
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..u64::from(RECORDS)).collect::<Vec<_>>(), "each record once");
    eprintln!("{} of {} writes refused with SlowDown", proxy.injected(), proxy.writes());
    // 16 objects and their checkpoints at least: about a third refused.
    assert!(proxy.injected() >= 5, "{} of {} writes refused", proxy.injected(), proxy.writes());
    let restarts = world.log_lines(&["resuming from checkpoint"]);
    assert!(restarts.is_empty(), "the SDK's retries absorbed the throttling, no task restart: {restarts:?}");
}
