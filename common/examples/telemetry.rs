//! How a data-plane service uses Hydrate's telemetry, end to end, with
//! made-up work: `init`, the metrics listener, per-task metric handles and
//! trace context through Kafka headers. It also serves every series of the
//! contract, which lets `tests/python/promql_check.py --require-series` be
//! tried on a Prometheus before the real services run:
//!
//!     cargo run -p hydrate-common --example telemetry -- 127.0.0.1:19465 source
//!     cargo run -p hydrate-common --example telemetry -- 127.0.0.1:19466 sink

use std::time::{Duration, Instant};

use hydrate_common::metrics::{self, Stage};
use hydrate_common::telemetry::{self, propagation};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:19465".into()).parse()?;
    let role = args.next().unwrap_or_else(|| "source".into());
    let _telemetry = telemetry::init(&format!("hydrate-{role}-example"))?;
    metrics::set_build_info(&role);

    let shutdown = CancellationToken::new();
    let server = telemetry::serve_metrics(listen, shutdown.clone()).await?;
    server.readiness().set_ready(true);
    metrics::worker().registered(&role);
    metrics::worker().set_assigned_tasks(&role, 1);
    metrics::control_plane(); // only so the example's scrape holds every family

    let source = metrics::source().task("example", 0);
    let sink = metrics::sink().task("example", 0);
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    while !shutdown.is_cancelled() {
        // Source: one poll, one produced batch, the context in the headers.
        let poll = tracing::info_span!("source.poll", connector = "example", task = 0);
        async {
            let started = Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            source.polled(100, 12_000, started.elapsed());
            source.produced("example.rows", 100, 13_000, Duration::from_millis(4));
            propagation::inject_kafka(&mut headers);
            tracing::info!(rows = 100, "polled");
        }
        .instrument(poll)
        .await;

        // Sink: consume the batch in the source's trace, upload an object.
        let consume = tracing::info_span!("sink.consume", connector = "example", task = 0);
        propagation::set_parent_from_kafka(
            &consume,
            headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))),
        );
        async {
            sink.received("example.rows", 100, 13_000);
            sink.set_consumer_lag("example.rows", 0, 42);
            sink.set_open_files(1);
            sink.set_buffered_bytes(13_000);
            let upload = tracing::info_span!("sink.upload");
            upload.in_scope(|| {
                sink.uploaded(100, 9_000, Duration::from_millis(80));
                sink.freshness(Duration::from_secs(7));
                tracing::info!(bytes = 9_000, "object uploaded");
            });
        }
        .instrument(consume)
        .await;
        if std::env::var_os("EXAMPLE_ERRORS").is_some() {
            source.error(Stage::Poll);
            sink.error(Stage::Upload);
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    source.remove();
    sink.remove();
    server.stopped().await;
    Ok(())
}
