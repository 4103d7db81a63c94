//! Bad input: the task goes FAILED with a message naming what is wrong,
//! retries what a retry can fix, and leaves nothing half-written for
//! read_committed consumers.

use std::time::Duration;

use hydrate_proto::v1;

use crate::source_support::{SourceTest, TopicReader};

#[tokio::test]
async fn source_bad_input_fails_with_clear_messages() {
    let mut t = SourceTest::new("source_failures").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.nullable_ts (id int PRIMARY KEY, ts timestamp);
         CREATE TABLE {s}.shapes (id int PRIMARY KEY, p point);
         CREATE TABLE {s}.amounts (id int PRIMARY KEY, amount numeric(10,2));
         CREATE TABLE {s}.\"odd name\" (id int PRIMARY KEY);
         INSERT INTO {s}.\"odd name\" VALUES (1);
         INSERT INTO {s}.amounts SELECT g, g FROM generate_series(1, 100) g;"
    ))
    .await
    .expect("tables");
    let cases: [(&str, Vec<(&str, &str)>); 6] = [
        ("missing", vec![("mode", "bulk"), ("table.whitelist", "nope")]),
        (
            "nullable",
            vec![
                ("mode", "timestamp"),
                ("timestamp.column.name", "ts"),
                ("table.whitelist", "nullable_ts"),
                ("validate.non.null", "true"),
            ],
        ),
        ("query", vec![("mode", "bulk"), ("query", "SELECT * FROM does_not_exist")]),
        ("unmappable", vec![("mode", "bulk"), ("table.whitelist", "shapes")]),
        (
            "nan",
            vec![
                ("mode", "incrementing"),
                ("incrementing.column.name", "id"),
                ("table.whitelist", "amounts"),
                ("batch.max.rows", "100"),
            ],
        ),
        // A table whose name makes no topic name.
        ("badtopic", vec![("mode", "bulk"), ("table.whitelist", "odd name")]),
    ];
    for (name, keys) in &cases {
        let prefix = t.prefix(name);
        let mut all = keys.clone();
        all.push(("topic.prefix", &prefix));
        t.put(name, &t.config(&all)).await;
    }
    t.start_worker();

    // The first poll of amounts commits rows 1-100; the next reads 101-150
    // and then a NaN, which no Connect decimal holds.
    let nan_topic = format!("{}amounts", t.prefix("nan"));
    TopicReader::new(t.scope.env().kafka_bootstrap(), &nan_topic, true)
        .read_at_least(100, Duration::from_secs(30))
        .await;
    t.pg.batch_execute(&format!(
        "INSERT INTO {s}.amounts SELECT g, g FROM generate_series(101, 150) g;
         INSERT INTO {s}.amounts VALUES (151, 'NaN');"
    ))
    .await
    .expect("more amounts");

    // TLS demanded from a server without it (the stack's has none).
    let mut tls = t.config(&[("mode", "bulk"), ("table.whitelist", "amounts"), ("connection.attempts", "1")]);
    tls["connection.url"] = serde_json::json!(format!("{}&sslmode=require", t.jdbc_url()));
    tls["topic.prefix"] = serde_json::json!(t.prefix("tls"));
    t.put("tls", &tls).await;
    let trace = t.wait_failed("tls").await;
    assert!(trace.contains("TLS") && trace.contains("postgresql connection"), "{trace}");

    let trace = t.wait_failed("missing").await;
    assert!(trace.contains("table nope does not exist"), "{trace}");
    let trace = t.wait_failed("nullable").await;
    assert!(trace.contains("timestamp columns [ts]") && trace.contains("nullable"), "{trace}");
    let trace = t.wait_failed("query").await;
    assert!(trace.contains("does_not_exist"), "{trace}");
    let trace = t.wait_failed("unmappable").await;
    assert!(trace.contains("column p") && trace.contains("point"), "{trace}");
    let trace = t.wait_failed("nan").await;
    assert!(trace.contains("NaN"), "{trace}");
    let trace = t.wait_failed("badtopic").await;
    assert!(trace.contains(&format!("topic {}odd name", t.prefix("badtopic"))), "{trace}");
    for case in ["missing", "nullable", "query", "unmappable", "nan", "badtopic"] {
        let trace = t.wait_failed(case).await;
        assert!(!trace.contains("hydrate-secret") && !trace.is_empty(), "{trace}");
    }

    // Rows 101-150 were in the transaction aborted at row 151: a
    // read_committed consumer sees the first poll's 100 rows, no more.
    let reader = TopicReader::new(t.scope.env().kafka_bootstrap(), &nan_topic, true)
        .read_at_least(100, Duration::from_secs(30))
        .await
        .drain(Duration::from_secs(2))
        .await;
    assert_eq!(reader.messages.len(), 100);
    t.kill_worker();
    t.finish().await;
}

#[tokio::test]
async fn source_survives_a_lost_connection_and_pauses_and_resumes() {
    let mut t = SourceTest::new("source_lifecycle").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.events (id serial PRIMARY KEY, note text NOT NULL);
         INSERT INTO {s}.events (note) VALUES ('one');"
    ))
    .await
    .expect("table");
    let prefix = t.prefix("events");
    let config = t.config(&[
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "events"),
        ("topic.prefix", &prefix),
        ("poll.interval.ms", "200"),
        ("connection.backoff.ms", "200"),
    ]);
    let name = format!("events-{}", t.scope.id());
    t.put(&name, &config).await;
    t.start_worker();
    let reader = TopicReader::new(t.scope.env().kafka_bootstrap(), &format!("{prefix}events"), true)
        .read_at_least(1, Duration::from_secs(60))
        .await;

    // Cut the task's PostgreSQL sessions: it reconnects and goes on.
    let killed: i64 =
        t.pg.query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'hydrate-source ' || $1 || '/0'",
            &[&name],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 1, "the task's session was found");
    t.pg.batch_execute(&format!("INSERT INTO {s}.events (note) VALUES ('two')")).await.expect("insert");
    let reader = reader.read_at_least(2, Duration::from_secs(60)).await;
    let status = t
        .wait_task(&name, "running", Duration::from_secs(10), |s| s.state == v1::State::Running as i32)
        .await;
    assert!(status.trace.is_empty(), "{}", status.trace);

    // Paused: the task reports PAUSED; resumed, it reads what came meanwhile.
    t.admin().pause_connector(v1::PauseConnectorRequest { name: name.clone() }).await.expect("pause");
    t.wait_task(&name, "paused", Duration::from_secs(30), |s| s.state == v1::State::Paused as i32).await;
    t.pg.batch_execute(&format!("INSERT INTO {s}.events (note) VALUES ('three')")).await.expect("insert");
    t.admin().resume_connector(v1::ResumeConnectorRequest { name: name.clone() }).await.expect("resume");
    t.wait_task(&name, "running", Duration::from_secs(30), |s| s.state == v1::State::Running as i32).await;
    let reader = reader.read_at_least(3, Duration::from_secs(60)).await.drain(Duration::from_secs(1)).await;
    let notes: Vec<String> =
        reader.values().iter().map(|v| v["payload"]["note"].as_str().unwrap_or("?").to_owned()).collect();
    assert_eq!(notes, ["one", "two", "three"], "each row once, across a reconnect and a pause");
    t.kill_worker();
    t.finish().await;
}

#[tokio::test]
async fn source_stops_on_a_lost_lease_and_comes_back_with_a_new_epoch() {
    let mut t = SourceTest::new("source_lease").await;
    let s = t.schema.clone();
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.events (id serial PRIMARY KEY, note text NOT NULL);
         INSERT INTO {s}.events (note) VALUES ('one'), ('two');"
    ))
    .await
    .expect("table");
    let prefix = t.prefix("lease");
    let config = t.config(&[
        ("mode", "incrementing"),
        ("incrementing.column.name", "id"),
        ("table.whitelist", "events"),
        ("topic.prefix", &prefix),
        ("poll.interval.ms", "200"),
    ]);
    t.put("lease", &config).await;
    t.start_worker();
    let reader = TopicReader::new(t.scope.env().kafka_bootstrap(), &format!("{prefix}events"), true)
        .read_at_least(2, Duration::from_secs(60))
        .await;
    let before = t
        .wait_task("lease", "running", Duration::from_secs(10), |s| s.state == v1::State::Running as i32)
        .await;

    // The worker's etcd lease disappears: its renewals fail, it stops the
    // task, registers again and gets the task back under a new epoch.
    let mut etcd = etcd_client::Client::connect(t.scope.env().etcd_endpoints(), None).await.expect("etcd");
    let key = format!("{}workers/{}", t.scope.etcd_prefix(), before.worker_id);
    let lease = etcd
        .get(key.as_str(), None)
        .await
        .expect("worker key")
        .kvs()
        .first()
        .map(|kv| kv.lease())
        .expect("worker lease");
    etcd.lease_revoke(lease).await.expect("revoke");
    let after = t
        .wait_task("lease", "the task under a new epoch", Duration::from_secs(60), |s| {
            s.epoch > before.epoch && s.state == v1::State::Running as i32
        })
        .await;
    assert_eq!(after.worker_id, before.worker_id, "the same worker took it back");
    t.pg.batch_execute(&format!("INSERT INTO {s}.events (note) VALUES ('three')")).await.expect("insert");
    let reader = reader.read_at_least(3, Duration::from_secs(60)).await.drain(Duration::from_secs(1)).await;
    let notes: Vec<String> =
        reader.values().iter().map(|v| v["payload"]["note"].as_str().unwrap_or("?").to_owned()).collect();
    assert_eq!(notes, ["one", "two", "three"], "nothing repeated or lost across the lost lease");
    t.kill_worker();
    t.finish().await;
}
