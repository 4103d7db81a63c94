//! A data-plane worker for tests: it takes leases through the same client
//! code the source and sink services use, reports every assigned task as
//! RUNNING, and prints each assignment set as a JSON line. Tests kill it with
//! SIGKILL to play a crashed worker.
//!
//! Usage: test-worker --kind source|sink --id ID ENDPOINT...   (token in HYDRATE_WORKER_TOKEN)

use hydrate_common::worker::{LeaseSession, WorkerOptions};
use hydrate_proto::v1;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hydrate_common::tls::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut kind, mut id, mut endpoints) = (v1::ConnectorType::Source, String::new(), Vec::new());
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--kind" => {
                kind = match it.next().as_deref() {
                    Some("sink") => v1::ConnectorType::Sink,
                    _ => v1::ConnectorType::Source,
                }
            }
            "--id" => id = it.next().unwrap_or_default(),
            endpoint => endpoints.push(endpoint.to_owned()),
        }
    }
    let options = WorkerOptions {
        endpoints,
        token: std::env::var("HYDRATE_WORKER_TOKEN")?,
        worker_id: id,
        kind,
        capacity: 0,
        address: String::new(),
    };
    let shutdown = CancellationToken::new();
    // As a real worker does: when the lease is lost, stop everything and
    // register again (and get new epochs).
    loop {
        match LeaseSession::start(&options, &shutdown).await {
            Ok(session) => {
                follow(&session).await;
                eprintln!("lease lost; registering again");
            }
            Err(err) => eprintln!("register: {err}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn follow(session: &LeaseSession) {
    let mut assignments = session.assignments.clone();
    // Statuses are reported on every change and again each second, as a
    // real worker does, so a report lost with a dying replica is repeated.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        let changed = tokio::select! {
            _ = session.lost.cancelled() => return,
            _ = tick.tick() => false,
            changed = assignments.changed() => if changed.is_err() { return } else { true },
        };
        let set = assignments.borrow_and_update().clone();
        let tasks: Vec<String> = set
            .iter()
            .filter_map(|a| {
                a.task.as_ref().map(|t| {
                    format!("{{\"connector\":\"{}\",\"task\":{},\"epoch\":{}}}", t.connector, t.task, a.epoch)
                })
            })
            .collect();
        if changed {
            println!("{{\"worker\":\"{}\",\"tasks\":[{}]}}", session.worker_id, tasks.join(","));
        }
        for assignment in set {
            let report = v1::ReportTaskStatusRequest {
                task: assignment.task.clone(),
                epoch: assignment.epoch,
                state: v1::State::Running as i32,
                ..Default::default()
            };
            if let Err(err) = session.report(report).await {
                eprintln!("report: {err}");
            }
        }
    }
}
