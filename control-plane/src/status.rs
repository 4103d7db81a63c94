//! Connector and task status, composed from what etcd holds, and its stream
//! of changes.

use std::collections::HashMap;

use hydrate_proto::v1;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::error::{Error, Result};
use crate::model::{RunState, Target};
use crate::store::Store;

/// Reads statuses from the store.
#[derive(Clone)]
pub struct StatusReader {
    store: Store,
}

impl StatusReader {
    /// A reader over `store`.
    pub fn new(store: Store) -> StatusReader {
        StatusReader { store }
    }

    /// The status of connector `name` and of each of its tasks.
    pub async fn read(&self, name: &str) -> Result<v1::ConnectorStatus> {
        let spec = self.store.require_spec(name).await?;
        let target = self.store.get_target(name).await?;
        let own = self.store.get_connector_status(name).await?;
        let tasks = self.store.get_tasks(name).await?.unwrap_or_default();
        let (assignments, _) = self.store.list_assignments().await?;
        let reported: HashMap<u32, _> = self.store.task_statuses(name).await?.into_iter().collect();

        let state = match (target, &own) {
            (Target::Stopped, _) => RunState::Stopped,
            (_, Some(own)) if own.state == RunState::Failed => RunState::Failed,
            (Target::Paused, _) => RunState::Paused,
            (Target::Running, _) => RunState::Running,
        };
        let task_statuses = if target == Target::Stopped {
            Vec::new()
        } else {
            tasks
                .tasks
                .iter()
                .map(|task| {
                    let assignment = assignments
                        .iter()
                        .find(|(_, a)| a.value.connector == name && a.value.task == task.task);
                    let mut status = v1::TaskStatus {
                        id: task.task,
                        state: v1::State::Unassigned as i32,
                        resources: task.resources.clone(),
                        ..Default::default()
                    };
                    if let Some((worker, a)) = assignment {
                        status.worker_id = worker.clone();
                        status.epoch = a.value.epoch;
                        // Only a report under the current epoch counts: an older
                        // owner's last word is not the task's state.
                        if let Some(report) = reported.get(&task.task).filter(|r| r.epoch == a.value.epoch) {
                            status.state = report.state.to_proto() as i32;
                            status.trace = report.trace.clone();
                            status.snapshots = report
                                .snapshots
                                .iter()
                                .map(|s| v1::SnapshotProgress {
                                    table: s.table.clone(),
                                    rows_done: s.rows_done,
                                    rows_estimated: s.rows_estimated,
                                })
                                .collect();
                        }
                    }
                    status
                })
                .collect()
        };
        Ok(v1::ConnectorStatus {
            name: name.to_owned(),
            r#type: spec.value.kind.to_proto() as i32,
            state: state.to_proto() as i32,
            trace: own.map(|o| o.trace).unwrap_or_default(),
            tasks: task_statuses,
            target_state: target.to_proto() as i32,
        })
    }

    /// A stream of status changes: first every matching connector's status,
    /// then one message whenever a connector's status changes.
    pub async fn watch(
        &self,
        filter: Option<String>,
    ) -> Result<ReceiverStream<Result<v1::WatchConnectorStatusResponse, Status>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let (_, revision) =
            self.store.get_prefix::<serde_json::Value>(self.store.keys().connectors().as_str()).await?;
        let mut stream = self.store.watch_prefix(self.store.keys().root(), revision + 1).await?;
        let mut last: HashMap<String, v1::ConnectorStatus> = HashMap::new();
        for (name, _) in self.store.list_specs().await? {
            if filter.as_ref().is_some_and(|f| *f != name) {
                continue;
            }
            let status = self.read(&name).await?;
            last.insert(name, status.clone());
            let _ =
                tx.send(Ok(v1::WatchConnectorStatusResponse { status: Some(status), deleted: false })).await;
        }
        let reader = self.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = tx.closed() => return,
                    message = stream.message() => message,
                };
                let events = match message {
                    Ok(Some(response)) => response,
                    Ok(None) => return,
                    Err(err) => {
                        let _ = tx.send(Err(Status::from(Error::from(err)))).await;
                        return;
                    }
                };
                let mut touched: Vec<String> = Vec::new();
                for event in events.events() {
                    let Some(key) = event.kv().and_then(|kv| kv.key_str().ok()) else {
                        continue;
                    };
                    if let Some(name) = reader.connector_of(key)
                        && filter.as_ref().is_none_or(|f| f == name)
                        && !touched.iter().any(|t| t == name)
                    {
                        touched.push(name.to_owned());
                    }
                }
                for name in touched {
                    let update = match reader.read(&name).await {
                        Ok(status) if last.get(&name) == Some(&status) => continue,
                        Ok(status) => {
                            last.insert(name, status.clone());
                            v1::WatchConnectorStatusResponse { status: Some(status), deleted: false }
                        }
                        Err(Error::NotFound(_)) => {
                            if last.remove(&name).is_none() {
                                continue;
                            }
                            v1::WatchConnectorStatusResponse {
                                status: Some(v1::ConnectorStatus { name, ..Default::default() }),
                                deleted: true,
                            }
                        }
                        Err(err) => {
                            let _ = tx.send(Err(err.into())).await;
                            return;
                        }
                    };
                    if tx.send(Ok(update)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    /// The connector a changed key belongs to, if any.
    fn connector_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        let keys = self.store.keys();
        keys.parse_connector_key(key)
            .map(|(name, _)| name)
            .or_else(|| keys.parse_status(key).map(|(name, _)| name))
            .or_else(|| keys.parse_assignment(key).map(|(_, name, _)| name))
    }
}
