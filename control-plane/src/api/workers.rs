//! `hydrate.v1.WorkerService`: registration, leases and assignments for the
//! data plane. Any replica serves it: all state is in etcd.

use std::pin::Pin;

use hydrate_proto::v1::{self, worker_service_server::WorkerService};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{Role, require};
use crate::error::{Error, Result};
use crate::model::{AssignmentRecord, Kind, RunState, Snapshot, TaskStatusRecord, WorkerRecord};
use crate::store::Store;

/// Longest failure trace a task may report.
const MAX_TRACE_BYTES: usize = 64 * 1024;
/// Most snapshot progress entries in one report (one per table).
const MAX_SNAPSHOTS: usize = 10_000;
/// Longest table name in a snapshot progress entry (a quoted schema and name).
const MAX_TABLE_NAME_BYTES: usize = 512;

/// The worker service over the etcd store.
#[derive(Clone)]
pub struct Workers {
    store: Store,
    lease_ttl_seconds: i64,
}

impl Workers {
    /// Workers get leases of `lease_ttl_seconds`.
    pub fn new(store: Store, lease_ttl_seconds: i64) -> Workers {
        Workers { store, lease_ttl_seconds }
    }

    /// The worker's record, if it is registered under `lease_id`.
    async fn registered(&self, worker_id: &str, lease_id: i64) -> Result<WorkerRecord> {
        check_worker_id(worker_id)?;
        if lease_id == 0 {
            return Err(Error::invalid("lease_id", "must be given: the lease RegisterWorker granted"));
        }
        match self.store.get_worker(worker_id).await? {
            Some(record) if record.lease_id == lease_id => Ok(record),
            _ => Err(Error::NotFound(format!(
                "worker {worker_id} with lease {lease_id:x} (expired or replaced: register again)"
            ))),
        }
    }

    /// The full assignment message for a worker, configs included.
    async fn assignments_message(
        &self,
        records: Vec<AssignmentRecord>,
        revision: i64,
    ) -> Result<v1::WatchAssignmentsResponse> {
        let mut assignments = Vec::with_capacity(records.len());
        for record in records {
            // A connector deleted meanwhile: the leader removes the assignment soon.
            let Some(spec) = self.store.get_spec(&record.connector).await? else {
                continue;
            };
            let mut config = spec.value.config.clone();
            let resources_key = match record.kind {
                Kind::Source => "tables",
                Kind::Sink => "topic.partitions",
            };
            config.insert(resources_key.to_owned(), record.resources.join(","));
            config.insert("task.id".to_owned(), record.task.to_string());
            assignments.push(v1::TaskAssignment {
                task: Some(v1::TaskId { connector: record.connector.clone(), task: record.task }),
                r#type: record.kind.to_proto() as i32,
                epoch: record.epoch,
                config: config.into_iter().collect(),
                resources: record.resources,
                target_state: record.target.to_proto() as i32,
            });
        }
        assignments.sort_by(|a, b| {
            let key = |x: &v1::TaskAssignment| x.task.as_ref().map(|t| (t.connector.clone(), t.task));
            key(a).cmp(&key(b))
        });
        Ok(v1::WatchAssignmentsResponse { revision, assignments })
    }
}

/// The metrics' `type` label of a worker kind.
fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => "source",
        Kind::Sink => "sink",
    }
}

fn check_worker_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("worker_id", "must not be empty"));
    }
    if id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Error::invalid(
            "worker_id",
            "must be 1-128 characters of letters, digits, '.', '_', '-'",
        ));
    }
    Ok(())
}

fn task_of(task: Option<v1::TaskId>) -> Result<(String, u32)> {
    let task = task.ok_or_else(|| Error::invalid("task", "must be given"))?;
    hydrate_common::connect::validate_connector_name(&task.connector)
        .map_err(|reason| Error::invalid("task.connector", reason))?;
    Ok((task.connector, task.task))
}

type AssignmentStream = Pin<Box<dyn Stream<Item = Result<v1::WatchAssignmentsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl WorkerService for Workers {
    async fn register_worker(
        &self,
        request: Request<v1::RegisterWorkerRequest>,
    ) -> Result<Response<v1::RegisterWorkerResponse>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        let kind = Kind::from_proto(req.r#type())
            .ok_or_else(|| Error::invalid("type", "must be CONNECTOR_TYPE_SOURCE or CONNECTOR_TYPE_SINK"))?;
        let worker_id = if req.worker_id.is_empty() {
            format!(
                "{}-{}",
                if kind == Kind::Source { "source" } else { "sink" },
                uuid::Uuid::new_v4().simple()
            )
        } else {
            req.worker_id
        };
        check_worker_id(&worker_id)?;
        if req.address.len() > 512 {
            return Err(Error::invalid("address", "longer than 512 characters").into());
        }
        if req.version.len() > 128 {
            return Err(Error::invalid("version", "longer than 128 characters").into());
        }
        // Re-registering an id replaces the old registration: its lease goes,
        // and with it the old tasks, which move with a new epoch.
        if let Some(old) = self.store.get_worker(&worker_id).await? {
            self.store.revoke(old.lease_id).await?;
        }
        let record = WorkerRecord {
            worker_id,
            kind,
            capacity: req.capacity,
            address: req.address,
            version: req.version,
            lease_id: 0,
        };
        let record = self.store.register_worker(record, self.lease_ttl_seconds).await?;
        hydrate_common::metrics::control_plane().lease_granted(kind_label(record.kind));
        tracing::info!(worker = %record.worker_id, kind = ?record.kind, lease = record.lease_id, "worker registered");
        Ok(Response::new(v1::RegisterWorkerResponse {
            worker_id: record.worker_id,
            lease_id: record.lease_id,
            lease_ttl_seconds: self.lease_ttl_seconds,
        }))
    }

    async fn renew_lease(
        &self,
        request: Request<v1::RenewLeaseRequest>,
    ) -> Result<Response<v1::RenewLeaseResponse>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        let metrics = hydrate_common::metrics::control_plane();
        let renewed = match self.registered(&req.worker_id, req.lease_id).await {
            Ok(record) => self.store.keep_alive(req.lease_id).await.map(|ttl| (record, ttl)),
            Err(err) => Err(err),
        };
        match renewed {
            Ok((record, ttl_seconds)) => {
                metrics.lease_renewed(kind_label(record.kind));
                Ok(Response::new(v1::RenewLeaseResponse { ttl_seconds }))
            }
            Err(err) => {
                if matches!(err, Error::NotFound(_)) {
                    metrics.lease_expired();
                    tracing::warn!(worker = %req.worker_id, lease = req.lease_id, "renewal of an expired lease refused");
                }
                Err(err.into())
            }
        }
    }

    type WatchAssignmentsStream = AssignmentStream;

    async fn watch_assignments(
        &self,
        request: Request<v1::WatchAssignmentsRequest>,
    ) -> Result<Response<AssignmentStream>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        self.registered(&req.worker_id, req.lease_id).await?;
        let keys = self.store.keys().clone();
        let (records, revision) = self.store.assignments_of(&req.worker_id).await?;
        let first = self.assignments_message(records, revision).await?;
        let mut assignments =
            self.store.watch_prefix(&keys.assignments_of(&req.worker_id), revision + 1).await?;
        let mut worker = self.store.watch_prefix(&keys.worker(&req.worker_id), revision + 1).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let _ = tx.send(Ok(first)).await;
        let this = self.clone();
        let (worker_id, lease_id) = (req.worker_id, req.lease_id);
        tokio::spawn(async move {
            loop {
                let changed = tokio::select! {
                    _ = tx.closed() => return,
                    m = assignments.message() => m.map(|r| r.map(|r| r.events().len())),
                    m = worker.message() => m.map(|r| r.map(|r| r.events().len())),
                };
                match changed {
                    Ok(Some(0)) => continue, // the watch's creation confirmation
                    Ok(Some(_)) => {}
                    Ok(None) => return,
                    Err(err) => {
                        let _ = tx.send(Err(Status::from(Error::from(err)))).await;
                        return;
                    }
                }
                let message = async {
                    this.registered(&worker_id, lease_id).await?;
                    let (records, revision) = this.store.assignments_of(&worker_id).await?;
                    this.assignments_message(records, revision).await
                }
                .await;
                let end = message.is_err();
                if tx.send(message.map_err(Status::from)).await.is_err() || end {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn report_task_status(
        &self,
        request: Request<v1::ReportTaskStatusRequest>,
    ) -> Result<Response<v1::ReportTaskStatusResponse>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        let state =
            RunState::from_proto(req.state()).ok_or_else(|| Error::invalid("state", "must be set"))?;
        if req.trace.len() > MAX_TRACE_BYTES {
            return Err(Error::invalid("trace", "longer than 64 KiB").into());
        }
        if req.snapshots.len() > MAX_SNAPSHOTS {
            return Err(Error::invalid("snapshots", format!("more than {MAX_SNAPSHOTS} tables")).into());
        }
        if req.snapshots.iter().any(|s| s.table.is_empty() || s.table.len() > MAX_TABLE_NAME_BYTES) {
            return Err(Error::invalid(
                "snapshots.table",
                format!("must be 1 to {MAX_TABLE_NAME_BYTES} bytes long"),
            )
            .into());
        }
        let (connector, task) = task_of(req.task)?;
        check_worker_id(&req.worker_id)?;
        let worker = self.store.get_worker(&req.worker_id).await?.ok_or_else(|| {
            Error::FailedPrecondition(format!("worker {} is not registered (lease lost)", req.worker_id))
        })?;
        let status = TaskStatusRecord {
            state,
            worker_id: req.worker_id,
            epoch: req.epoch,
            trace: req.trace,
            snapshots: req
                .snapshots
                .into_iter()
                .map(|s| Snapshot {
                    table: s.table,
                    rows_done: s.rows_done,
                    rows_estimated: s.rows_estimated,
                })
                .collect(),
        };
        self.store.report_status(&worker, &connector, task, &status).await?;
        Ok(Response::new(v1::ReportTaskStatusResponse {}))
    }

    async fn check_assignment(
        &self,
        request: Request<v1::CheckAssignmentRequest>,
    ) -> Result<Response<v1::CheckAssignmentResponse>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        let (connector, task) = task_of(req.task)?;
        check_worker_id(&req.worker_id)?;
        self.store.check_assignment(&req.worker_id, &connector, task, req.epoch).await?;
        Ok(Response::new(v1::CheckAssignmentResponse {}))
    }

    async fn deregister_worker(
        &self,
        request: Request<v1::DeregisterWorkerRequest>,
    ) -> Result<Response<v1::DeregisterWorkerResponse>, Status> {
        require(&request, Role::Worker)?;
        let req = request.into_inner();
        self.registered(&req.worker_id, req.lease_id).await?;
        self.store.revoke(req.lease_id).await?;
        tracing::info!(worker = %req.worker_id, "worker deregistered");
        Ok(Response::new(v1::DeregisterWorkerResponse {}))
    }
}
