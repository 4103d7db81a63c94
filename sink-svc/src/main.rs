use clap::Parser;
use hydrate_sink::Config;

/// mimalloc: records are decoded on one thread and freed on another, which
/// glibc's allocator serves slowly (a third of the reading thread's time was
/// spent in malloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    hydrate_common::tls::install_crypto_provider();
    let _telemetry =
        hydrate_common::telemetry::init_with_format("hydrate-sink", config.worker.reporting.log_format)?;
    hydrate_sink::run(config, hydrate_sink::shutdown_signal()).await
}
