//! One source task: from its assignment's config to polling its tables
//! until it is cancelled or fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hydrate_common::connect::secrets::{SystemResolver, resolve_references};
use hydrate_common::connect::{ConnectorConfig, JdbcSourceConfig, RowSource, build_spec};
use hydrate_common::metrics::{self, SourceTaskMetrics};
use hydrate_common::offsets::source_offsets_topic;
use hydrate_common::record::JsonConverter;
use hydrate_common::record::transform::TransformChain;
use hydrate_kafka::KafkaClients;
use hydrate_proto::v1;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
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
    let failures = AtomicU32::new(0);
    loop {
        let result = run_once(ctx, &spec, &source, metrics, &failures).await;
        if let Err(err) = &result
            && let Some(stage) = err.stage()
        {
            metrics.error(stage);
        }
        let error = match result {
            Err(err)
                if err.is_retryable()
                    && failures.load(Ordering::Relaxed) < source.connection_attempts.max(1) =>
            {
                err
            }
            other => return other,
        };
        let attempt = failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(connector = %ctx.connector, task = ctx.task, attempt, error = %error, "source task retrying");
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
            _ = tokio::time::sleep(source.connection_backoff.max(Duration::from_millis(100))) => {}
        }
    }
}

/// The transactional id of lane `lane` of a task. Lane 0 keeps the id a
/// task had before it polled tables side by side.
pub fn transactional_id(connector: &str, task: u32, lane: usize) -> String {
    match lane {
        0 => format!("hydrate-source-{connector}-{task}"),
        n => format!("hydrate-source-{connector}-{task}-lane{n}"),
    }
}

async fn run_once(
    ctx: &TaskContext,
    spec: &hydrate_common::connect::ConnectorSpec,
    source: &JdbcSourceConfig,
    metrics: &SourceTaskMetrics,
    failures: &AtomicU32,
) -> Result<()> {
    let client_config = kafka::client_config(&ctx.bootstrap, &ctx.kafka);
    let offsets_topic = source_offsets_topic(&ctx.config);
    kafka::ensure_offsets_topic(&client_config, &offsets_topic).await?;
    // Every lane's producer fences the previous owner's and aborts its open
    // transaction before the offsets are read, so they are the last
    // committed ones, whichever lane a table was on before.
    let fencing = (0..LANES).map(|lane| {
        let (config, id) = (client_config.clone(), transactional_id(&ctx.connector, ctx.task, lane));
        async move {
            tokio::task::spawn_blocking(move || TxProducer::new(config, &id)).await.map_err(|e| {
                SourceError::Kafka { message: format!("producer set-up: {e}"), retryable: true }
            })?
        }
    });
    let mut producers: Vec<Option<TxProducer>> =
        futures_util::future::try_join_all(fencing).await?.into_iter().map(Some).collect();
    let stored = {
        let (config, topic, connector) =
            (client_config.clone(), offsets_topic.clone(), ctx.connector.clone());
        tokio::task::spawn_blocking(move || kafka::read_offsets(&config, &topic, &connector))
            .await
            .map_err(|e| SourceError::Kafka { message: format!("offsets reader: {e}"), retryable: true })??
    };

    let session = format!("{}/{}", ctx.connector, ctx.task);
    let client = pg::connect(source, &session, &ctx.cancel).await?;
    let tables = ctx.config.get("tables").cloned().unwrap_or_default();
    let discover = tables.trim() == "*";
    let mut known: Vec<Relation> = Vec::new();
    let mut lanes: Vec<mpsc::UnboundedSender<Querier>> = Vec::new();
    let mut running = FuturesUnordered::new();
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
                // Tables go round the lanes in the order they are found.
                let lane = known.len() % LANES;
                tracing::info!(connector = %ctx.connector, task = ctx.task, relation = %querier.name, topic = %querier.target.topic, lane, "polling");
                if let Some(progress) = &querier.snapshot {
                    lock(&ctx.snapshots).insert(querier.name.clone(), progress.clone());
                }
                known.push(relation);
                if lane == lanes.len() {
                    let producer =
                        producers.get_mut(lane).and_then(Option::take).ok_or_else(|| SourceError::Kafka {
                            message: format!("lane {lane} has no producer"),
                            retryable: false,
                        })?;
                    let writer = Writer::new(
                        producer,
                        converters(spec),
                        transforms(spec)?,
                        offsets_topic.clone(),
                        source.batch_max_rows as usize,
                        ctx.cancel.clone(),
                        metrics.clone(),
                    );
                    let (sender, receiver) = mpsc::unbounded_channel();
                    lanes.push(sender);
                    running.push(run_lane(ctx, source, metrics, failures, lane, writer, receiver));
                }
                // A lane only ends with an error, which ends the task below.
                let _ = lanes[lane].send(querier);
            }
            if !discover {
                // No table comes later: the lanes left unused fenced their ids.
                producers.clear();
            }
            next_discovery = if discover {
                Instant::now() + source.table_poll_interval.max(Duration::from_millis(100))
            } else {
                Instant::now() + Duration::from_secs(365 * 24 * 3600)
            };
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
            Some(ended) = running.next() => {
                ended?;
                return Err(SourceError::Kafka { message: "a polling lane stopped".into(), retryable: true });
            }
            _ = tokio::time::sleep_until(next_discovery) => {}
        }
    }
}

/// Tables of one task are polled on up to this many lanes side by side,
/// each with its own PostgreSQL connection and transactional producer (a
/// large snapshot does not hold up the other tables' polls). Fixed: every
/// lane's transactional id is fenced when a task starts.
const LANES: usize = 4;

fn converters(spec: &hydrate_common::connect::ConnectorSpec) -> Converters {
    Converters {
        key: JsonConverter::from_settings(&spec.key_converter),
        value: JsonConverter::from_settings(&spec.value_converter),
    }
}

fn transforms(spec: &hydrate_common::connect::ConnectorSpec) -> Result<Option<TransformChain>> {
    Ok(if spec.transforms.is_empty() { None } else { Some(TransformChain::new(&spec.transforms)?) })
}

/// Polls the tables sent to one lane, each when due, until the task stops.
async fn run_lane(
    ctx: &TaskContext,
    source: &JdbcSourceConfig,
    metrics: &SourceTaskMetrics,
    failures: &AtomicU32,
    lane: usize,
    writer: Writer,
    mut tables: mpsc::UnboundedReceiver<Querier>,
) -> Result<()> {
    let mut slot = Some(Box::new(writer));
    let session = format!("{}/{}/{lane}", ctx.connector, ctx.task);
    let mut client = pg::connect(source, &session, &ctx.cancel).await?;
    let mut queriers: Vec<(Querier, Instant)> = Vec::new();
    loop {
        let due = queriers.iter().map(|(_, at)| *at).min();
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Err(SourceError::Cancelled),
            added = tables.recv() => match added {
                Some(querier) => {
                    queriers.push((querier, Instant::now()));
                    continue;
                }
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {}
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
            failures.store(0, Ordering::Relaxed);
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
