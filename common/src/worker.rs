//! The data plane's side of task leases: register with the control plane,
//! renew the lease at a third of its TTL, and follow the assignments.
//!
//! Any failed or late renewal is treated as lost ownership: the session's
//! `lost` token fires at once so the worker stops writing first and asks
//! questions later. The worker then registers again and gets new epochs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hydrate_proto::v1::{self, worker_service_client::WorkerServiceClient};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::args::{KafkaPropertyArgs, ReportingArgs};
use crate::kafka_props::{KafkaPropsError, KafkaSettings};
use crate::telemetry::Readiness;

/// The flags and environment every data-plane worker (source and sink)
/// takes: where the control plane is, who the worker is, how it reaches
/// Kafka, and how it reports.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Control-plane endpoints (`http://host:port`), comma-separated.
    #[arg(long = "control-plane", env = "HYDRATE_ENDPOINT", value_delimiter = ',', required = true)]
    pub control_plane: Vec<String>,
    /// The worker's bearer token.
    #[arg(long, env = "HYDRATE_WORKER_TOKEN", hide_env_values = true, default_value = "")]
    pub worker_token: String,
    /// A stable worker id (e.g. the pod name); default: host name and process id.
    #[arg(long, env = "HYDRATE_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: String,
    /// Kafka client properties.
    #[command(flatten)]
    pub kafka: KafkaPropertyArgs,
    /// Metrics listener and log format.
    #[command(flatten)]
    pub reporting: ReportingArgs,
}

impl WorkerArgs {
    /// The worker id to register with: `--worker-id`, or the host name
    /// (`HOSTNAME`, `/etc/hostname`) and the process id.
    pub fn worker_id(&self) -> String {
        match &self.worker_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => {
                let host = std::env::var("HOSTNAME")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "worker".to_owned());
                let host: String = host
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
                    .collect();
                format!("{host}-{}", std::process::id())
            }
        }
    }

    /// How the worker registers: these flags, its `kind` and `capacity`,
    /// and the `address` its metrics are served on (empty when off).
    pub fn options(&self, kind: v1::ConnectorType, capacity: u32, address: String) -> WorkerOptions {
        WorkerOptions {
            endpoints: self.control_plane.clone(),
            token: self.worker_token.clone(),
            worker_id: self.worker_id(),
            kind,
            capacity,
            address,
        }
    }

    /// The Kafka settings: the properties file first, then each
    /// `--kafka-property`; `--kafka-bootstrap-servers` wins over the file's
    /// `bootstrap.servers`.
    pub fn kafka_settings(&self) -> Result<KafkaSettings, KafkaPropsError> {
        self.kafka.settings(Some(&self.kafka_bootstrap_servers))
    }
}

/// How a worker reaches and identifies itself to the control plane.
#[derive(Clone)]
pub struct WorkerOptions {
    /// Control-plane endpoints (`http://host:port`); calls are balanced
    /// over them, so losing one replica loses nothing.
    pub endpoints: Vec<String>,
    /// The worker's bearer token.
    pub token: String,
    /// A stable id (e.g. the pod name); empty to have one made.
    pub worker_id: String,
    /// Source or sink.
    pub kind: v1::ConnectorType,
    /// Most tasks it takes; 0 for no limit.
    pub capacity: u32,
    /// Where its metrics are served.
    pub address: String,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never printed.
        f.debug_struct("WorkerOptions")
            .field("endpoints", &self.endpoints)
            .field("worker_id", &self.worker_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Why a session could not be set up or went on.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// No usable endpoint.
    #[error("control plane endpoint: {0}")]
    Endpoint(String),
    /// The control plane refused or failed a call.
    #[error("{call}: {status}")]
    Rpc {
        /// The call.
        call: &'static str,
        /// The status.
        status: tonic::Status,
    },
}

/// Adds the bearer token and the caller's trace context to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        crate::telemetry::TraceContextInterceptor::apply(&mut request);
        Ok(request)
    }
}

/// The worker-service client type.
pub type Client = WorkerServiceClient<InterceptedService<Channel, Bearer>>;

/// A client balanced over the options' endpoints.
pub fn connect(options: &WorkerOptions) -> Result<Client, WorkerError> {
    let endpoints = options
        .endpoints
        .iter()
        .map(|e| {
            Endpoint::from_shared(e.clone())
                .map(|e| e.connect_timeout(Duration::from_secs(3)).timeout(Duration::from_secs(10)))
                .map_err(|err| WorkerError::Endpoint(format!("{e}: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.is_empty() {
        return Err(WorkerError::Endpoint("no endpoint given".into()));
    }
    let token = format!("Bearer {}", options.token)
        .parse()
        .map_err(|_| WorkerError::Endpoint("the token is not a valid header value".into()))?;
    Ok(WorkerServiceClient::with_interceptor(Channel::balance_list(endpoints.into_iter()), Bearer(token)))
}

/// The metrics' `kind` label of a worker type.
fn kind_label(kind: v1::ConnectorType) -> &'static str {
    match kind {
        v1::ConnectorType::Sink => "sink",
        _ => "source",
    }
}

/// A registered worker holding a lease.
pub struct LeaseSession {
    /// The worker's id.
    pub worker_id: String,
    /// The lease to present.
    pub lease_id: i64,
    /// Fires when the lease is lost (or the session is closed): stop all work.
    pub lost: CancellationToken,
    /// The latest full set of assignments; empty after the lease is lost.
    pub assignments: watch::Receiver<Vec<v1::TaskAssignment>>,
    client: Client,
}

impl LeaseSession {
    /// Registers and starts renewing and watching, until the lease is lost
    /// or `shutdown` fires.
    pub async fn start(
        options: &WorkerOptions,
        shutdown: &CancellationToken,
    ) -> Result<LeaseSession, WorkerError> {
        let mut client = connect(options)?;
        let registered = client
            .register_worker(v1::RegisterWorkerRequest {
                worker_id: options.worker_id.clone(),
                r#type: options.kind as i32,
                capacity: options.capacity,
                address: options.address.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .await
            .map_err(|status| WorkerError::Rpc { call: "register", status })?
            .into_inner();
        let (worker_id, lease_id) = (registered.worker_id, registered.lease_id);
        let kind = kind_label(options.kind);
        crate::metrics::worker().registered(kind);
        let lost = shutdown.child_token();
        let ttl = Duration::from_secs(registered.lease_ttl_seconds.max(1) as u64);
        let mut stream = client
            .watch_assignments(v1::WatchAssignmentsRequest { worker_id: worker_id.clone(), lease_id })
            .await
            .map_err(|status| WorkerError::Rpc { call: "watch assignments", status })?
            .into_inner();
        let (tx, assignments) = watch::channel(Vec::new());
        tracing::info!(worker = %worker_id, lease = lease_id, ttl = ?ttl, "registered with the control plane");

        // Renew at a third of the TTL. A renewal may be retried (another
        // replica answers when one is gone) but must succeed within that
        // third; otherwise ownership is lost, with a third of the TTL still
        // left before the control plane can hand the tasks to someone else.
        let renew = {
            let (mut client, lost, worker_id) = (client.clone(), lost.clone(), worker_id.clone());
            async move {
                let every = ttl / 3;
                loop {
                    tokio::select! {
                        _ = lost.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    let deadline = tokio::time::Instant::now() + every;
                    let mut last_error = String::from("timed out");
                    let renewed = loop {
                        let request = v1::RenewLeaseRequest { worker_id: worker_id.clone(), lease_id };
                        let attempt = tokio::time::timeout_at(deadline, client.renew_lease(request)).await;
                        match attempt {
                            Ok(Ok(_)) => {
                                crate::metrics::worker().lease_renewed(kind);
                                break true;
                            }
                            // The lease is gone: no retry can help.
                            Ok(Err(status)) if status.code() == tonic::Code::NotFound => {
                                last_error = status.message().to_owned();
                                break false;
                            }
                            Ok(Err(status)) => last_error = status.message().to_owned(),
                            Err(_) => break false,
                        }
                        if tokio::time::Instant::now() + Duration::from_millis(100) >= deadline {
                            break false;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    };
                    if !renewed {
                        tracing::warn!(worker = %worker_id, error = %last_error, "lease renewal failed; stopping all tasks");
                        if !lost.is_cancelled() {
                            crate::metrics::worker().lease_lost(kind);
                        }
                        lost.cancel();
                        return;
                    }
                }
            }
        };
        tokio::spawn(renew);

        // Follow the assignments; a broken stream (say, its replica died) is
        // opened again elsewhere while the lease lives.
        let follow = {
            let (mut client, lost, worker_id) = (client.clone(), lost.clone(), worker_id.clone());
            async move {
                loop {
                    let message = tokio::select! {
                        _ = lost.cancelled() => break,
                        m = stream.message() => m,
                    };
                    match message {
                        Ok(Some(set)) => {
                            crate::metrics::worker().set_assigned_tasks(kind, set.assignments.len());
                            let _ = tx.send(set.assignments);
                            continue;
                        }
                        Ok(None) => tracing::info!(worker = %worker_id, "assignment stream ended; reopening"),
                        Err(status) => {
                            tracing::info!(worker = %worker_id, error = %status.message(), "assignment stream broke; reopening")
                        }
                    }
                    stream = loop {
                        tokio::select! {
                            _ = lost.cancelled() => {
                                let _ = tx.send(Vec::new());
                                return;
                            }
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                        let request = v1::WatchAssignmentsRequest { worker_id: worker_id.clone(), lease_id };
                        match client.watch_assignments(request).await {
                            Ok(response) => break response.into_inner(),
                            Err(status) if status.code() == tonic::Code::NotFound => {
                                if !lost.is_cancelled() {
                                    crate::metrics::worker().lease_lost(kind);
                                }
                                lost.cancel();
                            }
                            Err(_) => {}
                        }
                    };
                }
                let _ = tx.send(Vec::new());
            }
        };
        tokio::spawn(follow);
        Ok(LeaseSession { worker_id, lease_id, lost, assignments, client })
    }

    /// Reports a task's status under its epoch. A stale epoch comes back as
    /// FAILED_PRECONDITION: the task must stop.
    pub async fn report(&self, report: v1::ReportTaskStatusRequest) -> Result<(), WorkerError> {
        let mut client = self.client.clone();
        let request = v1::ReportTaskStatusRequest { worker_id: self.worker_id.clone(), ..report };
        client
            .report_task_status(request)
            .await
            .map(|_| ())
            .map_err(|status| WorkerError::Rpc { call: "report task status", status })
    }

    /// Confirms that this worker still owns `task` at `epoch`, e.g. right
    /// before a sink commits. A stale epoch comes back as FAILED_PRECONDITION.
    pub async fn check_assignment(&self, task: v1::TaskId, epoch: u64) -> Result<(), WorkerError> {
        let mut client = self.client.clone();
        let request =
            v1::CheckAssignmentRequest { worker_id: self.worker_id.clone(), task: Some(task), epoch };
        client
            .check_assignment(request)
            .await
            .map(|_| ())
            .map_err(|status| WorkerError::Rpc { call: "check assignment", status })
    }

    /// Gives the lease back so the tasks move at once, and ends the session.
    pub async fn close(self) {
        self.lost.cancel();
        let mut client = self.client.clone();
        let request =
            v1::DeregisterWorkerRequest { worker_id: self.worker_id.clone(), lease_id: self.lease_id };
        if let Err(status) = client.deregister_worker(request).await {
            tracing::warn!(worker = %self.worker_id, error = %status.message(), "deregister failed; the lease expires by itself");
        }
    }
}

/// A worker's life: register, run `follow` for as long as the lease holds,
/// and register again after a lost lease (half a second later), until
/// `shutdown` fires; then give the lease back. `readiness` (the `/readyz`
/// answer) is true while the worker holds a lease. `follow` returns once
/// the session's `lost` token fires, with every task stopped.
pub async fn run_leased<F, Fut>(
    options: &WorkerOptions,
    readiness: Option<&Readiness>,
    shutdown: &CancellationToken,
    mut follow: F,
) where
    F: FnMut(Arc<LeaseSession>) -> Fut,
    Fut: Future<Output = ()>,
{
    let set_ready = |ready: bool| {
        if let Some(readiness) = readiness {
            readiness.set_ready(ready);
        }
    };
    while !shutdown.is_cancelled() {
        match LeaseSession::start(options, shutdown).await {
            Ok(session) => {
                let session = Arc::new(session);
                set_ready(true);
                follow(session.clone()).await;
                set_ready(false);
                if shutdown.is_cancelled() {
                    match Arc::try_unwrap(session) {
                        Ok(session) => session.close().await,
                        Err(_) => {
                            tracing::warn!("session still shared at shutdown; the lease expires by itself")
                        }
                    }
                    return;
                }
                tracing::warn!(worker = %session.worker_id, "lease lost; all tasks stopped; registering again");
            }
            Err(err) => tracing::warn!(error = %err, "cannot register with the control plane; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    fn args(extra: &[&str]) -> WorkerArgs {
        let mut argv =
            vec!["worker", "--control-plane=http://a:1,http://b:2", "--kafka-bootstrap-servers=k:9092"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().worker
    }

    #[test]
    fn a_worker_is_named_by_its_flag_or_after_its_host_and_process() {
        assert_eq!(args(&["--worker-id=sink-0"]).worker_id(), "sink-0");
        let made = args(&["--worker-id="]).worker_id();
        let (host, pid) = made.rsplit_once('-').unwrap();
        assert_eq!(pid, std::process::id().to_string());
        assert!(
            !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "{made}"
        );
    }

    #[test]
    fn endpoints_split_on_commas_and_the_bootstrap_flag_reaches_every_client() {
        let worker = args(&["--kafka-property=consumer.fetch.min.bytes=1"]);
        assert_eq!(worker.control_plane, ["http://a:1", "http://b:2"]);
        let settings = worker.kafka_settings().unwrap();
        assert_eq!(settings.producer["bootstrap.servers"], "k:9092");
        assert_eq!(settings.consumer["fetch.min.bytes"], "1");
    }
}
