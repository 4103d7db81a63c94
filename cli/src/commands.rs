//! One function per subcommand: check local input, call the control plane,
//! print the answer as a table or as JSON.

use std::io::Write;
use std::path::Path;

use hydrate_proto::v1::{
    AlterConnectorOffsetsRequest, ConnectorConfig, DeleteConnectorRequest, GetConnectorOffsetsRequest,
    GetConnectorRequest, GetConnectorStatusRequest, ListConnectorPluginsRequest, ListConnectorsRequest,
    PauseConnectorRequest, PutConnectorConfigRequest, ResetConnectorOffsetsRequest, RestartConnectorRequest,
    ResumeConnectorRequest, StopConnectorRequest, ValidateConnectorConfigRequest,
    WatchConnectorStatusRequest, connector_config,
};
use serde_json::{Value, json};

use crate::args::{Command, OffsetsCommand, OutputFormat};
use crate::client::Connection;
use crate::error::{CliError, Result};
use crate::output::{self, ApplyOutcome};
use crate::{input, offsets, view};

/// Where a command prints, and how.
pub struct Printer<'a> {
    out: &'a mut dyn Write,
    format: OutputFormat,
}

impl<'a> Printer<'a> {
    /// Prints to `out` in `format`.
    pub fn new(out: &'a mut dyn Write, format: OutputFormat) -> Self {
        Self { out, format }
    }

    /// Prints the table text or the JSON document, whichever was asked.
    fn emit(&mut self, table: impl FnOnce() -> String, json: impl FnOnce() -> Value) -> Result<()> {
        match self.format {
            OutputFormat::Table => self.out.write_all(table().as_bytes())?,
            OutputFormat::Json => {
                // Printing a Value cannot fail: its keys are strings.
                let text = serde_json::to_string_pretty(&json()).unwrap_or_default();
                writeln!(self.out, "{text}")?;
            }
        }
        Ok(())
    }

    /// One line at once, flushed (for `watch`): compact JSON or text.
    fn line(&mut self, table: impl FnOnce() -> String, json: impl FnOnce() -> Value) -> Result<()> {
        match self.format {
            OutputFormat::Table => writeln!(self.out, "{}", table())?,
            OutputFormat::Json => writeln!(self.out, "{}", json())?,
        }
        self.out.flush()?;
        Ok(())
    }
}

/// Runs one subcommand.
pub async fn execute(conn: &Connection, command: Command, printer: &mut Printer<'_>) -> Result<()> {
    match command {
        Command::Apply { path, name } => apply(conn, &path, name.as_deref(), printer).await,
        Command::Get { name } => {
            let mut client = conn.connect().await?;
            let response =
                conn.unary(client.get_connector(conn.request(GetConnectorRequest { name }))).await?;
            let info = response.connector.unwrap_or_default();
            printer.emit(|| output::connector_text(&info), || view::connector_info(&info))
        }
        Command::List { status } => {
            let mut client = conn.connect().await?;
            let request = ListConnectorsRequest { include_status: status, include_info: false };
            let entries = conn.unary(client.list_connectors(conn.request(request))).await?.connectors;
            printer.emit(|| output::list_table(&entries, status), || list_json(&entries, status))
        }
        Command::Status { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(GetConnectorStatusRequest { name });
            let status = conn.unary(client.get_connector_status(request)).await?.status.unwrap_or_default();
            printer.emit(|| output::status_text(&status), || view::connector_status(&status))
        }
        Command::Pause { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(PauseConnectorRequest { name: name.clone() });
            conn.unary(client.pause_connector(request)).await?;
            done(printer, &name, "paused")
        }
        Command::Resume { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(ResumeConnectorRequest { name: name.clone() });
            conn.unary(client.resume_connector(request)).await?;
            done(printer, &name, "resumed")
        }
        Command::Stop { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(StopConnectorRequest { name: name.clone() });
            conn.unary(client.stop_connector(request)).await?;
            done(printer, &name, "stopped")
        }
        Command::Delete { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(DeleteConnectorRequest { name: name.clone() });
            conn.unary(client.delete_connector(request)).await?;
            done(printer, &name, "deleted")
        }
        Command::Restart { name, include_tasks, only_failed } => {
            let mut client = conn.connect().await?;
            let request = conn.request(RestartConnectorRequest { name, include_tasks, only_failed });
            let status = conn.unary(client.restart_connector(request)).await?.status.unwrap_or_default();
            printer.emit(|| output::status_text(&status), || view::connector_status(&status))
        }
        Command::Validate { path } => validate(conn, &path, printer).await,
        Command::Plugins { transforms, verbose } => {
            let mut client = conn.connect().await?;
            let request = conn.request(ListConnectorPluginsRequest { include_transforms: transforms });
            let plugins = conn.unary(client.list_connector_plugins(request)).await?.plugins;
            printer.emit(
                || output::plugins_text(&plugins, verbose),
                || plugins.iter().map(view::plugin).collect(),
            )
        }
        Command::Offsets(command) => offsets_command(conn, command, printer).await,
        Command::Watch { name } => watch(conn, name.unwrap_or_default(), printer).await,
    }
}

/// `connector NAME paused`, or `{"name": .., "result": "paused"}`.
fn done(printer: &mut Printer<'_>, name: &str, result: &str) -> Result<()> {
    printer.emit(|| format!("connector {name} {result}\n"), || json!({"name": name, "result": result}))
}

/// Kafka Connect's `GET /connectors` (names) or `?expand=status`.
fn list_json(entries: &[hydrate_proto::v1::ConnectorListEntry], with_status: bool) -> Value {
    if !with_status {
        return entries.iter().map(|e| Value::String(e.name.clone())).collect();
    }
    let expanded = entries
        .iter()
        .map(|e| {
            let status = e.status.as_ref().map_or(Value::Null, view::connector_status);
            (e.name.clone(), json!({ "status": status }))
        })
        .collect();
    Value::Object(expanded)
}

async fn apply(conn: &Connection, path: &Path, name: Option<&str>, printer: &mut Printer<'_>) -> Result<()> {
    let files = input::load_apply(path, name)?;
    let mut client = conn.connect().await?;
    let mut outcomes = Vec::with_capacity(files.len());
    let mut failures = Vec::new();
    for file in files {
        let request = conn.request(PutConnectorConfigRequest {
            name: file.name.clone(),
            config: Some(ConnectorConfig { source: Some(connector_config::Source::Json(file.json)) }),
            expected_revision: 0,
            create_only: false,
        });
        // A refused config does not stop the others; a lost connection does.
        let result = match conn.unary(client.put_connector_config(request)).await {
            Ok(response) => Ok(response),
            Err(CliError::Rpc(status)) => {
                let message = status.message().to_owned();
                failures.push(CliError::RpcFor {
                    context: format!("{} ({})", file.name, file.path.display()),
                    status,
                });
                Err(message)
            }
            Err(other) => return Err(other),
        };
        outcomes.push(ApplyOutcome { name: file.name, path: file.path, result });
    }
    if outcomes.len() == 1 && failures.len() == 1 {
        // Nothing was applied: the error says it all.
        return Err(failures.remove(0));
    }
    printer.emit(|| output::apply_table(&outcomes), || view::apply_outcomes(&outcomes))?;
    if failures.is_empty() { Ok(()) } else { Err(CliError::Partial { total: outcomes.len(), failures }) }
}

async fn validate(conn: &Connection, path: &Path, printer: &mut Printer<'_>) -> Result<()> {
    let json = input::load_validate(path)?;
    let mut client = conn.connect().await?;
    let request = conn.request(ValidateConnectorConfigRequest {
        config: Some(ConnectorConfig { source: Some(connector_config::Source::Json(json)) }),
    });
    let response = conn.unary(client.validate_connector_config(request)).await?;
    printer.emit(|| output::validation_text(&response), || view::validation(&response))?;
    match response.error_count {
        0 => Ok(()),
        n => Err(CliError::Invalid(n)),
    }
}

async fn offsets_command(
    conn: &Connection,
    command: OffsetsCommand,
    printer: &mut Printer<'_>,
) -> Result<()> {
    match command {
        OffsetsCommand::Get { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(GetConnectorOffsetsRequest { name });
            let offsets = conn.unary(client.get_connector_offsets(request)).await?.offsets;
            printer.emit(|| output::offsets_table(&offsets), || offsets::offsets_to_json(&offsets))
        }
        OffsetsCommand::Alter { name, path } => {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CliError::Read { path: path.clone(), source })?;
            let offsets =
                offsets::offsets_from_json(&text).map_err(|message| CliError::Input { path, message })?;
            let mut client = conn.connect().await?;
            let request = conn.request(AlterConnectorOffsetsRequest { name, offsets });
            let message = conn.unary(client.alter_connector_offsets(request)).await?.message;
            printer.emit(|| format!("{message}\n"), || json!({ "message": message }))
        }
        OffsetsCommand::Reset { name } => {
            let mut client = conn.connect().await?;
            let request = conn.request(ResetConnectorOffsetsRequest { name });
            let message = conn.unary(client.reset_connector_offsets(request)).await?.message;
            printer.emit(|| format!("{message}\n"), || json!({ "message": message }))
        }
    }
}

/// Prints one line per change until the server ends the stream.
async fn watch(conn: &Connection, name: String, printer: &mut Printer<'_>) -> Result<()> {
    let mut client = conn.connect().await?;
    // No grpc-timeout: the stream lives as long as the user watches. Only
    // the wait for the stream to open is bounded.
    let request = tonic::Request::new(WatchConnectorStatusRequest { name });
    let mut stream = conn.unary(client.watch_connector_status(request)).await?;
    while let Some(change) = stream.message().await.map_err(|status| conn.status_error(status))? {
        printer.line(
            || output::watch_line(&change),
            || {
                json!({
                    "deleted": change.deleted,
                    "status": change.status.as_ref().map_or(Value::Null, view::connector_status),
                })
            },
        )?;
    }
    Ok(())
}
