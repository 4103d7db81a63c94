//! The leader's census for the metrics: workers, connectors and tasks by
//! type and state, read from etcd every few seconds while leading.

use std::time::Duration;

use hydrate_common::metrics::{self, Census, Stage};
use hydrate_proto::v1;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::Result;
use crate::model::Kind;
use crate::status::StatusReader;
use crate::store::Store;

/// How often the census is taken: about a Prometheus scrape interval.
const EVERY: Duration = Duration::from_secs(5);

/// Takes the census until `cancel` fires (leadership lost or shutdown).
pub async fn run(store: Store, cancel: CancellationToken) {
    let reader = StatusReader::new(store.clone());
    loop {
        match take(&store, &reader).instrument(tracing::debug_span!("control_plane.census")).await {
            Ok(census) => metrics::control_plane().set_census(&census),
            Err(err) => {
                metrics::control_plane().error(Stage::Store);
                tracing::debug!(error = %err, "census failed; retrying");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn take(store: &Store, reader: &StatusReader) -> Result<Census> {
    let mut census = Census::default();
    for worker in store.list_workers().await? {
        census.workers.push((kind_label(worker.kind), ""));
    }
    for (name, spec) in store.list_specs().await? {
        let kind = kind_label(spec.value.kind);
        // Deleted between the list and the read: not counted.
        let Ok(status) = reader.read(&name).await else { continue };
        census.connectors.push((kind, state_label(status.state())));
        for task in &status.tasks {
            census.tasks.push((kind, state_label(task.state())));
        }
    }
    Ok(census)
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => "source",
        Kind::Sink => "sink",
    }
}

/// The `state` label of a proto state (one of `metrics::STATES`).
fn state_label(state: v1::State) -> &'static str {
    match state {
        v1::State::Unspecified | v1::State::Unassigned => "unassigned",
        v1::State::Running => "running",
        v1::State::Paused => "paused",
        v1::State::Stopped => "stopped",
        v1::State::Failed => "failed",
        v1::State::Restarting => "restarting",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_label_of_the_contract() {
        for state in [
            v1::State::Unspecified,
            v1::State::Unassigned,
            v1::State::Running,
            v1::State::Paused,
            v1::State::Stopped,
            v1::State::Failed,
            v1::State::Restarting,
        ] {
            assert!(metrics::STATES.contains(&state_label(state)), "{state:?}");
        }
        for kind in [Kind::Source, Kind::Sink] {
            assert!(metrics::TYPES.contains(&kind_label(kind)));
        }
    }
}
