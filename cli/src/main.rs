use std::process::ExitCode;

use clap::Parser;
use hydratectl::{Cli, CliError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    hydrate_common::tls::install_crypto_provider();
    let mut stdout = std::io::stdout().lock();
    match hydratectl::run(cli, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        // `hydratectl list | head -1`: the reader left; nothing went wrong.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
