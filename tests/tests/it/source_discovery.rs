//! Tables the task finds itself (schema.pattern, table.blacklist) and
//! picks up when they appear; `timestamp.initial` and
//! `timestamp.delay.interval.ms`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::source_support::{SourceTest, TopicReader};

#[tokio::test]
async fn source_discovers_new_tables_and_honours_timestamp_settings() {
    let mut t = SourceTest::new("source_discovery").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.first (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE {s}.skip_me (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO {s}.first VALUES (1, '2020-01-01Z'), (2, now() - interval '1 day');
         INSERT INTO {s}.skip_me VALUES (1);"
    ))
    .await
    .expect("tables");
    let found = t.prefix("found");
    let config = t.config(&[
        ("mode", "timestamp+incrementing"),
        ("timestamp.column.name", "at"),
        ("incrementing.column.name", "id"),
        ("schema.pattern", &s),
        ("table.blacklist", "skip_me"),
        ("topic.prefix", &found),
        ("poll.interval.ms", "200"),
        ("table.poll.interval.ms", "500"),
        // Rows from before 2021 are never read.
        ("timestamp.initial", "1609459200000"),
        // A row becomes eligible one second after its timestamp.
        ("timestamp.delay.interval.ms", "1000"),
    ]);
    t.put("found", &config).await;
    t.start_worker();
    let bootstrap = t.scope.env().kafka_bootstrap().to_owned();
    let first = TopicReader::new(&bootstrap, &format!("{found}first"), true)
        .read_at_least(1, Duration::from_secs(60))
        .await
        .drain(Duration::from_secs(1))
        .await;
    let ids: Vec<Value> = first.values().iter().map(|v| v["payload"]["id"].clone()).collect();
    assert_eq!(ids, [json!(2)], "the row from 2020 is before timestamp.initial");

    // A table created later is found at the next table poll.
    t.pg.batch_execute(&format!("CREATE TABLE {s}.later (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now()); INSERT INTO {s}.later VALUES (7);"))
        .await
        .expect("new table");
    let later = TopicReader::new(&bootstrap, &format!("{found}later"), true)
        .read_at_least(1, Duration::from_secs(60))
        .await;
    assert_eq!(later.values()[0]["payload"]["id"], json!(7));
    assert_eq!(later.values()[0]["schema"]["name"], json!("later"));

    // The excluded table never gets a topic of its own.
    let skipped =
        TopicReader::new(&bootstrap, &format!("{found}skip_me"), true).drain(Duration::from_secs(2)).await;
    assert!(skipped.messages.is_empty(), "skip_me was excluded");
    let offsets = t.offsets("found").await;
    assert_eq!(offsets.len(), 2, "one source partition per table read: {offsets:?}");
    t.kill_worker();
    t.finish().await;
}
