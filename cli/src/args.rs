//! The command line: global connection and output flags, and one subcommand
//! per Kafka Connect REST operation.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Hydrate's command-line client: Kafka Connect's REST API, over gRPC.
#[derive(Debug, Parser)]
#[command(name = "hydratectl", version, about, propagate_version = true)]
pub struct Cli {
    /// Where and how to reach the control plane, and how to print.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes, before or after its name.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The control plane's gRPC address (http:// or https://).
    #[arg(long, global = true, env = "HYDRATE_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    /// Bearer token sent as `authorization: Bearer <token>`.
    #[arg(long, global = true, env = "HYDRATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Deadline for connecting and for each call, e.g. 30s, 500ms, 2m.
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// PEM file of the CA that signed the control plane's certificate (https).
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned tables for people.
    Table,
    /// JSON for scripts; Kafka Connect's REST shapes where one exists.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update connectors from Kafka Connect JSON files.
    Apply {
        /// A JSON file, or a directory whose `NAME.json` files each hold
        /// connector NAME.
        #[arg(short = 'f', long = "file", value_name = "FILE_OR_DIR")]
        path: PathBuf,
        /// The connector's name, when the file does not give one.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show one connector's configuration (secrets hidden) and tasks.
    Get {
        /// The connector.
        name: String,
    },
    /// List connectors.
    #[command(alias = "ls")]
    List {
        /// Also show each connector's state and tasks.
        #[arg(long)]
        status: bool,
    },
    /// Show a connector's state and each task's state, worker and error.
    Status {
        /// The connector.
        name: String,
    },
    /// Pause a connector: its tasks stay assigned but do no work.
    Pause {
        /// The connector.
        name: String,
    },
    /// Resume a paused or stopped connector.
    Resume {
        /// The connector.
        name: String,
    },
    /// Stop a connector: its tasks are unassigned and offsets may be altered.
    Stop {
        /// The connector.
        name: String,
    },
    /// Restart a connector and, optionally, its tasks.
    Restart {
        /// The connector.
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Restart only what has failed.
        #[arg(long)]
        only_failed: bool,
    },
    /// Delete a connector; its offsets are kept.
    Delete {
        /// The connector.
        name: String,
    },
    /// Check a configuration key by key without storing it.
    Validate {
        /// A Kafka Connect JSON file.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        path: PathBuf,
    },
    /// List the connector classes (and transforms) Hydrate supports.
    Plugins {
        /// Also list transforms and predicates.
        #[arg(long)]
        transforms: bool,
        /// Show each plugin's configuration keys.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Read or change a connector's offsets.
    #[command(subcommand)]
    Offsets(OffsetsCommand),
    /// Print one line per status change, until interrupted.
    Watch {
        /// Only this connector; all when omitted.
        name: Option<String>,
    },
}

/// `offsets` subcommands.
#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Print the connector's offsets.
    Get {
        /// The connector.
        name: String,
    },
    /// Change offsets from a `{"offsets": [{"partition": .., "offset": ..}]}`
    /// file; the connector must be stopped.
    Alter {
        /// The connector.
        name: String,
        /// Offsets in Kafka Connect's format; `"offset": null` resets one.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        path: PathBuf,
    },
    /// Delete all the connector's offsets; the connector must be stopped.
    Reset {
        /// The connector.
        name: String,
    },
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: u64 =
        digits.parse().map_err(|_| format!("`{text}` is not a duration such as 30s, 500ms or 2m"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(amount),
        "" | "s" => Duration::from_secs(amount),
        "m" => Duration::from_secs(amount.saturating_mul(60)),
        "h" => Duration::from_secs(amount.saturating_mul(3600)),
        _ => return Err(format!("unknown unit `{unit}`: use ms, s, m or h")),
    };
    if duration.is_zero() {
        return Err("the timeout must be more than zero".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hydratectl").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_apply_without_flags() {
        let cli = parse(&["list"]).unwrap();
        // The environment may set HYDRATE_ENDPOINT; only check when it does not.
        if std::env::var_os("HYDRATE_ENDPOINT").is_none() {
            assert_eq!(cli.global.endpoint, "http://127.0.0.1:50051");
        }
        assert_eq!(cli.global.timeout, Duration::from_secs(30));
        assert_eq!(cli.global.output, OutputFormat::Table);
        assert!(matches!(cli.command, Command::List { status: false }));
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let before = parse(&["-o", "json", "--endpoint", "http://h:1", "status", "pg"]).unwrap();
        let after = parse(&["status", "pg", "-o", "json", "--endpoint", "http://h:1"]).unwrap();
        for cli in [before, after] {
            assert_eq!(cli.global.output, OutputFormat::Json);
            assert_eq!(cli.global.endpoint, "http://h:1");
            assert!(matches!(cli.command, Command::Status { ref name } if name == "pg"));
        }
    }

    #[test]
    fn apply_takes_a_file_and_an_optional_name() {
        let cli = parse(&["apply", "-f", "conf/pg.json", "--name", "pg"]).unwrap();
        let Command::Apply { path, name } = cli.command else {
            panic!("not apply: {:?}", cli.command);
        };
        assert_eq!(path, PathBuf::from("conf/pg.json"));
        assert_eq!(name.as_deref(), Some("pg"));
        assert!(parse(&["apply"]).is_err(), "-f is required");
    }

    #[test]
    fn restart_flags() {
        let cli = parse(&["restart", "pg", "--include-tasks", "--only-failed"]).unwrap();
        assert!(matches!(cli.command, Command::Restart { include_tasks: true, only_failed: true, .. }));
    }

    #[test]
    fn offsets_subcommands() {
        let cli = parse(&["offsets", "alter", "pg", "-f", "o.json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Offsets(OffsetsCommand::Alter { ref name, .. }) if name == "pg"
        ));
        assert!(parse(&["offsets", "reset"]).is_err(), "name is required");
    }

    #[test]
    fn plugins_verbose_and_watch_without_name() {
        let cli = parse(&["plugins", "--transforms", "-v"]).unwrap();
        assert!(matches!(cli.command, Command::Plugins { transforms: true, verbose: true }));
        let cli = parse(&["watch"]).unwrap();
        assert!(matches!(cli.command, Command::Watch { name: None }));
    }

    #[test]
    fn bad_output_format_and_timeout_are_refused() {
        assert!(parse(&["list", "-o", "yaml"]).is_err());
        assert!(parse(&["list", "--timeout", "soon"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }
}
