//! The leader's reconcile loop: connectors into tasks, tasks onto workers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hydrate_common::metrics::{self, Stage};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::Result;
use crate::kafka::TopicSource;
use crate::model::{ConnectorStatusRecord, Kind, RestartRequest, RunState, StoredSpec, Target, TaskSet};
use crate::placement::{Current, Move, WantedConnector, plan};
use crate::store::{Store, Versioned};
use crate::tasks::{TopicPartitions, plan_tasks};

/// How often the leader reconciles even when etcd reports no change (new
/// Kafka topics are only seen this way).
const RESYNC: Duration = Duration::from_secs(3);

/// Runs the reconcile loop until `cancel` fires (leadership lost or shutdown).
pub async fn run(store: Store, topics: Arc<dyn TopicSource>, cancel: CancellationToken) {
    let mut last_topics = TopicPartitions::new();
    loop {
        let span = tracing::info_span!("control_plane.reconcile");
        if let Err(err) = reconcile(&store, topics.as_ref(), &mut last_topics).instrument(span).await {
            metrics::control_plane().error(Stage::Schedule);
            tracing::warn!(error = %err, "reconcile failed; retrying");
        }
        // Wake on any change under the prefix but task statuses (workers
        // report often; statuses never change the plan), or on the resync tick.
        let watch = store.watch_prefix(store.keys().root(), 0);
        let mut stream = match tokio::time::timeout(RESYNC, watch).await {
            Ok(Ok(stream)) => Some(stream),
            _ => None,
        };
        let deadline = tokio::time::sleep(RESYNC);
        tokio::pin!(deadline);
        loop {
            let event = async {
                match stream.as_mut() {
                    Some(s) => s.message().await.ok().flatten(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut deadline => break,
                message = event => match message {
                    Some(response) => {
                        let statuses = store.keys().statuses();
                        let relevant = response.events().iter().any(|e| {
                            e.kv().and_then(|kv| kv.key_str().ok()).is_some_and(|k| !k.starts_with(&statuses))
                        });
                        if relevant {
                            break;
                        }
                    }
                    None => stream = None,
                },
            }
        }
    }
}

/// Everything stored under `connectors/<name>/`.
#[derive(Default)]
struct ConnectorState {
    spec: Option<Versioned<StoredSpec>>,
    target: Option<Target>,
    tasks: Option<TaskSet>,
    status: Option<ConnectorStatusRecord>,
    restart: Option<Versioned<RestartRequest>>,
}

async fn read_connectors(store: &Store) -> Result<BTreeMap<String, ConnectorState>> {
    let (entries, _) = store.get_prefix::<serde_json::Value>(&store.keys().connectors()).await?;
    let mut out: BTreeMap<String, ConnectorState> = BTreeMap::new();
    for (key, value) in entries {
        let Some((name, what)) = store.keys().parse_connector_key(&key) else {
            continue;
        };
        let state = out.entry(name.to_owned()).or_default();
        let revision = value.revision;
        match what {
            "spec" => state.spec = Some(Versioned { value: serde_json::from_value(value.value)?, revision }),
            "target" => state.target = Some(serde_json::from_value(value.value)?),
            "tasks" => state.tasks = Some(serde_json::from_value(value.value)?),
            "status" => state.status = Some(serde_json::from_value(value.value)?),
            "restart" => {
                state.restart = Some(Versioned { value: serde_json::from_value(value.value)?, revision })
            }
            _ => {}
        }
    }
    Ok(out)
}

/// One pass: generate tasks, plan placement, apply the moves.
pub async fn reconcile(
    store: &Store,
    topics: &dyn TopicSource,
    last_topics: &mut TopicPartitions,
) -> Result<()> {
    let connectors = read_connectors(store).await?;
    let needs_topics =
        connectors.values().any(|c| c.spec.as_ref().is_some_and(|s| s.value.kind == Kind::Sink));
    if needs_topics {
        match topics.topics().await {
            Ok(found) => *last_topics = found,
            // Keep the last view: a Kafka hiccup must not unassign every sink.
            Err(err) => {
                tracing::warn!(error = %err, "cannot read Kafka topics; keeping the last view")
            }
        }
    }

    let mut wanted = Vec::new();
    for (name, state) in &connectors {
        let Some(spec) = &state.spec else { continue };
        let target = state.target.unwrap_or(Target::Running);
        let tasks = match plan_tasks(spec.value.kind, &spec.value.config, last_topics) {
            Ok(tasks) => {
                let set = TaskSet { spec_revision: spec.revision, tasks };
                if state.tasks.as_ref() != Some(&set) && store.put_tasks(name, &set).await? {
                    tracing::info!(connector = %name, tasks = set.tasks.len(), "tasks generated");
                }
                if state.status.as_ref().is_some_and(|s| s.state == RunState::Failed) {
                    let running = ConnectorStatusRecord { state: RunState::Running, trace: String::new() };
                    store.put_connector_status(name, &running).await?;
                }
                set.tasks
            }
            Err(reason) => {
                tracing::warn!(connector = %name, error = %reason, "cannot generate tasks");
                let failed = ConnectorStatusRecord { state: RunState::Failed, trace: reason };
                if state.status.as_ref() != Some(&failed) {
                    store.put_connector_status(name, &failed).await?;
                }
                state.tasks.clone().map(|t| t.tasks).unwrap_or_default()
            }
        };
        let restart: HashSet<u32> =
            state.restart.iter().flat_map(|r| r.value.tasks.iter().copied()).collect();
        wanted.push(WantedConnector {
            name: name.clone(),
            kind: spec.value.kind,
            target,
            spec_revision: spec.revision,
            tasks,
            restart,
        });
    }

    let workers = store.list_workers().await?;
    let (assigned, _) = store.list_assignments().await?;
    let current: Vec<Current> = assigned
        .into_iter()
        .map(|(worker, a)| Current { worker, record: a.value, revision: a.revision })
        .collect();
    let by_id: HashMap<&str, _> = workers.iter().map(|w| (w.worker_id.as_str(), w)).collect();

    for step in plan(&wanted, &workers, &current) {
        match step {
            Move::Assign { worker, previous, mut record } => {
                let Some(owner) = by_id.get(worker.as_str()) else {
                    continue;
                };
                let (epoch, epoch_revision) = store.epoch(&record.connector, record.task).await?;
                record.epoch = epoch + 1;
                if store.assign(owner, &record, epoch_revision, previous.as_deref()).await? {
                    metrics::control_plane().assignment_changed("assign");
                    tracing::info!(
                        connector = %record.connector,
                        task = record.task,
                        worker = %worker,
                        epoch = record.epoch,
                        previous = ?previous,
                        "task assigned"
                    );
                }
            }
            Move::Update { worker, record, revision } => {
                let Some(owner) = by_id.get(worker.as_str()) else {
                    continue;
                };
                store.update_assignment(&worker, owner.lease_id, &record, revision).await?;
                metrics::control_plane().assignment_changed("update");
            }
            Move::Unassign { worker, connector, task } => {
                store.unassign(&worker, &connector, task).await?;
                metrics::control_plane().assignment_changed("unassign");
                tracing::info!(connector = %connector, task, worker = %worker, "task unassigned");
            }
        }
    }
    // Restart requests are done once their moves are written.
    for (name, state) in &connectors {
        if let Some(restart) = &state.restart {
            store.clear_restart(name, restart.revision).await?;
        }
    }
    Ok(())
}
