//! `-o table`: what people read. Each function returns the full text so the
//! layout can be tested against golden strings.

use std::path::PathBuf;

use hydrate_proto::v1::{
    ConnectorInfo, ConnectorListEntry, ConnectorOffset, ConnectorStatus, PluginInfo,
    PutConnectorConfigResponse, SnapshotProgress, State, TaskStatus, ValidateConnectorConfigResponse,
    WatchConnectorStatusResponse,
};

use crate::offsets::struct_to_json;
use crate::table::{Table, indent};
use crate::view::{state_name, target_state_name, type_name};

/// What happened to one connector of an `apply`.
#[derive(Debug)]
pub struct ApplyOutcome {
    /// The connector.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The server's answer, or its error message.
    pub result: Result<PutConnectorConfigResponse, String>,
}

impl ApplyOutcome {
    /// created, updated, unchanged or failed.
    pub fn verb(&self) -> &'static str {
        match &self.result {
            Ok(r) if r.created => "created",
            Ok(r) if r.changed => "updated",
            Ok(_) => "unchanged",
            Err(_) => "failed",
        }
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// One row per connector: the result and the keys Hydrate ignores.
pub fn apply_table(outcomes: &[ApplyOutcome]) -> String {
    let mut table = Table::new(["NAME", "RESULT", "IGNORED KEYS"]);
    for outcome in outcomes {
        let ignored = match &outcome.result {
            Ok(r) => r.ignored_keys.join(", "),
            Err(_) => String::new(),
        };
        table.row([outcome.name.as_str(), outcome.verb(), or_dash(&ignored)]);
    }
    table.render()
}

/// A connector's summary, then its configuration sorted by key.
pub fn connector_text(info: &ConnectorInfo) -> String {
    let tasks: Vec<String> = info.tasks.iter().map(|t| t.task.to_string()).collect();
    let mut summary = Table::key_value();
    summary
        .row(["name", info.name.as_str()])
        .row(["type", &type_name(info.r#type)])
        .row(["target", &target_state_name(info.target_state)])
        .row(["revision", &info.revision.to_string()])
        .row(["tasks", or_dash(&tasks.join(", "))]);
    let mut config: Vec<(&String, &String)> = info.config.iter().collect();
    config.sort();
    let mut keys = Table::new(["KEY", "VALUE"]);
    for (key, value) in config {
        keys.row([key, value]);
    }
    format!("{}\n{}", summary.render(), keys.render())
}

/// Names only, or with `--status` each connector's state and task counts.
pub fn list_table(entries: &[ConnectorListEntry], with_status: bool) -> String {
    if !with_status {
        let mut table = Table::new(["NAME"]);
        for entry in entries {
            table.row([&entry.name]);
        }
        return table.render();
    }
    let mut table = Table::new(["NAME", "TYPE", "STATE", "TARGET", "TASKS"]);
    for entry in entries {
        match &entry.status {
            Some(s) => table.row([
                entry.name.clone(),
                type_name(s.r#type),
                state_name(s.state),
                target_state_name(s.target_state),
                task_counts(&s.tasks),
            ]),
            None => table.row([entry.name.as_str(), "-", "-", "-", "-"]),
        };
    }
    table.render()
}

/// `2/3 running, 1 failed`.
fn task_counts(tasks: &[TaskStatus]) -> String {
    let count = |state: State| tasks.iter().filter(|t| t.state == state as i32).count();
    let mut text = format!("{}/{} running", count(State::Running), tasks.len());
    let failed = count(State::Failed);
    if failed > 0 {
        text.push_str(&format!(", {failed} failed"));
    }
    text
}

/// The connector's state, a table of tasks, then every failure's trace.
pub fn status_text(status: &ConnectorStatus) -> String {
    let mut summary = Table::key_value();
    summary
        .row(["connector", status.name.as_str()])
        .row(["type", &type_name(status.r#type)])
        .row(["state", &state_name(status.state)])
        .row(["target", &target_state_name(status.target_state)]);
    let mut tasks = Table::new(["TASK", "STATE", "WORKER", "EPOCH", "RESOURCES", "SNAPSHOT"]);
    for task in &status.tasks {
        tasks.row([
            task.id.to_string(),
            state_name(task.state),
            or_dash(&task.worker_id).to_owned(),
            task.epoch.to_string(),
            or_dash(&task.resources.join(", ")).to_owned(),
            or_dash(&snapshot_progress(&task.snapshots)).to_owned(),
        ]);
    }
    let mut text = format!("{}\n", summary.render());
    if tasks.is_empty() {
        text.push_str("no tasks\n");
    } else {
        text.push_str(&tasks.render());
    }
    // Traces are printed whole, below the table: they say why it failed.
    if !status.trace.is_empty() {
        text.push_str(&format!("\nconnector {}:\n", state_name(status.state).to_lowercase()));
        text.push_str(&indent(&status.trace));
    }
    for task in status.tasks.iter().filter(|t| !t.trace.is_empty()) {
        text.push_str(&format!("\ntask {} {}:\n", task.id, state_name(task.state).to_lowercase()));
        text.push_str(&indent(&task.trace));
    }
    text
}

/// `public.film 1200/5000 (24%)`, one per table.
fn snapshot_progress(snapshots: &[SnapshotProgress]) -> String {
    snapshots
        .iter()
        .map(|s| match s.rows_estimated {
            0 => format!("{} {} rows", s.table, s.rows_done),
            total => {
                let percent = (s.rows_done.saturating_mul(100) / total).min(100);
                format!("{} {}/{} ({percent}%)", s.table, s.rows_done, total)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keys with a problem or ignored by Hydrate, general errors, then a verdict.
pub fn validation_text(response: &ValidateConnectorConfigResponse) -> String {
    let mut table = Table::new(["KEY", "VALUE", "PROBLEM"]);
    for result in &response.configs {
        for (i, error) in result.errors.iter().enumerate() {
            let (key, value) = if i == 0 { (result.name.as_str(), or_dash(&result.value)) } else { ("", "") };
            table.row([key, value, error.as_str()]);
        }
        if result.ignored {
            table.row([result.name.as_str(), or_dash(&result.value), "ignored: no effect in Hydrate"]);
        }
    }
    let mut text = if table.is_empty() { String::new() } else { table.render() + "\n" };
    for error in &response.errors {
        text.push_str(&format!("error: {error}\n"));
    }
    let class = or_dash(&response.name);
    match response.error_count {
        0 => text.push_str(&format!("{class}: configuration is valid\n")),
        n => text.push_str(&format!("{class}: {n} error(s)\n")),
    }
    text
}

/// A table of plugins; with `verbose`, each plugin's keys below it.
pub fn plugins_text(plugins: &[PluginInfo], verbose: bool) -> String {
    let mut table = Table::new(["CLASS", "KIND", "VERSION"]);
    for plugin in plugins {
        table.row([&plugin.class_name, &plugin.kind, &plugin.version]);
    }
    let mut text = table.render();
    if verbose {
        for plugin in plugins {
            let mut keys = Table::new(["KEY", "TYPE", "DEFAULT", "IMPORTANCE", "GROUP"]);
            for key in &plugin.config {
                let default = if key.has_default { or_dash(&key.default_value) } else { "(required)" };
                keys.row([&key.name, &key.r#type, default, &key.importance, &key.group]);
            }
            text.push_str(&format!("\n{}\n{}", plugin.class_name, keys.render()));
        }
    }
    text
}

/// One row per partition, both sides as compact JSON.
pub fn offsets_table(offsets: &[ConnectorOffset]) -> String {
    let mut table = Table::new(["PARTITION", "OFFSET"]);
    for offset in offsets {
        let side = |s: Option<&prost_types::Struct>| {
            s.map_or_else(|| "null".to_owned(), |s| struct_to_json(s).to_string())
        };
        table.row([side(offset.partition.as_ref()), side(offset.offset.as_ref())]);
    }
    table.render()
}

/// `pg RUNNING (target RUNNING) tasks 0:RUNNING 1:FAILED [task 1: why]`.
pub fn watch_line(change: &WatchConnectorStatusResponse) -> String {
    let Some(status) = &change.status else {
        return "(empty status)".into();
    };
    if change.deleted {
        return format!("{} DELETED", status.name);
    }
    let tasks: Vec<String> =
        status.tasks.iter().map(|t| format!("{}:{}", t.id, state_name(t.state))).collect();
    let mut line = format!(
        "{} {} (target {}) tasks {}",
        status.name,
        state_name(status.state),
        target_state_name(status.target_state),
        if tasks.is_empty() { "-".into() } else { tasks.join(" ") },
    );
    // The first line of a trace is usually the exception and its message.
    let first_line = |trace: &str| trace.lines().next().unwrap_or_default().trim().to_owned();
    if !status.trace.is_empty() {
        line.push_str(&format!(" [connector: {}]", first_line(&status.trace)));
    }
    for task in status.tasks.iter().filter(|t| !t.trace.is_empty()) {
        line.push_str(&format!(" [task {}: {}]", task.id, first_line(&task.trace)));
    }
    line
}

#[cfg(test)]
mod tests {
    use hydrate_proto::v1::{ConfigKeyDefinition, ConfigValueResult, ConnectorType, TargetState, TaskId};

    use super::*;

    fn failing_status() -> ConnectorStatus {
        ConnectorStatus {
            name: "pg-source".into(),
            r#type: ConnectorType::Source as i32,
            state: State::Running as i32,
            trace: String::new(),
            tasks: vec![
                TaskStatus {
                    id: 0,
                    state: State::Running as i32,
                    worker_id: "source-a".into(),
                    trace: String::new(),
                    epoch: 3,
                    snapshots: vec![SnapshotProgress {
                        table: "public.address".into(),
                        rows_done: 1200,
                        rows_estimated: 5000,
                    }],
                    resources: vec!["public.address".into()],
                },
                TaskStatus {
                    id: 1,
                    state: State::Failed as i32,
                    worker_id: "source-b".into(),
                    trace: "org.postgresql.util.PSQLException: connection refused\n\tat Driver.connect"
                        .into(),
                    epoch: 1,
                    snapshots: vec![],
                    resources: vec!["public.film".into(), "public.actor".into()],
                },
            ],
            target_state: TargetState::Running as i32,
        }
    }

    #[test]
    fn status_golden() {
        assert_eq!(
            status_text(&failing_status()),
            "\
connector  pg-source
type       source
state      RUNNING
target     RUNNING

TASK  STATE    WORKER    EPOCH  RESOURCES                  SNAPSHOT
0     RUNNING  source-a  3      public.address             public.address 1200/5000 (24%)
1     FAILED   source-b  1      public.film, public.actor  -

task 1 failed:
    org.postgresql.util.PSQLException: connection refused
    \tat Driver.connect
"
        );
    }

    #[test]
    fn list_golden() {
        let entries = vec![
            ConnectorListEntry { name: "pg-source".into(), info: None, status: Some(failing_status()) },
            ConnectorListEntry { name: "s3-sink".into(), info: None, status: None },
        ];
        assert_eq!(
            list_table(&entries, true),
            "\
NAME       TYPE    STATE    TARGET   TASKS
pg-source  source  RUNNING  RUNNING  1/2 running, 1 failed
s3-sink    -       -        -        -
"
        );
        assert_eq!(list_table(&entries, false), "NAME\npg-source\ns3-sink\n");
    }

    #[test]
    fn connector_golden() {
        let info = ConnectorInfo {
            name: "pg".into(),
            config: [
                ("connection.password".to_owned(), "[hidden]".to_owned()),
                ("connector.class".into(), "io.confluent.connect.jdbc.JdbcSourceConnector".into()),
            ]
            .into(),
            r#type: ConnectorType::Source as i32,
            tasks: vec![TaskId { connector: "pg".into(), task: 0 }],
            revision: 12,
            target_state: TargetState::Paused as i32,
        };
        assert_eq!(
            connector_text(&info),
            "\
name      pg
type      source
target    PAUSED
revision  12
tasks     0

KEY                  VALUE
connection.password  [hidden]
connector.class      io.confluent.connect.jdbc.JdbcSourceConnector
"
        );
    }

    #[test]
    fn apply_golden() {
        let ok = |created, changed, ignored: &[&str]| PutConnectorConfigResponse {
            connector: None,
            created,
            changed,
            ignored_keys: ignored.iter().map(|k| (*k).to_owned()).collect(),
        };
        let outcomes = [
            ApplyOutcome {
                name: "a".into(),
                path: "a.json".into(),
                result: Ok(ok(true, true, &["key.converter"])),
            },
            ApplyOutcome { name: "bb".into(), path: "bb.json".into(), result: Ok(ok(false, true, &[])) },
            ApplyOutcome { name: "c".into(), path: "c.json".into(), result: Ok(ok(false, false, &[])) },
            ApplyOutcome { name: "d".into(), path: "d.json".into(), result: Err("bad".into()) },
        ];
        assert_eq!(
            apply_table(&outcomes),
            "\
NAME  RESULT     IGNORED KEYS
a     created    key.converter
bb    updated    -
c     unchanged  -
d     failed     -
"
        );
    }

    #[test]
    fn validation_golden() {
        let response = ValidateConnectorConfigResponse {
            name: "io.confluent.connect.jdbc.JdbcSourceConnector".into(),
            error_count: 3,
            configs: vec![
                ConfigValueResult {
                    name: "mode".into(),
                    value: "sometimes".into(),
                    errors: vec!["must be one of bulk, timestamp".into(), "second".into()],
                    ignored: false,
                    definition: None,
                },
                ConfigValueResult {
                    name: "key.converter".into(),
                    value: "x".into(),
                    errors: vec![],
                    ignored: true,
                    definition: None,
                },
                ConfigValueResult {
                    name: "tasks.max".into(),
                    value: "1".into(),
                    errors: vec![],
                    ignored: false,
                    definition: None,
                },
            ],
            errors: vec!["transform `t` is not defined".into()],
        };
        assert_eq!(
            validation_text(&response),
            "\
KEY            VALUE      PROBLEM
mode           sometimes  must be one of bulk, timestamp
                          second
key.converter  x          ignored: no effect in Hydrate

error: transform `t` is not defined
io.confluent.connect.jdbc.JdbcSourceConnector: 3 error(s)
"
        );
    }

    #[test]
    fn plugins_verbose_golden() {
        let plugins = [PluginInfo {
            class_name: "io.confluent.connect.s3.S3SinkConnector".into(),
            kind: "sink".into(),
            version: "0.1.0".into(),
            config: vec![ConfigKeyDefinition {
                name: "s3.bucket.name".into(),
                r#type: "STRING".into(),
                has_default: false,
                importance: "HIGH".into(),
                group: "S3".into(),
                ..Default::default()
            }],
        }];
        assert_eq!(
            plugins_text(&plugins, true),
            "\
CLASS                                    KIND  VERSION
io.confluent.connect.s3.S3SinkConnector  sink  0.1.0

io.confluent.connect.s3.S3SinkConnector
KEY             TYPE    DEFAULT     IMPORTANCE  GROUP
s3.bucket.name  STRING  (required)  HIGH        S3
"
        );
    }

    #[test]
    fn watch_lines_show_why_a_task_failed() {
        let change = WatchConnectorStatusResponse { status: Some(failing_status()), deleted: false };
        assert_eq!(
            watch_line(&change),
            "pg-source RUNNING (target RUNNING) tasks 0:RUNNING 1:FAILED \
             [task 1: org.postgresql.util.PSQLException: connection refused]"
        );
        let gone = WatchConnectorStatusResponse {
            status: Some(ConnectorStatus { name: "x".into(), ..Default::default() }),
            deleted: true,
        };
        assert_eq!(watch_line(&gone), "x DELETED");
    }
}
