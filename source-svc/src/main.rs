use clap::Parser;
use hydrate_source::Config;

/// mimalloc: rows are fetched on one thread and encoded and freed on
/// another, which glibc's allocator serves slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    hydrate_common::tls::install_crypto_provider();
    let _telemetry =
        hydrate_common::telemetry::init_with_format("hydrate-source", config.worker.reporting.log_format)?;
    hydrate_source::run(config, hydrate_source::shutdown_signal()).await
}
