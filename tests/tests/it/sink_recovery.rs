//! Exactly once across crashes: the sink is killed with SIGKILL at random
//! moments twenty times while it writes a million records with
//! wall-clock (scheduled) rotation and several open files per partition;
//! the lake must end with every record exactly once.

use std::collections::HashSet;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::wait_for;

use crate::sink_support::{SinkWorld, envelope};

const RECORDS: u64 = 1_000_000;
const PARTITIONS: i32 = 2;
const KILLS: u32 = 20;
const SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"g"}],"optional":false,"name":"row"}"#;

/// A pseudo-random number from the OS's UUID randomness.
fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sink_kill_9_twenty_times_during_a_million_records_leaves_each_once() {
    let mut world = SinkWorld::start("sink_kill9", 4).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, PARTITIONS).await;
    let records = (0..RECORDS)
        .map(|id| {
            let payload = format!(r#"{{"id":{id},"g":{}}}"#, id % 5);
            ((id % PARTITIONS as u64) as i32, None, Some(envelope(SCHEMA, &payload)))
        })
        .collect();
    world.produce(&topic, records).await;

    let config = serde_json::json!({
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "tasks.max": 1,
        "topics": topic,
        "s3.region": "us-east-1",
        "s3.bucket.name": world.scope.env().s3_bucket(),
        "topics.dir": world.topics_dir(),
        "flush.size": 10000,
        "rotate.schedule.interval.ms": 1000,
        "timezone": "UTC",
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
        "partition.field.name": "g",
        "schema.compatibility": "NONE"
    });
    let name = format!("kill9_{}", world.scope.id());
    world.put(&name, config).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;

    for kill in 0..KILLS {
        // Random moments are the point of this test: not a wait for a condition.
        tokio::time::sleep(Duration::from_millis(500 + random_below(2500))).await;
        world.kill_sink();
        eprintln!("kill {kill}: committed {:?}", world.committed(&name, &topic, PARTITIONS).await);
        world.start_sink();
    }

    let ends = vec![(RECORDS / PARTITIONS as u64) as i64; PARTITIONS as usize];
    wait_for("the sink to commit every record", Duration::from_secs(300), || {
        let (world, name, topic, ends) = (&world, name.clone(), topic.clone(), ends.clone());
        async move {
            let committed = world.committed(&name, &topic, PARTITIONS).await;
            if committed == ends { Ok(Some(())) } else { Err(format!("committed {committed:?}")) }
        }
    })
    .await;

    let keys = world.list(&format!("{}/{topic}/", world.topics_dir())).await;
    let mut seen = HashSet::with_capacity(RECORDS as usize);
    let mut total = 0u64;
    for key in &keys {
        let body = world.get(key).await;
        let g: u64 = key
            .split("/g=")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|g| g.parse().ok())
            .expect("g= directory");
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: serde_json::Value = serde_json::from_slice(line).expect("json line");
            let id = row["id"].as_u64().expect("id");
            assert_eq!(id % 5, g, "{key} holds a record of another directory");
            assert!(seen.insert(id), "record {id} twice (again in {key})");
            total += 1;
        }
    }
    assert_eq!(total, RECORDS, "{} objects", keys.len());
    assert_eq!(seen.len() as u64, RECORDS);
    // How often a kill fell between a pending checkpoint and its uploads'
    // confirmation: recovery then had objects to look for.
    let recoveries = world.log_lines(&["resuming from checkpoint"]);
    let with_pending = recoveries.iter().filter(|l| !l.contains("pending=0")).count();
    eprintln!(
        "{} objects, {total} records, each once; {} partition recoveries, {with_pending} with pending objects",
        keys.len(),
        recoveries.len()
    );
    assert!(!recoveries.is_empty(), "the kills must have hit a running sink");
}
