//! `hydratectl`, Hydrate's command-line client: applies Kafka Connect JSON
//! configurations and operates connectors through the control plane's
//! `ConnectorService`, the way `confluent connect` or `curl` against Kafka
//! Connect's REST API would.
//!
//! Everything is here so tests can drive it: [`run`] takes parsed arguments
//! and a writer for standard output; errors come back as [`CliError`] for
//! `main` to print.

pub mod args;
pub mod client;
mod commands;
pub mod error;
pub mod input;
pub mod offsets;
pub mod output;
pub mod table;
pub mod view;

use std::io::Write;

pub use args::Cli;
pub use error::{CliError, Result};

/// Runs the command, printing results to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let conn = client::Connection::from_args(&cli.global)?;
    commands::execute(&conn, cli.command, &mut commands::Printer::new(out, cli.global.output)).await?;
    out.flush()?;
    Ok(())
}
