//! Durable control-plane state in etcd, with compare-and-swap on revisions.
//!
//! Every call is bounded by a timeout, so an unreachable etcd turns into
//! `Error::Unavailable` promptly instead of a hung RPC.

use std::future::Future;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, KeyValue, PutOptions, Txn, TxnOp, WatchOptions,
    WatchStream,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::keys::Keys;
use crate::model::{
    AssignmentRecord, ConnectorStatusRecord, RestartRequest, StoredSpec, Target, TaskSet, TaskStatusRecord,
    WorkerRecord,
};

/// How long one etcd call may take before the caller gets UNAVAILABLE.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A value read from etcd with the revision it was last modified at.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The decoded value.
    pub value: T,
    /// etcd's mod revision of the key, for compare-and-swap.
    pub revision: i64,
}

/// What a put of a connector spec did.
#[derive(Debug, Clone, Copy)]
pub struct PutOutcome {
    /// The connector did not exist before.
    pub created: bool,
    /// The stored config changed.
    pub changed: bool,
    /// The spec's revision after the put.
    pub revision: i64,
}

/// The revision a spec write expects to replace.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Whatever is stored now (read, then compare-and-swap on what was read).
    Current,
    /// The connector must not exist.
    Absent,
    /// The stored spec must have exactly this revision.
    Revision(i64),
}

/// The control plane's etcd store.
#[derive(Clone)]
pub struct Store {
    client: Client,
    keys: Keys,
    endpoints: Vec<String>,
}

/// Runs one etcd call with the store's timeout.
async fn call<T>(fut: impl Future<Output = Result<T, etcd_client::Error>>) -> Result<T> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(result) => result.map_err(Error::from),
        Err(_) => Err(Error::Unavailable(format!("etcd did not answer within {CALL_TIMEOUT:?}"))),
    }
}

fn decode<T: DeserializeOwned>(kv: &KeyValue) -> Result<Versioned<T>> {
    Ok(Versioned { value: serde_json::from_slice(kv.value())?, revision: kv.mod_revision() })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Internal(format!("encode: {e}")))
}

impl Store {
    /// Connects to etcd. Connection is lazy in the sense that a down etcd
    /// fails later calls with UNAVAILABLE rather than this one hanging.
    pub async fn connect(endpoints: &[String], keys: Keys) -> Result<Store> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_timeout(CALL_TIMEOUT)
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        let client = call(Client::connect(endpoints, Some(options))).await?;
        Ok(Store { client, keys, endpoints: endpoints.to_vec() })
    }

    /// A client without the per-call timeout, for calls that block by
    /// design (an election campaign waits until this replica leads).
    pub async fn blocking_client(&self) -> Result<Client> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
            .with_keep_alive_while_idle(true);
        call(Client::connect(&self.endpoints, Some(options))).await
    }

    /// Whether etcd answers now: a count-only read under the prefix, bounded
    /// by `within`.
    pub async fn ping(&self, within: Duration) -> Result<()> {
        let mut client = self.client.clone();
        let read = client.get(self.keys.root(), Some(GetOptions::new().with_prefix().with_count_only()));
        match tokio::time::timeout(within, read).await {
            Ok(result) => result.map(|_| ()).map_err(Error::from),
            Err(_) => Err(Error::Unavailable(format!("etcd did not answer within {within:?}"))),
        }
    }

    /// The key layout.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn get_one<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Versioned<T>>> {
        let mut client = self.client.clone();
        let response = call(client.get(key, None)).await?;
        response.kvs().first().map(decode).transpose()
    }

    /// Every key under `prefix`, decoded, with the store revision of the read.
    pub async fn get_prefix<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<(Vec<(String, Versioned<T>)>, i64)> {
        let mut client = self.client.clone();
        let response = call(client.get(prefix, Some(GetOptions::new().with_prefix()))).await?;
        let revision = response.header().map(|h| h.revision()).unwrap_or_default();
        let mut out = Vec::with_capacity(response.kvs().len());
        for kv in response.kvs() {
            let key = kv.key_str().map_err(|e| Error::Internal(e.to_string()))?;
            out.push((key.to_owned(), decode(kv)?));
        }
        Ok((out, revision))
    }

    // ---- connectors ----

    /// Creates or replaces a connector's spec. A new connector starts
    /// RUNNING. Fails with `Conflict` when the spec changed since it was read
    /// (or since `Expect::Revision`), so concurrent writers never silently
    /// overwrite each other.
    pub async fn put_spec(&self, name: &str, spec: &StoredSpec, expect: Expect) -> Result<PutOutcome> {
        let key = self.keys.spec(name);
        let current: Option<Versioned<StoredSpec>> = self.get_one(&key).await?;
        let compare = match (expect, &current) {
            (Expect::Absent, Some(_)) => {
                return Err(Error::AlreadyExists(format!("connector {name}")));
            }
            (Expect::Revision(want), Some(cur)) if cur.revision != want => {
                return Err(Error::Conflict(format!(
                    "connector {name} is at revision {}, not {want}",
                    cur.revision
                )));
            }
            (Expect::Revision(want), None) => {
                return Err(Error::Conflict(format!(
                    "connector {name} does not exist (expected revision {want})"
                )));
            }
            (_, Some(cur)) => Compare::mod_revision(key.as_str(), CompareOp::Equal, cur.revision),
            (_, None) => Compare::version(key.as_str(), CompareOp::Equal, 0),
        };
        if let Some(cur) = &current
            && cur.value == *spec
        {
            return Ok(PutOutcome { created: false, changed: false, revision: cur.revision });
        }
        let mut ops = vec![TxnOp::put(key.as_str(), encode(spec)?, None)];
        if current.is_none() {
            ops.push(TxnOp::put(self.keys.target(name), encode(&Target::Running)?, None));
            // A connector re-created under an old name must not inherit the
            // old one's status.
            ops.push(TxnOp::delete(self.keys.connector_status(name), None));
        }
        let txn = Txn::new().when(vec![compare]).and_then(ops);
        let mut client = self.client.clone();
        let response = call(client.txn(txn)).await?;
        if !response.succeeded() {
            return Err(Error::Conflict(format!(
                "connector {name} was changed by another request meanwhile; read it again and retry"
            )));
        }
        let revision = response.header().map(|h| h.revision()).unwrap_or_default();
        Ok(PutOutcome { created: current.is_none(), changed: true, revision })
    }

    /// One connector's spec.
    pub async fn get_spec(&self, name: &str) -> Result<Option<Versioned<StoredSpec>>> {
        self.get_one(&self.keys.spec(name)).await
    }

    /// One connector's spec, or NOT_FOUND.
    pub async fn require_spec(&self, name: &str) -> Result<Versioned<StoredSpec>> {
        self.get_spec(name).await?.ok_or_else(|| Error::NotFound(format!("connector {name}")))
    }

    /// Every connector's spec, by name.
    pub async fn list_specs(&self) -> Result<Vec<(String, Versioned<StoredSpec>)>> {
        let (entries, _) = self.get_prefix::<serde_json::Value>(&self.keys.connectors()).await?;
        let mut specs = Vec::new();
        for (key, value) in entries {
            if let Some((name, "spec")) = self.keys.parse_connector_key(&key) {
                let spec: StoredSpec = serde_json::from_value(value.value)?;
                specs.push((name.to_owned(), Versioned { value: spec, revision: value.revision }));
            }
        }
        specs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(specs)
    }

    /// Deletes a connector's spec, target, tasks and statuses. Epoch counters
    /// stay, so a connector re-created under the same name keeps fencing
    /// anything the old one left running.
    pub async fn delete_connector(&self, name: &str) -> Result<()> {
        let key = self.keys.spec(name);
        let txn =
            Txn::new().when(vec![Compare::version(key.as_str(), CompareOp::Greater, 0)]).and_then(vec![
                TxnOp::delete(
                    self.keys.connector(name),
                    Some(etcd_client::DeleteOptions::new().with_prefix()),
                ),
                TxnOp::delete(
                    self.keys.statuses_of(name),
                    Some(etcd_client::DeleteOptions::new().with_prefix()),
                ),
            ]);
        let mut client = self.client.clone();
        let response = call(client.txn(txn)).await?;
        if !response.succeeded() {
            return Err(Error::NotFound(format!("connector {name}")));
        }
        Ok(())
    }

    /// A connector's target state (RUNNING when never set).
    pub async fn get_target(&self, name: &str) -> Result<Target> {
        Ok(self.get_one::<Target>(&self.keys.target(name)).await?.map(|v| v.value).unwrap_or(Target::Running))
    }

    /// Sets a connector's target state; NOT_FOUND when it does not exist.
    pub async fn set_target(&self, name: &str, target: Target) -> Result<()> {
        let spec = self.keys.spec(name);
        let txn = Txn::new()
            .when(vec![Compare::version(spec.as_str(), CompareOp::Greater, 0)])
            .and_then(vec![TxnOp::put(self.keys.target(name), encode(&target)?, None)]);
        let mut client = self.client.clone();
        if !call(client.txn(txn)).await?.succeeded() {
            return Err(Error::NotFound(format!("connector {name}")));
        }
        Ok(())
    }

    /// A connector's generated tasks, if the leader made them yet.
    pub async fn get_tasks(&self, name: &str) -> Result<Option<TaskSet>> {
        Ok(self.get_one(&self.keys.tasks(name)).await?.map(|v| v.value))
    }

    /// Stores a connector's tasks, only while its spec is still at
    /// `spec_revision` (a newer config must not get stale tasks).
    pub async fn put_tasks(&self, name: &str, tasks: &TaskSet) -> Result<bool> {
        let spec = self.keys.spec(name);
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(spec.as_str(), CompareOp::Equal, tasks.spec_revision)])
            .and_then(vec![TxnOp::put(self.keys.tasks(name), encode(tasks)?, None)]);
        let mut client = self.client.clone();
        Ok(call(client.txn(txn)).await?.succeeded())
    }

    /// Records a restart request for the leader, while the connector exists.
    pub async fn request_restart(&self, name: &str, request: &RestartRequest) -> Result<()> {
        let spec = self.keys.spec(name);
        let txn = Txn::new()
            .when(vec![Compare::version(spec.as_str(), CompareOp::Greater, 0)])
            .and_then(vec![TxnOp::put(self.keys.restart(name), encode(request)?, None)]);
        let mut client = self.client.clone();
        if !call(client.txn(txn)).await?.succeeded() {
            return Err(Error::NotFound(format!("connector {name}")));
        }
        Ok(())
    }

    /// Removes a restart request once handled, if it is still the one read.
    pub async fn clear_restart(&self, name: &str, revision: i64) -> Result<()> {
        let key = self.keys.restart(name);
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(key.as_str(), CompareOp::Equal, revision)])
            .and_then(vec![TxnOp::delete(key.as_str(), None)]);
        let mut client = self.client.clone();
        call(client.txn(txn)).await?;
        Ok(())
    }

    /// The connector's own status, if set.
    pub async fn get_connector_status(&self, name: &str) -> Result<Option<ConnectorStatusRecord>> {
        Ok(self.get_one(&self.keys.connector_status(name)).await?.map(|v| v.value))
    }

    /// Sets the connector's own status, while the connector exists.
    pub async fn put_connector_status(&self, name: &str, status: &ConnectorStatusRecord) -> Result<()> {
        let spec = self.keys.spec(name);
        let txn = Txn::new()
            .when(vec![Compare::version(spec.as_str(), CompareOp::Greater, 0)])
            .and_then(vec![TxnOp::put(self.keys.connector_status(name), encode(status)?, None)]);
        let mut client = self.client.clone();
        call(client.txn(txn)).await?;
        Ok(())
    }

    /// Every task status of one connector, by task number.
    pub async fn task_statuses(&self, name: &str) -> Result<Vec<(u32, TaskStatusRecord)>> {
        let (entries, _) = self.get_prefix::<TaskStatusRecord>(&self.keys.statuses_of(name)).await?;
        let mut out: Vec<(u32, TaskStatusRecord)> = entries
            .into_iter()
            .filter_map(|(key, v)| self.keys.parse_status(&key).map(|(_, task)| (task, v.value)))
            .collect();
        out.sort_by_key(|(task, _)| *task);
        Ok(out)
    }

    // ---- workers, assignments, statuses ----

    /// Grants a lease and registers the worker under it.
    pub async fn register_worker(&self, mut record: WorkerRecord, ttl_seconds: i64) -> Result<WorkerRecord> {
        let mut client = self.client.clone();
        let lease = call(client.lease_grant(ttl_seconds, None)).await?;
        record.lease_id = lease.id();
        let put = PutOptions::new().with_lease(lease.id());
        call(client.put(self.keys.worker(&record.worker_id), encode(&record)?, Some(put))).await?;
        Ok(record)
    }

    /// Renews a lease once; NOT_FOUND when it has expired.
    pub async fn keep_alive(&self, lease_id: i64) -> Result<i64> {
        let mut client = self.client.clone();
        let (mut keeper, mut stream) = call(client.lease_keep_alive(lease_id)).await?;
        call(keeper.keep_alive()).await?;
        let response = call(stream.message())
            .await?
            .ok_or_else(|| Error::Unavailable("etcd closed the keep-alive stream".into()))?;
        if response.ttl() <= 0 {
            return Err(Error::NotFound(format!("lease {lease_id:x} (expired)")));
        }
        Ok(response.ttl())
    }

    /// Revokes a lease, deleting every key attached to it.
    pub async fn revoke(&self, lease_id: i64) -> Result<()> {
        let mut client = self.client.clone();
        match call(client.lease_revoke(lease_id)).await {
            Ok(_) => Ok(()),
            // Already gone is what the caller wanted.
            Err(Error::Unavailable(msg)) if msg.contains("not found") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// One registered worker.
    pub async fn get_worker(&self, worker_id: &str) -> Result<Option<WorkerRecord>> {
        Ok(self.get_one(&self.keys.worker(worker_id)).await?.map(|v| v.value))
    }

    /// Every live worker.
    pub async fn list_workers(&self) -> Result<Vec<WorkerRecord>> {
        let (entries, _) = self.get_prefix::<WorkerRecord>(&self.keys.workers()).await?;
        Ok(entries.into_iter().map(|(_, v)| v.value).collect())
    }

    /// Every assignment: (worker, record, mod revision), with the read revision.
    pub async fn list_assignments(&self) -> Result<(Vec<(String, Versioned<AssignmentRecord>)>, i64)> {
        let (entries, revision) = self.get_prefix::<AssignmentRecord>(&self.keys.assignments()).await?;
        let out = entries
            .into_iter()
            .filter_map(|(key, v)| {
                self.keys.parse_assignment(&key).map(|(worker, _, _)| (worker.to_owned(), v))
            })
            .collect();
        Ok((out, revision))
    }

    /// One worker's assignments, with the read revision.
    pub async fn assignments_of(&self, worker_id: &str) -> Result<(Vec<AssignmentRecord>, i64)> {
        let (entries, revision) =
            self.get_prefix::<AssignmentRecord>(&self.keys.assignments_of(worker_id)).await?;
        Ok((entries.into_iter().map(|(_, v)| v.value).collect(), revision))
    }

    /// The last epoch handed out for a task, with its mod revision (0 when none).
    pub async fn epoch(&self, name: &str, task: u32) -> Result<(u64, i64)> {
        Ok(self
            .get_one::<u64>(&self.keys.epoch(name, task))
            .await?
            .map(|v| (v.value, v.revision))
            .unwrap_or((0, 0)))
    }

    /// Atomically: bumps the task's epoch (if it is still at `epoch_revision`),
    /// removes the task's previous assignment key (if given), and assigns it
    /// to `worker` under the worker's lease. False when someone else moved first.
    pub async fn assign(
        &self,
        worker: &WorkerRecord,
        record: &AssignmentRecord,
        epoch_revision: i64,
        previous_worker: Option<&str>,
    ) -> Result<bool> {
        let epoch_key = self.keys.epoch(&record.connector, record.task);
        let mut ops = Vec::new();
        // Same worker: the put below replaces the key (etcd refuses a
        // transaction that touches one key twice).
        if let Some(previous) = previous_worker.filter(|p| *p != worker.worker_id) {
            ops.push(TxnOp::delete(self.keys.assignment(previous, &record.connector, record.task), None));
        }
        ops.push(TxnOp::put(epoch_key.as_str(), encode(&record.epoch)?, None));
        ops.push(TxnOp::put(
            self.keys.assignment(&worker.worker_id, &record.connector, record.task),
            encode(record)?,
            Some(PutOptions::new().with_lease(worker.lease_id)),
        ));
        let txn = Txn::new()
            .when(vec![
                Compare::mod_revision(epoch_key.as_str(), CompareOp::Equal, epoch_revision),
                // The worker must still be alive (its key exists under its lease).
                Compare::lease(self.keys.worker(&worker.worker_id), CompareOp::Equal, worker.lease_id),
            ])
            .and_then(ops);
        let mut client = self.client.clone();
        Ok(call(client.txn(txn)).await?.succeeded())
    }

    /// Rewrites an assignment in place (same epoch), e.g. to pause it, if it
    /// is still at `revision`.
    pub async fn update_assignment(
        &self,
        worker: &str,
        lease_id: i64,
        record: &AssignmentRecord,
        revision: i64,
    ) -> Result<bool> {
        let key = self.keys.assignment(worker, &record.connector, record.task);
        let txn =
            Txn::new().when(vec![Compare::mod_revision(key.as_str(), CompareOp::Equal, revision)]).and_then(
                vec![TxnOp::put(key.as_str(), encode(record)?, Some(PutOptions::new().with_lease(lease_id)))],
            );
        let mut client = self.client.clone();
        Ok(call(client.txn(txn)).await?.succeeded())
    }

    /// Removes an assignment (and the task's status).
    pub async fn unassign(&self, worker: &str, name: &str, task: u32) -> Result<()> {
        let txn = Txn::new().and_then(vec![
            TxnOp::delete(self.keys.assignment(worker, name, task), None),
            TxnOp::delete(self.keys.status(name, task), None),
        ]);
        let mut client = self.client.clone();
        call(client.txn(txn)).await?;
        Ok(())
    }

    /// Records a task's status if `worker` holds the task at `epoch`;
    /// FAILED_PRECONDITION otherwise. The status lives under the worker's
    /// lease, so it vanishes with the worker.
    pub async fn report_status(
        &self,
        worker: &WorkerRecord,
        name: &str,
        task: u32,
        status: &TaskStatusRecord,
    ) -> Result<()> {
        let assignment = self.check_assignment(&worker.worker_id, name, task, status.epoch).await?;
        let key = self.keys.assignment(&worker.worker_id, name, task);
        let txn = Txn::new()
            .when(vec![Compare::mod_revision(key.as_str(), CompareOp::Equal, assignment.revision)])
            .and_then(vec![TxnOp::put(
                self.keys.status(name, task),
                encode(status)?,
                Some(PutOptions::new().with_lease(worker.lease_id)),
            )]);
        let mut client = self.client.clone();
        if !call(client.txn(txn)).await?.succeeded() {
            return Err(Error::FailedPrecondition(format!(
                "task {name}/{task} changed hands while reporting; epoch {} is stale",
                status.epoch
            )));
        }
        Ok(())
    }

    /// The assignment if `worker` holds task `name/task` at exactly `epoch`.
    pub async fn check_assignment(
        &self,
        worker: &str,
        name: &str,
        task: u32,
        epoch: u64,
    ) -> Result<Versioned<AssignmentRecord>> {
        let current: Option<Versioned<AssignmentRecord>> =
            self.get_one(&self.keys.assignment(worker, name, task)).await?;
        match current {
            Some(a) if a.value.epoch == epoch => Ok(a),
            Some(a) => Err(Error::FailedPrecondition(format!(
                "stale epoch {epoch} for task {name}/{task}: the current epoch is {}",
                a.value.epoch
            ))),
            None => Err(Error::FailedPrecondition(format!(
                "task {name}/{task} is not assigned to worker {worker} (epoch {epoch} is stale)"
            ))),
        }
    }

    /// Watches every key under `prefix` from `start_revision` on.
    pub async fn watch_prefix(&self, prefix: &str, start_revision: i64) -> Result<WatchStream> {
        let mut client = self.client.clone();
        let mut options = WatchOptions::new().with_prefix();
        if start_revision > 0 {
            options = options.with_start_revision(start_revision);
        }
        call(client.watch(prefix, Some(options))).await
    }
}
