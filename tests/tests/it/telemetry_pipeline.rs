//! Observability end to end, on a connector pair of the test's own: real
//! `hydrate-source` and `hydrate-sink` processes (with their telemetry
//! listeners, exporting traces to a private Jaeger), a private Prometheus
//! scraping them and the control plane. Asserts the per-task metrics move
//! with the records, that every dashboard and alert expression returns
//! series through Prometheus's HTTP API, that one Jaeger trace holds the
//! source poll and the sink upload of the same records, and that a
//! stopped task's series go away.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hydrate_proto::v1;
use hydrate_tests::control_plane::{TestControlPlane, WORKER_TOKEN, free_port};
use hydrate_tests::observability::{
    TestJaeger, TestPrometheus, promql_check, sample, scrape, wait_source_to_sink_trace,
};
use hydrate_tests::process::{Process, workspace_bin};
use hydrate_tests::{TestScope, wait_for};
use tokio_postgres::NoTls;

fn password(url: &str) -> String {
    hydrate_common::connect::parse_pg_url(url)
        .ok()
        .and_then(|u| u.password.map(|p| p.expose().to_owned()))
        .unwrap_or_default()
}

/// The per-task series of `connector` in a scrape.
fn task_series(samples: &HashMap<String, f64>, connector: &str) -> Vec<String> {
    let label = format!("connector=\"{connector}\"");
    samples.keys().filter(|k| k.contains(&label)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_metrics_reach_prometheus_and_one_trace_spans_source_and_sink() {
    let scope = TestScope::new("telemetry_pipeline");
    let env = scope.env();
    let cp = TestControlPlane::builder(&scope, 6).metrics().start().await;
    let jaeger = TestJaeger::start(&scope).await;

    // A table of the test's own: 20 rows written long ago (the snapshot),
    // then 15 written once the pair runs.
    let (pg, connection) = tokio_postgres::connect(env.pg_url(), NoTls).await.expect("postgres");
    tokio::spawn(connection);
    let schema = scope.pg_schema();
    pg.batch_execute(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.orders (id serial PRIMARY KEY, item text NOT NULL,
                                       last_update timestamptz NOT NULL DEFAULT now());
         INSERT INTO {schema}.orders (item, last_update)
           SELECT 'old ' || n, timestamptz '2006-02-15 04:57:20+00' FROM generate_series(1, 20) AS n;"
    ))
    .await
    .expect("table");

    // The two services, with their telemetry listeners and OTLP export.
    let (source_metrics, sink_metrics) =
        (SocketAddr::from(([127, 0, 0, 1], free_port())), SocketAddr::from(([127, 0, 0, 1], free_port())));
    let spool = std::env::temp_dir().join(format!("hydrate-sink-spool-{}", scope.id()));
    let common = |service: &str, metrics: SocketAddr| {
        vec![
            ("HYDRATE_ENDPOINT", cp.endpoint.clone()),
            ("HYDRATE_WORKER_TOKEN", WORKER_TOKEN.to_owned()),
            ("HYDRATE_WORKER_ID", format!("{}-{service}", scope.id()).replace('_', "-")),
            ("KAFKA_BOOTSTRAP_SERVERS", env.kafka_bootstrap().to_owned()),
            ("HYDRATE_METRICS_LISTEN", metrics.to_string()),
            ("HYDRATE_LOG_FORMAT", "json".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_endpoint.clone()),
            // Export within a second rather than five.
            ("OTEL_BSP_SCHEDULE_DELAY", "500".to_owned()),
        ]
    };
    let source_env = common("source", source_metrics);
    let mut sink_env = common("sink", sink_metrics);
    for key in ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
        sink_env.push((key, env.var(key).to_owned()));
    }
    sink_env.push(("HYDRATE_SPOOL_DIR", spool.display().to_string()));
    let _source =
        Process::start(&format!("{}-source", scope.id()), workspace_bin("hydrate-source"), &[], &source_env);
    let _sink =
        Process::start(&format!("{}-sink", scope.id()), workspace_bin("hydrate-sink"), &[], &sink_env);
    let cp_metrics = cp.metrics_addr.expect("control plane metrics");
    let prometheus = TestPrometheus::start(
        &scope,
        &[("control-plane", cp_metrics), ("source", source_metrics), ("sink", sink_metrics)],
    )
    .await;

    // The connector pair.
    let prefix = format!("test.{}.", scope.id());
    let topic = format!("{prefix}orders");
    let topics_dir = format!("{}topics", scope.s3_prefix());
    let source_name = format!("telemetry_src_{}", scope.id());
    let sink_name = format!("telemetry_sink_{}", scope.id());
    let url = hydrate_common::connect::parse_pg_url(env.pg_url()).expect("PG_URL");
    let source_config = serde_json::json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": format!(
            "jdbc:postgresql://{}:{}/{}?currentSchema={schema}",
            url.hosts[0].host, url.hosts[0].port, url.database.as_deref().unwrap_or("pagila")
        ),
        "connection.user": "hydrate",
        "connection.password": password(env.pg_url()),
        "offsets.storage.topic": scope.topic("offsets"),
        "topic.prefix": prefix,
        "table.whitelist": "orders",
        "mode": "timestamp",
        "timestamp.column.name": "last_update",
        "poll.interval.ms": "1000",
    });
    let sink_config = serde_json::json!({
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "topics": topic,
        "topics.dir": topics_dir,
        "s3.bucket.name": env.s3_bucket(),
        "s3.region": env.var("AWS_REGION"),
        "flush.size": "10",
        "rotate.schedule.interval.ms": "3000",
        "timezone": "UTC",
        "storage.class": "io.confluent.connect.s3.storage.S3Storage",
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    });
    let mut admin = cp.admin();
    for (name, config) in [(&source_name, &source_config), (&sink_name, &sink_config)] {
        admin
            .put_connector_config(v1::PutConnectorConfigRequest {
                name: name.clone(),
                config: Some(v1::ConnectorConfig {
                    source: Some(v1::connector_config::Source::Json(config.to_string())),
                }),
                ..Default::default()
            })
            .await
            .expect("put connector");
    }

    // The snapshot reaches the lake, then rows written now follow it.
    let (sink_label, source_label) =
        (format!("connector=\"{sink_name}\""), format!("connector=\"{source_name}\""));
    let sink_task = [sink_label.as_str(), "task=\"0\""];
    let source_task = [source_label.as_str(), "task=\"0\""];
    wait_for("the snapshot's 20 records in the lake", Duration::from_secs(90), || async move {
        let samples = scrape(sink_metrics).await?;
        let sent = sample(&samples, "hydrate_sink_sent_records_total", &sink_task).unwrap_or(0.0);
        Ok((sent >= 20.0).then_some(()))
    })
    .await;
    pg.batch_execute(&format!(
        "INSERT INTO {schema}.orders (item) SELECT 'new ' || n FROM generate_series(1, 15) AS n"
    ))
    .await
    .expect("new rows");
    let sink_samples = wait_for("all 35 records in the lake", Duration::from_secs(90), || async move {
        let samples = scrape(sink_metrics).await?;
        let sent = sample(&samples, "hydrate_sink_sent_records_total", &sink_task).unwrap_or(0.0);
        Ok((sent >= 35.0).then_some(samples))
    })
    .await;
    let source_samples = scrape(source_metrics).await.expect("source scrape");

    // The source: rows read, records produced, polls and commits timed.
    let topic_label = format!("topic=\"{topic}\"");
    let source_value = |name: &str, extra: &[&str]| {
        let labels: Vec<&str> = source_task.iter().copied().chain(extra.iter().copied()).collect();
        sample(&source_samples, name, &labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} in {source_samples:?}"))
    };
    assert_eq!(source_value("hydrate_source_received_records_total", &[]), 35.0);
    assert_eq!(source_value("hydrate_source_sent_records_total", &[&topic_label]), 35.0);
    assert!(
        source_value("hydrate_source_sent_bytes_total", &[&topic_label]) > 35.0 * 100.0,
        "headers counted"
    );
    assert!(source_value("hydrate_source_poll_duration_seconds_count", &[]) >= 2.0);
    assert_eq!(source_value("hydrate_source_poll_rows_sum", &[]), 35.0);
    assert!(source_value("hydrate_source_produce_duration_seconds_count", &[]) >= 2.0);
    assert_eq!(source_value("hydrate_source_errors_total", &["stage=\"poll\""]), 0.0);
    assert_eq!(sample(&source_samples, "hydrate_build_info", &["service=\"source\""]), Some(1.0));
    assert!(
        sample(&source_samples, "hydrate_worker_lease_renewals_total", &["kind=\"source\""]) >= Some(1.0)
    );
    assert_eq!(sample(&source_samples, "hydrate_worker_assigned_tasks", &["kind=\"source\""]), Some(1.0));

    // The sink: records in and out, objects, uploads, and freshness from
    // the rows' time, not from 2006: the snapshot's rows are as fresh as
    // the snapshot.
    let sink_value = |name: &str, extra: &[&str]| {
        let labels: Vec<&str> = sink_task.iter().copied().chain(extra.iter().copied()).collect();
        sample(&sink_samples, name, &labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} in {sink_samples:?}"))
    };
    assert_eq!(sink_value("hydrate_sink_received_records_total", &[&topic_label]), 35.0);
    assert_eq!(sink_value("hydrate_sink_sent_records_total", &[]), 35.0);
    let files = sink_value("hydrate_sink_files_written_total", &[]);
    assert!(files >= 4.0, "flush.size 10: at least 4 objects, got {files}");
    assert_eq!(sink_value("hydrate_sink_upload_duration_seconds_count", &[]), files);
    assert!(sink_value("hydrate_sink_sent_bytes_total", &[]) > 0.0);
    let fresh = sink_value("hydrate_sink_freshness_seconds_count", &[]);
    assert!(fresh >= 2.0, "at least one freshness observation per poll batch: {fresh}");
    assert_eq!(
        sink_value("hydrate_sink_freshness_seconds_bucket", &["le=\"120\""]),
        fresh,
        "every record became visible within two minutes of its row's time"
    );
    assert_eq!(sink_value("hydrate_sink_errors_total", &["stage=\"upload\""]), 0.0);
    assert_eq!(sample(&sink_samples, "hydrate_build_info", &["service=\"sink\""]), Some(1.0));
    assert!(
        sink_samples
            .contains_key(&format!("hydrate_sink_open_files{{connector=\"{sink_name}\",task=\"0\"}}"))
    );
    // The lag of the topic's partition, once the sink caught up: the last
    // transaction's commit marker does not count as a record behind.
    wait_for("the sink's lag to be 0", Duration::from_secs(30), || async move {
        let samples = scrape(sink_metrics).await?;
        let lag = sample(
            &samples,
            "hydrate_sink_consumer_lag_records",
            &sink_task.iter().copied().chain(["partition=\"0\""]).collect::<Vec<_>>(),
        );
        if lag == Some(0.0) { Ok(Some(())) } else { Err(format!("lag {lag:?}")) }
    })
    .await;

    // Every dashboard and alert expression, through Prometheus.
    prometheus.wait_targets_up().await;
    let url = prometheus.url.clone();
    let (passed, output) =
        wait_for("every PromQL expression to return series", Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let (passed, output) = promql_check(&url).await;
                if passed { Ok(Some((passed, output))) } else { Err(output) }
            }
        })
        .await;
    assert!(passed && output.contains(" 0 failed"), "{output}");

    // One trace: the poll that read rows of this table and an upload of
    // this connector's objects.
    let (trace, spans) = wait_source_to_sink_trace(
        &jaeger.query_url,
        Duration::from_secs(60),
        |poll| {
            poll.tags.get("connector") == Some(&source_name)
                && poll.tags.get("relation").is_some_and(|r| r.ends_with(".orders"))
        },
        |upload| upload.tags.get("key").is_some_and(|k| k.starts_with(&format!("{topics_dir}/{topic}/"))),
    )
    .await;
    let operations: Vec<&str> = spans.iter().map(|s| s.operation.as_str()).collect();
    for operation in ["source.produce", "sink.consume", "sink.encode"] {
        assert!(operations.contains(&operation), "trace {trace} lacks {operation}: {operations:?}");
    }

    // Deleting the pair stops its tasks: their series go away, the
    // workers' stay.
    for name in [&source_name, &sink_name] {
        admin.delete_connector(v1::DeleteConnectorRequest { name: name.clone() }).await.expect("delete");
    }
    wait_for("the stopped tasks' series to go away", Duration::from_secs(30), || {
        let (source_name, sink_name) = (source_name.clone(), sink_name.clone());
        async move {
            let source = scrape(source_metrics).await?;
            let sink = scrape(sink_metrics).await?;
            let left: Vec<String> = task_series(&source, &source_name)
                .into_iter()
                .chain(task_series(&sink, &sink_name))
                .collect();
            let workers = source.contains_key("hydrate_worker_assigned_tasks{kind=\"source\"}")
                && sink.contains_key("hydrate_worker_assigned_tasks{kind=\"sink\"}");
            if left.is_empty() && workers { Ok(Some(())) } else { Err(format!("{left:?}")) }
        }
    })
    .await;

    let _ = pg.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
    let _ = std::fs::remove_dir_all(PathBuf::from(&spool));
}
