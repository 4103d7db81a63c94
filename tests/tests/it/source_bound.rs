//! When the connecting role cannot see other sessions' transaction starts
//! (no pg_read_all_stats), the poll bound cannot be known: the task says
//! so in its status instead of silently risking a skipped row.

use std::time::Duration;

use hydrate_proto::v1;
use tokio_postgres::NoTls;

use crate::source_support::SourceTest;

#[tokio::test]
async fn source_says_when_open_transactions_are_hidden_from_it() {
    let mut t = SourceTest::new("source_bound").await;
    let s = t.schema.clone();
    let role = format!("nostats_{}", t.scope.id());
    let password = format!("pw-{}", t.scope.id());
    let (admin, connection) =
        tokio_postgres::connect(t.scope.env().var("PG_ADMIN_URL"), NoTls).await.expect("admin session");
    tokio::spawn(connection);
    t.pg.batch_execute(&format!(
        "CREATE TABLE {s}.t (id int PRIMARY KEY, v int NOT NULL, at timestamptz NOT NULL DEFAULT now());
         INSERT INTO {s}.t VALUES (1, 0);"
    ))
    .await
    .expect("table");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}';
             GRANT USAGE ON SCHEMA {s} TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {role};"
        ))
        .await
        .expect("role without pg_read_all_stats");

    // Another role's transaction stays open while the source polls.
    let writer = t.session().await;
    writer
        .batch_execute(&format!("BEGIN; UPDATE {s}.t SET v = 1 WHERE id = 1;"))
        .await
        .expect("open transaction");
    let mut config = t.config(&[
        ("mode", "timestamp"),
        ("timestamp.column.name", "at"),
        ("table.whitelist", "t"),
        ("topic.prefix", &t.prefix("bound")),
        ("poll.interval.ms", "200"),
    ]);
    config["connection.user"] = serde_json::json!(role);
    config["connection.password"] = serde_json::json!(password);
    t.put("bound", &config).await;
    t.start_worker();
    let status = t
        .wait_task("bound", "a warning about hidden transactions", Duration::from_secs(60), |task| {
            task.state == v1::State::Running as i32 && task.trace.contains("pg_read_all_stats")
        })
        .await;
    assert!(status.trace.starts_with("warning:"), "{}", status.trace);
    assert!(!status.trace.contains(&password));
    writer.batch_execute("COMMIT").await.expect("commit");
    t.kill_worker();
    admin.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};")).await.expect("drop role");
    t.finish().await;
}
