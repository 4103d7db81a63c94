//! Exactly once into Kafka: the source service is killed with SIGKILL in
//! the middle of a one-million-row snapshot and restarted; a read_committed
//! consumer then counts every row once.

use std::collections::HashSet;
use std::time::Duration;

use hydrate_proto::v1;
use serde_json::json;

use crate::source_support::{SourceTest, TopicReader};

const ROWS: usize = 1_000_000;

#[tokio::test]
async fn source_kill_9_mid_snapshot_then_exactly_one_million_records() {
    let mut t = SourceTest::new("source_kill9").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO {s}.big SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g;
         ANALYZE {s}.big;"
    ))
    .await
    .expect("one million rows");
    let prefix = t.prefix("big");
    let config = t.config(&[
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "big"),
        ("topic.prefix", &prefix),
        ("batch.max.rows", "5000"),
        ("poll.interval.ms", "1000"),
        ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
        ("transforms", "createKey,extractId"),
        ("transforms.createKey.type", "org.apache.kafka.connect.transforms.ValueToKey"),
        ("transforms.createKey.fields", "id"),
        ("transforms.extractId.type", "org.apache.kafka.connect.transforms.ExtractField$Key"),
        ("transforms.extractId.field", "id"),
    ]);
    t.put("big", &config).await;
    t.start_worker();

    // Kill it once the snapshot is well under way (its progress is in status).
    let status = t
        .wait_task("big", "the snapshot to pass 150,000 rows", Duration::from_secs(180), |task| {
            task.snapshots.iter().any(|p| p.rows_done >= 150_000)
        })
        .await;
    let progress = &status.snapshots[0];
    assert!(progress.table.ends_with(".big"), "{progress:?}");
    assert!(progress.rows_estimated >= 900_000, "reltuples estimate: {progress:?}");
    assert!(progress.rows_done < ROWS as u64, "killed mid-snapshot: {progress:?}");
    t.kill_worker();

    t.start_worker();
    let topic = format!("{prefix}big");
    let reader = TopicReader::new(t.scope.env().kafka_bootstrap(), &topic, false)
        .read_at_least(ROWS, Duration::from_secs(400))
        .await;
    // The offset reaches the last row; nothing more may follow.
    crate::source_support::wait_offset(&t, "big", json!({"incrementing": ROWS})).await;
    let reader = reader.drain(Duration::from_secs(3)).await;
    let keys: HashSet<&str> = reader.messages.iter().filter_map(|m| m.key.as_deref()).collect();
    assert_eq!(keys.len(), ROWS, "distinct records");
    assert_eq!(reader.messages.len(), ROWS, "no record twice");
    let running = t
        .wait_task("big", "running", Duration::from_secs(10), |s| s.state == v1::State::Running as i32)
        .await;
    assert!(running.snapshots.is_empty(), "the snapshot is over: {:?}", running.snapshots);
    t.kill_worker();
    t.finish().await;
}
