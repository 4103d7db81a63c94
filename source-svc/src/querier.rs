//! One polled relation (a table, or the custom query): its statement, its
//! offset, and one poll, streamed through a portal a batch at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use hydrate_common::connect::{JdbcSourceConfig, LoadMode, TimestampInitial};
use hydrate_common::metrics::SourceTaskMetrics;
use hydrate_common::offsets::encode_source_key;
use hydrate_common::telemetry::propagation;
use serde_json::Value;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, IsolationLevel, Statement};

use crate::error::{Result, SourceError};
use crate::layout::{ColumnInfo, RowLayout};
use crate::offset::SourceOffset;
use crate::pg;
use crate::query::{self, BOUND_SQL, Criteria, Relation};
use crate::types::{ColumnKind, PG_EPOCH_OFFSET_MICROS, column_kind};
use crate::writer::{Stamp, Target, Writer};

/// A timestamptz parameter as PostgreSQL's raw microseconds since 2000
/// (`i64::MIN` is -infinity).
#[derive(Debug, Clone, Copy)]
struct PgTimestamp(i64);

impl ToSql for PgTimestamp {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

/// Progress of a relation's first full read, for status.
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows read so far.
    pub rows_done: AtomicU64,
    /// PostgreSQL's estimate of the total.
    pub rows_estimated: AtomicU64,
}

/// A polled relation.
pub struct Querier {
    /// `schema.table` or `query`, for logs and status.
    pub name: String,
    /// Where its records go before transforms.
    pub target: Target,
    criteria: Criteria,
    sql: String,
    statement: Option<Statement>,
    offset: SourceOffset,
    initial_micros: i64,
    delay_ms: i64,
    batch_max_rows: i32,
    /// Set while the first poll without an offset (the snapshot) runs.
    pub snapshot: Option<Arc<Progress>>,
    /// A warning for status: open transactions this role cannot see.
    pub bound_warning: Option<String>,
    /// When the last successful poll began (ms since the epoch).
    last_poll_ms: Option<i64>,
}

impl Querier {
    /// Describes `relation` and builds its poll statement; fails naming a
    /// missing relation, an unmappable column or a nullable mode column.
    pub async fn new(
        client: &Client,
        config: &JdbcSourceConfig,
        connector: &str,
        relation: Relation,
        partition: Value,
        stored: Option<&Value>,
    ) -> Result<Querier> {
        let name = match &relation {
            Relation::Table { schema, name } => format!("{schema}.{name}"),
            Relation::Query(_) => "query".to_owned(),
        };
        let described = client
            .prepare(&relation.describe_sql())
            .await
            .map_err(|e| SourceError::postgres(&format!("describe {name}"), &e))?;
        let origins: Vec<_> = described.columns().iter().map(|c| (c.table_oid(), c.column_id())).collect();
        let not_null = pg::not_null(client, &origins).await?;
        let utc = matches!(config.db_timezone.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "ETC/UTC" | "Z");
        let mut columns = Vec::new();
        let mut select = Vec::new();
        for (c, not_null) in described.columns().iter().zip(not_null) {
            let kind =
                column_kind(c.type_(), c.type_modifier(), config.numeric_mapping).map_err(|reason| {
                    SourceError::Unmappable(format!("column {} of {name}: {reason}", c.name()))
                })?;
            select.push((c.name().to_owned(), *c.type_() == Type::TIMESTAMP && !utc));
            columns.push(ColumnInfo { name: c.name().to_owned(), kind, not_null });
        }
        let index = |column: &str| columns.iter().position(|c| c.name == column);
        let (criteria, timestamp_columns, incrementing_column) = match &config.mode {
            LoadMode::Bulk => (Criteria::Bulk, Vec::new(), None),
            LoadMode::Incrementing { column } => {
                (Criteria::Incrementing { column: column.clone() }, Vec::new(), Some(column.clone()))
            }
            LoadMode::Timestamp { columns } => {
                (Criteria::Timestamp { columns: columns.clone() }, columns.clone(), None)
            }
            LoadMode::TimestampIncrementing { timestamp_columns, incrementing_column } => (
                Criteria::TimestampIncrementing {
                    columns: timestamp_columns.clone(),
                    column: incrementing_column.clone(),
                },
                timestamp_columns.clone(),
                Some(incrementing_column.clone()),
            ),
        };
        let mut ts_indexes = Vec::new();
        for column in &timestamp_columns {
            let i = index(column).ok_or_else(|| {
                SourceError::Query(format!(
                    "timestamp column {column} (timestamp.column.name) is not a column of {name}"
                ))
            })?;
            if columns[i].kind != ColumnKind::Timestamp {
                return Err(SourceError::Query(format!(
                    "timestamp column {column} of {name} is not a timestamp or timestamptz"
                )));
            }
            ts_indexes.push(i);
        }
        let inc_index = match &incrementing_column {
            Some(column) => {
                let i = index(column).ok_or_else(|| {
                    SourceError::Query(format!(
                        "incrementing column {column} (incrementing.column.name) is not a column of {name}"
                    ))
                })?;
                let integral = matches!(
                    columns[i].kind,
                    ColumnKind::Int2 | ColumnKind::Int4 | ColumnKind::Int8 | ColumnKind::Numeric(_)
                );
                if !integral {
                    return Err(SourceError::Query(format!(
                        "incrementing column {column} of {name} is not an integer"
                    )));
                }
                Some(i)
            }
            None => None,
        };
        // As Kafka Connect: only tables are checked, and a timestamp list
        // fails only when every one of its columns is nullable.
        if config.validate_non_null && matches!(relation, Relation::Table { .. }) {
            if !ts_indexes.is_empty() && ts_indexes.iter().all(|i| !columns[*i].not_null) {
                return Err(SourceError::Query(format!(
                    "cannot make incremental queries using timestamp columns [{}] on {name} because all of these \
                     columns are nullable (set validate.non.null=false to poll anyway)",
                    timestamp_columns.join(", ")
                )));
            }
            if let Some(i) = inc_index.filter(|i| !columns[*i].not_null) {
                return Err(SourceError::Query(format!(
                    "cannot make incremental queries using incrementing column {} on {name} because this column is \
                     nullable (set validate.non.null=false to poll anyway)",
                    columns[i].name
                )));
            }
        }
        let (schema_name, topic) = match &relation {
            Relation::Table { name: table, .. } => {
                (Some(table.as_str()), format!("{}{table}", config.topic_prefix))
            }
            Relation::Query(_) => (None, config.topic_prefix.clone()),
        };
        let layout = RowLayout::new(&columns, schema_name, ts_indexes, inc_index);
        let sql = query::poll_sql(
            &relation,
            &query::select_list(&select),
            &criteria,
            config.query_suffix.as_deref(),
        );
        let offset = stored.map(SourceOffset::from_json).unwrap_or_default();
        let initial_micros = match config.timestamp_initial {
            TimestampInitial::Earliest => i64::MIN,
            TimestampInitial::Now => now_micros() - PG_EPOCH_OFFSET_MICROS,
            TimestampInitial::EpochMillis(ms) => ms.saturating_mul(1000) - PG_EPOCH_OFFSET_MICROS,
        };
        let fresh = stored.is_none() || matches!(criteria, Criteria::Bulk);
        let snapshot = fresh.then(|| Arc::new(Progress::default()));
        if let (Some(progress), Relation::Table { schema, name }) = (&snapshot, &relation) {
            progress.rows_estimated.store(pg::estimated_rows(client, schema, name).await, Ordering::Relaxed);
        }
        Ok(Querier {
            target: Target {
                layout: Arc::new(layout),
                topic,
                partition_key: encode_source_key(connector, &partition),
                tracks_offset: !matches!(criteria, Criteria::Bulk),
                timestamp_only: matches!(criteria, Criteria::Timestamp { .. }),
            },
            name,
            criteria,
            sql,
            statement: None,
            offset,
            initial_micros,
            delay_ms: i64::try_from(config.timestamp_delay.as_millis()).unwrap_or(i64::MAX),
            batch_max_rows: i32::try_from(config.batch_max_rows.max(1)).unwrap_or(i32::MAX),
            snapshot,
            bound_warning: None,
            last_poll_ms: None,
        })
    }

    /// One poll: reads every row past the offset (below the safe bound in
    /// timestamp modes) and writes it; returns the rows read. The writer
    /// stays in `slot` (it is lent to blocking threads meanwhile).
    /// Call it inside the poll's `source.poll` span: the records carry its
    /// trace context.
    pub async fn poll(
        &mut self,
        client: &mut Client,
        slot: &mut Option<Box<Writer>>,
        metrics: &SourceTaskMetrics,
    ) -> Result<u64> {
        let started = std::time::Instant::now();
        let started_ms = now_micros().div_euclid(1000);
        let stamp = Stamp {
            trace: propagation::current_headers(),
            floor_ms: self.last_poll_ms.or(self.snapshot.is_some().then_some(started_ms)),
        };
        let result = self.poll_inner(client, slot, stamp).await;
        if result.is_err() {
            let _ = with_writer(slot, |w| w.abort()).await;
        }
        let converted_bytes = slot.as_mut().map_or(0, |w| w.take_converted_bytes());
        if let Some(committed) = slot.as_mut().and_then(|w| w.take_committed()) {
            self.offset = committed;
        }
        if let Ok(rows) = result {
            metrics.polled(rows, converted_bytes, started.elapsed());
            self.last_poll_ms = Some(started_ms);
        }
        result
    }

    async fn poll_inner(
        &mut self,
        client: &mut Client,
        slot: &mut Option<Box<Writer>>,
        stamp: Stamp,
    ) -> Result<u64> {
        if self.statement.is_none() {
            let statement = client
                .prepare(&self.sql)
                .await
                .map_err(|e| SourceError::postgres(&format!("prepare the poll of {}", self.name), &e))?;
            self.statement = Some(statement);
        }
        let Some(statement) = self.statement.clone() else { return Ok(0) };
        let name = self.name.clone();
        let context = |what: &str| format!("{what} ({name})");
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .read_only(true)
            .start()
            .await
            .map_err(|e| SourceError::postgres(&context("begin"), &e))?;
        let last_ts = PgTimestamp(
            self.offset
                .timestamp_micros
                .map(|m| m.saturating_sub(PG_EPOCH_OFFSET_MICROS))
                .unwrap_or(self.initial_micros),
        );
        let last_inc = self.offset.incrementing.unwrap_or(-1);
        let mut bound = PgTimestamp(i64::MAX);
        if matches!(self.criteria, Criteria::Timestamp { .. } | Criteria::TimestampIncrementing { .. }) {
            // Read before the poll's statement takes its snapshot (read
            // committed): a transaction missing here committed before that
            // snapshot or started after this bound.
            let row = tx
                .query_one(BOUND_SQL, &[&self.delay_ms])
                .await
                .map_err(|e| SourceError::postgres(&context("read the poll bound"), &e))?;
            let wall = row
                .try_get::<_, crate::types::Raw<'_>>(0)
                .ok()
                .and_then(|r| crate::types::timestamp_micros(r.0).ok());
            let oldest = row
                .try_get::<_, Option<crate::types::Raw<'_>>>(1)
                .ok()
                .flatten()
                .and_then(|r| crate::types::timestamp_micros(r.0).ok());
            let hidden: i64 = row.try_get(2).unwrap_or(0);
            let micros = match (wall, oldest) {
                (Some(w), Some(o)) => w.min(o),
                (Some(w), None) => w,
                _ => return Err(SourceError::Query("the poll bound could not be read".into())),
            };
            bound = PgTimestamp(micros - PG_EPOCH_OFFSET_MICROS);
            self.bound_warning = (hidden > 0).then(|| {
                format!(
                    "{hidden} open transactions in this database are hidden from this role (grant it pg_read_all_stats): \
                     rows they commit later may be missed"
                )
            });
        }
        let params: Vec<&(dyn ToSql + Sync)> = match self.criteria {
            Criteria::Bulk => Vec::new(),
            Criteria::Incrementing { .. } => vec![&last_inc],
            Criteria::Timestamp { .. } => vec![&last_ts, &bound],
            Criteria::TimestampIncrementing { .. } => vec![&last_ts, &last_inc, &bound],
        };
        let portal =
            tx.bind(&statement, &params).await.map_err(|e| SourceError::postgres(&context("poll"), &e))?;
        let mut total = 0u64;
        let target = self.target.clone();
        // Fetches overlap encoding: batch N+1 is read while batch N is
        // converted and produced on a blocking thread. At most two fetches'
        // rows are in memory.
        let fetch_rows = self.batch_max_rows.clamp(1000, 10_000);
        let mut in_flight: Option<(WriteJob, u64)> = None;
        loop {
            let fetched = tx.query_portal(&portal, fetch_rows).await;
            if let Some((job, n)) = in_flight.take() {
                settle(job, slot).await?;
                total += n;
                self.after_write(n, slot);
            }
            let rows = fetched.map_err(|e| SourceError::postgres(&context("fetch"), &e))?;
            let n = rows.len();
            if n == 0 {
                break;
            }
            let Some(mut writer) = slot.take() else {
                return Err(SourceError::Kafka {
                    message: "the task's producer is gone".into(),
                    retryable: false,
                });
            };
            let (t, stamp, span) = (target.clone(), stamp.clone(), tracing::Span::current());
            let job = tokio::task::spawn_blocking(move || {
                let result = span.in_scope(|| writer.write(&t, rows, &stamp));
                (writer, result)
            });
            in_flight = Some((job, n as u64));
            if n < fetch_rows as usize {
                break;
            }
        }
        if let Some((job, n)) = in_flight.take() {
            settle(job, slot).await?;
            total += n;
            self.after_write(n, slot);
        }
        with_writer(slot, move |w| w.finish(&target)).await??;
        if let Some(committed) = slot.as_mut().and_then(|w| w.take_committed()) {
            self.offset = committed;
        }
        tx.commit().await.map_err(|e| SourceError::postgres(&context("end the poll"), &e))?;
        self.snapshot = None;
        Ok(total)
    }
}

impl Querier {
    fn after_write(&mut self, rows: u64, slot: &mut Option<Box<Writer>>) {
        if let Some(progress) = &self.snapshot {
            progress.rows_done.fetch_add(rows, Ordering::Relaxed);
        }
        if let Some(committed) = slot.as_mut().and_then(|w| w.take_committed()) {
            self.offset = committed;
        }
    }
}

/// A batch being written on a blocking thread; it hands the writer back.
type WriteJob = tokio::task::JoinHandle<(Box<Writer>, Result<()>)>;

/// Waits for a write, putting the writer back before reporting its result.
async fn settle(job: WriteJob, slot: &mut Option<Box<Writer>>) -> Result<()> {
    match job.await {
        Ok((writer, result)) => {
            *slot = Some(writer);
            result
        }
        // The write panicked: the writer went with it.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// Runs `f` on the writer on a blocking thread, then puts it back.
pub async fn with_writer<T: Send + 'static>(
    slot: &mut Option<Box<Writer>>,
    f: impl FnOnce(&mut Writer) -> T + Send + 'static,
) -> Result<T> {
    let Some(mut writer) = slot.take() else {
        return Err(SourceError::Kafka { message: "the task's producer is gone".into(), retryable: false });
    };
    // The caller's span (a poll's) goes along: a commit's span is its child.
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || {
        let out = span.in_scope(|| f(&mut writer));
        (writer, out)
    })
    .await
    {
        Ok((writer, out)) => {
            *slot = Some(writer);
            Ok(out)
        }
        // The closure panicked: the writer went with it.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}
