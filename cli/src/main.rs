use std::process::ExitCode;

use clap::Parser;
use hydratectl::{Cli, CliError};
use tracing::Instrument;

// Two threads: the trace exporter's flush at exit needs the runtime while
// main waits for it.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    hydrate_common::tls::install_crypto_provider();
    // Warnings only (RUST_LOG overrides); traces go out when OTEL_* asks.
    let _telemetry = match hydrate_common::telemetry::init_tool("hydratectl") {
        Ok(guard) => Some(guard),
        Err(err) => {
            eprintln!("warning: telemetry: {err}");
            None
        }
    };
    let mut stdout = std::io::stdout().lock();
    let span = tracing::info_span!("hydratectl", otel.kind = "client");
    match hydratectl::run(cli, &mut stdout).instrument(span).await {
        Ok(()) => ExitCode::SUCCESS,
        // `hydratectl list | head -1`: the reader left; nothing went wrong.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
