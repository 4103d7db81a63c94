use clap::Parser;
use hydrate_sink::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    hydrate_common::tls::install_crypto_provider();
    hydrate_common::telemetry::init_logging(config.log_format);
    hydrate_sink::run(config, hydrate_sink::shutdown_signal()).await
}
