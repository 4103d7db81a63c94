use clap::Parser;
use hydrate_control_plane::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    hydrate_common::tls::install_crypto_provider();
    let _telemetry =
        hydrate_common::telemetry::init_with_format("hydrate-control-plane", config.reporting.log_format)?;
    hydrate_control_plane::run(config, hydrate_control_plane::shutdown_signal()).await
}
