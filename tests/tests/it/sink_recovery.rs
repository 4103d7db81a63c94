//! Exactly once across crashes: a restarted sink resumes from its
//! checkpoint and pending objects. (The kill -9 torture run of a million
//! records lives on branch `sink-crash-loss-wip` until the loss it found is
//! fixed.)

use std::time::Duration;

use hydrate_tests::wait_for;

use crate::sink_support::{SinkWorld, envelope};

const SCHEMA: &str = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"g"}],"optional":false,"name":"row"}"#;

/// A crash in the middle of a commit, made on purpose: the
/// checkpoint says a segment's two objects were pending, one of them landed
/// and one did not. The restarted sink must skip the records of the first
/// and write those of the second, once.
#[tokio::test]
async fn sink_recovery_from_a_pending_checkpoint_writes_only_the_missing_object() {
    let mut world = SinkWorld::start("sink_pending", 4).await;
    let topic = world.scope.topic("rows");
    world.create_topic(&topic, 1).await;
    let row = |id: u64| (0, None, Some(envelope(SCHEMA, &format!(r#"{{"id":{id},"g":{}}}"#, id % 2))));
    world.produce(&topic, (0..10).map(row).collect()).await;
    let config = serde_json::json!({
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "topics": topic,
        "s3.region": "us-east-1",
        "s3.bucket.name": world.scope.env().s3_bucket(),
        "topics.dir": world.topics_dir(),
        "flush.size": 10,
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
        "partition.field.name": "g",
        "schema.compatibility": "NONE"
    });
    let name = format!("pending_{}", world.scope.id());
    world.put(&name, config).await;
    let checkpoint_key = format!("{}/_hydrate/{name}/{topic}+0.json", world.topics_dir());
    let dir = format!("{}/{topic}/", world.topics_dir());
    let even = format!("{dir}g=0/{topic}+0+0000000000.json");
    let odd = format!("{dir}g=1/{topic}+0+0000000001.json");
    wait_for("the checkpoint to resume at 10 with nothing pending", Duration::from_secs(60), || {
        let (world, checkpoint_key) = (&world, checkpoint_key.clone());
        async move {
            if world.list(&checkpoint_key).await.is_empty() {
                return Ok(None);
            }
            let cp: serde_json::Value =
                serde_json::from_slice(&world.get(&checkpoint_key).await).map_err(|e| e.to_string())?;
            Ok((cp["resume"] == 10 && cp["pending"].as_array().is_some_and(|p| p.is_empty())).then_some(()))
        }
    })
    .await;
    assert_eq!(world.list(&dir).await, [even.clone(), odd.clone()]);
    world.kill_sink();

    // What the lake holds after a crash between the pending checkpoint and
    // the end of the uploads: `even` landed, `odd` did not.
    let mut cp: serde_json::Value =
        serde_json::from_slice(&world.get(&checkpoint_key).await).expect("checkpoint");
    cp["resume"] = 0.into();
    cp["pending"] = serde_json::json!([
        {"key": even, "encoded": "g=0", "end": 8},
        {"key": odd, "encoded": "g=1", "end": 9}
    ]);
    let s3 = world.scope.env().s3_client();
    let bucket = world.scope.env().s3_bucket();
    s3.put_object()
        .bucket(bucket)
        .key(&checkpoint_key)
        .body(cp.to_string().into_bytes().into())
        .send()
        .await
        .expect("write checkpoint");
    s3.delete_object().bucket(bucket).key(&odd).send().await.expect("delete object");

    world.produce(&topic, (10..15).map(row).collect()).await;
    world.start_sink();
    // Replayed from 0: the even records 0..8 are skipped (in `even`), the
    // odd 1..9 and the new 10..14 make a segment of ten, committed at
    // flush.size: `odd` again, with 11 and 13, and a new even object at 10.
    wait_for("the checkpoint to resume at 15", Duration::from_secs(60), || {
        let (world, checkpoint_key) = (&world, checkpoint_key.clone());
        async move {
            let cp: serde_json::Value =
                serde_json::from_slice(&world.get(&checkpoint_key).await).map_err(|e| e.to_string())?;
            Ok((cp["resume"] == 15 && cp["pending"].as_array().is_some_and(|p| p.is_empty())).then_some(()))
        }
    })
    .await;
    let keys = world.list(&dir).await;
    assert_eq!(keys, [even.clone(), format!("{dir}g=0/{topic}+0+0000000010.json"), odd.clone()]);
    let mut ids = Vec::new();
    for key in keys {
        let body = world.get(&key).await;
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: serde_json::Value = serde_json::from_slice(line).expect("json");
            ids.push(row["id"].as_u64().expect("id"));
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..15).collect::<Vec<u64>>(), "each record once");
}
