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

    let config = world.sink_config(
        &topic,
        serde_json::json!({
            "tasks.max": 1,
            "flush.size": 10000,
            "rotate.schedule.interval.ms": 1000,
            "timezone": "UTC",
            "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "partition.field.name": "g",
        }),
    );
    let name = format!("kill9_{}", world.scope.id());
    world.put(&name, config).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;

    kill_at_random_then_wait(&mut world, &name, &topic, KILLS, RECORDS).await;

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

const KEYED_RECORDS: u64 = 200_000;
const KEYED_KILLS: u32 = 10;

/// The kill test with `store.kafka.keys`: beside each value object a keys
/// object that goes up first. After the kills every record is in the lake
/// once, every value object has its keys object holding the i-th record's
/// key on the i-th line, and no keys object is left without its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sink_kill_9_ten_times_with_keys_leaves_each_record_once_beside_its_key() {
    let mut world = SinkWorld::start("sink_kill9_keys", 4).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, PARTITIONS).await;
    let records = (0..KEYED_RECORDS)
        .map(|id| {
            let payload = format!(r#"{{"id":{id},"g":{}}}"#, id % 5);
            ((id % PARTITIONS as u64) as i32, Some(format!("k{id}")), Some(envelope(SCHEMA, &payload)))
        })
        .collect();
    world.produce(&topic, records).await;

    let config = world.sink_config(
        &topic,
        serde_json::json!({
            "tasks.max": 1,
            "flush.size": 2000,
            "rotate.schedule.interval.ms": 1000,
            "timezone": "UTC",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "store.kafka.keys": true,
            "keys.format.class": "io.confluent.connect.s3.format.json.JsonFormat",
            "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "partition.field.name": "g",
        }),
    );
    let name = format!("kill9keys_{}", world.scope.id());
    world.put(&name, config).await;
    world.wait_tasks(&name, v1::State::Running, Duration::from_secs(30)).await;

    kill_at_random_then_wait(&mut world, &name, &topic, KEYED_KILLS, KEYED_RECORDS).await;

    let objects = world.list(&format!("{}/{topic}/", world.topics_dir())).await;
    let (key_objects, values): (Vec<&String>, Vec<&String>) =
        objects.iter().partition(|k| k.ends_with(".keys.json"));
    let mut unmatched: HashSet<&str> = key_objects.iter().map(|k| k.as_str()).collect();
    let mut seen = HashSet::with_capacity(KEYED_RECORDS as usize);
    for value in &values {
        let key_object = format!("{}.keys.json", value.strip_suffix(".json").expect("a .json object"));
        assert!(unmatched.remove(key_object.as_str()), "{value} has no keys object {key_object}");
        let lines = |body: Vec<u8>| -> Vec<serde_json::Value> {
            body.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).expect("json line"))
                .collect()
        };
        let rows = lines(world.get(value).await);
        let keys = lines(world.get(&key_object).await);
        let ids: Vec<u64> = rows.iter().map(|row| row["id"].as_u64().expect("id")).collect();
        let expected: Vec<serde_json::Value> = ids.iter().map(|id| format!("k{id}").into()).collect();
        assert_eq!(keys, expected, "{key_object} is not aligned with {value}");
        for id in ids {
            assert!(seen.insert(id), "record {id} twice (again in {value})");
        }
    }
    assert!(unmatched.is_empty(), "keys objects without their value object: {unmatched:?}");
    assert_eq!(seen.len() as u64, KEYED_RECORDS, "{} value objects", values.len());
    let recoveries = world.log_lines(&["resuming from checkpoint"]);
    let with_pending = recoveries.iter().filter(|l| !l.contains("pending=0")).count();
    // Kills between a keys object's upload and its value object's.
    let replaced = world.log_lines(&["replacing the leftover sidecar"]).len();
    eprintln!(
        "{} value objects with their keys objects, {} records, each once; {} partition recoveries, \
         {with_pending} with pending objects; {replaced} leftover keys objects replaced",
        values.len(),
        seen.len(),
        recoveries.len()
    );
    assert!(!recoveries.is_empty(), "the kills must have hit a running sink");
}

/// The crash the kill test hits only by chance, made on purpose: the
/// checkpoint says a segment's two objects were pending, one of them landed
/// and one did not. The restarted sink must skip the records of the first
/// and write those of the second, once.
#[tokio::test]
async fn sink_recovery_from_a_pending_checkpoint_writes_only_the_missing_object() {
    let mut lake = EvenOdd::start("sink_pending", 0..10).await;
    let (even, odd) = (lake.object(0, 0), lake.object(1, 1));
    lake.resumes_clean_at(10).await;
    assert_eq!(lake.world.list(&lake.dir).await, [even.clone(), odd.clone()]);
    lake.world.kill_sink();

    // What the lake holds after a crash between the pending checkpoint and
    // the end of the uploads: `even` landed, `odd` did not.
    lake.rewrite_checkpoint(
        0,
        serde_json::json!([
            {"key": even, "encoded": "g=0", "end": 8},
            {"key": odd, "encoded": "g=1", "end": 9}
        ]),
    )
    .await;
    let env = lake.world.scope.env();
    env.s3_client().delete_object().bucket(env.s3_bucket()).key(&odd).send().await.expect("delete object");

    lake.produce(10..15).await;
    lake.world.start_sink();
    // Replayed from 0: the even records 0..8 are skipped (in `even`), the
    // odd 1..9 and the new 10..14 make a segment of ten, committed at
    // flush.size: `odd` again, with 11 and 13, and a new even object at 10.
    lake.resumes_clean_at(15).await;
    assert_eq!(lake.world.list(&lake.dir).await, [even, lake.object(0, 10), odd]);
    assert_eq!(lake.ids().await, (0..15).collect::<Vec<u64>>(), "each record once");
}

/// A dead attempt's file that never landed, cut at other offsets than its
/// successor's files of the same directory: the successor wrote those
/// records again, committed past the dead file's start and died with its
/// next file up but not checkpointed. The restarted sink must count that
/// file and go on, not take the dead file for a gap before it.
#[tokio::test]
async fn sink_recovery_counts_a_file_that_follows_a_dead_attempts_file_which_never_landed() {
    let mut lake = EvenOdd::start("sink_carried", 0..20).await;
    lake.resumes_clean_at(20).await;
    let committed = [lake.object(0, 0), lake.object(0, 10), lake.object(1, 1), lake.object(1, 11)];
    assert_eq!(lake.world.list(&lake.dir).await, committed);
    lake.world.kill_sink();

    // The lake after: a dead attempt cut g=0 at 6 (to 14) and never
    // uploaded it; its successor committed to 10 and died after uploading
    // g=0 from 10 and g=1 from 11.
    lake.rewrite_checkpoint(
        10,
        serde_json::json!([
            {"key": lake.object(0, 6), "encoded": "g=0", "start": 6, "end": 14, "carried": true},
            {"key": lake.object(0, 10), "encoded": "g=0", "start": 10, "end": 18},
            {"key": lake.object(1, 11), "encoded": "g=1", "start": 11, "end": 19}
        ]),
    )
    .await;

    lake.produce(20..30).await;
    lake.world.start_sink();
    // Replayed from 10: 10..19 are in the lake, 20..29 make a segment.
    lake.resumes_clean_at(30).await;
    let all = [0, 10, 20]
        .map(|start| lake.object(0, start))
        .into_iter()
        .chain([1, 11, 21].map(|start| lake.object(1, start)));
    assert_eq!(lake.world.list(&lake.dir).await, all.collect::<Vec<_>>());
    assert_eq!(lake.ids().await, (0..30).collect::<Vec<u64>>(), "each record once");
    let refusals = lake.world.log_lines(&["the lake and the checkpoint disagree", &lake.name]);
    assert!(refusals.is_empty(), "the restarted task resumed: {refusals:?}");
}

/// What the crashes made on purpose share: a one-partition topic of
/// records `{"id", "g": id % 2}` and a JSON sink with a FieldPartitioner on
/// `g` and flush.size 10, whose checkpoint a test rewrites between runs.
struct EvenOdd {
    world: SinkWorld,
    topic: String,
    name: String,
    checkpoint_key: String,
    /// The topic's directory, with its trailing `/`.
    dir: String,
}

impl EvenOdd {
    /// Produces `ids`, then starts the connector.
    async fn start(test: &str, ids: std::ops::Range<u64>) -> EvenOdd {
        let world = SinkWorld::start(test, 4).await;
        let topic = world.scope.topic("rows");
        world.create_topic(&topic, 1).await;
        let config = world.sink_config(
            &topic,
            serde_json::json!({
                "flush.size": 10,
                "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                "partition.field.name": "g",
            }),
        );
        let name = format!("evenodd_{}", world.scope.id());
        let checkpoint_key = format!("{}/_hydrate/{name}/{topic}+0.json", world.topics_dir());
        let dir = format!("{}/{topic}/", world.topics_dir());
        let lake = EvenOdd { world, topic, name, checkpoint_key, dir };
        lake.produce(ids).await;
        lake.world.put(&lake.name, config).await;
        lake
    }

    async fn produce(&self, ids: std::ops::Range<u64>) {
        let row = |id: u64| (0, None, Some(envelope(SCHEMA, &format!(r#"{{"id":{id},"g":{}}}"#, id % 2))));
        self.world.produce(&self.topic, ids.map(row).collect()).await;
    }

    /// The key of directory `g`'s object starting at offset `start`.
    fn object(&self, g: u64, start: u64) -> String {
        format!("{}g={g}/{}+0+{start:010}.json", self.dir, self.topic)
    }

    /// Waits for the checkpoint to resume at `offset` with nothing pending.
    async fn resumes_clean_at(&self, offset: i64) {
        let what = format!("the checkpoint to resume at {offset} with nothing pending");
        wait_for(&what, Duration::from_secs(60), || async move {
            if self.world.list(&self.checkpoint_key).await.is_empty() {
                return Ok(None);
            }
            let cp: serde_json::Value = serde_json::from_slice(&self.world.get(&self.checkpoint_key).await)
                .map_err(|e| e.to_string())?;
            let clean = cp["resume"] == offset && cp["pending"].as_array().is_some_and(|p| p.is_empty());
            if clean { Ok(Some(())) } else { Err(format!("checkpoint {cp}")) }
        })
        .await
    }

    /// Rewrites the checkpoint as a crash would have left it: `resume`, no
    /// watermarks, `pending`.
    async fn rewrite_checkpoint(&self, resume: i64, pending: serde_json::Value) {
        let mut cp: serde_json::Value =
            serde_json::from_slice(&self.world.get(&self.checkpoint_key).await).expect("checkpoint");
        cp["resume"] = resume.into();
        cp["watermarks"] = serde_json::json!({});
        cp["pending"] = pending;
        let env = self.world.scope.env();
        env.s3_client()
            .put_object()
            .bucket(env.s3_bucket())
            .key(&self.checkpoint_key)
            .body(cp.to_string().into_bytes().into())
            .send()
            .await
            .expect("write checkpoint");
    }

    /// The ids of every record in the topic's directory, sorted.
    async fn ids(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for key in self.world.list(&self.dir).await {
            for line in self.world.get(&key).await.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let row: serde_json::Value = serde_json::from_slice(line).expect("json");
                ids.push(row["id"].as_u64().expect("id"));
            }
        }
        ids.sort_unstable();
        ids
    }
}

/// Two connectors writing one directory, as the seed's sinks #1 and #2 do
/// (`topics.regex` of one matches the other's topic): the later writer of a
/// name overwrites with a warning, as Kafka Connect does, rather than taking
/// the other connector's object for a crashed attempt of its own and
/// restarting its task over and over.
#[tokio::test]
async fn a_second_connector_writing_the_same_names_overwrites_without_restarting() {
    let world = SinkWorld::start("sink_shared_dir", 4).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 1).await;
    let row = |id: u64| (0, None, Some(envelope(SCHEMA, &format!(r#"{{"id":{id},"g":{}}}"#, id % 2))));
    world.produce(&topic, (0..100).map(row).collect()).await;
    let config = world.sink_config(
        &topic,
        serde_json::json!({
            "flush.size": 10,
        }),
    );
    let (first, second) = (format!("first_{}", world.scope.id()), format!("second_{}", world.scope.id()));
    // One after the other, so that every name the second writes is taken.
    for name in [&first, &second] {
        world.put(name, config.clone()).await;
        wait_for("the connector to commit all 100 records", Duration::from_secs(60), || {
            let (world, name, topic) = (&world, name.clone(), topic.clone());
            async move {
                let committed = world.committed(&name, &topic, 1).await;
                if committed == [100] { Ok(Some(())) } else { Err(format!("committed {committed:?}")) }
            }
        })
        .await;
    }
    let dir = format!("{}/{topic}/partition=0/", world.topics_dir());
    let keys = world.list(&dir).await;
    let expected: Vec<String> = (0..10).map(|n| format!("{dir}{topic}+0+{:010}.json", n * 10)).collect();
    assert_eq!(keys, expected);
    let mut ids = Vec::new();
    for key in &keys {
        for line in world.get(key).await.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: serde_json::Value = serde_json::from_slice(line).expect("json");
            ids.push(row["id"].as_u64().expect("id"));
        }
    }
    assert_eq!(ids, (0..100).collect::<Vec<u64>>(), "each record once, in order");
    let overwrites = world.log_lines(&["overwriting an object another connector wrote", &second]);
    assert_eq!(overwrites.len(), 10, "the second connector overwrites each of the ten names once");
    let clashes = world.log_lines(&["object exists"]);
    assert!(clashes.is_empty(), "no task took another connector's object for its own: {clashes:?}");
    let restarts = world.log_lines(&["resuming from checkpoint", &second]);
    assert!(restarts.is_empty(), "the second connector's task never restarted: {restarts:?}");
}

/// Kills the sink `kills` times at random moments (restarting it each
/// time), then waits until every partition of `topic` has committed its
/// share of `records`.
async fn kill_at_random_then_wait(world: &mut SinkWorld, name: &str, topic: &str, kills: u32, records: u64) {
    for kill in 0..kills {
        // Random moments are the point of this test: not a wait for a condition.
        tokio::time::sleep(Duration::from_millis(500 + random_below(2500))).await;
        world.kill_sink();
        eprintln!("kill {kill}: committed {:?}", world.committed(name, topic, PARTITIONS).await);
        world.start_sink();
    }
    let world: &SinkWorld = world;
    let ends = vec![(records / PARTITIONS as u64) as i64; PARTITIONS as usize];
    wait_for("the sink to commit every record", Duration::from_secs(300), || {
        let ends = ends.clone();
        async move {
            let committed = world.committed(name, topic, PARTITIONS).await;
            if committed == ends { Ok(Some(())) } else { Err(format!("committed {committed:?}")) }
        }
    })
    .await;
}
