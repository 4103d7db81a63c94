//! One sink task: from its assignment (connector config, leased
//! topic-partitions, epoch) to objects in S3, until cancelled or failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hydrate_common::connect::{ConnectorConfig, S3SinkConfig, build_spec, secrets};
use hydrate_common::offsets::sink_group_id;
use hydrate_common::record::transform::TransformChain;
use hydrate_common::worker::{LeaseSession, WorkerError};
use hydrate_kafka::KafkaClients;
use hydrate_proto::v1;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{self, CheckpointStore, Resume};
use crate::commit::{Owner, commit_closed};
use crate::consumer;
use crate::converter::Converter;
use crate::dlq::Dlq;
use crate::error::{Result, SinkError};
use crate::format::{self, FormatOptions};
use crate::memory::MemoryBudget;
use crate::naming::Naming;
use crate::partition;
use crate::pipeline::Pipeline;
use crate::schedule::Schedule;
use crate::segment::{FileFactory, PartitionWriter, Rotation, WriterFactory};
use crate::sidecar::Sidecar;
use crate::spool::Spool;
use crate::upload::Uploader;

/// How long one step polls at most before the schedule and commits are
/// looked at (less when a scheduled rotation falls due sooner).
const STEP: Duration = Duration::from_millis(200);
/// Consecutive retryable failures before the task is reported FAILED.
const MAX_ATTEMPTS: u32 = 8;

/// What a task runs with.
#[derive(Clone)]
pub struct TaskContext {
    /// Connector name.
    pub connector: String,
    /// Task number.
    pub task: u32,
    /// Lease epoch of the assignment.
    pub epoch: u64,
    /// The task config (connector keys plus `topic.partitions`, `task.id`).
    pub config: BTreeMap<String, String>,
    /// Leased `topic-N` partitions.
    pub resources: Vec<String>,
    /// Kafka client settings of the worker.
    pub kafka: KafkaClients,
    /// The worker's spool directory.
    pub spool_root: PathBuf,
    /// The service-wide memory budget.
    pub budget: Arc<MemoryBudget>,
    /// The service-wide upload limit.
    pub upload_permits: Arc<Semaphore>,
    /// The lease, to confirm ownership before commits.
    pub lease: Arc<LeaseSession>,
    /// How format writers are opened.
    pub open_writer: WriterFactory,
    /// The task's metrics.
    pub metrics: hydrate_common::metrics::SinkTaskMetrics,
}

/// The sink config of a task config: references resolved, then validated.
pub fn sink_config(config: &BTreeMap<String, String>) -> Result<hydrate_common::connect::ConnectorSpec> {
    let mut config = config.clone();
    // The task's own keys are not connector keys.
    config.remove("topic.partitions");
    config.remove("task.id");
    let resolved = secrets::resolve_references(&config, &secrets::SystemResolver)
        .map_err(|e| SinkError::Config(e.to_string()))?;
    let spec = build_spec(&resolved).map_err(|e| SinkError::Config(e.to_string()))?;
    match &spec.connector {
        ConnectorConfig::S3Sink(_) => Ok(spec),
        ConnectorConfig::JdbcSource(_) => {
            Err(SinkError::Config("a sink worker was given a source connector".into()))
        }
    }
}

/// Runs the task until `cancel` fires (Ok) or it fails for good (Err).
pub async fn run(ctx: TaskContext, cancel: CancellationToken) -> Result<()> {
    let spec = sink_config(&ctx.config)?;
    let ConnectorConfig::S3Sink(sink) = &spec.connector else {
        return Err(SinkError::Config("not an S3 sink".into()));
    };
    refuse_unsupported(sink)?;
    let s3 = crate::s3::client(sink).await;
    crate::s3::check_bucket(&s3, &sink.bucket).await?;
    let mut attempt = 0;
    loop {
        let result = run_once(&ctx, &spec, sink, &s3, &cancel).await;
        if let Some(stage) = result.as_ref().err().and_then(crate::telemetry::error_stage) {
            ctx.metrics.error(stage);
        }
        match result {
            Ok(()) | Err(SinkError::Cancelled) => return Ok(()),
            Err(err) if err.is_retryable() && attempt + 1 < MAX_ATTEMPTS => {
                attempt += 1;
                let wait = sink.retry_backoff.max(Duration::from_millis(200)) * attempt;
                tracing::warn!(error = %err, attempt, wait = ?wait, "task failed; starting again from its checkpoints");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(err) => return Err(err),
        }
    }
}

/// Settings this service does not implement yet fail the task with a
/// message, rather than being silently ignored.
fn refuse_unsupported(sink: &S3SinkConfig) -> Result<()> {
    let refused = |key: &str, why: &str| Err(SinkError::Config(format!("{key}: {why}")));
    if matches!(sink.null_values, hydrate_common::connect::NullValueBehavior::Write { .. }) {
        return refused(
            "behavior.on.null.values",
            "write (tombstones as key-only objects under tombstone.encoded.partition) is not supported yet; \
             use ignore or fail",
        );
    }
    if matches!(sink.encryption, hydrate_common::connect::Encryption::CustomerKey(_)) {
        return refused(
            "s3.sse.customer.key",
            "SSE-C is not supported yet; use s3.ssea.name AES256 or aws:kms",
        );
    }
    if let hydrate_common::connect::Partitioner::Time {
        timestamp: hydrate_common::connect::TimestampSource::Wallclock,
        ..
    } = &sink.partitioner
    {
        // A replayed record may fall into another time directory.
        tracing::warn!(
            "timestamp.extractor Wallclock: after a crash a replayed record may land in a later \
             directory; use Record or RecordField for exactly once"
        );
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::Spool(std::io::Error::other(format!("worker thread: {e}"))))?
}

async fn run_once(
    ctx: &TaskContext,
    spec: &hydrate_common::connect::ConnectorSpec,
    sink: &S3SinkConfig,
    s3: &aws_sdk_s3::Client,
    cancel: &CancellationToken,
) -> Result<()> {
    let partitions = consumer::parse_resources(&ctx.resources)?;
    let owner = Owner { connector: ctx.connector.clone(), task: ctx.task, epoch: ctx.epoch };
    let spool = Spool::open(&ctx.spool_root, &format!("{}-{}", ctx.connector, ctx.task))?;
    let naming = Naming::new(sink, format::extension(&sink.format));
    let partitioner = partition::build(sink).map_err(|e| SinkError::Config(e.to_string()))?;
    let options = FormatOptions {
        format: sink.format.clone(),
        json_decimal_format: sink.json_decimal_format,
        excluded_fields: if sink.partition_field_in_file {
            Vec::new()
        } else {
            partitioner.fields().to_vec()
        },
        row_group_rows: (sink.flush_size as usize).clamp(1, 65_536),
        spill_dir: Some(spool.dir().to_path_buf()),
    };
    let sidecars = Sidecar::configured(sink, &options);
    let files =
        FileFactory { naming: naming.clone(), options, spool, open: ctx.open_writer.clone(), sidecars };
    let rotation = Rotation {
        flush_size: u64::from(sink.flush_size.max(1)),
        interval_ms: sink.rotate_interval.map(|d| d.as_millis() as i64),
        schedule: match sink.rotate_schedule_interval {
            Some(every) => Some(
                Schedule::new(every.as_millis() as i64, sink.timezone.as_deref())
                    .map_err(SinkError::Config)?,
            ),
            None => None,
        },
        compatibility: sink.schema_compatibility,
    };
    let group = sink_group_id(&ctx.connector);
    let client_id = format!("hydrate-sink-{}-{}", ctx.connector, ctx.task);
    let consumer = consumer::create(&consumer::consumer_config(&ctx.kafka, &group, &client_id))?;
    let store = CheckpointStore::new(s3.clone(), &sink.bucket);
    let uploader = Uploader::new(s3.clone(), sink, &ctx.connector, ctx.upload_permits.clone())
        .with_metrics(ctx.metrics.clone());

    // Recovery: the lake first, then the consumer group.
    let mut resumes: BTreeMap<(String, i32), Resume> = BTreeMap::new();
    let mut without = Vec::new();
    for (topic, partition) in &partitions {
        let key = naming.checkpoint_key(&ctx.connector, topic, *partition);
        match store.read(&key).await? {
            Some(found) => {
                let resume = checkpoint::recover(&found, &ctx.connector, &uploader).await?;
                let mut claimed = found.clone();
                (claimed.task, claimed.epoch) = (owner.task, owner.epoch);
                claimed.pending = resume.unresolved.clone();
                claimed.watermarks = resume.watermarks.clone();
                store.write(&key, &claimed).await?;
                tracing::info!(
                    topic,
                    partition,
                    resume = found.resume,
                    pending = found.pending.len(),
                    watermarks = resume.watermarks.len(),
                    "resuming from checkpoint"
                );
                resumes.insert((topic.clone(), *partition), resume);
            }
            None => without.push((topic.clone(), *partition)),
        }
    }
    let fallback = {
        let (consumer, without) = (consumer.clone(), without.clone());
        blocking(move || consumer::fallback_starts(&consumer, &without)).await?
    };
    let now = chrono::Utc::now().timestamp_millis();
    let mut starts = BTreeMap::new();
    let mut writers = std::collections::HashMap::new();
    for (topic, partition) in &partitions {
        let tp = (topic.clone(), *partition);
        let (start, resume) = match resumes.remove(&tp) {
            Some(resume) => (resume.offset.unwrap_or(0), resume),
            None => (fallback.get(&tp).copied().unwrap_or(0), Resume::default()),
        };
        starts.insert(tp.clone(), start);
        writers.insert(tp, PartitionWriter::new(topic, *partition, start, resume, rotation, now));
    }
    {
        let (consumer, starts) = (consumer.clone(), starts.clone());
        blocking(move || consumer::assign(&consumer, &starts)).await?;
    }
    // The group follows the checkpoints (lag, the offsets API), also when
    // the last commit before a crash did not reach it.
    let from_checkpoints: BTreeMap<(String, i32), i64> =
        starts.iter().filter(|(tp, _)| !without.contains(tp)).map(|(tp, o)| (tp.clone(), *o)).collect();
    if let Err(err) = consumer::commit(&consumer, &from_checkpoints) {
        tracing::warn!(error = %err, "consumer group commit failed; the checkpoints hold the progress");
    }
    tracing::info!(partitions = ?starts, "consuming");
    let dlq = match &spec.errors.dead_letter_queue {
        Some(settings) => {
            let config = consumer::producer_config(&ctx.kafka);
            crate::dlq::ensure_topic(&config, settings).await?;
            Some(Dlq::new(&config, settings, &ctx.connector, ctx.task)?)
        }
        None => None,
    };
    let pipeline = Pipeline {
        consumer: consumer.clone(),
        writers,
        files,
        key_converter: Converter::new(&spec.key_converter),
        value_converter: Converter::new(&spec.value_converter),
        chain: TransformChain::new(&spec.transforms).map_err(|e| SinkError::Config(e.to_string()))?,
        partitioner,
        null_values: sink.null_values.clone(),
        errors: spec.errors.clone(),
        dlq,
        memory: ctx.budget.join(),
        needs_record_time: sink.rotate_interval.is_some(),
        telemetry: crate::telemetry::PipelineTelemetry::new(ctx.metrics.clone()),
    };
    let (pipeline, result) = consume(ctx, pipeline, &owner, &naming, &store, &uploader, cancel).await;
    // Whatever was not committed is read again from the checkpoints.
    if let Some(mut pipeline) = pipeline {
        for writer in pipeline.writers.values_mut() {
            writer.abandon();
        }
    }
    result
}

async fn consume(
    ctx: &TaskContext,
    pipeline: Pipeline,
    owner: &Owner,
    naming: &Naming,
    store: &CheckpointStore,
    uploader: &Uploader,
    cancel: &CancellationToken,
) -> (Option<Pipeline>, Result<()>) {
    // The pipeline moves to a blocking thread for each step and back.
    let mut slot = Some(pipeline);
    let outcome = loop {
        if cancel.is_cancelled() {
            break Ok(());
        }
        let Some(mut moving) = slot.take() else { break Err(SinkError::Config("pipeline lost".into())) };
        let joined = tokio::task::spawn_blocking(move || {
            let wait = moving.step_wait(STEP);
            let result = moving.step(wait).and_then(|stats| {
                if moving.writers.values().any(PartitionWriter::has_closed)
                    && let Some(dlq) = &moving.dlq
                {
                    dlq.flush()?;
                }
                Ok(stats)
            });
            (moving, result)
        })
        .await;
        let (back, result) = match joined {
            Ok(done) => done,
            Err(e) => break Err(SinkError::Spool(std::io::Error::other(format!("worker thread: {e}")))),
        };
        let back = slot.insert(back);
        if let Err(err) = result {
            break Err(err);
        }
        if cancel.is_cancelled() {
            break Ok(());
        }
        if !back.writers.values().any(PartitionWriter::has_closed) {
            continue;
        }
        if let Err(err) = check_lease(ctx).await {
            break Err(err);
        }
        let mut committed = BTreeMap::new();
        let mut failed = None;
        for writer in back.writers.values_mut().filter(|w| w.has_closed()) {
            let closed = writer.take_closed();
            let key = naming.checkpoint_key(&owner.connector, &writer.topic, writer.partition);
            match commit_closed(writer, closed, &key, owner, store, uploader, cancel).await {
                Ok(resume) => {
                    committed.insert((writer.topic.clone(), writer.partition), resume);
                }
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        if let Err(err) = consumer::commit(&back.consumer, &committed) {
            tracing::warn!(error = %err, "consumer group commit failed; the checkpoints hold the progress");
        }
        if let Some(err) = failed {
            break Err(err);
        }
    };
    (slot, outcome)
}

/// Confirms the lease with the control plane before a commit.
async fn check_lease(ctx: &TaskContext) -> Result<()> {
    let task = v1::TaskId { connector: ctx.connector.clone(), task: ctx.task };
    match ctx.lease.check_assignment(task, ctx.epoch).await {
        Ok(()) => Ok(()),
        Err(WorkerError::Rpc { status, .. })
            if matches!(status.code(), tonic::Code::FailedPrecondition | tonic::Code::NotFound) =>
        {
            Err(SinkError::Fenced(format!("the control plane says the task moved: {}", status.message())))
        }
        // The lease itself stops us if the control plane stays away.
        Err(err) => {
            tracing::warn!(error = %err, "cannot confirm the assignment; relying on the lease");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::sink_config as sink;

    #[test]
    fn keys_and_headers_are_taken_and_sse_c_and_tombstone_writing_are_refused() {
        let sidecars = sink(&[
            ("store.kafka.keys", "true"),
            ("keys.format.class", "io.confluent.connect.s3.format.json.JsonFormat"),
            ("store.kafka.headers", "true"),
            ("headers.format.class", "io.confluent.connect.s3.format.parquet.ParquetFormat"),
        ]);
        refuse_unsupported(&sidecars).unwrap();
        let sse_c = refuse_unsupported(&sink(&[("s3.sse.customer.key", "c2VjcmV0")])).unwrap_err();
        assert!(sse_c.to_string().contains("s3.sse.customer.key"), "{sse_c}");
        let tombstones = sink(&[
            ("behavior.on.null.values", "write"),
            ("store.kafka.keys", "true"),
            ("keys.format.class", "io.confluent.connect.s3.format.json.JsonFormat"),
        ]);
        let err = refuse_unsupported(&tombstones).unwrap_err();
        assert!(err.to_string().contains("behavior.on.null.values"), "{err}");
    }
}
