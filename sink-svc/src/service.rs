//! The worker: registers with the control plane, follows its lease and
//! assignments, runs one task per assignment with its own cancellation
//! token, and reports each task's state on change and every few seconds.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrate_common::telemetry::Readiness;
use hydrate_common::worker::{LeaseSession, WorkerError, WorkerOptions, run_leased};
use hydrate_kafka::KafkaClients;
use hydrate_proto::v1;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::SinkError;
use crate::memory::MemoryBudget;
use crate::segment::WriterFactory;
use crate::task::{self, TaskContext};

/// How often every task's state is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(3);
/// How long a stopping task may take to finish its current step.
const STOP_WAIT: Duration = Duration::from_secs(30);

type TaskKey = (String, u32);

/// What the service shares with all its tasks.
#[derive(Clone)]
pub struct Shared {
    /// Kafka client settings.
    pub kafka: KafkaClients,
    /// Spool root.
    pub spool_root: PathBuf,
    /// Memory budget.
    pub budget: Arc<MemoryBudget>,
    /// Upload limit.
    pub upload_permits: Arc<Semaphore>,
    /// Format writers.
    pub open_writer: WriterFactory,
}

#[derive(Debug, Clone)]
struct Status {
    task: v1::TaskId,
    epoch: u64,
    state: v1::State,
    trace: String,
}

#[derive(Default)]
struct Board {
    statuses: Mutex<HashMap<TaskKey, Status>>,
    changed: Notify,
}

impl Board {
    fn set(&self, key: &TaskKey, status: Option<Status>) {
        if let Ok(mut statuses) = self.statuses.lock() {
            match status {
                Some(s) => statuses.insert(key.clone(), s),
                None => statuses.remove(key),
            };
        }
        self.changed.notify_one();
    }

    fn snapshot(&self) -> Vec<Status> {
        self.statuses.lock().map(|s| s.values().cloned().collect()).unwrap_or_default()
    }
}

struct Running {
    assignment: v1::TaskAssignment,
    cancel: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

/// Runs the worker until `shutdown` fires; `readiness` (the `/readyz`
/// answer) is true while it holds a lease.
pub async fn run(
    options: WorkerOptions,
    shared: Shared,
    readiness: Option<Readiness>,
    shutdown: CancellationToken,
) {
    run_leased(&options, readiness.as_ref(), &shutdown, |session| {
        let shared = &shared;
        async move { supervise(&session, shared).await }
    })
    .await;
}

async fn supervise(session: &Arc<LeaseSession>, shared: &Shared) {
    let board = Arc::new(Board::default());
    let mut running: HashMap<TaskKey, Running> = HashMap::new();
    let mut assignments = session.assignments.clone();
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        tokio::select! {
            _ = session.lost.cancelled() => break,
            changed = assignments.changed() => {
                if changed.is_err() {
                    break;
                }
                let set = assignments.borrow_and_update().clone();
                apply(session, shared, &board, &mut running, set).await;
            }
            _ = tick.tick() => report(session, &board).await,
            _ = board.changed.notified() => report(session, &board).await,
        }
    }
    // Lost or shutting down: every task stops before anything else happens.
    for (_, task) in running.drain() {
        stop(task).await;
    }
}

fn task_key(a: &v1::TaskAssignment) -> Option<TaskKey> {
    a.task.as_ref().map(|t| (t.connector.clone(), t.task))
}

async fn stop(mut task: Running) {
    task.cancel.cancel();
    if let Some(handle) = task.handle.take()
        && tokio::time::timeout(STOP_WAIT, handle).await.is_err()
    {
        tracing::warn!("task did not stop in time");
    }
}

async fn apply(
    session: &Arc<LeaseSession>,
    shared: &Shared,
    board: &Arc<Board>,
    running: &mut HashMap<TaskKey, Running>,
    set: Vec<v1::TaskAssignment>,
) {
    let wanted: HashMap<TaskKey, v1::TaskAssignment> = set
        .into_iter()
        .filter(|a| a.r#type == v1::ConnectorType::Sink as i32)
        .filter_map(|a| Some((task_key(&a)?, a)))
        .collect();
    let stale: Vec<TaskKey> = running
        .iter()
        .filter(|(key, r)| wanted.get(*key).is_none_or(|a| *a != r.assignment))
        .map(|(key, _)| key.clone())
        .collect();
    for key in stale {
        if let Some(task) = running.remove(&key) {
            tracing::info!(connector = %key.0, task = key.1, epoch = task.assignment.epoch, "stopping task");
            stop(task).await;
            board.set(&key, None);
        }
    }
    for (key, assignment) in wanted {
        if running.contains_key(&key) {
            continue;
        }
        let Some(task_id) = assignment.task.clone() else { continue };
        let cancel = session.lost.child_token();
        let status =
            |state, trace: String| Status { task: task_id.clone(), epoch: assignment.epoch, state, trace };
        let handle = if assignment.target_state == v1::TargetState::Paused as i32 {
            board.set(&key, Some(status(v1::State::Paused, String::new())));
            None
        } else {
            board.set(&key, Some(status(v1::State::Running, String::new())));
            Some(spawn_task(session, shared, board, &key, &assignment, cancel.clone()))
        };
        running.insert(key, Running { assignment, cancel, handle });
    }
}

fn spawn_task(
    session: &Arc<LeaseSession>,
    shared: &Shared,
    board: &Arc<Board>,
    key: &TaskKey,
    assignment: &v1::TaskAssignment,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let ctx = TaskContext {
        connector: key.0.clone(),
        task: key.1,
        epoch: assignment.epoch,
        config: assignment.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>(),
        resources: assignment.resources.clone(),
        kafka: shared.kafka.clone(),
        spool_root: shared.spool_root.clone(),
        budget: shared.budget.clone(),
        upload_permits: shared.upload_permits.clone(),
        lease: session.clone(),
        open_writer: shared.open_writer.clone(),
        metrics: hydrate_common::metrics::sink().task(&key.0, key.1),
    };
    let metrics = ctx.metrics.clone();
    let (board, key) = (board.clone(), key.clone());
    let (task_id, epoch) = (assignment.task.clone().unwrap_or_default(), assignment.epoch);
    let span = tracing::info_span!("sink_task", connector = %key.0, task = key.1, epoch);
    tracing::info!(parent: &span, partitions = ?assignment.resources, "starting task");
    tokio::spawn(
        async move {
            match task::run(ctx, cancel.clone()).await {
                Ok(()) => tracing::info!("task stopped"),
                Err(SinkError::Fenced(reason)) => {
                    tracing::warn!(reason = %reason, "task fenced; stopped writing")
                }
                Err(err) => {
                    tracing::error!(error = %err, "task failed");
                    board.set(
                        &key,
                        Some(Status {
                            task: task_id,
                            epoch,
                            state: v1::State::Failed,
                            trace: err.to_string(),
                        }),
                    );
                    // A failed task's series (its errors) stay until it is stopped.
                    cancel.cancelled().await;
                }
            }
            metrics.remove();
        }
        .instrument(span),
    )
}

async fn report(session: &LeaseSession, board: &Board) {
    for status in board.snapshot() {
        let request = v1::ReportTaskStatusRequest {
            task: Some(status.task.clone()),
            epoch: status.epoch,
            state: status.state as i32,
            trace: status.trace.clone(),
            ..Default::default()
        };
        match session.report(request).await {
            Ok(()) => {}
            Err(WorkerError::Rpc { status: s, .. }) if s.code() == tonic::Code::FailedPrecondition => {
                tracing::debug!(task = status.task.task, "status of an old epoch refused")
            }
            Err(err) => tracing::warn!(error = %err, "status report failed"),
        }
    }
}
