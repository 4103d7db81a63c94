//! One source task: from its assignment's config to polling its tables
//! until it is cancelled or fails.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrate_common::connect::secrets::{SystemResolver, resolve_references};
use hydrate_common::connect::{ConnectorConfig, JdbcSourceConfig, RowSource, build_spec};
use hydrate_common::metrics::{self, SourceTaskMetrics};
use hydrate_common::offsets::source_offsets_topic;
use hydrate_common::record::JsonConverter;
use hydrate_common::record::transform::TransformChain;
use hydrate_kafka::KafkaClients;
use hydrate_proto::v1;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::{Result, SourceError};
use crate::kafka::{self, TxProducer};
use crate::offset::{query_partition, table_partition};
use crate::pg;
use crate::querier::{Progress, Querier};
use crate::query::Relation;
use crate::writer::{Converters, Writer};

/// What a task reports: its state and, when FAILED, why (warnings while
/// RUNNING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// RUNNING, PAUSED or FAILED.
    pub state: v1::State,
    /// Secret-free explanation.
    pub trace: String,
}

/// Snapshots in progress, by relation.
pub type Snapshots = Arc<Mutex<BTreeMap<String, Arc<Progress>>>>;

/// Everything a task needs.
pub struct TaskContext {
    /// The connector's name.
    pub connector: String,
    /// The task's number.
    pub task: u32,
    /// The assignment's config (connector keys plus `tables`, `task.id`).
    pub config: BTreeMap<String, String>,
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// Kafka client settings.
    pub kafka: KafkaClients,
    /// Fires when the task must stop (removed, moved, lease lost).
    pub cancel: CancellationToken,
    /// Where the state goes.
    pub report: watch::Sender<Report>,
    /// Snapshot progress for status.
    pub snapshots: Snapshots,
}

/// Runs the task until cancelled; failures end up in its report.
pub async fn run(ctx: TaskContext) {
    let metrics = metrics::source().task(&ctx.connector, ctx.task);
    let result = run_with_retries(&ctx, &metrics).await;
    match result {
        Ok(()) | Err(SourceError::Cancelled) => {}
        Err(err) => {
            tracing::error!(connector = %ctx.connector, task = ctx.task, error = %err, "source task failed");
            let _ = ctx.report.send(Report { state: v1::State::Failed, trace: err.to_string() });
            // A failed task's series (its errors) stay until it is stopped.
            ctx.cancel.cancelled().await;
        }
    }
    metrics.remove();
}

/// The typed config of an assignment: its own keys stripped, references
/// resolved where the task runs.
fn source_config(
    config: &BTreeMap<String, String>,
) -> Result<(hydrate_common::connect::ConnectorSpec, JdbcSourceConfig)> {
    let mut connector_keys = config.clone();
    connector_keys.remove("tables");
    connector_keys.remove("task.id");
    let resolved = resolve_references(&connector_keys, &SystemResolver)
        .map_err(|e| SourceError::Config(e.to_string()))?;
    let spec = build_spec(&resolved)?;
    match &spec.connector {
        ConnectorConfig::JdbcSource(source) => {
            let source = source.clone();
            Ok((spec, source))
        }
        ConnectorConfig::S3Sink(_) => Err(SourceError::Config("not a JDBC source connector".into())),
    }
}

async fn run_with_retries(ctx: &TaskContext, metrics: &SourceTaskMetrics) -> Result<()> {
    let (spec, source) = source_config(&ctx.config)?;
    let mut failures = 0u32;
    loop {
        let result = run_once(ctx, &spec, &source, metrics, &mut failures).await;
        if let Err(err) = &result
            && let Some(stage) = err.stage()
        {
            metrics.error(stage);
        }
        let error = match result {
            Err(err) if err.is_retryable() && failures < source.connection_attempts.max(1) => err,
            other => return other,
        };
        failures += 1;
        tracing::warn!(connector = %ctx.connector, task = ctx.task, attempt = failures, error = %error, "source task retrying");
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
            _ = tokio::time::sleep(source.connection_backoff.max(Duration::from_millis(100))) => {}
        }
    }
}

async fn run_once(
    ctx: &TaskContext,
    spec: &hydrate_common::connect::ConnectorSpec,
    source: &JdbcSourceConfig,
    metrics: &SourceTaskMetrics,
    failures: &mut u32,
) -> Result<()> {
    let client_config = kafka::client_config(&ctx.bootstrap, &ctx.kafka);
    let offsets_topic = source_offsets_topic(&ctx.config);
    kafka::ensure_offsets_topic(&client_config, &offsets_topic).await?;
    let transactional_id = format!("hydrate-source-{}-{}", ctx.connector, ctx.task);
    // Fences the previous owner and aborts its open transaction before the
    // offsets are read, so they are the last committed ones.
    let producer = {
        let config = client_config.clone();
        tokio::task::spawn_blocking(move || TxProducer::new(config, &transactional_id))
            .await
            .map_err(|e| SourceError::Kafka { message: format!("producer set-up: {e}"), retryable: true })??
    };
    let stored = {
        let (config, topic, connector) =
            (client_config.clone(), offsets_topic.clone(), ctx.connector.clone());
        tokio::task::spawn_blocking(move || kafka::read_offsets(&config, &topic, &connector))
            .await
            .map_err(|e| SourceError::Kafka { message: format!("offsets reader: {e}"), retryable: true })??
    };
    let chain = if spec.transforms.is_empty() { None } else { Some(TransformChain::new(&spec.transforms)?) };
    let converters = Converters {
        key: JsonConverter::from_settings(&spec.key_converter),
        value: JsonConverter::from_settings(&spec.value_converter),
    };
    let writer = Writer::new(
        producer,
        converters,
        chain,
        offsets_topic,
        source.batch_max_rows as usize,
        ctx.cancel.clone(),
        metrics.clone(),
    );
    let mut slot = Some(Box::new(writer));

    let session = format!("{}/{}", ctx.connector, ctx.task);
    let mut client = pg::connect(source, &session, &ctx.cancel).await?;
    let tables = ctx.config.get("tables").cloned().unwrap_or_default();
    let discover = tables.trim() == "*";
    let mut queriers: Vec<(Querier, Instant)> = Vec::new();
    let mut known: Vec<Relation> = Vec::new();
    let mut next_discovery = Instant::now();
    set_running(ctx, None);
    loop {
        if Instant::now() >= next_discovery {
            let relations = relations(&client, source, &tables, discover).await?;
            for (relation, partition) in relations {
                if known.contains(&relation) {
                    continue;
                }
                let stored_offset = stored.get(&partition.to_string());
                let querier =
                    Querier::new(&client, source, &ctx.connector, relation.clone(), partition, stored_offset)
                        .await?;
                tracing::info!(connector = %ctx.connector, task = ctx.task, relation = %querier.name, topic = %querier.target.topic, "polling");
                if let Some(progress) = &querier.snapshot {
                    lock(&ctx.snapshots).insert(querier.name.clone(), progress.clone());
                }
                known.push(relation);
                queriers.push((querier, Instant::now()));
            }
            next_discovery = if discover {
                Instant::now() + source.table_poll_interval.max(Duration::from_millis(100))
            } else {
                Instant::now() + Duration::from_secs(365 * 24 * 3600)
            };
        }
        let Some(due) = queriers.iter().map(|(_, at)| *at).min() else {
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
                _ = tokio::time::sleep_until(next_discovery) => continue,
            }
        };
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
            _ = tokio::time::sleep_until(due.min(next_discovery)) => {}
        }
        let now = Instant::now();
        for (querier, at) in queriers.iter_mut().filter(|(_, at)| *at <= now) {
            // One trace per poll (a root span): the records it produces carry
            // its context to the sink's spans.
            let span = tracing::info_span!(
                parent: None,
                "source.poll",
                connector = %ctx.connector,
                task = ctx.task,
                relation = %querier.name,
                rows = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            );
            let polled = querier.poll(&mut client, &mut slot, metrics).instrument(span.clone()).await;
            match &polled {
                Ok(rows) => span.record("rows", rows),
                Err(_) => span.record("otel.status_code", "ERROR"),
            };
            let rows = polled?;
            *failures = 0;
            *at = Instant::now() + source.poll_interval;
            lock(&ctx.snapshots).remove(&querier.name);
            set_running(ctx, querier.bound_warning.clone());
            if rows > 0 {
                tracing::debug!(connector = %ctx.connector, relation = %querier.name, rows, "polled");
            }
        }
    }
}

fn lock(snapshots: &Snapshots) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Progress>>> {
    snapshots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set_running(ctx: &TaskContext, warning: Option<String>) {
    let report = Report {
        state: v1::State::Running,
        trace: warning.map(|w| format!("warning: {w}")).unwrap_or_default(),
    };
    ctx.report.send_if_modified(|current| {
        if *current == report {
            false
        } else {
            *current = report;
            true
        }
    });
}

/// The relations the task polls and their source partitions.
async fn relations(
    client: &tokio_postgres::Client,
    source: &JdbcSourceConfig,
    tables: &str,
    discover: bool,
) -> Result<Vec<(Relation, Value)>> {
    let database: String = client
        .query_one("SELECT current_database()::text", &[])
        .await
        .map_err(|e| SourceError::postgres("current database", &e))?
        .get(0);
    let (include, exclude, schema_pattern, table_types) = match &source.source {
        RowSource::Query { sql } => return Ok(vec![(Relation::Query(sql.clone()), query_partition())]),
        RowSource::Tables { include, exclude, schema_pattern, table_types } => {
            (include, exclude, schema_pattern.as_deref(), table_types)
        }
    };
    let found = if discover {
        pg::discover_tables(client, schema_pattern, table_types, include, exclude).await?
    } else {
        let mut found = Vec::new();
        for name in tables.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match pg::resolve_table(client, name, schema_pattern).await? {
                Some(table) => found.push(table),
                None => {
                    return Err(SourceError::Query(format!(
                        "table {name} does not exist in database {database} (or is not visible to the connecting role)"
                    )));
                }
            }
        }
        found
    };
    Ok(found
        .into_iter()
        .map(|(schema, name)| {
            let partition = table_partition(&database, &schema, &name);
            (Relation::Table { schema, name }, partition)
        })
        .collect())
}
