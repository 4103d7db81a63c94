//! The worker: holds a lease, runs one tokio task per assigned source task,
//! reports their states, and starts over with a new lease when it loses
//! one (stopping every task first).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hydrate_common::telemetry::Readiness;
use hydrate_common::worker::{LeaseSession, WorkerError, WorkerOptions, run_leased};
use hydrate_kafka::KafkaClients;
use hydrate_proto::v1;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::task::{self, Report, Snapshots, TaskContext};

/// How often every state is reported even when unchanged.
const REPORT_EVERY: Duration = Duration::from_secs(3);

/// Kafka settings shared by all tasks.
#[derive(Debug, Clone)]
pub struct KafkaRuntime {
    /// Bootstrap servers.
    pub bootstrap: String,
    /// Client settings.
    pub settings: KafkaClients,
}

struct Running {
    assignment: v1::TaskAssignment,
    cancel: CancellationToken,
    handle: Option<JoinHandle<()>>,
    report: watch::Receiver<Report>,
    snapshots: Snapshots,
    last_sent: Option<(Report, Instant)>,
}

/// Registers, follows assignments and re-registers after a lost lease,
/// until `shutdown` fires.
/// `readiness` (the `/readyz` answer) is true while the worker holds a lease.
pub async fn run_worker(
    options: WorkerOptions,
    kafka: KafkaRuntime,
    readiness: Option<Readiness>,
    shutdown: CancellationToken,
) {
    run_leased(&options, readiness.as_ref(), &shutdown, |session| {
        let kafka = &kafka;
        async move { follow(&session, kafka).await }
    })
    .await;
}

type TaskKey = (String, u32);

fn key_of(a: &v1::TaskAssignment) -> Option<TaskKey> {
    a.task.as_ref().map(|t| (t.connector.clone(), t.task))
}

async fn follow(session: &LeaseSession, kafka: &KafkaRuntime) {
    let mut assignments = session.assignments.clone();
    let mut running: HashMap<TaskKey, Running> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = session.lost.cancelled() => break,
            changed = assignments.changed() => {
                if changed.is_err() {
                    break;
                }
                let set = assignments.borrow_and_update().clone();
                reconcile(&mut running, set, kafka, &session.lost);
            }
            _ = tick.tick() => {}
        }
        report(session, &mut running).await;
    }
    // The lease is gone: stop every task before anything else.
    for (_, task) in running.drain() {
        task.cancel.cancel();
        if let Some(handle) = task.handle
            && tokio::time::timeout(Duration::from_secs(30), handle).await.is_err()
        {
            tracing::warn!("a task did not stop within 30 s");
        }
    }
}

fn reconcile(
    running: &mut HashMap<TaskKey, Running>,
    set: Vec<v1::TaskAssignment>,
    kafka: &KafkaRuntime,
    lost: &CancellationToken,
) {
    let wanted: BTreeMap<TaskKey, v1::TaskAssignment> =
        set.into_iter().filter_map(|a| key_of(&a).map(|k| (k, a))).collect();
    running.retain(|key, task| {
        let keep = wanted.get(key).is_some_and(|a| *a == task.assignment);
        if !keep {
            // Removed, moved (new epoch), reconfigured, paused or resumed:
            // the task stops before its next commit.
            tracing::info!(connector = %key.0, task = key.1, "stopping task");
            task.cancel.cancel();
        }
        keep
    });
    for (key, assignment) in wanted {
        if running.contains_key(&key) || assignment.r#type != v1::ConnectorType::Source as i32 {
            continue;
        }
        let paused = assignment.target_state == v1::TargetState::Paused as i32;
        let state = if paused { v1::State::Paused } else { v1::State::Running };
        let (report_tx, report_rx) = watch::channel(Report { state, trace: String::new() });
        let cancel = lost.child_token();
        let snapshots: Snapshots = Arc::new(Mutex::new(BTreeMap::new()));
        let handle = (!paused).then(|| {
            tracing::info!(connector = %key.0, task = key.1, epoch = assignment.epoch, "starting task");
            let ctx = TaskContext {
                connector: key.0.clone(),
                task: key.1,
                config: assignment.config.clone().into_iter().collect(),
                bootstrap: kafka.bootstrap.clone(),
                kafka: kafka.settings.clone(),
                cancel: cancel.clone(),
                report: report_tx,
                snapshots: snapshots.clone(),
            };
            tokio::spawn(task::run(ctx))
        });
        running.insert(
            key,
            Running { assignment, cancel, handle, report: report_rx, snapshots, last_sent: None },
        );
    }
}

async fn report(session: &LeaseSession, running: &mut HashMap<TaskKey, Running>) {
    for task in running.values_mut() {
        let current = task.report.borrow().clone();
        let due = match &task.last_sent {
            None => true,
            Some((sent, at)) => *sent != current || at.elapsed() >= REPORT_EVERY,
        };
        if !due {
            continue;
        }
        let snapshots = task
            .snapshots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(table, p)| v1::SnapshotProgress {
                table: table.clone(),
                rows_done: p.rows_done.load(std::sync::atomic::Ordering::Relaxed),
                rows_estimated: p.rows_estimated.load(std::sync::atomic::Ordering::Relaxed),
            })
            .collect();
        let request = v1::ReportTaskStatusRequest {
            task: task.assignment.task.clone(),
            epoch: task.assignment.epoch,
            state: current.state as i32,
            trace: current.trace.clone(),
            snapshots,
            ..Default::default()
        };
        match session.report(request).await {
            Ok(()) => task.last_sent = Some((current, Instant::now())),
            Err(WorkerError::Rpc { status, .. }) if status.code() == tonic::Code::FailedPrecondition => {
                // A newer owner holds the task: stop writing at once.
                tracing::warn!(error = %status.message(), "task epoch is stale; stopping it");
                task.cancel.cancel();
                task.last_sent = Some((current, Instant::now()));
            }
            Err(err) => tracing::warn!(error = %err, "status report failed"),
        }
    }
}
