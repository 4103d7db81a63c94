//! Each of Kafka Connect's JDBC source modes, end to end through the real
//! `hydrate-source` binary: exact JSON, new and changed rows, offsets.

use std::time::Duration;

use hydrate_proto::v1;
use serde_json::json;

use crate::source_support::{SourceTest, TopicReader, read_topic};

#[tokio::test]
async fn source_modes_round_trip_new_and_changed_rows() {
    let mut t = SourceTest::new("source_modes").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.items (id serial PRIMARY KEY, name text NOT NULL, updated timestamptz NOT NULL DEFAULT now());
         CREATE FUNCTION {s}.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated = now(); RETURN NEW; END $$;
         CREATE TRIGGER touch BEFORE UPDATE ON {s}.items FOR EACH ROW EXECUTE FUNCTION {s}.touch();
         INSERT INTO {s}.items (name, updated) VALUES ('a', '2024-01-01 00:00:00+00'),
           ('b', '2024-01-01 00:00:01.5+00'), ('c', '2024-01-01 00:00:01.5+00');"
    ))
    .await
    .expect("table");
    let query_topic = format!("test.{}.query", t.scope.id());
    let connectors = [
        ("inc", vec![("mode", "incrementing"), ("incrementing.column.name", "id")]),
        (
            "tsinc",
            vec![
                ("mode", "timestamp+incrementing"),
                ("incrementing.column.name", "id"),
                ("timestamp.column.name", "updated"),
            ],
        ),
        ("ts", vec![("mode", "timestamp"), ("timestamp.column.name", "updated")]),
        ("bulk", vec![("mode", "bulk")]),
    ];
    for (name, keys) in &connectors {
        let prefix = t.prefix(name);
        let mut all = keys.clone();
        all.extend([
            ("table.whitelist", "items"),
            ("topic.prefix", prefix.as_str()),
            ("poll.interval.ms", "300"),
        ]);
        t.put(name, &t.config(&all)).await;
    }
    let query = format!("SELECT id, name FROM {s}.items WHERE name <> 'b'");
    t.put(
        "query",
        &t.config(&[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("query", &query),
            ("topic.prefix", &query_topic),
            ("poll.interval.ms", "300"),
        ]),
    )
    .await;
    t.start_worker();

    let topic = |name: &str| format!("{}items", t.prefix(name));
    let inc = read_topic(&t, &topic("inc"), 3).await;
    assert_eq!(
        inc.messages[0].value.as_deref(),
        Some(
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"updated"}],"optional":false,"name":"items"},"payload":{"id":1,"name":"a","updated":1704067200000}}"#
        )
    );
    assert!(inc.messages.iter().all(|m| m.key.is_none()), "no key without transforms");
    let tsinc = read_topic(&t, &topic("tsinc"), 3).await;
    let ts = read_topic(&t, &topic("ts"), 3).await;
    let bulk = TopicReader::new(t.scope.env().kafka_bootstrap(), &topic("bulk"), true)
        .read_some(3, Duration::from_secs(60))
        .await;
    let q = read_topic(&t, &query_topic, 2).await;
    let names = |r: &TopicReader| -> Vec<String> {
        r.values().iter().map(|v| v["payload"]["name"].as_str().unwrap_or("?").to_owned()).collect()
    };
    assert_eq!(names(&tsinc), ["a", "b", "c"]);
    assert_eq!(names(&ts), ["a", "b", "c"]);
    assert_eq!(names(&q), ["a", "c"]);
    assert!(q.values()[0]["schema"].get("name").is_none(), "query records have an unnamed schema");

    // A new row and a changed one, in two transactions.
    t.pg.batch_execute(&format!("INSERT INTO {s}.items (name) VALUES ('d')")).await.expect("insert");
    t.pg.batch_execute(&format!("UPDATE {s}.items SET name = 'a2' WHERE id = 1")).await.expect("update");
    let inc = inc.read_at_least(4, Duration::from_secs(60)).await;
    let tsinc = tsinc.read_at_least(5, Duration::from_secs(60)).await;
    let ts = ts.read_at_least(5, Duration::from_secs(60)).await;
    let q = q.read_at_least(3, Duration::from_secs(60)).await;
    assert_eq!(names(&inc), ["a", "b", "c", "d"], "incrementing sees inserts only");
    assert_eq!(names(&tsinc), ["a", "b", "c", "d", "a2"]);
    assert_eq!(names(&ts), ["a", "b", "c", "d", "a2"]);
    assert_eq!(names(&q), ["a", "c", "d"]);
    // A bulk source re-reads the whole table every poll: the change shows up.
    let mut bulk = bulk;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(names(&bulk).contains(&"a2".to_owned()) && names(&bulk).contains(&"d".to_owned())) {
        assert!(std::time::Instant::now() < deadline, "bulk never re-read the changed table");
        let seen = bulk.messages.len();
        bulk = bulk.read_some(seen + 1, Duration::from_secs(60)).await;
    }

    // Offsets in Kafka Connect's format, read back by the control plane.
    let db_table = format!("pagila.{s}.items");
    let offsets = t.offsets("inc").await;
    assert_eq!(offsets, vec![(json!({"protocol": "1", "table": db_table}), json!({"incrementing": 4}))]);
    let offsets = t.offsets("tsinc").await;
    assert_eq!(offsets.len(), 1);
    assert_eq!(offsets[0].1["incrementing"], json!(1));
    assert!(offsets[0].1["timestamp"].as_i64().is_some_and(|ms| ms > 1_704_067_201_500));
    assert!(offsets[0].1.get("timestamp_nanos").is_some());
    assert_eq!(t.offsets("query").await[0].0, json!({"query": "query"}));
    let status = t
        .wait_task("inc", "running", Duration::from_secs(10), |s| s.state == v1::State::Running as i32)
        .await;
    assert!(status.trace.is_empty(), "{}", status.trace);
    t.kill_worker();
    t.finish().await;
}
